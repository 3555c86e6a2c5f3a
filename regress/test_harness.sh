#!/bin/bash
# run.sh: plain pass only (see regress/run.sh)
# The test infrastructure itself: the generated PKI, the throwaway slapd and
# the recording upstream SMTP server.  Needs no build of smtpcertd.
. "$(dirname "$0")/lib.sh"

# swaks against the upstream on port $1, more swaks options follow.
_swaks() {
	local port=$1
	shift
	timeout 30 swaks --server 127.0.0.1 --port "$port" --helo client.test \
	    --timeout 10 "$@"
}

test_pki_chain_verifies() {
	local n c
	make_pki "$T/pki" || fail "make_pki"
	cd "$T/pki" || fail "no PKI"
	for n in alice bob carol dave erin frank twin revoked evil randy server; do
		openssl verify -CAfile chain.pem "$n.crt" >/dev/null ||
		    fail "$n does not verify"
	done
	# randy alone has an RSA 2048 key (signed with ECDSA by the EC
	# intermediate); everything else stays EC P-256.
	openssl x509 -in randy.crt -noout -text >"$T/randy.txt"
	grep -q "Public Key Algorithm: rsaEncryption" "$T/randy.txt" &&
	    grep -q "Public-Key: (2048 bit)" "$T/randy.txt" &&
	    grep -q "Signature Algorithm: ecdsa-with-SHA256" "$T/randy.txt" ||
	    fail "randy is not an RSA 2048 key signed with ECDSA"
	openssl pkey -in randy.key -noout -text | grep -q "Private-Key: (2048 bit" ||
	    fail "randy.key is not RSA 2048"
	[ -s randy.der ] && [ "$(grep -c BEGIN randy.chain.pem)" = 2 ] ||
	    fail "randy.der / randy.chain.pem"
	for n in alice bob evil server inter; do
		[ -f "$n.crt" ] && c=$n.crt || c=$n.pem
		openssl x509 -in "$c" -noout -text |
		    grep -q "Public Key Algorithm: id-ecPublicKey" ||
		    fail "$n is not EC"
	done
	for n in expired notyet wrongca; do
		if openssl verify -CAfile chain.pem "$n.crt" >/dev/null 2>&1; then
			fail "$n verifies"
		fi
	done
	openssl verify -CAfile ca.pem -untrusted inter.pem "alice.crt" >/dev/null ||
	    fail "alice does not verify with the intermediate as untrusted"
	openssl verify -CAfile other-ca.pem wrongca.crt >/dev/null ||
	    fail "wrongca does not verify against its own CA"
	# the CRLs
	openssl verify -crl_check_all -CAfile chain.pem \
	    -CRLfile crl/inter.crl.pem -CRLfile crl/root.crl.pem alice.crt >/dev/null ||
	    fail "alice fails the CRL check"
	if openssl verify -crl_check -CAfile chain.pem \
	    -CRLfile crl/inter.crl.pem revoked.crt >/dev/null 2>&1; then
		fail "revoked passes the CRL check"
	fi
	openssl verify -crl_check -CAfile chain.pem -CRLfile crl/inter.crl.pem \
	    revoked.crt 2>&1 | grep -q "certificate revoked" ||
	    fail "revoked: not refused as revoked"
	openssl crl -inform DER -in crl/inter.crl.der -noout -text |
	    grep -qi "$(pki_serial . revoked)" || fail "DER CRL lacks revoked"
	openssl crl -inform DER -in crl/root.crl.der -noout || fail "root DER CRL"
	# the CRL signed by the separate CRL-signing key (extended CRL support)
	openssl verify -extended_crl -crl_check_all -CAfile ca.pem \
	    -untrusted inter.pem -untrusted crlsign.crt \
	    -CRLfile crl/inter-crlsign.crl.pem -CRLfile crl/root.crl.pem \
	    alice.crt >/dev/null || fail "alice fails with the crlsign CRL"
	openssl verify -extended_crl -crl_check_all -CAfile ca.pem \
	    -untrusted inter.pem -untrusted crlsign.crt \
	    -CRLfile crl/inter-crlsign.crl.pem -CRLfile crl/root.crl.pem \
	    revoked.crt 2>&1 | grep -q "certificate revoked" ||
	    fail "revoked passes with the crlsign CRL"
	openssl verify -crl_check -CAfile chain.pem -CRLfile crl/inter-stale.crl.pem \
	    alice.crt 2>&1 | grep -q "CRL has expired" || fail "stale CRL not stale"
	# alice's fields
	openssl x509 -in alice.crt -noout -subject -nameopt RFC2253 |
	    grep -q "emailAddress=alice@example.test,UID=alice,CN=$(pki_cn . alice),OU=People,O=Example Test,C=US" ||
	    fail "alice subject"
	openssl x509 -in alice.crt -noout -ext subjectAltName |
	    grep -q "email:alice@example.test, othername: UPN::alice@example.test" ||
	    fail "alice SAN"
	[ "$(openssl x509 -in alice.crt -noout -serial | tr A-F a-f)" = \
	    "serial=$(pki_serial . alice)" ] || fail "serials file"
	[ "$(pki_cn . evil)" = 'evil*)(uid=*))(|(cn=*\,"+<>;=# x' ] || fail "evil cn"
	openssl asn1parse -in evil.crt | grep -qF 'evil*)(uid=*))(|(cn=*\,"+<>;=# x' ||
	    fail "evil CN not in the certificate verbatim"
	openssl x509 -in server.crt -noout -ext subjectAltName |
	    grep -q "DNS:localhost, IP Address:127.0.0.1" || fail "server SAN"
}

test_pki_revoke_regenerates_crl() {
	make_pki "$T/pki"
	cd "$T/pki" || fail "no PKI"
	openssl verify -crl_check -CAfile chain.pem -CRLfile crl/inter.crl.pem \
	    bob.crt >/dev/null || fail "bob refused before revocation"
	pki_revoke . bob
	if openssl verify -crl_check -CAfile chain.pem -CRLfile crl/inter.crl.pem \
	    bob.crt >/dev/null 2>&1; then
		fail "bob still accepted"
	fi
	openssl crl -inform DER -in crl/inter.crl.der -noout -text |
	    grep -qi "$(pki_serial . bob)" || fail "DER CRL not regenerated"
	openssl crl -in crl/inter-crlsign.crl.pem -noout -text |
	    grep -qi "$(pki_serial . bob)" || fail "crlsign CRL not regenerated"
	openssl crl -in crl/inter.crl.pem -noout -text |
	    grep -qi "$(pki_serial . revoked)" || fail "earlier revocation lost"
}

test_slapd_starts_and_finds_alice() {
	local port out evil
	make_pki "$T/pki"
	port=$(free_port)
	start_slapd "$T/ldap" "$port"
	seed_ldap "$T/ldap" "$port" "$T/pki"
	[ "$(slapd_url "$T/ldap")" = "ldap://127.0.0.1:$port/" ] || fail "slapd_url"
	out=$(ldap_gw_search "$T/ldap" \
	    "(&(objectClass=posixAccount)(caccn=$(pki_cn "$T/pki" alice))(cacserial=$(pki_serial "$T/pki" alice)))" \
	    uid mail)
	echo "$out"
	echo "$out" | grep -qx "dn: uid=alice,ou=people,dc=example,dc=test" ||
	    fail "alice not found by caccn and cacserial"
	echo "$out" | grep -qx "mail: alice.tester@example.test" || fail "alias"
	# the certificate in LDAP is alice's own
	ldap_gw_search "$T/ldap" "(uid=alice)" "userCertificate;binary" |
	    sed -n 's/^userCertificate;binary:: //p' | base64 -d >"$T/a.der"
	cmp "$T/a.der" "$T/pki/alice.der" || fail "userCertificate"
	# randy (the RSA certificate): a plain CAC user with his own
	ldap_gw_search "$T/ldap" \
	    "(&(caccn=$(pki_cn "$T/pki" randy))(cacserial=$(pki_serial "$T/pki" randy)))" \
	    "userCertificate;binary" | sed -n 's/^userCertificate;binary:: //p' |
	    base64 -d >"$T/r.der"
	cmp "$T/r.der" "$T/pki/randy.der" || fail "randy's userCertificate"
	# ambiguous, exempt, emergency windows
	[ "$(ldap_gw_search "$T/ldap" "(caccn=$(pki_cn "$T/pki" twin))" dn |
	    grep -c '^dn:')" = 2 ] || fail "twins"
	ldap_gw_search "$T/ldap" "(cacexempt=*)" dn | grep -q "uid=carol," ||
	    fail "carol not exempt"
	out=$(ldap_gw_search "$T/ldap" \
	    "(cacemergency>=$(date -u +%Y%m%d%H%M%SZ))" uid)
	echo "$out" | grep -qx "uid: dave" || fail "dave's window"
	if echo "$out" | grep -q "uid: erin"; then fail "erin's window"; fi
	ldap_gw_search "$T/ldap" "(uid=bob)" caccn | grep -q caccn &&
	    fail "bob has a CAC"
	# the evil CN, escaped, finds nothing and is no filter error
	evil=$(ldap_filter_escape "$(pki_cn "$T/pki" evil)")
	[ "$evil" = 'evil\2a\29\28uid=\2a\29\29\28|\28cn=\2a\5c,"+<>;=# x' ] ||
	    fail "escaped evil: $evil"
	out=$(ldap_gw_search "$T/ldap" "(caccn=$evil)" dn) || fail "search failed"
	[ -z "$out" ] || fail "evil matched: $out"
	# while the same text unescaped would be an injection
	if ldap_gw_search "$T/ldap" "(caccn=$(pki_cn "$T/pki" evil))" dn \
	    >/dev/null 2>&1; then
		fail "unescaped evil filter accepted"
	fi
	# passwords are not readable by the service account
	ldap_gw_search "$T/ldap" "(uid=alice)" userPassword |
	    grep -q userPassword && fail "gw reads userPassword"
	return 0
}

test_slapd_user_bind() {
	local port url
	make_pki "$T/pki"
	port=$(free_port)
	start_slapd "$T/ldap" "$port"
	seed_ldap "$T/ldap" "$port" "$T/pki"
	url=$(slapd_url "$T/ldap")
	[ "$(ldapwhoami -x -H "$url" -D "uid=alice,$SLAPD_PEOPLE" -w alicepw)" = \
	    "dn:uid=alice,$SLAPD_PEOPLE" ] || fail "alice cannot bind"
	if ldapwhoami -x -H "$url" -D "uid=alice,$SLAPD_PEOPLE" -w bobpw 2>/dev/null; then
		fail "alice binds with a wrong password"
	fi
	ldapwhoami -x -H "$url" -D "uid=bob,$SLAPD_PEOPLE" -w bobpw >/dev/null ||
	    fail "bob cannot bind"
	ldapwhoami -x -H "$url" -D "$SLAPD_GWDN" -w gwpw >/dev/null ||
	    fail "gw cannot bind"
	# anonymous users see nothing
	[ -z "$(ldapsearch -x -LLL -H "$url" -b "$SLAPD_PEOPLE" '(uid=*)' dn 2>/dev/null)" ] ||
	    fail "anonymous search sees entries"
}

test_slapd_tls_and_restart() {
	local port lport url
	make_pki "$T/pki"
	port=$(free_port)
	lport=$(free_port)
	start_slapd "$T/ldap" "$port" "$T/pki" "$lport"
	seed_ldap "$T/ldap" "$port" "$T/pki"
	[ "$(slapd_url "$T/ldap" ldaps)" = "ldaps://127.0.0.1:$lport/" ] ||
	    fail "ldaps url"
	LDAPTLS_CACERT=$T/pki/ca.pem LDAPTLS_REQCERT=demand \
	    ldapwhoami -x -H "$(slapd_url "$T/ldap" ldaps)" \
	    -D "uid=bob,$SLAPD_PEOPLE" -w bobpw || fail "ldaps"
	LDAPTLS_CACERT=$T/pki/ca.pem LDAPTLS_REQCERT=demand \
	    ldapwhoami -ZZ -x -H "$(slapd_url "$T/ldap")" \
	    -D "uid=bob,$SLAPD_PEOPLE" -w bobpw || fail "StartTLS"
	# a client that does not trust our CA is refused
	if LDAPTLS_CACERT=$T/pki/other-ca.pem LDAPTLS_REQCERT=demand \
	    ldapwhoami -x -H "$(slapd_url "$T/ldap" ldaps)" \
	    -D "uid=bob,$SLAPD_PEOPLE" -w bobpw 2>/dev/null; then
		fail "ldaps with the wrong CA"
	fi
	# down, then up again on the same ports with the same data
	stop_slapd "$T/ldap"
	if ldap_gw_search "$T/ldap" "(uid=alice)" dn 2>/dev/null; then
		fail "slapd still answers after stop"
	fi
	start_slapd "$T/ldap"
	ldap_gw_search "$T/ldap" "(uid=alice)" dn | grep -q uid=alice ||
	    fail "no alice after start"
	restart_slapd "$T/ldap" 1
	ldap_gw_search "$T/ldap" "(uid=alice)" dn | grep -q uid=alice ||
	    fail "no alice after restart"
	LDAPTLS_CACERT=$T/pki/ca.pem ldapwhoami -x -H "ldaps://127.0.0.1:$lport/" \
	    -D "uid=bob,$SLAPD_PEOPLE" -w bobpw >/dev/null || fail "ldaps after restart"
}

test_upstream_records_message() {
	local port
	port=$(free_port)
	start_upstream "$T/up" "$port"
	_swaks "$port" --from 'a@example.test' --to 'b@example.test' \
	    --data 'Subject: hi\nX-Test: 1\n\nbody line\n.leading dot\nlast' \
	    >"$T/swaks.out" 2>&1 || { cat "$T/swaks.out"; fail "swaks failed"; }
	upstream_wait_msg "$T/up" 1 || fail "no message"
	printf 'Subject: hi\r\nX-Test: 1\r\n\r\nbody line\r\n..leading dot\r\nlast' \
	    >"$T/expect.eml"
	cmp "$T/up/msg-1.eml" "$T/expect.eml" || { od -c "$T/up/msg-1.eml"; fail "msg-1.eml"; }
	$PY - "$T/up/msg-1.json" <<-'EOF' || fail "envelope"
	import json, sys
	e = json.load(open(sys.argv[1]))
	assert e["mail_from"] == "a@example.test", e
	assert e["rcpts"] == ["b@example.test"], e
	assert e["helo"] == "client.test", e
	assert not e["tls"] and not e["bare_lf"] and not e["bare_cr"], e
	EOF
	wait_file "$T/up/conn-1.json" 5 || fail "no conn-1.json"
	printf '%s\r\n' 'EHLO client.test' 'MAIL FROM:<a@example.test>' \
	    'RCPT TO:<b@example.test>' DATA 'Subject: hi' 'X-Test: 1' '' \
	    'body line' '..leading dot' 'last' . QUIT >"$T/expect.raw"
	cmp "$T/up/conn-1.raw" "$T/expect.raw" || { od -c "$T/up/conn-1.raw"; fail "conn-1.raw"; }
	[ "$(upstream_msg_count "$T/up")" = 1 ] || fail "count"
}

# Hostile bytes are recorded verbatim and only CRLF.CRLF ends DATA.
test_upstream_strict_line_endings() {
	local port
	port=$(free_port)
	start_upstream "$T/up" "$port"
	$PY - "$port" <<-'EOF' || fail "client"
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
	f = s.makefile("rb")
	def reply():
	    while True:
	        l = f.readline()
	        if l[3:4] != b"-":
	            return l
	assert reply().startswith(b"220")
	s.sendall(b"EHLO x\n")
	assert reply().startswith(b"500"), "bare LF command accepted"
	s.sendall(b"EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
	for code in (b"250", b"250", b"250", b"354"):
	    r = reply()
	    assert r.startswith(code), r
	s.sendall(b"one\n.\nsmuggled\r.\rtwo\r\n.\r\nQUIT\r\n")
	r = reply()
	assert r.startswith(b"250"), r
	assert reply().startswith(b"221")
	EOF
	printf 'one\n.\nsmuggled\r.\rtwo' >"$T/expect.eml"
	cmp "$T/up/msg-1.eml" "$T/expect.eml" || fail "msg-1.eml"
	grep -q '"bare_lf": true' "$T/up/msg-1.json" || fail "bare_lf"
	grep -q '"bare_cr": true' "$T/up/msg-1.json" || fail "bare_cr"
	[ "$(upstream_msg_count "$T/up")" = 1 ] || fail "count"
}

test_upstream_fail_modes() {
	local port
	port=$(free_port)
	start_upstream "$T/up" "$port" --fail rcpt-reject
	_swaks "$port" --from a@example.test --to please-reject@example.test \
	    >"$T/s1" 2>&1 && fail "swaks succeeded"
	grep -q '<\*\* *550 5.1.1' "$T/s1" || { cat "$T/s1"; fail "no 550"; }
	upstream_fail "$T/up" data-4xx
	_swaks "$port" --from a@example.test --to b@example.test \
	    >"$T/s2" 2>&1 && fail "swaks succeeded"
	grep -q '<\*\* *451 4.3.0' "$T/s2" || { cat "$T/s2"; fail "no 451"; }
	upstream_fail "$T/up" data-5xx
	_swaks "$port" --from a@example.test --to b@example.test \
	    >"$T/s3" 2>&1 && fail "swaks succeeded"
	grep -q '<\*\* *554 5.6.0' "$T/s3" || { cat "$T/s3"; fail "no 554"; }
	upstream_fail "$T/up" tempfail-all
	_swaks "$port" --from a@example.test --to b@example.test \
	    >"$T/s4" 2>&1 && fail "swaks succeeded"
	grep -q '<\*\* *451 4.3.0' "$T/s4" || { cat "$T/s4"; fail "no 451 at MAIL"; }
	upstream_fail "$T/up" drop-mid-data
	_swaks "$port" --from a@example.test --to b@example.test \
	    >"$T/s5" 2>&1 && fail "swaks succeeded"
	upstream_fail "$T/up" greet-4xx
	_swaks "$port" --from a@example.test --to b@example.test \
	    >"$T/s6" 2>&1 && fail "swaks succeeded"
	grep -q '<\*\* *421 4.3.2' "$T/s6" || { cat "$T/s6"; fail "no 421"; }
	[ "$(upstream_msg_count "$T/up")" = 0 ] || fail "a failed message was stored"
	# and with the failures off, the next message is msg-1
	upstream_fail "$T/up" none
	_swaks "$port" --from a@example.test --to reject@example.test \
	    >"$T/s7" 2>&1 || { cat "$T/s7"; fail "swaks failed"; }
	upstream_wait_msg "$T/up" 1 || fail "no message"
	[ "$(upstream_msg_count "$T/up")" = 1 ] || fail "count"
	wait_file "$T/up/conn-5.json" 5 || fail "no conn-5.json"
	grep -q '"closed": "dropped"' "$T/up/conn-5.json" ||
	    fail "drop-mid-data did not drop"
}

test_upstream_starttls() {
	local port
	make_pki "$T/pki"
	port=$(free_port)
	start_upstream "$T/up" "$port" --tls-cert "$T/pki/server.chain.pem" \
	    --tls-key "$T/pki/server.key" --require-tls
	_swaks "$port" --from a@example.test --to b@example.test \
	    >"$T/s0" 2>&1 && fail "plaintext accepted"
	grep -q '<\*\* *530 5.7.0' "$T/s0" || { cat "$T/s0"; fail "no 530"; }
	_swaks "$port" --from a@example.test --to b@example.test --tls \
	    --tls-verify --tls-ca-path "$T/pki/ca.pem" \
	    >"$T/s1" 2>&1 || { cat "$T/s1"; fail "swaks --tls failed"; }
	upstream_wait_msg "$T/up" 1 || fail "no message"
	grep -q '"tls": true' "$T/up/msg-1.json" || fail "not TLS"
	# bytes pipelined after STARTTLS are discarded and counted
	$PY - "$port" "$T/pki/ca.pem" <<-'EOF' || fail "injection client"
	import socket, ssl, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
	f = s.makefile("rb")
	def reply():
	    while True:
	        l = f.readline()
	        if l[3:4] != b"-":
	            return l
	assert reply().startswith(b"220")
	s.sendall(b"EHLO x\r\n")
	assert reply().startswith(b"250")
	s.sendall(b"STARTTLS\r\nMAIL FROM:<injected@x>\r\n")
	assert reply().startswith(b"220")
	ctx = ssl.create_default_context(cafile=sys.argv[2])
	t = ctx.wrap_socket(s, server_hostname="localhost")
	t.sendall(b"QUIT\r\n")
	assert t.recv(100).startswith(b"221")
	EOF
	wait_file "$T/up/conn-3.json" 5 || fail "no conn-3.json"
	grep -q '"starttls_injected": 24' "$T/up/conn-3.json" || fail "injection not seen"
}

test_upstream_xclient() {
	local port
	port=$(free_port)
	start_upstream "$T/up" "$port" --xclient
	$PY - "$port" <<-'EOF' || fail "smtplib"
	import smtplib, sys
	s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
	s.ehlo("gw.test")
	assert s.has_extn("xclient")
	code, _ = s.docmd("XCLIENT", "ADDR=192.0.2.7 LOGIN=alice NAME=[UNAVAILABLE] HELO=a+2Bb")
	assert code == 220, code
	s.ehlo("client.test")
	s.sendmail("alice@example.test", ["b@example.test"], b"Subject: x\r\n\r\nhi\r\n")
	s.quit()
	EOF
	upstream_wait_msg "$T/up" 1 || fail "no message"
	$PY - "$T/up/msg-1.json" <<-'EOF' || fail "xclient attrs"
	import json, sys
	e = json.load(open(sys.argv[1]))
	assert e["xclient"] == {"ADDR": "192.0.2.7", "LOGIN": "alice",
	    "NAME": "[UNAVAILABLE]", "HELO": "a+b"}, e
	assert e["helo"] == "client.test", e
	EOF
}

# free_port claims each port it hands out until the test ends, so two
# test files running at once never share one; the claims go at the end.
test_free_port_claims_until_the_test_ends() {
	local ports=() p i seen
	for ((i = 0; i < 20; i++)); do
		p=$(free_port) || fail "free_port"
		ports+=("$p")
		[ -f "$PORT_CLAIMS/$p" ] || fail "port $p not claimed"
		_claim_port "$p" && fail "port $p claimed twice"
	done
	seen=$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)
	[ "$seen" = 20 ] || fail "20 free_port calls gave $seen ports"
	# noclobber is the caller's again afterwards
	case $- in *C*) fail "set -C left on" ;; esac
	_release_ports
	for p in "${ports[@]}"; do
		[ -e "$PORT_CLAIMS/$p" ] && fail "claim of $p left behind"
	done
	: >"$T/.ports"
}

# _cleanup_pids stops waiting for a process that is already a zombie
# (read from /proc/PID/stat, whose name field may hold ") ").
test_is_zombie_reads_proc() {
	local z pid
	# The inner sleep's parent execs a sleep that never reaps it.
	bash -c 'sleep 0.1 & echo $! >"$1"; exec sleep 5' _ "$T/zpid" &
	pid=$!
	sleep 0.6
	z=$(cat "$T/zpid")
	_is_zombie "$z" || fail "an unreaped exited child is not a zombie"
	_is_zombie "$pid" && fail "a running sleep is a zombie"
	kill "$pid"; wait "$pid" 2>/dev/null || :
	( exec -a "odd) Z name" sleep 5 ) &
	pid=$!
	sleep 0.2
	_is_zombie "$pid" && fail "an odd-named running process read as a zombie"
	kill "$pid"; wait "$pid" 2>/dev/null || :
	_is_zombie 999999999 && fail "no such pid is a zombie"
	return 0
}

run_test test_pki_chain_verifies
run_test test_pki_revoke_regenerates_crl
run_test test_slapd_starts_and_finds_alice
run_test test_slapd_user_bind
run_test test_slapd_tls_and_restart
run_test test_upstream_records_message
run_test test_upstream_strict_line_endings
run_test test_upstream_fail_modes
run_test test_upstream_starttls
run_test test_upstream_xclient
run_test test_free_port_claims_until_the_test_ends
run_test test_is_zombie_reads_proc
finish
