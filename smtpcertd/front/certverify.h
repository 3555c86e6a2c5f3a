/*
 * Certificate path validation in the front (certverify.c): RFC 5280
 * section 6 -- the chain, certificate policies and revocation -- by
 * OpenSSL's verifier, with the CRLs of the revocation set (crlset.h)
 * and a refusal a help desk can read.
 */
#ifndef SMTPCERTD_CERTVERIFY_H
#define SMTPCERTD_CERTVERIFY_H

#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "stats.h"

struct crlset;
struct kvlog;

/* How a listener (or an upstream check) validates. */
struct certverify_opts {
	int			 crl_check;	/* revocation by CRL */
	enum stale_policy	 stale;		/* no CRL at all for a CA */
	const struct ca		*ca;		/* policy settings, NULL:
						 * RFC 5280's defaults */
	int			 security_level; /* -1: the system's */
};

/* Why one certificate of a path was refused. */
struct certverify_refusal {
	int		 error;		/* X509_V_ERR_* */
	int		 depth;		/* 0: the client's own certificate */
	int		 after;		/* 1: the handshake went on, the
					 * session refuses after it */
	enum stat_id	 stat;		/* cert.refused.* */
	const char	*code;		/* short name for logs and stats */
	char		 subject[256];
	char		 issuer[256];
	char		 serial[64];
	char		 reason[1024];	/* plain words */
};

/* Once, before any other call (the front's preinit). */
void	certverify_init(void);

/*
 * A listener's server context: the CA bundle's certificates are already
 * in its store.  Sets RFC 5280 checking (policies, CRLs, the security
 * level) and the callback that records refusals.  ca_pem is the bundle
 * (its CA certificates that are not self-signed also serve as
 * intermediates and CRL issuers a client need not send).  0 or -1.
 */
int	certverify_server_ctx(SSL_CTX *, const struct certverify_opts *,
	    const unsigned char *ca_pem, size_t ca_len, char *err,
	    size_t errlen);

/* A new revocation set is in use (NULL: none): the CRLs OpenSSL sees. */
void	certverify_set_crls(const struct crlset *);

/*
 * After a client handshake: NULL if the client's path is valid (a
 * fail-open warning, if any, has been logged), else why it was
 * refused.  Valid until the SSL is freed.
 */
const struct certverify_refusal *certverify_refused(SSL *);
/* The failure recorded for a handshake that failed, NULL if none. */
const struct certverify_refusal *certverify_handshake_failure(SSL *);
/*
 * A session about to be resumed on ssl (tlsresume.c): its client
 * certificate, if any, through the listener's verification again, with
 * the current CRLs.  1: resume (the chain and policies are then ssl's,
 * as after a full handshake), 0: decline, logged.
 */
int	certverify_resume(SSL *ssl, SSL_SESSION *sess);
/*
 * `smtpcertctl test certificate': a client chain (leaf first) through
 * the verification of the listener whose context ssl (a fresh SSL_new())
 * comes from, as a handshake runs it, with the current CRLs.  1 valid,
 * 0 refused (r says why; r->after tells whether the handshake would have
 * finished), -1 the listener verifies no client certificates.  warn
 * gets a fail-open warning, "" if none.  certverify_policies(ssl) then
 * holds the valid policies.  Nothing is counted.
 */
int	certverify_test(SSL *ssl, STACK_OF(X509) *chain,
	    struct certverify_refusal *r, char *warn, size_t warnlen);
/* The valid policies of the accepted path ("2.5.29.32.0 ..."), or NULL. */
const char *certverify_policies(SSL *);

/*
 * A peer chain (leaf first) that TLS already accepted, checked again
 * against store with revocation (the relay and proxy back ends: libtls
 * verified their chain).  0 valid, -1 refused with r filled.
 */
int	certverify_chain(STACK_OF(X509) *chain, X509_STORE *store,
	    const struct certverify_opts *, struct certverify_refusal *r);
/* A store for certverify_chain(): a CA bundle's certificates. */
X509_STORE *certverify_store(STACK_OF(X509) *cas);

/*
 * A session's log line for a refused certificate ("cert-refused": the
 * refusal after the handshake) or a failed handshake ("tls-failed": the
 * certificate that ended it, counted by reason): the refusal, or NULL.
 */
const struct certverify_refusal *certverify_logged(SSL *, const char *event);
/* The refusal's fields on that line, and its reason= (why, the session's
 * own words, with the certificate's reason added to a handshake's). */
void	certverify_kv(struct kvlog *, const struct certverify_refusal *);
void	certverify_reason(struct kvlog *, const struct certverify_refusal *,
	    const char *event, const char *why);

#endif
