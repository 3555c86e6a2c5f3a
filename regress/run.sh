#!/bin/bash
# Runs the whole suite: every unit test binary, then every integration
# test script (regress/test_*.sh).  Each prints "ok - name" / "not ok -
# name" lines; this script counts them and ends with "N passed, N failed".
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
export BUILD
OUT=$(mktemp /tmp/smtpcertd-run.XXXXXX)
trap 'rm -f "$OUT"' EXIT
status=0

run_one() {
	local label=$1; shift
	echo "# $label"
	# Bounded: no single test file may hang the suite.
	timeout --kill-after=10 600 "$@" 2>&1 | tee -a "$OUT"
	local rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ] && ! grep -q "^not ok" "$OUT"; then
		echo "not ok - $label exited $rc" | tee -a "$OUT"
	fi
}

for t in "$BUILD"/regress/t_*; do
	[ -x "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done

for t in "$TOP"/regress/test_*.sh; do
	[ -f "$t" ] || continue
	if [ -n "${TESTS:-}" ] && ! echo " $TESTS " | grep -q " $(basename "$t" .sh) "; then
		continue
	fi
	run_one "$(basename "$t")" bash "$t"
done

passed=$(grep -c '^ok ' "$OUT")
failed=$(grep -c '^not ok ' "$OUT")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
