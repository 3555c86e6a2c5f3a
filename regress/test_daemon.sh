#!/bin/bash
# The privilege-separated daemon: processes, users, sandboxes, control
# socket, reload, child restarts and shutdown.
. "$(dirname "$0")/lib.sh"

test_processes_with_users_and_sandboxes() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	local uid; uid=$(id -u _smtpcertd)
	local p name root seccomp u
	[ "$(awk '/^Uid:/ {print $2}' /proc/"$(daemon_pid)"/status)" = 0 ] ||
	    fail "parent not root"
	# Every front (one per CPU by default) like the others.
	for name in front keys ldapd-helper crld; do
	    [ -n "$(child_pid "$name")" ] || fail "no pid for $name"
	    for p in $(child_pid "$name"); do
		[ "$p" != "-" ] || fail "no pid for $name"
		u=$(awk '/^Uid:/ {print $2 " " $3 " " $4 " " $5}' /proc/"$p"/status)
		[ "$u" = "$uid $uid $uid $uid" ] || fail "$name uids $u"
		seccomp=$(awk '/^Seccomp:/ {print $2}' /proc/"$p"/status)
		[ "$seccomp" = 2 ] || fail "$name Seccomp: $seccomp"
		grep -q '^NoNewPrivs:[[:space:]]*1' /proc/"$p"/status ||
		    fail "$name NoNewPrivs not set"
		root=$(readlink /proc/"$p"/root)
		echo "$name pid $p uid $uid root $root seccomp $seccomp"
		if [ "$name" = front ] || [ "$name" = keys ]; then
			[ "$root" = "$T/empty" ] || fail "$name root $root"
		else
			[ "$root" = / ] || fail "$name root $root"
		fi
		# Children are exec'd, not just forked.
		[ "$(readlink /proc/"$p"/exe)" != "" ] || fail "$name exe"
	    done
	done
	[ "$(readlink /proc/"$(child_pid ldapd-helper)"/exe)" = "$BUILD/ldapd-helper" ] ||
	    fail "ldapd-helper is not its own program"
	[ "$(readlink /proc/"$(child_pid crld)"/exe)" = "$BUILD/crld" ] ||
	    fail "crld is not its own program"
}

test_show_status_text_and_json() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	ctl show status >"$T/st.txt"
	cat "$T/st.txt"
	grep -q "configuration $T/smtpcertd.conf, generation 1" "$T/st.txt" ||
	    fail "config line"
	grep -Eq "^127\.0\.0\.1 +$port +smtp +starttls" "$T/st.txt" ||
	    fail "listener line"
	grep -Eq "^[0-9]+ front processes \(the default: one per CPU, at most 16\)$" "$T/st.txt" ||
	    fail "front processes line"
	ctl -j show status >"$T/st.json"
	$PY -c '
import json,os,sys
d=json.load(open(sys.argv[1]))
names=sorted(p["name"] for p in d["processes"])
fronts=names.count("front")
assert fronts>=1 and names==["crld"]+["front"]*fronts+["keys","ldapd-helper","parent"], names
# The default: one front per CPU (at most 16), and status says so.
assert d["front_processes"]==fronts and d["front_processes_default"] is True, d
assert fronts==min(len(os.sched_getaffinity(0)), os.cpu_count(), 16), fronts
assert all(p["state"]=="running" and p["pid"]>0 for p in d["processes"])
assert d["listeners"][0]["port"]==int(sys.argv[2])
assert d["uptime"]>=0 and d["generation"]==1
' "$T/st.json" "$port" || fail "json status"
}

test_listener_socket_passed_to_front() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	# The parent bound it; the fronts (chrooted, unprivileged) accept,
	# each on a socket of its own.
	local fpid
	for fpid in $(child_pid front); do
		ls -l /proc/"$fpid"/fd | grep -q socket || fail "front $fpid holds no socket"
	done
	timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; head -c 3 <&3" >"$T/greet" ||
	    fail "no answer on $port"
	[ "$(cat "$T/greet")" != "" ] || fail "empty answer"
}

test_reload_by_ctl_and_sighup() {
	local port port2; port=$(free_port); port2=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	local fpid; fpid=$(child_pid front)
	echo "listen on 127.0.0.1 port $port2 tls pki \"gw\" policy \"p\" relay \"mx\"" >>"$T/smtpcertd.conf"
	ctl reload | grep -q "generation 2" || fail "reload reply"
	wait_port "$port2" 5 || fail "new listener $port2 not open"
	wait_port "$port" 5 || fail "old listener $port lost"
	ctl show status | grep -q "generation 2" || fail "generation"
	# Children acknowledged the new generation without restarting.
	ctl show status | awk '$1=="front"{print $6}' | grep -qx 2 ||
	    { sleep 1; ctl show status | awk '$1=="front"{print $6}' | grep -qx 2; } ||
	    fail "front did not load generation 2"
	[ "$(child_pid front)" = "$fpid" ] || fail "front restarted"
	kill -HUP "$(daemon_pid)"
	wait_log "$T/smtpcertd.log" "generation 3" 5 || fail "SIGHUP reload"
	ctl show status | grep -q "generation 3" || fail "generation 3"
}

test_broken_reload_refused_running_config_stays() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	cp "$T/smtpcertd.conf" "$T/good.conf"
	printf 'listen on 127.0.0.1 port %s pki "nosuch"\nthis is junk\n' "$port" >>"$T/smtpcertd.conf"
	if ctl reload >"$T/out" 2>&1; then fail "broken reload accepted"; fi
	cat "$T/out"
	grep -q "smtpcertd.conf:[0-9]*:" "$T/out" || fail "no file:line error in reply"
	ctl show status | grep -q "generation 1" || fail "generation changed"
	ctl show status | grep -q "refused" || fail "status does not show refusal"
	wait_port "$port" 5 || fail "listener lost"
	# A missing key file refuses the reload too.
	cp "$T/good.conf" "$T/smtpcertd.conf"
	sed -i "s|$T/ss/server.key|$T/ss/missing.key|" "$T/smtpcertd.conf"
	if ctl reload >"$T/out" 2>&1; then fail "reload with missing key accepted"; fi
	grep -q "missing.key" "$T/out" || fail "missing key not named"
	# And a fixed file loads again.
	cp "$T/good.conf" "$T/smtpcertd.conf"
	ctl reload | grep -q "generation" || fail "good reload after bad"
}

test_log_verbose_brief() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	ctl log brief | grep -q "logging brief" || fail "log brief"
	ctl show status | grep -q "^logging brief" || fail "status brief"
	wait_log "$T/smtpcertd.log" "crld\[[0-9]+\]: log level brief" 5 ||
	    fail "crld did not get log level"
	ctl log verbose | grep -q "logging verbose" || fail "log verbose"
	ctl show status | grep -q "^logging verbose" || fail "status verbose"
}

test_killed_child_is_restarted() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	local name old new i
	for name in ldapd-helper crld keys front; do
		# Front 0 if there are several: its row stays first.
		old=$(child_pid "$name" | head -n 1)
		kill -KILL "$old"
		i=0
		while [ $i -lt 50 ]; do
			new=$(child_pid "$name" | head -n 1)
			if [ -n "$new" ] && [ "$new" != "-" ] && [ "$new" != "$old" ] &&
			    ctl show status | awk -v n="$name" '$1==n{print $3}' | grep -qx running; then
				break
			fi
			sleep 0.1; i=$((i + 1))
		done
		[ $i -lt 50 ] || fail "$name not restarted"
		grep -q "$name (pid $old) terminated by signal 9" "$T/smtpcertd.log" ||
		    fail "death of $name not logged"
		[ "$(awk '/^Seccomp:/ {print $2}' /proc/"$new"/status)" = 2 ] ||
		    fail "restarted $name not sandboxed"
	done
	ctl show status | awk '$1=="crld"{print $5}' | grep -qx 1 || fail "restart count"
	# The restarted front still serves the listener.
	wait_port "$port" 5 || fail "listener after front restart"
}

test_child_that_keeps_dying_is_reported() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	mkdir "$T/libexec"
	ln -s "$BUILD/ldapd-helper" "$T/libexec/ldapd-helper"
	printf '#!/bin/sh\nexit 3\n' >"$T/libexec/crld"
	chmod 755 "$T/libexec/crld"
	SMTPCERTD_LIBEXEC="$T/libexec" "$SMTPCERTD" -d -f "$T/smtpcertd.conf" >>"$T/smtpcertd.log" 2>&1 &
	track_pid $!
	echo $! >"$T/daemon.pid"
	wait_log "$T/smtpcertd.log" "crld keeps dying" 40 || { cat "$T/smtpcertd.log"; fail "no flapping report"; }
	grep -q "crld (pid [0-9]*) exited with status 3" "$T/smtpcertd.log" || fail "exit status not logged"
	ctl show status | awk '$1=="crld"{print $3}' | grep -qx failing || fail "state not failing"
	# The rest keeps running.
	ctl show status | awk '$1=="front" && $3!="running"{b++} END{exit b}' || fail "front down"
}

test_sigterm_shuts_down_cleanly() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	local pids p i=0
	pids="$(daemon_pid) $(child_pid front) $(child_pid keys) $(child_pid ldapd-helper) $(child_pid crld)"
	kill -TERM "$(daemon_pid)"
	while [ $i -lt 100 ]; do
		local alive=0
		for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1; i=$((i + 1))
	done
	[ $i -lt 100 ] || fail "processes still alive"
	wait "$(daemon_pid)" 2>/dev/null; true
	[ ! -e "$T/ctl.sock" ] || fail "control socket left behind"
	grep -q "terminated" "$T/smtpcertd.log" || fail "no shutdown line"
	! grep -q "did not exit" "$T/smtpcertd.log" || fail "a child had to be killed"
	! grep -Eq "(front|keys|crld|ldapd-helper) \(pid" "$T/smtpcertd.log" || fail "children reported as crashed"
}

# A control client that sends garbage, an oversized or truncated message,
# the wrong version or no hello is dropped; the daemon stays up.
test_control_bad_clients_dropped() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	$PY - "$T/ctl.sock" <<'PYEOF' || fail "bad client script"
import socket, struct, sys, time
path = sys.argv[1]
HELLO = 12   # checked below against the name table via the reply
def conn():
    s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(path); return s
def closed(s):
    try:
        d = s.recv(65536)
        while d:
            d = s.recv(65536)
        return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
# 1. garbage
s = conn(); s.sendall(b"GET / HTTP/1.0\r\n\r\n" * 4); assert closed(s), "garbage"
# 2. oversized: header announcing 1 MiB
s = conn(); s.sendall(struct.pack("=IIIIQ", 1, 1 << 20, 0, 0, 0)); assert closed(s), "oversize"
# 3. length smaller than the header
s = conn(); s.sendall(struct.pack("=IIIIQ", 1, 4, 0, 0, 0)); assert closed(s), "undersize"
# 4. truncated: half a header, then close: nothing to wait for, just no crash
s = conn(); s.sendall(b"\x01\x00\x00"); s.close()
# 5. a request without hello
s = conn(); s.sendall(struct.pack("=IIIIQ", 9999, 24, 0, 0, 0)); assert closed(s), "no hello"
PYEOF
	# Wrong version, via a hello carrying 999.
	sleep 0.3
	grep -q "control client (uid 0): malformed message, dropping it" "$T/smtpcertd.log" ||
	    fail "malformed not logged"
	grep -q "no valid hello" "$T/smtpcertd.log" || fail "no-hello not logged"
	kill -0 "$(daemon_pid)" || fail "daemon died"
	ctl show status >/dev/null || fail "daemon no longer answers"
}

test_control_wrong_version_refused() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	local hello; hello=$(grep -n "X(IMSG_CTL_HELLO)" "$TOP/common/proto.h" >/dev/null && \
	    awk '/IMSG_TYPES\(X\)/{f=1;n=0;next} f && /X\(IMSG_/{n++; if ($0 ~ /X\(IMSG_CTL_HELLO\)/){print n; exit}}' "$TOP/common/proto.h")
	$PY - "$T/ctl.sock" "$hello" >"$T/out" <<'PYEOF' || fail "version script"
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(struct.pack("=IIIIQI", int(sys.argv[2]), 28, 0, 0, 0, 999))
data = b""
while True:
    d = s.recv(4096)
    if not d: break
    data += d
print(data[28:].decode(errors="replace"))
PYEOF
	grep -q "version mismatch" "$T/out" || { cat "$T/out"; fail "no version message"; }
	ctl show status >/dev/null || fail "daemon no longer answers"
}

test_control_socket_root_only() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	start_daemon "$T/smtpcertd.conf"
	[ "$(stat -c %a "$T/ctl.sock")" = 600 ] || fail "mode $(stat -c %a "$T/ctl.sock")"
	if setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$SMTPCERTCTL" -s "$T/ctl.sock" show status >"$T/out" 2>&1; then
		fail "nobody could use the control socket"
	fi
	grep -qi "permission denied" "$T/out" || { cat "$T/out"; fail "unexpected error"; }
}

test_control_group_member_allowed() {
	local port; port=$(free_port)
	getent group smtpcertd-testctl >/dev/null || groupadd --system smtpcertd-testctl
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	echo 'control group "smtpcertd-testctl"' >>"$T/smtpcertd.conf"
	start_daemon "$T/smtpcertd.conf"
	[ "$(stat -c '%a %G' "$T/ctl.sock")" = "660 smtpcertd-testctl" ] ||
	    fail "socket mode/group $(stat -c '%a %G' "$T/ctl.sock")"
	# A supplementary member gets in; a non-member does not.
	setpriv --reuid=nobody --regid=nogroup --groups=smtpcertd-testctl \
	    "$SMTPCERTCTL" -s "$T/ctl.sock" show status >"$T/out" 2>&1 ||
	    { cat "$T/out"; fail "group member refused"; }
	if setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$SMTPCERTCTL" -s "$T/ctl.sock" show status >/dev/null 2>&1; then
		fail "non-member allowed"
	fi
}

test_config_check_flags() {
	local port; port=$(free_port)
	write_minimal_conf "$T/smtpcertd.conf" "$port"
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" 2>"$T/err" || fail "-n on good file"
	grep -q "configuration OK" "$T/err" || fail "-n message"
	"$SMTPCERTD" -nv -f "$T/smtpcertd.conf" >"$T/printed" || fail "-nv"
	grep -q "listen on 127.0.0.1 port $port" "$T/printed" || fail "printout"
	# include is relative to the including file, not to the cwd.
	mkdir "$T/inc"
	grep -v '^listen' "$T/smtpcertd.conf" >"$T/inc/base.conf"
	printf 'include "base.conf"\nlisten on 127.0.0.1 port %s pki "gw" policy "p" relay "mx"\n' \
	    "$port" >"$T/inc/main.conf"
	(cd / && "$SMTPCERTD" -n -f "$T/inc/main.conf") || fail "relative include"
	printf 'junk here\nmore junk\n' >"$T/bad.conf"
	if "$SMTPCERTD" -n -f "$T/bad.conf" 2>"$T/err"; then fail "-n accepted junk"; fi
	grep -q "bad.conf:1:" "$T/err" || fail "line 1 error"
	grep -q "bad.conf:2:" "$T/err" || fail "all errors in one run"
}

run_test test_config_check_flags
run_test test_processes_with_users_and_sandboxes
run_test test_show_status_text_and_json
run_test test_listener_socket_passed_to_front
run_test test_reload_by_ctl_and_sighup
run_test test_broken_reload_refused_running_config_stays
run_test test_log_verbose_brief
run_test test_killed_child_is_restarted
run_test test_sigterm_shuts_down_cleanly
run_test test_control_bad_clients_dropped
run_test test_control_wrong_version_refused
run_test test_control_socket_root_only
run_test test_control_group_member_allowed
run_test test_child_that_keeps_dying_is_reported
finish
