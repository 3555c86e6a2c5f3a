/*
 * SMTPS proxy: the client dialogue before login (EHLO/HELO, AUTH PLAIN
 * and LOGIN, RSET, NOOP, QUIT) with smtp_parse.c, and the back-end set-up.
 *
 * What the back end sees (a decision, SPEC 6 leaves it open):
 *  - the proxy says EHLO with its own hostname, STARTTLS as configured
 *    (injection rule of SPEC 3.7), EHLO again;
 *  - with `mailhost' as the method that accepted the user, the back end
 *    decides: the proxy logs in with AUTH PLAIN as the mail user and the
 *    mail password, and its 235 (or refusal) answers the client's AUTH;
 *  - with aaa, certificate or piggyback the proxy vouches for the user
 *    (most SMTP servers take mail from a trusted relay, not logins: the
 *    seed's reason for piggyback on SMTPS): no AUTH is sent, and the
 *    client gets 235 once the back end has greeted and answered EHLO;
 *    with `xclient' the back end (Postfix, smtpd_authorized_xclient_hosts)
 *    is told who the user is first: XCLIENT LOGIN= ADDR= PORT=, then
 *    EHLO again.
 * Then the session is relayed byte for byte: the client's MAIL, RCPT and
 * DATA go to the back end and its replies to the client.
 *
 * A client with a certificate that names a user may skip AUTH when the
 * profile allows `certificate': its first MAIL command authenticates it
 * by the certificate alone, and that MAIL is replayed to the back end.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "front.h"
#include "io.h"
#include "log.h"
#include "proxy.h"
#include "smtp_parse.h"

#define SMTP_PX_LINE_MAX	PX_AUTH_LINE_MAX /* AUTH PLAIN, long names */

/* s->pstate; PLAIN's response is awaited as PXM_PLAIN (proxy_sasl.c) */
enum { M_CMD = PXP_CMD, M_LOGIN_USER = PXP_PROTO, M_LOGIN_PASS };
enum { BS_GREET = 1, BS_EHLO, BS_STARTTLS, BS_TLS, BS_AUTH, BS_XCLIENT };
							/* bstate */

static const char *
hostname(struct proxy_session *s)
{
	return s->sess.gen->conf->hostname;
}

static void
smtp_greet(struct proxy_session *s)
{
	s->pstate = M_CMD;
	proxy_reply(s, "220 %s ESMTP smtpcertd proxy ready\r\n", hostname(s));
}

/*
 * A PLAIN response refused (proxy_sasl.c): one reply for all reasons.  A
 * "*" never gets here: as the continuation smtp_auth_line() answers it
 * as a cancellation, as an initial response smtp_parse_auth() refuses it.
 */
static void
smtp_sasl_refused(struct proxy_session *s, enum px_mech mech,
    enum px_sasl why)
{
	proxy_reply(s, "501 5.5.2 Invalid AUTH PLAIN response\r\n");
}

/* AUTH continuation lines; -1 when the session ended. */
static int
smtp_auth_line(struct proxy_session *s, const char *line, size_t len)
{
	unsigned char	 buf[SMTP_PX_LINE_MAX];
	size_t		 n;

	if (smtp_auth_is_cancel(line, len)) {
		s->pstate = M_CMD;
		proxy_reply(s, "501 5.7.0 Authentication cancelled\r\n");
		return 0;
	}
	switch (s->pstate) {
	case PXM_PLAIN:
		proxy_sasl_response(s, PXM_PLAIN, line, len);
		return 0;
	case M_LOGIN_USER:
		if (smtp_b64_decode(line, len, buf, PX_NAME_MAX - 1, &n) ==
		    -1) {
			s->pstate = M_CMD;
			proxy_reply(s, "501 5.5.2 Invalid response\r\n");
			return proxy_error(s);
		}
		memcpy(s->args[0], buf, n);
		s->args[0][n] = '\0';
		s->arglen[0] = n;
		s->pstate = M_LOGIN_PASS;
		proxy_reply(s, "334 UGFzc3dvcmQ6\r\n");
		return 0;
	case M_LOGIN_PASS:
		s->pstate = M_CMD;
		if (smtp_b64_decode(line, len, buf, sizeof(buf), &n) == -1) {
			proxy_reply(s, "501 5.5.2 Invalid response\r\n");
			return proxy_error(s);
		}
		proxy_login(s, s->args[0], s->arglen[0], (char *)buf, n);
		explicit_bzero(buf, sizeof(buf));
		return 0;
	}
	return 0;
}

static int
smtp_auth(struct proxy_session *s, const char *arg, size_t len)
{
	struct smtp_auth	 a;

	if (smtp_parse_auth(arg, len, &a) == -1) {
		proxy_reply(s, "501 5.5.4 Syntax: AUTH mechanism\r\n");
		return proxy_error(s);
	}
	proxy_present_user(s);
	if (strcmp(a.mech, "PLAIN") == 0) {
		proxy_sasl_start(s, PXM_PLAIN, a.ir, a.irlen);
		return 0;
	}
	if (strcmp(a.mech, "LOGIN") == 0) {
		if (a.ir != NULL) {
			s->pstate = M_LOGIN_USER;
			return smtp_auth_line(s, a.ir, a.irlen);
		}
		s->pstate = M_LOGIN_USER;
		proxy_reply(s, "334 VXNlcm5hbWU6\r\n");
		return 0;
	}
	proxy_reply(s, "504 5.5.4 Unrecognized authentication type\r\n");
	return proxy_error(s);
}

static int
smtp_input(struct proxy_session *s)
{
	struct smtp_cmd	 c;
	char		*line;
	size_t		 len;

	while (s->phase == PX_LOGIN) {
		if ((line = io_getline(s->sess.io, &len)) == NULL) {
			if (len != IO_TOOLONG)
				return 0;
			proxy_reply(s, "500 5.5.2 Line too long\r\n");
			if (proxy_error(s) == -1)
				return -1;
			continue;
		}
		if (s->pstate != M_CMD) {
			if (smtp_auth_line(s, line, len) == -1)
				return -1;
			explicit_bzero(line, len);
			continue;
		}
		if (len + 2 > SMTP_LINE_MAX && !(len > 5 &&
		    strncasecmp(line, "AUTH ", 5) == 0)) {
			proxy_reply(s, "500 5.5.2 Line too long\r\n");
			if (proxy_error(s) == -1)
				return -1;
			continue;
		}
		switch (smtp_cmd_parse(line, len, &c)) {
		case SMTP_CMD_EHLO:
			if (smtp_parse_helo(c.arg, c.arglen) == -1)
				goto syntax;
			proxy_reply(s, "250-%s\r\n250-AUTH PLAIN LOGIN\r\n"
			    "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n",
			    hostname(s));
			break;
		case SMTP_CMD_HELO:
			if (smtp_parse_helo(c.arg, c.arglen) == -1)
				goto syntax;
			proxy_reply(s, "250 %s\r\n", hostname(s));
			break;
		case SMTP_CMD_AUTH:
			if (smtp_auth(s, c.arg, c.arglen) == -1)
				return -1;
			explicit_bzero(line, len);
			break;
		case SMTP_CMD_MAIL:
			/* The certificate alone, when allowed. */
			if (proxy_login_cert(s) == 0) {
				if ((s->pending = strdup(line)) == NULL) {
					proxy_close(s, "out of memory");
					return -1;
				}
				break;
			}
			proxy_reply(s, "530 5.7.0 Authentication required\r\n");
			if (proxy_error(s) == -1)
				return -1;
			break;
		case SMTP_CMD_RSET:
		case SMTP_CMD_NOOP:
			proxy_reply(s, "250 2.0.0 OK\r\n");
			break;
		case SMTP_CMD_QUIT:
			proxy_reply(s, "221 2.0.0 Bye\r\n");
			proxy_close(s, "quit");
			return -1;
		case SMTP_CMD_STARTTLS:
			proxy_reply(s, "503 5.5.1 TLS already active\r\n");
			break;
		case SMTP_CMD_INVALID:
		case SMTP_CMD_UNKNOWN:
		syntax:
			proxy_reply(s, "500 5.5.2 Syntax error\r\n");
			if (proxy_error(s) == -1)
				return -1;
			break;
		default:
			proxy_reply(s, "530 5.7.0 Authentication required\r\n");
			if (proxy_error(s) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

static int
smtp_fail(struct proxy_session *s, enum px_fail why, const char *text)
{
	int	 mail = s->pending != NULL;

	free(s->pending);
	s->pending = NULL;
	switch (why) {
	case PXF_AUTH:
		proxy_reply(s, "535 5.7.8 Authentication credentials "
		    "invalid\r\n");
		break;
	case PXF_LIMIT:
		proxy_reply(s, "421 4.7.0 %s %s, closing\r\n", hostname(s),
		    text);
		return -1;
	case PXF_REFUSED:
		proxy_reply(s, "%s 5.7.1 Not authorized: %s\r\n", mail ?
		    "550" : "535", text);
		break;
	case PXF_DISALLOWED:
		/* As the SMTP gateway's default disallowed reply. */
		proxy_reply(s, "525 5.7.13 %s\r\n", text);
		break;
	case PXF_BACKEND:
		proxy_reply(s, "535 5.7.8 Refused by the mail server: %s\r\n",
		    text);
		break;
	case PXF_ACCOUNT:
	case PXF_EXPIRED:
		proxy_reply(s, "535 5.7.8 %s\r\n", text);
		break;
	default:
		proxy_reply(s, "%s 4.7.0 %s\r\n", mail ? "451" : "454", text);
		break;
	}
	return 0;
}

static void
smtp_bye(struct proxy_session *s, const char *text)
{
	proxy_reply(s, "421 4.7.0 %s %s\r\n", hostname(s), text);
}

static void
smtp_be_ehlo(struct proxy_session *s)
{
	s->bstate = BS_EHLO;
	smtp_reply_init(s->reply);
	proxy_be_printf(s, "EHLO %s\r\n", hostname(s));
}

static void
smtp_be_start(struct proxy_session *s)
{
	if (s->reply == NULL && (s->reply = calloc(1, sizeof(*s->reply))) ==
	    NULL) {
		proxy_backend_failed(s, PXF_TEMP, "out of memory");
		return;
	}
	if (s->bstate == BS_TLS) {
		smtp_be_ehlo(s);
		return;
	}
	s->bstate = BS_GREET;
	s->be_arg = 0;		/* XCLIENT not sent on this connection */
	smtp_reply_init(s->reply);
}

/* Set up: the client is told, the MAIL it sent first is replayed. */
static void
smtp_be_ready(struct proxy_session *s)
{
	if (s->pending != NULL) {
		proxy_be_printf(s, "%s\r\n", s->pending);
		free(s->pending);
		s->pending = NULL;
	} else
		proxy_reply(s, "235 2.7.0 Authentication successful\r\n");
	proxy_backend_done(s);
}

/*
 * The gateway vouches for the user: XCLIENT names them (Postfix then
 * treats the session as authenticated as LOGIN).  A back end that does
 * not offer XCLIENT to us is misconfigured: a temporary failure.
 */
static int
smtp_be_xclient(struct proxy_session *s, struct smtp_reply *r)
{
	char	 u[3 * PX_NAME_MAX + 1], a[3 * NI_MAXHOST + 1];

	if (!smtp_reply_ehlo_has(r, "XCLIENT", NULL, NULL)) {
		log_warnx("proxy %s: %s offers no XCLIENT to the gateway",
		    s->p->name, s->backend);
		proxy_backend_failed(s, PXF_TEMP, "mail server does not "
		    "accept the gateway's XCLIENT");
		return -1;
	}
	smtp_xtext(u, sizeof(u), s->vpnuser);
	smtp_xtext(a, sizeof(a), s->sess.addr);
	s->bstate = BS_XCLIENT;
	smtp_reply_init(r);
	proxy_be_printf(s, "XCLIENT LOGIN=%s ADDR=%s%s PORT=%u\r\n", u,
	    strchr(s->sess.addr, ':') != NULL ? "IPV6:" : "", a, s->sess.port);
	return 0;
}

static int
smtp_be_line(struct proxy_session *s, char *line, size_t len)
{
	const struct proxy_server	*srv = s->server;
	struct smtp_reply		*r = s->reply;
	char				 b64[SMTP_B64_ENCLEN(2 * PX_PASS_MAX)
					    + 1];
	unsigned char			 plain[2 * PX_PASS_MAX];
	size_t				 ul, n;
	int				 tls_offered;

	switch (smtp_reply_feed(r, line, len)) {
	case SMTP_REPLY_MORE:
		return 0;
	case SMTP_REPLY_ERROR:
		proxy_backend_failed(s, PXF_TEMP, "mail server protocol "
		    "error");
		return -1;
	default:
		break;
	}
	switch (s->bstate) {
	case BS_GREET:
		if (r->code != 220) {
			proxy_backend_failed(s, PXF_TEMP, "mail server "
			    "unavailable");
			return -1;
		}
		smtp_be_ehlo(s);
		return 0;
	case BS_EHLO:
		if (r->code != 250) {
			proxy_backend_failed(s, PXF_TEMP, "mail server refused "
			    "EHLO");
			return -1;
		}
		tls_offered = smtp_reply_ehlo_has(r, "STARTTLS", NULL, NULL);
		if (!s->be_tls && (srv->tls == UPSTREAM_TLS_REQUIRED ||
		    (srv->tls == UPSTREAM_TLS_STARTTLS && tls_offered))) {
			s->bstate = BS_STARTTLS;
			smtp_reply_init(r);
			proxy_be_printf(s, "STARTTLS\r\n");
			return 0;
		}
		if (s->method == NULL || strcmp(s->method, "mailhost") != 0) {
			if (s->p->xclient && !s->be_arg)
				return smtp_be_xclient(s, r);
			smtp_be_ready(s);
			return -1;
		}
		if (!smtp_reply_ehlo_has(r, "AUTH", NULL, NULL)) {
			proxy_backend_failed(s, PXF_TEMP, "mail server offers "
			    "no AUTH");
			return -1;
		}
		ul = strlen(s->mailuser);
		plain[0] = '\0';
		memcpy(plain + 1, s->mailuser, ul);
		plain[ul + 1] = '\0';
		memcpy(plain + ul + 2, s->mailpass, s->mailpasslen);
		n = ul + 2 + s->mailpasslen;
		if (smtp_b64_encode(plain, n, b64, sizeof(b64)) == -1) {
			explicit_bzero(plain, sizeof(plain));
			proxy_backend_failed(s, PXF_AUTH, "credentials too "
			    "long");
			return -1;
		}
		explicit_bzero(plain, sizeof(plain));
		s->bstate = BS_AUTH;
		smtp_reply_init(r);
		proxy_be_printf(s, "AUTH PLAIN %s\r\n", b64);
		explicit_bzero(b64, sizeof(b64));
		return 0;
	case BS_STARTTLS:
		if (r->code != 220) {
			proxy_backend_failed(s, PXF_TEMP, "mail server refused "
			    "STARTTLS");
			return -1;
		}
		s->bstate = BS_TLS;
		proxy_backend_starttls(s);
		return -1;
	case BS_XCLIENT:
		if (r->code != 220) {
			log_warnx("proxy %s: %s refused XCLIENT for %s: %d",
			    s->p->name, s->backend, s->vpnuser, r->code);
			proxy_backend_failed(s, PXF_TEMP, "mail server refused "
			    "the gateway's XCLIENT");
			return -1;
		}
		s->be_arg = 1;
		smtp_be_ehlo(s);
		return 0;
	case BS_AUTH:
		if (r->code != 235) {
			proxy_backend_failed(s, r->code >= 500 ? PXF_BACKEND :
			    PXF_TEMP, r->code >= 500 ? "login refused" :
			    "mail server login failed temporarily");
			return -1;
		}
		smtp_be_ready(s);
		return -1;
	default:
		proxy_backend_failed(s, PXF_TEMP, "mail server spoke out of "
		    "turn");
		return -1;
	}
}

const struct proxy_proto proxy_smtp = {
	.name = "smtp",
	.maxline = SMTP_PX_LINE_MAX,
	.greet = smtp_greet,
	.input = smtp_input,
	.fail = smtp_fail,
	.bye = smtp_bye,
	.be_start = smtp_be_start,
	.be_line = smtp_be_line,
	.sasl_more = "334 \r\n",
	.sasl_refused = smtp_sasl_refused,
};
