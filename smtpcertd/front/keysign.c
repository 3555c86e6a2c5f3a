/*
 * Listener keys without their private half (issue 14).  The keys process
 * (keys.c) holds the private keys; the front, which parses every byte
 * from the network, holds only certificates and asks for each private-key
 * operation of a handshake over imsg.
 *
 * How a handshake waits without blocking the front: the listeners'
 * contexts run handshakes in OpenSSL asynchronous jobs (SSL_MODE_ASYNC,
 * set by tlsserver.c for such keys).  The key below is an ordinary RSA
 * or EC key holding only the public half, with an RSA_METHOD /
 * EC_KEY_METHOD whose private operation sends the request and
 * ASYNC_pause_job()s.  SSL_do_handshake() then returns
 * SSL_ERROR_WANT_ASYNC, the front goes on with other sessions, and when
 * the answer arrives io_async_wake() runs the handshake step again, which
 * resumes the job where it paused.  libssl has no other way to suspend a
 * handshake in the middle of a signature: an OpenSSL 3 provider would
 * need the same asynchronous job, with several times the code for the
 * key management and signature tables.  The methods are deprecated in
 * OpenSSL 3.0 but kept there (OpenSMTPD's ca.c relies on them too); a
 * provider is the way on once they go.
 *
 * RSA: OpenSSL pads (PKCS#1 v1.5 DigestInfo, or PSS for TLS 1.3 and
 * rsa_pss_rsae) and hands us the private encryption with
 * RSA_PKCS1_PADDING or RSA_NO_PADDING; we pass the padding on.  RSA key
 * exchange needs a private decryption: the contexts with such keys leave
 * out the RSA key-exchange suites (tlsserver.c), so it is never asked.
 * ECDSA: the digest goes over, DER comes back.
 *
 * Keys are named by the SHA-256 of their SubjectPublicKeyInfo, so a
 * reload that changes keys needs nothing but the new certificates here
 * and the new keys there.  A keys process that dies fails the operations
 * in flight (peerreq.c) and with them only those handshakes; the parent
 * restarts it.
 */
/* The RSA_METHOD and EC_KEY_METHOD API: see above. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/async.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "childproc.h"
#include "imsg.h"
#include "io.h"
#include "keysign.h"
#include "log.h"
#include "peerreq.h"
#include "proto.h"
#include "stats.h"

/* Seconds an operation may take before its handshake fails. */
#define KEYSIGN_TIMEOUT		10
/* Operations in flight; more fail at once (the keys process is behind
 * by then anyway). */
#define KEYSIGN_MAX_PENDING	4096

/* One operation, on the stack of the paused handshake job. */
struct ks_op {
	TAILQ_ENTRY(ks_op)	 entry;
	struct io		*io;
	uint64_t		 reqid;
	uint8_t			*out;
	size_t			 outmax;
	size_t			 outlen;
	int			 done;
	int			 ok;
};

static TAILQ_HEAD(, ks_op)	 ks_ops = TAILQ_HEAD_INITIALIZER(ks_ops);
static struct peerreq_table	*ks_tab;
static RSA_METHOD		*ks_rsa_meth;
static EC_KEY_METHOD		*ks_ec_meth;
static int			 ks_rsa_idx = -1, ks_ec_idx = -1;

static int	ks_rsa_priv_enc(int, const unsigned char *, unsigned char *,
		    RSA *, int);
static int	ks_rsa_priv_dec(int, const unsigned char *, unsigned char *,
		    RSA *, int);
static int	ks_ec_sign(int, const unsigned char *, int, unsigned char *,
		    unsigned int *, const BIGNUM *, const BIGNUM *, EC_KEY *);
static ECDSA_SIG *ks_ec_sign_sig(const unsigned char *, int, const BIGNUM *,
		    const BIGNUM *, EC_KEY *);
static void	ks_hash_free(void *, void *, CRYPTO_EX_DATA *, int, long,
		    void *);
static int	ks_run(const uint8_t *, enum key_op, int,
		    const unsigned char *, size_t, unsigned char *, size_t);
static void	ks_done(void *, struct imsg *, const char *);
static void	ks_abort(struct io *);

void
keysign_init(void)
{
	int	(*sign_setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **);

	if (!ASYNC_is_capable())
		fatalx("OpenSSL here cannot run asynchronous jobs: the "
		    "listeners' keys cannot stay out of the front");
	if ((ks_rsa_meth = RSA_meth_dup(RSA_PKCS1_OpenSSL())) == NULL ||
	    RSA_meth_set1_name(ks_rsa_meth, "smtpcertd keys process") != 1 ||
	    RSA_meth_set_priv_enc(ks_rsa_meth, ks_rsa_priv_enc) != 1 ||
	    RSA_meth_set_priv_dec(ks_rsa_meth, ks_rsa_priv_dec) != 1)
		fatalx("%s: RSA method", __func__);
	if ((ks_ec_meth = EC_KEY_METHOD_new(EC_KEY_OpenSSL())) == NULL)
		fatalx("%s: EC method", __func__);
	EC_KEY_METHOD_get_sign(EC_KEY_OpenSSL(), NULL, &sign_setup, NULL);
	EC_KEY_METHOD_set_sign(ks_ec_meth, ks_ec_sign, sign_setup,
	    ks_ec_sign_sig);
	ks_rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL, ks_hash_free);
	ks_ec_idx = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL,
	    ks_hash_free);
	if (ks_rsa_idx < 0 || ks_ec_idx < 0)
		fatalx("%s: ex_data", __func__);
	io_set_async_abort(ks_abort);
}

void
keysign_start(struct childproc *cp)
{
	if (ks_tab == NULL)
		ks_tab = peerreq_table_new(cp, PROC_KEYS, "keys",
		    KEYSIGN_MAX_PENDING);
}

static void
ks_hash_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	free(ptr);
}

/* The name both processes give a key: SHA-256 of its public key. */
static uint8_t *
ks_spki_hash(EVP_PKEY *pub)
{
	unsigned char	*der = NULL;
	uint8_t		*h;
	int		 len;

	if ((len = i2d_PUBKEY(pub, &der)) <= 0)
		return NULL;
	if ((h = malloc(KEY_SPKI_HASH_LEN)) == NULL)
		fatal(NULL);
	SHA256(der, (size_t)len, h);
	OPENSSL_free(der);
	return h;
}

EVP_PKEY *
keysign_pkey(X509 *cert, char *err, size_t errlen)
{
	EVP_PKEY	*pub, *pkey = NULL;
	RSA		*rsa = NULL;
	EC_KEY		*ec = NULL;
	uint8_t		*hash;

	if ((pub = X509_get0_pubkey(cert)) == NULL) {
		snprintf(err, errlen, "certificate without a usable key");
		return NULL;
	}
	if ((hash = ks_spki_hash(pub)) == NULL) {
		snprintf(err, errlen, "cannot encode the certificate's key");
		return NULL;
	}
	switch (EVP_PKEY_get_base_id(pub)) {
	case EVP_PKEY_RSA:
		if ((rsa = RSAPublicKey_dup(EVP_PKEY_get0_RSA(pub))) == NULL ||
		    RSA_set_method(rsa, ks_rsa_meth) != 1 ||
		    RSA_set_ex_data(rsa, ks_rsa_idx, hash) != 1)
			break;
		hash = NULL;	/* the key owns it */
		if ((pkey = EVP_PKEY_new()) == NULL ||
		    EVP_PKEY_assign_RSA(pkey, rsa) != 1)
			break;
		return pkey;
	case EVP_PKEY_EC:
		if ((ec = EC_KEY_dup(EVP_PKEY_get0_EC_KEY(pub))) == NULL ||
		    EC_KEY_set_method(ec, ks_ec_meth) != 1 ||
		    EC_KEY_set_ex_data(ec, ks_ec_idx, hash) != 1)
			break;
		hash = NULL;
		if ((pkey = EVP_PKEY_new()) == NULL ||
		    EVP_PKEY_assign_EC_KEY(pkey, ec) != 1)
			break;
		return pkey;
	default:
		free(hash);
		snprintf(err, errlen, "%s keys are not supported (RSA and "
		    "ECDSA are)", OBJ_nid2sn(EVP_PKEY_get_base_id(pub)));
		return NULL;
	}
	/* A failure before the key took rsa or ec. */
	free(hash);
	if (pkey != NULL) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	} else {
		RSA_free(rsa);
		EC_KEY_free(ec);
	}
	snprintf(err, errlen, "cannot build the certificate's key");
	return NULL;
}

/*
 * Ask the keys process and wait for the answer inside the handshake's
 * job.  The output length, or -1.
 */
static int
ks_run(const uint8_t *hash, enum key_op op, int padding,
    const unsigned char *in, size_t inlen, unsigned char *out, size_t outmax)
{
	struct ks_op	 o;
	struct msgbuild	 m;
	struct io	*io;

	if (hash == NULL || inlen > KEY_OP_MAX)
		return -1;
	if (ASYNC_get_current_job() == NULL ||
	    (io = io_async_current()) == NULL || ks_tab == NULL) {
		/* Blocking here would stall every session. */
		log_warnx("private-key operation outside an asynchronous "
		    "handshake: refused");
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.io = io;
	o.out = out;
	o.outmax = outmax;
	msg_init(&m);
	msg_put_data(&m, hash, KEY_SPKI_HASH_LEN);
	msg_put_u32(&m, (uint32_t)op);
	msg_put_u32(&m, (uint32_t)padding);
	msg_put_data(&m, in, inlen);
	TAILQ_INSERT_TAIL(&ks_ops, &o, entry);
	o.reqid = peerreq_send(ks_tab, &m, IMSG_KEY_OP_REQ, KEYSIGN_TIMEOUT,
	    ks_done, &o);
	msg_free(&m);
	stats_inc(STAT_KEYS_OPS);
	while (!o.done) {
		/* Back to SSL_do_handshake(), which returns WANT_ASYNC;
		 * io_async_wake() calls it again to resume here. */
		if (ASYNC_pause_job() != 1) {
			peerreq_cancel(ks_tab, o.reqid);
			break;
		}
	}
	TAILQ_REMOVE(&ks_ops, &o, entry);
	if (!o.ok) {
		stats_inc(STAT_KEYS_FAILED);
		return -1;
	}
	return (int)o.outlen;
}

/* peerreq.c: the answer, or why there is none. */
static void
ks_done(void *arg, struct imsg *imsg, const char *why)
{
	struct ks_op		*o = arg;
	struct msgreader	 r;
	const void		*p;
	size_t			 len;
	uint32_t		 ok;

	o->done = 1;
	if (imsg == NULL) {
		log_warnx("private-key operation failed: keys process %s",
		    why);
	} else {
		msg_reader(&r, imsg);
		ok = msg_get_u32(&r);
		p = msg_get_data(&r, &len, KEY_OP_MAX);
		if (msg_end(&r) == -1)
			fatalx("malformed %s from keys",
			    imsg_type_name(imsg->hdr.type));
		if (ok == 1 && len > 0 && len <= o->outmax) {
			memcpy(o->out, p, len);
			o->outlen = len;
			o->ok = 1;
		} else if (ok == 1)
			log_warnx("private-key operation: answer of %zu "
			    "bytes, room for %zu", len, o->outmax);
		else
			log_warnx("private-key operation refused by the keys "
			    "process (see its log)");
	}
	io_async_wake(o->io);
}

/* io.c: the io goes away while its handshake waits on us. */
static void
ks_abort(struct io *io)
{
	struct ks_op	*o;

	TAILQ_FOREACH(o, &ks_ops, entry)
		if (o->io == io && !o->done) {
			peerreq_cancel(ks_tab, o->reqid);
			o->done = 1;
		}
}

void
keysign_dispatch(struct imsg *imsg)
{
	if (ks_tab == NULL)
		return;
	if (imsg != NULL && imsg->hdr.type != IMSG_KEY_OP_RES)
		fatalx("unexpected %s from keys",
		    imsg_type_name(imsg->hdr.type));
	peerreq_dispatch(ks_tab, imsg);
}

static int
ks_rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	if (flen < 0 || (padding != RSA_PKCS1_PADDING &&
	    padding != RSA_NO_PADDING))
		return -1;
	return ks_run(RSA_get_ex_data(rsa, ks_rsa_idx), KEY_OP_RSA_SIGN,
	    padding, from, (size_t)flen, to, (size_t)RSA_size(rsa));
}

/* Never asked: no RSA key exchange with these keys (see above). */
static int
ks_rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	return -1;
}

static int
ks_ec_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
    unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec)
{
	int	 n;

	if (dlen < 0 || (n = ks_run(EC_KEY_get_ex_data(ec, ks_ec_idx),
	    KEY_OP_ECDSA_SIGN, 0, dgst, (size_t)dlen, sig,
	    (size_t)ECDSA_size(ec))) < 0) {
		*siglen = 0;
		return 0;
	}
	*siglen = (unsigned int)n;
	return 1;
}

static ECDSA_SIG *
ks_ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
    const BIGNUM *r, EC_KEY *ec)
{
	unsigned char		 der[256];
	const unsigned char	*p = der;
	int			 n;

	if (dlen < 0 || ECDSA_size(ec) > (int)sizeof(der) ||
	    (n = ks_run(EC_KEY_get_ex_data(ec, ks_ec_idx),
	    KEY_OP_ECDSA_SIGN, 0, dgst, (size_t)dlen, der, sizeof(der))) < 0)
		return NULL;
	return d2i_ECDSA_SIG(NULL, &p, n);
}
