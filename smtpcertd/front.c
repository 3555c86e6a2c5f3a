/*
 * The front process: unprivileged, chrooted to an empty directory,
 * sandboxed.  It owns the listening sockets the parent passes down and
 * will speak SMTP/IMAP/POP3 over libtls on one libevent loop; it never
 * reads a file, resolves a name or blocks.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "childproc.h"
#include "config.h"
#include "confmsg.h"
#include "log.h"
#include "proto.h"
#include "sandbox.h"
#include "smtpcertd.h"

struct front_listener {
	struct event		*ev;
	int			 fd;
	uint32_t		 index;
};

struct front {
	struct front_listener	*listeners;
	size_t			 nlisteners;
};

static struct front	 front_state;

static const char *
front_chroot(struct childproc *cp)
{
	return cp->conf->conf->chroot;
}

static void
front_sandbox(struct childproc *cp)
{
	sandbox_front();
}

static void
front_accept(evutil_socket_t lfd, short ev, void *arg)
{
	struct front_listener	*fl = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 host[NI_MAXHOST];
	int			 fd;

	if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept on listener %u", fl->index);
		return;
	}
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL,
	    0, NI_NUMERICHOST) != 0)
		strcpy(host, "?");
	/* Sessions are not served yet: say so in protocol terms. */
	log_info("connection from %s on listener %u refused: no session "
	    "handler", host, fl->index);
	(void)write(fd, "421 4.3.2 Service not available\r\n", 34);
	close(fd);
}

static void
front_close_listeners(void)
{
	size_t	 i;

	for (i = 0; i < front_state.nlisteners; i++) {
		if (front_state.listeners[i].ev != NULL) {
			event_del(front_state.listeners[i].ev);
			event_free(front_state.listeners[i].ev);
		}
	}
	free(front_state.listeners);
	front_state.listeners = NULL;
	front_state.nlisteners = 0;
}

/*
 * A new generation: swap the listening events over to its sockets.  The
 * parent reuses sockets for unchanged addresses, so nothing in the
 * accept queues is lost.
 */
static int
front_config(struct childproc *cp, struct conf_bundle *nb,
    struct conf_bundle *ob)
{
	struct front_listener	*fl;
	size_t			 i;

	front_close_listeners();
	if ((front_state.listeners = calloc(nb->nlfds ? nb->nlfds : 1,
	    sizeof(*fl))) == NULL)
		fatal(NULL);
	front_state.nlisteners = nb->nlfds;
	for (i = 0; i < nb->nlfds; i++) {
		fl = &front_state.listeners[i];
		fl->fd = nb->lfds[i];
		fl->index = i;
		if (fl->fd == -1)
			continue;
		fl->ev = event_new(cp->base, fl->fd, EV_READ | EV_PERSIST,
		    front_accept, fl);
		event_add(fl->ev, NULL);
	}
	log_debug("%zu listeners active", nb->nlfds);
	return 0;
}

static void
front_peer(struct childproc *cp, int proc, struct imsg *imsg)
{
	if (imsg == NULL)
		return;
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(proc));
}

static void
front_shutdown(struct childproc *cp)
{
	front_close_listeners();
}

static const struct childproc_ops front_ops = {
	.proc = PROC_FRONT,
	.peers = (1U << PROC_LDAPD) | (1U << PROC_CRLD),
	.chroot_dir = front_chroot,
	.sandbox = front_sandbox,
	.config = front_config,
	.peer_imsg = front_peer,
	.shutdown = front_shutdown,
};

int
front_main(int foreground, int verbose)
{
	return childproc_main(&front_ops, foreground, verbose, &front_state);
}
