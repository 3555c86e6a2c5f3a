/*
 * Unit tests for common/crlset.c: building, lookups, and the checks the
 * front makes before it trusts an image another process handed it.
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
static uint8_t		 ser_long[40];			/* hashed key */
static const uint8_t	 kid1[] = { 1, 2, 3, 4 };
static const uint8_t	 kid2[] = { 9, 9, 9, 9 };

static void
issuer(const char *name, uint8_t h[CRLSET_HASH_LEN])
{
	crlset_issuer_hash((const uint8_t *)name, strlen(name), h);
}

static void
add_crl(struct crlset_builder *b, const char *iss, const uint8_t *kid,
    size_t kidlen, int64_t tu, int64_t nu, const char *src, int stale)
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
	snprintf(c.source, sizeof(c.source), "%s", src);
	CHECK(crlset_builder_crl(b, &c) == 0);
}

static void
add_entry(struct crlset_builder *b, const uint8_t *s, size_t len, int reason)
{
	uint8_t	 key[CRLSET_KEY_LEN];

	crlset_key(s, len, key);
	CHECK(crlset_builder_entry(b, key, reason) == 0);
}

/* Two issuers; "inter" has a fresh CRL with a key id, "root" a stale one. */
static unsigned char *
build(size_t *len)
{
	struct crlset_builder	*b;
	unsigned char		*buf;

	memset(ser_long, 0x42, sizeof(ser_long));
	b = crlset_builder_new();
	CHECK(b != NULL);
	add_crl(b, "inter", kid1, sizeof(kid1), 1000, 5000, "inter", 0);
	/* Out of order and duplicated on purpose. */
	add_entry(b, ser_b, sizeof(ser_b), 6);		/* certificateHold */
	add_entry(b, ser_a, sizeof(ser_a), 1);
	add_entry(b, ser_c, sizeof(ser_c), CRLSET_REASON_NONE);
	add_entry(b, ser_a, sizeof(ser_a), 1);
	add_entry(b, ser_long, sizeof(ser_long), 4);
	add_entry(b, ser_d, sizeof(ser_d), CRLSET_REASON_REMOVE);
	add_crl(b, "root", NULL, 0, 100, 500, "root", 1);
	add_entry(b, ser_d, sizeof(ser_d), 2);
	CHECK(crlset_builder_finish(b, 7, 42, &buf, len) == 0);
	return buf;
}

static void
t_build_and_lookup(void)
{
	struct crlset		 s;
	struct crlset_answer	 a;
	uint8_t			 hi[CRLSET_HASH_LEN], hr[CRLSET_HASH_LEN];
	uint8_t			 hx[CRLSET_HASH_LEN];
	unsigned char		*buf;
	size_t			 len;
	char			 why[256];

	buf = build(&len);
	CHECK(crlset_open(&s, buf, len, why, sizeof(why)) == 0);
	CHECK(s.hdr->ncrl == 2);
	CHECK(s.hdr->nentries == 5);	/* dup merged, remove dropped */
	CHECK(s.hdr->serial == 7);
	issuer("inter", hi);
	issuer("root", hr);
	issuer("nobody", hx);

	crlset_check(&s, hi, kid1, sizeof(kid1), ser_a, sizeof(ser_a), 2000,
	    &a);
	CHECK(a.result == CRLSET_REVOKED && a.reason == 1);
	CHECK(a.source != NULL && strcmp(a.source, "inter") == 0);
	crlset_check(&s, hi, NULL, 0, ser_b, sizeof(ser_b), 2000, &a);
	CHECK(a.result == CRLSET_REVOKED && a.reason == 6);
	crlset_check(&s, hi, NULL, 0, ser_c, sizeof(ser_c), 2000, &a);
	CHECK(a.result == CRLSET_REVOKED && a.reason == CRLSET_REASON_NONE);
	/* 0x80 and 0x00 0x80 are different serials. */
	crlset_check(&s, hi, NULL, 0, ser_d, sizeof(ser_d), 2000, &a);
	CHECK(a.result == CRLSET_GOOD);
	crlset_check(&s, hi, NULL, 0, ser_long, sizeof(ser_long), 2000, &a);
	CHECK(a.result == CRLSET_REVOKED && a.reason == 4);
	/* Another key of the same issuer name: this CRL does not apply. */
	crlset_check(&s, hi, kid2, sizeof(kid2), ser_a, sizeof(ser_a), 2000,
	    &a);
	CHECK(a.result == CRLSET_NO_CRL);
	/* Past nextUpdate: not listed is STALE, listed is still REVOKED. */
	crlset_check(&s, hi, NULL, 0, ser_d, sizeof(ser_d), 6000, &a);
	CHECK(a.result == CRLSET_STALE && a.stale == 0);
	crlset_check(&s, hi, NULL, 0, ser_a, sizeof(ser_a), 6000, &a);
	CHECK(a.result == CRLSET_REVOKED);
	crlset_check(&s, hr, kid2, sizeof(kid2), ser_d, sizeof(ser_d), 200,
	    &a);
	CHECK(a.result == CRLSET_REVOKED && a.reason == 2);
	crlset_check(&s, hr, NULL, 0, ser_a, sizeof(ser_a), 1000, &a);
	CHECK(a.result == CRLSET_STALE && a.stale == 1);
	crlset_check(&s, hx, NULL, 0, ser_a, sizeof(ser_a), 1000, &a);
	CHECK(a.result == CRLSET_NO_CRL && a.source == NULL);
	/* No set at all. */
	crlset_check(NULL, hi, NULL, 0, ser_a, sizeof(ser_a), 1000, &a);
	CHECK(a.result == CRLSET_NO_CRL);
	free(buf);
}

static void
t_empty_set(void)
{
	struct crlset_builder	*b = crlset_builder_new();
	struct crlset		 s;
	unsigned char		*buf;
	uint8_t			 key[CRLSET_KEY_LEN];
	size_t			 len;
	char			 why[256];

	CHECK(crlset_builder_finish(b, 1, 1, &buf, &len) == 0);
	CHECK(len == sizeof(struct crlset_hdr));
	CHECK(crlset_open(&s, buf, len, why, sizeof(why)) == 0);
	free(buf);
	/* Entries without a CRL are a caller bug. */
	b = crlset_builder_new();
	crlset_key(ser_a, sizeof(ser_a), key);
	CHECK(crlset_builder_entry(b, key, 1) == -1);
	CHECK(crlset_builder_finish(b, 1, 1, &buf, &len) == -1);
}

/* Every truncation, and every single-byte change of the header and the
 * records, is either refused or yields an image that still validates
 * (never an out-of-bounds read: ASan watches). */
static void
t_truncated_and_corrupt(void)
{
	struct crlset		 s;
	struct crlset_answer	 a;
	struct crlset_hdr	*h;
	struct crlset_crl	*c;
	struct crlset_entry	*e;
	unsigned char		*buf, *copy;
	uint8_t			 hi[CRLSET_HASH_LEN];
	size_t			 len, i, hdrs;
	char			 why[256];
	int			 bit;

	buf = build(&len);
	issuer("inter", hi);
	for (i = 0; i < len; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, buf, i);
		CHECK(crlset_open(&s, copy, i, why, sizeof(why)) == -1);
		free(copy);
	}
	hdrs = sizeof(struct crlset_hdr) + 2 * sizeof(struct crlset_crl);
	copy = malloc(len);
	for (i = 0; i < hdrs; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, buf, len);
			copy[i] ^= 1 << bit;
			if (crlset_open(&s, copy, len, why, sizeof(why)) == 0)
				crlset_check(&s, hi, NULL, 0, ser_a,
				    sizeof(ser_a), 2000, &a);
		}
	}
	/* The specific checks. */
	memcpy(copy, buf, len);
	h = (struct crlset_hdr *)copy;
	h->ncrl = CRLSET_MAX_CRLS + 1;
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == -1);
	memcpy(copy, buf, len);
	h->nentries = UINT64_MAX / 8;
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == -1);
	memcpy(copy, buf, len);
	h->size = len + 24;
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == -1);
	memcpy(copy, buf, len);
	c = (struct crlset_crl *)(copy + sizeof(*h));
	c[0].first = 4;
	c[0].count = UINT64_MAX - 2;	/* first + count wraps */
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == -1);
	memcpy(copy, buf, len);
	c[1].first = 5;
	c[1].count = 1;			/* one past the end */
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == -1);
	memcpy(copy, buf, len);
	memset(c[0].source, 'x', sizeof(c[0].source));
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == -1);
	memcpy(copy, buf, len);
	c[0].keyidlen = CRLSET_KEYID_MAX + 1;
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == -1);
	memcpy(copy, buf, len);
	e = (struct crlset_entry *)(copy + hdrs);
	e[0].key[1] = 0xff;		/* first entry now sorts last */
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == -1);
	CHECK(strstr(why, "not sorted") != NULL);
	memcpy(copy, buf, len);
	copy[0] = 'X';
	CHECK(crlset_open(&s, copy, len, why, sizeof(why)) == -1);
	free(copy);
	free(buf);
}

static void
t_memfd_sealed(void)
{
	struct crlset		 s;
	struct crlset_answer	 a;
	unsigned char		*buf;
	uint8_t			 hi[CRLSET_HASH_LEN];
	size_t			 len;
	char			 why[256];
	int			 fd;

	buf = build(&len);
	issuer("inter", hi);
	fd = crlset_memfd(buf, len);
	CHECK(fd != -1);
	/* Sealed: nobody can change it under a reader. */
	CHECK(write(fd, "x", 1) == -1);
	CHECK(ftruncate(fd, 10) == -1);
	CHECK(crlset_map(&s, fd, why, sizeof(why)) == 0);
	CHECK(s.mapped);
	crlset_check(&s, hi, NULL, 0, ser_a, sizeof(ser_a), 2000, &a);
	CHECK(a.result == CRLSET_REVOKED);
	crlset_unmap(&s);
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
	free(buf);
}

static void
t_reason_names(void)
{
	CHECK(strcmp(crlset_reason_name(6), "certificateHold") == 0);
	CHECK(strcmp(crlset_reason_name(1), "keyCompromise") == 0);
	CHECK(strcmp(crlset_reason_name(CRLSET_REASON_NONE), "none given") ==
	    0);
	CHECK(strcmp(crlset_reason_name(77), "unknown") == 0);
}

int
main(void)
{
	RUN(t_build_and_lookup);
	RUN(t_empty_set);
	RUN(t_truncated_and_corrupt);
	RUN(t_memfd_sealed);
	RUN(t_reason_names);
	TEST_EXIT();
}
