#!/bin/bash
# Benchmarks, run by `make bench` (BUILD=build or build-san).  Each part
# is a function; run one with: bash bench/run.sh smtp|latency|burst|crl|crl-sessions
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac

# SMTP sessions: bench/smtp.sh (its own knobs are documented there).
bench_smtp() {
	BUILD=$BUILD bash "$TOP/bench/smtp.sh"
}

# Per-command latency, one client at a time (issue 17): IMAP straight to
# Dovecot vs through the IMAP4S proxy, SMTP replies relayed vs the sink
# (bench/latency.sh; BENCH_LAT_N repetitions).
bench_latency() {
	BUILD=$BUILD bash "$TOP/bench/latency.sh"
}

# Revocation at DoD scale (issue 5).
#  1. crl_bench micro: crld's validation, set size and build time, the
#     front's map, per-certificate lookup cost, and OpenSSL's own CRL
#     checking for comparison, for 100,000 and 1,000,000 entries
#     (CRL_BENCH_SIZES; CRL_BENCH_MICRO=0 skips it).
#  2. bench/crl_sessions.sh: bench/smtp.sh's full SMTP sessions against
#     smtpcertd with no CRL checking and with 100,000- and 1,000,000-entry
#     CRLs loaded through crld (file://), interleaved rounds, medians of
#     sessions/s, CPU per session, front RSS and the revocation set size
#     (CRL_SESS_* knobs documented there; CRL_SESS_SIZES defaults to
#     CRL_BENCH_SIZES).
bench_crl() {
	local sizes=${CRL_BENCH_SIZES:-"100000 1000000"}
	if [ "${CRL_BENCH_MICRO:-1}" != 0 ]; then
		echo "== crl: micro-benchmarks"
		# shellcheck disable=SC2086
		"$BUILD/bench/crl_bench" micro $sizes || return 1
	fi
	CRL_SESS_SIZES=${CRL_SESS_SIZES:-$sizes} BUILD=$BUILD \
	    bash "$TOP/bench/crl_sessions.sh"
}

# Memory and CPU after a burst of 10,000 idle TLS sessions (issue 17):
# bench/burst.sh (its knobs are documented there).
bench_burst() {
	BUILD=$BUILD bash "$TOP/bench/burst.sh"
}

case "${1:-all}" in
smtp)	bench_smtp ;;
latency)	bench_latency ;;
burst)	bench_burst ;;
crl)	bench_crl ;;
crl-sessions)
	CRL_BENCH_MICRO=0 bench_crl ;;
all)	bench_smtp; bench_latency; bench_burst; bench_crl ;;
*)	echo "usage: bench/run.sh [smtp|latency|burst|crl|crl-sessions|all]" >&2; exit 1 ;;
esac
