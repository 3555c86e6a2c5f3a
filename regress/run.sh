#!/bin/bash
# Runs the whole suite: every unit test binary, then every integration
# test script (regress/test_*.sh).  Each prints "ok - name" / "not ok -
# name" lines; this script counts them and ends with "N passed, N failed".
#
# Integration test files run JOBS at a time (default 3): they spend most
# of their time waiting on real daemons, not on the CPU, and each uses its
# own directory, random ports and only the PIDs it started.  A file's
# output is printed whole when it ends, with its wall time.
#
#	TESTS="test_daemon test_crl"	run only these files
#	JOBS=1				one file at a time
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
export BUILD
JOBS=${JOBS:-3}
RUNDIR=$(mktemp -d /tmp/smtpcertd-run.XXXXXX)
trap 'rm -rf "$RUNDIR"' EXIT

# run_one LABEL CMD...: output to $RUNDIR/LABEL.out, then printed.
run_one() {
	local label=$1; shift
	local out="$RUNDIR/$label.out" start=$SECONDS rc
	# Bounded: no single test file may hang the suite.
	timeout --kill-after=10 600 "$@" >"$out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && ! grep -q "^not ok" "$out"; then
		echo "not ok - $label exited $rc" >>"$out"
	fi
	{
		echo "# $label ($((SECONDS - start))s)"
		cat "$out"
	} >"$out.done"
	cat "$out.done"
}

for t in "$BUILD"/regress/t_*; do
	[ -x "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done

# The longest files start first, so that the last one to finish is a
# short one (a file of three minutes started last would add its three
# minutes to the suite's time); the rest in name order.
SLOW_FIRST="test_fuzz test_proxy_identity test_ldapd test_deb test_harness
test_proxy test_smtp_auth test_smtp_gateway test_fronts test_smtp_relay"
files=
for t in $SLOW_FIRST; do
	[ -f "$TOP/regress/$t.sh" ] && files="$files $TOP/regress/$t.sh"
done
for t in "$TOP"/regress/test_*.sh; do
	case " $files " in *" $t "*) ;; *) files="$files $t" ;; esac
done

running=0
for t in $files; do
	[ -f "$t" ] || continue
	if [ -n "${TESTS:-}" ] && ! echo " $TESTS " | grep -q " $(basename "$t" .sh) "; then
		continue
	fi
	# Files about packaging, scripts and the test tools themselves run
	# their C code no differently under the sanitizers: the line
	# "# run.sh: plain pass only" keeps them out of the SANITIZE=1 pass.
	if [ "${SANITIZE:-0}" = 1 ] && grep -q '^# run.sh: plain pass only' "$t"; then
		continue
	fi
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$(basename "$t")" bash "$t" &
	running=$((running + 1))
done
wait

passed=$(cat "$RUNDIR"/*.done 2>/dev/null | grep -c '^ok ')
failed=$(cat "$RUNDIR"/*.done 2>/dev/null | grep -c '^not ok ')
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
