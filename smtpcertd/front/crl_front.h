/*
 * Revocation checks in the front (crl_front.c): the current revocation
 * set, mapped read-only from the memfd the parent passes, and the checks
 * run right after a TLS handshake.
 */
#ifndef SMTPCERTD_CRL_FRONT_H
#define SMTPCERTD_CRL_FRONT_H

#include <stddef.h>
#include <stdint.h>

struct childproc;
struct conf_bundle;
struct stack_st_X509;
struct x509_st;
struct imsg;
struct io;
struct listener;
struct relay;
struct smtpcertd_conf;

/* IMSG_CRL_SET from the parent: map, validate, swap, acknowledge. */
void	crl_front_parent_imsg(struct childproc *, struct imsg *);
/* A new configuration generation: the CA certificates used to find
 * intermediates the peer did not send. */
void	crl_front_config(struct conf_bundle *);

/*
 * Check every certificate of a peer chain except the trust anchor.  The
 * chain is io_tls_peer_chain()'s, leaf first (struct stack_st_X509 is
 * OpenSSL's STACK_OF(X509)); NULL or empty is refused.  ca_name names
 * the bundle the chain was verified with (NULL: the peer's chain only).
 * Returns 0 to go on (logging loudly when a fail-open policy let a
 * certificate through), -1 to refuse, with the reason in why.
 */
int	crl_front_check_chain(struct stack_st_X509 *chain,
	    const char *ca_name, const struct smtpcertd_conf *,
	    const char *who, char *why, size_t whylen);

/* After a client handshake on listener l: checks when the listener has a
 * ca, a certificate was presented and crl-check inbound (SMTP) or proxy
 * is on.  0 go on, -1 refuse. */
int	crl_front_check_client(const struct smtpcertd_conf *,
	    const struct listener *, struct io *, const char *who, char *why,
	    size_t whylen);
/* After the handshake with an upstream relay (crl-check outbound of
 * the newest configuration). */
int	crl_front_check_upstream(const struct relay *, struct io *,
	    const char *who, char *why, size_t whylen);

/* Issue 5 item 7 (OCSP): the leaf of a peer chain and its issuer (CA
 * bundle ca_name, then the chain), up-referenced; 0, or -1 if either is
 * missing (*leaf may still be set).  struct x509_st is OpenSSL's X509,
 * named so to keep OpenSSL's headers out of this one. */
int	crl_front_leaf_issuer(struct stack_st_X509 *chain,
	    const char *ca_name, struct x509_st **leaf,
	    struct x509_st **issuer);

#endif
