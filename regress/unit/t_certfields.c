/*
 * Unit tests for common/certfields.c.  Every certificate is made here with
 * libcrypto (EC P-256), so the tests need no files and can build names no
 * openssl(1) command line would: embedded NUL, invalid UTF-8, BMPString,
 * oversize values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certfields.h"
#include "ldap_filter.h"
#include "log.h"
#include "test.h"

#define UPN_OID		"1.3.6.1.4.1.311.20.2.3"
#define BIG_SERIAL_HEX	"1234567890ABCDEF01"
#define BIG_SERIAL_DEC	"335812727627494321921"

static EVP_PKEY	*ca_key, *leaf_key;
static X509	*ca_cert;

static EVP_PKEY	*mkkey(void);
static void	 add_txt(X509_NAME *, int, const char *);
static void	 add_raw(X509_NAME *, int, int, const void *, int);
static X509	*mkcert(X509_NAME *, const char *, GENERAL_NAMES *, X509 *,
		    EVP_PKEY *);
static GENERAL_NAMES *mksan(const char *, const char *, int);
static unsigned char *der_patched_cn(int, const char *, int, int *);
static char	*pem_of_der(const unsigned char *, int);
static X509	*mk_full(void);
static X509	*mk_cn(int, const void *, int);
static char	*pem_of(X509 *);
static int	 streq(const char *, const char *);
static int	 from_pem(const uint8_t *, size_t, struct certfields *);

static void	test_all_fields_present(void);
static void	test_missing_fields_are_null(void);
static void	test_ident_subset_equals_full(void);
static void	test_email_subject_before_san(void);
static void	test_filter_specials_kept_raw(void);
static void	test_utf8_cn_from_utf8_and_bmp(void);
static void	test_embedded_nul_rejects_field(void);
static void	test_control_chars_reject_field(void);
static void	test_control_chars_in_san(void);
static void	test_invalid_utf8_rejects_field(void);
static void	test_field_length_bound(void);
static void	test_serial_formats(void);
static void	test_fingerprint_and_der(void);
static void	test_upn_must_be_utf8string(void);
static void	test_dn_field_short_names(void);
static void	test_from_pem_chain_takes_leaf(void);
static void	test_subject_from_der(void);
static void	test_from_pem_garbage_fails(void);
static void	test_filter_values_expand(void);
static void	test_dn_print_one_format(void);

static EVP_PKEY *
mkkey(void)
{
	EVP_PKEY	*k;

	if ((k = EVP_EC_gen("P-256")) == NULL) {
		ERR_print_errors_fp(stderr);
		fatalx("EVP_EC_gen");
	}
	return k;
}

static void
add_txt(X509_NAME *n, int nid, const char *v)
{
	if (!X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8,
	    (const unsigned char *)v, -1, -1, 0)) {
		ERR_print_errors_fp(stderr);
		fatalx("add_txt %s", OBJ_nid2sn(nid));
	}
}

/* type a V_ASN1_* string type: stored as given, no checks, any bytes. */
static void
add_raw(X509_NAME *n, int nid, int type, const void *v, int len)
{
	if (!X509_NAME_add_entry_by_NID(n, nid, type,
	    (const unsigned char *)v, len, -1, 0))
		fatalx("add_raw %s", OBJ_nid2sn(nid));
}

/*
 * A certificate for leaf_key with subject subj (consumed), serial in hex
 * (a leading '-' makes it negative), optional SAN (consumed), issued by
 * issuer/ikey, or self-signed if issuer is NULL.
 */

/* The front's way: decode the chain, take the fields of its leaf. */
static int
from_pem(const uint8_t *pem, size_t len, struct certfields *cf)
{
	STACK_OF(X509)	*chain;
	int		 r;

	if ((chain = certfields_chain_from_pem(pem, len, 1)) == NULL) {
		memset(cf, 0, sizeof(*cf));
		return -1;
	}
	r = certfields_from_x509(sk_X509_value(chain, 0), cf);
	sk_X509_pop_free(chain, X509_free);
	return r;
}
static X509 *
mkcert(X509_NAME *subj, const char *serial, GENERAL_NAMES *san,
    X509 *issuer, EVP_PKEY *ikey)
{
	X509		*x, *wire;
	BIGNUM		*bn = NULL;
	ASN1_INTEGER	*ai;
	EVP_PKEY	*key = issuer == NULL && ikey != NULL ? ikey : leaf_key;
	unsigned char	*der = NULL;
	const unsigned char *p;
	int		 len;

	if ((x = X509_new()) == NULL || !X509_set_version(x, 2))
		fatalx("X509_new");
	if (!BN_hex2bn(&bn, serial) ||
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		fatalx("serial");
	if (!X509_set_serialNumber(x, ai))
		fatalx("X509_set_serialNumber");
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	/* These copy the name through DER, so they can fail. */
	if (!X509_set_subject_name(x, subj) ||
	    !X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : subj))
		fatalx("X509_set_subject_name");
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	if (san != NULL) {
		if (!X509_add1_ext_i2d(x, NID_subject_alt_name, san, 0,
		    X509V3_ADD_DEFAULT))
			fatalx("san");
		GENERAL_NAMES_free(san);
	}
	if (!X509_sign(x, ikey != NULL ? ikey : leaf_key, EVP_sha256())) {
		ERR_print_errors_fp(stderr);
		fatalx("X509_sign");
	}
	X509_NAME_free(subj);
	/* What the front gets is decoded from the wire: do the same. */
	if ((len = i2d_X509(x, &der)) <= 0)
		fatalx("i2d_X509");
	p = der;
	if ((wire = d2i_X509(NULL, &p, len)) == NULL)
		fatalx("d2i_X509");
	OPENSSL_free(der);
	X509_free(x);
	return wire;
}

/*
 * DER of a certificate whose CN is a same-length stand-in, with the
 * stand-in replaced by bytes libcrypto would refuse to encode itself.
 * The signature no longer matches, which does not matter here.
 */
static unsigned char *
der_patched_cn(int type, const char *bytes, int n, int *lenp)
{
	unsigned char	*der = NULL, *hit;
	char		 stand[8], pat[10];
	X509		*x;
	int		 len;

	if (n < 1 || n > (int)sizeof(stand))
		fatalx("der_patched_cn");
	memset(stand, '~', sizeof(stand));
	if (type == V_ASN1_BMPSTRING)
		for (len = 0; len < n; len += 2)
			stand[len] = '\0';
	x = mk_cn(type, stand, n);
	if ((len = i2d_X509(x, &der)) <= 0)
		fatalx("i2d_X509");
	X509_free(x);
	pat[0] = (char)type;	/* universal tag number == V_ASN1_ type */
	pat[1] = (char)n;
	memcpy(pat + 2, stand, n);
	if ((hit = memmem(der, len, pat, n + 2)) == NULL)
		fatalx("stand-in not found");
	memcpy(hit + 2, bytes, n);
	*lenp = len;
	return der;
}

/* SAN with an rfc822Name and/or a UPN otherName of ASN.1 type upntype. */
static GENERAL_NAMES *
mksan(const char *email, const char *upn, int upntype)
{
	GENERAL_NAMES	*gens = GENERAL_NAMES_new();
	GENERAL_NAME	*gn;
	ASN1_STRING	*s;
	ASN1_TYPE	*val;

	if (email != NULL) {
		gn = GENERAL_NAME_new();
		s = ASN1_IA5STRING_new();
		ASN1_STRING_set(s, email, -1);
		GENERAL_NAME_set0_value(gn, GEN_EMAIL, s);
		sk_GENERAL_NAME_push(gens, gn);
	}
	if (upn != NULL) {
		gn = GENERAL_NAME_new();
		s = ASN1_STRING_type_new(upntype);
		ASN1_STRING_set(s, upn, -1);
		val = ASN1_TYPE_new();
		ASN1_TYPE_set(val, upntype, s);
		if (!GENERAL_NAME_set0_othername(gn,
		    OBJ_txt2obj(UPN_OID, 1), val))
			fatalx("othername");
		sk_GENERAL_NAME_push(gens, gn);
	}
	return gens;
}

/* Every field the certificate query can use, two OUs, big serial. */
static X509 *
mk_full(void)
{
	X509_NAME	*n = X509_NAME_new();

	add_txt(n, NID_countryName, "US");
	add_txt(n, NID_organizationName, "Example Org");
	add_txt(n, NID_organizationalUnitName, "People");
	add_txt(n, NID_organizationalUnitName, "Engineering");
	add_txt(n, NID_commonName, "Alice Example");
	add_txt(n, NID_userId, "alice");
	add_txt(n, NID_pkcs9_emailAddress, "alice@example.test");
	return mkcert(n, BIG_SERIAL_HEX,
	    mksan("alice.san@example.test", "alice@EXAMPLE.TEST",
	    V_ASN1_UTF8STRING), ca_cert, ca_key);
}

/* O=Example Org plus a CN given as raw bytes of ASN.1 type type. */
static X509 *
mk_cn(int type, const void *cn, int len)
{
	X509_NAME	*n = X509_NAME_new();

	add_txt(n, NID_organizationName, "Example Org");
	add_raw(n, NID_commonName, type, cn, len);
	return mkcert(n, "01", NULL, ca_cert, ca_key);
}

static char *
pem_of(X509 *x)
{
	BIO	*b = BIO_new(BIO_s_mem());
	char	*p, *s;
	long	 len;

	if (b == NULL || !PEM_write_bio_X509(b, x))
		fatalx("PEM_write_bio_X509");
	len = BIO_get_mem_data(b, &p);
	if ((s = strndup(p, (size_t)len)) == NULL)
		fatal("strndup");
	BIO_free(b);
	return s;
}

static char *
pem_of_der(const unsigned char *der, int len)
{
	BIO	*b = BIO_new(BIO_s_mem());
	char	*p, *s;
	long	 plen;

	if (b == NULL || !PEM_write_bio(b, "CERTIFICATE", "", der, len))
		fatalx("PEM_write_bio");
	plen = BIO_get_mem_data(b, &p);
	if ((s = strndup(p, (size_t)plen)) == NULL)
		fatal("strndup");
	BIO_free(b);
	return s;
}

static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		if (a != b)
			fprintf(stderr, "  got %s, want %s\n",
			    a ? a : "NULL", b ? b : "NULL");
		return a == b;
	}
	if (strcmp(a, b) != 0) {
		fprintf(stderr, "  got \"%s\", want \"%s\"\n", a, b);
		return 0;
	}
	return 1;
}

/*
 * Active Directory's strong altSecurityIdentities mappings (issue 15):
 * "X509:<I>{issuer_x500}<SR>{sn_rev}" and "X509:<SKI>{ski}".
 */
static void
test_ad_mapping_fields(void)
{
	struct certfields	 cf;
	X509			*x = mk_full();
	ASN1_OCTET_STRING	*ski;
	static const unsigned char id[4] = { 0xde, 0xad, 0x0b, 0x0e };
	char			 out[512], err[128];
	struct ldap_filter_value vals[CERTFIELDS_NVALUES];
	int			 n;

	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.issuer_x500, "O=Example Org,CN=Example Test Root CA"));
	CHECK(streq(cf.sn_rev, "01efcdab9078563412"));
	CHECK(cf.ski == NULL);		/* mkcert adds none */
	n = certfields_filter_values(&cf, 0, vals, CERTFIELDS_NVALUES);
	CHECK(n == CERTFIELDS_NVALUES);
	CHECK(ldap_filter_expand_values("(altSecurityIdentities="
	    "X509:<I>{issuer_x500}<SR>{sn_rev})", vals, n, out, sizeof(out),
	    err, sizeof(err)) > 0);
	CHECK(streq(out, "(altSecurityIdentities=X509:<I>O=Example Org,"
	    "CN=Example Test Root CA<SR>01efcdab9078563412)"));
	certfields_free(&cf);

	if ((ski = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(ski, id, sizeof(id)) ||
	    !X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, 0))
		fatalx("subjectKeyIdentifier");
	ASN1_OCTET_STRING_free(ski);
	/* Decoded afresh, as a peer's certificate is (OpenSSL caches the
	 * extensions at the first look; the signature is not checked). */
	{
		unsigned char	*der = NULL;
		const unsigned char *p;
		int		 len = i2d_X509(x, &der);
		X509		*y;

		if (der != NULL)
			OPENSSL_free(der);
		der = NULL;
		if (X509_sign(x, ca_key, EVP_sha256()) <= 0 ||
		    (len = i2d_X509(x, &der)) <= 0)
			fatalx("X509_sign");
		p = der;
		if (len <= 0 || (y = d2i_X509(NULL, &p, len)) == NULL)
			fatalx("re-encode");
		OPENSSL_free(der);
		X509_free(x);
		x = y;
	}
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.ski, "dead0b0e"));
	certfields_free(&cf);
	X509_free(x);
}

static void
test_all_fields_present(void)
{
	struct certfields	 cf;
	X509			*x = mk_full();

	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.cn, "Alice Example"));
	CHECK(streq(cf.sn, "1234567890abcdef01"));
	CHECK(streq(cf.sn_dec, BIG_SERIAL_DEC));
	CHECK(streq(cf.e, "alice@example.test"));
	CHECK(streq(cf.upn, "alice@EXAMPLE.TEST"));
	CHECK(streq(cf.uid, "alice"));
	CHECK(streq(cf.o, "Example Org"));
	/* First in encoding order, not first in the RFC 4514 string. */
	CHECK(streq(cf.ou, "People"));
	CHECK(streq(cf.dn, "emailAddress=alice@example.test,UID=alice,"
	    "CN=Alice Example,OU=Engineering,OU=People,O=Example Org,C=US"));
	CHECK(streq(cf.issuer, "CN=Example Test Root CA,O=Example Org"));
	CHECK(cf.fp != NULL && strlen(cf.fp) == 64);
	CHECK(cf.x509 == x);

	CHECK(streq(certfields_get(&cf, "cn", 0), "Alice Example"));
	CHECK(streq(certfields_get(&cf, "sn", 0), "1234567890abcdef01"));
	CHECK(streq(certfields_get(&cf, "sn", 1), BIG_SERIAL_DEC));
	CHECK(streq(certfields_get(&cf, "cn", 1), "Alice Example"));
	CHECK(streq(certfields_get(&cf, "e", 0), cf.e));
	CHECK(streq(certfields_get(&cf, "upn", 0), cf.upn));
	CHECK(streq(certfields_get(&cf, "uid", 0), cf.uid));
	CHECK(streq(certfields_get(&cf, "o", 0), cf.o));
	CHECK(streq(certfields_get(&cf, "ou", 0), cf.ou));
	CHECK(streq(certfields_get(&cf, "dn", 0), cf.dn));
	CHECK(streq(certfields_get(&cf, "issuer", 0), cf.issuer));
	CHECK(streq(certfields_get(&cf, "fp", 0), cf.fp));
	CHECK(certfields_get(&cf, "u", 0) == NULL);
	CHECK(certfields_get(&cf, "CN", 0) == NULL);
	CHECK(certfields_get(&cf, "", 0) == NULL);

	certfields_free(&cf);
	CHECK(cf.cn == NULL && cf.x509 == NULL && cf.der == NULL);
	certfields_free(&cf);	/* twice is harmless */
	certfields_free(NULL);
	X509_free(x);
}

/* certfields_ident(): the front's subset, value for value the same. */
static void
test_ident_subset_equals_full(void)
{
	struct certfields	 full, id;
	X509			*x = mk_full();

	CHECK(certfields_from_x509(x, &full) == 0);
	CHECK(certfields_ident(x, &id) == 0);
	CHECK(streq(id.dn, full.dn));
	CHECK(streq(id.issuer, full.issuer));
	CHECK(streq(id.sn, full.sn));
	CHECK(streq(id.sn_dec, full.sn_dec));
	CHECK(id.derlen == full.derlen && id.der != NULL &&
	    memcmp(id.der, full.der, full.derlen) == 0);
	CHECK(id.cn == NULL && id.e == NULL && id.upn == NULL &&
	    id.uid == NULL && id.o == NULL && id.ou == NULL && id.fp == NULL);
	CHECK(id.x509 == x);
	certfields_free(&id);
	CHECK(certfields_ident(NULL, &id) == -1 && id.der == NULL);
	certfields_free(&full);
	X509_free(x);
}

static void
test_missing_fields_are_null(void)
{
	struct certfields	 cf;
	X509_NAME		*n = X509_NAME_new();
	X509			*x;
	const char		*const *ph;

	/* Subject with a CN only, no SAN at all. */
	add_txt(n, NID_commonName, "bob");
	x = mkcert(n, "2a", NULL, ca_cert, ca_key);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.cn, "bob"));
	CHECK(cf.e == NULL && cf.upn == NULL && cf.uid == NULL);
	CHECK(cf.o == NULL && cf.ou == NULL);
	CHECK(streq(cf.dn, "CN=bob"));
	CHECK(streq(cf.sn, "2a") && streq(cf.sn_dec, "42"));
	CHECK(certfields_get(&cf, "e", 0) == NULL);
	CHECK(certfields_get(&cf, "upn", 0) == NULL);
	CHECK(certfields_get(&cf, "ou", 1) == NULL);
	certfields_free(&cf);
	X509_free(x);

	/* Empty subject (SAN-only certificate): no cn, no dn, no e. */
	x = mkcert(X509_NAME_new(), "2b", mksan(NULL, "x@y", V_ASN1_UTF8STRING),
	    ca_cert, ca_key);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(cf.cn == NULL && cf.dn == NULL && cf.e == NULL);
	CHECK(streq(cf.upn, "x@y"));
	CHECK(cf.fp != NULL && cf.sn != NULL && cf.issuer != NULL);
	for (ph = ldap_filter_ph_certificate; *ph != NULL; ph++)
		CHECK((certfields_get(&cf, *ph, 0) != NULL) ==
		    (strcmp(*ph, "upn") == 0 || strcmp(*ph, "sn") == 0 ||
		    strcmp(*ph, "fp") == 0 || strcmp(*ph, "issuer") == 0 ||
		    strcmp(*ph, "issuer_x500") == 0 ||
		    strcmp(*ph, "sn_rev") == 0));
	certfields_free(&cf);
	X509_free(x);
}

static void
test_email_subject_before_san(void)
{
	struct certfields	 cf;
	X509_NAME		*n;
	X509			*x;

	/* No emailAddress in the subject: the first rfc822Name. */
	n = X509_NAME_new();
	add_txt(n, NID_commonName, "bob");
	x = mkcert(n, "03", mksan("bob@example.test", NULL, 0), ca_cert,
	    ca_key);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.e, "bob@example.test"));
	certfields_free(&cf);
	X509_free(x);

	/*
	 * A present but unusable subject emailAddress does not fall back to
	 * the SAN: what a certificate maps to must not depend on which of
	 * its values we managed to read.
	 */
	n = X509_NAME_new();
	add_txt(n, NID_commonName, "bob");
	add_raw(n, NID_pkcs9_emailAddress, V_ASN1_IA5STRING, "b\0b@x", 5);
	x = mkcert(n, "04", mksan("bob@example.test", NULL, 0), ca_cert,
	    ca_key);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(cf.e == NULL);
	CHECK(streq(cf.cn, "bob"));
	certfields_free(&cf);
	X509_free(x);
}

static void
test_filter_specials_kept_raw(void)
{
	struct certfields	 cf;
	const char		*cn = "*)(uid=*\\x";
	X509_NAME		*n = X509_NAME_new();
	X509			*x;

	add_txt(n, NID_commonName, cn);
	x = mkcert(n, "05", NULL, ca_cert, ca_key);
	CHECK(certfields_from_x509(x, &cf) == 0);
	/* Raw here; ldap_filter escapes (test_filter_values_expand). */
	CHECK(streq(cf.cn, cn));
	CHECK(streq(cf.dn, "CN=*)(uid=*\\\\x"));
	certfields_free(&cf);
	X509_free(x);
}

/* Issue 15: every log line names a CA or a subject as {dn} does (RFC
 * 4514, most specific first, UTF-8 kept), never X509_NAME_oneline()'s
 * "/C=US/O=..."; a cut never splits a UTF-8 sequence. */
static void
test_dn_print_one_format(void)
{
	X509_NAME	*n = X509_NAME_new();
	char		 buf[64], small[16];
	size_t		 i;

	add_txt(n, NID_countryName, "US");
	add_txt(n, NID_organizationName, "Example, Inc");
	add_txt(n, NID_commonName, "J\xc3\xbcrgen\xc3\xbc");
	CHECK(streq(certfields_dn_print(n, buf, sizeof(buf)),
	    "CN=J\xc3\xbcrgen\xc3\xbc,O=Example\\, Inc,C=US"));
	/* "CN=J\xc3\xbcrgen\xc3" would split the last character. */
	CHECK(streq(certfields_dn_print(n, small, 12), "CN=J\xc3\xbcrgen"));
	for (i = 1; i < sizeof(small); i++) {
		certfields_dn_print(n, small, i);
		CHECK(strlen(small) < i);
		CHECK(strlen(small) == 0 ||
		    ((unsigned char)small[strlen(small) - 1] & 0xc0) != 0xc0);
	}
	CHECK(streq(certfields_dn_print(NULL, buf, sizeof(buf)), ""));
	X509_NAME_free(n);
}

static void
test_utf8_cn_from_utf8_and_bmp(void)
{
	struct certfields	 cf;
	/* "Jürgen" as UTF-8 and as UTF-16BE (BMPString). */
	static const char	 utf8[] = "J\xc3\xbcrgen";
	static const char	 bmp[] = "\0J\0\xfc\0r\0g\0e\0n";
	X509			*x;
	char			*s;

	x = mk_cn(V_ASN1_UTF8STRING, utf8, (int)strlen(utf8));
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.cn, utf8));
	/* UTF-8 unescaped, so it compares with a directory's DN. */
	CHECK(streq(cf.dn, "CN=J\xc3\xbcrgen,O=Example Org"));
	CHECK(streq(s = certfields_dn_field(x, "cn"), utf8));
	free(s);
	certfields_free(&cf);
	X509_free(x);

	x = mk_cn(V_ASN1_BMPSTRING, bmp, (int)sizeof(bmp) - 1);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.cn, utf8));
	CHECK(streq(cf.dn, "CN=J\xc3\xbcrgen,O=Example Org"));
	certfields_free(&cf);
	X509_free(x);
}

static void
test_embedded_nul_rejects_field(void)
{
	struct certfields	 cf;
	static const char	 cn[] = "alice\0.evil";
	static const char	 bmpnul[] = "\0a\0\0\0b";
	X509			*x;

	x = mk_cn(V_ASN1_UTF8STRING, cn, (int)sizeof(cn) - 1);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(cf.cn == NULL);
	CHECK(certfields_get(&cf, "cn", 0) == NULL);
	CHECK(certfields_dn_field(x, "CN") == NULL);
	/* NUL is a control character: the lookup can say so. */
	CHECK(streq(certfields_ctrl_field(&cf, "(caccn={cn})"), "cn"));
	/* The rest of the certificate is still usable. */
	CHECK(streq(cf.o, "Example Org"));
	CHECK(cf.fp != NULL && cf.sn != NULL);
	/* In the DN the NUL is escaped text, never a terminator. */
	CHECK(streq(cf.dn, "CN=alice\\00.evil,O=Example Org"));
	certfields_free(&cf);
	X509_free(x);

	/* U+0000 in a BMPString turns into a NUL only after conversion. */
	x = mk_cn(V_ASN1_BMPSTRING, bmpnul, (int)sizeof(bmpnul) - 1);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(cf.cn == NULL);
	certfields_free(&cf);
	X509_free(x);
}

/*
 * Control characters (issue 12): a directory may fold "certuser\r\n" to
 * "certuser " or "certuser" and match another entry, so such a value is
 * absent and flagged, and a lookup whose template uses it can refuse the
 * certificate before LDAP is asked.  UTF-8 (bytes >= 0x80) is fine, and
 * {dn}, {issuer}, {sn}, {fp} and the DER never suffer from it.
 */
static void
test_control_chars_reject_field(void)
{
	static const struct {
		const char	*bytes;
		int		 len;
		const char	*dn;
	} bad[] = {
		{ "certuser\r\n", 10, "CN=certuser\\0D\\0A,O=Example Org" },
		{ "cert\ruser", 9, "CN=cert\\0Duser,O=Example Org" },
		{ "cert\nuser", 9, "CN=cert\\0Auser,O=Example Org" },
		{ "cert\tuser", 9, "CN=cert\\09user,O=Example Org" },
		{ "certuser\x7f", 9, "CN=certuser\\7F,O=Example Org" },
		{ "\x1b[0m", 4, "CN=\\1B[0m,O=Example Org" },
	};
	/* "J\u00fcrgen" and a C1 control as UTF-8: bytes >= 0x80 pass. */
	static const char	 utf8[] = "J\xc3\xbcrgen\xc2\x85";
	struct certfields	 cf, id;
	unsigned char		 md[EVP_MAX_MD_SIZE], *der;
	const unsigned char	*p;
	unsigned int		 mdlen, i;
	char			 hex[2 * EVP_MAX_MD_SIZE + 1];
	X509			*x;
	size_t			 k;
	int			 len;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		x = mk_cn(V_ASN1_UTF8STRING, bad[k].bytes, bad[k].len);
		CHECK(certfields_from_x509(x, &cf) == 0);
		CHECK(cf.cn == NULL);
		CHECK(certfields_get(&cf, "cn", 0) == NULL);
		CHECK(certfields_dn_field(x, "CN") == NULL);
		CHECK(streq(certfields_ctrl_field(&cf, "(caccn={cn})"), "cn"));
		CHECK(streq(certfields_ctrl_field(&cf,
		    "(&(o={o})(|(caccn={cn})(uid={uid})))"), "cn"));
		CHECK(streq(certfields_ctrl_field(&cf, NULL), "cn"));
		/* Not used by the template: not in the way. */
		CHECK(certfields_ctrl_field(&cf, "(cacfp={fp})") == NULL);
		CHECK(certfields_ctrl_field(&cf, "(&(o={o})(cacserial={sn}))")
		    == NULL);
		/* The rest is intact; {dn} shows the bytes escaped. */
		CHECK(streq(cf.o, "Example Org"));
		CHECK(streq(cf.dn, bad[k].dn));
		CHECK(streq(cf.issuer, "CN=Example Test Root CA,"
		    "O=Example Org"));
		CHECK(streq(cf.sn, "01") && streq(cf.sn_dec, "1"));
		der = NULL;
		CHECK((len = i2d_X509(x, &der)) > 0);
		CHECK(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
		    NULL));
		for (i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		CHECK(streq(cf.fp, hex));
		CHECK(cf.derlen == (size_t)len &&
		    memcmp(cf.der, der, (size_t)len) == 0);
		OPENSSL_free(der);
		/* The front's subset has nothing to refuse. */
		CHECK(certfields_ident(x, &id) == 0);
		CHECK(streq(id.dn, cf.dn));
		CHECK(certfields_ctrl_field(&id, NULL) == NULL);
		certfields_free(&id);
		certfields_free(&cf);
		CHECK(certfields_ctrl_field(&cf, NULL) == NULL);
		X509_free(x);
	}

	/* NUL through the DER, as a client would send it. */
	der = der_patched_cn(V_ASN1_UTF8STRING, "al\0ce", 5, &len);
	p = der;
	x = d2i_X509(NULL, &p, len);
	CHECK(x != NULL);
	if (x != NULL) {
		CHECK(certfields_from_x509(x, &cf) == 0);
		CHECK(cf.cn == NULL);
		CHECK(streq(cf.dn, "CN=al\\00ce,O=Example Org"));
		CHECK(streq(certfields_ctrl_field(&cf, "(caccn={cn})"), "cn"));
		CHECK(cf.fp != NULL && cf.derlen == (size_t)len &&
		    memcmp(cf.der, der, (size_t)len) == 0);
		certfields_free(&cf);
		X509_free(x);
	}
	OPENSSL_free(der);

	/* A control character in another field names that one. */
	{
		X509_NAME	*n = X509_NAME_new();

		add_txt(n, NID_organizationName, "Example Org");
		add_raw(n, NID_organizationalUnitName, V_ASN1_UTF8STRING,
		    "People\n", 7);
		add_txt(n, NID_commonName, "alice");
		add_raw(n, NID_userId, V_ASN1_UTF8STRING, "al\rice", 6);
		x = mkcert(n, "09", NULL, ca_cert, ca_key);
	}
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.cn, "alice") && cf.ou == NULL && cf.uid == NULL);
	CHECK(certfields_ctrl_field(&cf, "(caccn={cn})") == NULL);
	CHECK(streq(certfields_ctrl_field(&cf, "(ou={ou})"), "ou"));
	CHECK(streq(certfields_ctrl_field(&cf, "(&(cn={cn})(uid={uid}))"),
	    "uid"));
	/* In ldap_filter_ph_certificate order: uid before ou. */
	CHECK(streq(certfields_ctrl_field(&cf, NULL), "uid"));
	certfields_free(&cf);
	X509_free(x);

	/* UTF-8 still passes. */
	x = mk_cn(V_ASN1_UTF8STRING, utf8, (int)strlen(utf8));
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.cn, utf8));
	CHECK(certfields_ctrl_field(&cf, NULL) == NULL);
	certfields_free(&cf);
	X509_free(x);
}

/* {e} and {upn} from the subjectAltName, {e} from the subject. */
static void
test_control_chars_in_san(void)
{
	struct certfields	 cf;
	X509_NAME		*n;
	X509			*x;

	n = X509_NAME_new();
	add_txt(n, NID_commonName, "bob");
	x = mkcert(n, "0a", mksan("bob@example.test\r\n",
	    "bob\n@EXAMPLE.TEST", V_ASN1_UTF8STRING), ca_cert, ca_key);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.cn, "bob") && cf.e == NULL && cf.upn == NULL);
	CHECK(streq(certfields_ctrl_field(&cf, "(mail={e})"), "e"));
	CHECK(streq(certfields_ctrl_field(&cf, "(upn={upn})"), "upn"));
	CHECK(certfields_ctrl_field(&cf, "(caccn={cn})") == NULL);
	certfields_free(&cf);
	X509_free(x);

	/* The subject's emailAddress: flagged, and no SAN fallback. */
	n = X509_NAME_new();
	add_txt(n, NID_commonName, "bob");
	add_raw(n, NID_pkcs9_emailAddress, V_ASN1_IA5STRING,
	    "bob@x\x7f", 6);
	x = mkcert(n, "0b", mksan("bob@example.test", NULL, 0), ca_cert,
	    ca_key);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(cf.e == NULL);
	CHECK(streq(certfields_ctrl_field(&cf, "(mail={e})"), "e"));
	certfields_free(&cf);
	X509_free(x);
}

/*
 * libcrypto 3 refuses to decode a name with a malformed UTF8String or a
 * BMPString surrogate (it canonicalises names while parsing), so such a
 * certificate never reaches us from libtls.  Either outcome is fine here;
 * what must never happen is a malformed value coming out.
 */
static void
test_invalid_utf8_rejects_field(void)
{
	struct certfields	 cf;
	static const struct {
		int		 type;
		const char	*bytes;
		int		 len;
	} bad[] = {
		{ V_ASN1_UTF8STRING, "a\xc3", 2 },		/* truncated */
		{ V_ASN1_UTF8STRING, "a\xc0\xaf", 3 },	/* overlong */
		{ V_ASN1_UTF8STRING, "\xed\xa0\x80", 3 },	/* U+D800 */
		{ V_ASN1_UTF8STRING, "\xf4\x90\x80\x80", 4 },	/* > U+10FFFF */
		{ V_ASN1_UTF8STRING, "\xff", 1 },
		{ V_ASN1_BMPSTRING, "\xd8\x00", 2 },	/* lone surrogate */
	};
	unsigned char		*der;
	const unsigned char	*p;
	char			*pem;
	X509			*x;
	size_t			 i;
	int			 len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		der = der_patched_cn(bad[i].type, bad[i].bytes, bad[i].len,
		    &len);
		p = der;
		if ((x = d2i_X509(NULL, &p, len)) != NULL) {
			CHECK(certfields_from_x509(x, &cf) == 0);
			CHECK(cf.cn == NULL && cf.dn == NULL);
			CHECK(streq(cf.o, "Example Org"));
			certfields_free(&cf);
			X509_free(x);
		}
		pem = pem_of_der(der, len);
		if (x == NULL)
			CHECK(from_pem((uint8_t *)pem, strlen(pem),
			    &cf) == -1);
		free(pem);
		OPENSSL_free(der);
	}
	ERR_clear_error();
}

static void
test_field_length_bound(void)
{
	struct certfields	 cf;
	char			 buf[CERTFIELDS_FIELD_MAX + 1];
	X509			*x;

	memset(buf, 'a', sizeof(buf));
	x = mk_cn(V_ASN1_UTF8STRING, buf, CERTFIELDS_FIELD_MAX);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(cf.cn != NULL && strlen(cf.cn) == CERTFIELDS_FIELD_MAX);
	certfields_free(&cf);
	X509_free(x);

	x = mk_cn(V_ASN1_UTF8STRING, buf, CERTFIELDS_FIELD_MAX + 1);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(cf.cn == NULL);
	CHECK(certfields_dn_field(x, "CN") == NULL);
	CHECK(streq(cf.o, "Example Org"));
	certfields_free(&cf);
	X509_free(x);
}

static void
test_serial_formats(void)
{
	static const struct {
		const char	*in, *hex, *dec;
	} t[] = {
		{ BIG_SERIAL_HEX, "1234567890abcdef01", BIG_SERIAL_DEC },
		{ "ABC", "0abc", "2748" },	/* openssl x509 -serial: 0ABC */
		{ "80", "80", "128" },		/* DER 00 80: no pad byte */
		{ "0", "00", "0" },
		{ "-5", "-05", "-5" },
		{ "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
		  "7fffffffffffffffffffffffffffffffffffffff",
		  "730750818665451459101842416358141509827966271487" },
	};
	struct certfields	 cf;
	X509_NAME		*n;
	X509			*x;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = X509_NAME_new();
		add_txt(n, NID_commonName, "serial");
		x = mkcert(n, t[i].in, NULL, ca_cert, ca_key);
		CHECK(certfields_from_x509(x, &cf) == 0);
		CHECK(streq(certfields_get(&cf, "sn", 0), t[i].hex));
		CHECK(streq(certfields_get(&cf, "sn", 1), t[i].dec));
		certfields_free(&cf);
		X509_free(x);
	}
}

static void
test_fingerprint_and_der(void)
{
	struct certfields	 cf;
	unsigned char		 md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int		 mdlen;
	char			 hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int		 i;
	int			 len;
	X509			*x = mk_full();

	/* Independently, as openssl x509 -fingerprint: SHA-256 of i2d. */
	len = i2d_X509(x, &der);
	CHECK(len > 0);
	CHECK(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL));
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(streq(cf.fp, hex));
	CHECK(cf.derlen == (size_t)len && memcmp(cf.der, der, len) == 0);
	certfields_free(&cf);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_upn_must_be_utf8string(void)
{
	struct certfields	 cf;
	X509_NAME		*n = X509_NAME_new();
	X509			*x;

	add_txt(n, NID_commonName, "carol");
	x = mkcert(n, "06", mksan(NULL, "carol@example.test",
	    V_ASN1_IA5STRING), ca_cert, ca_key);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(cf.upn == NULL);
	CHECK(streq(cf.cn, "carol"));
	certfields_free(&cf);
	X509_free(x);
}

static void
test_dn_field_short_names(void)
{
	static const struct {
		const char	*name;
		int		 nid;
		const char	*value;
	} t[] = {
		{ "C",		NID_countryName,		"US" },
		{ "ST",		NID_stateOrProvinceName,	"Virginia" },
		{ "L",		NID_localityName,		"Arlington" },
		{ "O",		NID_organizationName,		"U.S. Gov" },
		{ "OU",		NID_organizationalUnitName,	"DoD" },
		{ "T",		NID_title,			"Admiral" },
		{ "N",		NID_name,			"John Doe" },
		{ "GN",		NID_givenName,			"John" },
		{ "I",		NID_initials,			"Q" },
		{ "SN",		NID_surname,			"Doe" },
		{ "GENQ",	NID_generationQualifier,	"Jr" },
		{ "DNQ",	NID_dnQualifier,		"qual1" },
		{ "SER",	NID_serialNumber,		"1234567890" },
		{ "CN",		NID_commonName,		"DOE.JOHN.Q.12" },
		{ "UID",	NID_userId,			"jdoe" },
		{ "EA",		NID_pkcs9_emailAddress,		"jd@mail.mil" },
	};
	X509_NAME	*n = X509_NAME_new();
	X509		*x;
	char		*s, lower[8];
	size_t		 i, j;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		add_txt(n, t[i].nid, t[i].value);
		if (t[i].nid == NID_organizationalUnitName)
			add_txt(n, t[i].nid, "PKI");
	}
	x = mkcert(n, "07", mksan("other@mail.mil", NULL, 0), ca_cert,
	    ca_key);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK(certfields_dn_field_known(t[i].name));
		s = certfields_dn_field(x, t[i].name);
		CHECK(streq(s, t[i].value));
		free(s);
		for (j = 0; t[i].name[j] != '\0' && j < sizeof(lower) - 1; j++)
			lower[j] = (char)(t[i].name[j] | 0x20);
		lower[j] = '\0';
		s = certfields_dn_field(x, lower);
		CHECK(streq(s, t[i].value));
		free(s);
	}
	CHECK(!certfields_dn_field_known("XX"));
	CHECK(!certfields_dn_field_known(""));
	CHECK(!certfields_dn_field_known(NULL));
	CHECK(certfields_dn_field(x, "XX") == NULL);
	CHECK(certfields_dn_field(x, "emailAddress") == NULL);
	CHECK(certfields_dn_field(NULL, "CN") == NULL);
	X509_free(x);

	/* Known name, absent field; EA never comes from the SAN. */
	n = X509_NAME_new();
	add_txt(n, NID_commonName, "bob");
	x = mkcert(n, "08", mksan("bob@example.test", NULL, 0), ca_cert,
	    ca_key);
	CHECK(certfields_dn_field(x, "OU") == NULL);
	CHECK(certfields_dn_field(x, "EA") == NULL);
	X509_free(x);
}

static void
test_from_pem_chain_takes_leaf(void)
{
	struct certfields	 cf, want;
	STACK_OF(X509)		*st;
	X509			*x = mk_full();
	char			*leaf = pem_of(x), *ca = pem_of(ca_cert);
	char			*chain;

	if (asprintf(&chain, "%s%s", leaf, ca) == -1)
		fatal("asprintf");
	CHECK(certfields_from_x509(x, &want) == 0);
	st = certfields_chain_from_pem((uint8_t *)chain, strlen(chain), 0);
	CHECK(st != NULL && sk_X509_num(st) == 2 &&
	    X509_cmp(sk_X509_value(st, 0), x) == 0 &&
	    X509_cmp(sk_X509_value(st, 1), ca_cert) == 0);
	sk_X509_pop_free(st, X509_free);
	/* max 1: the leaf alone. */
	st = certfields_chain_from_pem((uint8_t *)chain, strlen(chain), 1);
	CHECK(st != NULL && sk_X509_num(st) == 1 &&
	    X509_cmp(sk_X509_value(st, 0), x) == 0);
	sk_X509_pop_free(st, X509_free);
	CHECK(from_pem((uint8_t *)chain, strlen(chain), &cf) == 0);
	CHECK(streq(cf.cn, "Alice Example"));
	CHECK(streq(cf.fp, want.fp));
	CHECK(streq(cf.issuer, want.issuer));
	CHECK(cf.derlen == want.derlen &&
	    memcmp(cf.der, want.der, cf.derlen) == 0);
	CHECK(cf.x509 != NULL && X509_cmp(cf.x509, x) == 0);
	/* No trailing NUL needed: the length is what counts. */
	certfields_free(&cf);
	CHECK(from_pem((uint8_t *)leaf, strlen(leaf), &cf) == 0);
	CHECK(streq(cf.fp, want.fp));
	certfields_free(&cf);
	certfields_free(&want);
	free(chain);
	free(leaf);
	free(ca);
	X509_free(x);
}

static void
test_subject_from_der(void)
{
	struct certfields	 cf;
	unsigned char		*der = NULL;
	uint8_t			 junk[64];
	X509			*x = mk_full();
	char			*s;
	int			 len, cut;

	CHECK(certfields_from_x509(x, &cf) == 0);
	len = i2d_X509(x, &der);
	CHECK(len > 0);
	s = certfields_subject_from_der(der, (size_t)len);
	CHECK(s != NULL && cf.dn != NULL && streq(s, cf.dn));
	free(s);
	/* Cut anywhere before the subject's end, or not DER: nothing. */
	for (cut = 0; cut < 64; cut++)
		CHECK(certfields_subject_from_der(der, (size_t)cut) == NULL);
	memset(junk, 0x30, sizeof(junk));
	CHECK(certfields_subject_from_der(junk, sizeof(junk)) == NULL);
	CHECK(certfields_subject_from_der(NULL, 10) == NULL);
	CHECK(ERR_peek_error() == 0);
	certfields_free(&cf);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_from_pem_garbage_fails(void)
{
	struct certfields	 cf;
	uint8_t			 rnd[4096], *big;
	char			*pem;
	const char		*bad[] = {
		"",
		"hello world\n",
		"-----BEGIN CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\n!!!!not base64!!!!\n"
		    "-----END CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\nMIIBAAAA\n"
		    "-----END CERTIFICATE-----\n",
		"-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n"
		    "-----END PRIVATE KEY-----\n",
		"-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n"
		    "DEK-Info: AES-128-CBC,00000000000000000000000000000000\n\n"
		    "AAAAAAAAAAAAAAAAAAAAAA==\n-----END CERTIFICATE-----\n",
	};
	size_t			 i;
	X509			*x;

	ERR_clear_error();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&cf, 0xa5, sizeof(cf));
		CHECK(from_pem((const uint8_t *)bad[i],
		    strlen(bad[i]), &cf) == -1);
		CHECK(cf.cn == NULL && cf.x509 == NULL && cf.der == NULL);
		certfields_free(&cf);
	}
	for (i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)(i * 131 + 7);
	CHECK(from_pem(rnd, sizeof(rnd), &cf) == -1);
	CHECK(from_pem(NULL, 10, &cf) == -1);
	CHECK(certfields_from_x509(NULL, &cf) == -1);

	/* A truncated real certificate. */
	x = mk_full();
	pem = pem_of(x);
	CHECK(from_pem((uint8_t *)pem, strlen(pem) / 2, &cf) == -1);
	/* A valid certificate followed by padding: the bound still holds. */
	if ((big = malloc(CERTFIELDS_PEM_MAX + 1)) == NULL)
		fatal("malloc");
	memset(big, '\n', CERTFIELDS_PEM_MAX + 1);
	memcpy(big, pem, strlen(pem));
	CHECK(from_pem(big, CERTFIELDS_PEM_MAX, &cf) == 0);
	certfields_free(&cf);
	CHECK(from_pem(big, CERTFIELDS_PEM_MAX + 1, &cf) == -1);
	free(big);
	free(pem);
	X509_free(x);
	/* Nothing left behind for the next libtls call to trip over. */
	CHECK(ERR_peek_error() == 0);
}

static void
test_filter_values_expand(void)
{
	struct certfields	 cf;
	struct ldap_filter_value vals[CERTFIELDS_NVALUES];
	char			 out[LDAP_FILTER_MAX], err[256];
	X509_NAME		*n = X509_NAME_new();
	X509			*x;

	add_txt(n, NID_commonName, "*)(uid=*\\x");
	x = mkcert(n, "ABC", NULL, ca_cert, ca_key);
	CHECK(certfields_from_x509(x, &cf) == 0);
	CHECK(certfields_filter_values(&cf, 0, vals, 3) == -1);
	CHECK(certfields_filter_values(&cf, 0, vals, CERTFIELDS_NVALUES) ==
	    CERTFIELDS_NVALUES);
	CHECK(ldap_filter_expand_values("(&(caccn={cn})(cacserial={sn}))",
	    vals, CERTFIELDS_NVALUES, out, sizeof(out), err,
	    sizeof(err)) > 0);
	CHECK(streq(out, "(&(caccn=\\2a\\29\\28uid=\\2a\\5cx)"
	    "(cacserial=0abc))"));
	CHECK(certfields_filter_values(&cf, 1, vals, CERTFIELDS_NVALUES) ==
	    CERTFIELDS_NVALUES);
	CHECK(ldap_filter_expand_values("(cacserial={sn})", vals,
	    CERTFIELDS_NVALUES, out, sizeof(out), err, sizeof(err)) > 0);
	CHECK(streq(out, "(cacserial=2748)"));
	/* The certificate has no e-mail: the lookup must fail. */
	CHECK(ldap_filter_expand_values("(mail={e})", vals,
	    CERTFIELDS_NVALUES, out, sizeof(out), err, sizeof(err)) == -1);
	certfields_free(&cf);
	X509_free(x);
}

int
main(void)
{
	X509_NAME	*n;

	log_init(1, 0);
	log_procinit("t_certfields");
	ca_key = mkkey();
	leaf_key = mkkey();
	n = X509_NAME_new();
	add_txt(n, NID_organizationName, "Example Org");
	add_txt(n, NID_commonName, "Example Test Root CA");
	ca_cert = mkcert(n, "01", NULL, NULL, ca_key);

	RUN(test_all_fields_present);
	RUN(test_missing_fields_are_null);
	RUN(test_ad_mapping_fields);
	RUN(test_ident_subset_equals_full);
	RUN(test_email_subject_before_san);
	RUN(test_filter_specials_kept_raw);
	RUN(test_utf8_cn_from_utf8_and_bmp);
	RUN(test_embedded_nul_rejects_field);
	RUN(test_control_chars_reject_field);
	RUN(test_control_chars_in_san);
	RUN(test_invalid_utf8_rejects_field);
	RUN(test_field_length_bound);
	RUN(test_serial_formats);
	RUN(test_fingerprint_and_der);
	RUN(test_upn_must_be_utf8string);
	RUN(test_dn_field_short_names);
	RUN(test_from_pem_chain_takes_leaf);
	RUN(test_subject_from_der);
	RUN(test_from_pem_garbage_fails);
	RUN(test_filter_values_expand);
	RUN(test_dn_print_one_format);

	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
	TEST_EXIT();
}
