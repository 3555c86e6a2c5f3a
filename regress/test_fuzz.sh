#!/bin/bash
# run.sh: plain pass only (see regress/run.sh)
# The fuzz stage of the test command (issue 16, README "Fuzzing"): every
# libFuzzer target of fuzz/ runs for a bounded time, two at a time, the
# whole stage within FUZZ_STAGE seconds (50 by default: about a minute
# and a quarter with the start-up of each target, which keeps the test
# command within its 20 minutes on 2 cores; the seed corpora, with every
# input that once failed, run whole each time), and any crash, leak, hang, memory
# blow-up or sanitizer report is a "not ok" line naming the target and
# where its input was kept.  The seed corpora hold every input that once
# failed, so each run is also a regression test of the fixes.
#
# It runs in the plain pass of `make check' only (the targets carry their
# own ASan + UBSan); the SANITIZE=1 pass prints nothing.  The binaries
# come from `make fuzz' (scripts/run-tests.sh builds them with the rest);
# run by hand, this builds what is missing first.
. "$(dirname "$0")/lib.sh"

if [ "${SANITIZE:-0}" = 1 ]; then
	echo "# fuzz stage: plain pass only"
	exit 0
fi
FUZZ_STAGE=${FUZZ_STAGE:-50}
O=${BUILD#"$TOP"/}
targets=()
for f in "$TOP"/fuzz/fuzz_*.c; do
	t=${f##*/fuzz_}
	targets+=("${t%.c}")
done
# Incremental: nothing to do when scripts/run-tests.sh built them.
if ! make -s -C "$TOP" -j2 O="$O" fuzz >"$BUILD/fuzz-build.log" 2>&1; then
	tail -20 "$BUILD/fuzz-build.log"
	echo "not ok - make fuzz"
	exit 0
fi
echo "ok - make fuzz (${#targets[@]} targets)"
secs=$((2 * FUZZ_STAGE / ${#targets[@]}))
[ "$secs" -lt 5 ] && secs=5
bash "$TOP/fuzz/run.sh" -t "$secs" -j 2 "${targets[@]}"
