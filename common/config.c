/*
 * Configuration objects: allocation, lookups, names, defaults and the
 * consistency checks that run once the whole file has been parsed (a
 * reference may name an object defined further down).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sched.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static int	conf_errors;

static void	conf_error(const struct conf_src *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	conf_warn(const struct conf_src *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	*xcalloc(size_t, size_t);
static char	*xstrdup(const char *);
static void	setdefault(char **, const char *);
static void	limits_merge(struct conf_limits *, const struct conf_limits *,
		    const struct conf_limits *);
static void	finish_globals(struct smtpcertd_conf *);
static void	finish_unique(struct smtpcertd_conf *);
static void	finish_ldap(struct smtpcertd_conf *, struct ldap_profile *);
static void	finish_crl(struct smtpcertd_conf *, struct crl_source *);
static void	finish_auth_profile(struct smtpcertd_conf *,
		    struct auth_profile *);
static void	finish_policy(struct policy *);
static void	finish_relay(struct smtpcertd_conf *, struct relay *);
static void	proxy_query(struct smtpcertd_conf *, struct proxy_profile *,
		    const char *, const char *, const char *,
		    enum ldap_query_kind, struct ldap_profile **,
		    struct ldap_query **);
static void	finish_proxy(struct smtpcertd_conf *, struct proxy_profile *);
static void	finish_listener(struct smtpcertd_conf *, struct listener *);
static void	finish_listeners(struct smtpcertd_conf *);
static void	warn_crl(struct smtpcertd_conf *);
static void	warn_plaintext_auth(struct smtpcertd_conf *);
static int	listener_is_loopback(const struct listener *);
static int	ss_is_loopback(const struct sockaddr_storage *);
static void	finish_metrics(struct smtpcertd_conf *);
static int	ca_has_crl(struct smtpcertd_conf *, struct ca *);

static void
conf_error(const struct conf_src *src, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s:%d: %s", src->file ? src->file : "?", src->line, msg);
	conf_errors++;
}

static void
conf_warn(const struct conf_src *src, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s:%d: warning: %s", src->file ? src->file : "?",
	    src->line, msg);
}

static void *
xcalloc(size_t n, size_t sz)
{
	void	*p;

	if ((p = calloc(n, sz)) == NULL)
		fatal("%s", __func__);
	return p;
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("%s", __func__);
	return p;
}

static void
setdefault(char **p, const char *v)
{
	if (*p == NULL)
		*p = xstrdup(v);
}

const struct config_limit_desc config_limit_descs[] = {
	{ "idle-timeout", offsetof(struct conf_limits, idle_timeout),
	    LIMIT_DURATION, 1, 86400 },
	{ "max-message-size", offsetof(struct conf_limits, max_message_size),
	    LIMIT_SIZE, 1024, 4LL * 1024 * 1024 * 1024 },
	{ "max-recipients", offsetof(struct conf_limits, max_recipients),
	    LIMIT_COUNT, 1, 100000 },
	{ "max-errors", offsetof(struct conf_limits, max_errors),
	    LIMIT_COUNT, 1, 1000 },
	{ "max-line-length", offsetof(struct conf_limits, max_line_length),
	    LIMIT_COUNT, 78, 1024 * 1024 },
	{ "max-sessions", offsetof(struct conf_limits, max_sessions),
	    LIMIT_COUNT, 1, 1000000 },
	{ "max-auth-failures", offsetof(struct conf_limits, max_auth_failures),
	    LIMIT_COUNT, 1, 1000 },
	{ "auth-failure-window",
	    offsetof(struct conf_limits, auth_failure_window),
	    LIMIT_DURATION, 1, 86400 },
	{ NULL, 0, 0, 0, 0 }
};

int64_t *
config_limit_field(struct conf_limits *l, const struct config_limit_desc *d)
{
	return (int64_t *)((char *)l + d->off);
}

/* Allocation */

struct smtpcertd_conf *
config_new(const char *path)
{
	struct smtpcertd_conf	*conf;

	conf = xcalloc(1, sizeof(*conf));
	conf->path = xstrdup(path);
	conf->crl_check_inbound = -1;
	conf->crl_check_outbound = -1;
	conf->crl_check_proxy = -1;
	conf->crl_stale = -1;
	conf->log_facility = -1;
	conf->tls_security_level = -1;
	conf->tls_session_lifetime = -1;
	conf->tls_session_cache = -1;
	tlsopts_init(&conf->tls);
	conf->resolve_every = -1;
	conf->front_processes = -1;
	conf->ocsp.enabled = -1;
	conf->ocsp.stale = -1;
	conf->ocsp.timeout = -1;
	config_limits_unset(&conf->limits);
	TAILQ_INIT(&conf->pkis);
	TAILQ_INIT(&conf->cas);
	TAILQ_INIT(&conf->ldaps);
	TAILQ_INIT(&conf->crls);
	TAILQ_INIT(&conf->auth_profiles);
	TAILQ_INIT(&conf->policies);
	TAILQ_INIT(&conf->relays);
	TAILQ_INIT(&conf->group_policies);
	TAILQ_INIT(&conf->proxies);
	TAILQ_INIT(&conf->listeners);
	return conf;
}

void
config_limits_unset(struct conf_limits *l)
{
	l->idle_timeout = -1;
	l->max_message_size = -1;
	l->max_recipients = -1;
	l->max_errors = -1;
	l->max_line_length = -1;
	l->max_sessions = -1;
	l->max_auth_failures = -1;
	l->auth_failure_window = -1;
}

void
config_limits_defaults(struct conf_limits *l)
{
	if (l->idle_timeout == -1)
		l->idle_timeout = LIMIT_DEFAULT_IDLE_TIMEOUT;
	if (l->max_message_size == -1)
		l->max_message_size = LIMIT_DEFAULT_MAX_MESSAGE_SIZE;
	if (l->max_recipients == -1)
		l->max_recipients = LIMIT_DEFAULT_MAX_RECIPIENTS;
	if (l->max_errors == -1)
		l->max_errors = LIMIT_DEFAULT_MAX_ERRORS;
	if (l->max_line_length == -1)
		l->max_line_length = LIMIT_DEFAULT_MAX_LINE_LENGTH;
	if (l->max_sessions == -1)
		l->max_sessions = LIMIT_DEFAULT_MAX_SESSIONS;
	if (l->max_auth_failures == -1)
		l->max_auth_failures = LIMIT_DEFAULT_MAX_AUTH_FAILURES;
	if (l->auth_failure_window == -1)
		l->auth_failure_window = LIMIT_DEFAULT_AUTH_FAILURE_WINDOW;
}

/* out = set where set, else global. */
static void
limits_merge(struct conf_limits *out, const struct conf_limits *set,
    const struct conf_limits *global)
{
#define MERGE(f) out->f = set->f != -1 ? set->f : global->f
	MERGE(idle_timeout);
	MERGE(max_message_size);
	MERGE(max_recipients);
	MERGE(max_errors);
	MERGE(max_line_length);
	MERGE(max_sessions);
	MERGE(max_auth_failures);
	MERGE(auth_failure_window);
#undef MERGE
}

struct listener *
config_listener_new(void)
{
	struct listener	*l;

	l = xcalloc(1, sizeof(*l));
	l->proto = -1;
	l->tls = -1;
	l->fd = -1;
	tlsopts_init(&l->tlsopts);
	config_limits_unset(&l->limits_set);
	config_limits_unset(&l->limits);
	return l;
}

void
config_listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	free(l->pki_name);
	free(l->ca_name);
	tlsopts_free(&l->tlsopts);
	free(l->auth_profile_name);
	free(l->policy_name);
	free(l->relay_name);
	free(l->proxy_name);
	free(l->src.file);
	free(l);
}

struct ldap_profile *
config_ldap_new(void)
{
	struct ldap_profile	*lp;

	lp = xcalloc(1, sizeof(*lp));
	TAILQ_INIT(&lp->servers);
	TAILQ_INIT(&lp->queries);
	lp->scope = -1;
	lp->timeout = -1;
	lp->connect_timeout = -1;
	lp->connections = -1;
	lp->cache_ttl = -1;
	lp->cache_negative_ttl = -1;
	lp->cache_size = -1;
	return lp;
}

void
config_ldap_free(struct ldap_profile *lp)
{
	struct ldap_server	*s;
	struct ldap_query	*q;

	if (lp == NULL)
		return;
	while ((s = TAILQ_FIRST(&lp->servers)) != NULL) {
		TAILQ_REMOVE(&lp->servers, s, entry);
		free(s->url);
		free(s);
	}
	while ((q = TAILQ_FIRST(&lp->queries)) != NULL) {
		TAILQ_REMOVE(&lp->queries, q, entry);
		config_ldap_query_free(q);
	}
	free(lp->name);
	free(lp->tls_ca_name);
	free(lp->bind_dn);
	free(lp->password_file);
	free(lp->base);
	free(lp->mail_attr);
	free(lp->src.file);
	free(lp);
}

struct ldap_query *
config_ldap_query_new(enum ldap_query_kind kind)
{
	struct ldap_query	*q;

	q = xcalloc(1, sizeof(*q));
	q->kind = kind;
	q->serial_format = -1;
	q->method = -1;
	return q;
}

void
config_ldap_query_free(struct ldap_query *q)
{
	if (q == NULL)
		return;
	free(q->name);
	free(q->filter);
	free(q->user_attr);
	free(q->match_cert_attr);
	free(q->allowance);
	free(q->group_attr);
	free(q->src.file);
	free(q);
}

struct crl_source *
config_crl_new(void)
{
	struct crl_source	*c;

	c = xcalloc(1, sizeof(*c));
	c->type = -1;
	c->refresh = -1;
	c->enabled = -1;
	c->stale = -1;
	return c;
}

void
config_crl_free(struct crl_source *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->ca_name);
	free(c->tls_ca_name);
	free(c->url);
	free(c->secondary);
	free(c->src.file);
	free(c);
}

struct auth_profile *
config_auth_profile_new(void)
{
	struct auth_profile	*ap;

	ap = xcalloc(1, sizeof(*ap));
	ap->disallowed = -1;
	ap->sender_must_match = -1;
	return ap;
}

void
config_auth_profile_free(struct auth_profile *ap)
{
	if (ap == NULL)
		return;
	free(ap->name);
	free(ap->ldap_name);
	free(ap->query_name);
	free(ap->reject_text);
	free(ap->fallback_name);
	free(ap->src.file);
	free(ap);
}

struct policy *
config_policy_new(void)
{
	struct policy	*p;

	p = xcalloc(1, sizeof(*p));
	p->tls = -1;
	p->verify_client_cert = -1;
	p->require_auth = -1;
	p->require_tls_for_auth = -1;
	return p;
}

void
config_policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->src.file);
	free(p);
}

struct relay *
config_relay_new(void)
{
	struct relay	*r;

	r = xcalloc(1, sizeof(*r));
	TAILQ_INIT(&r->hosts);
	r->tls = -1;
	tlsopts_init(&r->tlsopts);
	r->xclient = -1;
	r->connect_timeout = -1;
	r->timeout = -1;
	return r;
}

void
config_relay_free(struct relay *r)
{
	struct relay_host	*h;

	if (r == NULL)
		return;
	while ((h = TAILQ_FIRST(&r->hosts)) != NULL) {
		TAILQ_REMOVE(&r->hosts, h, entry);
		free(h->host);
		free(h->tls_name);
		free(h);
	}
	free(r->name);
	free(r->ca_name);
	tlsopts_free(&r->tlsopts);
	free(r->src.file);
	free(r);
}

struct group_policy *
config_group_policy_new(void)
{
	struct group_policy	*gp;

	gp = xcalloc(1, sizeof(*gp));
	gp->max_logins = -1;
	return gp;
}

void
config_group_policy_free(struct group_policy *gp)
{
	if (gp == NULL)
		return;
	free(gp->name);
	free(gp->src.file);
	free(gp);
}

struct proxy_server *
config_proxy_server_new(void)
{
	struct proxy_server	*s;

	s = xcalloc(1, sizeof(*s));
	s->tls = -1;
	tlsopts_init(&s->tlsopts);
	return s;
}

/*
 * Also for the parser's half-built server: it once freed those by hand
 * and forgot the further addresses (a leak per broken server line,
 * found by fuzzing).
 */
void
config_proxy_server_free(struct proxy_server *s)
{
	int	 i;

	if (s == NULL)
		return;
	free(s->host);
	free(s->tls_name);
	free(s->ca_name);
	tlsopts_free(&s->tlsopts);
	for (i = 0; i < s->nalt; i++)
		free(s->alt[i]);
	free(s);
}

struct proxy_profile *
config_proxy_new(void)
{
	struct proxy_profile	*p;

	p = xcalloc(1, sizeof(*p));
	TAILQ_INIT(&p->allowed);
	p->username_dn = -1;
	p->dn_primary = -1;
	p->dn_secondary = -1;
	p->unauth_limit = -1;
	p->disallowed = -1;
	p->cert_binds_login = -1;
	return p;
}

void
config_proxy_free(struct proxy_profile *p)
{
	struct proxy_server	*s;

	if (p == NULL)
		return;
	while ((s = TAILQ_FIRST(&p->allowed)) != NULL) {
		TAILQ_REMOVE(&p->allowed, s, entry);
		config_proxy_server_free(s);
	}
	config_proxy_server_free(p->default_server);
	free(p->disallowed_text);
	free(p->master_user);
	free(p->master_password_file);
	free(p->name);
	free(p->aaa_ldap_name);
	free(p->aaa_query_name);
	free(p->authz_ldap_name);
	free(p->authz_query_name);
	free(p->accounting_file);
	free(p->default_gp_name);
	free(p->src.file);
	free(p);
}

void
config_pki_free(struct pki *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->cert_file);
	free(p->key_file);
	free(p->src.file);
	free(p);
}

void
config_ca_free(struct ca *c)
{
	int	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->npolicies; i++)
		free(c->policies[i]);
	free(c->name);
	free(c->file);
	free(c->src.file);
	free(c);
}

void
config_free(struct smtpcertd_conf *conf)
{
	struct pki		*pki;
	struct ca		*ca;
	struct ldap_profile	*lp;
	struct crl_source	*crl;
	struct auth_profile	*ap;
	struct policy		*pol;
	struct relay		*r;
	struct group_policy	*gp;
	struct proxy_profile	*px;
	struct listener		*l;

	if (conf == NULL)
		return;
#define DRAIN(head, var, fn) \
	while ((var = TAILQ_FIRST(head)) != NULL) { \
		TAILQ_REMOVE(head, var, entry); \
		fn(var); \
	}
	DRAIN(&conf->pkis, pki, config_pki_free);
	DRAIN(&conf->cas, ca, config_ca_free);
	DRAIN(&conf->ldaps, lp, config_ldap_free);
	DRAIN(&conf->crls, crl, config_crl_free);
	DRAIN(&conf->auth_profiles, ap, config_auth_profile_free);
	DRAIN(&conf->policies, pol, config_policy_free);
	DRAIN(&conf->relays, r, config_relay_free);
	DRAIN(&conf->group_policies, gp, config_group_policy_free);
	DRAIN(&conf->proxies, px, config_proxy_free);
	DRAIN(&conf->listeners, l, config_listener_free);
#undef DRAIN
	free(conf->path);
	free(conf->user);
	free(conf->chroot);
	free(conf->control_socket);
	free(conf->control_group);
	free(conf->metrics.src.file);
	free(conf->log_file);
	free(conf->crl_cachedir);
	free(conf->hostname);
	tlsopts_free(&conf->tls);
	free(conf->ocsp.responder);
	free(conf);
}

/* Lookups */

#define FIND_BY_NAME(head, type) do {					\
	type	*o;							\
	if (name == NULL)						\
		return NULL;						\
	TAILQ_FOREACH(o, head, entry)					\
		if (strcmp(o->name, name) == 0)				\
			return o;					\
	return NULL;							\
} while (0)

struct pki *
config_find_pki(const struct smtpcertd_conf *conf, const char *name)
{
	FIND_BY_NAME(&conf->pkis, struct pki);
}

struct ca *
config_find_ca(const struct smtpcertd_conf *conf, const char *name)
{
	FIND_BY_NAME(&conf->cas, struct ca);
}

struct ldap_profile *
config_find_ldap(const struct smtpcertd_conf *conf, const char *name)
{
	FIND_BY_NAME(&conf->ldaps, struct ldap_profile);
}

struct ldap_query *
config_find_ldap_query(const struct ldap_profile *lp, const char *name)
{
	FIND_BY_NAME(&lp->queries, struct ldap_query);
}

struct crl_source *
config_find_crl(const struct smtpcertd_conf *conf, const char *name)
{
	FIND_BY_NAME(&conf->crls, struct crl_source);
}

struct auth_profile *
config_find_auth_profile(const struct smtpcertd_conf *conf, const char *name)
{
	FIND_BY_NAME(&conf->auth_profiles, struct auth_profile);
}

struct policy *
config_find_policy(const struct smtpcertd_conf *conf, const char *name)
{
	FIND_BY_NAME(&conf->policies, struct policy);
}

struct relay *
config_find_relay(const struct smtpcertd_conf *conf, const char *name)
{
	FIND_BY_NAME(&conf->relays, struct relay);
}

struct group_policy *
config_find_group_policy(const struct smtpcertd_conf *conf, const char *name)
{
	FIND_BY_NAME(&conf->group_policies, struct group_policy);
}

struct proxy_profile *
config_find_proxy(const struct smtpcertd_conf *conf, const char *name)
{
	FIND_BY_NAME(&conf->proxies, struct proxy_profile);
}

#undef FIND_BY_NAME

struct listener *
config_find_listener(const struct smtpcertd_conf *conf, uint32_t index)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->index == index)
			return l;
	return NULL;
}

/* Names */

const char *
config_listener_proto_name(const struct listener *l)
{
	switch (l->proto) {
	case LISTEN_SMTP:		return "smtp";
	case LISTEN_SMTPS:		return "smtps";
	case LISTEN_PROXY_POP3S:	return "proxy-pop3s";
	case LISTEN_PROXY_IMAP4S:	return "proxy-imap4s";
	case LISTEN_PROXY_SMTPS:	return "proxy-smtps";
	}
	return "?";
}

const char *
config_listener_tls_name(const struct listener *l)
{
	switch (l->tls) {
	case LISTEN_TLS_NONE:		return "plaintext";
	case LISTEN_TLS_STARTTLS:	return "starttls";
	case LISTEN_TLS_IMPLICIT:	return "tls";
	}
	return "?";
}

const char *
config_upstream_tls_name(enum upstream_tls t)
{
	switch (t) {
	case UPSTREAM_TLS_NONE:		return "none";
	case UPSTREAM_TLS_STARTTLS:	return "starttls";
	case UPSTREAM_TLS_REQUIRED:	return "required";
	case UPSTREAM_TLS_IMPLICIT:	return "implicit";
	}
	return "?";
}

const char *
config_policy_tls_name(enum policy_tls t)
{
	switch (t) {
	case POLICY_TLS_OFF:		return "off";
	case POLICY_TLS_PREFERRED:	return "preferred";
	case POLICY_TLS_REQUIRED:	return "required";
	}
	return "?";
}

const char *
config_stale_name(enum stale_policy s)
{
	return s == STALE_FAIL_OPEN ? "fail-open" : "fail-closed";
}

const char *
config_crl_type_name(enum crl_type t)
{
	return t == CRL_TYPE_ASN1 ? "asn1" : "pem";
}

const char *
config_scope_name(enum ldap_scope_conf s)
{
	switch (s) {
	case CONF_LDAP_SCOPE_BASE:	return "base";
	case CONF_LDAP_SCOPE_ONE:	return "one";
	case CONF_LDAP_SCOPE_SUB:	return "sub";
	}
	return "?";
}

const char *
config_query_kind_name(enum ldap_query_kind k)
{
	switch (k) {
	case LDAPQ_CERTIFICATE:		return "certificate";
	case LDAPQ_SMTPAUTH:		return "smtp-auth";
	case LDAPQ_AUTHORIZATION:	return "authorization";
	}
	return "?";
}

const char *
config_proxy_auth_name(enum proxy_auth_method m)
{
	switch (m) {
	case PROXY_AUTH_AAA:		return "aaa";
	case PROXY_AUTH_CERTIFICATE:	return "certificate";
	case PROXY_AUTH_MAILHOST:	return "mailhost";
	case PROXY_AUTH_PIGGYBACK:	return "piggyback";
	case PROXY_AUTH_MAX:		break;
	}
	return "?";
}

static const char *const dn_field_names[DN_FIELD_MAX] = {
	[DN_FIELD_NONE] = "none",
	[DN_FIELD_C] = "C",
	[DN_FIELD_CN] = "CN",
	[DN_FIELD_DNQ] = "DNQ",
	[DN_FIELD_EA] = "EA",
	[DN_FIELD_GENQ] = "GENQ",
	[DN_FIELD_GN] = "GN",
	[DN_FIELD_I] = "I",
	[DN_FIELD_L] = "L",
	[DN_FIELD_N] = "N",
	[DN_FIELD_O] = "O",
	[DN_FIELD_OU] = "OU",
	[DN_FIELD_SER] = "SER",
	[DN_FIELD_SN] = "SN",
	[DN_FIELD_ST] = "ST",
	[DN_FIELD_T] = "T",
	[DN_FIELD_UID] = "UID",
};

const char *
config_dn_field_name(enum dn_field f)
{
	if ((int)f < 0 || f >= DN_FIELD_MAX)
		return "?";
	return dn_field_names[f];
}

int
config_dn_field_lookup(const char *s)
{
	int	 i;

	for (i = 0; i < DN_FIELD_MAX; i++)
		if (strcasecmp(dn_field_names[i], s) == 0)
			return i;
	return -1;
}

uint16_t
config_proxy_server_port(const struct proxy_server *s, int proto)
{
	int	 implicit = s->tls == UPSTREAM_TLS_IMPLICIT;

	if (s->port != 0)
		return s->port;
	switch (proto) {
	case LISTEN_PROXY_POP3S:
		return implicit ? 995 : 110;
	case LISTEN_PROXY_IMAP4S:
		return implicit ? 993 : 143;
	default:
		return implicit ? 465 : 25;
	}
}

int
config_proxy_has_auth(const struct proxy_profile *p, enum proxy_auth_method m)
{
	int	 i;

	for (i = 0; i < p->nauth; i++)
		if (p->auth[i] == m)
			return 1;
	return 0;
}

const char *
config_fmt_duration(int64_t v, char *buf, size_t len)
{
	if (v > 0 && v % 86400 == 0)
		snprintf(buf, len, "%lldd", (long long)(v / 86400));
	else if (v > 0 && v % 3600 == 0)
		snprintf(buf, len, "%lldh", (long long)(v / 3600));
	else if (v > 0 && v % 60 == 0)
		snprintf(buf, len, "%lldm", (long long)(v / 60));
	else
		snprintf(buf, len, "%llds", (long long)v);
	return buf;
}

const char *
config_fmt_size(int64_t v, char *buf, size_t len)
{
	if (v > 0 && v % (1024LL * 1024 * 1024) == 0)
		snprintf(buf, len, "%lldG", (long long)(v >> 30));
	else if (v > 0 && v % (1024 * 1024) == 0)
		snprintf(buf, len, "%lldM", (long long)(v >> 20));
	else if (v > 0 && v % 1024 == 0)
		snprintf(buf, len, "%lldK", (long long)(v >> 10));
	else
		snprintf(buf, len, "%lld", (long long)v);
	return buf;
}

/* Finishing: defaults, references, consistency */

static void
finish_globals(struct smtpcertd_conf *conf)
{
	char	 host[256];

	setdefault(&conf->user, CONFIG_DEFAULT_USER);
	setdefault(&conf->chroot, CONFIG_DEFAULT_CHROOT);
	setdefault(&conf->control_socket, CONFIG_DEFAULT_CONTROL_SOCKET);
	setdefault(&conf->crl_cachedir, CONFIG_DEFAULT_CRL_CACHEDIR);
	if (conf->hostname == NULL) {
		if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		conf->hostname = xstrdup(host);
	}
	if (conf->crl_check_inbound == -1)
		conf->crl_check_inbound = 1;
	if (conf->crl_check_outbound == -1)
		conf->crl_check_outbound = 0;
	if (conf->crl_check_proxy == -1)
		conf->crl_check_proxy = 1;
	if ((int)conf->crl_stale == -1)
		conf->crl_stale = STALE_FAIL_CLOSED;
	if (conf->log_facility == -1)
		conf->log_facility = LOG_MAIL;
	if (conf->resolve_every == -1)
		conf->resolve_every = CONFIG_DEFAULT_RESOLVE_EVERY;
	if (conf->front_processes == -1)
		conf->front_processes = CONFIG_DEFAULT_FRONTS;
	if (conf->ocsp.enabled == -1)
		conf->ocsp.enabled = 0;
	if ((int)conf->ocsp.stale == -1)
		conf->ocsp.stale = STALE_FAIL_OPEN;
	if (conf->ocsp.timeout == -1)
		conf->ocsp.timeout = 10;
	config_limits_defaults(&conf->limits);
}

/* Names are unique per kind; report the later definition. */
static void
finish_unique(struct smtpcertd_conf *conf)
{
#define UNIQUE(head, type, what) do {					\
	type	*a, *b;							\
	TAILQ_FOREACH(b, head, entry)					\
		TAILQ_FOREACH(a, head, entry) {				\
			if (a == b)					\
				break;					\
			if (strcmp(a->name, b->name) == 0) {		\
				conf_error(&b->src, "%s \"%s\" already "\
				    "defined at %s:%d", what, b->name,	\
				    a->src.file, a->src.line);		\
				break;					\
			}						\
		}							\
} while (0)
	struct ldap_profile	*lp;

	UNIQUE(&conf->pkis, struct pki, "pki");
	UNIQUE(&conf->cas, struct ca, "ca");
	UNIQUE(&conf->ldaps, struct ldap_profile, "ldap");
	UNIQUE(&conf->crls, struct crl_source, "crl");
	UNIQUE(&conf->auth_profiles, struct auth_profile, "auth-profile");
	UNIQUE(&conf->policies, struct policy, "policy");
	UNIQUE(&conf->relays, struct relay, "relay");
	UNIQUE(&conf->group_policies, struct group_policy, "group-policy");
	UNIQUE(&conf->proxies, struct proxy_profile, "proxy");
	TAILQ_FOREACH(lp, &conf->ldaps, entry)
		UNIQUE(&lp->queries, struct ldap_query, "query");
#undef UNIQUE
}

static void
finish_ldap(struct smtpcertd_conf *conf, struct ldap_profile *lp)
{
	struct ldap_query	*q;

	if (TAILQ_EMPTY(&lp->servers))
		conf_error(&lp->src, "ldap \"%s\": no server", lp->name);
	if (lp->base == NULL)
		conf_error(&lp->src, "ldap \"%s\": no base", lp->name);
	if (lp->tls_ca_name != NULL &&
	    (lp->tls_ca = config_find_ca(conf, lp->tls_ca_name)) == NULL)
		conf_error(&lp->src, "ldap \"%s\": unknown ca \"%s\"",
		    lp->name, lp->tls_ca_name);
	if ((int)lp->scope == -1)
		lp->scope = CONF_LDAP_SCOPE_SUB;
	if (lp->timeout == -1)
		lp->timeout = LDAP_DEFAULT_TIMEOUT;
	if (lp->connect_timeout == -1)
		lp->connect_timeout = LDAP_DEFAULT_CONNECT_TIMEOUT;
	if (lp->connections == -1)
		lp->connections = LDAP_DEFAULT_CONNECTIONS;
	if (lp->cache_ttl == -1)
		lp->cache_ttl = LDAP_DEFAULT_CACHE_TTL;
	if (lp->cache_negative_ttl == -1)
		lp->cache_negative_ttl = LDAP_DEFAULT_CACHE_NEG_TTL;
	if (lp->cache_size == -1)
		lp->cache_size = LDAP_DEFAULT_CACHE_SIZE;
	setdefault(&lp->mail_attr, LDAP_DEFAULT_MAIL_ATTR);

	TAILQ_FOREACH(q, &lp->queries, entry) {
		q->ldap = lp;
		if (q->filter == NULL)
			conf_error(&q->src, "%s query \"%s\": no filter",
			    config_query_kind_name(q->kind), q->name);
		switch (q->kind) {
		case LDAPQ_CERTIFICATE:
			setdefault(&q->user_attr, LDAP_DEFAULT_USER_ATTR);
			if ((int)q->serial_format == -1)
				q->serial_format = SERIAL_HEX;
			break;
		case LDAPQ_SMTPAUTH:
			if ((int)q->method == -1)
				q->method = LDAP_METHOD_BIND;
			break;
		case LDAPQ_AUTHORIZATION:
			break;
		}
	}
}

static void
finish_crl(struct smtpcertd_conf *conf, struct crl_source *c)
{
	if (c->ca_name != NULL &&
	    (c->ca = config_find_ca(conf, c->ca_name)) == NULL)
		conf_error(&c->src, "crl \"%s\": unknown ca \"%s\"", c->name,
		    c->ca_name);
	if (c->tls_ca_name != NULL &&
	    (c->tls_ca = config_find_ca(conf, c->tls_ca_name)) == NULL)
		conf_error(&c->src, "crl \"%s\": unknown tls ca \"%s\"",
		    c->name, c->tls_ca_name);
	if (c->url == NULL)
		conf_error(&c->src, "crl \"%s\": no url", c->name);
	if ((int)c->type == -1)
		c->type = CRL_TYPE_PEM;
	if (c->refresh == -1)
		c->refresh = CRL_DEFAULT_REFRESH;
	if (c->enabled == -1)
		c->enabled = 1;
	if ((int)c->stale == -1)
		c->stale = conf->crl_stale;
}

static void
finish_auth_profile(struct smtpcertd_conf *conf, struct auth_profile *ap)
{
	enum ldap_query_kind	 want;

	want = ap->kind == AUTH_PROFILE_CERTIFICATE ? LDAPQ_CERTIFICATE :
	    LDAPQ_SMTPAUTH;
	if ((ap->ldap = config_find_ldap(conf, ap->ldap_name)) == NULL)
		conf_error(&ap->src, "auth-profile \"%s\": unknown ldap \"%s\"",
		    ap->name, ap->ldap_name);
	else if ((ap->query = config_find_ldap_query(ap->ldap,
	    ap->query_name)) == NULL)
		conf_error(&ap->src, "auth-profile \"%s\": ldap \"%s\" has no "
		    "query \"%s\"", ap->name, ap->ldap_name, ap->query_name);
	else if (ap->query->kind != want)
		conf_error(&ap->src, "auth-profile \"%s\": query \"%s\" is "
		    "of kind %s, the profile needs %s", ap->name,
		    ap->query_name, config_query_kind_name(ap->query->kind),
		    config_query_kind_name(want));
	if (ap->fallback_name != NULL) {
		if ((ap->fallback = config_find_auth_profile(conf,
		    ap->fallback_name)) == NULL)
			conf_error(&ap->src, "auth-profile \"%s\": unknown "
			    "fallback auth-profile \"%s\"", ap->name,
			    ap->fallback_name);
		else if (ap->fallback->kind != AUTH_PROFILE_SMTPAUTH)
			conf_error(&ap->src, "auth-profile \"%s\": fallback "
			    "\"%s\" is not an smtp-auth profile", ap->name,
			    ap->fallback_name);
	}
	if (ap->kind == AUTH_PROFILE_SMTPAUTH) {
		if ((int)ap->disallowed == -1)
			ap->disallowed = DISALLOWED_REJECT;
		if (ap->reject_code == 0)
			ap->reject_code = AUTH_DEFAULT_REJECT_CODE;
		setdefault(&ap->reject_text, AUTH_DEFAULT_REJECT_TEXT);
	}
	if (ap->sender_must_match == -1)
		ap->sender_must_match = 0;
}

static void
finish_policy(struct policy *p)
{
	if ((int)p->tls == -1)
		p->tls = POLICY_TLS_PREFERRED;
	if (p->verify_client_cert == -1)
		p->verify_client_cert = 0;
	if (p->require_auth == -1)
		p->require_auth = 0;
	if (p->require_tls_for_auth == -1)
		p->require_tls_for_auth = 0;
	if (p->tls == POLICY_TLS_OFF && p->verify_client_cert)
		conf_error(&p->src, "policy \"%s\": verify client-certificate "
		    "needs tls preferred or required", p->name);
	if (p->tls == POLICY_TLS_OFF && p->require_tls_for_auth &&
	    p->require_auth)
		conf_error(&p->src, "policy \"%s\": with tls off and require "
		    "tls-for-auth nobody can authenticate", p->name);
}

static void
finish_relay(struct smtpcertd_conf *conf, struct relay *r)
{
	struct relay_host	*h;

	if (TAILQ_EMPTY(&r->hosts))
		conf_error(&r->src, "relay \"%s\": no host", r->name);
	if ((int)r->tls == -1)
		r->tls = UPSTREAM_TLS_REQUIRED;
	if (r->xclient == -1)
		r->xclient = 0;
	if (r->connect_timeout == -1)
		r->connect_timeout = RELAY_DEFAULT_CONNECT_TIMEOUT;
	if (r->timeout == -1)
		r->timeout = RELAY_DEFAULT_TIMEOUT;
	TAILQ_FOREACH(h, &r->hosts, entry)
		if (h->port == 0)
			h->port = r->tls == UPSTREAM_TLS_IMPLICIT ? 465 : 25;
	if (r->ca_name != NULL &&
	    (r->ca = config_find_ca(conf, r->ca_name)) == NULL)
		conf_error(&r->src, "relay \"%s\": unknown ca \"%s\"", r->name,
		    r->ca_name);
	if (r->ca_name != NULL && r->tls == UPSTREAM_TLS_NONE)
		conf_error(&r->src, "relay \"%s\": ca given with tls none",
		    r->name);
}

static void
proxy_query(struct smtpcertd_conf *conf, struct proxy_profile *p,
    const char *what, const char *ldap_name, const char *query_name,
    enum ldap_query_kind kind, struct ldap_profile **lpp,
    struct ldap_query **qp)
{
	if ((*lpp = config_find_ldap(conf, ldap_name)) == NULL)
		conf_error(&p->src, "proxy \"%s\": %s: unknown ldap \"%s\"",
		    p->name, what, ldap_name);
	else if ((*qp = config_find_ldap_query(*lpp, query_name)) == NULL)
		conf_error(&p->src, "proxy \"%s\": %s: ldap \"%s\" has no "
		    "query \"%s\"", p->name, what, ldap_name, query_name);
	else if ((*qp)->kind != kind) {
		conf_error(&p->src, "proxy \"%s\": %s: query \"%s\" is of "
		    "kind %s, %s needs %s", p->name, what, query_name,
		    config_query_kind_name((*qp)->kind), what,
		    config_query_kind_name(kind));
		*qp = NULL;
	}
}

static int
finish_proxy_server(struct smtpcertd_conf *conf, struct proxy_profile *p,
    struct proxy_server *s)
{
	if ((int)s->tls == -1)
		s->tls = UPSTREAM_TLS_NONE;
	if (s->ca_name != NULL &&
	    (s->ca = config_find_ca(conf, s->ca_name)) == NULL) {
		conf_error(&p->src, "proxy \"%s\": server %s: unknown ca "
		    "\"%s\"", p->name, s->host, s->ca_name);
		return -1;
	}
	return 0;
}

/*
 * The card rule (an smtp-auth query's allowance filter) holds for every
 * password method of a proxy only through its aaa query: mailhost and
 * piggyback logins are checked against that query's allowance too.
 * Without one they are checked against nothing.
 */
static void
proxy_warn_card_rule(struct smtpcertd_conf *conf, struct proxy_profile *p)
{
	int	 i, pw = 0, before_aaa = -1;

	if (conf->from_text || conf->parse_errors)
		return;
	for (i = 0; i < p->nauth; i++) {
		if (p->auth[i] == PROXY_AUTH_MAILHOST ||
		    p->auth[i] == PROXY_AUTH_PIGGYBACK) {
			pw = 1;
			if (before_aaa == -1)
				before_aaa = i;
		}
		if (p->auth[i] == PROXY_AUTH_AAA && before_aaa != -1) {
			/* LDAP never sees those users' passwords. */
			conf_warn(&p->src, "proxy \"%s\": %s is tried before "
			    "aaa: the password it lets in is never checked "
			    "against LDAP (the card rule still applies)",
			    p->name, config_proxy_auth_name(
			    p->auth[before_aaa]));
			break;
		}
	}
	if (pw && (p->aaa_query == NULL || p->aaa_query->allowance == NULL))
		conf_warn(&p->src, "proxy \"%s\": mailhost and piggyback "
		    "logins are checked against no allowance filter (the "
		    "card rule): give it an aaa query with an allowance",
		    p->name);
}

static void
finish_proxy(struct smtpcertd_conf *conf, struct proxy_profile *p)
{
	struct proxy_server	*s;

	if (p->nauth == 0) {
		p->auth[0] = PROXY_AUTH_MAILHOST;
		p->nauth = 1;
	}
	if (p->aaa_ldap_name != NULL)
		proxy_query(conf, p, "aaa", p->aaa_ldap_name, p->aaa_query_name,
		    LDAPQ_SMTPAUTH, &p->aaa_ldap, &p->aaa_query);
	else if (config_proxy_has_auth(p, PROXY_AUTH_AAA))
		conf_error(&p->src, "proxy \"%s\": auth aaa needs "
		    "aaa ldap \"...\" query \"...\"", p->name);
	if (p->authz_ldap_name != NULL)
		proxy_query(conf, p, "authorization", p->authz_ldap_name,
		    p->authz_query_name, LDAPQ_AUTHORIZATION, &p->authz_ldap,
		    &p->authz_query);
	if (p->username_dn == -1)
		p->username_dn = 0;
	if ((int)p->dn_primary == -1)
		p->dn_primary = DN_FIELD_CN;
	/*
	 * The default secondary is OU, but not after `username field OU`:
	 * the printout "username field OU secondary OU" is refused as the
	 * same field twice, and a child parsing it would die.
	 */
	if ((int)p->dn_secondary == -1)
		p->dn_secondary = p->dn_primary == DN_FIELD_OU ?
		    DN_FIELD_NONE : DN_FIELD_OU;
	if (p->name_delim == '\0')
		p->name_delim = PROXY_DEFAULT_NAME_DELIM;
	if (p->server_delim_none)
		p->server_delim = '\0';
	else if (p->server_delim == '\0')
		p->server_delim = PROXY_DEFAULT_SERVER_DELIM;
	if (p->name_delim == p->server_delim)
		conf_error(&p->src, "proxy \"%s\": name and server delimiters "
		    "must differ", p->name);
	if (p->default_server == NULL)
		conf_error(&p->src, "proxy \"%s\": no default server",
		    p->name);
	else
		finish_proxy_server(conf, p, p->default_server);
	TAILQ_FOREACH(s, &p->allowed, entry)
		finish_proxy_server(conf, p, s);
	if (p->unauth_limit == -1)
		p->unauth_limit = 0;
	if (p->disallowed == -1)
		p->disallowed = DISALLOWED_REJECT;
	if (p->cert_binds_login == -1)
		p->cert_binds_login = 1;
	if (p->master_sep != '\0' && p->master_user != NULL &&
	    strchr(p->master_user, p->master_sep) != NULL)
		conf_error(&p->src, "proxy \"%s\": the master user's name "
		    "contains its separator", p->name);
	proxy_warn_card_rule(conf, p);
	if (p->default_gp_name != NULL &&
	    (p->default_gp = config_find_group_policy(conf,
	    p->default_gp_name)) == NULL)
		conf_error(&p->src, "proxy \"%s\": unknown group-policy \"%s\"",
		    p->name, p->default_gp_name);
	if (p->default_gp_name == NULL && p->authz_query == NULL &&
	    !conf->from_text && !conf->parse_errors)
		conf_warn(&p->src, "proxy \"%s\": neither a default "
		    "group-policy nor an authorization query: every session "
		    "will be refused", p->name);
}

static void
finish_listener(struct smtpcertd_conf *conf, struct listener *l)
{
	int	 smtp = l->proto == LISTEN_SMTP || l->proto == LISTEN_SMTPS;

	if (l->pki_name != NULL &&
	    (l->pki = config_find_pki(conf, l->pki_name)) == NULL)
		conf_error(&l->src, "listener: unknown pki \"%s\"",
		    l->pki_name);
	if (l->ca_name != NULL &&
	    (l->ca = config_find_ca(conf, l->ca_name)) == NULL)
		conf_error(&l->src, "listener: unknown ca \"%s\"", l->ca_name);
	if (l->tls != LISTEN_TLS_NONE && l->pki_name == NULL)
		conf_error(&l->src, "listener: %s needs a pki",
		    config_listener_tls_name(l));
	limits_merge(&l->limits, &l->limits_set, &conf->limits);

	if (!smtp) {
		if (l->proxy_name == NULL)
			conf_error(&l->src, "listener: proxy listener needs "
			    "a profile");
		else if ((l->proxy = config_find_proxy(conf,
		    l->proxy_name)) == NULL)
			conf_error(&l->src, "listener: unknown proxy \"%s\"",
			    l->proxy_name);
		else if (config_proxy_has_auth(l->proxy,
		    PROXY_AUTH_CERTIFICATE) && l->ca_name == NULL)
			conf_error(&l->src, "listener: proxy \"%s\" allows "
			    "certificate authentication but the listener has "
			    "no ca", l->proxy_name);
		return;
	}

	if (l->policy_name == NULL)
		conf_error(&l->src, "listener: no policy");
	else if ((l->policy = config_find_policy(conf, l->policy_name)) == NULL)
		conf_error(&l->src, "listener: unknown policy \"%s\"",
		    l->policy_name);
	if (l->relay_name == NULL)
		conf_error(&l->src, "listener: no relay");
	else if ((l->relay = config_find_relay(conf, l->relay_name)) == NULL)
		conf_error(&l->src, "listener: unknown relay \"%s\"",
		    l->relay_name);
	if (l->auth_profile_name != NULL &&
	    (l->auth_profile = config_find_auth_profile(conf,
	    l->auth_profile_name)) == NULL)
		conf_error(&l->src, "listener: unknown auth-profile \"%s\"",
		    l->auth_profile_name);
	if (l->policy == NULL)
		return;

	if (l->policy->require_auth && l->auth_profile_name == NULL)
		conf_error(&l->src, "listener: policy \"%s\" requires "
		    "smtp-auth but the listener has no auth-profile",
		    l->policy_name);
	if (l->policy->verify_client_cert && l->ca_name == NULL)
		conf_error(&l->src, "listener: policy \"%s\" verifies client "
		    "certificates but the listener has no ca", l->policy_name);
	if (l->auth_profile != NULL &&
	    l->auth_profile->kind == AUTH_PROFILE_CERTIFICATE &&
	    !l->policy->verify_client_cert)
		conf_error(&l->src, "listener: auth-profile \"%s\" uses "
		    "certificates but policy \"%s\" does not verify "
		    "client-certificate", l->auth_profile_name, l->policy_name);
	if (l->tls == LISTEN_TLS_IMPLICIT && l->policy->tls == POLICY_TLS_OFF)
		conf_error(&l->src, "listener: tls listener with policy \"%s\" "
		    "which has tls off", l->policy_name);
	if (l->tls == LISTEN_TLS_NONE && l->policy->tls != POLICY_TLS_OFF)
		conf_error(&l->src, "listener: plaintext listener needs a "
		    "policy with tls off, \"%s\" has tls %s", l->policy_name,
		    config_policy_tls_name(l->policy->tls));
}

static void
finish_listeners(struct smtpcertd_conf *conf)
{
	struct listener	*l, *m;
	uint32_t	 n = 0;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		l->index = n++;
		finish_listener(conf, l);
		TAILQ_FOREACH(m, &conf->listeners, entry) {
			if (m == l)
				break;
			if (m->sslen == l->sslen &&
			    memcmp(&m->ss, &l->ss, l->sslen) == 0) {
				conf_error(&l->src, "listener: address and "
				    "port already used at %s:%d",
				    m->src.file, m->src.line);
				break;
			}
		}
	}
	conf->nlisteners = n;
}

static int
ca_has_crl(struct smtpcertd_conf *conf, struct ca *ca)
{
	struct crl_source	*c;

	TAILQ_FOREACH(c, &conf->crls, entry)
		if ((c->ca == ca || c->ca_name == NULL) && c->enabled)
			return 1;
	return 0;
}

/*
 * A CA bundle that verifies client certificates with CRL checking on and
 * no enabled CRL source: under fail-closed every certificate it issued
 * is refused.  The parent warns again per issuing CA once it has read
 * the bundles.
 */
static void
warn_crl(struct smtpcertd_conf *conf)
{
	struct listener	*l, *m;
	int		 check, seen;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->ca == NULL)
			continue;
		if (l->proto == LISTEN_SMTP || l->proto == LISTEN_SMTPS)
			check = conf->crl_check_inbound;
		else
			check = conf->crl_check_proxy;
		if (!check || ca_has_crl(conf, l->ca))
			continue;
		seen = 0;
		TAILQ_FOREACH(m, &conf->listeners, entry) {
			if (m == l)
				break;
			if (m->ca == l->ca)
				seen = 1;
		}
		if (!seen)
			conf_warn(&l->src, "ca \"%s\" has no enabled crl "
			    "source; with %s its certificates will be %s",
			    l->ca->name, config_stale_name(conf->crl_stale),
			    conf->crl_stale == STALE_FAIL_CLOSED ?
			    "refused" : "accepted unchecked");
	}
}

int
config_finish(struct smtpcertd_conf *conf)
{
	struct pki		*pki;
	struct ldap_profile	*lp;
	struct crl_source	*crl;
	struct auth_profile	*ap;
	struct policy		*pol;
	struct relay		*r;
	struct group_policy	*gp;
	struct proxy_profile	*px;

	conf_errors = 0;
	finish_globals(conf);
	finish_unique(conf);
	TAILQ_FOREACH(pki, &conf->pkis, entry) {
		if (pki->cert_file == NULL)
			conf_error(&pki->src, "pki \"%s\": no cert", pki->name);
		if (pki->key_file == NULL)
			conf_error(&pki->src, "pki \"%s\": no key", pki->name);
	}
	TAILQ_FOREACH(lp, &conf->ldaps, entry)
		finish_ldap(conf, lp);
	TAILQ_FOREACH(crl, &conf->crls, entry)
		finish_crl(conf, crl);
	TAILQ_FOREACH(ap, &conf->auth_profiles, entry)
		finish_auth_profile(conf, ap);
	TAILQ_FOREACH(pol, &conf->policies, entry)
		finish_policy(pol);
	TAILQ_FOREACH(r, &conf->relays, entry)
		finish_relay(conf, r);
	TAILQ_FOREACH(gp, &conf->group_policies, entry)
		if (gp->max_logins == -1)
			gp->max_logins = GROUP_POLICY_DEFAULT_LOGINS;
	TAILQ_FOREACH(px, &conf->proxies, entry)
		finish_proxy(conf, px);
	finish_listeners(conf);
	finish_metrics(conf);
	if (TAILQ_EMPTY(&conf->listeners) && !conf->from_text &&
	    !conf->parse_errors)
		log_warnx("%s: warning: no listeners", conf->path);
	if (conf_errors == 0 && !conf->from_text && !conf->parse_errors) {
		warn_crl(conf);
		warn_plaintext_auth(conf);
	}
	return conf_errors;
}

/*
 * RFC 4954 section 4: no password mechanism without TLS.  `tls required'
 * and `require tls-for-auth' keep AUTH PLAIN/LOGIN for after STARTTLS
 * (538 before it); a STARTTLS listener whose `tls preferred' policy has
 * neither would take a password in the clear, and so would a `tls off'
 * listener anywhere but on loopback.
 */
static void
warn_plaintext_auth(struct smtpcertd_conf *conf)
{
	struct listener		*l;
	const struct auth_profile *ap;
	const struct policy	*pol;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->proto != LISTEN_SMTP || l->tls == LISTEN_TLS_IMPLICIT ||
		    (ap = l->auth_profile) == NULL ||
		    (pol = l->policy) == NULL)
			continue;
		if (ap->kind != AUTH_PROFILE_SMTPAUTH && ap->fallback == NULL)
			continue;	/* certificates only: no password */
		/* `tls off' says on purpose that there is no TLS: fine on
		 * loopback for local programs, not where a password would
		 * cross a network (another address, or a PROXY header's
		 * load balancer in front). */
		if (pol->tls == POLICY_TLS_OFF && (l->proxy_protocol ||
		    !listener_is_loopback(l))) {
			conf_warn(&l->src, "listener with policy \"%s\" "
			    "(tls off) %s accepts a password in the clear",
			    pol->name, l->proxy_protocol ? "behind a PROXY "
			    "header" : "on a non-loopback address");
			continue;
		}
		if (pol->tls != POLICY_TLS_PREFERRED ||
		    pol->require_tls_for_auth)
			continue;
		conf_warn(&l->src, "listener with policy \"%s\" (tls "
		    "preferred) without require tls-for-auth accepts a "
		    "password in the clear", pol->name);
	}
}

static int
listener_is_loopback(const struct listener *l)
{
	return ss_is_loopback(&l->ss);
}

static int
ss_is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	switch (ss->ss_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)ss;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)ss;
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	default:
		return 0;
	}
}

/*
 * The metrics endpoint must not take a listener's address (the bind
 * would fail at start), and is plain HTTP without authentication: say so
 * when it is reachable from elsewhere than this machine.
 */
static void
finish_metrics(struct smtpcertd_conf *conf)
{
	struct listener	*l;

	if (conf->metrics.sslen == 0)
		return;
	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->sslen == conf->metrics.sslen &&
		    memcmp(&l->ss, &conf->metrics.ss, l->sslen) == 0) {
			conf_error(&conf->metrics.src, "metrics listen: "
			    "address and port already used by the listener "
			    "at %s:%d", l->src.file, l->src.line);
			return;
		}
	if (!conf->from_text && !ss_is_loopback(&conf->metrics.ss))
		conf_warn(&conf->metrics.src, "metrics listen on a "
		    "non-loopback address: plain HTTP without "
		    "authentication, reachable by anyone who can connect");
}

/*
 * The default of `front processes': one front per CPU, each front being
 * one core's worth of handshakes.  The online CPUs, fewer when the
 * daemon may only run on some (taskset, a container's cpuset): more
 * fronts than those would only share them.
 */
int
config_front_processes_default(void)
{
	cpu_set_t	 set;
	long		 n;
	int		 aff;

	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    (aff = CPU_COUNT(&set)) > 0 && (n < 1 || aff < n))
		n = aff;
	if (n < 1)
		n = 1;
	return n > CONFIG_FRONTS_MAX ? CONFIG_FRONTS_MAX : (int)n;
}

int
config_front_processes(const struct smtpcertd_conf *conf)
{
	if (conf->front_processes > 0)
		return conf->front_processes;
	return config_front_processes_default();
}
