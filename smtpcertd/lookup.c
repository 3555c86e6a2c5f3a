/*
 * Pending LDAP lookups of the front (see lookup.h).  A list is enough:
 * lookups are few compared with sessions and bounded by
 * LOOKUP_MAX_PENDING; answers usually come back in order.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "childproc.h"
#include "imsg.h"
#include "log.h"
#include "lookup.h"
#include "proto.h"

struct lookup {
	TAILQ_ENTRY(lookup)	 entry;
	uint64_t		 reqid;
	time_t			 deadline;
	lookup_cb		 cb;
	void			*arg;
};

static TAILQ_HEAD(, lookup) pending = TAILQ_HEAD_INITIALIZER(pending);
static TAILQ_HEAD(, lookup) failing = TAILQ_HEAD_INITIALIZER(failing);
static size_t		 npending;
static uint64_t		 next_reqid = 1;
static struct childproc	*lk_cp;
static struct event	*lk_timer;
static struct event	*lk_failev;

static void	lookup_timer(evutil_socket_t, short, void *);
static void	lookup_fail_cb(evutil_socket_t, short, void *);

void
lookup_init(struct childproc *cp)
{
	struct timeval	 tv = { 1, 0 };

	lk_cp = cp;
	lk_timer = event_new(cp->base, -1, EV_PERSIST, lookup_timer, NULL);
	lk_failev = event_new(cp->base, -1, 0, lookup_fail_cb, NULL);
	event_add(lk_timer, &tv);
}

static void
answer(struct lookup *lk, const struct lookup_result *res)
{
	lookup_cb	 cb = lk->cb;
	void		*arg = lk->arg;

	free(lk);
	cb(arg, res);
}

/* Answer the failing list with TEMPFAIL, from the event loop. */
static void
lookup_fail_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct lookup_result	 res;
	struct lookup		*lk;

	memset(&res, 0, sizeof(res));
	res.result = LDAP_RES_TEMPFAIL;
	res.detail = "LDAP helper unavailable";
	while ((lk = TAILQ_FIRST(&failing)) != NULL) {
		TAILQ_REMOVE(&failing, lk, entry);
		answer(lk, &res);
	}
}

static void
fail_later(struct lookup *lk)
{
	struct timeval	 tv = { 0, 0 };

	TAILQ_INSERT_TAIL(&failing, lk, entry);
	event_add(lk_failev, &tv);
}

static void
fail_all_pending(void)
{
	struct lookup	*lk;

	while ((lk = TAILQ_FIRST(&pending)) != NULL) {
		TAILQ_REMOVE(&pending, lk, entry);
		npending--;
		fail_later(lk);
	}
}

static void
lookup_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct lookup	*lk, *next;
	time_t		 now = time(NULL);

	for (lk = TAILQ_FIRST(&pending); lk != NULL; lk = next) {
		next = TAILQ_NEXT(lk, entry);
		if (lk->deadline > now)
			continue;
		log_warnx("LDAP lookup %llu timed out in the front",
		    (unsigned long long)lk->reqid);
		TAILQ_REMOVE(&pending, lk, entry);
		npending--;
		fail_later(lk);
	}
}

static uint64_t
lookup_send(struct msgbuild *m, uint32_t type, int timeout, lookup_cb cb,
    void *arg)
{
	struct lookup	*lk;

	if ((lk = calloc(1, sizeof(*lk))) == NULL)
		fatal(NULL);
	lk->reqid = next_reqid++;
	lk->cb = cb;
	lk->arg = arg;
	lk->deadline = time(NULL) + timeout + LOOKUP_GRACE_SECS;
	if (npending >= LOOKUP_MAX_PENDING) {
		log_warnx("too many LDAP lookups in flight");
		msg_reset(m);
		fail_later(lk);
		return lk->reqid;
	}
	if (childproc_peer_send(lk_cp, PROC_LDAPD, m, type, 0, lk->reqid,
	    -1) == -1) {
		fail_later(lk);
		return lk->reqid;
	}
	TAILQ_INSERT_TAIL(&pending, lk, entry);
	npending++;
	return lk->reqid;
}

uint64_t
lookup_cert(const char *ldap, const char *query, const uint8_t *der,
    size_t derlen, int timeout, lookup_cb cb, void *arg)
{
	struct msgbuild	 m;
	uint64_t	 id;

	msg_init(&m);
	msg_put_str(&m, ldap);
	msg_put_str(&m, query);
	msg_put_data(&m, der, derlen);
	id = lookup_send(&m, IMSG_LDAP_CERT_REQ, timeout, cb, arg);
	msg_free(&m);
	return id;
}

uint64_t
lookup_auth(const char *ldap, const char *query, const char *user,
    const char *pass, size_t passlen, int timeout, lookup_cb cb, void *arg)
{
	struct msgbuild	 m;
	uint64_t	 id;

	msg_init(&m);
	msg_put_str(&m, ldap);
	msg_put_str(&m, query);
	msg_put_str(&m, user);
	msg_put_data(&m, pass, passlen);
	id = lookup_send(&m, IMSG_LDAP_AUTH_REQ, timeout, cb, arg);
	/* The password must not linger in our heap. */
	if (m.buf != NULL)
		explicit_bzero(m.buf, m.cap);
	msg_free(&m);
	return id;
}

uint64_t
lookup_authz(const char *ldap, const char *query, const char *user,
    int timeout, lookup_cb cb, void *arg)
{
	struct msgbuild	 m;
	uint64_t	 id;

	msg_init(&m);
	msg_put_str(&m, ldap);
	msg_put_str(&m, query);
	msg_put_str(&m, user);
	id = lookup_send(&m, IMSG_LDAP_AUTHZ_REQ, timeout, cb, arg);
	msg_free(&m);
	return id;
}

void
lookup_cancel(uint64_t reqid)
{
	struct lookup	*lk;

	TAILQ_FOREACH(lk, &pending, entry) {
		if (lk->reqid == reqid) {
			TAILQ_REMOVE(&pending, lk, entry);
			npending--;
			free(lk);
			return;
		}
	}
	TAILQ_FOREACH(lk, &failing, entry) {
		if (lk->reqid == reqid) {
			TAILQ_REMOVE(&failing, lk, entry);
			free(lk);
			return;
		}
	}
}

void
lookup_dispatch(struct imsg *imsg)
{
	struct lookup_result	 res;
	struct msgreader	 r;
	struct lookup		*lk;
	uint32_t		 n, i;

	if (imsg == NULL) {
		/* ldapd-helper is gone: nobody gets in on its behalf. */
		if (npending)
			log_warnx("ldapd-helper went away, failing %zu "
			    "lookups", npending);
		fail_all_pending();
		return;
	}
	if (imsg->hdr.type != IMSG_LDAP_CERT_RES &&
	    imsg->hdr.type != IMSG_LDAP_AUTH_RES &&
	    imsg->hdr.type != IMSG_LDAP_AUTHZ_RES)
		fatalx("unexpected %s from ldapd-helper",
		    imsg_type_name(imsg->hdr.type));

	memset(&res, 0, sizeof(res));
	msg_reader(&r, imsg);
	res.result = msg_get_u32(&r);
	res.user = msg_get_str(&r, LDAP_MAX_VALUE);
	res.dn = msg_get_str(&r, LDAP_MAX_DN);
	n = msg_get_u32(&r);
	if (n > LDAP_MAX_MAILS)
		fatalx("too many mail addresses from ldapd-helper");
	for (i = 0; i < n; i++)
		res.mails[res.nmails++] = msg_get_str(&r, LDAP_MAX_VALUE);
	res.detail = msg_get_str(&r, LDAP_MAX_DN);
	if (msg_end(&r) == -1 || res.result >= LDAP_RES_MAX)
		fatalx("malformed %s from ldapd-helper",
		    imsg_type_name(imsg->hdr.type));

	TAILQ_FOREACH(lk, &pending, entry)
		if (lk->reqid == imsg->hdr.reqid)
			break;
	if (lk != NULL) {
		TAILQ_REMOVE(&pending, lk, entry);
		npending--;
		answer(lk, &res);
	}
	/* else: cancelled (session gone) or timed out already */
	free(res.user);
	free(res.dn);
	for (i = 0; i < res.nmails; i++)
		free(res.mails[i]);
	free(res.detail);
}
