/*
 * The front process: unprivileged, chrooted to an empty directory,
 * sandboxed.  It owns the listening sockets the parent passes down and
 * speaks the mail protocols over libtls on one libevent loop; it never
 * reads a file, resolves a name or blocks.
 *
 * Each configuration generation gets its own TLS contexts, built from the
 * certificates and keys the parent sent as memory; the key copies are
 * wiped as soon as libtls has them.  Sessions keep the generation they
 * started with; new sessions take the newest.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "childproc.h"
#include "config.h"
#include "confmsg.h"
#include "crl_front.h"
#include "front.h"
#include "log.h"
#include "lookup.h"
#include "proto.h"
#include "sandbox.h"
#include "smtpcertd.h"

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
		if (g->srv[i] != NULL)
			tls_free(g->srv[i]);
	for (i = 0; i < g->nrelay; i++)
		if (g->relaycfg[i] != NULL)
			tls_config_free(g->relaycfg[i]);
	free(g->srv);
	free(g->relaycfg);
	conf_bundle_free(g->b);
	free(g);
}

void
front_gen_unref(struct front_gen *g)
{
	if (g != NULL && --g->refcnt == 0)
		front_gen_free(g);
}

struct tls_config *
front_relay_tlsconf(struct front_gen *g, const struct relay *r)
{
	const struct relay	*it;
	size_t			 i = 0;

	TAILQ_FOREACH(it, &g->conf->relays, entry) {
		if (it == r)
			return i < g->nrelay ? g->relaycfg[i] : NULL;
		i++;
	}
	return NULL;
}

/* A listener's server context: our key pair, the CAs we accept client
 * certificates from, and whether to ask for one. */
static struct tls *
front_server_ctx(struct conf_bundle *b, const struct listener *l)
{
	const struct conf_blob	*pki, *ca = NULL;
	struct tls_config	*cfg;
	struct tls		*ctx = NULL;
	int			 verify = 0, required = 0;

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
	if (l->policy != NULL && l->policy->verify_client_cert) {
		verify = 1;
		/* TLS required + verify: a valid certificate is the ticket
		 * in, so the handshake itself demands one. */
		required = l->policy->tls == POLICY_TLS_REQUIRED;
	}
	if ((cfg = tls_config_new()) == NULL)
		fatal("tls_config_new");
	if (tls_config_set_keypair_mem(cfg, pki->a, pki->alen, pki->b,
	    pki->blen) == -1) {
		log_warnx("listener %u: %s", l->index, tls_config_error(cfg));
		goto done;
	}
	if (ca != NULL && tls_config_set_ca_mem(cfg, ca->a, ca->alen) == -1) {
		log_warnx("listener %u: %s", l->index, tls_config_error(cfg));
		goto done;
	}
	if (verify && ca != NULL) {
		if (required)
			tls_config_verify_client(cfg);
		else
			tls_config_verify_client_optional(cfg);
	}
	if ((ctx = tls_server()) == NULL)
		fatal("tls_server");
	if (tls_configure(ctx, cfg) == -1) {
		log_warnx("listener %u: %s", l->index, tls_error(ctx));
		tls_free(ctx);
		ctx = NULL;
	}
done:
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
	return ctx;
}

static struct tls_config *
front_relay_cfg(struct conf_bundle *b, const struct relay *r)
{
	const struct conf_blob	*ca;
	struct tls_config	*cfg;

	if ((cfg = tls_config_new()) == NULL)
		fatal("tls_config_new");
	ca = conf_bundle_blob(b, IMSG_CONF_CA, r->ca_name != NULL ?
	    r->ca_name : CA_SYSTEM);
	if (ca != NULL) {
		if (tls_config_set_ca_mem(cfg, ca->a, ca->alen) == -1)
			log_warnx("relay %s: %s", r->name,
			    tls_config_error(cfg));
	} else if (r->tls != UPSTREAM_TLS_NONE)
		log_warnx("relay %s: no CA certificates to verify the "
		    "upstream with; TLS to it will fail", r->name);
	return cfg;
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
	switch (fl->l->proto) {
	case LISTEN_SMTP:
	case LISTEN_SMTPS:
		smtp_session_accept(fd, fl->l);
		break;
	default:
		/* The e-mail proxy is not served yet. */
		log_warnx("listener %u: %s sessions are not served yet",
		    fl->l->index, config_listener_proto_name(fl->l));
		close(fd);
		break;
	}
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
	struct relay		*r;
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
	TAILQ_FOREACH(r, &nb->conf->relays, entry)
		g->nrelay++;
	if ((g->relaycfg = calloc(g->nrelay ? g->nrelay : 1,
	    sizeof(*g->relaycfg))) == NULL)
		fatal(NULL);
	i = 0;
	TAILQ_FOREACH(r, &nb->conf->relays, entry)
		g->relaycfg[i++] = front_relay_cfg(nb, r);
	/* libtls holds the keys now; our copies go. */
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
	if (imsg == NULL)
		return;
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(proc));
}

static void
front_preinit(struct childproc *cp)
{
	/* libtls loads OpenSSL's configuration: do it while files can
	 * still be read. */
	if (tls_init() == -1)
		fatalx("tls_init");
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
	smtp_session_init();
	sandbox_front();
}

static const struct childproc_ops front_ops = {
	.proc = PROC_FRONT,
	.peers = (1U << PROC_LDAPD) | (1U << PROC_CRLD),
	.preinit = front_preinit,
	.chroot_dir = front_chroot,
	.sandbox = front_sandboxed,
	.config = front_config,
	.parent_imsg = crl_front_parent_imsg,	/* the CRL set */
	.peer_imsg = front_peer,
	.peer_up = front_peer_up,
	.shutdown = front_shutdown,
};

int
front_main(int foreground, int verbose)
{
	return childproc_main(&front_ops, foreground, verbose, &front_state);
}
