/*
 * Prometheus text exposition of `show stats'; see stats_prom.h.
 *
 * The format (version 0.0.4) wants every sample of a family together,
 * after one `# HELP' and one `# TYPE' line, and no family twice.  The
 * rows come in the daemon's table order, in which a family's members need
 * not be next to each other, so the writer walks the pattern table and
 * prints, for each family, every row that maps to it; the rows no
 * pattern knows follow, one untyped family each.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "stats_prom.h"

struct prom_rule {
	const char	*pattern;	/* '*' matches one name segment */
	const char	*family;
	const char	*label[2];	/* one per '*', in order */
	int		 gauge;
	const char	*help;
};

/* Keep in step with STATS_TABLE (stats.h); t_stats_prom checks that
 * every counter matches a rule and that no family appears twice.  The
 * first matching rule wins: specific names before their patterns. */
static const struct prom_rule prom_rules[] = {
	{ "control.connections", "smtpcertd_control_connections_total",
	    { NULL }, 0, "Control socket clients accepted." },
	{ "control.refused", "smtpcertd_control_refused_total", { NULL }, 0,
	    "Control socket clients refused for their user or their "
	    "number." },
	{ "control.denied", "smtpcertd_control_denied_total", { NULL }, 0,
	    "Changing commands refused to read-only members of the control "
	    "group." },
	{ "connections.too-many", "smtpcertd_connections_refused_total",
	    { NULL }, 0, "Connections closed at once for the max-sessions "
	    "limit." },
	{ "connections.killed", "smtpcertd_sessions_killed_total", { NULL },
	    0, "Sessions closed by smtpcertctl session kill." },
	{ "connections.*", "smtpcertd_connections_total", { "protocol" }, 0,
	    "Connections accepted, by listener protocol." },
	{ "tls.handshakes.ok", "smtpcertd_tls_handshakes_total", { NULL }, 0,
	    "TLS handshakes with clients that succeeded." },
	{ "tls.handshakes.failed.*", "smtpcertd_tls_handshake_failures_total",
	    { "reason" }, 0, "TLS handshakes with clients that failed, by "
	    "reason." },
	{ "tls.resumptions.*", "smtpcertd_tls_resumptions_total",
	    { "result" }, 0, "TLS session resumptions on the listeners: "
	    "accepted, or refused by the certificate's re-check." },
	{ "keys.operations.requested", "smtpcertd_keys_operations_total",
	    { NULL }, 0, "Private-key operations the front asked of the keys "
	    "process." },
	{ "keys.operations.failed", "smtpcertd_keys_operations_failed_total",
	    { NULL }, 0, "Private-key operations that failed." },
	{ "revocation.*.refused", "smtpcertd_revocation_refused_total",
	    { "method" }, 0, "Client certificates refused by the revocation "
	    "check, by method." },
	{ "cert.refused.*", "smtpcertd_certificates_refused_total",
	    { "reason" }, 0, "Client certificates refused by path "
	    "validation, by reason." },
	{ "auth.*.*", "smtpcertd_auth_total", { "method", "result" }, 0,
	    "Authentications, by method and result." },
	{ "relay.messages.*", "smtpcertd_relay_messages_total", { "result" },
	    0, "Messages relayed upstream, by result." },
	{ "relay.upstream.connections",
	    "smtpcertd_relay_upstream_connections_total", { NULL }, 0,
	    "Connections made to the upstream mail server." },
	{ "relay.upstream.failures",
	    "smtpcertd_relay_upstream_failures_total", { NULL }, 0,
	    "Upstream connections lost or never made." },
	{ "proxy.backend.logins", "smtpcertd_proxy_backend_logins_total",
	    { NULL }, 0, "E-mail proxy logins the back end accepted." },
	{ "proxy.backend.failures", "smtpcertd_proxy_backend_failures_total",
	    { NULL }, 0, "E-mail proxy back-end connections or logins that "
	    "failed." },
	{ "ldap.lookups.*", "smtpcertd_ldap_lookups_total", { "query" }, 0,
	    "ldapd-helper lookups, by kind of query." },
	{ "ldap.cache.hits", "smtpcertd_ldap_cache_hits_total", { NULL }, 0,
	    "LDAP lookups answered from ldapd-helper's cache." },
	{ "ldap.cache.misses", "smtpcertd_ldap_cache_misses_total", { NULL },
	    0, "LDAP lookups not in ldapd-helper's cache." },
	{ "ldap.cache.entries", "smtpcertd_ldap_cache_entries", { NULL }, 1,
	    "Answers held in ldapd-helper's cache." },
	{ "ldap.results.*", "smtpcertd_ldap_results_total", { "result" }, 0,
	    "ldapd-helper answers, by result." },
	{ "ldap.server-failures", "smtpcertd_ldap_server_failures_total",
	    { NULL }, 0, "Times a directory server was marked down." },
	{ "crl.sources.configured", "smtpcertd_crl_sources", { NULL }, 1,
	    "CRL sources configured." },
	{ "crl.sources.in-use", "smtpcertd_crl_sources_in_use", { NULL }, 1,
	    "CRL sources with a CRL in use." },
	{ "crl.sources.failing", "smtpcertd_crl_sources_failing", { NULL }, 1,
	    "CRL sources whose last fetch failed." },
	{ "crl.sources.stale", "smtpcertd_crl_sources_stale", { NULL }, 1,
	    "CRL sources whose CRL is past its nextUpdate." },
	{ "crl.entries", "smtpcertd_crl_entries", { NULL }, 1,
	    "Revoked certificates in the CRLs in use." },
	{ "crl.fetches.*", "smtpcertd_crl_fetches_total", { "result" }, 0,
	    "CRL source updates, by result." },
	{ "crl.last-fetch.time", "smtpcertd_crl_last_fetch_timestamp_seconds",
	    { NULL }, 1, "When the latest CRL fetch was attempted, seconds "
	    "since the epoch (0: never)." },
	{ "crl.last-fetch.ok", "smtpcertd_crl_last_fetch_success", { NULL },
	    1, "1 if the latest CRL fetch succeeded, else 0." },
	{ "ocsp.requests", "smtpcertd_ocsp_requests_total", { NULL }, 0,
	    "OCSP requests from the front." },
	{ "ocsp.cache-hits", "smtpcertd_ocsp_cache_hits_total", { NULL }, 0,
	    "OCSP requests answered from crld's cache." },
	{ "ocsp.answers.*", "smtpcertd_ocsp_answers_total", { "status" }, 0,
	    "OCSP answers, by status." },
};
#define NRULES	(sizeof(prom_rules) / sizeof(prom_rules[0]))

/*
 * Label values are `\\', `\"' and `\n' escaped (the format's rules);
 * counter names never hold those, but the rows smtpcertctl prints came
 * over a socket, so nothing is assumed.
 */
int
stats_prom_label_escape(const char *s, char *buf, size_t len)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++) {
		if (n + 3 > len)
			return -1;
		if (*s == '\\' || *s == '"') {
			buf[n++] = '\\';
			buf[n++] = *s;
		} else if (*s == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else
			buf[n++] = *s;
	}
	if (n + 1 > len)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* HELP text: `\\' and `\n' escaped. */
static void
prom_help(FILE *fp, const char *family, const char *help)
{
	fprintf(fp, "# HELP %s ", family);
	for (; *help != '\0'; help++) {
		if (*help == '\\')
			fputs("\\\\", fp);
		else if (*help == '\n')
			fputs("\\n", fp);
		else
			fputc(*help, fp);
	}
	fputc('\n', fp);
}

/*
 * Match name against pattern segment by segment; the segments the '*'s
 * stood for go to caps (pointers into name, with lengths).
 */
static int
prom_match(const char *pattern, const char *name, const char *caps[2],
    size_t caplen[2])
{
	const char	*p = pattern, *n = name;
	size_t		 plen, nlen;
	int		 ncap = 0;

	for (;;) {
		plen = strcspn(p, ".");
		nlen = strcspn(n, ".");
		if (nlen == 0)
			return 0;
		if (plen == 1 && *p == '*') {
			if (ncap == 2)
				return 0;
			caps[ncap] = n;
			caplen[ncap++] = nlen;
		} else if (plen != nlen || strncmp(p, n, nlen) != 0)
			return 0;
		if ((p[plen] == '\0') != (n[nlen] == '\0'))
			return 0;
		if (p[plen] == '\0')
			return 1;
		p += plen + 1;
		n += nlen + 1;
	}
}

/* The metric name for a row no rule knows: [a-zA-Z0-9_] only. */
static int
prom_fallback_name(const char *name, char *family, size_t len)
{
	size_t	 i, n;

	if ((size_t)snprintf(family, len, "smtpcertd_%s", name) >= len)
		return -1;
	n = strlen(family);
	for (i = 0; i < n; i++)
		if (!((family[i] >= 'a' && family[i] <= 'z') ||
		    (family[i] >= 'A' && family[i] <= 'Z') ||
		    (family[i] >= '0' && family[i] <= '9')))
			family[i] = '_';
	return 0;
}

/* The rule a name maps to, or -1; labels built into buf. */
static int
prom_rule_of(const char *name, char *labels, size_t labelslen)
{
	const struct prom_rule	*r;
	const char		*caps[2];
	size_t			 caplen[2], i, off;
	char			 seg[STATS_PROM_LABELS_MAX];
	char			 esc[STATS_PROM_LABELS_MAX];
	int			 k, n;

	for (i = 0; i < NRULES; i++) {
		r = &prom_rules[i];
		if (!prom_match(r->pattern, name, caps, caplen))
			continue;
		labels[0] = '\0';
		off = 0;
		for (k = 0; k < 2 && r->label[k] != NULL; k++) {
			if (caplen[k] >= sizeof(seg))
				return -2;
			memcpy(seg, caps[k], caplen[k]);
			seg[caplen[k]] = '\0';
			if (stats_prom_label_escape(seg, esc, sizeof(esc)) == -1)
				return -2;
			n = snprintf(labels + off, labelslen - off,
			    "%s%s=\"%s\"", k ? "," : "", r->label[k], esc);
			if (n < 0 || (size_t)n >= labelslen - off)
				return -2;
			off += n;
		}
		return (int)i;
	}
	return -1;
}

int
stats_prom_map(const char *name, char *family, size_t familylen,
    char *labels, size_t labelslen, int *gauge)
{
	int	 i;

	*gauge = 0;
	if ((i = prom_rule_of(name, labels, labelslen)) == -2)
		return -1;
	if (i >= 0) {
		if (strlcpy(family, prom_rules[i].family, familylen) >=
		    familylen)
			return -1;
		*gauge = prom_rules[i].gauge;
		return 1;
	}
	labels[0] = '\0';
	return prom_fallback_name(name, family, familylen) == -1 ? -1 : 0;
}

static int
prom_known_family(const char *family)
{
	size_t	 i;

	for (i = 0; i < NRULES; i++)
		if (strcmp(prom_rules[i].family, family) == 0)
			return 1;
	return 0;
}

int
stats_prom_write(FILE *fp, const struct stats_prom *s)
{
	char		 labels[STATS_PROM_LABELS_MAX];
	char		 family[STATS_PROM_NAME_MAX], esc[STATS_PROM_LABELS_MAX];
	unsigned char	*done;
	size_t		 i, j, k;
	int		 header, gauge;

	fprintf(fp, "# HELP smtpcertd_start_time_seconds When the smtpcertd "
	    "parent process started, seconds since the epoch.\n"
	    "# TYPE smtpcertd_start_time_seconds gauge\n"
	    "smtpcertd_start_time_seconds %lld\n",
	    (long long)s->started);
	fprintf(fp, "# HELP smtpcertd_uptime_seconds Seconds since the "
	    "smtpcertd parent process started.\n"
	    "# TYPE smtpcertd_uptime_seconds gauge\n"
	    "smtpcertd_uptime_seconds %lld\n",
	    (long long)(s->now >= s->started ? s->now - s->started : 0));
	/* A sample timestamp is what the format offers, but the textfile
	 * collector refuses files with them: a gauge says it instead. */
	fprintf(fp, "# HELP smtpcertd_stats_timestamp_seconds When smtpcertd "
	    "answered with these counters, seconds since the epoch.\n"
	    "# TYPE smtpcertd_stats_timestamp_seconds gauge\n"
	    "smtpcertd_stats_timestamp_seconds %lld\n", (long long)s->now);
	if (s->nprocs > 0) {
		fprintf(fp, "# HELP smtpcertd_stats_process_up 1 if the "
		    "process answered and its counters are below, 0 if they "
		    "are missing (not running, starting, no answer in "
		    "time).\n"
		    "# TYPE smtpcertd_stats_process_up gauge\n");
		for (i = 0; i < s->nprocs; i++) {
			if (stats_prom_label_escape(s->procs[i].name, esc,
			    sizeof(esc)) == -1)
				continue;
			fprintf(fp, "smtpcertd_stats_process_up{process=\"%s\"}"
			    " %d\n", esc, s->procs[i].present ? 1 : 0);
		}
	}

	if ((done = calloc(s->nrows + 1, 1)) == NULL)
		return -1;
	for (k = 0; k < NRULES; k++) {
		header = 0;
		for (i = 0; i < s->nrows; i++) {
			if (done[i] || prom_rule_of(s->rows[i].name, labels,
			    sizeof(labels)) != (int)k)
				continue;
			done[i] = 1;
			if (!header) {
				prom_help(fp, prom_rules[k].family,
				    prom_rules[k].help);
				fprintf(fp, "# TYPE %s %s\n",
				    prom_rules[k].family,
				    prom_rules[k].gauge ? "gauge" : "counter");
				header = 1;
			}
			fprintf(fp, "%s%s%s%s %llu\n", prom_rules[k].family,
			    labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
			    (unsigned long long)s->rows[i].value);
		}
	}
	/* Rows no rule knows: untyped, one family each, unless the name
	 * would clash with a family already printed (then it is left out
	 * rather than break the exposition). */
	for (i = 0; i < s->nrows; i++) {
		if (done[i])
			continue;
		done[i] = 1;
		if (stats_prom_map(s->rows[i].name, family, sizeof(family),
		    labels, sizeof(labels), &gauge) != 0 ||
		    prom_known_family(family) ||
		    strcmp(family, "smtpcertd_uptime_seconds") == 0 ||
		    strcmp(family, "smtpcertd_start_time_seconds") == 0 ||
		    strcmp(family, "smtpcertd_stats_timestamp_seconds") == 0 ||
		    strcmp(family, "smtpcertd_stats_process_up") == 0)
			continue;
		for (j = 0; j < i; j++) {
			char	 other[STATS_PROM_NAME_MAX];

			if (stats_prom_map(s->rows[j].name, other,
			    sizeof(other), labels, sizeof(labels), &gauge) ==
			    0 && strcmp(other, family) == 0)
				break;
		}
		if (j < i)
			continue;
		prom_help(fp, family, s->rows[i].name);
		fprintf(fp, "# TYPE %s untyped\n%s %llu\n", family, family,
		    (unsigned long long)s->rows[i].value);
	}
	free(done);
	fflush(fp);
	return ferror(fp) ? -1 : 0;
}
