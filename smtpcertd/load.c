/*
 * Read the files a configuration names, in the parent, before anything
 * is sent to the children: certificates and keys (pki), CA bundles (ca),
 * LDAP service passwords (password-file).  A file that is missing, empty,
 * too large or (for keys and passwords) readable by others refuses the
 * whole configuration, at start and at reload alike.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#include "config.h"
#include "confmsg.h"
#include "log.h"
#include "proto.h"
#include "smtpcertd.h"
#include "tlsserver.h"

/*
 * Read a whole file into a NUL-terminated buffer.  secret: the file must
 * not be readable by group or others, and the buffer is wiped by its
 * consumer (conf_bundle_free()).
 */
static unsigned char *
load_file(const struct conf_src *src, const char *what, const char *path,
    int secret, size_t *lenp)
{
	struct stat	 st;
	unsigned char	*buf;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    fstat(fd, &st) == -1) {
		log_warnx("%s:%d: %s %s: %s", src->file, src->line, what, path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t)st.st_size > CONF_BLOB_MAX) {
		log_warnx("%s:%d: %s %s: not a regular file of 1 to %u bytes",
		    src->file, src->line, what, path, CONF_BLOB_MAX);
		close(fd);
		return NULL;
	}
	if (secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		log_warnx("%s:%d: %s %s is accessible by group or others "
		    "(chmod 600 it)", src->file, src->line, what, path);
		close(fd);
		return NULL;
	}
	if ((buf = malloc(st.st_size + 1)) == NULL)
		fatal(NULL);
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warnx("%s:%d: %s %s: short read", src->file,
			    src->line, what, path);
			explicit_bzero(buf, off);
			free(buf);
			close(fd);
			return NULL;
		}
		off += n;
	}
	close(fd);
	buf[off] = '\0';
	*lenp = off;
	return buf;
}

/* Debian's bundle: what "system CAs" means when a relay names none. */
#define SYSTEM_CA_BUNDLE	"/etc/ssl/certs/ca-certificates.crt"
#define SYSTEM_CA_NAME		"@system"

/*
 * A key that does not match its certificate would only show in the
 * front, where nobody can tell the operator: check it here, the way the
 * front will use it.
 */
static int
check_keypair(const struct pki *pki, const unsigned char *c, size_t clen,
    const unsigned char *k, size_t klen)
{
	struct tlsserver	*ts;
	char			 err[512];

	int			 type;

	if ((ts = tlsserver_new(c, clen, k, klen, NULL, 0,
	    TLSSERVER_VERIFY_NONE, err, sizeof(err))) == NULL) {
		log_warnx("%s:%d: pki %s: %s", pki->src.file, pki->src.line,
		    pki->name, err);
		return -1;
	}
	/* The keys process signs RSA and ECDSA only (smtpcertd/keys.c). */
	type = EVP_PKEY_get_base_id(SSL_CTX_get0_privatekey(
	    tlsserver_ctx(ts)));
	tlsserver_free(ts);
	if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
		log_warnx("%s:%d: pki %s: %s keys are not supported (RSA and "
		    "ECDSA are)", pki->src.file, pki->src.line, pki->name,
		    OBJ_nid2sn(type));
		return -1;
	}
	return 0;
}

/* A password file holds one line; the newline is not part of it. */
static void
strip_newline(unsigned char *buf, size_t *len)
{
	while (*len > 0 && (buf[*len - 1] == '\n' || buf[*len - 1] == '\r'))
		buf[--(*len)] = '\0';
}

int
load_files(struct conf_bundle *b)
{
	struct smtpcertd_conf	*conf = b->conf;
	struct pki		*pki;
	struct ca		*ca;
	struct ldap_profile	*lp;
	struct proxy_profile	*px;
	unsigned char		*c, *k;
	size_t			 clen, klen;
	int			 errors = 0;

	TAILQ_FOREACH(pki, &conf->pkis, entry) {
		c = load_file(&pki->src, "certificate", pki->cert_file, 0,
		    &clen);
		k = load_file(&pki->src, "key", pki->key_file, 1, &klen);
		if (c == NULL || k == NULL) {
			free(c);
			if (k != NULL) {
				explicit_bzero(k, klen);
				free(k);
			}
			errors++;
			continue;
		}
		if (check_keypair(pki, c, clen, k, klen) == -1)
			errors++;
		conf_bundle_add(b, IMSG_CONF_PKI, pki->name, c, clen, k, klen);
	}
	TAILQ_FOREACH(ca, &conf->cas, entry) {
		if ((c = load_file(&ca->src, "ca file", ca->file, 0, &clen))
		    == NULL) {
			errors++;
			continue;
		}
		conf_bundle_add(b, IMSG_CONF_CA, ca->name, c, clen, NULL, 0);
	}
	/* Optional: without it, relays and LDAP servers need a "ca". */
	if (access(SYSTEM_CA_BUNDLE, R_OK) == 0) {
		struct conf_src	 sys = { SYSTEM_CA_BUNDLE, 0 };

		if ((c = load_file(&sys, "system CA bundle", SYSTEM_CA_BUNDLE,
		    0, &clen)) != NULL)
			conf_bundle_add(b, IMSG_CONF_CA, SYSTEM_CA_NAME, c,
			    clen, NULL, 0);
	}
	TAILQ_FOREACH(lp, &conf->ldaps, entry) {
		if (lp->password_file == NULL)
			continue;
		if ((c = load_file(&lp->src, "password-file",
		    lp->password_file, 1, &clen)) == NULL) {
			errors++;
			continue;
		}
		strip_newline(c, &clen);
		conf_bundle_add(b, IMSG_CONF_SECRET, lp->name, c, clen, NULL,
		    0);
	}
	/* The front logs certificate users in to the back ends with it. */
	TAILQ_FOREACH(px, &conf->proxies, entry) {
		if (px->master_password_file == NULL)
			continue;
		if ((c = load_file(&px->src, "master password-file",
		    px->master_password_file, 1, &clen)) == NULL) {
			errors++;
			continue;
		}
		strip_newline(c, &clen);
		conf_bundle_add(b, IMSG_CONF_MASTER, px->name, c, clen, NULL,
		    0);
	}
	return errors ? -1 : 0;
}
