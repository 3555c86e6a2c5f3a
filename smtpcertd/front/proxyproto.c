/*
 * The PROXY protocol header, v1 and v2 (see proxyproto.h).
 *
 * Bytes are taken one at a time into a fixed buffer and checked as they
 * come, so a client that speaks first (an SMTP command, a TLS
 * ClientHello) is refused at its first byte and a header can never be
 * read past its end.  The addresses are decoded only once the header is
 * complete, as the spec asks.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "proxyproto.h"

#define PP_V1_SIG	"PROXY "
#define PP_V1_SIGLEN	6
#define PP_V2_SIGLEN	12

/* v2: the 13th byte, version and command; the 14th, family and
 * transport; the 15th and 16th, the length of what follows. */
#define PP2_VERSION		0x2
#define PP2_CMD_LOCAL		0x0
#define PP2_CMD_PROXY		0x1
#define PP2_FAM_UNSPEC		0x0
#define PP2_FAM_INET		0x1
#define PP2_FAM_INET6		0x2
#define PP2_FAM_UNIX		0x3
#define PP2_TRANS_UNSPEC	0x0
#define PP2_TRANS_STREAM	0x1
#define PP2_TRANS_DGRAM		0x2
#define PP2_ADDR_INET		12	/* 2 * 4 + 2 * 2 */
#define PP2_ADDR_INET6		36	/* 2 * 16 + 2 * 2 */
#define PP2_TLV_HDR		3	/* type, length (2) */
#define PP2_TYPE_CRC32C		0x03	/* 4 bytes, network order */

/* The longest address a v1 field can hold: IPv6 with an embedded IPv4
 * part, as inet_ntop() writes v4-mapped addresses. */
#define PP_V1_ADDR_MAX		(INET6_ADDRSTRLEN - 1)
#define PP_V1_PORT_MAX		5	/* "65535" */
#define PP_V1_FIELDS		4	/* src dst sport dport */

_Static_assert(PROXYPROTO_MAX >= PROXYPROTO_V1_MAX,
    "the buffer holds a v1 line");

static const uint8_t pp_v2_sig[PP_V2_SIGLEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static enum proxyproto_status	pp_fail(struct proxyproto *, const char *);
static enum proxyproto_status	pp_done(struct proxyproto *, const char *,
				    int);
static enum proxyproto_status	pp_step(struct proxyproto *);
static enum proxyproto_status	pp_v1_step(struct proxyproto *);
static enum proxyproto_status	pp_v2_step(struct proxyproto *);
static enum proxyproto_status	pp_v1_parse(struct proxyproto *);
static enum proxyproto_status	pp_v2_parse(struct proxyproto *);

void
proxyproto_init(struct proxyproto *pp)
{
	memset(pp, 0, sizeof(*pp));
	pp->status = PROXYPROTO_MORE;
}

size_t
proxyproto_want(const struct proxyproto *pp)
{
	if (pp->status != PROXYPROTO_MORE)
		return 0;
	switch (pp->version) {
	case 0:
		return PROXYPROTO_V1_MAX;
	case 1:
		return PROXYPROTO_V1_MAX - pp->len;
	default:
		if (pp->len < PROXYPROTO_V2_HDR)
			return PROXYPROTO_V2_HDR - pp->len;
		return pp->v2len - pp->len;
	}
}

enum proxyproto_status
proxyproto_feed(struct proxyproto *pp, const void *data, size_t len,
    size_t *used)
{
	const uint8_t		*p = data;
	size_t			 i;
	enum proxyproto_status	 st;

	*used = 0;
	if (pp->status != PROXYPROTO_MORE)
		return pp->status;
	for (i = 0; i < len; i++) {
		/* pp_step ends every header before the buffer is full (a
		 * v1 line at PROXYPROTO_V1_MAX, v2 at its bounded length):
		 * this only keeps a bug from writing past it. */
		if (pp->len >= sizeof(pp->buf)) {
			*used = i;
			return pp_fail(pp, "header too long");
		}
		pp->buf[pp->len++] = p[i];
		if ((st = pp_step(pp)) != PROXYPROTO_MORE) {
			*used = i + 1;
			return st;
		}
	}
	*used = len;
	return PROXYPROTO_MORE;
}

const char *
proxyproto_kind(const struct proxyproto *pp)
{
	return pp->status == PROXYPROTO_DONE && pp->kind != NULL ?
	    pp->kind : "none";
}

static enum proxyproto_status
pp_fail(struct proxyproto *pp, const char *reason)
{
	pp->status = PROXYPROTO_INVALID;
	pp->reason = reason;
	return pp->status;
}

static enum proxyproto_status
pp_done(struct proxyproto *pp, const char *kind, int local)
{
	pp->status = PROXYPROTO_DONE;
	pp->kind = kind;
	pp->local = local;
	if (local) {
		memset(&pp->src, 0, sizeof(pp->src));
		memset(&pp->dst, 0, sizeof(pp->dst));
		pp->srclen = pp->dstlen = 0;
	}
	return pp->status;
}

/* The byte just added at buf[len - 1]. */
static enum proxyproto_status
pp_step(struct proxyproto *pp)
{
	if (pp->version == 0) {
		/* The first byte tells: "P" of v1, CR of v2's signature.
		 * Anything else is a client speaking its own protocol
		 * (SMTP, a TLS ClientHello): no header at all. */
		if (pp->buf[0] == PP_V1_SIG[0])
			pp->version = 1;
		else if (pp->buf[0] == pp_v2_sig[0])
			pp->version = 2;
		else
			return pp_fail(pp, "no PROXY header: the connection "
			    "starts with other data");
	}
	return pp->version == 1 ? pp_v1_step(pp) : pp_v2_step(pp);
}

static enum proxyproto_status
pp_v1_step(struct proxyproto *pp)
{
	size_t	 pos = pp->len - 1;
	uint8_t	 c = pp->buf[pos];

	if (pos < PP_V1_SIGLEN) {
		if (c != (uint8_t)PP_V1_SIG[pos])
			return pp_fail(pp, "v1: bad signature (not "
			    "\"PROXY \")");
		return PROXYPROTO_MORE;
	}
	if (pp->buf[pos - 1] == '\r') {
		if (c != '\n')
			return pp_fail(pp, "v1: CR not followed by LF");
		return pp_v1_parse(pp);
	}
	if (c == '\n')
		return pp_fail(pp, "v1: LF without CR");
	if (c != '\r' && (c < 0x20 || c > 0x7e))
		return pp_fail(pp, "v1: control or non-ASCII byte");
	if (pp->len >= PROXYPROTO_V1_MAX)
		return pp_fail(pp, "v1: no CRLF within 107 bytes");
	return PROXYPROTO_MORE;
}

static enum proxyproto_status
pp_v2_step(struct proxyproto *pp)
{
	size_t	 pos = pp->len - 1, alen;
	uint8_t	 c = pp->buf[pos];

	if (pos < PP_V2_SIGLEN) {
		if (c != pp_v2_sig[pos])
			return pp_fail(pp, "v2: bad signature");
		return PROXYPROTO_MORE;
	}
	switch (pos) {
	case 12:
		if ((c >> 4) != PP2_VERSION)
			return pp_fail(pp, "v2: unsupported version");
		if ((c & 0x0f) != PP2_CMD_LOCAL && (c & 0x0f) != PP2_CMD_PROXY)
			return pp_fail(pp, "v2: unknown command");
		return PROXYPROTO_MORE;
	case 13:
		/* Unassigned values are refused whatever the command. */
		if ((c >> 4) > PP2_FAM_UNIX)
			return pp_fail(pp, "v2: unknown address family");
		if ((c & 0x0f) > PP2_TRANS_DGRAM)
			return pp_fail(pp, "v2: unknown transport");
		return PROXYPROTO_MORE;
	case 14:
		return PROXYPROTO_MORE;
	case 15:
		alen = ((size_t)pp->buf[14] << 8) | pp->buf[15];
		if (alen > PROXYPROTO_V2_LEN_MAX)
			return pp_fail(pp, "v2: header length over 1024 "
			    "bytes");
		pp->v2len = PROXYPROTO_V2_HDR + alen;
		break;
	default:
		break;
	}
	if (pp->len < pp->v2len)
		return PROXYPROTO_MORE;
	return pp_v2_parse(pp);
}

/* A decimal port, 0..65535, without leading zeros. */
static int
pp_v1_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (n == 0 || n > PP_V1_PORT_MAX || (s[0] == '0' && n > 1))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/*
 * An address of the announced family.  inet_pton() is strict the way
 * the spec is: IPv4 as exactly four decimal numbers 0..255 without
 * leading zeros, IPv6 as 128 bits with at most one "::".
 */
static int
pp_v1_addr(int af, const char *s, size_t n, uint16_t port,
    struct sockaddr_storage *ss, socklen_t *sslen)
{
	char			 tmp[PP_V1_ADDR_MAX + 1];
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	if (n == 0 || n > PP_V1_ADDR_MAX)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		if (inet_pton(AF_INET, tmp, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
	} else {
		if (inet_pton(AF_INET6, tmp, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
	}
	return 0;
}

/* buf holds "PROXY ...\r\n", every byte before the CRLF printable. */
static enum proxyproto_status
pp_v1_parse(struct proxyproto *pp)
{
	const char	*line = (const char *)pp->buf + PP_V1_SIGLEN;
	size_t		 n = pp->len - PP_V1_SIGLEN - 2;	/* no CRLF */
	const char	*f[PP_V1_FIELDS];
	size_t		 flen[PP_V1_FIELDS];
	size_t		 i, nf = 0, start;
	uint16_t	 sport, dport;
	int		 af;
	const char	*kind;

	/* UNKNOWN: the rest of the line, if any, means nothing. */
	if (n >= 7 && memcmp(line, "UNKNOWN", 7) == 0 &&
	    (n == 7 || line[7] == ' '))
		return pp_done(pp, "v1 UNKNOWN", 1);
	if (n < 5 || line[4] != ' ')
		return pp_fail(pp, "v1: unknown protocol (not TCP4, TCP6 "
		    "or UNKNOWN)");
	if (memcmp(line, "TCP4", 4) == 0) {
		af = AF_INET;
		kind = "v1 TCP4";
	} else if (memcmp(line, "TCP6", 4) == 0) {
		af = AF_INET6;
		kind = "v1 TCP6";
	} else
		return pp_fail(pp, "v1: unknown protocol (not TCP4, TCP6 "
		    "or UNKNOWN)");

	/* Exactly four fields, each separated by exactly one space. */
	start = 5;
	for (i = 5; i <= n; i++) {
		if (i < n && line[i] != ' ')
			continue;
		if (i == start)
			return pp_fail(pp, "v1: empty field or double "
			    "space");
		if (nf == PP_V1_FIELDS)
			return pp_fail(pp, "v1: too many fields");
		f[nf] = line + start;
		flen[nf++] = i - start;
		start = i + 1;
	}
	if (nf != PP_V1_FIELDS)
		return pp_fail(pp, "v1: missing fields");
	if (pp_v1_port(f[2], flen[2], &sport) == -1)
		return pp_fail(pp, "v1: bad source port");
	if (pp_v1_port(f[3], flen[3], &dport) == -1)
		return pp_fail(pp, "v1: bad destination port");
	if (pp_v1_addr(af, f[0], flen[0], sport, &pp->src, &pp->srclen) == -1)
		return pp_fail(pp, af == AF_INET ? "v1: bad TCP4 source "
		    "address" : "v1: bad TCP6 source address");
	if (pp_v1_addr(af, f[1], flen[1], dport, &pp->dst, &pp->dstlen) == -1)
		return pp_fail(pp, af == AF_INET ? "v1: bad TCP4 destination "
		    "address" : "v1: bad TCP6 destination address");
	return pp_done(pp, kind, 0);
}

/* CRC-32C (Castagnoli, reflected), bitwise: only headers that carry
 * the TLV pay, at most PROXYPROTO_MAX bytes. */
static uint32_t
pp_crc32c(uint32_t crc, const uint8_t *p, size_t len)
{
	int	 k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & (0U - (crc & 1)));
	}
	return ~crc;
}

/*
 * The CRC32C TLV's value at buf[at], len bytes: 1 unless it is 4 bytes
 * equal to the checksum of the whole header with those 4 bytes zero.
 */
static int
pp_v2_crc_bad(const struct proxyproto *pp, size_t at, size_t len)
{
	static const uint8_t	 zero[4];
	uint32_t		 crc, want;

	if (len != 4)
		return 1;
	want = (uint32_t)pp->buf[at] << 24 | (uint32_t)pp->buf[at + 1] << 16 |
	    (uint32_t)pp->buf[at + 2] << 8 | pp->buf[at + 3];
	crc = pp_crc32c(0, pp->buf, at);
	crc = pp_crc32c(crc, zero, 4);
	crc = pp_crc32c(crc, pp->buf + at + 4, pp->v2len - at - 4);
	return crc != want;
}

/* buf holds the whole v2 header, pp->v2len bytes. */
static enum proxyproto_status
pp_v2_parse(struct proxyproto *pp)
{
	const uint8_t		*a = pp->buf + PROXYPROTO_V2_HDR;
	size_t			 alen = pp->v2len - PROXYPROTO_V2_HDR;
	size_t			 need, off, tlen;
	int			 cmd = pp->buf[12] & 0x0f;
	int			 fam = pp->buf[13] >> 4;
	int			 trans = pp->buf[13] & 0x0f;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	const char		*kind;

	/* LOCAL: the balancer's own connection (a health check); the
	 * spec says to discard the whole block, family included. */
	if (cmd == PP2_CMD_LOCAL)
		return pp_done(pp, "v2 LOCAL", 1);
	/* A relayed connection the balancer cannot describe: the spec
	 * lets us use the real endpoints, as for v1 UNKNOWN. */
	if (fam == PP2_FAM_UNSPEC || trans == PP2_TRANS_UNSPEC)
		return pp_done(pp, "v2 PROXY UNSPEC", 1);
	/* We relay TCP only: these cannot be what reached us. */
	if (fam == PP2_FAM_UNIX)
		return pp_fail(pp, "v2: AF_UNIX source not supported");
	if (trans != PP2_TRANS_STREAM)
		return pp_fail(pp, "v2: datagram transport not supported");

	need = fam == PP2_FAM_INET ? PP2_ADDR_INET : PP2_ADDR_INET6;
	if (alen < need)
		return pp_fail(pp, "v2: address block shorter than its "
		    "family needs");
	memset(&pp->src, 0, sizeof(pp->src));
	memset(&pp->dst, 0, sizeof(pp->dst));
	if (fam == PP2_FAM_INET) {
		sin = (struct sockaddr_in *)&pp->src;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		memcpy(&sin->sin_port, a + 8, 2);	/* network order */
		pp->srclen = sizeof(*sin);
		sin = (struct sockaddr_in *)&pp->dst;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a + 4, 4);
		memcpy(&sin->sin_port, a + 10, 2);
		pp->dstlen = sizeof(*sin);
		kind = "v2 PROXY TCP4";
	} else {
		sin6 = (struct sockaddr_in6 *)&pp->src;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
		memcpy(&sin6->sin6_port, a + 32, 2);
		pp->srclen = sizeof(*sin6);
		sin6 = (struct sockaddr_in6 *)&pp->dst;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a + 16, 16);
		memcpy(&sin6->sin6_port, a + 34, 2);
		pp->dstlen = sizeof(*sin6);
		kind = "v2 PROXY TCP6";
	}

	/* The rest is TLVs.  We use none but CRC32C, which when present
	 * must match (a header damaged or forged on the way is refused);
	 * a block whose TLVs do not add up to the length is not a header a
	 * correct balancer sends. */
	for (off = need; off < alen; off += tlen) {
		if (alen - off < PP2_TLV_HDR)
			return pp_fail(pp, "v2: truncated TLV");
		tlen = ((size_t)a[off + 1] << 8) | a[off + 2];
		off += PP2_TLV_HDR;
		if (tlen > alen - off)
			return pp_fail(pp, "v2: TLV longer than the header");
		if (a[off - PP2_TLV_HDR] == PP2_TYPE_CRC32C &&
		    pp_v2_crc_bad(pp, (size_t)(a - pp->buf) + off, tlen))
			return pp_fail(pp, "v2: CRC32C does not match");
	}
	return pp_done(pp, kind, 0);
}
