/*
 * ldapd-helper internals: one process-wide state (env), configuration
 * generations of LDAP profiles, a connection pool per profile, the
 * requests the front sends, and a cache per profile.
 *
 *	ldapd-helper.c	main, childproc wiring, front and parent messages
 *	ldap_lookup.c	request state machines (certificate, smtp-auth,
 *			authorization, allowance)
 *	ldap_profile.c	a generation: profiles built from the config bundle
 *	ldap_conn.c	connections: async connect, TLS, service bind,
 *			failover with back-off, the pool and its queues
 *	ldap_cache.c	positive and negative answers with TTL and size bound
 *	ldapd_env.c	the process-wide state (env)
 *	ldap_util.c	small helpers: clocks, log-safe strings
 *
 * Each file uses only files below it in this list, so the helper reads
 * top-down: ldap_conn.c hands what its operations return to the
 * requests through callbacks that ldap_lookup.c registers
 * (lconn_init()), the cache is given its password key, and the state
 * that several files read (env) has a file of its own, not main's.
 *
 * Life of a request: the front's message becomes a struct lreq holding a
 * reference on its generation; its current LDAP operation (one at a
 * time: search, bind, search) waits in a profile queue until a
 * connection of the right kind is ready, then runs on it keyed by
 * msgid.  Whatever happens -- answer, timeout, lost connection, the
 * front going away -- the request ends in exactly one place,
 * lookup_finish(), which answers (unless the front is gone), logs one
 * line and frees it.
 */
#ifndef LDAPD_H
#define LDAPD_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <lber.h>
#include <ldap.h>

#include "config.h"
#include "imsg.h"
#include "ldap_filter.h"
#include "proto.h"

struct childproc;
struct conf_bundle;
struct evdns_base;
struct evdns_getaddrinfo_request;
struct evutil_addrinfo;
struct tls;
struct tls_config;

/* Requests in flight at once; beyond that the front gets TEMPFAIL. */
#define LDAPD_MAX_REQUESTS	1024
/* Server back-off after a failure: doubles from MIN up to MAX seconds. */
#define LDAPD_BACKOFF_MIN	1
#define LDAPD_BACKOFF_MAX	16
/* Searches ask for at most this many entries: two proves ambiguity. */
#define LDAPD_SIZELIMIT		2
/* Values of the match-certificate attribute compared per entry. */
#define LDAPD_MAX_CERTVALUES	16
/* Without `tls ca' a profile trusts the system bundle, read into memory
 * with each configuration generation. */
#define LDAPD_SYSTEM_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"
/* Plaintext of one TLS record at most (RFC 8446 5.1): the TLS layer
 * under libldap decrypts whole records into a buffer this size. */
#define LDAPD_TLS_RECORD	16384
#define LDAPD_LOGSTR_MAX	256	/* bytes of a user or subject logged */
#define LDAPD_DETAIL_MAX	256

enum lconn_kind {
	LCONN_SERVICE,		/* bound as the service account: searches */
	LCONN_BIND,		/* user binds only, one at a time */
	LCONN_NKINDS
};

enum lconn_state {
	LCONN_RESOLVING,
	LCONN_CONNECTING,
	LCONN_TLS,		/* our TLS handshake under libevent */
	LCONN_STARTTLS,		/* StartTLS extended operation sent */
	LCONN_BINDING,		/* service bind sent */
	LCONN_READY,
	LCONN_DEAD
};

struct lserver {
	char		*url;
	char		*host;
	char		 port[8];
	int		 ldaps;
	int		 starttls;
	uint64_t	 down_until;	/* monotonic ms; 0: usable */
	int		 backoff;	/* seconds of the next back-off */
};

struct lreq;
TAILQ_HEAD(lreq_queue, lreq);

struct lconn {
	TAILQ_ENTRY(lconn)	 entry;
	struct lprofile		*p;
	enum lconn_kind		 kind;
	enum lconn_state	 state;
	size_t			 srv;		/* index into p->servers */
	uint64_t		 id;		/* for log lines */
	struct evdns_getaddrinfo_request *dnsreq;
	struct evutil_addrinfo	*ai, *ai_next;
	int			 dns_sync;	/* inside evdns_getaddrinfo() */
	int			 dns_done;	/* ... which answered */
	int			 dns_err;
	int			 lasterr;	/* errno of the last connect */
	int			 fd;		/* ours until ld owns it */
	LDAP			*ld;
	struct tls		*tls;		/* handshake; then the layer's */
	int			 tlsfd;		/* ld's socket, for the handshake */
	struct event		*ev;		/* connect, TLS, then read */
	struct event		*ev_timer;	/* connect timeout */
	int			 setup_msgid;	/* StartTLS or service bind */
	struct lreq_queue	 ops;		/* requests with an op here */
	int			 nops;
	int			 dispatching;	/* inside ldap_result() loop */
	int			 dead;		/* close once dispatch ends */
};
TAILQ_HEAD(lconn_list, lconn);

struct lcache;

struct lprofile {
	TAILQ_ENTRY(lprofile)	 entry;
	struct lgen		*gen;
	struct ldap_profile	*conf;
	struct lserver		*servers;
	size_t			 nservers;
	struct berval		 password;	/* service bind, wiped */
	struct tls_config	*tlscfg;	/* its CAs; NULL: TLS fails */
	struct lconn_list	 conns;
	int			 nconns[LCONN_NKINDS];
	struct lreq_queue	 wait[LCONN_NKINDS];
	struct lcache		*cache;
};
TAILQ_HEAD(lprofile_list, lprofile);

/* A configuration generation: lives while requests use it. */
struct lgen {
	struct conf_bundle	*bundle;
	struct lprofile_list	 profiles;
	int			 refs;		/* requests + 1 while current */
};

enum lreq_type {
	LREQ_CERT,
	LREQ_AUTH,
	LREQ_AUTHZ,		/* e-mail proxy: user -> group policy */
	LREQ_ALLOW		/* smtp-auth query's allowance alone,
				 * no password (issue 13) */
};

enum lreq_step {
	LSTEP_SEARCH,		/* find the entry, as the service account */
	LSTEP_BIND,		/* auth: bind as the entry */
	LSTEP_ALLOWANCE		/* auth, allow: allowance filter on the
				 * entry */
};

struct lreq {
	TAILQ_ENTRY(lreq)	 entry;		/* env->reqs */
	TAILQ_ENTRY(lreq)	 qentry;	/* p->wait[] or conn->ops */
	uint64_t		 id;		/* the front's reqid */
	enum lreq_type		 type;
	struct lgen		*gen;
	struct lprofile		*p;		/* NULL: unknown profile */
	struct ldap_query	*q;
	char			*pname, *qname;	/* as requested, for logs */
	uint64_t		 start_ms;
	struct event		*ev_timeout;
	int			 cached;	/* answered from the cache */

	/* the current LDAP operation */
	enum lreq_step		 step;
	enum lconn_kind		 opkind;
	int			 queued;	/* in p->wait[opkind] */
	struct lconn		*conn;		/* op running there */
	int			 msgid;
	char			*filter;	/* expanded, service searches */
	const char		*base;
	int			 scope;
	char			*attrs[4];

	/* what the entry said */
	int			 nentries;
	char			*dn;
	char			*user;		/* authz: the group policy */
	int			 nuser;		/* values of user_attr */
	char			*mails[LDAP_MAX_MAILS];
	int			 nmails;
	int			 certmatch;

	/* certificate */
	unsigned char		*der;
	size_t			 derlen;
	char			*subject;
	unsigned char		 fp[32];

	/* smtp-auth */
	char			*uname;		/* as typed, validated
						 * (smtp-auth, authz, allow) */
	unsigned char		*pw;		/* wiped after use */
	size_t			 pwlen;
	unsigned char		 pwtoken[32];	/* HMAC, for the cache */
	/* the password policy response to the user bind, if any
	 * (pwpolicy.h); -1: not in the response */
	int			 pp_error;	/* PWP_PP_NONE: none */
	int			 pp_grace;	/* grace logins left */
	int			 pp_expire;	/* seconds to expiry */

	char			 detail[LDAPD_DETAIL_MAX];
};

struct ldapd {
	struct childproc	*cp;
	struct event_base	*base;
	struct evdns_base	*dns;
	struct lgen		*cur;
	struct lreq_queue	 reqs;
	int			 nreqs;
	uint64_t		 nextconn;
	unsigned char		 pwkey[32];	/* cache password MAC key */
};

/* ldapd_env.c */
extern struct ldapd	*env;

/* ldap_profile.c */
struct lgen	*lgen_new(struct conf_bundle *);
void		 lgen_ref(struct lgen *);
void		 lgen_unref(struct lgen *);
struct lprofile	*lgen_profile(struct lgen *, const char *);
void		 lgen_flush(struct lgen *);
/* Answers held in the caches of the generation's profiles. */
size_t		 lgen_cache_count(struct lgen *);

/* ldap_conn.c */
/*
 * What a connection tells the owner of the requests (ldap_lookup.c)
 * about their operations; registered once with lconn_init(), before
 * the first configuration.
 */
struct lconn_cb {
	/* A search entry for the op of req. */
	void	(*entry)(struct lreq *, LDAP *, LDAPMessage *);
	/* The op of req ended (it is off its connection): ldaprc. */
	void	(*op_done)(struct lreq *, int ldaprc, const char *why);
	/* No server reachable: every request queued for a kind fails. */
	void	(*fail_queue)(struct lreq_queue *, const char *why);
};
void	lconn_init(const struct lconn_cb *);
void	lconn_submit(struct lprofile *, struct lreq *, enum lconn_kind);
void	lconn_cancel(struct lreq *, int broken);
void	lconn_close_all(struct lprofile *);
void	lserver_failed(struct lprofile *, size_t, const char *);

/* ldap_lookup.c */
/* Registers the connections' callbacks (lconn_init()). */
void	lookup_init(void);
void	lookup_cert(uint64_t, struct imsg *);
void	lookup_auth(uint64_t, struct imsg *);
void	lookup_authz(uint64_t, struct imsg *);
void	lookup_allow(uint64_t, struct imsg *);
/* A front's channel closed (its slot, proto.h): drop its lookups. */
void	lookup_front_gone(int slot);
/* A search entry of req's op (ldap_conn.c calls it through struct
 * lconn_cb; fuzz/fuzz_ldap_entry.c directly). */
void	lookup_entry(struct lreq *, LDAP *, LDAPMessage *);

/* ldap_cache.c */
struct lcache_answer {
	uint32_t	 result;
	const char	*user;
	const char	*dn;
	const char	*subject;	/* certificate answers: "" if none */
	char *const	*mails;
	int		 nmails;
};
/* key: the password MAC key (ldap_cache.c), borrowed: it must outlive
 * the cache. */
struct lcache	*lcache_new(int size, int ttl, int negttl,
		    const unsigned char *key, size_t keylen);
void		 lcache_free(struct lcache *);
void		 lcache_flush(struct lcache *);
/* pw NULL: the entry must not need one (certificate answers). */
int		 lcache_get(struct lcache *, const void *key, size_t keylen,
		    const void *pw, size_t pwlen, struct lcache_answer *);
void		 lcache_put(struct lcache *, const void *key, size_t keylen,
		    const void *pw, size_t pwlen, int negative,
		    const struct lcache_answer *);
size_t		 lcache_count(struct lcache *);

/* ldap_util.c */
uint64_t	 now_ms(void);
const char	*logstr(const void *, size_t, char *, size_t);
void		*xcalloc(size_t, size_t);
char		*xstrdup(const char *);

#endif
