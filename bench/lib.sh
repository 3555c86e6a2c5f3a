# shellcheck shell=bash disable=SC2034
# Set-up shared by the full-session benchmarks (bench/smtp.sh,
# bench/crl_sessions.sh); sourced, not run.  Everything on 127.0.0.1;
# everything started is recorded in $T/pids and killed by PID on exit.
#
#	bench_init TOOL...        check $BUILD/bench/TOOL, make the work
#	                          directory $T, install the cleanup trap
#	bench_backends            test PKI ($T/pki), slapd seeded with the test
#	                          users, bench/sink as the upstream; sets
#	                          LDAP_PORT SLAPD_PID SINK_PORT SINK_PID
#	bench_conf DIR MAXS CRLCHECK TLS_PORT [STLS_PORT [CRL-SOURCES]]
#	                          write DIR/smtpcertd.conf: the certificate-only
#	                          configuration of SPEC 3.2 (TLS required +
#	                          verify client-certificate + require
#	                          smtp-auth, certificate query against slapd,
#	                          relay to the sink, tls none); sets CONFNAME
#	bench_start DIR           smtpcertd -d on DIR/smtpcertd.conf, log in
#	                          DIR/smtpcertd.log; waits for the children
#	                          and the listener, then bench_use DIR
#	bench_use DIR             make DIR's daemon the measured one: sets
#	                          D_DIR D_PID FRONT_PID
#	bench_ctl DIR ARGS...     smtpcertctl on DIR's control socket
#	bench_warmup PORT N       N unmeasured sessions; fails if none worked
#	run_measured OUT CMD...   run CMD (smtp_load), sets the R_* figures
#	                          (see there) for the daemon of bench_use
#
# Knobs read here: BENCH_CONC (concurrency, default 32), BENCH_NOLDAP=1
# (no require smtp-auth, no auth-profile), BENCH_KEEP=1 (keep $T).
set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$(cd "$BENCH_DIR/.." && pwd)/$BUILD" ;; esac
export BUILD
BIN=$BUILD/bench

. "$BENCH_DIR/../regress/lib.sh"

HZ=$(getconf CLK_TCK)
C=${BENCH_CONC:-32}
IDLE_PID=""

bench_init() {
	local t
	for t in "$@"; do
		[ -x "$BIN/$t" ] ||
		    { echo "bench: $BIN/$t missing (make bench)" >&2; exit 1; }
	done
	T=$(mktemp -d /tmp/smtpcertd-bench.XXXXXX)
	chmod 0755 "$T"
	trap bench_cleanup EXIT
	trap 'exit 1' INT TERM
	# 2,000 sessions held open need descriptors in smtpcertd (inherited)
	# and in the load generator.
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || :
}

bench_cleanup() {
	local p i
	[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
	if [ -f "$T/pids" ]; then
		for p in $(cat "$T/pids"); do kill -TERM "$p" 2>/dev/null; done
		for p in $(cat "$T/pids"); do
			i=0
			while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
				sleep 0.1; i=$((i + 1))
			done
			kill -KILL "$p" 2>/dev/null
		done
	fi
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "bench: kept $T"
	else
		rm -rf "$T"
	fi
}

# --- helpers ---------------------------------------------------------------

# PID and every descendant (children of children included).
proc_tree() {
	local p=$1 c
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
		proc_tree "$c"
	done
}

# utime+stime in clock ticks of one process (0 if gone).
proc_ticks() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }' ||
	    echo 0
}

# Total ticks of a process tree, including children it has reaped.
tree_ticks() {
	local t=0 p v
	for p in $(proc_tree "$1"); do
		v=$(proc_ticks "$p")
		t=$((t + ${v:-0}))
	done
	v=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $14 + $15 }')
	echo $((t + ${v:-0}))
}

# rss_kb PID [FIELD]: a /proc/PID/status figure in KB (default VmRSS).
rss_kb() {
	awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ticks -> ms per item with two decimals: ms_per TICKS COUNT
ms_per() {
	awk -v t="$1" -v n="$2" -v hz="$HZ" \
	    'BEGIN { if (n > 0) printf "%.2f", t * 1000 / hz / n; else print "-" }'
}

# "PID NAME TICKS" for every process of the measured smtpcertd, named as
# in show status.
proc_snapshot() {
	local pid name
	: >"$1"
	for pid in $(proc_tree "$D_PID"); do
		if [ "$pid" = "$D_PID" ]; then
			name=parent
		else
			name=$(awk -v p="$pid" '$2 == p { print $1; exit }' "$D_DIR/status")
			[ -n "$name" ] || name=$(cat "/proc/$pid/comm" 2>/dev/null)
		fi
		echo "$pid ${name:-?} $(proc_ticks "$pid")" >>"$1"
	done
}

kv() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }

# --- set-up ---------------------------------------------------------------

bench_backends() {
	make_pki "$T/pki" >/dev/null || exit 1
	LDAP_PORT=$(free_port)
	start_slapd "$T/ldap" "$LDAP_PORT" "$T/pki" >/dev/null || exit 1
	seed_ldap "$T/ldap" "$LDAP_PORT" "$T/pki" >/dev/null || exit 1
	SLAPD_PID=$(cat "$T/ldap/slapd.ourpid")

	SINK_PORT=$(free_port)
	"$BIN/sink" -p "$SINK_PORT" -P "$T/sink.pid" >"$T/sink.out" 2>&1 &
	SINK_PID=$!
	track_pid "$SINK_PID"
	wait_port "$SINK_PORT" 10 || { echo "bench: sink did not start" >&2; exit 1; }

	printf 'gwpw\n' >"$T/ldap.pw"
	chmod 600 "$T/ldap.pw"
	mkdir -p "$T/empty"
	# BENCH_USER: whose certificate the load presents (alice: EC P-256;
	# randy: RSA 2048, like most smart cards).
	BUSER=${BENCH_USER:-alice}
	[ -f "$T/pki/$BUSER.crt" ] || { echo "bench: no certificate for $BUSER" >&2; exit 1; }
	# "EC P-256" / "RSA 2048" for the report
	BKEY=$(openssl x509 -in "$T/pki/$BUSER.crt" -noout -text |
	    awk '/Public Key Algorithm: id-ecPublicKey/ { t = "EC" }
	         /Public Key Algorithm: rsaEncryption/ { t = "RSA" }
	         /NIST CURVE:/ { c = $3 } /Public-Key: \(/ { b = substr($2, 2) }
	         END { print t " " (t == "EC" ? c : b) }')
	LOAD="$BIN/smtp_load -h 127.0.0.1 -C $T/pki/$BUSER.crt -K $T/pki/$BUSER.key -A $T/pki/chain.pem -f $BUSER@example.test -r bob@example.test -s 10240"
}

bench_conf() {
	local dir=$1 maxs=$2 check=$3 tport=$4 sport=${5:-} sources=${6:-}
	local auth req stls=""
	if [ -n "${BENCH_NOLDAP:-}" ]; then
		auth=""
		req=""
		CONFNAME="TLS required + verify client-certificate (no LDAP: BENCH_NOLDAP)"
	else
		auth='auth-profile "cac"'
		req="require smtp-auth"
		CONFNAME="certificate only: TLS required + verify + require smtp-auth, LDAP lookup"
	fi
	[ -n "$sport" ] && stls="listen on 127.0.0.1 port $sport starttls pki \"gw\" ca \"clients\" \\
	$auth policy \"CERTONLY\" relay \"sink\" limit max-sessions $maxs"
	mkdir -p "$dir"
	cat >"$dir/smtpcertd.conf" <<CONF
user "_smtpcertd"
chroot "$T/empty"
control socket "$dir/ctl.sock"
crl cache "$dir/crlcache"
crl-check inbound $check
limit max-sessions $maxs
# One front (issue 17's default is one per CPU): the figures are one
# front's CPU and memory (FRONT_PID); BENCH_FRONTS=N for more.
front processes ${BENCH_FRONTS:-1}
${BENCH_CONF:-}

pki "gw" cert "$T/pki/server.chain.pem" key "$T/pki/server.key"
ca "clients" file "$T/pki/chain.pem"
$sources

ldap "corp" {
	server "ldap://127.0.0.1:$LDAP_PORT"
	bind dn "cn=gw,ou=svc,dc=example,dc=test" password-file "$T/ldap.pw"
	base "ou=people,dc=example,dc=test"
	certificate query "cac" {
		filter "(&(objectClass=cacUser)(caccn={cn})(cacserial={sn}))"
		user-attribute "uid"
	}
}
auth-profile "cac" certificate ldap "corp" query "cac"

policy "CERTONLY" {
	tls required
	verify client-certificate
	$req
}

relay "sink" host "127.0.0.1" port $SINK_PORT tls none

listen on 127.0.0.1 port $tport tls pki "gw" ca "clients" \\
	$auth policy "CERTONLY" relay "sink" limit max-sessions $maxs
$stls
CONF
	# the listener's port, for bench_start
	echo "$tport" >"$dir/port"
}

bench_ctl() {
	local dir=$1
	shift
	"$SMTPCERTCTL" -s "$dir/ctl.sock" "$@"
}

bench_start() {
	local dir=$1 pid i=0
	"$SMTPCERTD" -n -f "$dir/smtpcertd.conf" >"$dir/check.out" 2>&1 ||
	    { cat "$dir/check.out" >&2; exit 1; }
	# Normal log level (one line per session event, as in production),
	# to a file: stderr in the foreground costs about what syslog would.
	"$SMTPCERTD" -d -f "$dir/smtpcertd.conf" >>"$dir/smtpcertd.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	echo "$pid" >"$dir/daemon.pid"
	wait_file "$dir/ctl.sock" 10 ||
	    { tail -n 30 "$dir/smtpcertd.log" >&2; exit 1; }
	# Every child running (one row per front with `front processes').
	while ! bench_ctl "$dir" show status 2>/dev/null | awk '
	    $1 ~ /^(front|ldapd-helper|crld)$/ { n++; if ($3 == "running") r++ }
	    END { exit !(n >= 3 && r == n) }' &&
	    [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	wait_port "$(cat "$dir/port")" 10 ||
	    { tail -n 30 "$dir/smtpcertd.log" >&2; exit 1; }
	sleep 0.5
	bench_ctl "$dir" show status >"$dir/status" 2>/dev/null
	bench_use "$dir"
}

bench_use() {
	D_DIR=$1
	D_PID=$(cat "$D_DIR/daemon.pid")
	# The first front (the only one unless `front processes').
	FRONT_PID=$(awk '$1 == "front" { print $2; exit }' "$D_DIR/status")
}

bench_warmup() {
	local port=$1 n=$2 out=$T/warm.out
	$LOAD -m smtp -t tls -p "$port" -n "$n" -c "$C" >"$out" 2>&1
	if [ -z "$(kv sessions_ok "$out")" ] || [ "$(kv sessions_ok "$out")" = 0 ]; then
		echo "bench: warm-up sessions all failed:" >&2
		cat "$out" >&2
		tail -n 20 "$D_DIR/smtpcertd.log" >&2
		exit 1
	fi
}

# run_measured OUTFILE SMTP_LOAD-ARGS...: measured run against the daemon
# of bench_use; sets R_OK R_ERR R_RATE R_P50 R_P99 R_CLI (client CPU ms),
# R_SRV R_LDAP R_SINK (ticks: all smtpcertd processes, slapd, sink) and
# R_PROCS ("name ms/session, ..." per smtpcertd process).
run_measured() {
	local out=$1 s0 s1 l0 l1 k0 k1
	shift
	s0=$(tree_ticks "$D_PID"); l0=$(proc_ticks "$SLAPD_PID"); k0=$(proc_ticks "$SINK_PID")
	proc_snapshot "$T/proc0"
	"$@" >"$out" 2>"$out.err"
	s1=$(tree_ticks "$D_PID"); l1=$(proc_ticks "$SLAPD_PID"); k1=$(proc_ticks "$SINK_PID")
	proc_snapshot "$T/proc1"
	R_OK=$(kv sessions_ok "$out"); R_ERR=$(kv errors "$out")
	R_RATE=$(kv rate "$out"); R_P50=$(kv p50_ms "$out"); R_P99=$(kv p99_ms "$out")
	R_CLI=$(kv client_cpu_ms "$out")
	R_SRV=$((s1 - s0)); R_LDAP=$((l1 - l0)); R_SINK=$((k1 - k0))
	R_PROCS=$(awk -v hz="$HZ" -v n="${R_OK:-0}" 'NR == FNR { t[$1] = $3; next }
	    { d = $3 - ($1 in t ? t[$1] : 0);
	      printf "%s%s %.2f", sep, $2, (n > 0 ? d * 1000 / hz / n : 0); sep = ", " }' \
	    "$T/proc0" "$T/proc1")
}
