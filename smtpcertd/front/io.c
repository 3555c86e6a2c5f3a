/*
 * Buffered connection I/O on libevent, with TLS from libssl (server side)
 * or libtls (client side).  See io.h for the contract; this comment is
 * about how it works.
 *
 * Why two TLS libraries.  Server sessions are the front's clients, by
 * the thousand and mostly idle: they run on libssl directly
 * (tlsserver.c) so that an idle one holds no record buffers
 * (SSL_MODE_RELEASE_BUFFERS) and the checks after the handshake use the
 * certificate the handshake decoded.  Client sessions (relays, proxy back
 * ends) are few and short, and libtls' server name and certificate
 * checks there are exactly what they need, so they stay on libtls.
 * Below the io_tls_*() helpers the difference ends: both report
 * TLS_WANT_POLLIN / TLS_WANT_POLLOUT and errors worded alike.
 *
 * One persistent libevent event per io carries the socket and the
 * timeout.  Its flags are recomputed by io_reload() after every change
 * from the state, the buffers and what the TLS library last asked for: a
 * TLS read can need the socket writable and a TLS write can need it readable
 * (TLS_WANT_POLLOUT / TLS_WANT_POLLIN), so the read and the write side
 * each remember the event that unblocks them (rwant, wwant) and the
 * handler retries each side when its event fires.  A retried tls_write()
 * is always given the same bytes again (the head of the queue), as
 * OpenSSL requires.
 *
 * Input is read into one process-wide scratch buffer when the io has
 * nothing buffered; the owner usually consumes it inside IO_DATAIN, and
 * only what is left over is copied into a private allocation when the
 * handler unwinds.  So an idle connection, and a relay that forwards
 * everything it reads, hold no input memory.  This relies on the front
 * being single-threaded and on no io handler running inside another.
 *
 * Work that must happen from the event loop rather than inside an io_*()
 * call (reporting a connect() that failed at once, retrying a read after
 * the owner made room, redelivering buffered input after io_resume()) is
 * flagged and the event is activated by hand.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <tls.h>

#include "certfields.h"
#include "compat.h"
#include "io.h"
#include "log.h"
#include "tlsserver.h"

#define IO_CHUNK_SIZE	(4096 - sizeof(struct iochunk))

/*
 * After a burst (issue 17 item 2).  A burst of sessions grows the malloc
 * heap by their OpenSSL state, about 35 KB each; when they are gone that
 * memory is free again and, since libevent's tables no longer sit in
 * between (evmem.h), it coalesces into a few large free chunks.  glibc
 * gives the heap back to the kernel only from its top, and the top is
 * held by the last freed blocks, which stay in the per-thread cache
 * (tcache) on purpose; so once the number of live ios has fallen to a
 * quarter of its peak, and by at least IO_TRIM_MIN, io_destroy() asks
 * malloc_trim() to release the free pages inside the heap too.  That
 * costs about 20 ms of system time per 1,000 sessions released (the
 * kernel unmapping their pages), once per burst; without the libevent
 * fix the trim would return the pages as well, but leave the heap cut
 * into thousands of small free chunks that every later session's
 * malloc() walks, which is what made sessions after a burst slower.
 */
#define IO_TRIM_MIN	64
static size_t		 io_live, io_peak;
#define IO_IOV_MAX	16

enum io_state {
	IO_S_IDLE,		/* no socket yet */
	IO_S_CONNECTING,
	IO_S_UP,		/* plaintext, or TLS after the handshake */
	IO_S_TLSWAIT,		/* sending plaintext queued before STARTTLS */
	IO_S_HANDSHAKE,
	IO_S_FLUSH,		/* io_close(): draining the queue */
	IO_S_SHUTDOWN,		/* io_close(): tls_close() */
	IO_S_LINGER,		/* io_close(): draining input until EOF */
	IO_S_FAILED		/* error reported, or about to be */
};

#define IO_F_PAUSED	0x0001	/* owner stopped reading */
#define IO_F_EOF	0x0002	/* peer closed; reading is over */
#define IO_F_SKIPLINE	0x0004	/* discarding the rest of a long line */
#define IO_F_FULL	0x0008	/* reading stopped on a full buffer */
#define IO_F_RETRY	0x0010	/* try a read from the event loop */
#define IO_F_REDELIVER	0x0020	/* IO_DATAIN for buffered input */
#define IO_F_ERRPEND	0x0040	/* IO_ERROR to report from the loop */
#define IO_F_FREE	0x0080	/* release when the handler unwinds */
#define IO_F_SCRATCH	0x0100	/* ibuf is io_scratch */
#define IO_F_LOWATPEND	0x0200	/* IO_LOWAT to report from the loop */
#define IO_F_FLUSHPEND	0x0400	/* try writing from the loop */
#define IO_F_WBLOCKED	0x0800	/* the last write left output queued */
#define IO_F_PAUSEHIT	0x1000	/* read event fired while paused */
#define IO_F_ASYNC	0x2000	/* handshake job waits on a key operation */
#define IO_F_SIGNED	0x4000	/* a key operation ended: no more jobs */
#define IO_F_NOQUICKACK	0x8000	/* not TCP: no TCP_QUICKACK */

/* io_tls_shake(): the handshake is paused in an asynchronous job. */
#define IO_TLS_WANT_ASYNC	(-10)

struct iochunk {
	struct iochunk	*next;
	size_t		 rpos;
	size_t		 wpos;
	size_t		 size;
	char		 data[];
};

struct io {
	int			 fd;
	int			 state;
	int			 flags;
	int			 busy;		/* inside io_dispatch() */
	short			 events;	/* armed on ev */
	short			 rwant;		/* unblocks a read */
	short			 wwant;		/* unblocks a write */
	short			 hswant;	/* unblocks handshake, close */
	int			 timeout;	/* idle, ms */
	int			 ctimeout;	/* connect, ms */
	int			 armedtmo;	/* timeout ev was added with */
	struct event_base	*base;
	struct event		*ev;
	struct tls		*tls;		/* client side (libtls) */
	SSL			*ssl;		/* server side (libssl) */
	io_callback		 cb;
	void			*arg;

	char			*ibuf;
	size_t			 isize;
	size_t			 ipos;
	size_t			 iend;
	size_t			 imax;
	size_t			 maxline;

	struct iochunk		*qhead;
	struct iochunk		*qtail;
	size_t			 queued;
	size_t			 plainleft;	/* still to send before TLS */
	size_t			 lowat;

	struct timeval		 closeby;
	char			*error;
	STACK_OF(X509)		*peerchain;	/* io_tls_peer_chain() */
	int			 peerfull;	/* all of it, not the leaf */
};

static void	io_dispatch(evutil_socket_t, short, void *);
static void	io_reload(struct io *);
static void	io_destroy(struct io *);
static void	io_seterror(struct io *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	io_notify(struct io *, int);
static void	io_fail(struct io *);
static void	io_connected(struct io *);
static void	io_handshake(struct io *);
static void	io_updown(struct io *, short, int, int);
static void	io_closing(struct io *);
static void	io_linger(struct io *);
static void	io_flush_early(struct io *);
static int	io_flush(struct io *);
static int	io_flush_plain(struct io *, size_t);
static int	io_flush_tls(struct io *);
static void	io_qconsume(struct io *, size_t);
static char	*io_reserve(struct io *, size_t);
static ssize_t	io_fill(struct io *);
static int	io_inroom(struct io *, size_t *);
static int	io_tls_eof(struct io *);
static void	io_in_consume(struct io *, size_t);
static void	io_in_release(struct io *);
static void	io_in_settle(struct io *);
static ssize_t	io_tls_prepare(struct io *);
static void	io_tls_begin(struct io *);
static STACK_OF(X509) *io_peerchain(struct io *, int);
static void	io_peerchain_drop(struct io *);
static int	io_is_tls(struct io *);
static int	io_tls_shake(struct io *);
static ssize_t	io_tls_recv(struct io *, void *, size_t);
static ssize_t	io_tls_send(struct io *, const void *, size_t);
static int	io_tls_shutdown(struct io *);
static int	io_ssl_result(struct io *, int, const char *);

/* Shared by every io; see the comment at the top. */
static char	io_scratch[IO_INBUF_MAX];
static char	io_nomem[] = "out of memory";
/* The io whose handshake step runs, and keysign.c's abort hook. */
static struct io *io_shaking;
static void	(*io_async_abort)(struct io *);

struct io *
io_new(struct event_base *base, int fd, io_callback cb, void *arg)
{
	struct io	*io;
	int		 fl;

	if (fd != -1) {
		if ((fl = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
			return NULL;
	}
	if ((io = calloc(1, sizeof(*io))) == NULL)
		return NULL;
	if ((io->ev = event_new(base, -1, EV_PERSIST, io_dispatch, io)) ==
	    NULL) {
		free(io);
		return NULL;
	}
	io->base = base;
	io->fd = fd;
	io->state = fd == -1 ? IO_S_IDLE : IO_S_UP;
	io->rwant = EV_READ;
	io->wwant = EV_WRITE;
	io->cb = cb;
	io->arg = arg;
	io->imax = IO_INBUF_MAX;
	io->maxline = IO_LINE_MAX;
	io_reload(io);
	if (++io_live > io_peak)
		io_peak = io_live;
	return io;
}

void
io_free(struct io *io)
{
	if (io == NULL)
		return;
	io->cb = NULL;
	if (io->busy) {
		/* The handler still runs on this io; it releases it. */
		io->flags |= IO_F_FREE;
		event_del(io->ev);
		return;
	}
	io_destroy(io);
}

void
io_close(struct io *io)
{
	struct timeval	 tv;

	if (io == NULL)
		return;
	io->cb = NULL;
	io->arg = NULL;
	if (io->state != IO_S_UP || io->flags & IO_F_FREE) {
		io_free(io);
		return;
	}
	/*
	 * Finish in the background with a hard deadline: a peer that
	 * stops reading must not keep the session's memory forever.
	 */
	event_base_gettimeofday_cached(io->base, &io->closeby);
	tv.tv_sec = IO_CLOSE_TIMEOUT / 1000;
	tv.tv_usec = (IO_CLOSE_TIMEOUT % 1000) * 1000;
	timeradd(&io->closeby, &tv, &io->closeby);
	if (io->queued == 0 && !io_is_tls(io)) {
		io_linger(io);
		return;
	}
	io->state = IO_S_FLUSH;
	io->hswant = EV_WRITE;
	io_reload(io);
}

/*
 * The last step of io_close(): our side is shut down, and what the peer
 * still sends is read and dropped until it closes, so that close() does
 * not answer unread input with a reset that could destroy the reply we
 * just sent.  Skipped when the peer has closed already.
 */
static void
io_linger(struct io *io)
{
	struct timeval	 now, tv;

	if (io->fd == -1 || io->flags & IO_F_EOF ||
	    shutdown(io->fd, SHUT_WR) == -1) {
		io_free(io);
		return;
	}
	event_base_gettimeofday_cached(io->base, &now);
	tv.tv_sec = IO_LINGER_TIMEOUT / 1000;
	tv.tv_usec = (IO_LINGER_TIMEOUT % 1000) * 1000;
	timeradd(&now, &tv, &now);
	if (timercmp(&now, &io->closeby, <))
		io->closeby = now;
	io->state = IO_S_LINGER;
	io_reload(io);
}

void
io_set_callback(struct io *io, io_callback cb, void *arg)
{
	io->cb = cb;
	io->arg = arg;
}

void
io_set_timeout(struct io *io, int ms)
{
	io->timeout = ms > 0 ? ms : 0;
	io_reload(io);
}

int
io_set_limits(struct io *io, size_t inmax, size_t maxline)
{
	/* A line one byte over maxline must fit, or it could not be seen. */
	if (maxline == 0 || maxline >= inmax) {
		errno = EINVAL;
		return -1;
	}
	io->imax = inmax;
	io->maxline = maxline;
	io_reload(io);
	return 0;
}

void
io_set_lowat(struct io *io, size_t lowat)
{
	io->lowat = lowat;
}

int
io_connect(struct io *io, const struct sockaddr *sa, socklen_t salen,
    int timeout_ms)
{
	int	 fd;

	if (io->fd != -1 || io->state != IO_S_IDLE) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		io_seterror(io, "socket: %s", strerror(errno));
		return -1;
	}
	io->fd = fd;
	io->ctimeout = timeout_ms > 0 ? timeout_ms : 0;
	/* Relays and proxy back ends get commands and client data in
	 * pieces: a proxied IMAP command, then the next one after the back
	 * end's reply; SMTP's DATA after RCPT.  With Nagle on, a small
	 * write waits for the ACK of the one before, which the peer delays
	 * by up to 40 ms.  Output is coalesced here instead: io_write()
	 * only queues, and the queue goes out once per event. */
	if ((sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int)) == -1)
		log_trace(TRACE_UPSTREAM, "fd %d: TCP_NODELAY: %s", fd,
		    strerror(errno));
	if (connect(fd, sa, salen) == -1 && errno != EINPROGRESS &&
	    errno != EINTR) {
		/* Reported like a late failure, so the owner has one path. */
		io_seterror(io, "connect: %s", strerror(errno));
		io->state = IO_S_FAILED;
		io->flags |= IO_F_ERRPEND;
	} else
		io->state = IO_S_CONNECTING;
	io_reload(io);
	return 0;
}

ssize_t
io_start_tls_server(struct io *io, struct tlsserver *server_ctx)
{
	ssize_t		 discarded;

	if ((discarded = io_tls_prepare(io)) == -1)
		return -1;
	ERR_clear_error();
	if ((io->ssl = tlsserver_accept(server_ctx, io->fd)) == NULL) {
		io_seterror(io, "TLS accept: %s", strerror(ENOMEM));
		ERR_clear_error();
		io->state = IO_S_FAILED;
		io_reload(io);
		return -1;
	}
	io->hswant = EV_READ;	/* the client speaks first */
	log_trace(TRACE_TLS, "fd %d: server handshake starts%s", io->fd,
	    discarded > 0 ? ", plaintext after STARTTLS discarded" : "");
	io_tls_begin(io);
	return discarded;
}

ssize_t
io_start_tls_client(struct io *io, struct tls *client_ctx,
    const char *servername)
{
	ssize_t		 discarded;

	if ((discarded = io_tls_prepare(io)) == -1) {
		tls_free(client_ctx);
		return -1;
	}
	io->tls = client_ctx;
	if (tls_connect_socket(client_ctx, io->fd, servername) == -1) {
		io_seterror(io, "TLS connect: %s", tls_error(client_ctx) ?
		    tls_error(client_ctx) : "failed");
		io->state = IO_S_FAILED;
		io_reload(io);
		return -1;
	}
	io->hswant = EV_WRITE;	/* ClientHello can go at once */
	log_trace(TRACE_TLS, "fd %d: client handshake with %s starts",
	    io->fd, servername != NULL ? servername : "(no name)");
	io_tls_begin(io);
	return discarded;
}

/*
 * Common checks before TLS, and the CVE-2011-0411 rule: whatever plaintext
 * the peer sent after the STARTTLS command (or, towards an upstream,
 * after its 220) is thrown away here, never parsed.  Returns the count.
 */
static ssize_t
io_tls_prepare(struct io *io)
{
	size_t	 discarded;

	if (io->state != IO_S_UP || io_is_tls(io) || io->fd == -1) {
		io_seterror(io, "cannot start TLS in this state");
		errno = EINVAL;
		return -1;
	}
	discarded = io->iend - io->ipos;
	io_in_release(io);
	io->flags &= ~(IO_F_SKIPLINE | IO_F_FULL | IO_F_REDELIVER);
	return (ssize_t)discarded;
}

static void
io_tls_begin(struct io *io)
{
	/*
	 * Output queued so far (the "220 Ready to start TLS") still goes out
	 * in plaintext; reading waits for the handshake, so the peer's
	 * ClientHello stays in the socket for the TLS library.
	 */
	io->plainleft = io->queued;
	io->state = io->plainleft ? IO_S_TLSWAIT : IO_S_HANDSHAKE;
	io_reload(io);
}

char *
io_getline(struct io *io, size_t *len)
{
	char	*buf, *nl;
	size_t	 avail, n;

	*len = 0;
	if (io->ipos == io->iend)
		io_in_release(io);
	for (;;) {
		if ((avail = io->iend - io->ipos) == 0)
			return NULL;
		buf = io->ibuf + io->ipos;
		if (!(io->flags & IO_F_SKIPLINE))
			break;
		if ((nl = memchr(buf, '\n', avail)) == NULL) {
			io_in_consume(io, avail);
			return NULL;
		}
		io_in_consume(io, nl - buf + 1);
		io->flags &= ~IO_F_SKIPLINE;
	}

	n = avail < io->maxline ? avail : io->maxline;
	if ((nl = memchr(buf, '\n', n)) == NULL) {
		if (avail < io->maxline)
			return NULL;
		/*
		 * Too long.  Report it once and drop the line, including
		 * what is still to come of it, so the owner can reply and
		 * carry on with the next line if the protocol allows.
		 */
		if ((nl = memchr(buf + n, '\n', avail - n)) != NULL)
			io_in_consume(io, nl - buf + 1);
		else {
			io_in_consume(io, avail);
			io->flags |= IO_F_SKIPLINE;
		}
		*len = IO_TOOLONG;
		return NULL;
	}
	n = nl - buf;
	/* Consumed, but the bytes stay put until the next read. */
	io_in_consume(io, n + 1);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return buf;
}

char *
io_data(struct io *io)
{
	static char	 empty[1];

	if (io->ibuf == NULL)
		return empty;
	return io->ibuf + io->ipos;
}

size_t
io_datalen(struct io *io)
{
	return io->iend - io->ipos;
}

void
io_drop(struct io *io, size_t n)
{
	if (n > io->iend - io->ipos)
		n = io->iend - io->ipos;
	io_in_consume(io, n);
	if (io->ipos == io->iend)
		io_in_release(io);
}

void
io_pause(struct io *io)
{
	io->flags |= IO_F_PAUSED;
	io_reload(io);
}

void
io_resume(struct io *io)
{
	if (!(io->flags & IO_F_PAUSED))
		return;
	io->flags &= ~(IO_F_PAUSED | IO_F_PAUSEHIT);
	/*
	 * Input left buffered while paused is delivered again from the
	 * event loop, and so are bytes a TLS library holds that the socket
	 * no longer signals (libssl says whether it has any; libtls does
	 * not).  Anything else the socket signals: the read event stayed
	 * armed through the pause, or is armed again now.
	 */
	io->flags |= IO_F_REDELIVER;
	if (io->tls != NULL || (io->ssl != NULL && SSL_has_pending(io->ssl)))
		io->flags |= IO_F_RETRY;
	/* Waiting on the peer again: its idle time starts now. */
	io->armedtmo = -1;
	io_reload(io);
}

int
io_write(struct io *io, const void *buf, size_t len)
{
	const char	*p = buf;
	char		*dst;
	size_t		 n;
	struct iochunk	*c;

	if (io->state == IO_S_FAILED || io->state >= IO_S_FLUSH ||
	    io->flags & IO_F_FREE) {
		errno = EPIPE;
		return -1;
	}
	if (len > IO_QUEUE_MAX - io->queued) {
		errno = ENOBUFS;
		return -1;
	}
	if ((c = io->qtail) != NULL && (n = c->size - c->wpos) > 0) {
		if (n > len)
			n = len;
		memcpy(c->data + c->wpos, p, n);
		c->wpos += n;
		io->queued += n;
		p += n;
		len -= n;
	}
	if (len > 0) {
		if ((dst = io_reserve(io, len)) == NULL)
			return -1;
		memcpy(dst, p, len);
		io->qtail->wpos += len;
		io->queued += len;
	}
	io_reload(io);
	return 0;
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = io_vprintf(io, fmt, ap);
	va_end(ap);
	return r;
}

int
io_vprintf(struct io *io, const char *fmt, va_list ap)
{
	va_list	 ap2;
	char	*dst;
	int	 n;

	if (io->state == IO_S_FAILED || io->state >= IO_S_FLUSH ||
	    io->flags & IO_F_FREE) {
		errno = EPIPE;
		return -1;
	}
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if (n > IO_PRINTF_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((size_t)n > IO_QUEUE_MAX - io->queued) {
		errno = ENOBUFS;
		return -1;
	}
	/* Format straight into the queue: n + 1 for vsnprintf's NUL. */
	if ((dst = io_reserve(io, n + 1)) == NULL)
		return -1;
	vsnprintf(dst, n + 1, fmt, ap);
	io->qtail->wpos += n;
	io->queued += n;
	io_reload(io);
	return 0;
}

size_t
io_queued(struct io *io)
{
	return io->queued;
}

int
io_fd(struct io *io)
{
	return io->fd;
}

const char *
io_error(struct io *io)
{
	return io->error;
}

struct tls *
io_tls(struct io *io)
{
	return io->tls;
}

struct ssl_st *
io_ssl(struct io *io)
{
	return io->ssl;
}

const char *
io_tls_version(struct io *io)
{
	if (!io_is_tls(io) || io->state != IO_S_UP)
		return NULL;
	if (io->ssl != NULL)
		return SSL_get_version(io->ssl);
	return tls_conn_version(io->tls);
}

const char *
io_tls_cipher(struct io *io)
{
	if (!io_is_tls(io) || io->state != IO_S_UP)
		return NULL;
	if (io->ssl != NULL)
		return SSL_CIPHER_get_name(SSL_get_current_cipher(io->ssl));
	return tls_conn_cipher(io->tls);
}

int
io_tls_cipher_bits(struct io *io, int *alg_bits)
{
	const SSL_CIPHER	*c;
	int			 bits, alg = 0;

	*alg_bits = 0;
	if (!io_is_tls(io) || io->state != IO_S_UP)
		return 0;
	if (io->ssl != NULL) {
		if ((c = SSL_get_current_cipher(io->ssl)) == NULL)
			return 0;
		bits = SSL_CIPHER_get_bits(c, &alg);
		*alg_bits = alg;
		return bits;
	}
	bits = tls_conn_cipher_strength(io->tls);
	*alg_bits = bits;
	return bits;
}

void
io_tls_names(struct io *io, char *ver, size_t verlen, char *cipher,
    size_t cipherlen)
{
	const char	*v = io_tls_version(io), *c = io_tls_cipher(io);

	snprintf(ver, verlen, "%s", v != NULL ? v : "?");
	snprintf(cipher, cipherlen, "%s", c != NULL ? c : "?");
}

int
io_tls_peer_cert_provided(struct io *io)
{
	if (!io_is_tls(io) || io->state != IO_S_UP)
		return 0;
	if (io->ssl != NULL)
		return SSL_get0_peer_certificate(io->ssl) != NULL;
	return tls_peer_cert_provided(io->tls);
}

/*
 * Server side: the handshake decoded and verified the chain; OpenSSL
 * keeps it with the connection, leaf first, trust anchor last.
 *
 * Client side: libtls hands the chain over only as PEM, and decoding a
 * certificate with OpenSSL 3.0 is costly (it sets up a public-key
 * decoder for every one), so the chain is decoded once for all the
 * checks that follow a handshake.  It is dropped when the event handler
 * unwinds rather than kept with the io: a decoded certificate is about
 * 6 KB.
 */
static STACK_OF(X509) *
io_peerchain(struct io *io, int full)
{
	const uint8_t	*pem;
	size_t		 len;

	if (io->ssl != NULL) {
		if (io->state != IO_S_UP ||
		    SSL_get0_peer_certificate(io->ssl) == NULL)
			return NULL;
		/* A session does not keep the chain: the resumption check
		 * verified it again (tlsresume.c). */
		if (SSL_session_reused(io->ssl))
			return tlsserver_resumed_chain(io->ssl);
		return SSL_get0_verified_chain(io->ssl);
	}
	if (io->peerchain != NULL && (io->peerfull || !full))
		return io->peerchain;
	if (io->tls == NULL || io->state != IO_S_UP ||
	    !tls_peer_cert_provided(io->tls) ||
	    (pem = tls_peer_cert_chain_pem(io->tls, &len)) == NULL)
		return NULL;
	/* libtls' PEM holds the peer's certificate and the chain it sent. */
	io_peerchain_drop(io);
	io->peerchain = certfields_chain_from_pem(pem, len, full ? 0 : 1);
	io->peerfull = full;
	return io->peerchain;
}

struct stack_st_X509 *
io_tls_peer_chain(struct io *io)
{
	return io_peerchain(io, 1);
}

struct x509_st *
io_tls_peer_cert(struct io *io)
{
	STACK_OF(X509)	*chain;

	if (io->ssl != NULL)
		return io->state == IO_S_UP ?
		    SSL_get0_peer_certificate(io->ssl) : NULL;
	if ((chain = io_peerchain(io, 0)) == NULL)
		return NULL;
	return sk_X509_value(chain, 0);
}

struct io *
io_async_current(void)
{
	return io_shaking;
}

void
io_set_async_abort(void (*fn)(struct io *))
{
	io_async_abort = fn;
}

void
io_async_wake(struct io *io)
{
	io->flags |= IO_F_SIGNED;
	if (io->flags & IO_F_ASYNC && !(io->flags & IO_F_FREE))
		event_active(io->ev, EV_WRITE, 0);
}

static void
io_peerchain_drop(struct io *io)
{
	sk_X509_pop_free(io->peerchain, X509_free);
	io->peerchain = NULL;
}

static int
io_is_tls(struct io *io)
{
	return io->tls != NULL || io->ssl != NULL;
}

/*
 * One step of TLS on either library: >= 0 done (bytes for recv and
 * send; 0 from recv is a close_notify), TLS_WANT_POLLIN or
 * TLS_WANT_POLLOUT to wait, -1 failed with io->error set to
 * "<what> failed: <reason>" as libtls words it.
 */
static int
io_tls_shake(struct io *io)
{
	const char	*e;
	int		 r;

	if (io->ssl != NULL) {
		ERR_clear_error();
		io_shaking = io;
		r = SSL_do_handshake(io->ssl);
		io_shaking = NULL;
		/*
		 * Jobs only as long as a key operation may come: one stack
		 * switch per call otherwise, and the client's certificate
		 * is verified on the process stack, not a job's 32 KB.
		 */
		if (r == 1 || (io->flags & IO_F_SIGNED &&
		    SSL_get_error(io->ssl, r) != SSL_ERROR_WANT_ASYNC))
			SSL_clear_mode(io->ssl, SSL_MODE_ASYNC);
		if (r == 1)
			return 0;
		if ((r = io_ssl_result(io, r, "handshake")) == 0) {
			/* A close_notify instead of a handshake. */
			io_seterror(io, "handshake failed: unexpected EOF");
			r = -1;
		}
		return r;
	}
	if ((r = tls_handshake(io->tls)) == -1) {
		e = tls_error(io->tls);
		io_seterror(io, "%s", e ? e : "handshake failed");
	}
	return r;
}

static ssize_t
io_tls_recv(struct io *io, void *buf, size_t len)
{
	const char	*e;
	ssize_t		 n;
	int		 r;

	if (io->ssl != NULL) {
		if (len > INT_MAX)
			len = INT_MAX;
		ERR_clear_error();
		if ((r = SSL_read(io->ssl, buf, (int)len)) > 0)
			return r;
		return io_ssl_result(io, r, "read");
	}
	if ((n = tls_read(io->tls, buf, len)) == -1) {
		e = tls_error(io->tls);
		io_seterror(io, "%s", e ? e : "read failed");
	}
	return n;
}

static ssize_t
io_tls_send(struct io *io, const void *buf, size_t len)
{
	const char	*e;
	ssize_t		 n;
	int		 r;

	if (io->ssl != NULL) {
		if (len > INT_MAX)
			len = INT_MAX;
		ERR_clear_error();
		if ((r = SSL_write(io->ssl, buf, (int)len)) > 0)
			return r;
		if ((r = io_ssl_result(io, r, "write")) == 0) {
			io_seterror(io, "write failed: connection closed");
			r = -1;
		}
		return r;
	}
	if ((n = tls_write(io->tls, buf, len)) == -1) {
		e = tls_error(io->tls);
		io_seterror(io, "%s", e ? e : "write failed");
	}
	return n;
}

/* Our close_notify only; we do not wait for the peer's.  0 when done. */
static int
io_tls_shutdown(struct io *io)
{
	int	 r;

	if (io->ssl != NULL) {
		ERR_clear_error();
		if ((r = SSL_shutdown(io->ssl)) >= 0)
			return 0;
		r = io_ssl_result(io, r, "shutdown");
		return r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT ? r : 0;
	}
	r = tls_close(io->tls);
	return r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT ? r : 0;
}

/*
 * What a failed SSL_*() call means, in libtls' terms and words, so the
 * logs read the same whichever side failed ("handshake failed:
 * error:0A000086:SSL routines::certificate verify failed").
 */
static int
io_ssl_result(struct io *io, int ret, const char *what)
{
	char		 e[256];
	unsigned long	 code;
	int		 err, saved = errno;

	err = SSL_get_error(io->ssl, ret);
	switch (err) {
	case SSL_ERROR_WANT_ASYNC:
		return IO_TLS_WANT_ASYNC;
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_POLLIN;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_POLLOUT;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
	case SSL_ERROR_SSL:
		if ((code = ERR_peek_error()) != 0)
			ERR_error_string_n(code, e, sizeof(e));
		else if (err == SSL_ERROR_SYSCALL && ret == -1)
			strlcpy(e, strerror(saved), sizeof(e));
		else if (err == SSL_ERROR_SYSCALL)
			strlcpy(e, "unexpected EOF", sizeof(e));
		else
			strlcpy(e, "unknown error", sizeof(e));
		io_seterror(io, "%s failed: %s", what, e);
		break;
	default:
		io_seterror(io, "%s failed (%d)", what, err);
		break;
	}
	ERR_clear_error();
	return -1;
}

/*
 * The event handler.  Callbacks run only from here, with io->busy set so
 * that io_free() from inside one only marks the io; after every callback
 * the code checks that the io is still in the state it was handling.
 */
static void
io_dispatch(evutil_socket_t fd, short ev, void *arg)
{
	struct io	*io = arg;
	size_t		 queued = io->queued;
	int		 retry, redeliver;

	io->busy++;
	retry = io->flags & IO_F_RETRY;
	redeliver = io->flags & IO_F_REDELIVER;
	if (io->flags & IO_F_FLUSHPEND)
		ev |= EV_WRITE;
	io->flags &= ~(IO_F_RETRY | IO_F_REDELIVER | IO_F_FLUSHPEND);

	if (io->flags & IO_F_ERRPEND) {
		io->flags &= ~IO_F_ERRPEND;
		io_notify(io, IO_ERROR);
		goto done;
	}
	if (io->flags & IO_F_LOWATPEND) {
		io->flags &= ~IO_F_LOWATPEND;
		if (io->state == IO_S_UP && !io_notify(io, IO_LOWAT))
			goto done;
	}

	switch (io->state) {
	case IO_S_CONNECTING:
		if (ev & EV_TIMEOUT) {
			io_seterror(io, "connect timed out");
			io_notify(io, IO_TIMEOUT);
		} else if (ev & EV_WRITE)
			io_connected(io);
		break;
	case IO_S_TLSWAIT:
	case IO_S_HANDSHAKE:
		if (ev & EV_TIMEOUT) {
			io_seterror(io, "TLS handshake timed out");
			io_notify(io, IO_TIMEOUT);
		} else
			io_handshake(io);
		break;
	case IO_S_UP:
		if (ev & EV_TIMEOUT && io->flags & IO_F_PAUSED)
			io->flags |= IO_F_PAUSEHIT;	/* not waiting on it */
		else if (ev & EV_TIMEOUT) {
			io_seterror(io, "idle timeout");
			io_notify(io, IO_TIMEOUT);
		} else
			io_updown(io, ev, retry, redeliver);
		break;
	case IO_S_FLUSH:
	case IO_S_SHUTDOWN:
	case IO_S_LINGER:
		io_closing(io);
		break;
	default:
		break;
	}
done:
	io->busy--;
	if (io->flags & IO_F_FREE) {
		io_destroy(io);
		return;
	}
	if (io->queued > queued)
		io_flush_early(io);
	io_peerchain_drop(io);
	io_in_settle(io);
	io_reload(io);
}

static void
io_connected(struct io *io)
{
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == EINPROGRESS || err == EINTR)
		return;
	if (err != 0) {
		io_seterror(io, "connect: %s", strerror(err));
		io_fail(io);
		return;
	}
	io->state = IO_S_UP;
	io_notify(io, IO_CONNECTED);
}

static void
io_handshake(struct io *io)
{
	size_t		 before;
	int		 r;

	if (io->state == IO_S_TLSWAIT) {
		before = io->queued;
		if (io_flush_plain(io, io->plainleft) == -1) {
			io_fail(io);
			return;
		}
		io->plainleft -= before - io->queued;
		if (io->plainleft > 0)
			return;
		io->state = IO_S_HANDSHAKE;
	}

	r = io_tls_shake(io);
	if (r == IO_TLS_WANT_ASYNC) {
		/* No socket event until io_async_wake(); the key operation
		 * has its own deadline (keysign.c). */
		io->flags |= IO_F_ASYNC;
		io->hswant = 0;
		return;
	}
	io->flags &= ~IO_F_ASYNC;
	if (r == TLS_WANT_POLLIN) {
		io->hswant = EV_READ;
		return;
	}
	if (r == TLS_WANT_POLLOUT) {
		io->hswant = EV_WRITE;
		return;
	}
	if (r == -1) {
		io_seterror(io, "TLS handshake: %s", io->error);
		log_trace(TRACE_TLS, "fd %d: %s", io->fd, io->error);
		io_fail(io);
		return;
	}
	log_trace(TRACE_TLS, "fd %d: handshake done: %s %s, peer "
	    "certificate %s", io->fd, io_tls_version(io), io_tls_cipher(io),
	    io_tls_peer_cert_provided(io) ? "presented" : "none");
	io->state = IO_S_UP;
	io->rwant = EV_READ;
	io->wwant = EV_WRITE;
	if (!io_notify(io, IO_TLSREADY) || io->state != IO_S_UP)
		return;
	/* Send what the owner queued meanwhile, read what came with it. */
	io_updown(io, 0, 1, 0);
}

/*
 * Established connection: write if the write side's event fired (or on
 * request), then read likewise.  force runs both sides regardless.
 */
static void
io_updown(struct io *io, short ev, int force, int redeliver)
{
	size_t	 before;
	ssize_t	 n;
	int	 eof;

	if (io->queued && (force || ev & io->wwant)) {
		before = io->queued;
		if (io_flush(io) == -1) {
			io_fail(io);
			return;
		}
		if (before > io->lowat && io->queued <= io->lowat) {
			if (!io_notify(io, IO_LOWAT) || io->state != IO_S_UP)
				return;
		}
	}

	if (io->flags & (IO_F_PAUSED | IO_F_EOF)) {
		/* Input while paused: now the read event goes (io_reload()). */
		if (io->flags & IO_F_PAUSED && ev & io->rwant)
			io->flags |= IO_F_PAUSEHIT;
		return;
	}
	n = 0;
	eof = 0;
	if (force || ev & io->rwant) {
		if ((n = io_fill(io)) == -1) {
			io_fail(io);
			return;
		}
		eof = io->flags & IO_F_EOF;
	}
	if (n > 0 || (redeliver && io_datalen(io) > 0)) {
		if (!io_notify(io, IO_DATAIN) || io->state != IO_S_UP)
			return;
	}
	if (eof)
		io_notify(io, IO_DISCONNECTED);
}

/*
 * Output the owner queued while handling an event (a reply, a relayed
 * command) goes out before the handler returns rather than after another
 * trip through the event loop, which would also cost two epoll_ctl()
 * calls to watch for and then forget writability: the socket nearly
 * always has room.  What does not fit waits for the socket as before.
 * Errors and the low-water mark are reported from the loop, as callbacks
 * may not run here.
 */
static void
io_flush_early(struct io *io)
{
	size_t	 before = io->queued;

	if (io->state != IO_S_UP || io->wwant != EV_WRITE ||
	    io->flags & IO_F_ERRPEND)
		return;
	if (io_flush(io) == -1) {
		io->state = IO_S_FAILED;
		io->flags |= IO_F_ERRPEND;
		return;
	}
	if (before > io->lowat && io->queued <= io->lowat)
		io->flags |= IO_F_LOWATPEND;
}

static void
io_closing(struct io *io)
{
	struct timeval	 now;
	char		 drop[1024];
	ssize_t		 n;
	int		 r, i;

	event_base_gettimeofday_cached(io->base, &now);
	if (!timercmp(&now, &io->closeby, <)) {
		io_free(io);
		return;
	}
	if (io->state == IO_S_LINGER) {
		/* Bounded per wakeup: a flooding peer meets the deadline. */
		for (i = 0; i < 16; i++) {
			if ((n = read(io->fd, drop, sizeof(drop))) > 0)
				continue;
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			break;
		}
		if (i == 16)
			return;
		io_free(io);
		return;
	}
	if (io->state == IO_S_FLUSH) {
		if (io->queued && io_flush(io) == -1) {
			io_free(io);
			return;
		}
		if (io->queued)
			return;
		if (!io_is_tls(io)) {
			io_linger(io);
			return;
		}
		io->state = IO_S_SHUTDOWN;
	}
	r = io_tls_shutdown(io);
	if (r == TLS_WANT_POLLIN)
		io->hswant = EV_READ;
	else if (r == TLS_WANT_POLLOUT)
		io->hswant = EV_WRITE;
	else
		io_linger(io);	/* close_notify sent, or it failed */
}

static int
io_flush(struct io *io)
{
	int	 r;

	if (io_is_tls(io))
		r = io_flush_tls(io);
	else
		r = io_flush_plain(io, io->queued);
	/* From now on the socket says when to try again (io_reload()). */
	if (io->queued)
		io->flags |= IO_F_WBLOCKED;
	else
		io->flags &= ~IO_F_WBLOCKED;
	return r;
}

static int
io_flush_plain(struct io *io, size_t limit)
{
	struct iovec	 iov[IO_IOV_MAX];
	struct msghdr	 msg;
	struct iochunk	*c;
	size_t		 total = 0, len;
	ssize_t		 n;
	int		 i = 0;

	for (c = io->qhead; c != NULL && i < IO_IOV_MAX && total < limit;
	    c = c->next) {
		len = c->wpos - c->rpos;
		if (len > limit - total)
			len = limit - total;
		iov[i].iov_base = c->data + c->rpos;
		iov[i].iov_len = len;
		total += len;
		i++;
	}
	if (i == 0)
		return 0;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = i;
	/* MSG_NOSIGNAL: a peer gone away is an error, not a signal. */
	if ((n = sendmsg(io->fd, &msg, MSG_NOSIGNAL)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		io_seterror(io, "write: %s", strerror(errno));
		return -1;
	}
	io_qconsume(io, n);
	return 0;
}

static int
io_flush_tls(struct io *io)
{
	struct iochunk	*c;
	ssize_t		 n;

	while ((c = io->qhead) != NULL) {
		n = io_tls_send(io, c->data + c->rpos, c->wpos - c->rpos);
		if (n == TLS_WANT_POLLIN) {
			io->wwant = EV_READ;
			return 0;
		}
		if (n == TLS_WANT_POLLOUT) {
			io->wwant = EV_WRITE;
			return 0;
		}
		if (n == -1) {
			io_seterror(io, "TLS write: %s", io->error);
			return -1;
		}
		io->wwant = EV_WRITE;
		io_qconsume(io, n);
	}
	return 0;
}

static void
io_qconsume(struct io *io, size_t n)
{
	struct iochunk	*c;
	size_t		 k;

	while (n > 0 && (c = io->qhead) != NULL) {
		k = c->wpos - c->rpos;
		if (k > n)
			k = n;
		c->rpos += k;
		io->queued -= k;
		n -= k;
		if (c->rpos == c->wpos) {
			if ((io->qhead = c->next) == NULL)
				io->qtail = NULL;
			free(c);
		}
	}
}

/* Contiguous room for len bytes at the tail of the queue. */
static char *
io_reserve(struct io *io, size_t len)
{
	struct iochunk	*c;
	size_t		 size;

	if ((c = io->qtail) != NULL && c->size - c->wpos >= len)
		return c->data + c->wpos;
	size = len > IO_CHUNK_SIZE ? len : IO_CHUNK_SIZE;
	if ((c = malloc(sizeof(*c) + size)) == NULL)
		return NULL;
	c->next = NULL;
	c->rpos = c->wpos = 0;
	c->size = size;
	if (io->qtail != NULL)
		io->qtail->next = c;
	else
		io->qhead = c;
	io->qtail = c;
	return c->data;
}

/*
 * Read what is available.  Returns the number of bytes added, -1 on error
 * (io->error set); sets IO_F_EOF at end of stream and IO_F_FULL when the
 * buffer bound stopped the reading.
 */
static ssize_t
io_fill(struct io *io)
{
	size_t		 room;
	ssize_t		 n, total = 0;

	for (;;) {
		if (io_inroom(io, &room) == -1)
			return -1;
		if (room == 0) {
			io->flags |= IO_F_FULL;
			break;
		}
		if (io_is_tls(io)) {
			n = io_tls_recv(io, io->ibuf + io->iend, room);
			if (n == TLS_WANT_POLLIN) {
				io->rwant = EV_READ;
				break;
			}
			if (n == TLS_WANT_POLLOUT) {
				io->rwant = EV_WRITE;
				break;
			}
			if (n == -1 && io_tls_eof(io)) {
				/*
				 * The peer closed TCP without a close_notify.
				 * OpenSSL 3 (and libretls over it) calls that
				 * an error where LibreSSL reports EOF.  Mail
				 * clients do it all the time and every
				 * protocol here frames its own end, so it is
				 * a disconnect; the note stays for the log.
				 */
				io_seterror(io, "TLS peer closed without "
				    "close_notify");
				n = 0;
			} else if (n == -1) {
				io_seterror(io, "TLS read: %s", io->error);
				return -1;
			}
		} else {
			n = read(io->fd, io->ibuf + io->iend, room);
			if (n == -1) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR)
					break;
				io_seterror(io, "read: %s", strerror(errno));
				return -1;
			}
		}
		if (n == 0) {
			io->flags |= IO_F_EOF;
			break;
		}
		io->rwant = EV_READ;
		io->iend += n;
		total += n;
		/*
		 * A short plaintext read emptied the socket.  TLS returns
		 * at most a record per call and may hold more: libtls is
		 * read until it asks to wait.  libssl, reading ahead, took
		 * what the socket had and says whether it holds more; if
		 * not, the socket signals anything newer, and one more
		 * call would only fail with EAGAIN (and, with released
		 * buffers, allocate and free a record buffer for it).
		 */
		if ((size_t)n < room && (!io_is_tls(io) ||
		    (io->ssl != NULL && !SSL_has_pending(io->ssl))))
			break;
	}
	/*
	 * ACK what was read at once.  A client with Nagle on (most do)
	 * sends a message or an APPEND in TLS records, each smaller than
	 * loopback's or a LAN's segment once batched, and holds the last
	 * one until the records before it are ACKed; Linux leaves
	 * quick-ACK mode soon after the handshake and delays that ACK by
	 * up to 40 ms, on every DATA and APPEND (measured: 100 KB DATA
	 * 44 ms through the gateway, 1.4 ms straight to the sink;
	 * bench/latency.sh).  Quick-ACK mode does not stick, so it is set
	 * again after each read: one setsockopt() per read event.
	 */
	if (total > 0 && !(io->flags & IO_F_NOQUICKACK) &&
	    setsockopt(io->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){ 1 },
	    sizeof(int)) == -1)
		io->flags |= IO_F_NOQUICKACK;
	return total;
}

/* After a failed tls_read(): is the socket simply at end of stream? */
static int
io_tls_eof(struct io *io)
{
	char	 c;

	return recv(io->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Make room to read into; *room = 0 when the bound is reached. */
static int
io_inroom(struct io *io, size_t *room)
{
	size_t	 len = io->iend - io->ipos, nsize;
	char	*p;

	*room = 0;
	if (len >= io->imax)
		return 0;
	if (io->ibuf == NULL) {
		io->ibuf = io_scratch;
		io->isize = io->imax < sizeof(io_scratch) ? io->imax :
		    sizeof(io_scratch);
		io->ipos = io->iend = 0;
		io->flags |= IO_F_SCRATCH;
	}
	if (io->iend == io->isize && io->ipos > 0) {
		memmove(io->ibuf, io->ibuf + io->ipos, len);
		io->ipos = 0;
		io->iend = len;
	}
	if (io->iend == io->isize) {
		nsize = io->isize * 2;
		if (nsize > io->imax)
			nsize = io->imax;
		if (io->flags & IO_F_SCRATCH) {
			if ((p = malloc(nsize)) != NULL)
				memcpy(p, io->ibuf, len);
		} else
			p = realloc(io->ibuf, nsize);
		if (p == NULL) {
			io_seterror(io, "read: %s", strerror(ENOMEM));
			return -1;
		}
		io->flags &= ~IO_F_SCRATCH;
		io->ibuf = p;
		io->isize = nsize;
	}
	*room = io->isize - io->iend;
	if (*room > io->imax - len)
		*room = io->imax - len;
	return 0;
}

static void
io_in_consume(struct io *io, size_t n)
{
	io->ipos += n;
	if (io->ipos == io->iend)
		io->ipos = io->iend = 0;
	if (io->flags & IO_F_FULL && io->iend - io->ipos < io->imax) {
		/* The TLS library may hold more than the socket shows: read again. */
		io->flags &= ~IO_F_FULL;
		io->flags |= IO_F_RETRY;
		io_reload(io);
	}
}

static void
io_in_release(struct io *io)
{
	if (!(io->flags & IO_F_SCRATCH))
		free(io->ibuf);
	io->flags &= ~IO_F_SCRATCH;
	io->ibuf = NULL;
	io->isize = io->ipos = io->iend = 0;
}

/*
 * The handler is done: free an empty buffer and move what the owner left
 * in the scratch buffer to a private one sized for it.
 */
static void
io_in_settle(struct io *io)
{
	size_t	 len = io->iend - io->ipos, nsize;
	char	*p;

	if (io->ibuf == NULL)
		return;
	if (len == 0) {
		io_in_release(io);
		return;
	}
	if (!(io->flags & IO_F_SCRATCH))
		return;
	for (nsize = IO_INBUF_INIT; nsize < len; nsize *= 2)
		;
	if (nsize > io->imax)
		nsize = len > io->imax ? len : io->imax;
	if ((p = malloc(nsize)) == NULL) {
		io_in_release(io);
		io_seterror(io, "read: %s", strerror(ENOMEM));
		io->state = IO_S_FAILED;
		io->flags |= IO_F_ERRPEND;
		return;
	}
	memcpy(p, io->ibuf + io->ipos, len);
	io->flags &= ~IO_F_SCRATCH;
	io->ibuf = p;
	io->isize = nsize;
	io->ipos = 0;
	io->iend = len;
}

static void
io_reload(struct io *io)
{
	struct timeval	 tv;
	short		 want = 0;
	int		 tmo = io->timeout;

	/* io_dispatch() reloads once it unwinds. */
	if (io->busy || io->flags & IO_F_FREE)
		return;

	switch (io->state) {
	case IO_S_CONNECTING:
		want = EV_WRITE;
		tmo = io->ctimeout;
		break;
	case IO_S_TLSWAIT:
		want = EV_WRITE;
		break;
	case IO_S_HANDSHAKE:
		want = io->hswant;
		break;
	case IO_S_UP:
		/*
		 * No read at EOF or full: the timer then stops too, as we
		 * are not waiting on the peer.  Paused, the read event
		 * stays as it is (timer included, but its expiry is
		 * ignored) until it fires: most pauses (a lookup, an
		 * upstream's reply) end first, and dropping and re-adding
		 * it costs two epoll_ctl() calls.
		 */
		if (io->flags & IO_F_EOF || io->iend - io->ipos >= io->imax)
			;
		else if (!(io->flags & IO_F_PAUSED))
			want |= io->rwant;
		else if (!(io->flags & IO_F_PAUSEHIT) &&
		    (io->events & io->rwant)) {
			want |= io->rwant;
			tmo = io->armedtmo;
		}
		/*
		 * Output: tried from the loop first, as the socket nearly
		 * always has room; the socket is watched only once a write
		 * left something queued.
		 */
		if (io->queued && io->wwant == EV_WRITE &&
		    !(io->flags & IO_F_WBLOCKED))
			io->flags |= IO_F_FLUSHPEND;
		else if (io->queued)
			want |= io->wwant;
		break;
	case IO_S_FLUSH:
		want = io->queued ? io->wwant : EV_WRITE;
		tmo = IO_CLOSE_TIMEOUT;
		break;
	case IO_S_SHUTDOWN:
		want = io->hswant;
		tmo = IO_CLOSE_TIMEOUT;
		break;
	case IO_S_LINGER:
		want = EV_READ;
		tmo = IO_LINGER_TIMEOUT;
		break;
	default:
		break;
	}
	if (io->fd == -1)
		want = 0;
	if (want == 0)
		tmo = 0;

	if (want != 0 && want == io->events && tmo != io->armedtmo) {
		/* The timer alone: libevent leaves epoll alone for this. */
		io->armedtmo = tmo;
		if (tmo > 0) {
			tv.tv_sec = tmo / 1000;
			tv.tv_usec = (tmo % 1000) * 1000;
			event_add(io->ev, &tv);
		} else
			event_remove_timer(io->ev);
	} else if (want != io->events || tmo != io->armedtmo) {
		/*
		 * event_assign() also clears the persistent timeout, so an
		 * unarmed event activated by hand below is not re-added by
		 * libevent behind our back.
		 */
		event_del(io->ev);
		event_assign(io->ev, io->base, io->fd, want | EV_PERSIST,
		    io_dispatch, io);
		io->events = want;
		io->armedtmo = tmo;
		if (want && tmo > 0) {
			tv.tv_sec = tmo / 1000;
			tv.tv_usec = (tmo % 1000) * 1000;
			event_add(io->ev, &tv);
		} else if (want)
			event_add(io->ev, NULL);
	}
	if (io->flags & (IO_F_ERRPEND | IO_F_RETRY | IO_F_REDELIVER |
	    IO_F_LOWATPEND | IO_F_FLUSHPEND))
		event_active(io->ev, 0, 0);
}

static void
io_destroy(struct io *io)
{
	struct iochunk	*c;

	if (io->flags & IO_F_ASYNC && io->ssl != NULL) {
		/* Its job would otherwise stay paused for ever, with its
		 * stack: fail the operation and let the job finish. */
		if (io_async_abort != NULL)
			io_async_abort(io);
		io->flags &= ~IO_F_ASYNC;
		io_shaking = io;
		(void)SSL_do_handshake(io->ssl);
		io_shaking = NULL;
		ERR_clear_error();
	}
	event_free(io->ev);
	io_peerchain_drop(io);
	if (io->tls != NULL)
		tls_free(io->tls);
	/*
	 * A client that drops the connection after a complete handshake
	 * (no close_notify either way) would otherwise lose its session:
	 * OpenSSL removes a session from the cache when SSL_free() finds it
	 * not shut down.  Fatal alerts remove theirs on their own.
	 */
	if (io->ssl != NULL && SSL_is_init_finished(io->ssl))
		SSL_set_shutdown(io->ssl, SSL_get_shutdown(io->ssl) |
		    SSL_SENT_SHUTDOWN);
	SSL_free(io->ssl);
	if (io->fd != -1)
		close(io->fd);
	io_in_release(io);
	while ((c = io->qhead) != NULL) {
		io->qhead = c->next;
		free(c);
	}
	if (io->error != io_nomem)
		free(io->error);
	free(io);
	io_live--;
	if (io_peak - io_live >= IO_TRIM_MIN && io_live <= io_peak / 4) {
		(void)malloc_trim(0);
		io_peak = io_live;
	}
}

static void
io_seterror(struct io *io, const char *fmt, ...)
{
	char	 buf[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (io->error != io_nomem)
		free(io->error);
	if ((io->error = strdup(buf)) == NULL)
		io->error = io_nomem;
}

/* Returns 0 if the owner freed the io from the callback. */
static int
io_notify(struct io *io, int evt)
{
	if (io->cb != NULL && !(io->flags & IO_F_FREE))
		io->cb(io, evt, io->arg);
	return !(io->flags & IO_F_FREE);
}

static void
io_fail(struct io *io)
{
	io->state = IO_S_FAILED;
	io_notify(io, IO_ERROR);
}
