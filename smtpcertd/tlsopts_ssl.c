/*
 * The part of the TLS settings' checks that needs libssl (tlsopts.h):
 * linked only into smtpcertd, whose parent reads the configuration
 * file; the other processes parse the normalised text it sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsopts.h"

/*
 * OpenSSL skips unknown names in a TLS 1.3 list as long as one is known,
 * so each name is tried alone: a misspelt suite is an error, not a
 * silently shorter list.
 */
int
tlsopts_ssl_check_suites(const char *v, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	char	*list, *p, *name;
	int	 r = 0;

	if ((ctx = SSL_CTX_new(TLS_method())) == NULL ||
	    (list = strdup(v)) == NULL) {
		SSL_CTX_free(ctx);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (p = list; r == 0 && (name = strsep(&p, ":")) != NULL; ) {
		if (*name == '\0' || SSL_CTX_set_ciphersuites(ctx, name) != 1) {
			snprintf(err, errlen, "invalid ciphersuites \"%s\": "
			    "unknown TLS 1.3 suite \"%s\"", v, name);
			r = -1;
		}
	}
	ERR_clear_error();
	free(list);
	SSL_CTX_free(ctx);
	return r;
}
