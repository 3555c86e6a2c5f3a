/*
 * DATA-phase filter for a proxy: the client's bytes after our "354" go
 * in, validated lines for the upstream come out.  No I/O.
 *
 * Why it is shaped this way (SMTP smuggling, CVE-2023-51764 family): the
 * upstream may be more lenient than we are about line endings.  If we
 * passed through bytes we had not fully judged, a client could hide a
 * second message behind a "\n.\n" that we take for text and the upstream
 * takes for the end of data.  So:
 *
 *  - A line is emitted only once its CRLF has arrived and it contains no
 *    bare CR, no bare LF and no NUL.  A partial line is never emitted.
 *  - After the first bad byte nothing more is emitted: the filter goes on
 *    reading and discarding until the real end of data, so the session
 *    stays in step with the client, and then reports DF_END_ERROR.  The
 *    caller answers 554 5.5.2 and abandons the upstream transaction by
 *    never sending its final dot (RSET or close instead).
 *  - The end of data is the five octets CR LF "." CR LF, where the first
 *    CRLF may be the one that ended the DATA command (an empty message is
 *    just ".\r\n").  Nothing else ends the data, in either state:
 *    "\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r" and friends are
 *    message text containing a bad line ending.  Because discarding
 *    looks for exactly those five octets, "x\r\r\n.\r\n" does end the
 *    data (its last five octets are CR LF . CR LF) after a bare-CR error.
 *  - The "." line itself is never emitted: the caller sends ".\r\n" to
 *    the upstream itself, and only when the event is DF_END.
 *  - Dot-stuffed lines ("..x") are emitted still stuffed, since the
 *    upstream speaks SMTP too.
 *  - The message size is counted in wire octets of the emitted lines
 *    (stuffing and CRLFs included, the "." line and any prepended header
 *    excluded); going over max_size is DF_ERR_TOO_BIG.
 *  - A line longer than max_line octets, CRLF included (RFC 5321
 *    4.5.3.1.6: 1000), is DF_ERR_LINE_TOO_LONG.  The filter holds at most
 *    one line, so its memory is max_line octets whatever the client does.
 *
 * Use:
 *
 *	data_filter_init(&df, 1000, max_size)		once per session
 *	data_filter_prepend(&df, &out, received, len)	Received: header
 *	loop: n = data_filter_feed(&df, in, len, &out, &ev);
 *	      send out to the upstream, dbuf_drain(&out, sent)
 *	      DF_MORE: read more.  DF_END / DF_END_ERROR: the bytes
 *	      in[n..len) are the client's next (pipelined) commands.
 *	data_filter_reset(&df) before the next message, data_filter_free().
 *
 * out only grows by what one feed emits (at most len plus one held line)
 * and by the header; the caller bounds it by draining it and by not
 * reading from the client while the upstream is not keeping up.
 */
#ifndef SMTPCERTD_DATA_FILTER_H
#define SMTPCERTD_DATA_FILTER_H

#include <stddef.h>
#include <stdint.h>

#define DF_LINE_MAX_RFC		1000	/* RFC 5321 4.5.3.1.6, with CRLF */
#define DF_LINE_MAX_MIN		3	/* ".\r\n" must fit */
#define DF_HEADER_MAX		8192	/* data_filter_prepend() block */

/* Output bytes for the upstream; the caller drains from the front. */
struct dbuf {
	char		*buf;
	size_t		 len;		/* bytes waiting */
	size_t		 cap;
};

void	dbuf_init(struct dbuf *);
int	dbuf_add(struct dbuf *, const void *, size_t);	/* 0 or -1 */
void	dbuf_drain(struct dbuf *, size_t);
void	dbuf_free(struct dbuf *);

/* Events from data_filter_feed(). */
#define DF_MORE		0	/* all input consumed, end not seen yet */
#define DF_END		1	/* end seen, message valid: send ".\r\n" */
#define DF_END_ERROR	2	/* end seen, message refused: see error */

/* Reasons, in df->error.  The first one found is kept. */
#define DF_ERR_NONE		0
#define DF_ERR_BARE_CR		1
#define DF_ERR_BARE_LF		2
#define DF_ERR_NUL		3
#define DF_ERR_LINE_TOO_LONG	4
#define DF_ERR_TOO_BIG		5
#define DF_ERR_NOMEM		6	/* out could not grow */

struct data_filter {
	size_t		 max_line;	/* octets incl. CRLF */
	uint64_t	 max_size;	/* 0: no limit */

	char		*line;		/* the one line being read */
	size_t		 linelen;	/* <= max_line, always */
	int		 cr;		/* line ends in a CR awaiting LF */
	int		 match;		/* octets of CR LF . CR LF seen */

	int		 state;		/* DF_S_*, see data_filter.c */
	int		 error;		/* DF_ERR_* */
	uint64_t	 size;		/* wire octets emitted */
	uint64_t	 lines;		/* lines emitted */
	uint64_t	 errline;	/* 1-based line of the error */
	int		 fed;		/* feed called since reset */
};

/*
 * max_line is clamped to at least DF_LINE_MAX_MIN.  The line buffer is
 * allocated by the first feed of a message and freed by the reset after
 * it (no memory: DF_ERR_NOMEM).  Returns 0 (-1 is kept for callers).
 */
int	data_filter_init(struct data_filter *, size_t max_line,
	    uint64_t max_size);
/* Ready for the next message with the same limits. */
void	data_filter_reset(struct data_filter *);
void	data_filter_free(struct data_filter *);

/*
 * Put a header block (e.g. our Received: field) into out ahead of the
 * message.  Allowed only before the first feed of a message.  The block
 * must be whole CRLF-terminated lines, each within max_line, with no bare
 * CR/LF, no NUL, no empty line (it would end the header section) and no
 * line starting with "." (it would need stuffing, and a lone "." would end
 * the data upstream).  0, or -1 with nothing written.  Not counted in size.
 */
int	data_filter_prepend(struct data_filter *, struct dbuf *out,
	    const char *hdr, size_t len);

/*
 * Feed len bytes.  Complete, valid lines are appended to out.  Returns
 * the number of bytes consumed: len on DF_MORE, up to and including the
 * end-of-data LF on DF_END / DF_END_ERROR.  Once ended, further calls
 * consume nothing and repeat the event until data_filter_reset().
 */
size_t	data_filter_feed(struct data_filter *, const char *in, size_t len,
	    struct dbuf *out, int *event);

const char *data_filter_strerror(int error);
/*
 * The reply to give the client after DF_END_ERROR.  (After DF_END the
 * client gets the upstream's own reply to the final dot.)
 */
void	data_filter_reply(int error, int *code, const char **enh,
	    const char **text);

#endif
