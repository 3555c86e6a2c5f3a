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
/* The proxy's non-authenticated sessions per profile (fronts.h). */
static struct front_unauth	*myunauth;
static const struct front_unauth *otherunauth[FRONTS_MAX];
static int			 me, nfronts = 1;

_Static_assert(FRONT_UNAUTH_OFFSET >= 3 * sizeof(uint32_t) &&
    FRONT_UNAUTH_OFFSET + FRONT_UNAUTH_SLOTS * sizeof(struct front_unauth)
    <= FRONT_LOGINS_OFFSET, "the unauthenticated table fits the page");

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
		myunauth = (struct front_unauth *)((char *)p +
		    FRONT_UNAUTH_OFFSET);
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
		otherunauth[h.front] = (const struct front_unauth *)
		    ((const char *)p + FRONT_UNAUTH_OFFSET);
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

uint64_t
front_unauth_key(const char *profile)
{
	uint64_t	 h = 14695981039346656037ULL;	/* FNV-1a */
	const char	*p;

	for (p = "x:"; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (p = profile; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

int
front_unauth_publish(uint64_t key, uint32_t count, int64_t oldest_unauth,
    int64_t oldest_authing)
{
	struct front_unauth	*e = NULL, *t = myunauth;
	size_t			 i;

	if (t == NULL)
		return 0;	/* one front: nobody reads it */
	for (i = 0; i < FRONT_UNAUTH_SLOTS; i++) {
		if (t[i].key == key) {
			e = &t[i];
			break;
		}
		if (e == NULL && t[i].count == 0)
			e = &t[i];
	}
	if (e == NULL)
		return count == 0 ? 0 : -1;
	if (e->key != key) {
		if (count == 0)
			return 0;
		/* A free slot's times are 0 already (below). */
		__atomic_store_n(&e->key, key, __ATOMIC_SEQ_CST);
	}
	if (count == 0)
		oldest_unauth = oldest_authing = 0;
	/* The count last, so that a slot coming into use shows times with
	 * it; the count first when it falls to 0, so that none shows stale
	 * times with a count. */
	if (count == 0)
		__atomic_store_n(&e->count, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&e->oldest_unauth, oldest_unauth, __ATOMIC_SEQ_CST);
	__atomic_store_n(&e->oldest_authing, oldest_authing,
	    __ATOMIC_SEQ_CST);
	if (count != 0)
		__atomic_store_n(&e->count, count, __ATOMIC_SEQ_CST);
	return 0;
}

/* Keep the oldest: a time and its front, the lower front on a tie. */
static void
front_unauth_older(int64_t t, int k, int64_t *best, int *bestk)
{
	if (t <= 0)
		return;
	if (*bestk == -1 || t < *best || (t == *best && k < *bestk)) {
		*best = t;
		*bestk = k;
	}
}

unsigned
front_unauth_gather(uint64_t key, uint32_t mycount, int64_t my_unauth,
    int64_t my_authing, int *victim)
{
	const struct front_unauth	*t;
	uint64_t			 total = mycount;
	int64_t				 bu = 0, ba = 0;
	uint32_t			 v;
	size_t				 i;
	int				 k, ku = -1, ka = -1;

	front_unauth_older(my_unauth, me, &bu, &ku);
	front_unauth_older(my_authing, me, &ba, &ka);
	for (k = 0; k < FRONTS_MAX; k++) {
		if ((t = otherunauth[k]) == NULL || k == me || k >= nfronts)
			continue;
		for (i = 0; i < FRONT_UNAUTH_SLOTS; i++) {
			if (__atomic_load_n(&t[i].key, __ATOMIC_SEQ_CST) !=
			    key)
				continue;
			v = __atomic_load_n(&t[i].count, __ATOMIC_SEQ_CST);
			if (v == 0)
				continue;
			total += v < FRONT_COUNT_CLAMP ? v : FRONT_COUNT_CLAMP;
			front_unauth_older(__atomic_load_n(&t[i].oldest_unauth,
			    __ATOMIC_SEQ_CST), k, &bu, &ku);
			front_unauth_older(__atomic_load_n(
			    &t[i].oldest_authing, __ATOMIC_SEQ_CST), k, &ba,
			    &ka);
		}
	}
	*victim = ku != -1 ? ku : ka;
	return total > UINT32_MAX ? UINT32_MAX : (unsigned)total;
}
