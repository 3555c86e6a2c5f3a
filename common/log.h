/*
 * Logging shared by every smtpcertd process: syslog (facility mail) or
 * stderr in the foreground.  Each process tags its lines with its name.
 */
#ifndef SMTPCERTD_LOG_H
#define SMTPCERTD_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Debug tracing per subsystem, switched at run time (`smtpcertctl log
 * verbose|brief [subsystem ...]`): the parent keeps the mask and sends it
 * to every child, also to one it restarts.  A trace line costs one bit
 * test when its subsystem is off, so trace points may sit on hot paths.
 * Trace lines must never carry a password, an AUTH payload or message
 * text.  New subsystems go at the end (the mask crosses the control
 * socket) and into the name table in log.c.
 */
enum trace_subsys {
	TRACE_PROC,		/* process life, configuration, sandbox */
	TRACE_IMSG,		/* every message between the processes */
	TRACE_CONTROL,		/* requests on the control socket */
	TRACE_SMTP,		/* SMTP gateway commands and replies */
	TRACE_TLS,		/* handshakes, client and server side */
	TRACE_UPSTREAM,		/* the relay's SMTP dialogue */
	TRACE_PROXY,		/* e-mail proxy dialogue and back ends */
	TRACE_LDAP,		/* lookups in ldapd-helper */
	TRACE_CRL,		/* CRL fetches, validation, revocation set */
	TRACE_OCSP,		/* OCSP requests and answers */
	TRACE_ACCEPT,		/* accepted connections, PROXY headers */
	TRACE_MAX
};
#define TRACE_ALL	((1U << TRACE_MAX) - 1)
#define TRACE_BIT(s)	(1U << (s))
/* Longest text log_trace_format() writes: every name, a space each. */
#define TRACE_NAMES_MAX	128

extern uint32_t	log_trace_mask;

/* Set by the parent for the children it starts: `log facility' by name,
 * and "1" with `log file' (log to stderr, the parent's pipe). */
#define LOG_ENV_FACILITY	"SMTPCERTD_LOG_FACILITY"
#define LOG_ENV_STDERR		"SMTPCERTD_LOG_STDERR"

int		 log_facility_lookup(const char *);
const char	*log_facility_name(int);
void		 log_setfacility(int);
void		 log_setfile(int);

#define log_trace(sub, ...) do {					\
	if (log_trace_mask & TRACE_BIT(sub))				\
		log_trace_emit((sub), __VA_ARGS__);			\
} while (0)
#define log_tracing(sub)	((log_trace_mask & TRACE_BIT(sub)) != 0)

void	log_trace_emit(enum trace_subsys, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_trace_setmask(uint32_t);
uint32_t log_trace_getmask(void);
const char *log_trace_name(enum trace_subsys);
/* The subsystem named name, or -1. */
int	log_trace_lookup(const char *name);
/* "all", "none" or the names in table order, space separated. */
const char *log_trace_format(uint32_t mask, char *buf, size_t len);

/* verbose != 0 traces every subsystem (-v); log_getverbose() says
 * whether any is traced; log_debug() is the TRACE_PROC subsystem. */
void	log_init(int foreground, int verbose);
void	log_procinit(const char *procname);
/* Lines on stderr start with the time (the daemon's -d, not -n). */
void	log_timestamps(int on);
void	log_setverbose(int verbose);
int	log_getverbose(void);
const char *log_procname(void);

/* While set, error lines are also appended to buf (for reload replies). */
void	log_capture(char *buf, size_t len);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	logit(int, const char *, ...) __attribute__((format(printf, 2, 3)));
void	vlog(int, const char *, va_list) __attribute__((format(printf, 2, 0)));
void	fatal(const char *, ...) __attribute__((noreturn, format(printf, 1, 2)));
void	fatalx(const char *, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Now as ISO 8601 UTC with milliseconds (the stamp of -d and log file). */
const char	*log_stamp(char *, size_t);

#endif
