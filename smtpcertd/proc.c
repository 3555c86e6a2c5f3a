/*
 * The parent's children: start each by fork + exec (fresh address space
 * layout for every child) with its channel on PROC_PARENT_FD, hand it the
 * configuration and its peer channels, reap it when it dies and restart it
 * with back-off.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "confmsg.h"
#include "imsgev.h"
#include "log.h"
#include "proto.h"
#include "smtpcertd.h"

/* The pairs of children that talk to each other directly. */
static const struct {
	enum smtpcertd_proc	a, b;
} peer_pairs[] = {
	{ PROC_FRONT, PROC_LDAPD },
	{ PROC_FRONT, PROC_CRLD },
	{ PROC_FRONT, PROC_KEYS },
};

/* The keys process first: the front's first handshakes need it.  The
 * further fronts start right after front 0 (proc_start_all()). */
static const enum smtpcertd_proc children_order[] = {
	PROC_KEYS, PROC_FRONT, PROC_LDAPD, PROC_CRLD
};
#define NORDER	(sizeof(children_order) / sizeof(children_order[0]))

static void	proc_start(struct child *);
static void	proc_dispatch(struct imsgev *, struct imsg *);
static void	proc_restart_cb(evutil_socket_t, short, void *);
static void	proc_connect_peers(struct child *);
static void	proc_exec(struct child *, int, int);

void
proc_init(void)
{
	struct child	*c;
	size_t		 i;
	int		 k;

	for (i = 0; i < SLOT_MAX; i++) {
		c = &parent->children[i];
		c->proc = slot_proc(i);
		c->slot = i;
		c->front = c->proc == PROC_FRONT ? slot_front(i) : 0;
		c->backoff = CHILD_BACKOFF_MIN;
		c->iev.ibuf.fd = -1;
	}
	for (i = 0; i < NORDER; i++)
		parent->children[children_order[i]].restart_ev = evtimer_new(
		    parent->base, proc_restart_cb,
		    &parent->children[children_order[i]]);
	for (k = 1; k < parent->nfronts; k++)
		proc_front(k)->restart_ev = evtimer_new(parent->base,
		    proc_restart_cb, proc_front(k));
}

void
proc_start_all(void)
{
	size_t	 i;
	int	 k;

	for (i = 0; i < NORDER; i++) {
		proc_start(&parent->children[children_order[i]]);
		if (children_order[i] == PROC_FRONT)
			for (k = 1; k < parent->nfronts; k++)
				proc_start(proc_front(k));
	}
}

/* fd: the channel; logfd: the write end of the child's log pipe, or -1
 * (logfile.c). */
static void
proc_exec(struct child *c, int fd, int logfd)
{
	char		*argv[8], path[4096];
	int		 argc = 0, nullfd;

	if (c->proc == PROC_FRONT || c->proc == PROC_KEYS) {
		/* Both are smtpcertd itself (they need libssl). */
		snprintf(path, sizeof(path), "%s", parent->self_exe);
		argv[argc++] = "smtpcertd";
		argv[argc++] = "-T";
		argv[argc++] = (char *)proc_name(c->proc);
	} else {
		snprintf(path, sizeof(path), "%s/%s", parent->libexec,
		    proc_name(c->proc));
		argv[argc++] = (char *)proc_name(c->proc);
	}
	if (parent->foreground)
		argv[argc++] = "-d";
	/* Tracing everything from the first line; a partial mask follows
	 * as the first message (proc_start()). */
	if (log_trace_getmask() == TRACE_ALL)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	/* Before the channel's dup2, which may replace the pipe's fd
	 * (PROC_PARENT_FD); the channel is never 0-2, the parent keeps
	 * those open. */
	if (!parent->foreground) {
		setenv(LOG_ENV_FACILITY,
		    log_facility_name(parent->cur->conf->log_facility), 1);
		if (logfd != -1) {
			if (dup2(logfd, STDERR_FILENO) == -1)
				_exit(127);
			setenv(LOG_ENV_STDERR, "1", 1);
		}
	}
	/* dup2 clears close-on-exec: the channel is the one fd we keep. */
	if (fd == PROC_PARENT_FD) {
		if (fcntl(fd, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(fd, PROC_PARENT_FD) == -1)
		_exit(127);
	if ((nullfd = open("/dev/null", O_RDWR)) != -1) {
		dup2(nullfd, STDIN_FILENO);
		if (!parent->foreground) {
			dup2(nullfd, STDOUT_FILENO);
			if (logfd == -1)
				dup2(nullfd, STDERR_FILENO);
		}
		if (nullfd > STDERR_FILENO && nullfd != PROC_PARENT_FD)
			close(nullfd);
	}
	/* Signals the parent ignores or handles must be default again. */
	signal(SIGPIPE, SIG_DFL);
	execv(path, argv);
	/* stderr may be /dev/null; the parent logs our exit status. */
	_exit(127);
}

static void
proc_start(struct child *c)
{
	sigset_t	 all, old;
	int		 sp[2], logfd = -1;
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	if (!parent->foreground)
		logfd = logfile_child_pipe(c);
	/* Block signals across fork so the child starts with none of the
	 * parent's libevent signal handling in its way. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		struct sigaction sa;
		int		 i;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (i = 1; i < NSIG; i++)
			sigaction(i, &sa, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(sp[0]);
		proc_exec(c, sp[1], logfd);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sp[1]);
	if (logfd != -1) {
		close(logfd);
		logfile_child_started(c, pid);
	}
	if (fcntl(sp[0], F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");

	c->pid = pid;
	c->started = time(NULL);
	c->ready = 0;
	c->up = 1;
	c->conf_loaded = 0;
	imsgev_init(&c->iev, parent->base, sp[0], IMSG_MAXSIZE_PEER, c->proc,
	    proc_dispatch, c);
	log_debug("started %s, pid %ld", proc_name(c->proc), (long)pid);

	/* Before the config: the child applies it while starting up. */
	imsgev_compose(&c->iev, IMSG_LOG_VERBOSE, 0, 0, -1,
	    &(uint32_t){ log_trace_getmask() }, sizeof(uint32_t));
	proc_send_config(c);
	/* A front's session counts, zero again (fronts.c). */
	if (c->proc == PROC_FRONT)
		fronts_started(c);
	/* A new front gets the current CRL set right after its config. */
	crl_parent_child_started(c);
	proc_connect_peers(c);
}

void
proc_send_config(struct child *c)
{
	int	 what = CONFMSG_CA;

	if (!c->up || parent->cur == NULL)
		return;
	switch (c->proc) {
	case PROC_FRONT:
		/* Certificates only: the keys stay in the keys process. */
		what |= CONFMSG_PKI_CERTS | CONFMSG_LISTENERS | CONFMSG_MASTER;
		break;
	case PROC_KEYS:
		what = CONFMSG_PKI;
		break;
	case PROC_LDAPD:
		what |= CONFMSG_SECRET;
		break;
	default:
		break;
	}
	/* Each front has its own listening sockets (listen.c). */
	if (confmsg_send_set(&c->iev, parent->cur, what, c->front) == -1)
		log_warnx("could not queue configuration for %s",
		    proc_name(c->proc));
}

/* Give a (re)started child fresh channels to each running peer: a front
 * to each helper, a helper to every front.  Each end learns the other's
 * slot, so a helper tells its fronts apart (proto.h). */
static void
proc_connect_peers(struct child *c)
{
	struct child	*o;
	size_t		 i;
	uint32_t	 pa, pb;
	int		 sp[2], s;

	for (s = 0; s < SLOT_MAX; s++) {
		o = &parent->children[s];
		if (o == c || !o->up)
			continue;
		for (i = 0; i < sizeof(peer_pairs) / sizeof(peer_pairs[0]);
		    i++)
			if ((peer_pairs[i].a == c->proc &&
			    peer_pairs[i].b == o->proc) ||
			    (peer_pairs[i].b == c->proc &&
			    peer_pairs[i].a == o->proc))
				break;
		if (i == sizeof(peer_pairs) / sizeof(peer_pairs[0]))
			continue;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sp) == -1)
			fatal("socketpair");
		pa = o->slot;
		pb = c->slot;
		imsgev_compose(&c->iev, IMSG_PEER_SOCKET, 0, 0, sp[0], &pa,
		    sizeof(pa));
		imsgev_compose(&o->iev, IMSG_PEER_SOCKET, 0, 0, sp[1], &pb,
		    sizeof(pb));
	}
}

static void
proc_channel_down(struct child *c)
{
	if (!c->up)
		return;
	imsgev_close(&c->iev);
	c->up = 0;
	c->ready = 0;
	/* Pending `crl update` requests must not wait forever. */
	crl_parent_child_down(c);
	/* Nor `show stats' (stats_parent.c). */
	stats_parent_child_down(c);
	/* Nor `show sessions', `session kill' (accounting.c); and its
	 * sessions no longer count against the others' (fronts.c). */
	if (c->proc == PROC_FRONT) {
		sessions_child_down(c);
		fronts_down(c);
	}
}

static void
proc_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct child	*c = iev->data;
	uint64_t	 gen;

	if (imsg == NULL) {
		/* EOF: the child is dying; SIGCHLD does the rest.  A framing
		 * error is a broken child: kill it and start afresh. */
		if (errno == EBADMSG) {
			log_warnx("malformed message from %s, killing it",
			    proc_name(c->proc));
			kill(c->pid, SIGKILL);
		}
		proc_channel_down(c);
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_CHILD_READY:
		if (imsg->datalen != 0)
			goto bad;
		c->ready = 1;
		log_debug("%s ready", proc_name(c->proc));
		break;
	case IMSG_CONF_LOADED:
		if (imsg_get_data(imsg, &gen, sizeof(gen)) == -1)
			goto bad;
		c->conf_loaded = gen;
		break;
	case IMSG_CRL_SET:
	case IMSG_CRL_STATUS:
	case IMSG_CRL_UPDATE_DONE:
		/* Revocation (crl_parent.c): from crld only. */
		if (c->proc != PROC_CRLD || crl_parent_crld_imsg(imsg) == -1)
			goto bad;
		break;
	case IMSG_CRL_SET_LOADED:
		if (c->proc != PROC_FRONT ||
		    crl_parent_front_imsg(c, imsg) == -1)
			goto bad;
		break;
	case IMSG_ACCT_RECORD:
		/* E-mail proxy (accounting.c): from the front only. */
		if (c->proc != PROC_FRONT ||
		    accounting_front_imsg(imsg) == -1)
			goto bad;
		break;
	case IMSG_CTL_SESSION:
	case IMSG_CTL_END:
	case IMSG_CTL_OK:	/* `session kill' answers */
	case IMSG_CTL_FAIL:
		if (c->proc != PROC_FRONT ||
		    sessions_front_imsg(c, imsg) == -1)
			goto bad;
		break;
	case IMSG_CTL_TEST_STEP:
	case IMSG_CTL_TEST_DECISION:
		/* `test certificate', `test login' (control_reply.c). */
		if (c->proc != PROC_FRONT || control_test_relay(imsg) == -1)
			goto bad;
		break;
	case IMSG_AUTHFAIL_NOTE:
		/* A failed login, for the other fronts (fronts_authfail.c). */
		if (c->proc != PROC_FRONT ||
		    fronts_authfail_imsg(c, imsg) == -1)
			goto bad;
		break;
	case IMSG_AUTHFAIL_SEEN:
		/* ...which another front now has (fronts_authfail.c). */
		if (c->proc != PROC_FRONT ||
		    fronts_authfail_seen(c, imsg) == -1)
			goto bad;
		break;
	case IMSG_FRONT_EVICT:
		/* An eviction on another front (fronts.c). */
		if (c->proc != PROC_FRONT ||
		    fronts_evict_imsg(c, imsg) == -1)
			goto bad;
		break;
	case IMSG_STATS:
		/* `show stats' (stats_parent.c): any child. */
		if (stats_parent_child_imsg(c, imsg) == -1)
			goto bad;
		break;
	default:
		goto bad;
	}
	return;
bad:
	/* Not a message this child may send, or the wrong size. */
	log_warnx("unexpected %s (%zu bytes) from %s, killing it",
	    imsg_type_name(imsg->hdr.type), imsg->datalen,
	    proc_name(c->proc));
	kill(c->pid, SIGKILL);
	proc_channel_down(c);
}

static void
proc_schedule_restart(struct child *c)
{
	struct timeval	 tv;
	time_t		 now = time(NULL);

	if (now - c->started >= CHILD_STABLE_SECS) {
		c->backoff = CHILD_BACKOFF_MIN;
		c->recent_deaths = 0;
	}
	if (c->recent_deaths == 0 ||
	    now - c->first_recent_death > CHILD_STABLE_SECS) {
		c->first_recent_death = now;
		c->recent_deaths = 0;
	}
	c->recent_deaths++;
	if (c->recent_deaths >= CHILD_FLAPPING)
		log_warnx("%s keeps dying: %u times in %lld seconds; "
		    "restarting it every %d seconds, see the messages above",
		    proc_name(c->proc), c->recent_deaths,
		    (long long)(now - c->first_recent_death), c->backoff);
	else
		log_info("restarting %s in %d second%s", proc_name(c->proc),
		    c->backoff, c->backoff == 1 ? "" : "s");
	tv.tv_sec = c->backoff;
	tv.tv_usec = 0;
	evtimer_add(c->restart_ev, &tv);
	c->backoff *= 2;
	if (c->backoff > CHILD_BACKOFF_MAX)
		c->backoff = CHILD_BACKOFF_MAX;
}

static void
proc_restart_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct child	*c = arg;

	if (parent->shutting_down || c->pid != 0)
		return;
	c->restarts++;
	proc_start(c);
}

void
proc_reap(void)
{
	struct child	*c;
	pid_t		 pid;
	int		 status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		c = NULL;
		for (i = 0; i < SLOT_MAX; i++)
			if (parent->children[i].pid == pid)
				c = &parent->children[i];
		if (c == NULL)
			continue;
		c->pid = 0;
		c->last_status = status;
		proc_channel_down(c);
		if (parent->shutting_down) {
			log_debug("%s exited", proc_name(c->proc));
			continue;
		}
		if (WIFSIGNALED(status))
			log_warnx("%s (pid %ld) terminated by signal %d%s",
			    proc_name(c->proc), (long)pid, WTERMSIG(status),
			    WTERMSIG(status) == SIGSYS ?
			    " (sandbox violation)" : "");
		else if (WEXITSTATUS(status) == 127)
			log_warnx("%s (pid %ld) could not be executed",
			    proc_name(c->proc), (long)pid);
		else
			log_warnx("%s (pid %ld) exited with status %d",
			    proc_name(c->proc), (long)pid,
			    WEXITSTATUS(status));
		proc_schedule_restart(c);
	}
}

int
proc_broadcast(uint32_t type, const void *data, size_t len)
{
	int	 i, r = 0;

	for (i = 0; i < SLOT_MAX; i++)
		if (parent->children[i].up)
			r |= imsgev_compose(&parent->children[i].iev, type, 0,
			    0, -1, data, len);
	return r ? -1 : 0;
}

/*
 * Ask every child to exit (closing its channel is the request; SIGTERM
 * covers a child busy elsewhere), wait a bounded time, then SIGKILL.
 */
void
proc_stop_all(void)
{
	struct child	*c;
	pid_t		 pid;
	int		 i, status, left;
	time_t		 deadline = time(NULL) + CHILD_EXIT_WAIT;

	for (i = 0; i < SLOT_MAX; i++) {
		c = &parent->children[i];
		if (c->restart_ev != NULL)
			evtimer_del(c->restart_ev);
		proc_channel_down(c);
		if (c->pid != 0)
			kill(c->pid, SIGTERM);
	}
	for (;;) {
		left = 0;
		for (i = 0; i < SLOT_MAX; i++) {
			c = &parent->children[i];
			if (c->pid == 0)
				continue;
			pid = waitpid(c->pid, &status, WNOHANG);
			if (pid == c->pid || (pid == -1 && errno == ECHILD))
				c->pid = 0;
			else
				left++;
		}
		if (left == 0 || time(NULL) >= deadline)
			break;
		usleep(50000);
	}
	for (i = 0; i < SLOT_MAX; i++) {
		c = &parent->children[i];
		if (c->pid == 0)
			continue;
		log_warnx("%s did not exit, killing it", proc_name(c->proc));
		/* Without CAP_KILL (a bounding set too narrow) the child
		 * cannot be killed: waiting for it would hang the stop. */
		if (kill(c->pid, SIGKILL) == -1)
			log_warn("kill %s (pid %ld)", proc_name(c->proc),
			    (long)c->pid);
		else
			waitpid(c->pid, &status, 0);
		c->pid = 0;
	}
}
