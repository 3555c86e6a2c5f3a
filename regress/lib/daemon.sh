# Helpers to run smtpcertd in tests: a minimal config in $T, the daemon in
# the foreground with its log in $T/smtpcertd.log, smtpcertctl on $T/ctl.sock.

# A self-signed key pair for the listener's pki (fast: EC P-256).
make_selfsigned() {
	local dir=$1
	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -subj "/CN=localhost" -days 2 \
	    -keyout "$dir/server.key" -out "$dir/server.crt" 2>/dev/null
	chmod 600 "$dir/server.key"
}

# write_minimal_conf FILE PORT: the smallest useful configuration.
write_minimal_conf() {
	local f=$1 port=$2
	mkdir -p "$T/empty" "$T/ss"
	[ -f "$T/ss/server.crt" ] || make_selfsigned "$T/ss"
	cat >"$f" <<CONF
# minimal test configuration
user "_smtpcertd"
chroot "$T/empty"
control socket "$T/ctl.sock"
crl cache "$T/crlcache"

pki "gw" cert "$T/ss/server.crt" key "$T/ss/server.key"
ca "roots" file "$T/ss/server.crt"

relay "mx" host "127.0.0.1" port 2525

policy "p" {
	tls preferred
}

listen on 127.0.0.1 port $port starttls pki "gw" policy "p" relay "mx"
CONF
}

# start_daemon CONF [extra args]: runs smtpcertd -d -v, records its PID in
# $T/daemon.pid, waits for the control socket.
start_daemon() {
	local conf=$1; shift
	"$SMTPCERTD" -d -v -f "$conf" "$@" >>"$T/smtpcertd.log" 2>&1 &
	local pid=$!
	track_pid "$pid"
	echo "$pid" >"$T/daemon.pid"
	wait_file "$T/ctl.sock" 10 || { cat "$T/smtpcertd.log"; fail "no control socket"; }
	# Every child reports ready (one row per front with `front
	# processes N').
	local i=0
	while [ $i -lt 100 ]; do
		if ctl show status 2>/dev/null | awk '
		    $1 ~ /^(front|ldapd-helper|crld)$/ { n++; if ($3 == "running") r++ }
		    END { exit !(n >= 3 && r == n) }'; then
			return 0
		fi
		sleep 0.1; i=$((i + 1))
	done
	cat "$T/smtpcertd.log"
	fail "children not running"
}

daemon_pid() { cat "$T/daemon.pid"; }

ctl() { "$SMTPCERTCTL" -s "$T/ctl.sock" "$@"; }

# PID of a child process by name, from smtpcertctl show status; for
# "front", every front's, one a line, front 0 first (`front processes').
child_pid() {
	ctl show status | awk -v n="$1" '$1 == n { print $2 }'
}

# The pids of the running fronts, one a line.
front_pids() {
	ctl show status | awk '$1 == "front" && $3 == "running" { print $2 }'
}

# counter NAME: one counter, from `smtpcertctl -j show stats'.
counter() {
	ctl -j show stats | $PY -c '
import json, sys
d = json.load(sys.stdin)["counters"]
for k in sys.argv[1].split("."):
    d = d[k]
print(d)
' "$1"
}

# counter_is NAME VALUE: the counter reaches VALUE (the front counts when it
# decides, which may be a moment after the client saw the answer).
counter_is() {
	local i=0 v=""
	while [ $i -lt 50 ]; do
		v=$(counter "$1") && [ "$v" = "$2" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	ctl show stats >&2
	fail "$1 is $v, want $2"
}
