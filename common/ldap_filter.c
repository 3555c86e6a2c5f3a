/*
 * LDAP filter templates: RFC 4515 syntax check, placeholder check,
 * escaping and expansion.  See ldap_filter.h.
 *
 * The checker is a small recursive-descent parser of the RFC 4515
 * grammar in which a placeholder counts as part of an assertion value.
 * Expansion first runs the checker (so a template that slipped past the
 * config check still cannot produce a malformed filter), then copies the
 * template, replacing each placeholder by its escaped value.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ldap_filter.h"

const char *const ldap_filter_ph_certificate[] = {
	"cn", "sn", "e", "upn", "uid", "o", "ou", "dn", "issuer", "fp",
	"issuer_x500", "sn_rev", "ski", NULL
};

const char *const ldap_filter_ph_user[] = {
	"u", "t", NULL
};

struct lf_parse {
	const char		*s;	/* template */
	size_t			 pos;
	const char *const	*allowed;
	int			 check_allowed;
	char			*err;
	size_t			 errlen;
};

static int	lf_error(struct lf_parse *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	lf_filter(struct lf_parse *, int);
static int	lf_item(struct lf_parse *);
static int	lf_attrdesc(struct lf_parse *);
static int	lf_oid(struct lf_parse *);
static int	lf_value(struct lf_parse *, int, int *);
static int	lf_placeholder(struct lf_parse *, char *, size_t);
static int	lf_run(const char *, const char *const *, int, char *, size_t);
static int	lf_hex(int);

static int
lf_error(struct lf_parse *lp, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[256];

	if (lp->err == NULL || lp->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(lp->err, lp->errlen, "%s at offset %zu", msg, lp->pos);
	return -1;
}

static int
lf_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* filter = "(" filtercomp ")" */
static int
lf_filter(struct lf_parse *lp, int depth)
{
	char	 c;
	int	 n;

	if (depth >= LDAP_FILTER_DEPTH)
		return lf_error(lp, "filter nested too deeply");
	if (lp->s[lp->pos] != '(')
		return lf_error(lp, "expected '('");
	lp->pos++;
	c = lp->s[lp->pos];
	switch (c) {
	case '&':
	case '|':
		lp->pos++;
		/* filterlist = 1*filter */
		for (n = 0; lp->s[lp->pos] == '('; n++)
			if (lf_filter(lp, depth + 1) == -1)
				return -1;
		if (n == 0)
			return lf_error(lp, "'%c' needs at least one filter", c);
		break;
	case '!':
		lp->pos++;
		if (lf_filter(lp, depth + 1) == -1)
			return -1;
		break;
	default:
		if (lf_item(lp) == -1)
			return -1;
		break;
	}
	if (lp->s[lp->pos] != ')')
		return lf_error(lp, "expected ')'");
	lp->pos++;
	return 0;
}

/* numericoid = number 1*( "." number ), or descr */
static int
lf_oid(struct lf_parse *lp)
{
	const char	*s = lp->s;
	int		 ndots;

	if (isdigit((unsigned char)s[lp->pos])) {
		for (ndots = 0;; ndots++) {
			if (!isdigit((unsigned char)s[lp->pos]))
				return lf_error(lp, "bad numeric OID");
			/* number = DIGIT / ( LDIGIT 1*DIGIT ) */
			if (s[lp->pos] == '0' &&
			    isdigit((unsigned char)s[lp->pos + 1]))
				return lf_error(lp, "bad numeric OID");
			while (isdigit((unsigned char)s[lp->pos]))
				lp->pos++;
			if (s[lp->pos] != '.')
				break;
			lp->pos++;
		}
		if (ndots == 0)
			return lf_error(lp, "bad numeric OID");
		return 0;
	}
	if (!isalpha((unsigned char)s[lp->pos]))
		return lf_error(lp, "expected an attribute name");
	while (isalnum((unsigned char)s[lp->pos]) || s[lp->pos] == '-')
		lp->pos++;
	return 0;
}

/* attributedescription = attributetype options */
static int
lf_attrdesc(struct lf_parse *lp)
{
	if (lf_oid(lp) == -1)
		return -1;
	while (lp->s[lp->pos] == ';') {
		lp->pos++;
		if (!isalnum((unsigned char)lp->s[lp->pos]) &&
		    lp->s[lp->pos] != '-')
			return lf_error(lp, "bad attribute option");
		while (isalnum((unsigned char)lp->s[lp->pos]) ||
		    lp->s[lp->pos] == '-')
			lp->pos++;
	}
	return 0;
}

/* "{name}" at lp->pos: check it, copy its name, advance past it. */
static int
lf_placeholder(struct lf_parse *lp, char *name, size_t namelen)
{
	size_t	 i, n = 0;
	int	 ok;

	lp->pos++;	/* '{' */
	while (lp->s[lp->pos] != '}') {
		char c = lp->s[lp->pos];

		if (c == '\0')
			return lf_error(lp, "unterminated placeholder");
		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) ||
		    c == '_'))
			return lf_error(lp, "bad character in placeholder");
		if (n + 1 >= namelen)
			return lf_error(lp, "placeholder name too long");
		name[n++] = c;
		lp->pos++;
	}
	name[n] = '\0';
	if (n == 0)
		return lf_error(lp, "empty placeholder");
	lp->pos++;	/* '}' */
	if (lp->check_allowed) {
		ok = 0;
		for (i = 0; lp->allowed != NULL && lp->allowed[i] != NULL; i++)
			if (strcmp(lp->allowed[i], name) == 0)
				ok = 1;
		if (!ok) {
			lp->pos -= n + 2;
			return lf_error(lp, "unknown placeholder {%s}", name);
		}
	}
	return 0;
}

/*
 * An assertion value up to ')'.  With substr, unescaped '*' separate
 * substrings; *nstars counts them, and empty substrings between stars
 * are refused.
 */
static int
lf_value(struct lf_parse *lp, int substr, int *nstars)
{
	char		 name[LDAP_FILTER_PH_MAX + 1];
	unsigned char	 c;
	int		 prevstar = 0;

	*nstars = 0;
	for (;;) {
		c = (unsigned char)lp->s[lp->pos];
		if (c == ')' || c == '\0')
			break;
		if (c == '(')
			return lf_error(lp, "unescaped '(' in value");
		if (c < 0x20 || c == 0x7f)
			return lf_error(lp, "control character in value");
		if (c == '*') {
			if (!substr)
				return lf_error(lp, "'*' not allowed here");
			if (prevstar)
				return lf_error(lp, "empty substring");
			prevstar = 1;
			(*nstars)++;
			lp->pos++;
			continue;
		}
		prevstar = 0;
		if (c == '\\') {
			if (lf_hex(lp->s[lp->pos + 1]) == -1 ||
			    lf_hex(lp->s[lp->pos + 2]) == -1)
				return lf_error(lp, "bad escape, need \\XX");
			lp->pos += 3;
			continue;
		}
		if (c == '{') {
			if (lf_placeholder(lp, name, sizeof(name)) == -1)
				return -1;
			continue;
		}
		if (c == '}')
			return lf_error(lp, "unbalanced '}', write \\7d");
		lp->pos++;
	}
	return 0;
}

/* item = simple / present / substring / extensible */
static int
lf_item(struct lf_parse *lp)
{
	const char	*s = lp->s;
	int		 nstars, hasattr = 0, hasrule = 0;

	if (s[lp->pos] != ':') {
		if (lf_attrdesc(lp) == -1)
			return -1;
		hasattr = 1;
	}
	if (s[lp->pos] == ':') {
		/* extensible: attr [":dn"] [":" oid] ":=" value, or
		 * [":dn"] ":" oid ":=" value */
		if (strncasecmp(s + lp->pos, ":dn", 3) == 0 &&
		    (s[lp->pos + 3] == ':')) {
			lp->pos += 3;
		}
		if (s[lp->pos] == ':' && s[lp->pos + 1] != '=') {
			lp->pos++;
			if (lf_oid(lp) == -1)
				return -1;
			hasrule = 1;
		}
		if (s[lp->pos] != ':' || s[lp->pos + 1] != '=')
			return lf_error(lp, "expected ':='");
		if (!hasattr && !hasrule)
			return lf_error(lp, "extensible match needs a "
			    "matching rule");
		lp->pos += 2;
		return lf_value(lp, 0, &nstars);
	}
	switch (s[lp->pos]) {
	case '=':
		lp->pos++;
		return lf_value(lp, 1, &nstars);
	case '~':
	case '>':
	case '<':
		if (s[lp->pos + 1] != '=')
			return lf_error(lp, "expected '='");
		lp->pos += 2;
		return lf_value(lp, 0, &nstars);
	default:
		return lf_error(lp, "expected a filter type");
	}
}

static int
lf_run(const char *tmpl, const char *const *allowed, int check_allowed,
    char *err, size_t errlen)
{
	struct lf_parse	 lp;

	memset(&lp, 0, sizeof(lp));
	lp.s = tmpl;
	lp.allowed = allowed;
	lp.check_allowed = check_allowed;
	lp.err = err;
	lp.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (tmpl == NULL)
		return lf_error(&lp, "no filter");
	if (strlen(tmpl) > LDAP_FILTER_TMPL_MAX)
		return lf_error(&lp, "filter too long");
	if (lf_filter(&lp, 0) == -1)
		return -1;
	if (tmpl[lp.pos] != '\0')
		return lf_error(&lp, "trailing characters after filter");
	return 0;
}

int
ldap_filter_check(const char *tmpl, const char *const *allowed, char *err,
    size_t errlen)
{
	return lf_run(tmpl, allowed, 1, err, errlen);
}

int
ldap_filter_uses(const char *tmpl, const char *name)
{
	const char	*p, *q;
	size_t		 n = strlen(name);

	for (p = tmpl; (p = strchr(p, '{')) != NULL; p = q) {
		if ((q = strchr(p, '}')) == NULL)
			return 0;
		if ((size_t)(q - p - 1) == n && strncmp(p + 1, name, n) == 0)
			return 1;
	}
	return 0;
}

int
ldap_filter_escape(const void *val, size_t len, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*v = val;
	size_t			 i, o = 0;

	if (outlen == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = v[i];

		if (c == '*' || c == '(' || c == ')' || c == '\\' ||
		    c < 0x20 || c >= 0x7f) {
			if (o + 3 >= outlen)
				return -1;
			out[o++] = '\\';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		} else {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return (int)o;
}

int
ldap_filter_expand(const char *tmpl, ldap_filter_value_cb cb, void *arg,
    char *out, size_t outlen, char *err, size_t errlen)
{
	char		 name[LDAP_FILTER_PH_MAX + 1];
	const char	*p, *q, *val;
	size_t		 o = 0, vlen, n;
	int		 r;

	if (out == NULL || outlen == 0 || outlen > (size_t)1 << 30) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "no output buffer");
		return -1;
	}
	out[0] = '\0';
	if (lf_run(tmpl, NULL, 0, err, errlen) == -1)
		return -1;
	for (p = tmpl; *p != '\0'; ) {
		if (*p == '\\') {
			/* an escape: copy as is, so "\7b" stays literal */
			if (o + 3 >= outlen)
				goto toolong;
			memcpy(out + o, p, 3);
			o += 3;
			p += 3;
			continue;
		}
		if (*p != '{') {
			if (o + 1 >= outlen)
				goto toolong;
			out[o++] = *p++;
			continue;
		}
		q = strchr(p, '}');	/* checked above: present */
		n = (size_t)(q - p - 1);
		memcpy(name, p + 1, n);
		name[n] = '\0';
		vlen = 0;
		val = cb(name, &vlen, arg);
		if (val == NULL || vlen == 0) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "no value for {%s}", name);
			out[0] = '\0';
			return -1;
		}
		r = ldap_filter_escape(val, vlen, out + o, outlen - o);
		if (r == -1)
			goto toolong;
		o += (size_t)r;
		p = q + 1;
	}
	out[o] = '\0';
	return (int)o;

 toolong:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "expanded filter too long");
	out[0] = '\0';
	return -1;
}

struct lf_values {
	const struct ldap_filter_value	*vals;
	size_t				 nvals;
};

static const char *
lf_values_cb(const char *name, size_t *lenp, void *arg)
{
	const struct lf_values	*lv = arg;
	size_t			 i;

	for (i = 0; i < lv->nvals; i++) {
		if (lv->vals[i].name != NULL &&
		    strcmp(lv->vals[i].name, name) == 0) {
			*lenp = lv->vals[i].len;
			return lv->vals[i].value;
		}
	}
	return NULL;
}

int
ldap_filter_expand_values(const char *tmpl,
    const struct ldap_filter_value *vals, size_t nvals, char *out,
    size_t outlen, char *err, size_t errlen)
{
	struct lf_values	 lv;

	lv.vals = vals;
	lv.nvals = nvals;
	return ldap_filter_expand(tmpl, lf_values_cb, &lv, out, outlen,
	    err, errlen);
}

int
ldap_filter_gentime(time_t t, char *buf, size_t len)
{
	struct tm	 tm;

	if (len < LDAP_GENTIME_LEN || gmtime_r(&t, &tm) == NULL)
		return -1;
	if (strftime(buf, len, "%Y%m%d%H%M%SZ", &tm) != LDAP_GENTIME_LEN - 1)
		return -1;
	return 0;
}
