#!/usr/bin/env python3
# DESIGN: a deterministic "registry stopped in the middle of a push" for
# the build tests. An HTTP proxy in front of a docker-registry that forwards
# one request per connection (Connection: close both ways, so no client
# reuses a connection and no request is retried behind the test's back).
# While the file ARM exists (it holds the registry's PID), the first blob
# upload request (PUT or PATCH under /v2/.../blobs/uploads/) is cut: the
# proxy forwards its headers and half of its body, SIGKILLs the registry,
# reads the rest of the client's body and closes the connection without a
# reply, so the client sees "Empty reply from server" every time, never a
# timing-dependent reset. It then removes ARM and writes CUT (the request
# line) for the test to check. With the upstream down, a connection is
# closed unanswered too. Stdlib only.
#
# usage: cutproxy.py LISTEN_PORT UPSTREAM_HOST:PORT ARM_FILE CUT_FILE
import os
import re
import signal
import socket
import sys
import threading

LISTEN, UPSTREAM, ARM, CUT = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
UP_HOST, UP_PORT = UPSTREAM.rsplit(":", 1)
UPLOAD = re.compile(rb"^(PUT|PATCH) /v2/\S+/blobs/uploads/\S* HTTP/1\.[01]$")
MAX_HEAD = 64 * 1024
lock = threading.Lock()


def read_head(sock):
    """Bytes up to the end of the header block, and what came after."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
        if len(buf) > MAX_HEAD:
            return None, b""
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def close_header(head):
    """The header block with Connection: close (any other Connection dropped)."""
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
    return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n"


def content_length(head):
    for l in head.split(b"\r\n")[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v.strip())
    return 0


def read_exact(sock, n, have):
    while len(have) < n:
        chunk = sock.recv(min(65536, n - len(have)))
        if not chunk:
            break
        have += chunk
    return have


def armed_pid(line):
    """The registry PID when this request is the one to cut (one-shot)."""
    if not UPLOAD.match(line):
        return None
    with lock:
        try:
            pid = int(open(ARM).read().strip())
        except (OSError, ValueError):
            return None
        os.unlink(ARM)
        return pid


def cut(client, up, head, body, n, pid):
    body = read_exact(client, n // 2, body)
    up.sendall(close_header(head) + body[: n // 2])
    os.kill(pid, signal.SIGKILL)
    read_exact(client, n, body)
    with open(CUT + ".tmp", "w") as f:
        f.write(head.split(b"\r\n", 1)[0].decode() + "\n")
    os.rename(CUT + ".tmp", CUT)


def handle(client):
    up = None
    try:
        head, rest = read_head(client)
        if head is None:
            return
        line = head.split(b"\r\n", 1)[0]
        n = content_length(head)
        try:
            up = socket.create_connection((UP_HOST, int(UP_PORT)), timeout=30)
        except OSError:
            return  # the registry is down: no answer, as a dead server gives
        pid = armed_pid(line)
        if pid is not None:
            cut(client, up, head, rest, n, pid)
            return
        body = read_exact(client, n, rest)
        up.sendall(close_header(head) + body)
        rhead, rrest = read_head(up)
        if rhead is None:
            return
        client.sendall(close_header(rhead) + rrest)
        while True:
            chunk = up.recv(65536)
            if not chunk:
                break
            client.sendall(chunk)
    except OSError:
        pass
    finally:
        if up is not None:
            up.close()
        client.close()


def main():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", LISTEN))
    srv.listen(64)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
