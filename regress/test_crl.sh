#!/bin/bash
# Certificate revocation end to end (issue 5, SPEC 5): crld fetches CRLs
# from a local HTTP server and from files, validates them, caches them,
# and the front refuses revoked chains after real TLS handshakes.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/crl.sh"

# --- tests ---------------------------------------------------------------

test_crl_fetched_and_shown() {
	crl_env
	http_start "$T/h1" "$H1"
	http_start "$T/h2" "$H2"
	default_sources
	crl_conf
	crl_start
	wait_crls
	ctl show crl | tee "$T/show.txt"
	grep -q '^crl "inter"' "$T/show.txt" || fail "no inter row"
	grep -q "accepted from http://127.0.0.1:$H1/inter.crl.pem: 1 entries" \
	    "$T/show.txt" || fail "inter not accepted from primary"
	grep -q "accepted from file://$PKI/crl/root.crl.der: 0 entries" \
	    "$T/show.txt" || fail "root not accepted from file"
	[ "$(crl_json inter 'c["entries"]')" = 1 ] || fail "json entries"
	[ "$(crl_json inter 'c["ok"] and c["next_update"] > c["this_update"] > 0')" = True ] ||
	    fail "json dates"
	[ "$(crl_json inter 'c["issuer"]')" = "CN=Example Test Intermediate CA,O=Example Test,C=US" ] ||
	    fail "json issuer"
	[ -s "$T/crlcache/inter.crl" ] || fail "inter not cached"
	# The cache holds DER.
	openssl crl -inform DER -in "$T/crlcache/inter.crl" -noout || fail "cache not DER"
	expect_handshake alice ok
	expect_handshake revoked refused
	grep -q "certificate revoked: serial $(pki_serial "$PKI" revoked) .*reason keyCompromise" \
	    "$T/smtpcertd.log" || fail "no revocation log line"
}

test_primary_down_secondary_used() {
	crl_env
	http_start "$T/h2" "$H2"	# the primary's port stays closed
	default_sources
	crl_conf
	crl_start
	wait_crls
	ctl show crl | tee "$T/show.txt"
	grep -q "accepted from http://127.0.0.1:$H2/inter.crl.pem" "$T/show.txt" ||
	    fail "secondary not used"
	[ "$(crl_json inter 'c["url_used"]')" = "http://127.0.0.1:$H2/inter.crl.pem" ] ||
	    fail "url_used"
	# Primary answering 500: the secondary again.
	http_start "$T/h1" "$H1"
	echo 500 >"$T/h1/mode"
	ctl crl update inter | tee "$T/upd.txt"
	grep -q "failed" "$T/smtpcertd.log" || fail "primary failure not logged"
	grep -q "unchanged (from http://127.0.0.1:$H2/" "$T/upd.txt" ||
	    fail "secondary not tried after a 500"
	expect_handshake revoked refused
}

test_both_down_cached_crl_kept_across_restart() {
	crl_env
	http_start "$T/h1" "$H1"
	default_sources
	crl_conf
	crl_start
	wait_crls
	[ "$(crl_json inter 'c["entries"]')" = 1 ] || fail "not loaded"
	http_stop "$T/h1"
	if ctl crl update inter >"$T/upd.txt" 2>&1; then
		fail "crl update succeeded with both servers down"
	fi
	cat "$T/upd.txt"
	grep -q "CRL in use kept" "$T/upd.txt" || fail "no 'kept' in the answer"
	[ "$(crl_json inter 'c["entries"]')" = 1 ] || fail "CRL dropped"
	[ "$(crl_json inter 'c["failures"]')" -ge 1 ] || fail "failures not counted"
	expect_handshake revoked refused
	# Restart with the servers still down: the cache carries on.
	kill "$(daemon_pid)"
	local i=0
	while [ -e "$T/ctl.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	rm -f "$T/ctl.sock"
	start_daemon "$T/smtpcertd.conf"
	wait_log "$T/smtpcertd.log" "crl inter: using cached CRL" 10 ||
	    fail "cached CRL not loaded at start"
	wait_crls
	[ "$(crl_json inter 'c["entries"]')" = 1 ] || fail "cache not used after restart"
	wait_log "$T/smtpcertd.log" "revocation set [0-9]+ in use: 2 CRLs" 10 ||
	    fail "front has no set"
	expect_handshake revoked refused
	expect_handshake alice ok
}

# bad_crl NAME: serve $T/h1/inter.crl.pem as it is now, expect a
# rejection whose text matches $2, and the CRL in use unchanged.
bad_crl() {
	local what=$1 re=$2
	if ctl crl update inter >"$T/upd.txt" 2>&1; then
		cat "$T/upd.txt"
		fail "$what: accepted"
		return 1
	fi
	cat "$T/upd.txt"
	grep -Eq "rejected: $re" "$T/upd.txt" || fail "$what: reason is not '$re'"
	grep -Eq "crl inter: CRL from .* rejected: $re" "$T/smtpcertd.log" ||
	    fail "$what: not logged"
	[ "$(crl_json inter 'c["number"]')" = "$4" ] || fail "$what: CRL in use changed"
	ctl show crl | grep -Eq "result +CRL from .*rejected: $re" ||
	    fail "$what: show crl does not say"
}

test_bad_crls_rejected_current_kept() {
	crl_env
	http_start "$T/h1" "$H1"
	# No secondary here: each rejection must show on its own.
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	type pem
	url \"http://127.0.0.1:$H1/inter.crl.pem\"
}
crl \"root\" {
	ca \"clients\"
	type asn1
	url \"file://$PKI/crl/root.crl.der\"
}"
	crl_conf
	crl_start
	wait_crls
	cp "$T/h1/inter.crl.pem" "$T/old.pem"
	# A newer CRL first (revokes bob), so that "old" is older.
	pki_revoke "$PKI" bob >/dev/null
	republish
	ctl crl update inter | tee "$T/upd.txt"
	grep -q "accepted" "$T/upd.txt" || fail "newer CRL not accepted"
	local num; num=$(crl_json inter 'c["number"]')
	expect_handshake bob refused

	echo "this is not a CRL" >"$T/h1/inter.crl.pem"
	bad_crl corrupt "not a PEM CRL" x "$num"
	# A real PEM header with garbage inside.
	printf -- '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n' >"$T/h1/inter.crl.pem"
	bad_crl corrupt-pem "corrupt PEM CRL" x "$num"
	cp "$PKI/crl/other-ca.crl.pem" "$T/h1/inter.crl.pem"
	bad_crl other-ca "issuer is not a configured CA" x "$num"
	# The intermediate's CRL with one bit of its signature flipped.
	$PY -c '
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[-5] ^= 0x01
open(sys.argv[2], "wb").write(d)' "$PKI/crl/inter.crl.der" "$T/flip.der"
	openssl crl -inform DER -in "$T/flip.der" -out "$T/h1/inter.crl.pem" 2>/dev/null ||
	    fail "cannot re-encode the flipped CRL"
	bad_crl mis-signed "signature does not verify" x "$num"
	cp "$PKI/crl/inter.crl.der" "$T/h1/inter.crl.pem"
	bad_crl wrong-type "not a PEM CRL" x "$num"
	cp "$T/old.pem" "$T/h1/inter.crl.pem"
	bad_crl older "older than the CRL in use" x "$num"
	# Still refused with the CRL kept.
	expect_handshake bob refused
	expect_handshake alice ok
}

test_der_source_refuses_pem() {
	crl_env
	http_start "$T/h1" "$H1"
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	type asn1
	url \"http://127.0.0.1:$H1/inter.crl.pem\"
}"
	crl_conf
	crl_start
	wait_crls
	ctl show crl | grep -q "not a DER CRL (type asn1): looks like PEM" ||
	    { ctl show crl; fail "PEM accepted for type asn1"; }
}

test_newly_revoked_refused_open_session_undisturbed() {
	crl_env
	http_start "$T/h1" "$H1"
	default_sources
	crl_conf
	crl_start
	wait_crls
	# A session of carol's, open across the revocation.
	T=$T PORT=$PORT timeout 60 "$PY" -u -c '
import os, socket, ssl, sys, time
T, port = os.environ["T"], int(os.environ["PORT"])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(T + "/pki/chain.pem")
ctx.check_hostname = False
ctx.load_cert_chain(T + "/pki/carol.crt", T + "/pki/carol.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30))
f = s.makefile("rb")
print(f.readline().decode().strip())
s.sendall(b"EHLO x\r\n")
while True:
    l = f.readline().decode()
    if l[3] == " ":
        break
open(T + "/open", "w").close()
while not os.path.exists(T + "/go"):
    time.sleep(0.05)
s.sendall(b"NOOP\r\n")
l = f.readline().decode().strip()
print("after revocation:", l)
sys.exit(0 if l.startswith("250") else 1)
' >"$T/open.out" 2>&1 &
	local pypid=$!
	wait_file "$T/open" 10 || { cat "$T/open.out"; fail "session did not open"; }
	pki_revoke "$PKI" carol >/dev/null
	republish
	ctl crl update | tee "$T/upd.txt"
	grep -q "inter: accepted" "$T/upd.txt" || fail "new CRL not accepted"
	expect_handshake carol refused
	touch "$T/go"
	wait "$pypid" || { cat "$T/open.out"; fail "open session disturbed"; }
	cat "$T/open.out"
	expect_handshake alice ok
}

test_stale_crl_fail_closed_and_fail_open() {
	crl_env
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	url \"file://$PKI/crl/inter-stale.crl.pem\"
}
crl \"root\" {
	ca \"clients\"
	type asn1
	url \"file://$PKI/crl/root.crl.der\"
}"
	crl_conf
	crl_start
	wait_crls
	[ "$(crl_json inter 'c["stale"]')" = True ] || fail "not shown stale"
	expect_handshake alice refused
	grep -Eq "past its nextUpdate of [0-9-]+ [0-9:]+ UTC \(crl inter\); refused \(fail-closed\)" \
	    "$T/smtpcertd.log" || fail "fail-closed not logged"
	# Listed serials still revoke in a stale CRL.
	expect_handshake revoked refused

	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	url \"file://$PKI/crl/inter-stale.crl.pem\"
	stale fail-open
}
crl \"root\" {
	ca \"clients\"
	type asn1
	url \"file://$PKI/crl/root.crl.der\"
}"
	crl_conf
	ctl reload
	sleep 1
	expect_handshake alice ok
	grep -Eq "WARNING: .*past its nextUpdate of [0-9-]+ [0-9:]+ UTC \(crl inter\); ACCEPTED UNCHECKED \(fail-open\)" \
	    "$T/smtpcertd.log" || fail "fail-open not logged loudly"
	expect_handshake revoked refused
}

test_no_crl_for_issuer_fail_closed() {
	crl_env
	# Only the intermediate's CRL: the intermediate certificate itself
	# (issued by the root) has no CRL to be checked against.
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	url \"file://$PKI/crl/inter.crl.pem\"
}"
	crl_conf
	crl_start
	wait_crls
	wait_log "$T/smtpcertd.log" "issuing CA .*Example Test Root CA.* has no CRL" 5 ||
	    fail "no warning for the root without a CRL"
	expect_handshake alice refused
	grep -q "intermediate CA certificate serial .*no CRL for its issuer; refused" \
	    "$T/smtpcertd.log" || fail "reason not logged"
}

test_intermediate_revoked() {
	crl_env
	default_sources
	http_start "$T/h1" "$H1"
	crl_conf
	crl_start
	wait_crls
	expect_handshake alice ok
	# The root revokes the intermediate.
	openssl ca -batch -config "$PKI/db/ca/ca.cnf" -revoke "$PKI/inter.pem" \
	    -crl_reason cACompromise >/dev/null 2>&1 || fail "revoke inter"
	openssl ca -batch -gencrl -config "$PKI/db/ca/ca.cnf" -out "$T/root.pem" 2>/dev/null
	openssl crl -in "$T/root.pem" -outform DER -out "$PKI/crl/root.crl.der"
	ctl crl update root | tee "$T/upd.txt"
	grep -q "root: accepted" "$T/upd.txt" || fail "root CRL not accepted"
	expect_handshake alice refused
	grep -q "intermediate CA certificate revoked: serial $(pki_serial "$PKI" inter) .*reason cACompromise (crl root)" \
	    "$T/smtpcertd.log" || fail "intermediate revocation not logged"
	# Also when the client sends the intermediate itself.
	[ "$(handshake alice -cert_chain "$PKI/inter.pem")" = refused ] ||
	    fail "chain with intermediate accepted"
}

test_certificate_hold() {
	crl_env
	default_sources
	http_start "$T/h1" "$H1"
	crl_conf
	crl_start
	wait_crls
	pki_revoke "$PKI" dave certificateHold >/dev/null
	republish
	ctl crl update inter >/dev/null
	expect_handshake dave refused
	grep -q "certificate revoked: serial $(pki_serial "$PKI" dave) .*reason certificateHold" \
	    "$T/smtpcertd.log" || fail "hold not logged"
}

test_crl_signed_by_separate_crl_signer() {
	crl_env
	cat "$PKI/chain.pem" "$PKI/crlsign.crt" >"$T/with-signer.pem"
	CA_FILE=$T/with-signer.pem
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	url \"file://$PKI/crl/inter-crlsign.crl.pem\"
}
crl \"root\" {
	ca \"clients\"
	type asn1
	url \"file://$PKI/crl/root.crl.der\"
}"
	crl_conf
	crl_start
	wait_crls
	ctl show crl | tee "$T/show.txt"
	grep -q "accepted from file://$PKI/crl/inter-crlsign.crl.pem: 1 entries" \
	    "$T/show.txt" || fail "crlsign CRL not accepted"
	expect_handshake revoked refused
	expect_handshake alice ok
	# Without the signer's certificate the same CRL cannot verify.
	CA_FILE=$PKI/chain.pem
	crl_conf
	ctl reload
	sleep 1
	wait_crls
	ctl show crl | grep -q "rejected: signature does not verify" ||
	    { ctl show crl; fail "crlsign CRL accepted without its signer"; }
}

test_real_clients_swaks_curl() {
	crl_env
	default_sources
	http_start "$T/h1" "$H1"
	crl_conf
	crl_start
	wait_crls
	timeout 20 swaks --server "127.0.0.1:$PORT" --tls-on-connect --quit-after EHLO \
	    --tls-cert "$PKI/revoked.crt" --tls-key "$PKI/revoked.key" >"$T/swaks1" 2>&1 || :
	cat "$T/swaks1"
	grep -q "554 5.7.1 Client certificate refused: certificate revoked" "$T/swaks1" ||
	    fail "swaks: revoked not refused with 554"
	timeout 20 swaks --server "127.0.0.1:$PORT" --tls-on-connect --quit-after EHLO \
	    --tls-cert "$PKI/alice.crt" --tls-key "$PKI/alice.key" >"$T/swaks2" 2>&1 || :
	grep -q "^<~  250 " "$T/swaks2" || { cat "$T/swaks2"; fail "swaks: alice refused"; }
	# curl: an SMTPS session with a revoked certificate fails, with a
	# good one it gets through to the (absent) upstream.
	timeout 20 curl -sv --cacert "$PKI/chain.pem" --cert "$PKI/revoked.crt" \
	    --key "$PKI/revoked.key" "smtps://localhost:$PORT" -X NOOP \
	    >"$T/curl1" 2>&1 && fail "curl with a revoked certificate succeeded"
	grep -q "554 5.7.1 Client certificate refused" "$T/curl1" ||
	    { cat "$T/curl1"; fail "curl: no 554"; }
	timeout 20 curl -sv --cacert "$PKI/chain.pem" --cert "$PKI/alice.crt" \
	    --key "$PKI/alice.key" "smtps://localhost:$PORT" -X NOOP \
	    >"$T/curl2" 2>&1 || { cat "$T/curl2"; fail "curl with alice failed"; }
}

test_crl_update_unknown_source() {
	crl_env
	default_sources
	http_start "$T/h1" "$H1"
	crl_conf
	crl_start
	if ctl crl update nosuch 2>"$T/err"; then
		fail "unknown source accepted"
	fi
	grep -q 'no crl source "nosuch"' "$T/err" || fail "message: $(cat "$T/err")"
	ctl -j crl update inter | grep -q '"ok":true' || fail "json update"
}

crl_init
run_test test_crl_fetched_and_shown
run_test test_primary_down_secondary_used
run_test test_both_down_cached_crl_kept_across_restart
run_test test_bad_crls_rejected_current_kept
run_test test_der_source_refuses_pem
run_test test_newly_revoked_refused_open_session_undisturbed
run_test test_stale_crl_fail_closed_and_fail_open
run_test test_no_crl_for_issuer_fail_closed
run_test test_intermediate_revoked
run_test test_certificate_hold
run_test test_crl_signed_by_separate_crl_signer
run_test test_real_clients_swaks_curl
run_test test_crl_update_unknown_source
finish
