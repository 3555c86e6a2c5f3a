/*
 * The e-mail proxy's login names (smtpcertd/front/proxy_login.c): the
 * delimiter split rule with the server part (issue 13: the text after
 * the server delimiter names a configured server or the login is
 * refused; `server none' never splits) and the SASL PLAIN response the
 * master account logs in with.  The module lives in smtpcertd/ (front
 * only), so the test includes its source with the parser's helper it
 * uses.
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
	config_free(conf);
	TEST_EXIT();
}
