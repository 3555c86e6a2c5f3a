/*
 * Privilege drop and per-process sandboxes.  Must run as root: each test
 * forks a child that drops to "nobody" and installs one sandbox; the
 * parent inspects it from outside through /proc/<pid> while the child
 * waits on a pipe, then lets it run a probe and checks how it ended.
 * Without root every test prints "ok - name # skip not root".
 *
 * Sanitizer builds: sandbox.c turns LeakSanitizer's exit-time check off
 * in sandboxed children (it needs clone+ptrace); ASAN_OPTIONS is not
 * needed.  Setting ASAN_OPTIONS=detect_leaks=0 is harmless.
 */
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "privdrop.h"
#include "sandbox.h"
#include "test.h"

#define TEST_USER	"nobody"
#define CRL_DATA	"-----BEGIN X509 CRL-----\nnot really\n"

enum kind { K_NONE, K_FRONT, K_LDAPD, K_CRLD };

struct child {
	pid_t	 pid;
	int	 status;
	char	 err[4096];	/* what the child wrote to stderr */
	char	 root[PATH_MAX];/* /proc/<pid>/root while sandboxed */
	char	 procstatus[8192];
	int	 ready;		/* reached the point after its sandbox */
};

#define DIRLEN		128
static char	 chrootdir[DIRLEN];	/* empty, for the front */
static char	 cachedir[DIRLEN];	/* nobody's, for crld */
static char	 otherdir[DIRLEN];	/* nobody's, outside the cache */
static int	 passfd[2] = { -1, -1 };/* parent -> front, SCM_RIGHTS */
static int	 have_landlock;
static int	 hide_landlock;		/* child: pretend the kernel lacks it */
static uid_t	 nobody_uid;
static gid_t	 nobody_gid;

static int
landlock_available(void)
{
	return (syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION) >= 1);
}

static void
read_all(int fd, char *buf, size_t size)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < size - 1 &&
	    (n = read(fd, buf + off, size - 1 - off)) > 0)
		off += n;
	buf[off] = '\0';
}

static void
read_file(const char *path, char *buf, size_t size)
{
	int	 fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	read_all(fd, buf, size);
	close(fd);
}

/* The value of "Key:" in /proc/<pid>/status, up to the newline. */
static const char *
status_field(const struct child *c, const char *key, char *out, size_t size)
{
	const char	*p;
	size_t		 klen = strlen(key), n;

	out[0] = '\0';
	for (p = c->procstatus; p != NULL && *p != '\0';) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			p += klen + 1;
			p += strspn(p, " \t");
			n = strcspn(p, "\n");
			while (n > 0 && p[n - 1] == ' ')
				n--;
			if (n >= size)
				n = size - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return (out);
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return (out);
}

static int	probe_no_root(void);

/* An outer filter that makes the Landlock syscalls say ENOSYS, as on a
 * kernel built without it. */
static void
hide_landlock_syscalls(void)
{
	scmp_filter_ctx	 ctx;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
	    SCMP_SYS(landlock_create_ruleset), 0) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
	    SCMP_SYS(landlock_add_rule), 0) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
	    SCMP_SYS(landlock_restrict_self), 0) < 0 ||
	    seccomp_load(ctx) < 0)
		_exit(87);
	seccomp_release(ctx);
}

/*
 * Fork a child that drops privileges, installs the sandbox of `kind',
 * reports ready, waits for the parent and then exits with probe()'s
 * result.  The parent looks at /proc while the child waits.
 */
static void
run_child(enum kind kind, int debug, int (*probe)(void), struct child *c)
{
	int	 ready[2], go[2], err[2];
	char	 path[64], b;
	ssize_t	 n;

	memset(c, 0, sizeof(*c));
	if (pipe2(ready, O_CLOEXEC) == -1 || pipe2(go, O_CLOEXEC) == -1 ||
	    pipe2(err, O_CLOEXEC) == -1) {
		CHECK(!"pipe");
		return;
	}
	fflush(stdout);
	fflush(stderr);
	if ((c->pid = fork()) == -1) {
		CHECK(!"fork");
		return;
	}
	if (c->pid == 0) {
		close(ready[0]);
		close(go[1]);
		close(err[0]);
		dup2(err[1], STDERR_FILENO);
		if (debug)
			setenv("SMTPCERTD_SANDBOX_DEBUG", "1", 1);
		if (hide_landlock)
			hide_landlock_syscalls();
		/* Regaining root must fail after privdrop(); inside the
		 * sandbox the attempt itself is fatal (probe_setuid). */
		switch (kind) {
		case K_FRONT:
			privdrop(TEST_USER, chrootdir);
			if (probe_no_root() != 0)
				_exit(88);
			sandbox_front();
			break;
		case K_LDAPD:
			privdrop(TEST_USER, NULL);
			if (probe_no_root() != 0)
				_exit(88);
			sandbox_ldapd();
			break;
		case K_CRLD:
			privdrop(TEST_USER, NULL);
			if (probe_no_root() != 0)
				_exit(88);
			sandbox_crld(cachedir);
			break;
		case K_NONE:
			break;
		}
		if (kind != K_NONE && geteuid() == 0)
			_exit(89);
		if (write(ready[1], "r", 1) != 1)
			_exit(90);
		if (read(go[0], &b, 1) != 1)
			_exit(91);
		exit(probe());
	}
	close(ready[1]);
	close(go[0]);
	close(err[1]);

	if (read(ready[0], &b, 1) == 1) {
		c->ready = 1;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)c->pid);
		read_file(path, c->procstatus, sizeof(c->procstatus));
		snprintf(path, sizeof(path), "/proc/%d/root", (int)c->pid);
		if ((n = readlink(path, c->root, sizeof(c->root) - 1)) > 0)
			c->root[n] = '\0';
		if (write(go[1], "g", 1) != 1)
			CHECK(!"write go");
	}
	close(go[1]);
	close(ready[0]);
	read_all(err[0], c->err, sizeof(c->err));
	close(err[0]);
	while (waitpid(c->pid, &c->status, 0) == -1 && errno == EINTR)
		;
}

/* A check on a child that shows how it ended and what it said. */
#define CHECK_CHILD(c, cond) do {					\
	CHECK(cond);							\
	if (!(cond))							\
		fprintf(stderr, "  child status 0x%x, stderr: %s\n",	\
		    (unsigned)(c)->status, (c)->err);			\
} while (0)

static int
exited_ok(const struct child *c)
{
	return (WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0);
}

static int
killed_by_sigsys(const struct child *c)
{
	return (WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGSYS);
}

/* What every sandboxed child must look like from outside. */
static void
check_confined(const struct child *c, const char *wantroot)
{
	char	 uid[64], gid[64], want[64], v[64];

	CHECK_CHILD(c, c->ready);
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u",
	    (unsigned)nobody_uid, (unsigned)nobody_uid,
	    (unsigned)nobody_uid, (unsigned)nobody_uid);
	CHECK(strcmp(status_field(c, "Uid", uid, sizeof(uid)), want) == 0);
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u",
	    (unsigned)nobody_gid, (unsigned)nobody_gid,
	    (unsigned)nobody_gid, (unsigned)nobody_gid);
	CHECK(strcmp(status_field(c, "Gid", gid, sizeof(gid)), want) == 0);
	CHECK(strcmp(status_field(c, "Seccomp", v, sizeof(v)), "2") == 0);
	CHECK(strcmp(status_field(c, "NoNewPrivs", v, sizeof(v)), "1") == 0);
	snprintf(want, sizeof(want), "%u", (unsigned)nobody_gid);
	CHECK(strcmp(status_field(c, "Groups", v, sizeof(v)), want) == 0);
	CHECK(strcmp(status_field(c, "CapEff", v, sizeof(v)),
	    "0000000000000000") == 0);
	CHECK(strcmp(c->root, wantroot) == 0);
}

/* --- probes (run in the sandboxed child; 0 is success) ----------------- */

static int
probe_nothing(void)
{
	return (0);
}

static int
probe_no_root(void)
{
	if (setuid(0) != -1 || seteuid(0) != -1 || setegid(0) != -1)
		return (2);
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0)
		return (3);
	return (0);
}

static int
probe_front_files(void)
{
	struct stat	 st;
	int		 s;

	/* File probes fail quietly instead of killing. */
	if (open("/etc/passwd", O_RDONLY) != -1 || errno != EACCES)
		return (3);
	if (openat(AT_FDCWD, "x", O_RDWR | O_CREAT, 0600) != -1 ||
	    errno != EACCES)
		return (4);
	if (stat("/", &st) != -1 || errno != EACCES)
		return (5);
	if (access("/", R_OK) != -1 || errno != EACCES)
		return (6);
	if (fstat(STDERR_FILENO, &st) == -1)
		return (7);
	/* syslog reconnect: refused, not fatal */
	if (socket(AF_UNIX, SOCK_DGRAM, 0) != -1 || errno != EACCES)
		return (8);
	if (isatty(STDERR_FILENO))
		return (9);
	/* outgoing connections to upstream servers */
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return (10);
	close(s);
	if ((s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 &&
	    errno != EAFNOSUPPORT)
		return (11);
	if (s != -1)
		close(s);
	return (0);
}

/*
 * The front's life: receive a descriptor over the imsg channel, map it
 * read-only, wait in epoll and poll, use entropy, time and the heap.
 */
static int
probe_front_fdpass(void)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct epoll_event ev;
	struct pollfd	 pfd;
	struct timespec	 ts;
	struct stat	 st;
	char		 b, rnd[32], *big, *map;
	int		 ep, fd, on = 1;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return (2);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, passfd[1], &ev) == -1)
		return (3);
	if (epoll_wait(ep, &ev, 1, 5000) != 1)
		return (4);
	pfd.fd = passfd[1];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1)
		return (5);
	if (ioctl(passfd[1], FIONBIO, &on) == -1)
		return (6);
	if (fcntl(passfd[1], F_SETFD, FD_CLOEXEC) == -1)
		return (6);

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = &b;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	if (recvmsg(passfd[1], &msg, MSG_CMSG_CLOEXEC) != 1)
		return (7);
	if ((cm = CMSG_FIRSTHDR(&msg)) == NULL ||
	    cm->cmsg_type != SCM_RIGHTS)
		return (8);
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (fstat(fd, &st) == -1 || st.st_size != (off_t)strlen(CRL_DATA))
		return (9);
	if (fcntl(fd, F_GET_SEALS) == -1)
		return (10);
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED || memcmp(map, CRL_DATA, st.st_size) != 0)
		return (11);
	munmap(map, st.st_size);
	close(fd);

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return (12);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return (13);
	if ((big = malloc(8 << 20)) == NULL)	/* mmap-backed */
		return (14);
	memset(big, 1, 8 << 20);
	free(big);
	if (send(passfd[1], "k", 1, 0) != 1)
		return (15);
	close(ep);
	return (0);
}

static int
probe_setuid(void)
{
	setuid(0);
	return (0);	/* must not be reached: killed */
}

static int
probe_execve(void)
{
	char	*argv[] = { "true", NULL };

	execve("/bin/true", argv, NULL);
	return (0);	/* must not be reached: killed */
}

static int
probe_fork(void)
{
	pid_t	 pid;

	if ((pid = fork()) == 0)
		_exit(0);
	return (0);	/* must not be reached: killed */
}

/* W^X in the front: no executable mapping. */
static int
probe_exec_mapping(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	return (0);	/* must not be reached: killed */
}

static int
probe_raw_socket(void)
{
	socket(AF_PACKET, SOCK_RAW, 0);
	return (0);	/* must not be reached: killed */
}

static int
probe_ptrace(void)
{
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return (0);	/* must not be reached: killed */
}

static int
probe_ldapd(void)
{
	struct addrinfo	 hints, *res;
	char		 buf[64];
	int		 fd;

	/* DNS through NSS: nsswitch.conf, /etc/hosts. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if (getaddrinfo("localhost", "389", &hints, &res) != 0)
		return (3);
	freeaddrinfo(res);
	if ((fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC)) == -1)
		return (4);
	if (read(fd, buf, sizeof(buf)) <= 0)
		return (5);
	close(fd);
	return (0);
}

/* Writing where DAC would allow it: only Landlock stands in the way. */
static int
probe_write_otherdir(void)
{
	char	 path[PATH_MAX];
	int	 fd;

	snprintf(path, sizeof(path), "%s/evil", otherdir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) != -1)
		return (2);
	if (errno != EACCES)
		return (3);
	return (0);
}

static void *
thread_main(void *arg)
{
	return (arg);
}

static int
probe_crld(void)
{
	char		 tmp[PATH_MAX], final[PATH_MAX];
	pthread_t	 t;
	void		*ret;
	int		 fd, mfd;

	/* libcurl's threaded resolver */
	if (pthread_create(&t, NULL, thread_main, tmp) != 0)
		return (3);
	if (pthread_join(t, &ret) != 0 || ret != tmp)
		return (4);

	/* atomic cache update */
	snprintf(tmp, sizeof(tmp), "%s/.crl.XXXXXX", cachedir);
	snprintf(final, sizeof(final), "%s/ca59.crl", cachedir);
	if ((fd = mkstemp(tmp)) == -1)
		return (5);
	if (write(fd, CRL_DATA, strlen(CRL_DATA)) !=
	    (ssize_t)strlen(CRL_DATA))
		return (6);
	if (fsync(fd) == -1 || close(fd) == -1)
		return (7);
	if (rename(tmp, final) == -1)
		return (8);
	if ((fd = open(final, O_RDONLY | O_CLOEXEC)) == -1)
		return (9);
	close(fd);
	if ((fd = open(final, O_WRONLY | O_TRUNC | O_CLOEXEC)) == -1)
		return (10);
	close(fd);
	if (unlink(final) == -1)
		return (11);

	/* CRL handed to the parent as a sealed memfd */
	if ((mfd = memfd_create("crl", MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return (12);
	if (write(mfd, CRL_DATA, strlen(CRL_DATA)) !=
	    (ssize_t)strlen(CRL_DATA))
		return (13);
	if (ftruncate(mfd, strlen(CRL_DATA)) == -1)
		return (14);
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1)
		return (15);
	close(mfd);

	/* reading a file:// CRL anywhere */
	if ((fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC)) == -1)
		return (16);
	close(fd);
	return (0);
}

/* --- tests ---------------------------------------------------------------- */

static void
test_privdrop_lookup(void)
{
	uid_t	 uid;
	gid_t	 gid;

	CHECK(privdrop_lookup(TEST_USER, &uid, &gid) == 0);
	CHECK(uid == nobody_uid && gid == nobody_gid && uid != 0);
	CHECK(privdrop_lookup("no-such-user-smtpcertd", &uid, &gid) == -1);
	CHECK(privdrop_lookup("", &uid, &gid) == -1);
}

static void
test_privdrop_only(void)
{
	struct child	 c;

	run_child(K_NONE, 0, probe_nothing, &c);
	CHECK_CHILD(&c, c.ready && exited_ok(&c));
	/* privdrop without a sandbox: run it by hand */
	fflush(stdout);
	if ((c.pid = fork()) == 0) {
		privdrop(TEST_USER, chrootdir);
		if (getuid() != nobody_uid || getgid() != nobody_gid)
			_exit(2);
		_exit(probe_no_root() ? 3 : 0);
	}
	waitpid(c.pid, &c.status, 0);
	CHECK(exited_ok(&c));
}

static void
test_privdrop_refuses_writable_chroot(void)
{
	char	 dir[] = "/tmp/t_sandbox.w.XXXXXX";
	pid_t	 pid;
	int	 status;

	if (mkdtemp(dir) == NULL) {
		CHECK(!"mkdtemp");
		return;
	}
	chmod(dir, 0777);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		int	 null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);	/* the expected fatal */
		privdrop(TEST_USER, dir);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	rmdir(dir);
}

static void
test_front_confined(void)
{
	struct child	 c;

	run_child(K_FRONT, 0, probe_front_files, &c);
	check_confined(&c, chrootdir);
	CHECK_CHILD(&c, exited_ok(&c));
}

static void
test_front_fd_passing(void)
{
	struct child	 c;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	char		 b = 'c';
	int		 mfd;

	/* The message is queued before the child runs its probe. */
	mfd = memfd_create("crl", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(mfd != -1);
	CHECK(write(mfd, CRL_DATA, strlen(CRL_DATA)) ==
	    (ssize_t)strlen(CRL_DATA));
	CHECK(fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK |
	    F_SEAL_GROW | F_SEAL_SEAL) == 0);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = &b;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &mfd, sizeof(int));
	CHECK(sendmsg(passfd[0], &msg, 0) == 1);
	close(mfd);

	run_child(K_FRONT, 0, probe_front_fdpass, &c);
	check_confined(&c, chrootdir);
	CHECK_CHILD(&c, exited_ok(&c));
	CHECK(recv(passfd[0], &b, 1, MSG_DONTWAIT) == 1 && b == 'k');
}

static void
test_front_setuid_killed(void)
{
	struct child	 c;

	run_child(K_FRONT, 0, probe_setuid, &c);
	CHECK_CHILD(&c, c.ready && killed_by_sigsys(&c));
}

static void
test_ldapd_setuid_killed(void)
{
	struct child	 c;

	run_child(K_LDAPD, 0, probe_setuid, &c);
	CHECK_CHILD(&c, c.ready && killed_by_sigsys(&c));
}

static void
test_crld_setuid_killed(void)
{
	struct child	 c;

	run_child(K_CRLD, 0, probe_setuid, &c);
	CHECK_CHILD(&c, c.ready && killed_by_sigsys(&c));
}

static void
test_front_execve_killed(void)
{
	struct child	 c;

	run_child(K_FRONT, 0, probe_execve, &c);
	CHECK_CHILD(&c, c.ready && killed_by_sigsys(&c));
}

static void
test_front_fork_killed(void)
{
	struct child	 c;

	run_child(K_FRONT, 0, probe_fork, &c);
	CHECK_CHILD(&c, c.ready && killed_by_sigsys(&c));
}

static void
test_front_exec_mapping_killed(void)
{
	struct child	 c;

	run_child(K_FRONT, 0, probe_exec_mapping, &c);
	CHECK_CHILD(&c, c.ready && killed_by_sigsys(&c));
}

static void
test_front_raw_socket_killed(void)
{
	struct child	 c;

	run_child(K_FRONT, 0, probe_raw_socket, &c);
	CHECK_CHILD(&c, c.ready && killed_by_sigsys(&c));
}

static void
test_front_debug_names_syscall(void)
{
	struct child	 c;

	run_child(K_FRONT, 1, probe_execve, &c);
	CHECK(c.ready);
	CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 1);
	CHECK(strstr(c.err, "sandbox violation: syscall 59 (execve)\n") !=
	    NULL);
}

static void
test_ldapd_confined(void)
{
	struct child	 c;

	run_child(K_LDAPD, 0, probe_ldapd, &c);
	check_confined(&c, "/");
	CHECK_CHILD(&c, exited_ok(&c));
}

static void
test_ldapd_execve_killed(void)
{
	struct child	 c;

	run_child(K_LDAPD, 0, probe_execve, &c);
	CHECK_CHILD(&c, c.ready && killed_by_sigsys(&c));
}

static void
test_ldapd_landlock_no_writes(void)
{
	struct child	 c;

	run_child(K_LDAPD, 0, probe_write_otherdir, &c);
	CHECK_CHILD(&c, c.ready && exited_ok(&c));
}

static void
test_crld_confined(void)
{
	struct child	 c;

	run_child(K_CRLD, 0, probe_crld, &c);
	check_confined(&c, "/");
	CHECK_CHILD(&c, exited_ok(&c));
}

static void
test_crld_ptrace_killed(void)
{
	struct child	 c;

	run_child(K_CRLD, 0, probe_ptrace, &c);
	CHECK_CHILD(&c, c.ready && killed_by_sigsys(&c));
}

static void
test_crld_fork_killed(void)
{
	struct child	 c;

	run_child(K_CRLD, 0, probe_fork, &c);
	CHECK_CHILD(&c, c.ready && killed_by_sigsys(&c));
}

static void
test_crld_landlock_write_elsewhere_refused(void)
{
	struct child	 c;

	run_child(K_CRLD, 0, probe_write_otherdir, &c);
	CHECK_CHILD(&c, c.ready && exited_ok(&c));
}

/* Without Landlock: one clear log line, and the rest of the sandbox holds. */
static void
test_crld_without_landlock_logs_and_runs(void)
{
	struct child	 c;

	hide_landlock = 1;
	run_child(K_CRLD, 0, probe_crld, &c);
	hide_landlock = 0;
	check_confined(&c, "/");
	CHECK_CHILD(&c, exited_ok(&c));
	CHECK_CHILD(&c, strstr(c.err, "landlock not available: ") != NULL);
}

static void
test_front_without_landlock_logs_and_runs(void)
{
	struct child	 c;

	hide_landlock = 1;
	run_child(K_FRONT, 0, probe_front_files, &c);
	hide_landlock = 0;
	check_confined(&c, chrootdir);
	CHECK_CHILD(&c, exited_ok(&c));
	CHECK_CHILD(&c, strstr(c.err, "landlock not available: ") != NULL);
}

/* --- harness -------------------------------------------------------------- */

static int	setup(void);
static void	cleanup(void);

#define TESTS(X)						\
	X(test_privdrop_lookup, 0)				\
	X(test_privdrop_only, 0)				\
	X(test_privdrop_refuses_writable_chroot, 0)		\
	X(test_front_confined, 0)				\
	X(test_front_fd_passing, 0)				\
	X(test_front_setuid_killed, 0)				\
	X(test_front_execve_killed, 0)				\
	X(test_front_fork_killed, 0)				\
	X(test_front_exec_mapping_killed, 0)			\
	X(test_front_raw_socket_killed, 0)			\
	X(test_front_debug_names_syscall, 0)			\
	X(test_ldapd_confined, 0)				\
	X(test_ldapd_setuid_killed, 0)				\
	X(test_ldapd_execve_killed, 0)				\
	X(test_ldapd_landlock_no_writes, 1)			\
	X(test_crld_confined, 0)				\
	X(test_crld_setuid_killed, 0)				\
	X(test_crld_ptrace_killed, 0)				\
	X(test_crld_fork_killed, 0)				\
	X(test_crld_landlock_write_elsewhere_refused, 1)	\
	X(test_crld_without_landlock_logs_and_runs, 0)		\
	X(test_front_without_landlock_logs_and_runs, 0)

#define SKIP_ALL(fn, ll)	printf("ok - %s # skip not root\n", #fn);
#define RUN_ONE(fn, ll) do {						\
	if ((ll) && !have_landlock)					\
		printf("ok - %s # skip landlock not available in this "\
		    "kernel\n", #fn);					\
	else								\
		RUN(fn);						\
} while (0);

/* A fresh directory under /tmp, by its real path. */
static int
make_dir(const char *tmpl, char *out)
{
	char	 buf[DIRLEN], *p, *real;

	snprintf(buf, sizeof(buf), "%s", tmpl);
	if ((p = mkdtemp(buf)) == NULL || (real = realpath(p, NULL)) == NULL)
		return (-1);
	if (snprintf(out, DIRLEN, "%s", real) >= DIRLEN) {
		free(real);
		return (-1);
	}
	free(real);
	return (0);
}

static int
setup(void)
{
	if (privdrop_lookup(TEST_USER, &nobody_uid, &nobody_gid) == -1) {
		fprintf(stderr, "no user %s\n", TEST_USER);
		return (-1);
	}
	if (make_dir("/tmp/t_sandbox.root.XXXXXX", chrootdir) == -1 ||
	    make_dir("/tmp/t_sandbox.cache.XXXXXX", cachedir) == -1 ||
	    make_dir("/tmp/t_sandbox.other.XXXXXX", otherdir) == -1)
		return (-1);
	/* Reachable by nobody; writable by nobody (DAC allows, Landlock
	 * decides). */
	if (chmod(chrootdir, 0755) == -1 || chmod(cachedir, 0700) == -1 ||
	    chown(cachedir, nobody_uid, nobody_gid) == -1 ||
	    chown(otherdir, nobody_uid, nobody_gid) == -1)
		return (-1);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, passfd) == -1)
		return (-1);
	have_landlock = landlock_available();
	return (0);
}

static void
cleanup(void)
{
	char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/evil", otherdir);
	unlink(path);
	rmdir(otherdir);
	rmdir(cachedir);
	rmdir(chrootdir);
}

int
main(void)
{
	log_init(1, 0);
	log_procinit("t_sandbox");

	if (geteuid() != 0) {
		TESTS(SKIP_ALL)
		return (0);
	}
	if (setup() == -1) {
		perror("t_sandbox: setup");
		cleanup();
		printf("not ok - t_sandbox setup\n");
		return (1);
	}
	if (!have_landlock)
		printf("# landlock not available in this kernel\n");
	TESTS(RUN_ONE)
	cleanup();
	TEST_EXIT();
}
