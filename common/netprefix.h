/*
 * Address prefixes ("192.0.2.5", "10.0.0.0/24", "2001:db8::/32"): which
 * load balancers a proxy-protocol listener takes PROXY headers from.
 */
#ifndef NETPREFIX_H
#define NETPREFIX_H

#include <sys/socket.h>
#include <stdio.h>
#include <stdint.h>

struct netprefix {
	int		 af;		/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* host bits cleared */
	int		 len;		/* prefix length in bits */
};

/* 0, or -1 for anything but a numeric address with an optional /len. */
int	netprefix_parse(const char *, struct netprefix *);
/* 1 if the socket address is inside the prefix; an IPv4-mapped IPv6
 * address counts as the IPv4 address. */
int	netprefix_match(const struct netprefix *, const struct sockaddr *);
/* "addr/len", or "addr" for a single host, into buf. */
void	netprefix_format(const struct netprefix *, char *, size_t);

#endif
