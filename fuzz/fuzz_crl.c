/*
 * A downloaded CRL (crld/crl_validate.c crl_validate()): DER, PEM, or
 * libcurl's LDAP text output, as crld takes it from a CRL distribution
 * point anyone on the path may answer; then the revocation set crld
 * builds from what it accepted (as crld.c crld_send_set() does) and the
 * front's reader of that set.  No CA is configured for the CRL's
 * issuer, so the signature is left to the front (crld accepts such a
 * CRL: see crl_check_signer()) and every later step is reached.
 * Checked: an accepted CRL gives a set that opens, whose shell parses
 * as a CRL, and in which every extracted entry is found.
 *
 * The first byte picks the type (bit 0: PEM) and the LDAP form (bit 1).
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "config.h"
#include "crld.h"
#include "crlset.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* 2026-12-01: after the PKITS CRLs' thisUpdate, before most nextUpdates. */
#define FUZZ_NOW	1796083200

static void
check_set(const struct crl_data *d)
{
	struct crlset_builder	*b;
	struct crlset_crl	 rec;
	struct crlset		 s;
	unsigned char		*buf;
	void			*img;
	const uint8_t		*sh;
	const unsigned char	*p;
	X509_CRL		*shell;
	size_t			 len, i, n, shlen;
	char			 why[256];

	if ((b = crlset_builder_new()) == NULL)
		abort();
	memset(&rec, 0, sizeof(rec));
	memcpy(rec.issuer_hash, d->issuer_hash, sizeof(rec.issuer_hash));
	memcpy(rec.keyid, d->keyid, d->keyidlen);
	rec.keyidlen = (uint8_t)d->keyidlen;
	rec.flags = d->flags;
	rec.md_nid = d->md_nid;
	memcpy(rec.digest, d->digest, d->digest_len);
	rec.digest_len = (uint8_t)d->digest_len;
	rec.this_update = d->this_update;
	rec.next_update = d->next_update;
	snprintf(rec.source, sizeof(rec.source), "fuzz");
	if (crlset_builder_crl(b, &rec, d->shell, d->shell_len) == -1)
		abort();
	for (i = 0; i < d->nnames; i++)
		if (crlset_builder_name(b, d->names[i].der,
		    d->names[i].len) == -1)
			abort();
	if (crlset_builder_entries(b, d->entries, d->nentries) == -1)
		abort();
	if (crlset_builder_finish(b, 1, FUZZ_NOW, &buf, &len) == -1)
		abort();
	if ((img = aligned_alloc(64, (len + 63) / 64 * 64)) == NULL)
		abort();
	memcpy(img, buf, len);
	free(buf);
	if (crlset_open(&s, img, len, why, sizeof(why)) == -1) {
		fprintf(stderr, "set refused: %s\n", why);
		abort();
	}
	if ((sh = crlset_shell(&s, 0, &shlen)) == NULL)
		abort();
	p = sh;
	/* The front hands the shell to OpenSSL's verifier as a CRL. */
	if ((shell = d2i_X509_CRL(NULL, &p, (long)shlen)) == NULL) {
		fprintf(stderr, "shell does not parse\n");
		abort();
	}
	X509_CRL_free(shell);
	for (i = 0; i < d->nentries; i++)
		if (crlset_find(&s, 0, d->entries[i].key, &n) == NULL)
			abort();
	free(img);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crl_cas		 cas;
	struct crl_data		*d = NULL, *again = NULL;
	unsigned char		*der = NULL, *der2 = NULL;
	size_t			 derlen, derlen2;
	char			 why[1024];
	int			 r;

	if (size < 1)
		return 0;
	crl_cas_init(&cas);
	r = crl_validate(data + 1, size - 1,
	    (data[0] & 1) ? CRL_TYPE_PEM : CRL_TYPE_ASN1, (data[0] & 2) != 0,
	    &cas, NULL, FUZZ_NOW, &d, &der, &derlen, why, sizeof(why));
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "crl_validate: %d %s\n", r, r == -1 ? why : "");
	if (r == 1) {
		if (d == NULL || der == NULL)
			abort();
		check_set(d);
		/* The cached DER is taken again as the same CRL. */
		if (crl_validate(der, derlen, CRL_TYPE_ASN1, 0, &cas, d,
		    FUZZ_NOW, &again, &der2, &derlen2, why, sizeof(why)) != 0) {
			fprintf(stderr, "cached copy: %s\n", why);
			abort();
		}
	}
	crl_data_free(d);
	crl_data_free(again);
	free(der);
	free(der2);
	crl_cas_free(&cas);
	ERR_clear_error();
	return 0;
}
