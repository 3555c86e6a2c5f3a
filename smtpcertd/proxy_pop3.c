/*
 * POP3S proxy (RFC 1939, 2449, 2595): the client dialogue before login
 * (CAPA, USER, PASS, QUIT; STLS refused, the session is TLS already) and
 * the back-end login (greeting, STLS when configured, USER, PASS).  The
 * back end's "+OK" to PASS is the client's; after it bytes are relayed.
 * Replies carry RFC 3206 response codes.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "io.h"
#include "log.h"
#include "proxy.h"

#define POP3_LINE_MAX	2048	/* RFC 2449: 255; passwords may be long */

enum { P_NONE, P_USER };			/* s->pstate */
enum { BP_GREET = 1, BP_STLS, BP_TLS, BP_USER, BP_PASS };	/* s->bstate */

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
		vlen = strcspn(line, " ");
		arg = line[vlen] == ' ' ? line + vlen + 1 : line + vlen;
		alen = len - (arg - line);
		line[vlen] = '\0';
		if (strcasecmp(line, "CAPA") == 0) {
			proxy_reply(s, "+OK Capability list follows\r\nUSER\r\n"
			    "RESP-CODES\r\nIMPLEMENTATION smtpcertd\r\n.\r\n");
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
		} else if (strcasecmp(line, "AUTH") == 0 ||
		    strcasecmp(line, "APOP") == 0) {
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

/* A back-end reply's text for the client: printable ASCII only. */
static void
clean_text(char *dst, size_t dstsz, const char *src)
{
	size_t	 i;

	for (i = 0; src[i] != '\0' && i + 1 < dstsz; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

static void
pop3_be_start(struct proxy_session *s)
{
	if (s->bstate == BP_TLS) {
		s->bstate = BP_USER;
		proxy_be_printf(s, "USER %s\r\n", s->mailuser);
	} else
		s->bstate = BP_GREET;
}

static int
pop3_be_line(struct proxy_session *s, char *line, size_t len)
{
	const struct proxy_server	*srv = s->server;
	char				 text[256];
	int				 ok;

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
		s->bstate = BP_USER;
		proxy_be_printf(s, "USER %s\r\n", s->mailuser);
		return 0;
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
		s->bstate = BP_USER;
		proxy_be_printf(s, "USER %s\r\n", s->mailuser);
		return 0;
	case BP_USER:
		if (!ok) {
			clean_text(text, sizeof(text), line + 4);
			proxy_backend_failed(s, PXF_BACKEND, text[0] ? text :
			    "Authentication failed");
			return -1;
		}
		s->bstate = BP_PASS;
		proxy_be_printf(s, "PASS ");
		proxy_be_write(s, s->mailpass, s->mailpasslen);
		proxy_be_printf(s, "\r\n");
		return 0;
	case BP_PASS:
		if (!ok) {
			clean_text(text, sizeof(text), line + 4);
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
