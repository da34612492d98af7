# The kernel's IOMMUFD_TEST mock domain (drivers/iommu/iommufd/selftest.c): aperture
# MOCK_APERTURE_START 1<<24 .. MOCK_APERTURE_LAST (1<<31)-1, IO page size PAGE_SIZE/2, no
# reserved regions. tests/conform/conform --mock compares the sim on this profile with mock
# devices in the guest kernel.
iova_bits 31
aperture 0x1000000-0x7fffffff
page_sizes 2K
max_windows 0
iommu none
