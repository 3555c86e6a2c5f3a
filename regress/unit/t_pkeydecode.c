/*
 * Unit tests for common/pkeydecode.c: once it is on, certificates' EC,
 * RSA and RSA-PSS keys are decoded the direct way, and everything that
 * uses them still accepts what is valid and refuses what is not:
 * certificate signatures, chain verification, raw signatures in every
 * padding TLS uses, and TLS 1.2 and 1.3 handshakes with client
 * certificates on the listeners' own server context (tlsserver.c).
 *
 * All keys and certificates are made here with libcrypto.
 */
#include <sys/socket.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "pkeydecode.h"
#include "test.h"
#include "tlsserver.h"

enum kt { KT_EC, KT_RSA, KT_PSS };

struct party {
	EVP_PKEY	*key;
	X509		*cert;
	unsigned char	*der;
	int		 derlen;
};

static struct party	 ecca, rsaca, otherca, server;
static struct party	 eclf, rsalf, psslf, stray, forged, impostor;

static EVP_PKEY	*mkkey(enum kt);
static void	 mkparty(struct party *, enum kt, const char *,
		    struct party *, int);
static X509	*decode(const struct party *);
static char	*bio_string(BIO *);
static char	*pem_cert(X509 *, X509 *);
static char	*pem_key(EVP_PKEY *);
static int	 handshake(struct tlsserver *, const struct party *,
		    EVP_PKEY *, int, const char *, const char *, long *);

static void	test_slow_path_before_init(void);
static void	test_init_is_idempotent(void);
static void	test_keys_take_direct_path(void);
static void	test_certificate_signatures(void);
static void	test_raw_signatures_every_padding(void);
static void	test_chain_verification(void);
static void	test_tls_client_certificates(void);

static EVP_PKEY *
mkkey(enum kt kt)
{
	EVP_PKEY	*k = NULL;
	EVP_PKEY_CTX	*pc;

	switch (kt) {
	case KT_EC:
		k = EVP_EC_gen("P-256");
		break;
	case KT_RSA:
		k = EVP_RSA_gen(2048);
		break;
	case KT_PSS:
		/* EVP_PKEY_Q_keygen() knows only RSA and EC. */
		if ((pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS",
		    NULL)) == NULL || EVP_PKEY_keygen_init(pc) != 1 ||
		    EVP_PKEY_CTX_set_rsa_keygen_bits(pc, 2048) != 1 ||
		    EVP_PKEY_keygen(pc, &k) != 1)
			k = NULL;
		EVP_PKEY_CTX_free(pc);
		break;
	}
	if (k == NULL) {
		ERR_print_errors_fp(stderr);
		fatalx("key generation");
	}
	return k;
}

/* A certificate for p signed by issuer (NULL: self-signed CA). */
static void
mkparty(struct party *p, enum kt kt, const char *cn, struct party *issuer,
    int isca)
{
	X509V3_CTX	 v3;
	X509_EXTENSION	*ext;
	X509_NAME	*n;
	X509		*x;
	unsigned char	*der = NULL;

	p->key = mkkey(kt);
	if ((x = X509_new()) == NULL || (n = X509_NAME_new()) == NULL)
		fatalx("X509_new");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffffff));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) :
	    n);
	X509_NAME_free(n);
	X509_set_pubkey(x, p->key);
	X509V3_set_ctx(&v3, issuer ? issuer->cert : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    isca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		fatalx("basicConstraints");
	X509_EXTENSION_free(ext);
	if (!X509_sign(x, issuer ? issuer->key : p->key, EVP_sha256())) {
		ERR_print_errors_fp(stderr);
		fatalx("X509_sign");
	}
	p->cert = x;
	if ((p->derlen = i2d_X509(x, &der)) <= 0)
		fatalx("i2d_X509");
	p->der = der;
}

/* What OpenSSL makes of the certificate's bytes, as a peer would. */
static X509 *
decode(const struct party *p)
{
	const unsigned char	*q = p->der;
	X509			*x;

	x = d2i_X509(NULL, &q, p->derlen);
	CHECK(x != NULL && q == p->der + p->derlen);
	return x;
}

/* What was written to a memory BIO, as a string; the BIO is freed. */
static char *
bio_string(BIO *bio)
{
	char	*data, *s;
	long	 len;

	len = BIO_get_mem_data(bio, &data);
	if ((s = strndup(data, (size_t)len)) == NULL)
		fatalx("strndup");
	BIO_free(bio);
	return s;
}

static char *
pem_cert(X509 *a, X509 *b)
{
	BIO	*bio;

	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(bio, a) ||
	    (b != NULL && !PEM_write_bio_X509(bio, b)))
		fatalx("PEM_write_bio_X509");
	return bio_string(bio);
}

static char *
pem_key(EVP_PKEY *k)
{
	BIO	*bio;

	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL))
		fatalx("PEM_write_bio_PrivateKey");
	return bio_string(bio);
}

/* Keys decoded before pkeydecode_init() come from a provider: this is
 * what makes the next test's check mean something. */
static void
test_slow_path_before_init(void)
{
	X509	*x = decode(&eclf);

	CHECK(x != NULL && X509_get0_pubkey(x) != NULL &&
	    EVP_PKEY_get0_provider(X509_get0_pubkey(x)) != NULL);
	X509_free(x);
}

static void
test_init_is_idempotent(void)
{
	CHECK(pkeydecode_init() == 1);
	CHECK(pkeydecode_init() == 1);
}

static void
test_keys_take_direct_path(void)
{
	const struct party	*p[] = { &eclf, &rsalf, &psslf };
	const int		 id[] = { EVP_PKEY_EC, EVP_PKEY_RSA,
				    EVP_PKEY_RSA_PSS };
	const int		 bits[] = { 256, 2048, 2048 };
	char			 group[64];
	size_t			 glen;
	EVP_PKEY		*k;
	X509			*x;
	unsigned int		 i;

	for (i = 0; i < 3; i++) {
		if ((x = decode(p[i])) == NULL)
			continue;
		k = X509_get0_pubkey(x);
		CHECK(k != NULL);
		if (k == NULL) {
			X509_free(x);
			continue;
		}
		/* No provider: the direct (legacy) decoder made it. */
		CHECK(EVP_PKEY_get0_provider(k) == NULL);
		CHECK(EVP_PKEY_get_base_id(k) == id[i]);
		CHECK(EVP_PKEY_get_bits(k) == bits[i]);
		CHECK(EVP_PKEY_eq(k, p[i]->key) == 1);
		if (id[i] == EVP_PKEY_EC) {
			CHECK(EVP_PKEY_get_group_name(k, group, sizeof(group),
			    &glen) == 1);
			CHECK(strcmp(group, "prime256v1") == 0);
		}
		X509_free(x);
	}
}

static void
test_certificate_signatures(void)
{
	X509		*ca, *rca, *leaf, *bad;
	unsigned char	*der;
	const unsigned char *q;

	ca = decode(&ecca);
	rca = decode(&rsaca);
	/* EC-signed RSA and RSA-PSS keys, an RSA-signed EC key. */
	leaf = decode(&rsalf);
	CHECK(X509_verify(leaf, X509_get0_pubkey(ca)) == 1);
	CHECK(X509_verify(leaf, X509_get0_pubkey(rca)) != 1);
	X509_free(leaf);
	leaf = decode(&psslf);
	CHECK(X509_verify(leaf, X509_get0_pubkey(ca)) == 1);
	X509_free(leaf);
	leaf = decode(&eclf);
	CHECK(X509_verify(leaf, X509_get0_pubkey(rca)) == 1);
	CHECK(X509_verify(leaf, X509_get0_pubkey(ca)) != 1);
	X509_free(leaf);
	/* The RSA CA's own signature, and a forged byte in it. */
	CHECK(X509_verify(rca, X509_get0_pubkey(rca)) == 1);
	if ((der = malloc((size_t)rsaca.derlen)) == NULL)
		fatalx("malloc");
	memcpy(der, rsaca.der, (size_t)rsaca.derlen);
	der[rsaca.derlen - 7] ^= 0x01;	/* inside the signature */
	q = der;
	bad = d2i_X509(NULL, &q, rsaca.derlen);
	CHECK(bad != NULL);
	if (bad != NULL)
		CHECK(X509_verify(bad, X509_get0_pubkey(rca)) != 1);
	X509_free(bad);
	free(der);
	X509_free(ca);
	X509_free(rca);
}

/* sign with the private key, verify with the decoded certificate key */
static int
sigcheck(const struct party *p, int padding, int tamper)
{
	unsigned char	 msg[200], sig[512];
	size_t		 siglen = sizeof(sig);
	EVP_MD_CTX	*mc;
	EVP_PKEY_CTX	*pc;
	X509		*x;
	int		 ok = -2;

	RAND_bytes(msg, sizeof(msg));
	if ((mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mc, &pc, EVP_sha256(), NULL, p->key) != 1 ||
	    (padding && EVP_PKEY_CTX_set_rsa_padding(pc, padding) != 1) ||
	    (padding == RSA_PKCS1_PSS_PADDING &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) != 1) ||
	    EVP_DigestSign(mc, sig, &siglen, msg, sizeof(msg)) != 1)
		fatalx("EVP_DigestSign");
	EVP_MD_CTX_free(mc);
	if (tamper)
		msg[0] ^= 0x80;
	if ((x = decode(p)) == NULL)
		return ok;
	if ((mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mc, &pc, EVP_sha256(), NULL,
	    X509_get0_pubkey(x)) != 1 ||
	    (padding && EVP_PKEY_CTX_set_rsa_padding(pc, padding) != 1) ||
	    (padding == RSA_PKCS1_PSS_PADDING &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) != 1))
		fatalx("EVP_DigestVerifyInit");
	ok = EVP_DigestVerify(mc, sig, siglen, msg, sizeof(msg));
	EVP_MD_CTX_free(mc);
	X509_free(x);
	ERR_clear_error();
	return ok;
}

static void
test_raw_signatures_every_padding(void)
{
	CHECK(sigcheck(&eclf, 0, 0) == 1);
	CHECK(sigcheck(&eclf, 0, 1) != 1);
	CHECK(sigcheck(&rsalf, RSA_PKCS1_PADDING, 0) == 1);
	CHECK(sigcheck(&rsalf, RSA_PKCS1_PADDING, 1) != 1);
	CHECK(sigcheck(&rsalf, RSA_PKCS1_PSS_PADDING, 0) == 1);
	CHECK(sigcheck(&rsalf, RSA_PKCS1_PSS_PADDING, 1) != 1);
	CHECK(sigcheck(&psslf, RSA_PKCS1_PSS_PADDING, 0) == 1);
	CHECK(sigcheck(&psslf, RSA_PKCS1_PSS_PADDING, 1) != 1);
}

static int
chain_ok(const struct party *leaf, const struct party *anchor)
{
	X509_STORE	*st;
	X509_STORE_CTX	*sc;
	X509		*x, *a;
	int		 ok;

	x = decode(leaf);
	a = decode(anchor);
	if ((st = X509_STORE_new()) == NULL || !X509_STORE_add_cert(st, a) ||
	    (sc = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(sc, st, x, NULL))
		fatalx("X509_STORE");
	ok = X509_verify_cert(sc);
	X509_STORE_CTX_free(sc);
	X509_STORE_free(st);
	X509_free(x);
	X509_free(a);
	ERR_clear_error();
	return ok;
}

static void
test_chain_verification(void)
{
	CHECK(chain_ok(&rsalf, &ecca) == 1);
	CHECK(chain_ok(&psslf, &ecca) == 1);
	CHECK(chain_ok(&eclf, &rsaca) == 1);
	CHECK(chain_ok(&rsalf, &otherca) != 1);
	CHECK(chain_ok(&eclf, &ecca) != 1);
}

/*
 * One handshake over a socketpair: the listeners' server context against
 * a libssl client presenting client (with key, which may not be its
 * certificate's).  version 0 lets them agree (TLS 1.3); sigalgs and
 * groups NULL leave the client's lists alone.  1 if both sides finished; *verify is
 * the server's verification result.
 */
static int
handshake(struct tlsserver *ts, const struct party *client, EVP_PKEY *key,
    int version, const char *sigalgs, const char *groups, long *verify)
{
	SSL_CTX	*cctx;
	SSL	*s, *c;
	int	 sv[2], rs = 0, rc = 0, i, e;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		fatal("socketpair");
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	if ((cctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_use_certificate(cctx, client->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(cctx, key) != 1) {
		ERR_print_errors_fp(stderr);
		fatalx("client context");
	}
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	if (version) {
		SSL_CTX_set_min_proto_version(cctx, version);
		SSL_CTX_set_max_proto_version(cctx, version);
	}
	/* What the client signs with; the server's own key (EC) must
	 * stay acceptable. */
	if (sigalgs && SSL_CTX_set1_client_sigalgs_list(cctx, sigalgs) != 1)
		fatalx("sigalgs");
	/* The key exchange: EC groups are key types the engine claims. */
	if (groups && SSL_CTX_set1_groups_list(cctx, groups) != 1)
		fatalx("groups");
	if ((s = tlsserver_accept(ts, sv[0])) == NULL ||
	    (c = SSL_new(cctx)) == NULL || SSL_set_fd(c, sv[1]) != 1)
		fatalx("SSL_new");
	SSL_set_connect_state(c);
	for (i = 0; i < 1000 && (rs != 1 || rc != 1); i++) {
		if (rc != 1 && (rc = SSL_do_handshake(c)) != 1) {
			e = SSL_get_error(c, rc);
			if (e != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE)
				break;
		}
		if (rs != 1 && (rs = SSL_do_handshake(s)) != 1) {
			e = SSL_get_error(s, rs);
			if (e != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE)
				break;
		}
	}
	/* TLS 1.3: the server sees the client's certificate only after
	 * the client considers itself done; a failure reaches the client
	 * with its first read. */
	*verify = SSL_get_verify_result(s);
	if (rs == 1 && SSL_get0_peer_certificate(s) == NULL)
		rs = 0;
	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(cctx);
	close(sv[0]);
	close(sv[1]);
	ERR_clear_error();
	return rs == 1 && rc == 1;
}

static void
test_tls_client_certificates(void)
{
	struct tlsserver	*ts;
	char			*cert, *key, *ca, err[256];
	long			 v;

	cert = pem_cert(server.cert, NULL);
	key = pem_key(server.key);
	ca = pem_cert(ecca.cert, rsaca.cert);
	ts = tlsserver_new((const uint8_t *)cert, strlen(cert),
	    (const uint8_t *)key, strlen(key), (const uint8_t *)ca,
	    strlen(ca), TLSSERVER_VERIFY_REQUIRED, err, sizeof(err));
	CHECK(ts != NULL);
	if (ts == NULL) {
		fprintf(stderr, "  tlsserver_new: %s\n", err);
		goto out;
	}
	/* RSA keys under the EC CA, in every signature scheme. */
	CHECK(handshake(ts, &rsalf, rsalf.key, 0, NULL, NULL, &v) == 1 &&
	    v == X509_V_OK);
	CHECK(handshake(ts, &rsalf, rsalf.key, TLS1_2_VERSION, "RSA+SHA256",
	    NULL, &v) == 1 && v == X509_V_OK);
	CHECK(handshake(ts, &rsalf, rsalf.key, TLS1_2_VERSION,
	    "RSA-PSS+SHA256", NULL, &v) == 1 && v == X509_V_OK);
	CHECK(handshake(ts, &psslf, psslf.key, 0, NULL, NULL, &v) == 1 &&
	    v == X509_V_OK);
	/* ECDHE on NIST curves rather than X25519 (TLS 1.2 needs P-256
	 * listed too: the server's ECDSA certificate is on it). */
	CHECK(handshake(ts, &rsalf, rsalf.key, 0, NULL, "P-384", &v) == 1 &&
	    v == X509_V_OK);
	CHECK(handshake(ts, &eclf, eclf.key, TLS1_2_VERSION, NULL, "P-256",
	    &v) == 1 && v == X509_V_OK);
	/* An EC key under the RSA CA. */
	CHECK(handshake(ts, &eclf, eclf.key, 0, NULL, NULL, &v) == 1 &&
	    v == X509_V_OK);
	CHECK(handshake(ts, &eclf, eclf.key, TLS1_2_VERSION, NULL, NULL,
	    &v) == 1 && v == X509_V_OK);
	/* Refused: a CA the listener does not know; a certificate
	 * naming a known CA that did not sign it, in both versions. */
	CHECK(handshake(ts, &stray, stray.key, 0, NULL, NULL, &v) == 0);
	CHECK(handshake(ts, &forged, forged.key, 0, NULL, NULL, &v) == 0 &&
	    v == X509_V_ERR_CERT_SIGNATURE_FAILURE);
	CHECK(handshake(ts, &forged, forged.key, TLS1_2_VERSION, "RSA+SHA256",
	    NULL, &v) == 0 && v == X509_V_ERR_CERT_SIGNATURE_FAILURE);
	tlsserver_free(ts);
 out:
	free(cert);
	free(key);
	free(ca);
}

int
main(void)
{
	log_init(1, 0);
	srandom(1);
	/* Made before pkeydecode_init(): keys of both origins meet. */
	mkparty(&ecca, KT_EC, "EC test CA", NULL, 1);
	mkparty(&rsaca, KT_RSA, "RSA test CA", NULL, 1);
	mkparty(&otherca, KT_EC, "Other test CA", NULL, 1);
	mkparty(&server, KT_EC, "localhost", &ecca, 0);
	mkparty(&eclf, KT_EC, "ec user", &rsaca, 0);
	mkparty(&rsalf, KT_RSA, "rsa user", &ecca, 0);
	mkparty(&psslf, KT_PSS, "rsa-pss user", &ecca, 0);
	mkparty(&stray, KT_RSA, "stray user", &otherca, 0);
	/* Names the EC CA as its issuer, but another key signed it. */
	impostor.key = otherca.key;
	impostor.cert = ecca.cert;
	mkparty(&forged, KT_RSA, "rsa user", &impostor, 0);

	RUN(test_slow_path_before_init);
	RUN(test_init_is_idempotent);
	RUN(test_keys_take_direct_path);
	RUN(test_certificate_signatures);
	RUN(test_raw_signatures_every_padding);
	RUN(test_chain_verification);
	RUN(test_tls_client_certificates);
	TEST_EXIT();
}
