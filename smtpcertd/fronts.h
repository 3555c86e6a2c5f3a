/*
 * Several front processes (issue 17, `front processes N'): what the
 * parent and the fronts share to keep the gateway's limits per gateway.
 *
 * Session counts live in shared memory, one small memfd per front that
 * the parent creates: front k maps its own writable and every other
 * front's read-only (the parent hands those over as descriptors opened
 * O_RDONLY, so no mprotect() can make them writable).  A front admits a
 * session by raising its own count first and then adding up everyone's:
 * of two fronts admitting at once, at least one sees the other (both
 * sides store, then load, sequentially consistent), so the limit is
 * never exceeded; at worst both refuse the last free place.  A front can
 * only write its own counts: a compromised one can claim many sessions
 * (the others refuse: a denial it could cause by opening them) or none
 * (it could accept without limit itself anyway).  Values read from the
 * others are bounded before they are added.
 *
 * Failed logins go the other way, as messages: a front that counts one
 * tells the parent (IMSG_AUTHFAIL_NOTE), which passes it on to every
 * other front; each keeps its own table (authfail.c) with everyone's
 * failures, and confirms each note, so that the first front answers its
 * client only once every front has it (fronts_authfail.c).  A front
 * could only add failures, which anybody can.  The
 * parent keeps a table too (the same authfail.c), with one front as
 * well, and hands it to a front it (re)starts (IMSG_AUTHFAIL_TABLE): a
 * crash or a SIGKILL does not lift a lockout.
 */
#ifndef SMTPCERTD_FRONTS_H
#define SMTPCERTD_FRONTS_H

#include <stdint.h>

struct front_counts {
	uint32_t	 smtp;		/* SMTP gateway sessions */
	uint32_t	 proxy;		/* e-mail proxy sessions */
	uint32_t	 waits;		/* PROXY headers awaited */
};
/*
 * Simultaneous logins of the e-mail proxy (group-policy's
 * simultaneous-logins), per user, and the relayed sessions per user and
 * client address that `piggyback' logins lean on (keys of their own:
 * front_login_key() of "u:USER" and of "p:USER ADDRESS"): after the
 * first page, a table of
 * FRONT_LOGIN_SLOTS entries, keyed by a 64-bit hash of the user name
 * (no names in shared memory), with open addressing over at most
 * FRONT_LOGIN_PROBES slots.  Each front writes only its own table; an
 * entry whose count fell to 0 keeps its key until a new user takes the
 * slot.  A login raises its own entry, then adds up the user's entries
 * in every table, as for the session counts.  Two users whose names hash
 * alike would share a limit (a denial, with odds of about 2^-64 a pair).
 */
struct front_login {
	uint64_t	 key;
	uint32_t	 count;
	uint32_t	 unused;
};
/*
 * The e-mail proxy's unauthenticated-limit (issue 17): per proxy profile,
 * keyed by front_login_key() of "x:PROFILE", this front's sessions not yet
 * authenticated and the start times (CLOCK_MONOTONIC in nanoseconds, one
 * clock for every process of the host; 0: none) of its oldest
 * unauthenticated and its oldest authenticating one.  A new session's
 * front adds up the counts; over the limit, it picks the front holding
 * the gateway's oldest victim (unauthenticated first) and evicts it
 * itself, or asks that front through the parent (IMSG_FRONT_EVICT), which
 * checks again that the gateway is still over the limit before it closes
 * its own oldest victim: two requests at once never close more than
 * needed.  A table of FRONT_UNAUTH_SLOTS entries on the counts' page,
 * probed whole (profiles are few); the times are written before the
 * count, and a reader that catches them half-way at worst sends a request
 * the other front turns down.
 */
struct front_unauth {
	uint64_t	 key;
	uint32_t	 count;
	uint32_t	 unused;
	int64_t		 oldest_unauth;
	int64_t		 oldest_authing;
};
#define FRONT_UNAUTH_OFFSET	256
#define FRONT_UNAUTH_SLOTS	64

#define FRONT_LOGIN_SLOTS	65536
#define FRONT_LOGIN_PROBES	128
/* The memfd's size: the counts on a page of their own, then the table. */
#define FRONT_LOGINS_OFFSET	4096
#define FRONT_COUNTS_SIZE	(FRONT_LOGINS_OFFSET + \
				    FRONT_LOGIN_SLOTS * sizeof(struct front_login))
/* A count read from another front is at most this. */
#define FRONT_COUNT_CLAMP	(1U << 24)

enum front_count_kind {
	FC_SMTP,
	FC_PROXY,
	FC_WAITS
};

struct imsg;

/* front_counts.c, in the front */
/* IMSG_FRONT_COUNTS from the parent; -1: malformed. */
int	front_counts_imsg(struct imsg *);
/* Change this front's count by delta and return the gateway's total. */
unsigned front_counts_add(enum front_count_kind, int delta);
/* 1 when the fronts share their login counts (several fronts). */
int	front_logins_shared(void);
uint64_t front_login_key(const char *user);
/* Change this front's logins of the user by delta; the gateway's total
 * for the user, or -1 if this front's table has no room (refuse). */
int64_t	front_logins_add(uint64_t key, int delta);
/* The gateway's total for the key, changing nothing. */
int64_t	front_logins_get(uint64_t key);
/* Publish this front's non-authenticated sessions of a profile (key:
 * front_unauth_key()); -1 if its table has no room. */
uint64_t front_unauth_key(const char *profile);
int	front_unauth_publish(uint64_t key, uint32_t count,
	    int64_t oldest_unauth, int64_t oldest_authing);
/* The gateway's non-authenticated sessions of the profile, this front's
 * given (mine) and the others' read; *victim: the front holding the
 * oldest unauthenticated one, else the oldest authenticating one, -1 if
 * none is known. */
unsigned front_unauth_gather(uint64_t key, uint32_t mycount,
	    int64_t my_unauth, int64_t my_authing, int *victim);

/* This front's number (0 .. N-1), and N. */
int	front_number(void);
int	front_total(void);

#endif
