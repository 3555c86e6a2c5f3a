/*
 * crld's modules: crld.c (process, schedule, messages, the set),
 * crl_fetch.c (libcurl multi on libevent), crl_validate.c (parse and
 * verify a CRL), crl_cache.c (the cache directory), ocsp.c (OCSP for the
 * front's client certificates, issue 5 item 7).
 */
#ifndef CRLD_CRLD_H
#define CRLD_CRLD_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/x509.h>

#include "config.h"
#include "crlset.h"

/* Limits: every network input is bounded. */
#define CRL_FETCH_MAX		(256LL * 1024 * 1024)	/* bytes per CRL */
#define CRL_CONNECT_TIMEOUT	10	/* seconds */
#define CRL_TRANSFER_TIMEOUT	300	/* seconds, whole download */
#define CRL_LOW_SPEED_TIME	30	/* seconds below 1 KB/s: give up */
#define CRL_MAX_REDIRS		5
/* Back-off after a failed attempt: 30 s doubling, at most an hour (and
 * never later than the regular refresh). */
#define CRL_RETRY_MIN		30
#define CRL_RETRY_MAX		3600
/* Fetch this long before nextUpdate, so a CRL never goes stale while
 * its servers are up. */
#define CRL_NEXTUPDATE_MARGIN	600
/* Accept a thisUpdate this far in the future (clock skew). */
#define CRL_CLOCK_SKEW		300

/* A certificateIssuer name of an indirect CRL (DER). */
struct crl_name {
	unsigned char	*der;
	size_t		 len;
};

/* What crld keeps of an accepted CRL: never the parsed X509_CRL (a
 * million-entry CRL parsed by OpenSSL takes hundreds of MB). */
struct crl_data {
	uint8_t		 issuer_hash[CRLSET_HASH_LEN];
	uint8_t		 keyid[CRLSET_KEYID_MAX];	/* the CRL's AKID */
	size_t		 keyidlen;
	char		 issuer[512];	/* RFC 2253, for people */
	char		 number[128];	/* CRL number, hex, "" if none */
	char		 base[128];	/* delta CRL: its base CRL number */
	int64_t		 this_update;
	int64_t		 next_update;	/* 0: none */
	uint8_t		 der_hash[CRLSET_HASH_LEN];
	uint8_t		 flags;		/* CRLSET_CRL_* */
	int		 md_nid;	/* the signature's hash */
	uint8_t		 digest[CRLSET_DIGEST_MAX];	/* of tbsCertList */
	size_t		 digest_len;
	unsigned char	*shell;		/* the CRL without its entries (DER) */
	size_t		 shell_len;
	struct crl_name	*names;		/* entry.issuer n is names[n - 1] */
	size_t		 nnames;
	struct crlset_entry *entries;	/* sorted by crlset_entry_cmp */
	size_t		 nentries;
};

/* The CA certificates a CRL may be verified with. */
struct crl_cas {
	STACK_OF(X509)	*certs;
	uint8_t		 hash[CRLSET_HASH_LEN];	/* of the PEM: a reload
						 * that changes it
						 * re-validates */
	const char	*name;	/* the source's `ca' bundle; NULL: every
				 * configured bundle, for a source that
				 * names none */
};

struct crl_fetch;

struct crl_src {
	TAILQ_ENTRY(crl_src)	 entry;
	char			*name;
	struct crl_source	*conf;	/* of the current generation */
	struct crl_data		*cur;	/* in use, NULL if none */
	struct event		*timer;
	struct crl_fetch	*fetch;	/* in flight, NULL if none */
	int			 trying_secondary;
	char			 first_error[512]; /* primary's, when the
						    * secondary is tried */
	/* status */
	char			 url_used[1024];
	char			 result[1024];
	int			 ok;
	unsigned		 failures;
	time_t			 last_attempt;
	time_t			 last_success;
	time_t			 next_fetch;
	uint8_t			 cas_hash[CRLSET_HASH_LEN]; /* validated
							     * with */
	int			 attempted;	/* this generation */
	int			 gone;		/* not in the new config */
};

/* crl_validate.c */
void	crl_cas_init(struct crl_cas *);
void	crl_cas_free(struct crl_cas *);
/* Add every certificate of a PEM bundle; 0 or -1. */
int	crl_cas_add_pem(struct crl_cas *, const unsigned char *, size_t);
/*
 * Parse and verify a download (type: enum crl_type; ldap: the body is
 * libcurl's LDAP text output).  cur is the CRL in use (NULL if none) for
 * the "not older" rule.  Returns 1 accepted (*out and the DER to cache
 * set: the CRL as downloaded, entries included), 0 identical to cur, -1
 * rejected with the reason in why.
 */
int	crl_validate(const unsigned char *body, size_t len, int type,
	    int ldap, const struct crl_cas *, const struct crl_data *cur,
	    time_t now, struct crl_data **out, unsigned char **der,
	    size_t *derlen, char *why, size_t whylen);
void	crl_data_free(struct crl_data *);

/* crl_cache.c */
int	crl_cache_write(const char *dir, const char *source,
	    const unsigned char *der, size_t len, char *why, size_t whylen);
/* malloc'd contents of a cached CRL, NULL if none (or unreadable). */
unsigned char *crl_cache_read(const char *dir, const char *source,
	    size_t *len);
void	crl_cache_remove(const char *dir, const char *source);

/* crl_fetch.c */
typedef void (*crl_fetch_cb)(void *arg, int ok, unsigned char *body,
	    size_t len, const char *error);
void	crl_fetch_init(struct event_base *);
/* cainfo: PEM of the CAs for https (may be NULL: libcurl's default). */
struct crl_fetch *crl_fetch_start(const char *url, const unsigned char *cainfo,
	    size_t cainfolen, crl_fetch_cb, void *arg);
/* The same with options (any field 0/NULL: as crl_fetch_start()). */
struct crl_fetch_opts {
	const unsigned char	*post;		/* POST this body (copied) */
	size_t			 postlen;
	const char		*content_type;	/* of the POST body */
	long			 timeout;	/* seconds, whole transfer */
	size_t			 maxsize;	/* bytes, at most CRL_FETCH_MAX */
	const char		*protocols;	/* CURLOPT_PROTOCOLS_STR */
	int			 no_redirects;
};
struct crl_fetch *crl_fetch_start_opts(const char *url,
	    const unsigned char *cainfo, size_t cainfolen,
	    const struct crl_fetch_opts *, crl_fetch_cb, void *arg);
void	crl_fetch_cancel(struct crl_fetch *);

/* ocsp.c (issue 5 item 7): OCSP for the front's client certificates. */
struct childproc;
struct imsg;
void	ocsp_init(struct childproc *);
/* A new generation (responder, timeout); sysca: PEM for https. */
void	ocsp_config(const struct smtpcertd_conf *, const unsigned char *sysca,
	    size_t syscalen);
/* IMSG_OCSP_REQ from the front; imsg NULL: the front's channel is gone. */
/* From the front in the slot (proto.h); NULL: its channel closed. */
void	ocsp_front_imsg(int slot, struct imsg *);
void	ocsp_shutdown(void);
/* The check of one response, for the fuzz target (fuzz/fuzz_ocsp.c).
 * The structs are OpenSSL's OCSP_REQUEST and OCSP_CERTID. */
struct ocsp_request_st;
struct ocsp_cert_id_st;
uint32_t ocsp_check_body(X509 *issuer, struct ocsp_request_st *,
	    struct ocsp_cert_id_st *, const unsigned char *, size_t,
	    int64_t *this_update, int64_t *next_update, char *, size_t);

#endif
