#!/bin/bash
# Memory and CPU after a burst (issue 17 item 2), run by bench/run.sh
# (`make bench`, or `bash bench/run.sh burst`).  Everything on 127.0.0.1;
# everything it starts is killed by PID at the end.  No assertions: it
# prints figures.
#
# Two smtpcertd daemons with the configuration of bench/smtp.sh share one
# slapd and one sink: "fresh" never sees a burst, "burst" does.  Then:
#   1. both are warmed up with BURST_WARMUP full sessions;
#   2. the burst daemon's front takes BURST_IDLE idle TLS sessions (TLS with
#      the client certificate, certificate lookup, EHLO), all held open,
#      then all closed: its VmRSS before, at the peak and after they closed
#      (once the front has closed every descriptor, and again after the
#      measured rounds);
#   3. BURST_ROUNDS rounds of BURST_SESSIONS full sessions (EHLO, 10 KB
#      message, QUIT) alternate between the fresh and the burst daemon, so
#      the machine's drift hits both alike: the front's CPU per session
#      (utime+stime from /proc/PID/stat) for each, median of the rounds;
#   4. p50 latency with one client at a time, BURST_LATENCY sessions on
#      each daemon.
#
# Knobs (environment):
#   BURST_IDLE       idle sessions of the burst          [10000, at most what
#                    the descriptor limit allows]
#   BURST_SESSIONS   full sessions per measured round    [1000]
#   BURST_ROUNDS     measured rounds per daemon          [3]
#   BURST_WARMUP     unmeasured sessions first           [200]
#   BURST_LATENCY    one-client sessions for p50 (0: skip) [200]
#   BURST_CYCLES     bursts in a row before measuring    [1]
#   BURST_PERF=1     perf record each front during the rounds and print
#                    the share of its samples in glibc malloc's internals
#                    (_int_malloc, _int_free, malloc_consolidate, ...)
#   BENCH_CONC, BENCH_USER, BENCH_NOLDAP, BENCH_KEEP, BENCH_CONF as in
#   bench/smtp.sh
set -u
. "$(dirname "$0")/lib.sh"

K=${BURST_IDLE:-10000}
N=${BURST_SESSIONS:-1000}
R=${BURST_ROUNDS:-3}
W=${BURST_WARMUP:-200}
L=${BURST_LATENCY:-200}
CY=${BURST_CYCLES:-1}

bench_init smtp_load sink

# Each held session costs one descriptor in the front and one in the load
# generator (separate processes, both inherit this limit); keep room for
# the rest.
NOFILE=$(ulimit -n)
if [ "$K" -gt $((NOFILE - 200)) ]; then
	K=$((NOFILE - 200))
	echo "== descriptor limit $NOFILE: burst of $K sessions"
fi

echo "== burst benchmark ($(nproc) CPUs, $(uname -r), work dir $T)"
bench_backends
A_PORT=$(free_port)
B_PORT=$(free_port)
bench_conf "$T/fresh" $((K + 1000)) no "$A_PORT"
bench_start "$T/fresh"
A_FRONT=$FRONT_PID
bench_conf "$T/burst" $((K + 1000)) no "$B_PORT"
bench_start "$T/burst"
B_FRONT=$FRONT_PID

echo "== warm-up: $W sessions each"
bench_use "$T/fresh"; bench_warmup "$A_PORT" "$W"
bench_use "$T/burst"; bench_warmup "$B_PORT" "$W"
sleep 1

nfds() { ls /proc/"$1"/fd 2>/dev/null | wc -l; }

RSS0=$(rss_kb "$B_FRONT")
A_RSS0=$(rss_kb "$A_FRONT")
FDS0=$(nfds "$B_FRONT")

# --- the burst -------------------------------------------------------------

PEAK=0
HELD=0
cy=0
while [ "$cy" -lt "$CY" ]; do
	cy=$((cy + 1))
	echo "== burst $cy/$CY: $K idle TLS sessions held open, then closed"
	rm -f "$T/idle.fifo"; mkfifo "$T/idle.fifo"
	$LOAD -m idle -t tls -p "$B_PORT" -k "$K" -c 64 -T 120 \
	    <"$T/idle.fifo" >"$T/idle.out" 2>&1 &
	IDLE_PID=$!
	exec 7>"$T/idle.fifo"	# hold the fifo open: EOF would end the run
	i=0
	while ! grep -q '^ready' "$T/idle.out" && [ $i -lt 3000 ]; do
		sleep 0.1; i=$((i + 1))
	done
	sleep 1
	P=$(rss_kb "$B_FRONT")
	[ "${P:-0}" -gt "$PEAK" ] && PEAK=$P
	HELD=$(sed -n 's/^ready held=\([0-9]*\).*/\1/p' "$T/idle.out")
	echo "   held ${HELD:-0}, front VmRSS $P KB"
	echo quit >&7; exec 7>&-
	wait "$IDLE_PID" 2>/dev/null; IDLE_PID=""
	grep '^error ' "$T/idle.out" | sed 's/^/   /'
	# the front has closed them all when its descriptors are back
	i=0
	while [ "$(nfds "$B_FRONT")" -gt $((FDS0 + 2)) ] && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
	sleep 1
done
RSS1=$(rss_kb "$B_FRONT")
echo "   closed: front VmRSS $RSS1 KB (before $RSS0 KB, peak $PEAK KB)"

# --- CPU per session, fresh and after the burst, alternated ----------------

# front_round DIR PORT FRONT: one measured round; prints front ms/session
front_round() {
	local t0 t1 out=$T/round.out perf="" share=-
	bench_use "$1"
	if [ -n "${BURST_PERF:-}" ]; then
		perf record -q -F 499 -p "$3" -o "$T/perf.data" >/dev/null 2>&1 &
		perf=$!
		sleep 0.5
	fi
	t0=$(proc_ticks "$3")
	run_measured "$out" $LOAD -m smtp -t tls -p "$2" -n "$N" -c "$C"
	t1=$(proc_ticks "$3")
	if [ -n "$perf" ]; then
		kill -INT "$perf"; wait "$perf" 2>/dev/null
		share=$(perf report -i "$T/perf.data" --no-children --sort sym \
		    --stdio -q 2>/dev/null | awk '$NF ~ /^(_int_malloc|_int_free|_int_realloc|malloc_consolidate|unlink_chunk|malloc|free|cfree|realloc|calloc|__libc_malloc|__libc_free|__libc_calloc|__libc_realloc|tcache_get|tcache_put)$/ {
		    sub("%", "", $1); t += $1 } END { printf "%.1f", t }')
	fi
	[ "${R_ERR:-0}" = 0 ] || grep '^error ' "$out" | sed 's/^/   /' >&2
	echo "$(ms_per $((t1 - t0)) "${R_OK:-0}") $(ms_per "$R_SRV" "${R_OK:-0}") ${R_RATE:-0} $share"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
          else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

A_MS="" B_MS="" A_ALL="" B_ALL="" A_MAL="" B_MAL=""
r=0
while [ "$r" -lt "$R" ]; do
	r=$((r + 1))
	set -- $(front_round "$T/fresh" "$A_PORT" "$A_FRONT")
	A_MS="$A_MS $1"; A_ALL="$A_ALL $2"; A_MAL="$A_MAL $4"
	set -- $(front_round "$T/burst" "$B_PORT" "$B_FRONT")
	B_MS="$B_MS $1"; B_ALL="$B_ALL $2"; B_MAL="$B_MAL $4"
	echo "== round $r/$R, $N sessions each: front ms/session fresh ${A_MS##* }, after the burst ${B_MS##* }"
done
RSS2=$(rss_kb "$B_FRONT")
A_RSS2=$(rss_kb "$A_FRONT")

# --- one client at a time --------------------------------------------------

A_P50=- B_P50=-
if [ "$L" -gt 0 ]; then
	echo "== one client at a time: $L sessions each"
	bench_use "$T/fresh"
	$LOAD -m smtp -t tls -p "$A_PORT" -n "$L" -c 1 >"$T/lat.out" 2>&1
	A_P50=$(kv p50_ms "$T/lat.out")
	bench_use "$T/burst"
	$LOAD -m smtp -t tls -p "$B_PORT" -n "$L" -c 1 >"$T/lat.out" 2>&1
	B_P50=$(kv p50_ms "$T/lat.out")
fi

AM=$(echo "$A_MS" | median)
BM=$(echo "$B_MS" | median)
cat <<EOF

smtpcertd burst benchmark — $(date -u +%Y-%m-%d) $(nproc) CPUs, loopback, TLS 1.3
client certificate: $BUSER, $BKEY; configuration: $CONFNAME
burst: ${HELD:-0} idle TLS sessions held at once ($CY burst(s)), then closed

front VmRSS, burst daemon:   before $RSS0 KB, peak $PEAK KB, after $RSS1 KB, after the rounds $RSS2 KB
  after / before:            $(awk -v a="$RSS1" -v b="$RSS0" 'BEGIN { printf "%.2f", a / b }')  (target <= 2)
  fresh daemon's front:      $A_RSS0 KB, after the rounds $A_RSS2 KB
front CPU ms per full session ($R rounds of $N, alternated, median):
  fresh front:               $AM  (rounds:$A_MS)
  after the burst:           $BM  (rounds:$B_MS)
  ratio after / fresh:       $(awk -v a="$BM" -v b="$AM" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')  (target within 1.10)
  all smtpcertd processes:   fresh$A_ALL; after the burst$B_ALL
p50 ms, one client at a time: fresh $A_P50, after the burst $B_P50
EOF
[ -n "${BURST_PERF:-}" ] && cat <<EOF
front samples in glibc malloc, % per round: fresh$A_MAL; after the burst$B_MAL
EOF
exit 0
