#!/bin/sh
# Checks, before the suite runs, that every external tool the tests, the
# demo and the benchmarks use is here with the features they use, and
# stops at the first gap with one line naming the Debian package.  A test
# that skipped or failed for a missing tool deep inside a 15-minute run
# once hid an install step (swaks without TLS); this says it in a second.
#
#	sh scripts/preflight.sh		exit 0, or 1 with "preflight: ..." lines
#
# Each check is "what, how to test it, which package provides it";
# scripts/deps.sh installs all of these packages.
set -u

missing=0
# need PACKAGE WHAT CMD...: run CMD quietly; on failure name PACKAGE.
need() {
	pkg=$1 what=$2
	shift 2
	if ! "$@" >/dev/null 2>&1; then
		echo "preflight: $what: missing; install the Debian package $pkg" \
		    "(scripts/deps.sh does)"
		missing=$((missing + 1))
	fi
}
has() { command -v "$1"; }

# build
need build-essential "C compiler" has cc
need make "make" has make
need byacc "yacc" has byacc
need pkg-config "pkg-config" has pkg-config
for lib in libtls libevent ldap libcurl libssl libseccomp; do
	case $lib in
	libtls) pkg=libtls-dev ;; libevent) pkg=libevent-dev ;;
	ldap) pkg=libldap-dev ;; libcurl) pkg=libcurl4-openssl-dev ;;
	libssl) pkg=libssl-dev ;; libseccomp) pkg=libseccomp-dev ;;
	esac
	need "$pkg" "library $lib (pkg-config)" pkg-config --exists "$lib"
done

# the fuzz targets: clang, and libFuzzer with the sanitizers linking
need clang "clang" has clang
need libclang-rt-14-dev "clang's libFuzzer runtime (-fsanitize=fuzzer)" \
    sh -c 'd=$(mktemp -d) && printf "%s\n" "#include <stddef.h>" \
    "int LLVMFuzzerTestOneInput(const unsigned char *p, size_t n);" \
    "int LLVMFuzzerTestOneInput(const unsigned char *p, size_t n)" \
    "{ return p == NULL && n > 0; }" >"$d/t.c" && \
    clang -fsanitize=fuzzer,address,undefined -o "$d/t" "$d/t.c"; r=$?; \
    rm -rf "$d"; exit $r'

# real parts the integration tests start
need slapd "OpenLDAP server" test -x /usr/sbin/slapd
need ldap-utils "ldapadd/ldapsearch/ldapwhoami" has ldapwhoami
need dovecot-imapd "Dovecot IMAP" test -x /usr/lib/dovecot/imap
need dovecot-pop3d "Dovecot POP3" test -x /usr/lib/dovecot/pop3
need systemd "systemd-analyze (unit verification)" has systemd-analyze
need haproxy "HAProxy (several gateways behind a balancer)" test -x /usr/sbin/haproxy

# clients and tools, with the features the tests use
need swaks "swaks" has swaks
need libnet-ssleay-perl "swaks with TLS (Net::SSLeay)" sh -c \
    'swaks --support 2>&1 | grep -q "^=== TLS supported"'
need curl "curl" has curl
need curl "curl with TLS and smtp/imap/pop3" sh -c \
    'curl -V | grep -q "^Protocols:.* smtps .*" && curl -V | grep -q " imaps " && curl -V | grep -q " pop3s "'
need openssl "openssl" has openssl
need fetchmail "fetchmail" has fetchmail
need isync "mbsync (isync)" has mbsync
need mandoc "mandoc (man page lint)" has mandoc
need procps "pgrep/pkill/ps" has pgrep
need iproute2 "ss" has ss
need util-linux "unshare/setpriv" has setpriv
need passwd "useradd/groupadd" has useradd
need ca-certificates "the system CA bundle" test -s /etc/ssl/certs/ca-certificates.crt

# Debian's Python (the python3 first on PATH may be another build)
need python3 "/usr/bin/python3" test -x /usr/bin/python3
need python3-cryptography "Python cryptography" \
    /usr/bin/python3 -c "import cryptography.x509"
need python3-cryptography-vectors "PKITS vectors (cryptography_vectors)" \
    /usr/bin/python3 -c "import cryptography_vectors"

# the account the daemon drops to
if ! getent passwd _smtpcertd >/dev/null 2>&1; then
	echo "preflight: system user _smtpcertd missing; scripts/deps.sh creates it"
	missing=$((missing + 1))
fi

[ "$missing" -eq 0 ] || exit 1
echo "preflight: all tools present"
