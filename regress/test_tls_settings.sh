#!/bin/bash
# Issue 14 item 4: TLS settings per listener, relay and proxy back end,
# and the named profile `tls profile strict' (TLS 1.2 and 1.3, AEAD with
# forward secrecy only: no CBC, no RSA key exchange).
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
. "$REGRESS/lib/proxy.sh"
smtp_init || exit 1

# Every TLS 1.2 CBC suite, RSA key exchange included.
CBC='AES128-SHA:AES256-SHA:AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384'
AEAD='ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256'

# shake PORT ARGS...: "ok PROTOCOL CIPHER" or "refused".
shake() {
	local port=$1 out; shift
	out=$(echo QUIT | timeout 20 openssl s_client -connect "127.0.0.1:$port" \
	    -starttls smtp -brief "$@" 2>&1) || true
	if echo "$out" | grep -q "^Protocol version:"; then
		echo "ok $(echo "$out" | sed -n 's/^Protocol version: //p') $(echo "$out" | sed -n 's/^Ciphersuite: //p')"
	else
		echo refused
	fi
}

expect_shake() {
	local want=$1 port=$2 got; shift 2
	got=$(shake "$port" "$@")
	echo "shake $* -> $got"
	case "$got" in $want) ;; *) fail "handshake $*: $got, want $want";; esac
}

settings_start() {
	smtp_env "$@"
	SMTP_POLICY="tls preferred" SMTP_PROFILE=none SMTP_NO_SMTPS=1 smtp_start
	wait_port "$SUB_PORT" 10 || fail "no listener"
}

test_default_listener_keeps_todays_suites() {
	settings_start
	expect_shake "ok TLSv1.3 *" "$SUB_PORT" -tls1_3
	expect_shake "ok TLSv1.2 *" "$SUB_PORT" -tls1_2
	# CBC is what a default listener still offers (the reason for
	# `tls profile strict').
	expect_shake "ok TLSv1.2 *" "$SUB_PORT" -tls1_2 -cipher "$CBC"
}

test_strict_profile_refuses_cbc() {
	SMTP_LISTEN_OPTS="tls profile strict" settings_start
	expect_shake refused "$SUB_PORT" -tls1_2 -cipher "$CBC"
	expect_shake "ok TLSv1.2 *GCM*" "$SUB_PORT" -tls1_2 -cipher "$AEAD"
	expect_shake "ok TLSv1.3 *" "$SUB_PORT" -tls1_3
	# No RSA key exchange either.
	expect_shake refused "$SUB_PORT" -tls1_2 -cipher "AES128-GCM-SHA256:AES256-GCM-SHA384"
	"$SMTPCERTD" -nv -f "$T/smtpcertd.conf" 2>/dev/null | grep -q " tls profile strict" ||
	    fail "profile not printed"
}

# Global settings are every listener's default; a listener's own win.
test_global_and_listener_protocols() {
	SMTP_GLOBAL='tls profile strict
tls protocols "tlsv1.3"' settings_start
	expect_shake refused "$SUB_PORT" -tls1_2
	expect_shake "ok TLSv1.3 TLS_AES_256_GCM_SHA384" "$SUB_PORT" -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
	SMTP_GLOBAL='tls protocols "tlsv1.3"' \
	    SMTP_LISTEN_OPTS='tls protocols "tlsv1.2" tls ciphersuites "TLS_AES_128_GCM_SHA256"' \
	    SMTP_POLICY="tls preferred" SMTP_PROFILE=none SMTP_NO_SMTPS=1 smtp_conf
	# The listener's own protocols win over the global ones.
	ctl reload >/dev/null || fail "reload"
	sleep 0.5
	expect_shake "ok TLSv1.2 *" "$SUB_PORT" -tls1_2
	expect_shake refused "$SUB_PORT" -tls1_3
	"$SMTPCERTD" -nv -f "$T/smtpcertd.conf" >"$T/pr" 2>&1 || { cat "$T/pr"; fail "-n"; }
	grep -q '^tls protocols "tlsv1.3"$' "$T/pr" || fail "global protocols not printed"
	grep -q 'tls protocols "tlsv1.2" tls ciphersuites "TLS_AES_128_GCM_SHA256"' "$T/pr" ||
	    fail "listener settings not printed"
}

test_listener_ciphersuites_and_groups() {
	SMTP_LISTEN_OPTS='tls ciphersuites "TLS_CHACHA20_POLY1305_SHA256" tls groups "P-384"' settings_start
	expect_shake "ok TLSv1.3 TLS_CHACHA20_POLY1305_SHA256" "$SUB_PORT" -tls1_3
	expect_shake refused "$SUB_PORT" -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
	expect_shake refused "$SUB_PORT" -tls1_3 -groups P-256
	expect_shake "ok TLSv1.3 *" "$SUB_PORT" -tls1_3 -groups P-384
}

# A relay that asks for what the upstream cannot do fails (451, nothing
# delivered); one it can meet delivers.
test_relay_settings() {
	local up="--tls-cert $SMTP_PKI_CACHE/pki/server.chain.pem --tls-key $SMTP_PKI_CACHE/pki/server.key --require-tls --tls-max 1.2"
	# shellcheck disable=SC2086
	smtp_env $up
	SMTP_RELAY_TLS='tls required
	ca "clients"
	tls protocols "tlsv1.3"' SMTP_POLICY="tls preferred" SMTP_PROFILE=none smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("MAIL FROM:<sender@example.test>", 451, "4.4.1")
c.cmd("QUIT", 221)
' "$SUB_PORT" || fail "relay with TLS 1.3 only against a TLS 1.2 upstream"
	up_assert_count 0 0
	grep -q 'upstream-retry .*reason="TLS handshake: .*protocol version' "$T/smtpcertd.log" ||
	    fail "relay failure is not the TLS version"
	kill "$(cat "$T/daemon.pid")"; sleep 0.5
	SMTP_RELAY_TLS='tls required
	ca "clients"
	tls profile strict' SMTP_POLICY="tls preferred" SMTP_PROFILE=none smtp_start
	smtp_swaks "$T/sw" --from sender@example.test --to rcpt@example.test
	grep -q "<- *250 2.0.0 Ok: queued as 1" "$T/sw" || fail "strict relay not delivered"
	up_msg_json 1 'm["tls_version"] == "TLSv1.2" and "GCM" in m["cipher"]' ||
	    fail "relay TLS not AEAD TLS 1.2"
}

# A relay's cipher list is what it offers: against an upstream with only
# CBC suites, `tls profile strict' fails, a list naming one of them
# delivers over it, and so does a relay without settings.
test_relay_ciphers() {
	local up="--tls-cert $SMTP_PKI_CACHE/pki/server.chain.pem --tls-key $SMTP_PKI_CACHE/pki/server.key --require-tls --tls-max 1.2 --tls-ciphers ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA"
	# shellcheck disable=SC2086
	smtp_env $up
	SMTP_RELAY_TLS='tls required
	ca "clients"
	tls profile strict' SMTP_POLICY="tls preferred" SMTP_PROFILE=none smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("MAIL FROM:<sender@example.test>", 451, "4.4.1")
c.cmd("QUIT", 221)
' "$SUB_PORT" || fail "strict relay against a CBC-only upstream"
	up_assert_count 0 0
	grep -q 'upstream-retry .*reason="TLS handshake: ' "$T/smtpcertd.log" ||
	    fail "relay failure is not the TLS handshake"
	kill "$(cat "$T/daemon.pid")"; sleep 0.5
	SMTP_RELAY_TLS='tls required
	ca "clients"
	tls ciphers "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA"' SMTP_POLICY="tls preferred" SMTP_PROFILE=none smtp_start
	smtp_swaks "$T/sw" --from sender@example.test --to rcpt@example.test
	grep -q "<- *250 2.0.0 Ok: queued as 1" "$T/sw" || fail "CBC relay not delivered"
	up_msg_json 1 'm["tls_version"] == "TLSv1.2" and m["cipher"].endswith("AES128-SHA")' ||
	    fail "relay TLS not the CBC suite asked for"
	# A relay without settings offers what it always did (libtls's
	# "HIGH:!aNULL", CBC included).
	kill "$(cat "$T/daemon.pid")"; sleep 0.5
	SMTP_RELAY_TLS='tls required
	ca "clients"' SMTP_POLICY="tls preferred" SMTP_PROFILE=none smtp_start
	smtp_swaks "$T/sw2" --from sender@example.test --to rcpt@example.test
	grep -q "<- *250 2.0.0 Ok: queued as 2" "$T/sw2" || fail "default relay not delivered"
}

# The same for a proxy back end (the smtps proxy listener in front of the
# recording upstream, TLS 1.2 only; regress/lib/proxy.sh without Dovecot).
px_tls_start() {
	DC_IMAP_PORT=$(free_port) DC_IMAPS_PORT=$(free_port) DC_POP3_PORT=$(free_port)
	P_IMAP=$(free_port) P_POP=$(free_port) P_CUID=$(free_port)
	P_CCN=$(free_port) P_CEA=$(free_port) P_CEAO=$(free_port)
	P_CDN=$(free_port) P_MH=$(free_port) P_PIGGY=$(free_port)
	P_NOGP=$(free_port) P_SMTPS=$(free_port)
	P_DEAD=$(free_port) P_MUTE=$(free_port)
	PX_SMTP_SERVER="default server \"127.0.0.1\" port $UP_PORT tls required ca \"clients\" $1" \
	    px_start
}

px_tls_send() {
	timeout 30 swaks --server "127.0.0.1:$P_SMTPS" --tlsc --timeout 15 \
	    --tls-cert "$PKI/alice.crt" --tls-key "$PKI/alice.key" \
	    --from alice@example.test --to bob@example.test >"$1" 2>&1 || :
}

test_proxy_backend_settings() {
	local up="--tls-cert $SMTP_PKI_CACHE/pki/server.chain.pem --tls-key $SMTP_PKI_CACHE/pki/server.key --require-tls --tls-max 1.2"
	# shellcheck disable=SC2086
	smtp_env $up
	px_tls_start 'tls protocols "tlsv1.3"'
	px_tls_send "$T/sw1"
	grep -q '^<~\* *451 ' "$T/sw1" || { cat "$T/sw1"; fail "TLS 1.3 back end against TLS 1.2 not refused"; }
	[ "$(upstream_msg_count "$T/up")" = 0 ] || fail "delivered anyway"
	grep -q 'event=backend .*result=failed reason="mail server: TLS handshake: .*protocol version' "$T/smtpcertd.log" ||
	    fail "back end failure is not the TLS version"
	kill "$(cat "$T/daemon.pid")"; sleep 0.5
	px_tls_start 'tls profile strict'
	px_tls_send "$T/sw2"
	upstream_wait_msg "$T/up" 1 10 || { cat "$T/sw2"; fail "strict back end not delivered"; }
	up_msg_json 1 'm["tls_version"] == "TLSv1.2" and "GCM" in m["cipher"]' ||
	    fail "back end TLS not AEAD TLS 1.2"
}

test_bad_settings_are_config_errors() {
	mkdir -p "$T/c"
	cat >"$T/c/bad.conf" <<'CONF'
hostname "gw.example.com"
tls ciphers "NO-SUCH-CIPHER"
pki "gw" cert "/etc/smtpcertd/gw.crt" key "/etc/smtpcertd/gw.key"
policy "open" {
}
relay "mx" host "10.0.0.25" tls ciphersuites "TLS_AES_128_GCM_SHA256"
listen on 127.0.0.1 pki "gw" policy "open" relay "mx" tls profile paranoid tls protocols "tlsv1.0"
CONF
	if "$SMTPCERTD" -n -f "$T/c/bad.conf" >"$T/c/out" 2>&1; then
		fail "bad settings accepted"
	fi
	cat "$T/c/out"
	grep -q 'bad.conf:2: invalid ciphers "NO-SUCH-CIPHER"' "$T/c/out" || fail "cipher list"
	grep -q 'bad.conf:6: tls ciphersuites can only be set for listeners' "$T/c/out" || fail "relay ciphersuites"
	grep -q 'bad.conf:7: unknown tls profile "paranoid"' "$T/c/out" || fail "profile"
	grep -q 'bad.conf:7: protocols "tlsv1.0": only TLS 1.2 and 1.3' "$T/c/out" || fail "protocols"
}

run_test test_default_listener_keeps_todays_suites
run_test test_strict_profile_refuses_cbc
run_test test_global_and_listener_protocols
run_test test_listener_ciphersuites_and_groups
run_test test_relay_settings
run_test test_relay_ciphers
run_test test_proxy_backend_settings
run_test test_bad_settings_are_config_errors
finish
