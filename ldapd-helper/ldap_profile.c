/*
 * A configuration generation as ldapd-helper uses it: per LDAP profile
 * its servers (parsed URLs, failover state), the service password, the
 * profile's TLS configuration with its CA bundle, an empty cache and an
 * empty connection pool.
 *
 * Reload: the new generation serves new requests at once; requests in
 * flight finish on the old one, which keeps its connections and its
 * config bundle until its last request is done (refs), then closes
 * everything.  Nothing in flight is failed by a reload.
 *
 * The CA bundle: only the parent reads config-named files, so a `tls ca'
 * PEM arrives as memory (IMSG_CONF_CA) and goes straight into the
 * profile's libtls configuration (tls_config_set_ca_mem copies it).  A
 * profile without `tls ca' trusts the system bundle, read here, once per
 * generation: a TLS handshake (ldap_conn.c) then opens no file at all.
 */
#include <sys/uio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <tls.h>

#include "compat.h"
#include "confmsg.h"
#include "ldapd.h"
#include "log.h"

static int	lprofile_servers(struct lprofile *);
static void	lprofile_tls(struct lprofile *, struct conf_bundle *);
static void	lprofile_free(struct lprofile *);
static void	lgen_free_cb(evutil_socket_t, short, void *);

static int
lprofile_servers(struct lprofile *p)
{
	struct ldap_server	*s;
	struct lserver		*ls;
	LDAPURLDesc		*lud;
	size_t			 n = 0;

	TAILQ_FOREACH(s, &p->conf->servers, entry)
		n++;
	p->servers = xcalloc(n ? n : 1, sizeof(*p->servers));
	TAILQ_FOREACH(s, &p->conf->servers, entry) {
		if (ldap_url_parse(s->url, &lud) != LDAP_URL_SUCCESS) {
			log_warnx("ldap \"%s\": server %s: not an LDAP URL, "
			    "skipped", p->conf->name, s->url);
			continue;
		}
		if (lud->lud_scheme == NULL || lud->lud_host == NULL ||
		    *lud->lud_host == '\0' ||
		    (strcasecmp(lud->lud_scheme, "ldap") != 0 &&
		    strcasecmp(lud->lud_scheme, "ldaps") != 0)) {
			log_warnx("ldap \"%s\": server %s: need ldap:// or "
			    "ldaps:// with a host, skipped", p->conf->name,
			    s->url);
			ldap_free_urldesc(lud);
			continue;
		}
		ls = &p->servers[p->nservers++];
		ls->url = xstrdup(s->url);
		ls->host = xstrdup(lud->lud_host);
		ls->ldaps = strcasecmp(lud->lud_scheme, "ldaps") == 0;
		ls->starttls = s->starttls && !ls->ldaps;
		snprintf(ls->port, sizeof(ls->port), "%d", lud->lud_port ?
		    lud->lud_port : (ls->ldaps ? LDAPS_PORT : LDAP_PORT));
		ls->backoff = LDAPD_BACKOFF_MIN;
		ldap_free_urldesc(lud);
	}
	return 0;
}

/*
 * The trust anchors of TLS to the profile's servers.  No configuration
 * (tlscfg NULL) makes every TLS connection of the profile fail: never
 * other anchors than the configured ones.  Verification of the chain and
 * of the server name is libtls's default and stays on.
 */
static void
lprofile_tls(struct lprofile *p, struct conf_bundle *b)
{
	const struct conf_blob	*cb;
	struct tls_config	*cfg;
	const uint8_t		*ca;
	uint8_t			*sys = NULL;
	size_t			 calen, syslen = 0;

	p->tlscfg = NULL;
	if (p->conf->tls_ca_name != NULL) {
		if ((cb = conf_bundle_blob(b, IMSG_CONF_CA,
		    p->conf->tls_ca_name)) == NULL) {
			log_warnx("ldap \"%s\": tls ca \"%s\" was not sent; "
			    "TLS to its servers will fail", p->conf->name,
			    p->conf->tls_ca_name);
			return;
		}
		ca = cb->a;
		calen = cb->alen;
	} else {
		if ((sys = tls_load_file(LDAPD_SYSTEM_CA_FILE, &syslen,
		    NULL)) == NULL) {
			log_warn("ldap \"%s\": %s; TLS to its servers will "
			    "fail", p->conf->name, LDAPD_SYSTEM_CA_FILE);
			return;
		}
		ca = sys;
		calen = syslen;
	}
	if ((cfg = tls_config_new()) == NULL)
		fatalx("tls_config_new");
	if (tls_config_set_ca_mem(cfg, ca, calen) == -1) {
		log_warnx("ldap \"%s\": CA bundle: %s; TLS to its servers "
		    "will fail", p->conf->name, tls_config_error(cfg));
		tls_config_free(cfg);
	} else
		p->tlscfg = cfg;
	if (sys != NULL)
		tls_unload_file(sys, syslen);
}

struct lgen *
lgen_new(struct conf_bundle *b)
{
	struct lgen		*g;
	struct lprofile		*p;
	struct ldap_profile	*lp;
	const struct conf_blob	*cb;
	int			 k;

	g = xcalloc(1, sizeof(*g));
	g->bundle = b;
	g->refs = 1;
	TAILQ_INIT(&g->profiles);
	TAILQ_FOREACH(lp, &b->conf->ldaps, entry) {
		p = xcalloc(1, sizeof(*p));
		p->gen = g;
		p->conf = lp;
		TAILQ_INIT(&p->conns);
		for (k = 0; k < LCONN_NKINDS; k++)
			TAILQ_INIT(&p->wait[k]);
		lprofile_servers(p);
		if (p->nservers == 0)
			log_warnx("ldap \"%s\": no usable server; every "
			    "lookup fails temporarily", lp->name);
		if (lp->bind_dn != NULL) {
			cb = conf_bundle_blob(b, IMSG_CONF_SECRET, lp->name);
			if (cb == NULL)
				log_warnx("ldap \"%s\": bind password was not "
				    "sent", lp->name);
			else {
				p->password.bv_val = xcalloc(1, cb->alen + 1);
				memcpy(p->password.bv_val, cb->a, cb->alen);
				p->password.bv_len = cb->alen;
			}
		}
		lprofile_tls(p, b);
		p->cache = lcache_new(lp->cache_size, lp->cache_ttl,
		    lp->cache_negative_ttl, env->pwkey, sizeof(env->pwkey));
		TAILQ_INSERT_TAIL(&g->profiles, p, entry);
		log_trace(TRACE_LDAP, "ldap \"%s\": %zu server(s), pool %d, "
		    "timeout %ds, ca %s%s", lp->name, p->nservers,
		    lp->connections, lp->timeout, p->tlscfg == NULL ?
		    "(missing)" : lp->tls_ca_name == NULL ? "system" :
		    lp->tls_ca_name, p->tlscfg != NULL ? " in memory" : "");
	}
	/* libldap and libtls copy what they need: the blobs with the
	 * password and CA are wiped now rather than kept for the
	 * generation's life. */
	conf_bundle_wipe(b, IMSG_CONF_SECRET);
	conf_bundle_wipe(b, IMSG_CONF_CA);
	return g;
}

static void
lprofile_free(struct lprofile *p)
{
	size_t	 i;

	lconn_close_all(p);
	for (i = 0; i < p->nservers; i++) {
		free(p->servers[i].url);
		free(p->servers[i].host);
	}
	free(p->servers);
	if (p->password.bv_val != NULL) {
		explicit_bzero(p->password.bv_val, p->password.bv_len);
		free(p->password.bv_val);
	}
	/* After lconn_close_all(): connections hold references on it. */
	tls_config_free(p->tlscfg);
	lcache_free(p->cache);
	free(p);
}

void
lgen_ref(struct lgen *g)
{
	g->refs++;
}

/*
 * Freed from a fresh event-loop turn, never from inside the callback that
 * dropped the last reference: that may be a connection's read handler
 * of this very generation.
 */
static void
lgen_free_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct lgen	*g = arg;
	struct lprofile	*p;

	while ((p = TAILQ_FIRST(&g->profiles)) != NULL) {
		TAILQ_REMOVE(&g->profiles, p, entry);
		lprofile_free(p);
	}
	log_trace(TRACE_LDAP, "configuration generation %llu released",
	    (unsigned long long)g->bundle->gen);
	conf_bundle_free(g->bundle);
	free(g);
}

void
lgen_unref(struct lgen *g)
{
	struct timeval	 tv = { 0, 0 };

	if (--g->refs > 0)
		return;
	if (event_base_once(env->base, -1, EV_TIMEOUT, lgen_free_cb, g,
	    &tv) == -1)
		fatalx("event_base_once");
}

struct lprofile *
lgen_profile(struct lgen *g, const char *name)
{
	struct lprofile	*p;

	TAILQ_FOREACH(p, &g->profiles, entry)
		if (strcmp(p->conf->name, name) == 0)
			return p;
	return NULL;
}

void
lgen_flush(struct lgen *g)
{
	struct lprofile	*p;

	TAILQ_FOREACH(p, &g->profiles, entry)
		lcache_flush(p->cache);
}

size_t
lgen_cache_count(struct lgen *g)
{
	struct lprofile	*p;
	size_t		 n = 0;

	TAILQ_FOREACH(p, &g->profiles, entry)
		n += lcache_count(p->cache);
	return n;
}
