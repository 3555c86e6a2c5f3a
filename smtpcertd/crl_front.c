/*
 * Revocation in the front.
 *
 * The parent passes each new revocation set (crlset.h) as a sealed memfd.
 * We map it read-only and shared -- one mapping for every session, never
 * a copy -- after crlset_map() has checked seals, header, sizes, ranges
 * and sort order: the image comes from another process and is not
 * trusted until then.  A bad image is refused and the previous one stays.
 * Checks run synchronously inside one event callback and keep no pointer
 * into the set, so the swap is a plain assignment and the old mapping is
 * unmapped at once.
 *
 * The check after a handshake walks the verified path: the handshake has
 * already verified the chain against the listener's CA bundle (so no
 * signature is checked here), and we look up every certificate except the trust
 * anchor -- the leaf and each intermediate (X509_V_FLAG_CRL_CHECK_ALL
 * semantics).  An intermediate the client did not send is found in the
 * listener's CA bundle by X509_check_issued() (names, key identifiers,
 * key usage; no signature).  Each lookup is a binary search in the set:
 * the cost does not depend on the size of the CRLs.
 *
 * Answers: REVOKED refuses.  NO_CRL and STALE follow the stale policy:
 * fail-closed refuses, fail-open lets the certificate through with a
 * warning in the log.  NO_CRL uses the global policy (no source is known
 * to cover that issuer), STALE the policy of the CRL's source.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "childproc.h"
#include "compat.h"
#include "config.h"
#include "confmsg.h"
#include "crl_front.h"
#include "crlset.h"
#include "imsg.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "stats.h"

#define CA_SYSTEM		"@system"
#define CRL_FRONT_MAX_DEPTH	8	/* certificates checked per chain */

struct front_ca {
	char		*name;
	STACK_OF(X509)	*certs;
};

static struct crlset	 front_set;	/* hdr NULL: none received yet */
static struct front_ca	*front_cas;
static size_t		 front_ncas;
/* The newest generation's settings, for upstream checks (the newest
 * generation lives as long as it is the newest). */
static const struct smtpcertd_conf *front_conf;

void
crl_front_parent_imsg(struct childproc *cp, struct imsg *imsg)
{
	struct msgreader	 r;
	struct crlset		 s;
	uint64_t		 serial, size, ack = 0;
	char			 why[256];
	int			 fd;

	if (imsg->hdr.type != IMSG_CRL_SET)
		fatalx("unexpected %s from parent",
		    imsg_type_name(imsg->hdr.type));
	msg_reader(&r, imsg);
	serial = msg_get_u64(&r);
	size = msg_get_u64(&r);
	if (msg_end(&r) == -1 || (fd = imsg_get_fd(imsg)) == -1)
		fatalx("malformed IMSG_CRL_SET from parent");
	if (crlset_map(&s, fd, why, sizeof(why)) == -1)
		log_warnx("revocation set %llu refused: %s; keeping set %llu",
		    (unsigned long long)serial, why, front_set.hdr != NULL ?
		    (unsigned long long)front_set.hdr->serial : 0ULL);
	else if (s.hdr->serial != serial || s.len != size) {
		log_warnx("revocation set %llu refused: header says set "
		    "%llu", (unsigned long long)serial,
		    (unsigned long long)s.hdr->serial);
		crlset_unmap(&s);
	} else {
		/* New handshakes use it from now on. */
		crlset_unmap(&front_set);
		front_set = s;
		ack = serial;
		log_info("revocation set %llu in use: %u CRLs, %llu entries",
		    (unsigned long long)serial, s.hdr->ncrl,
		    (unsigned long long)s.hdr->nentries);
	}
	/* The mapping stays valid without the descriptor. */
	close(fd);
	imsgev_compose(&cp->parent, IMSG_CRL_SET_LOADED, 0, 0, -1, &ack,
	    sizeof(ack));
}

static void
front_cas_free(void)
{
	size_t	 i;

	for (i = 0; i < front_ncas; i++) {
		free(front_cas[i].name);
		sk_X509_pop_free(front_cas[i].certs, X509_free);
	}
	free(front_cas);
	front_cas = NULL;
	front_ncas = 0;
}

static void
front_cas_add(const struct conf_bundle *b, const char *name)
{
	const struct conf_blob	*blob;
	struct front_ca		*fc;
	BIO			*bio;
	X509			*x;
	size_t			 i;

	for (i = 0; i < front_ncas; i++)
		if (strcmp(front_cas[i].name, name) == 0)
			return;
	if ((blob = conf_bundle_blob(b, IMSG_CONF_CA, name)) == NULL ||
	    blob->alen > INT32_MAX)
		return;
	if ((fc = reallocarray(front_cas, front_ncas + 1,
	    sizeof(*front_cas))) == NULL)
		fatal(NULL);
	front_cas = fc;
	fc = &front_cas[front_ncas++];
	if ((fc->name = strdup(name)) == NULL ||
	    (fc->certs = sk_X509_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(blob->a, (int)blob->alen)) == NULL)
		fatal(NULL);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(fc->certs, x))
			X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
}

void
crl_front_config(struct conf_bundle *b)
{
	const struct smtpcertd_conf	*conf = b->conf;
	const struct listener		*l;
	const struct relay		*r;

	front_cas_free();
	front_conf = conf;
	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->ca_name != NULL)
			front_cas_add(b, l->ca_name);
	if (conf->crl_check_outbound)
		TAILQ_FOREACH(r, &conf->relays, entry)
			front_cas_add(b, r->ca_name != NULL ? r->ca_name :
			    CA_SYSTEM);
}

static STACK_OF(X509) *
front_cas_find(const char *name)
{
	size_t	 i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < front_ncas; i++)
		if (strcmp(front_cas[i].name, name) == 0)
			return front_cas[i].certs;
	return NULL;
}

/* The issuer of x among the peer's chain and the CA bundle, or NULL. */
static X509 *
find_issuer(X509 *x, STACK_OF(X509) *chain, STACK_OF(X509) *cas)
{
	X509	*c;
	int	 i;

	for (i = 0; cas != NULL && i < sk_X509_num(cas); i++) {
		c = sk_X509_value(cas, i);
		if (X509_check_issued(c, x) == X509_V_OK)
			return c;
	}
	for (i = 1; i < sk_X509_num(chain); i++) {
		c = sk_X509_value(chain, i);
		if (c != x && X509_check_issued(c, x) == X509_V_OK)
			return c;
	}
	return NULL;
}

static void
cert_desc(X509 *x, char *serial, size_t slen, char *issuer, size_t ilen)
{
	BIGNUM	*bn;
	char	*hex;
	size_t	 i;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	snprintf(serial, slen, "%s", hex != NULL ? hex : "?");
	for (i = 0; serial[i] != '\0'; i++)
		if (serial[i] >= 'A' && serial[i] <= 'F')
			serial[i] += 'a' - 'A';
	OPENSSL_free(hex);
	BN_free(bn);
	X509_NAME_oneline(X509_get_issuer_name(x), issuer, (int)ilen);
}

/* One certificate: 0 go on, -1 refuse. */
static int
check_one(X509 *x, int depth, const struct smtpcertd_conf *conf,
    const char *who, time_t now, char *why, size_t whylen)
{
	struct crlset_answer	 a;
	const ASN1_OCTET_STRING	*akid;
	unsigned char		*der = NULL;
	uint8_t			 h[CRLSET_HASH_LEN];
	uint8_t			 key[CRLSET_KEY_LEN];
	char			 serial[128], issuer[512];
	const char		*what = depth == 0 ? "certificate" :
				    "intermediate CA certificate";
	int			 n, policy;

	if ((n = i2d_X509_NAME(X509_get_issuer_name(x), &der)) <= 0) {
		snprintf(why, whylen, "unreadable issuer name");
		return -1;
	}
	crlset_issuer_hash(der, n, h);
	OPENSSL_free(der);
	if (crlset_key_asn1(X509_get0_serialNumber(x), key) == -1) {
		snprintf(why, whylen, "unreadable serial number");
		return -1;
	}
	akid = X509_get0_authority_key_id(x);
	crlset_check_key(&front_set, h, akid ? ASN1_STRING_get0_data(akid) :
	    NULL, akid ? (size_t)ASN1_STRING_length(akid) : 0, key, now, &a);
	if (a.result == CRLSET_GOOD)
		return 0;
	cert_desc(x, serial, sizeof(serial), issuer, sizeof(issuer));
	if (a.result == CRLSET_REVOKED) {
		snprintf(why, whylen, "%s revoked: serial %s issuer %s reason "
		    "%s (crl %s)", what, serial, issuer,
		    crlset_reason_name(a.reason), a.source);
		log_warnx("%s: %s", who, why);
		return -1;
	}
	policy = a.result == CRLSET_NO_CRL ? (int)conf->crl_stale : a.stale;
	snprintf(why, whylen, "%s serial %s issuer %s: %s%s%s", what, serial,
	    issuer, a.result == CRLSET_NO_CRL ? "no CRL for its issuer" :
	    "the issuer's CRL is past its nextUpdate", a.source ? " (crl " :
	    "", a.source ? a.source : "");
	if (a.source != NULL)
		strlcat(why, ")", whylen);
	if (policy == STALE_FAIL_OPEN) {
		log_warnx("%s: WARNING: %s; ACCEPTED UNCHECKED (fail-open)",
		    who, why);
		return 0;
	}
	log_warnx("%s: %s; refused (fail-closed)", who, why);
	return -1;
}

int
crl_front_check_chain(STACK_OF(X509) *chain, const char *ca_name,
    const struct smtpcertd_conf *conf, const char *who, char *why,
    size_t whylen)
{
	STACK_OF(X509)	*cas;
	X509		*x, *up;
	time_t		 now = time(NULL);
	int		 depth, r = 0;

	if (chain == NULL || sk_X509_num(chain) == 0) {
		snprintf(why, whylen, "unreadable certificate chain");
		return -1;
	}
	cas = front_cas_find(ca_name);
	x = sk_X509_value(chain, 0);
	for (depth = 0; depth < CRL_FRONT_MAX_DEPTH; depth++) {
		/* The trust anchor has no CRL to be listed in. */
		if (X509_check_issued(x, x) == X509_V_OK)
			break;
		if ((r = check_one(x, depth, conf, who, now, why, whylen)) ==
		    -1)
			break;
		if ((up = find_issuer(x, chain, cas)) == NULL)
			break;
		x = up;
	}
	ERR_clear_error();
	return r;
}

int
crl_front_check_client(const struct smtpcertd_conf *conf,
    const struct listener *l, struct io *io, const char *who, char *why,
    size_t whylen)
{
	int	 check;

	check = (l->proto == LISTEN_SMTP || l->proto == LISTEN_SMTPS) ?
	    conf->crl_check_inbound : conf->crl_check_proxy;
	if (!check || l->ca_name == NULL || !io_tls_peer_cert_provided(io))
		return 0;
	if (crl_front_check_chain(io_tls_peer_chain(io), l->ca_name, conf,
	    who, why, whylen) == -1) {
		stats_inc(STAT_REVOKED_CRL);
		return -1;
	}
	return 0;
}

int
crl_front_check_upstream(const struct relay *r, struct io *io,
    const char *who, char *why, size_t whylen)
{
	if (front_conf == NULL || !front_conf->crl_check_outbound)
		return 0;
	return crl_front_check_chain(io_tls_peer_chain(io), r->ca_name != NULL ?
	    r->ca_name : CA_SYSTEM, front_conf, who, why, whylen);
}

/*
 * Issue 5 item 7 (OCSP, ocsp_front.c): the leaf of a peer chain and its
 * issuer, found like the CRL check finds it (CA bundle ca_name first,
 * then the peer's chain).  Both up-referenced for the caller; 0, or -1
 * when the leaf is unreadable (*leaf NULL) or has no issuer to be found.
 */
int
crl_front_leaf_issuer(STACK_OF(X509) *chain, const char *ca_name,
    X509 **leaf, X509 **issuer)
{
	X509	*x, *up = NULL;

	*leaf = *issuer = NULL;
	if (chain == NULL || sk_X509_num(chain) == 0)
		return -1;
	x = sk_X509_value(chain, 0);
	if (X509_check_issued(x, x) != X509_V_OK)
		up = find_issuer(x, chain, front_cas_find(ca_name));
	X509_up_ref(x);
	*leaf = x;
	if (up != NULL) {
		X509_up_ref(up);
		*issuer = up;
	}
	ERR_clear_error();
	return *issuer != NULL ? 0 : -1;
}
