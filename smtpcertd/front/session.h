/*
 * What every client session of the front shares, the SMTP gateway's
 * (smtp_session.c) and the e-mail proxy's (proxy_session.c): the
 * skeleton of a session from accept to its end line.
 *
 *	sess_open()	the connection becomes a session: id, generation,
 *			listener, client, the io (whose events come here
 *			first)
 *	sess_connect()	the connect line, and the session counted across
 *			every front against the listener's max-sessions
 *	sess_start_tls()	the handshake begins (implicit TLS, STARTTLS)
 *	(handshake)	the TLS names, the CRL check, the OCSP check, the
 *			certificate's names, the tls line; then the
 *			protocol's ready(), or its refused() after the
 *			cert-refused line; a handshake that fails logs
 *			tls-failed and the protocol's io() closes
 *	sess_kv()	every event line's first fields
 *	sess_kv_tlscert() sess_kv_end()
 *			the end line's shared fields
 *	sess_close()	the io flushed and closed (or dropped), the
 *			session's shared parts released
 *
 * struct sess is the first member of each protocol's session, so that a
 * callback's struct sess * is the protocol's session (the ops below).
 * The protocol keeps what differs: its replies, greeting and dialogue,
 * what a refused certificate gets (SMTP 554, the proxy just closes).
 */
#ifndef SMTPCERTD_SESSION_H
#define SMTPCERTD_SESSION_H

#include <stdint.h>
#include <time.h>

#include "front.h"
#include "fronts.h"

struct certfields;
struct io;
struct kvlog;
struct listener;
struct sess;

/* What the client's certificate was, for the protocol's ready(). */
enum sess_cert {
	SESS_CERT_NONE,		/* none presented */
	SESS_CERT_READ,		/* its names are in the session */
	SESS_CERT_UNREADABLE	/* presented and verified, but we cannot
				 * read it: the protocol fails closed */
};

struct sess_ops {
	/* Input (IO_DATAIN, IO_LOWAT) once TLS is up or where there is
	 * none, and every end (IO_TIMEOUT, IO_DISCONNECTED, IO_ERROR; a
	 * failed handshake is logged before). */
	void	(*io)(struct sess *, int evt);
	/* The CRL or OCSP check refused the client's certificate after
	 * the handshake; the cert-refused line is logged.  Refuse in the
	 * protocol's words and close. */
	void	(*refused)(struct sess *, const char *why);
	/* TLS is up and the checks passed, the tls line is logged: the
	 * protocol begins.  cf: the certificate's names and DER (for
	 * SESS_CERT_READ; certfields_ident()), valid for the call only.
	 * 1: read what the client sent. */
	int	(*ready)(struct sess *, enum sess_cert,
		    const struct certfields *cf);
	/* When set, the tls line names the certificate (cert-subject,
	 * -serial, -issuer) and the user it names (cert-user: what this
	 * returns, NULL for none) -- the proxy, which has no cert line;
	 * the SMTP gateway names it on its cert line after LDAP. */
	const char *(*cert_user)(struct sess *);
	/* "session" or "proxy": the OCSP check's log lines name the
	 * session by it. */
	const char *what;
};

struct sess {
	const struct sess_ops	*ops;
	uint64_t		 id;
	struct front_gen	*gen;		/* a reference */
	const struct listener	*l;
	struct io		*io;		/* the client */
	const char		*proto;		/* proto= of the log lines */
	const char		*proxy;		/* proxy=, NULL: none */
	char			 addr[FRONT_ADDR_MAX];
	unsigned		 port;
	time_t			 started;
	int			 counted;	/* in front_counts_add() */
	enum front_count_kind	 kind;
	int			 handshake;	/* TLS handshake under way */
	uint64_t		 ocsp_id;	/* crld's answer awaited */
	char			 tlsver[32];	/* "TLSv1.3", "" without */
	char			 cipher[96];
	int			 cipher_bits, cipher_alg_bits;
	/* The client certificate's, for the log; NULL if none. */
	char			*cert_subject;
	char			*cert_serial;
	char			*cert_issuer;
	int			 cert_refused;	/* by the CRL or OCSP check */
};

/*
 * The connection fd becomes the session s (zeroed, the first member of
 * the protocol's): it takes the generation reference g, and its io
 * sends events to the skeleton.  -1 when out of memory: the fd is
 * closed, the reference still the caller's.
 */
int	sess_open(struct sess *, const struct sess_ops *, uint64_t id,
	    int fd, struct front_gen *g, const struct listener *,
	    const struct front_peer *, const char *proto, const char *proxy);
/* The connect line, then the session counted in every front's total;
 * -1 when that is over the listener's max-sessions: refuse and close. */
int	sess_connect(struct sess *, enum front_count_kind);
/* Begin the server handshake ("implicit TLS", "STARTTLS", for the
 * trace); io_start_tls_server()'s return. */
ssize_t	sess_start_tls(struct sess *, const char *how);
/* "session=... event=... proto=... client=...[ proxy=...]" (kvlog.h). */
void	sess_kv(struct sess *, struct kvlog *, const char *event);
/* The tls-failed line (a handshake that did not finish) or the
 * cert-refused line (refused after it), each with what certverify.c
 * knows of the refusal. */
void	sess_log_tls_failed(struct sess *, const char *event,
	    const char *why);
/* The end line's fields after the protocol's first ones: tls, cipher,
 * cert (the protocol's state name) and the certificate's names. */
void	sess_kv_tlscert(struct sess *, struct kvlog *, const char *cert);
/* Its last fields, duration and result, and the line to the log. */
void	sess_kv_end(struct sess *, struct kvlog *, const char *why);
/* The io flushed then closed (flush 1) or dropped, requests to crld
 * cancelled, the count and the generation given back.  The protocol
 * frees its session afterwards. */
void	sess_close(struct sess *, int flush);

#endif
