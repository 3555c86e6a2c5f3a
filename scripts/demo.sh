#!/bin/bash
# The self-contained demo from README.md: on a fresh Debian 12 machine (as
# root) it installs what it needs, builds smtpcertd, makes a throwaway PKI,
# starts a throwaway OpenLDAP slapd seeded with users and an upstream mail
# server that records what it receives, all on 127.0.0.1, and runs the
# gateway in the foreground.  Ctrl-C stops everything and removes the lot.
#
#	DEMO_CHECK=1	start everything, print the status, stop (for tests)
#	DEMO_NO_BUILD=1	use the existing build (BUILD=dir, default build)
set -eu
TOPDIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOPDIR"
if [ -z "${DEMO_NO_BUILD:-}" ]; then
	bash scripts/deps.sh
	make -j"$(nproc)" >/dev/null
fi
set +u
. regress/lib.sh
set -u

T=$(mktemp -d /tmp/smtpcertd-demo.XXXXXX)
chmod 0755 "$T"
demo_cleanup() {
	# Ctrl-C reaches the whole process group, so some of ours may be
	# gone already: nothing here may stop the clean-up half way.
	set +e
	if [ -f "$T/pids" ]; then
		for p in $(cat "$T/pids"); do kill "$p" 2>/dev/null; done
		for p in $(cat "$T/pids"); do
			i=0
			while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
				sleep 0.1; i=$((i + 1))
			done
		done
	fi
	rm -rf "$T"
}
trap demo_cleanup EXIT
trap 'exit 0' INT TERM

echo "== demo directory $T"
make_pki "$T/pki" >/dev/null
LDAP_PORT=$(free_port)
start_slapd "$T/ldap" "$LDAP_PORT" "$T/pki" >/dev/null
seed_ldap "$T/ldap" "$LDAP_PORT" "$T/pki" >/dev/null
UP_PORT=$(free_port)
start_upstream "$T/upstream" "$UP_PORT" --xclient >/dev/null
SUB_PORT=$(free_port)
SMTPS_PORT=$(free_port)
printf 'gwpw\n' >"$T/ldap.pw"
chmod 600 "$T/ldap.pw"
mkdir -p "$T/empty"

cat >"$T/smtpcertd.conf" <<CONF
# smtpcertd demo configuration (see etc/smtpcertd.conf for every option)
user "_smtpcertd"
chroot "$T/empty"
control socket "$T/ctl.sock"
crl cache "$T/crlcache"

pki "gw" cert "$T/pki/server.chain.pem" key "$T/pki/server.key"
ca "clients" file "$T/pki/chain.pem"

ldap "corp" {
	server "ldap://127.0.0.1:$LDAP_PORT"
	bind dn "cn=gw,ou=svc,dc=example,dc=test" password-file "$T/ldap.pw"
	base "ou=people,dc=example,dc=test"
	certificate query "cac" {
		filter "(&(objectClass=cacUser)(caccn={cn})(cacserial={sn}))"
		user-attribute "uid"
	}
	smtp-auth query "users" {
		filter "(uid={u})"
		method bind
		allowance "(&(uid={u})(|(!(caccn=*))(cacexempt=TRUE)(cacemergency>={t})))"
	}
}

crl "inter" {
	ca "clients"
	type pem
	url "file://$T/pki/crl/inter.crl.pem"
	refresh every 1h
}
# The root's CRL covers the intermediate certificate itself: without it
# every client chain is refused under the default fail-closed policy.
crl "root" {
	ca "clients"
	type asn1
	url "file://$T/pki/crl/root.crl.der"
}

auth-profile "ldap-users" ldap "corp" query "users" {
	disallowed reject 525 "5.7.13 Dear user, please use your CAC to send email."
}
auth-profile "cac" certificate ldap "corp" query "cac" {
	fallback smtp-auth "ldap-users"
}

policy "RELAYED" {
	tls preferred
	verify client-certificate
	require smtp-auth
	require tls-for-auth
}

relay "mx" host "127.0.0.1" port $UP_PORT tls none xclient

listen on 127.0.0.1 port $SUB_PORT starttls pki "gw" ca "clients" \\
	auth-profile "cac" policy "RELAYED" relay "mx"
listen on 127.0.0.1 port $SMTPS_PORT tls pki "gw" ca "clients" \\
	auth-profile "cac" policy "RELAYED" relay "mx"
CONF

"$SMTPCERTD" -n -f "$T/smtpcertd.conf"
P=$T/pki
cat <<TXT

== smtpcertd demo
  submission (STARTTLS)  127.0.0.1:$SUB_PORT
  submission (TLS)       127.0.0.1:$SMTPS_PORT
  LDAP (slapd)           ldap://127.0.0.1:$LDAP_PORT  (users alice, bob, carol, ...; password NAMEpw)
  upstream (records)     127.0.0.1:$UP_PORT  -> $T/upstream/msg-*.eml
  configuration          $T/smtpcertd.conf
  control                $SMTPCERTCTL -s $T/ctl.sock show status

Try, in another terminal (each command shows the whole SMTP dialogue;
"# =>" is what the gateway answers; the gateway's log scrolls here):

# 1. alice logs in with her certificate alone (STARTTLS)
swaks --server 127.0.0.1:$SUB_PORT --tls --tls-cert $P/alice.crt --tls-key $P/alice.key \\
      --from alice@example.test --to bob@example.test
# => 250 2.0.0 Ok: queued (relayed: a new $T/upstream/msg-*.eml)

# 2. carol's certificate over implicit TLS, with curl
printf 'From: carol@example.test\\r\\nTo: bob@example.test\\r\\nSubject: hello\\r\\n\\r\\nHi from curl.\\r\\n' |
  curl -v --url smtps://127.0.0.1:$SMTPS_PORT --cacert $P/ca.pem --cert $P/carol.crt \\
       --key $P/carol.key --mail-from carol@example.test --mail-rcpt bob@example.test -T -
# => 250 2.0.0 Ok: queued (relayed: a new $T/upstream/msg-*.eml)

# 3. bob has no CAC: the allowance query lets him use SMTP AUTH
swaks --server 127.0.0.1:$SUB_PORT --tls --auth PLAIN --auth-user bob --auth-password bobpw \\
      --from bob@example.test --to alice@example.test
# => 250 2.0.0 Ok: queued (relayed: a new $T/upstream/msg-*.eml)

# 4. dave has a CAC but an emergency exemption until next year: AUTH allowed
swaks --server 127.0.0.1:$SUB_PORT --tls --auth LOGIN --auth-user dave --auth-password davepw \\
      --from dave@example.test --to bob@example.test
# => 250 2.0.0 Ok: queued (relayed: a new $T/upstream/msg-*.eml)

# 5. alice has a CAC: the allowance query refuses her password
swaks --server 127.0.0.1:$SUB_PORT --tls --auth PLAIN --auth-user alice --auth-password alicepw \\
      --from alice@example.test --to bob@example.test
# => 525 5.7.13 Dear user, please use your CAC to send email. (refused, nothing relayed)

# 6. erin's emergency exemption expired 30 days ago: refused the same way
swaks --server 127.0.0.1:$SUB_PORT --tls --auth PLAIN --auth-user erin --auth-password erinpw \\
      --from erin@example.test --to bob@example.test
# => 525 5.7.13 Dear user, please use your CAC to send email. (refused, nothing relayed)

# 7. bob with a wrong password
swaks --server 127.0.0.1:$SUB_PORT --tls --auth PLAIN --auth-user bob --auth-password wrong \\
      --from bob@example.test --to alice@example.test
# => 535 5.7.8 Authentication credentials invalid (refused, nothing relayed)

# 8. no certificate and no AUTH: the policy requires one or the other
swaks --server 127.0.0.1:$SUB_PORT --tls --from bob@example.test --to alice@example.test
# => 530 5.7.0 Authentication required (refused, nothing relayed)

# 9. a revoked certificate (in the intermediate's CRL, fetched by crld)
swaks --server 127.0.0.1:$SUB_PORT --tls --tls-cert $P/revoked.crt --tls-key $P/revoked.key \\
      --from revoked@example.test --to bob@example.test
# => refused after the TLS handshake: 554 5.7.1 Client certificate refused, then the
#    connection closes (nothing relayed; log: certificate revoked)

TXT
if [ -n "${DEMO_CHECK:-}" ]; then
	"$SMTPCERTD" -d -f "$T/smtpcertd.conf" >"$T/smtpcertd.log" 2>&1 &
	echo $! >>"$T/pids"
	wait_file "$T/ctl.sock" 10
	sleep 1
	"$SMTPCERTCTL" -s "$T/ctl.sock" show status
	exit 0
fi
echo "== running smtpcertd in the foreground (Ctrl-C stops the demo)"
"$SMTPCERTD" -d -v -f "$T/smtpcertd.conf" &
echo $! >>"$T/pids"
wait
