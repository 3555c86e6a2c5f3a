/*
 * Address prefixes for `proxy-protocol from': a proxy-protocol listener
 * believes the client address in a PROXY header only from a balancer's
 * own address, so a client that reaches the listener directly cannot
 * claim another address (README, "Running several gateways").
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "netprefix.h"

static void
netprefix_clear_host(struct netprefix *p)
{
	int	 n = p->af == AF_INET ? 4 : 16, i, bits;

	for (i = 0; i < n; i++) {
		bits = p->len - i * 8;
		if (bits >= 8)
			continue;
		p->addr[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
}

int
netprefix_parse(const char *s, struct netprefix *p)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long		 len;
	int		 max;

	memset(p, 0, sizeof(*p));
	if (strlen(s) >= sizeof(buf))
		return -1;
	strlcpy(buf, s, sizeof(buf));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->af = AF_INET6;
		max = 128;
	} else
		return -1;
	p->len = max;
	if (slash != NULL) {
		if (*slash < '0' || *slash > '9')
			return -1;
		len = strtol(slash, &end, 10);
		if (*end != '\0' || len < 0 || len > max)
			return -1;
		p->len = (int)len;
	}
	netprefix_clear_host(p);
	return 0;
}

int
netprefix_match(const struct netprefix *p, const struct sockaddr *sa)
{
	const uint8_t	*a;
	int		 af, full, rest;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (sa->sa_family == AF_INET) {
		af = AF_INET;
		a = (const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		af = AF_INET6;
		if (p->af == AF_INET && memcmp(a, mapped, 12) == 0) {
			a += 12;
			af = AF_INET;
		}
	} else
		return 0;
	if (af != p->af)
		return 0;
	full = p->len / 8;
	rest = p->len % 8;
	if (memcmp(a, p->addr, full) != 0)
		return 0;
	if (rest != 0 && (a[full] & (uint8_t)(0xff << (8 - rest))) !=
	    p->addr[full])
		return 0;
	return 1;
}

void
netprefix_format(const struct netprefix *p, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN];

	if (inet_ntop(p->af, p->addr, a, sizeof(a)) == NULL)
		strlcpy(a, "?", sizeof(a));
	if (p->len == (p->af == AF_INET ? 32 : 128))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%d", a, p->len);
}
