/*
 * SASL before login (RFC 4422), one implementation for the proxy's three
 * dialogues: IMAP's AUTHENTICATE (RFC 4959 SASL-IR), POP3's AUTH (RFC
 * 5034) and SMTP's AUTH PLAIN (RFC 4954).  The mechanisms are PLAIN (RFC
 * 4616) and EXTERNAL, which is offered only on a connection whose
 * certificate names a user the profile may log in without a password
 * (proxy_external_ok()); the list a client is shown and the list it may
 * choose from are the same table.  The protocol gives the continuation
 * request and the words of a refusal (struct proxy_proto); SMTP offers
 * LOGIN too, which stays in proxy_smtp.c.
 *
 * A response is base64; "=" is the empty response and "*" cancels.  It
 * is decoded into a buffer larger than any client line decodes to, so
 * what fails here is malformed, never "too long": a long PLAIN password
 * reaches proxy_login() and is refused there as every long password is.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"
#include "smtp_parse.h"

static const struct {
	const char	*name;
	enum px_mech	 mech;
} mechs[] = {
	{ "PLAIN",	PXM_PLAIN },
	{ "EXTERNAL",	PXM_EXTERNAL },
};
#define NMECHS	(sizeof(mechs) / sizeof(mechs[0]))

/* s->pstate holds a mechanism while its response is awaited. */
_Static_assert(PXP_PROTO > PXM_EXTERNAL, "pstate values overlap");

static int
offered(const struct proxy_session *s, enum px_mech m)
{
	return m != PXM_EXTERNAL || proxy_external_ok(s);
}

const char *
proxy_sasl_list(const struct proxy_session *s, const char *prefix, char *buf,
    size_t bufsz)
{
	size_t	 i, off = 0;
	int	 n;

	buf[0] = '\0';
	for (i = 0; i < NMECHS; i++) {
		if (!offered(s, mechs[i].mech))
			continue;
		n = snprintf(buf + off, bufsz - off, "%s%s%s", off ? " " : "",
		    prefix, mechs[i].name);
		if (n < 0 || (size_t)n >= bufsz - off) {
			buf[off] = '\0';
			break;
		}
		off += n;
	}
	return buf;
}

enum px_mech
proxy_sasl_mech(const struct proxy_session *s, const char *name)
{
	size_t	 i;

	for (i = 0; i < NMECHS; i++)
		if (strcasecmp(name, mechs[i].name) == 0)
			return offered(s, mechs[i].mech) ? mechs[i].mech :
			    PXM_NONE;
	return PXM_NONE;
}

enum px_sasl
proxy_sasl_decode(enum px_mech mech, const char *b64, size_t len,
    unsigned char *buf, size_t bufsz, size_t *n, struct smtp_plain *pl)
{
	*n = 0;
	if (len == 1 && b64[0] == '*')
		return PXSASL_CANCELLED;
	if (len == 1 && b64[0] == '=')
		len = 0;
	if (len > 0 && smtp_b64_decode(b64, len, buf, bufsz - 1, n) == -1)
		return PXSASL_BASE64;
	if (mech == PXM_EXTERNAL)
		return *n < PX_NAME_MAX ? PXSASL_OK : PXSASL_BASE64;
	return proxy_plain_check(buf, *n, pl) == -1 ? PXSASL_PLAIN :
	    PXSASL_OK;
}

void
proxy_sasl_response(struct proxy_session *s, enum px_mech mech,
    const char *b64, size_t len)
{
	/* Any client line decodes to less (3 octets per 4). */
	unsigned char		 buf[PX_AUTH_LINE_MAX];
	struct smtp_plain	 pl;
	enum px_sasl		 r;
	size_t			 n;

	s->pstate = PXP_CMD;
	r = proxy_sasl_decode(mech, b64, len, buf, sizeof(buf), &n, &pl);
	if (r != PXSASL_OK)
		s->proto->sasl_refused(s, mech, r);
	else if (mech == PXM_EXTERNAL)
		proxy_login_external(s, (const char *)buf, n);
	else
		proxy_login(s, pl.authcid, pl.authcidlen, pl.passwd,
		    pl.passwdlen);
	explicit_bzero(buf, sizeof(buf));
}

void
proxy_sasl_start(struct proxy_session *s, enum px_mech mech, const char *ir,
    size_t irlen)
{
	proxy_present_user(s);
	if (ir != NULL) {
		proxy_sasl_response(s, mech, ir, irlen);
		return;
	}
	s->pstate = mech;
	proxy_reply(s, "%s", s->proto->sasl_more);
}

int
proxy_sasl_continue(struct proxy_session *s, const char *line, size_t len)
{
	if (s->pstate != PXM_PLAIN && s->pstate != PXM_EXTERNAL)
		return 0;
	proxy_sasl_response(s, s->pstate, line, len);
	return 1;
}
