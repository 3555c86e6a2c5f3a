/*
 * `show stats' in the Prometheus text exposition format, version 0.0.4:
 * what `smtpcertctl show stats --format prometheus' prints (for the
 * node-exporter textfile collector) and what the parent's `metrics
 * listen' endpoint serves, from one writer so the two never differ.
 *
 * The daemon's counters have dotted names (stats.h); here each name maps
 * to a metric family by a fixed table of patterns, so that a counter
 * that is really one of a family ("auth.plain.badcred") becomes one
 * series with labels (smtpcertd_auth_total{method="plain",
 * result="badcred"}).  A name no pattern knows (a newer daemon) is
 * printed as an untyped metric of its own rather than dropped;
 * regress/unit/t_stats_prom.c checks that every counter of the table has
 * a pattern.
 */
#ifndef SMTPCERTD_STATS_PROM_H
#define SMTPCERTD_STATS_PROM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The media type both outputs are: version 0.0.4 of the text format. */
#define STATS_PROM_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* Longest metric name and label set we build, NUL included. */
#define STATS_PROM_NAME_MAX	128
#define STATS_PROM_LABELS_MAX	256

struct stats_prom_row {
	const char	*name;		/* "tls.handshakes.ok" */
	uint64_t	 value;
};

struct stats_prom_proc {
	const char	*name;		/* "front" */
	int		 present;	/* its counters are in the answer */
};

struct stats_prom {
	const struct stats_prom_row	*rows;	/* in the daemon's order */
	size_t				 nrows;
	const struct stats_prom_proc	*procs;
	size_t				 nprocs;
	int64_t				 started;	/* the parent, epoch */
	int64_t				 now;		/* the answer, epoch */
};

/* The whole exposition; 0, or -1 if fp failed. */
int	stats_prom_write(FILE *, const struct stats_prom *);

/*
 * The family of a counter name and its labels as printed between the
 * braces ("" for none): 1 if a pattern matched, 0 for the untyped
 * fallback, -1 if the name cannot be mapped (too long).  *gauge is set
 * for a gauge.  For the printer and the unit test.
 */
int	stats_prom_map(const char *name, char *family, size_t familylen,
	    char *labels, size_t labelslen, int *gauge);

/* Escapes for the text format, into buf; -1 if it does not fit. */
int	stats_prom_label_escape(const char *, char *buf, size_t len);

#endif
