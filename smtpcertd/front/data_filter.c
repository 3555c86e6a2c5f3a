/*
 * DATA-phase filter for the proxy.  See data_filter.h for the rules.
 *
 * Two machines run over every input byte:
 *
 *  - the end-of-data matcher, a five-state automaton for CR LF "." CR LF
 *    that runs in every state, so the end is found by one rule whether
 *    the message is still good or already being discarded;
 *  - the line assembler, which runs only while the message is good and
 *    emits a line once its CRLF arrives.
 *
 * While the message is good the two agree by construction: the matcher
 * reaches its end exactly when the line being assembled is ".\r" and the
 * LF arrives, because every earlier CRLF ended a line.  The matcher is
 * consulted first, so the "." line never reaches the assembler.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data_filter.h"

#define DF_S_DATA	0	/* message good so far: assembling lines */
#define DF_S_DISCARD	1	/* error seen: dropping until the end */
#define DF_S_DONE	2	/* end seen: reset before reuse */

/* End of data, and how much of it the matcher starts having seen: the
 * CRLF of the DATA command line. */
static const char	df_eod[] = "\r\n.\r\n";
#define DF_EOD_LEN	5
#define DF_EOD_START	2

#define DBUF_MIN	1024

static void	df_match(struct data_filter *, unsigned char);
static void	df_fail(struct data_filter *, int);
static size_t	df_text_run(struct data_filter *, const char *, size_t);
static void	df_emit(struct data_filter *, struct dbuf *);
static void	df_data_byte(struct data_filter *, unsigned char,
		    struct dbuf *);
static int	df_header_ok(const struct data_filter *, const char *,
		    size_t);

void
dbuf_init(struct dbuf *b)
{
	memset(b, 0, sizeof(*b));
}

int
dbuf_add(struct dbuf *b, const void *data, size_t len)
{
	char	*nb;
	size_t	 ncap;

	if (len == 0)
		return 0;
	if (len > SIZE_MAX - b->len)
		return -1;
	if (b->len + len > b->cap) {
		ncap = b->cap < DBUF_MIN ? DBUF_MIN : b->cap;
		while (ncap < b->len + len) {
			if (ncap > SIZE_MAX / 2)
				return -1;
			ncap *= 2;
		}
		if ((nb = realloc(b->buf, ncap)) == NULL)
			return -1;
		b->buf = nb;
		b->cap = ncap;
	}
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	return 0;
}

void
dbuf_drain(struct dbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->buf, b->buf + n, b->len - n);
	b->len -= n;
}

void
dbuf_free(struct dbuf *b)
{
	free(b->buf);
	dbuf_init(b);
}

int
data_filter_init(struct data_filter *df, size_t max_line, uint64_t max_size)
{
	memset(df, 0, sizeof(*df));
	if (max_line < DF_LINE_MAX_MIN)
		max_line = DF_LINE_MAX_MIN;
	df->max_line = max_line;
	df->max_size = max_size;
	data_filter_reset(df);
	return 0;
}

/* The line buffer lives only while a message is read: an idle session
 * (most of them) holds none. */
void
data_filter_reset(struct data_filter *df)
{
	free(df->line);
	df->line = NULL;
	df->linelen = 0;
	df->cr = 0;
	df->match = DF_EOD_START;
	df->state = DF_S_DATA;
	df->error = DF_ERR_NONE;
	df->size = 0;
	df->lines = 0;
	df->errline = 0;
	df->fed = 0;
}

void
data_filter_free(struct data_filter *df)
{
	free(df->line);
	memset(df, 0, sizeof(*df));
}

/* Advance the CR LF . CR LF matcher.  After a mismatch the only prefix
 * of the pattern that can still be under way is a lone CR. */
static void
df_match(struct data_filter *df, unsigned char c)
{
	if (c == (unsigned char)df_eod[df->match])
		df->match++;
	else if (c == '\r')
		df->match = 1;
	else
		df->match = 0;
}

/* From here on nothing is emitted; the partial line goes with it. */
static void
df_fail(struct data_filter *df, int error)
{
	df->state = DF_S_DISCARD;
	df->error = error;
	df->errline = df->lines + 1;
	df->linelen = 0;
	df->cr = 0;
}

static void
df_emit(struct data_filter *df, struct dbuf *out)
{
	if (df->max_size != 0 && df->size + df->linelen > df->max_size) {
		df_fail(df, DF_ERR_TOO_BIG);
		return;
	}
	if (dbuf_add(out, df->line, df->linelen) == -1) {
		df_fail(df, DF_ERR_NOMEM);
		return;
	}
	df->size += df->linelen;
	df->lines++;
	df->linelen = 0;
	df->cr = 0;
}

/*
 * One byte of a good message.  Text octets may fill the line up to
 * max_line - 2, leaving room for the CRLF, so the buffer never holds
 * more than max_line octets.
 */
static void
df_data_byte(struct data_filter *df, unsigned char c, struct dbuf *out)
{
	if (df->cr) {
		if (c != '\n') {
			df_fail(df, DF_ERR_BARE_CR);
			return;
		}
		df->line[df->linelen++] = (char)c;
		df_emit(df, out);
		return;
	}
	switch (c) {
	case '\n':
		df_fail(df, DF_ERR_BARE_LF);
		return;
	case '\0':
		df_fail(df, DF_ERR_NUL);
		return;
	case '\r':
		df->cr = 1;
		break;
	default:
		if (df->linelen + 1 > df->max_line - 2) {
			df_fail(df, DF_ERR_LINE_TOO_LONG);
			return;
		}
		break;
	}
	df->line[df->linelen++] = (char)c;
}

/*
 * Ordinary octets (not CR, LF or NUL) while no end-of-data match is under
 * way and no CR awaits its LF: they leave the matcher at 0 and only
 * extend the line, so they are taken in bulk up to the line's room.  The
 * octet that would overflow, and every CR, LF and NUL, go byte by byte.
 * Returns the number taken.
 */
static size_t
df_text_run(struct data_filter *df, const char *in, size_t len)
{
	size_t	 n = 0, room;

	if (df->match != 0 || df->cr)
		return 0;
	while (n < len && in[n] != '\r' && in[n] != '\n' && in[n] != '\0')
		n++;
	if (df->state != DF_S_DATA)
		return n;
	/* linelen <= max_line - 2 here (df_data_byte()'s bound). */
	room = df->max_line - 2 - df->linelen;
	if (n > room)
		n = room;
	memcpy(df->line + df->linelen, in, n);
	df->linelen += n;
	return n;
}

size_t
data_filter_feed(struct data_filter *df, const char *in, size_t len,
    struct dbuf *out, int *event)
{
	size_t	 i, n;

	if (df->state == DF_S_DONE) {
		*event = df->error != DF_ERR_NONE ? DF_END_ERROR : DF_END;
		return 0;
	}
	if (df->line == NULL && df->state == DF_S_DATA &&
	    (df->line = malloc(df->max_line)) == NULL)
		df_fail(df, DF_ERR_NOMEM);
	df->fed = 1;
	for (i = 0; i < len; i++) {
		if ((n = df_text_run(df, in + i, len - i)) > 0) {
			i += n - 1;
			continue;
		}
		df_match(df, (unsigned char)in[i]);
		if (df->match == DF_EOD_LEN) {
			df->state = DF_S_DONE;
			df->linelen = 0;
			df->cr = 0;
			*event = df->error != DF_ERR_NONE ? DF_END_ERROR :
			    DF_END;
			return i + 1;
		}
		if (df->state == DF_S_DATA)
			df_data_byte(df, (unsigned char)in[i], out);
	}
	*event = DF_MORE;
	return len;
}

/* Whole CRLF lines, none empty, none starting with ".", all clean. */
static int
df_header_ok(const struct data_filter *df, const char *hdr, size_t len)
{
	size_t	 i, start = 0;

	if (len == 0 || len > DF_HEADER_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (hdr[i] == '\0' || (hdr[i] == '\n' &&
		    (i == 0 || hdr[i - 1] != '\r')))
			return 0;
		if (hdr[i] == '\r' && (i + 1 >= len || hdr[i + 1] != '\n'))
			return 0;
		if (hdr[i] != '\n')
			continue;
		/* line is hdr[start..i] */
		if (i + 1 - start > df->max_line || i - start < 2 ||
		    hdr[start] == '.')
			return 0;
		start = i + 1;
	}
	return start == len;
}

int
data_filter_prepend(struct data_filter *df, struct dbuf *out,
    const char *hdr, size_t len)
{
	if (df->fed || df->state != DF_S_DATA || !df_header_ok(df, hdr, len))
		return -1;
	return dbuf_add(out, hdr, len);
}

const char *
data_filter_strerror(int error)
{
	switch (error) {
	case DF_ERR_NONE:
		return "no error";
	case DF_ERR_BARE_CR:
		return "bare CR in message";
	case DF_ERR_BARE_LF:
		return "bare LF in message";
	case DF_ERR_NUL:
		return "NUL in message";
	case DF_ERR_LINE_TOO_LONG:
		return "message line too long";
	case DF_ERR_TOO_BIG:
		return "message too big";
	case DF_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown error";
}

void
data_filter_reply(int error, int *code, const char **enh, const char **text)
{
	switch (error) {
	case DF_ERR_NONE:
		*code = 250;
		*enh = "2.0.0";
		*text = "Ok";
		break;
	case DF_ERR_BARE_CR:
	case DF_ERR_BARE_LF:
		*code = 554;
		*enh = "5.5.2";
		*text = "Message refused: lines must end with CRLF "
		    "(bare CR or LF found)";
		break;
	case DF_ERR_NUL:
		*code = 554;
		*enh = "5.5.2";
		*text = "Message refused: NUL character found";
		break;
	case DF_ERR_LINE_TOO_LONG:
		*code = 554;
		*enh = "5.5.2";
		*text = "Message refused: a line is too long";
		break;
	case DF_ERR_TOO_BIG:
		*code = 552;
		*enh = "5.3.4";
		*text = "Message refused: size exceeds the fixed maximum";
		break;
	case DF_ERR_NOMEM:
	default:
		*code = 451;
		*enh = "4.3.0";
		*text = "Temporary failure, please try again later";
		break;
	}
}
