# OCSP test helpers (issue 5 item 7; sourced by regress/test_ocsp.sh after
# regress/lib.sh).  An openssl OCSP responder for the test PKI's
# intermediate, answering from the intermediate's `openssl ca` database
# (DIR/db/inter/index.txt, see pki.sh), run by the test and tracked by PID.
#
#	ocsp_pki DIR            add to a PKI made by make_pki:
#	    ocsp-signer.crt .key  delegated responder: issued by the
#	                          intermediate, extendedKeyUsage OCSPSigning
#	ocsp_aia_cert DIR NAME URL
#	                        a client certificate NAME (like bob) whose AIA
#	                        names URL as its OCSP responder
#	ocsp_revoke DIR NAME [REASON]
#	                        revoke NAME in the intermediate's database
#	                        only: the CRLs stay as they are, so only OCSP
#	                        knows
#	ocsp_start DIR PORT [SIGNER-CERT SIGNER-KEY [openssl ocsp args...]]
#	                        start the responder on PORT (signer: the
#	                        intermediate itself by default), log in
#	                        $T/ocsp-PORT.log, wait until it listens
#	ocsp_stop PORT          stop the responder started on PORT
#	ocsp_requests PORT      requests the responder on PORT has answered

ocsp_pki() {
	local dir=$1 e=$1/db/ext.ocsp
	_pki_ext "$e" \
	    "basicConstraints = critical,CA:FALSE" \
	    "keyUsage = critical,digitalSignature" \
	    "extendedKeyUsage = OCSPSigning" \
	    "subjectKeyIdentifier = hash" \
	    "authorityKeyIdentifier = keyid:always"
	_pki_sign "$dir" inter ocsp-signer \
	    "/C=US/O=Example Test/CN=Example Test OCSP Responder" "$e" \
	    -days 365
}

ocsp_aia_cert() {
	local dir=$1 name=$2 url=$3 e=$1/db/ext.$2
	_pki_ext "$e" \
	    "basicConstraints = critical,CA:FALSE" \
	    "keyUsage = critical,digitalSignature,keyAgreement" \
	    "extendedKeyUsage = clientAuth,emailProtection" \
	    "subjectKeyIdentifier = hash" \
	    "authorityKeyIdentifier = keyid:always" \
	    "subjectAltName = email:$name@example.test" \
	    "authorityInfoAccess = OCSP;URI:$url"
	_pki_sign "$dir" inter "$name" \
	    "/C=US/O=Example Test/OU=People/CN=TESTER.${name^^}.AIA" "$e" \
	    -days 365
}

ocsp_revoke() {
	local dir=$1 name=$2 reason=${3:-keyCompromise}
	openssl ca -batch -config "$dir/db/inter/ca.cnf" -revoke "$dir/$name.crt" \
	    -crl_reason "$reason" 2>"$dir/db/revoke.err" ||
	    { cat "$dir/db/revoke.err" >&2; return 1; }
}

ocsp_start() {
	local dir=$1 port=$2 cert=${3:-$1/inter.pem} key=${4:-$1/inter.key}
	shift 2; [ $# -ge 2 ] && shift 2 || shift $#
	openssl ocsp -index "$dir/db/inter/index.txt" -port "$port" \
	    -rsigner "$cert" -rkey "$key" -CA "$dir/inter.pem" -ignore_err \
	    "$@" </dev/null >>"$T/ocsp-$port.log" 2>&1 &
	track_pid $!
	echo $! >"$T/ocsp-$port.pid"
	# Not wait_port: openssl ocsp hangs on a connection that sends
	# nothing (the next client then times out).  It says when it is up.
	wait_log "$T/ocsp-$port.log" "waiting for OCSP client connections" 10 ||
	    { cat "$T/ocsp-$port.log" >&2; fail "OCSP responder on $port did not start"; }
}

ocsp_stop() {
	local pid i=0
	pid=$(cat "$T/ocsp-$1.pid")
	kill "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
}

# openssl ocsp does not log each request; count what crld asked instead
# (its debug line; the daemon runs with -v).
ocsp_requests() {
	grep -c "ocsp: serial .*: asking http://127.0.0.1:$1/\$" "$T/smtpcertd.log" || :
}
