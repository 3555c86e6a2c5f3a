/*
 * One SMTP submission session in the front (RFC 5321, 3207, 4954): the
 * mail-flow policy of SPEC 3.2, certificate authentication through
 * ldapd-helper, SMTP AUTH, and the transaction relayed live to the
 * upstream mail server.
 *
 * The session's life up to its protocol (accept, TLS and its checks,
 * the log lines' shared fields) is the front's skeleton, session.c;
 * this file is what SMTP adds.
 *
 * Commands are handled one at a time.  While an answer from ldapd-helper
 * or the upstream is awaited, reading from the client is paused; what the
 * client pipelined stays in the bounded input buffer and is handled in
 * order afterwards, so PIPELINING needs no special case.
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
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "authfail.h"
#include "certfields.h"
#include "childproc.h"
#include "compat.h"
#include "config.h"
#include "certverify.h"
#include "data_filter.h"
#include "front.h"
#include "fronts.h"
#include "imsg.h"
#include "io.h"
#include "kvlog.h"
#include "log.h"
#include "lookup.h"
#include "proto.h"
#include "pwpolicy.h"
#include "session.h"
#include "smtp_parse.h"
#include "stats.h"
#include "upstream.h"

#define SESSION_NAME_MAX	256
/* Recipients named in a message line; the rest are counted. */
#define SESSION_RCPT_LOG_N	10
#define SESSION_RCPT_LOG	1024
#define SESSION_HIST_MAX	8192	/* monitor history, bytes */
#define AUTH_LINE_MAX		12288	/* base64 of PLAIN with long names */

enum sess_state {
	S_TLS_HANDSHAKE,	/* implicit TLS or after STARTTLS */
	S_CERT_LOOKUP,		/* waiting for ldapd-helper */
	S_CMD,			/* reading commands */
	S_AUTH_PLAIN,		/* 334 sent, waiting for the response */
	S_AUTH_LOGIN_USER,
	S_AUTH_LOGIN_PASS,
	S_AUTH_LOOKUP,		/* waiting for ldapd-helper */
	S_UPSTREAM,		/* waiting for the upstream */
	S_DATA,			/* message text flows to the upstream */
	S_DOT			/* waiting for the upstream's final reply */
};

enum cert_state {
	CERT_NONE,		/* no certificate presented */
	CERT_PENDING,
	CERT_OK,		/* maps to exactly one user */
	CERT_NOTMAPPED,		/* valid, but no entry */
	CERT_BADFIELD,		/* a field the query uses has a control
				 * character: LDAP was not asked */
	CERT_AMBIGUOUS,
	CERT_MISMATCH,		/* entry's stored certificate differs */
	CERT_TEMPFAIL,
	CERT_UNUSED,		/* presented, but the profile is not
				 * certificate-based */
	CERT_REFUSED		/* revoked, or no answer under fail-closed
				 * (CRL, OCSP): the session ends */
};

enum up_wait {
	W_NONE,
	W_CONNECT,		/* then MAIL */
	W_MAIL,
	W_RCPT,
	W_DATA,
	W_DOT,
	W_RSET
};

struct session {
	struct sess		 sess;		/* first (session.h) */
	TAILQ_ENTRY(session)	 entry;		/* show sessions, kill */
	const struct policy	*pol;
	enum sess_state		 state;
	char			 helo[SESSION_NAME_MAX];
	int			 greeted;	/* EHLO/HELO seen */
	int			 esmtp;
	int			 tls;
	int			 errors;

	/* identity */
	enum cert_state		 cert;
	uint64_t		 lookup_id;
	/* A 535 held until every front has the failure (front.h). */
	struct authfail_wait	*af_wait;
	const char		*af_text;
	int			 authenticated;
	int			 monitor;	/* allowance failed: log all */
	/* Until then, on a listener whose profile may monitor, the
	 * session's commands and replies so far ("c" or "r", the text,
	 * a NUL each), so that monitor mode logs it from the connection
	 * on; bounded, what does not fit is counted. */
	char			*hist;
	size_t			 histlen;
	unsigned		 hist_dropped;
	int			 external_done;	/* AUTH EXTERNAL succeeded */
	char			 user[SESSION_NAME_MAX];
	char			 method[32];	/* "certificate", "PLAIN" ... */
	char			 auth_user[SESSION_NAME_MAX]; /* LOGIN */
	size_t			 auth_userlen;	/* may hold a NUL */
	int			 greeting_sent;
	/* The profile that authenticated the user, and the user's
	 * addresses from LDAP, for "sender must match". */
	const struct auth_profile *auth_ap;
	char			**mails;	/* as many as LDAP gave */
	size_t			 nmails;

	/* transaction */
	int			 in_tx;
	char			 mailfrom[SMTP_PATH_MAX];
	char			 mailparams[SMTP_LINE_MAX];
	size_t			 nrcpt;		/* accepted by upstream */
	size_t			 rcpt_tried;
	char			 rcpt_pending[SMTP_PATH_MAX];
	/* The first accepted recipients for the message line ("to="),
	 * comma separated; the others are only counted ("to-more="). */
	char			 rcpt_log[SESSION_RCPT_LOG];
	size_t			 rcpt_logged;
	struct upstream		*up;
	enum up_wait		 wait;
	int			 up_failed;	/* during DATA */
	struct data_filter	 df;
	struct dbuf		 dout;
	unsigned		 msgs;
	uint64_t		 msgsize;
	uint64_t		 relayed;	/* bytes of messages the
						 * upstream took */
};

static TAILQ_HEAD(, session) sessions = TAILQ_HEAD_INITIALIZER(sessions);
static uint64_t		 session_next_id;
static unsigned		 session_count;

static void	session_io(struct sess *, int);
static int	session_tls_ready(struct sess *, enum sess_cert,
		    const struct certfields *);
static void	session_cert_refused(struct sess *, const char *);
static void	session_read(struct session *);
static int	session_command(struct session *, char *, size_t);
static void	session_reply(struct session *, int, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static void	session_close(struct session *, const char *);
static void	session_upstream_cb(void *, int, const struct smtp_reply *,
		    const char *);
static void	session_data_in(struct session *);
static void	session_tx_reset(struct session *);
static void	session_forget_mails(struct session *);
static const char *session_state_name(const struct session *);
static void	session_kv(struct session *, struct kvlog *, const char *);
static int	session_auth_needs_tls(const struct session *);
static void	session_log_reply(struct session *, const char *,
		    const char *);
static void	session_hist_add(struct session *, char, const char *,
		    size_t);
static void	session_hist_flush(struct session *);
static void	session_hist_stop(struct session *);
static int	session_may_monitor(const struct session *);

static const struct sess_ops session_ops = {
	.io = session_io,
	.refused = session_cert_refused,
	.ready = session_tls_ready,
	.what = "session",
};

void
smtp_session_init(void)
{
	arc4random_buf(&session_next_id, sizeof(session_next_id));
	session_next_id &= 0xffffffffffffULL;
}

static const char *
cert_state_name(enum cert_state c)
{
	switch (c) {
	case CERT_NONE:		return "none";
	case CERT_PENDING:	return "pending";
	case CERT_OK:		return "ok";
	case CERT_NOTMAPPED:	return "not-in-ldap";
	case CERT_BADFIELD:	return "bad-field";
	case CERT_AMBIGUOUS:	return "ambiguous";
	case CERT_MISMATCH:	return "mismatch";
	case CERT_TEMPFAIL:	return "tempfail";
	case CERT_UNUSED:	return "unused";
	case CERT_REFUSED:	return "refused";
	}
	return "?";
}

/*
 * Reply to the client.  Text may span lines ('\n'); enh may be NULL.
 * A reply that cannot be formatted is a bug: fall back to a plain 451.
 */
static void
session_reply(struct session *s, int code, const char *enh,
    const char *fmt, ...)
{
	char	 text[SMTP_REPLY_TEXT_MAX], wire[SMTP_REPLY_TEXT_MAX + 512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (smtp_reply_format(wire, sizeof(wire), code, enh, text) == -1) {
		struct kvlog	 kv;

		/* The text may hold the client's EHLO name: kvlog quotes. */
		session_kv(s, &kv, "error");
		kvlog_fmt(&kv, "reason", "cannot format reply %d %s", code,
		    text);
		kvlog_warn(&kv);
		strlcpy(wire, "451 4.3.0 Internal error\r\n", sizeof(wire));
	}
	if (s->monitor || s->hist != NULL || log_tracing(TRACE_SMTP))
		session_log_reply(s, "reply", wire);
	io_write(s->sess.io, wire, strlen(wire));
	if (code >= 500 && code != 554 && code != 552 && code != 550 &&
	    code != 553)
		s->errors++;
}

/* Pass an upstream reply through as it came. */
static void
session_relay_reply(struct session *s, const struct smtp_reply *r)
{
	char	 wire[SMTP_REPLY_TEXT_MAX + 512];

	if (smtp_reply_format(wire, sizeof(wire), r->code,
	    r->enh[0] ? r->enh : NULL, r->text) == -1) {
		/* Odd text from upstream: keep the code, drop the text. */
		snprintf(wire, sizeof(wire), "%d %s\r\n", r->code,
		    r->code < 400 ? "OK" : "Refused by the mail server");
	}
	if (s->monitor || s->hist != NULL || log_tracing(TRACE_SMTP))
		session_log_reply(s, "upstream-reply", wire);
	io_write(s->sess.io, wire, strlen(wire));
}

/* The fields every event line of a session starts with (session.h). */
static void
session_kv(struct session *s, struct kvlog *kv, const char *event)
{
	sess_kv(&s->sess, kv, event);
}

/*
 * The monitor history (struct session, hist).  Lines already cleaned
 * for the log (AUTH without its response) go in; a line that does not
 * fit any more is only counted.  NUL bytes in a line end it early here,
 * which only shortens what is logged.
 */
static void
session_hist_add(struct session *s, char kind, const char *text,
    size_t len)
{
	const char	*nul;

	if (s->hist == NULL)
		return;
	if ((nul = memchr(text, '\0', len)) != NULL)
		len = nul - text;
	if (s->histlen + len + 2 > SESSION_HIST_MAX) {
		s->hist_dropped++;
		return;
	}
	s->hist[s->histlen++] = kind;
	memcpy(s->hist + s->histlen, text, len);
	s->histlen += len;
	s->hist[s->histlen++] = '\0';
}

/* Monitor mode begins: the session so far, one line each, marked as
 * logged late (replay=yes), then it is logged as it goes. */
static void
session_hist_flush(struct session *s)
{
	struct kvlog	 kv;
	size_t		 off = 0, n;
	const char	*what;

	while (s->hist != NULL && off < s->histlen) {
		n = strlen(s->hist + off + 1);
		what = s->hist[off] == 'c' ? "command" : s->hist[off] == 'u' ?
		    "upstream-reply" : "reply";
		session_kv(s, &kv, "monitor");
		kvlog_mem(&kv, what, s->hist + off + 1, n);
		kvlog_str(&kv, "replay", "yes");
		kvlog_info(&kv);
		off += n + 2;
	}
	if (s->hist_dropped) {
		session_kv(s, &kv, "monitor");
		kvlog_u64(&kv, "replay-dropped", s->hist_dropped);
		kvlog_info(&kv);
	}
	session_hist_stop(s);
}

static void
session_hist_stop(struct session *s)
{
	free(s->hist);
	s->hist = NULL;
	s->histlen = 0;
	s->hist_dropped = 0;
}

/*
 * A reply as it goes on the wire, in monitor mode (an info line) or when
 * tracing smtp.  Monitor lines are what the allowance's "monitor" option
 * promises the site: every command and reply of that session.
 */
static void
session_log_reply(struct session *s, const char *what, const char *wire)
{
	struct kvlog	 kv;
	size_t		 len = strlen(wire);

	/* The CRLF would be escaped: drop it; inner line ends stay. */
	if (len >= 2 && wire[len - 2] == '\r')
		len -= 2;
	if (s->monitor) {
		session_kv(s, &kv, "monitor");
		kvlog_mem(&kv, what, wire, len);
		kvlog_info(&kv);
	} else {
		char	 q[KVLOG_VALUE_MAX + 8];

		session_hist_add(s, what[0] == 'u' ? 'u' : 'r', wire, len);
		log_trace(TRACE_SMTP, "session=%012llx %s=%s",
		    (unsigned long long)s->sess.id, what,
		    kvlog_quote(q, sizeof(q), wire, len));
	}
}

/*
 * The client's command line, likewise.  An AUTH line shows the
 * mechanism only, and only one we know: its initial response holds the
 * password, and a client that put the response first would otherwise
 * have it logged as the mechanism.
 */
static void
session_log_command(struct session *s, const struct smtp_cmd *cmd,
    const char *line, size_t len)
{
	static const char *const mechs[] = { "PLAIN", "LOGIN", "EXTERNAL" };
	struct kvlog	 kv;
	char		 q[KVLOG_VALUE_MAX + 8], buf[64];
	const char	*sp, *mech = "(other mechanism)";
	size_t		 i, mlen;

	if (cmd->verb == SMTP_CMD_AUTH) {
		sp = memchr(cmd->arg, ' ', cmd->arglen);
		mlen = sp != NULL ? (size_t)(sp - cmd->arg) : cmd->arglen;
		for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
			if (mlen == strlen(mechs[i]) &&
			    strncasecmp(cmd->arg, mechs[i], mlen) == 0)
				mech = mechs[i];
		snprintf(buf, sizeof(buf), "AUTH %s%s", mech, sp != NULL ?
		    " (response not logged)" : "");
		line = buf;
		len = strlen(buf);
	}
	if (s->monitor) {
		session_kv(s, &kv, "monitor");
		kvlog_mem(&kv, "command", line, len);
		kvlog_info(&kv);
	} else {
		session_hist_add(s, 'c', line, len);
		log_trace(TRACE_SMTP, "session=%012llx command=%s",
		    (unsigned long long)s->sess.id,
		    kvlog_quote(q, sizeof(q), line, len));
	}
}

static void
session_log_end(struct session *s, const char *why)
{
	struct kvlog	 kv;

	session_kv(s, &kv, "end");
	kvlog_u64(&kv, "listener", s->sess.l->index);
	kvlog_str(&kv, "helo", s->helo[0] ? s->helo : NULL);
	sess_kv_tlscert(&s->sess, &kv, cert_state_name(s->cert));
	kvlog_str(&kv, "cert-policy", s->sess.io != NULL ?
	    certverify_policies(io_ssl(s->sess.io)) : NULL);
	kvlog_str(&kv, "user", s->authenticated ? s->user : NULL);
	kvlog_str(&kv, "method", s->authenticated ? s->method : NULL);
	kvlog_u64(&kv, "messages", s->msgs);
	sess_kv_end(&s->sess, &kv, why);
}

/* The client's io flushed and closed (flush 1) or dropped. */
static void
session_free(struct session *s, int flush)
{
	if (s->lookup_id)
		lookup_cancel(s->lookup_id);
	authfail_front_cancel(s->af_wait);
	if (s->up != NULL)
		upstream_abort(s->up);
	sess_close(&s->sess, flush);
	data_filter_free(&s->df);
	dbuf_free(&s->dout);
	free(s->hist);
	session_forget_mails(s);
	TAILQ_REMOVE(&sessions, s, entry);
	session_count--;
	explicit_bzero(s, sizeof(*s));
	free(s);
}

/* Flush what is queued, then close; the session is gone afterwards. */
static void
session_close(struct session *s, const char *why)
{
	session_log_end(s, why);
	if (s->up != NULL) {
		upstream_quit(s->up);
		s->up = NULL;
	}
	session_free(s, 1);
}

static void
session_abort(struct session *s, const char *why)
{
	session_log_end(s, why);
	session_free(s, 0);
}

static void
session_greet(struct session *s)
{
	s->state = S_CMD;
	s->greeting_sent = 1;
	session_reply(s, 220, NULL, "%s ESMTP smtpcertd",
	    s->sess.gen->conf->hostname);
}

/*
 * From accept.c: the socket, the generation reference it took (l is its
 * listener) and the client, which on a proxy-protocol listener is what
 * the load balancer's PROXY header said.
 */
void
smtp_session_accept(int fd, struct front_gen *g, const struct listener *l,
    const struct front_peer *peer)
{
	struct session		*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session");
		front_gen_unref(g);
		close(fd);
		return;
	}
	stats_inc(l->proto == LISTEN_SMTPS ? STAT_CONN_SMTPS :
	    STAT_CONN_SMTP);
	if (sess_open(&s->sess, &session_ops, session_next_id++, fd, g, l,
	    peer, "smtp", NULL) == -1) {
		log_warnx("session: out of memory");
		front_gen_unref(g);
		free(s);
		return;
	}
	s->pol = l->policy;
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	session_count++;
	/* Only where monitor mode can begin; without memory, monitor
	 * lines start at the AUTH that begins it, as before. */
	if (session_may_monitor(s))
		s->hist = malloc(SESSION_HIST_MAX);
	if (data_filter_init(&s->df, l->limits.max_line_length + 2,
	    (uint64_t)l->limits.max_message_size) == -1) {
		log_warnx("session: out of memory");
		session_free(s, 0);
		return;
	}
	dbuf_init(&s->dout);
	io_set_limits(s->sess.io, IO_INBUF_MAX, AUTH_LINE_MAX);
	if (sess_connect(&s->sess, FC_SMTP) == -1) {
		session_reply(s, 421, "4.7.0", "%s Too many sessions, try "
		    "again later", s->sess.gen->conf->hostname);
		session_close(s, "too many sessions");
		return;
	}
	if (l->tls == LISTEN_TLS_IMPLICIT) {
		s->state = S_TLS_HANDSHAKE;
		if (sess_start_tls(&s->sess, "implicit TLS") < 0)
			session_abort(s, "cannot start TLS");
		return;
	}
	session_greet(s);
}

static void
session_forget_mails(struct session *s)
{
	size_t	 i;

	for (i = 0; i < s->nmails; i++)
		free(s->mails[i]);
	free(s->mails);
	s->mails = NULL;
	s->nmails = 0;
	s->auth_ap = NULL;
}

/* Remember who vouched for the user and the addresses LDAP gave. */
static void
session_keep_identity(struct session *s, const struct auth_profile *ap,
    const struct lookup_result *res)
{
	size_t	 i, n;

	session_forget_mails(s);
	s->auth_ap = ap;
	/* Sized to the answer: an idle session should carry no more. */
	n = res->nmails < LDAP_MAX_MAILS ? res->nmails : LDAP_MAX_MAILS;
	if (n == 0 || (s->mails = calloc(n, sizeof(*s->mails))) == NULL)
		return;
	for (i = 0; i < n; i++)
		if (res->mails[i] != NULL &&
		    (s->mails[s->nmails] = strdup(res->mails[i])) != NULL)
			s->nmails++;
}

static int
session_sender_owned(struct session *s, const char *addr)
{
	size_t	 i;

	for (i = 0; i < s->nmails; i++)
		if (strcasecmp(s->mails[i], addr) == 0)
			return 1;
	return 0;
}

static void
session_cert_cb(void *arg, const struct lookup_result *res)
{
	struct session	*s = arg;
	struct kvlog	 kv;

	s->lookup_id = 0;
	switch (res->result) {
	case LDAP_RES_OK:
		s->cert = CERT_OK;
		s->authenticated = 1;
		strlcpy(s->user, res->user ? res->user : "", sizeof(s->user));
		session_keep_identity(s, s->sess.l->auth_profile, res);
		strlcpy(s->method, "certificate", sizeof(s->method));
		session_hist_stop(s);	/* no AUTH, no monitor mode */
		break;
	case LDAP_RES_NOTFOUND:
	case LDAP_RES_BADREQ:
		s->cert = CERT_NOTMAPPED;
		break;
	case LDAP_RES_BADFIELD:
		s->cert = CERT_BADFIELD;
		break;
	case LDAP_RES_AMBIGUOUS:
		s->cert = CERT_AMBIGUOUS;
		break;
	case LDAP_RES_MISMATCH:
		s->cert = CERT_MISMATCH;
		break;
	default:
		s->cert = CERT_TEMPFAIL;
		break;
	}
	stats_auth(SAM_CERTIFICATE, s->cert == CERT_OK ? SAR_OK :
	    s->cert == CERT_TEMPFAIL ? SAR_TEMPFAIL : SAR_BADCRED);
	session_kv(s, &kv, "cert");
	kvlog_str(&kv, "cert-subject", s->sess.cert_subject);
	kvlog_str(&kv, "cert-serial", s->sess.cert_serial);
	kvlog_str(&kv, "cert-issuer", s->sess.cert_issuer);
	kvlog_str(&kv, "cert", cert_state_name(s->cert));
	kvlog_str(&kv, "user", s->authenticated ? s->user : NULL);
	kvlog_str(&kv, "result", ldap_result_name(res->result));
	if (res->detail != NULL && res->detail[0] != '\0')
		kvlog_str(&kv, "detail", res->detail);
	/* One certificate, two people: the directory needs fixing. */
	if (s->cert == CERT_AMBIGUOUS) {
		kvlog_str(&kv, "reason", "certificate maps to more than "
		    "one LDAP entry: refused");
		kvlog_warn(&kv);
	} else if (s->cert == CERT_BADFIELD) {
		/* The detail names the field: "control character in {cn}". */
		kvlog_str(&kv, "reason", "a certificate field the query "
		    "uses has a control character: refused before LDAP");
		kvlog_warn(&kv);
	} else
		kvlog_info(&kv);
	if (s->state == S_CERT_LOOKUP) {
		if (!s->greeting_sent)
			session_greet(s);
		else
			s->state = S_CMD;
		io_resume(s->sess.io);
	}
}

/*
 * After every handshake and the skeleton's checks (session.h): who does
 * the certificate say this is?  1 when the commands may be read.
 */
static int
session_tls_ready(struct sess *ss, enum sess_cert c,
    const struct certfields *cf)
{
	struct session			*s = (struct session *)ss;
	const struct auth_profile	*ap = s->sess.l->auth_profile;
	struct kvlog			 kv;

	s->tls = 1;
	switch (c) {
	case SESS_CERT_NONE:
		s->cert = CERT_NONE;
		goto done;
	case SESS_CERT_UNREADABLE:
		/* The handshake verified it; we cannot read it: fail
		 * closed. */
		session_kv(s, &kv, "error");
		kvlog_str(&kv, "reason", "cannot parse the client "
		    "certificate");
		kvlog_warn(&kv);
		s->cert = CERT_TEMPFAIL;
		stats_auth(SAM_CERTIFICATE, SAR_TEMPFAIL);
		goto done;
	case SESS_CERT_READ:
		break;
	}
	if (ap == NULL || ap->kind != AUTH_PROFILE_CERTIFICATE) {
		s->cert = CERT_UNUSED;
		goto done;
	}
	s->cert = CERT_PENDING;
	s->state = S_CERT_LOOKUP;
	io_pause(s->sess.io);
	s->lookup_id = lookup_cert(ap->ldap->name, ap->query->name, cf->der,
	    cf->derlen, ap->ldap->timeout, session_cert_cb, s);
	return 0;
done:
	if (!s->greeting_sent)
		session_greet(s);
	else
		s->state = S_CMD;
	return s->state == S_CMD;
}

/* The CRL or OCSP check refused the certificate after the handshake. */
static void
session_cert_refused(struct sess *ss, const char *why)
{
	struct session	*s = (struct session *)ss;

	s->cert = CERT_REFUSED;
	session_reply(s, 554, "5.7.1", "Client certificate refused: %s", why);
	session_close(s, why);
}

/* The client's input and the connection's end (session.h). */
static void
session_io(struct sess *ss, int evt)
{
	struct session	*s = (struct session *)ss;
	struct io	*io = s->sess.io;

	switch (evt) {
	case IO_DATAIN:
		session_read(s);
		return;
	case IO_LOWAT:
		return;
	case IO_TIMEOUT:
		if (s->state == S_CMD || s->state == S_DATA ||
		    s->state == S_AUTH_PLAIN || s->state == S_AUTH_LOGIN_USER ||
		    s->state == S_AUTH_LOGIN_PASS) {
			session_reply(s, 421, "4.4.2", "%s Idle timeout, "
			    "closing connection", s->sess.gen->conf->hostname);
			session_close(s, "idle timeout");
		} else
			session_abort(s, "timeout");
		return;
	case IO_DISCONNECTED:
		session_abort(s, s->state == S_DATA ?
		    "client disconnected during DATA" : "client disconnected");
		return;
	case IO_ERROR:
	default:
		session_abort(s, io_error(io) ? io_error(io) : "I/O error");
		return;
	}
}

/* Handle what the client sent, as long as we are not waiting. */
static void
session_read(struct session *s)
{
	char	*line;
	size_t	 len;

	for (;;) {
		if (s->state == S_DATA) {
			session_data_in(s);
			/*
			 * A refused message (554/552) or one the upstream lost
			 * (451) ends in S_CMD at once: commands the client
			 * pipelined behind its dot are already buffered and
			 * no new IO_DATAIN would announce them, so go on
			 * reading them here instead of leaving the client
			 * hanging until the idle timeout.
			 */
			if (s->state != S_CMD)
				return;
			continue;
		}
		if (s->state != S_CMD && s->state != S_AUTH_PLAIN &&
		    s->state != S_AUTH_LOGIN_USER &&
		    s->state != S_AUTH_LOGIN_PASS)
			return;
		line = io_getline(s->sess.io, &len);
		if (line == NULL) {
			if (len == IO_TOOLONG) {
				session_reply(s, 500, "5.5.2",
				    "Line too long");
				goto check_errors;
			}
			return;
		}
		/* Commands are at most 512 octets with CRLF (4.5.3.1.4);
		 * AUTH responses may be longer. */
		if (s->state == S_CMD && len > SMTP_LINE_MAX - 2) {
			session_reply(s, 500, "5.5.2", "Line too long");
			goto check_errors;
		}
		if (memchr(line, '\0', len) != NULL ||
		    memchr(line, '\r', len) != NULL) {
			session_reply(s, 500, "5.5.2",
			    "Invalid characters in command");
			goto check_errors;
		}
		/* QUIT frees the session: nothing may touch it after. */
		if (session_command(s, line, len) == -1)
			return;
check_errors:
		if (s->errors >= s->sess.l->limits.max_errors) {
			session_reply(s, 421, "4.7.0", "%s Too many errors, "
			    "closing connection", s->sess.gen->conf->hostname);
			session_close(s, "too many errors");
			return;
		}
	}
}

/* Wait for the upstream (or LDAP): stop reading the client meanwhile. */
static void
session_wait(struct session *s, enum sess_state st)
{
	s->state = st;
	io_pause(s->sess.io);
}

static void
session_resume(struct session *s)
{
	s->state = S_CMD;
	io_resume(s->sess.io);
}

/*
 * The upstream connection was set up for the client's HELO name and
 * identity (XCLIENT HELO= and LOGIN=) and may hold an open transaction:
 * when those change (EHLO, STARTTLS, AUTH) it must not be reused for the
 * next MAIL, or the upstream would see the new mail under the old
 * identity (and a transaction the client reset would still be open
 * there, making the next MAIL a "nested MAIL").
 */
static void
session_upstream_release(struct session *s)
{
	if (s->up != NULL) {
		upstream_quit(s->up);
		s->up = NULL;
	}
	s->wait = W_NONE;
}

static void
session_ehlo(struct session *s, const char *arg, size_t len, int esmtp)
{
	const struct auth_profile *ap = s->sess.l->auth_profile;
	char	 caps[1024];
	int	 n, auth = 0;

	if (len == 0 || smtp_parse_helo(arg, len) == -1) {
		session_reply(s, 501, "5.5.4", "Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		return;
	}
	session_tx_reset(s);
	session_upstream_release(s);
	snprintf(s->helo, sizeof(s->helo), "%.*s", (int)len, arg);
	s->greeted = 1;
	s->esmtp = esmtp;
	if (!esmtp) {
		session_reply(s, 250, NULL, "%s Hello %s",
		    s->sess.gen->conf->hostname, s->helo);
		return;
	}
	n = snprintf(caps, sizeof(caps), "%s Hello %s [%s]\n8BITMIME\n"
	    "ENHANCEDSTATUSCODES\nPIPELINING\nSIZE %lld",
	    s->sess.gen->conf->hostname, s->helo, s->sess.addr,
	    (long long)s->sess.l->limits.max_message_size);
	if (!s->tls && s->pol->tls != POLICY_TLS_OFF &&
	    s->sess.l->tls == LISTEN_TLS_STARTTLS)
		n += snprintf(caps + n, sizeof(caps) - n, "\nSTARTTLS");
	if (!s->authenticated && ap != NULL && (!session_auth_needs_tls(s) ||
	    s->tls)) {
		if (ap->kind == AUTH_PROFILE_SMTPAUTH ||
		    (ap->fallback != NULL && (s->cert == CERT_NONE ||
		    s->cert == CERT_NOTMAPPED || s->cert == CERT_BADFIELD ||
		    s->cert == CERT_UNUSED)))
			auth = 1;
	}
	/* A certificate whose lookup failed for now (LDAP down) still
	 * gets EXTERNAL: its AUTH answers 454, so a client configured for
	 * EXTERNAL reports a temporary failure, not a server without
	 * authentication. */
	if (auth || s->cert == CERT_OK || s->cert == CERT_TEMPFAIL)
		n += snprintf(caps + n, sizeof(caps) - n, "\nAUTH%s%s",
		    auth ? " PLAIN LOGIN" : "",
		    s->cert == CERT_OK || s->cert == CERT_TEMPFAIL ?
		    " EXTERNAL" : "");
	snprintf(caps + n, sizeof(caps) - n, "\nHELP");
	session_reply(s, 250, NULL, "%s", caps);
}

/*
 * RFC 4954 section 4: a policy that requires TLS takes no password before
 * it, like one with `require tls-for-auth' (EHLO offers no AUTH PLAIN or
 * LOGIN, AUTH gets 538).
 */
static int
session_auth_needs_tls(const struct session *s)
{
	return s->pol->require_tls_for_auth ||
	    s->pol->tls == POLICY_TLS_REQUIRED;
}

static void
session_starttls(struct session *s, size_t arglen)
{
	ssize_t	 dropped;

	if (arglen != 0) {
		session_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		return;
	}
	if (s->tls) {
		session_reply(s, 503, "5.5.1", "TLS already active");
		return;
	}
	if (s->pol->tls == POLICY_TLS_OFF ||
	    s->sess.l->tls != LISTEN_TLS_STARTTLS) {
		session_reply(s, 502, "5.5.1", "STARTTLS not available");
		return;
	}
	session_reply(s, 220, "2.0.0", "Ready to start TLS");
	/* RFC 3207 4.2: forget everything learnt before TLS.  That
	 * includes an AUTH done in plaintext (when the policy allows it):
	 * only what the TLS negotiation itself brings (the certificate)
	 * may carry over, and the upstream connection made for the
	 * plaintext identity goes too. */
	session_tx_reset(s);
	session_upstream_release(s);
	s->authenticated = 0;
	session_forget_mails(s);
	s->monitor = 0;
	s->user[0] = '\0';
	s->method[0] = '\0';
	s->greeted = 0;
	s->esmtp = 0;
	s->helo[0] = '\0';
	s->state = S_TLS_HANDSHAKE;
	dropped = sess_start_tls(&s->sess, "STARTTLS");
	if (dropped < 0) {
		session_abort(s, "cannot start TLS");
		return;
	}
	if (dropped > 0) {
		struct kvlog	 kv;

		session_kv(s, &kv, "starttls-injection");
		kvlog_i64(&kv, "bytes", (int64_t)dropped);
		kvlog_str(&kv, "reason", "pipelined after STARTTLS: "
		    "discarded (CVE-2011-0411)");
		kvlog_warn(&kv);
	}
}

/* The smtp-auth profile this session may use, or NULL. */
static const struct auth_profile *
session_auth_profile(struct session *s)
{
	const struct auth_profile *ap = s->sess.l->auth_profile;

	if (ap == NULL)
		return NULL;
	if (ap->kind == AUTH_PROFILE_SMTPAUTH)
		return ap;
	/* A certificate profile falls back only for clients without a
	 * usable certificate, never over a refused one. */
	if (ap->fallback != NULL && (s->cert == CERT_NONE ||
	    s->cert == CERT_NOTMAPPED || s->cert == CERT_BADFIELD ||
	    s->cert == CERT_UNUSED))
		return ap->fallback;
	return NULL;
}

/* Whether AUTH on this listener can begin monitor mode. */
static int
session_may_monitor(const struct session *s)
{
	const struct auth_profile *ap = s->sess.l->auth_profile;

	if (ap != NULL && ap->kind != AUTH_PROFILE_SMTPAUTH)
		ap = ap->fallback;
	return ap != NULL && ap->disallowed == DISALLOWED_MONITOR;
}

/* RFC 4954 and SPEC 3.4: names LDAP would normalise are refused. */
static int
auth_user_ok(const char *u, size_t len)
{
	size_t	 i;

	if (len == 0 || len >= SESSION_NAME_MAX || u[0] == ' ' ||
	    u[len - 1] == ' ')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)u[i] < 0x20 || u[i] == 0x7f)
			return 0;
	return 1;
}

/* The wait of session_auth_refuse() is over. */
static void
session_auth_refused(void *arg)
{
	struct session	*s = arg;

	s->af_wait = NULL;
	s->state = S_CMD;
	session_reply(s, 535, "5.7.8", "%s", s->af_text);
	io_resume(s->sess.io);
}

/*
 * A failed login (user NULL: a name LDAP never saw): counted, then 535
 * with text (static), once every front has it, so that a client who
 * reconnects at once meets the count on any front.  Returns 1 while the
 * session waits for that (input paused), 0 if it replied.
 */
static int
session_auth_refuse(struct session *s, const char *user, const char *text)
{
	authfail_record(user, s->sess.addr,
	    s->sess.l->limits.auth_failure_window, time(NULL));
	s->af_text = text;
	if ((s->af_wait = authfail_front_wait(session_auth_refused, s)) !=
	    NULL) {
		session_wait(s, S_AUTH_LOOKUP);
		return 1;
	}
	session_reply(s, 535, "5.7.8", "%s", text);
	return 0;
}

static void
session_auth_cb(void *arg, const struct lookup_result *res)
{
	struct session			*s = arg;
	const struct auth_profile	*ap = session_auth_profile(s);
	struct kvlog			 kv;

	s->lookup_id = 0;
	session_kv(s, &kv, "auth");
	kvlog_str(&kv, "method", s->method);
	kvlog_str(&kv, "user", s->auth_user);
	kvlog_str(&kv, "result", ldap_result_name(res->result));
	if (pwpolicy_reason(res->result) != NULL)
		kvlog_str(&kv, "reason", pwpolicy_reason(res->result));
	if (res->detail != NULL && res->detail[0] != '\0')
		kvlog_str(&kv, "detail", res->detail);
	if (res->result == LDAP_RES_DISALLOWED && ap != NULL &&
	    ap->disallowed == DISALLOWED_MONITOR)
		kvlog_str(&kv, "monitor", "yes");
	kvlog_info(&kv);
	s->state = S_CMD;
	/* Monitor mode lets the user in: that is a success. */
	stats_auth(stats_auth_method(s->method), res->result == LDAP_RES_OK ||
	    (res->result == LDAP_RES_DISALLOWED && ap != NULL &&
	    ap->disallowed == DISALLOWED_MONITOR) ? SAR_OK :
	    res->result == LDAP_RES_DISALLOWED ? SAR_REFUSED :
	    res->result == LDAP_RES_TEMPFAIL ? SAR_TEMPFAIL : SAR_BADCRED);
	switch (res->result) {
	case LDAP_RES_OK:
		s->authenticated = 1;
		/* Authenticated inside the allowance: no monitor mode. */
		session_hist_stop(s);
		strlcpy(s->user, s->auth_user, sizeof(s->user));
		session_keep_identity(s, ap, res);
		/* An upstream connection from an earlier message says
		 * LOGIN=[UNAVAILABLE]: the next MAIL needs a new one. */
		session_upstream_release(s);
		session_reply(s, 235, "2.7.0", "Authentication successful");
		break;
	case LDAP_RES_DISALLOWED:
		if (ap != NULL && ap->disallowed == DISALLOWED_MONITOR) {
			s->authenticated = 1;
			session_hist_flush(s);
			s->monitor = 1;
			strlcpy(s->user, s->auth_user, sizeof(s->user));
			session_keep_identity(s, ap, res);
			session_upstream_release(s);
			session_kv(s, &kv, "monitor");
			kvlog_str(&kv, "user", s->user);
			kvlog_str(&kv, "reason", "authenticated outside the "
			    "allowance, every command is logged");
			kvlog_info(&kv);
			session_reply(s, 235, "2.7.0",
			    "Authentication successful");
		} else if (ap != NULL) {
			/* reject_text starts with its enhanced code. */
			char		 enh[SMTP_ENH_MAX];
			const char	*t = ap->reject_text, *sp;

			sp = strchr(t, ' ');
			if (sp != NULL && (size_t)(sp - t) < sizeof(enh)) {
				memcpy(enh, t, sp - t);
				enh[sp - t] = '\0';
				session_reply(s, ap->reject_code, enh, "%s",
				    sp + 1);
			} else
				session_reply(s, ap->reject_code, NULL, "%s",
				    t);
		}
		break;
	case LDAP_RES_TEMPFAIL:
		/* The directory's trouble, not the user's: not counted. */
		session_reply(s, 454, "4.7.0",
		    "Temporary authentication failure, try again later");
		break;
	case LDAP_RES_LOCKED:
	case LDAP_RES_PWEXPIRED:
	case LDAP_RES_PWRESET:
	case LDAP_RES_DISABLED:
		/*
		 * The directory's password policy refused the account
		 * (issue 15): say so, so the user calls the help desk
		 * instead of retyping.  Only the directory can tell, and
		 * only for an account that exists and is in that state;
		 * a wrong password stays the reply below.
		 */
		if (session_auth_refuse(s, s->auth_user,
		    pwpolicy_text(res->result)))
			return;
		break;
	default:
		if (session_auth_refuse(s, s->auth_user,
		    "Authentication credentials invalid"))
			return;
		break;
	}
	io_resume(s->sess.io);
}

static void
session_auth_check(struct session *s, const char *user, size_t ulen,
    const char *pass, size_t plen)
{
	const struct auth_profile *ap = session_auth_profile(s);
	struct kvlog		 kv;

	if (ap == NULL) {
		session_reply(s, 503, "5.5.1", "AUTH not available");
		s->state = S_CMD;
		return;
	}
	if (!auth_user_ok(user, ulen) || plen == 0 ||
	    plen > LDAP_MAX_PASSWORD) {
		snprintf(s->auth_user, sizeof(s->auth_user), "(invalid)");
		stats_auth(stats_auth_method(s->method), SAR_BADCRED);
		/* A name LDAP would never see is not logged either. */
		session_kv(s, &kv, "auth");
		kvlog_str(&kv, "method", s->method);
		if (auth_user_ok(user, ulen))
			kvlog_mem(&kv, "user", user, ulen);
		else
			kvlog_str(&kv, "user", NULL);
		kvlog_str(&kv, "result", "refused");
		kvlog_str(&kv, "reason", plen == 0 ? "empty password before "
		    "LDAP" : "invalid user name before LDAP");
		kvlog_info(&kv);
		s->state = S_CMD;
		session_auth_refuse(s, NULL,
		    "Authentication credentials invalid");
		return;
	}
	memcpy(s->auth_user, user, ulen);
	s->auth_user[ulen] = '\0';
	if (authfail_blocked(s->auth_user, s->sess.addr,
	    s->sess.l->limits.max_auth_failures,
	    s->sess.l->limits.auth_failure_window, time(NULL))) {
		stats_auth(stats_auth_method(s->method), SAR_REFUSED);
		session_kv(s, &kv, "auth");
		kvlog_str(&kv, "method", s->method);
		kvlog_str(&kv, "user", s->auth_user);
		kvlog_str(&kv, "result", "blocked");
		kvlog_str(&kv, "reason", "too many failed attempts");
		kvlog_warn(&kv);
		session_reply(s, 454, "4.7.0", "Too many failed "
		    "authentication attempts; try again in a few minutes");
		s->state = S_CMD;
		return;
	}
	session_wait(s, S_AUTH_LOOKUP);
	s->lookup_id = lookup_auth(ap->ldap->name, ap->query->name,
	    s->auth_user, pass, plen, ap->ldap->timeout, session_auth_cb, s);
}

static void
session_auth_plain(struct session *s, const char *b64, size_t len)
{
	unsigned char		 buf[AUTH_LINE_MAX];
	struct smtp_plain	 p;
	size_t			 n;

	/* Test fix: "\0user\0" (an empty password, which swaks, curl and
	 * smtplib send as they are told) is refused like an empty LOGIN
	 * password -- 535 by session_auth_check(), before LDAP -- rather
	 * than as a malformed message (501).  A stand-in octet makes it
	 * parse; the length handed on stays 0. */
	if (smtp_b64_decode(b64, len, buf, sizeof(buf) - 1, &n) == 0 &&
	    n > 0 && buf[n - 1] == '\0' && smtp_sasl_plain(buf, n, &p) == -1) {
		buf[n] = 'x';
		if (smtp_sasl_plain(buf, n + 1, &p) == 0 && p.passwdlen == 1)
			p.passwdlen = 0;
		else
			n = 0;	/* still malformed: 501 below */
	} else if (smtp_b64_decode(b64, len, buf, sizeof(buf), &n) == -1 ||
	    smtp_sasl_plain(buf, n, &p) == -1)
		n = 0;
	if (n == 0 ||
	    (p.authzidlen != 0 && (p.authzidlen != p.authcidlen ||
	    memcmp(p.authzid, p.authcid, p.authcidlen) != 0))) {
		explicit_bzero(buf, sizeof(buf));
		session_reply(s, 501, "5.5.2", "Invalid AUTH PLAIN response");
		s->state = S_CMD;
		return;
	}
	session_auth_check(s, p.authcid, p.authcidlen, p.passwd, p.passwdlen);
	explicit_bzero(buf, sizeof(buf));
}

static void
session_auth_line(struct session *s, const char *line, size_t len)
{
	unsigned char	 buf[AUTH_LINE_MAX];
	size_t		 n;

	if (smtp_auth_is_cancel(line, len)) {
		session_reply(s, 501, "5.7.0", "Authentication cancelled");
		s->state = S_CMD;
		return;
	}
	/* Test fix: curl answers a challenge with "=" for an empty
	 * response (RFC 4954's form for an empty initial response): read
	 * it as empty, so an empty LOGIN password gets 535, not 501. */
	if (len == 1 && line[0] == '=')
		len = 0;
	switch (s->state) {
	case S_AUTH_PLAIN:
		session_auth_plain(s, line, len);
		return;
	case S_AUTH_LOGIN_USER:
		if (smtp_b64_decode(line, len, buf, sizeof(buf) - 1, &n) ==
		    -1 || n >= sizeof(s->auth_user)) {
			session_reply(s, 501, "5.5.2", "Invalid response");
			s->state = S_CMD;
			return;
		}
		memcpy(s->auth_user, buf, n);
		s->auth_user[n] = '\0';
		/* Remember the true length: a NUL must not shorten it. */
		s->auth_userlen = n;
		s->state = S_AUTH_LOGIN_PASS;
		session_reply(s, 334, NULL, "UGFzc3dvcmQ6");
		return;
	case S_AUTH_LOGIN_PASS: {
		char	 user[SESSION_NAME_MAX];
		size_t	 ulen = s->auth_userlen;

		s->auth_userlen = 0;
		if (smtp_b64_decode(line, len, buf, sizeof(buf), &n) == -1) {
			session_reply(s, 501, "5.5.2", "Invalid response");
			s->state = S_CMD;
			return;
		}
		memcpy(user, s->auth_user, ulen);
		session_auth_check(s, user, ulen, (char *)buf, n);
		explicit_bzero(buf, sizeof(buf));
		return;
	}
	default:
		return;
	}
}

static void
session_auth(struct session *s, const char *arg, size_t len)
{
	struct smtp_auth	 a;
	struct kvlog		 kv;
	char			 id[SESSION_NAME_MAX];
	unsigned char		 buf[SESSION_NAME_MAX];
	size_t			 n;

	/* Test fix: a mapped certificate authenticates the session before
	 * any AUTH, so the EXTERNAL that EHLO offers must still be usable
	 * once (it used to get 503 here); any AUTH after it gets 503. */
	if (s->authenticated && (s->cert != CERT_OK || s->external_done ||
	    len < 8 || strncasecmp(arg, "EXTERNAL", 8) != 0 ||
	    (len > 8 && arg[8] != ' '))) {
		session_reply(s, 503, "5.5.1", "Already authenticated");
		return;
	}
	if (s->in_tx) {
		session_reply(s, 503, "5.5.1", "AUTH not allowed during a "
		    "mail transaction");
		return;
	}
	if (smtp_parse_auth(arg, len, &a) == -1) {
		session_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism");
		return;
	}
	if (session_auth_needs_tls(s) && !s->tls) {
		/* Before any LDAP request: a password sent in the clear is
		 * not checked, so it cannot be confirmed to an eavesdropper
		 * either. */
		session_kv(s, &kv, "auth");
		kvlog_str(&kv, "method", a.mech);
		kvlog_str(&kv, "result", "refused");
		kvlog_str(&kv, "reason", "encryption required");
		kvlog_info(&kv);
		session_reply(s, 538, "5.7.11", "Encryption required for "
		    "requested authentication mechanism");
		return;
	}
	if (strcmp(a.mech, "EXTERNAL") == 0) {
		/* RFC 4422 appendix A: the certificate is the identity; an
		 * authorization id, if given, must be that same user. */
		if (s->cert == CERT_TEMPFAIL) {
			/* Fail closed, and temporarily: try again later. */
			stats_auth(SAM_EXTERNAL, SAR_TEMPFAIL);
			session_kv(s, &kv, "auth");
			kvlog_str(&kv, "method", "EXTERNAL");
			kvlog_str(&kv, "result", "tempfail");
			kvlog_str(&kv, "reason", "certificate lookup failed "
			    "for now");
			kvlog_info(&kv);
			session_reply(s, 454, "4.7.0", "Temporary "
			    "authentication failure, try again later");
			return;
		}
		if (s->cert != CERT_OK) {
			stats_auth(SAM_EXTERNAL, SAR_BADCRED);
			session_reply(s, 535, "5.7.8", "No certificate "
			    "identity to use with EXTERNAL");
			return;
		}
		if (a.ir != NULL && a.irlen > 0) {
			if (smtp_b64_decode(a.ir, a.irlen, buf, sizeof(buf) - 1,
			    &n) == -1) {
				session_reply(s, 501, "5.5.2",
				    "Invalid response");
				return;
			}
			memcpy(id, buf, n);
			id[n] = '\0';
			/* (the id is not echoed: it may hold CR LF) */
			if (n != strlen(id) || strcmp(id, s->user) != 0) {
				stats_auth(SAM_EXTERNAL, SAR_BADCRED);
				session_reply(s, 535, "5.7.8", "Your "
				    "certificate does not belong to the "
				    "identity given");
				return;
			}
		}
		/* Test fix: s->method stays "certificate" (Received: and
		 * the log name the certificate, which is the identity). */
		s->external_done = 1;
		stats_auth(SAM_EXTERNAL, SAR_OK);
		session_reply(s, 235, "2.7.0", "Authentication successful");
		return;
	}
	snprintf(s->method, sizeof(s->method), "%s", a.mech);
	if (session_auth_profile(s) == NULL) {
		session_reply(s, 503, "5.5.1", s->cert == CERT_OK ? "AUTH "
		    "not needed: your certificate identifies you" :
		    "AUTH not available");
		return;
	}
	if (strcmp(a.mech, "PLAIN") == 0) {
		if (a.ir == NULL) {
			s->state = S_AUTH_PLAIN;
			session_reply(s, 334, NULL, "%s", "");
			return;
		}
		session_auth_plain(s, a.ir, a.irlen);
		return;
	}
	if (strcmp(a.mech, "LOGIN") == 0) {
		if (a.ir != NULL) {
			s->state = S_AUTH_LOGIN_USER;
			session_auth_line(s, a.ir, a.irlen);
			return;
		}
		s->state = S_AUTH_LOGIN_USER;
		session_reply(s, 334, NULL, "VXNlcm5hbWU6");
		return;
	}
	session_reply(s, 504, "5.5.4", "Unrecognized authentication type");
}

/*
 * An accepted recipient for the message line: the first
 * SESSION_RCPT_LOG_N (and as many as fit the buffer) by address, the
 * rest counted.  The upstream's 2xx makes it a recipient, so the line
 * lists what was really relayed to.
 */
static void
session_rcpt_accepted(struct session *s)
{
	size_t	 used = strlen(s->rcpt_log), alen = strlen(s->rcpt_pending);

	if (s->rcpt_logged < SESSION_RCPT_LOG_N &&
	    used + (used ? 1 : 0) + alen < sizeof(s->rcpt_log)) {
		if (used)
			s->rcpt_log[used++] = ',';
		memcpy(s->rcpt_log + used, s->rcpt_pending, alen + 1);
		s->rcpt_logged++;
	}
	s->rcpt_pending[0] = '\0';
}

/* "to=a@x,b@y" and, when some were left out, "to-more=N". */
static void
session_kv_rcpts(struct session *s, struct kvlog *kv)
{
	kvlog_str(kv, "to", s->rcpt_logged ? s->rcpt_log : NULL);
	if (s->nrcpt > s->rcpt_logged)
		kvlog_u64(kv, "to-more", s->nrcpt - s->rcpt_logged);
}

static void
session_tx_reset(struct session *s)
{
	s->in_tx = 0;
	s->mailfrom[0] = '\0';
	s->mailparams[0] = '\0';
	s->nrcpt = 0;
	s->rcpt_tried = 0;
	s->rcpt_pending[0] = '\0';
	s->rcpt_log[0] = '\0';
	s->rcpt_logged = 0;
	s->up_failed = 0;
	data_filter_reset(&s->df);
	/* Not just emptied: a session idle after a message keeps none. */
	dbuf_free(&s->dout);
}

/* The upstream is gone: the client hears 451, the next MAIL reconnects. */
static void
session_upstream_lost(struct session *s, const char *why)
{
	enum up_wait	 w = s->wait;
	struct kvlog	 kv;

	stats_inc(STAT_RELAY_UP_FAIL);
	session_kv(s, &kv, "upstream-failed");
	kvlog_str(&kv, "upstream", s->up != NULL ? upstream_peer(s->up) :
	    NULL);
	kvlog_str(&kv, "reason", why ? why : "?");
	kvlog_info(&kv);
	if (s->up != NULL) {
		upstream_abort(s->up);
		s->up = NULL;
	}
	s->wait = W_NONE;
	if (s->state == S_DATA) {
		/* Keep reading to the end of data, then say 451.  Reading
		 * may be paused because the upstream was not keeping up:
		 * nothing will drain now, so resume here or the client
		 * would hang until its idle timeout. */
		s->up_failed = 1;
		io_resume(s->sess.io);
		return;
	}
	if (w == W_NONE || (s->state != S_UPSTREAM && s->state != S_DOT)) {
		/*
		 * No command of the client is waiting for the upstream (it
		 * closed an idle connection, or we wait for LDAP): a reply
		 * now would be unsolicited and put every later reply out
		 * of step with the client's commands.  An open transaction
		 * keeps in_tx with no upstream; its next RCPT or DATA gets
		 * the 451 (session_tx_lost()), and the next MAIL reconnects.
		 */
		return;
	}
	session_tx_reset(s);
	if (w == W_RSET)
		session_reply(s, 250, "2.0.0", "Reset state");
	else
		session_reply(s, 451, "4.4.1", "Mail server temporarily "
		    "unavailable, try again later");
	session_resume(s);
}

/* The transaction is open but its upstream connection went away while
 * the client was not waiting for it: answer its next command with 451. */
static int
session_tx_lost(struct session *s)
{
	if (s->up != NULL)
		return 0;
	session_tx_reset(s);
	session_reply(s, 451, "4.4.1", "Mail server temporarily "
	    "unavailable, transaction aborted; try again later");
	return 1;
}

static void
session_send_mail(struct session *s)
{
	s->wait = W_MAIL;
	if (upstream_command(s->up, "MAIL FROM:<%s>%s%s", s->mailfrom,
	    s->mailparams[0] ? " " : "", s->mailparams) == -1)
		session_upstream_lost(s, "cannot send MAIL");
}

static void
session_mail(struct session *s, const char *arg, size_t len)
{
	struct upstream_params		 p;
	struct smtp_path		 path;
	enum smtp_path_err		 e;
	const char			*enh, *text;
	int				 code, n;

	if (!s->greeted) {
		session_reply(s, 503, "5.5.1", "Send EHLO or HELO first");
		return;
	}
	if (s->in_tx) {
		session_reply(s, 503, "5.5.1", "Nested MAIL command");
		return;
	}
	/* The mail-flow policy, in the order of SPEC 3.2. */
	if (s->pol->tls == POLICY_TLS_REQUIRED && !s->tls) {
		session_reply(s, 530, "5.7.0",
		    "Must issue a STARTTLS command first");
		return;
	}
	if (s->pol->require_auth && !s->authenticated) {
		switch (s->cert) {
		case CERT_TEMPFAIL:
			session_reply(s, 454, "4.7.0", "Temporary "
			    "authentication failure, try again later");
			return;
		case CERT_AMBIGUOUS:
			session_reply(s, 530, "5.7.0", "Your certificate "
			    "matches more than one user; contact your mail "
			    "administrator");
			return;
		case CERT_MISMATCH:
			session_reply(s, 530, "5.7.0", "Your certificate is "
			    "not the one registered for your account");
			return;
		case CERT_NOTMAPPED:
			if (session_auth_profile(s) == NULL) {
				session_reply(s, 530, "5.7.0", "Your "
				    "certificate is not registered for mail; "
				    "contact your mail administrator");
				return;
			}
			break;
		case CERT_BADFIELD:
			if (session_auth_profile(s) == NULL) {
				session_reply(s, 530, "5.7.0", "Your "
				    "certificate cannot be used for mail: a "
				    "field that names you has a control "
				    "character; contact your mail "
				    "administrator");
				return;
			}
			break;
		default:
			break;
		}
		session_reply(s, 530, "5.7.0", "Authentication required");
		return;
	}
	e = smtp_parse_mail(arg, len, &path);
	if (e != SMTP_PE_OK) {
		smtp_path_reply(e, 0, &code, &enh, &text);
		session_reply(s, code, enh, "%s", text);
		return;
	}
	if (path.has_size &&
	    path.size > (uint64_t)s->sess.l->limits.max_message_size) {
		session_reply(s, 552, "5.3.4", "Message too big: the limit is "
		    "%lld octets",
		    (long long)s->sess.l->limits.max_message_size);
		return;
	}
	/* The profile that vouched for the user decides (a certificate
	 * profile's fallback may differ from the listener's). */
	if (s->authenticated && s->auth_ap != NULL &&
	    s->auth_ap->sender_must_match &&
	    !session_sender_owned(s, path.addr)) {
		struct kvlog	 kv;

		session_kv(s, &kv, "sender-refused");
		kvlog_str(&kv, "user", s->user);
		kvlog_str(&kv, "from", path.addr);
		kvlog_str(&kv, "reason", "not an address of the user");
		kvlog_info(&kv);
		session_reply(s, 553, "5.7.1", "Sender address <%s> is not "
		    "yours: use one of the addresses of %s", path.addr,
		    s->user);
		return;
	}
	strlcpy(s->mailfrom, path.addr, sizeof(s->mailfrom));
	/* Pass on only what the upstream will understand; SIZE and BODY
	 * are checked against its EHLO once connected. */
	n = 0;
	s->mailparams[0] = '\0';
	if (path.body == SMTP_BODY_8BITMIME)
		n += snprintf(s->mailparams + n, sizeof(s->mailparams) - n,
		    "BODY=8BITMIME");
	if (path.has_size)
		n += snprintf(s->mailparams + n, sizeof(s->mailparams) - n,
		    "%sSIZE=%llu", n ? " " : "",
		    (unsigned long long)path.size);
	if (path.smtputf8)
		n += snprintf(s->mailparams + n, sizeof(s->mailparams) - n,
		    "%sSMTPUTF8", n ? " " : "");

	session_wait(s, S_UPSTREAM);
	if (s->up != NULL) {
		session_send_mail(s);
		return;
	}
	memset(&p, 0, sizeof(p));
	p.relay = s->sess.l->relay;
	p.tlsconf = front_relay_tlsconf(s->sess.gen, s->sess.l->relay);
	p.helo = s->sess.gen->conf->hostname;
	p.client_addr = s->sess.addr;
	p.client_port = s->sess.port;
	p.client_helo = s->helo;
	p.login = s->authenticated ? s->user : NULL;
	p.session = s->sess.id;
	s->wait = W_CONNECT;
	if ((s->up = upstream_open(front_base(), &p, session_upstream_cb, s))
	    == NULL)
		session_upstream_lost(s, "out of memory");
}

static void
session_rcpt(struct session *s, const char *arg, size_t len)
{
	struct smtp_path	 path;
	enum smtp_path_err	 e;
	const char		*enh, *text;
	int			 code;

	if (!s->in_tx) {
		session_reply(s, 503, "5.5.1", "Need MAIL before RCPT");
		return;
	}
	if (session_tx_lost(s))
		return;
	e = smtp_parse_rcpt(arg, len, strstr(s->mailparams, "SMTPUTF8") !=
	    NULL, &path);
	if (e != SMTP_PE_OK) {
		smtp_path_reply(e, 1, &code, &enh, &text);
		session_reply(s, code, enh, "%s", text);
		return;
	}
	if (s->rcpt_tried >= (size_t)s->sess.l->limits.max_recipients) {
		session_reply(s, 452, "4.5.3", "Too many recipients");
		return;
	}
	s->rcpt_tried++;
	strlcpy(s->rcpt_pending, path.addr, sizeof(s->rcpt_pending));
	session_wait(s, S_UPSTREAM);
	s->wait = W_RCPT;
	if (upstream_command(s->up, "RCPT TO:<%s>%s%s", path.addr,
	    path.dsn[0] ? " " : "", path.dsn) == -1)
		session_upstream_lost(s, "cannot send RCPT");
}

static void
session_data(struct session *s, size_t arglen)
{
	if (arglen != 0) {
		session_reply(s, 501, "5.5.4", "Syntax: DATA");
		return;
	}
	if (!s->in_tx) {
		session_reply(s, 503, "5.5.1", "Need MAIL before DATA");
		return;
	}
	if (session_tx_lost(s))
		return;
	if (s->nrcpt == 0) {
		session_reply(s, 503, "5.5.1", "Need RCPT before DATA");
		return;
	}
	session_wait(s, S_UPSTREAM);
	s->wait = W_DATA;
	if (upstream_command(s->up, "DATA") == -1)
		session_upstream_lost(s, "cannot send DATA");
}

static void
hdr_clean(char *dst, size_t dstsz, const char *src)
{
	size_t	 i = 0;

	/* Inside a header comment: no parentheses, backslash or controls. */
	for (; src != NULL && *src != '\0' && i + 1 < dstsz; src++) {
		unsigned char c = *src;

		dst[i++] = (c < 0x20 || c == 0x7f || c == '(' || c == ')' ||
		    c == '\\') ? '_' : c;
	}
	dst[i] = '\0';
}

/* Our Received: field (RFC 5321 4.4) naming the user and how. */
static void
session_received(struct session *s)
{
	char		 hdr[DF_HEADER_MAX], helo[SESSION_NAME_MAX];
	char		 user[SESSION_NAME_MAX], how[1200], date[64];
	char		 subj[512], iss[512], tls[200];
	struct tm	 tm;
	time_t		 now = time(NULL);

	hdr_clean(helo, sizeof(helo), s->helo);
	hdr_clean(user, sizeof(user), s->user);
	if (s->authenticated && strcmp(s->method, "certificate") == 0) {
		hdr_clean(subj, sizeof(subj), s->sess.cert_subject);
		hdr_clean(iss, sizeof(iss), s->sess.cert_issuer);
		snprintf(how, sizeof(how), "\r\n\t(authenticated as %s by "
		    "certificate serial %s\r\n\t issuer %s)", user,
		    s->sess.cert_serial, iss);
	} else if (s->authenticated)
		snprintf(how, sizeof(how), "\r\n\t(authenticated as %s by "
		    "AUTH %s%s)", user, s->method,
		    s->monitor ? ", monitored" : "");
	else
		how[0] = '\0';
	/* The TLS session, as Postfix writes it (RFC 8314 7.4 wants the
	 * Received: field to say TLS was used); nothing for plaintext. */
	if (s->tls && s->sess.tlsver[0])
		snprintf(tls, sizeof(tls), "\r\n\t(using %s with cipher %s "
		    "(%d/%d bits))", s->sess.tlsver, s->sess.cipher,
		    s->sess.cipher_bits, s->sess.cipher_alg_bits);
	else
		tls[0] = '\0';
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* An IPv6 client is an RFC 5321 address literal: [IPv6:...]. */
	snprintf(hdr, sizeof(hdr), "Received: from %s (%s [%s%s])%s\r\n"
	    "\tby %s (smtpcertd) with %s%s%s id %012llx.%u%s;\r\n\t%s\r\n",
	    helo, helo, strchr(s->sess.addr, ':') ? "IPv6:" : "",
	    s->sess.addr, tls,
	    s->sess.gen->conf->hostname,
	    s->esmtp ? "ESMTP" : "SMTP", s->tls ? "S" : "",
	    s->authenticated ? "A" : "", (unsigned long long)s->sess.id,
	    s->msgs, how, date);
	if (data_filter_prepend(&s->df, &s->dout, hdr, strlen(hdr)) == -1) {
		/* A very long DN: keep the essentials. */
		snprintf(hdr, sizeof(hdr), "Received: from [%s%s]\r\n\tby %s "
		    "(smtpcertd) id %012llx.%u (authenticated as %s);\r\n"
		    "\t%s\r\n", strchr(s->sess.addr, ':') ? "IPv6:" : "",
		    s->sess.addr,
		    s->sess.gen->conf->hostname,
		    (unsigned long long)s->sess.id, s->msgs, user, date);
		data_filter_prepend(&s->df, &s->dout, hdr, strlen(hdr));
	}
}

static void
session_data_drained(void *arg)
{
	struct session	*s = arg;

	if (s->state == S_DATA)
		io_resume(s->sess.io);
}

static void
session_data_end(struct session *s, int event)
{
	int		 code;
	const char	*enh, *text;
	struct kvlog	 kv;

	if (event == DF_END_ERROR) {
		stats_inc(STAT_RELAY_MALFORMED);
		data_filter_reply(s->df.error, &code, &enh, &text);
		session_kv(s, &kv, "message");
		kvlog_str(&kv, "from", s->mailfrom);
		kvlog_u64(&kv, "rcpts", s->nrcpt);
		session_kv_rcpts(s, &kv);
		kvlog_str(&kv, "user", s->authenticated ? s->user : NULL);
		kvlog_str(&kv, "upstream", s->up != NULL ?
		    upstream_peer(s->up) : NULL);
		kvlog_str(&kv, "result", "invalid");
		kvlog_fmt(&kv, "reason", "%s at line %llu; upstream "
		    "transaction dropped without its final dot",
		    data_filter_strerror(s->df.error),
		    (unsigned long long)s->df.errline);
		kvlog_warn(&kv);
		/* The only way to end DATA without a dot is to hang up. */
		if (s->up != NULL) {
			upstream_abort(s->up);
			s->up = NULL;
		}
		session_tx_reset(s);
		s->state = S_CMD;
		session_reply(s, code, enh, "%s", text);
		return;
	}
	if (s->up_failed || s->up == NULL) {
		session_kv(s, &kv, "message");
		kvlog_str(&kv, "from", s->mailfrom);
		kvlog_u64(&kv, "rcpts", s->nrcpt);
		session_kv_rcpts(s, &kv);
		kvlog_str(&kv, "user", s->authenticated ? s->user : NULL);
		kvlog_str(&kv, "result", "tempfail");
		kvlog_str(&kv, "reason", "upstream lost during DATA");
		kvlog_info(&kv);
		session_tx_reset(s);
		s->state = S_CMD;
		session_reply(s, 451, "4.4.1", "Mail server temporarily "
		    "unavailable, message not delivered; try again later");
		return;
	}
	s->msgsize = s->df.size;
	upstream_write(s->up, ".\r\n", 3);
	upstream_expect_reply(s->up);
	s->wait = W_DOT;
	session_wait(s, S_DOT);
}

/* Client bytes during DATA: through the filter to the upstream. */
static void
session_data_in(struct session *s)
{
	size_t	 n;
	int	 event;

	while (s->state == S_DATA && io_datalen(s->sess.io) > 0) {
		if (s->up != NULL && upstream_queued(s->up) > IO_QUEUE_HIWAT) {
			io_pause(s->sess.io);
			return;
		}
		n = data_filter_feed(&s->df, io_data(s->sess.io),
		    io_datalen(s->sess.io), &s->dout, &event);
		io_drop(s->sess.io, n);
		if (s->dout.len > 0) {
			if (s->up != NULL && !s->up_failed &&
			    upstream_write(s->up, s->dout.buf, s->dout.len)
			    == -1)
				session_upstream_lost(s, "write failed");
			dbuf_drain(&s->dout, s->dout.len);
		}
		if (event != DF_MORE) {
			session_data_end(s, event);
			return;
		}
	}
}

/*
 * The upstream's reply in a log line: its code and first line only.
 * smtp_reply_line() is not NUL-terminated at the end of a line but the
 * last (the lines are '\n'-joined in one buffer), so the length bounds
 * it: printing it as a C string logged every line (found by fuzzing).
 */
static void
session_kv_reply(struct kvlog *kv, const struct smtp_reply *r)
{
	const char	*l = NULL;
	size_t		 len = 0;

	if (r->nlines > 0)
		l = smtp_reply_line(r, 0, &len);
	kvlog_fmt(kv, "upstream-reply", "%d%s%s %.*s", r->code,
	    r->enh[0] ? " " : "", r->enh, (int)len, l != NULL ? l : "");
}

static void
session_upstream_cb(void *arg, int event, const struct smtp_reply *r,
    const char *why)
{
	struct session	*s = arg;
	enum up_wait	 w = s->wait;
	struct kvlog	 kv;

	if (event == UPSTREAM_FAILED) {
		session_upstream_lost(s, why);
		return;
	}
	if (event == UPSTREAM_READY) {
		if (w == W_CONNECT) {
			stats_inc(STAT_RELAY_UP_CONNECT);
			session_kv(s, &kv, "upstream");
			kvlog_str(&kv, "upstream", upstream_peer(s->up));
			kvlog_str(&kv, "upstream-tls",
			    upstream_tls_version(s->up));
			kvlog_str(&kv, "upstream-cipher",
			    upstream_tls_cipher(s->up));
			kvlog_info(&kv);
			session_send_mail(s);
		}
		return;
	}
	s->wait = W_NONE;
	/* The upstream refused part of a transaction: one line each. */
	if ((w == W_MAIL || w == W_RCPT || w == W_DATA) && r->code >= 400) {
		session_kv(s, &kv, "upstream-reply");
		kvlog_str(&kv, "command", w == W_MAIL ? "MAIL" : w == W_RCPT ?
		    "RCPT" : "DATA");
		kvlog_str(&kv, "upstream", upstream_peer(s->up));
		session_kv_reply(&kv, r);
		kvlog_str(&kv, "result", r->code / 100 == 4 ? "tempfail" :
		    "rejected");
		kvlog_info(&kv);
	}
	switch (w) {
	case W_MAIL:
		if (r->code / 100 == 2)
			s->in_tx = 1;
		session_relay_reply(s, r);
		break;
	case W_RCPT:
		if (r->code / 100 == 2) {
			s->nrcpt++;
			session_rcpt_accepted(s);
		}
		session_relay_reply(s, r);
		break;
	case W_DATA:
		if (r->code == 354) {
			upstream_data_mode(s->up);
			upstream_set_drain_cb(s->up, session_data_drained);
			session_received(s);
			s->state = S_DATA;
			session_reply(s, 354, NULL,
			    "Start mail input; end with <CRLF>.<CRLF>");
			io_resume(s->sess.io);
			return;
		}
		session_relay_reply(s, r);
		break;
	case W_DOT:
		/* The client's 250 only ever follows the upstream's. */
		session_kv(s, &kv, "message");
		kvlog_str(&kv, "from", s->mailfrom);
		kvlog_u64(&kv, "rcpts", s->nrcpt);
		session_kv_rcpts(s, &kv);
		kvlog_u64(&kv, "size", s->msgsize);
		kvlog_str(&kv, "user", s->authenticated ? s->user : NULL);
		kvlog_str(&kv, "upstream", upstream_peer(s->up));
		session_kv_reply(&kv, r);
		kvlog_str(&kv, "result", r->code / 100 == 2 ? "ok" :
		    r->code / 100 == 4 ? "tempfail" : "rejected");
		kvlog_info(&kv);
		if (r->code / 100 == 2) {
			s->msgs++;
			s->relayed += s->msgsize;
			stats_inc(STAT_RELAY_ACCEPTED);
		} else
			stats_inc(STAT_RELAY_REFUSED);
		session_tx_reset(s);
		session_relay_reply(s, r);
		break;
	case W_RSET:
		session_tx_reset(s);
		session_reply(s, 250, "2.0.0", "Reset state");
		break;
	default:
		break;
	}
	session_resume(s);
}

/* Returns -1 when the session is gone. */
static int
session_command(struct session *s, char *line, size_t len)
{
	struct smtp_cmd	 cmd;

	if (s->state != S_CMD) {
		session_auth_line(s, line, len);
		return 0;
	}
	smtp_cmd_parse(line, len, &cmd);
	if (s->monitor || s->hist != NULL || log_tracing(TRACE_SMTP))
		session_log_command(s, &cmd, line, len);
	switch (cmd.verb) {
	case SMTP_CMD_EHLO:
		session_ehlo(s, cmd.arg, cmd.arglen, 1);
		break;
	case SMTP_CMD_HELO:
		session_ehlo(s, cmd.arg, cmd.arglen, 0);
		break;
	case SMTP_CMD_STARTTLS:
		session_starttls(s, cmd.arglen);
		break;
	case SMTP_CMD_AUTH:
		if (!s->greeted)
			session_reply(s, 503, "5.5.1", "Send EHLO first");
		else
			session_auth(s, cmd.arg, cmd.arglen);
		break;
	case SMTP_CMD_MAIL:
		session_mail(s, cmd.arg, cmd.arglen);
		break;
	case SMTP_CMD_RCPT:
		session_rcpt(s, cmd.arg, cmd.arglen);
		break;
	case SMTP_CMD_DATA:
		session_data(s, cmd.arglen);
		break;
	case SMTP_CMD_RSET:
		if (s->in_tx && s->up != NULL) {
			session_wait(s, S_UPSTREAM);
			s->wait = W_RSET;
			if (upstream_command(s->up, "RSET") == -1)
				session_upstream_lost(s, "cannot send RSET");
			break;
		}
		session_tx_reset(s);
		session_reply(s, 250, "2.0.0", "Reset state");
		break;
	case SMTP_CMD_NOOP:
		session_reply(s, 250, "2.0.0", "OK");
		break;
	case SMTP_CMD_HELP:
		session_reply(s, 214, "2.0.0", "smtpcertd: see RFC 5321; "
		    "commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET "
		    "NOOP QUIT HELP VRFY");
		break;
	case SMTP_CMD_VRFY:
		session_reply(s, 252, "2.1.5", "Cannot VRFY user, but will "
		    "accept message and attempt delivery");
		break;
	case SMTP_CMD_EXPN:
		session_reply(s, 502, "5.5.1", "EXPN not available");
		break;
	case SMTP_CMD_BDAT:
		session_reply(s, 502, "5.5.1", "CHUNKING not available: use "
		    "DATA");
		break;
	case SMTP_CMD_QUIT:
		session_reply(s, 221, "2.0.0", "Bye");
		session_close(s, "quit");
		return -1;
	case SMTP_CMD_INVALID:
		session_reply(s, 500, "5.5.2", "Syntax error");
		break;
	case SMTP_CMD_UNKNOWN:
	default:
		session_reply(s, 500, "5.5.2", "Command unrecognized");
		break;
	}
	return 0;
}

/* --- smtpcertctl show sessions, session kill ---------------------------- */

static const char *
session_state_name(const struct session *s)
{
	switch (s->state) {
	case S_TLS_HANDSHAKE:
		return "tls";
	case S_CERT_LOOKUP:
	case S_AUTH_LOOKUP:
		return "ldap-lookup";
	case S_AUTH_PLAIN:
	case S_AUTH_LOGIN_USER:
	case S_AUTH_LOGIN_PASS:
		return "auth";
	case S_UPSTREAM:
		return "upstream";
	case S_DATA:
	case S_DOT:
		return "data";
	default:
		return s->in_tx ? "transaction" : s->authenticated ?
		    "authenticated" : "command";
	}
}

/* `show sessions' rows, as proxy_show_sessions() sends them; "in" is
 * the message bytes relayed, an SMTP session has nothing else to count. */
unsigned
smtp_show_sessions(struct childproc *cp, uint64_t reqid, unsigned max)
{
	struct session	*s;
	struct msgbuild	 m;
	unsigned	 n = 0;

	msg_init(&m);
	TAILQ_FOREACH(s, &sessions, entry) {
		if (n >= max)
			break;
		n++;
		msg_reset(&m);
		msg_put_u64(&m, s->sess.id);
		msg_put_str(&m, config_listener_proto_name(s->sess.l));
		msg_put_str(&m, session_state_name(s));
		msg_put_str(&m, s->authenticated ? s->user : "");
		msg_put_str(&m, s->sess.addr);
		msg_put_str(&m, s->up != NULL ? upstream_peer(s->up) : "");
		msg_put_i64(&m, (int64_t)s->sess.started);
		msg_put_u64(&m, s->relayed);
		msg_put_u64(&m, 0);
		imsgev_send(&cp->parent, &m, IMSG_CTL_SESSION, 0, reqid, -1);
	}
	msg_free(&m);
	return n;
}

/*
 * `session kill': 421 and a clean close (flush, TLS close_notify).  Not
 * during a handshake, where no reply can go; and a message on its way
 * loses its upstream connection without the final dot, so the upstream
 * never delivers what the client will not hear was accepted.
 */
int
smtp_session_kill(uint64_t id)
{
	struct session	*s;

	TAILQ_FOREACH(s, &sessions, entry)
		if (s->sess.id == id)
			break;
	if (s == NULL)
		return -1;
	stats_inc(STAT_CONN_KILLED);
	if (s->sess.handshake) {
		session_abort(s, SESSION_KILLED);
		return 0;
	}
	if ((s->state == S_DATA || s->state == S_DOT) && s->up != NULL) {
		upstream_abort(s->up);
		s->up = NULL;
	}
	session_reply(s, 421, "4.3.2", "%s Session closed by the "
	    "administrator", s->sess.gen->conf->hostname);
	session_close(s, SESSION_KILLED);
	return 0;
}
