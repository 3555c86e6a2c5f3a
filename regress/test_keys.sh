#!/bin/bash
# Issue 14 item 1: the listeners' private keys live in the keys process.
# The front holds certificates only and asks for each handshake's
# signature; other sessions go on while it waits; a dying keys process
# fails only the handshakes in flight and is restarted; reloads that
# change keys work.  RSA (PKCS#1 in TLS 1.2, PSS in TLS 1.3) and ECDSA.
. "$(dirname "$0")/lib.sh"

# keys_conf: an RSA and an EC listener (STARTTLS), ports in $T/rsa.port
# and $T/ec.port.
keys_conf() {
	local rp ep
	rp=$(free_port); ep=$(free_port)
	echo "$rp" >"$T/rsa.port"; echo "$ep" >"$T/ec.port"
	mkdir -p "$T/empty" "$T/k"
	if [ ! -f "$T/k/rsa.key" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		    -days 2 -keyout "$T/k/rsa.key" -out "$T/k/rsa.crt" 2>/dev/null
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -subj "/CN=localhost" -days 2 \
		    -keyout "$T/k/ec.key" -out "$T/k/ec.crt" 2>/dev/null
		chmod 600 "$T/k/rsa.key" "$T/k/ec.key"
	fi
	cat >"$T/smtpcertd.conf" <<CONF
user "_smtpcertd"
chroot "$T/empty"
control socket "$T/ctl.sock"
crl cache "$T/crlcache"
pki "rsa" cert "$T/k/rsa.crt" key "$T/k/rsa.key"
pki "ec" cert "$T/k/ec.crt" key "$T/k/ec.key"
relay "mx" host "127.0.0.1" port 2525
policy "p" {
	tls preferred
}
listen on 127.0.0.1 port $rp starttls pki "rsa" policy "p" relay "mx"
listen on 127.0.0.1 port $ep starttls pki "ec" policy "p" relay "mx"
CONF
}

# shake PORT [openssl s_client args]: one STARTTLS handshake; the
# protocol and cipher on success.
shake() {
	local port=$1; shift
	echo QUIT | timeout 20 openssl s_client -connect "127.0.0.1:$port" \
	    -starttls smtp -brief "$@" 2>&1
}

test_handshakes_rsa_and_ecdsa_tls12_and_13() {
	keys_conf
	start_daemon "$T/smtpcertd.conf"
	wait_port "$(cat "$T/rsa.port")" 5 || fail "no listener"
	local out port
	for port in "$(cat "$T/rsa.port")" "$(cat "$T/ec.port")"; do
		out=$(shake "$port" -tls1_3) || true
		echo "$out" | grep -q "Protocol version: TLSv1.3" ||
		    { echo "$out"; fail "TLS 1.3 on $port"; return 1; }
		out=$(shake "$port" -tls1_2) || true
		echo "$out" | grep -q "Protocol version: TLSv1.2" ||
		    { echo "$out"; fail "TLS 1.2 on $port"; return 1; }
	done
	# RSA in both paddings: PSS (TLS 1.3, and TLS 1.2 when asked), and
	# PKCS#1 v1.5 in TLS 1.2.
	out=$(shake "$(cat "$T/rsa.port")" -tls1_2 -sigalgs RSA+SHA256) || true
	echo "$out" | grep -q "Signature type: RSA$" ||
	    { echo "$out"; fail "RSA PKCS#1 signature"; return 1; }
	out=$(shake "$(cat "$T/rsa.port")" -tls1_3) || true
	echo "$out" | grep -q "Signature type: RSA-PSS" ||
	    { echo "$out"; fail "RSA-PSS signature"; return 1; }
	out=$(shake "$(cat "$T/ec.port")" -tls1_2) || true
	echo "$out" | grep -q "Signature type: ECDSA" ||
	    { echo "$out"; fail "ECDSA signature"; return 1; }
	ctl show stats | grep -E "keys.operations.requested +[1-9]" ||
	    fail "no key operations counted"
}

# The front's memory holds none of either key, after handshakes with
# both; the keys process holds both (the search itself works).
test_front_memory_has_no_private_key() {
	keys_conf
	start_daemon "$T/smtpcertd.conf"
	wait_port "$(cat "$T/rsa.port")" 5 || fail "no listener"
	local i
	for i in 1 2 3; do
		shake "$(cat "$T/rsa.port")" >/dev/null
		shake "$(cat "$T/ec.port")" >/dev/null
	done
	local front keys k
	keys=$(child_pid keys)
	for k in rsa ec; do
	    # Every front (one per CPU by default), whichever did handshakes.
	    for front in $(child_pid front); do
		$PY "$TOP/regress/lib/keyscan.py" "$front" "$T/k/$k.key" >"$T/front.$k" ||
		    { fail "scan of the front failed"; return 1; }
		cat "$T/front.$k"
		grep -qx "hits 0" "$T/front.$k" || fail "$k key material in front $front"
	    done
		$PY "$TOP/regress/lib/keyscan.py" "$keys" "$T/k/$k.key" >"$T/keys.$k" ||
		    { fail "scan of the keys process failed"; return 1; }
		cat "$T/keys.$k"
		# (A sanitizer build keeps its heap in mappings too big to
		# read: there the positive check cannot be made.)
		grep -q "^skipped" "$T/keys.$k" || ! grep -qx "hits 0" "$T/keys.$k" ||
		    fail "$k key not found in the keys process"
	done
}

# While the keys process is stopped, handshakes wait but an established
# session is answered; when it resumes, every waiting handshake ends.
test_pending_signatures_do_not_stall_other_sessions() {
	keys_conf
	start_daemon "$T/smtpcertd.conf"
	wait_port "$(cat "$T/ec.port")" 5 || fail "no listener"
	local keys; keys=$(child_pid keys)
	$PY - "$(cat "$T/ec.port")" "$keys" <<'PY' || fail "sessions stalled"
import os, signal, smtplib, ssl, sys, threading, time
port, keys = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
a = smtplib.SMTP("127.0.0.1", port, timeout=10)
a.ehlo()
a.starttls(context=ctx)
a.ehlo()
os.kill(keys, signal.SIGSTOP)
results = []
def shake():
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        s.ehlo()
        s.starttls(context=ctx)
        code = s.noop()[0]
        s.quit()
        results.append(code)
    except Exception as e:
        results.append(repr(e))
threads = [threading.Thread(target=shake) for _ in range(20)]
for t in threads:
    t.start()
time.sleep(1.5)
assert not results, "handshakes finished with the keys process stopped: %r" % results
# The established TLS session is served meanwhile (10 s socket timeout).
for _ in range(5):
    assert a.noop()[0] == 250
# So is a new plaintext session.
b = smtplib.SMTP("127.0.0.1", port, timeout=10)
assert b.ehlo()[0] == 250
b.quit()
os.kill(keys, signal.SIGCONT)
for t in threads:
    t.join(40)
a.quit()
print("results", results)
assert results == [250] * 20, results
PY
}

# A keys process killed while handshakes wait: those fail cleanly, the
# front lives on, the parent restarts the keys process, handshakes work.
test_keys_process_death_fails_pending_handshakes_only() {
	keys_conf
	start_daemon "$T/smtpcertd.conf"
	local port; port=$(cat "$T/rsa.port")
	wait_port "$port" 5 || fail "no listener"
	local front keys new i
	front=$(child_pid front); keys=$(child_pid keys)
	kill -STOP "$keys"
	shake "$port" >"$T/pending.out" &
	local spid=$!
	sleep 1
	kill -KILL "$keys"
	wait "$spid" || true
	cat "$T/pending.out"
	! grep -q "Protocol version" "$T/pending.out" || fail "handshake succeeded without a key"
	wait_log "$T/smtpcertd.log" "private-key operation failed: keys process" 10 ||
	    fail "no log line for the failed operation"
	i=0
	while [ $i -lt 50 ]; do
		new=$(child_pid keys)
		[ -n "$new" ] && [ "$new" != "-" ] && [ "$new" != "$keys" ] &&
		    ctl show status | awk '$1=="keys"{print $3}' | grep -qx running && break
		sleep 0.1; i=$((i + 1))
	done
	[ $i -lt 50 ] || fail "keys process not restarted"
	[ "$(child_pid front)" = "$front" ] || fail "front restarted"
	i=0
	until shake "$port" | grep -q "Protocol version"; do
		i=$((i + 1)); [ $i -lt 20 ] || { fail "no handshake after restart"; return 1; }
		sleep 0.2
	done
}

# A reload that changes the key pair: new handshakes use the new pair.
test_reload_with_new_key() {
	keys_conf
	start_daemon "$T/smtpcertd.conf"
	local port; port=$(cat "$T/rsa.port")
	wait_port "$port" 5 || fail "no listener"
	local old new
	old=$(openssl x509 -noout -fingerprint -in "$T/k/rsa.crt")
	openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=localhost" -days 2 \
	    -keyout "$T/k/rsa.key" -out "$T/k/rsa.crt" 2>/dev/null
	ctl reload >/dev/null || fail "reload"
	sleep 0.5
	new=$(echo QUIT | timeout 20 openssl s_client -connect "127.0.0.1:$port" \
	    -starttls smtp 2>/dev/null | openssl x509 -noout -fingerprint) || true
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "still the old certificate ($old / $new)"
	shake "$port" | grep -q "Protocol version: TLSv1.3" || fail "handshake with the new key"
}

run_test test_handshakes_rsa_and_ecdsa_tls12_and_13
run_test test_front_memory_has_no_private_key
run_test test_pending_signatures_do_not_stall_other_sessions
run_test test_keys_process_death_fails_pending_handshakes_only
run_test test_reload_with_new_key
finish
