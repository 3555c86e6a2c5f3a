/*
 * Sending and receiving a configuration generation (see confmsg.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "confmsg.h"
#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "proto.h"

struct conf_bundle *
conf_bundle_new(uint64_t gen)
{
	struct conf_bundle	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("%s", __func__);
	b->gen = gen;
	TAILQ_INIT(&b->blobs);
	return b;
}

static void
blob_free(struct conf_blob *cb)
{
	if (cb->a != NULL) {
		explicit_bzero(cb->a, cb->alen);
		free(cb->a);
	}
	if (cb->b != NULL) {
		explicit_bzero(cb->b, cb->blen);
		free(cb->b);
	}
	free(cb->name);
	free(cb);
}

void
conf_bundle_free(struct conf_bundle *b)
{
	struct conf_blob	*cb;
	size_t			 i;

	if (b == NULL)
		return;
	while ((cb = TAILQ_FIRST(&b->blobs)) != NULL) {
		TAILQ_REMOVE(&b->blobs, cb, entry);
		blob_free(cb);
	}
	for (i = 0; i < b->nlfds * (b->nsets ? b->nsets : 1); i++)
		if (b->lfds[i] != -1)
			close(b->lfds[i]);
	free(b->lfds);
	if (b->conf != NULL)
		config_free(b->conf);
	free(b->text);
	free(b->names_text);
	free(b);
}

void
conf_bundle_add(struct conf_bundle *b, uint32_t type, const char *name,
    unsigned char *a, size_t alen, unsigned char *bb, size_t blen)
{
	struct conf_blob	*cb;

	if ((cb = calloc(1, sizeof(*cb))) == NULL ||
	    (cb->name = strdup(name)) == NULL)
		fatal("%s", __func__);
	cb->type = type;
	cb->a = a;
	cb->alen = alen;
	cb->b = bb;
	cb->blen = blen;
	TAILQ_INSERT_TAIL(&b->blobs, cb, entry);
}

static unsigned char *
blob_dup(const unsigned char *p, size_t len)
{
	unsigned char	*q;

	if (p == NULL)
		return NULL;
	if ((q = malloc(len ? len : 1)) == NULL)
		fatal("%s", __func__);
	memcpy(q, p, len);
	return q;
}

void
conf_bundle_copy_blobs(struct conf_bundle *dst, const struct conf_bundle *src)
{
	const struct conf_blob	*cb;

	TAILQ_FOREACH(cb, &src->blobs, entry)
		conf_bundle_add(dst, cb->type, cb->name, blob_dup(cb->a,
		    cb->alen), cb->alen, blob_dup(cb->b, cb->blen), cb->blen);
}

const struct conf_blob *
conf_bundle_blob(const struct conf_bundle *b, uint32_t type, const char *name)
{
	const struct conf_blob	*cb;

	TAILQ_FOREACH(cb, &b->blobs, entry)
		if (cb->type == type && strcmp(cb->name, name) == 0)
			return cb;
	return NULL;
}

void
conf_bundle_wipe(struct conf_bundle *b, uint32_t type)
{
	struct conf_blob	*cb, *next;

	for (cb = TAILQ_FIRST(&b->blobs); cb != NULL; cb = next) {
		next = TAILQ_NEXT(cb, entry);
		if (cb->type != type)
			continue;
		TAILQ_REMOVE(&b->blobs, cb, entry);
		blob_free(cb);
	}
}

int
confmsg_is_conf(uint32_t type)
{
	switch (type) {
	case IMSG_CONF_START:
	case IMSG_CONF_TEXT:
	case IMSG_CONF_PKI:
	case IMSG_CONF_CA:
	case IMSG_CONF_SECRET:
	case IMSG_CONF_MASTER:
	case IMSG_CONF_LISTENER:
	case IMSG_CONF_END:
		return 1;
	}
	return 0;
}

int
confmsg_send(struct imsgev *iev, const struct conf_bundle *b, int what)
{
	return confmsg_send_set(iev, b, what, 0);
}

int
confmsg_send_set(struct imsgev *iev, const struct conf_bundle *b, int what,
    size_t k)
{
	const struct conf_blob	*cb;
	struct msgbuild		 m;
	const int		*lfds;
	uint32_t		 i;
	int			 fd, r = 0;

	if (k >= (b->nsets ? b->nsets : 1))
		k = 0;
	lfds = b->lfds + k * b->nlfds;

	msg_init(&m);
	r |= imsgev_compose(iev, IMSG_CONF_START, 0, b->gen, -1, &b->gen,
	    sizeof(b->gen));
	r |= imsgev_compose(iev, IMSG_CONF_TEXT, 0, b->gen, -1, b->text,
	    b->textlen);
	TAILQ_FOREACH(cb, &b->blobs, entry) {
		if ((cb->type == IMSG_CONF_PKI &&
		    !(what & (CONFMSG_PKI | CONFMSG_PKI_CERTS))) ||
		    (cb->type == IMSG_CONF_CA && !(what & CONFMSG_CA)) ||
		    (cb->type == IMSG_CONF_SECRET && !(what & CONFMSG_SECRET)) ||
		    (cb->type == IMSG_CONF_MASTER && !(what & CONFMSG_MASTER)))
			continue;
		msg_put_str(&m, cb->name);
		msg_put_data(&m, cb->a, cb->alen);
		if (cb->type == IMSG_CONF_PKI)
			msg_put_data(&m, cb->b, (what & CONFMSG_PKI) ?
			    cb->blen : 0);
		r |= imsgev_send(iev, &m, cb->type, 0, b->gen, -1);
	}
	if (what & CONFMSG_LISTENERS) {
		for (i = 0; i < b->nlfds; i++) {
			if (lfds[i] == -1)
				continue;
			if ((fd = dup(lfds[i])) == -1) {
				log_warn("%s: dup", __func__);
				r = -1;
				continue;
			}
			r |= imsgev_compose(iev, IMSG_CONF_LISTENER, 0, b->gen,
			    fd, &i, sizeof(i));
		}
	}
	r |= imsgev_compose(iev, IMSG_CONF_END, 0, b->gen, -1, &b->gen,
	    sizeof(b->gen));
	msg_free(&m);
	return r ? -1 : 0;
}

static int
confmsg_blob(struct conf_bundle *b, struct imsg *imsg)
{
	struct msgreader	 r;
	const void		*a, *k = NULL;
	size_t			 alen, klen = 0;
	unsigned char		*ac, *kc = NULL;
	char			*name;

	msg_reader(&r, imsg);
	name = msg_get_str(&r, CONF_NAME_MAX);
	a = msg_get_data(&r, &alen, CONF_BLOB_MAX);
	if (imsg->hdr.type == IMSG_CONF_PKI)
		k = msg_get_data(&r, &klen, CONF_BLOB_MAX);
	if (msg_end(&r) == -1) {
		free(name);
		return -1;
	}
	/* NUL-terminated copies: PEM consumers want C strings too. */
	if ((ac = calloc(1, alen + 1)) == NULL)
		fatal("%s", __func__);
	memcpy(ac, a, alen);
	if (imsg->hdr.type == IMSG_CONF_PKI) {
		if ((kc = calloc(1, klen + 1)) == NULL)
			fatal("%s", __func__);
		memcpy(kc, k, klen);
	}
	conf_bundle_add(b, imsg->hdr.type, name, ac, alen, kc, klen);
	free(name);
	return 0;
}

static int
confmsg_listener(struct conf_bundle *b, struct imsg *imsg)
{
	uint32_t	 idx;
	int		 fd, *n;
	size_t		 i;

	fd = imsg_get_fd(imsg);
	if (imsg_get_data(imsg, &idx, sizeof(idx)) == -1 || fd == -1 ||
	    idx >= CONF_LISTENERS_MAX) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (idx >= b->nlfds) {
		if ((n = reallocarray(b->lfds, idx + 1, sizeof(int))) == NULL)
			fatal("%s", __func__);
		for (i = b->nlfds; i <= idx; i++)
			n[i] = -1;
		b->lfds = n;
		b->nlfds = idx + 1;
	}
	if (b->lfds[idx] != -1)
		close(b->lfds[idx]);
	b->lfds[idx] = fd;
	return 0;
}

int
confmsg_recv(struct conf_bundle **pending, struct imsg *imsg,
    struct conf_bundle **done)
{
	struct conf_bundle	*b = *pending;
	uint64_t		 gen;

	*done = NULL;
	if (imsg->hdr.type == IMSG_CONF_START) {
		if (imsg_get_data(imsg, &gen, sizeof(gen)) == -1)
			return -1;
		conf_bundle_free(b);
		*pending = conf_bundle_new(gen);
		return 0;
	}
	/* Everything else belongs to a generation that has started. */
	if (b == NULL || imsg->hdr.reqid != b->gen)
		return -1;
	switch (imsg->hdr.type) {
	case IMSG_CONF_TEXT:
		if (b->text != NULL || imsg->datalen == 0)
			return -1;
		if ((b->text = malloc(imsg->datalen + 1)) == NULL)
			fatal("%s", __func__);
		memcpy(b->text, imsg->data, imsg->datalen);
		b->text[imsg->datalen] = '\0';
		b->textlen = imsg->datalen;
		return 0;
	case IMSG_CONF_PKI:
	case IMSG_CONF_CA:
	case IMSG_CONF_SECRET:
	case IMSG_CONF_MASTER:
		return confmsg_blob(b, imsg);
	case IMSG_CONF_LISTENER:
		return confmsg_listener(b, imsg);
	case IMSG_CONF_END:
		if (imsg_get_data(imsg, &gen, sizeof(gen)) == -1 ||
		    gen != b->gen || b->text == NULL)
			return -1;
		/* The parent already parsed this text; failing here means
		 * the printer and parser disagree, a bug worth dying for. */
		b->conf = config_parse_text("parent", b->text, b->textlen);
		if (b->conf == NULL)
			return -1;
		*pending = NULL;
		*done = b;
		return 1;
	}
	return -1;
}

struct conf_bundle *
confmsg_wait_initial(struct imsgbuf *ibuf, void (*early)(struct imsg *))
{
	struct conf_bundle	*pending = NULL, *done = NULL;
	struct imsg		 imsg;
	struct pollfd		 pfd;
	ssize_t			 n;
	int			 r;

	for (;;) {
		while ((r = imsg_get(ibuf, &imsg)) == 1) {
			if (confmsg_is_conf(imsg.hdr.type)) {
				if (confmsg_recv(&pending, &imsg, &done) == -1)
					fatalx("bad %s from parent during "
					    "start-up",
					    imsg_type_name(imsg.hdr.type));
			} else if (early != NULL)
				early(&imsg);
			else
				fatalx("unexpected %s from parent during "
				    "start-up", imsg_type_name(imsg.hdr.type));
			imsg_free(&imsg);
			if (done != NULL)
				return done;
		}
		if (r == -1)
			fatal("parent channel");
		pfd.fd = ibuf->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		n = imsgbuf_read(ibuf);
		if (n == 0)
			fatalx("parent went away during start-up");
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			fatal("read from parent");
	}
}
