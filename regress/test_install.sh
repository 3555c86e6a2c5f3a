#!/bin/bash
# run.sh: plain pass only (see regress/run.sh)
# make install / make uninstall: the layout README.md documents (its table
# is the expected result), the modes, the substituted paths, the
# compiled-in helper and configuration paths, and the user `make install'
# creates when run as root without DESTDIR.
#
# The installs build into a copy of $BUILD under $T (install_to in
# lib/sysroot.sh), so that the build/ other tests are running stays
# untouched: only smtpcertd is rebuilt there, for its compiled-in paths.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/sysroot.sh"

# The README table: "path mode", $(PREFIX) replaced by $1.
readme_layout() {
	awk -v prefix="$1" '
	    /^\| path \| mode \| what \|$/ { on = 1; next }
	    on && !/^\|/ { exit }
	    on && /^\| `/ {
		split($0, f, "|")
		p = f[2]; m = f[3]
		gsub(/[ `]/, "", p); gsub(/ /, "", m)
		sub(/^\$\(PREFIX\)/, prefix, p)
		print p, m
	    }' "$TOP/README.md"
}

test_install_layout_as_documented() {
	local root="$T/root" want got
	install_to "$T/install.log" PREFIX=/usr DESTDIR="$root" || return 1
	want=$(readme_layout /usr | sort)
	[ "$(echo "$want" | wc -l)" -ge 10 ] ||
	    { fail "could not read the layout table from README.md"; return 1; }
	# Every file, and every empty directory (as "dir/"), with its mode.
	got=$(cd "$root" && {
		find . -type f -printf '/%P %m\n'
		find . -type d -empty -printf '/%P/ %m\n'
	    } | awk '{ printf "%s %04d\n", $1, $2 }' | sort)
	echo "$got"
	if [ "$want" != "$got" ]; then
		diff -u <(echo "$want") <(echo "$got") | sed 's/^/  /'
		fail "make install DESTDIR=... PREFIX=/usr differs from README.md's table"
		return 1
	fi
	# Owned by the user running make (root here) -- DESTDIR never chowns.
	[ -z "$(find "$root" ! -user root)" ] || fail "files not owned by root"
	grep -q "not root or DESTDIR set" "$T/install.log" ||
	    fail "no instructions to create the user printed with DESTDIR"
}

test_install_substitutes_paths() {
	local root="$T/root" f
	install_to "$T/install.log" PREFIX=/usr DESTDIR="$root" || return 1
	# Nothing installed refers to the default /usr/local any more.
	for f in usr/lib/systemd/system/smtpcertd.service etc/init.d/smtpcertd \
	    usr/share/man/man8/smtpcertd.8 usr/share/man/man8/smtpcertctl.8 \
	    usr/share/man/man5/smtpcertd.conf.5; do
		! grep -n /usr/local "$root/$f" || fail "$f still names /usr/local"
	done
	grep -qx 'ExecStart=/usr/sbin/smtpcertd -f /etc/smtpcertd/smtpcertd.conf -p /run/smtpcertd.pid' \
	    "$root/usr/lib/systemd/system/smtpcertd.service" || fail "unit ExecStart"
	grep -q '^ExecReload=/usr/sbin/smtpcertctl ' \
	    "$root/usr/lib/systemd/system/smtpcertd.service" || fail "unit ExecReload"
	grep -qx 'DAEMON=/usr/sbin/smtpcertd' "$root/etc/init.d/smtpcertd" ||
	    fail "rc DAEMON"
	grep -q '/usr/libexec/smtpcertd' "$root/usr/share/man/man8/smtpcertd.8" ||
	    fail "smtpcertd.8 does not name the installed libexec directory"
	# The binary looks for its helpers where they were installed (the
	# DESTDIR prefix is for staging only), and for its configuration in
	# SYSCONFDIR.
	grep -aq '/usr/libexec/smtpcertd' "$root/usr/sbin/smtpcertd" ||
	    fail "smtpcertd was not built with LIBEXECDIR=/usr/libexec/smtpcertd"
	grep -aq '/usr/local/libexec/smtpcertd' "$root/usr/sbin/smtpcertd" &&
	    fail "smtpcertd still has the /usr/local libexec directory"
	cmp -s "$root/etc/smtpcertd/smtpcertd.conf.example" "$TOP/etc/smtpcertd.conf" ||
	    fail "the example configuration differs from etc/smtpcertd.conf"
	# A plain build keeps its own default afterwards (private copy).
	return 0
}

test_uninstall_removes_what_install_put() {
	local root="$T/root" left
	install_to "$T/install.log" PREFIX=/usr DESTDIR="$root" || return 1
	# A site's configuration must survive.
	echo "# site" >"$root/etc/smtpcertd/smtpcertd.conf"
	make -C "$TOP" --no-print-directory SANITIZE="${SANITIZE:-}" O="$T/build" \
	    PREFIX=/usr DESTDIR="$root" uninstall >"$T/uninstall.log" 2>&1 ||
	    { cat "$T/uninstall.log"; fail "make uninstall failed"; return 1; }
	left=$(cd "$root" && find . -type f -printf '/%P\n')
	[ "$left" = /etc/smtpcertd/smtpcertd.conf ] ||
	    fail "after uninstall, files left: $left"
	[ ! -e "$root/usr/libexec/smtpcertd" ] || fail "libexec directory left"
}

# A real install (no DESTDIR, as root) under $T: the user is created and
# owns the CRL cache, and the installed smtpcertd, started without -f and
# without SMTPCERTD_LIBEXEC, reads its configuration from the installed
# SYSCONFDIR and runs its children from the installed LIBEXECDIR.
# stop_daemon_pid PID: SIGTERM, then wait (bounded) until it is gone.
stop_daemon_pid() {
	local pid=$1 i=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 0
}

test_installed_daemon_runs_installed_helpers() {
	local p="$T/p" port name exe
	# Not local: the EXIT trap runs after the function has returned.
	user="_smtpcertd_t$$" dpid=""
	[ "$(id -u)" -eq 0 ] || { echo "skip: not root"; return 0; }
	! getent passwd "$user" >/dev/null || { fail "user $user exists"; return 1; }
	# Stop the daemon and remove the throwaway user whatever happens (the
	# test runs in a subshell, so this trap is the test's own; userdel
	# refuses a user that still has processes).
	trap 'set +e; stop_daemon_pid "$dpid"; userdel "$user" 2>/dev/null; groupdel "$user" 2>/dev/null; true' EXIT
	install_to "$T/install.log" PREFIX="$p/usr" SYSCONFDIR="$p/etc/smtpcertd" \
	    RCDIR="$p/etc/init.d" STATEDIR="$p/var/lib/smtpcertd" \
	    CACHEDIR="$p/var/cache/smtpcertd" SMTPCERTD_USER="$user" || return 1
	grep -v '^\(cc\|install\|sed\|chmod\|for\|make\)' "$T/install.log" || true
	getent passwd "$user" >"$T/pw" || { fail "make install did not create $user"; return 1; }
	cat "$T/pw"
	[ "$(cut -d: -f7 "$T/pw")" = /usr/sbin/nologin ] || fail "shell not nologin"
	[ "$(cut -d: -f3 "$T/pw")" -lt 1000 ] || fail "not a system user"
	[ "$(stat -c '%U %a' "$p/var/cache/smtpcertd")" = "$user 700" ] ||
	    fail "CRL cache: $(stat -c '%U %a' "$p/var/cache/smtpcertd")"

	port=$(free_port)
	write_minimal_conf "$p/etc/smtpcertd/smtpcertd.conf" "$port"
	sed -i -e "s|^user .*|user \"$user\"|" \
	    -e "s|^chroot .*|chroot \"$p/var/lib/smtpcertd/empty\"|" \
	    -e "s|^crl cache .*|crl cache \"$p/var/cache/smtpcertd\"|" \
	    "$p/etc/smtpcertd/smtpcertd.conf"
	(unset SMTPCERTD_LIBEXEC; exec "$p/usr/sbin/smtpcertd" -d -v) \
	    >>"$T/smtpcertd.log" 2>&1 &
	dpid=$!
	track_pid "$dpid"
	wait_file "$T/ctl.sock" 10 || { cat "$T/smtpcertd.log"; fail "no control socket"; return 1; }
	local i=0
	while [ $i -lt 100 ]; do
		ctl show status 2>/dev/null | awk '$1 ~ /^(front|ldapd-helper|crld)$/ { n++; if ($3 == "running") r++ }
		        END { exit !(n >= 3 && r == n) }' && break
		sleep 0.1; i=$((i + 1))
	done
	ctl show status | tee "$T/status"
	grep -q "configuration $p/etc/smtpcertd/smtpcertd.conf," "$T/status" ||
	    fail "the default configuration is not the installed SYSCONFDIR's"
	for name in ldapd-helper crld front; do
		exe=$(readlink "/proc/$(child_pid "$name" | head -n 1)/exe")
		echo "$name: $exe"
		case $name in
		front) [ "$exe" = "$p/usr/sbin/smtpcertd" ] || fail "front runs $exe" ;;
		*) [ "$exe" = "$p/usr/libexec/smtpcertd/$name" ] || fail "$name runs $exe" ;;
		esac
		[ "$(awk '/^Uid:/ {print $2}' "/proc/$(child_pid "$name" | head -n 1)/status")" = \
		    "$(id -u "$user")" ] || fail "$name does not run as $user"
	done
}

run_test test_install_layout_as_documented
run_test test_install_substitutes_paths
run_test test_uninstall_removes_what_install_put
run_test test_installed_daemon_runs_installed_helpers
finish
