#!/usr/bin/python3
"""HTTPS fake of Tencent Cloud SMS and voice, legacy v5 and API 3.0
(SendSms, SendTtsVoice, sendmultisms2, sendvoiceprompt), for the e2e suite.  One process
serves all four host names, dispatching on the Host header; the gateway
reaches it under the real names through upstream.connect_to, trusting
the throwaway CA in --pki.

  yun.tim.qq.com    POST /v5/tlssmssvr/sendmultisms2?sdkappid=&random=
  cloud.tim.qq.com  POST /v5/tlsvoicesvr/sendvoiceprompt?sdkappid=&random=
                    (also on yun.tim.qq.com, as the international doc shows)
  sms.tencentcloudapi.com  POST /  X-TC-Action SendSms, 2021-01-11
  vms.tencentcloudapi.com  POST /  X-TC-Action SendTtsVoice, 2020-09-02

What it checks, as the real service does: v5 - known sdkappid, the sig
recomputed from the app key, the URL's random, the body's time and the
body's mobiles in order, |now - time| <= 600 s, at most 200 numbers, no
mix of 86 and other nation codes, the text against --v5-template.  API
3.0 - the Authorization header parsed, a known SecretId, the timestamp
within 300 s, the scope's date and service, the signature recomputed
from the received method, path, query, signed headers and body bytes,
action and version, X-TC-Region, known SdkAppId, 1..200 numbers, the
template and its parameter count, the sign name.

Scripted per-number outcomes (the last four digits of a number):
  9999  refused: v5 detail/result 1015, SendStatusSet Code
        FailedOperation.PhoneNumberInBlacklist, VMS Error
        InvalidParameterValue.CalledNumberVerifyFail
  0500  the whole call answers HTTP 500
  0777  the whole call answers 200 with a body that is not JSON
  0888  the whole call stalls 5 s before answering

Every call is written to --dir as one file: a request line, the
headers, a blank line and the body bytes exactly as received, after an
"X-Fake-Verdict:" line with the outcome.  Control, on any host name:
  POST /_fake/control {"mode": M}  from now on: ok, http503 (with
                       Retry-After: 1), ratelimit (RequestLimitExceeded),
                       flap (every other call http503)
  POST /_fake/control {"delay_ms": N, "skew": S, "barrier": N}  latency
        added to each call; seconds added to the fake's clock (stale
        timestamps); a barrier holds each call until N calls are in
        flight together (or 8 s pass: a serial client is then seen, not
        hung), which shows concurrency without a clock
  GET  /_fake/stats    {"calls": N, "max_inflight": N, "connections": N,
        "barrier_opened": N, "barrier_gave_up": N}
        (connections: TLS handshakes, to see reuse); {"reset": 1}
        in a control call zeroes them

usage: qcloud_server.py --port P --dir SPOOL --pki DIR
         [--v5-app ID:KEY]... [--tc3-key SECRETID:SECRETKEY]...
         [--sms-app ID]... [--voice-app ID]... [--template ID:NPARAMS]...
         [--sign NAME]... [--v5-template TEXT]... [--delay-ms N]
         [--skew SECS] [--lifetime SECS]
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402

HOSTS = ["yun.tim.qq.com", "cloud.tim.qq.com", "sms.tencentcloudapi.com",
         "vms.tencentcloudapi.com", "127.0.0.1"]
SMS_PATH = "/v5/tlssmssvr/sendmultisms2"
VOICE_PATH = "/v5/tlsvoicesvr/sendvoiceprompt"

STATE = {"delay_ms": 0, "skew": 0, "calls": 0, "inflight": 0,
         "max_inflight": 0, "seq": 0, "connections": 0, "barrier": 0,
         "barrier_opened": 0, "barrier_gave_up": 0}
LOCK = threading.Lock()
BARRIER = threading.Condition(LOCK)
ARGS = None


def now():
    return int(time.time()) + STATE["skew"]


def spool(req, body, verdict):
    with LOCK:
        STATE["seq"] += 1
        seq = STATE["seq"]
    host = req.headers.get("Host", "-")
    name = "%05d-%s.req" % (seq, re.sub(r"[^A-Za-z0-9.]", "_", host))
    head = "X-Fake-Verdict: %s\r\n%s %s HTTP/1.1\r\n" % (
        verdict, req.command, req.path)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in req.headers.items())
    tmp = os.path.join(ARGS.dir, "." + name)
    with open(tmp, "wb") as f:
        f.write(head.encode() + b"\r\n" + body)
    os.rename(tmp, os.path.join(ARGS.dir, name))


def scripted(numbers):
    """The scripted whole-call behaviour the numbers ask for, if any."""
    for n in numbers:
        for tail in ("0500", "0777", "0888"):
            if str(n).endswith(tail):
                return tail
    return None


# ---------------------------------------------------------------- v5


def v5_answer(h, body, kind):
    """(verdict, reply document) for a v5 call."""
    q = dict(p.split("=", 1) for p in h.query.split("&") if "=" in p)
    key = ARGS.v5_apps.get(q.get("sdkappid", ""))
    if key is None:
        return 1019, {"result": 1019, "errmsg": "sdkappid not exist"}
    rnd = q.get("random", "")
    if not rnd.isdigit():
        return 1001, {"result": 1001, "errmsg": "random missing"}
    try:
        doc = json.loads(body)
        assert isinstance(doc, dict)
    except (ValueError, AssertionError):
        return 1004, {"result": 1004, "errmsg": "package format error"}
    sig = doc.get("sig")
    if not sig:
        return 1003, {"result": 1003, "errmsg": "sig is empty"}
    t = doc.get("time")
    if not isinstance(t, int):
        return 1004, {"result": 1004, "errmsg": "time missing"}
    tel = doc.get("tel")
    tels = tel if kind == "sms" else [tel]
    if kind == "sms" and not isinstance(tel, list) or \
            kind == "voice" and not isinstance(tel, dict):
        return 1004, {"result": 1004, "errmsg": "tel malformed"}
    if not all(isinstance(x, dict) and isinstance(x.get("mobile"), str)
               and isinstance(x.get("nationcode"), str) for x in tels):
        return 1004, {"result": 1004, "errmsg": "tel malformed"}
    mobiles = ",".join(x["mobile"] for x in tels)
    want = hashlib.sha256(("appkey=%s&random=%s&time=%d&mobile=%s" % (
        key, rnd, t, mobiles)).encode()).hexdigest()
    if not hmac.compare_digest(want, str(sig)):
        return 1001, {"result": 1001, "errmsg": "sig verification failed"}
    if abs(now() - t) > 600:
        return 1021, {"result": 1021, "errmsg": "request time out of range"}
    if kind == "sms":
        return v5_sms(doc, tels)
    return v5_voice(doc, tels[0])


def v5_sms(doc, tels):
    if len(tels) == 0:
        return 1016, {"result": 1016, "errmsg": "no number"}
    if len(tels) > 200:
        return 1046, {"result": 1046, "errmsg": "more than 200 numbers"}
    if len({x["nationcode"] == "86" for x in tels}) > 1:
        return 1034, {"result": 1034,
                      "errmsg": "domestic and international mixed"}
    msg = doc.get("msg")
    if not isinstance(msg, str) or not msg:
        return 1004, {"result": 1004, "errmsg": "msg missing"}
    if len(msg) > 450:
        return 1017, {"result": 1017, "errmsg": "content too long"}
    if ARGS.v5_template and not any(
            re.fullmatch(".*".join(re.escape(p) for p in
                                   re.split(r"\{\d+\}", tp)), msg, re.S)
            for tp in ARGS.v5_template):
        return 1014, {"result": 1014, "errmsg": "template not approved"}
    if doc.get("type") not in (0, 1):
        return 1004, {"result": 1004, "errmsg": "type"}
    detail = []
    for x in tels:
        if not x["mobile"].isdigit() or not x["nationcode"].isdigit():
            detail.append({"result": 1016, "errmsg": "phone number format",
                           "mobile": x["mobile"],
                           "nationcode": x["nationcode"]})
        elif x["mobile"].endswith("9999"):
            detail.append({"result": 1015, "errmsg": "black list",
                           "mobile": x["mobile"],
                           "nationcode": x["nationcode"]})
        else:
            detail.append({"result": 0, "errmsg": "OK",
                           "mobile": x["mobile"],
                           "nationcode": x["nationcode"],
                           "sid": uuid.uuid4().hex[:16],
                           "fee": 1 + len(msg) // 67})
    # Tencent gives no promise of order: answer the other way round.
    detail.reverse()
    return 0, {"result": 0, "errmsg": "OK", "ext": doc.get("ext", ""),
               "detail": detail}


def v5_voice(doc, tel):
    if doc.get("prompttype") != 2:
        return 1004, {"result": 1004, "errmsg": "prompttype"}
    pf = doc.get("promptfile")
    if not isinstance(pf, str) or not pf:
        return 1004, {"result": 1004, "errmsg": "promptfile missing"}
    if len(pf) > 100:
        return 1017, {"result": 1017, "errmsg": "content too long"}
    pt = doc.get("playtimes", 2)
    if not isinstance(pt, int) or not 1 <= pt <= 3:
        return 1004, {"result": 1004, "errmsg": "playtimes"}
    if not tel["mobile"].isdigit():
        return 1016, {"result": 1016, "errmsg": "phone number format"}
    if tel["mobile"].endswith("9999"):
        return 1015, {"result": 1015, "errmsg": "black list",
                      "ext": doc.get("ext", "")}
    return 0, {"result": 0, "errmsg": "OK", "ext": doc.get("ext", ""),
               "callid": uuid.uuid4().hex}


# ---------------------------------------------------------------- TC3


AUTH_RE = re.compile(r"TC3-HMAC-SHA256 Credential=([^/,\s]+)/(\d{4}-\d{2}-\d{2})/"
                     r"([a-z]+)/tc3_request, SignedHeaders=([a-z0-9;-]+), "
                     r"Signature=([0-9a-f]{64})$")


def tc3_error(code, msg):
    return code, {"Response": {"Error": {"Code": code, "Message": msg},
                               "RequestId": str(uuid.uuid4())}}


def tc3_signature(key, date, service, ts, creq):
    sts = "TC3-HMAC-SHA256\n%s\n%s/%s/tc3_request\n%s" % (
        ts, date, service, hashlib.sha256(creq.encode()).hexdigest())

    def mac(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()
    k = mac(("TC3" + key).encode(), date)
    k = mac(k, service)
    k = mac(k, "tc3_request")
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


def tc3_answer(h, body, service):
    m = AUTH_RE.match(h.headers.get("Authorization", ""))
    if m is None:
        return tc3_error("AuthFailure.InvalidAuthorization",
                         "Authorization malformed")
    sid, date, scope_service, signed, sig = m.groups()
    key = ARGS.tc3_keys.get(sid)
    if key is None:
        return tc3_error("AuthFailure.SecretIdNotFound", "unknown SecretId")
    ts = h.headers.get("X-TC-Timestamp", "")
    if not ts.isdigit():
        return tc3_error("MissingParameter", "X-TC-Timestamp")
    if abs(now() - int(ts)) > 300:
        return tc3_error("AuthFailure.SignatureExpire", "signature expired")
    if date != time.strftime("%Y-%m-%d", time.gmtime(int(ts))):
        return tc3_error("AuthFailure.InvalidAuthorization",
                         "scope date is not the timestamp's UTC date")
    if scope_service != service:
        return tc3_error("AuthFailure.InvalidAuthorization",
                         "scope service does not match the host")
    names = signed.split(";")
    if "content-type" not in names or "host" not in names or \
            names != sorted(names):
        return tc3_error("AuthFailure.InvalidAuthorization", "SignedHeaders")
    canon = "".join("%s:%s\n" % (n, (h.headers.get(n) or "").strip())
                    for n in names)
    path, _, query = h.path.partition("?")
    creq = "%s\n%s\n%s\n%s\n%s\n%s" % (
        h.command, path, query, canon, signed,
        hashlib.sha256(body).hexdigest())
    if not hmac.compare_digest(tc3_signature(key, date, service, ts, creq),
                               sig):
        return tc3_error("AuthFailure.SignatureFailure",
                         "signature does not match")
    action = h.headers.get("X-TC-Action", "")
    version = h.headers.get("X-TC-Version", "")
    want = {"sms": ("SendSms", "2021-01-11"),
            "vms": ("SendTtsVoice", "2020-09-02")}[service]
    if action != want[0]:
        return tc3_error("InvalidAction", "unknown action")
    if version != want[1]:
        return tc3_error("NoSuchVersion", "unknown version")
    if not h.headers.get("X-TC-Region"):
        return tc3_error("MissingParameter", "X-TC-Region")
    try:
        doc = json.loads(body)
        assert isinstance(doc, dict)
    except (ValueError, AssertionError):
        return tc3_error("FailedOperation.JsonParseFail", "body")
    return tc3_sms(doc) if service == "sms" else tc3_vms(doc)


def template_check(doc):
    tid = doc.get("TemplateId")
    params = doc.get("TemplateParamSet", [])
    if not isinstance(tid, str) or tid not in ARGS.templates:
        return tc3_error("FailedOperation.TemplateIncorrectOrUnapproved",
                         "template")
    if not isinstance(params, list) or \
            not all(isinstance(p, str) for p in params) or \
            len(params) != ARGS.templates[tid]:
        return tc3_error(
            "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
            "parameter count")
    return None


E164 = re.compile(r"\+[1-9][0-9]{6,14}$")


def tc3_sms(doc):
    if doc.get("SmsSdkAppId") not in ARGS.sms_app:
        return tc3_error("InvalidParameterValue.SdkAppIdNotExist", "app")
    nums = doc.get("PhoneNumberSet")
    if not isinstance(nums, list) or not nums:
        return tc3_error("MissingParameter.EmptyPhoneNumberSet", "numbers")
    if len(nums) > 200:
        return tc3_error("LimitExceeded.PhoneNumberCountLimit", "> 200")
    if len({str(n).startswith("+86") for n in nums}) > 1:
        return tc3_error(
            "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
            "mixed")
    bad = template_check(doc)
    if bad:
        return bad
    if ARGS.sign and doc.get("SignName") not in ARGS.sign:
        return tc3_error("FailedOperation.SignatureIncorrectOrUnapproved",
                         "sign")
    out = []
    for n in nums:
        e = {"PhoneNumber": n, "SerialNo": "", "Fee": 0,
             "SessionContext": doc.get("SessionContext", ""),
             "IsoCode": "CN" if str(n).startswith("+86") else "DEF"}
        if not isinstance(n, str) or not E164.match(n):
            e.update(Code="InvalidParameterValue.IncorrectPhoneNumber",
                     Message="number")
        elif n.endswith("9999"):
            e.update(Code="FailedOperation.PhoneNumberInBlacklist",
                     Message="black list")
        else:
            e.update(Code="Ok", Message="send success", Fee=1,
                     SerialNo="5000:%s" % uuid.uuid4().hex)
        out.append(e)
    out.reverse()
    return "Ok", {"Response": {"SendStatusSet": out,
                               "RequestId": str(uuid.uuid4())}}


def tc3_vms(doc):
    if doc.get("VoiceSdkAppid") not in ARGS.voice_app:
        return tc3_error("InvalidParameterValue.SdkAppidNotExist", "app")
    n = doc.get("CalledNumber")
    if not isinstance(n, str) or not E164.match(n):
        return tc3_error("InvalidParameterValue.CalledNumberVerifyFail",
                         "number")
    bad = template_check(doc)
    if bad:
        return bad
    pt = doc.get("PlayTimes", 2)
    if not isinstance(pt, int) or not 1 <= pt <= 3:
        return tc3_error("FailedOperation.InvalidParameters", "PlayTimes")
    if n.endswith("9999"):
        return tc3_error("InvalidParameterValue.CalledNumberVerifyFail",
                         "refused")
    return "Ok", {"Response": {"SendStatus": {
        "CallId": str(uuid.uuid1()),
        "SessionContext": doc.get("SessionContext", "")},
        "RequestId": str(uuid.uuid4())}}


# ---------------------------------------------------------------- server


def numbers_of(body):
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    tel = doc.get("tel")
    if isinstance(tel, dict):
        tel = [tel]
    if isinstance(tel, list):
        return [t.get("mobile", "") for t in tel if isinstance(t, dict)]
    nums = doc.get("PhoneNumberSet") or [doc.get("CalledNumber", "")]
    return [str(n) for n in nums if n is not None]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, raw, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        if self.path == "/_fake/stats":
            with LOCK:
                s = {k: STATE[k] for k in (
                    "calls", "max_inflight", "connections",
                    "barrier_opened", "barrier_gave_up")}
            self.send(200, json.dumps(s).encode())
        else:
            self.send(404, b"{}")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if 0 < n <= 1 << 20 else b""
        path, _, self.query = self.path.partition("?")
        if path == "/_fake/control":
            c = json.loads(body or b"{}")
            with LOCK:
                for k in ("delay_ms", "skew", "barrier"):
                    if k in c:
                        STATE[k] = int(c[k])
                if "mode" in c:
                    STATE["mode"] = c["mode"]
                if c.get("reset"):
                    STATE["calls"] = STATE["max_inflight"] = 0
                    STATE["connections"] = 0
                    STATE["barrier_opened"] = STATE["barrier_gave_up"] = 0
            self.send(200, b'{"ok": true}')
            return
        host = self.headers.get("Host", "")
        with LOCK:
            STATE["calls"] += 1
            STATE["inflight"] += 1
            STATE["max_inflight"] = max(STATE["max_inflight"],
                                        STATE["inflight"])
            delay = STATE["delay_ms"]
            if STATE["barrier"]:
                if BARRIER.wait_for(lambda: STATE["max_inflight"] >=
                                    STATE["barrier"], 8):
                    STATE["barrier_opened"] += 1
                else:
                    STATE["barrier_gave_up"] += 1
                BARRIER.notify_all()
        try:
            if delay:
                time.sleep(delay / 1000.0)
            mode = STATE.get("mode", "ok")
            if mode == "flap":
                with LOCK:
                    STATE["flap"] = not STATE.get("flap", False)
                    mode = "http503" if STATE["flap"] else "ok"
            if mode == "http503":
                self.send_response(503)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if mode == "ratelimit":
                self.send(200, json.dumps({"Response": {"Error": {
                    "Code": "RequestLimitExceeded", "Message": "slow down"},
                    "RequestId": "fake"}}).encode())
                return
            self.answer(host, path, body)
        finally:
            with LOCK:
                STATE["inflight"] -= 1

    def answer(self, host, path, body):
        kind = api = None
        if host == "yun.tim.qq.com" and path == SMS_PATH:
            api, kind = "v5", "sms"
        elif host in ("cloud.tim.qq.com", "yun.tim.qq.com") and \
                path == VOICE_PATH:
            api, kind = "v5", "voice"
        elif host in ("sms.tencentcloudapi.com",
                      "vms.tencentcloudapi.com") and path == "/":
            api, kind = "tc3", host.split(".")[0]
        if kind is None:
            spool(self, body, "404")
            self.send(404, b"not found", "text/plain")
            return
        trick = scripted(numbers_of(body))
        if trick == "0500":
            spool(self, body, "http-500")
            self.send(500, b"internal error", "text/plain")
            return
        if trick == "0777":
            spool(self, body, "not-json")
            self.send(200, b"<html>oops</html>", "text/html")
            return
        if trick == "0888":
            time.sleep(5)
        if api == "v5":
            verdict, doc = v5_answer(self, body, kind)
        else:
            verdict, doc = tc3_answer(self, body, kind)
        spool(self, body, verdict)
        self.send(200, json.dumps(doc, ensure_ascii=False).encode())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 256
    ctx = None

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's thread, so slow or
        # many handshakes never hold the others up.
        # Small writes must not wait for delayed ACKs (40 ms each).
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with LOCK:
            STATE["connections"] += 1
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except OSError:
            pass
        finally:
            tls.close()


def pairs(items):
    out = {}
    for it in items:
        k, _, v = it.partition(":")
        out[k] = v
    return out


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--pki", required=True)
    ap.add_argument("--v5-app", action="append", default=[])
    ap.add_argument("--tc3-key", action="append", default=[])
    ap.add_argument("--sms-app", action="append", default=[])
    ap.add_argument("--voice-app", action="append", default=[])
    ap.add_argument("--template", action="append", default=[])
    ap.add_argument("--sign", action="append", default=[])
    ap.add_argument("--v5-template", action="append", default=[])
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--skew", type=int, default=0)
    ap.add_argument("--lifetime", type=int, default=600)
    ARGS = ap.parse_args()
    ARGS.v5_apps = pairs(ARGS.v5_app)
    ARGS.tc3_keys = pairs(ARGS.tc3_key)
    ARGS.templates = {k: int(v or 1) for k, v in pairs(ARGS.template).items()}
    STATE["delay_ms"] = ARGS.delay_ms
    STATE["skew"] = ARGS.skew
    os.makedirs(ARGS.dir, exist_ok=True)
    os.makedirs(ARGS.pki, exist_ok=True)
    cert, key = pki.make_leaf(ARGS.pki, HOSTS)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = Server(("127.0.0.1", ARGS.port), Handler)
    srv.ctx = ctx
    threading.Timer(ARGS.lifetime, lambda: os._exit(0)).start()
    print("qcloud fake on 127.0.0.1:%d" % ARGS.port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
