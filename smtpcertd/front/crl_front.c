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
 * The checks themselves are certverify.c's: the listener's handshake
 * validates the client's path per RFC 5280 with the set's CRLs
 * (certverify_set_crls() on every swap), and crl_front_check_client()
 * refuses, right after the handshake, what the handshake let finish so
 * the client can be told why.  Relays and proxy back ends, whose chains
 * libtls verified, are checked again here with the CRLs
 * (crl_front_check_chain()).
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

#include "certverify.h"
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
	X509_STORE	*store;		/* for certverify_chain(), made on
					 * first use */
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
		certverify_set_crls(&s);
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
		X509_STORE_free(front_cas[i].store);
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
	fc->store = NULL;
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

static struct front_ca *
front_ca_find(const char *name)
{
	size_t	 i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < front_ncas; i++)
		if (strcmp(front_cas[i].name, name) == 0)
			return &front_cas[i];
	return NULL;
}

static STACK_OF(X509) *
front_ca_certs(const char *name)
{
	struct front_ca	*fc = front_ca_find(name);

	return fc != NULL ? fc->certs : NULL;
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

int
crl_front_check_chain(STACK_OF(X509) *chain, const char *ca_name,
    const struct smtpcertd_conf *conf, const char *who, char *why,
    size_t whylen)
{
	struct certverify_opts		 o;
	struct certverify_refusal	 r;
	struct front_ca			*fc;

	if ((fc = front_ca_find(ca_name)) == NULL) {
		snprintf(why, whylen, "no CA certificates (%s) to check the "
		    "chain with", ca_name != NULL ? ca_name : "none");
		log_warnx("%s: %s", who, why);
		return -1;
	}
	if (fc->store == NULL)
		fc->store = certverify_store(fc->certs);
	memset(&o, 0, sizeof(o));
	o.crl_check = 1;
	o.stale = conf->crl_stale;
	o.security_level = -1;
	if (certverify_chain(chain, fc->store, &o, &r) == -1) {
		snprintf(why, whylen, "%s", r.reason);
		log_warnx("%s: %s", who, why);
		return -1;
	}
	return 0;
}

int
crl_front_check_client(const struct smtpcertd_conf *conf,
    const struct listener *l, struct io *io, const char *who, char *why,
    size_t whylen)
{
	const struct certverify_refusal	*r;

	/* The handshake validated the path (certverify.c), revocation
	 * included where crl-check says so; what it let through to be
	 * answered in words is refused here. */
	if (l->ca_name == NULL || !io_tls_peer_cert_provided(io) ||
	    (r = certverify_refused(io_ssl(io))) == NULL)
		return 0;
	snprintf(why, whylen, "%s", r->reason);
	stats_inc(r->stat);
	if (r->stat == STAT_CERT_REF_REVOKED ||
	    r->stat == STAT_CERT_REF_NOCRL ||
	    r->stat == STAT_CERT_REF_CRLSTALE ||
	    r->stat == STAT_CERT_REF_CRLBAD)
		stats_inc(STAT_REVOKED_CRL);
	return -1;
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
		up = find_issuer(x, chain, front_ca_certs(ca_name));
	X509_up_ref(x);
	*leaf = x;
	if (up != NULL) {
		X509_up_ref(up);
		*issuer = up;
	}
	ERR_clear_error();
	return *issuer != NULL ? 0 : -1;
}
