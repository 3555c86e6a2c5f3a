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
	# Python's smtplib: login() before STARTTLS finds no AUTH to use and
	# sends no password; after starttls() it logs in.
	before=$(ldap_lookups)
	T=$T timeout -k 2 60 $PY -u - "$SUB_PORT" <<'PY' || fail "smtplib"
import os, smtplib, ssl, sys
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
c.ehlo("client.example.test")
try:
    c.login("bob", "bobpw")
    sys.exit("smtplib logged in before STARTTLS")
except smtplib.SMTPNotSupportedError as e:
    print("before STARTTLS:", e)
ctx = ssl.create_default_context(cafile=os.environ["T"] + "/pki/chain.pem")
ctx.check_hostname = False
c.starttls(context=ctx)
c.ehlo("client.example.test")
code, msg = c.login("bob", "bobpw")
print("after STARTTLS:", code, msg)
assert code == 235, (code, msg)
c.quit()
PY
	after=$(ldap_lookups)
	[ "$after" -eq $((before + 1)) ] ||
	    fail "smtplib: LDAP lookups $before -> $after (want one, after TLS)"
	grep -q 'event=auth .*method=LOGIN .*result=refused .*reason="encryption required"' \
	    "$T/smtpcertd.log" || fail "no log line for the refused AUTH LOGIN"
}

# `require tls-for-auth' under `tls preferred' keeps its documented
# behaviour: no AUTH before STARTTLS, 538 5.7.11 without LDAP, MAIL asks
# for authentication (not for STARTTLS); after STARTTLS AUTH works.
test_require_tls_for_auth_unchanged() {
	smtp_env
	SMTP_POLICY="tls preferred
require smtp-auth
require tls-for-auth" SMTP_PROFILE=ldap-users smtp_start
	wait_port "$SUB_PORT" 5 || fail "no listener"
	local before after
	before=$(ldap_lookups)
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
r = c.ehlo()
assert "STARTTLS" in r, r
assert "AUTH" not in r, "AUTH offered before STARTTLS: %r" % r
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 538,
    "538 5.7.11 Encryption required for requested authentication mechanism")
c.cmd("AUTH LOGIN Ym9i", 538, "5.7.11")
c.cmd("MAIL FROM:<bob@example.test>", 530, "5.7.0 Authentication required")
c.cmd("STARTTLS", 220)
c.starttls()
r = c.ehlo()
assert "AUTH PLAIN LOGIN" in r, r
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 235)
c.cmd("QUIT", 221)
' "$SUB_PORT" || { fail "dialogue"; return 1; }
	after=$(ldap_lookups)
	[ "$after" -eq $((before + 1)) ] ||
	    fail "LDAP lookups $before -> $after (want exactly one, after TLS)"
}

# `tls preferred' alone still takes AUTH before STARTTLS (what -n warns
# about), so a site that relies on it does not break on upgrade.
test_tls_preferred_still_takes_plaintext_auth() {
	smtp_env
	SMTP_POLICY="tls preferred
require smtp-auth" SMTP_PROFILE=ldap-users smtp_start
	wait_port "$SUB_PORT" 5 || fail "no listener"
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
r = c.ehlo()
assert "STARTTLS" in r and "AUTH PLAIN LOGIN" in r, r
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 235)
c.cmd("QUIT", 221)
' "$SUB_PORT" || fail "dialogue"
	! grep -q 'reason="encryption required"' "$T/smtpcertd.log" ||
	    fail "AUTH refused under tls preferred"
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
	# `tls off': no warning on loopback (local programs), a warning on
	# any other address and on loopback behind a PROXY header.
	local extra
	for extra in "127.0.0.1 port 10026 plaintext:" \
	    "0.0.0.0 port 10026 plaintext:warn" \
	    "127.0.0.1 port 10026 plaintext proxy-protocol:warn"; do
		SMTP_POLICY="tls required
require smtp-auth" SMTP_PROFILE=ldap-users SMTP_EXTRA_CONF="
policy \"LOCAL\" {
	tls off
	require smtp-auth
}
listen on ${extra%:*} auth-profile \"ldap-users\" policy \"LOCAL\" relay \"mx\"" smtp_conf
		"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/n.out" 2>&1 ||
		    { cat "$T/n.out"; fail "-n failed ($extra)"; continue; }
		cat "$T/n.out"
		if [ "${extra##*:}" = warn ]; then
			grep -q "smtpcertd.conf:[0-9]*: warning: listener with policy \"LOCAL\" (tls off) \(on a non-loopback address\|behind a PROXY header\) accepts a password in the clear" "$T/n.out" ||
			    fail "no tls off warning for: $extra"
		else
			! grep -q "password in the clear" "$T/n.out" ||
			    fail "warning for: $extra"
		fi
	done
}

run_test test_tls_required_takes_no_password_before_starttls
run_test test_require_tls_for_auth_unchanged
run_test test_tls_preferred_still_takes_plaintext_auth
run_test test_check_warns_about_password_in_the_clear
finish
