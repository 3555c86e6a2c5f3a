/*
 * The parent's side of the e-mail proxy (SPEC 6): accounting records
 * and `smtpcertctl show sessions'.
 *
 * The chrooted front cannot open files, so each accounting record comes
 * here as IMSG_ACCT_RECORD and is appended as one JSON line to the
 * accounting file of the proxy profile it names, in the running
 * configuration.  The file is opened for each record (O_APPEND, one
 * write(2) per line, so concurrent lines never interleave and logrotate
 * needs no signal; a reload that changes the path takes effect at once).
 * Mode 0640: the file holds who logged in from where.
 *
 * `show sessions' is answered by the front: the request goes there with
 * the control client's id as reqid, and each row and the end come back
 * with it and are relayed to that client (gone clients are ignored).
 * `session kill' goes the same way and comes back as OK or FAIL.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "imsg.h"
#include "json.h"
#include "log.h"
#include "proto.h"
#include "smtpcertd.h"

#define ACCT_LINE_MAX	(16 * ACCT_MAX_FIELD)

/* A JSON string (common/json.c: invalid UTF-8 as \ufffd), kept clear of
 * the room the line's "}\n" needs; a string cut short is still closed. */
static void
json_str(char *buf, size_t bufsz, size_t *off, const char *s)
{
	if (*off + 2 + 3 > bufsz)
		return;
	*off += json_escape(buf + *off, bufsz - *off - 2, s, strlen(s), NULL);
}

static void
json_kv(char *buf, size_t bufsz, size_t *off, const char *k, const char *v)
{
	int	 n;

	n = snprintf(buf + *off, bufsz - *off, "%s\"%s\":",
	    *off > 1 ? "," : "", k);
	if (n > 0 && (size_t)n < bufsz - *off)
		*off += n;
	json_str(buf, bufsz, off, v);
}

static void
json_num(char *buf, size_t bufsz, size_t *off, const char *k, long long v)
{
	int	 n;

	n = snprintf(buf + *off, bufsz - *off, ",\"%s\":%lld", k, v);
	if (n > 0 && (size_t)n < bufsz - *off)
		*off += n;
}

static void
acct_append(const char *path, const char *line, size_t len)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0640)) == -1) {
		log_warn("accounting file %s", path);
		return;
	}
	if (write(fd, line, len) != (ssize_t)len)
		log_warn("accounting file %s: short write", path);
	close(fd);
}

/* IMSG_ACCT_RECORD from the front; -1 if malformed. */
int
accounting_front_imsg(struct imsg *imsg)
{
	struct msgreader	 r;
	struct proxy_profile	*p;
	char			*f[9], line[ACCT_LINE_MAX], idbuf[32], tbuf[32];
	uint64_t		 id, in, out;
	int64_t			 start, dur;
	size_t			 off = 0;
	struct tm		 tm;
	time_t			 now = time(NULL);
	int			 i, rc = -1;

	memset(f, 0, sizeof(f));
	msg_reader(&r, imsg);
	f[0] = msg_get_str(&r, CONFIG_NAME_MAX);	/* profile */
	f[1] = msg_get_str(&r, 16);			/* event */
	id = msg_get_u64(&r);
	f[2] = msg_get_str(&r, 16);			/* protocol */
	f[3] = msg_get_str(&r, ACCT_MAX_FIELD);		/* user */
	f[4] = msg_get_str(&r, ACCT_MAX_FIELD);		/* client */
	f[5] = msg_get_str(&r, ACCT_MAX_FIELD);		/* back end */
	in = msg_get_u64(&r);
	out = msg_get_u64(&r);
	start = msg_get_i64(&r);
	dur = msg_get_i64(&r);
	f[6] = msg_get_str(&r, ACCT_MAX_FIELD);		/* result */
	f[7] = msg_get_str(&r, ACCT_MAX_FIELD);		/* reason, "" */
	if (msg_end(&r) == -1 || (strcmp(f[1], "start") != 0 &&
	    strcmp(f[1], "stop") != 0 && strcmp(f[1], "failed") != 0))
		goto done;
	rc = 0;
	if (parent->cur == NULL ||
	    (p = config_find_proxy(parent->cur->conf, f[0])) == NULL ||
	    p->accounting_file == NULL)
		goto done;
	gmtime_r(&now, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(idbuf, sizeof(idbuf), "%012llx", (unsigned long long)id);
	line[off++] = '{';
	line[off] = '\0';
	json_kv(line, sizeof(line), &off, "time", tbuf);
	json_kv(line, sizeof(line), &off, "event", f[1]);
	json_kv(line, sizeof(line), &off, "proxy", f[0]);
	json_kv(line, sizeof(line), &off, "session", idbuf);
	json_kv(line, sizeof(line), &off, "protocol", f[2]);
	json_kv(line, sizeof(line), &off, "user", f[3]);
	json_kv(line, sizeof(line), &off, "client", f[4]);
	json_kv(line, sizeof(line), &off, "backend", f[5]);
	json_num(line, sizeof(line), &off, "bytes_in", (long long)in);
	json_num(line, sizeof(line), &off, "bytes_out", (long long)out);
	json_num(line, sizeof(line), &off, "start", (long long)start);
	json_num(line, sizeof(line), &off, "duration", (long long)dur);
	json_kv(line, sizeof(line), &off, "result", f[6]);
	if (f[7][0] != '\0')
		json_kv(line, sizeof(line), &off, "reason", f[7]);
	if (off + 2 >= sizeof(line))
		goto done;
	line[off++] = '}';
	line[off++] = '\n';
	acct_append(p->accounting_file, line, off);
done:
	for (i = 0; i < 9; i++)
		free(f[i]);
	return rc;
}

/*
 * `show sessions' and `session kill' go to every front (issue 17): the
 * rows of all of them, each with the front's number and pid, then one
 * end once every front has ended (or gone); a kill is done if any front
 * had the session.  The fronts get the control client's id as reqid.
 */
struct sess_req {
	TAILQ_ENTRY(sess_req)	 entry;
	uint64_t		 ctlid;
	int			 kill;
	uint32_t		 waiting;	/* 1 << front */
	size_t			 rows;
	int			 killed;	/* a front said OK */
	char			 why[256];	/* the last FAIL */
};
static TAILQ_HEAD(, sess_req) sess_reqs = TAILQ_HEAD_INITIALIZER(sess_reqs);

static void
sess_finish(struct sess_req *q)
{
	if (!q->kill)
		control_send_id(q->ctlid, IMSG_CTL_END, NULL);
	else if (!q->killed)
		control_reply_id(q->ctlid, IMSG_CTL_FAIL, q->why);
	TAILQ_REMOVE(&sess_reqs, q, entry);
	free(q);
}

static void
sess_ask(uint64_t ctlid, int kill, const void *data, size_t len)
{
	struct sess_req	*q;
	struct child	*c;
	int		 k;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal(NULL);
	q->ctlid = ctlid;
	q->kill = kill;
	snprintf(q->why, sizeof(q->why), "the front is not running: no "
	    "session to kill");
	for (k = 0; k < parent->nfronts; k++) {
		c = proc_front(k);
		if (c->up && imsgev_compose(&c->iev, kill ?
		    IMSG_CTL_SESSION_KILL : IMSG_CTL_SHOW_SESSIONS, 0, ctlid,
		    -1, data, len) != -1)
			q->waiting |= 1U << k;
	}
	TAILQ_INSERT_TAIL(&sess_reqs, q, entry);
	if (q->waiting == 0)
		sess_finish(q);
}

/* `show sessions': ask the fronts, or answer "none" at once. */
void
sessions_request(uint64_t ctlid)
{
	sess_ask(ctlid, 0, NULL, 0);
}

/* `session kill': the front that has it closes it and answers. */
void
sessions_kill(uint64_t ctlid, uint64_t session)
{
	sess_ask(ctlid, 1, &session, sizeof(session));
}

static struct sess_req *
sess_find(struct child *c, uint64_t ctlid)
{
	struct sess_req	*q;

	TAILQ_FOREACH(q, &sess_reqs, entry)
		if (q->ctlid == ctlid && (q->waiting & (1U << c->front)))
			return q;
	return NULL;
}

void
sessions_child_down(struct child *c)
{
	struct sess_req	*q, *next;

	for (q = TAILQ_FIRST(&sess_reqs); q != NULL; q = next) {
		next = TAILQ_NEXT(q, entry);
		if (!(q->waiting & (1U << c->front)))
			continue;
		q->waiting &= ~(1U << c->front);
		if (q->waiting == 0)
			sess_finish(q);
	}
}

/* A row or the end from the front, or its answer to `session kill':
 * checked, then relayed; -1 if malformed. */
/* The end or failure of a request a single front answered. */
static int
sessions_front_single(struct imsg *imsg)
{
	struct msgreader	 r;
	char			*text;

	if (imsg->hdr.type == IMSG_CTL_END) {
		if (imsg->datalen != 0)
			return -1;
		control_send_id(imsg->hdr.reqid, IMSG_CTL_END, NULL);
		return 0;
	}
	msg_reader(&r, imsg);
	text = msg_get_str(&r, ACCT_MAX_FIELD);
	if (msg_end(&r) == -1) {
		free(text);
		return -1;
	}
	control_reply_id(imsg->hdr.reqid, imsg->hdr.type, text);
	free(text);
	return 0;
}

int
sessions_front_imsg(struct child *c, struct imsg *imsg)
{
	struct msgreader	 r;
	struct msgbuild		 m;
	struct sess_req		*q;
	char			*f[5];
	uint64_t		 id, in, out;
	int64_t			 start;
	int			 i, rc = 0;

	/* Not a `show sessions' or `session kill' asked of every front:
	 * the end (or failure) of a request one front answers alone, such
	 * as `test certificate' (ctltest.c), relayed to its client as is;
	 * a client that left is no longer found there. */
	q = sess_find(c, imsg->hdr.reqid);
	if (q == NULL && imsg->hdr.type != IMSG_CTL_SESSION)
		return sessions_front_single(imsg);
	if (imsg->hdr.type == IMSG_CTL_END) {
		if (imsg->datalen != 0)
			return -1;
		if (!q->kill) {
			q->waiting &= ~(1U << c->front);
			if (q->waiting == 0)
				sess_finish(q);
		}
		return 0;
	}
	if (imsg->hdr.type == IMSG_CTL_OK || imsg->hdr.type == IMSG_CTL_FAIL) {
		/* A front's answer to `session kill'. */
		msg_reader(&r, imsg);
		f[0] = msg_get_str(&r, ACCT_MAX_FIELD);
		if (msg_end(&r) == -1)
			rc = -1;
		else if (q->kill) {
			if (imsg->hdr.type == IMSG_CTL_OK && !q->killed) {
				q->killed = 1;
				control_reply_id(q->ctlid, IMSG_CTL_OK, f[0]);
			} else if (imsg->hdr.type == IMSG_CTL_FAIL)
				strlcpy(q->why, f[0], sizeof(q->why));
			q->waiting &= ~(1U << c->front);
			if (q->waiting == 0)
				sess_finish(q);
		}
		free(f[0]);
		return rc;
	}
	msg_reader(&r, imsg);
	id = msg_get_u64(&r);
	f[0] = msg_get_str(&r, 16);
	f[1] = msg_get_str(&r, 32);
	f[2] = msg_get_str(&r, ACCT_MAX_FIELD);
	f[3] = msg_get_str(&r, ACCT_MAX_FIELD);
	f[4] = msg_get_str(&r, ACCT_MAX_FIELD);
	start = msg_get_i64(&r);
	in = msg_get_u64(&r);
	out = msg_get_u64(&r);
	if (msg_end(&r) == -1)
		rc = -1;
	else if (q != NULL && !q->kill && q->rows < ACCT_MAX_SESSIONS) {
		/* Bounded as a whole, whatever each front sends. */
		q->rows++;
		msg_init(&m);
		msg_put_u64(&m, id);
		for (i = 0; i < 5; i++)
			msg_put_str(&m, f[i]);
		msg_put_i64(&m, start);
		msg_put_u64(&m, in);
		msg_put_u64(&m, out);
		msg_put_u32(&m, (uint32_t)c->front);
		msg_put_u64(&m, (uint64_t)c->pid);
		control_send_id(imsg->hdr.reqid, IMSG_CTL_SESSION, &m);
		msg_free(&m);
	}
	for (i = 0; i < 5; i++)
		free(f[i]);
	return rc;
}
