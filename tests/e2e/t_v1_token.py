#!/usr/bin/python3
"""The v1 dialect's channels/weixin/token: the token comes from the store
all workers share (no extra gettoken), only for apps with the
weixin_settings permission, and it never reaches a log."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402
from t_wechat import SECRETS, config, ctl, fake, qy, tokens_on_disk  # noqa: E402

PATH = "/api/bk-cmsi/prod/v1/channels/weixin/token/"


def token(g, app="bk_user", secret="user-secret"):
    return http(g, "GET", PATH, headers={"X-Bkapi-Authorization": json.dumps(
        {"bk_app_code": app, "bk_app_secret": secret})})


def main():
    c = Checker()
    b = sys.argv[1]
    cfg = config()
    cfg["apps"] = {"bk_user": {"secret": "user-secret", "weixin_settings": True},
                   "bk_other": {"secret": "other-secret"}}
    leaked = []
    with harness.Gateway(b, cfg, procs=2, fakes=[fake()]) as g:
        st, d = token(g)
        c.ok("WeCom token handed out", st == 200 and d.get("result") is True and
             len(d.get("data", {}).get("access_token", "")) > 20, repr(d)[:300])
        left = d.get("data", {}).get("expires_in", 0)
        c.ok("expires_in is the time it has left", 0 < left <= 7200, repr(left))
        tok = d.get("data", {}).get("access_token", "")
        leaked.append(tok)
        st, d2 = token(g)
        c.eq("the same token again", d2.get("data", {}).get("access_token"), tok)
        c.ok("it is the stored one", tok in tokens_on_disk(g))
        st, d3 = qy(g)
        c.eq("sending reuses it", d3.get("result"), True)
        c.eq("one gettoken for all of that", ctl(g, "/_fake/counts")["gettoken"], 1)
        st, d4 = token(g, "bk_other", "other-secret")
        c.ok("no permission, no token", st == 403 and "access_token" not in
             json.dumps(d4), repr(d4)[:200])
        st, d5 = token(g, "bk_user", "wrong")
        c.eq("wrong secret", st, 401)
    c.logs(g, SECRETS + [t for t in leaked if t])

    mcfg = config()
    mcfg["apps"] = cfg["apps"]
    mcfg["components"]["send_weixin"] = dict(
        mcfg["components"]["send_mp_weixin"], wx_type="mp", wx_callback_path=None)
    mcfg["components"]["send_weixin"].pop("wx_callback_path", None)
    with harness.Gateway(b, mcfg, fakes=[fake()]) as g:
        st, d = token(g)
        c.ok("Official Account token handed out", st == 200 and
             len(d.get("data", {}).get("access_token", "")) > 20, repr(d)[:300])
        n = ctl(g, "/_fake/counts")
        c.eq("from stable_token, once", n.get("stable_token"), 1)
        leaked.append(d.get("data", {}).get("access_token", ""))
    c.logs(g, SECRETS + [t for t in leaked if t])

    bad = config()
    bad["apps"] = cfg["apps"]
    bad["components"]["send_weixin"]["wx_qy_corpsecret"] = "wrong-SECRET"
    with harness.Gateway(b, bad, fakes=[fake()]) as g:
        st, d = token(g)
        c.ok("a refused secret is an error, not a token", d.get("result") is False
             and "access_token" not in json.dumps(d) and "wrong-SECRET" not in
             json.dumps(d) and d.get("message", "").startswith(
                 "WeChat message sending failed, invalid credential"),
             repr(d)[:300])
    c.logs(g, SECRETS + ["wrong-SECRET"])
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
