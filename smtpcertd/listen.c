/*
 * Listening sockets.  Only the parent binds (ports below 1024 need root);
 * the front receives the sockets as descriptors.  On reload a listener
 * whose address and port did not change keeps its socket, so no
 * connection in the accept queue is lost; sockets no longer configured
 * are closed when the old generation is freed.
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
listen_open(const struct listener *l)
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
	/* One socket per address family: "::" must not also take 0.0.0.0. */
	if (l->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		log_warn("IPV6_V6ONLY");
	if (bind(fd, (const struct sockaddr *)&l->ss, l->sslen) == -1) {
		log_warn("cannot listen on %s port %s", host, serv);
		close(fd);
		return -1;
	}
	if (listen(fd, LISTEN_BACKLOG) == -1) {
		log_warn("listen on %s port %s", host, serv);
		close(fd);
		return -1;
	}
	log_debug("listening on %s port %s", host, serv);
	return fd;
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
	size_t		 i, n = 0;
	int		*taken = NULL, *mine;

	TAILQ_FOREACH(l, &nb->conf->listeners, entry)
		n++;
	if ((nb->lfds = calloc(n ? n : 1, sizeof(int))) == NULL)
		fatal(NULL);
	for (i = 0; i < n; i++)
		nb->lfds[i] = -1;
	nb->nlfds = n;
	if ((mine = calloc(n ? n : 1, sizeof(int))) == NULL)
		fatal(NULL);
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
					nb->lfds[l->index] =
					    ob->lfds[ol->index];
					break;
				}
			}
			if (nb->lfds[l->index] != -1)
				continue;
		}
		if ((nb->lfds[l->index] = listen_open(l)) == -1)
			goto fail;
		mine[l->index] = 1;
	}
	/* Commit: the old generation no longer owns what we took. */
	if (ob != NULL)
		for (i = 0; i < ob->nlfds; i++)
			if (taken[i])
				ob->lfds[i] = -1;
	free(taken);
	free(mine);
	return 0;
fail:
	for (i = 0; i < n; i++) {
		if (mine[i])
			close(nb->lfds[i]);
		nb->lfds[i] = -1;
	}
	free(taken);
	free(mine);
	return -1;
}
