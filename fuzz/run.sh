#!/bin/bash
# Runs the libFuzzer targets built by `make fuzz' (README "Fuzzing").
#
#	bash fuzz/run.sh [-t SECONDS] [-j JOBS] [TARGET...]
#
# Each target (default: all, by the names of fuzz/fuzz_*.c without the
# prefix) runs for SECONDS (default 20) with its seed corpus
# fuzz/corpus/TARGET (read only: what it finds goes to a scratch corpus)
# and its dictionary fuzz/TARGET.dict if there is one, JOBS at a time
# (default 2).  Each prints one line, "ok - fuzz TARGET (N runs)" or
# "not ok - fuzz TARGET: WHAT", and a failure keeps the input that
# triggered it in $FUZZ_OUT/TARGET/ (default a directory under /tmp,
# printed) with the end of the report.  Bounds, so a finding is reported
# rather than hanging or swapping the machine: -timeout (one input may
# take at most FUZZ_TIMEOUT seconds, 25 by default: this machine is
# shared), -rss_limit_mb and -malloc_limit_mb (FUZZ_RSS_MB, 1024).
# Leaks (LeakSanitizer), ASan/UBSan reports, crashes, timeouts and
# out-of-memory all fail.
#
#	BUILD=build-san		where `make fuzz O=...' put the binaries
#	FUZZ_CORPUS_OUT=DIR	keep the grown corpora there (long runs)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
SECS=20
JOBS=2
while getopts t:j: o; do
	case $o in
	t) SECS=$OPTARG ;;
	j) JOBS=$OPTARG ;;
	*) echo "usage: fuzz/run.sh [-t SECONDS] [-j JOBS] [TARGET...]" >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -eq 0 ]; then
	set --
	for f in "$TOP"/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}
		set -- "$@" "${t%.c}"
	done
fi
OUT=${FUZZ_OUT:-$(mktemp -d /tmp/smtpcertd-fuzz.XXXXXX)}
mkdir -p "$OUT"
TIMEOUT=${FUZZ_TIMEOUT:-25}
RSS=${FUZZ_RSS_MB:-1024}

# fuzz_one TARGET: prints its ok / not ok line.
fuzz_one() {
	local t=$1 bin="$BUILD/fuzz/fuzz_$1" dir="$OUT/$1" log rc runs
	local dict=() corpus
	mkdir -p "$dir"
	log="$dir/log"
	if [ ! -x "$bin" ]; then
		: >"$dir/FAILED"
		echo "not ok - fuzz $t: $bin missing (make fuzz)"
		return
	fi
	[ -f "$TOP/fuzz/$t.dict" ] && dict=(-dict="$TOP/fuzz/$t.dict")
	corpus=${FUZZ_CORPUS_OUT:+$FUZZ_CORPUS_OUT/$t}
	corpus=${corpus:-$dir/corpus}
	mkdir -p "$corpus"
	# -close_fd_mask=3: the parsers' own error messages would flood the
	# log; libFuzzer and the sanitizers still report on a dup of stderr.
	"$bin" -max_total_time="$SECS" -timeout="$TIMEOUT" \
	    -rss_limit_mb="$RSS" -malloc_limit_mb="$RSS" -close_fd_mask=3 \
	    -print_final_stats=1 -artifact_prefix="$dir/" "${dict[@]}" \
	    "$corpus" "$TOP/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -eq 0 ] && ! grep -qE '^==[0-9]+==ERROR|runtime error:' "$log"; then
		echo "ok - fuzz $t (${runs:-?} runs in ${SECS}s)"
		[ -z "${FUZZ_CORPUS_OUT:-}" ] && rm -rf "$corpus"
		return
	fi
	: >"$dir/FAILED"
	echo "not ok - fuzz $t: exit $rc; input and log in $dir"
	grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error:|Test unit written' \
	    "$log" | head -5 | sed 's/^/#   /'
}

running=0
for t in "$@"; do
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	fuzz_one "$t" &
	running=$((running + 1))
done
wait
# A scratch directory goes when every target passed; else it holds the
# inputs and logs the "not ok" lines name.
[ -z "${FUZZ_OUT:-}" ] && ! ls "$OUT"/*/FAILED >/dev/null 2>&1 &&
    rm -rf "$OUT"
exit 0
