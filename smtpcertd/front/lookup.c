/*
 * LDAP lookups of the front (see lookup.h): the encoding of requests and
 * answers.  Request ids, deadlines and failing everything when
 * ldapd-helper goes away are peerreq.c's, shared with OCSP.
 */
#include <stdlib.h>
#include <string.h>

#include "childproc.h"
#include "imsg.h"
#include "log.h"
#include "lookup.h"
#include "peerreq.h"
#include "proto.h"
#include "pwpolicy.h"

/* What the caller asked to be told; peerreq holds it as its arg. */
struct lookup {
	lookup_cb		 cb;
	void			*arg;
};

static struct peerreq_table	*lk_tab;

static void	lookup_answer(void *, struct imsg *, const char *);

void
lookup_init(struct childproc *cp)
{
	lk_tab = peerreq_table_new(cp, PROC_LDAPD, "ldapd-helper",
	    LOOKUP_MAX_PENDING);
}

static uint64_t
lookup_send(struct msgbuild *m, uint32_t type, int timeout, lookup_cb cb,
    void *arg)
{
	struct lookup	*lk;

	if ((lk = calloc(1, sizeof(*lk))) == NULL)
		fatal(NULL);
	lk->cb = cb;
	lk->arg = arg;
	return peerreq_send(lk_tab, m, type, timeout + LOOKUP_GRACE_SECS,
	    lookup_answer, lk);
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

/* A lookup of a user name alone (authorization, allowance). */
static uint64_t
lookup_user(uint32_t type, const char *ldap, const char *query,
    const char *user, int timeout, lookup_cb cb, void *arg)
{
	struct msgbuild	 m;
	uint64_t	 id;

	msg_init(&m);
	msg_put_str(&m, ldap);
	msg_put_str(&m, query);
	msg_put_str(&m, user);
	id = lookup_send(&m, type, timeout, cb, arg);
	msg_free(&m);
	return id;
}

uint64_t
lookup_authz(const char *ldap, const char *query, const char *user,
    int timeout, lookup_cb cb, void *arg)
{
	return lookup_user(IMSG_LDAP_AUTHZ_REQ, ldap, query, user, timeout,
	    cb, arg);
}

uint64_t
lookup_allowance(const char *ldap, const char *query, const char *user,
    int timeout, lookup_cb cb, void *arg)
{
	return lookup_user(IMSG_LDAP_ALLOW_REQ, ldap, query, user, timeout,
	    cb, arg);
}

void
lookup_cancel(uint64_t reqid)
{
	free(peerreq_cancel(lk_tab, reqid));
}

void
lookup_dispatch(struct imsg *imsg)
{
	if (imsg != NULL && imsg->hdr.type != IMSG_LDAP_CERT_RES &&
	    imsg->hdr.type != IMSG_LDAP_AUTH_RES &&
	    imsg->hdr.type != IMSG_LDAP_AUTHZ_RES &&
	    imsg->hdr.type != IMSG_LDAP_ALLOW_RES)
		fatalx("unexpected %s from ldapd-helper",
		    imsg_type_name(imsg->hdr.type));
	peerreq_dispatch(lk_tab, imsg);
}

/*
 * An answer, or no answer (imsg NULL: helper gone, timed out, too busy):
 * the latter is a temporary failure, so nobody gets in on its behalf.
 */
static void
lookup_answer(void *arg, struct imsg *imsg, const char *why)
{
	struct lookup		*lk = arg;
	struct lookup_result	 res;
	struct msgreader	 r;
	uint32_t		 n, i;

	memset(&res, 0, sizeof(res));
	if (imsg == NULL) {
		res.result = LDAP_RES_TEMPFAIL;
		res.detail = (char *)(why != NULL ? why : "unavailable");
		lk->cb(lk->arg, &res);
		free(lk);
		return;
	}
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
	/* An account state answers a password, never anything else. */
	if (msg_end(&r) == -1 || res.result >= LDAP_RES_MAX ||
	    (pwpolicy_reason(res.result) != NULL &&
	    imsg->hdr.type != IMSG_LDAP_AUTH_RES))
		fatalx("malformed %s from ldapd-helper",
		    imsg_type_name(imsg->hdr.type));
	lk->cb(lk->arg, &res);
	free(lk);
	free(res.user);
	free(res.dn);
	for (i = 0; i < res.nmails; i++)
		free(res.mails[i]);
	free(res.detail);
}
