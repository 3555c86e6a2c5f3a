/*
 * Pure SMTP protocol pieces for the front.  See smtp_parse.h for the
 * decisions; the comments here say why the code is shaped as it is.
 *
 * Character classes are tested by hand, never with <ctype.h>: the
 * front's locale is not ours to trust, and a byte >= 0x80 must never be
 * "alpha" by accident.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "smtp_parse.h"

/* ESMTP parameters we know, as bits so a repeat is caught cheaply. */
#define SP_P_SIZE	0x001
#define SP_P_BODY	0x002
#define SP_P_SMTPUTF8	0x004
#define SP_P_AUTH	0x008
#define SP_P_RET	0x010
#define SP_P_ENVID	0x020
#define SP_P_NOTIFY	0x040
#define SP_P_ORCPT	0x080

/* Inside "[...]": the longest IPv6 text form (45) fits with room. */
#define SP_LITERAL_MAX	64

struct sp_verb {
	const char	*name;
	enum smtp_verb	 verb;
};

static const struct sp_verb sp_verbs[] = {
	{ "EHLO",	SMTP_CMD_EHLO },
	{ "HELO",	SMTP_CMD_HELO },
	{ "MAIL",	SMTP_CMD_MAIL },
	{ "RCPT",	SMTP_CMD_RCPT },
	{ "DATA",	SMTP_CMD_DATA },
	{ "RSET",	SMTP_CMD_RSET },
	{ "NOOP",	SMTP_CMD_NOOP },
	{ "QUIT",	SMTP_CMD_QUIT },
	{ "HELP",	SMTP_CMD_HELP },
	{ "VRFY",	SMTP_CMD_VRFY },
	{ "EXPN",	SMTP_CMD_EXPN },
	{ "STARTTLS",	SMTP_CMD_STARTTLS },
	{ "AUTH",	SMTP_CMD_AUTH },
	{ "BDAT",	SMTP_CMD_BDAT },
};

/* What the parameter loop knows while it walks a MAIL/RCPT argument. */
struct sp_params {
	int		 rcpt;
	int		 seen;		/* SP_P_* */
	int		 nonascii;	/* a value had octets >= 0x80 */
	size_t		 plen;
	size_t		 dlen;
};

static int	sp_upper(int);
static int	sp_alpha(int);
static int	sp_digit(int);
static int	sp_hexdigit_upper(int);
static int	sp_atext(int);
static int	sp_caseeq(const char *, size_t, const char *);
static int	sp_caseprefix(const char *, size_t, const char *);
static size_t	sp_utf8(const unsigned char *, size_t);
static int	sp_literal(const char *, size_t);
static int	sp_domain(const char *, size_t, int *);
static enum smtp_path_err sp_localpart(const char *, size_t, size_t *,
		    int *);
static enum smtp_path_err sp_mailbox(const char *, size_t, int *);
static enum smtp_path_err sp_route(const char *, size_t, size_t *, int *);
static enum smtp_path_err sp_path(const char *, size_t, size_t *, int,
		    struct smtp_path *);
static int	sp_xtext(const char *, size_t);
static int	sp_notify(const char *, size_t);
static int	sp_orcpt(const char *, size_t);
static int	sp_size(const char *, size_t, uint64_t *);
static int	sp_append(char *, size_t *, const char *, size_t);
static enum smtp_path_err sp_param(struct sp_params *, const char *,
		    size_t, struct smtp_path *);
static enum smtp_path_err sp_envelope(const char *, size_t, const char *,
		    int, int, struct smtp_path *);
static int	sp_b64val(int);
static int	sp_enh(const char *, size_t, int, size_t *);
static int	sp_textchar(int);
static enum smtp_reply_status sp_reply_fail(struct smtp_reply *,
		    enum smtp_reply_err);

static int
sp_upper(int c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 'A';
	return c;
}

static int
sp_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
sp_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* xtext's "+" escape uses upper-case hex only (RFC 3461 4). */
static int
sp_hexdigit_upper(int c)
{
	return sp_digit(c) || (c >= 'A' && c <= 'F');
}

/* RFC 5322 atext, ASCII part. */
static int
sp_atext(int c)
{
	if (sp_alpha(c) || sp_digit(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Does s[0..len) equal word, ignoring ASCII case? */
static int
sp_caseeq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && sp_caseprefix(s, len, word);
}

static int
sp_caseprefix(const char *s, size_t len, const char *word)
{
	size_t	 i, wl = strlen(word);

	if (len < wl)
		return 0;
	for (i = 0; i < wl; i++)
		if (sp_upper((unsigned char)s[i]) !=
		    sp_upper((unsigned char)word[i]))
			return 0;
	return 1;
}

/*
 * Length of the well-formed UTF-8 sequence (RFC 3629) starting at s, or
 * 0.  Overlong forms and surrogates are refused: an address that decodes
 * two ways is an address two systems disagree about.
 */
static size_t
sp_utf8(const unsigned char *s, size_t len)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (len == 0)
		return 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* "[...]" address literal: IPv4 dotted quad or "IPv6:" + RFC 4291 text. */
static int
sp_literal(const char *s, size_t len)
{
	char		 buf[SP_LITERAL_MAX];
	unsigned char	 addr[sizeof(struct in6_addr)];
	size_t		 off = 1, i;
	int		 af = AF_INET;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return -1;
	if (sp_caseprefix(s + 1, len - 2, "IPv6:")) {
		af = AF_INET6;
		off += 5;
	}
	if (len - 1 - off >= sizeof(buf) || len - 1 - off == 0)
		return -1;
	/* inet_pton() would stop at a NUL and accept what came before. */
	for (i = off; i < len - 1; i++)
		if (!sp_digit((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != ':' && !(sp_upper((unsigned char)s[i]) >= 'A' &&
		    sp_upper((unsigned char)s[i]) <= 'F'))
			return -1;
	memcpy(buf, s + off, len - 1 - off);
	buf[len - 1 - off] = '\0';
	return inet_pton(af, buf, addr) == 1 ? 0 : -1;
}

/*
 * Domain (RFC 5321 4.1.2) of LDH labels, with UTF-8 U-labels allowed
 * (the caller decides later whether non-ASCII is acceptable).  *utf8 is
 * set when an octet >= 0x80 was seen.  0 or -1.
 */
static int
sp_domain(const char *s, size_t len, int *utf8)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, label = 0, n;
	int			 last = 0;	/* previous octet */

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return -1;
	while (i < len) {
		if (u[i] == '.') {
			if (label == 0 || last == '-')
				return -1;
			label = 0;
			last = '.';
			i++;
			continue;
		}
		if (u[i] >= 0x80) {
			if ((n = sp_utf8(u + i, len - i)) == 0)
				return -1;
			*utf8 = 1;
		} else if (sp_alpha(u[i]) || sp_digit(u[i]))
			n = 1;
		else if (u[i] == '-' && label > 0)
			n = 1;
		else
			return -1;
		last = u[i];
		label += n;
		i += n;
		if (label > SMTP_LABEL_MAX)
			return -1;
	}
	/* No empty last label (a trailing dot) and no trailing hyphen. */
	if (label == 0 || last == '-')
		return -1;
	return 0;
}

/*
 * Local part at s: dot-string or quoted string.  *used gets its length.
 */
static enum smtp_path_err
sp_localpart(const char *s, size_t len, size_t *used, int *utf8)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, n;
	int			 atom = 0;

	if (len == 0)
		return SMTP_PE_ADDR;
	if (u[0] == '"') {
		for (i = 1; i < len; i++) {
			if (u[i] == '"') {
				*used = i + 1;
				return SMTP_PE_OK;
			}
			if (u[i] == '\\') {
				/* quoted-pairSMTP: backslash + %d32-126 */
				if (i + 1 >= len || u[i + 1] < 32 ||
				    u[i + 1] > 126)
					return SMTP_PE_ADDR;
				i++;
				continue;
			}
			if (u[i] >= 0x80) {
				if ((n = sp_utf8(u + i, len - i)) == 0)
					return SMTP_PE_ADDR;
				*utf8 = 1;
				i += n - 1;
				continue;
			}
			/* qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
			if (u[i] < 32 || u[i] > 126)
				return SMTP_PE_ADDR;
		}
		return SMTP_PE_ADDR;	/* unterminated */
	}
	for (i = 0; i < len && u[i] != '@'; ) {
		if (u[i] == '.') {
			if (atom == 0)
				return SMTP_PE_ADDR;	/* leading or ".." */
			atom = 0;
			i++;
			continue;
		}
		if (u[i] >= 0x80) {
			if ((n = sp_utf8(u + i, len - i)) == 0)
				return SMTP_PE_ADDR;
			*utf8 = 1;
		} else if (sp_atext(u[i]))
			n = 1;
		else
			return SMTP_PE_ADDR;
		atom++;
		i += n;
	}
	if (atom == 0)
		return SMTP_PE_ADDR;		/* empty or trailing dot */
	*used = i;
	return SMTP_PE_OK;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), all of s. */
static enum smtp_path_err
sp_mailbox(const char *s, size_t len, int *utf8)
{
	enum smtp_path_err	 e;
	size_t			 lp;

	if ((e = sp_localpart(s, len, &lp, utf8)) != SMTP_PE_OK)
		return e;
	if (lp >= len || s[lp] != '@')
		return SMTP_PE_ADDR;
	s += lp + 1;
	len -= lp + 1;
	if (len > 0 && s[0] == '[')
		return sp_literal(s, len) == 0 ? SMTP_PE_OK : SMTP_PE_ADDR;
	return sp_domain(s, len, utf8) == 0 ? SMTP_PE_OK : SMTP_PE_ADDR;
}

/* A-d-l ":" at s (which starts with "@"); *used includes the colon. */
static enum smtp_path_err
sp_route(const char *s, size_t len, size_t *used, int *utf8)
{
	size_t	 i = 0, start;

	for (;;) {
		if (i >= len || s[i] != '@')
			return SMTP_PE_ADDR;
		start = ++i;
		while (i < len && s[i] != ',' && s[i] != ':')
			i++;
		if (i >= len)
			return SMTP_PE_ADDR;
		if (sp_domain(s + start, i - start, utf8) == -1)
			return SMTP_PE_ADDR;
		if (s[i++] == ':')
			break;
	}
	*used = i;
	return SMTP_PE_OK;
}

/*
 * Path at s (s[0] == '<').  *used: octets through the ">".  The closing
 * bracket is found before anything is validated, so an over-long path
 * gets "too long" rather than whatever error its content would cause; a
 * ">" inside a quoted local part does not close the path.
 */
static enum smtp_path_err
sp_path(const char *s, size_t len, size_t *used, int rcpt,
    struct smtp_path *p)
{
	enum smtp_path_err	 e;
	const char		*in;
	size_t			 i, inlen, route = 0;
	int			 inq = 0, utf8 = 0;

	for (i = 1; i < len; i++) {
		if (inq) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				inq = 0;
			continue;
		}
		if (s[i] == '"')
			inq = 1;
		else if (s[i] == '>')
			break;
		else if (s[i] == '<')
			return SMTP_PE_SYNTAX;
	}
	if (i >= len)
		return SMTP_PE_SYNTAX;		/* no closing ">" */
	*used = i + 1;
	if (*used > SMTP_PATH_MAX)
		return SMTP_PE_TOO_LONG;
	in = s + 1;
	inlen = i - 1;

	if (inlen == 0) {
		if (rcpt)
			return SMTP_PE_ADDR;
		p->flags |= SMTP_PATH_NULL;
		return SMTP_PE_OK;
	}
	if (rcpt && sp_caseeq(in, inlen, "postmaster")) {
		p->flags |= SMTP_PATH_POSTMASTER;
	} else {
		if (in[0] == '@') {
			if ((e = sp_route(in, inlen, &route, &utf8)) !=
			    SMTP_PE_OK)
				return e;
			p->flags |= SMTP_PATH_ROUTE;
		}
		if ((e = sp_mailbox(in + route, inlen - route, &utf8)) !=
		    SMTP_PE_OK)
			return e;
	}
	if (utf8)
		p->flags |= SMTP_PATH_UTF8;
	memcpy(p->addr, in + route, inlen - route);
	p->addr[inlen - route] = '\0';
	p->addrlen = inlen - route;
	return SMTP_PE_OK;
}

/* xtext (RFC 3461 4): %d33-126 except "+" "=", or "+" HEX HEX. */
static int
sp_xtext(const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (u[i] == '+') {
			if (i + 2 >= len || !sp_hexdigit_upper(u[i + 1]) ||
			    !sp_hexdigit_upper(u[i + 2]))
				return -1;
			i += 2;
			continue;
		}
		/*
		 * Octets >= 0x80 are UTF-8 xtext (RFC 6533); whether they
		 * are acceptable is decided with the address.
		 */
		if (u[i] >= 0x80)
			continue;
		if (u[i] < 33 || u[i] > 126 || u[i] == '=')
			return -1;
	}
	return 0;
}

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) */
static int
sp_notify(const char *s, size_t len)
{
	size_t	 i = 0, start;

	if (sp_caseeq(s, len, "NEVER"))
		return 0;
	for (;;) {
		start = i;
		while (i < len && s[i] != ',')
			i++;
		if (!sp_caseeq(s + start, i - start, "SUCCESS") &&
		    !sp_caseeq(s + start, i - start, "FAILURE") &&
		    !sp_caseeq(s + start, i - start, "DELAY"))
			return -1;
		if (i == len)
			return 0;
		i++;	/* the comma; a trailing one fails the next word */
	}
}

/* ORCPT = addr-type ";" xtext, addr-type an atom (RFC 3461 4.2). */
static int
sp_orcpt(const char *s, size_t len)
{
	size_t	 i;

	if (len > SMTP_ORCPT_MAX)
		return -1;
	for (i = 0; i < len && s[i] != ';'; i++)
		if (!sp_alpha((unsigned char)s[i]) &&
		    !sp_digit((unsigned char)s[i]) && s[i] != '-')
			return -1;
	if (i == 0 || i >= len)
		return -1;
	return sp_xtext(s + i + 1, len - i - 1);
}

/*
 * SIZE value: 1..20 digits.  A value beyond 64 bits saturates: it is a
 * "too big" for the caller to refuse, not a syntax error.
 */
static int
sp_size(const char *s, size_t len, uint64_t *v)
{
	size_t		 i;
	uint64_t	 n = 0, d;

	if (len == 0 || len > SMTP_SIZE_DIGITS)
		return -1;
	for (i = 0; i < len; i++) {
		if (!sp_digit((unsigned char)s[i]))
			return -1;
		d = (uint64_t)(s[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			n = UINT64_MAX;
		else
			n = n * 10 + d;
	}
	*v = n;
	return 0;
}

/* Append " word" (no SP when first) to buf of SMTP_LINE_MAX.  0 or -1. */
static int
sp_append(char *buf, size_t *blen, const char *s, size_t len)
{
	size_t	 sep = *blen > 0 ? 1 : 0;

	if (*blen + sep + len >= SMTP_LINE_MAX)
		return -1;
	if (sep)
		buf[(*blen)++] = ' ';
	memcpy(buf + *blen, s, len);
	*blen += len;
	buf[*blen] = '\0';
	return 0;
}

/* One "keyword[=value]" token. */
static enum smtp_path_err
sp_param(struct sp_params *sp, const char *tok, size_t len,
    struct smtp_path *p)
{
	const unsigned char	*u = (const unsigned char *)tok;
	const char		*val = NULL;
	size_t			 klen, vlen = 0, i, n;
	int			 bit = 0, dsn = 0;

	for (klen = 0; klen < len && tok[klen] != '='; klen++)
		;
	if (klen == 0 || (!sp_alpha(u[0]) && !sp_digit(u[0])))
		return SMTP_PE_PARAM;
	for (i = 1; i < klen; i++)
		if (!sp_alpha(u[i]) && !sp_digit(u[i]) && u[i] != '-')
			return SMTP_PE_PARAM;
	if (klen < len) {
		val = tok + klen + 1;
		vlen = len - klen - 1;
		/* esmtp-value: 1*(%d33-60 / %d62-126), UTF-8 per 6531 */
		if (vlen == 0)
			return SMTP_PE_PARAM;
		for (i = klen + 1; i < len; i++) {
			if (u[i] >= 0x80) {
				if ((n = sp_utf8(u + i, len - i)) == 0)
					return SMTP_PE_PARAM;
				sp->nonascii = 1;
				i += n - 1;
				continue;
			}
			if (u[i] < 33 || u[i] > 126 || u[i] == '=')
				return SMTP_PE_PARAM;
		}
	}

	if (!sp->rcpt && sp_caseeq(tok, klen, "SIZE")) {
		bit = SP_P_SIZE;
		if (val == NULL || sp_size(val, vlen, &p->size) == -1)
			return SMTP_PE_PARAM;
		p->has_size = 1;
	} else if (!sp->rcpt && sp_caseeq(tok, klen, "BODY")) {
		bit = SP_P_BODY;
		if (val == NULL)
			return SMTP_PE_PARAM;
		if (sp_caseeq(val, vlen, "7BIT"))
			p->body = SMTP_BODY_7BIT;
		else if (sp_caseeq(val, vlen, "8BITMIME"))
			p->body = SMTP_BODY_8BITMIME;
		else if (sp_caseeq(val, vlen, "BINARYMIME"))
			return SMTP_PE_PARAM_UNKNOWN;
		else
			return SMTP_PE_PARAM;
	} else if (!sp->rcpt && sp_caseeq(tok, klen, "SMTPUTF8")) {
		bit = SP_P_SMTPUTF8;
		if (val != NULL)
			return SMTP_PE_PARAM;
		p->smtputf8 = 1;
	} else if (!sp->rcpt && sp_caseeq(tok, klen, "AUTH")) {
		bit = SP_P_AUTH;
		if (val == NULL || sp_xtext(val, vlen) == -1)
			return SMTP_PE_PARAM;
		p->auth = 1;
	} else if (!sp->rcpt && sp_caseeq(tok, klen, "RET")) {
		bit = SP_P_RET;
		dsn = 1;
		if (val == NULL || (!sp_caseeq(val, vlen, "FULL") &&
		    !sp_caseeq(val, vlen, "HDRS")))
			return SMTP_PE_PARAM;
	} else if (!sp->rcpt && sp_caseeq(tok, klen, "ENVID")) {
		bit = SP_P_ENVID;
		dsn = 1;
		if (val == NULL || vlen > SMTP_ENVID_MAX ||
		    sp_xtext(val, vlen) == -1)
			return SMTP_PE_PARAM;
	} else if (sp->rcpt && sp_caseeq(tok, klen, "NOTIFY")) {
		bit = SP_P_NOTIFY;
		dsn = 1;
		if (val == NULL || sp_notify(val, vlen) == -1)
			return SMTP_PE_PARAM;
	} else if (sp->rcpt && sp_caseeq(tok, klen, "ORCPT")) {
		bit = SP_P_ORCPT;
		dsn = 1;
		if (val == NULL || sp_orcpt(val, vlen) == -1)
			return SMTP_PE_PARAM;
	} else
		return SMTP_PE_PARAM_UNKNOWN;

	if (sp->seen & bit)
		return SMTP_PE_PARAM;
	sp->seen |= bit;
	if (sp_append(p->params, &sp->plen, tok, len) == -1)
		return SMTP_PE_PARAM;
	if (dsn && sp_append(p->dsn, &sp->dlen, tok, len) == -1)
		return SMTP_PE_PARAM;
	return SMTP_PE_OK;
}

/* Shared body of MAIL and RCPT: kw is "FROM:" or "TO:". */
static enum smtp_path_err
sp_envelope(const char *arg, size_t len, const char *kw, int rcpt,
    int smtputf8, struct smtp_path *p)
{
	struct sp_params	 sp;
	enum smtp_path_err	 e;
	size_t			 i, used, start;

	memset(p, 0, sizeof(*p));
	memset(&sp, 0, sizeof(sp));
	sp.rcpt = rcpt;

	if (!sp_caseprefix(arg, len, kw))
		return SMTP_PE_SYNTAX;
	i = strlen(kw);
	if (i < len && arg[i] == ' ')
		i++;
	if (i >= len || arg[i] != '<')
		return SMTP_PE_SYNTAX;
	if ((e = sp_path(arg + i, len - i, &used, rcpt, p)) != SMTP_PE_OK)
		return e;
	i += used;
	if (i < len && arg[i] != ' ')
		return SMTP_PE_SYNTAX;		/* "<a@b>junk" */
	for (;;) {
		while (i < len && arg[i] == ' ')
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && arg[i] != ' ')
			i++;
		if ((e = sp_param(&sp, arg + start, i - start, p)) !=
		    SMTP_PE_OK)
			return e;
	}

	/* Parameters are all read: only now is SMTPUTF8 known for MAIL. */
	if (!rcpt)
		smtputf8 = p->smtputf8;
	if (((p->flags & SMTP_PATH_UTF8) || sp.nonascii) && !smtputf8)
		return SMTP_PE_UTF8;
	return SMTP_PE_OK;
}

enum smtp_path_err
smtp_parse_mail(const char *arg, size_t len, struct smtp_path *p)
{
	return sp_envelope(arg, len, "FROM:", 0, 0, p);
}

enum smtp_path_err
smtp_parse_rcpt(const char *arg, size_t len, int smtputf8,
    struct smtp_path *p)
{
	return sp_envelope(arg, len, "TO:", 1, smtputf8, p);
}

void
smtp_path_reply(enum smtp_path_err e, int rcpt, int *code, const char **enh,
    const char **text)
{
	const char	*addrenh = rcpt ? "5.1.3" : "5.1.7";

	switch (e) {
	case SMTP_PE_OK:
		*code = 250;
		*enh = rcpt ? "2.1.5" : "2.1.0";
		*text = "Ok";
		break;
	case SMTP_PE_SYNTAX:
		*code = 501;
		*enh = "5.5.4";
		*text = rcpt ? "Syntax: RCPT TO:<address> [parameters]" :
		    "Syntax: MAIL FROM:<address> [parameters]";
		break;
	case SMTP_PE_ADDR:
		*code = 501;
		*enh = addrenh;
		*text = rcpt ? "Bad recipient address syntax" :
		    "Bad sender address syntax";
		break;
	case SMTP_PE_TOO_LONG:
		*code = 501;
		*enh = addrenh;
		*text = "Path too long (at most 256 octets)";
		break;
	case SMTP_PE_UTF8:
		*code = 553;
		*enh = "5.6.7";
		*text = "Non-ASCII address requires SMTPUTF8 on MAIL FROM";
		break;
	case SMTP_PE_PARAM:
		*code = 501;
		*enh = "5.5.4";
		*text = "Invalid or repeated parameter";
		break;
	case SMTP_PE_PARAM_UNKNOWN:
	default:
		*code = 555;
		*enh = "5.5.4";
		*text = "Unsupported parameter";
		break;
	}
}

enum smtp_verb
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	size_t	 i, vlen, n;

	cmd->verb = SMTP_CMD_UNKNOWN;
	cmd->arg = line + len;
	cmd->arglen = 0;

	if (len > SMTP_LINE_MAX - 2 ||
	    memchr(line, '\0', len) != NULL ||
	    memchr(line, '\r', len) != NULL ||
	    memchr(line, '\n', len) != NULL) {
		cmd->verb = SMTP_CMD_INVALID;
		return cmd->verb;
	}
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	for (n = 0; n < sizeof(sp_verbs) / sizeof(sp_verbs[0]); n++) {
		if (sp_caseeq(line, vlen, sp_verbs[n].name)) {
			cmd->verb = sp_verbs[n].verb;
			break;
		}
	}
	if (cmd->verb == SMTP_CMD_UNKNOWN)
		return cmd->verb;
	for (i = vlen; i < len && line[i] == ' '; i++)
		;
	while (len > i && line[len - 1] == ' ')
		len--;
	cmd->arg = line + i;
	cmd->arglen = len - i;
	return cmd->verb;
}

const char *
smtp_cmd_name(enum smtp_verb verb)
{
	size_t	 n;

	for (n = 0; n < sizeof(sp_verbs) / sizeof(sp_verbs[0]); n++)
		if (sp_verbs[n].verb == verb)
			return sp_verbs[n].name;
	return "?";
}

int
smtp_parse_helo(const char *arg, size_t len)
{
	const unsigned char	*u = (const unsigned char *)arg;
	size_t			 i, n;

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return -1;
	if (u[0] == '[')
		return sp_literal(arg, len);
	for (i = 0; i < len; i += n) {
		n = 1;
		if (u[i] >= 0x80) {
			if ((n = sp_utf8(u + i, len - i)) == 0)
				return -1;
		} else if (u[i] <= 0x20 || u[i] == 0x7f || u[i] == '[' ||
		    u[i] == ']')
			return -1;
	}
	return 0;
}

int
smtp_parse_auth(const char *arg, size_t len, struct smtp_auth *a)
{
	size_t	 i;
	int	 c;

	memset(a, 0, sizeof(*a));
	/* RFC 4422 3.1: 1*20 of upper-case letters, digits, "-", "_". */
	for (i = 0; i < len && arg[i] != ' '; i++) {
		c = sp_upper((unsigned char)arg[i]);
		if (i >= SMTP_SASL_MECH_MAX || !(sp_alpha(c) ||
		    sp_digit(c) || c == '-' || c == '_'))
			return -1;
		a->mech[i] = (char)c;
	}
	if (i == 0)
		return -1;
	a->mech[i] = '\0';
	if (i == len)
		return 0;
	i++;	/* the one SP */
	if (i == len)
		return -1;
	a->ir = arg + i;
	if (len - i == 1 && arg[i] == '=') {
		a->irlen = 0;
		return 0;
	}
	/* Only the alphabet here; the decode checks the rest. */
	for (a->irlen = 0; i < len; i++, a->irlen++)
		if (sp_b64val((unsigned char)arg[i]) == -1 && arg[i] != '=')
			return -1;
	return 0;
}

int
smtp_auth_is_cancel(const char *line, size_t len)
{
	return len == 1 && line[0] == '*';
}

static int
sp_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
smtp_b64_decode(const char *in, size_t inlen, unsigned char *out,
    size_t outsz, size_t *outlen)
{
	size_t		 i, k, o = 0, pad = 0;
	int		 v[4];
	uint32_t	 w;

	*outlen = 0;
	if (inlen % 4 != 0)
		return -1;
	for (i = 0; i < inlen; i += 4) {
		for (k = 0; k < 4; k++) {
			v[k] = sp_b64val((unsigned char)in[i + k]);
			if (v[k] != -1)
				continue;
			/* "=" only in the last two places of the last quad */
			if (in[i + k] != '=' || i + 4 != inlen || k < 2)
				return -1;
			v[k] = 0;
			pad++;
		}
		/* "ab=c" has padding before data */
		if (pad == 1 && in[i + 2] == '=')
			return -1;
		w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
		    ((uint32_t)v[2] << 6) | (uint32_t)v[3];
		/* Non-zero unused bits: two encodings of one octet string. */
		if ((pad == 1 && (w & 0xff) != 0) ||
		    (pad == 2 && (w & 0xffff) != 0))
			return -1;
		if (o + 3 - pad > outsz)
			return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	*outlen = o;
	return 0;
}

int
smtp_b64_encode(const void *in, size_t inlen, char *out, size_t outsz)
{
	static const char	 alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*u = in;
	size_t			 i, o = 0;
	uint32_t		 w;

	if (inlen > (SIZE_MAX - 3) / 4 * 3 ||
	    SMTP_B64_ENCLEN(inlen) >= outsz)
		return -1;
	for (i = 0; i + 2 < inlen; i += 3) {
		w = ((uint32_t)u[i] << 16) | ((uint32_t)u[i + 1] << 8) |
		    u[i + 2];
		out[o++] = alpha[(w >> 18) & 63];
		out[o++] = alpha[(w >> 12) & 63];
		out[o++] = alpha[(w >> 6) & 63];
		out[o++] = alpha[w & 63];
	}
	if (inlen - i == 1) {
		w = (uint32_t)u[i] << 16;
		out[o++] = alpha[(w >> 18) & 63];
		out[o++] = alpha[(w >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (inlen - i == 2) {
		w = ((uint32_t)u[i] << 16) | ((uint32_t)u[i + 1] << 8);
		out[o++] = alpha[(w >> 18) & 63];
		out[o++] = alpha[(w >> 12) & 63];
		out[o++] = alpha[(w >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

int
smtp_sasl_plain(const void *buf, size_t len, struct smtp_plain *pl)
{
	const char	*s = buf, *n1, *n2;

	memset(pl, 0, sizeof(*pl));
	if ((n1 = memchr(s, '\0', len)) == NULL)
		return -1;
	n2 = memchr(n1 + 1, '\0', len - (size_t)(n1 + 1 - s));
	if (n2 == NULL)
		return -1;
	/* A third NUL would make the password ambiguous. */
	if (memchr(n2 + 1, '\0', len - (size_t)(n2 + 1 - s)) != NULL)
		return -1;
	pl->authzid = s;
	pl->authzidlen = (size_t)(n1 - s);
	pl->authcid = n1 + 1;
	pl->authcidlen = (size_t)(n2 - n1 - 1);
	pl->passwd = n2 + 1;
	pl->passwdlen = len - (size_t)(n2 + 1 - s);
	if (pl->authcidlen == 0 || pl->passwdlen == 0)
		return -1;
	return 0;
}

/*
 * Enhanced status code at s (RFC 3463): class "." 1*3digit "." 1*3digit
 * with class == cls, followed by the end or SP.  Returns 1 and its length
 * in *elen, or 0.
 */
static int
sp_enh(const char *s, size_t len, int cls, size_t *elen)
{
	size_t	 i = 2, part, d;

	if (len < 5 || s[0] != '0' + cls || s[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (d = 0; i < len && sp_digit((unsigned char)s[i]); d++)
			i++;
		if (d == 0 || d > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	*elen = i;
	return 1;
}

/* textstring octets (RFC 5321 4.2): HT, SP..~, and UTF-8 (RFC 6531). */
static int
sp_textchar(int c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

int
smtp_reply_format(char *buf, size_t bufsz, int code, const char *enh,
    const char *text)
{
	const char	*line, *nl;
	size_t		 o = 0, llen, elen = 0, i, need, tlen;
	int		 last;

	if (code < 200 || code > 599 || bufsz == 0)
		return -1;
	if (enh != NULL && (code / 100 == 3 ||
	    !sp_enh(enh, strlen(enh), code / 100, &elen) ||
	    elen != strlen(enh)))
		return -1;
	if (text == NULL)
		text = "";
	tlen = strlen(text);
	if (tlen > 0 && text[tlen - 1] == '\n')
		tlen--;
	line = text;
	do {
		nl = memchr(line, '\n', tlen - (size_t)(line - text));
		last = nl == NULL;
		llen = last ? tlen - (size_t)(line - text) :
		    (size_t)(nl - line);
		for (i = 0; i < llen; i++)
			if (!sp_textchar((unsigned char)line[i]))
				return -1;
		/* "ddd" sep [enh] [SP text] CRLF */
		need = 4 + elen + (elen > 0 && llen > 0 ? 1 : 0) + llen + 2;
		if (need > SMTP_LINE_MAX || o + need >= bufsz)
			return -1;
		buf[o++] = (char)('0' + code / 100);
		buf[o++] = (char)('0' + code / 10 % 10);
		buf[o++] = (char)('0' + code % 10);
		buf[o++] = last ? ' ' : '-';
		memcpy(buf + o, enh != NULL ? enh : "", elen);
		o += elen;
		if (elen > 0 && llen > 0)
			buf[o++] = ' ';
		memcpy(buf + o, line, llen);
		o += llen;
		buf[o++] = '\r';
		buf[o++] = '\n';
		if (!last)
			line = nl + 1;
	} while (!last);
	buf[o] = '\0';
	return (int)o;
}

void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->status = SMTP_REPLY_MORE;
}

static enum smtp_reply_status
sp_reply_fail(struct smtp_reply *r, enum smtp_reply_err e)
{
	r->error = e;
	r->status = SMTP_REPLY_ERROR;
	return r->status;
}

enum smtp_reply_status
smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len)
{
	const unsigned char	*u = (const unsigned char *)line;
	size_t			 i, tstart, elen;
	int			 code, last;

	if (r->status != SMTP_REPLY_MORE)
		return sp_reply_fail(r, SMTP_RE_AFTER_END);
	if (len > SMTP_LINE_MAX - 2)
		return sp_reply_fail(r, SMTP_RE_LINE_TOO_LONG);
	/* RFC 5321 4.2: first digit 2-5, second 0-5, third 0-9. */
	if (len < 3 || u[0] < '2' || u[0] > '5' || u[1] < '0' ||
	    u[1] > '5' || !sp_digit(u[2]))
		return sp_reply_fail(r, SMTP_RE_SYNTAX);
	code = (u[0] - '0') * 100 + (u[1] - '0') * 10 + (u[2] - '0');
	if (len == 3)
		last = 1;
	else if (u[3] == ' ')
		last = 1;
	else if (u[3] == '-')
		last = 0;
	else
		return sp_reply_fail(r, SMTP_RE_SYNTAX);
	if (r->nlines > 0 && code != r->code)
		return sp_reply_fail(r, SMTP_RE_MISMATCH);
	if (r->nlines >= SMTP_REPLY_LINES_MAX)
		return sp_reply_fail(r, SMTP_RE_TOO_MANY_LINES);
	for (i = 4; i < len; i++)
		if (!sp_textchar(u[i]))
			return sp_reply_fail(r, SMTP_RE_CHAR);

	tstart = len > 4 ? 4 : len;
	if (r->nlines == 0) {
		r->code = code;
		if (sp_enh(line + tstart, len - tstart, code / 100, &elen)) {
			memcpy(r->enh, line + tstart, elen);
			r->enh[elen] = '\0';
		}
	}
	/* Strip the enhanced code where it repeats the first line's. */
	elen = strlen(r->enh);
	if (elen > 0 && len - tstart >= elen &&
	    memcmp(line + tstart, r->enh, elen) == 0 &&
	    (len - tstart == elen || line[tstart + elen] == ' ')) {
		tstart += elen;
		if (tstart < len)
			tstart++;
	}

	/* Room for a '\n' separator, the text and the final NUL. */
	if (r->textlen + (r->nlines > 0) + (len - tstart) + 1 >
	    sizeof(r->text))
		return sp_reply_fail(r, SMTP_RE_TOO_LONG);
	if (r->nlines > 0)
		r->text[r->textlen++] = '\n';
	r->off[r->nlines] = r->textlen;
	r->len[r->nlines] = len - tstart;
	memcpy(r->text + r->textlen, line + tstart, len - tstart);
	r->textlen += len - tstart;
	r->text[r->textlen] = '\0';
	r->nlines++;
	r->status = last ? SMTP_REPLY_DONE : SMTP_REPLY_MORE;
	return r->status;
}

const char *
smtp_reply_line(const struct smtp_reply *r, size_t i, size_t *lenp)
{
	if (i >= r->nlines)
		return NULL;
	if (lenp != NULL)
		*lenp = r->len[i];
	return r->text + r->off[i];
}

int
smtp_reply_ehlo_has(const struct smtp_reply *r, const char *kw,
    const char **param, size_t *plen)
{
	const char	*l;
	size_t		 i, len, kl = strlen(kw);

	if (r->status != SMTP_REPLY_DONE || r->code != 250)
		return 0;
	for (i = 1; i < r->nlines; i++) {
		l = r->text + r->off[i];
		len = r->len[i];
		if (!sp_caseprefix(l, len, kw) ||
		    (len > kl && l[kl] != ' '))
			continue;
		if (param != NULL) {
			*param = l + (len > kl ? kl + 1 : kl);
			*plen = len > kl ? len - kl - 1 : 0;
		}
		return 1;
	}
	return 0;
}

const char *
smtp_reply_strerror(enum smtp_reply_err e)
{
	switch (e) {
	case SMTP_RE_NONE:
		return "no error";
	case SMTP_RE_SYNTAX:
		return "malformed reply code or separator";
	case SMTP_RE_MISMATCH:
		return "reply lines with different codes";
	case SMTP_RE_CHAR:
		return "control character in reply text";
	case SMTP_RE_LINE_TOO_LONG:
		return "reply line too long";
	case SMTP_RE_TOO_MANY_LINES:
		return "too many reply lines";
	case SMTP_RE_TOO_LONG:
		return "reply text too long";
	case SMTP_RE_AFTER_END:
		return "reply line after the end of the reply";
	}
	return "unknown error";
}

void
smtp_xtext(char *out, size_t outsz, const char *in)
{
	size_t	 o = 0;

	if (outsz == 0)
		return;
	for (; *in != '\0' && o + 4 < outsz; in++) {
		unsigned char c = *in;

		if (c < 33 || c > 126 || c == '+' || c == '=')
			o += snprintf(out + o, outsz - o, "+%02X", c);
		else
			out[o++] = c;
	}
	out[o] = '\0';
}
