/*
 * Unit tests for common/imsg.c: framing, partial reads and writes,
 * descriptor passing and the msg_* builders and readers, run over real
 * non-blocking AF_UNIX stream socketpairs.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "test.h"

/* No single test may wait longer than this for its peer. */
#define PUMP_TIMEOUT_SEC	20
/* Whole binary: a hang must fail the run, not stall it. */
#define TEST_ALARM_SEC		300
#define BIG_LEN			(1024U * 1024)

struct pipefd {
	int	 rd;
	int	 wr;
};

static int	mkpair(int[2]);
static int	open_fds(void);
static int	fd_is_open(int);
static int	mkpipe(struct pipefd *);
static int	fd_is_pipe(int, const struct pipefd *);
static int	pump(struct imsgbuf *, struct imsgbuf *, struct imsg *);
static ssize_t	read_all_pending(struct imsgbuf *);
static int	raw_write(int, const void *, size_t);
static void	mkhdr(struct imsg_hdr *, uint32_t, uint32_t);
static void	fill_pattern(unsigned char *, size_t, unsigned int);
static int	check_pattern(const unsigned char *, size_t, unsigned int);

static void	test_roundtrip_small_message(void);
static void	test_roundtrip_empty_payload(void);
static void	test_roundtrip_max_size_ctl(void);
static void	test_roundtrip_max_size_peer(void);
static void	test_composev_concatenates_iovecs(void);
static void	test_compose_too_large_emsgsize(void);
static void	test_many_messages_one_read(void);
static void	test_partial_read_reassembles(void);
static void	test_oversize_header_ebadmsg(void);
static void	test_short_header_len_ebadmsg(void);
static void	test_eof_mid_message(void);
static void	test_fd_passing_pipe(void);
static void	test_fds_attach_to_right_messages(void);
static void	test_fds_attach_with_small_reads(void);
static void	test_fd_cap_closes_extras(void);
static void	test_ctrunc_closes_and_fails(void);
static void	test_fd_without_message_start_rejected(void);
static void	test_imsg_free_closes_unclaimed_fd(void);
static void	test_clear_closes_queued_fds(void);
static void	test_partial_writes_small_sndbuf(void);
static void	test_flush_blocks_until_sent(void);
static void	test_write_to_closed_peer_epipe(void);
static void	test_read_buffer_grows_only_as_needed(void);
static void	test_read_without_drain_enobufs(void);
static void	test_imsg_get_data_exact_size(void);
static void	test_msg_roundtrip_all_types(void);
static void	test_msg_reader_short_data(void);
static void	test_msg_reader_overlong_string(void);
static void	test_msg_reader_embedded_nul(void);
static void	test_msg_reader_trailing_bytes(void);
static void	test_msg_get_data_limits(void);
static void	test_msg_builder_errors(void);

static int
mkpair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv);
}

/* Descriptor count, to prove that no path leaks one. */
static int
open_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own descriptor */
}

static int
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static int
mkpipe(struct pipefd *p)
{
	int	 fds[2];

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	p->rd = fds[0];
	p->wr = fds[1];
	return 0;
}

/* Is fd an end of pipe p?  Both ends share one pipefs inode. */
static int
fd_is_pipe(int fd, const struct pipefd *p)
{
	struct stat	 a, b;

	if (fd == -1 || fstat(fd, &a) == -1 || fstat(p->rd, &b) == -1)
		return 0;
	return S_ISFIFO(a.st_mode) && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino;
}

/*
 * Drive writer w (may be NULL) and reader r until r yields a message.
 * Returns 1 with *m filled, 0 on EOF, -1 on error or timeout.
 */
static int
pump(struct imsgbuf *w, struct imsgbuf *r, struct imsg *m)
{
	struct pollfd	 pfd[2];
	time_t		 deadline = time(NULL) + PUMP_TIMEOUT_SEC;
	ssize_t		 n;
	int		 got, npfd;

	while (time(NULL) < deadline) {
		if (w != NULL && imsgbuf_write(w) == -1)
			return -1;
		if ((got = imsg_get(r, m)) != 0)
			return got;
		npfd = 0;
		pfd[npfd].fd = r->fd;
		pfd[npfd++].events = POLLIN;
		if (w != NULL && imsgbuf_queuelen(w) > 0) {
			pfd[npfd].fd = w->fd;
			pfd[npfd++].events = POLLOUT;
		}
		if (poll(pfd, npfd, 1000) == -1 && errno != EINTR)
			return -1;
		n = imsgbuf_read(r);
		if (n == 0)
			return 0;
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
	errno = ETIMEDOUT;
	return -1;
}

/* Read until the socket has nothing more; total bytes or -1. */
static ssize_t
read_all_pending(struct imsgbuf *r)
{
	ssize_t	 n, total = 0;

	for (;;) {
		n = imsgbuf_read(r);
		if (n == -1 && errno == EAGAIN)
			return total;
		if (n <= 0)
			return -1;
		total += n;
	}
}

/* Small raw writes for hand-made wire bytes: they fit the socket. */
static int
raw_write(int fd, const void *p, size_t len)
{
	return write(fd, p, len) == (ssize_t)len ? 0 : -1;
}

static void
mkhdr(struct imsg_hdr *h, uint32_t type, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->len = len;
	h->peerid = 7;
	h->pid = (uint32_t)getpid();
	h->reqid = 0x1122334455667788ULL;
}

static void
fill_pattern(unsigned char *p, size_t len, unsigned int seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 31 + seed) ^ (i >> 8));
}

static int
check_pattern(const unsigned char *p, size_t len, unsigned int seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)((i * 31 + seed) ^ (i >> 8)))
			return 0;
	return 1;
}

static void
test_roundtrip_small_message(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	int		 sv[2];
	const char	 payload[] = "hello, peer";

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	CHECK(a.pid == getpid());

	CHECK(imsg_compose(&a, 42, 9, 0xdeadbeefcafef00dULL, -1, payload,
	    sizeof(payload)) == 0);
	CHECK(imsgbuf_queuelen(&a) == 1);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(imsgbuf_queuelen(&a) == 0);
	CHECK(m.hdr.type == 42);
	CHECK(m.hdr.peerid == 9);
	CHECK(m.hdr.reqid == 0xdeadbeefcafef00dULL);
	CHECK(m.hdr.pid == (uint32_t)getpid());
	CHECK(m.hdr.len == IMSG_HEADER_SIZE + sizeof(payload));
	CHECK(m.datalen == sizeof(payload));
	CHECK(m.fd == -1);
	CHECK(m.data != NULL && memcmp(m.data, payload, sizeof(payload)) == 0);
	imsg_free(&m);
	CHECK(imsg_get(&b, &m) == 0);

	/* And the other way round on the same pair. */
	CHECK(imsg_compose(&b, 43, 0, 1, -1, "x", 1) == 0);
	CHECK(pump(&b, &a, &m) == 1);
	CHECK(m.hdr.type == 43 && m.datalen == 1);
	imsg_free(&m);

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_roundtrip_empty_payload(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	int		 sv[2];

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_CTL);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_CTL);
	CHECK(imsg_compose(&a, 5, 0, 0, -1, NULL, 0) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.hdr.type == 5);
	CHECK(m.hdr.len == IMSG_HEADER_SIZE);
	CHECK(m.datalen == 0 && m.data == NULL);
	imsg_free(&m);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_roundtrip_max_size_ctl(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	unsigned char	*buf;
	size_t		 len = IMSG_MAXSIZE_CTL - IMSG_HEADER_SIZE;
	int		 sv[2];

	CHECK((buf = malloc(len)) != NULL);
	fill_pattern(buf, len, 3);
	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_CTL);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_CTL);
	CHECK(imsg_compose(&a, 1, 0, 0, -1, buf, len) == 0);
	CHECK(imsg_compose(&a, 2, 0, 0, -1, buf, len) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.hdr.type == 1 && m.datalen == len);
	CHECK(check_pattern(m.data, m.datalen, 3));
	imsg_free(&m);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.hdr.type == 2 && m.datalen == len);
	CHECK(check_pattern(m.data, m.datalen, 3));
	imsg_free(&m);
	CHECK(b.rcap <= IMSG_MAXSIZE_CTL + IMSG_HEADER_SIZE);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
	free(buf);
}

static void
test_roundtrip_max_size_peer(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	unsigned char	*buf;
	size_t		 len = IMSG_MAXSIZE_PEER - IMSG_HEADER_SIZE;
	int		 sv[2];

	CHECK((buf = malloc(len)) != NULL);
	fill_pattern(buf, len, 11);
	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	CHECK(imsg_compose(&a, 77, 1, 2, -1, buf, len) == 0);
	CHECK(imsg_compose(&a, 78, 1, 3, -1, "tail", 4) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.hdr.type == 77 && m.hdr.len == IMSG_MAXSIZE_PEER);
	CHECK(m.datalen == len && check_pattern(m.data, m.datalen, 11));
	CHECK(b.rcap <= IMSG_MAXSIZE_PEER + IMSG_HEADER_SIZE);
	imsg_free(&m);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.hdr.type == 78 && m.hdr.reqid == 3 && m.datalen == 4);
	imsg_free(&m);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
	free(buf);
}

static void
test_composev_concatenates_iovecs(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	struct iovec	 iov[4];
	char		 big[IMSG_MAXSIZE_CTL];
	int		 sv[2];

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_CTL);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_CTL);
	iov[0].iov_base = (void *)"abc";
	iov[0].iov_len = 3;
	iov[1].iov_base = NULL;
	iov[1].iov_len = 0;
	iov[2].iov_base = (void *)"defg";
	iov[2].iov_len = 4;
	iov[3].iov_base = (void *)"h";
	iov[3].iov_len = 1;
	CHECK(imsg_composev(&a, 3, 4, 5, -1, iov, 4) == 0);
	CHECK(imsg_composev(&a, 6, 0, 0, -1, NULL, 0) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.hdr.type == 3 && m.datalen == 8);
	CHECK(m.data != NULL && memcmp(m.data, "abcdefgh", 8) == 0);
	imsg_free(&m);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.hdr.type == 6 && m.datalen == 0);
	imsg_free(&m);

	/* Each part fits, their sum does not. */
	memset(big, 'z', sizeof(big));
	iov[0].iov_base = big;
	iov[0].iov_len = sizeof(big) / 2;
	iov[1].iov_base = big;
	iov[1].iov_len = sizeof(big) / 2;
	errno = 0;
	CHECK(imsg_composev(&a, 1, 0, 0, -1, iov, 2) == -1);
	CHECK(errno == EMSGSIZE);
	CHECK(imsgbuf_queuelen(&a) == 0);

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_compose_too_large_emsgsize(void)
{
	struct imsgbuf	 a;
	struct pipefd	 p;
	char		*buf;
	size_t		 max = IMSG_MAXSIZE_CTL - IMSG_HEADER_SIZE;
	int		 sv[2], before;

	CHECK((buf = calloc(1, max + 1)) != NULL);
	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_CTL);

	errno = 0;
	CHECK(imsg_compose(&a, 1, 0, 0, -1, buf, max + 1) == -1);
	CHECK(errno == EMSGSIZE);
	CHECK(imsgbuf_queuelen(&a) == 0);
	CHECK(imsg_compose(&a, 1, 0, 0, -1, buf, max) == 0);
	CHECK(imsgbuf_queuelen(&a) == 1);

	/* A refused message's descriptor is closed, not leaked. */
	before = open_fds();
	CHECK(mkpipe(&p) == 0);
	errno = 0;
	CHECK(imsg_compose(&a, 1, 0, 0, p.wr, buf, max + 1) == -1);
	CHECK(errno == EMSGSIZE);
	CHECK(!fd_is_open(p.wr));
	close(p.rd);
	CHECK(open_fds() == before);

	imsgbuf_clear(&a);
	close(sv[0]);
	close(sv[1]);
	free(buf);
}

static void
test_many_messages_one_read(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	uint32_t	 i, v;
	ssize_t		 n;
	int		 sv[2], got = 0;
	const uint32_t	 count = 200;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	for (i = 0; i < count; i++)
		CHECK(imsg_compose(&a, 100 + i, i, i, -1, &i, sizeof(i)) == 0);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(imsgbuf_queuelen(&a) == 0);

	n = imsgbuf_read(&b);
	CHECK(n == (ssize_t)(count * (IMSG_HEADER_SIZE + sizeof(i))));
	for (i = 0; imsg_get(&b, &m) == 1; i++) {
		CHECK(m.hdr.type == 100 + i && m.hdr.reqid == i);
		CHECK(imsg_get_data(&m, &v, sizeof(v)) == 0 && v == i);
		imsg_free(&m);
		got++;
	}
	CHECK(got == (int)count);
	CHECK(b.rlen == 0);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_partial_read_reassembles(void)
{
	struct imsgbuf	 b;
	struct imsg	 m;
	struct imsg_hdr	 h;
	unsigned char	 wire[2 * (sizeof(h) + 10)];
	size_t		 i, msglen = sizeof(h) + 10;
	int		 sv[2], r, ngot = 0;

	mkhdr(&h, 9, (uint32_t)msglen);
	memcpy(wire, &h, sizeof(h));
	memcpy(wire + sizeof(h), "0123456789", 10);
	h.type = 10;
	memcpy(wire + msglen, &h, sizeof(h));
	memcpy(wire + msglen + sizeof(h), "abcdefghij", 10);

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	for (i = 0; i < sizeof(wire); i++) {
		CHECK(raw_write(sv[0], wire + i, 1) == 0);
		CHECK(imsgbuf_read(&b) == 1);
		r = imsg_get(&b, &m);
		if (i + 1 == msglen || i + 1 == sizeof(wire)) {
			/* Only the last byte of a message completes it. */
			CHECK(r == 1);
			if (r != 1)
				continue;
			ngot++;
			CHECK(m.hdr.type == (ngot == 1 ? 9U : 10U));
			CHECK(m.datalen == 10);
			CHECK(memcmp(m.data, ngot == 1 ? "0123456789" :
			    "abcdefghij", 10) == 0);
			CHECK(m.hdr.reqid == 0x1122334455667788ULL);
			imsg_free(&m);
		} else
			CHECK(r == 0);
	}
	CHECK(ngot == 2);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_oversize_header_ebadmsg(void)
{
	struct imsgbuf	 b;
	struct imsg	 m;
	struct imsg_hdr	 h;
	int		 sv[2];

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_CTL);
	/* The header alone is enough to refuse: no payload follows. */
	mkhdr(&h, 1, IMSG_MAXSIZE_CTL + 1);
	CHECK(raw_write(sv[0], &h, sizeof(h)) == 0);
	CHECK(imsgbuf_read(&b) == (ssize_t)sizeof(h));
	errno = 0;
	CHECK(imsg_get(&b, &m) == -1);
	CHECK(errno == EBADMSG);
	/* The buffer did not grow to the announced size. */
	CHECK(b.rcap <= IMSG_MAXSIZE_CTL + IMSG_HEADER_SIZE);
	imsgbuf_clear(&b);

	/* Exactly the maximum is still fine. */
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_CTL);
	mkhdr(&h, 1, IMSG_MAXSIZE_CTL);
	CHECK(raw_write(sv[0], &h, sizeof(h)) == 0);
	CHECK(imsgbuf_read(&b) == (ssize_t)sizeof(h));
	CHECK(imsg_get(&b, &m) == 0);
	imsgbuf_clear(&b);

	/* A huge length is refused the same way. */
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	mkhdr(&h, 1, UINT32_MAX);
	CHECK(raw_write(sv[0], &h, sizeof(h)) == 0);
	CHECK(read_all_pending(&b) > 0);
	errno = 0;
	CHECK(imsg_get(&b, &m) == -1);
	CHECK(errno == EBADMSG);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_short_header_len_ebadmsg(void)
{
	struct imsgbuf	 b;
	struct imsg	 m;
	struct imsg_hdr	 h;
	uint32_t	 lens[] = { 0, 1, IMSG_HEADER_SIZE - 1 };
	size_t		 i;
	int		 sv[2];

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		CHECK(mkpair(sv) == 0);
		imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
		mkhdr(&h, 1, lens[i]);
		CHECK(raw_write(sv[0], &h, sizeof(h)) == 0);
		CHECK(imsgbuf_read(&b) == (ssize_t)sizeof(h));
		errno = 0;
		CHECK(imsg_get(&b, &m) == -1);
		CHECK(errno == EBADMSG);
		imsgbuf_clear(&b);
		close(sv[0]);
		close(sv[1]);
	}
}

static void
test_eof_mid_message(void)
{
	struct imsgbuf	 b;
	struct imsg	 m;
	struct imsg_hdr	 h;
	int		 sv[2];

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	mkhdr(&h, 1, sizeof(h) + 100);
	CHECK(raw_write(sv[0], &h, sizeof(h)) == 0);
	CHECK(raw_write(sv[0], "only forty of the hundred bytes arrive..",
	    40) == 0);
	close(sv[0]);

	CHECK(imsgbuf_read(&b) == (ssize_t)sizeof(h) + 40);
	CHECK(imsg_get(&b, &m) == 0);
	CHECK(imsgbuf_read(&b) == 0);
	CHECK(imsg_get(&b, &m) == 0);
	CHECK(pump(NULL, &b, &m) == 0);
	imsgbuf_clear(&b);
	close(sv[1]);
}

static void
test_fd_passing_pipe(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	struct pipefd	 p;
	char		 buf[16];
	int		 sv[2], fd, before;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	before = open_fds();
	CHECK(mkpipe(&p) == 0);

	CHECK(imsg_compose(&a, 8, 0, 99, p.wr, "pipe", 4) == 0);
	CHECK(fd_is_open(p.wr));
	CHECK(imsgbuf_flush(&a) == 0);
	/* Sent means closed on our side. */
	CHECK(!fd_is_open(p.wr));

	CHECK(pump(NULL, &b, &m) == 1);
	CHECK(m.hdr.type == 8 && m.hdr.reqid == 99);
	CHECK(m.datalen == 4 && memcmp(m.data, "pipe", 4) == 0);
	CHECK(m.fd != -1);
	fd = imsg_get_fd(&m);
	CHECK(m.fd == -1);
	CHECK(imsg_get_fd(&m) == -1);
	imsg_free(&m);
	/* Taken descriptors survive imsg_free(). */
	CHECK(fd_is_open(fd));
	CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	CHECK(write(fd, "through", 7) == 7);
	close(fd);
	memset(buf, 0, sizeof(buf));
	CHECK(read(p.rd, buf, sizeof(buf)) == 7);
	CHECK(memcmp(buf, "through", 7) == 0);
	/* Every copy of the write end is gone: the reader sees EOF. */
	CHECK(read(p.rd, buf, sizeof(buf)) == 0);
	close(p.rd);
	CHECK(open_fds() == before);

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

/*
 * Messages 1, 4, 5 and 8 carry descriptors.  Everything is sent before
 * the receiver reads, so reads glue messages together: each descriptor
 * must still land on its own message.
 */
static void
test_fds_attach_to_right_messages(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	struct pipefd	 p[10];
	int		 hasfd[10] = { 0, 1, 0, 0, 1, 1, 0, 0, 1, 0 };
	int		 sv[2], i, j, before, fd;
	uint32_t	 idx;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	before = open_fds();
	for (i = 0; i < 10; i++) {
		p[i].rd = p[i].wr = -1;
		if (hasfd[i])
			CHECK(mkpipe(&p[i]) == 0);
		idx = (uint32_t)i;
		CHECK(imsg_compose(&a, 200, 0, (uint64_t)i, p[i].wr, &idx,
		    sizeof(idx)) == 0);
	}
	CHECK(imsgbuf_flush(&a) == 0);
	/* Read everything before taking any message. */
	CHECK(read_all_pending(&b) ==
	    10 * (ssize_t)(IMSG_HEADER_SIZE + sizeof(idx)));
	CHECK(b.nrfds == 4);

	for (i = 0; i < 10; i++) {
		CHECK(imsg_get(&b, &m) == 1);
		CHECK(imsg_get_data(&m, &idx, sizeof(idx)) == 0);
		CHECK(idx == (uint32_t)i);
		fd = imsg_get_fd(&m);
		if (!hasfd[i])
			CHECK(fd == -1);
		else {
			CHECK(fd_is_pipe(fd, &p[i]));
			/* ...and not some other message's pipe. */
			for (j = 0; j < 10; j++)
				if (j != i && hasfd[j])
					CHECK(!fd_is_pipe(fd, &p[j]));
			close(fd);
		}
		imsg_free(&m);
	}
	CHECK(imsg_get(&b, &m) == 0);
	CHECK(b.nrfds == 0);
	for (i = 0; i < 10; i++)
		if (hasfd[i])
			close(p[i].rd);
	CHECK(open_fds() == before);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A tiny maximum keeps the read buffer tiny, so messages arrive split
 * across reads and a descriptor often comes with a message whose header
 * is still incomplete.
 */
static void
test_fds_attach_with_small_reads(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	struct pipefd	 p[24];
	unsigned char	 payload[40];
	size_t		 len;
	int		 sv[2], i, before, fd, r, got = 0;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], 64);
	imsgbuf_init(&b, sv[1], 64);
	before = open_fds();
	for (i = 0; i < 24; i++) {
		p[i].rd = p[i].wr = -1;
		if (i % 3 != 0)
			CHECK(mkpipe(&p[i]) == 0);
		len = (size_t)(i * 7) % sizeof(payload);
		fill_pattern(payload, len, (unsigned int)i);
		CHECK(imsg_compose(&a, 300 + (uint32_t)i, 0, 0, p[i].wr,
		    payload, len) == 0);
	}
	CHECK(imsgbuf_flush(&a) == 0);

	while (got < 24) {
		r = pump(NULL, &b, &m);
		CHECK(r == 1);
		if (r != 1)
			break;
		CHECK(b.rcap <= 64 + IMSG_HEADER_SIZE);
		i = got++;
		CHECK(m.hdr.type == 300 + (uint32_t)i);
		len = (size_t)(i * 7) % sizeof(payload);
		CHECK(m.datalen == len && check_pattern(m.data, len,
		    (unsigned int)i));
		fd = imsg_get_fd(&m);
		if (p[i].wr == -1)
			CHECK(fd == -1);
		else {
			CHECK(fd_is_pipe(fd, &p[i]));
			close(fd);
		}
		imsg_free(&m);
	}
	CHECK(got == 24);
	for (i = 0; i < 24; i++)
		if (p[i].rd != -1)
			close(p[i].rd);
	CHECK(open_fds() == before);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_fd_cap_closes_extras(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	int		 sv[2], i, fd, before, withfd = 0;
	const int	 count = IMSG_MAXFDS + 3;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	before = open_fds();
	for (i = 0; i < count; i++) {
		CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
		CHECK(imsg_compose(&a, 1, 0, (uint64_t)i, fd, NULL, 0) == 0);
	}
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(open_fds() == before);
	CHECK(read_all_pending(&b) == count * (ssize_t)IMSG_HEADER_SIZE);
	CHECK(b.nrfds == IMSG_MAXFDS);
	CHECK(open_fds() == before + IMSG_MAXFDS);
	for (i = 0; i < count; i++) {
		CHECK(imsg_get(&b, &m) == 1);
		CHECK(m.hdr.reqid == (uint64_t)i);
		if (m.fd != -1)
			withfd++;
		/* The first IMSG_MAXFDS keep theirs, later ones lose it. */
		CHECK((m.fd != -1) == (i < IMSG_MAXFDS));
		imsg_free(&m);
	}
	CHECK(withfd == IMSG_MAXFDS);
	CHECK(open_fds() == before);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

/* More descriptors in one sendmsg() than the receiver takes at once. */
static void
test_ctrunc_closes_and_fails(void)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int) * 32)];
	} cmsgbuf;
	struct imsgbuf	 b;
	struct imsg_hdr	 h;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	int		 sv[2], fds[32], i, before;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	before = open_fds();
	for (i = 0; i < 32; i++)
		CHECK((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	mkhdr(&h, 1, sizeof(h));
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = &h;
	iov.iov_len = sizeof(h);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	CHECK(sendmsg(sv[0], &msg, 0) == (ssize_t)sizeof(h));
	for (i = 0; i < 32; i++)
		close(fds[i]);
	CHECK(open_fds() == before);

	errno = 0;
	CHECK(imsgbuf_read(&b) == -1);
	CHECK(errno == EBADMSG);
	CHECK(b.nrfds == 0);
	CHECK(open_fds() == before);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

/* A descriptor arriving with the middle of a message is a broken peer. */
static void
test_fd_without_message_start_rejected(void)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct imsgbuf	 b;
	struct imsg_hdr	 h;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	unsigned char	 wire[sizeof(h) + 8];
	int		 sv[2], fd, before;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	before = open_fds();
	mkhdr(&h, 1, sizeof(wire));
	memcpy(wire, &h, sizeof(h));
	memset(wire + sizeof(h), 'p', 8);

	CHECK(raw_write(sv[0], wire, 10) == 0);
	CHECK(imsgbuf_read(&b) == 10);

	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = wire + 10;
	iov.iov_len = sizeof(wire) - 10;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	CHECK(sendmsg(sv[0], &msg, 0) == (ssize_t)(sizeof(wire) - 10));
	close(fd);

	errno = 0;
	CHECK(imsgbuf_read(&b) == -1);
	CHECK(errno == EBADMSG);
	CHECK(open_fds() == before);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_imsg_free_closes_unclaimed_fd(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	struct pipefd	 p;
	char		 c;
	int		 sv[2], before;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	before = open_fds();
	CHECK(mkpipe(&p) == 0);
	CHECK(imsg_compose(&a, 1, 0, 0, p.wr, NULL, 0) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.fd != -1);
	imsg_free(&m);
	CHECK(m.fd == -1);
	/* No write end is left anywhere: the pipe reads EOF. */
	CHECK(read(p.rd, &c, 1) == 0);
	close(p.rd);
	CHECK(open_fds() == before);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_clear_closes_queued_fds(void)
{
	struct imsgbuf	 a, b;
	struct pipefd	 p, q;
	int		 sv[2], before;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	before = open_fds();
	CHECK(mkpipe(&p) == 0);
	CHECK(mkpipe(&q) == 0);

	/* One descriptor received but never taken with imsg_get()... */
	CHECK(imsg_compose(&a, 1, 0, 0, p.wr, "r", 1) == 0);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(read_all_pending(&b) > 0);
	CHECK(b.nrfds == 1);
	/* ...and one queued but never sent. */
	CHECK(imsg_compose(&a, 1, 0, 0, q.wr, "w", 1) == 0);
	CHECK(imsgbuf_queuelen(&a) == 1);

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	CHECK(imsgbuf_queuelen(&a) == 0 && b.nrfds == 0 && b.rbuf == NULL);
	/* The sockets themselves stay open. */
	CHECK(fd_is_open(sv[0]) && fd_is_open(sv[1]));
	close(p.rd);
	close(q.rd);
	CHECK(open_fds() == before);
	close(sv[0]);
	close(sv[1]);
}

static void
test_partial_writes_small_sndbuf(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	struct pipefd	 p;
	unsigned char	*big;
	int		 sv[2], sz = 4096, fd, r;

	CHECK((big = malloc(BIG_LEN)) != NULL);
	fill_pattern(big, BIG_LEN, 5);
	CHECK(mkpair(sv) == 0);
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) == 0);
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	CHECK(mkpipe(&p) == 0);

	CHECK(imsg_compose(&a, 1, 0, 1, -1, big, BIG_LEN) == 0);
	CHECK(imsg_compose(&a, 2, 0, 2, p.wr, "fd", 2) == 0);
	CHECK(imsg_compose(&a, 3, 0, 3, -1, big, BIG_LEN / 3) == 0);

	/* The socket takes only part of the first message. */
	CHECK(imsgbuf_write(&a) == 0);
	CHECK(imsgbuf_queuelen(&a) == 3);
	CHECK(imsgbuf_read(&b) > 0);
	CHECK(imsg_get(&b, &m) == 0);

	CHECK((r = pump(&a, &b, &m)) == 1);
	if (r == 1) {
		CHECK(m.hdr.type == 1 && m.datalen == BIG_LEN);
		CHECK(check_pattern(m.data, m.datalen, 5));
		CHECK(m.fd == -1);
		imsg_free(&m);
	}
	CHECK((r = pump(&a, &b, &m)) == 1);
	if (r == 1) {
		CHECK(m.hdr.type == 2 && m.datalen == 2);
		fd = imsg_get_fd(&m);
		CHECK(fd_is_pipe(fd, &p));
		if (fd != -1)
			close(fd);
		imsg_free(&m);
	}
	CHECK((r = pump(&a, &b, &m)) == 1);
	if (r == 1) {
		CHECK(m.hdr.type == 3 && m.datalen == BIG_LEN / 3);
		CHECK(check_pattern(m.data, m.datalen, 5));
		CHECK(m.fd == -1);
		imsg_free(&m);
	}
	CHECK(imsgbuf_queuelen(&a) == 0);
	close(p.rd);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
	free(big);
}

/* The child reads slowly while the parent flushes more than fits. */
static void
test_flush_blocks_until_sent(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	unsigned char	*big;
	pid_t		 pid;
	int		 sv[2], status, i, bad = 0;

	CHECK((big = malloc(BIG_LEN)) != NULL);
	fill_pattern(big, BIG_LEN, 9);
	CHECK(mkpair(sv) == 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
		for (i = 0; i < 4; i++) {
			usleep(20000);
			if (pump(NULL, &b, &m) != 1) {
				bad = 1;
				break;
			}
			if (m.hdr.type != (uint32_t)i || m.datalen != BIG_LEN ||
			    !check_pattern(m.data, m.datalen, 9))
				bad = 1;
			imsg_free(&m);
		}
		if (pump(NULL, &b, &m) != 0)	/* then EOF */
			bad = 1;
		imsgbuf_clear(&b);
		free(big);
		_exit(bad);
	}
	CHECK(pid != -1);
	close(sv[1]);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	for (i = 0; i < 4; i++)
		CHECK(imsg_compose(&a, (uint32_t)i, 0, 0, -1, big,
		    BIG_LEN) == 0);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(imsgbuf_queuelen(&a) == 0);
	imsgbuf_clear(&a);
	close(sv[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(big);
}

static void
test_write_to_closed_peer_epipe(void)
{
	struct imsgbuf	 a;
	int		 sv[2];

	CHECK(mkpair(sv) == 0);
	close(sv[1]);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	CHECK(imsg_compose(&a, 1, 0, 0, -1, "gone", 4) == 0);
	/* Reaching this line at all means no SIGPIPE killed us. */
	errno = 0;
	CHECK(imsgbuf_write(&a) == -1);
	CHECK(errno == EPIPE);
	CHECK(imsgbuf_queuelen(&a) == 1);
	errno = 0;
	CHECK(imsgbuf_flush(&a) == -1);
	CHECK(errno == EPIPE);
	imsgbuf_clear(&a);
	close(sv[0]);
}

static void
test_read_buffer_grows_only_as_needed(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	unsigned char	*big;
	size_t		 small_cap;
	int		 sv[2];

	CHECK((big = malloc(BIG_LEN)) != NULL);
	fill_pattern(big, BIG_LEN, 1);
	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	CHECK(b.rbuf == NULL && b.rcap == 0);

	CHECK(imsg_compose(&a, 1, 0, 0, -1, "s", 1) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	imsg_free(&m);
	small_cap = b.rcap;
	/* Small traffic keeps a small buffer, not the 8 MB maximum. */
	CHECK(small_cap >= IMSG_HEADER_SIZE && small_cap <= 64 * 1024);

	CHECK(imsg_compose(&a, 2, 0, 0, -1, big, BIG_LEN) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.datalen == BIG_LEN && check_pattern(m.data, BIG_LEN, 1));
	/* Grown to fit the message, not to the maximum. */
	CHECK(b.rcap >= BIG_LEN + IMSG_HEADER_SIZE);
	CHECK(b.rcap < 2 * BIG_LEN);
	imsg_free(&m);

	/* Once drained, the big buffer is given back. */
	CHECK(imsg_compose(&a, 3, 0, 0, -1, "s", 1) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.hdr.type == 3);
	imsg_free(&m);
	CHECK(b.rcap == small_cap);

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
	free(big);
}

/* A caller that reads and never takes messages gets told, not EOF. */
static void
test_read_without_drain_enobufs(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	int		 sv[2], i, got = 0;
	ssize_t		 n;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], 64);
	imsgbuf_init(&b, sv[1], 64);
	for (i = 0; i < 8; i++)
		CHECK(imsg_compose(&a, (uint32_t)i, 0, 0, -1, NULL, 0) == 0);
	CHECK(imsgbuf_flush(&a) == 0);

	CHECK(imsgbuf_read(&b) == (ssize_t)(64 + IMSG_HEADER_SIZE));
	errno = 0;
	CHECK(imsgbuf_read(&b) == -1);
	CHECK(errno == ENOBUFS);
	CHECK(b.rcap == 64 + IMSG_HEADER_SIZE);

	/* Taking messages frees room and the rest arrives. */
	while (got < 8) {
		while (imsg_get(&b, &m) == 1) {
			CHECK(m.hdr.type == (uint32_t)got);
			got++;
			imsg_free(&m);
		}
		if (got == 8)
			break;
		n = imsgbuf_read(&b);
		CHECK(n > 0);
		if (n <= 0)
			break;
	}
	CHECK(got == 8);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_imsg_get_data_exact_size(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	struct {
		uint32_t	x;
		uint64_t	y;
	} in, out;
	unsigned char	 raw[sizeof(in) + 1];
	int		 sv[2];

	memset(&in, 0, sizeof(in));
	in.x = 12345;
	in.y = UINT64_MAX - 1;
	memset(raw, 1, sizeof(raw));
	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);

	CHECK(imsg_compose(&a, 1, 0, 0, -1, &in, sizeof(in)) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	memset(&out, 0, sizeof(out));
	CHECK(imsg_get_data(&m, &out, sizeof(out)) == 0);
	CHECK(out.x == in.x && out.y == in.y);
	imsg_free(&m);

	/* One byte short and one byte long are both refused. */
	CHECK(imsg_compose(&a, 2, 0, 0, -1, raw, sizeof(in) - 1) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	errno = 0;
	CHECK(imsg_get_data(&m, &out, sizeof(out)) == -1);
	CHECK(errno == EBADMSG);
	imsg_free(&m);
	CHECK(imsg_compose(&a, 3, 0, 0, -1, raw, sizeof(in) + 1) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	errno = 0;
	CHECK(imsg_get_data(&m, &out, sizeof(out)) == -1);
	CHECK(errno == EBADMSG);
	imsg_free(&m);

	/* An empty message matches only an empty struct. */
	CHECK(imsg_compose(&a, 4, 0, 0, -1, NULL, 0) == 0);
	CHECK(pump(&a, &b, &m) == 1);
	CHECK(imsg_get_data(&m, NULL, 0) == 0);
	CHECK(imsg_get_data(&m, &out, sizeof(out)) == -1);
	imsg_free(&m);

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_msg_roundtrip_all_types(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	struct msgbuild	 mb;
	struct msgreader r;
	struct pipefd	 p;
	const unsigned char bin[] = { 0, 1, 2, 0, 255 };
	const void	*d;
	char		*s1, *s2, *s3;
	size_t		 dlen;
	int		 sv[2], fd;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_PEER);
	imsgbuf_init(&b, sv[1], IMSG_MAXSIZE_PEER);
	CHECK(mkpipe(&p) == 0);

	msg_init(&mb);
	msg_put_u8(&mb, 0xab);
	msg_put_u32(&mb, 0xfedcba98U);
	msg_put_u64(&mb, 0x0123456789abcdefULL);
	msg_put_i64(&mb, INT64_MIN + 5);
	msg_put_str(&mb, "ca.example.org");
	msg_put_str(&mb, "");
	msg_put_str(&mb, NULL);
	msg_put_data(&mb, bin, sizeof(bin));
	msg_put_data(&mb, NULL, 0);
	msg_put_i64(&mb, -1);
	CHECK(mb.err == 0);
	CHECK(msg_send(&a, &mb, 17, 2, 3, p.wr) == 0);
	msg_free(&mb);
	CHECK(mb.buf == NULL && mb.len == 0);

	CHECK(pump(&a, &b, &m) == 1);
	CHECK(m.hdr.type == 17 && m.hdr.peerid == 2 && m.hdr.reqid == 3);
	msg_reader(&r, &m);
	CHECK(msg_get_u8(&r) == 0xab);
	CHECK(msg_get_u32(&r) == 0xfedcba98U);
	CHECK(msg_get_u64(&r) == 0x0123456789abcdefULL);
	CHECK(msg_get_i64(&r) == INT64_MIN + 5);
	s1 = msg_get_str(&r, 255);
	s2 = msg_get_str(&r, 255);
	s3 = msg_get_str(&r, 0);
	CHECK(s1 != NULL && strcmp(s1, "ca.example.org") == 0);
	CHECK(s2 != NULL && s2[0] == '\0');
	CHECK(s3 != NULL && s3[0] == '\0');
	d = msg_get_data(&r, &dlen, sizeof(bin));
	CHECK(d != NULL && dlen == sizeof(bin));
	CHECK(d != NULL && memcmp(d, bin, sizeof(bin)) == 0);
	d = msg_get_data(&r, &dlen, 100);
	CHECK(d != NULL && dlen == 0);
	CHECK(msg_get_i64(&r) == -1);
	CHECK(msg_end(&r) == 0);
	fd = imsg_get_fd(&m);
	CHECK(fd_is_pipe(fd, &p));
	if (fd != -1)
		close(fd);
	free(s1);
	free(s2);
	free(s3);
	imsg_free(&m);

	/* msg_reset() reuses the buffer for the next message. */
	msg_init(&mb);
	msg_put_u32(&mb, 1);
	msg_reset(&mb);
	msg_put_u32(&mb, 2);
	CHECK(mb.len == sizeof(uint32_t));
	CHECK(msg_send(&a, &mb, 18, 0, 0, -1) == 0);
	msg_free(&mb);
	CHECK(pump(&a, &b, &m) == 1);
	msg_reader(&r, &m);
	CHECK(msg_get_u32(&r) == 2);
	CHECK(msg_end(&r) == 0);
	imsg_free(&m);

	close(p.rd);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_msg_reader_short_data(void)
{
	struct msgbuild	 mb;
	struct msgreader r;
	struct imsg	 m;
	const void	*d;
	char		*s;
	size_t		 dlen;

	msg_init(&mb);
	msg_put_u32(&mb, 7);
	msg_put_u8(&mb, 1);
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	m.data = mb.buf;
	m.datalen = mb.len;

	/* A u64 needs 8 bytes, there are 5. */
	msg_reader(&r, &m);
	CHECK(msg_get_u64(&r) == 0);
	CHECK(r.err != 0);
	/* The error sticks: later reads fail though bytes remain. */
	CHECK(msg_get_u32(&r) == 0);
	CHECK(msg_get_u8(&r) == 0);
	errno = 0;
	CHECK(msg_end(&r) == -1);
	CHECK(errno == EBADMSG);

	msg_reader(&r, &m);
	CHECK(msg_get_u32(&r) == 7);
	CHECK(msg_get_u8(&r) == 1);
	CHECK(msg_get_u8(&r) == 0);
	CHECK(msg_get_i64(&r) == 0);
	CHECK(msg_end(&r) == -1);

	/* A length prefix announcing more than the message holds. */
	msg_reader(&r, &m);		/* u32 7, then only one byte */
	d = msg_get_data(&r, &dlen, 100);
	CHECK(d == NULL && dlen == 0);
	CHECK(msg_end(&r) == -1);
	msg_reader(&r, &m);
	s = msg_get_str(&r, 100);
	CHECK(s == NULL);
	CHECK(msg_end(&r) == -1);

	/* Nothing at all to read. */
	m.data = NULL;
	m.datalen = 0;
	msg_reader(&r, &m);
	CHECK(msg_end(&r) == 0);
	msg_reader(&r, &m);
	CHECK(msg_get_u8(&r) == 0);
	CHECK(msg_end(&r) == -1);
	msg_free(&mb);
}

static void
test_msg_reader_overlong_string(void)
{
	struct msgbuild	 mb;
	struct msgreader r;
	struct imsg	 m;
	char		*s;

	msg_init(&mb);
	msg_put_str(&mb, "abcdef");
	msg_put_u32(&mb, 99);
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	m.data = mb.buf;
	m.datalen = mb.len;

	msg_reader(&r, &m);
	CHECK(msg_get_str(&r, 5) == NULL);
	CHECK(r.err != 0);
	/* A later field does not clear the error. */
	CHECK(msg_get_u32(&r) == 0);
	CHECK(msg_end(&r) == -1);

	/* The limit is inclusive. */
	msg_reader(&r, &m);
	s = msg_get_str(&r, 6);
	CHECK(s != NULL && strcmp(s, "abcdef") == 0);
	free(s);
	CHECK(msg_get_u32(&r) == 99);
	CHECK(msg_end(&r) == 0);
	msg_free(&mb);
}

static void
test_msg_reader_embedded_nul(void)
{
	struct msgbuild	 mb;
	struct msgreader r;
	struct imsg	 m;
	const void	*d;
	size_t		 dlen;

	msg_init(&mb);
	msg_put_data(&mb, "ab\0cd", 5);
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	m.data = mb.buf;
	m.datalen = mb.len;

	msg_reader(&r, &m);
	CHECK(msg_get_str(&r, 100) == NULL);
	errno = 0;
	CHECK(msg_end(&r) == -1);
	CHECK(errno == EBADMSG);

	/* As data the same bytes are fine. */
	msg_reader(&r, &m);
	d = msg_get_data(&r, &dlen, 100);
	CHECK(d != NULL && dlen == 5 && memcmp(d, "ab\0cd", 5) == 0);
	CHECK(msg_end(&r) == 0);
	msg_free(&mb);
}

static void
test_msg_reader_trailing_bytes(void)
{
	struct msgbuild	 mb;
	struct msgreader r;
	struct imsg	 m;

	msg_init(&mb);
	msg_put_u32(&mb, 5);
	msg_put_u8(&mb, 0);
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	m.data = mb.buf;
	m.datalen = mb.len;

	msg_reader(&r, &m);
	CHECK(msg_get_u32(&r) == 5);
	CHECK(r.err == 0);
	errno = 0;
	CHECK(msg_end(&r) == -1);
	CHECK(errno == EBADMSG);
	msg_free(&mb);
}

static void
test_msg_get_data_limits(void)
{
	struct msgbuild	 mb;
	struct msgreader r;
	struct imsg	 m;
	unsigned char	 blob[300];
	const void	*d;
	size_t		 dlen;

	memset(blob, 0x5a, sizeof(blob));
	msg_init(&mb);
	msg_put_data(&mb, blob, sizeof(blob));
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	m.data = mb.buf;
	m.datalen = mb.len;

	msg_reader(&r, &m);
	d = msg_get_data(&r, &dlen, sizeof(blob) - 1);
	CHECK(d == NULL && dlen == 0);
	CHECK(msg_end(&r) == -1);

	msg_reader(&r, &m);
	d = msg_get_data(&r, &dlen, sizeof(blob));
	/* A pointer into the message, not a copy. */
	CHECK(d == (const unsigned char *)mb.buf + sizeof(uint32_t));
	CHECK(dlen == sizeof(blob));
	CHECK(msg_end(&r) == 0);
	msg_free(&mb);
}

static void
test_msg_builder_errors(void)
{
	struct imsgbuf	 a;
	struct msgbuild	 mb;
	struct pipefd	 p;
	unsigned char	*blob;
	int		 sv[2], before;
	size_t		 ctlmax = IMSG_MAXSIZE_CTL;

	CHECK(mkpair(sv) == 0);
	imsgbuf_init(&a, sv[0], IMSG_MAXSIZE_CTL);
	before = open_fds();

	/* A failed put poisons the builder; send refuses and closes fd. */
	msg_init(&mb);
	msg_put_u32(&mb, 1);
	msg_put_data(&mb, NULL, 5);
	CHECK(mb.err != 0);
	msg_put_u32(&mb, 2);
	CHECK(mkpipe(&p) == 0);
	CHECK(msg_send(&a, &mb, 1, 0, 0, p.wr) == -1);
	CHECK(!fd_is_open(p.wr));
	CHECK(imsgbuf_queuelen(&a) == 0);
	close(p.rd);
	msg_reset(&mb);
	CHECK(mb.err == 0 && mb.len == 0);

	/* No imsgbuf could carry this: refused without allocating it. */
	msg_put_data(&mb, "x", (size_t)IMSG_MAXSIZE_PEER);
	CHECK(mb.err == EMSGSIZE);
	CHECK(mb.cap < 1024 * 1024);
	msg_reset(&mb);

	/* Fits the builder, not a control channel. */
	CHECK((blob = calloc(1, ctlmax)) != NULL);
	msg_put_data(&mb, blob, ctlmax);
	CHECK(mb.err == 0);
	errno = 0;
	CHECK(msg_send(&a, &mb, 1, 0, 0, -1) == -1);
	CHECK(errno == EMSGSIZE);
	CHECK(imsgbuf_queuelen(&a) == 0);
	msg_free(&mb);
	free(blob);

	CHECK(open_fds() == before);
	imsgbuf_clear(&a);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	log_init(1, 0);
	log_procinit("t_imsg");
	alarm(TEST_ALARM_SEC);

	RUN(test_roundtrip_small_message);
	RUN(test_roundtrip_empty_payload);
	RUN(test_roundtrip_max_size_ctl);
	RUN(test_roundtrip_max_size_peer);
	RUN(test_composev_concatenates_iovecs);
	RUN(test_compose_too_large_emsgsize);
	RUN(test_many_messages_one_read);
	RUN(test_partial_read_reassembles);
	RUN(test_oversize_header_ebadmsg);
	RUN(test_short_header_len_ebadmsg);
	RUN(test_eof_mid_message);
	RUN(test_fd_passing_pipe);
	RUN(test_fds_attach_to_right_messages);
	RUN(test_fds_attach_with_small_reads);
	RUN(test_fd_cap_closes_extras);
	RUN(test_ctrunc_closes_and_fails);
	RUN(test_fd_without_message_start_rejected);
	RUN(test_imsg_free_closes_unclaimed_fd);
	RUN(test_clear_closes_queued_fds);
	RUN(test_partial_writes_small_sndbuf);
	RUN(test_flush_blocks_until_sent);
	RUN(test_write_to_closed_peer_epipe);
	RUN(test_read_buffer_grows_only_as_needed);
	RUN(test_read_without_drain_enobufs);
	RUN(test_imsg_get_data_exact_size);
	RUN(test_msg_roundtrip_all_types);
	RUN(test_msg_reader_short_data);
	RUN(test_msg_reader_overlong_string);
	RUN(test_msg_reader_embedded_nul);
	RUN(test_msg_reader_trailing_bytes);
	RUN(test_msg_get_data_limits);
	RUN(test_msg_builder_errors);
	TEST_EXIT();
}
