/*
 * Is a download a CRL we may hand the front?  In order:
 *
 *  1. it parses as the configured type (PEM, or DER consumed exactly);
 *  2. we understand every extension that matters (RFC 5280 5.2, 5.3:
 *     we must not pass on what we cannot interpret): full, delta
 *     (deltaCRLIndicator), indirect (IDP indirectCRL, entries with
 *     certificateIssuer) and reason-partitioned (IDP onlySomeReasons)
 *     CRLs are fine, an unknown critical CRL or entry extension is not;
 *  3. its signature algorithm lets the front verify the signature over
 *     a digest of tbsCertList (not Ed25519 or Ed448);
 *  4. the signer.  A source that names a `ca': its signature verifies
 *     with a certificate from that bundle whose subject is the CRL's
 *     issuer, whose key usage allows cRLSign, and which itself chains to
 *     a CA of that bundle -- either the CA itself, or a separate
 *     CRL-signing certificate with the CA's name issued within the same
 *     PKI (RFC 5280 6.3.3 (f)).  A source that names none: if a
 *     configured certificate has the issuer's name, one of them must
 *     verify the signature; if none has it, the CRL is accepted and the
 *     front verifies the signature on a path to its trust anchor (RFC
 *     5280 6.3.3), as it does for every CRL;
 *  5. thisUpdate is not in the future (beyond CRL_CLOCK_SKEW) and not
 *     after nextUpdate; past nextUpdate is accepted but stale (the
 *     front applies the stale policy);
 *  6. it is not older than the CRL in use: thisUpdate, then the CRL
 *     number, must not go backwards.
 *
 * What is kept (struct crl_data) is what the front needs: the entries
 * (key, reason, revocation date, issuer), the certificateIssuer names,
 * the CRL's "shell" (the CRL re-encoded without its revokedCertificates,
 * for OpenSSL's RFC 5280 CRL processing in the front) and the digest of
 * the original tbsCertList the signature covers.  The parsed CRL is
 * freed before returning.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certfields.h"
#include "config.h"
#include "crld.h"
#include "log.h"

#define PEM_CRL_BEGIN	"-----BEGIN X509 CRL-----"

void
crl_cas_init(struct crl_cas *c)
{
	if ((c->certs = sk_X509_new_null()) == NULL)
		fatalx("sk_X509_new_null");
	c->name = NULL;
}

void
crl_cas_free(struct crl_cas *c)
{
	if (c->certs != NULL)
		sk_X509_pop_free(c->certs, X509_free);
	c->certs = NULL;
}

int
crl_cas_add_pem(struct crl_cas *c, const unsigned char *pem, size_t len)
{
	BIO	*bio;
	X509	*x;
	int	 n = 0;

	if (len > INT32_MAX ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(c->certs, x)) {
			X509_free(x);
			break;
		}
		n++;
	}
	ERR_clear_error();
	BIO_free(bio);
	return n > 0 ? 0 : -1;
}

void
crl_data_free(struct crl_data *d)
{
	size_t	 i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nnames; i++)
		free(d->names[i].der);
	free(d->names);
	free(d->shell);
	free(d->entries);
	free(d);
}

/* Seconds since the epoch of a UTC calendar time (timegm() without the
 * library's detours: it runs once per entry). */
static int64_t
tm_to_time(const struct tm *tm)
{
	int64_t	 y = (int64_t)tm->tm_year + 1900, m = tm->tm_mon + 1;
	int64_t	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + tm->tm_mday - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468) * 86400 + tm->tm_hour * 3600 +
	    tm->tm_min * 60 + tm->tm_sec;
}

/* time_t of an ASN1_TIME; -1 if it cannot be read. */
static int64_t
asn1_time(const ASN1_TIME *t)
{
	struct tm	 tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	return tm_to_time(&tm);
}

static void
fmt_time(int64_t t, char *buf, size_t len)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

/* An extension's name for messages: its short name, or the OID. */
static const char *
ext_name(X509_EXTENSION *ext, char *buf, size_t len)
{
	const ASN1_OBJECT	*obj = X509_EXTENSION_get_object(ext);
	int			 nid = OBJ_obj2nid(obj);

	if (nid != NID_undef)
		return OBJ_nid2sn(nid);
	if (OBJ_obj2txt(buf, (int)len, obj, 1) <= 0)
		snprintf(buf, len, "?");
	return buf;
}

static void
int_hex(const ASN1_INTEGER *ai, char *buf, size_t len)
{
	BIGNUM	*bn;
	char	*hex;

	bn = ASN1_INTEGER_to_BN(ai, NULL);
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	snprintf(buf, len, "%s", hex != NULL ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
}

/*
 * ldap:// sources: libcurl prints the entry as text, "DN: ..." then one
 * "\tattribute: value" line per value, binary values in base64 after
 * "::" (as in LDIF).  The
 * first value is the CRL (the URL names the attribute, e.g.
 * ?certificateRevocationList;binary).
 */
static unsigned char *
ldap_extract(const unsigned char *body, size_t len, size_t *outlen)
{
	const unsigned char	*p, *end = body + len, *v, *eol;
	unsigned char		*out, *b64;
	size_t			 n, i, o;
	int			 r;

	for (p = body; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			eol = end;
		if (*p != '\t')
			continue;
		if ((v = memchr(p, ':', eol - p)) == NULL)
			continue;
		v++;
		/* "attr:: value" is LDIF's mark of a base64 value, which is
		 * what libcurl prints for ;binary attributes. */
		if (v < eol && *v == ':')
			v++;
		while (v < eol && *v == ' ')
			v++;
		n = eol - v;
		if (n == 0 || n > (size_t)CRL_FETCH_MAX)
			return NULL;
		/* Strip anything that is not base64 (CR, folding). */
		if ((b64 = malloc(n + 1)) == NULL)
			return NULL;
		for (i = 0, o = 0; i < n; i++)
			if (v[i] != '\r' && v[i] != ' ')
				b64[o++] = v[i];
		b64[o] = '\0';
		if ((out = malloc(o / 4 * 3 + 3)) == NULL || o % 4 != 0 ||
		    (r = EVP_DecodeBlock(out, b64, (int)o)) <= 0) {
			free(out);
			free(b64);
			return NULL;
		}
		/* EVP_DecodeBlock counts the padding as zero bytes. */
		if (o >= 1 && b64[o - 1] == '=')
			r--;
		if (o >= 2 && b64[o - 2] == '=')
			r--;
		free(b64);
		*outlen = r;
		return out;
	}
	return NULL;
}

static X509_CRL *
crl_parse(const unsigned char *body, size_t len, int type, char *why,
    size_t whylen)
{
	const unsigned char	*p = body;
	X509_CRL		*crl = NULL;
	BIO			*bio;

	if (len > INT32_MAX) {
		snprintf(why, whylen, "too large");
		return NULL;
	}
	if (type == CRL_TYPE_PEM) {
		if (memmem(body, len, PEM_CRL_BEGIN, strlen(PEM_CRL_BEGIN)) ==
		    NULL) {
			snprintf(why, whylen, "not a PEM CRL (type pem): no "
			    "\"%s\" line", PEM_CRL_BEGIN);
			return NULL;
		}
		if ((bio = BIO_new_mem_buf(body, (int)len)) == NULL)
			fatalx("BIO_new_mem_buf");
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (crl == NULL)
			snprintf(why, whylen, "corrupt PEM CRL");
	} else {
		if (len < 2 || body[0] != 0x30) {
			snprintf(why, whylen, "not a DER CRL (type asn1)%s",
			    memmem(body, len, "-----BEGIN", 10) != NULL ?
			    ": looks like PEM" : "");
			return NULL;
		}
		crl = d2i_X509_CRL(NULL, &p, (long)len);
		if (crl == NULL)
			snprintf(why, whylen, "corrupt DER CRL");
		else if (p != body + len) {
			snprintf(why, whylen, "corrupt DER CRL: %zu bytes of "
			    "trailing data", (size_t)(body + len - p));
			X509_CRL_free(crl);
			crl = NULL;
		}
	}
	ERR_clear_error();
	return crl;
}

/*
 * The CRL extensions we understand (RFC 5280 5.2).  Each must decode and
 * appear once at most: OpenSSL in the front would find the CRL invalid
 * otherwise, and say less clearly why.
 */
static const int crl_known_ext[] = {
	NID_crl_number, NID_delta_crl, NID_issuing_distribution_point,
	NID_authority_key_identifier, NID_freshest_crl, NID_info_access
};

/* The entry extensions we understand (RFC 5280 5.3). */
static const int entry_known_ext[] = {
	NID_crl_reason, NID_invalidity_date, NID_certificate_issuer,
	NID_hold_instruction_code
};

static int
known_nid(const int *list, size_t n, int nid)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (list[i] == nid)
			return 1;
	return 0;
}

#define NKNOWN(a)	(sizeof(a) / sizeof((a)[0]))

/* Step 2, the CRL's own extensions; sets d's flags, number and keyid. */
static int
crl_check_extensions(X509_CRL *crl, struct crl_data *d, char *why,
    size_t whylen)
{
	X509_EXTENSION		*ext;
	ISSUING_DIST_POINT	*idp;
	AUTHORITY_KEYID		*akid;
	void			*v;
	size_t			 k;
	int			 i, crit, only;
	char			 buf[80];

	for (i = 0; i < X509_CRL_get_ext_count(crl); i++) {
		ext = X509_CRL_get_ext(crl, i);
		if (X509_EXTENSION_get_critical(ext) &&
		    !known_nid(crl_known_ext, NKNOWN(crl_known_ext),
		    OBJ_obj2nid(X509_EXTENSION_get_object(ext)))) {
			snprintf(why, whylen, "unknown critical extension %s",
			    ext_name(ext, buf, sizeof(buf)));
			return -1;
		}
	}
	for (k = 0; k < NKNOWN(crl_known_ext); k++) {
		v = X509_CRL_get_ext_d2i(crl, crl_known_ext[k], &crit, NULL);
		if (v == NULL && crit != -1) {
			snprintf(why, whylen, crit == -2 ? "extension %s "
			    "appears more than once" : "malformed %s extension",
			    OBJ_nid2sn(crl_known_ext[k]));
			ERR_clear_error();
			return -1;
		}
		if (v == NULL)
			continue;
		switch (crl_known_ext[k]) {
		case NID_crl_number:
			int_hex(v, d->number, sizeof(d->number));
			ASN1_INTEGER_free(v);
			break;
		case NID_delta_crl:
			d->flags |= CRLSET_CRL_DELTA;
			int_hex(v, d->base, sizeof(d->base));
			ASN1_INTEGER_free(v);
			break;
		case NID_issuing_distribution_point:
			idp = v;
			d->flags |= CRLSET_CRL_IDP;
			if (idp->indirectCRL)
				d->flags |= CRLSET_CRL_INDIRECT;
			only = (idp->onlyuser > 0) + (idp->onlyCA > 0) +
			    (idp->onlyattr > 0);
			ISSUING_DIST_POINT_free(idp);
			/* RFC 5280 5.2.5: at most one of them. */
			if (only > 1) {
				snprintf(why, whylen, "issuing distribution "
				    "point limits the scope to more than one "
				    "kind of certificate");
				return -1;
			}
			break;
		case NID_authority_key_identifier:
			akid = v;
			/* What certificates name in their AKID: the key
			 * that signed the CRL. */
			if (akid->keyid != NULL &&
			    ASN1_STRING_length(akid->keyid) > 0 &&
			    ASN1_STRING_length(akid->keyid) <=
			    CRLSET_KEYID_MAX) {
				d->keyidlen = ASN1_STRING_length(akid->keyid);
				memcpy(d->keyid,
				    ASN1_STRING_get0_data(akid->keyid),
				    d->keyidlen);
			}
			AUTHORITY_KEYID_free(akid);
			break;
		case NID_freshest_crl:
			CRL_DIST_POINTS_free(v);
			break;
		case NID_info_access:
			AUTHORITY_INFO_ACCESS_free(v);
			break;
		}
	}
	/* RFC 5280 5.2.4: a delta CRL carries its own number too, and
	 * OpenSSL finds it invalid without one. */
	if ((d->flags & CRLSET_CRL_DELTA) && d->number[0] == '\0') {
		snprintf(why, whylen, "delta CRL without a CRL number");
		return -1;
	}
	ERR_clear_error();
	return 0;
}

/*
 * The exact bytes of tbsCertList in the DER of the CRL (CertificateList
 * ::= SEQUENCE { tbsCertList, signatureAlgorithm, signature }), and a
 * check that the algorithm inside tbsCertList is the outer one, byte for
 * byte (RFC 5280 5.1.2.2; X509_CRL_verify() checks it too, and the
 * front's verification over the digest cannot).
 */
static int
crl_tbs(const unsigned char *der, size_t len, const unsigned char **tbs,
    size_t *tbslen)
{
	const unsigned char	*p = der, *end = der + len, *t, *tend;
	const unsigned char	*alg_in, *alg_out;
	long			 l, lin, lout;
	int			 r, tag, cls;

	if (len > LONG_MAX)
		return -1;
	r = ASN1_get_object(&p, &l, &tag, &cls, (long)len);
	if (r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    cls != V_ASN1_UNIVERSAL || l != end - p)
		return -1;
	t = p;
	r = ASN1_get_object(&p, &l, &tag, &cls, end - p);
	if (r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    cls != V_ASN1_UNIVERSAL || l > end - p)
		return -1;
	tend = p + l;
	/* Inside: version INTEGER OPTIONAL, then the AlgorithmIdentifier. */
	alg_in = p;
	r = ASN1_get_object(&p, &lin, &tag, &cls, tend - p);
	if ((r & 0x80) || (r & 0x01) || lin > tend - p)
		return -1;
	if (r == 0 && tag == V_ASN1_INTEGER && cls == V_ASN1_UNIVERSAL) {
		p += lin;
		alg_in = p;
		r = ASN1_get_object(&p, &lin, &tag, &cls, tend - p);
		if ((r & 0x80) || (r & 0x01) || lin > tend - p)
			return -1;
	}
	lin += p - alg_in;
	p = tend;
	alg_out = p;
	r = ASN1_get_object(&p, &lout, &tag, &cls, end - p);
	if (r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    cls != V_ASN1_UNIVERSAL || lout > end - p)
		return -1;
	lout += p - alg_out;
	if (lin != lout || memcmp(alg_in, alg_out, lin) != 0)
		return -2;
	*tbs = t;
	*tbslen = tend - t;
	return 0;
}

/*
 * Step 3: the hash the signature is over, so that the front can verify
 * it over a stored digest.  RSASSA-PSS names it in its parameters (RFC
 * 4055: SHA-1 when absent); Ed25519 and Ed448 sign the message itself,
 * not a hash of it.
 */
static int
crl_sig_md(X509_CRL *crl, int *md_nid, char *why, size_t whylen)
{
	const ASN1_BIT_STRING	*sig;
	const X509_ALGOR	*alg;
	const ASN1_OBJECT	*obj;
	const void		*pval;
	RSA_PSS_PARAMS		*pss;
	int			 ptype, signid, mdnid = NID_undef, pknid;
	char			 buf[80];

	X509_CRL_get0_signature(crl, &sig, &alg);
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	signid = OBJ_obj2nid(obj);
	if (signid == NID_rsassaPss) {
		if (ptype != V_ASN1_SEQUENCE || (pss = ASN1_item_unpack(pval,
		    ASN1_ITEM_rptr(RSA_PSS_PARAMS))) == NULL) {
			snprintf(why, whylen, "malformed RSASSA-PSS "
			    "parameters");
			ERR_clear_error();
			return -1;
		}
		mdnid = pss->hashAlgorithm == NULL ? NID_sha1 :
		    OBJ_obj2nid(pss->hashAlgorithm->algorithm);
		RSA_PSS_PARAMS_free(pss);
	} else if (!OBJ_find_sigid_algs(signid, &mdnid, &pknid))
		mdnid = NID_undef;
	if (mdnid == NID_undef) {
		if (OBJ_obj2txt(buf, sizeof(buf), obj, 0) <= 0)
			snprintf(buf, sizeof(buf), "?");
		snprintf(why, whylen, "signature algorithm %s is not "
		    "supported", buf);
		return -1;
	}
	if (EVP_get_digestbynid(mdnid) == NULL ||
	    EVP_MD_get_size(EVP_get_digestbynid(mdnid)) > CRLSET_DIGEST_MAX) {
		snprintf(why, whylen, "signature hash %s is not supported",
		    OBJ_nid2sn(mdnid));
		return -1;
	}
	*md_nid = mdnid;
	return 0;
}

/* Does cert chain to a CA of the bundle?  CAs of the bundle are trusted
 * (as libtls trusts every certificate of a CA file); other certificates
 * in it (a CRL signer) are only candidates. */
static int
crl_signer_trusted(X509 *cert, const struct crl_cas *cas, time_t now)
{
	X509_STORE	*store;
	X509_STORE_CTX	*ctx;
	STACK_OF(X509)	*untrusted;
	X509		*x;
	int		 i, ok = 0;

	if ((store = X509_STORE_new()) == NULL ||
	    (untrusted = sk_X509_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		fatalx("%s: out of memory", __func__);
	for (i = 0; i < sk_X509_num(cas->certs); i++) {
		x = sk_X509_value(cas->certs, i);
		if (X509_check_ca(x) > 0)
			X509_STORE_add_cert(store, x);
		else
			sk_X509_push(untrusted, x);
	}
	/* A bundle may hold the issuing CA without its root. */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_STORE_CTX_init(ctx, store, cert, untrusted) == 1) {
		X509_STORE_CTX_set_time(ctx, 0, now);
		ok = X509_verify_cert(ctx) == 1;
		if (!ok)
			log_trace(TRACE_CRL, "%s: CRL signer does not "
			    "verify: %s", __func__,
			    X509_verify_cert_error_string(
			    X509_STORE_CTX_get_error(ctx)));
	}
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}

/* Step 4 for a source that names a `ca'; returns the signer (a
 * reference into cas) or NULL. */
static X509 *
crl_find_signer(X509_CRL *crl, const struct crl_cas *cas, time_t now,
    char *why, size_t whylen)
{
	const X509_NAME	*issuer = X509_CRL_get_issuer(crl);
	X509		*x;
	EVP_PKEY	*pk;
	int		 i, named = 0, sigok = 0;

	for (i = 0; i < sk_X509_num(cas->certs); i++) {
		x = sk_X509_value(cas->certs, i);
		if (X509_NAME_cmp(X509_get_subject_name(x), issuer) != 0)
			continue;
		named++;
		if ((pk = X509_get0_pubkey(x)) == NULL ||
		    X509_CRL_verify(crl, pk) != 1)
			continue;
		sigok++;
		/* UINT32_MAX without a keyUsage extension: allowed. */
		if ((X509_get_key_usage(x) & KU_CRL_SIGN) == 0)
			continue;
		if (!crl_signer_trusted(x, cas, now))
			continue;
		ERR_clear_error();
		return x;
	}
	ERR_clear_error();
	if (named == 0)
		snprintf(why, whylen, "issuer is not a configured CA (none "
		    "in ca \"%s\" has its name)", cas->name);
	else if (sigok == 0)
		snprintf(why, whylen, "signature does not verify with the "
		    "issuer's certificate%s", named > 1 ? "s" : "");
	else
		snprintf(why, whylen, "signer is not allowed to sign CRLs "
		    "or does not chain to a configured CA");
	return NULL;
}

/*
 * Step 4.  With a `ca': the rule above.  Without: a configured
 * certificate with the issuer's name must verify the signature; no such
 * certificate is no reason to refuse (an indirect CRL's issuer, a CA
 * deeper in a PKI than the bundles go): the front verifies every CRL's
 * signature on a path to its trust anchor anyway (RFC 5280 6.3.3).
 */
static int
crl_check_signer(X509_CRL *crl, const struct crl_cas *cas, time_t now,
    struct crl_data *d, char *why, size_t whylen)
{
	const X509_NAME	*issuer = X509_CRL_get_issuer(crl);
	X509		*x;
	EVP_PKEY	*pk;
	int		 i, named = 0;

	if (cas->name != NULL) {
		if (crl_find_signer(crl, cas, now, why, whylen) == NULL)
			return -1;
		d->flags |= CRLSET_CRL_VERIFIED;
		return 0;
	}
	for (i = 0; i < sk_X509_num(cas->certs); i++) {
		x = sk_X509_value(cas->certs, i);
		if (X509_NAME_cmp(X509_get_subject_name(x), issuer) != 0)
			continue;
		named++;
		if ((pk = X509_get0_pubkey(x)) != NULL &&
		    X509_CRL_verify(crl, pk) == 1) {
			ERR_clear_error();
			d->flags |= CRLSET_CRL_VERIFIED;
			return 0;
		}
	}
	ERR_clear_error();
	if (named > 0) {
		snprintf(why, whylen, "signature does not verify with the "
		    "issuer's certificate%s", named > 1 ? "s" : "");
		return -1;
	}
	log_trace(TRACE_CRL, "CRL of %s: no configured certificate has the "
	    "issuer's name; its signature is verified by the front, on a "
	    "path to a trust anchor", d->issuer);
	return 0;
}

/* Step 6: -1 older, 0 same, 1 newer CRL number ("" = none). */
static int
number_cmp(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b) < 0 ? -1 : strcmp(a, b) > 0;
}

/* The builder's order, then date and reason: which of two duplicates
 * is kept does not depend on qsort. */
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

/*
 * The names of an indirect CRL's certificateIssuer extensions, each
 * once: a CRL may repeat the extension on every entry.  An open hash
 * (made at the first name) keeps that linear in the number of entries.
 */
#define NAME_SLOTS	(2U * 65536)	/* > 2 * CRLSET_MAX_NAMES */

struct name_tab {
	struct crl_data	*d;
	const X509_NAME	*crl_issuer;
	uint32_t	*slot;		/* index + 1; 0: empty */
	size_t		 cap;
	uint8_t		 seen[(CRLSET_MAX_NAMES + 1 + 7) / 8];
};

static uint32_t
name_hash(const unsigned char *p, size_t len)
{
	uint32_t	 h = 2166136261U;
	size_t		 i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619U;
	return h;
}

/* The issuer index of a directoryName: 0 for the CRL's own issuer,
 * else 1 + its place in d->names; -1 with why set. */
static int
name_index(struct name_tab *t, const X509_NAME *nm, char *why, size_t whylen)
{
	struct crl_data	*d = t->d;
	struct crl_name	*nn;
	unsigned char	*der = NULL;
	uint32_t	 h;
	int		 len;

	if (X509_NAME_cmp(nm, t->crl_issuer) == 0)
		return 0;
	if ((len = i2d_X509_NAME(nm, &der)) <= 0) {
		snprintf(why, whylen, "unencodable certificate issuer name");
		return -1;
	}
	if ((size_t)len > CRLSET_MAX_NAME) {
		snprintf(why, whylen, "certificate issuer name of %d bytes: "
		    "more than %u", len, CRLSET_MAX_NAME);
		OPENSSL_free(der);
		return -1;
	}
	if (t->slot == NULL) {
		t->cap = NAME_SLOTS;
		if ((t->slot = calloc(t->cap, sizeof(*t->slot))) == NULL)
			fatal(NULL);
	}
	for (h = name_hash(der, len) % t->cap; t->slot[h] != 0;
	    h = (h + 1) % t->cap) {
		nn = &d->names[t->slot[h] - 1];
		if (nn->len == (size_t)len && memcmp(nn->der, der, len) == 0) {
			OPENSSL_free(der);
			return (int)t->slot[h];
		}
	}
	if (d->nnames >= CRLSET_MAX_NAMES) {
		snprintf(why, whylen, "more than %u certificate issuers",
		    CRLSET_MAX_NAMES);
		OPENSSL_free(der);
		return -1;
	}
	if ((nn = reallocarray(d->names, d->nnames + 1, sizeof(*nn))) ==
	    NULL)
		fatal(NULL);
	d->names = nn;
	nn = &d->names[d->nnames];
	if ((nn->der = malloc(len)) == NULL)
		fatal(NULL);
	memcpy(nn->der, der, len);
	nn->len = len;
	OPENSSL_free(der);
	t->slot[h] = (uint32_t)++d->nnames;
	return (int)d->nnames;
}

/*
 * A certificateIssuer extension: the issuer indexes of this entry and
 * the ones that follow (RFC 5280 5.3.3), one per directoryName (OpenSSL
 * matches a certificate's issuer against each).  None: the entries name
 * an issuer no certificate can have, and match nothing.
 */
static int
entry_issuers(struct name_tab *t, GENERAL_NAMES *gens, uint16_t *idx,
    size_t *nidx, char *why, size_t whylen)
{
	GENERAL_NAME	*gn;
	size_t		 j;
	int		 i, n, r = 0;

	*nidx = 0;
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		gn = sk_GENERAL_NAME_value(gens, i);
		if (gn->type != GEN_DIRNAME)
			continue;
		if ((n = name_index(t, gn->d.directoryName, why, whylen)) ==
		    -1) {
			r = -1;
			break;
		}
		/* Each index once: a bitmap, not a scan of idx, however
		 * many names one extension holds. */
		if (t->seen[n >> 3] & (1U << (n & 7)))
			continue;
		if (*nidx > CRLSET_MAX_NAMES)
			fatalx("%s: %zu issuers", __func__, *nidx);
		t->seen[n >> 3] |= 1U << (n & 7);
		idx[(*nidx)++] = (uint16_t)n;
	}
	for (j = 0; j < *nidx; j++)
		t->seen[idx[j] >> 3] = 0;
	return r;
}

/* An entry's extensions: known ones decode, no unknown critical one;
 * its reason (CRLSET_REASON_NONE if none) and its certificateIssuer
 * names in *gens (the caller's to free; NULL on failure). */
static int
entry_check(X509_REVOKED *r, int i, int *reason, GENERAL_NAMES **gens,
    char *why, size_t whylen)
{
	X509_EXTENSION	*ext;
	ASN1_ENUMERATED	*e;
	void		*v;
	size_t		 k;
	long		 rc;
	int		 j, crit;
	char		 buf[80];

	*reason = CRLSET_REASON_NONE;
	*gens = NULL;
	if (X509_REVOKED_get_ext_count(r) == 0)
		return 0;
	for (j = 0; j < X509_REVOKED_get_ext_count(r); j++) {
		ext = X509_REVOKED_get_ext(r, j);
		if (X509_EXTENSION_get_critical(ext) &&
		    !known_nid(entry_known_ext, NKNOWN(entry_known_ext),
		    OBJ_obj2nid(X509_EXTENSION_get_object(ext)))) {
			snprintf(why, whylen, "entry %d: unknown critical "
			    "extension %s", i, ext_name(ext, buf,
			    sizeof(buf)));
			return -1;
		}
	}
	for (k = 0; k < NKNOWN(entry_known_ext); k++) {
		v = X509_REVOKED_get_ext_d2i(r, entry_known_ext[k], &crit,
		    NULL);
		if (v == NULL && crit != -1) {
			snprintf(why, whylen, crit == -2 ? "entry %d: "
			    "extension %s appears more than once" :
			    "entry %d: malformed %s extension", i,
			    OBJ_nid2sn(entry_known_ext[k]));
			ERR_clear_error();
			/* A certificateIssuer decoded before this one. */
			GENERAL_NAMES_free(*gens);
			*gens = NULL;
			return -1;
		}
		if (v == NULL)
			continue;
		switch (entry_known_ext[k]) {
		case NID_crl_reason:
			e = v;
			rc = ASN1_ENUMERATED_get(e);
			/* Not a code of RFC 5280 5.3.1: unspecified. */
			if (rc < 0 || rc > 10 || rc == 7)
				rc = 0;
			*reason = (int)rc;
			ASN1_ENUMERATED_free(e);
			break;
		case NID_invalidity_date:
			ASN1_GENERALIZEDTIME_free(v);
			break;
		case NID_certificate_issuer:
			*gens = v;
			break;
		case NID_hold_instruction_code:
			ASN1_OBJECT_free(v);
			break;
		}
	}
	return 0;
}

/* Steps 2 (entries) and the extraction: key, reason, date, issuer. */
static int
crl_extract(X509_CRL *crl, struct crl_data *d, char *why, size_t whylen)
{
	STACK_OF(X509_REVOKED)	*revs;
	X509_REVOKED		*r;
	GENERAL_NAMES		*gens;
	struct crlset_entry	*e;
	struct name_tab		 tab;
	uint16_t		*idx;
	uint8_t			 key[CRLSET_KEY_LEN];
	int64_t			 t;
	size_t			 nidx = 1, cap, j, o;
	int			 i, k, n, reason, r_ok = -1, unnamed = 0;

	memset(&tab, 0, sizeof(tab));	/* 8 KB on crld's stack */
	tab.d = d;
	tab.crl_issuer = X509_CRL_get_issuer(crl);
	if ((idx = calloc(CRLSET_MAX_NAMES + 1, sizeof(*idx))) == NULL)
		fatal(NULL);
	idx[0] = 0;	/* the CRL's issuer, until a certificateIssuer */
	revs = X509_CRL_get_REVOKED(crl);
	if ((n = sk_X509_REVOKED_num(revs)) < 0)
		n = 0;
	if ((size_t)n > CRLSET_MAX_ENTRIES) {
		snprintf(why, whylen, "%d entries: more than %u", n,
		    CRLSET_MAX_ENTRIES);
		goto done;
	}
	cap = n ? (size_t)n : 1;
	if ((d->entries = calloc(cap, sizeof(*d->entries))) == NULL)
		fatal(NULL);
	for (i = 0; i < n; i++) {
		r = sk_X509_REVOKED_value(revs, i);
		if (entry_check(r, i, &reason, &gens, why, whylen) == -1)
			goto done;
		if (gens != NULL) {
			k = entry_issuers(&tab, gens, idx, &nidx, why,
			    whylen);
			GENERAL_NAMES_free(gens);
			if (k == -1)
				goto done;
			if (nidx == 0)
				unnamed++;
		}
		if (crlset_key_asn1(X509_REVOKED_get0_serialNumber(r), key) ==
		    -1) {
			snprintf(why, whylen, "entry %d: bad serial", i);
			goto done;
		}
		if ((t = asn1_time(X509_REVOKED_get0_revocationDate(r))) ==
		    -1) {
			snprintf(why, whylen, "entry %d: unreadable "
			    "revocationDate", i);
			goto done;
		}
		if (t < 0)
			t = 0;
		if (t > UINT32_MAX)
			t = UINT32_MAX;
		if (nidx > CRLSET_MAX_ENTRIES - d->nentries) {
			snprintf(why, whylen, "more than %u entries, one per "
			    "certificate issuer name", CRLSET_MAX_ENTRIES);
			goto done;
		}
		if (d->nentries + nidx > cap) {
			while (d->nentries + nidx > cap)
				cap *= 2;
			if ((e = reallocarray(d->entries, cap,
			    sizeof(*e))) == NULL)
				fatal(NULL);
			d->entries = e;
		}
		for (j = 0; j < nidx; j++) {
			e = &d->entries[d->nentries++];
			memcpy(e->key, key, CRLSET_KEY_LEN);
			e->reason = (uint8_t)reason;
			e->issuer = idx[j];
			e->revoked = (uint32_t)t;
		}
	}
	if (unnamed > 0)
		log_trace(TRACE_CRL, "CRL of %s: %d certificate issuers "
		    "without a directoryName: their entries match no "
		    "certificate", d->issuer, unnamed);
	qsort(d->entries, d->nentries, sizeof(*d->entries), entry_cmp_full);
	/* The same (serial, issuer) listed twice: keep the first. */
	for (j = 1, o = d->nentries > 0; j < d->nentries; j++)
		if (crlset_entry_cmp(&d->entries[o - 1], &d->entries[j]) != 0)
			d->entries[o++] = d->entries[j];
	d->nentries = o;
	r_ok = 0;
done:
	free(tab.slot);
	free(idx);
	ERR_clear_error();
	return r_ok;
}

/*
 * OpenSSL encodes the emptied stack of entries as an empty SEQUENCE;
 * RFC 5280 5.1.2.6 wants the field absent when there are no entries.
 * Drop it from the re-encoded shell (the first SEQUENCE after the times
 * in tbsCertList, if it is empty); lengths can only shrink.  Returns the
 * new length.
 */
static size_t
shell_drop_empty(unsigned char *der, size_t len)
{
	const unsigned char	*p = der, *end = der + len, *tc, *tend, *el;
	const unsigned char	*drop = NULL;
	unsigned char		*out, *q;
	long			 l;
	int			 r, tag, cls, times = 0, tbsc, outc, total;

	if (len > INT_MAX)
		return len;
	r = ASN1_get_object(&p, &l, &tag, &cls, (long)len);
	if (r != V_ASN1_CONSTRUCTED || l != end - p)
		return len;
	r = ASN1_get_object(&p, &l, &tag, &cls, end - p);
	if (r != V_ASN1_CONSTRUCTED || l > end - p)
		return len;
	tc = p;
	tend = p + l;
	while (p < tend) {
		el = p;
		r = ASN1_get_object(&p, &l, &tag, &cls, tend - p);
		if ((r & 0x81) || l > tend - p)
			return len;
		p += l;
		if (cls != V_ASN1_UNIVERSAL)
			break;
		if (tag == V_ASN1_UTCTIME || tag == V_ASN1_GENERALIZEDTIME)
			times++;
		else if (times > 0) {
			if (tag == V_ASN1_SEQUENCE && l == 0 && p - el == 2)
				drop = el;
			break;
		}
	}
	if (drop == NULL)
		return len;
	tbsc = (int)(tend - tc) - 2;
	outc = ASN1_object_size(1, tbsc, V_ASN1_SEQUENCE) + (int)(end - tend);
	total = ASN1_object_size(1, outc, V_ASN1_SEQUENCE);
	if (total <= 0 || (size_t)total > len)
		return len;
	if ((out = malloc(total)) == NULL)
		fatal(NULL);
	q = out;
	ASN1_put_object(&q, 1, outc, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	ASN1_put_object(&q, 1, tbsc, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(q, tc, drop - tc);
	q += drop - tc;
	memcpy(q, drop + 2, tend - (drop + 2));
	q += tend - (drop + 2);
	memcpy(q, tend, end - tend);
	q += end - tend;
	if (q != out + total)
		fatalx("%s: %td bytes, not %d", __func__, q - out, total);
	memcpy(der, out, total);
	free(out);
	return total;
}

/*
 * The shell: the CRL with its revokedCertificates removed, re-encoded
 * (issuer, dates, extensions and signature stay; the signature no longer
 * matches, which is why the front checks it over d->digest).  Empties the
 * parsed CRL's entries: call it last.
 */
static int
crl_shell(X509_CRL *crl, struct crl_data *d, char *why, size_t whylen)
{
	STACK_OF(X509_REVOKED)	*revs = X509_CRL_get_REVOKED(crl);
	X509_REVOKED		*r;
	X509_CRL		*back;
	const unsigned char	*p;
	unsigned char		*q;
	int			 n;

	while ((r = sk_X509_REVOKED_pop(revs)) != NULL)
		X509_REVOKED_free(r);
	/* Marks the cached tbsCertList stale: i2d encodes it anew. */
	if (i2d_re_X509_CRL_tbs(crl, NULL) <= 0 ||
	    (n = i2d_X509_CRL(crl, NULL)) <= 0) {
		snprintf(why, whylen, "cannot re-encode the CRL without its "
		    "entries");
		return -1;
	}
	if ((d->shell = malloc(n)) == NULL)
		fatal(NULL);
	q = d->shell;
	if (i2d_X509_CRL(crl, &q) != n)
		fatalx("i2d_X509_CRL");
	d->shell_len = shell_drop_empty(d->shell, n);
	if (d->shell_len > CRLSET_MAX_SHELL) {
		snprintf(why, whylen, "the CRL without its entries is %zu "
		    "bytes: more than %u", d->shell_len, CRLSET_MAX_SHELL);
		return -1;
	}
	n = (int)d->shell_len;
	/* What the front will do with it. */
	p = d->shell;
	back = d2i_X509_CRL(NULL, &p, n);
	if (back == NULL || p != d->shell + n ||
	    sk_X509_REVOKED_num(X509_CRL_get_REVOKED(back)) > 0) {
		X509_CRL_free(back);
		snprintf(why, whylen, "the CRL without its entries does not "
		    "parse");
		return -1;
	}
	X509_CRL_free(back);
	return 0;
}

int
crl_validate(const unsigned char *body, size_t len, int type, int ldap,
    const struct crl_cas *cas, const struct crl_data *cur, time_t now,
    struct crl_data **out, unsigned char **derp, size_t *derlenp, char *why,
    size_t whylen)
{
	X509_CRL		*crl = NULL;
	struct crl_data		*d = NULL;
	const unsigned char	*tbs;
	unsigned char		*ext = NULL, *der = NULL, *q;
	unsigned int		 dlen;
	size_t			 tbslen;
	int			 derlen, n, r = -1;
	char			 t1[32], t2[32];

	*out = NULL;
	*derp = NULL;
	*derlenp = 0;
	if (ldap) {
		if ((ext = ldap_extract(body, len, &len)) == NULL) {
			snprintf(why, whylen, "no CRL value in the LDAP "
			    "answer");
			return -1;
		}
		body = ext;
		type = CRL_TYPE_ASN1;	/* directories store DER */
	}
	if ((crl = crl_parse(body, len, type, why, whylen)) == NULL)
		goto done;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal(NULL);
	if ((n = i2d_X509_NAME(X509_CRL_get_issuer(crl), &der)) <= 0)
		fatalx("i2d_X509_NAME");
	crlset_issuer_hash(der, n, d->issuer_hash);
	OPENSSL_free(der);
	der = NULL;
	certfields_dn_print(X509_CRL_get_issuer(crl), d->issuer,
	    sizeof(d->issuer));

	if (crl_check_extensions(crl, d, why, whylen) == -1)
		goto done;
	if (crl_sig_md(crl, &d->md_nid, why, whylen) == -1)
		goto done;
	if (crl_check_signer(crl, cas, now, d, why, whylen) == -1)
		goto done;

	d->this_update = asn1_time(X509_CRL_get0_lastUpdate(crl));
	d->next_update = X509_CRL_get0_nextUpdate(crl) == NULL ? 0 :
	    asn1_time(X509_CRL_get0_nextUpdate(crl));
	if (d->this_update == -1 || d->next_update == -1) {
		snprintf(why, whylen, "unreadable thisUpdate or nextUpdate");
		goto done;
	}
	if (d->this_update > (int64_t)now + CRL_CLOCK_SKEW) {
		fmt_time(d->this_update, t1, sizeof(t1));
		snprintf(why, whylen, "thisUpdate %s is in the future", t1);
		goto done;
	}
	if (d->next_update != 0 && d->next_update < d->this_update) {
		snprintf(why, whylen, "nextUpdate before thisUpdate");
		goto done;
	}
	if (crl_extract(crl, d, why, whylen) == -1)
		goto done;

	/* The CRL as it came (the cached tbsCertList is what was signed):
	 * for the cache, and for the digest. */
	if ((derlen = i2d_X509_CRL(crl, NULL)) <= 0 ||
	    (der = malloc(derlen)) == NULL)
		fatalx("i2d_X509_CRL");
	q = der;
	i2d_X509_CRL(crl, &q);
	SHA256(der, derlen, d->der_hash);

	if (cur != NULL && memcmp(cur->issuer_hash, d->issuer_hash,
	    CRLSET_HASH_LEN) == 0) {
		if (memcmp(cur->der_hash, d->der_hash, CRLSET_HASH_LEN) == 0) {
			r = 0;
			goto done;
		}
		if (d->this_update < cur->this_update ||
		    (d->this_update == cur->this_update &&
		    number_cmp(d->number, cur->number) <= 0)) {
			fmt_time(d->this_update, t1, sizeof(t1));
			fmt_time(cur->this_update, t2, sizeof(t2));
			snprintf(why, whylen, "older than the CRL in use "
			    "(thisUpdate %s, number %s; in use %s, number %s)",
			    t1, d->number[0] ? d->number : "none", t2,
			    cur->number[0] ? cur->number : "none");
			goto done;
		}
	}

	switch (crl_tbs(der, derlen, &tbs, &tbslen)) {
	case 0:
		break;
	case -2:
		snprintf(why, whylen, "signature algorithm in tbsCertList "
		    "differs from the outer one");
		goto done;
	default:
		snprintf(why, whylen, "malformed CertificateList");
		goto done;
	}
	if (EVP_Digest(tbs, tbslen, d->digest, &dlen,
	    EVP_get_digestbynid(d->md_nid), NULL) != 1 ||
	    dlen > CRLSET_DIGEST_MAX)
		fatalx("EVP_Digest");
	d->digest_len = dlen;
	if (crl_shell(crl, d, why, whylen) == -1)
		goto done;

	*out = d;
	d = NULL;
	*derp = der;
	*derlenp = derlen;
	der = NULL;
	r = 1;
done:
	crl_data_free(d);
	free(der);
	free(ext);
	X509_CRL_free(crl);
	ERR_clear_error();
	return r;
}
