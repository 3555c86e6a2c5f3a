#!/bin/bash
# Issue 14 item 3: no password before TLS where the site requires TLS
# (RFC 4954 section 4).  Under `tls required' EHLO before STARTTLS offers
# no AUTH PLAIN/LOGIN and AUTH gets 538 5.7.11 without any LDAP request;
# after STARTTLS AUTH works.  `smtpcertd -n' warns about a policy that
# takes a password in the clear (`tls preferred' without `require
# tls-for-auth').
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

# The LDAP lookups ldapd-helper has made (every kind).
ldap_lookups() {
	ctl show stats | awk '$1 ~ /^ldap\.lookups\./ { n += $2 } END { print n + 0 }'
}

test_tls_required_takes_no_password_before_starttls() {
	smtp_env
	SMTP_POLICY="tls required
require smtp-auth" SMTP_PROFILE=ldap-users smtp_start
	wait_port "$SUB_PORT" 5 || fail "no listener"
	local before after
	before=$(ldap_lookups)
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
r = c.ehlo()
assert "STARTTLS" in r, r
assert "AUTH" not in r, "AUTH offered before STARTTLS: %r" % r
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 538, "5.7.11 Encryption required")
c.cmd("AUTH LOGIN", 538, "5.7.11")
c.cmd("MAIL FROM:<bob@example.test>", 530)
c.cmd("STARTTLS", 220)
c.starttls()
r = c.ehlo()
assert "AUTH PLAIN LOGIN" in r, r
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 235)
c.cmd("QUIT", 221)
' "$SUB_PORT" || { fail "dialogue"; return 1; }
	after=$(ldap_lookups)
	# One lookup: the AUTH after STARTTLS; none for the two before it.
	[ "$after" -eq $((before + 1)) ] ||
	    fail "LDAP lookups $before -> $after (want exactly one, after TLS)"
	grep -q 'event=auth .*method=PLAIN .*result=refused .*reason="encryption required"' \
	    "$T/smtpcertd.log" || fail "no log line for the refused AUTH"
	# A real client: swaks with AUTH and no TLS is refused, with TLS it
	# is delivered.
	smtp_swaks "$T/sw-plain" --auth PLAIN --auth-user bob --auth-password bobpw \
	    --from bob@example.test --to bob@example.test
	! grep -q '^<~\? *235' "$T/sw-plain" || fail "swaks got 235 without TLS"
	smtp_swaks "$T/sw-tls" --tls --auth PLAIN --auth-user bob --auth-password bobpw \
	    --from bob@example.test --to bob@example.test
	swaks_delivered "$T/sw-tls" || fail "swaks with STARTTLS not delivered"
}

# `tls preferred' with `require tls-for-auth' behaves the same; without
# it AUTH before TLS still works (the documented `tls preferred'), and -n
# warns about exactly that policy.
test_check_warns_about_password_in_the_clear() {
	smtp_env
	SMTP_POLICY="tls preferred
require smtp-auth" SMTP_PROFILE=ldap-users smtp_conf
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/n.out" 2>&1 || { cat "$T/n.out"; fail "-n failed"; return 1; }
	cat "$T/n.out"
	grep -q "smtpcertd.conf:[0-9]*: warning: listener with policy \"RELAYED\" (tls preferred) without require tls-for-auth accepts a password in the clear" "$T/n.out" ||
	    fail "no warning for tls preferred"
	local p
	for p in "tls required
require smtp-auth" "tls preferred
require smtp-auth
require tls-for-auth"; do
		SMTP_POLICY="$p" SMTP_PROFILE=ldap-users smtp_conf
		"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/n.out" 2>&1 ||
		    { cat "$T/n.out"; fail "-n failed for: $p"; }
		! grep -q "password in the clear" "$T/n.out" || fail "warning for: $p"
	done
	# Certificates only: no password at all, no warning.
	SMTP_POLICY="tls preferred
verify client-certificate
require smtp-auth" SMTP_PROFILE=cert-only smtp_conf
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/n.out" 2>&1 ||
	    { cat "$T/n.out"; fail "-n failed (cert-only)"; }
	! grep -q "password in the clear" "$T/n.out" || fail "warning for a certificate-only profile"
}

run_test test_tls_required_takes_no_password_before_starttls
run_test test_check_warns_about_password_in_the_clear
finish
