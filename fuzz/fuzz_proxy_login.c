/*
 * The e-mail proxy's login input (smtpcertd/front/proxy_imap.c,
 * proxy_sasl.c, proxy_login.c): IMAP commands before login as
 * imap_input() reads them -- tag and command name, then for LOGIN and
 * AUTHENTICATE the arguments (atoms, quoted strings, literals announced
 * with {n} / {n+}) through proxy_imap_line(), the literal octets through
 * proxy_imap_literal() -- then LOGIN's user and password split by the
 * profiles' delimiter rules (proxy_split_login(): user#vpnuser,
 * user!server, name delimiter in the password), SASL PLAIN responses
 * (initial or on the next line) decoded by proxy_sasl_decode() as IMAP,
 * POP3 and SMTP take them, and the PLAIN response the proxy builds for a
 * back end.
 *
 * Input: lines ('\n'); while a literal is owed, its octets.  The
 * profiles come from a fixed configuration with the delimiter settings
 * the grammar allows (name and server, server only, none).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "proxy.h"
#include "smtp_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char conftext[] =
	"hostname \"gw.example.com\"\n"
	"group-policy \"default\" { }\n"
	"proxy \"both\" {\n"
	"	delimiter name \"#\" server \"!\"\n"
	"	default server \"imap.example.com\"\n"
	"	allow server \"imap2.example.com\"\n"
	"	allow server \"10.0.0.1\"\n"
	"	default group-policy \"default\"\n"
	"}\n"
	"proxy \"server\" {\n"
	"	delimiter server \"%\"\n"
	"	default server \"mail.example.com\"\n"
	"	allow server \"b.example.com\"\n"
	"	default group-policy \"default\"\n"
	"}\n"
	"proxy \"none\" {\n"
	"	delimiter server none\n"
	"	default server \"mail.example.com\"\n"
	"	default group-policy \"default\"\n"
	"}\n";

static struct smtpcertd_conf	*conf;
static const struct proxy_profile *profiles[3];

static void
init(void)
{
	if (conf != NULL)
		return;
	if ((conf = config_parse_text("fuzz", conftext,
	    sizeof(conftext) - 1)) == NULL)
		abort();
	if ((profiles[0] = config_find_proxy(conf, "both")) == NULL ||
	    (profiles[1] = config_find_proxy(conf, "server")) == NULL ||
	    (profiles[2] = config_find_proxy(conf, "none")) == NULL)
		abort();
}

static void
check_part(const char *s, size_t max)
{
	size_t	 n = strnlen(s, max);

	if (n >= max)
		abort();
}

static void
login(const char *user, size_t ulen, const char *pass, size_t plen)
{
	struct proxy_split	 sp;
	enum proxy_split_err	 e;
	size_t			 i;

	/* proxy_login()'s checks before the split (proxy_session.c). */
	if (!proxy_name_ok(user, ulen) || plen == 0 || plen >= PX_PASS_MAX ||
	    memchr(pass, '\r', plen) != NULL ||
	    memchr(pass, '\n', plen) != NULL ||
	    memchr(pass, '\0', plen) != NULL)
		return;
	for (i = 0; i < 3; i++) {
		e = proxy_split_login(profiles[i], user, ulen, pass, plen, &sp);
		if (e != PXS_OK)
			continue;
		check_part(sp.vpnuser, sizeof(sp.vpnuser));
		check_part(sp.mailuser, sizeof(sp.mailuser));
		check_part(sp.server, sizeof(sp.server));
		if (sp.vpnuser[0] == '\0' || sp.mailuser[0] == '\0')
			abort();
		if (sp.vpnpasslen >= sizeof(sp.vpnpass) ||
		    sp.mailpasslen >= sizeof(sp.mailpass))
			abort();
		/* A server named must be one the profile allows. */
		if (sp.server[0] != '\0' &&
		    proxy_find_server(profiles[i], sp.server) == NULL)
			abort();
	}
}

static void
sasl_plain(const char *b64, size_t len)
{
	unsigned char		 buf[PX_AUTH_LINE_MAX];
	char			 enc[PX_SASL_B64_MAX];
	struct smtp_plain	 pl;
	char			 u[PX_NAME_MAX], p[PX_PASS_MAX];
	size_t			 n;

	if (proxy_sasl_decode(PXM_EXTERNAL, b64, len, buf, sizeof(buf), &n,
	    &pl) == PXSASL_OK && n >= PX_NAME_MAX)
		abort();
	if (proxy_sasl_decode(PXM_PLAIN, b64, len, buf, sizeof(buf), &n,
	    &pl) != PXSASL_OK)
		return;
	login(pl.authcid, pl.authcidlen, pl.passwd, pl.passwdlen);
	/* What the proxy sends a back end for such a user decodes back. */
	if (pl.authcidlen >= sizeof(u) || pl.passwdlen >= sizeof(p) ||
	    memchr(pl.authcid, '\0', pl.authcidlen) != NULL)
		return;
	memcpy(u, pl.authcid, pl.authcidlen);
	u[pl.authcidlen] = '\0';
	memcpy(p, pl.passwd, pl.passwdlen);
	if (proxy_sasl_plain("", u, p, pl.passwdlen, enc, sizeof(enc)) == -1)
		return;
	if (proxy_sasl_decode(PXM_PLAIN, enc, strlen(enc), buf, sizeof(buf),
	    &n, &pl) != PXSASL_OK || pl.authcidlen != strlen(u) ||
	    memcmp(pl.authcid, u, pl.authcidlen) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 args[PX_ARGS_MAX][PX_LITERAL_MAX + 1];
	char			 tag[PX_TAG_MAX], verb[PX_VERB_MAX];
	size_t			 arglen[PX_ARGS_MAX], lit_need = 0, n, len;
	struct proxy_imap_cmd	 c;
	const char		*p = (const char *)data, *end = p + size, *nl;
	char			 line[PX_LINE_MAX];
	int			 nargs = 0, r, cont = 0, sasl = 0;

	init();
	c.tag = tag;
	c.verb = verb;
	c.args = args;
	c.arglen = arglen;
	c.nargs = &nargs;
	c.lit_need = &lit_need;
	while (p < end) {
		if (lit_need > 0) {
			n = proxy_imap_literal(&c, p, (size_t)(end - p));
			if (n == 0 || n > (size_t)(end - p))
				abort();
			p += n;
			continue;
		}
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		/* AUTHENTICATE PLAIN without an initial response. */
		if (sasl) {
			sasl = 0;
			sasl_plain(line, len);
			continue;
		}
		r = proxy_imap_line(&c, line, len, cont);
		if (nargs < 0 || nargs > PX_ARGS_MAX ||
		    lit_need > PX_LITERAL_MAX ||
		    strnlen(tag, sizeof(tag)) >= sizeof(tag) ||
		    strnlen(verb, sizeof(verb)) >= sizeof(verb))
			abort();
		cont = r == PXI_LITERAL;
		if (r == PXI_LITERAL && nargs == 0)
			abort();
		if (r != PXI_DONE)
			continue;
		for (n = 0; n < (size_t)nargs; n++)
			if (arglen[n] > PX_LITERAL_MAX)
				abort();
		if (strcasecmp(verb, "LOGIN") == 0 && nargs == 2)
			login(args[0], arglen[0], args[1], arglen[1]);
		else if (strcasecmp(verb, "AUTHENTICATE") == 0 && nargs >= 1 &&
		    strcasecmp(args[0], "PLAIN") == 0) {
			if (nargs == 2)
				sasl_plain(args[1], arglen[1]);
			else
				sasl = 1;
		}
	}
	return 0;
}
