/*
 * Downloads with the libcurl multi interface driven by crld's libevent
 * loop: libcurl tells us which sockets to watch and when to wake it
 * (socket and timer callbacks), we tell it what happened
 * (curl_multi_socket_action()).  Nothing blocks; name resolution runs in
 * libcurl's resolver thread.
 *
 * Every transfer is bounded: connect and total timeouts, a low-speed
 * cut-off, a size cap (CRL_FETCH_MAX, checked as data arrives as well as
 * from Content-Length), a protocol allowlist (http https file ldap ldaps;
 * redirects only to http and https) and no signals.
 *
 * crl_fetch_start_opts() serves OCSP (ocsp.c) as well: a POST body, its
 * own timeout, size cap and protocols.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "crld.h"
#include "log.h"

struct crl_fetch {
	CURL		*easy;
	char		*url;
	unsigned char	*buf;
	size_t		 len, cap;
	int		 toobig;
	size_t		 maxsize;	/* CRL_FETCH_MAX unless opts say */
	struct curl_slist *headers;	/* NULL unless a POST */
	unsigned char	*post;		/* request body, NULL for a GET */
	crl_fetch_cb	 cb;
	void		*arg;
	char		 errbuf[CURL_ERROR_SIZE];
};

/* Per socket libcurl asked us to watch. */
struct fetch_sock {
	struct event	*ev;
};

static struct event_base	*fetch_base;
static CURLM			*fetch_multi;
static struct event		*fetch_timer;

static void	fetch_check_done(void);

static void
fetch_event_cb(evutil_socket_t fd, short what, void *arg)
{
	int	 running, action = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(fetch_multi, fd, action, &running);
	fetch_check_done();
}

static void
fetch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	int	 running;

	curl_multi_socket_action(fetch_multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	fetch_check_done();
}

static int
fetch_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
    void *sockp)
{
	struct fetch_sock	*fs = sockp;
	short			 ev = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (fs != NULL) {
			event_free(fs->ev);
			free(fs);
		}
		curl_multi_assign(fetch_multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= EV_READ;
	if (what & CURL_POLL_OUT)
		ev |= EV_WRITE;
	if (fs == NULL) {
		if ((fs = calloc(1, sizeof(*fs))) == NULL)
			fatal(NULL);
		curl_multi_assign(fetch_multi, s, fs);
	} else
		event_free(fs->ev);
	if ((fs->ev = event_new(fetch_base, s, ev, fetch_event_cb, NULL)) ==
	    NULL)
		fatalx("event_new");
	event_add(fs->ev, NULL);
	return 0;
}

static int
fetch_timerfn(CURLM *multi, long ms, void *userp)
{
	struct timeval	 tv;

	if (ms < 0) {
		evtimer_del(fetch_timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(fetch_timer, &tv);
	return 0;
}

void
crl_fetch_init(struct event_base *base)
{
	fetch_base = base;
	if ((fetch_multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init");
	curl_multi_setopt(fetch_multi, CURLMOPT_SOCKETFUNCTION,
	    fetch_socket_cb);
	curl_multi_setopt(fetch_multi, CURLMOPT_TIMERFUNCTION, fetch_timerfn);
	fetch_timer = evtimer_new(base, fetch_timer_cb, NULL);
}

static size_t
fetch_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct crl_fetch	*f = arg;
	size_t			 n = size * nmemb, cap;
	unsigned char		*nb;

	if (n > f->maxsize - f->len) {
		f->toobig = 1;
		return 0;	/* aborts the transfer */
	}
	if (f->len + n > f->cap) {
		cap = f->cap ? f->cap : 64 * 1024;
		while (cap < f->len + n)
			cap *= 2;
		if ((nb = realloc(f->buf, cap)) == NULL)
			return 0;
		f->buf = nb;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return n;
}

static void
fetch_free(struct crl_fetch *f)
{
	if (f->easy != NULL) {
		curl_multi_remove_handle(fetch_multi, f->easy);
		curl_easy_cleanup(f->easy);
	}
	curl_slist_free_all(f->headers);
	free(f->url);
	free(f->buf);
	free(f->post);
	free(f);
}

static void
fetch_check_done(void)
{
	struct crl_fetch	*f;
	CURLMsg			*m;
	crl_fetch_cb		 cb;
	void			*cbarg;
	int			 left, ok;
	long			 code = 0;
	char			 err[CURL_ERROR_SIZE + 64];
	unsigned char		*body;
	size_t			 len;

	while ((m = curl_multi_info_read(fetch_multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &f);
		ok = m->data.result == CURLE_OK;
		curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
		if (f->toobig)
			snprintf(err, sizeof(err), "larger than %zu bytes",
			    f->maxsize);
		else if (!ok)
			snprintf(err, sizeof(err), "%s",
			    f->errbuf[0] ? f->errbuf :
			    curl_easy_strerror(m->data.result));
		else if (f->len == 0) {
			ok = 0;
			snprintf(err, sizeof(err), "empty response");
		} else
			err[0] = '\0';
		if (f->toobig)
			ok = 0;
		body = f->buf;
		len = f->len;
		f->buf = NULL;
		/* The callback may start the next fetch: finish this one
		 * first. */
		cb = f->cb;
		cbarg = f->arg;
		fetch_free(f);
		cb(cbarg, ok, ok ? body : NULL, ok ? len : 0, err);
		if (!ok)
			free(body);
	}
}

struct crl_fetch *
crl_fetch_start(const char *url, const unsigned char *cainfo,
    size_t cainfolen, crl_fetch_cb cb, void *arg)
{
	return crl_fetch_start_opts(url, cainfo, cainfolen, NULL, cb, arg);
}

struct crl_fetch *
crl_fetch_start_opts(const char *url, const unsigned char *cainfo,
    size_t cainfolen, const struct crl_fetch_opts *o, crl_fetch_cb cb,
    void *arg)
{
	struct crl_fetch	*f;
	struct curl_blob	 blob;
	CURL			*e;
	char			 ctype[128];

	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->url = strdup(url)) == NULL)
		fatal(NULL);
	f->cb = cb;
	f->arg = arg;
	f->maxsize = o != NULL && o->maxsize != 0 &&
	    o->maxsize < (size_t)CRL_FETCH_MAX ? o->maxsize :
	    (size_t)CRL_FETCH_MAX;
	if ((e = f->easy = curl_easy_init()) == NULL)
		fatalx("curl_easy_init");
	curl_easy_setopt(e, CURLOPT_URL, f->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, f);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file,ldap,ldaps");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)CRL_MAX_REDIRS);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)CRL_CONNECT_TIMEOUT);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)CRL_TRANSFER_TIMEOUT);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)CRL_LOW_SPEED_TIME);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)f->maxsize);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "smtpcertd-crld");
	/* No proxy from the environment: crld's is empty anyway, and a
	 * CRL path must not depend on one by accident. */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cainfo != NULL) {
		/* The bundle is memory the parent sent: no file reads. */
		blob.data = (void *)cainfo;
		blob.len = cainfolen;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	}
	if (o != NULL && o->timeout > 0) {
		curl_easy_setopt(e, CURLOPT_TIMEOUT, o->timeout);
		if (o->timeout < CRL_CONNECT_TIMEOUT)
			curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
			    o->timeout);
	}
	if (o != NULL && o->protocols != NULL)
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, o->protocols);
	if (o != NULL && o->no_redirects)
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	if (o != NULL && o->post != NULL) {
		/* A small body of our own: no "Expect: 100-continue". */
		if ((f->post = malloc(o->postlen ? o->postlen : 1)) == NULL)
			fatal(NULL);
		memcpy(f->post, o->post, o->postlen);
		snprintf(ctype, sizeof(ctype), "Content-Type: %s",
		    o->content_type != NULL ? o->content_type :
		    "application/octet-stream");
		if ((f->headers = curl_slist_append(NULL, ctype)) == NULL ||
		    (f->headers = curl_slist_append(f->headers,
		    "Expect:")) == NULL)
			fatal(NULL);
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)o->postlen);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->post);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
	}
	if (curl_multi_add_handle(fetch_multi, e) != CURLM_OK)
		fatalx("curl_multi_add_handle");
	return f;
}

void
crl_fetch_cancel(struct crl_fetch *f)
{
	if (f != NULL)
		fetch_free(f);
}
