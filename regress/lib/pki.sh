# Throwaway test PKI, generated with openssl at test time (sourced by
# regress/lib.sh).  EC P-256 keys (randy's alone is RSA 2048), about one
# second for the whole set.
#
#	make_pki DIR            create the PKI below DIR (DIR may exist)
#	pki_revoke DIR NAME [REASON]
#	                        revoke DIR/NAME.crt in the intermediate's
#	                        database and regenerate every intermediate CRL
#	pki_serial DIR NAME     lowercase hex serial of NAME (as in DIR/serials)
#	pki_serial_dec DIR NAME the same serial in decimal
#	pki_cn DIR NAME         the exact subject CN of NAME (as in DIR/cns)
#	pki_fp DIR NAME         SHA-256 fingerprint, lowercase hex, no colons
#
# Layout (all PEM unless named .der):
#	ca.pem ca.key           root CA  "CN=Example Test Root CA"
#	inter.pem inter.key     intermediate CA (signed by root, pathlen 0)
#	chain.pem               inter.pem + ca.pem (a CA file that trusts both)
#	crlsign.crt crlsign.key separate CRL-signing certificate for the
#	                        intermediate: SAME subject name as inter.pem,
#	                        different key, issued by the root, keyUsage
#	                        cRLSign only.  crl/inter-crlsign.crl.* is signed
#	                        by it (a CRL "signed by a separate CRL-signing
#	                        key", needs X509_V_FLAG_EXTENDED_CRL_SUPPORT and
#	                        crlsign.crt among the untrusted/trusted certs).
#	other-ca.pem other-ca.key
#	                        an unrelated self-signed CA ("Other Test CA")
#	server.crt server.key   CN=localhost, SAN DNS:localhost, IP:127.0.0.1,
#	                        serverAuth, signed by the intermediate
#	server.chain.pem        server.crt + inter.pem (for servers that must
#	                        send the intermediate)
#	NAME.crt NAME.key NAME.der NAME.chain.pem (leaf + its issuing CA)
#	                        client certificates (clientAuth,
#	                        emailProtection), NAME one of
#	    alice    valid; subject C, O, OU, CN, UID, emailAddress; SAN
#	             email:alice@example.test and otherName UPN
#	             (1.3.6.1.4.1.311.20.2.3) UTF8 alice@example.test
#	    bob      valid; no UID, no emailAddress in subject, no UPN
#	             (SAN email:bob@example.test only)
#	    carol dave erin frank twin
#	             valid, like bob (LDAP users, see slapd.sh)
#	    randy    valid, like bob, but an RSA 2048 key (rsaEncryption)
#	             in a certificate the EC intermediate signs with ECDSA
#	    revoked  valid dates, revoked (keyCompromise) in the inter CRLs
#	    expired  notBefore 400 days ago, notAfter yesterday
#	    notyet   notBefore in 30 days
#	    wrongca  signed by other-ca.pem, not by our intermediate
#	    evil     CN full of LDAP filter / DN specials (see pki_cn)
#	crl/root.crl.pem .der   root's CRL (revokes nothing)
#	crl/inter.crl.pem .der  intermediate's CRL, signed by inter.key
#	crl/inter-crlsign.crl.pem .der
#	                        same entries, signed by crlsign.key
#	crl/inter-stale.crl.pem .der
#	                        same entries, signed by inter.key, nextUpdate
#	                        yesterday (for fail-closed / stale tests)
#	crl/other-ca.crl.pem .der   other-ca's CRL (empty)
#	serials                 "NAME hex" per line, lowercase hex, even number
#	                        of digits, first digit never 0 (serials are
#	                        random 16 bytes with the first byte in 0x10-0x7f)
#	cns                     "NAME<TAB>CN" per line
#	db/                     openssl ca state (index, config); do not use
#
# CRL numbers grow with each regeneration; thisUpdate has one-second
# resolution, so two pki_revoke calls in the same second give CRLs with the
# same thisUpdate but a higher CRL number.

# New names go at the end: a client's CN embeds its position here.
PKI_CLIENTS="alice bob carol dave erin frank twin revoked expired notyet wrongca evil randy"
# Clients whose key is RSA 2048 rather than EC P-256.
PKI_RSA_CLIENTS="randy"
PKI_EVIL_CN='evil*)(uid=*))(|(cn=*\,"+<>;=# x'

# $1 = offset for date(1), e.g. "-2 days": UTCTime for openssl ca.
_pki_date() {
	date -u -d "$1" +%y%m%d%H%M%SZ
}

# A random serial: 16 bytes, first byte 0x10-0x7f (positive, no leading 0).
_pki_new_serial() {
	local hex first
	hex=$(openssl rand -hex 16)
	first=$(( (0x${hex:0:2} % 0x70) + 0x10 ))
	printf '%02x%s\n' "$first" "${hex:2}"
}

# _pki_ca_conf DBDIR: an openssl ca config for the CA whose state is DBDIR.
_pki_ca_conf() {
	local db=$1
	mkdir -p "$db/new"
	: >"$db/index.txt"
	echo "unique_subject = no" >"$db/index.txt.attr"
	echo 1000 >"$db/crlnumber"
	cat >"$db/ca.cnf" <<-EOF
	[ ca ]
	default_ca = the_ca
	[ the_ca ]
	dir = $db
	database = \$dir/index.txt
	new_certs_dir = \$dir/new
	serial = \$dir/serial
	crlnumber = \$dir/crlnumber
	certificate = \$dir/ca.pem
	private_key = \$dir/ca.key
	default_md = sha256
	default_days = 365
	default_crl_days = 30
	policy = pol_any
	unique_subject = no
	email_in_dn = yes
	copy_extensions = none
	crl_extensions = crl_ext
	[ pol_any ]
	countryName = optional
	organizationName = optional
	organizationalUnitName = optional
	commonName = optional
	userId = optional
	emailAddress = optional
	[ crl_ext ]
	authorityKeyIdentifier = keyid:always
	[ req ]
	distinguished_name = req_dn
	[ req_dn ]
	[ ext ]
	subjectKeyIdentifier = hash
	EOF
}

# _pki_sign DIR CA NAME SUBJ EXTFILE [openssl ca args...]
# Key DIR/NAME.key, certificate DIR/NAME.crt signed by CA (db/CA).  The
# key is EC P-256, or RSA 2048 with PKI_KEYTYPE=rsa (set for the call, or
# a local of the caller's).
_pki_sign() {
	local dir=$1 ca=$2 name=$3 subj=$4 ext=$5 serial keyopts
	shift 5
	case ${PKI_KEYTYPE:-ec} in
	ec)	keyopts="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	rsa)	keyopts="-newkey rsa -pkeyopt rsa_keygen_bits:2048" ;;
	*)	echo "pki: unknown PKI_KEYTYPE $PKI_KEYTYPE" >&2; return 1 ;;
	esac
	serial=$(_pki_new_serial)
	echo "$serial" >"$dir/db/$ca/serial"
	# shellcheck disable=SC2086
	openssl req -new $keyopts -nodes \
	    -keyout "$dir/$name.key" -subj "$subj" -utf8 \
	    -config "$dir/db/$ca/ca.cnf" -out "$dir/db/$name.csr" 2>/dev/null ||
	    { echo "pki: req $name failed" >&2; return 1; }
	openssl ca -batch -notext -preserveDN -utf8 -config "$dir/db/$ca/ca.cnf" \
	    -in "$dir/db/$name.csr" -out "$dir/$name.crt" \
	    -extfile "$ext" -extensions ext "$@" 2>"$dir/db/$name.err" ||
	    { echo "pki: ca $name failed" >&2; cat "$dir/db/$name.err" >&2; return 1; }
	chmod 0600 "$dir/$name.key"
	echo "$name $serial" >>"$dir/serials"
}

# _pki_ext FILE LINES...: write an extension section "ext".
_pki_ext() {
	local f=$1
	shift
	{ echo "[ ext ]"; printf '%s\n' "$@"; } >"$f"
}

# _pki_gencrl DIR CA OUT [openssl ca args...]: OUT.pem and OUT.der
_pki_gencrl() {
	local dir=$1 ca=$2 out=$3
	shift 3
	openssl ca -batch -gencrl -config "$dir/db/$ca/ca.cnf" \
	    -out "$out.pem" "$@" 2>"$dir/db/crl.err" ||
	    { echo "pki: gencrl $out failed" >&2; cat "$dir/db/crl.err" >&2; return 1; }
	openssl crl -in "$out.pem" -outform DER -out "$out.der"
}

_pki_inter_crls() {
	local dir=$1
	_pki_gencrl "$dir" inter "$dir/crl/inter.crl" || return 1
	_pki_gencrl "$dir" inter "$dir/crl/inter-crlsign.crl" \
	    -cert "$dir/crlsign.crt" -keyfile "$dir/crlsign.key" || return 1
	_pki_gencrl "$dir" inter "$dir/crl/inter-stale.crl" \
	    -crl_lastupdate "$(_pki_date '-2 days')" \
	    -crl_nextupdate "$(_pki_date '-1 day')" || return 1
}

_pki_self_ca() {
	local dir=$1 name=$2 subj=$3 serial
	serial=$(_pki_new_serial)
	_pki_ca_conf "$dir/db/$name"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$dir/$name.key" -subj "$subj" -days 3650 -sha256 \
	    -config "$dir/db/$name/ca.cnf" -extensions ext \
	    -set_serial "0x$serial" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -out "$dir/$name.pem" 2>"$dir/db/$name.err" ||
	    { echo "pki: $name failed" >&2; cat "$dir/db/$name.err" >&2; return 1; }
	chmod 0600 "$dir/$name.key"
	echo "$name $serial" >>"$dir/serials"
	cp "$dir/$name.pem" "$dir/db/$name/ca.pem"
	cp "$dir/$name.key" "$dir/db/$name/ca.key"
}

make_pki() {
	# PKI_KEYTYPE is local: _pki_sign sees it (dynamic scope), the
	# caller's environment does not choose any key type here.
	local dir=$1 name subj san cn up i=0 e PKI_KEYTYPE=ec
	mkdir -p "$dir/db" "$dir/crl" || return 1
	: >"$dir/serials"
	: >"$dir/cns"
	e=$dir/db/ext

	_pki_self_ca "$dir" ca "/C=US/O=Example Test/CN=Example Test Root CA" ||
	    return 1
	_pki_self_ca "$dir" other-ca "/C=US/O=Other Test/CN=Other Test CA" ||
	    return 1

	# Intermediate, and the CRL signer with the intermediate's name.
	_pki_ext "$e.inter" \
	    "basicConstraints = critical,CA:TRUE,pathlen:0" \
	    "keyUsage = critical,keyCertSign,cRLSign" \
	    "subjectKeyIdentifier = hash" \
	    "authorityKeyIdentifier = keyid:always"
	_pki_sign "$dir" ca inter \
	    "/C=US/O=Example Test/CN=Example Test Intermediate CA" "$e.inter" \
	    -days 3000 || return 1
	mv "$dir/inter.crt" "$dir/inter.pem"
	_pki_ca_conf "$dir/db/inter"
	cp "$dir/inter.pem" "$dir/db/inter/ca.pem"
	cp "$dir/inter.key" "$dir/db/inter/ca.key"
	cat "$dir/inter.pem" "$dir/ca.pem" >"$dir/chain.pem"

	_pki_ext "$e.crlsign" \
	    "basicConstraints = critical,CA:FALSE" \
	    "keyUsage = critical,cRLSign" \
	    "subjectKeyIdentifier = hash" \
	    "authorityKeyIdentifier = keyid:always"
	_pki_sign "$dir" ca crlsign \
	    "/C=US/O=Example Test/CN=Example Test Intermediate CA" "$e.crlsign" \
	    -days 3000 || return 1

	# Server.
	_pki_ext "$e.server" \
	    "basicConstraints = critical,CA:FALSE" \
	    "keyUsage = critical,digitalSignature" \
	    "extendedKeyUsage = serverAuth" \
	    "subjectKeyIdentifier = hash" \
	    "authorityKeyIdentifier = keyid:always" \
	    "subjectAltName = DNS:localhost,IP:127.0.0.1"
	_pki_sign "$dir" inter server "/C=US/O=Example Test/CN=localhost" \
	    "$e.server" -days 825 || return 1
	cat "$dir/server.crt" "$dir/inter.pem" >"$dir/server.chain.pem"

	# Clients.
	for name in $PKI_CLIENTS; do
		i=$((i + 1))
		case $name in
		evil)	cn=$PKI_EVIL_CN ;;
		*)	up=${name^^}
			cn=$(printf 'TESTER.%s.%s.%010d' "$up" "${up:0:1}" \
			    $((1000000000 + i))) ;;
		esac
		printf '%s\t%s\n' "$name" "$cn" >>"$dir/cns"
		# -subj: backslash escapes the next character.
		subj="/C=US/O=Example Test/OU=People/CN=$(printf '%s' "$cn" |
		    sed 's/[\\/+]/\\&/g')"
		san="email:$name@example.test"
		if [ "$name" = alice ]; then
			subj="$subj/UID=alice/emailAddress=alice@example.test"
			san="$san,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@example.test"
		fi
		_pki_ext "$e.$name" \
		    "basicConstraints = critical,CA:FALSE" \
		    "keyUsage = critical,digitalSignature,keyAgreement" \
		    "extendedKeyUsage = clientAuth,emailProtection" \
		    "subjectKeyIdentifier = hash" \
		    "authorityKeyIdentifier = keyid:always" \
		    "subjectAltName = $san"
		PKI_KEYTYPE=ec
		case " $PKI_RSA_CLIENTS " in *" $name "*) PKI_KEYTYPE=rsa ;; esac
		case $name in
		expired)
			_pki_sign "$dir" inter "$name" "$subj" "$e.$name" \
			    -startdate "$(_pki_date '-400 days')" \
			    -enddate "$(_pki_date '-1 day')" || return 1 ;;
		notyet)
			_pki_sign "$dir" inter "$name" "$subj" "$e.$name" \
			    -startdate "$(_pki_date '+30 days')" \
			    -enddate "$(_pki_date '+400 days')" || return 1 ;;
		wrongca)
			_pki_sign "$dir" other-ca "$name" "$subj" "$e.$name" \
			    -days 365 || return 1 ;;
		*)
			_pki_sign "$dir" inter "$name" "$subj" "$e.$name" \
			    -days 365 || return 1 ;;
		esac
		openssl x509 -in "$dir/$name.crt" -outform DER -out "$dir/$name.der"
		if [ "$name" = wrongca ]; then
			cat "$dir/$name.crt" "$dir/other-ca.pem" >"$dir/$name.chain.pem"
		else
			cat "$dir/$name.crt" "$dir/inter.pem" >"$dir/$name.chain.pem"
		fi
	done

	openssl ca -batch -config "$dir/db/inter/ca.cnf" -revoke "$dir/revoked.crt" \
	    -crl_reason keyCompromise 2>"$dir/db/revoke.err" ||
	    { cat "$dir/db/revoke.err" >&2; return 1; }
	_pki_gencrl "$dir" ca "$dir/crl/root.crl" || return 1
	_pki_gencrl "$dir" other-ca "$dir/crl/other-ca.crl" || return 1
	_pki_inter_crls "$dir" || return 1
}

pki_revoke() {
	local dir=$1 name=$2 reason=${3:-keyCompromise}
	openssl ca -batch -config "$dir/db/inter/ca.cnf" -revoke "$dir/$name.crt" \
	    -crl_reason "$reason" 2>"$dir/db/revoke.err" ||
	    { cat "$dir/db/revoke.err" >&2; return 1; }
	_pki_inter_crls "$dir"
}

pki_serial() {
	awk -v n="$2" '$1 == n { print $2 }' "$1/serials"
}

pki_serial_dec() {
	$PY -c 'import sys; print(int(sys.argv[1], 16))' "$(pki_serial "$1" "$2")"
}

pki_cn() {
	awk -F '\t' -v n="$2" '$1 == n { print $2 }' "$1/cns"
}

pki_fp() {
	openssl x509 -in "$1/$2.crt" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr A-F a-f
}
