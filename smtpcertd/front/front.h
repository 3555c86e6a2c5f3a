/*
 * State the front's modules share: configuration generations with their
 * TLS contexts, and the session entry points.
 */
#ifndef SMTPCERTD_FRONT_H
#define SMTPCERTD_FRONT_H

#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>
#include <stdint.h>

#include <event2/event.h>

/*
 * A client's numeric address as getnameinfo(NI_NUMERICHOST) writes it:
 * INET6_ADDRSTRLEN, "%" and an interface name, with room to spare.  Not
 * NI_MAXHOST (1025): every idle session carries one.
 */
#define FRONT_ADDR_MAX		64

struct childproc;
struct imsg;
struct conf_bundle;
struct listener;
struct relay;
struct smtpcertd_conf;
struct tls_config;
struct tlsserver;

/*
 * A configuration generation as the front uses it.  Sessions hold a
 * reference: new sessions use the newest generation, running ones finish
 * under the one they started with.
 */
struct front_gen {
	int			 refcnt;
	struct conf_bundle	*b;
	struct smtpcertd_conf	*conf;
	struct tlsserver	**srv;		/* by listener index */
	size_t			 nsrv;
	/* Client TLS configurations towards relays and proxy back ends,
	 * one per CA bundle (a tls_config only differs by its CAs). */
	struct tls_config	**clientcfg;
	char			**clientca;	/* the bundles' names */
	/* NULL, or the relay's or back end's TLS settings (one
	 * configuration each such relay or back end). */
	const struct tls_opts	**clientopts;
	size_t			 nclient;
};

/* front_gen.c: the generations, and what sessions ask of the process. */
void	front_gen_proc(struct childproc *);
struct front_gen *front_gen_new(struct conf_bundle *);
void	front_gen_install(struct front_gen *);
struct event_base *front_base(void);
struct front_gen *front_gen_ref(void);
/* 1 once the first configuration is in (front_gen_ref() may be used). */
int	front_gen_ready(void);
void	front_gen_unref(struct front_gen *);
struct tls_config *front_relay_tlsconf(struct front_gen *,
	    const struct relay *);
/* The client configuration for a CA bundle name (NULL: system CAs);
 * NULL when there is no such bundle. */
struct tls_config *front_client_tlsconf(struct front_gen *, const char *ca);
/* The same with a back end's TLS settings (the global ones under them). */
struct tls_config *front_client_tlsconf_opts(struct front_gen *,
	    const char *ca, const struct tls_opts *);
struct childproc *front_childproc(void);

/*
 * accept.c: between accept() and a session.  The client is the socket's
 * peer, or on a listener with proxy-protocol what the load balancer's
 * PROXY header says; the session takes the socket and a reference to
 * the generation (front_gen_ref) that l belongs to.
 */
struct front_peer {
	char		 addr[NI_MAXHOST];	/* numeric */
	unsigned	 port;
};
void	accept_connection(int fd, const struct listener *);
void	accept_peer_name(const struct sockaddr *, socklen_t,
	    struct front_peer *);

/* proxy_session.c: the e-mail proxy (SPEC 6); proto is the listener's
 * protocol (proxy.h), which accept.c picks, so that the session code
 * reaches the protocols only through their table. */
struct proxy_proto;
void	proxy_session_accept(int fd, struct front_gen *,
	    const struct listener *, const struct front_peer *,
	    const struct proxy_proto *);
void	proxy_session_init(void);
/* `show sessions' rows (at most max; returns how many) and `session
 * kill' (0 closed, -1 no such session), for front.c. */
unsigned proxy_show_sessions(struct childproc *, uint64_t reqid,
	    unsigned max);
int	proxy_session_kill(uint64_t id);
/* IMSG_FRONT_EVICT: front `from' asks for an eviction (fronts.h). */
void	proxy_evict_request(uint64_t key, int from);

/*
 * authfail_front.c: the failed-login table across fronts (issue 17).
 * After authfail_record(), a session holds its refusal until every
 * other front has the failure: authfail_front_wait() returns NULL when
 * there is nothing to wait for (refuse now), else a wait after which
 * cb(arg) runs once, from the event loop; a session that ends first
 * cancels it.
 */
struct authfail_wait;
void	authfail_front_init(struct childproc *);
struct authfail_wait *authfail_front_wait(void (*cb)(void *), void *arg);
void	authfail_front_cancel(struct authfail_wait *);
/* IMSG_AUTHFAIL_*: 1 handled, 0 not one of them. */
int	authfail_front_parent_imsg(struct imsg *);

/* smtp_session.c */
void	smtp_session_accept(int fd, struct front_gen *,
	    const struct listener *, const struct front_peer *);
void	smtp_session_init(void);
unsigned smtp_show_sessions(struct childproc *, uint64_t reqid,
	    unsigned max);
int	smtp_session_kill(uint64_t id);

/* The result a killed session logs. */
#define SESSION_KILLED		"killed by smtpcertctl"

#endif
