/*
 * Revocation at DoD scale (issue 5): what a 100,000- or 1,000,000-entry
 * CRL costs crld, the front and each handshake.
 *
 *	crl_bench micro N...	for each N: make a CRL of N entries signed
 *				by a fresh test CA, then time crld's
 *				validation (crl_validate(): parse, verify
 *				once, extract, digest, shell), the set
 *				build, the front's map + validate, and
 *				lookups (crlset_find()); and, for
 *				comparison, OpenSSL's own CRL checking
 *				(X509_verify_cert with X509_V_FLAG_CRL_CHECK),
 *				which is what a TLS stack given the CRL pays
 *				per handshake.
 *	crl_bench gen N CA.pem CA.key OUT.der
 *				write a CRL of N random serials signed by
 *				that CA (for bench/run.sh's daemon runs).
 *
 * crld's and the front's real code is compiled in (the #includes of .c
 * files below), so the figures are those of the daemon's code paths.
 */
#include <sys/resource.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* crld's validation path, as crld runs it. */
#include "../crld/crl_validate.c"

#include "crlset.h"
#include "log.h"

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
maxrss_kb(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Current RSS from /proc, in kB (maxrss only grows). */
static long
rss_kb(void)
{
	FILE	*f;
	char	 line[256];
	long	 v = -1;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static EVP_PKEY *
mkkey(void)
{
	EVP_PKEY	*k = EVP_EC_gen("P-256");

	if (k == NULL) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	return k;
}

static X509 *
mkcert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, int ca)
{
	X509		*x = X509_new();
	X509_NAME	*n = X509_NAME_new();
	X509V3_CTX	 v3;
	X509_EXTENSION	*ext;

	ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 0x1234567);
	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 365);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (ca) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
		    "critical,keyCertSign,cRLSign");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier,
	    "hash");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, ikey ? ikey : key, EVP_sha256());
	X509_NAME_free(n);
	return x;
}

/* A CRL of n random 16-byte serials (keyCompromise). */
static X509_CRL *
mkcrl(X509 *ca, EVP_PKEY *key, long n)
{
	X509_CRL	*crl = X509_CRL_new();
	X509_REVOKED	*r;
	ASN1_INTEGER	*ai;
	ASN1_ENUMERATED	*reason;
	ASN1_TIME	*t = ASN1_TIME_new();
	BIGNUM		*bn = BN_new();
	unsigned char	 ser[16];
	long		 i;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	X509_gmtime_adj(t, -60);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, 86400 * 7);
	X509_CRL_set1_nextUpdate(crl, t);
	reason = ASN1_ENUMERATED_new();
	ASN1_ENUMERATED_set(reason, 1);
	X509_gmtime_adj(t, -3600);
	for (i = 0; i < n; i++) {
		RAND_bytes(ser, sizeof(ser));
		ser[0] = (ser[0] & 0x3f) | 0x10;
		BN_bin2bn(ser, sizeof(ser), bn);
		ai = BN_to_ASN1_INTEGER(bn, NULL);
		r = X509_REVOKED_new();
		X509_REVOKED_set_serialNumber(r, ai);
		X509_REVOKED_set_revocationDate(r, t);
		X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(ai);
	}
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(t);
	BN_free(bn);
	X509_CRL_sort(crl);
	X509_CRL_sign(crl, key, EVP_sha256());
	return crl;
}

static unsigned char *
crl_der(X509_CRL *crl, size_t *len)
{
	unsigned char	*der = NULL;
	int		 n = i2d_X509_CRL(crl, &der);

	*len = n > 0 ? (size_t)n : 0;
	return der;
}

static void
micro(long n)
{
	EVP_PKEY		*cakey = mkkey(), *lkey = mkkey();
	X509			*ca = mkcert("Bench CA", cakey, NULL, NULL, 1);
	X509			*leaf = mkcert("bench leaf", lkey, ca, cakey, 0);
	X509_CRL		*crl;
	struct crl_cas		 cas;
	struct crl_data		*d = NULL;
	struct crlset_builder	*b;
	struct crlset_crl	 rec;
	struct crlset		 set;
	const struct crlset_entry *hit;
	X509_STORE		*store;
	X509_STORE_CTX		*ctx;
	unsigned char		*der, *cached, *img;
	uint8_t			 key[CRLSET_KEY_LEN];
	size_t			 derlen, cachedlen, imglen, nhit, k;
	double			 t0, t1;
	long			 rss0, rss1, i, iters, hits = 0;
	char			 why[512];
	int			 fd, r;

	printf("== %ld entries\n", n);
	t0 = now_s();
	crl = mkcrl(ca, cakey, n);
	der = crl_der(crl, &derlen);
	t1 = now_s();
	printf("  CRL generated: %zu bytes DER in %.2f s (not crld's cost)\n",
	    derlen, t1 - t0);

	/* crld: parse, verify once, extract (what crld keeps). */
	crl_cas_init(&cas);
	sk_X509_push(cas.certs, X509_dup(ca));
	rss0 = rss_kb();
	t0 = now_s();
	r = crl_validate(der, derlen, CRL_TYPE_ASN1, 0, &cas, NULL,
	    time(NULL), &d, &cached, &cachedlen, why, sizeof(why));
	t1 = now_s();
	rss1 = maxrss_kb();
	if (r != 1) {
		fprintf(stderr, "crl_validate: %s\n", why);
		exit(1);
	}
	printf("  crld validate (parse + verify + extract): %.3f s, "
	    "peak RSS %ld MB (from %ld MB)\n", t1 - t0, rss1 / 1024,
	    rss0 / 1024);
	printf("  crld keeps: %zu entries x %zu bytes = %.1f MB, a shell of "
	    "%zu bytes\n", d->nentries, sizeof(struct crlset_entry),
	    d->nentries * sizeof(struct crlset_entry) / 1048576.0,
	    d->shell_len);
	free(cached);

	/* crld: the set. */
	t0 = now_s();
	b = crlset_builder_new();
	memset(&rec, 0, sizeof(rec));
	memcpy(rec.issuer_hash, d->issuer_hash, sizeof(rec.issuer_hash));
	rec.this_update = d->this_update;
	rec.next_update = d->next_update;
	rec.flags = d->flags;
	rec.md_nid = d->md_nid;
	memcpy(rec.digest, d->digest, d->digest_len);
	rec.digest_len = (uint8_t)d->digest_len;
	snprintf(rec.source, sizeof(rec.source), "bench");
	crlset_builder_crl(b, &rec, d->shell, d->shell_len);
	for (k = 0; k < d->nnames; k++)
		crlset_builder_name(b, d->names[k].der, d->names[k].len);
	crlset_builder_entries(b, d->entries, d->nentries);
	if (crlset_builder_finish(b, 1, time(NULL), &img, &imglen) == -1) {
		perror("crlset_builder_finish");
		exit(1);
	}
	fd = crlset_memfd(img, imglen);
	t1 = now_s();
	printf("  crld set build + sealed memfd: %.3f s, set %zu bytes "
	    "(%.1f MB)\n", t1 - t0, imglen, imglen / 1048576.0);
	free(img);

	/* front: map and validate (once per new set). */
	t0 = now_s();
	if (crlset_map(&set, fd, why, sizeof(why)) == -1) {
		fprintf(stderr, "crlset_map: %s\n", why);
		exit(1);
	}
	t1 = now_s();
	printf("  front map + validate: %.1f ms\n", (t1 - t0) * 1000);

	/* Per certificate in a handshake: the key of its serial and the
	 * binary search in the CRL OpenSSL picked (crlset_find(), what the
	 * front's X509_CRL_METHOD does), for the leaf, which is not listed:
	 * none of it depends on n. */
	iters = 1000000;
	t0 = now_s();
	for (i = 0; i < iters; i++) {
		crlset_key_asn1(X509_get0_serialNumber(leaf), key);
		hit = crlset_find(&set, 0, key, &nhit);
		hits += hit == NULL;
	}
	t1 = now_s();
	printf("  front per certificate (key, search): %.2f us (%ld not "
	    "listed)\n", (t1 - t0) / iters * 1e6, hits);
	/* Revoked entries found, pure search. */
	t0 = now_s();
	for (i = 0, hits = 0; i < iters; i++) {
		const struct crlset_entry *e = &set.entries[(i * 7919) %
		    (long)set.hdr->nentries];

		hit = crlset_find(&set, 0, e->key, &nhit);
		hits += hit != NULL && nhit > 0;
	}
	t1 = now_s();
	printf("  lookup of a revoked serial: %.3f us (%ld found)\n",
	    (t1 - t0) / iters * 1e6, hits);
	crlset_unmap(&set);
	close(fd);

	/* For comparison: OpenSSL's CRL checking of the same leaf, with
	 * the CRL loaded from its DER as a TLS stack would load it. */
	{
		const unsigned char	*p = der;
		X509_CRL		*loaded;

		loaded = d2i_X509_CRL(NULL, &p, (long)derlen);
		X509_CRL_free(crl);
		crl = loaded;
	}
	store = X509_STORE_new();
	X509_STORE_add_cert(store, ca);
	X509_STORE_add_crl(store, crl);
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	ctx = X509_STORE_CTX_new();
	iters = n >= 1000000 ? 5 : 20;
	t0 = now_s();
	for (i = 0; i < iters; i++) {
		X509_STORE_CTX_init(ctx, store, leaf, NULL);
		if (X509_verify_cert(ctx) != 1)
			fprintf(stderr, "openssl verify: %s\n",
			    X509_verify_cert_error_string(
			    X509_STORE_CTX_get_error(ctx)));
		X509_STORE_CTX_cleanup(ctx);
	}
	t1 = now_s();
	printf("  OpenSSL X509_verify_cert with the CRL: %.1f ms per "
	    "verification (%ld runs), process peak RSS %ld MB\n",
	    (t1 - t0) / iters * 1000, iters, maxrss_kb() / 1024);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);

	crl_data_free(d);
	crl_cas_free(&cas);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(lkey);
}

static int
gen(long n, const char *certf, const char *keyf, const char *out)
{
	FILE		*f;
	X509		*ca;
	EVP_PKEY	*key;
	X509_CRL	*crl;
	unsigned char	*der;
	size_t		 len;

	if ((f = fopen(certf, "r")) == NULL ||
	    (ca = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		perror(certf);
		return 1;
	}
	fclose(f);
	if ((f = fopen(keyf, "r")) == NULL ||
	    (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		perror(keyf);
		return 1;
	}
	fclose(f);
	crl = mkcrl(ca, key, n);
	der = crl_der(crl, &len);
	if ((f = fopen(out, "w")) == NULL || fwrite(der, 1, len, f) != len ||
	    fclose(f) != 0) {
		perror(out);
		return 1;
	}
	fprintf(stderr, "%s: %ld entries, %zu bytes\n", out, n, len);
	return 0;
}

int
main(int argc, char *argv[])
{
	int	 i;

	log_init(1, 0);
	if (argc >= 2 && strcmp(argv[1], "micro") == 0) {
		for (i = 2; i < argc; i++)
			micro(strtol(argv[i], NULL, 10));
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "gen") == 0)
		return gen(strtol(argv[2], NULL, 10), argv[3], argv[4],
		    argv[5]);
	fprintf(stderr, "usage: crl_bench micro N ...\n"
	    "       crl_bench gen N ca.pem ca.key out.der\n");
	return 1;
}
