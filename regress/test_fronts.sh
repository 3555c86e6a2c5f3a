#!/bin/bash
# Several front processes (issue 17 item 1, `front processes 3'): sessions
# land on more than one front and `show sessions' names each one's front;
# `session kill' reaches a session on any front; `show stats' adds the
# fronts' counters up; `max-sessions' holds for the gateway, whichever
# front takes the connection; failed logins on different fronts add up
# to one lockout, met at once by a client who tries again on another
# connection (a stopped front is not waited for); the e-mail proxy's simultaneous-logins holds across
# fronts and a piggyback login leans on a session on another front; a killed front is restarted while the others keep serving; a
# reload reaches every front.
#
# The kernel spreads connections over the fronts' SO_REUSEPORT sockets
# by a hash of the client's port: the tests open enough connections that
# all of them landing on one front is negligible (3 x (1/3)^9), then find
# out where each one went from `show sessions' and the connect log lines.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
. "$REGRESS/lib/dovecot.sh"
. "$REGRESS/lib/proxy.sh"
smtp_init || exit 1

# ctl(), sessions() (`show sessions'), and fronts_of_socks(socks, proto):
# the front number of each held connection (its address and port -> the
# session id in the log -> the front in `show sessions'), for the two
# preambles below (T set).
_FRONTS_OF_PY='
import json, os, re, subprocess
CTL = [os.environ["SMTPCERTCTL"], "-s", T + "/ctl.sock"]
def ctl(*args):
    return subprocess.run(CTL + list(args), check=True, capture_output=True,
                          text=True, timeout=20).stdout
def sessions():
    return json.loads(ctl("-j", "show", "sessions"))["sessions"]
def fronts_of_socks(socks, proto):
    ids = {}
    for l in open(T + "/smtpcertd.log", errors="replace"):
        m = re.search(r"session=([0-9a-f]+) event=connect proto=%s client=([0-9.]+):(\d+) " % proto, l)
        if m:
            ids[(m.group(2), int(m.group(3)))] = m.group(1)
    front = {r["id"]: r["front"] for r in sessions()}
    return [front[ids[s.getsockname()[:2]]] for s in socks]
'

# Python helpers on top of smtp_raw's: fronts_of(conns) gives the front
# number of each held connection.
_FRONTS_PY='
'"$_FRONTS_OF_PY"'
def fronts_of(conns):
    return fronts_of_socks([c.s for c in conns], "smtp")
def auth_plain(c, user, pw, code, text=None):
    import base64
    tok = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()
    return c.cmd("AUTH PLAIN " + tok, code, text)
'

# The same for the e-mail proxy's clients (px_py), by protocol name.
_FRONTS_PX_PY='
import json, re, subprocess
T = os.environ["T"]
'"$_FRONTS_OF_PY"'
fronts_of = fronts_of_socks
# A new IMAP connection on a front of our choice (or not on one): the
# kernel picks, so try until it does; use it at once (idle-timeout 10s).
def conn(port, want=None, avoid=None):
    for i in range(40):
        m = imap(port)
        f = fronts_of([m.sock], "imap")[0]
        if (want is None or f == want) and f != avoid:
            return m, f
        m.shutdown()
    raise AssertionError("no connection on front %r" % want)
'

fronts_px() {
	local script=$1; shift
	T=$T SMTPCERTCTL=$SMTPCERTCTL px_py "$_FRONTS_PX_PY
$script" "$@"
}

fronts_raw() {
	local script=$1; shift
	SMTPCERTCTL=$SMTPCERTCTL smtp_raw "$_FRONTS_PY
$script" "$@"
}

fronts_start() {
	smtp_env
	SMTP_GLOBAL="front processes 3
${FRONTS_GLOBAL:-}" smtp_start || return 1
	[ "$(front_pids | wc -l)" = 3 ] || { ctl show status; fail "not 3 fronts"; }
}

# 9 held sessions: on at least two fronts, each row naming a running
# front's number and pid; one session killed on each front that holds
# any; the connection counter is the sum over the fronts.
test_fronts_sessions_kill_and_stats() {
	fronts_start || return 1
	fronts_raw '
cs = []
for i in range(9):
    c = C(sys.argv[1]); c.expect(220); c.ehlo(); cs.append(c)
fr = fronts_of(cs)
print("fronts:", fr)
assert len(set(fr)) >= 2, "all on one front: %r" % fr
json.dump(fr, open(T + "/fronts.json", "w"))
# One victim per front, killed by smtpcertctl; each gets the 421.
victims = {}
for c, f in zip(cs, fr):
    victims.setdefault(f, c)
rows = {r["id"]: r for r in sessions()}
assert len(rows) == 9, rows
pids = set(r["pid"] for r in rows.values())
open(T + "/row-pids", "w").write("\n".join(str(p) for p in sorted(pids)) + "\n")
for f, c in sorted(victims.items()):
    port = c.s.getsockname()[1]
    sid = [m.group(1) for m in re.finditer(r"session=([0-9a-f]+) event=connect proto=smtp client=127\.0\.0\.1:%d\b" % port, open(T + "/smtpcertd.log").read())][0]
    out = ctl("session", "kill", sid)
    assert out.strip() == "session %s killed" % sid, out
    c.expect(421, "administrator")
    assert c.closed(), "still open after the kill"
    print("front %d: killed %s" % (f, sid))
left = sessions()
assert len(left) == 9 - len(victims), left
open(T + "/killed", "w").write(str(len(victims)))
' "$SUB_PORT" >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "sessions across fronts"; return 1; }
	cat "$T/py.out"
	# The pids in the rows are running fronts'.
	front_pids | sort >"$T/front-pids"
	comm -23 <(sort "$T/row-pids") "$T/front-pids" | grep . &&
	    fail "a row names a pid that is no front"
	ctl show sessions >"$T/sess.txt" || fail "show sessions"
	grep -Eq '^ID +PROTO +STATE .* FRONT$' "$T/sess.txt" || fail "no FRONT column"
	counter_is connections.smtp 9
	counter_is connections.killed "$(cat "$T/killed")"
	# Every front answered: nothing missing from the sums.
	ctl -j show stats >"$T/stats.json"
	$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert not d.get("missing"), d.get("missing")
' "$T/stats.json" || fail "show stats partial"
}

# max-sessions 4 for the gateway: four held sessions (wherever they
# landed), then every further connection gets the 421 on whichever front
# takes it; one closed, and the next one is admitted.
test_fronts_max_sessions() {
	FRONTS_GLOBAL="limit max-sessions 4" fronts_start || return 1
	fronts_raw '
cs = []
for i in range(4):
    c = C(sys.argv[1]); c.expect(220); cs.append(c)
print("held on fronts", fronts_of(cs))
refused = []
for i in range(9):
    c = C(sys.argv[1])
    c.expect(421, "Too many sessions")
    assert c.closed(), "open after the 421"
    refused.append(c)
print("9 refused")
assert len(sessions()) == 4
cs[0].cmd("QUIT", 221); cs[0].close()
# The front that held it lowers its count as it frees the session.
for i in range(50):
    if len(sessions()) == 3:
        break
    time.sleep(0.1)
c = C(sys.argv[1]); c.expect(220)
print("admitted again")
' "$SUB_PORT" >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "max-sessions across fronts"; return 1; }
	cat "$T/py.out"
	counter_is connections.too-many 9
}

# max-auth-failures 3: two wrong passwords on one front and one on
# another lock bob out, also on the third front (or the second, which saw
# only one); a right password there gets the 454, without LDAP.
test_fronts_failed_logins_add_up() {
	SMTP_POLICY=$SMTP_POLICY_AUTH_ONLY SMTP_PROFILE=ldap-users \
	    FRONTS_GLOBAL="limit max-auth-failures 3" fronts_start || return 1
	fronts_raw '
cs = []
for i in range(9):
    c = C(sys.argv[1], tls=True); c.ehlo(); cs.append(c)
fr = fronts_of(cs)
print("fronts:", fr)
by = {}
for c, f in zip(cs, fr):
    by.setdefault(f, []).append(c)
fs = sorted(by, key=lambda f: -len(by[f]))
assert len(fs) >= 2, "all on one front: %r" % fr
a, b = fs[0], fs[1]
# Two failures on front a (on two connections if it has them), one on b.
auth_plain(by[a][0], "bob", "wrong1", 535)
auth_plain(by[a][-1], "bob", "wrong2", 535)
auth_plain(by[b][0], "bob", "wrong3", 535)
# Each refusal came once the other fronts had the failure: no waiting.
last = by[fs[2]][0] if len(fs) > 2 else by[b][-1]
auth_plain(last, "bob", "bobpw", 454, "Too many failed")
print("locked out on front", fs[2] if len(fs) > 2 else b)
# Front a, which counted two itself, says the same.
auth_plain(by[a][0], "bob", "bobpw", 454, "Too many failed")
' "$SMTPS_PORT" >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "failed logins across fronts"; return 1; }
	cat "$T/py.out"
	# The blocked attempts never reached LDAP.
	log_count_is 'event=auth .*user=bob result=blocked reason="too many failed attempts"' 2 ||
	    fail "blocked attempts not logged"
	log_count_is 'ldap "corp" query "users" user "bob": ok' 0 ||
	    fail "a blocked attempt reached LDAP"
}

# A client refused for a failed login who tries again at once on another
# connection, on whichever front the kernel put it, meets the lockout
# there: the refusal waits until the parent has passed the failure on to
# the other fronts.  40 rounds, each from an address of its own, with two
# connections greeted: one failure on the first (the limit is 1: an
# unknown user of its own), then at once the right password on the
# second, 454.  Most rounds cross fronts; without the wait some of those
# got 235.
test_fronts_lockout_holds_on_reconnect() {
	SMTP_POLICY="tls preferred
require smtp-auth" SMTP_PROFILE=ldap-users \
	    FRONTS_GLOBAL="limit max-auth-failures 1
limit auth-failure-window 1h" fronts_start || return 1
	fronts_raw '
def sess(src):
    c = C.__new__(C)
    c.s = socket.create_connection((HOST, int(sys.argv[1])), timeout=10,
                                   source_address=(src, 0))
    c.buf = b""
    c.expect(220)
    c.ehlo()
    return c
cross = 0
for i in range(40):
    src = "127.0.1.%d" % (i + 1)
    b = sess(src)
    a = sess(src)
    auth_plain(a, "nobody%d" % i, "wrong", 535)
    auth_plain(b, "bob", "bobpw", 454, "Too many failed")
    fa, fb = fronts_of([a, b])
    if fa != fb:
        cross += 1
    a.close()
    b.close()
print("rounds across two fronts: %d of 40" % cross)
assert cross >= 5, "the kernel kept the rounds on one front"
' "$SUB_PORT" >"$T/py.out" 2>&1 || { grep -v "^[SC]: " "$T/py.out" | tail -20; fail "a reconnect got past the lockout"; return 1; }
	grep "^rounds" "$T/py.out"
	log_count_is 'event=auth .*user=bob result=blocked reason="too many failed attempts"' 40 ||
	    fail "blocked attempts not logged"
}

# A front that does not confirm a failure passed on to it (stopped with
# SIGSTOP) is waited for no longer after about a second: a wrong password
# on another front still gets its 535, and the parent logs which front
# it waited for.
test_fronts_stopped_front_not_waited_for() {
	SMTP_POLICY="tls preferred
require smtp-auth" SMTP_PROFILE=ldap-users \
	    FRONTS_GLOBAL="limit max-auth-failures 3" fronts_start || return 1
	local stopped
	stopped=$(front_pids | head -1)
	kill -STOP "$stopped"
	fronts_raw '
# A connection greeted within a second is not on the stopped front.
for i in range(40):
    try:
        c = C.__new__(C)
        c.s = socket.create_connection((HOST, int(sys.argv[1])), timeout=1)
        c.buf = b""
        c.expect(220)
        break
    except (socket.timeout, EOFError):
        c.close()
else:
    raise AssertionError("no running front greeted")
c.s.settimeout(10)
c.ehlo()
t0 = time.time()
auth_plain(c, "bob", "wrong", 535)
e = time.time() - t0
print("535 after %.2fs with a front stopped" % e)
assert e < 8, e
' "$SUB_PORT" >"$T/py.out" 2>&1
	local rc=$?
	kill -CONT "$stopped"
	cat "$T/py.out"
	[ $rc = 0 ] || { fail "no 535 with a front stopped"; return 1; }
	log_count_is 'front [0-9]+ did not confirm a failed login counted by front [0-9]+ within 1s' 1 ||
	    fail "the wait was not logged"
}

# The same for the e-mail proxy: 12 rounds over IMAP, each from an
# address of its own, with two connections on two different fronts: a
# failed login on one (an unknown user, the limit is 1), then at once bob's
# right password on the other is refused as blocked.
test_fronts_proxy_lockout_holds_on_reconnect() {
	px_env
	PX_MAX_AUTH_FAILURES=1 PX_GLOBAL="front processes 3
limit auth-failure-window 1h" px_start || return 1
	[ "$(front_pids | wc -l)" = 3 ] || { ctl show status; fail "not 3 fronts"; return 1; }
	fronts_px '
P = int(sys.argv[1])
class From(imaplib.IMAP4_SSL):
    def __init__(self, port, src):
        self.src = src
        imaplib.IMAP4_SSL.__init__(self, "127.0.0.1", port, ssl_context=ctx(), timeout=20)
    def _create_socket(self, timeout):
        s = socket.create_connection((self.host, self.port), timeout,
                                     source_address=(self.src, 0))
        return self.ssl_context.wrap_socket(s, server_hostname=self.host)
def front(m):
    return fronts_of([m.sock], "imap")[0]
for i in range(12):
    src = "127.0.2.%d" % (i + 1)
    b = From(P, src)
    for k in range(40):
        a = From(P, src)
        if front(a) != front(b):
            break
        a.shutdown()
    else:
        raise AssertionError("no second front")
    expect_no(lambda: a.login("nobody%d" % i, "wrong"), "AUTHENTICATIONFAILED")
    expect_no(lambda: b.login("bob", "bobpw"), "UNAVAILABLE")
    a.shutdown()
    b.shutdown()
print("12 rounds across two fronts, each refused")
' "$P_IMAP" >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "a reconnect got past the lockout"; return 1; }
	cat "$T/py.out"
	log_count_is 'event=login .*user=bob .*result=blocked' 12 ||
	    fail "blocked logins not logged"
}

# One front killed: the parent restarts it; a session held on another
# front goes on and relays its message meanwhile; afterwards there are
# three fronts again and new sessions are served.
test_fronts_restart_one() {
	fronts_start || return 1
	local victim
	fronts_raw '
cs = []
for i in range(9):
    c = C(sys.argv[1]); c.expect(220); c.ehlo(); cs.append(c)
fr = fronts_of(cs)
print("fronts:", fr)
rows = sessions()
pid = {r["front"]: r["pid"] for r in rows}
assert len(pid) >= 2, "all on one front"
victim = sorted(pid)[0]
survivor = [c for c, f in zip(cs, fr) if f != victim][0]
open(T + "/victim", "w").write(str(pid[victim]))
open(T + "/victim.ready", "w").close()
assert wait_file(T + "/victim.killed", 20), "not killed"
# The session on the other front is still served.
survivor.cmd("STARTTLS", 220)
survivor.starttls(cert="alice")
survivor.ehlo()
survivor.message(frm="alice@example.test", rcpts=("bob@example.test",))
survivor.cmd("QUIT", 221)
print("survivor relayed")
' "$SUB_PORT" >"$T/py.out" 2>&1 &
	local client=$!
	wait_file "$T/victim.ready" 30 || { cat "$T/py.out"; fail "client not ready"; return 1; }
	victim=$(cat "$T/victim")
	kill -9 "$victim"
	touch "$T/victim.killed"
	wait "$client" || { cat "$T/py.out"; fail "survivor"; return 1; }
	cat "$T/py.out"
	up_assert_count 1
	# Restarted: three fronts again, the victim's pid gone, one restart.
	local i=0
	while [ $i -lt 100 ]; do
		[ "$(front_pids | wc -l)" = 3 ] && ! front_pids | grep -qx "$victim" && break
		sleep 0.1; i=$((i + 1))
	done
	ctl show status
	[ "$(front_pids | wc -l)" = 3 ] || fail "not restarted"
	front_pids | grep -qx "$victim" && fail "the killed front is still listed"
	ctl show status | awk '$1 == "front" { r += $5 } END { exit r != 1 }' ||
	    fail "not one restart"
	grep -q "front (pid $victim) terminated by signal 9" "$T/smtpcertd.log" ||
	    fail "death not logged"
	# New sessions on every socket, the restarted front's included.
	fronts_raw '
cs = []
for i in range(9):
    c = C(sys.argv[1]); c.expect(220); cs.append(c)
print("served again on fronts", sorted(set(fronts_of(cs))))
' "$SUB_PORT" >"$T/py2.out" 2>&1 || { cat "$T/py2.out"; fail "not served after the restart"; }
	cat "$T/py2.out"
}

# A reload reaches every front: each acknowledges the new generation, and
# new sessions on several fronts greet with the new host name.
test_fronts_reload() {
	fronts_start || return 1
	sed -i 's/^hostname "gw.example.test"/hostname "gw2.example.test"/' "$T/smtpcertd.conf"
	ctl reload || fail "reload"
	local i=0
	while [ $i -lt 100 ]; do
		ctl show status | awk '$1 == "front" && $6 == 2 { n++ } END { exit n != 3 }' && break
		sleep 0.1; i=$((i + 1))
	done
	ctl show status
	ctl show status | awk '$1 == "front" && $6 == 2 { n++ } END { exit n != 3 }' ||
	    fail "not every front has generation 2"
	fronts_raw '
cs = []
for i in range(9):
    c = C(sys.argv[1]); c.expect(220, "gw2.example.test"); cs.append(c)
fr = fronts_of(cs)
assert len(set(fr)) >= 2, fr
print("new host name on fronts", sorted(set(fr)))
' "$SUB_PORT" >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "reload not on every front"; }
	cat "$T/py.out"
	# A change of the count itself waits for a restart, and says so.
	sed -i 's/^front processes 3/front processes 2/' "$T/smtpcertd.conf"
	ctl reload || fail "second reload"
	grep -q "front processes changes take effect at restart; 3 front processes keep running" \
	    "$T/smtpcertd.log" || fail "no warning"
	[ "$(front_pids | wc -l)" = 3 ] || fail "fronts changed at reload"
}

# The e-mail proxy's simultaneous-logins (bob's group policy: 2) holds
# for the gateway: bob logged in on two fronts, a third login is refused
# on every front; one logout, and a login on a front that already holds
# one of his sessions is accepted.
test_fronts_simultaneous_logins() {
	px_env
	PX_USERS_LIMIT=2 PX_GLOBAL="front processes 3" px_start || return 1
	[ "$(front_pids | wc -l)" = 3 ] || { ctl show status; fail "not 3 fronts"; return 1; }
	fronts_px '
P = int(sys.argv[1])
m1, a = conn(P)
m1.login("bob", "bobpw")
m2, b = conn(P, avoid=a)
m2.login("bob", "bobpw")
print("bob on fronts", a, "and", b)
# The third login, on every front.
for f in range(3):
    m, _ = conn(P, want=f)
    e = expect_no(lambda: m.login("bob", "bobpw"), "[LIMIT]")
    assert "too many simultaneous logins (limit 2)" in e, e
    m.shutdown()
    print("front %d: refused" % f)
m2.logout()
for i in range(50):
    if len([r for r in sessions() if r["user"] == "bob"]) == 1:
        break
    time.sleep(0.1)
m3, _ = conn(P, want=a)
m3.login("bob", "bobpw")
print("front %d: admitted after the logout on front %d" % (a, b))
' "$P_IMAP" >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "simultaneous logins across fronts"; return 1; }
	cat "$T/py.out"
	log_count_is 'event=login-limit .*user=bob .*limit=2' "$(grep -c 'refused$' "$T/py.out")" ||
	    fail "refusals not logged"
}

# piggyback: bob's relayed session on one front lets a piggyback login
# through on another front; once he logged out, on none.
test_fronts_piggyback() {
	px_env
	PX_GLOBAL="front processes 3" px_start || return 1
	fronts_px '
P, PIG = int(sys.argv[1]), int(sys.argv[2])
b, bf = conn(P)
b.login("bob", "bobpw"); b.select("INBOX")
m, of = conn(PIG, avoid=bf)
m.login("bob:mbox1", "anything:mbox1-mail"); m.select("INBOX"); m.logout()
print("piggyback on front %d leaning on front %d" % (of, bf))
b.logout()
for i in range(50):
    if not [r for r in sessions() if r["user"] == "bob"]:
        break
    time.sleep(0.1)
for f in range(3):
    m, _ = conn(PIG, want=f)
    expect_no(lambda: m.login("bob:mbox1", "anything:mbox1-mail"), "AUTHENTICATIONFAILED")
    m.shutdown()
print("refused on every front after the logout")
' "$P_IMAP" "$P_PIGGY" >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "piggyback across fronts"; return 1; }
	cat "$T/py.out"
	grep -Eq 'event=login .*user=bob method=piggyback' "$T/smtpcertd.log" ||
	    fail "no piggyback login"
}

# unauthenticated-limit 3 of the POP3 profile, for the gateway: bob
# logged in, alice's session authenticating (USER sent), then twelve
# unauthenticated sessions one after the other, wherever the kernel puts
# them.  From the third on, each new one closes exactly the oldest
# unauthenticated session of the gateway (never alice's, never bob's),
# on its own front or on another one (the requests through the parent:
# at least one, logged with for-front); then with only authenticating
# sessions left, a new one closes alice's, the oldest of them.
test_fronts_unauthenticated_limit() {
	px_env
	PX_UNAUTH_LIMIT=3 PX_GLOBAL="front processes 3" px_start || return 1
	[ "$(front_pids | wc -l)" = 3 ] || { ctl show status; fail "not 3 fronts"; return 1; }
	fronts_px '
P = int(sys.argv[1])
def greet(s):
    l = readline(s); assert l.startswith("+OK"), l
    return s
def alive(s):
    s.send(b"CAPA\r\n"); l = readline(s)
    if not l.startswith("+OK"):
        return False
    while l and l != ".\r\n":
        l = readline(s)
    return l == ".\r\n"
def closed(s):
    s.settimeout(10)
    l = readline(s)
    while l:
        if "unauthenticated" in l:
            return readline(s) == ""
        l = readline(s)
    return True
def front(s):
    return fronts_of([s], "pop3")[0]
authed = pop(P); authed.user("bob"); authed.pass_("bobpw")
a1 = greet(raw(P)); a1.send(b"USER alice\r\n"); assert readline(a1).startswith("+OK")
fa = front(a1)
live = []                  # unauthenticated, oldest first: (sock, front)
cross = 0
for i in range(12):
    s = greet(raw(P)); f = front(s)
    if len(live) == 2:     # alice + 2 + this one: over 3
        old, of = live.pop(0)
        assert closed(old), "the oldest (front %d) not closed" % of
        cross += of != f
        print("new on front %d closed the oldest on front %d" % (f, of))
    live.append((s, f))
    for o, _ in live:
        assert alive(o), "a younger one closed"
    assert alive(a1), "the authenticating session closed"
print("cross-front evictions:", cross)
assert cross >= 1, "every eviction on the same front"
assert authed.stat() is not None
# Only authenticating sessions: alice is the oldest of them.
for o, _ in live:
    o.send(b"USER carol\r\n"); assert readline(o).startswith("+OK")
n = greet(raw(P)); fn = front(n)
assert closed(a1), "alice (front %d) not closed" % fa
print("new on front %d closed the oldest authenticating on front %d" % (fn, fa))
for o, _ in live:
    assert alive(o)
assert authed.stat() is not None
authed.quit()
open(os.environ["T"] + "/cross", "w").write(str(cross + (fa != fn)))
' "$P_POP" >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "unauthenticated-limit across fronts"; return 1; }
	cat "$T/py.out"
	log_count_is 'event=evicted .*unauthenticated-limit 3 of proxy pop-aaa reached: closing this unauthenticated session' 10 ||
	    fail "not ten evictions of unauthenticated sessions"
	log_count_is 'event=evicted .*closing this authenticating session' 1 ||
	    fail "not one eviction of an authenticating session"
	log_count_is 'event=evicted .*for-front=' "$(cat "$T/cross")" ||
	    fail "cross-front evictions not as many as logged"
}

# max-auth-failures 3: three wrong passwords lock bob out; then every
# front is killed (SIGKILL) and restarted by the parent, which hands the
# new ones its copy of the failures: bob's right password still gets the
# 454 on every front, and never reaches LDAP.
test_fronts_restarted_front_keeps_lockout() {
	SMTP_POLICY=$SMTP_POLICY_AUTH_ONLY SMTP_PROFILE=ldap-users \
	    FRONTS_GLOBAL="limit max-auth-failures 3" fronts_start || return 1
	fronts_raw '
for pw in ("wrong1", "wrong2", "wrong3"):
    c = C(sys.argv[1], tls=True); c.ehlo()
    auth_plain(c, "bob", pw, 535)
    c.cmd("QUIT", 221)
print("three failures")
' "$SMTPS_PORT" >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "failures"; return 1; }
	local old
	old=$(front_pids | sort)
	[ "$(echo "$old" | wc -l)" = 3 ] || fail "not 3 fronts"
	# The parent had each failure before its 535 went out: no waiting.
	kill -9 $old
	local i=0
	while [ $i -lt 150 ]; do
		[ "$(front_pids | wc -l)" = 3 ] &&
		    [ -z "$(comm -12 <(front_pids | sort) <(echo "$old"))" ] && break
		sleep 0.1; i=$((i + 1))
	done
	ctl show status
	[ -z "$(comm -12 <(front_pids | sort) <(echo "$old"))" ] &&
	    [ "$(front_pids | wc -l)" = 3 ] || { fail "not restarted"; return 1; }
	wait_port "$SMTPS_PORT" 10
	fronts_raw '
cs = []
for i in range(9):
    c = C(sys.argv[1], tls=True); c.ehlo(); cs.append(c)
fr = fronts_of(cs)
print("fronts:", fr)
seen = set()
for c, f in zip(cs, fr):
    if f in seen:
        continue
    auth_plain(c, "bob", "bobpw", 454, "Too many failed")
    seen.add(f)
    print("restarted front %d: bob still locked out" % f)
assert len(seen) >= 2, fr
' "$SMTPS_PORT" >"$T/py2.out" 2>&1 || { cat "$T/py2.out"; fail "lockout lost in the restart"; return 1; }
	cat "$T/py2.out"
	log_count_is 'ldap "corp" query "users" user "bob": ok' 0 ||
	    fail "a blocked attempt reached LDAP"
}

run_test test_fronts_sessions_kill_and_stats
run_test test_fronts_max_sessions
run_test test_fronts_failed_logins_add_up
run_test test_fronts_lockout_holds_on_reconnect
run_test test_fronts_proxy_lockout_holds_on_reconnect
run_test test_fronts_stopped_front_not_waited_for
run_test test_fronts_restart_one
run_test test_fronts_reload
run_test test_fronts_simultaneous_logins
run_test test_fronts_piggyback
run_test test_fronts_unauthenticated_limit
run_test test_fronts_restarted_front_keeps_lockout
finish
