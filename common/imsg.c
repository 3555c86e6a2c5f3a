/*
 * imsg: framed messages over stream sockets with descriptor passing.
 * See imsg.h for the wire format and the contract.
 *
 * Send side: a queue of whole messages (header and payload in one
 * allocation), written with sendmsg() and an iovec per message.  A message
 * carrying a descriptor is always sent in a sendmsg() of its own that
 * starts with its first byte, so the receiver can tell which message the
 * descriptor belongs to.
 *
 * Receive side: one buffer holding bytes not yet returned by imsg_get().
 * Positions are also kept as 64-bit offsets in the byte stream, so a
 * descriptor can be tied to the message it came with even when that
 * message is still incomplete and the buffer is later compacted.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"

/* First read buffer size: enough for many small messages per read. */
#define IMSG_RBUF_INIT		(16U * 1024)
/* Messages gathered into one sendmsg(); well below IOV_MAX. */
#define IMSG_WRITE_IOV		64
/*
 * Descriptors accepted by one recvmsg().  Our sender passes one per
 * sendmsg() and Linux ends a read after data that carried descriptors,
 * so more than one means a foreign or broken peer; more than this many
 * truncates the control data and the read fails.
 */
#define IMSG_RECV_FDS		8
#define IMSG_RECV_CMSGLEN	CMSG_SPACE(sizeof(int) * IMSG_RECV_FDS)
/* Largest payload a builder accepts: no imsgbuf could send more. */
#define MSG_BUILD_MAX		(IMSG_MAXSIZE_PEER - IMSG_HEADER_SIZE)

struct imsg_wbuf {
	TAILQ_ENTRY(imsg_wbuf)	 entry;
	int			 fd;	/* -1 once sent or if none */
	size_t			 len;	/* header + payload */
	size_t			 off;	/* bytes already written */
	unsigned char		 buf[];
};

static int	imsgbuf_rspace(struct imsgbuf *);
static int	imsgbuf_rscan(struct imsgbuf *, uint64_t, uint64_t,
		    uint64_t *);
static void	imsgbuf_wconsume(struct imsgbuf *, size_t);
static void	imsgbuf_closefds(int *, int);
static int	msg_grow(struct msgbuild *, size_t);
static void	msg_put(struct msgbuild *, const void *, size_t);
static int	msg_get(struct msgreader *, void *, size_t);

void
imsgbuf_init(struct imsgbuf *ibuf, int fd, size_t maxsize)
{
	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	ibuf->pid = getpid();
	ibuf->maxsize = maxsize;
	TAILQ_INIT(&ibuf->rfds);
	TAILQ_INIT(&ibuf->wq);
}

void
imsgbuf_clear(struct imsgbuf *ibuf)
{
	struct imsg_wbuf	*w;
	struct imsg_fdslot	*slot;

	while ((w = TAILQ_FIRST(&ibuf->wq)) != NULL) {
		TAILQ_REMOVE(&ibuf->wq, w, entry);
		if (w->fd != -1)
			close(w->fd);
		free(w);
	}
	ibuf->wqlen = 0;
	while ((slot = TAILQ_FIRST(&ibuf->rfds)) != NULL) {
		TAILQ_REMOVE(&ibuf->rfds, slot, entry);
		close(slot->fd);
		free(slot);
	}
	ibuf->nrfds = 0;
	free(ibuf->rbuf);
	ibuf->rbuf = NULL;
	ibuf->rbase += ibuf->rpos + ibuf->rlen;
	ibuf->rscan = ibuf->rbase;
	ibuf->rlen = ibuf->rcap = ibuf->rpos = 0;
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    uint64_t reqid, int fd, const void *data, size_t datalen)
{
	struct iovec	 iov;

	if (datalen > 0 && data == NULL) {
		if (fd != -1)
			close(fd);
		errno = EINVAL;
		return -1;
	}
	iov.iov_base = (void *)data;
	iov.iov_len = datalen;
	return imsg_composev(ibuf, type, peerid, reqid, fd, &iov,
	    datalen > 0 ? 1 : 0);
}

int
imsg_composev(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    uint64_t reqid, int fd, const struct iovec *iov, int iovcnt)
{
	struct imsg_wbuf	*w;
	struct imsg_hdr		 hdr;
	size_t			 datalen = 0, off;
	int			 i, saved_errno;

	if (iovcnt < 0 || (iovcnt > 0 && iov == NULL)) {
		errno = EINVAL;
		goto fail;
	}
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - datalen) {
			errno = EMSGSIZE;
			goto fail;
		}
		datalen += iov[i].iov_len;
	}
	/* The length must fit the header's u32 whatever maxsize says. */
	if (ibuf->maxsize < IMSG_HEADER_SIZE ||
	    datalen > ibuf->maxsize - IMSG_HEADER_SIZE ||
	    datalen > UINT32_MAX - IMSG_HEADER_SIZE) {
		errno = EMSGSIZE;
		goto fail;
	}
	if ((w = malloc(sizeof(*w) + IMSG_HEADER_SIZE + datalen)) == NULL)
		goto fail;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)(IMSG_HEADER_SIZE + datalen);
	hdr.peerid = peerid;
	hdr.pid = (uint32_t)ibuf->pid;
	hdr.reqid = reqid;

	w->fd = fd;
	w->len = IMSG_HEADER_SIZE + datalen;
	w->off = 0;
	memcpy(w->buf, &hdr, IMSG_HEADER_SIZE);
	off = IMSG_HEADER_SIZE;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(w->buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	TAILQ_INSERT_TAIL(&ibuf->wq, w, entry);
	ibuf->wqlen++;
	return 0;

 fail:
	/* The descriptor is ours from the call on; do not leak it. */
	if (fd != -1) {
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
	}
	return -1;
}

/*
 * Make room to read into: compact, then grow only when the first pending
 * message does not fit, never beyond maxsize plus one header.
 */
static int
imsgbuf_rspace(struct imsgbuf *ibuf)
{
	struct imsg_hdr	 hdr;
	unsigned char	*p;
	size_t		 bound, want;

	if (ibuf->rpos > 0) {
		memmove(ibuf->rbuf, ibuf->rbuf + ibuf->rpos, ibuf->rlen);
		ibuf->rbase += ibuf->rpos;
		ibuf->rpos = 0;
	}
	/* One large message must not pin a large buffer for ever. */
	if (ibuf->rlen == 0 && ibuf->rcap > IMSG_RBUF_INIT) {
		free(ibuf->rbuf);
		ibuf->rbuf = NULL;
		ibuf->rcap = 0;
	}

	bound = ibuf->maxsize + IMSG_HEADER_SIZE;
	want = ibuf->rcap;
	if (want < IMSG_RBUF_INIT)
		want = IMSG_RBUF_INIT;
	if (want > bound)
		want = bound;
	if (ibuf->rlen >= IMSG_HEADER_SIZE) {
		memcpy(&hdr, ibuf->rbuf, IMSG_HEADER_SIZE);
		if (hdr.len < IMSG_HEADER_SIZE || hdr.len > ibuf->maxsize) {
			/* Let imsg_get() report it, unless we cannot read. */
			if (ibuf->rlen == ibuf->rcap) {
				errno = EBADMSG;
				return -1;
			}
			return 0;
		}
		if (hdr.len > want)
			want = hdr.len;
	}
	if (ibuf->rlen == want) {
		/* Full of complete messages the caller has not taken. */
		want = want > bound / 2 ? bound : want * 2;
		if (ibuf->rlen == want) {
			errno = ENOBUFS;
			return -1;
		}
	}
	if (want > ibuf->rcap) {
		if ((p = realloc(ibuf->rbuf, want)) == NULL)
			return -1;
		ibuf->rbuf = p;
		ibuf->rcap = want;
	}
	return 0;
}

/*
 * Walk the message starts that new bytes [from, to) of the stream made
 * visible.  Sets *last to the last start inside [from, to), or
 * UINT64_MAX if none; returns 1 if there was one.  Stops at a bad header:
 * imsg_get() reports it when the caller reaches it.
 */
static int
imsgbuf_rscan(struct imsgbuf *ibuf, uint64_t from, uint64_t to,
    uint64_t *last)
{
	struct imsg_hdr	 hdr;
	uint64_t	 s;
	size_t		 i;

	*last = UINT64_MAX;
	for (s = ibuf->rscan; s < to; s += hdr.len) {
		if (s >= from)
			*last = s;
		i = (size_t)(s - ibuf->rbase);
		if (ibuf->rpos + ibuf->rlen - i < IMSG_HEADER_SIZE)
			break;
		memcpy(&hdr, ibuf->rbuf + i, IMSG_HEADER_SIZE);
		if (hdr.len < IMSG_HEADER_SIZE || hdr.len > ibuf->maxsize)
			break;
	}
	ibuf->rscan = s;
	return *last != UINT64_MAX;
}

ssize_t
imsgbuf_read(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[IMSG_RECV_CMSGLEN];
	} cmsgbuf;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct cmsghdr		*cmsg;
	struct imsg_fdslot	*slot;
	uint64_t		 from, last;
	ssize_t			 n;
	size_t			 i, cnt;
	int			 fds[IMSG_RECV_FDS], nfds = 0, dropped = 0;

	/* Compacts too: pending bytes now start at rbuf[0]. */
	if (imsgbuf_rspace(ibuf) == -1)
		return -1;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = ibuf->rcap - ibuf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	/* A received descriptor must not leak into a program we exec. */
	if ((n = recvmsg(ibuf->fd, &msg, MSG_CMSG_CLOEXEC)) == -1)
		return -1;

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < cnt && nfds < IMSG_RECV_FDS; i++)
			memcpy(&fds[nfds++], CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		/* The kernel dropped some: a message would miss its fd. */
		imsgbuf_closefds(fds, nfds);
		errno = EBADMSG;
		return -1;
	}
	if (n == 0) {
		imsgbuf_closefds(fds, nfds);
		return 0;
	}

	from = ibuf->rbase + ibuf->rlen;
	ibuf->rlen += (size_t)n;
	if (!imsgbuf_rscan(ibuf, from, from + (uint64_t)n, &last) &&
	    nfds > 0) {
		/* Descriptors must come with the first byte of a message. */
		imsgbuf_closefds(fds, nfds);
		errno = EBADMSG;
		return -1;
	}
	for (i = 0; i < (size_t)nfds; i++) {
		if (ibuf->nrfds >= IMSG_MAXFDS ||
		    (slot = malloc(sizeof(*slot))) == NULL) {
			close(fds[i]);
			dropped++;
			continue;
		}
		slot->fd = fds[i];
		slot->msgoff = last;
		TAILQ_INSERT_TAIL(&ibuf->rfds, slot, entry);
		ibuf->nrfds++;
	}
	if (dropped > 0)
		log_warnx("%s: %d received descriptor(s) dropped, %d queued",
		    __func__, dropped, ibuf->nrfds);
	return n;
}

static void
imsgbuf_closefds(int *fds, int nfds)
{
	int	 i;

	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

int
imsgbuf_write(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct iovec		 iov[IMSG_WRITE_IOV];
	struct msghdr		 msg;
	struct cmsghdr		*cmsg;
	struct imsg_wbuf	*head, *w;
	ssize_t			 n;
	int			 iovcnt;

	while ((head = TAILQ_FIRST(&ibuf->wq)) != NULL) {
		memset(&msg, 0, sizeof(msg));
		iovcnt = 0;
		TAILQ_FOREACH(w, &ibuf->wq, entry) {
			/* A descriptor must start its own sendmsg(). */
			if (iovcnt == IMSG_WRITE_IOV ||
			    (w != head && w->fd != -1))
				break;
			iov[iovcnt].iov_base = w->buf + w->off;
			iov[iovcnt].iov_len = w->len - w->off;
			iovcnt++;
			/*
			 * ...and have it to itself, so that the read that
			 * brings the descriptor holds no later message start.
			 */
			if (w->fd != -1)
				break;
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = iovcnt;
		if (head->fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cmsg), &head->fd, sizeof(int));
		}

		/* A dead peer is an error to report, not a SIGPIPE. */
		if ((n = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		/* Any byte sent means the descriptor went with it. */
		if (head->fd != -1 && n > 0) {
			close(head->fd);
			head->fd = -1;
		}
		imsgbuf_wconsume(ibuf, (size_t)n);
	}
	return 0;
}

static void
imsgbuf_wconsume(struct imsgbuf *ibuf, size_t n)
{
	struct imsg_wbuf	*w;
	size_t			 left;

	while (n > 0 && (w = TAILQ_FIRST(&ibuf->wq)) != NULL) {
		left = w->len - w->off;
		if (n < left) {
			w->off += n;
			return;
		}
		n -= left;
		TAILQ_REMOVE(&ibuf->wq, w, entry);
		ibuf->wqlen--;
		free(w);
	}
}

int
imsgbuf_flush(struct imsgbuf *ibuf)
{
	struct pollfd	 pfd;
	int		 r;

	while (ibuf->wqlen > 0) {
		if (imsgbuf_write(ibuf) == -1)
			return -1;
		if (ibuf->wqlen == 0)
			break;
		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if ((r = poll(&pfd, 1, -1)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd.revents & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
		/* POLLHUP/POLLERR: the next write reports the error. */
	}
	return 0;
}

size_t
imsgbuf_queuelen(struct imsgbuf *ibuf)
{
	return ibuf->wqlen;
}

int
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr		 hdr;
	struct imsg_fdslot	*slot;
	uint64_t		 msgoff;
	size_t			 avail, datalen;
	void			*data = NULL;
	int			 fd = -1;

	avail = ibuf->rlen;
	if (avail < IMSG_HEADER_SIZE)
		return 0;
	memcpy(&hdr, ibuf->rbuf + ibuf->rpos, IMSG_HEADER_SIZE);
	if (hdr.len < IMSG_HEADER_SIZE || hdr.len > ibuf->maxsize) {
		errno = EBADMSG;
		return -1;
	}
	if (avail < hdr.len)
		return 0;

	datalen = hdr.len - IMSG_HEADER_SIZE;
	if (datalen > 0) {
		if ((data = malloc(datalen)) == NULL)
			return -1;
		memcpy(data, ibuf->rbuf + ibuf->rpos + IMSG_HEADER_SIZE,
		    datalen);
	}

	/*
	 * Slots are in stream order.  More than one for this message (a
	 * foreign sender) or one for an earlier message cannot be used.
	 */
	msgoff = ibuf->rbase + ibuf->rpos;
	while ((slot = TAILQ_FIRST(&ibuf->rfds)) != NULL &&
	    slot->msgoff <= msgoff) {
		TAILQ_REMOVE(&ibuf->rfds, slot, entry);
		ibuf->nrfds--;
		if (slot->msgoff == msgoff && fd == -1)
			fd = slot->fd;
		else
			close(slot->fd);
		free(slot);
	}

	imsg->hdr = hdr;
	imsg->fd = fd;
	imsg->data = data;
	imsg->datalen = datalen;

	ibuf->rpos += hdr.len;
	ibuf->rlen -= hdr.len;
	if (ibuf->rlen == 0) {
		ibuf->rbase += ibuf->rpos;
		ibuf->rpos = 0;
	}
	return 1;
}

void
imsg_free(struct imsg *imsg)
{
	free(imsg->data);
	imsg->data = NULL;
	imsg->datalen = 0;
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
}

int
imsg_get_fd(struct imsg *imsg)
{
	int	 fd = imsg->fd;

	imsg->fd = -1;
	return fd;
}

int
imsg_get_data(const struct imsg *imsg, void *buf, size_t len)
{
	if (imsg->datalen != len) {
		errno = EBADMSG;
		return -1;
	}
	if (len > 0)
		memcpy(buf, imsg->data, len);
	return 0;
}

void
msg_init(struct msgbuild *b)
{
	memset(b, 0, sizeof(*b));
}

void
msg_reset(struct msgbuild *b)
{
	b->len = 0;
	b->err = 0;
}

void
msg_free(struct msgbuild *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

static int
msg_grow(struct msgbuild *b, size_t n)
{
	unsigned char	*p;
	size_t		 cap;

	if (b->err)
		return -1;
	if (n > MSG_BUILD_MAX - b->len) {
		b->err = EMSGSIZE;
		return -1;
	}
	if (b->len + n <= b->cap)
		return 0;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < b->len + n)
		cap *= 2;
	if ((p = realloc(b->buf, cap)) == NULL) {
		b->err = ENOMEM;
		return -1;
	}
	b->buf = p;
	b->cap = cap;
	return 0;
}

static void
msg_put(struct msgbuild *b, const void *p, size_t n)
{
	if (msg_grow(b, n) == -1)
		return;
	if (n > 0)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void
msg_put_u8(struct msgbuild *b, uint8_t v)
{
	msg_put(b, &v, sizeof(v));
}

void
msg_put_u32(struct msgbuild *b, uint32_t v)
{
	msg_put(b, &v, sizeof(v));
}

void
msg_put_u64(struct msgbuild *b, uint64_t v)
{
	msg_put(b, &v, sizeof(v));
}

void
msg_put_i64(struct msgbuild *b, int64_t v)
{
	msg_put(b, &v, sizeof(v));
}

void
msg_put_str(struct msgbuild *b, const char *s)
{
	if (s == NULL)
		s = "";
	msg_put_data(b, s, strlen(s));
}

void
msg_put_data(struct msgbuild *b, const void *p, size_t n)
{
	/* Check the whole item first so a failure leaves no half item. */
	if (n > UINT32_MAX || (n > 0 && p == NULL)) {
		if (b->err == 0)
			b->err = n > UINT32_MAX ? EMSGSIZE : EINVAL;
		return;
	}
	if (msg_grow(b, sizeof(uint32_t) + n) == -1)
		return;
	msg_put_u32(b, (uint32_t)n);
	msg_put(b, p, n);
}

int
msg_send(struct imsgbuf *ibuf, struct msgbuild *b, uint32_t type,
    uint32_t peerid, uint64_t reqid, int fd)
{
	if (b->err) {
		if (fd != -1)
			close(fd);
		errno = b->err;
		return -1;
	}
	return imsg_compose(ibuf, type, peerid, reqid, fd, b->buf, b->len);
}

void
msg_reader(struct msgreader *r, const struct imsg *imsg)
{
	r->p = imsg->data;
	r->left = imsg->datalen;
	r->err = 0;
}

/* Copy n bytes out, or record the first error and yield zeroes. */
static int
msg_get(struct msgreader *r, void *p, size_t n)
{
	if (r->err == 0 && r->left < n)
		r->err = EBADMSG;
	if (r->err) {
		memset(p, 0, n);
		return -1;
	}
	memcpy(p, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

uint8_t
msg_get_u8(struct msgreader *r)
{
	uint8_t	 v;

	msg_get(r, &v, sizeof(v));
	return v;
}

uint32_t
msg_get_u32(struct msgreader *r)
{
	uint32_t v;

	msg_get(r, &v, sizeof(v));
	return v;
}

uint64_t
msg_get_u64(struct msgreader *r)
{
	uint64_t v;

	msg_get(r, &v, sizeof(v));
	return v;
}

int64_t
msg_get_i64(struct msgreader *r)
{
	int64_t	 v;

	msg_get(r, &v, sizeof(v));
	return v;
}

const void *
msg_get_data(struct msgreader *r, size_t *len, size_t maxlen)
{
	const unsigned char	*p;
	uint32_t		 n;

	*len = 0;
	if (msg_get(r, &n, sizeof(n)) == -1)
		return NULL;
	if (n > maxlen || n > r->left) {
		r->err = EBADMSG;
		return NULL;
	}
	/* An empty item is valid: never answer it with NULL. */
	if (n == 0)
		return "";
	p = r->p;
	r->p += n;
	r->left -= n;
	*len = n;
	return p;
}

char *
msg_get_str(struct msgreader *r, size_t maxlen)
{
	const void	*p;
	char		*s;
	size_t		 n;

	if ((p = msg_get_data(r, &n, maxlen)) == NULL)
		return NULL;
	if (memchr(p, '\0', n) != NULL) {
		r->err = EBADMSG;
		return NULL;
	}
	if ((s = malloc(n + 1)) == NULL) {
		r->err = ENOMEM;
		return NULL;
	}
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int
msg_end(struct msgreader *r)
{
	if (r->err == 0 && r->left > 0)
		r->err = EBADMSG;
	if (r->err) {
		errno = r->err;
		return -1;
	}
	return 0;
}
