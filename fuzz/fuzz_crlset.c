/*
 * The revocation set (common/crlset.c): its builder, then its reader on
 * the image the builder made with fuzzer-chosen bytes changed, as the
 * front maps an image crld (which may be compromised) hands it.
 *
 * Input: a count of CRLs and entries, entry keys/reasons/issuers, names,
 * then (after a 0xff 0xff marker) pairs of [offset u16][xor u8] applied
 * to the built image.  Checked: an unchanged image opens and finds every
 * entry it was built with; any image crlset_open() accepts can be walked
 * (shells, names, lookups of every stored key) inside its bounds.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crlset.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
walk(const struct crlset *s, const uint8_t *img, size_t len)
{
	const struct crlset_entry	*e;
	const uint8_t			*p;
	size_t				 i, n, l;
	uint64_t			 j;
	unsigned			 k;

	for (i = 0; i < s->hdr->ncrl; i++) {
		if ((p = crlset_shell(s, i, &l)) != NULL &&
		    (p < img || p + l > img + len))
			abort();
		for (k = 1; k <= s->crls[i].name_count + 1; k++)
			if ((p = crlset_name(s, i, k, &l)) != NULL &&
			    (p < img || p + l > img + len))
				abort();
		for (j = 0; j < s->crls[i].count && j < 64; j++) {
			const struct crlset_entry *want =
			    &s->entries[s->crls[i].first + j];

			e = crlset_find(s, i, want->key, &n);
			if (e == NULL || n == 0)
				abort();
			if ((const uint8_t *)e < img ||
			    (const uint8_t *)(e + n) > img + len)
				abort();
			(void)crlset_reason_name(e->reason);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crlset_builder	*b;
	struct crlset_crl	 rec;
	struct crlset		 s;
	const uint8_t		*p = data, *end = data + size, *mut;
	uint8_t			 key[CRLSET_KEY_LEN], shell[64];
	unsigned char		*img;
	void			*copy;
	size_t			 len, ncrl, i, n, alen;
	char			 why[256];

	mut = end;
	for (i = 0; i + 1 < size; i++)
		if (data[i] == 0xff && data[i + 1] == 0xff) {
			mut = data + i + 2;
			end = data + i;
			break;
		}
	if ((b = crlset_builder_new()) == NULL)
		return 0;
	ncrl = p < end ? *p++ % 4 + 1 : 1;
	for (i = 0; i < ncrl; i++) {
		memset(&rec, 0, sizeof(rec));
		rec.issuer_hash[0] = (uint8_t)i;
		rec.flags = p < end ? *p++ & 0x0f : 0;
		rec.md_nid = 672;	/* sha256 */
		rec.digest_len = 32;
		rec.this_update = 1000;
		snprintf(rec.source, sizeof(rec.source), "src%zu", i);
		memset(shell, 0x30, sizeof(shell));
		if (crlset_builder_crl(b, &rec, shell, 8 + i) == -1)
			goto fail;
		n = p < end ? *p++ % 4 : 0;
		while (n-- > 0 && p + 2 <= end) {
			size_t	 nl = (size_t)(*p++ % 16) + 1;

			if (nl > (size_t)(end - p))
				nl = (size_t)(end - p);
			if (nl == 0 || crlset_builder_name(b, p, nl) == -1)
				break;
			p += nl;
		}
		n = p < end ? *p++ : 0;
		while (n-- > 0 && p + 3 <= end) {
			size_t	 sl = (size_t)(*p++ % 24);

			if (sl > (size_t)(end - p))
				sl = (size_t)(end - p);
			crlset_key(p, sl, key);
			p += sl;
			if (p + 2 > end)
				break;
			if (crlset_builder_entry(b, key, p[0] % 12, p[1] % 4,
			    1000) == -1)
				break;
			p += 2;
		}
	}
	if (crlset_builder_finish(b, 1, 2000, &img, &len) == -1)
		return 0;
	b = NULL;
	/* The front reads the records in place: give them their alignment. */
	alen = (len + 63) / 64 * 64;
	if ((copy = aligned_alloc(64, alen ? alen : 64)) == NULL) {
		free(img);
		return 0;
	}
	memcpy(copy, img, len);
	if (crlset_open(&s, copy, len, why, sizeof(why)) == -1) {
		fprintf(stderr, "built image refused: %s\n", why);
		abort();
	}
	walk(&s, copy, len);
	/* Changed: may be refused, must never be read out of bounds. */
	if (mut < data + size) {
		for (; mut + 3 <= data + size; mut += 3) {
			size_t	 off = ((size_t)mut[0] << 8 | mut[1]) % (len ? len : 1);

			((uint8_t *)copy)[off] ^= mut[2];
		}
		if (crlset_open(&s, copy, len, why, sizeof(why)) == 0)
			walk(&s, copy, len);
		/* and shortened */
		if (len > 8 && crlset_open(&s, copy, len - 8, why,
		    sizeof(why)) == 0)
			walk(&s, copy, len - 8);
	}
	free(copy);
	free(img);
	return 0;
fail:
	crlset_builder_free(b);
	return 0;
}
