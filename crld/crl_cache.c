/*
 * The CRL cache directory: one DER file per source, replaced atomically
 * (temporary file, fsync, rename, fsync of the directory) so that a crash
 * leaves either the old CRL or the new one, never half of one.  Files are
 * re-validated when read back: the cache is a convenience, not a trust
 * anchor.
 *
 * File names come from source names, which are arbitrary strings: every
 * byte outside [A-Za-z0-9._-] is written as %XX, and a leading dot is
 * escaped too, so no name can climb out of the directory or hide.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crld.h"
#include "log.h"

#define CACHE_SUFFIX	".crl"

static int
cache_path(const char *dir, const char *source, const char *suffix,
    char *buf, size_t len)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			 name[3 * CONFIG_NAME_MAX + 1];
	const unsigned char	*p;
	size_t			 o = 0;
	int			 n;

	for (p = (const unsigned char *)source; *p != '\0'; p++) {
		if (o + 4 > sizeof(name))
			return -1;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		    (*p == '.' && o > 0))
			name[o++] = *p;
		else {
			name[o++] = '%';
			name[o++] = hex[*p >> 4];
			name[o++] = hex[*p & 15];
		}
	}
	name[o] = '\0';
	n = snprintf(buf, len, "%s/%s%s%s", dir, name, CACHE_SUFFIX, suffix);
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

int
crl_cache_write(const char *dir, const char *source, const unsigned char *der,
    size_t len, char *why, size_t whylen)
{
	char	 path[4096], tmp[4096];
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd, dfd, saved;

	if (cache_path(dir, source, "", path, sizeof(path)) == -1 ||
	    cache_path(dir, source, ".tmp", tmp, sizeof(tmp)) == -1) {
		snprintf(why, whylen, "cache path too long");
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		snprintf(why, whylen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	while (off < len) {
		if ((n = write(fd, der + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	/* The rename itself must survive a power cut. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	snprintf(why, whylen, "%s: %s", path, strerror(saved));
	return -1;
}

unsigned char *
crl_cache_read(const char *dir, const char *source, size_t *lenp)
{
	struct stat	 st;
	char		 path[4096];
	unsigned char	*buf;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	*lenp = 0;
	if (cache_path(dir, source, "", path, sizeof(path)) == -1)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno != ENOENT)
			log_warn("crl %s: cache %s", source, path);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > CRL_FETCH_MAX) {
		log_warnx("crl %s: cache %s: not a regular file of a "
		    "plausible size", source, path);
		close(fd);
		return NULL;
	}
	if ((buf = malloc(st.st_size)) == NULL)
		fatal(NULL);
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warnx("crl %s: cache %s: short read", source,
			    path);
			free(buf);
			close(fd);
			return NULL;
		}
		off += n;
	}
	close(fd);
	*lenp = off;
	return buf;
}

void
crl_cache_remove(const char *dir, const char *source)
{
	char	 path[4096];

	if (cache_path(dir, source, "", path, sizeof(path)) == 0 &&
	    unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
}
