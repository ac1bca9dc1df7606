#!/usr/bin/python3
"""An HTTPS fake of Enterprise WeChat (qyapi.weixin.qq.com) and of the
WeChat Official Account API (api.weixin.qq.com) in one process, told apart
by the Host header.  It checks what the real services document: tokens are bound to their app and expire (--expires, short
in tests), a wrong secret is 40001, an unknown corp or appid 40013, an
unknown user comes back in invaliduser (lower-cased), all unknown is 81013,
a revoked or expired token is 42001, a token MP no longer knows 40001,
\\uXXXX escapes are 40033, agentid must be the token's integer agentid,
an MP openid must be known and subscribed, the template's keys present.
cgi-bin/token invalidates the previous token; stable_token does not.

Every message call is written raw into --dir as NNNNNN-wecom.json or
NNNNNN-mp.json (not with --no-spool); token calls are counted in
--dir/counts.json (never a new file after start), all calls in memory.  Control endpoints, on the same port:
  GET  /_fake/counts           the counts of every kind of call
  POST /_fake/revoke           every token issued so far stops working
  POST /_fake/delay?ms=N       latency added to each API call from now on
  POST /_fake/mode?m=M         how API calls answer from now on: ok, garbage
                               (HTTP 200, HTML), http502, hang (no answer
                               for 120 s; counts "hung" as a call starts
                               hanging and "stall_ended" as one ends),
                               busy (message/send: errcode -1), http429
                               (with Retry-After: 1), drop (the connection
                               closed unanswered), flap (every other call
                               http502)
  POST /_fake/token_error?code=N&n=K  the next K message calls (WeCom
                               message/send, MP template/send) answer
                               errcode N (40014, 41001, 42001, 40001) and
                               the token they carried stops working
  POST /_fake/push             JSON {url, msgid, openid, status, sign:
                               good|bad|none}: sends a TEMPLATESENDJOBFINISH
                               to the gateway's server URL, signed with
                               --mp-token; answers {status, body}

usage: wechat_server.py --port P --dir SPOOL --pki DIR [--lifetime 600]
       [--expires 7200] [--delay-ms 0] [--corp ID:SECRET:AGENTID]...
       [--users u1,u2] [--unlicensed u3] [--app APPID:SECRET]...
       [--openids o1,o2] [--unsubscribed o3] [--template ID:k1,k2]...
       [--mp-token TOKEN]
"""
import argparse
import hashlib
import http.server
import json
import os
import secrets
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402

LOCK = threading.Lock()
STATE = {
    "tokens": {},       # token -> {kind, owner, agentid, exp, dead}
    "counts": {"gettoken": 0, "token": 0, "stable_token": 0,
               "message_send": 0, "template_send": 0, "connections": 0,
               "hung": 0, "stall_ended": 0, "token_errors": 0},
    "token_error": [0, 0],  # errcode, how many calls still to refuse
    "seq": 0,
    "msgid": 200000000,
    "delay": 0.0,
    "mode": "ok",
}


def rid():
    return " rid: %s-%s" % (secrets.token_hex(4), secrets.token_hex(4))


def hint():
    return ", hint: [%d_%s]" % (int(time.time()), secrets.token_hex(8))


def save_counts(a):
    with open(os.path.join(a.dir, "counts.json"), "w") as f:
        json.dump(STATE["counts"], f)


def count(a, what):
    with LOCK:
        STATE["counts"][what] += 1
        # The file is for the token calls; the rest costs no I/O.
        if what in ("gettoken", "token", "stable_token"):
            save_counts(a)


def spool(a, kind, body):
    if a.no_spool:
        return
    with LOCK:
        STATE["seq"] += 1
        n = STATE["seq"]
    with open(os.path.join(a.dir, "%06d-%s.json" % (n, kind)), "wb") as f:
        f.write(body)


def issue(a, kind, owner, agentid=None):
    tok = secrets.token_urlsafe(96)
    with LOCK:
        STATE["tokens"][tok] = {"kind": kind, "owner": owner,
                                "agentid": agentid,
                                "exp": time.time() + a.expires,
                                "issued": time.time(), "dead": False}
    return tok


def check_token(tok, kinds):
    """None if usable, else (reason) 'missing' / 'unknown' / 'expired'."""
    if not tok:
        return "missing", None
    with LOCK:
        t = STATE["tokens"].get(tok)
    if t is None or t["kind"] not in kinds:
        return "unknown", None
    if t.get("superseded"):
        return "unknown", t
    if t["dead"] or time.time() >= t["exp"]:
        return "expired", t
    return None, t


FORCED = {40014: "invalid access_token", 41001: "access_token missing",
          42001: "access_token expired", 40001: "invalid credential, "
          "access_token is invalid or not latest"}


def forced_error(a, tok):
    """The errcode /_fake/token_error asked for, or None; the token the
    call carried dies with it, so a retry must bring another."""
    with LOCK:
        code, left = STATE["token_error"]
        if left <= 0:
            return None
        STATE["token_error"][1] -= 1
        if tok in STATE["tokens"]:
            STATE["tokens"][tok]["dead"] = True
    count(a, "token_errors")
    return {"errcode": code, "errmsg": FORCED.get(code, "error") + hint()}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def setup(self):
        super().setup()
        # Headers and body leave in two writes: without this, Nagle and
        # the client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with LOCK:
            STATE["counts"]["connections"] += 1

    def log_message(self, fmt, *args):
        # The path carries secrets and tokens: log the route only.
        sys.stdout.write("%s %s\n" % (self.command, self.path.split("?")[0]))
        sys.stdout.flush()

    def reply(self, doc, status=200):
        body = json.dumps(doc, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def raw(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def route(self):
        a = self.server.args
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        host = (self.headers.get("Host") or "").split(":")[0]
        raw = self.body() if self.command == "POST" else b""
        if url.path.startswith("/_fake/"):
            return self.control(a, url.path, q, raw)
        if STATE["delay"] > 0:
            time.sleep(STATE["delay"])
        if STATE["mode"] == "hang":
            count(a, "hung")
            time.sleep(120)
            count(a, "stall_ended")
        if STATE["mode"] == "garbage":
            return self.raw(200, b"<html>upstream proxy error</html>")
        mode = STATE["mode"]
        if mode == "flap":
            with LOCK:
                STATE["flap"] = not STATE.get("flap", False)
                mode = "http502" if STATE["flap"] else "ok"
        if mode == "http502":
            return self.raw(502, b"Bad Gateway")
        if mode == "http429":
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "busy" and url.path.endswith("/message/send"):
            return self.reply({"errcode": -1, "errmsg": "system busy"})
        if host == "qyapi.weixin.qq.com":
            return self.wecom(a, url.path, q, raw)
        if host == "api.weixin.qq.com":
            return self.mp(a, url.path, q, raw)
        self.reply({"errcode": 40000, "errmsg": "unknown host"}, 404)

    do_GET = route
    do_POST = route

    # -- control -----------------------------------------------------
    def control(self, a, path, q, raw):
        if path == "/_fake/counts":
            with LOCK:
                return self.reply(dict(STATE["counts"]))
        if path == "/_fake/revoke":
            with LOCK:
                for t in STATE["tokens"].values():
                    t["dead"] = True
            return self.reply({"revoked": True})
        if path == "/_fake/delay":
            STATE["delay"] = int(q.get("ms", "0")) / 1000.0
            return self.reply({"delay_ms": int(q.get("ms", "0"))})
        if path == "/_fake/mode":
            STATE["mode"] = q.get("m", "ok")
            return self.reply({"mode": STATE["mode"]})
        if path == "/_fake/token_error":
            with LOCK:
                STATE["token_error"] = [int(q.get("code", "40014")),
                                        int(q.get("n", "1"))]
            return self.reply({"token_error": STATE["token_error"]})
        if path == "/_fake/push":
            return self.push(a, json.loads(raw or b"{}"))
        self.reply({"error": "no such control"}, 404)

    def push(self, a, p):
        ts, nonce = str(int(time.time())), secrets.token_hex(5)
        sig = hashlib.sha1("".join(sorted([a.mp_token, ts, nonce])).encode()).hexdigest()
        if p.get("sign") == "bad":
            sig = hashlib.sha1(b"not the token" + ts.encode()).hexdigest()
        qs = {"timestamp": ts, "nonce": nonce,
              "openid": p.get("openid", "o1")}
        if p.get("sign") != "none":
            qs["signature"] = sig
        xml = ("<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
               "<FromUserName><![CDATA[%s]]></FromUserName>"
               "<CreateTime>%s</CreateTime>"
               "<MsgType><![CDATA[event]]></MsgType>"
               "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
               "<MsgID>%s</MsgID>"
               "<Status><![CDATA[%s]]></Status></xml>") % (
                   p.get("openid", "o1"), ts, p.get("msgid", 1),
                   p.get("status", "success"))
        req = urllib.request.Request(
            p["url"] + "?" + urllib.parse.urlencode(qs), data=xml.encode(),
            method="POST", headers={"Content-Type": "text/xml"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                out = {"status": r.status, "body": r.read().decode()}
        except urllib.error.HTTPError as e:
            out = {"status": e.code, "body": e.read().decode()}
        self.reply(out)

    # -- WeCom -------------------------------------------------------
    def wecom(self, a, path, q, raw):
        if path == "/cgi-bin/gettoken":
            count(a, "gettoken")
            corp = a.corps.get(q.get("corpid", ""))
            if corp is None:
                return self.reply({"errcode": 40013,
                                   "errmsg": "invalid corpid" + hint()})
            agent = corp.get(q.get("corpsecret", ""))
            if agent is None:
                return self.reply({"errcode": 40001,
                                   "errmsg": "invalid credential" + hint()})
            tok = issue(a, "wecom", q["corpid"], agent)
            return self.reply({"errcode": 0, "errmsg": "ok",
                               "access_token": tok,
                               "expires_in": a.expires})
        if path == "/cgi-bin/message/send" and self.command == "POST":
            count(a, "message_send")
            forced = forced_error(a, q.get("access_token"))
            if forced:
                return self.reply(forced)
            why, t = check_token(q.get("access_token"), ("wecom",))
            if why == "missing":
                return self.reply({"errcode": 41001,
                                   "errmsg": "access_token missing" + hint()})
            if why == "unknown":
                return self.reply({"errcode": 40014,
                                   "errmsg": "invalid access_token" + hint()})
            if why == "expired":
                return self.reply({"errcode": 42001,
                                   "errmsg": "access_token expired" + hint()})
            if b"\\u" in raw:
                return self.reply({"errcode": 40033, "errmsg":
                                   "invalid charset. please check your "
                                   "request, if include \\uxxxx will "
                                   "create fail!" + hint()})
            try:
                doc = json.loads(raw)
            except ValueError:
                return self.reply({"errcode": 47001,
                                   "errmsg": "data format error" + hint()})
            if not isinstance(doc.get("agentid"), int) or \
                    isinstance(doc.get("agentid"), bool) or \
                    doc["agentid"] != t["agentid"]:
                return self.reply({"errcode": 40056,
                                   "errmsg": "invalid agentid" + hint()})
            if doc.get("msgtype") != "text":
                return self.reply({"errcode": 40008,
                                   "errmsg": "invalid message type" + hint()})
            content = (doc.get("text") or {}).get("content") or ""
            if not content:
                return self.reply({"errcode": 44004,
                                   "errmsg": "empty content" + hint()})
            users = [u for u in (doc.get("touser") or "").split("|") if u]
            if len(users) > 1000:
                return self.reply({"errcode": 40031,
                                   "errmsg": "invalid user list" + hint()})
            # Longer content is cut, not refused: keep what was "stored".
            stored = content.encode()[:2048].decode(errors="ignore")
            spool(a, "wecom", raw if stored == content else
                  raw + b"\n#stored " + stored.encode())
            if users == ["@all"]:
                return self.reply({"errcode": 0, "errmsg": "ok",
                                   "msgid": secrets.token_hex(8)})
            bad = [u.lower() for u in users if u.lower() not in a.users]
            unl = [u.lower() for u in users if u.lower() in a.unlicensed]
            if users and len(bad) == len(users):
                return self.reply({"errcode": 81013, "errmsg":
                                   "user & party & tag all invalid" + hint(),
                                   "invaliduser": "|".join(bad)})
            out = {"errcode": 0, "errmsg": "ok",
                   "msgid": secrets.token_hex(8)}
            if bad:
                out["invaliduser"] = "|".join(bad)
            if unl:
                out["unlicenseduser"] = "|".join(unl)
            return self.reply(out)
        self.reply({"errcode": 40000, "errmsg": "no such API"}, 404)

    # -- Official Account -------------------------------------------
    def mp_app(self, appid, secret):
        if appid not in self.server.args.apps:
            return {"errcode": 40013, "errmsg": "invalid appid" + rid()}
        if self.server.args.apps[appid] != secret:
            return {"errcode": 40001, "errmsg": "invalid credential, "
                    "access_token is invalid or not latest" + rid()}
        return None

    def mp(self, a, path, q, raw):
        if path == "/cgi-bin/token" and self.command == "GET":
            count(a, "token")
            if q.get("grant_type") != "client_credential":
                return self.reply({"errcode": 40002,
                                   "errmsg": "invalid grant_type" + rid()})
            err = self.mp_app(q.get("appid", ""), q.get("secret", ""))
            if err:
                return self.reply(err)
            # A new cgi-bin/token kills the previous one.
            with LOCK:
                for t in STATE["tokens"].values():
                    if t["kind"] == "mp" and t["owner"] == q["appid"]:
                        t["superseded"] = True
            tok = issue(a, "mp", q["appid"])
            return self.reply({"access_token": tok, "expires_in": a.expires})
        if path == "/cgi-bin/stable_token":
            count(a, "stable_token")
            try:
                doc = json.loads(raw)
            except ValueError:
                return self.reply({"errcode": 47001,
                                   "errmsg": "data format error" + rid()})
            if doc.get("grant_type") != "client_credential":
                return self.reply({"errcode": 40002,
                                   "errmsg": "invalid grant_type" + rid()})
            err = self.mp_app(doc.get("appid", ""), doc.get("secret", ""))
            if err:
                return self.reply(err)
            overlap = min(300, a.expires / 4)
            now = time.time()
            with LOCK:
                live = [(k, t) for k, t in STATE["tokens"].items()
                        if t["kind"] == "mp-stable" and
                        t["owner"] == doc["appid"] and not t["dead"] and
                        not t.get("superseded") and t["exp"] - now > overlap]
                if doc.get("force_refresh"):
                    for k, t in live:
                        t["superseded"] = True
                    live = []
            if live:
                k, t = max(live, key=lambda kt: kt[1]["exp"])
                return self.reply({"access_token": k,
                                   "expires_in": int(t["exp"] - now)})
            tok = issue(a, "mp-stable", doc["appid"])
            return self.reply({"access_token": tok, "expires_in": a.expires})
        if path == "/cgi-bin/message/template/send" and \
                self.command == "POST":
            count(a, "template_send")
            forced = forced_error(a, q.get("access_token"))
            if forced:
                return self.reply(forced)
            why, t = check_token(q.get("access_token"), ("mp", "mp-stable"))
            if why == "missing":
                return self.reply({"errcode": 41001,
                                   "errmsg": "access_token missing" + rid()})
            if why == "unknown":
                return self.reply({"errcode": 40001, "errmsg":
                                   "invalid credential, access_token is "
                                   "invalid or not latest" + rid()})
            if why == "expired":
                return self.reply({"errcode": 42001,
                                   "errmsg": "access_token expired" + rid()})
            try:
                doc = json.loads(raw)
            except ValueError:
                return self.reply({"errcode": 47001,
                                   "errmsg": "data format error" + rid()})
            to = doc.get("touser")
            if not isinstance(to, str) or to not in a.openids:
                return self.reply({"errcode": 40003,
                                   "errmsg": "invalid openid" + rid()})
            if to in a.unsubscribed:
                return self.reply({"errcode": 43004,
                                   "errmsg": "require subscribe" + rid()})
            keys = a.templates.get(doc.get("template_id"))
            if keys is None:
                return self.reply({"errcode": 40037,
                                   "errmsg": "invalid template_id" + rid()})
            data = doc.get("data")
            for k in keys:
                v = data.get(k) if isinstance(data, dict) else None
                if not isinstance(v, dict) or \
                        not isinstance(v.get("value"), str):
                    return self.reply({"errcode": 47003, "errmsg":
                                       "argument invalid! data.%s.value "
                                       "invalid" % k + rid()})
            spool(a, "mp", raw)
            with LOCK:
                STATE["msgid"] += 1
                msgid = STATE["msgid"]
            return self.reply({"errcode": 0, "errmsg": "ok", "msgid": msgid})
        self.reply({"errcode": 40000, "errmsg": "no such API"}, 404)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--pki", required=True)
    p.add_argument("--lifetime", type=float, default=600)
    p.add_argument("--expires", type=int, default=7200)
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--corp", action="append", default=[])
    p.add_argument("--users", default="")
    p.add_argument("--unlicensed", default="")
    p.add_argument("--app", action="append", default=[])
    p.add_argument("--openids", default="")
    p.add_argument("--unsubscribed", default="")
    p.add_argument("--template", action="append", default=[])
    p.add_argument("--mp-token", default="")
    p.add_argument("--no-spool", action="store_true",
                   help="keep no message files (benchmarks)")
    a = p.parse_args()
    a.corps = {}
    for c in a.corp:
        cid, sec, agent = c.split(":")
        a.corps.setdefault(cid, {})[sec] = int(agent)
    a.users = {u.lower() for u in a.users.split(",") if u}
    a.unlicensed = {u.lower() for u in a.unlicensed.split(",") if u}
    a.users |= a.unlicensed
    a.apps = dict(x.split(":", 1) for x in a.app)
    a.openids = {o for o in a.openids.split(",") if o}
    a.unsubscribed = {o for o in a.unsubscribed.split(",") if o}
    a.openids |= a.unsubscribed
    a.templates = {}
    for t in a.template:
        tid, keys = t.split(":", 1)
        a.templates[tid] = [k for k in keys.split(",") if k]
    STATE["delay"] = a.delay_ms / 1000.0
    os.makedirs(a.dir, exist_ok=True)
    save_counts(a)
    srv = pki.tls_server(Server, a.port, Handler, a.pki, [
        "qyapi.weixin.qq.com", "api.weixin.qq.com", "127.0.0.1"])
    srv.args = a
    threading.Timer(a.lifetime, os._exit, (0,)).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
