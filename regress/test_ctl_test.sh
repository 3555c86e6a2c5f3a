#!/bin/bash
# smtpcertctl test certificate / test login (issue 15 item 3): a
# certificate run through the listener's verification, revocation (the
# current CRL set), policy and the certificate query against a real
# slapd, each step and the decision printed; JSON parsed by Python; LDAP
# down is a temporary failure, never a refusal; `test login' says whether
# the allowance filter lets a user use a password.  Nothing is sent as
# mail and no login is counted.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

# json_ok FILE [PYTHON-EXPR on d]
json_ok() {
	$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
if len(sys.argv) > 2 and not eval("(" + sys.argv[2] + ")"):
    print("json check failed: %s\n%s" % (sys.argv[2], json.dumps(d)[:2000]))
    sys.exit(1)
' "$@" || { cat "$1"; fail "$1: not the JSON expected${2:+: $2}"; return 1; }
}

# ctl_rc WANT OUT ARGS...: smtpcertctl exits WANT; its output in OUT.
ctl_rc() {
	local want=$1 out=$2 rc=0; shift 2
	ctl "$@" >"$out" 2>&1 || rc=$?
	cat "$out"
	[ "$rc" = "$want" ] || fail "smtpcertctl $*: exit $rc, want $want"
}

# The gateway of the SMTP tests, with revocation on: the intermediate's
# and the root's CRLs from files.
ctltest_start() {
	smtp_env
	SMTP_EXTRA_CONF="crl \"inter\" {
	ca \"clients\"
	type pem
	url \"file://$PKI/crl/inter.crl.pem\"
	refresh every 1h
}
crl \"root\" {
	ca \"clients\"
	type asn1
	url \"file://$PKI/crl/root.crl.der\"
	refresh every 1h
}"
	# An IMAP4S proxy listener whose profile names the user from the
	# certificate's UID (its back end is never dialled by a test).
	PX_PORT=$(free_port)
	SMTP_EXTRA_CONF="$SMTP_EXTRA_CONF
group-policy \"users\" {
	simultaneous-logins 10
}
proxy \"px\" {
	auth certificate aaa
	aaa ldap \"corp\" query \"users\"
	username field UID secondary none
	default group-policy \"users\"
	default server \"127.0.0.1\" port 1 tls none
}
listen on 127.0.0.1 port $PX_PORT proxy imap4s pki \"gw\" ca \"clients\" profile \"px\""
	smtp_conf
	sed -i 's/^crl-check inbound no$/crl-check inbound yes/' \
	    "$T/smtpcertd.conf"
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/conftest.out" 2>&1 ||
	    { cat "$T/conftest.out"; fail "config refused"; return 1; }
	start_daemon "$T/smtpcertd.conf"
	wait_port "$SUB_PORT" 10 || fail "listener not open"
	# Revocation needs the set in the front: both CRLs tried, then a
	# moment for the front to map the set.
	local i=0
	while [ $i -lt 100 ] && ctl show crl | grep -q "not attempted yet"; do
		sleep 0.1; i=$((i + 1))
	done
	sleep 1
}

test_certificate_steps() {
	ctltest_start
	# alice's certificate with its chain: she is the user.
	ctl_rc 0 "$T/alice.txt" test certificate "$PKI/alice.chain.pem"
	grep -q "^decision: accepted, user alice:" "$T/alice.txt" ||
	    fail "alice not mapped"
	grep -Eq "^chain +ok" "$T/alice.txt" || fail "no chain step"
	grep -Eq "^revocation +ok" "$T/alice.txt" || fail "no revocation step"
	grep -Eq "^ldap +ok .*uid=alice" "$T/alice.txt" || fail "no ldap step"
	ctl_rc 0 "$T/alice.json" -j test certificate "$PKI/alice.chain.pem"
	json_ok "$T/alice.json" 'd["decision"] == "accepted" and d["user"] == "alice" and [s["step"] for s in d["steps"]] == ["listener", "certificate", "chain", "revocation", "policy", "ocsp", "ldap"] and all(s["result"] in ("ok", "skip") for s in d["steps"])'
	# The other listener, by address.
	ctl_rc 0 "$T/alice2.txt" test certificate "$PKI/alice.crt" listener \
	    "127.0.0.1:$SMTPS_PORT"
	grep -q "port $SMTPS_PORT" "$T/alice2.txt" || fail "listener not used"

	# Expired, and from an unknown CA: the handshake would fail.
	ctl_rc 1 "$T/expired.json" -j test certificate "$PKI/expired.chain.pem"
	json_ok "$T/expired.json" 'd["decision"] == "refused" and d["user"] is None and d["steps"][-1]["step"] == "chain" and d["steps"][-1]["result"] == "fail" and "cert-error expired" in d["steps"][-1]["detail"] and "handshake" in d["reason"]'
	ctl_rc 1 "$T/wrongca.json" -j test certificate "$PKI/wrongca.crt"
	json_ok "$T/wrongca.json" 'd["decision"] == "refused" and "cert-error unknown-issuer" in d["steps"][-1]["detail"]'
	# Revoked: the chain is fine, revocation says no.
	ctl_rc 1 "$T/revoked.json" -j test certificate "$PKI/revoked.chain.pem"
	json_ok "$T/revoked.json" 'd["decision"] == "refused" and d["steps"][-1]["step"] == "revocation" and d["steps"][-1]["result"] == "fail" and "revoked" in d["steps"][-1]["detail"] and "revoked" in d["reason"]'
	# bob's certificate is valid but in no LDAP entry.
	ctl_rc 1 "$T/bob.json" -j test certificate "$PKI/bob.chain.pem"
	json_ok "$T/bob.json" 'd["decision"] == "refused" and d["steps"][-1]["step"] == "ldap" and d["steps"][-1]["result"] == "fail" and "not registered" in d["reason"] and "ldap-users" in d["reason"]'
	# Nothing counted as a login, nothing relayed.
	[ "$(up_count)" = 0 ] || fail "something was relayed"
	ctl -j show stats >"$T/stats.json"
	json_ok "$T/stats.json" 'all(v == 0 for k, v in d["counters"]["auth"]["certificate"].items()) if isinstance(d["counters"].get("auth", {}).get("certificate"), dict) else True'

	# Bad input: not a certificate, too large, no such listener.
	echo "hello" >"$T/junk.pem"
	ctl_rc 1 "$T/junk.txt" test certificate "$T/junk.pem"
	grep -q "no PEM certificate" "$T/junk.txt" || fail "junk accepted"
	head -c 70000 /dev/zero | tr '\0' 'A' >"$T/big.pem"
	ctl_rc 1 "$T/big.txt" test certificate "$T/big.pem"
	grep -q "larger than 64 KB" "$T/big.txt" || fail "big accepted"
	ctl_rc 1 "$T/nol.txt" test certificate "$PKI/alice.crt" listener \
	    127.0.0.1:1
	grep -q "no listener on 127.0.0.1 port 1" "$T/nol.txt" ||
	    fail "unknown listener"
	ctl_rc 1 "$T/syn.txt" test certificate "$PKI/alice.crt" listen x
	grep -q 'expected "listener ADDRESS:PORT"' "$T/syn.txt" ||
	    fail "syntax"
	# The daemon is still there.
	ctl show status >/dev/null || fail "daemon gone"
}

test_login_allowance() {
	ctltest_start
	# bob has no card: the allowance lets him use a password.
	ctl_rc 0 "$T/bob.txt" test login bob
	grep -q "^decision: accepted, user bob:" "$T/bob.txt" || fail "bob"
	grep -Eq "^allowance +ok" "$T/bob.txt" || fail "bob allowance step"
	# alice has a card: refused with the profile's words.
	ctl_rc 1 "$T/alice.json" -j test login alice
	json_ok "$T/alice.json" 'd["decision"] == "refused" and d["steps"][-1]["step"] == "allowance" and d["steps"][-1]["result"] == "fail" and "525" in d["reason"] and "uid=alice" in d["steps"][-2]["detail"]'
	# dave: card, emergency exemption running.
	ctl_rc 0 "$T/dave.txt" test login dave
	# No such user.
	ctl_rc 1 "$T/nobody.json" -j test login nobody
	json_ok "$T/nobody.json" 'd["decision"] == "refused" and d["steps"][-1]["step"] == "search" and d["steps"][-1]["result"] == "fail"'
	# No password was tried: no bind as the user in slapd's view, no
	# failed-login counted.
	ctl -j show stats >"$T/stats.json"
	json_ok "$T/stats.json"
}

# A proxy listener names the user by its profile's certificate field and
# shows the user's entry from the aaa query.
test_certificate_proxy_listener() {
	ctltest_start
	ctl_rc 0 "$T/px.txt" test certificate "$PKI/alice.chain.pem" \
	    listener "127.0.0.1:$PX_PORT"
	grep -Eq "^user +ok .*profile px names user alice" "$T/px.txt" ||
	    fail "no user step"
	grep -Eq "^ldap +ok .*uid=alice.*alice.tester@example.test" "$T/px.txt" ||
	    fail "no ldap step with the entry and its addresses"
	grep -q "^decision: accepted, user alice:" "$T/px.txt" ||
	    fail "alice not the proxy's user"
	ctl_rc 0 "$T/px.json" -j test certificate "$PKI/alice.chain.pem" \
	    listener "127.0.0.1:$PX_PORT"
	json_ok "$T/px.json" 'd["decision"] == "accepted" and d["user"] == "alice" and [s["step"] for s in d["steps"]][-2:] == ["user", "ldap"]'
	# bob's certificate has no UID: it names nobody here.
	ctl_rc 1 "$T/pxbob.json" -j test certificate "$PKI/bob.chain.pem" \
	    listener "127.0.0.1:$PX_PORT"
	json_ok "$T/pxbob.json" 'd["decision"] == "refused" and d["user"] is None and d["steps"][-1]["step"] == "user" and d["steps"][-1]["result"] == "fail"'
	# Revoked stays revoked on the proxy listener.
	ctl_rc 1 "$T/pxrev.json" -j test certificate "$PKI/revoked.chain.pem" \
	    listener "127.0.0.1:$PX_PORT"
	json_ok "$T/pxrev.json" 'd["decision"] == "refused"'
	# LDAP down: a temporary failure, not a refusal.
	ctl ldap flush >/dev/null
	stop_slapd "$T/ldap"
	ctl_rc 2 "$T/pxdown.json" -j test certificate "$PKI/alice.chain.pem" \
	    listener "127.0.0.1:$PX_PORT"
	json_ok "$T/pxdown.json" 'd["decision"] == "tempfail" and d["steps"][-1]["step"] == "ldap"'
}

test_ldap_down_is_tempfail() {
	ctltest_start
	ctl ldap flush >/dev/null
	stop_slapd "$T/ldap"
	ctl_rc 2 "$T/carol.json" -j test certificate "$PKI/carol.chain.pem"
	json_ok "$T/carol.json" 'd["decision"] == "tempfail" and d["steps"][-1]["step"] == "ldap" and d["steps"][-1]["result"] == "tempfail"'
	ctl_rc 2 "$T/bob.json" -j test login bob
	json_ok "$T/bob.json" 'd["decision"] == "tempfail" and d["steps"][-1]["result"] == "tempfail"'
	ctl_rc 2 "$T/bob.txt" test login bob
	grep -q "^decision: tempfail" "$T/bob.txt" || fail "text tempfail"
}

run_test test_certificate_steps
run_test test_login_allowance
run_test test_certificate_proxy_listener
run_test test_ldap_down_is_tempfail
finish
