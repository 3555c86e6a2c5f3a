/*
 * The parent process: its state (parent.c) and the interfaces of its
 * files, in the order they call each other (below).
 */
#ifndef SMTPCERTD_SMTPCERTD_H
#define SMTPCERTD_SMTPCERTD_H

#include <sys/types.h>
#include <time.h>

#include <event2/event.h>

#include "confmsg.h"
#include "imsgev.h"
#include "proto.h"

struct smtpcertd_conf;

#define SMTPCERTD_VERSION	"0.1"

/* Restart back-off for children: 1 s doubling to 60 s; a child that ran
 * for CHILD_STABLE_SECS is considered healthy again. */
#define CHILD_BACKOFF_MIN	1
#define CHILD_BACKOFF_MAX	60
#define CHILD_STABLE_SECS	60
/* This many deaths within CHILD_STABLE_SECS and we say so loudly. */
#define CHILD_FLAPPING		5
/* How long shutdown waits for children before SIGKILL. */
#define CHILD_EXIT_WAIT		5

struct child {
	enum smtpcertd_proc	 proc;
	int			 slot;		/* in children[] (proto.h) */
	int			 front;		/* fronts: 0 .. nfronts-1 */
	uint64_t		 crl_loaded;	/* fronts: set acknowledged */
	pid_t			 pid;		/* 0 when not running */
	struct imsgev		 iev;
	int			 up;		/* channel open */
	int			 ready;		/* sent IMSG_CHILD_READY */
	time_t			 started;
	unsigned		 restarts;	/* total */
	unsigned		 recent_deaths;	/* within CHILD_STABLE_SECS */
	time_t			 first_recent_death;
	int			 backoff;	/* seconds */
	struct event		*restart_ev;
	uint64_t		 conf_loaded;	/* generation acknowledged */
	int			 last_status;	/* from waitpid */
};

struct parent {
	struct event_base	*base;
	const char		*conffile;
	char			*self_exe;	/* to re-exec the front */
	const char		*libexec;	/* ldapd-helper, crld */
	int			 foreground;
	time_t			 started;
	int			 shutting_down;

	struct conf_bundle	*cur;		/* running generation */
	uint64_t		 next_gen;
	time_t			 last_reload;
	char			 last_reload_result[256];

	/* By slot (proto.h): children[PROC_FRONT] is front 0, the other
	 * fronts follow PROC_MAX. */
	struct child		 children[SLOT_MAX];
	/* `front processes', taken at start (a reload that changes it
	 * says so and keeps this many). */
	int			 nfronts;
	int			 fronts_configured;	/* 0: the default */
	/* Each front's session counts (fronts.c), by front. */
	int			 countfd[FRONTS_MAX];
	struct front_counts	*counts[FRONTS_MAX];
};

/*
 * The files, top-down: smtpcertd.c (main, signals, reload) calls the
 * modules; control.c and metrics.c serve their clients by calling the
 * modules that answer (accounting.c, crl_parent.c, stats_parent.c);
 * proc.c runs the children and hands their messages to those modules;
 * at the bottom, control_reply.c is the way back to a control client
 * and parent.c holds the state they all read.  No file calls a file
 * above it: what must go up is a callback the caller registered.  The
 * declarations below follow that order.
 */

/* control.c: the control socket; its `reload' is the reload callback */
int	control_init(const char *path, const char *group, int changes,
	    int (*reload)(char *why, size_t whylen));
/* At reload: `allow changes' at once; another group at restart. */
void	control_reconfigure(const struct smtpcertd_conf *);
void	control_listen(void);
void	control_cleanup(void);

/* metrics.c: `metrics listen', the Prometheus endpoint */
/* Bind a changed address (-1: cannot), then take it or drop it. */
int	metrics_prepare(const struct smtpcertd_conf *);
void	metrics_commit(void);
void	metrics_abort(void);
void	metrics_cleanup(void);

/* resolve.c */
/* How re-resolution installs a new generation (smtpcertd.c's). */
void	resolve_init(void (*install)(struct conf_bundle *));
/* check (smtpcertd -n): a relay whose names only failed for want of an
 * answer (offline) is a warning, not an error. */
int	resolve_relays(struct smtpcertd_conf *, int check);
/* (Re)arm the timer that re-resolves the running generation's names. */
void	resolve_schedule(void);

/* proc.c */
void	proc_init(void);
void	proc_start_all(void);
void	proc_send_config(struct child *);
void	proc_reap(void);
void	proc_stop_all(void);
int	proc_broadcast(uint32_t type, const void *, size_t);

/* fronts.c: several front processes (issue 17) */
struct front_counts;
void	fronts_init(int nfronts);
/* A front was started: its counts start at zero, and it gets its own
 * counts writable and the others' read-only. */
void	fronts_started(struct child *);
/* Its channel closed: its sessions no longer count. */
void	fronts_down(struct child *);
/* IMSG_FRONT_EVICT from a front: to the front it names; -1 malformed. */
int	fronts_evict_imsg(struct child *, struct imsg *);

/* fronts_authfail.c: failed logins from one front to the others */
/* IMSG_AUTHFAIL_NOTE from a front: to every other front; -1 malformed. */
int	fronts_authfail_imsg(struct child *, struct imsg *);
/* IMSG_AUTHFAIL_SEEN from a front: a note passed on is in its table;
 * -1 if it had none to confirm. */
int	fronts_authfail_seen(struct child *, struct imsg *);
/* A (re)started front: the failures counted so far. */
void	fronts_authfail_table(struct child *);
/* Its channel closed: nothing waits for it, nor is it waited for. */
void	fronts_authfail_down(struct child *);

/* crl_parent.c: the current revocation set and CRL status */
int	crl_parent_crld_imsg(struct imsg *);
int	crl_parent_front_imsg(struct child *, struct imsg *);
void	crl_parent_child_started(struct child *);
void	crl_parent_child_down(struct child *);
int	crl_parent_update(uint64_t ctlid, const char *name, char *why,
	    size_t whylen);
void	crl_parent_ctl_gone(uint64_t ctlid);
void	crl_parent_show(struct imsgev *);

/* accounting.c: the e-mail proxy's records and `show sessions' */
int	accounting_front_imsg(struct imsg *);
void	sessions_request(uint64_t ctlid);
int	sessions_front_imsg(struct child *, struct imsg *);
/* A front's channel is gone: do not wait for its rows or answer. */
void	sessions_child_down(struct child *);
/* `session kill', passed to the front */
void	sessions_kill(uint64_t ctlid, uint64_t session);

/* stats_parent.c: `show stats', counters gathered from the children,
 * for a control client (control.c) or an HTTP client of `metrics
 * listen' (metrics.c).  Each asker renders the answer itself. */
struct stats_prom;
struct stats_answer {
	/* The rows in the table's order, the processes asked and whether
	 * each answered, the parent's start and the answer's time. */
	const struct stats_prom	*prom;
	/* By slot (proto.h): why that child is missing, or NULL. */
	const char *const	*missing;
};
/* The answer for the asker's id, or NULL and why there is none. */
typedef void (*stats_answer_cb)(uint64_t id, const struct stats_answer *,
    const char *why);
void	stats_parent_request(stats_answer_cb, uint64_t id);
int	stats_parent_child_imsg(struct child *, struct imsg *);
void	stats_parent_child_down(struct child *);

/* logfile.c */
int	logfile_apply(const struct smtpcertd_conf *);
int	logfile_check(const struct smtpcertd_conf *);
int	logfile_child_pipe(const struct child *);
void	logfile_child_started(const struct child *, pid_t);
void	logfile_shutdown(void);

/* listen.c */
int	listen_bind_all(struct conf_bundle *new, struct conf_bundle *old);

/* load.c */
int	load_files(struct conf_bundle *);
/* smtpcertd -n: files the unprivileged user reads, as that user. */
int	load_check_user_files(const struct smtpcertd_conf *);

/* control_reply.c: answering a control client later, by its id, from
 * the modules control.c calls; a client gone is ignored.  control.c
 * registers how (control_init()). */
void	control_reply_init(void (*reply)(uint64_t, uint32_t, const char *),
	    void (*send)(uint64_t, uint32_t, struct msgbuild *));
void	control_reply_id(uint64_t id, uint32_t type, const char *text);
/* Send a built message (NULL: empty) to a client by its id. */
void	control_send_id(uint64_t id, uint32_t type, struct msgbuild *);
/* `test certificate', `test login': the front's steps and decision. */
int	control_test_relay(struct imsg *);

/* parent.c: the state, filled in by main() */
extern struct parent	*parent;
struct child *proc_child(enum smtpcertd_proc);
/* Front k (0 .. nfronts-1). */
struct child *proc_front(int k);

/* front.c: the front process entry (smtpcertd -T front) */
int	front_main(int foreground, int verbose);
/* keys.c: the keys process entry (smtpcertd -T keys) */
int	keys_main(int foreground, int verbose);

#endif
