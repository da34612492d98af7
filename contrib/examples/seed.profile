# Seed scenario host for the shell-level tests: a 60-bit IOMMU with an I/O hole at 2-4 GiB.
iova_bits 60
reserved 0x80000000-0xffffffff io
