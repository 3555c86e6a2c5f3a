/*
 * The DATA filter (smtpcertd/front/data_filter.c): client bytes after 354 in
 * pieces of fuzzer-chosen sizes, small limits so the size and line
 * limits are reached.  Checked: the output is exactly CRLF-terminated
 * lines with no bare CR, bare LF or NUL and no lone "." line (which
 * would end the data upstream: SMTP smuggling), each within max_line;
 * nothing is emitted after an error; the bytes consumed never exceed
 * what was fed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data_filter.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_out(const struct data_filter *df, const char *b, size_t len)
{
	size_t	 i, start = 0;

	for (i = 0; i < len; i++) {
		if (b[i] == '\0')
			abort();
		if (b[i] == '\r' && (i + 1 >= len || b[i + 1] != '\n'))
			abort();
		if (b[i] == '\n') {
			if (i == 0 || b[i - 1] != '\r')
				abort();
			if (i + 1 - start > df->max_line)
				abort();
			if (i - start == 2 && b[start] == '.')
				abort();
			start = i + 1;
		}
	}
	if (start != len)	/* a partial line was emitted */
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct data_filter	 df;
	struct dbuf		 out;
	size_t			 max_line, chunk, n, off = 0;
	uint64_t		 max_size;
	int			 ev = DF_MORE, msgs = 0;

	if (size < 3)
		return 0;
	max_line = data[0] < 8 ? 1000 : data[0];
	max_size = data[1] < 16 ? 0 : (uint64_t)data[1] * 8;
	chunk = data[2] % 37 + 1;
	data += 3;
	size -= 3;
	data_filter_init(&df, max_line, max_size);
	dbuf_init(&out);
	if (size > 0 && data[0] & 1)
		if (data_filter_prepend(&df, &out, "Received: x\r\n", 13) !=
		    (max_line >= 13 ? 0 : -1))
			abort();
	while (off < size && msgs < 8) {
		size_t	 before = out.len, left = size - off;
		int	 err_before = df.error;

		if (left > chunk)
			left = chunk;
		n = data_filter_feed(&df, (const char *)data + off, left, &out,
		    &ev);
		if (n > left)
			abort();
		if (err_before != DF_ERR_NONE && out.len != before)
			abort();
		check_out(&df, out.buf, out.len);
		if (max_size != 0 && df.size > max_size)
			abort();
		off += n;
		if (ev == DF_MORE && n != left)
			abort();
		if (ev != DF_MORE) {
			(void)data_filter_strerror(df.error);
			if (ev == DF_END_ERROR) {
				int		 code;
				const char	*enh, *text;

				data_filter_reply(df.error, &code, &enh, &text);
			}
			data_filter_reset(&df);
			msgs++;
		}
		dbuf_drain(&out, out.len);
	}
	data_filter_free(&df);
	dbuf_free(&out);
	return 0;
}
