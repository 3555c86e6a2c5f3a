/*
 * Small helpers for ldapd-helper: the monotonic clock every timeout and
 * TTL uses, and log-safe renderings of hostile strings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ldapd.h"
#include "log.h"

uint64_t
now_ms(void)
{
	struct timespec	 ts;

	/* Monotonic: a clock step must not expire or revive cache entries. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * User names and certificate subjects come from clients: render them
 * with every byte outside printable ASCII, and the quote and backslash,
 * as \xNN, so a log line can neither be split nor forged.  Truncated
 * with "..." to the buffer.
 */
const char *
logstr(const void *v, size_t len, char *buf, size_t buflen)
{
	const unsigned char	*s = v;
	size_t			 i, o = 0;

	if (buflen < 8) {
		if (buflen > 0)
			buf[0] = '\0';
		return buf;
	}
	for (i = 0; i < len; i++) {
		if (o + 8 >= buflen) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '"' ||
		    s[i] == '\\')
			o += snprintf(buf + o, buflen - o, "\\x%02x", s[i]);
		else
			buf[o++] = s[i];
	}
	buf[o] = '\0';
	return buf;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL)
		fatal("calloc");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	return p;
}
