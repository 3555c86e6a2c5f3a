/*
 * The upstream MTA's replies (smtpcertd/front/smtp_parse.c smtp_reply_feed()),
 * as smtpcertd/front/upstream.c reads them: lines without CRLF fed one by one
 * until DONE or ERROR, then the EHLO keyword lookups and the reply
 * re-formatted for the client, which must never fail on a reply the
 * parser accepted (the parser promises text fit for smtp_reply_format()).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct smtp_reply	 r;
static char			 out[SMTP_REPLY_LINES_MAX * SMTP_LINE_MAX * 2];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data, *end = p + size, *nl, *param;
	const char	*t;
	size_t		 i, plen, tl;
	enum smtp_reply_status st = SMTP_REPLY_MORE;

	smtp_reply_init(&r);
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		/* The upstream's line ends in CRLF: the reader strips it. */
		tl = (size_t)(nl - p);
		if (tl > 0 && p[tl - 1] == '\r')
			tl--;
		st = smtp_reply_feed(&r, p, tl);
		p = nl + 1;
		if (st != SMTP_REPLY_MORE) {
			(void)smtp_reply_strerror(r.error);
			if (st == SMTP_REPLY_DONE) {
				if (r.textlen >= sizeof(r.text) ||
				    r.nlines == 0 ||
				    r.nlines > SMTP_REPLY_LINES_MAX)
					abort();
				for (i = 0; i < r.nlines; i++)
					if ((t = smtp_reply_line(&r, i,
					    &plen)) == NULL ||
					    memchr(t, '\n', plen) != NULL ||
					    memchr(t, '\0', plen) != NULL ||
					    (t[plen] != '\n' && t[plen] != '\0'))
						abort();
				(void)smtp_reply_ehlo_has(&r, "STARTTLS", NULL,
				    NULL);
				if (smtp_reply_ehlo_has(&r, "SIZE", &param,
				    &plen) && param + plen > r.text +
				    r.textlen)
					abort();
				(void)smtp_reply_format(out, sizeof(out),
				    r.code, r.enh[0] ? r.enh : NULL, r.text);
			}
			smtp_reply_init(&r);
		}
	}
	return 0;
}
