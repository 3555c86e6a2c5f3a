#!/bin/bash
# SMTP session benchmark (run by bench/run.sh after `make bench` built the
# tools into $BUILD/bench/).  Everything on 127.0.0.1, everything it
# starts is killed by PID at the end.  No assertions: it prints figures.
#
# Set-up: a test PKI (regress/lib/pki.sh), a throwaway slapd seeded with
# the test users (regress/lib/slapd.sh), bench/sink as the upstream, and
# smtpcertd with the certificate-only configuration of SPEC 3.2 (TLS
# required + verify client-certificate + require smtp-auth; the
# certificate query runs against slapd; relay to the sink with tls none).
#
# Figures:
#   1. full sessions (implicit TLS): connect, TLS with alice's certificate,
#      EHLO, MAIL, RCPT, DATA with a 10 KB message, QUIT: sessions/s,
#      p50/p99 latency, errors, and server CPU ms per session summed over
#      ALL smtpcertd processes (parent, front, ldapd-helper, crld) from
#      /proc/PID/stat utime+stime;
#   2. the same over STARTTLS (fewer sessions);
#   3. bench/tls_baseline (handshake only, same key, same CA, client
#      certificate required) under the same handshake load: CPU ms per
#      handshake, and the ratio smtpcertd / baseline;
#   4. RSS per idle TLS session: the front's VmRSS before and after
#      BENCH_IDLE sessions (TLS + certificate lookup + EHLO) are held open.
#
# Knobs (environment):
#   BENCH_SESSIONS   full sessions measured        [4000]
#   BENCH_CONC       concurrency                   [32]
#   BENCH_WARMUP     unmeasured sessions first     [300]
#   BENCH_STARTTLS   STARTTLS sessions (0: skip)   [BENCH_SESSIONS / 4]
#   BENCH_IDLE       idle sessions for RSS (0: skip) [2000]
#   BENCH_NOLDAP=1   policy without require smtp-auth and no auth-profile
#                    (for when ldapd-helper is unavailable)
#   BENCH_KEEP=1     keep the work directory (logs)
set -u
TOPDIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOPDIR/$BUILD" ;; esac
export BUILD
BIN=$BUILD/bench
for t in smtp_load sink tls_baseline; do
	[ -x "$BIN/$t" ] || { echo "bench/smtp.sh: $BIN/$t missing (make bench)" >&2; exit 1; }
done

. "$TOPDIR/regress/lib.sh"

N=${BENCH_SESSIONS:-4000}
C=${BENCH_CONC:-32}
W=${BENCH_WARMUP:-300}
NS=${BENCH_STARTTLS:-$((N / 4))}
K=${BENCH_IDLE:-2000}
HZ=$(getconf CLK_TCK)

T=$(mktemp -d /tmp/smtpcertd-bench.XXXXXX)
chmod 0755 "$T"
IDLE_PID=""
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
trap bench_cleanup EXIT
trap 'exit 1' INT TERM

# 2,000 sessions held open need descriptors in smtpcertd (inherited) and
# in the load generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || :

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

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ticks -> ms per item with two decimals: ms_per TICKS COUNT
ms_per() {
	awk -v t="$1" -v n="$2" -v hz="$HZ" \
	    'BEGIN { if (n > 0) printf "%.2f", t * 1000 / hz / n; else print "-" }'
}

# "PID NAME TICKS" for every smtpcertd process, named as in show status.
proc_snapshot() {
	local pid name
	: >"$1"
	for pid in $(proc_tree "$D_PID"); do
		if [ "$pid" = "$D_PID" ]; then
			name=parent
		else
			name=$(awk -v p="$pid" '$2 == p { print $1; exit }' "$T/status")
			[ -n "$name" ] || name=$(cat "/proc/$pid/comm" 2>/dev/null)
		fi
		echo "$pid ${name:-?} $(proc_ticks "$pid")" >>"$1"
	done
}

kv() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }

# --- set-up ---------------------------------------------------------------

echo "== smtpcertd benchmark ($(nproc) CPUs, $(uname -r), work dir $T)"
make_pki "$T/pki" >/dev/null || exit 1
LDAP_PORT=$(free_port)
start_slapd "$T/ldap" "$LDAP_PORT" "$T/pki" >/dev/null || exit 1
seed_ldap "$T/ldap" "$LDAP_PORT" "$T/pki" >/dev/null || exit 1
SLAPD_PID=$(cat "$T/ldap/slapd.ourpid")

SINK_PORT=$(free_port)
"$BIN/sink" -p "$SINK_PORT" -P "$T/sink.pid" >"$T/sink.out" 2>&1 &
track_pid $!
SINK_PID=$!
wait_port "$SINK_PORT" 10 || { echo "bench: sink did not start" >&2; exit 1; }

TLS_PORT=$(free_port)
STLS_PORT=$(free_port)
printf 'gwpw\n' >"$T/ldap.pw"
chmod 600 "$T/ldap.pw"
mkdir -p "$T/empty"
MAXS=$((K + 1000))
if [ -n "${BENCH_NOLDAP:-}" ]; then
	AUTH=""
	REQ=""
	CONFNAME="TLS required + verify client-certificate (no LDAP: BENCH_NOLDAP)"
else
	AUTH='auth-profile "cac"'
	REQ="require smtp-auth"
	CONFNAME="certificate only: TLS required + verify + require smtp-auth, LDAP lookup"
fi
cat >"$T/smtpcertd.conf" <<CONF
user "_smtpcertd"
chroot "$T/empty"
control socket "$T/ctl.sock"
crl cache "$T/crlcache"
# No CRL here, like the baseline: CRL costs are bench/crl*'s business.
crl-check inbound no
limit max-sessions $MAXS

pki "gw" cert "$T/pki/server.chain.pem" key "$T/pki/server.key"
ca "clients" file "$T/pki/chain.pem"

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
	$REQ
}

relay "sink" host "127.0.0.1" port $SINK_PORT tls none

listen on 127.0.0.1 port $TLS_PORT tls pki "gw" ca "clients" \\
	$AUTH policy "CERTONLY" relay "sink" limit max-sessions $MAXS
listen on 127.0.0.1 port $STLS_PORT starttls pki "gw" ca "clients" \\
	$AUTH policy "CERTONLY" relay "sink" limit max-sessions $MAXS
CONF
"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/check.out" 2>&1 ||
    { cat "$T/check.out" >&2; exit 1; }
# Normal log level (one line per session event, as in production), to a
# file: stderr in the foreground costs about what syslog would.
"$SMTPCERTD" -d -f "$T/smtpcertd.conf" >>"$T/smtpcertd.log" 2>&1 &
D_PID=$!
track_pid "$D_PID"
echo "$D_PID" >"$T/daemon.pid"
wait_file "$T/ctl.sock" 10 || { tail -n 30 "$T/smtpcertd.log" >&2; exit 1; }
i=0
while [ "$(ctl show status 2>/dev/null | awk '$1 ~ /^(front|ldapd-helper|crld)$/ && $3 == "running"' | wc -l)" != 3 ] &&
    [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
wait_port "$TLS_PORT" 10 || { tail -n 30 "$T/smtpcertd.log" >&2; exit 1; }
sleep 0.5
ctl show status >"$T/status" 2>/dev/null
FRONT_PID=$(awk '$1 == "front" { print $2 }' "$T/status")

LOAD="$BIN/smtp_load -h 127.0.0.1 -C $T/pki/alice.crt -K $T/pki/alice.key -A $T/pki/chain.pem -f alice@example.test -r bob@example.test -s 10240"

# --- 1. full sessions over implicit TLS -----------------------------------

# run_smtp LABEL OUTFILE SMTP_LOAD-ARGS...: measured run; sets R_* figures
run_measured() {
	local out=$1 s0 s1 l0 l1 k0 k1 p0 p1 pid
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
	# per process: name ms/session
	R_PROCS=$(awk -v hz="$HZ" -v n="${R_OK:-0}" 'NR == FNR { t[$1] = $3; next }
	    { d = $3 - ($1 in t ? t[$1] : 0);
	      printf "%s%s %.2f", sep, $2, (n > 0 ? d * 1000 / hz / n : 0); sep = ", " }' \
	    "$T/proc0" "$T/proc1")
}

echo "== configuration: $CONFNAME"
echo "== warm-up: $W sessions"
$LOAD -m smtp -t tls -p "$TLS_PORT" -n "$W" -c "$C" >"$T/warm.out" 2>&1
if [ "$(kv sessions_ok "$T/warm.out")" = 0 ] || [ -z "$(kv sessions_ok "$T/warm.out")" ]; then
	echo "bench: warm-up sessions all failed:" >&2
	cat "$T/warm.out" >&2
	tail -n 20 "$T/smtpcertd.log" >&2
	exit 1
fi

echo "== full sessions, implicit TLS: $N sessions, concurrency $C"
run_measured "$T/smtp.out" $LOAD -m smtp -t tls -p "$TLS_PORT" -n "$N" -c "$C"
S_OK=$R_OK S_ERR=$R_ERR S_RATE=$R_RATE S_P50=$R_P50 S_P99=$R_P99
S_SRV=$R_SRV S_LDAP=$R_LDAP S_SINK=$R_SINK S_CLI=$R_CLI S_PROCS=$R_PROCS
S_MS=$(ms_per "$S_SRV" "$S_OK")
grep '^error ' "$T/smtp.out" | sed 's/^/   /'

if [ "$NS" -gt 0 ]; then
	echo "== full sessions, STARTTLS: $NS sessions, concurrency $C"
	run_measured "$T/stls.out" $LOAD -m smtp -t starttls -p "$STLS_PORT" -n "$NS" -c "$C"
	T_OK=$R_OK T_ERR=$R_ERR T_RATE=$R_RATE T_P50=$R_P50 T_P99=$R_P99
	T_MS=$(ms_per "$R_SRV" "$R_OK")
	grep '^error ' "$T/stls.out" | sed 's/^/   /'
fi

# --- 2. RSS per idle TLS session ------------------------------------------

if [ "$K" -gt 0 ]; then
	echo "== idle TLS sessions: $K held open (TLS + certificate lookup + EHLO)"
	rm -f "$T/idle.fifo"; mkfifo "$T/idle.fifo"
	RSS0=$(rss_kb "$FRONT_PID")
	$LOAD -m idle -t tls -p "$TLS_PORT" -k "$K" -c 64 <"$T/idle.fifo" >"$T/idle.out" 2>&1 &
	IDLE_PID=$!
	exec 7>"$T/idle.fifo"	# hold the fifo open: EOF would end the run
	i=0
	while ! grep -q '^ready' "$T/idle.out" && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
	sleep 1
	RSS1=$(rss_kb "$FRONT_PID")
	HELD=$(sed -n 's/^ready held=\([0-9]*\).*/\1/p' "$T/idle.out")
	SESS_NOW=$(ls /proc/"$FRONT_PID"/fd 2>/dev/null | wc -l)
	echo quit >&7; exec 7>&-
	wait "$IDLE_PID" 2>/dev/null; IDLE_PID=""
	grep '^error ' "$T/idle.out" | sed 's/^/   /'
	RSS_PER=$(awk -v a="$RSS0" -v b="$RSS1" -v n="${HELD:-0}" \
	    'BEGIN { if (n > 0) printf "%.1f", (b - a) / n; else print "-" }')
	sleep 1
fi

# --- 3. the baseline ------------------------------------------------------

BASE_PORT=$(free_port)
"$BIN/tls_baseline" -p "$BASE_PORT" -c "$T/pki/server.chain.pem" \
    -k "$T/pki/server.key" -A "$T/pki/chain.pem" >"$T/baseline.out" 2>&1 &
B_PID=$!
track_pid "$B_PID"
wait_port "$BASE_PORT" 10 || { echo "bench: tls_baseline did not start" >&2; exit 1; }
echo "== tls_baseline (handshake only): $N handshakes, concurrency $C"
$LOAD -m handshake -p "$BASE_PORT" -n "$W" -c "$C" >/dev/null 2>&1
b0=$(proc_ticks "$B_PID")
$LOAD -m handshake -p "$BASE_PORT" -n "$N" -c "$C" >"$T/hs.out" 2>"$T/hs.out.err"
b1=$(proc_ticks "$B_PID")
B_OK=$(kv sessions_ok "$T/hs.out"); B_ERR=$(kv errors "$T/hs.out")
B_RATE=$(kv rate "$T/hs.out"); B_P50=$(kv p50_ms "$T/hs.out"); B_P99=$(kv p99_ms "$T/hs.out")
B_MS=$(ms_per $((b1 - b0)) "$B_OK")
grep '^error ' "$T/hs.out" | sed 's/^/   /'

# smtpcertd against the same handshake-only load (what TLS alone costs it)
echo "== smtpcertd, handshake only (connect, TLS, close): $N, concurrency $C"
run_measured "$T/shs.out" $LOAD -m handshake -p "$TLS_PORT" -n "$N" -c "$C"
H_OK=$R_OK H_ERR=$R_ERR H_RATE=$R_RATE H_MS=$(ms_per "$R_SRV" "$R_OK")

RATIO=$(awk -v a="$S_MS" -v b="$B_MS" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')

# --- report ---------------------------------------------------------------

cat <<EOF

smtpcertd benchmark — $(date -u +%Y-%m-%d) $(nproc) CPUs, loopback, EC P-256, TLS 1.3
configuration: $CONFNAME
                                        sessions  errors   sess/s   p50 ms   p99 ms  server CPU ms/session
full session, implicit TLS, 10 KB msg   $(printf '%8s %7s %8s %8s %8s  %s' "$S_OK" "$S_ERR" "$S_RATE" "$S_P50" "$S_P99" "$S_MS")
EOF
[ "$NS" -gt 0 ] && printf '%-39s %8s %7s %8s %8s %8s  %s\n' \
    "full session, STARTTLS, 10 KB msg" "$T_OK" "$T_ERR" "$T_RATE" "$T_P50" "$T_P99" "$T_MS"
printf '%-39s %8s %7s %8s %8s %8s  %s\n' \
    "smtpcertd, TLS handshake only" "$H_OK" "$H_ERR" "$H_RATE" "-" "-" "$H_MS"
printf '%-39s %8s %7s %8s %8s %8s  %s\n' \
    "tls_baseline, TLS handshake only" "$B_OK" "$B_ERR" "$B_RATE" "$B_P50" "$B_P99" "$B_MS"
cat <<EOF

server CPU per full session / baseline handshake:   $RATIO  (target <= 1.2)
  smtpcertd processes, ms/session (implicit TLS run): $S_PROCS
  outside smtpcertd, ms/session: slapd $(ms_per "$S_LDAP" "$S_OK"), sink $(ms_per "$S_SINK" "$S_OK"), load generator $(awk -v c="$S_CLI" -v n="$S_OK" 'BEGIN { if (n > 0) printf "%.2f", c / n }')
EOF
if [ "$K" -gt 0 ]; then
	cat <<EOF
RSS per idle TLS session (front VmRSS):             $RSS_PER KB  (target <= 34 KB)
  $HELD sessions held; front VmRSS $RSS0 KB before, $RSS1 KB with them open; front fds then: $SESS_NOW
EOF
fi
exit 0
