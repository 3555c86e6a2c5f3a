/*
 * The CRL source status row codec; see crl_status.h.
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <stdlib.h>
#include <string.h>

#include "crl_status.h"
#include "imsg.h"

/*
 * Strings are cut to CRL_STATUS_STR_MAX so that a row always fits a
 * control message (IMSG_MAXSIZE_CTL), whatever URL the config names.
 */
static void
put_str(struct msgbuild *m, const char *s)
{
	char	 buf[CRL_STATUS_STR_MAX + 1];

	if (s == NULL)
		s = "";
	if (strlen(s) <= CRL_STATUS_STR_MAX) {
		msg_put_str(m, s);
		return;
	}
	memcpy(buf, s, CRL_STATUS_STR_MAX);
	buf[CRL_STATUS_STR_MAX] = '\0';
	msg_put_str(m, buf);
}

void
crl_status_put(struct msgbuild *m, const struct crl_status *s)
{
	put_str(m, s->name);
	put_str(m, s->url);
	put_str(m, s->secondary);
	put_str(m, s->url_used);
	put_str(m, s->result);
	put_str(m, s->issuer);
	put_str(m, s->number);
	msg_put_u32(m, s->enabled);
	msg_put_u32(m, s->ok);
	msg_put_u32(m, s->failures);
	msg_put_i64(m, s->last_attempt);
	msg_put_i64(m, s->last_success);
	msg_put_u64(m, s->entries);
	msg_put_i64(m, s->this_update);
	msg_put_i64(m, s->next_update);
	msg_put_i64(m, s->next_fetch);
}

void
crl_status_get(struct msgreader *r, struct crl_status *s)
{
	memset(s, 0, sizeof(*s));
	s->name = msg_get_str(r, CRL_STATUS_STR_MAX);
	s->url = msg_get_str(r, CRL_STATUS_STR_MAX);
	s->secondary = msg_get_str(r, CRL_STATUS_STR_MAX);
	s->url_used = msg_get_str(r, CRL_STATUS_STR_MAX);
	s->result = msg_get_str(r, CRL_STATUS_STR_MAX);
	s->issuer = msg_get_str(r, CRL_STATUS_STR_MAX);
	s->number = msg_get_str(r, CRL_STATUS_STR_MAX);
	s->enabled = msg_get_u32(r);
	s->ok = msg_get_u32(r);
	s->failures = msg_get_u32(r);
	s->last_attempt = msg_get_i64(r);
	s->last_success = msg_get_i64(r);
	s->entries = msg_get_u64(r);
	s->this_update = msg_get_i64(r);
	s->next_update = msg_get_i64(r);
	s->next_fetch = msg_get_i64(r);
}

void
crl_status_free(struct crl_status *s)
{
	free(s->name);
	free(s->url);
	free(s->secondary);
	free(s->url_used);
	free(s->result);
	free(s->issuer);
	free(s->number);
	memset(s, 0, sizeof(*s));
}
