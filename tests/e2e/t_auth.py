#!/usr/bin/python3
"""Signature mode and bk_token (contract 3.3-3.4), and the HTTP user
directory (contract 2.5): needs live timestamps and a fake login service,
so it is a script rather than a case file."""
import base64
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402

PATH = "/api/c/compapi/v2/cmsi/send_mail/"


def signed(method, path, body, secret="demo-secret", alg=hashlib.sha1, **over):
    """The SDK's signature variant (contract 6.2): for POST the app code
    rides in the body, the query holds only timestamp, nonce, signature."""
    q = {"bk_timestamp": str(int(time.time())),
         "bk_nonce": str(random.randint(1, 2**31 - 1))}
    if method == "GET":
        q.update({"bk_app_code": "demo", "bk_username": "admin"})
    q.update(over)
    q = {k: v for k, v in q.items() if v is not None}
    items = dict(q)
    if method == "POST":
        items["data"] = body.decode()
    msg = "%s%s?%s" % (method, path, "&".join(
        "%s=%s" % (k, items[k]) for k in sorted(items)))
    q["bk_signature"] = base64.b64encode(hmac.new(
        secret.encode(), msg.encode(), alg).digest()).decode()
    return path + "?" + urllib.parse.urlencode(q)


def main():
    c = Checker()
    build = sys.argv[1]
    fakes = [{"name": "login", "cmd": ["tests/fakes/bk_login.py", "--port",
              "{login.port0}", "--dir", "{dir}/login"]}]
    cfg = {"login": {"is_login_url":
                     "http://127.0.0.1:{login.port0}/login/accounts/is_login/"}}
    mail = {"receiver": "a@example.com", "title": "t", "content": "c"}
    with harness.Gateway(build, cfg, fakes=fakes) as g:
        body = json.dumps(dict(mail, bk_app_code="demo",
                               bk_username="admin")).encode()
        st, doc = http(g, "POST", signed("POST", PATH, body), body)
        c.eq("signature POST accepted", doc.get("result"), True)
        st, doc = http(g, "GET", signed("GET", PATH, b"", receiver="a@x.org",
                                        title="t", content="c"))
        c.eq("signature GET accepted", doc.get("result"), True)
        st, doc = http(g, "POST", signed("POST", PATH, body, secret="nope"), body)
        c.eq("wrong signature", doc.get("message"), "Signature [bk_signature] "
             "verification failed, please provide valid parameters and signature")
        st, doc = http(g, "POST", signed("POST", PATH, body), body + b" ")
        c.eq("body changed after signing", doc.get("result"), False)
        # 302, not 301: time() in the app reads the coarse clock, which
        # may still show the last second when this one has just begun.
        st, doc = http(g, "POST", signed("POST", PATH, body, bk_timestamp=str(
            int(time.time()) - 302)), body)
        c.eq("expired timestamp", doc.get("message"),
             "Parameter bk_timestamp is illegal, because it has expired")
        st, doc = http(g, "POST", signed("POST", PATH, body, bk_timestamp="x"), body)
        c.eq("non-time timestamp", doc.get("message"),
             "Parameter bk_timestamp is illegal, due to non-time format")
        st, doc = http(g, "POST", signed("POST", PATH, body, bk_timestamp=None), body)
        c.eq("no timestamp", doc.get("message"), "Parameter bk_timestamp does not exist")
        st, doc = http(g, "POST", signed("POST", PATH, body, bk_nonce=None), body)
        c.eq("no nonce", doc.get("message"), "Parameter bk_nonce does not exist")
        st, doc = http(g, "POST", signed("POST", PATH, body, bk_nonce="abc"), body)
        c.eq("bad nonce", doc.get("message"), "Parameter bk_nonce is illegal")
        st, doc = http(g, "POST", signed("POST", PATH, body, bk_nonce="-3"), body)
        c.eq("negative nonce", doc.get("message"),
             "Parameter bk_nonce is illegal, it must be a positive integer")
        ext = "/o/api/c/compapi/v2/cmsi/send_mail/"
        st, doc = http(g, "POST", signed("POST", ext, body).replace(ext, PATH, 1),
                       body, {"X-Request-Uri": ext + "?x=1"})
        c.eq("X-Request-Uri path is the signed path", doc.get("result"), True)

        # Beyond ESB (security audit, rows 4 and 5): a signed request is
        # taken once, within 300 s of now either way, for the component
        # it was signed for, with no unsigned credentials beside it.
        once = signed("POST", PATH, body)
        st, doc = http(g, "POST", once, body)
        c.eq("a signed request is taken", doc.get("result"), True)
        st, doc = http(g, "POST", once, body)
        c.ok("the same signed request again is refused",
             doc.get("result") is False and doc.get("code") == 1306000 and
             doc.get("message") == "Parameter bk_nonce is illegal, this "
             "signed request was already received", repr(doc))
        st, doc = http(g, "POST", signed("POST", PATH, body), body)
        c.eq("a new nonce is taken again", doc.get("result"), True)
        for ahead in (3600, 10 * 365 * 86400):
            st, doc = http(g, "POST", signed("POST", PATH, body, bk_timestamp=str(
                int(time.time()) + ahead)), body)
            c.eq("timestamp %d s ahead refused" % ahead, doc.get("message"),
                 "Parameter bk_timestamp is illegal, because it is more than "
                 "300 seconds ahead of the server's clock")
        st, doc = http(g, "POST", signed("POST", PATH, body, bk_timestamp=str(
            int(time.time()) + 60)), body)
        c.eq("timestamp a minute ahead (clock skew) taken", doc.get("result"), True)
        msg_path = "/api/c/compapi/v2/cmsi/send_msg/"
        msg_body = json.dumps(dict(mail, bk_app_code="demo", bk_username="admin",
                                   msg_type="mail")).encode()
        spent = signed("POST", msg_path, msg_body).replace(msg_path, PATH, 1)
        st, doc = http(g, "POST", spent, msg_body, {"X-Request-Uri": msg_path})
        c.eq("signed for send_msg, sent to send_mail with X-Request-Uri send_msg",
             doc.get("message"), "Signature [bk_signature] verification failed, "
             "please provide valid parameters and signature")
        st, doc = http(g, "POST", signed("POST", PATH, body), body, {
            "X-Bkapi-Authorization": json.dumps({"bk_app_code": "demo",
                                                 "bk_username": "mallory"})})
        c.eq("unsigned header credentials beside a signature are refused",
             doc.get("message"), "Signature [bk_signature] does not cover the "
             "request header X-Bkapi-Authorization, please send credentials "
             "in the signed parameters")
        # Issue 32 row 18: the 2025 SDK signs the same string with
        # HMAC-SHA256; both are taken, under the same replay rules.
        st, doc = http(g, "POST", signed("POST", PATH, body, alg=hashlib.sha256), body)
        c.eq("row 18: HMAC-SHA256 signature POST accepted", doc.get("result"), True)
        st, doc = http(g, "GET", signed("GET", PATH, b"", alg=hashlib.sha256,
                                        receiver="a@x.org", title="t", content="c"))
        c.eq("row 18: HMAC-SHA256 signature GET accepted", doc.get("result"), True)
        st, doc = http(g, "POST", signed("POST", PATH, body, secret="nope",
                                         alg=hashlib.sha256), body)
        c.eq("row 18: HMAC-SHA256 with the wrong secret refused", doc.get("message"),
             "Signature [bk_signature] verification failed, please provide valid "
             "parameters and signature")
        st, doc = http(g, "POST", signed("POST", PATH, body, alg=hashlib.sha256), body + b" ")
        c.eq("row 18: HMAC-SHA256, body changed after signing: refused",
             doc.get("result"), False)
        once = signed("POST", PATH, body, alg=hashlib.sha256)
        st, doc = http(g, "POST", once, body)
        st, doc = http(g, "POST", once, body)
        c.eq("row 18: an HMAC-SHA256 signed request is taken once", doc.get("message"),
             "Parameter bk_nonce is illegal, this signed request was already received")
        q = urllib.parse.parse_qs(signed("POST", PATH, body).split("?", 1)[1])
        again = signed("POST", PATH, body, alg=hashlib.sha256,
                       bk_nonce=q["bk_nonce"][0], bk_timestamp=q["bk_timestamp"][0])
        st, doc = http(g, "POST", signed("POST", PATH, body, bk_nonce=q["bk_nonce"][0],
                                         bk_timestamp=q["bk_timestamp"][0]), body)
        st, doc = http(g, "POST", again, body)
        c.eq("row 18: a nonce spent with SHA-1 cannot be spent again with SHA-256",
             doc.get("message"),
             "Parameter bk_nonce is illegal, this signed request was already received")
        st, doc = http(g, "POST", signed("POST", PATH, body, bk_timestamp=str(
            int(time.time()) - 302), alg=hashlib.sha256), body)
        c.eq("row 18: HMAC-SHA256 with an expired timestamp refused", doc.get("message"),
             "Parameter bk_timestamp is illegal, because it has expired")
        # The 2025 SDK's own request names no app: as against ESB, the
        # caller is told the app code is missing.
        sdk_body = json.dumps(dict(mail, bk_username="admin")).encode()
        st, doc = http(g, "POST", signed("POST", PATH, sdk_body, alg=hashlib.sha256),
                       sdk_body)
        c.eq("row 18: an SHA-256 signed request naming no app: told so",
             doc.get("message"), "APP Code [bk_app_code] cannot be empty")
        rdir = os.path.join(g.config["state_dir"], "replay")
        seen = [f for d in os.listdir(rdir) for f in os.listdir(os.path.join(rdir, d))]
        c.ok("nonces are kept under state_dir/replay, named by hash only",
             len(seen) >= 3 and all(len(f) == 64 for f in seen), repr(seen))
        # A replay check that cannot remember refuses rather than passes.
        shutil.rmtree(rdir)
        open(rdir, "w").close()
        st, doc = http(g, "POST", signed("POST", PATH, body), body)
        c.eq("nonce store unwritable: refused", doc.get("message"),
             "Signature [bk_signature] cannot be checked for replay now, "
             "please try again later")
        os.unlink(rdir)

        tok = {"bk_app_code": "plain", "bk_app_secret": "plain-secret"}
        st, doc = http(g, "POST", PATH, json.dumps(dict(tok, bk_token="good-token",
                                                        **mail)).encode())
        c.eq("live bk_token", doc.get("result"), True)
        st, doc = http(g, "POST", PATH, json.dumps(dict(tok, bk_token="stale",
                                                        bk_username="admin",
                                                        **mail)).encode())
        c.eq("dead bk_token fails even with bk_username", doc.get("message"),
             "User authentication failed, please check if the bk_token is valid")
        for bad in ("strfalse", "falseuser", "nouser"):
            st, doc = http(g, "POST", PATH, json.dumps(dict(tok, bk_token=bad,
                                                            **mail)).encode())
            c.eq("login answering %s is no session" % bad, doc.get("message"),
                 "User authentication failed, please check if the bk_token is valid")
        st, doc = http(g, "POST", PATH, json.dumps(dict(tok, bk_token="broken",
                                                        **mail)).encode())
        c.ok("login service error is 1306201", doc.get("code") == 1306201 and
             doc.get("message", "").startswith(
                 "Component request third-party system [BK_LOGIN] interface "
                 "[is_login] error: Status Code: 500"), repr(doc))
        st, doc = http(g, "POST", PATH, json.dumps(dict(
            mail, bk_app_code="demo", bk_app_secret="not-the-SECRET",
            bk_username="admin")).encode())
        rid = doc.get("request_id", "?")
        # Log lines (issue 22): an ISO 8601 time first, and a refused
        # authentication says which check refused it, never the secret.
        ours = [l for l in g.app_log().splitlines() if " cmsi[" in l]
        c.ok("every log line starts with its ISO 8601 time (UTC, ms)",
             ours and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
                                   r"cmsi\[\d+\] ", l) for l in ours), ours[:3])
        c.ok("a wrong secret is logged with the check that refused it",
             any(rid in l and "auth refused: APP Secret verification failed" in l
                 for l in ours), [l for l in ours if rid in l])
    c.logs(g, ["not-the-SECRET"])

    dcfg = {"users": {"file": None,
                      "url": "http://127.0.0.1:{login.port0}/login/accounts/get_batch_user/",
                      "app_code": "esb", "app_token": "dir-token"}}
    sms = "/api/c/compapi/cmsi/send_sms/"
    cr = {"bk_app_code": "demo", "bk_app_secret": "demo-secret", "bk_username": "admin"}
    with harness.Gateway(build, dcfg, fakes=fakes) as g:
        st, doc = http(g, "POST", PATH, json.dumps(dict(
            cr, receiver__username="admin,bob,ghost,badphone", title="t",
            content="c")).encode())
        c.eq("HTTP directory: partial failure message", doc.get("message"),
             "Some users failed to send email. The following users are not "
             "blueking users: ghost;The following users contact format are "
             "incorrect: badphone")
        c.eq("HTTP directory: username_check", doc.get("data"),
             {"username_check": {"invalid": ["ghost"]}})
        st, doc = http(g, "POST", sms, json.dumps(dict(
            cr, receiver__username="bob", content="c")).encode())
        c.eq("HTTP directory: phone for sms", doc.get("result"), True)
        out = "".join(open(os.path.join(g.outbox, n)).read()
                      for n in os.listdir(g.outbox) if n.endswith(".json"))
        c.ok("HTTP directory: bob's phone in the message", "13800000002" in out)
        calls = lambda: open(os.path.join(g.dir, "login/calls.log")).read().count(
            "get_batch_user")
        before = calls()
        for _ in range(3):
            http(g, "POST", sms, json.dumps(dict(
                cr, receiver__username="bob,ghost", content="c")).encode())
        c.eq("HTTP directory: answers cached (unknown names too)", calls(), before)
    c.logs(g, ["dir-token"])

    bad = json.loads(json.dumps(dcfg))
    bad["users"]["app_token"] = "wrong"
    with harness.Gateway(build, bad, fakes=fakes) as g:
        st, doc = http(g, "POST", PATH, json.dumps(dict(
            cr, receiver__username="admin", title="t", content="c")).encode())
        c.eq("directory refuses: message", doc.get("message"),
             "Failed to get users contact information based on username, "
             "APP authentication failed")
    c.logs(g, ["wrong"])

    slow = [{"name": "login", "cmd": fakes[0]["cmd"] + ["--delay-ms", "30000"]}]
    scfg = json.loads(json.dumps(dcfg))
    scfg["upstream"] = {"timeout_ms": 500}
    with harness.Gateway(build, scfg, fakes=slow) as g:
        st, doc = http(g, "POST", PATH, json.dumps(dict(
            cr, receiver__username="admin", title="t", content="c")).encode())
        log = open(os.path.join(g.dir, "login/calls.log")).read()
        c.ok("slow directory: answered on the timeout, before the fake's "
             "30 s stall ended", doc.get("result") is False and
             "get_batch_user" in log and "stall ended" not in log, log)
        c.ok("slow directory: message", doc.get("message", "").startswith(
            "Failed to get users contact information based on username, "
            "Third-party system interface response time exceeds"))
    c.logs(g)

    down = json.loads(json.dumps(dcfg))
    down["users"]["url"] = "http://127.0.0.1:%d/x" % harness.free_port()
    with harness.Gateway(build, down) as g:
        st, doc = http(g, "POST", PATH, json.dumps(dict(
            cr, receiver__username="admin", title="t", content="c")).encode())
        c.ok("directory down: clear message", doc.get("message", "").startswith(
            "Failed to get users contact information based on username, "))
        st, doc = http(g, "POST", PATH, json.dumps(dict(
            cr, receiver="a@x.org", title="t", content="c")).encode())
        c.eq("directory down: worker alive", doc.get("result"), True)
    c.logs(g)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
