#!/usr/bin/python3
"""The console's Templates page in a real browser (Debian's chromium,
headless, python3-selenium), against a copy of templates/ and two
worker processes: the list (channel layouts and named templates, never
the console's own pages), the edit page's live preview as one types,
a template holding <script> that runs nowhere (sandboxed preview), a
broken template refused with its line and the file unchanged, a good
one saved and then used by every worker for real send_mail calls into
the suite's SMTP server, the history and a restore; then the refusals
without a browser: no session, no CSRF token, names outside the list
(path traversal, the console's own pages) and the headers of the
preview document.  Then the Tokens page's "last refreshed and why":
first use by an API call, refreshed from the console by the user, and
under Redis the token Redis holds.  Screenshots go to
BUILDDIR/console-templates.png, console-template-edit.png and
console-tokens.png.

usage: t_console_tmpl.py BUILDDIR
"""
import email
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402
from console_lib import signin  # noqa: E402
from t_console import browser, hash_password, raw, send_mail, signin_raw, smtp_fake, spool, submit  # noqa: E402
from t_redis import Redis  # noqa: E402
from t_wechat import ctl  # noqa: E402

BUILDDIR = sys.argv[1]
PASSWORD = "Correct-Horse-Battery-3"
CORP_SECRET = "corp-secret-7-SECRET"
GOOD = '<div id="layout-v2" style="color:#1768ef">V2 layout: {{title}}</div>\n{{{content}}}'
BROKEN = '<div>\n{{#items}}\n<p>{{.}}</p>\n'
XSS = ('<script>parent.__xss = 1; top.document.title = "pwned";</script>'
       '<img src="x" onerror="parent.__xss = 2">XSS-PROBE {{{content}}}')


def html_of(path):
    """The text/html part of a delivered mail, decoded."""
    with open(path, "rb") as f:
        m = email.message_from_bytes(f.read())
    for part in m.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    return ""


def shot(d, name):
    path = os.path.join(TOP, BUILDDIR, "console-%s.png" % name)
    d.save_screenshot(path)
    return path


def wait(cond, secs=15):
    end = time.time() + secs
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.05)
    return None


def frame_text(d):
    d.switch_to.frame(d.find_element("id", "preview"))
    try:
        return d.find_element("tag name", "body").text
    finally:
        d.switch_to.default_content()


def set_text(d, el_id, text):
    el = d.find_element("id", el_id)
    # The textarea's value as a person would leave it, then one key
    # typed, so the page hears an input event.
    d.execute_script("arguments[0].value = arguments[1];", el, text[:-1])
    el.send_keys(text[-1])


def csrf_of(page):
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)


def wechat_fake():
    return {"name": "wechat", "ports": 1, "cmd": [
        "tests/fakes/wechat_server.py", "--port", "{wechat.port0}",
        "--dir", "{dir}/wechat", "--pki", "{pki}", "--lifetime", "900",
        "--corp", "wwcorp0007:%s:1000002" % CORP_SECRET,
        "--users", "u1,u2,admin"]}


def templates(c, tmp):
    tdir = os.path.join(tmp, "templates")
    shutil.copytree(os.path.join(TOP, "templates"), tdir)
    html = os.path.join(tdir, "mail", "html.mustache")
    with open(html, "rb") as f:
        orig = f.read()
    cfg = {
        "templates_dir": tdir,
        "console": {"users": {"admin": {"password_hash": hash_password(PASSWORD)}}},
        "components": {
            "send_mail": {"delivery": None, "smtp_host": "127.0.0.1",
                          "smtp_port": "{smtpa.port0}",
                          "mail_sender": "blueking@example.com"},
        },
    }
    d = None
    try:
        with harness.Gateway(BUILDDIR, cfg, procs=2, fakes=[smtp_fake("smtpa")]) as g:
            base = "http://127.0.0.1:%d/console/" % g.port

            # -- refusals without a browser.
            st, hd, body = raw(g, "GET", "/console/templates")
            c.ok("no session: GET templates goes to sign-in",
                 st == 303 and hd.get("Location") == "/console/signin", st)
            for page in ("template_preview", "template", "template_restore"):
                st, hd, body = raw(g, "POST", "/console/" + page,
                                   b"n=mail%2Fhtml&text=x")
                c.ok("no session: POST %s refused" % page, st == 403, st)
            cookie = signin_raw(g, "admin", PASSWORD)
            st, hd, page = raw(g, "GET", "/console/template?n=mail/html", cookie=cookie)
            c.ok("the edit page opens", st == 200 and 'id="tmpl"' in page, st)
            ver = re.search(r'name="version" value="([0-9a-f]{64})"', page)
            tok = csrf_of(page)
            for what in ("template_preview", "template"):
                st, hd, body = raw(g, "POST", "/console/" + what, urllib.parse.urlencode(
                    {"n": "mail/html", "text": "CSRF {{content}}",
                     "version": ver.group(1) if ver else ""}).encode(), cookie=cookie)
                c.ok("POST %s without the CSRF token refused" % what, st == 403, st)
            with open(html, "rb") as f:
                c.ok("and the file is unchanged", f.read() == orig)
            bad_names = ["../cmsi", "../../etc/passwd", "console/head",
                         "console/console", "messages/../mail/html",
                         "messages/alert/../../mail/html", "messages/nope/title",
                         "messages/alert/other", "mail/html/", "/mail/html",
                         "mail//html", "mail/html.mustache", "messages/alert",
                         "messages/.hidden/title", "%2e%2e/cmsi", ""]
            ok_all = True
            for n in bad_names:
                q = urllib.parse.quote(n, safe="")
                for m, path, data in (
                        ("GET", "/console/template?n=" + q, None),
                        ("GET", "/console/template_preview?n=" + q, None),
                        ("POST", "/console/template", urllib.parse.urlencode(
                            {"csrf": tok, "n": n, "text": "pwned"}).encode()),
                        ("POST", "/console/template_preview", urllib.parse.urlencode(
                            {"csrf": tok, "n": n, "text": "x"}).encode())):
                    st, hd, body = raw(g, m, path, data, cookie=cookie)
                    if st != 404:
                        ok_all = False
                        print("  %s %s -> %d" % (m, path, st))
            c.ok("%d names outside the list (traversal, the console's own pages, "
                 "no such dir) are 404 for every endpoint" % len(bad_names), ok_all)
            c.ok("and no file was written outside", not os.path.exists(
                os.path.join(tmp, "cmsi.mustache")) and
                b"pwned" not in open(os.path.join(tdir, "console", "head.mustache"), "rb").read())
            st, hd, body = raw(g, "GET", "/console/template_preview?n=mail/html",
                               cookie=cookie)
            csp = hd.get("Content-Security-Policy") or ""
            c.ok("the preview document is sandboxed by its own CSP",
                 st == 200 and csp.startswith("sandbox;") and "script-src" not in csp
                 and "frame-ancestors 'self'" in csp and
                 hd.get("X-Frame-Options") == "SAMEORIGIN", (st, csp))
            c.ok("and renders the sample", "Disk <b>/var</b>" in body, body[:200])
            st, hd, body = raw(g, "GET", "/console/template?n=mail/html", cookie=cookie)
            c.ok("the console page itself stays unframeable",
                 hd.get("X-Frame-Options") == "DENY" and
                 "frame-ancestors 'none'" in hd.get("Content-Security-Policy", ""))

            # Preview latency: 20 JSON previews of the shipped alert content.
            times = []
            for i in range(20):
                t0 = time.monotonic()
                st, hd, body = raw(g, "POST", "/console/template_preview?as=json",
                                   urllib.parse.urlencode(
                                       {"csrf": tok, "n": "messages/alert/content",
                                        "as": "json", "text": "<p>{{service}} %d</p>" % i,
                                        "sample": ""}).encode(), cookie=cookie)
                times.append((time.monotonic() - t0) * 1000)
                o = json.loads(body)
            times.sort()
            c.ok("JSON preview renders (%s)" % o, o.get("ok") is True and
                 o.get("text") == "<p>db 19</p>" and o.get("html") is True)
            print("measure: preview round trip median %.1f ms, max %.1f ms "
                  "(render alone %.3f ms)" % (times[10], times[-1], o["ms"]))
            st, hd, body = raw(g, "POST", "/console/template_preview?as=json",
                               urllib.parse.urlencode(
                                   {"csrf": tok, "n": "mail/html", "as": "json",
                                    "text": BROKEN}).encode(), cookie=cookie)
            o = json.loads(body)
            c.ok("a broken template's preview names the line", o.get("ok") is False and
                 o.get("line", 0) > 0 and o.get("error", "").startswith("line "), o)
            st, hd, body = raw(g, "POST", "/console/template_preview?as=json",
                               urllib.parse.urlencode(
                                   {"csrf": tok, "n": "wxmp/data", "as": "json",
                                    "text": "not json {{heading}}"}).encode(),
                               cookie=cookie)
            o = json.loads(body)
            c.ok("wxmp/data that renders no JSON object is flagged",
                 o.get("ok") is True and "JSON object" in o.get("warning", ""), o)
            st, hd, body = raw(g, "POST", "/console/template", urllib.parse.urlencode(
                {"csrf": tok, "n": "mail/html", "version": "0" * 64,
                 "text": GOOD}).encode(), cookie=cookie)
            with open(html, "rb") as f:
                c.ok("a save from a stale page is refused (409), file unchanged",
                     st == 409 and f.read() == orig, st)

            # -- the browser walk.
            d = browser(tmp)
            signin(d, "admin", PASSWORD, base + "signin")
            submit(d, d.find_element("id", "nav-templates"))
            rows = [r.get_attribute("data-name") for r in
                    d.find_elements("css selector", "#layouts tbody tr")]
            c.ok("Templates lists every channel layout and the named ones",
                 rows[:6] == ["mail/html", "mail/text", "wecom/text", "wxmp/data",
                              "sms/text", "voice/text"] and
                 "messages/alert/title" in rows and "messages/alert/content" in rows,
                 rows)
            c.ok("and none of the console's own pages",
                 not any(r.startswith("console") for r in rows), rows)
            shots = [shot(d, "templates")]

            submit(d, d.find_element("css selector",
                                     "#layouts tr[data-name='mail/html'] a"))
            c.ok("Edit opens mail/html with its text",
                 d.find_element("id", "text").get_attribute("value") ==
                 orig.decode().rstrip("\n"), d.find_element("id", "text").get_attribute("value"))
            c.ok("the page says plainly that only sample data is available",
                 "no message bodies or contexts" in d.find_element("id", "sample-note").text)
            c.ok("the initial preview shows the sample",
                 wait(lambda: "91% full" in frame_text(d)), frame_text(d))
            fr = d.find_element("id", "preview")
            c.ok("the preview iframe is sandboxed with no permission",
                 fr.get_attribute("sandbox") == "", fr.get_attribute("sandbox"))

            # Live: typing updates the preview without a click.
            t0 = time.monotonic()
            set_text(d, "text", '<h2 style="color:#1768ef">LIVE-1 {{title}}</h2>\n'
                     '<div style="padding:8px;border-left:3px solid #f0a020">'
                     '{{{content}}}</div>\n<p style="color:#888">Sent by BlueKing CMSI</p>')
            got = wait(lambda: "LIVE-1 Disk almost full" in frame_text(d))
            live_ms = (time.monotonic() - t0) * 1000
            c.ok("the preview follows the typing (%.0f ms incl. 250 ms debounce)"
                 % live_ms, got, frame_text(d))
            print("measure: keystroke -> iframe updated %.0f ms (debounce 250 ms)" % live_ms)
            set_text(d, "sample", '{"title": "From my sample", "content": '
                     '"<p>Disk <b>/var</b> on <i>db-1</i> is <b>97%</b> full.</p>"}')
            c.ok("and the edited sample data",
                 wait(lambda: "LIVE-1 From my sample" in frame_text(d)), frame_text(d))
            shots.append(shot(d, "template-edit"))

            # Without the live preview: the Preview button alone.
            el = d.find_element("id", "text")
            d.execute_script("arguments[0].value = arguments[1];", el,
                             "<p>BUTTON {{title}}</p>")
            d.find_element("id", "preview-btn").click()
            c.ok("the Preview button renders into the frame (the no-script path)",
                 wait(lambda: "BUTTON From my sample" in frame_text(d)), frame_text(d))
            st, hd, body = raw(g, "POST", "/console/template_preview",
                               urllib.parse.urlencode(
                                   {"csrf": tok, "n": "mail/text",
                                    "text": "T {{content}} <b>"}).encode(), cookie=cookie)
            c.ok("a text layout previews as text/plain, unescaped as sent",
                 st == 200 and hd.get("Content-Type", "").startswith("text/plain") and
                 body == "T Disk /var on db-1 is 91% full. <b>", (st, body))
            st, hd, body = raw(g, "POST", "/console/template_preview",
                               urllib.parse.urlencode(
                                   {"csrf": tok, "n": "mail/html",
                                    "text": BROKEN}).encode(), cookie=cookie)
            c.ok("and a broken one shows its line in the frame (422)",
                 st == 422 and body.startswith("line "), (st, body))

            # XSS: a layout with a script runs nowhere.
            set_text(d, "text", XSS)
            c.ok("a layout holding <script> previews",
                 wait(lambda: "XSS-PROBE" in frame_text(d)), frame_text(d))
            time.sleep(0.5)
            c.ok("and its script ran neither in the preview nor in the console",
                 d.execute_script("return window.__xss === undefined") and
                 d.title != "pwned" and
                 len(d.find_elements("css selector", "script")) == 1,
                 (d.execute_script("return window.__xss"), d.title))
            d.switch_to.frame(d.find_element("id", "preview"))
            ran = d.execute_script("return typeof window.__xss")
            d.switch_to.default_content()
            c.ok("(not even inside the frame)", ran == "undefined", ran)

            # A broken template: the line, and Save refused.
            set_text(d, "text", BROKEN)
            st_el = d.find_element("id", "status")
            c.ok("a broken template: the status names the line as one types",
                 wait(lambda: re.search(r"line \d+", st_el.text)), st_el.text)
            submit(d, d.find_element("id", "save"))
            prob = d.find_element("id", "problem")
            with open(html, "rb") as f:
                now = f.read()
            c.ok("Save refuses it, with its line; the file is unchanged",
                 "Not saved" in d.find_element("id", "notice").text and
                 re.match(r"line \d+: ", prob.text) and
                 prob.get_attribute("data-line") and now == orig, prob.text)
            c.ok("and the operator's text comes back",
                 d.find_element("id", "text").get_attribute("value") == BROKEN.rstrip("\n")
                 or d.find_element("id", "text").get_attribute("value") == BROKEN,
                 repr(d.find_element("id", "text").get_attribute("value")))

            # A good one: saved, used by every worker.
            for i in range(4):
                send_mail(g, "warm%d@example.com" % i)
            set_text(d, "text", GOOD)
            wait(lambda: "V2 layout" in frame_text(d))
            mark = len(g.app_log())
            submit(d, d.find_element("id", "save"))
            t_saved = time.monotonic()
            with open(html, "rb") as f:
                now = f.read()
            c.ok("a good template saves", "Saved." in d.find_element("id", "notice").text
                 and now == (GOOD + "\n").encode(), now[:100])
            before = set(spool(g, "smtpa"))
            r = send_mail(g, "ops0@example.com")
            first = (time.monotonic() - t_saved) * 1000
            with ThreadPoolExecutor(3) as ex:
                rs = [r] + list(ex.map(lambda i: send_mail(g, "ops%d@example.com" % i),
                                       range(1, 12)))
            new = sorted(set(spool(g, "smtpa")) - before)
            used = [html_of(p) for p in new]
            tail = g.app_log()[mark:]
            served = set(re.findall(r"cmsi\[(\d+)\] info \S+ app=demo component=send_mail", tail))
            reloaded = set(re.findall(r"cmsi\[(\d+)\] info templates: \S+ reloaded", tail))
            c.ok("every API call after the save used the new layout "
                 "(%d mails, first %.0f ms after the save)" % (len(used), first),
                 all(x.get("result") is True for x in rs) and len(used) == 12 and
                 all('<div id="layout-v2"' in m and "V2 layout: console walk" in m
                     for m in used),
                 (len(used), [m[-300:] for m in used[:1]]))
            c.ok("both workers served, each after reloading (%d served, %d reloaded)"
                 % (len(served), len(reloaded)),
                 len(served) == 2 and served <= reloaded, (served, reloaded))
            print("measure: save -> first send_mail with the new layout %.1f ms" % first)
            audit = [a for a in g.audit() if a.get("event", "").startswith("console.template")]
            c.ok("the save is audited with the user and the layout",
                 len(audit) == 1 and audit[0].get("user") == "admin" and
                 audit[0].get("template") == "mail/html" and audit[0].get("version"),
                 audit)

            # History and restore.
            d.get(base + "template?n=mail/html")
            vs = d.find_elements("css selector", "#versions button[data-v]")
            c.ok("the history lists the replaced version", len(vs) == 1, len(vs))
            submit(d, d.find_element("css selector", "#versions a"))
            c.ok("View shows it", d.find_element("id", "version-text").text ==
                 orig.decode().rstrip("\n"), d.find_element("id", "version-text").text)
            submit(d, d.find_element("css selector", "#versions button[data-v]"))
            with open(html, "rb") as f:
                now = f.read()
            c.ok("Restore brings it back (and keeps the V2 in the history)",
                 "Restored" in d.find_element("id", "notice").text and now == orig and
                 len(d.find_elements("css selector", "#versions button[data-v]")) == 2,
                 now[:100])
            r = send_mail(g, "after-restore@example.com")
            last = sorted(spool(g, "smtpa"))[-1]
            c.ok("and the next send uses the restored layout",
                 r.get("result") is True and "layout-v2" not in html_of(last) and
                 "<p>hi</p>" in html_of(last), html_of(last))
            audit = [a for a in g.audit() if a.get("event") == "console.template_restore"]
            c.ok("the restore is audited", len(audit) == 1 and
                 audit[0].get("restored"), audit)

            # A named template's part.
            d.get(base + "template?n=messages/alert/title")
            c.ok("a named template's title previews as plain text",
                 wait(lambda: "[critical] db: disk full" in frame_text(d)), frame_text(d))
            c.logs(g, [PASSWORD])
            print("screenshots: " + " ".join(shots))
    finally:
        if d is not None:
            d.quit()

    # -- read-only templates_dir: the page says so; Save is disabled.
    # Root writes anywhere but into an immutable directory.
    mail = os.path.join(tdir, "mail")
    if subprocess.run(["chattr", "+i", mail], stderr=subprocess.DEVNULL).returncode:
        print("skip read-only templates_dir: chattr +i does not work here")
        return
    try:
        with harness.Gateway(BUILDDIR, cfg, fakes=[smtp_fake("smtpa")]) as g:
            cookie = signin_raw(g, "admin", PASSWORD)
            st, hd, page = raw(g, "GET", "/console/template?n=mail/html", cookie=cookie)
            c.ok("read-only: the page says so, Save is disabled with the reason",
                 'id="readonly"' in page and
                 re.search(r'id="save" disabled title="[^"]*read-only', page), page[-1500:])
            tok = csrf_of(page)
            st, hd, body = raw(g, "POST", "/console/template", urllib.parse.urlencode(
                {"csrf": tok, "n": "mail/html", "text": GOOD,
                 "version": re.search(r'name="version" value="(\w+)"', page).group(1)
                 }).encode(), cookie=cookie)
            c.ok("and a save is refused (403)", st == 403 and
                 "read-only" in body, (st, body[-300:]))
            c.logs(g, [PASSWORD])
    finally:
        subprocess.run(["chattr", "-i", mail])


def send_weixin(g):
    return http(g, "POST", "/api/c/compapi/v2/cmsi/send_weixin/", json.dumps({
        "bk_app_code": "demo", "bk_app_secret": "demo-secret",
        "bk_username": "admin", "receiver": "u1",
        "data": {"heading": "Disk", "message": "db-1 is 91% full"}}).encode())


def token_row(d):
    tr = d.find_element("css selector", "#tokens tr[data-where=send_weixin]")
    why = tr.find_elements("css selector", ".why")
    return tr.text, why[0].get_attribute("data-why") if why else None


def tokens(c, tmp, redis):
    """The Tokens page: when and why each token was last fetched; with
    redis, the token Redis holds, not this host's files."""
    what = "redis" if redis else "files"
    cfg = {
        "console": {"users": {"admin": {"password_hash": hash_password(PASSWORD)}}},
        "upstream": {"timeout_ms": 5000, "ca_file": "{pki}/ca.pem", "connect_to": [
            "qyapi.weixin.qq.com:443:127.0.0.1:{wechat.port0}"]},
        "components": {
            "send_weixin": {"delivery": None, "wx_type": "qy",
                            "wx_qy_corpid": "wwcorp0007",
                            "wx_qy_corpsecret": CORP_SECRET,
                            "wx_qy_agentid": "1000002"},
        },
    }
    if redis:
        cfg["redis"] = {"url": "unix:" + redis.sock, "prefix": "tc:"}
    d = None
    try:
        with harness.Gateway(BUILDDIR, cfg, procs=2, fakes=[wechat_fake()]) as g:
            base = "http://127.0.0.1:%d/console/" % g.port
            st, r = send_weixin(g)
            c.ok("%s: an API call fetches the WeCom token" % what,
                 r.get("result") is True, r)
            d = browser(tmp)
            signin(d, "admin", PASSWORD, base + "signin")
            submit(d, d.find_element("id", "nav-tokens"))
            text, why = token_row(d)
            c.ok("%s: Tokens says when and why: first use" % what,
                 why == "first" and "first use" in text and
                 re.search(r"\b\d+ s ago", text), (why, text))
            tokdir = os.path.join(g.config["state_dir"], "tokens")
            files = [f for f in (os.listdir(tokdir) if os.path.isdir(tokdir) else [])
                     if f.startswith("wecom-") and "." not in f]
            if redis:
                keys = redis.cmd("KEYS", "tc:token:*")
                c.ok("redis: the token is in Redis, no token file on this host",
                     len(keys) == 1 and not files, (keys, files))
                c.ok("redis: the page says it reads Redis",
                     "Read from Redis" in d.find_element("id", "redis").text)
                # The page shows Redis's record: its seconds left.
                exp = int(redis.cmd("GET", keys[0]).split()[0])
                left = re.search(r"(\d+) s\s*Refresh", text)
                c.ok("redis: the seconds left are the Redis record's",
                     left and abs(exp - time.time() - int(left.group(1))) <= 3,
                     (exp - time.time(), text))
            else:
                c.ok("files: the reason is kept in the token file",
                     len(files) == 1 and open(os.path.join(tokdir, files[0])).read()
                     .split("\n")[2] == "first", files)

            # The upstream refuses the token: the refresh says so.
            ctl(g, "/_fake/token_error?code=40014&n=1", {})
            st, r = send_weixin(g)
            d.get(base + "tokens")
            text, why = token_row(d)
            c.ok("%s: a refused token's refresh: upstream said invalid (40014)" % what,
                 r.get("result") is True and why == "refused:40014" and
                 "upstream said the token was invalid (40014)" in text, (r, why, text))

            # Refresh now, from the console.
            submit(d, d.find_element("css selector",
                                     "#tokens tr[data-where=send_weixin] button"))
            text, why = token_row(d)
            c.ok("%s: after Refresh now: refreshed from the console by admin" % what,
                 "A new token was fetched" in d.find_element("id", "notice").text and
                 why == "console:admin" and
                 "refreshed from the console by admin" in text, (why, text))
            n = ctl(g, "/_fake/counts")
            c.ok("%s: three fetches in all (first, refused, console)" % what,
                 n.get("gettoken") == 3, n)
            st, r = send_weixin(g)
            # Not a reload: that would post the refresh again.
            d.get(base + "tokens")
            n = ctl(g, "/_fake/counts")
            c.ok("%s: and the next call uses that token (no fetch)" % what,
                 r.get("result") is True and n.get("gettoken") == 3
                 and token_row(d)[1] == "console:admin", (r, n, token_row(d)))
            if redis:
                shot(d, "tokens-redis")
            else:
                print("screenshots: " + shot(d, "tokens"))
            c.logs(g, [PASSWORD, CORP_SECRET])
    finally:
        if d is not None:
            d.quit()


def save_cap(c, tmp):
    """LIM_TMPL_SAVE (64 KiB): a layout of exactly that many bytes is
    saved as sent (and a final newline); one byte more is refused with
    413, the file as it was."""
    tdir = os.path.join(tmp, "templates-cap")
    shutil.copytree(os.path.join(TOP, "templates"), tdir)
    html = os.path.join(tdir, "mail", "html.mustache")
    cfg = {"templates_dir": tdir, "console": {"users": {"admin": {
        "password_hash": hash_password(PASSWORD)}}}}
    with harness.Gateway(BUILDDIR, cfg) as g:
        cookie = signin_raw(g, "admin", PASSWORD)
        for n, want in ((64 * 1024, 303), (64 * 1024 + 1, 413)):
            st, hd, page = raw(g, "GET", "/console/template?n=mail/html",
                               cookie=cookie)
            ver = re.search(r'name="version" value="([0-9a-f]{64})"', page)
            with open(html, "rb") as f:
                before = f.read()
            st, hd, body = raw(g, "POST", "/console/template",
                               urllib.parse.urlencode({
                                   "csrf": csrf_of(page), "n": "mail/html",
                                   "text": "a" * n,
                                   "version": ver.group(1) if ver else ""
                               }).encode(), cookie=cookie)
            with open(html, "rb") as f:
                after = f.read()
            if want == 303:
                # The file ends with a newline, as an editor's would.
                c.ok("a layout of exactly 64 KiB is saved",
                     st == 303 and after == b"a" * n + b"\n",
                     (st, len(after)))
            else:
                c.ok("64 KiB + 1 is refused with 413, the file as it was",
                     st == 413 and "larger than 65536 bytes" in body and
                     after == before, (st, body[:200], len(after)))
        c.logs(g)


def main():
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="cmsi-console-tmpl-")
    os.chmod(tmp, 0o755)
    try:
        save_cap(c, tmp)
        templates(c, tmp)
        tokens(c, tmp, None)
        redis = Redis()
        try:
            redis.start()
            tokens(c, tmp, redis)
        finally:
            redis.stop()
            shutil.rmtree(redis.dir, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
