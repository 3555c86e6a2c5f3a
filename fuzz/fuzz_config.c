/*
 * The configuration grammar (common/parse.y) and its printer
 * (smtpcertd/printconf.c).  Every child process parses the parent's
 * printout of the configuration with config_parse_text(), so the
 * printer and the parser must agree: whatever parses, printed, must
 * parse again and print the same text (parse -> print -> parse ->
 * print is a fixed point), as `smtpcertd -nv' shows it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpcertd_conf	*c1, *c2;
	char			*t1, *t2;
	size_t			 l1, l2;

	/* Beyond what any real configuration needs; keeps runs fast. */
	if (size > 16384)
		return 0;
	if ((c1 = config_parse_text("fuzz", (const char *)data, size)) == NULL)
		return 0;
	if ((t1 = config_text(c1, &l1)) == NULL)
		abort();
	if ((c2 = config_parse_text("printed", t1, l1)) == NULL) {
		fprintf(stderr, "printout does not parse:\n%s\n", t1);
		abort();
	}
	if ((t2 = config_text(c2, &l2)) == NULL)
		abort();
	if (l1 != l2 || memcmp(t1, t2, l1) != 0) {
		fprintf(stderr, "printout changed:\n%s\n----\n%s\n", t1, t2);
		abort();
	}
	free(t1);
	free(t2);
	config_free(c1);
	config_free(c2);
	return 0;
}
