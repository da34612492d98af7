/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A circular doubly linked list, as the kernel's <linux/list.h> keeps one, with only what
 * ioasfs uses: an object sits in its kind's list by an embedded struct list.
 */
#ifndef IOASFS_LIST_H
#define IOASFS_LIST_H

#include <stddef.h>

struct list {
	struct list *next, *prev;
};

#define list_entry(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
#define list_for_each(pos, head)    for (pos = (head)->next; pos != (head); pos = pos->next)
#define list_for_each_safe(pos, n, head)                                                           \
	for (pos = (head)->next, n = pos->next; pos != (head); pos = n, n = pos->next)

static inline void list_init(struct list *l)
{
	l->next = l->prev = l;
}

static inline void list_add_tail(struct list *l, struct list *head)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static inline void list_del(struct list *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	list_init(l);
}

#endif
