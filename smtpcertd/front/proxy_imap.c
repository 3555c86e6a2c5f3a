/*
 * IMAP4S proxy (RFC 3501, 4959 SASL-IR, 2971 ID): the client dialogue
 * before login and the back-end login.
 *
 * Before login we answer CAPABILITY, NOOP, ID, LOGOUT, STARTTLS (BAD:
 * TLS already), LOGIN and AUTHENTICATE with the mechanisms proxy_sasl.c
 * offers (RFC 4959: with or without an initial response).  Arguments are
 * atoms, quoted strings or literals ({n} with a "+" continuation, {n+}
 * without); a literal is at most PX_LITERAL_MAX octets and a command has
 * at most PX_ARGS_MAX arguments, so nothing a client sends before login
 * grows memory.  The reading (proxy_imap_line(), proxy_imap_literal())
 * is pure, so that the fuzz harness runs the proxy's own code.
 *
 * The back end's opening (greeting, STARTTLS, the master account's
 * AUTHENTICATE PLAIN) is proxy_backend_opening()'s.  Then it gets
 * "<t> LOGIN user pass" with each argument quoted when it is printable
 * ASCII, else sent as a synchronising literal (with a master separator,
 * Dovecot's "user*master" and the master password).  Its tagged answer
 * goes to the client under the client's tag; untagged lines before it
 * (CAPABILITY) are passed on.
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

#define IMAP_CAPS	"IMAP4rev1 SASL-IR ID"
#define BE_TAG		"pxy1"

enum { I_CMD = PXP_CMD, I_CONT = PXP_PROTO };	/* s->pstate */
enum { BI_LOGIN = PXB_PROTO, BI_LIT };		/* s->bstate */

/* The capability list: ours and the SASL mechanisms (proxy_sasl.c). */
static const char *
imap_caps(struct proxy_session *s, char *buf, size_t bufsz)
{
	char	 mechs[64];

	snprintf(buf, bufsz, IMAP_CAPS " %s", proxy_sasl_list(s, "AUTH=",
	    mechs, sizeof(mechs)));
	return buf;
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
	char	 caps[128];

	s->pstate = I_CMD;
	proxy_reply(s, "* OK [CAPABILITY %s] smtpcertd IMAP proxy ready\r\n",
	    imap_caps(s, caps, sizeof(caps)));
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
 * -1: syntax error.
 */
static int
imap_args(struct proxy_imap_cmd *a, const char *p, size_t len)
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

/*
 * A line: "tag verb" and for LOGIN and AUTHENTICATE the arguments (the
 * other commands take none we use: the rest of the line is ignored); or
 * with cont the arguments after a literal.
 */
int
proxy_imap_line(struct proxy_imap_cmd *a, const char *line, size_t len,
    int cont)
{
	const char	*p = line;
	size_t		 tlen, vlen;
	int		 r;

	a->sync = 0;
	if (!cont) {
		*a->nargs = 0;
		for (tlen = 0; tlen < len && tag_char((unsigned char)line[tlen]);
		    tlen++)
			;
		if (tlen == 0 || tlen >= PX_TAG_MAX || tlen >= len ||
		    line[tlen] != ' ')
			return PXI_BADTAG;
		memcpy(a->tag, line, tlen);
		a->tag[tlen] = '\0';
		p = line + tlen + 1;
		vlen = strcspn(p, " ");
		if (vlen == 0 || vlen >= PX_VERB_MAX)
			return PXI_BADVERB;
		memcpy(a->verb, p, vlen);
		a->verb[vlen] = '\0';
		p += vlen;
		if (strcasecmp(a->verb, "LOGIN") != 0 &&
		    strcasecmp(a->verb, "AUTHENTICATE") != 0)
			return PXI_DONE;
	}
	if ((r = imap_args(a, p, len - (p - line))) == -1) {
		*a->lit_need = 0;
		return PXI_BADARGS;
	}
	return r == 0 ? PXI_LITERAL : PXI_DONE;
}

/* Literal octets, taken raw into the last argument. */
size_t
proxy_imap_literal(struct proxy_imap_cmd *a, const char *p, size_t len)
{
	int	 i = *a->nargs - 1;

	if (len > *a->lit_need)
		len = *a->lit_need;
	memcpy(a->args[i] + a->arglen[i], p, len);
	a->arglen[i] += len;
	a->args[i][a->arglen[i]] = '\0';
	*a->lit_need -= len;
	return len;
}

static int
imap_bad(struct proxy_session *s, const char *tag, const char *text)
{
	proxy_reply(s, "%s BAD %s\r\n", tag, text);
	s->pstate = I_CMD;
	return proxy_error(s);
}

/* SASL responses refused (proxy_sasl.c). */
static void
imap_sasl_refused(struct proxy_session *s, enum px_mech mech,
    enum px_sasl why)
{
	proxy_reply(s, "%s BAD %s\r\n", s->tag, why == PXSASL_CANCELLED ?
	    "Authentication cancelled" : mech == PXM_EXTERNAL ?
	    "Invalid SASL EXTERNAL response" : "Invalid SASL PLAIN response");
}

static int
imap_input(struct proxy_session *s)
{
	struct proxy_imap_cmd	 c;
	char			*line;
	size_t			 len, n;

	c.tag = s->tag;
	c.verb = s->verb;
	c.args = s->args;
	c.arglen = s->arglen;
	c.nargs = &s->nargs;
	c.lit_need = &s->lit_need;
	while (s->phase == PX_LOGIN) {
		if (s->lit_need > 0) {
			if ((n = io_datalen(s->sess.io)) == 0)
				return 0;
			io_drop(s->sess.io, proxy_imap_literal(&c,
			    io_data(s->sess.io), n));
			continue;
		}
		if ((line = io_getline(s->sess.io, &len)) == NULL) {
			if (len != IO_TOOLONG)
				return 0;
			proxy_reply(s, "* BYE Line too long\r\n");
			proxy_close(s, "line too long");
			return -1;
		}
		if (proxy_sasl_continue(s, line, len)) {
			explicit_bzero(line, len);
			continue;
		}
		switch (proxy_imap_line(&c, line, len, s->pstate == I_CONT)) {
		case PXI_BADTAG:
			if (imap_bad(s, "*", "Invalid tag") == -1)
				return -1;
			continue;
		case PXI_BADVERB:
			if (imap_bad(s, s->tag, "Invalid command") == -1)
				return -1;
			continue;
		case PXI_BADARGS:
			explicit_bzero(line, len);
			if (imap_bad(s, s->tag, "Syntax error in arguments") ==
			    -1)
				return -1;
			continue;
		case PXI_LITERAL:
			explicit_bzero(line, len);
			s->pstate = I_CONT;
			if (c.sync)
				proxy_reply(s, "+ Ready for literal data\r\n");
			continue;
		}
		explicit_bzero(line, len);
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
	char		 caps[128];
	enum px_mech	 mech;

	if (strcasecmp(v, "CAPABILITY") == 0) {
		proxy_reply(s, "* CAPABILITY %s\r\n%s OK CAPABILITY "
		    "completed\r\n", imap_caps(s, caps, sizeof(caps)), s->tag);
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
		if (s->nargs < 1 ||
		    (mech = proxy_sasl_mech(s, s->args[0])) == PXM_NONE) {
			proxy_reply(s, "%s NO [CANNOT] Unsupported "
			    "mechanism\r\n", s->tag);
			return proxy_error(s);
		}
		proxy_sasl_start(s, mech, s->nargs == 2 ? s->args[1] : NULL,
		    s->arglen[1]);
		imap_wipe_args(s);
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

/* The back-end login's argument i: the user or the password. */
static int
imap_be_arg(struct proxy_session *s, int i, const char **a, size_t *len)
{
	const char	*u, *p;
	size_t		 ul, pl;

	if (proxy_backend_creds(s, &u, &ul, &p, &pl) == -1)
		return -1;
	*a = i == 0 ? u : p;
	*len = i == 0 ? ul : pl;
	return 0;
}

/* Send LOGIN arguments from s->be_arg on; stop at a literal. */
static int
imap_be_args(struct proxy_session *s)
{
	const char	*a;
	size_t		 len, i;

	if (s->be_arg == 0)
		proxy_be_printf(s, BE_TAG " LOGIN");
	for (; s->be_arg < 2; s->be_arg++) {
		if (imap_be_arg(s, s->be_arg, &a, &len) == -1)
			return -1;
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

/* The login after the opening (proxy_backend_opening()). */
static int
imap_be_login(struct proxy_session *s)
{
	s->be_arg = 0;
	return imap_be_args(s);
}

static int
imap_be_line(struct proxy_session *s, char *line, size_t len)
{
	const size_t	 tl = sizeof(BE_TAG) - 1;
	const char	*a;
	size_t		 alen;
	int		 tagged;

	tagged = strncmp(line, BE_TAG " ", tl + 1) == 0;
	switch (s->bstate) {
	case PXB_GREET:
		return proxy_backend_opening(s, strncasecmp(line, "* OK", 4) ==
		    0);
	case PXB_STARTTLS:
		if (!tagged)
			return 0;
		return proxy_backend_opening(s, strncasecmp(line + tl + 1, "OK",
		    2) == 0);
	case BI_LIT:
		if (line[0] != '+') {
			proxy_backend_failed(s, PXF_TEMP, "mail server refused "
			    "the login");
			return -1;
		}
		if (imap_be_arg(s, s->be_arg, &a, &alen) == -1)
			return -1;
		proxy_be_write(s, a, alen);
		s->be_arg++;
		return imap_be_args(s);
	case PXB_SASL:
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
				io_write(s->sess.io, line, len);
				io_write(s->sess.io, "\r\n", 2);
			}
			return 0;
		}
		line += tl + 1;
		len -= tl + 1;
		if (strncasecmp(line, "OK", 2) == 0) {
			proxy_reply(s, "%s ", s->tag);
			io_write(s->sess.io, line, len);
			io_write(s->sess.io, "\r\n", 2);
			proxy_backend_done(s);
			return -1;
		}
		/* NO or BAD: the text after it, for the client. */
		a = line + strcspn(line, " ");
		return proxy_backend_refused(s, line - tl - 1, a + (*a == ' '),
		    512, "[AUTHENTICATIONFAILED] Authentication failed.");
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
	.be_start = proxy_backend_start,
	.be_line = imap_be_line,
	.sasl_more = "+ \r\n",
	.sasl_refused = imap_sasl_refused,
	.be_tag = BE_TAG " ",
	.be_starttls = "STARTTLS",
	.be_auth = "AUTHENTICATE",
	.be_login = imap_be_login,
};
