/*
 * `smtpcertctl test certificate' and `test login' in the front (issue 15
 * item 3): "why was my card refused?" answered step by step, without a
 * connection.
 *
 * A certificate goes through what a client certificate on the listener
 * goes through, by the same functions: the listener's own TLS context
 * verifies the chain (certverify_test(), the handshake's callback with
 * the current CRLs and the listener's policies), then OCSP as the session
 * asks it (ocsp_front_check_chain()), then the certificate query through
 * ldapd-helper (lookup_cert()).  A login name goes to the allowance
 * lookup (lookup_allowance(): the query's user filter and allowance
 * filter as the service account; no password, no bind as the user).
 *
 * Each step is answered to the parent as soon as it is done (so a slow
 * LDAP never leaves smtpcertctl without news for long), then the
 * decision and the end.  The lookups and OCSP answer within their
 * configured timeouts or fail as temporary failures.  Nothing here
 * counts as a login, failed or not, and no session exists.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "certfields.h"
#include "certverify.h"
#include "childproc.h"
#include "compat.h"
#include "config.h"
#include "confmsg.h"
#include "ctltest.h"
#include "front.h"
#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "lookup.h"
#include "ocsp_front.h"
#include "proto.h"
#include "proxy.h"
#include "tlsserver.h"

/* Tests at once: each control client has at most one running. */
#define CTLTEST_MAX_PENDING	32

struct ctltest {
	struct childproc	*cp;
	uint64_t		 reqid;		/* the control client's id */
	struct front_gen	*gen;
	const struct listener	*l;
	STACK_OF(X509)		*chain;		/* leaf first */
	SSL			*ssl;		/* from the listener's context */
	uint64_t		 lookup_id;
	uint64_t		 ocsp_id;
	char			 user[LDAP_MAX_VALUE + 1];	/* test login */
};

static int	ctltest_npending;

static void
ct_step(struct ctltest *t, const char *step, const char *result,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
ct_step(struct ctltest *t, const char *step, const char *result,
    const char *fmt, ...)
{
	struct msgbuild	 m;
	char		 detail[CTL_TEST_FIELD_MAX];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	msg_init(&m);
	msg_put_str(&m, step);
	msg_put_str(&m, result);
	msg_put_str(&m, detail);
	imsgev_send(&t->cp->parent, &m, IMSG_CTL_TEST_STEP, 0, t->reqid, -1);
	msg_free(&m);
}

/* The decision, the end, and the test is over. */
static void
ct_decide(struct ctltest *t, enum ctl_test_decision d, const char *user,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
ct_decide(struct ctltest *t, enum ctl_test_decision d, const char *user,
    const char *fmt, ...)
{
	struct msgbuild	 m;
	char		 reason[CTL_TEST_FIELD_MAX];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	msg_init(&m);
	msg_put_u32(&m, d);
	msg_put_str(&m, user != NULL ? user : "");
	msg_put_str(&m, reason);
	imsgev_send(&t->cp->parent, &m, IMSG_CTL_TEST_DECISION, 0, t->reqid,
	    -1);
	msg_free(&m);
	imsgev_compose(&t->cp->parent, IMSG_CTL_END, 0, t->reqid, -1, NULL, 0);
	log_info("test %s (control request %llu): %s%s%s: %s",
	    t->chain != NULL ? "certificate" : "login",
	    (unsigned long long)t->reqid, d == CTL_TEST_ACCEPTED ? "accepted" :
	    d == CTL_TEST_TEMPFAIL ? "temporary failure" : "refused",
	    user != NULL && *user ? " user " : "", user != NULL ? user : "",
	    reason);
	if (t->lookup_id)
		lookup_cancel(t->lookup_id);
	if (t->ocsp_id)
		ocsp_front_cancel(t->ocsp_id);
	sk_X509_pop_free(t->chain, X509_free);
	SSL_free(t->ssl);
	front_gen_unref(t->gen);
	free(t);
	ctltest_npending--;
}

/* Refused before it starts: a decision without a test. */
static void
ct_refuse_now(struct childproc *cp, uint64_t reqid, const char *why)
{
	struct msgbuild	 m;

	msg_init(&m);
	msg_put_str(&m, why);
	imsgev_send(&cp->parent, &m, IMSG_CTL_FAIL, 0, reqid, -1);
	msg_free(&m);
}

static struct ctltest *
ct_new(struct childproc *cp, uint64_t reqid, uint32_t index)
{
	struct ctltest		*t;
	struct front_gen	*g;
	const struct listener	*l;
	struct front_peer	 where;

	if (ctltest_npending >= CTLTEST_MAX_PENDING) {
		ct_refuse_now(cp, reqid, "too many tests at once, try again");
		return NULL;
	}
	g = front_gen_ref();
	if ((l = config_find_listener(g->conf, index)) == NULL) {
		/* A reload between the parent's choice and ours. */
		front_gen_unref(g);
		ct_refuse_now(cp, reqid, "the listener went away in a "
		    "reload, try again");
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal(NULL);
	ctltest_npending++;
	t->cp = cp;
	t->reqid = reqid;
	t->gen = g;
	t->l = l;
	accept_peer_name((const struct sockaddr *)&l->ss, l->sslen, &where);
	ct_step(t, "listener", "ok", "%s%s%s port %u: %s, tls %s, ca %s, "
	    "auth-profile %s%s%s", strchr(where.addr, ':') ? "[" : "",
	    where.addr, strchr(where.addr, ':') ? "]" : "", where.port,
	    config_listener_proto_name(l), config_listener_tls_name(l),
	    l->ca_name != NULL ? l->ca_name : "none",
	    l->auth_profile_name != NULL ? l->auth_profile_name : "none",
	    l->proxy_name != NULL ? ", proxy " : "",
	    l->proxy_name != NULL ? l->proxy_name : "");
	return t;
}

/* --- test certificate ---------------------------------------------------- */

static void	ct_cert_ocsp(struct ctltest *);
static void	ct_cert_ocsp_cb(void *, int, const char *);
static void	ct_cert_lookup(struct ctltest *);
static void	ct_cert_lookup_cb(void *, const struct lookup_result *);
static void	ct_proxy_user(struct ctltest *);
static void	ct_proxy_user_cb(void *, const struct lookup_result *);

/* The PEM file: certificates only, leaf first, bounded. */
static STACK_OF(X509) *
ct_read_chain(const void *pem, size_t len, char *why, size_t whylen)
{
	STACK_OF(X509)	*sk;
	BIO		*bio;
	X509		*x;

	if ((sk = sk_X509_new_null()) == NULL)
		fatal(NULL);
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatal(NULL);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_num(sk) >= CTL_TEST_CHAIN_MAX) {
			X509_free(x);
			snprintf(why, whylen, "more than %d certificates in "
			    "the file", CTL_TEST_CHAIN_MAX);
			goto fail;
		}
		if (!sk_X509_push(sk, x))
			fatal(NULL);
	}
	BIO_free(bio);
	bio = NULL;
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		snprintf(why, whylen, "no PEM certificate (BEGIN "
		    "CERTIFICATE) in the file");
		goto fail;
	}
	return sk;
fail:
	BIO_free(bio);
	ERR_clear_error();
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

static int
ct_is_revocation(const struct certverify_refusal *r)
{
	return r->stat == STAT_CERT_REF_REVOKED ||
	    r->stat == STAT_CERT_REF_NOCRL ||
	    r->stat == STAT_CERT_REF_CRLSTALE ||
	    r->stat == STAT_CERT_REF_CRLBAD;
}

void
ctltest_cert(struct childproc *cp, struct imsg *imsg)
{
	struct ctltest			*t;
	struct msgreader		 r;
	struct certfields		 cf;
	struct certverify_refusal	 ref;
	struct tlsserver		*ts;
	const void			*pem;
	const char			*pol, *step;
	size_t				 len;
	uint32_t			 index;
	int				 crl_check, v;
	char				 why[512], warn[512], until[64];
	struct tm			 tm;

	msg_reader(&r, imsg);
	index = msg_get_u32(&r);
	pem = msg_get_data(&r, &len, CTL_TEST_CERT_MAX);
	if (msg_end(&r) == -1 || len == 0)
		fatalx("malformed IMSG_CTL_TEST_CERT from parent");
	if ((t = ct_new(cp, imsg->hdr.reqid, index)) == NULL)
		return;

	if ((t->chain = ct_read_chain(pem, len, why, sizeof(why))) == NULL) {
		ct_step(t, "certificate", "fail", "%s", why);
		ct_decide(t, CTL_TEST_REFUSED, NULL, "%s", why);
		return;
	}
	if (certfields_ident(sk_X509_value(t->chain, 0), &cf) == -1) {
		ct_step(t, "certificate", "fail", "cannot read the "
		    "certificate's fields");
		ct_decide(t, CTL_TEST_REFUSED, NULL, "cannot read the "
		    "certificate (a session would fail closed)");
		return;
	}
	if (ASN1_TIME_to_tm(X509_get0_notAfter(sk_X509_value(t->chain, 0)),
	    &tm) != 1 || strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S UTC",
	    &tm) == 0)
		strlcpy(until, "?", sizeof(until));
	ERR_clear_error();
	ct_step(t, "certificate", "ok", "subject \"%s\", issuer \"%s\", "
	    "serial %s, valid until %s; %d more certificate%s in the file",
	    cf.dn != NULL ? cf.dn : "?", cf.issuer != NULL ? cf.issuer : "?",
	    cf.sn != NULL ? cf.sn : "?", until, sk_X509_num(t->chain) - 1,
	    sk_X509_num(t->chain) == 2 ? "" : "s");
	certfields_free(&cf);

	if (t->l->ca_name == NULL) {
		ct_step(t, "chain", "fail", "the listener has no ca: it asks "
		    "for no client certificate");
		ct_decide(t, CTL_TEST_REFUSED, NULL, "this listener does not "
		    "take client certificates");
		return;
	}
	if (t->l->index >= t->gen->nsrv ||
	    (ts = t->gen->srv[t->l->index]) == NULL) {
		ct_step(t, "chain", "fail", "the listener has no TLS context "
		    "(see the log)");
		ct_decide(t, CTL_TEST_REFUSED, NULL, "the listener accepts no "
		    "connections");
		return;
	}
	if ((t->ssl = SSL_new(tlsserver_ctx(ts))) == NULL)
		fatalx("%s: SSL_new", __func__);
	v = certverify_test(t->ssl, t->chain, &ref, warn, sizeof(warn));
	if (v == -1) {
		ct_step(t, "chain", "fail", "the listener asks for no client "
		    "certificate (its policy %s has no verify-client-cert)",
		    t->l->policy_name != NULL ? t->l->policy_name : "-");
		ct_decide(t, CTL_TEST_REFUSED, NULL, "this listener does not "
		    "take client certificates");
		return;
	}
	crl_check = (t->l->proto == LISTEN_SMTP || t->l->proto ==
	    LISTEN_SMTPS) ? t->gen->conf->crl_check_inbound :
	    t->gen->conf->crl_check_proxy;
	if (v == 0) {
		step = ct_is_revocation(&ref) ? "revocation" :
		    ref.stat == STAT_CERT_REF_POLICY ? "policy" : "chain";
		if (strcmp(step, "chain") != 0)
			ct_step(t, "chain", "ok", "a valid path to a trust "
			    "anchor of ca %s", t->l->ca_name);
		ct_step(t, step, "fail", "%s (cert-error %s, depth %d%s%s)",
		    ref.reason, ref.code != NULL ? ref.code : "other",
		    ref.depth, ref.depth > 0 && ref.subject[0] ? ", " : "",
		    ref.depth > 0 ? ref.subject : "");
		ct_decide(t, CTL_TEST_REFUSED, NULL, "%s: %s", ref.after ?
		    "refused after the TLS handshake" : "the TLS handshake "
		    "fails", ref.reason);
		return;
	}
	ct_step(t, "chain", "ok", "a valid path to a trust anchor of ca %s",
	    t->l->ca_name);
	if (!crl_check)
		ct_step(t, "revocation", "skip", "crl-check %s is off",
		    strcmp(config_listener_proto_name(t->l), "smtp") == 0 ||
		    strcmp(config_listener_proto_name(t->l), "smtps") == 0 ?
		    "inbound" : "proxy");
	else if (warn[0] != '\0')
		ct_step(t, "revocation", "warn", "%s; accepted unchecked "
		    "(fail-open)", warn);
	else
		ct_step(t, "revocation", "ok", "not revoked: every "
		    "certificate of the path checked against the current "
		    "CRL set");
	pol = certverify_policies(t->ssl);
	ct_step(t, "policy", "ok", "%s%s", pol != NULL ? "valid policies " :
	    "no certificate policy required", pol != NULL ? pol : "");
	ct_cert_ocsp(t);
}

static void
ct_cert_ocsp(struct ctltest *t)
{
	char	 why[2048], who[64];

	if (!t->gen->conf->ocsp.enabled) {
		ct_step(t, "ocsp", "skip", "ocsp is off");
		ct_cert_lookup(t);
		return;
	}
	snprintf(who, sizeof(who), "test certificate %llu",
	    (unsigned long long)t->reqid);
	why[0] = '\0';
	switch (ocsp_front_check_chain(t->gen->conf, t->l, t->chain, who,
	    ct_cert_ocsp_cb, t, &t->ocsp_id, why, sizeof(why))) {
	case 1:
		return;		/* ct_cert_ocsp_cb() goes on */
	case -1:
		ct_cert_ocsp_cb(t, 1, why);
		return;
	default:
		ct_cert_ocsp_cb(t, 0, why);
		return;
	}
}

static void
ct_cert_ocsp_cb(void *arg, int refuse, const char *why)
{
	struct ctltest	*t = arg;

	t->ocsp_id = 0;
	if (refuse) {
		ct_step(t, "ocsp", "fail", "%s", why);
		ct_decide(t, strstr(why, "revoked") == why ? CTL_TEST_REFUSED :
		    CTL_TEST_TEMPFAIL, NULL, "refused after the TLS "
		    "handshake: %s", why);
		return;
	}
	if (why != NULL && why[0] != '\0')
		ct_step(t, "ocsp", "warn", "%s; accepted unchecked "
		    "(ocsp stale fail-open)", why);
	else
		ct_step(t, "ocsp", "ok", "good");
	ct_cert_lookup(t);
}

/* The entry's mail addresses, space-separated, for a step's detail. */
static void
ct_mails(const struct lookup_result *res, char *buf, size_t len)
{
	size_t	 i;

	buf[0] = '\0';
	for (i = 0; i < res->nmails; i++) {
		if (i > 0)
			strlcat(buf, " ", len);
		strlcat(buf, res->mails[i], len);
	}
}

/*
 * An e-mail proxy listener names the user from a certificate field by its
 * proxy profile (proxy_cert_username(), as a session does), then knows
 * the user's entry from the aaa query: a login must name the user or one
 * of the entry's addresses (certificate binds-login).
 */
static void
ct_proxy_user(struct ctltest *t)
{
	const struct proxy_profile	*p = t->l->proxy;

	if (proxy_cert_username(p, sk_X509_value(t->chain, 0), t->user,
	    sizeof(t->user)) == -1 || t->user[0] == '\0') {
		ct_step(t, "user", "fail", "proxy profile %s: the "
		    "certificate has no usable %s", t->l->proxy_name,
		    p->username_dn ? "subject" : "user-name field");
		ct_decide(t, CTL_TEST_REFUSED, NULL, "the certificate names "
		    "no user under proxy profile %s: %s", t->l->proxy_name,
		    config_proxy_has_auth(p, PROXY_AUTH_CERTIFICATE) ?
		    "no certificate login" : "a login is not bound to it");
		return;
	}
	ct_step(t, "user", "ok", "proxy profile %s names user %s%s",
	    t->l->proxy_name, t->user,
	    config_proxy_has_auth(p, PROXY_AUTH_CERTIFICATE) ? "" :
	    " (auth has no certificate method: a password is still asked)");
	if (p->aaa_ldap == NULL || p->aaa_query == NULL) {
		ct_step(t, "ldap", "skip", "proxy profile %s has no aaa ldap",
		    t->l->proxy_name);
		ct_decide(t, CTL_TEST_ACCEPTED, t->user, "the certificate "
		    "names user %s", t->user);
		return;
	}
	t->lookup_id = lookup_allowance(p->aaa_ldap->name,
	    p->aaa_query->name, t->user, p->aaa_ldap->timeout,
	    ct_proxy_user_cb, t);
}

static void
ct_proxy_user_cb(void *arg, const struct lookup_result *res)
{
	struct ctltest			*t = arg;
	const struct proxy_profile	*p = t->l->proxy;
	const char			*detail;
	char				 mails[1024];

	t->lookup_id = 0;
	detail = res->detail != NULL ? res->detail : "";
	switch (res->result) {
	case LDAP_RES_OK:
	case LDAP_RES_DISALLOWED:
		/* The allowance filter is the card rule for passwords; a
		 * certificate login does not ask it. */
		ct_mails(res, mails, sizeof(mails));
		ct_step(t, "ldap", "ok", "ldap %s query %s: entry \"%s\"%s%s",
		    p->aaa_ldap->name, p->aaa_query->name, res->dn != NULL ?
		    res->dn : "", res->nmails > 0 ? ", mail " : "", mails);
		ct_decide(t, CTL_TEST_ACCEPTED, t->user, "the certificate "
		    "authenticates user %s%s", t->user, p->cert_binds_login ?
		    "; a login must name this user or one of its addresses" :
		    "");
		return;
	case LDAP_RES_TEMPFAIL:
		ct_step(t, "ldap", "tempfail", "ldap %s query %s: %s",
		    p->aaa_ldap->name, p->aaa_query->name, *detail ? detail :
		    "the directory is unavailable");
		ct_decide(t, CTL_TEST_TEMPFAIL, NULL, "LDAP is unavailable: "
		    "a login gets a temporary failure");
		return;
	case LDAP_RES_NOTFOUND:
		ct_step(t, "ldap", "warn", "ldap %s query %s: no entry for %s",
		    p->aaa_ldap->name, p->aaa_query->name, t->user);
		ct_decide(t, CTL_TEST_ACCEPTED, t->user, "the certificate "
		    "names user %s, whom the directory does not know: the "
		    "login must name %s exactly", t->user, t->user);
		return;
	default:
		ct_step(t, "ldap", "fail", "ldap %s query %s: %s%s%s",
		    p->aaa_ldap->name, p->aaa_query->name,
		    ldap_result_name(res->result), *detail ? ": " : "",
		    detail);
		ct_decide(t, CTL_TEST_REFUSED, NULL, "refused by the "
		    "directory");
		return;
	}
}

static void
ct_cert_lookup(struct ctltest *t)
{
	const struct auth_profile	*ap = t->l->auth_profile;
	struct certfields		 cf;

	if (t->l->proxy != NULL) {
		ct_proxy_user(t);
		return;
	}
	if (ap == NULL || ap->kind != AUTH_PROFILE_CERTIFICATE) {
		ct_step(t, "ldap", "skip", "auth-profile %s does not map "
		    "certificates to users", ap != NULL ? ap->name : "(none)");
		ct_decide(t, CTL_TEST_REFUSED, NULL, "the certificate is "
		    "valid but names nobody on this listener (auth-profile "
		    "%s)", ap != NULL ? ap->name : "none");
		return;
	}
	if (certfields_ident(sk_X509_value(t->chain, 0), &cf) == -1) {
		ct_step(t, "ldap", "fail", "cannot read the certificate");
		ct_decide(t, CTL_TEST_REFUSED, NULL, "cannot read the "
		    "certificate");
		return;
	}
	t->lookup_id = lookup_cert(ap->ldap->name, ap->query->name, cf.der,
	    cf.derlen, ap->ldap->timeout, ct_cert_lookup_cb, t);
	certfields_free(&cf);
}

static void
ct_cert_lookup_cb(void *arg, const struct lookup_result *res)
{
	struct ctltest			*t = arg;
	const struct auth_profile	*ap = t->l->auth_profile;
	const char			*detail, *fb;
	char				 mails[1024];

	t->lookup_id = 0;
	detail = res->detail != NULL ? res->detail : "";
	fb = ap->fallback != NULL ? ap->fallback->name : NULL;
	switch (res->result) {
	case LDAP_RES_OK:
		ct_mails(res, mails, sizeof(mails));
		ct_step(t, "ldap", "ok", "ldap %s query %s: entry \"%s\", "
		    "user %s%s%s", ap->ldap->name, ap->query->name,
		    res->dn != NULL ? res->dn : "", res->user != NULL ?
		    res->user : "", res->nmails > 0 ? ", mail " : "", mails);
		ct_decide(t, CTL_TEST_ACCEPTED, res->user, "the certificate "
		    "authenticates user %s", res->user != NULL ? res->user :
		    "");
		return;
	case LDAP_RES_TEMPFAIL:
		ct_step(t, "ldap", "tempfail", "ldap %s query %s: %s",
		    ap->ldap->name, ap->query->name, *detail ? detail :
		    "the directory is unavailable");
		ct_decide(t, CTL_TEST_TEMPFAIL, NULL, "LDAP is unavailable: "
		    "a client with this certificate gets a temporary failure "
		    "(4xx)");
		return;
	case LDAP_RES_NOTFOUND:
	case LDAP_RES_BADREQ:
		ct_step(t, "ldap", "fail", "ldap %s query %s: no entry for "
		    "this certificate%s%s", ap->ldap->name, ap->query->name,
		    *detail ? ": " : "", detail);
		ct_decide(t, CTL_TEST_REFUSED, NULL, "the certificate is not "
		    "registered in the directory%s%s%s", fb != NULL ?
		    "; the client may still use AUTH (auth-profile " : "",
		    fb != NULL ? fb : "", fb != NULL ? ")" : "");
		return;
	case LDAP_RES_BADFIELD:
		ct_step(t, "ldap", "fail", "ldap %s query %s: %s: refused "
		    "before LDAP", ap->ldap->name, ap->query->name, detail);
		ct_decide(t, CTL_TEST_REFUSED, NULL, "a certificate field the "
		    "query uses has a control character");
		return;
	case LDAP_RES_AMBIGUOUS:
		ct_step(t, "ldap", "fail", "ldap %s query %s: %s",
		    ap->ldap->name, ap->query->name, *detail ? detail :
		    "more than one entry");
		ct_decide(t, CTL_TEST_REFUSED, NULL, "the certificate maps to "
		    "more than one LDAP entry: the directory needs fixing");
		return;
	case LDAP_RES_MISMATCH:
		ct_step(t, "ldap", "fail", "ldap %s query %s: %s",
		    ap->ldap->name, ap->query->name, detail);
		ct_decide(t, CTL_TEST_REFUSED, NULL, "the entry found holds "
		    "another certificate");
		return;
	default:
		ct_step(t, "ldap", "fail", "ldap %s query %s: %s%s%s",
		    ap->ldap->name, ap->query->name,
		    ldap_result_name(res->result), *detail ? ": " : "",
		    detail);
		ct_decide(t, CTL_TEST_REFUSED, NULL, "refused by the "
		    "directory");
		return;
	}
}

/* --- test login ---------------------------------------------------------- */

static void	ct_login_cb(void *, const struct lookup_result *);

void
ctltest_login(struct childproc *cp, struct imsg *imsg)
{
	struct ctltest			*t;
	struct msgreader		 r;
	const struct auth_profile	*ap;
	const struct ldap_profile	*ldap = NULL;
	const struct ldap_query		*q = NULL;
	const char			*via;
	char				*user;
	uint32_t			 index;

	msg_reader(&r, imsg);
	index = msg_get_u32(&r);
	user = msg_get_str(&r, LDAP_MAX_VALUE);
	if (msg_end(&r) == -1 || *user == '\0')
		fatalx("malformed IMSG_CTL_TEST_LOGIN from parent");
	if ((t = ct_new(cp, imsg->hdr.reqid, index)) == NULL) {
		free(user);
		return;
	}
	strlcpy(t->user, user, sizeof(t->user));
	free(user);

	/* Who checks a password here: the SMTP listener's smtp-auth
	 * profile (or its certificate profile's fallback), the e-mail
	 * proxy's aaa ldap. */
	ap = t->l->auth_profile;
	if (ap != NULL && ap->kind == AUTH_PROFILE_CERTIFICATE)
		ap = ap->fallback;
	if (t->l->proxy != NULL) {
		ldap = t->l->proxy->aaa_ldap;
		q = t->l->proxy->aaa_query;
		via = "the proxy's aaa ldap";
	} else if (ap != NULL) {
		ldap = ap->ldap;
		q = ap->query;
		via = "auth-profile";
	} else
		via = NULL;
	if (ldap == NULL || q == NULL) {
		ct_step(t, "profile", "fail", "no password login against LDAP "
		    "on this listener");
		ct_decide(t, CTL_TEST_REFUSED, NULL, "this listener checks no "
		    "password against LDAP");
		return;
	}
	ct_step(t, "profile", "ok", "%s%s%s: ldap %s query %s, filter %s, "
	    "allowance %s", via, ap != NULL && t->l->proxy == NULL ? " " : "",
	    ap != NULL && t->l->proxy == NULL ? ap->name : "", ldap->name,
	    q->name, q->filter, q->allowance != NULL ? q->allowance :
	    "none (every user may)");
	t->lookup_id = lookup_allowance(ldap->name, q->name, t->user,
	    ldap->timeout, ct_login_cb, t);
}

static void
ct_login_cb(void *arg, const struct lookup_result *res)
{
	struct ctltest			*t = arg;
	const struct auth_profile	*ap = t->l->auth_profile;
	const struct ldap_query		*q;
	const char			*detail, *text;

	t->lookup_id = 0;
	if (ap != NULL && ap->kind == AUTH_PROFILE_CERTIFICATE)
		ap = ap->fallback;
	q = t->l->proxy != NULL ? t->l->proxy->aaa_query : ap->query;
	detail = res->detail != NULL ? res->detail : "";
	switch (res->result) {
	case LDAP_RES_OK:
	case LDAP_RES_DISALLOWED:
		ct_step(t, "search", "ok", "one entry: \"%s\"",
		    res->dn != NULL ? res->dn : "");
		if (q->allowance == NULL)
			ct_step(t, "allowance", "ok", "the query has no "
			    "allowance filter");
		else
			ct_step(t, "allowance", res->result == LDAP_RES_OK ?
			    "ok" : "fail", "the allowance filter %s the entry",
			    res->result == LDAP_RES_OK ? "matches" :
			    "does not match");
		break;
	case LDAP_RES_NOTFOUND:
		ct_step(t, "search", "fail", "no entry for %s", t->user);
		break;
	case LDAP_RES_AMBIGUOUS:
		ct_step(t, "search", "fail", "more than one entry for %s",
		    t->user);
		break;
	case LDAP_RES_TEMPFAIL:
		ct_step(t, "search", "tempfail", "%s", *detail ? detail :
		    "the directory is unavailable");
		break;
	default:
		ct_step(t, "search", "fail", "%s%s%s",
		    ldap_result_name(res->result), *detail ? ": " : "",
		    detail);
		break;
	}
	switch (res->result) {
	case LDAP_RES_OK:
		ct_decide(t, CTL_TEST_ACCEPTED, t->user, "%s may log in with "
		    "a password (the password itself is not checked)",
		    t->user);
		return;
	case LDAP_RES_DISALLOWED:
		if (t->l->proxy != NULL)
			text = t->l->proxy->disallowed_text != NULL ?
			    t->l->proxy->disallowed_text :
			    PROXY_DISALLOWED_TEXT;
		else
			text = ap->reject_text != NULL ? ap->reject_text : "";
		if ((t->l->proxy != NULL ? t->l->proxy->disallowed :
		    (int)ap->disallowed) == DISALLOWED_MONITOR) {
			ct_decide(t, CTL_TEST_ACCEPTED, t->user, "the "
			    "allowance filter refuses %s, but disallowed is "
			    "monitor: let in and logged", t->user);
			return;
		}
		if (t->l->proxy != NULL)
			ct_decide(t, CTL_TEST_REFUSED, NULL, "the allowance "
			    "filter refuses %s: \"%s\"", t->user, text);
		else
			ct_decide(t, CTL_TEST_REFUSED, NULL, "the allowance "
			    "filter refuses %s: %d %s", t->user,
			    ap->reject_code, text);
		return;
	case LDAP_RES_NOTFOUND:
		ct_decide(t, CTL_TEST_REFUSED, NULL, "no such user in the "
		    "directory: a password login fails");
		return;
	case LDAP_RES_TEMPFAIL:
		ct_decide(t, CTL_TEST_TEMPFAIL, NULL, "LDAP is unavailable: "
		    "a login gets a temporary failure");
		return;
	default:
		ct_decide(t, CTL_TEST_REFUSED, NULL, "refused by the "
		    "directory");
		return;
	}
}
