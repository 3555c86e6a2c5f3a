/*
 * Relay host names are resolved here, in the parent, because the front is
 * chrooted and may not resolve anything.  Each name becomes one host entry
 * per address, in the resolver's order, with the name kept as the
 * certificate name to verify ("host ADDR port N name NAME"), so the
 * front's failover and TLS checks work on addresses alone.
 *
 * E-mail proxy back-end servers are resolved the same way, but a server
 * is one host: it becomes its first address, with the name kept ("name
 * NAME") both for certificate verification and for the allowed-server
 * check, which compares what the user typed with that name.  A name
 * that does not resolve stays as it is (the front then refuses sessions
 * for it with a clear reply) rather than failing the whole reload.
 *
 * This runs at start and at every reload.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "smtpcertd.h"

/* Enough for any sane MX; more addresses are ignored. */
#define RESOLVE_MAX_ADDRS	16

static int
is_address(const char *h)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	return inet_pton(AF_INET, h, &a4) == 1 ||
	    inet_pton(AF_INET6, h, &a6) == 1;
}

static int
resolve_relay(struct relay *r)
{
	struct relay_host	*h, *next, *n, *after;
	struct addrinfo		 hints, *res, *ai;
	char			 addr[NI_MAXHOST];
	int			 error, count;

	for (h = TAILQ_FIRST(&r->hosts); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (is_address(h->host))
			continue;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if ((error = getaddrinfo(h->host, NULL, &hints, &res)) != 0) {
			log_warnx("%s:%d: relay %s: cannot resolve %s: %s",
			    r->src.file, r->src.line, r->name, h->host,
			    gai_strerror(error));
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
		log_warnx("%s:%d: relay %s: no host has an address",
		    r->src.file, r->src.line, r->name);
		return -1;
	}
	return 0;
}

static void
resolve_proxy_server(struct proxy_profile *p, struct proxy_server *s)
{
	struct addrinfo	 hints, *res;
	char		 addr[NI_MAXHOST];
	int		 error;

	if (s == NULL || is_address(s->host))
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(s->host, NULL, &hints, &res)) != 0) {
		log_warnx("%s:%d: proxy %s: cannot resolve server %s: %s",
		    p->src.file, p->src.line, p->name, s->host,
		    gai_strerror(error));
		return;
	}
	error = getnameinfo(res->ai_addr, res->ai_addrlen, addr, sizeof(addr),
	    NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (error != 0)
		return;
	log_trace(TRACE_PROXY, "proxy %s: server %s is %s", p->name, s->host,
	    addr);
	if (s->tls_name == NULL)
		s->tls_name = s->host;
	else
		free(s->host);
	if ((s->host = strdup(addr)) == NULL)
		fatal(NULL);
}

/* Relays and e-mail proxy back ends (see above). */
int
resolve_relays(struct smtpcertd_conf *conf)
{
	struct relay		*r;
	struct proxy_profile	*p;
	struct proxy_server	*s;
	int			 errors = 0;

	TAILQ_FOREACH(r, &conf->relays, entry)
		if (resolve_relay(r) == -1)
			errors++;
	TAILQ_FOREACH(p, &conf->proxies, entry) {
		resolve_proxy_server(p, p->default_server);
		TAILQ_FOREACH(s, &p->allowed, entry)
			resolve_proxy_server(p, s);
	}
	return errors ? -1 : 0;
}
