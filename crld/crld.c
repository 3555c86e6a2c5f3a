/*
 * crld: downloads certificate revocation lists on a schedule and hands
 * them to the parent.  Unprivileged, not chrooted (it resolves names and
 * reads file:// sources), sandboxed with Landlock and seccomp; it may
 * write only its cache directory.  Started by the smtpcertd parent only.
 *
 * Per source: at start (and when a reload adds or changes it) the cached
 * CRL is re-validated and used, then the primary URL is fetched, and the
 * secondary when the primary fails in any way (download or validation).
 * The next fetch is at the regular refresh, or CRL_NEXTUPDATE_MARGIN
 * before the CRL's nextUpdate if that comes first; after a failure at a
 * back-off from CRL_RETRY_MIN doubling to CRL_RETRY_MAX.
 *
 * Whenever the accepted CRLs change, the whole revocation set
 * (crlset.h) is rebuilt from what crld keeps of each CRL and sent to the
 * parent as a sealed memfd.  The status of every source goes with it,
 * for `smtpcertctl show crl`.
 */
#include <sys/types.h>

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "childproc.h"
#include "certfields.h"
#include "compat.h"
#include "config.h"
#include "confmsg.h"
#include "crl_status.h"
#include "crld.h"
#include "crlset.h"
#include "imsg.h"
#include "log.h"
#include "pkeydecode.h"
#include "proto.h"
#include "sandbox.h"
#include "stats.h"

#define CA_SYSTEM	"@system"

/* A `crl update` waiting for its sources' attempts. */
struct crl_req {
	TAILQ_ENTRY(crl_req)	 entry;
	uint64_t		 reqid;
	struct crl_src		**srcs;
	size_t			 nsrcs, left;
	int			 ok;
	char			*summary;
	size_t			 sumlen;
};

/* A CA bundle by name, parsed once per configuration generation. */
struct crl_ca {
	char			*name;
	struct crl_cas		 cas;
	const unsigned char	*pem;	/* the bundle as sent, for curl */
	size_t			 pemlen;
};

struct crld {
	struct childproc	*cp;
	TAILQ_HEAD(, crl_src)	 srcs;
	TAILQ_HEAD(, crl_req)	 reqs;
	struct crl_ca		*cas;	/* configured bundles */
	size_t			 ncas;
	struct crl_cas		 allcas; /* all of them: sources without ca */
	const unsigned char	*sysca;	/* for https, may be NULL */
	size_t			 syscalen;
	uint64_t		 set_serial;
	uint64_t		 warned_gen;
};

static struct crld	 crld;

static void	crld_fetch_now(struct crl_src *);
static void	crld_timer_cb(evutil_socket_t, short, void *);
static void	crld_send_set(void);
static void	crld_send_status(void);
static void	crld_req_progress(struct crl_src *, int removed);
static void	crld_stats(struct childproc *);

static void	src_result(struct crl_src *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* The last attempt's result, in words (long URLs are cut, not lost). */
static void
src_result(struct crl_src *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(s->result, sizeof(s->result), fmt, ap);
	va_end(ap);
}

static void
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm	 tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
}

/* What kind of CRL, for people: "" for a plain full CRL. */
static const char *
crl_kind(const struct crl_data *d)
{
	switch (d->flags & (CRLSET_CRL_DELTA | CRLSET_CRL_INDIRECT)) {
	case CRLSET_CRL_DELTA:
		return " (delta CRL)";
	case CRLSET_CRL_INDIRECT:
		return " (indirect CRL)";
	case CRLSET_CRL_DELTA | CRLSET_CRL_INDIRECT:
		return " (indirect delta CRL)";
	}
	return "";
}

/* Who checks the signature: crld did, or the front will (the issuer is
 * no configured certificate; not an error, see crl_validate.c). */
static const char *
crl_sigcheck(const struct crl_data *d)
{
	return (d->flags & CRLSET_CRL_VERIFIED) ? "" :
	    "; signature left to the front (issuer not configured here)";
}

static const struct crl_cas *
crld_cas_for(const struct crl_src *s)
{
	size_t	 i;

	if (s->conf->ca_name == NULL)
		return &crld.allcas;
	for (i = 0; i < crld.ncas; i++)
		if (strcmp(crld.cas[i].name, s->conf->ca_name) == 0)
			return &crld.cas[i].cas;
	return &crld.allcas;
}

/*
 * The CAs that verify a source's https or ldaps server: its own "tls ca"
 * bundle when set (an internal CRL server), else the system's.
 */
static const unsigned char *
crld_tls_cas_for(const struct crl_src *s, size_t *len)
{
	size_t	 i;

	if (s->conf->tls_ca_name != NULL)
		for (i = 0; i < crld.ncas; i++)
			if (strcmp(crld.cas[i].name, s->conf->tls_ca_name) ==
			    0) {
				*len = crld.cas[i].pemlen;
				return crld.cas[i].pem;
			}
	*len = crld.syscalen;
	return crld.sysca;
}

static int
url_is_ldap(const char *url)
{
	return strncasecmp(url, "ldap://", 7) == 0 ||
	    strncasecmp(url, "ldaps://", 8) == 0;
}

static void
crld_free_cas(void)
{
	size_t	 i;

	for (i = 0; i < crld.ncas; i++) {
		free(crld.cas[i].name);
		crl_cas_free(&crld.cas[i].cas);
	}
	free(crld.cas);
	crld.cas = NULL;
	crld.ncas = 0;
	crl_cas_free(&crld.allcas);
}

static void
crld_load_cas(struct conf_bundle *b)
{
	const struct conf_blob	*blob;
	struct ca		*ca;
	EVP_MD_CTX		*all;
	size_t			 n = 0;

	crld_free_cas();
	crl_cas_init(&crld.allcas);
	if ((all = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(all, EVP_sha256(), NULL) != 1)
		fatalx("EVP_DigestInit_ex");
	TAILQ_FOREACH(ca, &b->conf->cas, entry)
		n++;
	if ((crld.cas = calloc(n ? n : 1, sizeof(*crld.cas))) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(ca, &b->conf->cas, entry) {
		if ((blob = conf_bundle_blob(b, IMSG_CONF_CA, ca->name)) ==
		    NULL)
			continue;
		if ((crld.cas[crld.ncas].name = strdup(ca->name)) == NULL)
			fatal(NULL);
		crl_cas_init(&crld.cas[crld.ncas].cas);
		crld.cas[crld.ncas].cas.name = crld.cas[crld.ncas].name;
		crld.cas[crld.ncas].pem = blob->a;
		crld.cas[crld.ncas].pemlen = blob->alen;
		if (crl_cas_add_pem(&crld.cas[crld.ncas].cas, blob->a,
		    blob->alen) == -1)
			log_warnx("ca %s: no certificates", ca->name);
		(void)crl_cas_add_pem(&crld.allcas, blob->a, blob->alen);
		SHA256(blob->a, blob->alen, crld.cas[crld.ncas].cas.hash);
		EVP_DigestUpdate(all, blob->a, blob->alen);
		crld.ncas++;
	}
	EVP_DigestFinal_ex(all, crld.allcas.hash, NULL);
	EVP_MD_CTX_free(all);
	if ((blob = conf_bundle_blob(b, IMSG_CONF_CA, CA_SYSTEM)) != NULL) {
		crld.sysca = blob->a;
		crld.syscalen = blob->alen;
	} else {
		crld.sysca = NULL;
		crld.syscalen = 0;
	}
}

/* Use the cached CRL of a source, if it still validates. */
static void
crld_load_cached(struct crl_src *s)
{
	const char	*dir = crld.cp->conf->conf->crl_cachedir;
	struct crl_data	*d;
	unsigned char	*buf, *der;
	size_t		 len, derlen;
	char		 why[512], t[32];

	if ((buf = crl_cache_read(dir, s->name, &len)) == NULL)
		return;
	if (crl_validate(buf, len, CRL_TYPE_ASN1, 0, crld_cas_for(s), NULL,
	    time(NULL), &d, &der, &derlen, why, sizeof(why)) != 1) {
		log_warnx("crl %s: cached CRL not used: %s", s->name, why);
		free(buf);
		return;
	}
	free(buf);
	free(der);
	crl_data_free(s->cur);
	s->cur = d;
	fmt_time(d->next_update, t, sizeof(t));
	log_info("crl %s: using cached CRL of %s, %zu entries%s, nextUpdate "
	    "%s%s", s->name, d->issuer, d->nentries, crl_kind(d), t,
	    crl_sigcheck(d));
	src_result(s, "cached CRL loaded, "
	    "%zu entries%s%s", d->nentries, crl_kind(d), crl_sigcheck(d));
}

static void
crld_src_free(struct crl_src *s)
{
	crl_fetch_cancel(s->fetch);
	if (s->timer != NULL)
		event_free(s->timer);
	crl_data_free(s->cur);
	free(s->name);
	free(s);
}

static int
source_changed(const struct crl_source *a, const struct crl_source *b)
{
	return a->type != b->type || strcmp(a->url, b->url) != 0 ||
	    (a->secondary == NULL) != (b->secondary == NULL) ||
	    (a->secondary != NULL && strcmp(a->secondary, b->secondary)) ||
	    (a->ca_name == NULL) != (b->ca_name == NULL) ||
	    (a->ca_name != NULL && strcmp(a->ca_name, b->ca_name));
}

static void
crld_schedule_at(struct crl_src *s, time_t when)
{
	struct timeval	 tv;
	time_t		 now = time(NULL);

	s->next_fetch = when;
	tv.tv_sec = when > now ? when - now : 0;
	tv.tv_usec = 0;
	log_trace(TRACE_CRL, "crl %s: next fetch in %llds", s->name,
	    (long long)tv.tv_sec);
	evtimer_add(s->timer, &tv);
}

/* After an attempt: the next one. */
static void
crld_schedule(struct crl_src *s)
{
	time_t		 now = time(NULL), next, t;
	long		 backoff;
	unsigned	 i;

	if (!s->conf->enabled) {
		evtimer_del(s->timer);
		s->next_fetch = 0;
		return;
	}
	next = now + s->conf->refresh;
	if (!s->ok) {
		backoff = CRL_RETRY_MIN;
		for (i = 1; i < s->failures && backoff <
		    CRL_RETRY_MAX; i++)
			backoff *= 2;
		if (backoff > CRL_RETRY_MAX)
			backoff = CRL_RETRY_MAX;
		if (now + backoff < next)
			next = now + backoff;
	}
	if (s->cur != NULL && s->cur->next_update != 0) {
		t = s->cur->next_update - CRL_NEXTUPDATE_MARGIN;
		/* A server still serving a stale CRL: keep asking, but
		 * not in a tight loop. */
		if (t < now + 2 * CRL_RETRY_MIN)
			t = now + 2 * CRL_RETRY_MIN;
		if (t < next)
			next = t;
	}
	crld_schedule_at(s, next);
}

/*
 * A new configuration generation: CA bundles, sources added, changed
 * (their CRL is re-validated from the cache against the new CAs) or
 * removed.
 */
static int
crld_config(struct childproc *cp, struct conf_bundle *nb,
    struct conf_bundle *ob)
{
	struct crl_source	*c;
	struct crl_src		*s, *tmp;
	int			 changed;

	crld.cp = cp;
	crld_load_cas(nb);
	TAILQ_FOREACH(s, &crld.srcs, entry)
		s->gone = 1;
	TAILQ_FOREACH(c, &nb->conf->crls, entry) {
		TAILQ_FOREACH(s, &crld.srcs, entry)
			if (strcmp(s->name, c->name) == 0)
				break;
		changed = 1;
		if (s == NULL) {
			if ((s = calloc(1, sizeof(*s))) == NULL ||
			    (s->name = strdup(c->name)) == NULL)
				fatal(NULL);
			s->timer = evtimer_new(cp->base, crld_timer_cb, s);
			TAILQ_INSERT_TAIL(&crld.srcs, s, entry);
		} else
			changed = source_changed(s->conf, c);
		s->gone = 0;
		s->conf = c;
		s->attempted = 0;
		/* New CA certificates: the CRL in use must verify again. */
		if (memcmp(s->cas_hash, crld_cas_for(s)->hash,
		    sizeof(s->cas_hash)) != 0)
			changed = 1;
		memcpy(s->cas_hash, crld_cas_for(s)->hash,
		    sizeof(s->cas_hash));
		if (changed) {
			crl_fetch_cancel(s->fetch);
			s->fetch = NULL;
			crl_data_free(s->cur);
			s->cur = NULL;
			crld_load_cached(s);
			if (c->enabled)
				crld_schedule_at(s, time(NULL));
		}
		if (!c->enabled) {
			evtimer_del(s->timer);
			s->next_fetch = 0;
			crl_fetch_cancel(s->fetch);
			s->fetch = NULL;
			src_result(s, "disabled");
		} else if (!changed && s->next_fetch == 0)
			crld_schedule_at(s, time(NULL));
		else if (!changed && s->fetch == NULL)
			crld_schedule(s);
	}
	for (s = TAILQ_FIRST(&crld.srcs); s != NULL; s = tmp) {
		tmp = TAILQ_NEXT(s, entry);
		if (!s->gone)
			continue;
		log_info("crl %s: removed from the configuration", s->name);
		crl_cache_remove(nb->conf->crl_cachedir, s->name);
		crld_req_progress(s, 1);
		TAILQ_REMOVE(&crld.srcs, s, entry);
		crld_src_free(s);
	}
	/* Stale policies or the set of sources may have changed. */
	crld_send_set();
	crld_send_status();
	/* Issue 5 item 7: OCSP settings (ocsp.c). */
	ocsp_config(nb->conf, crld.sysca, crld.syscalen);
	return 0;
}

/*
 * Does this CRL list the certificates of the issuer with this name hash?
 * A full CRL of that issuer does; a delta CRL alone does not (it only
 * amends one); an indirect CRL does for the issuers it names.
 */
static int
crl_covers(const struct crl_data *d, const uint8_t h[CRLSET_HASH_LEN])
{
	uint8_t	 nh[CRLSET_HASH_LEN];
	size_t	 i;

	if (d->flags & CRLSET_CRL_DELTA)
		return 0;
	if (memcmp(d->issuer_hash, h, CRLSET_HASH_LEN) == 0)
		return 1;
	for (i = 0; i < d->nnames; i++) {
		crlset_issuer_hash(d->names[i].der, d->names[i].len, nh);
		if (memcmp(nh, h, sizeof(nh)) == 0)
			return 1;
	}
	return 0;
}

/*
 * Warn once per generation, after every source had its first attempt,
 * for each CA of a listener's bundle that issues certificates we check
 * and has no CRL: under fail-closed those certificates are refused.
 */
static void
crld_warn_uncovered(void)
{
	struct smtpcertd_conf	*conf = crld.cp->conf->conf;
	struct listener		*l;
	struct crl_src		*s;
	const struct crl_cas	*cas;
	X509			*x;
	unsigned char		*der;
	uint8_t			 h[CRLSET_HASH_LEN];
	char			 name[512];
	size_t			 i;
	int			 j, n, check, found;

	if (crld.warned_gen == crld.cp->conf->gen)
		return;
	TAILQ_FOREACH(s, &crld.srcs, entry)
		if (s->conf->enabled && !s->attempted)
			return;
	crld.warned_gen = crld.cp->conf->gen;
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->ca_name == NULL)
			continue;
		check = (l->proto == LISTEN_SMTP || l->proto == LISTEN_SMTPS) ?
		    conf->crl_check_inbound : conf->crl_check_proxy;
		if (!check)
			continue;
		for (i = 0, cas = NULL; i < crld.ncas; i++)
			if (strcmp(crld.cas[i].name, l->ca_name) == 0)
				cas = &crld.cas[i].cas;
		if (cas == NULL)
			continue;
		for (j = 0; j < sk_X509_num(cas->certs); j++) {
			x = sk_X509_value(cas->certs, j);
			if (X509_check_ca(x) <= 0)
				continue;
			der = NULL;
			if ((n = i2d_X509_NAME(X509_get_subject_name(x),
			    &der)) <= 0)
				continue;
			crlset_issuer_hash(der, n, h);
			OPENSSL_free(der);
			found = 0;
			TAILQ_FOREACH(s, &crld.srcs, entry)
				if (s->conf->enabled && s->cur != NULL &&
				    crl_covers(s->cur, h))
					found = 1;
			if (found)
				continue;
			certfields_dn_print(X509_get_subject_name(x), name,
			    sizeof(name));
			log_warnx("listener %u: ca \"%s\": issuing CA %s has "
			    "no CRL; with %s the certificates it issued are "
			    "%s", l->index, l->ca_name, name,
			    config_stale_name(conf->crl_stale),
			    conf->crl_stale == STALE_FAIL_CLOSED ?
			    "refused" : "accepted unchecked");
		}
	}
}

static void	crld_fetched(void *, int, unsigned char *, size_t,
		    const char *);

static void
crld_fetch_now(struct crl_src *s)
{
	const unsigned char	*cas;
	size_t			 caslen;

	if (s->fetch != NULL || !s->conf->enabled)
		return;
	evtimer_del(s->timer);
	s->trying_secondary = 0;
	s->first_error[0] = '\0';
	s->last_attempt = time(NULL);
	snprintf(s->url_used, sizeof(s->url_used), "%s", s->conf->url);
	log_trace(TRACE_CRL, "crl %s: fetching %s", s->name, s->conf->url);
	cas = crld_tls_cas_for(s, &caslen);
	s->fetch = crl_fetch_start(s->conf->url, cas, caslen, crld_fetched, s);
}

static void
crld_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	crld_fetch_now(arg);
}

static void
crld_fetched(void *arg, int ok, unsigned char *body, size_t len,
    const char *error)
{
	struct crl_src	*s = arg;
	struct crl_data	*d = NULL;
	const unsigned char *cas;
	unsigned char	*der = NULL;
	size_t		 derlen, caslen;
	char		 why[1024], t1[32], t2[32], werr[512];
	int		 r, changed = 0;

	s->fetch = NULL;
	log_trace(TRACE_CRL, "crl %s: download from %s: %s, %zu bytes",
	    s->name, s->url_used, ok ? "done" : error, len);
	if (!ok)
		src_result(s, "download from %s "
		    "failed: %s", s->url_used, error);
	else {
		r = crl_validate(body, len, s->conf->type,
		    url_is_ldap(s->url_used), crld_cas_for(s), s->cur,
		    time(NULL), &d, &der, &derlen, why, sizeof(why));
		free(body);
		log_trace(TRACE_CRL, "crl %s: validation: %s", s->name,
		    r == -1 ? why : r == 0 ? "same CRL as in use" :
		    "new CRL");
		if (r == -1) {
			ok = 0;
			src_result(s, "CRL from %s "
			    "rejected: %s", s->url_used, why);
		} else if (r == 0)
			src_result(s, "unchanged "
			    "(from %s)", s->url_used);
		else {
			if (crl_cache_write(crld.cp->conf->conf->crl_cachedir,
			    s->name, der, derlen, werr, sizeof(werr)) == -1)
				log_warnx("crl %s: not cached: %s", s->name,
				    werr);
			else
				log_trace(TRACE_CRL, "crl %s: %zu bytes "
				    "written to the cache", s->name, derlen);
			free(der);
			crl_data_free(s->cur);
			s->cur = d;
			changed = 1;
			fmt_time(d->this_update, t1, sizeof(t1));
			fmt_time(d->next_update, t2, sizeof(t2));
			src_result(s, "accepted from "
			    "%s: %zu entries%s, thisUpdate %s, nextUpdate "
			    "%s%s%s", s->url_used, d->nentries, crl_kind(d),
			    t1, t2,
			    d->next_update != 0 && d->next_update < time(NULL) ?
			    " (stale)" : "", crl_sigcheck(d));
			log_info("crl %s: %s", s->name, s->result);
		}
	}
	if (!ok) {
		log_warnx("crl %s: %s%s", s->name, s->result, s->cur != NULL ?
		    "; keeping the CRL in use" : "");
		if (!s->trying_secondary && s->conf->secondary != NULL) {
			strlcpy(s->first_error, s->result,
			    sizeof(s->first_error));
			s->trying_secondary = 1;
			s->last_attempt = time(NULL);
			snprintf(s->url_used, sizeof(s->url_used), "%s",
			    s->conf->secondary);
			log_info("crl %s: trying the secondary %s", s->name,
			    s->conf->secondary);
			cas = crld_tls_cas_for(s, &caslen);
			s->fetch = crl_fetch_start(s->conf->secondary,
			    cas, caslen, crld_fetched, s);
			return;
		}
		if (s->trying_secondary) {
			strlcpy(why, s->result, sizeof(why));
			strlcpy(s->result, s->first_error, sizeof(s->result));
			strlcat(s->result, "; ", sizeof(s->result));
			strlcat(s->result, why, sizeof(s->result));
		}
		if (s->cur != NULL)
			strlcat(s->result, "; CRL in use kept",
			    sizeof(s->result));
		s->failures++;
	} else {
		s->failures = 0;
		s->last_success = time(NULL);
	}
	/* Here, after a secondary's turn: one count per source update. */
	stats_inc(ok ? STAT_CRL_FETCH_OK : STAT_CRL_FETCH_FAILED);
	s->ok = ok;
	s->attempted = 1;
	crld_schedule(s);
	if (changed)
		crld_send_set();
	crld_send_status();
	crld_req_progress(s, 0);
	crld_warn_uncovered();
}

/* --- to the parent ------------------------------------------------------ */

static void
crld_send_set(void)
{
	struct crlset_builder	*b;
	struct crlset_crl	 rec;
	struct crl_src		*s;
	struct msgbuild		 m;
	unsigned char		*buf;
	size_t			 len, ncrl = 0, nent = 0, i;
	int			 fd;

	if ((b = crlset_builder_new()) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(s, &crld.srcs, entry) {
		if (!s->conf->enabled || s->cur == NULL)
			continue;
		memset(&rec, 0, sizeof(rec));
		memcpy(rec.issuer_hash, s->cur->issuer_hash,
		    sizeof(rec.issuer_hash));
		memcpy(rec.keyid, s->cur->keyid, s->cur->keyidlen);
		rec.keyidlen = (uint8_t)s->cur->keyidlen;
		rec.stale = (uint8_t)s->conf->stale;
		rec.flags = s->cur->flags;
		rec.md_nid = s->cur->md_nid;
		memcpy(rec.digest, s->cur->digest, s->cur->digest_len);
		rec.digest_len = (uint8_t)s->cur->digest_len;
		rec.this_update = s->cur->this_update;
		rec.next_update = s->cur->next_update;
		snprintf(rec.source, sizeof(rec.source), "%s", s->name);
		if (crlset_builder_crl(b, &rec, s->cur->shell,
		    s->cur->shell_len) == -1)
			break;
		/* Entry issuer n is the CRL's name n (1-based). */
		for (i = 0; i < s->cur->nnames; i++)
			if (crlset_builder_name(b, s->cur->names[i].der,
			    s->cur->names[i].len) == -1)
				break;
		if (crlset_builder_entries(b, s->cur->entries,
		    s->cur->nentries) == -1)
			break;
		ncrl++;
		nent += s->cur->nentries;
	}
	if (crlset_builder_finish(b, ++crld.set_serial, time(NULL), &buf,
	    &len) == -1) {
		log_warn("revocation set not built");
		return;
	}
	if ((fd = crlset_memfd(buf, len)) == -1) {
		log_warn("revocation set: memfd");
		free(buf);
		return;
	}
	free(buf);
	/* Parsing a DoD-size CRL takes hundreds of MB that glibc would keep
	 * resident for good; what we keep is the entry arrays.  Give the
	 * rest back (madvise on free chunks; sandbox allows it). */
	malloc_trim(0);
	log_info("revocation set %llu: %zu CRLs, %zu entries, %zu bytes",
	    (unsigned long long)crld.set_serial, ncrl, nent, len);
	msg_init(&m);
	msg_put_u64(&m, crld.set_serial);
	msg_put_u64(&m, (uint64_t)len);
	imsgev_send(&crld.cp->parent, &m, IMSG_CRL_SET, 0, 0, fd);
	msg_free(&m);
}

static void
crld_send_status(void)
{
	struct crl_src		*s;
	struct crl_status	 st;
	struct msgbuild		 m;
	uint32_t		 i = 0, n = 0;

	TAILQ_FOREACH(s, &crld.srcs, entry)
		n++;
	msg_init(&m);
	if (n == 0) {
		msg_put_u32(&m, 0);
		msg_put_u32(&m, 0);
		imsgev_send(&crld.cp->parent, &m, IMSG_CRL_STATUS, 0, 0, -1);
	}
	TAILQ_FOREACH(s, &crld.srcs, entry) {
		memset(&st, 0, sizeof(st));
		st.name = s->name;
		st.url = s->conf->url;
		st.secondary = s->conf->secondary;
		st.url_used = s->url_used;
		st.result = s->result[0] ? s->result : "not attempted yet";
		st.issuer = s->cur != NULL ? s->cur->issuer : "";
		st.number = s->cur != NULL ? s->cur->number : "";
		st.enabled = s->conf->enabled;
		st.ok = s->ok;
		st.failures = s->failures;
		st.last_attempt = s->last_attempt;
		st.last_success = s->last_success;
		st.entries = s->cur != NULL ? s->cur->nentries : 0;
		st.this_update = s->cur != NULL ? s->cur->this_update : 0;
		st.next_update = s->cur != NULL ? s->cur->next_update : 0;
		st.next_fetch = s->conf->enabled ? s->next_fetch : 0;
		msg_put_u32(&m, i++);
		msg_put_u32(&m, n);
		crl_status_put(&m, &st);
		imsgev_send(&crld.cp->parent, &m, IMSG_CRL_STATUS, 0, 0, -1);
	}
	msg_free(&m);
}

static void
crld_req_done(struct crl_req *q)
{
	struct msgbuild	 m;

	msg_init(&m);
	msg_put_u32(&m, q->ok);
	msg_put_u64(&m, crld.set_serial);
	msg_put_str(&m, q->summary != NULL ? q->summary : "");
	imsgev_send(&crld.cp->parent, &m, IMSG_CRL_UPDATE_DONE, 0, q->reqid,
	    -1);
	msg_free(&m);
	TAILQ_REMOVE(&crld.reqs, q, entry);
	free(q->srcs);
	free(q->summary);
	free(q);
}

static void
req_append(struct crl_req *q, const char *name, const char *text)
{
	size_t	 add = strlen(name) + strlen(text) + 4;
	char	*n;

	if (q->sumlen + add > CRL_MAX_SUMMARY - 16)
		return;
	if ((n = realloc(q->summary, q->sumlen + add + 1)) == NULL)
		fatal(NULL);
	q->summary = n;
	q->sumlen += snprintf(q->summary + q->sumlen, add + 1, "%s%s: %s",
	    q->sumlen ? "\n" : "", name, text);
}

/* A source finished an attempt (or went away): tell who waits. */
static void
crld_req_progress(struct crl_src *s, int removed)
{
	struct crl_req	*q, *tmp;
	size_t		 i;

	for (q = TAILQ_FIRST(&crld.reqs); q != NULL; q = tmp) {
		tmp = TAILQ_NEXT(q, entry);
		for (i = 0; i < q->nsrcs; i++) {
			if (q->srcs[i] != s)
				continue;
			q->srcs[i] = NULL;
			q->left--;
			req_append(q, s->name, removed ?
			    "removed from the configuration" : s->result);
			if (removed || !s->ok)
				q->ok = 0;
		}
		if (q->left == 0)
			crld_req_done(q);
	}
}

/* IMSG_CRL_UPDATE: fetch now, answer when every attempt is over. */
static void
crld_update(struct imsg *imsg)
{
	struct msgreader	 r;
	struct crl_req		*q;
	struct crl_src		*s;
	char			*name;
	size_t			 n = 0;

	msg_reader(&r, imsg);
	name = msg_get_str(&r, CONFIG_NAME_MAX);
	if (msg_end(&r) == -1)
		fatalx("malformed IMSG_CRL_UPDATE from parent");
	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal(NULL);
	q->reqid = imsg->hdr.reqid;
	q->ok = 1;
	TAILQ_INSERT_TAIL(&crld.reqs, q, entry);
	TAILQ_FOREACH(s, &crld.srcs, entry)
		n++;
	if ((q->srcs = calloc(n ? n : 1, sizeof(*q->srcs))) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(s, &crld.srcs, entry) {
		if (*name != '\0' && strcmp(name, s->name) != 0)
			continue;
		if (!s->conf->enabled) {
			req_append(q, s->name, "disabled, not fetched");
			if (*name != '\0')
				q->ok = 0;
			continue;
		}
		q->srcs[q->nsrcs++] = s;
		q->left++;
	}
	if (*name != '\0' && q->nsrcs == 0 && q->summary == NULL) {
		req_append(q, name, "no such crl source");
		q->ok = 0;
	}
	if (q->nsrcs == 0 && q->summary == NULL)
		req_append(q, "crl", "no crl sources configured");
	log_info("crl update requested for %s", *name ? name : "all sources");
	free(name);
	if (q->left == 0) {
		crld_req_done(q);
		return;
	}
	/* A fetch already in flight counts: its result answers. */
	for (n = 0; n < q->nsrcs; n++) {
		q->srcs[n]->failures = 0;
		crld_fetch_now(q->srcs[n]);
	}
}

static void
crld_parent(struct childproc *cp, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_CRL_UPDATE:
		crld_update(imsg);
		return;
	}
	fatalx("unexpected %s from parent", imsg_type_name(imsg->hdr.type));
}

static void
crld_preinit(struct childproc *cp)
{
	crld.cp = cp;
	TAILQ_INIT(&crld.srcs);
	TAILQ_INIT(&crld.reqs);
	/* libcurl reads its config and initialises OpenSSL now, while
	 * files may still be read. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init");
	crl_fetch_init(cp->base);
	ocsp_init(cp);		/* issue 5 item 7 */
	/* OCSP responses and CRL servers bring certificates to parse
	 * (pkeydecode.h). */
	pkeydecode_init();
}

static void
crld_sandbox(struct childproc *cp)
{
	sandbox_crld(cp->conf->conf->crl_cachedir);
}

static void
crld_peer(struct childproc *cp, int proc, struct imsg *imsg)
{
	/* Issue 5 item 7: the front's OCSP requests (ocsp.c). */
	if (slot_proc(proc) == PROC_FRONT) {
		ocsp_front_imsg(proc, imsg);
		return;
	}
	if (imsg == NULL)
		return;
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(proc));
}

static void
crld_shutdown(struct childproc *cp)
{
	struct crl_src	*s;

	while ((s = TAILQ_FIRST(&crld.srcs)) != NULL) {
		TAILQ_REMOVE(&crld.srcs, s, entry);
		crld_src_free(s);
	}
	crld_free_cas();
	ocsp_shutdown();
}

/* `show stats': the state of the sources, as gauges. */
static void
crld_stats(struct childproc *cp)
{
	struct crl_src	*s, *last = NULL;
	uint64_t	 n = 0, inuse = 0, failing = 0, stale = 0, entries = 0;
	time_t		 now = time(NULL);

	TAILQ_FOREACH(s, &crld.srcs, entry) {
		n++;
		if (s->cur != NULL) {
			inuse++;
			entries += s->cur->nentries;
			if (s->cur->next_update != 0 &&
			    s->cur->next_update < now)
				stale++;
		}
		if (s->last_attempt != 0 && !s->ok)
			failing++;
		if (s->last_attempt != 0 && (last == NULL ||
		    s->last_attempt >= last->last_attempt))
			last = s;
	}
	stats_set(STAT_CRL_SOURCES, n);
	stats_set(STAT_CRL_SOURCES_INUSE, inuse);
	stats_set(STAT_CRL_SOURCES_FAILING, failing);
	stats_set(STAT_CRL_SOURCES_STALE, stale);
	stats_set(STAT_CRL_ENTRIES, entries);
	stats_set(STAT_CRL_LAST_FETCH, last != NULL ?
	    (uint64_t)last->last_attempt : 0);
	stats_set(STAT_CRL_LAST_FETCH_OK, last != NULL && last->ok);
}

static const struct childproc_ops crld_ops = {
	.proc = PROC_CRLD,
	.peers = 1U << PROC_FRONT,
	.preinit = crld_preinit,
	.sandbox = crld_sandbox,
	.config = crld_config,
	.parent_imsg = crld_parent,
	.peer_imsg = crld_peer,
	.shutdown = crld_shutdown,
	.stats = crld_stats,
};

int
main(int argc, char *argv[])
{
	return childproc_run(argc, argv, &crld_ops, &crld);
}
