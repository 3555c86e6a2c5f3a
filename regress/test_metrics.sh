#!/bin/bash
# Issue 15 items 4 and 9: `show stats --format prometheus' and the
# parent's `metrics listen' HTTP endpoint, both parsed by a strict
# checker of the text format 0.0.4 and by the Prometheus Python client's
# parser (python3-prometheus-client), counters that move after a real
# SMTP session, the HTTP errors and bounds; and the control group, which
# may only show unless `allow changes', tried as a real unprivileged user.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

# prom_check FILE: FILE is a valid exposition (strict line grammar, one
# HELP and TYPE per family before its samples, no family twice, _total
# on counters) that the Prometheus client parses; prints "name{labels}
# value" lines for the caller to grep.
prom_check() {
	$PY - "$1" <<'EOF'
import re, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
assert text.endswith("\n"), "no final newline"
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
lv = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
sample = re.compile(r"^(%s)(\{%s=%s(?:,%s=%s)*\})? (\d+)$" % (name, name, lv, name, lv))
help_re = re.compile(r"^# HELP (%s) (.*)$" % name)
type_re = re.compile(r"^# TYPE (%s) (counter|gauge|untyped)$" % name)
seen, cur, typ, series = set(), None, None, set()
for i, line in enumerate(text.split("\n")[:-1], 1):
    m = help_re.match(line)
    if m:
        assert m.group(1) not in seen, "family twice: line %d" % i
        seen.add(m.group(1)); cur = m.group(1); typ = None
        continue
    m = type_re.match(line)
    if m:
        assert m.group(1) == cur and typ is None, "TYPE out of place: line %d" % i
        typ = m.group(2)
        assert (typ == "counter") == cur.endswith("_total"), "suffix: " + cur
        continue
    m = sample.match(line)
    assert m, "not a sample: line %d: %r" % (i, line)
    assert m.group(1) == cur and typ is not None, "sample outside its family: %d" % i
    key = m.group(1) + (m.group(2) or "")
    assert key not in series, "series twice: " + key
    series.add(key)
n = 0
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        n += 1
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %d" % (s.name, labels, s.value))
assert n == len(series), (n, len(series))
EOF
}

# prom_value FILE SERIES: the value of one series as prom_check prints it.
prom_value() {
	prom_check "$1" | awk -v k="$2" '$1 == k { print $2 }'
}

# Text, JSON and Prometheus output of `show stats', the endpoint over
# HTTP/1.0 and 1.1 with curl, counters moved by an SMTP session with a
# certificate and a relayed message, and uptime and timestamp.
test_prometheus_output_and_endpoint() {
	smtp_env
	MPORT=$(free_port)
	SMTP_POLICY=$SMTP_POLICY_CERT_ONLY SMTP_PROFILE=cert-only \
	    SMTP_GLOBAL="metrics listen on 127.0.0.1 port $MPORT" smtp_start
	grep -q "metrics: listening on 127.0.0.1 port $MPORT" "$T/smtpcertd.log" ||
	    fail "not logged"
	ctl show stats --format prometheus >"$T/p0.txt" || fail "--format prometheus"
	prom_check "$T/p0.txt" >"$T/p0.samples" || { cat "$T/p0.txt"; fail "invalid exposition"; }
	[ "$(prom_value "$T/p0.txt" 'smtpcertd_auth_total{method="certificate",result="ok"}')" = 0 ] ||
	    fail "auth before"
	grep -q '^smtpcertd_stats_process_up{process="crld"} 1$' "$T/p0.samples" ||
	    fail "process_up"
	smtp_swaks "$T/sw1" --tls $(swaks_cert alice) \
	    --from alice@example.test --to bob@example.test
	swaks_delivered "$T/sw1"
	local i=0 v=""
	while [ $i -lt 50 ]; do
		curl -sS -D "$T/h.txt" -o "$T/p1.txt" "http://127.0.0.1:$MPORT/metrics" ||
		    fail "curl"
		v=$(prom_value "$T/p1.txt" 'smtpcertd_relay_messages_total{result="accepted"}')
		[ "$v" = 1 ] && break
		sleep 0.1; i=$((i + 1))
	done
	[ "$v" = 1 ] || fail "relayed messages $v"
	grep -q '^HTTP/1.1 200 OK' "$T/h.txt" || fail "status"
	grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/h.txt" || fail "content type"
	prom_check "$T/p1.txt" >"$T/p1.samples" || { cat "$T/p1.txt"; fail "invalid over HTTP"; }
	grep -qx 'smtpcertd_auth_total{method="certificate",result="ok"} 1' "$T/p1.samples" ||
	    fail "auth counter"
	grep -qx 'smtpcertd_tls_handshakes_total{} 1' "$T/p1.samples" || fail "handshakes"
	grep -qx 'smtpcertd_connections_total{protocol="smtp"} 1' "$T/p1.samples" ||
	    fail "connections"
	grep -q '^smtpcertd_uptime_seconds{} ' "$T/p1.samples" || fail "uptime"
	# The same counters from smtpcertctl and over HTTP.
	ctl show stats --format prometheus >"$T/p2.txt"
	[ "$(prom_value "$T/p2.txt" 'smtpcertd_relay_messages_total{result="accepted"}')" = 1 ] ||
	    fail "ctl and HTTP differ"
	# HTTP/1.0 too.
	curl -sS -0 -o "$T/p3.txt" -w '%{http_code}\n' "http://127.0.0.1:$MPORT/metrics" \
	    >"$T/c3" && grep -qx 200 "$T/c3" || fail "HTTP/1.0"
	prom_check "$T/p3.txt" >/dev/null || fail "HTTP/1.0 body"
	# Uptime and timestamp in text and JSON.
	ctl show stats >"$T/s.txt"
	head -n 1 "$T/s.txt" | grep -Eq '^smtpcertd up [0-9]+[smhd].*, counters at [0-9]{4}-[0-9]{2}-[0-9]{2} ' ||
	    fail "text header: $(head -n 1 "$T/s.txt")"
	ctl -j show stats >"$T/s.json"
	$PY -c '
import json, sys, time
d = json.load(open(sys.argv[1]))
assert abs(d["timestamp"] - time.time()) < 60, d["timestamp"]
assert 0 <= d["uptime"] == d["timestamp"] - d["started"], d
assert d["counters"]["relay"]["messages"]["accepted"] == 1
' "$T/s.json" || fail "json uptime/timestamp"
	ctl --format json show stats >"$T/s2.json" && $PY -c 'import json,sys; json.load(open(sys.argv[1]))' \
	    "$T/s2.json" || fail "--format json"
	if ctl --format prometheus show status >"$T/bad.txt" 2>&1; then
		fail "prometheus for show status"
	fi
	grep -q "only for show stats" "$T/bad.txt" || fail "message"
}

# What the endpoint refuses: other paths (404), methods (405), versions
# (505), garbage (400), requests past the bound (431), clients that send
# nothing (closed after the read timeout), more than four at once (503);
# the daemon still answers afterwards.
test_endpoint_errors_and_bounds() {
	local port mport; port=$(free_port); mport=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	echo "metrics listen on 127.0.0.1 port $mport" >>"$T/smtpcertd.conf"
	start_daemon "$T/smtpcertd.conf"
	$PY - "$mport" <<'EOF' || fail "HTTP errors"
import socket, sys, time
port = int(sys.argv[1])
def ask(data, timeout=15):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out
def status(data):
    r = ask(data)
    return r.split(b"\r\n", 1)[0].decode()
assert status(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 200 OK"
assert status(b"GET /metrics?x=1 HTTP/1.0\n\n") == "HTTP/1.1 200 OK"
assert status(b"GET / HTTP/1.1\r\n\r\n") == "HTTP/1.1 404 Not Found"
assert status(b"GET /metricsx HTTP/1.1\r\n\r\n") == "HTTP/1.1 404 Not Found"
r = ask(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
assert r.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n") and b"\r\nAllow: GET\r\n" in r, r
assert status(b"HEAD /metrics HTTP/1.1\r\n\r\n").startswith("HTTP/1.1 405")
assert status(b"GET /metrics HTTP/2.0\r\n\r\n").startswith("HTTP/1.1 505")
assert status(b"GET /metrics\r\n\r\n").startswith("HTTP/1.1 400")
assert status(b"get /metrics HTTP/1.1\r\n\r\n").startswith("HTTP/1.1 400")
assert status(b"GET /met\x01rics HTTP/1.1\r\n\r\n").startswith("HTTP/1.1 400")
# Past the bound: 431, unless the reset of the unread rest of the request
# overtakes it (the kernel's choice, not ours).
try:
    assert status(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 5000 + b"\r\n\r\n").startswith("HTTP/1.1 431")
except ConnectionResetError:
    pass
s = socket.create_connection(("127.0.0.1", port), timeout=15)
s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 4100)
assert s.recv(100).startswith(b"HTTP/1.1 431"), "no 431"
s.close()
# Silent clients are closed after the read timeout (5 s), and while four
# are open a fifth is refused at once.
idle = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(4)]
time.sleep(0.5)
# (The fifth only reads: a request it sent would be unread when the
# daemon closes, and the kernel's reset could overtake the answer.)
s = socket.create_connection(("127.0.0.1", port), timeout=15)
assert s.recv(100).startswith(b"HTTP/1.1 503"), "fifth client"
s.close()
for s in idle:
    assert s.recv(100) == b"", "idle client not closed"
    s.close()
assert status(b"GET /metrics HTTP/1.1\r\n\r\n") == "HTTP/1.1 200 OK", "after the idle ones"
print("ok")
EOF
	ctl show status >/dev/null || fail "daemon gone"
}

# Reload: a new port is bound and the old one closed; no metrics line
# closes the endpoint; a port in use refuses the reload.
test_endpoint_reload() {
	local port m1 m2; port=$(free_port); m1=$(free_port); m2=$(free_port)
	write_minimal_conf "$T/base.conf" "$port"
	{ cat "$T/base.conf"; echo "metrics listen on 127.0.0.1 port $m1"; } >"$T/smtpcertd.conf"
	start_daemon "$T/smtpcertd.conf"
	curl -sSf -o /dev/null "http://127.0.0.1:$m1/metrics" || fail "m1"
	{ cat "$T/base.conf"; echo "metrics listen on 127.0.0.1 port $m2"; } >"$T/smtpcertd.conf"
	ctl reload || fail "reload to m2"
	curl -sSf -o /dev/null "http://127.0.0.1:$m2/metrics" || fail "m2"
	if curl -sS -o /dev/null "http://127.0.0.1:$m1/metrics" 2>/dev/null; then
		fail "m1 still open"
	fi
	# A port someone else holds: the reload is refused, m2 stays.
	$PY -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").close(); time.sleep(30)' "$m1" "$T/held" &
	track_pid $!
	wait_file "$T/held" 10 || fail "holder"
	{ cat "$T/base.conf"; echo "metrics listen on 127.0.0.1 port $m1"; } >"$T/smtpcertd.conf"
	if ctl reload >"$T/r.txt" 2>&1; then
		fail "reload onto a port in use succeeded"
	fi
	curl -sSf -o /dev/null "http://127.0.0.1:$m2/metrics" || fail "m2 lost"
	cp "$T/base.conf" "$T/smtpcertd.conf"
	ctl reload || fail "reload without metrics"
	if curl -sS -o /dev/null "http://127.0.0.1:$m2/metrics" 2>/dev/null; then
		fail "m2 still open"
	fi
}

# A real unprivileged user in the control group: show works, changes
# are refused with a clear message (and counted) until `allow changes';
# root may always change things.
test_control_group_read_only() {
	local port user grp; port=$(free_port)
	user=sctest$RANDOM$RANDOM
	grp=$user
	useradd --no-create-home --user-group --shell /usr/sbin/nologin "$user" ||
	    fail "useradd"
	# Removed however the test ends (the test runs in a subshell).
	# shellcheck disable=SC2064
	trap "userdel '$user' 2>/dev/null" EXIT
	write_minimal_conf "$T/base.conf" "$port"
	{ cat "$T/base.conf"; echo "control group \"$grp\""; } >"$T/smtpcertd.conf"
	chmod 755 "$T"
	start_daemon "$T/smtpcertd.conf"
	as_user() {
		setpriv --reuid="$user" --regid="$grp" --init-groups \
		    "$SMTPCERTCTL" -s "$T/ctl.sock" "$@"
	}
	local c
	for c in status stats sessions crl; do
		as_user show "$c" >"$T/show-$c.txt" 2>&1 || { cat "$T/show-$c.txt"; fail "show $c"; }
	done
	as_user show stats --format prometheus >"$T/p.txt" || fail "prometheus as user"
	for c in "reload" "log verbose" "log brief" "ldap flush" "crl update" \
	    "session kill 123456789abc"; do
		# shellcheck disable=SC2086
		if as_user $c >"$T/deny.txt" 2>&1; then
			fail "$c allowed to the read-only group"
		fi
		grep -q "permission denied: members of the control group \"$grp\" may only use the show and test commands" \
		    "$T/deny.txt" || { cat "$T/deny.txt"; fail "$c: message"; }
	done
	as_user -j reload >"$T/deny.json" && fail "json reload allowed"
	$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is False and "permission denied" in d["message"]' \
	    "$T/deny.json" || fail "json denial"
	grep -q "control: IMSG_CTL_RELOAD refused to uid $(id -u "$user")" "$T/smtpcertd.log" ||
	    fail "denial not logged"
	ctl -j show stats | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["counters"]["control"]["denied"] == 7, d["counters"]["control"]' ||
	    fail "denied counter"
	# root: anything.
	ctl log verbose >/dev/null || fail "root log verbose"
	# allow changes, taken at reload.
	{ cat "$T/base.conf"; echo "control group \"$grp\" allow changes"; } >"$T/smtpcertd.conf"
	ctl reload || fail "reload"
	as_user log brief >"$T/ok.txt" 2>&1 || { cat "$T/ok.txt"; fail "log brief with allow changes"; }
	as_user reload >"$T/ok2.txt" 2>&1 || { cat "$T/ok2.txt"; fail "reload with allow changes"; }
	# ... and taken away again.
	{ cat "$T/base.conf"; echo "control group \"$grp\""; } >"$T/smtpcertd.conf"
	as_user reload >/dev/null 2>&1 || fail "reload to read-only"
	if as_user reload >/dev/null 2>&1; then
		fail "still allowed after the reload"
	fi
}

run_test test_prometheus_output_and_endpoint
run_test test_endpoint_errors_and_bounds
run_test test_endpoint_reload
run_test test_control_group_read_only
finish
