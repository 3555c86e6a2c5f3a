/*
 * State the front's modules share: configuration generations with their
 * TLS contexts, and the session entry points.
 */
#ifndef SMTPCERTD_FRONT_H
#define SMTPCERTD_FRONT_H

#include <stdint.h>

#include <event2/event.h>

struct conf_bundle;
struct listener;
struct relay;
struct smtpcertd_conf;
struct tls;
struct tls_config;

/*
 * A configuration generation as the front uses it.  Sessions hold a
 * reference: new sessions use the newest generation, running ones finish
 * under the one they started with.
 */
struct front_gen {
	int			 refcnt;
	struct conf_bundle	*b;
	struct smtpcertd_conf	*conf;
	struct tls		**srv;		/* by listener index */
	size_t			 nsrv;
	struct tls_config	**relaycfg;	/* by relay position */
	size_t			 nrelay;
};

struct event_base *front_base(void);
struct front_gen *front_gen_ref(void);
void	front_gen_unref(struct front_gen *);
struct tls_config *front_relay_tlsconf(struct front_gen *,
	    const struct relay *);

/* smtp_session.c */
void	smtp_session_accept(int fd, const struct listener *);
void	smtp_session_init(void);

#endif
