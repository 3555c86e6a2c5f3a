/*
 * ldapd_driver: runs a real ldapd-helper and plays both the smtpcertd
 * parent and the front towards it, for regress/test_ldapd.sh.
 *
 *	ldapd_driver [-v] [-l logfile] [-t seconds] helper smtpcertd.conf
 *
 * As the parent: parses the config with config_parse_file(), loads the
 * CA files and LDAP password files the config names into a conf_bundle,
 * fork+execs the helper (as root, so its privilege drop and sandbox are
 * the real ones) with its channel on PROC_PARENT_FD and its stderr on
 * logfile, sends the configuration with confmsg_send() and hands it a
 * front channel with IMSG_PEER_SOCKET.
 *
 * As the front: reads commands from stdin, one per line:
 *	cert PROFILE QUERY FILE.der
 *	auth PROFILE QUERY USER PASSWORD   (\xNN escapes; "" is empty)
 *	allow PROFILE QUERY USER           the allowance alone (issue 13),
 *	                      no password (\xNN escapes; "" is empty)
 *	flush                 IMSG_LDAP_FLUSH from the parent
 *	reload                parse and send the config file again
 *	front-restart         close the front channel, hand over a new one
 *	sleep SECONDS         (fractions allowed)
 *	wait                  until every request has its answer
 *	sync NAME             wait, then print "SYNC NAME"
 *	sandbox               print "SANDBOX pid=.. uid=.. seccomp=.. nnp=.."
 * and prints one line per answer, in arrival order:
 *	RESULT <OK|NOTFOUND|...> user=<u> dn=<dn> mails=<a,b> ms=<n> id=<n>
 *	    detail=<text>
 * Bytes outside printable ASCII are printed as \xNN.  At the end of
 * input it waits for outstanding answers, closes the parent channel (the
 * helper exits) and exits 0; after -t seconds (default 120) it gives up
 * with exit status 2.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "confmsg.h"
#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "proto.h"

#define DRV_LINE_MAX	8192
#define DRV_FILE_MAX	(1024 * 1024)

static const char *result_tok[LDAP_RES_MAX] = {
	[LDAP_RES_OK] = "OK",
	[LDAP_RES_NOTFOUND] = "NOTFOUND",
	[LDAP_RES_AMBIGUOUS] = "AMBIGUOUS",
	[LDAP_RES_MISMATCH] = "MISMATCH",
	[LDAP_RES_BADCRED] = "BADCRED",
	[LDAP_RES_DISALLOWED] = "DISALLOWED",
	[LDAP_RES_BADREQ] = "BADREQ",
	[LDAP_RES_BADFIELD] = "BADFIELD",
	[LDAP_RES_TEMPFAIL] = "TEMPFAIL",
};

struct pending {
	uint64_t	 start_ms;
	int		 open;
};

static struct event_base *base;
static struct imsgev	 parent_iev, front_iev;
static int		 front_up;
static const char	*conf_path;
static uint64_t		 gen;
static pid_t		 helper_pid = -1;
static struct event	*ev_stdin, *ev_pause;
static char		 inbuf[DRV_LINE_MAX * 4];
static size_t		 inlen;
static int		 eof, paused_wait, paused_sleep;
static int		 stdin_file;	/* a regular file: epoll refuses it */
static char		*sync_name;
static struct pending	*pend;
static size_t		 npend, cappend;
static int		 outstanding;

static void	run_input(void);
static void	arm_stdin(void);

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
put_escaped(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static unsigned char *
read_file(const char *path, size_t *lenp)
{
	unsigned char	*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	buf = malloc(DRV_FILE_MAX + 1);
	while (buf != NULL && (n = read(fd, buf + len, DRV_FILE_MAX - len)) >
	    0)
		len += n;
	close(fd);
	if (buf != NULL)
		buf[len] = '\0';
	*lenp = len;
	return buf;
}

static struct conf_bundle *
load_bundle(void)
{
	struct smtpcertd_conf	*conf;
	struct conf_bundle	*b;
	struct ldap_profile	*lp;
	struct ca		*ca;
	unsigned char		*c;
	size_t			 len;

	if ((conf = config_parse_file(conf_path)) == NULL) {
		fprintf(stderr, "ldapd_driver: %s: bad config\n", conf_path);
		exit(1);
	}
	b = conf_bundle_new(++gen);
	b->conf = conf;
	if ((b->text = config_text(conf, &b->textlen)) == NULL) {
		fprintf(stderr, "ldapd_driver: config_text failed\n");
		exit(1);
	}
	TAILQ_FOREACH(ca, &conf->cas, entry) {
		if ((c = read_file(ca->file, &len)) == NULL) {
			fprintf(stderr, "ldapd_driver: %s: %s\n", ca->file,
			    strerror(errno));
			exit(1);
		}
		conf_bundle_add(b, IMSG_CONF_CA, ca->name, c, len, NULL, 0);
	}
	TAILQ_FOREACH(lp, &conf->ldaps, entry) {
		if (lp->password_file == NULL)
			continue;
		if ((c = read_file(lp->password_file, &len)) == NULL) {
			fprintf(stderr, "ldapd_driver: %s: %s\n",
			    lp->password_file, strerror(errno));
			exit(1);
		}
		while (len > 0 && (c[len - 1] == '\n' || c[len - 1] == '\r'))
			c[--len] = '\0';
		conf_bundle_add(b, IMSG_CONF_SECRET, lp->name, c, len, NULL,
		    0);
	}
	return b;
}

static void
send_config(void)
{
	struct conf_bundle	*b = load_bundle();

	if (confmsg_send(&parent_iev, b, CONFMSG_CA | CONFMSG_SECRET) == -1) {
		fprintf(stderr, "ldapd_driver: confmsg_send failed\n");
		exit(1);
	}
	conf_bundle_free(b);
}

static void
check_done(void)
{
	if (outstanding > 0)
		return;
	if (paused_wait) {
		paused_wait = 0;
		if (sync_name != NULL) {
			printf("SYNC %s\n", sync_name);
			free(sync_name);
			sync_name = NULL;
		}
		run_input();
	}
}

static void
front_imsg(struct imsgev *iev, struct imsg *imsg)
{
	struct msgreader	 r;
	uint32_t		 result, n, i;
	char			*user, *dn, *detail, *mail;
	uint64_t		 id;

	if (imsg == NULL) {
		fprintf(stderr, "ldapd_driver: front channel closed\n");
		imsgev_close(iev);
		front_up = 0;
		return;
	}
	if (imsg->hdr.type != IMSG_LDAP_CERT_RES &&
	    imsg->hdr.type != IMSG_LDAP_AUTH_RES &&
	    imsg->hdr.type != IMSG_LDAP_ALLOW_RES) {
		fprintf(stderr, "ldapd_driver: unexpected %s\n",
		    imsg_type_name(imsg->hdr.type));
		exit(1);
	}
	id = imsg->hdr.reqid;
	msg_reader(&r, imsg);
	result = msg_get_u32(&r);
	user = msg_get_str(&r, LDAP_MAX_VALUE);
	dn = msg_get_str(&r, LDAP_MAX_DN);
	n = msg_get_u32(&r);
	printf("RESULT %s user=", result < LDAP_RES_MAX ? result_tok[result] :
	    "INVALID");
	if (user != NULL)
		put_escaped(user, strlen(user));
	printf(" dn=");
	if (dn != NULL)
		put_escaped(dn, strlen(dn));
	printf(" mails=");
	for (i = 0; i < n && i <= LDAP_MAX_MAILS; i++) {
		if ((mail = msg_get_str(&r, LDAP_MAX_VALUE)) == NULL)
			break;
		printf("%s", i ? "," : "");
		put_escaped(mail, strlen(mail));
		free(mail);
	}
	detail = msg_get_str(&r, LDAP_MAX_DN);
	if (msg_end(&r) == -1 || n > LDAP_MAX_MAILS || result >= LDAP_RES_MAX) {
		printf("\nMALFORMED answer to %llu\n", (unsigned long long)id);
		exit(1);
	}
	if (id == 0 || id > npend || !pend[id - 1].open) {
		printf("\nUNEXPECTED answer to %llu\n", (unsigned long long)id);
		exit(1);
	}
	pend[id - 1].open = 0;
	outstanding--;
	printf(" ms=%llu id=%llu detail=",
	    (unsigned long long)(now_ms() - pend[id - 1].start_ms),
	    (unsigned long long)id);
	fwrite(detail, 1, strlen(detail), stdout);
	printf("\n");
	free(user);
	free(dn);
	free(detail);
	check_done();
}

static void
parent_imsg(struct imsgev *iev, struct imsg *imsg)
{
	int	 status;

	if (imsg == NULL) {
		printf("HELPER EXITED");
		if (helper_pid != -1 && waitpid(helper_pid, &status, 0) > 0) {
			if (WIFSIGNALED(status))
				printf(" signal %d", WTERMSIG(status));
			else
				printf(" status %d", WEXITSTATUS(status));
		}
		printf("\n");
		exit(1);
	}
	/* IMSG_CHILD_READY, IMSG_CONF_LOADED: nothing to do. */
}

static void
new_front(void)
{
	uint32_t	 proc = PROC_FRONT;
	int		 sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0, sp) == -1) {
		perror("socketpair");
		exit(1);
	}
	imsgev_init(&front_iev, base, sp[0], IMSG_MAXSIZE_PEER, PROC_LDAPD,
	    front_imsg, NULL);
	front_up = 1;
	imsgev_compose(&parent_iev, IMSG_PEER_SOCKET, 0, 0, sp[1], &proc,
	    sizeof(proc));
}

/* \xNN escapes; the token "" is the empty string. */
static size_t
unescape(const char *in, char *out)
{
	size_t	 n = 0;
	unsigned int v;

	if (strcmp(in, "\"\"") == 0)
		return 0;
	while (*in) {
		if (in[0] == '\\' && in[1] == 'x' && in[2] && in[3] &&
		    sscanf(in + 2, "%2x", &v) == 1) {
			out[n++] = (char)v;
			in += 4;
		} else
			out[n++] = *in++;
	}
	return n;
}

static uint64_t
new_request(void)
{
	if (npend == cappend) {
		cappend = cappend ? cappend * 2 : 256;
		if ((pend = reallocarray(pend, cappend, sizeof(*pend))) ==
		    NULL) {
			perror("reallocarray");
			exit(1);
		}
	}
	pend[npend].start_ms = now_ms();
	pend[npend].open = 1;
	outstanding++;
	return ++npend;
}

static void
print_sandbox(void)
{
	char	 path[64], line[256];
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)helper_pid);
	printf("SANDBOX pid=%ld", (long)helper_pid);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (strncmp(line, "Uid:", 4) == 0)
				printf(" uid=%s", line + 5 + strspn(line + 4,
				    "\t ") - 1);
			else if (strncmp(line, "Seccomp:", 8) == 0)
				printf(" seccomp=%s", line + 8 +
				    strspn(line + 8, "\t "));
			else if (strncmp(line, "NoNewPrivs:", 11) == 0)
				printf(" nnp=%s", line + 11 +
				    strspn(line + 11, "\t "));
		}
		fclose(f);
	}
	printf("\n");
}

static void
pause_done(evutil_socket_t fd, short ev, void *arg)
{
	paused_sleep = 0;
	run_input();
}

static void
command(char *line)
{
	char		*argv[8], *p, *save = NULL;
	char		 ubuf[DRV_LINE_MAX], pbuf[DRV_LINE_MAX];
	size_t		 ulen, plen, len;
	unsigned char	*der;
	struct msgbuild	 m;
	struct timeval	 tv;
	double		 secs;
	int		 argc = 0;

	for (p = strtok_r(line, " \t", &save); p != NULL && argc < 8;
	    p = strtok_r(NULL, " \t", &save))
		argv[argc++] = p;
	if (argc == 0 || argv[0][0] == '#')
		return;
	msg_init(&m);
	if (strcmp(argv[0], "cert") == 0 && argc == 4) {
		if ((der = read_file(argv[3], &len)) == NULL) {
			fprintf(stderr, "ldapd_driver: %s: %s\n", argv[3],
			    strerror(errno));
			exit(1);
		}
		msg_put_str(&m, argv[1]);
		msg_put_str(&m, argv[2]);
		msg_put_data(&m, der, len);
		free(der);
		if (!front_up)
			printf("NOFRONT\n");
		else
			imsgev_send(&front_iev, &m, IMSG_LDAP_CERT_REQ, 0,
			    new_request(), -1);
	} else if (strcmp(argv[0], "auth") == 0 && argc == 5) {
		ulen = unescape(argv[3], ubuf);
		plen = unescape(argv[4], pbuf);
		msg_put_str(&m, argv[1]);
		msg_put_str(&m, argv[2]);
		/* Bytes, not a C string: NUL must reach the helper. */
		msg_put_data(&m, ulen ? ubuf : "", ulen);
		msg_put_data(&m, plen ? pbuf : "", plen);
		if (!front_up)
			printf("NOFRONT\n");
		else
			imsgev_send(&front_iev, &m, IMSG_LDAP_AUTH_REQ, 0,
			    new_request(), -1);
	} else if (strcmp(argv[0], "allow") == 0 && argc == 4) {
		ulen = unescape(argv[3], ubuf);
		msg_put_str(&m, argv[1]);
		msg_put_str(&m, argv[2]);
		msg_put_data(&m, ulen ? ubuf : "", ulen);
		if (!front_up)
			printf("NOFRONT\n");
		else
			imsgev_send(&front_iev, &m, IMSG_LDAP_ALLOW_REQ, 0,
			    new_request(), -1);
	} else if (strcmp(argv[0], "flush") == 0) {
		imsgev_compose(&parent_iev, IMSG_LDAP_FLUSH, 0, 0, -1, NULL, 0);
	} else if (strcmp(argv[0], "reload") == 0) {
		send_config();
	} else if (strcmp(argv[0], "front-restart") == 0) {
		if (front_up)
			imsgev_close(&front_iev);
		front_up = 0;
		if (outstanding > 0)
			printf("LOST %d\n", outstanding);
		while (npend > 0 && outstanding > 0)
			if (pend[--npend].open) {
				pend[npend].open = 0;
				outstanding--;
			}
		npend = 0;
		new_front();
	} else if (strcmp(argv[0], "sleep") == 0 && argc == 2) {
		secs = strtod(argv[1], NULL);
		tv.tv_sec = (time_t)secs;
		tv.tv_usec = (suseconds_t)((secs - tv.tv_sec) * 1e6);
		paused_sleep = 1;
		evtimer_add(ev_pause, &tv);
	} else if (strcmp(argv[0], "wait") == 0) {
		paused_wait = 1;
	} else if (strcmp(argv[0], "sync") == 0 && argc == 2) {
		free(sync_name);
		sync_name = strdup(argv[1]);
		paused_wait = 1;
	} else if (strcmp(argv[0], "sandbox") == 0) {
		print_sandbox();
	} else {
		fprintf(stderr, "ldapd_driver: bad command: %s\n", argv[0]);
		exit(1);
	}
	explicit_bzero(pbuf, sizeof(pbuf));
	msg_free(&m);
	if (paused_wait)
		check_done();
}

static void
finish(void)
{
	int	 status;

	/* The helper exits when its parent channel closes. */
	imsgev_close(&parent_iev);
	if (front_up)
		imsgev_close(&front_iev);
	if (helper_pid != -1 && waitpid(helper_pid, &status, 0) > 0 &&
	    (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)) {
		printf("HELPER EXITED %s %d\n", WIFSIGNALED(status) ?
		    "signal" : "status", WIFSIGNALED(status) ?
		    WTERMSIG(status) : WEXITSTATUS(status));
		exit(1);
	}
	exit(0);
}

static void
run_input(void)
{
	char	*nl;

	while (!paused_wait && !paused_sleep &&
	    (nl = memchr(inbuf, '\n', inlen)) != NULL) {
		*nl = '\0';
		command(inbuf);
		inlen -= nl + 1 - inbuf;
		memmove(inbuf, nl + 1, inlen);
	}
	if (paused_wait || paused_sleep)
		return;
	if (!eof)
		arm_stdin();
	if (eof) {
		if (inlen > 0) {
			inbuf[inlen] = '\0';
			inlen = 0;
			command(inbuf);
			if (paused_wait || paused_sleep)
				return;
		}
		if (outstanding > 0) {
			paused_wait = 1;
			return;
		}
		finish();
	}
}

static void
stdin_cb(evutil_socket_t fd, short ev, void *arg)
{
	ssize_t	 n;

	n = read(0, inbuf + inlen, sizeof(inbuf) - 1 - inlen);
	if (n <= 0)
		eof = 1;
	else
		inlen += n;
	if (inlen >= sizeof(inbuf) - 1 && memchr(inbuf, '\n', inlen) == NULL) {
		fprintf(stderr, "ldapd_driver: line too long\n");
		exit(1);
	}
	/* Not persistent: run_input() re-arms it when not paused, so a
	 * paused driver does not buffer without bound. */
	run_input();
}

static void
arm_stdin(void)
{
	struct timeval	 zero = { 0, 0 };

	if (event_pending(ev_stdin, EV_READ | EV_TIMEOUT, NULL))
		return;
	/* A file is always readable: poll it with a zero timer. */
	event_add(ev_stdin, stdin_file ? &zero : NULL);
}

static void
deadline(evutil_socket_t fd, short ev, void *arg)
{
	printf("DRIVER TIMEOUT (%d outstanding)\n", outstanding);
	if (helper_pid != -1)
		kill(helper_pid, SIGTERM);
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct event	*ev_deadline;
	struct stat	 st;
	struct timeval	 tv = { 120, 0 };
	const char	*logfile = NULL, *helper;
	char		*hargv[4];
	int		 ch, verbose = 0, sp[2], lfd, hargc = 0;

	while ((ch = getopt(argc, argv, "l:t:v")) != -1) {
		switch (ch) {
		case 'l':
			logfile = optarg;
			break;
		case 't':
			tv.tv_sec = atoi(optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2) {
 usage:
		fprintf(stderr, "usage: ldapd_driver [-v] [-l logfile] "
		    "[-t seconds] helper smtpcertd.conf\n");
		return 1;
	}
	helper = argv[0];
	conf_path = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	log_init(1, verbose);
	log_procinit("ldapd_driver");

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		perror("socketpair");
		return 1;
	}
	switch (helper_pid = fork()) {
	case -1:
		perror("fork");
		return 1;
	case 0:
		if (logfile != NULL && (lfd = open(logfile, O_WRONLY |
		    O_CREAT | O_APPEND, 0644)) != -1) {
			dup2(lfd, STDERR_FILENO);
			dup2(lfd, STDOUT_FILENO);
		}
		/* dup2 clears close-on-exec on the copy. */
		if (sp[1] == PROC_PARENT_FD)
			fcntl(sp[1], F_SETFD, 0);
		else if (dup2(sp[1], PROC_PARENT_FD) == -1)
			_exit(127);
		hargv[hargc++] = (char *)helper;
		hargv[hargc++] = "-d";
		if (verbose)
			hargv[hargc++] = "-v";
		hargv[hargc] = NULL;
		execv(helper, hargv);
		_exit(127);
	}
	close(sp[1]);
	if ((base = event_base_new()) == NULL)
		return 1;
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	imsgev_init(&parent_iev, base, sp[0], IMSG_MAXSIZE_PEER, PROC_LDAPD,
	    parent_imsg, NULL);
	send_config();
	new_front();

	ev_pause = evtimer_new(base, pause_done, NULL);
	if (fstat(0, &st) == 0 && S_ISREG(st.st_mode))
		stdin_file = 1;
	ev_stdin = event_new(base, stdin_file ? -1 : 0, stdin_file ? 0 :
	    EV_READ, stdin_cb, NULL);
	arm_stdin();
	ev_deadline = evtimer_new(base, deadline, NULL);
	evtimer_add(ev_deadline, &tv);
	event_base_dispatch(base);
	return 0;
}
