#!/bin/bash
# Logging (smtpcertd(8), LOGGING): one key=value line per session event
# with the stable fields, values from the network escaped so that they can
# neither forge a line nor a field, and per-subsystem tracing switched at
# run time with `smtpcertctl log verbose|brief [subsystem ...]`, also in
# a child the parent restarts.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

INTER_DN="CN=Example Test Intermediate CA,O=Example Test,C=US"
# Every line of -d starts with its time: ISO 8601, UTC, milliseconds.
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# kv_check SELECT-REGEX PYTHON-EXPR: exactly one line of the daemon's log
# matches the regex; its fields, decoded by the rules of smtpcertd/front/kvlog.h,
# are the dict f (None for "-"), and the expression must hold.  A decoder
# written apart from kvlog.c, as a site's log shipper would be.  With
# KV_ALL=1, any number of lines, each parsed and checked.
kv_check() {
	$PY - "$T/smtpcertd.log" "$1" "$2" <<'EOF' || { fail "kv_check /$1/: $2"; return 1; }
import os, re, sys
log, sel, expr = sys.argv[1], sys.argv[2], sys.argv[3]

def parse(line):
    m = re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [a-z-]+\[\d+\]: (.*)$", line)
    if not m:
        raise ValueError("no process tag: %r" % line)
    b, f, i = m.group(1), {}, 0
    while i < len(b):
        j = b.index("=", i)
        key = b[i:j]
        if not re.fullmatch(r"[a-z0-9-]+", key) or key in f:
            raise ValueError("bad or repeated key %r" % key)
        i = j + 1
        if b[i] == '"':
            i += 1
            v = bytearray()
            while b[i] != '"':
                if b[i] == "\\":
                    if b[i + 1] == "x":
                        v.append(int(b[i + 2:i + 4], 16))
                        i += 4
                    elif b[i + 1] in '"\\':
                        v += b[i + 1].encode()
                        i += 2
                    else:
                        raise ValueError("bad escape at %d" % i)
                    continue
                # Printable ASCII, or UTF-8 that prints (kvlog.h).
                if not (0x20 <= ord(b[i]) < 0x7f or ord(b[i]) >= 0xa0):
                    raise ValueError("raw byte %r in quotes" % b[i])
                v += b[i].encode()
                i += 1
            i += 1
            val = v.decode("utf-8")
        else:
            j = b.find(" ", i)
            j = len(b) if j < 0 else j
            val = b[i:j]
            if not re.fullmatch(r'[!#-<>-\[\]-~]+', val):
                raise ValueError("bad bare value %r" % val)
            if val == "-":
                val = None
            i = j
        if i < len(b):
            if b[i] != " ":
                raise ValueError("no space after %s" % key)
            i += 1
        f[key] = val
    return f

lines = [l.rstrip("\n") for l in open(log, encoding="utf-8")
         if re.search(sel, l)]
if os.environ.get("KV_ALL") != "1" and len(lines) != 1:
    print("want one line matching /%s/, got %d:" % (sel, len(lines)))
    print("\n".join(lines))
    sys.exit(1)
for line in lines:
    f = parse(line)
    if list(f)[:2] != ["session", "event"]:
        print("session and event do not come first:", line)
        sys.exit(1)
    if not eval("(" + expr + ")"):
        print("check failed on:", line)
        print(f)
        sys.exit(1)
EOF
}

# The session id of the one session whose connect line matches.
session_of() {
	sed -n "s/^[^ ]* front\[[0-9]*\]: session=\([0-9a-f]*\) event=$1 .*/\1/p" \
	    "$T/smtpcertd.log"
}

# A client certificate from the test intermediate with the subject given
# (openssl -subj syntax, bytes as they come) as $PKI/NAME.crt and .key.
make_hostile_cert() {
	local name=$1 subj=$2
	printf '%s\n' "[ ext ]" "basicConstraints = critical,CA:FALSE" \
	    "keyUsage = critical,digitalSignature,keyAgreement" \
	    "extendedKeyUsage = clientAuth" >"$T/$name.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$PKI/$name.key" -subj "$subj" -utf8 \
	    -out "$T/$name.csr" 2>"$T/$name.err" &&
	openssl x509 -req -in "$T/$name.csr" -CA "$PKI/inter.pem" \
	    -CAkey "$PKI/inter.key" -CAcreateserial -CAserial "$T/$name.srl" \
	    -days 2 -sha256 -extfile "$T/$name.ext" -extensions ext \
	    -out "$PKI/$name.crt" 2>>"$T/$name.err" ||
	    { cat "$T/$name.err"; fail "cannot make $name"; return 1; }
}

# A certificate session, start to end: every stable field of its end line
# has the right value, and its other lines carry the same session id.
test_end_line_certificate_session() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_CERT_ONLY SMTP_PROFILE=cert-only smtp_start
	smtp_raw '
c = C(sys.argv[1], tls=True, cert="alice")
c.ehlo("client.example.test")
c.message(frm="alice@example.test", rcpts=("bob@example.test",))
c.cmd("QUIT", 221)
' "$SMTPS_PORT"
	up_assert_count 1
	log_count_is "^$TS front\[[0-9]+\]: session=[0-9a-f]+ event=end " 1 || fail "no end line"
	local sid serial
	sid=$(session_of connect)
	serial=$(pki_serial "$PKI" alice)
	[ -n "$sid" ] || fail "no connect line"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=end " "
f['proto'] == 'smtp' and re.fullmatch(r'127\.0\.0\.1:\d+', f['client']) and
f['listener'] == '1' and f['helo'] == 'client.example.test' and
f['tls'] in ('TLSv1.2', 'TLSv1.3') and re.fullmatch(r'[A-Z0-9_-]+', f['cipher']) and
f['cert'] == 'ok' and 'UID=alice' in f['cert-subject'] and
f['cert-subject'].endswith(',OU=People,O=Example Test,C=US') and
f['cert-serial'] == '$serial' and f['cert-issuer'] == '$INTER_DN' and
f['user'] == 'alice' and f['method'] == 'certificate' and
f['messages'] == '1' and int(f['duration']) >= 0 and f['result'] == 'quit'"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=connect " \
	    "f['proto'] == 'smtp' and f['listener'] == '1' and f['client'].startswith('127.0.0.1:')"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=tls " \
	    "f['tls'] in ('TLSv1.2', 'TLSv1.3') and f['cert'] == 'presented'"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=cert " \
	    "f['cert-serial'] == '$serial' and f['user'] == 'alice' and f['result'] == 'ok'"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=upstream " \
	    "f['upstream'] == '127.0.0.1:$UP_PORT' and f['upstream-tls'] is None"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=message " "
f['from'] == 'alice@example.test' and f['rcpts'] == '1' and int(f['size']) > 0 and
f['to'] == 'bob@example.test' and 'to-more' not in f and
f['user'] == 'alice' and f['upstream'] == '127.0.0.1:$UP_PORT' and
re.fullmatch(r'250 2\.0\.0 Ok: queued as 1', f['upstream-reply']) and f['result'] == 'ok'"
	# Received: says how the message came (RFC 8314 7.4, Postfix's form).
	up_received 1 "(using $(sed -n "s/.*session=$sid event=tls .*tls=\([^ ]*\) .*/\1/p" "$T/smtpcertd.log") with cipher "
	grep -Eq '^	\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ \((128|256)/(128|256) bits\)\)'$'\r''$' "$T/up/msg-1.eml" ||
	    { head -5 "$T/up/msg-1.eml"; fail "Received: lacks the TLS session"; }
	# Every session line of the front is an event line.
	! grep -E "front\[[0-9]+\]: session" "$T/smtpcertd.log" |
	    grep -Ev "front\[[0-9]+\]: session=$sid event=[a-z-]+ " ||
	    fail "a session line of another shape"
}

# An SMTP AUTH session after STARTTLS without a certificate: the same
# fields, with the certificate ones empty; a failed AUTH before it has its
# own line, and no password reaches the log even with every trace on.
test_end_line_auth_session() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac smtp_start
	smtp_raw '
import base64
def plain(u, p):
    return base64.b64encode(b"\0" + u.encode() + b"\0" + p.encode()).decode()
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls()
c.ehlo("authclient.example.test")
c.cmd("AUTH PLAIN " + plain("bob", "wrongpw"), 535)
c.cmd("AUTH PLAIN " + plain("bob", "bobpw"), 235)
c.message(frm="bob@example.test", rcpts=("alice@example.test", "carol@example.test"))
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	log_count_is "^$TS front\[[0-9]+\]: session=[0-9a-f]+ event=end " 1 || fail "no end line"
	local sid
	sid=$(session_of connect)
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=end " "
f['proto'] == 'smtp' and re.fullmatch(r'127\.0\.0\.1:\d+', f['client']) and
f['listener'] == '0' and f['helo'] == 'authclient.example.test' and
f['tls'] in ('TLSv1.2', 'TLSv1.3') and f['cipher'] and f['cert'] == 'none' and
f['cert-subject'] is None and f['cert-serial'] is None and
f['cert-issuer'] is None and f['user'] == 'bob' and f['method'] == 'PLAIN' and
f['messages'] == '1' and f['result'] == 'quit'"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=auth .*result=ok" \
	    "f['method'] == 'PLAIN' and f['user'] == 'bob'"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=auth .*result=\"bad credentials\"" \
	    "f['method'] == 'PLAIN' and f['user'] == 'bob'"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=message " \
	    "f['from'] == 'bob@example.test' and f['rcpts'] == '2' and f['user'] == 'bob' and f['result'] == 'ok' and f['to'] == 'alice@example.test,carol@example.test'"
	# start_daemon runs with -v: the SMTP trace shows the dialogue,
	# AUTH without its response.
	log_count_is "trace smtp: session=$sid command=\"AUTH PLAIN \(response not logged\)\"" 2 ||
	    fail "AUTH not traced as withheld"
	log_count_is "trace smtp: session=$sid command=\"MAIL FROM:<bob@example.test>\"" 1 ||
	    fail "MAIL not traced"
	! grep -Eq 'wrongpw|bobpw|Ym9icHc|d3Jvbmdwdw|AGJvYgB' "$T/smtpcertd.log" ||
	    fail "a password reached the log"
}

# A certificate subject with a quote, a backslash, a newline and a
# forged field, and AUTH names with a quote and UTF-8: each event is one
# line, the values decode back to what came in, nothing looks like a
# field of its own.  (The newline in the CN makes the certificate
# unusable for the lookup: refused before LDAP, issue 12.)
test_hostile_values_escaped_one_line() {
	smtp_env
	local forged='session=000000000001 event=end user=root'
	make_hostile_cert hostile "/C=US/O=Example Test/OU=People/CN=evil\"q\\\\b
$forged/UID=M$(printf '\303\274')ller" || return 1
	# What certfields makes of the subject: OpenSSL's RFC 2253 form with
	# UTF-8 kept (the control byte is \0A there already).
	local want
	want=$(openssl x509 -in "$PKI/hostile.crt" -noout -subject \
	    -nameopt RFC2253,-esc_msb | sed 's/^subject=//')
	case $want in *'\"q\\b\0Asession='*) ;; *) fail "premise: subject is $want" ;; esac
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac smtp_start
	smtp_raw '
import base64
def plain(u, p):
    return base64.b64encode(b"\0" + u.encode() + b"\0" + p.encode()).decode()
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls(cert="hostile")
c.ehlo()
c.cmd("AUTH PLAIN " + plain("x\" user=root", "pw"), 535)
c.cmd("AUTH PLAIN " + plain("M\u00fcller", "pw"), 535)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	log_count_is "^$TS front\[[0-9]+\]: session=[0-9a-f]+ event=end " 1 || fail "not one end line"
	local sid
	sid=$(session_of connect)
	WANT=$want kv_check "^$TS front\[[0-9]+\]: session=$sid event=cert " \
	    "f['cert-subject'] == os.environ['WANT'] and f['result'] == 'unusable certificate field' and f['user'] is None" ||
	    return 1
	WANT=$want kv_check "^$TS front\[[0-9]+\]: session=$sid event=end " \
	    "f['cert-subject'] == os.environ['WANT'] and f['cert'] == 'bad-field' and f['user'] is None"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=auth .*user=\"x" \
	    "f['user'] == 'x\" user=root' and f['result'] == 'not found'"
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=auth .*user=\"M" \
	    "f['user'] == 'M\u00fcller' and f['result'] == 'not found'"
	# Valid UTF-8 is logged as it is (issue 15).
	grep -q "user=\"M$(printf '\303\274')ller\"" "$T/smtpcertd.log" || fail "UTF-8 not kept"
	# The forged text is inside a quoted value, never a line or field.
	! grep -Eq "^$TS (front|smtpcertd|ldapd-helper|crld)\[[0-9]+\]: session=000000000001" "$T/smtpcertd.log" ||
	    fail "a forged line"
	KV_ALL=1 kv_check "^$TS front\[[0-9]+\]: session=$sid event=" "f['session'] == '$sid' and f.get('user') != 'root'" ||
	    fail "a forged field"
	# (A sanitizer build's one-time notice about OpenSSL's asynchronous
	# job stacks, where handshakes wait for the keys process, is ASan's
	# own output, not a log line.)
	! grep -Ev "^$TS "'[a-z-]+\[[0-9]+\]: |^[[:space:]]*$|^==[0-9]+==WARNING: ASan is ignoring requested __asan_handle_no_return|^False positive error reports may follow$|^For details see https://github.com/google/sanitizers/issues/189$' "$T/smtpcertd.log" | grep -q . ||
	    { grep -Ev "^$TS "'[a-z-]+\[[0-9]+\]: ' "$T/smtpcertd.log"; fail "a line without a process tag"; }
}

# A plaintext message to 12 recipients, one refused by the upstream: the
# message line names the first 10 accepted and counts the rest, every
# value escaped; the Received: field names no TLS session.
test_message_line_recipients() {
	smtp_env --fail rcpt-reject
	SMTP_POLICY="tls preferred" SMTP_PROFILE=none smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("MAIL FROM:<sender@example.test>", 250)
c.cmd("RCPT TO:<\x22odd user\x22@example.test>", 250)
c.cmd("RCPT TO:<reject-me@example.test>", 550)
for i in range(1, 12):
    c.cmd("RCPT TO:<r%d@example.test>" % i, 250)
c.cmd("DATA", 354)
c.send(b"Subject: many\r\n\r\nx\r\n.\r\n")
c.expect(250)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 1
	local sid
	sid=$(session_of connect)
	kv_check "^$TS front\[[0-9]+\]: session=$sid event=message " "
f['rcpts'] == '12' and f['to-more'] == '2' and
f['to'] == '\"odd user\"@example.test,' + ','.join('r%d@example.test' % i for i in range(1, 10)) and
f['result'] == 'ok'"
	! head -3 "$T/up/msg-1.eml" | grep -q "using " || fail "plaintext Received: names TLS"
}

# pid of a running child, once it is not OLD any more.
wait_new_pid() {
	local name=$1 old=$2 i=0 p
	while [ $i -lt 150 ]; do
		p=$(ctl show status 2>/dev/null | awk -v n="$name" '$1 == n && $3 == "running" { print $2 }')
		if [ -n "$p" ] && [ "$p" != "$old" ]; then
			echo "$p"
			return 0
		fi
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# ldap_auth_once: one failed AUTH, so that ldapd-helper does a lookup
# (bad credentials are never cached).
ldap_auth_once() {
	smtp_raw '
import base64
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls(); c.ehlo()
c.cmd("AUTH PLAIN " + base64.b64encode(b"\0bob\0nopw").decode(), 535)
c.cmd("QUIT", 221)
' "$SUB_PORT" >>"$T/clients.out"
}

# log_level_seen PROC N TEXT: wait until PROC has logged TEXT N times.
log_level_seen() {
	local i=0
	while [ $i -lt 50 ]; do
		[ "$(grep -c "$1\[[0-9]*\]: $3\$" "$T/smtpcertd.log")" -ge "$2" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	fail "$1 did not log \"$3\" $2 times"
}

helper_traces() { grep -c "ldapd-helper\[[0-9]*\]: trace ldap: " "$T/smtpcertd.log" || :; }
smtp_traces() { grep -c "front\[[0-9]*\]: trace smtp: " "$T/smtpcertd.log" || :; }

# `log verbose ldap` makes ldapd-helper trace its lookups (and nothing
# else traces), `log brief` stops it, status shows the mask, and an
# ldapd-helper the parent restarts traces from its first line.
test_trace_ldap_switched_at_run_time() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_AUTH_ONLY SMTP_PROFILE=ldap-users smtp_start
	ctl log brief | grep -qx "logging brief" || fail "log brief reply"
	log_level_seen ldapd-helper 1 "log level brief"
	local n0 s0
	n0=$(helper_traces); s0=$(smtp_traces)
	ldap_auth_once
	[ "$(helper_traces)" = "$n0" ] || fail "ldapd-helper traced while brief"
	[ "$(smtp_traces)" = "$s0" ] || fail "front traced while brief"

	ctl log verbose ldap | grep -qx "logging verbose (trace: ldap)" ||
	    fail "log verbose ldap reply"
	log_level_seen ldapd-helper 1 "log level verbose (trace: ldap)"
	ctl show status | grep -qx "logging verbose (trace: ldap)" || fail "status text"
	ctl -j show status | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["trace"] == ["ldap"] and d["verbose"] is True, d
' || fail "status JSON"
	ldap_auth_once
	log_count_is "ldapd-helper\[[0-9]+\]: trace ldap: request [0-9]+: smtp-auth, ldap \"corp\" query \"users\"" 1 ||
	    fail "no request trace"
	log_count_is "ldapd-helper\[[0-9]+\]: trace ldap: request [0-9]+: user \"bob\", filter \(uid=bob\)" 1 ||
	    fail "no filter trace"
	log_count_is "ldapd-helper\[[0-9]+\]: trace ldap: request [0-9]+: bind as the user: Invalid credentials" 1 ||
	    fail "no bind trace"
	[ "$(smtp_traces)" = "$s0" ] || fail "smtp traced with only ldap on"
	! grep -q 'nopw' "$T/smtpcertd.log" || fail "password in a trace"

	# Subsystems add up and come off one by one.
	ctl log verbose smtp crl | grep -qx "logging verbose (trace: smtp ldap crl)" ||
	    fail "log verbose smtp crl"
	ctl log brief smtp crl | grep -qx "logging verbose (trace: ldap)" ||
	    fail "log brief smtp crl"
	if ctl log verbose nosuch >"$T/bad.out" 2>&1; then fail "unknown subsystem accepted"; fi
	grep -q "unknown subsystem: nosuch" "$T/bad.out" || fail "unknown subsystem not named"

	# A restarted ldapd-helper gets the mask before its configuration.
	local old new
	old=$(child_pid ldapd-helper)
	kill -KILL "$old"
	new=$(wait_new_pid ldapd-helper "$old") || fail "ldapd-helper not restarted"
	wait_log "$T/smtpcertd.log" "ldapd-helper\[$new\]: trace ldap: ldap \"corp\": 1 server" 10 ||
	    fail "restarted ldapd-helper did not trace its start"
	ldap_auth_once
	log_count_is "ldapd-helper\[$new\]: trace ldap: request [0-9]+: smtp-auth" 1 ||
	    fail "restarted ldapd-helper does not trace lookups"

	ctl log brief | grep -qx "logging brief" || fail "log brief"
	log_level_seen "ldapd-helper" 2 "log level brief"
	n0=$(helper_traces)
	ldap_auth_once
	[ "$(helper_traces)" = "$n0" ] || fail "ldapd-helper still traces after brief"
	ctl show status | grep -qx "logging brief" || fail "status brief"
	ctl -j show status | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["trace"] == [] and d["verbose"] is False, d
' || fail "status JSON brief"
	# And everything again, as before.
	ctl log verbose | grep -qx "logging verbose (trace: all)" || fail "log verbose"
}

run_test test_end_line_certificate_session
run_test test_end_line_auth_session
run_test test_hostile_values_escaped_one_line
run_test test_message_line_recipients
run_test test_trace_ldap_switched_at_run_time
finish
