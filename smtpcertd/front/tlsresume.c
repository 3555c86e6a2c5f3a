/*
 * TLS session resumption on the listeners (issue 14 item 2).
 *
 * A smart-card user's client opens several connections (an IMAP client
 * one per folder it watches, a submission client one per message); each
 * full handshake is a signature on the card.  Resumption skips it.
 *
 * Tickets (TLS 1.3, and TLS 1.2 clients that offer them) are encrypted
 * under keys that exist only in memory, never on disk, and a new key
 * takes over every lifetime (the previous one still decrypts, its tickets
 * get renewed).  With several fronts (issue 17) a client's next
 * connection lands on any of them: the keys of each lifetime are derived
 * from a secret the parent makes at start and hands every front
 * (IMSG_TICKET_SEED), HMAC-SHA256(secret, period number), so every
 * front, a restarted one too, has the same keys without talking to the
 * others.  Until the secret arrives a front makes its own with
 * RAND_bytes().  TLS 1.2 session IDs go to a
 * bounded cache per listener context of our own (SSL_SESS_CACHE_NO_INTERNAL
 * and callbacks), because every lookup must pass through us to check
 * the certificate again.
 *
 * Both ways end in certverify_resume(): the session's client
 * certificate through the listener's verifier with the current CRL set,
 * as at a full handshake.  A certificate revoked since (or a path that
 * no longer validates) declines the session; the client's full
 * handshake then refuses it with the usual 554.  A reload that changes
 * what the listener trusts changes the session id context (front.c),
 * and OpenSSL declines sessions of another context by itself.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "certverify.h"
#include "log.h"
#include "stats.h"
#include "tlsresume.h"

/* A ticket key: name (in every ticket), AES-256-CBC and HMAC-SHA256. */
struct tr_key {
	unsigned char	 name[16];
	unsigned char	 aes[32];
	unsigned char	 hmac[32];
	time_t		 born;
	int		 set;
};

/* One cached TLS 1.2 session, indexed by its ID, oldest first. */
struct tr_ent {
	struct tr_ent		*next;		/* hash chain */
	TAILQ_ENTRY(tr_ent)	 age;
	SSL_SESSION		*sess;		/* our reference */
	unsigned int		 len;
	unsigned char		 id[SSL_MAX_SSL_SESSION_ID_LENGTH];
};

struct tr_index {
	struct tr_ent		**bucket;
	size_t			  nbuckets;	/* a power of two */
	TAILQ_HEAD(, tr_ent)	  ages;
	size_t			  n, max;
	unsigned char		  sid_ctx[32];	/* the context's */
};

static struct tr_key	 tr_keys[2];	/* current, previous */
static unsigned char	 tr_seed[TLSRESUME_SEED_LEN];
static int		 tr_seeded;
static int64_t		 tr_lifetime = TLSRESUME_LIFETIME_DEFAULT;
static int		 tr_idx = -1;	/* SSL_CTX -> struct tr_index */

static void
tr_index_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct tr_index	*x = ptr;
	struct tr_ent	*e;

	if (x == NULL)
		return;
	while ((e = TAILQ_FIRST(&x->ages)) != NULL) {
		TAILQ_REMOVE(&x->ages, e, age);
		SSL_SESSION_free(e->sess);
		free(e);
	}
	free(x->bucket);
	free(x);
}

void
tlsresume_init(void)
{
	if ((tr_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    tr_index_free)) < 0)
		fatalx("%s: ex_data", __func__);
}

/* ---------------------------------------------------------------- */
/* Tickets */

void
tlsresume_seed(const unsigned char seed[TLSRESUME_SEED_LEN])
{
	memcpy(tr_seed, seed, sizeof(tr_seed));
	tr_seeded = 1;
	/* Keys of our own until now: from here on, everyone's. */
	explicit_bzero(tr_keys, sizeof(tr_keys));
}

/* The key of period p (lifetimes since the epoch) from the secret. */
static void
tr_derive(struct tr_key *k, int64_t p)
{
	unsigned char	 in[8 + 1], out[3][32];
	size_t		 len;
	int		 i;

	for (i = 0; i < 8; i++)
		in[i] = (unsigned char)((uint64_t)p >> (56 - 8 * i));
	for (i = 0; i < 3; i++) {
		in[8] = (unsigned char)i;	/* name, aes, hmac */
		if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, tr_seed,
		    sizeof(tr_seed), in, sizeof(in), out[i], sizeof(out[i]),
		    &len) == NULL || len != sizeof(out[i]))
			fatalx("HMAC for a ticket key");
	}
	memcpy(k->name, out[0], sizeof(k->name));
	memcpy(k->aes, out[1], sizeof(k->aes));
	memcpy(k->hmac, out[2], sizeof(k->hmac));
	k->born = (time_t)(p * tr_lifetime);
	k->set = 1;
	explicit_bzero(out, sizeof(out));
}

static void
tr_rotate(time_t now)
{
	int64_t	 p;

	if (tr_seeded) {
		/* Periods of one lifetime, the same in every front. */
		if (tr_lifetime < 1)
			tr_lifetime = 1;
		p = (int64_t)now / tr_lifetime;
		if (tr_keys[0].set && tr_keys[0].born == (time_t)(p *
		    tr_lifetime))
			return;
		tr_derive(&tr_keys[0], p);
		tr_derive(&tr_keys[1], p - 1);
		return;
	}
	if (tr_keys[0].set && now - tr_keys[0].born < tr_lifetime)
		return;
	tr_keys[1] = tr_keys[0];
	if (RAND_bytes(tr_keys[0].name, sizeof(tr_keys[0].name)) != 1 ||
	    RAND_bytes(tr_keys[0].aes, sizeof(tr_keys[0].aes)) != 1 ||
	    RAND_bytes(tr_keys[0].hmac, sizeof(tr_keys[0].hmac)) != 1)
		fatalx("RAND_bytes for a ticket key");
	tr_keys[0].born = now;
	tr_keys[0].set = 1;
}

static int
tr_mac_key(EVP_MAC_CTX *hctx, const struct tr_key *k)
{
	OSSL_PARAM	 p[3];

	p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)k->hmac, sizeof(k->hmac));
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, p);
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb(): 1 key found (or made), 2
 * found but old (renew the ticket), 0 unknown, -1 error. */
static int
tr_ticket_key(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct tr_key	*k;
	time_t			 now = time(NULL);
	int			 i;

	tr_rotate(now);
	if (enc) {
		k = &tr_keys[0];
		memcpy(name, k->name, sizeof(k->name));
		if (RAND_bytes(iv, 16) != 1 ||
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1 || tr_mac_key(hctx, k) != 1)
			return -1;
		return 1;
	}
	for (i = 0; i < 2; i++) {
		k = &tr_keys[i];
		/* A key older than two lifetimes can only hold expired
		 * tickets. */
		if (!k->set || now - k->born >= 2 * tr_lifetime ||
		    memcmp(name, k->name, sizeof(k->name)) != 0)
			continue;
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1 || tr_mac_key(hctx, k) != 1)
			return -1;
		return i == 0 ? 1 : 2;
	}
	return 0;
}

/*
 * A session of another session id context (what the listener trusted
 * changed at a reload): OpenSSL declines it after our callbacks, so it
 * is neither checked nor counted here.
 */
static int
tr_other_ctx(SSL *ssl, SSL_SESSION *sess)
{
	struct tr_index		*x;
	const unsigned char	*id;
	unsigned int		 len;

	if ((x = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tr_idx)) == NULL)
		return 1;
	id = SSL_SESSION_get0_id_context(sess, &len);
	return len != sizeof(x->sid_ctx) ||
	    memcmp(id, x->sid_ctx, sizeof(x->sid_ctx)) != 0;
}

/* SSL_CTX_set_session_ticket_cb(): a decrypted ticket's session. */
static SSL_TICKET_RETURN
tr_ticket_decrypted(SSL *ssl, SSL_SESSION *sess, const unsigned char *name,
    size_t namelen, SSL_TICKET_STATUS status, void *arg)
{
	switch (status) {
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW:
		if (tr_other_ctx(ssl, sess))
			return SSL_TICKET_RETURN_IGNORE_RENEW;
		if (!certverify_resume(ssl, sess)) {
			stats_inc(STAT_TLS_RESUME_REFUSED);
			return SSL_TICKET_RETURN_IGNORE_RENEW;
		}
		stats_inc(STAT_TLS_RESUMED);
		return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE :
		    SSL_TICKET_RETURN_USE_RENEW;
	case SSL_TICKET_FATAL_ERR_MALLOC:
	case SSL_TICKET_FATAL_ERR_OTHER:
		return SSL_TICKET_RETURN_ABORT;
	default:
		/* None, empty, or not ours (an old key, another front):
		 * a full handshake and a new ticket. */
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	}
}

/* ---------------------------------------------------------------- */
/* TLS 1.2 session IDs */

static struct tr_ent **
tr_slot(struct tr_index *x, const unsigned char *id, unsigned int len)
{
	struct tr_ent	**pp;
	uint64_t	  h = 1469598103934665603ULL;	/* FNV-1a */
	unsigned int	  i;

	for (i = 0; i < len; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	for (pp = &x->bucket[h & (x->nbuckets - 1)]; *pp != NULL;
	    pp = &(*pp)->next)
		if ((*pp)->len == len && memcmp((*pp)->id, id, len) == 0)
			break;
	return pp;
}

static void
tr_drop(struct tr_index *x, struct tr_ent **pp)
{
	struct tr_ent	*e = *pp;

	*pp = e->next;
	TAILQ_REMOVE(&x->ages, e, age);
	x->n--;
	SSL_SESSION_free(e->sess);
	free(e);
}

static int
tr_expired(SSL_SESSION *sess, time_t now)
{
	return SSL_SESSION_get_time(sess) + SSL_SESSION_get_timeout(sess) <
	    now;
}

/*
 * The cache is ours alone (SSL_SESS_CACHE_NO_INTERNAL): OpenSSL's store
 * would also keep every TLS 1.3 session once a remove callback is set.
 * Bounded by count, oldest out first, expired ones as they come up.
 */
static int
tr_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tr_index	*x;
	struct tr_ent	**pp, *e;
	const unsigned char *id;
	unsigned int	 len;
	time_t		 now = time(NULL);

	/* TLS 1.3 sessions live in their tickets; OpenSSL tells us of
	 * them anyway. */
	if (SSL_SESSION_get_protocol_version(sess) >= TLS1_3_VERSION ||
	    (x = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tr_idx)) == NULL)
		return 0;
	id = SSL_SESSION_get_id(sess, &len);
	if (len == 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH)
		return 0;
	while ((e = TAILQ_FIRST(&x->ages)) != NULL &&
	    (x->n >= x->max || tr_expired(e->sess, now)))
		tr_drop(x, tr_slot(x, e->id, e->len));
	if (*(pp = tr_slot(x, id, len)) != NULL)
		tr_drop(x, pp);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return 0;	/* not resumable, nothing worse */
	memcpy(e->id, id, len);
	e->len = len;
	e->sess = sess;
	*tr_slot(x, id, len) = e;
	TAILQ_INSERT_TAIL(&x->ages, e, age);
	x->n++;
	return 1;	/* the reference OpenSSL took for us is ours */
}

/* OpenSSL gives up on a session (a fatal alert on its connection). */
static void
tr_remove_session(SSL_CTX *ctx, SSL_SESSION *sess)
{
	struct tr_index	*x;
	struct tr_ent	**pp;
	const unsigned char *id;
	unsigned int	 len;

	if ((x = SSL_CTX_get_ex_data(ctx, tr_idx)) == NULL)
		return;
	id = SSL_SESSION_get_id(sess, &len);
	if (len == 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH)
		return;
	if (*(pp = tr_slot(x, id, len)) != NULL && (*pp)->sess == sess)
		tr_drop(x, pp);
}

static SSL_SESSION *
tr_get_session(SSL *ssl, const unsigned char *id, int len, int *copy)
{
	struct tr_index	*x;
	struct tr_ent	**pp;
	SSL_SESSION	*sess;

	*copy = 0;
	if ((x = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tr_idx)) == NULL ||
	    len <= 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH ||
	    *(pp = tr_slot(x, id, (unsigned int)len)) == NULL)
		return NULL;
	sess = (*pp)->sess;
	if (tr_expired(sess, time(NULL)) || tr_other_ctx(ssl, sess)) {
		tr_drop(x, pp);
		return NULL;
	}
	if (!certverify_resume(ssl, sess)) {
		stats_inc(STAT_TLS_RESUME_REFUSED);
		/* Gone for good: the certificate will not get better. */
		tr_drop(x, tr_slot(x, id, (unsigned int)len));
		return NULL;
	}
	stats_inc(STAT_TLS_RESUMED);
	*copy = 1;	/* OpenSSL takes its own reference */
	return sess;
}

void
tlsresume_ctx(SSL_CTX *ctx, int64_t lifetime, int cache,
    const unsigned char sid_ctx[32])
{
	struct tr_index	*x;
	size_t		 n;

	if (SSL_CTX_set_session_id_context(ctx, sid_ctx, 32) != 1)
		fatalx("%s: session id context", __func__);
	if (cache == 0) {
		/* As before: no tickets, no cache. */
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		return;
	}
	/* One lifetime for the whole front: the ticket keys are shared. */
	tr_lifetime = lifetime;
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	/* One ticket a handshake: a client uses each once. */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_timeout(ctx, (long)lifetime);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tr_ticket_key);
	SSL_CTX_set_session_ticket_cb(ctx, NULL, tr_ticket_decrypted, NULL);

	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
	    SSL_SESS_CACHE_NO_INTERNAL);
	if ((x = calloc(1, sizeof(*x))) == NULL)
		fatal(NULL);
	TAILQ_INIT(&x->ages);
	x->max = (size_t)cache;
	memcpy(x->sid_ctx, sid_ctx, sizeof(x->sid_ctx));
	for (n = 64; n < (size_t)cache / 2 && n < (1U << 20); n <<= 1)
		;
	if ((x->bucket = calloc(n, sizeof(*x->bucket))) == NULL)
		fatal(NULL);
	x->nbuckets = n;
	if (SSL_CTX_set_ex_data(ctx, tr_idx, x) != 1)
		fatalx("%s: ex_data", __func__);
	SSL_CTX_sess_set_new_cb(ctx, tr_new_session);
	SSL_CTX_sess_set_remove_cb(ctx, tr_remove_session);
	SSL_CTX_sess_set_get_cb(ctx, tr_get_session);
}
