#!/bin/bash
# smtpcertctl end to end (issue 7 item 1): every command in text and JSON
# (-j and --json, parsed by Python's json), `show stats' counters moved by
# real sessions (certificate and AUTH logins, relayed messages, refused
# handshakes) against a real slapd and the recording upstream, a partial
# answer when a child does not answer, `session kill' on a held SMTP
# session (idle and in the middle of DATA) and on an IMAP proxy session,
# and the errors a user meets: daemon not running, permission denied.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
. "$REGRESS/lib/dovecot.sh"
. "$REGRESS/lib/proxy.sh"
smtp_init || exit 1

# json_ok FILE [PYTHON-EXPR on d]: FILE is one valid JSON document (and
# the expression holds).
json_ok() {
	$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
if len(sys.argv) > 2 and not eval("(" + sys.argv[2] + ")"):
    print("json check failed: %s\n%s" % (sys.argv[2], json.dumps(d)[:2000]))
    sys.exit(1)
' "$@" || { cat "$1"; fail "$1: not the JSON expected${2:+: $2}"; return 1; }
}

# ctl_fails OUT ARGS...: smtpcertctl exits non-zero; its output in OUT.
ctl_fails() {
	local out=$1; shift
	if "$SMTPCERTCTL" "$@" >"$out" 2>&1; then
		cat "$out"
		fail "smtpcertctl $* succeeded"
		return 1
	fi
	cat "$out"
}

# status_columns_line_up FILE: in each table of `show status', every
# value starts where its heading does and values are apart by a blank
# (a value wider than its column once pushed the rest to the right).
status_columns_line_up() {
	$PY - "$1" <<'PYEOF' || fail "show status columns do not line up"
import re, sys
lines = open(sys.argv[1]).read().split("\n")
ok, tables = True, 0
i = 0
while i < len(lines):
    if lines[i].startswith(("PROCESS ", "LISTENER ")):
        tables += 1
        starts = [m.start() for m in re.finditer(r"\S+", lines[i])]
        i += 1
        while i < len(lines) and lines[i].strip():
            row = lines[i]
            for s in starts[1:]:
                if s >= len(row) or row[s] == " " or row[s - 1] != " ":
                    print("misaligned:", repr(row)); ok = False; break
            i += 1
    else:
        i += 1
sys.exit(0 if ok and tables == 2 else 1)
PYEOF
}

# Every command, in text and in JSON with both spellings of the option.
test_every_command_text_and_json() {
	local port c f; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	for c in status crl sessions stats; do
		f=$T/show-$c
		ctl show "$c" >"$f.txt" || fail "show $c"
		[ -s "$f.txt" ] || fail "show $c printed nothing"
		ctl -j show "$c" >"$f.json" || fail "-j show $c"
		json_ok "$f.json"
		ctl --json show "$c" >"$f.long.json" || fail "--json show $c"
		json_ok "$f.long.json"
		# The option may follow the command too.
		ctl show "$c" --json >"$f.after.json" || fail "show $c --json"
		json_ok "$f.after.json"
	done
	# Four processes and the fronts (one per CPU by default).
	json_ok "$T/show-status.json" 'd["generation"] == 1 and len(d["processes"]) == 4 + d["front_processes"]'
	status_columns_line_up "$T/show-status.txt"
	json_ok "$T/show-crl.json" 'd == {"crls": []}'
	json_ok "$T/show-sessions.json" 'd == {"sessions": []}'
	json_ok "$T/show-stats.json" 'd["partial"] is False and d["missing"] == [] and
	    d["counters"]["control"]["connections"] >= 1 and
	    d["counters"]["tls"]["handshakes"]["failed"]["no-cert"] == 0 and
	    set(d["counters"]) >= {"connections", "tls", "auth", "relay", "ldap", "crl", "ocsp"}'
	grep -q "no crl sources configured" "$T/show-crl.txt" || fail "show crl text"
	grep -Eq '^ID +PROTO +STATE' "$T/show-sessions.txt" || fail "show sessions header"
	grep -Eq '^tls\.handshakes\.failed\.bad-cert +0$' "$T/show-stats.txt" ||
	    fail "show stats text"
	grep -Eq '^auth\.plain\.badcred +0$' "$T/show-stats.txt" || fail "auth row"
	# A blank line between subsystems, none inside one.
	grep -B1 '^tls\.handshakes\.ok' "$T/show-stats.txt" | head -n 1 | grep -qx '' ||
	    fail "no blank line before the tls group"
	grep -B1 '^tls\.handshakes\.failed\.no-cert' "$T/show-stats.txt" | head -n 1 |
	    grep -q '^tls\.handshakes\.ok' || fail "tls group split"
	# The commands that do something: text, then JSON.
	for c in "reload" "log verbose" "log brief" "ldap flush" "crl update"; do
		# shellcheck disable=SC2086
		ctl $c >"$T/out.txt" 2>&1 || { cat "$T/out.txt"; fail "$c"; }
		[ -s "$T/out.txt" ] || fail "$c printed nothing"
		# shellcheck disable=SC2086
		ctl -j $c >"$T/out.json" || fail "-j $c"
		json_ok "$T/out.json" 'd["ok"] is True and d["message"] != ""'
	done
	# A command the daemon refuses: FAIL in both forms, exit 1.
	ctl_fails "$T/kill.txt" -s "$T/ctl.sock" session kill 123456789abc
	grep -q "no such session: 123456789abc" "$T/kill.txt" || fail "kill text"
	if ctl -j session kill 123456789abc >"$T/kill.json"; then
		fail "kill of nothing succeeded"
	fi
	json_ok "$T/kill.json" 'd["ok"] is False and "no such session" in d["message"]'
}

# The seed's certificate-only configuration: two alice sessions with
# messages (certificate/ok, relayed, the second lookup from ldapd-helper's
# cache), then a handshake without a certificate, one with an expired
# certificate and plaintext on the TLS port, each counted by its reason.
test_stats_certificate_sessions_and_handshake_failures() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_CERT_ONLY SMTP_PROFILE=cert-only smtp_start
	smtp_swaks "$T/sw1" --tls $(swaks_cert alice) \
	    --from alice@example.test --to bob@example.test
	swaks_delivered "$T/sw1"
	smtp_swaks "$T/sw2" --server "127.0.0.1:$SMTPS_PORT" --tlsc \
	    $(swaks_cert alice) --from alice@example.test --to bob@example.test
	swaks_delivered "$T/sw2"
	counter_is auth.certificate.ok 2
	counter_is relay.messages.accepted 2
	counter_is relay.upstream.connections 2
	counter_is tls.handshakes.ok 2
	counter_is ldap.lookups.certificate 2
	counter_is ldap.results.ok 2
	counter_is ldap.cache.misses 1
	counter_is ldap.cache.hits 1
	counter_is ldap.cache.entries 1
	counter_is auth.certificate.badcred 0
	smtp_swaks "$T/sw3" --tls --from alice@example.test --to bob@example.test
	swaks_handshake_refused "$T/sw3"
	counter_is tls.handshakes.failed.no-cert 1
	smtp_swaks "$T/sw4" --tls $(swaks_cert expired) \
	    --from expired@example.test --to bob@example.test
	swaks_handshake_refused "$T/sw4"
	counter_is tls.handshakes.failed.bad-cert 1
	# An SMTP client on the implicit-TLS port.
	$PY - "$SMTPS_PORT" <<'EOF' || fail "plaintext client"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"EHLO plain.example.test\r\n" * 20)
try:
    while s.recv(4096):
        pass
except ConnectionResetError:
    pass
EOF
	counter_is tls.handshakes.failed.protocol 1
	counter_is connections.smtp 3
	counter_is connections.smtps 2
	counter_is tls.handshakes.ok 2
	counter_is relay.messages.accepted 2
	up_assert_count 2
}

# The mixed configuration's SMTP AUTH fallback: a good PLAIN login and its
# message, a wrong LOGIN password (badcred), a user the allowance refuses
# (refused), and AUTH EXTERNAL with a mapped certificate.
test_stats_smtp_auth_results() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac smtp_start
	smtp_swaks "$T/sw-ok" --tls --auth PLAIN --auth-user bob \
	    --auth-password bobpw --from bob@example.test --to bob@example.test
	swaks_delivered "$T/sw-ok"
	counter_is auth.plain.ok 1
	counter_is relay.messages.accepted 1
	smtp_swaks "$T/sw-bad" --tls --auth LOGIN --auth-user bob \
	    --auth-password wrong --from bob@example.test --to bob@example.test
	grep -q '535 5\.7\.8' "$T/sw-bad" || fail "no 535 for a wrong password"
	counter_is auth.login.badcred 1
	counter_is ldap.results.badcred 1
	# erin's emergency window is over: the allowance says no (525).
	smtp_swaks "$T/sw-erin" --tls --auth PLAIN --auth-user erin \
	    --auth-password erinpw --from erin@example.test --to bob@example.test
	grep -q '^<~\* *525' "$T/sw-erin" || fail "no 525 for erin"
	counter_is auth.plain.refused 1
	counter_is ldap.results.disallowed 1
	counter_is ldap.lookups.smtp-auth 3
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.cmd("STARTTLS", 220)
c.starttls(cert="alice")
c.ehlo()
c.cmd("AUTH EXTERNAL =", 235)
c.cmd("QUIT", 221)
' "$SUB_PORT" >"$T/ext.out" || { cat "$T/ext.out"; fail "AUTH EXTERNAL"; }
	counter_is auth.external.ok 1
	counter_is auth.certificate.ok 1
	counter_is auth.plain.ok 1
	counter_is auth.plain.badcred 0
	counter_is auth.login.ok 0
	up_assert_count 1
}

# A held SMTP session is listed by `show sessions' and closed by `session
# kill' with a 421 and its end logged; one killed in the middle of DATA
# loses its upstream transaction, so the upstream keeps nothing.
test_session_kill_smtp_idle_and_in_data() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac smtp_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
open(T + "/idle.ready", "w").close()
c.expect(421, "administrator")
assert c.closed(), "still open after the 421"
print("idle: closed")
' "$SUB_PORT" >"$T/idle.out" 2>&1 &
	local idle=$!
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.cmd("STARTTLS", 220)
c.starttls(cert="alice")
c.ehlo()
c.cmd("MAIL FROM:<alice@example.test>", 250)
c.cmd("RCPT TO:<bob@example.test>", 250)
c.cmd("DATA", 354)
c.send(b"Subject: never\r\n\r\nhalf a message\r\n")
open(T + "/data.ready", "w").close()
c.expect(421, "administrator")
assert c.closed(), "still open after the 421"
print("data: closed")
' "$SUB_PORT" >"$T/data.out" 2>&1 &
	local data=$!
	wait_file "$T/idle.ready" 20 && wait_file "$T/data.ready" 20 ||
	    { cat "$T/idle.out" "$T/data.out"; fail "clients not ready"; }
	ctl show sessions | tee "$T/sess.txt"
	ctl -j show sessions >"$T/sess.json"
	json_ok "$T/sess.json" 'len(d["sessions"]) == 2'
	local ids
	ids=$($PY -c '
import json, sys
rows = json.load(open(sys.argv[1]))["sessions"]
idle = [r for r in rows if r["state"] == "command" and r["user"] == ""]
data = [r for r in rows if r["state"] == "data" and r["user"] == "alice"]
assert len(idle) == 1 and len(data) == 1, rows
assert data[0]["protocol"] == "smtp" and data[0]["client"] == "127.0.0.1", data
assert data[0]["backend"] != "", data
print(idle[0]["id"], data[0]["id"])
' "$T/sess.json") || fail "sessions not as expected"
	set -- $ids
	grep -Eq "^$1 +smtp +command " "$T/sess.txt" || fail "idle row"
	grep -Eq "^$2 +smtp +data +alice " "$T/sess.txt" || fail "data row"
	ctl session kill "$1" | grep -qx "session $1 killed" || fail "kill idle"
	ctl -j session kill "$2" >"$T/kill.json" || fail "kill data"
	json_ok "$T/kill.json" 'd["ok"] is True'
	wait "$idle" || { cat "$T/idle.out"; fail "idle client"; }
	wait "$data" || { cat "$T/data.out"; fail "data client"; }
	log_count_is "session=$1 .*event=end .*result=\"killed by smtpcertctl\"" 1 ||
	    fail "idle kill not logged"
	log_count_is "session=$2 .*event=end .*result=\"killed by smtpcertctl\"" 1 ||
	    fail "data kill not logged"
	grep -q "session kill $1 requested by control client (uid 0)" "$T/smtpcertd.log" ||
	    fail "request not logged"
	up_assert_count 0 1
	counter_is connections.killed 2
	ctl_fails "$T/again.txt" -s "$T/ctl.sock" session kill "$1"
	grep -q "no such session" "$T/again.txt" || fail "second kill"
	ctl -j show sessions >"$T/sess2.json"
	json_ok "$T/sess2.json" 'd == {"sessions": []}'
}

# An IMAP proxy session (aaa login, relaying to Dovecot) killed: the
# client's connection ends, the end and the accounting stop are logged.
test_session_kill_proxy() {
	px_env
	px_start
	px_py '
m = imap(int(sys.argv[1])); m.login("bob", "bobpw"); m.select("INBOX")
open(sys.argv[2], "w").close()
t = time.time() + 20
while time.time() < t:
    try:
        m.noop()
    except Exception as e:
        print("closed:", e)
        sys.exit(0)
    time.sleep(0.2)
sys.exit("still open")
' "$P_IMAP" "$T/px.ready" >"$T/px.out" 2>&1 &
	local client=$!
	wait_file "$T/px.ready" 20 || { cat "$T/px.out"; fail "proxy client not ready"; }
	ctl -j show sessions >"$T/sess.json"
	local id
	id=$($PY -c '
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))["sessions"] if r["user"] == "bob"]
assert len(rows) == 1 and rows[0]["protocol"] == "imap" and rows[0]["state"] == "relaying", rows
print(rows[0]["id"])
' "$T/sess.json") || { cat "$T/sess.json"; fail "no proxy session row"; }
	ctl session kill "$id" | grep -qx "session $id killed" || fail "kill proxy"
	wait "$client" || { cat "$T/px.out"; fail "proxy client not closed"; }
	log_count_is "killed by smtpcertctl" 2 || fail "proxy kill not logged (end and accounting)"
	counter_is connections.killed 1
	counter_is auth.aaa.ok 1
	counter_is proxy.backend.logins 1
	counter_is connections.proxy-imap4s 1
}

# A child that does not answer makes `show stats' partial, and says so,
# instead of hanging; one that dies while asked is not waited for.
test_stats_partial_when_a_child_does_not_answer() {
	local port crld; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	crld=$(child_pid crld)
	[ -n "$crld" ] && [ "$crld" != - ] || fail "no crld"
	kill -STOP "$crld"
	ctl show stats >"$T/partial.txt" || { kill -CONT "$crld"; fail "show stats"; }
	ctl -j show stats >"$T/partial.json" || { kill -CONT "$crld"; fail "-j show stats"; }
	kill -CONT "$crld"
	cat "$T/partial.txt"
	grep -qx "partial: no counters from crld (no answer in time)" "$T/partial.txt" ||
	    fail "partial not said"
	! grep -q '^crl\.' "$T/partial.txt" || fail "crld counters shown"
	grep -q '^tls\.handshakes\.ok' "$T/partial.txt" || fail "front counters missing"
	json_ok "$T/partial.json" 'd["partial"] is True and
	    d["missing"] == [{"process": "crld", "reason": "no answer in time"}] and
	    "crl" not in d["counters"] and "ocsp" not in d["counters"] and
	    "ldap" in d["counters"] and "tls" in d["counters"]'
	grep -q "show stats: no answer from crld" "$T/smtpcertd.log" || fail "not logged"
	ctl -j show stats >"$T/full.json"
	json_ok "$T/full.json" 'd["partial"] is False and "crl" in d["counters"]'
	# Stopped, asked, then killed: the answer comes without crld.
	kill -STOP "$crld"
	ctl -j show stats >"$T/died.json" &
	local asker=$!
	sleep 1
	kill -KILL "$crld"
	wait "$asker" || fail "show stats failed while crld died"
	json_ok "$T/died.json" 'd["partial"] is True and d["missing"][0]["process"] == "crld" and
	    d["missing"][0]["reason"] in ("exited before answering", "not running", "no answer in time")'
	# Restarted, it answers again (from zero).
	local i=0
	while [ $i -lt 100 ]; do
		ctl -j show stats >"$T/back.json" && $PY -c '
import json, sys
sys.exit(json.load(open(sys.argv[1]))["partial"])' "$T/back.json" && break
		sleep 0.1; i=$((i + 1))
	done
	json_ok "$T/back.json" 'd["partial"] is False and d["counters"]["crl"]["fetches"]["ok"] == 0'
}

# What a user meets when the daemon is not there or they may not use it:
# a sentence saying so, and exit status 1.
test_errors_not_running_and_permission_denied() {
	ctl_fails "$T/none.txt" -s "$T/none.sock" show status
	grep -q "smtpcertd is not running: no control socket $T/none.sock" "$T/none.txt" ||
	    fail "missing socket message"
	$PY -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
	    "$T/stale.sock"
	ctl_fails "$T/stale.txt" -s "$T/stale.sock" show stats
	grep -q "smtpcertd is not running: nothing listens on $T/stale.sock" "$T/stale.txt" ||
	    fail "stale socket message"
	ctl_fails "$T/dir.txt" -s "$T/nodir/ctl.sock" show stats
	grep -q "not running" "$T/dir.txt" || fail "missing directory message"
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	# The socket's mode keeps others out ...
	if setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$SMTPCERTCTL" -s "$T/ctl.sock" show stats >"$T/perm.txt" 2>&1; then
		fail "nobody got in"
	fi
	cat "$T/perm.txt"
	grep -q "permission denied on $T/ctl.sock: run smtpcertctl as root or as a member" \
	    "$T/perm.txt" || fail "permission message"
	# ... and the daemon checks again: with the mode opened up by hand,
	# it refuses and says why.
	chmod 0666 "$T/ctl.sock"
	if setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$SMTPCERTCTL" -s "$T/ctl.sock" -j show stats >"$T/perm2.txt" 2>&1; then
		fail "nobody got in past the daemon"
	fi
	cat "$T/perm2.txt"
	grep -q "permission denied: only root and members of the control group" \
	    "$T/perm2.txt" || fail "daemon refusal message"
	grep -q "control: refused connection from uid $(id -u nobody)" "$T/smtpcertd.log" ||
	    fail "refusal not logged"
	counter_is control.refused 1
	# Command line mistakes.
	ctl_fails "$T/u1.txt" -s "$T/ctl.sock" session kill
	grep -q "missing argument" "$T/u1.txt" || fail "no id"
	ctl_fails "$T/u2.txt" -s "$T/ctl.sock" session kill 12x4
	grep -q 'invalid session id "12x4"' "$T/u2.txt" || fail "bad id"
	ctl_fails "$T/u3.txt" -s "$T/ctl.sock" session kill 1 2
	grep -q "superfluous argument: 2" "$T/u3.txt" || fail "two ids"
	ctl_fails "$T/u4.txt" -s "$T/ctl.sock" show nonsense
	grep -q "unknown argument: nonsense" "$T/u4.txt" || fail "unknown show"
	ctl_fails "$T/u5.txt" -s "$T/ctl.sock" s
	grep -q "ambiguous argument: s" "$T/u5.txt" || fail "ambiguous"
	# The environment names the socket too.
	SMTPCERTD_SOCKET="$T/ctl.sock" "$SMTPCERTCTL" show stats >/dev/null ||
	    fail "SMTPCERTD_SOCKET"
}

run_test test_every_command_text_and_json
run_test test_stats_certificate_sessions_and_handshake_failures
run_test test_stats_smtp_auth_results
run_test test_session_kill_smtp_idle_and_in_data
run_test test_session_kill_proxy
run_test test_stats_partial_when_a_child_does_not_answer
run_test test_errors_not_running_and_permission_denied
finish
