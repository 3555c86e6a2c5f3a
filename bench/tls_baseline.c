/*
 * tls_baseline: the reference server of the benchmark.  The smallest
 * libtls server that does what smtpcertd's TLS does per connection and
 * nothing else: accept, TLS handshake with the same key pair and the
 * same client-certificate verification (same CA file), read nothing,
 * send close_notify, close.  One process, one libevent loop, like the
 * front.  Drive it with "smtp_load -m handshake".
 *
 *	tls_baseline -p PORT -c CERT -k KEY [-A CAFILE [-o]] [-a ADDRESS]
 *	    [-P PIDFILE] [-H]
 *
 * With -A client certificates are required and verified against CAFILE
 * (-o: optional, like "tls preferred" + verify).  -H holds each connection
 * after the handshake until the peer closes (RSS of an idle libtls
 * session, with "smtp_load -m idle-handshake").  On SIGTERM it prints
 * "handshakes N failed M" on stdout and exits.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

struct bconn {
	int		 fd;
	struct tls	*tls;
	struct event	*ev;
	int		 closing;
};

static struct event_base *base;
static struct tls	*srv;
static unsigned long long nok, nfail;
static int		 hold;

static void	bconn_step(evutil_socket_t, short, void *);

static void
bconn_free(struct bconn *b)
{
	event_free(b->ev);
	tls_free(b->tls);
	close(b->fd);
	free(b);
}

static void
bconn_wait(struct bconn *b, short what)
{
	struct timeval	 tv = { 30, 0 };

	event_assign(b->ev, base, b->fd, what, bconn_step, b);
	event_add(b->ev, &tv);
}

static void
bconn_step(evutil_socket_t fd, short what, void *arg)
{
	struct bconn	*b = arg;
	int		 r;

	if (what & EV_TIMEOUT) {
		nfail++;
		bconn_free(b);
		return;
	}
	if (!b->closing) {
		r = tls_handshake(b->tls);
		if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
			bconn_wait(b, r == TLS_WANT_POLLIN ? EV_READ : EV_WRITE);
			return;
		}
		if (r == -1) {
			nfail++;
			bconn_free(b);
			return;
		}
		nok++;
		b->closing = 1;
		if (hold) {
			/* keep it until the peer goes (for RSS figures) */
			event_assign(b->ev, base, b->fd, EV_READ, bconn_step, b);
			event_add(b->ev, NULL);
			return;
		}
	}
	r = tls_close(b->tls);
	if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
		bconn_wait(b, r == TLS_WANT_POLLIN ? EV_READ : EV_WRITE);
		return;
	}
	bconn_free(b);
}

static void
baseline_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct bconn	*b;
	int		 fd, one = 1;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((b = calloc(1, sizeof(*b))) == NULL) {
			close(fd);
			continue;
		}
		b->fd = fd;
		b->ev = event_new(base, -1, 0, bconn_step, b);
		if (tls_accept_socket(srv, &b->tls, fd) == -1) {
			nfail++;
			event_free(b->ev);
			close(fd);
			free(b);
			continue;
		}
		bconn_wait(b, EV_READ);
	}
}

static void
baseline_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct tls_config	*cfg;
	struct event		*lev, *sev, *iev;
	const char		*addr = "127.0.0.1", *cert = NULL, *key = NULL;
	const char		*ca = NULL, *pidfile = NULL;
	FILE			*f;
	int			 ch, port = 0, optional = 0, fd, one = 1;

	while ((ch = getopt(argc, argv, "A:a:c:Hk:oP:p:")) != -1) {
		switch (ch) {
		case 'A': ca = optarg; break;
		case 'a': addr = optarg; break;
		case 'c': cert = optarg; break;
		case 'H': hold = 1; break;
		case 'k': key = optarg; break;
		case 'o': optional = 1; break;
		case 'P': pidfile = optarg; break;
		case 'p': port = atoi(optarg); break;
		default:
			goto usage;
		}
	}
	if (port <= 0 || port > 65535 || cert == NULL || key == NULL) {
usage:
		fprintf(stderr, "usage: tls_baseline -p port -c cert -k key "
		    "[-A cafile [-o]] [-a address] [-P pidfile] [-H]\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	if ((cfg = tls_config_new()) == NULL || (srv = tls_server()) == NULL)
		return 1;
	if (tls_config_set_keypair_file(cfg, cert, key) == -1 ||
	    (ca != NULL && tls_config_set_ca_file(cfg, ca) == -1)) {
		fprintf(stderr, "tls_baseline: %s\n", tls_config_error(cfg));
		return 1;
	}
	if (ca != NULL) {
		if (optional)
			tls_config_verify_client_optional(cfg);
		else
			tls_config_verify_client(cfg);
	}
	if (tls_configure(srv, cfg) == -1) {
		fprintf(stderr, "tls_baseline: %s\n", tls_error(srv));
		return 1;
	}
	tls_config_free(cfg);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "tls_baseline: bad address %s\n", addr);
		return 1;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 1024) == -1) {
		perror("tls_baseline: listen");
		return 1;
	}
	base = event_base_new();
	lev = event_new(base, fd, EV_READ | EV_PERSIST, baseline_accept, NULL);
	sev = evsignal_new(base, SIGTERM, baseline_signal, NULL);
	iev = evsignal_new(base, SIGINT, baseline_signal, NULL);
	event_add(lev, NULL);
	event_add(sev, NULL);
	event_add(iev, NULL);
	if (pidfile != NULL) {
		if ((f = fopen(pidfile, "w")) == NULL) {
			perror(pidfile);
			return 1;
		}
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	event_base_dispatch(base);
	printf("handshakes %llu failed %llu\n", nok, nfail);
	return 0;
}
