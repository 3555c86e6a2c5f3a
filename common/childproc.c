/*
 * The common life of a child process; see childproc.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "childproc.h"
#include "config.h"
#include "confmsg.h"
#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "stats.h"

static void	childproc_parent_imsg(struct imsgev *, struct imsg *);
static void	childproc_peer_dispatch(struct imsgev *, struct imsg *);
static void	childproc_signal(evutil_socket_t, short, void *);
static void	childproc_new_config(struct childproc *, struct conf_bundle *);
static void	childproc_peer_socket(struct childproc *, struct imsg *);
static void	childproc_stats(struct childproc *, struct imsg *);
static void	childproc_early(struct imsg *);
static void	childproc_log_mask(struct imsg *);

static void
childproc_purge_fds(void)
{
	int	 fd;

	/* Keep stdio and the parent channel; nothing else may leak in. */
	for (fd = PROC_PARENT_FD + 1; fd < 1024; fd++)
		(void)close(fd);
}

int
childproc_main(const struct childproc_ops *ops, int foreground, int verbose,
    void *data)
{
	struct childproc	 cp;
	struct conf_bundle	*first;
	const char		*dir = NULL;
	int			 i;

	memset(&cp, 0, sizeof(cp));
	cp.ops = ops;
	cp.data = data;

	/* Before log_init(): its openlog(LOG_NDELAY) opens the syslog
	 * socket, which the purge would close under glibc's feet -- the
	 * number reused by the next socket or epoll fd, syslog() then
	 * writes log lines into that (a peer channel: the child dies). */
	childproc_purge_fds();
	log_init(foreground, verbose);
	log_timestamps(foreground);
	log_procinit(proc_name(ops->proc));
	if (fcntl(PROC_PARENT_FD, F_GETFD) == -1)
		fatalx("no parent channel on fd %d: this program is started "
		    "by smtpcertd, not by hand", PROC_PARENT_FD);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	if ((cp.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	imsgev_init(&cp.parent, cp.base, PROC_PARENT_FD, IMSG_MAXSIZE_PEER,
	    PROC_PARENT, childproc_parent_imsg, &cp);
	for (i = 0; i < SLOT_MAX; i++)
		cp.peer[i].ibuf.fd = -1;

	/* The config names our user, chroot and paths: wait for it. */
	first = confmsg_wait_initial(&cp.parent.ibuf, childproc_early);
	/* Visible to the start-up hooks below; installed for real (with
	 * the config callback) once the sandbox is up. */
	cp.conf = first;

	if (ops->preinit != NULL)
		ops->preinit(&cp);
	if (ops->chroot_dir != NULL)
		dir = ops->chroot_dir(&cp);
	privdrop(first->conf->user, dir);

	cp.ev_sigterm = evsignal_new(cp.base, SIGTERM, childproc_signal, &cp);
	cp.ev_sigint = evsignal_new(cp.base, SIGINT, childproc_signal, &cp);
	evsignal_add(cp.ev_sigterm, NULL);
	evsignal_add(cp.ev_sigint, NULL);

	if (ops->sandbox != NULL)
		ops->sandbox(&cp);

	cp.conf = NULL;
	childproc_new_config(&cp, first);
	imsgev_compose(&cp.parent, IMSG_CHILD_READY, 0, 0, -1, NULL, 0);
	/* Peer sockets may already sit in the buffer. */
	imsgev_process(&cp.parent);

	log_debug("running");
	event_base_dispatch(cp.base);

	if (ops->shutdown != NULL)
		ops->shutdown(&cp);
	log_debug("exiting");
	exit(0);
}

static void
childproc_signal(evutil_socket_t sig, short ev, void *arg)
{
	struct childproc	*cp = arg;

	log_debug("signal %d, exiting", (int)sig);
	event_base_loopbreak(cp->base);
}

static void
childproc_new_config(struct childproc *cp, struct conf_bundle *b)
{
	struct conf_bundle	*old = cp->conf;
	uint64_t		 gen = b->gen;

	cp->conf = b;
	if (cp->ops->config == NULL || cp->ops->config(cp, b, old) == 0)
		conf_bundle_free(old);
	log_debug("configuration generation %llu loaded",
	    (unsigned long long)gen);
	imsgev_compose(&cp->parent, IMSG_CONF_LOADED, 0, gen, -1, &gen,
	    sizeof(gen));
}

static void
childproc_parent_imsg(struct imsgev *iev, struct imsg *imsg)
{
	struct childproc	*cp = iev->data;
	struct conf_bundle	*done;

	if (imsg == NULL) {
		/* The parent is gone or spoke nonsense: nothing to serve. */
		if (errno == EBADMSG)
			fatalx("malformed message from parent");
		log_debug("parent channel closed, exiting");
		if (cp->ops->shutdown != NULL)
			cp->ops->shutdown(cp);
		exit(0);
	}
	if (confmsg_is_conf(imsg->hdr.type)) {
		if (confmsg_recv(&cp->pending, imsg, &done) == -1)
			fatalx("malformed %s from parent",
			    imsg_type_name(imsg->hdr.type));
		if (done != NULL)
			childproc_new_config(cp, done);
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_LOG_VERBOSE:
		childproc_log_mask(imsg);
		return;
	case IMSG_PEER_SOCKET:
		childproc_peer_socket(cp, imsg);
		return;
	case IMSG_STATS_REQ:
		childproc_stats(cp, imsg);
		return;
	}
	if (cp->ops->parent_imsg == NULL)
		fatalx("unexpected %s from parent",
		    imsg_type_name(imsg->hdr.type));
	cp->ops->parent_imsg(cp, imsg);
}

/*
 * The trace mask (log.h).  The parent sends it first thing to a child it
 * starts, before the configuration, so that a restarted child traces
 * what the others do from its first line; and again on every change.
 */
static void
childproc_log_mask(struct imsg *imsg)
{
	char		 names[TRACE_NAMES_MAX];
	uint32_t	 mask;

	if (imsg_get_data(imsg, &mask, sizeof(mask)) == -1 ||
	    (mask & ~TRACE_ALL) != 0)
		fatalx("malformed IMSG_LOG_VERBOSE from parent");
	if (mask == log_trace_getmask())
		return;
	log_trace_setmask(mask);
	if (mask == 0)
		log_info("log level brief");
	else
		log_info("log level verbose (trace: %s)",
		    log_trace_format(mask, names, sizeof(names)));
}

/* Messages the parent may send while we wait for the first config. */
static void
childproc_early(struct imsg *imsg)
{
	if (imsg->hdr.type != IMSG_LOG_VERBOSE)
		fatalx("unexpected %s from parent during start-up",
		    imsg_type_name(imsg->hdr.type));
	childproc_log_mask(imsg);
}

/* `show stats': every child answers the same way, with the counters it
 * owns (stats.h), once its gauges are fresh. */
static void
childproc_stats(struct childproc *cp, struct imsg *imsg)
{
	struct msgbuild	 m;

	if (imsg->datalen != 0)
		fatalx("malformed IMSG_STATS_REQ from parent");
	if (cp->ops->stats != NULL)
		cp->ops->stats(cp);
	msg_init(&m);
	stats_put(&m, cp->ops->proc);
	if (imsgev_send(&cp->parent, &m, IMSG_STATS, 0, imsg->hdr.reqid, -1)
	    == -1)
		log_warn("stats answer to the parent");
	msg_free(&m);
}

static void
childproc_peer_socket(struct childproc *cp, struct imsg *imsg)
{
	uint32_t	 proc;
	int		 fd;

	fd = imsg_get_fd(imsg);
	if (imsg_get_data(imsg, &proc, sizeof(proc)) == -1 || fd == -1 ||
	    proc >= SLOT_MAX || !(cp->ops->peers & (1U << slot_proc(proc))))
		fatalx("malformed IMSG_PEER_SOCKET from parent");
	if (cp->peer_up[proc]) {
		/* The peer was restarted: its old channel is dead. */
		imsgev_close(&cp->peer[proc]);
		cp->peer_up[proc] = 0;
		if (cp->ops->peer_imsg != NULL)
			cp->ops->peer_imsg(cp, proc, NULL);
	}
	imsgev_init(&cp->peer[proc], cp->base, fd, IMSG_MAXSIZE_PEER, proc,
	    childproc_peer_dispatch, cp);
	cp->peer_up[proc] = 1;
	log_debug("channel to %s up", proc_name(proc));
	if (cp->ops->peer_up != NULL)
		cp->ops->peer_up(cp, proc);
}

static void
childproc_peer_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct childproc	*cp = iev->data;
	int			 proc = iev->proc;

	if (imsg == NULL) {
		/* A peer process speaking nonsense is a bug: die, and let
		 * the parent restart us with clean state. */
		if (errno == EBADMSG)
			fatalx("malformed message from %s", proc_name(proc));
		log_debug("channel to %s closed", proc_name(proc));
		imsgev_close(iev);
		cp->peer_up[proc] = 0;
		if (cp->ops->peer_imsg != NULL)
			cp->ops->peer_imsg(cp, proc, NULL);
		return;
	}
	if (cp->ops->peer_imsg == NULL)
		fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
		    proc_name(proc));
	cp->ops->peer_imsg(cp, proc, imsg);
}

int
childproc_peer_send(struct childproc *cp, int proc, struct msgbuild *m,
    uint32_t type, uint32_t peerid, uint64_t reqid, int fd)
{
	if (!cp->peer_up[proc]) {
		if (fd != -1)
			close(fd);
		msg_reset(m);
		errno = EPIPE;
		return -1;
	}
	return imsgev_send(&cp->peer[proc], m, type, peerid, reqid, fd);
}

int
childproc_peer_compose(struct childproc *cp, int proc, uint32_t type,
    uint32_t peerid, uint64_t reqid, int fd, const void *data, size_t len)
{
	if (!cp->peer_up[proc]) {
		if (fd != -1)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	return imsgev_compose(&cp->peer[proc], type, peerid, reqid, fd, data,
	    len);
}

int
childproc_run(int argc, char *argv[], const struct childproc_ops *ops,
    void *data)
{
	int	 ch, foreground = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "dv")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			fprintf(stderr, "usage: %s [-dv] (started by "
			    "smtpcertd)\n", proc_name(ops->proc));
			exit(1);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s [-dv] (started by smtpcertd)\n",
		    proc_name(ops->proc));
		exit(1);
	}
	return childproc_main(ops, foreground, verbose, data);
}
