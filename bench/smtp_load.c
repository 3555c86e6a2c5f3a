/*
 * smtp_load: SMTP-over-TLS load generator for the benchmark (bench/smtp.sh).
 * One process, one libevent loop, libtls client contexts, non-blocking.
 *
 *	smtp_load [-m smtp|handshake|idle|idle-handshake]
 *	    [-t tls|starttls] -p PORT
 *	    [-h HOST] [-n SESSIONS] [-c CONCURRENCY] [-k IDLE] [-s SIZE]
 *	    [-C CERT -K KEY] [-A CAFILE] [-f FROM] [-r RCPT] [-T TIMEOUT]
 *	    [-w WARMUP] [-L]
 *
 * smtp       N full sessions, C at a time: connect, TLS (implicit, or
 *            STARTTLS after the plaintext greeting and EHLO) with the
 *            client certificate, EHLO, MAIL, RCPT, DATA with one message
 *            of SIZE octets (default 10240), QUIT.
 * handshake  N connections, C at a time: connect, TLS handshake, then wait
 *            for the server to close (bench/tls_baseline closes right
 *            after the handshake) or to send its first bytes (an SMTP
 *            server's greeting), and close.
 * idle       open K sessions (TLS + EHLO, C at a time) and hold them.
 *            Prints "ready held=N errors=E" once all are settled, then
 *            waits for a line (or EOF) on stdin or SIGUSR1/SIGTERM, and
 *            exits.
 * idle-handshake  the same, holding right after the TLS handshake (for
 *            "tls_baseline -H").
 *
 * Output (smtp and handshake), one "key value" per line so scripts can
 * read it, after a human summary:
 *	sessions_ok N, errors N, elapsed_s X, rate X (sessions/s),
 *	p50_ms X, p90_ms X, p99_ms X, max_ms X, client_cpu_ms X,
 *	error KIND COUNT first-message
 * -w W runs W extra sessions first, unmeasured (warm-up: caches, LDAP).
 * -L uses one libtls client context per connection instead of the shared
 * OpenSSL SSL_CTX (see start_tls(): libtls costs the client ~4 ms each).
 * Nothing here asserts timings; exit status is 0 when the run finished,
 * whatever the error count (1 only on usage or setup failure).
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <tls.h>

#define LOAD_INBUF	4096
#define LOAD_MAXKINDS	32

enum mode { M_SMTP, M_HANDSHAKE, M_IDLE };

enum phase {
	P_CONNECT,
	P_HANDSHAKE,
	P_SCRIPT,		/* send the step's line, read its reply */
	P_WAITCLOSE,		/* handshake mode: until the server closes */
	P_HOLD			/* idle mode: held open */
};

/* One step of the dialogue: what to send (NULL: nothing), what to expect. */
#define ST_STARTTLS	0x01	/* after the reply: TLS handshake */
#define ST_BODY		0x02	/* send the message body */
#define ST_HOLD		0x04	/* idle mode: hold after this step */
struct step {
	const char	*send;
	int		 expect;
	int		 flags;
};

struct conn {
	int		 fd;
	enum phase	 phase;
	struct tls	*tls;		/* libtls client (-L) */
	SSL		*ssl;		/* or OpenSSL on the shared SSL_CTX */
	int		 secure;	/* TLS is on */
	struct event	*ev;
	const struct step *st;
	const char	*out;
	size_t		 outlen;
	size_t		 outoff;
	char		 in[LOAD_INBUF];
	size_t		 inlen;
	struct timespec	 t0;
	int		 measured;
};

struct errkind {
	char		 kind[48];
	unsigned	 count;
	char		 first[160];
};

static struct event_base *base;
static struct tls_config *tlscfg;
static SSL_CTX		*sslctx;
static int		 use_libtls;
static char		 sslerr[160];
static struct sockaddr_storage dst;
static socklen_t	 dstlen;
static enum mode	 mode = M_SMTP;
static int		 starttls;
static unsigned		 total, warmup, launched, finished, active, conc = 32;
static unsigned		 ok, held;
static int		 timeout_s = 60;
static double		*lat;
static unsigned		 nlat;
static struct errkind	 kinds[LOAD_MAXKINDS];
static unsigned		 nkinds, nerrors;
static char		*body;
static size_t		 bodylen;
static char		 cmd_mail[600], cmd_rcpt[600];
static const struct step *script;
static struct timespec	 tstart;
static struct rusage	 ru0;
static int		 measuring;
static int		 ready_printed;
static int		 idle_hs;		/* idle after the handshake */

static const char	 cmd_ehlo[] = "EHLO bench.example.test\r\n";

static struct step	 smtp_tls[8], smtp_starttls[11];
static struct step	 idle_tls[3], idle_starttls[5];

static void	conn_step(struct conn *);
static void	conn_event(evutil_socket_t, short, void *);
static void	launch(void);
static ssize_t	cl_read(struct conn *, void *, size_t);

static double
ts_ms(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e3 + (b->tv_nsec - a->tv_nsec) / 1e6;
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtp_load [-m smtp|handshake|idle|idle-handshake] "
	    "[-t tls|starttls] [-h host] -p port [-n sessions] [-c conc]\n"
	    "\t[-k idle] [-s size] [-C cert -K key] [-A cafile] [-f from] "
	    "[-r rcpt]\n\t[-T timeout_s] [-w warmup] [-L]\n");
	exit(1);
}

static void
record_error(const char *kind, const char *msg)
{
	unsigned	 i;

	nerrors++;
	for (i = 0; i < nkinds; i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			break;
	if (i == nkinds) {
		if (nkinds == LOAD_MAXKINDS)
			i = nkinds - 1;	/* lump the rest together */
		else {
			nkinds++;
			snprintf(kinds[i].kind, sizeof(kinds[i].kind), "%s",
			    kind);
			snprintf(kinds[i].first, sizeof(kinds[i].first), "%s",
			    msg ? msg : "");
		}
	}
	kinds[i].count++;
}

static void
build_scripts(void)
{
	const struct step s_tls[] = {
		{ NULL, 220, 0 }, { cmd_ehlo, 250, 0 }, { cmd_mail, 250, 0 },
		{ cmd_rcpt, 250, 0 }, { "DATA\r\n", 354, 0 },
		{ NULL, 250, ST_BODY }, { "QUIT\r\n", 221, 0 }, { NULL, 0, 0 }
	};
	const struct step s_stls[] = {
		{ NULL, 220, 0 }, { cmd_ehlo, 250, 0 },
		{ "STARTTLS\r\n", 220, ST_STARTTLS }, { cmd_ehlo, 250, 0 },
		{ cmd_mail, 250, 0 }, { cmd_rcpt, 250, 0 },
		{ "DATA\r\n", 354, 0 }, { NULL, 250, ST_BODY },
		{ "QUIT\r\n", 221, 0 }, { NULL, 0, 0 }
	};
	const struct step i_tls[] = {
		{ NULL, 220, 0 }, { cmd_ehlo, 250, ST_HOLD }, { NULL, 0, 0 }
	};
	const struct step i_stls[] = {
		{ NULL, 220, 0 }, { cmd_ehlo, 250, 0 },
		{ "STARTTLS\r\n", 220, ST_STARTTLS },
		{ cmd_ehlo, 250, ST_HOLD }, { NULL, 0, 0 }
	};

	memcpy(smtp_tls, s_tls, sizeof(s_tls));
	memcpy(smtp_starttls, s_stls, sizeof(s_stls));
	memcpy(idle_tls, i_tls, sizeof(i_tls));
	memcpy(idle_starttls, i_stls, sizeof(i_stls));
	if (mode == M_IDLE)
		script = starttls ? idle_starttls : idle_tls;
	else
		script = starttls ? smtp_starttls : smtp_tls;
}

/* A message of exactly size octets, dot-stuffing free, CRLF lines. */
static void
build_body(size_t size, const char *from, const char *rcpt)
{
	char	 hdr[1024];
	size_t	 n, i, k;
	int	 h;

	h = snprintf(hdr, sizeof(hdr), "From: <%s>\r\nTo: <%s>\r\n"
	    "Subject: smtpcertd benchmark\r\nMessage-ID: <bench@example.test>"
	    "\r\n\r\n", from, rcpt);
	if (size < (size_t)h + 2)
		size = h + 2;
	if ((body = malloc(size + 3)) == NULL) {
		perror("malloc");
		exit(1);
	}
	memcpy(body, hdr, h);
	n = h;
	/* 76 characters and CRLF per line, the last one shorter */
	while (size - n > 2) {
		k = size - n - 2 < 76 ? size - n - 2 : 76;
		for (i = 0; i < k; i++)
			body[n + i] = 'a' + (i % 26);
		n += k;
		body[n++] = '\r';
		body[n++] = '\n';
	}
	memcpy(body + n, ".\r\n", 3);
	bodylen = n + 3;
}

static void
conn_free(struct conn *c)
{
	if (c->ev != NULL)
		event_free(c->ev);
	/* best effort close_notify, never waits */
	if (c->tls != NULL) {
		tls_close(c->tls);
		tls_free(c->tls);
	}
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

static void
maybe_done(void)
{
	if (mode == M_IDLE) {
		if (!ready_printed && held + nerrors >= total) {
			ready_printed = 1;
			printf("ready held=%u errors=%u\n", held, nerrors);
			fflush(stdout);
		}
		return;
	}
	if (finished >= total + warmup)
		event_base_loopbreak(base);
}

static void
conn_end(struct conn *c, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* kind NULL: success */
static void
conn_end(struct conn *c, const char *kind, const char *fmt, ...)
{
	struct timespec	 t1;
	char		 msg[160];
	va_list		 ap;

	msg[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (c->measured) {
		if (kind == NULL) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			lat[nlat++] = ts_ms(&c->t0, &t1);
			ok++;
		} else
			record_error(kind, msg);
	}
	finished++;
	active--;
	conn_free(c);
	launch();
	maybe_done();
}

static void
start_measuring(void)
{
	measuring = 1;
	clock_gettime(CLOCK_MONOTONIC, &tstart);
	getrusage(RUSAGE_SELF, &ru0);
}

static void
launch(void)
{
	struct conn	*c;
	int		 one = 1;

	while (active < conc && launched < total + warmup) {
		/* warm-up sessions finish before the measured ones start */
		if (launched == warmup && !measuring) {
			if (active > 0)
				return;
			start_measuring();
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			perror("calloc");
			exit(1);
		}
		c->measured = launched >= warmup;
		launched++;
		active++;
		clock_gettime(CLOCK_MONOTONIC, &c->t0);
		c->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (c->fd == -1) {
			conn_end(c, "socket", "socket: %s", strerror(errno));
			continue;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->ev = event_new(base, c->fd, 0, conn_event, c);
		c->phase = P_CONNECT;
		c->st = script;
		if (connect(c->fd, (struct sockaddr *)&dst, dstlen) == -1 &&
		    errno != EINPROGRESS) {
			conn_end(c, "connect", "connect: %s", strerror(errno));
			continue;
		}
		/* Let the loop call back once writable: connect done. */
		{
			struct timeval tv = { timeout_s, 0 };
			event_assign(c->ev, base, c->fd, EV_WRITE, conn_event,
			    c);
			event_add(c->ev, &tv);
		}
	}
}

static void
conn_wait(struct conn *c, short what)
{
	struct timeval	 tv = { timeout_s, 0 };

	event_assign(c->ev, base, c->fd, what, conn_event, c);
	event_add(c->ev, what ? &tv : NULL);
}

static void
conn_event(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	static const char *names[] = { "connect", "handshake", "smtp",
	    "waitclose", "hold" };

	if (what & EV_TIMEOUT) {
		char kind[48];

		snprintf(kind, sizeof(kind), "timeout-%s", names[c->phase]);
		conn_end(c, kind, "no progress in %d s", timeout_s);
		return;
	}
	if (c->phase == P_HOLD) {
		char	 tmp[512];
		ssize_t	 n;

		/* TLS 1.3 post-handshake messages (session tickets) are
		 * not the server going away. */
		if (c->secure && (n = cl_read(c, tmp, sizeof(tmp))) ==
		    TLS_WANT_POLLIN) {
			event_add(c->ev, NULL);
			return;
		}
		/* The server closed an idle session (or sent something);
		 * it no longer counts as active since it was held. */
		held--;
		record_error("closed-while-idle", "server closed idle session");
		finished++;
		conn_free(c);
		maybe_done();
		return;
	}
	conn_step(c);
}

/*
 * The client's TLS, two ways.  libtls (-L) builds a whole SSL_CTX for
 * every tls_client() context: with OpenSSL 3.0 that means decoding the key
 * and the CA file and fetching every algorithm again, about 4 ms of CPU
 * per connection, more than the server's handshake, so on a small machine
 * the load generator would measure itself.  By default the connections
 * therefore share one OpenSSL SSL_CTX configured like libtls' client
 * (TLS 1.2-1.3, peer and name verified, no session resumption).  The
 * functions below return what libtls' do: >= 0, TLS_WANT_POLLIN,
 * TLS_WANT_POLLOUT or -1 (cl_error() says why).
 */
static int
cl_ssl_result(struct conn *c, int r, int eof_ok)
{
	unsigned long	 e;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_POLLIN;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_POLLOUT;
	case SSL_ERROR_ZERO_RETURN:
		if (eof_ok)
			return 0;
		break;
	case SSL_ERROR_SYSCALL:
		if (eof_ok && ERR_peek_error() == 0)
			return 0;
		break;
	}
	e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, sslerr, sizeof(sslerr));
	else
		snprintf(sslerr, sizeof(sslerr), "%s", errno ? strerror(errno) :
		    "connection closed");
	ERR_clear_error();
	return -1;
}

static const char *
cl_error(struct conn *c)
{
	const char	*e;

	if (c->tls != NULL)
		return (e = tls_error(c->tls)) != NULL ? e : "?";
	return sslerr;
}

static int
cl_handshake(struct conn *c)
{
	int	 r;

	if (c->tls != NULL)
		return tls_handshake(c->tls);
	if ((r = SSL_do_handshake(c->ssl)) == 1)
		return 0;
	return cl_ssl_result(c, r, 0);
}

static ssize_t
cl_read(struct conn *c, void *buf, size_t len)
{
	int	 r;

	if (c->tls != NULL)
		return tls_read(c->tls, buf, len);
	errno = 0;
	if ((r = SSL_read(c->ssl, buf, len)) > 0)
		return r;
	return cl_ssl_result(c, r, 1);
}

static ssize_t
cl_write(struct conn *c, const void *buf, size_t len)
{
	int	 r;

	if (c->tls != NULL)
		return tls_write(c->tls, buf, len);
	errno = 0;
	if ((r = SSL_write(c->ssl, buf, len)) > 0)
		return r;
	return cl_ssl_result(c, r, 0);
}

static void
start_tls(struct conn *c)
{
	if (use_libtls) {
		if ((c->tls = tls_client()) == NULL ||
		    tls_configure(c->tls, tlscfg) == -1 ||
		    tls_connect_socket(c->tls, c->fd, "localhost") == -1) {
			conn_end(c, "tls-setup", "%s",
			    c->tls ? tls_error(c->tls) : "tls_client");
			return;
		}
	} else {
		if ((c->ssl = SSL_new(sslctx)) == NULL ||
		    SSL_set_fd(c->ssl, c->fd) != 1 ||
		    SSL_set_tlsext_host_name(c->ssl, "localhost") != 1 ||
		    (SSL_CTX_get_verify_mode(sslctx) != SSL_VERIFY_NONE &&
		    SSL_set1_host(c->ssl, "localhost") != 1)) {
			conn_end(c, "tls-setup", "SSL_new failed");
			return;
		}
		SSL_set_connect_state(c->ssl);
	}
	c->secure = 1;
	c->phase = P_HANDSHAKE;
	conn_step(c);
}

/* Prepare what the current step sends. */
static void
step_begin(struct conn *c)
{
	c->outoff = 0;
	if (c->st->flags & ST_BODY) {
		c->out = body;
		c->outlen = bodylen;
	} else if (c->st->send != NULL) {
		c->out = c->st->send;
		c->outlen = strlen(c->st->send);
	} else {
		c->out = NULL;
		c->outlen = 0;
	}
}

/*
 * A complete reply in c->in?  Returns its code (and drops it from the
 * buffer), 0 if incomplete, -1 if malformed.
 */
static int
reply_parse(struct conn *c)
{
	char	*p = c->in, *end = c->in + c->inlen, *nl;
	int	 code;

	for (;;) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			return 0;
		if (nl - p < 4 || p[0] < '2' || p[0] > '5')
			return -1;
		if (p[3] == ' ' || p + 3 == nl - 1) {
			code = atoi(p);
			nl++;
			memmove(c->in, nl, end - nl);
			c->inlen = end - nl;
			return code;
		}
		if (p[3] != '-')
			return -1;
		p = nl + 1;
	}
}

/* Idle mode: keep the session open, with no timeout; the next starts. */
static void
conn_hold(struct conn *c)
{
	c->phase = P_HOLD;
	held++;
	maybe_done();
	event_assign(c->ev, base, c->fd, EV_READ, conn_event, c);
	event_add(c->ev, NULL);
	active--;
	launch();
}

static void
conn_step(struct conn *c)
{
	socklen_t	 len;
	ssize_t		 n;
	int		 err, r, code;
	char		 tmp[LOAD_INBUF];

	for (;;) {
		switch (c->phase) {
		case P_CONNECT:
			err = 0;
			len = sizeof(err);
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err != 0) {
				conn_end(c, "connect", "connect: %s",
				    strerror(err));
				return;
			}
			if (!starttls || mode == M_HANDSHAKE) {
				start_tls(c);
				return;
			}
			c->phase = P_SCRIPT;
			step_begin(c);
			break;
		case P_HANDSHAKE:
			r = cl_handshake(c);
			if (r == TLS_WANT_POLLIN) {
				conn_wait(c, EV_READ);
				return;
			}
			if (r == TLS_WANT_POLLOUT) {
				conn_wait(c, EV_WRITE);
				return;
			}
			if (r == -1) {
				conn_end(c, "tls-handshake", "%s",
				    cl_error(c));
				return;
			}
			if (mode == M_HANDSHAKE) {
				c->phase = P_WAITCLOSE;
				break;
			}
			if (idle_hs) {
				conn_hold(c);
				return;
			}
			c->phase = P_SCRIPT;
			step_begin(c);
			break;
		case P_WAITCLOSE:
			n = cl_read(c, tmp, sizeof(tmp));
			if (n == TLS_WANT_POLLIN) {
				conn_wait(c, EV_READ);
				return;
			}
			if (n == TLS_WANT_POLLOUT) {
				conn_wait(c, EV_WRITE);
				return;
			}
			/*
			 * EOF (tls_baseline sends close_notify) or the first
			 * bytes (smtpcertd's greeting): done.  An alert, such
			 * as the server refusing our certificate after a TLS
			 * 1.3 handshake the client saw complete, is not.
			 */
			if (n == -1) {
				conn_end(c, "tls-read", "%s", cl_error(c));
				return;
			}
			conn_end(c, NULL, NULL);
			return;
		case P_HOLD:
			conn_wait(c, EV_READ);
			return;
		case P_SCRIPT:
			/* send */
			while (c->outoff < c->outlen) {
				if (c->secure) {
					n = cl_write(c, c->out + c->outoff,
					    c->outlen - c->outoff);
					if (n == TLS_WANT_POLLIN) {
						conn_wait(c, EV_READ);
						return;
					}
					if (n == TLS_WANT_POLLOUT) {
						conn_wait(c, EV_WRITE);
						return;
					}
					if (n == -1) {
						conn_end(c, "tls-write", "%s",
						    cl_error(c));
						return;
					}
				} else {
					n = write(c->fd, c->out + c->outoff,
					    c->outlen - c->outoff);
					if (n == -1 && errno == EAGAIN) {
						conn_wait(c, EV_WRITE);
						return;
					}
					if (n == -1) {
						conn_end(c, "write", "write: %s",
						    strerror(errno));
						return;
					}
				}
				c->outoff += n;
			}
			/* receive */
			code = reply_parse(c);
			if (code == -1) {
				conn_end(c, "bad-reply", "%.*s",
				    (int)(c->inlen > 80 ? 80 : c->inlen), c->in);
				return;
			}
			if (code == 0) {
				if (c->inlen == sizeof(c->in)) {
					conn_end(c, "bad-reply", "too long");
					return;
				}
				if (c->secure) {
					n = cl_read(c, c->in + c->inlen,
					    sizeof(c->in) - c->inlen);
					if (n == TLS_WANT_POLLIN) {
						conn_wait(c, EV_READ);
						return;
					}
					if (n == TLS_WANT_POLLOUT) {
						conn_wait(c, EV_WRITE);
						return;
					}
					if (n == -1) {
						conn_end(c, "tls-read", "%s",
						    cl_error(c));
						return;
					}
				} else {
					n = read(c->fd, c->in + c->inlen,
					    sizeof(c->in) - c->inlen);
					if (n == -1 && errno == EAGAIN) {
						conn_wait(c, EV_READ);
						return;
					}
					if (n == -1) {
						conn_end(c, "read", "read: %s",
						    strerror(errno));
						return;
					}
				}
				if (n == 0) {
					conn_end(c, "eof", "server closed "
					    "before the reply to step %d",
					    (int)(c->st - script));
					return;
				}
				c->inlen += n;
				break;
			}
			if (code != c->st->expect) {
				char	 what[16], kind[48];

				/* kind: which command, which code */
				snprintf(what, sizeof(what), "%s",
				    c->st->flags & ST_BODY ? "dot" :
				    c->st->send == NULL ? "greeting" :
				    c->st->send == cmd_mail ? "MAIL" :
				    c->st->send == cmd_rcpt ? "RCPT" :
				    c->st->send == cmd_ehlo ? "EHLO" :
				    c->st->send);
				what[strcspn(what, "\r\n")] = '\0';
				snprintf(kind, sizeof(kind), "reply-%s-%d",
				    what, code);
				conn_end(c, kind, "expected %d",
				    c->st->expect);
				return;
			}
			if (c->st->flags & ST_HOLD) {
				conn_hold(c);
				return;
			}
			if (c->st->flags & ST_STARTTLS) {
				c->st++;
				c->inlen = 0;
				start_tls(c);
				return;
			}
			c->st++;
			if (c->st->expect == 0) {
				conn_end(c, NULL, NULL);
				return;
			}
			step_begin(c);
			break;
		}
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double p)
{
	size_t	 i;

	if (nlat == 0)
		return 0;
	i = (size_t)(p * (nlat - 1) + 0.5);
	return lat[i];
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

static void
on_stdin(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

int
main(int argc, char *argv[])
{
	const char	*host = "127.0.0.1", *port = NULL, *cert = NULL;
	const char	*key = NULL, *ca = NULL;
	const char	*from = "alice@example.test", *rcpt = "bob@example.test";
	struct addrinfo	 hints, *res;
	struct event	*sev[3], *inev = NULL;
	struct timespec	 tend;
	struct rusage	 ru1;
	struct rlimit	 rl;
	size_t		 size = 10240;
	double		 secs, cpu;
	unsigned	 i;
	int		 ch, e;

	while ((ch = getopt(argc, argv, "A:C:c:f:h:K:k:Lm:n:p:r:s:T:t:w:")) !=
	    -1) {
		switch (ch) {
		case 'A': ca = optarg; break;
		case 'C': cert = optarg; break;
		case 'K': key = optarg; break;
		case 'L': use_libtls = 1; break;
		case 'c': conc = strtoul(optarg, NULL, 10); break;
		case 'f': from = optarg; break;
		case 'h': host = optarg; break;
		case 'k':
		case 'n': total = strtoul(optarg, NULL, 10); break;
		case 'm':
			if (strcmp(optarg, "smtp") == 0)
				mode = M_SMTP;
			else if (strcmp(optarg, "handshake") == 0)
				mode = M_HANDSHAKE;
			else if (strcmp(optarg, "idle") == 0)
				mode = M_IDLE;
			else if (strcmp(optarg, "idle-handshake") == 0) {
				mode = M_IDLE;
				idle_hs = 1;
			}
			else
				usage();
			break;
		case 'p': port = optarg; break;
		case 'r': rcpt = optarg; break;
		case 's': size = strtoul(optarg, NULL, 10); break;
		case 'T': timeout_s = atoi(optarg); break;
		case 't':
			if (strcmp(optarg, "starttls") == 0)
				starttls = 1;
			else if (strcmp(optarg, "tls") == 0)
				starttls = 0;
			else
				usage();
			break;
		case 'w': warmup = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (port == NULL || total == 0 || conc == 0)
		usage();
	if (mode == M_IDLE)
		warmup = 0;
	signal(SIGPIPE, SIG_IGN);
	/* as many descriptors as the hard limit allows */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "smtp_load: %s: %s\n", host, gai_strerror(e));
		return 1;
	}
	memcpy(&dst, res->ai_addr, res->ai_addrlen);
	dstlen = res->ai_addrlen;
	freeaddrinfo(res);

	if ((tlscfg = tls_config_new()) == NULL)
		return 1;
	if (ca != NULL && tls_config_set_ca_file(tlscfg, ca) == -1) {
		fprintf(stderr, "smtp_load: %s\n", tls_config_error(tlscfg));
		return 1;
	}
	if (ca == NULL) {
		tls_config_insecure_noverifycert(tlscfg);
		tls_config_insecure_noverifyname(tlscfg);
	}
	if (cert != NULL && key != NULL &&
	    tls_config_set_keypair_file(tlscfg, cert, key) == -1) {
		fprintf(stderr, "smtp_load: %s\n", tls_config_error(tlscfg));
		return 1;
	}
	if ((sslctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(sslctx, TLS1_2_VERSION) != 1 ||
	    (cert != NULL && key != NULL &&
	    (SSL_CTX_use_certificate_chain_file(sslctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sslctx, key, SSL_FILETYPE_PEM) != 1)) ||
	    (ca != NULL && SSL_CTX_load_verify_locations(sslctx, ca, NULL) !=
	    1)) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_verify(sslctx, ca != NULL ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(sslctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(sslctx, SSL_OP_NO_TICKET);

	snprintf(cmd_mail, sizeof(cmd_mail), "MAIL FROM:<%s> SIZE=%zu\r\n",
	    from, size);
	snprintf(cmd_rcpt, sizeof(cmd_rcpt), "RCPT TO:<%s>\r\n", rcpt);
	build_body(size, from, rcpt);
	build_scripts();
	if ((lat = calloc(total, sizeof(*lat))) == NULL) {
		perror("calloc");
		return 1;
	}

	base = event_base_new();
	sev[0] = evsignal_new(base, SIGTERM, on_signal, NULL);
	sev[1] = evsignal_new(base, SIGINT, on_signal, NULL);
	sev[2] = evsignal_new(base, SIGUSR1, on_signal, NULL);
	for (i = 0; i < 3; i++)
		event_add(sev[i], NULL);
	if (mode == M_IDLE) {
		inev = event_new(base, STDIN_FILENO, EV_READ, on_stdin, NULL);
		event_add(inev, NULL);
	}
	if (warmup == 0)
		start_measuring();
	launch();
	event_base_dispatch(base);

	if (mode == M_IDLE) {
		if (!ready_printed)
			printf("ready held=%u errors=%u\n", held, nerrors);
		printf("held %u\nerrors %u\n", held, nerrors);
		for (i = 0; i < nkinds; i++)
			printf("error %s %u %s\n", kinds[i].kind,
			    kinds[i].count, kinds[i].first);
		return 0;
	}

	clock_gettime(CLOCK_MONOTONIC, &tend);
	getrusage(RUSAGE_SELF, &ru1);
	secs = ts_ms(&tstart, &tend) / 1e3;
	cpu = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
	    ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e3 +
	    (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
	    ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e3;
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	fprintf(stderr, "smtp_load: %s%s: %u ok, %u errors in %.2f s "
	    "(%.1f/s), p50 %.2f ms, p99 %.2f ms\n",
	    mode == M_HANDSHAKE ? "handshake" : "smtp",
	    starttls && mode != M_HANDSHAKE ? "/starttls" : "",
	    ok, nerrors, secs, ok / secs, pct(0.5), pct(0.99));
	printf("sessions_ok %u\nerrors %u\nelapsed_s %.3f\nrate %.1f\n"
	    "p50_ms %.2f\np90_ms %.2f\np99_ms %.2f\nmax_ms %.2f\n"
	    "client_cpu_ms %.0f\n", ok, nerrors, secs, secs > 0 ? ok / secs : 0,
	    pct(0.5), pct(0.9), pct(0.99), nlat ? lat[nlat - 1] : 0, cpu);
	for (i = 0; i < nkinds; i++)
		printf("error %s %u %s\n", kinds[i].kind, kinds[i].count,
		    kinds[i].first);
	return 0;
}
