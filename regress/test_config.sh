#!/bin/bash
# Configuration grammar regress (the OpenBGPD idea):
#
#   regress/config/N.conf   input; optional N.flags holds extra arguments
#                           (e.g. -D name=value); N.inc files are included
#   regress/config/N.ok     expected result:
#       good case: the `smtpcertd -Nv -f N.conf` printout; the printout
#                  parsed again must print identically
#       bad case:  (first line starts with "N.conf:") the exact
#                  "file:line: message" lines `smtpcertd -N` (parse only) logs, in order,
#                  and a non-zero exit
#
# Runs in regress/config so that file names in messages are relative.
# Set UPDATE=1 to rewrite the .ok files from the current output (review
# the diff before committing).
. "$(dirname "$0")/lib.sh"

CONFDIR="$REGRESS/config"

# Error lines without the "smtpcertd[pid]: " prefix, and only the ones
# that name a file and line (the daemon may add a summary line).
config_errors() {
	sed -E 's/^[^ :]*\[[0-9]+\]: //' | grep -E '^[^ :]+:[0-9]+: ' || true
}

check_case() {
	local n=$1 flags="" out="$T/out" err="$T/err" rc
	[ -f "$n.flags" ] && flags=$(cat "$n.flags")
	if head -n 1 "$n.ok" 2>/dev/null | grep -q "^$n\.conf:" ||
	    { [ -n "${UPDATE:-}" ] && ! "$SMTPCERTD" $flags -N -f "$n.conf" \
	    >/dev/null 2>&1; }; then
		# a broken configuration
		rc=0
		"$SMTPCERTD" $flags -N -f "$n.conf" >"$out" 2>"$err" || rc=$?
		config_errors <"$err" >"$T/errors"
		if [ -n "${UPDATE:-}" ]; then
			cp "$T/errors" "$n.ok"
			return 0
		fi
		[ "$rc" -ne 0 ] || fail "$n.conf: accepted, exit 0"
		diff -u "$n.ok" "$T/errors" || fail "$n.conf: error lines differ"
		return 0
	fi

	rc=0
	"$SMTPCERTD" $flags -Nv -f "$n.conf" >"$out" 2>"$err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$err" >&2
		fail "$n.conf: refused, exit $rc"
	fi
	if [ -n "${UPDATE:-}" ]; then
		cp "$out" "$n.ok"
	else
		diff -u "$n.ok" "$out" || fail "$n.conf: printout differs"
	fi
	# the printout must parse back to the same printout, without the
	# flags and without the files it was built from
	cp "$out" "$T/reparse.conf"
	rc=0
	"$SMTPCERTD" -Nv -f "$T/reparse.conf" >"$T/out2" 2>"$err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$err" >&2
		fail "$n.conf: printout refused, exit $rc"
	fi
	diff -u "$out" "$T/out2" || fail "$n.conf: printout not stable"
}

# Mail service names mean the same without /etc/services (a minimal
# container has no netbase): hide the file in a private mount namespace.
test_service_names_without_etc_services() {
	cat >"$T/svc.conf" <<-EOF
	pki "gw" cert "/nonexistent.crt" key "/nonexistent.key"
	relay "up" host "192.0.2.1" port submissions
	proxy "mail" {
		default server "mail.example.com"
	}
	policy "p" { tls preferred require tls-for-auth }
	listen on 127.0.0.1 port submission pki "gw" policy "p" relay "up"
	listen on 127.0.0.1 port "smtps" tls pki "gw" policy "p" relay "up"
	listen on 127.0.0.1 port imaps proxy imap4s pki "gw" profile "mail"
	EOF
	local out
	# -N: the grammar only (the files named here do not exist)
	out=$(unshare -m sh -c 'mount --bind /dev/null /etc/services &&
	    exec "$0" -Nv -f "$1"' "$SMTPCERTD" "$T/svc.conf" 2>&1) ||
	    fail "refused without /etc/services: $out"
	for p in 587 465 993; do
		echo "$out" | grep -q "port $p" || fail "port $p not in: $out"
	done
}

cd "$CONFDIR" || exit 1
run_test test_service_names_without_etc_services
for conf in [0-9]*.conf; do
	n=${conf%.conf}
	eval "config_$n() { check_case $n; }"
	run_test "config_$n"
done
finish
