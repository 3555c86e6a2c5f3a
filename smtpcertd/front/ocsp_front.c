/*
 * OCSP in the front (issue 5 item 7, see ocsp_front.h and crld/ocsp.c).
 *
 * The front never talks to a responder (its sandbox allows no such
 * connection, and it must not block): it sends crld the leaf and its
 * issuer (found like the CRL check finds it: crl_front_leaf_issuer()) and
 * the session waits, paused.  crld verifies and caches; the front applies
 * the policy:
 *	good		go on
 *	revoked		refuse, like a revoked CRL entry
 *	unknown, error,	`ocsp stale`: fail-closed refuses, fail-open
 *	no answer	accepts and logs loudly
 * "No answer" is crld gone or silent past `ocsp timeout` plus
 * OCSP_FRONT_GRACE (peerreq.c), or too many requests in flight.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "childproc.h"
#include "certfields.h"
#include "compat.h"
#include "config.h"
#include "crl_front.h"
#include "crlset.h"
#include "imsg.h"
#include "io.h"
#include "log.h"
#include "ocsp_front.h"
#include "peerreq.h"
#include "proto.h"
#include "stats.h"

struct ocsp_pending {
	ocsp_front_cb		 cb;
	void			*arg;
	enum stale_policy	 stale;
	char			 who[128];
	char			 desc[640];	/* serial and issuer */
};

static struct peerreq_table	*ocsp_tab;

void
ocsp_front_init(struct childproc *cp)
{
	ocsp_tab = peerreq_table_new(cp, PROC_CRLD, "crld (OCSP)",
	    OCSP_FRONT_MAX_PENDING);
}

static void
cert_desc(X509 *x, char *buf, size_t len)
{
	BIGNUM	*bn;
	char	*hex, issuer[512];
	size_t	 i;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	for (i = 0; hex != NULL && hex[i] != '\0'; i++)
		if (hex[i] >= 'A' && hex[i] <= 'F')
			hex[i] += 'a' - 'A';
	certfields_dn_print(X509_get_issuer_name(x), issuer, sizeof(issuer));
	snprintf(buf, len, "serial %s issuer %s", hex != NULL ? hex : "?",
	    issuer);
	OPENSSL_free(hex);
	BN_free(bn);
}

/* No usable answer: the policy decides.  1 refuse, 0 go on. */
static int
no_answer(enum stale_policy stale, const char *who, const char *desc,
    const char *what, char *why, size_t whylen)
{
	snprintf(why, whylen, "no OCSP answer (%.480s) for certificate %s",
	    what, desc);
	if (stale == STALE_FAIL_OPEN) {
		log_warnx("%s: WARNING: %s; ACCEPTED UNCHECKED by OCSP "
		    "(fail-open)", who, why);
		return 0;
	}
	log_warnx("%s: %s; refused (ocsp stale fail-closed)", who, why);
	stats_inc(STAT_REVOKED_OCSP);
	return 1;
}

static void
ocsp_front_answer(void *arg, struct imsg *imsg, const char *fail)
{
	struct ocsp_pending	*p = arg;
	struct msgreader	 r;
	uint32_t		 status, reason, cached;
	int64_t			 next_update;
	char			*detail = NULL, why[2048];
	char			 what[OCSP_MAX_DETAIL + 64];
	int			 refuse;

	if (imsg == NULL) {
		snprintf(what, sizeof(what), "crld %s", fail);
		refuse = no_answer(p->stale, p->who, p->desc, what, why,
		    sizeof(why));
		goto done;
	}
	msg_reader(&r, imsg);
	status = msg_get_u32(&r);
	reason = msg_get_u32(&r);
	next_update = msg_get_i64(&r);
	cached = msg_get_u32(&r);
	detail = msg_get_str(&r, OCSP_MAX_DETAIL);
	if (msg_end(&r) == -1 || status >= OCSP_ST_MAX)
		fatalx("malformed IMSG_OCSP_RES from crld");
	(void)next_update;
	switch (status) {
	case OCSP_ST_GOOD:
		log_info("%s: OCSP: certificate %s good (%s%s)", p->who,
		    p->desc, detail, cached ? ", cached" : "");
		refuse = 0;
		why[0] = '\0';
		break;
	case OCSP_ST_REVOKED:
		snprintf(why, sizeof(why), "revoked (OCSP): certificate %s "
		    "reason %s", p->desc, crlset_reason_name((int)reason));
		log_warnx("%s: %s (%s%s)", p->who, why, detail,
		    cached ? ", cached" : "");
		stats_inc(STAT_REVOKED_OCSP);
		refuse = 1;
		break;
	default:
		snprintf(what, sizeof(what), "%s%s", status ==
		    OCSP_ST_UNKNOWN ? "status unknown: " : "", detail);
		refuse = no_answer(p->stale, p->who, p->desc, what, why,
		    sizeof(why));
		break;
	}
done:
	free(detail);
	p->cb(p->arg, refuse, why);
	free(p);
}

int
ocsp_front_check_client(const struct smtpcertd_conf *conf,
    const struct listener *l, struct io *io, const char *who,
    ocsp_front_cb cb, void *arg, uint64_t *reqid, char *why, size_t whylen)
{
	*reqid = 0;
	if (!io_tls_peer_cert_provided(io))
		return 0;
	return ocsp_front_check_chain(conf, l, io_tls_peer_chain(io), who, cb,
	    arg, reqid, why, whylen);
}

int
ocsp_front_check_chain(const struct smtpcertd_conf *conf,
    const struct listener *l, STACK_OF(X509) *chain, const char *who,
    ocsp_front_cb cb, void *arg, uint64_t *reqid, char *why, size_t whylen)
{
	struct ocsp_pending	*p;
	struct msgbuild		 m;
	unsigned char		*ld = NULL, *id = NULL;
	X509			*leaf, *issuer;
	char			 what[64];
	int			 ll, il, r;

	*reqid = 0;
	if (!conf->ocsp.enabled || l->ca_name == NULL)
		return 0;
	if (crl_front_leaf_issuer(chain, l->ca_name, &leaf,
	    &issuer) == -1) {
		strlcpy(what, leaf == NULL ? "unreadable certificate" :
		    "its issuer not found", sizeof(what));
		X509_free(leaf);
		r = no_answer(conf->ocsp.stale, who, "of the client", what,
		    why, whylen);
		return r ? -1 : 0;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal(NULL);
	p->cb = cb;
	p->arg = arg;
	p->stale = conf->ocsp.stale;
	strlcpy(p->who, who, sizeof(p->who));
	cert_desc(leaf, p->desc, sizeof(p->desc));
	if ((ll = i2d_X509(leaf, &ld)) <= 0 || ll > OCSP_MAX_CERT ||
	    (il = i2d_X509(issuer, &id)) <= 0 || il > OCSP_MAX_CERT) {
		ERR_clear_error();
		r = no_answer(p->stale, who, p->desc, "certificate too large",
		    why, whylen);
		OPENSSL_free(ld);
		OPENSSL_free(id);
		X509_free(leaf);
		X509_free(issuer);
		free(p);
		return r ? -1 : 0;
	}
	msg_init(&m);
	msg_put_data(&m, ld, (size_t)ll);
	msg_put_data(&m, id, (size_t)il);
	*reqid = peerreq_send(ocsp_tab, &m, IMSG_OCSP_REQ,
	    conf->ocsp.timeout + OCSP_FRONT_GRACE, ocsp_front_answer, p);
	msg_free(&m);
	OPENSSL_free(ld);
	OPENSSL_free(id);
	X509_free(leaf);
	X509_free(issuer);
	return 1;
}

void
ocsp_front_cancel(uint64_t reqid)
{
	free(peerreq_cancel(ocsp_tab, reqid));
}

void
ocsp_front_dispatch(struct imsg *imsg)
{
	if (imsg != NULL && imsg->hdr.type != IMSG_OCSP_RES)
		fatalx("unexpected %s from crld",
		    imsg_type_name(imsg->hdr.type));
	peerreq_dispatch(ocsp_tab, imsg);
}
