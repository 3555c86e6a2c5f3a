/*
 * smtpcertd.conf grammar (byacc).
 *
 * The shape follows OpenNTPD's parse.y: an include stack, macros, a
 * sorted keyword table searched with bsearch(), `#' comments, backslash
 * line continuation, errors as "file:line: message", and error recovery
 * at the end of each line so that one run reports every mistake.
 *
 * Lexical rules
 *	# comment to the end of the line
 *	\ at the end of a line continues it
 *	"string" or 'string': \" \' and \\ escape; other backslashes are kept
 *	    as they are (LDAP filters use \XX); no control characters
 *	"a" "b"  adjacent strings are joined
 *	name = "value"  defines a macro; $name expands it outside quotes;
 *	    smtpcertd -D name=value defines one that the file cannot change
 *	include "file"
 *	duration: N (seconds) or Ns Nm Nh Nd;  size: N (octets) or NK NM NG
 *	yes|no also read on|off
 *
 * Global settings (defaults in brackets)
 *	user "name"				["_smtpcertd"]
 *	chroot "/dir"				["/var/lib/smtpcertd/empty"]
 *	control socket "/path"			["/run/smtpcertd.sock"]
 *	control group "group" [allow changes]	[none: root only; the
 *						 group may only show]
 *	metrics listen on ADDRESS port N	[none] numeric address;
 *						 Prometheus over plain HTTP
 *	crl cache "/dir"			["/var/cache/smtpcertd"]
 *	hostname "name"				[gethostname()]
 *	front processes N			[1] 1-16 front processes
 *						 sharing the listeners
 *	limit NAME VALUE			[see below; a listener may
 *						 override any of them]
 *	    idle-timeout DURATION [5m]   max-message-size SIZE [35M]
 *	    max-recipients N [100]       max-errors N [10]
 *	    max-line-length N [998]      max-sessions N [1000]
 *	    max-auth-failures N [5]      auth-failure-window DURATION [15m]
 *	crl-check [inbound yes|no] [outbound yes|no] [proxy yes|no]
 *						[inbound yes outbound no
 *						 proxy yes]
 *	crl stale fail-closed|fail-open		[fail-closed]
 *	ocsp yes|no [responder "url"] [stale fail-closed|fail-open]
 *	    [timeout DURATION]			[no, AIA, fail-open, 10s]
 *
 * Objects
 *	pki "name" cert "/file" key "/file"
 *	ca "name" file "/file"
 *
 *	ldap "name" {
 *		server "ldap[s]://host[:port]" [starttls]	(1 or more)
 *		tls ca "ca-name"			[system CAs]
 *		bind dn "dn" password-file "/file"	[anonymous]
 *		base "dn"				(required)
 *		scope base|one|sub			[sub]
 *		timeout DURATION			[5s]
 *		connect-timeout DURATION		[5s]
 *		connections N				[2]
 *		cache [ttl DURATION] [negative-ttl DURATION] [size N]
 *							[5m 30s 10000]
 *		mail attribute "attr"			["mail"]
 *		certificate query "name" {
 *			filter "template"	{cn} {sn} {e} {upn} {uid} {o}
 *						{ou} {dn} {issuer} {fp}
 *			user-attribute "attr"		["uid"]
 *			match-certificate "attr"	[none]
 *			serial format hex|decimal	[hex]
 *		}
 *		smtp-auth query "name" {
 *			filter "template"		{u} (required) {t}
 *			method bind			[bind]
 *			allowance "template"		{u} (required) {t}
 *		}
 *		authorization query "name" {
 *			filter "template"		{u} (required) {t}
 *			group-policy attribute "attr"	[none]
 *		}
 *	}
 *
 *	crl "name" {
 *		ca "ca-name"				[any configured ca:
 *							 the one that signs
 *							 the CRL]
 *		type pem|asn1				[pem]
 *		url "http|https|file|ldap|ldaps://..."	(required)
 *		secondary "url"
 *		refresh every DURATION			[6h]
 *		enabled yes|no				[yes]
 *		stale fail-closed|fail-open		[global crl stale]
 *	}
 *
 *	group-policy "name" {
 *		simultaneous-logins N			[10]
 *	}
 *
 *	auth-profile "name" [smtp-auth] ldap "ldap" query "smtp-auth-query"
 *	    [OPTIONS] [{ OPTIONS, one or more per line }]
 *	auth-profile "name" certificate ldap "ldap" query "certificate-query"
 *	    [OPTIONS] [{ ... }]
 *		disallowed reject CODE "X.Y.Z text"	(smtp-auth)
 *						[535 "5.7.8 Authentication
 *						 credentials invalid"]
 *		disallowed monitor			(smtp-auth)
 *		fallback smtp-auth "auth-profile"	(certificate)
 *		sender must match
 *
 *	policy "name" {
 *		tls off|preferred|required		[preferred]
 *		verify client-certificate
 *		require smtp-auth
 *		require tls-for-auth
 *	}
 *
 *	relay "name" [OPTIONS] [{ OPTIONS, one or more per line }]
 *		host "name-or-address" [port N]	(1 or more) [25, or 465
 *							 with tls implicit]
 *		tls none|starttls|required|implicit	[required]
 *		ca "ca-name"				[system CAs]
 *		xclient
 *		connect-timeout DURATION		[30s]
 *		timeout DURATION			[5m]
 *
 *	proxy "name" {
 *		auth aaa|certificate|mailhost|piggyback ...	[mailhost]
 *		aaa ldap "ldap" query "smtp-auth-query"
 *		authorization ldap "ldap" query "authorization-query"
 *		accounting file "/file"			[syslog only]
 *		username dn
 *		username field F [secondary F|none]	[CN secondary OU]
 *		    [secondary none after field OU]
 *		    F: C CN DNQ EA GENQ GN I L N O OU SER SN ST T UID
 *		delimiter [name "c"] [server "c"]	[":" "@"]
 *		default server "host" [port N] [tls none|starttls|required|
 *		    implicit] [ca "ca-name"] [name "name"]
 *							(required) [protocol
 *							 default, none, system
 *							 CAs, host]
 *		allow server "host" [port N] [tls ...] [ca ...] [name ...]
 *		    name: the certificate name to verify and the name users
 *		    give after the server delimiter when host is an address
 *		    (the parent writes resolved host names this way)
 *		unauthenticated-limit N			[0: none]
 *		default group-policy "name"
 *	}
 *
 *	listen on ADDRESS [port N] [starttls|tls|plaintext] pki "name"
 *	    [ca "name"] [auth-profile "name"] policy "name" relay "name"
 *	    [proxy-protocol] [limit NAME VALUE ...]
 *						[starttls; port 587, 465
 *						 with tls, 25 plaintext]
 *	listen on ADDRESS [port N] proxy pop3s|imap4s|smtps pki "name"
 *	    [ca "name"] profile "proxy-name" [proxy-protocol]
 *	    [limit NAME VALUE ...]		[port 995, 993, 988]
 *	ADDRESS is numeric, a host name (resolved now; every address it
 *	has becomes a listener) or * (every address).
 */

%{
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>

#include "config.h"
#include "ldap_filter.h"
#include "log.h"

struct file {
	TAILQ_ENTRY(file)	 entry;
	FILE			*stream;	/* NULL: text */
	const char		*text;
	size_t			 textlen;
	size_t			 textpos;
	char			*name;
	int			 lineno;
	int			*ungetbuf;
	size_t			 ungetpos;
	size_t			 ungetsize;
};

static TAILQ_HEAD(files, file) files = TAILQ_HEAD_INITIALIZER(files);
static struct file	*file, *topfile;
static int		 parse_errors;
static int		 lexerr;	/* lexer logged; skip "syntax error" */
static int		 eof_nl;	/* returned the newline at EOF */

static struct file	*pushfile(const char *);
static void		 ldap_add_server(char *, int);
static struct file	*newfile(const char *);
static int		 popfile(void);
static int		 include_depth(void);
static void		 freefile(struct file *);
static int		 yyparse(void);
static int		 yylex(void);
static int		 yyerror(const char *, ...)
			    __attribute__((format(printf, 1, 2)));
static int		 kw_cmp(const void *, const void *);
static int		 lookup(const char *);
static int		 service_port(const char *);
static int		 igetc(void);
static int		 lgetc(int);
static void		 lungetc(int);
static int		 findeol(void);

struct sym {
	TAILQ_ENTRY(sym)	 entry;
	int			 persist;
	char			*nam;
	char			*val;
};
static TAILQ_HEAD(, sym) symhead = TAILQ_HEAD_INITIALIZER(symhead);
static const char	*parsebuf;	/* macro value being read */
static size_t		 parseindex;

static int		 symset(const char *, const char *, int);
static const char	*symget(const char *);
static int		 macro_name_ok(const char *);
static void		 symclear(void);

static struct smtpcertd_conf	*conf;
static struct ldap_profile	*cur_ldap;
static struct ldap_query	*cur_query;
static struct crl_source	*cur_crl;
static struct ca		*cur_ca;
static struct group_policy	*cur_gp;
static struct auth_profile	*cur_ap;
static struct policy		*cur_policy;
static struct relay		*cur_relay;
static struct proxy_profile	*cur_proxy;
static struct proxy_server	*cur_server;
static struct pki		*cur_pki;
static struct listener		*lt;		/* listen options so far */
static char			*lt_addr;
static int			 lt_port;
static int			 lt_mode;

enum {
	MODE_STARTTLS,
	MODE_TLS,
	MODE_PLAINTEXT,
	MODE_POP3S,
	MODE_IMAP4S,
	MODE_SMTPS
};

static struct smtpcertd_conf *parse_run(struct file *, const char *, int,
		    int *);
static void	 src_set(struct conf_src *);
static void	 setstr(char **, char *, const char *);
static struct tls_opts *tls_target(void);
static void	 tls_setstr(char **, char *, const char *);
static int	 check_name(const char *);
static int	 check_path(const char *);
static int	 check_url(const char *, const char *const *);
static int	 proxy_text_ok(const char *);
static int	 parse_duration(const char *, int64_t *);
static int	 parse_size(const char *, int64_t *);
static void	 set_limit(struct conf_limits *, const char *, const char *);
static void	 set_filter(char **, char *, const char *);
static void	 listen_begin(char *);
static void	 metrics_set(const char *, int);
static void	 listen_end(void);
static void	 listen_mode(int);
static void	 listen_reset(void);
static void	 proxy_server_done(int);
static void	 proxy_add_auth(int);
static void	 proxy_server_begin(char *);

#define SETONCE(lv, val, what) do {					\
	if ((int)(lv) != -1)						\
		yyerror("%s given twice", what);			\
	else								\
		(lv) = (val);						\
} while (0)

typedef struct {
	union {
		int64_t		 number;
		char		*string;
	} v;
	int lineno;
} YYSTYPE;

%}

%token	AAA ACCOUNTING ADDRESS ALLOW ALLOWANCE ASN1 ATTRIBUTE AUTH AUTHPROFILE
%token	AUTHORIZATION BASE BIND CA CACHE CERT CERTIFICATE CHROOT CLIENTCERT
%token	CONNECTTIMEOUT CONNECTIONS CONTROL CRL CRLCHECK DECIMAL DEFAULT
%token	DELIMITER DISALLOWED DN ENABLED EVERY FAILCLOSED FAILOPEN FALLBACK
%token	FIELD FILETOK FILTER FORMAT GROUP GROUPPOLICY HEX HOST HOSTNAME IMAP4S
%token	IMPLICIT INBOUND INCLUDE KEY LDAP LIMIT LISTEN MAIL MAILHOST MATCH
%token	MATCHCERT METHOD MONITOR MUST NAME NEGTTL NO NONE OCSP OFF ON ONE
%token	OUTBOUND PASSWORDFILE PEM PIGGYBACK PKI PLAINTEXT POLICY POP3S PORT
%token	PREFERRED PROFILE PROXY PROXYPROTO QUERY REFRESH REJECT RELAY REQUIRE
%token	REQUIRED RESOLVE RESPONDER SCOPE SECONDARY SENDER SERIAL SERVER SIMLOGINS
%token	SIZE SMTPAUTH SMTPS SOCKET STALE STARTTLS SUB TIMEOUT TLS TLSFORAUTH
%token	TTL TYPE UNAUTHLIMIT URL USER USERATTR USERNAME VERIFY XCLIENT YES
%token	CERTPOLICY INHIBITANYPOLICY INHIBITPOLICYMAPPING REQEXPLICITPOLICY
%token	SECURITYLEVEL BINDSLOGIN MASTER SEPARATOR FRONT PROCESSES
%token	SESSIONCACHE SESSIONLIFETIME PROTOCOLS CIPHERS CIPHERSUITES GROUPS
%token	METRICS CHANGES LOG FACILITY FROM
/* One: a listener's `tls' (implicit TLS) before `profile' is read as
 * `tls profile ...' (its TLS settings); a proxy's `profile' never
 * follows `tls' on a listener. */
%expect 1
%token	ERROR
%token	<v.string>	STRING
%token	<v.number>	NUMBER
%type	<v.string>	string name path value relayname
%destructor	{ free($$); } <v.string>
%type	<v.number>	yesno stale duration port count upstreamtls policytls
%type	<v.number>	tlsprofile controlchanges
%type	<v.string>	facility
%type	<v.number>	dnfield authkind scope authmethod relayport

%%

grammar		: /* empty */
		| grammar '\n'
		| grammar include '\n'
		| grammar varset '\n'
		| grammar main '\n'
		| grammar error '\n'		{ parse_errors++; yyerrok; }
		;

include		: INCLUDE STRING		{
			struct file	*nfile;

			/* YYERROR leaves $2 to the %destructor */
			if (conf->from_text) {
				yyerror("include is not allowed here");
				YYERROR;
			}
			if (include_depth() >= CONFIG_INCLUDE_DEPTH) {
				yyerror("include nested too deeply");
				YYERROR;
			}
			/* Relative to the including file, so a reload from
			 * the daemon's "/" finds the same file. */
			if ($2[0] != '/' && strrchr(file->name, '/') != NULL) {
				char	*rel;

				if (asprintf(&rel, "%.*s/%s",
				    (int)(strrchr(file->name, '/') - file->name),
				    file->name, $2) == -1)
					fatal("include");
				free($2);
				$2 = rel;
			}
			if ((nfile = pushfile($2)) == NULL) {
				yyerror("cannot open %s: %s", $2,
				    strerror(errno));
				YYERROR;
			}
			free($2);
			file = nfile;
			lungetc('\n');
		}
		;

string		: string STRING			{
			if (asprintf(&$$, "%s%s", $1, $2) == -1)
				fatal("string");
			free($1);
			free($2);
			if (strlen($$) > CONFIG_STRING_MAX)
				yyerror("string too long");
		}
		| STRING
		;

/* A value that may be written as a number or a word: 6h, 35M. */
value		: STRING
		| NUMBER			{
			if (asprintf(&$$, "%lld", (long long)$1) == -1)
				fatal("value");
		}
		;

name		: string			{
			if (check_name($1) == -1)
				yyerror("invalid name \"%s\"", $1);
			$$ = $1;
		}
		;

path		: string			{
			if (check_path($1) == -1)
				yyerror("\"%s\": path must be absolute", $1);
			$$ = $1;
		}
		;

/* `mail' and `user' are keywords too. */
facility	: STRING
		| MAIL				{
			if (($$ = strdup("mail")) == NULL)
				fatal("facility");
		}
		| USER				{
			if (($$ = strdup("user")) == NULL)
				fatal("facility");
		}
		;

varset		: STRING '=' string		{
			if (!macro_name_ok($1))
				yyerror("invalid macro name \"%s\"", $1);
			else if (symset($1, $3, 0) == -1)
				fatal("cannot store macro");
			free($1);
			free($3);
		}
		;

yesno		: YES		{ $$ = 1; }
		| ON		{ $$ = 1; }
		| NO		{ $$ = 0; }
		| OFF		{ $$ = 0; }
		;

stale		: FAILCLOSED	{ $$ = STALE_FAIL_CLOSED; }
		| FAILOPEN	{ $$ = STALE_FAIL_OPEN; }
		;

upstreamtls	: NONE		{ $$ = UPSTREAM_TLS_NONE; }
		| STARTTLS	{ $$ = UPSTREAM_TLS_STARTTLS; }
		| REQUIRED	{ $$ = UPSTREAM_TLS_REQUIRED; }
		| IMPLICIT	{ $$ = UPSTREAM_TLS_IMPLICIT; }
		;

policytls	: OFF		{ $$ = POLICY_TLS_OFF; }
		| PREFERRED	{ $$ = POLICY_TLS_PREFERRED; }
		| REQUIRED	{ $$ = POLICY_TLS_REQUIRED; }
		;

scope		: BASE		{ $$ = CONF_LDAP_SCOPE_BASE; }
		| ONE		{ $$ = CONF_LDAP_SCOPE_ONE; }
		| SUB		{ $$ = CONF_LDAP_SCOPE_SUB; }
		;

duration	: value				{
			if (parse_duration($1, &$$) == -1) {
				yyerror("invalid duration \"%s\"", $1);
				YYERROR;	/* $1 goes to the %destructor */
			}
			free($1);
		}
		;

count		: NUMBER			{
			if ($1 < 0 || $1 > INT_MAX) {
				yyerror("number %lld out of range",
				    (long long)$1);
				YYERROR;
			}
			$$ = $1;
		}
		;

port		: NUMBER			{
			if ($1 < 1 || $1 > 65535) {
				yyerror("invalid port %lld", (long long)$1);
				YYERROR;
			}
			$$ = $1;
		}
		| STRING			{
			int	 p;

			if ((p = service_port($1)) == -1) {
				/* the %destructor frees $1 */
				yyerror("unknown port \"%s\"", $1);
				YYERROR;
			}
			$$ = p;
			free($1);
		}
		;

/* Members of the control group only show, unless this says otherwise. */
controlchanges	: /* empty */			{ $$ = 0; }
		| ALLOW CHANGES			{ $$ = 1; }
		;

dnfield		: STRING			{
			int	 f;

			if ((f = config_dn_field_lookup($1)) <= DN_FIELD_NONE) {
				yyerror("unknown DN field \"%s\"", $1);
				YYERROR;
			}
			free($1);
			$$ = f;
		}
		;

main		: USER string			{
			if (check_name($2) == -1)
				yyerror("invalid user \"%s\"", $2);
			setstr(&conf->user, $2, "user");
		}
		| CHROOT path		{ setstr(&conf->chroot, $2, "chroot"); }
		| CONTROL SOCKET path	{
			setstr(&conf->control_socket, $3, "control socket");
		}
		| CONTROL GROUP string controlchanges	{
			if (check_name($3) == -1)
				yyerror("invalid group \"%s\"", $3);
			setstr(&conf->control_group, $3, "control group");
			conf->control_group_changes = $4;
		}
		| LOG FILETOK path	{ setstr(&conf->log_file, $3, "log file"); }
		| LOG FACILITY facility	{
			int	 fac;

			if ((fac = log_facility_lookup($3)) == -1)
				yyerror("unknown log facility \"%s\"", $3);
			else
				SETONCE(conf->log_facility, fac,
				    "log facility");
			free($3);
		}
		| METRICS LISTEN ON STRING PORT port	{
			metrics_set($4, $6);
			free($4);
		}
		| HOSTNAME string	{
			const char	*p;

			for (p = $2; *p != '\0'; p++)
				if (!isalnum((unsigned char)*p) &&
				    *p != '-' && *p != '.' && *p != '_')
					break;
			if (*p != '\0' || $2[0] == '\0' || strlen($2) > 255)
				yyerror("invalid hostname \"%s\"", $2);
			setstr(&conf->hostname, $2, "hostname");
		}
		| CRL CACHE path	{
			setstr(&conf->crl_cachedir, $3, "crl cache");
		}
		| CRL STALE stale	{ SETONCE(conf->crl_stale, $3, "crl stale"); }
		| RESOLVE EVERY duration	{
			/* 0: host names are resolved at start and reload
			 * only. */
			if ($3 != 0 && ($3 < 1 || $3 > 86400))
				yyerror("resolve every out of range (0, 1s-1d)");
			SETONCE(conf->resolve_every, $3, "resolve every");
		}
		| FRONT PROCESSES NUMBER	{
			if ($3 < 1 || $3 > CONFIG_FRONTS_MAX)
				yyerror("front processes out of range (1-%d)",
				    CONFIG_FRONTS_MAX);
			else
				SETONCE(conf->front_processes, $3,
				    "front processes");
		}
		| CRLCHECK crlchecks
		| OCSP yesno		{
			SETONCE(conf->ocsp.enabled, $2, "ocsp");
		} ocspopts
		| LIMIT STRING value	{
			set_limit(&conf->limits, $2, $3);
			free($2);
			free($3);
		}
		| pkihead pkiopts
		| CA name FILETOK path	{
			if ((cur_ca = calloc(1, sizeof(*cur_ca))) == NULL)
				fatal("ca");
			cur_ca->name = $2;
			cur_ca->file = $4;
			/* A mid-rule action: name and path stay on the
			 * stack until caopts ends, and a syntax error there
			 * would hand them to the %destructor while cur_ca
			 * holds them (a use after free, found by fuzzing). */
			$2 = NULL;
			$4 = NULL;
			src_set(&cur_ca->src);
			TAILQ_INSERT_TAIL(&conf->cas, cur_ca, entry);
		} caopts		{ cur_ca = NULL; }
		| TLS SECURITYLEVEL NUMBER	{
			if ($3 < 0 || $3 > 5)
				yyerror("tls security-level out of range (0-5)");
			else
				SETONCE(conf->tls_security_level, (int)$3,
				    "tls security-level");
		}
		| TLS SESSIONLIFETIME duration	{
			/* Tickets and cached sessions expire after it; the
			 * ticket keys rotate as often (tlsresume.c). */
			if ($3 < 60 || $3 > 7 * 86400)
				yyerror("tls session-lifetime out of range "
				    "(1m-7d)");
			else
				SETONCE(conf->tls_session_lifetime, $3,
				    "tls session-lifetime");
		}
		| TLS SESSIONCACHE count	{
			if ($3 > 1000000)
				yyerror("tls session-cache out of range "
				    "(0-1000000)");
			else
				SETONCE(conf->tls_session_cache, (int)$3,
				    "tls session-cache");
		}
		| ldaphead ldapblock
		| crlhead crlblock
		| gphead gpblock
		| authhead authinline authtail
		| policyhead policyblock
		| relayhead relayinline relaytail	{ cur_relay = NULL; }
		| tlsopt
		| proxyhead proxyblock
		| listenhead listenopts	{ listen_end(); }
		;

caopts		: /* empty */
		| caopts caopt
		;

caopt		: CERTPOLICY STRING	{
			ASN1_OBJECT	*o;

			if ((o = OBJ_txt2obj($2, 1)) == NULL) {
				yyerror("invalid certificate policy OID \"%s\"",
				    $2);
				free($2);
			} else if (cur_ca->npolicies >= CA_POLICY_MAX) {
				yyerror("more than %d certificate policies",
				    CA_POLICY_MAX);
				free($2);
			} else
				cur_ca->policies[cur_ca->npolicies++] = $2;
			ASN1_OBJECT_free(o);
			ERR_clear_error();
		}
		| REQEXPLICITPOLICY	{ cur_ca->require_explicit_policy = 1; }
		| INHIBITPOLICYMAPPING	{ cur_ca->inhibit_policy_mapping = 1; }
		| INHIBITANYPOLICY	{ cur_ca->inhibit_any_policy = 1; }
		;

crlchecks	: crlcheck
		| crlchecks crlcheck
		;

crlcheck	: INBOUND yesno	{
			SETONCE(conf->crl_check_inbound, $2, "crl-check inbound");
		}
		| OUTBOUND yesno {
			SETONCE(conf->crl_check_outbound, $2,
			    "crl-check outbound");
		}
		| PROXY yesno	{
			SETONCE(conf->crl_check_proxy, $2, "crl-check proxy");
		}
		;

ocspopts	: /* empty */
		| ocspopts ocspopt
		;

ocspopt		: RESPONDER string	{
			static const char *const schemes[] = {
				"http://", "https://", NULL
			};

			if (check_url($2, schemes) == -1)
				yyerror("invalid ocsp responder \"%s\"", $2);
			setstr(&conf->ocsp.responder, $2, "ocsp responder");
		}
		| STALE stale		{
			SETONCE(conf->ocsp.stale, $2, "ocsp stale");
		}
		| TIMEOUT duration	{
			if ($2 < 1 || $2 > 300)
				yyerror("ocsp timeout out of range");
			SETONCE(conf->ocsp.timeout, $2, "ocsp timeout");
		}
		;

pkihead		: PKI name		{
			if ((cur_pki = calloc(1, sizeof(*cur_pki))) == NULL)
				fatal("pki");
			cur_pki->name = $2;
			src_set(&cur_pki->src);
			TAILQ_INSERT_TAIL(&conf->pkis, cur_pki, entry);
		}
		;

pkiopts		: pkiopt
		| pkiopts pkiopt
		;

pkiopt		: CERT path	{ setstr(&cur_pki->cert_file, $2, "cert"); }
		| KEY path	{ setstr(&cur_pki->key_file, $2, "key"); }
		;

/* ldap "name" { ... } */
ldaphead	: LDAP name		{
			cur_ldap = config_ldap_new();
			cur_ldap->name = $2;
			src_set(&cur_ldap->src);
			TAILQ_INSERT_TAIL(&conf->ldaps, cur_ldap, entry);
		}
		;

ldapblock	: '{' ldapitems '}'
		| '{' ldapitems ldapopt '}'
		;

ldapitems	: /* empty */
		| ldapitems '\n'
		| ldapitems ldapopt '\n'
		| ldapitems error '\n'		{ parse_errors++; yyerrok; }
		;

ldapopt		: SERVER string		{ ldap_add_server($2, 0); }
		| SERVER string STARTTLS	{
			if (strncasecmp($2, "ldap://", 7) != 0)
				yyerror("starttls needs an ldap:// server");
			ldap_add_server($2, 1);
		}
		| TLS CA name		{
			setstr(&cur_ldap->tls_ca_name, $3, "tls ca");
		}
		| BIND DN string PASSWORDFILE path	{
			if ($3[0] == '\0')
				yyerror("empty bind dn");
			setstr(&cur_ldap->bind_dn, $3, "bind dn");
			setstr(&cur_ldap->password_file, $5, "password-file");
		}
		| BASE string		{ setstr(&cur_ldap->base, $2, "base"); }
		| SCOPE scope		{ SETONCE(cur_ldap->scope, $2, "scope"); }
		| TIMEOUT duration	{
			if ($2 < 1 || $2 > 300)
				yyerror("timeout out of range (1s-5m)");
			SETONCE(cur_ldap->timeout, $2, "timeout");
		}
		| CONNECTTIMEOUT duration	{
			if ($2 < 1 || $2 > 300)
				yyerror("connect-timeout out of range (1s-5m)");
			SETONCE(cur_ldap->connect_timeout, $2,
			    "connect-timeout");
		}
		| CONNECTIONS count	{
			if ($2 < 1 || $2 > 64)
				yyerror("connections out of range (1-64)");
			SETONCE(cur_ldap->connections, $2, "connections");
		}
		| CACHE cacheopts
		| MAIL ATTRIBUTE string	{
			if (check_name($3) == -1)
				yyerror("invalid attribute \"%s\"", $3);
			setstr(&cur_ldap->mail_attr, $3, "mail attribute");
		}
		| queryhead queryblock
		;

cacheopts	: cacheopt
		| cacheopts cacheopt
		;

cacheopt	: TTL duration		{
			if ($2 < 0 || $2 > 86400)
				yyerror("cache ttl out of range (0-1d)");
			SETONCE(cur_ldap->cache_ttl, $2, "cache ttl");
		}
		| NEGTTL duration	{
			if ($2 < 0 || $2 > 86400)
				yyerror("cache negative-ttl out of range (0-1d)");
			SETONCE(cur_ldap->cache_negative_ttl, $2,
			    "cache negative-ttl");
		}
		| SIZE count		{
			if ($2 > 10000000)
				yyerror("cache size out of range");
			SETONCE(cur_ldap->cache_size, $2, "cache size");
		}
		;

queryhead	: CERTIFICATE QUERY name	{
			cur_query = config_ldap_query_new(LDAPQ_CERTIFICATE);
			cur_query->name = $3;
			src_set(&cur_query->src);
			TAILQ_INSERT_TAIL(&cur_ldap->queries, cur_query, entry);
		}
		| SMTPAUTH QUERY name		{
			cur_query = config_ldap_query_new(LDAPQ_SMTPAUTH);
			cur_query->name = $3;
			src_set(&cur_query->src);
			TAILQ_INSERT_TAIL(&cur_ldap->queries, cur_query, entry);
		}
		| AUTHORIZATION QUERY name	{
			cur_query = config_ldap_query_new(LDAPQ_AUTHORIZATION);
			cur_query->name = $3;
			src_set(&cur_query->src);
			TAILQ_INSERT_TAIL(&cur_ldap->queries, cur_query, entry);
		}
		;

crlblock	: '{' crlitems '}'
		| '{' crlitems crlopts '}'
		;

crlopts		: crlopt
		| crlopts crlopt
		;

queryitems	: /* empty */
		| queryitems '\n'
		| queryitems queryopts '\n'
		| queryitems error '\n'		{ parse_errors++; yyerrok; }
		;

queryopt	: FILTER string		{
			set_filter(&cur_query->filter, $2, "filter");
		}
		| USERATTR string	{
			if (cur_query->kind != LDAPQ_CERTIFICATE)
				yyerror("user-attribute is only valid in a "
				    "certificate query");
			if (check_name($2) == -1)
				yyerror("invalid attribute \"%s\"", $2);
			setstr(&cur_query->user_attr, $2, "user-attribute");
		}
		| MATCHCERT string	{
			if (cur_query->kind != LDAPQ_CERTIFICATE)
				yyerror("match-certificate is only valid in a "
				    "certificate query");
			if (check_name($2) == -1)
				yyerror("invalid attribute \"%s\"", $2);
			setstr(&cur_query->match_cert_attr, $2,
			    "match-certificate");
		}
		| SERIAL FORMAT HEX	{
			if (cur_query->kind != LDAPQ_CERTIFICATE)
				yyerror("serial format is only valid in a "
				    "certificate query");
			SETONCE(cur_query->serial_format, SERIAL_HEX,
			    "serial format");
		}
		| SERIAL FORMAT DECIMAL	{
			if (cur_query->kind != LDAPQ_CERTIFICATE)
				yyerror("serial format is only valid in a "
				    "certificate query");
			SETONCE(cur_query->serial_format, SERIAL_DECIMAL,
			    "serial format");
		}
		| METHOD BIND		{
			if (cur_query->kind != LDAPQ_SMTPAUTH)
				yyerror("method is only valid in an smtp-auth "
				    "query");
			SETONCE(cur_query->method, LDAP_METHOD_BIND, "method");
		}
		| ALLOWANCE string	{
			if (cur_query->kind != LDAPQ_SMTPAUTH)
				yyerror("allowance is only valid in an "
				    "smtp-auth query");
			set_filter(&cur_query->allowance, $2, "allowance");
		}
		| GROUPPOLICY ATTRIBUTE string	{
			if (cur_query->kind != LDAPQ_AUTHORIZATION)
				yyerror("group-policy attribute is only valid "
				    "in an authorization query");
			if (check_name($3) == -1)
				yyerror("invalid attribute \"%s\"", $3);
			setstr(&cur_query->group_attr, $3,
			    "group-policy attribute");
		}
		;

/* crl "name" { ... } */
crlhead		: CRL name		{
			cur_crl = config_crl_new();
			cur_crl->name = $2;
			src_set(&cur_crl->src);
			TAILQ_INSERT_TAIL(&conf->crls, cur_crl, entry);
		}
		;

queryblock	: '{' queryitems '}'
		| '{' queryitems queryopts '}'
		;

queryopts	: queryopt
		| queryopts queryopt
		;

crlitems	: /* empty */
		| crlitems '\n'
		| crlitems crlopts '\n'
		| crlitems error '\n'		{ parse_errors++; yyerrok; }
		;

crlopt		: CA name		{ setstr(&cur_crl->ca_name, $2, "ca"); }
		| TLS CA name		{
			setstr(&cur_crl->tls_ca_name, $3, "tls ca");
		}
		| TYPE PEM		{ SETONCE(cur_crl->type, CRL_TYPE_PEM, "type"); }
		| TYPE ASN1		{
			SETONCE(cur_crl->type, CRL_TYPE_ASN1, "type");
		}
		| URL string		{
			static const char *const schemes[] = {
				"http://", "https://", "file://", "ldap://",
				"ldaps://", NULL
			};

			if (check_url($2, schemes) == -1)
				yyerror("invalid url \"%s\"", $2);
			setstr(&cur_crl->url, $2, "url");
		}
		| SECONDARY string	{
			static const char *const schemes[] = {
				"http://", "https://", "file://", "ldap://",
				"ldaps://", NULL
			};

			if (check_url($2, schemes) == -1)
				yyerror("invalid url \"%s\"", $2);
			setstr(&cur_crl->secondary, $2, "secondary");
		}
		| REFRESH EVERY duration	{
			if ($3 < 60 || $3 > 30 * 86400)
				yyerror("refresh out of range (1m-30d)");
			SETONCE(cur_crl->refresh, $3, "refresh");
		}
		| ENABLED yesno		{
			SETONCE(cur_crl->enabled, $2, "enabled");
		}
		| STALE stale		{ SETONCE(cur_crl->stale, $2, "stale"); }
		;

/* group-policy "name" { ... } */
gphead		: GROUPPOLICY name	{
			cur_gp = config_group_policy_new();
			cur_gp->name = $2;
			src_set(&cur_gp->src);
			TAILQ_INSERT_TAIL(&conf->group_policies, cur_gp, entry);
		}
		;

gpblock		: '{' gpitems '}'
		| '{' gpitems gpopts '}'
		;

gpopts		: gpopt
		| gpopts gpopt
		;

gpitems		: /* empty */
		| gpitems '\n'
		| gpitems gpopts '\n'
		| gpitems error '\n'		{ parse_errors++; yyerrok; }
		;

gpopt		: SIMLOGINS count	{
			if ($2 < 1 || $2 > 100000)
				yyerror("simultaneous-logins out of range "
				    "(1-100000)");
			SETONCE(cur_gp->max_logins, $2, "simultaneous-logins");
		}
		;

/* auth-profile "name" [smtp-auth|certificate] ldap "x" query "y" ... */
authkind	: /* empty */	{ $$ = AUTH_PROFILE_SMTPAUTH; }
		| SMTPAUTH	{ $$ = AUTH_PROFILE_SMTPAUTH; }
		| CERTIFICATE	{ $$ = AUTH_PROFILE_CERTIFICATE; }
		;

authhead	: AUTHPROFILE name authkind LDAP name QUERY name	{
			cur_ap = config_auth_profile_new();
			cur_ap->name = $2;
			cur_ap->kind = $3;
			cur_ap->ldap_name = $5;
			cur_ap->query_name = $7;
			src_set(&cur_ap->src);
			TAILQ_INSERT_TAIL(&conf->auth_profiles, cur_ap, entry);
		}
		;

authinline	: /* empty */
		| authinline authopt
		;

authtail	: /* empty */
		| '{' authitems '}'
		| '{' authitems authopts '}'
		;

authitems	: /* empty */
		| authitems '\n'
		| authitems authopts '\n'
		| authitems error '\n'		{ parse_errors++; yyerrok; }
		;

authopts	: authopt
		| authopts authopt
		;

authopt		: DISALLOWED REJECT NUMBER string	{
			const char	*t = $4;

			if (cur_ap->kind != AUTH_PROFILE_SMTPAUTH)
				yyerror("disallowed is only valid in an "
				    "smtp-auth profile");
			if ($3 < 400 || $3 > 599)
				yyerror("reply code %lld is not 4xx or 5xx",
				    (long long)$3);
			else if (!(t[0] == '0' + $3 / 100 && t[1] == '.' &&
			    isdigit((unsigned char)t[2])))
				yyerror("reply text must start with an "
				    "enhanced status code %d.X.Y",
				    (int)($3 / 100));
			if (strlen(t) > 400)
				yyerror("reply text too long");
			SETONCE(cur_ap->disallowed, DISALLOWED_REJECT,
			    "disallowed");
			cur_ap->reject_code = (int)$3;
			free(cur_ap->reject_text);
			cur_ap->reject_text = $4;
		}
		| DISALLOWED MONITOR	{
			if (cur_ap->kind != AUTH_PROFILE_SMTPAUTH)
				yyerror("disallowed is only valid in an "
				    "smtp-auth profile");
			SETONCE(cur_ap->disallowed, DISALLOWED_MONITOR,
			    "disallowed");
		}
		| FALLBACK SMTPAUTH name	{
			if (cur_ap->kind != AUTH_PROFILE_CERTIFICATE)
				yyerror("fallback is only valid in a "
				    "certificate profile");
			setstr(&cur_ap->fallback_name, $3, "fallback");
		}
		| SENDER MUST MATCH	{
			SETONCE(cur_ap->sender_must_match, 1,
			    "sender must match");
		}
		;

/* policy "name" { ... } */
policyhead	: POLICY name		{
			cur_policy = config_policy_new();
			cur_policy->name = $2;
			src_set(&cur_policy->src);
			TAILQ_INSERT_TAIL(&conf->policies, cur_policy, entry);
		}
		;

policyblock	: '{' policyitems '}'
		| '{' policyitems policyopts '}'
		;

policyitems	: /* empty */
		| policyitems '\n'
		| policyitems policyopts '\n'
		| policyitems error '\n'	{ parse_errors++; yyerrok; }
		;

policyopts	: policyopt
		| policyopts policyopt
		;

policyopt	: TLS policytls	{ SETONCE(cur_policy->tls, $2, "tls"); }
		| VERIFY CLIENTCERT	{
			SETONCE(cur_policy->verify_client_cert, 1,
			    "verify client-certificate");
		}
		| REQUIRE SMTPAUTH	{
			SETONCE(cur_policy->require_auth, 1,
			    "require smtp-auth");
		}
		| REQUIRE TLSFORAUTH	{
			SETONCE(cur_policy->require_tls_for_auth, 1,
			    "require tls-for-auth");
		}
		;

/* relay "name" ... */
relayhead	: RELAY name		{
			cur_relay = config_relay_new();
			cur_relay->name = $2;
			src_set(&cur_relay->src);
			TAILQ_INSERT_TAIL(&conf->relays, cur_relay, entry);
		}
		;

relayinline	: /* empty */
		| relayinline relayopt
		;

relaytail	: /* empty */
		| '{' relayitems '}'
		| '{' relayitems relayopts '}'
		;

relayitems	: /* empty */
		| relayitems '\n'
		| relayitems relayopts '\n'
		| relayitems error '\n'		{ parse_errors++; yyerrok; }
		;

relayopts	: relayopt
		| relayopts relayopt
		;

relayport	: /* empty */		{ $$ = 0; }
		| PORT port		{ $$ = $2; }
		;

/* The name to verify the upstream's certificate against, when host is
 * an address (the parent writes resolved addresses this way). */
relayname	: /* empty */		{ $$ = NULL; }
		| NAME string		{
			if ($2[0] == '\0')
				yyerror("empty name");
			$$ = $2;
		}
		;

relayopt	: HOST string relayport relayname	{
			struct relay_host	*h;
			int			 n = 0;

			if ($2[0] == '\0')
				yyerror("empty host");
			/*
			 * CONFIG_MAX_HOSTS bounds the hosts written in the
			 * file, as for ldap servers and proxy servers (it
			 * was not enforced for relays).  Only the file: the
			 * parent replaces each name by its addresses
			 * (smtpcertd/resolve.c, up to 16 each) before it
			 * prints, and a child must accept that printout.
			 */
			TAILQ_FOREACH(h, &cur_relay->hosts, entry)
				n++;
			if (!conf->from_text && n >= CONFIG_MAX_HOSTS)
				yyerror("too many hosts");
			if ((h = calloc(1, sizeof(*h))) == NULL)
				fatal("host");
			h->host = $2;
			h->port = $3;
			h->tls_name = $4;
			TAILQ_INSERT_TAIL(&cur_relay->hosts, h, entry);
		}
		| TLS upstreamtls	{ SETONCE(cur_relay->tls, $2, "tls"); }
		| tlsopt
		| CA name		{ setstr(&cur_relay->ca_name, $2, "ca"); }
		| XCLIENT		{ SETONCE(cur_relay->xclient, 1, "xclient"); }
		| CONNECTTIMEOUT duration	{
			if ($2 < 1 || $2 > 600)
				yyerror("connect-timeout out of range "
				    "(1s-10m)");
			SETONCE(cur_relay->connect_timeout, $2,
			    "connect-timeout");
		}
		| TIMEOUT duration	{
			if ($2 < 1 || $2 > 3600)
				yyerror("timeout out of range (1s-1h)");
			SETONCE(cur_relay->timeout, $2, "timeout");
		}
		;

/* proxy "name" { ... } */
proxyhead	: PROXY name		{
			cur_proxy = config_proxy_new();
			cur_proxy->name = $2;
			src_set(&cur_proxy->src);
			TAILQ_INSERT_TAIL(&conf->proxies, cur_proxy, entry);
		}
		;

proxyblock	: '{' proxyitems '}'
		| '{' proxyitems proxyopt '}'
		;

proxyitems	: /* empty */
		| proxyitems '\n'
		| proxyitems proxyopt '\n'
		| proxyitems error '\n'		{ parse_errors++; yyerrok; }
		;

proxyopt	: AUTH			{
			if (cur_proxy->nauth != 0)
				yyerror("auth given twice");
		} authmethods
		| AAA LDAP name QUERY name	{
			setstr(&cur_proxy->aaa_ldap_name, $3, "aaa");
			setstr(&cur_proxy->aaa_query_name, $5, "aaa query");
		}
		| AUTHORIZATION LDAP name QUERY name	{
			setstr(&cur_proxy->authz_ldap_name, $3,
			    "authorization");
			setstr(&cur_proxy->authz_query_name, $5,
			    "authorization query");
		}
		| ACCOUNTING FILETOK path	{
			setstr(&cur_proxy->accounting_file, $3,
			    "accounting file");
		}
		| USERNAME DN		{
			SETONCE(cur_proxy->username_dn, 1, "username");
		}
		| USERNAME FIELD dnfield	{
			SETONCE(cur_proxy->username_dn, 0, "username");
			cur_proxy->dn_primary = $3;
		}
		| USERNAME FIELD dnfield SECONDARY dnfield	{
			SETONCE(cur_proxy->username_dn, 0, "username");
			cur_proxy->dn_primary = $3;
			cur_proxy->dn_secondary = $5;
			if ($3 == $5)
				yyerror("primary and secondary DN fields "
				    "are the same");
		}
		| USERNAME FIELD dnfield SECONDARY NONE	{
			SETONCE(cur_proxy->username_dn, 0, "username");
			cur_proxy->dn_primary = $3;
			cur_proxy->dn_secondary = DN_FIELD_NONE;
		}
		| DELIMITER delimopts
		| defserver srvopts	{ proxy_server_done(1); }
		| allowserver srvopts	{ proxy_server_done(0); }
		| UNAUTHLIMIT count	{
			if ($2 > 1000000)
				yyerror("unauthenticated-limit out of range");
			SETONCE(cur_proxy->unauth_limit, $2,
			    "unauthenticated-limit");
		}
		| DEFAULT GROUPPOLICY name	{
			setstr(&cur_proxy->default_gp_name, $3,
			    "default group-policy");
		}
		| DISALLOWED REJECT string	{
			if (!proxy_text_ok($3))
				yyerror("disallowed reject text must be "
				    "printable ASCII, at most %d characters",
				    PROXY_TEXT_MAX);
			SETONCE(cur_proxy->disallowed, DISALLOWED_REJECT,
			    "disallowed");
			setstr(&cur_proxy->disallowed_text, $3,
			    "disallowed reject");
		}
		| DISALLOWED MONITOR	{
			SETONCE(cur_proxy->disallowed, DISALLOWED_MONITOR,
			    "disallowed");
		}
		| CERTIFICATE BINDSLOGIN yesno	{
			SETONCE(cur_proxy->cert_binds_login, $3,
			    "certificate binds-login");
		}
		| MASTER USER string PASSWORDFILE path masteropts {
			if (!proxy_text_ok($3) || $3[0] == '\0' ||
			    strchr($3, ' ') != NULL)
				yyerror("invalid master user \"%s\"", $3);
			setstr(&cur_proxy->master_user, $3, "master user");
			setstr(&cur_proxy->master_password_file, $5,
			    "master password-file");
		}
		| XCLIENT		{ cur_proxy->xclient = 1; }
		;

masteropts	: /* empty */
		| SEPARATOR string	{
			if (strlen($2) != 1 || !ispunct((unsigned char)$2[0]))
				yyerror("separator must be one punctuation "
				    "character");
			else
				cur_proxy->master_sep = $2[0];
			free($2);
		}
		;

defserver	: DEFAULT SERVER string	{
			if (cur_proxy->default_server != NULL)
				yyerror("default server given twice");
			proxy_server_begin($3);
		}
		;

allowserver	: ALLOW SERVER string	{ proxy_server_begin($3); }
		;

authmethods	: authmethod			{ proxy_add_auth($1); }
		| authmethods authmethod	{ proxy_add_auth($2); }
		;

authmethod	: AAA		{ $$ = PROXY_AUTH_AAA; }
		| CERTIFICATE	{ $$ = PROXY_AUTH_CERTIFICATE; }
		| MAILHOST	{ $$ = PROXY_AUTH_MAILHOST; }
		| PIGGYBACK	{ $$ = PROXY_AUTH_PIGGYBACK; }
		;

delimopts	: delimopt
		| delimopts delimopt
		;

delimopt	: NAME string		{
			if (strlen($2) != 1 || !ispunct((unsigned char)$2[0]))
				yyerror("delimiter must be one punctuation "
				    "character");
			else if (cur_proxy->name_delim != '\0')
				yyerror("name delimiter given twice");
			else
				cur_proxy->name_delim = $2[0];
			free($2);
		}
		| SERVER NONE		{
			if (cur_proxy->server_delim != '\0' ||
			    cur_proxy->server_delim_none)
				yyerror("server delimiter given twice");
			cur_proxy->server_delim_none = 1;
		}
		| SERVER string		{
			if (strlen($2) != 1 || !ispunct((unsigned char)$2[0]))
				yyerror("delimiter must be one punctuation "
				    "character");
			else if (cur_proxy->server_delim != '\0' ||
			    cur_proxy->server_delim_none)
				yyerror("server delimiter given twice");
			else
				cur_proxy->server_delim = $2[0];
			free($2);
		}
		;

srvopts		: /* empty */
		| srvopts srvopt
		;

srvopt		: PORT port		{
			if (cur_server->port != 0)
				yyerror("port given twice");
			cur_server->port = $2;
		}
		| TLS upstreamtls	{
			SETONCE(cur_server->tls, $2, "tls");
		}
		| tlsopt
		| NAME string		{
			if ($2[0] == '\0')
				yyerror("empty name");
			setstr(&cur_server->tls_name, $2, "name");
		}
		| CA name		{
			setstr(&cur_server->ca_name, $2, "ca");
		}
		| ADDRESS STRING	{
			struct in6_addr	 a6;

			if (inet_pton(AF_INET, $2, &a6) != 1 &&
			    inet_pton(AF_INET6, $2, &a6) != 1)
				yyerror("address \"%s\" is not an IP address",
				    $2);
			else if (cur_server->nalt == PROXY_SERVER_ALT_MAX)
				yyerror("more than %d further addresses",
				    PROXY_SERVER_ALT_MAX);
			else {
				cur_server->alt[cur_server->nalt++] = $2;
				$2 = NULL;
			}
			free($2);
		}
		;

/* listen on ... */
listenhead	: LISTEN ON STRING	{ listen_begin($3); }
		;

/*
 * TLS settings (common/tlsopts.h), for whatever is being defined: a
 * listener, a proxy back end, a relay, or else the global default.
 */
tlsopt		: TLS PROFILE tlsprofile	{
			SETONCE(tls_target()->profile, $3, "tls profile");
		}
		| TLS PROTOCOLS string	{
			tls_setstr(&tls_target()->protocols, $3, "protocols");
		}
		| TLS CIPHERS string	{
			tls_setstr(&tls_target()->ciphers, $3, "ciphers");
		}
		| TLS CIPHERSUITES string	{
			tls_setstr(&tls_target()->ciphersuites, $3,
			    "ciphersuites");
		}
		| TLS GROUPS string	{
			tls_setstr(&tls_target()->groups, $3, "groups");
		}
		;

tlsprofile	: DEFAULT	{ $$ = TLS_PROFILE_DEFAULT; }
		| STRING	{
			if (strcmp($1, "strict") == 0)
				$$ = TLS_PROFILE_STRICT;
			else {
				yyerror("unknown tls profile \"%s\" (default, "
				    "strict)", $1);
				$$ = TLS_PROFILE_DEFAULT;
			}
			free($1);
		}
		;

/* proxy-protocol from "192.0.2.5" from "10.0.0.0/24": the balancers. */
ppfrom		: /* empty */
		| ppfrom FROM STRING	{
			if (lt->npp_from >= LISTEN_MAX_PP_FROM)
				yyerror("proxy-protocol: more than %d from",
				    LISTEN_MAX_PP_FROM);
			else if (netprefix_parse($3,
			    &lt->pp_from[lt->npp_from]) == -1)
				yyerror("proxy-protocol from \"%s\": not an "
				    "address or address/prefix-length", $3);
			else
				lt->npp_from++;
			free($3);
		}
		;

listenopts	: /* empty */
		| listenopts listenopt
		;

listenopt	: PORT port		{
			if (lt_port != -1)
				yyerror("port given twice");
			lt_port = $2;
		}
		| STARTTLS		{ listen_mode(MODE_STARTTLS); }
		| TLS			{ listen_mode(MODE_TLS); }
		| PLAINTEXT		{ listen_mode(MODE_PLAINTEXT); }
		| PROXY POP3S		{ listen_mode(MODE_POP3S); }
		| PROXY IMAP4S		{ listen_mode(MODE_IMAP4S); }
		| PROXY SMTPS		{ listen_mode(MODE_SMTPS); }
		| PKI name		{ setstr(&lt->pki_name, $2, "pki"); }
		| CA name		{ setstr(&lt->ca_name, $2, "ca"); }
		| AUTHPROFILE name	{
			setstr(&lt->auth_profile_name, $2, "auth-profile");
		}
		| POLICY name		{
			setstr(&lt->policy_name, $2, "policy");
		}
		| RELAY name		{ setstr(&lt->relay_name, $2, "relay"); }
		| PROFILE name		{
			setstr(&lt->proxy_name, $2, "profile");
		}
		| tlsopt
		| TLS SECURITYLEVEL NUMBER	{
			if ($3 < 0 || $3 > 5)
				yyerror("tls security-level out of range (0-5)");
			else
				SETONCE(lt->tlsopts.security_level, (int)$3,
				    "tls security-level");
		}
		| PROXYPROTO		{
			if (lt->proxy_protocol)
				yyerror("proxy-protocol given twice");
			lt->proxy_protocol = 1;
		} ppfrom
		| LIMIT STRING value	{
			set_limit(&lt->limits_set, $2, $3);
			free($2);
			free($3);
		}
		;

%%

struct keywords {
	const char	*k_name;
	int		 k_val;
};

/* Sorted by strcmp(); lookup() uses bsearch(). */
static const struct keywords keywords[] = {
	{ "aaa",			AAA },
	{ "accounting",			ACCOUNTING },
	{ "address",			ADDRESS },
	{ "allow",			ALLOW },
	{ "allowance",			ALLOWANCE },
	{ "asn1",			ASN1 },
	{ "attribute",			ATTRIBUTE },
	{ "auth",			AUTH },
	{ "auth-profile",		AUTHPROFILE },
	{ "authorization",		AUTHORIZATION },
	{ "base",			BASE },
	{ "bind",			BIND },
	{ "binds-login",		BINDSLOGIN },
	{ "ca",				CA },
	{ "cache",			CACHE },
	{ "cert",			CERT },
	{ "cert-policy",		CERTPOLICY },
	{ "certificate",		CERTIFICATE },
	{ "changes",			CHANGES },
	{ "chroot",			CHROOT },
	{ "ciphers",			CIPHERS },
	{ "ciphersuites",		CIPHERSUITES },
	{ "client-certificate",		CLIENTCERT },
	{ "connect-timeout",		CONNECTTIMEOUT },
	{ "connections",		CONNECTIONS },
	{ "control",			CONTROL },
	{ "crl",			CRL },
	{ "crl-check",			CRLCHECK },
	{ "decimal",			DECIMAL },
	{ "default",			DEFAULT },
	{ "delimiter",			DELIMITER },
	{ "disallowed",			DISALLOWED },
	{ "dn",				DN },
	{ "enabled",			ENABLED },
	{ "every",			EVERY },
	{ "facility",			FACILITY },
	{ "fail-closed",		FAILCLOSED },
	{ "fail-open",			FAILOPEN },
	{ "fallback",			FALLBACK },
	{ "field",			FIELD },
	{ "file",			FILETOK },
	{ "filter",			FILTER },
	{ "format",			FORMAT },
	{ "from",			FROM },
	{ "front",			FRONT },
	{ "group",			GROUP },
	{ "group-policy",		GROUPPOLICY },
	{ "groups",			GROUPS },
	{ "hex",			HEX },
	{ "host",			HOST },
	{ "hostname",			HOSTNAME },
	{ "imap4s",			IMAP4S },
	{ "implicit",			IMPLICIT },
	{ "inbound",			INBOUND },
	{ "include",			INCLUDE },
	{ "inhibit-any-policy",		INHIBITANYPOLICY },
	{ "inhibit-policy-mapping",	INHIBITPOLICYMAPPING },
	{ "key",			KEY },
	{ "ldap",			LDAP },
	{ "limit",			LIMIT },
	{ "listen",			LISTEN },
	{ "log",			LOG },
	{ "mail",			MAIL },
	{ "mailhost",			MAILHOST },
	{ "master",			MASTER },
	{ "match",			MATCH },
	{ "match-certificate",		MATCHCERT },
	{ "method",			METHOD },
	{ "metrics",			METRICS },
	{ "monitor",			MONITOR },
	{ "must",			MUST },
	{ "name",			NAME },
	{ "negative-ttl",		NEGTTL },
	{ "no",				NO },
	{ "none",			NONE },
	{ "ocsp",			OCSP },
	{ "off",			OFF },
	{ "on",				ON },
	{ "one",			ONE },
	{ "outbound",			OUTBOUND },
	{ "password-file",		PASSWORDFILE },
	{ "pem",			PEM },
	{ "piggyback",			PIGGYBACK },
	{ "pki",			PKI },
	{ "plaintext",			PLAINTEXT },
	{ "policy",			POLICY },
	{ "pop3s",			POP3S },
	{ "port",			PORT },
	{ "preferred",			PREFERRED },
	{ "processes",			PROCESSES },
	{ "profile",			PROFILE },
	{ "protocols",			PROTOCOLS },
	{ "proxy",			PROXY },
	{ "proxy-protocol",		PROXYPROTO },
	{ "query",			QUERY },
	{ "refresh",			REFRESH },
	{ "reject",			REJECT },
	{ "relay",			RELAY },
	{ "require",			REQUIRE },
	{ "require-explicit-policy",	REQEXPLICITPOLICY },
	{ "required",			REQUIRED },
	{ "resolve",			RESOLVE },
	{ "responder",			RESPONDER },
	{ "scope",			SCOPE },
	{ "secondary",			SECONDARY },
	{ "security-level",		SECURITYLEVEL },
	{ "sender",			SENDER },
	{ "separator",			SEPARATOR },
	{ "serial",			SERIAL },
	{ "server",			SERVER },
	{ "session-cache",		SESSIONCACHE },
	{ "session-lifetime",		SESSIONLIFETIME },
	{ "simultaneous-logins",	SIMLOGINS },
	{ "size",			SIZE },
	{ "smtp-auth",			SMTPAUTH },
	{ "smtps",			SMTPS },
	{ "socket",			SOCKET },
	{ "stale",			STALE },
	{ "starttls",			STARTTLS },
	{ "sub",			SUB },
	{ "timeout",			TIMEOUT },
	{ "tls",			TLS },
	{ "tls-for-auth",		TLSFORAUTH },
	{ "ttl",			TTL },
	{ "type",			TYPE },
	{ "unauthenticated-limit",	UNAUTHLIMIT },
	{ "url",			URL },
	{ "user",			USER },
	{ "user-attribute",		USERATTR },
	{ "username",			USERNAME },
	{ "verify",			VERIFY },
	{ "xclient",			XCLIENT },
	{ "yes",			YES },
};

static int
yyerror(const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	parse_errors++;
	if (lexerr && strcmp(fmt, "syntax error") == 0) {
		/* the lexer already said what is wrong */
		lexerr = 0;
		return 0;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s:%d: %s", file->name, yylval.lineno, msg);
	return 0;
}

/*
 * A port given by name.  The mail and directory services are built in, so
 * a configuration means the same on a system without /etc/services (a
 * minimal container has no netbase); other names go to getservbyname().
 */
static int
service_port(const char *name)
{
	static const struct {
		const char	*name;
		int		 port;
	} builtin[] = {
		{ "smtp", 25 }, { "submission", 587 }, { "submissions", 465 },
		{ "smtps", 465 }, { "ssmtp", 465 }, { "imap", 143 },
		{ "imap2", 143 }, { "imaps", 993 }, { "pop3", 110 },
		{ "pop3s", 995 }, { "ldap", 389 }, { "ldaps", 636 },
		{ "http", 80 }, { "https", 443 },
	};
	struct servent	*se;
	size_t		 i;

	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(name, builtin[i].name) == 0)
			return builtin[i].port;
	if ((se = getservbyname(name, "tcp")) == NULL)
		return -1;
	return ntohs(se->s_port);
}

static int
kw_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct keywords *)e)->k_name);
}

static int
lookup(const char *s)
{
	const struct keywords	*p;

	p = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	return p != NULL ? p->k_val : STRING;
}

/* Next raw character of the current file: pushed back first. */
static int
igetc(void)
{
	if (file->ungetpos > 0)
		return file->ungetbuf[--file->ungetpos];
	if (file->stream != NULL)
		return getc(file->stream);
	if (file->textpos >= file->textlen)
		return EOF;
	return (unsigned char)file->text[file->textpos++];
}

static int
lgetc(int quotec)
{
	int	 c, next;

	if (parsebuf != NULL) {
		/* inside a macro value */
		if (parsebuf[parseindex] != '\0')
			return (unsigned char)parsebuf[parseindex++];
		parsebuf = NULL;
	}
	if (quotec) {
		if ((c = igetc()) == EOF) {
			yyerror("reached end of file inside a quoted string");
			lexerr = 1;
			if (file == topfile || popfile() == EOF)
				return EOF;
			return quotec;
		}
		return c;
	}
	while ((c = igetc()) == '\\') {
		next = igetc();
		if (next != '\n') {
			lungetc(next);
			return c;
		}
		/* line continuation */
		yylval.lineno = file->lineno;
		file->lineno++;
	}
	while (c == EOF) {
		if (file == topfile || popfile() == EOF)
			return EOF;
		c = igetc();
	}
	return c;
}

static void
lungetc(int c)
{
	if (c == EOF)
		return;
	if (parsebuf != NULL && parseindex > 0) {
		parseindex--;
		return;
	}
	if (file->ungetpos >= file->ungetsize) {
		size_t	 n = file->ungetsize ? file->ungetsize * 2 : 16;
		int	*p;

		if ((p = reallocarray(file->ungetbuf, n, sizeof(*p))) == NULL)
			fatal("lungetc");
		file->ungetbuf = p;
		file->ungetsize = n;
	}
	file->ungetbuf[file->ungetpos++] = c;
}

/* Skip to the end of the line, leaving the newline for error recovery. */
static int
findeol(void)
{
	int	 c;

	parsebuf = NULL;
	for (;;) {
		c = lgetc(0);
		if (c == '\n') {
			lungetc(c);
			break;
		}
		if (c == EOF)
			break;
	}
	lexerr = 1;
	return ERROR;
}

#define allowed_in_string(x) \
	(isalnum(x) || (ispunct(x) && x != '(' && x != ')' && \
	x != '{' && x != '}' && x != '!' && x != '=' && x != '#' && \
	x != ',' && x != '"' && x != '\''))

static int
yylex(void)
{
	char		 buf[CONFIG_STRING_MAX + 1];
	char		*p;
	const char	*val;
	int		 quotec, next, c, token;

	lexerr = 0;
 top:
	p = buf;
	while ((c = lgetc(0)) == ' ' || c == '\t')
		;
	yylval.lineno = file->lineno;
	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			;
	if (c == '$' && parsebuf == NULL) {
		for (;;) {
			if ((c = lgetc(0)) == EOF)
				return 0;
			if (p + 1 >= buf + sizeof(buf) - 1) {
				yyerror("macro name too long");
				return findeol();
			}
			if (isalnum(c) || c == '_') {
				*p++ = (char)c;
				continue;
			}
			*p = '\0';
			lungetc(c);
			break;
		}
		if ((val = symget(buf)) == NULL) {
			yyerror("macro \"%s\" not defined", buf);
			return findeol();
		}
		parsebuf = val;
		parseindex = 0;
		goto top;
	}

	switch (c) {
	case '\'':
	case '"':
		quotec = c;
		for (;;) {
			if ((c = lgetc(quotec)) == EOF)
				return 0;
			if (c == '\n') {
				lungetc(c);
				yyerror("unterminated quoted string");
				lexerr = 1;
				return ERROR;
			}
			if (c == quotec)
				break;
			if (c == '\\') {
				if ((next = lgetc(quotec)) == EOF)
					return 0;
				if (next == quotec || next == '\\')
					c = next;
				else if (next == '\n') {
					file->lineno++;
					continue;
				} else
					lungetc(next);
			} else if (c < 0x20 || c == 0x7f) {
				yyerror("invalid character in quoted string");
				return findeol();
			}
			if (p + 1 >= buf + sizeof(buf)) {
				yyerror("string too long");
				return findeol();
			}
			*p++ = (char)c;
		}
		*p = '\0';
		if ((yylval.v.string = strdup(buf)) == NULL)
			fatal("yylex");
		return STRING;
	}

	if (c != EOF && allowed_in_string(c)) {
		do {
			*p++ = (char)c;
			if ((size_t)(p - buf) >= sizeof(buf) - 1) {
				yyerror("string too long");
				return findeol();
			}
		} while ((c = lgetc(0)) != EOF && allowed_in_string(c));
		lungetc(c);
		*p = '\0';
		if ((token = lookup(buf)) != STRING)
			return token;
		for (p = buf; isdigit((unsigned char)*p); p++)
			;
		if (*p == '\0') {
			long long	 n;

			errno = 0;
			n = strtoll(buf, NULL, 10);
			if (errno == ERANGE) {
				yyerror("number %s too large", buf);
				return findeol();
			}
			yylval.v.number = n;
			return NUMBER;
		}
		if ((yylval.v.string = strdup(buf)) == NULL)
			fatal("yylex");
		return STRING;
	}
	if (c == '\n') {
		yylval.lineno = file->lineno;
		file->lineno++;
	}
	if (c == EOF) {
		/* a last line without a newline still ends a statement */
		if (!eof_nl) {
			eof_nl = 1;
			return '\n';
		}
		return 0;
	}
	if (c == '\0' || (c < 0x20 && c != '\n') || c >= 0x7f) {
		yyerror("invalid character 0x%02x", c);
		return findeol();
	}
	return c;
}

static struct file *
newfile(const char *name)
{
	struct file	*nfile;

	if ((nfile = calloc(1, sizeof(*nfile))) == NULL ||
	    (nfile->name = strdup(name)) == NULL)
		fatal("%s", __func__);
	nfile->lineno = 1;
	return nfile;
}

static void
freefile(struct file *f)
{
	if (f->stream != NULL)
		fclose(f->stream);
	free(f->name);
	free(f->ungetbuf);
	free(f);
}

static int
include_depth(void)
{
	struct file	*f;
	int		 depth = 0;

	TAILQ_FOREACH(f, &files, entry)
		depth++;
	return depth;
}

/* One place checks an LDAP server, whichever form named it. */
static void
ldap_add_server(char *url, int starttls)
{
	static const char *const schemes[] = {
		"ldap://", "ldaps://", NULL
	};
	struct ldap_server	*s;
	int			 n = 0;

	if (check_url(url, schemes) == -1)
		yyerror("invalid ldap server \"%s\"", url);
	TAILQ_FOREACH(s, &cur_ldap->servers, entry)
		n++;
	if (n >= CONFIG_MAX_HOSTS)
		yyerror("too many servers");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("server");
	s->url = url;
	s->starttls = starttls;
	TAILQ_INSERT_TAIL(&cur_ldap->servers, s, entry);
}

static struct file *
pushfile(const char *name)
{
	struct file	*nfile;

	nfile = newfile(name);
	if ((nfile->stream = fopen(name, "r")) == NULL) {
		int	 saved = errno;

		freefile(nfile);
		errno = saved;
		return NULL;
	}
	/* the newline pushed back by `include' is counted */
	nfile->lineno = TAILQ_EMPTY(&files) ? 1 : 0;
	TAILQ_INSERT_TAIL(&files, nfile, entry);
	return nfile;
}

static int
popfile(void)
{
	struct file	*prev;

	if ((prev = TAILQ_PREV(file, files, entry)) != NULL) {
		TAILQ_REMOVE(&files, file, entry);
		freefile(file);
		file = prev;
		return 0;
	}
	return EOF;
}

/* Macros */

static int
macro_name_ok(const char *s)
{
	const char	*p;

	if (*s == '\0' || isdigit((unsigned char)*s))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

static int
symset(const char *nam, const char *val, int persist)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry)
		if (strcmp(nam, sym->nam) == 0)
			break;
	if (sym != NULL) {
		if (sym->persist && !persist)
			return 0;	/* the command line wins */
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->nam);
		free(sym->val);
		free(sym);
	}
	if ((sym = calloc(1, sizeof(*sym))) == NULL)
		return -1;
	if ((sym->nam = strdup(nam)) == NULL ||
	    (sym->val = strdup(val)) == NULL) {
		free(sym->nam);
		free(sym);
		return -1;
	}
	sym->persist = persist;
	TAILQ_INSERT_TAIL(&symhead, sym, entry);
	return 0;
}

static const char *
symget(const char *nam)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry)
		if (strcmp(nam, sym->nam) == 0)
			return sym->val;
	return NULL;
}

/* Forget the macros a file defined; keep the command line's. */
static void
symclear(void)
{
	struct sym	*sym, *next;

	for (sym = TAILQ_FIRST(&symhead); sym != NULL; sym = next) {
		next = TAILQ_NEXT(sym, entry);
		if (sym->persist)
			continue;
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->nam);
		free(sym->val);
		free(sym);
	}
}

int
config_define_macro(const char *def)
{
	char	*nam, *val;
	int	 r;

	if ((val = strchr(def, '=')) == NULL)
		return -1;
	if ((nam = strndup(def, (size_t)(val - def))) == NULL)
		return -1;
	if (!macro_name_ok(nam) || lookup(nam) != STRING) {
		free(nam);
		return -1;
	}
	r = symset(nam, val + 1, 1);
	free(nam);
	return r;
}

/* Helpers for the actions */

static void
src_set(struct conf_src *src)
{
	if ((src->file = strdup(file->name)) == NULL)
		fatal("%s", __func__);
	src->line = yylval.lineno;
}

/* What a `tls ...' setting belongs to where it appears (tlsopt). */
static struct tls_opts *
tls_target(void)
{
	if (lt != NULL)
		return &lt->tlsopts;
	if (cur_server != NULL)
		return &cur_server->tlsopts;
	if (cur_relay != NULL)
		return &cur_relay->tlsopts;
	return &conf->tls;
}

static void
tls_setstr(char **dst, char *val, const char *what)
{
	char	 buf[64], err[512];

	snprintf(buf, sizeof(buf), "tls %s", what);
	if (val[0] == '\0')
		yyerror("empty %s", buf);
	else if (!conf->from_text &&
	    tlsopts_check_value(what, val, err, sizeof(err)) == -1)
		yyerror("%s", err);
	/* libtls, towards relays and back ends, has no TLS 1.3 list. */
	if (strcmp(what, "ciphersuites") == 0 && lt == NULL &&
	    (cur_server != NULL || cur_relay != NULL))
		yyerror("tls ciphersuites can only be set for listeners "
		    "(relays and back ends use OpenSSL's TLS 1.3 suites)");
	setstr(dst, val, buf);
}

static void
setstr(char **dst, char *val, const char *what)
{
	if (*dst != NULL) {
		yyerror("%s given twice", what);
		free(val);
		return;
	}
	*dst = val;
}

/* Text the proxy sends a client: printable ASCII, bounded. */
static int
proxy_text_ok(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return i <= PROXY_TEXT_MAX;
}

static int
check_name(const char *s)
{
	const unsigned char	*p;

	if (*s == '\0' || strlen(s) > CONFIG_NAME_MAX)
		return -1;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (!isgraph(*p) && *p != ' ')
			return -1;
	return 0;
}

static int
check_path(const char *s)
{
	return s[0] == '/' ? 0 : -1;
}

static int
check_url(const char *s, const char *const *schemes)
{
	size_t	 n;
	int	 i;

	for (i = 0; schemes[i] != NULL; i++) {
		n = strlen(schemes[i]);
		if (strncasecmp(s, schemes[i], n) == 0 && s[n] != '\0')
			break;
	}
	if (schemes[i] == NULL)
		return -1;
	for (; *s != '\0'; s++)
		if (!isgraph((unsigned char)*s))
			return -1;
	return 0;
}

static int
parse_duration(const char *s, int64_t *v)
{
	char		*ep;
	long long	 n;
	int64_t		 mul = 1;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtoll(s, &ep, 10);
	if (errno != 0 || n < 0)
		return -1;
	switch (*ep) {
	case '\0':
	case 's':
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	default:
		return -1;
	}
	if (*ep != '\0' && ep[1] != '\0')
		return -1;
	if (n > INT_MAX / mul)
		return -1;
	*v = n * mul;
	return 0;
}

static int
parse_size(const char *s, int64_t *v)
{
	char		*ep;
	long long	 n;
	int64_t		 mul = 1;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtoll(s, &ep, 10);
	if (errno != 0 || n < 0)
		return -1;
	switch (*ep) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mul = 1024;
		break;
	case 'm':
	case 'M':
		mul = 1024 * 1024;
		break;
	case 'g':
	case 'G':
		mul = 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (*ep != '\0' && ep[1] != '\0')
		return -1;
	if (n > INT64_MAX / mul)
		return -1;
	*v = n * mul;
	return 0;
}

static void
set_limit(struct conf_limits *lim, const char *name, const char *val)
{
	const struct config_limit_desc	*d;
	int64_t				 v, *field;
	char				*ep;

	for (d = config_limit_descs; d->name != NULL; d++)
		if (strcmp(d->name, name) == 0)
			break;
	if (d->name == NULL) {
		yyerror("unknown limit \"%s\"", name);
		return;
	}
	switch (d->unit) {
	case LIMIT_DURATION:
		if (parse_duration(val, &v) == -1) {
			yyerror("limit %s: invalid duration \"%s\"", name, val);
			return;
		}
		break;
	case LIMIT_SIZE:
		if (parse_size(val, &v) == -1) {
			yyerror("limit %s: invalid size \"%s\"", name, val);
			return;
		}
		break;
	default:
		errno = 0;
		v = strtoll(val, &ep, 10);
		if (!isdigit((unsigned char)val[0]) || *ep != '\0' ||
		    errno != 0) {
			yyerror("limit %s: invalid number \"%s\"", name, val);
			return;
		}
		break;
	}
	if (v < d->min || v > d->max) {
		yyerror("limit %s: %s out of range", name, val);
		return;
	}
	field = config_limit_field(lim, d);
	if (*field != -1) {
		yyerror("limit %s given twice", name);
		return;
	}
	*field = v;
}

/* A query's filter or allowance: syntax and placeholders by query kind. */
static void
set_filter(char **dst, char *val, const char *what)
{
	const char *const	*allowed;
	char			 err[256];

	allowed = cur_query->kind == LDAPQ_CERTIFICATE ?
	    ldap_filter_ph_certificate : ldap_filter_ph_user;
	if (ldap_filter_check(val, allowed, err, sizeof(err)) == -1)
		yyerror("%s \"%s\": %s", what, val, err);
	else if (cur_query->kind != LDAPQ_CERTIFICATE &&
	    !ldap_filter_uses(val, "u"))
		yyerror("%s \"%s\" must contain {u}", what, val);
	else if (cur_query->kind == LDAPQ_CERTIFICATE &&
	    strchr(val, '{') == NULL)
		yyerror("%s \"%s\" uses no certificate field", what, val);
	setstr(dst, val, what);
}

static void
proxy_server_begin(char *host)
{
	if (cur_server != NULL) {
		/* left over from a line with an error */
		config_proxy_server_free(cur_server);
	}
	cur_server = config_proxy_server_new();
	cur_server->host = host;
}

static void
proxy_server_done(int isdefault)
{
	struct proxy_server	*s;
	int			 n = 0;

	if (cur_server->host[0] == '\0')
		yyerror("empty server");
	if (isdefault) {
		if (cur_proxy->default_server == NULL) {
			cur_proxy->default_server = cur_server;
			cur_server = NULL;
			return;
		}
		config_proxy_server_free(cur_server);
		cur_server = NULL;
		return;
	}
	TAILQ_FOREACH(s, &cur_proxy->allowed, entry)
		n++;
	if (n >= CONFIG_MAX_HOSTS)
		yyerror("too many allowed servers");
	TAILQ_INSERT_TAIL(&cur_proxy->allowed, cur_server, entry);
	cur_server = NULL;
}

static void
proxy_add_auth(int m)
{
	int	 i;

	for (i = 0; i < cur_proxy->nauth; i++)
		if ((int)cur_proxy->auth[i] == m) {
			yyerror("auth method %s given twice",
			    config_proxy_auth_name(m));
			return;
		}
	if (cur_proxy->nauth < PROXY_AUTH_MAX)
		cur_proxy->auth[cur_proxy->nauth++] = m;
}

static void
listen_reset(void)
{
	config_listener_free(lt);
	lt = NULL;
	free(lt_addr);
	lt_addr = NULL;
}

static void
listen_begin(char *addr)
{
	listen_reset();
	lt = config_listener_new();
	src_set(&lt->src);
	lt_addr = addr;
	lt_port = -1;
	lt_mode = -1;
}

static void
listen_mode(int mode)
{
	if (lt_mode != -1)
		yyerror("listener mode given twice");
	else
		lt_mode = mode;
}

static void
listen_end(void)
{
	struct addrinfo	 hints, *res, *ai;
	struct listener	*l;
	char		 port[16];
	const char	*host;
	int		 error, proxy;

	if (lt == NULL)
		return;
	if (lt_mode == -1)
		lt_mode = MODE_STARTTLS;
	proxy = 1;
	switch (lt_mode) {
	case MODE_STARTTLS:
		lt->proto = LISTEN_SMTP;
		lt->tls = LISTEN_TLS_STARTTLS;
		proxy = 0;
		if (lt_port == -1)
			lt_port = 587;
		break;
	case MODE_TLS:
		lt->proto = LISTEN_SMTPS;
		lt->tls = LISTEN_TLS_IMPLICIT;
		proxy = 0;
		if (lt_port == -1)
			lt_port = 465;
		break;
	case MODE_PLAINTEXT:
		lt->proto = LISTEN_SMTP;
		lt->tls = LISTEN_TLS_NONE;
		proxy = 0;
		if (lt_port == -1)
			lt_port = 25;
		break;
	case MODE_POP3S:
		lt->proto = LISTEN_PROXY_POP3S;
		lt->tls = LISTEN_TLS_IMPLICIT;
		if (lt_port == -1)
			lt_port = 995;
		break;
	case MODE_IMAP4S:
		lt->proto = LISTEN_PROXY_IMAP4S;
		lt->tls = LISTEN_TLS_IMPLICIT;
		if (lt_port == -1)
			lt_port = 993;
		break;
	case MODE_SMTPS:
		lt->proto = LISTEN_PROXY_SMTPS;
		lt->tls = LISTEN_TLS_IMPLICIT;
		if (lt_port == -1)
			lt_port = 988;
		break;
	}
	if (proxy) {
		if (lt->auth_profile_name != NULL)
			yyerror("auth-profile is not valid on a proxy "
			    "listener");
		if (lt->policy_name != NULL)
			yyerror("policy is not valid on a proxy listener");
		if (lt->relay_name != NULL)
			yyerror("relay is not valid on a proxy listener");
	} else if (lt->proxy_name != NULL)
		yyerror("profile is only valid on a proxy listener");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	/* the printout is numeric: children never resolve */
	if (conf->from_text)
		hints.ai_flags |= AI_NUMERICHOST;
	host = strcmp(lt_addr, "*") == 0 ? NULL : lt_addr;
	snprintf(port, sizeof(port), "%d", lt_port);
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0) {
		yyerror("cannot resolve \"%s\": %s", lt_addr,
		    gai_strerror(error));
		listen_reset();
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(lt->ss))
			continue;
		if (conf->nlisteners >= CONFIG_MAX_LISTENERS) {
			yyerror("too many listeners");
			break;
		}
		l = config_listener_new();
		memcpy(&l->ss, ai->ai_addr, ai->ai_addrlen);
		l->sslen = ai->ai_addrlen;
		l->proto = lt->proto;
		l->tls = lt->tls;
		l->proxy_protocol = lt->proxy_protocol;
		memcpy(l->pp_from, lt->pp_from, sizeof(l->pp_from));
		l->npp_from = lt->npp_from;
		l->limits_set = lt->limits_set;
#define DUP(f) do {							\
	if (lt->f != NULL && (l->f = strdup(lt->f)) == NULL)		\
		fatal("listener");					\
} while (0)
		DUP(pki_name);
		DUP(ca_name);
		DUP(auth_profile_name);
		DUP(policy_name);
		DUP(relay_name);
		DUP(proxy_name);
		DUP(src.file);
		l->tlsopts.profile = lt->tlsopts.profile;
		l->tlsopts.security_level = lt->tlsopts.security_level;
		DUP(tlsopts.protocols);
		DUP(tlsopts.ciphers);
		DUP(tlsopts.ciphersuites);
		DUP(tlsopts.groups);
#undef DUP
		l->src.line = lt->src.line;
		l->index = conf->nlisteners++;
		TAILQ_INSERT_TAIL(&conf->listeners, l, entry);
	}
	freeaddrinfo(res);
	listen_reset();
}

/*
 * `metrics listen on ADDRESS port N': a numeric address only, never a
 * name to resolve (a management endpoint should not move with the DNS)
 * and never "*".
 */
static void
metrics_set(const char *addr, int port)
{
	struct addrinfo	 hints, *res;
	char		 serv[16];

	if (conf->metrics.sslen != 0) {
		yyerror("metrics listen given twice");
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(serv, sizeof(serv), "%d", port);
	if (getaddrinfo(addr, serv, &hints, &res) != 0) {
		yyerror("metrics listen: \"%s\" is not a numeric IPv4 or "
		    "IPv6 address", addr);
		return;
	}
	if (res->ai_addrlen <= sizeof(conf->metrics.ss)) {
		memcpy(&conf->metrics.ss, res->ai_addr, res->ai_addrlen);
		conf->metrics.sslen = res->ai_addrlen;
		src_set(&conf->metrics.src);
	}
	freeaddrinfo(res);
}

/* Parsing */

/*
 * With errorsp, the configuration is returned even when it has errors,
 * and *errorsp counts them.
 */
static struct smtpcertd_conf *
parse_run(struct file *f, const char *path, int from_text, int *errorsp)
{
	struct smtpcertd_conf	*c;
	int			 errors;

	conf = config_new(path);
	conf->from_text = from_text;
	parse_errors = 0;
	lexerr = 0;
	eof_nl = 0;
	parsebuf = NULL;
	cur_ldap = NULL;
	cur_query = NULL;
	cur_crl = NULL;
	cur_gp = NULL;
	cur_ap = NULL;
	cur_policy = NULL;
	cur_relay = NULL;
	cur_proxy = NULL;
	cur_server = NULL;
	cur_pki = NULL;
	file = topfile = f;
	TAILQ_INSERT_TAIL(&files, f, entry);

	yyparse();
	errors = parse_errors;

	/* what an error left half-built */
	listen_reset();
	if (cur_server != NULL) {
		config_proxy_server_free(cur_server);
		cur_server = NULL;
	}
	while ((f = TAILQ_FIRST(&files)) != NULL) {
		TAILQ_REMOVE(&files, f, entry);
		freefile(f);
	}
	file = topfile = NULL;
	parsebuf = NULL;
	symclear();

	c = conf;
	conf = NULL;
	/*
	 * The references and consistency checks run after syntax errors
	 * too (each broken statement was dropped at its line end), so one
	 * run reports a misspelt keyword and a misspelt policy name alike.
	 * A reference to an object whose own statement was dropped is then
	 * reported as unknown as well.
	 */
	c->parse_errors = errors;
	errors += config_finish(c);
	if (errorsp != NULL) {
		*errorsp = errors;
		return c;
	}
	if (errors != 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

struct smtpcertd_conf *
config_parse_file(const char *path)
{
	return config_parse_file_check(path, NULL);
}

struct smtpcertd_conf *
config_parse_file_check(const char *path, int *errorsp)
{
	struct file	*f;

	f = newfile(path);
	if ((f->stream = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		freefile(f);
		return NULL;
	}
	return parse_run(f, path, 0, errorsp);
}

struct smtpcertd_conf *
config_parse_text(const char *name, const char *text, size_t len)
{
	struct file	*f;

	f = newfile(name);
	f->text = text;
	f->textlen = len;
	return parse_run(f, name, 1, NULL);
}
