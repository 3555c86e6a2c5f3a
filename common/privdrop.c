/*
 * Dropping root for good, OpenBSD style: chroot, chdir, setgroups,
 * setresgid, setresuid -- then prove it: every way back to root must fail.
 *
 * PR_SET_DUMPABLE: we set it to 0 after the drop.  The kernel already does
 * that when the credentials change (unless an administrator raised
 * fs.suid_dumpable), but we do not want to depend on a sysctl: the front
 * holds TLS private keys and session data, and a dumpable process can be
 * ptrace()d by any other process running as the same unprivileged user
 * and leaves core files behind.  It also makes /proc/<pid> of our children
 * owned by root, so a compromised sibling cannot read our memory maps or
 * environment.  The process itself can still read its own /proc/self.
 *
 * PR_SET_NO_NEW_PRIVS belongs to the sandbox (sandbox.c): it is what makes
 * seccomp and Landlock usable without CAP_SYS_ADMIN, and it must be set
 * even if a process were ever run without dropping privileges.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

#define PRIVDROP_MAXGROUPS	16

static void	privdrop_check_chroot(const char *);
static void	privdrop_verify(uid_t, gid_t);

int
privdrop_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	if (user == NULL || *user == '\0')
		return (-1);
	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return (-1);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return (0);
}

/*
 * The chroot directory must not be writable by anyone but root: a process
 * that can create files in its own root can plant device nodes, sockets or
 * hard links there (OpenSSH refuses the same way).
 */
static void
privdrop_check_chroot(const char *dir)
{
	struct stat	 st;

	if (stat(dir, &st) == -1)
		fatal("%s: stat %s", __func__, dir);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s: %s is not a directory", __func__, dir);
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("%s: %s must be owned by root and not writable by "
		    "group or others", __func__, dir);
}

/*
 * Try every way back.  Raw syscalls where glibc would add its own logic
 * (setuid() in glibc broadcasts to all threads; the kernel answer is what
 * matters).  Each attempt must fail with EPERM.
 */
static void
privdrop_verify(uid_t uid, gid_t gid)
{
	uid_t	 ruid, euid, suid;
	gid_t	 rgid, egid, sgid;
	gid_t	 groups[PRIVDROP_MAXGROUPS];
	int	 ngroups;

	if (setuid(0) != -1)
		fatalx("%s: setuid(0) succeeded after drop", __func__);
	if (syscall(SYS_setresuid, 0, 0, 0) != -1)
		fatalx("%s: setresuid(0, 0, 0) succeeded after drop", __func__);
	if (seteuid(0) != -1)
		fatalx("%s: seteuid(0) succeeded after drop", __func__);
	if (setgid(0) != -1)
		fatalx("%s: setgid(0) succeeded after drop", __func__);
	if (setegid(0) != -1)
		fatalx("%s: setegid(0) succeeded after drop", __func__);
	if (syscall(SYS_setresgid, 0, 0, 0) != -1)
		fatalx("%s: setresgid(0, 0, 0) succeeded after drop", __func__);
	if (setgroups(0, NULL) != -1)
		fatalx("%s: setgroups() succeeded after drop", __func__);

	if (getresuid(&ruid, &euid, &suid) == -1)
		fatal("%s: getresuid", __func__);
	if (getresgid(&rgid, &egid, &sgid) == -1)
		fatal("%s: getresgid", __func__);
	if (ruid != uid || euid != uid || suid != uid ||
	    getuid() != uid || geteuid() != uid)
		fatalx("%s: uid is %u/%u/%u, expected %u", __func__,
		    (unsigned)ruid, (unsigned)euid, (unsigned)suid,
		    (unsigned)uid);
	if (rgid != gid || egid != gid || sgid != gid ||
	    getgid() != gid || getegid() != gid)
		fatalx("%s: gid is %u/%u/%u, expected %u", __func__,
		    (unsigned)rgid, (unsigned)egid, (unsigned)sgid,
		    (unsigned)gid);
	if ((ngroups = getgroups(PRIVDROP_MAXGROUPS, groups)) == -1)
		fatal("%s: getgroups", __func__);
	if (ngroups != 1 || groups[0] != gid)
		fatalx("%s: supplementary groups not reset", __func__);
}

void
privdrop(const char *user, const char *chroot_dir)
{
	uid_t	 uid;
	gid_t	 gid;

	/* Look the user up before chroot: the password database is outside. */
	if (privdrop_lookup(user, &uid, &gid) == -1)
		fatalx("%s: unknown user %s", __func__, user ? user : "(null)");
	if (uid == 0 || gid == 0)
		fatalx("%s: user %s has uid or gid 0", __func__, user);

	if (chroot_dir != NULL) {
		privdrop_check_chroot(chroot_dir);
		if (chroot(chroot_dir) == -1)
			fatal("%s: chroot %s", __func__, chroot_dir);
	}
	/* Also without chroot: never keep a working directory the user may
	 * write to, and libldap reads ./ldaprc from it. */
	if (chdir("/") == -1)
		fatal("%s: chdir /", __func__);

	if (setgroups(1, &gid) == -1)
		fatal("%s: setgroups", __func__);
	if (setresgid(gid, gid, gid) == -1)
		fatal("%s: setresgid", __func__);
	if (setresuid(uid, uid, uid) == -1)
		fatal("%s: setresuid", __func__);

	privdrop_verify(uid, gid);

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("%s: prctl(PR_SET_DUMPABLE)", __func__);

	log_debug("%s: running as %s (%u:%u)%s%s", __func__, user,
	    (unsigned)uid, (unsigned)gid,
	    chroot_dir ? " chrooted to " : "", chroot_dir ? chroot_dir : "");
}
