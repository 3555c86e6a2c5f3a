/*
 * Print a parsed configuration back, normalised: every setting with its
 * value in effect, macros expanded, listen addresses numeric, durations
 * and sizes in their largest exact unit.  The printout is what children
 * parse (config_parse_text()), so it must be complete, and printing a
 * re-parsed printout must give the same text.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "log.h"
#include "tlsopts.h"

static void	tlsopts_print_str(FILE *, const char *, const char *,
		    const char *, const char *);
static void	print_limits(FILE *, const struct conf_limits *, const char *,
		    const char *);
static void	print_ldap(FILE *, const struct ldap_profile *);
static void	print_query(FILE *, const struct ldap_query *);
static void	print_crl(FILE *, const struct crl_source *);
static void	print_auth_profile(FILE *, const struct auth_profile *);
static void	print_policy(FILE *, const struct policy *);
static void	print_relay(FILE *, const struct relay *);
static void	print_proxy_server(FILE *, const struct proxy_server *);
static void	print_proxy(FILE *, const struct proxy_profile *);
static void	print_listener(FILE *, const struct listener *);
static const char *yesno(int);

static const char *
yesno(int v)
{
	return v ? "yes" : "no";
}

void
config_print_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
tlsopts_print_str(FILE *fp, const char *pre, const char *post,
    const char *kw, const char *v)
{
	if (v == NULL)
		return;
	fprintf(fp, "%stls %s ", pre, kw);
	config_print_string(fp, v);
	fputs(post, fp);
}

/*
 * The TLS settings of a block (tlsopts.h) are printed here rather than in
 * tlsopts.c: they are quoted as every other string of the printout, and
 * tlsopts.c, which relays and the listeners use to apply the settings,
 * then needs nothing of the printer.
 */
void
tlsopts_print(FILE *fp, const struct tls_opts *o, const char *pre,
    const char *post)
{
	if (o->profile != -1)
		fprintf(fp, "%stls profile %s%s", pre,
		    tlsopts_profile_name(o->profile), post);
	tlsopts_print_str(fp, pre, post, "protocols", o->protocols);
	tlsopts_print_str(fp, pre, post, "ciphers", o->ciphers);
	tlsopts_print_str(fp, pre, post, "ciphersuites", o->ciphersuites);
	tlsopts_print_str(fp, pre, post, "groups", o->groups);
	if (o->security_level != -1)
		fprintf(fp, "%stls security-level %d%s", pre, o->security_level,
		    post);
}

/*
 * Print the limits that are set, each as "<pre>limit name value<post>".
 */
static void
print_limits(FILE *fp, const struct conf_limits *lim, const char *pre,
    const char *post)
{
	const struct config_limit_desc	*d;
	struct conf_limits		 copy = *lim;
	int64_t				 v;
	char				 buf[32];

	for (d = config_limit_descs; d->name != NULL; d++) {
		v = *config_limit_field(&copy, d);
		if (v == -1)
			continue;
		switch (d->unit) {
		case LIMIT_DURATION:
			config_fmt_duration(v, buf, sizeof(buf));
			break;
		case LIMIT_SIZE:
			config_fmt_size(v, buf, sizeof(buf));
			break;
		default:
			snprintf(buf, sizeof(buf), "%lld", (long long)v);
			break;
		}
		fprintf(fp, "%slimit %s %s%s", pre, d->name, buf, post);
	}
}

static void
print_query(FILE *fp, const struct ldap_query *q)
{
	fprintf(fp, "\t%s query ", config_query_kind_name(q->kind));
	config_print_string(fp, q->name);
	fprintf(fp, " {\n\t\tfilter ");
	config_print_string(fp, q->filter);
	fprintf(fp, "\n");
	switch (q->kind) {
	case LDAPQ_CERTIFICATE:
		fprintf(fp, "\t\tuser-attribute ");
		config_print_string(fp, q->user_attr);
		fprintf(fp, "\n");
		if (q->match_cert_attr != NULL) {
			fprintf(fp, "\t\tmatch-certificate ");
			config_print_string(fp, q->match_cert_attr);
			fprintf(fp, "\n");
		}
		fprintf(fp, "\t\tserial format %s\n",
		    q->serial_format == SERIAL_DECIMAL ? "decimal" : "hex");
		break;
	case LDAPQ_SMTPAUTH:
		fprintf(fp, "\t\tmethod bind\n");
		if (q->allowance != NULL) {
			fprintf(fp, "\t\tallowance ");
			config_print_string(fp, q->allowance);
			fprintf(fp, "\n");
		}
		break;
	case LDAPQ_AUTHORIZATION:
		if (q->group_attr != NULL) {
			fprintf(fp, "\t\tgroup-policy attribute ");
			config_print_string(fp, q->group_attr);
			fprintf(fp, "\n");
		}
		break;
	}
	fprintf(fp, "\t}\n");
}

static void
print_ldap(FILE *fp, const struct ldap_profile *lp)
{
	const struct ldap_server	*s;
	const struct ldap_query		*q;
	char				 b1[32], b2[32];

	fprintf(fp, "ldap ");
	config_print_string(fp, lp->name);
	fprintf(fp, " {\n");
	TAILQ_FOREACH(s, &lp->servers, entry) {
		fprintf(fp, "\tserver ");
		config_print_string(fp, s->url);
		fprintf(fp, "%s\n", s->starttls ? " starttls" : "");
	}
	if (lp->tls_ca_name != NULL) {
		fprintf(fp, "\ttls ca ");
		config_print_string(fp, lp->tls_ca_name);
		fprintf(fp, "\n");
	}
	if (lp->bind_dn != NULL) {
		fprintf(fp, "\tbind dn ");
		config_print_string(fp, lp->bind_dn);
		fprintf(fp, " password-file ");
		config_print_string(fp, lp->password_file);
		fprintf(fp, "\n");
	}
	fprintf(fp, "\tbase ");
	config_print_string(fp, lp->base);
	fprintf(fp, "\n\tscope %s\n", config_scope_name(lp->scope));
	fprintf(fp, "\ttimeout %s\n",
	    config_fmt_duration(lp->timeout, b1, sizeof(b1)));
	fprintf(fp, "\tconnect-timeout %s\n",
	    config_fmt_duration(lp->connect_timeout, b1, sizeof(b1)));
	fprintf(fp, "\tconnections %d\n", lp->connections);
	fprintf(fp, "\tcache ttl %s negative-ttl %s size %d\n",
	    config_fmt_duration(lp->cache_ttl, b1, sizeof(b1)),
	    config_fmt_duration(lp->cache_negative_ttl, b2, sizeof(b2)),
	    lp->cache_size);
	fprintf(fp, "\tmail attribute ");
	config_print_string(fp, lp->mail_attr);
	fprintf(fp, "\n");
	TAILQ_FOREACH(q, &lp->queries, entry)
		print_query(fp, q);
	fprintf(fp, "}\n\n");
}

static void
print_crl(FILE *fp, const struct crl_source *c)
{
	char	 buf[32];

	fprintf(fp, "crl ");
	config_print_string(fp, c->name);
	fprintf(fp, " {\n");
	if (c->ca_name != NULL) {
		fprintf(fp, "\tca ");
		config_print_string(fp, c->ca_name);
		fprintf(fp, "\n");
	}
	if (c->tls_ca_name != NULL) {
		fprintf(fp, "\ttls ca ");
		config_print_string(fp, c->tls_ca_name);
		fprintf(fp, "\n");
	}
	fprintf(fp, "\ttype %s\n\turl ", config_crl_type_name(c->type));
	config_print_string(fp, c->url);
	fprintf(fp, "\n");
	if (c->secondary != NULL) {
		fprintf(fp, "\tsecondary ");
		config_print_string(fp, c->secondary);
		fprintf(fp, "\n");
	}
	fprintf(fp, "\trefresh every %s\n",
	    config_fmt_duration(c->refresh, buf, sizeof(buf)));
	fprintf(fp, "\tenabled %s\n", yesno(c->enabled));
	fprintf(fp, "\tstale %s\n}\n\n", config_stale_name(c->stale));
}

static void
print_auth_profile(FILE *fp, const struct auth_profile *ap)
{
	fprintf(fp, "auth-profile ");
	config_print_string(fp, ap->name);
	fprintf(fp, "%s ldap ",
	    ap->kind == AUTH_PROFILE_CERTIFICATE ? " certificate" : "");
	config_print_string(fp, ap->ldap_name);
	fprintf(fp, " query ");
	config_print_string(fp, ap->query_name);
	fprintf(fp, " {\n");
	if (ap->kind == AUTH_PROFILE_SMTPAUTH) {
		if (ap->disallowed == DISALLOWED_MONITOR)
			fprintf(fp, "\tdisallowed monitor\n");
		else {
			fprintf(fp, "\tdisallowed reject %d ", ap->reject_code);
			config_print_string(fp, ap->reject_text);
			fprintf(fp, "\n");
		}
	}
	if (ap->fallback_name != NULL) {
		fprintf(fp, "\tfallback smtp-auth ");
		config_print_string(fp, ap->fallback_name);
		fprintf(fp, "\n");
	}
	if (ap->sender_must_match)
		fprintf(fp, "\tsender must match\n");
	fprintf(fp, "}\n\n");
}

static void
print_policy(FILE *fp, const struct policy *p)
{
	fprintf(fp, "policy ");
	config_print_string(fp, p->name);
	fprintf(fp, " {\n\ttls %s\n", config_policy_tls_name(p->tls));
	if (p->verify_client_cert)
		fprintf(fp, "\tverify client-certificate\n");
	if (p->require_auth)
		fprintf(fp, "\trequire smtp-auth\n");
	if (p->require_tls_for_auth)
		fprintf(fp, "\trequire tls-for-auth\n");
	fprintf(fp, "}\n\n");
}

static void
print_relay(FILE *fp, const struct relay *r)
{
	const struct relay_host	*h;
	char			 buf[32];

	fprintf(fp, "relay ");
	config_print_string(fp, r->name);
	fprintf(fp, " {\n");
	TAILQ_FOREACH(h, &r->hosts, entry) {
		fprintf(fp, "\thost ");
		config_print_string(fp, h->host);
		fprintf(fp, " port %u", h->port);
		if (h->tls_name != NULL) {
			fprintf(fp, " name ");
			config_print_string(fp, h->tls_name);
		}
		fprintf(fp, "\n");
	}
	fprintf(fp, "\ttls %s\n", config_upstream_tls_name(r->tls));
	if (r->ca_name != NULL) {
		fprintf(fp, "\tca ");
		config_print_string(fp, r->ca_name);
		fprintf(fp, "\n");
	}
	tlsopts_print(fp, &r->tlsopts, "\t", "\n");
	if (r->xclient)
		fprintf(fp, "\txclient\n");
	fprintf(fp, "\tconnect-timeout %s\n",
	    config_fmt_duration(r->connect_timeout, buf, sizeof(buf)));
	fprintf(fp, "\ttimeout %s\n}\n\n",
	    config_fmt_duration(r->timeout, buf, sizeof(buf)));
}

static void
print_proxy_server(FILE *fp, const struct proxy_server *s)
{
	int	 i;

	config_print_string(fp, s->host);
	if (s->port != 0)
		fprintf(fp, " port %u", s->port);
	fprintf(fp, " tls %s", config_upstream_tls_name(s->tls));
	if (s->ca_name != NULL) {
		fprintf(fp, " ca ");
		config_print_string(fp, s->ca_name);
	}
	if (s->tls_name != NULL) {
		fprintf(fp, " name ");
		config_print_string(fp, s->tls_name);
	}
	for (i = 0; i < s->nalt; i++) {
		fprintf(fp, " address ");
		config_print_string(fp, s->alt[i]);
	}
	tlsopts_print(fp, &s->tlsopts, " ", "");
	fprintf(fp, "\n");
}

static void
print_proxy(FILE *fp, const struct proxy_profile *p)
{
	const struct proxy_server	*s;
	char				 d[2] = { 0, 0 };
	int				 i;

	fprintf(fp, "proxy ");
	config_print_string(fp, p->name);
	fprintf(fp, " {\n\tauth");
	for (i = 0; i < p->nauth; i++)
		fprintf(fp, " %s", config_proxy_auth_name(p->auth[i]));
	fprintf(fp, "\n");
	if (p->aaa_ldap_name != NULL) {
		fprintf(fp, "\taaa ldap ");
		config_print_string(fp, p->aaa_ldap_name);
		fprintf(fp, " query ");
		config_print_string(fp, p->aaa_query_name);
		fprintf(fp, "\n");
	}
	if (p->authz_ldap_name != NULL) {
		fprintf(fp, "\tauthorization ldap ");
		config_print_string(fp, p->authz_ldap_name);
		fprintf(fp, " query ");
		config_print_string(fp, p->authz_query_name);
		fprintf(fp, "\n");
	}
	if (p->accounting_file != NULL) {
		fprintf(fp, "\taccounting file ");
		config_print_string(fp, p->accounting_file);
		fprintf(fp, "\n");
	}
	if (p->username_dn)
		fprintf(fp, "\tusername dn\n");
	else
		fprintf(fp, "\tusername field %s secondary %s\n",
		    config_dn_field_name(p->dn_primary),
		    config_dn_field_name(p->dn_secondary));
	fprintf(fp, "\tdelimiter name ");
	d[0] = p->name_delim;
	config_print_string(fp, d);
	fprintf(fp, " server ");
	if (p->server_delim == '\0')
		fprintf(fp, "none");
	else {
		d[0] = p->server_delim;
		config_print_string(fp, d);
	}
	fprintf(fp, "\n");
	if (p->disallowed == DISALLOWED_MONITOR)
		fprintf(fp, "\tdisallowed monitor\n");
	else if (p->disallowed_text != NULL) {
		fprintf(fp, "\tdisallowed reject ");
		config_print_string(fp, p->disallowed_text);
		fprintf(fp, "\n");
	}
	fprintf(fp, "\tcertificate binds-login %s\n", p->cert_binds_login ?
	    "yes" : "no");
	if (p->master_user != NULL) {
		fprintf(fp, "\tmaster user ");
		config_print_string(fp, p->master_user);
		fprintf(fp, " password-file ");
		config_print_string(fp, p->master_password_file);
		if (p->master_sep != '\0') {
			d[0] = p->master_sep;
			fprintf(fp, " separator ");
			config_print_string(fp, d);
		}
		fprintf(fp, "\n");
	}
	if (p->xclient)
		fprintf(fp, "\txclient\n");
	if (p->default_server != NULL) {
		fprintf(fp, "\tdefault server ");
		print_proxy_server(fp, p->default_server);
	}
	TAILQ_FOREACH(s, &p->allowed, entry) {
		fprintf(fp, "\tallow server ");
		print_proxy_server(fp, s);
	}
	fprintf(fp, "\tunauthenticated-limit %d\n", p->unauth_limit);
	if (p->default_gp_name != NULL) {
		fprintf(fp, "\tdefault group-policy ");
		config_print_string(fp, p->default_gp_name);
		fprintf(fp, "\n");
	}
	fprintf(fp, "}\n\n");
}

static void
print_listener(FILE *fp, const struct listener *l)
{
	char		 host[NI_MAXHOST], serv[NI_MAXSERV];
	char		 pfx[INET6_ADDRSTRLEN + 8];
	const char	*proxy = NULL;
	int		 i;

	if (getnameinfo((const struct sockaddr *)&l->ss, l->sslen,
	    host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(host, sizeof(host), "?");
		snprintf(serv, sizeof(serv), "0");
	}
	fprintf(fp, "listen on %s port %s", host, serv);
	switch (l->proto) {
	case LISTEN_PROXY_POP3S:
		proxy = "pop3s";
		break;
	case LISTEN_PROXY_IMAP4S:
		proxy = "imap4s";
		break;
	case LISTEN_PROXY_SMTPS:
		proxy = "smtps";
		break;
	default:
		fprintf(fp, " %s", config_listener_tls_name(l));
		break;
	}
	if (proxy != NULL)
		fprintf(fp, " proxy %s", proxy);
#define REF(kw, field) do {						\
	if (l->field != NULL) {						\
		fprintf(fp, " " kw " ");				\
		config_print_string(fp, l->field);			\
	}								\
} while (0)
	REF("pki", pki_name);
	REF("ca", ca_name);
	REF("auth-profile", auth_profile_name);
	REF("policy", policy_name);
	REF("relay", relay_name);
	REF("profile", proxy_name);
#undef REF
	if (l->proxy_protocol)
		fprintf(fp, " proxy-protocol");
	for (i = 0; i < l->npp_from; i++) {
		netprefix_format(&l->pp_from[i], pfx, sizeof(pfx));
		fprintf(fp, " from \"%s\"", pfx);
	}
	tlsopts_print(fp, &l->tlsopts, " ", "");
	print_limits(fp, &l->limits_set, " ", "");
	fprintf(fp, "\n");
}

void
config_print(FILE *fp, const struct smtpcertd_conf *conf)
{
	const struct pki		*pki;
	const struct ca			*ca;
	const struct ldap_profile	*lp;
	const struct crl_source		*crl;
	const struct group_policy	*gp;
	const struct auth_profile	*ap;
	const struct policy		*pol;
	const struct relay		*r;
	const struct proxy_profile	*px;
	const struct listener		*l;
	char				 buf[32];
	int				 i;

	fprintf(fp, "user ");
	config_print_string(fp, conf->user);
	fprintf(fp, "\nchroot ");
	config_print_string(fp, conf->chroot);
	fprintf(fp, "\ncontrol socket ");
	config_print_string(fp, conf->control_socket);
	fprintf(fp, "\n");
	if (conf->control_group != NULL) {
		fprintf(fp, "control group ");
		config_print_string(fp, conf->control_group);
		fprintf(fp, "%s\n", conf->control_group_changes ?
		    " allow changes" : "");
	}
	if (conf->metrics.sslen != 0) {
		char	 host[NI_MAXHOST], serv[NI_MAXSERV];

		if (getnameinfo((const struct sockaddr *)&conf->metrics.ss,
		    conf->metrics.sslen, host, sizeof(host), serv,
		    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
			snprintf(host, sizeof(host), "?");
			snprintf(serv, sizeof(serv), "0");
		}
		fprintf(fp, "metrics listen on %s port %s\n", host, serv);
	}
	if (conf->log_file != NULL) {
		fprintf(fp, "log file ");
		config_print_string(fp, conf->log_file);
		fprintf(fp, "\n");
	}
	/* Only when not the default, so existing printouts stay as they
	 * were. */
	if (conf->log_facility != LOG_MAIL && conf->log_facility != -1)
		fprintf(fp, "log facility %s\n",
		    log_facility_name(conf->log_facility));
	fprintf(fp, "crl cache ");
	config_print_string(fp, conf->crl_cachedir);
	fprintf(fp, "\nhostname ");
	config_print_string(fp, conf->hostname);
	fprintf(fp, "\nresolve every %s\n",
	    config_fmt_duration(conf->resolve_every, buf, sizeof(buf)));
	/* Only when set: the default depends on the machine's CPUs, and a
	 * printout does not. */
	if (conf->front_processes != CONFIG_DEFAULT_FRONTS)
		fprintf(fp, "front processes %d\n", conf->front_processes);
	fprintf(fp, "\n");

	print_limits(fp, &conf->limits, "", "\n");
	fprintf(fp, "\n");

	fprintf(fp, "crl-check inbound %s outbound %s proxy %s\n",
	    yesno(conf->crl_check_inbound), yesno(conf->crl_check_outbound),
	    yesno(conf->crl_check_proxy));
	fprintf(fp, "crl stale %s\n", config_stale_name(conf->crl_stale));
	if (conf->tls_security_level != -1)
		fprintf(fp, "tls security-level %d\n", conf->tls_security_level);
	if (conf->tls_session_lifetime != -1)
		fprintf(fp, "tls session-lifetime %s\n", config_fmt_duration(
		    conf->tls_session_lifetime, buf, sizeof(buf)));
	if (conf->tls_session_cache != -1)
		fprintf(fp, "tls session-cache %d\n", conf->tls_session_cache);
	tlsopts_print(fp, &conf->tls, "", "\n");
	fprintf(fp, "ocsp %s", yesno(conf->ocsp.enabled));
	if (conf->ocsp.responder != NULL) {
		fprintf(fp, " responder ");
		config_print_string(fp, conf->ocsp.responder);
	}
	fprintf(fp, " stale %s timeout %s\n\n",
	    config_stale_name(conf->ocsp.stale),
	    config_fmt_duration(conf->ocsp.timeout, buf, sizeof(buf)));

	TAILQ_FOREACH(pki, &conf->pkis, entry) {
		fprintf(fp, "pki ");
		config_print_string(fp, pki->name);
		fprintf(fp, " cert ");
		config_print_string(fp, pki->cert_file);
		fprintf(fp, " key ");
		config_print_string(fp, pki->key_file);
		fprintf(fp, "\n");
	}
	TAILQ_FOREACH(ca, &conf->cas, entry) {
		fprintf(fp, "ca ");
		config_print_string(fp, ca->name);
		fprintf(fp, " file ");
		config_print_string(fp, ca->file);
		for (i = 0; i < ca->npolicies; i++) {
			fprintf(fp, " cert-policy ");
			config_print_string(fp, ca->policies[i]);
		}
		if (ca->require_explicit_policy)
			fprintf(fp, " require-explicit-policy");
		if (ca->inhibit_policy_mapping)
			fprintf(fp, " inhibit-policy-mapping");
		if (ca->inhibit_any_policy)
			fprintf(fp, " inhibit-any-policy");
		fprintf(fp, "\n");
	}
	if (!TAILQ_EMPTY(&conf->pkis) || !TAILQ_EMPTY(&conf->cas))
		fprintf(fp, "\n");

	TAILQ_FOREACH(lp, &conf->ldaps, entry)
		print_ldap(fp, lp);
	TAILQ_FOREACH(crl, &conf->crls, entry)
		print_crl(fp, crl);
	TAILQ_FOREACH(gp, &conf->group_policies, entry) {
		fprintf(fp, "group-policy ");
		config_print_string(fp, gp->name);
		fprintf(fp, " {\n\tsimultaneous-logins %d\n}\n\n",
		    gp->max_logins);
	}
	TAILQ_FOREACH(ap, &conf->auth_profiles, entry)
		print_auth_profile(fp, ap);
	TAILQ_FOREACH(pol, &conf->policies, entry)
		print_policy(fp, pol);
	TAILQ_FOREACH(r, &conf->relays, entry)
		print_relay(fp, r);
	TAILQ_FOREACH(px, &conf->proxies, entry)
		print_proxy(fp, px);
	TAILQ_FOREACH(l, &conf->listeners, entry)
		print_listener(fp, l);
}

char *
config_text(const struct smtpcertd_conf *conf, size_t *lenp)
{
	FILE	*fp;
	char	*buf = NULL;
	size_t	 len = 0;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return NULL;
	config_print(fp, conf);
	if (ferror(fp)) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	if (lenp != NULL)
		*lenp = len;
	return buf;
}
