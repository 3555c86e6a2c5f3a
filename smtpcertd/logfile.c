/*
 * `log file PATH': the root parent owns the file.  Children are not
 * trusted with it (they run unprivileged, chrooted and sandboxed): each
 * child's stderr is the write end of a pipe of its own, and the parent
 * copies whole lines from the read ends into the file next to its own
 * lines.  One pipe per child, not one shared, so that
 *  - the parent knows who wrote a line: one that does not start with the
 *    child's own name and pid (a library writing to stderr, a sanitizer
 *    report, or a compromised front pretending to be the parent) is
 *    written under the child's name, marked "stderr:";
 *  - a partial line from one child never runs into another's.
 * The write ends are non-blocking: a child never waits on a full pipe
 * (its event loop must go on), it drops the line and says how many it
 * dropped with its next line (log.c).  The parent reads a bounded amount
 * per event, so children that log a lot cannot starve it.
 *
 * The file is reopened at every reload and SIGHUP (logrotate); when
 * missing it is made 0640, group adm where that group exists (Debian's
 * group for reading logs).  With -d nothing of this is used: every line
 * goes to stderr.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "config.h"
#include "log.h"
#include "smtpcertd.h"

/* Room for a burst while the parent is busy (a reload resolving names):
 * thousands of lines.  The kernel allocates pipe pages as they fill. */
#define LOGFILE_PIPE_SIZE	(1024 * 1024)
/* At most this much read per event and child, then back to the loop. */
#define LOGFILE_READ_MAX	(256 * 1024)

struct lfchild {
	int		 fd;		/* read end, -1: none */
	enum smtpcertd_proc proc;	/* whose name the lines carry */
	pid_t		 pid;
	struct event	*ev;
	size_t		 len;
	char		 buf[PIPE_BUF];	/* a line being assembled */
};

static int		 lf_fd = -1;		/* the file */
/* By the child's slot (smtpcertd.h): several fronts each have a pipe. */
static struct lfchild	 lf_child[SLOT_MAX];
static int		 lf_inited;

static void	logfile_read(int, short, void *);
static void	logfile_drain(int, size_t);
static void	logfile_close_child(int);

static void
logfile_init(void)
{
	int	 i;

	if (lf_inited)
		return;
	for (i = 0; i < SLOT_MAX; i++)
		lf_child[i].fd = -1;
	lf_inited = 1;
}

/* "2026-12-06T16:12:38.123Z": the shape of log.c's stamps. */
static int
logfile_stamp_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len < 25 || s[4] != '-' || s[10] != 'T' || s[19] != '.' ||
	    s[23] != 'Z' || s[24] != ' ')
		return 0;
	for (i = 0; i < 23; i++)
		if (strchr("0123456789-T:.", s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

/*
 * One line of child p (without its newline, at most PIPE_BUF bytes):
 * bytes from a child are text for the file, control bytes become '?';
 * the line must be the child's own, else it is written as its stderr.
 * Without a file (`log file' taken out by a reload, the child not yet
 * restarted) it goes to syslog.
 */
static void
logfile_line(int slot, char *line, size_t len)
{
	struct lfchild	*c = &lf_child[slot];
	char		 out[PIPE_BUF + 128], who[64], stamp[32];
	size_t		 i, wlen;
	int		 n, own;

	while (len > 0 && line[len - 1] == '\n')
		len--;
	for (i = 0; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f)
			line[i] = '?';
	n = snprintf(who, sizeof(who), "%s[%ld]: ", proc_name(c->proc),
	    (long)c->pid);
	wlen = n > 0 && (size_t)n < sizeof(who) ? (size_t)n : 0;
	own = wlen > 0 && logfile_stamp_ok(line, len) &&
	    len - 25 >= wlen && memcmp(line + 25, who, wlen) == 0;
	if (lf_fd == -1) {
		if (own)
			syslog(LOG_NOTICE, "%.*s", (int)(len - 25), line + 25);
		else
			syslog(LOG_NOTICE, "%sstderr: %.*s", who, (int)len,
			    line);
		return;
	}
	if (own)
		n = snprintf(out, sizeof(out), "%.*s\n", (int)len, line);
	else {
		log_stamp(stamp, sizeof(stamp));	/* a line without one */
		n = snprintf(out, sizeof(out), "%s %sstderr: %.*s\n", stamp,
		    who, (int)len, line);
	}
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(out)) {
		n = sizeof(out);
		out[n - 1] = '\n';
	}
	if (write(lf_fd, out, n) == -1) {
		/* Nowhere else to say it. */
	}
}

/* Split what child p wrote into lines; a line longer than the buffer
 * is cut into whole lines. */
static void
logfile_feed(int slot, const char *data, size_t len)
{
	struct lfchild	*c = &lf_child[slot];
	const char	*nl;
	size_t		 take, k;

	while (len > 0) {
		nl = memchr(data, '\n', len);
		take = nl != NULL ? (size_t)(nl - data) + 1 : len;
		while (take > 0) {
			k = sizeof(c->buf) - c->len;
			if (k > take)
				k = take;
			memcpy(c->buf + c->len, data, k);
			c->len += k;
			data += k;
			len -= k;
			take -= k;
			if (c->len == sizeof(c->buf) ||
			    c->buf[c->len - 1] == '\n') {
				logfile_line(slot, c->buf, c->len);
				c->len = 0;
			}
		}
	}
}

/* Read up to max bytes of child p; at EOF (the child is gone) close. */
static void
logfile_drain(int slot, size_t max)
{
	struct lfchild	*c = &lf_child[slot];
	char		 chunk[16384];
	size_t		 done = 0;
	ssize_t		 n;

	while (c->fd != -1 && done < max) {
		n = read(c->fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			logfile_close_child(slot);
			return;
		}
		logfile_feed(slot, chunk, n);
		done += n;
	}
}

static void
logfile_read(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	logfile_drain((int)(intptr_t)arg, LOGFILE_READ_MAX);
}

static void
logfile_close_child(int slot)
{
	struct lfchild	*c = &lf_child[slot];

	if (c->fd == -1)
		return;
	if (c->len > 0)
		logfile_line(slot, c->buf, c->len);
	c->len = 0;
	if (c->ev != NULL)
		event_free(c->ev);
	c->ev = NULL;
	close(c->fd);
	c->fd = -1;
	c->pid = 0;
}

/*
 * Before forking child c: with a file, a new pipe for its stderr.  The
 * write end for the child, or -1 (no file, or no pipe: the child logs
 * to syslog as without `log file').  What a previous child in the same
 * slot left in its pipe goes to the file first.  By slot, not by kind:
 * each of several fronts has its own pipe.
 */
int
logfile_child_pipe(const struct child *ch)
{
	struct lfchild	*c;
	int		 fds[2], slot = ch->slot;
	enum smtpcertd_proc p = ch->proc;

	logfile_init();
	c = &lf_child[slot];
	if (c->fd != -1)
		/* The old child is dead (reaped): this ends at its EOF. */
		logfile_drain(slot, 16 * LOGFILE_READ_MAX);
	logfile_close_child(slot);
	if (lf_fd == -1)
		return -1;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("log file: pipe for %s", proc_name(p));
		return -1;
	}
	if (fcntl(fds[1], F_SETPIPE_SZ, LOGFILE_PIPE_SIZE) == -1)
		log_debug("log file: F_SETPIPE_SZ: %s", strerror(errno));
	if ((c->ev = event_new(parent->base, fds[0], EV_READ | EV_PERSIST,
	    logfile_read, (void *)(intptr_t)slot)) == NULL ||
	    event_add(c->ev, NULL) == -1)
		fatalx("log file: event for %s", proc_name(p));
	c->fd = fds[0];
	c->proc = p;
	c->len = 0;
	return fds[1];
}

/* At shutdown, the children stopped: their last lines (and a
 * sanitizer's report at exit) into the file before the parent goes. */
void
logfile_shutdown(void)
{
	int	 i;

	logfile_init();
	for (i = 0; i < SLOT_MAX; i++) {
		logfile_drain(i, 16 * LOGFILE_READ_MAX);
		logfile_close_child(i);
	}
}

/* After the fork: whose lines come down the pipe. */
void
logfile_child_started(const struct child *ch, pid_t pid)
{
	int	 slot = ch->slot;

	logfile_init();
	if (lf_child[slot].fd != -1)
		lf_child[slot].pid = pid;
}

/*
 * Its directory, when missing, one level as for the chroot (the rc
 * script's start; systemd makes /var/log/smtpcertd itself): 0750, group
 * adm where it exists.  errno is ENOENT again after, for the caller.
 */
static void
logfile_mkdir(const char *path)
{
	struct group	*gr;
	char		 dir[PATH_MAX], *slash;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL || slash == dir)
		goto out;
	*slash = '\0';
	if (mkdir(dir, 0750) == -1)
		goto out;
	log_info("log file: made directory %s", dir);
	if ((gr = getgrnam("adm")) != NULL && chown(dir, 0, gr->gr_gid) == -1)
		log_warn("log file: chown %s", dir);
out:
	errno = ENOENT;
}

/*
 * Open (making it if missing) the file for appending.  Only a regular
 * file: a FIFO without a reader would block the parent.
 */
static int
logfile_open(const char *path)
{
	struct stat	 st;
	struct group	*gr;
	int		 fd, made = 0;

	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK);
	if (fd == -1 && errno == ENOENT)
		logfile_mkdir(path);
	if (fd == -1 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOCTTY, 0640);
		made = fd != -1;
	}
	if (fd == -1) {
		log_warn("log file %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("log file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (made) {
		/* Not the umask's idea; group adm reads logs on Debian. */
		if (fchmod(fd, 0640) == -1)
			log_warn("log file %s: chmod", path);
		if ((gr = getgrnam("adm")) != NULL &&
		    fchown(fd, -1, gr->gr_gid) == -1)
			log_warn("log file %s: chown", path);
	}
	/* Blocking again: only regular files come here. */
	if (fcntl(fd, F_SETFL, O_APPEND) == -1)
		log_warn("log file %s: fcntl", path);
	return fd;
}

/*
 * At start (the caller exits on failure) and at each reload or SIGHUP:
 * the facility, then the file named now, reopened (logrotate moved the
 * old one away); on failure the old one stays.  Children started from
 * now on log to it; a running child keeps the way it was started with
 * (the file, or syslog) until it restarts.
 */
int
logfile_apply(const struct smtpcertd_conf *conf)
{
	int	 fd;

	logfile_init();
	log_setfacility(conf->log_facility);
	if (parent->foreground)
		return 0;
	if (conf->log_file == NULL) {
		if (lf_fd != -1) {
			log_setfile(-1);
			close(lf_fd);
		}
		lf_fd = -1;
		return 0;
	}
	if ((fd = logfile_open(conf->log_file)) == -1)
		return -1;
	log_setfile(fd);
	if (lf_fd != -1)
		close(lf_fd);
	lf_fd = fd;
	return 0;
}

/* smtpcertd -n: could start open it?  0, or -1 logged. */
int
logfile_check(const struct smtpcertd_conf *conf)
{
	struct stat	 st;
	char		 dir[PATH_MAX], *slash;

	if (conf->log_file == NULL)
		return 0;
	if (stat(conf->log_file, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			log_warnx("log file %s: not a regular file",
			    conf->log_file);
			return -1;
		}
		if (access(conf->log_file, W_OK) == -1) {
			log_warn("log file %s", conf->log_file);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		log_warn("log file %s", conf->log_file);
		return -1;
	}
	if (strlcpy(dir, conf->log_file, sizeof(dir)) >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL) {
		log_warnx("log file %s: bad path", conf->log_file);
		return -1;
	}
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1 && errno == ENOENT &&
	    (slash = strrchr(dir, '/')) != NULL && slash != dir) {
		/* Start makes the directory if the one above exists. */
		*slash = '\0';
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		*slash = '/';
		log_warnx("log file %s cannot be made: no directory %s",
		    conf->log_file, dir);
		return -1;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warnx("log file %s cannot be made: no directory %s",
		    conf->log_file, dir);
		return -1;
	}
	if (access(dir, W_OK) == -1) {
		log_warn("log file %s cannot be made: %s", conf->log_file,
		    dir);
		return -1;
	}
	return 0;
}
