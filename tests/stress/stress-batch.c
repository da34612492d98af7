/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stress-batch: one batch client of tests/stress/stress.sh. Until its time is up (or the
 * daemon goes away) it sends chunks of commands through libioasfs to two IOASes, a shared one
 * and its own, inside an address region that is its alone (REGION), and writes a log of what
 * it did for the script's model:
 *
 *   T TIME ioas LINE     before a chunk is submitted: a map it is about to try
 *   U TIME ioas START    before a chunk is submitted: an unmap it is about to try
 *   + TIME ioas LINE     after: a map the daemon acknowledged (res 0)
 *   - TIME ioas START    after: an unmap the daemon acknowledged
 *   R TIME ioas ERRNO    after: a command the daemon refused (expected and not)
 *
 * LINE is the line the mapping must have in the IOAS's `mappings` file, START its first
 * column; TIME is CLOCK_REALTIME in microseconds. T and U lines are written with -f only,
 * the mode of the runs that are cut short (SIGTERM, kill -9); a run to its end needs only
 * the acknowledgements, and halves its log. The T and U lines are flushed before the
 * chunk goes out, the results after it comes back, so a client killed at any moment has
 * logged every command it may have sent and no acknowledgement it did not get.
 *
 * Commands: fixed maps into 64 slots of 64 KiB at REGION + slot * 64K (4 to 64 KiB of one of
 * four sources, r, w or rw), unmaps of what it mapped, automatic 4 KiB maps into its own IOAS
 * and on purpose some that must fail: a map over a slot it has mapped (EEXIST) and an unmap
 * of a slot it has not (ENOENT). With -f it starts on a region an earlier run may have left
 * mapped: no automatic maps and no unmaps of slots it does not know to be mapped.
 *
 *   stress-batch [-f] MOUNT SHARED OWN REGION SECONDS SEED LOG
 *
 * Exit status: 0 when it ran to its time or the daemon went away (ENOTCONN and the like), 1
 * when a command got an answer it cannot have (a refused slot map, an auto map outside the
 * IOAS), 2 for a usage or set-up error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ioasfs/batch.h"

#define SLOTS	  64
#define SLOT_SIZE 0x10000ull
#define CHUNK	  32
#define MAX_AUTO  256

struct target {
	const char *name;
	struct ioasfs_batch *b;
	bool mapped[SLOTS];
	char line[SLOTS][128];
	uint64_t autos[MAX_AUTO]; /* IOVAs of its automatic maps */
	unsigned n_autos;
};

struct pending {
	struct target *t;
	enum { P_MAP, P_UNMAP, P_AUTO, P_BAD_MAP, P_BAD_UNMAP, P_UNMAP_AUTO } kind;
	int slot;
	char line[128];
	uint64_t iova;
};

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static const char *const prots[] = { "", "r", "w", "rw" };

int main(int argc, char **argv)
{
	struct target t[2] = { { 0 } };
	struct pending p[CHUNK];
	struct ioasfs_cmd cmds[CHUNK];
	struct ioasfs_cqe cqes[CHUNK];
	uint64_t region;
	bool fixed_only = false;
	char path[4096];
	long long deadline;
	FILE *log;
	int r, bad = 0;

	if (argc > 1 && !strcmp(argv[1], "-f")) {
		fixed_only = true;
		argv++;
		argc--;
	}
	if (argc != 8) {
		fprintf(stderr,
			"usage: stress-batch [-f] MOUNT SHARED OWN REGION SECONDS SEED LOG\n");
		return 2;
	}
	t[0].name = argv[2];
	t[1].name = argv[3];
	region = strtoull(argv[4], NULL, 0);
	deadline = now_us() + atoll(argv[5]) * 1000000LL;
	rng = strtoull(argv[6], NULL, 0) | 1;
	log = fopen(argv[7], "a");
	if (!log)
		return 2;
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/ioas/%s", argv[1], t[i].name);
		r = ioasfs_batch_open(path, NULL, &t[i].b);
		if (r < 0) {
			fprintf(stderr, "stress-batch: %s: %s\n", path, strerror(-r));
			return 2;
		}
	}
	while (now_us() < deadline) {
		struct target *tg = &t[next() % 2];
		unsigned n = 0;

		/* one chunk for one IOAS; each slot at most once per chunk */
		bool used[SLOTS] = { false };

		for (unsigned i = 0; i < CHUNK; i++) {
			struct pending *q = &p[n];
			struct ioasfs_cmd *c = &cmds[n];
			unsigned slot = next() % SLOTS, roll = next() % 16;
			uint64_t iova = region + slot * SLOT_SIZE;

			memset(c, 0, sizeof(*c));
			c->version = IOASFS_BATCH_VERSION;
			c->user_data = n;
			q->t = tg;
			q->slot = slot;
			if (!fixed_only && tg == &t[1] && roll == 0 && tg->n_autos < MAX_AUTO) {
				c->opcode = IOASFS_OP_MAP;
				c->prot = IOASFS_PROT_READ | IOASFS_PROT_WRITE;
				c->length = 0x1000;
				c->offset = (next() % 256) * 0x1000;
				snprintf(c->name, sizeof(c->name), "s%u", (unsigned)(next() % 4));
				q->kind = P_AUTO;
				snprintf(q->line, sizeof(q->line), "rw %s+0x%" PRIx64, c->name,
					 c->offset);
			} else if (!fixed_only && tg == &t[1] && roll == 1 && tg->n_autos) {
				unsigned k = next() % tg->n_autos;

				c->opcode = IOASFS_OP_UNMAP;
				c->iova = tg->autos[k];
				c->length = 0x1000;
				q->kind = P_UNMAP_AUTO;
				q->iova = c->iova;
				tg->autos[k] =
				    tg->autos[--tg->n_autos]; /* tried: no longer its own */
			} else if (used[slot]) {
				continue;
			} else if (tg->mapped[slot] && roll == 2) {
				c->opcode = IOASFS_OP_MAP_FIXED; /* over its own mapping: EEXIST */
				c->iova = iova;
				c->length = 0x1000;
				c->prot = IOASFS_PROT_READ;
				snprintf(c->name, sizeof(c->name), "s0");
				q->kind = P_BAD_MAP;
			} else if (!tg->mapped[slot] && roll == 3 && tg == &t[0] && !fixed_only) {
				/*
				 * In the shared IOAS, where no automatic map sits in its slots, and
				 * only when it started on an empty region (not with -f, which
				 * continues on what an earlier run left).
				 */
				c->opcode = IOASFS_OP_UNMAP; /* nothing there: ENOENT */
				c->iova = iova;
				c->length = 0x1000;
				q->kind = P_BAD_UNMAP;
			} else if (tg->mapped[slot]) {
				c->opcode = IOASFS_OP_UNMAP;
				c->iova = iova;
				c->length =
				    (strtoull(strchr(tg->line[slot], '-') + 1, NULL, 16) - iova) +
				    1;
				q->kind = P_UNMAP;
			} else {
				unsigned prot = 1 + next() % 3;

				c->opcode = IOASFS_OP_MAP_FIXED;
				c->iova = iova;
				c->length = (1 + next() % 16) * 0x1000;
				c->offset = slot * 0x1000;
				c->prot = prot;
				snprintf(c->name, sizeof(c->name), "s%u", (unsigned)(next() % 4));
				q->kind = P_MAP;
				snprintf(q->line, sizeof(q->line),
					 "0x%016" PRIx64 "-0x%016" PRIx64 " %s %s+0x%" PRIx64, iova,
					 iova + c->length - 1, prots[prot], c->name, c->offset);
			}
			used[slot] = true;
			/* what it is about to send: only needed where an acknowledgement may be
			 * lost */
			if (fixed_only && q->kind == P_MAP)
				fprintf(log, "T %lld %s %s\n", now_us(), tg->name, q->line);
			else if (fixed_only && (q->kind == P_UNMAP || q->kind == P_UNMAP_AUTO))
				fprintf(log, "U %lld %s 0x%016" PRIx64 "\n", now_us(), tg->name,
					c->iova);
			n++;
		}
		fflush(log);
		r = ioasfs_batch_run(tg->b, cmds, n, cqes);
		if (r < 0)
			break; /* the channel is gone: the daemon stopped */
		for (unsigned i = 0; i < n; i++) {
			struct pending *q = &p[i];
			int res = cqes[i].res;
			long long ts = now_us();

			if (res == -ENOTCONN || res == -ECONNABORTED || res == -ENODEV)
				goto out; /* the daemon went away under this chunk */
			switch (q->kind) {
			case P_MAP:
				if (res == 0) {
					q->t->mapped[q->slot] = true;
					snprintf(q->t->line[q->slot], sizeof(q->t->line[0]), "%s",
						 q->line);
					fprintf(log, "+ %lld %s %s\n", ts, q->t->name, q->line);
				}
				break;
			case P_UNMAP:
				if (res == 0) {
					q->t->mapped[q->slot] = false;
					fprintf(log, "- %lld %s 0x%016" PRIx64 "\n", ts, q->t->name,
						cmds[i].iova);
				}
				break;
			case P_UNMAP_AUTO:
				if (res == 0)
					fprintf(log, "- %lld %s 0x%016" PRIx64 "\n", ts, q->t->name,
						q->iova);
				break;
			case P_AUTO:
				if (res == 0) {
					uint64_t a = cqes[i].iova;

					/* one it cannot keep track of stays mapped */
					if (q->t->n_autos < MAX_AUTO)
						q->t->autos[q->t->n_autos++] = a;
					fprintf(log,
						"+ %lld %s 0x%016" PRIx64 "-0x%016" PRIx64 " %s\n",
						ts, q->t->name, a, a + 0xfff, q->line);
				}
				break;
			case P_BAD_MAP:
			case P_BAD_UNMAP:
				if (res != (q->kind == P_BAD_MAP ? -EEXIST : -ENOENT)) {
					fprintf(
					    stderr,
					    "stress-batch: %s slot %d: a command that must fail "
					    "got %d\n",
					    q->t->name, q->slot, res);
					bad = 1;
				}
				break;
			}
			if (res < 0)
				fprintf(log, "R %lld %s %d\n", ts, q->t->name, res);
		}
		fflush(log);
	}
out:
	fflush(log);
	fclose(log);
	ioasfs_batch_close(t[0].b);
	ioasfs_batch_close(t[1].b);
	return bad;
}
