/*
 * State the front's modules share: configuration generations with their
 * TLS contexts, and the session entry points.
 */
#ifndef SMTPCERTD_FRONT_H
#define SMTPCERTD_FRONT_H

#include <stdint.h>

#include <event2/event.h>

/*
 * A client's numeric address as getnameinfo(NI_NUMERICHOST) writes it:
 * INET6_ADDRSTRLEN, "%" and an interface name, with room to spare.  Not
 * NI_MAXHOST (1025): every idle session carries one.
 */
#define FRONT_ADDR_MAX		64

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
	size_t			 nclient;
};

struct event_base *front_base(void);
struct front_gen *front_gen_ref(void);
void	front_gen_unref(struct front_gen *);
struct tls_config *front_relay_tlsconf(struct front_gen *,
	    const struct relay *);
/* The client configuration for a CA bundle name (NULL: system CAs);
 * NULL when there is no such bundle. */
struct tls_config *front_client_tlsconf(struct front_gen *, const char *ca);
struct childproc *front_childproc(void);

/* proxy_session.c: the e-mail proxy (SPEC 6) */
void	proxy_session_accept(int fd, const struct listener *);
void	proxy_session_init(void);
void	proxy_show_sessions(struct childproc *, uint64_t reqid);

/* smtp_session.c */
void	smtp_session_accept(int fd, const struct listener *);
void	smtp_session_init(void);

#endif
