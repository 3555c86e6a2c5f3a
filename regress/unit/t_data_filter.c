/*
 * Unit tests for smtpcertd/front/data_filter.c: the DATA-phase filter that
 * stands between a client and the upstream MTA.  The smuggling tests
 * check, for every bad line ending we know of, that the error is
 * reported, that the output holds exactly the good lines before the bad
 * one (so never a "." line and never a byte after the bad byte), that
 * the filter finds the real CRLF.CRLF and hands back what follows, and
 * that the result is the same however the input is cut into chunks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The unit-test rule links t_X.c only against libcommon.a (the common/
 * sources); the filter lives in smtpcertd/, so it is compiled in here.
 */
#include "../../smtpcertd/front/data_filter.c"

#include "test.h"

#define LINE_RFC	DF_LINE_MAX_RFC
#define BIG_MSG		(10U * 1024 * 1024)
#define OUT_MAX		(64U * 1024)

/* What one run of the filter over an input produced. */
struct dfrun {
	int	 event;
	int	 error;
	size_t	 consumed;
	size_t	 outlen;
	size_t	 maxheld;	/* largest linelen seen between feeds */
	char	 out[OUT_MAX];
};

/* A smuggling case: good prefix, bad part, what must come out. */
struct smuggle {
	const char	*name;
	const char	*bad;	/* follows "Subject: t\r\n\r\ngood\r\n" */
	size_t		 badlen;	/* 0: strlen */
	const char	*emitted;	/* lines of bad that are still good */
	int		 error;
};

static void	dfrun_cuts(const char *, size_t, size_t, uint64_t,
		    const size_t *, size_t, struct dfrun *);
static void	dfrun_step(const char *, size_t, size_t, uint64_t, size_t,
		    struct dfrun *);
static int	dfrun_same(const struct dfrun *, const struct dfrun *);
static int	out_is(const struct dfrun *, const char *);
static int	out_has_dot_line(const struct dfrun *);
static int	all_splits_agree(const char *, size_t, size_t, uint64_t,
		    const struct dfrun *);
static size_t	mkstr(char *, size_t, const char *, const char *,
		    const char *);
static uint32_t	rnd(uint32_t *);
static char	*big_message(uint32_t *, size_t *, size_t *);

static void	test_normal_message(void);
static void	test_empty_message(void);
static void	test_dot_stuffed_lines_forwarded_stuffed(void);
static void	test_dot_lookalikes_are_text(void);
static void	test_pipelined_commands_returned(void);
static void	test_feed_after_end_consumes_nothing(void);
static void	test_tricky_message_every_split(void);
static void	test_smuggling_variants(void);
static void	test_smuggling_variants_every_split(void);
static void	test_crcrlf_then_real_end_resyncs(void);
static void	test_bad_dot_line_is_not_end(void);
static void	test_first_error_kept(void);
static void	test_error_on_first_line(void);
static void	test_line_length_limit(void);
static void	test_line_too_long_discards_to_end(void);
static void	test_size_limit(void);
static void	test_size_unlimited(void);
static void	test_prepend_header(void);
static void	test_prepend_refused(void);
static void	test_reset_reuse(void);
static void	test_min_line_clamped(void);
static void	test_reply_mapping(void);
static void	test_dbuf(void);
static void	test_big_message_random_chunks(void);
static void	test_big_message_error_random_chunks(void);

static const char	 prefix[] = "Subject: t\r\n\r\ngood\r\n";
static const char	 tail[] =
    "smuggled\r\n"
    ".\n"
    "\n.\r\n"
    "MAIL FROM:<evil@example.org>\r\n"
    "RCPT TO:<victim@example.org>\r\n"
    "DATA\r\n"
    "From: ceo\r\n"
    "\r\n"
    "evil body\r\n";
static const char	 eod[] = "\r\n.\r\n";
static const char	 after[] = "QUIT\r\n";

static const struct smuggle smuggles[] = {
	{ "LF.LF", "x\n.\n", 0, "", DF_ERR_BARE_LF },
	{ "LF.CRLF", "x\n.\r\n", 0, "", DF_ERR_BARE_LF },
	{ "CRLF.LF", "x\r\n.\n", 0, "x\r\n", DF_ERR_BARE_LF },
	{ "CR.CRLF", "x\r.\r\n", 0, "", DF_ERR_BARE_CR },
	{ "CRLF.CR", "x\r\n.\rz", 0, "x\r\n", DF_ERR_BARE_CR },
	{ "CR.CR", "x\r.\r", 0, "", DF_ERR_BARE_CR },
	{ "LF.CR", "x\n.\r", 0, "", DF_ERR_BARE_LF },
	{ "CRLF.CRCRLF", "x\r\n.\r\r\n", 0, "x\r\n", DF_ERR_BARE_CR },
	{ "CRLF.NUL", "x\r\n.\0\r\n", 7, "x\r\n", DF_ERR_NUL },
	{ "CR mid-line", "ab\rcd\r\n", 0, "", DF_ERR_BARE_CR },
	{ "LF mid-line", "ab\ncd\r\n", 0, "", DF_ERR_BARE_LF },
	{ "CRCRLF", "ab\r\r\nzz", 0, "", DF_ERR_BARE_CR },
	{ "NUL mid-line", "ab\0cd\r\n", 7, "", DF_ERR_NUL },
	{ "lone LF line", "\n", 0, "", DF_ERR_BARE_LF },
	{ "lone CR line", "\rx\r\n", 0, "", DF_ERR_BARE_CR },
	{ "LFCR", "ab\n\r\n", 0, "", DF_ERR_BARE_LF },
};

#define NSMUGGLES	(sizeof(smuggles) / sizeof(smuggles[0]))

/*
 * Run the filter over in, cut at the given offsets (ascending), stopping
 * at the end event as a caller would.  The output buffer is drained into
 * r->out after every feed, as the front drains it to the upstream.
 */
static void
dfrun_cuts(const char *in, size_t len, size_t max_line, uint64_t max_size,
    const size_t *cuts, size_t ncuts, struct dfrun *r)
{
	struct data_filter	 df;
	struct dbuf		 out;
	size_t			 k, from = 0, to, n;

	memset(r, 0, sizeof(*r));
	r->event = DF_MORE;
	dbuf_init(&out);
	if (data_filter_init(&df, max_line, max_size) == -1) {
		CHECK(!"data_filter_init");
		return;
	}
	for (k = 0; k <= ncuts && r->event == DF_MORE; k++) {
		to = k < ncuts ? cuts[k] : len;
		n = data_filter_feed(&df, in + from, to - from, &out,
		    &r->event);
		CHECK(n <= to - from);
		CHECK(r->event != DF_MORE || n == to - from);
		r->consumed += n;
		from = to;
		if (df.linelen > r->maxheld)
			r->maxheld = df.linelen;
		CHECK(df.linelen <= df.max_line);
		if (out.len == 0)
			continue;
		if (out.len + r->outlen <= sizeof(r->out)) {
			memcpy(r->out + r->outlen, out.buf, out.len);
			r->outlen += out.len;
		} else
			CHECK(!"dfrun output overflow");
		dbuf_drain(&out, out.len);
	}
	r->error = df.error;
	data_filter_free(&df);
	dbuf_free(&out);
}

/* Chunks of step bytes (0: all at once). */
static void
dfrun_step(const char *in, size_t len, size_t max_line, uint64_t max_size,
    size_t step, struct dfrun *r)
{
	size_t	*cuts, n = 0, off;

	if (step == 0 || step >= len) {
		dfrun_cuts(in, len, max_line, max_size, NULL, 0, r);
		return;
	}
	if ((cuts = calloc(len / step + 1, sizeof(*cuts))) == NULL) {
		CHECK(!"calloc");
		return;
	}
	for (off = step; off < len; off += step)
		cuts[n++] = off;
	dfrun_cuts(in, len, max_line, max_size, cuts, n, r);
	free(cuts);
}

static int
dfrun_same(const struct dfrun *a, const struct dfrun *b)
{
	return a->event == b->event && a->error == b->error &&
	    a->consumed == b->consumed && a->outlen == b->outlen &&
	    memcmp(a->out, b->out, a->outlen) == 0;
}

static int
out_is(const struct dfrun *r, const char *s)
{
	return r->outlen == strlen(s) && memcmp(r->out, s, r->outlen) == 0;
}

/* Is there a line "." (CRLF . CRLF, or "." CRLF at the start)? */
static int
out_has_dot_line(const struct dfrun *r)
{
	size_t	 i;

	if (r->outlen >= 3 && memcmp(r->out, ".\r\n", 3) == 0)
		return 1;
	for (i = 0; i + 5 <= r->outlen; i++)
		if (memcmp(r->out + i, "\r\n.\r\n", 5) == 0)
			return 1;
	return 0;
}

/* One-byte feeding and every two-chunk split give exactly ref. */
static int
all_splits_agree(const char *in, size_t len, size_t max_line,
    uint64_t max_size, const struct dfrun *ref)
{
	static struct dfrun	 r;
	size_t			 cut;
	int			 ok = 1;

	dfrun_step(in, len, max_line, max_size, 1, &r);
	if (!dfrun_same(&r, ref))
		ok = 0;
	for (cut = 0; cut <= len; cut++) {
		dfrun_cuts(in, len, max_line, max_size, &cut, 1, &r);
		if (!dfrun_same(&r, ref)) {
			fprintf(stderr, "  split at %zu differs\n", cut);
			ok = 0;
		}
	}
	return ok;
}

/* Concatenate a, b (blen bytes; 0: strlen) and c into buf. */
static size_t
mkstr(char *buf, size_t bufsz, const char *a, const char *b,
    const char *c)
{
	size_t	 n = 0;

	n += (size_t)snprintf(buf, bufsz, "%s", a);
	n += (size_t)snprintf(buf + n, bufsz - n, "%s", b);
	n += (size_t)snprintf(buf + n, bufsz - n, "%s", c);
	return n;
}

static void
test_normal_message(void)
{
	static struct dfrun	 r;
	const char		 msg[] = "From: a@example.org\r\n"
	    "Subject: hi\r\n\r\nhello\r\nworld\r\n.\r\n";

	dfrun_step(msg, strlen(msg), LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(r.error == DF_ERR_NONE);
	CHECK(r.consumed == strlen(msg));
	CHECK(out_is(&r, "From: a@example.org\r\nSubject: hi\r\n\r\n"
	    "hello\r\nworld\r\n"));
}

static void
test_empty_message(void)
{
	static struct dfrun	 r;

	/* The CRLF before the dot is the DATA command's. */
	dfrun_step(".\r\n", 3, LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(r.consumed == 3);
	CHECK(r.outlen == 0);
	CHECK(all_splits_agree(".\r\n", 3, LINE_RFC, 0, &r));

	/* An empty line then the end: one empty line of text. */
	dfrun_step("\r\n.\r\n", 5, LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(r.consumed == 5);
	CHECK(out_is(&r, "\r\n"));
}

static void
test_dot_stuffed_lines_forwarded_stuffed(void)
{
	static struct dfrun	 r;
	const char		 msg[] = "..\r\n...x\r\n..\r\n.\r\n";

	dfrun_step(msg, strlen(msg), LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(out_is(&r, "..\r\n...x\r\n..\r\n"));
	CHECK(r.consumed == strlen(msg));
}

static void
test_dot_lookalikes_are_text(void)
{
	static struct dfrun	 r;
	const char		 msg[] = ". \r\n.x\r\na.\r\n \r\n.\r\n";

	dfrun_step(msg, strlen(msg), LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(out_is(&r, ". \r\n.x\r\na.\r\n \r\n"));
}

static void
test_pipelined_commands_returned(void)
{
	static struct dfrun	 r;
	const char		 msg[] = "a\r\n.\r\nMAIL FROM:<a@b>\r\n"
	    "RCPT TO:<c@d>\r\nDATA\r\n";

	dfrun_step(msg, strlen(msg), LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(r.consumed == 6);
	CHECK(strcmp(msg + r.consumed, "MAIL FROM:<a@b>\r\n"
	    "RCPT TO:<c@d>\r\nDATA\r\n") == 0);
	CHECK(out_is(&r, "a\r\n"));
	CHECK(all_splits_agree(msg, strlen(msg), LINE_RFC, 0, &r));
}

static void
test_feed_after_end_consumes_nothing(void)
{
	struct data_filter	 df;
	struct dbuf		 out;
	int			 ev = -1;

	dbuf_init(&out);
	CHECK(data_filter_init(&df, LINE_RFC, 0) == 0);
	CHECK(data_filter_feed(&df, "x\r\n.\r\nNOOP\r\n", 12, &out, &ev) ==
	    6);
	CHECK(ev == DF_END);
	ev = -1;
	CHECK(data_filter_feed(&df, "NOOP\r\n", 6, &out, &ev) == 0);
	CHECK(ev == DF_END);
	CHECK(out.len == 3);

	data_filter_reset(&df);
	CHECK(data_filter_feed(&df, "x\ny\r\n.\r\n", 8, &out, &ev) == 8);
	CHECK(ev == DF_END_ERROR);
	ev = -1;
	CHECK(data_filter_feed(&df, "a", 1, &out, &ev) == 0);
	CHECK(ev == DF_END_ERROR);
	CHECK(df.error == DF_ERR_BARE_LF);
	data_filter_free(&df);
	dbuf_free(&out);
}

static void
test_tricky_message_every_split(void)
{
	static struct dfrun	 r;
	const char		 msg[] = "..\r\n.\r\r\r\n";	/* bad */
	const char		 good[] = "A: b\r\n\r\n..\r\n. \r\n"
	    ".x\r\n\r\n\r\nx.\r\n..\r\n.\r\nNOOP\r\n";

	dfrun_step(good, strlen(good), LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(out_is(&r, "A: b\r\n\r\n..\r\n. \r\n.x\r\n\r\n\r\nx.\r\n"
	    "..\r\n"));
	CHECK(strcmp(good + r.consumed, "NOOP\r\n") == 0);
	CHECK(all_splits_agree(good, strlen(good), LINE_RFC, 0, &r));

	/* No end at all: everything consumed, still waiting. */
	dfrun_step(msg, strlen(msg), LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_MORE);
	CHECK(r.error == DF_ERR_BARE_CR);
	CHECK(r.consumed == strlen(msg));
	CHECK(out_is(&r, "..\r\n"));
	CHECK(all_splits_agree(msg, strlen(msg), LINE_RFC, 0, &r));
}

static void
test_smuggling_variants(void)
{
	static struct dfrun	 r;
	static char		 in[1024], want[256];
	const struct smuggle	*s;
	size_t			 i, n, badlen;

	for (i = 0; i < NSMUGGLES; i++) {
		s = &smuggles[i];
		badlen = s->badlen ? s->badlen : strlen(s->bad);
		n = 0;
		memcpy(in + n, prefix, strlen(prefix));
		n += strlen(prefix);
		memcpy(in + n, s->bad, badlen);
		n += badlen;
		n += mkstr(in + n, sizeof(in) - n, tail, eod, after);
		snprintf(want, sizeof(want), "%s%s", prefix, s->emitted);

		dfrun_step(in, n, LINE_RFC, 0, 0, &r);
		if (r.event != DF_END_ERROR || r.error != s->error ||
		    !out_is(&r, want) || out_has_dot_line(&r) ||
		    r.consumed != n - strlen(after))
			fprintf(stderr, "  variant %s: event %d error %d "
			    "outlen %zu consumed %zu/%zu\n", s->name,
			    r.event, r.error, r.outlen, r.consumed, n);
		CHECK(r.event == DF_END_ERROR);
		CHECK(r.error == s->error);
		/* Only the good lines: nothing after the bad byte. */
		CHECK(out_is(&r, want));
		CHECK(!out_has_dot_line(&r));
		CHECK(memmem(r.out, r.outlen, "MAIL", 4) == NULL);
		CHECK(memmem(r.out, r.outlen, "smuggled", 8) == NULL);
		/* Resynced at the real CRLF.CRLF, the rest is returned. */
		CHECK(r.consumed == n - strlen(after));
		CHECK(memcmp(in + r.consumed, after, strlen(after)) == 0);
	}
}

static void
test_smuggling_variants_every_split(void)
{
	static struct dfrun	 r;
	static char		 in[1024];
	const struct smuggle	*s;
	size_t			 i, n, badlen;

	for (i = 0; i < NSMUGGLES; i++) {
		s = &smuggles[i];
		badlen = s->badlen ? s->badlen : strlen(s->bad);
		n = 0;
		memcpy(in + n, prefix, strlen(prefix));
		n += strlen(prefix);
		memcpy(in + n, s->bad, badlen);
		n += badlen;
		n += mkstr(in + n, sizeof(in) - n, tail, eod, after);
		dfrun_step(in, n, LINE_RFC, 0, 0, &r);
		if (!all_splits_agree(in, n, LINE_RFC, 0, &r)) {
			fprintf(stderr, "  variant %s\n", s->name);
			CHECK(!"splits disagree");
		}
	}
}

/*
 * "x\r\r\n.\r\n": the first CR is bare, but the last five octets are a
 * real CR LF . CR LF, so the data ends there (documented).
 */
static void
test_crcrlf_then_real_end_resyncs(void)
{
	static struct dfrun	 r;
	const char		 msg[] = "good\r\nx\r\r\n.\r\nQUIT\r\n";

	dfrun_step(msg, strlen(msg), LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END_ERROR);
	CHECK(r.error == DF_ERR_BARE_CR);
	CHECK(out_is(&r, "good\r\n"));
	CHECK(strcmp(msg + r.consumed, "QUIT\r\n") == 0);
	CHECK(all_splits_agree(msg, strlen(msg), LINE_RFC, 0, &r));
}

/* In the discard state only CR LF . CR LF ends; test each near miss. */
static void
test_bad_dot_line_is_not_end(void)
{
	static struct dfrun	 r;
	static const char *const misses[] = {
		"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r",
		"\r.\r", "\n.\r", "\r\n.\r\r\n", "\r\n..\r\n", "\r\n. \r\n",
		"\r\n.\n\r\n", "\r\n\r.\r\n",
	};
	static char		 in[256];
	size_t			 i, n;

	for (i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		/* Start in discard with a NUL, then the near miss. */
		n = 0;
		memcpy(in, "a\0b", 3);
		n = 3;
		n += mkstr(in + n, sizeof(in) - n, misses[i], "zz", "");
		dfrun_step(in, n, LINE_RFC, 0, 0, &r);
		if (r.event != DF_MORE)
			fprintf(stderr, "  miss %zu ended the data\n", i);
		CHECK(r.event == DF_MORE);
		CHECK(r.consumed == n);
		CHECK(r.error == DF_ERR_NUL);
		CHECK(r.outlen == 0);
		/* ... and the real end still works after it. */
		n += mkstr(in + n, sizeof(in) - n, eod, after, "");
		dfrun_step(in, n, LINE_RFC, 0, 0, &r);
		CHECK(r.event == DF_END_ERROR);
		CHECK(r.consumed == n - strlen(after));
		CHECK(all_splits_agree(in, n, LINE_RFC, 0, &r));
	}
}

static void
test_first_error_kept(void)
{
	struct data_filter	 df;
	struct dbuf		 out;
	int			 ev;
	const char		 msg[] = "l1\r\nl2\r\na\rb\0c\nd\r\n.\r\n";

	dbuf_init(&out);
	CHECK(data_filter_init(&df, LINE_RFC, 0) == 0);
	CHECK(data_filter_feed(&df, msg, sizeof(msg) - 1, &out, &ev) ==
	    sizeof(msg) - 1);
	CHECK(ev == DF_END_ERROR);
	CHECK(df.error == DF_ERR_BARE_CR);
	CHECK(df.errline == 3);
	CHECK(df.lines == 2);
	CHECK(strcmp(data_filter_strerror(df.error), "bare CR in message") ==
	    0);
	data_filter_free(&df);
	dbuf_free(&out);
}

static void
test_error_on_first_line(void)
{
	static struct dfrun	 r;
	const char		 first[] = "\n.\nx\r\n.\r\n";

	/* "\n.\n" right after the 354: not an end, and an error. */
	dfrun_step(first, strlen(first), LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END_ERROR);
	CHECK(r.error == DF_ERR_BARE_LF);
	CHECK(r.outlen == 0);
	CHECK(r.consumed == strlen(first));

	/* "." then bare LF at the very start. */
	dfrun_step(".\n.\r\n", 5, LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_MORE);
	CHECK(r.error == DF_ERR_BARE_LF);
	CHECK(r.outlen == 0);
}

static void
test_line_length_limit(void)
{
	static struct dfrun	 r;
	static char		 msg[2 * LINE_RFC + 16];
	size_t			 n;

	/* Exactly max_line octets with the CRLF: fine. */
	memset(msg, 'a', LINE_RFC - 2);
	memcpy(msg + LINE_RFC - 2, "\r\n.\r\n", 5);
	n = LINE_RFC + 3;
	dfrun_step(msg, n, LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(r.outlen == LINE_RFC);
	CHECK(r.maxheld <= LINE_RFC);
	dfrun_step(msg, n, LINE_RFC, 0, 1, &r);
	CHECK(r.event == DF_END);
	CHECK(r.outlen == LINE_RFC);
	CHECK(r.maxheld == LINE_RFC - 1);	/* held up to the CR */

	/* One more: refused. */
	memset(msg, 'a', LINE_RFC - 1);
	memcpy(msg + LINE_RFC - 1, "\r\n.\r\n", 5);
	n = LINE_RFC + 4;
	dfrun_step(msg, n, LINE_RFC, 0, 1, &r);
	CHECK(r.event == DF_END_ERROR);
	CHECK(r.error == DF_ERR_LINE_TOO_LONG);
	CHECK(r.outlen == 0);
	CHECK(r.maxheld <= LINE_RFC);

	/* Small limits, exact edges, every split. */
	dfrun_step("12345678\r\n.\r\n", 13, 10, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(out_is(&r, "12345678\r\n"));
	CHECK(all_splits_agree("12345678\r\n.\r\n", 13, 10, 0, &r));
	dfrun_step("123456789\r\n.\r\n", 14, 10, 0, 0, &r);
	CHECK(r.event == DF_END_ERROR);
	CHECK(r.error == DF_ERR_LINE_TOO_LONG);
	CHECK(r.outlen == 0);
	CHECK(all_splits_agree("123456789\r\n.\r\n", 14, 10, 0, &r));

	/* A configured limit above the RFC's. */
	memset(msg, 'b', 2 * LINE_RFC - 2);
	memcpy(msg + 2 * LINE_RFC - 2, "\r\n.\r\n", 5);
	dfrun_step(msg, 2 * LINE_RFC + 3, 2 * LINE_RFC, 0, 7, &r);
	CHECK(r.event == DF_END);
	CHECK(r.outlen == 2 * LINE_RFC);
}

static void
test_line_too_long_discards_to_end(void)
{
	static struct dfrun	 r;
	const char		 msg[] = "ok\r\n0123456789ABCDEF\r\n"
	    "short\r\n.\r\nRSET\r\n";

	dfrun_step(msg, strlen(msg), 10, 0, 0, &r);
	CHECK(r.event == DF_END_ERROR);
	CHECK(r.error == DF_ERR_LINE_TOO_LONG);
	CHECK(out_is(&r, "ok\r\n"));
	CHECK(strcmp(msg + r.consumed, "RSET\r\n") == 0);
	CHECK(all_splits_agree(msg, strlen(msg), 10, 0, &r));
}

static void
test_size_limit(void)
{
	static struct dfrun	 r;
	const char		 msg[] =
	    "aaaa\r\nbbbb\r\ncccc\r\n.\r\nQUIT\r\n";

	/* 18 wire octets of text. */
	dfrun_step(msg, strlen(msg), LINE_RFC, 18, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(out_is(&r, "aaaa\r\nbbbb\r\ncccc\r\n"));
	CHECK(strcmp(msg + r.consumed, "QUIT\r\n") == 0);

	dfrun_step(msg, strlen(msg), LINE_RFC, 17, 0, &r);
	CHECK(r.event == DF_END_ERROR);
	CHECK(r.error == DF_ERR_TOO_BIG);
	CHECK(out_is(&r, "aaaa\r\nbbbb\r\n"));
	CHECK(strcmp(msg + r.consumed, "QUIT\r\n") == 0);
	CHECK(all_splits_agree(msg, strlen(msg), LINE_RFC, 17, &r));

	dfrun_step(msg, strlen(msg), LINE_RFC, 1, 0, &r);
	CHECK(r.event == DF_END_ERROR);
	CHECK(r.error == DF_ERR_TOO_BIG);
	CHECK(r.outlen == 0);

	/* Stuffing counts as on the wire. */
	dfrun_step("..\r\n.\r\n", 7, LINE_RFC, 3, 0, &r);
	CHECK(r.error == DF_ERR_TOO_BIG);
	dfrun_step("..\r\n.\r\n", 7, LINE_RFC, 4, 0, &r);
	CHECK(r.event == DF_END);
}

static void
test_size_unlimited(void)
{
	static struct dfrun	 r;
	const char		 msg[] = "aaaa\r\n.\r\n";

	dfrun_step(msg, strlen(msg), LINE_RFC, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(out_is(&r, "aaaa\r\n"));
}

static void
test_prepend_header(void)
{
	struct data_filter	 df;
	struct dbuf		 out;
	int			 ev;
	const char		 hdr[] = "Received: from a (b [192.0.2.1])\r\n"
	    "\tby gw; Mon, 1 Jan 2024 00:00:00 +0000\r\n";

	dbuf_init(&out);
	CHECK(data_filter_init(&df, LINE_RFC, 12) == 0);
	CHECK(data_filter_prepend(&df, &out, hdr, strlen(hdr)) == 0);
	CHECK(data_filter_feed(&df, "Subject: x\r\n.\r\n", 15, &out, &ev) ==
	    15);
	CHECK(ev == DF_END);
	CHECK(out.len == strlen(hdr) + 12);
	CHECK(memcmp(out.buf, hdr, strlen(hdr)) == 0);
	CHECK(memcmp(out.buf + strlen(hdr), "Subject: x\r\n", 12) == 0);
	/* The header does not count towards the size limit. */
	CHECK(df.size == 12);
	CHECK(data_filter_prepend(&df, &out, hdr, strlen(hdr)) == -1);
	data_filter_free(&df);
	dbuf_free(&out);
}

static void
test_prepend_refused(void)
{
	struct data_filter	 df;
	struct dbuf		 out;
	int			 ev;
	static const char *const bad[] = {
		"X: a\n", "X: a\r\r\n", "X: a", "X: a\r\n\r\n", ".X: a\r\n",
		"X: a\rb\r\n", "\r\n", "", "X: a\r\nY",
	};
	size_t			 i;

	dbuf_init(&out);
	CHECK(data_filter_init(&df, 10, 0) == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(data_filter_prepend(&df, &out, bad[i],
		    strlen(bad[i])) == -1);
	CHECK(data_filter_prepend(&df, &out, "X: a\0b\r\n", 8) == -1);
	/* Longer than max_line. */
	CHECK(data_filter_prepend(&df, &out, "X: 0123456\r\n", 12) == -1);
	CHECK(data_filter_prepend(&df, &out, "X: 012345\r\n", 11) == -1);
	CHECK(data_filter_prepend(&df, &out, "X: 01234\r\n", 10) == 0);
	CHECK(out.len == 10);
	/* Not after the first feed. */
	CHECK(data_filter_feed(&df, "a", 1, &out, &ev) == 1);
	CHECK(data_filter_prepend(&df, &out, "X: a\r\n", 6) == -1);
	data_filter_reset(&df);
	CHECK(data_filter_prepend(&df, &out, "X: a\r\n", 6) == 0);
	data_filter_free(&df);
	dbuf_free(&out);
}

static void
test_reset_reuse(void)
{
	struct data_filter	 df;
	struct dbuf		 out;
	int			 ev;

	dbuf_init(&out);
	CHECK(data_filter_init(&df, LINE_RFC, 100) == 0);
	/* A message left half-way (client gone) ... */
	CHECK(data_filter_feed(&df, "half a li", 9, &out, &ev) == 9);
	CHECK(ev == DF_MORE);
	CHECK(out.len == 0);
	/* ... then a fresh one: the start counts as after CRLF again. */
	data_filter_reset(&df);
	CHECK(data_filter_feed(&df, ".\r\n", 3, &out, &ev) == 3);
	CHECK(ev == DF_END);
	CHECK(out.len == 0);
	CHECK(df.size == 0);
	data_filter_reset(&df);
	CHECK(data_filter_feed(&df, "\0\r\n.\r\n", 6, &out, &ev) == 6);
	CHECK(ev == DF_END_ERROR);
	data_filter_reset(&df);
	CHECK(df.error == DF_ERR_NONE);
	CHECK(data_filter_feed(&df, "ok\r\n.\r\n", 7, &out, &ev) == 7);
	CHECK(ev == DF_END);
	CHECK(out.len == 4);
	data_filter_free(&df);
	dbuf_free(&out);
}

static void
test_min_line_clamped(void)
{
	static struct dfrun	 r;

	dfrun_step(".\r\n", 3, 0, 0, 0, &r);
	CHECK(r.event == DF_END);
	dfrun_step("\r\nx\r\n.\r\n", 8, 1, 0, 0, &r);
	CHECK(r.event == DF_END);
	CHECK(out_is(&r, "\r\nx\r\n"));
	dfrun_step("\r\nxy\r\n.\r\n", 9, 1, 0, 0, &r);
	CHECK(r.event == DF_END_ERROR);
	CHECK(r.error == DF_ERR_LINE_TOO_LONG);
	CHECK(out_is(&r, "\r\n"));
}

static void
test_reply_mapping(void)
{
	const char	*enh, *text;
	int		 code;

	data_filter_reply(DF_ERR_BARE_CR, &code, &enh, &text);
	CHECK(code == 554 && strcmp(enh, "5.5.2") == 0);
	data_filter_reply(DF_ERR_BARE_LF, &code, &enh, &text);
	CHECK(code == 554 && strcmp(enh, "5.5.2") == 0);
	data_filter_reply(DF_ERR_NUL, &code, &enh, &text);
	CHECK(code == 554 && strcmp(enh, "5.5.2") == 0);
	data_filter_reply(DF_ERR_LINE_TOO_LONG, &code, &enh, &text);
	CHECK(code == 554);
	data_filter_reply(DF_ERR_TOO_BIG, &code, &enh, &text);
	CHECK(code == 552 && strcmp(enh, "5.3.4") == 0);
	data_filter_reply(DF_ERR_NOMEM, &code, &enh, &text);
	CHECK(code == 451 && strcmp(enh, "4.3.0") == 0);
	CHECK(text != NULL && *text != '\0');
}

static void
test_dbuf(void)
{
	struct dbuf	 b;
	static char	 big[5000];

	dbuf_init(&b);
	CHECK(dbuf_add(&b, "", 0) == 0);
	CHECK(b.len == 0);
	CHECK(dbuf_add(&b, "abc", 3) == 0);
	CHECK(dbuf_add(&b, "def", 3) == 0);
	dbuf_drain(&b, 2);
	CHECK(b.len == 4 && memcmp(b.buf, "cdef", 4) == 0);
	memset(big, 'z', sizeof(big));
	CHECK(dbuf_add(&b, big, sizeof(big)) == 0);
	CHECK(b.len == 4 + sizeof(big));
	CHECK(b.buf[4 + sizeof(big) - 1] == 'z');
	dbuf_drain(&b, SIZE_MAX);
	CHECK(b.len == 0);
	CHECK(dbuf_add(&b, "x", SIZE_MAX) == -1);
	dbuf_free(&b);
	CHECK(b.buf == NULL && b.len == 0);
}

/* Deterministic generator so a failure can be reproduced. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Build a valid message of about BIG_MSG octets; *textlen excludes ".". */
static char *
big_message(uint32_t *seed, size_t *len, size_t *textlen)
{
	char	*m;
	size_t	 n = 0, l, k;

	if ((m = malloc(BIG_MSG + 2 * LINE_RFC)) == NULL)
		return NULL;
	while (n < BIG_MSG) {
		l = rnd(seed) % (LINE_RFC - 1);	/* 0..998 text octets */
		if (rnd(seed) % 8 == 0)
			l = rnd(seed) % 3;
		for (k = 0; k < l; k++)
			m[n + k] = (char)(0x20 + rnd(seed) % 0x5f);
		/* Plenty of stuffed lines and dots. */
		if (l > 0 && rnd(seed) % 4 == 0)
			m[n] = '.';
		if (l > 1 && rnd(seed) % 4 == 0)
			m[n + 1] = '.';
		/* 8-bit text is fine; only NUL, CR, LF are special. */
		if (l > 2 && rnd(seed) % 5 == 0)
			m[n + 2] = (char)(0x80 + rnd(seed) % 0x80);
		n += l;
		m[n++] = '\r';
		m[n++] = '\n';
		/* A lone "." would end it early: keep the stuffing. */
		if (l == 1 && m[n - 3] == '.')
			m[n - 3] = ',';
	}
	*textlen = n;
	memcpy(m + n, ".\r\n", 3);
	*len = n + 3;
	return m;
}

static void
test_big_message_random_chunks(void)
{
	struct data_filter	 df;
	struct dbuf		 out;
	uint32_t		 seed = 0x5eed1234;
	char			*m;
	size_t			 len, textlen, off = 0, got = 0, chunk, n;
	int			 ev = DF_MORE, same = 1, bounded = 1;

	if ((m = big_message(&seed, &len, &textlen)) == NULL) {
		CHECK(!"malloc");
		return;
	}
	dbuf_init(&out);
	CHECK(data_filter_init(&df, LINE_RFC, BIG_MSG + LINE_RFC) == 0);
	while (off < len && ev == DF_MORE) {
		chunk = 1 + rnd(&seed) % (rnd(&seed) % 4 == 0 ? 8 : 65536);
		if (chunk > len - off)
			chunk = len - off;
		n = data_filter_feed(&df, m + off, chunk, &out, &ev);
		off += n;
		if (df.linelen > df.max_line)
			bounded = 0;
		/* Drain as the front would, checking as we go. */
		if (got + out.len > textlen || (out.len > 0 &&
		    memcmp(m + got, out.buf, out.len) != 0))
			same = 0;
		got += out.len;
		/* Output never exceeds one chunk plus one held line. */
		if (out.len > chunk + LINE_RFC)
			bounded = 0;
		dbuf_drain(&out, out.len);
	}
	CHECK(ev == DF_END);
	CHECK(df.error == DF_ERR_NONE);
	CHECK(off == len);
	CHECK(got == textlen);
	CHECK(df.size == textlen);
	CHECK(same);
	CHECK(bounded);
	data_filter_free(&df);
	dbuf_free(&out);
	free(m);
}

/* The same with one bare LF planted in the middle. */
static void
test_big_message_error_random_chunks(void)
{
	struct data_filter	 df;
	struct dbuf		 out;
	uint32_t		 seed = 0xfeedbeef;
	char			*m, *p;
	size_t			 len, textlen, off = 0, got = 0, chunk, n;
	size_t			 bad, goodlen;
	int			 ev = DF_MORE, same = 1;

	if ((m = big_message(&seed, &len, &textlen)) == NULL) {
		CHECK(!"malloc");
		return;
	}
	/* Turn the CR of the CRLF nearest the middle into text. */
	p = memmem(m + textlen / 2, textlen / 2, "\r\n", 2);
	if (p == NULL) {
		CHECK(!"no CRLF");
		free(m);
		return;
	}
	*p = 'X';
	bad = (size_t)(p - m) + 1;		/* the now-bare LF */
	/* Good output ends at the last CRLF before the bad line. */
	for (goodlen = (size_t)(p - m); goodlen > 0; goodlen--)
		if (m[goodlen - 1] == '\n')
			break;
	dbuf_init(&out);
	CHECK(data_filter_init(&df, LINE_RFC, 0) == 0);
	while (off < len && ev == DF_MORE) {
		chunk = 1 + rnd(&seed) % 65536;
		if (chunk > len - off)
			chunk = len - off;
		n = data_filter_feed(&df, m + off, chunk, &out, &ev);
		off += n;
		CHECK(df.linelen <= df.max_line);
		if (got + out.len > goodlen || (out.len > 0 &&
		    memcmp(m + got, out.buf, out.len) != 0))
			same = 0;
		got += out.len;
		dbuf_drain(&out, out.len);
	}
	CHECK(ev == DF_END_ERROR);
	CHECK(df.error == DF_ERR_BARE_LF);
	CHECK(off == len);
	CHECK(got == goodlen);
	CHECK(got < bad);
	CHECK(same);
	data_filter_free(&df);
	dbuf_free(&out);
	free(m);
}

int
main(void)
{
	RUN(test_normal_message);
	RUN(test_empty_message);
	RUN(test_dot_stuffed_lines_forwarded_stuffed);
	RUN(test_dot_lookalikes_are_text);
	RUN(test_pipelined_commands_returned);
	RUN(test_feed_after_end_consumes_nothing);
	RUN(test_tricky_message_every_split);
	RUN(test_smuggling_variants);
	RUN(test_smuggling_variants_every_split);
	RUN(test_crcrlf_then_real_end_resyncs);
	RUN(test_bad_dot_line_is_not_end);
	RUN(test_first_error_kept);
	RUN(test_error_on_first_line);
	RUN(test_line_length_limit);
	RUN(test_line_too_long_discards_to_end);
	RUN(test_size_limit);
	RUN(test_size_unlimited);
	RUN(test_prepend_header);
	RUN(test_prepend_refused);
	RUN(test_reset_reuse);
	RUN(test_min_line_clamped);
	RUN(test_reply_mapping);
	RUN(test_dbuf);
	RUN(test_big_message_random_chunks);
	RUN(test_big_message_error_random_chunks);
	TEST_EXIT();
}
