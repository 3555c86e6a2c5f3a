#!/bin/bash
# run.sh: plain pass only (see regress/run.sh): the layout is the sources', the same in both builds
# The source tree shows the process (issue 16, README "Source layout"),
# checked on the object files of the build by regress/lib/layout.py:
#   - no folder has an import circle of more than two files (a file uses
#     a function or global of another: nm's defined and undefined
#     symbols), so each folder reads top-down;
#   - every file of common/ is used by two or more processes (directly
#     or through other common/ files); one process's code lives in that
#     process's folder;
#   - every .c of the tree is in a process's folder or common/ (the
#     Makefile builds each program from its folders).
. "$(dirname "$0")/lib.sh"

LAYOUT="$PY $REGRESS/lib/layout.py $BUILD"

test_no_import_circle_over_two_files() {
	$LAYOUT circles >"$T/circles" 2>&1 || { cat "$T/circles"; fail "import circles"; }
	cat "$T/circles"
}

test_common_holds_only_shared_code() {
	$LAYOUT common >"$T/common" 2>&1 || { cat "$T/common"; fail "common/ files of one process"; }
	grep -q '^common/imsg: ' "$T/common" || fail "common/imsg not listed"
}

test_every_source_in_a_process_folder() {
	local f bad=
	cd "$TOP"
	for f in $(git ls-files '*.c' 2>/dev/null || find . -name '*.c'); do
		case $f in
		./*) f=${f#./} ;;
		esac
		case $f in
		smtpcertd/*.c|smtpcertd/front/*.c|smtpcertd/keys/*.c|\
		ldapd-helper/*.c|crld/*.c|smtpcertctl/*.c|common/*.c|\
		regress/*|fuzz/*|bench/*|build*/*) ;;
		*) bad="$bad $f" ;;
		esac
	done
	[ -z "$bad" ] || fail "sources outside the process folders:$bad"
	# the folders named in the README's layout table
	for f in smtpcertd/front smtpcertd/keys common ldapd-helper crld smtpcertctl; do
		grep -q "^| \`$f/\` |" "$TOP/README.md" || fail "README layout table lacks $f/"
	done
}

run_test test_no_import_circle_over_two_files
run_test test_common_holds_only_shared_code
run_test test_every_source_in_a_process_folder
finish
