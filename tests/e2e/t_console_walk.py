#!/usr/bin/python3
"""The console against BlueKing's documented walk (issue 32, rows 8 to
15), clicked through in a real browser (Debian's chromium, headless,
python3-selenium) as an operator would, in English, in Chinese and at
390 px wide:

  8  the filter "CMSI" finds the components; System and Tenant columns
  9  a second Save after a stale-page refusal keeps the other operator's
     change and writes only this operator's
 10  Test send in outbox mode says nothing was sent; Edit warns
 11  settings that cannot work are refused on the server, beside the field
 12  white space around ids and secrets is trimmed, and the page says so
 13  History: who, which keys, a diff with secrets masked; yesterday
     survives a busy afternoon
 14  Chinese for field errors and option labels, a language switch; at
     390 px the menu collapses, labels keep their words, tables scroll
 15  voice asks for a phone number; one WeCom entry; a hint once; the
     STARTTLS hint; Recent messages has a reason column

Screenshots go to BUILDDIR/walk-*.png.

usage: t_console_walk.py BUILDDIR
"""
import glob
import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.parse

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import harness  # noqa: E402
from e2e_lib import Checker  # noqa: E402
from console_lib import browser, signin, submit  # noqa: E402
from t_console import hash_password, raw, signin_raw, smtp_fake  # noqa: E402

BUILDDIR = sys.argv[1]
PASSWORD = "Correct-Horse-Battery-32"
CORP_SECRET = "walk-corp-secret-SECRET"
VOICE_KEY = "walk-voice-app-key-SECRET"
NEW_SECRET = "pasted-secret-with-newline-SECRET"
SECRETS = [PASSWORD, CORP_SECRET, VOICE_KEY, NEW_SECRET, "demo-secret"]


def shot(d, name):
    path = os.path.join(TOP, BUILDDIR, "walk-%s.png" % name)
    d.save_screenshot(path)
    return path


def form_tokens(page):
    tok = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
    ver = re.search(r'name="version" value="([0-9a-f]{64})"', page).group(1)
    m = re.search(r'name="base" value="([^"]*)"', page)
    base = html.unescape(m.group(1)) if m else ""
    return tok, ver, base


def page_form(page):
    """The Edit form's fields as a browser would send them."""
    form = {}
    for m in re.finditer(r'<input id="f-\w+" name="(\w+)" type="(text|number)" '
                         r'value="([^"]*)"', page):
        form[m.group(1)] = html.unescape(m.group(3))
    for m in re.finditer(r'<input id="f-\w+" name="(\w+)" type="checkbox" '
                         r'value="on"( checked)?>', page):
        if m.group(2):
            form[m.group(1)] = "on"
    for m in re.finditer(r'<select id="f-\w+" name="(\w+)"[^>]*>(.*?)</select>', page):
        sel = re.search(r'<option value="([^"]*)" selected>', m.group(2))
        first = re.search(r'<option value="([^"]*)"', m.group(2))
        form[m.group(1)] = html.unescape((sel or first).group(1)) if (sel or first) else ""
    return form


def post_edit(g, cookie, comp, fields, tenant=""):
    """One save without a browser, from a freshly drawn page: the form
    as the page holds it with fields changed (None: a box unticked).
    Returns (status, body)."""
    st, hd, page = raw(g, "GET", "/console/edit?c=%s&tenant=%s" % (comp, tenant),
                       cookie=cookie)
    tok, ver, base = form_tokens(page)
    form = {"csrf": tok, "version": ver, "base": base, "c": comp, "tenant": tenant}
    form.update(page_form(page))
    form.update(fields)
    form = {k: v for k, v in form.items() if v is not None}
    st, hd, body = raw(g, "POST", "/console/edit",
                       urllib.parse.urlencode(form).encode(), cookie=cookie)
    return st, body


def conf(g):
    with open(g.conf) as fh:
        return json.load(fh)


def visible_rows(d):
    return [(r.get_attribute("data-tenant"), r.get_attribute("data-name"))
            for r in d.find_elements("css selector", "#components tbody tr")
            if r.is_displayed()]


class Row:
    """A row's checks: when something the row needs is not on the page
    (code from before the row), the row fails and the walk goes on."""

    def __init__(self, c, name):
        self.c, self.name = c, name

    def __enter__(self):
        return self

    def __exit__(self, t, e, tb):
        if isinstance(e, Exception):
            self.c.ok("%s: the walk reaches its end" % self.name, False,
                      repr(e)[:300])
            return True
        return False


def main():
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="cmsi-console-walk-")
    os.chmod(tmp, 0o755)
    cfg = {
        "console": {"users": {"admin": {"password_hash": hash_password(PASSWORD)},
                              "bob": {"password_hash": hash_password(PASSWORD)}}},
        "apps": {"demo": {"secret": "demo-secret", "skip_user_auth": True}},
        "upstream": {"timeout_ms": 5000},
        "components": {
            "send_mail": {"delivery": None, "smtp_host": "127.0.0.1",
                          "smtp_port": "{smtp.port0}", "smtp_usetls": False,
                          "mail_sender": "blueking@example.com"},
            "send_weixin": {"delivery": "outbox", "wx_type": "qywx",
                            "wx_qy_corpid": "ww0001",
                            "wx_qy_corpsecret": CORP_SECRET,
                            "wx_qy_agentid": "1000002"},
            "send_voice_msg": {"delivery": "outbox", "qcloud_app_id": "1400000001",
                               "qcloud_app_key": VOICE_KEY},
        },
        "tenants": {"tenant-a": {"users": {"file": os.path.join(
            TOP, "conf/users.example.json")}}},
    }
    sources = []
    d = None
    try:
        with harness.Gateway(BUILDDIR, cfg, procs=2, fakes=[smtp_fake("smtp")]) as g:
            base = "http://127.0.0.1:%d/console/" % g.port
            d = browser(tmp)
            signin(d, "admin", PASSWORD, base + "signin")
            # The README's walk: sign-in opens Component Management.
            c.ok("sign-in opens Component Management",
                 d.current_url.endswith("/console/components"), d.current_url)

            # -- row 8: BlueKing's step, "filter send_mail under system CMSI".
            with Row(c, "row 8"):
                heads = [th.text for th in d.find_elements("css selector", "#components thead th")]
                c.eq("row 8: the list's columns", heads[:3], ["System", "Tenant", "Component"])
                every = visible_rows(d)
                q = d.find_element("id", "q")
                q.send_keys("CMSI")
                c.ok("row 8: filtering by CMSI keeps every component (%d rows)" % len(every),
                     len(every) >= 16 and visible_rows(d) == every, visible_rows(d))
                q.send_keys(" send_mail")
                c.eq("row 8: 'CMSI send_mail' finds send_mail, system-wide and the tenant's",
                     visible_rows(d), [("", "send_mail"), ("tenant-a", "send_mail")])
                rows = [r for r in d.find_elements("css selector", "#components tbody tr")
                        if r.is_displayed()]
                cells = [[td.text for td in r.find_elements("tag name", "td")[:2]] for r in rows]
                c.eq("row 8: the System column holds CMSI, the Tenant column the tenant",
                     cells, [["CMSI", "(system-wide)"], ["CMSI", "tenant-a"]])
                cookie = "cmsi_console=" + d.get_cookie("cmsi_console")["value"]
                st, hd, page = raw(g, "GET", "/console/components?q=cmsi", cookie=cookie)
                c.ok("row 8: the server's filter finds them by 'cmsi' too (no script)",
                     st == 200 and page.count('data-name="send_mail"') == 2, st)
                shot(d, "components-en")

            # -- row 9: another operator saves while this page is open.
            with Row(c, "row 9"):
                bob = signin_raw(g, "bob", PASSWORD)
                d.get(base + "edit?c=send_mail&tenant=")
                st, body = post_edit(g, bob, "send_mail",
                                     {"mail_sender": "bob@example.com"})
                c.ok("row 9: bob saves mail_sender meanwhile", st == 303, (st, body[:300]))
                f = d.find_element("name", "smtp_user")
                f.clear()
                f.send_keys("alice")
                submit(d, d.find_element("id", "save"))
                c.ok("row 9: the stale save is refused",
                     "Someone saved this file" in d.page_source and
                     conf(g)["components"]["send_mail"].get("smtp_user") is None,
                     d.page_source[-600:])
                theirs = [(tr.get_attribute("data-key"),
                           [td.text for td in tr.find_elements("tag name", "td")])
                          for tr in d.find_elements("css selector", "#theirs tbody tr")]
                c.ok("row 9: the refusal shows what bob changed",
                     len(theirs) == 1 and theirs[0][0] == "mail_sender" and
                     theirs[0][1][1:3] == ["blueking@example.com", "bob@example.com"], theirs)
                c.ok("row 9: the form holds bob's value and keeps alice's",
                     d.find_element("name", "mail_sender").get_attribute("value") ==
                     "bob@example.com" and
                     d.find_element("name", "smtp_user").get_attribute("value") == "alice")
                shot(d, "stale-en")
                submit(d, d.find_element("id", "save"))
                sm = conf(g)["components"]["send_mail"]
                c.ok("row 9: the second Save writes alice's key and keeps bob's",
                     "Saved." in d.page_source and sm.get("smtp_user") == "alice" and
                     sm.get("mail_sender") == "bob@example.com", sm)
                audit = [a for a in g.audit() if a.get("event") == "console.save"]
                c.eq("row 9: the audit names only alice's key", audit[-1].get("keys"),
                     ["smtp_user"])
                # Both change the same key: the row is marked, the form has hers.
                d.get(base + "edit?c=send_mail&tenant=")
                post_edit(g, bob, "send_mail", {"mail_sender": "bob2@example.com"})
                f = d.find_element("name", "mail_sender")
                f.clear()
                f.send_keys("alice@example.com")
                submit(d, d.find_element("id", "save"))
                c.ok("row 9: a key both changed is marked as a conflict, nothing saved",
                     d.find_elements("css selector", "#theirs tr.conflict[data-key=mail_sender]")
                     and conf(g)["components"]["send_mail"]["mail_sender"] == "bob2@example.com",
                     d.page_source[-600:])
                d.get(base + "edit?c=send_mail&tenant=")

            # -- row 10: outbox.
            with Row(c, "row 10"):
                d.get(base + "edit?c=send_weixin&tenant=")
                w = d.find_elements("id", "outbox-warn")
                c.ok("row 10: Edit warns: outbox while upstream settings are filled in",
                     w and "nothing is sent" in w[0].text, d.page_source[-600:])
                d.get(base + "test?c=send_weixin&tenant=")
                d.find_element("id", "rcpt").send_keys("u1")
                submit(d, d.find_element("id", "send"))
                out = d.find_element("id", "outcome").text
                c.ok("row 10: Test send in outbox mode says nothing was sent",
                     "nothing was sent" in out and "Delivered" not in out and
                     glob.glob(os.path.join(g.outbox, "*")), out)
                shot(d, "test-outbox-en")

            # -- row 15: the wx_type list and voice's recipient.
            with Row(c, "row 15"):
                d.get(base + "edit?c=send_weixin&tenant=")
                opts = [(o.get_attribute("value"), o.text, o.is_selected()) for o in
                        d.find_elements("css selector", "select[name=wx_type] option")]
                c.eq("row 15: one WeCom entry, as the file spells it",
                     opts, [("qywx", "WeCom", True), ("mp", "Official Account", False)])
                d.get(base + "test?c=send_voice_msg&tenant=")
                c.eq("row 15: voice Test send asks for a phone number",
                     d.find_element("css selector", "label[for=rcpt]").text, "Phone number")

            # -- row 11: settings that cannot work, refused by the server.
            with Row(c, "row 11"):
                with open(g.conf, "rb") as fh:
                    before = fh.read()
                d.get(base + "edit?c=send_mail&tenant=")
                marked = [e.get_attribute("for") for e in d.find_elements(
                    "css selector", "label") if e.find_elements("css selector", "abbr.req")]
                c.eq("row 11: the required fields are marked", marked,
                     ["f-smtp_host", "f-smtp_port"])
                d.find_element("name", "smtp_host").clear()
                d.find_element("name", "smtp_port").clear()
                submit(d, d.find_element("id", "save"))
                errs = {e.get_attribute("id"): e.text for e in
                        d.find_elements("css selector", ".error")}
                c.ok("row 11: empty smtp_host and port with upstream delivery: required",
                     errs.get("error-smtp_host", "").startswith("required") and
                     errs.get("error-smtp_port", "").startswith("required"), errs)
                shot(d, "required-en")
                d.get(base + "edit?c=send_mail&tenant=")
                # The browser's own min/max would stop 70000: the server must too.
                d.execute_script("document.getElementsByName('smtp_port')[0]"
                                 ".removeAttribute('max')")
                f = d.find_element("name", "smtp_port")
                f.clear()
                f.send_keys("70000")
                submit(d, d.find_element("id", "save"))
                c.eq("row 11: port 70000 refused beside the field",
                     d.find_element("id", "error-smtp_port").text, "not a port")
                for comp, fields, key, want in (
                        ("send_weixin", {"wx_qy_agentid": "abc"}, "wx_qy_agentid", "digits only"),
                        ("send_voice_msg", {"qcloud_app_id": "14OO000001"}, "qcloud_app_id",
                         "digits only"),
                        ("send_weixin", {"wx_qy_corpid": "ww 0001"}, "wx_qy_corpid",
                         "letters, digits, _ and - only"),
                        ("send_qy_weixin", {"delivery": "", "wx_qy_corpsecret": "x",
                                            "wx_qy_agentid": "1"}, "wx_qy_corpid",
                         "required")):
                    st, body = post_edit(g, cookie, comp, fields)
                    m = re.search(r'id="error-%s">([^<]*)<' % key, body)
                    c.ok("row 11: %s %r refused on the server: %s" % (comp, fields, want),
                         st == 422 and m and m.group(1).startswith(want),
                         (st, m and m.group(1)))
                with open(g.conf, "rb") as fh:
                    c.ok("row 11: and the file is untouched", fh.read() == before)
                st, body = post_edit(g, cookie, "send_qy_weixin",
                                     {"delivery": "outbox", "wx_qy_agentid": "1"})
                c.ok("row 11: the same section in the outbox needs no corp id",
                     st == 303, (st, body[-300:]))

            # -- row 12: white space around ids and secrets.
            with Row(c, "row 12"):
                d.get(base + "edit?c=send_weixin&tenant=")
                f = d.find_element("name", "wx_qy_corpid")
                f.clear()
                f.send_keys("ww0002  ")
                submit(d, d.find_element("id", "save"))
                tr = d.find_elements("id", "trimmed")
                c.ok("row 12: a corp id's trailing spaces are trimmed, and the page says so",
                     conf(g)["components"]["send_weixin"]["wx_qy_corpid"] == "ww0002" and
                     tr and "wx_qy_corpid" in tr[0].text, d.page_source[-600:])
                shot(d, "trimmed-en")
                st, body = post_edit(g, cookie, "send_weixin",
                                     {"wx_qy_corpsecret": NEW_SECRET + "\r\n"})
                st2, hd, page = raw(g, "GET", "/console/edit?c=send_weixin&tenant=&saved=1&"
                                    "trimmed=wx_qy_corpsecret", cookie=cookie)
                c.ok("row 12: a pasted secret's newline is trimmed",
                     st == 303 and conf(g)["components"]["send_weixin"]["wx_qy_corpsecret"]
                     == NEW_SECRET, (st, body[-300:]))

            # -- row 13: History.
            with Row(c, "row 13"):
                d.get(base + "history")
                rows = d.find_elements("css selector", "#versions tbody tr")
                text = d.find_element("id", "versions").text
                c.ok("row 13: History names who changed which component",
                     "admin" in text and "bob" in text and "send_mail" in text and
                     "send_weixin" in text, text[:600])
                c.ok("row 13: and shows the diff, keys named within their component",
                     "smtp_user" in text and "alice" in text and
                     "bob@example.com" in text and
                     "components.send_mail.smtp_user" not in text, text[:800])
                c.ok("row 13: a changed secret shows masked, never its value",
                     "wx_qy_corpsecret" in text and "******" in text and
                     all(s not in d.page_source for s in SECRETS), text[:800])
                sources.append(d.page_source)
                shot(d, "history-en")
                # Yesterday's version, then a busy afternoon of saves.
                hdir = os.path.join(g.config["state_dir"], "console", "history")
                yday = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() - 86400))
                yname = yday + "-000000000.json"
                shutil.copy(g.conf, os.path.join(hdir, yname))
                t0 = time.monotonic()
                for i in range(45):
                    st, body = post_edit(g, cookie, "send_mail",
                                         {"mail_sender": "busy%d@example.com" % i})
                    if st != 303:
                        break
                busy = time.monotonic() - t0
                kept = sorted(os.listdir(hdir))
                c.ok("row 13: after 45 saves yesterday's version is still kept "
                     "(%d versions)" % len([k for k in kept if k.endswith(".json")]),
                     st == 303 and yname in kept, (st, len(kept)))
                t0 = time.monotonic()
                st, hd, page = raw(g, "GET", "/console/history", cookie=cookie)
                ms = (time.monotonic() - t0) * 1000
                older = re.search(r'id="older" href="([^"]+)"', page)
                c.ok("row 13: History pages through them", st == 200 and older, st)
                # The cap: 2000 versions, older than yesterday, then a save.
                for i in range(2100):
                    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(
                        time.time() - 2 * 86400 - i * 500))
                    shutil.copy(g.conf, os.path.join(hdir, "%s-%09d.json" % (stamp, i)))
                st, body = post_edit(g, cookie, "send_mail",
                                     {"mail_sender": "capped@example.com"})
                t0 = time.monotonic()
                st2, hd, page2 = raw(g, "GET", "/console/history", cookie=cookie)
                ms_cap = (time.monotonic() - t0) * 1000
                left = [k for k in os.listdir(hdir) if k.endswith(".json")]
                c.ok("row 13: at most 2000 versions are kept, yesterday's among them "
                     "(%d left)" % len(left),
                     st == 303 and len(left) == 2000 and yname in left, (st, len(left)))
                print("measure: History's first page over 2000 versions in %.1f ms"
                      % ms_cap)
                print("measure: 45 console saves took %.0f ms (%.1f ms each); "
                      "History's first page over %d versions in %.1f ms" % (
                          busy * 1000, busy * 1000 / 45, len([k for k in kept if k.endswith(".json")]), ms))

            # -- row 15: STARTTLS hint, hints once, the reason column.
            with Row(c, "row 15"):
                st, body = post_edit(g, cookie, "send_mail", {"smtp_usetls": "on"})
                d.get(base + "test?c=send_mail&tenant=")
                d.find_element("id", "rcpt").send_keys("ops@example.com")
                submit(d, d.find_element("id", "send"))
                hints = [li.text for li in d.find_elements("css selector", "#hints li")]
                c.ok("row 15: the server offers no STARTTLS: a hint says so",
                     any("offers no STARTTLS" in h for h in hints), (hints, d.find_element(
                         "id", "outcome").text))
                c.eq("row 15: and the hint is shown once",
                     d.find_element("tag name", "main").text.count("offers no STARTTLS"), 1)
                shot(d, "test-starttls-en")
                d.get(base + "messages")
                heads = [th.text for th in d.find_elements("css selector", "#messages thead th")]
                why = [td.text for td in d.find_elements("css selector", "#messages td.why")]
                c.ok("row 15: Recent messages has a reason column with the failure's reason",
                     "Reason" in heads and any(w for w in why), (heads, why[:3]))

            # -- row 14: Chinese, through the page's own switch.
            with Row(c, "row 14"):
                d.get(base + "edit?c=send_mail&tenant=")
                submit(d, d.find_element("id", "lang-switch"))
                c.ok("row 14: the language switch turns the page Chinese and stays on it",
                     d.find_element("tag name", "html").get_attribute("lang") == "zh-CN" and
                     "c=send_mail" in d.current_url and "组件配置" in d.page_source,
                     d.current_url)
                labels = [o.text for o in d.find_elements("css selector",
                                                          "select[name=delivery] option")]
                c.eq("row 14: option labels in Chinese", labels, ["发往上游", "outbox（沙箱）"])
                d.execute_script("document.getElementsByName('smtp_port')[0]"
                                 ".removeAttribute('max')")
                f = d.find_element("name", "smtp_port")
                f.clear()
                f.send_keys("70000")
                d.find_element("name", "smtp_host").clear()
                submit(d, d.find_element("id", "save"))
                c.ok("row 14: field errors in Chinese",
                     d.find_element("id", "error-smtp_port").text == "不是有效端口（1–65535）" and
                     d.find_element("id", "error-smtp_host").text.startswith("必填"),
                     d.page_source[-700:])
                shot(d, "edit-errors-zh")
                d.get(base + "test?c=send_mail&tenant=")
                d.find_element("id", "rcpt").send_keys("ops@example.com")
                submit(d, d.find_element("id", "send"))
                out = d.find_element("id", "outcome").text
                hints = [li.text for li in d.find_elements("css selector", "#hints li")]
                c.ok("row 14: the upstream's message and the hint in Chinese",
                     "邮件发送失败" in out and "未送达" in out and
                     any("不支持 STARTTLS" in h for h in hints), (out, hints))
                shot(d, "test-starttls-zh")
                post_edit(g, cookie, "send_mail", {"smtp_usetls": None})
                d.get(base + "components")
                c.ok("row 14: the choice holds on the next page",
                     "组件管理" in d.page_source and
                     [th.text for th in d.find_elements("css selector",
                                                        "#components thead th")][:2] ==
                     ["系统", "租户"])
                shot(d, "components-zh")
                d.get(base + "history")
                shot(d, "history-zh")

            # -- row 14: 390 px.
            with Row(c, "row 14"):
                d.set_window_size(390, 844)
                d.get(base + "components")
                btn = d.find_element("id", "menu-btn")
                menu = d.find_element("id", "menu")
                c.ok("row 14: at 390 px the menu is collapsed behind a button",
                     btn.is_displayed() and not menu.is_displayed())
                shot(d, "components-390-zh")
                btn.click()
                c.ok("row 14: and opens on a tap", menu.is_displayed())
                shot(d, "menu-390-zh")
                btn.click()
                scroll = d.execute_script(
                    "var s = document.querySelector('#components').parentNode;"
                    "return [getComputedStyle(s).overflowX, s.scrollWidth, s.clientWidth,"
                    " document.documentElement.scrollWidth, window.innerWidth];")
                c.ok("row 14: the table scrolls inside the page instead of being cut",
                     scroll[0] == "auto" and scroll[1] > scroll[2] and
                     scroll[3] <= scroll[4], scroll)
                for page, name in (("edit?c=send_weixin&tenant=", "edit"),
                                   ("test?c=send_mail&tenant=", "test"),
                                   ("messages", "messages"), ("history", "history"),
                                   ("home", "home"), ("tokens", "tokens"),
                                   ("templates", "templates")):
                    for lang in ("zh", "en"):
                        d.get(base + page + ("&" if "?" in page else "?") + "lang=" + lang)
                        narrow = d.execute_script(
                            "var out = [];"
                            "document.querySelectorAll('main label, main th, main h1')"
                            ".forEach(function (e) {"
                            " var r = e.getBoundingClientRect(), lh ="
                            " parseFloat(getComputedStyle(e).lineHeight) || 20;"
                            " if (r.width > 0 && e.textContent.trim().length > 2 &&"
                            " r.height > 3.2 * lh) out.push(e.textContent.trim());"
                            "}); return [out, document.documentElement.scrollWidth,"
                            " window.innerWidth];")
                        c.ok("row 14: %s (%s) at 390 px: no label one word per line, "
                             "nothing wider than the screen" % (name, lang),
                             not narrow[0] and narrow[1] <= narrow[2], narrow)
                        shot(d, "%s-390-%s" % (name, lang))
            d.set_window_size(1280, 1700)
            for s in SECRETS:
                c.ok("no page source holds the secret %s..." % s[:6],
                     all(s not in p for p in sources))
            d.quit()
            d = None
            c.logs(g, SECRETS)
    finally:
        if d is not None:
            d.quit()
        shutil.rmtree(tmp, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
