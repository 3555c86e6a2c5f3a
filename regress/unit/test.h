/*
 * A tiny TAP-style harness for unit tests.  Each t_*.c defines test
 * functions and lists them in main() with RUN(fn).  Every test prints
 * "ok - name" or "not ok - name"; regress/run.sh counts those lines.
 */
#ifndef SMTPCERTD_TEST_H
#define SMTPCERTD_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int	test_failed_now;
static int	test_total_failed;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "  %s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		test_failed_now = 1;					\
	}								\
} while (0)

#define RUN(fn) do {							\
	test_failed_now = 0;						\
	fn();								\
	printf("%s - %s\n", test_failed_now ? "not ok" : "ok", #fn);	\
	fflush(stdout);							\
	test_total_failed += test_failed_now;				\
} while (0)

#define TEST_EXIT()	return (test_total_failed ? 1 : 0)

#endif
