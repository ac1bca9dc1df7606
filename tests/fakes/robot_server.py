#!/usr/bin/python3
"""An HTTPS fake of the three group robots and of one JSON webhook, in
one process, told apart by the Host header.  Each checks what the real
service checks and answers the real service's error codes (robots.md,
from the vendors' documentation):

  oapi.dingtalk.com    POST /robot/send?access_token=T[&timestamp&sign]
      unknown or revoked token 300001; with a secret, timestamp (ms) and
      sign = base64(HMAC-SHA256(key=secret, timestamp "\\n" secret))
      required, timestamp within one hour else 310000 "sign not match";
      a keyword robot needs one of its keywords in the content, else
      310000 "keywords not in content"; msgtype text needs text.content,
      markdown needs markdown.title and .text, else 40035; more than
      --per-minute messages in 60 s: 130101 "send too fast".
  open.feishu.cn       POST /open-apis/bot/v2/hook/ID
      unknown id 19001; with a secret, "timestamp" (s) and "sign" =
      base64(HMAC-SHA256(key=timestamp "\\n" secret, msg="")) in the body,
      within one hour, else 19021; keywords 19024; msg_type text needs
      content.text, post needs content.post, else 9499; over the rate
      11232.
  qyapi.weixin.qq.com  POST /cgi-bin/webhook/send?key=K
      unknown or revoked key 93000; text.content at most 2048 bytes,
      markdown.content 4096, else 40058; over the rate 45009.
  hooks.example.com    POST /notify: Authorization must be "Bearer
      <--hook-token>", else HTTP 401; answers {"code": 0, "message":
      "accepted"}, or in mode "refuse" HTTP 200 {"code": 7, "message":
      "quota exceeded"}.

Every request that reached a handler is kept in memory (host, path,
query names, the body as parsed, the verdict).  Control, same port:
  GET  /_fake/messages         every request so far
  POST /_fake/reset            forget them and the rate counters
  POST /_fake/revoke?token=T   a robot token/key/hook id stops working
  POST /_fake/mode?m=M         ok; refuse (the webhook answers code 7);
                               garbage (every host answers HTTP 200 with
                               an HTML page)

usage: robot_server.py --port P --pki DIR [--lifetime 600] [--per-minute 20]
       [--dingtalk TOKEN[:SECRET[:KEYWORD]]]... [--feishu ID[:SECRET[:KEYWORD]]]...
       [--wecom KEY]... [--hook-token TOKEN]
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402

LOCK = threading.Lock()
STATE = {"messages": [], "revoked": set(), "sent": {}, "mode": "ok"}
HOSTS = ["oapi.dingtalk.com", "open.feishu.cn", "qyapi.weixin.qq.com",
         "hooks.example.com", "127.0.0.1"]


def robots(specs):
    out = {}
    for s in specs:
        parts = s.split(":")
        out[parts[0]] = {"secret": parts[1] if len(parts) > 1 else "",
                         "keyword": parts[2] if len(parts) > 2 else ""}
    return out


def over_rate(a, who, per_minute, per_second=0):
    """Whether one more message of who passes its rate (and counts it)."""
    now = time.time()
    with LOCK:
        sent = [t for t in STATE["sent"].get(who, []) if now - t < 60]
        if len(sent) >= per_minute or (per_second and len(
                [t for t in sent if now - t < 1]) >= per_second):
            STATE["sent"][who] = sent
            return True
        sent.append(now)
        STATE["sent"][who] = sent
        return False


def text_of(body):
    """Everything a keyword may be found in: the message's strings."""
    out = []

    def walk(v):
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(body)
    return "\n".join(out)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        # The query carries tokens and signatures, Feishu's path its hook
        # id: the route only.
        route = self.path.split("?")[0]
        if route.startswith("/open-apis/bot/v2/hook/"):
            route = "/open-apis/bot/v2/hook/..."
        sys.stdout.write("%s %s\n" % (self.command, route))
        sys.stdout.flush()

    def reply(self, doc, status=200):
        body = json.dumps(doc, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def keep(self, host, path, q, body, verdict):
        with LOCK:
            STATE["messages"].append({
                "host": host, "path": path, "query": sorted(q),
                "body": body, "verdict": verdict,
                "content_type": self.headers.get("Content-Type", ""),
                "method": self.command})

    def route(self):
        a = self.server.args
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        host = (self.headers.get("Host") or "").split(":")[0]
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if url.path.startswith("/_fake/"):
            return self.control(url.path, q)
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        if STATE["mode"] == "garbage":
            # A proxy's page where the robot's answer should be.
            page = b"<html>502 upstream proxy error</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if host == "oapi.dingtalk.com":
            doc = self.dingtalk(a, url.path, q, body)
        elif host == "open.feishu.cn":
            doc = self.feishu(a, url.path, body)
        elif host == "qyapi.weixin.qq.com":
            doc = self.wecom(a, url.path, q, body)
        elif host == "hooks.example.com":
            status, doc = self.hook(a, url.path, body)
            self.keep(host, url.path, q, body, doc.get("code", status))
            return self.reply(doc, status)
        else:
            return self.reply({"error": "unknown host"}, 404)
        self.keep(host, url.path, q, body, doc.get("errcode",
                                                   doc.get("code")))
        self.reply(doc)

    do_GET = route
    do_POST = route
    do_PUT = route

    def control(self, path, q):
        with LOCK:
            if path == "/_fake/messages":
                return self.reply(STATE["messages"])
            if path == "/_fake/reset":
                STATE["messages"] = []
                STATE["sent"] = {}
            elif path == "/_fake/revoke":
                STATE["revoked"].add(q.get("token", ""))
            elif path == "/_fake/mode":
                STATE["mode"] = q.get("m", "ok")
            else:
                return self.reply({"error": "unknown control"}, 404)
        self.reply({"ok": True})

    # -- DingTalk --------------------------------------------------------
    def dingtalk(self, a, path, q, body):
        if path != "/robot/send" or self.command != "POST":
            return {"errcode": 404, "errmsg": "not found"}
        tok = q.get("access_token", "")
        robot = a.dingtalk.get(tok)
        if robot is None or tok in STATE["revoked"]:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        if robot["secret"]:
            ts, sign = q.get("timestamp", ""), q.get("sign", "")
            if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > \
                    3600 * 1000:
                return {"errcode": 310000,
                        "errmsg": "sign not match, more: [invalid "
                                  "timestamp]"}
            sts = "%s\n%s" % (ts, robot["secret"])
            want = base64.b64encode(hmac.new(
                robot["secret"].encode(), sts.encode(),
                hashlib.sha256).digest()).decode()
            if not hmac.compare_digest(want, sign):
                return {"errcode": 310000, "errmsg": "sign not match, "
                        "more: [https://ding-doc.dingtalk.com/doc#/"
                        "serverapi2/qf2nxq]"}
        if not isinstance(body, dict) or body.get("msgtype") not in (
                "text", "markdown", "link", "actionCard", "feedCard"):
            return {"errcode": 40035, "errmsg": "缺少参数 json"}
        mt = body["msgtype"]
        part = body.get(mt)
        if mt == "text" and not (isinstance(part, dict) and isinstance(
                part.get("content"), str)):
            return {"errcode": 40035, "errmsg": "缺少参数 text"}
        if mt == "markdown" and not (isinstance(part, dict) and all(
                isinstance(part.get(k), str) for k in ("title", "text"))):
            return {"errcode": 40035, "errmsg": "缺少参数 markdown"}
        at = body.get("at", {})
        if not isinstance(at, dict) or not all(
                isinstance(at.get(k, []), list) for k in ("atMobiles",
                                                           "atUserIds")):
            return {"errcode": 40035, "errmsg": "缺少参数 at"}
        if robot["keyword"] and robot["keyword"] not in text_of(part):
            return {"errcode": 310000, "errmsg": "keywords not in content, "
                    "more: [https://ding-doc.dingtalk.com/doc#/serverapi2/"
                    "qf2nxq]"}
        if over_rate(a, "dingtalk:" + tok, a.per_minute):
            return {"errcode": 130101, "errmsg": "send too fast, exceed "
                    "20 times per minute"}
        return {"errcode": 0, "errmsg": "ok"}

    # -- Feishu ----------------------------------------------------------
    def feishu(self, a, path, body):
        prefix = "/open-apis/bot/v2/hook/"
        hid = path[len(prefix):] if path.startswith(prefix) else ""
        bot = a.feishu.get(hid)
        if bot is None or hid in STATE["revoked"] or self.command != "POST":
            return {"code": 19001, "msg": "param invalid: incoming webhook "
                    "access token invalid", "data": {}}
        if not isinstance(body, dict):
            return {"code": 9499, "msg": "Bad Request", "data": {}}
        if bot["secret"]:
            ts, sign = body.get("timestamp", ""), body.get("sign", "")
            ok = isinstance(ts, str) and ts.isdigit() and \
                abs(time.time() - int(ts)) <= 3600
            if ok:
                key = ("%s\n%s" % (ts, bot["secret"])).encode()
                want = base64.b64encode(hmac.new(
                    key, b"", hashlib.sha256).digest()).decode()
                ok = isinstance(sign, str) and hmac.compare_digest(want,
                                                                   sign)
            if not ok:
                return {"code": 19021, "msg": "sign match fail or timestamp "
                        "is not within one hour from current time",
                        "data": {}}
        mt, content = body.get("msg_type"), body.get("content")
        if mt == "text":
            ok = isinstance(content, dict) and isinstance(
                content.get("text"), str)
        elif mt == "post":
            ok = isinstance(content, dict) and isinstance(
                content.get("post"), dict)
        else:
            ok = False
        if not ok:
            return {"code": 9499, "msg": "Bad Request", "data": {}}
        if bot["keyword"] and bot["keyword"] not in text_of(content):
            return {"code": 19024, "msg": "Key Words Not Found", "data": {}}
        if over_rate(a, "feishu:" + hid, 100, 5):
            return {"code": 11232, "msg": "frequency limited psm[lark."
                    "oapi.robot]", "data": {}}
        return {"code": 0, "msg": "success", "data": {}}

    # -- WeCom -----------------------------------------------------------
    def wecom(self, a, path, q, body):
        key = q.get("key", "")
        if path != "/cgi-bin/webhook/send" or key not in a.wecom or \
                key in STATE["revoked"] or self.command != "POST":
            return {"errcode": 93000, "errmsg": "invalid webhook url, hint: "
                    "[1700000000_1_abc], from ip: 127.0.0.1, more info at "
                    "https://open.work.weixin.qq.com/devtool/query?e=93000"}
        if not isinstance(body, dict) or body.get("msgtype") not in (
                "text", "markdown"):
            return {"errcode": 40008, "errmsg": "invalid message type"}
        part = body.get(body["msgtype"])
        limit = 2048 if body["msgtype"] == "text" else 4096
        if not isinstance(part, dict) or not isinstance(
                part.get("content"), str):
            return {"errcode": 41009, "errmsg": "missing content"}
        if len(part["content"].encode()) > limit:
            return {"errcode": 40058, "errmsg": "content exceed max length "
                    "%d" % limit}
        for k in ("mentioned_list", "mentioned_mobile_list"):
            if not isinstance(part.get(k, []), list):
                return {"errcode": 40058, "errmsg": "invalid %s" % k}
        if over_rate(a, "wecom:" + key, a.per_minute):
            return {"errcode": 45009, "errmsg": "api freq out of limit"}
        return {"errcode": 0, "errmsg": "ok"}

    # -- a JSON webhook --------------------------------------------------
    def hook(self, a, path, body):
        if path != "/notify":
            return 404, {"error": "not found"}
        if self.headers.get("Authorization") != "Bearer " + a.hook_token:
            return 401, {"message": "bad credentials"}
        if body is None:
            return 400, {"message": "not JSON"}
        if STATE["mode"] == "refuse":
            return 200, {"code": 7, "message": "quota exceeded"}
        return 200, {"code": 0, "message": "accepted"}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pki", required=True)
    p.add_argument("--lifetime", type=float, default=600)
    p.add_argument("--per-minute", type=int, default=20)
    p.add_argument("--dingtalk", action="append", default=[])
    p.add_argument("--feishu", action="append", default=[])
    p.add_argument("--wecom", action="append", default=[])
    p.add_argument("--hook-token", default="")
    a = p.parse_args()
    a.dingtalk = robots(a.dingtalk)
    a.feishu = robots(a.feishu)
    a.wecom = set(a.wecom)
    srv = pki.tls_server(Server, a.port, Handler, a.pki, HOSTS)
    srv.args = a
    threading.Timer(a.lifetime, os._exit, (0,)).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
