/*
 * Failed-login rate limiting (common/authfail.c): the test includes the
 * source to reach its internals.
 */
#include "../../common/authfail.c"

#include "test.h"

static void
test_blocks_user_after_limit_failures(void)
{
	authfail_clear();
	CHECK(!authfail_blocked("bob", "10.0.0.1", 3, 60, 1000));
	authfail_record("bob", "10.0.0.1", 60, 1000);
	authfail_record("bob", "10.0.0.2", 60, 1001);
	CHECK(!authfail_blocked("bob", "10.0.0.3", 3, 60, 1002));
	authfail_record("bob", "10.0.0.3", 60, 1002);
	/* Third failure for bob from three addresses: bob is blocked
	 * everywhere, the addresses are not blocked for others. */
	CHECK(authfail_blocked("bob", "10.0.0.9", 3, 60, 1003));
	CHECK(!authfail_blocked("carol", "10.0.0.1", 3, 60, 1003));
}

static void
test_blocks_address_across_users(void)
{
	authfail_clear();
	authfail_record("a", "192.0.2.1", 60, 1000);
	authfail_record("b", "192.0.2.1", 60, 1000);
	authfail_record("c", "192.0.2.1", 60, 1000);
	CHECK(authfail_blocked("d", "192.0.2.1", 3, 60, 1001));
	CHECK(authfail_blocked(NULL, "192.0.2.1", 3, 60, 1001));
	CHECK(!authfail_blocked("d", "192.0.2.2", 3, 60, 1001));
}

static void
test_window_expires(void)
{
	authfail_clear();
	authfail_record("bob", "10.0.0.1", 60, 1000);
	authfail_record("bob", "10.0.0.1", 60, 1000);
	CHECK(authfail_blocked("bob", "10.0.0.1", 2, 60, 1059));
	CHECK(!authfail_blocked("bob", "10.0.0.1", 2, 60, 1060));
	CHECK(authfail_count() == 0);
}

static void
test_user_and_address_keys_are_distinct(void)
{
	authfail_clear();
	/* A user named like an address does not block the address. */
	authfail_record("10.0.0.7", "10.0.0.1", 60, 1000);
	authfail_record("10.0.0.7", "10.0.0.2", 60, 1000);
	CHECK(authfail_blocked("10.0.0.7", "10.0.0.3", 2, 60, 1000));
	CHECK(!authfail_blocked("x", "10.0.0.7", 2, 60, 1000));
}

static void
test_limit_zero_disables(void)
{
	authfail_clear();
	authfail_record("bob", "10.0.0.1", 60, 1000);
	CHECK(!authfail_blocked("bob", "10.0.0.1", 0, 60, 1000));
}

static void
test_table_is_bounded(void)
{
	char	 u[32];
	int	 i;

	authfail_clear();
	for (i = 0; i < AUTHFAIL_MAX_RECORDS; i++) {
		snprintf(u, sizeof(u), "user%d", i);
		authfail_record(u, "198.51.100.1", 3600, 1000 + i / 1000);
	}
	CHECK(authfail_count() <= AUTHFAIL_MAX_RECORDS);
	/* The address record survives eviction of old user records as
	 * long as it is not the oldest; either way memory is bounded. */
	CHECK(authfail_blocked(NULL, "198.51.100.1", 5, 3600, 1100) ||
	    authfail_count() == AUTHFAIL_MAX_RECORDS);
	authfail_clear();
	CHECK(authfail_count() == 0);
}

/* Issue 17: the parent's copy to a restarted front. */
struct exported {
	char	 key[AUTHFAIL_KEY_MAX];
	time_t	 start;
	int	 count;
};
static struct exported	 ex[8];
static int		 nex;

static void
export_one(const char *key, time_t start, int count, void *arg)
{
	(void)arg;
	if (nex < 8) {
		snprintf(ex[nex].key, sizeof(ex[nex].key), "%s", key);
		ex[nex].start = start;
		ex[nex].count = count;
	}
	nex++;
}

static void
test_export_and_load(void)
{
	int	 i;

	authfail_clear();
	authfail_record("old", "10.0.0.9", 60, 900);	/* expired at 1000 */
	authfail_record("bob", "10.0.0.1", 60, 990);
	authfail_record("bob", "10.0.0.1", 60, 995);
	nex = 0;
	authfail_foreach(60, 1000, export_one, NULL);
	CHECK(nex == 2);		/* u:bob, a:10.0.0.1, oldest first */
	CHECK(strcmp(ex[0].key, "u:bob") == 0 && ex[0].count == 2 &&
	    ex[0].start == 990);
	CHECK(strcmp(ex[1].key, "a:10.0.0.1") == 0);
	/* A fresh front: it blocks as the old one did, adds its own. */
	authfail_clear();
	authfail_record("bob", "10.0.0.2", 60, 1000);	/* counted first */
	for (i = 0; i < 2; i++)
		CHECK(authfail_load(ex[i].key, ex[i].start, ex[i].count,
		    1000) == 0);
	CHECK(authfail_blocked("bob", "10.0.0.3", 3, 60, 1001));
	CHECK(!authfail_blocked("carol", "10.0.0.1", 3, 60, 1001));
	CHECK(authfail_blocked("carol", "10.0.0.1", 2, 60, 1001));
	/* The loaded start keeps the window: gone at 990 + 60. */
	CHECK(!authfail_blocked("bob", "10.0.0.3", 3, 60, 1050));
	/* What the parent never sends is refused. */
	CHECK(authfail_load("x:bob", 1000, 1, 1000) == -1);
	CHECK(authfail_load("u", 1000, 1, 1000) == -1);
	CHECK(authfail_load("u:bob", 1000, 0, 1000) == -1);
	CHECK(authfail_load("u:bob", 1000, AUTHFAIL_COUNT_MAX + 1, 1000) == -1);
	/* A start in the future counts from now, not longer. */
	authfail_clear();
	CHECK(authfail_load("u:eve", 5000, 3, 1000) == 0);
	CHECK(!authfail_blocked("eve", "10.0.0.1", 3, 60, 1060));
	authfail_clear();
}

int
main(void)
{
	RUN(test_blocks_user_after_limit_failures);
	RUN(test_blocks_address_across_users);
	RUN(test_window_expires);
	RUN(test_user_and_address_keys_are_distinct);
	RUN(test_limit_zero_disables);
	RUN(test_table_is_bounded);
	RUN(test_export_and_load);
	TEST_EXIT();
}
