/*
 * imsg framing and the typed readers (common/imsg.c, common/confmsg.c),
 * from the receiving side: a compromised peer process (or a control
 * client, with the control socket's small maximum) writes arbitrary
 * bytes, in chunks, some with a descriptor attached.  The receiver reads
 * with imsgbuf_read() after each chunk and takes messages with
 * imsg_get() until it refuses; each message is read by a typed reader
 * whose fields the fuzzer chooses from the message's type (the msg_get_*
 * calls every handler is made of), configuration messages go through
 * confmsg_recv() as a child takes them.  Checked: readers stay inside
 * the payload, strings are NUL-terminated without NULs within their
 * bound, msg_end() only passes a fully consumed message, and no
 * descriptor leaks whatever the framing does.
 *
 * Input: chunks of [flags u8][len u8] bytes; flags bit 0 sends the chunk
 * with a descriptor, bit 1 ends the chunk list, the first byte's bit 7
 * picks the control clients' maximum size.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confmsg.h"
#include "imsg.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
next_fd(void)
{
	int	 fd = dup(0);

	if (fd != -1)
		close(fd);
	return fd;
}

static void
send_chunk(int fd, const uint8_t *p, size_t len, int withfd)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	int		 pass = -1;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (withfd && (pass = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &pass, sizeof(int));
	}
	(void)sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (pass != -1)
		close(pass);
}

/* A typed reader: the message's type picks the fields it reads. */
static void
read_typed(struct imsg *imsg)
{
	struct msgreader	 r;
	const unsigned char	*d, *base = imsg->data;
	uint32_t		 sel = imsg->hdr.type ^ imsg->hdr.peerid;
	size_t			 len, maxlen, consumed = 0;
	char			*s;
	int			 i;

	msg_reader(&r, imsg);
	for (i = 0; i < 8; i++, sel >>= 3) {
		maxlen = (sel & 1) ? 64 : 4096;
		switch (sel & 7) {
		case 0:
			(void)msg_get_u8(&r);
			break;
		case 1:
			(void)msg_get_u32(&r);
			break;
		case 2:
			(void)msg_get_u64(&r);
			break;
		case 3:
			(void)msg_get_i64(&r);
			break;
		case 4:
		case 5:
			if ((s = msg_get_str(&r, maxlen)) != NULL) {
				if (strlen(s) > maxlen)
					abort();
				free(s);
			}
			break;
		default:
			/* (an empty item is a static "", not in the payload) */
			if ((d = msg_get_data(&r, &len, maxlen)) != NULL &&
			    len > 0 && (len > maxlen || d < base ||
			    d + len > base + imsg->datalen))
				abort();
			break;
		}
		if (r.err)
			break;
	}
	if (!r.err)
		consumed = imsg->datalen - r.left;
	if (msg_end(&r) == 0 && consumed != imsg->datalen)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsgbuf		 ib;
	struct imsg		 imsg;
	struct conf_bundle	*pending = NULL, *done = NULL;
	size_t			 off = 1, len;
	int			 sv[2], fd0, flags, r, dead = 0;
	uint64_t		 v;

	if (size < 1)
		return 0;
	fd0 = next_fd();
	/* Non-blocking, as every process's channels are. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	imsgbuf_init(&ib, sv[0], data[0] & 0x80 ? IMSG_MAXSIZE_CTL :
	    IMSG_MAXSIZE_PEER);
	while (off + 2 <= size && !dead) {
		flags = data[off];
		len = data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		if (flags & 2)
			len = size - off;
		if (len > 0)
			send_chunk(sv[1], data + off, len, flags & 1);
		off += len;
		if (imsgbuf_read(&ib) == -1 && errno != EAGAIN)
			break;
		while ((r = imsg_get(&ib, &imsg)) == 1) {
			if (imsg.datalen != imsg.hdr.len - IMSG_HEADER_SIZE ||
			    imsg.hdr.len > ib.maxsize)
				abort();
			(void)imsg_type_name(imsg.hdr.type);
			read_typed(&imsg);
			(void)imsg_get_data(&imsg, &v, sizeof(v));
			if (confmsg_is_conf(imsg.hdr.type)) {
				if (confmsg_recv(&pending, &imsg, &done) == -1) {
					/* Fatal for a child: stop reading. */
					dead = 1;
				}
				if (done != NULL) {
					conf_bundle_free(done);
					done = NULL;
				}
			}
			if ((imsg.hdr.type & 1) && (r = imsg_get_fd(&imsg)) != -1)
				close(r);
			imsg_free(&imsg);
			if (dead)
				break;
		}
		if (r == -1)
			break;
	}
	conf_bundle_free(pending);
	imsgbuf_clear(&ib);
	close(sv[0]);
	close(sv[1]);
	if (next_fd() != fd0)	/* a received descriptor leaked */
		abort();
	return 0;
}
