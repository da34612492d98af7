/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The property check of the parser harnesses: a property that does not hold is an abort(),
 * which libFuzzer reports as a crash and saves the input for. FUZZ_NAME names the harness.
 */
#ifndef IOASFS_FUZZ_CHECK_H
#define IOASFS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s: %s:%d: property failed: %s\n", FUZZ_NAME, __FILE__,   \
				__LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
