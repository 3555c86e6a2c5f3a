/*
 * Unit tests for common/crlset.c: building (shells, names, entries with
 * issuer and revocation date), lookups, and the checks the front makes
 * before it trusts an image another process handed it.
 */
#include <sys/mman.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crlset.h"
#include "test.h"

static const uint8_t	 ser_a[] = { 0x10, 0x01 };
static const uint8_t	 ser_b[] = { 0x10, 0x02 };
static const uint8_t	 ser_c[] = { 0x00, 0x80 };	/* positive 128 */
static const uint8_t	 ser_d[] = { 0x80 };		/* negative, != c */
static const uint8_t	 ser_x[] = { 0x77 };		/* never listed */
static uint8_t		 ser_long[40];			/* hashed key */
static const uint8_t	 kid1[] = { 1, 2, 3, 4 };
static const uint8_t	 shell1[] = "shell of inter";
static const uint8_t	 shell2[] = "shell of root, a little longer";
static const uint8_t	 name1[] = "name one";
static const uint8_t	 name2[] = "name two";

static void
issuer(const char *name, uint8_t h[CRLSET_HASH_LEN])
{
	crlset_issuer_hash((const uint8_t *)name, strlen(name), h);
}

static void
add_crl(struct crlset_builder *b, const char *iss, const uint8_t *kid,
    size_t kidlen, int64_t tu, int64_t nu, const char *src, int stale,
    const uint8_t *shell, size_t shell_len, int flags)
{
	struct crlset_crl	 c;

	memset(&c, 0, sizeof(c));
	issuer(iss, c.issuer_hash);
	if (kidlen > 0)
		memcpy(c.keyid, kid, kidlen);
	c.keyidlen = (uint8_t)kidlen;
	c.this_update = tu;
	c.next_update = nu;
	c.stale = (uint8_t)stale;
	c.flags = (uint8_t)flags;
	c.md_nid = 672;		/* NID_sha256 */
	c.digest_len = 32;
	memset(c.digest, 0xd1, c.digest_len);
	snprintf(c.source, sizeof(c.source), "%s", src);
	CHECK(crlset_builder_crl(b, &c, shell, shell_len) == 0);
}

static void
add_entry(struct crlset_builder *b, const uint8_t *s, size_t len, int reason,
    unsigned iss, uint32_t revoked)
{
	uint8_t	 key[CRLSET_KEY_LEN];

	crlset_key(s, len, key);
	CHECK(crlset_builder_entry(b, key, reason, iss, revoked) == 0);
}

/*
 * CRL 0 "inter": two names, entries out of order and duplicated, one
 * serial under three issuers, a removeFromCRL entry.  CRL 1 "root": no
 * names.  CRL 2 "empty": no shell, no entries.
 */
static unsigned char *
build(size_t *len)
{
	struct crlset_builder	*b;
	unsigned char		*buf;

	memset(ser_long, 0x42, sizeof(ser_long));
	b = crlset_builder_new();
	CHECK(b != NULL);
	add_crl(b, "inter", kid1, sizeof(kid1), 1000, 5000, "inter", 0,
	    shell1, sizeof(shell1), CRLSET_CRL_INDIRECT | CRLSET_CRL_IDP |
	    CRLSET_CRL_VERIFIED);
	CHECK(crlset_builder_name(b, name1, sizeof(name1)) == 0);
	CHECK(crlset_builder_name(b, name2, sizeof(name2)) == 0);
	/* Out of order and duplicated on purpose. */
	add_entry(b, ser_b, sizeof(ser_b), 6, 0, 900);	/* certificateHold */
	add_entry(b, ser_a, sizeof(ser_a), 1, 2, 800);
	add_entry(b, ser_a, sizeof(ser_a), 1, 0, 700);
	add_entry(b, ser_c, sizeof(ser_c), CRLSET_REASON_NONE, 0, 600);
	add_entry(b, ser_a, sizeof(ser_a), 1, 1, 750);
	add_entry(b, ser_a, sizeof(ser_a), 1, 0, 700);	/* exact dup */
	add_entry(b, ser_long, sizeof(ser_long), 4, 0, 500);
	add_entry(b, ser_d, sizeof(ser_d), CRLSET_REASON_REMOVE, 0, 400);
	add_crl(b, "root", NULL, 0, 100, 500, "root", 1, shell2,
	    sizeof(shell2), CRLSET_CRL_DELTA);
	add_entry(b, ser_d, sizeof(ser_d), 2, 0, 50);
	add_crl(b, "empty", NULL, 0, 100, 0, "empty", 0, NULL, 0, 0);
	CHECK(crlset_builder_finish(b, 7, 42, &buf, len) == 0);
	return buf;
}

static void
find(const struct crlset *s, size_t crl, const uint8_t *ser, size_t len,
    const struct crlset_entry **e, size_t *n)
{
	uint8_t	 key[CRLSET_KEY_LEN];

	crlset_key(ser, len, key);
	*e = crlset_find(s, crl, key, n);
}

static void
t_build_and_lookup(void)
{
	const struct crlset_entry	*e;
	struct crlset			 s;
	const uint8_t			*p;
	uint8_t				 hi[CRLSET_HASH_LEN];
	unsigned char			*buf;
	size_t				 len, n;
	char				 why[256];

	buf = build(&len);
	CHECK(crlset_open(&s, buf, len, why, sizeof(why)) == 0);
	CHECK(s.hdr->ncrl == 3);
	CHECK(s.hdr->nentries == 8);	/* one dup merged, remove kept */
	CHECK(s.hdr->nnames == 2);
	CHECK(s.hdr->serial == 7 && s.hdr->built == 42);
	CHECK(s.hdr->blob_len == sizeof(shell1) + sizeof(shell2) +
	    sizeof(name1) + sizeof(name2));
	CHECK(s.crls[0].count == 7 && s.crls[1].count == 1 &&
	    s.crls[2].count == 0);
	CHECK(s.crls[0].name_count == 2 && s.crls[1].name_count == 0);
	issuer("inter", hi);
	CHECK(memcmp(s.crls[0].issuer_hash, hi, sizeof(hi)) == 0);
	CHECK(s.crls[0].keyidlen == sizeof(kid1));
	CHECK(s.crls[0].flags == (CRLSET_CRL_INDIRECT | CRLSET_CRL_IDP |
	    CRLSET_CRL_VERIFIED));
	CHECK(s.crls[1].flags == CRLSET_CRL_DELTA);
	CHECK(s.crls[0].md_nid == 672 && s.crls[0].digest_len == 32 &&
	    s.crls[0].digest[31] == 0xd1);
	CHECK(strcmp(s.crls[1].source, "root") == 0);

	/* Shells and names. */
	p = crlset_shell(&s, 0, &n);
	CHECK(p != NULL && n == sizeof(shell1) &&
	    memcmp(p, shell1, n) == 0);
	p = crlset_shell(&s, 1, &n);
	CHECK(p != NULL && n == sizeof(shell2) &&
	    memcmp(p, shell2, n) == 0);
	CHECK(crlset_shell(&s, 2, &n) == NULL && n == 0);
	CHECK(crlset_shell(&s, 3, &n) == NULL && n == 0);
	p = crlset_name(&s, 0, 1, &n);
	CHECK(p != NULL && n == sizeof(name1) && memcmp(p, name1, n) == 0);
	p = crlset_name(&s, 0, 2, &n);
	CHECK(p != NULL && n == sizeof(name2) && memcmp(p, name2, n) == 0);
	CHECK(crlset_name(&s, 0, 0, &n) == NULL && n == 0);
	CHECK(crlset_name(&s, 0, 3, &n) == NULL && n == 0);
	CHECK(crlset_name(&s, 1, 1, &n) == NULL && n == 0);
	CHECK(crlset_name(&s, 9, 1, &n) == NULL && n == 0);

	/* One serial under three issuers: one run, sorted by issuer. */
	find(&s, 0, ser_a, sizeof(ser_a), &e, &n);
	CHECK(e != NULL && n == 3);
	if (e != NULL && n == 3) {
		CHECK(e[0].issuer == 0 && e[0].revoked == 700);
		CHECK(e[1].issuer == 1 && e[1].revoked == 750);
		CHECK(e[2].issuer == 2 && e[2].revoked == 800);
		CHECK(e[0].reason == 1);
	}
	find(&s, 0, ser_b, sizeof(ser_b), &e, &n);
	CHECK(e != NULL && n == 1 && e->reason == 6 && e->revoked == 900);
	find(&s, 0, ser_c, sizeof(ser_c), &e, &n);
	CHECK(e != NULL && n == 1 && e->reason == CRLSET_REASON_NONE);
	/* removeFromCRL is kept: the verifier reads it as "not revoked". */
	find(&s, 0, ser_d, sizeof(ser_d), &e, &n);
	CHECK(e != NULL && n == 1 && e->reason == CRLSET_REASON_REMOVE);
	find(&s, 0, ser_long, sizeof(ser_long), &e, &n);
	CHECK(e != NULL && n == 1 && e->reason == 4);
	find(&s, 0, ser_x, sizeof(ser_x), &e, &n);
	CHECK(e == NULL && n == 0);
	/* Another CRL's range only. */
	find(&s, 1, ser_a, sizeof(ser_a), &e, &n);
	CHECK(e == NULL && n == 0);
	find(&s, 1, ser_d, sizeof(ser_d), &e, &n);
	CHECK(e != NULL && n == 1 && e->reason == 2 && e->revoked == 50);
	find(&s, 2, ser_d, sizeof(ser_d), &e, &n);
	CHECK(e == NULL && n == 0);
	find(&s, 3, ser_d, sizeof(ser_d), &e, &n);
	CHECK(e == NULL && n == 0);
	CHECK(crlset_find(NULL, 0, e != NULL ? e->key : hi, &n) == NULL &&
	    n == 0);
	free(buf);
}

/* Every key of a large CRL is found, and the neighbours are not. */
static void
t_find_large(void)
{
	const struct crlset_entry	*e;
	struct crlset_builder		*b = crlset_builder_new();
	struct crlset			 s;
	unsigned char			*buf;
	uint8_t				 ser[3], key[CRLSET_KEY_LEN];
	size_t				 len, n, bad = 0;
	unsigned			 i;
	char				 why[256];

	add_crl(b, "big", NULL, 0, 1, 2, "big", 0, shell1, sizeof(shell1),
	    0);
	/* Even serials 2..20000, backwards, some under issuer 1 too. */
	CHECK(crlset_builder_name(b, name1, sizeof(name1)) == 0);
	for (i = 10000; i >= 1; i--) {
		ser[0] = 0x01;
		ser[1] = (uint8_t)((2 * i) >> 8);
		ser[2] = (uint8_t)(2 * i);
		crlset_key(ser, 3, key);
		CHECK(crlset_builder_entry(b, key, 1, 0, i) == 0);
		if (i % 7 == 0)
			CHECK(crlset_builder_entry(b, key, 1, 1, i) == 0);
	}
	CHECK(crlset_builder_finish(b, 1, 1, &buf, &len) == 0);
	CHECK(crlset_open(&s, buf, len, why, sizeof(why)) == 0);
	for (i = 0; i <= 20001; i++) {
		ser[0] = 0x01;
		ser[1] = (uint8_t)(i >> 8);
		ser[2] = (uint8_t)i;
		crlset_key(ser, 3, key);
		e = crlset_find(&s, 0, key, &n);
		if (i % 2 == 1 || i == 0) {
			bad += e != NULL || n != 0;
			continue;
		}
		bad += e == NULL || n != ((i / 2) % 7 == 0 ? 2u : 1u) ||
		    e->revoked != i / 2 || e->issuer != 0;
	}
	CHECK(bad == 0);
	free(buf);
}

static void
t_empty_set(void)
{
	struct crlset_builder	*b = crlset_builder_new();
	struct crlset		 s;
	unsigned char		*buf;
	uint8_t			 key[CRLSET_KEY_LEN];
	size_t			 len, n;
	char			 why[256];

	CHECK(crlset_builder_finish(b, 1, 1, &buf, &len) == 0);
	CHECK(len == sizeof(struct crlset_hdr));
	CHECK(crlset_open(&s, buf, len, why, sizeof(why)) == 0);
	crlset_key(ser_a, sizeof(ser_a), key);
	CHECK(crlset_find(&s, 0, key, &n) == NULL && n == 0);
	CHECK(crlset_shell(&s, 0, &n) == NULL);
	free(buf);
}

/* What the builder refuses: caller bugs, and what a consumer would. */
static void
t_builder_refuses(void)
{
	struct crlset_builder	*b;
	struct crlset_crl	 c;
	unsigned char		*buf, *big;
	uint8_t			 key[CRLSET_KEY_LEN];
	size_t			 len;

	crlset_key(ser_a, sizeof(ser_a), key);
	/* Entries and names without a CRL. */
	b = crlset_builder_new();
	CHECK(crlset_builder_entry(b, key, 1, 0, 0) == -1);
	CHECK(crlset_builder_finish(b, 1, 1, &buf, &len) == -1);
	b = crlset_builder_new();
	CHECK(crlset_builder_name(b, name1, sizeof(name1)) == -1);
	CHECK(crlset_builder_finish(b, 1, 1, &buf, &len) == -1);
	/* An issuer index beyond the CRL's names. */
	b = crlset_builder_new();
	add_crl(b, "x", NULL, 0, 1, 2, "x", 0, shell1, sizeof(shell1), 0);
	CHECK(crlset_builder_name(b, name1, sizeof(name1)) == 0);
	CHECK(crlset_builder_entry(b, key, 1, 2, 0) == 0);
	CHECK(crlset_builder_finish(b, 1, 1, &buf, &len) == -1);
	b = crlset_builder_new();
	add_crl(b, "x", NULL, 0, 1, 2, "x", 0, shell1, sizeof(shell1), 0);
	CHECK(crlset_builder_entry(b, key, 1, CRLSET_MAX_NAMES + 1, 0) ==
	    -1);
	crlset_builder_free(b);
	/* Oversized shell, name, digest. */
	big = calloc(1, CRLSET_MAX_SHELL + 1);
	memset(&c, 0, sizeof(c));
	b = crlset_builder_new();
	CHECK(crlset_builder_crl(b, &c, big, CRLSET_MAX_SHELL + 1) == -1);
	crlset_builder_free(b);
	b = crlset_builder_new();
	CHECK(crlset_builder_crl(b, &c, big, CRLSET_MAX_SHELL) == 0);
	CHECK(crlset_builder_name(b, big, CRLSET_MAX_NAME + 1) == -1);
	crlset_builder_free(b);
	b = crlset_builder_new();
	c.digest_len = CRLSET_DIGEST_MAX + 1;
	CHECK(crlset_builder_crl(b, &c, shell1, sizeof(shell1)) == -1);
	crlset_builder_free(b);
	free(big);
	/* Errors stick: nothing after a failure is built. */
	b = crlset_builder_new();
	CHECK(crlset_builder_entry(b, key, 1, 0, 0) == -1);
	memset(&c, 0, sizeof(c));
	CHECK(crlset_builder_crl(b, &c, shell1, sizeof(shell1)) == -1);
	crlset_builder_free(b);
}

static int
open_copy(const unsigned char *img, size_t len, char *why, size_t whylen)
{
	struct crlset	 s;
	unsigned char	*copy;
	int		 r;

	/* malloc: 16-byte aligned, as a mapping would be. */
	copy = malloc(len ? len : 1);
	memcpy(copy, img, len);
	r = crlset_open(&s, copy, len, why, whylen);
	free(copy);
	return r;
}

/* Use everything a valid image offers: ASan watches the reads. */
static void
walk(const struct crlset *s)
{
	const struct crlset_entry	*e;
	const uint8_t			*p;
	size_t				 i, n, m;
	unsigned			 k;
	volatile uint8_t		 sink = 0;

	for (i = 0; i < s->hdr->ncrl; i++) {
		if ((p = crlset_shell(s, i, &n)) != NULL && n > 0)
			sink ^= p[0] ^ p[n - 1];
		for (k = 1; k <= s->crls[i].name_count; k++)
			if ((p = crlset_name(s, i, k, &n)) != NULL)
				sink ^= p[0] ^ p[n - 1];
		for (m = 0; m < s->crls[i].count; m++) {
			e = crlset_find(s, i, s->entries[s->crls[i].first +
			    m].key, &n);
			if (e != NULL)
				sink ^= e[n - 1].reason;
		}
	}
	(void)sink;
}

/* Every truncation, and every single-bit change of the header, the
 * records and the names, is either refused or yields an image that
 * still validates (never an out-of-bounds read: ASan watches). */
static void
t_truncated_and_corrupt(void)
{
	struct crlset		 s;
	unsigned char		*buf, *copy;
	size_t			 len, i, hdrs, ents, nameoff;
	char			 why[256];
	int			 bit;

	buf = build(&len);
	for (i = 0; i < len; i++)
		CHECK(open_copy(buf, i, why, sizeof(why)) == -1);
	/* Longer than the header says. */
	copy = calloc(1, len + 8);
	memcpy(copy, buf, len);
	CHECK(crlset_open(&s, copy, len + 8, why, sizeof(why)) == -1);
	free(copy);
	hdrs = sizeof(struct crlset_hdr) + 3 * sizeof(struct crlset_crl);
	ents = 8 * sizeof(struct crlset_entry);
	nameoff = (hdrs + ents + 7) & ~(size_t)7;
	copy = malloc(len);
	for (i = 0; i < len; i++) {
		/* The entries' keys and the blob's bytes are data. */
		if (i >= hdrs && i < nameoff)
			continue;
		if (i >= nameoff + 2 * sizeof(struct crlset_name))
			break;
		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, buf, len);
			copy[i] ^= 1 << bit;
			if (crlset_open(&s, copy, len, why, sizeof(why)) == 0)
				walk(&s);
		}
	}
	free(copy);
	/* And the entries' issuer fields, byte by byte. */
	copy = malloc(len);
	for (i = hdrs; i < hdrs + ents; i++) {
		memcpy(copy, buf, len);
		copy[i] ^= 0xff;
		if (crlset_open(&s, copy, len, why, sizeof(why)) == 0)
			walk(&s);
	}
	free(copy);
	free(buf);
}

/* The specific hostile images, each refused with its reason. */
static void
t_hostile(void)
{
	struct crlset		 s;
	struct crlset_hdr	*h;
	struct crlset_crl	*c;
	struct crlset_entry	*e;
	struct crlset_name	*nm;
	unsigned char		*buf, *copy;
	size_t			 len, hdrs, nameoff;
	char			 why[256];

#define REFUSED(frag) do {						\
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == -1);	\
	CHECK(strstr(why, (frag)) != NULL);				\
	memcpy(copy, buf, len);						\
} while (0)
	buf = build(&len);
	copy = malloc(len);
	memcpy(copy, buf, len);
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == 0);
	h = (struct crlset_hdr *)copy;
	c = (struct crlset_crl *)(copy + sizeof(*h));
	hdrs = sizeof(*h) + 3 * sizeof(*c);
	e = (struct crlset_entry *)(copy + hdrs);
	nameoff = (hdrs + 8 * sizeof(*e) + 7) & ~(size_t)7;
	nm = (struct crlset_name *)(copy + nameoff);

	copy[0] = 'X';
	REFUSED("magic");
	h->version = 1;
	REFUSED("version");
	h->size = len + 24;
	REFUSED("size");
	h->ncrl = CRLSET_MAX_CRLS + 1;
	REFUSED("too many");
	h->nentries = UINT64_MAX / 8;
	REFUSED("too many");
	h->nnames = UINT32_MAX;
	REFUSED("too many");
	/* Counts that do not add up to the image. */
	h->nentries = 9;
	REFUSED("blob");
	h->nnames = 3;
	REFUSED("blob");
	h->blob_off++;
	REFUSED("blob");
	h->blob_len--;
	REFUSED("blob");
	h->blob_off = UINT64_MAX - 4;
	REFUSED("blob");
	/* Entry ranges. */
	c[0].first = 4;
	c[0].count = UINT64_MAX - 2;	/* first + count wraps */
	REFUSED("entries out of range");
	c[1].first = 8;
	c[1].count = 1;			/* one past the end */
	REFUSED("entries out of range");
	c[1].first = 0;			/* overlapping: 7 + 1 + ... */
	c[1].count = 8;
	REFUSED("entries");
	/* Name ranges. */
	c[0].name_first = 1;		/* 1 + 2 > 2 */
	REFUSED("names out of range");
	c[0].name_first = UINT32_MAX;
	REFUSED("names out of range");
	c[0].name_count = UINT32_MAX;
	REFUSED("names out of range");
	/* Shell outside the blob. */
	c[0].shell_off = h->blob_len;
	REFUSED("shell out of range");
	c[0].shell_off = UINT64_MAX - 1;
	REFUSED("shell out of range");
	c[1].shell_len = (uint32_t)h->blob_len;	/* from its offset: past */
	REFUSED("shell out of range");
	c[0].shell_len = CRLSET_MAX_SHELL + 1;
	REFUSED("shell out of range");
	/* Names outside the blob. */
	nm[0].off = h->blob_len;
	REFUSED("name 0 out of range");
	nm[1].off = UINT64_MAX;
	REFUSED("name 1 out of range");
	nm[1].len = 0;
	REFUSED("name 1 out of range");
	nm[0].len = CRLSET_MAX_NAME + 1;
	REFUSED("name 0 out of range");
	/* Records. */
	memset(c[0].source, 'x', sizeof(c[0].source));
	REFUSED("malformed record");
	c[0].keyidlen = CRLSET_KEYID_MAX + 1;
	REFUSED("malformed record");
	c[2].digest_len = CRLSET_DIGEST_MAX + 1;
	REFUSED("malformed record");
	/* Entries: issuer index, order, duplicates. */
	e[0].issuer = 3;		/* CRL 0 has two names */
	REFUSED("issuer 3 out of range");
	e[7].issuer = 1;		/* CRL 1 has none */
	REFUSED("CRL 1: entry 0: issuer 1");
	e[0].key[0] = 0xfe;		/* first entry now sorts late */
	REFUSED("not sorted");
	{
		struct crlset_entry	 t = e[3];

		/* The same serial under issuers 0, 2, 1. */
		CHECK(e[3].issuer == 1 && e[4].issuer == 2);
		e[3] = e[4];
		e[4] = t;
	}
	REFUSED("not sorted");
	e[3] = e[2];			/* duplicate (key, issuer) */
	REFUSED("not sorted");
	/* Alignment. */
	{
		unsigned char	*odd = malloc(len + 8);

		memcpy(odd + 4, buf, len);
		CHECK(crlset_open(&s, odd + 4, len, why, sizeof(why)) == -1);
		CHECK(strstr(why, "aligned") != NULL);
		free(odd);
	}
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == 0);
	CHECK(crlset_open(&s, NULL, len, why, sizeof(why)) == -1);
#undef REFUSED
	free(copy);
	free(buf);
}

static void
t_memfd_sealed(void)
{
	const struct crlset_entry	*e;
	struct crlset			 s;
	unsigned char			*buf;
	uint8_t				 key[CRLSET_KEY_LEN];
	size_t				 len, n;
	char				 why[256];
	int				 fd;

	buf = build(&len);
	fd = crlset_memfd(buf, len);
	CHECK(fd != -1);
	/* Sealed: nobody can change it under a reader. */
	CHECK(write(fd, "x", 1) == -1);
	CHECK(ftruncate(fd, 10) == -1);
	CHECK(crlset_map(&s, fd, why, sizeof(why)) == 0);
	CHECK(s.mapped);
	crlset_key(ser_a, sizeof(ser_a), key);
	e = crlset_find(&s, 0, key, &n);
	CHECK(e != NULL && n == 3);
	CHECK(crlset_shell(&s, 1, &n) != NULL && n == sizeof(shell2));
	crlset_unmap(&s);
	CHECK(s.hdr == NULL);
	close(fd);

	/* An unsealed descriptor is refused. */
	fd = memfd_create("t", MFD_CLOEXEC);
	CHECK(fd != -1);
	CHECK(write(fd, buf, len) == (ssize_t)len);
	CHECK(crlset_map(&s, fd, why, sizeof(why)) == -1);
	CHECK(strstr(why, "sealed") != NULL);
	close(fd);
	/* A sealed one that is too short. */
	fd = crlset_memfd(buf, 10);
	CHECK(fd != -1);
	CHECK(crlset_map(&s, fd, why, sizeof(why)) == -1);
	close(fd);
	/* A sealed one cut inside the blob. */
	fd = crlset_memfd(buf, len - 1);
	CHECK(fd != -1);
	CHECK(crlset_map(&s, fd, why, sizeof(why)) == -1);
	close(fd);
	free(buf);
}

static void
t_keys(void)
{
	uint8_t		 k1[CRLSET_KEY_LEN], k2[CRLSET_KEY_LEN];
	ASN1_INTEGER	*ai;

	/* 0x80 and 0x00 0x80 are different serials. */
	crlset_key(ser_c, sizeof(ser_c), k1);
	crlset_key(ser_d, sizeof(ser_d), k2);
	CHECK(memcmp(k1, k2, sizeof(k1)) != 0);
	memset(ser_long, 0x42, sizeof(ser_long));
	crlset_key(ser_long, sizeof(ser_long), k1);
	CHECK(k1[0] == CRLSET_KEY_HASHED);
	/* An INTEGER 128 is 00 80 on the wire. */
	ai = ASN1_INTEGER_new();
	ASN1_INTEGER_set(ai, 128);
	CHECK(crlset_key_asn1(ai, k2) == 0);
	crlset_key(ser_c, sizeof(ser_c), k1);
	CHECK(memcmp(k1, k2, sizeof(k1)) == 0);
	ASN1_INTEGER_free(ai);
}

static void
t_entry_cmp(void)
{
	struct crlset_entry	 a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	crlset_key(ser_a, sizeof(ser_a), a.key);
	crlset_key(ser_a, sizeof(ser_a), b.key);
	a.issuer = 1;
	b.issuer = 300;
	a.revoked = 99;		/* neither date nor reason orders */
	b.reason = 1;
	CHECK(crlset_entry_cmp(&a, &b) < 0);
	CHECK(crlset_entry_cmp(&b, &a) > 0);
	b.issuer = 1;
	CHECK(crlset_entry_cmp(&a, &b) == 0);
	crlset_key(ser_b, sizeof(ser_b), b.key);
	b.issuer = 0;
	CHECK(crlset_entry_cmp(&a, &b) < 0);
}

static void
t_reason_names(void)
{
	CHECK(strcmp(crlset_reason_name(6), "certificateHold") == 0);
	CHECK(strcmp(crlset_reason_name(1), "keyCompromise") == 0);
	CHECK(strcmp(crlset_reason_name(8), "removeFromCRL") == 0);
	CHECK(strcmp(crlset_reason_name(CRLSET_REASON_NONE), "none given") ==
	    0);
	CHECK(strcmp(crlset_reason_name(77), "unknown") == 0);
}

int
main(void)
{
	RUN(t_build_and_lookup);
	RUN(t_find_large);
	RUN(t_empty_set);
	RUN(t_builder_refuses);
	RUN(t_truncated_and_corrupt);
	RUN(t_hostile);
	RUN(t_memfd_sealed);
	RUN(t_keys);
	RUN(t_entry_cmp);
	RUN(t_reason_names);
	TEST_EXIT();
}
