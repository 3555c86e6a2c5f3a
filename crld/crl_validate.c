/*
 * Is a download a CRL we may use?  In order:
 *
 *  1. it parses as the configured type (PEM, or DER consumed exactly);
 *  2. it is a full CRL we understand: no delta CRL, no indirect or
 *     reason-partitioned CRL, no unknown critical extension (RFC 5280
 *     5.2, 5.3: we must not use what we cannot interpret);
 *  3. its signature verifies with a certificate from the source's CA
 *     bundle (any configured bundle if the source names none) whose
 *     subject is the CRL's issuer, whose key usage allows cRLSign, and
 *     which itself chains to a CA of that bundle.  That is either the CA
 *     itself, or a separate CRL-signing certificate with the CA's name
 *     issued within the same PKI (RFC 5280 6.3.3 (f); what OpenSSL calls
 *     extended CRL support);
 *  4. thisUpdate is not in the future (beyond CRL_CLOCK_SKEW) and not
 *     before nextUpdate; past nextUpdate is accepted but stale (the
 *     front applies the stale policy; its listings still revoke);
 *  5. it is not older than the CRL in use: thisUpdate, then the CRL
 *     number, must not go backwards.
 *
 * What is kept is only what lookups need (struct crl_data); the parsed
 * CRL is freed before returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "crld.h"
#include "log.h"

#define PEM_CRL_BEGIN	"-----BEGIN X509 CRL-----"

void
crl_cas_init(struct crl_cas *c)
{
	if ((c->certs = sk_X509_new_null()) == NULL)
		fatalx("sk_X509_new_null");
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
	if (d == NULL)
		return;
	free(d->entries);
	free(d);
}

/* time_t of an ASN1_TIME; -1 if it cannot be read. */
static int64_t
asn1_time(const ASN1_TIME *t)
{
	struct tm	 tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	return (int64_t)timegm(&tm);
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

/* Step 2: do we understand every extension that matters? */
static int
crl_check_extensions(X509_CRL *crl, char *why, size_t whylen)
{
	const STACK_OF(X509_REVOKED)	*revs;
	X509_REVOKED			*r;
	X509_EXTENSION			*ext;
	ISSUING_DIST_POINT		*idp;
	int				 i, j, nid, crit;

	for (i = 0; i < X509_CRL_get_ext_count(crl); i++) {
		ext = X509_CRL_get_ext(crl, i);
		nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
		if (nid == NID_delta_crl) {
			snprintf(why, whylen, "delta CRLs are not supported");
			return -1;
		}
		if (nid == NID_issuing_distribution_point) {
			idp = X509_CRL_get_ext_d2i(crl, nid, &crit, NULL);
			if (idp == NULL) {
				snprintf(why, whylen, "malformed issuing "
				    "distribution point");
				return -1;
			}
			j = idp->indirectCRL || idp->onlysomereasons != NULL;
			ISSUING_DIST_POINT_free(idp);
			if (j) {
				snprintf(why, whylen, "indirect or "
				    "reason-partitioned CRLs are not "
				    "supported");
				return -1;
			}
			continue;
		}
		if (X509_EXTENSION_get_critical(ext) &&
		    nid != NID_crl_number &&
		    nid != NID_authority_key_identifier) {
			snprintf(why, whylen, "unknown critical extension %s",
			    OBJ_nid2sn(nid));
			return -1;
		}
	}
	revs = X509_CRL_get_REVOKED(crl);
	for (i = 0; i < sk_X509_REVOKED_num(revs); i++) {
		r = sk_X509_REVOKED_value(revs, i);
		for (j = 0; j < X509_REVOKED_get_ext_count(r); j++) {
			ext = X509_REVOKED_get_ext(r, j);
			nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
			if (X509_EXTENSION_get_critical(ext) &&
			    nid != NID_crl_reason &&
			    nid != NID_invalidity_date) {
				snprintf(why, whylen, "entry with critical "
				    "extension %s (indirect CRL?) is not "
				    "supported", OBJ_nid2sn(nid));
				return -1;
			}
		}
	}
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

/* Step 3; returns the signer (a reference into cas) or NULL. */
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
		snprintf(why, whylen, "issuer is not a configured CA");
	else if (sigok == 0)
		snprintf(why, whylen, "signature does not verify with the "
		    "issuer's certificate%s", named > 1 ? "s" : "");
	else
		snprintf(why, whylen, "signer is not allowed to sign CRLs "
		    "or does not chain to a configured CA");
	return NULL;
}

static int
entry_cmp(const void *a, const void *b)
{
	return memcmp(((const struct crlset_entry *)a)->key,
	    ((const struct crlset_entry *)b)->key, CRLSET_KEY_LEN);
}

/* Step 5: -1 older, 0 same, 1 newer CRL number ("" = none). */
static int
number_cmp(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b) < 0 ? -1 : strcmp(a, b) > 0;
}

static int
crl_extract(X509_CRL *crl, X509 *signer, struct crl_data *d, char *why,
    size_t whylen)
{
	const STACK_OF(X509_REVOKED)	*revs;
	const ASN1_OCTET_STRING		*skid;
	X509_REVOKED			*r;
	ASN1_INTEGER			*num;
	ASN1_ENUMERATED			*reason;
	BIGNUM				*bn;
	BIO				*bio;
	unsigned char			*der = NULL;
	char				*hex;
	int				 i, n, crit;
	long				 rc;

	if ((n = i2d_X509_NAME(X509_CRL_get_issuer(crl), &der)) <= 0)
		fatalx("i2d_X509_NAME");
	crlset_issuer_hash(der, n, d->issuer_hash);
	OPENSSL_free(der);
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		fatalx("BIO_new");
	X509_NAME_print_ex(bio, X509_CRL_get_issuer(crl), 0, XN_FLAG_RFC2253);
	n = BIO_read(bio, d->issuer, sizeof(d->issuer) - 1);
	d->issuer[n > 0 ? n : 0] = '\0';
	BIO_free(bio);

	/* The CA's own key: certificates name it in their AKID.  A
	 * dedicated CRL signer (no keyCertSign) covers every key of the
	 * CA's name. */
	if ((X509_get_key_usage(signer) & KU_KEY_CERT_SIGN) &&
	    (skid = X509_get0_subject_key_id(signer)) != NULL &&
	    ASN1_STRING_length(skid) <= CRLSET_KEYID_MAX) {
		d->keyidlen = ASN1_STRING_length(skid);
		memcpy(d->keyid, ASN1_STRING_get0_data(skid), d->keyidlen);
	}
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL)) !=
	    NULL) {
		bn = ASN1_INTEGER_to_BN(num, NULL);
		hex = bn != NULL ? BN_bn2hex(bn) : NULL;
		if (hex != NULL)
			snprintf(d->number, sizeof(d->number), "%s", hex);
		OPENSSL_free(hex);
		BN_free(bn);
		ASN1_INTEGER_free(num);
	}

	revs = X509_CRL_get_REVOKED(crl);
	n = sk_X509_REVOKED_num(revs);
	if (n < 0)
		n = 0;
	if ((size_t)n > CRLSET_MAX_ENTRIES) {
		snprintf(why, whylen, "%d entries: more than %u", n,
		    CRLSET_MAX_ENTRIES);
		return -1;
	}
	if ((d->entries = calloc(n ? n : 1, sizeof(*d->entries))) == NULL)
		fatal(NULL);
	for (i = 0; i < n; i++) {
		r = sk_X509_REVOKED_value(revs, i);
		rc = CRLSET_REASON_NONE;
		if ((reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason,
		    &crit, NULL)) != NULL) {
			rc = ASN1_ENUMERATED_get(reason);
			if (rc < 0 || rc > 10)
				rc = 0;		/* unspecified */
			ASN1_ENUMERATED_free(reason);
		}
		/* See crlset.h: removeFromCRL in a full CRL un-lists. */
		if (rc == CRLSET_REASON_REMOVE)
			continue;
		if (crlset_key_asn1(X509_REVOKED_get0_serialNumber(r),
		    d->entries[d->nentries].key) == -1) {
			snprintf(why, whylen, "entry %d: bad serial", i);
			return -1;
		}
		d->entries[d->nentries].reason = (uint8_t)rc;
		d->nentries++;
	}
	qsort(d->entries, d->nentries, sizeof(*d->entries), entry_cmp);
	/* A serial listed twice: keep the first. */
	for (i = 1, n = d->nentries > 0; (size_t)i < d->nentries; i++)
		if (memcmp(d->entries[n - 1].key, d->entries[i].key,
		    CRLSET_KEY_LEN) != 0)
			d->entries[n++] = d->entries[i];
	d->nentries = n;
	ERR_clear_error();
	return 0;
}

int
crl_validate(const unsigned char *body, size_t len, int type, int ldap,
    const struct crl_cas *cas, const struct crl_data *cur, time_t now,
    struct crl_data **out, unsigned char **derp, size_t *derlenp, char *why,
    size_t whylen)
{
	X509_CRL	*crl = NULL;
	X509		*signer;
	struct crl_data	*d = NULL;
	unsigned char	*ext = NULL, *der = NULL, *q;
	int		 derlen, r = -1;
	char		 t1[32], t2[32];

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
	if (crl_check_extensions(crl, why, whylen) == -1)
		goto done;
	if ((signer = crl_find_signer(crl, cas, now, why, whylen)) == NULL)
		goto done;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal(NULL);
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
	if (crl_extract(crl, signer, d, why, whylen) == -1)
		goto done;

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
