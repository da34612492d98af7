/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Failing mallocs for tests linked with -Wl,--wrap=malloc (include once per program): while
 * fail_after >= 0, that many more mallocs go through and every later one returns NULL. Arm it
 * around the call under test alone: Check and the test's helpers allocate too.
 */
#ifndef IOASFS_TESTS_FAILMALLOC_H
#define IOASFS_TESTS_FAILMALLOC_H

#include <stddef.h>

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
static long fail_after = -1;

void *__wrap_malloc(size_t size)
{
	if (fail_after == 0)
		return NULL;
	if (fail_after > 0)
		fail_after--;
	return __real_malloc(size);
}

#endif
