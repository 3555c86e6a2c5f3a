#!/usr/bin/python3
"""Recording upstream SMTP server for smtpcertd's integration tests.

Stdlib only; run it under /usr/bin/python3 (regress/lib/upstream.sh does).

    upstream.py --port P --dir D [--host 127.0.0.1] [--tls-cert C --tls-key K]
                [--tls-ca CA] [--tls-max 1.2|1.3] [--tls-ciphers LIST]
                [--smtps] [--require-tls] [--xclient]
                [--smtputf8] [--size N] [--fail MODE[,MODE...]]
                [--hostname NAME] [--timeout SECS]

Speaks ESMTP (EHLO: PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, plus
STARTTLS when a certificate is given, XCLIENT with --xclient, SMTPUTF8 with
--smtputf8).  --smtps is implicit TLS from the first byte (no STARTTLS).
--tls-ca asks for (but does not require) a client certificate.

Files in D (N counts from 1; connections and messages are counted
separately, across the whole run):

  upstream.pid   written once the port listens (the readiness signal)
  conn-N.raw     every byte received on connection N, exactly, appended as
                 it arrives; after STARTTLS the decrypted bytes follow (the
                 offset where TLS started is in conn-N.json)
  conn-N.log     transcript ("C: " / "S: " lines and notes), for humans
  conn-N.json    written when connection N ends: peer, tls, tls_offset,
                 starttls_injected (bytes pipelined after STARTTLS that were
                 discarded), xclient, messages, closed (quit, eof, dropped,
                 timeout, error)
  msg-N.eml      the DATA bytes of message N exactly as received (still
                 dot-stuffed), up to but EXCLUDING the final "\\r\\n.\\r\\n"
                 (so a message sent as "a\\r\\nb\\r\\n.\\r\\n" is stored
                 as "a\\r\\nb")
  msg-N.json     its envelope: conn, helo, mail_from, mail_params, rcpts,
                 rcpt_params, xclient, tls, tls_version, cipher,
                 peer_cert_subject, size, bare_lf, bare_cr, nul, eightbit.
                 Written after msg-N.eml: its presence means complete.

A message is stored only when its final dot arrived and the answer is 250;
both files exist before the 250 is sent.

Failure modes (--fail, or the words in D/fail, which is re-read before every
command and again at the end of DATA; a D/fail file overrides --fail, an
empty one or "none" means no failure):

  rcpt-reject     550 5.1.1 on RCPT for addresses containing "reject"
  rcpt-tempfail   450 4.2.0 on RCPT for addresses containing "tempfail"
  data-4xx        451 4.3.0 after the final dot (nothing stored)
  data-5xx        554 5.6.0 after the final dot (nothing stored)
  drop-mid-data   after 354, close once some DATA bytes arrived
  drop-after-data read the whole message, then close without an answer
  hang-data       read the whole message, then never answer (until the
                  peer closes or --timeout)
  greet-4xx       421 4.3.2 instead of the greeting, then close
  tempfail-all    451 4.3.0 for every MAIL, RCPT and DATA

Strict about line endings: a command line must end in CRLF and contain no
other CR or NUL (else 500 5.5.2); DATA ends only at CRLF.CRLF.
"""

import argparse
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time

MAX_CMD_LINE = 4096
MAX_RCPTS = 1000
XCLIENT_ATTRS = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN",
                 "DESTADDR", "DESTPORT")


class Dropped(Exception):
    """The session ends now, on purpose or because the peer went away."""

    def __init__(self, how):
        super().__init__(how)
        self.how = how


def xtext_decode(s):
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), s)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Server:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.lock = threading.Lock()
        self.nconn = 0
        self.nmsg = 0
        self.ctx = None
        if args.tls_cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if args.tls_max == "1.2":
                self.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            if args.tls_ciphers:
                self.ctx.set_ciphers(args.tls_ciphers)
            self.ctx.load_cert_chain(args.tls_cert, args.tls_key)
            if args.tls_ca:
                self.ctx.load_verify_locations(args.tls_ca)
                self.ctx.verify_mode = ssl.CERT_OPTIONAL

    def fail_modes(self):
        try:
            with open(os.path.join(self.dir, "fail")) as f:
                text = f.read()
        except FileNotFoundError:
            text = self.args.fail or ""
        modes = set(text.replace(",", " ").split())
        modes.discard("none")
        return modes

    def next_conn(self):
        with self.lock:
            self.nconn += 1
            return self.nconn

    def next_msg(self):
        with self.lock:
            self.nmsg += 1
            return self.nmsg

    def serve(self):
        ls = socket.create_server((self.args.host, self.args.port),
                                  backlog=128)
        pidfile = os.path.join(self.dir, "upstream.pid")
        write_atomic(pidfile, b"%d\n" % os.getpid())
        while True:
            sock, addr = ls.accept()
            n = self.next_conn()
            t = threading.Thread(target=Session(self, sock, addr, n).run,
                                 daemon=True)
            t.start()


class Session:
    def __init__(self, srv, sock, addr, n):
        self.srv = srv
        self.args = srv.args
        self.sock = sock
        self.peer = "%s:%d" % addr[:2]
        self.n = n
        base = os.path.join(srv.dir, "conn-%d" % n)
        self.base = base
        self.raw = open(base + ".raw", "wb", buffering=0)
        self.log = open(base + ".log", "w", buffering=1, errors="replace")
        self.nraw = 0
        self.buf = b""
        self.tls = False
        self.tls_offset = None
        self.injected = 0
        self.helo = None
        self.xclient = {}
        self.messages = []
        self.reset()

    def reset(self):
        self.mail_from = None
        self.mail_params = ""
        self.rcpts = []
        self.rcpt_params = []

    # I/O

    def note(self, text):
        self.log.write("# %s\n" % text)

    def recv(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Dropped("timeout")
        except (OSError, ssl.SSLError) as e:
            self.note("recv: %s" % e)
            raise Dropped("error")
        if data:
            self.raw.write(data)
            self.nraw += len(data)
        return data

    def send(self, text):
        self.log.write("S: %s\n" % text.replace("\r\n", "\nS: "))
        try:
            self.sock.sendall(text.encode("utf-8", "surrogateescape") + b"\r\n")
        except (OSError, ssl.SSLError) as e:
            self.note("send: %s" % e)
            raise Dropped("error")

    def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            if len(self.buf) > MAX_CMD_LINE:
                line, self.buf = self.buf, b""
                return line
            data = self.recv()
            if not data:
                raise Dropped("eof")
            self.buf += data

    def close(self, how):
        self.note("closed: %s" % how)
        try:
            self.sock.close()
        except OSError:
            pass
        info = {
            "conn": self.n, "peer": self.peer, "tls": self.tls,
            "tls_offset": self.tls_offset,
            "starttls_injected": self.injected,
            "bytes": self.nraw, "helo": self.helo, "xclient": self.xclient,
            "messages": self.messages, "closed": how,
        }
        write_atomic(self.base + ".json",
                     json.dumps(info, indent=1).encode() + b"\n")
        self.raw.close()
        self.log.close()

    # session

    def run(self):
        how = "error"
        try:
            self.sock.settimeout(self.args.timeout)
            if self.args.smtps:
                self.start_tls()
            if "greet-4xx" in self.srv.fail_modes():
                self.send("421 4.3.2 %s Service not available (test)"
                          % self.args.hostname)
                raise Dropped("dropped")
            self.send("220 %s ESMTP recorder" % self.args.hostname)
            while True:
                line = self.readline()
                self.log.write("C: %r\n" % line)
                self.command(line)
        except Dropped as e:
            how = e.how
            if how == "timeout":
                try:
                    self.send("421 4.4.2 %s Timeout" % self.args.hostname)
                except Dropped:
                    pass
        except Exception as e:  # keep the server up, say what happened
            self.note("exception: %r" % e)
        finally:
            self.close(how)

    def start_tls(self):
        try:
            self.sock = self.srv.ctx.wrap_socket(self.sock, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.note("TLS handshake failed: %s" % e)
            raise Dropped("error")
        self.tls = True
        self.tls_offset = self.nraw
        self.note("TLS %s %s" % (self.sock.version(), self.sock.cipher()[0]))

    def command(self, line):
        if not line.endswith(b"\r\n") or b"\r" in line[:-2] or b"\0" in line:
            if len(line) > MAX_CMD_LINE:
                return self.send("500 5.5.6 Line too long")
            return self.send("500 5.5.2 Syntax error: line must end in CRLF"
                             " and contain no CR, LF or NUL")
        text = line[:-2].decode("utf-8", "surrogateescape")
        verb, _, arg = text.partition(" ")
        verb = verb.upper()
        modes = self.srv.fail_modes()
        handler = getattr(self, "cmd_" + verb, None)
        if handler is None or (verb == "XCLIENT" and not self.args.xclient):
            return self.send("500 5.5.2 Unknown command")
        if modes & {"tempfail-all"} and verb in ("MAIL", "RCPT", "DATA"):
            return self.send("451 4.3.0 Temporary failure (test)")
        handler(arg, modes)

    def cmd_EHLO(self, arg, modes):
        if not arg:
            return self.send("501 5.5.4 EHLO needs a domain")
        self.helo = arg
        self.reset()
        caps = ["%s Hello %s" % (self.args.hostname, arg), "PIPELINING",
                "SIZE %d" % self.args.size, "8BITMIME",
                "ENHANCEDSTATUSCODES"]
        if self.args.smtputf8:
            caps.append("SMTPUTF8")
        if self.srv.ctx and not self.tls:
            caps.append("STARTTLS")
        if self.args.xclient:
            caps.append("XCLIENT " + " ".join(XCLIENT_ATTRS))
        caps.append("HELP")
        self.send("\r\n".join("250%s%s" % ("-" if i < len(caps) - 1 else " ",
                                           c) for i, c in enumerate(caps)))

    def cmd_HELO(self, arg, modes):
        if not arg:
            return self.send("501 5.5.4 HELO needs a domain")
        self.helo = arg
        self.reset()
        self.send("250 %s" % self.args.hostname)

    def cmd_STARTTLS(self, arg, modes):
        if arg:
            return self.send("501 5.5.4 Syntax: STARTTLS")
        if not self.srv.ctx or self.tls:
            return self.send("502 5.5.1 STARTTLS not available")
        self.send("220 2.0.0 Ready to start TLS")
        if self.buf:
            # CVE-2011-0411: never treat pipelined plaintext as TLS-protected
            self.injected += len(self.buf)
            self.note("discarded %d bytes pipelined after STARTTLS: %r"
                      % (len(self.buf), self.buf[:200]))
            self.buf = b""
        self.start_tls()
        self.helo = None
        self.reset()

    def cmd_XCLIENT(self, arg, modes):
        if self.mail_from is not None:
            return self.send("503 5.5.1 XCLIENT not allowed in a transaction")
        attrs = {}
        for item in arg.split():
            name, eq, value = item.partition("=")
            if not eq or name.upper() not in XCLIENT_ATTRS:
                return self.send("501 5.5.4 Bad XCLIENT attribute: %s" % item)
            attrs[name.upper()] = xtext_decode(value)
        if not attrs:
            return self.send("501 5.5.4 Syntax: XCLIENT attr=value ...")
        self.xclient.update(attrs)
        self.helo = None
        self.reset()
        self.send("220 %s ESMTP recorder" % self.args.hostname)

    @staticmethod
    def parse_path(arg, keyword):
        m = re.match(r"(?i)%s:\s*<([^<>]*)>\s*(.*)$" % keyword, arg)
        if not m:
            return None, None
        return m.group(1), m.group(2)

    def cmd_MAIL(self, arg, modes):
        if self.helo is None:
            return self.send("503 5.5.1 Send EHLO first")
        if self.mail_from is not None:
            return self.send("503 5.5.1 Nested MAIL command")
        if self.args.require_tls and not self.tls:
            return self.send("530 5.7.0 Must issue a STARTTLS command first")
        addr, params = self.parse_path(arg, "FROM")
        if addr is None:
            return self.send("501 5.5.4 Syntax: MAIL FROM:<address>")
        m = re.search(r"(?i)(?:^|\s)SIZE=(\d+)", params)
        if m and int(m.group(1)) > self.args.size:
            return self.send("552 5.3.4 Message size exceeds fixed limit")
        self.mail_from, self.mail_params = addr, params
        self.send("250 2.1.0 Ok")

    def cmd_RCPT(self, arg, modes):
        if self.mail_from is None:
            return self.send("503 5.5.1 Need MAIL command")
        addr, params = self.parse_path(arg, "TO")
        if addr is None:
            return self.send("501 5.5.4 Syntax: RCPT TO:<address>")
        if "rcpt-reject" in modes and "reject" in addr.lower():
            return self.send("550 5.1.1 <%s>: Recipient rejected (test)"
                             % addr)
        if "rcpt-tempfail" in modes and "tempfail" in addr.lower():
            return self.send("450 4.2.0 <%s>: Recipient deferred (test)"
                             % addr)
        if len(self.rcpts) >= MAX_RCPTS:
            return self.send("452 4.5.3 Too many recipients")
        self.rcpts.append(addr)
        self.rcpt_params.append(params)
        self.send("250 2.1.5 Ok")

    def cmd_DATA(self, arg, modes):
        if arg:
            return self.send("501 5.5.4 Syntax: DATA")
        if self.mail_from is None:
            return self.send("503 5.5.1 Need MAIL command")
        if not self.rcpts:
            return self.send("554 5.5.1 No valid recipients")
        self.send("354 End data with <CR><LF>.<CR><LF>")
        data, self.buf = self.buf, b""
        if "drop-mid-data" in modes:
            while not data:
                data = self.recv()
                if not data:
                    raise Dropped("eof")
            self.note("drop-mid-data: closing after %d DATA bytes" % len(data))
            raise Dropped("dropped")
        # The terminator is CRLF "." CRLF where the first CRLF may be the
        # one that ended the DATA command: search in CRLF + data.
        start = 0
        while True:
            v = b"\r\n" + data
            i = v.find(b"\r\n.\r\n", start)
            if i >= 0:
                break
            start = max(0, len(v) - 4)
            chunk = self.recv()
            if not chunk:
                self.note("EOF in DATA after %d bytes: nothing stored"
                          % len(data))
                raise Dropped("eof")
            data += chunk
        msg = v[2:i] if i >= 2 else b""
        self.buf = v[i + 5:]
        self.log.write("C: <%d bytes of DATA>\n" % len(msg))
        modes = self.srv.fail_modes()
        if "drop-after-data" in modes:
            raise Dropped("dropped")
        if "hang-data" in modes:
            while self.recv():
                pass
            raise Dropped("eof")
        if "data-4xx" in modes:
            self.reset()
            return self.send("451 4.3.0 Temporary failure after DATA (test)")
        if "data-5xx" in modes:
            self.reset()
            return self.send("554 5.6.0 Message rejected after DATA (test)")
        if len(msg) > self.args.size:
            self.reset()
            return self.send("552 5.3.4 Message size exceeds fixed limit")
        n = self.store(msg)
        self.reset()
        self.send("250 2.0.0 Ok: queued as %d" % n)

    def store(self, msg):
        n = self.srv.next_msg()
        base = os.path.join(self.srv.dir, "msg-%d" % n)
        env = {
            "msg": n, "conn": self.n, "helo": self.helo,
            "mail_from": self.mail_from, "mail_params": self.mail_params,
            "rcpts": self.rcpts, "rcpt_params": self.rcpt_params,
            "xclient": self.xclient, "tls": self.tls,
            "tls_version": self.sock.version() if self.tls else None,
            "cipher": self.sock.cipher()[0] if self.tls else None,
            "peer_cert_subject": None,
            "size": len(msg),
            "bare_lf": re.search(rb"(?<!\r)\n", msg) is not None,
            "bare_cr": re.search(rb"\r(?!\n)", msg) is not None,
            "nul": b"\0" in msg,
            "eightbit": re.search(rb"[\x80-\xff]", msg) is not None,
            "time": time.time(),
        }
        if self.tls:
            cert = self.sock.getpeercert()
            if cert:
                env["peer_cert_subject"] = ", ".join(
                    "%s=%s" % kv for rdn in cert.get("subject", ())
                    for kv in rdn)
        write_atomic(base + ".eml", msg)
        write_atomic(base + ".json",
                     json.dumps(env, indent=1).encode() + b"\n")
        self.messages.append(n)
        self.note("stored msg-%d (%d bytes)" % (n, len(msg)))
        return n

    def cmd_RSET(self, arg, modes):
        self.reset()
        self.send("250 2.0.0 Ok")

    def cmd_NOOP(self, arg, modes):
        self.send("250 2.0.0 Ok")

    def cmd_VRFY(self, arg, modes):
        self.send("252 2.5.0 Cannot VRFY user")

    def cmd_HELP(self, arg, modes):
        self.send("214 2.0.0 recorder: see regress/lib/upstream.py")

    def cmd_QUIT(self, arg, modes):
        self.send("221 2.0.0 Bye")
        raise Dropped("quit")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--hostname", default="upstream.test")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-ca")
    ap.add_argument("--tls-max", choices=["1.2", "1.3"])
    ap.add_argument("--tls-ciphers")  # TLS 1.2 list, OpenSSL syntax
    ap.add_argument("--smtps", action="store_true")
    ap.add_argument("--require-tls", action="store_true")
    ap.add_argument("--xclient", action="store_true")
    ap.add_argument("--smtputf8", action="store_true")
    ap.add_argument("--size", type=int, default=10485760)
    ap.add_argument("--fail", default="")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if (args.smtps or args.require_tls or args.tls_ca) and not args.tls_cert:
        ap.error("--smtps, --require-tls and --tls-ca need --tls-cert")
    os.makedirs(args.dir, exist_ok=True)
    args.dir = os.path.abspath(args.dir)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    Server(args).serve()


if __name__ == "__main__":
    sys.exit(main())
