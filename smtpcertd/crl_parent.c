/*
 * The parent's side of revocation (SPEC 1: the parent holds the current
 * CRL set).  crld sends each new revocation set as a sealed memfd and the
 * status of every source; the parent keeps the newest set and passes a
 * descriptor to the front at once and whenever the front (re)starts, so
 * neither a front nor a crld restart leaves the front without CRLs.
 *
 * `smtpcertctl crl update` is answered only when it is true: crld reports
 * when every requested fetch is over, and if that produced a new set the
 * answer waits until the front has mapped it, so the next handshake after
 * the command returns is checked against the new CRLs.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crl_status.h"
#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "proto.h"
#include "smtpcertd.h"

enum crlp_wait {
	CRLP_WAIT_CRLD,		/* fetches running */
	CRLP_WAIT_FRONT		/* new set on its way to the front */
};

struct crlp_req {
	TAILQ_ENTRY(crlp_req)	 entry;
	uint64_t		 reqid;		/* towards crld */
	uint64_t		 ctlid;		/* control client */
	enum crlp_wait		 wait;
	uint64_t		 need;		/* set serial the front needs */
	int			 ok;
	char			*summary;
};

static struct {
	int			 fd;		/* current set, -1 if none */
	uint64_t		 serial;
	uint64_t		 size;
	uint64_t		 front_loaded;	/* serial every front acked */
	struct crl_status	*rows;
	size_t			 nrows;
	uint64_t		 next_reqid;
	TAILQ_HEAD(, crlp_req)	 reqs;
} crlp = { .fd = -1, .reqs = TAILQ_HEAD_INITIALIZER(crlp.reqs) };

static void
crlp_req_finish(struct crlp_req *q, int ok, const char *text)
{
	control_reply_id(q->ctlid, ok ? IMSG_CTL_OK : IMSG_CTL_FAIL, text);
	TAILQ_REMOVE(&crlp.reqs, q, entry);
	free(q->summary);
	free(q);
}

/* Hand the current set to a front (a duplicate: we keep ours; every
 * front maps the same memfd). */
static void
crlp_send_one(struct child *f)
{
	struct msgbuild	 m;
	int		 fd;

	if (crlp.fd == -1 || !f->up)
		return;
	if ((fd = fcntl(crlp.fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("%s: dup", __func__);
		return;
	}
	msg_init(&m);
	msg_put_u64(&m, crlp.serial);
	msg_put_u64(&m, crlp.size);
	imsgev_send(&f->iev, &m, IMSG_CRL_SET, 0, 0, fd);
	msg_free(&m);
}

static void
crlp_send_front(void)
{
	int	 k;

	for (k = 0; k < parent->nfronts; k++)
		crlp_send_one(proc_front(k));
}

static int
crlp_fronts_up(void)
{
	int	 k;

	for (k = 0; k < parent->nfronts; k++)
		if (proc_front(k)->up)
			return 1;
	return 0;
}

/* The set every running front has: the lowest they acknowledged. */
static uint64_t
crlp_fronts_loaded(void)
{
	struct child	*f;
	uint64_t	 low = UINT64_MAX;
	int		 k;

	for (k = 0; k < parent->nfronts; k++) {
		f = proc_front(k);
		if (f->up && f->crl_loaded < low)
			low = f->crl_loaded;
	}
	return low == UINT64_MAX ? 0 : low;
}

/* A front acknowledged a set: once all have it, answer whoever waited
 * for it. */
static void
crlp_front_loaded(struct child *c, uint64_t serial)
{
	struct crlp_req	*q, *tmp;

	if (serial == 0)
		log_warnx("the front refused revocation set %llu, see its "
		    "log; it keeps the previous one",
		    (unsigned long long)crlp.serial);
	else {
		c->crl_loaded = serial;
		crlp.front_loaded = crlp_fronts_loaded();
		serial = crlp.front_loaded;
	}
	for (q = TAILQ_FIRST(&crlp.reqs); q != NULL; q = tmp) {
		tmp = TAILQ_NEXT(q, entry);
		if (q->wait != CRLP_WAIT_FRONT)
			continue;
		if (serial == 0)
			crlp_req_finish(q, 0, "the front refused the new "
			    "revocation set; see the log");
		else if (serial >= q->need && serial != 0)
			crlp_req_finish(q, q->ok, q->summary);
	}
}

static int
crlp_set(struct imsg *imsg)
{
	struct msgreader	 r;
	uint64_t		 serial, size;
	int			 fd, seals;

	msg_reader(&r, imsg);
	serial = msg_get_u64(&r);
	size = msg_get_u64(&r);
	if (msg_end(&r) == -1 || (fd = imsg_get_fd(imsg)) == -1)
		return -1;
	/* Only a sealed memfd can be shared without the sender changing
	 * it afterwards; the front checks the contents. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals == -1 || (seals & (F_SEAL_WRITE | F_SEAL_SHRINK |
	    F_SEAL_GROW)) != (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)) {
		close(fd);
		return -1;
	}
	if (crlp.fd != -1)
		close(crlp.fd);
	crlp.fd = fd;
	crlp.serial = serial;
	crlp.size = size;
	log_trace(TRACE_CRL, "revocation set %llu (%llu bytes) from crld",
	    (unsigned long long)serial, (unsigned long long)size);
	crlp_send_front();
	return 0;
}

static int
crlp_status(struct imsg *imsg)
{
	struct msgreader	 r;
	struct crl_status	 st, *rows;
	uint32_t		 idx, n;
	size_t			 i;

	msg_reader(&r, imsg);
	idx = msg_get_u32(&r);
	n = msg_get_u32(&r);
	if (n > CRL_MAX_SOURCES || (n > 0 && idx >= n))
		return -1;
	memset(&st, 0, sizeof(st));
	if (n > 0)
		crl_status_get(&r, &st);
	if (msg_end(&r) == -1) {
		crl_status_free(&st);
		return -1;
	}
	if (n != crlp.nrows) {
		for (i = n; i < crlp.nrows; i++)
			crl_status_free(&crlp.rows[i]);
		if (n == 0) {
			free(crlp.rows);
			rows = NULL;
		} else if ((rows = reallocarray(crlp.rows, n,
		    sizeof(*rows))) == NULL)
			fatal(NULL);
		for (i = crlp.nrows; i < n; i++)
			memset(&rows[i], 0, sizeof(rows[i]));
		crlp.rows = rows;
		crlp.nrows = n;
	}
	if (n > 0) {
		crl_status_free(&crlp.rows[idx]);
		crlp.rows[idx] = st;
	}
	return 0;
}

static int
crlp_update_done(struct imsg *imsg)
{
	struct msgreader	 r;
	struct crlp_req		*q;
	uint64_t		 serial;
	uint32_t		 ok;
	char			*summary;

	msg_reader(&r, imsg);
	ok = msg_get_u32(&r);
	serial = msg_get_u64(&r);
	summary = msg_get_str(&r, CRL_MAX_SUMMARY);
	if (msg_end(&r) == -1) {
		free(summary);
		return -1;
	}
	TAILQ_FOREACH(q, &crlp.reqs, entry)
		if (q->reqid == imsg->hdr.reqid &&
		    q->wait == CRLP_WAIT_CRLD)
			break;
	if (q == NULL) {
		/* Its client left, or crld answered twice: ignore. */
		free(summary);
		return 0;
	}
	q->ok = ok != 0;
	q->summary = summary;
	if (serial > crlp.front_loaded && serial <= crlp.serial &&
	    crlp_fronts_up()) {
		q->wait = CRLP_WAIT_FRONT;
		q->need = serial;
		return 0;
	}
	crlp_req_finish(q, q->ok, q->summary);
	return 0;
}

/* Messages from crld; -1: malformed (the caller kills crld). */
int
crl_parent_crld_imsg(struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_CRL_SET:
		return crlp_set(imsg);
	case IMSG_CRL_STATUS:
		return crlp_status(imsg);
	case IMSG_CRL_UPDATE_DONE:
		return crlp_update_done(imsg);
	}
	return -1;
}

/* Messages from the front; -1: malformed. */
int
crl_parent_front_imsg(struct child *c, struct imsg *imsg)
{
	uint64_t	 serial;

	if (imsg->hdr.type != IMSG_CRL_SET_LOADED ||
	    imsg_get_data(imsg, &serial, sizeof(serial)) == -1)
		return -1;
	crlp_front_loaded(c, serial);
	return 0;
}

/* A child was (re)started: a new front needs the set. */
void
crl_parent_child_started(struct child *c)
{
	if (c->proc != PROC_FRONT)
		return;
	c->crl_loaded = 0;
	crlp.front_loaded = 0;
	crlp_send_one(c);
}

/* A child's channel went down. */
void
crl_parent_child_down(struct child *c)
{
	struct crlp_req	*q, *tmp;

	for (q = TAILQ_FIRST(&crlp.reqs); q != NULL; q = tmp) {
		tmp = TAILQ_NEXT(q, entry);
		if (c->proc == PROC_CRLD && q->wait == CRLP_WAIT_CRLD)
			crlp_req_finish(q, 0, "crld exited before the "
			    "update finished; it is being restarted");
		else if (c->proc == PROC_FRONT && q->wait == CRLP_WAIT_FRONT)
			/* The restarted front gets the newest set first
			 * thing; the fetch itself is done. */
			crlp_req_finish(q, q->ok, q->summary);
	}
}

/* `smtpcertctl crl update [name]`; 0 queued, -1 with why. */
int
crl_parent_update(uint64_t ctlid, const char *name, char *why,
    size_t whylen)
{
	struct child	*c = proc_child(PROC_CRLD);
	struct crlp_req	*q;
	struct msgbuild	 m;

	if (*name != '\0' && config_find_crl(parent->cur->conf, name) ==
	    NULL) {
		snprintf(why, whylen, "no crl source \"%s\"", name);
		return -1;
	}
	if (!c->up || !c->ready) {
		snprintf(why, whylen, "crld is not running");
		return -1;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal(NULL);
	q->reqid = ++crlp.next_reqid;
	q->ctlid = ctlid;
	q->wait = CRLP_WAIT_CRLD;
	TAILQ_INSERT_TAIL(&crlp.reqs, q, entry);
	msg_init(&m);
	msg_put_str(&m, name);
	imsgev_send(&c->iev, &m, IMSG_CRL_UPDATE, 0, q->reqid, -1);
	msg_free(&m);
	return 0;
}

/* A control client left: its pending update answers nobody. */
void
crl_parent_ctl_gone(uint64_t ctlid)
{
	struct crlp_req	*q, *tmp;

	for (q = TAILQ_FIRST(&crlp.reqs); q != NULL; q = tmp) {
		tmp = TAILQ_NEXT(q, entry);
		if (q->ctlid != ctlid)
			continue;
		TAILQ_REMOVE(&crlp.reqs, q, entry);
		free(q->summary);
		free(q);
	}
}

/* `smtpcertctl show crl`: one row per source, then END. */
void
crl_parent_show(struct imsgev *iev)
{
	struct msgbuild	 m;
	size_t		 i;

	msg_init(&m);
	for (i = 0; i < crlp.nrows; i++) {
		if (crlp.rows[i].name == NULL)
			continue;
		crl_status_put(&m, &crlp.rows[i]);
		imsgev_send(iev, &m, IMSG_CTL_CRL_ROW, 0, 0, -1);
	}
	msg_free(&m);
	imsgev_compose(iev, IMSG_CTL_END, 0, 0, -1, NULL, 0);
}
