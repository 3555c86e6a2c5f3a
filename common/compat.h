/*
 * What OpenBSD has and Debian 12's glibc (2.36) lacks.
 */
#ifndef SMTPCERTD_COMPAT_H
#define SMTPCERTD_COMPAT_H

#include <stddef.h>
#include <string.h>

#if !defined(__GLIBC__) || !__GLIBC_PREREQ(2, 38)
size_t	strlcpy(char *, const char *, size_t);
size_t	strlcat(char *, const char *, size_t);
#endif

#endif
