/*
 * LDAP connections of a profile: the pool, async connect, TLS, the
 * service bind, failover with back-off, and the queues requests wait in.
 *
 * Two kinds of connection per profile, each at most `connections':
 *  - service: bound as the profile's bind dn (or anonymous); carries
 *    every search, many at once, multiplexed by msgid;
 *  - bind: never bound as the service account; carries one user bind at
 *    a time (a bind changes the connection's identity, so it must never
 *    share a connection with searches), reused for the next user.
 *
 * Connecting never blocks the event loop on the network: the name is
 * resolved with evdns (numeric hosts and /etc/hosts answer at once), the
 * TCP connect is our own non-blocking connect(2) under libevent, and the
 * connected socket is handed to libldap with ldap_init_fd(), so a server
 * that drops SYNs costs nothing but its connect-timeout timer.  (libldap's
 * own LDAP_OPT_CONNECT_ASYNC path resolves names synchronously and its
 * ldaps handshake continuation is not reachable through the public API.)
 * TLS (ldaps://, and after a successful StartTLS) is ours as well: libtls
 * runs the handshake on that socket, a step whenever libevent says it is
 * readable or writable as libtls asks, under the same connect-timeout
 * timer, so a server that accepts TCP and then stalls the handshake holds
 * up nothing but its own connection.  (libldap's ldap_install_tls() would
 * run it in its own blocking poll loop.)  The finished session is then
 * slid under libldap as a Sockbuf I/O layer (the tls_sb_* functions), and
 * libldap reads and writes LDAP through it unaware of TLS.
 *
 * Failover: a new connection tries the servers in configured order,
 * skipping those in back-off; a server that refuses, times out, fails TLS
 * or the service bind, or drops a connection is marked down for 1s,
 * doubling up to LDAPD_BACKOFF_MAX while it keeps failing, and is tried
 * again once that expires, so a restarted slapd is used again without
 * restarting anything.  When every server is in back-off the waiting
 * requests fail at once (TEMPFAIL) instead of sitting out their timeout.
 *
 * The socket is non-blocking throughout and we call ldap_result() with a
 * zero timeout whenever libevent says it is readable, until it has
 * nothing more.  A TLS record can hold more than libldap asks for in one
 * read: the layer keeps the rest and tells libldap through
 * LBER_SB_OPT_DATA_READY, so such data is read without the socket
 * becoming readable again.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openldap.h>
#include <tls.h>

#include "ldapd.h"
#include "log.h"
#include "stats.h"

static struct lconn *conn_open(struct lprofile *, enum lconn_kind);
static int	conn_pick_server(struct lprofile *, size_t);
static void	conn_try_server(struct lconn *);
static void	conn_dns_cb(int, struct evutil_addrinfo *, void *);
static void	conn_dns_result(struct lconn *, int, struct evutil_addrinfo *);
static void	conn_try_addr(struct lconn *);
static void	conn_connect_cb(evutil_socket_t, short, void *);
static void	conn_ldap_init(struct lconn *);
static void	conn_watch_read(struct lconn *);
static void	conn_tls_start(struct lconn *);
static void	conn_tls_step(struct lconn *);
static void	conn_tls_cb(evutil_socket_t, short, void *);
static void	conn_after_tls(struct lconn *);
static void	conn_ready(struct lconn *);
static void	conn_read_cb(evutil_socket_t, short, void *);
static void	conn_message(struct lconn *, int, LDAPMessage *);
static void	conn_setup_message(struct lconn *, int, LDAPMessage *);
static void	conn_ppolicy(struct lconn *, struct lreq *, LDAPControl **);
static void	conn_timeout_cb(evutil_socket_t, short, void *);
static void	conn_server_failed(struct lconn *, const char *);
static void	conn_broken(struct lconn *, const char *);
static void	conn_gone(struct lconn *, const char *);
static void	conn_teardown(struct lconn *);
static void	conn_free(struct lconn *);
static void	op_start(struct lconn *, struct lreq *);
static void	profile_kick(struct lprofile *, enum lconn_kind);
static int	tls_sb_setup(Sockbuf_IO_Desc *, void *);
static int	tls_sb_remove(Sockbuf_IO_Desc *);
static int	tls_sb_ctrl(Sockbuf_IO_Desc *, int, void *);
static ber_slen_t tls_sb_read(Sockbuf_IO_Desc *, void *, ber_len_t);
static ber_slen_t tls_sb_write(Sockbuf_IO_Desc *, void *, ber_len_t);
static int	tls_sb_close(Sockbuf_IO_Desc *);

static const char *kind_name[LCONN_NKINDS] = { "service", "bind" };

/*
 * The requests' owner (ldap_lookup.c): what an op returns goes there.
 * Registered rather than called by name: this file knows requests only
 * as the operations they run, and needs nothing of the file that uses
 * it.
 */
static const struct lconn_cb	*lconn_cb;

/*
 * Every user bind asks for the password policy response (issue 15):
 * not critical, so a directory without a password policy ignores it.
 * It has no value; libldap only reads it.
 */
static LDAPControl ppolicy_ctrl = {
	LDAP_CONTROL_PASSWORDPOLICYREQUEST, { 0, NULL }, 0
};
static LDAPControl *ppolicy_ctrls[] = { &ppolicy_ctrl, NULL };

/*
 * A TLS session under libldap: the layer's private data, owned by
 * libldap's Sockbuf from ber_sockbuf_add_io() on and freed by
 * tls_sb_remove() when the LDAP handle goes.
 */
struct tls_sb {
	struct tls	*tls;
	int		 closed;		/* tls_close() was tried */
	size_t		 off, len;		/* buf[off..len): unread */
	unsigned char	 buf[LDAPD_TLS_RECORD];
};

static Sockbuf_IO tls_sbio = {
	tls_sb_setup,
	tls_sb_remove,
	tls_sb_ctrl,
	tls_sb_read,
	tls_sb_write,
	tls_sb_close
};

void
lconn_init(const struct lconn_cb *cb)
{
	lconn_cb = cb;
}

/* --- servers ------------------------------------------------------------ */

void
lserver_failed(struct lprofile *p, size_t i, const char *why)
{
	struct lserver	*s = &p->servers[i];

	stats_inc(STAT_LDAP_SERVER_FAIL);
	s->down_until = now_ms() + (uint64_t)s->backoff * 1000;
	log_warnx("ldap \"%s\": server %s failed: %s; not used for %ds",
	    p->conf->name, s->url, why, s->backoff);
	s->backoff *= 2;
	if (s->backoff > LDAPD_BACKOFF_MAX)
		s->backoff = LDAPD_BACKOFF_MAX;
}

/* The first server from index `from' on that is not in back-off. */
static int
conn_pick_server(struct lprofile *p, size_t from)
{
	uint64_t	 now = now_ms();
	size_t		 i;

	for (i = from; i < p->nservers; i++)
		if (p->servers[i].down_until <= now)
			return (int)i;
	return -1;
}

/* --- connection set-up ---------------------------------------------------- */

static struct lconn *
conn_open(struct lprofile *p, enum lconn_kind kind)
{
	struct lconn	*c;
	int		 srv;

	if ((srv = conn_pick_server(p, 0)) == -1)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->p = p;
	c->kind = kind;
	c->srv = srv;
	c->fd = c->tlsfd = -1;
	c->id = ++env->nextconn;
	TAILQ_INIT(&c->ops);
	if ((c->ev_timer = evtimer_new(env->base, conn_timeout_cb, c)) ==
	    NULL)
		fatalx("evtimer_new");
	TAILQ_INSERT_TAIL(&p->conns, c, entry);
	p->nconns[kind]++;
	conn_try_server(c);
	return c;
}

static void
conn_try_server(struct lconn *c)
{
	struct lserver			*s = &c->p->servers[c->srv];
	struct evutil_addrinfo		 hints, *ai = NULL;
	struct evdns_getaddrinfo_request *req;
	struct timeval			 tv;
	int				 err;

	log_trace(TRACE_LDAP, "ldap \"%s\": %s connection %llu: trying %s",
	    c->p->conf->name, kind_name[c->kind],
	    (unsigned long long)c->id, s->url);
	tv.tv_sec = c->p->conf->connect_timeout;
	tv.tv_usec = 0;
	evtimer_add(c->ev_timer, &tv);

	c->state = LCONN_RESOLVING;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	if (env->dns == NULL) {
		/* No resolver configuration: numeric hosts still work. */
		hints.ai_flags = EVUTIL_AI_NUMERICHOST;
		err = evutil_getaddrinfo(s->host, s->port, &hints, &ai);
		conn_dns_result(c, err, ai);
		return;
	}
	/*
	 * evdns may answer before it returns (numeric host, hosts file):
	 * the callback then only records the answer (dns_sync), handled
	 * here, so nothing is freed under evdns's feet.
	 */
	c->dnsreq = NULL;
	c->dns_sync = 1;
	c->dns_done = 0;
	req = evdns_getaddrinfo(env->dns, s->host, s->port, &hints,
	    conn_dns_cb, c);
	c->dns_sync = 0;
	if (c->dns_done) {
		ai = c->ai;
		c->ai = NULL;
		conn_dns_result(c, c->dns_err, ai);
		return;
	}
	c->dnsreq = req;
}

static void
conn_dns_cb(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct lconn	*c = arg;

	/* Cancelled by conn_teardown(): c may be gone, touch nothing. */
	if (err == EVUTIL_EAI_CANCEL)
		return;
	if (c->dns_sync) {
		c->dns_done = 1;
		c->dns_err = err;
		c->ai = ai;
		return;
	}
	c->dnsreq = NULL;
	conn_dns_result(c, err, ai);
}

static void
conn_dns_result(struct lconn *c, int err, struct evutil_addrinfo *ai)
{
	char	 why[128];

	if (err != 0 || ai == NULL) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		snprintf(why, sizeof(why), "resolve %s: %s",
		    c->p->servers[c->srv].host,
		    err ? evutil_gai_strerror(err) : "no address");
		conn_server_failed(c, why);
		return;
	}
	c->ai = ai;
	c->ai_next = ai;
	conn_try_addr(c);
}

/* Connect to the next address of the server, non-blocking. */
static void
conn_try_addr(struct lconn *c)
{
	struct evutil_addrinfo	*ai;
	char			 why[128];
	c->state = LCONN_CONNECTING;
	while ((ai = c->ai_next) != NULL) {
		c->ai_next = ai->ai_next;
		c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (c->fd == -1) {
			c->lasterr = errno;
			continue;
		}
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			conn_ldap_init(c);
			return;
		}
		if (errno == EINPROGRESS) {
			c->ev = event_new(env->base, c->fd, EV_WRITE,
			    conn_connect_cb, c);
			if (c->ev == NULL)
				fatalx("event_new");
			event_add(c->ev, NULL);
			return;
		}
		c->lasterr = errno;
		close(c->fd);
		c->fd = -1;
	}
	snprintf(why, sizeof(why), "connect: %s", strerror(c->lasterr));
	conn_server_failed(c, why);
}

static void
conn_connect_cb(evutil_socket_t fd, short events, void *arg)
{
	struct lconn	*c = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	event_free(c->ev);
	c->ev = NULL;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		log_trace(TRACE_LDAP, "ldap \"%s\": connection %llu: "
		    "connect: %s", c->p->conf->name,
		    (unsigned long long)c->id, strerror(err));
		close(c->fd);
		c->fd = -1;
		c->lasterr = err;
		conn_try_addr(c);
		return;
	}
	conn_ldap_init(c);
}

/* TCP is up: hand the socket to libldap. */
static void
conn_ldap_init(struct lconn *c)
{
	struct lserver	*s = &c->p->servers[c->srv];
	int		 v3 = LDAP_VERSION3, rc;

	evutil_freeaddrinfo(c->ai);
	c->ai = c->ai_next = NULL;
	if ((rc = ldap_init_fd(c->fd, LDAP_PROTO_TCP, s->url, &c->ld)) !=
	    LDAP_SUCCESS) {
		conn_server_failed(c, ldap_err2string(rc));
		return;
	}
	/* From now on ldap_unbind_ext() closes it. */
	c->tlsfd = c->fd;
	c->fd = -1;
	if (ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v3) !=
	    LDAP_OPT_SUCCESS ||
	    ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) !=
	    LDAP_OPT_SUCCESS) {
		conn_server_failed(c, "cannot set libldap options");
		return;
	}
	if (s->ldaps) {
		conn_tls_start(c);
		return;
	}
	conn_watch_read(c);
	if (s->starttls) {
		rc = ldap_start_tls(c->ld, NULL, NULL, &c->setup_msgid);
		if (rc != LDAP_SUCCESS) {
			conn_server_failed(c, ldap_err2string(rc));
			return;
		}
		c->state = LCONN_STARTTLS;
	} else
		conn_after_tls(c);
}

/* LDAP messages may come: read them whenever the socket is readable. */
static void
conn_watch_read(struct lconn *c)
{
	if (c->ev != NULL)
		event_free(c->ev);
	if ((c->ev = event_new(env->base, c->tlsfd, EV_READ | EV_PERSIST,
	    conn_read_cb, c)) == NULL)
		fatalx("event_new");
	event_add(c->ev, NULL);
}

/*
 * Start TLS on ld's socket, verifying the server against the profile's
 * CA bundle (or the system bundle) and its name against the URL's host.
 * libldap must not read the socket meanwhile: the read event goes until
 * the handshake is done.  (After StartTLS libldap has read exactly the
 * extended response: it reads no further than the message it parses.)
 */
static void
conn_tls_start(struct lconn *c)
{
	struct lserver	*s = &c->p->servers[c->srv];
	char		 why[256];

	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	if (c->p->tlscfg == NULL) {
		conn_server_failed(c, "no CA bundle for TLS");
		return;
	}
	c->state = LCONN_TLS;
	if ((c->tls = tls_client()) == NULL)
		fatalx("tls_client");
	if (tls_configure(c->tls, c->p->tlscfg) == -1 ||
	    tls_connect_socket(c->tls, c->tlsfd, s->host) == -1) {
		snprintf(why, sizeof(why), "TLS: %s", tls_error(c->tls));
		conn_server_failed(c, why);
		return;
	}
	conn_tls_step(c);
}

/* One step of the handshake; then libldap gets the session as a layer. */
static void
conn_tls_step(struct lconn *c)
{
	struct tls_sb	*t;
	Sockbuf		*sb = NULL;
	char		 why[256];
	int		 rc;

	rc = tls_handshake(c->tls);
	if (rc == TLS_WANT_POLLIN || rc == TLS_WANT_POLLOUT) {
		if ((c->ev = event_new(env->base, c->tlsfd,
		    rc == TLS_WANT_POLLIN ? EV_READ : EV_WRITE, conn_tls_cb,
		    c)) == NULL)
			fatalx("event_new");
		event_add(c->ev, NULL);
		return;
	}
	if (rc == -1) {
		snprintf(why, sizeof(why), "TLS: %s", tls_error(c->tls));
		conn_server_failed(c, why);
		return;
	}
	if (ldap_get_option(c->ld, LDAP_OPT_SOCKBUF, &sb) !=
	    LDAP_OPT_SUCCESS || sb == NULL) {
		conn_server_failed(c, "TLS: no libldap socket buffer");
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->tls = c->tls;
	/* Our tls_sb_setup() cannot fail: from here libldap owns t. */
	if (ber_sockbuf_add_io(sb, &tls_sbio, LBER_SBIOD_LEVEL_TRANSPORT, t)
	    != 0)
		fatalx("ber_sockbuf_add_io");
	c->tls = NULL;
	log_trace(TRACE_LDAP, "ldap \"%s\": connection %llu: %s %s",
	    c->p->conf->name, (unsigned long long)c->id,
	    tls_conn_version(t->tls), tls_conn_cipher(t->tls));
	conn_watch_read(c);
	conn_after_tls(c);
}

static void
conn_tls_cb(evutil_socket_t fd, short events, void *arg)
{
	struct lconn	*c = arg;

	event_free(c->ev);
	c->ev = NULL;
	conn_tls_step(c);
}

static void
conn_after_tls(struct lconn *c)
{
	struct lprofile	*p = c->p;
	int		 rc;

	if (c->kind == LCONN_SERVICE && p->conf->bind_dn != NULL) {
		rc = ldap_sasl_bind(c->ld, p->conf->bind_dn, LDAP_SASL_SIMPLE,
		    &p->password, NULL, NULL, &c->setup_msgid);
		if (rc != LDAP_SUCCESS) {
			conn_server_failed(c, ldap_err2string(rc));
			return;
		}
		c->state = LCONN_BINDING;
		return;
	}
	conn_ready(c);
}

static void
conn_ready(struct lconn *c)
{
	struct lserver	*s = &c->p->servers[c->srv];

	evtimer_del(c->ev_timer);
	c->state = LCONN_READY;
	s->down_until = 0;
	s->backoff = LDAPD_BACKOFF_MIN;
	log_trace(TRACE_LDAP, "ldap \"%s\": %s connection %llu to %s ready",
	    c->p->conf->name, kind_name[c->kind],
	    (unsigned long long)c->id, s->url);
	profile_kick(c->p, c->kind);
}

static void
conn_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct lconn	*c = arg;

	conn_server_failed(c, "connect timeout");
}

/* --- reading ------------------------------------------------------------ */

static void
conn_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct lconn	*c = arg;
	struct timeval	 zero = { 0, 0 };
	LDAPMessage	*msg;
	LDAP		*ld = c->ld;
	int		 rc, err;

	c->dispatching++;
	/* Not in LCONN_TLS: the handshake has the socket (StartTLS). */
	while (!c->dead && c->ld == ld && ld != NULL &&
	    c->state != LCONN_TLS) {
		msg = NULL;
		rc = ldap_result(ld, LDAP_RES_ANY, LDAP_MSG_ONE, &zero, &msg);
		if (rc == 0)
			break;
		if (rc == -1) {
			err = LDAP_SERVER_DOWN;
			ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
			if (c->state != LCONN_READY)
				conn_server_failed(c, ldap_err2string(err));
			else if (c->nops == 0)
				/* An idle connection the server closed
				 * (idletimeout) is not a server failure. */
				conn_gone(c, "closed by the server");
			else
				conn_broken(c, ldap_err2string(err));
			break;
		}
		conn_message(c, rc, msg);
	}
	c->dispatching--;
	if (c->dead && c->dispatching == 0)
		conn_free(c);
}

static void
conn_message(struct lconn *c, int type, LDAPMessage *msg)
{
	struct lreq	*r;
	LDAPControl	**ctrls = NULL;
	char		*errmsg = NULL;
	int		 msgid = ldap_msgid(msg), err = LDAP_OTHER;

	if (c->state == LCONN_STARTTLS || c->state == LCONN_BINDING) {
		conn_setup_message(c, msgid, msg);
		return;
	}
	if (msgid == 0) {
		/* Unsolicited notification: notice of disconnection. */
		ldap_msgfree(msg);
		conn_broken(c, "server announced disconnection");
		return;
	}
	TAILQ_FOREACH(r, &c->ops, qentry)
		if (r->msgid == msgid)
			break;
	if (r == NULL) {
		/* Abandoned or its request is gone. */
		ldap_msgfree(msg);
		return;
	}
	switch (type) {
	case LDAP_RES_SEARCH_ENTRY:
		lconn_cb->entry(r, c->ld, msg);
		ldap_msgfree(msg);
		return;
	case LDAP_RES_SEARCH_REFERENCE:
		ldap_msgfree(msg);
		return;
	default:
		break;
	}
	/* A user bind's answer may carry the password policy response. */
	if (ldap_parse_result(c->ld, msg, &err, NULL, &errmsg, NULL,
	    r->opkind == LCONN_BIND ? &ctrls : NULL, 1) != LDAP_SUCCESS)
		err = LDAP_DECODING_ERROR;
	else if (ctrls != NULL)
		conn_ppolicy(c, r, ctrls);
	ldap_controls_free(ctrls);
	TAILQ_REMOVE(&c->ops, r, qentry);
	c->nops--;
	r->conn = NULL;
	lconn_cb->op_done(r, err, errmsg != NULL && *errmsg ? errmsg : NULL);
	ldap_memfree(errmsg);
	/* A bind connection is free again. */
	if (c->kind == LCONN_BIND && !c->dead)
		profile_kick(c->p, c->kind);
}

/*
 * The password policy response control of a user bind: what the
 * directory says about the account (locked, expired, grace logins
 * left).  A control that does not decode is ignored: the bind's result
 * code alone then decides, as with a directory without the overlay.
 */
static void
conn_ppolicy(struct lconn *c, struct lreq *r, LDAPControl **ctrls)
{
	LDAPControl		*ctl;
	LDAPPasswordPolicyError	 pperr = PP_noError;
	ber_int_t		 expire = -1, grace = -1;

	if ((ctl = ldap_control_find(LDAP_CONTROL_PASSWORDPOLICYRESPONSE,
	    ctrls, NULL)) == NULL)
		return;
	if (ldap_parse_passwordpolicy_control(c->ld, ctl, &expire, &grace,
	    &pperr) != LDAP_SUCCESS) {
		log_warnx("ldap \"%s\": request %llu: undecodable password "
		    "policy control ignored", c->p->conf->name,
		    (unsigned long long)r->id);
		return;
	}
	r->pp_error = (int)pperr;
	r->pp_grace = grace;
	r->pp_expire = expire;
	log_trace(TRACE_LDAP, "request %llu: password policy: %s, grace %d, "
	    "expire %d", (unsigned long long)r->id,
	    ldap_passwordpolicy_err2txt(pperr), (int)grace, (int)expire);
}

static void
conn_setup_message(struct lconn *c, int msgid, LDAPMessage *msg)
{
	char	*errmsg = NULL, why[256];
	int	 err = LDAP_OTHER;

	if (msgid != c->setup_msgid) {
		ldap_msgfree(msg);
		return;
	}
	if (ldap_parse_result(c->ld, msg, &err, NULL, &errmsg, NULL, NULL, 1)
	    != LDAP_SUCCESS)
		err = LDAP_DECODING_ERROR;
	if (err != LDAP_SUCCESS) {
		snprintf(why, sizeof(why), "%s: %s%s%s",
		    c->state == LCONN_STARTTLS ? "StartTLS" : "service bind",
		    ldap_err2string(err), errmsg && *errmsg ? ": " : "",
		    errmsg ? errmsg : "");
		ldap_memfree(errmsg);
		conn_server_failed(c, why);
		return;
	}
	ldap_memfree(errmsg);
	if (c->state == LCONN_STARTTLS)
		conn_tls_start(c);
	else
		conn_ready(c);
}

/* --- failures ------------------------------------------------------------ */

/* Set-up on this server failed: next server, or give up. */
static void
conn_server_failed(struct lconn *c, const char *why)
{
	int	 next;

	lserver_failed(c->p, c->srv, why);
	conn_teardown(c);
	if ((next = conn_pick_server(c->p, c->srv + 1)) == -1) {
		conn_gone(c, "no LDAP server reachable");
		return;
	}
	c->srv = next;
	conn_try_server(c);
}

/* A ready connection broke: its server is suspect, its ops fail. */
static void
conn_broken(struct lconn *c, const char *why)
{
	lserver_failed(c->p, c->srv, why);
	conn_gone(c, why);
}

/* Release the transport (name lookup, socket, libldap handle). */
static void
conn_teardown(struct lconn *c)
{
	struct evdns_getaddrinfo_request *req = c->dnsreq;

	evtimer_del(c->ev_timer);
	if (req != NULL) {
		c->dnsreq = NULL;
		evdns_getaddrinfo_cancel(req);
	}
	if (c->ai != NULL)
		evutil_freeaddrinfo(c->ai);
	c->ai = c->ai_next = NULL;
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	/* A handshake never finished: the session is still ours. */
	if (c->tls != NULL) {
		tls_free(c->tls);
		c->tls = NULL;
	}
	if (c->ld != NULL) {
		ldap_unbind_ext(c->ld, NULL, NULL);
		c->ld = NULL;
	}
	c->tlsfd = -1;
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	c->state = LCONN_DEAD;
}

/* The connection is finished: fail its ops, then see who else waits. */
static void
conn_gone(struct lconn *c, const char *why)
{
	struct lprofile		*p = c->p;
	struct lreq_queue	 ops;
	struct lreq		*r;
	enum lconn_kind		 kind = c->kind;

	conn_teardown(c);
	TAILQ_REMOVE(&p->conns, c, entry);
	p->nconns[kind]--;
	TAILQ_INIT(&ops);
	TAILQ_CONCAT(&ops, &c->ops, qentry);
	c->nops = 0;
	if (c->dispatching)
		c->dead = 1;
	else
		conn_free(c);
	while ((r = TAILQ_FIRST(&ops)) != NULL) {
		TAILQ_REMOVE(&ops, r, qentry);
		r->conn = NULL;
		lconn_cb->op_done(r, LDAP_SERVER_DOWN, why);
	}
	profile_kick(p, kind);
}

static void
conn_free(struct lconn *c)
{
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	free(c);
}

void
lconn_close_all(struct lprofile *p)
{
	struct lconn	*c;

	while ((c = TAILQ_FIRST(&p->conns)) != NULL) {
		conn_teardown(c);
		TAILQ_REMOVE(&p->conns, c, entry);
		p->nconns[c->kind]--;
		if (c->dispatching)
			c->dead = 1;
		else
			conn_free(c);
	}
}

/* --- operations -------------------------------------------------------- */

static void
op_start(struct lconn *c, struct lreq *r)
{
	struct berval	 cred;
	struct timeval	 tv;
	int		 rc;

	TAILQ_INSERT_TAIL(&c->ops, r, qentry);
	c->nops++;
	r->conn = c;
	if (r->opkind == LCONN_SERVICE) {
		tv.tv_sec = c->p->conf->timeout;
		tv.tv_usec = 0;
		rc = ldap_search_ext(c->ld, r->base, r->scope, r->filter,
		    r->attrs, 0, NULL, NULL, &tv, LDAPD_SIZELIMIT, &r->msgid);
	} else {
		cred.bv_val = (char *)r->pw;
		cred.bv_len = r->pwlen;
		rc = ldap_sasl_bind(c->ld, r->dn, LDAP_SASL_SIMPLE, &cred,
		    ppolicy_ctrls, NULL, &r->msgid);
		/* Encoded and sent (or failed): our copy goes now.  (The
		 * request encoding libldap freed is beyond our reach.) */
		explicit_bzero(r->pw, r->pwlen);
	}
	if (rc == LDAP_SUCCESS)
		return;
	TAILQ_REMOVE(&c->ops, r, qentry);
	c->nops--;
	r->conn = NULL;
	lconn_cb->op_done(r, rc, "could not send the request");
	if (rc == LDAP_SERVER_DOWN && !c->dead && c->state == LCONN_READY)
		conn_broken(c, ldap_err2string(rc));
}

/*
 * Give waiting requests to ready connections; open connections while
 * requests wait and the pool has room; fail the waiting requests when
 * no server can be tried.
 */
static void
profile_kick(struct lprofile *p, enum lconn_kind kind)
{
	struct lconn	*c, *best;
	struct lreq	*r;
	int		 connecting, nwait, busy;

	while ((r = TAILQ_FIRST(&p->wait[kind])) != NULL) {
		best = NULL;
		TAILQ_FOREACH(c, &p->conns, entry) {
			if (c->kind != kind || c->state != LCONN_READY ||
			    c->dead)
				continue;
			if (kind == LCONN_BIND && c->nops > 0)
				continue;
			if (best == NULL || c->nops < best->nops)
				best = c;
		}
		if (best == NULL)
			break;
		TAILQ_REMOVE(&p->wait[kind], r, qentry);
		r->queued = 0;
		op_start(best, r);
	}

	connecting = busy = 0;
	TAILQ_FOREACH(c, &p->conns, entry) {
		if (c->kind != kind)
			continue;
		if (c->state != LCONN_READY)
			connecting++;
		else if (c->nops > 0)
			busy++;
	}
	nwait = 0;
	TAILQ_FOREACH(r, &p->wait[kind], qentry)
		nwait++;

	/* Service connections multiplex: grow the pool under load. */
	if (kind == LCONN_SERVICE && nwait == 0 && connecting == 0 &&
	    busy == p->nconns[kind] && busy > 0 &&
	    p->nconns[kind] < p->conf->connections)
		(void)conn_open(p, kind);

	while (nwait > 0 && p->nconns[kind] < p->conf->connections &&
	    connecting < (kind == LCONN_BIND ? nwait : 1)) {
		if (conn_open(p, kind) == NULL)
			break;
		connecting++;
	}
	/* Recount: conn_open() may have failed over and given up at once. */
	connecting = 0;
	TAILQ_FOREACH(c, &p->conns, entry)
		if (c->kind == kind && c->state != LCONN_READY)
			connecting++;
	if (connecting == 0 && !TAILQ_EMPTY(&p->wait[kind])) {
		TAILQ_FOREACH(c, &p->conns, entry)
			if (c->kind == kind && c->state == LCONN_READY)
				break;
		if (c == NULL)
			lconn_cb->fail_queue(&p->wait[kind],
			    "no LDAP server reachable");
	}
}

void
lconn_submit(struct lprofile *p, struct lreq *r, enum lconn_kind kind)
{
	r->opkind = kind;
	r->queued = 1;
	TAILQ_INSERT_TAIL(&p->wait[kind], r, qentry);
	profile_kick(p, kind);
}

/*
 * The request is ending before its op did (timeout, front gone).
 * broken: it timed out, so the connection's server is not answering.
 */
void
lconn_cancel(struct lreq *r, int broken)
{
	struct lconn	*c = r->conn;

	if (r->queued) {
		TAILQ_REMOVE(&r->p->wait[r->opkind], r, qentry);
		r->queued = 0;
		return;
	}
	if (c == NULL)
		return;
	TAILQ_REMOVE(&c->ops, r, qentry);
	c->nops--;
	r->conn = NULL;
	if (c->dead || c->state != LCONN_READY)
		return;
	if (c->kind == LCONN_BIND) {
		/* A bind cannot be abandoned: drop the connection. */
		if (broken)
			conn_broken(c, "bind timed out");
		else
			conn_gone(c, "request cancelled");
		return;
	}
	ldap_abandon_ext(c->ld, r->msgid, NULL, NULL);
	if (broken)
		conn_broken(c, "search timed out");
}

/* --- the TLS layer under libldap ----------------------------------------- */

static int
tls_sb_setup(Sockbuf_IO_Desc *sbiod, void *arg)
{
	sbiod->sbiod_pvt = arg;
	return 0;
}

/* The Sockbuf is going (ber_sockbuf_free): the session goes with it. */
static int
tls_sb_remove(Sockbuf_IO_Desc *sbiod)
{
	struct tls_sb	*t = sbiod->sbiod_pvt;

	if (t == NULL)
		return 0;
	tls_free(t->tls);
	explicit_bzero(t, sizeof(*t));
	free(t);
	sbiod->sbiod_pvt = NULL;
	return 0;
}

/*
 * libldap closes a Sockbuf from the top layer down, so the socket is
 * still open here; the TCP layer below closes it.  (tls_close() does not:
 * the session was made with tls_connect_socket().)  libldap may close
 * twice (ldap_free_connection, then ber_sockbuf_free): one close_notify,
 * tried once, non-blocking; whether the server sees it changes nothing.
 */
static int
tls_sb_close(Sockbuf_IO_Desc *sbiod)
{
	struct tls_sb	*t = sbiod->sbiod_pvt;

	if (t != NULL && !t->closed) {
		t->closed = 1;
		(void)tls_close(t->tls);
	}
	return 0;
}

/*
 * DATA_READY: decrypted bytes wait in our buffer, so libldap must read
 * before polling the socket.  libtls asks OpenSSL for no read-ahead, and
 * our buffer takes a whole record, so nothing else waits unseen inside
 * the session.
 */
static int
tls_sb_ctrl(Sockbuf_IO_Desc *sbiod, int opt, void *arg)
{
	struct tls_sb	*t = sbiod->sbiod_pvt;

	if (opt == LBER_SB_OPT_DATA_READY)
		return t->off < t->len;
	return LBER_SBIOD_CTRL_NEXT(sbiod, opt, arg);
}

/*
 * libldap reads a few bytes at a time (tag, length, then the rest); we
 * decrypt a record at a time.  "Try again" is EAGAIN as on a plain
 * non-blocking socket; a TLS error must not leave a stale EAGAIN in errno.
 */
static ber_slen_t
tls_sb_read(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	struct tls_sb	*t = sbiod->sbiod_pvt;
	ssize_t		 n;
	size_t		 avail;

	if (t->off == t->len) {
		n = tls_read(t->tls, t->buf, sizeof(t->buf));
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			errno = EAGAIN;
			return -1;
		}
		if (n == -1) {
			log_debug("ldap: TLS read: %s", tls_error(t->tls));
			errno = ECONNRESET;
			return -1;
		}
		if (n == 0)
			return 0;
		t->off = 0;
		t->len = (size_t)n;
	}
	avail = t->len - t->off;
	if (len > avail)
		len = avail;
	memcpy(buf, t->buf + t->off, len);
	t->off += len;
	return (ber_slen_t)len;
}

static ber_slen_t
tls_sb_write(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	struct tls_sb	*t = sbiod->sbiod_pvt;
	ssize_t		 n;

	n = tls_write(t->tls, buf, len);
	if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
		errno = EAGAIN;
		return -1;
	}
	if (n == -1) {
		log_debug("ldap: TLS write: %s", tls_error(t->tls));
		errno = ECONNRESET;
		return -1;
	}
	return (ber_slen_t)n;
}
