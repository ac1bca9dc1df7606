#!/usr/bin/python3
"""The console's "does it work / what happened" pages in a real browser
(Debian's chromium, headless, python3-selenium): Overview, Test send on
send_mail against the suite's SMTP server (delivered, and refused with
what to check), Recent messages finding that message and opening its
record, Tokens for WeCom against the WeChat fake (not cached, refresh
now, cached; a wrong secret's refresh fails with its hint); then the
refusals: no session, a POST without the CSRF token, no secret or token
in any page's source.  Screenshots go to BUILDDIR/console-*.png.

usage: t_console_ops.py BUILDDIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import harness  # noqa: E402
from e2e_lib import Checker  # noqa: E402
from console_lib import signin  # noqa: E402
from t_console import browser, hash_password, raw, signin_raw, smtp_fake, submit  # noqa: E402

BUILDDIR = sys.argv[1]
PASSWORD = "Correct-Horse-Battery-2"
CORP_SECRET = "corp-secret-1-SECRET"
WRONG_SECRET = "wrong-corp-secret-SECRET"
SECRETS = [PASSWORD, CORP_SECRET, WRONG_SECRET, "demo-secret"]


def wechat_fake():
    return {"name": "wechat", "ports": 1, "cmd": [
        "tests/fakes/wechat_server.py", "--port", "{wechat.port0}",
        "--dir", "{dir}/wechat", "--pki", "{pki}", "--lifetime", "900",
        "--corp", "wwcorp0001:%s:1000002" % CORP_SECRET,
        "--users", "u1,u2,admin"]}


def shot(d, name):
    path = os.path.join(TOP, BUILDDIR, "console-%s.png" % name)
    d.save_screenshot(path)
    return path


def main():
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="cmsi-console-ops-")
    os.chmod(tmp, 0o755)
    cfg = {
        "console": {"users": {"admin": {"password_hash": hash_password(PASSWORD)}}},
        "upstream": {"timeout_ms": 5000, "ca_file": "{pki}/ca.pem", "connect_to": [
            "qyapi.weixin.qq.com:443:127.0.0.1:{wechat.port0}"]},
        "components": {
            "send_mail": {"delivery": None, "smtp_host": "127.0.0.1",
                          "smtp_port": "{smtpa.port0}",
                          "mail_sender": "blueking@example.com"},
            "send_weixin": {"delivery": None, "wx_type": "qy",
                            "wx_qy_corpid": "wwcorp0001",
                            "wx_qy_corpsecret": CORP_SECRET,
                            "wx_qy_agentid": "1000002"},
            "send_qy_weixin": {"delivery": None, "wx_qy_corpid": "wwcorp0001",
                               "wx_qy_corpsecret": WRONG_SECRET,
                               "wx_qy_agentid": "1000002"},
        },
    }
    sources = []
    d = None
    try:
        with harness.Gateway(BUILDDIR, cfg, procs=2,
                             fakes=[smtp_fake("smtpa"), wechat_fake()]) as g:
            base = "http://127.0.0.1:%d/console/" % g.port

            # -- no session: every new page refused.
            for page in ("home", "test?c=send_mail&tenant=", "messages",
                         "message?at=0", "tokens"):
                st, hd, body = raw(g, "GET", "/console/" + page)
                c.ok("no session: GET %s goes to sign-in" % page,
                     st == 303 and hd.get("Location") == "/console/signin", st)
            for page, form in (("test", "c=send_mail&rcpt=a@example.com&text=x"),
                               ("tokens", "app=0")):
                st, hd, body = raw(g, "POST", "/console/" + page, form.encode())
                c.ok("no session: POST %s refused" % page, st == 403, st)
            # -- a session but no CSRF token: refused, nothing sent.
            cookie = signin_raw(g, "admin", PASSWORD)
            st, hd, body = raw(g, "POST", "/console/test", urllib.parse.urlencode(
                {"c": "send_mail", "tenant": "", "rcpt": "csrf@example.com",
                 "text": "x"}).encode(), cookie=cookie)
            c.ok("POST test without the CSRF token refused", st == 403 and
                 not g.audit() and not os.listdir(os.path.join(g.dir, "smtpa")), st)
            st, hd, body = raw(g, "POST", "/console/tokens", b"app=0", cookie=cookie)
            c.ok("POST tokens without the CSRF token refused", st == 403, st)
            st, hd, body = raw(g, "GET", "/console/message?at=1", cookie=cookie)
            c.ok("a record offset that is no line start is refused", st == 404, st)
            st, hd, body = raw(g, "GET", "/console/test?c=nope", cookie=cookie)
            c.ok("test of an unknown component: 404", st == 404, st)
            st, hd, body = raw(g, "GET", "/console/messages", cookie=cookie)
            c.ok("an empty log: no message", st == 200 and 'id="none"' in body, st)
            for h, want in (("X-Frame-Options", "DENY"), ("Cache-Control", "no-store")):
                c.eq("header %s on messages" % h, hd.get(h), want)

            # -- the browser walk.
            d = browser(tmp)
            signin(d, "admin", PASSWORD, base + "signin")
            d.get(base)
            c.ok("the console's root is the Overview",
                 d.current_url.endswith("/console/home") and
                 d.find_element("id", "home").is_displayed(), d.current_url)

            d.get(base + "edit?c=send_mail&tenant=")
            submit(d, d.find_element("id", "tab-test"))
            c.ok("Edit has a Test send tab",
                 d.current_url.endswith("/console/test?c=send_mail&tenant=") and
                 d.find_element("id", "send").is_displayed(), d.current_url)
            d.find_element("id", "rcpt").send_keys("ops@example.com")
            submit(d, d.find_element("id", "send"))
            out = d.find_element("id", "outcome").text
            mails = os.listdir(os.path.join(g.dir, "smtpa"))
            c.ok("Test send delivers through the real SMTP server",
                 out.startswith("Delivered") and "Succeeded to send mail" in out and
                 len([m for m in mails if m.endswith(".eml")]) == 1, (out, mails))
            c.ok("and says how long it took", re.search(r"\d+ ms", out) is not None, out)
            sources.append(d.page_source)
            shots = [shot(d, "test-ok")]

            d.find_element("id", "rcpt").clear()
            d.find_element("id", "rcpt").send_keys("refuse-me@example.com")
            submit(d, d.find_element("id", "send"))
            out = d.find_element("id", "outcome").text
            rows = d.find_elements("css selector", "#recipients tbody tr")
            row = rows[0].text if rows else ""
            hints = d.find_element("id", "hints").text if d.find_elements("id", "hints") else ""
            c.ok("a refused recipient: not delivered, the server's code per recipient",
                 out.startswith("Not delivered") and "refuse-me@example.com" in row and
                 "code=550" in row, (out, row))
            c.ok("and what to check", "refused this address" in hints, hints)
            sources.append(d.page_source)
            shots.append(shot(d, "test-refused"))
            rid = d.find_element("css selector", "#find + .mono").text

            # -- Recent messages finds it, newest first; the record opens.
            submit(d, d.find_element("id", "find"))
            trs = d.find_elements("css selector", "#messages tbody tr[data-at]")
            c.ok("Recent messages finds the test by its request_id",
                 len(trs) == 1 and "refuse-me@example.com" in trs[0].text, [t.text for t in trs])
            d.get(base + "messages")
            trs = d.find_elements("css selector", "#messages tbody tr[data-at]")
            c.ok("both tests listed, newest first",
                 len(trs) == 2 and "refuse-me@" in trs[0].text and "ops@" in trs[1].text,
                 [t.text for t in trs])
            sources.append(d.page_source)
            shots.append(shot(d, "messages"))
            sel = d.find_element("id", "outcome")
            sel.find_element("css selector", "option[value=failed]").click()
            submit(d, d.find_element("id", "apply"))
            trs = d.find_elements("css selector", "#messages tbody tr[data-at]")
            c.ok("filter by outcome: only the refused one",
                 len(trs) == 1 and "refuse-me@" in trs[0].text, [t.text for t in trs])
            d.get(base + "messages?app=console&rcpt=ops%40example.com")
            trs = d.find_elements("css selector", "#messages tbody tr[data-at]")
            c.ok("filter by app and recipient", len(trs) == 1 and "ops@" in trs[0].text,
                 [t.text for t in trs])
            d.get(base + "messages?comp=send_sms")
            c.ok("filter by component: none for send_sms",
                 d.find_elements("id", "none") != [])
            d.get(base + "messages")
            submit(d, d.find_element("css selector", "#messages tbody tr a.open"))
            rec = d.find_element("id", "record").text
            c.ok("a record opens in full", rid in rec and "refuse-me@example.com" in rec and
                 "console" in rec and "550" in rec, rec[:500])
            sources.append(d.page_source)
            shots.append(shot(d, "record"))
            audit = g.audit()
            c.ok("the tests are audited as app console for the user",
                 len(audit) == 2 and all(a.get("app") == "console" for a in audit), audit)

            # -- Tokens: WeCom not cached, refresh, cached.
            d.get(base + "tokens")
            trs = d.find_elements("css selector", "#tokens tbody tr")
            c.ok("tokens lists the two WeCom apps, not cached",
                 len(trs) == 2 and all("not cached" in t.text for t in trs),
                 [t.text for t in trs])
            sources.append(d.page_source)
            submit(d, d.find_element("css selector",
                                     "#tokens tr[data-where=send_weixin] button"))
            tr = d.find_element("css selector", "#tokens tr[data-where=send_weixin]")
            c.ok("refresh now fetches: cached, seconds left",
                 "A new token was fetched" in d.find_element("id", "notice").text and
                 "cached" in tr.text and "not cached" not in tr.text and
                 re.search(r"\b\d{3,} s\b", tr.text), tr.text)
            sources.append(d.page_source)
            shots.append(shot(d, "tokens"))
            toks = []
            tokdir = os.path.join(g.dir, "state", "tokens")
            for root, _, files in os.walk(g.dir):
                for f in files:
                    if f.startswith("wecom-") and not f.endswith(".lock"):
                        with open(os.path.join(root, f)) as fh:
                            toks.append(fh.read().split("\n")[1])
            c.ok("the token file exists (%s)" % tokdir, len(toks) == 1, toks)
            submit(d, d.find_element("css selector",
                                     "#tokens tr[data-where=send_qy_weixin] button"))
            note = d.find_element("id", "notice").text
            hints = d.find_element("id", "hints").text if d.find_elements("id", "hints") else ""
            c.ok("a wrong secret's refresh fails with the upstream's words and a hint",
                 "could not be fetched" in note and "invalid credential" in note and
                 "Wrong app id or secret" in hints, (note, hints))
            sources.append(d.page_source)

            # -- a test through WeCom with the wrong secret: its hint.
            d.get(base + "test?c=send_qy_weixin&tenant=")
            d.find_element("id", "rcpt").send_keys("u1")
            submit(d, d.find_element("id", "send"))
            hints = d.find_element("id", "hints").text if d.find_elements("id", "hints") else ""
            c.ok("Test on WeCom with a wrong secret says what to check",
                 d.find_element("id", "outcome").text.startswith("Not delivered") and
                 "Wrong app id or secret" in hints, hints)
            sources.append(d.page_source)

            # -- Overview counts the tests.
            d.get(base + "home")
            row = d.find_element("css selector", "#home tr[data-name=send_mail]").text
            c.ok("Overview: send_mail 2 in the last hour, 1 failed",
                 re.search(r"\b2 · 1 failed", row) is not None, row)
            sources.append(d.page_source)
            shots.append(shot(d, "home"))

            # -- Chinese strings.
            st, hd, body = raw(g, "GET", "/console/messages", cookie=cookie)
            req_zh = subprocess.run(["curl", "-s", "-H", "Accept-Language: zh-CN",
                                     "-H", "Cookie: " + cookie, base + "tokens"],
                                    stdout=subprocess.PIPE).stdout.decode()
            c.ok("tokens page in Chinese", "访问令牌" in req_zh and "立即刷新" in req_zh)

            for s in sources + [body, req_zh]:
                for secret in SECRETS + toks:
                    if secret and secret in s:
                        c.ok("no secret or token in a page: %s" % secret[:6], False)
            c.ok("no secret or token in any page's source (%d pages)" % len(sources), True)
            c.logs(g, [PASSWORD] + toks)
            print("screenshots: " + " ".join(shots))
    finally:
        if d is not None:
            d.quit()
        shutil.rmtree(tmp, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
