#!/bin/bash
# Per-command latency of the gateway against its back end, one client at a
# time (issue 17 item 4): what an interactive mail client feels on every
# command.  Run by bench/run.sh (`make bench', or `bash bench/run.sh
# latency').  No assertions: it prints figures.
#
#   1. IMAP: Dovecot (Debian's, regress/lib/dovecot.sh) holds alice's
#      mailbox of BENCH_LAT_MSGS small messages and one of about 50 KB.
#      One client (Python's imaplib over TLS, one connection, logged in
#      once) repeats BENCH_LAT_N times a FETCH of flags and envelopes of
#      the small ones, and a full-body FETCH (BODY.PEEK[]) of the large
#      one, and an APPEND of about 50 KB: straight to Dovecot's IMAPS port, and through smtpcertd's
#      IMAP4S proxy (auth aaa against slapd, back end Dovecot's IMAPS);
#      p50/p99 per command and the proxy's difference at p50.
#   2. SMTP: one client over implicit TLS with alice's certificate, one
#      session, BENCH_LAT_N transactions of MAIL, RCPT and DATA with a
#      10 KB message, and of a 100 KB one (several TLS records, so the
#      gateway writes it to the upstream in several pieces), relayed to bench/sink (the real sink of
#      bench/smtp.sh), against the same client straight to the sink
#      (plaintext, the sink has no TLS): p50/p99 per reply.
#
# The figures are wall time on the client, Python included, the same on
# both paths; the proxy's share is the difference.
#
# Knobs: BENCH_LAT_N (repetitions, default 200), BENCH_LAT_MSGS (small
# messages, default 20), BENCH_KEEP=1 (keep the work directory).
set -u
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/dovecot.sh"

N=${BENCH_LAT_N:-200}
NMSG=${BENCH_LAT_MSGS:-20}

bench_init sink

echo "== latency, one client at a time ($(nproc) CPUs, $(uname -r), work dir $T)"
bench_backends
DC_USERS=""
start_dovecot "$T/dc" "$T/pki" >/dev/null || exit 1
dovecot_add_user "$T/dc" alice alicepw
"$PY" - "$T/dc/mail/alice/cur" "$NMSG" <<'PY' || exit 1
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
def put(i, subj, body):
    msg = ("From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\n"
        "Date: Sun, 6 Dec 2026 12:00:%02d +0000\r\nSubject: %s\r\n"
        "Message-ID: <m%d@example.test>\r\n\r\n%s" % (i % 60, subj, i, body))
    with open(os.path.join(d, "%d.bench%d:2,S" % (1700000000 + i, i)), "w") as f:
        f.write(msg)
for i in range(n):
    put(i, "small message %d" % i, "hello %d\r\n" % i)
line = "".join(chr(0x41 + (k % 26)) for k in range(76)) + "\r\n"
put(n, "large message", line * (50 * 1024 // len(line)))
PY
chown -R _smtpcertd: "$T/dc/mail"

IMAP_PORT=$(free_port)
SMTP_PORT=$(free_port)
mkdir -p "$T/d"
cat >"$T/d/smtpcertd.conf" <<CONF
user "_smtpcertd"
chroot "$T/empty"
control socket "$T/d/ctl.sock"
crl cache "$T/d/crlcache"
crl-check inbound no outbound no proxy no
${BENCH_CONF:-}

pki "gw" cert "$T/pki/server.chain.pem" key "$T/pki/server.key"
ca "clients" file "$T/pki/chain.pem"

ldap "corp" {
	server "ldap://127.0.0.1:$LDAP_PORT"
	bind dn "cn=gw,ou=svc,dc=example,dc=test" password-file "$T/ldap.pw"
	base "ou=people,dc=example,dc=test"
	certificate query "cac" {
		filter "(&(objectClass=cacUser)(caccn={cn})(cacserial={sn}))"
		user-attribute "uid"
	}
	smtp-auth query "users" {
		filter "(uid={u})"
		method bind
	}
}
auth-profile "cac" certificate ldap "corp" query "cac"

policy "CERTONLY" {
	tls required
	verify client-certificate
	require smtp-auth
}
relay "sink" host "127.0.0.1" port $SINK_PORT tls none

group-policy "users" {
	simultaneous-logins 10
}
proxy "imap" {
	auth aaa
	aaa ldap "corp" query "users"
	default group-policy "users"
	default server "127.0.0.1" port $DC_IMAPS_PORT tls implicit ca "clients"
}

listen on 127.0.0.1 port $SMTP_PORT tls pki "gw" ca "clients" \\
	auth-profile "cac" policy "CERTONLY" relay "sink"
listen on 127.0.0.1 port $IMAP_PORT proxy imap4s pki "gw" ca "clients" \\
	profile "imap"
CONF
echo "$IMAP_PORT" >"$T/d/port"
bench_start "$T/d"

"$PY" - "$T/pki" "$N" "$NMSG" "$DC_IMAPS_PORT" "$IMAP_PORT" "$SINK_PORT" \
    "$SMTP_PORT" <<'PY'
import imaplib, os, smtplib, socket, ssl, sys, time
pki, n, nmsg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
dc_port, px_port, sink_port, gw_port = map(int, sys.argv[4:8])

def ctx(cert=None):
    c = ssl.create_default_context(cafile=pki + "/chain.pem")
    c.check_hostname = False
    if cert:
        c.load_cert_chain(pki + "/" + cert + ".crt", pki + "/" + cert + ".key")
    return c

CLIENT_NODELAY = os.environ.get("BENCH_LAT_CLIENT_NODELAY", "0") == "1"
def nodelay(sock):
    if CLIENT_NODELAY:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]

def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000.0

def imap_run(port):
    m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx(), timeout=30)
    nodelay(m.sock)
    m.login("alice", "alicepw")
    typ, d = m.select("INBOX", readonly=True)
    assert typ == "OK" and int(d[0]) == nmsg + 1, d
    small = "1:%d" % nmsg
    big = str(nmsg + 1)
    def env():
        typ, d = m.fetch(small, "(FLAGS ENVELOPE)")
        assert typ == "OK" and len(d) == nmsg, (typ, len(d))
    def body():
        typ, d = m.fetch(big, "(BODY.PEEK[])")
        assert typ == "OK" and len(d[0][1]) > 50000, typ
    line = "".join(chr(0x61 + (k % 26)) for k in range(76)) + "\r\n"
    upload = ("Subject: appended\r\n\r\n" + line * (50 * 1024 // len(line))).encode()
    typ, d = m.create("Bench")
    def append():
        typ, d = m.append("Bench", None, None, upload)
        assert typ == "OK", d
    for _ in range(5):	# warm-up
        env(); body(); append()
    r = {"FETCH 1:%d (FLAGS ENVELOPE)" % nmsg: [],
         "FETCH %s (BODY.PEEK[]) ~50 KB" % big: [],
         "APPEND ~50 KB": []}
    k1, k2, k3 = list(r)
    for _ in range(n):
        r[k1].append(timed(env))
        r[k2].append(timed(body))
        r[k3].append(timed(append))
    m.delete("Bench")
    m.logout()
    return r

def smtp_run(port, tls):
    if tls:
        m = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx("alice"),
            local_hostname="client.example.test", timeout=30)
    else:
        m = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test",
            timeout=30)
    nodelay(m.sock)
    m.ehlo()
    msg = ("Subject: latency\r\n\r\n" + ("x" * 78 + "\r\n") * 128).encode()
    big = ("Subject: latency\r\n\r\n" + ("y" * 78 + "\r\n") * 1280).encode()
    def ok(r):
        assert r[0] // 100 in (2, 3), r
    r = {"MAIL": [], "RCPT": [], "DATA (10 KB, to the end of data)": [],
         "MAIL+RCPT+DATA (100 KB)": []}
    def big_txn():
        ok(m.mail("alice@example.test"))
        ok(m.rcpt("bob@example.test"))
        ok(m.data(big))
    def txn(keep):
        t = [timed(lambda: ok(m.mail("alice@example.test"))),
             timed(lambda: ok(m.rcpt("bob@example.test"))),
             timed(lambda: ok(m.data(msg))),
             timed(big_txn)]
        if keep:
            for k, v in zip(r, t):
                r[k].append(v)
    for _ in range(5):
        txn(False)
    for _ in range(n):
        txn(True)
    m.quit()
    return r

def report(title, a_name, a, b_name, b):
    print("== %s (%d each, ms: p50 / p99)" % (title, n))
    print("%-40s %17s %17s %10s" % ("command", a_name, b_name, "added p50"))
    for k in a:
        print("%-40s %8.2f / %6.2f %8.2f / %6.2f %+10.2f" % (k,
            pct(a[k], 50), pct(a[k], 99), pct(b[k], 50), pct(b[k], 99),
            pct(b[k], 50) - pct(a[k], 50)))
    sys.stdout.flush()

# Alternated, so drift on the machine hits both alike.
d1, p1 = imap_run(dc_port), imap_run(px_port)
d2, p2 = imap_run(dc_port), imap_run(px_port)
for k in d1:
    d1[k] += d2[k]; p1[k] += p2[k]
n *= 2
report("IMAP: straight to Dovecot vs through the IMAP4S proxy",
    "Dovecot", d1, "proxy", p1)
n //= 2
report("SMTP: straight to the sink (plain) vs through the gateway (TLS)",
    "sink", smtp_run(sink_port, False), "gateway", smtp_run(gw_port, True))
PY
