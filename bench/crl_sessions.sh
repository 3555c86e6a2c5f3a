#!/bin/bash
# Full SMTP sessions with CRL checking at DoD scale (issue 5), run by
# bench/run.sh crl after `make bench`.  No assertions: it prints figures.
#
# The load is bench/smtp.sh's (the same set-up, from bench/lib.sh):
# implicit TLS with alice's client certificate, the certificate lookup
# against slapd, EHLO, MAIL, RCPT, DATA with a 10 KB message, QUIT,
# relayed to bench/sink.  It runs against three smtpcertd instances,
# started once and each loaded before anything is measured:
#
#   none     crl-check inbound no, no CRL source
#   100000   crl-check inbound yes; the test intermediate's CRL with
#            100,000 random serials (bench/crl_bench gen, signed by the
#            test intermediate's key; alice is not in it) and the root's
#            CRL, both file://, type asn1, stale policy fail-closed
#   1000000  the same with 1,000,000 entries (49 MB DER)
#
# (one configuration per CRL_SESS_SIZES entry).  A configuration is
# measured only once crld has accepted both CRLs (smtpcertctl show crl) and
# the front has the revocation set in use (its log).  To damp the noise of
# a shared machine the configurations are interleaved, none, 100000,
# 1000000, none, ... for CRL_SESS_ROUNDS rounds, each run preceded by a
# short warm-up, and the report gives medians over the rounds: sessions/s,
# server CPU ms per session (all smtpcertd processes), the front's VmRSS
# (and the part of it that is shared memory: the mapped revocation set),
# the revocation set's size (crld's log) and crld's VmRSS once loaded;
# then the 1M / no-CRL rate ratio against the 90% target and the 1M set
# size against 64 MB.  Idle instances cost no CPU (refresh is 6h away).
#
# Knobs (environment):
#   CRL_SESS_SIZES     CRL sizes                    ["100000 1000000"]
#   CRL_SESS_ROUNDS    interleaved rounds           [3]
#   CRL_SESS_SESSIONS  full sessions per run        [1200]
#   CRL_SESS_WARMUP    unmeasured sessions per run  [100]
#   BENCH_CONC, BENCH_NOLDAP, BENCH_KEEP as for bench/smtp.sh
set -u
. "$(dirname "$0")/lib.sh"

SIZES=${CRL_SESS_SIZES:-"100000 1000000"}
ROUNDS=${CRL_SESS_ROUNDS:-3}
N=${CRL_SESS_SESSIONS:-1200}
W=${CRL_SESS_WARMUP:-100}
CONFIGS="none $SIZES"

if [ "$(id -u)" != 0 ] || ! id _smtpcertd >/dev/null 2>&1; then
	echo "== crl sessions: skipped (needs root and user _smtpcertd)"
	exit 0
fi
bench_init smtp_load sink crl_bench
START=$(date +%s)

echo "== crl sessions: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg), work dir $T"
bench_backends

# The CRLs, in parallel (1,000,000 entries take about 20 s to make).
pids=""
for n in $SIZES; do
	"$BIN/crl_bench" gen "$n" "$T/pki/inter.pem" "$T/pki/inter.key" \
	    "$T/crl-$n.der" 2>"$T/gen-$n.out" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || { cat "$T"/gen-*.out >&2; echo "bench: crl_bench gen failed" >&2; exit 1; }
done
# alice is not in them (random serials; a clash would show as errors, and
# the warm-up fails when all sessions fail).

for cfg in $CONFIGS; do
	port=$(free_port)
	if [ "$cfg" = none ]; then
		bench_conf "$T/$cfg" 1000 no "$port"
	else
		bench_conf "$T/$cfg" 1000 yes "$port" "" "crl stale fail-closed
crl \"inter\" {
	ca \"clients\"
	type asn1
	url \"file://$T/crl-$cfg.der\"
}
crl \"root\" {
	ca \"clients\"
	type asn1
	url \"file://$T/pki/crl/root.crl.der\"
}"
	fi
	bench_start "$T/$cfg"
done
echo "== configuration: $CONFNAME"

# Wait until crld has accepted both CRLs with the expected entry counts
# and the front has the set in use.
for cfg in $SIZES; do
	i=0
	while [ $i -lt 1200 ]; do
		got=$(bench_ctl "$T/$cfg" show crl 2>/dev/null |
		    awk '$1 == "entries" { print $2 }' | sort -n | tr '\n' ' ')
		[ "$got" = "0 $cfg " ] &&
		    grep -Eq "revocation set [0-9]+ in use: 2 CRLs, $cfg entries" \
		    "$T/$cfg/smtpcertd.log" && break
		sleep 0.1; i=$((i + 1))
	done
	if [ $i -ge 1200 ]; then
		echo "bench: $cfg-entry set not loaded in 120 s" >&2
		bench_ctl "$T/$cfg" show crl >&2
		tail -n 20 "$T/$cfg/smtpcertd.log" >&2
		exit 1
	fi
	sed -nE "s/.*revocation set [0-9]+: 2 CRLs, $cfg entries, ([0-9]+) bytes.*/\1/p" \
	    "$T/$cfg/smtpcertd.log" | tail -n 1 >"$T/$cfg/setbytes"
	bench_use "$T/$cfg"
	rss_kb "$(awk '$1 == "crld" { print $2 }' "$T/$cfg/status")" >"$T/$cfg/crldrss"
	echo "   $cfg entries: crld accepted both CRLs, set of $(cat "$T/$cfg/setbytes") bytes in use in the front"
done
echo "   set-up took $(( $(date +%s) - START )) s"

echo "== $ROUNDS rounds of: $(echo $CONFIGS | sed 's/ /, /g'); each $W warm-up + $N measured sessions, concurrency $C"
for r in $(seq 1 "$ROUNDS"); do
	line="   round $r:"
	for cfg in $CONFIGS; do
		bench_use "$T/$cfg"
		bench_warmup "$(cat "$T/$cfg/port")" "$W"
		run_measured "$T/$cfg/run$r.out" $LOAD -m smtp -t tls \
		    -p "$(cat "$T/$cfg/port")" -n "$N" -c "$C"
		# rate ms/session errors ok front-VmRSS front-RssShmem
		echo "$R_RATE $(ms_per "$R_SRV" "$R_OK") ${R_ERR:-?} ${R_OK:-0}" \
		    "$(rss_kb "$FRONT_PID") $(rss_kb "$FRONT_PID" RssShmem)" \
		    >>"$T/$cfg/results"
		echo "$R_PROCS" >"$T/$cfg/procs"
		grep '^error ' "$T/$cfg/run$r.out" | sed "s/^/   $cfg: /"
		line="$line  $cfg $R_RATE/s $(ms_per "$R_SRV" "$R_OK") ms"
	done
	echo "$line"
done

# median COLUMN FILE
median() {
	awk -v c="$1" '{ print $c }' "$2" | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
	        else if (NR % 2) print v[(NR + 1) / 2];
	        else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# range COLUMN FILE: "min-max"
range() {
	awk -v c="$1" '{ print $c }' "$2" | sort -g |
	    awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'
}
mb() { awk -v b="$1" 'BEGIN { if (b == "" || b == "-") print "-"; else printf "%.1f MB", b / 1048576 }'; }

cat <<EOF

smtpcertd full sessions with CRLs — $(date -u +%Y-%m-%d), $(nproc) CPUs, loopback, EC P-256, TLS 1.3
configuration: $CONFNAME; crl-check inbound yes, stale fail-closed
$ROUNDS interleaved rounds of $N sessions per configuration, concurrency $C; medians (range)
CRL entries   sessions/s (range)        server CPU ms/session  front VmRSS (shared set)  revocation set  crld VmRSS  errors
EOF
for cfg in $CONFIGS; do
	f=$T/$cfg/results
	if [ "$cfg" = none ]; then set=- crld=-; else
		set=$(mb "$(cat "$T/$cfg/setbytes")")
		crld=$(awk '{ printf "%.1f MB", $1 / 1024 }' "$T/$cfg/crldrss")
	fi
	printf '%-13s %-25s %-22s %-25s %-15s %-11s %s\n' "$cfg" \
	    "$(median 1 "$f") ($(range 1 "$f"))" "$(median 2 "$f")" \
	    "$(awk -v a="$(median 5 "$f")" -v b="$(median 6 "$f")" 'BEGIN { printf "%.1f MB (%.1f MB)", a / 1024, b / 1024 }')" \
	    "$set" "$crld" "$(awk '{ s += $3 } END { print s + 0 }' "$f")"
done
last=$(echo $SIZES | awk '{ print $NF }')
awk -v a="$(median 1 "$T/$last/results")" -v b="$(median 1 "$T/none/results")" \
    -v n="$last" 'BEGIN { r = a / b;
	printf "\n%s-entry CRL / no CRL, session rate:  %.2f  (target >= 0.90: %s)\n",
	    n, r, (r >= 0.90 ? "met" : "MISSED") }'
awk -v a="$(median 2 "$T/$last/results")" -v b="$(median 2 "$T/none/results")" \
    -v n="$last" 'BEGIN { printf "%s-entry CRL / no CRL, server CPU per session:  %.2f\n", n, a / b }'
awk -v s="$(cat "$T/$last/setbytes")" -v n="$last" 'BEGIN {
	printf "%s-entry revocation set:             %.1f MB  (target <= 64 MB: %s)\n",
	    n, s / 1048576, (s <= 64 * 1048576 ? "met" : "MISSED") }'
echo "smtpcertd processes, ms/session, last round:"
for cfg in $CONFIGS; do
	printf '  %-12s %s\n' "$cfg" "$(cat "$T/$cfg/procs")"
done
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg); CRL part took $(( $(date +%s) - START )) s"
exit 0
