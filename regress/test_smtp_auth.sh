#!/bin/bash
# SMTP AUTH against LDAP end to end (SPEC 3.4, 3.5, 4; issue 4): the real
# daemon, a real slapd (regress/lib/slapd.sh: alice..erin, twin1/2), the
# recording upstream, and real clients -- swaks --auth PLAIN|LOGIN, curl
# smtp:// --login-options AUTH=PLAIN|LOGIN, Python smtplib -- plus the
# byte-level client of regress/lib/smtp.sh where a client cannot say it.
#
# What test_smtp_gateway.sh already proves is not repeated here (the
# seed's three policies, the allowance refusals by swaks PLAIN, fallback
# with a certificate profile); this file adds the rest of issue 4's list:
# every mechanism x client x {right, wrong, empty password, unknown user},
# every branch of the allowance filter and its time placeholder, monitor
# mode and its log, fallback on and off, AUTH EXTERNAL, failover, outages
# (454 within the timeout, never 535), slapd restarts, a killed
# ldapd-helper, hostile user names against slapd, the failed-login rate
# limit per user and per address, "sender must match", and the cache.
#
# Run one test: bash regress/test_smtp_auth.sh test_name...
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

# Timings are printed, not asserted tightly: lines "# ..." that a test
# writes with note() are shown after its ok/not ok line.
AUTH_NOTES=$(mktemp /tmp/smtpcertd-notes.XXXXXX)
trap 'rm -f "$AUTH_NOTES"; [ -z "$SMTP_PKI_CACHE" ] || rm -rf "$SMTP_PKI_CACHE"' EXIT
note() { echo "# $*"; echo "    # $*" >>"$AUTH_NOTES"; }
auth_run_test() {
	: >"$AUTH_NOTES"
	run_test "$1"
	cat "$AUTH_NOTES"
}

# auth_start [SED-EXPRESSION...]: smtp_conf, then each expression applied
# to $T/smtpcertd.conf and $AUTH_CONF_APPEND (if set) appended; checked
# with -n and started.
auth_start() {
	local e
	smtp_conf
	for e in "$@"; do
		sed -i -e "$e" "$T/smtpcertd.conf"
	done
	[ -z "${AUTH_CONF_APPEND:-}" ] ||
	    printf '%s\n' "$AUTH_CONF_APPEND" >>"$T/smtpcertd.conf"
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/conftest.out" 2>&1 ||
	    { cat "$T/conftest.out" "$T/smtpcertd.conf"; fail "config refused"; return 1; }
	start_daemon "$T/smtpcertd.conf"
}

# Plaintext AUTH allowed (fast, and what hostile-name tests need).
POLICY_PLAIN_AUTH="tls preferred
require smtp-auth"

# Helpers for smtp_raw scripts: base64, SASL PLAIN, sessions from a chosen
# source address (all of 127/8 is loopback), a LOGIN dialogue.
_AUTH_PY='
import base64, time
def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()
def plain(u, p, z=b""):
    u = u.encode() if isinstance(u, str) else u
    p = p.encode() if isinstance(p, str) else p
    return b64(z + b"\0" + u + b"\0" + p)
def session(port, tls=False, cert=None, src="127.0.0.1", timeout=20):
    c = C.__new__(C)
    c.s = socket.create_connection((HOST, int(port)), timeout=timeout,
        source_address=(src, 0))
    c.buf = b""
    c.expect(220)
    c.ehlo()
    if tls:
        c.cmd("STARTTLS", 220)
        c.starttls(cert=cert)
        c.ehlo()
    return c
def login(c, u, p, code, text=None):
    c.cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
    c.cmd(b64(u), 334, "UGFzc3dvcmQ6")
    return c.cmd(b64(p), code, text)
def try_until(fn, secs):
    """fn() -> True when done; False (or 454) to retry; returns seconds."""
    t0 = time.time()
    while True:
        if fn():
            return time.time() - t0
        if time.time() - t0 > secs:
            raise AssertionError("not done within %ss" % secs)
        time.sleep(0.3)
'
auth_raw() {
	local script=$1 rc=0; shift
	smtp_raw "$_AUTH_PY
$script" "$@" >"$T/raw.out" 2>&1 || rc=$?
	cat "$T/raw.out"
	sed -n 's/^# /    # /p' "$T/raw.out" >>"$AUTH_NOTES"
	return $rc
}

# auth_smtplib PORT MECH USER PASS ir|noir [FROM SUBJECT]: Python smtplib
# over STARTTLS, AUTH with exactly MECH; prints "AUTH <code> <text>" and,
# after 235, sends one message to bob.
auth_smtplib() {
	T=$T timeout -k 2 30 $PY -c '
import os, smtplib, ssl, sys
port, mech, user, pw, ir = sys.argv[1:6]
frm = sys.argv[6] if len(sys.argv) > 6 else user + "@example.test"
subj = sys.argv[7] if len(sys.argv) > 7 else "smtplib " + mech
ctx = ssl.create_default_context(cafile=os.environ["T"] + "/pki/chain.pem")
ctx.check_hostname = False
s = smtplib.SMTP("127.0.0.1", int(port), timeout=20)
s.starttls(context=ctx)
s.ehlo()
s.user, s.password = user, pw
try:
    code, msg = s.auth(mech, getattr(s, "auth_" + mech.lower()),
        initial_response_ok=(ir == "ir"))
except smtplib.SMTPAuthenticationError as e:
    code, msg = e.smtp_code, e.smtp_error
print("AUTH %d %s" % (code, msg.decode()))
if code == 235:
    s.sendmail(frm, ["bob@example.test"],
        "From: <%s>\r\nSubject: %s\r\n\r\nhello\r\n" % (frm, subj))
    print("SENT")
s.quit()
' "$@"
}

# auth_curl OUT PORT MECH USER:PASS [FROM]: curl smtp:// with STARTTLS
# required; -v transcript in OUT; returns curl's status.
auth_curl() {
	local out=$1 port=$2 mech=$3 up=$4 from=${5:-${4%%:*}@example.test}
	crlf_message "$T/curl-msg.txt" "$from" bob@example.test "curl $mech"
	timeout -k 2 30 curl -v -sS --url "smtp://127.0.0.1:$port" --ssl-reqd \
	    --cacert "$PKI/chain.pem" --user "$up" --login-options "AUTH=$mech" \
	    --mail-from "$from" --mail-rcpt bob@example.test \
	    --upload-file "$T/curl-msg.txt" >"$out" 2>&1
}

# helper_line USER: ldapd-helper's log lines for smtp-auth lookups of USER
helper_lines() { grep -c "ldapd-helper.*smtp-auth .* user \"$1\":" "$T/smtpcertd.log" || :; }

now() { date +%s.%N; }
elapsed() { $PY -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
# lt A B: A < B (floats)
lt() { $PY -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }

slapd_pid() { cat "$T/ldap/slapd.ourpid"; }

# --------------------------------------------------------------------------

# PLAIN and LOGIN through swaks, curl and smtplib: the right password
# delivers (Received: and XCLIENT name bob and the mechanism); a wrong
# password and an unknown user get the same 535 5.7.8; an empty password
# gets 535 too and never reaches LDAP.
test_plain_and_login_with_every_client() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_AUTH_ONLY SMTP_PROFILE=ldap-users \
	    SMTP_GLOBAL="limit max-auth-failures 1000" auth_start
	local m up want n=0 out
	for m in PLAIN LOGIN; do
		# swaks
		smtp_swaks "$T/sw-$m-ok" --tls --auth "$m" --auth-user bob \
		    --auth-password bobpw --from bob@example.test \
		    --to bob@example.test --header "Subject: swaks $m"
		swaks_delivered "$T/sw-$m-ok"
		n=$((n + 1)); up_received $n "authenticated as bob by AUTH $m"
		for up in bob:wrong bob: nobody:nobodypw; do
			smtp_swaks "$T/sw-$m-$up" --tls --auth "$m" \
			    --auth-user "${up%%:*}" --auth-password "${up#*:}" \
			    --from bob@example.test --to bob@example.test
			grep -q '^<~\* *535 5\.7\.8 Authentication credentials invalid' "$T/sw-$m-$up" ||
			    fail "swaks $m $up: no 535"
			! grep -q '^ ~> MAIL' "$T/sw-$m-$up" || fail "swaks $m $up went on"
		done
		# curl
		auth_curl "$T/curl-$m-ok" "$SUB_PORT" "$m" bob:bobpw ||
		    { cat "$T/curl-$m-ok"; fail "curl $m bob:bobpw"; }
		grep -q '^< 235 2.7.0' "$T/curl-$m-ok" || fail "curl $m: no 235"
		n=$((n + 1)); up_received $n "authenticated as bob by AUTH $m"
		for up in bob:wrong bob: nobody:nobodypw; do
			out=$T/curl-$m-$up
			auth_curl "$out" "$SUB_PORT" "$m" "$up" && fail "curl $m $up delivered"
			grep -q '^< 535 5\.7\.8 Authentication credentials invalid' "$out" ||
			    { cat "$out"; fail "curl $m $up: no 535"; }
		done
		# Python smtplib; PLAIN with an initial response, LOGIN both
		# ways (smtplib sends the user name as LOGIN's initial
		# response when allowed to).
		auth_smtplib "$SUB_PORT" "$m" bob bobpw ir >"$T/py-$m-ok" 2>&1 ||
		    { cat "$T/py-$m-ok"; fail "smtplib $m"; }
		cat "$T/py-$m-ok"
		grep -q '^SENT' "$T/py-$m-ok" || fail "smtplib $m: not sent"
		n=$((n + 1)); up_received $n "authenticated as bob by AUTH $m"
		for up in bob:wrong bob: nobody:nobodypw; do
			out=$T/py-$m-$up
			auth_smtplib "$SUB_PORT" "$m" "${up%%:*}" "${up#*:}" \
			    "$([ $m = LOGIN ] && [ "$up" = bob: ] && echo ir || echo noir)" \
			    >"$out" 2>&1 || { cat "$out"; fail "smtplib $m $up"; }
			cat "$out"
			grep -q '^AUTH 535 5\.7\.8 Authentication credentials invalid' "$out" ||
			    fail "smtplib $m $up: no 535"
		done
	done
	up_assert_count 6
	for n in 1 2 3 4 5 6; do
		up_msg_json $n 'm["xclient"]["LOGIN"] == "bob" and m["rcpts"] == ["bob@example.test"]'
	done
	# Six empty passwords, refused by the front; LDAP saw bob only for
	# the right and the wrong password (2 x 3 clients x 2 mechanisms).
	log_count_is 'event=auth .*method=(PLAIN|LOGIN) .*result=refused reason="empty password before LDAP"' 6 ||
	    fail "empty passwords not refused before LDAP"
	[ "$(helper_lines bob)" = 12 ] || fail "helper saw bob $(helper_lines bob) times, want 12"
	log_count_is 'event=auth .*method=(PLAIN|LOGIN) user=bob result="bad credentials"' 6 ||
	    fail "wrong passwords not logged"
	log_count_is 'event=auth .*method=(PLAIN|LOGIN) user=nobody result="not found"' 6 ||
	    fail "unknown users not logged"
	log_count_is 'event=auth .*result=ok' 6 || fail "more than six logins"
}

# The seed's allowance (&(uid={u})(|(!(caccn=*))(cacexempt=TRUE)
# (cacemergency>={t}))), branch by branch with LOGIN (curl and smtplib):
# bob (no CAC), carol (exempt), dave (emergency ahead) in; alice (CAC)
# and erin (emergency over) get the profile's own reply and stay
# unauthenticated, without counting as failed logins.  Then the directory
# changes: alice exempt, erin's emergency extended, dave's over -- so {t}
# is really the current time, compared as a time by slapd.
test_allowance_every_branch() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_AUTH_ONLY SMTP_PROFILE=ldap-users \
	    SMTP_GLOBAL="limit max-auth-failures 2" \
	    auth_start 's/^\ttimeout 5s$/\ttimeout 5s\n\tcache ttl 1s negative-ttl 1s/'
	local u out
	for u in bob carol dave; do
		auth_curl "$T/curl-$u" "$SUB_PORT" LOGIN "$u:${u}pw" ||
		    { cat "$T/curl-$u"; fail "curl LOGIN $u"; }
	done
	up_assert_count 3
	up_msg_json 1 'm["xclient"]["LOGIN"] == "bob"'
	up_msg_json 2 'm["xclient"]["LOGIN"] == "carol"'
	up_msg_json 3 'm["xclient"]["LOGIN"] == "dave"'
	# Refused three times each (limit 2): always the custom reply.
	for u in alice erin alice erin alice erin; do
		auth_curl "$T/curl-$u" "$SUB_PORT" LOGIN "$u:${u}pw" &&
		    fail "curl $u delivered"
		grep -q '^< 525 5\.7\.13 Dear user, please use your CAC to send email\.' "$T/curl-$u" ||
		    { cat "$T/curl-$u"; fail "curl $u: no custom 525"; }
	done
	auth_raw '
for u in ("alice", "erin"):
    c = session(sys.argv[1], tls=True)
    login(c, u, u + "pw", 525, "5.7.13 Dear user, please use your CAC to send email.")
    c.cmd("MAIL FROM:<%s@example.test>" % u, 530, "5.7.0 Authentication required")
    c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 3
	log_count_is 'event=auth .*method=LOGIN user=(alice|erin) result=disallowed' 8 ||
	    fail "refusals not logged as disallowed"
	ldap_admin_modify "$T/ldap" >/dev/null <<-EOF
	dn: uid=alice,$SLAPD_PEOPLE
	changetype: modify
	add: cacexempt
	cacexempt: TRUE

	dn: uid=erin,$SLAPD_PEOPLE
	changetype: modify
	replace: cacemergency
	cacemergency: $(date -u -d '+2 days' +%Y%m%d%H%M%SZ)

	dn: uid=dave,$SLAPD_PEOPLE
	changetype: modify
	replace: cacemergency
	cacemergency: $(date -u -d '-1 minute' +%Y%m%d%H%M%SZ)
	EOF
	sleep 1.2	# the cache's 1 s
	for u in alice erin; do
		auth_smtplib "$SUB_PORT" LOGIN "$u" "${u}pw" noir >"$T/py-$u" 2>&1 ||
		    { cat "$T/py-$u"; fail "smtplib $u"; }
		cat "$T/py-$u"
		grep -q '^SENT' "$T/py-$u" || fail "$u not allowed after the change"
	done
	auth_smtplib "$SUB_PORT" LOGIN dave davepw noir >"$T/py-dave" 2>&1
	cat "$T/py-dave"
	grep -q '^AUTH 525 5.7.13 Dear user, please use your CAC to send email.$' "$T/py-dave" ||
	    fail "dave allowed after his emergency ended"
	up_assert_count 5
	up_msg_json 4 'm["xclient"]["LOGIN"] == "alice"'
	up_msg_json 5 'm["xclient"]["LOGIN"] == "erin"'
}

# disallowed monitor: alice (outside the allowance) gets in, and every
# command, reply and envelope of her session after AUTH is logged with a
# monitor tag; the Received: field says "monitored".  bob, inside the
# allowance, is not monitored.
test_monitor_mode_logs_the_session() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_AUTH_ONLY SMTP_PROFILE=ldap-users \
	    auth_start 's/^\tdisallowed reject 525 .*$/\tdisallowed monitor/'
	grep -q '^	disallowed monitor$' "$T/smtpcertd.conf" || fail "sed"
	auth_raw '
c = session(sys.argv[1], tls=True)
c.cmd("AUTH PLAIN " + plain("alice", "alicepw"), 235)
c.cmd("NOOP", 250)
c.cmd("MAIL FROM:<alice@example.test>", 250)
c.cmd("RCPT TO:<bob@example.test>", 250)
c.cmd("RCPT TO:<carol@example.test>", 250)
c.cmd("DATA", 354)
c.send(b"Subject: monitored\r\n\r\nhello\r\n.\r\n")
c.expect(250)
c.cmd("RSET", 250)
c.cmd("QUIT", 221)
c = session(sys.argv[1], tls=True)
c.cmd("AUTH PLAIN " + plain("bob", "bobpw"), 235)
c.message(frm="bob@example.test", rcpts=("alice@example.test",))
c.cmd("QUIT", 221)
' "$SUB_PORT"
	smtp_swaks "$T/sw-erin" --tls --auth LOGIN --auth-user erin \
	    --auth-password erinpw --from erin@example.test --to bob@example.test
	swaks_delivered "$T/sw-erin"
	up_assert_count 3
	up_msg_json 1 'm["xclient"]["LOGIN"] == "alice" and m["rcpts"] == ["bob@example.test", "carol@example.test"]'
	up_received 1 "authenticated as alice by AUTH PLAIN, monitored"
	up_msg_json 2 'm["xclient"]["LOGIN"] == "bob"'
	up_received 2 "authenticated as bob by AUTH PLAIN)"
	up_received 3 "authenticated as erin by AUTH LOGIN, monitored"
	local sid
	sid=$(sed -n 's/^[^ ]* front\[[0-9]*\]: session=\([0-9a-f]*\) event=monitor .*user=alice reason="authenticated outside the allowance.*/\1/p' "$T/smtpcertd.log")
	[ -n "$sid" ] || fail "no monitor line for alice"
	grep "session=$sid event=monitor " "$T/smtpcertd.log" | sed 's/^[^ ]* //' >"$T/mon"
	cat "$T/mon"
	local re
	for re in 'reply="235 ' 'command=NOOP$' 'reply="250 ' \
	    'command="MAIL FROM:<alice@example.test>"$' \
	    'command="RCPT TO:<bob@example.test>"$' \
	    'command="RCPT TO:<carol@example.test>"$' \
	    'command=DATA$' '(upstream-)?reply="354 ' \
	    'upstream-reply="250 .*queued' \
	    'command=RSET$' 'command=QUIT$' 'reply="221 '; do
		grep -Eq -- "$re" "$T/mon" || fail "no monitor line /$re/"
	done
	# Issue 15: monitor mode logs the session from the connection on:
	# what came before the AUTH that began it is logged then, in order,
	# marked replay=yes, AUTH without its response.
	local first
	first=$(grep -n 'reason="authenticated outside' "$T/mon" | cut -d: -f1)
	head -n "$first" "$T/mon" | grep 'replay=yes' | sed -E 's/.* (command|reply)=/\1=/; s/ replay=yes$//' >"$T/replay"
	$PY - "$T/replay" <<'EOF' || { cat "$T/replay"; fail "monitor replay of the session before AUTH"; }
import re, sys
got = [l.rstrip("\n") for l in open(sys.argv[1])]
want = [r'reply="220 ', r'command="EHLO ', r'reply="250-', r'command=STARTTLS$',
        r'reply="220 ', r'command="EHLO ', r'reply="250-',
        r'command="AUTH PLAIN \(response not logged\)"$']
assert len(got) == len(want), got
for g, w in zip(got, want):
    assert re.match(w, g), (g, w)
EOF
	# Replayed lines come before the line that says why, none after.
	! tail -n "+$first" "$T/mon" | grep -q 'replay=yes' || fail "replayed line after the start"
	# bob, inside the allowance, has no monitor line at all.
	local bsid0
	bsid0=$(sed -n 's/^[^ ]* front\[[0-9]*\]: session=\([0-9a-f]*\) event=auth .*method=PLAIN user=bob result=ok.*/\1/p' "$T/smtpcertd.log" | head -1)
	! grep -q "session=$bsid0 event=monitor" "$T/smtpcertd.log" || fail "bob monitored"
	# erin's AUTH LOGIN: neither her name nor her password as she sent them.
	! grep -Eq 'erinpw|ZXJpbnB3|ZXJpbg==' "$T/smtpcertd.log" || fail "AUTH LOGIN response logged"
	# The password never appears in the log, not even in the monitor.
	! grep -Eq 'alicepw|YWxpY2Vwdw|AGFsaWNlAGFsaWNlcHc' "$T/smtpcertd.log" || fail "password logged"
	log_count_is 'event=monitor .*user=erin reason="authenticated outside the allowance' 1 ||
	    fail "erin not monitored"
	log_count_is "event=monitor .*user=bob " 0 || fail "bob monitored"
	local bsid
	bsid=$(sed -n 's/^[^ ]* front\[[0-9]*\]: session=\([0-9a-f]*\) event=auth .*method=PLAIN user=bob result=ok.*/\1/p' "$T/smtpcertd.log")
	[ -n "$bsid" ] && ! grep -q "session=$bsid event=monitor" "$T/smtpcertd.log" ||
	    fail "bob's session has monitor lines"
}

# A certificate profile with "fallback smtp-auth" (listener 1, profile
# cac) lets clients without a mapped certificate use AUTH; without it
# (listener 2, profile cert-only) they cannot authenticate at all.  The
# seed's mixed policy on both.
test_fallback_on_and_off() {
	smtp_env
	NOFB_PORT=$(free_port)
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac SMTP_NO_SMTPS=1 \
	    AUTH_CONF_APPEND="listen on 127.0.0.1 port $NOFB_PORT starttls pki \"gw\" ca \"clients\" auth-profile \"cert-only\" policy \"RELAYED\" relay \"mx\"" \
	    auth_start
	# on: curl (no certificate) and swaks (bob's unmapped certificate)
	auth_curl "$T/curl-on" "$SUB_PORT" LOGIN carol:carolpw ||
	    { cat "$T/curl-on"; fail "curl with fallback"; }
	smtp_swaks "$T/sw-on" --tls $(swaks_cert bob) --auth PLAIN \
	    --auth-user bob --auth-password bobpw --from bob@example.test \
	    --to alice@example.test
	swaks_delivered "$T/sw-on"
	up_assert_count 2
	up_received 1 "authenticated as carol by AUTH LOGIN"
	up_received 2 "authenticated as bob by AUTH PLAIN"
	# off: no AUTH offered, AUTH refused, MAIL 530; curl and swaks fail
	auth_raw '
c = session(sys.argv[1], tls=True)
r = c.ehlo()
assert "AUTH" not in r, r
c.cmd("AUTH PLAIN " + plain("bob", "bobpw"), 503, "5.5.1 AUTH not available")
c.cmd("AUTH LOGIN", 503)
c.cmd("MAIL FROM:<bob@example.test>", 530, "5.7.0 Authentication required")
c.cmd("QUIT", 221)
c = session(sys.argv[1], tls=True, cert="bob")
r = c.ehlo()
assert "AUTH" not in r, r
c.cmd("AUTH PLAIN " + plain("bob", "bobpw"), 503)
c.cmd("MAIL FROM:<bob@example.test>", 530, "not registered")
c.cmd("QUIT", 221)
' "$NOFB_PORT"
	auth_curl "$T/curl-off" "$NOFB_PORT" PLAIN bob:bobpw && fail "curl without fallback delivered"
	grep -q '^< 530 5\.7\.0 Authentication required' "$T/curl-off" &&
	    ! grep -q '^> AUTH' "$T/curl-off" || { cat "$T/curl-off"; fail "curl off"; }
	smtp_swaks "$T/sw-off" --server "127.0.0.1:$NOFB_PORT" --tls --auth PLAIN \
	    --auth-user bob --auth-password bobpw --from bob@example.test --to alice@example.test
	! grep -q '^<~  *235' "$T/sw-off" || fail "swaks authenticated without fallback"
	! grep -q '^ ~> AUTH' "$T/sw-off" || fail "AUTH was offered to swaks"
	grep -q 'Host did not advertise authentication' "$T/sw-off" || fail "swaks saw AUTH"
	# A mapped certificate works on both.
	smtp_swaks "$T/sw-cert" --server "127.0.0.1:$NOFB_PORT" --tls $(swaks_cert alice) \
	    --from alice@example.test --to bob@example.test
	swaks_delivered "$T/sw-cert"
	up_assert_count 3
	up_received 3 "authenticated as alice by certificate serial"
	log_count_is 'event=auth .*result=ok' 2 || fail "an AUTH succeeded on the no-fallback listener"
}

# AUTH EXTERNAL: a client with a mapped certificate may name its identity
# (or take the certificate's with "="); another identity, no certificate
# or an unmapped one get 535; after EXTERNAL another AUTH is 503.  The
# message still says how the certificate identified the user.
test_auth_external_with_certificate() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac auth_start
	auth_raw '
c = session(sys.argv[1], tls=True, cert="alice")
r = c.ehlo()
assert "AUTH EXTERNAL" in r and "PLAIN" not in r, r
c.cmd("AUTH EXTERNAL =", 235, "2.7.0")
c.cmd("AUTH EXTERNAL =", 503, "5.5.1")
c.message(frm="alice@example.test", body=b"Subject: external =\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
c = session(sys.argv[1], tls=True, cert="alice")
c.cmd("AUTH EXTERNAL " + b64("bob"), 535, "5.7.8")
c.cmd("AUTH EXTERNAL " + b64("alice\0bob"), 535)
c.cmd("AUTH EXTERNAL " + b64("bob\r\n250 fake"), 535, "does not belong")
c.cmd("AUTH EXTERNAL " + b64("alice"), 235)
c.cmd("AUTH PLAIN " + plain("bob", "bobpw"), 503)
c.message(frm="alice@example.test", body=b"Subject: external alice\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
c = session(sys.argv[1], tls=True)
c.cmd("AUTH EXTERNAL =", 535, "No certificate identity")
c.cmd("MAIL FROM:<alice@example.test>", 530)
c.cmd("QUIT", 221)
c = session(sys.argv[1], tls=True, cert="bob")
c.cmd("AUTH EXTERNAL " + b64("bob"), 535)
c.cmd("MAIL FROM:<bob@example.test>", 530)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	# Python smtplib as the EXTERNAL client (no helper for it built in).
	T=$T timeout -k 2 30 $PY -c '
import os, smtplib, ssl, sys
pki = os.environ["T"] + "/pki/"
ctx = ssl.create_default_context(cafile=pki + "chain.pem")
ctx.check_hostname = False
ctx.load_cert_chain(pki + "alice.crt", pki + "alice.key")
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.starttls(context=ctx)
s.ehlo()
assert s.has_extn("auth") and "EXTERNAL" in s.esmtp_features["auth"], s.esmtp_features
code, msg = s.auth("EXTERNAL", lambda challenge=None: "alice")
assert code == 235, (code, msg)
s.sendmail("alice@example.test", ["bob@example.test"], "Subject: smtplib external\r\n\r\nx\r\n")
s.quit()
print("ok")
' "$SUB_PORT" || fail "smtplib AUTH EXTERNAL"
	up_assert_count 3
	local n
	for n in 1 2 3; do
		up_received $n "authenticated as alice by certificate serial $(pki_serial "$PKI" alice)"
		up_msg_json $n 'm["xclient"]["LOGIN"] == "alice"'
	done
}

# The first server of the profile is a port nothing listens on: AUTH and
# the certificate lookup are answered by the second, quickly.
test_first_ldap_server_down_second_answers() {
	smtp_env
	local dead t0 t1
	dead=$(free_port)
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac auth_start \
	    "s|^\tserver \"ldap://127.0.0.1:$LDAP_PORT\"\$|\tserver \"ldap://127.0.0.1:$dead\"\n&|" \
	    's/^\ttimeout 5s$/\ttimeout 3s\n\tconnect-timeout 1s/'
	grep -A1 "127.0.0.1:$dead" "$T/smtpcertd.conf" | grep -q "127.0.0.1:$LDAP_PORT" || fail "sed"
	t0=$(now)
	auth_smtplib "$SUB_PORT" PLAIN bob bobpw ir >"$T/py-bob" 2>&1 || { cat "$T/py-bob"; fail "smtplib"; }
	t1=$(now)
	cat "$T/py-bob"
	grep -q '^SENT' "$T/py-bob" || fail "bob not authenticated with the first server down"
	note "AUTH + message with the first server down: $(elapsed "$t0" "$t1")s"
	smtp_swaks "$T/sw-alice" --tls $(swaks_cert alice) --from alice@example.test \
	    --to bob@example.test
	swaks_delivered "$T/sw-alice"
	auth_curl "$T/curl-dave" "$SUB_PORT" LOGIN dave:davepw || { cat "$T/curl-dave"; fail "curl dave"; }
	up_assert_count 3
	up_msg_json 1 'm["xclient"]["LOGIN"] == "bob"'
	up_msg_json 2 'm["xclient"]["LOGIN"] == "alice"'
	up_msg_json 3 'm["xclient"]["LOGIN"] == "dave"'
	lt "$(elapsed "$t0" "$t1")" 3 || fail "failover took longer than the timeout"
}

# Every server down or hung: 454 4.7.0 within the request timeout (2 s
# here, printed, not asserted tightly), never 535, not counted as failed
# logins (limit 2) and not cached: once slapd answers again the same user
# gets in.  A hung slapd (SIGSTOP) also makes the certificate lookup
# tempfail (454 at MAIL, and at AUTH EXTERNAL, which EHLO still offers).
test_all_ldap_servers_down_454_within_timeout() {
	smtp_env
	local dead spid t0 t1 e
	dead=$(free_port)
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac \
	    SMTP_GLOBAL="limit max-auth-failures 2" auth_start \
	    "s|^\tserver \"ldap://127.0.0.1:$LDAP_PORT\"\$|\tserver \"ldap://127.0.0.1:$dead\"\n&|" \
	    's/^\ttimeout 5s$/\ttimeout 2s\n\tconnect-timeout 1s/'
	auth_smtplib "$SUB_PORT" PLAIN bob bobpw ir >"$T/py-warm" 2>&1 || { cat "$T/py-warm"; fail "warm-up"; }
	grep -q '^SENT' "$T/py-warm" || { cat "$T/py-warm"; fail "warm-up not sent"; }
	spid=$(slapd_pid)
	trap 'kill -CONT '"$spid"' 2>/dev/null || :' EXIT
	kill -STOP "$spid"
	t0=$(now)
	auth_raw '
t0 = time.time()
for (u, p) in (("carol", "carolpw"), ("carol", "wrong"), ("carol", "carolpw")):
    c = session(sys.argv[1], tls=True)
    t = time.time()
    c.cmd("AUTH PLAIN " + plain(u, p), 454, "4.7.0 Temporary authentication failure")
    print("# hung slapd: 454 after %.2fs" % (time.time() - t))
    c.cmd("MAIL FROM:<carol@example.test>", 530)
    c.cmd("QUIT", 221)
t = time.time()
c = session(sys.argv[1], tls=True, cert="alice")
c.cmd("MAIL FROM:<alice@example.test>", 454, "4.7.0 Temporary authentication failure")
print("# hung slapd: certificate lookup tempfail after %.2fs" % (time.time() - t))
c.cmd("QUIT", 221)
# Issue 15: the certificate user still sees AUTH EXTERNAL (not a
# server without authentication), and AUTH EXTERNAL answers 454.
c = session(sys.argv[1], tls=True, cert="alice")
r = c.ehlo()
assert "AUTH EXTERNAL" in r and "PLAIN" not in r, r
c.cmd("AUTH EXTERNAL =", 454, "4.7.0 Temporary authentication failure")
c.cmd("MAIL FROM:<alice@example.test>", 454, "4.7.0")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	t1=$(now)
	e=$(elapsed "$t0" "$t1")
	note "five lookups against a hung slapd (timeout 2s each): ${e}s"
	lt "$e" 30 || fail "lookups took ${e}s"
	log_count_is 'event=auth .*method=EXTERNAL result=tempfail' 1 ||
	    fail "no tempfail line for AUTH EXTERNAL"
	kill -CONT "$spid"
	# slapd answers again: carol is neither blocked nor cached as bad
	auth_raw '
def attempt():
    c = session(sys.argv[1], tls=True)
    r = c.cmd("AUTH PLAIN " + plain("carol", "carolpw"), "")
    if r.startswith("454"):
        c.close()
        return False
    assert r.startswith("235"), r
    c.message(frm="carol@example.test", body=b"Subject: after the outage\r\n\r\nx\r\n")
    c.cmd("QUIT", 221)
    return True
print("# slapd continued: carol in after %.2fs" % try_until(attempt, 15))
' "$SUB_PORT"
	# All down: the first port refuses, slapd is gone.
	stop_slapd "$T/ldap"
	auth_raw '
for (u, p) in (("dave", "davepw"), ("dave", "wrong")):
    c = session(sys.argv[1], tls=True)
    t = time.time()
    c.cmd("AUTH LOGIN", 334)
    c.cmd(b64(u), 334)
    c.cmd(b64(p), 454, "4.7.0")
    e = time.time() - t
    print("# all servers down: 454 after %.2fs" % e)
    assert e < 2 + 3, e
    c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 2
	up_msg_json 1 'm["xclient"]["LOGIN"] == "bob"'
	up_msg_json 2 'm["xclient"]["LOGIN"] == "carol"'
	log_count_is 'result="(bad credentials|not found)"' 0 || fail "an outage was taken for bad credentials"
	log_count_is 'too many failed attempts' 0 || fail "outages counted as failed logins"
}

# slapd stopped and started again on the same port: AUTH tempfails
# meanwhile, then works again without restarting smtpcertd or its
# children.
test_slapd_restart_is_used_again() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_AUTH_ONLY SMTP_PROFILE=ldap-users auth_start \
	    's/^\ttimeout 5s$/\ttimeout 2s\n\tconnect-timeout 1s/'
	local before after
	before=$(ctl show status | awk '$1 ~ /^(parent|front|ldapd-helper)$/ { print $1, $2, $5 }')
	smtp_swaks "$T/sw1" --tls --auth PLAIN --auth-user bob --auth-password bobpw \
	    --from bob@example.test --to alice@example.test
	swaks_delivered "$T/sw1"
	stop_slapd "$T/ldap"
	smtp_swaks "$T/sw2" --tls --auth LOGIN --auth-user carol --auth-password carolpw \
	    --from carol@example.test --to alice@example.test
	grep -q '^<~\* *454 4\.7\.0 Temporary authentication failure' "$T/sw2" || fail "no 454 while slapd is down"
	start_slapd "$T/ldap" >/dev/null
	auth_raw '
def attempt():
    c = session(sys.argv[1], tls=True)
    r = login(c, "carol", "carolpw", "")
    if r.startswith("454"):
        c.close()
        return False
    assert r.startswith("235"), r
    c.message(frm="carol@example.test", body=b"Subject: after restart\r\n\r\nx\r\n")
    c.cmd("QUIT", 221)
    return True
print("# slapd restarted: carol in after %.2fs" % try_until(attempt, 20))
' "$SUB_PORT"
	auth_curl "$T/curl-dave" "$SUB_PORT" PLAIN dave:davepw || { cat "$T/curl-dave"; fail "curl dave"; }
	up_assert_count 3
	up_msg_json 2 'm["xclient"]["LOGIN"] == "carol"'
	up_msg_json 3 'm["xclient"]["LOGIN"] == "dave"'
	after=$(ctl show status | awk '$1 ~ /^(parent|front|ldapd-helper)$/ { print $1, $2, $5 }')
	[ "$before" = "$after" ] || fail "processes changed: $before / $after"
}

# Hostile user names, each with bob's (or admin's) real password, so that
# an unescaped filter would log in as bob or admin: never authenticated
# (535; 501 where PLAIN cannot carry the name), and slapd only ever sees
# escaped assertion values.  Names with control characters or
# leading/trailing spaces (which the directory would normalise to "bob")
# never reach LDAP.
test_ldap_injection_user_names() {
	SLAPD_DEBUG=256 smtp_env
	ldap_admin_modify "$T/ldap" >/dev/null <<-EOF
	dn: uid=admin,$SLAPD_PEOPLE
	changetype: add
	objectClass: inetOrgPerson
	uid: admin
	cn: admin
	sn: admin
	mail: admin@example.test
	userPassword: adminpw
	EOF
	ldap_gw_search "$T/ldap" '(uid=b*)' uid | grep -q '^uid: bob$' ||
	    fail "premise: (uid=b*) finds bob"
	ldap_gw_search "$T/ldap" '(uid=\62ob)' uid | grep -q '^uid: bob$' ||
	    fail "premise: (uid=\\62ob) finds bob"
	local skip
	skip=$(wc -l <"$T/ldap/slapd.log")
	SMTP_POLICY=$POLICY_PLAIN_AUTH SMTP_PROFILE=ldap-users \
	    SMTP_GLOBAL="limit max-auth-failures 1000" auth_start
	auth_raw '
ldap_names = [b"*", b"b*", b"bo*", b"*)(uid=*))(|(uid=*", b"*)(uid=*",
    b"bob)(uid=*", b"bob)(|(uid=*)", b"(bob", b"bob)", b"\\62ob", b"bo\\62",
    b"bob\\", b"\\", b"\\2a", b"b\\2a", b"bob\\00"]
admin_names = [b"admin*)((|userpassword=*)", b"admin*", b"ad*", b"*min",
    b"admin)(|(uid=*"]
front_names = [b"bob\0", b"bob\0x", b"\0bob", b"bob\r\n", b"bob\n", b"bob\r",
    b"bob\r\nMAIL FROM:<x@y>", b"bob\t", b" bob", b"bob ", b"  bob  ",
    b"bob\x7f", b"bob\x1b"]
def attempt(mech, name, pw, code, text=None):
    c = session(sys.argv[1])
    if mech == "PLAIN":
        c.cmd("AUTH PLAIN " + plain(name, pw), code, text)
    else:
        c.cmd("AUTH LOGIN " + b64(name), 334, "UGFzc3dvcmQ6")
        c.cmd(b64(pw), code, text)
    c.cmd("MAIL FROM:<bob@example.test>", 530, "Authentication required")
    c.cmd("QUIT", 221)
    c.close()
for mech in ("PLAIN", "LOGIN"):
    for n in ldap_names:
        attempt(mech, n, "bobpw", 535, "5.7.8")
    for n in admin_names:
        attempt(mech, n, "adminpw", 535, "5.7.8")
    for n in front_names:
        if mech == "PLAIN" and b"\0" in n:
            # a NUL in PLAIN is a separator: the message is malformed
            attempt(mech, n, "bobpw", 501, "5.5.2")
        else:
            attempt(mech, n, "bobpw", 535, "5.7.8")
# The real ones still work (nothing was blocked or cached wrongly).
c = session(sys.argv[1])
c.cmd("AUTH PLAIN " + plain("admin", "adminpw"), 235)
c.cmd("QUIT", 221)
c = session(sys.argv[1])
c.cmd("AUTH LOGIN " + b64("bob"), 334)
c.cmd(b64("bobpw"), 235)
c.message(frm="bob@example.test")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	up_msg_json 1 'm["xclient"]["LOGIN"] == "bob"'
	log_count_is 'event=auth .*result=ok' 2 || fail "a hostile name logged in"
	log_count_is 'event=auth .*user=(bob|admin) result=ok' 2 || fail "logins other than the real ones"
	# 13 names with control characters or outer spaces, by LOGIN, and
	# the 10 of them without NUL by PLAIN: refused before LDAP.
	log_count_is 'reason="invalid user name before LDAP"' 23 ||
	    fail "$(log_count 'reason="invalid user name before LDAP"') names refused before LDAP, want 23"
	# slapd's view: escaped assertion values only, never a wildcard or
	# a nested filter made from a user name.
	# (what slapd logged after the premise searches above)
	tail -n +"$((skip + 1))" "$T/ldap/slapd.log" >"$T/slapd-gw.log"
	grep -o 'filter="[^"]*"' "$T/slapd-gw.log" | sort | uniq -c | sed 's/^/# slapd: /'
	local want
	for want in '(uid=\2A)' '(uid=b\2A)' '(uid=\2A\29\28uid=\2A\29\29\28|\28uid=\2A)' \
	    '(uid=admin\2A\29\28\28|userpassword=\2A\29)' '(uid=\5C62ob)' \
	    '(uid=bob\5C)' '(uid=\5C)' '(uid=bob\5C00)'; do
		grep -Fiq "filter=\"$want\"" "$T/slapd-gw.log" ||
		    fail "slapd never got filter $want"
	done
	! grep -Eq 'filter="\(uid=[^"]*\*' "$T/slapd-gw.log" || fail "slapd got a wildcard"
	! grep -Eq 'filter="\(\|' "$T/slapd-gw.log" || fail "slapd got an injected filter"
	! grep -Eiq 'filter="\(uid=[^"]*(\\0[0-9a-f]|\\20|\\7f|\\1b)' "$T/slapd-gw.log" ||
	    fail "a control character or space reached slapd"
}

# kill -9 of ldapd-helper while two sessions wait on it (slapd is hung, the
# timeout long): both get 454 at once, neither is let in, the parent
# restarts the helper and AUTH works again.
test_killed_ldapd_helper_sessions_get_454() {
	smtp_env
	SMTP_POLICY=$POLICY_PLAIN_AUTH SMTP_PROFILE=ldap-users \
	    auth_start 's/^\ttimeout 5s$/\ttimeout 15s/'
	local spid hpid newpid pypid rc=0 i=0
	spid=$(slapd_pid)
	hpid=$(child_pid ldapd-helper)
	[ -n "$hpid" ] || fail "no helper pid"
	trap 'kill -CONT '"$spid"' 2>/dev/null || :' EXIT
	kill -STOP "$spid"
	auth_raw '
a = session(sys.argv[1])
b = session(sys.argv[1])
a.send("AUTH PLAIN " + plain("carol", "carolpw") + "\r\n")
b.send("AUTH LOGIN " + b64("dave") + "\r\n")
b.expect(334)
b.send(b64("davepw") + "\r\n")
for c in (a, b):
    c.s.settimeout(0.5)
    try:
        d = c.s.recv(100)
        raise AssertionError("answered while slapd hangs: %r" % d)
    except socket.timeout:
        pass
    c.s.settimeout(20)
open(T + "/waiting", "w").close()
t = time.time()
a.expect(454, "4.7.0")
b.expect(454, "4.7.0")
print("# 454 %.2fs after the sessions were waiting" % (time.time() - t))
for c in (a, b):
    c.cmd("MAIL FROM:<carol@example.test>", 530, "Authentication required")
    c.cmd("QUIT", 221)
' "$SUB_PORT" >"$T/kill.out" 2>&1 &
	pypid=$!
	wait_file "$T/waiting" 10 || { kill "$pypid"; cat "$T/kill.out"; fail "sessions not waiting"; }
	kill -KILL "$hpid"
	wait "$pypid" || rc=$?
	cat "$T/kill.out"
	[ $rc = 0 ] || fail "sessions did not get 454"
	kill -CONT "$spid"
	while newpid=$(child_pid ldapd-helper); [ -z "$newpid" ] || [ "$newpid" = "$hpid" ] ||
	    ! ctl show status | awk '$1 == "ldapd-helper" && $3 == "running"' | grep -q .; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "ldapd-helper not restarted"
		sleep 0.1
	done
	note "ldapd-helper restarted: pid $hpid -> $newpid"
	ctl show status | awk '$1 == "ldapd-helper" { print "# " $0 }'
	auth_raw '
def attempt():
    c = session(sys.argv[1])
    r = c.cmd("AUTH PLAIN " + plain("carol", "carolpw"), "")
    if r.startswith("454"):
        c.close()
        return False
    assert r.startswith("235"), r
    c.message(frm="carol@example.test")
    c.cmd("QUIT", 221)
    return True
print("# AUTH again after %.2fs" % try_until(attempt, 15))
' "$SUB_PORT"
	up_assert_count 1
	up_msg_json 1 'm["xclient"]["LOGIN"] == "carol"'
	# Each front fails its own: the two sessions may be on two fronts.
	[ "$(sed -n 's/.*ldapd-helper went away, failing \([0-9]*\) requests.*/\1/p' \
	    "$T/smtpcertd.log" | awk '{ n += $1 } END { print n + 0 }')" = 2 ] ||
	    fail "not logged"
	log_count_is 'event=auth .*result=ok' 1 || fail "someone got in while the helper was gone"
}

# Failed logins limited to 3 per user (across addresses) and per client
# address (across users) in a 3 s window, sources 127.0.0.2..8: only
# failures count, a success in between neither resets nor counts, the
# limit answers 454 4.7.0 even to the right password, and the window ends.
test_failed_login_rate_limit() {
	smtp_env
	SMTP_POLICY=$POLICY_PLAIN_AUTH SMTP_PROFILE=ldap-users \
	    SMTP_GLOBAL="limit max-auth-failures 3
limit auth-failure-window 3s" auth_start
	auth_raw '
LIMIT = "4.7.0 Too many failed authentication attempts"
def attempt(src, user, pw, code, text=None, send=False):
    c = session(sys.argv[1], src="127.0.0." + src)
    c.cmd("AUTH PLAIN " + plain(user, pw), code, text)
    if code == 235 and send:
        c.message(frm=user + "@example.test", body=("Subject: %s from %s\r\n\r\nx\r\n" % (user, src)).encode())
    elif code != 235:
        c.cmd("MAIL FROM:<%s@example.test>" % user, 530)
    c.cmd("QUIT", 221)
    c.close()
t0 = time.time()
# per user, across addresses
attempt("2", "bob", "wrong", 535)
attempt("3", "bob", "wrong", 535)
attempt("4", "bob", "bobpw", 235)
attempt("4", "bob", "bobpw", 235)
attempt("4", "bob", "wrong", 535)
attempt("5", "bob", "bobpw", 454, LIMIT)
attempt("5", "bob", "wrong", 454, LIMIT)
attempt("2", "carol", "carolpw", 235)       # .2 has one failure only
# per address, across users (an unknown user counts too)
attempt("6", "nobody", "x", 535)
attempt("6", "carol", "wrong", 535)
attempt("6", "dave", "wrong", 535)
attempt("6", "dave", "davepw", 454, LIMIT)
attempt("6", "erin", "erinpw", 454, LIMIT)
attempt("7", "dave", "davepw", 235)          # dave: one failure
attempt("7", "carol", "carolpw", 235)        # carol: one failure
# successes alone never add up
for i in range(5):
    attempt("8", "carol", "carolpw", 235)
e = time.time() - t0
print("# rate-limit checks took %.2fs" % e)
assert e < 2.5, "too slow for the 3 s window: %.2f" % e
time.sleep(3.3 - e)
attempt("5", "bob", "bobpw", 235, send=True)
attempt("6", "dave", "davepw", 235, send=True)
' "$SUB_PORT"
	up_assert_count 2
	up_msg_json 1 'm["xclient"]["LOGIN"] == "bob" and m["xclient"]["ADDR"] == "127.0.0.5"'
	up_msg_json 2 'm["xclient"]["LOGIN"] == "dave" and m["xclient"]["ADDR"] == "127.0.0.6"'
	log_count_is 'event=auth proto=smtp client=127\.0\.0\.5:[0-9]+ method=PLAIN user=bob result=blocked reason="too many failed attempts"' 2 ||
	    fail "bob's block not logged"
	log_count_is 'event=auth proto=smtp client=127\.0\.0\.6:[0-9]+ method=PLAIN user=(dave|erin) result=blocked reason="too many failed attempts"' 2 ||
	    fail "the address block not logged"
	# Blocked attempts do not reach LDAP.
	log_count_is 'event=auth .*user=erin result=[^b]' 0 || fail "a blocked attempt reached LDAP"
}

# sender must match: on the certificate profile (alice by certificate may
# use her two addresses, in any case, nothing else) and on an smtp-auth
# profile (bob); the fallback profile without the option lets bob use any
# sender, as does a profile without it.
test_sender_must_match() {
	smtp_env
	STRICT_PORT=$(free_port)
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac SMTP_NO_SMTPS=1 \
	    AUTH_CONF_APPEND="auth-profile \"ldap-strict\" ldap \"corp\" query \"users\" {
	sender must match
}
listen on 127.0.0.1 port $STRICT_PORT starttls pki \"gw\" ca \"clients\" auth-profile \"ldap-strict\" policy \"RELAYED\" relay \"mx\"" \
	    auth_start '/^\tfallback smtp-auth "ldap-users"$/a\	sender must match'
	grep -B2 'sender must match' "$T/smtpcertd.conf" | grep -q 'fallback smtp-auth' || fail "sed"
	auth_raw '
c = session(sys.argv[1], tls=True, cert="alice")
c.message(frm="alice@example.test", body=b"Subject: alice 1\r\n\r\nx\r\n")
c.message(frm="ALICE.Tester@Example.TEST", body=b"Subject: alice 2\r\n\r\nx\r\n")
c.cmd("MAIL FROM:<bob@example.test>", 553, "5.7.1 Sender address <bob@example.test> is not yours")
c.cmd("MAIL FROM:<alice@example.test.evil>", 553, "5.7.1")
c.cmd("MAIL FROM:<alice@example.tes>", 553, "5.7.1")
c.cmd("MAIL FROM:<>", 553, "5.7.1")
c.cmd("QUIT", 221)
# bob through the fallback (ldap-users has no sender check)
c = session(sys.argv[1], tls=True)
c.cmd("AUTH PLAIN " + plain("bob", "bobpw"), 235)
c.message(frm="alice@example.test", body=b"Subject: bob as alice\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
# the strict smtp-auth profile
c = session(sys.argv[2], tls=True)
login(c, "bob", "bobpw", 235)
c.cmd("MAIL FROM:<alice@example.test>", 553, "use one of the addresses of bob")
c.cmd("MAIL FROM:<carol@example.test>", 553, "5.7.1")
c.message(frm="bob@example.test", body=b"Subject: bob strict\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT" "$STRICT_PORT"
	smtp_swaks "$T/sw-strict" --server "127.0.0.1:$STRICT_PORT" --tls --auth LOGIN \
	    --auth-user carol --auth-password carolpw --from bob@example.test --to alice@example.test
	grep -q '^<~\* *553 5\.7\.1 Sender address <bob@example.test> is not yours' "$T/sw-strict" ||
	    fail "swaks: no 553"
	auth_curl "$T/curl-strict" "$STRICT_PORT" PLAIN carol:carolpw alice@example.test &&
	    fail "curl: delivered with a foreign sender"
	grep -q '^< 553 5\.7\.1' "$T/curl-strict" || { cat "$T/curl-strict"; fail "curl: no 553"; }
	auth_curl "$T/curl-own" "$STRICT_PORT" PLAIN carol:carolpw carol@example.test ||
	    { cat "$T/curl-own"; fail "curl: own sender refused"; }
	up_assert_count 5
	up_msg_json 1 'm["mail_from"] == "alice@example.test" and m["xclient"]["LOGIN"] == "alice"'
	up_msg_json 2 'm["mail_from"] == "ALICE.Tester@Example.TEST"'
	up_msg_json 3 'm["mail_from"] == "alice@example.test" and m["xclient"]["LOGIN"] == "bob"'
	up_msg_json 4 'm["mail_from"] == "bob@example.test" and m["xclient"]["LOGIN"] == "bob"'
	up_msg_json 5 'm["mail_from"] == "carol@example.test" and m["xclient"]["LOGIN"] == "carol"'
	up_raw_lacks 'MAIL FROM:<(alice@example\.test\.evil|alice@example\.tes|)>'
}

# The helper's cache: with slapd stopped (within the TTL) the same user and
# password are answered from the positive cache and an unknown user from
# the negative one; a wrong password -- new or seen before -- is never
# served from the cache (454, not 535, not 235), nor is a user never seen.
test_cache_positive_never_wrong_password() {
	smtp_env
	SMTP_POLICY=$POLICY_PLAIN_AUTH SMTP_PROFILE=ldap-users \
	    SMTP_GLOBAL="limit max-auth-failures 1000" auth_start \
	    's/^\ttimeout 5s$/\ttimeout 2s\n\tconnect-timeout 1s/'
	auth_raw '
c = session(sys.argv[1])
c.cmd("AUTH PLAIN " + plain("bob", "bobpw"), 235)
c.message(frm="bob@example.test", body=b"Subject: live\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
c = session(sys.argv[1])
c.cmd("AUTH PLAIN " + plain("bob", "wrong"), 535)
c.cmd("AUTH PLAIN " + plain("nobody", "x"), 535)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	stop_slapd "$T/ldap"
	auth_raw '
c = session(sys.argv[1])
login(c, "bob", "bobpw", 235)
c.message(frm="bob@example.test", body=b"Subject: cached\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
for pw in ("wrong", "bobpw2", "bobp", "bobpw ", "BOBPW"):
    c = session(sys.argv[1])
    c.cmd("AUTH PLAIN " + plain("bob", pw), 454, "4.7.0")
    c.cmd("MAIL FROM:<bob@example.test>", 530)
    c.cmd("QUIT", 221)
c = session(sys.argv[1])
c.cmd("AUTH PLAIN " + plain("nobody", "x"), 535)
c.cmd("AUTH PLAIN " + plain("carol", "carolpw"), 454)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 2
	up_msg_json 2 'm["xclient"]["LOGIN"] == "bob"'
	log_count_is 'ldapd-helper.*user "bob": ok user bob [0-9]+ms cached' 1 ||
	    fail "positive answer not from the cache"
	log_count_is 'ldapd-helper.*user "nobody": not found [0-9]+ms cached' 1 ||
	    fail "negative answer not from the cache"
	log_count_is 'ldapd-helper.*user "bob": .*cached' 1 ||
	    fail "a wrong password was answered from the cache"
	log_count_is 'user=bob result="temporary failure"' 5 ||
	    { grep 'user=bob result=' "$T/smtpcertd.log"; fail "wrong passwords not tempfailed"; }
	# smtpcertctl ldap flush: the cached answer is gone, so with the
	# directory still down bob now gets a temporary failure.
	"$SMTPCERTCTL" -s "$T/ctl.sock" ldap flush | grep -q "LDAP caches flushed" ||
	    fail "ldap flush not acknowledged"
	wait_log "$T/smtpcertd.log" "ldapd-helper.*flush" 5 || fail "ldapd-helper did not flush"
	auth_raw '
c = session(sys.argv[1])
c.cmd("AUTH PLAIN " + plain("bob", "bobpw"), 454, "4.7.0")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 2
}

if [ $# -gt 0 ]; then
	for t in "$@"; do auth_run_test "$t"; done
	finish
	exit
fi
auth_run_test test_plain_and_login_with_every_client
auth_run_test test_allowance_every_branch
auth_run_test test_monitor_mode_logs_the_session
auth_run_test test_fallback_on_and_off
auth_run_test test_auth_external_with_certificate
auth_run_test test_first_ldap_server_down_second_answers
auth_run_test test_all_ldap_servers_down_454_within_timeout
auth_run_test test_slapd_restart_is_used_again
auth_run_test test_ldap_injection_user_names
auth_run_test test_killed_ldapd_helper_sessions_get_454
auth_run_test test_failed_login_rate_limit
auth_run_test test_sender_must_match
auth_run_test test_cache_positive_never_wrong_password
finish
