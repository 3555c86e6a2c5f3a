/*
 * Session event lines (smtpcertd/front/kvlog.c): quoting, escaping, bounds, and
 * that no value from the network can forge a field or a line.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kvlog.h"
#include "log.h"

#include "test.h"

static const char *
one(const char *key, const char *value)
{
	static struct kvlog	 kv;

	kvlog_begin(&kv);
	kvlog_str(&kv, key, value);
	return kvlog_line(&kv);
}

/* Count the fields of a line the way a log shipper would split it:
 * spaces outside quotes, backslash escapes inside. */
static int
count_fields(const char *line)
{
	int	 n = 0, inq = 0, infield = 0;

	for (; *line != '\0'; line++) {
		if (inq) {
			if (*line == '\\' && line[1] != '\0')
				line++;
			else if (*line == '"')
				inq = 0;
			continue;
		}
		if (*line == ' ') {
			infield = 0;
			continue;
		}
		if (!infield) {
			infield = 1;
			n++;
		}
		if (*line == '"')
			inq = 1;
	}
	return inq ? -1 : n;
}

static void
test_session_and_event_come_first(void)
{
	struct kvlog	 kv;

	kvlog_init(&kv, 0x0a1b2c3d4e5fULL, "connect");
	kvlog_addr(&kv, "client", "192.0.2.7", 50122);
	kvlog_str(&kv, "proto", "smtp");
	CHECK(strcmp(kvlog_line(&kv), "session=0a1b2c3d4e5f event=connect "
	    "client=192.0.2.7:50122 proto=smtp") == 0);
}

static void
test_bare_values_stay_bare(void)
{
	CHECK(strcmp(one("user", "alice"), "user=alice") == 0);
	CHECK(strcmp(one("tls", "TLSv1.3"), "tls=TLSv1.3") == 0);
	CHECK(strcmp(one("from", "a.b+c@example.test"),
	    "from=a.b+c@example.test") == 0);
	CHECK(strcmp(one("cipher", "TLS_AES_256_GCM_SHA384"),
	    "cipher=TLS_AES_256_GCM_SHA384") == 0);
}

static void
test_spaces_and_equals_are_quoted(void)
{
	CHECK(strcmp(one("result", "bad credentials"),
	    "result=\"bad credentials\"") == 0);
	CHECK(strcmp(one("cert-subject", "CN=alice,O=Example"),
	    "cert-subject=\"CN=alice,O=Example\"") == 0);
}

static void
test_absent_empty_and_dash(void)
{
	CHECK(strcmp(one("user", NULL), "user=-") == 0);
	CHECK(strcmp(one("from", ""), "from=\"\"") == 0);
	/* A user really named "-" is not "no user". */
	CHECK(strcmp(one("user", "-"), "user=\"-\"") == 0);
	CHECK(strcmp(one("user", "--"), "user=--") == 0);
}

static void
test_quote_and_backslash_escaped(void)
{
	CHECK(strcmp(one("cert-subject", "CN=a\\\"b"),
	    "cert-subject=\"CN=a\\\\\\\"b\"") == 0);
	CHECK(strcmp(one("user", "x\" user=root"),
	    "user=\"x\\\" user=root\"") == 0);
	CHECK(count_fields(one("user", "x\" user=root")) == 1);
	CHECK(strcmp(one("v", "\\"), "v=\"\\\\\"") == 0);
}

static void
test_controls_hex_escaped(void)
{
	const char	*l;

	l = one("cert-subject", "CN=evil\r\nsession=1 event=end user=root");
	CHECK(strchr(l, '\r') == NULL && strchr(l, '\n') == NULL);
	CHECK(strcmp(l, "cert-subject=\"CN=evil\\x0d\\x0asession=1 "
	    "event=end user=root\"") == 0);
	CHECK(count_fields(l) == 1);
	CHECK(strcmp(one("v", "\x1b[2J\x7f\t"),
	    "v=\"\\x1b[2J\\x7f\\x09\"") == 0);
}

/* Issue 15: valid UTF-8 is logged as it is (quoted), so a name reads
 * as the user wrote it. */
static void
test_valid_utf8_kept(void)
{
	CHECK(strcmp(one("user", "M\xc3\xbcller"),
	    "user=\"M\xc3\xbcller\"") == 0);
	CHECK(count_fields(one("user", "M\xc3\xbcller")) == 1);
	/* Three- and four-byte sequences: CJK, an emoji. */
	CHECK(strcmp(one("cert-subject", "CN=\xe5\xb1\xb1\xe7\x94\xb0"),
	    "cert-subject=\"CN=\xe5\xb1\xb1\xe7\x94\xb0\"") == 0);
	CHECK(strcmp(one("v", "\xf0\x9f\x93\xa7"),
	    "v=\"\xf0\x9f\x93\xa7\"") == 0);
	/* Still quoted, and quote and backslash still escaped. */
	CHECK(strcmp(one("v", "\xc3\xa9\"\\"), "v=\"\xc3\xa9\\\"\\\\\"") == 0);
}

/* What is not valid UTF-8, or would mislead a reader, stays \xHH:
 * stray and truncated bytes, overlong forms, surrogates, C1 controls,
 * line separators, bidirectional overrides and isolates, the BOM. */
static void
test_invalid_utf8_and_tricks_escaped(void)
{
	CHECK(strcmp(one("v", "a\xff" "b"), "v=\"a\\xffb\"") == 0);
	CHECK(strcmp(one("v", "\xbc"), "v=\"\\xbc\"") == 0);
	CHECK(strcmp(one("v", "x\xc3"), "v=\"x\\xc3\"") == 0);
	/* Overlong "/" and NUL. */
	CHECK(strcmp(one("v", "\xc0\xaf"), "v=\"\\xc0\\xaf\"") == 0);
	CHECK(strcmp(one("v", "\xe0\x80\x80"),
	    "v=\"\\xe0\\x80\\x80\"") == 0);
	/* A UTF-16 surrogate, and beyond U+10FFFF. */
	CHECK(strcmp(one("v", "\xed\xa0\x80"),
	    "v=\"\\xed\\xa0\\x80\"") == 0);
	CHECK(strcmp(one("v", "\xf4\x90\x80\x80"),
	    "v=\"\\xf4\\x90\\x80\\x80\"") == 0);
	/* U+0085 NEL (C1), U+2028, U+202E RLO, U+2066 LRI, U+FEFF. */
	CHECK(strcmp(one("v", "\xc2\x85"), "v=\"\\xc2\\x85\"") == 0);
	CHECK(strcmp(one("v", "\xe2\x80\xa8"),
	    "v=\"\\xe2\\x80\\xa8\"") == 0);
	CHECK(strcmp(one("user", "evil\xe2\x80\xaetxt.exe"),
	    "user=\"evil\\xe2\\x80\\xaetxt.exe\"") == 0);
	CHECK(strcmp(one("v", "\xe2\x81\xa6"),
	    "v=\"\\xe2\\x81\\xa6\"") == 0);
	CHECK(strcmp(one("v", "\xef\xbb\xbf"),
	    "v=\"\\xef\\xbb\\xbf\"") == 0);
	/* Valid around invalid: each judged on its own. */
	CHECK(strcmp(one("v", "\xc3\xbc\xff\xc3\xbc"),
	    "v=\"\xc3\xbc\\xff\xc3\xbc\"") == 0);
}

/* A cut value ends before a whole UTF-8 sequence, never inside one. */
static void
test_cut_never_splits_utf8(void)
{
	char		 big[2000], out[32];
	size_t		 i, n;
	const char	*p;

	for (i = 0; i + 2 < sizeof(big); i += 2) {
		big[i] = (char)0xc3;
		big[i + 1] = (char)0xbc;
	}
	big[i] = '\0';
	for (i = 6; i < sizeof(out); i++) {
		kvlog_quote(out, i, big, strlen(big));
		p = strstr(out, "...\"");
		CHECK(p != NULL && p[4] == '\0');
		n = p != NULL ? (size_t)(p - out - 1) : 1;
		CHECK(n % 2 == 0);
	}
}

static void
test_nul_inside_a_value(void)
{
	struct kvlog	 kv;

	kvlog_begin(&kv);
	kvlog_mem(&kv, "user", "ab\0cd", 5);
	CHECK(strcmp(kvlog_line(&kv), "user=\"ab\\x00cd\"") == 0);
}

static void
test_ipv6_client_in_brackets(void)
{
	struct kvlog	 kv;

	kvlog_begin(&kv);
	kvlog_addr(&kv, "client", "2001:db8::1", 25);
	kvlog_addr(&kv, "upstream", NULL, 0);
	CHECK(strcmp(kvlog_line(&kv), "client=[2001:db8::1]:25 "
	    "upstream=-") == 0);
}

static void
test_numbers(void)
{
	struct kvlog	 kv;

	kvlog_begin(&kv);
	kvlog_u64(&kv, "bytes-in", 18446744073709551615ULL);
	kvlog_i64(&kv, "duration", -3);
	CHECK(strcmp(kvlog_line(&kv), "bytes-in=18446744073709551615 "
	    "duration=-3") == 0);
}

static void
test_long_value_cut_and_marked(void)
{
	struct kvlog	 kv;
	char		 big[3000];
	const char	*l;

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[10] = ' ';
	kvlog_init(&kv, 1, "end");
	kvlog_str(&kv, "cert-subject", big);
	kvlog_str(&kv, "user", "alice");
	l = kvlog_line(&kv);
	CHECK(strlen(l) < KVLOG_LINE_MAX);
	CHECK(strstr(l, "...\" user=alice truncated=yes") != NULL);
	CHECK(count_fields(l) == 5);
	/* The value took at most its share. */
	CHECK(strlen(strstr(l, "cert-subject=")) - strlen(strstr(l,
	    " user=")) <= strlen("cert-subject=") + KVLOG_VALUE_MAX);
}

/* Cuts never split an escape: \xHH stays whole. */
static void
test_cut_never_splits_an_escape(void)
{
	char		 big[2000], out[32];
	size_t		 i;
	const char	*p;

	for (i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)0xff;
	big[sizeof(big) - 1] = '\0';
	for (i = 6; i < sizeof(out); i++) {
		kvlog_quote(out, i, big, strlen(big));
		CHECK(strlen(out) < i);
		CHECK(out[0] == '"' && out[strlen(out) - 1] == '"');
		p = strstr(out, "...\"");
		CHECK(p != NULL && p[4] == '\0');
		/* Whole escapes only: 1 quote + 4k bytes before "...". */
		CHECK(p != NULL && (p - out - 1) % 4 == 0);
	}
}

static void
test_full_line_drops_fields_and_marks(void)
{
	struct kvlog	 kv;
	char		 v[900];
	const char	*l;
	int		 i;

	memset(v, 'v', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	kvlog_init(&kv, 2, "end");
	for (i = 0; i < 10; i++)
		kvlog_str(&kv, "f", v);
	kvlog_str(&kv, "result", "quit");
	l = kvlog_line(&kv);
	CHECK(strlen(l) < KVLOG_LINE_MAX);
	CHECK(count_fields(l) > 0);
	CHECK(strcmp(l + strlen(l) - strlen(" truncated=yes"),
	    " truncated=yes") == 0);
	/* Asking twice adds nothing. */
	CHECK(strcmp(kvlog_line(&kv), l) == 0);
}

static void
test_quote_for_free_text(void)
{
	char	 buf[64];

	CHECK(strcmp(kvlog_quote(buf, sizeof(buf), "EHLO x", 6),
	    "\"EHLO x\"") == 0);
	CHECK(strcmp(kvlog_quote(buf, sizeof(buf), "bob", 3), "bob") == 0);
	CHECK(strcmp(kvlog_quote(buf, sizeof(buf), NULL, 0), "-") == 0);
}

static void
test_trace_names_and_mask(void)
{
	char	 buf[TRACE_NAMES_MAX];
	int	 i;

	for (i = 0; i < TRACE_MAX; i++)
		CHECK(log_trace_lookup(log_trace_name(i)) == i);
	CHECK(log_trace_lookup("nosuch") == -1);
	CHECK(log_trace_lookup("") == -1);
	CHECK(strcmp(log_trace_format(0, buf, sizeof(buf)), "none") == 0);
	CHECK(strcmp(log_trace_format(TRACE_ALL, buf, sizeof(buf)),
	    "all") == 0);
	CHECK(strcmp(log_trace_format(TRACE_BIT(TRACE_LDAP) |
	    TRACE_BIT(TRACE_SMTP), buf, sizeof(buf)), "smtp ldap") == 0);
	/* Every name but one still fits the documented bound. */
	log_trace_format(TRACE_ALL & ~TRACE_BIT(TRACE_PROC), buf,
	    sizeof(buf));
	CHECK(strlen(buf) > 0 && strlen(buf) < sizeof(buf) - 1);
	log_trace_setmask(TRACE_BIT(TRACE_CRL));
	CHECK(log_tracing(TRACE_CRL) && !log_tracing(TRACE_LDAP));
	CHECK(log_getverbose());
	log_setverbose(0);
	CHECK(log_trace_getmask() == 0 && !log_getverbose());
	log_setverbose(1);
	CHECK(log_trace_getmask() == TRACE_ALL);
	log_trace_setmask(0xffffffffU);
	CHECK(log_trace_getmask() == TRACE_ALL);
}

int
main(void)
{
	RUN(test_session_and_event_come_first);
	RUN(test_bare_values_stay_bare);
	RUN(test_spaces_and_equals_are_quoted);
	RUN(test_absent_empty_and_dash);
	RUN(test_quote_and_backslash_escaped);
	RUN(test_controls_hex_escaped);
	RUN(test_valid_utf8_kept);
	RUN(test_invalid_utf8_and_tricks_escaped);
	RUN(test_cut_never_splits_utf8);
	RUN(test_nul_inside_a_value);
	RUN(test_ipv6_client_in_brackets);
	RUN(test_numbers);
	RUN(test_long_value_cut_and_marked);
	RUN(test_cut_never_splits_an_escape);
	RUN(test_full_line_drops_fields_and_marks);
	RUN(test_quote_for_free_text);
	RUN(test_trace_names_and_mask);
	TEST_EXIT();
}
