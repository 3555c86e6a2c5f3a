/*
 * smtpcertctl: control smtpcertd over its unix socket.
 *
 *	smtpcertctl [-j | --format text|json|prometheus] [-s socket]
 *	    show status | show crl |
 *	    show sessions | show stats | reload | ldap flush |
 *	    log verbose|brief [subsystem ...] | crl update [name] |
 *	    session kill id | test certificate file [listener address:port] |
 *	    test login user [listener address:port]
 *
 * Speaks the versioned control protocol (IMSG_CTL_HELLO first) and gives
 * up after CTL_TIMEOUT seconds of silence, so a wedged daemon never hangs
 * a script.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "crl_status.h"
#include "imsg.h"
#include "output.h"
#include "parser.h"
#include "proto.h"

#define CTL_SOCKET	"/run/smtpcertd.sock"
#define CTL_TIMEOUT	30
#define CTL_STR_MAX	4096
/* Rows of `show stats' we accept: the table has about a hundred. */
#define CTL_STATS_MAX	1024
/* Processes one `show stats' answer may name. */
#define CTL_STATS_PROCS_MAX	16

/* Set once the daemon accepted us, for the message when it hangs up. */
static int	ctl_accepted;

static void	usage(void) __attribute__((noreturn));
static int	ctl_connect(const char *);
static int	ctl_next(struct imsgbuf *, struct imsg *);

static void
usage(void)
{
	fprintf(stderr, "usage: smtpcertctl [-j | --json | --format "
	    "text|json|prometheus] [-s socket]\n"
	    "                   command [argument ...]\n"
	    "commands: show status, show crl, show sessions, show stats, "
	    "reload,\n          log verbose|brief [subsystem ...], "
	    "crl update [name],\n          ldap flush, session kill id,\n"
	    "          test certificate file [listener address:port],\n"
	    "          test login user [listener address:port]\n");
	exit(1);
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(1, "socket path %s too long", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		/* Say which of the usual two it is, in words. */
		switch (errno) {
		case ENOENT:
		case ENOTDIR:
			errx(1, "smtpcertd is not running: no control socket "
			    "%s", path);
		case ECONNREFUSED:
			errx(1, "smtpcertd is not running: nothing listens on "
			    "%s (a socket left by a crash?)", path);
		case EACCES:
		case EPERM:
			errx(1, "permission denied on %s: run smtpcertctl as "
			    "root or as a member of smtpcertd's control group",
			    path);
		default:
			err(1, "connect %s", path);
		}
	}
	return fd;
}

/* Next message from the daemon; exits on EOF, timeout or garbage. */
static int
ctl_next(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if ((r = imsg_get(ibuf, imsg)) == 1)
			return 0;
		if (r == -1)
			errx(1, "malformed reply from smtpcertd");
		pfd.fd = ibuf->fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, CTL_TIMEOUT * 1000)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (r == 0)
			errx(1, "no reply from smtpcertd in %d seconds",
			    CTL_TIMEOUT);
		if ((n = imsgbuf_read(ibuf)) == 0 ||
		    (n == -1 && errno == ECONNRESET)) {
			if (!ctl_accepted)
				errx(1, "smtpcertd closed the connection "
				    "without a reason: see its log");
			errx(1, "smtpcertd closed the connection");
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			err(1, "read");
	}
}

static char *
get_str(struct msgreader *r)
{
	char	*s = msg_get_str(r, CTL_STR_MAX);

	return s != NULL ? s : strdup("");
}

static int
show_status(struct imsgbuf *ibuf, int json)
{
	static struct status	 st;
	struct imsg		 imsg;
	struct msgreader	 r;

	for (;;) {
		ctl_next(ibuf, &imsg);
		msg_reader(&r, &imsg);
		switch (imsg.hdr.type) {
		case IMSG_CTL_STATUS_DAEMON:
			st.d.version = get_str(&r);
			st.d.pid = msg_get_u64(&r);
			st.d.started = msg_get_i64(&r);
			st.d.conffile = get_str(&r);
			st.d.gen = msg_get_u64(&r);
			st.d.last_reload = msg_get_i64(&r);
			st.d.last_reload_result = get_str(&r);
			st.d.trace = msg_get_u32(&r);
			st.d.fronts = msg_get_u32(&r);
			st.d.fronts_configured = msg_get_u32(&r);
			break;
		case IMSG_CTL_STATUS_PROC:
			if (st.nprocs >= STATUS_MAX_ROWS)
				errx(1, "too many rows in reply");
			st.procs[st.nprocs].name = get_str(&r);
			st.procs[st.nprocs].pid = msg_get_u64(&r);
			st.procs[st.nprocs].state = get_str(&r);
			st.procs[st.nprocs].started = msg_get_i64(&r);
			st.procs[st.nprocs].restarts = msg_get_u32(&r);
			st.procs[st.nprocs].gen = msg_get_u64(&r);
			st.nprocs++;
			break;
		case IMSG_CTL_STATUS_LISTENER:
			if (st.nlisteners >= STATUS_MAX_ROWS)
				errx(1, "too many rows in reply");
			st.listeners[st.nlisteners].address = get_str(&r);
			st.listeners[st.nlisteners].port = msg_get_u32(&r);
			st.listeners[st.nlisteners].proto = get_str(&r);
			st.listeners[st.nlisteners].tls = get_str(&r);
			st.nlisteners++;
			break;
		case IMSG_CTL_END:
			imsg_free(&imsg);
			if (st.d.version == NULL)
				errx(1, "incomplete reply from smtpcertd");
			output_status(&st, json, time(NULL));
			return 0;
		case IMSG_CTL_FAIL: {
			char	*m = get_str(&r);

			output_result(0, m, json);
			return 1;
		}
		default:
			errx(1, "unexpected %s from smtpcertd",
			    imsg_type_name(imsg.hdr.type));
		}
		if (msg_end(&r) == -1)
			errx(1, "malformed %s from smtpcertd",
			    imsg_type_name(imsg.hdr.type));
		imsg_free(&imsg);
	}
}

/*
 * A reply of rows of one type, then IMSG_CTL_END (0 returned), or
 * IMSG_CTL_FAIL (printed, 1 returned).  row() decodes one row; a row of
 * another type, or one not consumed exactly, ends the program.
 */
static int
ctl_read_rows(struct imsgbuf *ibuf, int json, uint32_t type, size_t max,
    void (*row)(struct msgreader *, void *), void *ctx)
{
	struct imsg		 imsg;
	struct msgreader	 r;
	size_t			 nrows = 0;
	char			*m;

	for (;;) {
		ctl_next(ibuf, &imsg);
		msg_reader(&r, &imsg);
		if (imsg.hdr.type == IMSG_CTL_END) {
			imsg_free(&imsg);
			return 0;
		}
		if (imsg.hdr.type == IMSG_CTL_FAIL) {
			m = get_str(&r);
			output_result(0, m, json);
			return 1;
		}
		if (imsg.hdr.type != type)
			errx(1, "unexpected %s from smtpcertd",
			    imsg_type_name(imsg.hdr.type));
		if (++nrows > max)
			errx(1, "too many rows in reply");
		row(&r, ctx);
		if (msg_end(&r) == -1)
			errx(1, "malformed %s from smtpcertd",
			    imsg_type_name(imsg.hdr.type));
		imsg_free(&imsg);
	}
}

struct crl_rows {
	struct crl_status	*rows;
	size_t			 n;
};

static void
crl_row(struct msgreader *r, void *arg)
{
	struct crl_rows		*c = arg;
	struct crl_status	*n;

	if ((n = reallocarray(c->rows, c->n + 1, sizeof(*n))) == NULL)
		err(1, NULL);
	c->rows = n;
	crl_status_get(r, &c->rows[c->n++]);
}

static int
show_crl(struct imsgbuf *ibuf, int json)
{
	struct crl_rows	 c = { NULL, 0 };
	size_t		 i;
	int		 rc;

	rc = ctl_read_rows(ibuf, json, IMSG_CTL_CRL_ROW, CRL_MAX_SOURCES,
	    crl_row, &c);
	if (rc == 0)
		output_crl(c.rows, c.n, json, time(NULL));
	for (i = 0; i < c.n; i++)
		crl_status_free(&c.rows[i]);
	free(c.rows);
	return rc;
}

struct session_rows {
	struct st_session	*rows;
	size_t			 n;
};

static void
session_row(struct msgreader *r, void *arg)
{
	struct session_rows	*c = arg;
	struct st_session	*n;

	if ((n = reallocarray(c->rows, c->n + 1, sizeof(*n))) == NULL)
		err(1, NULL);
	c->rows = n;
	n = &c->rows[c->n++];
	n->id = msg_get_u64(r);
	n->proto = get_str(r);
	n->state = get_str(r);
	n->user = get_str(r);
	n->client = get_str(r);
	n->backend = get_str(r);
	n->started = msg_get_i64(r);
	n->bytes_in = msg_get_u64(r);
	n->bytes_out = msg_get_u64(r);
	n->front = msg_get_u32(r);
	n->pid = msg_get_u64(r);
}

static int
show_sessions(struct imsgbuf *ibuf, int json)
{
	struct session_rows	 c = { NULL, 0 };
	size_t			 i;
	int			 rc;

	rc = ctl_read_rows(ibuf, json, IMSG_CTL_SESSION, ACCT_MAX_SESSIONS,
	    session_row, &c);
	if (rc == 0)
		output_sessions(c.rows, c.n, json, time(NULL));
	for (i = 0; i < c.n; i++) {
		free(c.rows[i].proto);
		free(c.rows[i].state);
		free(c.rows[i].user);
		free(c.rows[i].client);
		free(c.rows[i].backend);
	}
	free(c.rows);
	return rc;
}

/*
 * `show stats': counter rows, then the processes whose counters are
 * missing (the answer is partial), then the end.  Names are checked only
 * for shape here; output.c refuses a set that is not a tree.
 */
static int
show_stats(struct imsgbuf *ibuf, enum output_format fmt)
{
	struct st_stats		 st;
	struct imsg		 imsg;
	struct msgreader	 r;
	char			*m;
	size_t			 i;
	uint32_t		 n;
	int			 have_info = 0;

	memset(&st, 0, sizeof(st));
	for (;;) {
		ctl_next(ibuf, &imsg);
		msg_reader(&r, &imsg);
		switch (imsg.hdr.type) {
		case IMSG_CTL_STATS_ROW:
			if (st.nrows >= CTL_STATS_MAX)
				errx(1, "too many rows in reply");
			if ((st.rows = reallocarray(st.rows, st.nrows + 1,
			    sizeof(*st.rows))) == NULL)
				err(1, NULL);
			st.rows[st.nrows].name = get_str(&r);
			st.rows[st.nrows].value = msg_get_u64(&r);
			st.nrows++;
			break;
		case IMSG_CTL_STATS_MISSING:
			if (st.nmissing >= CTL_STATS_MAX)
				errx(1, "too many rows in reply");
			if ((st.missing = reallocarray(st.missing,
			    st.nmissing + 1, sizeof(*st.missing))) == NULL)
				err(1, NULL);
			st.missing[st.nmissing].process = get_str(&r);
			st.missing[st.nmissing].reason = get_str(&r);
			st.nmissing++;
			break;
		case IMSG_CTL_STATS_INFO:
			if (have_info++)
				errx(1, "IMSG_CTL_STATS_INFO twice from "
				    "smtpcertd");
			st.started = msg_get_i64(&r);
			st.now = msg_get_i64(&r);
			n = msg_get_u32(&r);
			if (n > CTL_STATS_PROCS_MAX)
				errx(1, "too many processes in reply");
			if ((st.asked = calloc(n + 1, sizeof(*st.asked))) ==
			    NULL)
				err(1, NULL);
			for (i = 0; i < n; i++) {
				st.asked[i].process = get_str(&r);
				st.asked[i].present = msg_get_u32(&r) != 0;
			}
			st.nasked = n;
			break;
		case IMSG_CTL_END:
			if (imsg.datalen != 0)
				errx(1, "malformed IMSG_CTL_END from smtpcertd");
			if (!have_info)
				errx(1, "incomplete reply from smtpcertd");
			imsg_free(&imsg);
			output_stats(&st, fmt);
			for (i = 0; i < st.nasked; i++)
				free(st.asked[i].process);
			free(st.asked);
			for (i = 0; i < st.nrows; i++)
				free(st.rows[i].name);
			for (i = 0; i < st.nmissing; i++) {
				free(st.missing[i].process);
				free(st.missing[i].reason);
			}
			free(st.rows);
			free(st.missing);
			return 0;
		case IMSG_CTL_FAIL:
			m = get_str(&r);
			output_result(0, m, fmt == OUT_JSON);
			free(m);
			return 1;
		default:
			errx(1, "unexpected %s from smtpcertd",
			    imsg_type_name(imsg.hdr.type));
		}
		if (msg_end(&r) == -1)
			errx(1, "malformed %s from smtpcertd",
			    imsg_type_name(imsg.hdr.type));
		imsg_free(&imsg);
	}
}

/*
 * The PEM file of `test certificate', read whole before connecting: at
 * most CTL_TEST_CERT_MAX bytes.
 */
static uint8_t *
read_pem(const char *path, size_t *len)
{
	uint8_t	*buf;
	ssize_t	 n;
	size_t	 off = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "%s", path);
	if ((buf = malloc(CTL_TEST_CERT_MAX + 1)) == NULL)
		err(1, NULL);
	while (off <= CTL_TEST_CERT_MAX) {
		n = read(fd, buf + off, CTL_TEST_CERT_MAX + 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(1, "%s", path);
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (off > CTL_TEST_CERT_MAX)
		errx(1, "%s: larger than %d KB: not a certificate chain", path,
		    CTL_TEST_CERT_MAX / 1024);
	if (off == 0)
		errx(1, "%s: empty file", path);
	*len = off;
	return buf;
}

/* Steps, the decision, the end; exit status 0 accepted, 1 refused, 2
 * temporary failure. */
static int
show_test(struct imsgbuf *ibuf, int json)
{
	struct st_test		 t;
	struct imsg		 imsg;
	struct msgreader	 r;
	struct st_step		*st;
	char			*m;
	int			 decided = 0;
	size_t			 i;

	memset(&t, 0, sizeof(t));
	for (;;) {
		ctl_next(ibuf, &imsg);
		msg_reader(&r, &imsg);
		switch (imsg.hdr.type) {
		case IMSG_CTL_TEST_STEP:
			if (decided || t.nsteps >= CTL_TEST_STEPS_MAX)
				errx(1, "too many rows in reply");
			if ((t.steps = reallocarray(t.steps, t.nsteps + 1,
			    sizeof(*t.steps))) == NULL)
				err(1, NULL);
			st = &t.steps[t.nsteps++];
			st->step = get_str(&r);
			st->result = get_str(&r);
			st->detail = get_str(&r);
			break;
		case IMSG_CTL_TEST_DECISION:
			if (decided)
				errx(1, "two decisions in reply");
			t.decision = msg_get_u32(&r);
			t.user = get_str(&r);
			t.reason = get_str(&r);
			if (t.decision >= CTL_TEST_MAX)
				errx(1, "malformed decision from smtpcertd");
			decided = 1;
			break;
		case IMSG_CTL_END:
			if (imsg.datalen != 0 || !decided)
				errx(1, "incomplete reply from smtpcertd");
			imsg_free(&imsg);
			output_test(&t, json);
			for (i = 0; i < t.nsteps; i++) {
				free(t.steps[i].step);
				free(t.steps[i].result);
				free(t.steps[i].detail);
			}
			free(t.steps);
			free(t.user);
			free(t.reason);
			return t.decision == CTL_TEST_ACCEPTED ? 0 :
			    t.decision == CTL_TEST_TEMPFAIL ? 2 : 1;
		case IMSG_CTL_FAIL:
			m = get_str(&r);
			output_result(0, m, json);
			free(m);
			return 1;
		default:
			errx(1, "unexpected %s from smtpcertd",
			    imsg_type_name(imsg.hdr.type));
		}
		if (msg_end(&r) == -1)
			errx(1, "malformed %s from smtpcertd",
			    imsg_type_name(imsg.hdr.type));
		imsg_free(&imsg);
	}
}

/* A session id as `show sessions' and the logs print it: hex. */
static uint64_t
parse_session_id(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > 16 || strspn(s, "0123456789abcdefABCDEF") != n)
		errx(1, "invalid session id \"%s\": give it in hex, as "
		    "show sessions prints it", s);
	return strtoull(s, NULL, 16);
}

static int
simple_result(struct imsgbuf *ibuf, int json)
{
	struct imsg		 imsg;
	struct msgreader	 r;
	char			*m;
	int			 ok;

	ctl_next(ibuf, &imsg);
	if (imsg.hdr.type != IMSG_CTL_OK && imsg.hdr.type != IMSG_CTL_FAIL)
		errx(1, "unexpected %s from smtpcertd",
		    imsg_type_name(imsg.hdr.type));
	ok = imsg.hdr.type == IMSG_CTL_OK;
	msg_reader(&r, &imsg);
	m = msg_get_str(&r, CTL_STR_MAX);
	if (msg_end(&r) == -1 || m == NULL)
		errx(1, "malformed reply from smtpcertd");
	output_result(ok, m, json);
	free(m);
	imsg_free(&imsg);
	return ok ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	struct ctl_request	 req;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct msgbuild		 mb;
	static const struct option longopts[] = {
		{ "json",	no_argument,	NULL,	'j' },
		{ "format",	required_argument, NULL, 'F' },
		{ NULL,		0,		NULL,	0 }
	};
	enum output_format	 fmt = OUT_TEXT;
	const char		*sock = CTL_SOCKET;
	uint64_t		 sid = 0;
	uint8_t			*pem = NULL;
	size_t			 pemlen = 0, off, n;
	uint32_t		 v;
	int			 ch, json = 0, fd;

	if (getenv("SMTPCERTD_SOCKET") != NULL)
		sock = getenv("SMTPCERTD_SOCKET");
	while ((ch = getopt_long(argc, argv, "js:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			fmt = OUT_JSON;
			break;
		case 'F':
			if (strcmp(optarg, "text") == 0)
				fmt = OUT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				fmt = OUT_JSON;
			else if (strcmp(optarg, "prometheus") == 0)
				fmt = OUT_PROMETHEUS;
			else {
				fprintf(stderr, "unknown format: %s (text, "
				    "json or prometheus)\n", optarg);
				usage();
			}
			break;
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (parse_args(argc, argv, &req) == -1)
		usage();
	json = fmt == OUT_JSON;
	/* Counters are what the format describes; nothing else is. */
	if (fmt == OUT_PROMETHEUS && req.action != CTL_SHOW_STATS)
		errx(1, "--format prometheus is only for show stats");
	if (req.action == CTL_SESSION_KILL)
		sid = parse_session_id(req.arg);
	if (req.action == CTL_TEST_CERT)
		pem = read_pem(req.arg, &pemlen);

	/* A refused client may find the socket closed under its hello:
	 * EPIPE, then read the reason the daemon left for it. */
	signal(SIGPIPE, SIG_IGN);
	fd = ctl_connect(sock);
	imsgbuf_init(&ibuf, fd, IMSG_MAXSIZE_CTL);
	v = SMTPCERTD_CTL_VERSION;
	imsg_compose(&ibuf, IMSG_CTL_HELLO, 0, 0, -1, &v, sizeof(v));
	if (imsgbuf_flush(&ibuf) == -1 && errno != EPIPE &&
	    errno != ECONNRESET)
		err(1, "write");
	ctl_next(&ibuf, &imsg);
	if (imsg.hdr.type == IMSG_CTL_FAIL) {
		struct msgreader r;
		char		*m;

		msg_reader(&r, &imsg);
		m = msg_get_str(&r, CTL_STR_MAX);
		errx(1, "%s", m ? m : "refused");
	}
	if (imsg.hdr.type != IMSG_CTL_HELLO ||
	    imsg_get_data(&imsg, &v, sizeof(v)) == -1 ||
	    v != SMTPCERTD_CTL_VERSION)
		errx(1, "smtpcertd speaks another control protocol version");
	imsg_free(&imsg);
	ctl_accepted = 1;

	switch (req.action) {
	case CTL_SHOW_STATUS:
		imsg_compose(&ibuf, IMSG_CTL_SHOW_STATUS, 0, 0, -1, NULL, 0);
		break;
	case CTL_RELOAD:
		imsg_compose(&ibuf, IMSG_CTL_RELOAD, 0, 0, -1, NULL, 0);
		break;
	case CTL_SHOW_CRL:
		imsg_compose(&ibuf, IMSG_CTL_SHOW_CRL, 0, 0, -1, NULL, 0);
		break;
	case CTL_LDAP_FLUSH:
		imsg_compose(&ibuf, IMSG_CTL_LDAP_FLUSH, 0, 0, -1, NULL, 0);
		break;
	case CTL_SHOW_SESSIONS:
		imsg_compose(&ibuf, IMSG_CTL_SHOW_SESSIONS, 0, 0, -1, NULL, 0);
		break;
	case CTL_SHOW_STATS:
		imsg_compose(&ibuf, IMSG_CTL_SHOW_STATS, 0, 0, -1, NULL, 0);
		break;
	case CTL_SESSION_KILL:
		imsg_compose(&ibuf, IMSG_CTL_SESSION_KILL, 0, 0, -1, &sid,
		    sizeof(sid));
		break;
	case CTL_CRL_UPDATE:
		msg_init(&mb);
		msg_put_str(&mb, req.arg != NULL ? req.arg : "");
		if (msg_send(&ibuf, &mb, IMSG_CTL_CRL_UPDATE, 0, 0, -1) == -1)
			errx(1, "crl update: name too long");
		msg_free(&mb);
		break;
	case CTL_LOG_VERBOSE:
	case CTL_LOG_BRIEF:
		msg_init(&mb);
		msg_put_u32(&mb, req.action == CTL_LOG_VERBOSE);
		msg_put_u32(&mb, req.trace);
		if (msg_send(&ibuf, &mb, IMSG_CTL_LOG_VERBOSE, 0, 0, -1) == -1)
			errx(1, "log: cannot build the request");
		msg_free(&mb);
		break;
	case CTL_TEST_CERT:
		/* In pieces: a control message holds at most 16 KB. */
		for (off = 0; off < pemlen; off += n) {
			n = pemlen - off < 8192 ? pemlen - off : 8192;
			if (imsg_compose(&ibuf, IMSG_CTL_TEST_CERT_DATA, 0, 0,
			    -1, pem + off, n) == -1)
				errx(1, "test certificate: cannot build the "
				    "request");
		}
		free(pem);
		/* FALLTHROUGH */
	case CTL_TEST_LOGIN:
		msg_init(&mb);
		msg_put_str(&mb, req.listener != NULL ? req.listener : "");
		if (req.action == CTL_TEST_LOGIN)
			msg_put_str(&mb, req.arg);
		if (msg_send(&ibuf, &mb, req.action == CTL_TEST_CERT ?
		    IMSG_CTL_TEST_CERT : IMSG_CTL_TEST_LOGIN, 0, 0, -1) == -1)
			errx(1, "test: argument too long");
		msg_free(&mb);
		break;
	default:
		usage();
	}
	if (imsgbuf_flush(&ibuf) == -1)
		err(1, "write");
	if (req.action == CTL_TEST_CERT || req.action == CTL_TEST_LOGIN)
		return show_test(&ibuf, json);
	if (req.action == CTL_SHOW_STATUS)
		return show_status(&ibuf, json);
	if (req.action == CTL_SHOW_CRL)
		return show_crl(&ibuf, json);
	if (req.action == CTL_SHOW_SESSIONS)
		return show_sessions(&ibuf, json);
	if (req.action == CTL_SHOW_STATS)
		return show_stats(&ibuf, fmt);
	return simple_result(&ibuf, json);
}
