/*
 * ldapd-helper: the process that talks LDAP for the front.  Unprivileged,
 * not chrooted (it resolves names), sandboxed with Landlock and seccomp.
 * Started by the smtpcertd parent only.
 *
 * This file wires the process into childproc (start-up order, config
 * generations, peer channels) and dispatches messages; ldapd.h says
 * where the rest lives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <tls.h>

#include "childproc.h"
#include "confmsg.h"
#include "imsg.h"
#include "ldapd.h"
#include "log.h"
#include "proto.h"
#include "pkeydecode.h"
#include "sandbox.h"
#include "stats.h"

static void	ldapd_preinit(struct childproc *);
static void	ldapd_sandbox(struct childproc *);
static int	ldapd_config(struct childproc *, struct conf_bundle *,
		    struct conf_bundle *);
static void	ldapd_parent(struct childproc *, struct imsg *);
static void	ldapd_peer(struct childproc *, int, struct imsg *);
static void	ldapd_stats(struct childproc *);

/*
 * Everything that reads files or initialises libraries happens here,
 * before privileges and the sandbox go (see sandbox.h).
 */
static void
ldapd_preinit(struct childproc *cp)
{
	int	 v3 = LDAP_VERSION3;

	env->cp = cp;
	env->base = cp->base;
	TAILQ_INIT(&env->reqs);
	lookup_init();

	/*
	 * No ldap.conf, ~/.ldaprc or ./ldaprc: we run as root here, in
	 * whatever directory we were started from, and every option that
	 * matters is set per connection from smtpcertd.conf.
	 */
	if (setenv("LDAPNOINIT", "1", 1) == -1)
		fatal("setenv");
	if (ldap_set_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &v3) !=
	    LDAP_OPT_SUCCESS)
		fatalx("libldap initialisation failed");
	/* TLS to the servers is libtls's (ldap_conn.c), never libldap's;
	 * OpenSSL reads its configuration now, not in the sandbox. */
	if (tls_init() == -1)
		fatalx("tls_init");

	/* resolv.conf and /etc/hosts, read now; DISABLE_WHEN_INACTIVE so
	 * an idle resolver does not keep the loop alive. */
	env->dns = evdns_base_new(cp->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (env->dns == NULL)
		log_warnx("no DNS resolver configuration: LDAP servers must "
		    "be given by address");

	if (RAND_bytes(env->pwkey, sizeof(env->pwkey)) != 1)
		fatalx("RAND_bytes");
	/* A certificate query not in the cache parses the certificate:
	 * decode its key the direct way (pkeydecode.h). */
	pkeydecode_init();
}

static void
ldapd_sandbox(struct childproc *cp)
{
	sandbox_ldapd();
}

/*
 * A new generation serves new lookups at once; the old one stays alive
 * (with its config bundle, which we keep by returning 1) until its last
 * lookup is done.  See ldap_profile.c.
 */
static int
ldapd_config(struct childproc *cp, struct conf_bundle *new,
    struct conf_bundle *old)
{
	struct lgen	*g, *prev = env->cur;
	struct lprofile	*p;
	int		 n = 0;

	g = lgen_new(new);
	TAILQ_FOREACH(p, &g->profiles, entry)
		n++;
	env->cur = g;
	if (prev != NULL)
		lgen_unref(prev);
	log_info("configuration generation %llu: %d ldap profile(s)",
	    (unsigned long long)new->gen, n);
	return old != NULL ? 1 : 0;
}

static void
ldapd_parent(struct childproc *cp, struct imsg *imsg)
{
	size_t		 n = 0;

	switch (imsg->hdr.type) {
	case IMSG_LDAP_FLUSH:
		if (imsg->datalen != 0)
			fatalx("malformed IMSG_LDAP_FLUSH from parent");
		if (env->cur != NULL) {
			n = lgen_cache_count(env->cur);
			lgen_flush(env->cur);
		}
		log_info("ldap caches flushed (%zu entries)", n);
		return;
	}
	fatalx("unexpected %s from parent", imsg_type_name(imsg->hdr.type));
}

/* `show stats': the one gauge, answers held in the caches. */
static void
ldapd_stats(struct childproc *cp)
{
	stats_set(STAT_LDAP_CACHE_ENTRIES, env->cur != NULL ?
	    lgen_cache_count(env->cur) : 0);
}

static void
ldapd_peer(struct childproc *cp, int proc, struct imsg *imsg)
{
	uint64_t	 id;

	if (imsg == NULL) {
		/* A front restarted or left: nobody waits for its lookups
		 * (the other fronts' go on). */
		lookup_front_gone(proc);
		return;
	}
	/* The answer goes back on this front's channel (proto.h). */
	id = reqid_tag(proc, imsg->hdr.reqid);
	switch (imsg->hdr.type) {
	case IMSG_LDAP_CERT_REQ:
		lookup_cert(id, imsg);
		return;
	case IMSG_LDAP_AUTH_REQ:
		lookup_auth(id, imsg);
		return;
	case IMSG_LDAP_AUTHZ_REQ:
		lookup_authz(id, imsg);
		return;
	case IMSG_LDAP_ALLOW_REQ:
		lookup_allow(id, imsg);
		return;
	}
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(proc));
}

static const struct childproc_ops ldapd_ops = {
	.proc = PROC_LDAPD,
	.peers = 1U << PROC_FRONT,
	.preinit = ldapd_preinit,
	.sandbox = ldapd_sandbox,
	.config = ldapd_config,
	.parent_imsg = ldapd_parent,
	.peer_imsg = ldapd_peer,
	.stats = ldapd_stats,
};

int
main(int argc, char *argv[])
{
	return childproc_run(argc, argv, &ldapd_ops, NULL);
}
