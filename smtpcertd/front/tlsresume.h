/*
 * TLS session resumption on the listeners (issue 14 item 2): TLS 1.3 and
 * 1.2 tickets under keys that live only in the front's memory, and TLS
 * 1.2 session IDs in a bounded cache.  Every resumption runs the
 * client's certificate through the listener's verification again
 * (revocation included); one that fails it is declined, so the client
 * falls back to a full handshake, which refuses it the usual way.
 */
#ifndef SMTPCERTD_TLSRESUME_H
#define SMTPCERTD_TLSRESUME_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define TLSRESUME_LIFETIME_DEFAULT	7200	/* seconds */
#define TLSRESUME_CACHE_DEFAULT		20480	/* sessions per listener */

/* Once, before the first context (the front's preinit). */
void	tlsresume_init(void);
/* The parent's secret for the ticket keys (IMSG_TICKET_SEED), the same in
 * every front: a ticket one front issued resumes on any other, and on a
 * restarted one. */
#define TLSRESUME_SEED_LEN	32
void	tlsresume_seed(const unsigned char seed[TLSRESUME_SEED_LEN]);
/*
 * Resumption on a listener's context: lifetime in seconds, cache the
 * number of cached sessions (0 turns resumption off: no tickets, no
 * cache).  sid_ctx names what decides trust on the listener (see
 * front.c): sessions of a context with another one are not resumed.
 */
void	tlsresume_ctx(SSL_CTX *, int64_t lifetime, int cache,
	    const unsigned char sid_ctx[32]);

#endif
