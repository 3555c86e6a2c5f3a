/*
 * The compact revocation set; see crlset.h for the format.
 *
 * One layout detail the header leaves to this file: struct crlset_name
 * holds a uint64_t, and struct crlset_entry is 28 bytes, so the names
 * start at the first multiple of 8 after the entries (zero padding in
 * between).  Producer and consumer both compute it here, and
 * crlset_open() checks blob_off against it.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "crlset.h"

_Static_assert(sizeof(struct crlset_hdr) == 72, "crlset_hdr layout");
_Static_assert(sizeof(struct crlset_crl) == 256, "crlset_crl layout");
_Static_assert(sizeof(struct crlset_entry) == 28, "crlset_entry layout");
_Static_assert(sizeof(struct crlset_name) == 16, "crlset_name layout");
_Static_assert(sizeof(struct crlset_hdr) % 8 == 0 &&
    sizeof(struct crlset_crl) % 8 == 0, "crlset records keep alignment");
_Static_assert(CRLSET_MAX_NAMES <= UINT16_MAX, "entry.issuer is 16 bits");
_Static_assert(CRLSET_MAX_SHELL <= UINT32_MAX &&
    CRLSET_MAX_NAME <= UINT32_MAX, "lengths are 32 bits");

/* The builder's own bound on shells and names together: far above any
 * real set (4096 shells of 64 KB are 256 MB), and it keeps every size
 * below in range. */
#define CRLSET_BLOB_MAX		(1ULL << 30)

struct crlset_builder {
	struct crlset_crl	*crls;
	size_t			 ncrl, crlcap;
	struct crlset_entry	*entries;
	size_t			 nentries, entcap;
	struct crlset_name	*names;
	size_t			 nnames, namecap;
	uint8_t			*blob;
	size_t			 bloblen, blobcap;
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

int
crlset_entry_cmp(const void *a, const void *b)
{
	const struct crlset_entry	*x = a, *y = b;
	int				 r;

	if ((r = memcmp(x->key, y->key, CRLSET_KEY_LEN)) != 0)
		return r;
	return (x->issuer > y->issuer) - (x->issuer < y->issuer);
}

/* The builder's sort: crlset_entry_cmp, then the rest, so that which of
 * two duplicates survives does not depend on qsort's whims. */
static int
entry_cmp_full(const void *a, const void *b)
{
	const struct crlset_entry	*x = a, *y = b;
	int				 r;

	if ((r = crlset_entry_cmp(a, b)) != 0)
		return r;
	if (x->revoked != y->revoked)
		return x->revoked < y->revoked ? -1 : 1;
	return (x->reason > y->reason) - (x->reason < y->reason);
}

/* Strictly increasing by (key, issuer): sorted, and no duplicates. */
static int
range_sorted(const struct crlset_entry *e, size_t n)
{
	size_t	 i;

	for (i = 1; i < n; i++)
		if (crlset_entry_cmp(&e[i - 1], &e[i]) >= 0)
			return 0;
	return 1;
}

/* Where the names start: after the entries, aligned for their uint64_t. */
static uint64_t
names_offset(uint64_t ncrl, uint64_t nentries)
{
	uint64_t	 off;

	off = sizeof(struct crlset_hdr) + ncrl * sizeof(struct crlset_crl) +
	    nentries * sizeof(struct crlset_entry);
	return (off + 7) & ~(uint64_t)7;
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
	free(b->names);
	free(b->blob);
	free(b);
}

/* Room for more elements of size sz in *arr (count n, capacity *cap). */
static int
builder_room(struct crlset_builder *b, void **arr, size_t n, size_t *cap,
    size_t more, size_t sz, size_t first)
{
	void	*p;
	size_t	 c;

	if (b->err)
		return -1;
	if (n + more <= *cap)
		return 0;
	c = *cap ? *cap : first;
	while (c < n + more)
		c *= 2;
	if ((p = reallocarray(*arr, c, sz)) == NULL) {
		b->err = ENOMEM;
		return -1;
	}
	*arr = p;
	*cap = c;
	return 0;
}

/* Append to the blob; its offset in *off. */
static int
builder_blob(struct crlset_builder *b, const uint8_t *p, size_t len,
    uint64_t *off)
{
	void	*arr = b->blob;

	if (b->err)
		return -1;
	if (len > CRLSET_BLOB_MAX || b->bloblen > CRLSET_BLOB_MAX - len) {
		b->err = E2BIG;
		return -1;
	}
	if (builder_room(b, &arr, b->bloblen, &b->blobcap, len, 1, 4096) ==
	    -1)
		return -1;
	b->blob = arr;
	if (len > 0)
		memcpy(b->blob + b->bloblen, p, len);
	*off = b->bloblen;
	b->bloblen += len;
	return 0;
}

int
crlset_builder_crl(struct crlset_builder *b, const struct crlset_crl *c,
    const uint8_t *shell, size_t shell_len)
{
	struct crlset_crl	*n;
	void			*arr = b->crls;
	uint64_t		 off = 0;

	if (b->err)
		return -1;
	if (b->ncrl >= CRLSET_MAX_CRLS) {
		b->err = E2BIG;
		return -1;
	}
	if (shell_len > CRLSET_MAX_SHELL || (shell == NULL && shell_len > 0) ||
	    c->digest_len > CRLSET_DIGEST_MAX ||
	    c->keyidlen > CRLSET_KEYID_MAX) {
		b->err = EINVAL;
		return -1;
	}
	if (builder_room(b, &arr, b->ncrl, &b->crlcap, 1, sizeof(*n), 8) ==
	    -1)
		return -1;
	b->crls = arr;
	if (shell_len > 0 && builder_blob(b, shell, shell_len, &off) == -1)
		return -1;
	n = &b->crls[b->ncrl++];
	*n = *c;
	n->source[sizeof(n->source) - 1] = '\0';
	n->first = b->nentries;
	n->count = 0;
	n->shell_off = off;
	n->shell_len = (uint32_t)shell_len;
	n->name_first = (uint32_t)b->nnames;
	n->name_count = 0;
	n->pad = 0;
	return 0;
}

int
crlset_builder_name(struct crlset_builder *b, const uint8_t *der, size_t len)
{
	struct crlset_crl	*c;
	struct crlset_name	*n;
	void			*arr = b->names;
	uint64_t		 off;

	if (b->err)
		return -1;
	if (b->ncrl == 0 || der == NULL || len == 0 ||
	    len > CRLSET_MAX_NAME) {
		b->err = EINVAL;
		return -1;
	}
	c = &b->crls[b->ncrl - 1];
	if (c->name_count >= CRLSET_MAX_NAMES || b->nnames >= UINT32_MAX) {
		b->err = E2BIG;
		return -1;
	}
	if (builder_room(b, &arr, b->nnames, &b->namecap, 1, sizeof(*n),
	    16) == -1)
		return -1;
	b->names = arr;
	if (builder_blob(b, der, len, &off) == -1)
		return -1;
	n = &b->names[b->nnames++];
	n->off = off;
	n->len = (uint32_t)len;
	n->pad = 0;
	c->name_count++;
	return 0;
}

static int
builder_grow(struct crlset_builder *b, size_t more)
{
	void	*arr = b->entries;

	if (b->err)
		return -1;
	if (b->ncrl == 0 || more > CRLSET_MAX_ENTRIES ||
	    b->nentries + more > CRLSET_MAX_ENTRIES) {
		b->err = b->ncrl == 0 ? EINVAL : E2BIG;
		return -1;
	}
	if (builder_room(b, &arr, b->nentries, &b->entcap, more,
	    sizeof(struct crlset_entry), 1024) == -1)
		return -1;
	b->entries = arr;
	return 0;
}

int
crlset_builder_entry(struct crlset_builder *b,
    const uint8_t key[CRLSET_KEY_LEN], int reason, unsigned issuer,
    uint32_t revoked)
{
	struct crlset_entry	*e;

	if (b->err)
		return -1;
	if (issuer > CRLSET_MAX_NAMES) {
		b->err = EINVAL;
		return -1;
	}
	if (builder_grow(b, 1) == -1)
		return -1;
	e = &b->entries[b->nentries++];
	memcpy(e->key, key, CRLSET_KEY_LEN);
	e->reason = (reason < 0 || reason > 255) ? CRLSET_REASON_NONE :
	    (uint8_t)reason;
	e->issuer = (uint16_t)issuer;
	e->revoked = revoked;
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

/* Sort one CRL's range and merge exact duplicates; returns the count. */
static size_t
range_normalise(struct crlset_entry *e, size_t n)
{
	size_t	 i, o;

	if (range_sorted(e, n))
		return n;
	qsort(e, n, sizeof(*e), entry_cmp_full);
	for (i = 1, o = 1; i < n; i++) {
		if (crlset_entry_cmp(&e[o - 1], &e[i]) == 0)
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
	struct crlset_name	*names;
	unsigned char		*buf;
	uint64_t		 noff, boff, len;
	size_t			 i, j, total = 0;

	*bufp = NULL;
	*lenp = 0;
	if (b->err)
		goto fail;
	for (i = 0; i < b->ncrl; i++) {
		c = &b->crls[i];
		if (c->count > 0)
			c->count = range_normalise(b->entries + c->first,
			    c->count);
		/* An issuer index must name one of this CRL's names. */
		for (j = 0; j < c->count; j++)
			if (b->entries[c->first + j].issuer > c->name_count) {
				b->err = EINVAL;
				goto fail;
			}
		total += c->count;
	}
	/* Every count is bounded (CRLSET_MAX_*, CRLSET_BLOB_MAX): no
	 * overflow in 64 bits. */
	noff = names_offset(b->ncrl, total);
	boff = noff + (uint64_t)b->nnames * sizeof(struct crlset_name);
	len = boff + b->bloblen;
	if (len > SIZE_MAX) {
		b->err = E2BIG;
		goto fail;
	}
	if ((buf = calloc(1, (size_t)len)) == NULL) {
		b->err = ENOMEM;
		goto fail;
	}
	h = (struct crlset_hdr *)buf;
	memcpy(h->magic, CRLSET_MAGIC, sizeof(h->magic));
	h->version = CRLSET_VERSION;
	h->ncrl = (uint32_t)b->ncrl;
	h->nentries = total;
	h->size = len;
	h->serial = serial;
	h->built = (int64_t)now;
	h->nnames = (uint32_t)b->nnames;
	h->blob_off = boff;
	h->blob_len = b->bloblen;
	c = (struct crlset_crl *)(buf + sizeof(*h));
	out = (struct crlset_entry *)(c + b->ncrl);
	names = (struct crlset_name *)(buf + noff);
	total = 0;
	for (i = 0; i < b->ncrl; i++) {
		c[i] = b->crls[i];
		if (b->crls[i].count > 0)
			memcpy(out + total, b->entries + b->crls[i].first,
			    b->crls[i].count * sizeof(*out));
		c[i].first = total;
		total += c[i].count;
	}
	if (b->nnames > 0)
		memcpy(names, b->names, b->nnames * sizeof(*names));
	if (b->bloblen > 0)
		memcpy(buf + boff, b->blob, b->bloblen);
	crlset_builder_free(b);
	*bufp = buf;
	*lenp = (size_t)len;
	return 0;
fail:
	errno = b->err;
	crlset_builder_free(b);
	return -1;
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

/* Is [off, off + len) inside a blob of blen bytes?  No sum that could
 * wrap: off is compared first. */
static int
in_blob(uint64_t off, uint64_t len, uint64_t blen)
{
	return off <= blen && len <= blen - off;
}

static int
crl_record_ok(const struct crlset_hdr *h, const struct crlset_crl *c,
    uint32_t i, char *why, size_t whylen)
{
	if (c->first > h->nentries || c->count > h->nentries - c->first) {
		snprintf(why, whylen, "CRL %u: entries out of range", i);
		return -1;
	}
	if (c->name_first > h->nnames ||
	    c->name_count > h->nnames - c->name_first ||
	    c->name_count > CRLSET_MAX_NAMES) {
		snprintf(why, whylen, "CRL %u: names out of range", i);
		return -1;
	}
	if (c->shell_len > CRLSET_MAX_SHELL ||
	    !in_blob(c->shell_off, c->shell_len, h->blob_len)) {
		snprintf(why, whylen, "CRL %u: shell out of range", i);
		return -1;
	}
	if (c->keyidlen > CRLSET_KEYID_MAX ||
	    c->digest_len > CRLSET_DIGEST_MAX ||
	    memchr(c->source, '\0', sizeof(c->source)) == NULL) {
		snprintf(why, whylen, "CRL %u: malformed record", i);
		return -1;
	}
	return 0;
}

/* One pass per new set, not per lookup: a binary search over unsorted
 * data would answer wrongly, silently. */
static int
crl_entries_ok(const struct crlset_crl *c, const struct crlset_entry *e,
    uint32_t i, char *why, size_t whylen)
{
	uint64_t	 j;

	e += c->first;
	for (j = 0; j < c->count; j++) {
		if (e[j].issuer > c->name_count) {
			snprintf(why, whylen, "CRL %u: entry %llu: issuer %u "
			    "out of range (%u names)", i,
			    (unsigned long long)j, e[j].issuer,
			    c->name_count);
			return -1;
		}
		if (j > 0 && crlset_entry_cmp(&e[j - 1], &e[j]) >= 0) {
			snprintf(why, whylen, "CRL %u: entries not sorted",
			    i);
			return -1;
		}
	}
	return 0;
}

int
crlset_open(struct crlset *s, const void *buf, size_t len, char *why,
    size_t whylen)
{
	const unsigned char	*base = buf;
	const struct crlset_hdr	*h = buf;
	const struct crlset_crl	*c;
	const struct crlset_entry *e;
	const struct crlset_name *nm;
	uint64_t		 noff, boff, j, sum = 0;
	uint32_t		 i;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(*h) || buf == NULL) {
		snprintf(why, whylen, "truncated header (%zu bytes)", len);
		return -1;
	}
	/* The records are read in place. */
	if ((uintptr_t)buf % alignof(struct crlset_hdr) != 0) {
		snprintf(why, whylen, "image not aligned");
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
	if (h->ncrl > CRLSET_MAX_CRLS || h->nentries > CRLSET_MAX_ENTRIES ||
	    (uint64_t)h->nnames > (uint64_t)CRLSET_MAX_CRLS *
	    CRLSET_MAX_NAMES) {
		snprintf(why, whylen, "too many CRLs, entries or names");
		return -1;
	}
	/* All three counts bounded above: no overflow in 64 bits. */
	noff = names_offset(h->ncrl, h->nentries);
	boff = noff + (uint64_t)h->nnames * sizeof(*nm);
	if (h->blob_off != boff || boff > len ||
	    h->blob_len != len - boff) {
		snprintf(why, whylen, "%u CRLs, %llu entries and %u names "
		    "need a blob at %llu; header says %llu bytes at %llu, "
		    "image has %zu", h->ncrl,
		    (unsigned long long)h->nentries, h->nnames,
		    (unsigned long long)boff,
		    (unsigned long long)h->blob_len,
		    (unsigned long long)h->blob_off, len);
		return -1;
	}
	c = (const struct crlset_crl *)(base + sizeof(*h));
	e = (const struct crlset_entry *)(c + h->ncrl);
	nm = (const struct crlset_name *)(base + noff);
	for (j = 0; j < h->nnames; j++)
		if (nm[j].len == 0 || nm[j].len > CRLSET_MAX_NAME ||
		    !in_blob(nm[j].off, nm[j].len, h->blob_len)) {
			snprintf(why, whylen, "name %llu out of range",
			    (unsigned long long)j);
			return -1;
		}
	for (i = 0; i < h->ncrl; i++) {
		if (crl_record_ok(h, &c[i], i, why, whylen) == -1)
			return -1;
		/* Each count is at most nentries: no overflow. */
		sum += c[i].count;
	}
	/* So the entry checks read each entry about once, however the
	 * ranges were drawn: their cost is bounded by the image's size. */
	if (sum != h->nentries) {
		snprintf(why, whylen, "CRLs hold %llu entries, header says "
		    "%llu", (unsigned long long)sum,
		    (unsigned long long)h->nentries);
		return -1;
	}
	for (i = 0; i < h->ncrl; i++)
		if (crl_entries_ok(&c[i], e, i, why, whylen) == -1)
			return -1;
	s->hdr = h;
	s->crls = c;
	s->entries = e;
	s->names = nm;
	s->blob = base + boff;
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
	if ((uint64_t)st.st_size > SIZE_MAX) {
		snprintf(why, whylen, "too large");
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

const uint8_t *
crlset_shell(const struct crlset *s, size_t i, size_t *len)
{
	const struct crlset_crl	*c;

	*len = 0;
	if (s == NULL || s->hdr == NULL || i >= s->hdr->ncrl)
		return NULL;
	c = &s->crls[i];
	if (c->shell_len == 0)
		return NULL;
	*len = c->shell_len;
	return s->blob + c->shell_off;
}

const uint8_t *
crlset_name(const struct crlset *s, size_t i, unsigned n, size_t *len)
{
	const struct crlset_crl	*c;
	const struct crlset_name *nm;

	*len = 0;
	if (s == NULL || s->hdr == NULL || i >= s->hdr->ncrl)
		return NULL;
	c = &s->crls[i];
	if (n == 0 || n > c->name_count)
		return NULL;
	nm = &s->names[c->name_first + (n - 1)];
	*len = nm->len;
	return s->blob + nm->off;
}

const struct crlset_entry *
crlset_find(const struct crlset *s, size_t i,
    const uint8_t key[CRLSET_KEY_LEN], size_t *n)
{
	const struct crlset_entry	*e;
	size_t				 lo = 0, hi, mid, end;

	if (n != NULL)
		*n = 0;
	if (s == NULL || s->hdr == NULL || i >= s->hdr->ncrl)
		return NULL;
	e = s->entries + s->crls[i].first;
	hi = s->crls[i].count;
	/* The first entry whose key is not below ours. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (memcmp(e[mid].key, key, CRLSET_KEY_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* The run: at most one entry per issuer of the CRL (crlset_open()
	 * refuses duplicates). */
	for (end = lo; end < s->crls[i].count &&
	    memcmp(e[end].key, key, CRLSET_KEY_LEN) == 0; end++)
		;
	if (end == lo)
		return NULL;
	if (n != NULL)
		*n = end - lo;
	return &e[lo];
}
