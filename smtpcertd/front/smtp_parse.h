/*
 * Pure SMTP protocol pieces for the front: command lines, MAIL/RCPT
 * paths and ESMTP parameters, EHLO/HELO arguments, AUTH (base64, SASL
 * PLAIN), reply formatting towards the client and reply parsing from the
 * upstream MTA.  Nothing here does I/O, allocates or logs, so every
 * function can be fed hostile bytes in a unit test.
 *
 * Input is never assumed NUL-terminated: every parser takes a pointer and
 * a length, and pointers it hands back point into the caller's input.
 *
 * Decisions a reader of the front needs to know (RFC 5321 unless noted):
 *
 *  - A command line is the line WITHOUT its CRLF.  The I/O layer has
 *    already refused lines over SMTP_LINE_MAX octets (CRLF included) and
 *    lines with NUL, bare CR or bare LF; smtp_cmd_parse() checks again and
 *    calls such a line SMTP_CMD_INVALID.
 *  - The verb is case-insensitive and must be followed by SP or the end
 *    of the line ("MAILFROM:" is not MAIL).  Leading and trailing SP of
 *    the argument are dropped (clients do send "QUIT " and "MAIL  FROM").
 *  - "FROM:" / "TO:" are case-insensitive and may be followed by at most
 *    ONE space before the "<": zero is the RFC, one is what many clients
 *    send.  More, a missing "<...>", or anything glued after the ">" is a
 *    syntax error; we never guess where an unbracketed address ends.
 *  - A path is at most SMTP_PATH_MAX octets, brackets and source route
 *    included (4.5.3.1.3).  A source route ("<@a,@b:user@d>") is accepted
 *    and stripped (4.1.1.3, C.2).  "<>" is allowed for MAIL only;
 *    "<postmaster>" (no domain) for RCPT only (4.5.1).
 *  - A local part is a dot-string (no leading, trailing or doubled dot)
 *    or a quoted string.  Space, "<", ">" and the like are only legal
 *    inside a quoted local part, where RFC 5321 allows them; every
 *    control character is refused everywhere.
 *  - A domain is LDH labels (<= 63 octets each, <= 255 in all), or an
 *    address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]".  General
 *    address literals ("[tag:...]") are refused.
 *  - Octets >= 0x80 (SMTPUTF8, RFC 6531) must be well-formed UTF-8 (no
 *    overlong forms or surrogates: else SMTP_PE_ADDR) and are only
 *    accepted when SMTPUTF8 is in effect: the parameter on this MAIL, or,
 *    for RCPT, the caller's flag saying the MAIL had it.  Otherwise the
 *    error is SMTP_PE_UTF8 (553 5.6.7).  The same holds for parameter
 *    values (ORCPT=utf-8;..., RFC 6533).
 *  - ESMTP parameters are separated by one or more SP.  Keywords are
 *    case-insensitive.  A known parameter given twice is a syntax error.
 *    Recognised: on MAIL SIZE=digits (1-20 digits; a value that does not
 *    fit 64 bits saturates to UINT64_MAX, which is over any limit),
 *    BODY=7BIT|8BITMIME, SMTPUTF8, AUTH=xtext (RFC 4954, ignored: we are
 *    not relaying for another MSA), RET=FULL|HDRS and ENVID=xtext
 *    (RFC 3461); on RCPT NOTIFY=NEVER|list and ORCPT=type;xtext.  Anything
 *    else, including BODY=BINARYMIME (we do not offer CHUNKING), is
 *    SMTP_PE_PARAM_UNKNOWN (555 5.5.4).
 *  - The DSN parameters are only checked, never interpreted: their exact
 *    text is copied to smtp_path.dsn so the front can pass them to the
 *    upstream verbatim when it offers DSN.  smtp_path.params holds every
 *    parameter as received, single-space separated.
 */
#ifndef SMTPCERTD_SMTP_PARSE_H
#define SMTPCERTD_SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_LINE_MAX		512	/* command/reply line incl. CRLF */
#define SMTP_PATH_MAX		256	/* path incl. "<" ">" and route */
#define SMTP_DOMAIN_MAX		255
#define SMTP_LABEL_MAX		63
#define SMTP_ENVID_MAX		100	/* RFC 3461 4.4 */
#define SMTP_ORCPT_MAX		500	/* RFC 3461 4.2 */
#define SMTP_SIZE_DIGITS	20	/* RFC 1870 size-value */
#define SMTP_ENH_MAX		12	/* "5.123.123" + NUL, rounded up */
#define SMTP_SASL_MECH_MAX	20	/* RFC 4422 3.1 */

/* Replies from the upstream MTA. */
#define SMTP_REPLY_LINES_MAX	32
#define SMTP_REPLY_TEXT_MAX	4096	/* all lines' text, '\n'-joined */

/* Base64 sizes: encoded length (no NUL) and worst-case decoded length. */
#define SMTP_B64_ENCLEN(n)	((((n) + 2) / 3) * 4)
#define SMTP_B64_DECLEN(n)	(((n) / 4) * 3)

enum smtp_verb {
	SMTP_CMD_INVALID = -1,	/* NUL, CR, LF or over-long: never valid */
	SMTP_CMD_UNKNOWN = 0,	/* empty line or unrecognised verb */
	SMTP_CMD_EHLO,
	SMTP_CMD_HELO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_HELP,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
	SMTP_CMD_BDAT		/* recognised only to be refused */
};

struct smtp_cmd {
	enum smtp_verb	 verb;
	const char	*arg;		/* into the line; never NULL */
	size_t		 arglen;	/* 0: no argument */
};

/* Parse one command line (no CRLF).  Fills cmd, returns cmd->verb. */
enum smtp_verb	smtp_cmd_parse(const char *line, size_t len,
		    struct smtp_cmd *cmd);
/* Upper-case name of a verb, for logs; "?" for UNKNOWN/INVALID. */
const char	*smtp_cmd_name(enum smtp_verb);

enum smtp_body {
	SMTP_BODY_NONE = 0,	/* no BODY= given */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME
};

enum smtp_path_err {
	SMTP_PE_OK = 0,
	SMTP_PE_SYNTAX,		/* no FROM:/TO:, no <...>, junk after > */
	SMTP_PE_ADDR,		/* malformed address, or <> on RCPT */
	SMTP_PE_TOO_LONG,	/* path over SMTP_PATH_MAX */
	SMTP_PE_UTF8,		/* non-ASCII without SMTPUTF8 */
	SMTP_PE_PARAM,		/* known parameter, bad value or repeated */
	SMTP_PE_PARAM_UNKNOWN	/* parameter we do not implement */
};

#define SMTP_PATH_NULL		0x01	/* "<>" */
#define SMTP_PATH_UTF8		0x02	/* address has octets >= 0x80 */
#define SMTP_PATH_ROUTE		0x04	/* a source route was stripped */
#define SMTP_PATH_POSTMASTER	0x08	/* RCPT "<postmaster>" */

struct smtp_path {
	char		 addr[SMTP_PATH_MAX];	/* mailbox, "" for <> */
	size_t		 addrlen;
	int		 flags;			/* SMTP_PATH_* */

	/* MAIL parameters; RCPT leaves them zero. */
	int		 has_size;
	uint64_t	 size;
	enum smtp_body	 body;
	int		 smtputf8;
	int		 auth;			/* AUTH= seen (ignored) */

	/* Parameter text, exactly as the client wrote each parameter. */
	char		 params[SMTP_LINE_MAX];	/* all of them */
	char		 dsn[SMTP_LINE_MAX];	/* RET ENVID NOTIFY ORCPT */
};

/*
 * arg is the command argument from smtp_cmd_parse(): "FROM:<a@b> ..." /
 * "TO:<a@b> ...".  smtputf8 (RCPT only): the transaction's MAIL carried
 * SMTPUTF8.  Return SMTP_PE_OK or an error; on error *p is unspecified.
 */
enum smtp_path_err smtp_parse_mail(const char *arg, size_t len,
		    struct smtp_path *p);
enum smtp_path_err smtp_parse_rcpt(const char *arg, size_t len,
		    int smtputf8, struct smtp_path *p);

/*
 * The reply the front should give for a path error (code, enhanced code
 * and words a user can act on).  rcpt selects 5.1.3 over 5.1.7.
 */
void	smtp_path_reply(enum smtp_path_err, int rcpt, int *code,
	    const char **enh, const char **text);

/*
 * EHLO/HELO argument: one token of printable ASCII (or well-formed
 * UTF-8), 1..SMTP_DOMAIN_MAX octets, no space or control character; if
 * it starts with "[" it must be a valid IPv4 or "IPv6:" literal.  We do
 * not insist on an LDH name: many real clients announce "my_pc".
 * Returns 0 or -1.
 */
int	smtp_parse_helo(const char *arg, size_t len);

/* AUTH mechanism [SP initial-response] (RFC 4954 4). */
struct smtp_auth {
	char		 mech[SMTP_SASL_MECH_MAX + 1];	/* upper-cased */
	const char	*ir;		/* NULL: none given; into arg */
	size_t		 irlen;		/* 0 with ir != NULL: "=" (empty) */
};
/* 0, or -1 for a missing/bad mechanism name or a malformed response. */
int	smtp_parse_auth(const char *arg, size_t len, struct smtp_auth *);
/* Is this AUTH continuation line the client's "*" (cancel)? */
int	smtp_auth_is_cancel(const char *line, size_t len);

/*
 * Strict base64 (RFC 4648 4): length a multiple of 4, standard alphabet,
 * "=" padding only at the end, unused bits zero, no whitespace.  Empty
 * input decodes to zero octets.  Decode: 0 or -1 (also when out is too
 * small).  Encode: writes a NUL-terminated string and returns its length,
 * or -1 if out is too small.
 */
int	smtp_b64_decode(const char *in, size_t inlen, unsigned char *out,
	    size_t outsz, size_t *outlen);
int	smtp_b64_encode(const void *in, size_t inlen, char *out,
	    size_t outsz);
/* xtext (RFC 3461) for XCLIENT values; truncates to fit outsz. */
void	smtp_xtext(char *out, size_t outsz, const char *in);

/*
 * SASL PLAIN message (RFC 4616): [authzid] NUL authcid NUL passwd.
 * Exactly two NULs, authcid and passwd non-empty (an empty password must
 * never reach a directory bind).  The parts point into buf and are NOT
 * NUL-terminated.  Character checks on the names are the caller's.
 * Returns 0 or -1.
 */
struct smtp_plain {
	const char	*authzid;
	size_t		 authzidlen;	/* 0: none */
	const char	*authcid;
	size_t		 authcidlen;
	const char	*passwd;
	size_t		 passwdlen;
};
int	smtp_sasl_plain(const void *buf, size_t len, struct smtp_plain *);

/*
 * Build a reply for the client: each '\n'-separated line of text becomes
 * "code-enh line\r\n", the last "code enh line\r\n" (a trailing '\n' adds
 * no line).  enh may be NULL (334, 354, greeting); otherwise its class
 * must match the code's first digit.  The last line always has the SP
 * after the code, so an empty 334 challenge is "334 \r\n" (RFC 4954).
 * Refuses control characters other than HT in text (no reply injection)
 * and wire lines over SMTP_LINE_MAX.  Returns the length written (plus a
 * NUL) or -1.
 */
int	smtp_reply_format(char *buf, size_t bufsz, int code, const char *enh,
	    const char *text);

/*
 * Reply from the upstream MTA, fed one line at a time without CRLF.
 * Every line is "ddd-text" or "ddd text" (or just "ddd" on the last
 * line), d1 in 2..5, d2 in 0..5; all lines share the code.  An enhanced
 * code on the first line (class = d1) is reported in enh and stripped
 * from every line that repeats it.  text holds the lines' text joined by
 * '\n', ready for smtp_reply_format().
 */
enum smtp_reply_status {
	SMTP_REPLY_MORE = 0,	/* continuation line seen, feed the next */
	SMTP_REPLY_DONE,	/* last line seen */
	SMTP_REPLY_ERROR	/* protocol error: drop the upstream */
};

enum smtp_reply_err {
	SMTP_RE_NONE = 0,
	SMTP_RE_SYNTAX,		/* bad code or separator */
	SMTP_RE_MISMATCH,	/* lines with different codes */
	SMTP_RE_CHAR,		/* control character in text */
	SMTP_RE_LINE_TOO_LONG,
	SMTP_RE_TOO_MANY_LINES,
	SMTP_RE_TOO_LONG,	/* all text over SMTP_REPLY_TEXT_MAX */
	SMTP_RE_AFTER_END	/* fed after DONE/ERROR without init */
};

struct smtp_reply {
	int		 code;
	char		 enh[SMTP_ENH_MAX];	/* "" if none */
	size_t		 nlines;
	size_t		 off[SMTP_REPLY_LINES_MAX];
	size_t		 len[SMTP_REPLY_LINES_MAX];
	char		 text[SMTP_REPLY_TEXT_MAX];
	size_t		 textlen;
	enum smtp_reply_status status;
	enum smtp_reply_err error;
};

void	smtp_reply_init(struct smtp_reply *);
enum smtp_reply_status smtp_reply_feed(struct smtp_reply *,
	    const char *line, size_t len);
/* Line i's text and its length in *lenp, or NULL.  Only the last line
 * is NUL-terminated: the others end in the '\n' that joins them. */
const char *smtp_reply_line(const struct smtp_reply *, size_t i,
	    size_t *lenp);
/*
 * In a complete EHLO reply, does the upstream offer keyword kw (case-
 * insensitive, lines after the first)?  If so and param is not NULL,
 * *param and *plen receive the rest of the line after the keyword and its SP.
 */
int	smtp_reply_ehlo_has(const struct smtp_reply *, const char *kw,
	    const char **param, size_t *plen);
const char *smtp_reply_strerror(enum smtp_reply_err);

#endif
