/*
 * Answering a control client later, by its id.  control.c owns the
 * clients and hands some requests on: to the fronts (`show sessions',
 * `session kill', `test certificate', `test login'), to crld (`crl
 * update') or to every child (`show stats').  The answers come back
 * through the modules below it -- accounting.c, crl_parent.c, and proc.c
 * for the steps of a test -- which must not call up into control.c: it
 * calls them.  So control.c registers here how to reach a client by its
 * id (control_init()), and they answer through these.  A client gone
 * meanwhile is not found, and its answer is dropped.
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>
#include <stdlib.h>

#include "imsg.h"
#include "proto.h"
#include "smtpcertd.h"

static void	(*reply_fn)(uint64_t, uint32_t, const char *);
static void	(*send_fn)(uint64_t, uint32_t, struct msgbuild *);

void
control_reply_init(void (*reply)(uint64_t, uint32_t, const char *),
    void (*send)(uint64_t, uint32_t, struct msgbuild *))
{
	reply_fn = reply;
	send_fn = send;
}

/* Before control_init() there is no client to answer. */
void
control_reply_id(uint64_t id, uint32_t type, const char *text)
{
	if (reply_fn != NULL)
		reply_fn(id, type, text);
}

void
control_send_id(uint64_t id, uint32_t type, struct msgbuild *m)
{
	if (send_fn != NULL)
		send_fn(id, type, m);
}

/* A step or the decision of `test certificate' or `test login' from
 * the front, with the client's id (control.c's control_test()):
 * checked, then relayed; -1 if malformed. */
int
control_test_relay(struct imsg *imsg)
{
	struct msgreader	 r;
	struct msgbuild		 m;
	char			*f[3] = { NULL, NULL, NULL };
	uint32_t		 d = 0;
	int			 i, rc = 0;

	msg_reader(&r, imsg);
	if (imsg->hdr.type == IMSG_CTL_TEST_DECISION) {
		d = msg_get_u32(&r);
		f[0] = msg_get_str(&r, CTL_TEST_FIELD_MAX);
		f[1] = msg_get_str(&r, CTL_TEST_FIELD_MAX);
	} else
		for (i = 0; i < 3; i++)
			f[i] = msg_get_str(&r, CTL_TEST_FIELD_MAX);
	if (msg_end(&r) == -1 || d >= CTL_TEST_MAX)
		rc = -1;
	else {
		msg_init(&m);
		if (imsg->hdr.type == IMSG_CTL_TEST_DECISION)
			msg_put_u32(&m, d);
		for (i = 0; i < 3 && f[i] != NULL; i++)
			msg_put_str(&m, f[i]);
		control_send_id(imsg->hdr.reqid, imsg->hdr.type, &m);
		msg_free(&m);
	}
	for (i = 0; i < 3; i++)
		free(f[i]);
	return rc;
}
