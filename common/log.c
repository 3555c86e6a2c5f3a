/*
 * Logging for all processes.  In the foreground (-d) lines go to stderr,
 * otherwise to syslog with facility LOG_MAIL.  openlog() is called with
 * LOG_NDELAY so the /dev/log socket is open before a process chroots.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	 log_foreground = 1;
static int	 log_verbose;
static char	 log_tag[32] = "smtpcertd";
static char	*log_cap;
static size_t	 log_caplen;

void
log_capture(char *buf, size_t len)
{
	log_cap = buf;
	log_caplen = len;
	if (buf != NULL && len > 0)
		buf[0] = '\0';
}

void
log_init(int foreground, int verbose)
{
	log_foreground = foreground;
	log_verbose = verbose;
	if (!log_foreground)
		openlog("smtpcertd", LOG_PID | LOG_NDELAY, LOG_MAIL);
	tzset();
}

void
log_procinit(const char *procname)
{
	if (procname != NULL)
		snprintf(log_tag, sizeof(log_tag), "%s", procname);
}

const char *
log_procname(void)
{
	return log_tag;
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 line[4096];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_cap != NULL && pri <= LOG_ERR) {
		size_t	 used = strlen(log_cap);

		if (used < log_caplen)
			snprintf(log_cap + used, log_caplen - used, "%s%s",
			    used ? "\n" : "", line);
	}
	if (log_foreground) {
		/* One write per line so lines of different processes
		 * sharing stderr never interleave. */
		char	 out[4200];
		int	 n;

		n = snprintf(out, sizeof(out), "%s[%d]: %s\n", log_tag,
		    (int)getpid(), line);
		if (n > (int)sizeof(out))
			n = sizeof(out);
		if (n > 0 && write(STDERR_FILENO, out, n) == -1) {
			/* nothing sensible to do */
		}
	} else
		syslog(pri, "%s: %s", log_tag, line);
}

void
logit(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

static void
vlog_errno(int pri, int saved_errno, const char *fmt, va_list ap)
{
	char	 buf[3072];

	if (fmt == NULL) {
		logit(pri, "%s", strerror(saved_errno));
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	logit(pri, "%s: %s", buf, strerror(saved_errno));
}

void
log_warn(const char *fmt, ...)
{
	int	 saved_errno = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vlog_errno(LOG_ERR, saved_errno, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int	 saved_errno = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, saved_errno, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
