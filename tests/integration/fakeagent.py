#!/usr/bin/env python3
# DESIGN: a stand-in for ccm-agent's /v1/attest that shows what the client
# does with its connection, which the real agent cannot be made to show
# deterministically. Every POST is answered 200 with a placeholder
# certificate (HTTP/1.1, Content-Length, never "Connection: close"). In
# mode "keep" the connection stays open for the next request; in mode
# "close" it is closed right after each answer without saying so, as an
# agent hitting its idle timeout or restarting would: the client's next
# request on it finds it closed and must be sent again on a new one. In
# mode "nocert" the connection stays open but only its first answer holds
# a certificate; the later ones are 200 with "certificate": null, which the
# bench must count as errors although it parses only a client's first
# answer in full. The counts (connections accepted, requests answered) are
# rewritten to COUNTS_FILE at each, as "CONNS REQS". Stdlib only.
#
# usage: fakeagent.py keep|close|nocert PORT COUNTS_FILE
import os
import socket
import sys
import threading

MODE, PORT, COUNTS = sys.argv[1], int(sys.argv[2]), sys.argv[3]
MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024
BODY = b'{"certificate":"-----BEGIN CERTIFICATE-----\\nfake\\n-----END CERTIFICATE-----\\n","chain":""}'
NOCERT = b'{"certificate":null,"chain":""}'
lock = threading.Lock()
conns = 0
reqs = 0


def save():
    with open(COUNTS + ".tmp", "w") as f:
        f.write("%d %d\n" % (conns, reqs))
    # a reader never sees a half-written file
    os.replace(COUNTS + ".tmp", COUNTS)


def read_request(sock, buf):
    """One request (head and body) from buf + sock; the rest, or None at EOF."""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEAD:
            return None
        data = sock.recv(65536)
        if not data:
            return None
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length > MAX_BODY:
        return None
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            return None
        rest += data
    return rest[length:]


def serve(sock):
    global reqs
    buf = b""
    answers = 0
    with sock:
        while True:
            buf = read_request(sock, buf)
            if buf is None:
                return
            # counted before the answer, so the counts are final once the
            # client has all its answers
            with lock:
                reqs += 1
                save()
            body = NOCERT if MODE == "nocert" and answers > 0 else BODY
            answers += 1
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            if MODE == "close":
                return


def main():
    global conns
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", PORT))
    srv.listen(64)
    with lock:
        save()
    while True:
        sock, _ = srv.accept()
        with lock:
            conns += 1
            save()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


main()
