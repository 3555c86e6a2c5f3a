/*
 * See pkeydecode.h for why this exists.
 *
 * The ENGINE API is deprecated in OpenSSL 3, which is why this file (and
 * only this file) suppresses deprecation warnings.  The engine is never
 * added to OpenSSL's engine list, so nothing can load or configure it by
 * name; it is only registered as the provider of EVP_PKEY_METHODs for
 * three key types, and those methods are OpenSSL's built-in ones.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/opensslconf.h>
#include <openssl/evp.h>
#ifndef OPENSSL_NO_ENGINE
#include <openssl/engine.h>
#endif

#include "log.h"
#include "pkeydecode.h"

#ifndef OPENSSL_NO_ENGINE
static const int pkeydecode_nids[] = {
	EVP_PKEY_EC, EVP_PKEY_RSA, EVP_PKEY_RSA_PSS
};
#define PKEYDECODE_NNIDS \
	((int)(sizeof(pkeydecode_nids) / sizeof(pkeydecode_nids[0])))

/* ENGINE_PKEY_METHS_PTR: with pmeth NULL, list the key types; otherwise
 * hand out OpenSSL's own method for one of them. */
static int
pkeydecode_meths(ENGINE *e, EVP_PKEY_METHOD **pmeth, const int **nids,
    int nid)
{
	int	 i;

	if (pmeth == NULL) {
		*nids = pkeydecode_nids;
		return PKEYDECODE_NNIDS;
	}
	*pmeth = NULL;
	for (i = 0; i < PKEYDECODE_NNIDS; i++)
		if (pkeydecode_nids[i] == nid)
			*pmeth = (EVP_PKEY_METHOD *)EVP_PKEY_meth_find(nid);
	return *pmeth != NULL;
}

/* 1 once the engine is registered, 0 if anything is missing. */
static int
pkeydecode_register(void)
{
	/* OpenSSL's method tables keep no reference of their own: the
	 * engine lives as long as the process. */
	static ENGINE	*e;
	int		 i;

	/* Every built-in method must be there, or we would claim a key
	 * type and then fail to handle it. */
	for (i = 0; i < PKEYDECODE_NNIDS; i++)
		if (EVP_PKEY_meth_find(pkeydecode_nids[i]) == NULL)
			return 0;
	if ((e = ENGINE_new()) == NULL)
		return 0;
	if (!ENGINE_set_id(e, "smtpcertd-pkeydecode") ||
	    !ENGINE_set_name(e, "built-in key methods, direct key decoding") ||
	    !ENGINE_set_pkey_meths(e, pkeydecode_meths) ||
	    !ENGINE_register_pkey_meths(e)) {
		ENGINE_free(e);
		e = NULL;
		return 0;
	}
	return 1;
}
#endif

int
pkeydecode_init(void)
{
	static int	 done = -1;

	if (done != -1)
		return done;
#ifndef OPENSSL_NO_ENGINE
	done = pkeydecode_register();
#else
	done = 0;
#endif
	log_debug("pkeydecode: %s", done ? "direct key decoding for EC and "
	    "RSA keys" : "OpenSSL's own key decoding (slow on OpenSSL 3.0)");
	return done;
}
