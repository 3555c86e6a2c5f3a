/*
 * The one JSON string writer (common/json.c) of smtpcertctl -j and the
 * accounting file: escapes, UTF-8 kept, invalid UTF-8 as \ufffd, cuts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#include "test.h"

static const char *
js(const char *s)
{
	static char	 buf[256];

	json_escape(buf, sizeof(buf), s, strlen(s), NULL);
	return buf;
}

static void
test_escapes(void)
{
	CHECK(strcmp(js("alice"), "\"alice\"") == 0);
	CHECK(strcmp(js(""), "\"\"") == 0);
	CHECK(strcmp(js("a\"b\\c"), "\"a\\\"b\\\\c\"") == 0);
	CHECK(strcmp(js("a\r\n\t\x1b\x7f"),
	    "\"a\\u000d\\u000a\\u0009\\u001b\\u007f\"") == 0);
}

static void
test_utf8_kept(void)
{
	CHECK(strcmp(js("M\xc3\xbcller"), "\"M\xc3\xbcller\"") == 0);
	CHECK(strcmp(js("\xf0\x9f\x93\xa7"), "\"\xf0\x9f\x93\xa7\"") == 0);
}

/* Every byte that is not part of valid UTF-8 is one U+FFFD. */
static void
test_invalid_utf8_replaced(void)
{
	CHECK(strcmp(js("a\xff" "b"), "\"a\\ufffdb\"") == 0);
	CHECK(strcmp(js("x\xc3"), "\"x\\ufffd\"") == 0);
	CHECK(strcmp(js("\xc0\xaf"), "\"\\ufffd\\ufffd\"") == 0);
	CHECK(strcmp(js("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"") == 0);
	CHECK(strcmp(js("\xc3\xbc\xbc"), "\"\xc3\xbc\\ufffd\"") == 0);
}

/* A cut string is closed, and never ends inside an escape or a
 * character. */
static void
test_cut_whole_units(void)
{
	char	 out[32];
	size_t	 i, n;
	int	 cut;

	for (i = 3; i < sizeof(out); i++) {
		n = json_escape(out, i, "\xc3\xbc\xff\xc3\xbc\"\xc3\xbc\x01xyz"
		    "\xc3\xbc\xc3\xbc", 19, &cut);
		CHECK(n == strlen(out) && n < i);
		CHECK(out[0] == '"' && out[n - 1] == '"');
		CHECK(cut == (n < 31));
		/* Whole units: a prefix of the full encoding. */
		CHECK(strncmp(out, "\"\xc3\xbc\\ufffd\xc3\xbc\\\"\xc3\xbc"
		    "\\u0001xyz\xc3\xbc\xc3\xbc\"", n - 1) == 0);
	}
}

/* smtpcertctl's stream form gives the same bytes; NULL is null. */
static void
test_stream_same_as_buffer(void)
{
	const char	*in[] = { "plain", "a\xff\"\\\n\xc3\xbc", "" };
	char		*mem;
	size_t		 memlen, i;
	FILE		*fp;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		if ((fp = open_memstream(&mem, &memlen)) == NULL)
			abort();
		json_fputs(fp, in[i]);
		fclose(fp);
		CHECK(strcmp(mem, js(in[i])) == 0);
		free(mem);
	}
	if ((fp = open_memstream(&mem, &memlen)) == NULL)
		abort();
	json_fputs(fp, NULL);
	fclose(fp);
	CHECK(strcmp(mem, "null") == 0);
	free(mem);
}

int
main(void)
{
	RUN(test_escapes);
	RUN(test_utf8_kept);
	RUN(test_invalid_utf8_replaced);
	RUN(test_cut_whole_units);
	RUN(test_stream_same_as_buffer);
	TEST_EXIT();
}
