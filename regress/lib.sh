# Shared shell helpers for integration tests.  A test file sources this,
# defines test_* functions and calls run_test for each.  Every test gets a
# fresh directory ($T) and a cleanup that kills only the PIDs it recorded
# with track_pid, even when the test fails.
#
#	. "$(dirname "$0")/lib.sh"
#	test_something() { ...; [ "$x" = y ] || fail "x is $x"; }
#	run_test test_something
#	finish

set -u
REGRESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$REGRESS/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
SMTPCERTD="$BUILD/smtpcertd"
SMTPCERTCTL="$BUILD/smtpcertctl"
export SMTPCERTD_LIBEXEC="$BUILD"
# A sanitizer build must not fail on leaks in short-lived test daemons'
# sandboxed children that cannot read /proc/self/maps at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
PY=/usr/bin/python3

_T_PIDS=""
T=""

fail() { echo "FAIL: $*" >&2; return 1; }

# A free TCP port on 127.0.0.1.  Ports come from 20000-32767, below the
# kernel's ephemeral range (32768-60999 on Linux), so that no client
# connection of a test running alongside can hold one as its source port;
# a port that cannot be bound now is skipped.  Inside a test, the port is
# also claimed (a file $PORT_CLAIMS/PORT created with noclobber, that is
# O_EXCL, so atomic) until the test ends, so test files running in
# parallel never get the same one.  Builtins only: a test takes a dozen
# ports, and the suite's CPU goes largely to starting processes.
PORT_CLAIMS=/tmp/smtpcertd-ports
mkdir -p "$PORT_CLAIMS" 2>/dev/null
# Claims left by a killed run expire after two hours (older runs made
# them as empty directories: -delete takes those too).
find "$PORT_CLAIMS" -mindepth 1 -maxdepth 1 -mmin +120 -delete 2>/dev/null

# A port is bindable when no TCP socket has it (any state, TIME_WAIT too):
# read from /proc/net/tcp{,6} (a match on a remote port only skips a free
# one), which costs a grep instead of a Python start-up per port; Python
# binds when /proc is not there.
_port_bindable() {
	if [ -r /proc/net/tcp ]; then
		local hex
		printf -v hex '%04X' "$1"
		! grep -q ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null
		return
	fi
	$PY -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

# _claim_port PORT: create the claim, failing when it exists.
_claim_port() {
	local rc noclobber=0
	case $- in *C*) noclobber=1 ;; esac
	set -C
	{ : >"$PORT_CLAIMS/$1"; } 2>/dev/null
	rc=$?
	[ "$noclobber" = 1 ] || set +C
	return "$rc"
}

free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
		if [ -n "${T:-}" ]; then
			_claim_port "$p" || continue
			echo "$p" >>"$T/.ports"
		fi
		_port_bindable "$p" && { echo "$p"; return 0; }
	done
	echo "free_port: no free port found" >&2
	return 1
}

# Give back the ports this test claimed.
_release_ports() {
	local p
	[ -f "$T/.ports" ] || return 0
	local claims=()
	while read -r p; do claims+=("$PORT_CLAIMS/$p"); done <"$T/.ports"
	[ ${#claims[@]} -eq 0 ] || rm -f "${claims[@]}"
}

# Wait up to $2 seconds (default 10) for a TCP port on 127.0.0.1 to accept.
wait_port() {
	local port=$1 limit=${2:-10} i=0
	while [ $i -lt $((limit * 10)) ]; do
		if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# Wait up to $2 seconds for a file to exist (e.g. a control socket).
wait_file() {
	local f=$1 limit=${2:-10} i=0
	while [ $i -lt $((limit * 10)) ]; do
		[ -e "$f" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# Wait up to $3 seconds for a regex to appear in a file.
wait_log() {
	local f=$1 re=$2 limit=${3:-10} i=0
	while [ $i -lt $((limit * 10)) ]; do
		grep -Eq -- "$re" "$f" 2>/dev/null && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# _is_zombie PID: its state in /proc/PID/stat (after the name in
# parentheses, which may hold spaces) is Z.  Builtins only.
_is_zombie() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st%% *}" = Z ]
}

_cleanup_pids() {
	local p
	for p in $_T_PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $_T_PIDS; do
		local i=0
		# A reparented child may linger as a zombie: that is gone too.
		while kill -0 "$p" 2>/dev/null && ! _is_zombie "$p" &&
		    [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$p" 2>/dev/null
	done
	_T_PIDS=""
}

_PASSED=0
_FAILED=0

run_test() {
	local name=$1 rc start=$SECONDS
	# ONLY=NAME[,NAME...]: run just those tests of the file.
	case ",${ONLY:-$name}," in *",$name,"*) ;; *) return 0 ;; esac
	T=$(mktemp -d /tmp/smtpcertd-test.XXXXXX)
	chmod 0755 "$T"
	( set -e; "$name" ) >"$T/test.out" 2>&1
	rc=$?
	_cleanup_pids
	# the subshell's tracked pids are written to $T/pids by track_pid_file
	if [ -f "$T/pids" ]; then
		_T_PIDS=$(cat "$T/pids"); _cleanup_pids
	fi
	_release_ports
	# A sanitizer report in any log of the test fails it, even if the
	# behaviour looked right.
	if [ $rc -eq 0 ] && grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" \
	    "$T"/*.log >/dev/null 2>&1; then
		grep -hE -A20 "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.log >>"$T/test.out"
		rc=1
	fi
	# TEST_TIMES=1: each test's wall time, to find the slow ones.
	[ -n "${TEST_TIMES:-}" ] && echo "# $name: $((SECONDS - start))s"
	if [ $rc -eq 0 ]; then
		echo "ok - $name"
		_PASSED=$((_PASSED + 1))
		rm -rf "$T"
	else
		echo "not ok - $name"
		sed 's/^/    # /' "$T/test.out" | tail -n 40
		_FAILED=$((_FAILED + 1))
		if [ -n "${KEEP_TEST_DIRS:-}" ]; then
			echo "    # kept $T"
		else
			rm -rf "$T"
		fi
	fi
}

# Tests run in a subshell, so track_pid there would be lost: record the
# PIDs in the test directory instead; run_test kills them afterwards.
track_pid() { echo "$1" >>"$T/pids"; }

finish() {
	[ $_FAILED -eq 0 ]
}
. "$REGRESS/lib/daemon.sh"
. "$REGRESS/lib/pki.sh"; . "$REGRESS/lib/slapd.sh"; . "$REGRESS/lib/upstream.sh"
