/*
 * A connection from the front to the upstream mail server of a relay:
 * connect (hosts in order, failover), greeting, EHLO, STARTTLS as the
 * relay's tls setting says (verifying the upstream's certificate),
 * XCLIENT when offered and configured, then one command at a time on
 * behalf of a client session.  Replies are parsed with smtp_reply and
 * handed to the owner whole.
 */
#ifndef SMTPCERTD_UPSTREAM_H
#define SMTPCERTD_UPSTREAM_H

#include <sys/socket.h>

#include <event2/event.h>

#include "smtp_parse.h"

struct relay;
struct io;
struct tls_config;

enum upstream_event {
	UPSTREAM_READY,		/* connected, ready for MAIL */
	UPSTREAM_REPLY,		/* reply to the last command */
	UPSTREAM_FAILED		/* gone or unusable; why says what */
};

typedef void (*upstream_cb)(void *arg, int event,
	    const struct smtp_reply *reply, const char *why);

struct upstream_params {
	const struct relay	*relay;
	struct tls_config	*tlsconf;	/* client config, CA loaded */
	const char		*helo;		/* our name */
	/* XCLIENT attributes */
	const char		*client_addr;
	unsigned		 client_port;
	const char		*client_helo;
	const char		*login;		/* NULL: not authenticated */
	uint64_t		 session;	/* the owner's, for log lines */
};

struct upstream;

struct upstream *upstream_open(struct event_base *,
	    const struct upstream_params *, upstream_cb, void *arg);
/* Send one command line (no CRLF); UPSTREAM_REPLY follows. */
int	upstream_command(struct upstream *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* After the upstream's 354: stream message text with upstream_write(),
 * then upstream_expect_reply() after the final dot. */
void	upstream_data_mode(struct upstream *);
int	upstream_write(struct upstream *, const void *, size_t);
size_t	upstream_queued(struct upstream *);
void	upstream_expect_reply(struct upstream *);
/* The upstream's EHLO offers (valid once READY). */
int	upstream_has(struct upstream *, const char *keyword);
const char *upstream_peer(struct upstream *);	/* "host:port" */
/* "TLSv1.3" and its cipher, or NULL without TLS. */
const char *upstream_tls_version(struct upstream *);
const char *upstream_tls_cipher(struct upstream *);
/* Politely (QUIT) or not at all: the owner gets no more events.  After
 * UPSTREAM_FAILED the owner must still call upstream_abort() to free. */
void	upstream_quit(struct upstream *);
void	upstream_abort(struct upstream *);
/* Called when the output queue drains (for DATA backpressure). */
void	upstream_set_drain_cb(struct upstream *, void (*)(void *));

#endif
