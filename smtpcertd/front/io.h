/*
 * Buffered, event-driven connection I/O for the front: one struct io per
 * client or upstream socket, plaintext or TLS (server side on libssl,
 * client side on libtls: see io.c), driven by libevent.  The owner gets
 * events through one callback and reads lines or raw bytes from a
 * bounded input buffer; writes are queued and flushed when the socket is
 * writable.
 *
 * Nothing here blocks, opens files, resolves names or starts threads, so it
 * runs unchanged inside the front's seccomp sandbox.  The process must
 * ignore SIGPIPE: libssl and libtls write to the socket with write(2).
 *
 * Memory per connection (x86-64, glibc): struct io (200 bytes) and
 * libevent's struct event (128 bytes, in libevent's own slabs in the
 * front: evmem.h), about 350 bytes with allocator overhead.  Input is read into one shared scratch buffer and only what
 * the owner leaves unconsumed is copied to a private buffer (from
 * IO_INBUF_INIT up to the input bound); output chunks exist only while
 * queued.  Both are freed once drained, so an idle session holds no I/O
 * buffers: the rest is OpenSSL's per-connection state.  Server sessions
 * run with SSL_MODE_RELEASE_BUFFERS, so an idle one holds no TLS record
 * buffer either, only the connection's keys and the client's decoded
 * certificates; client sessions (libtls) keep OpenSSL's two ~17 KB
 * record buffers while they live.
 *
 * Re-entrancy: the callback may call io_free() or io_close() on its own io
 * (or on any other io); the release is deferred until the io's event
 * handler unwinds.  No io_*() function calls the callback synchronously.
 */
#ifndef SMTPCERTD_IO_H
#define SMTPCERTD_IO_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <tls.h>

/* Events passed to the owner's callback. */
enum io_event {
	IO_CONNECTED,		/* io_connect() succeeded */
	IO_TLSREADY,		/* TLS handshake finished */
	IO_DATAIN,		/* new input is buffered (or still is, after
				 * io_resume()) */
	IO_LOWAT,		/* output queue drained to the low-water mark */
	IO_TIMEOUT,		/* no progress within the timeout; io_error()
				 * says which (connect or idle) */
	IO_DISCONNECTED,	/* the peer closed its side; no more input.
				 * io_error() notes a TLS peer that left
				 * without close_notify. */
	IO_ERROR		/* fatal; io_error() says why.  The io does no
				 * more I/O: io_free() or io_close() it. */
};

struct io;
struct tlsserver;		/* tlsserver.h */
struct ssl_st;			/* OpenSSL's SSL */
struct stack_st_X509;		/* OpenSSL's STACK_OF(X509) */
struct x509_st;			/* OpenSSL's X509 */

typedef void (*io_callback)(struct io *, int evt, void *arg);

#define IO_INBUF_INIT	4096		/* smallest private input buffer */
#define IO_INBUF_MAX	(32 * 1024)	/* default input bound; also the
					 * size of the shared read buffer */
#define IO_LINE_MAX	1000		/* default longest line, with EOL
					 * (RFC 5321 text line) */
#define IO_QUEUE_HIWAT	(64 * 1024)	/* suggested mark for relays: stop
					 * reading the other side above it */
#define IO_QUEUE_MAX	(1024 * 1024)	/* io_write() refuses beyond this */
#define IO_PRINTF_MAX	8192		/* longest io_printf() result */
#define IO_CLOSE_TIMEOUT 5000		/* ms io_close() spends flushing */
#define IO_LINGER_TIMEOUT 2000		/* ms of it spent draining input */

/* io_getline() sets *len to this when the line exceeds the limit. */
#define IO_TOOLONG	SIZE_MAX

/*
 * fd: a connected socket (made non-blocking here), or -1 for an io that
 * io_connect() will give a socket.  Returns NULL on allocation failure.
 * The io owns the fd from now on.
 */
struct io	*io_new(struct event_base *, int fd, io_callback, void *arg);
/* Tear down at once: no flush, no close_notify, no more callbacks. */
void		 io_free(struct io *);
/*
 * Graceful close: flush what is queued, send a TLS close_notify, shut
 * down our side and drain what the peer still sends until it closes
 * (at most IO_LINGER_TIMEOUT), then free.  The drain matters: closing
 * a socket with unread input sends a reset, which can destroy our last
 * reply (a 554 or 421) before the client reads it.  Best effort and
 * bounded by IO_CLOSE_TIMEOUT; the owner is detached at once (no more
 * callbacks) and must not touch the io again.
 */
void		 io_close(struct io *);

void		 io_set_callback(struct io *, io_callback, void *arg);
/* Idle timeout in ms (0: none), counted while the io waits on the peer. */
void		 io_set_timeout(struct io *, int ms);
/*
 * inmax bounds the input buffer (reading stops while it is full);
 * maxline is the longest line io_getline() accepts, counting its EOL,
 * and must be smaller than inmax.  Returns -1 (EINVAL) otherwise.
 */
int		 io_set_limits(struct io *, size_t inmax, size_t maxline);
/* IO_LOWAT fires when a write brings the queue down to this (default 0). */
void		 io_set_lowat(struct io *, size_t);

/*
 * Non-blocking connect of a fresh socket.  timeout_ms bounds the connect
 * (IO_TIMEOUT).  Returns -1 only on local failure (no socket); refusal and
 * the like arrive later as IO_ERROR, so failover has one path.
 */
int		 io_connect(struct io *, const struct sockaddr *, socklen_t,
		    int timeout_ms);

/*
 * Start TLS on the connection.  Buffered, unread plaintext input is
 * discarded first (CVE-2011-0411: bytes pipelined after STARTTLS must not
 * be taken as if they came over TLS) and the count is returned so the
 * caller can log it, or treat it as a protocol error when talking to an
 * upstream.  Output queued before the call is still sent in plaintext
 * (the "220 ready" reply); reading stops until the handshake, whose end
 * is IO_TLSREADY.  Returns -1 with io_error() set on failure.
 *
 * server_ctx is the listener's context (tlsserver.h) and stays the
 * caller's; the connection keeps its own reference to it.  client_ctx is
 * a configured tls_client() context that the io owns from this call on,
 * whatever it returns.
 */
ssize_t		 io_start_tls_server(struct io *, struct tlsserver *server_ctx);
ssize_t		 io_start_tls_client(struct io *, struct tls *client_ctx,
		    const char *servername);

/*
 * Next complete line, its CRLF or LF removed and NUL-terminated, consumed
 * from the buffer; *len is its length.  Returns NULL when no complete
 * line is buffered (*len = 0), or when the line is longer than maxline
 * (*len = IO_TOOLONG, reported once; the rest of that line is skipped as
 * it arrives).  After IO_TOOLONG, call again: later lines may already be
 * buffered, and IO_DATAIN only announces new input.
 *
 *	for (;;) {
 *		if ((line = io_getline(io, &len)) == NULL) {
 *			if (len != IO_TOOLONG)
 *				break;
 *			reply "500 5.5.2 Line too long"; continue;
 *		}
 *		...
 *	}
 *
 * The pointer is valid until the next io_getline() or io_drop() call, or
 * the return to the event loop.
 */
char		*io_getline(struct io *, size_t *len);
/* Raw access to the buffered input, for the DATA filter and relays. */
char		*io_data(struct io *);
size_t		 io_datalen(struct io *);
void		 io_drop(struct io *, size_t);
/*
 * Stop and restart reading (the owner is busy, or a relay's other side
 * is above its high-water mark).  After io_resume() IO_DATAIN fires again
 * if input is still buffered.
 */
void		 io_pause(struct io *);
void		 io_resume(struct io *);

/* Queue output.  -1 (ENOBUFS) past IO_QUEUE_MAX, (EPIPE) once closed. */
int		 io_write(struct io *, const void *, size_t);
int		 io_printf(struct io *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 io_vprintf(struct io *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
size_t		 io_queued(struct io *);

int		 io_fd(struct io *);
/* Last error, for the log; NULL if none.  Valid while the io lives. */
const char	*io_error(struct io *);

/*
 * The library's connection, for tests and diagnostics: io_tls() on the
 * client side (libtls), io_ssl() on the server side (libssl); NULL
 * otherwise.
 */
struct tls	*io_tls(struct io *);
struct ssl_st	*io_ssl(struct io *);

/*
 * Handshakes that wait on a private-key operation done elsewhere
 * (smtpcertd/front/keysign.c) without blocking: the server context runs them
 * in OpenSSL asynchronous jobs (SSL_MODE_ASYNC) and the key's method
 * pauses the job.  io_async_current() is the io whose handshake step is
 * running (NULL outside one), for the method to remember; once the
 * answer is in, io_async_wake() runs that io's handshake step again from
 * the event loop, which resumes the job.  An io freed while its job
 * waits calls the abort hook first (the operation is forgotten) and
 * lets the job finish, failing.
 */
struct io	*io_async_current(void);
void		 io_async_wake(struct io *);
void		 io_set_async_abort(void (*)(struct io *));
/* TLS session details for the log; NULL / 0 on a plaintext io. */
const char	*io_tls_version(struct io *);
const char	*io_tls_cipher(struct io *);
/* The cipher's secret bits (and the algorithm's in *alg_bits), as in
 * Postfix's "(256/256 bits)"; 0 when unknown. */
int		 io_tls_cipher_bits(struct io *, int *alg_bits);
/* Both, copied for log lines that outlive the io; "?" when unknown. */
void		 io_tls_names(struct io *, char *ver, size_t verlen,
		    char *cipher, size_t cipherlen);
int		 io_tls_peer_cert_provided(struct io *);
/*
 * The peer's certificate chain, leaf first, as OpenSSL's STACK_OF(X509),
 * for the checks after a handshake (CRL, OCSP, certificate fields, proxy
 * user name).  io_tls_peer_cert() is its leaf.
 *
 * Server side: the chain the handshake verified against the listener's
 * CAs, trust anchor included, exactly as the handshake decoded it: no
 * decoding here at all.
 * Client side: what the peer sent (libtls hands it over as PEM),
 * decoded on the first call and shared by every later one; alone,
 * io_tls_peer_cert() decodes only the leaf, for callers that need no
 * more: with OpenSSL 3.0 each certificate decoded costs about as much as
 * the rest of a handshake's parsing.  It is not kept once the handler
 * returns to the event loop (a decoded certificate is about 6 KB).
 *
 * NULL on a plaintext io, before the handshake, when the peer sent no
 * certificate or when it is unreadable.  The io owns them: do not free
 * or change them, and X509_up_ref() a certificate kept longer.  They are
 * valid until the io's event handler next returns to the event loop
 * (so for the whole IO_TLSREADY callback), or io_free().
 */
struct stack_st_X509 *io_tls_peer_chain(struct io *);
struct x509_st	*io_tls_peer_cert(struct io *);

#endif
