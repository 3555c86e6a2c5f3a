/*
 * strlcpy/strlcat for glibc before 2.38: always NUL-terminate, return
 * the length they tried to create so callers can detect truncation.
 */
#include <string.h>

#include "compat.h"

#if !defined(__GLIBC__) || !__GLIBC_PREREQ(2, 38)
size_t
strlcpy(char *dst, const char *src, size_t size)
{
	size_t	 len = strlen(src);

	if (size > 0) {
		size_t	 n = len >= size ? size - 1 : len;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t
strlcat(char *dst, const char *src, size_t size)
{
	size_t	 dlen = strnlen(dst, size);

	if (dlen == size)
		return size + strlen(src);
	return dlen + strlcpy(dst + dlen, src, size - dlen);
}
#endif
