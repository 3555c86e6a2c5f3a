/*
 * Pending requests to a peer (see peerreq.h).  A list per table: requests
 * are few compared with sessions, bounded, and answers usually come back
 * in order.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "childproc.h"
#include "compat.h"
#include "imsg.h"
#include "log.h"
#include "peerreq.h"

struct peerreq {
	TAILQ_ENTRY(peerreq)	 entry;
	uint64_t		 reqid;
	time_t			 deadline;
	const char		*why;	/* on the failing list */
	peerreq_cb		 cb;
	void			*arg;
};

TAILQ_HEAD(peerreq_list, peerreq);

struct peerreq_table {
	struct childproc	*cp;
	int			 proc;
	const char		*what;
	size_t			 max, npending;
	uint64_t		 next_reqid;
	struct peerreq_list	 pending;
	struct peerreq_list	 failing;
	struct event		*timer;		/* deadlines, every second */
	struct event		*failev;	/* answers the failing list */
};

static void
peerreq_fail_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct peerreq_table	*t = arg;
	struct peerreq		*r;
	peerreq_cb		 cb;
	void			*cbarg;
	const char		*why;

	while ((r = TAILQ_FIRST(&t->failing)) != NULL) {
		TAILQ_REMOVE(&t->failing, r, entry);
		cb = r->cb;
		cbarg = r->arg;
		why = r->why;
		free(r);
		cb(cbarg, NULL, why);
	}
}

static void
fail_later(struct peerreq_table *t, struct peerreq *r, const char *why)
{
	struct timeval	 tv = { 0, 0 };

	r->why = why;
	TAILQ_INSERT_TAIL(&t->failing, r, entry);
	event_add(t->failev, &tv);
}

static void
unpend(struct peerreq_table *t, struct peerreq *r)
{
	TAILQ_REMOVE(&t->pending, r, entry);
	if (--t->npending == 0)
		evtimer_del(t->timer);
}

static void
peerreq_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct peerreq_table	*t = arg;
	struct peerreq		*r, *next;
	time_t			 now = time(NULL);

	for (r = TAILQ_FIRST(&t->pending); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->deadline > now)
			continue;
		log_warnx("%s request %llu timed out in the front", t->what,
		    (unsigned long long)r->reqid);
		unpend(t, r);
		fail_later(t, r, "timed out");
	}
}

struct peerreq_table *
peerreq_table_new(struct childproc *cp, int proc, const char *what,
    size_t maxpending)
{
	struct peerreq_table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal(NULL);
	t->cp = cp;
	t->proc = proc;
	t->what = what;
	t->max = maxpending;
	/* A restarted front must not meet answers meant for its
	 * predecessor's ids. */
	arc4random_buf(&t->next_reqid, sizeof(t->next_reqid));
	t->next_reqid = (t->next_reqid & 0xffffffffffffULL) + 1;
	TAILQ_INIT(&t->pending);
	TAILQ_INIT(&t->failing);
	t->timer = event_new(cp->base, -1, EV_PERSIST, peerreq_timer_cb, t);
	t->failev = event_new(cp->base, -1, 0, peerreq_fail_cb, t);
	if (t->timer == NULL || t->failev == NULL)
		fatalx("event_new");
	return t;
}

uint64_t
peerreq_send(struct peerreq_table *t, struct msgbuild *m, uint32_t type,
    int timeout, peerreq_cb cb, void *arg)
{
	struct timeval	 tv = { 1, 0 };
	struct peerreq	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal(NULL);
	r->reqid = t->next_reqid++;
	r->cb = cb;
	r->arg = arg;
	r->deadline = time(NULL) + timeout;
	if (t->npending >= t->max) {
		log_warnx("too many %s requests in flight", t->what);
		fail_later(t, r, "too many requests in flight");
		return r->reqid;
	}
	if (childproc_peer_send(t->cp, t->proc, m, type, 0, r->reqid, -1) ==
	    -1) {
		fail_later(t, r, "unavailable");
		return r->reqid;
	}
	TAILQ_INSERT_TAIL(&t->pending, r, entry);
	if (t->npending++ == 0)
		event_add(t->timer, &tv);
	return r->reqid;
}

void *
peerreq_cancel(struct peerreq_table *t, uint64_t reqid)
{
	struct peerreq	*r;
	void		*arg;

	TAILQ_FOREACH(r, &t->pending, entry)
		if (r->reqid == reqid) {
			unpend(t, r);
			goto found;
		}
	TAILQ_FOREACH(r, &t->failing, entry)
		if (r->reqid == reqid) {
			TAILQ_REMOVE(&t->failing, r, entry);
			goto found;
		}
	return NULL;
found:
	arg = r->arg;
	free(r);
	return arg;
}

void
peerreq_dispatch(struct peerreq_table *t, struct imsg *imsg)
{
	struct peerreq	*r;
	peerreq_cb	 cb;
	void		*arg;

	if (imsg == NULL) {
		if (t->npending)
			log_warnx("%s went away, failing %zu requests",
			    t->what, t->npending);
		while ((r = TAILQ_FIRST(&t->pending)) != NULL) {
			unpend(t, r);
			fail_later(t, r, "unavailable");
		}
		return;
	}
	TAILQ_FOREACH(r, &t->pending, entry)
		if (r->reqid == imsg->hdr.reqid)
			break;
	if (r == NULL)
		return;		/* cancelled, or timed out already */
	unpend(t, r);
	cb = r->cb;
	arg = r->arg;
	free(r);
	cb(arg, imsg, NULL);
}

size_t
peerreq_pending(const struct peerreq_table *t)
{
	return t->npending;
}
