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
#include <unistd.h>

#include "fronts.h"
#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "proto.h"
#include "smtpcertd.h"

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
	fronts_authfail_down(c);
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
