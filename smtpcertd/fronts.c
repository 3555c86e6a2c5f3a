/*
 * The parent's side of several front processes (issue 17; the shared
 * state is described in fronts.h): the session-count memfds, one per
 * front, handed to every front as it starts, and failed logins passed
 * from one front to the others.
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authfail.h"
#include "fronts.h"
#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "proto.h"
#include "smtpcertd.h"

/* The longest failure window a front has given (authfail.c's expiry). */
static time_t	 fronts_af_window;

void
fronts_init(int n)
{
	char	 name[32];
	void	*p;
	int	 k;

	for (k = 0; k < FRONTS_MAX; k++)
		parent->countfd[k] = -1;
	/* One front keeps its counts to itself, as before. */
	if (n <= 1)
		return;
	for (k = 0; k < n; k++) {
		snprintf(name, sizeof(name), "smtpcertd-front-%d", k);
		if ((parent->countfd[k] = memfd_create(name,
		    MFD_CLOEXEC)) == -1)
			fatal("memfd_create");
		if (ftruncate(parent->countfd[k], FRONT_COUNTS_SIZE) == -1)
			fatal("ftruncate");
		if ((p = mmap(NULL, FRONT_COUNTS_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED, parent->countfd[k], 0)) == MAP_FAILED)
			fatal("mmap");
		parent->counts[k] = p;
	}
}

/* A descriptor of front k's counts, read-only unless for front k. */
static int
fronts_counts_fd(int k, int writable)
{
	char	 path[64];

	if (writable)
		return fcntl(parent->countfd[k], F_DUPFD_CLOEXEC, 0);
	/* A new open file description, O_RDONLY: its mapping cannot be
	 * made writable. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", parent->countfd[k]);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Front k's counts and login table back to zero.  Punching the hole
 * frees the pages too (and keeps every mapping valid, unlike a
 * truncation); memset where the kernel cannot. */
static void
fronts_zero(int k)
{
	if (fallocate(parent->countfd[k], FALLOC_FL_PUNCH_HOLE |
	    FALLOC_FL_KEEP_SIZE, 0, FRONT_COUNTS_SIZE) == -1)
		memset(parent->counts[k], 0, FRONT_COUNTS_SIZE);
}

/* A front's channel closed: it is dying, and its sessions with it; the
 * other fronts must not count them until its restart. */
void
fronts_down(struct child *c)
{
	if (parent->nfronts > 1 && parent->counts[c->front] != NULL)
		fronts_zero(c->front);
}

/* The parent's copy of the failed logins, in messages of at most
 * FRONTS_AF_BATCH bytes. */
#define FRONTS_AF_BATCH	(64 * 1024)
struct fronts_af_send {
	struct child	*c;
	struct msgbuild	 m;
	size_t		 n;
};

static void
fronts_af_flush(struct fronts_af_send *a)
{
	if (a->m.len == 0)
		return;
	imsgev_send(&a->c->iev, &a->m, IMSG_AUTHFAIL_TABLE, 0, 0, -1);
	msg_reset(&a->m);
}

static void
fronts_af_one(const char *key, time_t start, int count, void *arg)
{
	struct fronts_af_send	*a = arg;

	msg_put_str(&a->m, key);
	msg_put_i64(&a->m, (int64_t)start);
	msg_put_u32(&a->m, (uint32_t)count);
	a->n++;
	if (a->m.len >= FRONTS_AF_BATCH)
		fronts_af_flush(a);
}

/* A (re)started front counts the failures every front counted before,
 * its own included: a crash or a kill does not lift a lockout. */
static void
fronts_authfail_table(struct child *c)
{
	struct fronts_af_send	 a;

	if (fronts_af_window == 0)
		return;		/* no failure yet */
	a.c = c;
	a.n = 0;
	msg_init(&a.m);
	authfail_foreach(fronts_af_window, time(NULL), fronts_af_one, &a);
	fronts_af_flush(&a);
	msg_free(&a.m);
	if (a.n > 0)
		log_debug("front %d: %zu failed-login records", c->front, a.n);
}

/*
 * The secret every front derives its TLS ticket keys from (tlsresume.c):
 * made once, when the first front starts, and kept only in memory, so a
 * client resumes on whichever front its next connection lands, and on a
 * restarted one.  A restart of the daemon makes a new one.
 */
static unsigned char	 fronts_ticket_seed[32];
static int		 fronts_ticket_seeded;

static void
fronts_ticket_seed_send(struct child *c)
{
	if (!fronts_ticket_seeded) {
		if (getentropy(fronts_ticket_seed,
		    sizeof(fronts_ticket_seed)) == -1)
			fatal("getentropy");
		fronts_ticket_seeded = 1;
	}
	imsgev_compose(&c->iev, IMSG_TICKET_SEED, 0, 0, -1,
	    fronts_ticket_seed, sizeof(fronts_ticket_seed));
}

void
fronts_started(struct child *c)
{
	struct {
		uint32_t	 front, n, writable;
	} h;
	int	 k, fd;

	fronts_ticket_seed_send(c);
	fronts_authfail_table(c);
	if (parent->nfronts <= 1 || parent->counts[c->front] == NULL)
		return;
	/* Its sessions died with it. */
	fronts_zero(c->front);
	for (k = 0; k < parent->nfronts; k++) {
		h.front = k;
		h.n = parent->nfronts;
		h.writable = k == c->front;
		if ((fd = fronts_counts_fd(k, h.writable)) == -1) {
			/* Without the others' counts it would admit too
			 * many: better not run it. */
			log_warn("front %d: session counts of front %d",
			    c->front, k);
			kill(c->pid, SIGKILL);
			return;
		}
		imsgev_compose(&c->iev, IMSG_FRONT_COUNTS, 0, 0, fd, &h,
		    sizeof(h));
	}
}

/* u32 window (seconds), str user ("" none), str address: checked, then
 * to every other front as it came, and IMSG_AUTHFAIL_SEEN to the sender
 * once it is written to them. */
int
fronts_authfail_imsg(struct child *from, struct imsg *imsg)
{
	struct msgreader	 r;
	struct child		*c;
	char			*user, *addr;
	uint32_t		 window;
	int			 k, rc = 0;

	msg_reader(&r, imsg);
	window = msg_get_u32(&r);
	user = msg_get_str(&r, AUTHFAIL_KEY_MAX);
	addr = msg_get_str(&r, AUTHFAIL_KEY_MAX);
	if (msg_end(&r) == -1 || window == 0 || window > AUTHFAIL_WINDOW_MAX)
		rc = -1;
	else {
		/* The parent's copy, for a front it restarts. */
		if ((time_t)window > fronts_af_window)
			fronts_af_window = window;
		authfail_record_peer(user[0] != '\0' ? user : NULL, addr,
		    window, time(NULL));
		for (k = 0; k < parent->nfronts; k++) {
			c = proc_front(k);
			if (c == from || !c->up)
				continue;
			imsgev_compose(&c->iev, IMSG_AUTHFAIL_NOTE, 0, 0, -1,
			    imsg->data, imsg->datalen);
			imsgev_flush(&c->iev);
		}
		/*
		 * The other fronts' sockets hold the failure now: the
		 * sending front may refuse its client, who may reconnect
		 * to any front (authfail_front.c waits for this).
		 */
		imsgev_compose(&from->iev, IMSG_AUTHFAIL_SEEN, 0, 0, -1,
		    NULL, 0);
	}
	free(user);
	free(addr);
	return rc;
}

/* u32 front, u32 0, u64 key: to that front as u64 key, u32 from.  A
 * front down, or one that never had a number here, gets nothing: its
 * sessions are not counted either. */
int
fronts_evict_imsg(struct child *from, struct imsg *imsg)
{
	struct {
		uint32_t	 front, unused;
		uint64_t	 key;
	} req;
	struct {
		uint64_t	 key;
		uint32_t	 from, unused;
	} ev;
	struct child	*c;

	if (imsg_get_data(imsg, &req, sizeof(req)) == -1 ||
	    parent->nfronts <= 1 || req.front >= (uint32_t)parent->nfronts ||
	    req.front == (uint32_t)from->front)
		return -1;
	c = proc_front(req.front);
	if (!c->up)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.key = req.key;
	ev.from = from->front;
	imsgev_compose(&c->iev, IMSG_FRONT_EVICT, 0, 0, -1, &ev, sizeof(ev));
	return 0;
}
