#!/bin/bash
# run.sh: plain pass only (see regress/run.sh)
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

# The cases the demo prints: "# N. title", the command (one or more
# lines), "# => expected".  Writes $1/case-N.sh and $1/case-N.expect.
split_cases() {
	$PY - "$1/demo.out" "$1" <<'PY'
import re, sys
out, dirname = sys.argv[1], sys.argv[2]
n, cmd, count, expect = None, [], 0, None
for line in open(out):
    line = line.rstrip("\n")
    m = re.match(r"# (\d+)\. (.*)$", line)
    if m:
        n, cmd = m.group(1), []
        continue
    if n is None:
        continue
    if line.startswith("# => "):
        expect = line[5:]
        continue
    if expect is not None and line.startswith("#    "):
        expect += " " + line[5:]
        continue
    if expect is not None:
        open(f"{dirname}/case-{n}.sh", "w").write("\n".join(cmd) + "\n")
        open(f"{dirname}/case-{n}.expect", "w").write(expect + "\n")
        count += 1
        n, expect = None, None
        continue
    cmd.append(line)
print(count)
PY
}

# Each printed command, run as printed, gives the printed result: the
# SMTP reply, whether the upstream received a message, the log line; and
# README.md's table of the demo cases promises the same replies.
test_demo_printed_commands_give_documented_results() {
	local i n f num expect reply before after readme_row
	# Not local: the EXIT trap below runs after the function returned.
	DEMO_NO_BUILD=1 env --default-signal=INT setsid bash "$TOP/scripts/demo.sh" \
	    >"$T/demo.out" 2>&1 &
	pid=$!
	track_pid "$pid"
	i=0
	while [ $i -lt 300 ]; do
		grep -q "running smtpcertd in the foreground" "$T/demo.out" 2>/dev/null && break
		sleep 0.1; i=$((i + 1))
	done
	dir=$(sed -n 's/^== demo directory //p' "$T/demo.out")
	[ -n "$dir" ] || { cat "$T/demo.out"; fail "demo did not start"; return 1; }
	# Ctrl-C, as a user stops the demo, whatever happens; its clean-up
	# removes $dir.
	trap 'set +e; kill -INT -- "-$pid" 2>/dev/null; i=0; while [ -e "$dir" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; [ ! -e "$dir" ] || echo "FAIL: demo directory $dir left behind" >&2' EXIT
	wait_file "$dir/ctl.sock" 10 || { cat "$T/demo.out"; fail "smtpcertd did not start"; return 1; }
	# Ready: the control command the demo prints says all three children
	# run, and the front uses both CRLs (case 9 needs them).
	local ctlcmd; ctlcmd=$(sed -n 's/^  control  *//p' "$T/demo.out")
	[ -n "$ctlcmd" ] || { fail "no control command printed"; return 1; }
	i=0
	while [ $i -lt 100 ]; do
		$ctlcmd 2>/dev/null | awk '$1 ~ /^(front|ldapd-helper|crld)$/ { n++; if ($3 == "running") r++ }
		        END { exit !(n >= 3 && r == n) }' && break
		sleep 0.1; i=$((i + 1))
	done
	$ctlcmd | tee "$T/status"
	wait_log "$T/demo.out" "front.*revocation set [0-9]+ in use: 2 CRLs" 20 ||
	    { fail "the front never used both CRLs"; return 1; }

	n=$(split_cases "$T")
	echo "$n cases printed"
	[ "$n" -ge 9 ] || { fail "only $n cases printed"; return 1; }
	for f in "$T"/case-*.sh; do
		num=${f##*/case-}; num=${num%.sh}
		expect=$(cat "$T/case-$num.expect")
		echo "--- case $num: $expect"
		cat "$f"
		before=$(upstream_msg_count "$dir/upstream")
		timeout 60 bash "$f" >"$T/case-$num.out" 2>&1 || true
		after=$(upstream_msg_count "$dir/upstream")
		case $expect in
		[2-5][0-9][0-9]\ *)
			reply=${expect%% (*}
			grep -F -- "$reply" "$T/case-$num.out" ||
			    { tail -n 15 "$T/case-$num.out"; fail "case $num: no \"$reply\""; }
			;;
		"refused after the TLS handshake: "*)
			# The 554 is written just before the close; the front
			# drains what the client sent meanwhile (io_close), so
			# the client always reads it: the handshake, then no
			# success, then the 554.
			grep -q "^=== TLS started" "$T/case-$num.out" ||
			    { tail -n 15 "$T/case-$num.out"; fail "case $num: no TLS handshake"; }
			! sed -n '/^=== TLS started/,$p' "$T/case-$num.out" | grep -E '^<~ +[23][0-9][0-9] ' ||
			    fail "case $num: the gateway accepted a command after the handshake"
			reply=${expect#refused after the TLS handshake: }; reply=${reply%%, *}
			grep -Fq -- "$reply" "$T/case-$num.out" ||
			    { tail -n 15 "$T/case-$num.out"; fail "case $num: no \"$reply\""; }
			;;
		*)	fail "case $num: cannot check \"$expect\""; continue ;;
		esac
		case $expect in
		*"(relayed"*)
			[ "$after" -eq $((before + 1)) ] ||
			    fail "case $num: upstream has $after messages, expected $((before + 1))"
			;;
		*"nothing relayed"*)
			[ "$after" -eq "$before" ] || fail "case $num: a message reached the upstream"
			;;
		*)	fail "case $num: relayed or not?" ;;
		esac
		case $expect in
		*"log: "*)
			local logre=${expect##*log: }; logre=${logre%)}
			# A line of the daemon's log, not the printed text.
			wait_log "$T/demo.out" "^[^ ]* [a-z-]+\[[0-9]+\]: .*$logre" 10 ||
			    fail "case $num: no \"$logre\" in the gateway's log"
			;;
		esac
		# README.md's table row for the case promises the same.
		readme_row=$(awk -v n="$num" -F'|' '/^## The demo/ { on = 1 } on && $2 ~ "^ *" n " *$" { print; exit }' "$TOP/README.md")
		[ -n "$readme_row" ] || { fail "README.md has no row for demo case $num"; continue; }
		case $expect in
		[2-5][0-9][0-9]\ *) echo "$readme_row" | grep -q "| ${expect%% *}" ||
		    fail "README.md promises otherwise for case $num: $readme_row" ;;
		esac
		case $expect in
		"refused after"*) echo "$readme_row" | grep -q "refused after the TLS handshake" ||
		    fail "README.md promises otherwise for case $num: $readme_row" ;;
		esac
		case $expect in
		*"(relayed"*) echo "$readme_row" | grep -q "relayed" ||
		    fail "README.md does not say case $num is relayed: $readme_row" ;;
		esac
	done
}

test_demo_ctrl_c_cleans_up() { demo_signalled INT group; }
test_demo_terminated_cleans_up() { demo_signalled TERM script; }

run_test test_demo_starts_and_cleans_up
run_test test_demo_printed_commands_give_documented_results
run_test test_demo_ctrl_c_cleans_up
run_test test_demo_terminated_cleans_up
finish
