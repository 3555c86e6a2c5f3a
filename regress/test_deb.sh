#!/bin/bash
# run.sh: plain pass only (see regress/run.sh)
# The Debian package (debian/): `dpkg-buildpackage -us -uc -b' builds it
# in a throwaway copy of the tree (never in the source tree), lintian
# finds no errors (its warnings are printed), the .deb holds README.md's
# `make install' layout, the control data and maintainer scripts do what
# debian/ says, and it installs, configures, removes and purges in a
# throwaway root: a private mount namespace whose /usr, /etc and /var are
# overlays on the machine's (writes go to the test directory; the machine
# is not touched) and whose /run is empty, as in a container without a
# running init.
. "$(dirname "$0")/lib.sh"

# Built once, shared by the tests of this file, removed at the end.
DEBDIR=$(mktemp -d /tmp/smtpcertd-deb.XXXXXX)
trap 'rm -rf "$DEBDIR"' EXIT
VERSION=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version 2>/dev/null)
ARCH=$(dpkg --print-architecture)
DEB="$DEBDIR/smtpcertd_${VERSION}_${ARCH}.deb"

need_tools() {
	local t
	for t in dpkg-buildpackage dh lintian fakeroot; do
		command -v "$t" >/dev/null ||
		    { fail "$t missing (scripts/deps.sh installs it)"; return 1; }
	done
}

# The tree as it is now (tracked and new files, not what .gitignore
# leaves out such as build/), or a plain copy without build products.
copy_tree() {
	local dst=$1
	mkdir -p "$dst"
	if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$TOP" ls-files -z --cached --others --exclude-standard |
		    (cd "$TOP" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _) |
		    tar -C "$TOP" --null -T - -cf - | tar -C "$dst" -xf -
	else
		tar -C "$TOP" --exclude=./build --exclude=./build-san \
		    --exclude=./debian/build --exclude=./debian/smtpcertd \
		    --exclude=./debian/.debhelper -cf - . | tar -C "$dst" -xf -
	fi
}

test_deb_builds_and_passes_lintian() {
	local src="$DEBDIR/smtpcertd-$VERSION" rc=0
	need_tools || return 1
	[ -n "$VERSION" ] || { fail "no version in debian/changelog"; return 1; }
	copy_tree "$src"
	[ -x "$src/debian/rules" ] || { fail "debian/rules missing or not executable"; return 1; }
	# -j2: the machine's two cores; no sanitizer, no test suite.
	(cd "$src" && dpkg-buildpackage -us -uc -b -j2) >"$T/build.log" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 30 "$T/build.log"
		fail "dpkg-buildpackage exited $rc"
		return 1
	fi
	grep -E '^dpkg-deb: building package' "$T/build.log"
	[ -f "$DEB" ] || { ls "$DEBDIR"; fail "no $DEB"; return 1; }
	# The build left the copied tree clean again except for debian/'s
	# own products.
	[ ! -e "$src/build" ] || fail "the package build used build/"

	# Hardening: the flags dpkg-buildflags gives, fortify included.
	grep -q -- '-D_FORTIFY_SOURCE=2 .*-Werror' "$T/build.log" ||
	    fail "the compiler did not get dpkg-buildflags' CPPFLAGS"
	grep -q -- '-Wl,-z,now' "$T/build.log" || fail "no -z now in the link"

	lintian --pedantic "$DEBDIR/smtpcertd_${VERSION}_${ARCH}.changes" \
	    >"$T/lintian.out" 2>&1 || true
	echo "lintian:"
	sed 's/^/  /' "$T/lintian.out"
	# lintian itself failing (no output at all but an error) is not a pass.
	! grep -q '^internal error\|^Unknown option\|^lintian: ' "$T/lintian.out" ||
	    fail "lintian did not run"
	if grep -q '^E: ' "$T/lintian.out"; then
		fail "lintian reports errors"
	fi
}

# The README's layout table as "path mode", $(PREFIX) = /usr, with what
# Debian changes: man pages compressed, the unit in /lib/systemd/system
# (debian/rules says why).
readme_layout_deb() {
	awk '
	    /^\| path \| mode \| what \|$/ { on = 1; next }
	    on && !/^\|/ { exit }
	    on && /^\| `/ {
		split($0, f, "|")
		p = f[2]; m = f[3]
		gsub(/[ `]/, "", p); gsub(/ /, "", m)
		sub(/^\$\(PREFIX\)/, "/usr", p)
		sub(/^\/usr\/lib\/systemd\//, "/lib/systemd/", p)
		if (p ~ /\/man\/man[0-9]\//) p = p ".gz"
		print p, m
	    }' "$TOP/README.md"
}

test_deb_contents_match_install_layout() {
	local want got line
	[ -f "$DEB" ] || { fail "no package built"; return 1; }
	dpkg-deb -c "$DEB" >"$T/contents"
	cat "$T/contents"
	# "path mode", directories with a trailing slash, as in the README.
	got=$(awk '{
		m = 0; s = substr($1, 2)
		for (i = 0; i < 9; i++) {
			c = substr(s, i + 1, 1)
			if (c != "-") m += 2 ^ (8 - i)
		}
		p = $6; sub(/^\./, "", p)
		printf "%s %04o\n", p, m
	    }' "$T/contents")
	want=$(readme_layout_deb)
	[ "$(echo "$want" | wc -l)" -ge 10 ] ||
	    { fail "could not read the layout table from README.md"; return 1; }
	while read -r line; do
		echo "$got" | grep -qxF -- "$line" ||
		    fail "not in the package (path mode): $line"
	done <<<"$want"
	# Everything is root's; the postinst hands the CRL cache over.
	awk '$2 != "root/root" { print; bad = 1 } END { exit bad }' "$T/contents" ||
	    fail "files not owned by root in the package"
	# Nothing from a build or the tests slipped in.
	! grep -E '/usr/local|/regress|/build/|\.o$' "$T/contents" ||
	    fail "unexpected files in the package"
	# No configuration: the site writes it, the unit waits for it.
	! echo "$got" | grep -q '^/etc/smtpcertd/smtpcertd.conf ' ||
	    fail "the package ships /etc/smtpcertd/smtpcertd.conf"
}

test_deb_control_and_scripts() {
	local c="$T/control" unit="$T/x/lib/systemd/system/smtpcertd.service"
	[ -f "$DEB" ] || { fail "no package built"; return 1; }
	dpkg-deb -I "$DEB" | tee "$T/info"
	dpkg-deb -e "$DEB" "$c"
	dpkg-deb -x "$DEB" "$T/x"
	# ${shlibs:Depends}: the libraries the programs link.
	local lib
	for lib in libtls libevent libldap libcurl libssl libseccomp libc6 adduser; do
		grep -q "^ Depends:.*\b$lib" "$T/info" || fail "Depends lacks $lib"
	done
	grep -q '^ Pre-Depends:.*init-system-helpers' "$T/info" ||
	    fail "no Pre-Depends on init-system-helpers (invoke-rc.d --skip-systemd-native)"
	for s in postinst prerm postrm; do
		[ -x "$c/$s" ] || fail "no $s in the package"
	done
	# Conffiles: the rc script and the example; never smtpcertd.conf.
	grep -qx /etc/init.d/smtpcertd "$c/conffiles" || fail "rc script not a conffile"
	grep -qx /etc/smtpcertd/smtpcertd.conf.example "$c/conffiles" ||
	    fail "example not a conffile"
	! grep -qx /etc/smtpcertd/smtpcertd.conf "$c/conffiles" ||
	    fail "smtpcertd.conf is a conffile"
	# postinst: the user, the cache, the unit enabled, the rc script
	# registered; the systemd start is there, the unit's condition
	# keeps it inactive until configured.
	grep -q 'adduser --system' "$c/postinst" || fail "postinst creates no system user"
	grep -q '_smtpcertd' "$c/postinst" || fail "postinst does not name _smtpcertd"
	grep -q 'chown .*CACHEDIR' "$c/postinst" || fail "postinst does not hand over the CRL cache"
	grep -q "deb-systemd-helper enable 'smtpcertd.service'" "$c/postinst" ||
	    fail "postinst does not enable the unit"
	grep -q 'update-rc.d smtpcertd defaults' "$c/postinst" ||
	    fail "postinst does not register the rc script"
	sh -n "$c/postinst" && sh -n "$c/postrm" && sh -n "$c/prerm" ||
	    fail "a maintainer script does not parse"
	grep -qx 'ConditionPathExists=/etc/smtpcertd/smtpcertd.conf' "$unit" ||
	    fail "the unit has no ConditionPathExists on the configuration"
	grep -qx 'ExecStart=/usr/sbin/smtpcertd -f /etc/smtpcertd/smtpcertd.conf -p /run/smtpcertd.pid' \
	    "$unit" || fail "unit ExecStart"
	grep -qx 'DAEMON=/usr/sbin/smtpcertd' "$T/x/etc/init.d/smtpcertd" || fail "rc DAEMON"
	# The programs look for their helpers where the package puts them.
	grep -aq /usr/libexec/smtpcertd "$T/x/usr/sbin/smtpcertd" ||
	    fail "smtpcertd not built with LIBEXECDIR=/usr/libexec/smtpcertd"
	! grep -aq /usr/local "$T/x/usr/sbin/smtpcertd" ||
	    fail "smtpcertd still names /usr/local"
	cmp -s "$T/x/etc/smtpcertd/smtpcertd.conf.example" "$TOP/etc/smtpcertd.conf" ||
	    fail "the example differs from etc/smtpcertd.conf"
	# Man pages installed with paths substituted.
	zcat "$T/x/usr/share/man/man8/smtpcertd.8.gz" | grep -q /usr/libexec/smtpcertd ||
	    fail "smtpcertd.8 does not name /usr/libexec/smtpcertd"
}

# --- install in a throwaway root ------------------------------------------

# deb_ns_start: a mount namespace (held by a sleeping process, $DEB_NS)
# with /usr, /etc and /var as overlays on the machine's, written to
# $T/up-*, and an empty /run.  /lib, /bin and /sbin are links into /usr
# on Debian 12, so they are covered too.
deb_ns_start() {
	local d script="set -e"
	[ -L /lib ] && [ -L /sbin ] && [ -L /bin ] ||
	    { echo "skip: not a merged-/usr system"; return 2; }
	for d in usr etc var; do
		mkdir -p "$T/up-$d" "$T/work-$d"
		script="$script
	mount -t overlay overlay -o lowerdir=/$d,upperdir=$T/up-$d,workdir=$T/work-$d /$d"
	done
	script="$script
	mount -t tmpfs -o mode=0755 tmpfs /run
	echo ready
	exec sleep 600"
	unshare --mount --propagation private bash -c "$script" >"$T/ns.out" 2>&1 &
	DEB_NS=$!
	track_pid "$DEB_NS"
	wait_log "$T/ns.out" '^ready$' 10 ||
	    { cat "$T/ns.out"; fail "could not set up the mount namespace"; return 1; }
}

in_ns() {
	# -r: the holder's root too.  Entering a mount namespace resets the
	# root to the namespace's, so inside a chroot (CI's minimal root)
	# a plain -m would run CMD on the machine outside it.
	nsenter -t "$DEB_NS" -m -r -- env -i \
	    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    LANG=C DEBIAN_FRONTEND=noninteractive "$@"
}

test_deb_install_remove_purge() {
	local pw st out rc
	[ -f "$DEB" ] || { fail "no package built"; return 1; }
	[ "$(id -u)" -eq 0 ] || { echo "skip: not root"; return 0; }
	command -v unshare >/dev/null && command -v nsenter >/dev/null ||
	    { echo "skip: no unshare/nsenter"; return 0; }
	rc=0; deb_ns_start || rc=$?
	[ $rc -eq 2 ] && return 0
	[ $rc -eq 0 ] || return 1

	# A machine that has never seen smtpcertd: no user, no files (the
	# development machine has both; gone in the namespace only).  A
	# policy-rc.d that records what the maintainer scripts would start
	# and starts nothing.
	in_ns sh -c '
		for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow; do
			[ -f "$f" ] || continue
			grep -v "^_smtpcertd:" "$f" >"$f.new" || true
			cat "$f.new" >"$f"; rm -f "$f.new"
		done
		rm -rf /etc/smtpcertd /etc/init.d/smtpcertd /var/cache/smtpcertd \
		    /var/lib/smtpcertd /lib/systemd/system/smtpcertd.service \
		    /usr/lib/systemd/system/smtpcertd.service
		printf "#!/bin/sh\necho \"\$*\" >>/run/policy-rc.d.log\nexit 101\n" \
		    >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d' || { fail "could not prepare the root"; return 1; }
	! in_ns getent passwd _smtpcertd >/dev/null || { fail "_smtpcertd still there"; return 1; }
	# The namespace's /usr is the overlay: its upper directory shows
	# what happens there; the machine's /usr does not change.
	in_ns dpkg -i "$DEB" >"$T/install.log" 2>&1 ||
	    { cat "$T/install.log"; fail "dpkg -i failed"; return 1; }
	cat "$T/install.log"
	[ ! -e /usr/sbin/smtpcertd ] || fail "the machine's /usr/sbin/smtpcertd appeared"
	in_ns dpkg-query -W -f='${Status}\n' smtpcertd | tee "$T/status"
	grep -qx 'install ok installed' "$T/status" || fail "not installed"

	# The user, as the daemon expects it (`user' default _smtpcertd).
	pw=$(in_ns getent passwd _smtpcertd) || { fail "postinst created no _smtpcertd"; return 1; }
	echo "$pw"
	[ "$(echo "$pw" | cut -d: -f3)" -lt 1000 ] || fail "_smtpcertd is not a system user"
	[ "$(echo "$pw" | cut -d: -f6)" = /nonexistent ] || fail "home is not /nonexistent"
	[ "$(echo "$pw" | cut -d: -f7)" = /usr/sbin/nologin ] || fail "shell is not nologin"
	in_ns getent group _smtpcertd >/dev/null || fail "no group _smtpcertd"
	st=$(in_ns stat -c '%U %G %a' /var/cache/smtpcertd)
	[ "$st" = "_smtpcertd _smtpcertd 700" ] || fail "CRL cache is $st"
	st=$(in_ns stat -c '%U %a' /var/lib/smtpcertd/empty)
	[ "$st" = "root 755" ] || fail "chroot is $st"

	# Enabled for systemd and for the rc script's runlevels...
	in_ns test -L /etc/systemd/system/multi-user.target.wants/smtpcertd.service ||
	    fail "the unit is not enabled"
	in_ns sh -c 'ls /etc/rc2.d/S*smtpcertd' || fail "the rc script is not registered"
	# ...asked to start (and nothing started: the policy said no)...
	in_ns cat /run/policy-rc.d.log 2>/dev/null | tee "$T/policy"
	grep -q '^smtpcertd .*start' "$T/policy" || fail "postinst did not ask to start smtpcertd"
	# ...but not configured: the unit's condition fails, the rc script
	# declines (and succeeds, so invoke-rc.d in postinst does not fail).
	local cond
	cond=$(in_ns sed -n 's/^ConditionPathExists=//p' /lib/systemd/system/smtpcertd.service)
	[ "$cond" = /etc/smtpcertd/smtpcertd.conf ] || fail "unit condition: $cond"
	if command -v systemd-analyze >/dev/null; then
		! in_ns systemd-analyze condition "ConditionPathExists=$cond" ||
		    fail "the unit's condition holds on a fresh install"
	fi
	for a in start restart; do
		out=$(in_ns /etc/init.d/smtpcertd $a 2>&1) || fail "rc $a failed unconfigured: $out"
		echo "rc $a: $out"
		echo "$out" | grep -q "not starting" || fail "rc $a did not say why it does not start"
	done
	in_ns test ! -e /run/smtpcertd.pid || fail "something started"
	# The installed smtpcertd runs and knows its compiled-in paths.
	in_ns /usr/sbin/smtpcertd -n -f /nonexistent.conf >"$T/n.out" 2>&1 && fail "-n on a missing file passed"
	cat "$T/n.out"
	# Once the site has a configuration, the condition holds.
	in_ns sh -c 'mkdir -p /etc/smtpcertd && : >/etc/smtpcertd/smtpcertd.conf'
	if command -v systemd-analyze >/dev/null; then
		in_ns systemd-analyze condition "ConditionPathExists=$cond" ||
		    fail "the unit's condition fails once configured"
	fi
	in_ns rm -f /etc/smtpcertd/smtpcertd.conf

	# Reinstall (the upgrade path: restart, not start).
	in_ns dpkg -i "$DEB" >"$T/reinstall.log" 2>&1 ||
	    { cat "$T/reinstall.log"; fail "reinstalling failed"; }
	in_ns sh -c 'echo x >/var/cache/smtpcertd/crl-test'

	in_ns dpkg --remove smtpcertd >"$T/remove.log" 2>&1 ||
	    { cat "$T/remove.log"; fail "dpkg --remove failed"; return 1; }
	in_ns test ! -e /usr/sbin/smtpcertd || fail "remove left /usr/sbin/smtpcertd"
	in_ns test -e /etc/init.d/smtpcertd || fail "remove took the conffile (only purge does)"
	in_ns test -e /var/cache/smtpcertd/crl-test || fail "remove took the CRL cache"
	in_ns dpkg --purge smtpcertd >"$T/purge.log" 2>&1 ||
	    { cat "$T/purge.log"; fail "dpkg --purge failed"; return 1; }
	cat "$T/purge.log"
	for f in /etc/init.d/smtpcertd /etc/smtpcertd /var/cache/smtpcertd \
	    /var/lib/smtpcertd /etc/systemd/system/multi-user.target.wants/smtpcertd.service \
	    /usr/libexec/smtpcertd; do
		in_ns test ! -e "$f" || fail "purge left $f"
	done
	! in_ns sh -c 'ls /etc/rc*.d/*smtpcertd' 2>/dev/null || fail "purge left rc links"
	# Debian leaves system users in place.
	in_ns getent passwd _smtpcertd >/dev/null || fail "purge removed the user"
}

run_test test_deb_builds_and_passes_lintian
run_test test_deb_contents_match_install_layout
run_test test_deb_control_and_scripts
run_test test_deb_install_remove_purge
finish
