#!/bin/bash
# Issue 14 item 2: TLS session resumption on the listeners.  A resumed
# session (TLS 1.3 ticket, TLS 1.2 ticket or session ID) keeps the
# client certificate's identity; the certificate is checked again at
# every resumption, so one revoked since is refused; a reload that
# changes what the listener trusts ends resumption; `tls session-cache 0'
# turns it off.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

# resume_conf [global lines]: certificate-only submission (tls required,
# verify, require smtp-auth) with the intermediate's and the root's CRLs
# from files, relaying to the recording upstream.
resume_conf() {
	cat >"$T/smtpcertd.conf" <<CONF
user "_smtpcertd"
chroot "$T/empty"
control socket "$T/ctl.sock"
crl cache "$T/crlcache"
hostname "gw.example.test"
# One front unless said: the TLS 1.2 session-ID cache is each front's
# own, and a resumption by ID landing on another front would be a full
# handshake (tickets work on every front: test_ticket_resumes_on_every_front).
front processes ${RESUME_FRONTS:-1}
${1:-}
pki "gw" cert "$T/pki/server.chain.pem" key "$T/pki/server.key"
ca "clients" file "${RESUME_CA:-$T/pki/chain.pem}" ${RESUME_CAOPTS:-}
crl "inter" {
	ca "clients"
	type pem
	url "file://$T/pki/crl/inter.crl.pem"
	refresh every 1h
}
crl "root" {
	ca "clients"
	type asn1
	url "file://$T/pki/crl/root.crl.der"
}
ldap "corp" {
	server "ldap://127.0.0.1:$LDAP_PORT"
	bind dn "$SLAPD_GWDN" password-file "$T/ldap.pw"
	base "$SLAPD_PEOPLE"
	certificate query "cac" {
		filter "(&(objectClass=cacUser)(caccn={cn})(cacserial={sn}))"
		user-attribute "uid"
	}
}
auth-profile "cac" certificate ldap "corp" query "cac"
policy "CAC" {
	tls required
	verify client-certificate
	require smtp-auth
}
relay "mx" host "127.0.0.1" port $UP_PORT tls none
listen on 127.0.0.1 port $SUB_PORT starttls pki "gw" ca "clients" \\
	auth-profile "cac" policy "CAC" relay "mx" ${RESUME_LISTENOPTS:-}
CONF
}

resume_start() {
	smtp_env
	resume_conf "$@"
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/n.out" 2>&1 ||
	    { cat "$T/n.out"; fail "config refused"; return 1; }
	start_daemon "$T/smtpcertd.conf" || return 1
	wait_port "$SUB_PORT" 10 || fail "no listener"
	wait_log "$T/smtpcertd.log" "revocation set [0-9]+ in use: 2 CRLs" 20 ||
	    fail "CRLs not in use"
}

# sclient OUT SESSION-ARGS...: one STARTTLS session with alice's
# certificate that sends a message; s_client's whole output in OUT.
sclient() {
	local out=$1; shift
	printf 'EHLO client.example.test\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: resumed\r\n\r\nhello\r\n.\r\nQUIT\r\n' |
	    sleep_then_cat 1 |
	    timeout 20 openssl s_client -connect "127.0.0.1:$SUB_PORT" \
	    -starttls smtp -cert "$T/pki/alice.crt" -key "$T/pki/alice.key" \
	    -CAfile "$T/pki/chain.pem" -ign_eof "$@" >"$out" 2>&1 || true
}
sleep_then_cat() { sleep "$1"; cat; }

test_resumed_session_keeps_the_user() {
	resume_start
	local v n=0
	for v in -tls1_3 -tls1_2; do
		sclient "$T/first$v" $v -sess_out "$T/sess$v"
		grep -q "^New, TLSv1" "$T/first$v" || { cat "$T/first$v"; fail "$v: first not New"; return 1; }
		grep -q "^250 2.0.0 Ok: queued" "$T/first$v" || { cat "$T/first$v"; fail "$v: first not delivered"; return 1; }
		n=$((n + 1))
		sclient "$T/second$v" $v -sess_in "$T/sess$v"
		grep -q "^Reused, TLSv1" "$T/second$v" || { cat "$T/second$v"; fail "$v: not resumed"; return 1; }
		# MAIL FROM under require smtp-auth: the certificate's user.
		grep -q "^250 2.0.0 Ok: queued" "$T/second$v" || { cat "$T/second$v"; fail "$v: resumed session not delivered"; return 1; }
		n=$((n + 1))
		up_received $n "authenticated as alice by certificate serial $(pki_serial "$T/pki" alice)"
	done
	grep -q "resumed=yes" "$T/smtpcertd.log" || fail "no resumed=yes on the tls line"
	# The resumed sessions' lines name the user and the certificate as
	# the full handshakes' do.
	[ "$(grep -Ec "event=end .* cert=ok cert-subject=\"[^\"]*CN=TESTER\.ALICE[^\"]*\" cert-serial=$(pki_serial "$T/pki" alice) .* user=alice method=certificate messages=1 " "$T/smtpcertd.log")" -eq 4 ] ||
	    { grep "event=end" "$T/smtpcertd.log"; fail "user or certificate not on every end line"; }
	[ "$(grep -Ec "event=tls .* resumed=yes cert=presented" "$T/smtpcertd.log")" -eq 2 ] ||
	    { grep "event=tls" "$T/smtpcertd.log"; fail "resumed tls lines without the certificate"; }
	ctl show stats | grep -E "^tls\.resumptions\.ok +2$" || { ctl show stats | grep resum; fail "resumptions not counted"; }
}

# TLS 1.2 clients without tickets resume by session ID.
test_tls12_session_id() {
	resume_start
	sclient "$T/first" -tls1_2 -no_ticket -sess_out "$T/sess"
	grep -q "^New, TLSv1.2" "$T/first" || { cat "$T/first"; fail "first not New"; return 1; }
	sclient "$T/second" -tls1_2 -no_ticket -sess_in "$T/sess"
	grep -q "^Reused, TLSv1.2" "$T/second" || { cat "$T/second"; fail "not resumed by session ID"; return 1; }
	grep -q "^250 2.0.0 Ok: queued" "$T/second" || fail "resumed session not delivered"
	# A client that just drops the connection keeps its session too.
	echo | timeout 30 openssl s_client -connect "127.0.0.1:$SUB_PORT" \
	    -starttls smtp -cert "$T/pki/alice.crt" -key "$T/pki/alice.key" \
	    -tls1_2 -no_ticket -reconnect >"$T/drop" 2>&1 || true
	[ "$(grep -c "^Reused, TLSv1.2" "$T/drop")" -ge 4 ] ||
	    { grep -E "^(New|Reused)" "$T/drop"; fail "sessions of dropped connections not resumed"; }
}

# Revoked since the first handshake: once crld has the new CRL, the
# resumption is declined and the full handshake refuses the certificate.
test_revoked_certificate_is_not_resumed() {
	resume_start
	local v
	for v in -tls1_3 -tls1_2; do
		sclient "$T/first$v" $v -sess_out "$T/sess$v"
		grep -q "^250 2.0.0 Ok: queued" "$T/first$v" || { cat "$T/first$v"; fail "$v: first not delivered"; return 1; }
	done
	sclient "$T/sid" -tls1_2 -no_ticket -sess_out "$T/sess-sid"
	pki_revoke "$T/pki" alice >/dev/null
	ctl crl update inter | grep -q accepted || fail "new CRL not accepted"
	wait_log "$T/smtpcertd.log" "revocation set 2 in use" 20 || fail "new set not in use"
	for v in -tls1_3 -tls1_2; do
		sclient "$T/again$v" $v -sess_in "$T/sess$v"
		cat "$T/again$v" | grep -E "^(New|Reused)|^5[0-9][0-9] " || true
		! grep -q "^Reused" "$T/again$v" || fail "$v: revoked certificate resumed"
		! grep -q "Ok: queued" "$T/again$v" || fail "$v: revoked certificate delivered"
		grep -q "554 5.7.1 Client certificate refused" "$T/again$v" ||
		    { cat "$T/again$v"; fail "$v: no 554 for the revoked certificate"; }
	done
	sclient "$T/again-sid" -tls1_2 -no_ticket -sess_in "$T/sess-sid"
	! grep -q "^Reused" "$T/again-sid" || fail "session ID of a revoked certificate resumed"
	grep -q "TLS resumption declined for .*alice" "$T/smtpcertd.log" || fail "no log line"
	ctl show stats | grep -E "^tls\.resumptions\.refused +[1-9]" || fail "refusals not counted"
}

# A reload that changes the listener's CA bundle: old sessions are not
# resumed (but the client gets in with a full handshake).
test_reload_changing_ca_ends_resumption() {
	cp "$SMTP_PKI_CACHE/pki/chain.pem" /dev/null
	RESUME_CA="" resume_start
	cp "$T/pki/chain.pem" "$T/bundle.pem"
	RESUME_CA="$T/bundle.pem" resume_conf
	ctl reload >/dev/null || fail "reload"
	sclient "$T/first" -tls1_3 -sess_out "$T/sess"
	sclient "$T/same" -tls1_3 -sess_in "$T/sess"
	grep -q "^Reused" "$T/same" || { cat "$T/same"; fail "not resumed before the change"; return 1; }
	sclient "$T/first2" -tls1_3 -sess_out "$T/sess2"
	cat "$T/pki/other-ca.pem" >>"$T/bundle.pem"
	ctl reload >/dev/null || fail "second reload"
	sleep 0.5
	sclient "$T/after" -tls1_3 -sess_in "$T/sess2"
	grep -q "^New, TLSv1.3" "$T/after" || { cat "$T/after"; fail "resumed across a CA change"; return 1; }
	grep -q "^250 2.0.0 Ok: queued" "$T/after" || fail "full handshake after the change not delivered"
}

# resume_across_reload WHAT EXPECTED: a session from before a reload
# that changed what the listener trusts (set up by the caller in
# between) is not resumed; the full handshake answers EXPECTED.
resume_across_reload() {
	ctl reload >/dev/null || fail "$1: reload"
	sleep 0.5
	local v
	for v in -tls1_3 -tls1_2; do
		sclient "$T/after$v" $v -sess_in "$T/sess$v"
		grep -q "^New, TLSv1" "$T/after$v" || { cat "$T/after$v"; fail "$1: $v resumed across the change"; }
		# (s_client's ticket dump may run into the reply line)
		grep -aq "$2" "$T/after$v" || { grep "^[2-5][0-9][0-9] " "$T/after$v"; fail "$1: $v full handshake after the change: no $2"; }
	done
}
resume_sessions() {
	local v
	for v in -tls1_3 -tls1_2; do
		sclient "$T/first$v" $v -sess_out "$T/sess$v"
		sclient "$T/same$v" $v -sess_in "$T/sess$v"
		grep -q "^Reused" "$T/same$v" || { cat "$T/same$v"; fail "$1: $v not resumed before the change"; return 1; }
	done
}

# The ca's certificate policies decide trust too: alice's path asserts
# none, so once the ca names one her old sessions must not slip past
# the policy check; the full handshake refuses her.
test_reload_changing_cert_policy_ends_resumption() {
	resume_start
	resume_sessions cert-policy || return 1
	RESUME_CAOPTS='cert-policy "1.3.6.1.4.1.55555.1.1"' resume_conf
	resume_across_reload cert-policy \
	    "554 5.7.1 Client certificate refused: certificate policy not acceptable"
	ctl show stats | grep -E "^tls\.resumptions\.refused +0$" ||
	    fail "a context change counted as a certificate refusal"
}

# So do the listener's TLS settings: a TLS 1.2 session keeps its cipher.
test_reload_changing_tls_settings_ends_resumption() {
	resume_start
	resume_sessions ciphers || return 1
	RESUME_LISTENOPTS='tls ciphers "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"' resume_conf
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/n.out" 2>&1 ||
	    { cat "$T/n.out"; fail "listener tls ciphers refused"; return 1; }
	resume_across_reload ciphers "250 2.0.0 Ok: queued"
}

test_session_cache_zero_turns_it_off() {
	smtp_env
	resume_conf "tls session-cache 0"
	start_daemon "$T/smtpcertd.conf" || return 1
	wait_port "$SUB_PORT" 10 || fail "no listener"
	local v
	for v in -tls1_3 -tls1_2; do
		sclient "$T/first$v" $v -sess_out "$T/sess$v"
		grep -q "^250 2.0.0 Ok: queued" "$T/first$v" || { cat "$T/first$v"; fail "$v: not delivered"; }
		# Nothing to resume: s_client saved no session at all, or
		# one the gateway does not take.
		[ -s "$T/sess$v" ] || continue
		sclient "$T/second$v" $v -sess_in "$T/sess$v"
		grep -q "^New" "$T/second$v" || { cat "$T/second$v"; fail "$v: resumed with the cache off"; }
	done
	ctl -j show status >/dev/null
	"$SMTPCERTD" -nv -f "$T/smtpcertd.conf" 2>/dev/null | grep -q "^tls session-cache 0$" ||
	    fail "setting not printed"
}

# Issue 17 with issue 14: with several fronts a client's next connection
# lands on any of them (the kernel spreads them), and the ticket keys are
# the same in every front (derived from the parent's secret), so a ticket
# resumes wherever it lands.  8 resumptions over 3 fronts: with keys of
# each front's own, all 8 would resume only if every one landed on the
# front that issued the ticket.
test_ticket_resumes_on_every_front() {
	RESUME_FRONTS=3 resume_start
	local v i pids
	for v in -tls1_3 -tls1_2; do
		sclient "$T/first$v" $v -sess_out "$T/sess$v"
		grep -q "^New, TLSv1" "$T/first$v" || { cat "$T/first$v"; fail "$v: first not New"; return 1; }
		for i in 1 2 3 4 5 6 7 8; do
			sclient "$T/again$v-$i" $v -sess_in "$T/sess$v"
			grep -q "^Reused, TLSv1" "$T/again$v-$i" ||
			    { grep -E "^(New|Reused)" "$T/again$v-$i"; fail "$v: resumption $i not resumed"; return 1; }
		done
	done
	pids=$(grep -E "event=tls .* resumed=yes" "$T/smtpcertd.log" |
	    sed -n 's/.* front\[\([0-9]*\)\]: .*/\1/p' | sort -u | wc -l)
	echo "resumptions on $pids fronts"
	[ "$(grep -Ec "event=tls .* resumed=yes" "$T/smtpcertd.log")" -eq 16 ] ||
	    fail "not 16 resumed tls lines"
}

run_test test_resumed_session_keeps_the_user
run_test test_ticket_resumes_on_every_front
run_test test_tls12_session_id
run_test test_revoked_certificate_is_not_resumed
run_test test_reload_changing_ca_ends_resumption
run_test test_reload_changing_cert_policy_ends_resumption
run_test test_reload_changing_tls_settings_ends_resumption
run_test test_session_cache_zero_turns_it_off
finish
