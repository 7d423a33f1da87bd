#!/usr/bin/env python3
"""A Bearer-token front for a registry, for tests/cli/image.sh.

Requests to /v2/... need "Authorization: Bearer <token>"; without it the
answer is 401 with a Bearer challenge naming /token on this server, the
service and the scope. /token checks Basic credentials (USER:PASS) and
returns a token valid for the requested scope. Everything else is proxied
to the real registry, Location headers rewritten to point back here.
Usage: image-bearer.py PORT UPSTREAM_HOST:PORT USER:PASS
"""
import base64, http.client, http.server, json, secrets, sys, urllib.parse

port, upstream, creds = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tokens = {}


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def scope(self):
        parts = self.path.split("?")[0].split("/")
        if len(parts) < 4:
            return ""
        name = "/".join(parts[2:-2]) if parts[-2] in ("manifests", "blobs") else "/".join(parts[2:-3])
        act = "pull" if self.command in ("GET", "HEAD") else "pull,push"
        return "repository:%s:%s" % (name, act)

    def token(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        auth = self.headers.get("Authorization", "")
        if auth != "Basic " + base64.b64encode(creds.encode()).decode():
            return self.reply(401, b'{"details":"bad credentials"}')
        t = secrets.token_hex(16)
        tokens[t] = q.get("scope", [""])[0]
        self.reply(200, json.dumps({"token": t}).encode(), [("Content-Type", "application/json")])

    def handle_any(self):
        if self.path.startswith("/token"):
            return self.token()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization", "")
        scope = self.scope()
        have = tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if have is None or (scope and scope.split(":")[1] not in have):
            ch = 'Bearer realm="http://127.0.0.1:%d/token",service="ccm-test"' % port
            if scope:
                ch += ',scope="%s"' % scope
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token"}]}',
                              [("WWW-Authenticate", ch)])
        c = http.client.HTTPConnection(upstream)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("authorization", "host")}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        out = []
        for k, v in r.getheaders():
            if k.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            if k.lower() == "location":
                v = v.replace("http://" + upstream, "http://127.0.0.1:%d" % port)
            out.append((k, v))
        self.reply(r.status, data, out)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
