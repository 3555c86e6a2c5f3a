/*
 * E-mail proxy sessions (see proxy.h for the life of one).
 *
 * Authentication (SPEC 6).  The credentials are split by the delimiter
 * rule (proxy_login.c), the server named must be configured, then the
 * profile's methods are tried in the configured order until one accepts
 * the VPN user:
 *	aaa		LDAP smtp-auth query (search + bind + allowance) with
 *			the VPN password, through ldapd-helper (lookup.c)
 *	certificate	the TLS client certificate's user name
 *			(proxy_login.c) equals the VPN user
 *	mailhost	the back end decides (its login is the check)
 *	piggyback	the same VPN user holds a live relayed session from
 *			the same client address (any password)
 * A method that cannot answer (LDAP down) does not accept; if none
 * accepts and one could not answer, the reply is a temporary failure,
 * else a refusal that counts for the failed-login limiter (authfail.c).
 *
 * One policy for every password method (issue 13): the aaa query's
 * allowance filter -- the site's card rule -- decides for aaa (after the
 * bind) and, before they may accept, for mailhost and piggyback too
 * (lookup_allowance(): the filter alone, no password).  A user it refuses
 * is refused at once, whatever methods follow (`disallowed reject'), or
 * let in with the session marked monitored (`disallowed monitor'), as on
 * the SMTP gateway.  A user the directory does not know is no card
 * holder: the rule does not apply.
 *
 * The certificate binds the login (`certificate binds-login', default
 * yes): with a client certificate that names a user, the login must name
 * that user, or an address of the user's entry (the aaa query's `mail
 * attribute' values); anything else is refused and logged with both
 * names, before any method is tried.
 *
 * POP3 and IMAP log in to the back end as the mail user with the mail
 * password, so the back end has the last word too -- except a user the
 * certificate method accepted for their own mailbox, when the profile
 * has a `master user': then the gateway logs in as the master account on
 * the user's behalf (SASL PLAIN with an authorization identity, or
 * Dovecot's user*master LOGIN), so a card holder needs no mail password
 * and SASL EXTERNAL works.
 *
 * Authorization: the profile's authorization query gives a group-policy
 * name, else the default group policy applies; with neither, or with a
 * name no group-policy has, the login is refused.  The policy's
 * simultaneous-logins limit counts every authenticated proxy session of
 * the VPN user, whatever the protocol or listener.
 *
 * Unauthenticated-session limit (per proxy profile, the seed's rule): a
 * new connection that would bring the profile's sessions not yet
 * authenticated over the limit closes the oldest unauthenticated one,
 * else the oldest authenticating one; authenticated sessions are never
 * closed for it.  Per gateway (issue 17, fronts.h): each front keeps,
 * per profile, its unauthenticated and its authenticating sessions in
 * two lists in start order (px_group), publishes their sizes and heads
 * in shared memory, and the new session's front evicts the gateway's
 * oldest victim, or asks the front that holds it.
 *
 * Accounting: a "start" record when the back end accepted the login and
 * a "stop" record when that session ends; a login that fails after a
 * user was named is one "failed" record with its reason.  Each is logged
 * and, with an accounting file, sent to the parent (IMSG_ACCT_RECORD)
 * which appends it as a JSON line.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "authfail.h"
#include "certfields.h"
#include "childproc.h"
#include "compat.h"
#include "certverify.h"
#include "config.h"
#include "confmsg.h"
#include "front.h"
#include "fronts.h"
#include "imsg.h"
#include "io.h"
#include "kvlog.h"
#include "log.h"
#include "lookup.h"
#include "proto.h"
#include "pwpolicy.h"
#include "proxy.h"
#include "session.h"
#include "stats.h"

static TAILQ_HEAD(, proxy_session) px_sessions =
    TAILQ_HEAD_INITIALIZER(px_sessions);
static uint64_t		 px_next_id;
static unsigned		 px_count;

/*
 * A profile's sessions not yet authenticated on this front, by name (an
 * older generation's profile of the same name is the same), each state
 * in start order: the heads are the eviction candidates, and a session
 * that changes state is put back in place from the tail (sessions
 * mostly change state in the order they came).  Profiles with such
 * sessions are few; more than PX_GROUPS_MAX at once, and a session of a
 * profile with a limit is refused (fail closed).
 */
TAILQ_HEAD(px_waitlist, proxy_session);
struct px_group {
	uint64_t		 key;		/* front_unauth_key() */
	unsigned		 n;		/* both lists, and a new
						 * session being admitted */
	struct px_waitlist	 unauth, authing;
};
#define PX_GROUPS_MAX	FRONT_UNAUTH_SLOTS
static struct px_group	 px_groups[PX_GROUPS_MAX];

static void	px_io(struct sess *, int);
static int	px_tls_ready(struct sess *, enum sess_cert,
		    const struct certfields *);
static void	px_cert_refused(struct sess *, const char *);
static const char *px_cert_user(struct sess *);
static void	px_read(struct proxy_session *);
static void	px_free(struct proxy_session *, int);
static void	px_auth_next(struct proxy_session *);
static void	px_authorize(struct proxy_session *);
static void	px_accept_user(struct proxy_session *);
static void	px_acct(struct proxy_session *, const char *event,
		    const char *reason);
static void	px_binding(struct proxy_session *);
static int	px_binding_needed(struct proxy_session *);
static void	px_allowance(struct proxy_session *, const char *method);
static int	px_admit(struct proxy_session *);
static void	px_group_leave(struct proxy_session *);
static void	px_group_move(struct proxy_session *, enum px_auth);

static const struct sess_ops px_ops = {
	.io = px_io,
	.refused = px_cert_refused,
	.ready = px_tls_ready,
	.cert_user = px_cert_user,
	.what = "proxy",
};

void
proxy_session_init(void)
{
	/* Proxy session ids start high so that they never collide with
	 * SMTP sessions' in logs and `show sessions'. */
	px_next_id = (1ULL << 40) | ((uint64_t)time(NULL) << 8);
	/* Several fronts started in the same second (issue 17) must not
	 * count from the same place. */
	px_next_id ^= (uint64_t)(arc4random() & 0xffff) << 41;
}

static const char *
auth_state_name(enum px_auth a)
{
	switch (a) {
	case PXA_UNAUTH:
		return "unauthenticated";
	case PXA_AUTHING:
		return "authenticating";
	default:
		return "authenticated";
	}
}

void
proxy_reply(struct proxy_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	io_vprintf(s->sess.io, fmt, ap);
	va_end(ap);
}

/* An authenticated session no longer is: the user's login count, shared
 * by several fronts, goes down (fronts.h). */
static void
px_login_uncount(struct proxy_session *s)
{
	if (s->relay_counted) {
		s->relay_counted = 0;
		front_logins_add(s->relay_key, -1);
	}
	if (!s->login_counted)
		return;
	s->login_counted = 0;
	front_logins_add(s->login_key, -1);
}

/* The shared keys (fronts.h): the user's logins, and the user's relayed
 * sessions from one address. */
static uint64_t
px_key(const char *kind, const char *user, const char *addr)
{
	char	 buf[512];

	snprintf(buf, sizeof(buf), "%s:%s%s%s", kind, user,
	    addr != NULL ? " " : "", addr != NULL ? addr : "");
	return front_login_key(buf);
}

/* The client's io flushed and closed (flush 1) or dropped. */
static void
px_free(struct proxy_session *s, int flush)
{
	if (s->lookup_id)
		lookup_cancel(s->lookup_id);
	authfail_front_cancel(s->af_wait);
	free(s->af_text);
	if (s->ev_check != NULL)
		event_free(s->ev_check);
	if (s->bio != NULL)
		io_free(s->bio);
	free(s->reply);
	if (s->pending != NULL) {
		explicit_bzero(s->pending, strlen(s->pending));
		free(s->pending);
	}
	TAILQ_REMOVE(&px_sessions, s, entry);
	px_group_leave(s);
	px_count--;
	px_login_uncount(s);
	sess_close(&s->sess, flush);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

/*
 * The fields every event line of a proxy session starts with: the
 * skeleton's (session.h), with proto the proxied protocol and proxy the
 * profile.
 */
void
proxy_kv(struct proxy_session *s, struct kvlog *kv, const char *event)
{
	sess_kv(&s->sess, kv, event);
}

static void
px_log_end(struct proxy_session *s, const char *why)
{
	struct kvlog	 kv;

	proxy_kv(s, &kv, "end");
	kvlog_u64(&kv, "listener", s->sess.l->index);
	sess_kv_tlscert(&s->sess, &kv, proxy_cert_state(s));
	kvlog_str(&kv, "user", s->vpnuser[0] ? s->vpnuser : NULL);
	kvlog_str(&kv, "method", s->method);
	kvlog_str(&kv, "mailuser", s->mailuser[0] ? s->mailuser : NULL);
	kvlog_str(&kv, "backend", s->backend[0] ? s->backend : NULL);
	if (s->monitor)
		kvlog_str(&kv, "monitor", "yes");
	kvlog_u64(&kv, "bytes-in", s->bytes_in);
	kvlog_u64(&kv, "bytes-out", s->bytes_out);
	sess_kv_end(&s->sess, &kv, why);
}

/* Flush what is queued to the client and end the session. */
void
proxy_close(struct proxy_session *s, const char *why)
{
	strlcpy(s->result, why, sizeof(s->result));
	if (s->acct_started)
		px_acct(s, "stop", NULL);
	px_log_end(s, why);
	if (s->bio != NULL)
		io_close(s->bio);
	s->bio = NULL;
	px_free(s, 1);
}

int
proxy_error(struct proxy_session *s)
{
	if (++s->errors >= s->sess.l->limits.max_errors) {
		s->proto->bye(s, "too many errors");
		proxy_close(s, "too many errors");
		return -1;
	}
	return 0;
}

/*
 * From accept.c: the socket, the generation reference it took (l is its
 * listener) and the client, which on a proxy-protocol listener is what
 * the load balancer's PROXY header said.
 */
void
proxy_session_accept(int fd, struct front_gen *g, const struct listener *l,
    const struct front_peer *peer, const struct proxy_proto *proto)
{
	struct proxy_session	*s;

	if (l->proxy == NULL || (s = calloc(1, sizeof(*s))) == NULL) {
		if (l->proxy != NULL)
			log_warn("proxy session");
		front_gen_unref(g);
		close(fd);
		return;
	}
	s->p = l->proxy;
	s->proto = proto;
	s->phase = PX_TLS;
	if (sess_open(&s->sess, &px_ops, px_next_id++, fd, g, l, peer,
	    s->proto->name, s->p->name) == -1) {
		log_warnx("proxy session: out of memory");
		front_gen_unref(g);
		free(s);
		return;
	}
	TAILQ_INSERT_TAIL(&px_sessions, s, entry);
	px_count++;
	io_set_limits(s->sess.io, IO_INBUF_MAX, s->proto->maxline);
	/* The unauthenticated-limit, evicting for us if need be: refused
	 * only when it cannot be counted. */
	if (px_admit(s) == -1) {
		(void)sess_connect(&s->sess, FC_PROXY);
		proxy_close(s, "cannot count unauthenticated sessions");
		return;
	}
	if (sess_connect(&s->sess, FC_PROXY) == -1) {
		proxy_close(s, "too many sessions");
		return;
	}
	if (sess_start_tls(&s->sess, "implicit TLS") < 0)
		proxy_close(s, "cannot start TLS");
}

static int64_t
px_mono(void)
{
	struct timespec	 ts;
	int64_t		 t;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return t > 0 ? t : 1;		/* 0 is "none" (fronts.h) */
}

static struct px_group *
px_group_find(uint64_t key, int create)
{
	struct px_group	*g, *free_g = NULL;
	size_t		 i;

	for (i = 0; i < PX_GROUPS_MAX; i++) {
		g = &px_groups[i];
		if (g->n > 0 && g->key == key)
			return g;
		if (g->n == 0 && free_g == NULL)
			free_g = g;
	}
	if (!create || free_g == NULL)
		return NULL;
	free_g->key = key;
	TAILQ_INIT(&free_g->unauth);
	TAILQ_INIT(&free_g->authing);
	return free_g;
}

static int64_t
px_head_mono(struct px_waitlist *l)
{
	struct proxy_session	*s = TAILQ_FIRST(l);

	return s != NULL ? s->mono : 0;
}

/* The group's state in this front's shared memory; -1: no room there. */
static int
px_group_publish(struct px_group *g)
{
	return front_unauth_publish(g->key, g->n, px_head_mono(&g->unauth),
	    px_head_mono(&g->authing));
}

/* Into a list in start order, from the tail. */
static void
px_wait_insert(struct px_waitlist *l, struct proxy_session *s)
{
	struct proxy_session	*o;

	for (o = TAILQ_LAST(l, px_waitlist); o != NULL && o->mono > s->mono;
	    o = TAILQ_PREV(o, px_waitlist, wentry))
		;
	if (o == NULL)
		TAILQ_INSERT_HEAD(l, s, wentry);
	else
		TAILQ_INSERT_AFTER(l, o, s, wentry);
}

static struct px_waitlist *
px_wait_list(struct px_group *g, enum px_auth a)
{
	return a == PXA_UNAUTH ? &g->unauth : &g->authing;
}

/* The session is authenticated, or ends: out of its group. */
static void
px_group_leave(struct proxy_session *s)
{
	struct px_group	*g = s->grp;

	if (g == NULL)
		return;
	TAILQ_REMOVE(px_wait_list(g, s->auth), s, wentry);
	s->grp = NULL;
	g->n--;
	px_group_publish(g);	/* fewer: room is not needed */
}

/* Unauthenticated <-> authenticating, or authenticated (out), or back
 * (the back end refused the login: in again, in its start order). */
static void
px_group_move(struct proxy_session *s, enum px_auth to)
{
	struct px_group	*g = s->grp;

	if (g == NULL && s->auth == PXA_AUTHED && to != PXA_AUTHED &&
	    s->mono != 0 &&
	    (g = px_group_find(front_unauth_key(s->p->name), 1)) != NULL) {
		s->auth = to;
		s->grp = g;
		g->n++;
		px_wait_insert(px_wait_list(g, to), s);
		px_group_publish(g);
		return;
	}
	if (g == NULL || s->auth == to) {
		s->auth = to;
		return;
	}
	if (to == PXA_AUTHED) {
		px_group_leave(s);
		s->auth = to;
		return;
	}
	TAILQ_REMOVE(px_wait_list(g, s->auth), s, wentry);
	s->auth = to;
	px_wait_insert(px_wait_list(g, to), s);
	px_group_publish(g);
}

/* Close this front's oldest victim of the group: unauthenticated first. */
static int
px_evict_local(struct px_group *g, const struct proxy_profile *p,
    int for_front)
{
	struct proxy_session	*victim;
	struct kvlog		 kv;

	if ((victim = TAILQ_FIRST(&g->unauth)) == NULL &&
	    (victim = TAILQ_FIRST(&g->authing)) == NULL)
		return 0;
	proxy_kv(victim, &kv, "evicted");
	kvlog_fmt(&kv, "reason", "unauthenticated-limit %d of proxy %s "
	    "reached: closing this %s session to make room",
	    p->unauth_limit, p->name, auth_state_name(victim->auth));
	if (for_front != -1)
		kvlog_i64(&kv, "for-front", for_front);
	kvlog_warn(&kv);
	if (victim->phase != PX_TLS)
		victim->proto->bye(victim, "too many unauthenticated "
		    "sessions, closing");
	proxy_close(victim, "unauthenticated-limit");
	return 1;
}

/* The gateway's non-authenticated sessions of the group, and the front
 * holding its oldest victim. */
static unsigned
px_group_total(struct px_group *g, int *victim)
{
	return front_unauth_gather(g->key, g->n, px_head_mono(&g->unauth),
	    px_head_mono(&g->authing), victim);
}

/* Ask front k to evict for the profile (through the parent). */
static void
px_evict_ask(int k, uint64_t key)
{
	struct childproc	*cp = front_childproc();
	struct {
		uint32_t	 front, unused;
		uint64_t	 key;
	} req;

	if (cp == NULL)
		return;
	memset(&req, 0, sizeof(req));
	req.front = k;
	req.key = key;
	imsgev_compose(&cp->parent, IMSG_FRONT_EVICT, 0, 0, -1, &req,
	    sizeof(req));
}

/*
 * A new session, counted in its profile's group (every profile, so that
 * a limit set by a reload counts the sessions before it).  Over the
 * limit, the gateway's oldest victim goes: here, or on the front holding
 * it.  The new session is counted before the gateway's total is added
 * up, and joins its list after the victim is chosen (it is the newest,
 * never its own victim).  -1: it could not be counted under a limit.
 */
static int
px_admit(struct proxy_session *s)
{
	struct px_group	*g;
	unsigned	 total;
	int		 victim, limit = s->p->unauth_limit;

	s->mono = px_mono();
	s->auth = PXA_UNAUTH;
	g = px_group_find(front_unauth_key(s->p->name), 1);
	if (g == NULL) {
		if (limit > 0)
			log_warnx("proxy %s: more than %d profiles with "
			    "unauthenticated sessions", s->p->name,
			    PX_GROUPS_MAX);
		return limit > 0 ? -1 : 0;
	}
	g->n++;
	if (px_group_publish(g) == -1 && limit > 0) {
		g->n--;
		log_warnx("proxy %s: no room in the shared table of "
		    "unauthenticated sessions", s->p->name);
		return -1;
	}
	if (limit > 0 &&
	    (total = px_group_total(g, &victim)) > (unsigned)limit &&
	    victim != -1) {
		if (victim == front_number())
			px_evict_local(g, s->p, -1);
		else
			px_evict_ask(victim, g->key);
	}
	s->grp = g;
	TAILQ_INSERT_TAIL(&g->unauth, s, wentry);
	px_group_publish(g);
	return 0;
}

/*
 * IMSG_FRONT_EVICT: another front took a session over the limit and
 * found the gateway's oldest victim here.  Checked again, with this
 * front's configuration of the profile: still over, the oldest victim
 * here goes; otherwise (another request came first, a session logged in
 * or ended) nothing.
 */
void
proxy_evict_request(uint64_t key, int from)
{
	struct front_gen		*gen;
	const struct proxy_profile	*p, *found = NULL;
	struct px_group			*g;
	int				 victim;

	gen = front_gen_ref();
	TAILQ_FOREACH(p, &gen->conf->proxies, entry)
		if (front_unauth_key(p->name) == key) {
			found = p;
			break;
		}
	if (found != NULL && found->unauth_limit > 0 &&
	    (g = px_group_find(key, 0)) != NULL &&
	    px_group_total(g, &victim) > (unsigned)found->unauth_limit)
		px_evict_local(g, found, from);
	else
		log_debug("front %d asked for an eviction: not needed",
		    from);
	front_gen_unref(gen);
}

/* The proxy's tls line names the certificate's user (session.h). */
static const char *
px_cert_user(struct sess *ss)
{
	struct proxy_session	*s = (struct proxy_session *)ss;

	if (proxy_cert_username(s->p, io_tls_peer_cert(s->sess.io),
	    s->certname, sizeof(s->certname)) == -1)
		s->certname[0] = '\0';
	return s->certname[0] ? s->certname : NULL;
}

/* TLS is up and checked (session.h): the protocol's greeting. */
static int
px_tls_ready(struct sess *ss, enum sess_cert c, const struct certfields *cf)
{
	struct proxy_session	*s = (struct proxy_session *)ss;

	s->phase = PX_LOGIN;
	s->proto->greet(s);
	return 1;
}

/* The CRL or OCSP check refused the certificate: no reply, the close. */
static void
px_cert_refused(struct sess *ss, const char *why)
{
	proxy_close((struct proxy_session *)ss, why);
}

/* The client's input and the connection's end (session.h). */
static void
px_io(struct sess *ss, int evt)
{
	struct proxy_session	*s = (struct proxy_session *)ss;
	struct io		*io = s->sess.io;

	switch (evt) {
	case IO_DATAIN:
		px_read(s);
		return;
	case IO_LOWAT:
		/* The client drained: read the back end again. */
		if (s->phase == PX_RELAY && s->bio != NULL)
			io_resume(s->bio);
		return;
	case IO_TIMEOUT:
		if (s->phase == PX_LOGIN)
			s->proto->bye(s, "idle timeout, closing");
		proxy_close(s, "idle timeout");
		return;
	case IO_DISCONNECTED:
		proxy_close(s, s->phase == PX_RELAY ? "client closed" :
		    "client disconnected");
		return;
	case IO_ERROR:
	default:
		proxy_close(s, io_error(io) ? io_error(io) : "I/O error");
		return;
	}
}

static void
px_read(struct proxy_session *s)
{
	switch (s->phase) {
	case PX_LOGIN:
		s->proto->input(s);
		return;
	case PX_RELAY:
		proxy_relay_pump(s);
		return;
	default:
		/* Waiting: what the client sent stays buffered. */
		io_pause(s->sess.io);
		return;
	}
}

/* The protocol saw a user name: the seed's "authenticating" state. */
void
proxy_present_user(struct proxy_session *s)
{
	if (s->auth == PXA_UNAUTH)
		px_group_move(s, PXA_AUTHING);
}

static void	px_failed_reply(struct proxy_session *, enum px_fail,
		    const char *);
static void	px_failed_seen(void *);

static void
px_forget_login(struct proxy_session *s)
{
	explicit_bzero(s->vpnpass, sizeof(s->vpnpass));
	explicit_bzero(s->mailpass, sizeof(s->mailpass));
	s->vpnpasslen = s->mailpasslen = 0;
}

/* Back to the login dialogue (PX_LOGIN, unauthenticated). */
void
proxy_login_failed(struct proxy_session *s, enum px_fail why,
    const char *text)
{
	static const char *const results[] = {
		[PXF_AUTH] = "refused",
		[PXF_TEMP] = "tempfail",
		[PXF_LIMIT] = "limit",
		[PXF_REFUSED] = "unauthorized",
		[PXF_BLOCKED] = "blocked",
		[PXF_BACKEND] = "backend-refused",
		[PXF_DISALLOWED] = "disallowed",
		[PXF_ACCOUNT] = "account-refused",
		[PXF_EXPIRED] = "password-expired",
	};
	struct kvlog	 kv;
	int		 counted;

	/* One record for a failed login: no session was started. */
	if (s->vpnuser[0] != '\0') {
		strlcpy(s->result, "failed", sizeof(s->result));
		px_acct(s, "failed", text);
		s->result[0] = '\0';
	}
	s->acct_started = 0;
	proxy_kv(s, &kv, "login");
	kvlog_str(&kv, "user", s->vpnuser[0] ? s->vpnuser : NULL);
	kvlog_str(&kv, "method", s->method);
	kvlog_str(&kv, "mailuser", s->mailuser[0] ? s->mailuser : NULL);
	kvlog_str(&kv, "server", s->server ? proxy_server_name(s->server) :
	    NULL);
	kvlog_str(&kv, "cert", proxy_cert_state(s));
	kvlog_str(&kv, "cert-user", s->certname[0] ? s->certname : NULL);
	kvlog_str(&kv, "result", (unsigned)why < sizeof(results) /
	    sizeof(results[0]) && results[why] != NULL ? results[why] :
	    "refused");
	kvlog_str(&kv, "reason", text);
	kvlog_info(&kv);
	/* By the method that took the user, "other" if none did. */
	stats_auth(stats_auth_method(s->pending_method != NULL ?
	    s->pending_method : s->method), why == PXF_TEMP ?
	    SAR_TEMPFAIL : why == PXF_AUTH || why == PXF_BACKEND ||
	    why == PXF_ACCOUNT || why == PXF_EXPIRED ? SAR_BADCRED :
	    SAR_REFUSED);
	counted = why == PXF_AUTH || why == PXF_BACKEND ||
	    why == PXF_ACCOUNT || why == PXF_EXPIRED;
	if (counted)
		authfail_record(s->vpnuser[0] ? s->vpnuser : NULL, s->sess.addr,
		    s->sess.l->limits.auth_failure_window, time(NULL));
	px_forget_login(s);
	px_login_uncount(s);
	px_group_move(s, PXA_UNAUTH);
	s->method = NULL;
	s->pending_method = NULL;
	s->external = 0;
	s->cert_bound = 0;
	s->monitor = 0;
	s->use_master = 0;
	s->gp = NULL;
	s->server = NULL;
	s->backend[0] = '\0';
	s->phase = PX_LOGIN;
	/* A counted failure: the refusal once every front has it, so that
	 * a client who reconnects at once meets it on any front. */
	if (counted) {
		char	*copy = text != NULL ? strdup(text) : NULL;

		if ((text == NULL || copy != NULL) && (s->af_wait =
		    authfail_front_wait(px_failed_seen, s)) != NULL) {
			s->af_text = copy;
			s->af_why = why;
			io_pause(s->sess.io);
			return;
		}
		free(copy);
	}
	px_failed_reply(s, why, text);
}

/* Refuse the login in the protocol's words, and read on. */
static void
px_failed_reply(struct proxy_session *s, enum px_fail why, const char *text)
{
	if (s->proto->fail(s, why, text) == -1) {
		proxy_close(s, text);
		return;
	}
	if (proxy_error(s) == -1)
		return;
	io_resume(s->sess.io);
}

/* The wait of proxy_login_failed() is over. */
static void
px_failed_seen(void *arg)
{
	struct proxy_session	*s = arg;
	char			*text = s->af_text;

	s->af_wait = NULL;
	s->af_text = NULL;
	px_failed_reply(s, s->af_why, text);
	free(text);
}

/*
 * Checks start from the event loop, never inside the protocol's input
 * loop: a refusal may end the session, and the input loop must not find
 * it gone under its feet.
 */
static void
px_check_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct proxy_session	*s = arg;

	switch (s->pfail) {
	case PXC_METHODS:
		px_auth_next(s);
		return;
	case PXC_AUTHORIZE:
		px_authorize(s);
		return;
	case PXC_BINDING:
		px_binding(s);
		return;
	default:
		proxy_login_failed(s, s->pfail, s->pfail_text);
		return;
	}
}

static void
px_check_later(struct proxy_session *s, int what, const char *text)
{
	struct timeval	 tv = { 0, 0 };

	s->phase = PX_CHECK;
	io_pause(s->sess.io);
	s->pfail = what;
	s->pfail_text = text;
	if (s->ev_check == NULL && (s->ev_check = evtimer_new(front_base(),
	    px_check_cb, s)) == NULL)
		fatal("evtimer_new");
	evtimer_add(s->ev_check, &tv);
}

void
proxy_login(struct proxy_session *s, const char *user, size_t ulen,
    const char *pass, size_t plen)
{
	struct proxy_split	 sp;
	enum proxy_split_err	 e;

	s->vpnuser[0] = s->mailuser[0] = '\0';
	s->midx = 0;
	s->tempfail = 0;
	s->method = NULL;
	s->external = 0;
	proxy_present_user(s);
	/* CR, LF or NUL would end up in the back end's login command. */
	if (!proxy_name_ok(user, ulen) || plen == 0 || plen >= PX_PASS_MAX ||
	    memchr(pass, '\r', plen) != NULL ||
	    memchr(pass, '\n', plen) != NULL ||
	    memchr(pass, '\0', plen) != NULL) {
		px_check_later(s, PXF_AUTH, plen == 0 ? "empty password" :
		    "invalid user name or password");
		return;
	}
	e = proxy_split_login(s->p, user, ulen, pass, plen, &sp);
	if (e != PXS_OK) {
		explicit_bzero(&sp, sizeof(sp));
		px_check_later(s, e == PXS_SERVER ? PXF_REFUSED : PXF_AUTH,
		    e == PXS_SERVER ? "server not allowed" :
		    "malformed user name");
		return;
	}
	strlcpy(s->vpnuser, sp.vpnuser, sizeof(s->vpnuser));
	strlcpy(s->mailuser, sp.mailuser, sizeof(s->mailuser));
	memcpy(s->vpnpass, sp.vpnpass, sp.vpnpasslen);
	s->vpnpasslen = sp.vpnpasslen;
	memcpy(s->mailpass, sp.mailpass, sp.mailpasslen);
	s->mailpasslen = sp.mailpasslen;
	s->server = sp.server[0] ? proxy_find_server(s->p, sp.server) :
	    s->p->default_server;
	explicit_bzero(&sp, sizeof(sp));
	if (s->server == NULL) {
		px_check_later(s, PXF_REFUSED, "server not allowed");
		return;
	}
	if (!proxy_name_ok(s->mailuser, strlen(s->mailuser)) ||
	    s->mailpasslen == 0) {
		px_check_later(s, PXF_AUTH, "empty or invalid mail "
		    "credentials");
		return;
	}
	if (authfail_blocked(s->vpnuser, s->sess.addr,
	    s->sess.l->limits.max_auth_failures,
	    s->sess.l->limits.auth_failure_window, time(NULL))) {
		px_check_later(s, PXF_BLOCKED, "too many failed logins, try "
		    "again later");
		return;
	}
	px_check_later(s, px_binding_needed(s) ? PXC_BINDING : PXC_METHODS,
	    NULL);
}

/*
 * SASL EXTERNAL: the certificate's user, or the authorization identity
 * asked for (which the binding check then holds to the certificate).
 * Only the certificate method may accept it: there is no password.
 */
void
proxy_login_external(struct proxy_session *s, const char *authzid,
    size_t len)
{
	s->vpnuser[0] = s->mailuser[0] = '\0';
	s->midx = 0;
	s->tempfail = 0;
	s->method = NULL;
	proxy_present_user(s);
	if (!proxy_external_ok(s)) {
		px_check_later(s, PXF_AUTH, "EXTERNAL needs a client "
		    "certificate that names a user");
		return;
	}
	if (len == 0) {
		authzid = s->certname;
		len = strlen(s->certname);
	}
	if (!proxy_name_ok(authzid, len)) {
		px_check_later(s, PXF_AUTH, "invalid authorization identity");
		return;
	}
	memcpy(s->vpnuser, authzid, len);
	s->vpnuser[len] = '\0';
	strlcpy(s->mailuser, s->vpnuser, sizeof(s->mailuser));
	s->server = s->p->default_server;
	s->external = 1;
	px_forget_login(s);
	px_check_later(s, px_binding_needed(s) ? PXC_BINDING : PXC_METHODS,
	    NULL);
}

int
proxy_external_ok(const struct proxy_session *s)
{
	return s->certname[0] != '\0' && !s->sess.cert_refused &&
	    s->p->master_user != NULL &&
	    config_proxy_has_auth(s->p, PROXY_AUTH_CERTIFICATE);
}

const char *
proxy_cert_state(const struct proxy_session *s)
{
	if (s->sess.cert_refused)
		return "refused";
	if (s->sess.cert_subject == NULL)
		return "none";
	return s->certname[0] != '\0' ? "ok" : "no-name";
}

int
proxy_master(const struct proxy_session *s, const char **user,
    const char **pass, size_t *passlen)
{
	const struct conf_blob	*b;

	if (s->p->master_user == NULL || (b = conf_bundle_blob(s->sess.gen->b,
	    IMSG_CONF_MASTER, s->p->name)) == NULL || b->alen == 0)
		return -1;
	*user = s->p->master_user;
	*pass = (const char *)b->a;
	*passlen = b->alen;
	return 0;
}

/*
 * Does the login have to be held to the certificate?  Names equal
 * (case-insensitively: directories compare so) bind at once; an alias
 * needs the directory (px_binding()).
 */
static int
px_binding_needed(struct proxy_session *s)
{
	s->cert_bound = 0;
	if (s->certname[0] == '\0')
		return 0;
	if (strcasecmp(s->certname, s->vpnuser) == 0) {
		s->cert_bound = 1;
		return 0;
	}
	return s->p->cert_binds_login;
}

static void
px_binding_refuse(struct proxy_session *s, const char *why)
{
	struct kvlog	 kv;

	proxy_kv(s, &kv, "login-binding");
	kvlog_str(&kv, "cert-user", s->certname);
	kvlog_str(&kv, "user", s->vpnuser);
	kvlog_str(&kv, "result", "refused");
	kvlog_str(&kv, "reason", why);
	kvlog_warn(&kv);
	proxy_login_failed(s, PXF_REFUSED, "login name does not match the "
	    "client certificate");
}

static void
px_binding_cb(void *arg, const struct lookup_result *res)
{
	struct proxy_session	*s = arg;
	size_t			 i;

	s->lookup_id = 0;
	if (res->result == LDAP_RES_TEMPFAIL) {
		proxy_login_failed(s, PXF_TEMP, "directory temporarily "
		    "unavailable");
		return;
	}
	for (i = 0; res->result == LDAP_RES_OK ||
	    res->result == LDAP_RES_DISALLOWED ? i < res->nmails : 0; i++)
		if (strcasecmp(res->mails[i], s->vpnuser) == 0) {
			s->cert_bound = 1;
			px_auth_next(s);
			return;
		}
	px_binding_refuse(s, "not the certificate's user nor one of its "
	    "addresses");
}

/* The login names someone else than the certificate: an alias? */
static void
px_binding(struct proxy_session *s)
{
	const struct proxy_profile	*p = s->p;

	if (p->aaa_ldap == NULL || p->aaa_query == NULL) {
		px_binding_refuse(s, "not the certificate's user");
		return;
	}
	s->lookup_id = lookup_allowance(p->aaa_ldap->name,
	    p->aaa_query->name, s->certname, p->aaa_ldap->timeout,
	    px_binding_cb, s);
}

/*
 * The card rule refuses a password login: refused with the site's words,
 * or (monitor) let in by the method that asked, the session marked.
 */
static void
px_disallowed(struct proxy_session *s, const char *method)
{
	struct kvlog	 kv;

	proxy_kv(s, &kv, "auth");
	kvlog_str(&kv, "method", method);
	kvlog_str(&kv, "user", s->vpnuser);
	kvlog_str(&kv, "result", "disallowed");
	kvlog_str(&kv, "action", s->p->disallowed == DISALLOWED_MONITOR ?
	    "monitor" : "reject");
	kvlog_warn(&kv);
	if (s->p->disallowed == DISALLOWED_MONITOR) {
		s->monitor = 1;
		s->method = method;
		s->pending_method = NULL;
		px_authorize(s);
		return;
	}
	s->method = method;
	proxy_login_failed(s, PXF_DISALLOWED, s->p->disallowed_text != NULL ?
	    s->p->disallowed_text : PROXY_DISALLOWED_TEXT);
}

static void
px_allowance_cb(void *arg, const struct lookup_result *res)
{
	struct proxy_session	*s = arg;
	const char		*m = s->pending_method;
	struct kvlog		 kv;

	s->lookup_id = 0;
	proxy_kv(s, &kv, "allowance");
	kvlog_str(&kv, "method", m);
	kvlog_str(&kv, "user", s->vpnuser);
	kvlog_str(&kv, "result", ldap_result_name(res->result));
	kvlog_info(&kv);
	switch (res->result) {
	case LDAP_RES_OK:
	case LDAP_RES_NOTFOUND:		/* not in the directory: no card */
		s->method = m;
		s->pending_method = NULL;
		px_authorize(s);
		return;
	case LDAP_RES_DISALLOWED:
		px_disallowed(s, m);
		return;
	case LDAP_RES_TEMPFAIL:
		proxy_login_failed(s, PXF_TEMP, "authentication temporarily "
		    "unavailable");
		return;
	default:
		proxy_login_failed(s, PXF_AUTH, "refused by the directory");
		return;
	}
}

/* mailhost, piggyback: the card rule first, if the profile has one. */
static void
px_allowance(struct proxy_session *s, const char *method)
{
	const struct proxy_profile	*p = s->p;

	if (p->aaa_ldap == NULL || p->aaa_query == NULL ||
	    p->aaa_query->allowance == NULL) {
		s->method = method;
		px_authorize(s);
		return;
	}
	s->pending_method = method;
	s->lookup_id = lookup_allowance(p->aaa_ldap->name,
	    p->aaa_query->name, s->vpnuser, p->aaa_ldap->timeout,
	    px_allowance_cb, s);
}

int
proxy_login_cert(struct proxy_session *s)
{
	if (!config_proxy_has_auth(s->p, PROXY_AUTH_CERTIFICATE) ||
	    s->certname[0] == '\0')
		return -1;
	strlcpy(s->vpnuser, s->certname, sizeof(s->vpnuser));
	strlcpy(s->mailuser, s->certname, sizeof(s->mailuser));
	s->server = s->p->default_server;
	s->method = "certificate";
	proxy_present_user(s);
	px_check_later(s, PXC_AUTHORIZE, NULL);
	return 0;
}

static void
px_aaa_cb(void *arg, const struct lookup_result *res)
{
	struct proxy_session	*s = arg;
	struct kvlog		 kv;

	s->lookup_id = 0;
	proxy_kv(s, &kv, "auth");
	kvlog_str(&kv, "method", "aaa");
	kvlog_str(&kv, "user", s->vpnuser);
	kvlog_str(&kv, "result", ldap_result_name(res->result));
	if (pwpolicy_reason(res->result) != NULL)
		kvlog_str(&kv, "reason", pwpolicy_reason(res->result));
	if (res->detail != NULL && res->detail[0] != '\0')
		kvlog_str(&kv, "detail", res->detail);
	kvlog_info(&kv);
	if (res->result == LDAP_RES_OK) {
		s->method = "aaa";
		px_authorize(s);
		return;
	}
	/*
	 * The directory refuses the account itself (issue 15): no later
	 * method may let it in with a password the mail server checks,
	 * or a lockout would be one fallback away.
	 */
	if (pwpolicy_text(res->result) != NULL) {
		s->method = "aaa";
		proxy_login_failed(s, res->result == LDAP_RES_LOCKED ||
		    res->result == LDAP_RES_DISABLED ? PXF_ACCOUNT :
		    PXF_EXPIRED, pwpolicy_text(res->result));
		return;
	}
	/* The right password, but the card rule says no: no other method
	 * may let the user in with a password. */
	if (res->result == LDAP_RES_DISALLOWED) {
		px_disallowed(s, "aaa");
		return;
	}
	if (res->result == LDAP_RES_TEMPFAIL)
		s->tempfail = 1;
	px_auth_next(s);
}

static int
px_piggyback(struct proxy_session *s)
{
	struct proxy_session	*o;

	/* Several fronts: the earlier session may be on any of them. */
	if (front_logins_shared())
		return front_logins_get(px_key("p", s->vpnuser,
		    s->sess.addr)) > 0;
	TAILQ_FOREACH(o, &px_sessions, entry)
		if (o != s && o->phase == PX_RELAY &&
		    o->auth == PXA_AUTHED &&
		    strcmp(o->vpnuser, s->vpnuser) == 0 &&
		    strcmp(o->sess.addr, s->sess.addr) == 0)
			return 1;
	return 0;
}

/* The next configured method, in order, until one accepts. */
static void
px_auth_next(struct proxy_session *s)
{
	const struct proxy_profile	*p = s->p;
	enum proxy_auth_method		 m;

	while (s->midx < p->nauth) {
		m = p->auth[s->midx++];
		log_trace(TRACE_PROXY, "session=%012llx trying method %s "
		    "(%d of %d)", (unsigned long long)s->sess.id,
		    config_proxy_auth_name(m), s->midx, p->nauth);
		/* EXTERNAL has no password: the certificate or nothing. */
		if (s->external && m != PROXY_AUTH_CERTIFICATE)
			continue;
		switch (m) {
		case PROXY_AUTH_AAA:
			if (s->vpnpasslen == 0 || p->aaa_ldap == NULL ||
			    p->aaa_query == NULL)
				continue;
			s->lookup_id = lookup_auth(p->aaa_ldap->name,
			    p->aaa_query->name, s->vpnuser, s->vpnpass,
			    s->vpnpasslen, p->aaa_ldap->timeout, px_aaa_cb, s);
			return;
		case PROXY_AUTH_CERTIFICATE:
			if (s->certname[0] != '\0' && !s->sess.cert_refused &&
			    s->cert_bound) {
				s->method = "certificate";
				px_authorize(s);
				return;
			}
			continue;
		case PROXY_AUTH_MAILHOST:
			/* The back end's login decides, after the card
			 * rule. */
			if (s->mailpasslen == 0)
				continue;
			px_allowance(s, "mailhost");
			return;
		case PROXY_AUTH_PIGGYBACK:
			if (px_piggyback(s)) {
				px_allowance(s, "piggyback");
				return;
			}
			continue;
		default:
			continue;
		}
	}
	if (s->tempfail)
		proxy_login_failed(s, PXF_TEMP, "authentication temporarily "
		    "unavailable");
	else
		proxy_login_failed(s, PXF_AUTH, "no method accepted the user");
}

static void
px_authz_cb(void *arg, const struct lookup_result *res)
{
	struct proxy_session	*s = arg;
	const char		*name = NULL;
	struct kvlog		 kv;

	s->lookup_id = 0;
	proxy_kv(s, &kv, "authorization");
	kvlog_str(&kv, "user", s->vpnuser);
	kvlog_str(&kv, "result", ldap_result_name(res->result));
	kvlog_str(&kv, "group-policy", res->user && res->user[0] ?
	    res->user : NULL);
	kvlog_info(&kv);
	switch (res->result) {
	case LDAP_RES_OK:
		if (res->user != NULL && res->user[0] != '\0')
			name = res->user;
		break;
	case LDAP_RES_NOTFOUND:
		break;
	case LDAP_RES_TEMPFAIL:
		proxy_login_failed(s, PXF_TEMP, "authorization temporarily "
		    "unavailable");
		return;
	default:
		proxy_login_failed(s, PXF_REFUSED, "not authorized");
		return;
	}
	if (name != NULL) {
		if ((s->gp = config_find_group_policy(s->sess.gen->conf,
		    name)) == NULL) {
			proxy_kv(s, &kv, "authorization");
			kvlog_str(&kv, "user", s->vpnuser);
			kvlog_str(&kv, "group-policy", name);
			kvlog_str(&kv, "result", "unauthorized");
			kvlog_str(&kv, "reason", "group policy not configured");
			kvlog_warn(&kv);
			proxy_login_failed(s, PXF_REFUSED, "unknown group "
			    "policy");
			return;
		}
	} else
		s->gp = s->p->default_gp;
	px_accept_user(s);
}

static void
px_authorize(struct proxy_session *s)
{
	const struct proxy_profile	*p = s->p;

	if (p->authz_ldap != NULL && p->authz_query != NULL) {
		s->lookup_id = lookup_authz(p->authz_ldap->name,
		    p->authz_query->name, s->vpnuser, p->authz_ldap->timeout,
		    px_authz_cb, s);
		return;
	}
	s->gp = p->default_gp;
	px_accept_user(s);
}

/* Authenticated and authorized: the group policy's limit, then log in
 * to the back end. */
static void
px_accept_user(struct proxy_session *s)
{
	struct proxy_session	*o;
	struct kvlog		 kv;
	char			 why[128];
	int64_t			 total;
	int			 n = 0;

	if (s->gp == NULL) {
		proxy_login_failed(s, PXF_REFUSED, "no group policy");
		return;
	}
	if (front_logins_shared()) {
		/* Several fronts: the user's logins on all of them, ours
		 * counted first (fronts.h). */
		s->login_key = px_key("u", s->vpnuser, NULL);
		if ((total = front_logins_add(s->login_key, 1)) == -1) {
			proxy_login_failed(s, PXF_TEMP, "too many users "
			    "logged in on this front");
			return;
		}
		s->login_counted = 1;
		n = (int)(total - 1);
	} else
		TAILQ_FOREACH(o, &px_sessions, entry)
			if (o != s && o->auth == PXA_AUTHED &&
			    strcmp(o->vpnuser, s->vpnuser) == 0)
				n++;
	if (n >= s->gp->max_logins) {
		/* The client sees this text: the count stays ours. */
		snprintf(why, sizeof(why), "too many simultaneous logins "
		    "(limit %d)", s->gp->max_logins);
		proxy_kv(s, &kv, "login-limit");
		kvlog_str(&kv, "user", s->vpnuser);
		kvlog_str(&kv, "group-policy", s->gp->name);
		kvlog_u64(&kv, "sessions", (uint64_t)n);
		kvlog_u64(&kv, "limit", (uint64_t)s->gp->max_logins);
		kvlog_warn(&kv);
		proxy_login_failed(s, PXF_LIMIT, why);
		return;
	}
	px_group_move(s, PXA_AUTHED);
	s->authed_at = time(NULL);
	s->phase = PX_BACKEND;
	snprintf(s->backend, sizeof(s->backend), "%s:%u",
	    proxy_server_name(s->server),
	    config_proxy_server_port(s->server, s->sess.l->proto));
	/* The master account logs in only for the certificate's own user
	 * and mailbox, never for a mailbox named after a delimiter. */
	s->use_master = s->method != NULL &&
	    strcmp(s->method, "certificate") == 0 && s->cert_bound &&
	    s->p->master_user != NULL &&
	    strcasecmp(s->mailuser, s->vpnuser) == 0;
	if (s->external && !s->use_master) {
		proxy_login_failed(s, PXF_TEMP, "no master account to reach "
		    "the mailbox");
		return;
	}
	s->result[0] = '\0';
	s->be_addr = 0;
	proxy_backend_connect(s);
}

/* --- accounting --------------------------------------------------------- */

/*
 * The back end accepted the login: only now is the user in.  The login
 * line says so, and the accounting record starts.
 */
void
proxy_session_started(struct proxy_session *s)
{
	struct kvlog	 kv;

	/* Relaying: a piggyback login on any front may lean on it. */
	if (front_logins_shared() && !s->relay_counted) {
		s->relay_key = px_key("p", s->vpnuser, s->sess.addr);
		s->relay_counted = front_logins_add(s->relay_key, 1) != -1;
	}

	proxy_kv(s, &kv, "login");
	kvlog_str(&kv, "user", s->vpnuser);
	kvlog_str(&kv, "method", s->method);
	kvlog_str(&kv, "group-policy", s->gp->name);
	kvlog_str(&kv, "mailuser", s->mailuser);
	kvlog_str(&kv, "backend", s->backend);
	kvlog_str(&kv, "backend-login", s->use_master ? "master" : "user");
	kvlog_str(&kv, "cert", proxy_cert_state(s));
	kvlog_str(&kv, "cert-user", s->certname[0] ? s->certname : NULL);
	if (s->monitor)
		kvlog_str(&kv, "monitor", "yes");
	kvlog_str(&kv, "result", "ok");
	if (s->monitor)
		kvlog_warn(&kv);
	else
		kvlog_info(&kv);
	s->acct_started = 1;
	px_acct(s, "start", NULL);
}

static void
px_acct(struct proxy_session *s, const char *event, const char *reason)
{
	struct childproc	*cp = front_childproc();
	struct msgbuild		 m;
	struct kvlog		 kv;
	int			 stop = strcmp(event, "stop") == 0;
	int64_t			 dur = stop ? (int64_t)(time(NULL) -
				    s->authed_at) : 0;
	const char		*result;

	result = s->result[0] ? s->result : stop ? "ok" : "authenticated";
	if (strcmp(event, "failed") == 0)
		dur = 0;
	proxy_kv(s, &kv, "accounting");
	kvlog_str(&kv, "acct", event);
	kvlog_str(&kv, "user", s->vpnuser);
	kvlog_str(&kv, "backend", s->backend);
	kvlog_u64(&kv, "bytes-in", s->bytes_in);
	kvlog_u64(&kv, "bytes-out", s->bytes_out);
	kvlog_i64(&kv, "duration", dur);
	kvlog_str(&kv, "result", result);
	kvlog_str(&kv, "reason", reason);
	kvlog_info(&kv);
	if (s->p->accounting_file == NULL || cp == NULL)
		return;
	msg_init(&m);
	msg_put_str(&m, s->p->name);
	msg_put_str(&m, event);
	msg_put_u64(&m, s->sess.id);
	msg_put_str(&m, s->proto->name);
	msg_put_str(&m, s->vpnuser);
	msg_put_str(&m, s->sess.addr);
	msg_put_str(&m, s->backend);
	msg_put_u64(&m, s->bytes_in);
	msg_put_u64(&m, s->bytes_out);
	msg_put_i64(&m, (int64_t)s->authed_at);
	msg_put_i64(&m, dur);
	msg_put_str(&m, result);
	msg_put_str(&m, reason != NULL ? reason : "");
	if (imsgev_send(&cp->parent, &m, IMSG_ACCT_RECORD, 0, 0, -1) == -1) {
		proxy_kv(s, &kv, "error");
		kvlog_str(&kv, "reason", "accounting record lost");
		kvlog_warn(&kv);
	}
	msg_free(&m);
}

/* --- smtpcertctl show sessions, session kill ---------------------------- */

static const char *
px_state_name(const struct proxy_session *s)
{
	switch (s->phase) {
	case PX_TLS:
		return "tls";
	case PX_RELAY:
		return "relaying";
	case PX_BACKEND:
		return "backend-login";
	default:
		return auth_state_name(s->auth);
	}
}

unsigned
proxy_show_sessions(struct childproc *cp, uint64_t reqid, unsigned max)
{
	struct proxy_session	*s;
	struct msgbuild		 m;
	unsigned		 n = 0;

	msg_init(&m);
	TAILQ_FOREACH(s, &px_sessions, entry) {
		if (n >= max)
			break;
		n++;
		msg_reset(&m);
		msg_put_u64(&m, s->sess.id);
		msg_put_str(&m, s->proto->name);
		msg_put_str(&m, px_state_name(s));
		msg_put_str(&m, s->vpnuser);
		msg_put_str(&m, s->sess.addr);
		msg_put_str(&m, s->backend);
		msg_put_i64(&m, (int64_t)s->sess.started);
		msg_put_u64(&m, s->bytes_in);
		msg_put_u64(&m, s->bytes_out);
		imsgev_send(&cp->parent, &m, IMSG_CTL_SESSION, 0, reqid, -1);
	}
	msg_free(&m);
	return n;
}

int
proxy_session_kill(uint64_t id)
{
	struct proxy_session	*s;

	TAILQ_FOREACH(s, &px_sessions, entry)
		if (s->sess.id == id)
			break;
	if (s == NULL)
		return -1;
	stats_inc(STAT_CONN_KILLED);
	/* A last line only while the client talks to us: in the relay it
	 * would land in the middle of the back end's stream, and during
	 * the handshake there is no channel for it yet. */
	if (s->phase != PX_TLS && s->phase != PX_RELAY)
		s->proto->bye(s, "closed by the administrator");
	proxy_close(s, SESSION_KILLED);
	return 0;
}
