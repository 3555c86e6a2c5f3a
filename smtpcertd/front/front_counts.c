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
/* The login tables (fronts.h), ours writable. */
static struct front_login	*mylogins;
static const struct front_login	*otherlogins[FRONTS_MAX];
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
	    fstat(fd, &st) == -1 || st.st_size < 0 ||
	    (size_t)st.st_size < FRONT_COUNTS_SIZE) {
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
		mylogins = (struct front_login *)((char *)p +
		    FRONT_LOGINS_OFFSET);
		/* Sessions admitted before the mapping count from now. */
		for (k = 0; k < 3; k++)
			__atomic_store_n(&mine[k], own[k], __ATOMIC_SEQ_CST);
		log_debug("front %d of %d", me, nfronts);
	} else {
		if (others[h.front] != NULL)
			munmap((void *)others[h.front], FRONT_COUNTS_SIZE);
		others[h.front] = p;
		otherlogins[h.front] = (const struct front_login *)
		    ((const char *)p + FRONT_LOGINS_OFFSET);
	}
	return 0;
}

int
front_logins_shared(void)
{
	return mylogins != NULL && nfronts > 1;
}

uint64_t
front_login_key(const char *user)
{
	uint64_t	 h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *user != '\0'; user++)
		h = (h ^ (unsigned char)*user) * 1099511628211ULL;
	return h != 0 ? h : 1;		/* 0 is a slot never used */
}

/* A user's entries in one table, within the probe bound. */
static uint64_t
front_logins_sum(const struct front_login *t, uint64_t key)
{
	uint64_t	 sum = 0;
	uint32_t	 v;
	size_t		 i, at;

	for (i = 0; i < FRONT_LOGIN_PROBES; i++) {
		at = (key + i) % FRONT_LOGIN_SLOTS;
		if (__atomic_load_n(&t[at].key, __ATOMIC_SEQ_CST) != key)
			continue;
		v = __atomic_load_n(&t[at].count, __ATOMIC_SEQ_CST);
		sum += v < FRONT_COUNT_CLAMP ? v : FRONT_COUNT_CLAMP;
	}
	return sum;
}

int64_t
front_logins_get(uint64_t key)
{
	uint64_t	 total;
	int		 k;

	total = front_logins_sum(mylogins, key);
	for (k = 0; k < FRONTS_MAX; k++)
		if (otherlogins[k] != NULL && k != me)
			total += front_logins_sum(otherlogins[k], key);
	return total > INT32_MAX ? INT32_MAX : (int64_t)total;
}

int64_t
front_logins_add(uint64_t key, int delta)
{
	struct front_login	*e = NULL, *t = mylogins;
	uint64_t		 total;
	size_t			 i, at;
	int			 k;

	/* Ours: the user's entry if there is one, else the first free. */
	for (i = 0; i < FRONT_LOGIN_PROBES; i++) {
		at = (key + i) % FRONT_LOGIN_SLOTS;
		if (t[at].key == key) {
			e = &t[at];
			break;
		}
		if (e == NULL && t[at].count == 0)
			e = &t[at];
	}
	if (e == NULL)
		return -1;
	if (e->key != key) {
		if (delta < 0)
			return -1;	/* not counted here: cannot be */
		__atomic_store_n(&e->key, key, __ATOMIC_SEQ_CST);
	}
	if (delta < 0 && e->count < (unsigned)-delta)
		__atomic_store_n(&e->count, 0, __ATOMIC_SEQ_CST);
	else
		__atomic_store_n(&e->count, e->count + delta,
		    __ATOMIC_SEQ_CST);
	/* Then everyone's, as for the session counts. */
	total = e->count;
	for (k = 0; k < FRONTS_MAX; k++)
		if (otherlogins[k] != NULL && k != me)
			total += front_logins_sum(otherlogins[k], key);
	return total > INT32_MAX ? INT32_MAX : (int64_t)total;
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
