#!/usr/bin/env python3
# DESIGN: a manager that answers issue batches wrongly on purpose, so the
# node agent's checks of a batch answer (src/ccm-agent/attest.c) can be
# driven end to end: the real ccmd never sends a short, long or malformed
# answer. It speaks HTTPS (the agent verifies it with --cacert; it does
# not ask for the agent's client certificate), keeps connections alive as
# ccmd does, answers heartbeats, holds lone /v1/node/issue calls for half a
# second (so that the requests arriving meanwhile queue up and go out as a
# batch) and answers them 503 "fake_single", and answers
# /v1/node/issue/batch as the file MODE_FILE says at that moment (see
# answer_batch). It refuses a batch whose Accept does not ask for frames
# (the agent's default). Stdlib only.
#
# usage: fakemanager.py PORT CERT KEY MODE_FILE
import http.server
import json
import ssl
import sys
import time

PORT, CERT, KEY, MODE_FILE = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
FRAMES = "application/vnd.ccm.frames"


def frame(status, body, app=0, build=0):
    return b"%d %d %d %d\n%s\n" % (status, len(body), app, build, body)


def grant(i):
    if i % 2:  # every other one refused, as ccmd refuses an item
        return frame(403, b'{"error":{"code":"policy_denied","message":"fake refusal"}}')
    return frame(200, b'{"certificate":"fake-%d"}' % i, 5, 6)


def answer_batch(mode, n):
    """(status, content type, body) for a batch of n requests."""
    if mode == "good":
        return 200, FRAMES, b"".join(grant(i) for i in range(n))
    if mode == "fewer":
        return 200, FRAMES, b"".join(grant(i) for i in range(n - 1))
    if mode == "more":
        return 200, FRAMES, b"".join(grant(i) for i in range(n + 1))
    if mode == "header":
        return 200, FRAMES, b"200 x 5 6\n{}\n" * n
    if mode == "toobig":
        return 200, FRAMES, frame(200, b"{" + b" " * (200 * 1024) + b"}", 5, 6) * n
    if mode == "short":
        return 200, FRAMES, b"200 100 5 6\n{}\n"
    if mode == "notobject":
        return 200, FRAMES, frame(200, b"[1]", 5, 6) * n
    if mode == "json":
        return 200, "application/json", b'{"results":[]}'
    if mode == "refused":
        return 503, "application/json", b'{"error":{"code":"unavailable","message":"fake down"}}'
    if mode == "garbage":
        return 200, "text/plain", b"not json at all"
    return 500, "text/plain", b"unknown mode"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake manager: " + (fmt % args) + "\n")

    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/node/status":
            self.reply(200, "application/json", b'{"interval_s":60}')
        elif self.path == "/v1/node/issue":
            time.sleep(0.5)
            self.reply(503, "application/json",
                       b'{"error":{"code":"fake_single","message":"a lone request"}}')
        elif self.path == "/v1/node/issue/batch":
            if FRAMES not in self.headers.get("Accept", ""):
                self.reply(400, "application/json",
                           b'{"error":{"code":"no_frames","message":"Accept without frames"}}')
                return
            n = len(json.loads(body)["requests"])
            with open(MODE_FILE) as f:
                mode = f.read().strip()
            self.reply(*answer_batch(mode, n))
        else:
            self.reply(404, "application/json", b'{"error":{"code":"not_found","message":"fake"}}')


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv = Server(("127.0.0.1", PORT), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
