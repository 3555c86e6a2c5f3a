/*
 * Listening sockets.  Only the parent binds (ports below 1024 need root);
 * the front receives the sockets as descriptors.  On reload a listener
 * whose address and port did not change keeps its socket, so no
 * connection in the accept queue is lost; sockets no longer configured
 * are closed when the old generation is freed.
 *
 * With `front processes N' (issue 17) each front has its own socket per
 * listener, all bound with SO_REUSEPORT, and the kernel spreads incoming
 * connections over them by a hash of the addresses and ports.  Why not
 * one shared socket that every front polls with EPOLLEXCLUSIVE: libevent
 * 2.1 (Debian 12) cannot ask for exclusive wake-ups, and an epoll set of
 * our own nested in libevent's loses the exclusivity; a shared socket
 * without it wakes every front for each connection (the thundering
 * herd).  The parent opens and keeps all the sockets, so a front that
 * dies loses nothing in its accept queue: the connections there wait for
 * its restart.  SO_REUSEPORT lets only sockets of the same user (root,
 * the parent) join, and a probe bind without it first keeps a port that
 * anybody else holds an error, as with one front.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "confmsg.h"
#include "log.h"
#include "smtpcertd.h"

#define LISTEN_BACKLOG	512

static int
same_address(const struct listener *a, const struct listener *b)
{
	return a->sslen == b->sslen && memcmp(&a->ss, &b->ss, a->sslen) == 0;
}

static int
listen_open(const struct listener *l, int reuseport)
{
	char	 host[NI_MAXHOST], serv[NI_MAXSERV];
	int	 fd, on = 1;

	if (getnameinfo((const struct sockaddr *)&l->ss, l->sslen, host,
	    sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		host[0] = '?';
		host[1] = serv[1] = '\0';
		serv[0] = '?';
	}
	if ((fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket for %s port %s", host, serv);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		log_warn("SO_REUSEADDR");
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
	    sizeof(on)) == -1) {
		log_warn("SO_REUSEPORT for %s port %s", host, serv);
		close(fd);
		return -1;
	}
	/* One socket per address family: "::" must not also take 0.0.0.0. */
	if (l->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		log_warn("IPV6_V6ONLY");
	if (bind(fd, (const struct sockaddr *)&l->ss, l->sslen) == -1) {
		log_warn("cannot listen on %s port %s", host, serv);
		close(fd);
		return -1;
	}
	if (reuseport == 2) {
		/* The probe: the address is free, for us alone. */
		close(fd);
		return 0;
	}
	if (listen(fd, LISTEN_BACKLOG) == -1) {
		log_warn("listen on %s port %s", host, serv);
		close(fd);
		return -1;
	}
	if (reuseport != 2)
		log_debug("listening on %s port %s", host, serv);
	return fd;
}

/* One socket per front for l; fds[k] for front k.  -1 on failure. */
static int
listen_open_set(const struct listener *l, int *fds, size_t nsets)
{
	size_t	 k;

	if (nsets <= 1)
		return (fds[0] = listen_open(l, 0)) == -1 ? -1 : 0;
	if (listen_open(l, 2) == -1)
		return -1;
	for (k = 0; k < nsets; k++) {
		if ((fds[k] = listen_open(l, 1)) == -1) {
			while (k-- > 0) {
				close(fds[k]);
				fds[k] = -1;
			}
			return -1;
		}
	}
	return 0;
}

/*
 * Give every listener of the new generation a socket, taking over the old
 * generation's socket for an unchanged address.  On failure the new
 * generation's sockets are closed and the old generation is untouched.
 */
int
listen_bind_all(struct conf_bundle *nb, struct conf_bundle *ob)
{
	struct listener	*l, *ol;
	size_t		 i, k, n = 0, sets;
	int		*taken = NULL, *mine, *fds;

	sets = parent->nfronts > 1 ? (size_t)parent->nfronts : 1;
	TAILQ_FOREACH(l, &nb->conf->listeners, entry)
		n++;
	if ((nb->lfds = calloc(n ? n * sets : 1, sizeof(int))) == NULL ||
	    (fds = calloc(sets, sizeof(int))) == NULL)
		fatal(NULL);
	for (i = 0; i < n * sets; i++)
		nb->lfds[i] = -1;
	nb->nlfds = n;
	nb->nsets = sets;
	if ((mine = calloc(n ? n : 1, sizeof(int))) == NULL)
		fatal(NULL);
	/* The front count never changes at reload: the old generation
	 * has as many sets. */
	if (ob != NULL && ob->nlfds > 0 &&
	    (taken = calloc(ob->nlfds, sizeof(int))) == NULL)
		fatal(NULL);

	TAILQ_FOREACH(l, &nb->conf->listeners, entry) {
		if (ob != NULL) {
			TAILQ_FOREACH(ol, &ob->conf->listeners, entry) {
				if (ol->index < ob->nlfds &&
				    !taken[ol->index] &&
				    ob->lfds[ol->index] != -1 &&
				    same_address(l, ol)) {
					taken[ol->index] = 1;
					for (k = 0; k < sets; k++)
						nb->lfds[k * n + l->index] =
						    ob->lfds[k * ob->nlfds +
						    ol->index];
					break;
				}
			}
			if (nb->lfds[l->index] != -1)
				continue;
		}
		if (listen_open_set(l, fds, sets) == -1)
			goto fail;
		for (k = 0; k < sets; k++)
			nb->lfds[k * n + l->index] = fds[k];
		mine[l->index] = 1;
	}
	/* Commit: the old generation no longer owns what we took. */
	if (ob != NULL)
		for (i = 0; i < ob->nlfds; i++)
			if (taken[i])
				for (k = 0; k < sets; k++)
					ob->lfds[k * ob->nlfds + i] = -1;
	free(taken);
	free(mine);
	free(fds);
	return 0;
fail:
	for (i = 0; i < n; i++) {
		for (k = 0; k < sets; k++) {
			if (mine[i])
				close(nb->lfds[k * n + i]);
			nb->lfds[k * n + i] = -1;
		}
	}
	free(taken);
	free(mine);
	free(fds);
	return -1;
}
