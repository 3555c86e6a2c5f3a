#!/bin/bash
# The SMTP gateway end to end (SPEC 3.2, 3.3, 3.5, 3.6; the first seed):
# certificate authentication against a real slapd, the seed's three
# mail-flow configurations, LDAP injection through certificate fields, and
# real clients (swaks, curl, openssl s_client) delivering to the recording
# upstream.  Needs ldapd-helper's certificate and AUTH lookups.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

INTER_DN="CN=Example Test Intermediate CA,O=Example Test,C=US"

cert_only_start() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_CERT_ONLY SMTP_PROFILE=cert-only smtp_start
}

# A valid certificate that maps to alice: delivered without any AUTH, with
# our Received: field naming alice, the serial and the issuer, and the
# upstream told LOGIN=alice by XCLIENT.  Over STARTTLS and implicit TLS.
test_valid_certificate_delivers_with_received_header() {
	cert_only_start
	local serial; serial=$(pki_serial "$PKI" alice)
	smtp_swaks "$T/sw1" --tls $(swaks_cert alice) \
	    --from alice@example.test --to bob@example.test
	swaks_delivered "$T/sw1"
	# The certificate is the authentication: no AUTH PLAIN/LOGIN offered.
	! grep -Eq '^<~ +250.AUTH.*(PLAIN|LOGIN)' "$T/sw1" || fail "AUTH offered"
	! grep -q '^ ~> AUTH' "$T/sw1" || fail "swaks sent AUTH"
	smtp_swaks "$T/sw2" --server "127.0.0.1:$SMTPS_PORT" --tlsc \
	    $(swaks_cert alice) --from alice@example.test --to carol@example.test
	swaks_delivered "$T/sw2"
	up_assert_count 2
	for n in 1 2; do
		up_received $n "authenticated as alice by certificate serial $serial issuer $INTER_DN"
		up_received $n "with ESMTPSA"
		up_msg_json $n 'm["xclient"]["LOGIN"] == "alice" and m["xclient"]["ADDR"] == "127.0.0.1"'
	done
	up_msg_json 1 'm["rcpts"] == ["bob@example.test"] and m["mail_from"] == "alice@example.test"'
	log_count_is "event=cert .*cert-subject=\"[^\"]*UID=alice[^\"]*\" cert-serial=$serial cert-issuer=\"$INTER_DN\" cert=ok user=alice result=ok" 2 ||
	    fail "lookup not logged with subject, serial, issuer, user"
	log_count_is "event=end proto=smtp client=127\.0\.0\.1:[0-9]+ .* tls=TLSv1\.[23] cipher=[A-Z0-9_-]+ cert=ok .*user=alice method=certificate messages=1 " 2 ||
	    fail "session end not logged"
}

# No certificate where one is required: the handshake is refused, on both
# listeners, and the upstream never hears of it.
test_no_certificate_refused_at_handshake() {
	cert_only_start
	smtp_swaks "$T/sw1" --tls --from alice@example.test --to bob@example.test
	swaks_handshake_refused "$T/sw1"
	smtp_swaks "$T/sw2" --server "127.0.0.1:$SMTPS_PORT" --tlsc \
	    --from alice@example.test --to bob@example.test
	swaks_handshake_refused "$T/sw2"
	log_count_is 'event=tls-failed .*(did not return a certificate|certificate required)' 2 ||
	    fail "refusals not logged"
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
}

# Expired, not yet valid, and from another CA (all with LDAP entries, so
# the refusal is the certificate check's doing): refused in the handshake.
test_invalid_certificates_refused_at_handshake() {
	cert_only_start
	local c
	for c in expired notyet wrongca; do
		smtp_swaks "$T/sw-$c" --tls $(swaks_cert "$c") \
		    --from "$c@example.test" --to bob@example.test
		swaks_handshake_refused "$T/sw-$c"
	done
	smtp_swaks "$T/sw-s" --server "127.0.0.1:$SMTPS_PORT" --tlsc \
	    $(swaks_cert expired) --from expired@example.test --to bob@example.test
	swaks_handshake_refused "$T/sw-s"
	log_count_is 'event=tls-failed .*certificate verify failed' 4 ||
	    fail "refusals not logged as verify failures"
	log_count_is 'event=cert ' 0 || fail "an invalid certificate was looked up"
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
}

# bob's certificate is valid but no entry has it: the session goes on and
# MAIL gets 530 saying so.
test_certificate_not_in_ldap_530_at_mail() {
	cert_only_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls(cert="bob")
r = c.ehlo()
assert "PLAIN" not in r and "EXTERNAL" not in r, r
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 503)
c.cmd("MAIL FROM:<bob@example.test>", 530, "5.7.0 Your certificate is not registered for mail")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	log_count_is 'event=cert .*CN=TESTER\.BOB.* cert=not-in-ldap user=- result="not found"' 1 || fail "lookup not logged"
	log_count_is 'event=end .*cert=not-in-ldap .*user=- method=-' 1 || fail "end not logged"
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
}

# twin1 and twin2 both match the twin certificate: refused (530 at MAIL),
# logged as ambiguous; never mapped to either.
test_certificate_two_ldap_matches_530_at_mail() {
	cert_only_start
	smtp_swaks "$T/sw" --tls $(swaks_cert twin) --from twin1@example.test \
	    --to bob@example.test
	grep -q '^<~\* *530 5.7.0 Your certificate matches more than one user' "$T/sw" ||
	    fail "no 530 for the ambiguous certificate"
	log_count_is 'event=cert .*cert=ambiguous user=- result=ambiguous .*maps to more than one LDAP entry: refused' 1 || fail "not logged"
	log_count_is 'user=twin' 0 || fail "mapped to a twin"
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
}

# SPEC 3.5: the evil certificate's CN is evil*)(uid=*))(|(cn=*\,"+<>;=# x.
# Unescaped in (caccn={cn}) it would start with (caccn=evil*), which
# matches mallory's entry (added here; the premise is checked).  Escaped,
# it matches nothing: the session is not authenticated, and slapd's own
# log shows the escaped assertion value.
test_ldap_injection_through_certificate_cn() {
	SLAPD_DEBUG=256 smtp_env
	ldap_admin_modify "$T/ldap" >/dev/null <<-EOF
	dn: uid=mallory,$SLAPD_PEOPLE
	changetype: add
	objectClass: inetOrgPerson
	objectClass: cacUser
	uid: mallory
	cn: mallory
	sn: mallory
	mail: mallory@example.test
	caccn: evil-mallory
	EOF
	ldap_gw_search "$T/ldap" '(caccn=evil*)' uid | grep -q '^uid: mallory' ||
	    fail "premise: an unescaped prefix would match mallory"
	SMTP_POLICY=$SMTP_POLICY_CERT_ONLY SMTP_PROFILE=cert-only \
	    SMTP_CERT_FILTER="(caccn={cn})" smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls(cert="evil")
c.ehlo()
c.cmd("MAIL FROM:<mallory@example.test>", 530, "not registered")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	log_count_is 'event=cert .*user=- result="not found"' 1 || fail "lookup result"
	log_count_is 'user=mallory' 0 || fail "mapped to mallory"
	grep -Eiq 'filter="\(caccn=evil\\2a\\29\\28uid=\\2a\\29\\29\\28\|\\28cn=\\2a\\5c,"\+<>;=# x\)"' "$T/ldap/slapd.log" ||
	    { grep -i 'filter=' "$T/ldap/slapd.log" | tail -n 5; fail "slapd did not get the escaped filter"; }
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
}

# ctrl_cert NAME CN: $PKI/NAME.crt and .key, a client certificate like
# bob's (clientAuth, SAN email) issued by the intermediate, whose CN is
# CN with Python escapes (\r, \n, \x00) turned into the bytes, as a
# UTF8String: openssl req -subj cannot write control characters.
ctrl_cert() {
	"$PY" - "$PKI" "$1" "$2" <<'PYEOF' || fail "ctrl_cert $1"
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
pki, name, cn = sys.argv[1], sys.argv[2], sys.argv[3]
cn = cn.encode().decode("unicode_escape")
inter = x509.load_pem_x509_certificate(open(pki + "/inter.pem", "rb").read())
ikey = serialization.load_pem_private_key(
    open(pki + "/inter.key", "rb").read(), None)
key = ec.generate_private_key(ec.SECP256R1())
subj = x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Test"),
    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "People"),
    x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)])
now = datetime.datetime.now(datetime.timezone.utc)
crt = (x509.CertificateBuilder().subject_name(subj)
    .issuer_name(inter.subject).public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(hours=1))
    .not_valid_after(now + datetime.timedelta(days=30))
    .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    .add_extension(x509.KeyUsage(True, False, False, False, True, False,
        False, False, False), True)
    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
        False)
    .add_extension(x509.SubjectAlternativeName(
        [x509.RFC822Name(name + "@example.test")]), False)
    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
        ikey.public_key()), False)
    .sign(ikey, hashes.SHA256()))
open(pki + "/" + name + ".crt", "wb").write(
    crt.public_bytes(serialization.Encoding.PEM))
with open(pki + "/" + name + ".key", "wb") as f:
    f.write(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PYEOF
	openssl verify -CAfile "$PKI/chain.pem" -purpose sslclient \
	    "$PKI/$1.crt" >/dev/null || fail "premise: $1.crt does not verify"
}

# Issue 12: the CN "TESTER.CTRL\r\n".  RFC 4515 escaping would send it as
# TESTER.CTRL\0d\0a, but a directory may fold CR LF into spaces (RFC 4518)
# or drop them, and then caccn "TESTER.CTRL", ctrl's, matches.  A field
# the query uses with a control character is refused before LDAP is
# asked: no user (530 at MAIL), one warning naming the field and the
# session, no search in slapd's log, ldap.results.badfield counted.  A
# certificate query that does not use the field is not in its way.
test_certificate_control_character_refused_before_ldap() {
	SLAPD_DEBUG=256 smtp_env
	ldap_admin_modify "$T/ldap" >/dev/null <<-EOF
	dn: uid=ctrl,$SLAPD_PEOPLE
	changetype: add
	objectClass: inetOrgPerson
	objectClass: cacUser
	uid: ctrl
	cn: ctrl
	sn: ctrl
	mail: ctrl@example.test
	caccn: TESTER.CTRL
	EOF
	ldap_gw_search "$T/ldap" '(uid=ctrl)' caccn | grep -qx 'caccn: TESTER.CTRL' ||
	    fail "premise: ctrl's entry"
	ctrl_cert ctrl 'TESTER.CTRL\r\n'
	openssl x509 -in "$PKI/ctrl.crt" -noout -subject -nameopt RFC2253 |
	    grep -qF 'CN=TESTER.CTRL\0D\0A,' || fail "premise: the CN has no CR LF"
	SMTP_POLICY=$SMTP_POLICY_CERT_ONLY SMTP_PROFILE=cert-only \
	    SMTP_CERT_FILTER="(caccn={cn})" smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls(cert="ctrl")
r = c.ehlo()
assert "EXTERNAL" not in r and "PLAIN" not in r, r
c.cmd("AUTH EXTERNAL", 535)
c.cmd("MAIL FROM:<ctrl@example.test>", 530, "5.7.0 Your certificate cannot be used for mail")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	log_count_is 'event=cert .*cert-subject="CN=TESTER\.CTRL\\\\0D\\\\0A,OU=People,O=Example Test,C=US" .* cert=bad-field user=- result="unusable certificate field" detail="control character in [{]cn[}]" reason="a certificate field the query uses has a control character: refused before LDAP"' 1 ||
	    { grep 'event=cert ' "$T/smtpcertd.log"; fail "refusal not logged"; }
	log_count_is 'event=end .*cert=bad-field .*user=- method=-' 1 || fail "end not logged"
	log_count_is 'user=ctrl' 0 || fail "mapped to ctrl"
	ctl show stats >"$T/stats.txt" || fail "show stats"
	awk '$1 == "ldap.results.badfield" && $2 == 1 { ok = 1 } END { exit !ok }' \
	    "$T/stats.txt" || { cat "$T/stats.txt"; fail "ldap.results.badfield is not 1"; }
	awk '$1 == "auth.certificate.badcred" && $2 == 1 { ok = 1 } END { exit !ok }' \
	    "$T/stats.txt" || fail "auth.certificate.badcred is not 1"
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
	# slapd logs searches (the premise: alice's lookup is there), and
	# none for TESTER.CTRL.
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls(cert="alice")
c.ehlo()
c.cmd("MAIL FROM:<alice@example.test>", 250)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	log_count_is 'event=cert .*cert=ok user=alice' 1 || fail "alice not mapped"
	grep -qi 'filter="(caccn=TESTER\.ALICE' "$T/ldap/slapd.log" ||
	    fail "premise: slapd does not log the filters"
	! grep -qi 'caccn=tester\.ctrl' "$T/ldap/slapd.log" ||
	    { grep -i 'filter=' "$T/ldap/slapd.log"; fail "the CR LF certificate reached slapd"; }
}

# Seed configuration 1, certificate only: TLS required + verify client
# certificate + require SMTP AUTH, a certificate profile without fallback.
test_seed_certificate_only() {
	cert_only_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("MAIL FROM:<alice@example.test>", 530, "5.7.0 Must issue a STARTTLS command first")
c.cmd("QUIT", 221)
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls(cert="alice")
r = c.ehlo()
assert "AUTH EXTERNAL" in r and "PLAIN" not in r, r
c.message(frm="alice@example.test", body=b"Subject: cert only\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	smtp_swaks "$T/sw-none" --tls --auth PLAIN --auth-user bob \
	    --auth-password bobpw --from bob@example.test --to alice@example.test
	swaks_handshake_refused "$T/sw-none"
	up_assert_count 1
	up_received 1 "authenticated as alice by certificate serial $(pki_serial "$PKI" alice)"
	up_msg_json 1 'm["xclient"]["LOGIN"] == "alice"'
}

# Seed configuration 2, LDAP SMTP AUTH only: TLS required + require SMTP
# AUTH, an smtp-auth profile with the allowance filter
# (&(uid={u})(|(!(caccn=*))(cacexempt=TRUE)(cacemergency>={t}))).
test_seed_ldap_smtp_auth_only() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_AUTH_ONLY SMTP_PROFILE=ldap-users smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("MAIL FROM:<bob@example.test>", 530, "5.7.0 Must issue a STARTTLS command first")
c.cmd("STARTTLS", 220); c.starttls()
r = c.ehlo()
assert "AUTH PLAIN LOGIN" in r, r
c.cmd("MAIL FROM:<bob@example.test>", 530, "5.7.0 Authentication required")
c.cmd("AUTH PLAIN AGJvYgB3cm9uZw==", 535, "5.7.8")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	# bob has no CAC; carol is exempt; dave has an emergency date ahead.
	smtp_swaks "$T/sw-bob" --tls --auth PLAIN --auth-user bob \
	    --auth-password bobpw --from bob@example.test --to alice@example.test
	swaks_delivered "$T/sw-bob"
	smtp_swaks "$T/sw-carol" --tls --auth LOGIN --auth-user carol \
	    --auth-password carolpw --from carol@example.test --to bob@example.test
	swaks_delivered "$T/sw-carol"
	smtp_swaks "$T/sw-dave" --tls --auth PLAIN --auth-user dave \
	    --auth-password davepw --from dave@example.test --to bob@example.test
	swaks_delivered "$T/sw-dave"
	# alice has a CAC, erin's emergency is over: not allowed to use AUTH.
	local u
	for u in alice erin; do
		smtp_swaks "$T/sw-$u" --tls --auth PLAIN --auth-user "$u" \
		    --auth-password "${u}pw" --from "$u@example.test" --to bob@example.test
		grep -q '^<~\* *525 5.7.13 Dear user, please use your CAC to send email.' "$T/sw-$u" ||
		    fail "$u not refused by the allowance"
	done
	up_assert_count 3
	up_received 1 "authenticated as bob by AUTH PLAIN"
	up_msg_json 1 'm["xclient"]["LOGIN"] == "bob" and m["mail_from"] == "bob@example.test"'
	up_received 2 "authenticated as carol by AUTH LOGIN"
	up_msg_json 2 'm["xclient"]["LOGIN"] == "carol"'
	up_msg_json 3 'm["xclient"]["LOGIN"] == "dave"'
}

# Seed configuration 3, mixed: TLS preferred + verify + require SMTP AUTH
# + require TLS for AUTH; alice by certificate, bob by AUTH after
# STARTTLS; AUTH never in plaintext; an unmapped certificate falls back
# to AUTH, an ambiguous one does not.
test_seed_mixed_certificate_and_auth() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac smtp_start
	smtp_swaks "$T/sw-alice" --tls $(swaks_cert alice) \
	    --from alice@example.test --to bob@example.test
	swaks_delivered "$T/sw-alice"
	smtp_raw '
c = C(sys.argv[1]); c.expect(220)
r = c.ehlo()
assert "AUTH" not in r and "STARTTLS" in r, r
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 538, "5.7.11 Encryption required for requested authentication mechanism")
c.cmd("MAIL FROM:<bob@example.test>", 530, "5.7.0 Authentication required")
c.cmd("STARTTLS", 220); c.starttls()
r = c.ehlo()
assert "AUTH PLAIN LOGIN" in r, r
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 235)
c.message(frm="bob@example.test", body=b"Subject: bob by auth\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
# bob with his (unmapped) certificate: falls back to AUTH.
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls(cert="bob")
r = c.ehlo()
assert "AUTH PLAIN LOGIN" in r, r
c.cmd("MAIL FROM:<bob@example.test>", 530, "Authentication required")
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 235)
c.message(frm="bob@example.test", body=b"Subject: bob cert+auth\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
# The ambiguous twin certificate: refused, and no way round it by AUTH.
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls(cert="twin")
r = c.ehlo()
assert "PLAIN" not in r, r
c.cmd("AUTH PLAIN AHR3aW4xAHR3aW4xcHc=", 503)
c.cmd("MAIL FROM:<twin1@example.test>", 530, "more than one user")
c.cmd("QUIT", 221)
# alice without her card may not use AUTH (the allowance).
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.cmd("STARTTLS", 220); c.starttls()
c.ehlo()
c.cmd("AUTH PLAIN AGFsaWNlAGFsaWNlcHc=", 525, "5.7.13")
c.cmd("MAIL FROM:<alice@example.test>", 530)
c.cmd("QUIT", 221)
' "$SUB_PORT"
	smtp_swaks "$T/sw-exp" --tls $(swaks_cert expired) \
	    --from expired@example.test --to bob@example.test
	swaks_handshake_refused "$T/sw-exp"
	up_assert_count 3
	up_received 1 "authenticated as alice by certificate serial $(pki_serial "$PKI" alice) issuer $INTER_DN"
	up_received 2 "authenticated as bob by AUTH PLAIN"
	up_received 3 "authenticated as bob by AUTH PLAIN"
	up_msg_json 1 'm["xclient"]["LOGIN"] == "alice"'
	up_msg_json 2 'm["xclient"]["LOGIN"] == "bob"'
	up_msg_json 3 'm["xclient"]["LOGIN"] == "bob"'
}

# An AUTH after a message sent unauthenticated must not reuse that
# message's upstream connection, which told the upstream LOGIN=[UNAVAILABLE].
test_auth_after_message_reaches_upstream_as_user() {
	smtp_env
	SMTP_POLICY="tls preferred" SMTP_PROFILE=ldap-users smtp_start
	smtp_raw '
c = C(sys.argv[1]); c.expect(220); c.ehlo()
c.message(body=b"Subject: anonymous\r\n\r\nx\r\n")
c.cmd("AUTH PLAIN AGJvYgBib2Jwdw==", 235)
c.message(frm="bob@example.test", body=b"Subject: as bob\r\n\r\nx\r\n")
c.cmd("QUIT", 221)
' "$SUB_PORT"
	up_assert_count 2
	up_msg_json 1 'm["xclient"]["LOGIN"] == "[UNAVAILABLE]"'
	up_msg_json 2 'm["xclient"]["LOGIN"] == "bob"'
	up_received 2 "authenticated as bob by AUTH PLAIN"
}

# curl, implicit TLS (smtps://) with alice's certificate: delivered.
test_curl_smtps_with_certificate() {
	smtp_env
	SMTP_POLICY=$SMTP_POLICY_MIXED SMTP_PROFILE=cac smtp_start
	crlf_message "$T/msg.txt" alice@example.test bob@example.test "via curl"
	timeout -k 2 30 curl -sS --url "smtps://127.0.0.1:$SMTPS_PORT" \
	    --cacert "$PKI/chain.pem" --cert "$PKI/alice.crt" --key "$PKI/alice.key" \
	    --mail-from alice@example.test --mail-rcpt bob@example.test \
	    --upload-file "$T/msg.txt" >"$T/curl.out" 2>&1 ||
	    { cat "$T/curl.out"; fail "curl failed"; }
	up_assert_count 1
	up_received 1 "authenticated as alice by certificate serial $(pki_serial "$PKI" alice)"
	grep -q "^Subject: via curl" "$T/up/msg-1.eml" || fail "body"
	up_msg_json 1 'm["xclient"]["LOGIN"] == "alice" and m["rcpts"] == ["bob@example.test"]'
	# curl without a certificate on the certificate listener gets 530.
	timeout -k 2 30 curl -sS --url "smtps://127.0.0.1:$SMTPS_PORT" \
	    --cacert "$PKI/chain.pem" --mail-from bob@example.test \
	    --mail-rcpt alice@example.test --upload-file "$T/msg.txt" \
	    >"$T/curl2.out" 2>&1 && fail "curl without certificate delivered"
	grep -q "530" "$T/curl2.out" || { cat "$T/curl2.out"; fail "no 530"; }
	up_assert_count 1 0
}

# openssl s_client: -starttls smtp with alice's certificate, a whole
# message; and on the implicit-TLS listener the 220 greeting, which comes
# once the certificate has been looked up.
test_openssl_s_client_with_certificate() {
	cert_only_start
	printf 'EHLO sclient.example.test\nMAIL FROM:<alice@example.test>\nRCPT TO:<bob@example.test>\nDATA\nSubject: via s_client\n\nhello\n.\nQUIT\n' |
	    timeout -k 2 30 openssl s_client -starttls smtp -connect "127.0.0.1:$SUB_PORT" \
	    -cert "$PKI/alice.crt" -key "$PKI/alice.key" -CAfile "$PKI/chain.pem" \
	    -verify_return_error -crlf -ign_eof -nocommands >"$T/s1.out" 2>&1 ||
	    { cat "$T/s1.out"; fail "s_client -starttls failed"; }
	grep -q "Verification: OK" "$T/s1.out" || fail "server certificate not verified"
	grep -q "^250-AUTH EXTERNAL" "$T/s1.out" || { cat "$T/s1.out"; fail "not authenticated by the certificate"; }
	grep -q "^250 2.0.0 Ok: queued as 1" "$T/s1.out" || { cat "$T/s1.out"; fail "not delivered"; }
	grep -q "^221 " "$T/s1.out" || fail "no 221"
	printf 'EHLO sclient.example.test\nQUIT\n' |
	    timeout -k 2 30 openssl s_client -connect "127.0.0.1:$SMTPS_PORT" \
	    -cert "$PKI/alice.crt" -key "$PKI/alice.key" -CAfile "$PKI/chain.pem" \
	    -verify_return_error -crlf -ign_eof -nocommands >"$T/s2.out" 2>&1 ||
	    { cat "$T/s2.out"; fail "s_client (implicit TLS) failed"; }
	# (No anchor: s_client prints the TLS 1.3 session ticket through a
	# buffered stream while it writes the data straight away, so the
	# banner can be glued to the end of that text.)
	grep -q "220 gw.example.test ESMTP smtpcertd" "$T/s2.out" || { cat "$T/s2.out"; fail "no 220"; }
	grep -q "^250-AUTH EXTERNAL" "$T/s2.out" || fail "implicit TLS: not authenticated"
	up_assert_count 1
	up_received 1 "authenticated as alice by certificate"
	log_count_is 'event=end .*user=alice method=certificate' 2 || fail "sessions not logged as alice"
}

# The certificate the front takes from the handshake is the one the client
# presented: its fingerprint, subject and issuer as `openssl x509` prints
# them are what the certificate query matches (ldapd-helper reads them
# from the DER the front sends) and what the front logs.
test_certificate_fields_match_openssl() {
	smtp_env
	local fp dn issuer serial
	fp=$(pki_fp "$PKI" alice)
	dn=$(openssl x509 -in "$PKI/alice.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
	issuer=$(openssl x509 -in "$PKI/alice.crt" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')
	serial=$(pki_serial "$PKI" alice)
	[ -n "$fp" ] && [ -n "$dn" ] && [ -n "$issuer" ] || fail "premise: openssl x509"
	ldap_admin_modify "$T/ldap" >/dev/null <<-EOF
	dn: uid=alice,$SLAPD_PEOPLE
	changetype: modify
	add: description
	description: fp $fp
	description: dn $dn
	description: issuer $issuer
	EOF
	SMTP_POLICY=$SMTP_POLICY_CERT_ONLY SMTP_PROFILE=cert-only \
	    SMTP_CERT_FILTER="(&(objectClass=cacUser)(description=fp {fp})(description=dn {dn})(description=issuer {issuer})(cacserial={sn}))" \
	    smtp_start
	smtp_swaks "$T/sw1" --tls $(swaks_cert alice) \
	    --from alice@example.test --to bob@example.test
	swaks_delivered "$T/sw1"
	smtp_swaks "$T/sw2" --server "127.0.0.1:$SMTPS_PORT" --tlsc \
	    $(swaks_cert alice) --from alice@example.test --to bob@example.test
	swaks_delivered "$T/sw2"
	[ "$(grep -F " event=cert " "$T/smtpcertd.log" |
	    grep -cF "cert-subject=\"$dn\" cert-serial=$serial cert-issuer=\"$issuer\" cert=ok user=alice")" = 2 ] || fail "front did not log openssl's subject, serial and issuer"
}

# randy's certificate carries an RSA 2048 key (all the other test
# certificates are EC P-256), signed by the EC intermediate: his keys go
# through the front's RSA key decoding (common/pkeydecode.c) and his
# CertificateVerify through RSA signature verification.
#
# rsa_mail OUT CERT KEY [s_client options...]: one message from randy to
# bob over STARTTLS with openssl s_client, CERT and KEY as the client's;
# -msg dumps the handshake messages into OUT.  Never fails: the caller
# checks OUT.
rsa_mail() {
	local out=$1 cert=$2 key=$3
	shift 3
	printf 'EHLO sclient.example.test\nMAIL FROM:<randy@example.test>\nRCPT TO:<bob@example.test>\nDATA\nSubject: rsa client\n\nhello\n.\nQUIT\n' |
	    timeout -k 2 30 openssl s_client -starttls smtp \
	    -connect "127.0.0.1:$SUB_PORT" -cert "$cert" -key "$key" \
	    -CAfile "$PKI/chain.pem" -verify_return_error -crlf -ign_eof \
	    -nocommands -msg "$@" >"$out" 2>&1 || :
	echo "--- s_client $* ($out)"
	grep -v '^    ' "$out"
}

# rsa_delivered OUT: that s_client session was authenticated by the
# certificate and its message accepted.
rsa_delivered() {
	grep -q "^250-AUTH EXTERNAL" "$1" || fail "$1: not authenticated by the certificate"
	grep -q "^250 2.0.0 Ok: queued as " "$1" || fail "$1: not delivered"
	grep -q "^221 " "$1" || fail "$1: no 221"
}

# rsa_cv_sigalg OUT: the SignatureScheme (4 hex digits) of the
# CertificateVerify the client sent in that s_client session, from -msg.
rsa_cv_sigalg() {
	awk '/^>>> .*, CertificateVerify$/ { getline; print $5 $6; exit }' "$1"
}

# rsa_received N: msg-N was randy's, authenticated by his certificate.
rsa_received() {
	up_received "$1" "authenticated as randy by certificate serial $(pki_serial "$PKI" randy) issuer $INTER_DN"
	up_msg_json "$1" 'm["xclient"]["LOGIN"] == "randy" and m["mail_from"] == "randy@example.test"'
}

# TLS 1.3 with randy's RSA certificate: the client signs with RSA-PSS
# (rsa_pss_rsae_*, the only RSA signatures TLS 1.3 has), the front
# verifies it, looks randy up and the message is delivered as his; swaks
# on the implicit-TLS listener too.
test_rsa_certificate_tls13_delivers() {
	cert_only_start
	local serial; serial=$(pki_serial "$PKI" randy)
	openssl x509 -in "$PKI/randy.crt" -noout -text |
	    grep -q "Public Key Algorithm: rsaEncryption" || fail "premise: randy's key is not RSA"
	rsa_mail "$T/s13" "$PKI/randy.crt" "$PKI/randy.key" -tls1_3
	grep -q "^New, TLSv1.3, " "$T/s13" || fail "not TLS 1.3"
	rsa_delivered "$T/s13"
	case $(rsa_cv_sigalg "$T/s13") in
	0804|0805|0806) ;;
	*) fail "CertificateVerify not signed with rsa_pss_rsae: $(rsa_cv_sigalg "$T/s13")" ;;
	esac
	smtp_swaks "$T/sw" --server "127.0.0.1:$SMTPS_PORT" --tlsc \
	    --tls-protocol tlsv1_3 $(swaks_cert randy) \
	    --from randy@example.test --to bob@example.test
	grep -q "TLSv1.3" "$T/sw" || fail "swaks: not TLS 1.3"
	swaks_delivered "$T/sw"
	up_assert_count 2
	rsa_received 1
	rsa_received 2
	log_count_is "event=cert .*cert-subject=\"[^\"]*CN=TESTER\.RANDY[^\"]*\" cert-serial=$serial cert-issuer=\"$INTER_DN\" cert=ok user=randy result=ok" 2 ||
	    fail "lookup not logged as cert=ok user=randy"
	log_count_is "event=end .* tls=TLSv1\.3 cipher=[A-Z0-9_-]+ cert=ok .*user=randy method=certificate messages=1 " 2 ||
	    fail "sessions not logged as randy over TLS 1.3"
	log_count_is 'event=tls-failed' 0 || fail "a handshake failed"
}

# rsa_tls12 SIGALG CODE NAME: randy over TLS 1.2, made to sign his
# CertificateVerify with SIGALG (scheme CODE, NAME), is delivered and
# logged.  -client_sigalgs limits what the client signs with; -sigalgs
# (what the client accepts from the server) must keep ECDSA, as the
# server's own certificate is EC.
rsa_tls12() {
	cert_only_start
	rsa_mail "$T/s12" "$PKI/randy.crt" "$PKI/randy.key" -tls1_2 \
	    -sigalgs "$1:ECDSA+SHA256" -client_sigalgs "$1"
	grep -q "^New, TLSv1.2, " "$T/s12" || fail "not TLS 1.2"
	rsa_delivered "$T/s12"
	[ "$(rsa_cv_sigalg "$T/s12")" = "$2" ] ||
	    fail "CertificateVerify not $3: $(rsa_cv_sigalg "$T/s12")"
	up_assert_count 1
	rsa_received 1
	log_count_is "event=cert .*cert=ok user=randy result=ok" 1 || fail "lookup not logged"
	log_count_is "event=end .* tls=TLSv1\.2 cipher=[A-Z0-9_-]+ cert=ok .*user=randy method=certificate messages=1 " 1 ||
	    fail "session not logged as randy over TLS 1.2"
}

# TLS 1.2 with a PKCS#1 v1.5 CertificateVerify (rsa_pkcs1_sha256).
test_rsa_certificate_tls12_pkcs1_delivers() {
	rsa_tls12 "RSA+SHA256" 0401 rsa_pkcs1_sha256
}

# TLS 1.2 with an RSA-PSS CertificateVerify (rsa_pss_rsae_sha256) from
# the rsaEncryption key.
test_rsa_certificate_tls12_pss_delivers() {
	rsa_tls12 "RSA-PSS+SHA256" 0804 rsa_pss_rsae_sha256
}

# rsa_forged_key PKI OUT: an RSA private key that signs with the private
# exponent and primes of a freshly generated key (openssl genpkey) but
# carries randy's public modulus and exponent.  TLS stacks refuse to pair
# a certificate with a key whose public half differs, so this is how a
# client "holding" randy's certificate without his key gets it onto the
# wire: its CertificateVerify is made with the other key's secrets.
rsa_forged_key() {
	local pki=$1 out=$2
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$out.other" 2>/dev/null || fail "genpkey"
	openssl rsa -in "$out.other" -traditional -outform DER \
	    -out "$out.other.der" 2>/dev/null || fail "openssl rsa"
	$PY - "$out.other.der" "$(openssl x509 -in "$pki/randy.crt" -noout -modulus |
	    sed 's/^Modulus=//')" "$out.der" <<-'EOF' || fail "forging the key"
	import sys
	def tlv(d, i):
	    t, n = d[i], d[i + 1]
	    i += 2
	    if n & 0x80:
	        k = n & 0x7f
	        n = int.from_bytes(d[i:i + k], "big")
	        i += k
	    return t, d[i:i + n], i + n
	def der(t, v):
	    n = len(v)
	    if n < 0x80:
	        return bytes([t, n]) + v
	    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
	    return bytes([t, 0x80 | len(b)]) + b + v
	def integer(x):
	    return der(0x02, x.to_bytes(x.bit_length() // 8 + 1, "big"))
	d = open(sys.argv[1], "rb").read()
	t, body, _ = tlv(d, 0)
	assert t == 0x30
	ints, i = [], 0
	while i < len(body):
	    t, v, i = tlv(body, i)
	    assert t == 0x02
	    ints.append(int.from_bytes(v, "big"))
	assert len(ints) == 9 and ints[0] == 0, ints[:1]
	n = int(sys.argv[2], 16)
	assert n != ints[1]
	# version, n (randy's), e, then the other key's d p q dp dq qinv
	ints[1] = n
	open(sys.argv[3], "wb").write(der(0x30, b"".join(integer(x) for x in ints)))
	EOF
	openssl rsa -inform DER -in "$out.der" -out "$out" 2>/dev/null ||
	    fail "openssl rsa (forged key)"
	# Its public half is randy's, so clients accept the pair.
	openssl x509 -in "$pki/randy.crt" -noout -pubkey >"$out.want.pub"
	openssl rsa -in "$out" -pubout -out "$out.pub" 2>/dev/null
	cmp -s "$out.pub" "$out.want.pub" || fail "premise: forged key's public half"
}

# randy's certificate with another RSA private key, over TLS 1.3 and TLS
# 1.2: the CertificateVerify does not verify, the handshake fails, nobody
# is looked up, nothing reaches the upstream; and the daemon goes on
# serving (randy with his real key, right after).
test_rsa_certificate_forged_key_refused() {
	cert_only_start
	rsa_forged_key "$PKI" "$T/forged.key"
	rsa_mail "$T/f13" "$PKI/randy.crt" "$T/forged.key" -tls1_3
	rsa_mail "$T/f12" "$PKI/randy.crt" "$T/forged.key" -tls1_2 \
	    -sigalgs "RSA+SHA256:ECDSA+SHA256" -client_sigalgs "RSA+SHA256"
	local f
	for f in f13 f12; do
		grep -q "^>>> .*, CertificateVerify$" "$T/$f" ||
		    fail "$f: the client sent no CertificateVerify"
		grep -q "^<<< .*Alert .*fatal decrypt_error" "$T/$f" ||
		    fail "$f: the server did not refuse the signature"
		# (s_client prints the last line of the plaintext EHLO reply)
		! grep -Eq '^(250-|354 |221 )|Ok: queued' "$T/$f" ||
		    fail "$f: the server answered over TLS"
	done
	# The front's RSA verification rejected the signature: a PSS one
	# (TLS 1.3) and a PKCS#1 v1.5 one (TLS 1.2).
	log_count_is 'event=tls-failed .*reason="TLS handshake: handshake failed: .*rsa routines' 2 ||
	    { grep 'event=tls-failed' "$T/smtpcertd.log"; fail "forged handshakes not logged as failed RSA verifications"; }
	log_count_is 'event=cert ' 0 || fail "a forged certificate was looked up"
	log_count_is 'user=randy' 0 || fail "mapped to randy"
	up_assert_count 0
	[ ! -e "$T/up/conn-1.raw" ] || fail "upstream contacted"
	rsa_mail "$T/good" "$PKI/randy.crt" "$PKI/randy.key"
	rsa_delivered "$T/good"
	up_assert_count 1
	rsa_received 1
	log_count_is "event=cert .*cert=ok user=randy result=ok" 1 || fail "lookup not logged"
}

run_test test_valid_certificate_delivers_with_received_header
run_test test_no_certificate_refused_at_handshake
run_test test_invalid_certificates_refused_at_handshake
run_test test_certificate_not_in_ldap_530_at_mail
run_test test_certificate_two_ldap_matches_530_at_mail
run_test test_ldap_injection_through_certificate_cn
run_test test_certificate_control_character_refused_before_ldap
run_test test_seed_certificate_only
run_test test_seed_ldap_smtp_auth_only
run_test test_seed_mixed_certificate_and_auth
run_test test_auth_after_message_reaches_upstream_as_user
run_test test_curl_smtps_with_certificate
run_test test_openssl_s_client_with_certificate
run_test test_certificate_fields_match_openssl
run_test test_rsa_certificate_tls13_delivers
run_test test_rsa_certificate_tls12_pkcs1_delivers
run_test test_rsa_certificate_tls12_pss_delivers
run_test test_rsa_certificate_forged_key_refused
finish
