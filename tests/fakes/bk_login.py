#!/usr/bin/python3
"""A fake of BlueKing login for the gateway's tests, on 127.0.0.1 only:

  GET  /login/accounts/is_login/?bk_token=T     -> live session for "good-token";
       "strfalse" answers result "false" (a string), "falseuser" result
       false naming a user all the same, "nouser" names nobody
  POST /login/accounts/get_batch_user/          -> the user directory; needs
       X-APP-CODE: esb and X-APP-TOKEN: <--token>, like the real service
       (--app CODE:TOKEN admits another app).  Under X-Bk-Tenant-Id
       tenant-a or tenant-b, "admin" is another person (admin@<tenant>.example), so a
       test sees which tenant an answer was for.

is_login must say which request of the gateway it serves, as ESB's
outgoing calls do (X-Bkapi-Request-Id, 32 hex digits): one that does not
is refused with 401, so a caller that forgets it cannot pass.
--delay-ms adds latency to every answer (a slow directory; "stall ended"
is recorded in calls.log as each delay ends); --lifetime ends the
process.  Each call is appended to DIR/calls.log.
"""
import argparse
import http.server
import json
import os
import re
import threading
import time
import urllib.parse

USERS = {
    "admin": {"username": "admin", "email": "admin@example.com",
              "phone": "13800000000", "wx_userid": "admin"},
    "bob": {"username": "bob", "email": "bob@example.com",
            "phone": "13800000002", "wx_userid": "bob"},
    "badphone": {"username": "badphone", "email": "x", "phone": "12-34",
                 "wx_userid": ""},
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--token", default="dir-token")
    ap.add_argument("--app", action="append", default=[])
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--lifetime", type=int, default=600)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    apps = {"esb": a.token}
    apps.update(dict(x.split(":", 1) for x in a.app))

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, doc, status=200):
            if a.delay_ms:
                time.sleep(a.delay_ms / 1000.0)
                self.record("stall ended")
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def record(self, what):
            with open(os.path.join(a.dir, "calls.log"), "a") as f:
                f.write(what + "\n")

        def caller_known(self):
            rid = self.headers.get("X-Bkapi-Request-Id") or ""
            return re.fullmatch(r"[0-9a-f]{32}", rid) is not None

        def do_GET(self):
            u = urllib.parse.urlparse(self.path)
            q = urllib.parse.parse_qs(u.query)
            self.record("GET " + u.path)
            if not self.caller_known():
                return self.answer({"result": False, "message":
                                    "no X-Bkapi-Request-Id"}, 401)
            if u.path != "/login/accounts/is_login/":
                return self.answer({"result": False, "message": "no"}, 404)
            if q.get("bk_token") == ["good-token"]:
                return self.answer({"result": True, "code": "00",
                                    "data": {"username": "admin"}})
            if q.get("bk_token") == ["strfalse"]:
                return self.answer({"result": "false", "code": "00",
                                    "data": {"username": "admin"}})
            if q.get("bk_token") == ["falseuser"]:
                # A refusal that still names the session's last user.
                return self.answer({"result": False, "code": "1200",
                                    "message": "user not login",
                                    "data": {"username": "admin"}})
            if q.get("bk_token") == ["nouser"]:
                return self.answer({"result": True, "code": "00", "data": {}})
            if q.get("bk_token") == ["broken"]:
                self.send_response(500)
                self.end_headers()
                return
            self.answer({"result": False, "code": "1200",
                         "message": "user not login"})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            app = self.headers.get("X-APP-CODE")
            tenant = self.headers.get("X-Bk-Tenant-Id")
            self.record("POST %s app=%s tenant=%s" % (self.path, app, tenant))
            if self.path != "/login/accounts/get_batch_user/":
                return self.answer({"result": False}, 404)
            if app not in apps or self.headers.get("X-APP-TOKEN") != apps[app]:
                return self.answer({"result": False, "code": "1302403",
                                    "message": "APP authentication failed"})
            try:
                names = json.loads(body)["username_list"]
            except (ValueError, KeyError, TypeError):
                return self.answer({"result": False, "message": "bad request"})
            data = {n: USERS[n] for n in names if n in USERS}
            if tenant in ("tenant-a", "tenant-b") and "admin" in data:
                data["admin"] = dict(data["admin"],
                                     email="admin@%s.example" % tenant)
            self.answer({"result": True, "code": "00", "data": data})

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), H)
    threading.Timer(a.lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
