"""Which TCP sockets of a running process have TCP_NODELAY set (issue 17).

	sockopts.py PID

Takes a duplicate of each of PID's socket descriptors with pidfd_open(2)
and pidfd_getfd(2) (Linux 5.6; needs root, the front is not dumpable) and
prints one JSON object per connected TCP socket:
	{"fd": N, "local": "addr:port", "peer": "addr:port", "nodelay": 0|1}
Listening sockets are skipped: they send nothing.  The duplicates are
closed at once; the process is not otherwise touched.
"""
import ctypes
import json
import os
import socket
import sys

SYS_pidfd_open = 434
SYS_pidfd_getfd = 438

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def sysc(*args):
    r = libc.syscall(*[ctypes.c_long(a) for a in args])
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def main():
    pid = int(sys.argv[1])
    pidfd = sysc(SYS_pidfd_open, pid, 0)
    try:
        for name in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, name))
            except OSError:
                continue
            if not link.startswith("socket:"):
                continue
            fd = sysc(SYS_pidfd_getfd, pidfd, int(name), 0)
            s = socket.socket(fileno=fd)
            try:
                if s.family not in (socket.AF_INET, socket.AF_INET6) or \
                        s.type != socket.SOCK_STREAM:
                    continue
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    continue
                try:
                    peer = s.getpeername()
                except OSError:
                    continue	# not connected (yet, or any more)
                loc = s.getsockname()
                print(json.dumps({
                    "fd": int(name),
                    "local": "%s:%d" % loc[:2],
                    "peer": "%s:%d" % peer[:2],
                    "nodelay": s.getsockopt(socket.IPPROTO_TCP,
                                            socket.TCP_NODELAY),
                }))
            finally:
                s.close()
    finally:
        os.close(pidfd)


main()
