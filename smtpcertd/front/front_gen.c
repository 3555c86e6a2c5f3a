/*
 * The front's configuration generations (front.h): for each
 * configuration the parent sends, the TLS contexts built from the
 * certificates and keys it sent as memory -- libssl server contexts for
 * the listeners (common/tlsserver.c), libtls client configurations
 * towards relays and back ends -- and the reference counts that let
 * running sessions finish under the generation they started with while
 * new ones take the newest.  The listeners' private keys never come
 * here: the keys process holds them and signs for us (keysign.c).
 *
 * Everything a session needs of the process (the event base, the
 * childproc handle, the newest generation) is asked of this file, which
 * calls no session code: front.c (the process's main and its messages)
 * and the sessions use it, not the other way round.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <tls.h>

#include "childproc.h"
#include "config.h"
#include "confmsg.h"
#include "certverify.h"
#include "front.h"
#include "log.h"
#include "proto.h"
#include "tlsresume.h"
#include "tlsserver.h"

/* The parent's name for the system CA bundle blob. */
#define CA_SYSTEM	"@system"

/* The process's handle and the newest generation. */
static struct childproc	*fg_cp;
static struct front_gen	*fg_newest;

void
front_gen_proc(struct childproc *cp)
{
	fg_cp = cp;
}

struct event_base *
front_base(void)
{
	return fg_cp->base;
}

int
front_gen_ready(void)
{
	return fg_newest != NULL;
}

struct front_gen *
front_gen_ref(void)
{
	fg_newest->refcnt++;
	return fg_newest;
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
	return fg_cp;
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

/*
 * A new generation from a configuration bundle: its listeners' server
 * contexts and its client configurations.  The bundle's key pairs are
 * wiped once the contexts hold them.  The generation holds one
 * reference, given to front_gen_install().
 */
struct front_gen *
front_gen_new(struct conf_bundle *nb)
{
	struct front_gen	*g;
	struct listener		*l;

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
	return g;
}

/* g becomes the newest; the previous newest loses our reference. */
void
front_gen_install(struct front_gen *g)
{
	if (fg_newest != NULL)
		front_gen_unref(fg_newest);
	fg_newest = g;
}
