/*
 * TLS settings (common/tlsopts.c, smtpcertd/tlsopts_ssl.c; their printout in
 * smtpcertd/printconf.c): what applies where (the closer setting wins, the
 * profile fills only what nothing sets), the strict profile's exact
 * values, protocol strings, value checks and the printout the parser
 * reads back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "tlsopts.h"

#include "test.h"

static void
test_unset_is_todays_tls(void)
{
	struct tls_opts	 o, e;

	tlsopts_init(&o);
	CHECK(!tlsopts_isset(&o));
	tlsopts_effective(&e, &o, NULL);
	CHECK(e.profile == -1 && e.security_level == -1);
	CHECK(e.protocols == NULL && e.ciphers == NULL &&
	    e.ciphersuites == NULL && e.groups == NULL);
}

static void
test_strict_profile_values(void)
{
	struct tls_opts	 o, e;

	tlsopts_init(&o);
	o.profile = TLS_PROFILE_STRICT;
	CHECK(tlsopts_isset(&o));
	tlsopts_effective(&e, &o, NULL);
	CHECK(strcmp(e.protocols, "tlsv1.2,tlsv1.3") == 0);
	CHECK(strcmp(e.ciphers, TLS_STRICT_CIPHERS) == 0);
	CHECK(strcmp(e.ciphersuites, TLS_STRICT_CIPHERSUITES) == 0);
	CHECK(e.groups == NULL);
	CHECK(e.security_level == 2);
}

/* Every suite of the strict list is AEAD (no CBC) with ECDHE or DHE (no
 * RSA key exchange) in OpenSSL's own table. */
static void
test_strict_ciphers_are_aead_fs(void)
{
	SSL_CTX			*ctx;
	STACK_OF(SSL_CIPHER)	*sk;
	const SSL_CIPHER	*c;
	int			 i, n = 0, nid;

	ctx = SSL_CTX_new(TLS_method());
	CHECK(ctx != NULL);
	if (ctx == NULL)
		return;
	CHECK(SSL_CTX_set_cipher_list(ctx, TLS_STRICT_CIPHERS) == 1);
	CHECK(SSL_CTX_set_ciphersuites(ctx, "") == 1);
	sk = SSL_CTX_get_ciphers(ctx);
	for (i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		c = sk_SSL_CIPHER_value(sk, i);
		n++;
		CHECK(SSL_CIPHER_is_aead(c));
		nid = SSL_CIPHER_get_kx_nid(c);
		CHECK(nid == NID_kx_ecdhe || nid == NID_kx_dhe);
	}
	CHECK(n == 8);
	SSL_CTX_free(ctx);
}

static void
test_closer_setting_wins(void)
{
	struct tls_opts	 g, l, e;

	tlsopts_init(&g);
	tlsopts_init(&l);
	g.profile = TLS_PROFILE_STRICT;
	g.protocols = "tlsv1.3";
	g.groups = "X25519";
	l.ciphers = "ECDHE+AESGCM";
	l.security_level = 3;
	tlsopts_effective(&e, &l, &g);
	CHECK(e.profile == TLS_PROFILE_STRICT);
	CHECK(strcmp(e.protocols, "tlsv1.3") == 0);
	CHECK(strcmp(e.ciphers, "ECDHE+AESGCM") == 0);
	CHECK(strcmp(e.ciphersuites, TLS_STRICT_CIPHERSUITES) == 0);
	CHECK(strcmp(e.groups, "X25519") == 0);
	CHECK(e.security_level == 3);
	/* A listener's `tls profile default' undoes a global strict. */
	l.profile = TLS_PROFILE_DEFAULT;
	tlsopts_effective(&e, &l, &g);
	CHECK(e.ciphersuites == NULL && e.security_level == 3);
	CHECK(strcmp(e.protocols, "tlsv1.3") == 0);
	/* The strict level is a floor, not a ceiling. */
	tlsopts_init(&l);
	l.profile = TLS_PROFILE_STRICT;
	l.security_level = 1;
	tlsopts_effective(&e, &l, NULL);
	CHECK(e.security_level == 2);
}

static void
test_protocol_versions(void)
{
	char	 err[256];
	int	 min, max;

	CHECK(tlsopts_versions(NULL, &min, &max, err, sizeof(err)) == 0);
	CHECK(min == TLS1_2_VERSION && max == TLS1_3_VERSION);
	CHECK(tlsopts_versions("tlsv1.3", &min, &max, err, sizeof(err)) == 0);
	CHECK(min == TLS1_3_VERSION && max == TLS1_3_VERSION);
	CHECK(tlsopts_versions("tlsv1.2", &min, &max, err, sizeof(err)) == 0);
	CHECK(min == TLS1_2_VERSION && max == TLS1_2_VERSION);
	CHECK(tlsopts_versions("tlsv1.2,tlsv1.3", &min, &max, err,
	    sizeof(err)) == 0);
	CHECK(min == TLS1_2_VERSION && max == TLS1_3_VERSION);
	CHECK(tlsopts_versions("tlsv1.1", &min, &max, err, sizeof(err)) == -1);
	CHECK(strstr(err, "only TLS 1.2 and 1.3") != NULL);
	CHECK(tlsopts_versions("all", &min, &max, err, sizeof(err)) == -1);
	CHECK(tlsopts_versions("sslv3", &min, &max, err, sizeof(err)) == -1);
}

static void
test_value_checks(void)
{
	char	 err[512];

	CHECK(tlsopts_check_value("ciphers", "ECDHE+AESGCM:!aNULL", err,
	    sizeof(err)) == 0);
	CHECK(tlsopts_check_value("ciphers", "NOPE", err, sizeof(err)) == -1);
	CHECK(tlsopts_check_value("groups", "X25519:P-256", err,
	    sizeof(err)) == 0);
	CHECK(tlsopts_check_value("groups", "P-999", err, sizeof(err)) == -1);
	/* Without libssl's check only the form is looked at. */
	tlsopts_set_suites_check(NULL);
	CHECK(tlsopts_check_value("ciphersuites", "TLS_NOPE", err,
	    sizeof(err)) == 0);
	CHECK(tlsopts_check_value("ciphersuites", "AES128-SHA", err,
	    sizeof(err)) == -1);
	tlsopts_set_suites_check(tlsopts_ssl_check_suites);
	CHECK(tlsopts_check_value("ciphersuites", TLS_STRICT_CIPHERSUITES,
	    err, sizeof(err)) == 0);
	CHECK(tlsopts_check_value("ciphersuites",
	    "TLS_AES_128_GCM_SHA256:TLS_NOPE", err, sizeof(err)) == -1);
	CHECK(strstr(err, "unknown TLS 1.3 suite \"TLS_NOPE\"") != NULL);
	CHECK(tlsopts_check_value("ciphersuites",
	    "TLS_AES_128_GCM_SHA256::TLS_AES_256_GCM_SHA384", err,
	    sizeof(err)) == -1);
}

static void
test_print(void)
{
	struct tls_opts	 o;
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*fp;

	tlsopts_init(&o);
	o.profile = TLS_PROFILE_STRICT;
	o.protocols = "tlsv1.3";
	o.groups = "P-384";
	o.security_level = 3;
	if ((fp = open_memstream(&buf, &len)) == NULL) {
		CHECK(fp != NULL);
		return;
	}
	tlsopts_print(fp, &o, " ", "");
	fclose(fp);
	CHECK(strcmp(buf, " tls profile strict tls protocols \"tlsv1.3\""
	    " tls groups \"P-384\" tls security-level 3") == 0);
	free(buf);
}

int
main(void)
{
	RUN(test_unset_is_todays_tls);
	RUN(test_strict_profile_values);
	RUN(test_strict_ciphers_are_aead_fs);
	RUN(test_closer_setting_wins);
	RUN(test_protocol_versions);
	RUN(test_value_checks);
	RUN(test_print);
	TEST_EXIT();
}
