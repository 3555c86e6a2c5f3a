/*
 * The e-mail proxy in the front (SPEC 6): POP3S, IMAP4S and SMTPS
 * listeners whose sessions log the user in, pick a back-end server, log
 * in there and then relay bytes both ways.
 *
 *	proxy_session.c	sessions on the front's skeleton (session.h:
 *			accept, TLS, the log lines), the unauthenticated-
 *			session limit, the authentication methods in order,
 *			authorization and group policies, accounting,
 *			`show sessions'
 *	proxy_login.c	pure helpers: the delimiter split rule and the
 *			certificate user name (no I/O, unit-tested)
 *	proxy_backend.c	the back-end connection: connect, implicit TLS or
 *			STARTTLS (SPEC 3.7 injection rule), certificate and
 *			CRL checks, then the relay with backpressure
 *	proxy_sasl.c	SASL before login, one implementation for the
 *			three dialogues: the mechanisms offered, AUTH or
 *			AUTHENTICATE with or without an initial response,
 *			its continuation
 *	proxy_pop3.c proxy_imap.c proxy_smtp.c
 *			each protocol's client dialogue before login and its
 *			back-end login; the back end's opening (greeting,
 *			STARTTLS, master account) is proxy_backend.c's
 *
 * A session's life:
 *	PX_TLS		handshake (TLS from the first byte)
 *	PX_LOGIN	protocol dialogue until credentials are complete
 *	PX_CHECK	auth methods, authorization: LDAP lookups in flight
 *	PX_BACKEND	authenticated; connecting and logging in to the back end
 *	PX_RELAY	bytes flow both ways until either side closes
 * and independently the seed's three states for the unauthenticated
 * limit: PXA_UNAUTH (connected), PXA_AUTHING (a user name was presented),
 * PXA_AUTHED (the proxy accepted the user; also counted for the
 * simultaneous-login limit of the user's group policy).
 */
#ifndef SMTPCERTD_PROXY_H
#define SMTPCERTD_PROXY_H

#include <sys/types.h>
#include <sys/queue.h>

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "front.h"
#include "session.h"
#include "smtp_parse.h"

struct event;
struct front_gen;
struct group_policy;
struct io;
struct listener;
struct proxy_profile;
struct proxy_server;

#define PX_NAME_MAX		256	/* user names, incl. NUL */
#define PX_PASS_MAX		1024	/* passwords (LDAP_MAX_PASSWORD) */
#define PX_TAG_MAX		64	/* IMAP tag, incl. NUL */
#define PX_LINE_MAX		8192	/* client line before login, with EOL */
#define PX_AUTH_LINE_MAX	12288	/* the longest any protocol takes
					 * (SMTP: AUTH PLAIN, long names) */
#define PX_BE_LINE_MAX		8192	/* back-end line during login */
#define PX_LITERAL_MAX		1024	/* IMAP literal before login */
#define PX_ARGS_MAX		3	/* IMAP arguments before login */
#define PX_VERB_MAX		32	/* IMAP command name, incl. NUL */
#define PX_CONNECT_TIMEOUT	10	/* s, back-end connect */
#define PX_BE_TIMEOUT_MAX	30	/* s, back-end reply during login */
#define PX_RELAY_IDLE_MIN	1800	/* s: IMAP IDLE may last 29 minutes */
#define PX_CERT_NAME_SEP	' '	/* primary SP secondary: never a
					 * delimiter (those are punctuation) */

enum px_phase {
	PX_TLS,
	PX_LOGIN,
	PX_CHECK,
	PX_BACKEND,
	PX_RELAY
};

enum px_auth {
	PXA_UNAUTH,
	PXA_AUTHING,
	PXA_AUTHED
};

/* Why a login was refused: each protocol words its own reply. */
/* What the deferred check does (s->pfail when not a px_fail). */
#define PXC_METHODS	-1	/* try the auth methods */
#define PXC_AUTHORIZE	-2	/* certificate alone (SMTPS): authorize */
#define PXC_BINDING	-3	/* the certificate's user vs the login */

enum px_fail {
	PXF_AUTH,		/* credentials refused */
	PXF_TEMP,		/* directory or back end unavailable */
	PXF_LIMIT,		/* simultaneous logins */
	PXF_REFUSED,		/* not authorized: server, group policy */
	PXF_BLOCKED,		/* too many failed logins */
	PXF_BACKEND,		/* the back end refused: text is its reply */
	PXF_DISALLOWED,		/* the card rule (allowance filter) refuses
				 * a password login: text is the site's */
	PXF_ACCOUNT,		/* the directory's password policy: account
				 * locked or disabled (pwpolicy_text()) */
	PXF_EXPIRED		/* ... password expired or must be changed */
};

/*
 * s->pstate: 0 between commands; a SASL mechanism while its response is
 * awaited (proxy_sasl.c); the protocol's own states from PXP_PROTO on.
 */
enum px_mech {
	PXM_NONE,
	PXM_PLAIN,
	PXM_EXTERNAL
};
#define PXP_CMD		0
#define PXP_PROTO	3

/* A SASL response: decoded, or why it logs nobody in. */
enum px_sasl {
	PXSASL_OK,
	PXSASL_CANCELLED,	/* "*" */
	PXSASL_BASE64,		/* not base64, or too long */
	PXSASL_PLAIN		/* not authzid NUL authcid NUL passwd, or
				 * another identity (proxy_plain_check()) */
};

/*
 * s->bstate: the back end's opening, the same for IMAP and POP3
 * (proxy_backend_opening()); the protocol's own states from PXB_PROTO on.
 */
enum {
	PXB_GREET = 1,		/* waiting for its greeting */
	PXB_STARTTLS,		/* ... for its answer to STARTTLS/STLS */
	PXB_TLS,		/* TLS starting */
	PXB_SASL,		/* master account: AUTHENTICATE/AUTH PLAIN */
	PXB_PROTO
};

struct proxy_session;

struct proxy_proto {
	const char	*name;		/* "pop3", "imap", "smtp" */
	size_t		 maxline;	/* client lines before login */
	void	(*greet)(struct proxy_session *);
	/* Client input during PX_LOGIN; returns -1 when the session was
	 * closed.  Raw access (IMAP literals) through io_data(). */
	int	(*input)(struct proxy_session *);
	/* Refuse the login in the protocol's words; -1: close after it. */
	int	(*fail)(struct proxy_session *, enum px_fail, const char *);
	/* A session being closed for the unauthenticated limit or a
	 * timeout: one last line. */
	void	(*bye)(struct proxy_session *, const char *);
	/* Back end: connected (or TLS up) and expecting its greeting. */
	void	(*be_start)(struct proxy_session *);
	/* One back-end line during login; -1 when the session moved on
	 * (failed, relaying or closed). */
	int	(*be_line)(struct proxy_session *, char *, size_t);

	/* SASL (proxy_sasl.c): the continuation request, and a response
	 * that logs nobody in in the protocol's words. */
	const char	*sasl_more;
	void	(*sasl_refused)(struct proxy_session *, enum px_mech,
		    enum px_sasl);
	/* The back end's opening (IMAP, POP3): the tag before each
	 * command, the STARTTLS and SASL command names, and the login
	 * the protocol sends when not SASL; -1: the session moved on. */
	const char	*be_tag;
	const char	*be_starttls;
	const char	*be_auth;
	int	(*be_login)(struct proxy_session *);
};

extern const struct proxy_proto proxy_pop3, proxy_imap, proxy_smtp;

struct px_group;

struct proxy_session {
	struct sess		 sess;		/* first (session.h): the
						 * client, TLS, certificate */
	TAILQ_ENTRY(proxy_session) entry;	/* oldest first */
	const struct proxy_profile *p;
	const struct proxy_proto *proto;
	struct io		*bio;		/* back end */
	enum px_phase		 phase;
	enum px_auth		 auth;
	/* Not yet authenticated: in its profile's list of the state
	 * (proxy_session.c, the unauthenticated-limit), started at mono
	 * (CLOCK_MONOTONIC, ns). */
	struct px_group		*grp;
	TAILQ_ENTRY(proxy_session) wentry;
	int64_t			 mono;
	/* Counted in the fronts' shared login table (fronts.h). */
	int			 login_counted;
	uint64_t		 login_key;
	int			 relay_counted;	/* for piggyback */
	uint64_t		 relay_key;
	time_t			 authed_at;
	int			 errors;
	int			 cert_bound;	/* the login names the
						 * certificate's user (or an
						 * alias LDAP lists) */
	int			 external;	/* SASL EXTERNAL: the
						 * certificate alone */
	int			 monitor;	/* disallowed monitor */
	int			 use_master;	/* back-end login as the
						 * master account */
	const char		*pending_method; /* waiting for the
						 * allowance check */

	/* the certificate's user name, "" if none (see proxy_login.c) */
	char			 certname[PX_NAME_MAX];

	/* the login being checked */
	char			 vpnuser[PX_NAME_MAX];
	char			 mailuser[PX_NAME_MAX];
	char			 vpnpass[PX_PASS_MAX];
	char			 mailpass[PX_PASS_MAX];
	size_t			 vpnpasslen, mailpasslen;
	const struct proxy_server *server;
	char			 backend[NI_MAXHOST + 8];
	int			 midx;		/* next auth method */
	const char		*method;	/* the one that accepted */
	int			 tempfail;	/* a method could not answer */
	uint64_t		 lookup_id;
	/* A refusal held until every front has the failure (front.h). */
	struct authfail_wait	*af_wait;
	enum px_fail		 af_why;
	char			*af_text;
	const struct group_policy *gp;
	struct event		*ev_check;	/* checks start from the loop */
	int			 pfail;		/* refusal found while parsing,
						 * or PXC_* */
	const char		*pfail_text;

	/* protocol state before login */
	int			 pstate;
	char			 tag[PX_TAG_MAX];
	char			 args[PX_ARGS_MAX][PX_LITERAL_MAX + 1];
	size_t			 arglen[PX_ARGS_MAX];
	int			 nargs;
	size_t			 lit_need;	/* IMAP literal bytes owed */
	char			 verb[PX_VERB_MAX];
	char			*pending;	/* SMTP: MAIL line to replay */

	/* back end */
	int			 be_addr;	/* 0: server->host, n: alt[n-1] */
	int			 be_connected;	/* its TCP connect succeeded */
	int			 bstate;
	int			 be_tls;
	int			 be_arg;	/* IMAP LOGIN argument sent */
	struct smtp_reply	*reply;		/* SMTP back end */

	/* accounting */
	int			 acct_started;
	uint64_t		 bytes_in;	/* client -> back end */
	uint64_t		 bytes_out;	/* back end -> client */
	char			 result[128];
};

/* proxy_session.c: what the protocol modules call */
void	proxy_reply(struct proxy_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* The credentials are complete: split, check, authorize, log in. */
void	proxy_login(struct proxy_session *, const char *user, size_t ulen,
	    const char *pass, size_t plen);
/* SMTPS without AUTH: the certificate alone (profile allows it). */
int	proxy_login_cert(struct proxy_session *);
/* SASL EXTERNAL (IMAP, POP3): the certificate's user, or the
 * authorization identity the client asks for (len 0: none). */
void	proxy_login_external(struct proxy_session *, const char *authzid,
	    size_t len);
/* May this connection offer EXTERNAL (a certificate that names a user,
 * the certificate method, a master account to reach the back end)? */
int	proxy_external_ok(const struct proxy_session *);
/* The back-end login as the master account: its name and password
 * (from the parent), or -1 when it has none. */
int	proxy_master(const struct proxy_session *, const char **user,
	    const char **pass, size_t *passlen);
/* "cert=" on log lines: ok, none, refused, no-name. */
const char *proxy_cert_state(const struct proxy_session *);
void	proxy_present_user(struct proxy_session *);	/* -> AUTHING */
void	proxy_login_failed(struct proxy_session *, enum px_fail,
	    const char *);
void	proxy_close(struct proxy_session *, const char *why);
/* An event line (kvlog.h) with the fields every proxy line starts with. */
struct kvlog;
void	proxy_kv(struct proxy_session *, struct kvlog *, const char *event);
/* An error counts against limit max-errors: -1 when the session ended. */
int	proxy_error(struct proxy_session *);

/* proxy_backend.c */
void	proxy_backend_connect(struct proxy_session *);
/* STARTTLS/STLS accepted by the back end: start TLS, refusing bytes it
 * sent after its reply.  -1 when the session moved on. */
int	proxy_backend_starttls(struct proxy_session *);
/* The back end accepted the login: start relaying. */
void	proxy_backend_done(struct proxy_session *);
/* proxy_session.c: the back end took the login (accounting "start"). */
void	proxy_session_started(struct proxy_session *);
/* The back-end login failed: drop it, the client may try again. */
void	proxy_backend_failed(struct proxy_session *, enum px_fail,
	    const char *);
void	proxy_backend_close(struct proxy_session *);
/* The back end refused the master account: temporary failure, logged. */
void	proxy_backend_master_refused(struct proxy_session *, const char *);
/* Send the master account's SASL PLAIN response; -1: session moved on. */
int	proxy_backend_master_plain(struct proxy_session *);
/* be_start for IMAP and POP3: the greeting next, or after TLS the login. */
void	proxy_backend_start(struct proxy_session *);
/* The greeting (ok: positive) or the answer to STARTTLS: STARTTLS as the
 * server's `tls' says, then the login; -1 when the session moved on. */
int	proxy_backend_opening(struct proxy_session *, int ok);
/* The user and password the back end gets: the mail user's, or the
 * master account's with the user and the separator ("user*master").
 * -1 when the master account is not usable (the session moved on). */
int	proxy_backend_creds(struct proxy_session *, const char **user,
	    size_t *ulen, const char **pass, size_t *plen);
/* The back end refused the login (line: all of it, text: its words after
 * the status, at most textmax - 1 of them, dflt when none): the client's
 * refusal, or for the master account the administrator's problem.  -1. */
int	proxy_backend_refused(struct proxy_session *, const char *line,
	    const char *text, size_t textmax, const char *dflt);
/* A back-end reply's text, printable ASCII only ('?' for the rest). */
void	proxy_clean_text(char *dst, size_t dstsz, const char *src);
int	proxy_be_printf(struct proxy_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	proxy_be_write(struct proxy_session *, const void *, size_t);
/* Relay what is buffered on either side; -1 when the session ended. */
int	proxy_relay_pump(struct proxy_session *);

/* proxy_sasl.c */
/* The mechanisms this connection offers, each after prefix ("AUTH=" for
 * IMAP), separated by spaces, into buf (always terminated): buf. */
const char *proxy_sasl_list(const struct proxy_session *, const char *prefix,
	    char *buf, size_t bufsz);
/* A mechanism's name as the client gave it: PXM_NONE if not offered. */
enum px_mech proxy_sasl_mech(const struct proxy_session *, const char *);
/* AUTH/AUTHENTICATE mech [initial response] (ir NULL: none, then the
 * continuation request). */
void	proxy_sasl_start(struct proxy_session *, enum px_mech, const char *ir,
	    size_t irlen);
/* A response ("*" cancels, "=" is empty): log in, or refuse it in the
 * protocol's words.  s->pstate back to PXP_CMD. */
void	proxy_sasl_response(struct proxy_session *, enum px_mech,
	    const char *b64, size_t len);
/* A line while a SASL response is awaited: 1 taken, 0 not awaited. */
int	proxy_sasl_continue(struct proxy_session *, const char *, size_t);
/* The response decoded (pure, for the fuzz harness): PLAIN's parts in pl
 * (pointing into buf), EXTERNAL's authorization identity in buf[0..*n). */
enum px_sasl proxy_sasl_decode(enum px_mech, const char *b64, size_t len,
	    unsigned char *buf, size_t bufsz, size_t *n, struct smtp_plain *pl);

/*
 * proxy_imap.c: an IMAP command before login, read as imap_input() reads
 * it; pure, for fuzz/fuzz_proxy_login.c.  The fields point into the
 * session (or the harness's arrays).
 */
struct proxy_imap_cmd {
	char		*tag;				/* PX_TAG_MAX */
	char		*verb;				/* PX_VERB_MAX */
	char		(*args)[PX_LITERAL_MAX + 1];	/* PX_ARGS_MAX */
	size_t		*arglen;
	int		*nargs;
	size_t		*lit_need;
	int		 sync;		/* out: the client waits for "+" */
};
enum {
	PXI_BADTAG = -3,	/* "* BAD" */
	PXI_BADVERB,
	PXI_BADARGS,
	PXI_LITERAL,		/* *lit_need octets follow, then a line */
	PXI_DONE		/* tag, verb and (LOGIN, AUTHENTICATE) args */
};
/* A line: a new command, or (cont) the rest after a literal. */
int	proxy_imap_line(struct proxy_imap_cmd *, const char *, size_t,
	    int cont);
/* Literal octets from p (len available): how many were taken. */
size_t	proxy_imap_literal(struct proxy_imap_cmd *, const char *p, size_t len);

/* proxy_login.c */
struct proxy_split {
	char		 vpnuser[PX_NAME_MAX];
	char		 mailuser[PX_NAME_MAX];
	char		 server[PX_NAME_MAX];	/* "" for the default */
	char		 vpnpass[PX_PASS_MAX];
	char		 mailpass[PX_PASS_MAX];
	size_t		 vpnpasslen, mailpasslen;
};
enum proxy_split_err {
	PXS_OK = 0,
	PXS_BAD,		/* empty part, too long */
	PXS_SERVER		/* names a server that is not allowed */
};
enum proxy_split_err proxy_split_login(const struct proxy_profile *,
	    const char *user, size_t ulen, const char *pass, size_t plen,
	    struct proxy_split *);
/* The allowed server a user names (default server included), or NULL. */
const struct proxy_server *proxy_find_server(const struct proxy_profile *,
	    const char *name);
const char *proxy_server_name(const struct proxy_server *);
/* The certificate's user name under the profile's username rule; -1 if
 * the certificate lacks a field the rule needs.  struct x509_st is
 * OpenSSL's X509 (the leaf of io_tls_peer_chain()). */
struct x509_st;
int	proxy_cert_username(const struct proxy_profile *, struct x509_st *leaf,
	    char *out, size_t outlen);
/* A name we may log and pass on: not empty, no control characters, no
 * leading or trailing space (SPEC 3.4). */
int	proxy_name_ok(const char *, size_t);
/* A client's decoded SASL PLAIN response; 0, or -1 if malformed or
 * naming another authorization identity. */
int	proxy_plain_check(const unsigned char *, size_t, struct smtp_plain *);
/* base64 of a SASL PLAIN response (authzid may be ""); 0 or -1. */
#define PX_SASL_B64_MAX	(((2 * PX_NAME_MAX + PX_PASS_MAX + 2 + 2) / 3) * 4 + 1)
int	proxy_sasl_plain(const char *authzid, const char *authcid,
	    const char *pass, size_t passlen, char *out, size_t outlen);

#endif
