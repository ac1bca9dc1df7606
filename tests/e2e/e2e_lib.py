"""Small helpers for the scripted e2e suites (tests/e2e/t_*.py)."""
import json
import urllib.error
import urllib.request


def http(g, method, path, body=None, headers=None, timeout=30):
    """One request to the gateway g; returns (status, parsed JSON or {})."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (g.port, path),
                                 data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, st = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, st = e.read(), e.code
    try:
        return st, json.loads(raw)
    except ValueError:
        return st, {"_raw": raw.decode(errors="replace")}


class Checker:
    """Prints one ok/FAIL line per check; done() is the exit status."""

    def __init__(self):
        self.failed = 0

    def ok(self, name, cond, detail=""):
        if cond:
            print("ok   " + name)
        else:
            self.failed += 1
            print("FAIL %s %s" % (name, detail))

    def eq(self, name, got, want):
        self.ok(name, got == want, "got %r, want %r" % (got, want))

    def logs(self, g, secrets=()):
        err = g.check_logs(secrets)
        self.ok("logs clean (no sanitizer report, no secret)", err is None, err or "")

    def done(self):
        return 1 if self.failed else 0


def fcgi_rec(t, content):
    """One FastCGI record of type t for request 1, padded to 8 bytes."""
    import struct
    pad = (8 - len(content) % 8) % 8
    return struct.pack("!BBHHBx", 1, t, 1, len(content), pad) + \
        content + b"\0" * pad


def fcgi_begin(params, keep=False):
    """BEGIN_REQUEST (a responder; FCGI_KEEP_CONN with keep) and the
    params, params: {name: str|bytes}."""
    import struct

    def ln(n):
        return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)

    def nv(k, v):
        k = k if isinstance(k, bytes) else k.encode()
        v = v if isinstance(v, bytes) else v.encode()
        return ln(len(k)) + ln(len(v)) + k + v

    p = b"".join(nv(k, v) for k, v in params.items())
    msg = fcgi_rec(1, struct.pack("!HB5x", 1, 1 if keep else 0))
    for i in range(0, len(p), 65535):
        msg += fcgi_rec(4, p[i:i + 65535])
    return msg + fcgi_rec(4, b"")


def fcgi_answer(sock):
    """The stdout records up to END_REQUEST (or the end of the stream),
    read from sock; the connection is left as it is."""
    import struct
    out, buf = b"", b""
    for _ in range(100000):
        while len(buf) >= 8:
            _, t, _, n, pad = struct.unpack("!BBHHB", buf[:7])
            if len(buf) < 8 + n + pad:
                break
            if t == 6:
                out += buf[8:8 + n]
            buf = buf[8 + n + pad:]
            if t == 3:
                return out
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return out


def fcgi(addr, params, body=b"", timeout=30):
    """One FastCGI responder request straight to the app (no web
    server), so params may carry any byte.  params: {name: str|bytes};
    body over 65535 bytes goes in several records.  Returns (status,
    headers text, body bytes)."""
    import socket

    msg = fcgi_begin(params)
    for i in range(0, len(body), 65535):
        msg += fcgi_rec(5, body[i:i + 65535])
    msg += fcgi_rec(5, b"")
    s = socket.create_connection(addr, timeout)
    try:
        s.sendall(msg)
        out = fcgi_answer(s)
    finally:
        s.close()
    head, _, rest = out.partition(b"\r\n\r\n")
    status = 200
    for line in head.decode(errors="replace").split("\r\n"):
        if line.lower().startswith("status:"):
            status = int(line.split()[1])
    return status, head.decode(errors="replace"), rest


def cgi(method, uri, body=b"", **extra):
    """The CGI variables a web server passes for one request."""
    path, _, query = uri.partition("?") if isinstance(uri, str) else \
        (uri, b"", b"")
    p = {"REQUEST_METHOD": method, "REQUEST_URI": uri,
         "SCRIPT_NAME": path, "QUERY_STRING": query,
         "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
         "CONTENT_TYPE": "application/json"}
    if body is not None:
        p["CONTENT_LENGTH"] = str(len(body))
    p.update(extra)
    return p
