/*
 * TLS settings: see tlsopts.h.  The server side (the listeners' libssl
 * contexts) applies them in tlsserver.c; the client side (relays, proxy
 * back ends) through libtls here, which cannot set TLS 1.3
 * ciphersuites or a security level: those are configuration errors
 * there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <tls.h>

#include "tlsopts.h"

void
tlsopts_init(struct tls_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->profile = -1;
	o->security_level = -1;
}

void
tlsopts_free(struct tls_opts *o)
{
	free(o->protocols);
	free(o->ciphers);
	free(o->ciphersuites);
	free(o->groups);
	tlsopts_init(o);
}

int
tlsopts_isset(const struct tls_opts *o)
{
	return o->profile != -1 || o->protocols != NULL ||
	    o->ciphers != NULL || o->ciphersuites != NULL ||
	    o->groups != NULL || o->security_level != -1;
}

const char *
tlsopts_profile_name(int p)
{
	return p == TLS_PROFILE_STRICT ? "strict" : "default";
}

void
tlsopts_effective(struct tls_opts *out, const struct tls_opts *o,
    const struct tls_opts *dflt)
{
	static const struct tls_opts	 none = { -1, NULL, NULL, NULL, NULL,
					    -1 };

	if (dflt == NULL)
		dflt = &none;
#define PICK(f)	(o->f != NULL ? o->f : dflt->f)
	out->protocols = PICK(protocols);
	out->ciphers = PICK(ciphers);
	out->ciphersuites = PICK(ciphersuites);
	out->groups = PICK(groups);
#undef PICK
	out->profile = o->profile != -1 ? o->profile : dflt->profile;
	out->security_level = o->security_level != -1 ? o->security_level :
	    dflt->security_level;
	if (out->profile == TLS_PROFILE_STRICT) {
		if (out->protocols == NULL)
			out->protocols = (char *)TLS_STRICT_PROTOCOLS;
		if (out->ciphers == NULL)
			out->ciphers = (char *)TLS_STRICT_CIPHERS;
		if (out->ciphersuites == NULL)
			out->ciphersuites = (char *)TLS_STRICT_CIPHERSUITES;
		if (out->security_level < TLS_STRICT_SECURITY_LEVEL)
			out->security_level = TLS_STRICT_SECURITY_LEVEL;
	}
}

int
tlsopts_versions(const char *protocols, int *min, int *max, char *err,
    size_t errlen)
{
	uint32_t	 p;

	*min = TLS1_2_VERSION;
	*max = TLS1_3_VERSION;
	if (protocols == NULL)
		return 0;
	if (tls_config_parse_protocols(&p, protocols) == -1) {
		snprintf(err, errlen, "invalid protocols \"%s\" (e.g. "
		    "\"tlsv1.2,tlsv1.3\")", protocols);
		return -1;
	}
	if (p & ~(uint32_t)(TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3)) {
		snprintf(err, errlen, "protocols \"%s\": only TLS 1.2 and "
		    "1.3 are supported", protocols);
		return -1;
	}
	if (p == 0) {
		snprintf(err, errlen, "protocols \"%s\" name no protocol",
		    protocols);
		return -1;
	}
	*min = (p & TLS_PROTOCOL_TLSv1_2) ? TLS1_2_VERSION : TLS1_3_VERSION;
	*max = (p & TLS_PROTOCOL_TLSv1_3) ? TLS1_3_VERSION : TLS1_2_VERSION;
	return 0;
}

static int	(*suites_check)(const char *, char *, size_t);

void
tlsopts_set_suites_check(int (*fn)(const char *, char *, size_t))
{
	suites_check = fn;
}

int
tlsopts_check_value(const char *what, const char *v, char *err,
    size_t errlen)
{
	struct tls_config	*cfg;
	int			 min, max, r = 0;

	if (strcmp(what, "protocols") == 0)
		return tlsopts_versions(v, &min, &max, err, errlen);
	if (strcmp(what, "ciphersuites") == 0) {
		if (strncmp(v, "TLS_", 4) != 0 || strchr(v, ' ') != NULL ||
		    strchr(v, ',') != NULL) {
			snprintf(err, errlen, "invalid ciphersuites \"%s\" "
			    "(e.g. \"TLS_AES_256_GCM_SHA384:"
			    "TLS_AES_128_GCM_SHA256\")", v);
			return -1;
		}
		return suites_check != NULL ? suites_check(v, err, errlen) : 0;
	}
	/* libtls checks cipher lists and groups as relays will use them. */
	if ((cfg = tls_config_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (strcmp(what, "ciphers") == 0 &&
	    tls_config_set_ciphers(cfg, v) == -1) {
		snprintf(err, errlen, "invalid ciphers \"%s\": %s", v,
		    tls_config_error(cfg));
		r = -1;
	} else if (strcmp(what, "groups") == 0 &&
	    tls_config_set_ecdhecurves(cfg, v) == -1) {
		snprintf(err, errlen, "invalid groups \"%s\": %s", v,
		    tls_config_error(cfg));
		r = -1;
	}
	tls_config_free(cfg);
	return r;
}

int
tlsopts_apply_client(struct tls_config *cfg, const struct tls_opts *o,
    char *err, size_t errlen)
{
	struct tls_opts	 e;
	uint32_t	 p;

	tlsopts_effective(&e, o, NULL);
	if (e.protocols != NULL) {
		if (tls_config_parse_protocols(&p, e.protocols) == -1 ||
		    tls_config_set_protocols(cfg, p) == -1) {
			snprintf(err, errlen, "protocols \"%s\"", e.protocols);
			return -1;
		}
	}
	if (e.ciphers != NULL && tls_config_set_ciphers(cfg, e.ciphers) == -1) {
		snprintf(err, errlen, "ciphers: %s", tls_config_error(cfg));
		return -1;
	}
	if (e.groups != NULL &&
	    tls_config_set_ecdhecurves(cfg, e.groups) == -1) {
		snprintf(err, errlen, "groups: %s", tls_config_error(cfg));
		return -1;
	}
	return 0;
}
