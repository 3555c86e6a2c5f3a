/*
 * TLS settings (issue 14 item 4): protocol versions, the TLS 1.2 cipher
 * list, TLS 1.3 ciphersuites, groups, security level and a named
 * profile, set globally and per listener, relay and proxy back end.
 * What is not set keeps today's behaviour (OpenSSL's defaults, TLS 1.2
 * and 1.3).
 */
#ifndef SMTPCERTD_TLSOPTS_H
#define SMTPCERTD_TLSOPTS_H

#include <stdio.h>

struct tls_config;

enum tls_profile {
	TLS_PROFILE_DEFAULT,	/* OpenSSL's defaults, TLS 1.2 and 1.3 */
	TLS_PROFILE_STRICT	/* TLS 1.2 and 1.3, AEAD with forward
				 * secrecy only (DISA STIG, BSI TR-02102) */
};

/* What `tls profile strict' means, unless set otherwise. */
#define TLS_STRICT_PROTOCOLS	"tlsv1.2,tlsv1.3"
#define TLS_STRICT_CIPHERS						\
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"	\
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"	\
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"	\
	"DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256"
#define TLS_STRICT_CIPHERSUITES						\
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"		\
	"TLS_AES_128_GCM_SHA256"
#define TLS_STRICT_SECURITY_LEVEL 2

struct tls_opts {
	int	 profile;	/* enum tls_profile, -1 unset */
	char	*protocols;	/* "tlsv1.2,tlsv1.3" */
	char	*ciphers;	/* TLS 1.2, OpenSSL syntax */
	char	*ciphersuites;	/* TLS 1.3 */
	char	*groups;	/* "X25519:P-256" */
	int	 security_level; /* -1 unset */
};

void	tlsopts_init(struct tls_opts *);
void	tlsopts_free(struct tls_opts *);
int	tlsopts_isset(const struct tls_opts *);
/* The settings that apply: o over dflt (NULL: none), then o's (or
 * dflt's) profile filling what neither sets.  Strings are borrowed. */
void	tlsopts_effective(struct tls_opts *out, const struct tls_opts *o,
	    const struct tls_opts *dflt);
/* Minimum and maximum TLS versions (TLS1_2_VERSION...) of a protocols
 * string; -1 with err set if it names none or a version below 1.2. */
int	tlsopts_versions(const char *protocols, int *min, int *max,
	    char *err, size_t errlen);
/* A setting's value ("protocols", "ciphers", "ciphersuites", "groups")
 * checked as it is parsed (libtls reads protocols, cipher lists and
 * groups the way relays use them): 0 or -1 with err. */
int	tlsopts_check_value(const char *what, const char *v, char *err,
	    size_t errlen);
/* Where libssl is linked (smtpcertd: tlsopts_ssl.c), every TLS 1.3
 * suite name is checked as it is parsed; elsewhere only its form. */
void	tlsopts_set_suites_check(int (*)(const char *, char *, size_t));
int	tlsopts_ssl_check_suites(const char *, char *, size_t);
/* Each setting set, as "<pre>tls profile strict<post>", quoted as the
 * rest of the printout (printconf.c, with the printer). */
void	tlsopts_print(FILE *, const struct tls_opts *, const char *pre,
	    const char *post);
const char *tlsopts_profile_name(int);
/* The settings on a libtls client configuration (relays, back ends). */
int	tlsopts_apply_client(struct tls_config *, const struct tls_opts *,
	    char *err, size_t errlen);

#endif
