/*
 * Requests from the front to a peer process, keyed by a 64-bit request
 * id, with a deadline, answered by callback exactly once: the shape of
 * lookup.c's pending LDAP lookups, made generic (issue 5 item 7 uses it
 * for OCSP, lookup.c for LDAP).
 *
 * A peer that goes away, does not answer by the deadline, or a table
 * that is full fails the request (imsg NULL, why says which): a lost
 * peer never decides anything.  Callbacks never run from inside
 * peerreq_send().
 */
#ifndef SMTPCERTD_PEERREQ_H
#define SMTPCERTD_PEERREQ_H

#include <stddef.h>
#include <stdint.h>

struct childproc;
struct imsg;
struct msgbuild;
struct peerreq_table;

/* imsg: the peer's answer (decode it here); NULL: failed, see why. */
typedef void (*peerreq_cb)(void *arg, struct imsg *imsg, const char *why);

/* what names the peer in logs ("crld"); at most maxpending in flight. */
struct peerreq_table *peerreq_table_new(struct childproc *, int proc,
	    const char *what, size_t maxpending);
/* Send m as type with a fresh reqid (never 0), returned; the deadline is
 * timeout seconds from now. */
uint64_t peerreq_send(struct peerreq_table *, struct msgbuild *,
	    uint32_t type, int timeout, peerreq_cb, void *arg);
/* Forget a request: its callback will not run.  Returns its arg, NULL if
 * there is no such request. */
void	*peerreq_cancel(struct peerreq_table *, uint64_t reqid);
/* A message from the peer: the request with its reqid is answered
 * (unknown ids are dropped: cancelled or timed out).  NULL: the peer is
 * gone, every pending request fails. */
void	 peerreq_dispatch(struct peerreq_table *, struct imsg *);
size_t	 peerreq_pending(const struct peerreq_table *);

#endif
