/*
 * POP3S proxy (RFC 1939, 2449, 2595, 5034): the client dialogue before
 * login (CAPA, USER, PASS, AUTH with proxy_sasl.c's mechanisms, with or
 * without an initial response, QUIT; STLS refused, the session is TLS
 * already) and the back-end login (the opening -- greeting, STLS when
 * configured, the master account's AUTH PLAIN -- is
 * proxy_backend_opening()'s; then USER and PASS, with a master separator
 * USER user*master and the master password).  The back end's "+OK" to
 * the login is the client's; after it bytes are relayed.  Replies carry
 * RFC 3206 response codes.
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

enum { P_NONE = PXP_CMD, P_USER = PXP_PROTO };		/* s->pstate */
enum { BP_USER = PXB_PROTO, BP_PASS, BP_SASL_DONE };	/* s->bstate */

/* AUTH mechanism [initial-response] */
static int
pop3_auth(struct proxy_session *s, char *arg, size_t alen)
{
	char		*ir;
	size_t		 mlen = strcspn(arg, " ");
	enum px_mech	 mech;

	ir = arg[mlen] == ' ' ? arg + mlen + 1 : NULL;
	arg[mlen] = '\0';
	if ((mech = proxy_sasl_mech(s, arg)) == PXM_NONE) {
		proxy_reply(s, "-ERR Unsupported mechanism\r\n");
		return proxy_error(s);
	}
	proxy_sasl_start(s, mech, ir, ir != NULL ? alen - (ir - arg) : 0);
	if (ir != NULL)
		explicit_bzero(ir, alen - (ir - arg));
	return 0;
}

/* SASL responses refused (proxy_sasl.c). */
static void
pop3_sasl_refused(struct proxy_session *s, enum px_mech mech,
    enum px_sasl why)
{
	proxy_reply(s, "-ERR %s\r\n", why == PXSASL_CANCELLED ?
	    "Authentication cancelled" : why == PXSASL_BASE64 ?
	    "Invalid response" : "Invalid SASL PLAIN response");
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
	char	 mechs[64];
	size_t	 len, vlen, alen;

	while (s->phase == PX_LOGIN) {
		if ((line = io_getline(s->sess.io, &len)) == NULL) {
			if (len != IO_TOOLONG)
				return 0;
			proxy_reply(s, "-ERR Line too long\r\n");
			proxy_close(s, "line too long");
			return -1;
		}
		if (proxy_sasl_continue(s, line, len)) {
			explicit_bzero(line, len);
			continue;
		}
		vlen = strcspn(line, " ");
		arg = line[vlen] == ' ' ? line + vlen + 1 : line + vlen;
		alen = len - (arg - line);
		line[vlen] = '\0';
		if (strcasecmp(line, "CAPA") == 0) {
			proxy_reply(s, "+OK Capability list follows\r\nUSER\r\n"
			    "SASL %s\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
			    "IMPLEMENTATION smtpcertd\r\n.\r\n",
			    proxy_sasl_list(s, "", mechs, sizeof(mechs)));
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

/* The login after the opening (proxy_backend_opening()): USER. */
static int
pop3_be_login(struct proxy_session *s)
{
	const char	*u, *p;
	size_t		 ul, pl;

	if (proxy_backend_creds(s, &u, &ul, &p, &pl) == -1)
		return -1;
	s->bstate = BP_USER;
	proxy_be_printf(s, "USER %s\r\n", u);
	return 0;
}

static int
pop3_be_line(struct proxy_session *s, char *line, size_t len)
{
	const char	*u, *p;
	size_t		 ul, pl;
	int		 ok;

	if (s->bstate == PXB_SASL && line[0] == '+' && (line[1] == '\0' ||
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
	if (s->bstate < PXB_SASL)
		return proxy_backend_opening(s, ok);
	/* Refused: its words after -ERR (with its own response code). */
	if (!ok)
		return proxy_backend_refused(s, line, line + 4 + (line[4] ==
		    ' '), 256, "Authentication failed");
	switch (s->bstate) {
	case BP_USER:
		if (proxy_backend_creds(s, &u, &ul, &p, &pl) == -1)
			return -1;
		s->bstate = BP_PASS;
		proxy_be_printf(s, "PASS ");
		proxy_be_write(s, p, pl);
		proxy_be_printf(s, "\r\n");
		return 0;
	case PXB_SASL:
	case BP_SASL_DONE:
	case BP_PASS:
		/* The back end's own words, as the client would get them. */
		io_write(s->sess.io, line, len);
		io_write(s->sess.io, "\r\n", 2);
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
	.be_start = proxy_backend_start,
	.be_line = pop3_be_line,
	.sasl_more = "+ \r\n",
	.sasl_refused = pop3_sasl_refused,
	.be_tag = "",
	.be_starttls = "STLS",
	.be_auth = "AUTH",
	.be_login = pop3_be_login,
};
