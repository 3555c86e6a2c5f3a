/*
 * The parent's side of `smtpcertctl show stats' (counters in stats.h,
 * messages in proto.h).
 *
 * A request asks every child that is up and ready for its counters, with
 * a request id of our own, and waits at most STATS_TIMEOUT seconds.  A
 * child that is down, dies meanwhile (proc.c tells us) or stays silent
 * is reported missing with the reason, and the answer goes out with what
 * the others said: a wedged child makes the answer partial, never late.
 * The rows leave in the table's order whatever order the children
 * answered in, so the output is stable.
 *
 * Every row a child sends is checked against the table (stats_get()): a
 * name that is unknown or owned by another process is a malformed
 * message, and the child is killed like for any other.
 *
 * Two kinds of askers: a control client (control.c sends the rows,
 * missing processes, the uptime and time, then the end) and a `metrics
 * listen' HTTP client (metrics.c prints the same answer in the
 * Prometheus format).  Each passes its callback with its id, and renders
 * the answer itself: this file knows neither, as both call it.  Either
 * client may be gone when the answer is ready; the id then finds nobody
 * and the answer is dropped.
 *
 * With several fronts (issue 17) every front is asked and the front's
 * counters are their sum; a front that is missing is listed like any
 * process, and the sum is then of the others.  A restarted front counts
 * from zero again, so after a restart the sums can go down.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "proto.h"
#include "smtpcertd.h"
#include "stats.h"
#include "stats_prom.h"

/* Requests waiting at once; each costs one timer and ~1 KB. */
#define STATS_MAX_PENDING	32

struct stats_req {
	TAILQ_ENTRY(stats_req)	 entry;
	uint64_t		 id;		/* towards the children */
	stats_answer_cb		 answer;	/* the asker's */
	uint64_t		 askid;		/* the control or HTTP client */
	unsigned		 waiting;	/* 1 << slot (proto.h) */
	unsigned		 have;		/* 1 << proc: counters in */
	const char		*missing[SLOT_MAX]; /* why not (static) */
	uint64_t		 values[STAT_MAX];
	struct event		*timer;
};

static TAILQ_HEAD(, stats_req) stats_reqs =
    TAILQ_HEAD_INITIALIZER(stats_reqs);
static int		 stats_npending;
static uint64_t		 stats_next_id;

static void	stats_finish(struct stats_req *);
static void	stats_timeout(evutil_socket_t, short, void *);

/* The children asked, in the order their missing rows are listed. */
static const enum smtpcertd_proc stats_children[] = {
	PROC_FRONT, PROC_LDAPD, PROC_CRLD
};

void
stats_parent_request(stats_answer_cb answer, uint64_t askid)
{
	struct stats_req	*q;
	struct child		*c;
	struct timeval		 tv = { STATS_TIMEOUT, 0 };
	size_t			 i;
	int			 id, s;

	if (stats_npending >= STATS_MAX_PENDING) {
		answer(askid, NULL, "too many show stats requests at once, "
		    "try again");
		return;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		log_warn("show stats");
		answer(askid, NULL, "out of memory");
		return;
	}
	q->id = ++stats_next_id;
	q->answer = answer;
	q->askid = askid;
	for (id = 0; id < STAT_MAX; id++)
		if (stats_owner(id) == PROC_PARENT)
			q->values[id] = stats_value(id);
	q->have = 1U << PROC_PARENT;
	for (s = 0; s < SLOT_MAX; s++) {
		c = &parent->children[s];
		for (i = 0; i < sizeof(stats_children) /
		    sizeof(stats_children[0]); i++)
			if (stats_children[i] == c->proc)
				break;
		if (i == sizeof(stats_children) / sizeof(stats_children[0]) ||
		    (c->proc == PROC_FRONT && c->front >= parent->nfronts))
			continue;
		/* Not before IMSG_CHILD_READY: a child still reading its
		 * first configuration takes no other message. */
		if (!c->up || !c->ready)
			q->missing[s] = c->pid != 0 ? "starting" :
			    "not running";
		else if (imsgev_compose(&c->iev, IMSG_STATS_REQ, 0, q->id, -1,
		    NULL, 0) == -1)
			q->missing[s] = "cannot be reached";
		else
			q->waiting |= 1U << s;
	}
	TAILQ_INSERT_TAIL(&stats_reqs, q, entry);
	stats_npending++;
	if (q->waiting == 0) {
		stats_finish(q);
		return;
	}
	if ((q->timer = evtimer_new(parent->base, stats_timeout, q)) == NULL)
		fatal("evtimer_new");
	evtimer_add(q->timer, &tv);
}

/* The processes whose counters an answer holds, or misses. */
static const enum smtpcertd_proc stats_procs[] = {
	PROC_PARENT, PROC_FRONT, PROC_LDAPD, PROC_CRLD
};
#define STATS_NPROCS	(sizeof(stats_procs) / sizeof(stats_procs[0]))

/* The rows in the table's order, the processes and whether each
 * answered, the times and who is missing: to the asker. */
static void
stats_finish(struct stats_req *q)
{
	struct stats_prom_row	 rows[STAT_MAX];
	struct stats_prom_proc	 procs[STATS_NPROCS];
	struct stats_prom	 s;
	struct stats_answer	 a;
	size_t			 i;
	int			 id;

	memset(&s, 0, sizeof(s));
	for (id = 0; id < STAT_MAX; id++) {
		if (!(q->have & (1U << stats_owner(id))))
			continue;
		rows[s.nrows].name = stats_name(id);
		rows[s.nrows++].value = q->values[id];
	}
	for (i = 0; i < STATS_NPROCS; i++) {
		procs[i].name = proc_name(stats_procs[i]);
		procs[i].present = (q->have & (1U << stats_procs[i])) != 0;
	}
	s.rows = rows;
	s.procs = procs;
	s.nprocs = STATS_NPROCS;
	s.started = parent->started;
	s.now = time(NULL);
	a.prom = &s;
	a.missing = q->missing;
	q->answer(q->askid, &a, NULL);
	if (q->timer != NULL)
		event_free(q->timer);
	TAILQ_REMOVE(&stats_reqs, q, entry);
	stats_npending--;
	free(q);
}

static void
stats_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct stats_req	*q = arg;
	int			 p;

	for (p = 0; p < SLOT_MAX; p++)
		if (q->waiting & (1U << p)) {
			q->missing[p] = "no answer in time";
			log_warnx("show stats: no answer from %s within %d "
			    "seconds", proc_name(p), STATS_TIMEOUT);
		}
	q->waiting = 0;
	stats_finish(q);
}

/* IMSG_STATS from a child; -1 if malformed. */
int
stats_parent_child_imsg(struct child *c, struct imsg *imsg)
{
	struct stats_req	*q;
	struct msgreader	 r;
	uint64_t		 values[STAT_MAX];
	unsigned		 bit = 1U << c->slot;
	int			 id;

	memset(values, 0, sizeof(values));
	msg_reader(&r, imsg);
	if (stats_get(&r, c->proc, values) == -1)
		return -1;
	TAILQ_FOREACH(q, &stats_reqs, entry)
		if (q->id == imsg->hdr.reqid)
			break;
	/* Late (the request timed out), or from a child restarted since
	 * it was asked: nobody waits for it. */
	if (q == NULL || !(q->waiting & bit))
		return 0;
	/* The fronts' counters add up; the others have one process. */
	for (id = 0; id < STAT_MAX; id++)
		if (stats_owner(id) == c->proc)
			q->values[id] += values[id];
	q->waiting &= ~bit;
	q->have |= 1U << c->proc;
	if (q->waiting == 0)
		stats_finish(q);
	return 0;
}

/* A child's channel is gone: do not wait for it. */
void
stats_parent_child_down(struct child *c)
{
	struct stats_req	*q, *next;
	unsigned		 bit = 1U << c->slot;

	for (q = TAILQ_FIRST(&stats_reqs); q != NULL; q = next) {
		next = TAILQ_NEXT(q, entry);
		if (!(q->waiting & bit))
			continue;
		q->waiting &= ~bit;
		q->missing[c->slot] = "exited before answering";
		if (q->waiting == 0)
			stats_finish(q);
	}
}
