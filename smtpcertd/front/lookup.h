/*
 * The front's side of LDAP lookups: requests to ldapd-helper keyed by a
 * 64-bit request id, answered by callback.  If ldapd-helper goes away or
 * does not answer in time, every pending lookup is answered with
 * LDAP_RES_TEMPFAIL: a lost helper never lets anybody in.
 */
#ifndef SMTPCERTD_LOOKUP_H
#define SMTPCERTD_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct childproc;
struct imsg;

struct lookup_result {
	uint32_t	 result;	/* enum ldap_result */
	char		*user;		/* lookup_authz(): the group policy,
					 * "" if the entry names none */
	char		*dn;
	char		*mails[LDAP_MAX_MAILS];
	size_t		 nmails;
	char		*detail;
};

typedef void (*lookup_cb)(void *arg, const struct lookup_result *);

/* The most lookups in flight; more get an immediate TEMPFAIL. */
#define LOOKUP_MAX_PENDING	4096
/* Added to the profile's timeout before the front gives up itself. */
#define LOOKUP_GRACE_SECS	2

void	 lookup_init(struct childproc *);
/* Returns the request id (never 0). cb is always called exactly once,
 * never from inside this call, unless lookup_cancel() comes first. */
uint64_t lookup_cert(const char *ldap, const char *query,
	    const uint8_t *der, size_t derlen, int timeout,
	    lookup_cb, void *arg);
uint64_t lookup_auth(const char *ldap, const char *query, const char *user,
	    const char *pass, size_t passlen, int timeout,
	    lookup_cb, void *arg);
/* E-mail proxy authorization: user -> group policy (in res->user). */
uint64_t lookup_authz(const char *ldap, const char *query, const char *user,
	    int timeout, lookup_cb, void *arg);
/*
 * Issue 13: the query's allowance (the site's card rule) alone, for a
 * password the front verified some other way (mailhost, piggyback).  No
 * password, no bind as the user: never proof of a password.  query names
 * an smtp-auth query.  Results: OK (one entry, the allowance matches it
 * or the query has none), DISALLOWED (one entry, refused by the
 * allowance), NOTFOUND (the user is not in the directory: no card rule
 * applies, the caller decides), AMBIGUOUS, BADREQ (name refused before
 * LDAP, not an smtp-auth query), TEMPFAIL.  With OK and DISALLOWED,
 * res->user is the name as sent, res->dn and res->mails the entry's.
 */
uint64_t lookup_allowance(const char *ldap, const char *query,
	    const char *user, int timeout, lookup_cb, void *arg);
void	 lookup_cancel(uint64_t reqid);
/* ldapd-helper's channel: a message, or imsg == NULL when it is gone. */
void	 lookup_dispatch(struct imsg *);

#endif
