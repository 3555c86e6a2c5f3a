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

run_test test_demo_starts_and_cleans_up
finish
