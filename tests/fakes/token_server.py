#!/usr/bin/python3
"""An HTTPS fake of the WeChat Official Account's token endpoints only
(GET /cgi-bin/token, POST /cgi-bin/stable_token), whose access_token is
as long as the test asks: as many "A" as the file DIR/token-len says,
read at each call.  wechat_server.py's tokens have one length; the
LIM_TOKEN checks need one at the cap and one over it.  Each call
appends its path to DIR/token-calls.  Anything else: 404.

usage: token_server.py --port P --dir DIR --pki DIR [--lifetime 600]
"""
import argparse
import http.server
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402

ENDPOINTS = ("/cgi-bin/stable_token", "/cgi-bin/token")


def handler(d):
    class H(http.server.BaseHTTPRequestHandler):
        def answer(self):
            n = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(n)
            path = self.path.split("?")[0]
            if path not in ENDPOINTS:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with open(os.path.join(d, "token-calls"), "a") as f:
                f.write(path + "\n")
            with open(os.path.join(d, "token-len")) as f:
                k = int(f.read())
            b = json.dumps({"access_token": "A" * k,
                            "expires_in": 7200}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)

        do_GET = do_POST = answer

        def log_message(self, *a):
            pass
    return H


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--pki", required=True)
    p.add_argument("--lifetime", type=float, default=600)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    srv = pki.tls_server(http.server.ThreadingHTTPServer, a.port,
                         handler(a.dir), a.pki, ["api.weixin.qq.com"])
    # Bounded: the fake ends by itself.
    threading.Timer(a.lifetime, os._exit, (0,)).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
