#!/usr/bin/python3
"""Multi-tenant BlueKing: usernames resolved through bk-user's contact
profiles (users.bkuser), per tenant, against an HTTPS fake that checks
the gateway credentials, the tenant and the 100-name limit."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402

GW = "/api/bk-cmsi/prod/v1/"
BASE = "https://bkapi.example.com/api/bk-user/prod"
SECRETS = ["cmsi-gw-secret", "mon-secret"]


def fake(*extra):
    return {"name": "bkuser", "cmd": [
        "tests/fakes/bkuser_server.py", "--port", "{bkuser.port0}",
        "--dir", "{dir}/bkuser", "--pki", "{pki}", "--slow", "5"] + list(extra)}


def config(secret="cmsi-gw-secret"):
    bk = {"url": BASE, "app_secret": secret, "cache_seconds": 600}
    return {
        "upstream": {"ca_file": "{pki}/ca.pem", "timeout_ms": 2000,
                     "connect_to": ["bkapi.example.com:443:127.0.0.1:{bkuser.port0}"]},
        "apps": {"bk_monitor": {"secret": "mon-secret", "tenants": ["*"]}},
        "users": {"file": None, "bkuser": bk},
        "components": {"send_weixin": {"delivery": "outbox", "wx_type": "qy",
                                       "wx_qy_corpid": "ww1"}},
        "tenants": {"tenant-a": {},
                    "tenant-b": {"users": {"bkuser": dict(bk, app_code="bk_cmsi")}}}}


def send(g, tenant, users, op="send_mail/", extra=None):
    before = set(os.listdir(g.outbox))
    body = {"receiver__username": users, "title": "t", "content": "c"}
    body.update(extra or {})
    h = {"Content-Type": "application/json", "X-Bk-Tenant-Id": tenant,
         "X-Bkapi-Authorization": json.dumps({"bk_app_code": "bk_monitor",
                                              "bk_app_secret": "mon-secret"})}
    st, doc = http(g, "POST", GW + op, json.dumps(body).encode(), h)
    new = sorted(set(os.listdir(g.outbox)) - before)
    box = "".join(open(os.path.join(g.outbox, n), errors="replace").read()
                  for n in new if not n.startswith("."))
    return st, doc, box


def calls(g):
    p = os.path.join(g.dir, "bkuser", "calls.log")
    return open(p).read().splitlines() if os.path.exists(p) else []


def main():
    c = Checker()
    build = sys.argv[1]
    with harness.Gateway(build, config(), fakes=[fake()]) as g:
        st, doc, box = send(g, "tenant-a", ["u0001", "u0002"])
        c.ok("tenant-a: bk-user's addresses", st == 200 and doc.get("result") is True
             and "u0001@tenant-a.example" in box and "u0002@tenant-a.example" in box,
             "%d %r %r" % (st, doc, box[:300]))
        c.eq("tenant-a: asked as bk_cmsi for tenant-a", calls(g),
             ["tenant=tenant-a app=bk_cmsi names=2"])
        st, doc, box = send(g, "tenant-b", ["shared"])
        c.ok("tenant-b: 'shared' is tenant-b's user", st == 200 and
             "To: shared@tenant-b.example" in box and "tenant-a" not in box,
             "%d %r %r" % (st, doc, box[:300]))
        st, doc, box = send(g, "tenant-a", ["shared"])
        c.ok("tenant-a: the same bk_username is tenant-a's user",
             "To: shared@tenant-a.example" in box and "tenant-b" not in box, box[:300])
        st, doc, box = send(g, "tenant-b", ["shared"])
        c.ok("tenant-b again (cached): still tenant-b's",
             "To: shared@tenant-b.example" in box, box[:300])
        n0 = len(calls(g))
        st, doc, box = send(g, "tenant-a", ["u%04d" % i for i in range(10, 260)])
        made = calls(g)[n0:]
        c.ok("250 names: one send", st == 200 and doc.get("result") is True,
             "%d %r" % (st, doc))
        c.eq("250 names: 3 calls of at most 100",
             sorted(made), sorted(["tenant=tenant-a app=bk_cmsi names=100"] * 2 +
                                  ["tenant=tenant-a app=bk_cmsi names=50"]))
        # One over a call's 100: 100 and 1, not 101 in one.
        n0 = len(calls(g))
        st, doc, box = send(g, "tenant-a", ["u%04d" % i for i in range(300, 401)])
        made = calls(g)[n0:]
        c.ok("101 names: one send", st == 200 and doc.get("result") is True,
             "%d %r" % (st, doc))
        c.eq("101 names: calls of 100 and 1",
             sorted(made), sorted(["tenant=tenant-a app=bk_cmsi names=100",
                                   "tenant=tenant-a app=bk_cmsi names=1"]))
        st, doc, box = send(g, "tenant-b", ["shared"], op="send_sms/")
        c.ok("tenant-b sms: phone_country_code 852 goes out as E.164",
             st == 200 and "+85261234567" in box, "%d %r %r" % (st, doc, box[:300]))
        st, doc, box = send(g, "tenant-a", ["u0003"], op="send_weixin/",
                            extra={"message_data": {"heading": "h", "message": "m"}})
        c.ok("tenant-a weixin: wx_userid feeds WeCom", st == 200 and "wa-u0003" in box,
             "%d %r %r" % (st, doc, box[:300]))
        st, doc, box = send(g, "tenant-a", ["u0004", "nobody", "has,comma"])
        inv = ((doc.get("data") or {}).get("username_check") or {}).get("invalid")
        c.ok("names bk-user does not return are unknown; the rest are sent",
             st == 200 and sorted(inv or []) == ["has,comma", "nobody"]
             and "u0004@tenant-a.example" in box, "%d %r" % (st, doc))
        st, doc, box = send(g, "default", ["u0001"])
        c.ok("default tenant: asked as default, which does not know u0001",
             st == 400 and ((doc.get("data") or {}).get("username_check") or {})
             .get("invalid") == ["u0001"] and calls(g)[-1].startswith("tenant=default "),
             "%d %r" % (st, doc))
        for name, want in (("x-garbage", "bk-user answered no contact profiles"),
                           ("x-slow", "response time exceeds 2 seconds")):
            st, doc, box = send(g, "tenant-a", [name])
            c.ok("directory %s: 503 UNAVAILABLE, nothing sent" % name,
                 st == 503 and box == "" and
                 (doc.get("error") or {}).get("code") == "UNAVAILABLE" and
                 want in doc.get("message", ""), "%d %r" % (st, doc))
        st, doc, box = send(g, "tenant-a", ["u0005"])
        c.ok("after them, the worker still serves", st == 200 and "u0005@" in box,
             "%d %r" % (st, doc))
    c.logs(g, SECRETS)

    with harness.Gateway(build, config(secret="wrong-secret"), fakes=[fake()]) as g:
        st, doc, box = send(g, "tenant-a", ["u0001"])
        c.ok("bk-user refusing the app: 503 naming the refusal", st == 503 and
             box == "" and "bk-user answered 401: app authentication failed"
             in doc.get("message", ""), "%d %r" % (st, doc))
    c.logs(g, SECRETS + ["wrong-secret"])

    # Down: nothing listens.
    cfg = config()
    cfg["upstream"]["connect_to"] = ["bkapi.example.com:443:127.0.0.1:1"]
    with harness.Gateway(build, cfg, fakes=[fake()]) as g:
        st, doc, box = send(g, "tenant-a", ["u0001"])
        c.ok("bk-user down: 503, nothing sent", st == 503 and box == "",
             "%d %r" % (st, doc))
    c.logs(g, SECRETS)
    configtest(c, build)
    return c.done()


def configtest(c, build):
    tmp = tempfile.mkdtemp(prefix="cmsi-bkuser-")
    cfg = dict(harness.DEFAULT_CONFIG, state_dir=os.path.join(tmp, "state"),
               schemas_dir=os.path.join(harness.TOP, "conf/schemas"),
               templates_dir=os.path.join(harness.TOP, "templates"))
    path = os.path.join(tmp, "c.json")
    for users, want in (
            ({"bkuser": {"url": BASE}}, "users.bkuser.app_secret: required"),
            ({"bkuser": {"url": "ftp://x", "app_secret": "s"}},
             "users.bkuser.url: the gateway's http(s) URL of bk-user is required"),
            ({"bkuser": {"url": BASE, "app_secret": "s", "cache_second": 1}},
             "users.bkuser.cache_second: unknown key"),
            ({"bkuser": {"url": BASE, "app_secret": "s"}, "url": "http://x/"},
             "users: set one of file, url and bkuser"),
            ({"fle": "users.json"}, "users.fle: unknown key")):
        cfg["users"] = users
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([os.path.join(harness.TOP, build, "cmsi.fcgi"), "-t",
                            "-c", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        c.ok("-t says %r" % want, p.returncode != 0 and want in out, out)


if __name__ == "__main__":
    sys.exit(main())
