/*
 * Dropping root for good.  Used by every child process right after it has
 * done what still needs root (the parent chowns directories with
 * privdrop_lookup()).  See privdrop.c for the order of operations and
 * what is verified.
 */
#ifndef SMTPCERTD_PRIVDROP_H
#define SMTPCERTD_PRIVDROP_H

#include <sys/types.h>

/*
 * Become `user' for good: chroot(chroot_dir) and chdir("/") when chroot_dir
 * is not NULL, then setgroups/setresgid/setresuid, then verify that root
 * cannot be regained.  Also marks the process non-dumpable.  fatal() on
 * any failure; refuses a user whose uid or gid is 0.
 */
void	privdrop(const char *user, const char *chroot_dir);

/* Resolve user to its uid and primary gid without dropping; -1 if unknown. */
int	privdrop_lookup(const char *user, uid_t *uid, gid_t *gid);

#endif
