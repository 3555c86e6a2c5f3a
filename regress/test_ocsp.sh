#!/bin/bash
# OCSP checking of client certificates end to end (issue 5 item 7, SPEC
# 5): an openssl OCSP responder on loopback for the test PKI's
# intermediate; crld asks it (configured URL or the certificate's AIA),
# verifies and caches the answers; the front holds each session until the
# answer is in, then delivers to the recording upstream or refuses.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
. "$REGRESS/lib/ocsp.sh"

OCSP_PKI_CACHE=""

# The PKI (with the delegated responder) is made once per file and copied.
ocsp_init() {
	OCSP_PKI_CACHE=$(mktemp -d /tmp/smtpcertd-ocsppki.XXXXXX)
	chmod 0755 "$OCSP_PKI_CACHE"
	{ make_pki "$OCSP_PKI_CACHE/pki" && ocsp_pki "$OCSP_PKI_CACHE/pki"; } \
	    >/dev/null 2>&1 || { echo "make_pki failed" >&2; exit 1; }
	trap 'rm -rf "$OCSP_PKI_CACHE"' EXIT
}

# ocsp_env: $T/pki, the CRLs as they are now (file sources, so later
# revocations are known to OCSP only), the recording upstream on
# $UP_PORT, ports $SUB_PORT (STARTTLS listener) and $OP (responder).
ocsp_env() {
	PKI=$T/pki
	cp -a "$OCSP_PKI_CACHE/pki" "$PKI"
	# The copy's `openssl ca` state must be its own (revocations,
	# new certificates), not the cached PKI's.
	sed -i "s|$OCSP_PKI_CACHE/pki|$PKI|g" "$PKI"/db/*/ca.cnf
	mkdir -p "$T/empty" "$T/crl"
	cp "$PKI"/crl/inter.crl.der "$PKI"/crl/root.crl.der "$T/crl/"
	UP_PORT=$(free_port)
	start_upstream "$T/up" "$UP_PORT"
	SUB_PORT=$(free_port)
	OP=$(free_port)
}

# ocsp_conf OCSP-LINE: certificate-only submission (tls required, verify
# client-certificate, no SMTP AUTH), CRLs checked first.
ocsp_conf() {
	cat >"$T/smtpcertd.conf" <<CONF
user "_smtpcertd"
chroot "$T/empty"
control socket "$T/ctl.sock"
crl cache "$T/crlcache"
hostname "gw.example.test"
$1

pki "gw" cert "$PKI/server.chain.pem" key "$PKI/server.key"
ca "clients" file "$PKI/chain.pem"

crl "inter" {
	ca "clients"
	type asn1
	url "file://$T/crl/inter.crl.der"
}
crl "root" {
	ca "clients"
	type asn1
	url "file://$T/crl/root.crl.der"
}

relay "mx" host "127.0.0.1" port $UP_PORT tls none
policy "p" {
	tls required
	verify client-certificate
}
listen on 127.0.0.1 port $SUB_PORT starttls pki "gw" ca "clients" policy "p" relay "mx"
CONF
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/conftest.out" 2>&1 ||
	    { cat "$T/conftest.out" "$T/smtpcertd.conf"; fail "config refused"; return 1; }
	start_daemon "$T/smtpcertd.conf" || return 1
	wait_port "$SUB_PORT" 10 || fail "listener not open"
	# The CRLs must be in before a handshake can pass the CRL check.
	wait_log "$T/smtpcertd.log" "revocation set [0-9]+ in use: 2 CRLs" 10 ||
	    fail "CRLs not loaded"
}

# send NAME OUT: one message with NAME's certificate over STARTTLS.
send() {
	smtp_swaks "$2" --tls $(swaks_cert "$1") --from "$1@example.test" \
	    --to rcpt@example.test
}

# refused OUT TEXT (an extended regex): the session ended right after
# the handshake for TEXT and nothing was delivered.  The 554 5.7.1 is in
# the transcript unless the client had not read it before the close (a
# quick answer: swaks then only sees the connection go).
refused() {
	if grep -q '554 5.7.1' "$1"; then
		grep -Eq "<~\* *554 5\.7\.1 Client certificate refused: $2" "$1" ||
		    { fail "$1: 554 without \"$2\""; return 1; }
	else
		grep -q 'Remote host closed connection' "$1" ||
		    { fail "$1: neither 554 nor closed"; return 1; }
	fi
	grep -Eq "event=end .* cert=refused .* result=\"$2" "$T/smtpcertd.log" ||
	    { fail "session end for \"$2\" not logged"; return 1; }
	! grep -Eq '^<~ +250 2\.0\.0 Ok: queued' "$1" || fail "$1: delivered"
}

# --- tests ---------------------------------------------------------------

# A good certificate: asked once, delivered.  One revoked by the CA after
# the CRL was issued (so the CRL check passes): refused as revoked by
# OCSP with its reason.  One listed in the CRL: the CRL refuses it first
# and the responder is not even asked.
test_good_delivered_revoked_refused() {
	ocsp_env
	ocsp_revoke "$PKI" carol affiliationChanged
	ocsp_start "$PKI" "$OP"
	ocsp_conf "ocsp yes responder \"http://127.0.0.1:$OP/\" stale fail-closed timeout 5s"
	send alice "$T/sw1"
	swaks_delivered "$T/sw1"
	up_assert_count 1
	up_msg_json 1 'm["mail_from"] == "alice@example.test"'
	grep -q "ocsp: serial $(pki_serial "$PKI" alice) .*: good from http://127.0.0.1:$OP/" \
	    "$T/smtpcertd.log" || fail "crld did not log the good answer"
	grep -q "OCSP: certificate serial $(pki_serial "$PKI" alice) .* good" \
	    "$T/smtpcertd.log" || fail "front did not log the good answer"
	send carol "$T/sw2"
	refused "$T/sw2" "revoked \(OCSP\): certificate serial $(pki_serial "$PKI" carol) .*reason affiliationChanged"
	[ "$(log_count "session [0-9a-f]+: revoked \(OCSP\): certificate serial $(pki_serial "$PKI" carol)")" = 1 ] ||
	    fail "OCSP revocation not logged"
	send revoked "$T/sw3"
	refused "$T/sw3" "certificate revoked: serial $(pki_serial "$PKI" revoked)"
	[ "$(ocsp_requests "$OP")" = 2 ] || fail "responder asked $(ocsp_requests "$OP") times, want 2"
	up_assert_count 1
}

# `smtpcertctl test certificate' asks the responder as a session would:
# the ocsp step says good, or revoked with the refusal as the decision.
test_ctl_test_certificate_asks_ocsp() {
	ocsp_env
	ocsp_revoke "$PKI" carol affiliationChanged
	ocsp_start "$PKI" "$OP"
	ocsp_conf "ocsp yes responder \"http://127.0.0.1:$OP/\" stale fail-closed timeout 5s"
	# (The listener maps no certificate to a user: the decision after a
	# good answer is "names nobody", exit 1.)
	ctl -j test certificate "$PKI/alice.chain.pem" >"$T/alice.json" || true
	cat "$T/alice.json"
	$PY - "$T/alice.json" <<'PYEOF' || fail "alice: no good OCSP step"
import json, sys
d = json.load(open(sys.argv[1]))
s = {x["step"]: x for x in d["steps"]}
sys.exit(0 if s["ocsp"]["result"] == "ok" and s["revocation"]["result"] == "ok" else 1)
PYEOF
	local rc=0
	ctl -j test certificate "$PKI/carol.chain.pem" >"$T/carol.json" || rc=$?
	cat "$T/carol.json"
	[ $rc = 1 ] || fail "carol: exit $rc, want 1 (refused)"
	$PY - "$T/carol.json" <<'PYEOF' || fail "carol: not refused by OCSP"
import json, sys
d = json.load(open(sys.argv[1]))
last = d["steps"][-1]
sys.exit(0 if d["decision"] == "refused" and last["step"] == "ocsp" and
         last["result"] == "fail" and "revoked" in last["detail"] and
         "revoked" in d["reason"] else 1)
PYEOF
	[ "$(ocsp_requests "$OP")" = 2 ] ||
	    fail "responder asked $(ocsp_requests "$OP") times, want 2"
	# Responder gone, stale fail-closed, a certificate not asked yet: a
	# temporary failure, not a refusal.
	ocsp_stop "$OP"
	rc=0
	ctl -j test certificate "$PKI/dave.chain.pem" >"$T/dave.json" || rc=$?
	cat "$T/dave.json"
	[ $rc = 2 ] || fail "dave: exit $rc, want 2 (tempfail)"
	$PY - "$T/dave.json" <<'PYEOF' || fail "dave: not a temporary failure at the ocsp step"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["decision"] == "tempfail" and d["steps"][-1]["step"] == "ocsp" else 1)
PYEOF
}

# A delegated responder (certified by the intermediate for OCSP signing)
# is trusted; one signed by an unrelated CA is not (fail-closed refuses,
# and the reason is logged).
test_delegated_ok_wrong_signer_rejected() {
	ocsp_env
	ocsp_start "$PKI" "$OP" "$PKI/ocsp-signer.crt" "$PKI/ocsp-signer.key" \
	    -nmin 5
	OP2=$(free_port)
	ocsp_start "$PKI" "$OP2" "$PKI/other-ca.pem" "$PKI/other-ca.key"
	ocsp_conf "ocsp yes responder \"http://127.0.0.1:$OP/\" stale fail-closed timeout 5s"
	send alice "$T/sw1"
	swaks_delivered "$T/sw1"
	# The same certificates, the rogue responder.
	sed -i "s|127.0.0.1:$OP/|127.0.0.1:$OP2/|" "$T/smtpcertd.conf"
	ctl reload >/dev/null
	# The cached good answer came from the other responder: dropped.
	wait_log "$T/smtpcertd.log" "ocsp: 1 cached answers dropped \(responder changed\)" 10 ||
	    fail "cache not dropped on reload"
	send alice "$T/sw2"
	refused "$T/sw2" "no OCSP answer \(OCSP response from http://127.0.0.1:$OP2/ not signed by the issuer or its responder"
	up_assert_count 1
}

# Responder down: fail-open accepts (delivered, loud warning), then the
# same under fail-closed refuses.
test_responder_down_fail_open_then_closed() {
	ocsp_env
	ocsp_conf "ocsp yes responder \"http://127.0.0.1:$OP/\" stale fail-open timeout 3s"
	send bob "$T/sw1"
	swaks_delivered "$T/sw1"
	up_assert_count 1
	[ "$(log_count "WARNING: no OCSP answer \(OCSP responder http://127.0.0.1:$OP/: .*\) for certificate serial $(pki_serial "$PKI" bob) .*ACCEPTED UNCHECKED by OCSP \(fail-open\)")" = 1 ] ||
	    fail "fail-open acceptance not logged loudly"
	sed -i "s|stale fail-open|stale fail-closed|" "$T/smtpcertd.conf"
	ctl reload >/dev/null
	wait_log "$T/smtpcertd.log" "configuration reloaded \(generation 2\)" 10 ||
	    fail "not reloaded"
	sleep 0.5
	send bob "$T/sw2"
	refused "$T/sw2" "no OCSP answer \(OCSP responder http://127.0.0.1:$OP/"
	[ "$(log_count "refused \(ocsp stale fail-closed\)")" = 1 ] || fail "refusal not logged"
	up_assert_count 1
}

# With nextUpdate (-nmin) the answer is cached: while the responder is
# down the cached good answer lets alice in (fail-closed), bob, never
# asked, is refused.
test_cached_answer_used_while_down() {
	ocsp_env
	ocsp_start "$PKI" "$OP" "" "" -nmin 5
	ocsp_conf "ocsp yes responder \"http://127.0.0.1:$OP/\" stale fail-closed timeout 3s"
	send alice "$T/sw1"
	swaks_delivered "$T/sw1"
	ocsp_stop "$OP"
	send alice "$T/sw2"
	swaks_delivered "$T/sw2"
	grep -q "OCSP: certificate serial $(pki_serial "$PKI" alice) .* good (.*, cached)" \
	    "$T/smtpcertd.log" || fail "cached answer not used"
	[ "$(ocsp_requests "$OP")" = 1 ] || fail "responder asked again"
	send bob "$T/sw3"
	refused "$T/sw3" "no OCSP answer"
	up_assert_count 2
}

# Without a configured responder, the certificate's AIA names it; a
# certificate without one cannot be checked (fail-closed: refused).
test_aia_responder() {
	ocsp_env
	ocsp_aia_cert "$PKI" aia "http://127.0.0.1:$OP/" >/dev/null 2>&1 ||
	    fail "aia certificate"
	ocsp_start "$PKI" "$OP"
	ocsp_conf "ocsp yes stale fail-closed timeout 5s"
	send aia "$T/sw1"
	swaks_delivered "$T/sw1"
	grep -q "ocsp: serial $(pki_serial "$PKI" aia) .*: good from http://127.0.0.1:$OP/" \
	    "$T/smtpcertd.log" || fail "AIA responder not used"
	send alice "$T/sw2"
	refused "$T/sw2" "no OCSP answer \(no OCSP responder"
	up_assert_count 1
}

# A responder that accepts the connection and never answers: the session
# waits `ocsp timeout`, then the policy (fail-open) lets it through;
# meanwhile another session (ocsp off for none: it waits too) -- the
# front keeps serving: a plain EHLO on a second connection is answered at
# once.
test_responder_silent_timeout() {
	ocsp_env
	$PY -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$OP" </dev/null >/dev/null 2>&1 &
	track_pid $!
	wait_port "$OP" 5 || fail "silent responder"
	ocsp_conf "ocsp yes responder \"http://127.0.0.1:$OP/\" stale fail-open timeout 2s"
	local t0 t1
	t0=$(date +%s%N)
	send alice "$T/sw1" >/dev/null &
	local sw=$!
	sleep 0.5
	# The front is not blocked while that session waits.
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo(); c.cmd("QUIT", 221)
' "$SUB_PORT" >"$T/raw.out" || fail "front blocked while OCSP pending"
	wait $sw
	t1=$(date +%s%N)
	cat "$T/sw1"
	swaks_delivered "$T/sw1"
	[ $(( (t1 - t0) / 1000000 )) -ge 1800 ] || fail "session did not wait for the OCSP timeout"
	grep -q "OCSP responder http://127.0.0.1:$OP/: .*timed out" "$T/smtpcertd.log" ||
	    fail "timeout not logged"
	up_assert_count 1
}

ocsp_init
run_test test_good_delivered_revoked_refused
run_test test_ctl_test_certificate_asks_ocsp
run_test test_delegated_ok_wrong_signer_rejected
run_test test_responder_down_fail_open_then_closed
run_test test_cached_answer_used_while_down
run_test test_aia_responder
run_test test_responder_silent_timeout
finish
