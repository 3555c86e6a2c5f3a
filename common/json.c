/*
 * The JSON string writer shared by smtpcertctl and the accounting file
 * (json.h).  One place decides what invalid UTF-8 becomes.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

/*
 * One input character at p (left > 0 bytes) as JSON: out gets at most
 * JSON_UNIT_MAX bytes; returns their number and sets *used to the
 * input bytes taken.
 */
static size_t
json_unit(const unsigned char *p, size_t left, char *out, size_t *used)
{
	static const char	 hex[] = "0123456789abcdef";
	uint32_t		 cp;
	size_t			 n;

	*used = 1;
	if (*p == '"' || *p == '\\') {
		out[0] = '\\';
		out[1] = *p;
		return 2;
	}
	if (*p < 0x20 || *p == 0x7f) {
		memcpy(out, "\\u00", 4);
		out[4] = hex[*p >> 4];
		out[5] = hex[*p & 0xf];
		return 6;
	}
	if ((n = utf8_next(p, left, &cp)) == 0) {
		memcpy(out, "\\ufffd", 6);
		return 6;
	}
	memcpy(out, p, n);
	*used = n;
	return n;
}

size_t
json_escape(char *dst, size_t dstlen, const char *s, size_t len, int *cut)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 u[JSON_UNIT_MAX];
	size_t			 o = 0, n, used;

	if (cut != NULL)
		*cut = 0;
	if (dstlen < 3) {
		if (dstlen > 0)
			dst[0] = '\0';
		return 0;
	}
	dst[o++] = '"';
	while (len > 0) {
		n = json_unit(p, len, u, &used);
		/* Room for this, the closing quote and the NUL. */
		if (o + n + 2 > dstlen) {
			if (cut != NULL)
				*cut = 1;
			break;
		}
		memcpy(dst + o, u, n);
		o += n;
		p += used;
		len -= used;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return o;
}

void
json_fputs(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 u[JSON_UNIT_MAX];
	size_t			 len, n, used;

	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	len = strlen(s);
	putc('"', fp);
	while (len > 0) {
		n = json_unit(p, len, u, &used);
		fwrite(u, 1, n, fp);
		p += used;
		len -= used;
	}
	putc('"', fp);
}
