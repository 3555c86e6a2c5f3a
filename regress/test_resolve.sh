#!/bin/bash
# SPEC 1: relay host names are resolved by the parent at load, at reload
# and on a timer ("resolve every", smtpcertd/resolve.c).  The daemon runs
# in its own mount namespace where /etc/hosts is $T/hosts, which the
# tests rewrite in place: the relay's name moves from 127.0.0.1 to
# 127.0.0.2, where a second recording upstream listens on the same port.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

NAME=mx.regress.test

# hosts_say LINE...: the namespace's /etc/hosts (rewritten in place: the
# bind mount follows the inode).
hosts_say() {
	{ echo "127.0.0.1 localhost"; printf '%s\n' "$@"; } >"$T/hosts"
}

# resolve_start EVERY: smtpcertd relaying to $NAME, re-resolving EVERY
# (SMTP_EXTRA_CONF may add to the configuration).
resolve_start() {
	unshare --mount --propagation private true 2>/dev/null || return 2
	smtp_env
	start_upstream "$T/up2" "$UP_PORT" --host 127.0.0.2 --xclient \
	    --timeout 30 || return 1
	hosts_say "127.0.0.1 $NAME"
	# The wrapper keeps the daemon's PID (unshare and exec, no fork).
	cat >"$T/smtpcertd-ns" <<-EOF
	#!/bin/bash
	exec unshare --mount --propagation private bash -c \\
	    'mount --bind "$T/hosts" /etc/hosts && exec "\$0" "\$@"' \\
	    "$SMTPCERTD" "\$@"
	EOF
	chmod +x "$T/smtpcertd-ns"
	SMTPCERTD=$T/smtpcertd-ns SMTP_POLICY="tls preferred" SMTP_PROFILE=none \
	    SMTP_RELAY_HOSTS="host \"$NAME\" port $UP_PORT" \
	    SMTP_GLOBAL="resolve every $1" smtp_start
}

# send N: one message through the gateway, accepted.
send() {
	smtp_swaks "$T/sw$1" --from sender@example.test --to "rcpt$1@example.test" \
	    --header "Subject: message $1"
	grep -q '<-  250 .*queued\|<-  250 2.0.0' "$T/sw$1" ||
	    { cat "$T/sw$1"; fail "message $1 not accepted"; }
}

# count DIR: messages the upstream recording into DIR stored
count() { upstream_msg_count "$1"; }

test_relay_follows_a_dns_change() {
	resolve_start 1s
	[ $? -eq 2 ] && { echo "skip: no mount namespaces here"; return 0; }
	send 1
	[ "$(count "$T/up")" = 1 ] && [ "$(count "$T/up2")" = 0 ] ||
	    fail "message 1 not at 127.0.0.1"
	hosts_say "127.0.0.2 $NAME"
	wait_log "$T/smtpcertd.log" 'host addresses changed: configuration generation 2' 10 ||
	    fail "the new address was not picked up"
	send 2
	[ "$(count "$T/up")" = 1 ] && [ "$(count "$T/up2")" = 1 ] ||
	    fail "message 2 not at 127.0.0.2"
	grep -q 'Subject: message 2' "$T/up2/msg-1.eml" || fail "wrong message at 127.0.0.2"
}

# The same addresses in another order, and a name that stops resolving:
# no new generation, mail keeps flowing to the addresses in use.
test_no_change_and_failure_keep_addresses() {
	resolve_start 1s
	[ $? -eq 2 ] && { echo "skip: no mount namespaces here"; return 0; }
	hosts_say "127.0.0.1 $NAME" "127.0.0.3 $NAME"
	wait_log "$T/smtpcertd.log" 'configuration generation 2' 10 ||
	    fail "the second address was not picked up"
	hosts_say "127.0.0.3 $NAME" "127.0.0.1 $NAME"
	sleep 3
	! grep -q 'configuration generation 3' "$T/smtpcertd.log" ||
	    fail "a reordering made a new generation"
	hosts_say
	wait_log "$T/smtpcertd.log" 're-resolution failed, the addresses in use stay' 10 ||
	    fail "no warning for a name that does not resolve"
	! grep -q 'configuration generation 3' "$T/smtpcertd.log" ||
	    fail "a failed resolution made a new generation"
	# 127.0.0.3 refuses; failover reaches 127.0.0.1 either way.
	send 1
	[ "$(count "$T/up")" = 1 ] || fail "message not delivered"
}

# "resolve every 0": only a reload resolves again.
test_resolve_every_zero_waits_for_reload() {
	resolve_start 0
	[ $? -eq 2 ] && { echo "skip: no mount namespaces here"; return 0; }
	"$SMTPCERTD" -N -v -f "$T/smtpcertd.conf" 2>/dev/null |
	    grep -qx 'resolve every 0s' || fail "resolve every 0s not printed"
	hosts_say "127.0.0.2 $NAME"
	sleep 2
	send 1
	[ "$(count "$T/up")" = 1 ] || fail "the address changed without a reload"
	ctl reload >"$T/reload.out" 2>&1 || { cat "$T/reload.out"; fail "reload"; }
	send 2
	[ "$(count "$T/up2")" = 1 ] || fail "the reload did not resolve again"
}

# An e-mail proxy back end whose name has two addresses: the resolver
# gives the front both ("address"), and a session goes on to the second
# when the first refuses.  glibc sorts 127.0.0.1 first; nothing listens
# there on the port, the recording upstream is on 127.0.0.3.
test_proxy_backend_name_with_two_addresses() {
	local pxport upport
	pxport=$(free_port)
	upport=$(free_port)
	SMTP_EXTRA_CONF="
crl-check proxy no
group-policy \"users\" {
	simultaneous-logins 5
}
proxy \"px\" {
	auth certificate
	username field UID secondary none
	default group-policy \"users\"
	default server \"px.regress.test\" port $upport tls none
}
listen on 127.0.0.1 port $pxport proxy smtps pki \"gw\" ca \"clients\" profile \"px\"" \
	    resolve_start 0
	[ $? -eq 2 ] && { echo "skip: no mount namespaces here"; return 0; }
	start_upstream "$T/up3" "$upport" --host 127.0.0.3 --timeout 30 || return 1
	# The names were resolved at start: these addresses came with them.
	hosts_say "127.0.0.1 $NAME" "127.0.0.1 px.regress.test" \
	    "127.0.0.3 px.regress.test"
	ctl reload >"$T/reload.out" 2>&1 || { cat "$T/reload.out"; fail "reload"; }
	timeout 30 swaks --server "127.0.0.1:$pxport" --tlsc --timeout 15 \
	    --tls-cert "$PKI/alice.crt" --tls-key "$PKI/alice.key" \
	    --from alice@example.test --to bob@example.test >"$T/sw" 2>&1 || :
	upstream_wait_msg "$T/up3" 1 10 || { cat "$T/sw"; fail "not delivered"; }
	grep -q 'backend px.regress.test:[0-9]*: address 127\.0\.0\.1: .*trying the next' \
	    "$T/smtpcertd.log" || fail "no failover to the second address"
}

run_test test_relay_follows_a_dns_change
run_test test_no_change_and_failure_keep_addresses
run_test test_resolve_every_zero_waits_for_reload
run_test test_proxy_backend_name_with_two_addresses
finish
