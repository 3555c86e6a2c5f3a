/*
 * libevent glue for imsg channels.  One persistent event per channel; its
 * flags are recomputed after every operation so EV_WRITE is only armed
 * while something is queued.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "proto.h"

static void	imsgev_dispatch(evutil_socket_t, short, void *);

void
imsgev_init(struct imsgev *iev, struct event_base *base, int fd,
    size_t maxsize, int peerproc, imsgev_handler handler, void *data)
{
	memset(iev, 0, sizeof(*iev));
	imsgbuf_init(&iev->ibuf, fd, maxsize);
	iev->base = base;
	iev->handler = handler;
	iev->data = data;
	iev->proc = peerproc;
	iev->events = EV_READ;
	iev->ev = event_new(base, fd, EV_READ | EV_PERSIST, imsgev_dispatch,
	    iev);
	if (iev->ev == NULL)
		fatalx("%s: event_new", __func__);
	event_add(iev->ev, NULL);
}

void
imsgev_update(struct imsgev *iev)
{
	short	 want = EV_READ;

	if (iev->ev == NULL)
		return;
	if (imsgbuf_queuelen(&iev->ibuf) > 0)
		want |= EV_WRITE;
	if (want == iev->events)
		return;
	iev->events = want;
	event_del(iev->ev);
	event_assign(iev->ev, iev->base, iev->ibuf.fd, want | EV_PERSIST,
	    imsgev_dispatch, iev);
	event_add(iev->ev, NULL);
}

void
imsgev_close(struct imsgev *iev)
{
	if (iev->ev != NULL) {
		event_del(iev->ev);
		event_free(iev->ev);
		iev->ev = NULL;
	}
	if (iev->ibuf.fd != -1) {
		close(iev->ibuf.fd);
		iev->ibuf.fd = -1;
	}
	imsgbuf_clear(&iev->ibuf);
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid,
    uint64_t reqid, int fd, const void *data, size_t len)
{
	int	 r;

	if (iev->ev == NULL) {
		if (fd != -1)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	r = imsg_compose(&iev->ibuf, type, peerid, reqid, fd, data, len);
	imsgev_update(iev);
	return r;
}

int
imsgev_send(struct imsgev *iev, struct msgbuild *m, uint32_t type,
    uint32_t peerid, uint64_t reqid, int fd)
{
	int	 r;

	if (iev->ev == NULL) {
		if (fd != -1)
			close(fd);
		msg_reset(m);
		errno = EPIPE;
		return -1;
	}
	r = msg_send(&iev->ibuf, m, type, peerid, reqid, fd);
	/* The builder is ready for the next message either way. */
	msg_reset(m);
	imsgev_update(iev);
	return r;
}

/*
 * Every message any process receives passes here: one trace point,
 * "control" for smtpcertctl's requests, "imsg" for the processes'.
 */
static void
imsgev_deliver(struct imsgev *iev, struct imsg *imsg)
{
	enum trace_subsys	 sub;

	sub = iev->proc == PROC_CONTROL ? TRACE_CONTROL : TRACE_IMSG;
	log_trace(sub, "from %s: %s, %zu bytes, reqid %llu%s",
	    proc_name(iev->proc), imsg_type_name(imsg->hdr.type),
	    imsg->datalen, (unsigned long long)imsg->hdr.reqid,
	    imsg->fd != -1 ? ", with a descriptor" : "");
	iev->handler(iev, imsg);
}

static void
imsgev_dispatch(evutil_socket_t fd, short events, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 r;

	if (events & EV_WRITE) {
		if (imsgbuf_write(&iev->ibuf) == -1) {
			iev->handler(iev, NULL);
			return;
		}
	}
	if (events & EV_READ) {
		n = imsgbuf_read(&iev->ibuf);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			goto done;
		if (n == 0)
			errno = 0;
		if (n <= 0) {
			/* Deliver what was buffered before the EOF. */
			while (iev->ev != NULL &&
			    (r = imsg_get(&iev->ibuf, &imsg)) == 1) {
				imsgev_deliver(iev, &imsg);
				imsg_free(&imsg);
			}
			if (iev->ev != NULL)
				iev->handler(iev, NULL);
			return;
		}
		imsgev_process(iev);
		return;
	}
done:
	if (iev->ev != NULL)
		imsgev_update(iev);
}

void
imsgev_process(struct imsgev *iev)
{
	struct imsg	 imsg;
	int		 r;

	/* The handler may close the channel: re-check each time. */
	while (iev->ev != NULL) {
		r = imsg_get(&iev->ibuf, &imsg);
		if (r == 0)
			break;
		if (r == -1) {
			iev->handler(iev, NULL);
			return;
		}
		imsgev_deliver(iev, &imsg);
		imsg_free(&imsg);
	}
	if (iev->ev != NULL)
		imsgev_update(iev);
}
