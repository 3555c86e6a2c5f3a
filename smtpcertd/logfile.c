/*
 * `log file PATH': the root parent owns the file.  Children are not
 * trusted with it (they run unprivileged and chrooted); each logs to its
 * stderr, the write end of one pipe shared by all, and the parent copies
 * whole lines from the read end into the file next to its own.  Each
 * child line is one write() of at most PIPE_BUF bytes (vlog()), so lines
 * never interleave.  The file is reopened at every reload and SIGHUP, for
 * logrotate.  With -d nothing of this is used: every line goes to stderr.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "smtpcertd.h"

/* A burst of child lines must not block the children while the parent
 * is busy. */
#define LOGFILE_PIPE_SIZE	(1024 * 1024)

static int		 lf_fd = -1;		/* the file */
static int		 lf_pipe[2] = { -1, -1 };
static struct event	*lf_ev;
static char		 lf_buf[4 * PIPE_BUF];
static size_t		 lf_len;

static void	logfile_read(int, short, void *);

static int
logfile_pipe(void)
{
	if (lf_pipe[0] != -1)
		return 0;
	if (pipe2(lf_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("log file pipe");
		return -1;
	}
	/* Children must block, not lose lines, when it is full. */
	if (fcntl(lf_pipe[1], F_SETFL, 0) == -1)
		log_warn("log file pipe: F_SETFL");
	if (fcntl(lf_pipe[1], F_SETPIPE_SZ, LOGFILE_PIPE_SIZE) == -1)
		log_warn("log file pipe: F_SETPIPE_SZ");
	if ((lf_ev = event_new(parent->base, lf_pipe[0], EV_READ | EV_PERSIST,
	    logfile_read, NULL)) == NULL || event_add(lf_ev, NULL) == -1)
		fatalx("log file pipe event");
	return 0;
}

/* Bytes of a child are text for the file: control bytes become '?'. */
static void
logfile_put(char *line, size_t len)
{
	size_t	 i;

	for (i = 0; i + 1 < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			line[i] = '?';
		else if (line[i] == 0x7f)
			line[i] = '?';
	if (lf_fd != -1 && write(lf_fd, line, len) == -1) {
		/* nowhere else to say it */
	}
}

static void
logfile_read(int fd, short ev, void *arg)
{
	ssize_t	 n;
	char	*nl, *p;
	size_t	 left;

	(void)ev;
	(void)arg;
	for (;;) {
		n = read(fd, lf_buf + lf_len, sizeof(lf_buf) - lf_len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		lf_len += n;
		p = lf_buf;
		left = lf_len;
		while ((nl = memchr(p, '\n', left)) != NULL) {
			logfile_put(p, nl - p + 1);
			left -= nl - p + 1;
			p = nl + 1;
		}
		if (left == sizeof(lf_buf)) {
			/* No newline in a full buffer: cut it as a line. */
			lf_buf[sizeof(lf_buf) - 1] = '\n';
			logfile_put(lf_buf, sizeof(lf_buf));
			left = 0;
		}
		memmove(lf_buf, p, left);
		lf_len = left;
	}
}

/*
 * At start (fatal on failure) and at each reload or SIGHUP: facility,
 * then open the file named now and switch to it; on failure keep the
 * old one.
 */
int
logfile_apply(const struct smtpcertd_conf *conf)
{
	int	 fd;

	log_setfacility(conf->log_facility);
	if (parent->foreground)
		return 0;
	if (conf->log_file == NULL) {
		log_setfile(-1);
		if (lf_fd != -1)
			close(lf_fd);
		lf_fd = -1;
		return 0;
	}
	if ((fd = open(conf->log_file, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC | O_NOCTTY, 0640)) == -1) {
		log_warn("log file %s", conf->log_file);
		return -1;
	}
	if (logfile_pipe() == -1) {
		close(fd);
		return -1;
	}
	log_setfile(fd);
	if (lf_fd != -1)
		close(lf_fd);
	lf_fd = fd;
	return 0;
}

/* For a child about to exec: the fd its stderr should be, or -1. */
int
logfile_childfd(void)
{
	return lf_fd != -1 ? lf_pipe[1] : -1;
}
