/*
 * The HAProxy PROXY protocol, versions 1 and 2, receiving side: the
 * header a TCP load balancer puts in front of a connection to say whom
 * it relays (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt).
 *
 * A pure, incremental parser: the caller feeds it bytes as they arrive
 * and it answers
 *	PROXYPROTO_MORE		every byte fed belongs to the header, and
 *				the header is not complete yet;
 *	PROXYPROTO_DONE		the header ended after *used bytes of the
 *				last feed: what follows (a TLS ClientHello,
 *				an SMTP command) belongs to the session;
 *	PROXYPROTO_INVALID	not a valid header; reason says why.
 * It never asks for a byte past the end of the header, so a caller that
 * peeks at the socket, feeds what it peeked and then reads exactly *used
 * bytes leaves the session's first bytes in the socket.
 *
 *	v1	"PROXY TCP4|TCP6 src dst sport dport\r\n", or "PROXY UNKNOWN
 *		...\r\n"; at most 107 bytes with the CRLF; addresses and
 *		ports checked strictly (canonical forms, no leading zeros).
 *	v2	the 12-byte signature, version 2, LOCAL or PROXY, then
 *		AF_INET or AF_INET6 over STREAM (or UNSPEC), at most
 *		PROXYPROTO_V2_LEN_MAX bytes of addresses and TLVs; the TLVs
 *		are checked for framing and otherwise skipped.
 * LOCAL (v2), UNKNOWN (v1) and an UNSPEC family or transport (v2) say
 * "use the connection's own endpoints": the result is local = 1.
 */
#ifndef SMTPCERTD_PROXYPROTO_H
#define SMTPCERTD_PROXYPROTO_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define PROXYPROTO_V1_MAX	107	/* the longest v1 line, with CRLF */
#define PROXYPROTO_V2_HDR	16	/* signature, ver/cmd, fam, len */
/*
 * The longest v2 address block plus TLVs we take.  The spec allows
 * 65535, but addresses need 36 bytes and what balancers send as TLVs
 * (SNI, a unique ID of up to 128 bytes, the SSL details, cloud endpoint
 * IDs, CRC32C) stays far below this.  Larger is refused, not buffered.
 */
#define PROXYPROTO_V2_LEN_MAX	1024
#define PROXYPROTO_MAX		(PROXYPROTO_V2_HDR + PROXYPROTO_V2_LEN_MAX)

enum proxyproto_status {
	PROXYPROTO_MORE,
	PROXYPROTO_DONE,
	PROXYPROTO_INVALID
};

struct proxyproto {
	enum proxyproto_status	 status;
	int			 version;	/* 0 until known, 1 or 2 */
	size_t			 len;		/* bytes held in buf */
	size_t			 v2len;		/* v2: 16 + the length field */
	uint8_t			 buf[PROXYPROTO_MAX];

	/* PROXYPROTO_DONE */
	int			 local;		/* use the socket's endpoints */
	struct sockaddr_storage	 src;		/* !local: the client */
	socklen_t		 srclen;
	struct sockaddr_storage	 dst;		/* !local: what it connected to */
	socklen_t		 dstlen;
	const char		*kind;		/* see proxyproto_kind() */
	/* PROXYPROTO_INVALID: a constant string */
	const char		*reason;
};

void	proxyproto_init(struct proxyproto *);
/*
 * How many bytes the caller should peek at next: for v2 exactly what is
 * left of the header; before the version is known, and for v1 whose end
 * shows only at its CRLF, what is left of the longest v1 line.  Never 0
 * while the status is PROXYPROTO_MORE.  Whatever is peeked, only *used
 * bytes of it (see proxyproto_feed) belong to the header.
 */
size_t	proxyproto_want(const struct proxyproto *);
/* Feed bytes; *used is how many of them were taken (all of them unless
 * the header ended or was refused among them).  Once DONE or INVALID,
 * feeding again takes nothing and repeats the status. */
enum proxyproto_status proxyproto_feed(struct proxyproto *, const void *,
	    size_t, size_t *used);
/* "v1 TCP4", "v2 PROXY TCP6", "v2 LOCAL" ...: for logs, once DONE. */
const char *proxyproto_kind(const struct proxyproto *);

#endif
