/*
 * The front's side of the gateway-wide failed-login table (issue 17):
 * each failure this front counts goes to the parent, which keeps a copy
 * for the fronts it (re)starts and passes it to the other fronts.
 *
 * A client refused here may try again at once on another connection,
 * which may be another front's.  So a session that counted a failure
 * holds its refusal until the parent answers IMSG_AUTHFAIL_SEEN, which
 * it does once every other front has confirmed (IMSG_AUTHFAIL_SEEN the
 * other way) that the failure is in its table (fronts_authfail.c).
 */
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authfail.h"
#include "childproc.h"
#include "front.h"
#include "imsg.h"
#include "log.h"
#include "proto.h"

struct authfail_wait {
	TAILQ_ENTRY(authfail_wait) entry;
	uint64_t		 seq;	/* notes_sent when it began */
	void			(*cb)(void *);
	void			*arg;
};

static TAILQ_HEAD(, authfail_wait) waits = TAILQ_HEAD_INITIALIZER(waits);
static struct childproc	*af_cp;
/* The parent answers every note, in order, on the one channel. */
static uint64_t		 notes_sent, notes_seen;

/* authfail_record()'s hook: a failure counted here, for the others. */
static void
af_note(const char *user, const char *addr, time_t window)
{
	struct msgbuild	 m;

	msg_init(&m);
	msg_put_u32(&m, (uint32_t)window);
	msg_put_str(&m, user != NULL ? user : "");
	msg_put_str(&m, addr != NULL ? addr : "");
	if (imsgev_send(&af_cp->parent, &m, IMSG_AUTHFAIL_NOTE, 0, 0, -1)
	    == 0)
		notes_sent++;
	msg_free(&m);
}

void
authfail_front_init(struct childproc *cp)
{
	af_cp = cp;
	authfail_note = af_note;
}

struct authfail_wait *
authfail_front_wait(void (*cb)(void *), void *arg)
{
	struct authfail_wait	*w;

	/* Not front_total(): a front may serve its first sessions before
	 * the parent's IMSG_FRONT_COUNTS tell it how many fronts there
	 * are.  With one front the wait is one message to the parent and
	 * back, for a failed login only. */
	if (af_cp == NULL || notes_seen >= notes_sent)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;	/* refuse at once: the lesser evil */
	w->seq = notes_sent;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&waits, w, entry);
	return w;
}

void
authfail_front_cancel(struct authfail_wait *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&waits, w, entry);
	free(w);
}

/* Waits are queued in the order of their notes: run those now seen.
 * A callback may cancel later waits (its session ends), so take one at
 * a time. */
static void
af_seen(void)
{
	struct authfail_wait	*w;
	void			(*cb)(void *);
	void			*arg;

	if (notes_seen >= notes_sent)
		fatalx("IMSG_AUTHFAIL_SEEN from parent without a note");
	notes_seen++;
	while ((w = TAILQ_FIRST(&waits)) != NULL && w->seq <= notes_seen) {
		TAILQ_REMOVE(&waits, w, entry);
		cb = w->cb;
		arg = w->arg;
		free(w);
		cb(arg);
	}
}

/* Another front's failure, passed on by the parent. */
static void
af_peer(struct imsg *imsg)
{
	struct msgreader	 r;
	char			*user, *addr;
	uint32_t		 window;

	msg_reader(&r, imsg);
	window = msg_get_u32(&r);
	user = msg_get_str(&r, AUTHFAIL_KEY_MAX);
	addr = msg_get_str(&r, AUTHFAIL_KEY_MAX);
	if (msg_end(&r) == -1)
		fatalx("malformed IMSG_AUTHFAIL_NOTE from parent");
	authfail_record_peer(user[0] != '\0' ? user : NULL, addr, window,
	    time(NULL));
	free(user);
	free(addr);
	/* It is in this front's table: the sender may refuse its client. */
	imsgev_compose(&af_cp->parent, IMSG_AUTHFAIL_SEEN, 0, 0, -1, NULL, 0);
}

/* The parent's copy of the gateway's failures, for a (re)started front:
 * (str key, i64 start, u32 count)... */
static void
af_table(struct imsg *imsg)
{
	struct msgreader	 r;
	char			*key;
	int64_t			 start;
	uint32_t		 count;
	time_t			 now = time(NULL);

	msg_reader(&r, imsg);
	while (r.left > 0 && !r.err) {
		key = msg_get_str(&r, AUTHFAIL_KEY_MAX - 1);
		start = msg_get_i64(&r);
		count = msg_get_u32(&r);
		if (r.err || count > AUTHFAIL_COUNT_MAX ||
		    authfail_load(key, (time_t)start, (int)count, now) == -1)
			fatalx("malformed IMSG_AUTHFAIL_TABLE from parent");
		free(key);
	}
	if (msg_end(&r) == -1)
		fatalx("malformed IMSG_AUTHFAIL_TABLE from parent");
}

int
authfail_front_parent_imsg(struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_AUTHFAIL_NOTE:
		af_peer(imsg);
		return 1;
	case IMSG_AUTHFAIL_TABLE:
		af_table(imsg);
		return 1;
	case IMSG_AUTHFAIL_SEEN:
		if (imsg->datalen != 0)
			fatalx("malformed IMSG_AUTHFAIL_SEEN from parent");
		af_seen();
		return 1;
	}
	return 0;
}
