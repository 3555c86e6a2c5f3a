/*
 * What every child process (front, ldapd-helper, crld) does the same way:
 * start-up in the fixed order (purge, receive config, chroot and drop
 * privileges, sandbox, event loop), the parent channel on PROC_PARENT_FD,
 * configuration generations, log verbosity, peer channels handed over by
 * the parent, and a clean exit when the parent goes away.
 */
#ifndef SMTPCERTD_CHILDPROC_H
#define SMTPCERTD_CHILDPROC_H

#include <event2/event.h>

#include "confmsg.h"
#include "imsgev.h"
#include "proto.h"

struct childproc;

struct childproc_ops {
	enum smtpcertd_proc	 proc;
	/* Which peers this process talks to (bitmask of 1 << proc). */
	unsigned		 peers;
	/* Before privileges are dropped: library init that reads files. */
	void	(*preinit)(struct childproc *);
	/* Chroot directory for this process, or NULL for none. */
	const char *(*chroot_dir)(struct childproc *);
	void	(*sandbox)(struct childproc *);
	/* A new generation is ready; old is NULL the first time and is
	 * freed by the caller afterwards unless the callback keeps it (then
	 * it must return 1). */
	int	(*config)(struct childproc *, struct conf_bundle *new,
		    struct conf_bundle *old);
	/* Messages from the parent that are not handled here. */
	void	(*parent_imsg)(struct childproc *, struct imsg *);
	/* Messages from a peer (proc is its slot: slot_proc() names its
	 * kind); imsg == NULL: the peer channel is gone (pending requests
	 * must fail temporarily). */
	void	(*peer_imsg)(struct childproc *, int proc, struct imsg *);
	/* A (new) channel to a peer is up. */
	void	(*peer_up)(struct childproc *, int proc);
	/* Clean shutdown hook. */
	void	(*shutdown)(struct childproc *);
	/* Before answering `show stats' (childproc.c does the rest): set
	 * the process's gauges (stats.h).  May be NULL. */
	void	(*stats)(struct childproc *);
};

struct childproc {
	const struct childproc_ops	*ops;
	struct event_base		*base;
	struct imsgev			 parent;
	/* By slot (proto.h): a helper has one channel per front. */
	struct imsgev			 peer[SLOT_MAX];
	int				 peer_up[SLOT_MAX];
	struct conf_bundle		*conf;	/* current generation */
	struct conf_bundle		*pending;
	struct event			*ev_sigterm;
	struct event			*ev_sigint;
	void				*data;	/* the process's own state */
};

/*
 * main() of a child program (ldapd-helper, crld): takes -d (foreground)
 * and -v (verbose), the only options the parent passes, then runs
 * childproc_main().
 */
int	childproc_run(int argc, char *argv[], const struct childproc_ops *,
	    void *data);
/* Runs the process; returns only to exit. */
int	childproc_main(const struct childproc_ops *, int foreground,
	    int verbose, void *data);
/* Send to a peer; -1 (errno EPIPE) if it is not connected. */
int	childproc_peer_send(struct childproc *, int proc, struct msgbuild *,
	    uint32_t type, uint32_t peerid, uint64_t reqid, int fd);
int	childproc_peer_compose(struct childproc *, int proc, uint32_t type,
	    uint32_t peerid, uint64_t reqid, int fd, const void *, size_t);

#endif
