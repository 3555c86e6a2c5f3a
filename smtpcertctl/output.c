/*
 * Text and JSON printers for smtpcertctl.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crl_status.h"
#include "json.h"
#include "log.h"
#include "output.h"
#include "stats_prom.h"
#include "proto.h"

/* common/json.c: the same escaping as the accounting file. */
static void
json_str(const char *s)
{
	json_fputs(stdout, s);
}

static const char *
fmt_age(time_t now, int64_t then, char *buf, size_t len)
{
	long long	 s = (long long)(now - then);

	if (then == 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, (s / 60) % 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, (s / 3600) % 24);
	return buf;
}

/* Column width: the widest of the heading and the values, so that a long
 * process name, state or IPv6 address never pushes the columns apart. */
static int
colw(int w, const char *s)
{
	int	 n = (int)strlen(s);

	return n > w ? n : w;
}

static void
status_procs_text(const struct status *st, time_t now)
{
	char	 pid[STATUS_MAX_ROWS][24], up[STATUS_MAX_ROWS][32];
	char	 rs[STATUS_MAX_ROWS][16];
	int	 i, wn, wp, ws, wu, wr;

	wn = colw(0, "PROCESS"); wp = colw(0, "PID"); ws = colw(0, "STATE");
	wu = colw(0, "UPTIME"); wr = colw(0, "RESTARTS");
	for (i = 0; i < st->nprocs; i++) {
		const struct st_proc	*p = &st->procs[i];

		if (p->pid)
			snprintf(pid[i], sizeof(pid[i]), "%llu",
			    (unsigned long long)p->pid);
		else
			snprintf(pid[i], sizeof(pid[i]), "-");
		if (p->pid)
			fmt_age(now, p->started, up[i], sizeof(up[i]));
		else
			snprintf(up[i], sizeof(up[i]), "-");
		snprintf(rs[i], sizeof(rs[i]), "%u", p->restarts);
		wn = colw(wn, p->name); wp = colw(wp, pid[i]);
		ws = colw(ws, p->state); wu = colw(wu, up[i]);
		wr = colw(wr, rs[i]);
	}
	printf("%-*s %-*s %-*s %-*s %-*s %s\n", wn, "PROCESS", wp, "PID",
	    ws, "STATE", wu, "UPTIME", wr, "RESTARTS", "CONFIG");
	for (i = 0; i < st->nprocs; i++) {
		const struct st_proc	*p = &st->procs[i];

		printf("%-*s %-*s %-*s %-*s %-*s %llu\n", wn, p->name, wp,
		    pid[i], ws, p->state, wu, up[i], wr, rs[i],
		    (unsigned long long)p->gen);
	}
}

static void
status_listeners_text(const struct status *st)
{
	char	 port[12];
	int	 i, wa, wp, wt;

	wa = colw(0, "LISTENER"); wp = colw(0, "PORT");
	wt = colw(0, "PROTOCOL");
	for (i = 0; i < st->nlisteners; i++) {
		snprintf(port, sizeof(port), "%u", st->listeners[i].port);
		wa = colw(wa, st->listeners[i].address);
		wp = colw(wp, port);
		wt = colw(wt, st->listeners[i].proto);
	}
	printf("\n%-*s %-*s %-*s %s\n", wa, "LISTENER", wp, "PORT", wt,
	    "PROTOCOL", "TLS");
	for (i = 0; i < st->nlisteners; i++) {
		const struct st_listener *l = &st->listeners[i];

		snprintf(port, sizeof(port), "%u", l->port);
		printf("%-*s %-*s %-*s %s\n", wa, l->address, wp, port, wt,
		    l->proto, l->tls);
	}
}

static void
status_text(const struct status *st, time_t now)
{
	char	 age[32], names[TRACE_NAMES_MAX];

	printf("smtpcertd %s, pid %llu, up %s\n", st->d.version,
	    (unsigned long long)st->d.pid,
	    fmt_age(now, st->d.started, age, sizeof(age)));
	printf("configuration %s, generation %llu\n", st->d.conffile,
	    (unsigned long long)st->d.gen);
	printf("last reload %s ago: %s\n",
	    fmt_age(now, st->d.last_reload, age, sizeof(age)),
	    st->d.last_reload_result);
	/* Not a line starting with "front": scripts pick the front rows
	 * by their first word. */
	if (st->d.fronts_configured == 0)
		printf("%u front processes (the default: one per CPU, at "
		    "most %d)\n", st->d.fronts, FRONTS_MAX);
	else
		printf("%u front processes (configured)\n", st->d.fronts);
	if (st->d.trace == 0)
		printf("logging brief\n\n");
	else
		printf("logging verbose (trace: %s)\n\n", log_trace_format(
		    st->d.trace, names, sizeof(names)));
	status_procs_text(st, now);
	status_listeners_text(st);
}

static void
status_json(const struct status *st, time_t now)
{
	int	 i, n = 0;

	printf("{\"version\":");
	json_str(st->d.version);
	printf(",\"pid\":%llu,\"started\":%lld,\"uptime\":%lld,"
	    "\"config\":", (unsigned long long)st->d.pid,
	    (long long)st->d.started, (long long)(now - st->d.started));
	json_str(st->d.conffile);
	printf(",\"generation\":%llu,\"last_reload\":%lld,"
	    "\"last_reload_result\":", (unsigned long long)st->d.gen,
	    (long long)st->d.last_reload);
	json_str(st->d.last_reload_result);
	printf(",\"front_processes\":%u,\"front_processes_default\":%s",
	    st->d.fronts, st->d.fronts_configured == 0 ? "true" : "false");
	/* "verbose": some subsystem traced; "trace": which ones. */
	printf(",\"verbose\":%s,\"trace\":[",
	    st->d.trace ? "true" : "false");
	for (i = 0; i < TRACE_MAX; i++)
		if (st->d.trace & TRACE_BIT(i))
			printf("%s\"%s\"", n++ ? "," : "", log_trace_name(i));
	printf("],\"processes\":[");
	for (i = 0; i < st->nprocs; i++) {
		const struct st_proc	*p = &st->procs[i];

		printf("%s{\"name\":", i ? "," : "");
		json_str(p->name);
		printf(",\"pid\":%llu,\"state\":", (unsigned long long)p->pid);
		json_str(p->state);
		printf(",\"started\":%lld,\"restarts\":%u,\"generation\":%llu}",
		    (long long)p->started, p->restarts,
		    (unsigned long long)p->gen);
	}
	printf("],\"listeners\":[");
	for (i = 0; i < st->nlisteners; i++) {
		const struct st_listener *l = &st->listeners[i];

		printf("%s{\"address\":", i ? "," : "");
		json_str(l->address);
		printf(",\"port\":%u,\"protocol\":", l->port);
		json_str(l->proto);
		printf(",\"tls\":");
		json_str(l->tls);
		printf("}");
	}
	printf("]}\n");
}

void
output_status(const struct status *st, int json, time_t now)
{
	if (json)
		status_json(st, now);
	else
		status_text(st, now);
}

static const char *
fmt_utc(int64_t t, char *buf, size_t len)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

/* "in 5h02m", "3m10s ago" */
static const char *
fmt_rel(time_t now, int64_t t, char *buf, size_t len)
{
	char	 age[32];

	if (t == 0)
		snprintf(buf, len, "-");
	else if (t >= now)
		snprintf(buf, len, "in %s", fmt_age(t, now, age,
		    sizeof(age)));
	else
		snprintf(buf, len, "%s ago", fmt_age(now, t, age,
		    sizeof(age)));
	return buf;
}

static void
crl_text(const struct crl_status *rows, size_t n, time_t now)
{
	const struct crl_status	*c;
	char			 a[64], b[64];
	size_t			 i;

	if (n == 0)
		printf("no crl sources configured\n");
	for (i = 0; i < n; i++) {
		c = &rows[i];
		printf("%scrl \"%s\"%s\n", i ? "\n" : "", c->name,
		    c->enabled ? "" : " (disabled)");
		printf("  url          %s\n", c->url);
		if (c->secondary[0] != '\0')
			printf("  secondary    %s\n", c->secondary);
		printf("  last attempt %s (%s) from %s: %s\n",
		    fmt_utc(c->last_attempt, a, sizeof(a)),
		    fmt_rel(now, c->last_attempt, b, sizeof(b)),
		    c->url_used[0] ? c->url_used : "-",
		    c->ok ? "ok" : (c->last_attempt ? "FAILED" : "-"));
		printf("  result       %s\n", c->result);
		if (c->failures)
			printf("  failures     %u in a row\n", c->failures);
		printf("  last success %s\n",
		    fmt_utc(c->last_success, a, sizeof(a)));
		if (c->this_update != 0) {
			printf("  issuer       %s\n", c->issuer);
			printf("  crl number   %s\n",
			    c->number[0] ? c->number : "-");
			printf("  entries      %llu\n",
			    (unsigned long long)c->entries);
			printf("  thisUpdate   %s\n",
			    fmt_utc(c->this_update, a, sizeof(a)));
			printf("  nextUpdate   %s%s\n",
			    fmt_utc(c->next_update, a, sizeof(a)),
			    c->next_update != 0 && c->next_update < now ?
			    " (STALE)" : "");
		} else
			printf("  in use       no CRL\n");
		printf("  next fetch   %s (%s)\n",
		    fmt_utc(c->next_fetch, a, sizeof(a)),
		    fmt_rel(now, c->next_fetch, b, sizeof(b)));
	}
}

static void
crl_json(const struct crl_status *rows, size_t n, time_t now)
{
	const struct crl_status	*c;
	size_t			 i;

	printf("{\"crls\":[");
	for (i = 0; i < n; i++) {
		c = &rows[i];
		printf("%s{\"name\":", i ? "," : "");
		json_str(c->name);
		printf(",\"enabled\":%s,\"url\":", c->enabled ? "true" :
		    "false");
		json_str(c->url);
		printf(",\"secondary\":");
		json_str(c->secondary);
		printf(",\"url_used\":");
		json_str(c->url_used);
		printf(",\"ok\":%s,\"result\":", c->ok ? "true" : "false");
		json_str(c->result);
		printf(",\"failures\":%u,\"last_attempt\":%lld,"
		    "\"last_success\":%lld,\"issuer\":", c->failures,
		    (long long)c->last_attempt, (long long)c->last_success);
		json_str(c->issuer);
		printf(",\"number\":");
		json_str(c->number);
		printf(",\"entries\":%llu,\"this_update\":%lld,"
		    "\"next_update\":%lld,\"stale\":%s,\"next_fetch\":%lld}",
		    (unsigned long long)c->entries, (long long)c->this_update,
		    (long long)c->next_update, c->next_update != 0 &&
		    c->next_update < now ? "true" : "false",
		    (long long)c->next_fetch);
	}
	printf("]}\n");
}

void
output_crl(const struct crl_status *rows, size_t n, int json, time_t now)
{
	if (json)
		crl_json(rows, n, now);
	else
		crl_text(rows, n, now);
}

void
output_result(int ok, const char *msg, int json)
{
	if (json) {
		printf("{\"ok\":%s,\"message\":", ok ? "true" : "false");
		json_str(msg);
		printf("}\n");
	} else if (ok)
		printf("%s\n", msg);
	else
		fprintf(stderr, "smtpcertctl: %s\n", msg);
}

static void
sessions_text(const struct st_session *rows, size_t n, time_t now)
{
	const struct st_session	*r;
	size_t			 i;

	printf("%-12s %-5s %-16s %-24s %-22s %-24s %6s %10s %10s %s\n", "ID",
	    "PROTO", "STATE", "USER", "CLIENT", "BACKEND", "AGE", "IN", "OUT",
	    "FRONT");
	for (i = 0; i < n; i++) {
		r = &rows[i];
		printf("%012llx %-5s %-16s %-24s %-22s %-24s %5llds %10llu "
		    "%10llu %u/%llu\n", (unsigned long long)r->id, r->proto,
		    r->state, r->user[0] ? r->user : "-", r->client,
		    r->backend[0] ? r->backend : "-",
		    (long long)(now - r->started),
		    (unsigned long long)r->bytes_in,
		    (unsigned long long)r->bytes_out, r->front,
		    (unsigned long long)r->pid);
	}
}

static void
sessions_json(const struct st_session *rows, size_t n, time_t now)
{
	const struct st_session	*r;
	size_t			 i;

	printf("{\"sessions\":[");
	for (i = 0; i < n; i++) {
		r = &rows[i];
		printf("%s{\"id\":\"%012llx\",\"protocol\":", i ? "," : "",
		    (unsigned long long)r->id);
		json_str(r->proto);
		printf(",\"state\":");
		json_str(r->state);
		printf(",\"user\":");
		json_str(r->user);
		printf(",\"client\":");
		json_str(r->client);
		printf(",\"backend\":");
		json_str(r->backend);
		printf(",\"started\":%lld,\"age\":%lld,\"bytes_in\":%llu,"
		    "\"bytes_out\":%llu,\"front\":%u,\"pid\":%llu}",
		    (long long)r->started, (long long)(now - r->started),
		    (unsigned long long)r->bytes_in,
		    (unsigned long long)r->bytes_out, r->front,
		    (unsigned long long)r->pid);
	}
	printf("]}\n");
}

void
output_sessions(const struct st_session *rows, size_t n, int json,
    time_t now)
{
	if (json)
		sessions_json(rows, n, now);
	else
		sessions_text(rows, n, now);
}

/*
 * `show stats'.  Text: one "name value" line per counter in the daemon's
 * order, a blank line between subsystems.  JSON: the dotted names nested
 * into objects ({"tls":{"handshakes":{"ok":3}}}), built as a tree first
 * so that the output is valid JSON whatever order the rows came in.
 */
struct stats_node {
	char			*name;		/* one segment */
	int			 leaf;
	uint64_t		 value;
	struct stats_node	*child, *last, *next;
};

static struct stats_node *
stats_node_child(struct stats_node *n, const char *seg, size_t len)
{
	struct stats_node	*c;

	for (c = n->child; c != NULL; c = c->next)
		if (strlen(c->name) == len && strncmp(c->name, seg, len) == 0)
			return c;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->name = strndup(seg, len)) == NULL)
		err(1, NULL);
	if (n->last != NULL)
		n->last->next = c;
	else
		n->child = c;
	n->last = c;
	return c;
}

static void
stats_node_insert(struct stats_node *root, const char *name, uint64_t v)
{
	struct stats_node	*n = root;
	const char		*p = name;
	size_t			 len;

	for (;;) {
		len = strcspn(p, ".");
		if (len == 0 || n->leaf)
			errx(1, "malformed counter name \"%s\" from smtpcertd",
			    name);
		n = stats_node_child(n, p, len);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	if (n->leaf || n->child != NULL)
		errx(1, "counter \"%s\" twice, or also a group, in the reply "
		    "from smtpcertd", name);
	n->leaf = 1;
	n->value = v;
}

static void
stats_node_json(const struct stats_node *n)
{
	const struct stats_node	*c;

	if (n->leaf) {
		printf("%llu", (unsigned long long)n->value);
		return;
	}
	putchar('{');
	for (c = n->child; c != NULL; c = c->next) {
		json_str(c->name);
		putchar(':');
		stats_node_json(c);
		if (c->next != NULL)
			putchar(',');
	}
	putchar('}');
}

static void
stats_node_free(struct stats_node *n)
{
	struct stats_node	*c, *next;

	for (c = n->child; c != NULL; c = next) {
		next = c->next;
		stats_node_free(c);
	}
	free(n->name);
	free(n);
}

/* The Prometheus text format, from the same writer as the daemon's
 * `metrics listen' endpoint. */
static void
stats_prometheus(const struct st_stats *st)
{
	struct stats_prom_row	*rows;
	struct stats_prom_proc	*procs;
	struct stats_prom	 s;
	size_t			 i;

	if ((rows = calloc(st->nrows + 1, sizeof(*rows))) == NULL ||
	    (procs = calloc(st->nasked + 1, sizeof(*procs))) == NULL)
		err(1, NULL);
	for (i = 0; i < st->nrows; i++) {
		rows[i].name = st->rows[i].name;
		rows[i].value = st->rows[i].value;
	}
	for (i = 0; i < st->nasked; i++) {
		procs[i].name = st->asked[i].process;
		procs[i].present = st->asked[i].present;
	}
	memset(&s, 0, sizeof(s));
	s.rows = rows;
	s.nrows = st->nrows;
	s.procs = procs;
	s.nprocs = st->nasked;
	s.started = st->started;
	s.now = st->now;
	if (stats_prom_write(stdout, &s) == -1)
		err(1, "stdout");
	free(rows);
	free(procs);
}

void
output_stats(const struct st_stats *st, enum output_format fmt)
{
	struct stats_node	*root;
	size_t			 i, seg, prevseg = 0;
	char			 age[32], when[64];

	/* Checked in every format: a malformed answer is never printed. */
	if ((root = calloc(1, sizeof(*root))) == NULL)
		err(1, NULL);
	for (i = 0; i < st->nrows; i++)
		stats_node_insert(root, st->rows[i].name, st->rows[i].value);
	if (fmt == OUT_PROMETHEUS) {
		stats_node_free(root);
		stats_prometheus(st);
		return;
	}
	if (fmt == OUT_JSON) {
		printf("{\"started\":%lld,\"uptime\":%lld,\"timestamp\":%lld,"
		    "\"partial\":%s,\"missing\":[", (long long)st->started,
		    (long long)(st->now >= st->started ?
		    st->now - st->started : 0), (long long)st->now,
		    st->nmissing ? "true" : "false");
		for (i = 0; i < st->nmissing; i++) {
			printf("%s{\"process\":", i ? "," : "");
			json_str(st->missing[i].process);
			printf(",\"reason\":");
			json_str(st->missing[i].reason);
			putchar('}');
		}
		printf("],\"counters\":");
		stats_node_json(root);
		printf("}\n");
		stats_node_free(root);
		return;
	}
	stats_node_free(root);
	printf("smtpcertd up %s, counters at %s\n\n",
	    fmt_age(st->now, st->started, age, sizeof(age)),
	    fmt_utc(st->now, when, sizeof(when)));
	for (i = 0; i < st->nmissing; i++)
		printf("partial: no counters from %s (%s)\n",
		    st->missing[i].process, st->missing[i].reason);
	if (st->nmissing)
		putchar('\n');
	for (i = 0; i < st->nrows; i++) {
		seg = strcspn(st->rows[i].name, ".");
		if (i > 0 && (seg != prevseg || strncmp(st->rows[i].name,
		    st->rows[i - 1].name, seg) != 0))
			putchar('\n');
		prevseg = seg;
		printf("%-40s %llu\n", st->rows[i].name,
		    (unsigned long long)st->rows[i].value);
	}
}

static const char *
test_decision_name(uint32_t d)
{
	return d == CTL_TEST_ACCEPTED ? "accepted" : d == CTL_TEST_TEMPFAIL ?
	    "tempfail" : "refused";
}

void
output_test(const struct st_test *t, int json)
{
	size_t	 i;

	if (json) {
		printf("{\"steps\":[");
		for (i = 0; i < t->nsteps; i++) {
			printf("%s{\"step\":", i ? "," : "");
			json_str(t->steps[i].step);
			printf(",\"result\":");
			json_str(t->steps[i].result);
			printf(",\"detail\":");
			json_str(t->steps[i].detail);
			printf("}");
		}
		printf("],\"decision\":");
		json_str(test_decision_name(t->decision));
		printf(",\"user\":");
		if (t->user[0] != '\0')
			json_str(t->user);
		else
			printf("null");
		printf(",\"reason\":");
		json_str(t->reason);
		printf("}\n");
		return;
	}
	for (i = 0; i < t->nsteps; i++)
		printf("%-12s %-9s %s\n", t->steps[i].step,
		    t->steps[i].result, t->steps[i].detail);
	printf("decision: %s%s%s: %s\n", test_decision_name(t->decision),
	    t->user[0] != '\0' ? ", user " : "", t->user, t->reason);
}
