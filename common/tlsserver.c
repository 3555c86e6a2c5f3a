/*
 * Server-side TLS contexts on libssl.  See tlsserver.h for why not libtls.
 *
 * The settings mirror what libretls 3.7 sets on a server context (read
 * back from a configured libtls context with OpenSSL's getters): minimum
 * TLS 1.2, SSL_OP_CIPHER_SERVER_PREFERENCE, SSL_OP_NO_TICKET with the
 * session cache off, partial writes and moving write buffers, no
 * SSL_MODE_AUTO_RETRY, the default cipher list, groups and security
 * level, no client CA names in the certificate request, and for client
 * certificates SSL_VERIFY_PEER (plus SSL_VERIFY_FAIL_IF_NO_PEER_CERT when
 * required) at depth 6 with OpenSSL's own chain verification.  A failed
 * verification sends the same alerts and leaves the same error in
 * OpenSSL's queue ("certificate verify failed", "peer did not return a
 * certificate"), which is what the logs show.
 *
 * Deliberate differences:
 *  - SSL_MODE_RELEASE_BUFFERS, the reason for all this.
 *  - Read-ahead: fewer system calls; nothing else changes.
 *  - No TLS 1.3 session tickets: libtls lets OpenSSL send two per
 *    handshake although, with the cache off, none can ever be used;
 *    each costs a session copy and a key derivation.
 *  - SSL_OP_NO_RENEGOTIATION: libtls on LibreSSL refuses client
 *    renegotiation, which libretls cannot express; a mail client has no
 *    use for it and it would only reallocate the buffers we release.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tlsopts.h"
#include "tlsserver.h"

/* Session IDs are never reused (no cache, no tickets), but OpenSSL wants
 * a context whenever it verifies clients. */
#define TLSSERVER_SID_CTX	"smtpcertd"

struct tlsserver {
	SSL_CTX		*ctx;
};

/* The default list without RSA key exchange (see tlsserver_keypair()). */
#define TLSSERVER_REMOTE_CIPHERS	"DEFAULT:!kRSA"

static struct evp_pkey_st *(*tlsserver_keyfn)(struct x509_st *, char *,
		    size_t);

static int	tlsserver_chain_idx = -1;

static void
tlsserver_chain_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	sk_X509_pop_free(ptr, X509_free);
}

void
tlsserver_set_resumed_chain(SSL *ssl, STACK_OF(X509) *chain)
{
	if (tlsserver_chain_idx == -1 && (tlsserver_chain_idx =
	    SSL_get_ex_new_index(0, NULL, NULL, NULL, tlsserver_chain_free))
	    == -1) {
		sk_X509_pop_free(chain, X509_free);
		return;
	}
	sk_X509_pop_free(SSL_get_ex_data(ssl, tlsserver_chain_idx), X509_free);
	SSL_set_ex_data(ssl, tlsserver_chain_idx, chain);
}

STACK_OF(X509) *
tlsserver_resumed_chain(SSL *ssl)
{
	return tlsserver_chain_idx == -1 ? NULL :
	    SSL_get_ex_data(ssl, tlsserver_chain_idx);
}

void
tlsserver_set_keyfn(struct evp_pkey_st *(*fn)(struct x509_st *, char *,
    size_t))
{
	tlsserver_keyfn = fn;
}

static int	 tlsserver_nopass(char *, int, int, void *);
static BIO	*tlsserver_bio(const uint8_t *, size_t);
static int	 tlsserver_keypair(SSL_CTX *, const uint8_t *, size_t,
		    const uint8_t *, size_t, char *, size_t);
static int	 tlsserver_ca(SSL_CTX *, const uint8_t *, size_t, char *,
		    size_t);
static void	 tlsserver_error(char *, size_t, const char *);

/* Keys come decrypted from the parent: never prompt. */
static int
tlsserver_nopass(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static BIO *
tlsserver_bio(const uint8_t *p, size_t len)
{
	if (p == NULL || len == 0 || len > TLSSERVER_PEM_MAX)
		return NULL;
	return BIO_new_mem_buf(p, (int)len);
}

/* "what: OpenSSL's first error", like libtls' messages. */
static void
tlsserver_error(char *err, size_t errlen, const char *what)
{
	char		 e[256];
	unsigned long	 code;

	if ((code = ERR_peek_error()) != 0) {
		ERR_error_string_n(code, e, sizeof(e));
		snprintf(err, errlen, "%s: %s", what, e);
	} else
		snprintf(err, errlen, "%s", what);
	ERR_clear_error();
}

/* The certificate, the rest of the PEM as its chain, and the key. */
static int
tlsserver_keypair(SSL_CTX *ctx, const uint8_t *cert, size_t certlen,
    const uint8_t *key, size_t keylen, char *err, size_t errlen)
{
	BIO		*bio;
	X509		*x;
	EVP_PKEY	*pkey;
	int		 ok;

	if ((bio = tlsserver_bio(cert, certlen)) == NULL) {
		snprintf(err, errlen, "failed to load certificate");
		return -1;
	}
	x = PEM_read_bio_X509_AUX(bio, NULL, tlsserver_nopass, NULL);
	if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		BIO_free(bio);
		tlsserver_error(err, errlen, "failed to load certificate");
		return -1;
	}
	X509_free(x);
	while ((x = PEM_read_bio_X509(bio, NULL, tlsserver_nopass, NULL)) !=
	    NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			BIO_free(bio);
			tlsserver_error(err, errlen, "failed to load "
			    "certificate chain");
			return -1;
		}
	}
	BIO_free(bio);
	/* The end of the PEM shows as "no start line"; anything else is a
	 * broken chain. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE &&
	    ERR_peek_last_error() != 0) {
		tlsserver_error(err, errlen, "failed to load certificate "
		    "chain");
		return -1;
	}
	ERR_clear_error();

	if (key == NULL && tlsserver_keyfn != NULL) {
		/* The private half is in another process: handshakes run
		 * as asynchronous jobs that wait for it (keysign.c), and
		 * RSA key exchange, a private decryption, is left out. */
		if ((pkey = tlsserver_keyfn(SSL_CTX_get0_certificate(ctx),
		    err, errlen)) == NULL)
			return -1;
		SSL_CTX_set_mode(ctx, SSL_MODE_ASYNC);
		ok = SSL_CTX_use_PrivateKey(ctx, pkey) == 1 &&
		    SSL_CTX_set_cipher_list(ctx, TLSSERVER_REMOTE_CIPHERS) == 1;
		EVP_PKEY_free(pkey);
		if (!ok) {
			tlsserver_error(err, errlen, "failed to use the "
			    "certificate's key");
			return -1;
		}
		return 0;
	}
	if ((bio = tlsserver_bio(key, keylen)) == NULL) {
		snprintf(err, errlen, "failed to load private key");
		return -1;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, tlsserver_nopass, NULL);
	BIO_free(bio);
	ok = pkey != NULL && SSL_CTX_use_PrivateKey(ctx, pkey) == 1;
	EVP_PKEY_free(pkey);
	if (!ok) {
		tlsserver_error(err, errlen, "failed to load private key");
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tlsserver_error(err, errlen, "private/public key mismatch");
		return -1;
	}
	return 0;
}

/*
 * The certificates of a CA bundle into the context's store.  Like libtls,
 * an empty bundle is not an error: every client certificate then fails
 * verification.
 */
static int
tlsserver_ca(SSL_CTX *ctx, const uint8_t *ca, size_t calen, char *err,
    size_t errlen)
{
	X509_STORE	*store = SSL_CTX_get_cert_store(ctx);
	BIO		*bio;
	X509		*x;

	if ((bio = tlsserver_bio(ca, calen)) == NULL) {
		snprintf(err, errlen, "no CA certificates");
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, tlsserver_nopass, NULL)) !=
	    NULL) {
		if (X509_STORE_add_cert(store, x) != 1) {
			X509_free(x);
			BIO_free(bio);
			tlsserver_error(err, errlen, "ssl verify memory setup "
			    "failure");
			return -1;
		}
		X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();
	return 0;
}

int
tlsserver_settings(struct tlsserver *ts, const struct tls_opts *o, char *err,
    size_t errlen)
{
	SSL_CTX	*ctx = ts->ctx;
	char	 list[2048];
	int	 min, max;

	if (tlsopts_versions(o->protocols, &min, &max, err, errlen) == -1)
		return -1;
	if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, max) != 1) {
		tlsserver_error(err, errlen, "tls protocols");
		return -1;
	}
	if (o->ciphers != NULL) {
		/* A key held elsewhere cannot decrypt (tlsserver_keypair). */
		snprintf(list, sizeof(list), "%s%s", o->ciphers,
		    SSL_CTX_get_mode(ctx) & SSL_MODE_ASYNC ? ":!kRSA" : "");
		if (SSL_CTX_set_cipher_list(ctx, list) != 1) {
			tlsserver_error(err, errlen, "tls ciphers");
			return -1;
		}
	}
	if (o->ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) != 1) {
		tlsserver_error(err, errlen, "tls ciphersuites");
		return -1;
	}
	if (o->groups != NULL && SSL_CTX_set1_groups_list(ctx, o->groups) != 1) {
		tlsserver_error(err, errlen, "tls groups");
		return -1;
	}
	return 0;
}

struct tlsserver *
tlsserver_new(const uint8_t *cert, size_t certlen, const uint8_t *key,
    size_t keylen, const uint8_t *ca, size_t calen,
    enum tlsserver_verify verify, char *err, size_t errlen)
{
	struct tlsserver	*ts;
	SSL_CTX			*ctx;
	int			 mode;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tlsserver_error(err, errlen, "ssl context failure");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)TLSSERVER_SID_CTX,
	    sizeof(TLSSERVER_SID_CTX) - 1) != 1 ||
	    SSL_CTX_set_num_tickets(ctx, 0) != 1) {
		tlsserver_error(err, errlen, "ssl context failure");
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* io.c retries a want-read/want-write itself, with the same bytes
	 * for a write (moving buffer allowed, partial writes taken). */
	SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* One read(2) for what the socket holds instead of two per record
	 * (header, then body); io.c reads until libssl wants more, and asks
	 * SSL_has_pending() before sleeping on a paused session. */
	SSL_CTX_set_read_ahead(ctx, 1);

	if (tlsserver_keypair(ctx, cert, certlen, key, keylen, err,
	    errlen) == -1)
		goto fail;
	if (verify != TLSSERVER_VERIFY_NONE) {
		/* Fail closed: verifying against nothing is a config bug. */
		if (ca == NULL) {
			snprintf(err, errlen, "client verification without "
			    "CA certificates");
			goto fail;
		}
		if (tlsserver_ca(ctx, ca, calen, err, errlen) == -1)
			goto fail;
		mode = SSL_VERIFY_PEER;
		if (verify == TLSSERVER_VERIFY_REQUIRED)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
		SSL_CTX_set_verify_depth(ctx, TLSSERVER_VERIFY_DEPTH);
	}
	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	ts->ctx = ctx;
	return ts;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

void
tlsserver_free(struct tlsserver *ts)
{
	if (ts == NULL)
		return;
	/* Each SSL holds its own reference to the context. */
	SSL_CTX_free(ts->ctx);
	free(ts);
}

SSL *
tlsserver_accept(struct tlsserver *ts, int fd)
{
	SSL	*ssl;

	if ((ssl = SSL_new(ts->ctx)) == NULL)
		return NULL;
	/* A socket BIO that leaves the descriptor open: io.c owns it. */
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

SSL_CTX *
tlsserver_ctx(struct tlsserver *ts)
{
	return ts->ctx;
}
