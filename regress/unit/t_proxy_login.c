/*
 * The e-mail proxy's login names (smtpcertd/front/proxy_login.c): the
 * delimiter split rule with the server part (issue 13: the text after
 * the server delimiter names a configured server or the login is
 * refused; `server none' never splits) and the SASL PLAIN response the
 * master account logs in with.  The test includes that source with the
 * parser's helper it uses; the IMAP command reader (proxy_imap.c) and
 * the SASL response decoder (proxy_sasl.c), pure as well, come from the
 * front's archive.
 */
#include "../../smtpcertd/front/proxy_login.c"
#include "../../smtpcertd/front/smtp_parse.c"

#include "test.h"

static const char conf_text[] =
    "group-policy \"g\" {\n simultaneous-logins 2\n}\n"
    "proxy \"at\" {\n auth mailhost\n"
    " default server \"imap.example.test\" port 143 tls none\n"
    " allow server \"localhost\" port 993 tls implicit\n"
    " allow server \"192.0.2.7\" port 143 tls none name \"imap3\"\n"
    " default group-policy \"g\"\n}\n"
    "proxy \"none\" {\n auth mailhost\n"
    " delimiter name \":\" server none\n"
    " default server \"imap.example.test\" port 143 tls none\n"
    " default group-policy \"g\"\n}\n";

static struct smtpcertd_conf	*conf;

static const struct proxy_profile *
profile(const char *name)
{
	return config_find_proxy(conf, name);
}

static enum proxy_split_err
split(const char *prof, const char *user, const char *pass,
    struct proxy_split *sp)
{
	return proxy_split_login(profile(prof), user, strlen(user), pass,
	    strlen(pass), sp);
}

static void
test_server_part_must_name_a_configured_server(void)
{
	struct proxy_split	 sp;

	CHECK(split("at", "bob", "pw", &sp) == PXS_OK);
	CHECK(strcmp(sp.mailuser, "bob") == 0 && sp.server[0] == '\0');
	CHECK(split("at", "bob@localhost", "pw", &sp) == PXS_OK);
	CHECK(strcmp(sp.mailuser, "bob") == 0);
	CHECK(strcmp(sp.server, "localhost") == 0);
	/* By its name, and by its host, case-insensitively. */
	CHECK(split("at", "bob@IMAP3", "pw", &sp) == PXS_OK);
	CHECK(split("at", "bob@192.0.2.7", "pw", &sp) == PXS_OK);
	CHECK(split("at", "bob@imap.example.test", "pw", &sp) == PXS_OK);
	CHECK(strcmp(sp.mailuser, "bob") == 0);
	/* Anything else is refused, never kept in the user name. */
	CHECK(split("at", "bob@mail.evil.test", "pw", &sp) == PXS_SERVER);
	CHECK(split("at", "bob@[127.0.0.1]", "pw", &sp) == PXS_SERVER);
	CHECK(split("at", "bob@127.0.0.2", "pw", &sp) == PXS_SERVER);
	CHECK(split("at", "bob:bob@mail.evil.test", "pw", &sp) ==
	    PXS_SERVER);
	CHECK(split("at", "alice@example.test", "pw", &sp) == PXS_SERVER);
	/* The last delimiter counts. */
	CHECK(split("at", "a@b@localhost", "pw", &sp) == PXS_OK);
	CHECK(strcmp(sp.mailuser, "a@b") == 0);
	CHECK(split("at", "bob@", "pw", &sp) == PXS_BAD);
}

static void
test_server_none_never_splits(void)
{
	struct proxy_split	 sp;

	CHECK(profile("none")->server_delim == '\0');
	CHECK(split("none", "bob@mail.evil.test", "pw", &sp) == PXS_OK);
	CHECK(strcmp(sp.mailuser, "bob@mail.evil.test") == 0);
	CHECK(sp.server[0] == '\0');
	CHECK(split("none", "alice:alice@example.test", "a:b", &sp) ==
	    PXS_OK);
	CHECK(strcmp(sp.vpnuser, "alice") == 0);
	CHECK(strcmp(sp.mailuser, "alice@example.test") == 0);
	CHECK(sp.vpnpasslen == 1 && sp.mailpasslen == 1);
}

static void
test_sasl_plain_response(void)
{
	char		 out[PX_SASL_B64_MAX];
	unsigned char	 dec[PX_SASL_B64_MAX];
	char		 big[PX_NAME_MAX + 1];
	size_t		 n;

	CHECK(proxy_sasl_plain("alice", "smtpcertd", "s3cret", 6, out,
	    sizeof(out)) == 0);
	CHECK(smtp_b64_decode(out, strlen(out), dec, sizeof(dec), &n) == 0);
	CHECK(n == 5 + 1 + 9 + 1 + 6);
	CHECK(memcmp(dec, "alice\0smtpcertd\0s3cret", n) == 0);
	/* No authorization identity. */
	CHECK(proxy_sasl_plain("", "bob", "pw", 2, out, sizeof(out)) == 0);
	CHECK(strcmp(out, "AGJvYgBwdw==") == 0);
	/* Bounded. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(proxy_sasl_plain(big, "m", "p", 1, out, sizeof(out)) == -1);
	CHECK(proxy_sasl_plain("a", "m", "p", 1, out, 4) == -1);
}

/* The IMAP reader: tag, command, arguments, literals, bounds. */
static void
test_imap_command_reader(void)
{
	static char		 args[PX_ARGS_MAX][PX_LITERAL_MAX + 1];
	char			 tag[PX_TAG_MAX], verb[PX_VERB_MAX];
	char			 big[PX_TAG_MAX + 16];
	size_t			 arglen[PX_ARGS_MAX], need = 0;
	int			 nargs = 0;
	struct proxy_imap_cmd	 c = { tag, verb, args, arglen, &nargs,
				    &need, 0 };

#define LINE(l, cont)	proxy_imap_line(&c, l, strlen(l), cont)
	CHECK(LINE("a1 LOGIN alice \"se\\\"cret\"", 0) == PXI_DONE);
	CHECK(strcmp(tag, "a1") == 0 && strcmp(verb, "LOGIN") == 0);
	CHECK(nargs == 2 && strcmp(args[1], "se\"cret") == 0);
	/* Other commands: no arguments read, the rest ignored. */
	CHECK(LINE("a2 NOOP (whatever {9}", 0) == PXI_DONE && nargs == 0);
	CHECK(LINE("+a LOGIN x y", 0) == PXI_BADTAG);
	CHECK(LINE("a3", 0) == PXI_BADTAG);
	CHECK(LINE("a4 ", 0) == PXI_BADVERB);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(proxy_imap_line(&c, big, strlen(big), 0) == PXI_BADTAG);
	CHECK(LINE("a5 LOGIN a b c d", 0) == PXI_BADARGS);
	CHECK(LINE("a6 LOGIN {5000}", 0) == PXI_BADARGS && need == 0);
	/* A synchronising literal, then the rest of the command. */
	CHECK(LINE("a7 LOGIN {5}", 0) == PXI_LITERAL && c.sync && need == 5);
	CHECK(proxy_imap_literal(&c, "alic", 4) == 4 && need == 1);
	CHECK(proxy_imap_literal(&c, "e pw", 4) == 1 && need == 0);
	CHECK(LINE(" {2+}", 1) == PXI_LITERAL && !c.sync && need == 2);
	CHECK(proxy_imap_literal(&c, "pw", 2) == 2);
	CHECK(LINE("", 1) == PXI_DONE && nargs == 2);
	CHECK(strcmp(args[0], "alice") == 0 && strcmp(args[1], "pw") == 0);
	CHECK(arglen[0] == 5 && arglen[1] == 2);
#undef LINE
}

/* SASL responses as every protocol decodes them (proxy_sasl.c). */
static void
test_sasl_response_decoder(void)
{
	unsigned char		 buf[PX_AUTH_LINE_MAX];
	struct smtp_plain	 pl;
	char			 b64[PX_SASL_B64_MAX];
	size_t			 n;

#define DEC(m, s)	proxy_sasl_decode(m, s, strlen(s), buf, sizeof(buf), \
			    &n, &pl)
	CHECK(DEC(PXM_PLAIN, "*") == PXSASL_CANCELLED);
	CHECK(DEC(PXM_EXTERNAL, "*") == PXSASL_CANCELLED);
	CHECK(DEC(PXM_PLAIN, "=") == PXSASL_PLAIN);
	CHECK(DEC(PXM_PLAIN, "!!!!") == PXSASL_BASE64);
	CHECK(DEC(PXM_PLAIN, "eA==") == PXSASL_PLAIN);
	CHECK(DEC(PXM_PLAIN, "AGFsaWNlAHNlY3JldA==") == PXSASL_OK);
	CHECK(pl.authcidlen == 5 && memcmp(pl.authcid, "alice", 5) == 0);
	CHECK(pl.passwdlen == 6 && memcmp(pl.passwd, "secret", 6) == 0);
	/* Another authorization identity: the proxy acts for nobody else. */
	CHECK(DEC(PXM_PLAIN, "Ym9iAGFsaWNlAHNlY3JldA==") == PXSASL_PLAIN);
	/* EXTERNAL: empty, or an authorization identity below PX_NAME_MAX. */
	CHECK(DEC(PXM_EXTERNAL, "=") == PXSASL_OK && n == 0);
	CHECK(DEC(PXM_EXTERNAL, "YWxpY2U=") == PXSASL_OK && n == 5);
	memset(buf, 'u', PX_NAME_MAX);
	CHECK(smtp_b64_encode(buf, PX_NAME_MAX, b64, sizeof(b64)) != -1);
	CHECK(DEC(PXM_EXTERNAL, b64) == PXSASL_BASE64);
	CHECK(smtp_b64_encode(buf, PX_NAME_MAX - 1, b64, sizeof(b64)) != -1);
	CHECK(DEC(PXM_EXTERNAL, b64) == PXSASL_OK && n == PX_NAME_MAX - 1);
#undef DEC
}

int
main(void)
{
	conf = config_parse_text("t_proxy_login", conf_text,
	    strlen(conf_text));
	if (conf == NULL) {
		printf("not ok - configuration\n");
		return 1;
	}
	RUN(test_server_part_must_name_a_configured_server);
	RUN(test_server_none_never_splits);
	RUN(test_sasl_plain_response);
	RUN(test_imap_command_reader);
	RUN(test_sasl_response_decoder);
	config_free(conf);
	TEST_EXIT();
}
