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
#   BENCH_USER       client certificate: alice (EC P-256) or randy
#                    (RSA 2048)                    [alice]
#   BENCH_NOLDAP=1   policy without require smtp-auth and no auth-profile
#                    (for when ldapd-helper is unavailable)
#   BENCH_KEEP=1     keep the work directory (logs)
#   BENCH_CONF       more top-level configuration lines for smtpcertd
#                    (e.g. "tls session-cache 0")
set -u
. "$(dirname "$0")/lib.sh"

N=${BENCH_SESSIONS:-4000}
W=${BENCH_WARMUP:-300}
NS=${BENCH_STARTTLS:-$((N / 4))}
K=${BENCH_IDLE:-2000}

bench_init smtp_load sink tls_baseline

# --- set-up (bench/lib.sh) ------------------------------------------------

echo "== smtpcertd benchmark ($(nproc) CPUs, $(uname -r), work dir $T)"
bench_backends
TLS_PORT=$(free_port)
STLS_PORT=$(free_port)
# No CRL here, like the baseline: CRL costs are bench/crl*'s business.
bench_conf "$T/d" $((K + 1000)) no "$TLS_PORT" "$STLS_PORT"
bench_start "$T/d"

# --- 1. full sessions over implicit TLS -----------------------------------

echo "== configuration: $CONFNAME"
echo "== warm-up: $W sessions"
bench_warmup "$TLS_PORT" "$W"

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

smtpcertd benchmark — $(date -u +%Y-%m-%d) $(nproc) CPUs, loopback, TLS 1.3, server key EC P-256
client certificate: $BUSER, $BKEY
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
