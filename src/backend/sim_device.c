/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim's devices: bind, attach to an IOAS (through its paging HWPT), detach, unbind,
 * hw_info and reserved regions, as drivers/iommu/iommufd/device.c does.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "util/itree.h"
#include "util/slab.h"
#include "backend/sim_int.h"

/* ---- ops: devices ---- */

int sim_device_bind(struct backend *be, const char *path, uint32_t *ret_dev_id)
{
	struct sim *s = to_sim(be);
	struct sim_dev *dev;
	int rc;

	if (!path)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->name = strdup(path);
	dev->nregions = s->plat.n_reserved;
	if (dev->nregions) {
		dev->regions = malloc(dev->nregions * sizeof(*dev->regions));
		if (dev->regions)
			memcpy(dev->regions, s->plat.reserved,
			       dev->nregions * sizeof(*dev->regions));
	}
	if (!dev->name || (dev->nregions && !dev->regions)) {
		rc = -ENOMEM;
		goto err;
	}
	pthread_mutex_lock(&s->lock);
	rc = obj_add(s, &dev->obj, SIM_OBJ_DEVICE);
	if (!rc)
		*ret_dev_id = dev->obj.id;
	pthread_mutex_unlock(&s->lock);
	if (!rc)
		return 0;
err:
	free(dev->regions);
	free(dev->name);
	free(dev);
	return rc;
}

/*
 * A device leaves its HWPT: its regions leave the IOAS, and the last device out takes the
 * HWPT, its aperture reservations and its alignment with it (iopt_table_remove_domain).
 */
static void dev_leave_hwpt(struct sim *s, struct sim_dev *dev)
{
	struct sim_hwpt *hwpt = dev->hwpt;
	struct sim_ioas *ioas = hwpt->ioas;

	dev->hwpt = NULL;
	ioas_remove_reserved(ioas, dev);
	if (--hwpt->ndevs)
		return;
	ioas_remove_reserved(ioas, hwpt);
	ioas->hwpt = NULL;
	ioas->iova_alignment = ioas_alignment(s, ioas, ioas->disable_large_pages);
	obj_del(s, &hwpt->obj);
	free(hwpt);
}

/* The complement of the platform's apertures, in ascending order. Returns the count. */
static size_t aperture_holes(const struct platform *p, struct sim_resv *out, const void *owner)
{
	uint64_t cur = 0;
	size_t n = 0;
	unsigned int i;

	if (!p->n_apertures) {
		/* A hand-filled profile without apertures: 0 .. 2^iova_bits - 1. */
		if (p->iova_bits && p->iova_bits < 64)
			out[n++] =
			    (struct sim_resv){ UINT64_C(1) << p->iova_bits, UINT64_MAX, owner };
		return n;
	}
	for (i = 0; i < p->n_apertures; i++) {
		const struct platform_range *a = &p->apertures[i];

		if (a->start > cur)
			out[n++] = (struct sim_resv){ cur, a->start - 1, owner };
		if (a->last == UINT64_MAX)
			return n;
		cur = a->last + 1;
	}
	out[n++] = (struct sim_resv){ cur, UINT64_MAX, owner };
	return n;
}

/*
 * Attach (or move) dev to ioas. Everything that can fail is checked before anything changes,
 * so a failed replace leaves the device where it was. The order follows the kernel's first
 * attach: the device's regions, then the domain's alignment, then its aperture.
 */
static int dev_attach_ioas(struct sim *s, struct sim_dev *dev, struct sim_ioas *ioas,
			   uint32_t *pt_id)
{
	struct sim_hwpt *hwpt = ioas->hwpt, *newhwpt = NULL;
	uint64_t align = ioas->iova_alignment;
	struct sim_resv *add;
	size_t nadd = 0, i;
	int rc;

	add = malloc((dev->nregions + s->plat.n_apertures + 2) * sizeof(*add));
	if (!add)
		return -ENOMEM;
	for (i = 0; i < dev->nregions; i++) {
		const struct platform_range *r = &dev->regions[i];

		if (range_in_use(ioas, r->start, r->last)) {
			rc = -EADDRINUSE;
			goto out;
		}
		add[nadd++] = (struct sim_resv){ r->start, r->last, dev };
	}
	if (!hwpt) {
		size_t first = nadd;

		if (plat_min_page(&s->plat) > align)
			align = plat_min_page(&s->plat);
		/* iopt_table_add_domain: the IOAS cannot go above PAGE_SIZE alignment. */
		if (align > SIM_PAGE) {
			rc = -EINVAL;
			goto out;
		}
		if (align != ioas->iova_alignment && !areas_aligned(ioas, align)) {
			rc = -EADDRINUSE;
			goto out;
		}
		newhwpt = calloc(1, sizeof(*newhwpt));
		if (!newhwpt) {
			rc = -ENOMEM;
			goto out;
		}
		nadd += aperture_holes(&s->plat, add + nadd, newhwpt);
		for (i = first; i < nadd; i++) {
			if (range_in_use(ioas, add[i].start, add[i].last)) {
				rc = -EADDRINUSE;
				goto out;
			}
		}
		rc = obj_add(s, &newhwpt->obj, SIM_OBJ_HWPT);
		if (rc)
			goto out;
	}
	rc = ioas_add_reserved(ioas, add, nadd);
	if (rc) {
		if (newhwpt)
			obj_del(s, &newhwpt->obj);
		goto out;
	}
	if (newhwpt) {
		newhwpt->ioas = ioas;
		ioas->hwpt = newhwpt;
		ioas->iova_alignment = align;
		hwpt = newhwpt;
		newhwpt = NULL;
	}
	/* Replace: join the new HWPT first, then leave the old one (iommufd_device_do_replace). */
	hwpt->ndevs++;
	if (dev->hwpt)
		dev_leave_hwpt(s, dev);
	dev->hwpt = hwpt;
	*pt_id = hwpt->obj.id;
out:
	free(newhwpt);
	free(add);
	return rc;
}

int sim_device_attach(struct backend *be, uint32_t dev_id, uint32_t *pt_id)
{
	struct sim *s = to_sim(be);
	struct sim_ioas *ioas = NULL;
	struct sim_dev *dev;
	struct sim_obj *pt;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	dev = obj_get(s, dev_id, SIM_OBJ_DEVICE);
	pt = obj_get_any(s, *pt_id);
	if (!dev || !pt) {
		rc = -ENOENT;
	} else if (pt->type == SIM_OBJ_IOAS) {
		ioas = (struct sim_ioas *)pt;
	} else if (pt->type == SIM_OBJ_HWPT) {
		ioas = ((struct sim_hwpt *)pt)->ioas;
	} else {
		/* iommufd_device_change_pt(): an object that is neither IOAS nor HWPT. */
		rc = -EINVAL;
	}
	if (!rc) {
		if (dev->hwpt && dev->hwpt->ioas == ioas)
			*pt_id = dev->hwpt->obj.id; /* the same domain: nothing to do */
		else
			rc = dev_attach_ioas(s, dev, ioas, pt_id);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sim_device_detach(struct backend *be, uint32_t dev_id)
{
	struct sim *s = to_sim(be);
	struct sim_dev *dev;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	dev = obj_get(s, dev_id, SIM_OBJ_DEVICE);
	if (!dev)
		rc = -ENOENT;
	else if (!dev->hwpt)
		rc = -EINVAL;
	else
		dev_leave_hwpt(s, dev);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void dev_free(struct sim_dev *dev)
{
	free(dev->regions);
	free(dev->name);
	free(dev);
}

int sim_device_unbind(struct backend *be, uint32_t dev_id)
{
	struct sim *s = to_sim(be);
	struct sim_dev *dev;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	dev = obj_get(s, dev_id, SIM_OBJ_DEVICE);
	if (!dev) {
		rc = -ENOENT;
	} else {
		if (dev->hwpt)
			dev_leave_hwpt(s, dev);
		obj_del(s, &dev->obj);
		dev_free(dev);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Bits of the address space the aperture spans (what VT-d MGAW / SMMU OAS describe). */
static unsigned int plat_addr_bits(const struct platform *p)
{
	uint64_t top;

	if (!p->n_apertures)
		return p->iova_bits && p->iova_bits < 64 ? p->iova_bits : 64;
	top = p->apertures[p->n_apertures - 1].last;
	return top ? 64 - __builtin_clzll(top) : 1;
}

/*
 * Register contents for IOMMU_GET_HW_INFO. They are plausible, fixed values, not read from any
 * machine: VT-d cap 0x00d2008c40660462 / ecap 0x0000000000f050da as the DMAR driver prints
 * them on a Xeon server, with MGAW (bits 21:16) and SAGAW (bits 12:8) rewritten to match the
 * profile's address width; SMMUv3 IDR0-5/IIDR/AIDR of an Arm MMU-600-like SMMUv3.1 (stage 1
 * and 2, AArch64 tables, coherent, ATS/PRI, 16-bit ASID/VMID, 2-level stream table,
 * 16-bit StreamIDs, 20-bit SubstreamIDs, 48-bit OAS, 4K/16K/64K granules).
 */
static void fill_hw_info(const struct platform *p, struct backend_hw_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->type = p->iommu;
	if (p->iommu == PLATFORM_IOMMU_INTEL_VTD) {
		struct {
			uint32_t flags, reserved;
			uint64_t cap_reg, ecap_reg;
		} vtd = { 0 };
		unsigned int bits = plat_addr_bits(p);
		uint64_t sagaw = bits <= 39 ? 0x2 : bits <= 48 ? 0x4 : 0x8;

		vtd.cap_reg = UINT64_C(0x00d2008c40660462);
		vtd.cap_reg &= ~((UINT64_C(0x3f) << 16) | (UINT64_C(0x1f) << 8));
		vtd.cap_reg |= ((uint64_t)(bits - 1) << 16) | (sagaw << 8);
		vtd.ecap_reg = UINT64_C(0x0000000000f050da);
		memcpy(ret->data, &vtd, sizeof(vtd));
		ret->data_len = sizeof(vtd);
	} else if (p->iommu == PLATFORM_IOMMU_ARM_SMMUV3) {
		struct {
			uint32_t flags, reserved;
			uint32_t idr[6];
			uint32_t iidr, aidr;
		} smmu = {
			.idr = { 0x080d34bb, 0x02739d10, 0x00000000, 0x00000404, 0x00000000,
				 0x00000075 },
			.iidr = 0x4830043b,
			.aidr = 0x00000001,
		};

		memcpy(ret->data, &smmu, sizeof(smmu));
		ret->data_len = sizeof(smmu);
	}
}

int sim_hw_info(struct backend *be, uint32_t dev_id, struct backend_hw_info *ret)
{
	struct sim *s = to_sim(be);
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (!obj_get(s, dev_id, SIM_OBJ_DEVICE))
		rc = -ENOENT;
	else
		fill_hw_info(&s->plat, ret);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sim_device_reserved(struct backend *be, uint32_t dev_id, struct platform_range *regions,
			uint32_t *num)
{
	struct sim *s = to_sim(be);
	struct sim_dev *dev;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	dev = obj_get(s, dev_id, SIM_OBJ_DEVICE);
	if (!dev) {
		rc = -ENOENT;
	} else if (*num && !regions) {
		rc = -EFAULT;
	} else {
		uint32_t n = dev->nregions < *num ? dev->nregions : *num;

		if (n)
			memcpy(regions, dev->regions, n * sizeof(*regions));
		if (dev->nregions > *num)
			rc = -EMSGSIZE;
		*num = dev->nregions;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int region_cmp(const void *a, const void *b)
{
	const struct platform_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int sim_device_set_reserved(struct backend *be, uint32_t dev_id,
			    const struct platform_range *regions, uint32_t num)
{
	struct sim *s = to_sim(be);
	struct platform_range *list = NULL;
	struct sim_dev *dev;
	uint32_t i;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	dev = obj_get(s, dev_id, SIM_OBJ_DEVICE);
	if (!dev) {
		rc = -ENOENT;
		goto out;
	}
	/* The regions are in the IOAS while attached; changing them under it is not a thing. */
	if (dev->hwpt) {
		rc = -EBUSY;
		goto out;
	}
	if (num && !regions) {
		rc = -EFAULT;
		goto out;
	}
	if (num) {
		list = malloc((size_t)num * sizeof(*list));
		if (!list) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(list, regions, (size_t)num * sizeof(*list));
	}
	for (i = 0; i < num; i++) {
		if (list[i].start > list[i].last) {
			rc = -EINVAL;
			goto out;
		}
		list[i].kind[PLATFORM_KIND_LEN - 1] = '\0';
	}
	if (num)
		qsort(list, num, sizeof(*list), region_cmp);
	for (i = 1; i < num; i++) {
		if (list[i].start <= list[i - 1].last) {
			rc = -EINVAL;
			goto out;
		}
	}
	free(dev->regions);
	dev->regions = list;
	dev->nregions = num;
	list = NULL;
out:
	pthread_mutex_unlock(&s->lock);
	free(list);
	return rc;
}
