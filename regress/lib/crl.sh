# CRL test helpers (sourced by regress/test_crl*.sh after lib.sh): a test
# PKI made once per file, HTTP(S) servers for the CRLs (crlserver.py), a
# gateway configuration with CRL sources, and TLS handshakes as probes.
#
#	crl_init          make the PKI once (call before the first run_test)
#	crl_env           per test: $PKI, $T/h1 and $T/h2 served on $H1, $H2,
#	                  the listener port $PORT
#	http_start DIR PORT [CERT KEY]   serve DIR (HTTPS with CERT and KEY)
#	crl_conf [LINES]  write $T/smtpcertd.conf from CRL_SOURCES, CA_FILE,
#	                  CRL_RELAY
#	crl_start, wait_crls, handshake NAME, expect_handshake NAME ok|refused,
#	crl_json NAME EXPR

CRL_PKI_CACHE=""

# The test PKI is made once per file (about a second) and copied per test.
crl_init() {
	CRL_PKI_CACHE=$(mktemp -d /tmp/smtpcertd-crlpki.XXXXXX)
	chmod 0755 "$CRL_PKI_CACHE"
	make_pki "$CRL_PKI_CACHE/pki" >/dev/null 2>&1 ||
	    { echo "make_pki failed" >&2; exit 1; }
	trap 'rm -rf "$CRL_PKI_CACHE"' EXIT
}

# crl_env: $T/pki, two HTTP servers (primary $T/h1 on $H1, secondary
# $T/h2 on $H2) serving copies of the CRLs, a TLS listener port $PORT.
crl_env() {
	PKI=$T/pki
	cp -a "$CRL_PKI_CACHE/pki" "$PKI"
	mkdir -p "$T/empty" "$T/h1" "$T/h2"
	cp "$PKI"/crl/* "$T/h1/"
	cp "$PKI"/crl/* "$T/h2/"
	H1=$(free_port)
	H2=$(free_port)
	PORT=$(free_port)
}

# http_start DIR PORT [CERT KEY]: HTTPS when CERT and KEY are given
http_start() {
	local dir=$1 port=$2 tls=()
	[ $# -ge 4 ] && tls=(--cert "$3" --key "$4")
	rm -f "$dir/server.pid"
	"$PY" "$REGRESS/lib/crlserver.py" --port "$port" --dir "$dir" \
	    "${tls[@]}" </dev/null >>"$dir/server.log" 2>&1 &
	track_pid $!
	echo $! >"$dir/pid"
	wait_file "$dir/server.pid" 10 && wait_port "$port" 10 ||
	    fail "crl http server on $port did not start"
}

http_stop() {
	kill "$(cat "$1/pid")" 2>/dev/null
	sleep 0.2
}

# republish: copy the PKI's current CRLs to both HTTP directories.
republish() {
	cp "$PKI"/crl/* "$T/h1/"
	cp "$PKI"/crl/* "$T/h2/"
}

# crl_conf [global lines] -- reads CRL_SOURCES (crl blocks), CA_FILE and
# CRL_RELAY (the relay line; default: an unused plain port).
crl_conf() {
	cat >"$T/smtpcertd.conf" <<CONF
user "_smtpcertd"
chroot "$T/empty"
control socket "$T/ctl.sock"
crl cache "$T/crlcache"
hostname "gw.example.test"
${1:-}

pki "gw" cert "$PKI/server.chain.pem" key "$PKI/server.key"
ca "clients" file "${CA_FILE:-$PKI/chain.pem}"

$CRL_SOURCES

${CRL_RELAY:-relay "mx" host "127.0.0.1" port 2525 tls none}
policy "p" {
	tls preferred
	verify client-certificate
}
listen on 127.0.0.1 port $PORT tls pki "gw" ca "clients" policy "p" relay "mx"
CONF
}

# The usual pair: the intermediate's CRL over HTTP (primary, secondary)
# and the root's from a file.
default_sources() {
	CRL_SOURCES="crl \"inter\" {
	ca \"clients\"
	type pem
	url \"http://127.0.0.1:$H1/inter.crl.pem\"
	secondary \"http://127.0.0.1:$H2/inter.crl.pem\"
	refresh every 1h
}
crl \"root\" {
	ca \"clients\"
	type asn1
	url \"file://$PKI/crl/root.crl.der\"
}"
}

crl_start() {
	"$SMTPCERTD" -n -f "$T/smtpcertd.conf" >"$T/conftest.out" 2>&1 ||
	    { cat "$T/conftest.out" "$T/smtpcertd.conf"; fail "config refused"; return 1; }
	start_daemon "$T/smtpcertd.conf" || return 1
	wait_port "$PORT" 10 || fail "listener $PORT not open"
}

# Wait until every source has had an attempt (or $1 seconds).
wait_crls() {
	local i=0
	while [ $i -lt $((${1:-10} * 10)) ]; do
		if ! ctl show crl | grep -q "not attempted yet"; then
			return 0
		fi
		sleep 0.1; i=$((i + 1))
	done
	ctl show crl
	fail "CRL sources not attempted"
}

# handshake NAME [extra s_client args]: "ok" when the gateway greets
# after the TLS handshake with NAME's certificate, "refused" when it
# closes (or says 554) instead.
handshake() {
	local name=$1 out
	shift
	out=$(printf 'QUIT\r\n' | sleep_then_cat 1 |
	    timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
	    -cert "$PKI/$name.crt" -key "$PKI/$name.key" \
	    -CAfile "$PKI/chain.pem" -quiet "$@" 2>&1)
	echo "--- s_client $name: $out" >&2
	if echo "$out" | grep -q "^220 "; then
		echo ok
	else
		echo refused
	fi
}

# Delay stdin so that s_client reads the server's answer first.
sleep_then_cat() { sleep "$1"; cat; }

expect_handshake() {
	local got; got=$(handshake "$1")
	[ "$got" = "$2" ] || fail "handshake with $1: $got, want $2"
}

# JSON field of a source: crl_json NAME EXPR (python, row as c)
crl_json() {
	ctl -j show crl | $PY -c '
import json, sys
d = json.load(sys.stdin)
c = [r for r in d["crls"] if r["name"] == sys.argv[1]][0]
print(eval(sys.argv[2]))' "$1" "$2"
}

