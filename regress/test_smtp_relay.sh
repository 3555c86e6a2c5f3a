#!/bin/bash
# SPEC 3.6, relaying to the upstream with nothing lost: the recording
# upstream refuses, fails, drops or is not there, and after each failure
# its store proves that no message was lost or stored twice.  No
# authentication is required here, so none of this depends on LDAP.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

relay_start() {
	SMTP_POLICY="tls preferred" SMTP_PROFILE=none smtp_start
}

# One recipient refused by the upstream: the client gets that 550, the
# others still get the message, once.
test_upstream_refuses_one_recipient() {
	smtp_env --fail rcpt-reject
	relay_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.cmd("MAIL FROM:<sender@example.test>", 250)
c.cmd("RCPT TO:<ok1@example.test>", 250)
c.cmd("RCPT TO:<reject-me@example.test>", 550, "5.1.1")
c.cmd("RCPT TO:<ok2@example.test>", 250)
c.cmd("DATA", 354)
c.send(b"Subject: partial\r\n\r\nhi\r\n.\r\n")
c.expect(250)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	up_msg_json 1 'm["rcpts"] == ["ok1@example.test", "ok2@example.test"]'
	# swaks too: the refused recipient is reported, the message goes.
	smtp_swaks "$T/sw" --to "ok3@example.test,reject2@example.test" \
	    --from sender@example.test
	grep -q "<\*\* *550 5.1.1" "$T/sw" || fail "swaks did not see 550"
	up_assert_count 2
	up_msg_json 2 'm["rcpts"] == ["ok3@example.test"]'
}

# A 450 for a recipient is passed through as well.
test_upstream_tempfails_one_recipient() {
	smtp_env --fail rcpt-tempfail
	relay_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.cmd("MAIL FROM:<sender@example.test>", 250)
c.cmd("RCPT TO:<tempfail@example.test>", 450, "4.2.0")
c.cmd("RCPT TO:<ok@example.test>", 250)
c.cmd("DATA", 354)
c.send(b"Subject: x\r\n\r\nhi\r\n.\r\n")
c.expect(250)
' "$SUB_PORT"
	up_assert_count 1
	up_msg_json 1 'm["rcpts"] == ["ok@example.test"]'
}

# 4xx / 5xx after the final dot: the client gets exactly that code, the
# upstream stored nothing; the same session's retry is stored once.
test_upstream_data_4xx_and_5xx() {
	smtp_env
	relay_start
	upstream_fail "$T/up" data-4xx
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.message(body=b"Subject: one\r\n\r\nx\r\n", code=451, text="4.3.0")
open(os.environ["T"] + "/up/fail", "w").write("data-5xx\n")
c.message(body=b"Subject: two\r\n\r\nx\r\n", code=554, text="5.6.0")
open(os.environ["T"] + "/up/fail", "w").write("none\n")
c.message(body=b"Subject: three\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	grep -q "Subject: three" "$T/up/msg-1.eml" || fail "wrong message stored"
}

# The upstream drops the connection in the middle of DATA: 451 4.4.1 to the
# client, nothing stored; a small and a large message (the large one
# fills the gateway's queue to the upstream); the next try reconnects.
test_upstream_drops_mid_data() {
	smtp_env --fail drop-mid-data
	relay_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.message(body=b"Subject: small\r\n\r\n" + b"x" * 70 + b"\r\n", code=451, text="4.4.1")
big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 8000
c.s.settimeout(20)
c.message(body=big, code=451, text="4.4.1")
open(os.environ["T"] + "/up/fail", "w").write("none\n")
c.message(body=b"Subject: retry\r\n\r\nok\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	grep -q "Subject: retry" "$T/up/msg-1.eml" || fail "wrong message stored"
	grep -c '"closed": "dropped"' "$T"/up/conn-*.json | grep -q ':1' || fail "no dropped connection"
}

# The upstream reads the whole message and closes without an answer: the
# client is told 451 4.4.1 (not 250), nothing is stored.
test_upstream_drops_after_data() {
	smtp_env --fail drop-after-data
	relay_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.message(code=451, text="4.4.1")
c.cmd("NOOP", 250)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 0
}

# Nothing listens upstream: 451 4.4.1 at MAIL, and the session goes on.
test_upstream_down_451_at_mail() {
	smtp_env
	local dead; dead=$(free_port)
	SMTP_RELAY_HOSTS="host \"127.0.0.1\" port $dead" relay_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.cmd("MAIL FROM:<sender@example.test>", 451, "4.4.1")
c.cmd("RCPT TO:<rcpt@example.test>", 503)
c.cmd("NOOP", 250)
c.cmd("MAIL FROM:<sender@example.test>", 451, "4.4.1")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 0 0
	grep -q "event=upstream-failed " "$T/smtpcertd.log" || fail "not logged"
}

# Two relay hosts, the first one down: the second one gets the message.
test_second_relay_host_when_first_down() {
	smtp_env
	local dead; dead=$(free_port)
	SMTP_RELAY_HOSTS="host \"127.0.0.1\" port $dead
	host \"127.0.0.1\" port $UP_PORT" relay_start
	smtp_swaks "$T/sw" --from sender@example.test --to rcpt@example.test
	grep -q "<- *250 2.0.0 Ok: queued as 1" "$T/sw" || fail "not delivered"
	up_assert_count 1
	grep -q "event=upstream-retry .*upstream=127.0.0.1:$dead reason=" "$T/smtpcertd.log" ||
	    fail "failover not logged"
}

# The first host greets with 421: the next host is used; with only that
# host the client gets 451 4.4.1 at MAIL.
test_greet_4xx_next_host_or_451() {
	smtp_env
	local p2; p2=$(free_port)
	start_upstream "$T/up2" "$p2" --xclient --fail greet-4xx
	SMTP_RELAY_HOSTS="host \"127.0.0.1\" port $p2
	host \"127.0.0.1\" port $UP_PORT" relay_start
	smtp_swaks "$T/sw" --from sender@example.test --to rcpt@example.test
	grep -q "<- *250 2.0.0 Ok: queued as 1" "$T/sw" || fail "not delivered"
	up_assert_count 1
	[ "$(upstream_msg_count "$T/up2")" = 0 ] || fail "greet-4xx host stored"
	[ -f "$T/up2/conn-1.json" ] || fail "first host not tried"
}

test_greet_4xx_only_host_451() {
	smtp_env --fail greet-4xx
	relay_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.cmd("MAIL FROM:<sender@example.test>", 451, "4.4.1")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 0 0
}

# The upstream closes an idle connection between commands (its own
# timeout; it says 421 first): the client must not get an unsolicited
# reply out of step with its commands; its next command is answered
# properly and the next message reconnects.
test_upstream_idle_close_no_unsolicited_reply() {
	smtp_env --timeout 1
	relay_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.message(body=b"Subject: one\r\n\r\nx\r\n")
time.sleep(2)          # the upstream times the idle connection out
c.cmd("NOOP", 250)     # not a stray 451
c.message(body=b"Subject: two\r\n\r\nx\r\n")
# Inside a transaction: MAIL and RCPT accepted, then the upstream goes.
c.cmd("MAIL FROM:<sender@example.test>", 250)
c.cmd("RCPT TO:<rcpt@example.test>", 250)
time.sleep(2)
c.cmd("DATA", 451, "4.4.1")
c.cmd("NOOP", 250)
c.message(body=b"Subject: three\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 3
	grep -q "Subject: one" "$T/up/msg-1.eml" &&
	    grep -q "Subject: two" "$T/up/msg-2.eml" &&
	    grep -q "Subject: three" "$T/up/msg-3.eml" || fail "wrong messages"
}

# The upstream connection carries the client's identity (XCLIENT HELO):
# a new EHLO name or STARTTLS must not reuse one opened for the old one.
test_upstream_not_reused_across_identity_change() {
	smtp_env
	relay_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo("first.example.test")
c.message(body=b"Subject: one\r\n\r\nx\r\n")
c.ehlo("second.example.test")
c.message(body=b"Subject: two\r\n\r\nx\r\n")
c.cmd("STARTTLS", 220)
c.starttls()
c.ehlo("third.example.test")
c.message(body=b"Subject: three\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 3
	up_msg_json 1 'm["xclient"]["HELO"] == "first.example.test"'
	up_msg_json 2 'm["xclient"]["HELO"] == "second.example.test"'
	up_msg_json 3 'm["xclient"]["HELO"] == "third.example.test"'
	grep -q "with ESMTPS " "$T/up/msg-3.eml" || fail "msg-3 Received not ESMTPS"
	grep -q "with ESMTP " "$T/up/msg-1.eml" || fail "msg-1 Received not ESMTP"
}

# MAIL/RCPT/DATA and the message pipelined (RFC 2920) in one write, with
# the next transaction behind it; and commands pipelined behind a refused
# message are still answered.
test_pipelined_transactions() {
	smtp_env
	relay_start
	smtp_raw '
c = C(sys.argv[1])
c.expect(220)
c.ehlo()
c.send(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n")
for code in (250, 250, 250, 354):
    c.expect(code)
c.send(b"Subject: p1\r\n\r\nx\r\n.\r\nMAIL FROM:<d@example.test>\r\nRCPT TO:<e@example.test>\r\nDATA\r\n")
for code in (250, 250, 250, 354):
    c.expect(code)
c.send(b"Subject: bad\r\n\r\nx\ny\r\n.\r\nNOOP\r\nQUIT\r\n")
c.expect(554, "5.5.2")
c.expect(250)
c.expect(221)
' "$SUB_PORT"
	up_assert_count 1
	up_msg_json 1 'm["rcpts"] == ["b@example.test", "c@example.test"]'
}

# relay tls required: STARTTLS to the upstream, its certificate verified
# against our CA (XCLIENT after TLS); an upstream whose certificate does
# not verify is never given the message.
test_relay_starttls_to_upstream_verified() {
	smtp_env --tls-cert "$SMTP_PKI_CACHE/pki/server.chain.pem" \
	    --tls-key "$SMTP_PKI_CACHE/pki/server.key" --require-tls
	SMTP_RELAY_TLS='tls required
	ca "clients"' relay_start
	smtp_swaks "$T/sw" --from sender@example.test --to rcpt@example.test
	grep -q "<- *250 2.0.0 Ok: queued as 1" "$T/sw" || fail "not delivered"
	up_assert_count 1
	up_msg_json 1 'm["tls"] and m["tls_version"] in ("TLSv1.2", "TLSv1.3") and m["xclient"]["ADDR"] == "127.0.0.1"'
	grep -q "event=upstream .*upstream=127.0.0.1:$UP_PORT upstream-tls=TLSv1" "$T/smtpcertd.log" || fail "upstream TLS not logged"
}

test_relay_upstream_certificate_not_verified_451() {
	smtp_env --tls-cert "$SMTP_PKI_CACHE/pki/server.chain.pem" \
	    --tls-key "$SMTP_PKI_CACHE/pki/server.key" --require-tls
	SMTP_RELAY_TLS='tls required
	ca "other"' relay_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("MAIL FROM:<sender@example.test>", 451, "4.4.1")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 0 0
	up_raw_lacks 'MAIL FROM'
}

run_test test_relay_starttls_to_upstream_verified
run_test test_relay_upstream_certificate_not_verified_451
run_test test_upstream_refuses_one_recipient
run_test test_upstream_tempfails_one_recipient
run_test test_upstream_data_4xx_and_5xx
run_test test_upstream_drops_mid_data
run_test test_upstream_drops_after_data
run_test test_upstream_down_451_at_mail
run_test test_second_relay_host_when_first_down
run_test test_greet_4xx_next_host_or_451
run_test test_greet_4xx_only_host_451
run_test test_upstream_idle_close_no_unsolicited_reply
run_test test_upstream_not_reused_across_identity_change
run_test test_pipelined_transactions
finish
