/*
 * The front's step between accept() and a session: who the client is.
 *
 * On most listeners that is the socket's peer.  On a listener with
 * proxy-protocol the peer is a load balancer, and the client is what the
 * balancer's PROXY header says (smtpcertd/front/proxyproto.h); the header is read
 * here, before TLS or the greeting, without blocking and under a
 * deadline, and the session starts with the real address, which is then
 * what its log lines, the failed-login limiter, the unauthenticated-
 * session limit, `show sessions', XCLIENT, the Received: field and the
 * proxy's accounting see.  A listener with proxy-protocol never guesses
 * whether a header is there: no valid header, no session.
 *
 * Only the header's bytes are read: each read peeks, the parser says how
 * many of the peeked bytes were header, and exactly those are consumed.
 * A TLS ClientHello or an SMTP command pipelined behind the header stays
 * in the socket for the session.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "config.h"
#include "front.h"
#include "fronts.h"
#include "kvlog.h"
#include "log.h"
#include "proxy.h"
#include "proxyproto.h"
#include "stats.h"

/*
 * How long a balancer has to send its header, in seconds.  Balancers
 * send it at once with the connection (the spec asks them to), so a few
 * seconds cover a lost segment: the spec suggests at least 3 for one TCP
 * retransmission.  A connection without a header within that time is
 * not from a working balancer.  Never longer than the listener's idle
 * timeout: a session would not wait longer for a silent client either.
 */
#define ACCEPT_PROXY_TIMEOUT	5

/* A connection whose PROXY header is still being read. */
struct accept_wait {
	TAILQ_ENTRY(accept_wait) entry;
	int			 fd;
	struct front_gen	*gen;		/* held for the session */
	const struct listener	*l;		/* of gen */
	struct front_peer	 lb;		/* the socket's peer */
	struct event		*ev;
	struct event		*timer;
	int			 timeout;	/* s, for the log line */
	struct proxyproto	 pp;
};

static TAILQ_HEAD(, accept_wait) accept_waits =
    TAILQ_HEAD_INITIALIZER(accept_waits);
static unsigned		 accept_nwaits;

static void	accept_start(int, struct front_gen *, const struct listener *,
		    const struct front_peer *);
static void	accept_proxy_read(evutil_socket_t, short, void *);
static void	accept_proxy_timeout(evutil_socket_t, short, void *);
static void	accept_wait_free(struct accept_wait *);
static int	accept_from_balancer(const struct listener *,
		    const struct sockaddr *);
static void	accept_log(const struct front_peer *, const struct listener *,
		    const char *, const char *, int);
static void	accept_refuse(struct accept_wait *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/*
 * A socket address as sessions show it: numeric host and port, "unknown"
 * and 0 when it cannot be written.  An IPv4-mapped IPv6 address is
 * written as the IPv4 address it is: a balancer listening on IPv6 may
 * announce IPv4 clients that way, and the failed-login limiter and
 * XCLIENT must see one client as one address.  (Our own listeners are
 * IPV6_V6ONLY, so their peers are never mapped.)
 */
void
accept_peer_name(const struct sockaddr *sa, socklen_t salen,
    struct front_peer *p)
{
	const struct sockaddr_in6	*sin6;
	struct sockaddr_in		 sin;
	char				 serv[NI_MAXSERV];

	if (sa->sa_family == AF_INET6 &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memset(&sin, 0, sizeof(sin));
			sin.sin_family = AF_INET;
			sin.sin_port = sin6->sin6_port;
			memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12],
			    sizeof(sin.sin_addr));
			sa = (const struct sockaddr *)&sin;
			salen = sizeof(sin);
		}
	}
	if (getnameinfo(sa, salen, p->addr, sizeof(p->addr), serv,
	    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		strlcpy(p->addr, "unknown", sizeof(p->addr));
		p->port = 0;
		return;
	}
	p->port = (unsigned)strtoul(serv, NULL, 10);
}

/*
 * A new connection on listener l (of the newest generation).  The
 * generation is taken now, so a reload while a header is awaited cannot
 * hand the connection to another listener's configuration.
 */
void
accept_connection(int fd, const struct listener *fl)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	struct front_gen	*g;
	const struct listener	*l;
	struct front_peer	 peer;
	struct accept_wait	*w;
	struct timeval		 tv;

	/* Replies go out as the session writes them (io.c writes each
	 * event's output at once): Nagle would hold a reply back until the
	 * client's delayed ACK of the one before, e.g. the 220 behind a
	 * TLS 1.3 session ticket. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	g = front_gen_ref();
	l = config_find_listener(g->conf, fl->index);
	if (l == NULL || l->index >= g->nsrv) {
		front_gen_unref(g);
		close(fd);
		return;
	}
	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		/* No address: no listed balancer either (fails closed). */
		ss.ss_family = AF_UNSPEC;
		strlcpy(peer.addr, "unknown", sizeof(peer.addr));
		peer.port = 0;
	} else
		accept_peer_name((struct sockaddr *)&ss, sslen, &peer);

	if (!l->proxy_protocol) {
		accept_start(fd, g, l, &peer);
		return;
	}
	/* Only a listed balancer may say who the client is: anyone else
	 * could claim any address.  Checked before a byte is read. */
	if (l->npp_from > 0 && !accept_from_balancer(l,
	    (struct sockaddr *)&ss)) {
		accept_log(&peer, l, "refused", "not a listed balancer "
		    "(proxy-protocol from)", 1);
		front_gen_unref(g);
		close(fd);
		return;
	}

	/* Headers awaited count like sessions, across every front
	 * (fronts.h): a balancer opening connections and sending nothing
	 * cannot hold more. */
	if (front_counts_add(FC_WAITS, 1) >
	    (unsigned)l->limits.max_sessions) {
		front_counts_add(FC_WAITS, -1);
		accept_log(&peer, l, "refused", "too many connections "
		    "waiting for their header", 1);
		front_gen_unref(g);
		close(fd);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		front_counts_add(FC_WAITS, -1);
		log_warn("proxy-protocol");
		front_gen_unref(g);
		close(fd);
		return;
	}
	w->fd = fd;
	w->gen = g;
	w->l = l;
	w->lb = peer;
	proxyproto_init(&w->pp);
	w->timeout = ACCEPT_PROXY_TIMEOUT;
	if (l->limits.idle_timeout < w->timeout)
		w->timeout = l->limits.idle_timeout > 0 ?
		    (int)l->limits.idle_timeout : 1;
	TAILQ_INSERT_TAIL(&accept_waits, w, entry);
	accept_nwaits++;
	if ((w->ev = event_new(front_base(), fd, EV_READ | EV_PERSIST,
	    accept_proxy_read, w)) == NULL ||
	    (w->timer = evtimer_new(front_base(), accept_proxy_timeout,
	    w)) == NULL) {
		log_warnx("proxy-protocol: out of memory");
		accept_wait_free(w);
		return;
	}
	/* One deadline for the whole header, not per read: a balancer
	 * sending a byte at a time cannot stretch it. */
	tv.tv_sec = w->timeout;
	tv.tv_usec = 0;
	event_add(w->ev, NULL);
	evtimer_add(w->timer, &tv);
}

static void
accept_start(int fd, struct front_gen *g, const struct listener *l,
    const struct front_peer *peer)
{
	switch (l->proto) {
	case LISTEN_SMTP:
	case LISTEN_SMTPS:
		smtp_session_accept(fd, g, l, peer);
		break;
	case LISTEN_PROXY_POP3S:
		stats_inc(STAT_CONN_PROXY_POP3S);
		proxy_session_accept(fd, g, l, peer, &proxy_pop3);
		break;
	case LISTEN_PROXY_IMAP4S:
		stats_inc(STAT_CONN_PROXY_IMAP4S);
		proxy_session_accept(fd, g, l, peer, &proxy_imap);
		break;
	default:
		stats_inc(STAT_CONN_PROXY_SMTPS);
		proxy_session_accept(fd, g, l, peer, &proxy_smtp);
		break;
	}
}

/* Closes the connection unless it was handed on (fd -1). */
static void
accept_wait_free(struct accept_wait *w)
{
	TAILQ_REMOVE(&accept_waits, w, entry);
	accept_nwaits--;
	front_counts_add(FC_WAITS, -1);
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->timer != NULL)
		event_free(w->timer);
	if (w->fd != -1)
		close(w->fd);
	if (w->gen != NULL)
		front_gen_unref(w->gen);
	free(w);
}

/* Is the connection's own peer one of the listener's balancers? */
static int
accept_from_balancer(const struct listener *l, const struct sockaddr *sa)
{
	int	 i;

	for (i = 0; i < l->npp_from; i++)
		if (netprefix_match(&l->pp_from[i], sa))
			return 1;
	return 0;
}

/* The one line a connection without a session gets: the balancer, what
 * happened and why; a warning, or a trace line when warn is 0. */
static void
accept_log(const struct front_peer *lb, const struct listener *l,
    const char *result, const char *why, int warn)
{
	struct kvlog	 kv;

	if (!warn && !log_tracing(TRACE_ACCEPT))
		return;
	kvlog_begin(&kv);
	kvlog_str(&kv, "event", "proxy-header");
	kvlog_addr(&kv, "lb", lb->addr, lb->port);
	kvlog_u64(&kv, "listener", l->index);
	kvlog_str(&kv, "result", result);
	kvlog_str(&kv, "reason", why);
	if (warn)
		kvlog_warn(&kv);
	else
		log_trace(TRACE_ACCEPT, "%s", kvlog_line(&kv));
}

static void
accept_refuse(struct accept_wait *w, const char *fmt, ...)
{
	char	 why[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	accept_log(&w->lb, w->l, "refused", why, 1);
	accept_wait_free(w);
}

static void
accept_proxy_done(struct accept_wait *w)
{
	struct front_peer	 peer;
	struct kvlog		 kv;
	struct front_gen	*g = w->gen;
	const struct listener	*l = w->l;
	int			 fd = w->fd;

	/* LOCAL, UNKNOWN: the balancer's own connection (a health check)
	 * or one it cannot describe; the spec says to use the real
	 * endpoints, so the client is the balancer. */
	if (w->pp.local)
		peer = w->lb;
	else
		accept_peer_name((struct sockaddr *)&w->pp.src, w->pp.srclen,
		    &peer);
	/* The session's own lines name the client; which balancer it came
	 * through is for tracing. */
	if (log_tracing(TRACE_ACCEPT)) {
		kvlog_begin(&kv);
		kvlog_str(&kv, "event", "proxy-header");
		kvlog_addr(&kv, "lb", w->lb.addr, w->lb.port);
		kvlog_u64(&kv, "listener", l->index);
		kvlog_str(&kv, "header", proxyproto_kind(&w->pp));
		kvlog_addr(&kv, "client", peer.addr, peer.port);
		log_trace(TRACE_ACCEPT, "%s", kvlog_line(&kv));
	}
	/* The session owns the socket and the generation now. */
	w->fd = -1;
	w->gen = NULL;
	accept_wait_free(w);
	accept_start(fd, g, l, &peer);
}

static void
accept_proxy_read(evutil_socket_t fd, short ev, void *arg)
{
	struct accept_wait	*w = arg;
	uint8_t			 buf[PROXYPROTO_MAX];
	size_t			 want, used;
	ssize_t			 n;
	enum proxyproto_status	 st;

	want = proxyproto_want(&w->pp);
	if (want == 0 || want > sizeof(buf)) {
		accept_refuse(w, "internal error: parser wants %zu bytes",
		    want);
		return;
	}
	if ((n = recv(fd, buf, want, MSG_PEEK)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		accept_refuse(w, "read error after %zu header bytes: %s",
		    w->pp.len, strerror(errno));
		return;
	}
	if (n == 0 && w->pp.len == 0) {
		/* Connected and closed without a byte: what a balancer's
		 * plain TCP health check does, every few seconds.  Nothing
		 * was refused, so it is not worth a warning each time. */
		accept_log(&w->lb, w->l, "closed", "closed before sending "
		    "anything", 0);
		accept_wait_free(w);
		return;
	}
	if (n == 0) {
		accept_refuse(w, "connection closed after %zu header bytes, "
		    "before the header was complete", w->pp.len);
		return;
	}
	st = proxyproto_feed(&w->pp, buf, (size_t)n, &used);
	if (st == PROXYPROTO_INVALID) {
		accept_refuse(w, "%s", w->pp.reason);
		return;
	}
	/* Consume exactly the header's bytes among those peeked; they are
	 * in the socket's buffer, so this read cannot come up short. */
	if (used > 0 && recv(fd, buf, used, 0) != (ssize_t)used) {
		accept_refuse(w, "cannot consume the header: %s",
		    strerror(errno));
		return;
	}
	if (st == PROXYPROTO_DONE)
		accept_proxy_done(w);
}

static void
accept_proxy_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct accept_wait	*w = arg;

	accept_refuse(w, "no complete header within %d s (%zu bytes "
	    "received)", w->timeout, w->pp.len);
}
