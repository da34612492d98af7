/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The uAPI the kernel backend speaks, checked against the kernel ABI as the kernel's
 * include/uapi/linux/iommufd.h defines it: ioctl numbers (_IO(';', nr), no size or direction bits),
 * struct sizes and the offset of every field the backend fills or reads. Whichever header
 * provided the definitions (<linux/iommufd.h> or src/backend/iommufd_uapi.h), a difference
 * here would make every ioctl fail or, worse, pass wrong values.
 */
#include <check.h>
#include <stddef.h>
#include <stdlib.h>

#include "backend/iommufd_uapi.h"

#define OFF(type, field) offsetof(struct type, field)

START_TEST(ioctl_numbers)
{
	ck_assert_uint_eq(IOMMU_DESTROY, 0x3b80);
	ck_assert_uint_eq(IOMMU_IOAS_ALLOC, 0x3b81);
	ck_assert_uint_eq(IOMMU_IOAS_ALLOW_IOVAS, 0x3b82);
	ck_assert_uint_eq(IOMMU_IOAS_COPY, 0x3b83);
	ck_assert_uint_eq(IOMMU_IOAS_IOVA_RANGES, 0x3b84);
	ck_assert_uint_eq(IOMMU_IOAS_MAP, 0x3b85);
	ck_assert_uint_eq(IOMMU_IOAS_UNMAP, 0x3b86);
	ck_assert_uint_eq(IOMMU_OPTION, 0x3b87);
	ck_assert_uint_eq(IOMMU_GET_HW_INFO, 0x3b8a);
	ck_assert_uint_eq(IOMMU_IOAS_MAP_FILE, 0x3b8f);
	/* VFIO_TYPE ';', VFIO_BASE 100: 118, 119, 120 */
	ck_assert_uint_eq(VFIO_DEVICE_BIND_IOMMUFD, 0x3b76);
	ck_assert_uint_eq(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0x3b77);
	ck_assert_uint_eq(VFIO_DEVICE_DETACH_IOMMUFD_PT, 0x3b78);
}
END_TEST

START_TEST(flag_values)
{
	ck_assert_int_eq(IOMMU_IOAS_MAP_FIXED_IOVA, 1);
	ck_assert_int_eq(IOMMU_IOAS_MAP_WRITEABLE, 2);
	ck_assert_int_eq(IOMMU_IOAS_MAP_READABLE, 4);
	ck_assert_int_eq(IOMMU_OPTION_RLIMIT_MODE, 0);
	ck_assert_int_eq(IOMMU_OPTION_HUGE_PAGES, 1);
	ck_assert_int_eq(IOMMU_OPTION_OP_SET, 0);
	ck_assert_int_eq(IOMMU_OPTION_OP_GET, 1);
	ck_assert_int_eq(IOMMU_HW_INFO_TYPE_NONE, 0);
	ck_assert_int_eq(IOMMU_HW_INFO_TYPE_INTEL_VTD, 1);
	ck_assert_int_eq(IOMMU_HW_INFO_TYPE_ARM_SMMUV3, 2);
}
END_TEST

START_TEST(struct_sizes)
{
	ck_assert_uint_eq(sizeof(struct iommu_destroy), 8);
	ck_assert_uint_eq(sizeof(struct iommu_ioas_alloc), 12);
	ck_assert_uint_eq(sizeof(struct iommu_ioas_allow_iovas), 24);
	ck_assert_uint_eq(sizeof(struct iommu_ioas_copy), 40);
	ck_assert_uint_eq(sizeof(struct iommu_ioas_iova_ranges), 32);
	ck_assert_uint_eq(sizeof(struct iommu_iova_range), 16);
	ck_assert_uint_eq(sizeof(struct iommu_ioas_map), 40);
	ck_assert_uint_eq(sizeof(struct iommu_ioas_map_file), 40);
	ck_assert_uint_eq(sizeof(struct iommu_ioas_unmap), 24);
	ck_assert_uint_eq(sizeof(struct iommu_option), 24);
	ck_assert_uint_eq(sizeof(struct iommu_hw_info), 40);
	ck_assert_uint_eq(sizeof(struct iommu_hw_info_vtd), 24);
	ck_assert_uint_eq(sizeof(struct vfio_device_bind_iommufd), 16);
	ck_assert_uint_eq(sizeof(struct vfio_device_attach_iommufd_pt), 16);
	ck_assert_uint_eq(sizeof(struct vfio_device_detach_iommufd_pt), 12);
}
END_TEST

START_TEST(field_offsets)
{
	ck_assert_uint_eq(OFF(iommu_destroy, id), 4);
	ck_assert_uint_eq(OFF(iommu_ioas_alloc, flags), 4);
	ck_assert_uint_eq(OFF(iommu_ioas_alloc, out_ioas_id), 8);

	ck_assert_uint_eq(OFF(iommu_ioas_allow_iovas, ioas_id), 4);
	ck_assert_uint_eq(OFF(iommu_ioas_allow_iovas, num_iovas), 8);
	ck_assert_uint_eq(OFF(iommu_ioas_allow_iovas, __reserved), 12);
	ck_assert_uint_eq(OFF(iommu_ioas_allow_iovas, allowed_iovas), 16);

	ck_assert_uint_eq(OFF(iommu_ioas_copy, flags), 4);
	ck_assert_uint_eq(OFF(iommu_ioas_copy, dst_ioas_id), 8);
	ck_assert_uint_eq(OFF(iommu_ioas_copy, src_ioas_id), 12);
	ck_assert_uint_eq(OFF(iommu_ioas_copy, length), 16);
	ck_assert_uint_eq(OFF(iommu_ioas_copy, dst_iova), 24);
	ck_assert_uint_eq(OFF(iommu_ioas_copy, src_iova), 32);

	ck_assert_uint_eq(OFF(iommu_ioas_iova_ranges, ioas_id), 4);
	ck_assert_uint_eq(OFF(iommu_ioas_iova_ranges, num_iovas), 8);
	ck_assert_uint_eq(OFF(iommu_ioas_iova_ranges, __reserved), 12);
	ck_assert_uint_eq(OFF(iommu_ioas_iova_ranges, allowed_iovas), 16);
	ck_assert_uint_eq(OFF(iommu_ioas_iova_ranges, out_iova_alignment), 24);
	ck_assert_uint_eq(OFF(iommu_iova_range, last), 8);

	ck_assert_uint_eq(OFF(iommu_ioas_map, flags), 4);
	ck_assert_uint_eq(OFF(iommu_ioas_map, ioas_id), 8);
	ck_assert_uint_eq(OFF(iommu_ioas_map, __reserved), 12);
	ck_assert_uint_eq(OFF(iommu_ioas_map, user_va), 16);
	ck_assert_uint_eq(OFF(iommu_ioas_map, length), 24);
	ck_assert_uint_eq(OFF(iommu_ioas_map, iova), 32);

	ck_assert_uint_eq(OFF(iommu_ioas_map_file, ioas_id), 8);
	ck_assert_uint_eq(OFF(iommu_ioas_map_file, fd), 12);
	ck_assert_uint_eq(OFF(iommu_ioas_map_file, start), 16);
	ck_assert_uint_eq(OFF(iommu_ioas_map_file, length), 24);
	ck_assert_uint_eq(OFF(iommu_ioas_map_file, iova), 32);

	ck_assert_uint_eq(OFF(iommu_ioas_unmap, ioas_id), 4);
	ck_assert_uint_eq(OFF(iommu_ioas_unmap, iova), 8);
	ck_assert_uint_eq(OFF(iommu_ioas_unmap, length), 16);

	ck_assert_uint_eq(OFF(iommu_option, option_id), 4);
	ck_assert_uint_eq(OFF(iommu_option, op), 8);
	ck_assert_uint_eq(OFF(iommu_option, __reserved), 10);
	ck_assert_uint_eq(OFF(iommu_option, object_id), 12);
	ck_assert_uint_eq(OFF(iommu_option, val64), 16);

	ck_assert_uint_eq(OFF(iommu_hw_info, flags), 4);
	ck_assert_uint_eq(OFF(iommu_hw_info, dev_id), 8);
	ck_assert_uint_eq(OFF(iommu_hw_info, data_len), 12);
	ck_assert_uint_eq(OFF(iommu_hw_info, data_uptr), 16);
	ck_assert_uint_eq(OFF(iommu_hw_info, out_data_type), 24);
	ck_assert_uint_eq(OFF(iommu_hw_info, out_capabilities), 32);
	ck_assert_uint_eq(OFF(iommu_hw_info_vtd, cap_reg), 8);
	ck_assert_uint_eq(OFF(iommu_hw_info_vtd, ecap_reg), 16);

	ck_assert_uint_eq(OFF(vfio_device_bind_iommufd, flags), 4);
	ck_assert_uint_eq(OFF(vfio_device_bind_iommufd, iommufd), 8);
	ck_assert_uint_eq(OFF(vfio_device_bind_iommufd, out_devid), 12);
	ck_assert_uint_eq(OFF(vfio_device_attach_iommufd_pt, flags), 4);
	ck_assert_uint_eq(OFF(vfio_device_attach_iommufd_pt, pt_id), 8);
	ck_assert_uint_eq(OFF(vfio_device_attach_iommufd_pt, pasid), 12);
	ck_assert_uint_eq(OFF(vfio_device_detach_iommufd_pt, flags), 4);
	ck_assert_uint_eq(OFF(vfio_device_detach_iommufd_pt, pasid), 8);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("uapi");
	TCase *tc = tcase_create("abi");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, ioctl_numbers);
	tcase_add_test(tc, flag_values);
	tcase_add_test(tc, struct_sizes);
	tcase_add_test(tc, field_offsets);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
