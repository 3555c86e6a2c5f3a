/*
 * sink: a fast upstream SMTP server for the benchmark.  Plaintext,
 * libevent bufferevents, one process; accepts every command, discards
 * message text, answers 250 to the final dot.  It offers neither STARTTLS
 * nor XCLIENT, so the relay under test speaks plain SMTP to it.
 *
 *	sink -p PORT [-a ADDRESS] [-P PIDFILE]
 *
 * The PID file is written once the socket listens.  On SIGTERM/SIGINT it
 * prints "sessions N messages M bytes B" on stdout and exits.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

struct sconn {
	struct bufferevent	*bev;
	int			 data;		/* in DATA */
	int			 dstate;	/* end-of-data matcher */
	int			 quit;
};

static struct event_base *base;
static unsigned long long nsessions, nmessages, nbytes;

static const char ehlo_reply[] =
    "250-sink.example.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250 SIZE 104857600\r\n";

static void
sconn_free(struct sconn *s)
{
	bufferevent_free(s->bev);
	free(s);
}

/*
 * Scan message text for CRLF.CRLF.  State 2 means "just after CRLF" (the
 * 354 reply starts there): 0 none, 1 CR, 2 CRLF, 3 CRLF., 4 CRLF.CR.
 * Returns the octets consumed, with s->data cleared at the end.
 */
static size_t
sink_scan(struct sconn *s, const unsigned char *p, size_t len)
{
	size_t	 i;
	int	 st = s->dstate;

	for (i = 0; i < len; i++) {
		switch (p[i]) {
		case '\r':
			st = st == 3 ? 4 : 1;
			break;
		case '\n':
			if (st == 4) {
				s->data = 0;
				nmessages++;
				return i + 1;
			}
			st = st == 1 ? 2 : 0;
			break;
		case '.':
			st = st == 2 ? 3 : 0;
			break;
		default:
			st = 0;
			break;
		}
	}
	s->dstate = st;
	return len;
}

static void
sink_read(struct bufferevent *bev, void *arg)
{
	struct sconn	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer	*out = bufferevent_get_output(bev);
	struct evbuffer_iovec v;
	char		*line;
	size_t		 len, n;

	for (;;) {
		if (s->data) {
			if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 ||
			    v.iov_len == 0)
				return;
			n = sink_scan(s, v.iov_base, v.iov_len);
			nbytes += n;
			evbuffer_drain(in, n);
			if (!s->data)
				evbuffer_add(out, "250 2.0.0 Ok: discarded\r\n",
				    25);
			continue;
		}
		if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) ==
		    NULL)
			return;
		if (strncasecmp(line, "EHLO", 4) == 0)
			evbuffer_add(out, ehlo_reply, sizeof(ehlo_reply) - 1);
		else if (strncasecmp(line, "HELO", 4) == 0)
			evbuffer_add_printf(out, "250 sink.example.test\r\n");
		else if (strncasecmp(line, "DATA", 4) == 0) {
			evbuffer_add_printf(out, "354 End data with "
			    "<CR><LF>.<CR><LF>\r\n");
			s->data = 1;
			s->dstate = 2;
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			evbuffer_add_printf(out, "221 2.0.0 Bye\r\n");
			s->quit = 1;
		} else
			evbuffer_add_printf(out, "250 2.0.0 Ok\r\n");
		free(line);
		if (s->quit) {
			/* close once the reply is out */
			bufferevent_disable(bev, EV_READ);
			return;
		}
	}
}

static void
sink_write(struct bufferevent *bev, void *arg)
{
	struct sconn	*s = arg;

	if (s->quit)
		sconn_free(s);
}

static void
sink_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		sconn_free(arg);
}

static void
sink_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct sconn	*s;
	int		 one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->bev = bufferevent_socket_new(base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(s);
		close(fd);
		return;
	}
	nsessions++;
	bufferevent_setcb(s->bev, sink_read, sink_write, sink_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(s->bev),
	    "220 sink.example.test ESMTP bench sink\r\n");
}

static void
sink_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct evconnlistener	*l;
	struct event		*sev, *iev;
	const char		*addr = "127.0.0.1", *pidfile = NULL;
	FILE			*f;
	int			 ch, port = 0;

	while ((ch = getopt(argc, argv, "a:P:p:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'P': pidfile = optarg; break;
		case 'p': port = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: sink -p port [-a address] "
			    "[-P pidfile]\n");
			return 1;
		}
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "sink: bad or missing port\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "sink: bad address %s\n", addr);
		return 1;
	}
	base = event_base_new();
	l = evconnlistener_new_bind(base, sink_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL) {
		perror("sink: bind");
		return 1;
	}
	sev = evsignal_new(base, SIGTERM, sink_signal, NULL);
	iev = evsignal_new(base, SIGINT, sink_signal, NULL);
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
	printf("sessions %llu messages %llu bytes %llu\n", nsessions,
	    nmessages, nbytes);
	return 0;
}
