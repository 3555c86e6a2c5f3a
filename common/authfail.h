/*
 * Failed-login rate limiting (SPEC 3.4): failures are counted per user
 * name and per client address over a sliding window; once either count
 * reaches the limit, AUTH is refused with a 4xx until the window has
 * passed.  Successes are never counted.  Memory is bounded: the oldest
 * records are dropped first when the table is full.
 */
#ifndef SMTPCERTD_AUTHFAIL_H
#define SMTPCERTD_AUTHFAIL_H

#include <stddef.h>
#include <time.h>

#define AUTHFAIL_MAX_RECORDS	65536
#define AUTHFAIL_KEY_MAX	300
/* A record's count stops here (far above any limit, 1000). */
#define AUTHFAIL_COUNT_MAX	1000000
/* auth-failure-window's maximum (config.c), seconds. */
#define AUTHFAIL_WINDOW_MAX	86400

/* 1 if this user or this address may not try again yet. */
int	authfail_blocked(const char *user, const char *addr, int limit,
	    time_t window, time_t now);
/* Count one failure for both the user and the address. */
void	authfail_record(const char *user, const char *addr, time_t window,
	    time_t now);
/* Issue 17, several fronts: a failure another front counted (no note). */
void	authfail_record_peer(const char *user, const char *addr,
	    time_t window, time_t now);
/* If set, called for each failure recorded here (not for a peer's). */
extern void (*authfail_note)(const char *user, const char *addr,
	    time_t window);
/* Issue 17: the parent's copy of every front's failures, for a front it
 * (re)starts.  Each record not yet expired under window, oldest first. */
void	authfail_foreach(time_t window, time_t now,
	    void (*cb)(const char *key, time_t start, int count, void *),
	    void *arg);
/* One of those records, in a front: added to its own count of the key.
 * -1: not a key or a count authfail_foreach() gives. */
int	authfail_load(const char *key, time_t start, int count, time_t now);
size_t	authfail_count(void);
void	authfail_clear(void);

#endif
