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

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* `show sessions': ask the front, or answer "none" at once. */
void
sessions_request(uint64_t ctlid)
{
	struct child	*c = proc_child(PROC_FRONT);

	if (c == NULL || !c->up || imsgev_compose(&c->iev,
	    IMSG_CTL_SHOW_SESSIONS, 0, ctlid, -1, NULL, 0) == -1)
		control_send_id(ctlid, IMSG_CTL_END, NULL);
}

/* `session kill': the front closes the session and answers (below). */
void
sessions_kill(uint64_t ctlid, uint64_t session)
{
	struct child	*c = proc_child(PROC_FRONT);

	if (c == NULL || !c->up || imsgev_compose(&c->iev,
	    IMSG_CTL_SESSION_KILL, 0, ctlid, -1, &session,
	    sizeof(session)) == -1)
		control_reply_id(ctlid, IMSG_CTL_FAIL, "the front is not "
		    "running: no session to kill");
}

/* A row or the end from the front, or its answer to `session kill':
 * checked, then relayed; -1 if malformed. */
int
sessions_front_imsg(struct imsg *imsg)
{
	struct msgreader	 r;
	struct msgbuild		 m;
	char			*f[5];
	uint64_t		 id, in, out;
	int64_t			 start;
	int			 i, rc = 0;

	if (imsg->hdr.type == IMSG_CTL_END) {
		if (imsg->datalen != 0)
			return -1;
		control_send_id(imsg->hdr.reqid, IMSG_CTL_END, NULL);
		return 0;
	}
	if (imsg->hdr.type == IMSG_CTL_OK || imsg->hdr.type == IMSG_CTL_FAIL) {
		/* The front's answer to `session kill'. */
		msg_reader(&r, imsg);
		f[0] = msg_get_str(&r, ACCT_MAX_FIELD);
		if (msg_end(&r) == -1)
			rc = -1;
		else
			control_reply_id(imsg->hdr.reqid, imsg->hdr.type, f[0]);
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
	else {
		msg_init(&m);
		msg_put_u64(&m, id);
		for (i = 0; i < 5; i++)
			msg_put_str(&m, f[i]);
		msg_put_i64(&m, start);
		msg_put_u64(&m, in);
		msg_put_u64(&m, out);
		control_send_id(imsg->hdr.reqid, IMSG_CTL_SESSION, &m);
		msg_free(&m);
	}
	for (i = 0; i < 5; i++)
		free(f[i]);
	return rc;
}
