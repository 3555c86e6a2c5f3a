/*
 * IMAP4S proxy (RFC 3501, 4959 SASL-IR, 2971 ID): the client dialogue
 * before login and the back-end login.
 *
 * Before login we answer CAPABILITY, NOOP, ID, LOGOUT, STARTTLS (BAD:
 * TLS already), LOGIN and AUTHENTICATE PLAIN or EXTERNAL (RFC 4959: with
 * or without an initial response).  EXTERNAL is offered only on a
 * connection whose certificate names a user the profile may log in
 * without a password (proxy_external_ok()).  Arguments are atoms, quoted strings or literals ({n} with
 * a "+" continuation, {n+} without); a literal is at most PX_LITERAL_MAX
 * octets and a command has at most PX_ARGS_MAX arguments, so nothing a
 * client sends before login grows memory.
 *
 * The back end gets "<t> LOGIN user pass" with each argument quoted when
 * it is printable ASCII, else sent as a synchronising literal; for a
 * certificate user with the profile's master account, "<t> AUTHENTICATE
 * PLAIN" with the user as authorization identity, or Dovecot's
 * "LOGIN user*master password" with a master separator.  Its
 * tagged answer goes to the client under the client's tag; untagged
 * lines before it (CAPABILITY) are passed on.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "io.h"
#include "log.h"
#include "proxy.h"
#include "smtp_parse.h"

#define IMAP_CAPS	"IMAP4rev1 SASL-IR ID AUTH=PLAIN"
#define IMAP_CAPS_EXT	IMAP_CAPS " AUTH=EXTERNAL"
#define BE_TAG		"pxy1"

enum { I_CMD, I_CONT, I_AUTH, I_AUTH_EXT };	/* s->pstate */
enum { BI_GREET = 1, BI_STARTTLS, BI_TLS, BI_LOGIN, BI_LIT, BI_SASL };
						/* bstate */

static const char *
imap_caps(struct proxy_session *s)
{
	return proxy_external_ok(s) ? IMAP_CAPS_EXT : IMAP_CAPS;
}

static int	imap_exec(struct proxy_session *);

/* Arguments held a password. */
static void
imap_wipe_args(struct proxy_session *s)
{
	int	 i;

	for (i = 0; i < PX_ARGS_MAX; i++)
		explicit_bzero(s->args[i], sizeof(s->args[i]));
}

static void
imap_greet(struct proxy_session *s)
{
	s->pstate = I_CMD;
	proxy_reply(s, "* OK [CAPABILITY %s] smtpcertd IMAP proxy ready\r\n",
	    imap_caps(s));
}

static int
tag_char(int c)
{
	/* ASTRING-CHAR minus "+" (RFC 3501 tag) */
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '%' && c != '*' && c != '"' && c != '\\' && c != '+';
}

/*
 * Arguments from p (len bytes) into a->args.  1: command complete; 0: a
 * literal follows (a->lit_need; a->sync: the client waits for our "+");
 * -1: syntax error.  Pure, for fuzz/fuzz_proxy_login.c.
 */
int
proxy_imap_args(struct proxy_imap_args *a, const char *p, size_t len)
{
	const char	*end = p + len;
	char		*arg;
	size_t		 n, i;
	int		 nonsync;

	for (;;) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			return 1;
		if (*a->nargs >= PX_ARGS_MAX)
			return -1;
		arg = a->args[*a->nargs];
		n = 0;
		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end &&
				    (p[1] == '"' || p[1] == '\\'))
					p++;
				else if (*p == '\\')
					return -1;
				if (n >= PX_LITERAL_MAX)
					return -1;
				arg[n++] = *p;
			}
			if (p == end)
				return -1;
			p++;
		} else if (*p == '{') {
			for (p++, i = 0; p < end && isdigit((unsigned char)*p);
			    p++) {
				i = i * 10 + (*p - '0');
				if (i > PX_LITERAL_MAX)
					return -1;
			}
			nonsync = p < end && *p == '+';
			if (nonsync)
				p++;
			if (p + 1 != end || *p != '}')
				return -1;
			a->arglen[*a->nargs] = 0;
			a->args[*a->nargs][0] = '\0';
			(*a->nargs)++;
			*a->lit_need = i;
			a->sync = !nonsync;
			return 0;
		} else {
			while (p < end && *p != ' ') {
				if (n >= PX_LITERAL_MAX ||
				    (unsigned char)*p < 0x20 || *p == '(' ||
				    *p == ')' || *p == '{' || *p == '"')
					return -1;
				arg[n++] = *p++;
			}
		}
		arg[n] = '\0';
		a->arglen[(*a->nargs)++] = n;
		if (p < end && *p != ' ')
			return -1;
	}
}

static int
imap_args(struct proxy_session *s, const char *p, size_t len)
{
	struct proxy_imap_args	 a;
	int			 r;

	a.args = s->args;
	a.arglen = s->arglen;
	a.nargs = &s->nargs;
	a.lit_need = &s->lit_need;
	a.sync = 0;
	r = proxy_imap_args(&a, p, len);
	if (r == 0 && a.sync)
		proxy_reply(s, "+ Ready for literal data\r\n");
	return r;
}

static int
imap_bad(struct proxy_session *s, const char *tag, const char *text)
{
	proxy_reply(s, "%s BAD %s\r\n", tag, text);
	s->pstate = I_CMD;
	return proxy_error(s);
}

static void
imap_auth_plain(struct proxy_session *s, const char *b64, size_t len)
{
	unsigned char		 buf[PX_LINE_MAX];
	struct smtp_plain	 pl;
	size_t			 n;

	s->pstate = I_CMD;
	if (len == 1 && b64[0] == '*') {
		proxy_reply(s, "%s BAD Authentication cancelled\r\n", s->tag);
		return;
	}
	if (len == 1 && b64[0] == '=')
		len = 0;
	if (smtp_b64_decode(b64, len, buf, sizeof(buf), &n) == -1 ||
	    proxy_plain_check(buf, n, &pl) == -1) {
		explicit_bzero(buf, sizeof(buf));
		proxy_reply(s, "%s BAD Invalid SASL PLAIN response\r\n",
		    s->tag);
		return;
	}
	proxy_login(s, pl.authcid, pl.authcidlen, pl.passwd, pl.passwdlen);
	explicit_bzero(buf, sizeof(buf));
}

/* SASL EXTERNAL: an empty response or an authorization identity. */
static void
imap_auth_external(struct proxy_session *s, const char *b64, size_t len)
{
	unsigned char	 buf[PX_NAME_MAX];
	size_t		 n = 0;

	s->pstate = I_CMD;
	if (len == 1 && b64[0] == '*') {
		proxy_reply(s, "%s BAD Authentication cancelled\r\n", s->tag);
		return;
	}
	if (len == 1 && b64[0] == '=')
		len = 0;
	if (len > 0 && smtp_b64_decode(b64, len, buf, sizeof(buf) - 1, &n) ==
	    -1) {
		proxy_reply(s, "%s BAD Invalid SASL EXTERNAL response\r\n",
		    s->tag);
		return;
	}
	proxy_login_external(s, (const char *)buf, n);
}

static int
imap_input(struct proxy_session *s)
{
	char	*line, *p;
	size_t	 len, n, tlen, vlen;
	int	 r;

	while (s->phase == PX_LOGIN) {
		if (s->lit_need > 0) {
			/* Literal octets, taken raw. */
			if ((n = io_datalen(s->io)) == 0)
				return 0;
			if (n > s->lit_need)
				n = s->lit_need;
			memcpy(s->args[s->nargs - 1] + s->arglen[s->nargs - 1],
			    io_data(s->io), n);
			s->arglen[s->nargs - 1] += n;
			s->args[s->nargs - 1][s->arglen[s->nargs - 1]] = '\0';
			io_drop(s->io, n);
			s->lit_need -= n;
			continue;
		}
		if ((line = io_getline(s->io, &len)) == NULL) {
			if (len != IO_TOOLONG)
				return 0;
			proxy_reply(s, "* BYE Line too long\r\n");
			proxy_close(s, "line too long");
			return -1;
		}
		if (s->pstate == I_AUTH) {
			imap_auth_plain(s, line, len);
			explicit_bzero(line, len);
			continue;
		}
		if (s->pstate == I_AUTH_EXT) {
			imap_auth_external(s, line, len);
			continue;
		}
		if (s->pstate == I_CMD) {
			s->nargs = 0;
			tlen = 0;
			while (tlen < len && tag_char((unsigned char)line[tlen]))
				tlen++;
			if (tlen == 0 || tlen >= sizeof(s->tag) ||
			    tlen >= len || line[tlen] != ' ') {
				if (imap_bad(s, "*", "Invalid tag") == -1)
					return -1;
				continue;
			}
			memcpy(s->tag, line, tlen);
			s->tag[tlen] = '\0';
			p = line + tlen + 1;
			vlen = strcspn(p, " ");
			if (vlen == 0 || vlen >= sizeof(s->verb)) {
				if (imap_bad(s, s->tag, "Invalid command") ==
				    -1)
					return -1;
				continue;
			}
			memcpy(s->verb, p, vlen);
			s->verb[vlen] = '\0';
			p += vlen;
			/* These take no arguments we use: answer now. */
			if (strcasecmp(s->verb, "LOGIN") != 0 &&
			    strcasecmp(s->verb, "AUTHENTICATE") != 0) {
				if (imap_exec(s) == -1)
					return -1;
				continue;
			}
		} else
			p = line;
		r = imap_args(s, p, len - (p - line));
		if (r == -1) {
			explicit_bzero(line, len);
			s->lit_need = 0;
			if (imap_bad(s, s->tag, "Syntax error in arguments") ==
			    -1)
				return -1;
			continue;
		}
		explicit_bzero(line, len);
		if (r == 0) {
			s->pstate = I_CONT;
			continue;
		}
		s->pstate = I_CMD;
		if (imap_exec(s) == -1)
			return -1;
	}
	return 0;
}

static int
imap_exec(struct proxy_session *s)
{
	const char	*v = s->verb;

	if (strcasecmp(v, "CAPABILITY") == 0) {
		proxy_reply(s, "* CAPABILITY %s\r\n%s OK CAPABILITY "
		    "completed\r\n", imap_caps(s), s->tag);
	} else if (strcasecmp(v, "NOOP") == 0) {
		proxy_reply(s, "%s OK NOOP completed\r\n", s->tag);
	} else if (strcasecmp(v, "ID") == 0) {
		proxy_reply(s, "* ID NIL\r\n%s OK ID completed\r\n", s->tag);
	} else if (strcasecmp(v, "LOGOUT") == 0) {
		proxy_reply(s, "* BYE Logging out\r\n%s OK LOGOUT "
		    "completed\r\n", s->tag);
		proxy_close(s, "logout");
		return -1;
	} else if (strcasecmp(v, "STARTTLS") == 0) {
		proxy_reply(s, "%s BAD Already using TLS\r\n", s->tag);
	} else if (strcasecmp(v, "LOGIN") == 0) {
		if (s->nargs != 2)
			return imap_bad(s, s->tag, "Syntax: LOGIN user "
			    "password");
		proxy_login(s, s->args[0], s->arglen[0], s->args[1],
		    s->arglen[1]);
		imap_wipe_args(s);
	} else if (strcasecmp(v, "AUTHENTICATE") == 0) {
		if (s->nargs >= 1 && strcasecmp(s->args[0], "EXTERNAL") == 0 &&
		    proxy_external_ok(s)) {
			proxy_present_user(s);
			if (s->nargs == 2)
				imap_auth_external(s, s->args[1],
				    s->arglen[1]);
			else {
				s->pstate = I_AUTH_EXT;
				proxy_reply(s, "+ \r\n");
			}
			return 0;
		}
		if (s->nargs < 1 || strcasecmp(s->args[0], "PLAIN") != 0) {
			proxy_reply(s, "%s NO [CANNOT] Unsupported "
			    "mechanism\r\n", s->tag);
			return proxy_error(s);
		}
		proxy_present_user(s);
		if (s->nargs == 2) {
			imap_auth_plain(s, s->args[1], s->arglen[1]);
			imap_wipe_args(s);
		} else {
			s->pstate = I_AUTH;
			proxy_reply(s, "+ \r\n");
		}
	} else {
		proxy_reply(s, "%s BAD Log in first\r\n", s->tag);
		return proxy_error(s);
	}
	return 0;
}

static int
imap_fail(struct proxy_session *s, enum px_fail why, const char *text)
{
	switch (why) {
	case PXF_AUTH:
		proxy_reply(s, "%s NO [AUTHENTICATIONFAILED] Authentication "
		    "failed.\r\n", s->tag);
		break;
	case PXF_LIMIT:
		proxy_reply(s, "%s NO [LIMIT] %s\r\n", s->tag, text);
		break;
	case PXF_REFUSED:
	case PXF_DISALLOWED:
		proxy_reply(s, "%s NO [AUTHORIZATIONFAILED] %s\r\n", s->tag,
		    text);
		break;
	case PXF_BACKEND:
		proxy_reply(s, "%s NO %s\r\n", s->tag, text);
		break;
	case PXF_ACCOUNT:	/* RFC 5530: only an administrator helps */
		proxy_reply(s, "%s NO [CONTACTADMIN] %s\r\n", s->tag, text);
		break;
	case PXF_EXPIRED:
		proxy_reply(s, "%s NO [EXPIRED] %s\r\n", s->tag, text);
		break;
	default:
		proxy_reply(s, "%s NO [UNAVAILABLE] %s\r\n", s->tag, text);
		break;
	}
	return 0;
}

static void
imap_bye(struct proxy_session *s, const char *text)
{
	proxy_reply(s, "* BYE %s\r\n", text);
}

static int
quotable(const char *a, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)a[i] < 0x20 || (unsigned char)a[i] >= 0x7f)
			return 0;
	return 1;
}

/*
 * The back-end login's two arguments: the mail user and password, or for
 * the master account with a separator Dovecot's "user*master" and the
 * master password.  -1: no master password (a configuration the parent
 * could not load).
 */
static int
imap_be_arg(struct proxy_session *s, int i, const char **a, size_t *len)
{
	const char	*mu, *mp;
	size_t		 mpl;

	if (!s->use_master) {
		*a = i == 0 ? s->mailuser : s->mailpass;
		*len = i == 0 ? strlen(s->mailuser) : s->mailpasslen;
		return 0;
	}
	if (proxy_master(s, &mu, &mp, &mpl) == -1)
		return -1;
	if (i == 1) {
		*a = mp;
		*len = mpl;
		return 0;
	}
	/* vpnpass is free once the user is in: the composed name. */
	if ((size_t)snprintf(s->vpnpass, sizeof(s->vpnpass), "%s%c%s",
	    s->mailuser, s->p->master_sep, mu) >= sizeof(s->vpnpass))
		return -1;
	*a = s->vpnpass;
	*len = strlen(s->vpnpass);
	return 0;
}

/* The master account without a separator: SASL PLAIN, the user as the
 * authorization identity. */
static void
imap_be_sasl(struct proxy_session *s)
{
	s->bstate = BI_SASL;
	proxy_be_printf(s, BE_TAG " AUTHENTICATE PLAIN\r\n");
}

/* Send LOGIN arguments from s->be_arg on; stop at a literal. */
static int
imap_be_login(struct proxy_session *s)
{
	const char	*a;
	size_t		 len, i;

	if (s->use_master && s->p->master_sep == '\0') {
		imap_be_sasl(s);
		return 0;
	}
	if (s->be_arg == 0)
		proxy_be_printf(s, BE_TAG " LOGIN");
	for (; s->be_arg < 2; s->be_arg++) {
		if (imap_be_arg(s, s->be_arg, &a, &len) == -1) {
			proxy_backend_failed(s, PXF_TEMP, "the master "
			    "account is not usable");
			return -1;
		}
		if (!quotable(a, len)) {
			proxy_be_printf(s, " {%zu}\r\n", len);
			s->bstate = BI_LIT;
			return 0;
		}
		proxy_be_write(s, " \"", 2);
		for (i = 0; i < len; i++) {
			if (a[i] == '"' || a[i] == '\\')
				proxy_be_write(s, "\\", 1);
			proxy_be_write(s, &a[i], 1);
		}
		proxy_be_write(s, "\"", 1);
	}
	proxy_be_printf(s, "\r\n");
	s->bstate = BI_LOGIN;
	return 0;
}

static void
imap_be_start(struct proxy_session *s)
{
	if (s->bstate == BI_TLS) {
		s->be_arg = 0;
		(void)imap_be_login(s);
	} else
		s->bstate = BI_GREET;
}

static int
imap_be_line(struct proxy_session *s, char *line, size_t len)
{
	const struct proxy_server	*srv = s->server;
	const size_t			 tl = sizeof(BE_TAG) - 1;
	char				 text[512];
	int				 tagged;

	tagged = strncmp(line, BE_TAG " ", tl + 1) == 0;
	switch (s->bstate) {
	case BI_GREET:
		if (strncasecmp(line, "* OK", 4) != 0) {
			proxy_backend_failed(s, PXF_TEMP, "mail server "
			    "unavailable");
			return -1;
		}
		s->be_arg = 0;
		if (!s->be_tls && (srv->tls == UPSTREAM_TLS_STARTTLS ||
		    srv->tls == UPSTREAM_TLS_REQUIRED)) {
			s->bstate = BI_STARTTLS;
			proxy_be_printf(s, BE_TAG " STARTTLS\r\n");
			return 0;
		}
		return imap_be_login(s);
	case BI_STARTTLS:
		if (!tagged)
			return 0;
		if (strncasecmp(line + tl + 1, "OK", 2) == 0) {
			s->bstate = BI_TLS;
			/* Lines after the OK are refused by the TLS start. */
			proxy_backend_starttls(s);
			return -1;
		}
		if (srv->tls == UPSTREAM_TLS_REQUIRED) {
			proxy_backend_failed(s, PXF_TEMP, "mail server refused "
			    "STARTTLS");
			return -1;
		}
		return imap_be_login(s);
	case BI_LIT:
		if (line[0] != '+') {
			proxy_backend_failed(s, PXF_TEMP, "mail server refused "
			    "the login");
			return -1;
		}
		{
			const char	*a;
			size_t		 alen;

			if (imap_be_arg(s, s->be_arg, &a, &alen) == -1) {
				proxy_backend_failed(s, PXF_TEMP, "the master "
				    "account is not usable");
				return -1;
			}
			proxy_be_write(s, a, alen);
		}
		s->be_arg++;
		return imap_be_login(s);
	case BI_SASL:
		if (line[0] != '+') {
			proxy_backend_master_refused(s, line);
			return -1;
		}
		if (proxy_backend_master_plain(s) == -1)
			return -1;
		s->bstate = BI_LOGIN;
		return 0;
	case BI_LOGIN:
		if (!tagged) {
			/* CAPABILITY and the like, before the answer. */
			if (line[0] == '*') {
				io_write(s->io, line, len);
				io_write(s->io, "\r\n", 2);
			}
			return 0;
		}
		if (strncasecmp(line + tl + 1, "OK", 2) == 0) {
			proxy_reply(s, "%s ", s->tag);
			io_write(s->io, line + tl + 1, len - tl - 1);
			io_write(s->io, "\r\n", 2);
			proxy_backend_done(s);
			return -1;
		}
		if (s->use_master) {
			proxy_backend_master_refused(s, line);
			return -1;
		}
		/* NO or BAD: the text after it, for the client. */
		proxy_clean_text(text, sizeof(text), line + tl + 1 +
		    strcspn(line + tl + 1, " ") + (line[tl + 1 +
		    strcspn(line + tl + 1, " ")] == ' '));
		proxy_backend_failed(s, PXF_BACKEND, text[0] ? text :
		    "[AUTHENTICATIONFAILED] Authentication failed.");
		return -1;
	default:
		proxy_backend_failed(s, PXF_TEMP, "mail server spoke out of "
		    "turn");
		return -1;
	}
}

const struct proxy_proto proxy_imap = {
	.name = "imap",
	.maxline = PX_LINE_MAX,
	.greet = imap_greet,
	.input = imap_input,
	.fail = imap_fail,
	.bye = imap_bye,
	.be_start = imap_be_start,
	.be_line = imap_be_line,
};
