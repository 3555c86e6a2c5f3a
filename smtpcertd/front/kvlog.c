/*
 * Session event lines as key=value fields (kvlog.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "kvlog.h"
#include "log.h"
#include "utf8.h"

/* Room kept at the end of every line for " truncated=yes". */
#define KVLOG_TAIL		sizeof(" truncated=yes")
#define KVLOG_ELLIPSIS		"..."

static int
kv_bare(int c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/*
 * The encoding of the character at v (left > 0 bytes) inside quotes:
 * its width in *need, the input bytes in *used.  Valid UTF-8 that
 * prints (utf8_printable()) stays as it is; every other byte outside
 * printable ASCII is one \xHH, so invalid UTF-8 is logged byte for byte
 * and a C1 control or a bidirectional override never reaches a terminal.
 */
static void
kv_char(const unsigned char *v, size_t left, size_t *need, size_t *used)
{
	uint32_t	 cp;
	size_t		 n;

	*used = 1;
	if (*v == '"' || *v == '\\')
		*need = 2;
	else if (*v < 0x20 || *v == 0x7f)
		*need = 4;
	else if (*v < 0x7f)
		*need = 1;
	else if ((n = utf8_next(v, left, &cp)) > 1 && utf8_printable(cp))
		*need = *used = n;
	else
		*need = 4;
}

/*
 * Encode v into dst, which has room for len bytes and a NUL: bare when
 * allowed, else quoted.  A value that does not fit is cut before the
 * first character that would not fit (never inside an escape or a UTF-8
 * sequence) and closed with "...\"".  Returns the bytes written (without
 * the NUL); *cut is set when the value was cut.  len must be at least 6
 * (`"..."` and a NUL).
 */
static size_t
kv_encode(char *dst, size_t len, const unsigned char *v, size_t vlen,
    int *cut)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0, need, used;
	int			 bare = vlen > 0;

	*cut = 0;
	for (i = 0; i < vlen && bare; i++)
		bare = kv_bare(v[i]);
	/* A bare "-" means "no value": a real "-" is quoted. */
	if (bare && vlen == 1 && v[0] == '-')
		bare = 0;
	if (bare && vlen <= len) {
		memcpy(dst, v, vlen);
		dst[vlen] = '\0';
		return vlen;
	}
	dst[o++] = '"';
	for (i = 0; i < vlen; i += used) {
		kv_char(v + i, vlen - i, &need, &used);
		/* Keep room for the closing quote, or for the ellipsis
		 * and the quote should anything not fit. */
		if (o + need + 1 > len || (o + need + sizeof(KVLOG_ELLIPSIS) >
		    len && i + used < vlen)) {
			*cut = 1;
			break;
		}
		if (need == 1 || used > 1) {
			memcpy(dst + o, v + i, need);
			o += need;
		} else if (need == 2) {
			dst[o++] = '\\';
			dst[o++] = v[i];
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[v[i] >> 4];
			dst[o++] = hex[v[i] & 0xf];
		}
	}
	if (*cut) {
		memcpy(dst + o, KVLOG_ELLIPSIS, sizeof(KVLOG_ELLIPSIS) - 1);
		o += sizeof(KVLOG_ELLIPSIS) - 1;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return o;
}

const char *
kvlog_quote(char *buf, size_t len, const void *v, size_t vlen)
{
	int	 cut;

	if (len < 6) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	if (v == NULL) {
		strlcpy(buf, "-", len);
		return buf;
	}
	kv_encode(buf, len - 1, v, vlen, &cut);
	return buf;
}

void
kvlog_begin(struct kvlog *kv)
{
	kv->len = 0;
	kv->truncated = 0;
	kv->buf[0] = '\0';
}

void
kvlog_init(struct kvlog *kv, uint64_t session, const char *event)
{
	kvlog_begin(kv);
	kvlog_fmt(kv, "session", "%012" PRIx64, session);
	kvlog_str(kv, "event", event);
}

void
kvlog_mem(struct kvlog *kv, const char *key, const void *v, size_t vlen)
{
	size_t	 klen = strlen(key), room;
	int	 cut;

	/* The room this field may use: the line's, less the tail, less
	 * the separator, the key and '='; at most KVLOG_VALUE_MAX. */
	room = sizeof(kv->buf) - KVLOG_TAIL - kv->len;
	if (room < (kv->len ? 1 : 0) + klen + 1 + 6) {
		kv->truncated = 1;
		return;
	}
	if (kv->len)
		kv->buf[kv->len++] = ' ';
	memcpy(kv->buf + kv->len, key, klen);
	kv->len += klen;
	kv->buf[kv->len++] = '=';
	room = sizeof(kv->buf) - KVLOG_TAIL - kv->len;
	if (room > KVLOG_VALUE_MAX)
		room = KVLOG_VALUE_MAX;
	if (v == NULL) {
		kv->buf[kv->len++] = '-';
		kv->buf[kv->len] = '\0';
		return;
	}
	kv->len += kv_encode(kv->buf + kv->len, room, v, vlen, &cut);
	if (cut)
		kv->truncated = 1;
}

void
kvlog_str(struct kvlog *kv, const char *key, const char *value)
{
	kvlog_mem(kv, key, value, value != NULL ? strlen(value) : 0);
}

void
kvlog_fmt(struct kvlog *kv, const char *key, const char *fmt, ...)
{
	char	 v[KVLOG_VALUE_MAX + 1];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	if (n < 0)
		v[0] = '\0';
	kvlog_str(kv, key, v);
	/* Longer than any value may be anyway: kv_encode() cut it too. */
	if (n >= (int)sizeof(v))
		kv->truncated = 1;
}

void
kvlog_u64(struct kvlog *kv, const char *key, uint64_t n)
{
	kvlog_fmt(kv, key, "%" PRIu64, n);
}

void
kvlog_i64(struct kvlog *kv, const char *key, int64_t n)
{
	kvlog_fmt(kv, key, "%" PRId64, n);
}

void
kvlog_addr(struct kvlog *kv, const char *key, const char *host,
    unsigned port)
{
	if (host == NULL || *host == '\0') {
		kvlog_str(kv, key, NULL);
		return;
	}
	if (strchr(host, ':') != NULL)
		kvlog_fmt(kv, key, "[%s]:%u", host, port);
	else
		kvlog_fmt(kv, key, "%s:%u", host, port);
}

const char *
kvlog_line(struct kvlog *kv)
{
	/* The tail was kept free for this; it is added once. */
	if (kv->truncated == 1) {
		kv->len += snprintf(kv->buf + kv->len, sizeof(kv->buf) -
		    kv->len, "%struncated=yes", kv->len ? " " : "");
		kv->truncated = 2;
	}
	return kv->buf;
}

void
kvlog_info(struct kvlog *kv)
{
	log_info("%s", kvlog_line(kv));
}

void
kvlog_warn(struct kvlog *kv)
{
	log_warnx("%s", kvlog_line(kv));
}
