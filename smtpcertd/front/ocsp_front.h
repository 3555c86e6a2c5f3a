/*
 * OCSP in the front (issue 5 item 7): after a client handshake and the
 * CRL check, ask crld about the leaf certificate and let the session wait
 * for the answer without blocking anything else.
 */
#ifndef SMTPCERTD_OCSP_FRONT_H
#define SMTPCERTD_OCSP_FRONT_H

#include <stddef.h>
#include <stdint.h>

struct childproc;
struct imsg;
struct io;
struct listener;
struct smtpcertd_conf;

/* refuse: 1 to end the session (why: for the 554 and the log). */
typedef void (*ocsp_front_cb)(void *arg, int refuse, const char *why);

/* Grace the front adds to `ocsp timeout` before it gives up itself. */
#define OCSP_FRONT_GRACE	2
#define OCSP_FRONT_MAX_PENDING	4096

void	ocsp_front_init(struct childproc *);
/*
 * With `ocsp yes`, on a listener with a ca, when a certificate was
 * presented: returns 1 after asking crld (cb runs exactly once later,
 * never from inside this call, unless ocsp_front_cancel(*reqid) comes
 * first), 0 when there is nothing to ask or the policy lets the session
 * go on at once, -1 to refuse at once (why set).
 */
int	ocsp_front_check_client(const struct smtpcertd_conf *,
	    const struct listener *, struct io *, const char *who,
	    ocsp_front_cb, void *arg, uint64_t *reqid, char *why,
	    size_t whylen);
/* The same for a chain (leaf first) presented some other way
 * (`smtpcertctl test certificate'). */
struct stack_st_X509;
int	ocsp_front_check_chain(const struct smtpcertd_conf *,
	    const struct listener *, struct stack_st_X509 *chain,
	    const char *who, ocsp_front_cb, void *arg, uint64_t *reqid,
	    char *why, size_t whylen);
void	ocsp_front_cancel(uint64_t reqid);
/* crld's channel: IMSG_OCSP_RES, or NULL when crld is gone. */
void	ocsp_front_dispatch(struct imsg *);

#endif
