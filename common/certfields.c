/*
 * Certificate field extraction with libcrypto.  See certfields.h for what
 * each field means and the rules every value obeys.
 *
 * Everything here reads attacker-influenced data (a client certificate,
 * CA-signed but with contents chosen by whoever filled in the request), so
 * every value passes one gate, cf_take(), which bounds it, rejects NUL and
 * every other control character (flagging the field, see
 * certfields_ctrl_field()) and anything that is not strict UTF-8, and
 * copies it to malloc'd memory so callers free() without caring which
 * allocator libcrypto used.
 *
 * libcrypto errors raised while we probe a certificate are popped before
 * returning (ERR_set_mark/ERR_pop_to_mark): the front process runs TLS
 * on the same thread, and a stale error queue there would be misreported
 * against some later, unrelated TLS call.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certfields.h"
#include "log.h"

/*
 * RFC 2253 printing, but UTF-8 is written as is: with ESC_MSB every byte
 * >= 0x80 becomes \XX, and "CN=J\C3\BCrgen" would never compare equal to
 * the DN a directory stores.  Control bytes stay escaped (ESC_CTRL), so an
 * embedded NUL shows up as \00 instead of cutting the string.
 */
#define CF_DN_FLAGS	(XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)

struct cf_dnfield {
	const char	*name;
	int		 nid;
};

/* SPEC 6, the list of the seed product; keep in sync with certfields.h. */
static const struct cf_dnfield cf_dnfields[] = {
	{ "C",		NID_countryName },
	{ "CN",		NID_commonName },
	{ "DNQ",	NID_dnQualifier },
	{ "EA",		NID_pkcs9_emailAddress },
	{ "GENQ",	NID_generationQualifier },
	{ "GN",		NID_givenName },
	{ "I",		NID_initials },
	{ "L",		NID_localityName },
	{ "N",		NID_name },
	{ "O",		NID_organizationName },
	{ "OU",		NID_organizationalUnitName },
	{ "SER",	NID_serialNumber },
	{ "SN",		NID_surname },
	{ "ST",		NID_stateOrProvinceName },
	{ "T",		NID_title },
	{ "UID",	NID_userId },
};

/* struct certfields' ctrl: fields refused for a control character. */
#define CF_CTRL_CN	0x01
#define CF_CTRL_E	0x02
#define CF_CTRL_UPN	0x04
#define CF_CTRL_UID	0x08
#define CF_CTRL_O	0x10
#define CF_CTRL_OU	0x20
#define CF_CTRL_DN	0x40
#define CF_CTRL_ISSUER	0x80

struct cf_placeholder {
	const char	*name;
	size_t		 off;
	unsigned int	 ctrl;	/* its CF_CTRL_ bit; {sn}, {fp}: digits */
};

/* {sn} is special-cased in certfields_get() for the decimal format. */
static const struct cf_placeholder cf_placeholders[] = {
	{ "cn",		offsetof(struct certfields, cn), CF_CTRL_CN },
	{ "sn",		offsetof(struct certfields, sn), 0 },
	{ "e",		offsetof(struct certfields, e), CF_CTRL_E },
	{ "upn",	offsetof(struct certfields, upn), CF_CTRL_UPN },
	{ "uid",	offsetof(struct certfields, uid), CF_CTRL_UID },
	{ "o",		offsetof(struct certfields, o), CF_CTRL_O },
	{ "ou",		offsetof(struct certfields, ou), CF_CTRL_OU },
	{ "dn",		offsetof(struct certfields, dn), CF_CTRL_DN },
	{ "issuer",	offsetof(struct certfields, issuer), CF_CTRL_ISSUER },
	{ "fp",		offsetof(struct certfields, fp), 0 },
	{ "issuer_x500", offsetof(struct certfields, issuer_x500),
	    CF_CTRL_ISSUER },
	{ "sn_rev",	offsetof(struct certfields, sn_rev), 0 },
	{ "ski",	offsetof(struct certfields, ski), 0 },
};

static int	 cf_utf8_valid(const unsigned char *, size_t);
static char	*cf_take(const unsigned char *, size_t, size_t, const char *,
		    unsigned int *, unsigned int);
static char	*cf_asn1_utf8(const ASN1_STRING *, const char *,
		    unsigned int *, unsigned int);
static char	*cf_name_first(const X509_NAME *, int, const char *, int *,
		    unsigned int *, unsigned int);
static char	*cf_name_string(const X509_NAME *, const char *,
		    unsigned int *, unsigned int);
static char	*cf_hex(const unsigned char *, size_t, const char *);
static int	 cf_serial(X509 *, struct certfields *);
static void	 cf_san(X509 *, struct certfields *, int);
static int	 cf_der(X509 *, struct certfields *);
static int	 cf_der_fp(X509 *, struct certfields *);
static int	 cf_nopass(char *, int, int, void *);
static const struct cf_dnfield *cf_dnfield_find(const char *);

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF, and no NUL.  ASN1_STRING_to_UTF8() already refuses malformed
 * UTF8String input, but it happily encodes a BMPString's lone surrogate or
 * a U+0000, so we check what comes out rather than trust every path in.
 */
static int
cf_utf8_valid(const unsigned char *s, size_t len)
{
	size_t		 i = 0, n, k;
	uint32_t	 c, min;

	while (i < len) {
		c = s[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			c &= 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			c &= 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			c &= 0x07;
			min = 0x10000;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (s[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * The single gate every value goes through.  An empty value counts as
 * absent too: it can only ever match something it should not.  A value
 * with a control character sets bit in *ctrl (ctrl may be NULL): NUL
 * would silently truncate a filter or a user name, and a directory may
 * fold CR, LF or TAB into a space or drop them, matching another entry.
 * The lookup that uses the field says so; here it is only a debug line,
 * as the field may not be used at all.
 */
static char *
cf_take(const unsigned char *p, size_t len, size_t max, const char *what,
    unsigned int *ctrl, unsigned int bit)
{
	char	*s;
	size_t	 i;

	if (len == 0)
		return NULL;
	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f) {
			log_debug("certificate %s contains a control "
			    "character, ignored", what);
			if (ctrl != NULL)
				*ctrl |= bit;
			return NULL;
		}
	if (len > max) {
		log_warnx("certificate %s longer than %zu bytes, ignored",
		    what, max);
		return NULL;
	}
	if (!cf_utf8_valid(p, len)) {
		log_warnx("certificate %s is not valid UTF-8, ignored", what);
		return NULL;
	}
	if ((s = malloc(len + 1)) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static char *
cf_asn1_utf8(const ASN1_STRING *as, const char *what, unsigned int *ctrl,
    unsigned int bit)
{
	unsigned char	*u = NULL;
	char		*s;
	int		 n;

	if (as == NULL)
		return NULL;
	/*
	 * Refuse before converting: a UniversalString takes four bytes a
	 * character, so anything above this cannot come out short enough.
	 */
	if (ASN1_STRING_length(as) < 0 ||
	    (size_t)ASN1_STRING_length(as) > 4 * CERTFIELDS_FIELD_MAX) {
		log_warnx("certificate %s too long, ignored", what);
		return NULL;
	}
	if ((n = ASN1_STRING_to_UTF8(&u, as)) < 0) {
		log_warnx("certificate %s: unusable string type or encoding, "
		    "ignored", what);
		return NULL;
	}
	s = cf_take(u, (size_t)n, CERTFIELDS_FIELD_MAX, what, ctrl, bit);
	OPENSSL_free(u);
	return s;
}

/*
 * First entry of nid in encoding order; *present (may be NULL) tells an
 * absent entry from a present but unusable one.  ctrl and bit as for
 * cf_take().
 */
static char *
cf_name_first(const X509_NAME *name, int nid, const char *what,
    int *present, unsigned int *ctrl, unsigned int bit)
{
	const X509_NAME_ENTRY	*ne;
	int			 idx;

	if (present != NULL)
		*present = 0;
	if (name == NULL ||
	    (idx = X509_NAME_get_index_by_NID(name, nid, -1)) < 0)
		return NULL;
	if ((ne = X509_NAME_get_entry(name, idx)) == NULL)
		return NULL;
	if (present != NULL)
		*present = 1;
	return cf_asn1_utf8(X509_NAME_ENTRY_get_data(ne), what, ctrl, bit);
}

static char *
cf_name_string_flags(const X509_NAME *name, const char *what,
    unsigned int *ctrl, unsigned int bit, unsigned long flags);

static char *
cf_name_string(const X509_NAME *name, const char *what, unsigned int *ctrl,
    unsigned int bit)
{
	return cf_name_string_flags(name, what, ctrl, bit, CF_DN_FLAGS);
}

/* flags: RFC 4514 order, or (without XN_FLAG_DN_REV) X.500 order. */
static char *
cf_name_string_flags(const X509_NAME *name, const char *what,
    unsigned int *ctrl, unsigned int bit, unsigned long flags)
{
	BIO	*bio;
	char	*p, *s = NULL;
	long	 len;

	if (name == NULL)
		return NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		log_warnx("%s: BIO_new failed", __func__);
		return NULL;
	}
	if (X509_NAME_print_ex(bio, name, 0, flags) >= 0 &&
	    (len = BIO_get_mem_data(bio, &p)) >= 0)
		s = cf_take((unsigned char *)p, (size_t)len,
		    CERTFIELDS_DN_MAX, what, ctrl, bit);
	else
		log_warnx("certificate %s cannot be printed, ignored", what);
	BIO_free(bio);
	return s;
}

const char *
certfields_dn_print(const X509_NAME *name, char *buf, size_t len)
{
	BIO	*bio;
	char	*p;
	long	 n;
	size_t	 i;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (name == NULL || (bio = BIO_new(BIO_s_mem())) == NULL)
		return buf;
	if (X509_NAME_print_ex(bio, name, 0, CF_DN_FLAGS) >= 0 &&
	    (n = BIO_get_mem_data(bio, &p)) > 0) {
		i = (size_t)n < len - 1 ? (size_t)n : len - 1;
		/* Cut at a character, not inside a UTF-8 sequence. */
		if ((size_t)n > i)
			while (i > 0 && ((unsigned char)p[i] & 0xc0) == 0x80)
				i--;
		memcpy(buf, p, i);
		buf[i] = '\0';
	}
	BIO_free(bio);
	return buf;
}

static char *
cf_hex(const unsigned char *p, size_t len, const char *prefix)
{
	static const char	 digits[] = "0123456789abcdef";
	char			*s, *q;
	size_t			 plen = strlen(prefix), i;

	if ((s = malloc(plen + 2 * len + 1)) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	memcpy(s, prefix, plen);
	q = s + plen;
	for (i = 0; i < len; i++) {
		*q++ = digits[p[i] >> 4];
		*q++ = digits[p[i] & 0x0f];
	}
	*q = '\0';
	return s;
}

/*
 * Lower-case hex, two digits per byte of the magnitude, exactly what
 * `openssl x509 -serial | tr A-F a-f` shows (and what regress/lib/pki.sh
 * records), so a directory filled from openssl output matches even with
 * a case-exact matching rule.  Zero is "00", never "".
 */
static int
cf_serial(X509 *x, struct certfields *cf)
{
	const ASN1_INTEGER	*ai;
	BIGNUM			*bn;
	unsigned char		 buf[CERTFIELDS_SERIAL_MAX];
	static const unsigned char zero[1] = { 0 };
	char			*dec;
	int			 n, neg;

	if ((ai = X509_get0_serialNumber(x)) == NULL)
		return -1;
	if (ASN1_STRING_length(ai) > CERTFIELDS_SERIAL_MAX) {
		log_warnx("certificate serial longer than %d bytes, ignored",
		    CERTFIELDS_SERIAL_MAX);
		return -1;
	}
	if ((bn = ASN1_INTEGER_to_BN(ai, NULL)) == NULL)
		return -1;
	neg = BN_is_negative(bn);
	n = BN_bn2bin(bn, buf);
	if (n < 0 || n > (int)sizeof(buf)) {
		BN_free(bn);
		return -1;
	}
	if (n == 0)
		cf->sn = cf_hex(zero, 1, "");
	else
		cf->sn = cf_hex(buf, (size_t)n, neg ? "-" : "");
	/* AD's <SR>: the same bytes, last first (a negative one has no
	 * such form: absent, so a filter naming it matches nobody). */
	if (!neg) {
		unsigned char	 rev[CERTFIELDS_SERIAL_MAX];
		int		 i;

		for (i = 0; i < n; i++)
			rev[i] = buf[n - 1 - i];
		cf->sn_rev = n == 0 ? cf_hex(zero, 1, "") :
		    cf_hex(rev, (size_t)n, "");
	}
	if ((dec = BN_bn2dec(bn)) != NULL) {
		cf->sn_dec = strdup(dec);
		OPENSSL_free(dec);
	}
	BN_free(bn);
	if (cf->sn == NULL || cf->sn_dec == NULL) {
		free(cf->sn);
		free(cf->sn_dec);
		cf->sn = cf->sn_dec = NULL;
		return -1;
	}
	return 0;
}

/*
 * {e} from the first rfc822Name (only if the subject has no emailAddress
 * at all) and {upn} from the first userPrincipalName otherName.  A
 * certificate with two subjectAltName extensions yields nothing here
 * (X509_get_ext_d2i refuses the ambiguity; libcrypto also marks such a
 * certificate invalid, so it should not have been verified anyway).
 */
static void
cf_san(X509 *x, struct certfields *cf, int want_email)
{
	GENERAL_NAMES		*gens;
	GENERAL_NAME		*gn;
	ASN1_OBJECT		*oid;
	ASN1_TYPE		*val;
	int			 i, seen_email = 0, seen_upn = 0;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL)
		return;
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		gn = sk_GENERAL_NAME_value(gens, i);
		if (gn->type == GEN_EMAIL && !seen_email) {
			seen_email = 1;
			if (want_email)
				cf->e = cf_asn1_utf8(gn->d.rfc822Name,
				    "subjectAltName email", &cf->ctrl,
				    CF_CTRL_E);
		} else if (gn->type == GEN_OTHERNAME && !seen_upn) {
			GENERAL_NAME_get0_otherName(gn, &oid, &val);
			if (OBJ_obj2nid(oid) != NID_ms_upn)
				continue;
			seen_upn = 1;
			/* Microsoft defines it as UTF8String; nothing else. */
			if (val != NULL && val->type == V_ASN1_UTF8STRING)
				cf->upn = cf_asn1_utf8(val->value.utf8string,
				    "userPrincipalName", &cf->ctrl,
				    CF_CTRL_UPN);
			else
				log_warnx("certificate userPrincipalName is "
				    "not a UTF8String, ignored");
		}
	}
	GENERAL_NAMES_free(gens);
}

static int
cf_der(X509 *x, struct certfields *cf)
{
	unsigned char	*p;
	int		 len;

	if ((len = i2d_X509(x, NULL)) <= 0)
		return -1;
	if ((cf->der = malloc((size_t)len)) == NULL) {
		log_warn("%s", __func__);
		return -1;
	}
	p = cf->der;
	if (i2d_X509(x, &p) != len)
		return -1;
	cf->derlen = (size_t)len;
	return 0;
}

static int
cf_der_fp(X509 *x, struct certfields *cf)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;

	if (cf_der(x, cf) == -1)
		return -1;
	if (!X509_digest(x, EVP_sha256(), md, &mdlen))
		return -1;
	if ((cf->fp = cf_hex(md, mdlen, "")) == NULL)
		return -1;
	return 0;
}

int
certfields_from_x509(X509 *x, struct certfields *cf)
{
	const ASN1_OCTET_STRING	*ski;
	const X509_NAME	*subj;
	int		 has_email;

	memset(cf, 0, sizeof(*cf));
	if (x == NULL)
		return -1;
	ERR_set_mark();
	if (!X509_up_ref(x))
		goto fail;
	cf->x509 = x;
	/* The only fields every certificate has; the rest may be absent. */
	if (cf_der_fp(x, cf) == -1)
		goto fail;
	(void)cf_serial(x, cf);

	subj = X509_get_subject_name(x);
	cf->cn = cf_name_first(subj, NID_commonName, "commonName", NULL,
	    &cf->ctrl, CF_CTRL_CN);
	cf->uid = cf_name_first(subj, NID_userId, "userId", NULL,
	    &cf->ctrl, CF_CTRL_UID);
	cf->o = cf_name_first(subj, NID_organizationName,
	    "organizationName", NULL, &cf->ctrl, CF_CTRL_O);
	cf->ou = cf_name_first(subj, NID_organizationalUnitName,
	    "organizationalUnitName", NULL, &cf->ctrl, CF_CTRL_OU);
	cf->e = cf_name_first(subj, NID_pkcs9_emailAddress, "emailAddress",
	    &has_email, &cf->ctrl, CF_CTRL_E);
	cf_san(x, cf, !has_email);
	cf->dn = cf_name_string(subj, "subject", &cf->ctrl, CF_CTRL_DN);
	cf->issuer = cf_name_string(X509_get_issuer_name(x), "issuer",
	    &cf->ctrl, CF_CTRL_ISSUER);
	cf->issuer_x500 = cf_name_string_flags(X509_get_issuer_name(x),
	    "issuer", &cf->ctrl, CF_CTRL_ISSUER,
	    CF_DN_FLAGS & ~XN_FLAG_DN_REV);
	if ((ski = X509_get0_subject_key_id(x)) != NULL &&
	    ASN1_STRING_length(ski) > 0 &&
	    ASN1_STRING_length(ski) <= CERTFIELDS_SERIAL_MAX)
		cf->ski = cf_hex(ASN1_STRING_get0_data(ski),
		    (size_t)ASN1_STRING_length(ski), "");
	ERR_pop_to_mark();
	return 0;
 fail:
	ERR_pop_to_mark();
	certfields_free(cf);
	return -1;
}

int
certfields_ident(X509 *x, struct certfields *cf)
{
	memset(cf, 0, sizeof(*cf));
	if (x == NULL)
		return -1;
	ERR_set_mark();
	if (!X509_up_ref(x))
		goto fail;
	cf->x509 = x;
	if (cf_der(x, cf) == -1)
		goto fail;
	(void)cf_serial(x, cf);
	cf->dn = cf_name_string(X509_get_subject_name(x), "subject",
	    &cf->ctrl, CF_CTRL_DN);
	cf->issuer = cf_name_string(X509_get_issuer_name(x), "issuer",
	    &cf->ctrl, CF_CTRL_ISSUER);
	ERR_pop_to_mark();
	return 0;
 fail:
	ERR_pop_to_mark();
	certfields_free(cf);
	return -1;
}

/* Peer chains never carry an encrypted PEM: never prompt. */
static int
cf_nopass(char *buf, int size, int rwflag, void *arg)
{
	return -1;
}

STACK_OF(X509) *
certfields_chain_from_pem(const uint8_t *pem, size_t len, int max)
{
	STACK_OF(X509)	*chain;
	BIO		*bio;
	X509		*x;

	if (pem == NULL || len == 0 || len > CERTFIELDS_PEM_MAX)
		return NULL;
	ERR_set_mark();
	if ((chain = sk_X509_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		sk_X509_free(chain);
		ERR_pop_to_mark();
		return NULL;
	}
	/* Up to the first block that is not a certificate (the end). */
	while ((max <= 0 || sk_X509_num(chain) < max) &&
	    (x = PEM_read_bio_X509(bio, NULL, cf_nopass, NULL)) != NULL)
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			break;
		}
	BIO_free(bio);
	ERR_pop_to_mark();
	if (sk_X509_num(chain) == 0) {
		sk_X509_free(chain);
		return NULL;
	}
	return chain;
}

/*
 * One DER element at *p (at most end - *p bytes): its whole length,
 * header included, and *p moved past it.  0 if it does not fit or has
 * not the wanted tag and class.
 */
static long
cf_der_skip(const unsigned char **p, const unsigned char *end, int tag,
    int cls)
{
	const unsigned char	*start = *p;
	long			 len;
	int			 t, c, r;

	if (end <= start)
		return 0;
	r = ASN1_get_object(p, &len, &t, &c, end - start);
	if (r & 0x81 || t != tag || c != cls ||
	    len > end - *p)
		return 0;
	*p += len;
	return *p - start;
}

char *
certfields_subject_from_der(const uint8_t *der, size_t len)
{
	const unsigned char	*p = der, *end, *name;
	X509_NAME		*n;
	char			*s = NULL;
	long			 l, nlen;
	int			 t, c, r;

	if (der == NULL || len == 0 || len > LONG_MAX)
		return NULL;
	ERR_set_mark();
	/* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { ... */
	end = der + len;
	r = ASN1_get_object(&p, &l, &t, &c, end - p);
	if (r & 0x81 || t != V_ASN1_SEQUENCE || l > end - p)
		goto done;
	end = p + l;
	r = ASN1_get_object(&p, &l, &t, &c, end - p);
	if (r & 0x81 || t != V_ASN1_SEQUENCE || l > end - p)
		goto done;
	end = p + l;
	/* [0] version (optional), serialNumber, signature, issuer,
	 * validity, then subject. */
	name = p;
	if (cf_der_skip(&name, end, 0, V_ASN1_CONTEXT_SPECIFIC) > 0)
		p = name;
	if (cf_der_skip(&p, end, V_ASN1_INTEGER, V_ASN1_UNIVERSAL) == 0 ||
	    cf_der_skip(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) == 0 ||
	    cf_der_skip(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) == 0 ||
	    cf_der_skip(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) == 0)
		goto done;
	name = p;
	if ((nlen = cf_der_skip(&p, end, V_ASN1_SEQUENCE,
	    V_ASN1_UNIVERSAL)) == 0 ||
	    (n = d2i_X509_NAME(NULL, &name, nlen)) == NULL)
		goto done;
	s = cf_name_string(n, "subject", NULL, 0);
	X509_NAME_free(n);
 done:
	ERR_pop_to_mark();
	return s;
}

void
certfields_free(struct certfields *cf)
{
	if (cf == NULL)
		return;
	free(cf->cn);
	free(cf->sn);
	free(cf->sn_dec);
	free(cf->e);
	free(cf->upn);
	free(cf->uid);
	free(cf->o);
	free(cf->ou);
	free(cf->dn);
	free(cf->issuer);
	free(cf->fp);
	free(cf->issuer_x500);
	free(cf->sn_rev);
	free(cf->ski);
	free(cf->der);
	X509_free(cf->x509);
	memset(cf, 0, sizeof(*cf));
}

const char *
certfields_get(const struct certfields *cf, const char *name,
    int serial_decimal)
{
	size_t	 i;

	if (cf == NULL || name == NULL)
		return NULL;
	if (serial_decimal && strcmp(name, "sn") == 0)
		return cf->sn_dec;
	for (i = 0; i < sizeof(cf_placeholders) / sizeof(cf_placeholders[0]);
	    i++) {
		if (strcmp(name, cf_placeholders[i].name) == 0)
			return *(char *const *)(const void *)
			    ((const char *)cf + cf_placeholders[i].off);
	}
	return NULL;
}

const char *
certfields_ctrl_field(const struct certfields *cf, const char *tmpl)
{
	size_t	 i;

	if (cf == NULL || cf->ctrl == 0)
		return NULL;
	for (i = 0; i < sizeof(cf_placeholders) / sizeof(cf_placeholders[0]);
	    i++)
		if ((cf->ctrl & cf_placeholders[i].ctrl) != 0 &&
		    (tmpl == NULL ||
		    ldap_filter_uses(tmpl, cf_placeholders[i].name)))
			return cf_placeholders[i].name;
	return NULL;
}

int
certfields_filter_values(const struct certfields *cf, int serial_decimal,
    struct ldap_filter_value *vals, size_t nvals)
{
	size_t	 i;

	for (i = 0; ldap_filter_ph_certificate[i] != NULL; i++) {
		if (i >= nvals)
			return -1;
		vals[i].name = ldap_filter_ph_certificate[i];
		vals[i].value = certfields_get(cf, vals[i].name,
		    serial_decimal);
		vals[i].len = vals[i].value != NULL ?
		    strlen(vals[i].value) : 0;
	}
	return (int)i;
}

static const struct cf_dnfield *
cf_dnfield_find(const char *shortname)
{
	size_t	 i;

	if (shortname == NULL)
		return NULL;
	for (i = 0; i < sizeof(cf_dnfields) / sizeof(cf_dnfields[0]); i++)
		if (strcasecmp(shortname, cf_dnfields[i].name) == 0)
			return &cf_dnfields[i];
	return NULL;
}

int
certfields_dn_field_known(const char *shortname)
{
	return cf_dnfield_find(shortname) != NULL;
}

char *
certfields_dn_field(X509 *x, const char *shortname)
{
	const struct cf_dnfield	*f;
	char			*s;

	if (x == NULL || (f = cf_dnfield_find(shortname)) == NULL)
		return NULL;
	ERR_set_mark();
	s = cf_name_first(X509_get_subject_name(x), f->nid, f->name, NULL,
	    NULL, 0);
	ERR_pop_to_mark();
	return s;
}
