#!/usr/bin/python3
"""keyscan.py PID KEYFILE: search a process's memory for a private key.

Reads /proc/PID/mem over every readable mapping and looks for the key's
secrets in the forms a process could hold them: big-endian bytes (DER,
our own buffers), little-endian bytes (OpenSSL BIGNUM words on x86_64)
and a line of the PEM text.  RSA: the primes p and q; EC: the private
scalar.  Prints one line per form found ("found rsa-p le at 0x..."),
then "hits N".  Run as root (ptrace access to another user's process).
"""
import re
import sys

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key


def secrets(path):
    pem = open(path, "rb").read()
    key = load_pem_private_key(pem, password=None)
    out = []
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        size = (key.key_size // 2 + 7) // 8
        out += [("rsa-p", n.p.to_bytes(size, "big")),
                ("rsa-q", n.q.to_bytes(size, "big"))]
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        v = key.private_numbers().private_value
        size = (key.curve.key_size + 7) // 8
        out.append(("ec-scalar", v.to_bytes(size, "big")))
    else:
        sys.exit("unsupported key type")
    forms = []
    for name, be in out:
        forms.append((name + " be", be))
        forms.append((name + " le", be[::-1]))
    # The PEM body's first full line (the key's DER in base64).
    lines = [l for l in pem.splitlines() if l and not l.startswith(b"-----")]
    if lines:
        forms.append(("pem-line", lines[0]))
    return forms


CHUNK = 16 << 20
# Larger mappings are sanitizer shadow or reserved allocator space
# (terabytes, mostly never touched): skipped, and said so.
HUGE = 4 << 30


def main():
    pid, keyfile = sys.argv[1], sys.argv[2]
    forms = secrets(keyfile)
    overlap = max(len(n) for _, n in forms)
    hits = skipped = 0
    with open("/proc/%s/maps" % pid) as maps, \
            open("/proc/%s/mem" % pid, "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            start, end, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            if perms[0] != "r" or "[vvar]" in line or "[vsyscall]" in line:
                continue
            if end - start > HUGE:
                skipped += end - start
                continue
            pos, tail = start, b""
            while pos < end:
                n = min(CHUNK, end - pos)
                try:
                    mem.seek(pos)
                    data = tail + mem.read(n)
                except (OSError, ValueError, OverflowError):
                    tail = b""
                    pos += n
                    continue
                for name, needle in forms:
                    i = data.find(needle)
                    if i >= 0:
                        hits += 1
                        print("found %s at %#x" % (name, pos - len(tail) + i))
                tail = data[-overlap:]
                pos += n
    if skipped:
        print("skipped %d bytes in huge mappings" % skipped)
    print("hits %d" % hits)


main()
