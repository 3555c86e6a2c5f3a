/*
 * Certificate field extraction (common/certfields.c) from DER, as the
 * front and ldapd-helper run it on a client's certificate: every field,
 * the cheap subject reader, the DN fields the proxy names users by, the
 * placeholder values, and the PEM chain reader on the same bytes.
 * Checked: every value the extraction returns keeps the promises of
 * certfields.h (NUL-terminated, non-empty, bounded, valid UTF-8, no
 * control character outside {dn}/{issuer}'s escapes), and the cheap
 * subject reader agrees with the full one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "certfields.h"
#include "ldap_filter.h"
#include "utf8.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const dnfields[] = {
	"C", "CN", "DNQ", "EA", "GENQ", "GN", "I", "L", "N", "O", "OU",
	"SER", "SN", "ST", "T", "UID", "bogus", NULL
};

static void
check_value(const char *v, size_t max, int ctrl_ok)
{
	const unsigned char	*p = (const unsigned char *)v;
	size_t			 len, i, n;
	uint32_t		 cp;

	if (v == NULL)
		return;
	len = strlen(v);
	if (len == 0 || len > max)
		abort();
	for (i = 0; i < len; i += n) {
		if ((n = utf8_next(p + i, len - i, &cp)) == 0)
			abort();
		if (!ctrl_ok && (cp < 0x20 || cp == 0x7f))
			abort();
	}
}

static void
check_fields(const struct certfields *cf)
{
	struct ldap_filter_value vals[CERTFIELDS_NVALUES];
	int			 n, i;

	check_value(cf->cn, CERTFIELDS_FIELD_MAX, 0);
	check_value(cf->e, CERTFIELDS_FIELD_MAX, 0);
	check_value(cf->upn, CERTFIELDS_FIELD_MAX, 0);
	check_value(cf->uid, CERTFIELDS_FIELD_MAX, 0);
	check_value(cf->o, CERTFIELDS_FIELD_MAX, 0);
	check_value(cf->ou, CERTFIELDS_FIELD_MAX, 0);
	check_value(cf->sn, CERTFIELDS_FIELD_MAX, 0);
	check_value(cf->sn_dec, CERTFIELDS_FIELD_MAX, 0);
	check_value(cf->fp, CERTFIELDS_FIELD_MAX, 0);
	check_value(cf->sn_rev, CERTFIELDS_FIELD_MAX, 0);
	check_value(cf->ski, CERTFIELDS_FIELD_MAX, 0);
	/* {dn} and {issuer} escape control bytes: none may remain. */
	check_value(cf->dn, CERTFIELDS_DN_MAX, 0);
	check_value(cf->issuer, CERTFIELDS_DN_MAX, 0);
	check_value(cf->issuer_x500, CERTFIELDS_DN_MAX, 0);
	n = certfields_filter_values(cf, 0, vals, CERTFIELDS_NVALUES);
	if (n < 0)
		abort();
	for (i = 0; i < n; i++)
		if (vals[i].value != NULL &&
		    strlen(vals[i].value) != vals[i].len)
			abort();
	(void)certfields_ctrl_field(cf, NULL);
	(void)certfields_get(cf, "sn", 1);
	(void)certfields_get(cf, "nope", 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct certfields	 cf;
	const unsigned char	*p = data;
	STACK_OF(X509)		*chain;
	X509			*x;
	char			*subj, *v, buf[512];
	size_t			 i;

	subj = certfields_subject_from_der(data, size);
	check_value(subj, CERTFIELDS_DN_MAX, 0);
	if ((x = d2i_X509(NULL, &p, (long)size)) != NULL) {
		if (certfields_from_x509(x, &cf) == 0) {
			check_fields(&cf);
			/* The cheap reader names the same subject. */
			if (subj != NULL && cf.dn != NULL &&
			    strcmp(subj, cf.dn) != 0)
				abort();
			certfields_free(&cf);
		}
		if (certfields_ident(x, &cf) == 0) {
			check_fields(&cf);
			certfields_free(&cf);
		}
		for (i = 0; dnfields[i] != NULL; i++) {
			if ((v = certfields_dn_field(x, dnfields[i])) != NULL) {
				check_value(v, CERTFIELDS_FIELD_MAX, 0);
				free(v);
			}
		}
		(void)certfields_dn_print(X509_get_subject_name(x), buf,
		    sizeof(buf));
		if (strlen(buf) >= sizeof(buf))
			abort();
		X509_free(x);
	}
	free(subj);
	if ((chain = certfields_chain_from_pem(data, size, 0)) != NULL)
		sk_X509_pop_free(chain, X509_free);
	ERR_clear_error();
	return 0;
}
