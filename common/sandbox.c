/*
 * Per-process sandboxes for Linux.
 *
 * Each process calls exactly one sandbox_*() function, after privdrop()
 * and after the last thing that needs the file system or a new thread
 * outside what its allowlist grants.  Three layers, in this order:
 *
 *  1. prctl(PR_SET_NO_NEW_PRIVS): no exec can ever gain privileges again;
 *     it is also what lets an unprivileged process install Landlock
 *     rules and a seccomp filter.
 *  2. Landlock: the file system view.  The front gets no access at all
 *     (it is chrooted to an empty directory as well); ldapd-helper reads
 *     system configuration and libraries; crld reads and writes its cache
 *     directory and reads the rest.  A kernel without Landlock is logged
 *     ("landlock not available: ...") and we carry on: the seccomp layer
 *     and DAC as an unprivileged user still apply.
 *  3. seccomp, OpenSSH style: the native architecture only (libseccomp
 *     kills on any other), a short allowlist per process, file probes in
 *     the front fail with EACCES so libraries degrade quietly, and
 *     everything else kills the whole process (SCMP_ACT_KILL_PROCESS).
 *
 * Debugging: with SMTPCERTD_SANDBOX_DEBUG in the environment the default
 * action is SCMP_ACT_TRAP and a SIGSYS handler writes
 * "sandbox violation: syscall N (name)" to stderr and _exit(1)s.  We chose
 * TRAP over SCMP_ACT_LOG because LOG needs the audit subsystem (often not
 * readable in containers or on developer machines), lets the process run
 * on into a confusing later failure, and puts the answer in a different
 * place than the daemon's own output.  TRAP names the first missing call
 * right where the developer is looking.
 *
 * Sanitizer builds (-fsanitize=address,undefined): the ASan/UBSan runtimes
 * also use gettid and madvise (allowed everywhere anyway), sched_yield in
 * their spin locks and sigaltstack; the last two are added only when
 * __SANITIZE_ADDRESS__ / __has_feature(address_sanitizer) says so.
 * LeakSanitizer's exit-time check cannot run in a sandbox at all (it
 * clone()s a tracer thread and ptrace()s the process), so a sandboxed
 * process tells LSan to skip it through the documented
 * __lsan_is_turned_off() hook; unsandboxed processes (the parent, the
 * tests) are still leak-checked.
 *
 * Everything a process does only once at start must happen BEFORE its
 * sandbox: openlog(LOG_NDELAY) (log_init does it), reading the config,
 * libldap's first ldap_set_option/ldap_initialize (reads
 * /etc/ldap/ldap.conf and ~/.ldaprc), curl_global_init, OpenSSL and
 * GnuTLS initialisation (both read their config and /proc at load time),
 * tls_init() (the front and ldapd-helper), tls_configure() in the front,
 * and event_base_new().
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/landlock.h>
#include <linux/netlink.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN	1
#endif
#endif

/* Landlock access rights newer than the kernel headers of Debian 12. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)	/* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION	(1U << 0)
#endif

#define LL_FS_READ	(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR)
/* Everything ABI 1 knows about. */
#define LL_FS_V1	(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_CHAR | \
			 LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_MAKE_SOCK | \
			 LANDLOCK_ACCESS_FS_MAKE_FIFO | \
			 LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
			 LANDLOCK_ACCESS_FS_MAKE_SYM)
/* What crld may do inside its cache directory (REFER/TRUNCATE if known). */
#define LL_FS_CACHE	(LL_FS_READ | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_REFER | \
			 LANDLOCK_ACCESS_FS_TRUNCATE)

#define SANDBOX_ENV_DEBUG	"SMTPCERTD_SANDBOX_DEBUG"
#define SANDBOX_MAXSYSCALL	512	/* names kept for the debug handler */

struct sandbox_path {
	const char	*path;
	uint64_t	 access;
};

static void	sandbox_nnp(void);
static int	sandbox_landlock_abi(void);
static void	sandbox_landlock(const char *, const struct sandbox_path *,
		    size_t);
static scmp_filter_ctx sandbox_seccomp_new(const char *);
static void	sandbox_seccomp_load(scmp_filter_ctx, const char *);
static void	sandbox_rule(scmp_filter_ctx, uint32_t, int, const char *,
		    unsigned int, const struct scmp_arg_cmp *);
static void	sandbox_allow_common(scmp_filter_ctx);
static void	sandbox_allow_resolver(scmp_filter_ctx);
static void	sandbox_allow_files_ro(scmp_filter_ctx);
static void	sandbox_allow_threads(scmp_filter_ctx);
static void	sandbox_sigsys(int, siginfo_t *, void *);
static void	sandbox_debug_init(void);

static int	 sandbox_installed;
static const char *sandbox_names[SANDBOX_MAXSYSCALL];

/* Rule helpers: the name is only for the error message. */
#define RULE0(ctx, act, name)						\
	sandbox_rule((ctx), (act), SCMP_SYS(name), #name, 0, NULL)
#define RULE1(ctx, act, name, c0) do {					\
	struct scmp_arg_cmp _c[1] = { c0 };				\
	sandbox_rule((ctx), (act), SCMP_SYS(name), #name, 1, _c);	\
} while (0)
#define RULE2(ctx, act, name, c0, c1) do {				\
	struct scmp_arg_cmp _c[2] = { c0, c1 };			\
	sandbox_rule((ctx), (act), SCMP_SYS(name), #name, 2, _c);	\
} while (0)
/* Argument n equals v (datum_b spelled out for -Wmissing-field-initializers). */
#define ARG_EQ(n, v)	SCMP_CMP64((n), SCMP_CMP_EQ, (scmp_datum_t)(v), 0)
#define ALLOW(ctx, name)	RULE0(ctx, SCMP_ACT_ALLOW, name)
#define DENY(ctx, name, e)	RULE0(ctx, SCMP_ACT_ERRNO(e), name)

#ifdef SANDBOX_ASAN
/*
 * LeakSanitizer hook (see sanitizer/lsan_interface.h): skip the exit-time
 * leak check in a sandboxed process, where it would be killed trying.
 */
int	__lsan_is_turned_off(void);

int
__lsan_is_turned_off(void)
{
	return (sandbox_installed);
}
#endif

/* --- no_new_privs ------------------------------------------------------ */

static void
sandbox_nnp(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: prctl(PR_SET_NO_NEW_PRIVS)", __func__);
}

/* --- Landlock ----------------------------------------------------------- */

/* The Landlock ABI version, or -1 (logged) if the kernel has none. */
static int
sandbox_landlock_abi(void)
{
	long	 abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi == -1) {
		if (errno == ENOSYS)
			log_info("landlock not available: kernel built "
			    "without Landlock; file system access limited "
			    "by seccomp and privileges only");
		else if (errno == EOPNOTSUPP)
			log_info("landlock not available: disabled at boot "
			    "(add landlock to lsm=); file system access "
			    "limited by seccomp and privileges only");
		else
			log_info("landlock not available: %s; file system "
			    "access limited by seccomp and privileges only",
			    strerror(errno));
		return (-1);
	}
	return ((int)abi);
}

/*
 * Restrict the file system to `paths'.  Every right the running kernel
 * knows about (ABI 1, plus REFER from ABI 2 and TRUNCATE from ABI 3) is
 * handled, so whatever is not granted below is denied.  A path that does
 * not exist on this system (/lib64 on some layouts) is skipped.
 */
static void
sandbox_landlock(const char *proc, const struct sandbox_path *paths,
    size_t npaths)
{
	struct landlock_ruleset_attr	 attr;
	struct landlock_path_beneath_attr pb;
	uint64_t			 handled;
	size_t				 i;
	int				 abi, rfd, fd;

	if ((abi = sandbox_landlock_abi()) == -1)
		return;

	handled = LL_FS_V1;
	if (abi >= 2)
		handled |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		handled |= LANDLOCK_ACCESS_FS_TRUNCATE;

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled;
	rfd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rfd == -1)
		fatal("%s: landlock_create_ruleset", proc);

	for (i = 0; i < npaths; i++) {
		fd = open(paths[i].path, O_PATH | O_CLOEXEC);
		if (fd == -1) {
			if (errno == ENOENT) {
				log_debug("%s: landlock: %s does not exist, "
				    "skipped", proc, paths[i].path);
				continue;
			}
			fatal("%s: landlock: open %s", proc, paths[i].path);
		}
		memset(&pb, 0, sizeof(pb));
		pb.parent_fd = fd;
		pb.allowed_access = paths[i].access & handled;
		if (syscall(SYS_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1)
			fatal("%s: landlock_add_rule %s", proc, paths[i].path);
		close(fd);
	}

	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		fatal("%s: landlock_restrict_self", proc);
	close(rfd);
	log_debug("%s: landlock ABI %d enforced", proc, abi);
}

/* --- seccomp ----------------------------------------------------------- */

static void
sandbox_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *name,
    unsigned int argcnt, const struct scmp_arg_cmp *args)
{
	int	 r;

	if ((r = seccomp_rule_add_array(ctx, action, nr, argcnt, args)) < 0)
		fatalx("seccomp rule for %s: %s", name, strerror(-r));
}

/* SIGSYS in debug mode: only async-signal-safe calls, all allowlisted. */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *uctx)
{
	static const char pre[] = "sandbox violation: syscall ";
	char		 buf[160], num[16];
	const char	*name = NULL;
	size_t		 len = 0, n = 0, i;
	int		 nr = si->si_syscall;
	unsigned int	 u;

	if (nr >= 0 && nr < SANDBOX_MAXSYSCALL)
		name = sandbox_names[nr];
	if (name == NULL)
		name = "unknown";

	u = nr < 0 ? (unsigned int)-nr : (unsigned int)nr;
	do {
		num[n++] = '0' + u % 10;
		u /= 10;
	} while (u != 0 && n < sizeof(num) - 1);
	if (nr < 0)
		num[n++] = '-';

	memcpy(buf, pre, sizeof(pre) - 1);
	len = sizeof(pre) - 1;
	while (n > 0)
		buf[len++] = num[--n];
	buf[len++] = ' ';
	buf[len++] = '(';
	for (i = 0; name[i] != '\0' && len < sizeof(buf) - 3; i++)
		buf[len++] = name[i];
	buf[len++] = ')';
	buf[len++] = '\n';
	/* Nothing to do if it fails; glibc's _FORTIFY_SOURCE (the Debian
	 * package's build flags) rejects a mere (void) cast. */
	if (write(STDERR_FILENO, buf, len) < 0)
		_exit(1);
	_exit(1);
}

/*
 * Resolve every syscall name now: the handler must not allocate.  The
 * strings are kept for the life of the process on purpose.
 */
static void
sandbox_debug_init(void)
{
	struct sigaction sa;
	int		 i;

	for (i = 0; i < SANDBOX_MAXSYSCALL; i++)
		sandbox_names[i] = seccomp_syscall_resolve_num_arch(
		    SCMP_ARCH_NATIVE, i);

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction(SIGSYS)");
}

static scmp_filter_ctx
sandbox_seccomp_new(const char *proc)
{
	scmp_filter_ctx	 ctx;
	uint32_t	 def = SCMP_ACT_KILL_PROCESS;
	const char	*dbg;

	if ((dbg = getenv(SANDBOX_ENV_DEBUG)) != NULL && *dbg != '\0') {
		sandbox_debug_init();
		def = SCMP_ACT_TRAP;
		log_info("%s: sandbox debug mode: a forbidden system call "
		    "is reported and exits instead of killing", proc);
	}

	/*
	 * The context holds the native architecture only; a call made with
	 * any other ABI (int 0x80, x32) gets SCMP_FLTATR_ACT_BADARCH, which
	 * defaults to KILL.  The filter also applies to any thread already
	 * running (TSYNC) -- there should be none, see sandbox.h.
	 */
	if ((ctx = seccomp_init(def)) == NULL)
		fatalx("%s: seccomp_init failed", proc);
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS) < 0)
		fatalx("%s: seccomp bad-arch action", proc);
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
		fatalx("%s: seccomp TSYNC", proc);
	return (ctx);
}

static void
sandbox_seccomp_load(scmp_filter_ctx ctx, const char *proc)
{
	int	 r;

	/* A kernel built without seccomp filters says EINVAL here. */
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == -1 && errno == EINVAL) {
		log_info("%s: seccomp not available: kernel built without "
		    "CONFIG_SECCOMP; running without a syscall filter", proc);
		seccomp_release(ctx);
		return;
	}
	if ((r = seccomp_load(ctx)) < 0) {
		if (r == -EINVAL || r == -ENOSYS) {
			log_info("%s: seccomp not available: %s; running "
			    "without a syscall filter", proc, strerror(-r));
			seccomp_release(ctx);
			return;
		}
		fatalx("%s: seccomp_load: %s", proc, strerror(-r));
	}
	seccomp_release(ctx);
	sandbox_installed = 1;
	log_debug("%s: seccomp filter loaded", proc);
}

/*
 * What every process needs to run its event loop on descriptors it
 * already holds.
 */
static void
sandbox_allow_common(scmp_filter_ctx ctx)
{
	/* Memory: malloc, libevent buffers, OpenSSL/GnuTLS, the ASan
	 * allocator; the front mmap()s the CRL memfds it receives.  mmap
	 * and mprotect are added per process (PROT_EXEC or not). */
	ALLOW(ctx, brk);
	ALLOW(ctx, munmap);
	ALLOW(ctx, mremap);
	ALLOW(ctx, madvise);

	/* I/O on held descriptors: imsg, TLS records, syslog, stderr. */
	ALLOW(ctx, read);
	ALLOW(ctx, readv);
	ALLOW(ctx, write);
	ALLOW(ctx, writev);
	ALLOW(ctx, close);
	/* glibc fstat() is newfstatat(fd, "", AT_EMPTY_PATH): stdio's first
	 * buffer, mmap of a received memfd.  Path lookups differ per process. */
	ALLOW(ctx, fstat);
	RULE1(ctx, SCMP_ACT_ALLOW, newfstatat,
	    SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));

	/* Sockets held or accepted: imsg with SCM_RIGHTS, TLS, syslog. */
	ALLOW(ctx, recvmsg);
	ALLOW(ctx, sendmsg);
	ALLOW(ctx, recvfrom);
	ALLOW(ctx, sendto);
	ALLOW(ctx, shutdown);
	ALLOW(ctx, getsockopt);	/* SO_ERROR after a non-blocking connect */
	ALLOW(ctx, setsockopt);	/* TCP_NODELAY, SO_KEEPALIVE */
	ALLOW(ctx, getsockname);
	ALLOW(ctx, getpeername);

	/* libevent (epoll backend), libtls/libldap/libcurl poll(). */
	ALLOW(ctx, epoll_create1);
	ALLOW(ctx, epoll_create);
	ALLOW(ctx, epoll_ctl);
	ALLOW(ctx, epoll_wait);
	ALLOW(ctx, epoll_pwait);
	ALLOW(ctx, poll);
	ALLOW(ctx, ppoll);
	/* libevent's signal and wake-up pipes if created after the sandbox */
	ALLOW(ctx, pipe2);
	ALLOW(ctx, eventfd2);

	/* fcntl: non-blocking and close-on-exec flags (libevent, imsg,
	 * libtls), reading memfd seals.  No locks, no F_SETOWN. */
	RULE1(ctx, SCMP_ACT_ALLOW, fcntl, ARG_EQ(1, F_GETFL));
	RULE1(ctx, SCMP_ACT_ALLOW, fcntl, ARG_EQ(1, F_SETFL));
	RULE1(ctx, SCMP_ACT_ALLOW, fcntl, ARG_EQ(1, F_GETFD));
	RULE1(ctx, SCMP_ACT_ALLOW, fcntl, ARG_EQ(1, F_SETFD));
	RULE1(ctx, SCMP_ACT_ALLOW, fcntl, ARG_EQ(1, F_GET_SEALS));

	/* Time (normally the vDSO; these are the fallbacks), sleeping. */
	ALLOW(ctx, clock_gettime);
	ALLOW(ctx, gettimeofday);
	ALLOW(ctx, clock_nanosleep);
	ALLOW(ctx, nanosleep);

	/* Entropy: OpenSSL/GnuTLS DRBG reseeding, libevent arc4random. */
	ALLOW(ctx, getrandom);

	/* Locks (OpenSSL, glibc stdio/malloc), signals (libevent, ASan). */
	ALLOW(ctx, futex);
	ALLOW(ctx, rt_sigaction);
	ALLOW(ctx, rt_sigprocmask);
	ALLOW(ctx, rt_sigreturn);
	ALLOW(ctx, getpid);
	ALLOW(ctx, gettid);
	/* Set-id tests before trusting the environment: libevent
	 * (evutil_issetugid), libldap (~/.ldaprc), OpenSSL. */
	ALLOW(ctx, getuid);
	ALLOW(ctx, geteuid);
	ALLOW(ctx, getgid);
	ALLOW(ctx, getegid);
	/* abort() and raise() signal this process only: glibc raise() is
	 * tgkill(getpid(), gettid(), sig); a compromised process cannot
	 * signal anyone else. */
	RULE1(ctx, SCMP_ACT_ALLOW, tgkill, ARG_EQ(0, getpid()));

	ALLOW(ctx, exit);
	ALLOW(ctx, exit_group);

#ifdef SANDBOX_ASAN
	/* ASan/UBSan runtimes: spin-lock back-off under contention, and
	 * the alternate signal stack they set up and tear down (seen at
	 * exit).  Their allocator only needs the memory calls above. */
	ALLOW(ctx, sched_yield);
	ALLOW(ctx, sigaltstack);
#endif
}

/* Reading files: DNS, NSS modules, CA bundles, libldap/libcurl config;
 * Landlock decides where. */
static void
sandbox_allow_files_ro(scmp_filter_ctx ctx)
{
	/* Executable mappings: NSS modules, SASL and GnuTLS plugins are
	 * dlopen()ed lazily by getaddrinfo() and libldap. */
	ALLOW(ctx, mmap);
	ALLOW(ctx, mprotect);
	RULE1(ctx, SCMP_ACT_ALLOW, newfstatat,
	    SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
	ALLOW(ctx, open);
	ALLOW(ctx, openat);
	ALLOW(ctx, stat);
	ALLOW(ctx, lstat);
	ALLOW(ctx, statx);
	ALLOW(ctx, access);
	ALLOW(ctx, faccessat);
	ALLOW(ctx, faccessat2);
	ALLOW(ctx, readlink);
	ALLOW(ctx, readlinkat);
	ALLOW(ctx, lseek);
	ALLOW(ctx, pread64);
	ALLOW(ctx, getdents64);		/* GnuTLS/OpenSSL CA directories */
	ALLOW(ctx, dup);
	ALLOW(ctx, dup2);
	ALLOW(ctx, dup3);
	RULE1(ctx, SCMP_ACT_ALLOW, fcntl, ARG_EQ(1, F_DUPFD));
	RULE1(ctx, SCMP_ACT_ALLOW, fcntl,
	    ARG_EQ(1, F_DUPFD_CLOEXEC));
	/* Never run anything: openat2 is refused so glibc falls back. */
	DENY(ctx, openat2, ENOSYS);
}

/*
 * Name resolution and outgoing connections: glibc getaddrinfo (NSS,
 * /etc/hosts, resolv.conf, UDP/TCP to the name server, nscd or
 * systemd-resolved over AF_UNIX, AF_NETLINK route dump for AI_ADDRCONFIG),
 * libldap and libcurl.
 */
static void
sandbox_allow_resolver(scmp_filter_ctx ctx)
{
	RULE1(ctx, SCMP_ACT_ALLOW, socket, ARG_EQ(0, AF_INET));
	RULE1(ctx, SCMP_ACT_ALLOW, socket, ARG_EQ(0, AF_INET6));
	RULE1(ctx, SCMP_ACT_ALLOW, socket, ARG_EQ(0, AF_UNIX));
	RULE2(ctx, SCMP_ACT_ALLOW, socket, ARG_EQ(0, AF_NETLINK),
	    ARG_EQ(2, NETLINK_ROUTE));
	ALLOW(ctx, connect);
	ALLOW(ctx, bind);		/* glibc binds its netlink socket */
	ALLOW(ctx, socketpair);		/* libcurl resolver wake-up */
	ALLOW(ctx, select);
	ALLOW(ctx, pselect6);
	/* ioctl: non-blocking mode (libldap's ber sockets), bytes pending;
	 * isatty() probes fail as on a non-terminal. */
	RULE1(ctx, SCMP_ACT_ALLOW, ioctl, ARG_EQ(1, FIONBIO));
	RULE1(ctx, SCMP_ACT_ALLOW, ioctl, ARG_EQ(1, FIONREAD));
	RULE1(ctx, SCMP_ACT_ERRNO(ENOTTY), ioctl,
	    ARG_EQ(1, TCGETS));
	/* libldap: gethostname() for SASL; glibc qsort(): sysinfo for the
	 * RAM size. */
	ALLOW(ctx, uname);
	ALLOW(ctx, sysinfo);
}

/*
 * Threads (libcurl's threaded resolver): clone() only with CLONE_THREAD,
 * so never a new process; clone3() hides its flags in memory, so it says
 * ENOSYS and glibc falls back to clone().
 */
static void
sandbox_allow_threads(scmp_filter_ctx ctx)
{
	RULE1(ctx, SCMP_ACT_ALLOW, clone,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	DENY(ctx, clone3, ENOSYS);
	ALLOW(ctx, set_robust_list);
	ALLOW(ctx, rseq);
	ALLOW(ctx, sched_getaffinity);
	ALLOW(ctx, sched_yield);
}

/*
 * W^X for processes that never load code after start: no mapping may
 * become executable (no dlopen, no injected shellcode pages).
 */
static void
sandbox_no_exec_mappings(scmp_filter_ctx ctx)
{
	RULE1(ctx, SCMP_ACT_ALLOW, mmap,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	RULE1(ctx, SCMP_ACT_ALLOW, mprotect,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
}

/*
 * For processes without files: a library probing one (OpenSSL config,
 * /etc/localtime, ASan reading /proc/self/maps for a report) fails
 * quietly instead of killing the process.
 */
static void
sandbox_deny_files(scmp_filter_ctx ctx)
{
	DENY(ctx, open, EACCES);
	DENY(ctx, openat, EACCES);
	DENY(ctx, openat2, EACCES);
	DENY(ctx, stat, EACCES);
	DENY(ctx, lstat, EACCES);
	DENY(ctx, statx, EACCES);
	RULE1(ctx, SCMP_ACT_ERRNO(EACCES), newfstatat,
	    SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
	DENY(ctx, access, EACCES);
	DENY(ctx, faccessat, EACCES);
	DENY(ctx, faccessat2, EACCES);
	DENY(ctx, readlink, EACCES);
	DENY(ctx, readlinkat, EACCES);
}

/* --- the three processes ------------------------------------------------ */

/*
 * front: chrooted to an empty directory, unprivileged, never opens a
 * file, never resolves a name, never creates a process or thread.
 */
void
sandbox_front(void)
{
	scmp_filter_ctx	 ctx;

	sandbox_nnp();
	/* No rule at all: every file system access right is denied. */
	sandbox_landlock("front", NULL, 0);

	ctx = sandbox_seccomp_new("front");
	sandbox_allow_common(ctx);

	sandbox_no_exec_mappings(ctx);

	/* Clients and connections to upstream servers by address. */
	ALLOW(ctx, accept);
	ALLOW(ctx, accept4);
	ALLOW(ctx, connect);
	RULE1(ctx, SCMP_ACT_ALLOW, socket, ARG_EQ(0, AF_INET));
	RULE1(ctx, SCMP_ACT_ALLOW, socket, ARG_EQ(0, AF_INET6));
	/* glibc syslog() reconnects to /dev/log after syslogd restarts:
	 * that cannot work in the chroot and must not kill us. */
	RULE1(ctx, SCMP_ACT_ERRNO(EACCES), socket,
	    ARG_EQ(0, AF_UNIX));

	RULE1(ctx, SCMP_ACT_ALLOW, ioctl, ARG_EQ(1, FIONBIO));
	RULE1(ctx, SCMP_ACT_ALLOW, ioctl, ARG_EQ(1, FIONREAD));
	RULE1(ctx, SCMP_ACT_ERRNO(ENOTTY), ioctl,
	    ARG_EQ(1, TCGETS));

	sandbox_deny_files(ctx);

	sandbox_seccomp_load(ctx, "front");
}

/*
 * keys: chrooted to the front's empty directory, unprivileged; holds the
 * private keys, so it gets less than the front: no socket of any kind
 * (its channels are inherited), no file, no new mapping that could ever
 * run.
 */
void
sandbox_keys(void)
{
	scmp_filter_ctx	 ctx;

	sandbox_nnp();
	sandbox_landlock("keys", NULL, 0);

	ctx = sandbox_seccomp_new("keys");
	sandbox_allow_common(ctx);
	sandbox_no_exec_mappings(ctx);
	/* glibc syslog() after a syslogd restart, as in the front. */
	RULE1(ctx, SCMP_ACT_ERRNO(EACCES), socket, ARG_EQ(0, AF_UNIX));
	RULE1(ctx, SCMP_ACT_ERRNO(ENOTTY), ioctl, ARG_EQ(1, TCGETS));
	sandbox_deny_files(ctx);

	sandbox_seccomp_load(ctx, "keys");
}

/*
 * ldapd-helper: no chroot (DNS), reads system configuration, NSS modules
 * and CA files read-only; writes nothing.
 */
void
sandbox_ldapd(void)
{
	/*
	 * /etc: resolv.conf, hosts, nsswitch.conf, ldap/ldap.conf, gnutls
	 * and ssl config, CA bundles; /usr and /lib*: NSS modules loaded
	 * lazily by getaddrinfo(), GnuTLS/SASL plugins, ca-certificates.
	 * /proc is not needed.  Nothing is writable.
	 */
	static const struct sandbox_path paths[] = {
		{ "/etc",	LL_FS_READ },
		{ "/usr",	LL_FS_READ },
		{ "/lib",	LL_FS_READ },
		{ "/lib64",	LL_FS_READ },
	};
	scmp_filter_ctx	 ctx;

	sandbox_nnp();
	sandbox_landlock("ldapd", paths, sizeof(paths) / sizeof(paths[0]));

	ctx = sandbox_seccomp_new("ldapd");
	sandbox_allow_common(ctx);
	sandbox_allow_files_ro(ctx);
	sandbox_allow_resolver(ctx);
	/* TLS to LDAP servers is libtls under the event loop: read and
	 * write on sockets already allowed, CAs held in memory per profile
	 * (ldapd-helper/ldap_profile.c), so no memfd and no file opened
	 * during a handshake. */
	sandbox_seccomp_load(ctx, "ldapd");
}

/*
 * crld: no chroot (DNS), libcurl with threads, writes its cache directory
 * and hands CRLs to the parent as sealed memfds.
 */
void
sandbox_crld(const char *cachedir)
{
	/*
	 * Read-only "/" on purpose: file:// CRL sources are paths the
	 * administrator configured and may live anywhere (an NFS share, a
	 * directory another PKI tool maintains), and the set changes on
	 * reload without restarting crld.  Reading is already bounded by
	 * DAC as the unprivileged user (world-readable files only), so a
	 * narrower list would break configurations without protecting a
	 * secret.  What Landlock buys here is the write side: the cache
	 * directory is the only place crld can create, change, rename or
	 * remove anything.
	 */
	struct sandbox_path paths[] = {
		{ "/",		LL_FS_READ },
		{ cachedir,	LL_FS_CACHE },
	};
	scmp_filter_ctx	 ctx;

	if (cachedir == NULL || *cachedir != '/')
		fatalx("%s: cache directory must be an absolute path",
		    __func__);

	sandbox_nnp();
	sandbox_landlock("crld", paths, sizeof(paths) / sizeof(paths[0]));

	ctx = sandbox_seccomp_new("crld");
	sandbox_allow_common(ctx);
	sandbox_allow_files_ro(ctx);
	sandbox_allow_resolver(ctx);
	sandbox_allow_threads(ctx);

	/* The cache: temp file, fsync, rename into place, expire. */
	ALLOW(ctx, rename);
	ALLOW(ctx, renameat);
	ALLOW(ctx, renameat2);
	ALLOW(ctx, unlink);
	ALLOW(ctx, unlinkat);
	ALLOW(ctx, mkdir);
	ALLOW(ctx, mkdirat);
	ALLOW(ctx, fsync);
	ALLOW(ctx, fdatasync);
	ALLOW(ctx, ftruncate);
	ALLOW(ctx, fchmod);
	/* CRLs to the parent: memfd, sized, sealed. */
	ALLOW(ctx, memfd_create);
	RULE1(ctx, SCMP_ACT_ALLOW, fcntl, ARG_EQ(1, F_ADD_SEALS));

	sandbox_seccomp_load(ctx, "crld");
}
