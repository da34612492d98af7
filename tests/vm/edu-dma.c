// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * edu-dma: drive the DMA engine of QEMU's "edu" PCI device (1234:11e8) from the guest, so a
 * test can show that a DMA through an ioasfs mapping reaches the source memory and that,
 * after unmap, the IOMMU blocks it.
 *
 * The device is bound to vfio-pci and its cdev is held by the ioasfs daemon (which attached
 * it to an IOAS), so this program does not go through VFIO at all: it uses the PCI core's
 * sysfs files of the same device. It sets Memory Space and Bus Master in the command
 * register through `config`, maps BAR0 through `resource0` and programs the engine. The
 * device then issues its DMA with the addresses it is given, which are IOVAs translated by
 * the IOMMU domain that ioasfs attached: exactly what a userspace driver's device would do.
 *
 * The edu engine (QEMU docs/specs/edu.rst): 64-bit registers source 0x80, destination 0x88,
 * count 0x90, command 0x98 (bit 0 start, and busy until done; bit 1 direction, set = device
 * to RAM; bit 2 interrupt when done). The device's own buffer is 4096 bytes at device address
 * 0x40000, and by default the device only reaches 28-bit (256 MiB) DMA addresses. A transfer
 * whose device-side range leaves the buffer stops QEMU, so that range is checked here.
 *
 *   edu-dma find                      print the edu device's PCI address (0000:00:02.0)
 *   edu-dma [-d BDF] to-dev IOVA LEN  RAM at IOVA -> device buffer
 *   edu-dma [-d BDF] from-dev IOVA LEN device buffer -> RAM at IOVA
 *   edu-dma [-d BDF] copy SRC DST LEN SRC -> device buffer -> DST
 * Exit status: 0 the engine finished, 1 usage or set-up error, 2 the engine did not finish.
 * A transfer blocked by the IOMMU still finishes as far as the engine is concerned (QEMU
 * drops the access); the IOMMU's fault report is in the kernel log.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PCI_DEVICES	   "/sys/bus/pci/devices"
#define EDU_VENDOR	   0x1234
#define EDU_DEVICE	   0x11e8
#define EDU_BAR_SIZE	   0x100000
#define EDU_ID		   0x00
#define EDU_DMA_SRC	   0x80
#define EDU_DMA_DST	   0x88
#define EDU_DMA_COUNT	   0x90
#define EDU_DMA_CMD	   0x98
#define EDU_CMD_START	   0x1
#define EDU_CMD_TO_RAM	   0x2
#define EDU_BUF		   0x40000
#define EDU_BUF_SIZE	   4096
#define EDU_DMA_MASK	   0x0fffffffULL
#define PCI_COMMAND	   0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define DMA_TIMEOUT_MS	   5000
#define DEV_NAME	   256

static int read_hex(const char *dev, const char *attr, unsigned long *ret)
{
	char path[512], buf[32];
	FILE *f;
	int r = -1;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", dev, attr);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		*ret = strtoul(buf, NULL, 16);
		r = 0;
	}
	fclose(f);
	return r;
}

/* The first PCI device with the edu IDs; its name is copied to ret (size DEV_NAME). */
static int find_edu(char *ret)
{
	struct dirent *e;
	DIR *d = opendir(PCI_DEVICES);
	int r = -1;

	if (!d) {
		perror(PCI_DEVICES);
		return -1;
	}
	while ((e = readdir(d))) {
		unsigned long vendor, device;

		if (e->d_name[0] == '.')
			continue;
		if (read_hex(e->d_name, "vendor", &vendor) ||
		    read_hex(e->d_name, "device", &device))
			continue;
		if (vendor == EDU_VENDOR && device == EDU_DEVICE) {
			snprintf(ret, DEV_NAME, "%s", e->d_name);
			r = 0;
			break;
		}
	}
	closedir(d);
	if (r)
		fprintf(stderr, "edu-dma: no PCI device %04x:%04x\n", EDU_VENDOR, EDU_DEVICE);
	return r;
}

/* Memory Space and Bus Master on, through the config space file (needs root). */
static int enable_device(const char *dev)
{
	char path[512];
	uint16_t cmd;
	int fd, r = -1;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/config", dev);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	if (pread(fd, &cmd, sizeof(cmd), PCI_COMMAND) != sizeof(cmd)) {
		perror("read PCI_COMMAND");
		goto out;
	}
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(fd, &cmd, sizeof(cmd), PCI_COMMAND) != sizeof(cmd)) {
		perror("write PCI_COMMAND");
		goto out;
	}
	r = 0;
out:
	close(fd);
	return r;
}

static volatile uint8_t *map_bar0(const char *dev)
{
	char path[512];
	void *p;
	int fd;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/resource0", dev);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0) {
		perror(path);
		return NULL;
	}
	p = mmap(NULL, EDU_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror("mmap resource0");
		return NULL;
	}
	return p;
}

static uint32_t rd32(volatile uint8_t *bar, unsigned off)
{
	return *(volatile uint32_t *)(bar + off);
}

static uint64_t rd64(volatile uint8_t *bar, unsigned off)
{
	return *(volatile uint64_t *)(bar + off);
}

static void wr64(volatile uint8_t *bar, unsigned off, uint64_t v)
{
	*(volatile uint64_t *)(bar + off) = v;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One transfer; returns 0 when the engine reports it finished, 2 on timeout. */
static int transfer(volatile uint8_t *bar, uint64_t src, uint64_t dst, uint64_t len, int to_ram)
{
	long t0 = now_ms(), t;

	wr64(bar, EDU_DMA_SRC, src);
	wr64(bar, EDU_DMA_DST, dst);
	wr64(bar, EDU_DMA_COUNT, len);
	wr64(bar, EDU_DMA_CMD, EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0));
	while (rd64(bar, EDU_DMA_CMD) & EDU_CMD_START) {
		t = now_ms();
		if (t - t0 > DMA_TIMEOUT_MS) {
			printf("edu-dma: 0x%" PRIx64 " -> 0x%" PRIx64 " (%" PRIu64
			       " bytes): not finished after %d ms\n",
			       src, dst, len, DMA_TIMEOUT_MS);
			return 2;
		}
		usleep(1000);
	}
	printf("edu-dma: %s 0x%" PRIx64 " -> %s 0x%" PRIx64 " (%" PRIu64
	       " bytes): finished in %ld ms\n",
	       to_ram ? "device" : "iova", src, to_ram ? "iova" : "device", dst, len,
	       now_ms() - t0);
	return 0;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "edu-dma: not a number: %s\n", s);
		return -1;
	}
	return 0;
}

/* The device-side range must stay in the buffer (QEMU stops otherwise); the IOVA within
 * the device's DMA mask (QEMU would silently clamp it). */
static int check_args(uint64_t iova, uint64_t len)
{
	if (len == 0 || len > EDU_BUF_SIZE) {
		fprintf(stderr, "edu-dma: length must be 1..%d\n", EDU_BUF_SIZE);
		return -1;
	}
	if (iova > EDU_DMA_MASK || len - 1 > EDU_DMA_MASK - iova) {
		fprintf(stderr, "edu-dma: IOVA range beyond the device's 28-bit DMA mask\n");
		return -1;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: edu-dma find\n"
			"       edu-dma [-d BDF] to-dev IOVA LEN\n"
			"       edu-dma [-d BDF] from-dev IOVA LEN\n"
			"       edu-dma [-d BDF] copy SRC-IOVA DST-IOVA LEN\n");
}

int main(int argc, char **argv)
{
	char dev[DEV_NAME] = "";
	volatile uint8_t *bar;
	uint64_t a, b = 0, len;
	int i = 1, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (i + 1 < argc && !strcmp(argv[i], "-d")) {
		snprintf(dev, sizeof(dev), "%s", argv[i + 1]);
		i += 2;
	}
	if (i >= argc) {
		usage();
		return 1;
	}
	if (!dev[0] && find_edu(dev))
		return 1;
	if (!strcmp(argv[i], "find") && argc == i + 1) {
		printf("%s\n", dev);
		return 0;
	}
	if ((!strcmp(argv[i], "to-dev") || !strcmp(argv[i], "from-dev")) && argc == i + 3) {
		if (parse_u64(argv[i + 1], &a) || parse_u64(argv[i + 2], &len) ||
		    check_args(a, len))
			return 1;
	} else if (!strcmp(argv[i], "copy") && argc == i + 4) {
		if (parse_u64(argv[i + 1], &a) || parse_u64(argv[i + 2], &b) ||
		    parse_u64(argv[i + 3], &len) || check_args(a, len) || check_args(b, len))
			return 1;
	} else {
		usage();
		return 1;
	}
	if (enable_device(dev))
		return 1;
	bar = map_bar0(dev);
	if (!bar)
		return 1;
	if ((rd32(bar, EDU_ID) & 0xff) != 0xed) {
		fprintf(stderr, "edu-dma: %s: identification 0x%08x is not an edu device's\n", dev,
			rd32(bar, EDU_ID));
		return 1;
	}
	if (!strcmp(argv[i], "to-dev"))
		r = transfer(bar, a, EDU_BUF, len, 0);
	else if (!strcmp(argv[i], "from-dev"))
		r = transfer(bar, EDU_BUF, a, len, 1);
	else {
		r = transfer(bar, a, EDU_BUF, len, 0);
		if (!r)
			r = transfer(bar, EDU_BUF, b, len, 1);
	}
	munmap((void *)bar, EDU_BAR_SIZE);
	return r;
}
