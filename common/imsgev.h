/*
 * An imsgbuf driven by libevent: reads when readable, writes while the
 * queue is not empty, and hands each complete message to a handler.
 * Every process uses this one wrapper for every channel.
 */
#ifndef SMTPCERTD_IMSGEV_H
#define SMTPCERTD_IMSGEV_H

#include <event2/event.h>

#include "imsg.h"

struct imsgev;

/*
 * Called once per complete message.  imsg == NULL means the channel is
 * gone (EOF, read/write error or a framing error: errno says which); the
 * handler must then imsgev_close() or exit.
 */
typedef void (*imsgev_handler)(struct imsgev *, struct imsg *);

struct imsgev {
	struct imsgbuf		 ibuf;
	struct event		*ev;
	struct event_base	*base;
	imsgev_handler		 handler;
	void			*data;
	int			 proc;	/* enum smtpcertd_proc of the peer */
	short			 events;
	int			 closing;
};

void	imsgev_init(struct imsgev *, struct event_base *, int fd,
	    size_t maxsize, int peerproc, imsgev_handler, void *data);
/* Stop events, close the socket and free the buffers. */
void	imsgev_close(struct imsgev *);
int	imsgev_compose(struct imsgev *, uint32_t type, uint32_t peerid,
	    uint64_t reqid, int fd, const void *data, size_t len);
/* Queue a built payload; the builder is reset afterwards. */
int	imsgev_send(struct imsgev *, struct msgbuild *, uint32_t type,
	    uint32_t peerid, uint64_t reqid, int fd);
/* Deliver messages already buffered (e.g. read during a blocking
 * start-up phase) to the handler. */
void	imsgev_process(struct imsgev *);
/* Re-arm the event after queueing messages by other means. */
void	imsgev_update(struct imsgev *);

#endif
