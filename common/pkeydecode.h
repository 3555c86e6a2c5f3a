/*
 * Fast public-key decoding for certificates on OpenSSL 3.0.
 *
 * OpenSSL 3.0 decodes the public key of every certificate it parses
 * (d2i_X509) through a freshly built OSSL_DECODER context, which costs
 * about 250 us per certificate: a client that sends its chain of three
 * makes that a third of the server's TLS handshake (openssl/openssl
 * issues 17950 and 19119).  When an ENGINE claims the key type, OpenSSL
 * takes its older, direct decoder instead (x509_pubkey_decode()), at a
 * fifth of the cost.  pkeydecode_init() registers a small in-process
 * ENGINE that claims EC, RSA and RSA-PSS keys with OpenSSL's own
 * built-in methods: the same code verifies the same signatures, only the
 * decoding of the key takes the short path.
 *
 * Call it once per process, before any certificate is loaded.  It is a
 * no-op where OpenSSL has no ENGINE support.
 */
#ifndef PKEYDECODE_H
#define PKEYDECODE_H

/* 1 if the fast path is in use, 0 if not (no ENGINE support, or
 * registration failed: certificates still decode, the slow way).  The
 * outcome is logged at debug level. */
int	pkeydecode_init(void);

#endif
