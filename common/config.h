/*
 * The smtpcertd configuration: data model and API.
 *
 * The parent parses smtpcertd.conf with config_parse_file(), loads the
 * files it names (the parser only records paths), and sends every child
 * the normalised printout (config_text()); the children parse that text
 * with config_parse_text().  Printing and parsing are therefore the
 * serialisation: the printout carries every field and every default, and
 * printing a re-parsed printout yields the identical text.
 *
 * After a successful parse every object has its defaults filled in and
 * every name reference is resolved: both the name (as written, printed)
 * and a pointer to the object (for the daemon) are set.  Objects carry
 * the file and line they were defined at (src) for messages.
 *
 * The grammar itself is documented at the top of parse.y.
 */
#ifndef SMTPCERTD_CONFIG_H
#define SMTPCERTD_CONFIG_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>

#include "netprefix.h"
#include "tlsopts.h"

/* Default paths and names. */
#define CONFIG_DEFAULT_USER		"_smtpcertd"
#define CONFIG_DEFAULT_CHROOT		"/var/lib/smtpcertd/empty"
#define CONFIG_DEFAULT_CONTROL_SOCKET	"/run/smtpcertd.sock"
#define CONFIG_DEFAULT_CRL_CACHEDIR	"/var/cache/smtpcertd"
#define CONFIG_DEFAULT_RESOLVE_EVERY	300	/* seconds */
/* Front processes: at most this many (proto.h's FRONTS_MAX). */
#define CONFIG_FRONTS_MAX		16
/* Not set: as many fronts as CPUs the daemon may run on
 * (config_front_processes()). */
#define CONFIG_DEFAULT_FRONTS		0

/* Bounds the parser enforces. */
#define CONFIG_NAME_MAX		128	/* object names */
#define CONFIG_STRING_MAX	8192	/* any quoted string */
#define CONFIG_INCLUDE_DEPTH	16
#define CONFIG_MAX_LISTENERS	1024
#define CONFIG_MAX_HOSTS	64	/* servers per ldap/relay/proxy list */

/* Where an object was defined: for messages. */
struct conf_src {
	char		*file;
	int		 line;
};

/*
 * Limits.  Globally every field is set (defaults below); on a listener a
 * field is -1 unless overridden, and listener->limits holds the values in
 * effect (override, else global).
 */
#define LIMIT_DEFAULT_IDLE_TIMEOUT	300		/* seconds */
#define LIMIT_DEFAULT_MAX_MESSAGE_SIZE	(35LL * 1024 * 1024)
#define LIMIT_DEFAULT_MAX_RECIPIENTS	100
#define LIMIT_DEFAULT_MAX_ERRORS	10
#define LIMIT_DEFAULT_MAX_LINE_LENGTH	998	/* octets, without CRLF */
#define LIMIT_DEFAULT_MAX_SESSIONS	1000
#define LIMIT_DEFAULT_MAX_AUTH_FAILURES	5
#define LIMIT_DEFAULT_AUTH_FAILURE_WINDOW 900		/* seconds */

struct conf_limits {
	int64_t		 idle_timeout;		/* seconds */
	int64_t		 max_message_size;	/* octets (SIZE) */
	int64_t		 max_recipients;	/* per transaction */
	int64_t		 max_errors;		/* per session, then close */
	int64_t		 max_line_length;	/* DATA text line, octets */
	int64_t		 max_sessions;		/* concurrent, per listener */
	int64_t		 max_auth_failures;	/* per user and per address */
	int64_t		 auth_failure_window;	/* seconds the count lives */
};

/* pki "name" cert "path" key "path" */
struct pki {
	TAILQ_ENTRY(pki) entry;
	char		*name;
	char		*cert_file;
	char		*key_file;
	struct conf_src	 src;
};

/* ca "name" file "path": a PEM bundle of trusted CA certificates. */
/* Certificate policy processing (RFC 5280 6.1) for the paths that end
 * at this bundle's trust anchors. */
#define CA_POLICY_MAX		32	/* acceptable policy OIDs */

struct ca {
	TAILQ_ENTRY(ca)	 entry;
	char		*name;
	char		*file;
	char		*policies[CA_POLICY_MAX];	/* user-initial-policy-set;
							 * none: anyPolicy */
	int		 npolicies;
	int		 require_explicit_policy;
	int		 inhibit_policy_mapping;
	int		 inhibit_any_policy;
	struct conf_src	 src;
};

/* LDAP */
enum ldap_scope_conf {
	CONF_LDAP_SCOPE_BASE,
	CONF_LDAP_SCOPE_ONE,
	CONF_LDAP_SCOPE_SUB
};

enum ldap_query_kind {
	LDAPQ_CERTIFICATE,	/* certificate query: cert fields -> user */
	LDAPQ_SMTPAUTH,		/* smtp-auth query: {u} -> entry, bind */
	LDAPQ_AUTHORIZATION	/* authorization query: {u} -> group policy */
};

enum serial_format {
	SERIAL_HEX,		/* {sn} as lower-case hex, no separators */
	SERIAL_DECIMAL
};

enum ldap_auth_method {
	LDAP_METHOD_BIND	/* simple bind as the user's entry */
};

#define LDAP_DEFAULT_TIMEOUT		5	/* seconds per request */
#define LDAP_DEFAULT_CONNECT_TIMEOUT	5
#define LDAP_DEFAULT_CACHE_TTL		300
#define LDAP_DEFAULT_CACHE_NEG_TTL	30
#define LDAP_DEFAULT_CACHE_SIZE		10000
#define LDAP_DEFAULT_CONNECTIONS	2
#define LDAP_DEFAULT_USER_ATTR		"uid"
#define LDAP_DEFAULT_MAIL_ATTR		"mail"

struct ldap_server {
	TAILQ_ENTRY(ldap_server) entry;
	char		*url;		/* ldap://host[:port] or ldaps://... */
	int		 starttls;	/* only with ldap:// */
};

struct ldap_profile;

struct ldap_query {
	TAILQ_ENTRY(ldap_query) entry;
	char		*name;
	enum ldap_query_kind kind;
	char		*filter;	/* template, checked at load */
	/* certificate */
	char		*user_attr;	/* default "uid" */
	char		*match_cert_attr; /* NULL: no certificate comparison */
	enum serial_format serial_format;
	/* smtp-auth */
	enum ldap_auth_method method;
	char		*allowance;	/* NULL: every user may AUTH */
	/* authorization */
	char		*group_attr;	/* NULL: default group policy only */
	struct ldap_profile *ldap;	/* owner */
	struct conf_src	 src;
};

struct ldap_profile {
	TAILQ_ENTRY(ldap_profile) entry;
	char		*name;
	TAILQ_HEAD(, ldap_server) servers;	/* failover in this order */
	char		*tls_ca_name;	/* NULL: system default CAs */
	struct ca	*tls_ca;
	char		*bind_dn;	/* NULL: anonymous */
	char		*password_file;	/* set iff bind_dn is */
	char		*base;
	enum ldap_scope_conf scope;
	int		 timeout;		/* seconds */
	int		 connect_timeout;	/* seconds */
	int		 connections;		/* pool size */
	int		 cache_ttl;		/* seconds, 0: no positive cache */
	int		 cache_negative_ttl;	/* seconds, 0: no negative cache */
	int		 cache_size;		/* entries, 0: no cache */
	char		*mail_attr;	/* addresses for `sender must match` */
	TAILQ_HEAD(, ldap_query) queries;
	struct conf_src	 src;
};

/* CRL and OCSP */
enum stale_policy {
	STALE_FAIL_CLOSED,
	STALE_FAIL_OPEN
};

enum crl_type {
	CRL_TYPE_PEM,
	CRL_TYPE_ASN1		/* DER */
};

#define CRL_DEFAULT_REFRESH	(6 * 3600)

struct crl_source {
	TAILQ_ENTRY(crl_source) entry;
	char		*name;
	char		*ca_name;	/* the CA bundle that signs it;
					   NULL: any configured ca */
	struct ca	*ca;
	char		*tls_ca_name;	/* verifies https/ldaps servers;
					   NULL: the system's CAs */
	struct ca	*tls_ca;
	enum crl_type	 type;
	char		*url;		/* http https file ldap ldaps */
	char		*secondary;	/* NULL if none */
	int		 refresh;	/* seconds */
	int		 enabled;
	enum stale_policy stale;	/* resolved: own, else global */
	struct conf_src	 src;
};

struct ocsp_conf {
	int		 enabled;
	char		*responder;	/* NULL: from the certificate's AIA */
	enum stale_policy stale;	/* no fresh answer: default fail-open */
	int		 timeout;	/* seconds */
};

/* auth-profile */
enum auth_profile_kind {
	AUTH_PROFILE_SMTPAUTH,		/* SMTP AUTH checked against LDAP */
	AUTH_PROFILE_CERTIFICATE	/* client certificate mapped by LDAP */
};

enum disallowed_action {
	DISALLOWED_REJECT,
	DISALLOWED_MONITOR
};

#define AUTH_DEFAULT_REJECT_CODE	535
#define PROXY_DISALLOWED_TEXT	"Password logins are not allowed for this " \
				"account: use your certificate."
#define PROXY_TEXT_MAX		200	/* disallowed reject text */
#define AUTH_DEFAULT_REJECT_TEXT	"5.7.8 Authentication credentials invalid"

struct auth_profile {
	TAILQ_ENTRY(auth_profile) entry;
	char		*name;
	enum auth_profile_kind kind;
	char		*ldap_name;
	char		*query_name;
	struct ldap_profile *ldap;
	struct ldap_query *query;	/* kind matches the profile's */
	/* smtp-auth: a user failing the query's allowance filter */
	enum disallowed_action disallowed;
	int		 reject_code;	/* 4xx/5xx */
	char		*reject_text;	/* starts with an enhanced code */
	/* certificate: no certificate presented -> this smtp-auth profile */
	char		*fallback_name;	/* NULL: no AUTH fallback */
	struct auth_profile *fallback;
	int		 sender_must_match;
	struct conf_src	 src;
};

/* policy: the mail-flow policy (SPEC 3.2) */
enum policy_tls {
	POLICY_TLS_OFF,
	POLICY_TLS_PREFERRED,
	POLICY_TLS_REQUIRED
};

struct policy {
	TAILQ_ENTRY(policy) entry;
	char		*name;
	enum policy_tls	 tls;		/* default preferred */
	int		 verify_client_cert;
	int		 require_auth;
	int		 require_tls_for_auth;
	struct conf_src	 src;
};

/*
 * TLS towards an upstream (relay, proxy back end):
 *	none      plaintext
 *	starttls  STARTTLS if offered, plaintext otherwise (verified when used)
 *	required  STARTTLS must succeed and verify, else the host fails
 *	implicit  TLS from the first byte (smtps, imaps, pop3s), verified
 */
enum upstream_tls {
	UPSTREAM_TLS_NONE,
	UPSTREAM_TLS_STARTTLS,
	UPSTREAM_TLS_REQUIRED,
	UPSTREAM_TLS_IMPLICIT
};

#define RELAY_DEFAULT_CONNECT_TIMEOUT	30
#define RELAY_DEFAULT_TIMEOUT		300

struct relay_host {
	TAILQ_ENTRY(relay_host) entry;
	char		*host;		/* name or address, resolved later */
	uint16_t	 port;		/* default 25, 465 with tls implicit */
	char		*tls_name;	/* certificate name to verify when
					 * host is an address; NULL: host */
};

struct relay {
	TAILQ_ENTRY(relay) entry;
	char		*name;
	TAILQ_HEAD(, relay_host) hosts;	/* failover in this order */
	enum upstream_tls tls;		/* default required */
	char		*ca_name;	/* NULL: system default CAs */
	struct tls_opts	 tlsopts;	/* tls profile, protocols, ... */
	struct ca	*ca;
	int		 xclient;
	int		 connect_timeout; /* seconds */
	int		 timeout;	/* seconds per reply */
	struct conf_src	 src;
};

/* group-policy: e-mail proxy authorization result */
#define GROUP_POLICY_DEFAULT_LOGINS	10

struct group_policy {
	TAILQ_ENTRY(group_policy) entry;
	char		*name;
	int		 max_logins;	/* simultaneous-logins per user */
	struct conf_src	 src;
};

/* proxy "name" { ... }: the e-mail proxy profile (SPEC 6) */
enum proxy_auth_method {
	PROXY_AUTH_AAA,
	PROXY_AUTH_CERTIFICATE,
	PROXY_AUTH_MAILHOST,
	PROXY_AUTH_PIGGYBACK,
	PROXY_AUTH_MAX
};

/* Certificate subject fields a user name may be taken from. */
enum dn_field {
	DN_FIELD_NONE = 0,
	DN_FIELD_C,
	DN_FIELD_CN,
	DN_FIELD_DNQ,
	DN_FIELD_EA,
	DN_FIELD_GENQ,
	DN_FIELD_GN,
	DN_FIELD_I,
	DN_FIELD_L,
	DN_FIELD_N,
	DN_FIELD_O,
	DN_FIELD_OU,
	DN_FIELD_SER,
	DN_FIELD_SN,
	DN_FIELD_ST,
	DN_FIELD_T,
	DN_FIELD_UID,
	DN_FIELD_MAX
};

#define PROXY_DEFAULT_NAME_DELIM	':'
#define PROXY_DEFAULT_SERVER_DELIM	'@'

#define PROXY_SERVER_ALT_MAX	15	/* with host: 16 addresses */

struct proxy_server {
	TAILQ_ENTRY(proxy_server) entry;
	char		*host;		/* resolved later by the parent */
	uint16_t	 port;		/* 0: protocol default, see
					   config_proxy_server_port() */
	enum upstream_tls tls;		/* default none */
	char		*tls_name;	/* certificate name and the name users
					 * select it by; NULL: host */
	char		*ca_name;	/* NULL: system default CAs */
	struct tls_opts	 tlsopts;
	struct ca	*ca;
	/* Further addresses of the same server, tried in order when host
	 * cannot be reached ("address", set by the parent's resolver). */
	char		*alt[PROXY_SERVER_ALT_MAX];
	int		 nalt;
};

struct proxy_profile {
	TAILQ_ENTRY(proxy_profile) entry;
	char		*name;
	/* auth methods, tried in this order */
	enum proxy_auth_method auth[PROXY_AUTH_MAX];
	int		 nauth;
	/* aaa: authentication (an smtp-auth query: {u} + bind) */
	char		*aaa_ldap_name;
	char		*aaa_query_name;
	struct ldap_profile *aaa_ldap;
	struct ldap_query *aaa_query;
	/* authorization (an authorization query), optional */
	char		*authz_ldap_name;
	char		*authz_query_name;
	struct ldap_profile *authz_ldap;
	struct ldap_query *authz_query;
	char		*accounting_file; /* JSON lines; NULL: syslog only */
	/* user name from a certificate */
	int		 username_dn;	/* whole subject DN */
	enum dn_field	 dn_primary;	/* default CN */
	enum dn_field	 dn_secondary;	/* default OU, or DN_FIELD_NONE */
	char		 name_delim;	/* vpnuser<name>mailuser<server>host */
	char		 server_delim;	/* '\0' after `server none' */
	int		 server_delim_none;
	/* the aaa query's allowance filter refuses a password login */
	int		 disallowed;	/* enum disallowed_action */
	char		*disallowed_text; /* NULL: PROXY_DISALLOWED_TEXT */
	/* a login with a valid certificate must name its user */
	int		 cert_binds_login;
	/* the gateway's master account on the back ends (certificate
	 * logins need no user password) */
	char		*master_user;	/* NULL: none */
	char		*master_password_file;
	char		 master_sep;	/* '\0': SASL PLAIN with an
					 * authorization identity; else
					 * Dovecot's LOGIN user<sep>master */
	int		 xclient;	/* SMTPS back ends: XCLIENT LOGIN= */
	struct proxy_server *default_server;	/* required */
	TAILQ_HEAD(, proxy_server) allowed;	/* besides the default */
	int		 unauth_limit;	/* 0: no limit */
	char		*default_gp_name; /* NULL: none */
	struct group_policy *default_gp;
	struct conf_src	 src;
};

/* listen on ... */
enum listen_proto {
	LISTEN_SMTP,		/* SMTP submission, STARTTLS or plaintext */
	LISTEN_SMTPS,		/* SMTP submission, implicit TLS */
	LISTEN_PROXY_POP3S,
	LISTEN_PROXY_IMAP4S,
	LISTEN_PROXY_SMTPS
};

enum listen_tls {
	LISTEN_TLS_NONE,
	LISTEN_TLS_STARTTLS,
	LISTEN_TLS_IMPLICIT
};

#define LISTEN_MAX_PP_FROM	16

struct listener {
	TAILQ_ENTRY(listener) entry;
	uint32_t	 index;		/* 0..n-1 in file order */
	struct sockaddr_storage ss;	/* address and port */
	socklen_t	 sslen;
	int		 proto;		/* enum listen_proto */
	int		 tls;		/* enum listen_tls */
	int		 proxy_protocol; /* PROXY v1/v2 header accepted */
	/* proxy-protocol from ...: only these balancers (none: any) */
	struct netprefix pp_from[LISTEN_MAX_PP_FROM];
	int		 npp_from;
	struct tls_opts	 tlsopts;	/* over the global ones */
	int		 fd;		/* runtime only: -1, never printed */

	char		*pki_name;
	char		*ca_name;	/* NULL: no client certificates */
	char		*auth_profile_name;	/* SMTP only, optional */
	char		*policy_name;		/* SMTP only */
	char		*relay_name;		/* SMTP only */
	char		*proxy_name;		/* proxy listeners only */
	struct pki	*pki;
	struct ca	*ca;
	struct auth_profile *auth_profile;
	struct policy	*policy;
	struct relay	*relay;
	struct proxy_profile *proxy;

	struct conf_limits limits_set;	/* as written, -1 unset */
	struct conf_limits limits;	/* in effect */
	struct conf_src	 src;
};

/* `metrics listen on ADDRESS port N': the parent's Prometheus endpoint
 * (smtpcertd/metrics.c), plain HTTP. */
struct metrics_conf {
	struct sockaddr_storage ss;
	socklen_t	 sslen;		/* 0: not configured */
	struct conf_src	 src;
};

struct smtpcertd_conf {
	char		*path;		/* file or text name it was parsed from */
	char		*user;
	char		*chroot;
	char		*control_socket;
	char		*control_group;	/* NULL: root only */
	int		 control_group_changes; /* the group may also change
					 * things (reload, kill, ...);
					 * else it may only show */
	struct metrics_conf metrics;	/* sslen 0: no endpoint */
	char		*log_file;	/* NULL: syslog */
	int		 log_facility;	/* a LOG_* facility, default LOG_MAIL */
	char		*crl_cachedir;
	char		*hostname;

	int		 crl_check_inbound;	/* client certs, SMTP */
	int		 crl_check_outbound;	/* relay certs */
	int		 crl_check_proxy;	/* client certs, proxies */
	enum stale_policy crl_stale;	/* default fail-closed */
	int		 tls_security_level;	/* OpenSSL's, for the listeners;
						 * -1: the system's */
	/* Listener session resumption (front's tlsresume.c); -1: the
	 * defaults below. */
	int64_t		 tls_session_lifetime;	/* seconds */
	int		 tls_session_cache;	/* entries; 0: no resumption */
	struct tls_opts	 tls;		/* global TLS settings */
	int64_t		 resolve_every;	/* seconds between re-resolutions of
					 * relay and back-end host names;
					 * 0: at start and reload only */
	/* Front processes sharing the listeners (smtpcertd/proc.c);
	 * taken at start only. */
	int		 front_processes;
	struct ocsp_conf ocsp;
	struct conf_limits limits;	/* global */

	TAILQ_HEAD(, pki)		 pkis;
	TAILQ_HEAD(, ca)		 cas;
	TAILQ_HEAD(, ldap_profile)	 ldaps;
	TAILQ_HEAD(, crl_source)	 crls;
	TAILQ_HEAD(, auth_profile)	 auth_profiles;
	TAILQ_HEAD(, policy)		 policies;
	TAILQ_HEAD(, relay)		 relays;
	TAILQ_HEAD(, group_policy)	 group_policies;
	TAILQ_HEAD(, proxy_profile)	 proxies;
	TAILQ_HEAD(, listener)		 listeners;
	uint32_t	 nlisteners;

	int		 from_text;	/* parsed by config_parse_text() */
	int		 parse_errors;	/* errors before config_finish(): it
					 * still checks, but warns of nothing */
};

/* Parse.  NULL after logging every error as "file:line: message". */
struct smtpcertd_conf *config_parse_file(const char *path);
/*
 * The same, but the configuration comes back even with errors (NULL only
 * when path cannot be opened), *errorsp counting them: the parent goes on
 * to check the files it names, so one run reports every error.  Objects
 * a broken statement left out are missing, references may be unresolved
 * (NULL), and it must not be printed or sent anywhere.
 */
struct smtpcertd_conf *config_parse_file_check(const char *path,
	    int *errorsp);
/* From memory (the parent's printout); `include` is an error here. */
struct smtpcertd_conf *config_parse_text(const char *name, const char *text,
	    size_t len);
/* "-D name=value" from the command line, before parsing; 0 or -1. */
int	config_define_macro(const char *def);

void	config_print(FILE *, const struct smtpcertd_conf *);
/* config_print() into a malloc'd NUL-terminated buffer; NULL on error. */
char	*config_text(const struct smtpcertd_conf *, size_t *lenp);
void	config_free(struct smtpcertd_conf *);

/* Lookups by name; NULL if none. */
struct pki	*config_find_pki(const struct smtpcertd_conf *, const char *);
struct ca	*config_find_ca(const struct smtpcertd_conf *, const char *);
struct ldap_profile *config_find_ldap(const struct smtpcertd_conf *,
	    const char *);
struct ldap_query *config_find_ldap_query(const struct ldap_profile *,
	    const char *);
struct crl_source *config_find_crl(const struct smtpcertd_conf *,
	    const char *);
struct auth_profile *config_find_auth_profile(const struct smtpcertd_conf *,
	    const char *);
struct policy	*config_find_policy(const struct smtpcertd_conf *,
	    const char *);
struct relay	*config_find_relay(const struct smtpcertd_conf *,
	    const char *);
struct group_policy *config_find_group_policy(const struct smtpcertd_conf *,
	    const char *);
struct proxy_profile *config_find_proxy(const struct smtpcertd_conf *,
	    const char *);
struct listener	*config_find_listener(const struct smtpcertd_conf *,
	    uint32_t index);

/* Names for logs, status output and the printer. */
const char	*config_listener_proto_name(const struct listener *);
const char	*config_listener_tls_name(const struct listener *);
const char	*config_upstream_tls_name(enum upstream_tls);
const char	*config_policy_tls_name(enum policy_tls);
const char	*config_stale_name(enum stale_policy);
const char	*config_crl_type_name(enum crl_type);
const char	*config_scope_name(enum ldap_scope_conf);
const char	*config_query_kind_name(enum ldap_query_kind);
const char	*config_proxy_auth_name(enum proxy_auth_method);
const char	*config_dn_field_name(enum dn_field);	/* "CN", "none" */
int		 config_dn_field_lookup(const char *);	/* -1 if unknown */
/* A proxy profile's back-end port: its own, else the default for the
 * listener protocol and TLS mode (imap 143/993, pop3 110/995, smtp 25/465). */
uint16_t	 config_proxy_server_port(const struct proxy_server *,
	    int listen_proto);
/* Does the proxy profile allow this auth method? */
int		 config_proxy_has_auth(const struct proxy_profile *,
	    enum proxy_auth_method);

/*
 * Internal to parse.y, config.c and printconf.c.
 */
struct smtpcertd_conf *config_new(const char *path);
/* Fill defaults, resolve references, check consistency.  Logs each
 * problem as "file:line: message"; returns the number of errors. */
int	config_finish(struct smtpcertd_conf *);
void	config_limits_unset(struct conf_limits *);
void	config_limits_defaults(struct conf_limits *);
struct listener *config_listener_new(void);
void	config_listener_free(struct listener *);
struct ldap_profile *config_ldap_new(void);
void	config_ldap_free(struct ldap_profile *);
struct ldap_query *config_ldap_query_new(enum ldap_query_kind);
void	config_ldap_query_free(struct ldap_query *);
struct crl_source *config_crl_new(void);
void	config_crl_free(struct crl_source *);
struct auth_profile *config_auth_profile_new(void);
void	config_auth_profile_free(struct auth_profile *);
struct policy	*config_policy_new(void);
void	config_policy_free(struct policy *);
struct relay	*config_relay_new(void);
void	config_relay_free(struct relay *);
struct group_policy *config_group_policy_new(void);
void	config_group_policy_free(struct group_policy *);
struct proxy_profile *config_proxy_new(void);
void	config_proxy_free(struct proxy_profile *);
struct proxy_server *config_proxy_server_new(void);
void	config_proxy_server_free(struct proxy_server *);
void	config_pki_free(struct pki *);
void	config_ca_free(struct ca *);
/* Format a duration (seconds) or a size (octets) in its largest exact
 * unit: "6h", "35M".  buf must hold 32 bytes. */
const char	*config_fmt_duration(int64_t, char *, size_t);
const char	*config_fmt_size(int64_t, char *, size_t);
/* The `limit NAME VALUE` settings, for the parser and the printer. */
enum limit_unit { LIMIT_COUNT, LIMIT_DURATION, LIMIT_SIZE };
struct config_limit_desc {
	const char	*name;		/* "idle-timeout" */
	size_t		 off;		/* offsetof(struct conf_limits, ...) */
	enum limit_unit	 unit;
	int64_t		 min, max;
};
extern const struct config_limit_desc config_limit_descs[]; /* NULL name ends */
int64_t		*config_limit_field(struct conf_limits *,
		    const struct config_limit_desc *);
/* Print a string quoted, escaping backslash and double quote. */
void	config_print_string(FILE *, const char *);

/* The number of front processes to run: the configured one, else the
 * online CPUs this process may use, from 1 to CONFIG_FRONTS_MAX. */
int	config_front_processes(const struct smtpcertd_conf *);
/* The default alone (the configuration leaves it out). */
int	config_front_processes_default(void);

#endif
