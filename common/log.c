/*
 * Logging for all processes.  In the foreground (-d) lines go to stderr,
 * otherwise to syslog (`log facility', mail by default) or, with `log
 * file', to the file: the parent writes its own lines there and the
 * children write theirs to stderr, a pipe the parent drains into the
 * file (smtpcertd/logfile.c).  Children learn both at exec from the
 * environment (LOG_ENV_*), so a change applies when they restart.
 * openlog() is called with LOG_NDELAY so the /dev/log socket is open
 * before a process chroots.
 */
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	 log_foreground = 1;
static int	 log_stamped;	/* -d: ISO 8601 time first */
static int	 log_piped;	/* child with `log file': stderr, stamped */
static int	 log_facility = LOG_MAIL;
static int	 log_fd = -1;	/* parent with `log file' */
static unsigned long long log_dropped;	/* piped: lines lost, pipe full */
uint32_t	 log_trace_mask;
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
	const char	*e;
	int		 fac;

	log_foreground = foreground;
	log_trace_mask = verbose ? TRACE_ALL : 0;
	/* Set by the parent in the children it starts (not with -d). */
	if (!foreground && (e = getenv(LOG_ENV_FACILITY)) != NULL &&
	    (fac = log_facility_lookup(e)) != -1)
		log_facility = fac;
	if (!foreground && (e = getenv(LOG_ENV_STDERR)) != NULL &&
	    strcmp(e, "1") == 0) {
		log_piped = 1;
		log_foreground = 1;
	}
	if (!log_foreground)
		openlog("smtpcertd", LOG_PID | LOG_NDELAY, log_facility);
	tzset();
}

void
log_timestamps(int on)
{
	log_stamped = on || log_piped || log_fd != -1;
}

static const struct {
	const char	*name;
	int		 fac;
} log_facilities[] = {
	{ "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 }, { "mail", LOG_MAIL }, { "user", LOG_USER },
};

int
log_facility_lookup(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (strcmp(log_facilities[i].name, name) == 0)
			return log_facilities[i].fac;
	return -1;
}

const char *
log_facility_name(int fac)
{
	size_t	 i;

	for (i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (log_facilities[i].fac == fac)
			return log_facilities[i].name;
	return "mail";
}

/* The parent, at start and reload: later lines use the new facility. */
void
log_setfacility(int fac)
{
	if (fac == log_facility)
		return;
	log_facility = fac;
	if (!log_foreground && log_fd == -1) {
		closelog();
		openlog("smtpcertd", LOG_PID | LOG_NDELAY, log_facility);
	}
}

/*
 * The parent with `log file': its lines go, stamped, to fd instead of
 * syslog (-1: back to syslog).  The caller owns fd.  Not with -d (the
 * caller's business).
 */
void
log_setfile(int fd)
{
	if (fd != -1 && log_fd == -1)
		closelog();
	else if (fd == -1 && log_fd != -1)
		openlog("smtpcertd", LOG_PID | LOG_NDELAY, log_facility);
	log_fd = fd;
	log_stamped = fd != -1;
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
	log_trace_mask = verbose ? TRACE_ALL : 0;
}

int
log_getverbose(void)
{
	return log_trace_mask != 0;
}

/* Indexed by enum trace_subsys; smtpcertctl and the man pages use these. */
static const char *const trace_names[TRACE_MAX] = {
	[TRACE_PROC] = "proc",
	[TRACE_IMSG] = "imsg",
	[TRACE_CONTROL] = "control",
	[TRACE_SMTP] = "smtp",
	[TRACE_TLS] = "tls",
	[TRACE_UPSTREAM] = "upstream",
	[TRACE_PROXY] = "proxy",
	[TRACE_LDAP] = "ldap",
	[TRACE_CRL] = "crl",
	[TRACE_OCSP] = "ocsp",
	[TRACE_ACCEPT] = "accept",
};

void
log_trace_setmask(uint32_t mask)
{
	log_trace_mask = mask & TRACE_ALL;
}

uint32_t
log_trace_getmask(void)
{
	return log_trace_mask;
}

const char *
log_trace_name(enum trace_subsys sub)
{
	if ((unsigned)sub < TRACE_MAX)
		return trace_names[sub];
	return "unknown";
}

int
log_trace_lookup(const char *name)
{
	int	 i;

	for (i = 0; i < TRACE_MAX; i++)
		if (strcmp(trace_names[i], name) == 0)
			return i;
	return -1;
}

const char *
log_trace_format(uint32_t mask, char *buf, size_t len)
{
	size_t	 off = 0;
	int	 i, n;

	mask &= TRACE_ALL;
	if (len == 0)
		return "";
	buf[0] = '\0';
	if (mask == TRACE_ALL)
		snprintf(buf, len, "all");
	else if (mask == 0)
		snprintf(buf, len, "none");
	else
		for (i = 0; i < TRACE_MAX && off < len; i++) {
			if (!(mask & TRACE_BIT(i)))
				continue;
			n = snprintf(buf + off, len - off, "%s%s",
			    off ? " " : "", trace_names[i]);
			if (n < 0)
				break;
			off += n;
		}
	return buf;
}

void
log_trace_emit(enum trace_subsys sub, const char *fmt, ...)
{
	char	 line[4096];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* "trace NAME:" first, so one subsystem greps out of the rest. */
	logit(LOG_DEBUG, "trace %s: %s", log_trace_name(sub), line);
}

/*
 * "2026-12-06T16:12:38.123Z": ISO 8601 in UTC with milliseconds, for
 * the lines of -d (syslog stamps its own).  UTC, because the sandboxed
 * children cannot read the time zone files and every process must
 * agree; the Z says so.
 */
const char *
log_stamp(char *buf, size_t len)
{
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return buf;
}

/*
 * One line, one write().  A child with `log file' writes to a
 * non-blocking pipe (smtpcertd/logfile.c): when the parent has not kept
 * up and the pipe is full the line is dropped rather than the child's
 * event loop stopped, and the next line that fits first says how many
 * were lost.
 */
static void
log_write(const char *out, size_t n)
{
	char		 note[128], stamp[32];
	int		 fd = log_fd != -1 ? log_fd : STDERR_FILENO, m;

	if (log_piped && log_dropped > 0) {
		m = snprintf(note, sizeof(note), "%s %s[%d]: %llu log line%s "
		    "dropped: the pipe to the log file was full\n",
		    log_stamp(stamp, sizeof(stamp)), log_tag, (int)getpid(),
		    log_dropped, log_dropped == 1 ? "" : "s");
		if (m > 0 && (size_t)m < sizeof(note) &&
		    write(fd, note, m) == m)
			log_dropped = 0;
		else if (errno == EAGAIN) {
			log_dropped++;
			return;
		}
	}
	if (write(fd, out, n) == -1 && log_piped && errno == EAGAIN)
		log_dropped++;
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
	if (log_foreground || log_fd != -1) {
		/* One write per line, at most PIPE_BUF bytes (atomic on a
		 * pipe), so lines of different processes sharing stderr or
		 * the `log file' pipe never interleave. */
		char	 out[PIPE_BUF], stamp[32];
		int	 n;

		n = snprintf(out, sizeof(out), "%s%s%s[%d]: %s\n",
		    log_stamped ? log_stamp(stamp, sizeof(stamp)) : "",
		    log_stamped ? " " : "", log_tag, (int)getpid(), line);
		if (n >= (int)sizeof(out)) {
			/* Cut, but still a whole line. */
			n = sizeof(out);
			out[n - 1] = '\n';
		}
		if (n > 0)
			log_write(out, n);
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

	/* Process-level debugging: the "proc" subsystem. */
	if (!log_tracing(TRACE_PROC))
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
