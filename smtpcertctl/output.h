/*
 * smtpcertctl output: the decoded reply rows, printed as text for people
 * or as JSON for scripts (-j).  One printer per format, same rows.
 */
#ifndef SMTPCERTCTL_OUTPUT_H
#define SMTPCERTCTL_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STATUS_MAX_ROWS	64

struct st_daemon {
	char		*version;
	uint64_t	 pid;
	int64_t		 started;
	char		*conffile;
	uint64_t	 gen;
	int64_t		 last_reload;
	char		*last_reload_result;
	uint32_t	 trace;		/* trace mask (log.h), 0: brief */
	uint32_t	 fronts;	/* front processes running */
	uint32_t	 fronts_configured; /* 0: the default (CPUs) */
};

struct st_proc {
	char		*name;
	uint64_t	 pid;
	char		*state;
	int64_t		 started;
	uint32_t	 restarts;
	uint64_t	 gen;
};

struct st_listener {
	char		*address;
	uint32_t	 port;
	char		*proto;
	char		*tls;
};

struct status {
	struct st_daemon	 d;
	struct st_proc		 procs[STATUS_MAX_ROWS];
	int			 nprocs;
	struct st_listener	 listeners[STATUS_MAX_ROWS];
	int			 nlisteners;
};

/* One row of `show sessions' (IMSG_CTL_SESSION). */
struct st_session {
	uint64_t	 id;
	char		*proto;
	char		*state;
	char		*user;
	char		*client;
	char		*backend;
	int64_t		 started;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	uint32_t	 front;		/* which front holds it, */
	uint64_t	 pid;		/* and its pid */
};

/* `show stats': counter rows in the daemon's order, and the processes
 * that did not answer (the answer is then partial). */
struct st_counter {
	char		*name;		/* "tls.handshakes.ok" */
	uint64_t	 value;
};

struct st_missing {
	char		*process;
	char		*reason;
};

/* A process asked for its counters, and whether they are in. */
struct st_asked {
	char		*process;
	int		 present;
};

struct st_stats {
	struct st_counter	*rows;
	size_t			 nrows;
	struct st_missing	*missing;
	size_t			 nmissing;
	int64_t			 started;	/* the parent, epoch */
	int64_t			 now;		/* the answer, epoch */
	struct st_asked		*asked;
	size_t			 nasked;
};

/* How to print: -j/--json is OUT_JSON; Prometheus is for show stats. */
enum output_format {
	OUT_TEXT,
	OUT_JSON,
	OUT_PROMETHEUS
};

/* `test certificate', `test login': the steps and the decision. */
struct st_step {
	char		*step;
	char		*result;
	char		*detail;
};

struct st_test {
	struct st_step	*steps;
	size_t		 nsteps;
	uint32_t	 decision;	/* enum ctl_test_decision */
	char		*user;
	char		*reason;
};

struct crl_status;

void	output_status(const struct status *, int json, time_t now);
void	output_crl(const struct crl_status *, size_t n, int json, time_t now);
void	output_result(int ok, const char *msg, int json);
void	output_sessions(const struct st_session *, size_t n, int json,
	    time_t now);
/* Exits if the names do not form a tree (a malformed answer). */
void	output_stats(const struct st_stats *, enum output_format);
void	output_test(const struct st_test *, int json);

#endif
