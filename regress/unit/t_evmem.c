/*
 * libevent's allocator (smtpcertd/front/evmem.c): blocks keep their contents and
 * alignment through random malloc/realloc/free against a shadow copy;
 * a burst's slabs are unmapped once their blocks are free; large blocks
 * grow by mremap; and a real event_base runs on it with thousands of
 * descriptors' events added and freed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "evmem.h"

#include "test.h"

#define NSLOT	2000

struct slot {
	unsigned char	*p;
	size_t		 n;
	unsigned char	 fill;
};

static int
slot_ok(const struct slot *s)
{
	size_t	 i;

	if (((uintptr_t)s->p & 15) != 0)
		return 0;
	for (i = 0; i < s->n; i++)
		if (s->p[i] != (unsigned char)(s->fill + i))
			return 0;
	return 1;
}

static void
slot_fill(struct slot *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		s->p[i] = (unsigned char)(s->fill + i);
}

static size_t
rnd_size(void)
{
	switch (random() % 16) {
	case 0:
		return random() % 100000;
	case 1:
	case 2:
		return EVMEM_SMALL_MAX - 8 + random() % 16;
	case 3:
	case 4:
	case 5:
		return random() % (EVMEM_SMALL_MAX + 1);
	default:
		return random() % 200;
	}
}

static void
test_random_ops(void)
{
	static struct slot	 s[NSLOT];
	struct evmem_stats	 st;
	unsigned char		*q;
	size_t			 n;
	int			 i, k, bad = 0;

	srandom(17);
	for (k = 0; k < 100000; k++) {
		i = random() % NSLOT;
		if (s[i].p != NULL && !slot_ok(&s[i]))
			bad++;
		switch (random() % 3) {
		case 0:
			evmem_free(s[i].p);
			s[i].p = NULL;
			/* FALLTHROUGH */
		case 1:
			if (s[i].p != NULL)
				break;
			s[i].n = rnd_size();
			if ((s[i].p = evmem_malloc(s[i].n)) == NULL) {
				bad++;
				break;
			}
			s[i].fill = (unsigned char)random();
			slot_fill(&s[i]);
			break;
		default:
			n = rnd_size();
			if ((q = evmem_realloc(s[i].p, n)) == NULL) {
				bad++;
				break;
			}
			s[i].p = q;
			/* The old contents survive up to the smaller size. */
			if (n < s[i].n)
				s[i].n = n;
			if (!slot_ok(&s[i]))
				bad++;
			s[i].n = n;
			slot_fill(&s[i]);
			break;
		}
	}
	CHECK(bad == 0);
	for (i = 0; i < NSLOT; i++) {
		if (s[i].p != NULL && !slot_ok(&s[i]))
			bad++;
		evmem_free(s[i].p);
		s[i].p = NULL;
	}
	CHECK(bad == 0);
	evmem_get_stats(&st);
	CHECK(st.live == 0);
	CHECK(st.large == 0);
	/* At most the one empty slab kept per class. */
	CHECK(st.slabs <= (EVMEM_SMALL_MAX + 16) / 16 + 1);
	CHECK(st.mapped == st.slabs * EVMEM_SLAB);
}

/* A burst: 20,000 event-sized blocks, then all freed. */
static void
test_burst_returns(void)
{
	static void		*p[20000];
	struct evmem_stats	 st0, st1, st2;
	int			 i;

	evmem_get_stats(&st0);
	for (i = 0; i < 20000; i++)
		CHECK((p[i] = evmem_malloc(128)) != NULL);
	evmem_get_stats(&st1);
	CHECK(st1.mapped >= st0.mapped + 20000 * 144);
	for (i = 0; i < 20000; i++)
		evmem_free(p[i]);
	evmem_get_stats(&st2);
	CHECK(st2.live == st0.live);
	CHECK(st2.mapped <= st0.mapped + EVMEM_SLAB);
}

/* A large block grows in place or moves, keeping its contents. */
static void
test_large_realloc(void)
{
	unsigned char	*p;
	size_t		 n = 4096, i;
	int		 bad = 0;

	CHECK((p = evmem_malloc(n)) != NULL);
	memset(p, 0x5a, n);
	for (; n < 4 * 1024 * 1024; n *= 2) {
		CHECK((p = evmem_realloc(p, 2 * n)) != NULL);
		for (i = 0; i < n; i++)
			if (p[i] != 0x5a)
				bad++;
		memset(p, 0x5a, 2 * n);
	}
	CHECK(bad == 0);
	/* Back to small, contents kept. */
	CHECK((p = evmem_realloc(p, 100)) != NULL);
	for (i = 0; i < 100; i++)
		if (p[i] != 0x5a)
			bad++;
	CHECK(bad == 0);
	evmem_free(p);
}

static int	 fired;

static void
on_read(evutil_socket_t fd, short ev, void *arg)
{
	char	 c;

	if (read(fd, &c, 1) == 1)
		fired++;
}

/*
 * libevent on it: 3,000 socket pairs with a read event each (the
 * descriptor map, epoll's result array and the events themselves all in
 * evmem), every one fires once, then all are freed.
 */
static void
test_libevent_on_it(void)
{
	enum { NP = 3000 };
	static int		 sv[NP][2];
	static struct event	*ev[NP];
	struct event_base	*base;
	struct evmem_stats	 st0, st1, st2;
	int			 i, made = 0;

	evmem_get_stats(&st0);
	CHECK((base = event_base_new()) != NULL);
	if (base == NULL)
		return;
	for (i = 0; i < NP; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) == -1)
			break;
		ev[i] = event_new(base, sv[i][0], EV_READ, on_read, NULL);
		CHECK(ev[i] != NULL && event_add(ev[i], NULL) == 0);
		CHECK(write(sv[i][1], "x", 1) == 1);
		made++;
	}
	CHECK(made > 500);	/* the descriptor limit may stop it short */
	fired = 0;
	for (i = 0; i < 100 && fired < made; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	CHECK(fired == made);
	evmem_get_stats(&st1);
	CHECK(st1.live > st0.live + (size_t)made);
	for (i = 0; i < made; i++) {
		event_free(ev[i]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	event_base_free(base);
	evmem_get_stats(&st2);
	CHECK(st2.live == st0.live);
	CHECK(st2.large == 0);
}

int
main(void)
{
	/* Before any other libevent call, as in the front. */
	CHECK(evmem_install() == 0);
	RUN(test_random_ops);
	RUN(test_burst_returns);
	RUN(test_large_realloc);
	RUN(test_libevent_on_it);
	TEST_EXIT();
}
