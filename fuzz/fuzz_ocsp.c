/*
 * OCSP responses as crld checks them (crld/ocsp.c check_response(),
 * through ocsp_check_body()).  Two kinds of input, by the first byte:
 *
 *   even: the rest is a response's DER as a responder (or anyone on the
 *	path of a plain-http responder) sends it;
 *   odd:  the rest describes a response that the target builds and signs
 *	with the issuer's key (or a stranger's): status, reason, dates,
 *	nonce echoed / missing / wrong, CertID ours or another serial,
 *	a revocation time.  Without a valid signature nothing after the
 *	signature check would ever run.
 *
 * Checked: a response not signed by the issuer is never GOOD or
 * REVOKED; one for another certificate, or with a wrong nonce, neither.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crld.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static EVP_PKEY	*cakey, *otherkey;
static X509	*ca, *leaf, *stranger;

static X509 *
mkcert(const char *cn, EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer,
    long serial)
{
	X509		*x;
	X509_NAME	*n;

	if ((x = X509_new()) == NULL)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_set_pubkey(x, key);
	if (X509_sign(x, signer, EVP_sha256()) == 0)
		abort();
	return x;
}

static void
init(void)
{
	if (ca != NULL)
		return;
	if ((cakey = EVP_EC_gen("P-256")) == NULL ||
	    (otherkey = EVP_EC_gen("P-256")) == NULL)
		abort();
	ca = mkcert("Fuzz CA", cakey, cakey, NULL, 1);
	leaf = mkcert("alice", otherkey, cakey, ca, 0x1234);
	/* The issuer's name with another key: a forged responder. */
	stranger = mkcert("Fuzz CA", otherkey, otherkey, NULL, 2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	OCSP_REQUEST	*req;
	OCSP_CERTID	*id, *rid = NULL;
	OCSP_BASICRESP	*bs = NULL;
	OCSP_RESPONSE	*resp = NULL;
	ASN1_TIME	*thisupd = NULL, *nextupd = NULL, *revt = NULL;
	unsigned char	*der = NULL;
	const uint8_t	*p;
	char		 detail[1024];
	int64_t		 tu, nu;
	int		 derlen, foreign = 0, othercert = 0, wrongnonce = 0;
	uint32_t	 st;
	time_t		 now = time(NULL);

	if (size < 1)
		return 0;
	init();
	if ((req = OCSP_REQUEST_new()) == NULL ||
	    (id = OCSP_cert_to_id(NULL, leaf, ca)) == NULL)
		abort();
	if (OCSP_request_add0_id(req, OCSP_CERTID_dup(id)) == NULL ||
	    !OCSP_request_add1_nonce(req, NULL, -1))
		abort();
	if ((data[0] & 1) == 0) {
		p = data + 1;
		st = ocsp_check_body(ca, req, id, p, size - 1, &tu, &nu,
		    detail, sizeof(detail));
		goto out;
	}
	if (size < 9)
		goto done;
	/* [1] flags [2] status [3] reason [4..5] thisUpdate offset (minutes,
	 * signed) [6..7] nextUpdate offset [8] revocation time offset */
	foreign = data[1] & 1;
	othercert = data[1] & 2;
	if ((bs = OCSP_BASICRESP_new()) == NULL)
		abort();
	if (othercert) {
		X509	*x = mkcert("mallory", otherkey, cakey, ca, 0x4321);

		rid = OCSP_cert_to_id(NULL, x, ca);
		X509_free(x);
	} else
		rid = OCSP_CERTID_dup(id);
	thisupd = X509_gmtime_adj(NULL,
	    (long)(int16_t)(data[4] << 8 | data[5]) * 60);
	if (!(data[1] & 4))
		nextupd = X509_gmtime_adj(NULL,
		    (long)(int16_t)(data[6] << 8 | data[7]) * 60);
	revt = X509_gmtime_adj(NULL, -(long)data[8] * 3600);
	if (OCSP_basic_add1_status(bs, rid, data[2] % 3, data[3] % 12 - 1,
	    revt, thisupd, nextupd) == NULL)
		goto done;
	switch ((data[1] >> 3) & 3) {
	case 0:
		OCSP_copy_nonce(bs, req);
		break;
	case 1:
		wrongnonce = 1;
		OCSP_basic_add1_nonce(bs, (unsigned char *)"wrongwrongwrong!",
		    16);
		break;
	default:
		break;		/* none: dates must vouch */
	}
	if (!OCSP_basic_sign(bs, foreign ? stranger : ca,
	    foreign ? otherkey : cakey, EVP_sha256(),
	    NULL, (data[1] & 0x20) ? OCSP_NOCERTS : 0))
		abort();
	if ((resp = OCSP_response_create((data[1] & 0x40) ?
	    OCSP_RESPONSE_STATUS_TRYLATER : OCSP_RESPONSE_STATUS_SUCCESSFUL,
	    bs)) == NULL)
		abort();
	if ((derlen = i2d_OCSP_RESPONSE(resp, &der)) <= 0)
		abort();
	st = ocsp_check_body(ca, req, id, der, (size_t)derlen, &tu, &nu,
	    detail, sizeof(detail));
	if ((foreign || othercert || wrongnonce) &&
	    (st == OCSP_ST_GOOD || st == OCSP_ST_REVOKED))
		abort();
 out:
	if (strlen(detail) >= sizeof(detail))
		abort();
 done:
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(rid);
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	ASN1_TIME_free(revt);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	ERR_clear_error();
	(void)now;
	return 0;
}
