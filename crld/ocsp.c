/*
 * OCSP for client certificates (issue 5 item 7, SPEC 5): the front asks
 * (IMSG_OCSP_REQ: leaf and issuer, DER) after a client handshake, crld
 * answers (IMSG_OCSP_RES) from its cache or from the responder.
 *
 * A query: the issuer must have issued the leaf (names and the leaf's
 * signature, checked here: the issuer is the one trust anchor of the
 * response), the CertID is SHA-1 over the issuer's name and key as RFC
 * 6960 wants, the request carries a nonce, and it is POSTed with libcurl
 * (crl_fetch.c, so nothing blocks) to the configured responder, else the
 * leaf's AIA OCSP URL; http and https (with the system CAs, like CRL
 * fetches), no redirects, the configured timeout, a size cap.
 *
 * The answer must be a successful basic response signed by the issuer
 * itself or by a delegated responder the issuer certified for OCSP
 * signing (OCSP_basic_verify() with the issuer as the only trusted
 * certificate: OCSP_TRUSTOTHER, OCSP_PARTIAL_CHAIN, no "explicit trust"
 * fallback), must echo our nonce or else be fresh by its own dates
 * (thisUpdate/nextUpdate within OCSP_CLOCK_SKEW; without nextUpdate
 * thisUpdate at most OCSP_MAX_AGE old), and must hold our CertID.
 *
 * GOOD and REVOKED answers that carry a nextUpdate are cached until then,
 * keyed by SHA-256 over the CertID's issuer name hash, issuer key hash
 * and serial; the cache is bounded (OCSP_CACHE_MAX, least recently used
 * out first) and emptied when the responder setting changes.  Queries for
 * the same certificate in flight at the same time share one request.
 *
 * crld only reports; the front applies the policy (ocsp stale) to
 * UNKNOWN and ERROR.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "childproc.h"
#include "certfields.h"
#include "compat.h"
#include "config.h"
#include "crld.h"
#include "imsg.h"
#include "log.h"
#include "proto.h"
#include "stats.h"

#define OCSP_CACHE_MAX		8192	/* cached answers */
#define OCSP_CACHE_BUCKETS	1024
#define OCSP_MAX_QUERIES	256	/* distinct requests in flight */
#define OCSP_MAX_WAITERS	4096	/* front requests waiting */
#define OCSP_RESP_MAX		(256 * 1024)	/* bytes of a response */
#define OCSP_CLOCK_SKEW		300	/* seconds */
#define OCSP_MAX_AGE		3600	/* no nonce, no nextUpdate */
#define OCSP_KEY_LEN		SHA256_DIGEST_LENGTH
#define OCSP_REASON_NONE	0xff

struct ocsp_answer {
	uint32_t	 status;	/* enum ocsp_status */
	uint32_t	 reason;	/* CRLReason, OCSP_REASON_NONE */
	int64_t		 this_update;
	int64_t		 next_update;	/* 0: none */
	char		 detail[OCSP_MAX_DETAIL];
};

struct ocsp_entry {
	LIST_ENTRY(ocsp_entry)	 bucket;
	TAILQ_ENTRY(ocsp_entry)	 lru;
	uint8_t			 key[OCSP_KEY_LEN];
	struct ocsp_answer	 a;
};

struct ocsp_waiter {
	TAILQ_ENTRY(ocsp_waiter) entry;
	uint64_t		 reqid;
};

struct ocsp_query {
	TAILQ_ENTRY(ocsp_query)	 entry;
	uint8_t			 key[OCSP_KEY_LEN];
	char			*url;
	char			 desc[640];	/* serial and issuer */
	OCSP_REQUEST		*req;
	OCSP_CERTID		*id;
	X509			*issuer;
	struct crl_fetch	*fetch;
	TAILQ_HEAD(, ocsp_waiter) waiters;
};

static struct childproc		*ocsp_cp;
static char			*ocsp_responder;	/* NULL: AIA */
static int			 ocsp_timeout = 10;
static int			 ocsp_configured;
static const unsigned char	*ocsp_sysca;
static size_t			 ocsp_syscalen;

static LIST_HEAD(, ocsp_entry)	 cache_b[OCSP_CACHE_BUCKETS];
static TAILQ_HEAD(, ocsp_entry)	 cache_lru = TAILQ_HEAD_INITIALIZER(cache_lru);
static size_t			 cache_n;

static TAILQ_HEAD(, ocsp_query)	 queries = TAILQ_HEAD_INITIALIZER(queries);
static size_t			 nqueries, nwaiters;

static const char *
status_name(uint32_t s)
{
	switch (s) {
	case OCSP_ST_GOOD:	return "good";
	case OCSP_ST_REVOKED:	return "revoked";
	case OCSP_ST_UNKNOWN:	return "unknown";
	}
	return "error";
}

static void
fmt_time(int64_t t, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
}

static int64_t
asn1_time(const ASN1_GENERALIZEDTIME *t)
{
	struct tm	 tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

/* The last OpenSSL error, for a reason. */
static const char *
ssl_err(void)
{
	static char	 buf[256];
	unsigned long	 e = ERR_peek_last_error();

	if (e == 0)
		return "no details";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* --- cache ------------------------------------------------------------- */

static size_t
cache_bucket(const uint8_t *key)
{
	return ((size_t)key[0] << 8 | key[1]) % OCSP_CACHE_BUCKETS;
}

static void
cache_remove(struct ocsp_entry *e)
{
	LIST_REMOVE(e, bucket);
	TAILQ_REMOVE(&cache_lru, e, lru);
	cache_n--;
	free(e);
}

static void
cache_flush(void)
{
	struct ocsp_entry	*e;

	while ((e = TAILQ_FIRST(&cache_lru)) != NULL)
		cache_remove(e);
}

static const struct ocsp_answer *
cache_get(const uint8_t *key, time_t now)
{
	struct ocsp_entry	*e;

	LIST_FOREACH(e, &cache_b[cache_bucket(key)], bucket) {
		if (memcmp(e->key, key, OCSP_KEY_LEN) != 0)
			continue;
		if (e->a.next_update < (int64_t)now) {
			cache_remove(e);
			return NULL;
		}
		TAILQ_REMOVE(&cache_lru, e, lru);
		TAILQ_INSERT_TAIL(&cache_lru, e, lru);
		return &e->a;
	}
	return NULL;
}

static void
cache_put(const uint8_t *key, const struct ocsp_answer *a)
{
	struct ocsp_entry	*e;

	LIST_FOREACH(e, &cache_b[cache_bucket(key)], bucket)
		if (memcmp(e->key, key, OCSP_KEY_LEN) == 0)
			break;
	if (e != NULL) {
		e->a = *a;
		TAILQ_REMOVE(&cache_lru, e, lru);
		TAILQ_INSERT_TAIL(&cache_lru, e, lru);
		return;
	}
	if (cache_n >= OCSP_CACHE_MAX)
		cache_remove(TAILQ_FIRST(&cache_lru));
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal(NULL);
	memcpy(e->key, key, OCSP_KEY_LEN);
	e->a = *a;
	LIST_INSERT_HEAD(&cache_b[cache_bucket(key)], e, bucket);
	TAILQ_INSERT_TAIL(&cache_lru, e, lru);
	cache_n++;
}

/* --- to the front ------------------------------------------------------- */

static void
answer(uint64_t reqid, const struct ocsp_answer *a, int cached)
{
	struct msgbuild	 m;

	/* Every request gets exactly one answer, from here. */
	stats_ocsp_status(a->status);
	if (cached)
		stats_inc(STAT_OCSP_CACHE_HIT);
	msg_init(&m);
	msg_put_u32(&m, a->status);
	msg_put_u32(&m, a->reason);
	msg_put_i64(&m, a->next_update);
	msg_put_u32(&m, cached ? 1 : 0);
	msg_put_str(&m, a->detail);
	/* -1: the front is gone; its successor asks again. */
	(void)childproc_peer_send(ocsp_cp, reqid_slot(reqid), &m,
	    IMSG_OCSP_RES, 0, reqid_orig(reqid), -1);
	msg_free(&m);
}

static void
answer_error(uint64_t reqid, const char *why)
{
	struct ocsp_answer	 a;

	memset(&a, 0, sizeof(a));
	a.status = OCSP_ST_ERROR;
	a.reason = OCSP_REASON_NONE;
	strlcpy(a.detail, why, sizeof(a.detail));
	answer(reqid, &a, 0);
}

/* --- queries ------------------------------------------------------------ */

static void
query_free(struct ocsp_query *q)
{
	struct ocsp_waiter	*w;

	while ((w = TAILQ_FIRST(&q->waiters)) != NULL) {
		TAILQ_REMOVE(&q->waiters, w, entry);
		nwaiters--;
		free(w);
	}
	crl_fetch_cancel(q->fetch);
	OCSP_REQUEST_free(q->req);
	OCSP_CERTID_free(q->id);
	X509_free(q->issuer);
	free(q->url);
	free(q);
}

/* Check a response to q; fills a (status, dates, detail). */
static void
check_response(struct ocsp_query *q, const unsigned char *body, size_t len,
    struct ocsp_answer *a)
{
	const unsigned char		*p = body;
	OCSP_RESPONSE			*resp = NULL;
	OCSP_BASICRESP			*bs = NULL;
	STACK_OF(X509)			*certs = NULL;
	X509_STORE			*store = NULL;
	ASN1_GENERALIZEDTIME		*rev, *thisupd, *nextupd;
	int				 rs, nonce, st, reason, maxage;
	char				 t1[32], t2[32];

	a->status = OCSP_ST_ERROR;
	a->reason = OCSP_REASON_NONE;
	if (len > LONG_MAX ||
	    (resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL ||
	    p != body + len) {
		snprintf(a->detail, sizeof(a->detail), "unparsable OCSP "
		    "response from %s", q->url);
		goto done;
	}
	if ((rs = OCSP_response_status(resp)) !=
	    OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		snprintf(a->detail, sizeof(a->detail), "responder %s says: %s",
		    q->url, OCSP_response_status_str(rs));
		goto done;
	}
	if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
		snprintf(a->detail, sizeof(a->detail), "no basic OCSP "
		    "response from %s", q->url);
		goto done;
	}
	/* The issuer is the one trust anchor: it signed the response, or
	 * it certified the responder's key for OCSP signing. */
	if ((certs = sk_X509_new_null()) == NULL ||
	    (store = X509_STORE_new()) == NULL ||
	    !X509_STORE_add_cert(store, q->issuer) ||
	    !X509_add_cert(certs, q->issuer, X509_ADD_FLAG_UP_REF))
		fatalx("ocsp: out of memory");
	if (OCSP_basic_verify(bs, certs, store, OCSP_TRUSTOTHER |
	    OCSP_PARTIAL_CHAIN | OCSP_NOEXPLICIT) <= 0) {
		snprintf(a->detail, sizeof(a->detail), "OCSP response from "
		    "%s not signed by the issuer or its responder: %s",
		    q->url, ssl_err());
		goto done;
	}
	nonce = OCSP_check_nonce(q->req, bs);
	if (nonce == 0) {
		snprintf(a->detail, sizeof(a->detail), "OCSP response from "
		    "%s: nonce mismatch (replayed?)", q->url);
		goto done;
	}
	if (!OCSP_resp_find_status(bs, q->id, &st, &reason, &rev, &thisupd,
	    &nextupd)) {
		snprintf(a->detail, sizeof(a->detail), "OCSP response from "
		    "%s does not cover the certificate", q->url);
		goto done;
	}
	a->this_update = asn1_time(thisupd);
	a->next_update = asn1_time(nextupd);
	/* Without our nonce, the response's own dates must vouch for it. */
	maxage = nonce == 1 || nextupd != NULL ? -1 : OCSP_MAX_AGE;
	if (!OCSP_check_validity(thisupd, nextupd, OCSP_CLOCK_SKEW, maxage)) {
		fmt_time(a->this_update, t1, sizeof(t1));
		fmt_time(a->next_update, t2, sizeof(t2));
		snprintf(a->detail, sizeof(a->detail), "OCSP response from "
		    "%s not fresh: thisUpdate %s nextUpdate %s%s", q->url, t1,
		    t2, nonce == 1 ? "" : " (no nonce)");
		ERR_clear_error();
		goto done;
	}
	fmt_time(a->next_update, t2, sizeof(t2));
	switch (st) {
	case V_OCSP_CERTSTATUS_GOOD:
		a->status = OCSP_ST_GOOD;
		break;
	case V_OCSP_CERTSTATUS_REVOKED:
		a->status = OCSP_ST_REVOKED;
		if (reason >= 0 && reason < OCSP_REASON_NONE)
			a->reason = (uint32_t)reason;
		break;
	default:
		a->status = OCSP_ST_UNKNOWN;
		break;
	}
	snprintf(a->detail, sizeof(a->detail), "%s from %s, nextUpdate %s",
	    status_name(a->status), q->url, t2);
done:
	ERR_clear_error();
	sk_X509_pop_free(certs, X509_free);
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
}

/*
 * check_response() alone, for fuzz/fuzz_ocsp.c: a response checked
 * against a request, CertID and issuer the caller made, as a query's
 * is.  Returns the status (enum ocsp_status); detail as in an answer.
 */
uint32_t
ocsp_check_body(X509 *issuer, OCSP_REQUEST *req, OCSP_CERTID *id,
    const unsigned char *body, size_t len, int64_t *this_update,
    int64_t *next_update, char *detail, size_t detaillen)
{
	struct ocsp_query	 q;
	struct ocsp_answer	 a;

	memset(&q, 0, sizeof(q));
	q.url = "fuzz";
	q.req = req;
	q.id = id;
	q.issuer = issuer;
	memset(&a, 0, sizeof(a));
	check_response(&q, body, len, &a);
	*this_update = a.this_update;
	*next_update = a.next_update;
	snprintf(detail, detaillen, "%s", a.detail);
	return a.status;
}

static void
query_done(void *arg, int ok, unsigned char *body, size_t len,
    const char *error)
{
	struct ocsp_query	*q = arg;
	struct ocsp_waiter	*w;
	struct ocsp_answer	 a;
	size_t			 n = 0;

	q->fetch = NULL;
	memset(&a, 0, sizeof(a));
	if (!ok) {
		a.status = OCSP_ST_ERROR;
		a.reason = OCSP_REASON_NONE;
		snprintf(a.detail, sizeof(a.detail), "OCSP responder %s: %s",
		    q->url, error);
	} else {
		check_response(q, body, len, &a);
		free(body);
	}
	if ((a.status == OCSP_ST_GOOD || a.status == OCSP_ST_REVOKED) &&
	    a.next_update > (int64_t)time(NULL))
		cache_put(q->key, &a);
	TAILQ_FOREACH(w, &q->waiters, entry) {
		answer(w->reqid, &a, 0);
		n++;
	}
	if (a.status == OCSP_ST_GOOD)
		log_info("ocsp: %s: %s", q->desc, a.detail);
	else
		log_warnx("ocsp: %s: %s%s", q->desc, a.status ==
		    OCSP_ST_REVOKED ? "REVOKED: " : "", a.detail);
	log_trace(TRACE_OCSP, "ocsp: %zu waiting requests answered", n);
	TAILQ_REMOVE(&queries, q, entry);
	nqueries--;
	query_free(q);
}

/* The responder for a leaf: configured, else the first http(s) AIA. */
static char *
responder_url(X509 *leaf)
{
	STACK_OF(OPENSSL_STRING)	*aia;
	const char			*u;
	char				*url = NULL;
	int				 i;

	if (ocsp_responder != NULL)
		return strdup(ocsp_responder);
	if ((aia = X509_get1_ocsp(leaf)) == NULL)
		return NULL;
	for (i = 0; i < sk_OPENSSL_STRING_num(aia) && url == NULL; i++) {
		u = sk_OPENSSL_STRING_value(aia, i);
		if (strncasecmp(u, "http://", 7) == 0 ||
		    strncasecmp(u, "https://", 8) == 0)
			url = strdup(u);
	}
	X509_email_free(aia);
	return url;
}

/* Cache key: SHA-256 over the CertID's name hash, key hash, serial. */
static int
certid_key(OCSP_CERTID *id, uint8_t key[OCSP_KEY_LEN])
{
	ASN1_OCTET_STRING	*nh, *kh;
	ASN1_INTEGER		*sn;
	EVP_MD_CTX		*ctx;
	uint32_t		 l;
	int			 ok;

	if (!OCSP_id_get0_info(&nh, NULL, &kh, &sn, id))
		return -1;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		fatal(NULL);
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	l = (uint32_t)ASN1_STRING_length(nh);
	ok = ok && EVP_DigestUpdate(ctx, &l, sizeof(l)) &&
	    EVP_DigestUpdate(ctx, ASN1_STRING_get0_data(nh), l);
	l = (uint32_t)ASN1_STRING_length(kh);
	ok = ok && EVP_DigestUpdate(ctx, &l, sizeof(l)) &&
	    EVP_DigestUpdate(ctx, ASN1_STRING_get0_data(kh), l);
	l = (uint32_t)ASN1_STRING_length(sn);
	ok = ok && EVP_DigestUpdate(ctx, &l, sizeof(l)) &&
	    EVP_DigestUpdate(ctx, ASN1_STRING_get0_data(sn), l) &&
	    EVP_DigestUpdate(ctx, &sn->type, sizeof(sn->type)) &&
	    EVP_DigestFinal_ex(ctx, key, NULL);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static void
cert_desc(X509 *x, char *buf, size_t len)
{
	BIGNUM	*bn;
	char	*hex, issuer[512];
	size_t	 i;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	certfields_dn_print(X509_get_issuer_name(x), issuer, sizeof(issuer));
	snprintf(buf, len, "serial %s issuer %s", hex != NULL ? hex : "?",
	    issuer);
	for (i = 7; buf[i] != '\0' && buf[i] != ' '; i++)
		if (buf[i] >= 'A' && buf[i] <= 'F')
			buf[i] += 'a' - 'A';
	OPENSSL_free(hex);
	BN_free(bn);
}

static void
ocsp_request(uint64_t reqid, struct imsg *imsg)
{
	struct msgreader	 r;
	struct crl_fetch_opts	 o;
	struct ocsp_query	*q;
	struct ocsp_waiter	*w;
	const struct ocsp_answer *ca;
	const unsigned char	*ld, *id, *p;
	unsigned char		*der = NULL;
	X509			*leaf = NULL, *issuer = NULL;
	OCSP_CERTID		*cid = NULL;
	EVP_PKEY		*pk;
	uint8_t			 key[OCSP_KEY_LEN];
	size_t			 ll, il;
	char			*url = NULL, desc[640];
	int			 derlen;

	msg_reader(&r, imsg);
	ld = msg_get_data(&r, &ll, OCSP_MAX_CERT);
	id = msg_get_data(&r, &il, OCSP_MAX_CERT);
	if (msg_end(&r) == -1)
		fatalx("malformed IMSG_OCSP_REQ from the front");
	p = ld;
	if ((leaf = d2i_X509(NULL, &p, (long)ll)) == NULL ||
	    p != ld + ll) {
		answer_error(reqid, "unreadable certificate");
		goto out;
	}
	p = id;
	if ((issuer = d2i_X509(NULL, &p, (long)il)) == NULL ||
	    p != id + il) {
		answer_error(reqid, "unreadable issuer certificate");
		goto out;
	}
	cert_desc(leaf, desc, sizeof(desc));
	/* The issuer is what the response is verified with: it must be
	 * the one that signed this leaf. */
	if (X509_check_issued(issuer, leaf) != X509_V_OK ||
	    (pk = X509_get0_pubkey(issuer)) == NULL ||
	    X509_verify(leaf, pk) != 1) {
		log_warnx("ocsp: %s: the issuer given did not issue it", desc);
		answer_error(reqid, "the issuer given did not issue the "
		    "certificate");
		goto out;
	}
	if ((cid = OCSP_cert_to_id(EVP_sha1(), leaf, issuer)) == NULL ||
	    certid_key(cid, key) == -1) {
		answer_error(reqid, "cannot build the OCSP CertID");
		goto out;
	}
	if ((ca = cache_get(key, time(NULL))) != NULL) {
		log_trace(TRACE_OCSP, "ocsp: %s: %s (cached)", desc,
		    ca->detail);
		answer(reqid, ca, 1);
		goto out;
	}
	if ((url = responder_url(leaf)) == NULL) {
		log_warnx("ocsp: %s: no responder configured and no OCSP "
		    "URL in the certificate", desc);
		answer_error(reqid, "no OCSP responder: none configured and "
		    "none in the certificate");
		goto out;
	}
	if (nwaiters >= OCSP_MAX_WAITERS) {
		log_warnx("ocsp: too many requests waiting");
		answer_error(reqid, "too many OCSP requests waiting");
		goto out;
	}
	TAILQ_FOREACH(q, &queries, entry)
		if (memcmp(q->key, key, sizeof(key)) == 0 &&
		    strcmp(q->url, url) == 0)
			break;
	if (q == NULL) {
		if (nqueries >= OCSP_MAX_QUERIES) {
			log_warnx("ocsp: too many queries in flight");
			answer_error(reqid, "too many OCSP queries in flight");
			goto out;
		}
		if ((q = calloc(1, sizeof(*q))) == NULL)
			fatal(NULL);
		TAILQ_INIT(&q->waiters);
		memcpy(q->key, key, sizeof(key));
		strlcpy(q->desc, desc, sizeof(q->desc));
		q->url = url;
		url = NULL;
		q->id = cid;
		cid = NULL;
		q->issuer = issuer;
		issuer = NULL;
		if ((q->req = OCSP_REQUEST_new()) == NULL ||
		    OCSP_request_add0_id(q->req, OCSP_CERTID_dup(q->id)) ==
		    NULL || !OCSP_request_add1_nonce(q->req, NULL, -1) ||
		    (derlen = i2d_OCSP_REQUEST(q->req, &der)) <= 0)
			fatalx("ocsp: cannot build a request: %s", ssl_err());
		memset(&o, 0, sizeof(o));
		o.post = der;
		o.postlen = (size_t)derlen;
		o.content_type = "application/ocsp-request";
		o.timeout = ocsp_timeout;
		o.maxsize = OCSP_RESP_MAX;
		o.protocols = "http,https";
		o.no_redirects = 1;
		log_trace(TRACE_OCSP, "ocsp: %s: asking %s", q->desc, q->url);
		q->fetch = crl_fetch_start_opts(q->url, ocsp_sysca,
		    ocsp_syscalen, &o, query_done, q);
		OPENSSL_free(der);
		TAILQ_INSERT_TAIL(&queries, q, entry);
		nqueries++;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal(NULL);
	w->reqid = reqid;
	TAILQ_INSERT_TAIL(&q->waiters, w, entry);
	nwaiters++;
out:
	ERR_clear_error();
	free(url);
	OCSP_CERTID_free(cid);
	X509_free(leaf);
	X509_free(issuer);
}

void
ocsp_front_imsg(int slot, struct imsg *imsg)
{
	struct ocsp_query	*q;
	struct ocsp_waiter	*w, *next;

	if (imsg == NULL) {
		/* A front is gone: nobody waits any more for its answers
		 * (its successor numbers its requests afresh); the other
		 * fronts' waiters stay.  Queries in flight go on and fill
		 * the cache. */
		TAILQ_FOREACH(q, &queries, entry) {
			for (w = TAILQ_FIRST(&q->waiters); w != NULL;
			    w = next) {
				next = TAILQ_NEXT(w, entry);
				if (reqid_slot(w->reqid) != slot)
					continue;
				TAILQ_REMOVE(&q->waiters, w, entry);
				nwaiters--;
				free(w);
			}
		}
		return;
	}
	if (imsg->hdr.type != IMSG_OCSP_REQ)
		fatalx("unexpected %s from the front",
		    imsg_type_name(imsg->hdr.type));
	stats_inc(STAT_OCSP_REQUESTS);
	ocsp_request(reqid_tag(slot, imsg->hdr.reqid), imsg);
}

void
ocsp_init(struct childproc *cp)
{
	size_t	 i;

	ocsp_cp = cp;
	for (i = 0; i < OCSP_CACHE_BUCKETS; i++)
		LIST_INIT(&cache_b[i]);
}

void
ocsp_config(const struct smtpcertd_conf *conf, const unsigned char *sysca,
    size_t syscalen)
{
	const char	*nr = conf->ocsp.enabled ? conf->ocsp.responder : NULL;
	int		 changed;

	changed = (nr == NULL) != (ocsp_responder == NULL) ||
	    (nr != NULL && strcmp(nr, ocsp_responder) != 0);
	if ((changed || !conf->ocsp.enabled) && cache_n > 0) {
		log_info("ocsp: %zu cached answers dropped (%s)", cache_n,
		    conf->ocsp.enabled ? "responder changed" : "ocsp off");
		cache_flush();
	}
	free(ocsp_responder);
	ocsp_responder = NULL;
	if (nr != NULL && (ocsp_responder = strdup(nr)) == NULL)
		fatal(NULL);
	ocsp_timeout = conf->ocsp.timeout > 0 ? conf->ocsp.timeout : 10;
	/* The blob lives as long as the generation; fetches copy it. */
	ocsp_sysca = sysca;
	ocsp_syscalen = syscalen;
	if (conf->ocsp.enabled && !ocsp_configured)
		log_info("ocsp: on, responder %s, timeout %ds",
		    ocsp_responder ? ocsp_responder : "from the certificates",
		    ocsp_timeout);
	ocsp_configured = conf->ocsp.enabled;
}

void
ocsp_shutdown(void)
{
	struct ocsp_query	*q;

	while ((q = TAILQ_FIRST(&queries)) != NULL) {
		TAILQ_REMOVE(&queries, q, entry);
		query_free(q);
	}
	nqueries = 0;
	cache_flush();
	free(ocsp_responder);
	ocsp_responder = NULL;
}
