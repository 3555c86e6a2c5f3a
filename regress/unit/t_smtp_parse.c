/*
 * Unit tests for smtpcertd/front/smtp_parse.c: command lines, MAIL/RCPT paths
 * and parameters, EHLO arguments, AUTH, base64, SASL PLAIN, reply
 * formatting and upstream reply parsing, valid and hostile.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The unit-test rule links t_X.c only against libcommon.a (the common/
 * sources); the parser lives in smtpcertd/, so it is compiled in here.
 */
#include "../../smtpcertd/front/smtp_parse.c"

#include "test.h"

static enum smtp_path_err mail(const char *, struct smtp_path *);
static enum smtp_path_err rcpt(const char *, int, struct smtp_path *);
static int	verb_is(const char *, enum smtp_verb, const char *);
static int	helo(const char *);
static int	b64dec_is(const char *, const char *, size_t);
static int	b64dec_fails(const char *, size_t);
static int	fmt_is(int, const char *, const char *, const char *);
static enum smtp_reply_status feed(struct smtp_reply *, const char *);
static int	plain(const char *, size_t, struct smtp_plain *);

static void	test_cmd_every_verb(void);
static void	test_cmd_arguments(void);
static void	test_cmd_unknown_and_invalid(void);
static void	test_mail_basic(void);
static void	test_mail_colon_spacing(void);
static void	test_mail_null_sender(void);
static void	test_path_brackets(void);
static void	test_path_local_part(void);
static void	test_path_quoted_local_part(void);
static void	test_path_domain(void);
static void	test_path_address_literal(void);
static void	test_path_source_route(void);
static void	test_path_length(void);
static void	test_path_controls_and_spaces(void);
static void	test_rcpt_basic(void);
static void	test_rcpt_postmaster(void);
static void	test_smtputf8_addresses(void);
static void	test_param_size(void);
static void	test_param_body(void);
static void	test_param_smtputf8_auth(void);
static void	test_param_dsn_mail(void);
static void	test_param_dsn_rcpt(void);
static void	test_param_unknown_and_wrong_verb(void);
static void	test_param_syntax(void);
static void	test_param_raw_text(void);
static void	test_path_reply_codes(void);
static void	test_helo(void);
static void	test_auth_parse(void);
static void	test_b64_decode_valid(void);
static void	test_b64_decode_invalid(void);
static void	test_b64_encode(void);
static void	test_b64_roundtrip(void);
static void	test_sasl_plain(void);
static void	test_sasl_plain_via_b64(void);
static void	test_reply_format(void);
static void	test_reply_format_refused(void);
static void	test_reply_parse_single(void);
static void	test_reply_parse_ehlo(void);
static void	test_reply_parse_enh(void);
static void	test_reply_parse_errors(void);
static void	test_reply_parse_limits(void);
static void	test_reply_roundtrip(void);

static enum smtp_path_err
mail(const char *arg, struct smtp_path *p)
{
	return smtp_parse_mail(arg, strlen(arg), p);
}

static enum smtp_path_err
rcpt(const char *arg, int utf8, struct smtp_path *p)
{
	return smtp_parse_rcpt(arg, strlen(arg), utf8, p);
}

/* Parse line; verb must be v and the argument exactly arg. */
static int
verb_is(const char *line, enum smtp_verb v, const char *arg)
{
	struct smtp_cmd	 c;

	if (smtp_cmd_parse(line, strlen(line), &c) != v || c.verb != v)
		return 0;
	return c.arglen == strlen(arg) && memcmp(c.arg, arg, c.arglen) == 0;
}

static int
helo(const char *s)
{
	return smtp_parse_helo(s, strlen(s));
}

static int
b64dec_is(const char *in, const char *want, size_t wantlen)
{
	unsigned char	 out[256];
	size_t		 n;

	if (smtp_b64_decode(in, strlen(in), out, sizeof(out), &n) != 0)
		return 0;
	return n == wantlen && memcmp(out, want, n) == 0;
}

static int
b64dec_fails(const char *in, size_t len)
{
	unsigned char	 out[256];
	size_t		 n;

	return smtp_b64_decode(in, len, out, sizeof(out), &n) == -1;
}

static int
fmt_is(int code, const char *enh, const char *text, const char *want)
{
	char	 buf[2048];
	int	 n;

	n = smtp_reply_format(buf, sizeof(buf), code, enh, text);
	if (n < 0 || (size_t)n != strlen(want) || strcmp(buf, want) != 0) {
		fprintf(stderr, "  got %d \"%s\"\n", n, n < 0 ? "" : buf);
		return 0;
	}
	return 1;
}

static enum smtp_reply_status
feed(struct smtp_reply *r, const char *line)
{
	return smtp_reply_feed(r, line, strlen(line));
}

static int
plain(const char *s, size_t len, struct smtp_plain *pl)
{
	return smtp_sasl_plain(s, len, pl);
}

static void
test_cmd_every_verb(void)
{
	static const struct {
		const char	*name;
		enum smtp_verb	 verb;
	} v[] = {
		{ "EHLO", SMTP_CMD_EHLO }, { "HELO", SMTP_CMD_HELO },
		{ "MAIL", SMTP_CMD_MAIL }, { "RCPT", SMTP_CMD_RCPT },
		{ "DATA", SMTP_CMD_DATA }, { "RSET", SMTP_CMD_RSET },
		{ "NOOP", SMTP_CMD_NOOP }, { "QUIT", SMTP_CMD_QUIT },
		{ "HELP", SMTP_CMD_HELP }, { "VRFY", SMTP_CMD_VRFY },
		{ "EXPN", SMTP_CMD_EXPN }, { "STARTTLS", SMTP_CMD_STARTTLS },
		{ "AUTH", SMTP_CMD_AUTH }, { "BDAT", SMTP_CMD_BDAT },
	};
	char	 buf[32];
	size_t	 i, k;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CHECK(verb_is(v[i].name, v[i].verb, ""));
		snprintf(buf, sizeof(buf), "%s", v[i].name);
		for (k = 0; buf[k] != '\0'; k++)
			buf[k] = (char)(buf[k] - 'A' + 'a');
		CHECK(verb_is(buf, v[i].verb, ""));
		buf[0] = (char)(buf[0] - 'a' + 'A');
		CHECK(verb_is(buf, v[i].verb, ""));
		CHECK(strcmp(smtp_cmd_name(v[i].verb), v[i].name) == 0);
	}
	CHECK(strcmp(smtp_cmd_name(SMTP_CMD_UNKNOWN), "?") == 0);
	CHECK(strcmp(smtp_cmd_name(SMTP_CMD_INVALID), "?") == 0);
}

static void
test_cmd_arguments(void)
{
	CHECK(verb_is("MAIL FROM:<a@b.c> SIZE=1", SMTP_CMD_MAIL,
	    "FROM:<a@b.c> SIZE=1"));
	CHECK(verb_is("rcpt TO:<a@b.c>", SMTP_CMD_RCPT, "TO:<a@b.c>"));
	CHECK(verb_is("QUIT ", SMTP_CMD_QUIT, ""));
	CHECK(verb_is("EHLO  client.example   ", SMTP_CMD_EHLO,
	    "client.example"));
	CHECK(verb_is("AUTH PLAIN AGEAYg==", SMTP_CMD_AUTH,
	    "PLAIN AGEAYg=="));
	CHECK(verb_is("BDAT 100 LAST", SMTP_CMD_BDAT, "100 LAST"));
	CHECK(verb_is("DATA x", SMTP_CMD_DATA, "x"));
	/* Inner spacing is the argument's business. */
	CHECK(verb_is("HELP  a  b ", SMTP_CMD_HELP, "a  b"));
}

static void
test_cmd_unknown_and_invalid(void)
{
	struct smtp_cmd	 c;
	char		 line[SMTP_LINE_MAX + 8];

	CHECK(verb_is("", SMTP_CMD_UNKNOWN, ""));
	CHECK(verb_is("XYZZY", SMTP_CMD_UNKNOWN, ""));
	CHECK(verb_is("MAILFROM:<a@b>", SMTP_CMD_UNKNOWN, ""));
	CHECK(verb_is("STARTTLSX", SMTP_CMD_UNKNOWN, ""));
	CHECK(verb_is("QUI", SMTP_CMD_UNKNOWN, ""));
	CHECK(verb_is(" QUIT", SMTP_CMD_UNKNOWN, ""));
	CHECK(verb_is("QUIT\t", SMTP_CMD_UNKNOWN, ""));
	CHECK(verb_is("MAIL:FROM", SMTP_CMD_UNKNOWN, ""));
	CHECK(smtp_cmd_parse("QU\0T", 4, &c) == SMTP_CMD_INVALID);
	CHECK(smtp_cmd_parse("QUIT\r", 5, &c) == SMTP_CMD_INVALID);
	CHECK(smtp_cmd_parse("QUIT\n", 5, &c) == SMTP_CMD_INVALID);
	CHECK(smtp_cmd_parse("NOOP a\rb", 8, &c) == SMTP_CMD_INVALID);
	CHECK(c.arglen == 0);
	/* 510 octets + CRLF is the most a command line may be. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "NOOP ", 5);
	CHECK(smtp_cmd_parse(line, SMTP_LINE_MAX - 2, &c) == SMTP_CMD_NOOP);
	CHECK(c.arglen == SMTP_LINE_MAX - 2 - 5);
	CHECK(smtp_cmd_parse(line, SMTP_LINE_MAX - 1, &c) ==
	    SMTP_CMD_INVALID);
}

static void
test_mail_basic(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<user@example.org>", &p) == SMTP_PE_OK);
	CHECK(strcmp(p.addr, "user@example.org") == 0);
	CHECK(p.addrlen == 16);
	CHECK(p.flags == 0);
	CHECK(p.has_size == 0 && p.body == SMTP_BODY_NONE);
	CHECK(p.params[0] == '\0' && p.dsn[0] == '\0');
	CHECK(mail("from:<User.Name+tag@Sub.Example.ORG>", &p) ==
	    SMTP_PE_OK);
	CHECK(strcmp(p.addr, "User.Name+tag@Sub.Example.ORG") == 0);
	CHECK(mail("FrOm:<a@b>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<!#$%&'*+-/=?^_`{|}~@x.org>", &p) == SMTP_PE_OK);
	CHECK(mail("TO:<a@b>", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM", &p) == SMTP_PE_SYNTAX);
}

static void
test_mail_colon_spacing(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<a@b.org>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM: <a@b.org>", &p) == SMTP_PE_OK);
	CHECK(strcmp(p.addr, "a@b.org") == 0);
	CHECK(mail("FROM:  <a@b.org>", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM :<a@b.org>", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:\t<a@b.org>", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:a@b.org", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM: a@b.org", &p) == SMTP_PE_SYNTAX);
	CHECK(rcpt("TO: <a@b.org>", 0, &p) == SMTP_PE_OK);
	CHECK(rcpt("TO:  <a@b.org>", 0, &p) == SMTP_PE_SYNTAX);
}

static void
test_mail_null_sender(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<>", &p) == SMTP_PE_OK);
	CHECK(p.flags == SMTP_PATH_NULL);
	CHECK(p.addrlen == 0 && p.addr[0] == '\0');
	CHECK(mail("FROM:<> SIZE=100", &p) == SMTP_PE_OK);
	CHECK(p.flags == SMTP_PATH_NULL && p.size == 100);
	CHECK(mail("FROM: <>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<> ", &p) == SMTP_PE_OK);
	CHECK(rcpt("TO:<>", 0, &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:< >", &p) == SMTP_PE_ADDR);
}

static void
test_path_brackets(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<a@b.org", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:a@b.org>", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:<a<b@c.org>", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:<<a@b.org>>", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:<a@b.org>>", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:<a@b.org>x", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:<a@b.org><c@d.org>", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:<a>b@c.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:>", &p) == SMTP_PE_SYNTAX);
	CHECK(rcpt("TO:<a@b.org", 0, &p) == SMTP_PE_SYNTAX);
}

static void
test_path_local_part(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<a.b.c@x.org>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<.a@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a.@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a..b@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@b@c.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a(b)@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a,b@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a;b@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a\\b@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a[b]@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a:b@x.org>", &p) == SMTP_PE_ADDR);
}

static void
test_path_quoted_local_part(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<\"john doe\"@example.org>", &p) == SMTP_PE_OK);
	CHECK(strcmp(p.addr, "\"john doe\"@example.org") == 0);
	CHECK(mail("FROM:<\"a\\\"b\"@x.org>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<\"a\\\\b\"@x.org>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<\"a>b\"@x.org> SIZE=1", &p) == SMTP_PE_OK);
	CHECK(strcmp(p.addr, "\"a>b\"@x.org") == 0);
	CHECK(p.size == 1);
	CHECK(mail("FROM:<\"a<b@c\"@x.org>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<\"\"@x.org>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<\"a\"b@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a\"b\"@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<\"a\".b@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<\"ab@x.org>", &p) == SMTP_PE_SYNTAX);
	CHECK(mail("FROM:<\"a\x01\"@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<\"a\\\x01\"@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<\"a\tb\"@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<\"a\x7f\"@x.org>", &p) == SMTP_PE_ADDR);
}

static void
test_path_domain(void)
{
	struct smtp_path	 p;
	char			 buf[512];

	CHECK(mail("FROM:<a@localhost>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<a@x-y.example>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<a@1.2.3.4>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<a@b..c>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@.b.c>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@b.c.>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@-b.c>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@b-.c>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@b.-c>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@b.c->", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@b_c.d>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@b c.d>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@b\"c.d>", &p) == SMTP_PE_SYNTAX);

	/* Labels of 63 octets pass, 64 do not. */
	snprintf(buf, sizeof(buf), "FROM:<a@%.*s.org>", 63,
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	CHECK(mail(buf, &p) == SMTP_PE_OK);
	snprintf(buf, sizeof(buf), "FROM:<a@%.*s.org>", 64,
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	CHECK(mail(buf, &p) == SMTP_PE_ADDR);
}

static void
test_path_address_literal(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<a@[192.0.2.1]>", &p) == SMTP_PE_OK);
	CHECK(strcmp(p.addr, "a@[192.0.2.1]") == 0);
	CHECK(mail("FROM:<a@[IPv6:2001:db8::1]>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<a@[ipv6:::1]>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<a@[IPv6:::ffff:192.0.2.1]>", &p) == SMTP_PE_OK);
	CHECK(mail("FROM:<a@[300.0.2.1]>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@[192.0.2]>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@[2001:db8::1]>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@[IPv6:]>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@[IPv6:g::1]>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@[x-tag:foo]>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@[]>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@[192.0.2.1>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@[192.0.2.1]x>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@[ 192.0.2.1]>", &p) == SMTP_PE_ADDR);
	CHECK(smtp_parse_mail("FROM:<a@[192.0.2.1\0]>", 21, &p) ==
	    SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@[IPv6:2001:db8:0:0:0:0:0:0:0:0:0:1]>", &p) ==
	    SMTP_PE_ADDR);
}

static void
test_path_source_route(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<@a.example,@b.example:user@d.example>", &p) ==
	    SMTP_PE_OK);
	CHECK(strcmp(p.addr, "user@d.example") == 0);
	CHECK(p.flags == SMTP_PATH_ROUTE);
	CHECK(rcpt("TO:<@a.example:user@d.example>", 0, &p) == SMTP_PE_OK);
	CHECK(strcmp(p.addr, "user@d.example") == 0);
	CHECK(p.addrlen == 14);
	CHECK(mail("FROM:<@a.example:>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<@:user@d.example>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<@a.example,user@d.example>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<@a.example,:user@d.example>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<@a..b:user@d.example>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<@a.example,b.example:u@d.example>", &p) ==
	    SMTP_PE_ADDR);
	CHECK(mail("FROM:<@a.example:@b.example:u@d.example>", &p) ==
	    SMTP_PE_ADDR);
	CHECK(rcpt("TO:<@a.example:postmaster>", 0, &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<@a.example:<>", &p) == SMTP_PE_SYNTAX);
}

static void
test_path_length(void)
{
	struct smtp_path	 p;
	char			 dom[256], buf[600], lpad[80];
	size_t			 l;

	memset(lpad, 'l', sizeof(lpad) - 1);
	lpad[sizeof(lpad) - 1] = '\0';

	/* 3 labels of 63 and two dots: 191 octets. */
	memset(dom, 'x', 191);
	dom[63] = dom[127] = '.';
	dom[191] = '\0';
	/* "<" local(62) "@" domain(191) ">" = 256 octets */
	l = 62;
	snprintf(buf, sizeof(buf), "FROM:<%.*s@%s>", (int)l,
	    lpad,
	    dom);
	CHECK(mail(buf, &p) == SMTP_PE_OK);
	CHECK(p.addrlen == 254);
	CHECK(strlen(p.addr) == 254);
	l = 63;
	snprintf(buf, sizeof(buf), "FROM:<%.*s@%s>", (int)l,
	    lpad,
	    dom);
	CHECK(mail(buf, &p) == SMTP_PE_TOO_LONG);
	CHECK(rcpt(buf + 2, 0, &p) == SMTP_PE_SYNTAX);	/* "OM:<" */
	snprintf(buf, sizeof(buf), "TO:<%.*s@%s>", (int)l,
	    lpad,
	    dom);
	CHECK(rcpt(buf, 0, &p) == SMTP_PE_TOO_LONG);

	/* The route counts towards the 256 as well. */
	snprintf(buf, sizeof(buf), "FROM:<@r.example:%.*s@%s>", 51,
	    lpad,
	    dom);
	CHECK(mail(buf, &p) == SMTP_PE_OK);
	snprintf(buf, sizeof(buf), "FROM:<@r.example:%.*s@%s>", 52,
	    lpad,
	    dom);
	CHECK(mail(buf, &p) == SMTP_PE_TOO_LONG);

	/* Over-long garbage says "too long", not "bad syntax". */
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "FROM:<", 6);
	buf[400] = '>';
	CHECK(smtp_parse_mail(buf, 401, &p) == SMTP_PE_TOO_LONG);
}

static void
test_path_controls_and_spaces(void)
{
	struct smtp_path	 p;
	char			 buf[64];
	int			 c;

	CHECK(mail("FROM:<a b@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@x.org >", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:< a@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@x .org>", &p) == SMTP_PE_ADDR);
	/* Every C0 control and DEL, in the local part and the domain. */
	for (c = 1; c < 0x20; c++) {
		snprintf(buf, sizeof(buf), "FROM:<a%cb@x.org>", c);
		CHECK(mail(buf, &p) == SMTP_PE_ADDR);
		snprintf(buf, sizeof(buf), "FROM:<ab@x%c.org>", c);
		CHECK(mail(buf, &p) == SMTP_PE_ADDR);
	}
	CHECK(mail("FROM:<a\x7f@x.org>", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@x\x7f.org>", &p) == SMTP_PE_ADDR);
	CHECK(smtp_parse_mail("FROM:<a\0b@x.org>", 16, &p) == SMTP_PE_ADDR);
}

static void
test_rcpt_basic(void)
{
	struct smtp_path	 p;

	CHECK(rcpt("TO:<user@example.org>", 0, &p) == SMTP_PE_OK);
	CHECK(strcmp(p.addr, "user@example.org") == 0);
	CHECK(rcpt("to:<user@example.org>", 0, &p) == SMTP_PE_OK);
	CHECK(rcpt("FROM:<user@example.org>", 0, &p) == SMTP_PE_SYNTAX);
	CHECK(rcpt("TO:user@example.org", 0, &p) == SMTP_PE_SYNTAX);
	CHECK(rcpt("TO:<user>", 0, &p) == SMTP_PE_ADDR);
	CHECK(rcpt("TO:<a@b.org> ", 0, &p) == SMTP_PE_OK);
}

static void
test_rcpt_postmaster(void)
{
	struct smtp_path	 p;

	CHECK(rcpt("TO:<postmaster>", 0, &p) == SMTP_PE_OK);
	CHECK(p.flags == SMTP_PATH_POSTMASTER);
	CHECK(strcmp(p.addr, "postmaster") == 0);
	CHECK(rcpt("TO:<PostMaster>", 0, &p) == SMTP_PE_OK);
	CHECK(strcmp(p.addr, "PostMaster") == 0);
	CHECK(rcpt("TO:<postmaster@example.org>", 0, &p) == SMTP_PE_OK);
	CHECK(p.flags == 0);
	CHECK(mail("FROM:<postmaster>", &p) == SMTP_PE_ADDR);
	CHECK(rcpt("TO:<postmasters>", 0, &p) == SMTP_PE_ADDR);
}

static void
test_smtputf8_addresses(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<j\xc3\xb6""e@example.org>", &p) == SMTP_PE_UTF8);
	CHECK(mail("FROM:<j\xc3\xb6""e@example.org> SMTPUTF8", &p) ==
	    SMTP_PE_OK);
	CHECK(p.smtputf8 == 1);
	CHECK(p.flags == SMTP_PATH_UTF8);
	CHECK(mail("FROM:<a@ex\xc3\xa4mple.org> smtputf8", &p) ==
	    SMTP_PE_OK);
	CHECK(mail("FROM:<a@ex\xc3\xa4mple.org>", &p) == SMTP_PE_UTF8);
	CHECK(mail("FROM:<\"\xc3\xa4 b\"@x.org> SMTPUTF8", &p) ==
	    SMTP_PE_OK);
	CHECK(mail("FROM:<\xf0\x9f\x98\x80@x.org> SMTPUTF8", &p) ==
	    SMTP_PE_OK);
	CHECK(mail("FROM:<\xe2\x82\xac@x.org> SMTPUTF8", &p) == SMTP_PE_OK);
	/* Plain ASCII with SMTPUTF8 is fine and not flagged. */
	CHECK(mail("FROM:<a@x.org> SMTPUTF8", &p) == SMTP_PE_OK);
	CHECK(p.flags == 0);

	/* Malformed UTF-8 is a bad address even with SMTPUTF8. */
	CHECK(mail("FROM:<a\xff@x.org> SMTPUTF8", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a\xc0\xaf@x.org> SMTPUTF8", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a\xe0\x80\xaf@x.org> SMTPUTF8", &p) ==
	    SMTP_PE_ADDR);
	CHECK(mail("FROM:<a\xed\xa0\x80@x.org> SMTPUTF8", &p) ==
	    SMTP_PE_ADDR);
	CHECK(mail("FROM:<a\xf4\x90\x80\x80@x.org> SMTPUTF8", &p) ==
	    SMTP_PE_ADDR);
	CHECK(mail("FROM:<a\xc3@x.org> SMTPUTF8", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a\x80@x.org> SMTPUTF8", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<a@x\xc3.org> SMTPUTF8", &p) == SMTP_PE_ADDR);
	CHECK(mail("FROM:<\"a\xc3\"@x.org> SMTPUTF8", &p) == SMTP_PE_ADDR);

	/* RCPT follows the transaction's MAIL. */
	CHECK(rcpt("TO:<j\xc3\xb6""e@example.org>", 0, &p) == SMTP_PE_UTF8);
	CHECK(rcpt("TO:<j\xc3\xb6""e@example.org>", 1, &p) == SMTP_PE_OK);
	CHECK(rcpt("TO:<j\xc3\xb6""e@example.org> SMTPUTF8", 1, &p) ==
	    SMTP_PE_PARAM_UNKNOWN);

	/* Non-ASCII parameter values need SMTPUTF8 too. */
	CHECK(mail("FROM:<a@x.org> ENVID=\xc3\xa4", &p) == SMTP_PE_UTF8);
	CHECK(mail("FROM:<a@x.org> ENVID=\xc3\xa4 SMTPUTF8", &p) ==
	    SMTP_PE_OK);
	CHECK(rcpt("TO:<a@x.org> ORCPT=utf-8;\xc3\xa4@x.org", 0, &p) ==
	    SMTP_PE_UTF8);
	CHECK(rcpt("TO:<a@x.org> ORCPT=utf-8;\xc3\xa4@x.org", 1, &p) ==
	    SMTP_PE_OK);
	CHECK(rcpt("TO:<a@x.org> ORCPT=utf-8;\xc3@x.org", 1, &p) ==
	    SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@x.org> SMTPUTF8 ENVID=\xed\xa0\x80", &p) ==
	    SMTP_PE_PARAM);
}

static void
test_param_size(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<a@b.org> SIZE=0", &p) == SMTP_PE_OK);
	CHECK(p.has_size == 1 && p.size == 0);
	CHECK(mail("FROM:<a@b.org> size=12345", &p) == SMTP_PE_OK);
	CHECK(p.size == 12345);
	CHECK(mail("FROM:<a@b.org> SIZE=18446744073709551615", &p) ==
	    SMTP_PE_OK);
	CHECK(p.size == UINT64_MAX);
	CHECK(mail("FROM:<a@b.org> SIZE=18446744073709551614", &p) ==
	    SMTP_PE_OK);
	CHECK(p.size == UINT64_MAX - 1);
	/* Beyond 64 bits: saturates, the caller says 552. */
	CHECK(mail("FROM:<a@b.org> SIZE=18446744073709551616", &p) ==
	    SMTP_PE_OK);
	CHECK(p.size == UINT64_MAX);
	CHECK(mail("FROM:<a@b.org> SIZE=99999999999999999999", &p) ==
	    SMTP_PE_OK);
	CHECK(p.size == UINT64_MAX);
	CHECK(mail("FROM:<a@b.org> SIZE=00000000000000000001", &p) ==
	    SMTP_PE_OK);
	CHECK(p.size == 1);
	CHECK(mail("FROM:<a@b.org> SIZE=100000000000000000000", &p) ==
	    SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SIZE=", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SIZE", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SIZE=-1", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SIZE=+1", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SIZE=1k", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SIZE=0x10", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SIZE=1 SIZE=2", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SIZE==1", &p) == SMTP_PE_PARAM);
}

static void
test_param_body(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<a@b.org> BODY=7BIT", &p) == SMTP_PE_OK);
	CHECK(p.body == SMTP_BODY_7BIT);
	CHECK(mail("FROM:<a@b.org> body=8bitmime", &p) == SMTP_PE_OK);
	CHECK(p.body == SMTP_BODY_8BITMIME);
	CHECK(mail("FROM:<a@b.org> BODY=BINARYMIME", &p) ==
	    SMTP_PE_PARAM_UNKNOWN);
	CHECK(mail("FROM:<a@b.org> BODY=8BIT", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> BODY", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> BODY=", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> BODY=7BIT BODY=7BIT", &p) ==
	    SMTP_PE_PARAM);
}

static void
test_param_smtputf8_auth(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<a@b.org> SMTPUTF8", &p) == SMTP_PE_OK);
	CHECK(p.smtputf8 == 1);
	CHECK(mail("FROM:<a@b.org> SMTPUTF8=yes", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SMTPUTF8 SMTPUTF8", &p) ==
	    SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> AUTH=<>", &p) == SMTP_PE_OK);
	CHECK(p.auth == 1);
	CHECK(p.dsn[0] == '\0');
	CHECK(mail("FROM:<a@b.org> AUTH=user+40example.org", &p) ==
	    SMTP_PE_OK);
	CHECK(mail("FROM:<a@b.org> AUTH=a+2b", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> AUTH=a+", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> AUTH=a+4", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> AUTH=", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> AUTH", &p) == SMTP_PE_PARAM);
}

static void
test_param_dsn_mail(void)
{
	struct smtp_path	 p;
	char			 buf[256];

	CHECK(mail("FROM:<a@b.org> RET=FULL", &p) == SMTP_PE_OK);
	CHECK(strcmp(p.dsn, "RET=FULL") == 0);
	CHECK(mail("FROM:<a@b.org> ret=hdrs ENVID=QQ314159+2Bx", &p) ==
	    SMTP_PE_OK);
	CHECK(strcmp(p.dsn, "ret=hdrs ENVID=QQ314159+2Bx") == 0);
	CHECK(mail("FROM:<a@b.org> RET=ALL", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> RET", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> ENVID=", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> ENVID=a+zz", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> RET=FULL RET=HDRS", &p) == SMTP_PE_PARAM);
	snprintf(buf, sizeof(buf), "FROM:<a@b.org> ENVID=%.*s", 100,
	    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
	CHECK(mail(buf, &p) == SMTP_PE_OK);
	snprintf(buf, sizeof(buf), "FROM:<a@b.org> ENVID=%.*s", 101,
	    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
	CHECK(mail(buf, &p) == SMTP_PE_PARAM);
}

static void
test_param_dsn_rcpt(void)
{
	struct smtp_path	 p;

	CHECK(rcpt("TO:<a@b.org> NOTIFY=NEVER", 0, &p) == SMTP_PE_OK);
	CHECK(strcmp(p.dsn, "NOTIFY=NEVER") == 0);
	CHECK(rcpt("TO:<a@b.org> NOTIFY=SUCCESS,FAILURE,DELAY", 0, &p) ==
	    SMTP_PE_OK);
	CHECK(rcpt("TO:<a@b.org> notify=success,delay", 0, &p) ==
	    SMTP_PE_OK);
	CHECK(rcpt("TO:<a@b.org> NOTIFY=NEVER,SUCCESS", 0, &p) ==
	    SMTP_PE_PARAM);
	CHECK(rcpt("TO:<a@b.org> NOTIFY=SUCCESS,", 0, &p) == SMTP_PE_PARAM);
	CHECK(rcpt("TO:<a@b.org> NOTIFY=,SUCCESS", 0, &p) == SMTP_PE_PARAM);
	CHECK(rcpt("TO:<a@b.org> NOTIFY=", 0, &p) == SMTP_PE_PARAM);
	CHECK(rcpt("TO:<a@b.org> NOTIFY=ALWAYS", 0, &p) == SMTP_PE_PARAM);
	CHECK(rcpt("TO:<a@b.org> ORCPT=rfc822;a@b.org NOTIFY=FAILURE", 0,
	    &p) == SMTP_PE_OK);
	CHECK(strcmp(p.dsn, "ORCPT=rfc822;a@b.org NOTIFY=FAILURE") == 0);
	CHECK(rcpt("TO:<a@b.org> ORCPT=rfc822;a+2Bb@b.org", 0, &p) ==
	    SMTP_PE_OK);
	CHECK(rcpt("TO:<a@b.org> ORCPT=rfc822;a+2g@b.org", 0, &p) ==
	    SMTP_PE_PARAM);
	CHECK(rcpt("TO:<a@b.org> ORCPT=rfc822", 0, &p) == SMTP_PE_PARAM);
	CHECK(rcpt("TO:<a@b.org> ORCPT=rfc822;", 0, &p) == SMTP_PE_PARAM);
	CHECK(rcpt("TO:<a@b.org> ORCPT=;a@b.org", 0, &p) == SMTP_PE_PARAM);
	CHECK(rcpt("TO:<a@b.org> ORCPT=rf_c;a@b.org", 0, &p) ==
	    SMTP_PE_PARAM);
	CHECK(rcpt("TO:<a@b.org> NOTIFY=NEVER NOTIFY=NEVER", 0, &p) ==
	    SMTP_PE_PARAM);
}

static void
test_param_unknown_and_wrong_verb(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<a@b.org> XFOO=bar", &p) == SMTP_PE_PARAM_UNKNOWN);
	CHECK(mail("FROM:<a@b.org> XFOO", &p) == SMTP_PE_PARAM_UNKNOWN);
	CHECK(mail("FROM:<a@b.org> NOTIFY=NEVER", &p) ==
	    SMTP_PE_PARAM_UNKNOWN);
	CHECK(mail("FROM:<a@b.org> ORCPT=rfc822;a@b.org", &p) ==
	    SMTP_PE_PARAM_UNKNOWN);
	CHECK(rcpt("TO:<a@b.org> SIZE=10", 0, &p) == SMTP_PE_PARAM_UNKNOWN);
	CHECK(rcpt("TO:<a@b.org> BODY=8BITMIME", 0, &p) ==
	    SMTP_PE_PARAM_UNKNOWN);
	CHECK(rcpt("TO:<a@b.org> RET=FULL", 0, &p) == SMTP_PE_PARAM_UNKNOWN);
	CHECK(rcpt("TO:<a@b.org> ENVID=x", 0, &p) == SMTP_PE_PARAM_UNKNOWN);
	CHECK(rcpt("TO:<a@b.org> AUTH=<>", 0, &p) == SMTP_PE_PARAM_UNKNOWN);
	/* XCLIENT-style injection from the client is not a parameter. */
	CHECK(mail("FROM:<a@b.org> XCLIENT=x", &p) == SMTP_PE_PARAM_UNKNOWN);
}

static void
test_param_syntax(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<a@b.org> =x", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> -A=1", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> A_B=1", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> X=a=b", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> X=", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SIZE=1\x01", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> SIZE=1\t", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> X\x7f", &p) == SMTP_PE_PARAM);
	CHECK(mail("FROM:<a@b.org> \xc3\xa4=1", &p) == SMTP_PE_PARAM);
	/* Error order: the first bad parameter decides. */
	CHECK(mail("FROM:<a@b.org> XFOO SIZE=x", &p) ==
	    SMTP_PE_PARAM_UNKNOWN);
	CHECK(mail("FROM:<a@b.org> SIZE=x XFOO", &p) == SMTP_PE_PARAM);
}

static void
test_param_raw_text(void)
{
	struct smtp_path	 p;

	CHECK(mail("FROM:<a@b.org>  SIZE=10   BODY=8BITMIME RET=HDRS "
	    "ENVID=x+2By AUTH=<> SMTPUTF8", &p) == SMTP_PE_OK);
	CHECK(strcmp(p.params, "SIZE=10 BODY=8BITMIME RET=HDRS ENVID=x+2By "
	    "AUTH=<> SMTPUTF8") == 0);
	CHECK(strcmp(p.dsn, "RET=HDRS ENVID=x+2By") == 0);
	CHECK(p.size == 10 && p.body == SMTP_BODY_8BITMIME);
	CHECK(p.smtputf8 && p.auth);
	CHECK(rcpt("TO:<a@b.org> NOTIFY=DELAY  ORCPT=rfc822;x@y.org ", 0,
	    &p) == SMTP_PE_OK);
	CHECK(strcmp(p.params, "NOTIFY=DELAY ORCPT=rfc822;x@y.org") == 0);
	CHECK(strcmp(p.dsn, p.params) == 0);
}

static void
test_path_reply_codes(void)
{
	const char	*enh, *text;
	int		 code;

	smtp_path_reply(SMTP_PE_PARAM_UNKNOWN, 0, &code, &enh, &text);
	CHECK(code == 555 && strcmp(enh, "5.5.4") == 0);
	smtp_path_reply(SMTP_PE_UTF8, 1, &code, &enh, &text);
	CHECK(code == 553 && strcmp(enh, "5.6.7") == 0);
	smtp_path_reply(SMTP_PE_ADDR, 0, &code, &enh, &text);
	CHECK(code == 501 && strcmp(enh, "5.1.7") == 0);
	smtp_path_reply(SMTP_PE_ADDR, 1, &code, &enh, &text);
	CHECK(code == 501 && strcmp(enh, "5.1.3") == 0);
	smtp_path_reply(SMTP_PE_TOO_LONG, 1, &code, &enh, &text);
	CHECK(code == 501 && strcmp(enh, "5.1.3") == 0);
	smtp_path_reply(SMTP_PE_SYNTAX, 0, &code, &enh, &text);
	CHECK(code == 501 && strcmp(enh, "5.5.4") == 0);
	smtp_path_reply(SMTP_PE_PARAM, 0, &code, &enh, &text);
	CHECK(code == 501 && strcmp(enh, "5.5.4") == 0);
	CHECK(text != NULL && *text != '\0');
}

static void
test_helo(void)
{
	char	 buf[300];
	int	 c;

	CHECK(helo("mail.example.org") == 0);
	CHECK(helo("localhost") == 0);
	CHECK(helo("my_pc") == 0);
	CHECK(helo("[192.0.2.1]") == 0);
	CHECK(helo("[IPv6:2001:db8::1]") == 0);
	CHECK(helo("ex\xc3\xa4mple.org") == 0);
	CHECK(helo("") == -1);
	CHECK(helo("a b") == -1);
	CHECK(helo("a\xff") == -1);
	CHECK(helo("a\xc3") == -1);
	CHECK(helo("a\x7f") == -1);
	CHECK(helo("[192.0.2.1") == -1);
	CHECK(helo("[foo]") == -1);
	CHECK(helo("[300.0.0.1]") == -1);
	CHECK(helo("foo]") == -1);
	CHECK(helo("fo[o") == -1);
	CHECK(smtp_parse_helo("a\0b", 3) == -1);
	CHECK(smtp_parse_helo("[192.0.2.1\0x]", 13) == -1);
	CHECK(smtp_parse_helo("[IPv6:::1\0]", 11) == -1);
	for (c = 1; c <= 0x20; c++) {
		snprintf(buf, sizeof(buf), "a%cb", c);
		CHECK(helo(buf) == -1);
	}
	memset(buf, 'h', sizeof(buf));
	CHECK(smtp_parse_helo(buf, 255) == 0);
	CHECK(smtp_parse_helo(buf, 256) == -1);
}

static void
test_auth_parse(void)
{
	struct smtp_auth	 a;

	CHECK(smtp_parse_auth("PLAIN", 5, &a) == 0);
	CHECK(strcmp(a.mech, "PLAIN") == 0 && a.ir == NULL);
	CHECK(smtp_parse_auth("plain AHVzZXIAcGFzcw==", 22, &a) == 0);
	CHECK(strcmp(a.mech, "PLAIN") == 0);
	CHECK(a.irlen == 16 && memcmp(a.ir, "AHVzZXIAcGFzcw==", 16) == 0);
	CHECK(smtp_parse_auth("EXTERNAL =", 10, &a) == 0);
	CHECK(a.ir != NULL && a.irlen == 0);
	CHECK(strcmp(a.mech, "EXTERNAL") == 0);
	CHECK(smtp_parse_auth("Login", 5, &a) == 0);
	CHECK(strcmp(a.mech, "LOGIN") == 0);
	CHECK(smtp_parse_auth("SCRAM-SHA-256", 13, &a) == 0);
	CHECK(smtp_parse_auth("X_Y", 3, &a) == 0);
	CHECK(smtp_parse_auth("ABCDEFGHIJKLMNOPQRST", 20, &a) == 0);
	CHECK(smtp_parse_auth("ABCDEFGHIJKLMNOPQRSTU", 21, &a) == -1);
	CHECK(smtp_parse_auth("", 0, &a) == -1);
	CHECK(smtp_parse_auth(" PLAIN", 6, &a) == -1);
	CHECK(smtp_parse_auth("PLAIN ", 6, &a) == -1);
	CHECK(smtp_parse_auth("PLAIN  AA==", 11, &a) == -1);
	CHECK(smtp_parse_auth("PL@IN", 5, &a) == -1);
	CHECK(smtp_parse_auth("PL\xc3\xa4N", 6, &a) == -1);
	CHECK(smtp_parse_auth("PLAIN dGVz dA==", 15, &a) == -1);
	CHECK(smtp_parse_auth("PLAIN dGVz*A==", 14, &a) == -1);
	CHECK(smtp_parse_auth("PLAIN dGVz\tA==", 14, &a) == -1);
	CHECK(smtp_auth_is_cancel("*", 1) == 1);
	CHECK(smtp_auth_is_cancel("* ", 2) == 0);
	CHECK(smtp_auth_is_cancel("", 0) == 0);
	CHECK(smtp_auth_is_cancel("Kg==", 4) == 0);
}

static void
test_b64_decode_valid(void)
{
	unsigned char	 out[4];
	size_t		 n = 99;

	CHECK(smtp_b64_decode("", 0, out, sizeof(out), &n) == 0 && n == 0);
	CHECK(b64dec_is("Zg==", "f", 1));
	CHECK(b64dec_is("Zm8=", "fo", 2));
	CHECK(b64dec_is("Zm9v", "foo", 3));
	CHECK(b64dec_is("Zm9vYg==", "foob", 4));
	CHECK(b64dec_is("Zm9vYmE=", "fooba", 5));
	CHECK(b64dec_is("Zm9vYmFy", "foobar", 6));
	CHECK(b64dec_is("AA==", "\0", 1));
	CHECK(b64dec_is("+/+/", "\xfb\xff\xbf", 3));
	/* Output sizing is exact. */
	CHECK(smtp_b64_decode("Zm9v", 4, out, 3, &n) == 0 && n == 3);
	CHECK(smtp_b64_decode("Zm9v", 4, out, 2, &n) == -1);
	CHECK(smtp_b64_decode("Zg==", 4, out, 1, &n) == 0 && n == 1);
	CHECK(smtp_b64_decode("Zg==", 4, out, 0, &n) == -1);
}

static void
test_b64_decode_invalid(void)
{
	/* Length not a multiple of 4 */
	CHECK(b64dec_fails("Zg", 2));
	CHECK(b64dec_fails("Zg=", 3));
	CHECK(b64dec_fails("Zm9vY", 5));
	/* Padding in the wrong place or too much of it */
	CHECK(b64dec_fails("Z===", 4));
	CHECK(b64dec_fails("====", 4));
	CHECK(b64dec_fails("=Zg=", 4));
	CHECK(b64dec_fails("Zm=v", 4));
	CHECK(b64dec_fails("Zg==Zg==", 8));
	CHECK(b64dec_fails("Zm9v====", 8));
	CHECK(b64dec_fails("Zm9=Zm9v", 8));
	/* Non-zero unused bits: a second spelling of the same octets */
	CHECK(b64dec_fails("Zh==", 4));
	CHECK(b64dec_fails("Zm9=", 4));
	/* Garbage: whitespace, URL alphabet, NUL, 8-bit */
	CHECK(b64dec_fails("Zm 9", 4));
	CHECK(b64dec_fails("Zm9v\r\n", 6));
	CHECK(b64dec_fails("Zm9v Zm9v", 9));
	CHECK(b64dec_fails("Zm-v", 4));
	CHECK(b64dec_fails("Zm_v", 4));
	CHECK(b64dec_fails("Zm\0v", 4));
	CHECK(b64dec_fails("Zm\xc3v", 4));
	CHECK(b64dec_fails("Zm9v.AAA", 8));
}

static void
test_b64_encode(void)
{
	char	 out[16];

	CHECK(smtp_b64_encode("", 0, out, sizeof(out)) == 0 &&
	    strcmp(out, "") == 0);
	CHECK(smtp_b64_encode("f", 1, out, sizeof(out)) == 4 &&
	    strcmp(out, "Zg==") == 0);
	CHECK(smtp_b64_encode("fo", 2, out, sizeof(out)) == 4 &&
	    strcmp(out, "Zm8=") == 0);
	CHECK(smtp_b64_encode("foo", 3, out, sizeof(out)) == 4 &&
	    strcmp(out, "Zm9v") == 0);
	CHECK(smtp_b64_encode("foobar", 6, out, sizeof(out)) == 8 &&
	    strcmp(out, "Zm9vYmFy") == 0);
	CHECK(smtp_b64_encode("Username:", 9, out, sizeof(out)) == 12 &&
	    strcmp(out, "VXNlcm5hbWU6") == 0);
	/* Room for the NUL is required. */
	CHECK(smtp_b64_encode("foo", 3, out, 5) == 4);
	CHECK(smtp_b64_encode("foo", 3, out, 4) == -1);
	CHECK(smtp_b64_encode("", 0, out, 0) == -1);
}

static void
test_b64_roundtrip(void)
{
	unsigned char	 in[300], back[300];
	char		 enc[SMTP_B64_ENCLEN(300) + 1];
	size_t		 len, i, n;
	int		 e, ok = 1;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (len = 0; len <= sizeof(in); len++) {
		e = smtp_b64_encode(in, len, enc, sizeof(enc));
		if (e != (int)SMTP_B64_ENCLEN(len) ||
		    smtp_b64_decode(enc, (size_t)e, back, sizeof(back),
		    &n) != 0 || n != len || memcmp(in, back, len) != 0)
			ok = 0;
		if (SMTP_B64_DECLEN((size_t)e) < len)
			ok = 0;
	}
	CHECK(ok);
}

static void
test_sasl_plain(void)
{
	struct smtp_plain	 pl;

	CHECK(plain("\0user\0pass", 10, &pl) == 0);
	CHECK(pl.authzidlen == 0);
	CHECK(pl.authcidlen == 4 && memcmp(pl.authcid, "user", 4) == 0);
	CHECK(pl.passwdlen == 4 && memcmp(pl.passwd, "pass", 4) == 0);
	CHECK(plain("admin\0user\0p w", 14, &pl) == 0);
	CHECK(pl.authzidlen == 5 && memcmp(pl.authzid, "admin", 5) == 0);
	CHECK(pl.passwdlen == 3 && memcmp(pl.passwd, "p w", 3) == 0);
	CHECK(plain("user\0pass", 9, &pl) == -1);	/* one NUL */
	CHECK(plain("userpass", 8, &pl) == -1);		/* none */
	CHECK(plain("", 0, &pl) == -1);
	CHECK(plain("\0", 1, &pl) == -1);
	CHECK(plain("\0\0", 2, &pl) == -1);
	CHECK(plain("\0\0pass", 6, &pl) == -1);		/* empty authcid */
	CHECK(plain("z\0\0pass", 7, &pl) == -1);
	CHECK(plain("\0user\0", 6, &pl) == -1);		/* empty passwd */
	CHECK(plain("\0user\0p\0", 8, &pl) == -1);	/* third NUL */
	CHECK(plain("a\0b\0c\0d", 7, &pl) == -1);
	/* Control characters are the caller's check, not ours. */
	CHECK(plain("\0u1\r\n\0pw", 8, &pl) == 0);
	CHECK(pl.authcidlen == 4);
}

static void
test_sasl_plain_via_b64(void)
{
	struct smtp_auth	 a;
	struct smtp_plain	 pl;
	unsigned char		 dec[SMTP_B64_DECLEN(SMTP_LINE_MAX)];
	char			 enc[64];
	char			 line[96];
	size_t			 n;
	int			 e;

	e = smtp_b64_encode("\0alice\0s3cret", 13, enc, sizeof(enc));
	CHECK(e > 0);
	snprintf(line, sizeof(line), "PLAIN %s", enc);
	CHECK(smtp_parse_auth(line, strlen(line), &a) == 0);
	CHECK(smtp_b64_decode(a.ir, a.irlen, dec, sizeof(dec), &n) == 0);
	CHECK(smtp_sasl_plain(dec, n, &pl) == 0);
	CHECK(pl.authcidlen == 5 && memcmp(pl.authcid, "alice", 5) == 0);
	CHECK(pl.passwdlen == 6 && memcmp(pl.passwd, "s3cret", 6) == 0);
	/* "=" is an empty response: PLAIN refuses it. */
	CHECK(smtp_parse_auth("PLAIN =", 7, &a) == 0);
	CHECK(smtp_b64_decode(a.ir, a.irlen, dec, sizeof(dec), &n) == 0);
	CHECK(n == 0 && smtp_sasl_plain(dec, n, &pl) == -1);
	/* Padding error inside an otherwise good response. */
	CHECK(smtp_parse_auth("PLAIN AGFsaWNlAHMzY3JldA=", 25, &a) == 0);
	CHECK(smtp_b64_decode(a.ir, a.irlen, dec, sizeof(dec), &n) == -1);
}

static void
test_reply_format(void)
{
	char	 buf[SMTP_LINE_MAX + 64];
	char	 text[SMTP_LINE_MAX];
	int	 n;

	CHECK(fmt_is(250, "2.1.0", "Ok", "250 2.1.0 Ok\r\n"));
	CHECK(fmt_is(220, NULL, "gw.example ESMTP",
	    "220 gw.example ESMTP\r\n"));
	CHECK(fmt_is(250, NULL, "gw.example\nPIPELINING\nSIZE 1000",
	    "250-gw.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"));
	CHECK(fmt_is(554, "5.5.2", "a\nb",
	    "554-5.5.2 a\r\n554 5.5.2 b\r\n"));
	CHECK(fmt_is(250, NULL, "a\n", "250 a\r\n"));
	CHECK(fmt_is(250, NULL, "a\n\nb", "250-a\r\n250-\r\n250 b\r\n"));
	CHECK(fmt_is(250, "2.0.0", "a\n\nb",
	    "250-2.0.0 a\r\n250-2.0.0\r\n250 2.0.0 b\r\n"));
	CHECK(fmt_is(250, "2.0.0", "", "250 2.0.0\r\n"));
	CHECK(fmt_is(250, "2.0.0", NULL, "250 2.0.0\r\n"));
	CHECK(fmt_is(334, NULL, "", "334 \r\n"));
	CHECK(fmt_is(334, NULL, "VXNlcm5hbWU6", "334 VXNlcm5hbWU6\r\n"));
	CHECK(fmt_is(354, NULL, "End data with <CR><LF>.<CR><LF>",
	    "354 End data with <CR><LF>.<CR><LF>\r\n"));
	CHECK(fmt_is(451, "4.4.1", "Upstream unavailable",
	    "451 4.4.1 Upstream unavailable\r\n"));
	CHECK(fmt_is(550, "5.123.456", "x", "550 5.123.456 x\r\n"));
	CHECK(fmt_is(250, NULL, "a\tb", "250 a\tb\r\n"));
	CHECK(fmt_is(250, NULL, "caf\xc3\xa9", "250 caf\xc3\xa9\r\n"));

	/* A wire line of exactly SMTP_LINE_MAX octets fits. */
	memset(text, 't', sizeof(text));
	text[SMTP_LINE_MAX - 6] = '\0';		/* "250 " + text + CRLF */
	n = smtp_reply_format(buf, sizeof(buf), 250, NULL, text);
	CHECK(n == SMTP_LINE_MAX);
	text[SMTP_LINE_MAX - 6] = 't';
	text[SMTP_LINE_MAX - 5] = '\0';
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, NULL, text) == -1);

	/* Buffer must hold the reply and a NUL. */
	CHECK(smtp_reply_format(buf, 9, 250, NULL, "Ok") == 8);
	CHECK(smtp_reply_format(buf, 8, 250, NULL, "Ok") == -1);
	CHECK(smtp_reply_format(buf, 0, 250, NULL, "Ok") == -1);
}

static void
test_reply_format_refused(void)
{
	char	 buf[256];

	CHECK(smtp_reply_format(buf, sizeof(buf), 199, NULL, "x") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 600, NULL, "x") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), -250, NULL, "x") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 354, "2.0.0", "x") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, "5.0.0", "x") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 550, "2.0.0", "x") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, "2.0", "x") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, "2.0.0.0", "x") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, "2.1000.0", "x") ==
	    -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, "2.0.0 ", "x") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, "", "x") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, "3.0.0", "x") == -1);
	/* No reply injection through text. */
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, NULL, "a\rb") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, NULL, "a\r\n250 b") ==
	    -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, NULL, "a\x01") == -1);
	CHECK(smtp_reply_format(buf, sizeof(buf), 250, NULL, "a\x7f") == -1);
}

static void
test_reply_parse_single(void)
{
	struct smtp_reply	 r;
	size_t			 len = 0;

	smtp_reply_init(&r);
	CHECK(feed(&r, "250 2.1.0 Ok") == SMTP_REPLY_DONE);
	CHECK(r.code == 250 && strcmp(r.enh, "2.1.0") == 0);
	CHECK(r.nlines == 1 && strcmp(r.text, "Ok") == 0);
	CHECK(strcmp(smtp_reply_line(&r, 0, &len), "Ok") == 0 && len == 2);
	CHECK(smtp_reply_line(&r, 1, &len) == NULL);

	smtp_reply_init(&r);
	CHECK(feed(&r, "250") == SMTP_REPLY_DONE);
	CHECK(r.code == 250 && r.textlen == 0 && r.enh[0] == '\0');

	smtp_reply_init(&r);
	CHECK(feed(&r, "354 End data") == SMTP_REPLY_DONE);
	CHECK(r.code == 354 && r.enh[0] == '\0');

	smtp_reply_init(&r);
	CHECK(feed(&r, "220 mx.example.org ESMTP") == SMTP_REPLY_DONE);
	CHECK(strcmp(r.text, "mx.example.org ESMTP") == 0);

	smtp_reply_init(&r);
	CHECK(feed(&r, "559 x") == SMTP_REPLY_DONE);
	CHECK(r.code == 559);
}

static void
test_reply_parse_ehlo(void)
{
	struct smtp_reply	 r;
	const char		*param;
	size_t			 plen;

	smtp_reply_init(&r);
	CHECK(feed(&r, "250-mx.example.org Hello") == SMTP_REPLY_MORE);
	CHECK(smtp_reply_ehlo_has(&r, "PIPELINING", NULL, NULL) == 0);
	CHECK(feed(&r, "250-PIPELINING") == SMTP_REPLY_MORE);
	CHECK(feed(&r, "250-SIZE 10240000") == SMTP_REPLY_MORE);
	CHECK(feed(&r, "250-starttls") == SMTP_REPLY_MORE);
	CHECK(feed(&r, "250-ENHANCEDSTATUSCODES") == SMTP_REPLY_MORE);
	CHECK(feed(&r, "250 XCLIENT ADDR NAME HELO") == SMTP_REPLY_DONE);
	CHECK(r.nlines == 6 && r.enh[0] == '\0');
	CHECK(strcmp(r.text, "mx.example.org Hello\nPIPELINING\n"
	    "SIZE 10240000\nstarttls\nENHANCEDSTATUSCODES\n"
	    "XCLIENT ADDR NAME HELO") == 0);
	CHECK(smtp_reply_ehlo_has(&r, "STARTTLS", &param, &plen) == 1);
	CHECK(plen == 0);
	CHECK(smtp_reply_ehlo_has(&r, "SIZE", &param, &plen) == 1);
	CHECK(plen == 8 && memcmp(param, "10240000", 8) == 0);
	CHECK(smtp_reply_ehlo_has(&r, "XCLIENT", &param, &plen) == 1);
	CHECK(plen == 14 && memcmp(param, "ADDR NAME HELO", 14) == 0);
	CHECK(smtp_reply_ehlo_has(&r, "PIPE", NULL, NULL) == 0);
	CHECK(smtp_reply_ehlo_has(&r, "SMTPUTF8", NULL, NULL) == 0);
	/* The greeting line is not a keyword. */
	CHECK(smtp_reply_ehlo_has(&r, "mx.example.org", NULL, NULL) == 0);

	smtp_reply_init(&r);
	CHECK(feed(&r, "502 5.5.1 EHLO not supported") == SMTP_REPLY_DONE);
	CHECK(smtp_reply_ehlo_has(&r, "EHLO", NULL, NULL) == 0);
}

static void
test_reply_parse_enh(void)
{
	struct smtp_reply	 r;

	smtp_reply_init(&r);
	CHECK(feed(&r, "550-5.1.1 User unknown") == SMTP_REPLY_MORE);
	CHECK(feed(&r, "550 5.1.1 Mailbox gone") == SMTP_REPLY_DONE);
	CHECK(strcmp(r.enh, "5.1.1") == 0);
	CHECK(strcmp(r.text, "User unknown\nMailbox gone") == 0);

	/* A different code on a later line is text. */
	smtp_reply_init(&r);
	CHECK(feed(&r, "550-5.1.1 a") == SMTP_REPLY_MORE);
	CHECK(feed(&r, "550 5.7.1 b") == SMTP_REPLY_DONE);
	CHECK(strcmp(r.text, "a\n5.7.1 b") == 0);

	/* Class must match the reply code. */
	smtp_reply_init(&r);
	CHECK(feed(&r, "250 5.1.1 x") == SMTP_REPLY_DONE);
	CHECK(r.enh[0] == '\0' && strcmp(r.text, "5.1.1 x") == 0);

	smtp_reply_init(&r);
	CHECK(feed(&r, "250 2.1.0") == SMTP_REPLY_DONE);
	CHECK(strcmp(r.enh, "2.1.0") == 0 && r.textlen == 0);

	smtp_reply_init(&r);
	CHECK(feed(&r, "250 2.1.0x") == SMTP_REPLY_DONE);
	CHECK(r.enh[0] == '\0' && strcmp(r.text, "2.1.0x") == 0);

	smtp_reply_init(&r);
	CHECK(feed(&r, "250 2.1000.0 x") == SMTP_REPLY_DONE);
	CHECK(r.enh[0] == '\0');

	smtp_reply_init(&r);
	CHECK(feed(&r, "451 4.3.0 a") == SMTP_REPLY_DONE);
	CHECK(strcmp(r.enh, "4.3.0") == 0 && strcmp(r.text, "a") == 0);
}

static void
test_reply_parse_errors(void)
{
	struct smtp_reply	 r;
	static const char *const bad[] = {
		"", "2", "25", "2500", "250x", "250\t", "650 x", "150 x",
		"260 x", "25a x", "x250 x", " 250 x", "-250 x",
	};
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		smtp_reply_init(&r);
		CHECK(feed(&r, bad[i]) == SMTP_REPLY_ERROR);
		CHECK(r.error == SMTP_RE_SYNTAX);
	}
	smtp_reply_init(&r);
	CHECK(feed(&r, "250-a") == SMTP_REPLY_MORE);
	CHECK(feed(&r, "251 b") == SMTP_REPLY_ERROR);
	CHECK(r.error == SMTP_RE_MISMATCH);

	smtp_reply_init(&r);
	CHECK(feed(&r, "250 a\x01") == SMTP_REPLY_ERROR);
	CHECK(r.error == SMTP_RE_CHAR);
	smtp_reply_init(&r);
	CHECK(smtp_reply_feed(&r, "250 a\0b", 7) == SMTP_REPLY_ERROR);
	CHECK(r.error == SMTP_RE_CHAR);
	smtp_reply_init(&r);
	CHECK(feed(&r, "250 a\rb") == SMTP_REPLY_ERROR);
	smtp_reply_init(&r);
	CHECK(feed(&r, "250 a\tb") == SMTP_REPLY_DONE);

	smtp_reply_init(&r);
	CHECK(feed(&r, "250 ok") == SMTP_REPLY_DONE);
	CHECK(feed(&r, "250 again") == SMTP_REPLY_ERROR);
	CHECK(r.error == SMTP_RE_AFTER_END);
	CHECK(feed(&r, "250 again") == SMTP_REPLY_ERROR);

	for (i = SMTP_RE_NONE; i <= SMTP_RE_AFTER_END; i++)
		CHECK(strcmp(smtp_reply_strerror((enum smtp_reply_err)i),
		    "unknown error") != 0);
}

static void
test_reply_parse_limits(void)
{
	struct smtp_reply	 r;
	char			 line[SMTP_LINE_MAX + 8];
	size_t			 i;

	/* 510 octets without CRLF is the longest line. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	smtp_reply_init(&r);
	CHECK(smtp_reply_feed(&r, line, SMTP_LINE_MAX - 2) ==
	    SMTP_REPLY_DONE);
	smtp_reply_init(&r);
	CHECK(smtp_reply_feed(&r, line, SMTP_LINE_MAX - 1) ==
	    SMTP_REPLY_ERROR);
	CHECK(r.error == SMTP_RE_LINE_TOO_LONG);

	/* SMTP_REPLY_LINES_MAX lines pass, one more does not. */
	smtp_reply_init(&r);
	for (i = 0; i + 1 < SMTP_REPLY_LINES_MAX; i++)
		CHECK(feed(&r, "250-K") == SMTP_REPLY_MORE);
	CHECK(feed(&r, "250 K") == SMTP_REPLY_DONE);
	CHECK(r.nlines == SMTP_REPLY_LINES_MAX);
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		CHECK(feed(&r, "250-K") == SMTP_REPLY_MORE);
	CHECK(feed(&r, "250 K") == SMTP_REPLY_ERROR);
	CHECK(r.error == SMTP_RE_TOO_MANY_LINES);

	/* Total text bounded by SMTP_REPLY_TEXT_MAX. */
	memcpy(line, "250-", 4);
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		if (smtp_reply_feed(&r, line, SMTP_LINE_MAX - 2) !=
		    SMTP_REPLY_MORE)
			break;
	CHECK(r.status == SMTP_REPLY_ERROR);
	CHECK(r.error == SMTP_RE_TOO_LONG);
	CHECK(r.textlen < SMTP_REPLY_TEXT_MAX);
	CHECK(i == (SMTP_REPLY_TEXT_MAX - 1) / (SMTP_LINE_MAX - 6 + 1));
}

/* What the upstream said, the client hears, byte for byte. */
static void
test_reply_roundtrip(void)
{
	static const char *const replies[][4] = {
		{ "250-2.0.0 a", "250-2.0.0 b", "250 2.0.0 c", NULL },
		{ "550 5.7.1 Relaying denied", NULL },
		{ "250-gw.example", "250-PIPELINING", "250 8BITMIME", NULL },
		{ "354 Go ahead", NULL },
	};
	struct smtp_reply	 r;
	char			 want[1024], got[1024];
	size_t			 i, k, o;

	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		smtp_reply_init(&r);
		o = 0;
		for (k = 0; replies[i][k] != NULL; k++) {
			feed(&r, replies[i][k]);
			o += (size_t)snprintf(want + o, sizeof(want) - o,
			    "%s\r\n", replies[i][k]);
		}
		CHECK(r.status == SMTP_REPLY_DONE);
		CHECK(smtp_reply_format(got, sizeof(got), r.code,
		    r.enh[0] ? r.enh : NULL, r.text) == (int)o);
		CHECK(strcmp(got, want) == 0);
	}
}

int
main(void)
{
	RUN(test_cmd_every_verb);
	RUN(test_cmd_arguments);
	RUN(test_cmd_unknown_and_invalid);
	RUN(test_mail_basic);
	RUN(test_mail_colon_spacing);
	RUN(test_mail_null_sender);
	RUN(test_path_brackets);
	RUN(test_path_local_part);
	RUN(test_path_quoted_local_part);
	RUN(test_path_domain);
	RUN(test_path_address_literal);
	RUN(test_path_source_route);
	RUN(test_path_length);
	RUN(test_path_controls_and_spaces);
	RUN(test_rcpt_basic);
	RUN(test_rcpt_postmaster);
	RUN(test_smtputf8_addresses);
	RUN(test_param_size);
	RUN(test_param_body);
	RUN(test_param_smtputf8_auth);
	RUN(test_param_dsn_mail);
	RUN(test_param_dsn_rcpt);
	RUN(test_param_unknown_and_wrong_verb);
	RUN(test_param_syntax);
	RUN(test_param_raw_text);
	RUN(test_path_reply_codes);
	RUN(test_helo);
	RUN(test_auth_parse);
	RUN(test_b64_decode_valid);
	RUN(test_b64_decode_invalid);
	RUN(test_b64_encode);
	RUN(test_b64_roundtrip);
	RUN(test_sasl_plain);
	RUN(test_sasl_plain_via_b64);
	RUN(test_reply_format);
	RUN(test_reply_format_refused);
	RUN(test_reply_parse_single);
	RUN(test_reply_parse_ehlo);
	RUN(test_reply_parse_enh);
	RUN(test_reply_parse_errors);
	RUN(test_reply_parse_limits);
	RUN(test_reply_roundtrip);
	TEST_EXIT();
}
