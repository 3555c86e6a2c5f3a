# shellcheck shell=bash
# Helpers for the tests of `make install' and of what it installs (the
# systemd unit, the rc script): install into $T without touching build/
# or the system, and run the installed files at their installed paths in a
# private mount namespace -- "as if installed", and nowhere else.
#
#	sysroot_install			make install DESTDIR=$T/root PREFIX=/usr
#	sysroot_start [strict RWPATH...]	the namespace (see below)
#	in_sysroot CMD...		run CMD in it
#
# Sourced by the test files that need it, after lib.sh.

# SANITIZE must match the objects copied from $BUILD.
if [ -z "${SANITIZE:-}" ] && [ "$(basename "$BUILD")" = build-san ]; then
	SANITIZE=1
fi

# install_to LOG VAR=VALUE...: make install from a private copy of $BUILD
# (make O=$T/build): other tests keep running build/ while smtpcertd is
# rebuilt here for its compiled-in paths.
install_to() {
	local log=$1; shift
	if [ ! -d "$T/build" ]; then
		mkdir -p "$T/build"
		cp -a "$BUILD/." "$T/build/"
	fi
	make -C "$TOP" --no-print-directory SANITIZE="${SANITIZE:-}" \
	    O="$T/build" "$@" install >"$log" 2>&1 && return 0
	# The copy may have caught an object half written by a build running
	# at the same time: once more from scratch.
	rm -rf "$T/build"
	make -C "$TOP" --no-print-directory SANITIZE="${SANITIZE:-}" \
	    O="$T/build" "$@" install >"$log" 2>&1 ||
	    { tail -n 30 "$log"; fail "make install $* failed"; return 1; }
}

sysroot_install() {
	SYSROOT="$T/root"
	install_to "$T/install.log" PREFIX=/usr DESTDIR="$SYSROOT"
}

# Can this machine give a process its own mount namespace with overlays?
sysroot_possible() {
	[ "$(id -u)" -eq 0 ] || return 1
	command -v unshare >/dev/null && command -v nsenter >/dev/null || return 1
	mkdir -p "$T/probe/a" "$T/probe/m"
	unshare --mount --propagation private sh -c \
	    "mount -t overlay overlay -o lowerdir=$T/probe/a:/usr $T/probe/m" \
	    2>/dev/null
}

# sysroot_start [strict RWPATH...]: a mount namespace, held by a sleeping
# process ($SYSROOT_NS), in which
#	/usr	= the installed $SYSROOT/usr over the system's (read-only)
#	/etc	= $T/etc-site (the site's files: smtpcertd.conf, keys), over
#		  the installed $SYSROOT/etc, over the system's (read-only)
#	/var	= the installed $SYSROOT/var over the system's, writes going
#		  to $T/var-up
#	/run	= an empty tmpfs (the daemon's PID file and control socket)
#	/tmp	= an empty tmpfs (PrivateTmp=)
# With "strict", as systemd's ProtectSystem=strict: every mount read-only
# but the RWPATHs ("-PATH": only if it exists).
sysroot_start() {
	local strict=0 rw="" p script
	if [ "${1:-}" = strict ]; then
		strict=1; shift
		rw="$*"
	fi
	mkdir -p "$T/etc-site" "$T/var-up" "$T/var-work"
	script="set -e
	mount -t overlay overlay -o lowerdir=$SYSROOT/usr:/usr /usr
	mount -t overlay overlay -o lowerdir=$T/etc-site:$SYSROOT/etc:/etc /etc
	mount -t overlay overlay -o lowerdir=$SYSROOT/var:/var,upperdir=$T/var-up,workdir=$T/var-work /var
	mount -t tmpfs -o mode=0755 tmpfs /run
	mount -t tmpfs -o mode=1777 tmpfs /tmp
	"
	if [ $strict -eq 1 ]; then
		# What systemd creates (StateDirectory=...) exists first; then
		# everything read-only, then the writable paths bound onto
		# themselves and made writable again.
		for p in $rw; do
			case $p in
			-*) ;;
			*) script="$script
	mkdir -p $p" ;;
			esac
		done
		script="$script
	mount -o remount,bind,ro /
	mount -o remount,bind,ro /var
	mount -o remount,bind,ro /run"
		for p in $rw; do
			case $p in
			-*) p=${p#-}
			    script="$script
	if [ -d $p ]; then mount --bind $p $p; mount -o remount,bind,rw $p; fi" ;;
			*)  script="$script
	mount --bind $p $p; mount -o remount,bind,rw $p" ;;
			esac
		done
	fi
	script="$script
	echo ready
	exec sleep 600"
	unshare --mount --propagation private bash -c "$script" >"$T/ns.out" 2>&1 &
	SYSROOT_NS=$!
	track_pid "$SYSROOT_NS"
	wait_log "$T/ns.out" '^ready$' 10 ||
	    { cat "$T/ns.out"; fail "could not set up the mount namespace"; return 1; }
}

# in_sysroot CMD...: CMD in the namespace, with the clean environment a
# service gets from systemd or service(8) (no SMTPCERTD_LIBEXEC: the
# installed smtpcertd must find the installed helpers by itself), but the
# sanitizer options of the tests.
in_sysroot() {
	# -r: the holder's root too.  Entering a mount namespace resets the
	# root to the namespace's, so inside a chroot (CI's minimal root)
	# a plain -m would run CMD on the machine outside it.
	nsenter -t "$SYSROOT_NS" -m -r -- env -i \
	    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    LANG=C ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
	    sh -c 'cd / && exec "$@"' in_sysroot "$@"
}

# A free TCP port below 1024 on 127.0.0.1 (the daemon needs
# CAP_NET_BIND_SERVICE for it, as for 465 and 587).
free_priv_port() {
	$PY -c '
import random, socket
for p in random.sample(range(600, 1024), 424):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
'
}

# sysroot_site_conf PORT: a throwaway site configuration in $T/etc-site
# (= /etc/smtpcertd in the namespace) that uses the daemon's defaults for
# user, chroot, control socket and CRL cache, and listens on PORT.
sysroot_site_conf() {
	local port=$1 d="$T/etc-site/smtpcertd"
	mkdir -p "$d"
	make_selfsigned "$d/ss"
	mv "$d/ss/server.crt" "$d/gw.crt"; mv "$d/ss/server.key" "$d/gw.key"
	rmdir "$d/ss"
	cat >"$d/smtpcertd.conf" <<CONF
# throwaway site configuration: the defaults but the listener
pki "gw" cert "/etc/smtpcertd/gw.crt" key "/etc/smtpcertd/gw.key"
relay "mx" host "127.0.0.1" port 2525 tls none
policy "p" {
	tls preferred
}
listen on 127.0.0.1 port $port starttls pki "gw" policy "p" relay "mx"
CONF
}

# The PIDs of the daemon's children, from smtpcertctl in the namespace.
sysroot_child_pids() {
	in_sysroot /usr/sbin/smtpcertctl show status 2>/dev/null |
	    awk '$1 ~ /^(front|ldapd-helper|crld)$/ && $2 ~ /^[0-9]+$/ { print $2 }'
}

# sysroot_wait_running: all three children running (bounded).
sysroot_wait_running() {
	local i=0
	while [ $i -lt 100 ]; do
		if in_sysroot /usr/sbin/smtpcertctl show status 2>/dev/null |
		    awk '$1 ~ /^(front|ldapd-helper|crld)$/ { n++; if ($3 == "running") r++ }
		        END { exit !(n >= 3 && r == n) }'; then
			return 0
		fi
		sleep 0.1; i=$((i + 1))
	done
	in_sysroot /usr/sbin/smtpcertctl show status
	fail "children not running"
}
