/*
 * The e-mail proxy's back-end connection (SPEC 6): connect to the server
 * the login chose (an address: the parent resolved names, resolve.c),
 * TLS as configured -- implicit from the first byte, or STARTTLS/STLS
 * when the protocol module asks, with the injection rule of SPEC 3.7:
 * bytes the back end sent after its "go ahead" are a protocol error --
 * verifying the certificate against the server's CA bundle (the client
 * configurations front.c keeps per bundle, shared with the SMTP relays)
 * and checking it against the CRLs under `crl-check outbound'.
 *
 * After the protocol module's login succeeds, bytes are relayed both
 * ways.  Memory stays bounded: a side whose peer has more than
 * IO_QUEUE_HIWAT queued is paused until that queue drains to half of it.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <tls.h>

#include "compat.h"
#include "config.h"
#include "crl_front.h"
#include "front.h"
#include "io.h"
#include "kvlog.h"
#include "log.h"
#include "proxy.h"
#include "stats.h"

#define CA_SYSTEM	"@system"	/* the parent's name for it */

static void	be_io(struct io *, int, void *);
static int	be_next_address(struct proxy_session *, const char *);
static int	be_login(struct proxy_session *);

static int
be_timeout_ms(struct proxy_session *s)
{
	int64_t	 t = s->sess.l->limits.idle_timeout;

	return (int)(t < PX_BE_TIMEOUT_MAX ? t : PX_BE_TIMEOUT_MAX) * 1000;
}

void
proxy_backend_close(struct proxy_session *s)
{
	if (s->bio != NULL)
		io_free(s->bio);
	s->bio = NULL;
}

void
proxy_backend_failed(struct proxy_session *s, enum px_fail why,
    const char *text)
{
	struct kvlog	 kv;

	stats_inc(STAT_PROXY_BE_FAIL);
	proxy_kv(s, &kv, "backend");
	kvlog_str(&kv, "backend", s->backend);
	kvlog_str(&kv, "mailuser", s->mailuser);
	kvlog_str(&kv, "result", "failed");
	kvlog_str(&kv, "reason", text);
	kvlog_info(&kv);
	proxy_backend_close(s);
	proxy_login_failed(s, why, text);
}

/*
 * Connect to the server's next address: its host first, then each
 * "address" when the one before refused or did not answer the connect
 * (nothing has been said to it yet, so moving on is safe).
 */
void
proxy_backend_connect(struct proxy_session *s)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	uint16_t		 port;
	const char		*addr;

	addr = s->be_addr == 0 ? s->server->host :
	    s->server->alt[s->be_addr - 1];
	port = config_proxy_server_port(s->server, s->sess.l->proto);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else {
		/* The parent could not resolve it (resolve.c logged). */
		proxy_backend_failed(s, PXF_TEMP, "mail server has no address");
		return;
	}
	s->bstate = 0;
	s->be_tls = 0;
	s->be_arg = 0;
	s->be_connected = 0;
	log_trace(TRACE_PROXY, "session=%012llx connecting to backend %s at "
	    "%s", (unsigned long long)s->sess.id, s->backend, addr);
	if ((s->bio = io_new(front_base(), -1, be_io, s)) == NULL) {
		proxy_backend_failed(s, PXF_TEMP, "out of memory");
		return;
	}
	io_set_limits(s->bio, IO_INBUF_MAX, PX_BE_LINE_MAX);
	if (io_connect(s->bio, (struct sockaddr *)&ss, len,
	    PX_CONNECT_TIMEOUT * 1000) == -1 &&
	    !be_next_address(s, "cannot connect"))
		proxy_backend_failed(s, PXF_TEMP, "cannot connect to the mail "
		    "server");
}

/* 1 if the connect failed and another address is being tried. */
static int
be_next_address(struct proxy_session *s, const char *why)
{
	if (s->be_connected || s->be_addr >= s->server->nalt)
		return 0;
	log_info("session=%012llx backend %s: address %s: %s, trying the "
	    "next", (unsigned long long)s->sess.id, s->backend,
	    s->be_addr == 0 ? s->server->host : s->server->alt[s->be_addr - 1],
	    why);
	proxy_backend_close(s);
	s->be_addr++;
	proxy_backend_connect(s);
	return 1;
}

/* TLS towards the back end; -1 when the session moved on. */
int
proxy_backend_starttls(struct proxy_session *s)
{
	struct tls_config	*cfg;
	struct tls		*ctx;
	ssize_t			 injected;

	if ((cfg = front_client_tlsconf_opts(s->sess.gen, s->server->ca_name,
	    &s->server->tlsopts)) == NULL) {
		proxy_backend_failed(s, PXF_TEMP, "no CA certificates to "
		    "verify the mail server with");
		return -1;
	}
	if ((ctx = tls_client()) == NULL) {
		proxy_backend_failed(s, PXF_TEMP, "cannot start TLS");
		return -1;
	}
	if (tls_configure(ctx, cfg) == -1) {
		struct kvlog	 kv;

		proxy_kv(s, &kv, "error");
		kvlog_str(&kv, "backend", s->backend);
		kvlog_str(&kv, "reason", tls_error(ctx));
		kvlog_warn(&kv);
		tls_free(ctx);
		proxy_backend_failed(s, PXF_TEMP, "cannot start TLS");
		return -1;
	}
	injected = io_start_tls_client(s->bio, ctx, proxy_server_name(s->server));
	if (injected != 0) {
		proxy_backend_failed(s, PXF_TEMP, injected > 0 ?
		    "mail server sent data after its STARTTLS reply "
		    "(injection)" : "cannot start TLS");
		return -1;
	}
	return 0;
}

int
proxy_be_printf(struct proxy_session *s, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = io_vprintf(s->bio, fmt, ap);
	va_end(ap);
	io_set_timeout(s->bio, be_timeout_ms(s));
	return r;
}

int
proxy_be_write(struct proxy_session *s, const void *buf, size_t len)
{
	return io_write(s->bio, buf, len);
}

void
proxy_backend_done(struct proxy_session *s)
{
	int64_t		 idle = s->sess.l->limits.idle_timeout;
	struct kvlog	 kv;

	if (idle < PX_RELAY_IDLE_MIN)
		idle = PX_RELAY_IDLE_MIN;
	s->phase = PX_RELAY;
	/* The back end took the login too: now the method succeeded. */
	stats_auth(stats_auth_method(s->method), SAR_OK);
	proxy_session_started(s);
	stats_inc(STAT_PROXY_BE_LOGIN);
	explicit_bzero(s->vpnpass, sizeof(s->vpnpass));
	explicit_bzero(s->mailpass, sizeof(s->mailpass));
	s->vpnpasslen = s->mailpasslen = 0;
	proxy_kv(s, &kv, "backend");
	kvlog_str(&kv, "backend", s->backend);
	kvlog_str(&kv, "backend-tls", s->be_tls ? io_tls_version(s->bio) :
	    "no");
	kvlog_str(&kv, "mailuser", s->mailuser);
	kvlog_str(&kv, "result", "ok");
	kvlog_info(&kv);
	io_set_timeout(s->sess.io, (int)idle * 1000);
	io_set_timeout(s->bio, (int)idle * 1000);
	io_set_lowat(s->sess.io, IO_QUEUE_HIWAT / 2);
	io_set_lowat(s->bio, IO_QUEUE_HIWAT / 2);
	io_resume(s->sess.io);
	io_resume(s->bio);
	proxy_relay_pump(s);
}

/* Move what from has buffered to to; pause from while to is full. */
static int
relay_one(struct io *from, struct io *to, uint64_t *count)
{
	size_t	 n;

	if ((n = io_datalen(from)) > 0) {
		if (io_write(to, io_data(from), n) == -1)
			return -1;
		*count += n;
		io_drop(from, n);
	}
	if (io_queued(to) > IO_QUEUE_HIWAT)
		io_pause(from);
	return 0;
}

int
proxy_relay_pump(struct proxy_session *s)
{
	if (s->phase != PX_RELAY || s->sess.io == NULL || s->bio == NULL)
		return 0;
	if (relay_one(s->sess.io, s->bio, &s->bytes_in) == -1 ||
	    relay_one(s->bio, s->sess.io, &s->bytes_out) == -1) {
		proxy_close(s, "relay queue overflow");
		return -1;
	}
	return 0;
}

static void
be_lines(struct proxy_session *s)
{
	char	*line;
	size_t	 len;

	for (;;) {
		if (s->phase != PX_BACKEND || s->bio == NULL)
			return;
		if ((line = io_getline(s->bio, &len)) == NULL)
			break;
		/* The back end's side only: our side holds the password. */
		if (log_tracing(TRACE_PROXY)) {
			char	 q[KVLOG_VALUE_MAX + 8];

			log_trace(TRACE_PROXY, "session=%012llx backend=%s "
			    "line=%s", (unsigned long long)s->sess.id,
			    s->backend, kvlog_quote(q, sizeof(q), line, len));
		}
		if (s->proto->be_line(s, line, len) == -1)
			return;
	}
	if (len == IO_TOOLONG)
		proxy_backend_failed(s, PXF_TEMP, "mail server line too long");
}

static void
be_io(struct io *io, int evt, void *arg)
{
	struct proxy_session	*s = arg;
	char			 why[512];

	switch (evt) {
	case IO_CONNECTED:
		s->be_connected = 1;
		io_set_timeout(io, be_timeout_ms(s));
		if (s->server->tls == UPSTREAM_TLS_IMPLICIT) {
			proxy_backend_starttls(s);
			return;
		}
		s->proto->be_start(s);
		return;
	case IO_TLSREADY:
		if (s->sess.gen->conf->crl_check_outbound) {
			if (crl_front_check_chain(io_tls_peer_chain(io),
			    s->server->ca_name != NULL ? s->server->ca_name :
			    CA_SYSTEM, s->sess.gen->conf, s->backend, why,
			    sizeof(why)) == -1) {
				proxy_backend_failed(s, PXF_TEMP, "mail "
				    "server certificate refused");
				return;
			}
		}
		s->be_tls = 1;
		io_set_timeout(io, be_timeout_ms(s));
		s->proto->be_start(s);
		return;
	case IO_DATAIN:
		if (s->phase == PX_RELAY)
			proxy_relay_pump(s);
		else
			be_lines(s);
		return;
	case IO_LOWAT:
		if (s->phase == PX_RELAY)
			io_resume(s->sess.io);
		return;
	case IO_TIMEOUT:
		if (be_next_address(s, "connect timed out"))
			return;
		if (s->phase == PX_RELAY)
			proxy_close(s, "mail server idle timeout");
		else
			proxy_backend_failed(s, PXF_TEMP, "mail server did "
			    "not answer in time");
		return;
	case IO_DISCONNECTED:
		if (s->phase == PX_RELAY) {
			/* What it said last still goes to the client. */
			if (proxy_relay_pump(s) == 0)
				proxy_close(s, "mail server closed");
		} else
			proxy_backend_failed(s, PXF_TEMP, "mail server closed "
			    "the connection");
		return;
	case IO_ERROR:
	default:
		if (be_next_address(s, io_error(io) ? io_error(io) :
		    "connect failed"))
			return;
		snprintf(why, sizeof(why), "mail server: %s", io_error(io) ?
		    io_error(io) : "I/O error");
		if (s->phase == PX_RELAY)
			proxy_close(s, why);
		else
			proxy_backend_failed(s, PXF_TEMP, why);
		return;
	}
}

/* A back-end reply's text for the client or the log: printable ASCII. */
void
proxy_clean_text(char *dst, size_t dstsz, const char *src)
{
	size_t	 i;

	for (i = 0; src[i] != '\0' && i + 1 < dstsz; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

/*
 * The back end refused the gateway's master account: the site's
 * configuration, never the user's doing.  A temporary failure for the
 * client, and a line for the administrator.
 */
void
proxy_backend_master_refused(struct proxy_session *s, const char *line)
{
	char	 text[256];

	proxy_clean_text(text, sizeof(text), line);
	log_warnx("proxy %s: %s refused the master account \"%s\" for %s: "
	    "%s", s->p->name, s->backend, s->p->master_user, s->mailuser,
	    text);
	proxy_backend_failed(s, PXF_TEMP, "the mail server refused the "
	    "gateway's login, try again later");
}

/*
 * The answer to the back end's "+" after AUTHENTICATE/AUTH PLAIN for the
 * master account: the user as authorization identity.  -1 when the
 * session moved on (no usable master account: a temporary failure).
 */
int
proxy_backend_master_plain(struct proxy_session *s)
{
	char		 b64[PX_SASL_B64_MAX];
	const char	*mu, *mp;
	size_t		 mpl;

	if (proxy_master(s, &mu, &mp, &mpl) == -1 ||
	    proxy_sasl_plain(s->mailuser, mu, mp, mpl, b64, sizeof(b64)) ==
	    -1) {
		proxy_backend_failed(s, PXF_TEMP, "the master account is not "
		    "usable");
		return -1;
	}
	proxy_be_printf(s, "%s\r\n", b64);
	explicit_bzero(b64, sizeof(b64));
	return 0;
}

/*
 * The back end's opening, the same for IMAP and POP3: its greeting, then
 * STARTTLS (POP3: STLS) when the server's `tls' asks for it -- `starttls'
 * goes on in clear when refused, `starttls-required' does not -- then the
 * login: for the master account without a separator SASL PLAIN with the
 * user as the authorization identity, else the protocol's (IMAP LOGIN,
 * POP3 USER and PASS).  The protocol says whether a line was positive.
 */
void
proxy_backend_start(struct proxy_session *s)
{
	if (s->bstate == PXB_TLS)
		(void)be_login(s);
	else
		s->bstate = PXB_GREET;
}

static int
be_login(struct proxy_session *s)
{
	const char	*mu, *mp;
	size_t		 mpl;

	if (!s->use_master || s->p->master_sep != '\0')
		return s->proto->be_login(s);
	if (proxy_master(s, &mu, &mp, &mpl) == -1) {
		proxy_backend_failed(s, PXF_TEMP, "the master account is not "
		    "usable");
		return -1;
	}
	s->bstate = PXB_SASL;
	proxy_be_printf(s, "%s%s PLAIN\r\n", s->proto->be_tag,
	    s->proto->be_auth);
	return 0;
}

int
proxy_backend_opening(struct proxy_session *s, int ok)
{
	const struct proxy_server	*srv = s->server;
	char				 text[64];

	switch (s->bstate) {
	case PXB_GREET:
		if (!ok) {
			proxy_backend_failed(s, PXF_TEMP, "mail server "
			    "unavailable");
			return -1;
		}
		if (!s->be_tls && (srv->tls == UPSTREAM_TLS_STARTTLS ||
		    srv->tls == UPSTREAM_TLS_REQUIRED)) {
			s->bstate = PXB_STARTTLS;
			proxy_be_printf(s, "%s%s\r\n", s->proto->be_tag,
			    s->proto->be_starttls);
			return 0;
		}
		return be_login(s);
	case PXB_STARTTLS:
		if (ok) {
			s->bstate = PXB_TLS;
			/* Lines after its OK are refused by the TLS start. */
			proxy_backend_starttls(s);
			return -1;
		}
		if (srv->tls == UPSTREAM_TLS_REQUIRED) {
			snprintf(text, sizeof(text), "mail server refused %s",
			    s->proto->be_starttls);
			proxy_backend_failed(s, PXF_TEMP, text);
			return -1;
		}
		return be_login(s);
	default:
		proxy_backend_failed(s, PXF_TEMP, "mail server spoke out of "
		    "turn");
		return -1;
	}
}

int
proxy_backend_creds(struct proxy_session *s, const char **user, size_t *ulen,
    const char **pass, size_t *plen)
{
	const char	*mu;

	if (!s->use_master) {
		*user = s->mailuser;
		*ulen = strlen(s->mailuser);
		*pass = s->mailpass;
		*plen = s->mailpasslen;
		return 0;
	}
	/* vpnpass is free once the user is in: the composed name. */
	if (proxy_master(s, &mu, pass, plen) == -1 ||
	    (size_t)snprintf(s->vpnpass, sizeof(s->vpnpass), "%s%c%s",
	    s->mailuser, s->p->master_sep, mu) >= sizeof(s->vpnpass)) {
		proxy_backend_failed(s, PXF_TEMP, "the master account is not "
		    "usable");
		return -1;
	}
	*user = s->vpnpass;
	*ulen = strlen(s->vpnpass);
	return 0;
}

int
proxy_backend_refused(struct proxy_session *s, const char *line,
    const char *text, size_t textmax, const char *dflt)
{
	char	 clean[512];

	if (s->use_master) {
		proxy_backend_master_refused(s, line);
		return -1;
	}
	if (textmax > sizeof(clean))
		textmax = sizeof(clean);
	proxy_clean_text(clean, textmax, text);
	proxy_backend_failed(s, PXF_BACKEND, clean[0] ? clean : dflt);
	return -1;
}
