#!/bin/bash
# The test command from README.md: installs what the build and the tests
# need (Debian 12, as root), builds, runs the whole suite plainly and with
# AddressSanitizer + UndefinedBehaviorSanitizer, and ends with one line
# "N passed, N failed" for both runs together.
#
#	PASSES="0"	only the plain run (the minimal-root CI stage)
set -u
cd "$(dirname "$0")/.."
bash scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
sh scripts/preflight.sh || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp /tmp/smtpcertd-tests.XXXXXX)
trap 'rm -f "$log"' EXIT
rc=0
for san in ${PASSES:-0 1}; do
	echo "=== make check SANITIZE=$san"
	# The fuzz targets (clang, their own sanitizers) once, with the
	# plain pass: regress/test_fuzz.sh runs them there.
	fz=; [ "$san" = 0 ] && fz=fuzz
	make -j"$(nproc)" SANITIZE=$san all units $fz >/dev/null || {
		make SANITIZE=$san all units $fz 2>&1 | tail -30
		echo "not ok - build SANITIZE=$san" | tee -a "$log"
		rc=1
		continue
	}
	make --no-print-directory check SANITIZE=$san 2>&1 | tee -a "$log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
done
passed=$(grep -c '^ok ' "$log")
failed=$(grep -c '^not ok ' "$log")
echo "$passed passed, $failed failed"
[ $rc -eq 0 ] && [ "$failed" -eq 0 ]
