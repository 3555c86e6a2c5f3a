#!/bin/bash
# The README's demo command must keep working.
. "$(dirname "$0")/lib.sh"

test_demo_starts_and_cleans_up() {
	DEMO_CHECK=1 DEMO_NO_BUILD=1 bash "$TOP/scripts/demo.sh" >"$T/demo.out" 2>&1 ||
	    { cat "$T/demo.out"; fail "demo failed"; }
	cat "$T/demo.out"
	grep -q "^front .* running" "$T/demo.out" || fail "front not running"
	grep -q "^crld .* running" "$T/demo.out" || fail "crld not running"
	local dir; dir=$(sed -n 's/^== demo directory //p' "$T/demo.out")
	[ -n "$dir" ] && [ ! -e "$dir" ] || fail "demo directory $dir left behind"
}

# demo_signalled SIGNAL TARGET: start the demo, wait for smtpcertd, send
# SIGNAL to TARGET ("group": Ctrl-C in a terminal reaches the demo and
# everything it started; "script": only the script, as timeout(1) does),
# and check that the demo directory goes away all the same.
demo_signalled() {
	local sig=$1 target=$2 i=0 dir="" pid
	# A background job of a script starts with SIGINT ignored: give the
	# demo the default disposition a terminal would.
	DEMO_NO_BUILD=1 env --default-signal=INT setsid bash "$TOP/scripts/demo.sh" \
	    >"$T/demo.out" 2>&1 &
	pid=$!
	track_pid "$pid"
	while [ $i -lt 300 ]; do
		grep -q "running smtpcertd in the foreground" "$T/demo.out" 2>/dev/null && break
		sleep 0.1; i=$((i + 1))
	done
	dir=$(sed -n 's/^== demo directory //p' "$T/demo.out")
	[ -n "$dir" ] || { cat "$T/demo.out"; fail "demo did not start"; }
	wait_file "$dir/ctl.sock" 10 || fail "smtpcertd did not start"
	sleep 1
	if [ "$target" = group ]; then
		kill -"$sig" -- "-$pid"
	else
		kill -"$sig" "$pid"
	fi
	i=0
	while [ -e "$dir" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
	if [ -e "$dir" ]; then
		# Do the demo's clean-up ourselves, then fail.
		[ -f "$dir/pids" ] && kill $(cat "$dir/pids") 2>/dev/null
		sleep 1; rm -rf "$dir"
		fail "demo directory $dir left behind"
	fi
}

test_demo_ctrl_c_cleans_up() { demo_signalled INT group; }
test_demo_terminated_cleans_up() { demo_signalled TERM script; }

run_test test_demo_starts_and_cleans_up
run_test test_demo_ctrl_c_cleans_up
run_test test_demo_terminated_cleans_up
finish
