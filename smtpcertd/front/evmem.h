/*
 * libevent's memory, kept apart from the malloc heap (issue 17 item 2).
 *
 * libevent keeps, for the life of its event_base, one small entry per
 * descriptor number it ever saw, the array indexing them, epoll's result
 * array and the timer heap; all grow during a burst of sessions and
 * never shrink.  Made by malloc they land between the sessions' OpenSSL
 * objects, and once the burst is over they pin that memory: glibc gives
 * heap memory back only from its top, and the free space left in between
 * (tens of MB after a few thousand sessions) stays resident and fragments
 * the heap for every later session.  evmem_install() gives libevent an
 * allocator of its own: small blocks from 64 KB slabs by size class,
 * large ones (> EVMEM_SMALL_MAX) each in a mapping of its own.  A slab
 * whose blocks are all free is unmapped, so the struct events of a
 * burst's sessions come back too; what stays is libevent's per-descriptor
 * table, 48 bytes per descriptor number ever used.
 *
 * Single-threaded, like the processes that use it.  Corruption (a block
 * whose header is not ours) aborts: fail closed.
 */
#ifndef SMTPCERTD_EVMEM_H
#define SMTPCERTD_EVMEM_H

#include <stddef.h>

#define EVMEM_SLAB	(64 * 1024)	/* a slab: mapped and aligned so */
#define EVMEM_SMALL_MAX	1024		/* larger requests get a mapping */

struct evmem_stats {
	size_t	mapped;		/* bytes mapped: slabs and large blocks */
	size_t	live;		/* blocks handed out and not yet freed */
	size_t	slabs;		/* slabs mapped */
	size_t	large;		/* large blocks mapped */
};

/*
 * Route libevent's allocations here.  Must run before any other libevent
 * call of the process (event_set_mem_functions(3)); returns -1 if it
 * could not (libevent built without memory replacement).
 */
int	 evmem_install(void);

/* The allocator itself, also for the unit test. */
void	*evmem_malloc(size_t);
void	*evmem_realloc(void *, size_t);
void	 evmem_free(void *);
void	 evmem_get_stats(struct evmem_stats *);

#endif /* SMTPCERTD_EVMEM_H */
