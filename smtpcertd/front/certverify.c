/*
 * Certificate path validation (issue 12): RFC 5280 section 6 for client
 * certificates, by OpenSSL's own verifier.
 *
 * OpenSSL's X509_verify_cert() already implements the standard: path
 * building, basic and name constraints, key usage, policy processing
 * (X509_V_FLAG_POLICY_CHECK and the explicit-policy/inhibit flags) and
 * CRL processing with X509_V_FLAG_CRL_CHECK_ALL |
 * X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS: CRL scope
 * (issuing distribution point), reason partitions, delta CRLs, indirect
 * CRLs, a CRL issuer validated by its own path and itself checked for
 * revocation.  Two things made it unusable at DoD scale: it re-verifies a
 * CRL's signature -- over every entry -- on every handshake, and keeps
 * every entry as an object.  So the CRLs it sees here are *shells*
 * (crlset.h): each CRL without its entries, decoded under our
 * X509_CRL_METHOD, whose
 *  - crl_verify checks the original signature over the digest of the
 *    original tbsCertList that crld stored, once per CRL and issuer key
 *    (the result is kept with the CRL), and
 *  - crl_lookup finds a serial in the set by binary search.
 * The CRLs reach the verifier through the store's lookup_crls callback:
 * those of the certificate's issuer name (compared canonically), and
 * every indirect CRL (which may cover any issuer).
 *
 * The listener's handshake runs the verification (cert verify
 * callback), with the CA bundle's intermediates added to what the client
 * sent, so a CRL signer or intermediate the site configured need not be
 * sent.  The verify callback records the first failure of each kind with
 * the certificate it concerns.  Failures of the chain itself (unknown
 * issuer, bad signature, expired, constraints, weak key) end the
 * handshake, as they always have; revocation and policy failures let the
 * handshake finish, so the session can tell the client why in plain
 * words (554 on SMTP) before it closes.  Either way one log line names the
 * certificate, the depth and the reason.
 *
 * Fail-open: "no CRL for the issuer" under the global `crl stale
 * fail-open`, and "CRL past its nextUpdate" under its source's
 * fail-open, are let through with a warning; everything else fails
 * closed.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certverify.h"
#include "certfields.h"
#include "compat.h"
#include "crlset.h"
#include "kvlog.h"
#include "log.h"
#include "tlsserver.h"

#define CV_VERIFIED_KEYS	4	/* issuer keys remembered per CRL */
#define CV_POLICIES_MAX		512	/* bytes of the policy list */

/* What we keep with each shell X509_CRL (its meth_data). */
struct cv_crl {
	size_t		 index;		/* in the set */
	int		 stale;		/* enum stale_policy of its source */
	int		 indirect;
	char		 source[CRLSET_SOURCE_MAX];
	EVP_PKEY	*verified[CV_VERIFIED_KEYS];
	X509_NAME	**names;	/* certificateIssuer names, decoded
					 * on first use */
	size_t		 nnames;
};

/* One verification in progress. */
struct cv_state {
	const struct certverify_opts	*opts;
	struct certverify_refusal	 hs;	/* ends the handshake */
	struct certverify_refusal	 after;	/* answered after it */
	int				 has_hs, has_after;
	char				 sub[256];	/* why a CRL issuer's own
							 * path failed */
	char				 warn[512];	/* fail-open */
};

/* What a handshake leaves with its SSL (ex_data), only when there is
 * something to say: most sessions carry nothing. */
struct cv_result {
	struct certverify_refusal	 hs;
	struct certverify_refusal	 after;
	int				 has_hs, has_after;
	char				*policies;
};

static X509_CRL_METHOD	*cv_method;
static int		 cv_ctx_idx = -1;	/* X509_STORE_CTX -> state */
static int		 cv_ssl_idx = -1;	/* SSL -> struct cv_result */
static int		 cv_sslctx_idx = -1;	/* SSL_CTX -> options */

/* The current set's CRLs.  The set itself lives in crl_front.c. */
static struct crlset	 cv_set;
static X509_CRL		**cv_crls;
static size_t		 cv_ncrls;

/* The entry the last lookup found, for the refusal's words, and the
 * decoded one-entry CRL whose X509_REVOKED the lookup handed OpenSSL. */
static struct {
	int		 valid;
	int		 reason;
	uint32_t	 revoked;
	char		 source[CRLSET_SOURCE_MAX];
} cv_hit;
static X509_CRL		*cv_hit_crl;

/* Extra options kept with a listener's context. */
struct cv_ctxopts {
	struct certverify_opts	 opts;
	STACK_OF(X509)		*extra;	/* the bundle's intermediates */
};

static int	cv_verify_cb(int, X509_STORE_CTX *);
static void	cv_ssl_free(void *, void *, CRYPTO_EX_DATA *, int, long,
		    void *);
static void	cv_sslctx_free(void *, void *, CRYPTO_EX_DATA *, int, long,
		    void *);

/* ---------------------------------------------------------------- */
/* Names for people */

/* The one DN format of the logs (certfields_dn_print(): RFC 4514). */
static void
cv_name(const X509_NAME *n, char *buf, size_t len)
{
	certfields_dn_print(n, buf, len);
}

static void
cv_serial(X509 *x, char *buf, size_t len)
{
	BIGNUM	*bn;
	char	*hex;
	size_t	 i;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	snprintf(buf, len, "%s", hex != NULL ? hex : "?");
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] >= 'A' && buf[i] <= 'F')
			buf[i] += 'a' - 'A';
	OPENSSL_free(hex);
	BN_free(bn);
}

static void
cv_time(time_t t, char *buf, size_t len)
{
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "?");
}

static void
cv_asn1_time(const ASN1_TIME *a, char *buf, size_t len)
{
	struct tm	 tm;

	if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1 ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "?");
}

/* ---------------------------------------------------------------- */
/* The CRL method */

static int
cv_crl_free(X509_CRL *crl)
{
	struct cv_crl	*c = X509_CRL_get_meth_data(crl);
	size_t		 i;

	if (c == NULL)
		return 1;
	for (i = 0; i < CV_VERIFIED_KEYS; i++)
		EVP_PKEY_free(c->verified[i]);
	for (i = 0; i < c->nnames; i++)
		X509_NAME_free(c->names[i]);
	free(c->names);
	free(c);
	X509_CRL_set_meth_data(crl, NULL);
	return 1;
}

/* Certificate issuer name n (1-based) of CRL c, decoded once. */
static X509_NAME *
cv_crl_name(struct cv_crl *c, unsigned n)
{
	const struct crlset_crl	*rec;
	const uint8_t		*der, *p;
	size_t			 len, i;

	if (cv_set.hdr == NULL || c->index >= cv_set.hdr->ncrl)
		return NULL;
	rec = &cv_set.crls[c->index];
	if (n == 0 || n > rec->name_count)
		return NULL;
	if (c->names == NULL) {
		if ((c->names = calloc(rec->name_count,
		    sizeof(*c->names))) == NULL)
			fatal(NULL);
		c->nnames = rec->name_count;
	}
	i = n - 1;
	if (c->names[i] == NULL &&
	    (der = crlset_name(&cv_set, c->index, n, &len)) != NULL) {
		p = der;
		c->names[i] = d2i_X509_NAME(NULL, &p, (long)len);
		ERR_clear_error();
	}
	return c->names[i];
}

/* Append a DER header for tag and length to buf at *off. */
static int
der_hdr(uint8_t *buf, size_t cap, size_t *off, int tag, size_t len)
{
	uint8_t	 h[6];
	size_t	 n = 0;

	h[n++] = (uint8_t)tag;
	if (len < 0x80)
		h[n++] = (uint8_t)len;
	else if (len < 0x100) {
		h[n++] = 0x81;
		h[n++] = (uint8_t)len;
	} else if (len < 0x10000) {
		h[n++] = 0x82;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else
		return -1;
	if (*off + n > cap)
		return -1;
	memcpy(buf + *off, h, n);
	*off += n;
	return 0;
}

static int
der_put(uint8_t *buf, size_t cap, size_t *off, const void *p, size_t len)
{
	if (*off + len > cap)
		return -1;
	memcpy(buf + *off, p, len);
	*off += len;
	return 0;
}

/*
 * OpenSSL's CRL checking reads the reason of the X509_REVOKED a lookup
 * returns (removeFromCRL releases a hold), a field only its decoder sets.
 * So a hit is decoded from a one-entry CRL we write: the entry (serial,
 * date, reason) inside the smallest CertificateList the decoder takes.
 * Only revoked certificates come here.
 */
static X509_REVOKED *
cv_revoked(const ASN1_INTEGER *ser, const struct crlset_entry *e)
{
	static const uint8_t	 alg[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a,
	    0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00 };
	static const uint8_t	 ver[] = { 0x02, 0x01, 0x01 };
	static const uint8_t	 noname[] = { 0x30, 0x00 };
	static const uint8_t	 nosig[] = { 0x03, 0x01, 0x00 };
	static const uint8_t	 reasonoid[] = { 0x06, 0x03, 0x55, 0x1d,
	    0x15 };
	uint8_t			 ent[512], tbs[1024], crl[1200], tm[32];
	uint8_t			*p;
	const uint8_t		*q;
	size_t			 el = 0, tl = 0, cl = 0, inner;
	int			 sl, tml;
	ASN1_TIME		*t;
	uint8_t			 sder[256];

	X509_CRL_free(cv_hit_crl);
	cv_hit_crl = NULL;
	if ((sl = i2d_ASN1_INTEGER(ser, NULL)) <= 0 ||
	    (size_t)sl > sizeof(sder))
		return NULL;
	p = sder;
	i2d_ASN1_INTEGER(ser, &p);
	if ((t = ASN1_TIME_set(NULL, (time_t)e->revoked)) == NULL)
		return NULL;
	tml = i2d_ASN1_TIME(t, NULL);
	if (tml <= 0 || (size_t)tml > sizeof(tm)) {
		ASN1_TIME_free(t);
		return NULL;
	}
	p = tm;
	i2d_ASN1_TIME(t, &p);
	ASN1_TIME_free(t);

	/* Entry ::= SEQUENCE { serial, date, [ extensions ] } */
	inner = (size_t)sl + (size_t)tml + (e->reason != CRLSET_REASON_NONE ?
	    2 + 2 + sizeof(reasonoid) + 2 + 3 : 0);
	if (der_hdr(ent, sizeof(ent), &el, 0x30, inner) == -1 ||
	    der_put(ent, sizeof(ent), &el, sder, sl) == -1 ||
	    der_put(ent, sizeof(ent), &el, tm, tml) == -1)
		return NULL;
	if (e->reason != CRLSET_REASON_NONE) {
		/* Extensions ::= SEQUENCE { SEQUENCE { OID, OCTET STRING {
		 * ENUMERATED } } } */
		uint8_t	 en[3] = { 0x0a, 0x01, e->reason };

		if (der_hdr(ent, sizeof(ent), &el, 0x30,
		    2 + sizeof(reasonoid) + 2 + 3) == -1 ||
		    der_hdr(ent, sizeof(ent), &el, 0x30,
		    sizeof(reasonoid) + 2 + 3) == -1 ||
		    der_put(ent, sizeof(ent), &el, reasonoid,
		    sizeof(reasonoid)) == -1 ||
		    der_hdr(ent, sizeof(ent), &el, 0x04, 3) == -1 ||
		    der_put(ent, sizeof(ent), &el, en, 3) == -1)
			return NULL;
	}
	/* TBSCertList ::= SEQUENCE { version, alg, issuer, thisUpdate,
	 * SEQUENCE OF entry } */
	inner = sizeof(ver) + sizeof(alg) + sizeof(noname) + (size_t)tml +
	    2 + el;
	if (el >= 0x80)
		inner += el >= 0x100 ? 2 : 1;
	if (der_hdr(tbs, sizeof(tbs), &tl, 0x30, inner) == -1 ||
	    der_put(tbs, sizeof(tbs), &tl, ver, sizeof(ver)) == -1 ||
	    der_put(tbs, sizeof(tbs), &tl, alg, sizeof(alg)) == -1 ||
	    der_put(tbs, sizeof(tbs), &tl, noname, sizeof(noname)) == -1 ||
	    der_put(tbs, sizeof(tbs), &tl, tm, tml) == -1 ||
	    der_hdr(tbs, sizeof(tbs), &tl, 0x30, el) == -1 ||
	    der_put(tbs, sizeof(tbs), &tl, ent, el) == -1)
		return NULL;
	if (der_hdr(crl, sizeof(crl), &cl, 0x30, tl + sizeof(alg) +
	    sizeof(nosig)) == -1 ||
	    der_put(crl, sizeof(crl), &cl, tbs, tl) == -1 ||
	    der_put(crl, sizeof(crl), &cl, alg, sizeof(alg)) == -1 ||
	    der_put(crl, sizeof(crl), &cl, nosig, sizeof(nosig)) == -1)
		return NULL;
	q = crl;
	if ((cv_hit_crl = d2i_X509_CRL(NULL, &q, (long)cl)) == NULL ||
	    sk_X509_REVOKED_num(X509_CRL_get_REVOKED(cv_hit_crl)) != 1) {
		ERR_clear_error();
		return NULL;
	}
	return sk_X509_REVOKED_value(X509_CRL_get_REVOKED(cv_hit_crl), 0);
}

/*
 * crl_lookup: 0 not listed, 1 revoked, 2 removeFromCRL (a delta CRL
 * releasing a hold), as OpenSSL's own lookup answers.  A listing we
 * cannot express to OpenSSL is a revocation: fail closed.
 */
static int
cv_crl_lookup(X509_CRL *crl, X509_REVOKED **ret, const ASN1_INTEGER *ser,
    const X509_NAME *issuer)
{
	struct cv_crl			*c = X509_CRL_get_meth_data(crl);
	const struct crlset_entry	*e;
	const X509_NAME			*in;
	X509_REVOKED			*rev;
	ASN1_INTEGER			*one;
	uint8_t				 key[CRLSET_KEY_LEN];
	size_t				 n, i;

	if (ret != NULL)
		*ret = NULL;
	if (c == NULL || cv_set.hdr == NULL || c->index >= cv_set.hdr->ncrl ||
	    crlset_key_asn1(ser, key) == -1)
		return 0;
	if ((e = crlset_find(&cv_set, c->index, key, &n)) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		in = e[i].issuer == 0 ? X509_CRL_get_issuer(crl) :
		    cv_crl_name(c, e[i].issuer);
		if (issuer != NULL && (in == NULL ||
		    X509_NAME_cmp(issuer, in) != 0))
			continue;
		cv_hit.valid = 1;
		cv_hit.reason = e[i].reason;
		cv_hit.revoked = e[i].revoked;
		strlcpy(cv_hit.source, c->source, sizeof(cv_hit.source));
		if ((rev = cv_revoked(ser, &e[i])) == NULL) {
			/* OpenSSL reads only the reason: a serial too
			 * long for our buffers gets a stand-in. */
			if ((one = ASN1_INTEGER_new()) == NULL ||
			    ASN1_INTEGER_set(one, 1) != 1)
				fatal(NULL);
			rev = cv_revoked(one, &e[i]);
			ASN1_INTEGER_free(one);
			if (rev == NULL)
				fatalx("%s: one-entry CRL", __func__);
		}
		if (ret != NULL)
			*ret = rev;
		return e[i].reason == CRLSET_REASON_REMOVE ? 2 : 1;
	}
	return 0;
}

/* RSASSA-PSS parameters onto a verification context. */
static int
cv_pss(EVP_PKEY_CTX *pctx, const X509_ALGOR *alg)
{
	RSA_PSS_PARAMS		*pss;
	X509_ALGOR		*mgf;
	const EVP_MD		*mgfmd = EVP_sha1();
	long			 salt = 20;
	int			 ok = 0;

	if (alg->parameter == NULL ||
	    alg->parameter->type != V_ASN1_SEQUENCE)
		return -1;
	pss = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS),
	    alg->parameter);
	if (pss == NULL)
		return -1;
	if (pss->saltLength != NULL)
		salt = ASN1_INTEGER_get(pss->saltLength);
	if (pss->maskGenAlgorithm != NULL) {
		if (OBJ_obj2nid(pss->maskGenAlgorithm->algorithm) != NID_mgf1)
			goto done;
		if ((mgf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
		    pss->maskGenAlgorithm->parameter)) == NULL)
			goto done;
		mgfmd = EVP_get_digestbyobj(mgf->algorithm);
		X509_ALGOR_free(mgf);
		if (mgfmd == NULL)
			goto done;
	}
	if (salt < 0 || salt > 1024 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)salt) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgfmd) <= 0)
		goto done;
	ok = 1;
done:
	RSA_PSS_PARAMS_free(pss);
	return ok ? 0 : -1;
}

/*
 * crl_verify: the original signature over the stored digest of the
 * original tbsCertList, with the issuer key OpenSSL found for the CRL
 * on this path.  A key that verified once is remembered with the CRL.
 */
static int
cv_crl_verify(X509_CRL *crl, EVP_PKEY *pk)
{
	struct cv_crl			*c = X509_CRL_get_meth_data(crl);
	const struct crlset_crl		*rec;
	const ASN1_BIT_STRING		*sig;
	const X509_ALGOR		*alg;
	EVP_PKEY_CTX			*pctx = NULL;
	const EVP_MD			*md;
	int				 i, ok = 0, signid, mdnid, pknid;

	if (c == NULL || pk == NULL || cv_set.hdr == NULL ||
	    c->index >= cv_set.hdr->ncrl)
		return 0;
	for (i = 0; i < CV_VERIFIED_KEYS && c->verified[i] != NULL; i++)
		if (EVP_PKEY_eq(c->verified[i], pk) == 1)
			return 1;
	rec = &cv_set.crls[c->index];
	X509_CRL_get0_signature(crl, &sig, &alg);
	if (sig == NULL || alg == NULL || rec->digest_len == 0 ||
	    (md = EVP_get_digestbynid(rec->md_nid)) == NULL ||
	    (size_t)EVP_MD_get_size(md) != rec->digest_len)
		goto done;
	signid = OBJ_obj2nid(alg->algorithm);
	if ((pctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL ||
	    EVP_PKEY_verify_init(pctx) <= 0)
		goto done;
	if (signid == NID_rsassaPss) {
		if (!EVP_PKEY_is_a(pk, "RSA") && !EVP_PKEY_is_a(pk, "RSA-PSS"))
			goto done;
		if (cv_pss(pctx, alg) == -1)
			goto done;
	} else {
		/* The key must be of the signature algorithm's kind. */
		if (!OBJ_find_sigid_algs(signid, &mdnid, &pknid) ||
		    mdnid != rec->md_nid)
			goto done;
		if ((pknid == NID_rsaEncryption && !EVP_PKEY_is_a(pk, "RSA")) ||
		    (pknid == NID_X9_62_id_ecPublicKey &&
		    !EVP_PKEY_is_a(pk, "EC")) ||
		    (pknid == NID_dsa && !EVP_PKEY_is_a(pk, "DSA")))
			goto done;
		if (pknid == NID_rsaEncryption &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
			goto done;
	}
	if (EVP_PKEY_CTX_set_signature_md(pctx, md) <= 0)
		goto done;
	ok = EVP_PKEY_verify(pctx, sig->data, (size_t)sig->length,
	    rec->digest, rec->digest_len) == 1;
	if (ok) {
		for (i = 0; i < CV_VERIFIED_KEYS && c->verified[i] != NULL;
		    i++)
			;
		if (i == CV_VERIFIED_KEYS) {
			EVP_PKEY_free(c->verified[0]);
			memmove(c->verified, c->verified + 1,
			    (CV_VERIFIED_KEYS - 1) * sizeof(c->verified[0]));
			i = CV_VERIFIED_KEYS - 1;
		}
		if (EVP_PKEY_up_ref(pk) == 1)
			c->verified[i] = pk;
		else
			c->verified[i] = NULL;
	}
done:
	if (!ok)
		log_trace(TRACE_CRL, "crl %s: signature does not verify with "
		    "a %d-bit %s key (md %s, %u-byte digest)", c->source,
		    EVP_PKEY_get_bits(pk), EVP_PKEY_get0_type_name(pk),
		    OBJ_nid2sn(rec->md_nid), rec->digest_len);
	EVP_PKEY_CTX_free(pctx);
	ERR_clear_error();
	return ok;
}

void
certverify_init(void)
{
	if (cv_method != NULL)
		return;
	if ((cv_method = X509_CRL_METHOD_new(NULL, cv_crl_free,
	    cv_crl_lookup, cv_crl_verify)) == NULL)
		fatalx("X509_CRL_METHOD_new");
	cv_ctx_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL);
	cv_ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, cv_ssl_free);
	cv_sslctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    cv_sslctx_free);
	if (cv_ctx_idx < 0 || cv_ssl_idx < 0 || cv_sslctx_idx < 0)
		fatalx("%s: ex_data indexes", __func__);
}

/* ---------------------------------------------------------------- */
/* The CRLs of the current set */

static void
cv_crls_free(void)
{
	size_t	 i;

	for (i = 0; i < cv_ncrls; i++)
		X509_CRL_free(cv_crls[i]);
	free(cv_crls);
	cv_crls = NULL;
	cv_ncrls = 0;
	X509_CRL_free(cv_hit_crl);
	cv_hit_crl = NULL;
}

void
certverify_set_crls(const struct crlset *set)
{
	const struct crlset_crl	*rec;
	const uint8_t		*der, *p;
	struct cv_crl		*c;
	X509_CRL		*crl;
	size_t			 i, len;

	cv_crls_free();
	if (set == NULL || set->hdr == NULL) {
		memset(&cv_set, 0, sizeof(cv_set));
		return;
	}
	cv_set = *set;
	if ((cv_crls = calloc(set->hdr->ncrl ? set->hdr->ncrl : 1,
	    sizeof(*cv_crls))) == NULL)
		fatal(NULL);
	/* Only shells are decoded under our method: any other CRL the
	 * process might decode keeps OpenSSL's. */
	X509_CRL_set_default_method(cv_method);
	for (i = 0; i < set->hdr->ncrl; i++) {
		rec = &set->crls[i];
		if ((der = crlset_shell(set, i, &len)) == NULL) {
			log_warnx("crl %s: no shell in the revocation set",
			    rec->source);
			continue;
		}
		p = der;
		if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL ||
		    p != der + len) {
			log_warnx("crl %s: its shell does not decode",
			    rec->source);
			X509_CRL_free(crl);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL)
			fatal(NULL);
		c->index = i;
		c->stale = rec->stale;
		c->indirect = (rec->flags & CRLSET_CRL_INDIRECT) != 0;
		strlcpy(c->source, rec->source, sizeof(c->source));
		X509_CRL_set_meth_data(crl, c);
		cv_crls[cv_ncrls++] = crl;
	}
	X509_CRL_set_default_method(NULL);
	ERR_clear_error();
}

/*
 * lookup_crls: the CRLs that may cover a certificate issued by nm --
 * those nm issued (names compared canonically, RFC 5280 7.1) and every
 * indirect CRL.  OpenSSL then scores them (scope, reasons, key
 * identifiers, deltas) and picks.
 */
static STACK_OF(X509_CRL) *
cv_lookup_crls(const X509_STORE_CTX *ctx, const X509_NAME *nm)
{
	STACK_OF(X509_CRL)	*sk = NULL;
	struct cv_crl		*c;
	size_t			 i;

	for (i = 0; i < cv_ncrls; i++) {
		c = X509_CRL_get_meth_data(cv_crls[i]);
		if (!c->indirect &&
		    X509_NAME_cmp(X509_CRL_get_issuer(cv_crls[i]), nm) != 0)
			continue;
		if (sk == NULL && (sk = sk_X509_CRL_new_null()) == NULL)
			fatal(NULL);
		if (!X509_CRL_up_ref(cv_crls[i]) ||
		    !sk_X509_CRL_push(sk, cv_crls[i]))
			fatalx("%s: out of memory", __func__);
	}
	return sk;
}

/* ---------------------------------------------------------------- */
/* Refusals */

static int
cv_is_revocation(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_REVOKED:
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
		return 1;
	}
	return 0;
}

/* Refused after the handshake (554 on SMTP), not in it. */
static int
cv_is_after(int err)
{
	return cv_is_revocation(err) ||
	    err == X509_V_ERR_NO_EXPLICIT_POLICY ||
	    err == X509_V_ERR_INVALID_POLICY_EXTENSION;
}

/* Refusals by reason, for the counters and the logs' cert-error. */
static const struct {
	int		 error;
	enum stat_id	 stat;
	const char	*code;
} cv_reasons[] = {
	{ X509_V_ERR_CERT_HAS_EXPIRED, STAT_CERT_REF_EXPIRED, "expired" },
	{ X509_V_ERR_CERT_NOT_YET_VALID, STAT_CERT_REF_NOTYET,
	    "not-yet-valid" },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, STAT_CERT_REF_UNKNOWN,
	    "unknown-issuer" },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, STAT_CERT_REF_UNKNOWN,
	    "unknown-issuer" },
	{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, STAT_CERT_REF_UNKNOWN,
	    "unknown-issuer" },
	{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, STAT_CERT_REF_UNKNOWN,
	    "unknown-issuer" },
	{ X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, STAT_CERT_REF_UNKNOWN,
	    "unknown-issuer" },
	{ X509_V_ERR_CERT_UNTRUSTED, STAT_CERT_REF_UNKNOWN, "unknown-issuer" },
	{ X509_V_ERR_CERT_REJECTED, STAT_CERT_REF_UNKNOWN, "unknown-issuer" },
	{ X509_V_ERR_CERT_SIGNATURE_FAILURE, STAT_CERT_REF_SIGNATURE,
	    "bad-signature" },
	{ X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE, STAT_CERT_REF_SIGNATURE,
	    "bad-signature" },
	{ X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY,
	    STAT_CERT_REF_SIGNATURE, "bad-signature" },
	{ X509_V_ERR_CERT_REVOKED, STAT_CERT_REF_REVOKED, "revoked" },
	{ X509_V_ERR_UNABLE_TO_GET_CRL, STAT_CERT_REF_NOCRL, "no-crl" },
	{ X509_V_ERR_CRL_HAS_EXPIRED, STAT_CERT_REF_CRLSTALE, "crl-expired" },
	{ X509_V_ERR_NO_EXPLICIT_POLICY, STAT_CERT_REF_POLICY, "policy" },
	{ X509_V_ERR_INVALID_POLICY_EXTENSION, STAT_CERT_REF_POLICY,
	    "policy" },
	{ X509_V_ERR_EE_KEY_TOO_SMALL, STAT_CERT_REF_WEAK, "weak-key" },
	{ X509_V_ERR_CA_KEY_TOO_SMALL, STAT_CERT_REF_WEAK, "weak-key" },
	{ X509_V_ERR_CA_MD_TOO_WEAK, STAT_CERT_REF_WEAK, "weak-key" },
	{ X509_V_ERR_INVALID_CA, STAT_CERT_REF_CONSTRAINTS, "constraints" },
	{ X509_V_ERR_PATH_LENGTH_EXCEEDED, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_INVALID_PURPOSE, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_KEYUSAGE_NO_CERTSIGN, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_CERT_CHAIN_TOO_LONG, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_PERMITTED_VIOLATION, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_EXCLUDED_VIOLATION, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_SUBTREE_MINMAX, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_UNSUPPORTED_NAME_SYNTAX, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_INVALID_EXTENSION, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_INVALID_NON_CA, STAT_CERT_REF_CONSTRAINTS,
	    "constraints" },
	{ X509_V_ERR_PATH_LOOP, STAT_CERT_REF_CONSTRAINTS, "constraints" },
};

static void
cv_classify(struct certverify_refusal *r)
{
	size_t	 i;

	for (i = 0; i < sizeof(cv_reasons) / sizeof(cv_reasons[0]); i++)
		if (cv_reasons[i].error == r->error) {
			r->stat = cv_reasons[i].stat;
			r->code = cv_reasons[i].code;
			return;
		}
	if (cv_is_revocation(r->error)) {
		r->stat = STAT_CERT_REF_CRLBAD;
		r->code = "crl-unusable";
	} else {
		r->stat = STAT_CERT_REF_OTHER;
		r->code = "other";
	}
}

/* The reason in plain words. */
static void
cv_reason(struct cv_state *st, struct certverify_refusal *r,
    X509_STORE_CTX *ctx, X509 *x)
{
	const char	*what = r->depth == 0 ? "certificate" :
			    "intermediate CA certificate";
	X509_CRL	*crl = X509_STORE_CTX_get0_current_crl(ctx);
	struct cv_crl	*c = crl != NULL ? X509_CRL_get_meth_data(crl) : NULL;
	char		 d[64], src[CRLSET_SOURCE_MAX + 8];

	src[0] = '\0';
	if (c != NULL)
		snprintf(src, sizeof(src), " (crl %s)", c->source);
	switch (r->error) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		cv_asn1_time(X509_get0_notAfter(x), d, sizeof(d));
		snprintf(r->reason, sizeof(r->reason), "%s expired on %s",
		    what, d);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		cv_asn1_time(X509_get0_notBefore(x), d, sizeof(d));
		snprintf(r->reason, sizeof(r->reason), "%s not valid before "
		    "%s", what, d);
		break;
	case X509_V_ERR_CERT_REVOKED:
		if (cv_hit.valid) {
			cv_time((time_t)cv_hit.revoked, d, sizeof(d));
			snprintf(r->reason, sizeof(r->reason), "%s revoked: "
			    "serial %s issuer %s reason %s (crl %s) on %s",
			    what, r->serial, r->issuer,
			    crlset_reason_name(cv_hit.reason), cv_hit.source,
			    d);
		} else
			snprintf(r->reason, sizeof(r->reason), "%s revoked: "
			    "serial %s issuer %s%s", what, r->serial,
			    r->issuer, src);
		break;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		snprintf(r->reason, sizeof(r->reason), "%s serial %s issuer "
		    "%s: no CRL for its issuer%s", what, r->serial, r->issuer,
		    st->opts->stale == STALE_FAIL_OPEN ? "" :
		    "; refused (fail-closed)");
		break;
	case X509_V_ERR_CRL_HAS_EXPIRED:
		cv_asn1_time(crl != NULL ? X509_CRL_get0_nextUpdate(crl) :
		    NULL, d, sizeof(d));
		snprintf(r->reason, sizeof(r->reason), "%s serial %s issuer "
		    "%s: the issuer's CRL is past its nextUpdate of %s%s%s",
		    what, r->serial, r->issuer, d, src,
		    c != NULL && c->stale == STALE_FAIL_OPEN ? "" :
		    "; refused (fail-closed)");
		break;
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
		snprintf(r->reason, sizeof(r->reason), "%s serial %s: the "
		    "issuer of its CRL is not valid%s%s%s", what, r->serial,
		    src, st->sub[0] ? ": " : "", st->sub);
		break;
	default:
		if (r->stat == STAT_CERT_REF_UNKNOWN)
			snprintf(r->reason, sizeof(r->reason), "%s issued by "
			    "an unknown CA (%s)", what, r->issuer);
		else if (r->stat == STAT_CERT_REF_POLICY)
			snprintf(r->reason, sizeof(r->reason), "certificate "
			    "policy not acceptable: %s",
			    X509_verify_cert_error_string(r->error));
		else if (cv_is_revocation(r->error))
			snprintf(r->reason, sizeof(r->reason), "%s serial %s "
			    "issuer %s: its CRL cannot be used: %s%s", what,
			    r->serial, r->issuer,
			    X509_verify_cert_error_string(r->error), src);
		else
			snprintf(r->reason, sizeof(r->reason), "%s serial %s "
			    "issuer %s: %s", what, r->serial, r->issuer,
			    X509_verify_cert_error_string(r->error));
		break;
	}
}

static void
cv_record(struct cv_state *st, struct certverify_refusal *r, int err,
    X509_STORE_CTX *ctx)
{
	X509		*x = X509_STORE_CTX_get_current_cert(ctx);
	STACK_OF(X509)	*chain;

	memset(r, 0, sizeof(*r));
	r->error = err;
	r->depth = X509_STORE_CTX_get_error_depth(ctx);
	/* Policy errors concern the whole path: name its leaf. */
	if (x == NULL && (chain = X509_STORE_CTX_get0_chain(ctx)) != NULL &&
	    sk_X509_num(chain) > 0) {
		x = sk_X509_value(chain, 0);
		r->depth = 0;
	}
	if (r->depth < 0)
		r->depth = 0;
	r->after = cv_is_after(err);
	if (x != NULL) {
		cv_name(X509_get_subject_name(x), r->subject,
		    sizeof(r->subject));
		cv_name(X509_get_issuer_name(x), r->issuer,
		    sizeof(r->issuer));
		cv_serial(x, r->serial, sizeof(r->serial));
	}
	cv_classify(r);
	cv_reason(st, r, ctx, x);
}

/* The last certificate of a built chain: the trust anchor, which RFC
 * 5280 does not check for revocation. */
static int
cv_at_anchor(X509_STORE_CTX *ctx)
{
	STACK_OF(X509)	*chain = X509_STORE_CTX_get0_chain(ctx);
	int		 n = chain != NULL ? sk_X509_num(chain) : 0;

	return n > 0 && X509_STORE_CTX_get_error_depth(ctx) == n - 1 &&
	    X509_check_issued(sk_X509_value(chain, n - 1),
	    sk_X509_value(chain, n - 1)) == X509_V_OK;
}

/*
 * In the validation of a CRL issuer's own path (a child context), the
 * issuer's certificate is covered by the very CRL it signs (an indirect
 * CRL listing its own signer, PKITS 4.14.30).  OpenSSL refuses to
 * validate that CRL's issuer again -- the path being validated right
 * now -- and reports X509_V_ERR_CRL_PATH_VALIDATION_ERROR.  The CRL's
 * signature is still checked with that issuer's key, and its path is
 * the one this context validates, so the loop is no reason to refuse.
 */
static int
cv_self_covered(X509_STORE_CTX *ctx)
{
	X509	*target = X509_STORE_CTX_get0_cert(ctx);
	X509	*cur = X509_STORE_CTX_get_current_cert(ctx);
	X509	*iss = X509_STORE_CTX_get0_current_issuer(ctx);

	return target != NULL && cur != NULL && iss != NULL &&
	    X509_cmp(target, cur) == 0 && X509_cmp(target, iss) == 0;
}

static int
cv_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	X509_STORE_CTX		*top = ctx, *p;
	struct cv_state		*st;
	X509_CRL		*crl;
	struct cv_crl		*c;
	struct certverify_refusal r;
	int			 err, fail_open = 0;

	if (ok)
		return 1;
	while ((p = X509_STORE_CTX_get0_parent_ctx(top)) != NULL)
		top = p;
	if ((st = X509_STORE_CTX_get_ex_data(top, cv_ctx_idx)) == NULL)
		return 0;	/* not ours: fail closed */
	err = X509_STORE_CTX_get_error(ctx);
	if (cv_is_revocation(err) && cv_at_anchor(ctx))
		return 1;
	if (err == X509_V_ERR_UNABLE_TO_GET_CRL)
		fail_open = st->opts->stale == STALE_FAIL_OPEN;
	else if (err == X509_V_ERR_CRL_HAS_EXPIRED &&
	    (crl = X509_STORE_CTX_get0_current_crl(ctx)) != NULL &&
	    (c = X509_CRL_get_meth_data(crl)) != NULL)
		fail_open = c->stale == STALE_FAIL_OPEN;
	if (fail_open) {
		if (st->warn[0] == '\0') {
			cv_record(st, &r, err, ctx);
			strlcpy(st->warn, r.reason, sizeof(st->warn));
		}
		return 1;
	}
	if (top != ctx && err == X509_V_ERR_CRL_PATH_VALIDATION_ERROR &&
	    cv_self_covered(ctx))
		return 1;
	if (top != ctx) {
		/* A CRL issuer's own path: the top context will see
		 * X509_V_ERR_CRL_PATH_VALIDATION_ERROR; say why there. */
		if (st->sub[0] == '\0') {
			cv_record(st, &r, err, ctx);
			strlcpy(st->sub, r.reason, sizeof(st->sub));
		}
		return 0;
	}
	if (cv_is_after(err)) {
		if (!st->has_after) {
			cv_record(st, &st->after, err, ctx);
			st->has_after = 1;
		}
		return 1;
	}
	if (!st->has_hs) {
		cv_record(st, &st->hs, err, ctx);
		st->has_hs = 1;
	}
	return 0;
}

/* The valid policies of an accepted path, if policies were asked for
 * or present. */
static char *
cv_policies(X509_STORE_CTX *ctx)
{
	X509_POLICY_TREE		*tree;
	STACK_OF(X509_POLICY_NODE)	*nodes;
	char				 buf[CV_POLICIES_MAX], oid[128];
	int				 i;

	if ((tree = X509_STORE_CTX_get0_policy_tree(ctx)) == NULL ||
	    (nodes = X509_policy_tree_get0_user_policies(tree)) == NULL ||
	    sk_X509_POLICY_NODE_num(nodes) == 0)
		return NULL;
	buf[0] = '\0';
	for (i = 0; i < sk_X509_POLICY_NODE_num(nodes); i++) {
		if (OBJ_obj2txt(oid, sizeof(oid), X509_policy_node_get0_policy(
		    sk_X509_POLICY_NODE_value(nodes, i)), 1) <= 0)
			continue;
		if (buf[0] != '\0')
			strlcat(buf, " ", sizeof(buf));
		strlcat(buf, oid, sizeof(buf));
	}
	return buf[0] != '\0' ? strdup(buf) : NULL;
}

/* Run the verification with our callback and state. */
static int
cv_run(X509_STORE_CTX *ctx, struct cv_state *st, STACK_OF(X509) *extra)
{
	STACK_OF(X509)	*orig, *un = NULL;
	int		 i, ret;

	orig = X509_STORE_CTX_get0_untrusted(ctx);
	/*
	 * OpenSSL looks for a CRL issuer off the path among the untrusted
	 * certificates by name and X509_check_akid(), which reads a key
	 * identifier only once the certificate's extensions were decoded:
	 * an undecoded one of the same name (a CA and its separate CRL
	 * signer) would match any key and be picked.  Decode them all.
	 */
	for (i = 0; orig != NULL && i < sk_X509_num(orig); i++)
		(void)X509_get_extension_flags(sk_X509_value(orig, i));
	if (extra != NULL && sk_X509_num(extra) > 0) {
		if ((un = orig != NULL ? sk_X509_dup(orig) :
		    sk_X509_new_null()) == NULL)
			fatal(NULL);
		for (i = 0; i < sk_X509_num(extra); i++)
			if (!sk_X509_push(un, sk_X509_value(extra, i)))
				fatal(NULL);
		X509_STORE_CTX_set0_untrusted(ctx, un);
	}
	X509_STORE_CTX_set_ex_data(ctx, cv_ctx_idx, st);
	X509_STORE_CTX_set_verify_cb(ctx, cv_verify_cb);
	cv_hit.valid = 0;
	ret = X509_verify_cert(ctx);
	X509_STORE_CTX_set_ex_data(ctx, cv_ctx_idx, NULL);
	if (un != NULL) {
		X509_STORE_CTX_set0_untrusted(ctx, orig);
		sk_X509_free(un);
	}
	X509_CRL_free(cv_hit_crl);
	cv_hit_crl = NULL;
	/* Belt and braces: an error we neither recorded nor let through
	 * on purpose must still refuse. */
	if (ret > 0 && !st->has_after && st->warn[0] == '\0' &&
	    X509_STORE_CTX_get_error(ctx) != X509_V_OK &&
	    !cv_is_revocation(X509_STORE_CTX_get_error(ctx))) {
		cv_record(st, &st->after, X509_STORE_CTX_get_error(ctx), ctx);
		st->has_after = 1;
	}
	ERR_clear_error();
	return ret;
}

static void
cv_result_free(struct cv_result *res)
{
	if (res == NULL)
		return;
	free(res->policies);
	free(res);
}

static void
cv_ssl_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	cv_result_free(ptr);
}

static void
cv_sslctx_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct cv_ctxopts	*o = ptr;

	if (o == NULL)
		return;
	sk_X509_pop_free(o->extra, X509_free);
	free(o);
}

/*
 * The handshake's verification (SSL_CTX_set_cert_verify_callback()), also
 * run by a resumption and by `smtpcertctl test certificate'; warn, if
 * not NULL, gets a fail-open warning (which is logged either way).
 */
static int
cv_ssl_verify_warn(X509_STORE_CTX *ctx, struct cv_ctxopts *o, char *warn,
    size_t warnlen)
{
	struct cv_state		 st;
	struct cv_result	*res;
	SSL			*ssl;
	char			*pol = NULL;
	int			 ret;

	memset(&st, 0, sizeof(st));
	st.opts = &o->opts;
	ret = cv_run(ctx, &st, o->extra);
	ssl = X509_STORE_CTX_get_ex_data(ctx,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (ret > 0 && !st.has_after)
		pol = cv_policies(ctx);
	if (st.warn[0] != '\0')
		log_warnx("client certificate: WARNING: %s; ACCEPTED "
		    "UNCHECKED (fail-open)", st.warn);
	if (warn != NULL)
		strlcpy(warn, st.warn, warnlen);
	if (ssl == NULL || (!st.has_hs && !st.has_after && pol == NULL)) {
		/* Nothing to say: nor does a resumption check before it
		 * (certverify_resume()) whose session was not taken. */
		if (ssl != NULL && SSL_get_ex_data(ssl, cv_ssl_idx) != NULL) {
			cv_result_free(SSL_get_ex_data(ssl, cv_ssl_idx));
			SSL_set_ex_data(ssl, cv_ssl_idx, NULL);
		}
		free(pol);
		return ret;
	}
	if ((res = calloc(1, sizeof(*res))) == NULL)
		fatal(NULL);
	res->hs = st.hs;
	res->has_hs = st.has_hs;
	res->after = st.after;
	res->has_after = st.has_after;
	res->policies = pol;
	cv_result_free(SSL_get_ex_data(ssl, cv_ssl_idx));
	SSL_set_ex_data(ssl, cv_ssl_idx, res);
	return ret;
}

static int
cv_ssl_verify(X509_STORE_CTX *ctx, void *arg)
{
	return cv_ssl_verify_warn(ctx, arg, NULL, 0);
}

/*
 * A store context for a client chain on ssl's listener, set up as
 * libssl sets up a client certificate's verification
 * (ssl_verify_cert_chain()): the context's store, the SSL's parameters,
 * the listener's security level judging the client's keys.
 */
static X509_STORE_CTX *
cv_ssl_xctx(SSL *ssl, X509 *leaf, STACK_OF(X509) *untrusted)
{
	SSL_CTX		*sctx = SSL_get_SSL_CTX(ssl);
	X509_STORE_CTX	*xctx;

	if ((xctx = X509_STORE_CTX_new()) == NULL)
		fatal(NULL);
	if (X509_STORE_CTX_init(xctx, SSL_CTX_get_cert_store(sctx), leaf,
	    untrusted) != 1 ||
	    X509_STORE_CTX_set_ex_data(xctx,
	    SSL_get_ex_data_X509_STORE_CTX_idx(), ssl) != 1 ||
	    X509_STORE_CTX_set_default(xctx, "ssl_client") != 1 ||
	    X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xctx),
	    SSL_get0_param(ssl)) != 1) {
		X509_STORE_CTX_free(xctx);
		ERR_clear_error();
		return NULL;
	}
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(xctx),
	    SSL_get_security_level(ssl));
	return xctx;
}

int
certverify_resume(SSL *ssl, SSL_SESSION *sess)
{
	SSL_CTX			*sctx = SSL_get_SSL_CTX(ssl);
	struct cv_ctxopts	*o;
	struct cv_result	*res;
	X509_STORE_CTX		*xctx;
	X509			*leaf;
	char			 subject[256];
	int			 ok;

	if ((leaf = SSL_SESSION_get0_peer(sess)) == NULL)
		return 1;	/* no client certificate to check again */
	if ((o = SSL_CTX_get_ex_data(sctx, cv_sslctx_idx)) == NULL)
		return 0;	/* a certificate where none is verified */
	if ((xctx = cv_ssl_xctx(ssl, leaf, NULL)) == NULL)
		return 0;
	ok = cv_ssl_verify(xctx, o) > 0;
	res = SSL_get_ex_data(ssl, cv_ssl_idx);
	if (ok && (res == NULL || !res->has_after)) {
		tlsserver_set_resumed_chain(ssl, X509_STORE_CTX_get1_chain(xctx));
	} else {
		cv_name(X509_get_subject_name(leaf), subject, sizeof(subject));
		log_info("TLS resumption declined for %s: %s", subject,
		    res != NULL && res->has_after ? res->after.reason :
		    res != NULL && res->has_hs ? res->hs.reason :
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(xctx)));
		/* The full handshake that follows says its own. */
		cv_result_free(res);
		SSL_set_ex_data(ssl, cv_ssl_idx, NULL);
		ok = 0;
	}
	X509_STORE_CTX_free(xctx);
	ERR_clear_error();
	return ok;
}

int
certverify_test(SSL *ssl, STACK_OF(X509) *chain,
    struct certverify_refusal *r, char *warn, size_t warnlen)
{
	struct cv_ctxopts		*o;
	const struct certverify_refusal	*why;
	struct cv_result		*res;
	X509_STORE_CTX			*xctx;
	int				 ret;

	memset(r, 0, sizeof(*r));
	warn[0] = '\0';
	if ((o = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
	    cv_sslctx_idx)) == NULL)
		return -1;
	/* The whole chain as untrusted, leaf included, as libssl has it. */
	if ((xctx = cv_ssl_xctx(ssl, sk_X509_value(chain, 0), chain)) == NULL)
		ret = 0;
	else {
		ret = cv_ssl_verify_warn(xctx, o, warn, warnlen);
		X509_STORE_CTX_free(xctx);
	}
	ERR_clear_error();
	res = SSL_get_ex_data(ssl, cv_ssl_idx);
	if (res != NULL && (res->has_after || res->has_hs)) {
		why = res->has_hs ? &res->hs : &res->after;
		*r = *why;
		return 0;
	}
	if (ret <= 0) {
		/* Refused without a recorded reason: still refused. */
		r->error = X509_V_ERR_UNSPECIFIED;
		cv_classify(r);
		snprintf(r->reason, sizeof(r->reason), "certificate "
		    "verification failed");
		return 0;
	}
	return 1;
}

const struct certverify_refusal *
certverify_refused(SSL *ssl)
{
	static struct certverify_refusal	 generic;
	struct cv_result			*res;
	long					 vr;

	res = ssl != NULL ? SSL_get_ex_data(ssl, cv_ssl_idx) : NULL;
	if (res != NULL && res->has_after)
		return &res->after;
	if (res != NULL && res->has_hs)
		return &res->hs;
	/* A result the verifier left that nobody explained: refuse. */
	if (ssl != NULL && SSL_get0_peer_certificate(ssl) != NULL &&
	    (vr = SSL_get_verify_result(ssl)) != X509_V_OK &&
	    !cv_is_revocation((int)vr)) {
		memset(&generic, 0, sizeof(generic));
		generic.error = (int)vr;
		generic.after = 1;
		cv_classify(&generic);
		snprintf(generic.reason, sizeof(generic.reason), "certificate "
		    "verification failed: %s",
		    X509_verify_cert_error_string(vr));
		return &generic;
	}
	return NULL;
}

const struct certverify_refusal *
certverify_handshake_failure(SSL *ssl)
{
	struct cv_result	*res;

	res = ssl != NULL ? SSL_get_ex_data(ssl, cv_ssl_idx) : NULL;
	return res != NULL && res->has_hs ? &res->hs : NULL;
}

const char *
certverify_policies(SSL *ssl)
{
	struct cv_result	*res;

	res = ssl != NULL ? SSL_get_ex_data(ssl, cv_ssl_idx) : NULL;
	return res != NULL ? res->policies : NULL;
}

/* ---------------------------------------------------------------- */
/* Contexts and stores */

static unsigned long
cv_flags(const struct certverify_opts *o)
{
	unsigned long	 f = X509_V_FLAG_POLICY_CHECK;

	if (o->crl_check)
		f |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
		    X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS;
	if (o->ca != NULL) {
		/* Listing acceptable policies means a certificate must
		 * assert one: RFC 5280's user-initial-policy-set alone
		 * would let a path without policies through. */
		if (o->ca->require_explicit_policy || o->ca->npolicies > 0)
			f |= X509_V_FLAG_EXPLICIT_POLICY;
		if (o->ca->inhibit_policy_mapping)
			f |= X509_V_FLAG_INHIBIT_MAP;
		if (o->ca->inhibit_any_policy)
			f |= X509_V_FLAG_INHIBIT_ANY;
	}
	return f;
}

static int
cv_param(X509_VERIFY_PARAM *param, const struct certverify_opts *o,
    char *err, size_t errlen)
{
	ASN1_OBJECT	*obj;
	int		 i;

	if (X509_VERIFY_PARAM_set_flags(param, cv_flags(o)) != 1)
		goto fail;
	/* RFC 5280's default user-initial-policy-set is anyPolicy; OpenSSL
	 * needs it said, or an explicit policy (ours, or one a CA
	 * certificate requires) never finds a user policy to match. */
	if (o->ca == NULL || o->ca->npolicies == 0) {
		if ((obj = OBJ_nid2obj(NID_any_policy)) == NULL ||
		    (obj = OBJ_dup(obj)) == NULL)
			goto fail;
		if (X509_VERIFY_PARAM_add0_policy(param, obj) != 1) {
			ASN1_OBJECT_free(obj);
			goto fail;
		}
	}
	for (i = 0; o->ca != NULL && i < o->ca->npolicies; i++) {
		if ((obj = OBJ_txt2obj(o->ca->policies[i], 1)) == NULL) {
			snprintf(err, errlen, "invalid certificate policy %s",
			    o->ca->policies[i]);
			return -1;
		}
		if (X509_VERIFY_PARAM_add0_policy(param, obj) != 1) {
			ASN1_OBJECT_free(obj);
			goto fail;
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "certificate verification setup failure");
	ERR_clear_error();
	return -1;
}

/* The bundle's CA certificates that are not self-signed. */
static STACK_OF(X509) *
cv_intermediates(const unsigned char *pem, size_t len)
{
	STACK_OF(X509)	*sk;
	BIO		*bio;
	X509		*x;

	if ((sk = sk_X509_new_null()) == NULL)
		fatal(NULL);
	if (pem == NULL || len == 0 || len > INT32_MAX ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return sk;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		/* Extensions decoded now: see cv_run(). */
		(void)X509_get_extension_flags(x);
		if (X509_check_issued(x, x) == X509_V_OK ||
		    !sk_X509_push(sk, x))
			X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();
	return sk;
}

int
certverify_server_ctx(SSL_CTX *sctx, const struct certverify_opts *opts,
    const unsigned char *ca_pem, size_t ca_len, char *err, size_t errlen)
{
	struct cv_ctxopts	*o;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		fatal(NULL);
	o->opts = *opts;
	o->extra = cv_intermediates(ca_pem, ca_len);
	if (SSL_CTX_set_ex_data(sctx, cv_sslctx_idx, o) != 1)
		fatalx("%s: SSL_CTX_set_ex_data", __func__);
	if (cv_param(SSL_CTX_get0_param(sctx), opts, err, errlen) == -1)
		return -1;
	if (opts->security_level >= 0)
		SSL_CTX_set_security_level(sctx, opts->security_level);
	X509_STORE_set_lookup_crls(SSL_CTX_get_cert_store(sctx),
	    cv_lookup_crls);
	SSL_CTX_set_cert_verify_callback(sctx, cv_ssl_verify, o);
	return 0;
}

X509_STORE *
certverify_store(STACK_OF(X509) *cas)
{
	X509_STORE	*store;
	int		 i;

	if ((store = X509_STORE_new()) == NULL)
		fatal(NULL);
	for (i = 0; cas != NULL && i < sk_X509_num(cas); i++)
		X509_STORE_add_cert(store, sk_X509_value(cas, i));
	X509_STORE_set_lookup_crls(store, cv_lookup_crls);
	ERR_clear_error();
	return store;
}

int
certverify_chain(STACK_OF(X509) *chain, X509_STORE *store,
    const struct certverify_opts *opts, struct certverify_refusal *r)
{
	X509_STORE_CTX		*ctx;
	struct cv_state		 st;
	char			 err[128];
	int			 ret;

	memset(r, 0, sizeof(*r));
	if (chain == NULL || sk_X509_num(chain) == 0) {
		r->error = X509_V_ERR_UNSPECIFIED;
		cv_classify(r);
		snprintf(r->reason, sizeof(r->reason), "unreadable "
		    "certificate chain");
		return -1;
	}
	memset(&st, 0, sizeof(st));
	st.opts = opts;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0),
	    chain) != 1)
		fatalx("%s: X509_STORE_CTX", __func__);
	if (cv_param(X509_STORE_CTX_get0_param(ctx), opts, err,
	    sizeof(err)) == -1) {
		X509_STORE_CTX_free(ctx);
		snprintf(r->reason, sizeof(r->reason), "%s", err);
		r->error = X509_V_ERR_UNSPECIFIED;
		cv_classify(r);
		return -1;
	}
	ret = cv_run(ctx, &st, NULL);
	X509_STORE_CTX_free(ctx);
	if (st.warn[0] != '\0')
		log_warnx("peer certificate: WARNING: %s; ACCEPTED "
		    "UNCHECKED (fail-open)", st.warn);
	if (st.has_hs) {
		*r = st.hs;
		return -1;
	}
	if (st.has_after) {
		*r = st.after;
		return -1;
	}
	if (ret <= 0) {
		r->error = X509_V_ERR_UNSPECIFIED;
		cv_classify(r);
		snprintf(r->reason, sizeof(r->reason), "certificate "
		    "verification failed");
		return -1;
	}
	return 0;
}

void
certverify_kv(struct kvlog *kv, const struct certverify_refusal *r)
{
	kvlog_str(kv, "cert-error", r->code);
	kvlog_u64(kv, "cert-depth", (uint64_t)r->depth);
	kvlog_str(kv, "cert-subject", r->subject[0] ? r->subject : NULL);
	kvlog_str(kv, "cert-serial", r->serial[0] ? r->serial : NULL);
	kvlog_str(kv, "cert-issuer", r->issuer[0] ? r->issuer : NULL);
}

const struct certverify_refusal *
certverify_logged(SSL *ssl, const char *event)
{
	const struct certverify_refusal	*r;

	if (ssl == NULL)
		return NULL;
	if (strcmp(event, "cert-refused") == 0)
		return certverify_refused(ssl);
	if (strcmp(event, "tls-failed") == 0 &&
	    (r = certverify_handshake_failure(ssl)) != NULL) {
		stats_inc(r->stat);
		return r;
	}
	return NULL;
}

void
certverify_reason(struct kvlog *kv, const struct certverify_refusal *r,
    const char *event, const char *why)
{
	if (r != NULL && strcmp(event, "tls-failed") == 0)
		kvlog_fmt(kv, "reason", "%s: %s", why != NULL ? why : "",
		    r->reason);
	else
		kvlog_str(kv, "reason", why);
}
