#!/bin/bash
# SPEC 3.7, hostile input: byte-exact clients (raw sockets from
# /usr/bin/python3) against smtpcertd and the recording upstream, whose
# conn-N.raw / msg-N files show what got through.  The policy asks for no
# authentication here, so none of this depends on LDAP.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

# Plain relaying, no authentication: the hostile input is the subject.
hostile_start() {
	smtp_env
	SMTP_POLICY="tls preferred" SMTP_PROFILE=none smtp_start
}

front_alive() {
	local p; p=$(child_pid front)
	[ -n "$p" ] && [ "$p" = "$FRONT_PID" ] ||
	    { fail "front restarted or gone (was $FRONT_PID, now ${p:-none})"; return 1; }
	! grep -Eq "front \(pid [0-9]+\) (terminated|exited)|restarting front" "$T/smtpcertd.log" ||
	    { fail "front died"; return 1; }
}

# Every fake end-of-data made of bare CR / bare LF, and NUL, with a whole
# second transaction smuggled behind it, then the real end.  Each must get
# 554 5.5.2, and the upstream must see neither a "." line nor the
# smuggled envelope nor the smuggled body, and store nothing.
test_smuggling_fake_end_of_data_refused() {
	hostile_start
	FRONT_PID=$(child_pid front)
	smtp_raw '
variants = [
    ("LF.LF", b"\n.\n"),
    ("LF.CRLF", b"\n.\r\n"),
    ("CRLF.LF", b"\r\n.\n"),
    ("CR.CRLF", b"\r.\r\n"),
    ("CRLF.CR", b"\r\n.\r"),
    ("CR.CR", b"\r.\r"),
    ("LF.CR", b"\n.\r"),
    ("CRLF.CRCRLF", b"\r\n.\r\r\n"),
    ("CRLF.NUL CRLF", b"\r\n.\0\r\n"),
    ("CRLF NUL.CRLF", b"\r\n\0.\r\n"),
    ("bare CR mid-line", b" mid\rline\r\n"),
    ("bare LF mid-line", b" mid\nline\r\n"),
    ("NUL mid-line", b" mid\0line\r\n"),
]
port = sys.argv[1]
for name, v in variants:
    print("== variant", name, repr(v))
    c = C(port)
    c.expect(220)
    c.ehlo()
    c.cmd("MAIL FROM:<sender@example.test>", 250)
    c.cmd("RCPT TO:<rcpt@example.test>", 250)
    c.cmd("DATA", 354)
    body = (b"Subject: smuggle test\r\n\r\nhello" + v +
            b"MAIL FROM:<smuggled@evil.test>\r\n"
            b"RCPT TO:<victim@example.test>\r\n"
            b"DATA\r\n"
            b"Subject: smuggled\r\n\r\nSMUGGLED BODY\r\n"
            b"\r\n.\r\n")
    c.send(body)
    r = c.expect(554, "5.5.2")
    # The session goes on: a clean command works, then goodbye.
    c.cmd("NOOP", 250)
    c.cmd("QUIT", 221)
    c.close()
' "$SUB_PORT"
	up_assert_count 0 0.5
	up_raw_lacks '(?i)smuggled'
	up_raw_lacks 'SMUGGLED BODY'
	up_raw_lacks '[\r\n]\.[\r\n\x00]'
	up_raw_lacks '\x00'
	# Each upstream transaction was dropped without its final dot: no
	# connection stored a message.
	$PY -c '
import glob, json, sys
for f in glob.glob(sys.argv[1] + "/conn-*.json"):
    j = json.load(open(f))
    assert j["messages"] == [], (f, j)
' "$T/up" || fail "upstream connection stored a message"
	[ "$(grep -c 'event=message .*result=invalid reason=".*upstream transaction dropped without its final dot"' "$T/smtpcertd.log")" -ge 13 ] ||
	    fail "not every refusal logged"
	front_alive
}

# The same with the smuggled transaction after a valid message in the same
# session: the good message is stored exactly once, the bad one never.
test_smuggling_after_good_message_same_session() {
	hostile_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.message(body=b"Subject: good one\r\n\r\nfirst\r\n")
c.cmd("MAIL FROM:<sender@example.test>", 250)
c.cmd("RCPT TO:<rcpt@example.test>", 250)
c.cmd("DATA", 354)
c.send(b"Subject: bad\r\n\r\nx\n.\nMAIL FROM:<smuggled@evil.test>\r\nRCPT TO:<v@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n")
c.expect(554, "5.5.2")
c.message(body=b"Subject: good two\r\n\r\nsecond\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 2
	grep -q "Subject: good one" "$T/up/msg-1.eml" || fail "msg-1 is not the first"
	grep -q "Subject: good two" "$T/up/msg-2.eml" || fail "msg-2 is not the second"
	up_raw_lacks '(?i)smuggled'
	up_msg_json 1 'not m["bare_lf"] and not m["bare_cr"] and not m["nul"]'
}

# CVE-2011-0411: NOOP or MAIL pipelined in the STARTTLS packet are thrown
# away; afterwards the session starts over and needs EHLO again.
test_starttls_pipelined_commands_discarded() {
	hostile_start
	smtp_raw '
port = sys.argv[1]
for extra, after in ((b"NOOP\r\n", None),
                     (b"MAIL FROM:<injected@evil.test>\r\n", "RCPT")):
    c = C(port)
    c.expect(220)
    c.ehlo()
    print("C: STARTTLS + %r in one packet" % extra)
    c.send(b"STARTTLS\r\n" + extra)
    c.expect(220)
    c.starttls()
    # Had the pipelined NOOP been run, its 250 would come first: the
    # first reply over TLS must be the one to this MAIL, and EHLO is
    # needed again (RFC 3207 4.2).
    c.cmd("MAIL FROM:<sender@example.test>", 503, "EHLO")
    c.ehlo()
    if after == "RCPT":
        # The injected MAIL did not open a transaction.
        c.cmd("RCPT TO:<rcpt@example.test>", 503)
    c.message()
    c.cmd("QUIT", 221)
    c.close()
' "$SUB_PORT"
	[ "$(grep -c 'event=starttls-injection .*reason="pipelined after STARTTLS: discarded' "$T/smtpcertd.log")" = 2 ] ||
	    fail "log does not say discarded twice"
	grep -q 'event=starttls-injection .*bytes=6 ' "$T/smtpcertd.log" || fail "NOOP bytes"
	up_assert_count 2
	up_raw_lacks 'injected'
	up_msg_json 1 'm["mail_from"] == "sender@example.test"'
}

# RFC 5321 4.5.3.1.4: 512 octets with CRLF.  510 + CRLF passes, 511 + CRLF
# and a 600-octet line get 500 5.5.2, a huge line one 500 only; the session
# goes on each time.
test_command_line_length_limits() {
	hostile_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.cmd("NOOP " + "x" * 505, 250)
c.cmd("NOOP " + "x" * 506, 500, "5.5.2")
line = "MAIL FROM:<" + "a" * 573 + "@example.test>"
assert len(line) + 2 == 600, len(line)
c.cmd(line, 500, "5.5.2")
print("C: <20000-octet line>")
c.send("NOOP " + "y" * 20000 + "\r\n")
c.expect(500, "5.5.2")
c.cmd("NOOP", 250)
c.message()
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	up_raw_lacks 'aaaaaaaaaaaaaaaaaaaaaaa'
}

# A text line over 998 octets (+CRLF) refuses the message; nothing stored,
# and the next message in the session goes through.
test_text_line_over_limit_refused() {
	hostile_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.message(body=b"Subject: long\r\n\r\n" + b"z" * 1500 + b"\r\nend\r\n", code=554, text="5.5.2")
c.message(body=b"Subject: ok\r\n\r\n" + b"z" * 998 + b"\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	grep -q "Subject: ok" "$T/up/msg-1.eml" || fail "wrong message stored"
	grep -q "$(printf 'z%.0s' $(seq 998))" "$T/up/msg-1.eml" || fail "998-octet line missing"
}

# limit max-message-size 10K: SIZE advertised, SIZE= over it refused at
# MAIL, an oversized body refused at the end with 552, a small one passes.
test_message_over_size_refused() {
	smtp_env
	SMTP_POLICY="tls preferred" SMTP_PROFILE=none \
	    SMTP_GLOBAL="limit max-message-size 10K" smtp_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
r = c.ehlo()
assert "SIZE 10240" in r, r
c.cmd("MAIL FROM:<sender@example.test> SIZE=20000", 552, "5.3.4")
c.cmd("MAIL FROM:<sender@example.test> SIZE=10240", 250)
c.cmd("RSET", 250)
big = b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 200
c.message(body=big, code=552, text="5.3.4")
c.message(body=b"Subject: small\r\n\r\n" + (b"x" * 70 + b"\r\n") * 50)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	grep -q "Subject: small" "$T/up/msg-1.eml" || fail "wrong message stored"
	up_msg_json 1 'm["mail_params"] == ""'
}

# limit max-recipients 3: the 4th RCPT gets 452 4.5.3, the message goes to
# the first three.
test_too_many_recipients() {
	smtp_env
	SMTP_POLICY="tls preferred" SMTP_PROFILE=none \
	    SMTP_GLOBAL="limit max-recipients 3" smtp_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.cmd("MAIL FROM:<sender@example.test>", 250)
for i in range(3):
    c.cmd("RCPT TO:<r%d@example.test>" % i, 250)
c.cmd("RCPT TO:<r3@example.test>", 452, "4.5.3")
c.cmd("DATA", 354)
c.send(b"Subject: three\r\n\r\nhi\r\n.\r\n")
c.expect(250)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	up_msg_json 1 'm["rcpts"] == ["r0@example.test", "r1@example.test", "r2@example.test"]'
}

# limit max-errors 3: three errors, then 421 and the connection closes.
test_too_many_errors_closes() {
	smtp_env
	SMTP_POLICY="tls preferred" SMTP_PROFILE=none \
	    SMTP_GLOBAL="limit max-errors 3" smtp_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.cmd("FOO", 500)
c.cmd("BAR", 500)
c.cmd("BAZ", 500)
c.expect(421, "4.7.0")
assert c.closed(5), "still open after 421"
' "$SUB_PORT"
	grep -q 'result="too many errors"' "$T/smtpcertd.log" || fail "not logged"
	up_assert_count 0 0
}

# limit idle-timeout 2s: an idle client (in command state, and one stalled
# in the middle of DATA) gets 421 4.4.2 and is closed; nothing is stored.
test_idle_client_timed_out() {
	smtp_env
	SMTP_POLICY="tls preferred" SMTP_PROFILE=none \
	    SMTP_GLOBAL="limit idle-timeout 2s" smtp_start
	smtp_raw '
port = sys.argv[1]
a = C(port); a.expect(220); a.ehlo()
b = C(port); b.expect(220); b.ehlo()
b.cmd("MAIL FROM:<sender@example.test>", 250)
b.cmd("RCPT TO:<rcpt@example.test>", 250)
b.cmd("DATA", 354)
b.send(b"Subject: stalled\r\n\r\nhalf a li")
t0 = time.time()
for c in (a, b):
    c.s.settimeout(10)
    c.expect(421, "4.4.2")
    assert c.closed(3), "not closed after 421"
took = time.time() - t0
# Coarse on purpose: only "it does time out", not how precisely.
assert 1 < took < 9, took
' "$SUB_PORT"
	[ "$(grep -c 'result="idle timeout"' "$T/smtpcertd.log")" = 2 ] || fail "not logged twice"
	up_assert_count 0 0.5
	up_raw_lacks 'half a li'
}

# Binary garbage before EHLO: refused line by line, never a crash; the
# session then works.  Garbage on the implicit-TLS port is a failed
# handshake.  The front is the same process afterwards.
test_garbage_before_ehlo() {
	hostile_start
	FRONT_PID=$(child_pid front)
	smtp_raw '
import random
random.seed(42)
c = C(sys.argv[1])
c.expect(220)
junk = bytes(random.randrange(256) for _ in range(300)).replace(b"\n", b"")
print("C: <300 random octets with NUL, CR, 8-bit>")
c.send(b"\x00\xff\r" + junk + b"\r\n")
r = c.reply()
assert r.startswith("500"), r
c.cmd("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 500)
c.ehlo()
c.message()
c.cmd("QUIT", 221)
s = C(sys.argv[2])
s.send(b"EHLO not-tls\r\n" + bytes(range(256)) * 4)
assert s.closed(5), "implicit TLS port kept a non-TLS client"
' "$SUB_PORT" "$SMTPS_PORT"
	up_assert_count 1
	front_alive
}

# The client hangs up in the middle of DATA: the upstream transaction is
# abandoned without its dot and nothing is stored.
test_client_disconnect_mid_data() {
	hostile_start
	FRONT_PID=$(child_pid front)
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.cmd("MAIL FROM:<sender@example.test>", 250)
c.cmd("RCPT TO:<rcpt@example.test>", 250)
c.cmd("DATA", 354)
c.send(b"Subject: cut\r\n\r\n" + b"line\r\n" * 500 + b"partial")
time.sleep(0.3)
c.close()
if not wait_file(os.environ["T"] + "/up/conn-1.json", 10):
    raise AssertionError("upstream connection not closed")
' "$SUB_PORT"
	up_assert_count 0 0.3
	grep -q '"closed": "eof"' "$T/up/conn-1.json" || fail "upstream conn not dropped"
	grep -q 'event=end .*result="client disconnected during DATA"' "$T/smtpcertd.log" || fail "not logged"
	up_raw_lacks '\r\n\.\r\n'
	front_alive
}

# limit max-sessions 2: a third concurrent client gets 421 4.7.0 and is
# closed; the first two are unaffected.
test_too_many_sessions() {
	smtp_env
	SMTP_POLICY="tls preferred" SMTP_PROFILE=none \
	    SMTP_GLOBAL="limit max-sessions 2" smtp_start
	smtp_raw '
port = sys.argv[1]
a = C(port); a.expect(220)
b = C(port); b.expect(220)
c = C(port); c.expect(421, "4.7.0")
assert c.closed(5)
a.ehlo(); a.message(); a.cmd("QUIT", 221); a.close()
time.sleep(0.3)
d = C(port); d.expect(220); d.cmd("QUIT", 221)
b.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
}

run_test test_smuggling_fake_end_of_data_refused
run_test test_smuggling_after_good_message_same_session
run_test test_starttls_pipelined_commands_discarded
run_test test_command_line_length_limits
run_test test_text_line_over_limit_refused
run_test test_message_over_size_refused
run_test test_too_many_recipients
run_test test_too_many_errors_closes
run_test test_idle_client_timed_out
run_test test_garbage_before_ehlo
run_test test_client_disconnect_mid_data
run_test test_too_many_sessions
finish
