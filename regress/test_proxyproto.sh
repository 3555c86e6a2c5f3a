#!/bin/bash
# The PROXY protocol on listeners (issue 7 item 6, SPEC 7 "Scale-out"):
# a connection on a proxy-protocol listener starts with a v1 or v2
# header from a load balancer, and the session then uses the client
# address from it everywhere -- log lines, XCLIENT towards the upstream,
# the Received: field, the failed-login limiter, `show sessions' and the
# e-mail proxy's accounting.  Malformed, missing or late headers close
# the connection with one log line naming the balancer, and the daemon
# goes on serving.  Listeners without proxy-protocol are unchanged.
#
# The clients are /usr/bin/python3 raw sockets: the header is sent first,
# then smtplib, imaplib or ssl drive the session on the same socket.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
. "$REGRESS/lib/dovecot.sh"
. "$REGRESS/lib/proxy.sh"
smtp_init || exit 1

# Python helpers: PROXY headers and clients that send one first.
_PP_PY='
import base64, imaplib, ipaddress, json, os, re, smtplib, socket, ssl
import struct, subprocess, sys, time
T = os.environ["T"]
PKI = T + "/pki"
LOG = T + "/smtpcertd.log"
SIG = b"\r\n\r\n\x00\r\nQUIT\n"

def v1(proto, src, dst, sport, dport):
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport,
        dport)).encode()

def v2(src, dst, sport, dport, tlvs=b""):
    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    fam = 0x11 if a.version == 4 else 0x21
    body = a.packed + b.packed + struct.pack("!HH", sport, dport) + tlvs
    return SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body

def v2_local():
    return SIG + bytes([0x20, 0x00]) + b"\x00\x00"

def ctx(cert=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(PKI + "/chain.pem")
    c.check_hostname = False
    if cert:
        c.load_cert_chain(PKI + "/" + cert + ".crt", PKI + "/" + cert + ".key")
    return c

def connect(port, header):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
    if header:
        s.sendall(header)
    return s

class PPSMTP(smtplib.SMTP):
    """smtplib on a connection that starts with a PROXY header; with
    tls, TLS follows right after the header (implicit TLS)."""
    def __init__(self, port, header, tls=False, cert=None):
        self.pp = (header, tls, cert)
        self.pp_sport = None
        smtplib.SMTP.__init__(self, "127.0.0.1", int(port),
            local_hostname="client.example.test", timeout=20)
    def _get_socket(self, host, port, timeout):
        s = connect(port, self.pp[0])
        self.pp_sport = s.getsockname()[1]
        if self.pp[1]:
            s = ctx(self.pp[2]).wrap_socket(s, server_hostname="localhost")
        return s

def smtp_session(port, header, tls, cert=None):
    m = PPSMTP(port, header, tls, cert)
    m.ehlo()
    if not tls:
        m.starttls(context=ctx(cert))
        m.ehlo()
    return m

def send_msg(m, subject, frm="alice@example.test"):
    m.sendmail(frm, ["rcpt@example.test"],
        "Subject: %s\r\n\r\nhello\r\n" % subject)

def auth_plain(m, user, pw):
    ir = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())
    return m.docmd("AUTH", "PLAIN " + ir.decode())

def closed_silently(s, wait=15):
    """The server closes without having sent one byte."""
    s.settimeout(wait)
    got = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("still open after %d s" % wait)
    s.close()
    assert got == b"", "the server sent %r" % got
    return True

def wait_log(regex, secs=10):
    rx = re.compile(regex)
    end = time.time() + secs
    while time.time() < end:
        for l in open(LOG, errors="replace"):
            if rx.search(l):
                return l.rstrip("\n")
        time.sleep(0.1)
    raise AssertionError("no log line matching %r" % regex)
'

pp_py() {
	local script=$1; shift
	T=$T timeout -k 2 120 "$PY" -u -c "$_PP_PY
$script" "$@"
}

# The SMTP gateway's two listeners (STARTTLS and implicit TLS) with
# proxy-protocol, plus a STARTTLS listener without it on $PLAIN_PORT.
pp_smtp_start() {
	smtp_env
	PLAIN_PORT=$(free_port)
	SMTP_LISTEN_OPTS="proxy-protocol" smtp_conf
	cat >>"$T/smtpcertd.conf" <<CONF
listen on 127.0.0.1 port $PLAIN_PORT starttls pki "gw" ca "clients" \\
	auth-profile "${SMTP_PROFILE:-cac}" policy "RELAYED" relay "mx"
CONF
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/conftest.out" 2>&1 ||
	    { cat "$T/conftest.out" "$T/smtpcertd.conf"; fail "config refused"; return 1; }
	start_daemon "$T/smtpcertd.conf" || return 1
	wait_port "$SUB_PORT" 10 && wait_port "$SMTPS_PORT" 10
}

# v1 TCP4, v1 TCP6, v2 IPv4, v2 IPv6 and v2 LOCAL, on the STARTTLS and
# the implicit-TLS listener, with alice's certificate: each message gets
# through, the upstream gets XCLIENT ADDR/PORT of the header's source
# (of the balancer's own address for LOCAL), the Received: field names
# it, and so do the session's log lines.
test_proxyproto_smtp_sessions_use_header_address() {
	pp_smtp_start
	pp_py '
SUB, SMTPS = sys.argv[1], sys.argv[2]
cases = [
    ("v1-tcp4", SUB, False, v1("TCP4", "192.0.2.10", "10.0.0.1", 40001, 587)),
    ("v1-tcp6", SMTPS, True, v1("TCP6", "2001:db8::10", "2001:db8::1", 40002, 465)),
    ("v2-ipv4", SMTPS, True, v2("198.51.100.20", "10.0.0.1", 40003, 465)),
    ("v2-ipv6", SUB, False, v2("2001:db8:1::20", "2001:db8::1", 40004, 587,
        tlvs=bytes([0x04, 0, 3]) + b"pad" + bytes([0x05, 0, 4]) + b"uid1")),
    ("v2-local", SUB, False, v2_local()),
    ("v2-local-tls", SMTPS, True, v2_local()),
]
ports = {}
for name, port, tls, hdr in cases:
    m = smtp_session(port, hdr, tls, "alice")
    send_msg(m, name)
    m.quit()
    ports[name] = m.pp_sport
    print(name, "sent from local port", m.pp_sport)
json.dump(ports, open(T + "/ports.json", "w"))
' "$SUB_PORT" "$SMTPS_PORT"
	up_assert_count 6
	local lport4 lport5
	lport4=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["v2-local"])' "$T/ports.json")
	lport5=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["v2-local-tls"])' "$T/ports.json")
	up_msg_json 1 'm["xclient"]["ADDR"] == "192.0.2.10" and m["xclient"]["PORT"] == "40001"'
	up_msg_json 2 'm["xclient"]["ADDR"] == "IPV6:2001:db8::10" and m["xclient"]["PORT"] == "40002"'
	up_msg_json 3 'm["xclient"]["ADDR"] == "198.51.100.20" and m["xclient"]["PORT"] == "40003"'
	up_msg_json 4 'm["xclient"]["ADDR"] == "IPV6:2001:db8:1::20" and m["xclient"]["PORT"] == "40004"'
	up_msg_json 5 "m[\"xclient\"][\"ADDR\"] == \"127.0.0.1\" and m[\"xclient\"][\"PORT\"] == \"$lport4\""
	up_msg_json 6 "m[\"xclient\"][\"ADDR\"] == \"127.0.0.1\" and m[\"xclient\"][\"PORT\"] == \"$lport5\""
	up_received 1 "[192.0.2.10]"
	up_received 2 "[IPv6:2001:db8::10]"
	up_received 3 "[198.51.100.20]"
	up_received 4 "[IPv6:2001:db8:1::20]"
	up_received 5 "[127.0.0.1]"
	up_received 1 "authenticated as alice"
	# Each session's lines name the header's client, never 127.0.0.1
	# (but for LOCAL, where the balancer is the client).
	local a
	for a in '192\.0\.2\.10:40001' '\[2001:db8::10\]:40002' \
	    '198\.51\.100\.20:40003' '\[2001:db8:1::20\]:40004' \
	    "127\\.0\\.0\\.1:$lport4" "127\\.0\\.0\\.1:$lport5"; do
		grep -Eq "connect.*client=$a" "$T/smtpcertd.log" ||
		    fail "no connect line with client=$a"
		grep -Eq "end.*client=$a" "$T/smtpcertd.log" ||
		    fail "no end line with client=$a"
	done
	! grep -E "proxy-header.*refused" "$T/smtpcertd.log" ||
	    fail "a valid header was refused"
}

# The header and the first bytes of the session in one write: the TLS
# ClientHello (implicit TLS) or an early EHLO (STARTTLS listener) stays
# for the session -- the front reads exactly the header.  On a listener
# without proxy-protocol a PROXY line is just an unknown command.
test_proxyproto_header_and_session_bytes_in_one_write() {
	pp_smtp_start
	pp_py '
SUB, SMTPS, PLAIN = sys.argv[1:4]
# implicit TLS: header + ClientHello in one send
s = socket.create_connection(("127.0.0.1", int(SMTPS)), timeout=20)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
o = ctx("alice").wrap_bio(inc, out, server_hostname="localhost")
try:
    o.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
assert hello[:1] == b"\x16", hello[:8]
s.sendall(v2("203.0.113.50", "10.0.0.1", 40050, 465) + hello)
def pump():
    d = out.read()
    if d:
        s.sendall(d)
def tls_read():
    while True:
        try:
            return o.read(65536)
        except ssl.SSLWantReadError:
            pump()
            d = s.recv(65536)
            if not d:
                raise EOFError("closed")
            inc.write(d)
while True:
    try:
        o.do_handshake()
        break
    except ssl.SSLWantReadError:
        pump()
        d = s.recv(65536)
        if not d:
            raise EOFError("closed during the handshake")
        inc.write(d)
pump()
buf = b""
def reply():
    global buf
    while not re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", buf):
        buf += tls_read()
    r, buf = buf, b""
    print("S:", r)
    return r
def cmd(line):
    o.write(line.encode() + b"\r\n")
    pump()
    return reply()
assert reply().startswith(b"220")
assert cmd("EHLO client.example.test").startswith(b"250")
assert cmd("MAIL FROM:<alice@example.test>").startswith(b"250")
assert cmd("RCPT TO:<rcpt@example.test>").startswith(b"250")
assert cmd("DATA").startswith(b"354")
assert cmd("Subject: one write\r\n\r\nhello\r\n.").startswith(b"250")
assert cmd("QUIT").startswith(b"221")
s.close()
# STARTTLS listener: header + EHLO before the greeting
s = connect(SUB, v1("TCP4", "203.0.113.51", "10.0.0.1", 40051, 587) +
    b"EHLO early.example.test\r\n")
f = s.makefile("rb")
l = f.readline()
assert l.startswith(b"220 "), l
l = f.readline()
assert l.startswith(b"250-"), l
while not l.startswith(b"250 "):
    l = f.readline()
s.sendall(b"QUIT\r\n")
assert f.readline().startswith(b"221")
s.close()
# Without proxy-protocol: the header is an SMTP command like any other.
s = connect(PLAIN, None)
f = s.makefile("rb")
assert f.readline().startswith(b"220 ")
s.sendall(v1("TCP4", "203.0.113.52", "10.0.0.1", 40052, 587))
l = f.readline()
assert l[:1] == b"5", l
s.sendall(b"QUIT\r\n")
assert f.readline().startswith(b"221")
s.close()
' "$SUB_PORT" "$SMTPS_PORT" "$PLAIN_PORT"
	up_assert_count 1
	up_msg_json 1 'm["xclient"]["ADDR"] == "203.0.113.50" and m["xclient"]["PORT"] == "40050"'
	grep -Eq "connect.*client=203\.0\.113\.51:40051" "$T/smtpcertd.log" ||
	    fail "no session for the early talker"
	! grep -Eq "client=203\.0\.113\.52" "$T/smtpcertd.log" ||
	    fail "a listener without proxy-protocol used a PROXY line"
	grep -Eq "connect.*client=127\.0\.0\.1:[0-9]+ listener=2" "$T/smtpcertd.log" ||
	    fail "no session from 127.0.0.1 on the listener without proxy-protocol"
}

# The failed-login limiter counts the header's address, not the
# balancer's: two failures from 192.0.2.66 (limit 2) block that address
# even for a good password, while 192.0.2.67 -- through the same
# balancer, 127.0.0.1 -- still logs in.
test_proxyproto_failed_logins_count_real_address() {
	SMTP_PROFILE=ldap-users SMTP_POLICY="$SMTP_POLICY_AUTH_ONLY" \
	    SMTP_GLOBAL="limit max-auth-failures 2" pp_smtp_start
	pp_py '
SUB, SMTPS = sys.argv[1], sys.argv[2]
def attempt(port, tls, hdr, user, pw, want):
    m = smtp_session(port, hdr, tls)
    code, text = auth_plain(m, user, pw)
    print(user, "->", code, text)
    assert code == want, (user, code, text)
    return m
m = attempt(SMTPS, True, v2("192.0.2.66", "10.0.0.1", 41001, 465), "bob", "wrong", 535)
m.quit()
m = attempt(SUB, False, v1("TCP4", "192.0.2.66", "10.0.0.1", 41002, 587), "carol", "wrong", 535)
m.quit()
# The address has its two failures; neither user has.
m = attempt(SMTPS, True, v1("TCP4", "192.0.2.66", "10.0.0.1", 41003, 465), "bob", "bobpw", 454)
m.quit()
m = attempt(SUB, False, v2("192.0.2.67", "10.0.0.1", 41004, 587), "carol", "carolpw", 235)
send_msg(m, "from .67", "carol@example.test")
m.quit()
' "$SUB_PORT" "$SMTPS_PORT"
	up_assert_count 1
	up_msg_json 1 'm["xclient"]["ADDR"] == "192.0.2.67" and m["xclient"]["LOGIN"] == "carol"'
	grep -Eq "client=192\.0\.2\.66:41003.*result=blocked" "$T/smtpcertd.log" ||
	    fail "no blocked line for 192.0.2.66"
}

# An e-mail proxy listener (IMAP4S) with proxy-protocol: the proxy
# session, `show sessions', the accounting records and the failed-login
# limiter all see the header's address.
test_proxyproto_imap_proxy_listener() {
	px_env
	px_bad_backends
	PP_IMAP=$(free_port)
	PX_MAX_AUTH_FAILURES=1 px_conf
	cat >>"$T/smtpcertd.conf" <<CONF
listen on 127.0.0.1 port $PP_IMAP proxy imap4s pki "gw" ca "clients" profile "imap-aaa" proxy-protocol
CONF
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/conftest.out" 2>&1 ||
	    { cat "$T/conftest.out"; fail "config refused"; return 1; }
	start_daemon "$T/smtpcertd.conf" || return 1
	wait_port "$PP_IMAP" 10
	pp_py '
PORT = int(sys.argv[1])
CTL = sys.argv[2:]
class PPIMAP(imaplib.IMAP4):
    def __init__(self, header):
        self.pp = header
        imaplib.IMAP4.__init__(self, "127.0.0.1", PORT, timeout=20)
    def _create_socket(self, timeout):
        return ctx().wrap_socket(connect(PORT, self.pp),
            server_hostname="localhost")
m = PPIMAP(v2("203.0.113.9", "10.0.0.1", 41000, 993))
m.login("alice", "alicepw")
m.select("INBOX")
j = subprocess.run(CTL + ["-j", "show", "sessions"], capture_output=True,
    text=True).stdout
rows = [r for r in json.loads(j)["sessions"] if r["user"] == "alice"]
print(rows)
assert len(rows) == 1 and rows[0]["client"] == "203.0.113.9", rows
m.logout()
# One failure from .77 (limit 1) blocks .77, not .9.
m = PPIMAP(v1("TCP4", "203.0.113.77", "10.0.0.1", 41077, 993))
try:
    m.login("bob", "wrong")
    raise AssertionError("bad password accepted")
except imaplib.IMAP4.error as e:
    print("bob from .77:", e)
m.shutdown()
m = PPIMAP(v1("TCP4", "203.0.113.77", "10.0.0.1", 41078, 993))
try:
    m.login("alice", "alicepw")
    raise AssertionError("blocked address logged in")
except imaplib.IMAP4.error as e:
    print("alice from .77:", e)
m.shutdown()
m = PPIMAP(v1("TCP6", "2001:db8::9", "2001:db8::1", 41079, 993))
m.login("alice", "alicepw")
m.logout()
' "$PP_IMAP" "$SMTPCERTCTL" -s "$T/ctl.sock"
	wait_log "$T/acct.jsonl" '"event":"stop".*"client":"2001:db8::9"' 10 ||
	    fail "no stop record for the IPv6 client"
	"$PY" - "$T/acct.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
print(recs)
for ev in ("start", "stop"):
    assert [r for r in recs if r["event"] == ev and r["user"] == "alice"
            and r["client"] == "203.0.113.9"], ev
assert not [r for r in recs if r["client"] == "127.0.0.1"], recs
# .77's logins failed: one "failed" record each (issue 13), never a session
f = [r for r in recs if r["client"] == "203.0.113.77"]
assert f and all(r["event"] == "failed" and r["result"] == "failed" and
                 r["reason"] for r in f), recs
EOF
	grep -Eq "connect.*client=203\.0\.113\.9:41000" "$T/smtpcertd.log" ||
	    fail "no proxy connect line for 203.0.113.9"
}

# Malformed, missing and late headers: the connection is closed without
# a byte, one line names the balancer (127.0.0.1 and the client's port)
# and the reason, and the front -- the same process throughout -- goes
# on serving.
test_proxyproto_malformed_headers_closed() {
	local port tport nport front
	port=$(free_port) tport=$(free_port) nport=$(free_port)
	mkdir -p "$T/pki"
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	# Listener 0 (STARTTLS) and 1 (implicit TLS) with proxy-protocol;
	# their idle timeout of 2 s is also the header's deadline.
	sed -i "s|^\(listen on 127.0.0.1 port $port starttls .*\)$|\1 proxy-protocol limit idle-timeout 2s|" \
	    "$T/smtpcertd.conf"
	cat >>"$T/smtpcertd.conf" <<CONF
listen on 127.0.0.1 port $tport tls pki "gw" policy "p" relay "mx" proxy-protocol limit idle-timeout 2s
listen on 127.0.0.1 port $nport starttls pki "gw" policy "p" relay "mx"
CONF
	grep -q "port $port starttls .*proxy-protocol" "$T/smtpcertd.conf" ||
	    fail "config not as expected"
	start_daemon "$T/smtpcertd.conf" || return 1
	wait_port "$port" 10 && wait_port "$tport" 10
	front=$(child_pid front)
	cp "$T/ss/server.crt" "$T/pki/chain.pem"
	pp_py '
P, TP = sys.argv[1], sys.argv[2]
hdr_ok = v2("192.0.2.1", "10.0.0.1", 1, 2)
cases = [
    ("bad v2 signature", P, SIG[:7] + b"X" + SIG[8:] + hdr_ok[12:],
        "v2: bad signature"),
    ("v2 bad version", TP, SIG + bytes([0x11, 0x11, 0, 12]) + bytes(12),
        "v2: unsupported version"),
    ("v2 length too big", P, SIG + bytes([0x21, 0x11, 0x04, 0x01]) +
        bytes(64), "v2: header length over 1024"),
    ("v2 unknown command", TP, SIG + bytes([0x2f, 0x11, 0, 12]) + bytes(12),
        "v2: unknown command"),
    ("v1 too long", P, b"PROXY UNKNOWN " + b"a" * 120 + b"\r\n",
        "v1: no CRLF within 107 bytes"),
    ("v1 bad address", TP, b"PROXY TCP4 192.0.2.256 10.0.0.1 1 2\r\n",
        "v1: bad TCP4 source address"),
    ("v1 bad port", P, b"PROXY TCP4 192.0.2.1 10.0.0.1 01 2\r\n",
        "v1: bad source port"),
    ("v1 LF only", P, b"PROXY TCP4 192.0.2.1 10.0.0.1 1 2\n",
        "v1: LF without CR"),
    ("v1 mixed families", TP, b"PROXY TCP6 192.0.2.1 ::1 1 2\r\n",
        "v1: bad TCP6 source address"),
    ("plain SMTP", P, b"EHLO client.example.test\r\n", "no PROXY header"),
    ("TLS ClientHello", TP, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "no PROXY header"),
]
for name, port, data, reason in cases:
    s = connect(port, data)
    lport = s.getsockname()[1]
    closed_silently(s)
    l = wait_log(r"event=proxy-header lb=127\.0\.0\.1:%d .*result=refused "
        r"reason=\"?%s" % (lport, re.escape(reason)))
    print("%-20s %s" % (name, l))
# v1 without its CRLF, then the balancer closes.
s = connect(P, b"PROXY TCP4 192.0.2.1 10.0.0.1 1 2")
lport = s.getsockname()[1]
s.shutdown(socket.SHUT_WR)
closed_silently(s)
print(wait_log(r"lb=127\.0\.0\.1:%d .*refused reason=\"connection closed "
    r"after 33 header bytes" % lport))
# Truncated v2, then silence: closed at the deadline.
s = connect(TP, hdr_ok[:20])
lport = s.getsockname()[1]
closed_silently(s)
print(wait_log(r"lb=127\.0\.0\.1:%d .*refused reason=\"no complete header "
    r"within 2 s \(20 bytes received\)" % lport))
# A client that waits for a greeting (no header at all): the same.
s = connect(P, None)
lport = s.getsockname()[1]
closed_silently(s)
print(wait_log(r"lb=127\.0\.0\.1:%d .*refused reason=\"no complete header "
    r"within 2 s \(0 bytes received\)" % lport))
# Still serving, on both listeners.
s = connect(P, v1("TCP4", "192.0.2.200", "10.0.0.1", 42000, 25))
f = s.makefile("rb")
l = f.readline()
assert l.startswith(b"220 "), l
s.sendall(b"QUIT\r\n")
assert f.readline().startswith(b"221")
s.close()
s = ctx().wrap_socket(connect(TP, v2("192.0.2.201", "10.0.0.1", 42001, 25)),
    server_hostname="localhost")
f = s.makefile("rb")
l = f.readline()
assert l.startswith(b"220 "), l
s.sendall(b"QUIT\r\n")
assert f.readline().startswith(b"221")
s.close()
' "$port" "$tport"
	grep -Eq "connect.*client=192\.0\.2\.200:42000" "$T/smtpcertd.log" ||
	    fail "no session after the bad headers"
	grep -Eq "connect.*client=192\.0\.2\.201:42001" "$T/smtpcertd.log" ||
	    fail "no TLS session after the bad headers"
	# The listener without proxy-protocol: the socket's peer, as before.
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.cmd("QUIT", 221)
' "$nport"
	grep -Eq "connect.*client=127\.0\.0\.1:[0-9]+ listener=2" "$T/smtpcertd.log" ||
	    fail "listener without proxy-protocol"
	[ "$(child_pid front)" = "$front" ] || fail "the front restarted"
}

for t in test_proxyproto_smtp_sessions_use_header_address \
    test_proxyproto_header_and_session_bytes_in_one_write \
    test_proxyproto_failed_logins_count_real_address \
    test_proxyproto_imap_proxy_listener \
    test_proxyproto_malformed_headers_closed; do
	run_test "$t"
done
finish
