/*
 * POP3S proxy (RFC 1939, 2449, 2595, 5034): the client dialogue before
 * login (CAPA, USER, PASS, AUTH PLAIN and EXTERNAL with or without an
 * initial response, QUIT; STLS refused, the session is TLS already) and
 * the back-end login (greeting, STLS when configured, USER, PASS; for a
 * certificate user with the profile's master account AUTH PLAIN with
 * the user as authorization identity, or USER user*master and PASS with
 * a master separator).  The back end's "+OK" to the login is the
 * client's; after it bytes are relayed.  Replies carry RFC 3206 response
 * codes.  EXTERNAL is offered only where proxy_external_ok() says.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "io.h"
#include "log.h"
#include "proxy.h"
#include "smtp_parse.h"

#define POP3_LINE_MAX	2048	/* RFC 2449: 255; passwords may be long */

enum { P_NONE, P_USER, P_AUTH_PLAIN, P_AUTH_EXT };	/* s->pstate */
enum { BP_GREET = 1, BP_STLS, BP_TLS, BP_USER, BP_PASS, BP_SASL,
    BP_SASL_DONE };					/* s->bstate */

static int	pop3_be_login(struct proxy_session *);

/* AUTH PLAIN or EXTERNAL response (base64, "=" empty, "*" cancel). */
static void
pop3_auth_response(struct proxy_session *s, int mech, const char *b64,
    size_t len)
{
	unsigned char		 buf[POP3_LINE_MAX];
	struct smtp_plain	 pl;
	size_t			 n = 0;

	s->pstate = P_NONE;
	if (len == 1 && b64[0] == '*') {
		proxy_reply(s, "-ERR Authentication cancelled\r\n");
		return;
	}
	if (len == 1 && b64[0] == '=')
		len = 0;
	if (len > 0 && smtp_b64_decode(b64, len, buf, sizeof(buf) - 1, &n) ==
	    -1) {
		proxy_reply(s, "-ERR Invalid response\r\n");
		return;
	}
	if (mech == P_AUTH_EXT) {
		if (n >= PX_NAME_MAX) {
			proxy_reply(s, "-ERR Invalid response\r\n");
			return;
		}
		proxy_login_external(s, (const char *)buf, n);
		return;
	}
	if (proxy_plain_check(buf, n, &pl) == -1) {
		explicit_bzero(buf, sizeof(buf));
		proxy_reply(s, "-ERR Invalid SASL PLAIN response\r\n");
		return;
	}
	proxy_login(s, pl.authcid, pl.authcidlen, pl.passwd, pl.passwdlen);
	explicit_bzero(buf, sizeof(buf));
}

/* AUTH mechanism [initial-response] */
static int
pop3_auth(struct proxy_session *s, char *arg, size_t alen)
{
	char	*ir;
	size_t	 mlen = strcspn(arg, " ");
	int	 mech;

	ir = arg[mlen] == ' ' ? arg + mlen + 1 : NULL;
	arg[mlen] = '\0';
	if (strcasecmp(arg, "PLAIN") == 0)
		mech = P_AUTH_PLAIN;
	else if (strcasecmp(arg, "EXTERNAL") == 0 && proxy_external_ok(s))
		mech = P_AUTH_EXT;
	else {
		proxy_reply(s, "-ERR Unsupported mechanism\r\n");
		return proxy_error(s);
	}
	proxy_present_user(s);
	if (ir != NULL) {
		pop3_auth_response(s, mech, ir, alen - (ir - arg));
		explicit_bzero(ir, alen - (ir - arg));
		return 0;
	}
	s->pstate = mech;
	proxy_reply(s, "+ \r\n");
	return 0;
}

static void
pop3_greet(struct proxy_session *s)
{
	proxy_reply(s, "+OK smtpcertd POP3 proxy ready\r\n");
}

static int
pop3_input(struct proxy_session *s)
{
	char	*line, *arg;
	size_t	 len, vlen, alen;

	while (s->phase == PX_LOGIN) {
		if ((line = io_getline(s->io, &len)) == NULL) {
			if (len != IO_TOOLONG)
				return 0;
			proxy_reply(s, "-ERR Line too long\r\n");
			proxy_close(s, "line too long");
			return -1;
		}
		if (s->pstate == P_AUTH_PLAIN || s->pstate == P_AUTH_EXT) {
			pop3_auth_response(s, s->pstate, line, len);
			explicit_bzero(line, len);
			continue;
		}
		vlen = strcspn(line, " ");
		arg = line[vlen] == ' ' ? line + vlen + 1 : line + vlen;
		alen = len - (arg - line);
		line[vlen] = '\0';
		if (strcasecmp(line, "CAPA") == 0) {
			proxy_reply(s, "+OK Capability list follows\r\nUSER\r\n"
			    "SASL PLAIN%s\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
			    "IMPLEMENTATION smtpcertd\r\n.\r\n",
			    proxy_external_ok(s) ? " EXTERNAL" : "");
		} else if (strcasecmp(line, "AUTH") == 0 && alen > 0) {
			if (pop3_auth(s, arg, alen) == -1)
				return -1;
		} else if (strcasecmp(line, "USER") == 0) {
			if (alen == 0 || alen >= PX_NAME_MAX) {
				proxy_reply(s, "-ERR Invalid user name\r\n");
				if (proxy_error(s) == -1)
					return -1;
				continue;
			}
			memcpy(s->args[0], arg, alen);
			s->args[0][alen] = '\0';
			s->arglen[0] = alen;
			s->pstate = P_USER;
			proxy_present_user(s);
			proxy_reply(s, "+OK\r\n");
		} else if (strcasecmp(line, "PASS") == 0) {
			if (s->pstate != P_USER) {
				proxy_reply(s, "-ERR USER first\r\n");
				if (proxy_error(s) == -1)
					return -1;
				continue;
			}
			s->pstate = P_NONE;
			proxy_login(s, s->args[0], s->arglen[0], arg, alen);
			explicit_bzero(line, len);
		} else if (strcasecmp(line, "QUIT") == 0) {
			proxy_reply(s, "+OK Bye\r\n");
			proxy_close(s, "quit");
			return -1;
		} else if (strcasecmp(line, "STLS") == 0) {
			proxy_reply(s, "-ERR Already using TLS\r\n");
		} else if (strcasecmp(line, "AUTH") == 0) {
			/* RFC 1734's list form: CAPA says it all. */
			proxy_reply(s, "-ERR Use CAPA\r\n");
		} else if (strcasecmp(line, "APOP") == 0) {
			proxy_reply(s, "-ERR Use USER and PASS\r\n");
		} else {
			proxy_reply(s, "-ERR [AUTH] Log in first\r\n");
			if (proxy_error(s) == -1)
				return -1;
		}
	}
	return 0;
}

static int
pop3_fail(struct proxy_session *s, enum px_fail why, const char *text)
{
	switch (why) {
	case PXF_AUTH:
		proxy_reply(s, "-ERR [AUTH] Authentication failed\r\n");
		break;
	case PXF_LIMIT:
		proxy_reply(s, "-ERR [IN-USE] %s\r\n", text);
		break;
	case PXF_REFUSED:
		proxy_reply(s, "-ERR [AUTH] Not authorized: %s\r\n", text);
		break;
	case PXF_DISALLOWED:
	case PXF_ACCOUNT:
	case PXF_EXPIRED:
		proxy_reply(s, "-ERR [AUTH] %s\r\n", text);
		break;
	case PXF_BACKEND:
		/* The mail server's words (with its own response code). */
		proxy_reply(s, "-ERR %s\r\n", text);
		break;
	default:
		proxy_reply(s, "-ERR [SYS/TEMP] %s\r\n", text);
		break;
	}
	return 0;
}

static void
pop3_bye(struct proxy_session *s, const char *text)
{
	proxy_reply(s, "-ERR [SYS/TEMP] %s\r\n", text);
}

/* The first login command: USER, or AUTH PLAIN for the master. */
static int
pop3_be_login(struct proxy_session *s)
{
	const char	*mu, *mp;
	size_t		 mpl;

	if (s->use_master && proxy_master(s, &mu, &mp, &mpl) == -1) {
		proxy_backend_failed(s, PXF_TEMP, "the master account is not "
		    "usable");
		return -1;
	}
	if (s->use_master && s->p->master_sep == '\0') {
		s->bstate = BP_SASL;
		proxy_be_printf(s, "AUTH PLAIN\r\n");
		return 0;
	}
	s->bstate = BP_USER;
	if (s->use_master)
		proxy_be_printf(s, "USER %s%c%s\r\n", s->mailuser,
		    s->p->master_sep, mu);
	else
		proxy_be_printf(s, "USER %s\r\n", s->mailuser);
	return 0;
}

static void
pop3_be_start(struct proxy_session *s)
{
	if (s->bstate == BP_TLS)
		(void)pop3_be_login(s);
	else
		s->bstate = BP_GREET;
}

static int
pop3_be_line(struct proxy_session *s, char *line, size_t len)
{
	const struct proxy_server	*srv = s->server;
	char				 text[256];
	int				 ok;

	if (s->bstate == BP_SASL && line[0] == '+' && (line[1] == '\0' ||
	    line[1] == ' ')) {
		if (proxy_backend_master_plain(s) == -1)
			return -1;
		s->bstate = BP_SASL_DONE;
		return 0;
	}
	ok = strncmp(line, "+OK", 3) == 0 && (line[3] == '\0' ||
	    line[3] == ' ');
	if (!ok && !(strncmp(line, "-ERR", 4) == 0 && (line[4] == '\0' ||
	    line[4] == ' '))) {
		proxy_backend_failed(s, PXF_TEMP, "mail server protocol error");
		return -1;
	}
	switch (s->bstate) {
	case BP_GREET:
		if (!ok) {
			proxy_backend_failed(s, PXF_TEMP, "mail server "
			    "unavailable");
			return -1;
		}
		if (!s->be_tls && (srv->tls == UPSTREAM_TLS_STARTTLS ||
		    srv->tls == UPSTREAM_TLS_REQUIRED)) {
			s->bstate = BP_STLS;
			proxy_be_printf(s, "STLS\r\n");
			return 0;
		}
		return pop3_be_login(s);
	case BP_STLS:
		if (ok) {
			s->bstate = BP_TLS;
			/* Lines after +OK are refused by the TLS start. */
			proxy_backend_starttls(s);
			return -1;
		}
		if (srv->tls == UPSTREAM_TLS_REQUIRED) {
			proxy_backend_failed(s, PXF_TEMP, "mail server refused "
			    "STLS");
			return -1;
		}
		return pop3_be_login(s);
	case BP_SASL:
	case BP_SASL_DONE:
		if (!ok) {
			proxy_backend_master_refused(s, line);
			return -1;
		}
		io_write(s->io, line, len);
		io_write(s->io, "\r\n", 2);
		proxy_backend_done(s);
		return -1;
	case BP_USER:
		if (!ok && s->use_master) {
			proxy_backend_master_refused(s, line);
			return -1;
		}
		if (!ok) {
			proxy_clean_text(text, sizeof(text), line + 4 +
			    (line[4] == ' '));
			proxy_backend_failed(s, PXF_BACKEND, text[0] ? text :
			    "Authentication failed");
			return -1;
		}
		s->bstate = BP_PASS;
		proxy_be_printf(s, "PASS ");
		if (s->use_master) {
			const char	*mu, *mp;
			size_t		 mpl;

			if (proxy_master(s, &mu, &mp, &mpl) == -1) {
				proxy_backend_failed(s, PXF_TEMP, "the master "
				    "account is not usable");
				return -1;
			}
			proxy_be_write(s, mp, mpl);
		} else
			proxy_be_write(s, s->mailpass, s->mailpasslen);
		proxy_be_printf(s, "\r\n");
		return 0;
	case BP_PASS:
		if (!ok && s->use_master) {
			proxy_backend_master_refused(s, line);
			return -1;
		}
		if (!ok) {
			proxy_clean_text(text, sizeof(text), line + 4 +
			    (line[4] == ' '));
			proxy_backend_failed(s, PXF_BACKEND, text[0] ? text :
			    "Authentication failed");
			return -1;
		}
		/* The back end's own words, as the client would get them. */
		io_write(s->io, line, len);
		io_write(s->io, "\r\n", 2);
		proxy_backend_done(s);
		return -1;
	default:
		proxy_backend_failed(s, PXF_TEMP, "mail server spoke out of "
		    "turn");
		return -1;
	}
}

const struct proxy_proto proxy_pop3 = {
	.name = "pop3",
	.maxline = POP3_LINE_MAX,
	.greet = pop3_greet,
	.input = pop3_input,
	.fail = pop3_fail,
	.bye = pop3_bye,
	.be_start = pop3_be_start,
	.be_line = pop3_be_line,
};
