/*
 * A child's side of `log file' (common/log.c): its lines go to stderr, a
 * non-blocking pipe the parent drains.  A full pipe never blocks the
 * child: the lines that do not fit are dropped and counted, and the next
 * line that fits is preceded by one saying how many; every line is one
 * whole write of at most PIPE_BUF bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

#include "test.h"

static int	 rfd = -1, wfd = -1, saved_stderr = -1;

/* stderr is the pipe only while logging: CHECK() writes to stderr. */
static void
to_pipe(void)
{
	dup2(wfd, STDERR_FILENO);
}

static void
to_terminal(void)
{
	dup2(saved_stderr, STDERR_FILENO);
}
static char	 got[1 << 20];

/* Everything in the pipe now, NUL-terminated; its length. */
static size_t
drain(void)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len < sizeof(got) - 1 &&
	    (n = read(rfd, got + len, sizeof(got) - 1 - len)) > 0)
		len += n;
	got[len] = '\0';
	return len;
}

/* Every line of got has the shape of a child's line. */
static int
whole_lines(int *count)
{
	regex_t		 re;
	char		*line, *save = NULL;
	int		 ok = 1;

	*count = 0;
	if (regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
	    "[0-9]{2}\\.[0-9]{3}Z front\\[[0-9]+\\]: ", REG_EXTENDED) != 0)
		return 0;
	if (got[0] != '\0' && got[strlen(got) - 1] != '\n')
		ok = 0;
	for (line = strtok_r(got, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (regexec(&re, line, 0, NULL, 0) != 0) {
			fprintf(stderr, "  not whole: %.80s\n", line);
			ok = 0;
		}
		(*count)++;
	}
	regfree(&re);
	return ok;
}

static void
test_full_pipe_drops_and_counts(void)
{
	char	 pad[200], want[128], *p;
	int	 i, kept, dropped;

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	/* Far more than the pipe holds; a blocking write would hang here
	 * (alarm() in main() ends it). */
	to_pipe();
	for (i = 0; i < 200; i++)
		log_info("line %d %s", i, pad);
	to_terminal();
	drain();
	CHECK(whole_lines(&kept));
	CHECK(kept > 0 && kept < 200);
	dropped = 200 - kept;

	to_pipe();
	log_info("after the burst");
	to_terminal();
	drain();
	snprintf(want, sizeof(want), "]: %d log lines dropped: the pipe to "
	    "the log file was full\n", dropped);
	CHECK((p = strstr(got, want)) != NULL);
	CHECK(p != NULL && strstr(p, "]: after the burst\n") != NULL);
	CHECK(whole_lines(&kept));
	CHECK(kept == 2);

	/* Counted once: the next line comes alone. */
	to_pipe();
	log_info("quiet again");
	to_terminal();
	drain();
	CHECK(strstr(got, "dropped") == NULL);
	CHECK(strstr(got, "]: quiet again\n") != NULL);
}

static void
test_long_line_one_write(void)
{
	static char	 big[8000];
	size_t		 len;
	int		 n;

	memset(big, 'y', sizeof(big) - 1);
	to_pipe();
	log_info("%s", big);
	to_terminal();
	len = drain();
	CHECK(len == PIPE_BUF);
	CHECK(got[len - 1] == '\n');
	CHECK(whole_lines(&n) && n == 1);
}

int
main(void)
{
	int	 fds[2];

	alarm(20);
	if (pipe2(fds, O_NONBLOCK) == -1)
		return 2;
	/* The smallest pipe: one page. */
	(void)fcntl(fds[1], F_SETPIPE_SZ, 4096);
	rfd = fds[0];
	saved_stderr = dup(STDERR_FILENO);
	setenv(LOG_ENV_STDERR, "1", 1);
	log_init(0, 0);
	log_timestamps(0);
	log_procinit("front");
	wfd = fds[1];
	RUN(test_full_pipe_drops_and_counts);
	RUN(test_long_line_one_write);
	TEST_EXIT();
}
