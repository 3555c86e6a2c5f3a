/*
 * One configuration generation as it travels from the parent to a child.
 *
 * Only the parent reads files.  It parses smtpcertd.conf, loads the files
 * the config names (certificates, keys, CA bundles, LDAP passwords) into
 * blobs, and sends each child:
 *	IMSG_CONF_START gen
 *	IMSG_CONF_TEXT  the normalised config printout (config_text())
 *	IMSG_CONF_PKI / _CA / _SECRET  the blobs that child needs
 *	IMSG_CONF_LISTENER  one per listening socket (front only)
 *	IMSG_CONF_END gen
 * The child re-parses the text with config_parse_text(): the printer and
 * the parser are the serialisation, so no struct is copied field by field.
 */
#ifndef SMTPCERTD_CONFMSG_H
#define SMTPCERTD_CONFMSG_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "imsg.h"

struct imsgev;
struct smtpcertd_conf;

/* Bounds on what a child accepts from the parent. */
#define CONF_NAME_MAX		256
#define CONF_BLOB_MAX		(4U * 1024 * 1024)
#define CONF_LISTENERS_MAX	1024

struct conf_blob {
	TAILQ_ENTRY(conf_blob)	 entry;
	uint32_t		 type;	/* IMSG_CONF_PKI, _CA, _SECRET */
	char			*name;
	unsigned char		*a;	/* cert, pem, secret */
	size_t			 alen;
	unsigned char		*b;	/* key (PKI only) */
	size_t			 blen;
};

struct conf_bundle {
	uint64_t		 gen;
	struct smtpcertd_conf	*conf;
	char			*text;
	size_t			 textlen;
	TAILQ_HEAD(, conf_blob)	 blobs;
	int			*lfds;	/* by listener index, -1 if none */
	size_t			 nlfds;
	/* Parent only: one set of nlfds sockets per front (issue 17),
	 * front k's at lfds[k * nlfds]; 0 means one set. */
	size_t			 nsets;
	/* Parent only, never sent: the configuration as printed before
	 * host names were resolved, from which the timer re-resolves
	 * them (smtpcertd/resolve.c). */
	char			*names_text;
};

struct conf_bundle *conf_bundle_new(uint64_t gen);
/* Wipes blob contents before freeing; closes listener fds it holds. */
void	conf_bundle_free(struct conf_bundle *);
/* Takes ownership of a and b. */
void	conf_bundle_add(struct conf_bundle *, uint32_t type, const char *name,
	    unsigned char *a, size_t alen, unsigned char *b, size_t blen);
/* Copies of every blob of src (a generation that differs only in
 * addresses keeps the files of the one it replaces). */
void	conf_bundle_copy_blobs(struct conf_bundle *dst,
	    const struct conf_bundle *src);
const struct conf_blob *conf_bundle_blob(const struct conf_bundle *,
	    uint32_t type, const char *name);
/* Wipe and drop every blob of a type (the front after tls_configure()). */
void	conf_bundle_wipe(struct conf_bundle *, uint32_t type);

/* Parent side: which parts go to a child. */
#define CONFMSG_PKI		0x01
#define CONFMSG_CA		0x02
#define CONFMSG_SECRET		0x04
#define CONFMSG_LISTENERS	0x08
#define CONFMSG_MASTER		0x10	/* proxies' master passwords */
/* CONFMSG_PKI without the keys (an empty key): the front's share since
 * the keys process holds the keys (smtpcertd/keys/keys.c). */
#define CONFMSG_PKI_CERTS	0x20
int	confmsg_send(struct imsgev *, const struct conf_bundle *, int what);
/* The same with the listening sockets of front k's set. */
int	confmsg_send_set(struct imsgev *, const struct conf_bundle *,
	    int what, size_t k);

/*
 * Child side: feed every IMSG_CONF_* message here.  Returns 1 when a whole
 * generation has arrived and parsed (*done is set and owned by the
 * caller), 0 when more is expected, -1 on a malformed sequence (fatal for
 * the child: the parent is the only sender).
 */
int	confmsg_recv(struct conf_bundle **pending, struct imsg *,
	    struct conf_bundle **done);
int	confmsg_is_conf(uint32_t type);

/*
 * Child start-up: block on the parent channel until the first complete
 * generation has arrived (the child needs its user, chroot and paths
 * before it can drop privileges).  Other messages received meanwhile are
 * passed to early(), which may be NULL.
 */
struct conf_bundle *confmsg_wait_initial(struct imsgbuf *,
	    void (*early)(struct imsg *));

#endif
