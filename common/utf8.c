/*
 * Strict UTF-8 decoding for the log and JSON writers (utf8.h).
 */
#include "utf8.h"

size_t
utf8_next(const unsigned char *p, size_t left, uint32_t *cp)
{
	size_t		 n, i;
	uint32_t	 c;

	*cp = 0;
	if (left == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

int
utf8_printable(uint32_t cp)
{
	if (cp < 0xa0)				/* ASCII is not ours; C1 */
		return 0;
	if (cp == 0x061c || cp == 0x200e || cp == 0x200f ||	/* marks */
	    (cp >= 0x2028 && cp <= 0x202e) ||	/* separators, embeddings */
	    (cp >= 0x2066 && cp <= 0x2069) ||	/* isolates */
	    cp == 0xfeff)			/* byte order mark */
		return 0;
	if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
		return 0;			/* noncharacters */
	return 1;
}
