/*
 * LDAP filter templates and escaping (common/ldap_filter.c).  Input:
 * template NUL value NUL value ...; the values stand for the certificate
 * placeholders in order.  A template that ldap_filter_check() accepts is
 * expanded twice, once with the fuzzer's values and once with a plain
 * "x" for each: escaping must keep the filter's structure, so both have
 * the same parentheses, and no value may inject an unescaped "*", "(",
 * ")" or NUL.  The escape of any bytes must decode back to them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldap_filter.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NV	16

static char	out1[LDAP_FILTER_MAX], out2[LDAP_FILTER_MAX];
static char	esc[3 * LDAP_FILTER_TMPL_MAX + 1];

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	abort();
}

/* Structure of a filter: its unescaped parentheses and '*'. */
static void
shape(const char *f, char *s, size_t ssz)
{
	size_t	 n = 0;

	for (; *f != '\0'; f++) {
		if (*f == '\\') {
			f += 2;
			continue;
		}
		if ((*f == '(' || *f == ')' || *f == '*') && n + 1 < ssz)
			s[n++] = *f;
	}
	s[n] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ldap_filter_value vals[NV], plain[NV];
	char		*tmpl, err[256], s1[LDAP_FILTER_MAX], s2[LDAP_FILTER_MAX];
	const char	*p, *end, *z;
	size_t		 nv = 0, i;
	int		 r1, r2, n;

	if (size == 0 || size > LDAP_FILTER_TMPL_MAX)
		return 0;
	p = (const char *)data;
	end = p + size;
	z = memchr(p, '\0', size);
	if ((tmpl = malloc((z ? (size_t)(z - p) : size) + 1)) == NULL)
		return 0;
	memcpy(tmpl, p, z ? (size_t)(z - p) : size);
	tmpl[z ? (size_t)(z - p) : size] = '\0';
	/* Values may hold NUL: each is length-prefixed by one byte. */
	for (p = z ? z + 1 : end; p < end && nv < NV && ldap_filter_ph_certificate[nv];
	    nv++) {
		size_t	 l = (unsigned char)*p++;

		if (l > (size_t)(end - p))
			l = (size_t)(end - p);
		vals[nv].name = plain[nv].name = ldap_filter_ph_certificate[nv];
		vals[nv].value = p;
		vals[nv].len = l;
		plain[nv].value = "x";
		plain[nv].len = 1;
		p += l;
		/* The escape decodes back to the bytes. */
		n = ldap_filter_escape(vals[nv].value, l, esc, sizeof(esc));
		if (n < 0 || strlen(esc) != (size_t)n)
			abort();
		{
			size_t	 j = 0, k;

			for (k = 0; k < (size_t)n; j++) {
				int	 c;

				if (esc[k] == '\\') {
					c = hexval(esc[k + 1]) * 16 +
					    hexval(esc[k + 2]);
					k += 3;
				} else {
					c = (unsigned char)esc[k];
					if (c < 0x20 || c >= 0x7f || c == '*' ||
					    c == '(' || c == ')')
						abort();
					k++;
				}
				if (j >= l || c != (unsigned char)vals[nv].value[j])
					abort();
			}
			if (j != l)
				abort();
		}
	}
	if (ldap_filter_check(tmpl, ldap_filter_ph_certificate, err,
	    sizeof(err)) == 0) {
		for (i = 0; ldap_filter_ph_certificate[i]; i++)
			(void)ldap_filter_uses(tmpl,
			    ldap_filter_ph_certificate[i]);
		r1 = ldap_filter_expand_values(tmpl, vals, nv, out1,
		    sizeof(out1), err, sizeof(err));
		r2 = ldap_filter_expand_values(tmpl, plain, nv, out2,
		    sizeof(out2), err, sizeof(err));
		if (r1 >= 0) {
			if (strlen(out1) != (size_t)r1 || r2 < 0)
				abort();
			shape(out1, s1, sizeof(s1));
			shape(out2, s2, sizeof(s2));
			if (strcmp(s1, s2) != 0)
				abort();
		}
	} else
		(void)ldap_filter_check(tmpl, ldap_filter_ph_user, err,
		    sizeof(err));
	free(tmpl);
	return 0;
}
