/*
 * The PROXY protocol parser (smtpcertd/front/proxyproto.c): valid v1 and v2
 * headers give the client's address and exactly the header's length,
 * whether they arrive at once or byte by byte; malformed ones are
 * refused; nothing after a header is ever taken.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proxyproto.h"

#include "test.h"

/* What the session would start with after a header. */
static const char	 session_bytes[] = "EHLO client.example\r\n";

/* Feed everything at once. */
static enum proxyproto_status
feed(struct proxyproto *pp, const void *b, size_t len, size_t *used)
{
	proxyproto_init(pp);
	return proxyproto_feed(pp, b, len, used);
}

/* Feed one byte at a time; *used is the total taken. */
static enum proxyproto_status
feed_bytewise(struct proxyproto *pp, const uint8_t *b, size_t len,
    size_t *used)
{
	enum proxyproto_status	 st = PROXYPROTO_MORE;
	size_t			 i, u;

	proxyproto_init(pp);
	*used = 0;
	for (i = 0; i < len; i++) {
		st = proxyproto_feed(pp, b + i, 1, &u);
		*used += u;
		if (st != PROXYPROTO_MORE)
			break;
	}
	return st;
}

/* "addr port" of a result's source. */
static const char *
src_str(const struct proxyproto *pp)
{
	static char	 out[INET6_ADDRSTRLEN + 8];
	char		 a[INET6_ADDRSTRLEN];
	const struct sockaddr_in	*sin = (const void *)&pp->src;
	const struct sockaddr_in6	*sin6 = (const void *)&pp->src;

	if (pp->src.ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(out, sizeof(out), "%s %u", a, ntohs(sin->sin_port));
	} else if (pp->src.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(out, sizeof(out), "%s %u", a,
		    ntohs(sin6->sin6_port));
	} else
		snprintf(out, sizeof(out), "none");
	return out;
}

static const char *
dst_str(const struct proxyproto *pp)
{
	struct proxyproto	 t;

	memcpy(&t.src, &pp->dst, sizeof(t.src));
	return src_str(&t);
}

/*
 * A valid header: at once, byte by byte, and followed by session bytes,
 * it ends exactly at its last byte; every strict prefix wants more.
 * Returns 1 when all of that held (the result is left in *pp).
 */
static int
valid_header(struct proxyproto *pp, const uint8_t *h, size_t hlen)
{
	uint8_t			 buf[PROXYPROTO_MAX + sizeof(session_bytes)];
	size_t			 used, i;
	int			 ok = 1;

	memcpy(buf, h, hlen);
	memcpy(buf + hlen, session_bytes, sizeof(session_bytes) - 1);
	for (i = 0; i < hlen; i++) {
		if (feed(pp, h, i, &used) != PROXYPROTO_MORE || used != i) {
			fprintf(stderr, "  prefix of %zu bytes: %s\n", i,
			    pp->reason ? pp->reason : "not MORE");
			ok = 0;
		}
	}
	if (feed_bytewise(pp, h, hlen, &used) != PROXYPROTO_DONE ||
	    used != hlen) {
		fprintf(stderr, "  bytewise: %s used %zu\n",
		    pp->reason ? pp->reason : "", used);
		ok = 0;
	}
	if (feed(pp, buf, hlen + sizeof(session_bytes) - 1, &used) !=
	    PROXYPROTO_DONE || used != hlen) {
		fprintf(stderr, "  with data: %s used %zu of %zu\n",
		    pp->reason ? pp->reason : "", used, hlen);
		ok = 0;
	}
	/* Once done, nothing more is taken. */
	if (proxyproto_feed(pp, session_bytes, 4, &used) != PROXYPROTO_DONE ||
	    used != 0 || proxyproto_want(pp) != 0)
		ok = 0;
	return ok;
}

static int
valid_v1(struct proxyproto *pp, const char *line)
{
	return valid_header(pp, (const uint8_t *)line, strlen(line));
}

/* An invalid header, at once and byte by byte; the reason contains
 * want (NULL: any reason). */
static int
invalid_header(const uint8_t *h, size_t hlen, const char *want)
{
	struct proxyproto	 pp;
	size_t			 used, used2;
	int			 ok = 1;

	if (feed(&pp, h, hlen, &used) != PROXYPROTO_INVALID) {
		fprintf(stderr, "  accepted or wants more (%s)\n",
		    pp.status == PROXYPROTO_DONE ? proxyproto_kind(&pp) :
		    "more");
		return 0;
	}
	if (want != NULL && strstr(pp.reason, want) == NULL) {
		fprintf(stderr, "  reason \"%s\", want \"%s\"\n", pp.reason,
		    want);
		ok = 0;
	}
	if (used == 0 || used > hlen)
		ok = 0;
	if (feed_bytewise(&pp, h, hlen, &used2) != PROXYPROTO_INVALID ||
	    used2 != used)
		ok = 0;
	return ok;
}

static int
invalid_v1(const char *line, const char *want)
{
	return invalid_header((const uint8_t *)line, strlen(line), want);
}

/* A v2 header: the 12-byte signature, ver_cmd, fam, then body. */
static size_t
v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body,
    size_t blen)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	    0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(blen >> 8);
	out[15] = (uint8_t)blen;
	if (blen)
		memcpy(out + 16, body, blen);
	return 16 + blen;
}

/* 192.0.2.7:56324 -> 10.0.0.1:465 */
static const uint8_t inet_block[12] = { 192, 0, 2, 7, 10, 0, 0, 1,
    0xdc, 0x04, 0x01, 0xd1 };

static size_t
inet6_block(uint8_t *b)
{
	struct in6_addr	 s, d;

	inet_pton(AF_INET6, "2001:db8::7", &s);
	inet_pton(AF_INET6, "2001:db8:1::25", &d);
	memcpy(b, &s, 16);
	memcpy(b + 16, &d, 16);
	b[32] = 0x30; b[33] = 0x39;	/* 12345 */
	b[34] = 0x00; b[35] = 0x19;	/* 25 */
	return 36;
}

static void
test_v1_tcp4(void)
{
	struct proxyproto	 pp;

	CHECK(valid_v1(&pp, "PROXY TCP4 192.0.2.7 10.0.0.1 56324 465\r\n"));
	CHECK(!pp.local);
	CHECK(strcmp(src_str(&pp), "192.0.2.7 56324") == 0);
	CHECK(strcmp(dst_str(&pp), "10.0.0.1 465") == 0);
	CHECK(strcmp(proxyproto_kind(&pp), "v1 TCP4") == 0);
	CHECK(pp.srclen == sizeof(struct sockaddr_in));

	CHECK(valid_v1(&pp, "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"));
	CHECK(strcmp(src_str(&pp), "0.0.0.0 0") == 0);
	CHECK(strcmp(dst_str(&pp), "255.255.255.255 65535") == 0);
}

static void
test_v1_tcp6(void)
{
	struct proxyproto	 pp;
	const char		*longest = "PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

	CHECK(valid_v1(&pp, "PROXY TCP6 2001:db8::7 2001:DB8::1 1234 25\r\n"));
	CHECK(!pp.local);
	CHECK(strcmp(src_str(&pp), "2001:db8::7 1234") == 0);
	CHECK(strcmp(dst_str(&pp), "2001:db8::1 25") == 0);
	CHECK(strcmp(proxyproto_kind(&pp), "v1 TCP6") == 0);
	CHECK(pp.srclen == sizeof(struct sockaddr_in6));

	CHECK(strlen(longest) == 104);
	CHECK(valid_v1(&pp, longest));
	CHECK(valid_v1(&pp, "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n"));
	CHECK(strcmp(src_str(&pp), "::ffff:192.0.2.1 1") == 0);
	CHECK(valid_v1(&pp, "PROXY TCP6 :: ::1 40000 587\r\n"));
}

static void
test_v1_unknown_is_local(void)
{
	struct proxyproto	 pp;
	const char		*worst = "PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

	CHECK(valid_v1(&pp, "PROXY UNKNOWN\r\n"));
	CHECK(pp.local);
	CHECK(pp.srclen == 0);
	CHECK(strcmp(proxyproto_kind(&pp), "v1 UNKNOWN") == 0);
	/* The 107-byte worst case of the spec; anything after UNKNOWN is
	 * ignored. */
	CHECK(strlen(worst) == PROXYPROTO_V1_MAX);
	CHECK(valid_v1(&pp, worst));
	CHECK(pp.local);
	CHECK(valid_v1(&pp, "PROXY UNKNOWN whatever it says\r\n"));
	CHECK(pp.local);
}

static void
test_v1_line_endings(void)
{
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 56324 465\n",
	    "LF without CR"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 56324 465\rX",
	    "CR not followed by LF"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7\r 10.0.0.1 56324 465\r\n",
	    "CR not followed by LF"));
	CHECK(invalid_v1("PROXY UNKNOWN\r\r\n", "CR not followed by LF"));
	CHECK(invalid_v1("PROXY\n", "bad signature"));
}

static void
test_v1_too_long(void)
{
	char	 line[256];
	size_t	 used;
	struct proxyproto pp;

	/* 107 bytes without CRLF: refused at the 107th byte. */
	memset(line, 0, sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memset(line + 14, 'a', 150);
	CHECK(feed(&pp, line, 200, &used) == PROXYPROTO_INVALID);
	CHECK(used == PROXYPROTO_V1_MAX);
	CHECK(strstr(pp.reason, "107") != NULL);
	/* 108 bytes ending in CRLF: one too many. */
	line[106] = '\r';
	line[107] = '\n';
	CHECK(invalid_header((uint8_t *)line, 108, "107"));
	/* ... and 107 is fine. */
	line[105] = '\r';
	line[106] = '\n';
	CHECK(valid_header(&pp, (uint8_t *)line, 107));
	/* A CR as the 107th byte leaves no room for the LF. */
	memset(line + 14, 'a', 150);
	line[106] = '\r';
	CHECK(feed(&pp, line, 107, &used) == PROXYPROTO_INVALID);
	CHECK(used == 107);
}

static void
test_v1_bad_protocol_and_fields(void)
{
	CHECK(invalid_v1("PROXY TCP5 192.0.2.7 10.0.0.1 1 2\r\n",
	    "unknown protocol"));
	CHECK(invalid_v1("PROXY tcp4 192.0.2.7 10.0.0.1 1 2\r\n",
	    "unknown protocol"));
	CHECK(invalid_v1("PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n",
	    "unknown protocol"));
	CHECK(invalid_v1("PROXY UNKNOWNX\r\n", "unknown protocol"));
	CHECK(invalid_v1("PROXY TCP4\r\n", "unknown protocol"));
	CHECK(invalid_v1("PROXY \r\n", "unknown protocol"));
	CHECK(invalid_v1("PROXY  TCP4 192.0.2.7 10.0.0.1 1 2\r\n", NULL));
	CHECK(invalid_v1("PROXY TCP4  192.0.2.7 10.0.0.1 1 2\r\n",
	    "empty field"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 1 2 \r\n",
	    "empty field"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 1\r\n",
	    "missing fields"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 1 2 3\r\n",
	    "too many fields"));
	CHECK(invalid_v1("PROXY TCP4 \r\n", "empty field"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7\t10.0.0.1 1 2\r\n",
	    "control"));
	CHECK(invalid_v1("proxy TCP4 192.0.2.7 10.0.0.1 1 2\r\n",
	    "no PROXY header"));
	CHECK(invalid_v1("PROXYTCP4 192.0.2.7 10.0.0.1 1 2\r\n",
	    "bad signature"));
	CHECK(invalid_v1("PRXY TCP4\r\n", "bad signature"));
}

static void
test_v1_bad_addresses(void)
{
	CHECK(invalid_v1("PROXY TCP4 192.0.2.07 10.0.0.1 1 2\r\n",
	    "source address"));
	CHECK(invalid_v1("PROXY TCP4 256.0.2.7 10.0.0.1 1 2\r\n",
	    "source address"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2 10.0.0.1 1 2\r\n",
	    "source address"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7.1 10.0.0.1 1 2\r\n",
	    "source address"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.x 10.0.0.1 1 2\r\n",
	    "source address"));
	CHECK(invalid_v1("PROXY TCP4 ::1 10.0.0.1 1 2\r\n",
	    "TCP4 source address"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 ::1 1 2\r\n",
	    "TCP4 destination address"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1.0 1 2\r\n",
	    "destination address"));
	CHECK(invalid_v1("PROXY TCP6 192.0.2.7 ::1 1 2\r\n",
	    "TCP6 source address"));
	CHECK(invalid_v1("PROXY TCP6 ::1 10.0.0.1 1 2\r\n",
	    "TCP6 destination address"));
	CHECK(invalid_v1("PROXY TCP6 2001:db8:::1 ::1 1 2\r\n",
	    "source address"));
	CHECK(invalid_v1("PROXY TCP6 2001:db8::1::2 ::1 1 2\r\n",
	    "source address"));
	CHECK(invalid_v1("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
	    "source address"));
	CHECK(invalid_v1("PROXY TCP6 12345::1 ::1 1 2\r\n",
	    "source address"));
	CHECK(invalid_v1("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
	    "source address"));
	CHECK(invalid_v1("PROXY TCP6 [::1] ::1 1 2\r\n", "source address"));
	/* Longer than any address (and than our copy buffer). */
	CHECK(invalid_v1("PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "::1 1 2\r\n", "source address"));
}

static void
test_v1_bad_ports(void)
{
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 65536 25\r\n",
	    "source port"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 025 25\r\n",
	    "source port"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 00 25\r\n",
	    "source port"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 -1 25\r\n",
	    "source port"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 +1 25\r\n",
	    "source port"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 1a 25\r\n",
	    "source port"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 123456 25\r\n",
	    "source port"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 99999 25\r\n",
	    "source port"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 25 70000\r\n",
	    "destination port"));
	CHECK(invalid_v1("PROXY TCP4 192.0.2.7 10.0.0.1 25 0x19\r\n",
	    "destination port"));
}

static void
test_v1_control_bytes(void)
{
	static const uint8_t	 nul[] = "PROXY TCP4 192.0.2.7\0 10.0.0.1 1 2\r\n";
	static const uint8_t	 high[] = "PROXY TCP4 192.0.2.\xb7 10.0.0.1 1 2\r\n";

	CHECK(invalid_header(nul, sizeof(nul) - 1, "control"));
	CHECK(invalid_header(high, sizeof(high) - 1, "non-ASCII"));
}

/* The client spoke first: refused at the first byte, nothing else
 * taken. */
static void
test_no_header(void)
{
	static const uint8_t	 hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
	struct proxyproto	 pp;
	size_t			 used;

	CHECK(feed(&pp, "EHLO x\r\n", 8, &used) == PROXYPROTO_INVALID);
	CHECK(used == 1);
	CHECK(strstr(pp.reason, "no PROXY header") != NULL);
	CHECK(feed(&pp, hello, sizeof(hello), &used) == PROXYPROTO_INVALID);
	CHECK(used == 1);
	CHECK(feed(&pp, "a1 LOGIN", 8, &used) == PROXYPROTO_INVALID);
	CHECK(feed(&pp, "\r\n", 2, &used) == PROXYPROTO_MORE);	/* v2? */
	CHECK(feed(&pp, "\r\nQUIT\r\n", 8, &used) == PROXYPROTO_INVALID);
	CHECK(strstr(pp.reason, "v2: bad signature") != NULL);
	CHECK(used == 3);
	/* Nothing fed: nothing decided. */
	CHECK(feed(&pp, "", 0, &used) == PROXYPROTO_MORE);
	CHECK(used == 0);
	CHECK(proxyproto_want(&pp) == PROXYPROTO_V1_MAX);
}

static void
test_v1_truncated_wants_more(void)
{
	struct proxyproto	 pp;
	size_t			 used;
	const char		*part = "PROXY TCP4 192.0.2.7 10.0";

	CHECK(feed(&pp, part, strlen(part), &used) == PROXYPROTO_MORE);
	CHECK(used == strlen(part));
	CHECK(proxyproto_want(&pp) == PROXYPROTO_V1_MAX - strlen(part));
	CHECK(proxyproto_feed(&pp, ".0.1 1 2\r\nEHLO", 14, &used) ==
	    PROXYPROTO_DONE);
	CHECK(used == 10);
	CHECK(strcmp(src_str(&pp), "192.0.2.7 1") == 0);
}

static void
test_v2_inet(void)
{
	struct proxyproto	 pp;
	uint8_t			 h[PROXYPROTO_MAX];
	size_t			 n, used;

	n = v2(h, 0x21, 0x11, inet_block, sizeof(inet_block));
	CHECK(valid_header(&pp, h, n));
	CHECK(!pp.local);
	CHECK(strcmp(src_str(&pp), "192.0.2.7 56324") == 0);
	CHECK(strcmp(dst_str(&pp), "10.0.0.1 465") == 0);
	CHECK(strcmp(proxyproto_kind(&pp), "v2 PROXY TCP4") == 0);
	/* want: up to the signature, then exactly what is left. */
	proxyproto_init(&pp);
	CHECK(proxyproto_feed(&pp, h, 1, &used) == PROXYPROTO_MORE);
	CHECK(proxyproto_want(&pp) == 15);
	CHECK(proxyproto_feed(&pp, h + 1, 15, &used) == PROXYPROTO_MORE);
	CHECK(proxyproto_want(&pp) == 12);
	CHECK(proxyproto_feed(&pp, h + 16, 5, &used) == PROXYPROTO_MORE);
	CHECK(proxyproto_want(&pp) == 7);
	CHECK(proxyproto_feed(&pp, h + 21, 7, &used) == PROXYPROTO_DONE);
	CHECK(used == 7);
}

static void
test_v2_inet6(void)
{
	struct proxyproto	 pp;
	uint8_t			 h[PROXYPROTO_MAX], b[64];
	size_t			 n;

	n = v2(h, 0x21, 0x21, b, inet6_block(b));
	CHECK(n == 52);
	CHECK(valid_header(&pp, h, n));
	CHECK(!pp.local);
	CHECK(strcmp(src_str(&pp), "2001:db8::7 12345") == 0);
	CHECK(strcmp(dst_str(&pp), "2001:db8:1::25 25") == 0);
	CHECK(strcmp(proxyproto_kind(&pp), "v2 PROXY TCP6") == 0);
}

static void
test_v2_local(void)
{
	struct proxyproto	 pp;
	uint8_t			 h[PROXYPROTO_MAX], b[64];
	size_t			 n;

	/* HAProxy's health checks: LOCAL, UNSPEC, no address. */
	n = v2(h, 0x20, 0x00, NULL, 0);
	CHECK(n == 16);
	CHECK(valid_header(&pp, h, n));
	CHECK(pp.local);
	CHECK(strcmp(proxyproto_kind(&pp), "v2 LOCAL") == 0);
	/* LOCAL with an address block: skipped by its length, ignored. */
	n = v2(h, 0x20, 0x11, inet_block, sizeof(inet_block));
	CHECK(valid_header(&pp, h, n));
	CHECK(pp.local);
	CHECK(pp.srclen == 0);
	/* ... whatever its contents. */
	memset(b, 0xff, sizeof(b));
	n = v2(h, 0x20, 0x21, b, 5);
	CHECK(valid_header(&pp, h, n));
	CHECK(pp.local);
	/* PROXY over UNSPEC: use the real endpoints too. */
	n = v2(h, 0x21, 0x00, NULL, 0);
	CHECK(valid_header(&pp, h, n));
	CHECK(pp.local);
	CHECK(strcmp(proxyproto_kind(&pp), "v2 PROXY UNSPEC") == 0);
	n = v2(h, 0x21, 0x10, inet_block, sizeof(inet_block));
	CHECK(valid_header(&pp, h, n));
	CHECK(pp.local);
}

static void
test_v2_tlvs_skipped(void)
{
	struct proxyproto	 pp;
	uint8_t			 h[PROXYPROTO_MAX + 16], b[PROXYPROTO_MAX];
	size_t			 n, off;

	/* Addresses, a NOOP with 5 bytes, an empty ALPN, a 128-byte
	 * unique ID. */
	memcpy(b, inet_block, 12);
	off = 12;
	b[off++] = 0x04; b[off++] = 0; b[off++] = 5;
	memset(b + off, 0, 5);
	off += 5;
	b[off++] = 0x01; b[off++] = 0; b[off++] = 0;
	b[off++] = 0x05; b[off++] = 0; b[off++] = 128;
	memset(b + off, 'u', 128);
	off += 128;
	n = v2(h, 0x21, 0x11, b, off);
	CHECK(valid_header(&pp, h, n));
	CHECK(strcmp(src_str(&pp), "192.0.2.7 56324") == 0);

	/* The longest we take: one TLV filling up to 1024 bytes. */
	off = 12;
	b[off++] = 0xe0;
	b[off++] = (uint8_t)((PROXYPROTO_V2_LEN_MAX - 15) >> 8);
	b[off++] = (uint8_t)(PROXYPROTO_V2_LEN_MAX - 15);
	memset(b + off, 'x', PROXYPROTO_V2_LEN_MAX - 15);
	n = v2(h, 0x21, 0x11, b, PROXYPROTO_V2_LEN_MAX);
	CHECK(n == PROXYPROTO_MAX);
	CHECK(valid_header(&pp, h, n));
}

/*
 * PP2_TYPE_CRC32C: the checksums were computed outside this code (a
 * separate implementation checked against the standard "123456789" ->
 * e3069283 vector).  A match is accepted, anything else refused.
 */
static void
test_v2_crc32c(void)
{
	struct proxyproto	 pp;
	uint8_t			 h[PROXYPROTO_MAX + 16], b[64];
	size_t			 n, used;

	memcpy(b, inet_block, 12);
	b[12] = 0x03; b[13] = 0; b[14] = 4;
	b[15] = 0x44; b[16] = 0xe7; b[17] = 0x97; b[18] = 0x8f;
	n = v2(h, 0x21, 0x11, b, 19);
	CHECK(valid_header(&pp, h, n));
	CHECK(strcmp(src_str(&pp), "192.0.2.7 56324") == 0);
	/* Followed by another TLV, which the checksum covers too. */
	b[15] = 0x30; b[16] = 0xd6; b[17] = 0x00; b[18] = 0x17;
	b[19] = 0x04; b[20] = 0; b[21] = 2; b[22] = 0xaa; b[23] = 0xbb;
	n = v2(h, 0x21, 0x11, b, 24);
	CHECK(valid_header(&pp, h, n));
	/* One source address bit off: refused. */
	h[16] ^= 0x01;
	CHECK(invalid_header(h, n, "v2: CRC32C does not match"));
	h[16] ^= 0x01;
	CHECK(feed(&pp, h, n, &used) == PROXYPROTO_DONE && used == n);
	/* A wrong checksum, and one of the wrong length. */
	b[18] ^= 0x80;
	n = v2(h, 0x21, 0x11, b, 24);
	CHECK(invalid_header(h, n, "v2: CRC32C does not match"));
	b[14] = 3;
	b[18] = 0x04; b[19] = 0; b[20] = 3; b[21] = 0; b[22] = 0; b[23] = 0;
	n = v2(h, 0x21, 0x11, b, 24);
	CHECK(invalid_header(h, n, "v2: CRC32C does not match"));
}

static void
test_v2_bad_signature(void)
{
	uint8_t	 h[PROXYPROTO_MAX];
	size_t	 n, i, used;
	struct proxyproto pp;

	n = v2(h, 0x21, 0x11, inet_block, sizeof(inet_block));
	for (i = 1; i < 12; i++) {
		h[i] ^= 0x20;
		CHECK(invalid_header(h, n, "v2: bad signature"));
		CHECK(feed(&pp, h, n, &used) == PROXYPROTO_INVALID &&
		    used == i + 1);
		h[i] ^= 0x20;
	}
}

static void
test_v2_bad_version_command(void)
{
	uint8_t	 h[PROXYPROTO_MAX];
	size_t	 n;

	n = v2(h, 0x11, 0x11, inet_block, sizeof(inet_block));
	CHECK(invalid_header(h, n, "unsupported version"));
	n = v2(h, 0x31, 0x11, inet_block, sizeof(inet_block));
	CHECK(invalid_header(h, n, "unsupported version"));
	n = v2(h, 0x01, 0x11, inet_block, sizeof(inet_block));
	CHECK(invalid_header(h, n, "unsupported version"));
	n = v2(h, 0x22, 0x11, inet_block, sizeof(inet_block));
	CHECK(invalid_header(h, n, "unknown command"));
	n = v2(h, 0x2f, 0x11, inet_block, sizeof(inet_block));
	CHECK(invalid_header(h, n, "unknown command"));
	/* Unassigned family or transport: refused even with LOCAL. */
	n = v2(h, 0x21, 0x41, inet_block, sizeof(inet_block));
	CHECK(invalid_header(h, n, "unknown address family"));
	n = v2(h, 0x20, 0xf0, NULL, 0);
	CHECK(invalid_header(h, n, "unknown address family"));
	n = v2(h, 0x21, 0x13, inet_block, sizeof(inet_block));
	CHECK(invalid_header(h, n, "unknown transport"));
}

static void
test_v2_unsupported_families(void)
{
	uint8_t	 h[PROXYPROTO_MAX], b[216];
	size_t	 n;

	memset(b, 0, sizeof(b));
	n = v2(h, 0x21, 0x31, b, 216);
	CHECK(invalid_header(h, n, "AF_UNIX"));
	n = v2(h, 0x21, 0x12, inet_block, sizeof(inet_block));
	CHECK(invalid_header(h, n, "datagram"));
	n = v2(h, 0x21, 0x22, b, 36);
	CHECK(invalid_header(h, n, "datagram"));
}

static void
test_v2_bad_lengths(void)
{
	struct proxyproto	 pp;
	uint8_t			 h[PROXYPROTO_MAX + 64], b[64];
	size_t			 n, used;

	/* Over our bound: refused at the length, before any body. */
	n = v2(h, 0x21, 0x11, NULL, 0);
	h[14] = (PROXYPROTO_V2_LEN_MAX + 1) >> 8;
	h[15] = (PROXYPROTO_V2_LEN_MAX + 1) & 0xff;
	CHECK(feed(&pp, h, n, &used) == PROXYPROTO_INVALID);
	CHECK(used == 16);
	CHECK(strstr(pp.reason, "length") != NULL);
	h[14] = h[15] = 0xff;
	CHECK(invalid_header(h, 16, "length"));
	/* Shorter than the family's addresses. */
	n = v2(h, 0x21, 0x11, inet_block, 11);
	CHECK(invalid_header(h, n, "shorter"));
	n = v2(h, 0x21, 0x11, NULL, 0);
	CHECK(invalid_header(h, n, "shorter"));
	n = v2(h, 0x21, 0x21, b, 12);
	CHECK(invalid_header(h, n, "shorter"));
	n = v2(h, 0x21, 0x21, b, 35);
	CHECK(invalid_header(h, n, "shorter"));
	/* TLVs that do not add up to the length. */
	memcpy(b, inet_block, 12);
	b[12] = 0x04; b[13] = 0;
	n = v2(h, 0x21, 0x11, b, 14);
	CHECK(invalid_header(h, n, "truncated TLV"));
	b[12] = 0x04; b[13] = 0; b[14] = 4; b[15] = 0; b[16] = 0; b[17] = 0;
	n = v2(h, 0x21, 0x11, b, 18);
	CHECK(invalid_header(h, n, "TLV longer"));
	b[14] = 3;
	n = v2(h, 0x21, 0x11, b, 18);
	CHECK(valid_header(&pp, h, n));
	/* Truncated header: wants exactly what is missing. */
	n = v2(h, 0x21, 0x11, inet_block, sizeof(inet_block));
	CHECK(feed(&pp, h, n - 3, &used) == PROXYPROTO_MORE);
	CHECK(used == n - 3);
	CHECK(proxyproto_want(&pp) == 3);
}

/* Random bytes never make the parser take more than it was given, or
 * more than a header can be, and every answer is one of the three. */
static void
test_random_input_bounded(void)
{
	struct proxyproto	 pp;
	uint8_t			 buf[2048];
	uint32_t		 x = 12345;
	size_t			 i, k, n, used, total;
	enum proxyproto_status	 st;

	for (k = 0; k < 20000; k++) {
		n = k % sizeof(buf);
		for (i = 0; i < n; i++) {
			x = x * 1103515245 + 12345;
			buf[i] = (uint8_t)(x >> 16);
		}
		/* Start most inputs with a real prefix, so the parser gets
		 * past the first byte. */
		if (k % 3 == 0 && n >= 16) {
			/* Only the 16-byte header: random length, the
			 * random bytes as its body. */
			v2(buf, 0x21, (uint8_t)(x >> 8), NULL, 0);
			buf[14] = (uint8_t)((x >> 20) & 0x07);
			buf[15] = (uint8_t)(x >> 4);
		} else if (k % 3 == 1 && n >= 6)
			memcpy(buf, "PROXY ", 6);
		proxyproto_init(&pp);
		total = 0;
		st = PROXYPROTO_MORE;
		for (i = 0; i < n && st == PROXYPROTO_MORE; i += 7) {
			st = proxyproto_feed(&pp, buf + i,
			    n - i < 7 ? n - i : 7, &used);
			CHECK(used <= 7);
			total += used;
		}
		CHECK(total <= n);
		CHECK(total <= PROXYPROTO_MAX);
		CHECK(st == PROXYPROTO_MORE || st == PROXYPROTO_DONE ||
		    st == PROXYPROTO_INVALID);
		if (st == PROXYPROTO_INVALID)
			CHECK(pp.reason != NULL);
		if (st == PROXYPROTO_MORE)
			CHECK(proxyproto_want(&pp) > 0);
	}
}

int
main(void)
{
	RUN(test_v1_tcp4);
	RUN(test_v1_tcp6);
	RUN(test_v1_unknown_is_local);
	RUN(test_v1_line_endings);
	RUN(test_v1_too_long);
	RUN(test_v1_bad_protocol_and_fields);
	RUN(test_v1_bad_addresses);
	RUN(test_v1_bad_ports);
	RUN(test_v1_control_bytes);
	RUN(test_no_header);
	RUN(test_v1_truncated_wants_more);
	RUN(test_v2_inet);
	RUN(test_v2_inet6);
	RUN(test_v2_local);
	RUN(test_v2_tlvs_skipped);
	RUN(test_v2_crc32c);
	RUN(test_v2_bad_signature);
	RUN(test_v2_bad_version_command);
	RUN(test_v2_unsupported_families);
	RUN(test_v2_bad_lengths);
	RUN(test_random_input_bounded);
	TEST_EXIT();
}
