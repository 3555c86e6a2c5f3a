/*
 * Unit tests for common/ldap_filter.c: RFC 4515 syntax check of
 * templates, placeholder sets, escaping, expansion (injection attempts
 * must come out as literal values), GeneralizedTime.
 */
#include <string.h>
#include <time.h>

#include "ldap_filter.h"
#include "test.h"

static int
escape_str(const char *in, size_t len, char *out, size_t outlen)
{
	return ldap_filter_escape(in, len, out, outlen);
}

static void
test_escape_specials(void)
{
	char	 out[128];

	CHECK(escape_str("plain", 5, out, sizeof(out)) == 5);
	CHECK(strcmp(out, "plain") == 0);
	CHECK(escape_str("a*b", 3, out, sizeof(out)) > 0);
	CHECK(strcmp(out, "a\\2ab") == 0);
	CHECK(escape_str("()", 2, out, sizeof(out)) > 0);
	CHECK(strcmp(out, "\\28\\29") == 0);
	CHECK(escape_str("a\\b", 3, out, sizeof(out)) > 0);
	CHECK(strcmp(out, "a\\5cb") == 0);
	CHECK(escape_str("ad\0min", 6, out, sizeof(out)) > 0);
	CHECK(strcmp(out, "ad\\00min") == 0);
	CHECK(escape_str("u1\r\n", 4, out, sizeof(out)) > 0);
	CHECK(strcmp(out, "u1\\0d\\0a") == 0);
	CHECK(escape_str("\x1f\x7f\xff", 3, out, sizeof(out)) > 0);
	CHECK(strcmp(out, "\\1f\\7f\\ff") == 0);
	/* UTF-8 bytes are escaped too: still the same value to LDAP */
	CHECK(escape_str("\xc3\xa9", 2, out, sizeof(out)) > 0);
	CHECK(strcmp(out, "\\c3\\a9") == 0);
	/* printable specials of other syntaxes stay */
	CHECK(escape_str("a=b,c+d&|!~<>", 13, out, sizeof(out)) == 13);
	CHECK(escape_str("", 0, out, sizeof(out)) == 0);
	CHECK(out[0] == '\0');
}

static void
test_escape_bounds(void)
{
	char	 out[8];

	/* "abc" needs 4 bytes with the NUL */
	CHECK(escape_str("abc", 3, out, 4) == 3);
	CHECK(escape_str("abc", 3, out, 3) == -1);
	/* "\2a" needs 4 bytes with the NUL */
	CHECK(escape_str("*", 1, out, 4) == 3);
	CHECK(escape_str("*", 1, out, 3) == -1);
	CHECK(escape_str("*", 1, out, 0) == -1);
}

static void
test_check_valid(void)
{
	static const char *const good[] = {
		"(&(objectClass=posixAccount)(caccn={cn})(cacserial={sn}))",
		"(&(caccn={cn})(cacserial={sn}))",
		"(&(objectClass=user)(cn={cn}))",
		"(userPrincipalName={upn})",
		"(mail={e})",
		"(|(uid={uid})(o={o})(ou={ou}))",
		"(x-dn={dn})",
		"(&(issuer={issuer})(fp={fp}))",
		"(cn=*)",
		"(cn=a*b*c)",
		"(cn=*{cn}*)",
		"(cn={cn}*)",
		"(!(cn=x))",
		"(cn~=x)",
		"(cn<=x)",
		"(cn>=x)",
		"(cn=)",
		"(cn=a\\2ab)",
		"(cn=\\7b{cn}\\7d)",
		"(2.5.4.3={cn})",
		"(userCertificate;binary={cn})",
		"(cn:dn:2.4.6.8.10:=x)",
		"(cn:caseExactMatch:={cn})",
		"(:dn:2.4.6.8.10:=Dino)",
		"(:caseExactMatch:=x)",
		"(cn:=x)",
		"(cn=caf\xc3\xa9)",
		NULL
	};
	char	 err[256];
	int	 i;

	for (i = 0; good[i] != NULL; i++) {
		if (ldap_filter_check(good[i], ldap_filter_ph_certificate,
		    err, sizeof(err)) != 0) {
			fprintf(stderr, "  rejected %s: %s\n", good[i], err);
			CHECK(0);
		}
	}
	CHECK(ldap_filter_check("(uid={u})", ldap_filter_ph_user, err,
	    sizeof(err)) == 0);
	CHECK(ldap_filter_check(
	    "(&(uid={u})(|(!(caccn=*))(cacexempt=*)(cacemergency>={t})))",
	    ldap_filter_ph_user, err, sizeof(err)) == 0);
}

static void
test_check_invalid(void)
{
	static const char *const bad[] = {
		"",
		"uid=x",
		"(uid=x",
		"(uid=x))",
		"(uid=x)(cn=y)",
		"(&)",
		"(|)",
		"(!)",
		"(!(a=b)(c=d))",
		"(=x)",
		"(uid)",
		"({cn}=x)",
		"(c{cn}=x)",
		"(cn={cn)",
		"(cn={})",
		"(cn={CN})",
		"(cn=})",
		"(cn={nope})",
		"(cn={u})",
		"(cn=a\\zz)",
		"(cn=a\\2)",
		"(cn=a\\)",
		"(cn>=a*)",
		"(cn~=*)",
		"(cn=a**b)",
		"(cn=a(b)",
		"(cn=a\tb)",
		"(2=x)",
		"(01.2=x)",
		"(1.=x)",
		"(cn;=x)",
		"(:=x)",
		"(:dn:=x)",
		"(cn:x)",
		"(cn:dn=x)",
		"(cn!=x)",
		"(-cn=x)",
		NULL
	};
	char	 err[256];
	int	 i;

	for (i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		if (ldap_filter_check(bad[i], ldap_filter_ph_certificate,
		    err, sizeof(err)) != -1) {
			fprintf(stderr, "  accepted %s\n", bad[i]);
			CHECK(0);
		} else
			CHECK(err[0] != '\0');
	}
	CHECK(ldap_filter_check(NULL, NULL, err, sizeof(err)) == -1);
	/* NULL error buffer is allowed */
	CHECK(ldap_filter_check("(", NULL, NULL, 0) == -1);
}

static void
test_check_placeholder_sets(void)
{
	char	 err[256];

	CHECK(ldap_filter_check("(uid={u})", ldap_filter_ph_certificate,
	    err, sizeof(err)) == -1);
	CHECK(strstr(err, "{u}") != NULL);
	CHECK(ldap_filter_check("(cn={cn})", ldap_filter_ph_user,
	    err, sizeof(err)) == -1);
	CHECK(ldap_filter_check("(cn={t})", ldap_filter_ph_user,
	    err, sizeof(err)) == 0);
	/* no set: no placeholder at all */
	CHECK(ldap_filter_check("(cn={u})", NULL, err, sizeof(err)) == -1);
	CHECK(ldap_filter_check("(cn=x)", NULL, err, sizeof(err)) == 0);
}

static void
test_check_limits(void)
{
	char	 tmpl[LDAP_FILTER_TMPL_MAX + 16];
	char	 err[256];
	int	 i, n = 0;

	/* nesting deeper than LDAP_FILTER_DEPTH */
	for (i = 0; i < LDAP_FILTER_DEPTH + 2; i++)
		n += snprintf(tmpl + n, sizeof(tmpl) - n, "(!");
	n += snprintf(tmpl + n, sizeof(tmpl) - n, "(a=b)");
	for (i = 0; i < LDAP_FILTER_DEPTH + 2; i++)
		n += snprintf(tmpl + n, sizeof(tmpl) - n, ")");
	CHECK(ldap_filter_check(tmpl, NULL, err, sizeof(err)) == -1);
	CHECK(strstr(err, "deep") != NULL);

	/* longer than LDAP_FILTER_TMPL_MAX */
	memset(tmpl, 'a', sizeof(tmpl) - 1);
	tmpl[0] = '(';
	tmpl[1] = 'a';
	tmpl[2] = '=';
	tmpl[sizeof(tmpl) - 2] = ')';
	tmpl[sizeof(tmpl) - 1] = '\0';
	CHECK(ldap_filter_check(tmpl, NULL, err, sizeof(err)) == -1);
}

static void
test_uses(void)
{
	CHECK(ldap_filter_uses("(&(uid={u})(x>={t}))", "u"));
	CHECK(ldap_filter_uses("(&(uid={u})(x>={t}))", "t"));
	CHECK(!ldap_filter_uses("(&(uid={uid}))", "u"));
	CHECK(!ldap_filter_uses("(cn=x)", "cn"));
}

static void
test_expand_cert(void)
{
	struct ldap_filter_value	 v[] = {
		{ "cn", "DOE.JOHN.1234567890", 19 },
		{ "sn", "0A1B2C", 6 },
	};
	char				 out[LDAP_FILTER_MAX], err[256];
	int				 n;

	n = ldap_filter_expand_values(
	    "(&(objectClass=posixAccount)(caccn={cn})(cacserial={sn}))",
	    v, 2, out, sizeof(out), err, sizeof(err));
	CHECK(n > 0);
	CHECK(strcmp(out, "(&(objectClass=posixAccount)"
	    "(caccn=DOE.JOHN.1234567890)(cacserial=0A1B2C))") == 0);
	CHECK(n == (int)strlen(out));
}

static void
test_expand_injection(void)
{
	const char			*evil = "*)(uid=*))(|(uid=*";
	struct ldap_filter_value	 v[] = { { "u", evil, 0 } };
	char				 out[LDAP_FILTER_MAX], err[256];

	v[0].len = strlen(evil);
	CHECK(ldap_filter_expand_values("(uid={u})", v, 1, out, sizeof(out),
	    err, sizeof(err)) > 0);
	CHECK(strcmp(out,
	    "(uid=\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a)") == 0);
	/* still exactly one equality filter */
	CHECK(ldap_filter_check(out, NULL, err, sizeof(err)) == 0);
	CHECK(strchr(out + 1, '(') == NULL);

	/* a lone star never becomes a presence filter */
	v[0].value = "*";
	v[0].len = 1;
	CHECK(ldap_filter_expand_values("(uid={u})", v, 1, out, sizeof(out),
	    err, sizeof(err)) > 0);
	CHECK(strcmp(out, "(uid=\\2a)") == 0);
}

static void
test_expand_nul_backslash_ctl(void)
{
	struct ldap_filter_value	 v[] = { { "u", "ad\0min", 6 } };
	char				 out[LDAP_FILTER_MAX], err[256];

	CHECK(ldap_filter_expand_values("(uid={u})", v, 1, out, sizeof(out),
	    err, sizeof(err)) > 0);
	CHECK(strcmp(out, "(uid=ad\\00min)") == 0);

	v[0].value = "a\\2a";
	v[0].len = 4;
	CHECK(ldap_filter_expand_values("(uid={u})", v, 1, out, sizeof(out),
	    err, sizeof(err)) > 0);
	CHECK(strcmp(out, "(uid=a\\5c2a)") == 0);

	v[0].value = "u1\r\n";
	v[0].len = 4;
	CHECK(ldap_filter_expand_values("(uid={u})", v, 1, out, sizeof(out),
	    err, sizeof(err)) > 0);
	CHECK(strcmp(out, "(uid=u1\\0d\\0a)") == 0);
}

static void
test_expand_missing_value_fails(void)
{
	struct ldap_filter_value	 v[] = {
		{ "cn", "x", 1 },
		{ "sn", NULL, 0 },
		{ "e", "", 0 },
	};
	char				 out[LDAP_FILTER_MAX], err[256];

	strcpy(out, "junk");
	CHECK(ldap_filter_expand_values("(&(cn={cn})(sn={sn}))", v, 3, out,
	    sizeof(out), err, sizeof(err)) == -1);
	CHECK(out[0] == '\0');
	CHECK(strstr(err, "{sn}") != NULL);
	/* an empty value is no value */
	CHECK(ldap_filter_expand_values("(&(cn={cn})(mail={e}))", v, 3, out,
	    sizeof(out), err, sizeof(err)) == -1);
	/* not listed at all */
	CHECK(ldap_filter_expand_values("(upn={upn})", v, 3, out,
	    sizeof(out), err, sizeof(err)) == -1);
	CHECK(ldap_filter_expand_values("(upn={upn})", NULL, 0, out,
	    sizeof(out), err, sizeof(err)) == -1);
}

static void
test_expand_bounded(void)
{
	struct ldap_filter_value	 v[] = { { "u", "****", 4 } };
	char				 out[64], err[256];

	/* "(uid=" + 4 * 3 + ")" = 18 chars + NUL */
	CHECK(ldap_filter_expand_values("(uid={u})", v, 1, out, 19,
	    err, sizeof(err)) == 18);
	CHECK(ldap_filter_expand_values("(uid={u})", v, 1, out, 18,
	    err, sizeof(err)) == -1);
	CHECK(out[0] == '\0');
	CHECK(ldap_filter_expand_values("(uid=abcdef)", v, 1, out, 5,
	    err, sizeof(err)) == -1);
	CHECK(ldap_filter_expand_values("(uid={u})", v, 1, out, 0,
	    err, sizeof(err)) == -1);
}

static void
test_expand_keeps_template_escapes(void)
{
	struct ldap_filter_value	 v[] = { { "cn", "x", 1 } };
	char				 out[64], err[256];

	CHECK(ldap_filter_expand_values("(cn=\\7b{cn}\\7d*)", v, 1, out,
	    sizeof(out), err, sizeof(err)) > 0);
	CHECK(strcmp(out, "(cn=\\7bx\\7d*)") == 0);
}

static void
test_expand_bad_template(void)
{
	struct ldap_filter_value	 v[] = { { "u", "x", 1 } };
	char				 out[64], err[256];

	CHECK(ldap_filter_expand_values("(uid={u}", v, 1, out, sizeof(out),
	    err, sizeof(err)) == -1);
	CHECK(ldap_filter_expand_values("uid={u}", v, 1, out, sizeof(out),
	    err, sizeof(err)) == -1);
	CHECK(ldap_filter_expand_values("(uid={u)", v, 1, out, sizeof(out),
	    err, sizeof(err)) == -1);
}

static const char *
cb_values(const char *name, size_t *lenp, void *arg)
{
	int	*calls = arg;

	(*calls)++;
	if (strcmp(name, "u") == 0) {
		*lenp = 5;
		return "alice";
	}
	if (strcmp(name, "t") == 0) {
		*lenp = 15;
		return "20240102030405Z";
	}
	return NULL;
}

static void
test_expand_callback(void)
{
	char	 out[256], err[256];
	int	 calls = 0;

	CHECK(ldap_filter_expand(
	    "(&(uid={u})(|(!(caccn=*))(cacexempt=*)(cacemergency>={t})))",
	    cb_values, &calls, out, sizeof(out), err, sizeof(err)) > 0);
	CHECK(strcmp(out, "(&(uid=alice)(|(!(caccn=*))(cacexempt=*)"
	    "(cacemergency>=20240102030405Z)))") == 0);
	CHECK(calls == 2);
	CHECK(ldap_filter_expand("(cn={cn})", cb_values, &calls, out,
	    sizeof(out), err, sizeof(err)) == -1);
}

static void
test_gentime(void)
{
	char	 buf[LDAP_GENTIME_LEN];

	CHECK(ldap_filter_gentime(0, buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "19700101000000Z") == 0);
	CHECK(ldap_filter_gentime(1700000000, buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "20231114221320Z") == 0);
	CHECK(ldap_filter_gentime(1700000000, buf, sizeof(buf) - 1) == -1);
	CHECK(ldap_filter_gentime(time(NULL), buf, sizeof(buf)) == 0);
	CHECK(strlen(buf) == 15 && buf[14] == 'Z');
}

int
main(void)
{
	RUN(test_escape_specials);
	RUN(test_escape_bounds);
	RUN(test_check_valid);
	RUN(test_check_invalid);
	RUN(test_check_placeholder_sets);
	RUN(test_check_limits);
	RUN(test_uses);
	RUN(test_expand_cert);
	RUN(test_expand_injection);
	RUN(test_expand_nul_backslash_ctl);
	RUN(test_expand_missing_value_fails);
	RUN(test_expand_bounded);
	RUN(test_expand_keeps_template_escapes);
	RUN(test_expand_bad_template);
	RUN(test_expand_callback);
	RUN(test_gentime);
	TEST_EXIT();
}
