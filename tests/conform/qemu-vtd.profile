# What QEMU's emulated VT-d (-device intel-iommu,intremap=on, default aw-bits 39) reports to
# a Linux guest: a 39-bit second-stage aperture and the MSI range. tests/vm/run compares the
# sim backend on this profile with the kernel in such a guest (tests/conform/conform.c).
iova_bits 39
reserved 0xfee00000-0xfeefffff msi
page_sizes 4K 2M 1G
max_windows 0
iommu intel_vtd
