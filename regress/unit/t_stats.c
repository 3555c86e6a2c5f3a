/*
 * Unit tests for common/stats.c: the counter table is a well-formed tree
 * of names (the JSON output nests by it), the helpers that index runs of
 * the table land on the right names, libtls errors are classified, and
 * the IMSG_STATS payload round-trips and refuses what a child may not
 * send.
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imsg.h"
#include "proto.h"
#include "stats.h"
#include "test.h"

static void	test_names_unique_and_well_formed(void);
static void	test_names_form_a_tree(void);
static void	test_subsystems_contiguous(void);
static void	test_lookup_finds_every_name(void);
static void	test_inc_add_set(void);
static void	test_auth_ids_match_names(void);
static void	test_auth_method_names(void);
static void	test_ldap_and_ocsp_runs(void);
static void	test_tls_failure_reasons(void);
static void	test_put_get_roundtrip(void);
static void	test_get_refuses_foreign_unknown_duplicate(void);
static void	test_get_refuses_truncated_and_trailing(void);

/* Lower-case letters, digits and '-', segments joined by single dots. */
static int
name_ok(const char *n)
{
	const char	*p;
	int		 seglen = 0;

	if (strlen(n) >= STATS_NAME_MAX)
		return 0;
	for (p = n; *p != '\0'; p++) {
		if (*p == '.') {
			if (seglen == 0)
				return 0;
			seglen = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-'))
			return 0;
		seglen++;
	}
	return seglen > 0 && strchr(n, '.') != NULL;
}

static void
test_names_unique_and_well_formed(void)
{
	int	 i, j;

	for (i = 0; i < STAT_MAX; i++) {
		if (!name_ok(stats_name(i)))
			fprintf(stderr, "  bad name %s\n", stats_name(i));
		CHECK(name_ok(stats_name(i)));
		CHECK(stats_owner(i) < PROC_MAX &&
		    stats_owner(i) != PROC_CONTROL);
		for (j = i + 1; j < STAT_MAX; j++)
			CHECK(strcmp(stats_name(i), stats_name(j)) != 0);
	}
	CHECK(strcmp(stats_name(STAT_MAX), "?") == 0);
}

/* No name is a whole-segment prefix of another: a JSON leaf is never
 * also an object. */
static void
test_names_form_a_tree(void)
{
	size_t	 la;
	int	 i, j;

	for (i = 0; i < STAT_MAX; i++)
		for (j = 0; j < STAT_MAX; j++) {
			if (i == j)
				continue;
			la = strlen(stats_name(i));
			if (strncmp(stats_name(i), stats_name(j), la) == 0 &&
			    stats_name(j)[la] == '.') {
				fprintf(stderr, "  %s is a prefix of %s\n",
				    stats_name(i), stats_name(j));
				CHECK(0);
			}
		}
}

/* Names sharing a first segment sit together, so the text output can
 * put a blank line between subsystems. */
static void
test_subsystems_contiguous(void)
{
	char	 cur[STATS_NAME_MAX], seg[STATS_NAME_MAX];
	int	 i, j;

	cur[0] = '\0';
	for (i = 0; i < STAT_MAX; i++) {
		snprintf(seg, sizeof(seg), "%.*s",
		    (int)strcspn(stats_name(i), "."), stats_name(i));
		if (strcmp(seg, cur) == 0)
			continue;
		for (j = 0; j < i; j++)
			if (strncmp(stats_name(j), seg, strlen(seg)) == 0 &&
			    stats_name(j)[strlen(seg)] == '.') {
				fprintf(stderr, "  %s comes back at %s\n", seg,
				    stats_name(i));
				CHECK(0);
				break;
			}
		snprintf(cur, sizeof(cur), "%s", seg);
	}
}

static void
test_lookup_finds_every_name(void)
{
	int	 i;

	for (i = 0; i < STAT_MAX; i++)
		CHECK(stats_lookup(stats_name(i)) == i);
	CHECK(stats_lookup("") == -1);
	CHECK(stats_lookup("tls") == -1);
	CHECK(stats_lookup("tls.handshakes") == -1);
	CHECK(stats_lookup("tls.handshakes.ok.x") == -1);
	CHECK(stats_lookup("TLS.HANDSHAKES.OK") == -1);
}

static void
test_inc_add_set(void)
{
	uint64_t	 v = stats_value(STAT_RELAY_ACCEPTED);

	stats_inc(STAT_RELAY_ACCEPTED);
	stats_add(STAT_RELAY_ACCEPTED, 41);
	CHECK(stats_value(STAT_RELAY_ACCEPTED) == v + 42);
	stats_set(STAT_CRL_ENTRIES, 7);
	CHECK(stats_value(STAT_CRL_ENTRIES) == 7);
	stats_set(STAT_CRL_ENTRIES, 0);
	CHECK(stats_value(STAT_CRL_ENTRIES) == 0);
	/* Out of range: ignored, not a crash. */
	stats_inc(STAT_MAX);
	stats_inc((enum stat_id)-1);
	stats_set(STAT_MAX + 5, 1);
	CHECK(stats_value(STAT_MAX) == 0);
	stats_set(STAT_RELAY_ACCEPTED, 0);
}

static void
test_auth_ids_match_names(void)
{
	static const char *results[SAR_MAX] = {
		"ok", "badcred", "refused", "tempfail"
	};
	char		 want[STATS_NAME_MAX];
	int		 m, r;
	uint64_t	 before;

	for (m = 0; m < SAM_MAX; m++)
		for (r = 0; r < SAR_MAX; r++) {
			snprintf(want, sizeof(want), "auth.%s.%s",
			    stats_auth_method_name(m), results[r]);
			CHECK(strcmp(stats_name(stats_auth_id(m, r)),
			    want) == 0);
			CHECK(stats_owner(stats_auth_id(m, r)) == PROC_FRONT);
		}
	before = stats_value(STAT_AUTH_PLAIN_BADCRED);
	stats_auth(SAM_PLAIN, SAR_BADCRED);
	CHECK(stats_value(STAT_AUTH_PLAIN_BADCRED) == before + 1);
	/* A method out of range counts as "other", a bad result not at
	 * all. */
	CHECK(stats_auth_id(SAM_MAX + 3, SAR_OK) == STAT_AUTH_OTHER_OK);
	CHECK(stats_auth_id(SAM_PLAIN, SAR_MAX) == STAT_MAX);
}

static void
test_auth_method_names(void)
{
	CHECK(stats_auth_method("certificate") == SAM_CERTIFICATE);
	CHECK(stats_auth_method("PLAIN") == SAM_PLAIN);
	CHECK(stats_auth_method("LOGIN") == SAM_LOGIN);
	CHECK(stats_auth_method("External") == SAM_EXTERNAL);
	CHECK(stats_auth_method("aaa") == SAM_AAA);
	CHECK(stats_auth_method("mailhost") == SAM_MAILHOST);
	CHECK(stats_auth_method("piggyback") == SAM_PIGGYBACK);
	CHECK(stats_auth_method("CRAM-MD5") == SAM_OTHER);
	CHECK(stats_auth_method("") == SAM_OTHER);
	CHECK(stats_auth_method(NULL) == SAM_OTHER);
}

static void
test_ldap_and_ocsp_runs(void)
{
	uint64_t	 a, b;

	a = stats_value(STAT_LDAP_RES_BADCRED);
	stats_ldap_result(LDAP_RES_BADCRED);
	CHECK(stats_value(STAT_LDAP_RES_BADCRED) == a + 1);
	a = stats_value(STAT_LDAP_RES_TEMPFAIL);
	stats_ldap_result(LDAP_RES_TEMPFAIL);
	CHECK(stats_value(STAT_LDAP_RES_TEMPFAIL) == a + 1);
	CHECK(strcmp(stats_name(STAT_LDAP_RES_OK + LDAP_RES_NOTFOUND),
	    "ldap.results.not-found") == 0);
	stats_ldap_result(LDAP_RES_MAX);	/* ignored */
	/* issue 13: allowance-only lookups, ldapd-helper's counter */
	CHECK(stats_lookup("ldap.lookups.allowance") ==
	    (int)STAT_LDAP_REQ_ALLOW);
	CHECK(stats_owner(STAT_LDAP_REQ_ALLOW) == PROC_LDAPD);
	b = stats_value(STAT_OCSP_REVOKED);
	stats_ocsp_status(OCSP_ST_REVOKED);
	CHECK(stats_value(STAT_OCSP_REVOKED) == b + 1);
	CHECK(strcmp(stats_name(STAT_OCSP_GOOD + OCSP_ST_UNKNOWN),
	    "ocsp.answers.unknown") == 0);
	stats_ocsp_status(OCSP_ST_MAX);		/* ignored */
}

static void
test_tls_failure_reasons(void)
{
	CHECK(stats_tls_failure(0, 0, "TLS handshake: handshake failed: "
	    "error:0A0000C7:SSL routines::peer did not return a certificate")
	    == STAT_TLS_FAIL_NOCERT);
	CHECK(stats_tls_failure(0, 0, "TLS handshake: handshake failed: "
	    "error:0A000086:SSL routines::certificate verify failed") ==
	    STAT_TLS_FAIL_BADCERT);
	CHECK(stats_tls_failure(0, 0, "TLS handshake: handshake failed: "
	    "error:0A00010B:SSL routines::wrong version number") ==
	    STAT_TLS_FAIL_PROTOCOL);
	CHECK(stats_tls_failure(0, 0, "TLS handshake: handshake failed: "
	    "error:0A000126:SSL routines::unexpected eof while reading") ==
	    STAT_TLS_FAIL_ABORTED);
	CHECK(stats_tls_failure(0, 0, "TLS handshake: Connection reset by "
	    "peer") == STAT_TLS_FAIL_ABORTED);
	CHECK(stats_tls_failure(1, 0, "whatever") == STAT_TLS_FAIL_TIMEOUT);
	CHECK(stats_tls_failure(0, 1, NULL) == STAT_TLS_FAIL_ABORTED);
	CHECK(stats_tls_failure(0, 0, NULL) == STAT_TLS_FAIL_PROTOCOL);
	CHECK(stats_tls_failure(0, 0, "") == STAT_TLS_FAIL_PROTOCOL);
}

/* The payload of a built message, as a reader sees it. */
static void
reader_of(struct msgreader *r, struct imsg *im, struct msgbuild *m)
{
	memset(im, 0, sizeof(*im));
	im->fd = -1;
	im->data = m->buf;
	im->datalen = m->len;
	msg_reader(r, im);
}

static void
test_put_get_roundtrip(void)
{
	struct msgbuild		 m;
	struct msgreader	 r;
	struct imsg		 im;
	uint64_t		 v[STAT_MAX];
	int			 i;

	stats_set(STAT_LDAP_CACHE_HIT, 12345678901ULL);
	stats_set(STAT_LDAP_REQ_CERT, 3);
	msg_init(&m);
	stats_put(&m, PROC_LDAPD);
	CHECK(m.err == 0);
	memset(v, 0xff, sizeof(v));
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_LDAPD, v) == 0);
	CHECK(v[STAT_LDAP_CACHE_HIT] == 12345678901ULL);
	CHECK(v[STAT_LDAP_REQ_CERT] == 3);
	/* Only the owner's counters are written. */
	for (i = 0; i < STAT_MAX; i++)
		if (stats_owner(i) != PROC_LDAPD)
			CHECK(v[i] == UINT64_MAX);
	/* The same payload claimed by another process is refused. */
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_FRONT, v) == -1);
	msg_free(&m);
	/* A process owning nothing sends an empty list. */
	msg_init(&m);
	stats_put(&m, PROC_CONTROL);
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_CONTROL, v) == 0);
	msg_free(&m);
	stats_set(STAT_LDAP_CACHE_HIT, 0);
	stats_set(STAT_LDAP_REQ_CERT, 0);
}

static void
test_get_refuses_foreign_unknown_duplicate(void)
{
	struct msgbuild		 m;
	struct msgreader	 r;
	struct imsg		 im;
	uint64_t		 v[STAT_MAX];

	/* A front counter claimed by crld. */
	msg_init(&m);
	msg_put_u32(&m, 1);
	msg_put_str(&m, "tls.handshakes.ok");
	msg_put_u64(&m, 1);
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_CRLD, v) == -1);
	msg_free(&m);
	/* An unknown name. */
	msg_init(&m);
	msg_put_u32(&m, 1);
	msg_put_str(&m, "crl.nonsense");
	msg_put_u64(&m, 1);
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_CRLD, v) == -1);
	msg_free(&m);
	/* The same counter twice. */
	msg_init(&m);
	msg_put_u32(&m, 2);
	msg_put_str(&m, "crl.entries");
	msg_put_u64(&m, 1);
	msg_put_str(&m, "crl.entries");
	msg_put_u64(&m, 2);
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_CRLD, v) == -1);
	msg_free(&m);
	/* More rows than the table has. */
	msg_init(&m);
	msg_put_u32(&m, STAT_MAX + 1);
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_CRLD, v) == -1);
	msg_free(&m);
}

static void
test_get_refuses_truncated_and_trailing(void)
{
	struct msgbuild		 m;
	struct msgreader	 r;
	struct imsg		 im;
	uint64_t		 v[STAT_MAX];
	char			 longname[STATS_NAME_MAX + 8];

	/* Announces two rows, carries one. */
	msg_init(&m);
	msg_put_u32(&m, 2);
	msg_put_str(&m, "crl.entries");
	msg_put_u64(&m, 1);
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_CRLD, v) == -1);
	msg_free(&m);
	/* A byte too many at the end. */
	msg_init(&m);
	msg_put_u32(&m, 1);
	msg_put_str(&m, "crl.entries");
	msg_put_u64(&m, 1);
	msg_put_u8(&m, 0);
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_CRLD, v) == -1);
	msg_free(&m);
	/* A name over the bound. */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	msg_init(&m);
	msg_put_u32(&m, 1);
	msg_put_str(&m, longname);
	msg_put_u64(&m, 1);
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_CRLD, v) == -1);
	msg_free(&m);
	/* Empty payload. */
	msg_init(&m);
	reader_of(&r, &im, &m);
	CHECK(stats_get(&r, PROC_CRLD, v) == -1);
	msg_free(&m);
}

int
main(void)
{
	RUN(test_names_unique_and_well_formed);
	RUN(test_names_form_a_tree);
	RUN(test_subsystems_contiguous);
	RUN(test_lookup_finds_every_name);
	RUN(test_inc_add_set);
	RUN(test_auth_ids_match_names);
	RUN(test_auth_method_names);
	RUN(test_ldap_and_ocsp_runs);
	RUN(test_tls_failure_reasons);
	RUN(test_put_get_roundtrip);
	RUN(test_get_refuses_foreign_unknown_duplicate);
	RUN(test_get_refuses_truncated_and_trailing);
	TEST_EXIT();
}
