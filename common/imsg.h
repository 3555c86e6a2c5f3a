/*
 * imsg: framed messages between smtpcertd processes (and to smtpcertctl)
 * over stream sockets, with optional descriptor passing (SCM_RIGHTS).
 *
 * Our own small implementation: Debian has no libimsg.  The shape follows
 * OpenBSD's imsg(3) so readers of smtpd/bgpd feel at home, but the header
 * also carries a 64-bit request id, because every request that waits on
 * another process is keyed by one.
 *
 * Wire format, host byte order (both ends are the same host):
 *	struct imsg_hdr, then hdr.len - sizeof(hdr) bytes of payload.
 * A passed descriptor travels as ancillary data with the first byte of its
 * message; the receiver attaches it to that message.  No header flag says
 * "has a descriptor": the sender sends each such message in a sendmsg() of
 * its own, starting at its first byte, and Linux ends a stream read right
 * after data that carried descriptors (unix(7), "barrier"), so the
 * descriptors belong to the last message that starts in the read that
 * brought them.
 *
 * Every imsgbuf has a maximum message size.  A header announcing a length
 * smaller than the header or larger than the maximum is a framing error:
 * imsg_get() returns -1 with errno EBADMSG and the caller must drop the
 * peer (fatal for a peer process, disconnect for a control client).
 */
#ifndef SMTPCERTD_IMSG_H
#define SMTPCERTD_IMSG_H

#include <sys/types.h>
#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
/* Peer processes: big enough for a CA bundle or a config text. Large
 * data (CRLs) is passed as a descriptor, not inline. */
#define IMSG_MAXSIZE_PEER	(8U * 1024 * 1024)
/* Control clients are untrusted-ish: keep their messages small. */
#define IMSG_MAXSIZE_CTL	(16U * 1024)
/* Descriptors queued on receive before we refuse more. */
#define IMSG_MAXFDS		64

struct imsg_hdr {
	uint32_t	type;
	uint32_t	len;		/* header included */
	uint32_t	peerid;
	uint32_t	pid;
	uint64_t	reqid;
};

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 if none */
	void		*data;		/* payload, NULL if none */
	size_t		 datalen;	/* hdr.len - IMSG_HEADER_SIZE */
};

struct imsg_wbuf;			/* queued outgoing message */
TAILQ_HEAD(imsg_wqueue, imsg_wbuf);

struct imsg_fdslot {
	TAILQ_ENTRY(imsg_fdslot) entry;
	int			 fd;
	uint64_t		 msgoff;	/* stream offset of its message */
};

struct imsgbuf {
	int			 fd;
	pid_t			 pid;		/* our pid, stamped on sends */
	size_t			 maxsize;	/* max message incl. header */
	/* receive side: bytes read but not yet returned by imsg_get() */
	unsigned char		*rbuf;
	size_t			 rlen;		/* at rbuf + rpos */
	size_t			 rcap;
	size_t			 rpos;
	uint64_t		 rbase;		/* stream offset of rbuf[0] */
	uint64_t		 rscan;		/* next message start to locate */
	TAILQ_HEAD(, imsg_fdslot) rfds;		/* received descriptors */
	int			 nrfds;
	/* send side */
	struct imsg_wqueue	 wq;
	size_t			 wqlen;		/* messages queued */
};

/* Set up / tear down.  imsgbuf_clear() closes queued descriptors but not
 * ibuf->fd. */
void	imsgbuf_init(struct imsgbuf *, int fd, size_t maxsize);
void	imsgbuf_clear(struct imsgbuf *);

/*
 * Queue a message.  fd (or -1) is passed to the peer and closed here once
 * sent.  Returns 0, or -1 with errno (EMSGSIZE if too large for the
 * buffer's maximum, ENOMEM).  The descriptor is consumed either way: on
 * failure it is closed too, so error paths cannot leak it.
 */
int	imsg_compose(struct imsgbuf *, uint32_t type, uint32_t peerid,
	    uint64_t reqid, int fd, const void *data, size_t datalen);
int	imsg_composev(struct imsgbuf *, uint32_t type, uint32_t peerid,
	    uint64_t reqid, int fd, const struct iovec *iov, int iovcnt);

/*
 * Read what the socket has.  Returns bytes read (> 0), 0 on EOF, -1 on
 * error with errno; EAGAIN/EINTR return -1 with errno set so the caller
 * can tell "try again" from a real error.  The buffer grows only up to
 * the message maximum plus one header.  Other errors: EBADMSG (framing
 * broken, descriptors that do not start a message, or truncated control
 * data), ENOBUFS (buffer full of messages the caller has not taken with
 * imsg_get()).  Received descriptors are close-on-exec.
 */
ssize_t	imsgbuf_read(struct imsgbuf *);

/*
 * Write as much of the queue as the socket accepts.  Returns 0 (queue may
 * still be non-empty: check imsgbuf_queuelen()), -1 on error with errno
 * (EAGAIN is not an error: returns 0).
 */
int	imsgbuf_write(struct imsgbuf *);
/* Blocking flush, for the parent at start-up and for smtpcertctl. */
int	imsgbuf_flush(struct imsgbuf *);
size_t	imsgbuf_queuelen(struct imsgbuf *);

/*
 * Take the next complete message out of the read buffer.  Returns 1 with
 * *imsg filled (caller frees with imsg_free()), 0 if no complete message
 * is buffered yet, -1 on a framing error (errno EBADMSG).
 */
int	imsg_get(struct imsgbuf *, struct imsg *);
/* Frees the payload and closes a descriptor not taken with imsg_get_fd(). */
void	imsg_free(struct imsg *);

/* Take ownership of the message's descriptor (-1 if none). */
int	imsg_get_fd(struct imsg *);

/*
 * Exact-size decoding: copy the payload into a fixed struct.  Returns 0,
 * or -1 (errno EBADMSG) if datalen != len.
 */
int	imsg_get_data(const struct imsg *, void *, size_t);

/*
 * Typed builders and readers for variable-length payloads, so no code
 * memcpy()s fields by hand.  Strings travel as u32 length + bytes (no
 * NUL on the wire); msg_get_str() NUL-terminates and refuses embedded NULs
 * and lengths over the given limit.  A reader records the first error;
 * msg_end() returns -1 unless every byte was consumed and no error
 * occurred, so a decoder ends with "if (msg_end(&r) == -1) fatalx(...)".
 */
struct msgbuild {
	unsigned char	*buf;
	size_t		 len;
	size_t		 cap;
	int		 err;
};

struct msgreader {
	const unsigned char	*p;
	size_t			 left;
	int			 err;
};

void	msg_init(struct msgbuild *);
void	msg_reset(struct msgbuild *);
void	msg_put_u8(struct msgbuild *, uint8_t);
void	msg_put_u32(struct msgbuild *, uint32_t);
void	msg_put_u64(struct msgbuild *, uint64_t);
void	msg_put_i64(struct msgbuild *, int64_t);
void	msg_put_str(struct msgbuild *, const char *);	/* NULL as "" */
void	msg_put_data(struct msgbuild *, const void *, size_t); /* u32 len + bytes */
/* Queue the built payload; -1 if building failed or compose fails.  As
 * with imsg_compose(), fd is consumed either way.  The builder keeps its
 * contents: msg_reset() to build another message in the same buffer. */
int	msg_send(struct imsgbuf *, struct msgbuild *, uint32_t type,
	    uint32_t peerid, uint64_t reqid, int fd);
void	msg_free(struct msgbuild *);

void	msg_reader(struct msgreader *, const struct imsg *);
uint8_t	msg_get_u8(struct msgreader *);
uint32_t msg_get_u32(struct msgreader *);
uint64_t msg_get_u64(struct msgreader *);
int64_t	msg_get_i64(struct msgreader *);
/* Returns a malloc'd NUL-terminated copy, NULL on error (reader error set). */
char	*msg_get_str(struct msgreader *, size_t maxlen);
/* Returns a pointer into the message and its length; NULL on error. */
const void *msg_get_data(struct msgreader *, size_t *len, size_t maxlen);
int	msg_end(struct msgreader *);

#endif
