#!/bin/bash
# run.sh: plain pass only (see regress/run.sh)
# The systemd unit, as `make install' installs it (DESTDIR=$T/root
# PREFIX=/usr):
#
#   - `systemd-analyze verify' has nothing to say about it;
#   - its lifecycle, as systemd would run it: systemd need not be PID 1
#     (it is not in the development container), so the test plays its
#     part.  The installed files are seen at their installed paths in a
#     private mount namespace (lib/sysroot.sh), set up as ProtectSystem=,
#     ReadWritePaths=, StateDirectory=, LogsDirectory= and PrivateTmp=
#     say; every Exec line of the unit runs there, verbatim, under the
#     unit's CapabilityBoundingSet= and NoNewPrivileges=; the start must
#     leave the PIDFile= behind, the reload must take effect (and a broken
#     configuration must fail it), and the stop (systemd's SIGTERM to the
#     main PID, KillMode=mixed, when there is no ExecStop=) must end
#     every process;
#   - every capability of CapabilityBoundingSet= is needed: without it
#     the daemon fails the way that capability's comment says.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/sysroot.sh"

UNIT=usr/lib/systemd/system/smtpcertd.service

# unit_get KEY: the values of KEY in the installed unit's [Service]
# section, one a line.
unit_get() {
	awk -v k="$1" '/^\[/ { sec = $0; next }
	    sec == "[Service]" && index($0, k "=") == 1 { print substr($0, length(k) + 2) }' \
	    "$SYSROOT/$UNIT"
}

# The CapabilityBoundingSet= of the unit as a setpriv argument.
unit_bounding_set() {
	local c set=-all
	for c in $(unit_get CapabilityBoundingSet); do
		c=$(echo "${c#CAP_}" | tr 'A-Z' 'a-z')
		set="$set,+$c"
	done
	echo "$set"
}

# unit_exec CMDLINE: one Exec line as systemd runs it in the service's
# sandbox: "-" prefix (failure ignored) honoured, $MAINPID substituted.
unit_exec() {
	local line=$1 ignore=0 nnp=""
	case $line in
	-*) ignore=1; line=${line#-} ;;
	esac
	case $line in
	[@+!:]*) fail "unit_exec: prefix of \"$line\" not emulated"; return 1 ;;
	esac
	line=${line//\$MAINPID/${MAINPID:-}}
	[ "$(unit_get NoNewPrivileges)" = yes ] && nnp=--no-new-privs
	echo "+ $line"
	# The unit's lines are plain words: no quoting to honour.
	# shellcheck disable=SC2086
	in_sysroot setpriv $nnp --bounding-set="$(unit_bounding_set)" \
	    --inh-caps=-all -- $line
	local rc=$?
	[ $ignore -eq 1 ] && return 0
	return $rc
}

# cap_names HEXMASK: "cap_chown,cap_kill,..." (sorted) for a CapBnd: mask;
# the names in bit order come from setpriv.
cap_names() {
	local mask=$((16#$1)) i=0 name out=""
	for name in $(setpriv --list-caps); do
		[ $(( (mask >> i) & 1 )) -eq 1 ] && out="$out cap_$name"
		i=$((i + 1))
	done
	echo $out | tr ' ' '\n' | sort | paste -sd,
}

# The paths the unit leaves writable under ProtectSystem=strict.
unit_rw_paths() {
	local d
	unit_get ReadWritePaths | tr ' ' '\n'
	for d in $(unit_get StateDirectory); do echo "/var/lib/$d"; done
	for d in $(unit_get LogsDirectory); do echo "/var/log/$d"; done
}

test_unit_verify_no_warnings() {
	command -v systemd-analyze >/dev/null ||
	    { echo "skip: no systemd-analyze (Debian package systemd)"; return 0; }
	sysroot_install || return 1
	local unit="$SYSROOT/$UNIT"
	[ -f "$unit" ] || { fail "no $UNIT installed"; return 1; }
	if sysroot_possible; then
		# As installed for real: /usr is the installed tree over the
		# system's, so ExecStart's /usr/sbin/smtpcertd exists and
		# man(1) finds the Documentation= pages in /usr/share/man.
		unshare --mount --propagation private sh -c "
		    mount -t overlay overlay -o lowerdir=$SYSROOT/usr:/usr /usr &&
		    systemd-analyze verify /$UNIT" >"$T/verify.out" 2>&1
	else
		# No namespaces: the same unit with the DESTDIR prefix put
		# before the installed programs, and the installed man pages
		# on MANPATH.
		echo "note: no mount namespace, verifying a prefixed copy"
		sed "s|=/usr/sbin/|=$SYSROOT/usr/sbin/|" "$unit" >"$T/smtpcertd.service"
		MANPATH="$SYSROOT/usr/share/man" \
		    systemd-analyze verify "$T/smtpcertd.service" >"$T/verify.out" 2>&1
	fi
	local rc=$?
	cat "$T/verify.out"
	[ $rc -eq 0 ] || fail "systemd-analyze verify exited $rc"
	[ ! -s "$T/verify.out" ] || fail "systemd-analyze verify is not silent"
	# The check can fail: an unknown setting is reported.
	sed 's/^\[Service\]$/[Service]\nFrobnicate=yes/' "$unit" >"$T/bad.service"
	MANPATH="$SYSROOT/usr/share/man" \
	    systemd-analyze verify "$T/bad.service" >"$T/bad.out" 2>&1 || true
	grep -q Frobnicate "$T/bad.out" ||
	    fail "systemd-analyze verify did not report an unknown key"
}

test_unit_lifecycle() {
	local port port2 line out pids p i gen
	getent passwd _smtpcertd >/dev/null || { echo "skip: no _smtpcertd user"; return 0; }
	sysroot_possible || { echo "skip: no mount namespaces here"; return 0; }
	sysroot_install || return 1
	[ "$(unit_get Type)" = forking ] || { fail "Type is not forking"; return 1; }
	[ "$(unit_get ProtectSystem)" = strict ] || fail "ProtectSystem is not strict"
	[ "$(unit_get PrivateTmp)" = yes ] || fail "PrivateTmp is not yes"
	[ "$(unit_get NoNewPrivileges)" = yes ] || fail "NoNewPrivileges is not yes"
	[ -n "$(unit_get ExecReload)" ] || fail "no ExecReload"
	unit_get ExecReload | grep -q smtpcertctl || fail "ExecReload is not smtpcertctl"
	port=$(free_priv_port)
	[ -n "$port" ] || { fail "no free port below 1024"; return 1; }
	sysroot_site_conf "$port"
	echo "writable: $(unit_rw_paths | tr '\n' ' ')"
	# shellcheck disable=SC2046
	sysroot_start strict $(unit_rw_paths) || return 1
	# The emulation holds: only the listed paths can be written.
	! in_sysroot sh -c ': >/var/lib/smtpcertd-probe' 2>/dev/null ||
	    fail "ProtectSystem emulation: /var/lib is writable"
	! in_sysroot sh -c ': >/etc/smtpcertd/probe' 2>/dev/null ||
	    fail "ProtectSystem emulation: /etc is writable"
	in_sysroot sh -c ': >/var/lib/smtpcertd/probe && rm /var/lib/smtpcertd/probe' ||
	    fail "ProtectSystem emulation: StateDirectory not writable"

	# Start: every ExecStartPre=, then ExecStart=, which returns when
	# the daemon is ready: the PID file is there at once.
	while read -r line; do
		unit_exec "$line" || { fail "ExecStartPre failed: $line"; return 1; }
	done < <(unit_get ExecStartPre)
	unit_exec "$(unit_get ExecStart)" || { fail "ExecStart failed"; return 1; }
	local pidfile; pidfile=$(unit_get PIDFile)
	MAINPID=$(in_sysroot cat "$pidfile") ||
	    { fail "no $pidfile after ExecStart returned"; return 1; }
	track_pid "$MAINPID"
	echo "MAINPID $MAINPID"
	# Read in the namespace: seen from outside it (CI's chroot), the
	# overlaid /usr has no name under our root.
	[ "$(in_sysroot readlink "/proc/$MAINPID/exe")" = /usr/sbin/smtpcertd ] ||
	    fail "main process is $(in_sysroot readlink "/proc/$MAINPID/exe")"
	grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$MAINPID/status" ||
	    fail "the parent runs without NoNewPrivs"
	local bnd want
	bnd=$(cap_names "$(awk '/^CapBnd:/ { print $2 }' "/proc/$MAINPID/status")")
	want=$(unit_get CapabilityBoundingSet | tr ' ' '\n' | tr 'A-Z' 'a-z' | sort | paste -sd,)
	echo "bounding set $bnd"
	[ "$bnd" = "$want" ] || fail "the parent's bounding set is $bnd, not $want"
	sysroot_wait_running || return 1
	pids=$(sysroot_child_pids)
	for p in $pids; do track_pid "$p"; done
	in_sysroot /usr/sbin/smtpcertctl show status | tee "$T/status"
	grep -q "^smtpcertd .*, pid $MAINPID," "$T/status" || fail "status is not from MAINPID"
	grep -Eq "^127\.0\.0\.1 +$port +smtp" "$T/status" || fail "not listening on $port"
	p=$(in_sysroot readlink "/proc/$(awk '$1 == "crld" { print $2 }' "$T/status")/exe")
	[ "$p" = /usr/libexec/smtpcertd/crld ] || fail "crld is $p, not the installed one"
	wait_port "$port" 5 || fail "port $port does not answer"

	# Reload: a second listener appears.
	port2=$(free_port)
	echo "listen on 127.0.0.1 port $port2 tls pki \"gw\" policy \"p\" relay \"mx\"" \
	    >>"$T/etc-site/smtpcertd/smtpcertd.conf"
	while read -r line; do
		unit_exec "$line" >"$T/reload.out" 2>&1 ||
		    { cat "$T/reload.out"; fail "ExecReload failed"; return 1; }
	done < <(unit_get ExecReload)
	cat "$T/reload.out"
	grep -q "generation 2" "$T/reload.out" || fail "reload did not load generation 2"
	wait_port "$port2" 5 || fail "the reloaded listener $port2 does not answer"
	in_sysroot /usr/sbin/smtpcertctl show status | grep -Eq "^127\.0\.0\.1 +$port2 +smtp" ||
	    fail "status lacks the new listener"
	# A broken configuration fails the reload (systemctl reload would
	# report it), with the error, and the daemon keeps generation 2.
	cp "$T/etc-site/smtpcertd/smtpcertd.conf" "$T/good.conf"
	echo "this is not a statement" >>"$T/etc-site/smtpcertd/smtpcertd.conf"
	if unit_exec "$(unit_get ExecReload | head -n 1)" >"$T/bad.out" 2>&1; then
		fail "ExecReload succeeded with a broken configuration"
	fi
	cat "$T/bad.out"
	grep -q "smtpcertd.conf:[0-9]*:" "$T/bad.out" || fail "no file:line error"
	cp "$T/good.conf" "$T/etc-site/smtpcertd/smtpcertd.conf"
	gen=$(in_sysroot /usr/sbin/smtpcertctl show status | sed -n 's/.*generation \([0-9]*\).*/\1/p' | head -n 1)
	[ "$gen" = 2 ] || fail "generation $gen after the refused reload"

	# Stop.
	if [ -n "$(unit_get ExecStop)" ]; then
		while read -r line; do
			unit_exec "$line" || fail "ExecStop failed: $line"
		done < <(unit_get ExecStop)
	else
		[ "$(unit_get KillMode)" = mixed ] || fail "KillMode is not mixed"
		kill -TERM "$MAINPID"
	fi
	i=0
	while [ $i -lt 200 ]; do
		local alive=""
		for p in $MAINPID $pids; do
			if kill -0 "$p" 2>/dev/null &&
			    [ "$(ps -o stat= -p "$p" 2>/dev/null | cut -c1)" != Z ]; then
				alive="$alive $p"
			fi
		done
		[ -z "$alive" ] && break
		sleep 0.1; i=$((i + 1))
	done
	[ -z "$alive" ] || { fail "still running after the stop:$alive"; return 1; }
	! in_sysroot test -e "$pidfile" || fail "$pidfile left behind"
	! in_sysroot test -e /run/smtpcertd.sock || fail "control socket left behind"
}

# start_with_caps SET CONF: smtpcertd in the foreground under the bounding
# set SET and no-new-privs; its PID in $DPID.
start_with_caps() {
	setpriv --no-new-privs --bounding-set="$1" --inh-caps=-all -- \
	    "$SMTPCERTD" -d -v -f "$2" >>"$T/smtpcertd.log" 2>&1 &
	DPID=$!
	track_pid "$DPID"
}

# wait_exit PID [SECONDS]: bounded wait for a process to end.
wait_exit() {
	local i=0 limit=$((${2:-10} * 10))
	while kill -0 "$1" 2>/dev/null &&
	    [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ] &&
	    [ $i -lt $limit ]; do
		sleep 0.1; i=$((i + 1))
	done
	! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]
}

# A stuck crld (stopped), then the daemon stopped: does the parent manage
# to kill it?  Prints "killed" or "survived"; kills it then if need be.
stuck_child_at_stop() {
	local set=$1 crld
	: >"$T/smtpcertd.log"
	rm -f "$T/ctl.sock"
	start_with_caps "$set" "$T/smtpcertd.conf"
	wait_file "$T/ctl.sock" 10 || { cat "$T/smtpcertd.log"; fail "no control socket"; return 1; }
	# Running: past its privilege drop, so a process of another user.
	local i=0
	while [ $i -lt 100 ]; do
		crld=$(ctl show status 2>/dev/null | awk '$1 == "crld" && $3 == "running" { print $2 }')
		[ -n "$crld" ] && break
		sleep 0.1; i=$((i + 1))
	done
	[ -n "$crld" ] || { fail "crld not running"; return 1; }
	track_pid "$crld"
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$crld/status")" = "$(id -u _smtpcertd)" ] ||
	    { fail "crld does not run as _smtpcertd"; return 1; }
	kill -STOP "$crld"
	kill -TERM "$DPID"
	wait_exit "$DPID" 20 || { fail "the daemon did not stop"; return 1; }
	if wait_exit "$crld" 2; then
		echo killed
	else
		echo survived
		kill -KILL "$crld"
	fi
	grep -E "crld did not exit|kill crld" "$T/smtpcertd.log" >&2 || true
}

test_unit_capabilities_each_needed() {
	local full caps c set port out
	getent passwd _smtpcertd >/dev/null || { echo "skip: no _smtpcertd user"; return 0; }
	sysroot_install || return 1
	full=$(unit_bounding_set)
	caps=$(unit_get CapabilityBoundingSet)
	[ -n "$caps" ] || { fail "no CapabilityBoundingSet"; return 1; }
	port=$(free_priv_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	# Group of the control socket: needs CAP_CHOWN as well.
	sed -i 's|^control socket .*|&\ncontrol group "_smtpcertd"|' "$T/smtpcertd.conf"

	# The whole set: runs, and kills a stuck child when stopping.
	out=$(stuck_child_at_stop "$full") || return 1
	echo "with $full: stuck crld $out"
	[ "$out" = killed ] || fail "a stuck child survived the stop with the unit's set"

	for c in $caps; do
		set=$(echo ",$full," | sed "s/,+$(echo "${c#CAP_}" | tr 'A-Z' 'a-z'),/,/; s/^,//; s/,$//")
		echo "--- without $c: $set"
		: >"$T/smtpcertd.log"
		rm -f "$T/ctl.sock"
		case $c in
		CAP_NET_BIND_SERVICE|CAP_CHOWN)
			start_with_caps "$set" "$T/smtpcertd.conf"
			wait_exit "$DPID" 10 || { fail "$c: the daemon started without it"; continue; }
			case $c in
			CAP_NET_BIND_SERVICE) re="cannot listen on 127.0.0.1 port $port: Permission denied" ;;
			CAP_CHOWN) re="chown .*: Operation not permitted" ;;
			esac
			;;
		CAP_SETUID|CAP_SETGID|CAP_SYS_CHROOT)
			start_with_caps "$set" "$T/smtpcertd.conf"
			case $c in
			CAP_SETUID) re="privdrop: setresuid: Operation not permitted" ;;
			CAP_SETGID) re="privdrop: setgroups: Operation not permitted" ;;
			CAP_SYS_CHROOT) re="privdrop: chroot .*: Operation not permitted" ;;
			esac
			wait_log "$T/smtpcertd.log" "$re" 10 || true
			kill -TERM "$DPID"; wait_exit "$DPID" 20 || true
			;;
		CAP_KILL)
			out=$(stuck_child_at_stop "$set") || return 1
			echo "stuck crld $out"
			[ "$out" = survived ] || fail "$c: not needed to kill a stuck child?"
			continue
			;;
		*)
			fail "$c is in the unit's set but this test has no check for it"
			continue
			;;
		esac
		grep -E -- "$re" "$T/smtpcertd.log" | head -n 2
		grep -Eq -- "$re" "$T/smtpcertd.log" || {
			tail -n 20 "$T/smtpcertd.log"
			fail "$c: no \"$re\" without it"
		}
	done
}

run_test test_unit_verify_no_warnings
run_test test_unit_lifecycle
run_test test_unit_capabilities_each_needed
finish
