#!/bin/bash
# CI stage: the README's test command in a minimal Debian 12 root, the
# shape of a `debian:12` container (mmdebstrap --variant=minbase from this
# machine's apt sources), chrooted with /proc, /sys and /dev mounted.  A
# package installed by hand on the development machine can then never hide
# a missing install step: everything the suite needs must come from
# scripts/deps.sh.  One plain pass (PASSES=0); the host runs the sanitizer.
#
#	bash scripts/minroot-test.sh	as root; ends with "N passed, N failed"
#	KEEP_ROOT=1 ...			leave the root for a look afterwards
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "minroot: must run as root"; echo "0 passed, 1 failed"; exit 1
fi
# This stage's own tool (not the suite's): install it like deps.sh would.
if ! command -v mmdebstrap >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends mmdebstrap >/dev/null ||
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends mmdebstrap \
	      >/dev/null; } ||
	    { echo "minroot: cannot install mmdebstrap"
	      echo "0 passed, 1 failed"; exit 1; }
fi

root=$(mktemp -d /tmp/smtpcertd-minroot.XXXXXX)
cleanup() {
	# The mounts live in the private namespace below and are gone with
	# it; --one-file-system guards against one that is not.
	if [ -z "${KEEP_ROOT:-}" ]; then
		rm -rf --one-file-system "$root"
	else
		echo "minroot: root kept in $root"
	fi
}
trap cleanup EXIT

# The machine's configured apt sources, so the root sees the same mirror.
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources; do
	[ -s "$f" ] && sources+=("$f")
done
echo "=== minroot: mmdebstrap --variant=minbase bookworm"
if ! mmdebstrap --quiet --variant=minbase bookworm "$root" \
    "${sources[@]}" >"$root.log" 2>&1; then
	tail -20 "$root.log"; rm -f "$root.log"
	echo "minroot: mmdebstrap failed"; echo "0 passed, 1 failed"; exit 1
fi
rm -f "$root.log"

# What a container runtime provides: name resolution files.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/hosts "$root/etc/hosts"
# The tree as it is (tracked files), not the host's build products.
mkdir "$root/src"
git -C "$TOP" ls-files -z | (cd "$TOP" && tar --null -T - -cf -) |
    tar -C "$root/src" -xf -

echo "=== minroot: the README's test command (plain pass) in the root"
# A private mount namespace: the mounts end with the last process in it.
unshare --mount --propagation private bash -c '
	root=$1
	# The root a mount point, as in a container: tests that unshare a
	# mount namespace inside it need / to be one.
	mount --bind "$root" "$root" &&
	mount -t proc proc "$root/proc" &&
	mount --rbind /sys "$root/sys" &&
	mount --rbind /dev "$root/dev" || exit 1
	exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    HOME=/root TERM=dumb LANG=C.UTF-8 PASSES=0 \
	    bash -c "cd /src && bash scripts/run-tests.sh"
' minroot "$root" 2>&1 | tee "$root.out"
rc=${PIPESTATUS[0]}
# The suite's own last line is already the stage's summary.
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$root.out" | tail -1)
rm -f "$root.out"
if [ -z "$summary" ]; then
	echo "0 passed, 1 failed"
	exit 1
fi
exit "$rc"
