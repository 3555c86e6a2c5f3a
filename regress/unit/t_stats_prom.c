/*
 * Unit tests for common/stats_prom.c: every counter of the table maps to
 * a named family (none is left to the untyped fallback), families are
 * unique and their samples unique, names and label values follow the
 * text format's rules, and the whole exposition of the table is what a
 * strict reading of format 0.0.4 accepts (regress/test_metrics.sh also
 * parses it with the Python client's parser).
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "proto.h"
#include "stats.h"
#include "stats_prom.h"
#include "test.h"

static void	test_every_counter_has_a_family(void);
static void	test_samples_unique(void);
static void	test_families_in_one_block(void);
static void	test_auth_labels(void);
static void	test_label_escape(void);
static void	test_unknown_name_untyped(void);
static void	test_uptime_timestamp_processes(void);

static int
metric_name_ok(const char *n)
{
	const char	*p;

	if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
	    *n == '_' || *n == ':'))
		return 0;
	for (p = n; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == ':'))
			return 0;
	return 1;
}

static size_t
ends_with(const char *s, const char *suffix)
{
	size_t	 a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void
test_every_counter_has_a_family(void)
{
	char	 family[STATS_PROM_NAME_MAX], labels[STATS_PROM_LABELS_MAX];
	int	 i, gauge, r;

	for (i = 0; i < STAT_MAX; i++) {
		r = stats_prom_map(stats_name(i), family, sizeof(family),
		    labels, sizeof(labels), &gauge);
		if (r != 1)
			fprintf(stderr, "  %s: no family\n", stats_name(i));
		CHECK(r == 1);
		CHECK(metric_name_ok(family));
		CHECK(strncmp(family, "smtpcertd_", 10) == 0);
		/* Counters end in _total, gauges never do. */
		CHECK(gauge ? !ends_with(family, "_total") :
		    ends_with(family, "_total"));
	}
}

/* No two counters land on the same family and labels. */
static void
test_samples_unique(void)
{
	char	 fa[STATS_PROM_NAME_MAX], la[STATS_PROM_LABELS_MAX];
	char	 fb[STATS_PROM_NAME_MAX], lb[STATS_PROM_LABELS_MAX];
	int	 i, j, ga, gb;

	for (i = 0; i < STAT_MAX; i++) {
		stats_prom_map(stats_name(i), fa, sizeof(fa), la, sizeof(la),
		    &ga);
		for (j = i + 1; j < STAT_MAX; j++) {
			stats_prom_map(stats_name(j), fb, sizeof(fb), lb,
			    sizeof(lb), &gb);
			CHECK(strcmp(fa, fb) != 0 || strcmp(la, lb) != 0);
			/* One family, one type. */
			CHECK(strcmp(fa, fb) != 0 || ga == gb);
		}
	}
}

static char *
write_table(int64_t started, int64_t now, const struct stats_prom_proc *p,
    size_t np, struct stats_prom_row *extra, size_t nextra)
{
	struct stats_prom_row	 rows[STAT_MAX + 8];
	struct stats_prom	 s;
	char			*buf = NULL;
	size_t			 len = 0, n = 0, i;
	FILE			*fp;

	for (i = 0; i < STAT_MAX; i++) {
		rows[n].name = stats_name(i);
		rows[n++].value = i * 3;
	}
	for (i = 0; i < nextra && n < sizeof(rows) / sizeof(rows[0]); i++)
		rows[n++] = extra[i];
	memset(&s, 0, sizeof(s));
	s.rows = rows;
	s.nrows = n;
	s.procs = p;
	s.nprocs = np;
	s.started = started;
	s.now = now;
	if ((fp = open_memstream(&buf, &len)) == NULL)
		return NULL;
	CHECK(stats_prom_write(fp, &s) == 0);
	fclose(fp);
	return buf;
}

/*
 * Every line is a HELP, a TYPE or a sample; a family's HELP and TYPE
 * come once, before its samples, and all its samples follow them
 * without another family in between; the output ends with a newline.
 */
static void
test_families_in_one_block(void)
{
	char	*out, *line, *save, *copy;
	char	 cur[STATS_PROM_NAME_MAX] = "", seen[256][STATS_PROM_NAME_MAX];
	char	 name[STATS_PROM_NAME_MAX];
	int	 nseen = 0, k, samples = 0, typed = 0;
	size_t	 len;

	out = write_table(1000, 1500, NULL, 0, NULL, 0);
	CHECK(out != NULL);
	if (out == NULL)
		return;
	len = strlen(out);
	CHECK(len > 0 && out[len - 1] == '\n');
	copy = strdup(out);
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			sscanf(line + 7, "%127s", name);
			CHECK(metric_name_ok(name));
			for (k = 0; k < nseen; k++)
				CHECK(strcmp(seen[k], name) != 0);
			if (nseen < 256)
				strlcpy(seen[nseen++], name, sizeof(seen[0]));
			strlcpy(cur, name, sizeof(cur));
			typed = 0;
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char	 type[32];

			CHECK(sscanf(line + 7, "%127s %31s", name, type) == 2);
			CHECK(strcmp(name, cur) == 0);
			CHECK(strcmp(type, "counter") == 0 ||
			    strcmp(type, "gauge") == 0);
			CHECK(!typed);
			typed = 1;
			continue;
		}
		CHECK(line[0] != '#');
		len = strcspn(line, "{ ");
		CHECK(len == strlen(cur) && strncmp(line, cur, len) == 0);
		CHECK(typed);
		/* One space, then an unsigned integer, no timestamp. */
		{
			const char	*v = strrchr(line, ' ');

			CHECK(v != NULL && v[1] != '\0' &&
			    strspn(v + 1, "0123456789") == strlen(v + 1));
		}
		samples++;
	}
	/* Every counter and the four series of the parent itself. */
	CHECK(samples == STAT_MAX + 3);
	CHECK(strstr(out, "smtpcertd_uptime_seconds 500\n") != NULL);
	free(copy);
	free(out);
}

static void
test_auth_labels(void)
{
	char	*out;
	char	 want[256];

	out = write_table(0, 0, NULL, 0, NULL, 0);
	CHECK(out != NULL);
	if (out == NULL)
		return;
	snprintf(want, sizeof(want),
	    "\nsmtpcertd_auth_total{method=\"plain\",result=\"badcred\"} %d\n",
	    (int)stats_auth_id(SAM_PLAIN, SAR_BADCRED) * 3);
	CHECK(strstr(out, want) != NULL);
	snprintf(want, sizeof(want),
	    "\nsmtpcertd_tls_handshake_failures_total{reason=\"no-cert\"} "
	    "%d\n", STAT_TLS_FAIL_NOCERT * 3);
	CHECK(strstr(out, want) != NULL);
	snprintf(want, sizeof(want), "\nsmtpcertd_tls_handshakes_total %d\n",
	    STAT_TLS_OK * 3);
	CHECK(strstr(out, want) != NULL);
	CHECK(strstr(out, "# TYPE smtpcertd_auth_total counter\n") != NULL);
	CHECK(strstr(out, "# TYPE smtpcertd_ldap_cache_entries gauge\n") !=
	    NULL);
	CHECK(strstr(out, "smtpcertd_revocation_refused_total{method=\"crl\"}")
	    != NULL);
	free(out);
}

static void
test_label_escape(void)
{
	char	 buf[64];

	CHECK(stats_prom_label_escape("a\"b\\c\nd", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "a\\\"b\\\\c\\nd") == 0);
	CHECK(stats_prom_label_escape("plain-text", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "plain-text") == 0);
	CHECK(stats_prom_label_escape("\"\"\"\"", buf, 8) == -1);
	CHECK(stats_prom_label_escape("\"\"\"", buf, 8) == 0);
	CHECK(strcmp(buf, "\\\"\\\"\\\"") == 0);
	/* A label value from the wire with a quote stays inside its quotes:
	 * a name pattern's segment becomes the value. */
	{
		char	 fam[STATS_PROM_NAME_MAX], lab[STATS_PROM_LABELS_MAX];
		int	 g;

		CHECK(stats_prom_map("auth.pl\"ain.ok", fam, sizeof(fam), lab,
		    sizeof(lab), &g) == 1);
		CHECK(strcmp(lab, "method=\"pl\\\"ain\",result=\"ok\"") == 0);
	}
}

/* A name no rule knows is printed untyped with a safe name; one that
 * would clash with a family already printed is left out. */
static void
test_unknown_name_untyped(void)
{
	struct stats_prom_row	 extra[] = {
		{ "newer.thing-count", 42 },
		{ "newer.thing.count", 43 },	/* same metric name */
		{ "uptime.seconds", 44 },	/* smtpcertd_uptime_seconds */
	};
	char			*out;

	out = write_table(0, 0, NULL, 0, extra, 3);
	CHECK(out != NULL);
	if (out == NULL)
		return;
	CHECK(strstr(out, "# TYPE smtpcertd_newer_thing_count untyped\n"
	    "smtpcertd_newer_thing_count 42\n") != NULL);
	CHECK(strstr(out, " 43\n") == NULL);
	CHECK(strstr(out, " 44\n") == NULL);
	free(out);
}

static void
test_uptime_timestamp_processes(void)
{
	struct stats_prom_proc	 p[] = {
		{ "parent", 1 }, { "front", 1 }, { "crld", 0 },
	};
	char			*out;

	out = write_table(1700000000, 1700003661, p, 3, NULL, 0);
	CHECK(out != NULL);
	if (out == NULL)
		return;
	CHECK(strstr(out, "\nsmtpcertd_uptime_seconds 3661\n") != NULL);
	CHECK(strstr(out, "\nsmtpcertd_start_time_seconds 1700000000\n") !=
	    NULL);
	CHECK(strstr(out, "\nsmtpcertd_stats_timestamp_seconds 1700003661\n")
	    != NULL);
	CHECK(strstr(out, "\nsmtpcertd_stats_process_up{process=\"front\"} "
	    "1\n") != NULL);
	CHECK(strstr(out, "\nsmtpcertd_stats_process_up{process=\"crld\"} "
	    "0\n") != NULL);
	free(out);
	/* A clock that went back never gives a negative uptime. */
	out = write_table(2000, 1000, NULL, 0, NULL, 0);
	CHECK(out != NULL && strstr(out, "\nsmtpcertd_uptime_seconds 0\n") !=
	    NULL);
	free(out);
}

int
main(void)
{
	RUN(test_every_counter_has_a_family);
	RUN(test_samples_unique);
	RUN(test_families_in_one_block);
	RUN(test_auth_labels);
	RUN(test_label_escape);
	RUN(test_unknown_name_untyped);
	RUN(test_uptime_timestamp_processes);
	TEST_EXIT();
}
