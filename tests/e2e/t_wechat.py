#!/usr/bin/python3
"""WeCom and Official Account checks that do not fit the case files: one
access token shared by several worker processes, tokens revoked early or
expiring, refresh-and-retry, slow, broken and untrusted upstreams, the
server URL fed by the fake the way WeChat feeds it, and no secret or
token in any log or answer.

usage: t_wechat.py BUILDDIR
"""
import concurrent.futures
import glob
import json
import os
import ssl
import sys
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402

CB = "/api/c/compapi/cmsi/wechat/callback/"
SECRETS = ["corp-secret-1-SECRET", "mp-secret-1-SECRET",
           "server-url-token-SECRET"]
CREDS = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
         "bk_username": "admin"}
DATA = {"heading": "h", "message": "m", "date": "d"}


def fake(*extra):
    return {"name": "wechat", "ports": 1, "cmd": [
        "tests/fakes/wechat_server.py", "--port", "{wechat.port0}",
        "--dir", "{dir}/wechat", "--pki", "{pki}", "--lifetime", "900",
        "--corp", "wwcorp0001:corp-secret-1-SECRET:1000002",
        "--users", "u1,u2,admin", "--app", "wxapp0001:mp-secret-1-SECRET",
        "--openids", ",".join(["o%d" % i for i in range(200)]),
        "--template", "tpl1:first,keyword1,keyword2,remark",
        "--mp-token", "server-url-token-SECRET"] + list(extra)}


def config(timeout_ms=5000, source="stable", trust=True, port="{wechat.port0}"):
    up = {"timeout_ms": timeout_ms, "connect_to": [
        "qyapi.weixin.qq.com:443:127.0.0.1:%s" % port,
        "api.weixin.qq.com:443:127.0.0.1:%s" % port]}
    if trust:
        up["ca_file"] = "{pki}/ca.pem"
    return {"upstream": up, "components": {
        "send_weixin": {"delivery": None, "wx_type": "qy",
                        "wx_qy_corpid": "wwcorp0001",
                        "wx_qy_corpsecret": "corp-secret-1-SECRET",
                        "wx_qy_agentid": "1000002"},
        "send_mp_weixin": {"delivery": None, "wx_app_id": "wxapp0001",
                           "wx_secret": "mp-secret-1-SECRET",
                           "wx_template_id": "tpl1",
                           "wx_token_source": source,
                           "wx_token": "server-url-token-SECRET",
                           "wx_callback_path": CB}}}


def ctl(g, path, body=None):
    """A control call to the fake (/_fake/...), over its own TLS."""
    ctx = ssl.create_default_context(cafile=os.path.join(g.dir, "pki",
                                                         "ca.pem"))
    req = urllib.request.Request(
        "https://127.0.0.1:%s%s" % (g.subst["{wechat.port0}"], path),
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        return json.loads(r.read())


def send(g, comp, doc, timeout=60):
    body = dict(CREDS)
    body.update(doc)
    return http(g, "POST", "/api/c/compapi/cmsi/%s/" % comp,
                json.dumps(body).encode(), timeout=timeout)


def qy(g, i=0):
    return send(g, "send_weixin", {"receiver": "u1,u2",
                                   "data": dict(DATA, message="m%d" % i)})


def mp(g, to="o1", **kw):
    doc = {"receiver": to, "data": DATA}
    doc.update(kw)
    return send(g, "send_mp_weixin", doc)


def many(fn, n, workers=16):
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(fn, range(n)))


def all_ok(results):
    return all(st == 200 and d.get("result") is True for st, d in results)


def tokens_on_disk(g):
    out = []
    for p in glob.glob(os.path.join(g.config["state_dir"], "tokens", "*")):
        if p.endswith(".lock"):
            continue
        with open(p) as f:
            out.append(f.read().split("\n")[1])
    return out


def shared(c, b):
    """Four workers, one token; revoked early; MP with stable_token."""
    with harness.Gateway(b, config(), procs=4, fakes=[fake()]) as g:
        res = many(lambda i: qy(g, i), 200)
        c.ok("200 WeCom sends through 4 workers all succeed", all_ok(res),
             [r for r in res if r[1].get("result") is not True][:2])
        n = ctl(g, "/_fake/counts")
        c.eq("4 workers shared one gettoken", n["gettoken"], 1)
        pids = {l.split("[")[1].split("]")[0] for l in
                g.app_log().splitlines() if "component=send_weixin" in l}
        c.ok("the sends were served by several processes (%d)" % len(pids),
             len(pids) >= 2)
        path = glob.glob(os.path.join(g.config["state_dir"], "tokens",
                                      "wecom-*"))
        c.ok("the token file is 0600 in a 0700 directory",
             len(path) >= 1 and os.stat(path[0]).st_mode & 0o777 == 0o600 and
             os.stat(os.path.dirname(path[0])).st_mode & 0o777 == 0o700)

        ctl(g, "/_fake/revoke", {})
        res = many(lambda i: qy(g, i), 40)
        c.ok("after an early revocation (42001) every send still succeeds",
             all_ok(res), [r for r in res if r[1].get("result") is not True][:2])
        n = ctl(g, "/_fake/counts")
        c.eq("the revoked token was refreshed once for all workers",
             n["gettoken"], 2)

        res = many(lambda i: mp(g, "o%d,o%d" % (i, i + 100)), 50)
        c.ok("50 MP sends through 4 workers all succeed", all_ok(res),
             [r for r in res if r[1].get("result") is not True][:2])
        n = ctl(g, "/_fake/counts")
        c.eq("one stable_token for all workers", n["stable_token"], 1)
        c.eq("one template/send per openid", n["template_send"], 100)
        st, d = mp(g, "o1,o2")
        ids = [r.get("msgid") for r in (d.get("data") or {}).get("results", [])]
        c.ok("each openid's msgid is a number", len(ids) == 2 and
             all(isinstance(i, int) for i in ids), d)

        ctl(g, "/_fake/revoke", {})
        st, d = mp(g, "o1,o2,o3")
        c.ok("MP: a revoked token is refreshed and the calls made again",
             d.get("result") is True, d)
        c.eq("MP: one more stable_token", ctl(g, "/_fake/counts")
             ["stable_token"], 2)
        secret_check(c, g, "shared")


def expiry(c, b):
    """Tokens that expire (6 s here) are fetched again, in time."""
    with harness.Gateway(b, config(), procs=2,
                         fakes=[fake("--expires", "6")]) as g:
        c.ok("first send", qy(g)[1].get("result") is True)
        time.sleep(5.3)
        # 0.7 s left, under the 1.2 s margin: refreshed before it dies.
        res = many(lambda i: qy(g, i), 8, 8)
        c.ok("sends inside the refresh margin succeed", all_ok(res))
        c.eq("the aging token was refreshed once",
             ctl(g, "/_fake/counts")["gettoken"], 2)
        time.sleep(6.2)
        c.ok("a send after expiry succeeds", qy(g)[1].get("result") is True)
        c.eq("the expired token was fetched again",
             ctl(g, "/_fake/counts")["gettoken"], 3)
        secret_check(c, g, "expiry")


def cgi_token(c, b):
    """wx_token_source token: cgi-bin/token kills the previous token, so
    the workers must share one."""
    with harness.Gateway(b, config(source="token"), procs=4,
                         fakes=[fake()]) as g:
        res = many(lambda i: mp(g, "o%d" % i), 60)
        c.ok("cgi-bin/token: 60 sends through 4 workers succeed",
             all_ok(res), [r for r in res if r[1].get("result") is not True][:2])
        c.eq("cgi-bin/token: fetched once", ctl(g, "/_fake/counts")["token"], 1)
        secret_check(c, g, "cgi-bin/token")


def failures(c, b):
    """Slow, broken and unknown upstreams: clear envelopes, in time."""
    with harness.Gateway(b, config(timeout_ms=1000), fakes=[fake()]) as g:
        qy(g)
        mp(g)
        ctl(g, "/_fake/mode?m=hang", {})
        # The fake stalls 120 s per call: answered while none of its
        # stalls has ended is answered by our timeout, not the fake.
        n0 = ctl(g, "/_fake/counts")
        st, d = qy(g)
        n1 = ctl(g, "/_fake/counts")
        c.ok("WeCom stalls: 1306201 timeout before the fake's stall ended",
             d.get("code") == 1306201 and
             "response time exceeds" in d.get("message", "") and
             n1["hung"] - n0["hung"] == 1 and n1["stall_ended"] == 0,
             (d, n0, n1))
        ctl(g, "/_fake/mode?m=garbage", {})
        st, d = qy(g)
        c.ok("an HTML answer: 'not the JSON format'",
             d.get("code") == 1306201 and
             "interface response is not the JSON format" in d["message"], d)
        ctl(g, "/_fake/mode?m=http502", {})
        st, d = mp(g)
        c.ok("HTTP 502: the contract's wording",
             d.get("code") == 1306201 and "Status Code: 502, Error Message: "
             "Third-party system Bad Gateway" in d["message"] and
             "[WEIXIN_MP] interface [send_msg_with_tpl]" in d["message"], d)
        ctl(g, "/_fake/mode?m=ok", {})
        c.ok("back to normal", qy(g)[1].get("result") is True)
        secret_check(c, g, "failures")
    cfg = config()
    cfg["components"]["send_weixin"]["wx_qy_corpid"] = "wwunknown"
    cfg["components"]["send_mp_weixin"]["wx_app_id"] = "wxunknown"
    with harness.Gateway(b, cfg, fakes=[fake()]) as g:
        st, d = qy(g)
        c.ok("unknown corpid: 40013 in the message",
             d.get("code") == 1306000 and d["message"].startswith(
                 "WeChat message sending failed, invalid corpid") and
             d.get("data", {}).get("errcode") == 40013, d)
        st, d = mp(g)
        c.ok("unknown appid: 40013 in the message",
             d["message"].startswith("WeChat message sending failed, "
                                     "invalid appid"), d)
    with harness.Gateway(b, config(trust=False), fakes=[fake()]) as g:
        st, d = qy(g)
        c.ok("a certificate from an unknown CA: 1306203, nothing sent",
             d.get("code") == 1306203 and
             ctl(g, "/_fake/counts")["gettoken"] == 0, d)
    port = harness.free_port()
    with harness.Gateway(b, config(port=str(port)), fakes=[fake()]) as g:
        st, d = mp(g)
        c.ok("nobody listening: 1306201",
             d.get("code") == 1306201 and "[WEIXIN_MP]" in d["message"], d)


def bounded_round(c, b):
    """At most one round of calls (LIM_UP_PARALLEL, 100) in flight, and
    none started once the timeout has passed: against a fake that never
    answers, 150 openids put at most 100 calls into its stall, and the
    answer comes before any stall ends.  (How many arrive depends on how
    fast this machine opens connections, hence the range.)"""
    with harness.Gateway(b, config(timeout_ms=8000), fakes=[fake()]) as g:
        c.ok("bounded round: first MP send", mp(g)[1].get("result") is True)
        ctl(g, "/_fake/mode?m=hang", {})
        st, d = mp(g, ",".join("o%d" % i for i in range(150)))
        n = ctl(g, "/_fake/counts")
        c.ok("MP stalls on 150 openids: 1306201 with 1 to 100 calls in the "
             "fake's stall (%d), none ended" % n["hung"],
             d.get("code") == 1306201 and 1 <= n["hung"] <= 100 and
             n["stall_ended"] == 0, (d, n))
        secret_check(c, g, "bounded round")


def token_errors(c, b):
    """Every errcode WeCom and MP use for a bad token (the fake answers
    it once and kills the token the call carried): refreshed, retried
    with the new token, delivered."""
    with harness.Gateway(b, config(), fakes=[fake()]) as g:
        c.ok("token errors: first WeCom send", qy(g)[1].get("result") is True)
        c.ok("token errors: first MP send", mp(g)[1].get("result") is True)
        for comp, code in (("send_weixin", 40014), ("send_weixin", 41001),
                           ("send_weixin", 42001), ("send_mp_weixin", 40001),
                           ("send_mp_weixin", 40014),
                           ("send_mp_weixin", 42001)):
            n0 = ctl(g, "/_fake/counts")
            ctl(g, "/_fake/token_error?code=%d&n=1" % code, {})
            st, d = qy(g) if comp == "send_weixin" else mp(g)
            n1 = ctl(g, "/_fake/counts")
            kind = "gettoken" if comp == "send_weixin" else "stable_token"
            c.ok("%s: %d refreshes the token once and delivers" % (
                comp, code), d.get("result") is True and
                n1["token_errors"] - n0["token_errors"] == 1 and
                n1[kind] - n0[kind] == 1, (d, n0, n1))
        ctl(g, "/_fake/token_error?code=40014&n=2", {})
        st, d = qy(g)
        c.ok("send_weixin: a token refused twice is retried once only",
             d.get("result") is False and d.get("code") == 1306000, d)
        secret_check(c, g, "token errors")


def callback(c, b):
    """The fake posts receipts as WeChat does; they land in the audit."""
    with harness.Gateway(b, config(), fakes=[fake()]) as g:
        url = "http://127.0.0.1:%d%s" % (g.port, CB)
        qy(g)
        st, d = mp(g, "o1,o2,o3")
        before = ctl(g, "/_fake/counts")["connections"]
        for i in range(5):
            qy(g, i)
            mp(g, "o1,o2,o3")
        # Twenty calls, and new connections only while the pool grows to
        # the fan-out's width: the fake speaks HTTP/1.1, so three calls
        # in flight at once need three connections, and the warm-up's
        # fan-out may have run partly one after another on the transfer
        # thread.  One new connection is the control call's own.
        grown = ctl(g, "/_fake/counts")["connections"] - before
        c.ok("connections are kept across requests (%d new for 20 calls)" % grown,
             1 <= grown <= 3, grown)
        ids = [r["msgid"] for r in d["data"]["results"]]
        for i, status in zip(ids, ["success", "failed:user block",
                                   "failed: system failed"]):
            r = ctl(g, "/_fake/push", {"url": url, "msgid": i,
                                      "openid": "o1", "status": status})
            c.ok("push %r is answered 'success'" % status,
                 r == {"status": 200, "body": "success"}, r)
        for how in ("bad", "none"):
            r = ctl(g, "/_fake/push", {"url": url, "msgid": 99,
                                      "status": "success", "sign": how})
            c.eq("push signed %s is refused" % how, r["status"], 403)
        recs = [a for a in g.audit() if a.get("event") ==
                "TEMPLATESENDJOBFINISH"]
        c.eq("three receipts in the audit log, against their msgid",
             [(a["msgid"], a["status"], a["result"]) for a in recs],
             list(zip(ids, ["success", "failed:user block",
                            "failed: system failed"], [True, False, False])))
        c.ok("no receipt for msgid 99", all(a.get("msgid") != 99
                                           for a in g.audit()))
        secret_check(c, g, "callback")


def caller_secrets(c, b):
    """A wx_qy_corpsecret the request supplies (security audit, row 7):
    values a caller makes up leave no file behind, and a working one
    is kept once, with no lock file."""
    with harness.Gateway(b, config(), fakes=[fake()]) as g:
        tokdir = os.path.join(g.config["state_dir"], "tokens")
        qy(g)
        before = sorted(os.listdir(tokdir))
        res = [send(g, "send_weixin", {"receiver": "u1", "data": DATA,
                                       "wx_qy_corpsecret": "made-up-%d" % i})
               for i in range(21)]
        c.ok("21 made-up corp secrets are refused",
             all(st == 200 and d.get("result") is False for st, d in res),
             res[:1])
        c.eq("... and leave no token or lock file", sorted(os.listdir(tokdir)),
             before)
        c.logs(g, SECRETS + ["made-up-"])
    cfg = config()
    cfg["components"]["send_weixin"]["wx_qy_corpsecret"] = ""
    with harness.Gateway(b, cfg, fakes=[fake()]) as g:
        tokdir = os.path.join(g.config["state_dir"], "tokens")
        res = [send(g, "send_weixin", {"receiver": "u1", "data": DATA,
                                       "wx_qy_corpsecret": "corp-secret-1-SECRET"})
               for i in range(3)]
        c.ok("a corp secret only the request holds works", all_ok(res), res[:1])
        files = sorted(os.listdir(tokdir))
        c.ok("... its token is kept in one c- file, with no lock file",
             len(files) == 1 and files[0].startswith("c-wecom-"), files)
        c.eq("... so three sends cost one gettoken",
             ctl(g, "/_fake/counts")["gettoken"], 1)
        c.logs(g, SECRETS)


def secret_check(c, g, what):
    toks = tokens_on_disk(g)
    g.stop()
    text = g.app_log() + g.read("server.out") + g.read("fake-wechat.log")
    path = os.path.join(g.config["state_dir"], "audit.log")
    if os.path.exists(path):
        text += open(path).read()
    leaked = [s for s in SECRETS + toks if s and s in text]
    c.ok("%s: no secret or access token in logs or audit (%d tokens)" %
         (what, len(toks)), not leaked and toks, leaked[:1])
    c.logs(g, SECRETS + toks)


def main():
    b = sys.argv[1]
    c = Checker()
    for part in (shared, expiry, cgi_token, failures, bounded_round,
                 token_errors, callback, caller_secrets):
        try:
            part(c, b)
        except Exception as e:  # a crash of the suite is a failure
            c.ok("%s ran" % part.__name__, False, repr(e))
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
