/*
 * LDAP filter templates.
 *
 * A template is an RFC 4515 filter string in which assertion values may
 * contain placeholders {name}:
 *
 *	(&(objectClass=posixAccount)(caccn={cn})(cacserial={sn}))
 *	(&(uid={u})(|(!(caccn=*))(cacexempt=*)(cacemergency>={t})))
 *
 * ldap_filter_check() runs when the configuration is loaded: syntax, and
 * every placeholder in the caller's allowed set.  ldap_filter_expand()
 * runs per lookup: every value is escaped per RFC 4515 before it is
 * substituted, and a placeholder without a value (or with an empty one)
 * makes the expansion fail, so a missing certificate field can never turn
 * into a match-anything filter.  Placeholders may appear only inside
 * assertion values, never in attribute descriptions.  A literal brace in a
 * value is written escaped (\7b, \7d).
 */
#ifndef SMTPCERTD_LDAP_FILTER_H
#define SMTPCERTD_LDAP_FILTER_H

#include <stddef.h>
#include <time.h>

#define LDAP_FILTER_TMPL_MAX	2048	/* template length */
#define LDAP_FILTER_MAX		8192	/* expanded filter length */
#define LDAP_FILTER_DEPTH	32	/* nesting of ( ) */
#define LDAP_FILTER_PH_MAX	32	/* placeholder name length */
#define LDAP_GENTIME_LEN	16	/* "YYYYMMDDHHMMSSZ" + NUL */

/* Placeholder sets, NULL-terminated. */
extern const char *const ldap_filter_ph_certificate[];	/* cn sn e upn uid
							   o ou dn issuer fp
							   issuer_x500 sn_rev
							   ski */
extern const char *const ldap_filter_ph_user[];		/* u t */

/*
 * Check a template.  allowed is a NULL-terminated list of placeholder
 * names (NULL: no placeholder allowed).  Returns 0, or -1 with a message
 * in err (which may be NULL).
 */
int	ldap_filter_check(const char *tmpl, const char *const *allowed,
	    char *err, size_t errlen);

/* Does the template use placeholder name?  (Template assumed checked.) */
int	ldap_filter_uses(const char *tmpl, const char *name);

/*
 * Escape len bytes of val per RFC 4515: '*' '(' ')' '\' NUL and every
 * byte < 0x20 or >= 0x7f become \XX (lower-case hex).  Writes a
 * NUL-terminated string; returns its length, or -1 if out is too small.
 */
int	ldap_filter_escape(const void *val, size_t len, char *out,
	    size_t outlen);

/*
 * Supplies a placeholder's raw (unescaped) value.  Return NULL if there
 * is none; *lenp receives the length (values may contain NUL bytes).
 */
typedef const char *(*ldap_filter_value_cb)(const char *name, size_t *lenp,
	    void *arg);

struct ldap_filter_value {
	const char	*name;
	const char	*value;		/* NULL: no value */
	size_t		 len;
};

/*
 * Expand a template into out (NUL-terminated).  Returns the length, or -1
 * with a message in err: syntax error, missing or empty value, or output
 * longer than outlen - 1.
 */
int	ldap_filter_expand(const char *tmpl, ldap_filter_value_cb cb, void *arg,
	    char *out, size_t outlen, char *err, size_t errlen);
/* The same with an array of values. */
int	ldap_filter_expand_values(const char *tmpl,
	    const struct ldap_filter_value *vals, size_t nvals,
	    char *out, size_t outlen, char *err, size_t errlen);

/* t as LDAP GeneralizedTime in UTC, "YYYYMMDDHHMMSSZ".  0 or -1. */
int	ldap_filter_gentime(time_t t, char *buf, size_t len);

#endif
