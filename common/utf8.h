/*
 * UTF-8 as the log and JSON writers see it: one strict decoder (RFC
 * 3629: no overlong forms, no surrogates, nothing above U+10FFFF), so
 * that kvlog, the accounting file and smtpcertctl agree on what is
 * valid.
 */
#ifndef SMTPCERTD_UTF8_H
#define SMTPCERTD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length (1-4) of the valid sequence at p, at most left bytes, with its
 * code point in *cp; 0 when the bytes there are not valid UTF-8 (a
 * stray continuation byte, a truncated or overlong sequence, a
 * surrogate).  An ASCII byte, NUL included, is a sequence of 1.
 */
size_t	utf8_next(const unsigned char *p, size_t left, uint32_t *cp);

/*
 * Whether code point cp (>= 0x80) may stand as itself in a log line:
 * not a C1 control, a line or paragraph separator, a bidirectional
 * control (which could make a terminal show a line in another order
 * than it is), a byte order mark or a noncharacter.
 */
int	utf8_printable(uint32_t cp);

#endif
