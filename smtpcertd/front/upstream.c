/*
 * The front's client side towards upstream mail servers (upstream.h).
 *
 * Host names are not resolved here: the front is chrooted and cannot.
 * A relay host must be an address by the time the front sees it.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <tls.h>

#include "compat.h"
#include "config.h"
#include "crl_front.h"
#include "io.h"
#include "kvlog.h"
#include "log.h"
#include "smtp_parse.h"
#include "upstream.h"

enum up_state {
	UP_CONNECT,
	UP_GREETING,
	UP_EHLO,
	UP_STARTTLS,
	UP_TLS,
	UP_XCLIENT,
	UP_READY,		/* idle */
	UP_COMMAND,		/* waiting for a reply to the owner */
	UP_DATA,		/* owner streams message text */
	UP_QUIT,
	UP_DEAD
};

struct upstream {
	struct event_base		*base;
	struct upstream_params		 p;
	struct relay_host		*host;
	struct io			*io;
	enum up_state			 state;
	struct smtp_reply		 reply;
	int				 tls_done;
	int				 xclient_done;
	char				 peer[128];
	char				 tlsver[32];
	char				 cipher[96];
	char				 ehlo[SMTP_REPLY_TEXT_MAX];
	upstream_cb			 cb;
	void				*arg;
	void				(*drain)(void *);
};

static void	up_io(struct io *, int, void *);
static void	up_next_host(struct upstream *, const char *);
static void	up_connect(struct upstream *);

static void
up_fail(struct upstream *u, const char *why)
{
	upstream_cb	 cb = u->cb;
	void		*arg = u->arg;

	/* The owner logs the failure as its session's event. */
	log_trace(TRACE_UPSTREAM, "session=%012llx upstream=%s failed: %s",
	    (unsigned long long)u->p.session, u->peer[0] ? u->peer : "-",
	    why);
	if (u->io != NULL) {
		io_free(u->io);
		u->io = NULL;
	}
	u->state = UP_DEAD;
	u->cb = NULL;
	if (cb != NULL)
		cb(arg, UPSTREAM_FAILED, NULL, why);
}

struct upstream *
upstream_open(struct event_base *base, const struct upstream_params *p,
    upstream_cb cb, void *arg)
{
	struct upstream	*u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->base = base;
	u->p = *p;
	u->cb = cb;
	u->arg = arg;
	u->host = TAILQ_FIRST(&p->relay->hosts);
	up_connect(u);
	return u;
}

/* Try the current host; on local failure move on at once. */
static void
up_connect(struct upstream *u)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;

	for (; u->host != NULL; u->host = TAILQ_NEXT(u->host, entry)) {
		memset(&ss, 0, sizeof(ss));
		snprintf(u->peer, sizeof(u->peer), "%s:%u", u->host->host,
		    u->host->port);
		if (inet_pton(AF_INET, u->host->host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(u->host->port);
			len = sizeof(*sin);
		} else if (inet_pton(AF_INET6, u->host->host,
		    &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(u->host->port);
			len = sizeof(*sin6);
		} else {
			log_warnx("relay %s: host %s is not an address",
			    u->p.relay->name, u->host->host);
			continue;
		}
		if ((u->io = io_new(u->base, -1, up_io, u)) == NULL)
			break;
		io_set_limits(u->io, IO_INBUF_MAX, SMTP_LINE_MAX);
		if (io_connect(u->io, (struct sockaddr *)&ss, len,
		    u->p.relay->connect_timeout * 1000) == -1) {
			io_free(u->io);
			u->io = NULL;
			continue;
		}
		u->state = UP_CONNECT;
		u->tls_done = u->xclient_done = 0;
		return;
	}
	up_fail(u, "no upstream host reachable");
}

static void
up_next_host(struct upstream *u, const char *why)
{
	struct kvlog	 kv;

	kvlog_init(&kv, u->p.session, "upstream-retry");
	kvlog_str(&kv, "upstream", u->peer);
	kvlog_str(&kv, "reason", why);
	kvlog_info(&kv);
	if (u->io != NULL) {
		io_free(u->io);
		u->io = NULL;
	}
	if (u->host != NULL)
		u->host = TAILQ_NEXT(u->host, entry);
	up_connect(u);
}

/* Connection set-up failed: before READY, another host may do better. */
static void
up_setup_failed(struct upstream *u, const char *why)
{
	if (u->state < UP_READY)
		up_next_host(u, why);
	else
		up_fail(u, why);
}

/* A client context for this connection; the io owns it from here. */
static ssize_t
up_start_tls(struct upstream *u)
{
	struct tls	*ctx;

	if ((ctx = tls_client()) == NULL)
		return -1;
	if (tls_configure(ctx, u->p.tlsconf) == -1) {
		struct kvlog	 kv;

		kvlog_init(&kv, u->p.session, "error");
		kvlog_str(&kv, "upstream", u->peer);
		kvlog_str(&kv, "reason", tls_error(ctx));
		kvlog_warn(&kv);
		tls_free(ctx);
		return -1;
	}
	return io_start_tls_client(u->io, ctx, u->host->tls_name != NULL ?
	    u->host->tls_name : u->host->host);
}

static void
up_send(struct upstream *u, const char *line)
{
	char	 q[KVLOG_VALUE_MAX + 8];

	/* Our commands: names and addresses, never message text. */
	log_trace(TRACE_UPSTREAM, "session=%012llx upstream=%s command=%s",
	    (unsigned long long)u->p.session, u->peer,
	    kvlog_quote(q, sizeof(q), line, strlen(line)));
	smtp_reply_init(&u->reply);
	io_printf(u->io, "%s\r\n", line);
	io_set_timeout(u->io, u->p.relay->timeout * 1000);
}

static void
up_ehlo(struct upstream *u)
{
	char	 line[300];

	snprintf(line, sizeof(line), "EHLO %s", u->p.helo);
	u->state = UP_EHLO;
	up_send(u, line);
}

static int
up_xclient(struct upstream *u)
{
	char	 line[SMTP_LINE_MAX], v[200];
	int	 n;

	n = snprintf(line, sizeof(line), "XCLIENT");
	if (u->p.client_addr != NULL && upstream_has(u, "ADDR")) {
		smtp_xtext(v, sizeof(v), u->p.client_addr);
		n += snprintf(line + n, sizeof(line) - n, " ADDR=%s%s",
		    strchr(u->p.client_addr, ':') ? "IPV6:" : "", v);
	}
	if (u->p.client_port && upstream_has(u, "PORT"))
		n += snprintf(line + n, sizeof(line) - n, " PORT=%u",
		    u->p.client_port);
	if (u->p.client_helo != NULL && upstream_has(u, "HELO")) {
		smtp_xtext(v, sizeof(v), u->p.client_helo);
		n += snprintf(line + n, sizeof(line) - n, " HELO=%s", v);
	}
	if (upstream_has(u, "LOGIN")) {
		if (u->p.login != NULL)
			smtp_xtext(v, sizeof(v), u->p.login);
		else
			strlcpy(v, "[UNAVAILABLE]", sizeof(v));
		n += snprintf(line + n, sizeof(line) - n, " LOGIN=%s", v);
	}
	if (n >= (int)sizeof(line) - 2)
		return -1;
	u->state = UP_XCLIENT;
	up_send(u, line);
	return 0;
}

/* The whole EHLO reply is kept to answer upstream_has(). */
static void
up_keep_ehlo(struct upstream *u)
{
	memcpy(u->ehlo, u->reply.text, u->reply.textlen);
	u->ehlo[u->reply.textlen] = '\0';
}

static void
up_ready(struct upstream *u)
{
	u->state = UP_READY;
	io_set_timeout(u->io, 0);
	log_trace(TRACE_UPSTREAM, "session=%012llx upstream=%s ready%s%s",
	    (unsigned long long)u->p.session, u->peer,
	    u->tls_done ? " tls=" : "", u->tls_done ? u->tlsver : "");
	if (u->cb != NULL)
		u->cb(u->arg, UPSTREAM_READY, NULL, NULL);
}

static void
up_reply_done(struct upstream *u)
{
	const struct relay	*r = u->p.relay;
	char			 why[256];
	ssize_t			 injected;

	switch (u->state) {
	case UP_GREETING:
		if (u->reply.code != 220) {
			snprintf(why, sizeof(why), "greeting %d",
			    u->reply.code);
			up_setup_failed(u, why);
			return;
		}
		up_ehlo(u);
		return;
	case UP_EHLO:
		if (u->reply.code != 250) {
			snprintf(why, sizeof(why), "EHLO refused with %d",
			    u->reply.code);
			up_setup_failed(u, why);
			return;
		}
		up_keep_ehlo(u);
		if (!u->tls_done && (r->tls == UPSTREAM_TLS_REQUIRED ||
		    (r->tls == UPSTREAM_TLS_STARTTLS &&
		    smtp_reply_ehlo_has(&u->reply, "STARTTLS", NULL, NULL)))) {
			u->state = UP_STARTTLS;
			up_send(u, "STARTTLS");
			return;
		}
		if (r->xclient && !u->xclient_done &&
		    smtp_reply_ehlo_has(&u->reply, "XCLIENT", NULL, NULL)) {
			if (up_xclient(u) == 0)
				return;
		}
		up_ready(u);
		return;
	case UP_STARTTLS:
		if (u->reply.code != 220) {
			snprintf(why, sizeof(why), "STARTTLS refused with %d",
			    u->reply.code);
			up_setup_failed(u, why);
			return;
		}
		/* Anything after the 220 is an injection attempt. */
		injected = up_start_tls(u);
		if (injected != 0) {
			up_setup_failed(u, injected > 0 ?
			    "data after STARTTLS reply (injection)" :
			    "cannot start TLS");
			return;
		}
		u->state = UP_TLS;
		return;
	case UP_XCLIENT:
		u->xclient_done = 1;
		/* XCLIENT answers with a new greeting (Postfix: 220). */
		if (u->reply.code != 220) {
			snprintf(why, sizeof(why), "XCLIENT refused with %d",
			    u->reply.code);
			up_setup_failed(u, why);
			return;
		}
		up_ehlo(u);
		return;
	case UP_COMMAND:
		u->state = UP_READY;
		io_set_timeout(u->io, 0);
		if (u->cb != NULL)
			u->cb(u->arg, UPSTREAM_REPLY, &u->reply, NULL);
		return;
	case UP_QUIT:
		io_close(u->io);
		u->io = NULL;
		free(u);
		return;
	default:
		up_fail(u, "reply out of sequence");
		return;
	}
}

static void
up_read(struct upstream *u)
{
	char	*line;
	size_t	 len;

	while (u->io != NULL && (line = io_getline(u->io, &len)) != NULL) {
		if (u->state == UP_READY || u->state == UP_DATA ||
		    u->state == UP_CONNECT || u->state == UP_TLS) {
			up_fail(u, "unexpected data from upstream");
			return;
		}
		switch (smtp_reply_feed(&u->reply, line, len)) {
		case SMTP_REPLY_MORE:
			continue;
		case SMTP_REPLY_ERROR:
			up_fail(u, smtp_reply_strerror(u->reply.error));
			return;
		case SMTP_REPLY_DONE:
			if (log_tracing(TRACE_UPSTREAM)) {
				char	 q[KVLOG_VALUE_MAX + 8];

				log_trace(TRACE_UPSTREAM, "session=%012llx "
				    "upstream=%s reply=%d text=%s",
				    (unsigned long long)u->p.session, u->peer,
				    u->reply.code, kvlog_quote(q, sizeof(q),
				    u->reply.text, u->reply.textlen));
			}
			up_reply_done(u);
			/* u may be freed (QUIT) or failed */
			return;
		}
	}
	if (u->io != NULL && len == IO_TOOLONG)
		up_fail(u, "reply line too long");
}

static void
up_io(struct io *io, int evt, void *arg)
{
	struct upstream	*u = arg;
	char		 why[1024];

	if (u->state == UP_QUIT && evt != IO_DATAIN && evt != IO_LOWAT) {
		/* Saying goodbye: whatever happens, we are done. */
		io_free(io);
		free(u);
		return;
	}
	switch (evt) {
	case IO_CONNECTED:
		if (u->p.relay->tls == UPSTREAM_TLS_IMPLICIT) {
			if (up_start_tls(u) != 0) {
				up_setup_failed(u, "cannot start TLS");
				return;
			}
			u->state = UP_TLS;
			return;
		}
		u->state = UP_GREETING;
		smtp_reply_init(&u->reply);
		io_set_timeout(io, u->p.relay->timeout * 1000);
		return;
	case IO_TLSREADY:
		/* crl-check outbound (crl_front.c): a revoked upstream
		 * certificate, or no fresh CRL under fail-closed, fails
		 * this host like a failed verification would. */
		if (crl_front_check_upstream(u->p.relay, io, u->peer, why,
		    sizeof(why)) == -1) {
			up_setup_failed(u, why);
			return;
		}
		u->tls_done = 1;
		io_tls_names(io, u->tlsver, sizeof(u->tlsver), u->cipher,
		    sizeof(u->cipher));
		if (u->p.relay->tls == UPSTREAM_TLS_IMPLICIT) {
			u->state = UP_GREETING;
			smtp_reply_init(&u->reply);
			io_set_timeout(io, u->p.relay->timeout * 1000);
		} else
			up_ehlo(u);
		return;
	case IO_DATAIN:
		up_read(u);
		return;
	case IO_LOWAT:
		if (u->drain != NULL && u->state == UP_DATA)
			u->drain(u->arg);
		return;
	case IO_TIMEOUT:
		up_setup_failed(u, "timeout");
		return;
	case IO_DISCONNECTED:
		up_setup_failed(u, "connection closed by upstream");
		return;
	case IO_ERROR:
	default:
		up_setup_failed(u, io_error(io) ? io_error(io) : "I/O error");
		return;
	}
}

int
upstream_command(struct upstream *u, const char *fmt, ...)
{
	char	 line[SMTP_LINE_MAX];
	va_list	 ap;
	int	 n;

	if (u->state != UP_READY)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) - 2)
		return -1;
	u->state = UP_COMMAND;
	up_send(u, line);
	return 0;
}

void
upstream_data_mode(struct upstream *u)
{
	u->state = UP_DATA;
	io_set_timeout(u->io, 0);
}

int
upstream_write(struct upstream *u, const void *buf, size_t len)
{
	if (u->state != UP_DATA)
		return -1;
	return io_write(u->io, buf, len);
}

size_t
upstream_queued(struct upstream *u)
{
	return u->io != NULL ? io_queued(u->io) : 0;
}

void
upstream_expect_reply(struct upstream *u)
{
	u->state = UP_COMMAND;
	smtp_reply_init(&u->reply);
	io_set_timeout(u->io, u->p.relay->timeout * 1000);
}

void
upstream_set_drain_cb(struct upstream *u, void (*cb)(void *))
{
	u->drain = cb;
	io_set_lowat(u->io, IO_QUEUE_HIWAT / 2);
}

int
upstream_has(struct upstream *u, const char *kw)
{
	const char	*p, *eol;
	size_t		 kwlen = strlen(kw);

	/* XCLIENT attribute names live on the XCLIENT line. */
	if (strcmp(kw, "ADDR") == 0 || strcmp(kw, "PORT") == 0 ||
	    strcmp(kw, "HELO") == 0 || strcmp(kw, "LOGIN") == 0 ||
	    strcmp(kw, "NAME") == 0) {
		for (p = u->ehlo; p != NULL && *p != '\0'; p = eol) {
			eol = strchr(p, '\n');
			if (strncasecmp(p, "XCLIENT ", 8) == 0) {
				const char *q = p + 8, *end = eol ? eol :
				    p + strlen(p);

				while (q < end) {
					if ((size_t)(end - q) >= kwlen &&
					    strncasecmp(q, kw, kwlen) == 0 &&
					    (q + kwlen == end ||
					    q[kwlen] == ' '))
						return 1;
					while (q < end && *q != ' ')
						q++;
					while (q < end && *q == ' ')
						q++;
				}
			}
			if (eol != NULL)
				eol++;
		}
		return 0;
	}
	for (p = u->ehlo; p != NULL && *p != '\0'; p = eol) {
		eol = strchr(p, '\n');
		if (strncasecmp(p, kw, kwlen) == 0 &&
		    (p[kwlen] == '\0' || p[kwlen] == ' ' || p[kwlen] == '\n'))
			return p != u->ehlo;	/* not the greeting line */
		if (eol != NULL)
			eol++;
	}
	return 0;
}

const char *
upstream_peer(struct upstream *u)
{
	return u->peer;
}

const char *
upstream_tls_version(struct upstream *u)
{
	return u->tls_done ? u->tlsver : NULL;
}

const char *
upstream_tls_cipher(struct upstream *u)
{
	return u->tls_done ? u->cipher : NULL;
}

void
upstream_quit(struct upstream *u)
{
	u->cb = NULL;
	if (u->io == NULL || (u->state != UP_READY)) {
		upstream_abort(u);
		return;
	}
	u->state = UP_QUIT;
	up_send(u, "QUIT");
	io_set_timeout(u->io, 10000);
}

void
upstream_abort(struct upstream *u)
{
	if (u->io != NULL)
		io_free(u->io);
	free(u);
}
