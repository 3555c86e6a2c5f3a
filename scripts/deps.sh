#!/bin/sh
# Installs the Debian 12 packages smtpcertd needs to build, to run its test
# suite, the demo and the benchmarks, and creates the unprivileged system
# user the daemon drops to.  Idempotent: packages already installed are not
# touched and apt is not even updated when nothing is missing.  Run as root.
#
#	sh scripts/deps.sh            build + test dependencies
#	DEPS_DRYRUN=1 sh scripts/deps.sh   only print what is missing
#
# Note on slapd: installing Debian's slapd package may configure and start a
# system slapd on port 389 (ldap:///, ldapi:///).  The test suite never uses
# it (tests run their own slapd on random high loopback ports with their own
# config directory), so a running system instance is harmless; we only keep
# debconf quiet and, where the package starts it under policy-rc.d, leave it
# alone.  Same for dovecot: the tests start their own with their own base_dir.
set -eu

USER_NAME=_smtpcertd

# Build: compiler, yacc, pkg-config and the libraries the Makefile links.
BUILD_PKGS="build-essential gcc make pkg-config byacc libtls-dev libevent-dev
libldap-dev libcurl4-openssl-dev libssl-dev libseccomp-dev"

# Tests, demo, benchmarks: real parts on loopback and real clients (swaks
# needs libnet-ssleay-perl for TLS: --no-install-recommends leaves it out).
TEST_PKGS="slapd ldap-utils swaks mandoc curl openssl ca-certificates python3
dovecot-imapd dovecot-pop3d procps iproute2 python3-cryptography
python3-cryptography-vectors libnet-ssleay-perl"
# Real mail clients against the e-mail proxy (regress/test_proxy_identity.sh):
# fetchmail (IMAP SASL EXTERNAL, POP3 with a client certificate) and
# isync's mbsync (IMAP with a client certificate, EXTERNAL and LOGIN).
TEST_PKGS="$TEST_PKGS fetchmail isync"
# systemd-analyze verifies the unit (regress/test_systemd.sh); passwd and
# util-linux are in every Debian root but named for the preflight's sake.
TEST_PKGS="$TEST_PKGS systemd passwd util-linux"
# The Debian package (regress/test_deb.sh): dpkg-buildpackage with
# debhelper (dh, compat 13), then lintian.
TEST_PKGS="$TEST_PKGS debhelper dpkg-dev fakeroot lintian"
# The Prometheus client's parser judges the metrics output
# (regress/test_metrics.sh).
TEST_PKGS="$TEST_PKGS python3-prometheus-client"
# HAProxy in front of several gateways, PROXY v2 and SMTP health checks
# (regress/test_haproxy.sh).
TEST_PKGS="$TEST_PKGS haproxy"

# The fuzz targets (`make fuzz', regress/test_fuzz.sh): Debian's clang
# with libFuzzer, whose runtime is only a Recommends of clang.
TEST_PKGS="$TEST_PKGS clang libclang-rt-14-dev"

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: must run as root" >&2
	exit 1
fi

missing=""
for p in $BUILD_PKGS $TEST_PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done

if [ -n "$missing" ]; then
	echo "deps.sh: installing:$missing"
	if [ -n "${DEPS_DRYRUN:-}" ]; then
		exit 0
	fi
	export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true
	# slapd's postinst would otherwise ask for a domain and admin
	# password; give it defaults that do not matter to us.
	if command -v debconf-set-selections >/dev/null 2>&1; then
		debconf-set-selections <<-EOF
		slapd slapd/no_configuration boolean false
		slapd slapd/domain string example.invalid
		slapd shared/organization string smtpcertd-deps
		slapd slapd/password1 password deps-unused
		slapd slapd/password2 password deps-unused
		slapd slapd/purge_database boolean true
		slapd slapd/move_old_database boolean true
		EOF
	fi
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends \
	    -o Dpkg::Options::=--force-confdef \
	    -o Dpkg::Options::=--force-confold $missing >/dev/null
	# apt may have started system slapd/dovecot: harmless (they listen
	# on the standard ports, tests use random high ports), just say so.
	for svc in slapd dovecot; do
		if pgrep -x "$svc" >/dev/null 2>&1; then
			echo "deps.sh: note: a system $svc is running (not used by the tests)"
		fi
	done
else
	echo "deps.sh: all packages present"
fi

if ! getent passwd "$USER_NAME" >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin "$USER_NAME"
	echo "deps.sh: created system user $USER_NAME"
fi
