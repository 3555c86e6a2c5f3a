/*
 * PROXY protocol v1 and v2 headers (smtpcertd/front/proxyproto.c), fed the way
 * smtpcertd/front/accept.c peeks: at most proxyproto_want() bytes at a time,
 * the fuzzer choosing smaller pieces.  Checked: never more bytes taken
 * than fed, the header never longer than its version allows, a result
 * with well-formed addresses.
 */
#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyproto	 pp;
	enum proxyproto_status	 st = PROXYPROTO_MORE;
	size_t			 off = 1, want, n, used, total = 0;
	unsigned		 chunk;

	if (size < 1)
		return 0;
	chunk = data[0] == 0 ? 65536 : data[0];
	proxyproto_init(&pp);
	while (st == PROXYPROTO_MORE && off < size) {
		if ((want = proxyproto_want(&pp)) == 0)
			abort();
		n = size - off;
		if (n > want)
			n = want;
		if (n > chunk)
			n = chunk;
		st = proxyproto_feed(&pp, data + off, n, &used);
		if (used > n || (st == PROXYPROTO_MORE && used != n))
			abort();
		off += used;
		total += used;
		if (st == PROXYPROTO_INVALID && pp.reason == NULL)
			abort();
	}
	if (total > PROXYPROTO_MAX)
		abort();
	if (st == PROXYPROTO_DONE) {
		if (pp.version == 1 && total > PROXYPROTO_V1_MAX)
			abort();
		(void)proxyproto_kind(&pp);
		if (!pp.local) {
			if (pp.src.ss_family != pp.dst.ss_family)
				abort();
			if (pp.src.ss_family == AF_INET ?
			    pp.srclen != sizeof(struct sockaddr_in) :
			    pp.src.ss_family == AF_INET6 ?
			    pp.srclen != sizeof(struct sockaddr_in6) : 1)
				abort();
		}
		/* Feeding again takes nothing. */
		if (proxyproto_feed(&pp, data, size, &used) != st || used != 0)
			abort();
	}
	return 0;
}
