#!/bin/bash
# No Nagle stall (issue 17 item 4): every connected TCP socket of the front
# -- clients of the SMTP gateway and of the e-mail proxy, the relay's
# upstream connection, the proxy's back-end connection -- has TCP_NODELAY.
# The front's replies and forwarded data go out in pieces (a reply, then
# the next after the peer's command; a back end's FETCH answer in several
# reads), and with Nagle each small write after the first waits for the
# peer's delayed ACK, up to 40 ms.  The front coalesces its own output
# (io_write() queues, the queue goes out once per event), so the option
# costs no extra packets.
#
# regress/lib/sockopts.py takes a duplicate of each of the front's socket
# descriptors with pidfd_getfd(2) during live sessions and reads the
# option; removing either setsockopt (smtpcertd/front/accept.c for clients,
# smtpcertd/front/io.c io_connect() for upstreams and back ends) fails these tests.
# No timing is measured here (that is bench/latency.sh).
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
. "$REGRESS/lib/dovecot.sh"
. "$REGRESS/lib/proxy.sh"
smtp_init || exit 1

# Python: check(PIDS, ["local:PORT", "peer:PORT", ...]) reads the sockets
# of every front (PIDS: their pids, one a line; the session is on one of
# them) with sockopts.py: every connected TCP socket has TCP_NODELAY, and
# the named ones are among them (so the check saw the sessions it is
# about).
_NODELAY_PY='
import json, os, subprocess
def check(pids, wants):
    out = "".join(subprocess.run([os.environ["PY"], os.environ["REGRESS"] +
        "/lib/sockopts.py", pid], check=True, capture_output=True,
        text=True, timeout=20).stdout for pid in pids.split())
    socks = [json.loads(l) for l in out.splitlines() if l.strip()]
    for s in socks:
        print("fd %(fd)d %(local)s -> %(peer)s nodelay %(nodelay)d" % s)
    for want in wants:
        side, port = want.split(":")
        assert any(s[side].rsplit(":", 1)[1] == port for s in socks), \
            "no socket with %s port %s" % (side, port)
    bad = [s for s in socks if not s["nodelay"]]
    assert not bad, "without TCP_NODELAY: %r" % bad
    print("all %d TCP sockets have TCP_NODELAY" % len(socks))
'

nd_py() {
	local script=$1; shift
	PKI=$PKI PY=$PY REGRESS=$REGRESS px_py "$_NODELAY_PY
$script" "$@"
}

# A proxied IMAP session (client -> front -> Dovecot) held open while
# the front's sockets are read.
test_nodelay_imap_proxy_client_and_backend() {
	px_env
	px_start
	local front
	front=$(child_pid front)
	[ -n "$front" ] || fail "no front PID"
	dovecot_deliver "$T/dc" alice "one"
	nd_py '
import sys
m = imap(int(sys.argv[1]))
m.login("alice", "alicepw")
typ, d = m.select("INBOX")
assert typ == "OK", d
typ, d = m.fetch("1:*", "(FLAGS ENVELOPE)")
assert typ == "OK", d
check(sys.argv[2], ["local:" + sys.argv[1], "peer:" + sys.argv[3]])
m.logout()
' "$P_IMAP" "$front" "$DC_IMAP_PORT"
}

# An SMTP gateway session with its relay connection open (the front
# connects to the upstream at MAIL FROM), held open while the front's
# sockets are read.
test_nodelay_smtp_client_and_upstream() {
	smtp_env
	smtp_start
	wait_port "$SUB_PORT" 10
	local front
	front=$(child_pid front)
	[ -n "$front" ] || fail "no front PID"
	nd_py '
import smtplib, sys
m = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.example.test", timeout=20)
m.starttls(context=ctx("alice"))
m.ehlo()
code, msg = m.mail("alice@example.test")
assert code == 250, (code, msg)
code, msg = m.rcpt("rcpt@example.test")
assert code == 250, (code, msg)
check(sys.argv[2], ["local:" + sys.argv[1], "peer:" + sys.argv[3]])
m.rset()
m.quit()
' "$SUB_PORT" "$front" "$UP_PORT"
}

for t in test_nodelay_imap_proxy_client_and_backend \
    test_nodelay_smtp_client_and_upstream; do
	run_test "$t"
done
finish
