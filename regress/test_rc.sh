#!/bin/bash
# run.sh: plain pass only (see regress/run.sh)
# The rc script, as `make install' installs it (DESTDIR=$T/root
# PREFIX=/usr, so /etc/init.d/smtpcertd with /usr/sbin/smtpcertd): run
# verbatim at its installed path in a private mount namespace where the
# installed tree is in place and /run is empty (lib/sysroot.sh), against a
# throwaway configuration in /etc/smtpcertd there.  start, status,
# reload (smtpcertctl), restart and stop with Debian's start-stop-daemon,
# and their exit codes (LSB: status 0 running, 3 stopped; start and stop
# idempotent; a start that fails fails).
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/sysroot.sh"

RC=/etc/init.d/smtpcertd
CONF="$T/etc-site/smtpcertd/smtpcertd.conf"

rc() { in_sysroot "$RC" "$@"; }

mainpid() { in_sysroot cat /run/smtpcertd.pid; }

# wait_gone PID...: bounded wait until none of them runs (zombies count
# as gone); prints those left.
wait_gone() {
	local i=0 p alive
	while :; do
		alive=""
		for p in "$@"; do
			if kill -0 "$p" 2>/dev/null &&
			    [ "$(ps -o stat= -p "$p" 2>/dev/null | cut -c1)" != Z ]; then
				alive="$alive $p"
			fi
		done
		[ -z "$alive" ] || [ $i -ge 200 ] && break
		sleep 0.1; i=$((i + 1))
	done
	echo "$alive"
	[ -z "$alive" ]
}

rc_setup() {
	getent passwd _smtpcertd >/dev/null || { echo "skip: no _smtpcertd user"; return 2; }
	sysroot_possible || { echo "skip: no mount namespaces here"; return 2; }
	command -v start-stop-daemon >/dev/null || { echo "skip: no start-stop-daemon"; return 2; }
	sysroot_install || return 1
	CONF="$T/etc-site/smtpcertd/smtpcertd.conf"
	PORT=$(free_priv_port)
	sysroot_site_conf "$PORT"
	sysroot_start || return 1
	in_sysroot test -x "$RC" || { fail "$RC not installed"; return 1; }
}

test_rc_start_status_reload_stop() {
	local rcv out pid pid2 pids port2 p
	rc_setup || { [ $? -eq 2 ] && return 0; return 1; }

	rcv=0; rc status >"$T/out" || rcv=$?
	cat "$T/out"
	[ $rcv -eq 3 ] || fail "status before start: exit $rcv, not 3"

	rc start || { fail "start failed"; return 1; }
	# start returned: the daemon is ready and its PID file is there.
	pid=$(mainpid) || { fail "no PID file after start"; return 1; }
	track_pid "$pid"
	rc status | tee "$T/out"
	grep -qx "smtpcertd is running (pid $pid)" "$T/out" || fail "status text"
	sysroot_wait_running || return 1
	pids=$(sysroot_child_pids)
	for p in $pids; do track_pid "$p"; done
	wait_port "$PORT" 5 || fail "port $PORT does not answer"
	# Started again: nothing happens, and that is success.
	rc start || fail "second start failed"
	[ "$(mainpid)" = "$pid" ] || fail "second start replaced the daemon"

	# reload through smtpcertctl: a second listener.
	port2=$(free_port)
	echo "listen on 127.0.0.1 port $port2 tls pki \"gw\" policy \"p\" relay \"mx\"" >>"$CONF"
	rc reload | tee "$T/out"
	grep -q "generation 2" "$T/out" || fail "reload did not load generation 2"
	wait_port "$port2" 5 || fail "reloaded listener $port2 does not answer"
	[ "$(mainpid)" = "$pid" ] || fail "reload replaced the daemon"
	# A broken file: reload fails and says why; generation 2 stays.
	cp "$CONF" "$T/good.conf"
	echo "listen on nowhere port" >>"$CONF"
	if rc reload >"$T/out" 2>&1; then fail "reload of a broken file succeeded"; fi
	cat "$T/out"
	grep -q "smtpcertd.conf:[0-9]*:" "$T/out" || fail "no file:line error"
	cp "$T/good.conf" "$CONF"
	in_sysroot /usr/sbin/smtpcertctl show status | grep -q "generation 2" ||
	    fail "generation changed by the refused reload"

	# restart: a new daemon, generation 1 again.
	rc restart || fail "restart failed"
	pid2=$(mainpid) || { fail "no PID file after restart"; return 1; }
	track_pid "$pid2"
	[ "$pid2" != "$pid" ] || fail "restart kept pid $pid"
	wait_gone "$pid" $pids >/dev/null || fail "old processes left after restart"
	sysroot_wait_running || return 1
	pids=$(sysroot_child_pids)
	for p in $pids; do track_pid "$p"; done
	in_sysroot /usr/sbin/smtpcertctl show status | grep -q "generation 1" ||
	    fail "restart did not start afresh"

	rc stop || fail "stop failed"
	out=$(wait_gone "$pid2" $pids) || fail "left after stop:$out"
	! in_sysroot test -e /run/smtpcertd.pid || fail "PID file left behind"
	rcv=0; rc status >/dev/null || rcv=$?
	[ $rcv -eq 3 ] || fail "status after stop: exit $rcv, not 3"
	rc stop || fail "stop when stopped is not success"
}

test_rc_failed_start_fails() {
	local rcv holder
	rc_setup || { [ $? -eq 2 ] && return 0; return 1; }
	# A configuration error: start fails before anything runs.
	cp "$CONF" "$T/good.conf"
	echo "nonsense" >>"$CONF"
	rcv=0; rc start >"$T/out" 2>&1 || rcv=$?
	cat "$T/out"
	[ $rcv -ne 0 ] || fail "start succeeded with a broken configuration"
	grep -q "smtpcertd.conf:[0-9]*:" "$T/out" || fail "no file:line error"
	cp "$T/good.conf" "$CONF"
	# The port taken by another program: the daemon cannot listen, and
	# since the start waits for it to be ready, start fails too.
	$PY -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); print("bound", flush=True); time.sleep(120)' \
	    "$PORT" >"$T/holder.out" 2>&1 &
	holder=$!
	track_pid "$holder"
	wait_log "$T/holder.out" bound 10 || { fail "could not hold port $PORT"; return 1; }
	rcv=0; rc start >"$T/out" 2>&1 || rcv=$?
	cat "$T/out"
	[ $rcv -ne 0 ] || fail "start succeeded with the port in use"
	rcv=0; rc status >/dev/null || rcv=$?
	[ $rcv -eq 3 ] || fail "status after the failed start: exit $rcv, not 3"
	kill "$holder"
}

run_test test_rc_start_status_reload_stop
run_test test_rc_failed_start_fails
finish
