/*
 * `metrics listen on ADDRESS port N': the parent serves `show stats' in
 * the Prometheus text format over HTTP/1.0 and 1.1, at GET /metrics.
 *
 * It is plain HTTP without authentication, for loopback or a management
 * network (smtpcertd.conf(5) says so), and it runs in the parent, the
 * root process, so it takes as little as it can: one request line and
 * headers of at most METRICS_REQUEST_MAX bytes within METRICS_READ_TIMEOUT
 * seconds, METRICS_MAX_CLIENTS connections at once (more are answered 503
 * and closed), one answer per connection and then close.  Nothing of the
 * request but its method, target and version is looked at: headers are
 * only counted against the bound.  Everything is non-blocking on the
 * parent's event loop; the counters are gathered from the children like
 * for smtpcertctl (stats_parent.c), so a wedged child delays an answer
 * by at most STATS_TIMEOUT and makes it partial, never lost.
 *
 * On reload a changed address is bound before the new configuration is
 * taken (metrics_prepare()), so a port in use refuses the reload and the
 * old endpoint stays; an unchanged one keeps its socket.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "proto.h"
#include "log.h"
#include "smtpcertd.h"
#include "stats_prom.h"

#define METRICS_MAX_CLIENTS	4
#define METRICS_BACKLOG		16
#define METRICS_REQUEST_MAX	4096	/* request line and headers */
#define METRICS_READ_TIMEOUT	5	/* seconds for the whole request */
#define METRICS_WRITE_TIMEOUT	10	/* seconds for the whole answer */

enum metrics_state {
	MS_READING,
	MS_WAITING,		/* for the children's counters */
	MS_WRITING
};

struct metrics_client {
	TAILQ_ENTRY(metrics_client)	 entry;
	uint64_t			 id;
	struct bufferevent		*bev;
	struct event			*timer;
	enum metrics_state		 state;
};

struct metrics_sock {
	int			 fd;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct event		*ev;
};

static TAILQ_HEAD(, metrics_client) metrics_clients =
    TAILQ_HEAD_INITIALIZER(metrics_clients);
static int			 metrics_nclients;
static uint64_t			 metrics_next_id;
static struct metrics_sock	 metrics_cur = { -1, { 0 }, 0, NULL };
static struct metrics_sock	 metrics_new = { -1, { 0 }, 0, NULL };
static int			 metrics_new_set;	/* prepared */

static void	metrics_accept(evutil_socket_t, short, void *);
static void	metrics_read(struct bufferevent *, void *);
static void	metrics_written(struct bufferevent *, void *);
static void	metrics_event(struct bufferevent *, short, void *);
static void	metrics_timeout(evutil_socket_t, short, void *);
static void	metrics_close(struct metrics_client *);
static void	metrics_respond(struct metrics_client *, const char *status,
		    const char *extra, const char *type, const char *body,
		    size_t bodylen);
static void	metrics_stats_answer(uint64_t, const struct stats_answer *,
		    const char *);

static const char *
metrics_addr(const struct sockaddr_storage *ss, socklen_t len, char *buf,
    size_t buflen)
{
	char	 host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host),
	    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, buflen, "?");
	else
		snprintf(buf, buflen, "%s port %s", host, serv);
	return buf;
}

static int
metrics_open(const struct metrics_conf *mc)
{
	char	 where[NI_MAXHOST + NI_MAXSERV + 8];
	int	 fd, on = 1;

	metrics_addr(&mc->ss, mc->sslen, where, sizeof(where));
	if ((fd = socket(mc->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("metrics: socket for %s", where);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		log_warn("metrics: SO_REUSEADDR");
	if (mc->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		log_warn("metrics: IPV6_V6ONLY");
	if (bind(fd, (const struct sockaddr *)&mc->ss, mc->sslen) == -1) {
		log_warn("metrics: cannot listen on %s", where);
		close(fd);
		return -1;
	}
	if (listen(fd, METRICS_BACKLOG) == -1) {
		log_warn("metrics: listen on %s", where);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Bind what conf asks for, unless it is what we already serve; the
 * running endpoint is untouched until metrics_commit().  0, or -1 with
 * the reason logged.
 */
int
metrics_prepare(const struct smtpcertd_conf *conf)
{
	const struct metrics_conf	*mc = &conf->metrics;

	metrics_abort();
	metrics_new_set = 1;
	if (mc->sslen == 0)
		return 0;
	if (metrics_cur.fd != -1 && metrics_cur.sslen == mc->sslen &&
	    memcmp(&metrics_cur.ss, &mc->ss, mc->sslen) == 0) {
		/* Unchanged: keep the socket. */
		metrics_new_set = 0;
		return 0;
	}
	if ((metrics_new.fd = metrics_open(mc)) == -1) {
		metrics_new_set = 0;
		return -1;
	}
	memcpy(&metrics_new.ss, &mc->ss, mc->sslen);
	metrics_new.sslen = mc->sslen;
	return 0;
}

/* The prepared endpoint (or none) replaces the running one.  Clients of
 * the old socket finish their answer. */
void
metrics_commit(void)
{
	char	 where[NI_MAXHOST + NI_MAXSERV + 8];

	if (!metrics_new_set)
		return;
	metrics_new_set = 0;
	if (metrics_cur.ev != NULL)
		event_free(metrics_cur.ev);
	if (metrics_cur.fd != -1) {
		close(metrics_cur.fd);
		log_info("metrics: no longer listening on %s", metrics_addr(
		    &metrics_cur.ss, metrics_cur.sslen, where, sizeof(where)));
	}
	metrics_cur = metrics_new;
	metrics_new.fd = -1;
	metrics_new.sslen = 0;
	metrics_new.ev = NULL;
	if (metrics_cur.fd == -1)
		return;
	if ((metrics_cur.ev = event_new(parent->base, metrics_cur.fd,
	    EV_READ | EV_PERSIST, metrics_accept, NULL)) == NULL)
		fatalx("metrics: event_new");
	event_add(metrics_cur.ev, NULL);
	log_info("metrics: listening on %s (HTTP, GET /metrics)",
	    metrics_addr(&metrics_cur.ss, metrics_cur.sslen, where,
	    sizeof(where)));
}

void
metrics_abort(void)
{
	if (metrics_new.fd != -1)
		close(metrics_new.fd);
	metrics_new.fd = -1;
	metrics_new.sslen = 0;
	metrics_new_set = 0;
}

void
metrics_cleanup(void)
{
	struct metrics_client	*c;

	metrics_abort();
	while ((c = TAILQ_FIRST(&metrics_clients)) != NULL)
		metrics_close(c);
	if (metrics_cur.ev != NULL)
		event_free(metrics_cur.ev);
	metrics_cur.ev = NULL;
	if (metrics_cur.fd != -1)
		close(metrics_cur.fd);
	metrics_cur.fd = -1;
}

static void
metrics_accept(evutil_socket_t lfd, short ev, void *arg)
{
	static const char	 busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 25\r\n"
	    "Connection: close\r\n\r\ntoo many clients at once\n";
	struct metrics_client	*c;
	struct timeval		 tv = { METRICS_READ_TIMEOUT, 0 };
	int			 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("metrics: accept");
		return;
	}
	if (metrics_nclients >= METRICS_MAX_CLIENTS) {
		/* One write into an empty socket buffer, never waited for. */
		if (write(fd, busy, sizeof(busy) - 1) == -1) {
			/* The client is gone already: nothing to tell. */
		}
		close(fd);
		log_debug("metrics: too many clients, one refused");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("metrics");
		close(fd);
		return;
	}
	if ((c->bev = bufferevent_socket_new(parent->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (c->timer = evtimer_new(parent->base, metrics_timeout, c)) ==
	    NULL) {
		log_warnx("metrics: cannot set up a client");
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			close(fd);
		free(c);
		return;
	}
	c->id = ++metrics_next_id;
	c->state = MS_READING;
	/* Reading stops at the bound, so a longer request can never
	 * grow the buffer past it. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, METRICS_REQUEST_MAX + 1);
	bufferevent_setcb(c->bev, metrics_read, metrics_written,
	    metrics_event, c);
	bufferevent_enable(c->bev, EV_READ);
	evtimer_add(c->timer, &tv);
	TAILQ_INSERT_TAIL(&metrics_clients, c, entry);
	metrics_nclients++;
}

static void
metrics_close(struct metrics_client *c)
{
	TAILQ_REMOVE(&metrics_clients, c, entry);
	metrics_nclients--;
	bufferevent_free(c->bev);
	event_free(c->timer);
	free(c);
}

/*
 * The request line, "METHOD SP TARGET SP HTTP/1.x", in printable ASCII:
 * 0 and the parts, or -1 if it is not one.
 */
static int
metrics_parse_line(char *line, char **method, char **target, char **version)
{
	char	*p;

	for (p = line; *p != '\0'; p++)
		if (*p < 0x21 && *p != ' ')
			return -1;
		else if ((unsigned char)*p > 0x7e)
			return -1;
	*method = line;
	if ((p = strchr(line, ' ')) == NULL)
		return -1;
	*p++ = '\0';
	*target = p;
	if ((p = strchr(p, ' ')) == NULL)
		return -1;
	*p++ = '\0';
	*version = p;
	if (**method == '\0' || **target == '\0' || strchr(p, ' ') != NULL)
		return -1;
	for (p = *method; *p != '\0'; p++)
		if (*p < 'A' || *p > 'Z')
			return -1;
	return 0;
}

static void
metrics_read(struct bufferevent *bev, void *arg)
{
	struct metrics_client	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 end;
	char			*line, *method, *target, *version;
	size_t			 len;

	if (c->state != MS_READING)
		return;
	/* The headers end with an empty line; bare LF is taken too, as
	 * RFC 9112 allows. */
	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos == -1) {
		if (evbuffer_get_length(in) > METRICS_REQUEST_MAX)
			metrics_respond(c, "431 Request Header Fields Too "
			    "Large", NULL, "text/plain", "request too large\n",
			    18);
		return;
	}
	if ((size_t)end.pos > METRICS_REQUEST_MAX) {
		metrics_respond(c, "431 Request Header Fields Too Large", NULL,
		    "text/plain", "request too large\n", 18);
		return;
	}
	bufferevent_disable(bev, EV_READ);
	if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) == NULL ||
	    metrics_parse_line(line, &method, &target, &version) == -1) {
		free(line);
		metrics_respond(c, "400 Bad Request", NULL, "text/plain",
		    "bad request\n", 12);
		return;
	}
	if (strncmp(version, "HTTP/", 5) != 0) {
		metrics_respond(c, "400 Bad Request", NULL, "text/plain",
		    "bad request\n", 12);
	} else if (strcmp(version, "HTTP/1.0") != 0 &&
	    strcmp(version, "HTTP/1.1") != 0) {
		metrics_respond(c, "505 HTTP Version Not Supported", NULL,
		    "text/plain", "HTTP/1.0 or HTTP/1.1 only\n", 26);
	} else if (strcmp(target, "/metrics") != 0 &&
	    strncmp(target, "/metrics?", 9) != 0) {
		metrics_respond(c, "404 Not Found", NULL, "text/plain",
		    "not found: try /metrics\n", 24);
	} else if (strcmp(method, "GET") != 0) {
		metrics_respond(c, "405 Method Not Allowed", "Allow: GET\r\n",
		    "text/plain", "GET only\n", 9);
	} else {
		/* stats_parent.c answers within STATS_TIMEOUT; the timer
		 * is only a backstop. */
		struct timeval	 tv = { STATS_TIMEOUT + METRICS_READ_TIMEOUT,
				    0 };

		c->state = MS_WAITING;
		evtimer_add(c->timer, &tv);
		stats_parent_request(metrics_stats_answer, c->id);
	}
	free(line);
}

static struct metrics_client *
metrics_find(uint64_t id)
{
	struct metrics_client	*c;

	TAILQ_FOREACH(c, &metrics_clients, entry)
		if (c->id == id && c->state == MS_WAITING)
			return c;
	return NULL;
}

/* The counters are in (some may be missing): the answer. */
static void
metrics_stats_done(uint64_t id, const struct stats_prom *s)
{
	struct metrics_client	*c;
	char			*body = NULL;
	size_t			 len = 0;
	FILE			*fp;

	if ((c = metrics_find(id)) == NULL)
		return;
	if ((fp = open_memstream(&body, &len)) == NULL) {
		log_warn("metrics");
		metrics_respond(c, "500 Internal Server Error", NULL,
		    "text/plain", "out of memory\n", 14);
		return;
	}
	if (stats_prom_write(fp, s) == -1) {
		fclose(fp);
		free(body);
		metrics_respond(c, "500 Internal Server Error", NULL,
		    "text/plain", "out of memory\n", 14);
		return;
	}
	fclose(fp);
	metrics_respond(c, "200 OK", NULL, STATS_PROM_CONTENT_TYPE, body,
	    len);
	free(body);
}

static void
metrics_stats_failed(uint64_t id, const char *why)
{
	struct metrics_client	*c;
	char			 text[256];
	int			 n;

	if ((c = metrics_find(id)) == NULL)
		return;
	n = snprintf(text, sizeof(text), "%s\n", why);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = 0;
	metrics_respond(c, "503 Service Unavailable", NULL, "text/plain",
	    text, (size_t)n);
}

/* stats_parent.c's answer to metrics_read()'s request, or why none. */
static void
metrics_stats_answer(uint64_t id, const struct stats_answer *a,
    const char *why)
{
	if (a == NULL)
		metrics_stats_failed(id, why);
	else
		metrics_stats_done(id, a->prom);
}

/* One answer, then the connection closes once it is written. */
static void
metrics_respond(struct metrics_client *c, const char *status,
    const char *extra, const char *type, const char *body, size_t bodylen)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct timeval	 tv = { METRICS_WRITE_TIMEOUT, 0 };

	c->state = MS_WRITING;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_add_printf(out, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sCache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n", status, type, bodylen,
	    extra != NULL ? extra : "") == -1 ||
	    evbuffer_add(out, body, bodylen) == -1) {
		metrics_close(c);
		return;
	}
	evtimer_add(c->timer, &tv);
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
metrics_written(struct bufferevent *bev, void *arg)
{
	struct metrics_client	*c = arg;

	if (c->state == MS_WRITING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		metrics_close(c);
}

/* EOF or an error: while waiting for the counters the answer is dropped
 * when it comes (metrics_find() no longer finds the client). */
static void
metrics_event(struct bufferevent *bev, short what, void *arg)
{
	metrics_close(arg);
}

static void
metrics_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct metrics_client	*c = arg;

	log_debug("metrics: client %s, closing it", c->state == MS_READING ?
	    "sent no complete request in time" : "did not read its answer "
	    "in time");
	metrics_close(c);
}
