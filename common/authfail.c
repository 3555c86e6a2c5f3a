/*
 * Failed-login records (see authfail.h): a chained hash table for lookup
 * and a list in order of creation for expiry and eviction.  Keys are
 * "u:" + user name or "a:" + address, so a user called like an address
 * cannot share a record with it.
 */
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authfail.h"

#define AUTHFAIL_BUCKETS	4096

struct afrec {
	TAILQ_ENTRY(afrec)	 age;
	struct afrec		*next;		/* bucket chain */
	uint32_t		 hash;
	time_t			 start;		/* window start */
	int			 count;
	char			 key[AUTHFAIL_KEY_MAX];
};

static struct afrec		*buckets[AUTHFAIL_BUCKETS];
static TAILQ_HEAD(afages, afrec) ages = TAILQ_HEAD_INITIALIZER(ages);
static size_t			 nrecs;

/* FNV-1a: keys are short and not attacker-chosen in bulk per bucket. */
static uint32_t
af_hash(const char *s)
{
	uint32_t	 h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void
af_unlink(struct afrec *r)
{
	struct afrec	**pp = &buckets[r->hash % AUTHFAIL_BUCKETS];

	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	TAILQ_REMOVE(&ages, r, age);
	nrecs--;
	free(r);
}

/* Records are appended in creation order: expired ones are at the head. */
static void
af_expire(time_t window, time_t now)
{
	struct afrec	*r;

	while ((r = TAILQ_FIRST(&ages)) != NULL && r->start + window <= now)
		af_unlink(r);
}

static struct afrec *
af_find(const char *key)
{
	struct afrec	*r;
	uint32_t	 h = af_hash(key);

	for (r = buckets[h % AUTHFAIL_BUCKETS]; r != NULL; r = r->next)
		if (r->hash == h && strcmp(r->key, key) == 0)
			return r;
	return NULL;
}

static void
af_key(char *buf, size_t len, char kind, const char *v)
{
	snprintf(buf, len, "%c:%s", kind, v != NULL ? v : "");
}

static int
af_over(const char *key, int limit, time_t window, time_t now)
{
	struct afrec	*r = af_find(key);

	return r != NULL && r->start + window > now && r->count >= limit;
}

int
authfail_blocked(const char *user, const char *addr, int limit,
    time_t window, time_t now)
{
	char	 key[AUTHFAIL_KEY_MAX];

	if (limit <= 0)
		return 0;
	af_expire(window, now);
	if (user != NULL) {
		af_key(key, sizeof(key), 'u', user);
		if (af_over(key, limit, window, now))
			return 1;
	}
	af_key(key, sizeof(key), 'a', addr);
	return af_over(key, limit, window, now);
}

static void
af_count(const char *key, time_t now)
{
	struct afrec	*r;

	if ((r = af_find(key)) != NULL) {
		if (r->count < AUTHFAIL_COUNT_MAX)
			r->count++;
		return;
	}
	if (nrecs >= AUTHFAIL_MAX_RECORDS)
		af_unlink(TAILQ_FIRST(&ages));
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return;		/* not counting is the lesser evil here */
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->hash = af_hash(r->key);
	r->start = now;
	r->count = 1;
	r->next = buckets[r->hash % AUTHFAIL_BUCKETS];
	buckets[r->hash % AUTHFAIL_BUCKETS] = r;
	TAILQ_INSERT_TAIL(&ages, r, age);
	nrecs++;
}

/* Issue 17: the front sets this to tell the other fronts. */
void	(*authfail_note)(const char *, const char *, time_t);

void
authfail_record(const char *user, const char *addr, time_t window,
    time_t now)
{
	char	 key[AUTHFAIL_KEY_MAX];

	af_expire(window, now);
	if (user != NULL && user[0] != '\0') {
		af_key(key, sizeof(key), 'u', user);
		af_count(key, now);
	}
	af_key(key, sizeof(key), 'a', addr);
	af_count(key, now);
	if (authfail_note != NULL)
		authfail_note(user, addr, window);
}

void
authfail_record_peer(const char *user, const char *addr, time_t window,
    time_t now)
{
	void	(*note)(const char *, const char *, time_t) = authfail_note;

	authfail_note = NULL;
	authfail_record(user, addr, window, now);
	authfail_note = note;
}

void
authfail_foreach(time_t window, time_t now,
    void (*cb)(const char *, time_t, int, void *), void *arg)
{
	struct afrec	*r;

	af_expire(window, now);
	TAILQ_FOREACH(r, &ages, age)
		cb(r->key, r->start, r->count, arg);
}

/* Into the list of ages in start order, from the tail (records come
 * oldest first), so that af_expire() still finds the expired at the
 * head. */
static void
af_age_insert(struct afrec *r)
{
	struct afrec	*o;

	for (o = TAILQ_LAST(&ages, afages); o != NULL && o->start > r->start;
	    o = TAILQ_PREV(o, afages, age))
		;
	if (o == NULL)
		TAILQ_INSERT_HEAD(&ages, r, age);
	else
		TAILQ_INSERT_AFTER(&ages, o, r, age);
}

int
authfail_load(const char *key, time_t start, int count, time_t now)
{
	struct afrec	*r;
	size_t		 len = strlen(key);

	if (len < 2 || len >= AUTHFAIL_KEY_MAX || (key[0] != 'u' &&
	    key[0] != 'a') || key[1] != ':' || count <= 0 ||
	    count > AUTHFAIL_COUNT_MAX)
		return -1;
	if (start > now)
		start = now;	/* not counted longer than it should */
	if ((r = af_find(key)) != NULL) {
		r->count = r->count > AUTHFAIL_COUNT_MAX - count ?
		    AUTHFAIL_COUNT_MAX : r->count + count;
		if (start < r->start) {
			TAILQ_REMOVE(&ages, r, age);
			r->start = start;
			af_age_insert(r);
		}
		return 0;
	}
	if (nrecs >= AUTHFAIL_MAX_RECORDS)
		af_unlink(TAILQ_FIRST(&ages));
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return 0;
	memcpy(r->key, key, len + 1);
	r->hash = af_hash(r->key);
	r->start = start;
	r->count = count;
	r->next = buckets[r->hash % AUTHFAIL_BUCKETS];
	buckets[r->hash % AUTHFAIL_BUCKETS] = r;
	af_age_insert(r);
	nrecs++;
	return 0;
}

size_t
authfail_count(void)
{
	return nrecs;
}

void
authfail_clear(void)
{
	struct afrec	*r;

	while ((r = TAILQ_FIRST(&ages)) != NULL)
		af_unlink(r);
}
