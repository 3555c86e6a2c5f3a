#!/bin/bash
# The e-mail proxy end to end (SPEC 6, the second seed): POP3S, IMAP4S and
# SMTPS listeners in front of a real Dovecot and the recording SMTP
# upstream, users in a real slapd, real clients (curl, Python imaplib and
# poplib, swaks).
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
. "$REGRESS/lib/dovecot.sh"
. "$REGRESS/lib/proxy.sh"
smtp_init || exit 1

px_up() {
	px_env
	px_bad_backends
	px_start
}

# aaa: IMAP (select, append, fetch, idle) and POP3 (stat, retr, dele)
# through the proxy answer exactly as Dovecot does directly; accounting
# start/stop records in the file (JSON lines) and the log; show sessions.
test_proxy_aaa_sessions_match_dovecot_and_are_accounted() {
	px_up
	px_py '
import json
P, DIRECT, POPP, POPD = (int(a) for a in sys.argv[1:5])
def imap_session(m):
    out = []
    out.append(m.select("INBOX"))
    out.append(m.append("INBOX", None, None, b"Subject: t\r\n\r\nhello proxy\r\n"))
    out.append(m.select("INBOX"))
    out.append(m.fetch("1", "(BODY[TEXT])"))
    out.append(m.search(None, "ALL"))
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    out.append(m.readline())
    m.send(b"DONE\r\n")
    out.append(m.readline())
    import re
    # Timings and the new message UID are Dovecot'"'"'s, not ours.
    return [re.sub(r"APPENDUID \d+ \d+|\(\d+\.\d+ \+ [^)]*\)", "X",
        repr(x).replace(tag.decode(), "TAG")) for x in out]
m = imap(P); m.login("alice", "alicepw")
via = imap_session(m)
# a second session through the proxy shows what the first stored
m2 = imap(P); m2.login("alice", "alicepw")
m2.select("INBOX")
assert m2.fetch("1", "(BODY[TEXT])")[1][0][1] == b"hello proxy\r\n"
m2.logout()
m.store("1", "+FLAGS", "\\Deleted"); m.expunge(); m.logout()
d = imaplib.IMAP4("127.0.0.1", DIRECT); d.login("alice", "alicepw")
direct = imap_session(d)
d.store("1", "+FLAGS", "\\Deleted"); d.expunge(); d.logout()
assert via == direct, (via, direct)
print("imap same:", via)
# POP3: a message for bob, read and deleted through the proxy
d = imaplib.IMAP4("127.0.0.1", DIRECT); d.login("bob", "bobpw")
d.append("INBOX", None, None, b"Subject: p\r\n\r\nline one\r\n"); d.logout()
def pop_session(p):
    r = [p.stat(), p.list()[1], p.retr(1)[1], p.uidl()]
    return r
p = pop(POPP); p.user("bob"); p.pass_("bobpw")
via = pop_session(p); p.quit()
p = poplib.POP3("127.0.0.1", POPD); p.user("bob"); p.pass_("bobpw")
direct = pop_session(p); print(p.dele(1)); p.quit()
assert via == direct, (via, direct)
print("pop same:", via)
p = pop(POPP); p.user("bob"); p.pass_("bobpw")
assert p.stat()[0] == 0; p.quit()
' "$P_IMAP" "$DC_IMAP_PORT" "$P_POP" "$DC_POP3_PORT"
	# show sessions with a live session, text and JSON
	px_py '
m = imap(int(sys.argv[1])); m.login("bob", "bobpw"); m.select("INBOX")
import subprocess
t = subprocess.run(sys.argv[2:] + ["show", "sessions"], capture_output=True, text=True).stdout
j = subprocess.run(sys.argv[2:] + ["-j", "show", "sessions"], capture_output=True, text=True).stdout
print(t); print(j)
import json
rows = json.loads(j)["sessions"]
r = [x for x in rows if x["user"] == "bob"]
assert len(r) == 1 and r[0]["state"] == "relaying" and r[0]["protocol"] == "imap", rows
assert r[0]["backend"].startswith("127.0.0.1:") and r[0]["bytes_out"] > 0, r
assert " bob " in t and "relaying" in t, t
m.logout()
' "$P_IMAP" "$SMTPCERTCTL" -s "$T/ctl.sock"
	wait_log "$T/acct.jsonl" '"event":"stop".*"protocol":"imap".*"user":"bob"' 5 ||
	    fail "no stop record for bob"
	"$PY" - "$T/acct.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
starts = [r for r in recs if r["event"] == "start"]
stops = [r for r in recs if r["event"] == "stop"]
assert len(starts) >= 5 and len(stops) >= 5, recs
for r in recs:
    for k in ("time", "proxy", "session", "protocol", "user", "client", "backend",
              "bytes_in", "bytes_out", "duration", "result"):
        assert k in r, (k, r)
    assert r["client"] == "127.0.0.1"
a = [r for r in stops if r["user"] == "alice" and r["protocol"] == "imap"]
assert a and all(r["bytes_in"] > 0 and r["bytes_out"] > 0 for r in a), a
assert any(r["protocol"] == "pop3" and r["user"] == "bob" for r in stops)
print("accounting ok:", len(recs), "records")
EOF
	grep -Eq 'event=accounting proto=imap client=127\.0\.0\.1:[0-9]+ proxy=imap-aaa acct=start user=alice backend=127\.0\.0\.1:' \
	    "$T/smtpcertd.log" || fail "no accounting log line"
	grep -Eq 'event=accounting proto=pop3 .*proxy=pop-aaa acct=stop user=bob .* result=' \
	    "$T/smtpcertd.log" || fail "no pop3 stop log line"
	# curl against both, like a mail client would
	timeout 20 curl -sS --cacert "$PKI/chain.pem" --user alice:alicepw \
	    "imaps://127.0.0.1:$P_IMAP/INBOX" -X 'EXAMINE INBOX' >"$T/curl1" ||
	    fail "curl imaps failed"
	grep -q EXISTS "$T/curl1" || fail "curl imaps: $(cat "$T/curl1")"
	timeout 20 curl -sS --cacert "$PKI/chain.pem" --user bob:bobpw \
	    "pop3s://127.0.0.1:$P_POP/" >"$T/curl2" || fail "curl pop3s failed"
	! timeout 20 curl -sS --cacert "$PKI/chain.pem" --user bob:wrong \
	    "pop3s://127.0.0.1:$P_POP/" >"$T/curl3" 2>&1 || fail "wrong password accepted"
}

# certificate: the user name from the certificate per profile (UID, CN,
# EA, EA+O, whole DN); the login name must be it; no certificate, or
# another user's name, is refused.  The back end still gets the mail
# password (delimiters: vpnuser:mailuser, vpnpass:mailpass).
test_proxy_certificate_dn_field_user_names() {
	px_up
	local cn dn
	cn=$(pki_cn "$PKI" alice)
	dn=$(openssl x509 -in "$PKI/alice.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
	px_py '
CUID, CCN, CEA, CEAO, CDN = (int(a) for a in sys.argv[1:6])
cn, dn = sys.argv[6], sys.argv[7]
def ok(port, user, pw, cert="alice"):
    m = imap(port, cert); r = m.login(user, pw); m.select("INBOX"); m.logout(); return r
print(ok(CUID, "alice", "alicepw"))
print(ok(CCN, cn + ":alice", "x:alicepw"))
print(ok(CEA, "alice@example.test:alice", "x:alicepw"))
print(ok(CEAO, "\"alice@example.test Example Test:alice\"", "x:alicepw"))
print(ok(CDN, "\"" + dn.replace("\\", "\\\\").replace("\"", "\\\"") + ":alice\"", "x:alicepw"))
# EA: the plain uid or the CN is not the name -- and the certificate
# binds the login to the name it gives (issue 13)
expect_no(lambda: ok(CEA, "alice", "alicepw"), "AUTHORIZATIONFAILED")
expect_no(lambda: ok(CCN, "alice", "alicepw"), "AUTHORIZATIONFAILED")
# EA+O: the e-mail address alone is not enough
expect_no(lambda: ok(CEAO, "alice@example.test:alice", "x:alicepw"), "AUTHORIZATIONFAILED")
# no certificate, or bob claiming alice
expect_no(lambda: ok(CUID, "alice", "alicepw", None), "AUTHENTICATIONFAILED")
# (bob certificate has no UID: it names nobody, so it binds nothing)
expect_no(lambda: ok(CUID, "alice", "alicepw", "bob"), "AUTHENTICATIONFAILED")
' "$P_CUID" "$P_CCN" "$P_CEA" "$P_CEAO" "$P_CDN" "$cn" "$dn"
	# curl with and without --cert
	timeout 20 curl -sS --cacert "$PKI/chain.pem" --cert "$PKI/alice.crt" \
	    --key "$PKI/alice.key" --user alice:alicepw \
	    "imaps://127.0.0.1:$P_CUID/INBOX" -X 'EXAMINE INBOX' >"$T/c1" ||
	    fail "curl --cert refused"
	! timeout 20 curl -sS --cacert "$PKI/chain.pem" --user alice:alicepw \
	    "imaps://127.0.0.1:$P_CUID/INBOX" -X 'EXAMINE INBOX' >"$T/c2" 2>&1 ||
	    fail "no certificate accepted"
	grep -Eq 'event=login .*user=alice method=certificate .*result=ok' "$T/smtpcertd.log" ||
	    fail "no certificate log line"
}

# Delimiters (default ":" "@", and "#" "%"), the allowed-server check,
# the default server, mailhost (the back end decides).
test_proxy_delimiters_and_allowed_servers() {
	px_up
	px_py '
P, MH = int(sys.argv[1]), int(sys.argv[2])
def login(port, u, pw):
    m = imap(port); r = m.login(u, pw); m.select("INBOX"); m.logout(); return r
print(login(P, "alice:mbox1", "alicepw:mbox1-mail"))       # vpn alice, mail mbox1
print(login(P, "alice@localhost", "alicepw"))               # allowed server, IMAPS
print(login(P, "alice:mbox1@localhost", "alicepw:mbox1-mail"))
print(login(P, "alice@127.0.0.1", "alicepw"))               # the default by address
e = expect_no(lambda: login(P, "alice@10.9.9.9", "alicepw"), "AUTHORIZATIONFAILED")
assert "server not allowed" in e, e
# an address: the part after @ is no configured server -> refused, never
# passed on as part of the user name (issue 13)
e = expect_no(lambda: login(P, "alice:alice@example.test", "alicepw:x"), "AUTHORIZATIONFAILED")
assert "server not allowed" in e, e
expect_no(lambda: login(P, "alice:mbox1", "alicepw:wrong"), "AUTHENTICATIONFAILED")
expect_no(lambda: login(P, "alice:mbox1", "wrong:mbox1-mail"), "AUTHENTICATIONFAILED")
# mailhost with delimiters "#" and "%"
print(login(MH, "whoever#mbox1", "x#mbox1-mail"))
print(login(MH, "bob%localhost", "bobpw"))
e = expect_no(lambda: login(MH, "bob%evil.example", "bobpw"), "AUTHORIZATIONFAILED")
expect_no(lambda: login(MH, "bob", "wrong"), "AUTHENTICATIONFAILED")
' "$P_IMAP" "$P_MH"
	grep -Eq 'event=login .*result=unauthorized reason="server not allowed"' \
	    "$T/smtpcertd.log" || fail "no refusal logged"
	grep -Eq 'event=backend .*backend=localhost:'"$DC_IMAPS_PORT"' backend-tls=TLSv1' "$T/smtpcertd.log" ||
	    fail "no implicit TLS back end"
	grep -Eq 'event=backend .*backend=127\.0\.0\.1:'"$DC_IMAP_PORT"' backend-tls=TLSv1' "$T/smtpcertd.log" ||
	    fail "no STARTTLS back end"
	! grep -q '10.9.9.9' "$T/dc/dovecot.log" || fail "refused server reached"
}

# Group policy from LDAP (alice: staff, 2 logins), the default group
# policy (bob), no group policy at all (refused), and the simultaneous
# login limit counting IMAP and POP3 sessions together.
test_proxy_group_policy_and_simultaneous_logins() {
	px_up
	px_py '
P, POPP, NOGP = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
a1 = imap(P); a1.login("alice", "alicepw")
a2 = pop(POPP); a2.user("alice"); a2.pass_("alicepw")
e = expect_no(lambda: imap(P).login("alice", "alicepw"), "[LIMIT]")
assert "too many simultaneous logins (limit 2)" in e, e
e = expect_no(lambda: (lambda p: (p.user("alice"), p.pass_("alicepw")))(pop(POPP)), "[IN-USE]")
assert "limit 2" in e, e
a2.quit(); time.sleep(0.3)
a3 = imap(P); a3.login("alice", "alicepw"); a3.logout()
bs = []
for i in range(4):
    b = imap(P); b.login("bob", "bobpw"); bs.append(b)
for b in bs: b.logout()
a1.logout()
e = expect_no(lambda: imap(NOGP).login("bob", "bobpw"), "AUTHORIZATIONFAILED")
assert "no group policy" in e, e
' "$P_IMAP" "$P_POP" "$P_NOGP"
	grep -Eq 'event=login .*user=alice method=aaa group-policy=staff' "$T/smtpcertd.log" ||
	    fail "staff not applied"
	grep -Eq 'event=login .*user=bob method=aaa group-policy=users' "$T/smtpcertd.log" ||
	    fail "default group policy not applied"
}

# piggyback: a user name alone (the proxy takes any VPN password) when
# the same user has a live session from the same address.
test_proxy_piggyback() {
	px_up
	px_py '
P, PIG = int(sys.argv[1]), int(sys.argv[2])
expect_no(lambda: imap(PIG).login("bob:mbox1", "anything:mbox1-mail"), "AUTHENTICATIONFAILED")
b = imap(P); b.login("bob", "bobpw"); b.select("INBOX")
m = imap(PIG); m.login("bob:mbox1", "anything:mbox1-mail"); m.select("INBOX"); m.logout()
b.logout(); time.sleep(0.3)
expect_no(lambda: imap(PIG).login("bob:mbox1", "anything:mbox1-mail"), "AUTHENTICATIONFAILED")
' "$P_IMAP" "$P_PIGGY"
	grep -Eq 'event=login .*user=bob method=piggyback' "$T/smtpcertd.log" ||
	    fail "no piggyback login"
}

# SMTPS: AUTH against LDAP (aaa) or the certificate alone, then the
# session is relayed to the back end (the recording upstream).
test_proxy_smtps_aaa_and_certificate() {
	px_up
	timeout 30 swaks --server "127.0.0.1:$P_SMTPS" --tlsc --timeout 15 \
	    --auth PLAIN --auth-user alice --auth-password alicepw \
	    --from alice@example.test --to bob@example.test >"$T/sw1" 2>&1 || :
	grep -q '^<~  *250 ' "$T/sw1" && grep -q '235 2.7.0' "$T/sw1" ||
	    { cat "$T/sw1"; fail "AUTH PLAIN delivery failed"; }
	timeout 30 swaks --server "127.0.0.1:$P_SMTPS" --tlsc --timeout 15 \
	    --tls-cert "$PKI/alice.crt" --tls-key "$PKI/alice.key" \
	    --from alice@example.test --to carol@example.test >"$T/sw2" 2>&1 || :
	upstream_wait_msg "$T/up" 2 10 || { cat "$T/sw2"; fail "certificate delivery failed"; }
	timeout 30 swaks --server "127.0.0.1:$P_SMTPS" --tlsc --timeout 15 \
	    --auth LOGIN --auth-user alice --auth-password wrong \
	    --from alice@example.test --to bob@example.test >"$T/sw3" 2>&1 || :
	grep -q '535 5.7.8' "$T/sw3" || { cat "$T/sw3"; fail "wrong password not refused"; }
	timeout 30 swaks --server "127.0.0.1:$P_SMTPS" --tlsc --timeout 15 \
	    --from alice@example.test --to bob@example.test >"$T/sw4" 2>&1 || :
	grep -q '530 5.7.0' "$T/sw4" || { cat "$T/sw4"; fail "no auth accepted"; }
	[ "$(upstream_msg_count "$T/up")" = 2 ] || fail "wrong message count"
	grep -q '"event":"stop".*"protocol":"smtp".*"user":"alice"' "$T/acct.jsonl" ||
	    fail "no smtp accounting"
}

# A back end with several addresses: the first refuses, the session goes
# on to the next one; a server whose every address refuses gets the
# usual temporary failure.
test_proxy_backend_fails_over_to_next_address() {
	px_env
	px_bad_backends
	PX_SMTP_SERVER="default server \"127.0.0.3\" port $UP_PORT tls none address \"::1\" address \"127.0.0.1\"" \
	    px_start
	timeout 30 swaks --server "127.0.0.1:$P_SMTPS" --tlsc --timeout 15 \
	    --tls-cert "$PKI/alice.crt" --tls-key "$PKI/alice.key" \
	    --from alice@example.test --to bob@example.test >"$T/sw1" 2>&1 || :
	upstream_wait_msg "$T/up" 1 10 || { cat "$T/sw1"; fail "not delivered"; }
	grep -q 'backend .*: address 127\.0\.0\.3: .*trying the next' "$T/smtpcertd.log" ||
	    fail "first address not reported"
	grep -q 'backend .*: address ::1: .*trying the next' "$T/smtpcertd.log" ||
	    fail "second address not reported"
	kill "$(cat "$T/up/upstream.pid")"
	sleep 0.5
	timeout 30 swaks --server "127.0.0.1:$P_SMTPS" --tlsc --timeout 15 \
	    --tls-cert "$PKI/alice.crt" --tls-key "$PKI/alice.key" \
	    --from alice@example.test --to bob@example.test >"$T/sw2" 2>&1 || :
	grep -q '^<~\* *451 ' "$T/sw2" || { cat "$T/sw2"; fail "no temporary failure"; }
	grep -q 'address 127\.0\.0\.1: .*trying the next' "$T/smtpcertd.log" &&
	    fail "tried past the last address"
	return 0
}

# unauthenticated-limit 2: the oldest unauthenticated session goes first,
# then the oldest authenticating one; authenticated ones never.
test_proxy_unauthenticated_limit_eviction() {
	PX_UNAUTH_LIMIT=2 px_up
	px_py '
POPP = int(sys.argv[1])
def greet(s): l = readline(s); assert l.startswith("+OK"), l; return s
def alive(s):
    s.send(b"CAPA\r\n"); l = readline(s); return l.startswith("+OK")
def closed(s):
    s.settimeout(5)
    l = readline(s)
    while l and l.startswith("-ERR") is False and l != "":
        l = readline(s)
    return l == "" or "unauthenticated" in l
authed = pop(POPP); authed.user("bob"); authed.pass_("bobpw")
u1 = greet(raw(POPP))                        # unauthenticated, oldest
a1 = greet(raw(POPP)); a1.send(b"USER alice\r\n"); assert readline(a1).startswith("+OK")
time.sleep(0.2)
n1 = greet(raw(POPP))                        # evicts u1 (unauthenticated)
assert closed(u1), "u1 not evicted"
assert alive(a1)
# now: a1 authenticating, n1 unauthenticated; make n1 authenticating too
n1.send(b"USER carol\r\n"); assert readline(n1).startswith("+OK")
time.sleep(0.2)
n2 = greet(raw(POPP))                        # no unauthenticated: evicts a1
assert closed(a1), "a1 not evicted"
assert alive(n1) and alive(n2)
assert authed.stat() is not None             # the authenticated one lives
authed.quit()
print("eviction order ok")
' "$P_POP"
	[ "$(grep -c 'unauthenticated-limit 2 of proxy pop-aaa reached' "$T/smtpcertd.log")" = 2 ] ||
	    fail "two evictions expected"
	grep -q 'closing this unauthenticated session' "$T/smtpcertd.log" &&
	    grep -q 'closing this authenticating session' "$T/smtpcertd.log" ||
	    fail "eviction order not logged"
}

# Hostile or broken input: garbage before login, overlong lines, a
# literal too big, a back end that closes or never answers, a server not
# allowed: each a clear reply or close, and the daemon keeps serving.
test_proxy_bad_input() {
	px_up
	px_py '
P, POPP = int(sys.argv[1]), int(sys.argv[2])
s = raw(P); readline(s)
s.send(b"\x00\x01garbage\r\n"); l = readline(s); assert "BAD" in l, l
s.send(b"a1 SELECT INBOX\r\n"); l = readline(s); assert l.startswith("a1 BAD"), l
s.send(b"a2 LOGIN {5000}\r\n"); l = readline(s); assert l.startswith("a2 BAD"), l
s.send(b"a3 LOGIN {3}\r\n"); l = readline(s); assert l.startswith("+"), l
s.send(b"bob {5}\r\n"); l = readline(s); assert l.startswith("+"), l
s.send(b"bobpw\r\n"); l = readline(s); assert l.startswith("a3 OK"), l
s.send(b"a4 LOGOUT\r\n"); readline(s)
s = raw(P); readline(s)
s.send(b"x" * 9000 + b"\r\n"); l = readline(s); assert "BYE" in l, l
assert readline(s) == ""
s = raw(POPP); readline(s)
s.send(b"USER " + b"y" * 3000 + b"\r\n"); l = readline(s); assert l.startswith("-ERR"), l
m = imap(P)
e = expect_no(lambda: m.login("alice@dead", "alicepw"), "UNAVAILABLE"); print(e)
t0 = time.time()
e = expect_no(lambda: m.login("alice@mute", "alicepw"), "UNAVAILABLE"); print(e)
assert time.time() - t0 < 15
e = expect_no(lambda: m.login("alice@192.0.2.1", "alicepw"), "not allowed"); print(e)
m.login("alice", "alicepw"); m.logout()
' "$P_IMAP" "$P_POP"
	kill -0 $(child_pid front) || fail "front died"
	! grep -q 'exited\|signal' "$T/smtpcertd.log" || fail "a child died"
}

# SASL before login, word for word in each protocol (one implementation
# in proxy_sasl.c): the continuation request, "*" cancelling, "=" the
# empty response, base64 that is not, a PLAIN response that is not, a
# mechanism not offered, and the mechanisms each capability list offers.
test_proxy_sasl_replies_word_for_word() {
	px_up
	px_py '
import base64
P, POPP, SMTPP = (int(a) for a in sys.argv[1:4])
def say(s, line, want):
    s.send(line.encode() + b"\r\n")
    l = readline(s)
    assert l == want + "\r\n", "%r: got %r, want %r" % (line, l, want)
s = raw(P)
l = readline(s)
assert l.startswith("* OK [CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN] "), l
say(s, "a CAPABILITY", "* CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN")
assert readline(s) == "a OK CAPABILITY completed\r\n"
say(s, "b AUTHENTICATE PLAIN", "+ ")
say(s, "*", "b BAD Authentication cancelled")
say(s, "c AUTHENTICATE plain =", "c BAD Invalid SASL PLAIN response")
say(s, "d AUTHENTICATE PLAIN", "+ ")
say(s, "!!!!", "d BAD Invalid SASL PLAIN response")
say(s, "e AUTHENTICATE PLAIN " + base64.b64encode(b"x").decode(),
    "e BAD Invalid SASL PLAIN response")
say(s, "f AUTHENTICATE EXTERNAL", "f NO [CANNOT] Unsupported mechanism")
say(s, "g AUTHENTICATE LOGIN", "g NO [CANNOT] Unsupported mechanism")
s.close()
s = raw(POPP)
readline(s)
s.send(b"CAPA\r\n")
caps = [readline(s) for _ in range(7)]
assert caps[2] == "SASL PLAIN\r\n" and caps[-1] == ".\r\n", caps
say(s, "AUTH PLAIN", "+ ")
say(s, "*", "-ERR Authentication cancelled")
say(s, "AUTH PLAIN !!!!", "-ERR Invalid response")
say(s, "AUTH plain =", "-ERR Invalid SASL PLAIN response")
say(s, "AUTH PLAIN", "+ ")
say(s, base64.b64encode(b"x").decode(), "-ERR Invalid SASL PLAIN response")
say(s, "AUTH EXTERNAL", "-ERR Unsupported mechanism")
s.close()
s = raw(SMTPP)
readline(s)
s.send(b"EHLO t\r\n")
while not readline(s).startswith("250 "):
    pass
say(s, "AUTH PLAIN *", "501 5.5.4 Syntax: AUTH mechanism")
say(s, "AUTH PLAIN =", "501 5.5.2 Invalid AUTH PLAIN response")
say(s, "AUTH PLAIN", "334 ")
say(s, "*", "501 5.7.0 Authentication cancelled")
say(s, "AUTH PLAIN", "334 ")
say(s, "=", "501 5.5.2 Invalid AUTH PLAIN response")
say(s, "AUTH PLAIN", "334 ")
say(s, "!!!!", "501 5.5.2 Invalid AUTH PLAIN response")
say(s, "AUTH EXTERNAL", "504 5.5.4 Unrecognized authentication type")
s.close()
print("ok")
' "$P_IMAP" "$P_POP" "$P_SMTPS" || fail "SASL replies differ"
}

# PROXY_TESTS="name ..." runs only those (while debugging).
for t in $(declare -F | awk '$3 ~ /^test_proxy_/ { print $3 }'); do
	case " ${PROXY_TESTS:-$t} " in *" $t "*) ;; *) continue ;; esac
	run_test "$t"
done
finish
