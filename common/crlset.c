/*
 * The compact revocation set; see crlset.h for the format.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "crlset.h"

_Static_assert(sizeof(struct crlset_hdr) == 64, "crlset_hdr layout");
_Static_assert(sizeof(struct crlset_crl) == 168, "crlset_crl layout");
_Static_assert(sizeof(struct crlset_entry) == 24, "crlset_entry layout");

struct crlset_builder {
	struct crlset_crl	*crls;
	size_t			 ncrl, crlcap;
	struct crlset_entry	*entries;
	size_t			 nentries, entcap;
	int			 err;
};

static const char *reason_names[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", "unused(7)",
	"removeFromCRL", "privilegeWithdrawn", "aACompromise"
};

const char *
crlset_reason_name(int reason)
{
	if (reason >= 0 && (size_t)reason < sizeof(reason_names) /
	    sizeof(reason_names[0]))
		return reason_names[reason];
	if (reason == CRLSET_REASON_NONE)
		return "none given";
	return "unknown";
}

const char *
crlset_result_name(enum crlset_result r)
{
	switch (r) {
	case CRLSET_GOOD:
		return "good";
	case CRLSET_REVOKED:
		return "revoked";
	case CRLSET_NO_CRL:
		return "no CRL";
	case CRLSET_STALE:
		return "CRL stale";
	}
	return "unknown";
}

void
crlset_key(const uint8_t *serial, size_t len, uint8_t key[CRLSET_KEY_LEN])
{
	uint8_t	 h[SHA256_DIGEST_LENGTH];

	memset(key, 0, CRLSET_KEY_LEN);
	if (len <= CRLSET_SERIAL_MAX) {
		key[0] = (uint8_t)len;
		memcpy(key + 1, serial, len);
		return;
	}
	SHA256(serial, len, h);
	key[0] = CRLSET_KEY_HASHED;
	memcpy(key + 1, h, CRLSET_KEY_LEN - 1);
}

int
crlset_key_asn1(const ASN1_INTEGER *ai, uint8_t key[CRLSET_KEY_LEN])
{
	unsigned char		 sbuf[64], *buf = sbuf, *q;
	const unsigned char	*p;
	long			 len;
	int			 n, tag, cls, r = -1;

	if ((n = i2d_ASN1_INTEGER(ai, NULL)) <= 0)
		return -1;
	/* Non-conforming giant serials: crlset_key() hashes them. */
	if ((size_t)n > sizeof(sbuf) && (buf = malloc(n)) == NULL)
		return -1;
	q = buf;
	p = buf;
	if (i2d_ASN1_INTEGER(ai, &q) == n &&
	    !(ASN1_get_object(&p, &len, &tag, &cls, n) & 0x80) &&
	    tag == V_ASN1_INTEGER && len > 0 && p + len == buf + n) {
		crlset_key(p, (size_t)len, key);
		r = 0;
	}
	if (buf != sbuf)
		free(buf);
	return r;
}

void
crlset_issuer_hash(const uint8_t *der, size_t len, uint8_t out[CRLSET_HASH_LEN])
{
	SHA256(der, len, out);
}

/* --- building ----------------------------------------------------------- */

struct crlset_builder *
crlset_builder_new(void)
{
	return calloc(1, sizeof(struct crlset_builder));
}

void
crlset_builder_free(struct crlset_builder *b)
{
	if (b == NULL)
		return;
	free(b->crls);
	free(b->entries);
	free(b);
}

int
crlset_builder_crl(struct crlset_builder *b, const struct crlset_crl *c)
{
	struct crlset_crl	*n;
	size_t			 cap;

	if (b->err)
		return -1;
	if (b->ncrl >= CRLSET_MAX_CRLS) {
		b->err = E2BIG;
		return -1;
	}
	if (b->ncrl == b->crlcap) {
		cap = b->crlcap ? b->crlcap * 2 : 8;
		if ((n = reallocarray(b->crls, cap, sizeof(*n))) == NULL) {
			b->err = ENOMEM;
			return -1;
		}
		b->crls = n;
		b->crlcap = cap;
	}
	n = &b->crls[b->ncrl++];
	*n = *c;
	n->source[sizeof(n->source) - 1] = '\0';
	n->first = b->nentries;
	n->count = 0;
	return 0;
}

static int
builder_grow(struct crlset_builder *b, size_t more)
{
	struct crlset_entry	*n;
	size_t			 cap;

	if (b->err)
		return -1;
	if (b->ncrl == 0 || more > CRLSET_MAX_ENTRIES ||
	    b->nentries + more > CRLSET_MAX_ENTRIES) {
		b->err = b->ncrl == 0 ? EINVAL : E2BIG;
		return -1;
	}
	if (b->nentries + more <= b->entcap)
		return 0;
	cap = b->entcap ? b->entcap : 1024;
	while (cap < b->nentries + more)
		cap *= 2;
	if ((n = reallocarray(b->entries, cap, sizeof(*n))) == NULL) {
		b->err = ENOMEM;
		return -1;
	}
	b->entries = n;
	b->entcap = cap;
	return 0;
}

int
crlset_builder_entry(struct crlset_builder *b,
    const uint8_t key[CRLSET_KEY_LEN], int reason)
{
	struct crlset_entry	*e;

	/* Only a delta CRL may un-revoke; in a full CRL it means "not
	 * revoked" (see crlset.h). */
	if (reason == CRLSET_REASON_REMOVE)
		return 0;
	if (builder_grow(b, 1) == -1)
		return -1;
	e = &b->entries[b->nentries++];
	memcpy(e->key, key, CRLSET_KEY_LEN);
	e->reason = (reason < 0 || reason > 255) ? CRLSET_REASON_NONE :
	    (uint8_t)reason;
	e->pad[0] = e->pad[1] = 0;
	b->crls[b->ncrl - 1].count++;
	return 0;
}

int
crlset_builder_entries(struct crlset_builder *b,
    const struct crlset_entry *e, size_t n)
{
	if (builder_grow(b, n) == -1)
		return -1;
	if (n == 0)
		return 0;
	memcpy(&b->entries[b->nentries], e, n * sizeof(*e));
	b->nentries += n;
	b->crls[b->ncrl - 1].count += n;
	return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	return memcmp(((const struct crlset_entry *)a)->key,
	    ((const struct crlset_entry *)b)->key, CRLSET_KEY_LEN);
}

static int
range_sorted(const struct crlset_entry *e, size_t n)
{
	size_t	 i;

	for (i = 1; i < n; i++)
		if (memcmp(e[i - 1].key, e[i].key, CRLSET_KEY_LEN) >= 0)
			return 0;
	return 1;
}

/* Sort one CRL's range and merge duplicate serials; returns the count. */
static size_t
range_normalise(struct crlset_entry *e, size_t n)
{
	size_t	 i, o;

	if (range_sorted(e, n))
		return n;
	qsort(e, n, sizeof(*e), entry_cmp);
	for (i = 1, o = 1; i < n; i++) {
		if (memcmp(e[o - 1].key, e[i].key, CRLSET_KEY_LEN) == 0)
			continue;
		e[o++] = e[i];
	}
	return n ? o : 0;
}

int
crlset_builder_finish(struct crlset_builder *b, uint64_t serial, time_t now,
    unsigned char **bufp, size_t *lenp)
{
	struct crlset_hdr	*h;
	struct crlset_crl	*c;
	struct crlset_entry	*out;
	unsigned char		*buf;
	size_t			 i, total = 0, len;

	*bufp = NULL;
	*lenp = 0;
	if (b->err) {
		errno = b->err;
		crlset_builder_free(b);
		return -1;
	}
	for (i = 0; i < b->ncrl; i++) {
		c = &b->crls[i];
		if (c->count > 0)
			c->count = range_normalise(b->entries + c->first,
			    c->count);
		total += c->count;
	}
	len = sizeof(*h) + b->ncrl * sizeof(*c) + total * sizeof(*out);
	if ((buf = calloc(1, len)) == NULL) {
		crlset_builder_free(b);
		return -1;
	}
	h = (struct crlset_hdr *)buf;
	memcpy(h->magic, CRLSET_MAGIC, sizeof(h->magic));
	h->version = CRLSET_VERSION;
	h->ncrl = (uint32_t)b->ncrl;
	h->nentries = total;
	h->size = len;
	h->serial = serial;
	h->built = (int64_t)now;
	c = (struct crlset_crl *)(buf + sizeof(*h));
	out = (struct crlset_entry *)(buf + sizeof(*h) + b->ncrl * sizeof(*c));
	total = 0;
	for (i = 0; i < b->ncrl; i++) {
		c[i] = b->crls[i];
		if (b->crls[i].count > 0)
			memcpy(out + total, b->entries + b->crls[i].first,
			    b->crls[i].count * sizeof(*out));
		c[i].first = total;
		total += c[i].count;
	}
	crlset_builder_free(b);
	*bufp = buf;
	*lenp = len;
	return 0;
}

int
crlset_memfd(const unsigned char *buf, size_t len)
{
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = memfd_create("smtpcertd-crlset",
	    MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return -1;
	while (off < len) {
		if ((n = write(fd, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += n;
	}
	/* Sealed: whoever maps it may trust that it never changes again,
	 * even if the process that made it is compromised later. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1)
		goto fail;
	return fd;
fail:
	n = errno;
	close(fd);
	errno = n;
	return -1;
}

/* --- consuming ---------------------------------------------------------- */

int
crlset_open(struct crlset *s, const void *buf, size_t len, char *why,
    size_t whylen)
{
	const struct crlset_hdr	*h = buf;
	const struct crlset_crl	*c;
	const struct crlset_entry *e;
	uint64_t		 need;
	uint32_t		 i;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(*h) || buf == NULL) {
		snprintf(why, whylen, "truncated header (%zu bytes)", len);
		return -1;
	}
	if (memcmp(h->magic, CRLSET_MAGIC, sizeof(h->magic)) != 0 ||
	    h->version != CRLSET_VERSION) {
		snprintf(why, whylen, "bad magic or version");
		return -1;
	}
	if (h->size != len) {
		snprintf(why, whylen, "size %llu in header, %zu given",
		    (unsigned long long)h->size, len);
		return -1;
	}
	if (h->ncrl > CRLSET_MAX_CRLS || h->nentries > CRLSET_MAX_ENTRIES) {
		snprintf(why, whylen, "too many CRLs or entries");
		return -1;
	}
	/* Both bounded above: no overflow in 64 bits. */
	need = sizeof(*h) + (uint64_t)h->ncrl * sizeof(*c) +
	    h->nentries * sizeof(*e);
	if (need != len) {
		snprintf(why, whylen, "%u CRLs and %llu entries need %llu "
		    "bytes, image has %zu", h->ncrl,
		    (unsigned long long)h->nentries,
		    (unsigned long long)need, len);
		return -1;
	}
	c = (const struct crlset_crl *)((const unsigned char *)buf +
	    sizeof(*h));
	e = (const struct crlset_entry *)(c + h->ncrl);
	for (i = 0; i < h->ncrl; i++) {
		if (c[i].first > h->nentries ||
		    c[i].count > h->nentries - c[i].first) {
			snprintf(why, whylen, "CRL %u: entries out of range",
			    i);
			return -1;
		}
		if (c[i].keyidlen > CRLSET_KEYID_MAX ||
		    memchr(c[i].source, '\0', sizeof(c[i].source)) == NULL) {
			snprintf(why, whylen, "CRL %u: malformed record", i);
			return -1;
		}
		/* One pass per swap, not per lookup: a binary search over
		 * unsorted data would answer wrongly, silently. */
		if (!range_sorted(e + c[i].first, c[i].count)) {
			snprintf(why, whylen, "CRL %u: entries not sorted", i);
			return -1;
		}
	}
	s->hdr = h;
	s->crls = c;
	s->entries = e;
	s->len = len;
	return 0;
}

int
crlset_map(struct crlset *s, int fd, char *why, size_t whylen)
{
	const int	 want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	struct stat	 st;
	void		*p;
	int		 seals;

	memset(s, 0, sizeof(*s));
	if (fstat(fd, &st) == -1) {
		snprintf(why, whylen, "fstat: %s", strerror(errno));
		return -1;
	}
	if ((seals = fcntl(fd, F_GET_SEALS)) == -1 ||
	    (seals & want) != want) {
		snprintf(why, whylen, "descriptor is not a sealed memfd");
		return -1;
	}
	if (st.st_size < (off_t)sizeof(struct crlset_hdr)) {
		snprintf(why, whylen, "truncated header (%lld bytes)",
		    (long long)st.st_size);
		return -1;
	}
	if ((p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0)) ==
	    MAP_FAILED) {
		snprintf(why, whylen, "mmap: %s", strerror(errno));
		return -1;
	}
	if (crlset_open(s, p, st.st_size, why, whylen) == -1) {
		munmap(p, st.st_size);
		return -1;
	}
	s->mapped = 1;
	return 0;
}

void
crlset_unmap(struct crlset *s)
{
	if (s->mapped && s->hdr != NULL)
		munmap((void *)s->hdr, s->len);
	memset(s, 0, sizeof(*s));
}

static const struct crlset_entry *
range_find(const struct crlset_entry *e, size_t n,
    const uint8_t key[CRLSET_KEY_LEN])
{
	size_t	 lo = 0, hi = n, mid;
	int	 r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = memcmp(key, e[mid].key, CRLSET_KEY_LEN);
		if (r == 0)
			return &e[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * Every CRL of the issuer is consulted: a listing in any of them revokes
 * (revocation does not expire with a CRL's nextUpdate); otherwise one
 * fresh CRL is enough for GOOD.  The set holds a handful of CRLs, so the
 * walk over the records costs nothing next to the handshake.
 */
void
crlset_check(const struct crlset *s, const uint8_t *issuer_hash,
    const uint8_t *akid, size_t akidlen, const uint8_t *serial,
    size_t seriallen, time_t now, struct crlset_answer *a)
{
	uint8_t	 key[CRLSET_KEY_LEN];

	crlset_key(serial, seriallen, key);
	crlset_check_key(s, issuer_hash, akid, akidlen, key, now, a);
}

void
crlset_check_key(const struct crlset *s, const uint8_t *issuer_hash,
    const uint8_t *akid, size_t akidlen, const uint8_t key[CRLSET_KEY_LEN],
    time_t now, struct crlset_answer *a)
{
	const struct crlset_crl		*c, *fresh = NULL, *stale = NULL;
	const struct crlset_entry	*hit;
	uint32_t			 i;

	memset(a, 0, sizeof(*a));
	a->result = CRLSET_NO_CRL;
	if (s == NULL || s->hdr == NULL)
		return;
	for (i = 0; i < s->hdr->ncrl; i++) {
		c = &s->crls[i];
		if (memcmp(c->issuer_hash, issuer_hash, CRLSET_HASH_LEN) != 0)
			continue;
		if (c->keyidlen > 0 && akidlen > 0 &&
		    (c->keyidlen != akidlen ||
		    memcmp(c->keyid, akid, akidlen) != 0))
			continue;
		if ((hit = range_find(s->entries + c->first, c->count, key))
		    != NULL) {
			a->result = CRLSET_REVOKED;
			a->reason = hit->reason;
			a->stale = c->stale;
			a->source = c->source;
			a->next_update = c->next_update;
			return;
		}
		if (c->next_update == 0 || c->next_update > (int64_t)now) {
			if (fresh == NULL)
				fresh = c;
		} else if (stale == NULL)
			stale = c;
	}
	if ((c = fresh) != NULL)
		a->result = CRLSET_GOOD;
	else if ((c = stale) != NULL)
		a->result = CRLSET_STALE;
	else
		return;
	a->stale = c->stale;
	a->source = c->source;
	a->next_update = c->next_update;
}
