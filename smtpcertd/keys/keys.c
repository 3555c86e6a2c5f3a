/*
 * The keys process (issue 14): holds the listeners' private keys and does
 * the private-key operation of each handshake for the front, which holds
 * only the certificates (keysign.c).  If the front, which parses every
 * byte from the network, is ever compromised, the keys do not go with it:
 * it can ask for signatures while it runs, not take the keys.
 *
 * Like the front it is smtpcertd itself (-T keys), started, watched and
 * restarted by the parent, chrooted to the same empty directory,
 * unprivileged and sandboxed tighter than the front: no network, no
 * files.  Its only peer is the front.  It answers in order, one operation
 * at a time: an RSA-2048 signature is about a millisecond, and the front
 * never waits on it (its handshakes are paused jobs meanwhile).
 *
 * A key is named by the SHA-256 of its public key (proto.h), so a reload
 * is just a new table.  Every request is checked: known key, operation
 * matching the key type, padding and length within bounds; anything else
 * gets a refusal and a log line.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "childproc.h"
#include "compat.h"
#include "config.h"
#include "confmsg.h"
#include "imsg.h"
#include "log.h"
#include "proto.h"
#include "sandbox.h"
#include "smtpcertd.h"

/* Signing contexts, initialised once per key and padding: the
 * operation's fetch is done once, not per handshake. */
enum { KEYS_CTX_PKCS1, KEYS_CTX_RAW, KEYS_CTX_ECDSA, KEYS_CTX_MAX };

struct key_entry {
	uint8_t		 hash[KEY_SPKI_HASH_LEN];
	EVP_PKEY	*pkey;
	EVP_PKEY_CTX	*ctx[KEYS_CTX_MAX];
	char		 name[CONF_NAME_MAX];	/* the pki's, for logs */
};

struct keys {
	struct childproc	*cp;
	struct key_entry	*keys;
	size_t			 nkeys;
};

static struct keys	 keys_state;

static int
keys_nopass(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static void
keys_table_free(struct key_entry *t, size_t n)
{
	size_t	 i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < KEYS_CTX_MAX; j++)
			EVP_PKEY_CTX_free(t[i].ctx[j]);
		EVP_PKEY_free(t[i].pkey);
	}
	free(t);
}

static int
keys_hash(EVP_PKEY *pkey, uint8_t hash[KEY_SPKI_HASH_LEN])
{
	unsigned char	*der = NULL;
	int		 len;

	if ((len = i2d_PUBKEY(pkey, &der)) <= 0)
		return -1;
	SHA256(der, (size_t)len, hash);
	OPENSSL_free(der);
	return 0;
}

/* The key pairs of a new generation; the blobs are wiped once read. */
static int
keys_config(struct childproc *cp, struct conf_bundle *nb,
    struct conf_bundle *ob)
{
	const struct conf_blob	*cb;
	struct key_entry	*t, *e;
	size_t			 n = 0, i;
	BIO			*bio;
	EVP_PKEY		*pkey;

	keys_state.cp = cp;
	TAILQ_FOREACH(cb, &nb->blobs, entry)
		if (cb->type == IMSG_CONF_PKI)
			n++;
	if ((t = calloc(n ? n : 1, sizeof(*t))) == NULL)
		fatal(NULL);
	n = 0;
	TAILQ_FOREACH(cb, &nb->blobs, entry) {
		if (cb->type != IMSG_CONF_PKI)
			continue;
		if (cb->blen == 0 || cb->blen > INT32_MAX ||
		    (bio = BIO_new_mem_buf(cb->b, (int)cb->blen)) == NULL) {
			log_warnx("pki %s: no private key", cb->name);
			continue;
		}
		pkey = PEM_read_bio_PrivateKey(bio, NULL, keys_nopass, NULL);
		BIO_free(bio);
		ERR_clear_error();
		if (pkey == NULL) {
			/* The parent checked the pair (load.c); say so if
			 * it still happens. */
			log_warnx("pki %s: unreadable private key", cb->name);
			continue;
		}
		e = &t[n];
		if (keys_hash(pkey, e->hash) == -1) {
			log_warnx("pki %s: cannot encode the public key",
			    cb->name);
			EVP_PKEY_free(pkey);
			continue;
		}
		for (i = 0; i < n; i++)
			if (memcmp(t[i].hash, e->hash, sizeof(e->hash)) == 0)
				break;
		if (i < n) {		/* the same key under two names */
			EVP_PKEY_free(pkey);
			continue;
		}
		e->pkey = pkey;
		strlcpy(e->name, cb->name, sizeof(e->name));
		n++;
	}
	/* Our copies of the PEM go; the EVP_PKEYs are all we keep. */
	conf_bundle_wipe(nb, IMSG_CONF_PKI);
	keys_table_free(keys_state.keys, keys_state.nkeys);
	keys_state.keys = t;
	keys_state.nkeys = n;
	log_debug("%zu private key%s", n, n == 1 ? "" : "s");
	return 0;
}

static struct key_entry *
keys_find(const uint8_t *hash)
{
	size_t	 i;

	for (i = 0; i < keys_state.nkeys; i++)
		if (memcmp(keys_state.keys[i].hash, hash, KEY_SPKI_HASH_LEN)
		    == 0)
			return &keys_state.keys[i];
	return NULL;
}

/* The operation; the output length, or 0 with why set. */
static size_t
keys_op(struct key_entry *k, uint32_t op, uint32_t padding,
    const uint8_t *in, size_t inlen, uint8_t *out, size_t outmax,
    const char **why)
{
	EVP_PKEY_CTX	**ctx;
	size_t		 outlen = outmax;
	int		 type = EVP_PKEY_get_base_id(k->pkey);

	if (op == KEY_OP_RSA_SIGN) {
		if (type != EVP_PKEY_RSA) {
			*why = "RSA operation on a non-RSA key";
			return 0;
		}
		if (padding != RSA_PKCS1_PADDING &&
		    padding != RSA_NO_PADDING) {
			*why = "padding not allowed";
			return 0;
		}
		if ((size_t)EVP_PKEY_get_size(k->pkey) > outmax ||
		    (padding == RSA_NO_PADDING &&
		    inlen != (size_t)EVP_PKEY_get_size(k->pkey))) {
			*why = "input length";
			return 0;
		}
	} else if (op == KEY_OP_ECDSA_SIGN) {
		if (type != EVP_PKEY_EC) {
			*why = "ECDSA operation on a non-EC key";
			return 0;
		}
		/* A digest: SHA-1 to SHA-512. */
		if (inlen < 20 || inlen > 64) {
			*why = "digest length";
			return 0;
		}
	} else {
		*why = "unknown operation";
		return 0;
	}
	ctx = &k->ctx[op == KEY_OP_ECDSA_SIGN ? KEYS_CTX_ECDSA :
	    padding == RSA_PKCS1_PADDING ? KEYS_CTX_PKCS1 : KEYS_CTX_RAW];
	/* No digest set: RSA PKCS#1 pads the input as given (OpenSSL made
	 * the DigestInfo), ECDSA signs it as the digest. */
	if (*ctx == NULL) {
		if ((*ctx = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL)
			fatal(NULL);
		if (EVP_PKEY_sign_init(*ctx) != 1 ||
		    (op == KEY_OP_RSA_SIGN && EVP_PKEY_CTX_set_rsa_padding(
		    *ctx, (int)padding) != 1)) {
			EVP_PKEY_CTX_free(*ctx);
			*ctx = NULL;
			*why = "cannot set up the signature";
			ERR_clear_error();
			return 0;
		}
	}
	if (EVP_PKEY_sign(*ctx, out, &outlen, in, inlen) != 1) {
		*why = "signature failed";
		outlen = 0;
	}
	ERR_clear_error();
	return outlen;
}

static void
keys_request(struct childproc *cp, int slot, struct imsg *imsg)
{
	struct key_entry	*k;
	struct msgreader	 r;
	struct msgbuild		 m;
	const void		*hash, *in;
	size_t			 hashlen, inlen, outlen = 0;
	uint32_t		 op, padding;
	uint8_t			 out[KEY_OP_MAX];
	const char		*why = NULL;

	msg_reader(&r, imsg);
	hash = msg_get_data(&r, &hashlen, KEY_SPKI_HASH_LEN);
	op = msg_get_u32(&r);
	padding = msg_get_u32(&r);
	in = msg_get_data(&r, &inlen, KEY_OP_MAX);
	if (msg_end(&r) == -1 || hashlen != KEY_SPKI_HASH_LEN)
		fatalx("malformed %s from front",
		    imsg_type_name(imsg->hdr.type));
	if ((k = keys_find(hash)) == NULL)
		why = "no such key (reloaded?)";
	else
		outlen = keys_op(k, op, padding, in, inlen, out, sizeof(out),
		    &why);
	if (outlen == 0)
		log_warnx("private-key operation refused: %s%s%s", why,
		    k != NULL ? ", pki " : "", k != NULL ? k->name : "");
	msg_init(&m);
	msg_put_u32(&m, outlen > 0);
	msg_put_data(&m, out, outlen);
	/* To the front that asked: each has its own channel. */
	if (childproc_peer_send(cp, slot, &m, IMSG_KEY_OP_RES, 0,
	    imsg->hdr.reqid, -1) == -1)
		log_debug("front gone before its key answer");
	explicit_bzero(out, sizeof(out));
	msg_free(&m);
}

static void
keys_peer(struct childproc *cp, int proc, struct imsg *imsg)
{
	if (imsg == NULL)
		return;		/* the front is gone; a new one reconnects */
	if (slot_proc(proc) != PROC_FRONT ||
	    imsg->hdr.type != IMSG_KEY_OP_REQ)
		fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
		    proc_name(proc));
	keys_request(cp, proc, imsg);
}

static void
keys_parent(struct childproc *cp, struct imsg *imsg)
{
	fatalx("unexpected %s from parent", imsg_type_name(imsg->hdr.type));
}

static const char *
keys_chroot(struct childproc *cp)
{
	return cp->conf->conf->chroot;
}

static void
keys_preinit(struct childproc *cp)
{
	/* OpenSSL's configuration, while files can still be read. */
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1)
		fatalx("OPENSSL_init_crypto");
}

static void
keys_sandboxed(struct childproc *cp)
{
	keys_state.cp = cp;
	sandbox_keys();
}

static void
keys_shutdown(struct childproc *cp)
{
	keys_table_free(keys_state.keys, keys_state.nkeys);
	keys_state.keys = NULL;
	keys_state.nkeys = 0;
}

static const struct childproc_ops keys_ops = {
	.proc = PROC_KEYS,
	.peers = 1U << PROC_FRONT,
	.preinit = keys_preinit,
	.chroot_dir = keys_chroot,
	.sandbox = keys_sandboxed,
	.config = keys_config,
	.parent_imsg = keys_parent,
	.peer_imsg = keys_peer,
	.shutdown = keys_shutdown,
};

int
keys_main(int foreground, int verbose)
{
	return childproc_main(&keys_ops, foreground, verbose, &keys_state);
}
