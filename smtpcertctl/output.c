/*
 * Text and JSON printers for smtpcertctl.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crl_status.h"
#include "output.h"

static void
json_str(const char *s)
{
	const unsigned char	*p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
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

static void
status_text(const struct status *st, time_t now)
{
	char	 age[32];
	int	 i;

	printf("smtpcertd %s, pid %llu, up %s\n", st->d.version,
	    (unsigned long long)st->d.pid,
	    fmt_age(now, st->d.started, age, sizeof(age)));
	printf("configuration %s, generation %llu\n", st->d.conffile,
	    (unsigned long long)st->d.gen);
	printf("last reload %s ago: %s\n",
	    fmt_age(now, st->d.last_reload, age, sizeof(age)),
	    st->d.last_reload_result);
	printf("logging %s\n\n", st->d.verbose ? "verbose" : "brief");
	printf("%-14s %-8s %-11s %-10s %-9s %s\n", "PROCESS", "PID",
	    "STATE", "UPTIME", "RESTARTS", "CONFIG");
	for (i = 0; i < st->nprocs; i++) {
		const struct st_proc	*p = &st->procs[i];
		char			 pid[24];

		if (p->pid)
			snprintf(pid, sizeof(pid), "%llu",
			    (unsigned long long)p->pid);
		else
			snprintf(pid, sizeof(pid), "-");
		printf("%-14s %-8s %-11s %-10s %-9u %llu\n", p->name, pid,
		    p->state, p->pid ? fmt_age(now, p->started, age,
		    sizeof(age)) : "-", p->restarts,
		    (unsigned long long)p->gen);
	}
	printf("\n%-40s %-6s %-8s %s\n", "LISTENER", "PORT", "PROTOCOL",
	    "TLS");
	for (i = 0; i < st->nlisteners; i++) {
		const struct st_listener *l = &st->listeners[i];

		printf("%-40s %-6u %-8s %s\n", l->address, l->port, l->proto,
		    l->tls);
	}
}

static void
status_json(const struct status *st, time_t now)
{
	int	 i;

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
	printf(",\"verbose\":%s,\"processes\":[",
	    st->d.verbose ? "true" : "false");
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

	printf("%-14s %-5s %-16s %-24s %-22s %-24s %6s %10s %10s\n", "ID",
	    "PROTO", "STATE", "USER", "CLIENT", "BACKEND", "AGE", "IN", "OUT");
	for (i = 0; i < n; i++) {
		r = &rows[i];
		printf("%014llx %-5s %-16s %-24s %-22s %-24s %5llds %10llu "
		    "%10llu\n", (unsigned long long)r->id, r->proto, r->state,
		    r->user[0] ? r->user : "-", r->client,
		    r->backend[0] ? r->backend : "-",
		    (long long)(now - r->started),
		    (unsigned long long)r->bytes_in,
		    (unsigned long long)r->bytes_out);
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
		printf("%s{\"id\":\"%014llx\",\"protocol\":", i ? "," : "",
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
		    "\"bytes_out\":%llu}", (long long)r->started,
		    (long long)(now - r->started),
		    (unsigned long long)r->bytes_in,
		    (unsigned long long)r->bytes_out);
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
