#!/bin/bash
# `log file PATH' and `log facility NAME' (smtpcertd.conf(5), smtpcertd(8)
# LOGGING): the daemon, not in the foreground, writes the lines of every
# process -- the parent's own, the children's through their pipes -- as
# whole lines into the file; reopens it at reload and SIGHUP (logrotate);
# a restarted child keeps logging there.  Without the file, syslog gets
# every process's lines with the facility named.
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# The daemon as a service runs it: no -d, -p for its PID file; the
# starting process returns once it listens.  Trace everything (-v), so
# that each child has lines to log.
start_bg() {
	"$SMTPCERTD" -v -f "$T/smtpcertd.conf" -p "$T/smtpcertd.pid" \
	    >"$T/start.out" 2>&1 || { cat "$T/start.out"; fail "start"; return 1; }
	track_pid "$(cat "$T/smtpcertd.pid")"
	local i=0
	while [ $i -lt 100 ]; do
		if ctl show status 2>/dev/null | awk '$1 ~ /^(front|keys|ldapd-helper|crld)$/ { n++; if ($3 == "running") r++ } END { exit !(n >= 4 && r == n) }'; then
			return 0
		fi
		sleep 0.1; i=$((i + 1))
	done
	ctl show status
	fail "children not running"
}

# wait_in FILE ERE: up to 10 s for a line matching in FILE.
wait_in() {
	local i=0
	while [ $i -lt 100 ]; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1; i=$((i + 1))
	done
	fail "$1: no line /$2/"
}

# every_line_whole FILE: each line is one of ours, stamped and tagged,
# none a child's stray stderr.
every_line_whole() {
	local bad
	bad=$(grep -Evc "^$TS (parent|front|keys|ldapd-helper|crld)\[[0-9]+\]: " "$1" || :)
	[ "$bad" = 0 ] || { grep -Ev "^$TS (parent|front|keys|ldapd-helper|crld)\[[0-9]+\]: " "$1" | head; fail "$1: $bad lines not whole"; return 1; }
	# ASan's notes on the front's stack switches (sanitizer build) are
	# the one stderr output expected; they must arrive marked.
	local stray
	stray=$(grep "]: stderr: " "$1" | grep -Ev "]: stderr: (==[0-9]+==WARNING: ASan is ignoring requested __asan_handle_no_return|False positive error reports may follow|For details see https://github.com/google/sanitizers/issues/189)" || :)
	[ -z "$stray" ] || { echo "$stray" | head; fail "$1: stray stderr"; }
}

# A certificate session and a failed AUTH: front and ldapd-helper lines.
sessions() {
	smtp_swaks "$T/sw-$1" --tls $(swaks_cert alice) \
	    --from alice@example.test --to bob@example.test \
	    --header "Subject: logfile $1"
	swaks_delivered "$T/sw-$1"
	smtp_swaks "$T/sw-$1-bad" --tls --auth PLAIN --auth-user bob \
	    --auth-password wrongpw --from bob@example.test --to bob@example.test
	grep -Eq '^<~\*? +535' "$T/sw-$1-bad" || fail "wrong password not refused"
}

test_logfile_all_processes_reload_hup_restart() {
	smtp_env
	SMTP_GLOBAL="log file \"$T/gw.log\"
log facility local3" smtp_conf
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" || fail "-n"
	start_bg
	local gw=$T/gw.log p
	[ -f "$gw" ] || fail "no log file"
	# 0640, group adm where it exists (Debian), made by root.
	[ "$(stat -c %a "$gw")" = 640 ] || fail "mode $(stat -c %a "$gw")"
	if getent group adm >/dev/null; then
		[ "$(stat -c %G "$gw")" = adm ] || fail "group $(stat -c %G "$gw")"
	fi
	[ ! -s "$T/start.out" ] || { cat "$T/start.out"; fail "start said something"; }

	sessions one
	# Every process, each with the PID `show status' gives it.
	wait_in "$gw" "^$TS parent\[$(cat "$T/smtpcertd.pid")\]: smtpcertd .* started"
	for p in front keys ldapd-helper crld; do
		# Any of the fronts (one per CPU by default): the session
		# lines are of the one that took it.
		wait_in "$gw" "^$TS $p\[($(child_pid $p | paste -sd '|'))\]: "
	done
	wait_in "$gw" "^$TS front\[[0-9]+\]: session=[0-9a-f]+ event=end .*user=alice"
	wait_in "$gw" "^$TS front\[[0-9]+\]: session=[0-9a-f]+ event=auth .*result=\"bad credentials\""
	wait_in "$gw" "^$TS ldapd-helper\[[0-9]+\]: trace ldap: "
	wait_in "$gw" "^$TS crld\[[0-9]+\]: "
	every_line_whole "$gw"

	# logrotate: rename, then reload; the next lines go to a new file.
	mv "$gw" "$T/rot1.log"
	ctl reload | grep -q "reloaded" || fail "reload"
	wait_in "$gw" "^$TS parent\[[0-9]+\]: configuration reloaded"
	[ "$(stat -c %a "$gw")" = 640 ] || fail "new file mode"
	sessions two
	wait_in "$gw" "^$TS front\[[0-9]+\]: session=[0-9a-f]+ event=end .*user=alice"
	! grep -q "configuration reloaded" "$T/rot1.log" || fail "reload line in the old file"
	[ "$(grep -c "event=end .*user=alice" "$T/rot1.log")" = 1 ] || fail "old file got the new session"

	# And with SIGHUP (logrotate's postrotate).
	mv "$gw" "$T/rot2.log"
	kill -HUP "$(cat "$T/smtpcertd.pid")"
	wait_in "$gw" "^$TS parent\[[0-9]+\]: configuration reloaded"
	sessions three
	wait_in "$gw" "^$TS front\[[0-9]+\]: session=[0-9a-f]+ event=end .*user=alice"
	wait_in "$gw" "^$TS ldapd-helper\[[0-9]+\]: trace ldap: "

	# A child killed and restarted logs to the file too.
	local old new i=0
	old=$(child_pid ldapd-helper)
	kill -KILL "$old"
	wait_in "$gw" "^$TS parent\[[0-9]+\]: ldapd-helper \(pid $old\) terminated by signal 9"
	while [ $i -lt 100 ]; do
		new=$(child_pid ldapd-helper)
		[ -n "$new" ] && [ "$new" != "$old" ] &&
		    ctl show status | awk '$1 == "ldapd-helper" && $3 == "running"' | grep -q . && break
		sleep 0.1; i=$((i + 1))
	done
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "ldapd-helper not restarted"
	sessions four
	wait_in "$gw" "^$TS ldapd-helper\[$new\]: trace ldap: "
	every_line_whole "$gw"
	every_line_whole "$T/rot1.log"
	every_line_whole "$T/rot2.log"

	# Stopped: the children's last lines are in the file too.
	local ppid
	ppid=$(cat "$T/smtpcertd.pid")
	kill -TERM "$ppid"
	i=0
	while [ $i -lt 100 ] && kill -0 "$ppid" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	wait_in "$gw" "^$TS parent\[[0-9]+\]: terminated"
	wait_in "$gw" "^$TS front\[[0-9]+\]: .*exiting"
	every_line_whole "$gw"
	# Nothing was lost on the way.
	! grep -q "log lines\? dropped" "$gw" "$T"/rot*.log || fail "lines dropped"
}

# Start refuses a file it cannot open, on the terminal (not daemonized
# yet), and -n says so first; a missing directory is made, one level.
test_logfile_unopenable() {
	smtp_env
	SMTP_GLOBAL="log file \"$T/no/dir/gw.log\"" smtp_conf
	if "$SMTPCERTD" -n -f "$T/smtpcertd.conf" 2>"$T/n.err"; then
		fail "-n accepted a log file two missing directories down"
	fi
	grep -q "log file $T/no/dir/gw.log cannot be made: no directory $T/no/dir" "$T/n.err" ||
	    { cat "$T/n.err"; fail "-n message"; }
	if "$SMTPCERTD" -f "$T/smtpcertd.conf" -p "$T/smtpcertd.pid" 2>"$T/start.err"; then
		track_pid "$(cat "$T/smtpcertd.pid")"
		fail "started without its log file"
	fi
	grep -q "log file $T/no/dir/gw.log: No such file or directory" "$T/start.err" ||
	    { cat "$T/start.err"; fail "start message"; }
	[ ! -e "$T/no" ] || fail "made directories"
	# Not a regular file: a FIFO without a reader would block the parent.
	mkfifo "$T/fifo"
	SMTP_GLOBAL="log file \"$T/fifo\"" smtp_conf
	if "$SMTPCERTD" -n -f "$T/smtpcertd.conf" 2>"$T/n.err"; then
		fail "-n accepted a FIFO"
	fi
	grep -q "not a regular file" "$T/n.err" || { cat "$T/n.err"; fail "-n FIFO"; }
	if "$SMTPCERTD" -f "$T/smtpcertd.conf" -p "$T/smtpcertd.pid" 2>"$T/start.err"; then
		track_pid "$(cat "$T/smtpcertd.pid")"
		fail "started with a FIFO"
	fi
	grep -Eq "not a regular file|No such device or address" "$T/start.err" || { cat "$T/start.err"; fail "start FIFO"; }
	# One missing level: -n accepts it, start makes it (0750).
	SMTP_GLOBAL="log file \"$T/logs/gw.log\"" smtp_conf
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" || fail "-n, directory to make"
	start_bg
	[ "$(stat -c %a "$T/logs")" = 750 ] || fail "directory mode $(stat -c %a "$T/logs")"
	grep -q "log file: made directory $T/logs" "$T/start.out" ||
	    { cat "$T/start.out"; fail "mkdir not said"; }
	wait_in "$T/logs/gw.log" "^$TS front\[[0-9]+\]: "
}

# `log facility local3' without `log file': every process's syslog lines
# carry facility local3 (19).  /dev/log is a socket of ours on a private
# /dev in a mount namespace of the test's own.
test_log_facility_syslog() {
	if ! unshare --mount --propagation private true 2>/dev/null; then
		echo "skip: no mount namespaces"
		return 0
	fi
	smtp_env
	SMTP_GLOBAL="log facility local3" smtp_conf
	mkdir -p "$T/olddev"
	cat >"$T/syslogd.py" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
out = open(sys.argv[1], "a", buffering=1)
open(sys.argv[1] + ".ready", "w").close()
while True:
    out.write(s.recv(65536).decode("utf-8", "replace").rstrip("\n") + "\n")
EOF
	cat >"$T/ns.sh" <<EOF
set -e
mount --bind /dev "$T/olddev"
mount -t tmpfs -o mode=0755 tmpfs /dev
for n in null zero full random urandom; do
	touch /dev/\$n
	mount --bind "$T/olddev/\$n" /dev/\$n
done
$PY "$T/syslogd.py" "$T/syslog.txt" &
echo \$! >"$T/syslogd.pid"
for i in \$(seq 100); do [ -f "$T/syslog.txt.ready" ] && break; sleep 0.1; done
exec "$SMTPCERTD" -v -f "$T/smtpcertd.conf" -p "$T/smtpcertd.pid"
EOF
	unshare --mount --propagation private bash "$T/ns.sh" >"$T/ns.out" 2>&1 ||
	    { cat "$T/ns.out"; [ -f "$T/syslogd.pid" ] && track_pid "$(cat "$T/syslogd.pid")"; fail "start in namespace"; return 1; }
	track_pid "$(cat "$T/syslogd.pid")"
	track_pid "$(cat "$T/smtpcertd.pid")"
	sessions one
	local p i
	for p in parent front keys ldapd-helper crld; do
		i=0
		until grep -Eq "^<[0-9]+>.*smtpcertd\[[0-9]+\]: $p: " "$T/syslog.txt"; do
			[ $i -lt 100 ] || { cat "$T/syslog.txt"; fail "no syslog line of $p"; return 1; }
			sleep 0.1; i=$((i + 1))
		done
	done
	# Every line local3: the priority's facility part is 19.
	$PY - "$T/syslog.txt" <<'EOF' || fail "a facility other than local3"
import re, sys
n = 0
for l in open(sys.argv[1]):
    m = re.match(r"<(\d+)>", l)
    assert m, l
    assert int(m.group(1)) >> 3 == 19, l
    n += 1
assert n > 10, n
print(n, "lines, all local3")
EOF
	grep -Eq "front: session=[0-9a-f]+ event=end .*user=alice" "$T/syslog.txt" ||
	    fail "no session line in syslog"
}

run_test test_logfile_all_processes_reload_hup_restart
run_test test_logfile_unopenable
run_test test_log_facility_syslog
finish
