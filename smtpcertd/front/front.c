/*
 * The front process: unprivileged, chrooted to an empty directory,
 * sandboxed.  It owns the listening sockets the parent passes down and
 * speaks the mail protocols over TLS on one libevent loop; it never
 * reads a file, resolves a name or blocks.
 *
 * Each configuration generation gets its own TLS contexts, built from the
 * certificates and keys the parent sent as memory: libssl server contexts
 * for the listeners (common/tlsserver.c), libtls client configurations
 * towards relays and back ends.  The listeners' private keys never come
 * here: the keys process holds them and signs for us (keysign.c).  Sessions keep the generation they started
 * with; new sessions take the newest.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <tls.h>

#include "childproc.h"
#include "config.h"
#include "confmsg.h"
#include "certverify.h"
#include "crl_front.h"
#include "ctltest.h"
#include "authfail.h"
#include "evmem.h"
#include "front.h"
#include "fronts.h"
#include "keysign.h"
#include "tlsresume.h"
#include "log.h"
#include "pkeydecode.h"
#include "lookup.h"
#include "ocsp_front.h"
#include "proto.h"
#include "sandbox.h"
#include "smtpcertd.h"
#include "tlsserver.h"

/* The parent's name for the system CA bundle blob. */
#define CA_SYSTEM	"@system"

struct front_listener {
	struct event		*ev;
	const struct listener	*l;	/* of the newest generation */
};

struct front {
	struct childproc	*cp;
	struct front_gen	*gen;		/* newest */
	struct front_listener	*listeners;
	size_t			 nlisteners;
};

static struct front	 front_state;

struct event_base *
front_base(void)
{
	return front_state.cp->base;
}

struct front_gen *
front_gen_ref(void)
{
	front_state.gen->refcnt++;
	return front_state.gen;
}

static void
front_gen_free(struct front_gen *g)
{
	size_t	 i;

	for (i = 0; i < g->nsrv; i++)
		tlsserver_free(g->srv[i]);
	for (i = 0; i < g->nclient; i++) {
		if (g->clientcfg[i] != NULL)
			tls_config_free(g->clientcfg[i]);
		free(g->clientca[i]);
	}
	free(g->srv);
	free(g->clientcfg);
	free(g->clientca);
	free(g->clientopts);
	conf_bundle_free(g->b);
	free(g);
}

void
front_gen_unref(struct front_gen *g)
{
	if (g != NULL && --g->refcnt == 0)
		front_gen_free(g);
}

struct childproc *
front_childproc(void)
{
	return front_state.cp;
}

struct tls_config *
front_client_tlsconf(struct front_gen *g, const char *ca)
{
	return front_client_tlsconf_opts(g, ca, NULL);
}

struct tls_config *
front_client_tlsconf_opts(struct front_gen *g, const char *ca,
    const struct tls_opts *opts)
{
	size_t	 i;

	if (ca == NULL)
		ca = CA_SYSTEM;
	/* With no settings of its own nor global ones, the shared one. */
	if (opts != NULL && !tlsopts_isset(opts) &&
	    !tlsopts_isset(&g->conf->tls))
		opts = NULL;
	for (i = 0; i < g->nclient; i++)
		if (g->clientopts[i] == opts && strcmp(g->clientca[i], ca) == 0)
			return g->clientcfg[i];
	return NULL;
}

struct tls_config *
front_relay_tlsconf(struct front_gen *g, const struct relay *r)
{
	struct tls_config	*cfg;

	if ((cfg = front_client_tlsconf_opts(g, r->ca_name, &r->tlsopts)) ==
	    NULL)
		log_warnx("relay %s: no CA certificates to verify the "
		    "upstream with", r->name);
	return cfg;
}

/*
 * What decides trust on a listener, as its session id context: a
 * session made under other CAs, policies, revocation settings or
 * certificate requirements is not resumed (OpenSSL declines it), so a
 * reload that changes them ends resumption for the old sessions.
 */
static void
front_sid_ctx(const struct conf_bundle *b, const struct listener *l,
    const struct conf_blob *ca, enum tlsserver_verify verify,
    int crl_check, unsigned char out[32])
{
	EVP_MD_CTX	*md;
	struct tls_opts	 to;
	const char	*s;
	int32_t		 v[9];
	int		 i;

	memset(v, 0, sizeof(v));
	v[0] = (int32_t)l->index;
	v[1] = (int32_t)verify;
	v[2] = crl_check;
	v[3] = (int32_t)b->conf->crl_stale;
	v[4] = l->tlsopts.security_level != -1 ? l->tlsopts.security_level :
	    b->conf->tls_security_level;
	if (l->ca != NULL) {
		v[5] = l->ca->require_explicit_policy;
		v[6] = l->ca->inhibit_policy_mapping;
		v[7] = l->ca->inhibit_any_policy;
	}
	/* The TLS settings too: a TLS 1.2 session keeps its cipher, which
	 * a tightened cipher list (or profile) must not let back in. */
	tlsopts_effective(&to, &l->tlsopts, &b->conf->tls);
	v[8] = to.profile;
	if (to.profile == TLS_PROFILE_STRICT &&
	    v[4] < TLS_STRICT_SECURITY_LEVEL)
		v[4] = TLS_STRICT_SECURITY_LEVEL;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, "smtpcertd listener", 18) != 1 ||
	    EVP_DigestUpdate(md, v, sizeof(v)) != 1 ||
	    (ca != NULL && EVP_DigestUpdate(md, ca->a, ca->alen) != 1))
		fatalx("%s: digest", __func__);
	for (i = 0; i < 4; i++) {
		s = i == 0 ? to.protocols : i == 1 ? to.ciphers : i == 2 ?
		    to.ciphersuites : to.groups;
		if (EVP_DigestUpdate(md, s != NULL ? s : "", s != NULL ?
		    strlen(s) + 1 : 1) != 1)
			fatalx("%s: digest", __func__);
	}
	for (i = 0; l->ca != NULL && i < l->ca->npolicies; i++)
		if (EVP_DigestUpdate(md, l->ca->policies[i],
		    strlen(l->ca->policies[i]) + 1) != 1)
			fatalx("%s: digest", __func__);
	if (EVP_DigestFinal_ex(md, out, NULL) != 1)
		fatalx("%s: digest", __func__);
	EVP_MD_CTX_free(md);
}

/*
 * A listener's server context: our key pair, the CAs we accept client
 * certificates from, and whether to ask for one (SPEC 3.2).
 */
static struct tlsserver *
front_server_ctx(struct conf_bundle *b, const struct listener *l)
{
	const struct conf_blob	*pki, *ca = NULL;
	struct tlsserver	*ts;
	enum tlsserver_verify	 verify = TLSSERVER_VERIFY_NONE;
	struct certverify_opts	 vo;
	struct tls_opts		 to;
	int			 level;
	unsigned char		 sid[32];
	char			 err[512];

	if ((pki = conf_bundle_blob(b, IMSG_CONF_PKI, l->pki_name)) == NULL) {
		log_warnx("listener %u: no key pair %s", l->index,
		    l->pki_name);
		return NULL;
	}
	if (l->ca_name != NULL &&
	    (ca = conf_bundle_blob(b, IMSG_CONF_CA, l->ca_name)) == NULL) {
		log_warnx("listener %u: no ca %s", l->index, l->ca_name);
		return NULL;
	}
	if (ca != NULL && l->policy != NULL &&
	    l->policy->verify_client_cert) {
		/* TLS required + verify: a valid certificate is the ticket
		 * in, so the handshake itself demands one. */
		verify = l->policy->tls == POLICY_TLS_REQUIRED ?
		    TLSSERVER_VERIFY_REQUIRED : TLSSERVER_VERIFY_OPTIONAL;
	}
	/* An e-mail proxy asks for a certificate only when it may name the
	 * user; a client without one can still use the other methods. */
	if (ca != NULL && l->proxy != NULL &&
	    config_proxy_has_auth(l->proxy, PROXY_AUTH_CERTIFICATE) &&
	    verify == TLSSERVER_VERIFY_NONE)
		verify = TLSSERVER_VERIFY_OPTIONAL;
	/* No key: the keys process holds it (keysign.c). */
	if ((ts = tlsserver_new(pki->a, pki->alen, pki->blen > 0 ? pki->b :
	    NULL, pki->blen,
	    ca != NULL ? ca->a : NULL, ca != NULL ? ca->alen : 0, verify, err,
	    sizeof(err))) == NULL) {
		log_warnx("listener %u: %s", l->index, err);
		return NULL;
	}
	/* The listener's TLS settings over the global ones; its security
	 * level (or the global one) also judges client certificates. */
	tlsopts_effective(&to, &l->tlsopts, &b->conf->tls);
	if (l->tlsopts.security_level != -1)
		level = l->tlsopts.security_level;
	else
		level = b->conf->tls_security_level;
	if (to.profile == TLS_PROFILE_STRICT &&
	    level < TLS_STRICT_SECURITY_LEVEL)
		level = TLS_STRICT_SECURITY_LEVEL;
	if (tlsserver_settings(ts, &to, err, sizeof(err)) == -1) {
		log_warnx("listener %u: %s", l->index, err);
		tlsserver_free(ts);
		return NULL;
	}
	if (level >= 0)
		SSL_CTX_set_security_level(tlsserver_ctx(ts), level);
	if (verify != TLSSERVER_VERIFY_NONE) {
		/* RFC 5280 validation in the handshake (certverify.c). */
		memset(&vo, 0, sizeof(vo));
		vo.crl_check = (l->proto == LISTEN_SMTP ||
		    l->proto == LISTEN_SMTPS) ? b->conf->crl_check_inbound :
		    b->conf->crl_check_proxy;
		vo.stale = b->conf->crl_stale;
		vo.ca = l->ca;
		vo.security_level = level;
		if (certverify_server_ctx(tlsserver_ctx(ts), &vo, ca->a,
		    ca->alen, err, sizeof(err)) == -1) {
			log_warnx("listener %u: %s", l->index, err);
			tlsserver_free(ts);
			return NULL;
		}
	}
	front_sid_ctx(b, l, ca, verify, (l->proto == LISTEN_SMTP ||
	    l->proto == LISTEN_SMTPS) ? b->conf->crl_check_inbound :
	    b->conf->crl_check_proxy, sid);
	tlsresume_ctx(tlsserver_ctx(ts), b->conf->tls_session_lifetime != -1 ?
	    b->conf->tls_session_lifetime : TLSRESUME_LIFETIME_DEFAULT,
	    b->conf->tls_session_cache != -1 ? b->conf->tls_session_cache :
	    TLSRESUME_CACHE_DEFAULT, sid);
	return ts;
}

/* One client configuration: a CA bundle and TLS settings (NULL: none). */
static void
front_client_cfg(struct front_gen *g, struct conf_bundle *b,
    const char *name, const struct tls_opts *opts)
{
	const struct conf_blob	*blob;
	struct tls_config	*cfg;
	struct tls_opts		 e;
	char			 err[512];

	if ((blob = conf_bundle_blob(b, IMSG_CONF_CA, name)) == NULL)
		return;		/* no system bundle on this host */
	if ((cfg = tls_config_new()) == NULL)
		fatal("tls_config_new");
	if (tls_config_set_ca_mem(cfg, blob->a, blob->alen) == -1)
		log_warnx("ca %s: %s", name, tls_config_error(cfg));
	if (opts != NULL) {
		/* Settings of the relay or back end over the global ones;
		 * one that cannot be applied fails TLS, not open. */
		tlsopts_effective(&e, opts, &b->conf->tls);
		if (tlsopts_apply_client(cfg, &e, err, sizeof(err)) == -1) {
			log_warnx("ca %s: TLS settings: %s", name, err);
			tls_config_free(cfg);
			return;
		}
	}
	if ((g->clientca[g->nclient] = strdup(name)) == NULL)
		fatal(NULL);
	g->clientopts[g->nclient] = opts;
	g->clientcfg[g->nclient++] = cfg;
}

/*
 * Client configurations: one per CA bundle, shared by every relay and
 * proxy back end that names the bundle and sets nothing else, plus one
 * for each relay and back end with TLS settings (its own, or global
 * ones).  A bundle that does not load gives a configuration without
 * CAs: verification, and so TLS, then fails.
 */
static void
front_client_cfgs(struct front_gen *g, struct conf_bundle *b)
{
	struct smtpcertd_conf	*conf = b->conf;
	struct ca		*ca;
	struct relay		*r;
	struct proxy_profile	*px;
	struct proxy_server	*ps;
	size_t			 n = 1;
	int			 global = tlsopts_isset(&conf->tls);

	TAILQ_FOREACH(ca, &conf->cas, entry)
		n++;
	TAILQ_FOREACH(r, &conf->relays, entry)
		n++;
	TAILQ_FOREACH(px, &conf->proxies, entry) {
		n++;
		TAILQ_FOREACH(ps, &px->allowed, entry)
			n++;
	}
	if ((g->clientcfg = calloc(n, sizeof(*g->clientcfg))) == NULL ||
	    (g->clientca = calloc(n, sizeof(*g->clientca))) == NULL ||
	    (g->clientopts = calloc(n, sizeof(*g->clientopts))) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(ca, &conf->cas, entry)
		front_client_cfg(g, b, ca->name, NULL);
	front_client_cfg(g, b, CA_SYSTEM, NULL);
#define WITH_OPTS(ca_name, o) do {					\
	if (global || tlsopts_isset(o))					\
		front_client_cfg(g, b, (ca_name) != NULL ? (ca_name) :	\
		    CA_SYSTEM, (o));					\
} while (0)
	TAILQ_FOREACH(r, &conf->relays, entry)
		WITH_OPTS(r->ca_name, &r->tlsopts);
	TAILQ_FOREACH(px, &conf->proxies, entry) {
		if ((ps = px->default_server) != NULL)
			WITH_OPTS(ps->ca_name, &ps->tlsopts);
		TAILQ_FOREACH(ps, &px->allowed, entry)
			WITH_OPTS(ps->ca_name, &ps->tlsopts);
	}
#undef WITH_OPTS
}

static const char *
front_chroot(struct childproc *cp)
{
	return cp->conf->conf->chroot;
}

static void
front_accept(evutil_socket_t lfd, short ev, void *arg)
{
	struct front_listener	*fl = arg;
	int			 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept on listener %u", fl->l->index);
		return;
	}
	/* accept.c: the PROXY header if the listener has one, then the
	 * session. */
	accept_connection(fd, fl->l);
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
 * A new generation: build its TLS contexts, then swap the listening
 * events over to its sockets.  The parent reuses sockets for unchanged
 * addresses, so nothing in the accept queues is lost.
 */
static int
front_config(struct childproc *cp, struct conf_bundle *nb,
    struct conf_bundle *ob)
{
	struct front_gen	*g;
	struct front_listener	*fl;
	struct listener		*l;
	size_t			 i;

	front_state.cp = cp;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		fatal(NULL);
	g->b = nb;
	g->conf = nb->conf;
	g->refcnt = 1;
	g->nsrv = nb->conf->nlisteners;
	if ((g->srv = calloc(g->nsrv ? g->nsrv : 1, sizeof(*g->srv))) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(l, &nb->conf->listeners, entry)
		if (l->index < g->nsrv)
			g->srv[l->index] = front_server_ctx(nb, l);
	front_client_cfgs(g, nb);
	/* The server contexts hold the keys now; our copies go. */
	conf_bundle_wipe(nb, IMSG_CONF_PKI);
	/* CA certificates to find intermediates for revocation checks. */
	crl_front_config(nb);

	front_close_listeners();
	if ((front_state.listeners = calloc(nb->nlfds ? nb->nlfds : 1,
	    sizeof(*fl))) == NULL)
		fatal(NULL);
	front_state.nlisteners = nb->nlfds;
	for (i = 0; i < nb->nlfds; i++) {
		fl = &front_state.listeners[i];
		fl->l = config_find_listener(nb->conf, i);
		if (nb->lfds[i] == -1 || fl->l == NULL)
			continue;
		if (g->srv[i] == NULL) {
			log_warnx("listener %u: no TLS context, not "
			    "accepting connections on it", (unsigned)i);
			continue;
		}
		fl->ev = event_new(cp->base, nb->lfds[i], EV_READ | EV_PERSIST,
		    front_accept, fl);
		event_add(fl->ev, NULL);
	}
	if (ob != NULL && front_state.gen != NULL)
		front_gen_unref(front_state.gen);
	front_state.gen = g;
	log_debug("%zu listeners active", nb->nlfds);
	/* The generation owns the bundle now. */
	return 1;
}

static void
front_peer_up(struct childproc *cp, int proc)
{
	front_state.cp = cp;
}

static void
front_peer(struct childproc *cp, int proc, struct imsg *imsg)
{
	if (proc == PROC_LDAPD) {
		lookup_dispatch(imsg);
		return;
	}
	/* Issue 14: the keys process's answers (keysign.c). */
	if (proc == PROC_KEYS) {
		keysign_dispatch(imsg);
		return;
	}
	/* Issue 5 item 7: crld's OCSP answers (ocsp_front.c). */
	if (proc == PROC_CRLD) {
		ocsp_front_dispatch(imsg);
		return;
	}
	if (imsg == NULL)
		return;
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(proc));
}

/* An answer to a control request the parent passed on (reqid: the
 * control client's id, for the parent to relay). */
static void
front_ctl_reply(struct childproc *cp, uint64_t reqid, uint32_t type,
    const char *text)
{
	struct msgbuild	 m;

	msg_init(&m);
	msg_put_str(&m, text);
	imsgev_send(&cp->parent, &m, type, 0, reqid, -1);
	msg_free(&m);
}

/* Issue 17: a failure counted here, for the other fronts (fronts.h). */
static void
front_authfail_note(const char *user, const char *addr, time_t window)
{
	struct msgbuild	 m;

	if (front_total() <= 1 || front_state.cp == NULL)
		return;
	msg_init(&m);
	msg_put_u32(&m, (uint32_t)window);
	msg_put_str(&m, user != NULL ? user : "");
	msg_put_str(&m, addr != NULL ? addr : "");
	imsgev_send(&front_state.cp->parent, &m, IMSG_AUTHFAIL_NOTE, 0, 0, -1);
	msg_free(&m);
}

/* Another front's failure, passed on by the parent. */
static void
front_authfail_peer(struct imsg *imsg)
{
	struct msgreader	 r;
	char			*user, *addr;
	uint32_t		 window;

	msg_reader(&r, imsg);
	window = msg_get_u32(&r);
	user = msg_get_str(&r, AUTHFAIL_KEY_MAX);
	addr = msg_get_str(&r, AUTHFAIL_KEY_MAX);
	if (msg_end(&r) == -1)
		fatalx("malformed IMSG_AUTHFAIL_NOTE from parent");
	authfail_record_peer(user[0] != '\0' ? user : NULL, addr, window,
	    time(NULL));
	free(user);
	free(addr);
}

/* From the parent: the revocation set, and control requests. */
static void
front_parent_imsg(struct childproc *cp, struct imsg *imsg)
{
	uint64_t	 id;
	unsigned	 n;
	char		 text[128];

	/* Issue 17: several fronts (fronts.h). */
	if (imsg->hdr.type == IMSG_FRONT_COUNTS) {
		if (front_counts_imsg(imsg) == -1)
			fatalx("malformed IMSG_FRONT_COUNTS from parent");
		return;
	}
	if (imsg->hdr.type == IMSG_AUTHFAIL_NOTE) {
		front_authfail_peer(imsg);
		return;
	}

	if (imsg->hdr.type == IMSG_CTL_SHOW_SESSIONS) {
		if (imsg->datalen != 0)
			fatalx("malformed IMSG_CTL_SHOW_SESSIONS from parent");
		/* SMTP and proxy sessions, one answer bounded as a whole. */
		n = smtp_show_sessions(cp, imsg->hdr.reqid, ACCT_MAX_SESSIONS);
		proxy_show_sessions(cp, imsg->hdr.reqid,
		    ACCT_MAX_SESSIONS - n);
		imsgev_compose(&cp->parent, IMSG_CTL_END, 0, imsg->hdr.reqid,
		    -1, NULL, 0);
		return;
	}
	if (imsg->hdr.type == IMSG_CTL_SESSION_KILL) {
		if (imsg_get_data(imsg, &id, sizeof(id)) == -1)
			fatalx("malformed IMSG_CTL_SESSION_KILL from parent");
		/* One id space as `show sessions' prints it; proxy ids
		 * are kept apart from SMTP ones (proxy_session_init). */
		if (smtp_session_kill(id) == 0 || proxy_session_kill(id) == 0) {
			snprintf(text, sizeof(text), "session %012llx killed",
			    (unsigned long long)id);
			front_ctl_reply(cp, imsg->hdr.reqid, IMSG_CTL_OK, text);
		} else {
			snprintf(text, sizeof(text), "no such session: %012llx",
			    (unsigned long long)id);
			front_ctl_reply(cp, imsg->hdr.reqid, IMSG_CTL_FAIL, text);
		}
		return;
	}
	/* Issue 15 item 3: smtpcertctl test certificate|login. */
	if (imsg->hdr.type == IMSG_CTL_TEST_CERT) {
		ctltest_cert(cp, imsg);
		return;
	}
	if (imsg->hdr.type == IMSG_CTL_TEST_LOGIN) {
		ctltest_login(cp, imsg);
		return;
	}
	crl_front_parent_imsg(cp, imsg);
}

static void
front_preinit(struct childproc *cp)
{
	/* libtls (and so OpenSSL, which the server contexts use
	 * directly) loads OpenSSL's configuration: do it while files can
	 * still be read. */
	if (tls_init() == -1)
		fatalx("tls_init");
	/* Before any certificate is parsed: the keys of client chains
	 * are decoded the direct way (pkeydecode.h). */
	pkeydecode_init();
	certverify_init();
	/* Listener keys are the keys process's (issue 14). */
	keysign_init();
	tlsserver_set_keyfn(keysign_pkey);
	tlsresume_init();
}

static void
front_shutdown(struct childproc *cp)
{
	front_close_listeners();
}

static void
front_sandboxed(struct childproc *cp)
{
	front_state.cp = cp;
	lookup_init(cp);
	ocsp_front_init(cp);	/* issue 5 item 7 */
	keysign_start(cp);
	smtp_session_init();
	proxy_session_init();
	authfail_note = front_authfail_note;
	sandbox_front();
}

static const struct childproc_ops front_ops = {
	.proc = PROC_FRONT,
	.peers = (1U << PROC_LDAPD) | (1U << PROC_CRLD) | (1U << PROC_KEYS),
	.preinit = front_preinit,
	.chroot_dir = front_chroot,
	.sandbox = front_sandboxed,
	.config = front_config,
	.parent_imsg = front_parent_imsg,
	.peer_imsg = front_peer,
	.peer_up = front_peer_up,
	.shutdown = front_shutdown,
};

int
front_main(int foreground, int verbose)
{
	/* Before libevent allocates anything: its tables live apart from
	 * the sessions' memory, so a burst's memory can go back (evmem.h). */
	if (evmem_install() == -1)
		errx(1, "libevent without memory replacement");
	return childproc_main(&front_ops, foreground, verbose, &front_state);
}
