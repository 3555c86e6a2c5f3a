/*
 * SMTP command lines and AUTH responses (smtpcertd/front/smtp_parse.c), the way
 * the front uses them: the input is a client dialogue, one line per '\n';
 * each line is parsed as a command and its argument handed to the parser
 * the verb selects; after AUTH the following lines are SASL responses
 * (PLAIN, LOGIN user and password, EXTERNAL authorization id), decoded
 * with the strict base64 decoder.  Whatever the base64 decoder accepts
 * must encode back to the same text (it is strict: one spelling only).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define AUTH_LINE_MAX	12288	/* smtpcertd/front/smtp_session.c */

static unsigned char	dec[AUTH_LINE_MAX];
static char		enc[AUTH_LINE_MAX + 4];

static void
sasl(const char *mech, int step, const char *b64, size_t len)
{
	struct smtp_plain	 pl;
	size_t			 n;
	int			 r;

	if (smtp_auth_is_cancel(b64, len))
		return;
	if (smtp_b64_decode(b64, len, dec, sizeof(dec), &n) == -1)
		return;
	/* Strict base64 has one spelling: decoding is a bijection. */
	r = smtp_b64_encode(dec, n, enc, sizeof(enc));
	if (r < 0 || (size_t)r != len || memcmp(enc, b64, len) != 0)
		abort();
	if (strcmp(mech, "PLAIN") == 0 && smtp_sasl_plain(dec, n, &pl) == 0) {
		if (pl.authcidlen == 0 || pl.passwdlen == 0 ||
		    memchr(pl.authcid, '\0', pl.authcidlen) != NULL ||
		    pl.authcid + pl.authcidlen > (const char *)dec + n ||
		    pl.passwd + pl.passwdlen != (const char *)dec + n)
			abort();
	}
	(void)step;
}

static void
line(const char *l, size_t len, char *mech, int *step, int *utf8)
{
	struct smtp_cmd		 cmd;
	struct smtp_path	 path;
	struct smtp_auth	 auth;
	char			 buf[SMTP_LINE_MAX];
	int			 code;
	const char		*enh, *text;
	enum smtp_path_err	 e;

	if (mech[0] != '\0') {
		sasl(mech, (*step)++, l, len);
		if (strcmp(mech, "LOGIN") != 0 || *step > 2)
			mech[0] = '\0';
		return;
	}
	switch (smtp_cmd_parse(l, len, &cmd)) {
	case SMTP_CMD_EHLO:
	case SMTP_CMD_HELO:
		(void)smtp_parse_helo(cmd.arg, cmd.arglen);
		break;
	case SMTP_CMD_MAIL:
		e = smtp_parse_mail(cmd.arg, cmd.arglen, &path);
		if (e == SMTP_PE_OK) {
			if (strlen(path.addr) != path.addrlen ||
			    path.addrlen >= SMTP_PATH_MAX)
				abort();
			*utf8 = path.smtputf8;
		}
		smtp_path_reply(e, 0, &code, &enh, &text);
		if (smtp_reply_format(buf, sizeof(buf), code, enh, text) < 0)
			abort();
		break;
	case SMTP_CMD_RCPT:
		e = smtp_parse_rcpt(cmd.arg, cmd.arglen, *utf8, &path);
		if (e == SMTP_PE_OK && strlen(path.addr) != path.addrlen)
			abort();
		smtp_path_reply(e, 1, &code, &enh, &text);
		if (smtp_reply_format(buf, sizeof(buf), code, enh, text) < 0)
			abort();
		break;
	case SMTP_CMD_AUTH:
		if (smtp_parse_auth(cmd.arg, cmd.arglen, &auth) == -1)
			break;
		if (strlen(auth.mech) > SMTP_SASL_MECH_MAX)
			abort();
		snprintf(mech, SMTP_SASL_MECH_MAX + 1, "%s", auth.mech);
		*step = 0;
		if (auth.ir != NULL) {
			sasl(mech, (*step)++, auth.ir, auth.irlen);
			if (strcmp(mech, "LOGIN") != 0)
				mech[0] = '\0';
		}
		break;
	default:
		(void)smtp_cmd_name(cmd.verb);
		break;
	}
	/* A reply quoting the client's words must never inject a line. */
	if (len < 200) {
		char	 t[256];

		memcpy(t, l, len);
		t[len] = '\0';
		(void)smtp_reply_format(buf, sizeof(buf), 250, "2.0.0", t);
		smtp_xtext(buf, sizeof(buf), t);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data, *end = p + size, *nl;
	char		 mech[SMTP_SASL_MECH_MAX + 1] = "";
	int		 step = 0, utf8 = 0;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		line(p, (size_t)(nl - p), mech, &step, &utf8);
		p = nl + 1;
	}
	return 0;
}
