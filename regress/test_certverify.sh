#!/bin/bash
# Client certificate validation per RFC 5280 (issue 12, certverify.c):
# certificate policies set on a `ca`, `tls security-level`, a CRL whose
# signer the front checks by a path to the trust anchor (a `crl` source
# without `ca`), and refusals a help desk can read -- one log line with
# the certificate, its depth and the reason, counters by reason, and the
# reason in the client's 554.  The full conformance run is test_pkits.sh.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/crl.sh"

POL_P=1.3.6.1.4.1.55555.1.1	# the site's policy
POL_Q=1.3.6.1.4.1.55555.1.2	# another

# session NAME CERT KEY [CHAIN]: an implicit-TLS session on $PORT with
# that certificate; the server's lines (or the TLS error) in $T/NAME.out.
session() {
	local out=$T/$1.out chain=()
	[ -n "${4:-}" ] && chain=(-cert_chain "$4")
	printf 'EHLO x\r\nQUIT\r\n' | sleep_then_cat 1 |
	    timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
	    -cert "$2" -key "$3" "${chain[@]}" -CAfile "$PKI/chain.pem" \
	    -quiet >"$out" 2>&1 || true
	echo "--- $1:" >&2
	cat "$out" >&2
}

# policy_pki: below $PKI/pol/, an intermediate under the test root that
# asserts $POL_P (with its own empty CRL), and leaves asserting $POL_P,
# $POL_Q or nothing.
policy_pki() {
	local d=$PKI/pol n
	mkdir -p "$d"
	cat >"$d/ext.cnf" <<-EOF
	[ inter ]
	basicConstraints = critical, CA:true, pathlen:0
	keyUsage = critical, keyCertSign, cRLSign
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	certificatePolicies = $POL_P
	[ leafp ]
	keyUsage = critical, digitalSignature
	extendedKeyUsage = clientAuth
	authorityKeyIdentifier = keyid
	certificatePolicies = $POL_P
	[ leafq ]
	keyUsage = critical, digitalSignature
	extendedKeyUsage = clientAuth
	authorityKeyIdentifier = keyid
	certificatePolicies = $POL_Q
	[ leafn ]
	keyUsage = critical, digitalSignature
	extendedKeyUsage = clientAuth
	authorityKeyIdentifier = keyid
	EOF
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/inter.key" -subj "/C=US/O=Example Test/CN=Policy CA" \
	    -out "$d/inter.csr" 2>/dev/null &&
	openssl x509 -req -in "$d/inter.csr" -CA "$PKI/ca.pem" \
	    -CAkey "$PKI/ca.key" -set_serial 0x51 -days 30 \
	    -extfile "$d/ext.cnf" -extensions inter -out "$d/inter.pem" \
	    2>/dev/null || { fail "policy CA"; return 1; }
	for n in p q n; do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout "$d/$n.key" -subj "/C=US/O=Example Test/CN=leaf-$n" \
		    -out "$d/$n.csr" 2>/dev/null || { fail "key $n"; return 1; }
	done
	for n in p q n; do
		openssl x509 -req -in "$d/$n.csr" -CA "$d/inter.pem" \
		    -CAkey "$d/inter.key" -set_serial "0x7$(printf %d "'$n")" \
		    -days 30 -extfile "$d/ext.cnf" -extensions "leaf$n" \
		    -out "$d/$n.crt" 2>/dev/null || { fail "leaf $n"; return 1; }
	done
}

policy_conf() {
	CRL_SOURCES=""
	crl_conf "crl-check inbound no"
	sed -i "s|^ca \"clients\" file .*|ca \"clients\" file \"$PKI/ca.pem\" $1|" \
	    "$T/smtpcertd.conf"
	crl_start
}

# --- tests ---------------------------------------------------------------

# A ca that lists acceptable policies: a certificate asserting one of
# them gets in and its policy is logged; one asserting another policy or
# none is refused after the handshake with the reason in the 554.
test_cert_policy_acceptable_and_refused() {
	crl_env
	policy_pki
	policy_conf "cert-policy \"$POL_P\""
	"$SMTPCERTD" -nv -f "$T/smtpcertd.conf" | grep -q "cert-policy \"$POL_P\"" ||
	    fail "cert-policy not printed back"
	session p "$PKI/pol/p.crt" "$PKI/pol/p.key" "$PKI/pol/inter.pem"
	grep -q "^250" "$T/p.out" || fail "the site's policy refused"
	wait_log "$T/smtpcertd.log" "event=tls .*cert-policy=$POL_P" 5 ||
	    fail "accepted policy not logged"
	wait_log "$T/smtpcertd.log" "event=end .*cert-policy=$POL_P" 5 ||
	    fail "accepted policy not on the end line"
	session q "$PKI/pol/q.crt" "$PKI/pol/q.key" "$PKI/pol/inter.pem"
	grep -q "^554 5.7.1 Client certificate refused: certificate policy not acceptable" \
	    "$T/q.out" || fail "another policy not refused with 554"
	session n "$PKI/pol/n.crt" "$PKI/pol/n.key" "$PKI/pol/inter.pem"
	grep -q "^554 5.7.1 .*policy" "$T/n.out" || fail "no policy not refused"
	wait_log "$T/smtpcertd.log" "event=cert-refused .*cert-error=policy cert-depth=[0-9]+ cert-subject=\"?CN=leaf-q,O=Example Test,C=US" 5 ||
	    fail "refusal line lacks the certificate"
	counter_is cert.refused.policy 2
	# Without cert-policy, RFC 5280's defaults (anyPolicy): all three in.
	kill "$(daemon_pid)"; sleep 0.5; rm -f "$T/ctl.sock"
	policy_conf ""
	session n2 "$PKI/pol/n.crt" "$PKI/pol/n.key" "$PKI/pol/inter.pem"
	grep -q "^250" "$T/n2.out" || fail "no policy refused by default"
}

# require-explicit-policy alone: any policy valid on the whole path will
# do, none will not.
test_require_explicit_policy() {
	crl_env
	policy_pki
	policy_conf "require-explicit-policy"
	session p "$PKI/pol/p.crt" "$PKI/pol/p.key" "$PKI/pol/inter.pem"
	grep -q "^250" "$T/p.out" || fail "a policy refused"
	# q asserts a policy its CA does not: no valid policy is left.
	session q "$PKI/pol/q.crt" "$PKI/pol/q.key" "$PKI/pol/inter.pem"
	grep -q "^554 .*policy" "$T/q.out" || fail "a policy outside its CA's accepted"
	# alice's path (the test intermediate) asserts no policy at all.
	session a "$PKI/alice.crt" "$PKI/alice.key" "$PKI/inter.pem"
	grep -q "^554 .*policy" "$T/a.out" || fail "no policy accepted"
}

# tls security-level 3 asks 128-bit keys: randy's RSA 2048 (112 bits)
# ends the handshake, logged as weak-key; alice's P-256 is fine.
test_security_level() {
	crl_env
	CRL_SOURCES=""
	crl_conf "crl-check inbound no
tls security-level 3"
	crl_start
	"$SMTPCERTD" -nv -f "$T/smtpcertd.conf" | grep -q "^tls security-level 3$" ||
	    fail "security-level not printed back"
	session a "$PKI/alice.crt" "$PKI/alice.key"
	grep -q "^250" "$T/a.out" || fail "alice refused at level 3"
	session r "$PKI/randy.crt" "$PKI/randy.key"
	grep -q "^250" "$T/r.out" && fail "randy's RSA 2048 accepted at level 3"
	wait_log "$T/smtpcertd.log" "event=tls-failed .*cert-error=weak-key cert-depth=0 .*reason=.*certificate verify failed: " 5 ||
	    fail "weak key not logged"
	counter_is cert.refused.weak-key 1
	printf 'tls security-level 6\n' >"$T/bad.conf"
	if "$SMTPCERTD" -n -f "$T/bad.conf" >"$T/bad.out" 2>&1; then
		fail "level 6 accepted"
	fi
	grep -q "out of range" "$T/bad.out" || fail "level 6 not explained"
}

# Refusals in the handshake name the certificate too, and are counted
# by reason.
test_handshake_refusal_logged_by_reason() {
	crl_env
	CRL_SOURCES=""
	crl_conf "crl-check inbound no"
	crl_start
	session e "$PKI/expired.crt" "$PKI/expired.key"
	session w "$PKI/wrongca.crt" "$PKI/wrongca.key"
	wait_log "$T/smtpcertd.log" "event=tls-failed .*cert-error=expired cert-depth=0 cert-subject=.* cert-serial=$(pki_serial "$PKI" expired) .*reason=\".*certificate expired on [0-9-]+ [0-9:]+ UTC\"" 5 ||
	    fail "expired: no refusal line"
	wait_log "$T/smtpcertd.log" "event=tls-failed .*cert-error=unknown-issuer cert-depth=0 .*issued by an unknown CA" 5 ||
	    fail "wrong CA: no refusal line"
	counter_is cert.refused.expired 1
	counter_is cert.refused.unknown-issuer 1
	ctl show stats | grep -q "cert.refused.expired" || fail "show stats text lacks the counter"
}

# A revoked certificate: 554 with serial, reason and date; counted.
test_revoked_554_names_reason_and_date() {
	crl_env
	http_start "$T/h1" "$H1"
	default_sources
	crl_conf
	crl_start
	wait_crls
	wait_log "$T/smtpcertd.log" "revocation set [0-9]+ in use" 10 || fail "no set"
	session r "$PKI/revoked.crt" "$PKI/revoked.key"
	grep -Eq "^554 5.7.1 Client certificate refused: certificate revoked: serial $(pki_serial "$PKI" revoked) issuer .* reason keyCompromise \(crl inter\) on [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]+ UTC" \
	    "$T/r.out" || fail "554 does not name reason and date"
	wait_log "$T/smtpcertd.log" "event=cert-refused .*cert-error=revoked cert-depth=0 " 5 ||
	    fail "no refusal line"
	counter_is cert.refused.revoked 1
	counter_is revocation.crl.refused 1
}

# CRL sources without `ca`: crld cannot check the signature (the listener
# trusts only the root; the client sends the intermediate), so the front
# checks it by the intermediate's path.  A CRL with the intermediate's
# name signed by another key is therefore useless: every certificate
# below the intermediate is refused, fail-closed.
test_crl_signer_checked_by_path() {
	crl_env
	CA_FILE=$PKI/ca.pem
	CRL_SOURCES="crl \"inter\" {
	type asn1
	url \"file://$T/inter.crl.der\"
}
crl \"root\" {
	type asn1
	url \"file://$PKI/crl/root.crl.der\"
}"
	cp "$PKI/crl/inter.crl.der" "$T/inter.crl.der"
	crl_conf
	crl_start
	wait_crls
	wait_log "$T/smtpcertd.log" "revocation set [0-9]+ in use: 2 CRLs" 10 ||
	    fail "CRLs without ca not accepted"
	session a "$PKI/alice.crt" "$PKI/alice.key" "$PKI/inter.pem"
	grep -q "^250" "$T/a.out" || fail "alice refused"
	session r "$PKI/revoked.crt" "$PKI/revoked.key" "$PKI/inter.pem"
	grep -q "^554 .*certificate revoked" "$T/r.out" || fail "revoked accepted"
	# The same CRL, re-signed by other-ca's key.
	$PY - "$PKI/crl/inter.crl.der" "$PKI/other-ca.key" "$T/inter.crl.der" <<-'EOF' ||
	import sys, datetime
	from cryptography import x509
	from cryptography.hazmat.primitives import hashes, serialization
	crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
	key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
	now = datetime.datetime.utcnow()
	b = x509.CertificateRevocationListBuilder().issuer_name(crl.issuer)
	b = b.last_update(now).next_update(now + datetime.timedelta(days=1))
	for r in crl:
	    b = b.add_revoked_certificate(r)
	b = b.add_extension(x509.CRLNumber(99999), False)
	open(sys.argv[3], "wb").write(b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
	EOF
	    fail "forging the CRL"
	ctl crl update inter >"$T/upd.out" 2>&1 || { cat "$T/upd.out"; fail "crl update"; }
	wait_log "$T/smtpcertd.log" "revocation set [2-9] in use" 10 || fail "no new set"
	session a2 "$PKI/alice.crt" "$PKI/alice.key" "$PKI/inter.pem"
	grep -q "^554 .*CRL" "$T/a2.out" || fail "a forged CRL let alice in"
	wait_log "$T/smtpcertd.log" "event=cert-refused .*cert-error=crl-unusable" 5 ||
	    fail "forged CRL refusal not logged"
}

crl_init
run_test test_cert_policy_acceptable_and_refused
run_test test_require_explicit_policy
run_test test_security_level
run_test test_handshake_refusal_logged_by_reason
run_test test_revoked_554_names_reason_and_date
run_test test_crl_signer_checked_by_path
finish
