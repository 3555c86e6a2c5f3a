/*
 * Logging shared by every smtpcertd process: syslog (facility mail) or
 * stderr in the foreground.  Each process tags its lines with its name.
 */
#ifndef SMTPCERTD_LOG_H
#define SMTPCERTD_LOG_H

#include <stdarg.h>
#include <stddef.h>

void	log_init(int foreground, int verbose);
void	log_procinit(const char *procname);
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

#endif
