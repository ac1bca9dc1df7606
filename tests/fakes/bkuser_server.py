#!/usr/bin/python3
"""An HTTPS fake of bk-user's contact profiles behind the BlueKing API
gateway, for the e2e suite, on 127.0.0.1 only:

    GET /api/v3/open/tenant/users/-/contact-profiles/?bk_usernames=a,b

It checks what the gateway and bk-user check: X-Bkapi-Authorization
names an app it knows with the right secret (401 otherwise, as the
gateway answers), X-Bk-Tenant-Id names a tenant it serves (403
otherwise), at most 100 names a call (400 otherwise).  Each tenant has
its own users: the same bk_username is another person in another
tenant.  Answers {"data": [...]} as bk-user's open API does.  A name
starting with "x-garbage" makes the reply garbage (200 with HTML), one
starting with "x-slow" makes it wait --slow seconds.  Every call is a
line in DIR/calls.log: tenant, app, number of names.

    bkuser_server.py --port P --dir DIR --pki PKI [--app CODE:SECRET]
        [--host bkapi.example.com] [--slow 5] [--lifetime 600]
"""
import argparse
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--pki", required=True)
ap.add_argument("--host", default="bkapi.example.com")
ap.add_argument("--app", default="bk_cmsi:cmsi-gw-secret")
ap.add_argument("--slow", type=float, default=5)
ap.add_argument("--lifetime", type=float, default=600)
A = ap.parse_args()
APP, SECRET = A.app.split(":", 1)
LOCK = threading.Lock()
OPEN = "/api/v3/open/tenant/users/-/contact-profiles/"


def profile(tenant, name):
    """The tenant's user behind bk_username name, or None.  tenant-a
    knows u0000..u0499 and "shared"; tenant-b knows "shared" and a
    user abroad (+852)."""
    if tenant == "tenant-a" and (name == "shared" or (
            name.startswith("u") and name[1:].isdigit() and int(name[1:]) < 500)):
        return {"bk_username": name, "login_name": "a-" + name,
                "email": "%s@tenant-a.example" % name, "phone": "13900000001",
                "phone_country_code": "86", "wx_userid": "wa-" + name,
                "data_source_id": 1}
    if tenant == "tenant-b" and name == "shared":
        return {"bk_username": name, "login_name": "b-shared",
                "email": "shared@tenant-b.example", "phone": "61234567",
                "phone_country_code": "852", "wx_userid": "wb-shared",
                "data_source_id": 2}
    return None


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, doc, ctype="application/json"):
        data = (json.dumps(doc) if not isinstance(doc, str) else doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message):
        self.answer(status, {"error": {"code": code, "message": message,
                                       "data": None, "details": []}})

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        tenant = self.headers.get("X-Bk-Tenant-Id")
        try:
            auth = json.loads(self.headers.get("X-Bkapi-Authorization") or "")
        except ValueError:
            auth = {}
        names = [n for n in ",".join(q.get("bk_usernames", [])).split(",") if n]
        with LOCK, open(os.path.join(A.dir, "calls.log"), "a") as f:
            f.write("tenant=%s app=%s names=%d\n" % (
                tenant, auth.get("bk_app_code") if isinstance(auth, dict) else None,
                len(names)))
        # Through the gateway (/api/bk-user/prod/...) or straight.
        if u.path not in (OPEN, "/api/bk-user/prod" + OPEN):
            return self.error(404, "NOT_FOUND", "no such resource")
        if (not isinstance(auth, dict) or auth.get("bk_app_code") != APP or
                auth.get("bk_app_secret") != SECRET):
            return self.error(401, "UNAUTHENTICATED", "app authentication failed")
        if tenant not in ("tenant-a", "tenant-b", "default"):
            return self.error(403, "NO_PERMISSION", "tenant %s unknown" % tenant)
        if not names or len(names) > 100:
            return self.error(400, "INVALID_ARGUMENT",
                              "bk_usernames: 1 to 100 names, got %d" % len(names))
        if any(n.startswith("x-garbage") for n in names):
            return self.answer(200, "<html>gateway error</html>", "text/html")
        if any(n.startswith("x-slow") for n in names):
            time.sleep(A.slow)
        data = [p for p in (profile(tenant, n) for n in names) if p]
        self.answer(200, {"data": data})


def main():
    os.makedirs(A.dir, exist_ok=True)
    cert, key = pki.make_leaf(A.pki, [A.host])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = ThreadingHTTPServer(("127.0.0.1", A.port), H)
    srv.daemon_threads = True
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("bk-user fake on 127.0.0.1:%d" % A.port, flush=True)
    time.sleep(A.lifetime)


if __name__ == "__main__":
    main()
