/*
 * The front's side of the keys process (issue 14): listener keys whose
 * private half is elsewhere.  See keysign.c for how a handshake waits.
 */
#ifndef SMTPCERTD_KEYSIGN_H
#define SMTPCERTD_KEYSIGN_H

struct childproc;
struct imsg;
struct evp_pkey_st;		/* OpenSSL's EVP_PKEY */
struct x509_st;			/* OpenSSL's X509 */

/* Once, before the first server context is built. */
void	keysign_init(void);
/* Once the front has its event loop: requests go to PROC_KEYS. */
void	keysign_start(struct childproc *);
/*
 * A key with the certificate's public half whose private operations
 * (RSA signatures, ECDSA) are asked of the keys process, from inside an
 * asynchronous handshake job.  NULL for other key types, with a reason
 * in err.
 */
struct evp_pkey_st *keysign_pkey(struct x509_st *cert, char *err,
	    size_t errlen);
/* An answer from the keys process; NULL: it is gone (pending operations
 * fail, and their handshakes with them). */
void	keysign_dispatch(struct imsg *);

#endif
