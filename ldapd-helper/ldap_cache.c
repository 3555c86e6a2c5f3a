/*
 * The answer cache of one LDAP profile.
 *
 * Keys are built by the caller: (query kind, query name, certificate
 * fingerprint) for certificates, known before the certificate is parsed,
 * (query, user name as typed) for smtp-auth.  The profile is implicit:
 * every profile of every generation has its own cache, so a reload
 * starts empty and a changed filter or base can never serve an answer
 * computed under the old one.
 *
 * Lookups use glibc's tsearch(3), a red-black tree: keys are chosen by
 * clients (user names), so no hash table an attacker could flood.  Size
 * is bounded; when full the oldest entry is evicted (insertion order,
 * which with one TTL per class is also the order of expiry).
 *
 * Passwords are never stored.  An smtp-auth answer that proved the
 * password (OK, DISALLOWED) keeps HMAC-SHA256(key, salt || password)
 * with the key given to lcache_new() (the per-process random env->pwkey,
 * never leaves this process's memory) and a random salt per entry; a hit needs the same password.  A
 * different password is a miss, never a cached "bad credentials": the
 * directory decides (the user may just have changed it).  Negative
 * answers (NOTFOUND, MISMATCH) carry no password and use the negative
 * TTL.  Callers never store TEMPFAIL, BADCRED, AMBIGUOUS or BADREQ,
 * nor any allowance-only answer (issue 13: no password was checked, see
 * lookup_cache_key() in ldap_lookup.c).
 */
#include <sys/queue.h>

#include <search.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ldapd.h"
#include "log.h"

#define LCACHE_SALT	16
#define LCACHE_MAC	32

struct lcache_entry {
	TAILQ_ENTRY(lcache_entry) age;
	unsigned char	*key;
	size_t		 keylen;
	uint64_t	 expires;	/* monotonic ms */
	uint32_t	 result;
	char		*user;
	char		*dn;
	char		*subject;	/* certificate answers: for the log */
	char		**mails;
	int		 nmails;
	int		 has_pw;
	unsigned char	 salt[LCACHE_SALT];
	unsigned char	 mac[LCACHE_MAC];
};

struct lcache {
	void		*root;
	TAILQ_HEAD(, lcache_entry) age;
	size_t		 count;
	size_t		 size;
	int		 ttl;
	int		 negttl;
	const unsigned char *key;	/* password MAC key, borrowed */
	size_t		 keylen;
};

static int	lcache_cmp(const void *, const void *);
static void	lcache_entry_free(void *);
static void	lcache_remove(struct lcache *, struct lcache_entry *);
static int	lcache_mac(const struct lcache *, const unsigned char *,
		    const void *, size_t, unsigned char *);

static int
lcache_cmp(const void *a, const void *b)
{
	const struct lcache_entry	*x = a, *y = b;

	if (x->keylen != y->keylen)
		return x->keylen < y->keylen ? -1 : 1;
	return memcmp(x->key, y->key, x->keylen);
}

static void
lcache_entry_free(void *v)
{
	struct lcache_entry	*e = v;
	int			 i;

	free(e->key);
	free(e->user);
	free(e->dn);
	free(e->subject);
	for (i = 0; i < e->nmails; i++)
		free(e->mails[i]);
	free(e->mails);
	explicit_bzero(e->mac, sizeof(e->mac));
	free(e);
}

static int
lcache_mac(const struct lcache *c, const unsigned char *salt, const void *pw,
    size_t pwlen, unsigned char *out)
{
	unsigned char	 buf[LCACHE_SALT + LDAP_MAX_PASSWORD];
	unsigned int	 outlen = LCACHE_MAC;
	int		 ok;

	if (pwlen > LDAP_MAX_PASSWORD)
		return -1;
	memcpy(buf, salt, LCACHE_SALT);
	memcpy(buf + LCACHE_SALT, pw, pwlen);
	ok = HMAC(EVP_sha256(), c->key, (int)c->keylen, buf,
	    LCACHE_SALT + pwlen, out, &outlen) != NULL;
	explicit_bzero(buf, sizeof(buf));
	return ok && outlen == LCACHE_MAC ? 0 : -1;
}

struct lcache *
lcache_new(int size, int ttl, int negttl, const unsigned char *key,
    size_t keylen)
{
	struct lcache	*c;

	c = xcalloc(1, sizeof(*c));
	TAILQ_INIT(&c->age);
	c->size = size > 0 ? (size_t)size : 0;
	c->ttl = ttl;
	c->negttl = negttl;
	c->key = key;
	c->keylen = keylen;
	return c;
}

void
lcache_flush(struct lcache *c)
{
	if (c == NULL)
		return;
	tdestroy(c->root, lcache_entry_free);
	c->root = NULL;
	TAILQ_INIT(&c->age);
	c->count = 0;
}

void
lcache_free(struct lcache *c)
{
	lcache_flush(c);
	free(c);
}

size_t
lcache_count(struct lcache *c)
{
	return c == NULL ? 0 : c->count;
}

static void
lcache_remove(struct lcache *c, struct lcache_entry *e)
{
	tdelete(e, &c->root, lcache_cmp);
	TAILQ_REMOVE(&c->age, e, age);
	c->count--;
	lcache_entry_free(e);
}

int
lcache_get(struct lcache *c, const void *key, size_t keylen, const void *pw,
    size_t pwlen, struct lcache_answer *a)
{
	struct lcache_entry	 probe, *e, **found;
	unsigned char		 mac[LCACHE_MAC];
	int			 same;

	if (c == NULL || c->count == 0)
		return 0;
	memset(&probe, 0, sizeof(probe));
	probe.key = (unsigned char *)(uintptr_t)key;
	probe.keylen = keylen;
	if ((found = tfind(&probe, &c->root, lcache_cmp)) == NULL)
		return 0;
	e = *found;
	if (e->expires <= now_ms()) {
		lcache_remove(c, e);
		return 0;
	}
	if (e->has_pw) {
		if (pw == NULL || lcache_mac(c, e->salt, pw, pwlen, mac) == -1)
			return 0;
		same = CRYPTO_memcmp(mac, e->mac, LCACHE_MAC) == 0;
		explicit_bzero(mac, sizeof(mac));
		if (!same)
			return 0;
	}
	a->result = e->result;
	a->user = e->user;
	a->dn = e->dn;
	a->subject = e->subject;
	a->mails = e->mails;
	a->nmails = e->nmails;
	return 1;
}

void
lcache_put(struct lcache *c, const void *key, size_t keylen, const void *pw,
    size_t pwlen, int negative, const struct lcache_answer *a)
{
	struct lcache_entry	 probe, *e, **found;
	int			 ttl, i;

	if (c == NULL || c->size == 0)
		return;
	ttl = negative ? c->negttl : c->ttl;
	if (ttl <= 0)
		return;

	memset(&probe, 0, sizeof(probe));
	probe.key = (unsigned char *)(uintptr_t)key;
	probe.keylen = keylen;
	if ((found = tfind(&probe, &c->root, lcache_cmp)) != NULL)
		lcache_remove(c, *found);
	while (c->count >= c->size && !TAILQ_EMPTY(&c->age))
		lcache_remove(c, TAILQ_FIRST(&c->age));

	e = xcalloc(1, sizeof(*e));
	e->key = xcalloc(1, keylen + 1);
	memcpy(e->key, key, keylen);
	e->keylen = keylen;
	e->expires = now_ms() + (uint64_t)ttl * 1000;
	e->result = a->result;
	e->user = xstrdup(a->user != NULL ? a->user : "");
	e->dn = xstrdup(a->dn != NULL ? a->dn : "");
	e->subject = xstrdup(a->subject != NULL ? a->subject : "");
	if (a->nmails > 0) {
		e->mails = xcalloc(a->nmails, sizeof(char *));
		for (i = 0; i < a->nmails; i++)
			e->mails[i] = xstrdup(a->mails[i]);
		e->nmails = a->nmails;
	}
	if (pw != NULL) {
		if (RAND_bytes(e->salt, sizeof(e->salt)) != 1 ||
		    lcache_mac(c, e->salt, pw, pwlen, e->mac) == -1) {
			/* Cannot prove the password later: do not cache. */
			lcache_entry_free(e);
			return;
		}
		e->has_pw = 1;
	}
	if (tsearch(e, &c->root, lcache_cmp) == NULL)
		fatal("tsearch");
	TAILQ_INSERT_TAIL(&c->age, e, age);
	c->count++;
}
