/*
 * The one JSON string writer (smtpcertctl -j, the proxy's accounting
 * file): '"' and '\' escaped, control characters and DEL as \u00XX,
 * valid UTF-8 (utf8.h) kept as it is, and every byte that is not part of
 * valid UTF-8 replaced by \ufffd (U+FFFD REPLACEMENT CHARACTER), so the
 * output is always valid JSON (RFC 8259 requires UTF-8) whatever the
 * input.  The bytes are lost: a consumer that needs them byte for byte
 * must not take them from JSON.
 */
#ifndef SMTPCERTD_JSON_H
#define SMTPCERTD_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Longest encoding of one input character: "\ufffd" or "\u001f". */
#define JSON_UNIT_MAX	6

/*
 * s (len bytes) as a JSON string, quotes included, into dst (room for
 * dstlen bytes with the NUL).  Too long a string is cut before a whole
 * character or escape and still closed.  Returns the bytes written
 * without the NUL; *cut (may be NULL) says whether it was cut.  dstlen
 * must be at least 3.
 */
size_t	json_escape(char *dst, size_t dstlen, const char *s, size_t len,
	    int *cut);
/* The same to a stream, never cut.  NULL is written as JSON null. */
void	json_fputs(FILE *, const char *);

#endif
