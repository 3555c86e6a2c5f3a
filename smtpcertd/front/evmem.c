/*
 * libevent's allocator (see evmem.h for why it exists).
 *
 * Every block starts with a 16-byte header: its size (for a small block
 * the class size, header included; for a large one the mapping's length)
 * and a tag saying small, large or free, checked on every free and
 * realloc.  Small blocks come from slabs of EVMEM_SLAB bytes mapped at an
 * EVMEM_SLAB-aligned address, so a block finds its slab by masking its
 * address; each slab serves one class (a multiple of 16 bytes), hands
 * out never-used blocks from a bump pointer, reuses freed ones from its
 * own free list, and sits on its class's list while it has room.  Free
 * lists are per slab (not per class) so that a slab whose blocks are all
 * free can be unmapped; one such slab per class is kept to avoid mapping
 * and unmapping one for every session at the edge.
 *
 * The memory of an unmapped slab goes back to the kernel at once; that is
 * the point.  A large block is a mapping of its own and a realloc of one
 * is an mremap(): libevent's arrays (descriptor map, epoll results, timer
 * heap) grow by doubling and may reach hundreds of KB.
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "evmem.h"

#define EM_ALIGN	16
#define EM_HDR		16
#define EM_NCLASS	((EVMEM_SMALL_MAX + EM_HDR) / EM_ALIGN + 1)

#define EM_TAG_SMALL	0x736d616c6c656d31ULL
#define EM_TAG_LARGE	0x6c61726765656d31ULL
#define EM_TAG_FREE	0x66726565656d6531ULL
#define EM_SLAB_MAGIC	0x736c6162656d6531ULL

struct em_hdr {
	size_t		 size;
	uint64_t	 tag;
};

struct em_slab {
	uint64_t	 magic;
	struct em_slab	*next;		/* the class's slabs with room */
	struct em_slab	*prev;
	struct em_hdr	*free;		/* freed blocks of this slab */
	char		*bump;		/* first block never handed out */
	char		*end;
	size_t		 size;		/* block size, header included */
	size_t		 live;		/* blocks handed out */
	int		 listed;
};

/* First block of a slab: after its header, 16-aligned. */
#define EM_SLAB_FIRST	((sizeof(struct em_slab) + EM_ALIGN - 1) & \
			    ~(size_t)(EM_ALIGN - 1))

static struct em_slab	*em_room[EM_NCLASS];
static struct evmem_stats em_st;
static size_t		 em_page;

static void
em_corrupt(void)
{
	/* A header that is not ours: a stray pointer or a double free.
	 * Nothing sane can follow. */
	abort();
}

static size_t
em_pagesize(void)
{
	long	 p;

	if (em_page == 0) {
		p = sysconf(_SC_PAGESIZE);
		em_page = p > 0 ? (size_t)p : 4096;
	}
	return em_page;
}

static void *
em_map(size_t len)
{
	void	*p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void
em_list(struct em_slab *s, size_t cls)
{
	s->prev = NULL;
	s->next = em_room[cls];
	if (s->next != NULL)
		s->next->prev = s;
	em_room[cls] = s;
	s->listed = 1;
}

static void
em_unlist(struct em_slab *s, size_t cls)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		em_room[cls] = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->listed = 0;
}

/* A slab mapped at an EVMEM_SLAB boundary: map twice that, trim. */
static struct em_slab *
em_slab_new(size_t cls)
{
	struct em_slab	*s;
	char		*raw, *al;
	size_t		 head, tail;

	if ((raw = em_map(2 * EVMEM_SLAB)) == NULL)
		return NULL;
	al = (char *)(((uintptr_t)raw + EVMEM_SLAB - 1) &
	    ~(uintptr_t)(EVMEM_SLAB - 1));
	head = al - raw;
	tail = 2 * EVMEM_SLAB - head - EVMEM_SLAB;
	if (head > 0)
		munmap(raw, head);
	if (tail > 0)
		munmap(al + EVMEM_SLAB, tail);
	s = (struct em_slab *)al;
	memset(s, 0, sizeof(*s));
	s->magic = EM_SLAB_MAGIC;
	s->size = cls * EM_ALIGN;
	s->bump = al + EM_SLAB_FIRST;
	s->end = al + EVMEM_SLAB;
	em_list(s, cls);
	em_st.slabs++;
	em_st.mapped += EVMEM_SLAB;
	return s;
}

static void *
em_small(size_t n)
{
	struct em_slab	*s;
	struct em_hdr	*h;
	size_t		 cls = (n + EM_HDR + EM_ALIGN - 1) / EM_ALIGN;

	if ((s = em_room[cls]) == NULL && (s = em_slab_new(cls)) == NULL)
		return NULL;
	if (s->free != NULL) {
		h = s->free;
		if (h->tag != EM_TAG_FREE)
			em_corrupt();
		memcpy(&s->free, (const void *)(h + 1), sizeof(struct em_hdr *));
	} else {
		h = (struct em_hdr *)s->bump;
		s->bump += s->size;
	}
	s->live++;
	if (s->free == NULL && s->bump + s->size > s->end)
		em_unlist(s, cls);
	h->size = s->size;
	h->tag = EM_TAG_SMALL;
	em_st.live++;
	return h + 1;
}

static void *
em_large(size_t n)
{
	struct em_hdr	*h;
	size_t		 pg = em_pagesize(), len;

	if (n > SIZE_MAX - EM_HDR - pg) {
		errno = ENOMEM;
		return NULL;
	}
	len = (n + EM_HDR + pg - 1) & ~(pg - 1);
	if ((h = em_map(len)) == NULL)
		return NULL;
	h->size = len;
	h->tag = EM_TAG_LARGE;
	em_st.large++;
	em_st.mapped += len;
	em_st.live++;
	return h + 1;
}

static struct em_hdr *
em_header(void *p)
{
	struct em_hdr	*h = (struct em_hdr *)p - 1;

	if (h->tag != EM_TAG_SMALL && h->tag != EM_TAG_LARGE)
		em_corrupt();
	return h;
}

static struct em_slab *
em_slab_of(struct em_hdr *h)
{
	struct em_slab	*s;

	s = (struct em_slab *)((uintptr_t)h & ~(uintptr_t)(EVMEM_SLAB - 1));
	if (s->magic != EM_SLAB_MAGIC || h->size != s->size)
		em_corrupt();
	return s;
}

void *
evmem_malloc(size_t n)
{
	if (n == 0)
		n = 1;
	return n <= EVMEM_SMALL_MAX ? em_small(n) : em_large(n);
}

void
evmem_free(void *p)
{
	struct em_hdr	*h;
	struct em_slab	*s;
	size_t		 cls;

	if (p == NULL)
		return;
	h = em_header(p);
	em_st.live--;
	if (h->tag == EM_TAG_LARGE) {
		em_st.large--;
		em_st.mapped -= h->size;
		munmap(h, h->size);
		return;
	}
	s = em_slab_of(h);
	cls = s->size / EM_ALIGN;
	h->tag = EM_TAG_FREE;
	memcpy((void *)(h + 1), &s->free, sizeof(struct em_hdr *));
	s->free = h;
	s->live--;
	if (!s->listed)
		em_list(s, cls);
	/* All free, and the class has another slab with room: give it
	 * back.  (The last one stays, for the next session.) */
	if (s->live == 0 && (s->next != NULL || s->prev != NULL)) {
		em_unlist(s, cls);
		s->magic = 0;
		em_st.slabs--;
		em_st.mapped -= EVMEM_SLAB;
		munmap(s, EVMEM_SLAB);
	}
}

void *
evmem_realloc(void *p, size_t n)
{
	struct em_hdr	*h;
	void		*q;
	size_t		 have, pg, len;

	if (p == NULL)
		return evmem_malloc(n);
	if (n == 0)
		n = 1;
	h = em_header(p);
	have = h->size - EM_HDR;
	if (h->tag == EM_TAG_SMALL) {
		/* Same class: nothing to do. */
		if (n <= EVMEM_SMALL_MAX && (n + EM_HDR + EM_ALIGN - 1) /
		    EM_ALIGN * EM_ALIGN == h->size)
			return p;
	} else if (n > EVMEM_SMALL_MAX) {
		pg = em_pagesize();
		if (n > SIZE_MAX - EM_HDR - pg) {
			errno = ENOMEM;
			return NULL;
		}
		len = (n + EM_HDR + pg - 1) & ~(pg - 1);
		if (len == h->size)
			return p;
		have = h->size;		/* h is gone once moved */
		q = mremap(h, have, len, MREMAP_MAYMOVE);
		if (q == MAP_FAILED)
			return NULL;
		em_st.mapped = em_st.mapped - have + len;
		h = q;
		h->size = len;
		return h + 1;
	}
	/* Between small and large, or between small classes: copy. */
	if ((q = evmem_malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, have < n ? have : n);
	evmem_free(p);
	return q;
}

void
evmem_get_stats(struct evmem_stats *st)
{
	*st = em_st;
}

int
evmem_install(void)
{
#ifdef EVENT__DISABLE_MM_REPLACEMENT
	return -1;
#else
	event_set_mem_functions(evmem_malloc, evmem_realloc, evmem_free);
	return 0;
#endif
}
