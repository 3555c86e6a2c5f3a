/*
 * The front's lookups: certificate -> user, and smtp-auth user+password.
 *
 * Certificate (SPEC 3.3): the leaf's fields fill the query's template
 * (ldap_filter escapes every value; a field the template names but the
 * certificate lacks is LDAP_RES_BADREQ, never a wildcard), one search as
 * the service account under base/scope for user-attribute, the mail
 * attribute and the match-certificate attribute.  Exactly one entry, one
 * usable user value, and with match-certificate the presented DER among
 * the stored values, or it is not OK.  A field the template uses with a
 * control character is LDAP_RES_BADFIELD, before LDAP is asked.
 *
 * smtp-auth (SPEC 3.4): the name is checked before LDAP is asked (no C0
 * byte, no DEL, no leading or trailing space, not empty, not longer than
 * LDAP_MAX_VALUE; the password not empty), then
 *	search (service connection)	exactly one entry
 *	bind as that dn (bind connection)	invalidCredentials -> BADCRED
 *	allowance (service connection)	base = the entry, scope base:
 *					does this user's entry match?
 * The user name answered is the name as typed (what the seed shows and
 * what the front logs), not the entry's uid.
 *
 * Authorization (SPEC 6, e-mail proxy): the query's filter with {u} (the
 * authenticated user) and {t}, one search as the service account for the
 * group-policy attribute.  Exactly one entry: OK with the attribute's
 * first usable value as the group policy ("" if none: the default group
 * policy applies); no entry: NOTFOUND; two: AMBIGUOUS.  The same
 * name checks as smtp-auth run before LDAP is asked.
 *
 * Allowance (issue 13, the e-mail proxy's password methods that do not
 * bind: mailhost, piggyback): an smtp-auth query's card rule alone, for a
 * user name and no password.  The same name checks, the same search
 * (query filter, {u} and {t}, as the service account); no entry:
 * NOTFOUND (the user is not in the directory, so no card rule applies:
 * the front decides what that means); two: AMBIGUOUS; one: the allowance
 * step exactly as after a successful smtp-auth bind (OK without an
 * allowance).  Never a bind as the user, so an OK here proves nothing
 * about a password: these answers are never cached (see
 * lookup_cache_key()).
 *
 * Anything that goes wrong on the LDAP side -- an error code, a lost
 * connection, no server, the request timeout -- is LDAP_RES_TEMPFAIL,
 * never NOTFOUND or BADCRED, and TEMPFAIL is never cached.
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include "certfields.h"
#include "childproc.h"
#include "compat.h"
#include "imsg.h"
#include "ldapd.h"
#include "ldap_filter.h"
#include "log.h"
#include "pwpolicy.h"
#include "stats.h"

#define PWTOKEN_LEN	32

static struct lreq *lreq_new(uint64_t, enum lreq_type, char *, char *);
static void	lreq_free(struct lreq *);
static void	lookup_timeout(evutil_socket_t, short, void *);
static void	lookup_arm(struct lreq *);
static void	lookup_search_done(struct lreq *);
static void	lookup_bind_done(struct lreq *, int, const char *);
static void	lookup_allowance_step(struct lreq *);
static const char *lookup_user_bad(const unsigned char *, size_t);
static void	lookup_finish(struct lreq *, uint32_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	lookup_send(uint64_t, enum lreq_type, uint32_t, const char *,
		    const char *, char *const *, int, const char *);
static void	lookup_cert_start(struct lreq *, const void *, size_t);
static void	lookup_auth_start(struct lreq *, const void *, size_t,
		    const void *, size_t);
static void	lookup_authz_start(struct lreq *, const void *, size_t);
static void	lookup_allow_start(struct lreq *, const void *, size_t);
static uint32_t	lookup_res_type(enum lreq_type);
static const char *lookup_type_name(enum lreq_type);
static int	lookup_cache_key(struct lreq *, char **, size_t *);
static void	lookup_cache_store(struct lreq *, uint32_t);
static int	lookup_cache_hit(struct lreq *, const void *);
static int	value_ok(const struct berval *, size_t);
static const char *lookup_who(struct lreq *, char *, size_t);
static void	lookup_trace_filter(struct lreq *);
static void	lookup_op_done(struct lreq *, int, const char *);
static void	lookup_fail_queue(struct lreq_queue *, const char *);

/* What the connections report on the requests' operations. */
static const struct lconn_cb lookup_conn_cb = {
	.entry = lookup_entry,
	.op_done = lookup_op_done,
	.fail_queue = lookup_fail_queue
};

static int	front_gone_quietly;

void
lookup_init(void)
{
	lconn_init(&lookup_conn_cb);
}

/* --- request life ------------------------------------------------------ */

static struct lreq *
lreq_new(uint64_t id, enum lreq_type type, char *pname, char *qname)
{
	struct lreq	*r;

	r = xcalloc(1, sizeof(*r));
	r->id = id;
	r->type = type;
	r->pname = pname;
	r->qname = qname;
	r->start_ms = now_ms();
	r->pp_error = PWP_PP_NONE;
	r->pp_grace = r->pp_expire = -1;
	r->gen = env->cur;
	lgen_ref(r->gen);
	TAILQ_INSERT_TAIL(&env->reqs, r, entry);
	env->nreqs++;
	if ((r->p = lgen_profile(r->gen, pname)) != NULL)
		r->q = config_find_ldap_query(r->p->conf, qname);
	return r;
}

/*
 * A new request, unless too many are in flight or no configuration has
 * arrived yet: then the front gets a temporary failure at once and the
 * names are freed.
 */
static struct lreq *
lreq_admit(uint64_t id, enum lreq_type type, char *pname, char *qname)
{
	if (env->nreqs >= LDAPD_MAX_REQUESTS || env->cur == NULL) {
		log_warnx("lookup %llu refused: %d lookups in flight",
		    (unsigned long long)id, env->nreqs);
		lookup_send(id, type, LDAP_RES_TEMPFAIL, "", "", NULL, 0,
		    "too many lookups in flight");
		free(pname);
		free(qname);
		return NULL;
	}
	log_trace(TRACE_LDAP, "request %llu: %s, ldap \"%s\" query \"%s\"",
	    (unsigned long long)id, lookup_type_name(type), pname, qname);
	return lreq_new(id, type, pname, qname);
}

/* The configured scope in libldap's terms. */
static int
lookup_scope(enum ldap_scope_conf scope)
{
	switch (scope) {
	case CONF_LDAP_SCOPE_BASE:
		return LDAP_SCOPE_BASE;
	case CONF_LDAP_SCOPE_ONE:
		return LDAP_SCOPE_ONELEVEL;
	default:
		return LDAP_SCOPE_SUBTREE;
	}
}

static void
lreq_free(struct lreq *r)
{
	int	 i;

	TAILQ_REMOVE(&env->reqs, r, entry);
	env->nreqs--;
	if (r->ev_timeout != NULL)
		event_free(r->ev_timeout);
	free(r->pname);
	free(r->qname);
	free(r->filter);
	free(r->dn);
	free(r->user);
	for (i = 0; i < r->nmails; i++)
		free(r->mails[i]);
	free(r->der);
	free(r->subject);
	free(r->uname);
	if (r->pw != NULL) {
		explicit_bzero(r->pw, r->pwlen);
		free(r->pw);
	}
	explicit_bzero(r->pwtoken, sizeof(r->pwtoken));
	lgen_unref(r->gen);
	free(r);
}

static void
lookup_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct lreq	*r = arg;

	lconn_cancel(r, 1);
	lookup_finish(r, LDAP_RES_TEMPFAIL, "no answer within %ds",
	    r->p->conf->timeout);
}

static void
lookup_arm(struct lreq *r)
{
	struct timeval	 tv;

	tv.tv_sec = r->p->conf->timeout;
	tv.tv_usec = 0;
	if ((r->ev_timeout = evtimer_new(env->base, lookup_timeout, r)) ==
	    NULL)
		fatalx("evtimer_new");
	evtimer_add(r->ev_timeout, &tv);
}

static const char *
lookup_who(struct lreq *r, char *buf, size_t len)
{
	char	*s;

	/* A cache hit skipped parsing, and its entry had no subject:
	 * read just the subject now. */
	if (r->type == LREQ_CERT && r->cached && r->subject == NULL) {
		s = certfields_subject_from_der(r->der, r->derlen);
		r->subject = s != NULL ? s : xstrdup("(no subject)");
	}
	if (r->type == LREQ_CERT)
		return r->subject != NULL ? logstr(r->subject,
		    strlen(r->subject), buf, len) : "(unparsed)";
	return r->uname != NULL ? logstr(r->uname, strlen(r->uname), buf,
	    len) : "(refused)";
}

static void
lookup_send(uint64_t id, enum lreq_type type, uint32_t result,
    const char *user, const char *dn, char *const *mails, int nmails,
    const char *detail)
{
	struct msgbuild	 m;
	int		 i;

	msg_init(&m);
	msg_put_u32(&m, result);
	msg_put_str(&m, user);
	msg_put_str(&m, dn);
	msg_put_u32(&m, (uint32_t)nmails);
	for (i = 0; i < nmails; i++)
		msg_put_str(&m, mails[i]);
	msg_put_str(&m, detail);
	if (childproc_peer_send(env->cp, reqid_slot(id), &m,
	    lookup_res_type(type), 0, reqid_orig(id), -1) == -1)
		log_trace(TRACE_LDAP, "answer %llu: front not connected",
		    (unsigned long long)id);
	msg_free(&m);
}

static uint32_t
lookup_res_type(enum lreq_type type)
{
	switch (type) {
	case LREQ_CERT:
		return IMSG_LDAP_CERT_RES;
	case LREQ_AUTH:
		return IMSG_LDAP_AUTH_RES;
	case LREQ_ALLOW:
		return IMSG_LDAP_ALLOW_RES;
	default:
		return IMSG_LDAP_AUTHZ_RES;
	}
}

static enum stat_id
lookup_stat(enum lreq_type type)
{
	switch (type) {
	case LREQ_CERT:
		return STAT_LDAP_REQ_CERT;
	case LREQ_AUTH:
		return STAT_LDAP_REQ_AUTH;
	case LREQ_ALLOW:
		return STAT_LDAP_REQ_ALLOW;
	default:
		return STAT_LDAP_REQ_AUTHZ;
	}
}

static const char *
lookup_type_name(enum lreq_type type)
{
	switch (type) {
	case LREQ_CERT:
		return "certificate";
	case LREQ_AUTH:
		return "smtp-auth";
	case LREQ_ALLOW:
		return "allowance";
	default:
		return "authorization";
	}
}

/*
 * The one way out of a request: cancel its op, cache, answer, log one
 * line, free.
 */
static void
lookup_finish(struct lreq *r, uint32_t result, const char *fmt, ...)
{
	char		 who[LDAPD_LOGSTR_MAX], detail[LDAPD_DETAIL_MAX];
	const char	*user;
	va_list		 ap;

	if (r->queued || r->conn != NULL)
		lconn_cancel(r, 0);
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	} else	/* a password policy warning, or nothing */
		strlcpy(detail, r->detail, sizeof(detail));
	if (!r->cached)
		lookup_cache_store(r, result);
	stats_inc(lookup_stat(r->type));
	stats_inc(r->cached ? STAT_LDAP_CACHE_HIT : STAT_LDAP_CACHE_MISS);
	stats_ldap_result(result);

	user = "";
	if (result == LDAP_RES_OK || result == LDAP_RES_DISALLOWED)
		user = r->type == LREQ_AUTH || r->type == LREQ_ALLOW ?
		    r->uname : r->user;
	if (user == NULL)
		user = "";
	if (!front_gone_quietly)
		lookup_send(r->id, r->type, result, user,
		    r->dn != NULL && (result == LDAP_RES_OK ||
		    result == LDAP_RES_DISALLOWED) ? r->dn : "",
		    r->mails, result == LDAP_RES_OK ||
		    result == LDAP_RES_DISALLOWED ? r->nmails : 0, detail);

	logit(front_gone_quietly ? LOG_DEBUG : LOG_INFO,
	    "%s ldap \"%s\" query \"%s\" %s \"%s\": %s%s%s%s%s%s %llums%s",
	    lookup_type_name(r->type),
	    r->pname, r->qname, r->type == LREQ_CERT ? "subject" : "user",
	    lookup_who(r, who, sizeof(who)), ldap_result_name(result),
	    *user ? (r->type == LREQ_AUTHZ ? " group-policy " : " user ") :
	    "", user, detail[0] ? " (" : "", detail,
	    detail[0] ? ")" : "",
	    (unsigned long long)(now_ms() - r->start_ms),
	    r->cached ? " cached" : "");
	lreq_free(r);
}

/* Fail every request waiting in a queue: no server can be tried. */
static void
lookup_fail_queue(struct lreq_queue *q, const char *why)
{
	struct lreq	*r;

	while ((r = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, r, qentry);
		r->queued = 0;
		lookup_finish(r, LDAP_RES_TEMPFAIL, "%s", why);
	}
}

/* The front went away: its requests end without an answer. */
void
lookup_front_gone(int slot)
{
	struct lreq	*r, *next;
	int		 n = 0;

	front_gone_quietly = 1;
	for (r = TAILQ_FIRST(&env->reqs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (reqid_slot(r->id) != slot)
			continue;
		lookup_finish(r, LDAP_RES_TEMPFAIL, "front went away");
		n++;
		/* lookup_finish() may free more than r: start over. */
		next = TAILQ_FIRST(&env->reqs);
	}
	front_gone_quietly = 0;
	if (n > 0)
		log_info("front channel closed: %d pending lookup(s) dropped",
		    n);
}

/* --- cache -------------------------------------------------------------- */

/*
 * Keys: "C", query, SHA-256 of the certificate (the whole DER: the
 * expanded filter and match-certificate both follow from it and the
 * query, so the key is known before the certificate is parsed); "A",
 * query, user name as typed; "Z", query, user name (authorization: no
 * password involved).
 *
 * Allowance-only answers (LREQ_ALLOW) have no key, so they are neither
 * stored nor looked up.  They were reached without a password: under
 * the smtp-auth key an OK would answer a password check with any
 * password, and a separate key would buy little (the proxy asks once
 * per login) for a card rule whose {t} and emergency dates should be
 * read fresh.  An smtp-auth answer in the cache does not answer them
 * either: they always ask the directory.
 */
static int
lookup_cache_key(struct lreq *r, char **keyp, size_t *lenp)
{
	size_t	 ql = strlen(r->qname), len, off = 0;
	char	*k;

	if (r->type == LREQ_ALLOW)
		return -1;
	if (r->type == LREQ_CERT) {
		if (r->der == NULL)
			return -1;
		len = 2 + ql + 1 + sizeof(r->fp);
		k = xcalloc(1, len);
		memcpy(k, "C", 2);
		off = 2;
		memcpy(k + off, r->qname, ql + 1);
		off += ql + 1;
		memcpy(k + off, r->fp, sizeof(r->fp));
	} else {
		if (r->uname == NULL)
			return -1;
		len = 2 + ql + 1 + strlen(r->uname);
		k = xcalloc(1, len);
		memcpy(k, r->type == LREQ_AUTHZ ? "Z" : "A", 2);
		off = 2;
		memcpy(k + off, r->qname, ql + 1);
		off += ql + 1;
		memcpy(k + off, r->uname, strlen(r->uname));
	}
	*keyp = k;
	*lenp = len;
	return 0;
}

static int
lookup_cache_hit(struct lreq *r, const void *token)
{
	struct lcache_answer	 a;
	char			*key;
	size_t			 klen;
	int			 i, hit;

	if (r->p->cache == NULL || lookup_cache_key(r, &key, &klen) == -1)
		return 0;
	hit = lcache_get(r->p->cache, key, klen, token,
	    token != NULL ? PWTOKEN_LEN : 0, &a);
	free(key);
	if (!hit) {
		log_trace(TRACE_LDAP, "request %llu: not in the cache",
		    (unsigned long long)r->id);
		return 0;
	}
	log_trace(TRACE_LDAP, "request %llu: answered from the cache",
	    (unsigned long long)r->id);
	r->cached = 1;
	if (a.user != NULL && *a.user && r->type != LREQ_AUTH)
		r->user = xstrdup(a.user);
	if (a.dn != NULL && *a.dn)
		r->dn = xstrdup(a.dn);
	/* The same DER, so the same subject: no parsing for the log. */
	if (r->type == LREQ_CERT && a.subject != NULL && *a.subject)
		r->subject = xstrdup(a.subject);
	for (i = 0; i < a.nmails && i < LDAP_MAX_MAILS; i++)
		r->mails[r->nmails++] = xstrdup(a.mails[i]);
	lookup_finish(r, a.result, NULL);
	return 1;
}

static void
lookup_cache_store(struct lreq *r, uint32_t result)
{
	struct lcache_answer	 a;
	char			*key;
	size_t			 klen;
	int			 negative, withpw = 0;

	/* Never cached, see lookup_cache_key(). */
	if (r->p == NULL || r->p->cache == NULL || r->type == LREQ_ALLOW)
		return;
	/* A grace login spends one of a few: each must reach the
	 * directory, which counts them and refuses the last. */
	if (r->pp_grace >= 0)
		return;
	switch (result) {
	case LDAP_RES_OK:
		negative = 0;
		withpw = r->type == LREQ_AUTH;
		break;
	case LDAP_RES_DISALLOWED:
		/* The password was right; the allowance said no. */
		negative = 0;
		withpw = 1;
		break;
	case LDAP_RES_NOTFOUND:
	case LDAP_RES_MISMATCH:
		negative = 1;
		break;
	default:
		/* TEMPFAIL, BADCRED, AMBIGUOUS, BADREQ, BADFIELD: never. */
		return;
	}
	if (lookup_cache_key(r, &key, &klen) == -1)
		return;
	memset(&a, 0, sizeof(a));
	a.result = result;
	a.user = r->type != LREQ_AUTH ? r->user : NULL;
	a.dn = r->dn;
	a.subject = r->type == LREQ_CERT ? r->subject : NULL;
	a.mails = r->mails;
	a.nmails = negative ? 0 : r->nmails;
	lcache_put(r->p->cache, key, klen, withpw ? r->pwtoken : NULL,
	    withpw ? PWTOKEN_LEN : 0, negative, &a);
	free(key);
}

/* --- entries ------------------------------------------------------------- */

/* A value we pass on: not empty, bounded, no control bytes, no NUL. */
static int
value_ok(const struct berval *bv, size_t max)
{
	size_t	 i;

	if (bv->bv_len == 0 || bv->bv_len > max)
		return 0;
	for (i = 0; i < bv->bv_len; i++)
		if ((unsigned char)bv->bv_val[i] < 0x20 ||
		    (unsigned char)bv->bv_val[i] == 0x7f)
			return 0;
	return 1;
}

void
lookup_entry(struct lreq *r, LDAP *ld, LDAPMessage *e)
{
	struct berval	**vals;
	char		*dn;
	int		 i, n;

	/* Counting is all we need beyond the first entry. */
	if (++r->nentries > 1 || r->step == LSTEP_ALLOWANCE)
		return;

	if ((dn = ldap_get_dn(ld, e)) != NULL) {
		if (strlen(dn) <= LDAP_MAX_DN)
			r->dn = xstrdup(dn);
		ldap_memfree(dn);
	}
	if ((vals = ldap_get_values_len(ld, e, r->p->conf->mail_attr)) !=
	    NULL) {
		n = ldap_count_values_len(vals);
		for (i = 0; i < n; i++) {
			if (r->nmails >= LDAP_MAX_MAILS) {
				log_warnx("%s: %s has more than %d %s values; "
				    "the rest are ignored", r->pname,
				    r->dn ? r->dn : "entry", LDAP_MAX_MAILS,
				    r->p->conf->mail_attr);
				break;
			}
			if (!value_ok(vals[i], LDAP_MAX_VALUE))
				continue;
			r->mails[r->nmails] = xcalloc(1, vals[i]->bv_len + 1);
			memcpy(r->mails[r->nmails++], vals[i]->bv_val,
			    vals[i]->bv_len);
		}
		ldap_value_free_len(vals);
	}
	if (r->type == LREQ_AUTHZ) {
		/* The first usable value names the group policy. */
		if (r->q->group_attr != NULL && (vals =
		    ldap_get_values_len(ld, e, r->q->group_attr)) != NULL) {
			n = ldap_count_values_len(vals);
			for (i = 0; i < n && r->user == NULL; i++) {
				if (!value_ok(vals[i], CONFIG_NAME_MAX))
					continue;
				r->user = xcalloc(1, vals[i]->bv_len + 1);
				memcpy(r->user, vals[i]->bv_val,
				    vals[i]->bv_len);
			}
			ldap_value_free_len(vals);
		}
		return;
	}
	if (r->type != LREQ_CERT)
		return;

	if ((vals = ldap_get_values_len(ld, e, r->q->user_attr)) != NULL) {
		r->nuser = ldap_count_values_len(vals);
		if (r->nuser == 1 && value_ok(vals[0], LDAP_MAX_VALUE)) {
			r->user = xcalloc(1, vals[0]->bv_len + 1);
			memcpy(r->user, vals[0]->bv_val, vals[0]->bv_len);
		}
		ldap_value_free_len(vals);
	}
	if (r->q->match_cert_attr != NULL && (vals = ldap_get_values_len(ld,
	    e, r->q->match_cert_attr)) != NULL) {
		n = ldap_count_values_len(vals);
		for (i = 0; i < n && i < LDAPD_MAX_CERTVALUES; i++)
			if (vals[i]->bv_len == r->derlen &&
			    memcmp(vals[i]->bv_val, r->der, r->derlen) == 0)
				r->certmatch = 1;
		ldap_value_free_len(vals);
	}
}

/* --- steps -------------------------------------------------------------- */

/*
 * The subject or user name goes through logstr(); the expanded filter is
 * printable ASCII already (RFC 4515 escaping, ldap_filter.c) and is
 * shown as slapd will see it.
 */
static void
lookup_trace_filter(struct lreq *r)
{
	char	 u[LDAPD_LOGSTR_MAX];

	if (!log_tracing(TRACE_LDAP))
		return;
	log_trace(TRACE_LDAP, "request %llu: %s \"%s\", filter %s",
	    (unsigned long long)r->id, r->type == LREQ_CERT ? "subject" :
	    "user", r->type == LREQ_CERT ? (r->subject != NULL ?
	    logstr(r->subject, strlen(r->subject), u, sizeof(u)) : "") :
	    r->uname != NULL ? logstr(r->uname, strlen(r->uname), u,
	    sizeof(u)) : "", r->filter);
}

static void
lookup_search_done(struct lreq *r)
{
	log_trace(TRACE_LDAP, "request %llu: search found %d entr%s",
	    (unsigned long long)r->id, r->nentries,
	    r->nentries == 1 ? "y" : "ies");
	if (r->nentries == 0) {
		lookup_finish(r, LDAP_RES_NOTFOUND, NULL);
		return;
	}
	if (r->nentries > 1) {
		/* Two entries for one certificate or one name: whoever
		 * maintains the directory must fix it; refuse meanwhile. */
		log_warnx("SECURITY: ldap \"%s\" query \"%s\" matches more "
		    "than one entry for request %llu (first %s)", r->pname,
		    r->qname, (unsigned long long)r->id,
		    r->dn ? r->dn : "?");
		lookup_finish(r, LDAP_RES_AMBIGUOUS, "more than one entry");
		return;
	}
	if (r->type == LREQ_CERT) {
		if (r->q->match_cert_attr != NULL && !r->certmatch) {
			lookup_finish(r, LDAP_RES_MISMATCH, "presented "
			    "certificate is not in %s", r->q->match_cert_attr);
			return;
		}
		if (r->user == NULL) {
			log_warnx("ldap \"%s\": %s has %s %s value(s); not "
			    "a user", r->pname, r->dn ? r->dn : "entry",
			    r->nuser > 1 ? "several" : "no usable",
			    r->q->user_attr);
			lookup_finish(r, r->nuser > 1 ? LDAP_RES_AMBIGUOUS :
			    LDAP_RES_NOTFOUND, "%s %s", r->nuser > 1 ?
			    "multi-valued" : "no usable", r->q->user_attr);
			return;
		}
		lookup_finish(r, LDAP_RES_OK, NULL);
		return;
	}
	if (r->type == LREQ_AUTHZ) {
		lookup_finish(r, LDAP_RES_OK, NULL);
		return;
	}
	if (r->dn == NULL) {
		lookup_finish(r, LDAP_RES_TEMPFAIL, "entry without usable dn");
		return;
	}
	/* The card rule alone: no bind as the user, ever. */
	if (r->type == LREQ_ALLOW) {
		lookup_allowance_step(r);
		return;
	}
	r->step = LSTEP_BIND;
	lconn_submit(r->p, r, LCONN_BIND);
}

/*
 * The user's bind answered.  The directory's password policy speaks
 * first (issue 15): OpenLDAP's ppolicy response control, or Active
 * Directory's "data NNN" in the diagnostic of invalidCredentials, tell
 * a locked, expired or disabled account from a wrong password.  A
 * successful bind that the policy marks (changeAfterReset: slapd lets
 * the user bind only to change the password) is refused all the same:
 * success with an account error is never OK.  Grace logins and expiry
 * warnings let the user in and say so in the detail, which the front
 * logs.
 */
static void
lookup_bind_done(struct lreq *r, int rc, const char *why)
{
	char		 what[64];
	uint32_t	 acct;

	log_trace(TRACE_LDAP, "request %llu: bind as the user: %s",
	    (unsigned long long)r->id, ldap_err2string(rc));
	acct = pwpolicy_from_ppolicy(r->pp_error);
	if ((rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_SUCCESS) &&
	    acct != LDAP_RES_OK) {
		lookup_finish(r, acct, "ppolicy: %s",
		    ldap_passwordpolicy_err2txt(r->pp_error));
		return;
	}
	if (rc == LDAP_INVALID_CREDENTIALS) {
		acct = pwpolicy_from_ad(why, what, sizeof(what));
		if (acct != LDAP_RES_BADCRED) {
			lookup_finish(r, acct, "%s", what);
			return;
		}
		lookup_finish(r, LDAP_RES_BADCRED, NULL);
		return;
	}
	if (rc != LDAP_SUCCESS) {
		lookup_finish(r, LDAP_RES_TEMPFAIL, "bind: %s%s%s",
		    ldap_err2string(rc), why ? ": " : "", why ? why : "");
		return;
	}
	if (r->pp_grace >= 0)
		snprintf(r->detail, sizeof(r->detail), "password expired, "
		    "grace login (%d left)", r->pp_grace);
	else if (r->pp_expire >= 0)
		snprintf(r->detail, sizeof(r->detail), "password expires in "
		    "%ds", r->pp_expire);
	lookup_allowance_step(r);
}

/*
 * The one entry is known (r->dn): does the query's allowance match it?
 * After a successful bind (smtp-auth), or right after the search
 * (allowance-only).  Without an allowance the answer is OK.
 */
static void
lookup_allowance_step(struct lreq *r)
{
	struct ldap_filter_value	 vals[2];
	char				 t[LDAP_GENTIME_LEN], err[128];

	if (r->q->allowance == NULL) {
		lookup_finish(r, LDAP_RES_OK, NULL);
		return;
	}
	if (ldap_filter_gentime(time(NULL), t, sizeof(t)) == -1) {
		lookup_finish(r, LDAP_RES_TEMPFAIL, "clock");
		return;
	}
	vals[0].name = "u";
	vals[0].value = r->uname;
	vals[0].len = strlen(r->uname);
	vals[1].name = "t";
	vals[1].value = t;
	vals[1].len = strlen(t);
	if (ldap_filter_expand_values(r->q->allowance, vals, 2, r->filter,
	    LDAP_FILTER_MAX, err, sizeof(err)) == -1) {
		lookup_finish(r, LDAP_RES_BADREQ, "allowance: %s", err);
		return;
	}
	/* Does THIS user's entry match? */
	r->step = LSTEP_ALLOWANCE;
	r->nentries = 0;
	r->base = r->dn;
	r->scope = LDAP_SCOPE_BASE;
	r->attrs[0] = LDAP_NO_ATTRS;
	r->attrs[1] = NULL;
	lconn_submit(r->p, r, LCONN_SERVICE);
}

static void
lookup_op_done(struct lreq *r, int rc, const char *why)
{
	switch (r->step) {
	case LSTEP_SEARCH:
	case LSTEP_ALLOWANCE:
		/* sizeLimitExceeded with two entries is our own limit. */
		if (rc != LDAP_SUCCESS && !(rc == LDAP_SIZELIMIT_EXCEEDED &&
		    r->nentries >= LDAPD_SIZELIMIT)) {
			lookup_finish(r, LDAP_RES_TEMPFAIL, "%s: %s%s%s",
			    r->step == LSTEP_SEARCH ? "search" : "allowance",
			    ldap_err2string(rc), why ? ": " : "",
			    why ? why : "");
			return;
		}
		if (r->step == LSTEP_SEARCH)
			lookup_search_done(r);
		else {
			log_trace(TRACE_LDAP, "request %llu: allowance %s",
			    (unsigned long long)r->id, r->nentries > 0 ?
			    "matches" : "does not match");
			lookup_finish(r, r->nentries > 0 ? LDAP_RES_OK :
			    LDAP_RES_DISALLOWED, NULL);
		}
		return;
	case LSTEP_BIND:
		lookup_bind_done(r, rc, why);
		return;
	}
}

/*
 * Search the query's user filter ({u} the user name, {t} now) as the
 * service account, asking for attr: the first step of smtp-auth,
 * authorization and allowance lookups alike.
 */
static void
lookup_user_search(struct lreq *r, size_t ulen, char *attr)
{
	struct ldap_filter_value	 vals[2];
	char				 t[LDAP_GENTIME_LEN], err[128];

	if (ldap_filter_gentime(time(NULL), t, sizeof(t)) == -1) {
		lookup_finish(r, LDAP_RES_TEMPFAIL, "clock");
		return;
	}
	vals[0].name = "u";
	vals[0].value = r->uname;
	vals[0].len = ulen;
	vals[1].name = "t";
	vals[1].value = t;
	vals[1].len = strlen(t);
	r->filter = xcalloc(1, LDAP_FILTER_MAX);
	if (ldap_filter_expand_values(r->q->filter, vals, 2, r->filter,
	    LDAP_FILTER_MAX, err, sizeof(err)) == -1) {
		lookup_finish(r, LDAP_RES_BADREQ, "%s", err);
		return;
	}
	lookup_trace_filter(r);
	r->step = LSTEP_SEARCH;
	r->base = r->p->conf->base;
	r->scope = lookup_scope(r->p->conf->scope);
	r->attrs[0] = attr;
	r->attrs[1] = NULL;
	lookup_arm(r);
	lconn_submit(r->p, r, LCONN_SERVICE);
}

/* --- certificate ------------------------------------------------------- */

static void
lookup_cert_start(struct lreq *r, const void *der, size_t derlen)
{
	struct ldap_filter_value	 vals[CERTFIELDS_NVALUES];
	struct certfields		 cf;
	const unsigned char		*pp = der;
	const char			*bad;
	X509				*x;
	char				 err[128];
	unsigned int			 fplen = sizeof(r->fp);
	int				 n;

	if (r->p == NULL || r->q == NULL || r->q->kind != LDAPQ_CERTIFICATE) {
		lookup_finish(r, LDAP_RES_BADREQ, "no such certificate query");
		return;
	}
	/*
	 * The cache first: its key (query, SHA-256 of the DER) needs no
	 * parsing, and decoding a certificate is the dearest step here
	 * with OpenSSL 3.0.  A hit is a DER that was parsed and answered
	 * before, byte for byte; its subject for the log is cached too.
	 */
	if (derlen == 0) {
		lookup_finish(r, LDAP_RES_BADREQ, "not a DER certificate");
		return;
	}
	if (EVP_Digest(der, derlen, r->fp, &fplen, EVP_sha256(), NULL) != 1)
		fatalx("EVP_Digest");
	r->der = xcalloc(1, derlen);
	memcpy(r->der, der, derlen);
	r->derlen = derlen;
	if (lookup_cache_hit(r, NULL))
		return;

	x = d2i_X509(NULL, &pp, derlen);
	if (x == NULL || pp != (const unsigned char *)der + derlen) {
		/* Trailing bytes too: one certificate, nothing else. */
		X509_free(x);
		lookup_finish(r, LDAP_RES_BADREQ, "not a DER certificate");
		return;
	}
	n = certfields_from_x509(x, &cf);
	X509_free(x);
	if (n == -1) {
		lookup_finish(r, LDAP_RES_BADREQ, "unusable certificate");
		return;
	}
	r->subject = xstrdup(cf.dn != NULL ? cf.dn : "(no subject)");
	/*
	 * A field the query uses with a control character: RFC 4515
	 * escaping would keep it, but a directory may fold CR LF into a
	 * space or drop it and match another entry.  Refused here, like
	 * such a user name, before LDAP is asked; never cached.
	 */
	if ((bad = certfields_ctrl_field(&cf, r->q->filter)) != NULL) {
		certfields_free(&cf);
		lookup_finish(r, LDAP_RES_BADFIELD, "control character in "
		    "{%s}", bad);
		return;
	}

	r->filter = xcalloc(1, LDAP_FILTER_MAX);
	n = certfields_filter_values(&cf, r->q->serial_format ==
	    SERIAL_DECIMAL, vals, CERTFIELDS_NVALUES);
	if (n == -1 || ldap_filter_expand_values(r->q->filter, vals, n,
	    r->filter, LDAP_FILTER_MAX, err, sizeof(err)) == -1) {
		certfields_free(&cf);
		free(r->filter);
		r->filter = NULL;
		lookup_finish(r, LDAP_RES_BADREQ, "%s", n == -1 ?
		    "certificate fields" : err);
		return;
	}
	certfields_free(&cf);
	lookup_trace_filter(r);

	r->step = LSTEP_SEARCH;
	r->base = r->p->conf->base;
	r->scope = lookup_scope(r->p->conf->scope);
	r->attrs[0] = r->q->user_attr;
	r->attrs[1] = r->p->conf->mail_attr;
	r->attrs[2] = r->q->match_cert_attr;	/* NULL ends the list */
	r->attrs[3] = NULL;
	lookup_arm(r);
	lconn_submit(r->p, r, LCONN_SERVICE);
}

void
lookup_cert(uint64_t id, struct imsg *imsg)
{
	struct msgreader	 mr;
	struct lreq		*r;
	const void		*der;
	size_t			 derlen;
	char			*pname, *qname;

	msg_reader(&mr, imsg);
	pname = msg_get_str(&mr, LDAP_MAX_NAME);
	qname = msg_get_str(&mr, LDAP_MAX_NAME);
	der = msg_get_data(&mr, &derlen, LDAP_MAX_CERT);
	if (msg_end(&mr) == -1)
		fatalx("malformed IMSG_LDAP_CERT_REQ from front");
	if ((r = lreq_admit(id, LREQ_CERT, pname, qname)) != NULL)
		lookup_cert_start(r, der, derlen);
}

/* --- smtp-auth --------------------------------------------------------- */

/* What a directory would normalise away must never reach it. */
static const char *
lookup_user_bad(const unsigned char *u, size_t len)
{
	size_t	 i;

	if (len == 0)
		return "empty user name";
	if (len > LDAP_MAX_VALUE)
		return "user name too long";
	for (i = 0; i < len; i++)
		if (u[i] < 0x20 || u[i] == 0x7f)
			return "control character in user name";
	if (u[0] == ' ' || u[len - 1] == ' ')
		return "leading or trailing space in user name";
	return NULL;
}

static void
lookup_auth_start(struct lreq *r, const void *u, size_t ulen,
    const void *pw, size_t pwlen)
{
	char				 who[LDAPD_LOGSTR_MAX];
	const char			*bad;
	unsigned int			 toklen = PWTOKEN_LEN;

	if ((bad = lookup_user_bad(u, ulen)) != NULL) {
		log_warnx("smtp-auth request %llu refused before LDAP: %s: "
		    "\"%s\"", (unsigned long long)r->id, bad,
		    logstr(u, ulen, who, sizeof(who)));
		lookup_finish(r, LDAP_RES_BADREQ, "%s", bad);
		return;
	}
	r->uname = xcalloc(1, ulen + 1);
	memcpy(r->uname, u, ulen);
	if (pwlen == 0 || pwlen > LDAP_MAX_PASSWORD) {
		lookup_finish(r, LDAP_RES_BADREQ, "%s password",
		    pwlen == 0 ? "empty" : "oversized");
		return;
	}
	if (r->p == NULL || r->q == NULL || r->q->kind != LDAPQ_SMTPAUTH) {
		lookup_finish(r, LDAP_RES_BADREQ, "no such smtp-auth query");
		return;
	}
	/* The cache compares a keyed hash of the password, see
	 * ldap_cache.c. */
	if (HMAC(EVP_sha256(), env->pwkey, sizeof(env->pwkey), pw, pwlen,
	    r->pwtoken, &toklen) == NULL)
		fatalx("HMAC");
	if (lookup_cache_hit(r, r->pwtoken))
		return;
	r->pw = xcalloc(1, pwlen);
	memcpy(r->pw, pw, pwlen);
	r->pwlen = pwlen;

	lookup_user_search(r, ulen, r->p->conf->mail_attr);
}

void
lookup_auth(uint64_t id, struct imsg *imsg)
{
	struct msgreader	 mr;
	struct lreq		*r;
	const void		*u, *pw;
	size_t			 ulen, pwlen;
	char			*pname, *qname;

	/*
	 * The user name travels as a string but is read as bytes: a NUL
	 * or an overlong name is the client's doing, answered BADREQ, not
	 * a malformed message from the front.
	 */
	msg_reader(&mr, imsg);
	pname = msg_get_str(&mr, LDAP_MAX_NAME);
	qname = msg_get_str(&mr, LDAP_MAX_NAME);
	u = msg_get_data(&mr, &ulen, IMSG_MAXSIZE_PEER);
	pw = msg_get_data(&mr, &pwlen, IMSG_MAXSIZE_PEER);
	if (msg_end(&mr) == -1)
		fatalx("malformed IMSG_LDAP_AUTH_REQ from front");
	if ((r = lreq_admit(id, LREQ_AUTH, pname, qname)) != NULL)
		lookup_auth_start(r, u, ulen, pw, pwlen);
	/* The message buffer held the password too. */
	explicit_bzero(imsg->data, imsg->datalen);
}

/* --- authorization (e-mail proxy) ---------------------------------------- */

static void
lookup_authz_start(struct lreq *r, const void *u, size_t ulen)
{
	char				 who[LDAPD_LOGSTR_MAX];
	const char			*bad;

	if ((bad = lookup_user_bad(u, ulen)) != NULL) {
		log_warnx("authorization request %llu refused before LDAP: "
		    "%s: \"%s\"", (unsigned long long)r->id, bad,
		    logstr(u, ulen, who, sizeof(who)));
		lookup_finish(r, LDAP_RES_BADREQ, "%s", bad);
		return;
	}
	r->uname = xcalloc(1, ulen + 1);
	memcpy(r->uname, u, ulen);
	if (r->p == NULL || r->q == NULL ||
	    r->q->kind != LDAPQ_AUTHORIZATION) {
		lookup_finish(r, LDAP_RES_BADREQ, "no such authorization "
		    "query");
		return;
	}
	if (lookup_cache_hit(r, NULL))
		return;
	/* No attribute configured: the search proves the entry exists. */
	lookup_user_search(r, ulen, r->q->group_attr != NULL ?
	    r->q->group_attr : LDAP_NO_ATTRS);
}

void
lookup_authz(uint64_t id, struct imsg *imsg)
{
	struct msgreader	 mr;
	struct lreq		*r;
	const void		*u;
	size_t			 ulen;
	char			*pname, *qname;

	msg_reader(&mr, imsg);
	pname = msg_get_str(&mr, LDAP_MAX_NAME);
	qname = msg_get_str(&mr, LDAP_MAX_NAME);
	u = msg_get_data(&mr, &ulen, IMSG_MAXSIZE_PEER);
	if (msg_end(&mr) == -1)
		fatalx("malformed IMSG_LDAP_AUTHZ_REQ from front");
	if ((r = lreq_admit(id, LREQ_AUTHZ, pname, qname)) != NULL)
		lookup_authz_start(r, u, ulen);
}

/* --- allowance alone (issue 13) ------------------------------------------ */

static void
lookup_allow_start(struct lreq *r, const void *u, size_t ulen)
{
	char				 who[LDAPD_LOGSTR_MAX];
	const char			*bad;

	if ((bad = lookup_user_bad(u, ulen)) != NULL) {
		log_warnx("allowance request %llu refused before LDAP: %s: "
		    "\"%s\"", (unsigned long long)r->id, bad,
		    logstr(u, ulen, who, sizeof(who)));
		lookup_finish(r, LDAP_RES_BADREQ, "%s", bad);
		return;
	}
	r->uname = xcalloc(1, ulen + 1);
	memcpy(r->uname, u, ulen);
	if (r->p == NULL || r->q == NULL || r->q->kind != LDAPQ_SMTPAUTH) {
		lookup_finish(r, LDAP_RES_BADREQ, "no such smtp-auth query");
		return;
	}
	/* No cache, see lookup_cache_key(). */
	lookup_user_search(r, ulen, r->p->conf->mail_attr);
}

void
lookup_allow(uint64_t id, struct imsg *imsg)
{
	struct msgreader	 mr;
	struct lreq		*r;
	const void		*u;
	size_t			 ulen;
	char			*pname, *qname;

	/* The name read as bytes, as for smtp-auth: a NUL is BADREQ. */
	msg_reader(&mr, imsg);
	pname = msg_get_str(&mr, LDAP_MAX_NAME);
	qname = msg_get_str(&mr, LDAP_MAX_NAME);
	u = msg_get_data(&mr, &ulen, IMSG_MAXSIZE_PEER);
	if (msg_end(&mr) == -1)
		fatalx("malformed IMSG_LDAP_ALLOW_REQ from front");
	if ((r = lreq_admit(id, LREQ_ALLOW, pname, qname)) != NULL)
		lookup_allow_start(r, u, ulen);
}
