/*
 * smtpcertd: the parent process.  Runs as root, reads the configuration
 * and every file it names, binds the listening sockets, starts the front,
 * ldapd-helper and crld, restarts them when they die, serves the control
 * socket and reloads on SIGHUP.  "smtpcertd -T front" is the front process
 * re-executed by the parent (see front.c).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "config.h"
#include "confmsg.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "smtpcertd.h"

#define SMTPCERTD_CONF	SYSCONFDIR "/smtpcertd.conf"
#define SMTPCERTD_PID	"/run/smtpcertd.pid"

static void	usage(void) __attribute__((noreturn));
static void	parent_signal(evutil_socket_t, short, void *);
static struct conf_bundle *parent_load(const char *, int, char *, size_t);
static int	parent_prepare_dirs(struct smtpcertd_conf *, int);
static int	parent_check(const char *, int, int);
static int	parent_daemonize(void);
/* Ours alone: the modules that need reload and install get them as
 * callbacks (control_init(), resolve_init()), never calling up here. */
static int	parent_reload(char *, size_t);
static void	parent_install(struct conf_bundle *);
static void	parent_shutdown(void);

static void
usage(void)
{
	fprintf(stderr, "usage: smtpcertd [-dNnv] [-D macro=value] "
	    "[-f file] [-p pidfile]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct conf_bundle	*b;
	struct event		*ev_hup, *ev_term, *ev_int, *ev_chld;
	const char		*conffile = SMTPCERTD_CONF;
	const char		*pidfile = NULL, *title = NULL;
	char			 exe[PATH_MAX], why[4096];
	int			 ch, foreground = 0, verbose = 0, noaction = 0;
	int			 parseonly = 0;
	int			 readyfd = -1;
	ssize_t			 n;
	FILE			*fp;

	/* Misspelt TLS 1.3 suites are errors with file:line (tlsopts.h). */
	tlsopts_set_suites_check(tlsopts_ssl_check_suites);
	while ((ch = getopt(argc, argv, "dD:f:Nnp:T:v")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'D':
			if (config_define_macro(optarg) == -1)
				errx(1, "could not parse macro definition %s",
				    optarg);
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'N':
			parseonly = 1;
			/* FALLTHROUGH */
		case 'n':
			noaction = 1;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'T':
			title = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/* The parent sets these for its children only (log.c). */
	if (title == NULL) {
		unsetenv(LOG_ENV_FACILITY);
		unsetenv(LOG_ENV_STDERR);
	}
	if (title != NULL) {
		if (strcmp(title, "front") == 0)
			return front_main(foreground, verbose);
		if (strcmp(title, "keys") == 0)
			return keys_main(foreground, verbose);
		errx(1, "unknown process %s", title);
	}

	/* Config check: errors to stderr, printout to stdout. */
	log_init(1, verbose);
	log_procinit("smtpcertd");
	if (noaction)
		exit(parent_check(conffile, parseonly, verbose));

	if (geteuid() != 0)
		errx(1, "need root privileges");

	if ((parent = calloc(1, sizeof(*parent))) == NULL)
		err(1, NULL);
	parent->conffile = conffile;
	parent->foreground = foreground;
	parent->started = time(NULL);
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) == -1)
		err(1, "readlink /proc/self/exe");
	exe[n] = '\0';
	if ((parent->self_exe = strdup(exe)) == NULL)
		err(1, NULL);
	/* Tests run the helpers from the build tree. */
	if ((parent->libexec = getenv("SMTPCERTD_LIBEXEC")) == NULL)
		parent->libexec = LIBEXECDIR;

	if ((b = parent_load(conffile, 0, why, sizeof(why))) == NULL)
		exit(1);
	/* Still in the foreground: a file that cannot be opened is said on
	 * stderr. */
	if (logfile_apply(b->conf) == -1)
		exit(1);

	if (!foreground) {
		if ((readyfd = parent_daemonize()) == -1)
			err(1, "daemon");
		if (pidfile == NULL)
			pidfile = SMTPCERTD_PID;
	}
	log_init(foreground, verbose);
	log_timestamps(foreground);
	log_procinit("parent");

	signal(SIGPIPE, SIG_IGN);
	if ((parent->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	ev_hup = evsignal_new(parent->base, SIGHUP, parent_signal, NULL);
	ev_term = evsignal_new(parent->base, SIGTERM, parent_signal, NULL);
	ev_int = evsignal_new(parent->base, SIGINT, parent_signal, NULL);
	ev_chld = evsignal_new(parent->base, SIGCHLD, parent_signal, NULL);
	evsignal_add(ev_hup, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_chld, NULL);

	/* Fixed for the daemon's life: each front has its own sockets
	 * (listen.c) and its own session counts (fronts.c). */
	parent->nfronts = config_front_processes(b->conf);
	parent->fronts_configured = b->conf->front_processes;
	fronts_init(parent->nfronts);
	if (listen_bind_all(b, NULL) == -1)
		fatalx("could not open the listening sockets");
	/* Our reload, for the control socket's `reload'. */
	if (control_init(b->conf->control_socket, b->conf->control_group,
	    b->conf->control_group_changes, parent_reload) == -1)
		fatalx("could not open the control socket");
	if (metrics_prepare(b->conf) == -1)
		fatalx("could not open the metrics endpoint");
	parent->cur = b;
	parent->last_reload = time(NULL);
	snprintf(parent->last_reload_result,
	    sizeof(parent->last_reload_result), "started");

	proc_init();
	proc_start_all();
	control_listen();
	metrics_commit();
	/* New addresses from the re-resolution timer go in as a reload's
	 * do. */
	resolve_init(parent_install);
	resolve_schedule();
	log_info("smtpcertd %s started, configuration %s", SMTPCERTD_VERSION,
	    conffile);
	/* Only now: a PID file names a daemon that is up. */
	if (pidfile != NULL) {
		if ((fp = fopen(pidfile, "w")) == NULL)
			fatal("%s", pidfile);
		fprintf(fp, "%ld\n", (long)getpid());
		fclose(fp);
	}
	if (readyfd != -1) {
		/* Listening, PID file written: the starting process may go. */
		if (write(readyfd, "1", 1) != 1)
			log_warn("readiness pipe");
		close(readyfd);
	}

	event_base_dispatch(parent->base);

	control_cleanup();
	metrics_cleanup();
	if (pidfile != NULL)
		unlink(pidfile);
	log_info("terminated");
	evsignal_del(ev_hup);
	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_chld);
	conf_bundle_free(parent->cur);
	return 0;
}

static void
parent_signal(evutil_socket_t sig, short event, void *arg)
{
	char	 why[4096];

	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP received, reloading %s", parent->conffile);
		parent_reload(why, sizeof(why));
		break;
	case SIGTERM:
	case SIGINT:
		log_info("signal %d received, shutting down", (int)sig);
		parent_shutdown();
		break;
	case SIGCHLD:
		proc_reap();
		break;
	}
}

/*
 * daemon(3), but the process that was started exits only when the daemon
 * is ready -- listening sockets bound, control socket open, PID file
 * written -- with 0, or with 1 if the daemon died before.  So an rc
 * script or systemd (Type=forking, PIDFile=) sees a start that failed
 * fail, and finds the PID file in place as soon as the start returns.
 * Returns the pipe end to write one byte to when ready.
 */
static int
parent_daemonize(void)
{
	int	 fds[2], fd;
	char	 c;
	ssize_t	 n;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	switch (fork()) {
	case -1:
		return -1;
	case 0:
		break;
	default:
		close(fds[1]);
		do
			n = read(fds[0], &c, 1);
		while (n == -1 && errno == EINTR);
		if (n != 1) {
			fprintf(stderr, "smtpcertd: the daemon exited during "
			    "start-up (see the system log)\n");
			_exit(1);
		}
		_exit(0);
	}
	close(fds[0]);
	if (setsid() == -1 || chdir("/") == -1)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return fds[1];
}

/*
 * Parse the file, resolve the names, load everything it names and prepare
 * the directories: at start, at reload and for smtpcertd -n (check: the
 * directories are looked at, not made, and the files the unprivileged
 * user reads are tried as that user).  Every step runs even when an
 * earlier one found errors, so one run reports them all.  On failure
 * every error has been logged, and copied into why for the control
 * client.
 */
static struct conf_bundle *
parent_load(const char *file, int check, char *why, size_t whylen)
{
	struct smtpcertd_conf	*conf;
	struct conf_bundle	*b;
	char			*names = NULL;
	size_t			 len;
	int			 errors = 0;

	log_capture(why, whylen);
	if ((conf = config_parse_file_check(file, &errors)) == NULL) {
		log_capture(NULL, 0);
		return NULL;
	}
	/* Children get addresses, never names to resolve; the timer
	 * re-resolves from the names.  (With errors it cannot be
	 * printed.) */
	if (errors == 0 && (names = config_text(conf, &len)) == NULL)
		fatalx("could not print the configuration");
	if (resolve_relays(conf, check) == -1)
		errors++;
	b = conf_bundle_new(parent != NULL ? ++parent->next_gen : 0);
	b->conf = conf;
	b->names_text = names;
	if (load_files(b) == -1)
		errors++;
	if (parent_prepare_dirs(conf, !check) == -1)
		errors++;
	if (check && load_check_user_files(conf) == -1)
		errors++;
	if (errors == 0 && (b->text = config_text(conf, &len)) == NULL)
		fatalx("could not print the configuration");
	b->textlen = len;
	log_capture(NULL, 0);
	if (errors != 0) {
		conf_bundle_free(b);
		return NULL;
	}
	return b;
}

/*
 * smtpcertd -n: what start would do up to binding the ports, without
 * making anything.  -N only parses (the grammar and the references, for
 * a configuration written on another machine).  Errors and warnings to
 * stderr; with -v the configuration as parsed (names, not addresses) to
 * stdout.  The exit status.
 */
static int
parent_check(const char *file, int parseonly, int verbose)
{
	struct smtpcertd_conf	*conf;
	struct conf_bundle	*b;
	char			 why[4096];

	if (parseonly) {
		if ((conf = config_parse_file(file)) == NULL)
			return 1;
		if (verbose)
			config_print(stdout, conf);
		else
			fprintf(stderr, "configuration OK\n");
		config_free(conf);
		return 0;
	}
	if ((b = parent_load(file, 1, why, sizeof(why))) == NULL) {
		fprintf(stderr, "configuration %s has errors\n", file);
		return 1;
	}
	if (verbose)
		fputs(b->names_text, stdout);
	else
		fprintf(stderr, "configuration OK\n");
	conf_bundle_free(b);
	return 0;
}

/*
 * A directory start makes when it is missing (mkdir, one level): with
 * create 0 (smtpcertd -n) only whether it could.  0, or -1 logged.
 */
static int
parent_dir(const char *what, const char *dir, mode_t mode, int create)
{
	struct stat	 st;
	char		 up[PATH_MAX];
	char		*slash;

	if (create) {
		if (mkdir(dir, mode) == -1 && errno != EEXIST) {
			log_warn("%s: mkdir %s", what, dir);
			return -1;
		}
		return 0;
	}
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			log_warnx("%s %s is not a directory", what, dir);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		log_warn("%s %s", what, dir);
		return -1;
	}
	/* Start makes it if the directory above exists. */
	if (strlcpy(up, dir, sizeof(up)) >= sizeof(up) ||
	    (slash = strrchr(up, '/')) == NULL) {
		log_warnx("%s %s: bad path", what, dir);
		return -1;
	}
	if (slash == up)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(up, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warnx("%s %s does not exist and cannot be made: no "
		    "directory %s", what, dir, up);
		return -1;
	}
	return 0;
}

/*
 * The chroot must exist, be owned by root and not be writable by anyone
 * else; the CRL cache belongs to the unprivileged user.  create 0
 * (smtpcertd -n): check without making or changing anything.  Every
 * problem is logged, not only the first.
 */
static int
parent_prepare_dirs(struct smtpcertd_conf *conf, int create)
{
	struct stat	 st;
	uid_t		 uid;
	gid_t		 gid;
	int		 errors = 0, known = 1;

	if (privdrop_lookup(conf->user, &uid, &gid) == -1) {
		log_warnx("unknown user %s (create it, e.g. useradd --system "
		    "--no-create-home --shell /usr/sbin/nologin %s)",
		    conf->user, conf->user);
		errors++;
		known = 0;
	}
	if (parent_dir("chroot", conf->chroot, 0755, create) == -1)
		errors++;
	else if (stat(conf->chroot, &st) == -1) {
		if (create || errno != ENOENT) {
			log_warn("chroot %s", conf->chroot);
			errors++;
		}
	} else if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		log_warnx("chroot %s must be a directory owned by root and "
		    "writable only by root", conf->chroot);
		errors++;
	}
	if (parent_dir("crl cache", conf->crl_cachedir, 0700, create) == -1)
		errors++;
	else if (create && known &&
	    chown(conf->crl_cachedir, uid, gid) == -1) {
		log_warn("chown %s", conf->crl_cachedir);
		errors++;
	}
	/* Start opens (makes) it itself, in main(). */
	if (!create && logfile_check(conf) == -1)
		errors++;
	return errors ? -1 : 0;
}

/*
 * Make b the running generation: the children get it (running sessions
 * finish under the one they started with) and the re-resolution timer
 * follows its settings.
 */
static void
parent_install(struct conf_bundle *b)
{
	struct conf_bundle	*old = parent->cur;
	int			 i;

	parent->cur = b;
	for (i = 0; i < SLOT_MAX; i++)
		proc_send_config(&parent->children[i]);
	conf_bundle_free(old);
	resolve_schedule();
}

static int
parent_reload(char *why, size_t whylen)
{
	struct conf_bundle	*b, *old = parent->cur;

	parent->last_reload = time(NULL);
	if ((b = parent_load(parent->conffile, 0, why, whylen)) == NULL) {
		log_warnx("configuration %s has errors, keeping the running "
		    "configuration", parent->conffile);
		snprintf(parent->last_reload_result,
		    sizeof(parent->last_reload_result),
		    "refused: configuration has errors");
		/* Reopen the file anyway: logrotate's HUP. */
		logfile_apply(old->conf);
		return -1;
	}
	/* The metrics endpoint first: listen_bind_all() hands the old
	 * generation's sockets over when it succeeds, so nothing may fail
	 * after it.  (parent_load() prepared the directories.) */
	if (metrics_prepare(b->conf) == -1 ||
	    listen_bind_all(b, old) == -1) {
		metrics_abort();
		snprintf(why, whylen, "could not set up the new "
		    "configuration, see the log");
		snprintf(parent->last_reload_result,
		    sizeof(parent->last_reload_result), "refused: %s", why);
		conf_bundle_free(b);
		logfile_apply(old->conf);
		return -1;
	}
	/* Reopened at each reload, for logrotate; children take a new
	 * facility or file when they restart. */
	logfile_apply(b->conf);
	if (strcmp(b->conf->user, old->conf->user) != 0 ||
	    strcmp(b->conf->chroot, old->conf->chroot) != 0)
		log_warnx("user and chroot changes take effect when the "
		    "processes restart");
	if (strcmp(b->conf->control_socket, old->conf->control_socket) != 0)
		log_warnx("control socket changes take effect at restart");
	if (config_front_processes(b->conf) != parent->nfronts)
		log_warnx("front processes changes take effect at restart; "
		    "%d front processes keep running", parent->nfronts);
	control_reconfigure(b->conf);

	metrics_commit();
	parent_install(b);
	snprintf(parent->last_reload_result,
	    sizeof(parent->last_reload_result), "generation %llu loaded",
	    (unsigned long long)b->gen);
	snprintf(why, whylen, "configuration reloaded (generation %llu)",
	    (unsigned long long)b->gen);
	log_info("%s", why);
	return 0;
}

static void
parent_shutdown(void)
{
	if (parent->shutting_down)
		return;
	parent->shutting_down = 1;
	proc_stop_all();
	logfile_shutdown();
	event_base_loopexit(parent->base, NULL);
}
