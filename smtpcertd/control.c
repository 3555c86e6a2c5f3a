/*
 * The control socket in the parent.  Clients (smtpcertctl) must be root or
 * in the configured control group (checked with SO_PEERCRED, on top of
 * the socket's file mode), must open with IMSG_CTL_HELLO carrying our
 * protocol version, and are dropped on the first malformed message:
 * a control client can never hurt the daemon.
 *
 * Members of the control group may only look (the `show' requests, see
 * control_readonly()) unless the configuration says `control group
 * "name" allow changes'; root may always do everything.  A request not
 * known to only look is a change: one added later is refused to the
 * group until it is listed, never allowed by omission.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "config.h"
#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "proto.h"
#include "smtpcertd.h"
#include "stats.h"
#include "stats_prom.h"

#define CONTROL_MAX_CLIENTS	32
#define CONTROL_BACKLOG		8

struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 entry;
	struct imsgev		 iev;
	uint64_t		 id;	/* for replies that come later */
	uid_t			 uid;
	int			 hello;
	/* `test certificate': the PEM file as it arrives in pieces. */
	uint8_t			*pem;
	size_t			 pemlen;
};

static TAILQ_HEAD(, ctl_client) ctl_clients =
    TAILQ_HEAD_INITIALIZER(ctl_clients);
static int		 ctl_fd = -1;
static char		*ctl_path;
static gid_t		 ctl_gid = (gid_t)-1;
static char		*ctl_group;	/* its name, for messages */
static int		 ctl_group_changes;	/* `allow changes' */
static struct event	*ctl_ev;
static int		 ctl_nclients;
static uint64_t		 ctl_next_id;
/* smtpcertd.c's reload, which calls us: registered by control_init(). */
static int		(*ctl_reload)(char *, size_t);

static void	control_accept(evutil_socket_t, short, void *);
static void	control_dispatch(struct imsgev *, struct imsg *);
static void	control_drop(struct ctl_client *, const char *);
static void	control_status(struct ctl_client *);
static void	control_refuse(int, const char *);
static int	control_log(struct ctl_client *, struct imsg *);
static int	control_test(struct ctl_client *, struct imsg *);
static void	control_id_reply(uint64_t, uint32_t, const char *);
static void	control_id_send(uint64_t, uint32_t, struct msgbuild *);
static void	control_stats_answer(uint64_t, const struct stats_answer *,
		    const char *);

int
control_init(const char *path, const char *group, int changes,
    int (*reload)(char *, size_t))
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("control socket path %s too long", path);
		return -1;
	}
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL) {
			log_warnx("control group %s does not exist", group);
			return -1;
		}
		ctl_gid = gr->gr_gid;
		if ((ctl_group = strdup(group)) == NULL)
			fatal(NULL);
		ctl_group_changes = changes;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("control socket");
		return -1;
	}
	/* A stale socket from a crash would block bind(). */
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("unlink %s", path);
		close(fd);
		return -1;
	}
	old = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("bind %s", path);
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	if (group != NULL) {
		if (chown(path, 0, ctl_gid) == -1 || chmod(path, 0660) == -1) {
			log_warn("%s", path);
			close(fd);
			return -1;
		}
	} else if (chmod(path, 0600) == -1) {
		log_warn("chmod %s", path);
		close(fd);
		return -1;
	}
	if (listen(fd, CONTROL_BACKLOG) == -1) {
		log_warn("listen %s", path);
		close(fd);
		return -1;
	}
	ctl_fd = fd;
	if ((ctl_path = strdup(path)) == NULL)
		fatal(NULL);
	ctl_reload = reload;
	control_reply_init(control_id_reply, control_id_send);
	return 0;
}

/*
 * At reload: whether the group may change things takes effect at once
 * (taking the right away must not wait for a restart); another group
 * needs the socket's owner changed, which waits for the restart.
 */
void
control_reconfigure(const struct smtpcertd_conf *conf)
{
	const char	*g = conf->control_group;

	if ((g == NULL) != (ctl_group == NULL) ||
	    (g != NULL && strcmp(g, ctl_group) != 0)) {
		log_warnx("control group changes take effect at restart");
		return;
	}
	if (g != NULL && ctl_group_changes != conf->control_group_changes)
		log_info("control group %s may now %s", g,
		    conf->control_group_changes ? "change things (allow "
		    "changes)" : "only show");
	ctl_group_changes = conf->control_group_changes;
}

/* The requests that only show: all a read-only group member may send. */
static int
control_readonly(uint32_t type)
{
	switch (type) {
	case IMSG_CTL_SHOW_STATUS:
	case IMSG_CTL_SHOW_CRL:
	case IMSG_CTL_SHOW_SESSIONS:
	case IMSG_CTL_SHOW_STATS:
	/* diagnostics: they change nothing (an LDAP answer may be cached) */
	case IMSG_CTL_TEST_CERT_DATA:
	case IMSG_CTL_TEST_CERT:
	case IMSG_CTL_TEST_LOGIN:
		return 1;
	default:
		return 0;
	}
}

void
control_listen(void)
{
	ctl_ev = event_new(parent->base, ctl_fd, EV_READ | EV_PERSIST,
	    control_accept, NULL);
	event_add(ctl_ev, NULL);
}

void
control_cleanup(void)
{
	struct ctl_client	*c;

	while ((c = TAILQ_FIRST(&ctl_clients)) != NULL) {
		TAILQ_REMOVE(&ctl_clients, c, entry);
		imsgev_close(&c->iev);
		free(c->pem);
		free(c);
	}
	if (ctl_ev != NULL) {
		event_del(ctl_ev);
		event_free(ctl_ev);
		ctl_ev = NULL;
	}
	if (ctl_fd != -1)
		close(ctl_fd);
	if (ctl_path != NULL)
		unlink(ctl_path);
	free(ctl_path);
	ctl_path = NULL;
	free(ctl_group);
	ctl_group = NULL;
}

/*
 * Is the peer in the control group, as its primary or a supplementary
 * group?  SO_PEERCRED only carries the primary one; the others are read
 * from /proc for the connected peer's pid.
 */
static int
control_in_group(const struct ucred *cred, gid_t gid)
{
	char		 path[64], line[4096], *p, *end;
	FILE		*fp;
	unsigned long	 g;
	int		 found = 0;

	if (cred->gid == gid)
		return 1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)cred->pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7; *p != '\0' && *p != '\n'; p = end) {
			g = strtoul(p, &end, 10);
			if (end == p)
				break;
			if ((gid_t)g == gid)
				found = 1;
		}
	}
	fclose(fp);
	return found;
}

static void
control_accept(evutil_socket_t lfd, short ev, void *arg)
{
	struct ctl_client	*c;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	int			 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control accept");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		close(fd);
		return;
	}
	if (cred.uid != 0 && (ctl_gid == (gid_t)-1 ||
	    !control_in_group(&cred, ctl_gid))) {
		log_warnx("control: refused connection from uid %ld",
		    (long)cred.uid);
		stats_inc(STAT_CTL_REFUSED);
		control_refuse(fd, "permission denied: only root and members "
		    "of the control group may control smtpcertd");
		return;
	}
	if (ctl_nclients >= CONTROL_MAX_CLIENTS) {
		log_warnx("control: too many clients, refusing uid %ld",
		    (long)cred.uid);
		stats_inc(STAT_CTL_REFUSED);
		control_refuse(fd, "too many control clients at once, try "
		    "again");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("control");
		close(fd);
		return;
	}
	c->uid = cred.uid;
	c->id = ++ctl_next_id;
	imsgev_init(&c->iev, parent->base, fd, IMSG_MAXSIZE_CTL, PROC_CONTROL,
	    control_dispatch, c);
	TAILQ_INSERT_TAIL(&ctl_clients, c, entry);
	ctl_nclients++;
	stats_inc(STAT_CTL_CONNECTIONS);
}

/*
 * Tell a refused client why before closing: one IMSG_CTL_FAIL, written
 * once without waiting (the socket is new, its buffer empty), which
 * smtpcertctl prints instead of a bare "connection closed".
 */
static void
control_refuse(int fd, const char *text)
{
	struct imsgbuf	 ibuf;
	struct msgbuild	 m;
	char		 junk[256];

	/* Linux resets a unix stream closed with unread data, which could
	 * cost the client our reason: read its hello away first. */
	if (read(fd, junk, sizeof(junk)) == -1) {
		/* Nothing sent yet (EAGAIN): nothing to lose. */
	}
	imsgbuf_init(&ibuf, fd, IMSG_MAXSIZE_CTL);
	msg_init(&m);
	msg_put_str(&m, text);
	if (msg_send(&ibuf, &m, IMSG_CTL_FAIL, 0, 0, -1) == 0)
		(void)imsgbuf_write(&ibuf);
	msg_free(&m);
	imsgbuf_clear(&ibuf);
	close(fd);
}

static void
control_free_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct ctl_client	*c = arg;

	free(c->pem);
	free(c);
}

/*
 * Close a client.  The struct is freed from the event loop, not here: we
 * may be inside imsgev_dispatch() for this very client.
 */
static void
control_drop(struct ctl_client *c, const char *why)
{
	struct timeval	 tv = { 0, 0 };

	if (why != NULL)
		log_warnx("control client (uid %ld): %s, dropping it",
		    (long)c->uid, why);
	/* Best effort: push out a final reply before closing. */
	imsgbuf_write(&c->iev.ibuf);
	TAILQ_REMOVE(&ctl_clients, c, entry);
	ctl_nclients--;
	crl_parent_ctl_gone(c->id);
	imsgev_close(&c->iev);
	event_base_once(parent->base, -1, EV_TIMEOUT, control_free_cb, c, &tv);
}

static void
control_reply(struct ctl_client *c, uint32_t type, const char *text)
{
	struct msgbuild	 m;

	msg_init(&m);
	msg_put_str(&m, text);
	imsgev_send(&c->iev, &m, type, 0, 0, -1);
	msg_free(&m);
}

/* Registered in control_reply.c: how the modules below answer a client
 * later, by its id. */
static void
control_id_reply(uint64_t id, uint32_t type, const char *text)
{
	struct ctl_client	*c;

	TAILQ_FOREACH(c, &ctl_clients, entry)
		if (c->id == id) {
			control_reply(c, type, text);
			return;
		}
}

static void
control_id_send(uint64_t id, uint32_t type, struct msgbuild *m)
{
	struct ctl_client	*c;

	TAILQ_FOREACH(c, &ctl_clients, entry)
		if (c->id == id) {
			if (m != NULL)
				imsgev_send(&c->iev, m, type, 0, 0, -1);
			else
				imsgev_compose(&c->iev, type, 0, 0, -1, NULL,
				    0);
			return;
		}
}

/* `crl update [name]`: answered later, when the fetches are over. */
static void
control_crl_update(struct ctl_client *c, struct imsg *imsg)
{
	struct msgreader	 r;
	char			*name, why[512];

	msg_reader(&r, imsg);
	name = msg_get_str(&r, CONFIG_NAME_MAX);
	if (msg_end(&r) == -1) {
		free(name);
		control_drop(c, "malformed IMSG_CTL_CRL_UPDATE");
		return;
	}
	log_info("crl update %s requested by control client (uid %ld)",
	    *name ? name : "(all)", (long)c->uid);
	if (crl_parent_update(c->id, name, why, sizeof(why)) == -1)
		control_reply(c, IMSG_CTL_FAIL, why);
	free(name);
}

/*
 * `log verbose|brief [subsystem ...]`: verbose adds the subsystems to the
 * trace mask, brief takes them out; none named means all of them.
 */
static int
control_log(struct ctl_client *c, struct imsg *imsg)
{
	struct msgreader	 r;
	uint32_t		 verbose, subs, mask;
	char			 names[TRACE_NAMES_MAX], text[256];

	msg_reader(&r, imsg);
	verbose = msg_get_u32(&r);
	subs = msg_get_u32(&r);
	if (msg_end(&r) == -1 || verbose > 1 || (subs & ~TRACE_ALL) != 0)
		return -1;
	if (subs == 0)
		subs = TRACE_ALL;
	mask = log_trace_getmask();
	mask = verbose ? mask | subs : mask & ~subs;
	/* Here and in every child; proc.c gives a restarted child the
	 * mask too. */
	log_trace_setmask(mask);
	mask = log_trace_getmask();
	proc_broadcast(IMSG_LOG_VERBOSE, &mask, sizeof(mask));
	log_trace_format(mask, names, sizeof(names));
	if (mask == 0)
		snprintf(text, sizeof(text), "logging brief");
	else
		snprintf(text, sizeof(text), "logging verbose (trace: %s)",
		    names);
	log_info("%s (control client uid %ld)", text, (long)c->uid);
	control_reply(c, IMSG_CTL_OK, text);
	return 0;
}

static void
control_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_client	*c = iev->data;
	uint64_t		 sid;
	uint32_t		 v;
	char			 why[4096];

	if (imsg == NULL) {
		control_drop(c, errno == EBADMSG ? "malformed message" : NULL);
		return;
	}
	if (!c->hello) {
		if (imsg->hdr.type != IMSG_CTL_HELLO ||
		    imsg_get_data(imsg, &v, sizeof(v)) == -1) {
			control_drop(c, "no valid hello");
			return;
		}
		if (v != SMTPCERTD_CTL_VERSION) {
			snprintf(why, sizeof(why), "control protocol version "
			    "mismatch: smtpcertctl speaks %u, smtpcertd "
			    "speaks %u", v, SMTPCERTD_CTL_VERSION);
			control_reply(c, IMSG_CTL_FAIL, why);
			control_drop(c, why);
			return;
		}
		c->hello = 1;
		v = SMTPCERTD_CTL_VERSION;
		imsgev_compose(&c->iev, IMSG_CTL_HELLO, 0, 0, -1, &v,
		    sizeof(v));
		return;
	}
	if (c->uid != 0 && !ctl_group_changes &&
	    !control_readonly(imsg->hdr.type)) {
		log_warnx("control: %s refused to uid %ld: the control group "
		    "may only show", imsg_type_name(imsg->hdr.type),
		    (long)c->uid);
		stats_inc(STAT_CTL_DENIED);
		snprintf(why, sizeof(why), "permission denied: members of "
		    "the control group \"%s\" may only use the show and test "
		    "commands; this one needs root, or `control group \"%s\" "
		    "allow changes' in smtpcertd.conf", ctl_group ? ctl_group :
		    "", ctl_group ? ctl_group : "");
		control_reply(c, IMSG_CTL_FAIL, why);
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_CTL_SHOW_STATUS:
		if (imsg->datalen != 0)
			break;
		control_status(c);
		return;
	case IMSG_CTL_RELOAD:
		if (imsg->datalen != 0)
			break;
		log_info("reload requested by control client (uid %ld)",
		    (long)c->uid);
		if (ctl_reload(why, sizeof(why)) == -1)
			control_reply(c, IMSG_CTL_FAIL, why);
		else
			control_reply(c, IMSG_CTL_OK, why);
		return;
	case IMSG_CTL_SHOW_CRL:
		if (imsg->datalen != 0)
			break;
		crl_parent_show(&c->iev);
		return;
	case IMSG_CTL_CRL_UPDATE:
		control_crl_update(c, imsg);
		return;
	case IMSG_CTL_SHOW_SESSIONS:
		if (imsg->datalen != 0)
			break;
		/* The front answers; accounting.c relays by our id. */
		sessions_request(c->id);
		return;
	case IMSG_CTL_SHOW_STATS:
		if (imsg->datalen != 0)
			break;
		/* The children answer; stats_parent.c gathers. */
		stats_parent_request(control_stats_answer, c->id);
		return;
	case IMSG_CTL_SESSION_KILL:
		if (imsg_get_data(imsg, &sid, sizeof(sid)) == -1)
			break;
		log_info("session kill %012llx requested by control client "
		    "(uid %ld)", (unsigned long long)sid, (long)c->uid);
		sessions_kill(c->id, sid);
		return;
	case IMSG_CTL_LDAP_FLUSH:
		if (imsg->datalen != 0)
			break;
		/* Positive and negative answers go; the next lookups ask
		 * the directory again. */
		if (proc_child(PROC_LDAPD)->up && imsgev_compose(
		    &proc_child(PROC_LDAPD)->iev, IMSG_LDAP_FLUSH, 0, 0, -1,
		    NULL, 0) != -1) {
			log_info("LDAP caches flushed (control client uid %ld)",
			    (long)c->uid);
			control_reply(c, IMSG_CTL_OK, "LDAP caches flushed");
		} else
			control_reply(c, IMSG_CTL_FAIL, "ldapd-helper is not "
			    "running; its caches start empty when it does");
		return;
	case IMSG_CTL_LOG_VERBOSE:
		if (control_log(c, imsg) == -1)
			break;
		return;
	case IMSG_CTL_TEST_CERT_DATA:
	case IMSG_CTL_TEST_CERT:
	case IMSG_CTL_TEST_LOGIN:
		if (control_test(c, imsg) == -1)
			break;
		return;
	}
	snprintf(why, sizeof(why), "unexpected %s (%zu bytes)",
	    imsg_type_name(imsg->hdr.type), imsg->datalen);
	control_reply(c, IMSG_CTL_FAIL, why);
	control_drop(c, why);
}

static const char *
child_state(const struct child *ch)
{
	if (ch->pid != 0 && ch->ready)
		return "running";
	if (ch->pid != 0)
		return "starting";
	if (ch->recent_deaths >= CHILD_FLAPPING)
		return "failing";
	return "restarting";
}

static void
control_status(struct ctl_client *c)
{
	struct smtpcertd_conf	*conf = parent->cur->conf;
	struct listener		*l;
	struct child		*ch;
	struct msgbuild		 m;
	char			 host[NI_MAXHOST], serv[NI_MAXSERV];
	int			 i, n, order[SLOT_MAX];

	msg_init(&m);
	msg_put_str(&m, SMTPCERTD_VERSION);
	msg_put_u64(&m, (uint64_t)getpid());
	msg_put_i64(&m, (int64_t)parent->started);
	msg_put_str(&m, parent->conffile);
	msg_put_u64(&m, parent->cur->gen);
	msg_put_i64(&m, (int64_t)parent->last_reload);
	msg_put_str(&m, parent->last_reload_result);
	msg_put_u32(&m, log_trace_getmask());
	/* Issue 17: the fronts running, and whether that is the default
	 * (0) or the configured number. */
	msg_put_u32(&m, (uint32_t)parent->nfronts);
	msg_put_u32(&m, (uint32_t)parent->fronts_configured);
	imsgev_send(&c->iev, &m, IMSG_CTL_STATUS_DAEMON, 0, 0, -1);

	msg_put_str(&m, proc_name(PROC_PARENT));
	msg_put_u64(&m, (uint64_t)getpid());
	msg_put_str(&m, "running");
	msg_put_i64(&m, (int64_t)parent->started);
	msg_put_u32(&m, 0);
	msg_put_u64(&m, parent->cur->gen);
	imsgev_send(&c->iev, &m, IMSG_CTL_STATUS_PROC, 0, 0, -1);
	/* Every front in its own row, front 0 first, then the other
	 * children. */
	n = 0;
	for (i = 0; i < parent->nfronts; i++)
		order[n++] = front_slot(i);
	for (i = 0; i < PROC_MAX; i++)
		if (i != PROC_PARENT && i != PROC_CONTROL && i != PROC_FRONT)
			order[n++] = i;
	for (i = 0; i < n; i++) {
		ch = &parent->children[order[i]];
		msg_put_str(&m, proc_name(ch->proc));
		msg_put_u64(&m, (uint64_t)ch->pid);
		msg_put_str(&m, child_state(ch));
		msg_put_i64(&m, (int64_t)ch->started);
		msg_put_u32(&m, ch->restarts);
		msg_put_u64(&m, ch->conf_loaded);
		imsgev_send(&c->iev, &m, IMSG_CTL_STATUS_PROC, 0, 0, -1);
	}
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (getnameinfo((struct sockaddr *)&l->ss, l->sslen, host,
		    sizeof(host), serv, sizeof(serv),
		    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
			strlcpy(host, "?", sizeof(host));
			strlcpy(serv, "?", sizeof(serv));
		}
		msg_put_str(&m, host);
		msg_put_u32(&m, (uint32_t)strtoul(serv, NULL, 10));
		msg_put_str(&m, config_listener_proto_name(l));
		msg_put_str(&m, config_listener_tls_name(l));
		imsgev_send(&c->iev, &m, IMSG_CTL_STATUS_LISTENER, 0, 0, -1);
	}
	imsgev_compose(&c->iev, IMSG_CTL_END, 0, 0, -1, NULL, 0);
	msg_free(&m);
}

/*
 * `show stats' (stats_parent.c gathers the counters): the rows in the
 * table's order, then who is missing, the uptime and time, then the end;
 * or why there is no answer.
 */
static void
control_stats_answer(uint64_t id, const struct stats_answer *a,
    const char *why)
{
	const struct stats_prom	*s;
	struct msgbuild		 m;
	size_t			 i;
	int			 p;

	if (a == NULL) {
		control_id_reply(id, IMSG_CTL_FAIL, why);
		return;
	}
	s = a->prom;
	msg_init(&m);
	for (i = 0; i < s->nrows; i++) {
		/* control_id_send() resets the builder only when the
		 * client is still there. */
		msg_reset(&m);
		msg_put_str(&m, s->rows[i].name);
		msg_put_u64(&m, s->rows[i].value);
		control_id_send(id, IMSG_CTL_STATS_ROW, &m);
	}
	for (p = 0; p < SLOT_MAX; p++) {
		if (a->missing[p] == NULL)
			continue;
		msg_reset(&m);
		msg_put_str(&m, proc_name(p));
		msg_put_str(&m, a->missing[p]);
		control_id_send(id, IMSG_CTL_STATS_MISSING, &m);
	}
	msg_reset(&m);
	msg_put_i64(&m, s->started);
	msg_put_i64(&m, s->now);
	msg_put_u32(&m, (uint32_t)s->nprocs);
	for (i = 0; i < s->nprocs; i++) {
		msg_put_str(&m, s->procs[i].name);
		msg_put_u32(&m, s->procs[i].present != 0);
	}
	control_id_send(id, IMSG_CTL_STATS_INFO, &m);
	msg_free(&m);
	control_id_send(id, IMSG_CTL_END, NULL);
}

/* --- test certificate, test login (issue 15 item 3) --------------------- */

/*
 * The listener "ADDRESS:PORT" names ("[ADDRESS]:PORT" for IPv6), as `show
 * status' prints addresses; "" is the first listener.  Its index, or -1
 * with why set.
 */
static int
control_find_listener(const char *spec, uint32_t *index, char *why,
    size_t whylen)
{
	struct smtpcertd_conf	*conf = parent->cur->conf;
	struct listener		*l;
	char			 host[NI_MAXHOST], serv[NI_MAXSERV];
	char			 want[NI_MAXHOST];
	const char		*colon, *port;
	size_t			 hl;

	if (*spec == '\0') {
		if ((l = TAILQ_FIRST(&conf->listeners)) == NULL) {
			snprintf(why, whylen, "no listener configured");
			return -1;
		}
		*index = l->index;
		return 0;
	}
	if ((colon = strrchr(spec, ':')) == NULL || colon == spec ||
	    colon[1] == '\0') {
		snprintf(why, whylen, "listener \"%.200s\": give it as "
		    "ADDRESS:PORT", spec);
		return -1;
	}
	port = colon + 1;
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(want)) {
		snprintf(why, whylen, "listener address too long");
		return -1;
	}
	memcpy(want, spec, hl);
	want[hl] = '\0';
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (getnameinfo((struct sockaddr *)&l->ss, l->sslen, host,
		    sizeof(host), serv, sizeof(serv),
		    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			continue;
		if (strcmp(host, want) == 0 && strcmp(serv, port) == 0) {
			*index = l->index;
			return 0;
		}
	}
	snprintf(why, whylen, "no listener on %.200s port %.20s (see show "
	    "status)", want, port);
	return -1;
}

/*
 * A test request: the PEM file's pieces are kept (bounded), then the
 * request goes to the front, which answers steps, a decision and the
 * end with our id; proc.c relays them (control_reply.c).  -1:
 * malformed, the client is dropped.
 */
static int
control_test(struct ctl_client *c, struct imsg *imsg)
{
	struct child		*front = proc_child(PROC_FRONT);
	struct msgreader	 r;
	struct msgbuild		 m;
	uint8_t			*n;
	char			*lspec, *user = NULL, why[512];
	uint32_t		 index;
	int			 rc;

	if (imsg->hdr.type == IMSG_CTL_TEST_CERT_DATA) {
		if (imsg->datalen == 0)
			return -1;
		if (imsg->datalen > CTL_TEST_CERT_MAX - c->pemlen) {
			control_reply(c, IMSG_CTL_FAIL, "certificate file "
			    "too large: at most 64 KB");
			control_drop(c, NULL);
			return 0;
		}
		if ((n = realloc(c->pem, c->pemlen + imsg->datalen)) == NULL) {
			control_reply(c, IMSG_CTL_FAIL, "out of memory");
			control_drop(c, NULL);
			return 0;
		}
		c->pem = n;
		memcpy(c->pem + c->pemlen, imsg->data, imsg->datalen);
		c->pemlen += imsg->datalen;
		return 0;
	}
	msg_reader(&r, imsg);
	lspec = msg_get_str(&r, NI_MAXHOST + NI_MAXSERV);
	if (imsg->hdr.type == IMSG_CTL_TEST_LOGIN)
		user = msg_get_str(&r, LDAP_MAX_VALUE);
	if (msg_end(&r) == -1 || (imsg->hdr.type == IMSG_CTL_TEST_CERT &&
	    c->pemlen == 0) || (user != NULL && *user == '\0')) {
		free(lspec);
		free(user);
		return -1;
	}
	rc = 0;
	if (control_find_listener(lspec, &index, why, sizeof(why)) == -1)
		control_reply(c, IMSG_CTL_FAIL, why);
	else if (front == NULL || !front->up)
		control_reply(c, IMSG_CTL_FAIL, "the front is not running: "
		    "nothing to test with");
	else {
		msg_init(&m);
		msg_put_u32(&m, index);
		if (user != NULL)
			msg_put_str(&m, user);
		else
			msg_put_data(&m, c->pem, c->pemlen);
		if (imsgev_send(&front->iev, &m, imsg->hdr.type, 0, c->id,
		    -1) == -1)
			control_reply(c, IMSG_CTL_FAIL, "cannot reach the "
			    "front");
		msg_free(&m);
		log_info("test %s requested by control client (uid %ld)",
		    user != NULL ? "login" : "certificate", (long)c->uid);
	}
	free(c->pem);
	c->pem = NULL;
	c->pemlen = 0;
	free(lspec);
	free(user);
	return rc;
}
