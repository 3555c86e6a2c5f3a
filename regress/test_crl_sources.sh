#!/bin/bash
# CRL downloads over HTTPS and LDAP (SPEC 5): an internal HTTPS server
# verified by the source's "tls ca", the same server refused without it,
# and a CRL published in slapd as certificateRevocationList;binary,
# fetched again after the directory changes.  Also "crl-check outbound":
# the relay's upstream certificate checked against the same CRLs.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/crl.sh"

INTER_DN="cn=Example Test Intermediate CA,ou=pki,$SLAPD_SUFFIX"

# The root's CRL always comes from a file: the tests vary the
# intermediate's source.
root_source() {
	printf 'crl "root" {\n\tca "clients"\n\ttype asn1\n\turl "file://%s/crl/root.crl.der"\n}\n' "$PKI"
}

https_source() {
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	$1
	url \"https://127.0.0.1:$H1/inter.crl.pem\"
}
$(root_source)"
}

# ldap_publish_crl: the intermediate's current CRL (DER) into its entry.
ldap_publish_crl() {
	{
		echo "dn: $INTER_DN"
		echo "changetype: modify"
		echo "replace: certificateRevocationList;binary"
		echo "certificateRevocationList;binary:: $(base64 -w0 "$PKI/crl/inter.crl.der")"
	} | ldap_admin_modify "$T/ldap" >"$T/ldapmodify.out" 2>&1 ||
	    { cat "$T/ldapmodify.out"; fail "ldapmodify"; }
}

# ldap_env: slapd with the intermediate CA's entry under ou=pki.
ldap_env() {
	local port
	port=$(free_port)
	mkdir -p "$T/ldap"
	start_slapd "$T/ldap" "$port" || return 1
	ldapadd -x -H "ldap://127.0.0.1:$port/" -o nettimeout=5 \
	    -D "$SLAPD_ROOTDN" -w "$SLAPD_ROOTPW" >"$T/ldapadd.out" 2>&1 <<-EOF ||
	dn: $SLAPD_SUFFIX
	objectClass: dcObject
	objectClass: organization
	dc: example
	o: Example Test

	dn: ou=pki,$SLAPD_SUFFIX
	objectClass: organizationalUnit
	ou: pki

	dn: $INTER_DN
	objectClass: organizationalRole
	objectClass: certificationAuthority
	cn: Example Test Intermediate CA
	cACertificate;binary:: $(openssl x509 -in "$PKI/inter.pem" -outform DER | base64 -w0)
	authorityRevocationList;binary:: $(base64 -w0 "$PKI/crl/root.crl.der")
	certificateRevocationList;binary:: $(base64 -w0 "$PKI/crl/inter.crl.der")
	EOF
	    { cat "$T/ldapadd.out"; fail "ldapadd"; return 1; }
	LDAP_PORT=$port
}

# --- tests ---------------------------------------------------------------

test_https_source_verified_by_its_tls_ca() {
	crl_env
	http_start "$T/h1" "$H1" "$PKI/server.chain.pem" "$PKI/server.key"
	https_source 'tls ca "clients"'
	crl_conf
	crl_start
	wait_crls
	ctl show crl | tee "$T/show.txt"
	grep -q "accepted from https://127.0.0.1:$H1/inter.crl.pem: 1 entries" \
	    "$T/show.txt" || fail "inter not accepted over https"
	expect_handshake alice ok
	expect_handshake revoked refused
}

test_https_source_unknown_server_ca_refused() {
	crl_env
	http_start "$T/h1" "$H1" "$PKI/server.chain.pem" "$PKI/server.key"
	# Without "tls ca" the system's CAs are used: they do not know the
	# test CA, so the download fails and nothing is accepted.
	https_source ''
	crl_conf
	crl_start
	wait_crls
	ctl show crl | tee "$T/show.txt"
	grep -q "accepted from https" "$T/show.txt" && fail "accepted an unverified server"
	grep -qi "download from https://127.0.0.1:$H1/inter.crl.pem failed.*certificate" \
	    "$T/show.txt" || fail "no certificate error shown"
	# No CRL for the intermediate: its users are refused (fail closed).
	expect_handshake alice refused
}

test_ldap_source_fetched_and_refetched() {
	crl_env
	ldap_env || return 1
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	type asn1
	url \"ldap://127.0.0.1:$LDAP_PORT/cn=Example%20Test%20Intermediate%20CA,ou=pki,$SLAPD_SUFFIX?certificateRevocationList;binary\"
}
$(root_source)"
	crl_conf
	crl_start
	wait_crls
	ctl show crl | tee "$T/show.txt"
	grep -q "accepted from ldap://127.0.0.1:$LDAP_PORT/.*: 1 entries" \
	    "$T/show.txt" || fail "inter not accepted from ldap"
	expect_handshake alice ok
	expect_handshake revoked refused
	# The CA revokes carol and publishes the new CRL in the directory.
	sleep 1		# a newer thisUpdate than the current CRL's
	pki_revoke "$PKI" carol >/dev/null || fail "revoke"
	ldap_publish_crl || return 1
	ctl crl update inter | tee "$T/upd.txt"
	grep -q "inter: accepted" "$T/upd.txt" || fail "new CRL not accepted"
	[ "$(crl_json inter 'c["entries"]')" = 2 ] || fail "entries after update"
	expect_handshake carol refused
	expect_handshake alice ok
}

test_ldap_source_missing_attribute_rejected() {
	crl_env
	ldap_env || return 1
	# An attribute the entry does not have: no CRL, a clear result.
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	type asn1
	url \"ldap://127.0.0.1:$LDAP_PORT/cn=Example%20Test%20Intermediate%20CA,ou=pki,$SLAPD_SUFFIX?deltaRevocationList;binary\"
}
$(root_source)"
	crl_conf
	crl_start
	wait_crls
	ctl show crl | tee "$T/show.txt"
	grep -q "accepted from ldap" "$T/show.txt" && fail "accepted without a CRL"
	grep -q "no CRL value in the LDAP" "$T/show.txt" || fail "no clear result"
	expect_handshake alice refused
}

# relay_via_upstream NAME: a recording upstream on $UP_PORT speaking
# STARTTLS with the server certificate PKI/NAME.crt, and the relay line.
relay_via_upstream() {
	UP_PORT=$(free_port)
	cat "$PKI/$1.crt" "$PKI/inter.pem" >"$T/up.chain.pem"
	start_upstream "$T/up" "$UP_PORT" --tls-cert "$T/up.chain.pem" \
	    --tls-key "$PKI/$1.key" --require-tls || return 1
	CRL_RELAY="relay \"mx\" host \"127.0.0.1\" port $UP_PORT tls required ca \"clients\""
}

# send_as alice: one message over TLS with alice's certificate; prints
# swaks' transcript.
send_as() {
	timeout 30 swaks --server "127.0.0.1:$PORT" --tls-on-connect \
	    --tls-cert "$PKI/$1.crt" --tls-key "$PKI/$1.key" \
	    --from "$1@example.test" --to rcpt@example.test 2>&1
}

test_outbound_revoked_upstream_never_gets_mail() {
	local serial
	crl_env
	http_start "$T/h1" "$H1"
	# A second server certificate for the upstream, then revoked.
	_pki_ext "$T/ext.up" "basicConstraints = critical,CA:FALSE" \
	    "keyUsage = critical,digitalSignature" \
	    "extendedKeyUsage = serverAuth" \
	    "subjectAltName = DNS:localhost,IP:127.0.0.1"
	_pki_sign "$PKI" inter upstream "/C=US/O=Example Test/CN=localhost" \
	    "$T/ext.up" -days 30 || fail "issue upstream cert"
	pki_revoke "$PKI" upstream >/dev/null || fail "revoke"
	republish
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	url \"http://127.0.0.1:$H1/inter.crl.pem\"
}
$(root_source)"
	relay_via_upstream upstream || return 1
	crl_conf "crl-check inbound yes outbound yes"
	crl_start
	wait_crls
	send_as alice >"$T/sw" || true
	cat "$T/sw" >&2
	grep -q "^<~\* 451 4.4.1" "$T/sw" || fail "no 451 for a revoked upstream"
	[ "$(upstream_msg_count "$T/up")" = 0 ] || fail "revoked upstream got mail"
	serial=$(openssl x509 -in "$PKI/upstream.crt" -noout -serial |
	    sed 's/^serial=//' | tr A-F a-f)
	grep -q "event=upstream-retry .*upstream=127.0.0.1:$UP_PORT reason=\"certificate revoked: serial $serial" \
	    "$T/smtpcertd.log" || fail "no revocation log line for the upstream"
}

test_outbound_good_upstream_gets_mail() {
	crl_env
	http_start "$T/h1" "$H1"
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	url \"http://127.0.0.1:$H1/inter.crl.pem\"
}
$(root_source)"
	relay_via_upstream server || return 1
	crl_conf "crl-check inbound yes outbound yes"
	crl_start
	wait_crls
	send_as alice >"$T/sw" || fail "swaks failed: $(cat "$T/sw")"
	grep -q "^<~ *250 2.0.0 Ok: queued" "$T/sw" || { cat "$T/sw"; fail "not delivered"; }
	upstream_wait_msg "$T/up" 1 || fail "not stored upstream"
}

crl_init
run_test test_https_source_verified_by_its_tls_ca
run_test test_https_source_unknown_server_ca_refused
run_test test_ldap_source_fetched_and_refetched
run_test test_ldap_source_missing_attribute_rejected
run_test test_outbound_revoked_upstream_never_gets_mail
run_test test_outbound_good_upstream_gets_mail
finish
