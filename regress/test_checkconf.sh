#!/bin/bash
# smtpcertd -n checks what start would (issue 15): the files the
# configuration names, keys against certificates, CA bundles, password
# files, directories, unknown names, all errors in one run with
# file:line, and a non-zero exit when there is one.  Nothing is started.
. "$(dirname "$0")/lib.sh"

# conftest CONF: runs -n; its stderr in $T/err, its status in $rc.
conftest() {
	rc=0
	"$SMTPCERTD" -n -f "$1" >"$T/out" 2>"$T/err" || rc=$?
}

# The line of CONF holding PATTERN.
line_of() { grep -n -- "$2" "$1" | head -n 1 | cut -d: -f1; }

# expect_error CONF PATTERN MESSAGE: an error line at that line.
expect_error() {
	local l; l=$(line_of "$1" "$2")
	grep -qE -- "^(smtpcertd\[[0-9]+\]: )?$1:$l: $3" "$T/err" || {
		cat "$T/err" >&2
		fail "no \"$1:$l: $3\""
	}
}

test_good_config_passes() {
	write_minimal_conf "$T/c.conf" "$(free_port)"
	conftest "$T/c.conf"
	[ "$rc" = 0 ] || { cat "$T/err" >&2; fail "exit $rc"; }
	grep -q "configuration OK" "$T/err" || fail "no configuration OK"
	# nothing was made: -n creates no directory
	[ ! -e "$T/crlcache" ] || fail "-n made the crl cache"
}

test_example_all_errors_in_one_run() {
	local ex="$TOP/etc/smtpcertd.conf" n
	conftest "$ex"
	[ "$rc" != 0 ] || fail "the unedited example passes -n"
	cat "$T/err"
	for f in $(sed -nE 's/^[^#]*(cert|key|file|password-file) "(\/etc\/[^"]+)".*/\2/p' "$ex" |
	    sort -u); do
		[ -e "$f" ] && continue
		grep -qE "^(smtpcertd\[[0-9]+\]: )?$ex:[0-9]+: .*$f: No such file" "$T/err" ||
		    fail "missing $f not reported with file:line"
	done
	n=$(grep -cE "^(smtpcertd\[[0-9]+\]: )?$ex:[0-9]+: " "$T/err")
	[ "$n" -ge 5 ] || fail "only $n file:line errors"
}

test_misspelt_password_file() {
	write_minimal_conf "$T/c.conf" "$(free_port)"
	printf 'secret\n' >"$T/pw"
	chmod 600 "$T/pw"
	cat >>"$T/c.conf" <<CONF
ldap "corp" {
	server "ldap://127.0.0.1"
	bind dn "cn=gw" password-file "$T/pw-misspelt"
	base "dc=example"
}
CONF
	conftest "$T/c.conf"
	[ "$rc" != 0 ] || fail "a misspelt password-file passes -n"
	expect_error "$T/c.conf" "^ldap" "password-file $T/pw-misspelt: No such file"
	# corrected, it passes
	sed -i "s|pw-misspelt|pw|" "$T/c.conf"
	conftest "$T/c.conf"
	[ "$rc" = 0 ] || { cat "$T/err" >&2; fail "exit $rc with the right file"; }
}

test_key_not_matching_certificate() {
	write_minimal_conf "$T/c.conf" "$(free_port)"
	make_selfsigned "$T/other"
	sed -i "s|key \"$T/ss/server.key\"|key \"$T/other/server.key\"|" "$T/c.conf"
	conftest "$T/c.conf"
	[ "$rc" != 0 ] || fail "a key of another certificate passes -n"
	grep -qE "^(smtpcertd\[[0-9]+\]: )?$T/c.conf:$(line_of "$T/c.conf" '^pki'): pki gw: " \
	    "$T/err" || { cat "$T/err" >&2; fail "no pki error with file:line"; }
}

test_bad_ca_bundle() {
	write_minimal_conf "$T/c.conf" "$(free_port)"
	printf 'not a certificate\n' >"$T/junk.pem"
	sed -i "s|file \"$T/ss/server.crt\"|file \"$T/junk.pem\"|" "$T/c.conf"
	conftest "$T/c.conf"
	[ "$rc" != 0 ] || fail "a CA bundle without certificates passes -n"
	expect_error "$T/c.conf" '^ca ' "ca roots: file $T/junk.pem holds no PEM certificate"
	# a broken certificate after a good one
	{ cat "$T/ss/server.crt"; printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'; } \
	    >"$T/junk.pem"
	conftest "$T/c.conf"
	[ "$rc" != 0 ] || fail "a broken CA bundle passes -n"
	expect_error "$T/c.conf" '^ca ' "ca roots: file $T/junk.pem: certificate 2 does not parse"
}

test_unreadable_file() {
	# As the systemd unit runs it: root without CAP_DAC_OVERRIDE.
	write_minimal_conf "$T/c.conf" "$(free_port)"
	chown nobody "$T/ss/server.key"
	conftest "$T/c.conf"
	grep -q "warning: key $T/ss/server.key is readable by root only through CAP_DAC_OVERRIDE" \
	    "$T/err" || { cat "$T/err" >&2; fail "no CAP_DAC_OVERRIDE warning"; }
	rc=0
	setpriv --bounding-set=-dac_override,-dac_read_search \
	    --inh-caps=-dac_override,-dac_read_search -- \
	    "$SMTPCERTD" -n -f "$T/c.conf" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" != 0 ] || fail "an unreadable key passes -n"
	expect_error "$T/c.conf" '^pki' "key $T/ss/server.key: Permission denied"
	# a file:// CRL source is read by the unprivileged user
	chown root "$T/ss/server.key"
	printf 'x\n' >"$T/crl.pem"
	chmod 600 "$T/crl.pem"
	cat >>"$T/c.conf" <<CONF
crl "local" {
	url "file://$T/crl.pem"
}
CONF
	chmod 755 "$T"
	conftest "$T/c.conf"
	[ "$rc" != 0 ] || fail "a file:// CRL the user cannot read passes -n"
	expect_error "$T/c.conf" '^crl "local"' "crl local: $T/crl.pem: Permission denied"
}

test_syntax_and_unknown_name_together() {
	write_minimal_conf "$T/c.conf" "$(free_port)"
	sed -i 's/policy "p" relay "mx"/policy "P" relay "mx"/' "$T/c.conf"
	printf 'limit max-recipients many\nhostnam "x"\n' >>"$T/c.conf"
	conftest "$T/c.conf"
	[ "$rc" != 0 ] || fail "exit 0"
	expect_error "$T/c.conf" '^hostnam' "syntax error"
	expect_error "$T/c.conf" '^listen' 'listener: unknown policy "P"'
	# and a missing file in the same run
	sed -i "s|$T/ss/server.crt\" key|$T/ss/nope.crt\" key|" "$T/c.conf"
	conftest "$T/c.conf"
	expect_error "$T/c.conf" '^pki' "certificate $T/ss/nope.crt: No such file"
	expect_error "$T/c.conf" '^hostnam' "syntax error"
}

test_directories_and_names() {
	write_minimal_conf "$T/c.conf" "$(free_port)"
	sed -i "s|crl cache \"$T/crlcache\"|crl cache \"$T/no/such/dir\"|" "$T/c.conf"
	sed -i "s|relay \"mx\" host \"127.0.0.1\"|relay \"mx\" host \"no-such-host.invalid\"|" \
	    "$T/c.conf"
	conftest "$T/c.conf"
	[ "$rc" != 0 ] || fail "exit 0"
	cat "$T/err"
	grep -q "crl cache $T/no/such/dir does not exist and cannot be made" \
	    "$T/err" || fail "crl cache not reported"
	# NXDOMAIN is an error; no answer at all (offline) only a warning
	l=$(line_of "$T/c.conf" '^relay')
	grep -qE "$T/c.conf:$l: (relay mx: no host has an address|warning: relay mx: no host has an address now)" \
	    "$T/err" || fail "relay without address not reported"
}

. "$TOP/regress/lib/daemon.sh"
run_test test_good_config_passes
run_test test_example_all_errors_in_one_run
run_test test_misspelt_password_file
run_test test_key_not_matching_certificate
run_test test_bad_ca_bundle
run_test test_unreadable_file
run_test test_syntax_and_unknown_name_together
run_test test_directories_and_names
finish
