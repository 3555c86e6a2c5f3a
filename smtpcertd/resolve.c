/*
 * Relay host names are resolved here, in the parent, because the front is
 * chrooted and may not resolve anything.  Each name becomes one host entry
 * per address, in the resolver's order, with the name kept as the
 * certificate name to verify ("host ADDR port N name NAME"), so the
 * front's failover and TLS checks work on addresses alone.
 *
 * E-mail proxy back-end servers are resolved the same way, but a server
 * stays one entry: its first address becomes the host and the others
 * "address" options (the front tries them in order when one cannot be
 * reached), with the name kept ("name NAME") both for certificate
 * verification and for the allowed-server check, which compares what
 * the user typed with that name.  A name
 * that does not resolve stays as it is (the front then refuses sessions
 * for it with a clear reply) rather than failing the whole reload.
 *
 * This runs at start, at every reload, and every "resolve every" (5
 * minutes by default): the timer parses the running generation's
 * configuration as it was before resolution, resolves it again, and only
 * when the addresses differ (as sets: a DNS server rotating its answers
 * changes nothing) installs a new generation with them, keeping every
 * file of the running one.  Sessions then behave as after a reload.  A
 * name that no longer resolves keeps the addresses in use.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "confmsg.h"
#include "log.h"
#include "smtpcertd.h"

/* Enough for any sane MX; more addresses are ignored. */
#define RESOLVE_MAX_ADDRS	16

/* Names that did not resolve in the last resolve_relays(). */
static int	resolve_failures;

static int
is_address(const char *h)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	return inet_pton(AF_INET, h, &a4) == 1 ||
	    inet_pton(AF_INET6, h, &a6) == 1;
}

/*
 * Whether the resolver gave no answer rather than "no such name": the
 * machine is offline or its DNS is down.
 */
static int
resolve_no_answer(int error)
{
	return error == EAI_AGAIN || error == EAI_FAIL || error == EAI_SYSTEM;
}

static int
resolve_relay(struct relay *r, int check)
{
	struct relay_host	*h, *next, *n, *after;
	struct addrinfo		 hints, *res, *ai;
	char			 addr[NI_MAXHOST];
	int			 error, count, no_answer = 0, no_name = 0;

	/* Without any host, config_finish() has said so. */
	if (TAILQ_EMPTY(&r->hosts))
		return -1;
	for (h = TAILQ_FIRST(&r->hosts); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (is_address(h->host))
			continue;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if ((error = getaddrinfo(h->host, NULL, &hints, &res)) != 0) {
			resolve_failures++;
			if (resolve_no_answer(error))
				no_answer++;
			else
				no_name++;
			log_warnx("%s:%d: warning: relay %s: cannot resolve "
			    "%s: %s", r->src.file, r->src.line, r->name,
			    h->host, gai_strerror(error));
			TAILQ_REMOVE(&r->hosts, h, entry);
			free(h->host);
			free(h->tls_name);
			free(h);
			continue;
		}
		after = h;
		count = 0;
		for (ai = res; ai != NULL && count < RESOLVE_MAX_ADDRS;
		    ai = ai->ai_next) {
			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr,
			    sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
				continue;
			if ((n = calloc(1, sizeof(*n))) == NULL ||
			    (n->host = strdup(addr)) == NULL ||
			    (n->tls_name = strdup(h->tls_name != NULL ?
			    h->tls_name : h->host)) == NULL)
				fatal(NULL);
			n->port = h->port;
			TAILQ_INSERT_AFTER(&r->hosts, after, n, entry);
			after = n;
			count++;
		}
		freeaddrinfo(res);
		log_trace(TRACE_UPSTREAM, "relay %s: %s has %d address%s",
		    r->name, h->host, count, count == 1 ? "" : "es");
		TAILQ_REMOVE(&r->hosts, h, entry);
		free(h->host);
		free(h->tls_name);
		free(h);
	}
	if (TAILQ_EMPTY(&r->hosts)) {
		if (check && no_name == 0 && no_answer > 0) {
			log_warnx("%s:%d: warning: relay %s: no host has an "
			    "address now (the resolver gave no answer); "
			    "smtpcertd will not start until one has",
			    r->src.file, r->src.line, r->name);
			return 0;
		}
		log_warnx("%s:%d: relay %s: no host has an address",
		    r->src.file, r->src.line, r->name);
		return -1;
	}
	return 0;
}

static void
resolve_proxy_server(struct proxy_profile *p, struct proxy_server *s)
{
	struct addrinfo	 hints, *res, *ai;
	char		 addr[NI_MAXHOST], *first = NULL;
	int		 error;

	if (s == NULL || is_address(s->host))
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(s->host, NULL, &hints, &res)) != 0) {
		resolve_failures++;
		log_warnx("%s:%d: warning: proxy %s: cannot resolve server "
		    "%s: %s",
		    p->src.file, p->src.line, p->name, s->host,
		    gai_strerror(error));
		return;
	}
	/* The first address is the server's host, the others its
	 * "address"es, tried in this order. */
	for (ai = res; ai != NULL && s->nalt < PROXY_SERVER_ALT_MAX;
	    ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr,
		    sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		if (first == NULL) {
			if ((first = strdup(addr)) == NULL)
				fatal(NULL);
		} else if ((s->alt[s->nalt++] = strdup(addr)) == NULL)
			fatal(NULL);
	}
	freeaddrinfo(res);
	if (first == NULL)
		return;
	log_trace(TRACE_PROXY, "proxy %s: server %s is %s and %d more",
	    p->name, s->host, first, s->nalt);
	if (s->tls_name == NULL)
		s->tls_name = s->host;
	else
		free(s->host);
	s->host = first;
}

/* Relays and e-mail proxy back ends (see above). */
int
resolve_relays(struct smtpcertd_conf *conf, int check)
{
	struct relay		*r;
	struct proxy_profile	*p;
	struct proxy_server	*s;
	int			 errors = 0;

	resolve_failures = 0;
	TAILQ_FOREACH(r, &conf->relays, entry)
		if (resolve_relay(r, check) == -1)
			errors++;
	TAILQ_FOREACH(p, &conf->proxies, entry) {
		resolve_proxy_server(p, p->default_server);
		TAILQ_FOREACH(s, &p->allowed, entry)
			resolve_proxy_server(p, s);
	}
	return errors ? -1 : 0;
}

/* 0 if the two lists hold the same (address, port, name) entries. */
static int
relay_hosts_differ(const struct relay *a, const struct relay *b)
{
	const struct relay_host	*h, *k;
	int			 na = 0, nb = 0, found;

	TAILQ_FOREACH(h, &a->hosts, entry)
		na++;
	TAILQ_FOREACH(k, &b->hosts, entry)
		nb++;
	if (na != nb)
		return 1;
	TAILQ_FOREACH(h, &a->hosts, entry) {
		found = 0;
		TAILQ_FOREACH(k, &b->hosts, entry)
			if (strcmp(h->host, k->host) == 0 &&
			    h->port == k->port &&
			    (h->tls_name == NULL) == (k->tls_name == NULL) &&
			    (h->tls_name == NULL ||
			    strcmp(h->tls_name, k->tls_name) == 0))
				found = 1;
		if (!found)
			return 1;
	}
	return 0;
}

static int
server_has(const struct proxy_server *s, const char *addr)
{
	int	 i;

	if (strcmp(s->host, addr) == 0)
		return 1;
	for (i = 0; i < s->nalt; i++)
		if (strcmp(s->alt[i], addr) == 0)
			return 1;
	return 0;
}

/* 0 if both have the same addresses, in whatever order. */
static int
server_differs(const struct proxy_server *a, const struct proxy_server *b)
{
	int	 i;

	if (a == NULL || b == NULL)
		return a != b;
	if (a->nalt != b->nalt || !server_has(b, a->host))
		return 1;
	for (i = 0; i < a->nalt; i++)
		if (!server_has(b, a->alt[i]))
			return 1;
	return 0;
}

/*
 * Whether re-resolution changed anything.  Both come from the same text,
 * so relays, proxies and their servers are in the same order.
 */
static int
resolve_differs(const struct smtpcertd_conf *a, const struct smtpcertd_conf *b)
{
	const struct relay		*ra, *rb;
	const struct proxy_profile	*pa, *pb;
	const struct proxy_server	*sa, *sb;

	for (ra = TAILQ_FIRST(&a->relays), rb = TAILQ_FIRST(&b->relays);
	    ra != NULL && rb != NULL;
	    ra = TAILQ_NEXT(ra, entry), rb = TAILQ_NEXT(rb, entry))
		if (relay_hosts_differ(ra, rb))
			return 1;
	if (ra != NULL || rb != NULL)
		return 1;
	for (pa = TAILQ_FIRST(&a->proxies), pb = TAILQ_FIRST(&b->proxies);
	    pa != NULL && pb != NULL;
	    pa = TAILQ_NEXT(pa, entry), pb = TAILQ_NEXT(pb, entry)) {
		if (server_differs(pa->default_server, pb->default_server))
			return 1;
		for (sa = TAILQ_FIRST(&pa->allowed),
		    sb = TAILQ_FIRST(&pb->allowed); sa != NULL && sb != NULL;
		    sa = TAILQ_NEXT(sa, entry), sb = TAILQ_NEXT(sb, entry))
			if (server_differs(sa, sb))
				return 1;
		if (sa != NULL || sb != NULL)
			return 1;
	}
	return pa != NULL || pb != NULL;
}

static struct event	*resolve_ev;
/* How a new generation is made the running one: smtpcertd.c's, which
 * calls us (resolve_init()). */
static void		(*resolve_install)(struct conf_bundle *);

void
resolve_init(void (*install)(struct conf_bundle *))
{
	resolve_install = install;
}

static void
resolve_tick(evutil_socket_t fd, short event, void *arg)
{
	struct conf_bundle	*old = parent->cur, *b;
	struct smtpcertd_conf	*conf;
	size_t			 len;

	conf = config_parse_text("re-resolution", old->names_text,
	    strlen(old->names_text));
	if (conf == NULL) {
		/* It parsed when it was loaded: a bug, not the site's. */
		log_warnx("re-resolution: the configuration does not parse");
		resolve_schedule();
		return;
	}
	/* Any name that did not resolve (DNS down, say) keeps every
	 * address in use: better the old addresses than fewer. */
	if (resolve_relays(conf, 0) == -1 || resolve_failures > 0) {
		log_warnx("re-resolution failed, the addresses in use stay");
		config_free(conf);
		resolve_schedule();
		return;
	}
	if (!resolve_differs(old->conf, conf)) {
		log_trace(TRACE_UPSTREAM, "re-resolution: no change");
		config_free(conf);
		resolve_schedule();
		return;
	}
	b = conf_bundle_new(++parent->next_gen);
	b->conf = conf;
	if ((b->text = config_text(conf, &len)) == NULL ||
	    (b->names_text = strdup(old->names_text)) == NULL)
		fatalx("re-resolution: out of memory");
	b->textlen = len;
	conf_bundle_copy_blobs(b, old);
	if (listen_bind_all(b, old) == -1) {
		/* Same listeners as old: cannot happen but by running out of
		 * descriptors. */
		log_warnx("re-resolution: could not hand over the listeners");
		conf_bundle_free(b);
		resolve_schedule();
		return;
	}
	log_info("host addresses changed: configuration generation %llu",
	    (unsigned long long)b->gen);
	resolve_install(b);	/* reschedules */
}

void
resolve_schedule(void)
{
	const struct conf_bundle	*b = parent->cur;
	struct timeval			 tv;

	if (resolve_ev == NULL &&
	    (resolve_ev = evtimer_new(parent->base, resolve_tick, NULL)) == NULL)
		fatalx("evtimer_new");
	evtimer_del(resolve_ev);
	/* Nothing to do when every host was given as an address. */
	if (b == NULL || b->conf->resolve_every == 0 || b->names_text == NULL ||
	    strcmp(b->names_text, b->text) == 0)
		return;
	tv.tv_sec = b->conf->resolve_every;
	tv.tv_usec = 0;
	evtimer_add(resolve_ev, &tv);
}
