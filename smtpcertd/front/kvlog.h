/*
 * Session event lines: "key=value" fields in one log line, built the
 * same way by the SMTP gateway and the e-mail proxy so that a site can
 * grep them and ship them to a log store (smtpcertd(8), LOGGING).
 *
 *	session=0a1b2c3d4e5f event=auth proto=smtp client=192.0.2.7:50122
 *	    method=PLAIN user=bob result="bad credentials"
 *
 * Keys are constants of the program ([a-z0-9-]).  A value is written bare
 * when it is one or more printable ASCII characters other than space,
 * '"', '\' and '='; otherwise it is quoted, with '"' and '\' preceded by
 * '\' and every other byte outside 0x20-0x7e (controls, DEL) written
 * as \xHH.  Valid UTF-8 (common/utf8.h) is written as it is (a value
 * with it is quoted), except C1 controls, line separators,
 * bidirectional controls, the BOM and noncharacters, whose bytes are
 * \xHH like those of invalid UTF-8.  A field with no value is written as a bare "-"; a
 * value that really is "-" is quoted.  Certificate subjects and user
 * names come from the network: with these rules no value can end its
 * field or the line early, or look like another field.
 *
 * Lines are bounded: a value longer than KVLOG_VALUE_MAX encoded bytes,
 * or one that no longer fits the line, is cut at a character and ends
 * in "..." (still quoted, still well formed), and the line then ends
 * with "truncated=yes".
 */
#ifndef SMTPCERTD_KVLOG_H
#define SMTPCERTD_KVLOG_H

#include <stddef.h>
#include <stdint.h>

/* Under vlog()'s 4096-byte line with room for the process tag. */
#define KVLOG_LINE_MAX		3840
#define KVLOG_VALUE_MAX		1024	/* encoded bytes of one value */

struct kvlog {
	char	 buf[KVLOG_LINE_MAX];
	size_t	 len;
	int	 truncated;
};

/* "session=%012llx event=NAME": the two fields every event line starts
 * with (session ids are 48 bits in the SMTP gateway, more in the proxy). */
void	 kvlog_init(struct kvlog *, uint64_t session, const char *event);
/* An empty line, for lines that are not about one session. */
void	 kvlog_begin(struct kvlog *);
void	 kvlog_str(struct kvlog *, const char *key, const char *value);
void	 kvlog_mem(struct kvlog *, const char *key, const void *, size_t);
void	 kvlog_fmt(struct kvlog *, const char *key, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 kvlog_u64(struct kvlog *, const char *key, uint64_t);
void	 kvlog_i64(struct kvlog *, const char *key, int64_t);
/* host:port, with IPv6 addresses in brackets: [2001:db8::1]:25. */
void	 kvlog_addr(struct kvlog *, const char *key, const char *host,
	    unsigned port);
const char *kvlog_line(struct kvlog *);
/* The line to the log at info or warning priority. */
void	 kvlog_info(struct kvlog *);
void	 kvlog_warn(struct kvlog *);

/*
 * One value encoded as above into buf (NUL-terminated, cut with "..."
 * when it does not fit), for network data in free-text lines (traces).
 * Returns buf.
 */
const char *kvlog_quote(char *buf, size_t len, const void *v, size_t vlen);

#endif
