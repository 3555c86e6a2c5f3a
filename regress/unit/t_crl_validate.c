/*
 * crld's CRL validation (crld/crl_validate.c) on real CRLs made here with
 * libcrypto: full, delta, indirect (certificateIssuer), reason-partitioned,
 * RSA-PSS and Ed25519 signed; the shell, the digest of tbsCertList, the
 * entries and names, the signer rules with and without a `ca'.  The module
 * lives in crld/, so the test includes its source (unit tests link
 * libcommon only).
 */
#include "../../crld/crl_validate.c"

#include <openssl/ec.h>
#include <openssl/rand.h>

#include "test.h"

static EVP_PKEY	*ca_key, *ca2_key, *other_key, *rsa_key, *ed_key;
static X509	*ca, *ca2, *other, *rsa_ca, *ed_ca;
static time_t	 now;

static EVP_PKEY *
mkkey(const char *kind)
{
	EVP_PKEY	*k;

	if (strcmp(kind, "rsa") == 0)
		k = EVP_RSA_gen(2048);
	else if (strcmp(kind, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		k = EVP_EC_gen("P-256");
	if (k == NULL) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	return k;
}

static X509_NAME *
mkname(const char *cn)
{
	X509_NAME	*n = X509_NAME_new();

	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	    (const unsigned char *)"smtpcertd test", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	return n;
}

/* A self-signed CA certificate. */
static X509 *
mkca(const char *cn, EVP_PKEY *key, const char *ku)
{
	X509		*x = X509_new();
	X509_NAME	*n = mkname(cn);
	X509V3_CTX	 v3;
	X509_EXTENSION	*ext;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_version(x, 2);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 365);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, ku);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier,
	    "hash");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, key, EVP_PKEY_id(key) == EVP_PKEY_ED25519 ? NULL :
	    EVP_sha256());
	X509_NAME_free(n);
	return x;
}

static X509_CRL *
crl_new(X509 *issuer, long number, long tu_off)
{
	X509_CRL	*crl = X509_CRL_new();
	ASN1_TIME	*t = ASN1_TIME_new();
	ASN1_INTEGER	*ai = ASN1_INTEGER_new();
	AUTHORITY_KEYID	*akid = AUTHORITY_KEYID_new();

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
	X509_time_adj(t, tu_off, &now);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_time_adj(t, tu_off + 86400 * 7, &now);
	X509_CRL_set1_nextUpdate(crl, t);
	ASN1_INTEGER_set(ai, number);
	X509_CRL_add1_ext_i2d(crl, NID_crl_number, ai, 0, 0);
	akid->keyid = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(issuer));
	X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0);
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(ai);
	ASN1_TIME_free(t);
	return crl;
}

/* An entry: serial, reason (-1: none), revoked at now + off, and a
 * certificateIssuer extension if gens is not NULL. */
static void
crl_add(X509_CRL *crl, long serial, int reason, long off, GENERAL_NAMES *gens)
{
	X509_REVOKED	*r = X509_REVOKED_new();
	ASN1_INTEGER	*ai = ASN1_INTEGER_new();
	ASN1_TIME	*t = ASN1_TIME_new();
	ASN1_ENUMERATED	*e;

	ASN1_INTEGER_set(ai, serial);
	X509_REVOKED_set_serialNumber(r, ai);
	X509_time_adj(t, off, &now);
	X509_REVOKED_set_revocationDate(r, t);
	if (reason >= 0) {
		e = ASN1_ENUMERATED_new();
		ASN1_ENUMERATED_set(e, reason);
		X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0);
		ASN1_ENUMERATED_free(e);
	}
	if (gens != NULL)
		X509_REVOKED_add1_ext_i2d(r, NID_certificate_issuer, gens, 1,
		    0);
	X509_CRL_add0_revoked(crl, r);
	ASN1_INTEGER_free(ai);
	ASN1_TIME_free(t);
}

static void
add_unknown_ext(X509_CRL *crl, X509_REVOKED *r, int crit, size_t len)
{
	ASN1_OBJECT		*obj = OBJ_txt2obj("1.3.6.1.4.1.99999.7", 1);
	ASN1_OCTET_STRING	*os = ASN1_OCTET_STRING_new();
	X509_EXTENSION		*ext;
	unsigned char		*v = calloc(1, len + 2);

	/* An OCTET STRING inside, so that it is DER either way. */
	v[0] = 0x04;
	v[1] = 0;
	ASN1_OCTET_STRING_set(os, v, len < 128 ? (int)len + 2 : 2);
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, crit, os);
	if (len >= 128) {
		ASN1_OCTET_STRING_set(os, v, (int)len);
		X509_EXTENSION_set_data(ext, os);
	}
	if (r != NULL)
		X509_REVOKED_add_ext(r, ext, -1);
	else
		X509_CRL_add_ext(crl, ext, -1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	free(v);
}

static unsigned char *
crl_der(X509_CRL *crl, EVP_PKEY *key, const char *how, size_t *len)
{
	EVP_MD_CTX	*mctx;
	EVP_PKEY_CTX	*pctx;
	unsigned char	*der = NULL;
	int		 n;

	if (strcmp(how, "pss") == 0 || strcmp(how, "pss-sha1") == 0) {
		mctx = EVP_MD_CTX_new();
		EVP_DigestSignInit(mctx, &pctx, strcmp(how, "pss") == 0 ?
		    EVP_sha384() : EVP_sha1(), NULL, key);
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
		CHECK(X509_CRL_sign_ctx(crl, mctx) > 0);
		EVP_MD_CTX_free(mctx);
	} else if (strcmp(how, "none") != 0)
		CHECK(X509_CRL_sign(crl, key, EVP_PKEY_id(key) ==
		    EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
	n = i2d_X509_CRL(crl, &der);
	CHECK(n > 0);
	*len = n > 0 ? (size_t)n : 0;
	X509_CRL_free(crl);
	return der;
}

static void
cas_of(struct crl_cas *c, const char *name, X509 *a, X509 *b)
{
	crl_cas_init(c);
	c->name = name;
	if (a != NULL)
		sk_X509_push(c->certs, X509_dup(a));
	if (b != NULL)
		sk_X509_push(c->certs, X509_dup(b));
}

/* crl_validate() on a DER CRL; the result, with *d set when 1. */
static int
validate(const unsigned char *der, size_t len, const struct crl_cas *cas,
    const struct crl_data *cur, struct crl_data **d, char *why,
    size_t whylen)
{
	unsigned char	*cached = NULL;
	size_t		 cachedlen = 0;
	int		 r;

	*d = NULL;
	why[0] = '\0';
	r = crl_validate(der, len, CRL_TYPE_ASN1, 0, cas, cur, now, d,
	    &cached, &cachedlen, why, whylen);
	if (r == 1) {
		/* The cache gets the CRL as it came, entries and all. */
		CHECK(cachedlen == len && memcmp(cached, der, len) == 0);
	}
	if (r == -1)
		fprintf(stderr, "  # refused: %s\n", why);
	free(cached);
	return r;
}

/* The front's check: the shell's signature over the stored digest. */
static int
verify_digest(EVP_PKEY *pk, const struct crl_data *d)
{
	const unsigned char	*p = d->shell;
	const ASN1_BIT_STRING	*sig;
	const X509_ALGOR	*alg;
	X509_CRL		*shell;
	EVP_PKEY_CTX		*ctx;
	int			 ok;

	if ((shell = d2i_X509_CRL(NULL, &p, (long)d->shell_len)) == NULL)
		return 0;
	X509_CRL_get0_signature(shell, &sig, &alg);
	ctx = EVP_PKEY_CTX_new(pk, NULL);
	ok = EVP_PKEY_verify_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(ctx,
	    EVP_get_digestbynid(d->md_nid)) == 1;
	if (ok && OBJ_obj2nid(alg->algorithm) == NID_rsassaPss)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx,
		    RSA_PKCS1_PSS_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx,
		    EVP_get_digestbynid(d->md_nid)) == 1 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx,
		    RSA_PSS_SALTLEN_AUTO) == 1;
	ok = ok && EVP_PKEY_verify(ctx, ASN1_STRING_get0_data(sig),
	    ASN1_STRING_length(sig), d->digest, d->digest_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	X509_CRL_free(shell);
	ERR_clear_error();
	return ok;
}

static const struct crlset_entry *
entry_of(const struct crl_data *d, long serial, unsigned iss)
{
	ASN1_INTEGER	*ai = ASN1_INTEGER_new();
	uint8_t		 key[CRLSET_KEY_LEN];
	size_t		 i;

	ASN1_INTEGER_set(ai, serial);
	crlset_key_asn1(ai, key);
	ASN1_INTEGER_free(ai);
	for (i = 0; i < d->nentries; i++)
		if (memcmp(d->entries[i].key, key, sizeof(key)) == 0 &&
		    d->entries[i].issuer == iss)
			return &d->entries[i];
	return NULL;
}

static int
name_is(const struct crl_data *d, unsigned n, X509_NAME *nm)
{
	unsigned char	*der = NULL;
	int		 len, ok;

	if (n == 0 || n > d->nnames)
		return 0;
	len = i2d_X509_NAME(nm, &der);
	ok = len > 0 && (size_t)len == d->names[n - 1].len &&
	    memcmp(der, d->names[n - 1].der, len) == 0;
	OPENSSL_free(der);
	return ok;
}

static X509_CRL *
shell_of(const struct crl_data *d)
{
	const unsigned char	*p = d->shell;

	return d2i_X509_CRL(NULL, &p, (long)d->shell_len);
}

/* A full CRL: entries with reasons and dates, removeFromCRL kept; the
 * shell keeps everything but the entries; the digest verifies. */
static void
t_full_crl(void)
{
	struct crl_cas	 cas;
	struct crl_data	*d;
	X509_CRL	*crl, *sh;
	ASN1_INTEGER	*num;
	const struct crlset_entry *e;
	unsigned char	*der;
	size_t		 len;
	char		 why[512];
	int		 crit;

	crl = crl_new(ca, 5, -60);
	crl_add(crl, 0x1001, 1, -3600, NULL);
	crl_add(crl, 0x1002, -1, -7200, NULL);
	crl_add(crl, 0x1003, CRLSET_REASON_REMOVE, -100, NULL);
	crl_add(crl, 0x1004, 6, -50, NULL);
	crl_add(crl, 0x1001, 1, -3600, NULL);	/* listed twice */
	add_unknown_ext(crl, NULL, 0, 4);	/* non-critical: fine */
	X509_CRL_sort(crl);
	der = crl_der(crl, ca_key, "sha256", &len);
	cas_of(&cas, "clients", ca, NULL);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == 1);
	if (d == NULL)
		goto out;
	CHECK(d->nentries == 4);
	CHECK(d->nnames == 0);
	CHECK(d->flags == CRLSET_CRL_VERIFIED);
	CHECK(strcmp(d->number, "05") == 0 && d->base[0] == '\0');
	CHECK(d->md_nid == NID_sha256 && d->digest_len == 32);
	/* The CRL's AKID, which is the CA's SKID here. */
	CHECK(d->keyidlen == (size_t)ASN1_STRING_length(
	    X509_get0_subject_key_id(ca)) && memcmp(d->keyid,
	    ASN1_STRING_get0_data(X509_get0_subject_key_id(ca)),
	    d->keyidlen) == 0);
	CHECK(d->this_update == (int64_t)now - 60);
	CHECK(d->next_update == (int64_t)now - 60 + 86400 * 7);
	CHECK((e = entry_of(d, 0x1001, 0)) != NULL && e->reason == 1 &&
	    e->revoked == (uint32_t)(now - 3600));
	CHECK((e = entry_of(d, 0x1002, 0)) != NULL &&
	    e->reason == CRLSET_REASON_NONE &&
	    e->revoked == (uint32_t)(now - 7200));
	CHECK((e = entry_of(d, 0x1003, 0)) != NULL &&
	    e->reason == CRLSET_REASON_REMOVE);
	CHECK((e = entry_of(d, 0x1004, 0)) != NULL && e->reason == 6);
	CHECK(entry_of(d, 0x1001, 1) == NULL);
	/* Sorted, as the set wants them. */
	for (len = 1; len < d->nentries; len++)
		CHECK(crlset_entry_cmp(&d->entries[len - 1],
		    &d->entries[len]) < 0);
	/* The shell. */
	CHECK(d->shell != NULL && d->shell_len > 0 && d->shell_len < 1024);
	CHECK((sh = shell_of(d)) != NULL);
	if (sh != NULL) {
		/* Absent, not empty (RFC 5280 5.1.2.6). */
		CHECK(X509_CRL_get_REVOKED(sh) == NULL);
		CHECK(X509_NAME_cmp(X509_CRL_get_issuer(sh),
		    X509_get_subject_name(ca)) == 0);
		CHECK(asn1_time(X509_CRL_get0_lastUpdate(sh)) ==
		    d->this_update);
		CHECK(asn1_time(X509_CRL_get0_nextUpdate(sh)) ==
		    d->next_update);
		num = X509_CRL_get_ext_d2i(sh, NID_crl_number, &crit, NULL);
		CHECK(num != NULL && ASN1_INTEGER_get(num) == 5);
		ASN1_INTEGER_free(num);
		CHECK(X509_CRL_get_ext_count(sh) == 3);
		/* The original signature, no longer over this content. */
		CHECK(X509_CRL_verify(sh, ca_key) != 1);
		ERR_clear_error();
		X509_CRL_free(sh);
	}
	CHECK(verify_digest(ca_key, d));
	CHECK(!verify_digest(other_key, d));
	crl_data_free(d);
out:
	crl_cas_free(&cas);
	OPENSSL_free(der);
}

/* A delta CRL: accepted, flagged, its base number kept; the shell keeps
 * the deltaCRLIndicator.  One without a CRL number is refused. */
static void
t_delta_crl(void)
{
	struct crl_cas	 cas;
	struct crl_data	*d;
	X509_CRL	*crl, *sh;
	ASN1_INTEGER	*ai;
	const struct crlset_entry *e;
	unsigned char	*der;
	size_t		 len;
	char		 why[512];
	int		 crit;

	crl = crl_new(ca, 12, -60);
	ai = ASN1_INTEGER_new();
	ASN1_INTEGER_set(ai, 10);
	X509_CRL_add1_ext_i2d(crl, NID_delta_crl, ai, 1, 0);
	crl_add(crl, 0x2001, 6, -300, NULL);			/* hold */
	crl_add(crl, 0x2002, CRLSET_REASON_REMOVE, -200, NULL); /* released */
	der = crl_der(crl, ca_key, "sha256", &len);
	cas_of(&cas, NULL, ca, NULL);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == 1);
	if (d != NULL) {
		CHECK(d->flags == (CRLSET_CRL_DELTA | CRLSET_CRL_VERIFIED));
		CHECK(strcmp(d->base, "0A") == 0);
		CHECK(strcmp(d->number, "0C") == 0);
		CHECK(d->nentries == 2);
		CHECK((e = entry_of(d, 0x2002, 0)) != NULL &&
		    e->reason == CRLSET_REASON_REMOVE);
		CHECK((sh = shell_of(d)) != NULL);
		if (sh != NULL) {
			ASN1_INTEGER_free(ai);
			ai = X509_CRL_get_ext_d2i(sh, NID_delta_crl, &crit,
			    NULL);
			CHECK(ai != NULL && ASN1_INTEGER_get(ai) == 10 &&
			    crit == 1);
			CHECK(X509_CRL_get_REVOKED(sh) == NULL);
			X509_CRL_free(sh);
		}
		CHECK(verify_digest(ca_key, d));
		crl_data_free(d);
	}
	OPENSSL_free(der);

	/* No CRL number. */
	crl = X509_CRL_new();
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	{
		ASN1_TIME	*t = ASN1_TIME_new();

		X509_time_adj(t, -60, &now);
		X509_CRL_set1_lastUpdate(crl, t);
		ASN1_TIME_free(t);
	}
	X509_CRL_add1_ext_i2d(crl, NID_delta_crl, ai, 1, 0);
	der = crl_der(crl, ca_key, "sha256", &len);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == -1);
	CHECK(strstr(why, "delta CRL without a CRL number") != NULL);
	ASN1_INTEGER_free(ai);
	OPENSSL_free(der);
	crl_cas_free(&cas);
}

static GENERAL_NAMES *
gens_of(X509_NAME *a, const char *uri, X509_NAME *b)
{
	GENERAL_NAMES	*g = GENERAL_NAMES_new();
	GENERAL_NAME	*gn;
	ASN1_IA5STRING	*s;

	if (a != NULL) {
		gn = GENERAL_NAME_new();
		GENERAL_NAME_set0_value(gn, GEN_DIRNAME, X509_NAME_dup(a));
		sk_GENERAL_NAME_push(g, gn);
	}
	if (uri != NULL) {
		gn = GENERAL_NAME_new();
		s = ASN1_IA5STRING_new();
		ASN1_STRING_set(s, uri, -1);
		GENERAL_NAME_set0_value(gn, GEN_URI, s);
		sk_GENERAL_NAME_push(g, gn);
	}
	if (b != NULL) {
		gn = GENERAL_NAME_new();
		GENERAL_NAME_set0_value(gn, GEN_DIRNAME, X509_NAME_dup(b));
		sk_GENERAL_NAME_push(g, gn);
	}
	return g;
}

/*
 * An indirect CRL (RFC 5280 5.3.3): a certificateIssuer applies to its
 * entry and the ones after it; each directoryName is a name of the CRL
 * and the entry is there once per name; the CRL's own issuer is 0.
 */
static void
t_indirect_crl(void)
{
	struct crl_cas		 cas;
	struct crl_data		*d;
	ISSUING_DIST_POINT	*idp;
	X509_CRL		*crl, *sh;
	X509_NAME		*na = mkname("Issuer A");
	X509_NAME		*nb = mkname("Issuer B");
	GENERAL_NAMES		*g;
	const struct crlset_entry *e;
	unsigned char		*der;
	size_t			 len;
	char			 why[512];
	int			 crit;

	crl = crl_new(ca, 3, -60);
	idp = ISSUING_DIST_POINT_new();
	idp->indirectCRL = 1;
	idp->onlysomereasons = ASN1_BIT_STRING_new();
	ASN1_BIT_STRING_set_bit(idp->onlysomereasons, 1, 1);	/* keyComp. */
	X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, idp, 1, 0);
	ISSUING_DIST_POINT_free(idp);
	crl_add(crl, 0x10, 1, -10, NULL);			/* CRL issuer */
	g = gens_of(na, NULL, NULL);
	crl_add(crl, 0x11, 1, -11, g);				/* A */
	GENERAL_NAMES_free(g);
	crl_add(crl, 0x12, 1, -12, NULL);			/* still A */
	g = gens_of(nb, "http://example.org/", na);
	crl_add(crl, 0x13, 1, -13, g);				/* B and A */
	GENERAL_NAMES_free(g);
	crl_add(crl, 0x14, -1, -14, NULL);			/* B and A */
	g = gens_of(X509_get_subject_name(ca), NULL, NULL);
	crl_add(crl, 0x15, 1, -15, g);				/* own: 0 */
	GENERAL_NAMES_free(g);
	g = gens_of(NULL, "http://example.org/", NULL);
	crl_add(crl, 0x16, 1, -16, g);				/* no name */
	GENERAL_NAMES_free(g);
	g = gens_of(na, NULL, NULL);
	crl_add(crl, 0x17, 1, -17, g);				/* A again */
	crl_add(crl, 0x10, 1, -18, g);		/* 0x10 under A as well */
	GENERAL_NAMES_free(g);
	g = gens_of(na, NULL, na);
	crl_add(crl, 0x18, 1, -19, g);		/* A twice: one entry */
	GENERAL_NAMES_free(g);
	der = crl_der(crl, ca_key, "sha256", &len);
	/* No `ca', and a bundle without the issuer: accepted unverified. */
	cas_of(&cas, NULL, other, NULL);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == 1);
	if (d == NULL)
		goto out;
	CHECK(d->flags == (CRLSET_CRL_INDIRECT | CRLSET_CRL_IDP));
	CHECK(d->nnames == 2);
	CHECK(name_is(d, 1, na));
	CHECK(name_is(d, 2, nb));
	CHECK(d->nentries == 11);
	CHECK((e = entry_of(d, 0x10, 0)) != NULL && e->revoked ==
	    (uint32_t)(now - 10));
	CHECK((e = entry_of(d, 0x10, 1)) != NULL && e->revoked ==
	    (uint32_t)(now - 18));
	CHECK(entry_of(d, 0x11, 1) != NULL && entry_of(d, 0x11, 0) == NULL);
	CHECK(entry_of(d, 0x12, 1) != NULL && entry_of(d, 0x12, 0) == NULL);
	CHECK(entry_of(d, 0x13, 1) != NULL && entry_of(d, 0x13, 2) != NULL);
	CHECK((e = entry_of(d, 0x14, 2)) != NULL &&
	    e->reason == CRLSET_REASON_NONE);
	CHECK(entry_of(d, 0x14, 1) != NULL && entry_of(d, 0x14, 0) == NULL);
	CHECK(entry_of(d, 0x15, 0) != NULL && entry_of(d, 0x15, 1) == NULL);
	CHECK(entry_of(d, 0x16, 0) == NULL && entry_of(d, 0x16, 1) == NULL &&
	    entry_of(d, 0x16, 2) == NULL);
	CHECK(entry_of(d, 0x17, 1) != NULL);
	CHECK(entry_of(d, 0x18, 1) != NULL && entry_of(d, 0x18, 0) == NULL);
	CHECK((sh = shell_of(d)) != NULL);
	if (sh != NULL) {
		idp = X509_CRL_get_ext_d2i(sh, NID_issuing_distribution_point,
		    &crit, NULL);
		CHECK(idp != NULL && idp->indirectCRL &&
		    idp->onlysomereasons != NULL && crit == 1);
		ISSUING_DIST_POINT_free(idp);
		CHECK(X509_CRL_get_REVOKED(sh) == NULL);
		X509_CRL_free(sh);
	}
	CHECK(verify_digest(ca_key, d));
	crl_data_free(d);

	/* The set takes it as it is. */
	{
		struct crlset_builder	*b = crlset_builder_new();
		struct crlset_crl	 rec;
		struct crlset		 s;
		unsigned char		*img;
		size_t			 imglen, n;

		CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) ==
		    1);
		memset(&rec, 0, sizeof(rec));
		CHECK(crlset_builder_crl(b, &rec, d->shell, d->shell_len) ==
		    0);
		for (n = 0; n < d->nnames; n++)
			CHECK(crlset_builder_name(b, d->names[n].der,
			    d->names[n].len) == 0);
		CHECK(crlset_builder_entries(b, d->entries, d->nentries) ==
		    0);
		CHECK(crlset_builder_finish(b, 1, now, &img, &imglen) == 0);
		CHECK(crlset_open(&s, img, imglen, why, sizeof(why)) == 0);
		CHECK(s.hdr->nentries == 11 && s.hdr->nnames == 2);
		e = crlset_find(&s, 0, entry_of(d, 0x13, 1)->key, &n);
		CHECK(e != NULL && n == 2 && e[0].issuer == 1 &&
		    e[1].issuer == 2);
		free(img);
		crl_data_free(d);
	}
out:
	crl_cas_free(&cas);
	OPENSSL_free(der);
	X509_NAME_free(na);
	X509_NAME_free(nb);
}

/* RSASSA-PSS: the hash from the parameters (SHA-384 here, SHA-1 when
 * they leave it out); Ed25519: refused. */
static void
t_signature_algorithms(void)
{
	struct crl_cas	 cas;
	struct crl_data	*d;
	X509_CRL	*crl;
	unsigned char	*der;
	size_t		 len;
	char		 why[512];

	cas_of(&cas, "rsa", rsa_ca, NULL);
	crl = crl_new(rsa_ca, 1, -60);
	crl_add(crl, 0x3001, 1, -60, NULL);
	der = crl_der(crl, rsa_key, "pss", &len);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == 1);
	if (d != NULL) {
		CHECK(d->md_nid == NID_sha384 && d->digest_len == 48);
		CHECK(d->flags & CRLSET_CRL_VERIFIED);
		CHECK(verify_digest(rsa_key, d));
		crl_data_free(d);
	}
	OPENSSL_free(der);

	crl = crl_new(rsa_ca, 2, -60);
	der = crl_der(crl, rsa_key, "pss-sha1", &len);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == 1);
	if (d != NULL) {
		CHECK(d->md_nid == NID_sha1 && d->digest_len == 20);
		CHECK(verify_digest(rsa_key, d));
		crl_data_free(d);
	}
	OPENSSL_free(der);
	crl_cas_free(&cas);

	cas_of(&cas, "ed", ed_ca, NULL);
	crl = crl_new(ed_ca, 1, -60);
	der = crl_der(crl, ed_key, "ed25519", &len);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == -1);
	CHECK(strstr(why, "signature algorithm ED25519 is not supported") !=
	    NULL);
	OPENSSL_free(der);
	crl_cas_free(&cas);
}

/* Unknown critical extensions, of the CRL or of an entry: refused;
 * malformed known ones too. */
static void
t_extensions(void)
{
	struct crl_cas	 cas;
	struct crl_data	*d;
	X509_CRL	*crl;
	X509_REVOKED	*r;
	X509_EXTENSION	*ext;
	ASN1_OCTET_STRING *os;
	unsigned char	*der;
	size_t		 len;
	char		 why[512];

	cas_of(&cas, "clients", ca, NULL);
	crl = crl_new(ca, 1, -60);
	add_unknown_ext(crl, NULL, 1, 4);
	der = crl_der(crl, ca_key, "sha256", &len);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == -1);
	CHECK(strstr(why, "unknown critical extension 1.3.6.1.4.1.99999.7") !=
	    NULL);
	OPENSSL_free(der);

	crl = crl_new(ca, 1, -60);
	crl_add(crl, 0x4001, 1, -60, NULL);
	r = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), 0);
	add_unknown_ext(NULL, r, 1, 4);
	der = crl_der(crl, ca_key, "sha256", &len);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == -1);
	CHECK(strstr(why, "entry 0: unknown critical extension") != NULL);
	OPENSSL_free(der);

	/* Non-critical unknown entry extension, and the hold code: fine. */
	crl = crl_new(ca, 1, -60);
	crl_add(crl, 0x4001, 6, -60, NULL);
	r = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), 0);
	add_unknown_ext(NULL, r, 0, 4);
	{
		ASN1_OBJECT	*hold;

		hold = OBJ_nid2obj(NID_hold_instruction_reject);
		X509_REVOKED_add1_ext_i2d(r, NID_hold_instruction_code, hold,
		    0, 0);
	}
	der = crl_der(crl, ca_key, "sha256", &len);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == 1);
	crl_data_free(d);
	OPENSSL_free(der);

	/* A malformed issuing distribution point. */
	crl = crl_new(ca, 1, -60);
	os = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x04\x00", 2);
	ext = X509_EXTENSION_create_by_NID(NULL,
	    NID_issuing_distribution_point, 1, os);
	X509_CRL_add_ext(crl, ext, -1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	der = crl_der(crl, ca_key, "sha256", &len);
	if (der != NULL) {
		CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) ==
		    -1);
		CHECK(strstr(why, "issuingDistributionPoint") != NULL ||
		    strstr(why, "corrupt") != NULL);
		crl_data_free(d);
	}
	OPENSSL_free(der);
	crl_cas_free(&cas);
}

/* The signer rules, with a `ca' and without. */
static void
t_signer(void)
{
	struct crl_cas	 cas;
	struct crl_data	*d;
	X509_CRL	*crl;
	unsigned char	*der;
	size_t		 len;
	char		 why[512];

	crl = crl_new(ca, 1, -60);
	der = crl_der(crl, ca_key, "sha256", &len);

	/* A `ca' without the issuer: refused, as before. */
	cas_of(&cas, "others", other, NULL);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == -1);
	CHECK(strstr(why, "issuer is not a configured CA") != NULL);
	crl_cas_free(&cas);
	/* A `ca' with it: verified. */
	cas_of(&cas, "clients", other, ca);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == 1);
	CHECK(d != NULL && (d->flags & CRLSET_CRL_VERIFIED));
	crl_data_free(d);
	crl_cas_free(&cas);
	/* No `ca', the issuer configured: verified. */
	cas_of(&cas, NULL, other, ca);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == 1);
	CHECK(d != NULL && (d->flags & CRLSET_CRL_VERIFIED));
	crl_data_free(d);
	crl_cas_free(&cas);
	/* No `ca', no certificate of that name: accepted, for the front. */
	cas_of(&cas, NULL, other, NULL);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == 1);
	CHECK(d != NULL && !(d->flags & CRLSET_CRL_VERIFIED));
	crl_data_free(d);
	crl_cas_free(&cas);
	/* No `ca', a certificate with the name but another key: refused. */
	cas_of(&cas, NULL, other, ca2);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == -1);
	CHECK(strstr(why, "signature does not verify with the issuer's "
	    "certificate") != NULL);
	crl_cas_free(&cas);
	/* Either of two: the one that verifies. */
	cas_of(&cas, NULL, ca2, ca);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == 1);
	CHECK(d != NULL && (d->flags & CRLSET_CRL_VERIFIED));
	crl_data_free(d);
	crl_cas_free(&cas);
	OPENSSL_free(der);
}

/* The algorithm inside tbsCertList must be the outer one: a CRL nobody
 * here can verify (no `ca', issuer unknown) still gets this check. */
static void
t_inner_algorithm(void)
{
	static const unsigned char ecdsa256[] = { 0x06, 0x08, 0x2a, 0x86,
	    0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
	struct crl_cas	 cas;
	struct crl_data	*d;
	X509_CRL	*crl;
	unsigned char	*der, *p;
	size_t		 len;
	char		 why[512];

	crl = crl_new(ca, 1, -60);
	der = crl_der(crl, ca_key, "sha256", &len);
	/* The first ecdsa-with-SHA256 is tbsCertList's: make it SHA384. */
	p = memmem(der, len, ecdsa256, sizeof(ecdsa256));
	CHECK(p != NULL);
	if (p != NULL)
		p[sizeof(ecdsa256) - 1] = 0x03;
	cas_of(&cas, NULL, other, NULL);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == -1);
	CHECK(strstr(why, "differs from the outer one") != NULL);
	crl_cas_free(&cas);
	OPENSSL_free(der);
}

/* The "not older" rule, and the same CRL again. */
static void
t_not_older(void)
{
	struct crl_cas	 cas;
	struct crl_data	*d, *cur;
	X509_CRL	*crl;
	unsigned char	*der, *old;
	size_t		 len, oldlen;
	char		 why[512];

	cas_of(&cas, "clients", ca, NULL);
	crl = crl_new(ca, 7, -600);
	old = crl_der(crl, ca_key, "sha256", &oldlen);
	crl = crl_new(ca, 8, -60);
	der = crl_der(crl, ca_key, "sha256", &len);
	CHECK(validate(der, len, &cas, NULL, &cur, why, sizeof(why)) == 1);
	if (cur != NULL) {
		CHECK(validate(der, len, &cas, cur, &d, why, sizeof(why)) ==
		    0);
		CHECK(validate(old, oldlen, &cas, cur, &d, why, sizeof(why)) ==
		    -1);
		CHECK(strstr(why, "older than the CRL in use") != NULL);
		crl_data_free(cur);
	}
	CHECK(validate(old, oldlen, &cas, NULL, &d, why, sizeof(why)) == 1);
	crl_data_free(d);
	crl_cas_free(&cas);
	OPENSSL_free(der);
	OPENSSL_free(old);
}

/* A CRL whose header alone is beyond CRLSET_MAX_SHELL. */
static void
t_shell_too_large(void)
{
	struct crl_cas	 cas;
	struct crl_data	*d;
	X509_CRL	*crl;
	unsigned char	*der;
	size_t		 len;
	char		 why[512];

	cas_of(&cas, "clients", ca, NULL);
	crl = crl_new(ca, 1, -60);
	add_unknown_ext(crl, NULL, 0, CRLSET_MAX_SHELL);
	der = crl_der(crl, ca_key, "sha256", &len);
	CHECK(validate(der, len, &cas, NULL, &d, why, sizeof(why)) == -1);
	CHECK(strstr(why, "without its entries is") != NULL);
	OPENSSL_free(der);
	crl_cas_free(&cas);
}

/* PEM in, the same data out; and a large CRL's shell is small. */
static void
t_pem_and_size(void)
{
	struct crl_cas	 cas;
	struct crl_data	*d;
	X509_CRL	*crl;
	BIO		*bio;
	BUF_MEM		*bm;
	unsigned char	*cached, *der;
	size_t		 cachedlen, len;
	char		 why[512];
	long		 i;

	cas_of(&cas, "clients", ca, NULL);
	crl = crl_new(ca, 1, -60);
	for (i = 0; i < 20000; i++)
		crl_add(crl, 0x100000 + i, (int)(i % 11), -(i % 5000), NULL);
	X509_CRL_sign(crl, ca_key, EVP_sha256());
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509_CRL(bio, crl);
	BIO_get_mem_ptr(bio, &bm);
	CHECK(crl_validate((unsigned char *)bm->data, bm->length,
	    CRL_TYPE_PEM, 0, &cas, NULL, now, &d, &cached, &cachedlen, why,
	    sizeof(why)) == 1);
	der = crl_der(crl, ca_key, "none", &len);
	if (d != NULL) {
		CHECK(cachedlen == len && memcmp(cached, der, len) == 0);
		CHECK(d->nentries == 20000);
		/* Reason 7 is no code: unspecified. */
		CHECK(entry_of(d, 0x100000 + 7, 0)->reason == 0);
		CHECK(entry_of(d, 0x100000 + 8, 0)->reason == 8);
		CHECK(d->shell_len < 1024);
		CHECK(verify_digest(ca_key, d));
		crl_data_free(d);
	}
	free(cached);
	OPENSSL_free(der);
	BIO_free(bio);
	crl_cas_free(&cas);
}

static void
t_tm_to_time(void)
{
	struct tm	 tm;
	time_t		 t;
	int64_t		 probes[] = { 0, 1, 86399, 951782400, 1700000000,
			    4102444800LL, 253402300799LL, -86400 };
	size_t		 i;

	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		t = (time_t)probes[i];
		gmtime_r(&t, &tm);
		CHECK(tm_to_time(&tm) == probes[i]);
	}
}

int
main(void)
{
	log_init(1, 0);
	now = time(NULL);
	ca_key = mkkey("ec");
	ca2_key = mkkey("ec");
	other_key = mkkey("ec");
	rsa_key = mkkey("rsa");
	ed_key = mkkey("ed25519");
	ca = mkca("Test CA", ca_key, "critical,keyCertSign,cRLSign");
	ca2 = mkca("Test CA", ca2_key, "critical,keyCertSign,cRLSign");
	other = mkca("Other CA", other_key, "critical,keyCertSign,cRLSign");
	rsa_ca = mkca("RSA CA", rsa_key, "critical,keyCertSign,cRLSign");
	ed_ca = mkca("Ed CA", ed_key, "critical,keyCertSign,cRLSign");

	RUN(t_full_crl);
	RUN(t_delta_crl);
	RUN(t_indirect_crl);
	RUN(t_signature_algorithms);
	RUN(t_extensions);
	RUN(t_signer);
	RUN(t_inner_algorithm);
	RUN(t_not_older);
	RUN(t_shell_too_large);
	RUN(t_pem_and_size);
	RUN(t_tm_to_time);

	X509_free(ca);
	X509_free(ca2);
	X509_free(other);
	X509_free(rsa_ca);
	X509_free(ed_ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(ca2_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ed_key);
	TEST_EXIT();
}
