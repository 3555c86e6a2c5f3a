/*
 * Counters for `smtpcertctl show stats'; see stats.h.
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imsg.h"
#include "stats.h"

struct stats_def {
	enum smtpcertd_proc	 owner;
	const char		*name;
};

#define STATS_DEF_ENTRY(id, proc, name)	[id] = { proc, name },
static const struct stats_def stats_defs[STAT_MAX] = {
	STATS_TABLE(STATS_DEF_ENTRY)
};
#undef STATS_DEF_ENTRY

/* The helpers below index into runs of the table: keep them in step. */
_Static_assert(STAT_AUTH_OTHER_TEMPFAIL - STAT_AUTH_CERTIFICATE_OK + 1 ==
    SAM_MAX * SAR_MAX, "auth counters are methods x results");
_Static_assert(STAT_LDAP_RES_TEMPFAIL - STAT_LDAP_RES_OK ==
    LDAP_RES_TEMPFAIL && LDAP_RES_TEMPFAIL + 1 == LDAP_RES_MAX,
    "ldap result counters follow enum ldap_result");
_Static_assert(STAT_OCSP_ERROR - STAT_OCSP_GOOD == OCSP_ST_ERROR &&
    OCSP_ST_ERROR + 1 == OCSP_ST_MAX,
    "ocsp answer counters follow enum ocsp_status");

static uint64_t	 stats_values[STAT_MAX];

static const char *auth_method_names[SAM_MAX] = {
	[SAM_CERTIFICATE] = "certificate",
	[SAM_EXTERNAL] = "external",
	[SAM_PLAIN] = "plain",
	[SAM_LOGIN] = "login",
	[SAM_AAA] = "aaa",
	[SAM_MAILHOST] = "mailhost",
	[SAM_PIGGYBACK] = "piggyback",
	[SAM_OTHER] = "other",
};

void
stats_inc(enum stat_id id)
{
	if ((unsigned)id < STAT_MAX)
		stats_values[id]++;
}

void
stats_add(enum stat_id id, uint64_t n)
{
	if ((unsigned)id < STAT_MAX)
		stats_values[id] += n;
}

void
stats_set(enum stat_id id, uint64_t v)
{
	if ((unsigned)id < STAT_MAX)
		stats_values[id] = v;
}

uint64_t
stats_value(enum stat_id id)
{
	return (unsigned)id < STAT_MAX ? stats_values[id] : 0;
}

const char *
stats_name(enum stat_id id)
{
	return (unsigned)id < STAT_MAX ? stats_defs[id].name : "?";
}

enum smtpcertd_proc
stats_owner(enum stat_id id)
{
	return (unsigned)id < STAT_MAX ? stats_defs[id].owner : PROC_MAX;
}

int
stats_lookup(const char *name)
{
	int	 i;

	/* About a hundred names, looked up only by the parent when a
	 * child answers `show stats': a scan is plenty. */
	for (i = 0; i < STAT_MAX; i++)
		if (strcmp(stats_defs[i].name, name) == 0)
			return i;
	return -1;
}

enum stat_id
stats_auth_id(enum stats_auth_method m, enum stats_auth_result r)
{
	if ((unsigned)m >= SAM_MAX)
		m = SAM_OTHER;
	if ((unsigned)r >= SAR_MAX)
		return STAT_MAX;
	return STAT_AUTH_CERTIFICATE_OK + m * SAR_MAX + r;
}

void
stats_auth(enum stats_auth_method m, enum stats_auth_result r)
{
	stats_inc(stats_auth_id(m, r));
}

enum stats_auth_method
stats_auth_method(const char *name)
{
	int	 i;

	if (name == NULL)
		return SAM_OTHER;
	for (i = 0; i < SAM_MAX; i++)
		if (strcasecmp(auth_method_names[i], name) == 0)
			return i;
	return SAM_OTHER;
}

const char *
stats_auth_method_name(enum stats_auth_method m)
{
	return (unsigned)m < SAM_MAX ? auth_method_names[m] : "other";
}

void
stats_ldap_result(uint32_t r)
{
	if (r < LDAP_RES_MAX)
		stats_inc(STAT_LDAP_RES_OK + r);
}

void
stats_ocsp_status(uint32_t st)
{
	if (st < OCSP_ST_MAX)
		stats_inc(STAT_OCSP_GOOD + st);
}

/*
 * libtls passes OpenSSL's reason strings on ("handshake failed:
 * error:0A0000C7:SSL routines::peer did not return a certificate"), so
 * the reason is read from the text; anything not recognised is a
 * protocol error, which is what it is from our side.
 */
enum stat_id
stats_tls_failure(int timed_out, int peer_left, const char *error)
{
	static const struct {
		const char	*text;
		enum stat_id	 id;
	} reasons[] = {
		{ "peer did not return a certificate",	STAT_TLS_FAIL_NOCERT },
		{ "certificate required",		STAT_TLS_FAIL_NOCERT },
		{ "no certificate returned",		STAT_TLS_FAIL_NOCERT },
		{ "certificate verify failed",		STAT_TLS_FAIL_BADCERT },
		{ "unexpected eof",			STAT_TLS_FAIL_ABORTED },
		{ "connection reset",			STAT_TLS_FAIL_ABORTED },
		{ "broken pipe",			STAT_TLS_FAIL_ABORTED },
		{ "timed out",				STAT_TLS_FAIL_TIMEOUT },
	};
	size_t	 i;

	if (timed_out)
		return STAT_TLS_FAIL_TIMEOUT;
	if (peer_left)
		return STAT_TLS_FAIL_ABORTED;
	if (error == NULL)
		return STAT_TLS_FAIL_PROTOCOL;
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcasestr(error, reasons[i].text) != NULL)
			return reasons[i].id;
	return STAT_TLS_FAIL_PROTOCOL;
}

void
stats_put(struct msgbuild *m, enum smtpcertd_proc proc)
{
	uint32_t	 n = 0;
	int		 i;

	for (i = 0; i < STAT_MAX; i++)
		if (stats_defs[i].owner == proc)
			n++;
	msg_put_u32(m, n);
	for (i = 0; i < STAT_MAX; i++) {
		if (stats_defs[i].owner != proc)
			continue;
		msg_put_str(m, stats_defs[i].name);
		msg_put_u64(m, stats_values[i]);
	}
}

int
stats_get(struct msgreader *r, enum smtpcertd_proc proc,
    uint64_t values[STAT_MAX])
{
	unsigned char	 seen[STAT_MAX];
	char		*name;
	uint64_t	 v;
	uint32_t	 n, i;
	int		 id, rc = 0;

	memset(seen, 0, sizeof(seen));
	n = msg_get_u32(r);
	if (n > STAT_MAX)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		if ((name = msg_get_str(r, STATS_NAME_MAX - 1)) == NULL)
			return -1;
		v = msg_get_u64(r);
		id = stats_lookup(name);
		if (id == -1 || stats_defs[id].owner != proc || seen[id])
			rc = -1;
		else {
			seen[id] = 1;
			values[id] = v;
		}
		free(name);
	}
	if (rc == -1 || msg_end(r) == -1)
		return -1;
	return 0;
}
