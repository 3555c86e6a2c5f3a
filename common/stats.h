/*
 * Counters for `smtpcertctl show stats'.
 *
 * One fixed table for the whole daemon: each counter has an id, the
 * process that owns it and a name.  Names are dot-separated paths
 * ("tls.handshakes.failed.no-cert") that form a tree by subsystem, which
 * is how the JSON output nests them; no name is the prefix of another.
 * Every process has the whole array but only touches its own counters,
 * with a one-line stats_inc() where the event is decided.
 *
 * The parent asks each child for its counters (IMSG_STATS_REQ; childproc.c
 * answers with stats_put()) and checks every row it gets back against this
 * table with stats_get(): a child can only report counters it owns.
 *
 * Counters count since their process started: a restarted child starts
 * from zero again (`show status' says how often that happened).  The few
 * gauges (entries in a cache, CRL sources) are set with stats_set() by
 * their process just before it answers.
 */
#ifndef SMTPCERTD_STATS_H
#define SMTPCERTD_STATS_H

#include <stdint.h>

#include "proto.h"

struct msgbuild;
struct msgreader;

/* Longest counter name, NUL included; stats_get() bounds names by it. */
#define STATS_NAME_MAX		64

/* Authentications: methods x results, kept in this order in the table. */
#define STATS_AUTH_ROWS(X, M, m)					\
	X(STAT_AUTH_##M##_OK,	   PROC_FRONT, "auth." m ".ok")		\
	X(STAT_AUTH_##M##_BADCRED,  PROC_FRONT, "auth." m ".badcred")	\
	X(STAT_AUTH_##M##_REFUSED,  PROC_FRONT, "auth." m ".refused")	\
	X(STAT_AUTH_##M##_TEMPFAIL, PROC_FRONT, "auth." m ".tempfail")

#define STATS_TABLE(X)							\
	/* parent: control socket */					\
	X(STAT_CTL_CONNECTIONS,	PROC_PARENT, "control.connections")	\
	X(STAT_CTL_REFUSED,	PROC_PARENT, "control.refused")		\
	/* changing commands refused to a read-only control group */	\
	X(STAT_CTL_DENIED,	PROC_PARENT, "control.denied")		\
	/* front: connections accepted, by listener protocol */	\
	X(STAT_CONN_SMTP,	PROC_FRONT, "connections.smtp")		\
	X(STAT_CONN_SMTPS,	PROC_FRONT, "connections.smtps")	\
	X(STAT_CONN_PROXY_POP3S, PROC_FRONT, "connections.proxy-pop3s")	\
	X(STAT_CONN_PROXY_IMAP4S, PROC_FRONT, "connections.proxy-imap4s") \
	X(STAT_CONN_PROXY_SMTPS, PROC_FRONT, "connections.proxy-smtps")	\
	X(STAT_CONN_TOOMANY,	PROC_FRONT, "connections.too-many")	\
	X(STAT_CONN_KILLED,	PROC_FRONT, "connections.killed")	\
	/* front: TLS handshakes with clients */			\
	X(STAT_TLS_OK,		PROC_FRONT, "tls.handshakes.ok")	\
	X(STAT_TLS_FAIL_NOCERT,	PROC_FRONT, "tls.handshakes.failed.no-cert") \
	X(STAT_TLS_FAIL_BADCERT, PROC_FRONT, "tls.handshakes.failed.bad-cert") \
	X(STAT_TLS_FAIL_PROTOCOL, PROC_FRONT,				\
	    "tls.handshakes.failed.protocol")				\
	X(STAT_TLS_FAIL_TIMEOUT, PROC_FRONT, "tls.handshakes.failed.timeout") \
	X(STAT_TLS_FAIL_ABORTED, PROC_FRONT, "tls.handshakes.failed.aborted") \
	/* front: resumptions accepted, and declined by the certificate's	\
	 * check (tlsresume.c) */					\
	X(STAT_TLS_RESUMED,	PROC_FRONT, "tls.resumptions.ok")	\
	X(STAT_TLS_RESUME_REFUSED, PROC_FRONT, "tls.resumptions.refused") \
	/* front: client certificates refused after the handshake */	\
	X(STAT_REVOKED_CRL,	PROC_FRONT, "revocation.crl.refused")	\
	X(STAT_REVOKED_OCSP,	PROC_FRONT, "revocation.ocsp.refused")	\
	/* front: client certificates refused, by reason (certverify.c) */ \
	X(STAT_CERT_REF_EXPIRED, PROC_FRONT, "cert.refused.expired")	\
	X(STAT_CERT_REF_NOTYET,	PROC_FRONT, "cert.refused.not-yet-valid") \
	X(STAT_CERT_REF_UNKNOWN, PROC_FRONT, "cert.refused.unknown-issuer") \
	X(STAT_CERT_REF_SIGNATURE, PROC_FRONT, "cert.refused.bad-signature") \
	X(STAT_CERT_REF_REVOKED, PROC_FRONT, "cert.refused.revoked")	\
	X(STAT_CERT_REF_NOCRL,	PROC_FRONT, "cert.refused.no-crl")	\
	X(STAT_CERT_REF_CRLSTALE, PROC_FRONT, "cert.refused.crl-expired") \
	X(STAT_CERT_REF_CRLBAD,	PROC_FRONT, "cert.refused.crl-unusable") \
	X(STAT_CERT_REF_POLICY,	PROC_FRONT, "cert.refused.policy")	\
	X(STAT_CERT_REF_CONSTRAINTS, PROC_FRONT, "cert.refused.constraints") \
	X(STAT_CERT_REF_WEAK,	PROC_FRONT, "cert.refused.weak-key")	\
	X(STAT_CERT_REF_OTHER,	PROC_FRONT, "cert.refused.other")	\
	/* front: authentications, see stats_auth() */			\
	STATS_AUTH_ROWS(X, CERTIFICATE, "certificate")		\
	STATS_AUTH_ROWS(X, EXTERNAL, "external")			\
	STATS_AUTH_ROWS(X, PLAIN, "plain")				\
	STATS_AUTH_ROWS(X, LOGIN, "login")				\
	STATS_AUTH_ROWS(X, AAA, "aaa")				\
	STATS_AUTH_ROWS(X, MAILHOST, "mailhost")			\
	STATS_AUTH_ROWS(X, PIGGYBACK, "piggyback")			\
	STATS_AUTH_ROWS(X, OTHER, "other")				\
	/* front: the SMTP relay and the e-mail proxy's back ends */	\
	X(STAT_RELAY_ACCEPTED,	PROC_FRONT, "relay.messages.accepted")	\
	X(STAT_RELAY_REFUSED,	PROC_FRONT, "relay.messages.refused")	\
	X(STAT_RELAY_MALFORMED,	PROC_FRONT, "relay.messages.malformed")	\
	X(STAT_RELAY_UP_CONNECT, PROC_FRONT, "relay.upstream.connections") \
	X(STAT_RELAY_UP_FAIL,	PROC_FRONT, "relay.upstream.failures")	\
	X(STAT_PROXY_BE_LOGIN,	PROC_FRONT, "proxy.backend.logins")	\
	X(STAT_PROXY_BE_FAIL,	PROC_FRONT, "proxy.backend.failures")	\
	/* ldapd-helper */						\
	X(STAT_LDAP_REQ_CERT,	PROC_LDAPD, "ldap.lookups.certificate")	\
	X(STAT_LDAP_REQ_AUTH,	PROC_LDAPD, "ldap.lookups.smtp-auth")	\
	X(STAT_LDAP_REQ_AUTHZ,	PROC_LDAPD, "ldap.lookups.authorization") \
	X(STAT_LDAP_REQ_ALLOW,	PROC_LDAPD, "ldap.lookups.allowance")	\
	X(STAT_LDAP_CACHE_HIT,	PROC_LDAPD, "ldap.cache.hits")		\
	X(STAT_LDAP_CACHE_MISS,	PROC_LDAPD, "ldap.cache.misses")	\
	X(STAT_LDAP_CACHE_ENTRIES, PROC_LDAPD, "ldap.cache.entries")	\
	/* in enum ldap_result's order, see stats_ldap_result() */	\
	X(STAT_LDAP_RES_OK,	PROC_LDAPD, "ldap.results.ok")		\
	X(STAT_LDAP_RES_NOTFOUND, PROC_LDAPD, "ldap.results.not-found")	\
	X(STAT_LDAP_RES_AMBIGUOUS, PROC_LDAPD, "ldap.results.ambiguous") \
	X(STAT_LDAP_RES_MISMATCH, PROC_LDAPD, "ldap.results.mismatch")	\
	X(STAT_LDAP_RES_BADCRED, PROC_LDAPD, "ldap.results.badcred")	\
	X(STAT_LDAP_RES_DISALLOWED, PROC_LDAPD, "ldap.results.disallowed") \
	X(STAT_LDAP_RES_BADREQ,	PROC_LDAPD, "ldap.results.badreq")	\
	X(STAT_LDAP_RES_BADFIELD, PROC_LDAPD, "ldap.results.badfield")	\
	X(STAT_LDAP_RES_LOCKED,	PROC_LDAPD, "ldap.results.locked")	\
	X(STAT_LDAP_RES_PWEXPIRED, PROC_LDAPD, "ldap.results.password-expired") \
	X(STAT_LDAP_RES_PWRESET, PROC_LDAPD, "ldap.results.password-reset") \
	X(STAT_LDAP_RES_DISABLED, PROC_LDAPD, "ldap.results.disabled")	\
	X(STAT_LDAP_RES_TEMPFAIL, PROC_LDAPD, "ldap.results.tempfail")	\
	X(STAT_LDAP_SERVER_FAIL, PROC_LDAPD, "ldap.server-failures")	\
	/* crld: CRL sources (gauges) and fetches */			\
	X(STAT_CRL_SOURCES,	PROC_CRLD, "crl.sources.configured")	\
	X(STAT_CRL_SOURCES_INUSE, PROC_CRLD, "crl.sources.in-use")	\
	X(STAT_CRL_SOURCES_FAILING, PROC_CRLD, "crl.sources.failing")	\
	X(STAT_CRL_SOURCES_STALE, PROC_CRLD, "crl.sources.stale")	\
	X(STAT_CRL_ENTRIES,	PROC_CRLD, "crl.entries")		\
	X(STAT_CRL_FETCH_OK,	PROC_CRLD, "crl.fetches.ok")		\
	X(STAT_CRL_FETCH_FAILED, PROC_CRLD, "crl.fetches.failed")	\
	X(STAT_CRL_LAST_FETCH,	PROC_CRLD, "crl.last-fetch.time")	\
	X(STAT_CRL_LAST_FETCH_OK, PROC_CRLD, "crl.last-fetch.ok")	\
	/* crld: OCSP, in enum ocsp_status's order for the answers */	\
	/* front: private-key operations asked of the keys process */	\
	X(STAT_KEYS_OPS,	PROC_FRONT, "keys.operations.requested") \
	X(STAT_KEYS_FAILED,	PROC_FRONT, "keys.operations.failed")	\
	X(STAT_OCSP_REQUESTS,	PROC_CRLD, "ocsp.requests")		\
	X(STAT_OCSP_CACHE_HIT,	PROC_CRLD, "ocsp.cache-hits")		\
	X(STAT_OCSP_GOOD,	PROC_CRLD, "ocsp.answers.good")		\
	X(STAT_OCSP_REVOKED,	PROC_CRLD, "ocsp.answers.revoked")	\
	X(STAT_OCSP_UNKNOWN,	PROC_CRLD, "ocsp.answers.unknown")	\
	X(STAT_OCSP_ERROR,	PROC_CRLD, "ocsp.answers.error")

#define STATS_ENUM_ENTRY(id, proc, name)	id,
enum stat_id {
	STATS_TABLE(STATS_ENUM_ENTRY)
	STAT_MAX
};
#undef STATS_ENUM_ENTRY

enum stats_auth_method {
	SAM_CERTIFICATE,	/* SMTP: certificate mapped in LDAP; proxy:
				 * the certificate's user name */
	SAM_EXTERNAL,		/* SMTP AUTH EXTERNAL */
	SAM_PLAIN,		/* SMTP AUTH PLAIN */
	SAM_LOGIN,		/* SMTP AUTH LOGIN */
	SAM_AAA,		/* proxy methods */
	SAM_MAILHOST,
	SAM_PIGGYBACK,
	SAM_OTHER,		/* a proxy login refused before any method
				 * took it */
	SAM_MAX
};

enum stats_auth_result {
	SAR_OK,
	SAR_BADCRED,		/* the credentials name nobody */
	SAR_REFUSED,		/* valid, but policy says no: allowance,
				 * group policy, rate limit */
	SAR_TEMPFAIL,		/* the directory or back end is unavailable */
	SAR_MAX
};

void		 stats_inc(enum stat_id);
void		 stats_add(enum stat_id, uint64_t);
void		 stats_set(enum stat_id, uint64_t);
uint64_t	 stats_value(enum stat_id);
const char	*stats_name(enum stat_id);
enum smtpcertd_proc stats_owner(enum stat_id);
/* The id of a name, or -1. */
int		 stats_lookup(const char *);

/* One authentication decided. */
void		 stats_auth(enum stats_auth_method, enum stats_auth_result);
enum stat_id	 stats_auth_id(enum stats_auth_method, enum stats_auth_result);
/* "certificate", "PLAIN", "aaa" ... (any case); SAM_OTHER if unknown. */
enum stats_auth_method stats_auth_method(const char *);
const char	*stats_auth_method_name(enum stats_auth_method);

/* An answer of ldapd-helper (enum ldap_result). */
void		 stats_ldap_result(uint32_t);
/* An OCSP answer of crld (enum ocsp_status). */
void		 stats_ocsp_status(uint32_t);

/*
 * Why a server-side TLS handshake failed: timed out, the peer left
 * (EOF or reset), or else from libtls's error text.
 */
enum stat_id	 stats_tls_failure(int timed_out, int peer_left,
		    const char *error);

/*
 * IMSG_STATS payload: u32 n, then n x (str name, u64 value), the
 * counters proc owns.  stats_get() decodes one from proc into values[]
 * (indexed by id; the others are left alone) and returns -1 if a name is
 * unknown, not proc's, repeated, or the message does not end exactly.
 */
void		 stats_put(struct msgbuild *, enum smtpcertd_proc);
int		 stats_get(struct msgreader *, enum smtpcertd_proc,
		    uint64_t values[STAT_MAX]);

#endif
