/*
 * The front's side of the shared session counts (fronts.h): its own
 * counts mapped writable, the other fronts' read-only.  Until the
 * parent's IMSG_FRONT_COUNTS arrive (right after the first
 * configuration), and with a single front, the counts are this front's
 * own.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fronts.h"
#include "imsg.h"
#include "log.h"
#include "proto.h"

static uint32_t			 own[3];	/* by enum front_count_kind */
static volatile uint32_t	*mine;		/* own[] in shared memory */
static const volatile uint32_t	*others[FRONTS_MAX];
static int			 me, nfronts = 1;

int
front_number(void)
{
	return me;
}

int
front_total(void)
{
	return nfronts;
}

int
front_counts_imsg(struct imsg *imsg)
{
	struct {
		uint32_t	 front, n, writable;
	} h;
	struct stat	 st;
	void		*p;
	int		 fd, k;

	fd = imsg_get_fd(imsg);
	if (imsg_get_data(imsg, &h, sizeof(h)) == -1 || fd == -1 ||
	    h.n == 0 || h.n > FRONTS_MAX || h.front >= h.n ||
	    fstat(fd, &st) == -1 || st.st_size < FRONT_COUNTS_SIZE) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	p = mmap(NULL, FRONT_COUNTS_SIZE, PROT_READ | (h.writable ?
	    PROT_WRITE : 0), MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_warn("front counts: mmap");
		return -1;
	}
	nfronts = h.n;
	if (h.writable) {
		if (mine != NULL)
			return -1;	/* only ever one */
		me = h.front;
		mine = p;
		/* Sessions admitted before the mapping count from now. */
		for (k = 0; k < 3; k++)
			__atomic_store_n(&mine[k], own[k], __ATOMIC_SEQ_CST);
		log_debug("front %d of %d", me, nfronts);
	} else {
		if (others[h.front] != NULL)
			munmap((void *)others[h.front], FRONT_COUNTS_SIZE);
		others[h.front] = p;
	}
	return 0;
}

unsigned
front_counts_add(enum front_count_kind kind, int delta)
{
	uint64_t	 total;
	uint32_t	 v;
	int		 k;

	if (delta < 0 && own[kind] < (unsigned)-delta)
		own[kind] = 0;
	else
		own[kind] += delta;
	total = own[kind];
	if (mine == NULL)
		return total;
	/* Store ours, then load theirs, both sequentially consistent:
	 * see fronts.h for why the limit then holds. */
	__atomic_store_n(&mine[kind], own[kind], __ATOMIC_SEQ_CST);
	for (k = 0; k < FRONTS_MAX; k++) {
		if (others[k] == NULL || k == me)
			continue;
		v = __atomic_load_n(&others[k][kind], __ATOMIC_SEQ_CST);
		total += v < FRONT_COUNT_CLAMP ? v : FRONT_COUNT_CLAMP;
	}
	return total > UINT32_MAX ? UINT32_MAX : (unsigned)total;
}
