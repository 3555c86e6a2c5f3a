/*
 * Read the files a configuration names, in the parent, before anything
 * is sent to the children: certificates and keys (pki), CA bundles (ca),
 * LDAP service passwords (password-file).  A file that is missing, empty,
 * too large or (for keys and passwords) readable by others refuses the
 * whole configuration, at start and at reload alike.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "config.h"
#include "confmsg.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "smtpcertd.h"
#include "tlsserver.h"

/*
 * Under systemd the parent is root without CAP_DAC_OVERRIDE (README): it
 * reads only what root may read as the owner, group or other.  Root
 * started by hand or by the rc script reads anything, so this is only a
 * warning; the unit's own ExecStartPre= check fails on the open() itself.
 */
static void
warn_dac_override(const struct conf_src *src, const char *what,
    const char *path, const struct stat *st)
{
	mode_t	 bit;

	if (geteuid() != 0)
		return;
	if (st->st_uid == 0)
		bit = S_IRUSR;
	else if (st->st_gid == 0)
		bit = S_IRGRP;
	else
		bit = S_IROTH;
	if (st->st_mode & bit)
		return;
	log_warnx("%s:%d: warning: %s %s is readable by root only through "
	    "CAP_DAC_OVERRIDE, which the systemd unit does not have (make "
	    "root its owner)", src->file, src->line, what, path);
}

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
	warn_dac_override(src, what, path, &st);
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
	/* The keys process signs RSA and ECDSA only (smtpcertd/keys/keys.c). */
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

/*
 * A CA bundle must hold at least one certificate and nothing broken: the
 * front and libtls take an empty or truncated bundle silently, and then
 * refuse every client certificate it should have verified.  Blocks of
 * other kinds (a CRL, say) are skipped, as they are there.
 */
static int
check_ca_bundle(const struct ca *ca, const unsigned char *c, size_t clen)
{
	BIO		*bio;
	X509		*x;
	unsigned long	 e;
	int		 n = 0;

	ERR_clear_error();
	if ((bio = BIO_new_mem_buf(c, clen)) == NULL)
		fatalx("BIO_new_mem_buf");
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	e = ERR_peek_last_error();
	BIO_free(bio);
	ERR_clear_error();
	/* The end of the bundle reads as "no start line". */
	if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
		e = 0;
	if (e != 0) {
		log_warnx("%s:%d: ca %s: file %s: certificate %d does not "
		    "parse: %s", ca->src.file, ca->src.line, ca->name, ca->file,
		    n + 1, ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "bad PEM");
		return -1;
	}
	if (n == 0) {
		log_warnx("%s:%d: ca %s: file %s holds no PEM certificate",
		    ca->src.file, ca->src.line, ca->name, ca->file);
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
		/* Only in a configuration with errors (reported). */
		if (pki->cert_file == NULL || pki->key_file == NULL)
			continue;
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
		if (check_ca_bundle(ca, c, clen) == -1)
			errors++;
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

/*
 * What the unprivileged user reads itself: crld opens file:// CRL sources
 * as that user.  Checked by smtpcertd -n only, in a child that becomes the
 * user: at start an unreadable source is a failed download like any
 * other, which crld logs and retries.  Percent-encoded paths are left to
 * crld.
 */
int
load_check_user_files(const struct smtpcertd_conf *conf)
{
	const struct crl_source	*crl;
	const char		*url[2], *path;
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;
	int			 i, fd, status, errors = 0;

	if (privdrop_lookup(conf->user, &uid, &gid) == -1)
		return 0;	/* parent_prepare_dirs() says so */
	if (geteuid() != 0) {
		log_warnx("warning: not root: file:// CRL sources are not "
		    "checked as user %s", conf->user);
		return 0;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0) {
		privdrop(conf->user, NULL);
		TAILQ_FOREACH(crl, &conf->crls, entry) {
			url[0] = crl->url;
			url[1] = crl->secondary;
			for (i = 0; i < 2; i++) {
				if (url[i] == NULL ||
				    strncmp(url[i], "file:///", 8) != 0 ||
				    strchr(url[i], '%') != NULL)
					continue;
				path = url[i] + 7;
				if ((fd = open(path, O_RDONLY | O_CLOEXEC)) ==
				    -1) {
					log_warnx("%s:%d: crl %s: %s: %s (crld "
					    "reads it as user %s)",
					    crl->src.file, crl->src.line,
					    crl->name, path, strerror(errno),
					    conf->user);
					errors++;
				} else
					close(fd);
			}
		}
		_exit(errors ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			log_warn("waitpid");
			return -1;
		}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
