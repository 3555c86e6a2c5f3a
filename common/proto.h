/*
 * The messages smtpcertd's processes exchange.  One enum for the whole
 * daemon, with a name table (imsg_type_name()) for traces.  Each message's
 * payload is documented next to its type; senders and receivers decode
 * with the msg_* helpers from imsg.h and check the exact size.
 */
#ifndef SMTPCERTD_PROTO_H
#define SMTPCERTD_PROTO_H

#include <stdint.h>

/* Every child finds its channel to the parent on this descriptor. */
#define PROC_PARENT_FD		3

/* Bumped whenever a control message changes shape. */
#define SMTPCERTD_CTL_VERSION	10	/* 8: show stats ends with
					 * IMSG_CTL_STATS_INFO; 9: test
					 * certificate, test login; 10:
					 * session rows name their front */

enum smtpcertd_proc {
	PROC_PARENT,
	PROC_FRONT,
	PROC_LDAPD,
	PROC_CRLD,
	PROC_CONTROL,		/* a smtpcertctl client */
	PROC_KEYS,		/* the listeners' private keys (keys.c) */
	PROC_MAX
};

const char	*proc_name(enum smtpcertd_proc);

/*
 * Issue 17: several front processes (`front processes N').  Each child
 * has a slot: the parent's children[] and the helpers' peer channels are
 * indexed by it.  Front 0 keeps PROC_FRONT's slot, so with one front
 * nothing moves; front k > 0 takes slot PROC_MAX + k - 1.  A slot names
 * the process kind through slot_proc(); proc_name() takes slots too.
 */
#define FRONTS_MAX		16
#define SLOT_MAX		(PROC_MAX + FRONTS_MAX - 1)
#define front_slot(k)		((k) == 0 ? PROC_FRONT : PROC_MAX + (k) - 1)
#define slot_proc(s)		((s) >= PROC_MAX ? PROC_FRONT : (s))
#define slot_front(s)		((s) == PROC_FRONT ? 0 : (s) - PROC_MAX + 1)

/*
 * A helper (ldapd-helper, crld) serving several fronts answers each
 * request on the channel it came from: it keeps the number of that
 * channel's front in the top byte of its own copy of the request id (the
 * front's ids are below 2^49, peerreq.c; front 0's stay as they are) and
 * strips it again in the answer.  The number comes from the channel,
 * never from the front's data, so one front cannot have an answer sent
 * to another.
 */
#define REQID_SLOT_SHIFT	56
#define REQID_MASK		((1ULL << REQID_SLOT_SHIFT) - 1)
#define reqid_tag(slot, id)	(((uint64_t)slot_front(slot) <<		\
				    REQID_SLOT_SHIFT) | ((id) & REQID_MASK))
#define reqid_slot(id)		front_slot((int)((id) >> REQID_SLOT_SHIFT))
#define reqid_orig(id)		((id) & REQID_MASK)

#define IMSG_TYPES(X)							\
	/* parent -> child: start-up and reload */			\
	X(IMSG_CONF_START)	/* u64 generation */			\
	X(IMSG_CONF_TEXT)	/* data: normalised config text */	\
	X(IMSG_CONF_PKI)	/* str name, data cert, data key */	\
	X(IMSG_CONF_CA)		/* str name, data pem */		\
	X(IMSG_CONF_SECRET)	/* str ldap name, data secret */	\
	X(IMSG_CONF_MASTER)	/* str proxy name, data master password */ \
	X(IMSG_CONF_LISTENER)	/* u32 listener index; fd socket */	\
	X(IMSG_CONF_END)	/* u64 generation */			\
	X(IMSG_CONF_LOADED)	/* child -> parent: u64 generation */	\
	X(IMSG_PEER_SOCKET)	/* u32 peer proc; fd socketpair end */	\
	X(IMSG_CHILD_READY)	/* child -> parent: empty */		\
	X(IMSG_LOG_VERBOSE)	/* u32 trace mask (log.h) */		\
	/* front <-> ldapd-helper: lookups keyed by reqid */		\
	X(IMSG_LDAP_CERT_REQ)	/* see struct notes below */		\
	X(IMSG_LDAP_CERT_RES)						\
	X(IMSG_LDAP_AUTH_REQ)						\
	X(IMSG_LDAP_AUTH_RES)						\
	X(IMSG_LDAP_AUTHZ_REQ)						\
	X(IMSG_LDAP_AUTHZ_RES)						\
	X(IMSG_LDAP_ALLOW_REQ)	/* issue 13: the card rule alone */	\
	X(IMSG_LDAP_ALLOW_RES)						\
	X(IMSG_LDAP_FLUSH)	/* parent -> ldapd: empty */		\
	/* revocation, see the notes below */				\
	X(IMSG_CRL_SET)		/* crld -> parent -> front */		\
	X(IMSG_CRL_SET_LOADED)	/* front -> parent */			\
	X(IMSG_CRL_STATUS)	/* crld -> parent */			\
	X(IMSG_CRL_UPDATE)	/* parent -> crld */			\
	X(IMSG_CRL_UPDATE_DONE)	/* crld -> parent */			\
	/* e-mail proxy, see the notes below */				\
	X(IMSG_ACCT_RECORD)	/* front -> parent */			\
	/* control socket */						\
	X(IMSG_CTL_HELLO)	/* u32 version (both directions) */	\
	X(IMSG_CTL_SHOW_STATUS)	/* empty request */			\
	X(IMSG_CTL_STATUS_PROC)	/* reply rows, see control.c */		\
	X(IMSG_CTL_STATUS_LISTENER)					\
	X(IMSG_CTL_STATUS_DAEMON)					\
	X(IMSG_CTL_RELOAD)	/* empty request */			\
	X(IMSG_CTL_LOG_VERBOSE)	/* u32 verbose, u32 subsystems (0 all) */ \
	X(IMSG_CTL_SHOW_CRL)	/* empty; CRL_ROW..., END */		\
	X(IMSG_CTL_CRL_ROW)	/* struct crl_status (crl_status.h) */	\
	X(IMSG_CTL_CRL_UPDATE)	/* str source, "" all; OK or FAIL */	\
	X(IMSG_CTL_OK)		/* str message */			\
	X(IMSG_CTL_FAIL)	/* str message */			\
	X(IMSG_CTL_END)		/* end of a multi-message reply */	\
	/* issue 5 item 7, OCSP: front <-> crld, see the notes below */	\
	X(IMSG_OCSP_REQ)	/* front -> crld */			\
	X(IMSG_OCSP_RES)	/* crld -> front */			\
	X(IMSG_CTL_SHOW_SESSIONS) /* empty; SESSION..., END */		\
	X(IMSG_CTL_SESSION)	/* one session row, see below */	\
	X(IMSG_CTL_LDAP_FLUSH)	/* empty request; OK */			\
	/* issue 7 item 1: show stats, session kill; see the notes below */ \
	X(IMSG_STATS_REQ)	/* parent -> child */			\
	X(IMSG_STATS)		/* child -> parent */			\
	X(IMSG_CTL_SHOW_STATS)	/* empty; STATS_ROW..., MISSING..., END */ \
	X(IMSG_CTL_STATS_ROW)	/* str name, u64 value */		\
	X(IMSG_CTL_STATS_MISSING) /* str process, str reason */		\
	X(IMSG_CTL_STATS_INFO)	/* uptime, time, processes; see below */ \
	X(IMSG_CTL_SESSION_KILL) /* u64 session id; OK or FAIL */	\
	/* front <-> keys: private-key operations, see the notes below */ \
	X(IMSG_KEY_OP_REQ)						\
	X(IMSG_KEY_OP_RES)						\
	/* issue 15 item 3: test certificate, test login; see below */	\
	X(IMSG_CTL_TEST_CERT_DATA) /* data: a piece of the PEM file */	\
	X(IMSG_CTL_TEST_CERT)	/* see the notes below */		\
	X(IMSG_CTL_TEST_LOGIN)						\
	X(IMSG_CTL_TEST_STEP)	/* str step, str result, str detail */	\
	X(IMSG_CTL_TEST_DECISION) /* u32 enum ctl_test_decision, str	\
				 * user, str reason */			\
	/* issue 17: several fronts, see the notes below */		\
	X(IMSG_FRONT_COUNTS)	/* parent -> front: u32 front, u32 n	\
				 * fronts, u32 writable; fd memfd */	\
	X(IMSG_AUTHFAIL_NOTE)	/* front -> parent -> other fronts */	\
	X(IMSG_AUTHFAIL_TABLE)	/* parent -> a (re)started front: (str	\
				 * key, i64 start, u32 count)... */	\
	X(IMSG_FRONT_EVICT)	/* front -> parent: u32 front, u32 0,	\
				 * u64 key; parent -> that front: u64	\
				 * key, u32 from, u32 0 (fronts.h) */	\
	X(IMSG_TICKET_SEED)	/* parent -> a (re)started front: 32	\
				 * bytes, the ticket keys' secret */	\
	X(IMSG_AUTHFAIL_SEEN)	/* front -> parent: a NOTE passed on is	\
				 * in its table; parent -> the front	\
				 * that sent one: in every front's */	\
	X(IMSG_TYPE_MAX)

#define IMSG_ENUM_ENTRY(n)	n,
enum imsg_type {
	IMSG_NONE = 0,
	IMSG_TYPES(IMSG_ENUM_ENTRY)
};
#undef IMSG_ENUM_ENTRY

const char	*imsg_type_name(uint32_t);

/*
 * LDAP lookups.  The front sends what it knows; ldapd-helper owns the
 * filters (it expands the configured templates with RFC 4515 escaping),
 * the cache and the connections, and answers with one of these results.
 * Anything but LDAP_RES_OK means "not authenticated"; LDAP_RES_TEMPFAIL
 * (server down, timeout, helper restarted) must become a 4xx, never a
 * "no such user".
 *
 * IMSG_LDAP_CERT_REQ	str ldap profile, str certificate query,
 *			data leaf certificate (DER)
 * IMSG_LDAP_CERT_RES	u32 result, str user, str entry dn,
 *			u32 n, n x str mail address, str detail (for logs)
 * IMSG_LDAP_AUTH_REQ	str ldap profile, str smtp-auth query, str user,
 *			data password (wiped after use, never cached in clear)
 * IMSG_LDAP_AUTH_RES	u32 result, str user, str entry dn,
 *			u32 n, n x str mail address, str detail.
 *			LOCKED, PWEXPIRED, PWRESET, DISABLED: the
 *			directory refused the account (its password
 *			policy); user, dn and mails empty as for BADCRED.
 *			OK may carry a policy warning in detail (grace
 *			login, password expiring).  The front refuses an
 *			account result in any other answer's type.
 * IMSG_LDAP_AUTHZ_REQ	str ldap profile, str authorization query, str user
 *			(the e-mail proxy's authenticated user name)
 * IMSG_LDAP_AUTHZ_RES	u32 result, str group policy (the first value of
 *			the query's group-policy attribute; "" when the
 *			entry has none or the query names no attribute),
 *			str entry dn, u32 0 (no mails), str detail.
 *			OK: exactly one entry; NOTFOUND: none, so the
 *			default group policy applies; TEMPFAIL as above.
 *			Same layout as the other answers, so one decoder
 *			serves them all.
 * IMSG_LDAP_ALLOW_REQ	str ldap profile, str smtp-auth query, str user
 *			(issue 13: the query's allowance -- the site's
 *			card rule -- for a password the front checked
 *			some other way; no password, no bind as the user)
 * IMSG_LDAP_ALLOW_RES	u32 result, str user (as sent), str entry dn,
 *			u32 n, n x str mail address, str detail.
 *			OK: exactly one entry for the query's filter and
 *			it matches the allowance (or the query has none);
 *			DISALLOWED: one entry, the allowance refuses it;
 *			NOTFOUND: no entry (no card rule can apply: the
 *			front decides); AMBIGUOUS: more than one; BADREQ:
 *			the name is refused before LDAP (as for smtp-auth)
 *			or the query is not an smtp-auth query; TEMPFAIL
 *			as above.  User, dn and mails only with OK and
 *			DISALLOWED.  An OK here proves no password: never
 *			cached, so it cannot answer IMSG_LDAP_AUTH_REQ.
 */
enum ldap_result {
	LDAP_RES_OK = 0,
	LDAP_RES_NOTFOUND,	/* no entry matches */
	LDAP_RES_AMBIGUOUS,	/* more than one entry matches */
	LDAP_RES_MISMATCH,	/* match-certificate: presented != stored */
	LDAP_RES_BADCRED,	/* wrong password */
	LDAP_RES_DISALLOWED,	/* allowance filter does not match */
	LDAP_RES_BADREQ,	/* a field the filter needs is missing */
	LDAP_RES_BADFIELD,	/* certificate: a field the filter needs
				 * has a control character; no LDAP
				 * request was made, detail names it */
	/*
	 * Issue 15: the directory's password policy refused the bind
	 * (OpenLDAP ppolicy response control, Active Directory's "data
	 * NNN"): the account, not the password, is the reason.  Only
	 * smtp-auth answers carry these; never cached (pwpolicy.h).
	 */
	LDAP_RES_LOCKED,	/* account locked (too many failures) */
	LDAP_RES_PWEXPIRED,	/* password expired, no grace left */
	LDAP_RES_PWRESET,	/* password must be changed first */
	LDAP_RES_DISABLED,	/* account disabled or expired (AD) */
	LDAP_RES_TEMPFAIL,	/* directory unreachable, timeout, ... */
	LDAP_RES_MAX
};

/* Bounds on lookup messages. */
#define LDAP_MAX_NAME		256	/* profile, query names */
#define LDAP_MAX_VALUE		1024	/* user name, mail address */
#define LDAP_MAX_DN		4096
#define LDAP_MAX_CERT		(64 * 1024)
#define LDAP_MAX_PASSWORD	1024
#define LDAP_MAX_MAILS		64

const char	*ldap_result_name(uint32_t);

/*
 * Revocation (crld, SPEC 5).  crld fetches and validates the CRLs and
 * builds the compact revocation set (crlset.h) in a sealed memfd; the
 * parent keeps the newest and hands a descriptor to the front, now and
 * whenever the front restarts.  The front acknowledges each set so that
 * `smtpcertctl crl update` can answer only once new handshakes use it.
 *
 * IMSG_CRL_SET		fd sealed memfd; u64 set serial, u64 size
 * IMSG_CRL_SET_LOADED	u64 set serial (the front maps it, or keeps the
 *			old one if the new one is malformed: then 0)
 * IMSG_CRL_STATUS	u32 index, u32 count, struct crl_status: row index
 *			of count sources (count shrinks the parent's table)
 * IMSG_CRL_UPDATE	reqid; str source name, "" for every source
 * IMSG_CRL_UPDATE_DONE	same reqid; u32 ok, u64 set serial that holds
 *			the result (0: no new set), str summary
 */
#define CRL_MAX_SOURCES		1024
#define CRL_MAX_SUMMARY		8192

/*
 * --- OCSP (issue 5 item 7) ---------------------------------------------
 * After a client handshake (and the CRL check) the front asks crld about
 * the leaf certificate; crld answers from its cache or asks the responder
 * (configured, else the certificate's AIA).  The front applies the policy
 * (ocsp stale) to anything but GOOD and REVOKED.
 *
 * IMSG_OCSP_REQ	reqid; data leaf (DER), data its issuer (DER)
 * IMSG_OCSP_RES	same reqid; u32 enum ocsp_status, u32 CRLReason
 *			(0xff: none given), i64 nextUpdate (0: none),
 *			u32 1 if answered from crld's cache, str detail
 */
/*
 * Private keys (issue 14): the keys process holds the listeners' keys;
 * the front holds the certificates and asks for each private-key
 * operation of a handshake.  A key is named by the SHA-256 of its
 * public key (DER SubjectPublicKeyInfo), which both sides compute, so a
 * reload that changes keys needs no other naming.
 *
 * IMSG_KEY_OP_REQ	reqid; data SPKI hash (32 bytes), u32 enum key_op,
 *			u32 RSA padding (RSA_PKCS1_PADDING or
 *			RSA_NO_PADDING; 0 for ECDSA), data input
 *			(the digest for ECDSA, at most KEY_OP_MAX)
 * IMSG_KEY_OP_RES	same reqid; u32 1 done / 0 failed, data output
 *			(RSA: the signature, modulus-sized; ECDSA: DER)
 */
enum key_op {
	KEY_OP_RSA_SIGN = 1,	/* RSA private encryption with padding */
	KEY_OP_ECDSA_SIGN	/* ECDSA over a digest */
};
#define KEY_SPKI_HASH_LEN	32
#define KEY_OP_MAX		1024	/* bytes: RSA up to 8192 bits */

enum ocsp_status {
	OCSP_ST_GOOD = 0,
	OCSP_ST_REVOKED,
	OCSP_ST_UNKNOWN,	/* the responder does not know the cert */
	OCSP_ST_ERROR,		/* no usable answer (down, bad signature,
				 * stale, no responder, ...) */
	OCSP_ST_MAX
};
#define OCSP_MAX_CERT		(64 * 1024)	/* DER, each */
#define OCSP_MAX_DETAIL		1024
/* --- end OCSP ------------------------------------------------------------ */


/*
 * E-mail proxy (SPEC 6).  The front cannot open files: it sends each
 * accounting record to the parent, which appends it as one JSON line to
 * the profile's accounting file (smtpcertd/accounting.c).
 *
 * IMSG_ACCT_RECORD	str proxy profile, str event ("start"|"stop"|
 *			"failed"), u64 session id, str protocol, str user,
 *			str client address, str back end, u64 bytes from
 *			the client, u64 bytes to the client, i64 start time
 *			(epoch), i64 duration (s), str result, str reason
 *			("" if none)
 *
 * `smtpcertctl show sessions': the parent passes the request to the front
 * with the control client's id as reqid; the front answers rows and an
 * end with the same reqid, which the parent relays to that client.
 *
 * IMSG_CTL_SHOW_SESSIONS	empty
 * IMSG_CTL_SESSION	u64 session id, str protocol, str state, str user,
 *			str client address, str back end, i64 start time,
 *			u64 bytes from the client, u64 bytes to the client;
 *			to smtpcertctl only (the parent adds them): u32
 *			front number, u64 front pid
 * IMSG_CTL_END		empty
 */
#define ACCT_MAX_FIELD		1024	/* any string of a record or row */
#define ACCT_MAX_SESSIONS	100000	/* rows one answer may hold */

/*
 * `smtpcertctl show stats' (issue 7 item 1; counters in stats.h).  The
 * parent asks every running child, with a request id of its own; each
 * child answers once with all the counters it owns.  The parent waits at
 * most STATS_TIMEOUT seconds: a child that is down, dies meanwhile or
 * does not answer in time is reported missing, so the answer is partial
 * but never late.
 *
 * IMSG_STATS_REQ	reqid; empty
 * IMSG_STATS		same reqid; u32 n, n x (str name, u64 value)
 * IMSG_CTL_SHOW_STATS	empty
 * IMSG_CTL_STATS_ROW	str name, u64 value (in the table's order)
 * IMSG_CTL_STATS_MISSING str process, str reason (its counters are absent)
 * IMSG_CTL_STATS_INFO	i64 parent's start (epoch), i64 time of the answer
 *			(epoch), u32 n (at most PROC_MAX), n x (str
 *			process, u32 1 if its counters are in, else 0);
 *			once, last before the end
 * IMSG_CTL_END		empty
 *
 * `smtpcertctl session kill': the parent passes the request to the front
 * with the control client's id as reqid; the front closes the SMTP or
 * proxy session (logged with result "killed by smtpcertctl") and answers
 * OK or FAIL with the same reqid, which the parent relays.
 *
 * IMSG_CTL_SESSION_KILL	u64 session id
 */
#define STATS_TIMEOUT		5	/* seconds */

/*
 * `smtpcertctl test certificate FILE [listener ADDRESS:PORT]' and `test
 * login USER [listener ...]' (issue 15 item 3): the front runs what a
 * session would -- verification, revocation, OCSP, the certificate query
 * or the allowance lookup -- and answers each step as it is done, then
 * the decision, then the end, all with the control client's id as reqid
 * (the parent relays them).  Nothing is sent as mail; no failed-login
 * counter or limit sees it.
 *
 * client -> parent:
 * IMSG_CTL_TEST_CERT_DATA	data: the next piece of the PEM file (the
 *				control socket takes 16 KB messages), in
 *				all at most CTL_TEST_CERT_MAX bytes
 * IMSG_CTL_TEST_CERT		str listener ("" the first), after the data
 * IMSG_CTL_TEST_LOGIN		str listener ("" the first), str user
 * parent -> front (the listener found by address, or the first):
 * IMSG_CTL_TEST_CERT		u32 listener index, data PEM
 * IMSG_CTL_TEST_LOGIN		u32 listener index, str user
 * front -> parent -> client:
 * IMSG_CTL_TEST_STEP		str step, str result ("ok", "fail", "warn",
 *				"skip", "tempfail"), str detail
 * IMSG_CTL_TEST_DECISION	u32 enum ctl_test_decision, str user (the
 *				user the certificate maps to, or the login
 *				name allowed), str reason
 * IMSG_CTL_END			empty
 * A request the parent refuses (no such listener, file too large, the
 * front not running) gets IMSG_CTL_FAIL instead.
 */
#define CTL_TEST_CERT_MAX	(64 * 1024)	/* bytes of PEM */
#define CTL_TEST_CHAIN_MAX	16		/* certificates in it */
#define CTL_TEST_FIELD_MAX	4096		/* any string of a step */
#define CTL_TEST_STEPS_MAX	32		/* steps of one answer */

enum ctl_test_decision {
	CTL_TEST_ACCEPTED = 0,	/* maps to a user / may log in */
	CTL_TEST_REFUSED,
	CTL_TEST_TEMPFAIL,	/* LDAP or OCSP unavailable: try later */
	CTL_TEST_MAX
};

#endif
