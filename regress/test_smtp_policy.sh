#!/bin/bash
# SPEC 3.2, the mail-flow policy, one setting at a time: tls off /
# preferred / required, verify client-certificate with preferred and with
# required, require smtp-auth, require tls-for-auth.  Each test checks the
# replies and what the recording upstream got.  Only the tests that need
# a certificate mapped to a user or a password checked depend on
# ldapd-helper.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

# tls off: STARTTLS neither offered nor accepted; plaintext mail flows.
test_policy_tls_off() {
	smtp_env
	# (an implicit-TLS listener with tls off is a configuration error)
	SMTP_POLICY="tls off" SMTP_PROFILE=none SMTP_NO_SMTPS=1 smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220)
r = c.ehlo()
assert "STARTTLS" not in r, r
c.cmd("STARTTLS", 502, "5.5.1")
c.message()
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	up_received 1 "with ESMTP id"
}

# tls preferred: STARTTLS offered, plaintext allowed (no auth required),
# TLS works too.
test_policy_tls_preferred() {
	smtp_env
	SMTP_POLICY="tls preferred" SMTP_PROFILE=none smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220)
r = c.ehlo()
assert "STARTTLS" in r, r
c.message(body=b"Subject: plain\r\n\r\nx\r\n")
c.cmd("STARTTLS", 220); c.starttls()
r = c.ehlo()
assert "STARTTLS" not in r, r
c.cmd("STARTTLS", 503)
c.message(body=b"Subject: tls\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 2
	up_received 1 "with ESMTP id"
	up_received 2 "with ESMTPS id"
}

# tls required: MAIL before STARTTLS gets exactly the SPEC's 530; after
# STARTTLS the message goes.
test_policy_tls_required() {
	smtp_env
	SMTP_POLICY="tls required" SMTP_PROFILE=none smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220)
c.ehlo()
r = c.cmd("MAIL FROM:<a@example.test>", 530)
assert r == "530 5.7.0 Must issue a STARTTLS command first", r
c.cmd("RCPT TO:<b@example.test>", 503)
c.cmd("STARTTLS", 220); c.starttls()
c.ehlo()
c.message()
c.cmd("QUIT", 221)
' "$SUB_PORT"
	smtp_swaks "$T/sw" --from a@example.test --to b@example.test
	grep -q '^<\*\* *530 5.7.0 Must issue a STARTTLS command first' "$T/sw" || fail "swaks: no 530"
	up_assert_count 1
	up_msg_json 1 'm["xclient"]["LOGIN"] == "[UNAVAILABLE]"'
}

# verify + preferred: no certificate → the session goes on, in plaintext
# or over TLS; a valid certificate is accepted too.
test_policy_verify_preferred_without_certificate() {
	smtp_env
	SMTP_POLICY="tls preferred
verify client-certificate" SMTP_PROFILE=none smtp_start
	smtp_swaks "$T/sw1" --from a@example.test --to b@example.test
	swaks_delivered "$T/sw1"
	smtp_swaks "$T/sw2" --tls --from a@example.test --to b@example.test
	swaks_delivered "$T/sw2"
	smtp_swaks "$T/sw3" --server "127.0.0.1:$SMTPS_PORT" --tlsc \
	    --from a@example.test --to b@example.test
	swaks_delivered "$T/sw3"
	smtp_swaks "$T/sw4" --tls $(swaks_cert alice) --from a@example.test --to b@example.test
	swaks_delivered "$T/sw4"
	up_assert_count 4
	log_count_is 'event=tls .*cert=none' 2 || fail "no-certificate sessions"
	log_count_is 'event=tls .*cert=presented' 1 || fail "certificate session"
}

# verify + preferred: an invalid certificate (expired, not yet valid,
# wrong CA) → handshake refused, on both listeners.
test_policy_verify_preferred_invalid_certificate_refused() {
	smtp_env
	SMTP_POLICY="tls preferred
verify client-certificate" SMTP_PROFILE=none smtp_start
	local c
	for c in expired notyet wrongca; do
		smtp_swaks "$T/sw-$c" --tls $(swaks_cert "$c") --from a@example.test --to b@example.test
		swaks_handshake_refused "$T/sw-$c"
		smtp_swaks "$T/sws-$c" --server "127.0.0.1:$SMTPS_PORT" --tlsc \
		    $(swaks_cert "$c") --from a@example.test --to b@example.test
		swaks_handshake_refused "$T/sws-$c"
	done
	log_count_is 'event=tls-failed .*certificate verify failed' 6 ||
	    fail "refusals not logged"
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220)
c.starttls(cert="expired")
# TLS 1.3: the server refuses after the client thinks it is done; the
# first read brings the alert or the close, never a reply.
try:
    # Under load the alert or close may already be here: then even
    # the send fails, which is the same refusal.
    c.send("EHLO x\r\n")
    r = c.reply()
    raise AssertionError("got a reply with an expired certificate: " + r)
except (ssl.SSLError, EOFError, ConnectionResetError, BrokenPipeError) as e:
    print("refused:", e)
' "$SUB_PORT"
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
}

# verify + required: a valid certificate is mandatory (the handshake
# without one fails); with one, mail flows (no auth profile: the
# certificate is only checked).
test_policy_verify_required_needs_certificate() {
	smtp_env
	SMTP_POLICY="tls required
verify client-certificate" SMTP_PROFILE=none smtp_start
	smtp_swaks "$T/sw1" --tls --from a@example.test --to b@example.test
	swaks_handshake_refused "$T/sw1"
	smtp_swaks "$T/sw2" --server "127.0.0.1:$SMTPS_PORT" --tlsc \
	    --from a@example.test --to b@example.test
	swaks_handshake_refused "$T/sw2"
	smtp_swaks "$T/sw3" --tls $(swaks_cert wrongca) --from a@example.test --to b@example.test
	swaks_handshake_refused "$T/sw3"
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
	smtp_swaks "$T/sw4" --tls $(swaks_cert bob) --from a@example.test --to b@example.test
	swaks_delivered "$T/sw4"
	up_assert_count 1
	log_count_is 'event=tls-failed .*handshake failed' 3 || fail "refusals not logged"
}

# require smtp-auth: MAIL unauthenticated → 530 5.7.0 Authentication
# required, in plaintext and over TLS.
test_policy_require_smtp_auth() {
	smtp_env
	SMTP_POLICY="tls preferred
require smtp-auth" SMTP_PROFILE=ldap-users smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220)
r = c.ehlo()
assert "AUTH PLAIN LOGIN" in r, r
r = c.cmd("MAIL FROM:<a@example.test>", 530)
assert r == "530 5.7.0 Authentication required", r
c.cmd("STARTTLS", 220); c.starttls()
c.ehlo()
c.cmd("MAIL FROM:<a@example.test>", 530, "5.7.0 Authentication required")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	smtp_swaks "$T/sw" --from a@example.test --to b@example.test
	grep -q '^<\*\* *530 5.7.0 Authentication required' "$T/sw" || fail "swaks: no 530"
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
}

# require smtp-auth: a certificate that maps to a user counts as
# authenticated; AUTH is neither needed nor usable.
test_policy_mapped_certificate_counts_as_auth() {
	smtp_env
	SMTP_POLICY="tls preferred
verify client-certificate
require smtp-auth" SMTP_PROFILE=cac smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls(cert="dave")
r = c.ehlo()
assert "AUTH EXTERNAL" in r and "PLAIN" not in r, r
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 503)
c.message(frm="dave@example.test")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	up_received 1 "authenticated as dave by certificate serial $(pki_serial "$PKI" dave)"
	up_msg_json 1 'm["xclient"]["LOGIN"] == "dave"'
}

# require tls-for-auth: AUTH not advertised before TLS, AUTH before TLS →
# 538 5.7.11, for every mechanism; after STARTTLS it is offered.
test_policy_require_tls_for_auth() {
	smtp_env
	SMTP_POLICY="tls preferred
require smtp-auth
require tls-for-auth" SMTP_PROFILE=ldap-users smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220)
r = c.ehlo()
assert "AUTH" not in r, r
for m in ("AUTH PLAIN AGJvYgBib2Jwdw==", "AUTH PLAIN", "AUTH LOGIN", "AUTH LOGIN Ym9i"):
    r = c.cmd(m, 538)
    assert r == "538 5.7.11 Encryption required for requested authentication mechanism", r
c.cmd("NOOP", 250)
c.cmd("STARTTLS", 220); c.starttls()
r = c.ehlo()
assert "AUTH PLAIN LOGIN" in r, r
c.cmd("QUIT", 221)
' "$SUB_PORT"
	smtp_swaks "$T/sw" --auth PLAIN --auth-user bob --auth-password bobpw \
	    --from bob@example.test --to a@example.test
	grep -Eq "Host did not advertise authentication|538" "$T/sw" || fail "swaks authenticated in plaintext"
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
}

# RFC 3207 4.2: STARTTLS forgets an AUTH done in plaintext (allowed when
# tls-for-auth is not required); the user authenticates again over TLS.
test_policy_starttls_forgets_plaintext_auth() {
	smtp_env
	SMTP_POLICY="tls preferred
require smtp-auth" SMTP_PROFILE=ldap-users smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 235)
c.message(frm="bob@example.test", body=b"Subject: plaintext auth\r\n\r\nx\r\n")
c.cmd("STARTTLS", 220); c.starttls()
r = c.ehlo()
assert "AUTH PLAIN LOGIN" in r, r
c.cmd("MAIL FROM:<bob@example.test>", 530, "Authentication required")
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 235)
c.message(frm="bob@example.test", body=b"Subject: tls auth\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 2
	up_received 1 "with ESMTPA id"
	up_received 2 "with ESMTPSA id"
	up_msg_json 2 'm["xclient"]["LOGIN"] == "bob"'
}

run_test test_policy_tls_off
run_test test_policy_tls_preferred
run_test test_policy_tls_required
run_test test_policy_verify_preferred_without_certificate
run_test test_policy_verify_preferred_invalid_certificate_refused
run_test test_policy_verify_required_needs_certificate
run_test test_policy_require_smtp_auth
run_test test_policy_mapped_certificate_counts_as_auth
run_test test_policy_require_tls_for_auth
run_test test_policy_starttls_forgets_plaintext_auth
finish
