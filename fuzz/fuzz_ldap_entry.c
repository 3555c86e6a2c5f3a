/*
 * LDAP search results as ldapd-helper decodes them
 * (ldapd-helper/ldap_lookup.c lookup_entry()): the entry's DN, the mail
 * addresses, the user name of a certificate query, the certificate
 * compared with userCertificate;binary, the group policy of an
 * authorization query.  The directory (or whoever answers on a plain
 * ldap:// connection) controls every byte.
 *
 * The answer reaches libldap as it does in the helper: over a socket,
 * after a real search request, read with ldap_result().  The input is
 * either (first byte even) a description of the entries that the target
 * encodes with liblber -- a DN, attributes chosen among the ones the
 * queries read, any values -- so the decoding is reached however the
 * bytes look, or (odd) raw bytes sent after a well-formed entry's
 * framing.  Checked: what lookup_entry() keeps is within its bounds and
 * free of control characters, and nothing leaks.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>
#include <openldap.h>	/* ldap_init_fd() */

#include "config.h"
#include "ldapd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char conftext[] =
	"hostname \"gw.example.com\"\n"
	"ldap \"corp\" {\n"
	"	server \"ldap://127.0.0.1:3890\"\n"
	"	base \"dc=example,dc=com\"\n"
	"	mail attribute \"proxyAddresses\"\n"
	"	certificate query \"cac\" {\n"
	"		filter \"(caccn={cn})\"\n"
	"		user-attribute \"sAMAccountName\"\n"
	"		match-certificate \"userCertificate;binary\"\n"
	"	}\n"
	"	authorization query \"grp\" {\n"
	"		filter \"(uid={u})\"\n"
	"		group-policy attribute \"gwGroupPolicy\"\n"
	"	}\n"
	"}\n";

static struct smtpcertd_conf	*conf;
static struct lprofile		 prof;
static struct ldap_query	*qcert, *qgrp;
static const char *const	 attrs[] = {
	"proxyAddresses", "sAMAccountName", "userCertificate;binary",
	"gwGroupPolicy", "PROXYADDRESSES", "cn"
};

static void
init(void)
{
	if (conf != NULL)
		return;
	if ((conf = config_parse_text("fuzz", conftext,
	    sizeof(conftext) - 1)) == NULL)
		abort();
	if ((prof.conf = config_find_ldap(conf, "corp")) == NULL ||
	    (qcert = config_find_ldap_query(prof.conf, "cac")) == NULL ||
	    (qgrp = config_find_ldap_query(prof.conf, "grp")) == NULL)
		abort();
}

static const uint8_t	*in, *inend;

static size_t
take(size_t max, const uint8_t **p)
{
	size_t	 n;

	if (in >= inend) {
		*p = (const uint8_t *)"";
		return 0;
	}
	n = *in++;
	if (n > max)
		n = max;
	if (n > (size_t)(inend - in))
		n = (size_t)(inend - in);
	*p = in;
	in += n;
	return n;
}

/* One SearchResultEntry from the description at in. */
static int
put_entry(BerElement *ber, int msgid)
{
	const uint8_t	*dn, *v;
	size_t		 dnlen, vlen;
	int		 nattr, nval, sel;
	char		 name[64];

	dnlen = take(255, &dn);
	if (ber_printf(ber, "{it{o{", msgid, LDAP_RES_SEARCH_ENTRY,
	    (const char *)dn, (ber_len_t)dnlen) == -1)
		return -1;
	nattr = in < inend ? *in++ % 6 : 0;
	while (nattr-- > 0) {
		sel = in < inend ? *in++ : 0;
		if (sel % 8 < 6)
			snprintf(name, sizeof(name), "%s", attrs[sel % 8]);
		else {
			vlen = take(sizeof(name) - 1, &v);
			memcpy(name, v, vlen);
			name[vlen] = '\0';
		}
		if (ber_printf(ber, "{s[", name) == -1)
			return -1;
		nval = in < inend ? *in++ % 80 : 0;
		while (nval-- > 0) {
			vlen = take(255, &v);
			/* Long values: a length byte 255 doubles. */
			if (ber_printf(ber, "o", (const char *)v,
			    (ber_len_t)vlen) == -1)
				return -1;
		}
		if (ber_printf(ber, "]N}") == -1)
			return -1;
	}
	return ber_printf(ber, "}N}N}");
}

static void
send_ber(int fd, BerElement *ber)
{
	struct berval	*bv = NULL;

	if (ber_flatten(ber, &bv) == 0 && bv != NULL) {
		(void)send(fd, bv->bv_val, bv->bv_len, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		ber_bvfree(bv);
	}
}

static void
check(const struct lreq *r)
{
	int	 i;

	if (r->dn != NULL && strlen(r->dn) > LDAP_MAX_DN)
		abort();
	if (r->nmails < 0 || r->nmails > LDAP_MAX_MAILS)
		abort();
	for (i = 0; i < r->nmails; i++) {
		size_t	 n = strlen(r->mails[i]), j;

		if (n == 0 || n > LDAP_MAX_VALUE)
			abort();
		for (j = 0; j < n; j++)
			if ((unsigned char)r->mails[i][j] < 0x20 ||
			    r->mails[i][j] == 0x7f)
				abort();
	}
	if (r->user != NULL && (strlen(r->user) == 0 ||
	    strlen(r->user) > LDAP_MAX_VALUE))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lreq	 r;
	LDAP		*ld = NULL;
	LDAPMessage	*res = NULL, *e;
	BerElement	*ber;
	struct timeval	 tv = { 2, 0 };
	char		 junk[4096];
	int		 sv[2], msgid, v3 = LDAP_VERSION3, i, rc, n;

	if (size < 2)
		return 0;
	init();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	if (ldap_init_fd(sv[0], LDAP_PROTO_TCP, "ldap://127.0.0.1:3890",
	    &ld) != LDAP_SUCCESS)
		abort();
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	if (ldap_search_ext(ld, "dc=example,dc=com", LDAP_SCOPE_SUBTREE,
	    "(uid=x)", NULL, 0, NULL, NULL, NULL, 2, &msgid) != LDAP_SUCCESS)
		abort();
	(void)recv(sv[1], junk, sizeof(junk), MSG_DONTWAIT);

	memset(&r, 0, sizeof(r));
	r.p = &prof;
	r.pname = "corp";
	r.type = data[0] & 2 ? LREQ_AUTHZ : LREQ_CERT;
	r.q = r.type == LREQ_AUTHZ ? qgrp : qcert;
	r.step = LSTEP_SEARCH;
	r.der = (unsigned char *)(data + 1);
	r.derlen = data[1] % 8;

	in = data + 2;
	inend = data + size;
	if ((ber = ber_alloc_t(LBER_USE_DER)) == NULL)
		abort();
	if (data[0] & 1) {
		/* A well-formed header, then whatever the directory sends. */
		if (ber_printf(ber, "{it{o", msgid, LDAP_RES_SEARCH_ENTRY,
		    "cn=x", (ber_len_t)4) == -1)
			abort();
		if (ber_write(ber, (const char *)in, (ber_len_t)(inend - in),
		    0) == -1)
			abort();
		if (ber_printf(ber, "N}N}") == -1)
			abort();
		send_ber(sv[1], ber);
	} else {
		n = in < inend ? *in++ % 4 + 1 : 1;
		while (n-- > 0) {
			ber_free(ber, 1);
			if ((ber = ber_alloc_t(LBER_USE_DER)) == NULL)
				abort();
			if (put_entry(ber, msgid) == -1)
				break;
			send_ber(sv[1], ber);
		}
	}
	ber_free(ber, 1);
	if ((ber = ber_alloc_t(LBER_USE_DER)) == NULL)
		abort();
	if (ber_printf(ber, "{it{eoo}}", msgid, LDAP_RES_SEARCH_RESULT,
	    LDAP_SUCCESS, "", (ber_len_t)0, "", (ber_len_t)0) != -1)
		send_ber(sv[1], ber);
	ber_free(ber, 1);
	/* EOF for libldap, but its unbind can still be written. */
	shutdown(sv[1], SHUT_WR);

	rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
	if (rc > 0)
		for (e = ldap_first_entry(ld, res); e != NULL;
		    e = ldap_next_entry(ld, e))
			lookup_entry(&r, ld, e);
	check(&r);
	ldap_msgfree(res);
	ldap_unbind_ext(ld, NULL, NULL);
	free(r.dn);
	free(r.user);
	for (i = 0; i < r.nmails; i++)
		free(r.mails[i]);
	close(sv[1]);
	return 0;
}
