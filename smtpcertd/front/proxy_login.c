/*
 * E-mail proxy login names (SPEC 6): the delimiter split rule and the
 * user name a client certificate gives.  No I/O.
 *
 * The split rule.  N is the profile's name delimiter (default ':'), S
 * its server delimiter (default '@'); they always differ.
 *
 *  1. User field.  Up to the FIRST N is the VPN user, the rest the mail
 *     part; without N there is no separate VPN user.
 *  2. Server.  In the mail part, the text after the LAST S names a
 *     server, and it must be a configured one: the default server or an
 *     `allow server', compared case-insensitively with its name, else
 *     its host.  Anything else -- "bob@mail.evil.test", "bob@[10.0.0.1]"
 *     -- is refused, never contacted and never passed on as part of the
 *     user name (a back end that strips domains would log "bob" in): the
 *     proxy is not an open relay.  A site whose user names contain S
 *     (e-mail addresses with S = '@') sets `delimiter server none': then
 *     nothing is split off and the default server is always used.
 *  3. Without N the VPN user is the mail user.
 *  4. Password.  When the VPN user and the mail user differ and the
 *     password contains N, up to its FIRST N is the VPN password and the
 *     rest the mail password; otherwise both are the whole password (the
 *     seed: passwords cannot contain the delimiters).
 * Empty parts ("alice:", ":bob", "bob@") are refused.
 *
 * The certificate user name: with `username dn' the subject DN (RFC 4514
 * string as certfields makes it); else the primary field's value, and
 * with a secondary field that value too, joined by one space
 * (PX_CERT_NAME_SEP): the seed's "EA and O" user logs in as
 * "alice@example.test Example Test".  A space is never a delimiter, so
 * the joined name survives the split.  A certificate that lacks a field
 * the rule names gives no name.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certfields.h"
#include "compat.h"
#include "config.h"
#include "proxy.h"
#include "smtp_parse.h"

int
proxy_name_ok(const char *u, size_t len)
{
	size_t	 i;

	if (len == 0 || len >= PX_NAME_MAX || u[0] == ' ' ||
	    u[len - 1] == ' ')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)u[i] < 0x20 || u[i] == 0x7f)
			return 0;
	return 1;
}

const char *
proxy_server_name(const struct proxy_server *s)
{
	return s->tls_name != NULL ? s->tls_name : s->host;
}

static int
server_matches(const struct proxy_server *s, const char *name)
{
	return strcasecmp(proxy_server_name(s), name) == 0 ||
	    strcasecmp(s->host, name) == 0;
}

const struct proxy_server *
proxy_find_server(const struct proxy_profile *p, const char *name)
{
	const struct proxy_server	*s;

	if (p->default_server != NULL && server_matches(p->default_server,
	    name))
		return p->default_server;
	TAILQ_FOREACH(s, &p->allowed, entry)
		if (server_matches(s, name))
			return s;
	return NULL;
}

static int
copy_part(char *dst, size_t dstsz, const char *src, size_t len)
{
	if (len == 0 || len >= dstsz)
		return -1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

enum proxy_split_err
proxy_split_login(const struct proxy_profile *p, const char *user,
    size_t ulen, const char *pass, size_t plen, struct proxy_split *sp)
{
	const char	*n, *mail, *sd, *pn;
	size_t		 mlen;

	memset(sp, 0, sizeof(*sp));
	if ((n = memchr(user, p->name_delim, ulen)) != NULL) {
		if (copy_part(sp->vpnuser, sizeof(sp->vpnuser), user,
		    n - user) == -1)
			return PXS_BAD;
		mail = n + 1;
		mlen = ulen - (mail - user);
	} else {
		mail = user;
		mlen = ulen;
	}
	if (mlen == 0)
		return PXS_BAD;
	/* The last server delimiter ('\0': `server none'). */
	sd = mail - 1;
	if (p->server_delim != '\0')
		for (sd = mail + mlen - 1; sd >= mail &&
		    *sd != p->server_delim; sd--)
			;
	if (sd >= mail) {
		size_t	 slen = mail + mlen - (sd + 1);

		if (copy_part(sp->server, sizeof(sp->server), sd + 1, slen) ==
		    -1)
			return PXS_BAD;
		if (proxy_find_server(p, sp->server) == NULL)
			return PXS_SERVER;
		mlen = sd - mail;
	}
	if (copy_part(sp->mailuser, sizeof(sp->mailuser), mail, mlen) == -1)
		return PXS_BAD;
	if (sp->vpnuser[0] == '\0')
		strlcpy(sp->vpnuser, sp->mailuser, sizeof(sp->vpnuser));

	if (plen >= sizeof(sp->vpnpass))
		return PXS_BAD;
	pn = strcmp(sp->vpnuser, sp->mailuser) != 0 ?
	    memchr(pass, p->name_delim, plen) : NULL;
	if (pn != NULL) {
		sp->vpnpasslen = pn - pass;
		sp->mailpasslen = plen - sp->vpnpasslen - 1;
		memcpy(sp->vpnpass, pass, sp->vpnpasslen);
		memcpy(sp->mailpass, pn + 1, sp->mailpasslen);
	} else {
		sp->vpnpasslen = sp->mailpasslen = plen;
		memcpy(sp->vpnpass, pass, plen);
		memcpy(sp->mailpass, pass, plen);
	}
	return PXS_OK;
}

int
proxy_cert_username(const struct proxy_profile *p, X509 *leaf, char *out,
    size_t outlen)
{
	struct certfields	 cf;
	char			*a = NULL, *b = NULL;
	int			 r = -1, n;

	out[0] = '\0';
	if (certfields_from_x509(leaf, &cf) == -1)
		return -1;
	if (p->username_dn) {
		if (cf.dn != NULL && strlen(cf.dn) < outlen) {
			strlcpy(out, cf.dn, outlen);
			r = 0;
		}
		goto done;
	}
	if ((a = certfields_dn_field(cf.x509,
	    config_dn_field_name(p->dn_primary))) == NULL)
		goto done;
	if (p->dn_secondary != DN_FIELD_NONE) {
		if ((b = certfields_dn_field(cf.x509,
		    config_dn_field_name(p->dn_secondary))) == NULL)
			goto done;
		n = snprintf(out, outlen, "%s%c%s", a, PX_CERT_NAME_SEP, b);
		if (n < 0 || (size_t)n >= outlen) {
			out[0] = '\0';
			goto done;
		}
	} else if (strlcpy(out, a, outlen) >= outlen) {
		out[0] = '\0';
		goto done;
	}
	r = 0;
done:
	free(a);
	free(b);
	certfields_free(&cf);
	if (r == 0 && !proxy_name_ok(out, strlen(out))) {
		out[0] = '\0';
		r = -1;
	}
	return r;
}

/*
 * A SASL PLAIN response, base64 (RFC 4616): authzid NUL authcid NUL
 * password.  0, or -1 when it does not fit out.  The clear text is
 * wiped.
 */
int
proxy_sasl_plain(const char *authzid, const char *authcid, const char *pass,
    size_t passlen, char *out, size_t outlen)
{
	unsigned char	 buf[2 * PX_NAME_MAX + PX_PASS_MAX + 2];
	size_t		 zl = strlen(authzid), cl = strlen(authcid), n;
	int		 r;

	if (zl >= PX_NAME_MAX || cl >= PX_NAME_MAX || passlen >= PX_PASS_MAX)
		return -1;
	memcpy(buf, authzid, zl);
	buf[zl] = '\0';
	memcpy(buf + zl + 1, authcid, cl);
	buf[zl + 1 + cl] = '\0';
	memcpy(buf + zl + cl + 2, pass, passlen);
	n = zl + cl + 2 + passlen;
	r = smtp_b64_encode(buf, n, out, outlen);
	explicit_bzero(buf, sizeof(buf));
	return r == -1 ? -1 : 0;
}

/*
 * A client's decoded SASL PLAIN response: 0 with pl pointing into buf,
 * -1 when malformed or when it asks for another identity than the one
 * that authenticates (the proxy acts for nobody else).
 */
int
proxy_plain_check(const unsigned char *buf, size_t len, struct smtp_plain *pl)
{
	if (smtp_sasl_plain(buf, len, pl) == -1)
		return -1;
	if (pl->authzidlen != 0 && (pl->authzidlen != pl->authcidlen ||
	    memcmp(pl->authzid, pl->authcid, pl->authcidlen) != 0))
		return -1;
	return 0;
}
