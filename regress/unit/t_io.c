/*
 * Unit tests for smtpcertd/front/io.c: line reading, limits, backpressure, output
 * draining, TLS both ways (with a throwaway PKI made here with libcrypto),
 * the STARTTLS injection rule, error paths and freeing an io from inside
 * its own callback.  One process, one event loop, socketpairs and
 * loopback TCP on 127.0.0.1 port 0.
 *
 * The server side runs on common/tlsserver.c (libssl), the client side on
 * libtls, as in the front.  OpenSSL's allocations are counted (through
 * CRYPTO_set_mem_functions(), set before anything else) so a test can
 * tell what an idle server session keeps.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <tls.h>

#include "certfields.h"
#include "io.h"
#include "test.h"
#include "tlsserver.h"

/* A hang must fail the run, not stall it. */
#define TEST_ALARM_SEC	120
#define WAIT_MS		5000
#define MAXLINES	16
/*
 * OpenSSL memory an idle server session may keep: the connection and
 * session objects, its keys, the client's decoded certificate and chain
 * -- about 23 KB with a client certificate (OpenSSL 3.0, P-256, TLS
 * 1.3).  Keeping its two record buffers would add about 33 KB.
 */
#define IDLE_SERVER_OSSL_MAX	(36 * 1024)

enum ep_mode {
	EP_LINES,		/* io_getline() everything */
	EP_RAW,			/* count and drop everything */
	EP_HOLD			/* never consume */
};

struct ep {
	struct io	*io;
	int		 mode;
	int		 connected;
	int		 tlsready;
	int		 datain;
	int		 lowat;
	int		 timeout;
	int		 disconnected;
	int		 error;
	int		 toolong;
	int		 free_on;	/* io_free() on this event, -1 none */
	int		 close_on;	/* io_close() on this event, -1 none */
	char		 errmsg[256];
	char		 lines[MAXLINES][128];
	int		 nlines;
	size_t		 total;		/* EP_RAW bytes consumed */
	size_t		 maxheld;	/* largest io_datalen() seen */
	unsigned int	 patpos;	/* EP_RAW pattern check */
	int		 patbad;
	ssize_t		 discarded;	/* io_start_tls_*() result */
	/* per-test actions */
	void		(*online)(struct ep *, const char *);
	void		(*onevent)(struct ep *, int);
	struct ep	*peer;
};

struct pki {
	char	*ca;
	char	*srvcert;
	char	*srvkey;
	char	*clicert;
	char	*clikey;
	char	*otherca;
	char	*othercert;	/* a client certificate from otherca */
	char	*otherkey;
};

static struct event_base	*base;
static struct pki		 pki;
static struct tlsserver		*srvctx;
static size_t			 ossl_live;	/* bytes OpenSSL holds */

static void	ep_init(struct ep *, int);
static void	ep_cb(struct io *, int, void *);
static void	loop_ms(int);
static int	listen_lo(struct sockaddr_in *);
static int	closed_port(struct sockaddr_in *);
static void	tcp_pair(struct ep *, struct ep *);
static int	sock_pair(struct ep *, int);
static void	pki_make(struct pki *);
static struct tlsserver *tls_server_ctx(enum tlsserver_verify);
static struct tls *tls_client_ctx(const char *, int);
static struct tls *tls_client_ctx_cert(const char *, const char *,
		    const char *);
static void	*ossl_malloc(size_t, const char *, int);
static void	*ossl_realloc(void *, size_t, const char *, int);
static void	 ossl_free(void *, const char *, int);
static void	cli_starttls(struct ep *, int);
static void	srv_starttls_line(struct ep *, const char *);
static void	srv_starttls_junk_line(struct ep *, const char *);
static void	cli_starttls_line(struct ep *, const char *);
static void	relay_a(struct ep *, int);
static void	relay_b(struct ep *, int);
static void	writer_more(struct ep *, int);
static void	cli_starttls_cert(struct ep *, int);
static void	cli_starttls_other(struct ep *, int);
static void	free_peer(struct ep *, int);
static void	tick(evutil_socket_t, short, void *);
static void	add_ext(X509 *, X509V3_CTX *, int, const char *);
static X509	*make_cert(EVP_PKEY *, const char *, X509 *, EVP_PKEY *, int,
		    const char *);
static char	*bio_string(BIO *);
static char	*cert_pem(X509 *);
static char	*key_pem(EVP_PKEY *);

static void	test_lines_split_across_writes(void);
static void	test_line_too_long(void);
static void	test_input_backpressure_bounded(void);
static void	test_relay_pause_resume(void);
static void	test_tls_server_client(void);
static void	test_tls_client_certificate(void);
static void	test_starttls_injection_discarded(void);
static void	test_starttls_upstream_junk_reported(void);
static void	test_tls_untrusted_server_fails(void);
static void	test_tls_server_idle_releases_buffers(void);
static void	test_tls_client_verify_failures_reported(void);
static void	test_tls_server_context_settings(void);
static void	test_connect_refused(void);
static void	test_connect_timeout(void);
static void	test_idle_timeout(void);
static void	test_close_flushes(void);
static void	test_pause_holds_input_and_timer(void);
static void	test_free_inside_callbacks(void);

#define LOOP_UNTIL(cond, ms) do {					\
	struct timeval	 t0_, t1_;					\
	gettimeofday(&t0_, NULL);					\
	while (!(cond)) {						\
		event_base_loop(base, EVLOOP_ONCE);			\
		gettimeofday(&t1_, NULL);				\
		if ((t1_.tv_sec - t0_.tv_sec) * 1000 +			\
		    (t1_.tv_usec - t0_.tv_usec) / 1000 > (ms))		\
			break;						\
	}								\
} while (0)

static void
tick(evutil_socket_t fd, short ev, void *arg)
{
	/* Only there so EVLOOP_ONCE never blocks for long. */
}

static void
loop_ms(int ms)
{
	int	 never = 0;

	LOOP_UNTIL(never, ms);
}

static void
ep_init(struct ep *ep, int mode)
{
	memset(ep, 0, sizeof(*ep));
	ep->mode = mode;
	ep->free_on = -1;
	ep->close_on = -1;
	ep->discarded = -2;
}

static void
ep_cb(struct io *io, int evt, void *arg)
{
	struct ep	*ep = arg;
	const char	*line, *e;
	const unsigned char *p;
	size_t		 len, i;

	switch (evt) {
	case IO_CONNECTED:
		ep->connected++;
		break;
	case IO_TLSREADY:
		ep->tlsready++;
		break;
	case IO_DATAIN:
		ep->datain++;
		if (io_datalen(io) > ep->maxheld)
			ep->maxheld = io_datalen(io);
		if (ep->mode == EP_RAW) {
			p = (const unsigned char *)io_data(io);
			len = io_datalen(io);
			for (i = 0; i < len; i++)
				if (p[i] != (ep->patpos++ % 251))
					ep->patbad = 1;
			ep->total += len;
			io_drop(io, len);
		} else if (ep->mode == EP_LINES) {
			/*
			 * The owner's loop: a long line is answered and
			 * reading goes on.  The callback may free or
			 * restart io, so re-check it each time.
			 */
			while (ep->io == io) {
				if ((line = io_getline(io, &len)) == NULL) {
					if (len != IO_TOOLONG)
						break;
					ep->toolong++;
					continue;
				}
				if (ep->nlines < MAXLINES)
					snprintf(ep->lines[ep->nlines++],
					    sizeof(ep->lines[0]), "%s", line);
				if (ep->online)
					ep->online(ep, line);
			}
		}
		break;
	case IO_LOWAT:
		ep->lowat++;
		break;
	case IO_TIMEOUT:
		ep->timeout++;
		break;
	case IO_DISCONNECTED:
		ep->disconnected++;
		break;
	case IO_ERROR:
		ep->error++;
		e = io_error(io);
		snprintf(ep->errmsg, sizeof(ep->errmsg), "%s", e ? e : "");
		break;
	}
	if (ep->io != io)
		return;
	if (ep->onevent)
		ep->onevent(ep, evt);
	if (ep->io == io && evt == ep->free_on) {
		io_free(io);
		ep->io = NULL;
	} else if (ep->io == io && evt == ep->close_on) {
		io_close(io);
		ep->io = NULL;
	}
}

static int
listen_lo(struct sockaddr_in *sin)
{
	socklen_t	 len = sizeof(*sin);
	int		 fd;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    listen(fd, 16) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1) {
		perror("listen_lo");
		exit(1);
	}
	return fd;
}

/* A loopback port nobody listens on. */
static int
closed_port(struct sockaddr_in *sin)
{
	socklen_t	 len = sizeof(*sin);
	int		 fd;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1)
		return -1;
	close(fd);
	return 0;
}

/* cli connects with io_connect(), srv gets the accepted socket. */
static void
tcp_pair(struct ep *cli, struct ep *srv)
{
	struct sockaddr_in	 sin;
	int			 lfd, fd;

	lfd = listen_lo(&sin);
	cli->io = io_new(base, -1, ep_cb, cli);
	CHECK(cli->io != NULL);
	CHECK(io_connect(cli->io, (struct sockaddr *)&sin, sizeof(sin),
	    WAIT_MS) == 0);
	/* The kernel completes a loopback handshake without us. */
	fd = accept(lfd, NULL, NULL);
	CHECK(fd != -1);
	close(lfd);
	srv->io = io_new(base, fd, ep_cb, srv);
	CHECK(srv->io != NULL);
	cli->peer = srv;
	srv->peer = cli;
	LOOP_UNTIL(cli->connected || cli->error, WAIT_MS);
	CHECK(cli->connected == 1);
}

/* ep gets one end of a socketpair; returns the other end. */
static int
sock_pair(struct ep *ep, int mode)
{
	int	 sv[2];

	ep_init(ep, mode);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("socketpair");
		exit(1);
	}
	ep->io = io_new(base, sv[0], ep_cb, ep);
	CHECK(ep->io != NULL);
	return sv[1];
}

static void
test_lines_split_across_writes(void)
{
	struct ep	 ep;
	int		 fd;

	fd = sock_pair(&ep, EP_LINES);
	CHECK(write(fd, "HELO a", 6) == 6);
	LOOP_UNTIL(ep.datain >= 1, WAIT_MS);
	CHECK(ep.nlines == 0);
	CHECK(io_datalen(ep.io) == 6);	/* partial line kept, not eaten */
	CHECK(write(fd, "\r\nMAIL", 6) == 6);
	LOOP_UNTIL(ep.nlines >= 1 && ep.datain >= 2, WAIT_MS);
	CHECK(write(fd, " FROM:<x>\r\n\nQUIT\n", 17) == 17);
	LOOP_UNTIL(ep.nlines >= 4, WAIT_MS);
	CHECK(ep.nlines == 4);
	CHECK(strcmp(ep.lines[0], "HELO a") == 0);
	CHECK(strcmp(ep.lines[1], "MAIL FROM:<x>") == 0);
	CHECK(strcmp(ep.lines[2], "") == 0);
	CHECK(strcmp(ep.lines[3], "QUIT") == 0);
	CHECK(io_datalen(ep.io) == 0);
	CHECK(ep.toolong == 0);
	close(fd);
	LOOP_UNTIL(ep.disconnected, WAIT_MS);
	CHECK(ep.disconnected == 1);
	io_free(ep.io);
}

static void
test_line_too_long(void)
{
	struct ep	 ep;
	const char	*s;
	int		 fd;

	fd = sock_pair(&ep, EP_LINES);
	/* 16 bytes per line, CRLF included: 14 + CRLF fits, 15 does not. */
	CHECK(io_set_limits(ep.io, 16, 16) == -1);
	CHECK(io_set_limits(ep.io, 4096, 16) == 0);

	s = "0123456789abcdefXYZ";		/* 19, no newline yet */
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
	LOOP_UNTIL(ep.toolong >= 1, WAIT_MS);
	CHECK(ep.toolong == 1);
	CHECK(ep.nlines == 0);
	/* The rest of that line is skipped, the next one is read. */
	s = "more of it\r\nok\r\n";
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
	LOOP_UNTIL(ep.nlines >= 1, WAIT_MS);
	CHECK(ep.toolong == 1);
	CHECK(ep.nlines == 1 && strcmp(ep.lines[0], "ok") == 0);

	/* Whole lines in one read: exact fit, one over, then normal. */
	s = "abcdefghijklmn\r\nabcdefghijklmno\r\nafter\r\n";
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
	LOOP_UNTIL(ep.nlines >= 3, WAIT_MS);
	CHECK(ep.nlines == 3);
	CHECK(strcmp(ep.lines[1], "abcdefghijklmn") == 0);
	CHECK(strcmp(ep.lines[2], "after") == 0);
	CHECK(ep.toolong == 2);
	close(fd);
	io_free(ep.io);
}

static void
test_input_backpressure_bounded(void)
{
	struct ep	 rd, wr;
	unsigned char	*buf;
	size_t		 n = 1000000, i;
	int		 sv[2];

	ep_init(&rd, EP_HOLD);
	ep_init(&wr, EP_HOLD);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	rd.io = io_new(base, sv[0], ep_cb, &rd);
	wr.io = io_new(base, sv[1], ep_cb, &wr);
	CHECK(io_set_limits(rd.io, 8192, 1000) == 0);

	buf = malloc(n);
	for (i = 0; i < n; i++)
		buf[i] = i % 251;
	CHECK(io_write(wr.io, buf, n) == 0);
	CHECK(io_queued(wr.io) == n);
	/* Past the hard queue bound, io_write() refuses. */
	CHECK(io_write(wr.io, buf, IO_QUEUE_MAX) == -1 && errno == ENOBUFS);
	free(buf);

	/* The reader does not consume: it must stop at its bound. */
	loop_ms(300);
	CHECK(io_datalen(rd.io) == 8192);
	CHECK(rd.maxheld <= 8192);
	CHECK(io_queued(wr.io) > 0);	/* the rest waits in the writer */
	CHECK(wr.lowat == 0);

	/* Drain: dropping makes room and reading resumes on its own. */
	io_drop(rd.io, 4096);
	rd.mode = EP_RAW;
	rd.patpos = 4096;
	rd.total = 4096;
	LOOP_UNTIL(rd.total >= n, WAIT_MS);
	CHECK(rd.total == n);
	CHECK(rd.patbad == 0);
	CHECK(rd.maxheld <= 8192);
	CHECK(io_queued(wr.io) == 0);
	CHECK(wr.lowat == 1);
	io_free(rd.io);
	io_free(wr.io);
}

/*
 * A byte relay a -> b the way the proxy does it: stop reading a while
 * b's queue is above the high-water mark, resume on b's IO_LOWAT.
 */
#define RELAY_TOTAL	(4 * 1024 * 1024)
#define RELAY_CHUNK	(256 * 1024)

static void
relay_a(struct ep *ep, int evt)
{
	struct io	*b = ep->peer->io;

	if (evt != IO_DATAIN)
		return;
	CHECK(io_write(b, io_data(ep->io), io_datalen(ep->io)) == 0);
	io_drop(ep->io, io_datalen(ep->io));
	if (io_queued(b) > IO_QUEUE_HIWAT) {
		ep->timeout++;		/* counts pauses */
		io_pause(ep->io);
	}
}

static void
relay_b(struct ep *ep, int evt)
{
	if (evt == IO_LOWAT)
		io_resume(ep->peer->io);
}

static void
writer_more(struct ep *ep, int evt)
{
	unsigned char	*buf;
	size_t		 i, n;

	if (evt != IO_LOWAT || ep->total >= RELAY_TOTAL)
		return;
	n = RELAY_CHUNK;
	buf = malloc(n);
	for (i = 0; i < n; i++)
		buf[i] = (ep->total + i) % 251;
	CHECK(io_write(ep->io, buf, n) == 0);
	ep->total += n;
	free(buf);
}

static void
test_relay_pause_resume(void)
{
	struct ep	 src, a, b, dst;
	int		 s1[2], s2[2];

	ep_init(&src, EP_HOLD);
	ep_init(&a, EP_HOLD);
	ep_init(&b, EP_HOLD);
	ep_init(&dst, EP_RAW);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s1) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s2) == 0);
	src.io = io_new(base, s1[0], ep_cb, &src);
	a.io = io_new(base, s1[1], ep_cb, &a);
	b.io = io_new(base, s2[0], ep_cb, &b);
	dst.io = io_new(base, s2[1], ep_cb, &dst);
	a.peer = &b;
	b.peer = &a;
	a.onevent = relay_a;
	b.onevent = relay_b;
	io_set_lowat(b.io, IO_QUEUE_HIWAT / 2);
	src.onevent = writer_more;
	io_set_lowat(src.io, RELAY_CHUNK / 2);
	writer_more(&src, IO_LOWAT);

	LOOP_UNTIL(dst.total >= RELAY_TOTAL, 4 * WAIT_MS);
	CHECK(dst.total == RELAY_TOTAL);
	CHECK(dst.patbad == 0);
	CHECK(a.timeout > 0);		/* backpressure did engage */
	CHECK(io_queued(b.io) == 0);
	io_free(src.io);
	io_free(a.io);
	io_free(b.io);
	io_free(dst.io);
}

static void
cli_starttls(struct ep *ep, int evt)
{
	if (evt == IO_CONNECTED)
		ep->discarded = io_start_tls_client(ep->io,
		    tls_client_ctx(pki.ca, 0), "localhost");
}

static void
test_tls_server_client(void)
{
	struct ep	 cli, srv;
	char		*big;
	size_t		 i, n = 200000;

	ep_init(&cli, EP_LINES);
	ep_init(&srv, EP_LINES);
	cli.onevent = cli_starttls;
	tcp_pair(&cli, &srv);
	srv.discarded = io_start_tls_server(srv.io, srvctx);
	CHECK(srv.discarded == 0);
	LOOP_UNTIL(cli.tlsready && srv.tlsready, WAIT_MS);
	CHECK(cli.discarded == 0);
	CHECK(cli.tlsready == 1 && srv.tlsready == 1);
	CHECK(io_tls_version(srv.io) != NULL &&
	    strncmp(io_tls_version(srv.io), "TLSv1.", 6) == 0);
	CHECK(io_tls_cipher(srv.io) != NULL);
	CHECK(io_tls_cipher(cli.io) != NULL);
	CHECK(io_tls_peer_cert_provided(srv.io) == 0);
	CHECK(io_tls_peer_cert_provided(cli.io) == 1);

	CHECK(io_printf(cli.io, "hello %d\r\n", 42) == 0);
	LOOP_UNTIL(srv.nlines >= 1, WAIT_MS);
	CHECK(srv.nlines == 1 && strcmp(srv.lines[0], "hello 42") == 0);

	/* A bulk transfer over TLS, checked byte for byte. */
	big = malloc(n);
	for (i = 0; i < n; i++)
		big[i] = i % 251;
	cli.mode = EP_RAW;
	CHECK(io_write(srv.io, big, n) == 0);
	free(big);
	LOOP_UNTIL(cli.total >= n, WAIT_MS);
	CHECK(cli.total == n && cli.patbad == 0);
	CHECK(srv.lowat == 1);

	/* Graceful close: the reply and a close_notify reach the client. */
	cli.mode = EP_LINES;
	CHECK(io_printf(srv.io, "221 bye\r\n") == 0);
	io_close(srv.io);
	srv.io = NULL;
	LOOP_UNTIL(cli.disconnected || cli.error, WAIT_MS);
	CHECK(cli.nlines == 1 && strcmp(cli.lines[0], "221 bye") == 0);
	CHECK(cli.disconnected == 1 && cli.error == 0);
	if (cli.error)
		fprintf(stderr, "  client error: %s\n", cli.errmsg);
	io_free(cli.io);
	loop_ms(20);
}

static void
cli_starttls_cert(struct ep *ep, int evt)
{
	if (evt == IO_CONNECTED)
		ep->discarded = io_start_tls_client(ep->io,
		    tls_client_ctx(pki.ca, 1), "localhost");
}

static X509 *
pem_x509(const char *pem)
{
	BIO	*bio = BIO_new_mem_buf(pem, -1);
	X509	*x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

	BIO_free(bio);
	return x;
}

static void
test_tls_client_certificate(void)
{
	struct ep		 cli, srv;
	struct certfields	 cf;
	STACK_OF(X509)		*chain;
	X509			*leaf, *want, *ca;
	unsigned char		*der = NULL, *wder = NULL;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	char			 hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int		 mdlen = 0, i;
	int			 len = -1, wlen;

	ep_init(&cli, EP_LINES);
	ep_init(&srv, EP_LINES);
	cli.onevent = cli_starttls_cert;
	tcp_pair(&cli, &srv);
	CHECK(io_start_tls_server(srv.io, srvctx) == 0);
	LOOP_UNTIL(cli.tlsready && srv.tlsready, WAIT_MS);
	CHECK(srv.tlsready == 1);
	CHECK(io_tls_peer_cert_provided(srv.io) == 1);
	/* The handshake's own decoding, the same object every time. */
	leaf = io_tls_peer_cert(srv.io);
	CHECK(leaf != NULL && io_tls_peer_cert(srv.io) == leaf);
	/* The very certificate the client presented, byte for byte... */
	want = pem_x509(pki.clicert);
	wlen = i2d_X509(want, &wder);
	if (leaf != NULL)
		len = i2d_X509(leaf, &der);
	CHECK(wlen > 0 && len == wlen && memcmp(der, wder, wlen) == 0);
	/* ...and its fields as the sessions read them, fingerprint too. */
	CHECK(EVP_Digest(wder, wlen, md, &mdlen, EVP_sha256(), NULL) == 1);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	CHECK(leaf != NULL && certfields_from_x509(leaf, &cf) == 0);
	CHECK(cf.fp != NULL && strcmp(cf.fp, hex) == 0);
	CHECK(cf.cn != NULL && strcmp(cf.cn, "alice") == 0);
	CHECK(cf.dn != NULL && strcmp(cf.dn, "CN=alice") == 0);
	CHECK(cf.issuer != NULL && strcmp(cf.issuer, "CN=t_io test CA") == 0);
	CHECK(cf.derlen == (size_t)wlen && memcmp(cf.der, wder, wlen) == 0);
	certfields_free(&cf);
	/* The chain as verified: the leaf, then the CA that vouched. */
	chain = io_tls_peer_chain(srv.io);
	CHECK(chain != NULL && sk_X509_num(chain) == 2);
	CHECK(chain != NULL && sk_X509_value(chain, 0) == leaf);
	ca = pem_x509(pki.ca);
	CHECK(chain != NULL && sk_X509_num(chain) == 2 &&
	    X509_cmp(sk_X509_value(chain, 1), ca) == 0);
	CHECK(io_tls_peer_chain(srv.io) == chain);
	/* The connection's, so still there once the handler returned. */
	loop_ms(10);
	CHECK(io_tls_peer_cert(srv.io) == leaf);
	/* The client side has the server's. */
	CHECK(io_tls_peer_chain(cli.io) != NULL);
	OPENSSL_free(der);
	OPENSSL_free(wder);
	X509_free(want);
	X509_free(ca);
	io_free(cli.io);
	io_free(srv.io);
}

/*
 * SSL_MODE_RELEASE_BUFFERS is on for server sessions, and does what it
 * is for: once traffic has gone both ways and the session is idle, what
 * freeing it gives back to OpenSSL's allocator is far less than its two
 * record buffers would be.
 */
static void
test_tls_server_idle_releases_buffers(void)
{
	struct ep	 cli, srv;
	size_t		 before, kept;

	ep_init(&cli, EP_LINES);
	ep_init(&srv, EP_LINES);
	cli.onevent = cli_starttls_cert;
	tcp_pair(&cli, &srv);
	CHECK(io_start_tls_server(srv.io, srvctx) == 0);
	LOOP_UNTIL(cli.tlsready && srv.tlsready, WAIT_MS);
	CHECK(srv.tlsready == 1 && io_tls(srv.io) == NULL);
	CHECK(io_ssl(srv.io) != NULL &&
	    (SSL_get_mode(io_ssl(srv.io)) & SSL_MODE_RELEASE_BUFFERS));
	CHECK(io_printf(cli.io, "EHLO client\r\n") == 0);
	LOOP_UNTIL(srv.nlines >= 1, WAIT_MS);
	CHECK(io_printf(srv.io, "250 ok\r\n") == 0);
	LOOP_UNTIL(cli.nlines >= 1, WAIT_MS);
	CHECK(srv.nlines == 1 && cli.nlines == 1);
	loop_ms(20);
	before = ossl_live;
	io_free(srv.io);
	srv.io = NULL;
	kept = before > ossl_live ? before - ossl_live : 0;
	printf("# idle server session: %zu bytes of OpenSSL memory\n", kept);
	CHECK(kept > 0 && kept <= IDLE_SERVER_OSSL_MAX);
	io_free(cli.io);
	loop_ms(20);
}

static void
cli_starttls_othercert(struct ep *ep, int evt)
{
	if (evt == IO_CONNECTED)
		ep->discarded = io_start_tls_client(ep->io,
		    tls_client_ctx_cert(pki.ca, pki.othercert, pki.otherkey),
		    "localhost");
}

/*
 * The listener context is libtls' server context plus what tlsserver.c
 * says it adds: TLS 1.2 at least, the server's cipher order, no session
 * resumption and no tickets, no renegotiation, released buffers, read
 * ahead, client certificates requested at depth 6.
 */
static void
test_tls_server_context_settings(void)
{
	SSL_CTX		*ctx = tlsserver_ctx(srvctx);
	uint64_t	 opts = SSL_CTX_get_options(ctx);
	long		 mode = SSL_CTX_get_mode(ctx);

	CHECK(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION);
	CHECK(opts & SSL_OP_CIPHER_SERVER_PREFERENCE);
	CHECK(opts & SSL_OP_NO_TICKET);
	CHECK(opts & SSL_OP_NO_RENEGOTIATION);
	CHECK(SSL_CTX_get_num_tickets(ctx) == 0);
	CHECK(SSL_CTX_get_session_cache_mode(ctx) == SSL_SESS_CACHE_OFF);
	CHECK(mode & SSL_MODE_RELEASE_BUFFERS);
	CHECK(mode & SSL_MODE_ENABLE_PARTIAL_WRITE);
	CHECK(mode & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	CHECK(!(mode & SSL_MODE_AUTO_RETRY));
	CHECK(SSL_CTX_get_read_ahead(ctx) == 1);
	CHECK(SSL_CTX_get_verify_mode(ctx) == SSL_VERIFY_PEER);
	CHECK(SSL_CTX_get_verify_depth(ctx) == TLSSERVER_VERIFY_DEPTH);
}

/* One handshake against server; the server's outcome in *srv. */
static void
handshake_with(struct tlsserver *ctx, void (*cli_on)(struct ep *, int),
    struct ep *srv)
{
	struct ep	 cli;

	ep_init(&cli, EP_LINES);
	ep_init(srv, EP_LINES);
	cli.onevent = cli_on;
	tcp_pair(&cli, srv);
	CHECK(io_start_tls_server(srv->io, ctx) == 0);
	LOOP_UNTIL(srv->tlsready || srv->error || srv->disconnected,
	    WAIT_MS);
	if (srv->error)
		printf("# server: %s\n", srv->errmsg);
	io_free(cli.io);
	io_free(srv->io);
	srv->io = NULL;
	loop_ms(10);
}

/*
 * SPEC 3.2 through the handshake, refusals logged in libtls' words (the
 * integration tests look for them): optional verification refuses an
 * invalid certificate, required verification also a missing one.
 */
static void
test_tls_client_verify_failures_reported(void)
{
	struct tlsserver	*req;
	struct ep		 srv;

	handshake_with(srvctx, cli_starttls_othercert, &srv);
	CHECK(srv.error == 1 && srv.tlsready == 0);
	CHECK(strncmp(srv.errmsg, "TLS handshake: handshake failed: ",
	    33) == 0);
	CHECK(strstr(srv.errmsg, "certificate verify failed") != NULL);

	handshake_with(srvctx, cli_starttls, &srv);
	CHECK(srv.tlsready == 1 && srv.error == 0);

	CHECK((req = tls_server_ctx(TLSSERVER_VERIFY_REQUIRED)) != NULL);
	CHECK(SSL_CTX_get_verify_mode(tlsserver_ctx(req)) ==
	    (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT));
	CHECK(SSL_CTX_get_verify_depth(tlsserver_ctx(req)) ==
	    TLSSERVER_VERIFY_DEPTH);
	handshake_with(req, cli_starttls, &srv);
	CHECK(srv.error == 1 && srv.tlsready == 0);
	CHECK(strstr(srv.errmsg, "handshake failed: ") != NULL &&
	    strstr(srv.errmsg, "peer did not return a certificate") != NULL);
	handshake_with(req, cli_starttls_othercert, &srv);
	CHECK(srv.error == 1 &&
	    strstr(srv.errmsg, "certificate verify failed") != NULL);
	handshake_with(req, cli_starttls_cert, &srv);
	CHECK(srv.tlsready == 1 && srv.error == 0);
	tlsserver_free(req);
}

static void
srv_starttls_line(struct ep *ep, const char *line)
{
	if (strcmp(line, "STARTTLS") != 0)
		return;
	CHECK(io_printf(ep->io, "220 2.0.0 Ready to start TLS\r\n") == 0);
	ep->discarded = io_start_tls_server(ep->io, srvctx);
}

static void
cli_starttls_line(struct ep *ep, const char *line)
{
	if (strncmp(line, "220 ", 4) != 0)
		return;
	ep->discarded = io_start_tls_client(ep->io,
	    tls_client_ctx(pki.ca, 0), "localhost");
}

static void
test_starttls_injection_discarded(void)
{
	struct ep	 cli, srv;
	int		 i;

	ep_init(&cli, EP_LINES);
	ep_init(&srv, EP_LINES);
	srv.online = srv_starttls_line;
	cli.online = cli_starttls_line;
	tcp_pair(&cli, &srv);
	/* One write: the NOOP arrives in the same read as STARTTLS. */
	CHECK(io_write(cli.io, "STARTTLS\r\nNOOP\r\n", 16) == 0);
	LOOP_UNTIL(cli.tlsready && srv.tlsready, WAIT_MS);
	CHECK(srv.discarded == 6);	/* "NOOP\r\n", reported */
	CHECK(cli.discarded == 0);
	CHECK(srv.tlsready == 1 && cli.tlsready == 1);
	CHECK(io_printf(cli.io, "EHLO client\r\n") == 0);
	LOOP_UNTIL(srv.nlines >= 2, WAIT_MS);
	CHECK(srv.nlines == 2);
	CHECK(strcmp(srv.lines[0], "STARTTLS") == 0);
	CHECK(strcmp(srv.lines[1], "EHLO client") == 0);
	for (i = 0; i < srv.nlines; i++)
		CHECK(strcmp(srv.lines[i], "NOOP") != 0);
	CHECK(srv.error == 0 && cli.error == 0);
	io_free(cli.io);
	io_free(srv.io);
}

static void
srv_starttls_junk_line(struct ep *ep, const char *line)
{
	if (strcmp(line, "STARTTLS") != 0)
		return;
	/* A hostile upstream pipelines a reply after its 220. */
	CHECK(io_printf(ep->io, "220 go ahead\r\n250 forged\r\n") == 0);
	ep->discarded = io_start_tls_server(ep->io, srvctx);
}

static void
test_starttls_upstream_junk_reported(void)
{
	struct ep	 cli, srv;

	ep_init(&cli, EP_LINES);
	ep_init(&srv, EP_LINES);
	srv.online = srv_starttls_junk_line;
	cli.online = cli_starttls_line;
	tcp_pair(&cli, &srv);
	CHECK(io_printf(cli.io, "STARTTLS\r\n") == 0);
	LOOP_UNTIL(cli.discarded != -2, WAIT_MS);
	CHECK(srv.discarded == 0);
	CHECK(cli.discarded == 12);	/* "250 forged\r\n": caller's error */
	CHECK(cli.nlines == 1);		/* the forged line never parsed */
	io_free(cli.io);
	io_free(srv.io);
}

static void
cli_starttls_other(struct ep *ep, int evt)
{
	if (evt == IO_CONNECTED)
		ep->discarded = io_start_tls_client(ep->io,
		    tls_client_ctx(pki.otherca, 0), "localhost");
}

static void
test_tls_untrusted_server_fails(void)
{
	struct ep	 cli, srv;

	ep_init(&cli, EP_LINES);
	ep_init(&srv, EP_LINES);
	cli.onevent = cli_starttls_other;
	tcp_pair(&cli, &srv);
	CHECK(io_start_tls_server(srv.io, srvctx) == 0);
	LOOP_UNTIL(cli.error && (srv.error || srv.disconnected), WAIT_MS);
	CHECK(cli.error == 1 && cli.tlsready == 0);
	CHECK(strncmp(cli.errmsg, "TLS handshake: ", 15) == 0);
	CHECK(strlen(cli.errmsg) > 15);
	CHECK(srv.tlsready == 0 && (srv.error || srv.disconnected));
	printf("# client: %s\n# server: %s\n", cli.errmsg, srv.errmsg);
	/* A failed io refuses output and does no more I/O. */
	CHECK(io_printf(cli.io, "x\r\n") == -1);
	io_free(cli.io);
	io_free(srv.io);
}

static void
test_connect_refused(void)
{
	struct ep		 ep;
	struct sockaddr_in	 sin;

	ep_init(&ep, EP_LINES);
	CHECK(closed_port(&sin) == 0);
	ep.io = io_new(base, -1, ep_cb, &ep);
	CHECK(io_connect(ep.io, (struct sockaddr *)&sin, sizeof(sin),
	    WAIT_MS) == 0);
	/* Only from the loop, never from inside io_connect(). */
	CHECK(ep.error == 0);
	LOOP_UNTIL(ep.error, WAIT_MS);
	CHECK(ep.error == 1 && ep.connected == 0);
	CHECK(strstr(ep.errmsg, "refused") != NULL);
	printf("# %s\n", ep.errmsg);
	io_free(ep.io);
}

static void
test_connect_timeout(void)
{
	struct ep		 ep;
	struct sockaddr_in	 sin;
	int			 lfd, fill[2], i;

	/*
	 * A listener whose accept queue is full drops further SYNs, so
	 * the connect neither succeeds nor fails: only the timer ends it.
	 */
	lfd = listen_lo(&sin);
	CHECK(listen(lfd, 0) == 0);
	for (i = 0; i < 2; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	loop_ms(50);
	ep_init(&ep, EP_LINES);
	ep.io = io_new(base, -1, ep_cb, &ep);
	CHECK(io_connect(ep.io, (struct sockaddr *)&sin, sizeof(sin),
	    200) == 0);
	LOOP_UNTIL(ep.timeout || ep.connected || ep.error, WAIT_MS);
	CHECK(ep.timeout == 1 && ep.connected == 0 && ep.error == 0);
	CHECK(io_error(ep.io) != NULL &&
	    strcmp(io_error(ep.io), "connect timed out") == 0);
	io_free(ep.io);
	for (i = 0; i < 2; i++)
		close(fill[i]);
	close(lfd);
}

static void
test_idle_timeout(void)
{
	struct ep	 ep;
	struct timeval	 t0, t1;
	long		 ms;
	int		 fd;

	fd = sock_pair(&ep, EP_LINES);
	io_set_timeout(ep.io, 300);
	gettimeofday(&t0, NULL);
	/* Activity in between pushes the deadline back. */
	loop_ms(150);
	CHECK(write(fd, "a\n", 2) == 2);
	loop_ms(150);
	CHECK(ep.timeout == 0 && ep.nlines == 1);
	LOOP_UNTIL(ep.timeout, WAIT_MS);
	gettimeofday(&t1, NULL);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
	CHECK(ep.timeout == 1);
	CHECK(ms >= 400);
	CHECK(io_error(ep.io) && strcmp(io_error(ep.io), "idle timeout") == 0);
	/* A paused io waits on its owner, not the peer: no timeout. */
	io_pause(ep.io);
	loop_ms(300);
	CHECK(ep.timeout == 1);
	io_resume(ep.io);
	close(fd);
	io_free(ep.io);
}

/*
 * While paused nothing is read and no idle timeout is reported, however
 * long the pause; input that came meanwhile is delivered on resume, and
 * the peer's idle time counts from the resume.
 */
static void
test_pause_holds_input_and_timer(void)
{
	struct ep	 ep;
	int		 fd;

	fd = sock_pair(&ep, EP_LINES);
	io_set_timeout(ep.io, 300);
	CHECK(write(fd, "a\n", 2) == 2);
	LOOP_UNTIL(ep.nlines == 1, WAIT_MS);
	io_pause(ep.io);
	CHECK(write(fd, "b\n", 2) == 2);
	loop_ms(500);
	CHECK(ep.nlines == 1 && ep.timeout == 0);
	io_resume(ep.io);
	LOOP_UNTIL(ep.nlines == 2, WAIT_MS);
	CHECK(ep.nlines == 2 && strcmp(ep.lines[1], "b") == 0);
	loop_ms(100);
	CHECK(ep.timeout == 0);
	LOOP_UNTIL(ep.timeout, WAIT_MS);
	CHECK(ep.timeout == 1);
	/* A pause that ends before any input: reading simply goes on. */
	io_set_timeout(ep.io, 0);
	io_pause(ep.io);
	loop_ms(20);
	io_resume(ep.io);
	CHECK(write(fd, "c\n", 2) == 2);
	LOOP_UNTIL(ep.nlines == 3, WAIT_MS);
	CHECK(ep.nlines == 3 && strcmp(ep.lines[2], "c") == 0);
	close(fd);
	io_free(ep.io);
}

static void
test_close_flushes(void)
{
	struct ep	 ep;
	char		 buf[64];
	ssize_t		 n;
	int		 fd;

	/* io_close() from inside IO_DATAIN, with a reply still queued. */
	fd = sock_pair(&ep, EP_LINES);
	ep.close_on = IO_DATAIN;
	ep.online = NULL;
	CHECK(io_printf(ep.io, "221 2.0.0 Bye\r\n") == 0);
	CHECK(write(fd, "QUIT\r\n", 6) == 6);
	loop_ms(100);
	CHECK(ep.io == NULL);
	n = read(fd, buf, sizeof(buf));
	CHECK(n == 15 && memcmp(buf, "221 2.0.0 Bye\r\n", 15) == 0);
	n = read(fd, buf, sizeof(buf));
	CHECK(n == 0);			/* and the socket was closed */
	close(fd);
}

/*
 * A refused client that already sent its next command: our reply must
 * reach it even though that command was never read.  Over TCP, closing
 * with unread input sends a reset that destroys data the client has not
 * read yet; io_close() drains instead.
 */
static void
test_close_with_unread_input_keeps_reply(void)
{
	struct sockaddr_in	 sin;
	struct ep		 ep;
	char			 buf[64], junk[8192];
	size_t			 got = 0;
	ssize_t			 n;
	int			 lfd, cfd, sfd;

	lfd = listen_lo(&sin);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(cfd != -1 && connect(cfd, (struct sockaddr *)&sin,
	    sizeof(sin)) == 0);
	CHECK((sfd = accept(lfd, NULL, NULL)) != -1);
	close(lfd);
	ep_init(&ep, EP_LINES);
	ep.io = io_new(base, sfd, ep_cb, &ep);
	io_pause(ep.io);			/* nothing more is read */
	memset(junk, 'x', sizeof(junk));
	CHECK(write(cfd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	loop_ms(50);				/* the input is waiting */
	CHECK(io_printf(ep.io, "554 5.7.1 refused\r\n") == 0);
	io_close(ep.io);
	ep.io = NULL;
	loop_ms(100);				/* flushed, shut down */
	/* The client reads only now, after the close: the reply is there,
	 * then EOF, not ECONNRESET. */
	while (got < 19 && (n = read(cfd, buf + got, sizeof(buf) - got)) > 0)
		got += n;
	CHECK(got == 19 && memcmp(buf, "554 5.7.1 refused\r\n", 19) == 0);
	CHECK(shutdown(cfd, SHUT_WR) == 0);
	loop_ms(100);				/* the drain sees our EOF */
	CHECK(read(cfd, buf, sizeof(buf)) == 0);
	close(cfd);
}

static void
free_peer(struct ep *ep, int evt)
{
	if (evt != IO_DATAIN || ep->peer == NULL)
		return;
	/* Free the other io, then ourselves, from one callback. */
	io_free(ep->peer->io);
	ep->peer->io = NULL;
	io_free(ep->io);
	ep->io = NULL;
}

static void
test_free_inside_callbacks(void)
{
	struct ep		 a, b, cli, srv, c;
	struct sockaddr_in	 sin;
	int			 fda, fdb;

	/* Freed in IO_DATAIN while more input is buffered. */
	fda = sock_pair(&a, EP_LINES);
	a.free_on = IO_DATAIN;
	CHECK(write(fda, "ONE\r\nTWO\r\nTHREE\r\n", 17) == 17);
	LOOP_UNTIL(a.io == NULL, WAIT_MS);
	CHECK(a.io == NULL && a.datain == 1);
	CHECK(send(fda, "more\r\n", 6, MSG_NOSIGNAL) == -1);
	loop_ms(20);
	close(fda);

	/* One io frees its peer and itself. */
	fda = sock_pair(&a, EP_HOLD);
	fdb = sock_pair(&b, EP_HOLD);
	a.peer = &b;
	a.onevent = free_peer;
	CHECK(io_printf(b.io, "queued, never sent\r\n") == 0);
	CHECK(write(fda, "x", 1) == 1);
	CHECK(write(fdb, "y", 1) == 1);	/* b's event is pending too */
	LOOP_UNTIL(a.io == NULL, WAIT_MS);
	CHECK(a.io == NULL && b.io == NULL);
	loop_ms(20);
	close(fda);
	close(fdb);

	/* Freed in IO_DISCONNECTED, IO_TIMEOUT, IO_ERROR, IO_TLSREADY. */
	fda = sock_pair(&a, EP_LINES);
	a.free_on = IO_DISCONNECTED;
	close(fda);
	LOOP_UNTIL(a.io == NULL, WAIT_MS);
	CHECK(a.io == NULL && a.disconnected == 1);

	fda = sock_pair(&a, EP_LINES);
	a.free_on = IO_TIMEOUT;
	io_set_timeout(a.io, 50);
	LOOP_UNTIL(a.io == NULL, WAIT_MS);
	CHECK(a.io == NULL && a.timeout == 1);
	close(fda);

	ep_init(&c, EP_LINES);
	c.free_on = IO_ERROR;
	CHECK(closed_port(&sin) == 0);
	c.io = io_new(base, -1, ep_cb, &c);
	CHECK(io_connect(c.io, (struct sockaddr *)&sin, sizeof(sin),
	    WAIT_MS) == 0);
	LOOP_UNTIL(c.io == NULL, WAIT_MS);
	CHECK(c.io == NULL && c.error == 1);

	ep_init(&cli, EP_LINES);
	ep_init(&srv, EP_LINES);
	cli.onevent = cli_starttls;
	srv.free_on = IO_TLSREADY;
	tcp_pair(&cli, &srv);
	CHECK(io_start_tls_server(srv.io, srvctx) == 0);
	LOOP_UNTIL(srv.io == NULL && (cli.disconnected || cli.error),
	    WAIT_MS);
	CHECK(srv.io == NULL && srv.tlsready == 1);
	/* Gone without close_notify: a disconnect, with a note. */
	CHECK(cli.disconnected == 1 && cli.error == 0);
	CHECK(io_error(cli.io) != NULL &&
	    strstr(io_error(cli.io), "close_notify") != NULL);
	io_free(cli.io);
	loop_ms(20);
}

/* Throwaway PKI: a CA, a server and a client certificate, another CA. */
static void
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION	*ext;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL) {
		fprintf(stderr, "extension %d\n", nid);
		exit(1);
	}
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
}

static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
    int ca, const char *san)
{
	static long	 serial = 1;
	X509		*x;
	X509_NAME	*name;
	X509V3_CTX	 ctx;

	x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (ca) {
		add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, &ctx, NID_basic_constraints, "CA:FALSE");
		add_ext(x, &ctx, NID_authority_key_identifier, "keyid");
		add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
		add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
		if (san != NULL)
			add_ext(x, &ctx, NID_subject_alt_name, san);
	}
	if (X509_sign(x, ikey ? ikey : key, EVP_sha256()) == 0) {
		fprintf(stderr, "X509_sign\n");
		exit(1);
	}
	return x;
}

static char *
bio_string(BIO *bio)
{
	char	*data, *s;
	long	 len;

	len = BIO_get_mem_data(bio, &data);
	s = malloc(len + 1);
	memcpy(s, data, len);
	s[len] = '\0';
	BIO_free(bio);
	return s;
}

static char *
cert_pem(X509 *x)
{
	BIO	*bio = BIO_new(BIO_s_mem());

	PEM_write_bio_X509(bio, x);
	return bio_string(bio);
}

static char *
key_pem(EVP_PKEY *k)
{
	BIO	*bio = BIO_new(BIO_s_mem());

	PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
	return bio_string(bio);
}

static void
pki_make(struct pki *p)
{
	EVP_PKEY	*cakey, *srvkey, *clikey, *okey;
	X509		*ca, *srv, *cli, *other, *ocli;

	cakey = EVP_EC_gen("P-256");
	srvkey = EVP_EC_gen("P-256");
	clikey = EVP_EC_gen("P-256");
	okey = EVP_EC_gen("P-256");
	if (!cakey || !srvkey || !clikey || !okey) {
		fprintf(stderr, "EVP_EC_gen\n");
		exit(1);
	}
	ca = make_cert(cakey, "t_io test CA", NULL, NULL, 1, NULL);
	other = make_cert(okey, "t_io other CA", NULL, NULL, 1, NULL);
	srv = make_cert(srvkey, "localhost", ca, cakey, 0,
	    "DNS:localhost,IP:127.0.0.1");
	cli = make_cert(clikey, "alice", ca, cakey, 0, NULL);
	/* Same key as alice's, but vouched for by the wrong CA. */
	ocli = make_cert(clikey, "mallory", other, okey, 0, NULL);
	p->ca = cert_pem(ca);
	p->otherca = cert_pem(other);
	p->srvcert = cert_pem(srv);
	p->srvkey = key_pem(srvkey);
	p->clicert = cert_pem(cli);
	p->clikey = key_pem(clikey);
	p->othercert = cert_pem(ocli);
	p->otherkey = key_pem(clikey);
	X509_free(ca);
	X509_free(other);
	X509_free(srv);
	X509_free(cli);
	X509_free(ocli);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(srvkey);
	EVP_PKEY_free(clikey);
	EVP_PKEY_free(okey);
}

static struct tlsserver *
tls_server_ctx(enum tlsserver_verify verify)
{
	struct tlsserver	*ctx;
	char			 err[256];

	if ((ctx = tlsserver_new((uint8_t *)pki.srvcert, strlen(pki.srvcert),
	    (uint8_t *)pki.srvkey, strlen(pki.srvkey), (uint8_t *)pki.ca,
	    strlen(pki.ca), verify, err, sizeof(err))) == NULL) {
		fprintf(stderr, "tlsserver_new: %s\n", err);
		exit(1);
	}
	return ctx;
}

static struct tls *
tls_client_ctx(const char *ca, int withcert)
{
	return tls_client_ctx_cert(ca, withcert ? pki.clicert : NULL,
	    pki.clikey);
}

static struct tls *
tls_client_ctx_cert(const char *ca, const char *cert, const char *key)
{
	struct tls_config	*cfg;
	struct tls		*ctx;

	cfg = tls_config_new();
	if (tls_config_set_ca_mem(cfg, (const uint8_t *)ca,
	    strlen(ca)) == -1 ||
	    (cert != NULL && tls_config_set_keypair_mem(cfg,
	    (const uint8_t *)cert, strlen(cert), (const uint8_t *)key,
	    strlen(key)) == -1)) {
		fprintf(stderr, "client config: %s\n", tls_config_error(cfg));
		exit(1);
	}
	ctx = tls_client();
	if (tls_configure(ctx, cfg) == -1) {
		fprintf(stderr, "tls_configure: %s\n", tls_error(ctx));
		exit(1);
	}
	tls_config_free(cfg);
	return ctx;
}

/*
 * OpenSSL's allocator, counted by malloc_usable_size(): no header of our
 * own, because libretls frees some of what OpenSSL allocated with plain
 * free().  Those frees escape the count, which only makes it higher.
 */
static void *
ossl_malloc(size_t n, const char *file, int line)
{
	void	*p;

	if ((p = malloc(n)) != NULL)
		ossl_live += malloc_usable_size(p);
	return p;
}

static void *
ossl_realloc(void *q, size_t n, const char *file, int line)
{
	size_t	 old = q != NULL ? malloc_usable_size(q) : 0;
	void	*p;

	if ((p = realloc(q, n)) == NULL)
		return NULL;
	ossl_live = ossl_live - old + malloc_usable_size(p);
	return p;
}

static void
ossl_free(void *q, const char *file, int line)
{
	if (q == NULL)
		return;
	ossl_live -= malloc_usable_size(q);
	free(q);
}

int
main(void)
{
	struct event	*tk;
	struct timeval	 tv = { 0, 10000 };

	/* Before OpenSSL allocates anything, or it refuses. */
	if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free))
		fprintf(stderr, "cannot count OpenSSL's memory\n");
	signal(SIGPIPE, SIG_IGN);
	alarm(TEST_ALARM_SEC);
	if (tls_init() == -1) {
		fprintf(stderr, "tls_init\n");
		return 1;
	}
	base = event_base_new();
	tk = event_new(base, -1, EV_PERSIST, tick, NULL);
	event_add(tk, &tv);
	pki_make(&pki);
	srvctx = tls_server_ctx(TLSSERVER_VERIFY_OPTIONAL);

	RUN(test_lines_split_across_writes);
	RUN(test_line_too_long);
	RUN(test_input_backpressure_bounded);
	RUN(test_relay_pause_resume);
	RUN(test_tls_server_client);
	RUN(test_tls_client_certificate);
	RUN(test_starttls_injection_discarded);
	RUN(test_starttls_upstream_junk_reported);
	RUN(test_tls_untrusted_server_fails);
	RUN(test_tls_server_idle_releases_buffers);
	RUN(test_tls_client_verify_failures_reported);
	RUN(test_tls_server_context_settings);
	RUN(test_connect_refused);
	RUN(test_connect_timeout);
	RUN(test_idle_timeout);
	RUN(test_pause_holds_input_and_timer);
	RUN(test_close_flushes);
	RUN(test_close_with_unread_input_keeps_reply);
	RUN(test_free_inside_callbacks);

	tlsserver_free(srvctx);
	event_free(tk);
	event_base_free(base);
	free(pki.ca);
	free(pki.otherca);
	free(pki.srvcert);
	free(pki.srvkey);
	free(pki.clicert);
	free(pki.clikey);
	free(pki.othercert);
	free(pki.otherkey);
	TEST_EXIT();
}
