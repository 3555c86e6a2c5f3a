/*
 * The parent's side of the failed-login table across fronts (issue 17):
 * a front that counts a failure tells the parent (IMSG_AUTHFAIL_NOTE),
 * which keeps a copy, for a front it (re)starts (IMSG_AUTHFAIL_TABLE),
 * and passes the note on to every other front.
 *
 * The front that counted it holds its refusal (535, a failed proxy
 * login) until every other front has the failure in its table: each
 * front confirms every note passed on to it (IMSG_AUTHFAIL_SEEN, in the
 * order of its channel), and once all have, the parent answers the
 * sender with IMSG_AUTHFAIL_SEEN.  A client who tries again at once, on
 * any connection and any front, meets the failure.  Delivery alone would
 * not do: a front's event loop may read a client's next command before
 * a message that reached its parent channel first.
 *
 * A front that dies counts as having confirmed (its successor gets the
 * table); one that does not confirm within FRONTS_AF_WAIT seconds is
 * waited for no longer, and that is logged.
 */
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "authfail.h"
#include "fronts.h"
#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "proto.h"
#include "smtpcertd.h"

#define FRONTS_AF_WAIT		1
/* Notes awaiting confirmation; past this, a sender is answered at once
 * (its failure still counts everywhere, a moment later). */
#define FRONTS_AF_PENDING_MAX	4096

struct af_pending {
	TAILQ_ENTRY(af_pending)	 entry;
	struct child		*from;
	time_t			 since;
	/* Front k has it once it confirmed this many notes (0: not
	 * waited for). */
	uint64_t		 need[FRONTS_MAX];
};

static TAILQ_HEAD(, af_pending)	 af_pending = TAILQ_HEAD_INITIALIZER(af_pending);
static size_t			 af_npending;
static struct event		*af_timer;
/* Per front: notes passed on to it, and confirmed by it. */
static uint64_t			 af_sent[FRONTS_MAX], af_seen[FRONTS_MAX];
/* The longest failure window a front has given (authfail.c's expiry). */
static time_t			 af_window;

static void
af_answer(struct child *from)
{
	imsgev_compose(&from->iev, IMSG_AUTHFAIL_SEEN, 0, 0, -1, NULL, 0);
}

/* Answer every sender whose note every front now has, or that waited
 * long enough. */
static void
af_check(void)
{
	struct af_pending	*p, *next;
	time_t			 now = time(NULL);
	int			 k, late;

	for (p = TAILQ_FIRST(&af_pending); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		late = -1;
		for (k = 0; k < parent->nfronts && k < FRONTS_MAX; k++)
			if (p->need[k] > af_seen[k])
				late = k;
		if (late != -1 && now - p->since < FRONTS_AF_WAIT)
			continue;
		if (late != -1)
			log_warnx("front %d did not confirm a failed login "
			    "counted by front %d within %ds: not waiting for "
			    "it", late, p->from->front, FRONTS_AF_WAIT);
		TAILQ_REMOVE(&af_pending, p, entry);
		af_npending--;
		af_answer(p->from);
		free(p);
	}
	if (af_npending > 0 && af_timer != NULL &&
	    !evtimer_pending(af_timer, NULL)) {
		struct timeval	 tv = { FRONTS_AF_WAIT, 0 };

		evtimer_add(af_timer, &tv);
	}
}

static void
af_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	af_check();
}

/* u32 window (seconds), str user ("" none), str address: checked, then
 * to every other front as it came. */
int
fronts_authfail_imsg(struct child *from, struct imsg *imsg)
{
	struct msgreader	 r;
	struct af_pending	*p;
	struct child		*c;
	char			*user, *addr;
	uint32_t		 window;
	int			 k, waiting = 0, rc = 0;

	msg_reader(&r, imsg);
	window = msg_get_u32(&r);
	user = msg_get_str(&r, AUTHFAIL_KEY_MAX);
	addr = msg_get_str(&r, AUTHFAIL_KEY_MAX);
	if (msg_end(&r) == -1 || window == 0 || window > AUTHFAIL_WINDOW_MAX) {
		rc = -1;
		goto out;
	}
	/* The parent's copy, for a front it restarts. */
	if ((time_t)window > af_window)
		af_window = window;
	authfail_record_peer(user[0] != '\0' ? user : NULL, addr, window,
	    time(NULL));
	if (af_npending < FRONTS_AF_PENDING_MAX &&
	    (p = calloc(1, sizeof(*p))) != NULL) {
		p->from = from;
		p->since = time(NULL);
	} else
		p = NULL;
	for (k = 0; k < parent->nfronts && k < FRONTS_MAX; k++) {
		c = proc_front(k);
		if (c == from || !c->up)
			continue;
		if (imsgev_compose(&c->iev, IMSG_AUTHFAIL_NOTE, 0, 0, -1,
		    imsg->data, imsg->datalen) == -1)
			continue;
		af_sent[k]++;
		if (p != NULL) {
			p->need[k] = af_sent[k];
			waiting = 1;
		}
	}
	if (!waiting) {
		free(p);
		af_answer(from);
		goto out;
	}
	if (af_timer == NULL &&
	    (af_timer = evtimer_new(parent->base, af_timer_cb, NULL)) == NULL)
		fatalx("evtimer_new");
	TAILQ_INSERT_TAIL(&af_pending, p, entry);
	af_npending++;
	af_check();
out:
	free(user);
	free(addr);
	return rc;
}

int
fronts_authfail_seen(struct child *c, struct imsg *imsg)
{
	int	 k = c->front;

	if (imsg->datalen != 0 || k < 0 || k >= FRONTS_MAX ||
	    af_seen[k] >= af_sent[k])
		return -1;
	af_seen[k]++;
	af_check();
	return 0;
}

/* Its notes are nobody's to answer now, and the notes passed on to it
 * are in its successor's table (fronts_authfail_table()). */
void
fronts_authfail_down(struct child *c)
{
	struct af_pending	*p, *next;

	if (c->front >= 0 && c->front < FRONTS_MAX)
		af_seen[c->front] = af_sent[c->front];
	for (p = TAILQ_FIRST(&af_pending); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->from == c) {
			TAILQ_REMOVE(&af_pending, p, entry);
			af_npending--;
			free(p);
		}
	}
	af_check();
}

/* The parent's copy of the failed logins, in messages of at most
 * AF_BATCH bytes. */
#define AF_BATCH	(64 * 1024)
struct af_send {
	struct child	*c;
	struct msgbuild	 m;
	size_t		 n;
};

static void
af_send_flush(struct af_send *a)
{
	if (a->m.len == 0)
		return;
	imsgev_send(&a->c->iev, &a->m, IMSG_AUTHFAIL_TABLE, 0, 0, -1);
	msg_reset(&a->m);
}

static void
af_send_one(const char *key, time_t start, int count, void *arg)
{
	struct af_send	*a = arg;

	msg_put_str(&a->m, key);
	msg_put_i64(&a->m, (int64_t)start);
	msg_put_u32(&a->m, (uint32_t)count);
	a->n++;
	if (a->m.len >= AF_BATCH)
		af_send_flush(a);
}

/* A (re)started front counts the failures every front counted before,
 * its own included: a crash or a kill does not lift a lockout. */
void
fronts_authfail_table(struct child *c)
{
	struct af_send	 a;

	if (af_window == 0)
		return;		/* no failure yet */
	a.c = c;
	a.n = 0;
	msg_init(&a.m);
	authfail_foreach(af_window, time(NULL), af_send_one, &a);
	af_send_flush(&a);
	msg_free(&a.m);
	if (a.n > 0)
		log_debug("front %d: %zu failed-login records", c->front, a.n);
}
