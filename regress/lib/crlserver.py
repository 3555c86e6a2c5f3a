#!/usr/bin/python3
# A tiny HTTP server for the CRL tests (regress/test_crl.sh): serves the
# files of --dir on 127.0.0.1:--port.  Its behaviour is switched at run
# time by writing one word to DIR/mode: "ok" (serve files, the default),
# "500" (answer every request with 500), "hang" (accept, never answer),
# "slow" (send one byte per second).  Writes DIR/server.pid when
# listening.  With --cert and --key it speaks HTTPS.  Standard library
# only.
import argparse, http.server, os, socketserver, ssl, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--cert")
ap.add_argument("--key")
a = ap.parse_args()

def mode():
    try:
        with open(os.path.join(a.dir, "mode")) as f:
            return f.read().strip() or "ok"
    except OSError:
        return "ok"

class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kw):
        super().__init__(*args, directory=a.dir, **kw)
    def log_message(self, fmt, *args):
        print("%s %s" % (mode(), fmt % args), flush=True)
    def do_GET(self):
        m = mode()
        if m == "500":
            self.send_error(500, "told to fail")
            return
        if m == "hang":
            time.sleep(3600)
            return
        return super().do_GET()

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

srv = S(("127.0.0.1", a.port), H)
if a.cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(os.path.join(a.dir, "server.pid"), "w") as f:
    f.write("%d\n" % os.getpid())
srv.serve_forever()
