/*
 * The front process: unprivileged, chrooted to an empty directory,
 * sandboxed.  It owns the listening sockets the parent passes down and
 * speaks the mail protocols over TLS on one libevent loop; it never
 * reads a file, resolves a name or blocks.
 *
 * Each configuration generation gets its own TLS contexts (front_gen.c);
 * here, the listening events of the newest one and the messages of the
 * parent and the other processes.
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

struct front_listener {
	struct event		*ev;
	const struct listener	*l;	/* of the newest generation */
};

/* The listeners of the newest generation; the generations themselves and
 * the process's event base are front_gen.c's. */
struct front {
	struct childproc	*cp;
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
	size_t			 i;

	front_state.cp = cp;
	front_gen_proc(cp);
	g = front_gen_new(nb);
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
	front_gen_install(g);
	log_debug("%zu listeners active", nb->nlfds);
	/* The generation owns the bundle now. */
	return 1;
}

static void
front_peer_up(struct childproc *cp, int proc)
{
	front_state.cp = cp;
	front_gen_proc(cp);
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
	if (authfail_front_parent_imsg(imsg))
		return;
	if (imsg->hdr.type == IMSG_TICKET_SEED) {
		unsigned char	 seed[TLSRESUME_SEED_LEN];

		if (imsg_get_data(imsg, seed, sizeof(seed)) == -1)
			fatalx("malformed IMSG_TICKET_SEED from parent");
		tlsresume_seed(seed);
		explicit_bzero(seed, sizeof(seed));
		return;
	}
	if (imsg->hdr.type == IMSG_FRONT_EVICT) {
		struct {
			uint64_t	 key;
			uint32_t	 from, unused;
		} ev;

		if (imsg_get_data(imsg, &ev, sizeof(ev)) == -1 ||
		    ev.from >= (uint32_t)front_total() ||
		    ev.from == (uint32_t)front_number())
			fatalx("malformed IMSG_FRONT_EVICT from parent");
		/* Before the first configuration there is nothing to
		 * evict. */
		if (front_gen_ready())
			proxy_evict_request(ev.key, (int)ev.from);
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
	front_gen_proc(cp);
	lookup_init(cp);
	ocsp_front_init(cp);	/* issue 5 item 7 */
	keysign_start(cp);
	smtp_session_init();
	proxy_session_init();
	authfail_front_init(cp);
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
