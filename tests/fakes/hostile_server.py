#!/usr/bin/python3
"""A hostile upstream for every HTTPS API the gateway calls (WeCom, the
Official Account, Tencent Cloud v5 and API 3.0, bk-user, dest_url), on
127.0.0.1 only.  What it does is read from DIR/mode before each
request, so one run walks every mode:

    huge        200 with a 100 MB body (Content-Length), sent as fast as
                the client reads
    chunked     200, chunked, chunks without end
    trickle     200, then one byte a second
    silent      accepts, reads the request, never answers
    wrongtypes  200 JSON with a wrong type in every field the gateway
                reads (strings for numbers, numbers for strings, ...)
    missing     200 JSON saying success with the fields that carry the
                result left out
    nomsgid     a good access token, then errcode 0 with no msgid for the
                message itself (WeChat sends always carry one)
    html        200 text/html: a proxy's error page
    redirect    302 to https://evil.example/ (must not be followed)
    empty       200 with no body

--wrong-cert-port serves the same with a certificate for another name
(evil.example), which the gateway must refuse.  Every loop is bounded:
the server ends after --lifetime seconds, a stream after --max-secs.
"""
import argparse
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--wrong-cert-port", type=int)
ap.add_argument("--dir", required=True)
ap.add_argument("--pki", required=True)
ap.add_argument("--hosts", default="qyapi.weixin.qq.com,api.weixin.qq.com,"
                "sms.tencentcloudapi.com,vms.tencentcloudapi.com,"
                "yun.tim.qq.com,cloud.tim.qq.com,bkapi.example.com,"
                "dest.example.com")
ap.add_argument("--max-secs", type=float, default=60)
ap.add_argument("--lifetime", type=float, default=600)
A = ap.parse_args()

WRONG = {
    "errcode": "0", "errmsg": 0, "access_token": 12345, "expires_in": "7200",
    "invaliduser": ["u1"], "invalidparty": 7, "msgid": {"x": 1},
    "result": "0", "detail": {"mobile": 1}, "ErrorCode": None,
    "ext": [], "callid": 99, "data": "not a list",
    "Response": {"SendStatusSet": {"PhoneNumber": 1}, "SendStatus": [],
                 "Error": "no", "RequestId": 5},
}
MISSING = {"errcode": 0, "errmsg": "ok", "result": 0,
           "Response": {"RequestId": "r-missing"}}


def mode():
    try:
        with open(os.path.join(A.dir, "mode")) as f:
            return f.read().strip()
    except OSError:
        return "html"


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def head(self, status, ctype, length=None, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()

    def simple(self, status, body, ctype="application/json", extra=()):
        import json
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.head(status, ctype, len(data), extra)
        self.wfile.write(data)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        m = mode()
        with open(os.path.join(A.dir, "calls.log"), "a") as f:
            f.write("%s %s %s\n" % (m, self.headers.get("Host"), self.path))
        end = time.time() + A.max_secs
        try:
            if m == "huge":
                size = 100 << 20
                self.head(200, "application/json", size)
                block = b"{" + b" " * 65534 + b"}"
                sent = 0
                while sent < size and time.time() < end:
                    self.wfile.write(block)
                    sent += len(block)
            elif m == "chunked":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"[" * 4096
                while time.time() < end:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            elif m == "trickle":
                self.head(200, "application/json", 1000)
                while time.time() < end:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)
            elif m == "silent":
                while time.time() < end:
                    time.sleep(0.5)
            elif m == "wrongtypes":
                self.simple(200, WRONG)
            elif m == "missing":
                self.simple(200, MISSING)
            elif m == "nomsgid":
                # A good token, then a send "taken" with no msgid.
                if "token" in self.path:
                    self.simple(200, {"errcode": 0, "errmsg": "ok",
                                      "access_token": "TOKEN-nomsgid",
                                      "expires_in": 7200})
                else:
                    self.simple(200, {"errcode": 0, "errmsg": "ok"})
            elif m == "redirect":
                self.simple(302, b"moved", "text/plain",
                            [("Location", "https://evil.example/steal")])
            elif m == "empty":
                self.simple(200, b"")
            else:
                self.simple(200, b"<html><body>502 Bad Gateway</body></html>",
                            "text/html")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        self.close_connection = True

    do_GET = do_POST = handle_any


def serve(port, hosts):
    cert, key = pki.make_leaf(A.pki, hosts)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = ThreadingHTTPServer(("127.0.0.1", port), H)
    srv.daemon_threads = True
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def main():
    os.makedirs(A.dir, exist_ok=True)
    serve(A.port, A.hosts.split(","))
    if A.wrong_cert_port:
        serve(A.wrong_cert_port, ["evil.example"])
    print("hostile fake on 127.0.0.1:%d" % A.port, flush=True)
    time.sleep(A.lifetime)


if __name__ == "__main__":
    main()
