/*
 * One CRL source's state as crld reports it to the parent and the parent
 * to `smtpcertctl show crl`: the same row and the same codec on both
 * hops, so the three programs cannot disagree on its shape.
 */
#ifndef SMTPCERTD_CRL_STATUS_H
#define SMTPCERTD_CRL_STATUS_H

#include <stdint.h>

struct msgbuild;
struct msgreader;

/* Each string at most this long (longer ones are cut when sent). */
#define CRL_STATUS_STR_MAX	1024

struct crl_status {
	char		*name;
	char		*url;		/* primary */
	char		*secondary;	/* "" if none */
	char		*url_used;	/* of the last attempt, "" before */
	char		*result;	/* of the last attempt, in words */
	char		*issuer;	/* of the CRL in use, "" if none */
	char		*number;	/* its CRL number in hex, "" if none */
	uint32_t	 enabled;
	uint32_t	 ok;		/* last attempt succeeded */
	uint32_t	 failures;	/* consecutive failed attempts */
	int64_t		 last_attempt;	/* 0: never */
	int64_t		 last_success;
	uint64_t	 entries;	/* of the CRL in use */
	int64_t		 this_update;	/* 0: no CRL in use */
	int64_t		 next_update;
	int64_t		 next_fetch;	/* 0: not scheduled (disabled) */
};

void	crl_status_put(struct msgbuild *, const struct crl_status *);
/* Fills every field (strings malloc'd); the reader records errors. */
void	crl_status_get(struct msgreader *, struct crl_status *);
void	crl_status_free(struct crl_status *);

#endif
