/*
 * Server-side TLS contexts for the front's listeners, on OpenSSL's libssl
 * rather than libtls.  Two things libtls cannot do decide it:
 *
 *  - An idle session must not keep OpenSSL's read and write record
 *    buffers (about 17 KB each).  libtls offers no way to set
 *    SSL_MODE_RELEASE_BUFFERS; with it an idle session holds no buffer.
 *  - The checks after a handshake (certificate fields, CRL, OCSP, proxy
 *    user names) need the client's certificate decoded.  The handshake
 *    has decoded it already, but libtls only hands it over as PEM, and
 *    decoding it again costs about as much as the rest of the
 *    handshake's parsing with OpenSSL 3.0.
 *
 * Everything libtls (libretls 3.7 over OpenSSL 3.0, as Debian ships it)
 * sets on a server context is set here the same way, so clients see the
 * same server: TLS 1.2 and 1.3, OpenSSL's default cipher list with the
 * server's preference, no session resumption, the key pair and chain from
 * memory, and client certificates verified against the listener's CA set
 * to a depth of 6.  What differs, and why, is in tlsserver.c.
 *
 * Client-side TLS (upstream relays, proxy back ends) stays on libtls:
 * see smtpcertd/front/io.c.
 */
#ifndef SMTPCERTD_TLSSERVER_H
#define SMTPCERTD_TLSSERVER_H

#include <stddef.h>
#include <stdint.h>

struct ssl_st;			/* OpenSSL's SSL */
struct ssl_ctx_st;		/* OpenSSL's SSL_CTX */

/* Client certificates: the SPEC 3.2 "verify client-certificate" rows. */
enum tlsserver_verify {
	TLSSERVER_VERIFY_NONE,		/* none is asked for */
	TLSSERVER_VERIFY_OPTIONAL,	/* asked for; a client without one
					 * goes on, an invalid one fails the
					 * handshake */
	TLSSERVER_VERIFY_REQUIRED	/* a valid one is mandatory */
};

#define TLSSERVER_VERIFY_DEPTH	6	/* libtls' default */
#define TLSSERVER_PEM_MAX	(4U * 1024 * 1024)	/* per input */

struct tlsserver;

/*
 * A server context from PEM in memory: cert is the certificate followed
 * by its chain, key the private key, ca the certificates client
 * certificates are verified against (needed unless verify is NONE).
 * Nothing is kept of key: the caller wipes it.  NULL on any error, with
 * a message for the log in err.
 */
struct tlsserver *tlsserver_new(const uint8_t *cert, size_t certlen,
		    const uint8_t *key, size_t keylen, const uint8_t *ca,
		    size_t calen, enum tlsserver_verify, char *err,
		    size_t errlen);
/*
 * Where the private keys are elsewhere (the front, issue 14): with key
 * NULL, tlsserver_new() takes the key fn builds from the certificate,
 * whose private operations may pause the handshake (SSL_MODE_ASYNC, see
 * io_async_current() in io.h).
 */
struct evp_pkey_st;
struct x509_st;
void		 tlsserver_set_keyfn(struct evp_pkey_st *(*fn)(
		    struct x509_st *, char *err, size_t errlen));
/*
 * A resumed session's client chain as the resumption check verified it
 * (the handshake's own verified chain is not kept in a session): set by
 * smtpcertd/front/tlsresume.c, read by io.c.  The SSL owns it.
 */
void		 tlsserver_set_resumed_chain(struct ssl_st *,
		    struct stack_st_X509 *);
struct stack_st_X509 *tlsserver_resumed_chain(struct ssl_st *);
/*
 * A listener's TLS settings (tlsopts.h, already merged): versions, the
 * TLS 1.2 list (without RSA key exchange when the key is elsewhere),
 * TLS 1.3 suites, groups.  The security level is the caller's.  0 or -1
 * with a message in err.
 */
struct tls_opts;
int		 tlsserver_settings(struct tlsserver *, const struct tls_opts *,
		    char *err, size_t errlen);
/* Running sessions keep a reference: freeing here does not end them. */
void		 tlsserver_free(struct tlsserver *);
/*
 * A new server-side connection on the connected socket fd (which stays
 * the caller's), ready for SSL_do_handshake().  NULL on allocation
 * failure.
 */
struct ssl_st	*tlsserver_accept(struct tlsserver *, int fd);
/* The OpenSSL context, for tests. */
struct ssl_ctx_st *tlsserver_ctx(struct tlsserver *);

#endif
