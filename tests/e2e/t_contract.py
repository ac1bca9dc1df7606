#!/usr/bin/python3
"""What the contract fixes and a regression could quietly break, each
checked exactly: the app secret compared whole (a prefix, an extension,
a one-byte change, empty, a NUL inside), X-Bkapi-Authorization winning
over the parameters, the skip_user_auth whitelist, the body cap at
exactly max_body and one byte over (with max_body set, and the default),
log lines that no caller can forge with control bytes (raw FastCGI
params, no web server between), how the app ends a FastCGI connection
(at once when the request was read to its end; draining, as libfcgi
does, when input is left unread, also after a kept connection), the
audit record of every channel (with each recipient's outcome where the
upstream reports one),
outbox files that appear only whole (inotify: renamed in, never written
in place), and TLS host name verification.

usage: t_contract.py BUILDDIR
"""
import ctypes
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import (Checker, cgi, fcgi, fcgi_answer,  # noqa: E402
                     fcgi_begin, fcgi_rec, http)

MAIL = "/api/c/compapi/cmsi/send_mail/"
CR = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
      "bk_username": "admin"}
MSG = {"receiver": "a@x.org", "title": "t", "content": "c"}
BAD_SECRET = ("APP Secret verification failed, pelase confirm if the APP "
              "Secret and APP Code [bk_app_code=demo] match")
NO_SECRET = ("Signature [bk_signature] and APP Secret [bk_app_secret] "
             "cannot be empty at the same time")
NO_USER = ("User authentication failed, please provide a valid user "
           "identity, such as bk_token, bk_username")
TOO_LARGE = "Request body is too large"


def post(g, doc, headers=None, path=MAIL):
    return http(g, "POST", path, json.dumps(doc).encode(), headers)


def secrets(c, g):
    ok = ("correct", "demo-secret", 0, "Succeeded to send mail")
    cases = [ok,
             ("a prefix", "demo-secre", 1306000, BAD_SECRET),
             ("one byte", "d", 1306000, BAD_SECRET),
             ("an extension", "demo-secretX", 1306000, BAD_SECRET),
             ("a one-byte change", "demo-secreT", 1306000, BAD_SECRET),
             ("another case", "Demo-secret", 1306000, BAD_SECRET),
             ("a NUL and more", "demo-secret\u0000x", 1306000, BAD_SECRET),
             ("a trailing NUL", "demo-secret\u0000", 1306000, BAD_SECRET),
             ("empty", "", 1306000, NO_SECRET)]
    for name, sec, code, msg in cases:
        st, d = post(g, dict(CR, bk_app_secret=sec, **MSG))
        c.ok("secret %s: %s" % (name, msg), st == 200 and
             d.get("code") == code and d.get("message") == msg and
             d.get("result") is (code == 0), repr(d)[:300])
        hdr = {"X-Bkapi-Authorization": json.dumps(
            {"bk_app_code": "demo", "bk_app_secret": sec,
             "bk_username": "admin"})}
        st, d = post(g, MSG, hdr)
        c.ok("secret %s in X-Bkapi-Authorization: %s" % (name, msg),
             d.get("code") == code and d.get("message") == msg, repr(d)[:300])
    st, d = http(g, "POST", MAIL, b"bk_app_code=demo&bk_app_secret=demo-"
                 b"secret%00x&bk_username=admin&receiver=a@x.org&title=t"
                 b"&content=c", {"Content-Type":
                                 "application/x-www-form-urlencoded"})
    c.ok("secret with a NUL in form data: refused",
         d.get("code") == 1306000 and d.get("message") == BAD_SECRET,
         repr(d)[:300])
    # The header wins, as newer ESB: its secret decides, the parameters'
    # do not count.
    good = {"X-Bkapi-Authorization": json.dumps(CR)}
    bad = {"X-Bkapi-Authorization": json.dumps(dict(CR, bk_app_secret="x"))}
    st, d = post(g, dict(MSG, bk_app_code="demo", bk_app_secret="wrong"), good)
    c.ok("X-Bkapi-Authorization wins: good header, bad parameters",
         d.get("result") is True, repr(d)[:300])
    st, d = post(g, dict(CR, **MSG), bad)
    c.ok("X-Bkapi-Authorization wins: bad header, good parameters",
         d.get("code") == 1306000 and d.get("message") == BAD_SECRET.replace(
             "demo]", "demo]"), repr(d)[:300])
    st, d = post(g, dict(MSG, bk_app_code="plain",
                         bk_app_secret="plain-secret", bk_username="admin"))
    c.ok("bk_username from an app off the whitelist: refused",
         d.get("code") == 1306000 and d.get("message") == NO_USER,
         repr(d)[:300])


def padded(n):
    """A JSON body of exactly n bytes (a valid request for send_mail)."""
    head = json.dumps(dict(CR, **MSG))[:-1] + ', "pad": "'
    body = head + "x" * (n - len(head) - 2) + '"}'
    assert len(body) == n
    return body.encode()


def body_cap(c, g, cap, what):
    for n, want in ((cap, 200), (cap + 1, 413)):
        st, d = http(g, "POST", MAIL, padded(n))
        if want == 200:
            c.ok("%s: a body of exactly %d bytes is read" % (what, n),
                 st == 200 and d.get("result") is True, repr(d)[:200])
        else:
            c.ok("%s: %d bytes, one over: 413 %s" % (what, n, TOO_LARGE),
                 st == 413 and d.get("result") is False and
                 d.get("message") == TOO_LARGE, "%d %r" % (st, d))


class App:
    """cmsi.fcgi on its own loopback TCP socket (-s), stderr kept."""

    def __init__(self, build, config):
        self.dir = tempfile.mkdtemp(prefix="cmsi-e2e-")
        cfg = harness.merge(json.loads(json.dumps(harness.DEFAULT_CONFIG)),
                            config)
        cfg.update(state_dir=os.path.join(self.dir, "state"),
                   schemas_dir=os.path.join(harness.TOP, "conf/schemas"),
                   templates_dir=os.path.join(harness.TOP, "templates"))
        self.conf = os.path.join(self.dir, "cmsi.json")
        json.dump(cfg, open(self.conf, "w"))
        self.port = harness.free_port()
        self.err = open(os.path.join(self.dir, "app.log"), "wb")
        self.p = subprocess.Popen(
            [os.path.join(harness.TOP, build, "cmsi.fcgi"), "-c", self.conf,
             "-s", "127.0.0.1:%d" % self.port],
            stdout=self.err, stderr=subprocess.STDOUT)
        if not harness.wait_port(self.port):
            self.close()
            raise RuntimeError("the app did not listen")
        self.addr = ("127.0.0.1", self.port)

    def log(self):
        return open(os.path.join(self.dir, "app.log"), "rb").read()

    def close(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def raw_fastcgi(c, build):
    app = App(build, {"max_body": 2048})
    try:
        forged = "cmsi[1] info 0123 app=demo result=true"
        st, _, body = fcgi(app.addr, cgi(
            "GET", "/nope/\n" + forged + "\r\x1b[2K\x7f\\", None))
        st2, _, _ = fcgi(app.addr, cgi(
            "P\nOST", MAIL + "\n" + forged, b"{}"))
        # Without CONTENT_LENGTH the app reads to the end of the stream.
        for n, want in ((2048, 200), (2049, 413)):
            p = cgi("POST", MAIL, None)
            s, _, b = fcgi(app.addr, p, padded(n))
            c.ok("raw FastCGI, no CONTENT_LENGTH, %d bytes (max_body 2048): "
                 "%d" % (n, want), s == want, "%d %r" % (s, b[:200]))
            s, _, b = fcgi(app.addr, cgi("POST", MAIL, padded(n)), padded(n))
            c.ok("raw FastCGI, CONTENT_LENGTH %d (max_body 2048): %d" % (
                n, want), s == want, "%d %r" % (s, b[:200]))
        app.p.send_signal(signal.SIGTERM)
        app.p.wait(10)
        log = app.log()
        lines = log.split(b"\n")
        c.ok("control bytes in the path: the request is answered 404",
             st == 404, "%d %r" % (st, body[:200]))
        c.ok("no log line forged by LF in the path or method",
             not any(l.startswith(forged.encode()) for l in lines),
             repr(log[-600:]))
        c.ok("LF, CR, ESC, DEL and backslash are escaped as \\xNN",
             b"/nope/\\x0a" + forged.encode() + b"\\x0d\\x1b[2K\\x7f\\x5c"
             in log, repr(log[-600:]))
        c.ok("no raw control byte in the log but line ends",
             not re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", log), repr(log[-300:]))
    finally:
        app.close()


# -- how the app ends a FastCGI connection --------------------------------
# libfcgi's close waits for the web server to hang up, reading what
# still comes, so that late input cannot reset the connection: the app
# keeps that wait where input is left unread and skips it where the
# request was read to its end (issue 18: the wait held every worker).

def fc_answer(sock):
    """(status, body) of the answer read from sock."""
    head, _, body = fcgi_answer(sock).partition(b"\r\n\r\n")
    m = re.search(rb"Status: (\d+)", head)
    return (int(m.group(1)) if m else 200) if head else 0, body


def fc_refused(sock, secs):
    """Whether writing on after the answer fails within secs: the app
    has closed its end (a write every 20 ms keeps a draining app
    reading, so only a closed end refuses them)."""
    import time
    end = time.time() + secs
    while time.time() < end:
        try:
            sock.sendall(fcgi_rec(5, b"x" * 512))
        except OSError:
            return True
        time.sleep(0.02)
    return False


def fastcgi_close(c, build):
    import socket
    app = App(build, {"max_body": 2048})
    big = cgi("POST", MAIL, b"x" * 100000)
    try:
        body = json.dumps(dict(CR, **MSG)).encode()
        s = socket.create_connection(app.addr, 10)
        s.sendall(fcgi_begin(cgi("POST", MAIL, body)) + fcgi_rec(5, body) +
                  fcgi_rec(5, b""))
        st, _ = fc_answer(s)
        c.ok("read to its end: answered, then closed at once (no wait "
             "for the web server to hang up)", st == 200 and
             fc_refused(s, 1.5), st)
        s.close()

        s = socket.create_connection(app.addr, 10)
        s.sendall(fcgi_begin(big) + fcgi_rec(5, b"x" * 8000))
        st, _ = fc_answer(s)
        c.ok("body refused unread (413): the app drains what still comes",
             st == 413 and not fc_refused(s, 0.5), st)
        s.close()

        s = socket.create_connection(app.addr, 10)
        s.sendall(fcgi_begin(cgi("GET", "/healthz", None), keep=True) +
                  fcgi_rec(5, b""))
        st1, _ = fc_answer(s)
        s.sendall(fcgi_begin(big) + fcgi_rec(5, b"x" * 8000))
        st2, _ = fc_answer(s)
        c.ok("a kept connection serves the next request, and a body "
             "refused unread there is still drained", st1 == 200 and
             st2 == 413 and not fc_refused(s, 0.5), (st1, st2))
        s.close()
        c.ok("app alive after the three", fcgi(app.addr, cgi(
            "POST", MAIL, body), body)[0] == 200)
    finally:
        app.close()


# -- the audit log: one record per message, for every channel ----------

AUDIT = [
    ("send_mail", {"receiver": "a@x.org,b@x.org", "title": "t",
                   "content": "c"}, ["a@x.org", "b@x.org"]),
    ("send_sms", {"receiver": "13800000000,13800000001", "content": "c"},
     ["13800000000", "13800000001"]),
    ("send_weixin", {"receiver": "u1,u2", "data": {"heading": "h",
                                                   "message": "m"}},
     ["u1", "u2"]),
    ("send_qy_weixin", {"receiver": "u1,u2", "content": "c"}, ["u1", "u2"]),
    ("send_mp_weixin", {"receiver": "o1,o2", "data": {"heading": "h",
                                                      "message": "m"}},
     ["o1", "o2"]),
]


def audit(c, build):
    cfg = {"tenants": {"tenant-a": {}},
           "apps": {"demo": {"secret": "demo-secret", "skip_user_auth": True,
                             "tenants": ["*"]}}}
    with harness.Gateway(build, cfg) as g:
        for comp, doc, rcpts in AUDIT:
            st, d = post(g, dict(CR, **doc), path="/api/c/compapi/cmsi/%s/"
                         % comp)
            recs = [a for a in g.audit() if a.get("request_id") ==
                    d.get("request_id")]
            want = {"request_id": d.get("request_id"), "component": comp,
                    "app": "demo", "recipients": rcpts, "result": True,
                    "code": 0, "message": d.get("message")}
            got = recs[0] if len(recs) == 1 else None
            c.ok("audit %s: one record with request_id, app, recipients, "
                 "result, code, message" % comp, d.get("result") is True and
                 got is not None and all(got.get(k) == v
                                         for k, v in want.items()),
                 "%r vs %r" % (got, want))
        st, d = post(g, dict(CR, user_list_information=[
            {"username": "a", "mobile_phone": "13800000000"},
            {"username": "b", "mobile_phone": "13800000001"}],
            auto_read_message="m"), path="/api/c/compapi/cmsi/send_voice_msg/")
        recs = [a for a in g.audit() if a.get("request_id") ==
                d.get("request_id")]
        c.ok("audit send_voice_msg: both people in the record",
             d.get("result") is True and len(recs) == 1 and
             [p.get("mobile_phone") for p in recs[0].get("recipients", [])]
             == ["13800000000", "13800000001"] and recs[0].get("code") == 0,
             repr(recs))
        # A failure is recorded as one: result false and its code.
        st, d = post(g, dict(CR, receiver__username="ghost", title="t",
                             content="c"))
        recs = [a for a in g.audit() if a.get("request_id") ==
                d.get("request_id")]
        c.ok("audit: a refused request leaves no record or a failed one",
             d.get("result") is False and all(
                 r.get("result") is False and r.get("code") == d.get("code")
                 for r in recs), repr((d, recs)))
        # The v1 dialect picks the tenant; the record names it.
        st, d = http(g, "POST", "/v1/send_mail/", json.dumps(dict(
            MSG, receiver="t@x.org")).encode(), {
                "X-Bkapi-Authorization": json.dumps(
                    {"bk_app_code": "demo", "bk_app_secret": "demo-secret"}),
                "X-Bk-Tenant-Id": "tenant-a", "Content-Type":
                "application/json"})
        recs = [a for a in g.audit() if a.get("recipients") == ["t@x.org"]]
        c.ok("audit names the tenant of a v1 message",
             len(recs) == 1 and recs[0].get("tenant") == "tenant-a" and
             recs[0].get("app") == "demo", repr((st, d, recs)))
    c.logs(g)


def audit_outcomes(c, build):
    """Each recipient's outcome, where the upstream reports one, is in
    the audit record: SMTP's RCPT replies, WeCom's invaliduser, the
    Official Account's per-openid results, Tencent Cloud's per-number
    status."""
    import t_qcloud as tq
    import t_smtp as ts
    import t_wechat as tw

    def rec(g, d):
        r = [a for a in g.audit() if a.get("request_id") == d.get("request_id")]
        return r[0] if len(r) == 1 else {}

    with harness.Gateway(build, ts.config(), fakes=[ts.fake()]) as g:
        st, d = post(g, dict(CR, receiver="a@example.com,refuse-b@example.com",
                             title="t", content="c"))
        r = rec(g, d)
        c.ok("audit send_mail over SMTP: refused recipient with its 550, "
             "the other as sent", r.get("result") is False and
             [(f.get("receiver"), f.get("code")) for f in r.get("failed", [])]
             == [("refuse-b@example.com", 550)] and
             [f.get("receiver") for f in r.get("successed", [])] ==
             ["a@example.com"] and r.get("recipients") ==
             ["a@example.com", "refuse-b@example.com"], repr((d, r)))
    c.logs(g, ts.SECRETS)
    with harness.Gateway(build, tw.config(), fakes=[tw.fake()]) as g:
        st, d = post(g, dict(CR, receiver="u1,Ghost", data={
            "heading": "h", "message": "m"}),
            path="/api/c/compapi/cmsi/send_weixin/")
        r = rec(g, d)
        c.ok("audit send_weixin over WeCom: the invalid user failed",
             r.get("result") is False and r.get("failed") ==
             [{"receiver": "Ghost", "reason": "invaliduser"}], repr((d, r)))
        st, d = post(g, dict(CR, receiver="o1,nobody", data={
            "heading": "h", "message": "m"}),
            path="/api/c/compapi/cmsi/send_mp_weixin/")
        r = rec(g, d)
        res = {x.get("receiver", x.get("openid")): x for x in
               r.get("results", [])}
        c.ok("audit send_mp_weixin: a result per openid",
             r.get("code") == d.get("code") and set(res) == {"o1", "nobody"}
             and r.get("results") == (d.get("data") or {}).get("results"),
             repr((d, r)))
    c.logs(g, tw.SECRETS)
    with harness.Gateway(build, tq.config("v5"), fakes=[tq.fake()]) as g:
        st, d = post(g, dict(CR, receiver="13800000001,13800009999",
                             content="disk full"),
                     path="/api/c/compapi/cmsi/send_sms/")
        r = rec(g, d)
        c.ok("audit send_sms over Tencent Cloud: the refused number failed, "
             "the other sent", r.get("result") is False and
             r.get("failed") == d["data"]["failed"] and
             r.get("successed") == d["data"]["successed"] and
             len(r["failed"]) == 1 and len(r["successed"]) == 1 and
             "13800009999" in json.dumps(r["failed"]), repr((d, r)))
    c.logs(g, [tq.V5KEY])


# -- the outbox: files appear whole (linked or renamed in), never written
# in place

IN_CREATE, IN_CLOSE_WRITE, IN_MOVED_TO, IN_MODIFY = 0x100, 0x8, 0x80, 0x2


def outbox_atomic(c, build):
    libc = ctypes.CDLL(None, use_errno=True)
    with harness.Gateway(build) as g:
        fd = libc.inotify_init1(os.O_NONBLOCK)
        if fd < 0 or libc.inotify_add_watch(
                fd, g.outbox.encode(),
                IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY) < 0:
            c.ok("inotify on the outbox", False, "errno %d" % ctypes.get_errno())
            return
        try:
            for comp, doc, _ in AUDIT:
                post(g, dict(CR, **doc), path="/api/c/compapi/cmsi/%s/" % comp)
            events = []
            buf = b""
            for _ in range(1000):
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    break
                buf += chunk
            while len(buf) >= 16:
                _, mask, _, n = struct.unpack("iIII", buf[:16])
                name = buf[16:16 + n].rstrip(b"\0").decode()
                events.append((mask, name))
                buf = buf[16 + n:]
        finally:
            os.close(fd)
        # A file appears whole: renamed in, or linked in from an inode
        # written without a name (O_TMPFILE: its events name "#<ino>").
        final = sorted(n for n in os.listdir(g.outbox) if not n.startswith("."))
        appeared = sorted(n for m, n in events if m & (IN_MOVED_TO | IN_CREATE)
                          and not n.startswith((".", "#")))
        written = sorted(n for m, n in events if m & (IN_MODIFY | IN_CLOSE_WRITE)
                         and not n.startswith((".", "#")))
        c.ok("outbox: every message appeared whole, once (%d files)" %
             len(final), final and appeared == final, repr((final, appeared)))
        c.ok("outbox: no message file was written under its final name",
             not written, repr(written[:4]))


def tls_host(c, build):
    """A certificate from the trusted CA but for another host name."""
    fk = {"name": "dest", "ports": 1, "cmd": [
        "tests/fakes/dest_server.py", "--port", "{dest.port0}",
        "--dir", "{dir}/dest", "--pki", "{pki}", "--host",
        "other.example.com", "--lifetime", "300"]}
    cfg = {"upstream": {"ca_file": "{pki}/ca.pem", "timeout_ms": 5000,
                        "connect_to": ["dest.example.com:443:127.0.0.1:"
                                       "{dest.port0}"]},
           "components": {"send_mail": {
               "delivery": None,
               "dest_url": "https://dest.example.com/cmsi/mail"}}}
    with harness.Gateway(build, cfg, fakes=[fk]) as g:
        st, d = post(g, dict(CR, **MSG))
        spool = os.path.join(g.dir, "dest")
        sent = [n for n in os.listdir(spool)] if os.path.isdir(spool) else []
        c.ok("dest_url with a trusted certificate for another host: "
             "1306203, nothing sent", d.get("code") == 1306203 and
             not sent, repr((d, sent)))
    c.logs(g)


def main():
    c = Checker()
    b = sys.argv[1]
    parts = [
        ("secrets, max_body 4096", lambda: gw(c, b, {"max_body": 4096},
                                             lambda g: (secrets(c, g),
                                                        body_cap(c, g, 4096,
                                                                 "max_body 4096")))),
        ("default body cap", lambda: gw(c, b, {}, lambda g: body_cap(
            c, g, harness.LIMIT, "default max_body (8 MiB)"))),
        ("raw FastCGI", lambda: raw_fastcgi(c, b)),
        ("FastCGI close", lambda: fastcgi_close(c, b)),
        ("audit", lambda: audit(c, b)),
        ("audit outcomes", lambda: audit_outcomes(c, b)),
        ("outbox", lambda: outbox_atomic(c, b)),
        ("TLS host", lambda: tls_host(c, b)),
    ]
    for name, fn in parts:
        try:
            fn()
        except Exception as e:  # a crash of the suite is a failure
            c.ok("%s ran" % name, False, repr(e))
    return c.done()


def gw(c, b, cfg, fn):
    with harness.Gateway(b, cfg) as g:
        fn(g)
    c.logs(g)


if __name__ == "__main__":
    sys.exit(main())
