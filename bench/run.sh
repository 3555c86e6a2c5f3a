#!/bin/bash
# Benchmarks, run by `make bench` (BUILD=build or build-san).  Each part
# is a function; run one with: bash bench/run.sh smtp|crl
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac

# SMTP sessions: bench/smtp.sh (its own knobs are documented there).
bench_smtp() {
	BUILD=$BUILD bash "$TOP/bench/smtp.sh"
}

# Revocation at DoD scale (issue 5).
#  1. crl_bench micro: crld's validation, set size and build time, the
#     front's map, per-certificate lookup cost, and OpenSSL's own CRL
#     checking for comparison, for 100,000 and 1,000,000 entries.
#  2. The daemon: TLS handshakes per second with a client certificate
#     (openssl s_time, full handshakes, one connection at a time) with
#     no CRL checking, and with 100,000- and 1,000,000-entry CRLs loaded
#     through crld (file://), plus the front's resident memory.  This is
#     a handshake rate, not a full SMTP session rate: that needs the
#     SMTP load generator (not written yet).
bench_crl() {
	local sizes=${CRL_BENCH_SIZES:-"100000 1000000"} secs=${CRL_BENCH_SECS:-5}
	if [ "${CRL_BENCH_MICRO:-1}" != 0 ]; then
		echo "== crl: micro-benchmarks"
		# shellcheck disable=SC2086
		"$BUILD/bench/crl_bench" micro $sizes || return 1
	fi

	if [ "$(id -u)" != 0 ] || ! id _smtpcertd >/dev/null 2>&1; then
		echo "== crl: daemon run skipped (needs root and user _smtpcertd)"
		return 0
	fi
	set +u
	. "$TOP/regress/lib.sh"
	set -u
	T=$(mktemp -d /tmp/smtpcertd-bench.XXXXXX)
	chmod 0755 "$T"
	make_pki "$T/pki" >/dev/null 2>&1 || { echo "make_pki failed"; return 1; }
	mkdir -p "$T/empty"
	local n
	for n in $sizes; do
		"$BUILD/bench/crl_bench" gen "$n" "$T/pki/inter.pem" \
		    "$T/pki/inter.key" "$T/crl-$n.der" || return 1
	done
	for n in none $sizes; do
		_bench_crl_daemon "$n" "$secs"
	done
	rm -rf "$T"
}

_bench_crl_daemon() {
	local n=$1 secs=$2 port sources check=yes pid fpid rate rss
	port=$(free_port)
	if [ "$n" = none ]; then
		check=no
		sources=""
	else
		sources="crl \"inter\" {
	ca \"clients\"
	type asn1
	url \"file://$T/crl-$n.der\"
}
crl \"root\" {
	ca \"clients\"
	type asn1
	url \"file://$T/pki/crl/root.crl.der\"
}"
	fi
	rm -rf "$T/crlcache" "$T/ctl.sock"
	cat >"$T/smtpcertd.conf" <<CONF
user "_smtpcertd"
chroot "$T/empty"
control socket "$T/ctl.sock"
crl cache "$T/crlcache"
crl-check inbound $check
pki "gw" cert "$T/pki/server.chain.pem" key "$T/pki/server.key"
ca "clients" file "$T/pki/chain.pem"
$sources
relay "mx" host "127.0.0.1" port 2525 tls none
policy "p" {
	tls required
	verify client-certificate
}
listen on 127.0.0.1 port $port tls pki "gw" ca "clients" policy "p" relay "mx" \
	limit max-sessions 10000
CONF
	"$BUILD/smtpcertd" -d -f "$T/smtpcertd.conf" >"$T/log-$n" 2>&1 &
	pid=$!
	wait_file "$T/ctl.sock" 10
	if [ "$n" != none ]; then
		wait_log "$T/log-$n" "revocation set [0-9]+ in use: 2 CRLs" 120 ||
		    { echo "set not loaded"; tail "$T/log-$n"; }
	fi
	wait_port "$port" 10
	rate=$(timeout $((secs + 30)) openssl s_time -connect "127.0.0.1:$port" \
	    -new -time "$secs" -cert "$T/pki/alice.crt" -key "$T/pki/alice.key" \
	    -CAfile "$T/pki/chain.pem" 2>/dev/null |
	    awk '/connections\/user sec/ { print $1 " conn in " $4 " s, " $(NF-3) " conn/user-s" }
	         /connections in [0-9.]+ real seconds/ { print $1 " connections in " $4 " real s: " $1/$4 " per s" }')
	fpid=$("$BUILD/smtpcertctl" -s "$T/ctl.sock" show status |
	    awk '$1 == "front" { print $2 }')
	rss=$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$fpid/status" 2>/dev/null)
	echo "== crl: daemon, CRL entries: $n; $rate; front RSS $rss"
	grep -c "certificate revoked\|refused" "$T/log-$n" |
	    sed 's/^/   refusals in log: /'
	kill "$pid"
	wait "$pid" 2>/dev/null
}

case "${1:-all}" in
smtp)	bench_smtp ;;
crl)	bench_crl ;;
all)	bench_smtp; bench_crl ;;
*)	echo "usage: bench/run.sh [smtp|crl|all]" >&2; exit 1 ;;
esac
