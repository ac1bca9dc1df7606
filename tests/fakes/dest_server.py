#!/usr/bin/python3
"""A third party behind dest_url (contract 5.4), loopback only.

    dest_server.py --port HTTPS_PORT [--http-port PORT] --dir SPOOL
        [--host dest.example.com] [--pki DIR] [--lifetime 600]

Serves HTTPS (certificate for --host from pki.py's CA in --pki) and,
with --http-port, plain HTTP.  Each request is written to SPOOL/NNN.txt:
the request line and headers as received, a blank line, the raw body,
then "--- json ---" and the body re-serialised by Python (sorted keys,
", " and ": ", raw UTF-8) so cases can match fields whatever the
client's spacing.  The answer is chosen by "scenario=NAME" anywhere in
the body:

    ok (default)  200 {"result": true, "code": "00", "message": ...,
                  "data": {"id": 42}, "request_id": "theirs"}
    false         200 {"result": false, "code": 1234, "message": ...}
    500 502 403 404 418   that status, a short text body
    302           a redirect to /elsewhere
    nonjson       200 with an HTML body
    noresult      200 {"code": 0, "message": "no result key"}
    strfalse      200 {"result": "false", ...}: a string is no boolean
    array         200 [1, 2]
    slow          waits 10 s, then ok
    huge          200 with a 2 MiB JSON body
"""
import argparse
import json
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
ap.add_argument("--http-port", type=int)
ap.add_argument("--dir", required=True)
ap.add_argument("--host", default="dest.example.com")
ap.add_argument("--pki")
ap.add_argument("--lifetime", type=float, default=600)
A = ap.parse_args()
SEQ = [0]
LOCK = threading.Lock()


def record(req, body):
    try:
        canon = json.dumps(json.loads(body), sort_keys=True,
                           ensure_ascii=False)
    except ValueError:
        canon = "(not JSON)"
    with LOCK:
        SEQ[0] += 1
        name = "%d-%05d.txt" % (time.time_ns(), SEQ[0])
    head = "%s\r\n%s\r\n" % (req.requestline, "".join(
        "%s: %s\r\n" % (k, v) for k, v in req.headers.items()))
    with open(os.path.join(A.dir, name), "wb") as f:
        f.write(head.encode() + body + b"\n--- json ---\n" + canon.encode()
                + b"\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, ctype="application/json", extra=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        record(self, body)
        text = body.decode("utf-8", "replace")
        scen = "ok"
        if "scenario=" in text:
            scen = text.split("scenario=", 1)[1].split('"')[0].split("\\")[0]
        ok = {"result": True, "code": "00", "message": "OK from third party",
              "data": {"id": 42}, "request_id": "theirs"}
        if scen == "slow":
            time.sleep(10)
            return self.answer(200, ok)
        if scen in ("500", "502", "403", "404", "418"):
            return self.answer(int(scen), "third party trouble", "text/plain")
        if scen == "302":
            return self.answer(302, "moved", "text/plain",
                               [("Location", "/elsewhere")])
        if scen == "false":
            return self.answer(200, {"result": False, "code": 1234,
                                     "message": "third party refused"})
        if scen == "nonjson":
            return self.answer(200, "<html>oops</html>", "text/html")
        if scen == "noresult":
            return self.answer(200, {"code": 0, "message": "no result key"})
        if scen == "strfalse":
            return self.answer(200, {"result": "false", "code": 0,
                                     "message": "a string, not a boolean"})
        if scen == "array":
            return self.answer(200, [1, 2])
        if scen == "huge":
            return self.answer(200, {"result": True, "pad": "x" * (2 << 20)})
        return self.answer(200, ok)

    do_GET = do_POST


def serve(port, ctx):
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    if ctx is not None:
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def main():
    os.makedirs(A.dir, exist_ok=True)
    d = A.pki or A.dir + "-pki"
    os.makedirs(d, exist_ok=True)
    cert, key = pki.make_leaf(d, [A.host])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    serve(A.port, ctx)
    if A.http_port:
        serve(A.http_port, None)
    print("dest fake on 127.0.0.1:%d (https) %s" % (
        A.port, A.http_port or ""), flush=True)
    time.sleep(A.lifetime)


if __name__ == "__main__":
    main()
