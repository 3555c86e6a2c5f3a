#!/bin/bash
# Several gateways behind a real HAProxy (issue 17 item 3; README "Running
# several gateways").  Debian's haproxy, in the foreground (-db), listens
# on 127.0.0.1 and balances over three smtpcertd instances on 127.0.0.2,
# 127.0.0.3 and 127.0.0.4 (Linux routes all of 127/8 to lo), each with a
# STARTTLS submission listener taking PROXY v2 headers (`send-proxy-v2')
# and checked with HAProxy's SMTP health check (`option smtpchk', which
# sends a v2 LOCAL header first).  The three share one slapd and one
# recording upstream; each has its own control socket, log and hostname.
# The clients (Python's smtplib, alice's certificate) bind to 127.0.0.9,
# so their address differs from the balancer's (127.0.0.1).
#
# HAProxy balances `roundrobin' here so that one client address reaches
# every gateway; a site uses `balance source' (README).
#
# What must hold:
#   - every gateway logs the client's real address, and the upstream's
#     Received: field and XCLIENT name it; the gateways take headers only
#     from the balancer (`proxy-protocol from "127.0.0.1"'): the client
#     connecting to one directly with a forged header is refused;
#   - a gateway killed (SIGKILL of all its processes, as in a crash)
#     during a stream of messages from parallel clients: every message a
#     client was told 250 for is at the upstream exactly once (by
#     Message-ID); every other one got a 4xx or a connection failure,
#     i.e. something a client retries; no 5xx, none lost silently;
#   - a gateway taken out as an admin would (reload it, then HAProxy's
#     runtime API `set server ... state drain', wait until `smtpcertctl
#     show sessions' is empty, stop it) loses no session: every message of
#     the stream and of sessions held open across the reload and the drain
#     gets its 250 and is at the upstream once.
# Nothing here measures time; every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
CLIENT_ADDR=127.0.0.9

# Python: a client through the balancer, the stream of messages, the
# HAProxy runtime API.
_HAP_PY='
import json, os, re, smtplib, socket, ssl, sys, threading, time
T = os.environ["T"]
PKI = T + "/pki"
CLIENT = os.environ["CLIENT_ADDR"]

def ctx():
    c = ssl.create_default_context(cafile=PKI + "/chain.pem")
    c.check_hostname = False
    c.load_cert_chain(PKI + "/alice.crt", PKI + "/alice.key")
    return c

def session(port):
    # Raises SMTPConnectError on anything but a 220 greeting.
    m = smtplib.SMTP("127.0.0.1", int(port), timeout=20,
        local_hostname="client.example.test", source_address=(CLIENT, 0))
    m.ehlo()
    m.starttls(context=ctx())
    m.ehlo()
    return m

def body(mid):
    return ("Message-ID: %s\r\nSubject: %s\r\n\r\nhello\r\n" % (mid, mid))

def one(port, mid, pause=0.0):
    """One session, one message: ("250"|"4xx"|"5xx"|"conn", detail)."""
    m = None
    try:
        m = session(port)
        for step in ("mail", "rcpt", "data"):
            time.sleep(pause)
            if step == "mail":
                code, msg = m.mail("alice@example.test")
            elif step == "rcpt":
                code, msg = m.rcpt("rcpt@example.test")
            else:
                code, msg = m.data(body(mid))
            if code >= 400 or (step == "data" and code != 250):
                return ("%dxx" % (code // 100), "%s %d %r" % (step, code, msg))
        return ("250", "")
    except smtplib.SMTPResponseException as e:
        return ("%dxx" % (e.smtp_code // 100), "%d %r" % (e.smtp_code, e.smtp_error))
    except (OSError, smtplib.SMTPException, EOFError) as e:
        # reset, EOF before the greeting or a reply, TLS cut: retry later
        return ("conn", "%s: %s" % (type(e).__name__, e))
    finally:
        if m is not None:
            try:
                m.quit()
            except Exception:
                m.close()

def stream(port, tag, threads, per, pause, out):
    """threads clients, each sending per messages one session at a time;
    one JSON line per message in out."""
    lock = threading.Lock()
    f = open(out, "a")
    def run(t):
        for k in range(per):
            mid = "<%s-%d-%d@client.example.test>" % (tag, t, k)
            res, detail = one(port, mid, pause)
            with lock:
                f.write(json.dumps({"id": mid, "res": res, "detail": detail,
                    "t": time.time()}) + "\n")
                f.flush()
    ths = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    f.close()

def upstream_ids():
    ids = {}
    d = T + "/up"
    for n in os.listdir(d):
        if not n.endswith(".eml"):
            continue
        m = re.search(rb"^Message-ID: (<[^>\r\n]*>)", open(d + "/" + n,
            "rb").read(), re.M | re.I)
        if m:
            k = m.group(1).decode()
            ids[k] = ids.get(k, 0) + 1
    return ids

def hap(cmd):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(T + "/hap/admin.sock")
    s.sendall(cmd.encode() + b"\n")
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out.decode()

def server_state(name):
    """gw_sub/NAME status from "show stat": UP, DOWN, DRAIN, ..."""
    lines = hap("show stat").splitlines()
    head = lines[0].lstrip("# ").split(",")
    for l in lines[1:]:
        v = dict(zip(head, l.split(",")))
        if v.get("pxname") == "gw_sub" and v.get("svname") == name:
            return v["status"]
    return None
'

hap_py() {
	local script=$1; shift
	T=$T CLIENT_ADDR=$CLIENT_ADDR timeout -k 2 240 "$PY" -u -c "$_HAP_PY
$script" "$@"
}

gw_ctl() { local i=$1; shift; "$SMTPCERTCTL" -s "$T/gw$i/ctl.sock" "$@"; }

# Every process of gateway I: the parent and the children it lists.
gw_pids() {
	local i=$1
	cat "$T/gw$i/daemon.pid"
	gw_ctl "$i" show status 2>/dev/null |
	    awk '$1 ~ /^(front|keys|ldapd-helper|crld)$/ && $2 ~ /^[0-9]+$/ { print $2 }'
}

# gw_start I: gateway I on 127.0.0.(I+1):$GW_PORT, its log $T/gwI.log.
gw_start() {
	local i=$1 d=$T/gw$1 n=0
	mkdir -p "$d"
	sed -e "s|^control socket .*|control socket \"$d/ctl.sock\"|" \
	    -e "s|^crl cache .*|crl cache \"$d/crlcache\"|" \
	    -e "s|^hostname .*|hostname \"gw$i.example.test\"|" \
	    -e "s|^listen on 127\\.0\\.0\\.1 port $SUB_PORT |listen on 127.0.0.$((i + 1)) port $GW_PORT |" \
	    "$T/smtpcertd.conf" >"$d/smtpcertd.conf"
	grep -q "listen on 127.0.0.$((i + 1)) port $GW_PORT" "$d/smtpcertd.conf" ||
	    { cat "$d/smtpcertd.conf"; fail "gateway $i: no listener"; return 1; }
	"$SMTPCERTD" -n -f "$d/smtpcertd.conf" >"$d/conftest.out" 2>&1 ||
	    { cat "$d/conftest.out"; fail "gateway $i: config refused"; return 1; }
	"$SMTPCERTD" -d -v -f "$d/smtpcertd.conf" >>"$T/gw$i.log" 2>&1 &
	echo $! >"$d/daemon.pid"
	track_pid "$(cat "$d/daemon.pid")"
	while [ $n -lt 100 ]; do
		if gw_ctl "$i" show status 2>/dev/null |
		    awk '$1 ~ /^(front|ldapd-helper|crld)$/ { n++; if ($3 == "running") r++ }
		        END { exit !(n >= 3 && r == n) }'; then
			return 0
		fi
		sleep 0.1; n=$((n + 1))
	done
	tail -n 30 "$T/gw$i.log"
	fail "gateway $i: children not running"
}

# Slapd, the upstream, three gateways and HAProxy in front of them.
hap_env() {
	smtp_env
	GW_PORT=$(free_port)
	HAP_PORT=$(free_port)
	# Headers only from the balancer's address (127.0.0.1): a client
	# that reaches a gateway directly cannot claim an address.
	SMTP_NO_SMTPS=1 SMTP_LISTEN_OPTS='proxy-protocol from "127.0.0.1"' \
	    smtp_conf
	local i
	for i in 1 2 3; do
		gw_start "$i" || return 1
	done
	mkdir -p "$T/hap"
	cat >"$T/hap/haproxy.cfg" <<CFG
# generated by regress/test_haproxy.sh
global
	pidfile $T/hap/haproxy.pid
	stats socket $T/hap/admin.sock mode 600 level admin
	log stderr format iso local0 info

defaults
	mode tcp
	log global
	option tcplog
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	# A gateway that refuses the connection (killed) is retried on
	# another one: the client never sees it.
	retries 2
	option redispatch

frontend submission
	bind 127.0.0.1:$HAP_PORT
	default_backend gw_sub

backend gw_sub
	balance roundrobin
	option smtpchk EHLO haproxy.example.test
	default-server send-proxy-v2 check inter 500ms fall 2 rise 2
	server gw1 127.0.0.2:$GW_PORT
	server gw2 127.0.0.3:$GW_PORT
	server gw3 127.0.0.4:$GW_PORT
CFG
	"$HAPROXY" -c -f "$T/hap/haproxy.cfg" >"$T/hap/check.out" 2>&1 ||
	    { cat "$T/hap/check.out"; fail "haproxy -c refused the config"; return 1; }
	"$HAPROXY" -db -f "$T/hap/haproxy.cfg" >>"$T/haproxy.log" 2>&1 &
	track_pid $!
	wait_port "$HAP_PORT" 10 || { cat "$T/haproxy.log"; fail "haproxy not listening"; return 1; }
	# Until every gateway passed its health checks.
	hap_py '
for _ in range(100):
    if all(server_state(n) == "UP" for n in ("gw1", "gw2", "gw3")):
        sys.exit(0)
    time.sleep(0.1)
print(hap("show stat"))
sys.exit(1)
' || { cat "$T/haproxy.log"; fail "gateways not UP in haproxy"; return 1; }
}

# The client's address (127.0.0.9), not the balancer's, in every
# gateway's log lines, in XCLIENT and in the Received: field; HAProxy's
# health checks (v2 LOCAL) show up as short sessions from 127.0.0.1; a
# connection straight to a gateway without a header is refused.
test_haproxy_client_address_in_logs_and_received() {
	hap_env
	hap_py '
for k in range(6):
    res, detail = one(sys.argv[1], "<addr-%d@client.example.test>" % k)
    assert res == "250", (k, res, detail)
' "$HAP_PORT"
	up_assert_count 6
	local n i
	for n in 1 2 3 4 5 6; do
		up_received "$n" "[$CLIENT_ADDR]"
		up_received "$n" "authenticated as alice"
		up_msg_json "$n" "m['xclient']['ADDR'] == '$CLIENT_ADDR'"
	done
	for i in 1 2 3; do
		echo "--- gateway $i"
		grep -E "event=(connect|message|end) .*client=127\\.0\\.0\\.9:" "$T/gw$i.log" |
		    head -n 3
		grep -Eq "event=connect .*client=127\\.0\\.0\\.9:[0-9]+" "$T/gw$i.log" ||
		    fail "gateway $i: no connect line with the client's address"
		grep -Eq "event=end .*client=127\\.0\\.0\\.9:[0-9]+.*messages=1" "$T/gw$i.log" ||
		    fail "gateway $i: no end line with the client's address"
		# The balancer's health checks: LOCAL headers, its own address.
		grep -Eq "event=connect .*client=127\\.0\\.0\\.1:" "$T/gw$i.log" ||
		    fail "gateway $i: no health-check session"
	done
	# Every gateway's Received: names itself.
	for i in 1 2 3; do
		grep -l "by gw$i.example.test" "$T"/up/msg-*.eml >/dev/null ||
		    fail "no message through gw$i"
	done
	# Straight to a gateway from the client's address, with a valid PROXY
	# v2 header claiming another address: refused before it is read
	# (proxy-protocol from), and nothing of it is believed.
	hap_py '
import ipaddress, struct
src, dst = ipaddress.ip_address("192.0.2.99"), ipaddress.ip_address("127.0.0.2")
body = src.packed + dst.packed + struct.pack("!HH", 40099, int(sys.argv[1]))
hdr = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body
s = socket.create_connection(("127.0.0.2", int(sys.argv[1])), timeout=10,
    source_address=(CLIENT, 0))
try:
    s.sendall(hdr + b"EHLO direct.example.test\r\n")
except OSError:
    pass
got = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
except ConnectionResetError:
    pass
assert not got.startswith(b"220"), got
' "$GW_PORT"
	wait_log "$T/gw1.log" "event=proxy-header lb=127\\.0\\.0\\.9:[0-9]+ .*result=refused reason=\"not a listed balancer" 10 ||
	    fail "no proxy-header refusal logged"
	grep "event=proxy-header" "$T/gw1.log"
	! grep -q "192\.0\.2\.99" "$T/gw1.log" || fail "the forged address was believed"
	up_assert_count 6
}

# Kill gateway 2 (every process, SIGKILL: a crash) while four clients
# stream messages, each session pausing between commands so that some are
# in the middle of a transaction on gateway 2 when it dies.
test_haproxy_gateway_killed_during_stream() {
	hap_env
	local pids
	pids=$(gw_pids 2 | tr '\n' ' ')
	[ "$(echo $pids | wc -w)" -ge 4 ] || fail "gateway 2 processes: $pids"
	hap_py 'stream(sys.argv[1], "kill", 4, 30, 0.05, T + "/results.jsonl")' \
	    "$HAP_PORT" >"$T/stream.out" 2>&1 &
	local spid=$! n=0
	track_pid "$spid"
	# Kill once gateway 2 has relayed some messages and others are running.
	while [ "$(grep -c 'event=message' "$T/gw2.log")" -lt 3 ] && [ $n -lt 300 ]; do
		sleep 0.1; n=$((n + 1))
	done
	[ $n -lt 300 ] || fail "gateway 2 relayed nothing"
	echo "killing gateway 2: $pids"
	# shellcheck disable=SC2086
	kill -KILL $pids
	date +%s.%N >"$T/killed"
	wait "$spid" || { cat "$T/stream.out"; fail "the stream failed"; }
	cat "$T/stream.out"
	sleep 0.5	# any upstream transaction that would wrongly finish
	hap_py '
res = [json.loads(l) for l in open(T + "/results.jsonl")]
killed = float(open(T + "/killed").read())
up = upstream_ids()
assert len(res) == 120, len(res)
count = {}
for r in res:
    count[r["res"]] = count.get(r["res"], 0) + 1
print("outcomes:", count)
bad = [r for r in res if r["res"] not in ("250", "4xx", "conn")]
assert not bad, "not 250, 4xx or a connection failure: %r" % bad
for r in res:
    n = up.get(r["id"], 0)
    if r["res"] == "250":
        assert n == 1, "told 250 but at the upstream %d times: %r" % (n, r)
    else:
        print("not accepted:", r["id"], r["res"], r["detail"], "at upstream:", n)
        # A 250 lost between the upstream and the client (RFC 1047)
        # would be at the upstream once; never more.
        assert n <= 1, "not accepted, at the upstream %d times: %r" % (n, r)
unknown = [k for k in up if k not in {r["id"] for r in res}]
assert not unknown, unknown
after = [r for r in res if r["t"] > killed + 2]
assert after and all(r["res"] == "250" for r in after), \
    "after the kill the other gateways did not take over: %r" % after
st = server_state("gw2")
print("haproxy: gw2", st)
assert st.startswith("DOWN"), st
print("at the upstream: %d messages, %d told 250" % (sum(up.values()),
    count.get("250", 0)))
'
	# The surviving gateways served messages after the kill.
	grep -q 'event=message' "$T/gw1.log" && grep -q 'event=message' "$T/gw3.log" ||
	    fail "gateways 1 and 3 relayed nothing"
}

# Take gateway 3 out as an admin would, while clients stream messages and
# sessions are held open in the middle of a transaction on every gateway:
# `smtpcertctl reload' on it (a configuration change), then HAProxy's
# runtime API drains it (`set server gw_sub/gw3 state drain': no new
# connections, established ones go on), the held sessions finish, `show
# sessions' on it becomes empty, and only then is it stopped (SIGTERM).
# No session is lost: every message gets its 250 and is at the upstream
# exactly once.
test_haproxy_reload_and_drain_lose_no_session() {
	hap_env
	hap_py '
import subprocess
port = sys.argv[1]
# Six sessions held after RCPT: two per gateway with roundrobin.
held = []
for k in range(6):
    m = session(port)
    assert m.mail("alice@example.test")[0] == 250
    assert m.rcpt("rcpt@example.test")[0] == 250
    held.append(m)
out = subprocess.run(sys.argv[2:] + ["show", "sessions"], capture_output=True,
    text=True, timeout=10).stdout
print(out)
assert "127.0.0.9" in out, "no held session on gateway 3"
st = threading.Thread(target=stream, args=(port, "drain", 3, 15, 0.05,
    T + "/results.jsonl"))
st.start()
time.sleep(1)
r = subprocess.run(sys.argv[2:] + ["reload"], capture_output=True, text=True,
    timeout=30)
print("reload:", r.returncode, r.stdout, r.stderr)
assert r.returncode == 0
time.sleep(0.5)
print("drain:", hap("set server gw_sub/gw3 state drain").strip() or "ok")
assert server_state("gw3") == "DRAIN", server_state("gw3")
time.sleep(0.5)
# The held sessions, across the reload and the drain, finish their message.
for k, m in enumerate(held):
    code, msg = m.data(body("<held-%d@client.example.test>" % k))
    assert code == 250, (k, code, msg)
    m.quit()
st.join()
# Drained: no session left on gateway 3 (bounded wait), then it stops.
for _ in range(100):
    out = subprocess.run(sys.argv[2:] + ["show", "sessions"],
        capture_output=True, text=True, timeout=10).stdout
    if "127.0.0.9" not in out:
        break
    time.sleep(0.1)
else:
    raise AssertionError("gateway 3 still has sessions:\n" + out)
' "$HAP_PORT" "$SMTPCERTCTL" -s "$T/gw3/ctl.sock"
	wait_log "$T/gw3.log" "reload" 5 || fail "gateway 3 did not log the reload"
	local p3
	p3=$(cat "$T/gw3/daemon.pid")
	kill -TERM "$p3"
	local n=0
	while kill -0 "$p3" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	! kill -0 "$p3" 2>/dev/null || fail "gateway 3 did not stop"
	# More mail after gateway 3 is gone: the others take it.
	hap_py 'stream(sys.argv[1], "after", 2, 5, 0, T + "/results.jsonl")' "$HAP_PORT"
	sleep 0.3
	hap_py '
res = [json.loads(l) for l in open(T + "/results.jsonl")]
up = upstream_ids()
assert len(res) == 3 * 15 + 2 * 5, len(res)
bad = [r for r in res if r["res"] != "250"]
assert not bad, "lost: %r" % bad
ids = [r["id"] for r in res] + ["<held-%d@client.example.test>" % k for k in range(6)]
for i in ids:
    assert up.get(i, 0) == 1, (i, up.get(i, 0))
assert sum(up.values()) == len(ids), (sum(up.values()), len(ids))
print("all %d messages at the upstream once" % len(ids))
'
	grep -c 'event=message' "$T/gw3.log"
	grep -q 'event=message' "$T/gw3.log" || fail "gateway 3 relayed nothing"
}

for t in test_haproxy_client_address_in_logs_and_received \
    test_haproxy_gateway_killed_during_stream \
    test_haproxy_reload_and_drain_lose_no_session; do
	run_test "$t"
done
finish
