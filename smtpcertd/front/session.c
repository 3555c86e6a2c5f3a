/*
 * The skeleton of every client session (session.h): the steps the SMTP
 * gateway and the e-mail proxy take alike, from accept through the TLS
 * checks to the end line, so that a check added here guards both.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "certfields.h"
#include "certverify.h"
#include "compat.h"
#include "config.h"
#include "crl_front.h"
#include "front.h"
#include "fronts.h"
#include "io.h"
#include "kvlog.h"
#include "log.h"
#include "ocsp_front.h"
#include "session.h"
#include "stats.h"

static void	sess_io(struct io *, int, void *);
static void	sess_tls_done(struct sess *);
static void	sess_ocsp_cb(void *, int, const char *);
static void	sess_ready(struct sess *, int waited);
static void	sess_refuse(struct sess *, const char *);

int
sess_open(struct sess *s, const struct sess_ops *ops, uint64_t id, int fd,
    struct front_gen *g, const struct listener *l,
    const struct front_peer *peer, const char *proto, const char *proxy)
{
	s->ops = ops;
	s->id = id;
	s->l = l;
	s->proto = proto;
	s->proxy = proxy;
	s->started = time(NULL);
	strlcpy(s->addr, peer->addr, sizeof(s->addr));
	s->port = peer->port;
	if ((s->io = io_new(front_base(), fd, sess_io, s)) == NULL) {
		close(fd);
		return -1;
	}
	s->gen = g;
	io_set_timeout(s->io, l->limits.idle_timeout * 1000);
	return 0;
}

int
sess_connect(struct sess *s, enum front_count_kind kind)
{
	struct kvlog	 kv;

	sess_kv(s, &kv, "connect");
	kvlog_u64(&kv, "listener", s->l->index);
	kvlog_info(&kv);
	/* Across every front (fronts.h): ours counted, then everyone's. */
	s->counted = 1;
	s->kind = kind;
	if (front_counts_add(kind, 1) > (unsigned)s->l->limits.max_sessions) {
		stats_inc(STAT_CONN_TOOMANY);
		return -1;
	}
	return 0;
}

ssize_t
sess_start_tls(struct sess *s, const char *how)
{
	/* Ties io.c's "fd N" trace lines to the session. */
	log_trace(TRACE_TLS, "session=%012llx %s on fd %d",
	    (unsigned long long)s->id, how, io_fd(s->io));
	s->handshake = 1;
	return io_start_tls_server(s->io, s->gen->srv[s->l->index]);
}

/*
 * The fields every event line of a session starts with, the same names
 * for both: proto the protocol (the proxied one for the proxy), and for
 * the proxy its profile.
 */
void
sess_kv(struct sess *s, struct kvlog *kv, const char *event)
{
	kvlog_init(kv, s->id, event);
	kvlog_str(kv, "proto", s->proto);
	kvlog_addr(kv, "client", s->addr, s->port);
	if (s->proxy != NULL)
		kvlog_str(kv, "proxy", s->proxy);
}

void
sess_log_tls_failed(struct sess *s, const char *event, const char *why)
{
	const struct certverify_refusal	*r;
	struct kvlog			 kv;

	if (strcmp(event, "cert-refused") == 0)
		s->cert_refused = 1;
	r = certverify_logged(io_ssl(s->io), event);
	sess_kv(s, &kv, event);
	if (r != NULL)
		certverify_kv(&kv, r);
	certverify_reason(&kv, r, event, why);
	kvlog_info(&kv);
}

void
sess_kv_tlscert(struct sess *s, struct kvlog *kv, const char *cert)
{
	int	 tls = s->tlsver[0] != '\0';

	kvlog_str(kv, "tls", tls ? s->tlsver : "no");
	kvlog_str(kv, "cipher", tls ? s->cipher : NULL);
	kvlog_str(kv, "cert", cert);
	kvlog_str(kv, "cert-subject", s->cert_subject);
	kvlog_str(kv, "cert-serial", s->cert_serial);
	kvlog_str(kv, "cert-issuer", s->cert_issuer);
}

void
sess_kv_end(struct sess *s, struct kvlog *kv, const char *why)
{
	kvlog_i64(kv, "duration", (int64_t)(time(NULL) - s->started));
	kvlog_str(kv, "result", why);
	kvlog_info(kv);
}

void
sess_close(struct sess *s, int flush)
{
	if (s->io != NULL) {
		if (flush)
			io_close(s->io);
		else
			io_free(s->io);
		s->io = NULL;
	}
	if (s->ocsp_id)
		ocsp_front_cancel(s->ocsp_id);
	s->ocsp_id = 0;
	free(s->cert_subject);
	free(s->cert_serial);
	free(s->cert_issuer);
	s->cert_subject = s->cert_serial = s->cert_issuer = NULL;
	if (s->counted)
		front_counts_add(s->kind, -1);
	s->counted = 0;
	front_gen_unref(s->gen);
	s->gen = NULL;
}

static void
sess_io(struct io *io, int evt, void *arg)
{
	struct sess	*s = arg;

	switch (evt) {
	case IO_TLSREADY:
		s->handshake = 0;
		sess_tls_done(s);
		return;
	case IO_DATAIN:
	case IO_LOWAT:
		break;
	default:
		/* A handshake that did not finish: its own event, then the
		 * protocol's end. */
		if (!s->handshake)
			break;
		stats_inc(stats_tls_failure(evt == IO_TIMEOUT,
		    evt == IO_DISCONNECTED, io_error(io)));
		sess_log_tls_failed(s, "tls-failed", evt == IO_TIMEOUT ?
		    "TLS handshake timed out" : evt == IO_DISCONNECTED ?
		    "client disconnected during the TLS handshake" :
		    io_error(io) ? io_error(io) : "I/O error");
		break;
	}
	s->ops->io(s, evt);
}

/*
 * The handshake finished: the CRL check, then OCSP (issue 5), each of
 * which can refuse the certificate and end the session here, before the
 * protocol says a word.
 */
static void
sess_tls_done(struct sess *s)
{
	char	 why[1024], who[64];

	stats_inc(STAT_TLS_OK);
	/* For the log lines, also if the checks below refuse. */
	io_tls_names(s->io, s->tlsver, sizeof(s->tlsver), s->cipher,
	    sizeof(s->cipher));
	s->cipher_bits = io_tls_cipher_bits(s->io, &s->cipher_alg_bits);
	/* A revoked chain, or one without a fresh CRL under fail-closed
	 * (crl_front.c). */
	if (crl_front_check_client(s->gen->conf, s->l, s->io, s->addr, why,
	    sizeof(why)) == -1) {
		sess_refuse(s, why);
		return;
	}
	/* With `ocsp yes' the session stays paused, in its handshake state
	 * for the protocol, until crld answers (sess_ocsp_cb()). */
	snprintf(who, sizeof(who), "%s %012llx", s->ops->what,
	    (unsigned long long)s->id);
	switch (ocsp_front_check_client(s->gen->conf, s->l, s->io, who,
	    sess_ocsp_cb, s, &s->ocsp_id, why, sizeof(why))) {
	case -1:
		sess_refuse(s, why);
		return;
	case 1:
		io_pause(s->io);
		return;
	}
	sess_ready(s, 0);
}

static void
sess_ocsp_cb(void *arg, int refuse, const char *why)
{
	struct sess	*s = arg;

	s->ocsp_id = 0;
	if (refuse) {
		sess_refuse(s, why);
		return;
	}
	sess_ready(s, 1);
}

static void
sess_refuse(struct sess *s, const char *why)
{
	sess_log_tls_failed(s, "cert-refused", why);
	s->ops->refused(s, why);
}

/*
 * The certificate's names, as the handshake decoded it (the checks
 * above used the same), then the tls line and the protocol.  waited:
 * the session was paused for OCSP, what the client sent meanwhile is
 * buffered.
 */
static void
sess_ready(struct sess *s, int waited)
{
	enum sess_cert	 c = SESS_CERT_NONE;
	struct certfields cf;
	struct kvlog	 kv;
	const char	*certuser = NULL;
	int		 presented = io_tls_peer_cert_provided(s->io), goon;

	memset(&cf, 0, sizeof(cf));
	if (presented) {
		c = SESS_CERT_UNREADABLE;
		if (certfields_ident(io_tls_peer_cert(s->io), &cf) == 0) {
			s->cert_subject = strdup(cf.dn ? cf.dn : "");
			s->cert_serial = strdup(cf.sn ? cf.sn : "");
			s->cert_issuer = strdup(cf.issuer ? cf.issuer : "");
			c = SESS_CERT_READ;
		}
		if (s->ops->cert_user != NULL)
			certuser = s->ops->cert_user(s);
	}
	sess_kv(s, &kv, "tls");
	kvlog_str(&kv, "tls", s->tlsver);
	kvlog_str(&kv, "cipher", s->cipher);
	kvlog_str(&kv, "resumed", io_ssl(s->io) != NULL &&
	    SSL_session_reused(io_ssl(s->io)) ? "yes" : "no");
	kvlog_str(&kv, "cert", presented ? "presented" : "none");
	if (s->ops->cert_user != NULL) {
		kvlog_str(&kv, "cert-subject", s->cert_subject);
		kvlog_str(&kv, "cert-serial", s->cert_serial);
		kvlog_str(&kv, "cert-issuer", s->cert_issuer);
		kvlog_str(&kv, "cert-user", certuser);
	}
	kvlog_str(&kv, "cert-policy", certverify_policies(io_ssl(s->io)));
	kvlog_info(&kv);
	/* cf is ours, not the session's: it may be gone after ready(). */
	goon = s->ops->ready(s, c, &cf);
	certfields_free(&cf);
	if (!goon)
		return;
	if (waited)
		io_resume(s->io);
	else
		s->ops->io(s, IO_DATAIN);
}
