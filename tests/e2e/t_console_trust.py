#!/usr/bin/python3
"""The console's trust rows of issue 32, driven over HTTP as a browser
would (sign-in form, CSRF token, session cookie), each named by its row:

  row 1  a stored secret goes only to the destination it was stored for
  row 2  a spray of made-up names cannot reset the sign-in lock-out
  row 4  a session ends when its user's password_hash changes or the
         user is removed
  row 5  a proxy's password and every secret are masked wherever the
         config is shown (History, diffs, the Edit page, logs)

usage: t_console_trust.py BUILDDIR
"""
import hashlib
import http.client
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
from t_console import hash_password, raw, signin_raw  # noqa: E402

BUILDDIR = sys.argv[1]
PASSWORD = "Correct-Horse-Battery-32"
PASSWORD2 = "Another-Horse-Battery-32"


def rewrite(g, change):
    """Changes the config file as an operator would (a new file renamed
    over the old one); change(doc) edits the parsed document."""
    with open(g.conf) as f:
        doc = json.load(f)
    change(doc)
    tmp = g.conf + ".new"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.chmod(tmp, 0o644)
    os.replace(tmp, g.conf)


def signin_from(g, src, user, pw):
    """One sign-in attempt from loopback address src; the page's text."""
    def req(method, path, body=None, cookie=None):
        con = http.client.HTTPConnection("127.0.0.1", g.port, timeout=60,
                                         source_address=(src, 0))
        h = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        if cookie:
            h["Cookie"] = cookie
        con.request(method, path, body=body, headers=h)
        r = con.getresponse()
        out = r.status, r.getheader("Set-Cookie") or "", r.read().decode(errors="replace")
        con.close()
        return out
    st, sc, page = req("GET", "/console/signin")
    tok = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
    st, sc2, page = req("POST", "/console/signin", urllib.parse.urlencode(
        {"csrf": tok, "username": user, "password": pw}).encode(),
        cookie=sc.split(";")[0])
    return st, sc2, page


# throttle.json's cap (fcgi/console/signin.c): LIM_THROTTLE / 72 entries.
THROTTLE_ENTRIES = 64 * 1024 // 72


def throttle_edit(path, change):
    """Edits throttle.json in place under its flock, as the app does
    (it keeps its owner and mode); change(doc) edits the parsed file."""
    import fcntl
    with open(path, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        doc = json.loads(f.read() or "{}")
        change(doc)
        f.seek(0)
        f.truncate()
        f.write(json.dumps(doc, separators=(",", ":")))


def row2_spray(c, g):
    """Lock admin, fill throttle.json up to its cap with other guessers'
    live failures (what a spray of hundreds of names leaves behind), then
    25 more failures under made-up names (63 bytes of control characters
    each, 6 bytes apiece in JSON) from 5 loopback addresses, 5 each (a
    sixth would meet the address's own lock-out): every new name must
    make room by dropping an entry, and admin stays locked.  (The old
    code kept names in clear and reset the whole file past 64 KiB: a full
    file plus these 25 names is far past it.)  Starting from a full file
    costs 25 password hashings where 200 names from 40 addresses, the
    spray as first written, cost 200 and never reached the cap."""
    for i in range(6):
        st, sc, page = signin_from(g, "127.0.0.1", "admin", "wrong-%d" % i)
    locked_at = int(time.time())
    st, sc, page = signin_from(g, "127.0.9.1", "admin", PASSWORD)
    c.ok("row 2: admin is locked after 6 failures (even with the right password)",
         "Too many failed sign-ins" in page, page[-300:])
    path = os.path.join(g.config["state_dir"], "console", "throttle.json")
    with open(path) as f:
        rec = json.load(f)
    # The old file named keys in clear; the new one by hash.
    key = hashlib.sha256(b"u:admin").hexdigest()[:32]
    locked_at = (rec.get(key) or rec.get("u:admin") or [0, 0])[1]
    # Earlier guessers: one failure each (not locked), a minute old, from
    # many addresses (8 hex digits of each address's hash, as stored).
    now = int(time.time())
    seeded = []

    def fill(doc):
        i = 0
        while len(doc) < THROTTLE_ENTRIES:
            k = hashlib.sha256(b"u:earlier-guess-%d" % i).hexdigest()[:32]
            doc[k] = [1, now - 60 - i % 50, "%08x" % (0x5eed0000 + i // 16)]
            seeded.append(k)
            i += 1
    throttle_edit(path, fill)
    names = 0
    for a in range(5):
        for i in range(5):
            name = "\x01" * 56 + "%07d" % (a * 5 + i)
            signin_from(g, "127.0.%d.%d" % (1 + a // 200, 10 + a % 200), name, "x")
            names += 1
    # The hashings take long on a slow machine (ASan, a loaded CI host):
    # the record is what must survive the spray, not the clock.
    with open(path) as f:
        rec = json.load(f)
    key = hashlib.sha256(b"u:admin").hexdigest()[:32]
    ent = rec.get(key) or rec.get("u:admin")
    dropped = sum(1 for k in seeded if k not in rec)
    c.ok("row 2: after %d made-up names from 5 addresses into a full throttle.json "
         "(%d entries; %d earlier ones made room) admin's lock-out is kept"
         % (names, THROTTLE_ENTRIES, dropped),
         ent is not None and ent[0] >= 5 and ent[1] == locked_at and
         len(rec) <= THROTTLE_ENTRIES and dropped >= names,
         (ent, locked_at, len(rec), dropped))
    # Six failures lock for 60 s (30 s doubled once); 10 s to spare.
    if time.time() < locked_at + 50:
        st, sc, page = signin_from(g, "127.0.9.2", "admin", PASSWORD)
        c.ok("row 2: ... and admin still cannot sign in",
             "Too many failed sign-ins" in page and "cmsi_console=" not in sc,
             page[-300:])
    size = os.path.getsize(path)
    c.ok("row 2: throttle.json stays small (%d bytes)" % size,
         size < 64 * 1024, size)


def row4_sessions(c, g):
    """A session ends when the user's password_hash changes, or when
    the user is removed; a fresh sign-in with the new password works."""
    cookie = signin_raw(g, "alice", PASSWORD)
    st, hd, body = raw(g, "GET", "/console/components", cookie=cookie)
    c.ok("row 4: alice's session opens the list", st == 200 and "send_mail" in body, st)
    other = signin_raw(g, "bob", PASSWORD)
    new_hash = hash_password(PASSWORD2)
    rewrite(g, lambda d: d["console"]["users"]["alice"].update(password_hash=new_hash))
    st, hd, body = raw(g, "GET", "/console/components", cookie=cookie)
    c.ok("row 4: a changed password_hash ends alice's old session",
         st == 303 and hd.get("Location") == "/console/signin", (st, hd.get("Location")))
    st, hd, body = raw(g, "GET", "/console/components", cookie=other)
    c.ok("row 4: bob's session, whose password did not change, goes on", st == 200, st)
    cookie = signin_raw(g, "alice", PASSWORD2)
    st, hd, body = raw(g, "GET", "/console/components", cookie=cookie)
    c.ok("row 4: alice signs in with the new password", st == 200, st)
    rewrite(g, lambda d: d["console"]["users"].pop("bob"))
    st, hd, body = raw(g, "GET", "/console/components", cookie=other)
    c.ok("row 4: removing bob ends bob's session", st == 303, st)
    st, hd, body = raw(g, "GET", "/console/components", cookie=cookie)
    c.ok("row 4: alice's new session goes on", st == 200, st)


SMTP_USER = "blueking@example.com"
OLD_PWD = "old-stored-smtp-pw-32"
NEW_PWD = "new-typed-smtp-pw-32"
PROXY_PWD = "proxy-pass-32-secret"
WX_TOKEN = "wx-token-32-secret"
HOOK_PWD = "hook-pass-32-secret"


def smtp_auth_fake(name, pw):
    """A submission server that wants AUTH as SMTP_USER with pw."""
    return {"name": name, "ports": 1,
            "cmd": ["tests/fakes/smtp_server.py", "--port", "{%s.port0}" % name,
                    "--dir", "{dir}/%s" % name, "--tls", "none", "--pki", "{pki}",
                    "--user", SMTP_USER, "--password", pw, "--lifetime", "600"]}


def events(g, name):
    d = os.path.join(g.dir, name + "-events")
    if not os.path.isdir(d):
        return []
    return [open(os.path.join(d, f)).read().strip() for f in sorted(os.listdir(d))]


def mails(g, name):
    d = os.path.join(g.dir, name)
    return sorted(f for f in os.listdir(d) if f.endswith(".eml")) if os.path.isdir(d) else []


def api_mail(g):
    body = json.dumps({"bk_app_code": "demo", "bk_app_secret": "demo-secret",
                       "bk_username": "admin", "receiver": "ops@example.com",
                       "title": "row 1", "content": "<p>hi</p>"}).encode()
    st, hd, text = raw(g, "POST", "/api/c/compapi/v2/cmsi/send_mail/", body)
    try:
        return json.loads(text)
    except ValueError:
        return {"raw": text[:300]}


def edit(g, cookie, comp, fields):
    """POSTs the Edit form of comp as a browser would after changing
    fields (a secret left out is "keep"); (status, Location, page)."""
    st, hd, page = raw(g, "GET", "/console/edit?c=%s" % comp, cookie=cookie)
    tok = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
    ver = re.search(r'name="version" value="([0-9a-f]{64})"', page).group(1)
    form = {"csrf": tok, "version": ver, "c": comp, "tenant": "", "enabled": "on"}
    form.update(fields)
    st, hd, page = raw(g, "POST", "/console/edit", urllib.parse.urlencode(form).encode(),
                       cookie=cookie)
    return st, hd.get("Location") or "", page


def row1_destination(c, tmp):
    """Moving send_mail to another server while keeping the stored
    password is refused beside the password; the other server never
    sees AUTH with it, from a {"file"} reference or a literal."""
    pwfile = os.path.join(tmp, "smtp-pwd.txt")
    with open(pwfile, "w") as f:
        f.write(OLD_PWD + "\n")
    os.chmod(pwfile, 0o644)
    cfg = {"console": {"users": {"admin": {"password_hash": hash_password(PASSWORD)}}},
           "components": {"send_mail": {
               "delivery": None, "smtp_host": "127.0.0.1", "smtp_port": "{smtpa.port0}",
               "smtp_user": SMTP_USER, "smtp_pwd": {"file": pwfile},
               "mail_sender": SMTP_USER}}}
    with harness.Gateway(BUILDDIR, cfg, fakes=[smtp_auth_fake("smtpa", OLD_PWD),
                                               smtp_auth_fake("smtpb", NEW_PWD)]) as g:
        pa, pb = g.subst["{smtpa.port0}"], g.subst["{smtpb.port0}"]
        r = api_mail(g)
        c.ok("row 1: the stored password works at server A", r.get("result") is True and
             "auth PLAIN ok tls=no" in events(g, "smtpa"), (r, events(g, "smtpa")))
        cookie = signin_raw(g, "admin", PASSWORD)
        keep = {"smtp_host": "127.0.0.1", "smtp_user": SMTP_USER, "mail_sender": SMTP_USER}
        with open(g.conf, "rb") as f:
            before = f.read()
        for label, change in (("smtp_port", {"smtp_port": pb}),
                              ("smtp_host", {"smtp_port": pa, "smtp_host": "localhost"}),
                              ("smtp_user", {"smtp_port": pa,
                                             "smtp_user": "other@example.com"})):
            st, loc, page = edit(g, cookie, "send_mail", dict(keep, **change))
            m = re.search(r'id="error-smtp_pwd">([^<]*)<', page)
            c.ok("row 1: changing %s and keeping the {\"file\"} password is refused "
                 "beside the password" % label, st == 422 and m is not None and
                 m.group(1) == "type the password again: the server changed",
                 (st, loc, m and m.group(1)))
        with open(g.conf, "rb") as f:
            c.ok("row 1: ... and the file is untouched", f.read() == before)
        row1_browser(c, g, tmp, pb)
        r = api_mail(g)
        c.ok("row 1: sends still go to server A", r.get("result") is True and
             len(mails(g, "smtpa")) == 2 and not mails(g, "smtpb"), r)
        # Typed again: saved, and B gets the new password, never the old.
        st, loc, page = edit(g, cookie, "send_mail", dict(keep, smtp_port=pb,
                                                         smtp_pwd=NEW_PWD))
        c.ok("row 1: with the password typed again the move is saved",
             st == 303 and "saved=1" in loc, (st, loc, page[-300:]))
        r = api_mail(g)
        c.ok("row 1: server B receives the message with the typed password",
             r.get("result") is True and len(mails(g, "smtpb")) == 1 and
             events(g, "smtpb").count("auth PLAIN ok tls=no") == 1,
             (r, events(g, "smtpb")))
        # Back to A keeping the (now literal) password: refused too.
        st, loc, page = edit(g, cookie, "send_mail", dict(keep, smtp_port=pa))
        c.ok("row 1: moving back to A keeping the literal password is refused",
             st == 422 and 'id="error-smtp_pwd"' in page, (st, loc))
        # Cleared: saved, and A gets no password at all.
        st, loc, page = edit(g, cookie, "send_mail", dict(keep, smtp_port=pa,
                                                         smtp_pwd__clear="on"))
        c.ok("row 1: moving with the password cleared is saved", st == 303, (st, loc))
        with open(g.conf) as f:
            sec = json.load(f)["components"]["send_mail"]
        c.ok("row 1: ... and the file holds no password", "smtp_pwd" not in sec, sec)
        api_mail(g)
        c.ok("row 1: server B never saw AUTH with the old password (all its AUTHs "
             "carried the typed one)", all(e == "auth PLAIN ok tls=no"
                                           for e in events(g, "smtpb")
                                           if e.startswith("auth")), events(g, "smtpb"))
        c.ok("row 1: server A never saw the password typed for B",
             not any("refused" in e for e in events(g, "smtpa")), events(g, "smtpa"))
        c.logs(g, [OLD_PWD, NEW_PWD, PASSWORD])


def row1_browser(c, g, tmp, port_b):
    """The same refusal in Chromium, in English and Chinese: the message
    stands beside the password field, the typed port is kept on the
    page.  Screenshot: BUILDDIR/console-secret-destination.png."""
    try:
        from t_console import browser, submit
        d = browser(tmp)
    except Exception as e:  # noqa: BLE001 (no browser here: said, not hidden)
        print("skip row 1 in Chromium: %s" % e)
        return
    try:
        base = "http://127.0.0.1:%d/console/" % g.port
        d.get(base + "signin")
        d.find_element("name", "username").send_keys("admin")
        d.find_element("name", "password").send_keys(PASSWORD)
        submit(d, d.find_element("id", "signin"))
        d.get(base + "edit?c=send_mail")
        f = d.find_element("name", "smtp_port")
        f.clear()
        f.send_keys(port_b)
        submit(d, d.find_element("id", "save"))
        err = d.find_elements("id", "error-smtp_pwd")
        c.ok("row 1 (Chromium): the refusal is shown beside the password",
             err and err[0].text == "type the password again: the server changed" and
             err[0].is_displayed(), d.page_source[-1500:])
        c.ok("row 1 (Chromium): the typed port is kept on the page",
             d.find_element("name", "smtp_port").get_attribute("value") == port_b)
        d.save_screenshot(os.path.join(TOP, BUILDDIR, "console-secret-destination.png"))
        d.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                          {"headers": {"Blueking-Language": "zh-cn"}})
        d.execute_cdp_cmd("Network.enable", {})
        d.get(base + "edit?c=send_mail")
        f = d.find_element("name", "smtp_port")
        f.clear()
        f.send_keys(port_b)
        submit(d, d.find_element("id", "save"))
        err = d.find_elements("id", "error-smtp_pwd")
        c.ok("row 1 (Chromium): in Chinese too", err and
             err[0].text == "服务器已更改，请重新输入密码", d.page_source[-800:])
    finally:
        d.quit()


def row5_masking(c, tmp):
    """upstream.proxy with a password, dest_url with one, wx_token and
    other secrets: nothing in clear on the Edit page, in History, in the
    audit log or the server's logs; a masked URL sent back unchanged
    keeps the stored one, and its password never goes to another host."""
    cfg = {"console": {"users": {"admin": {"password_hash": hash_password(PASSWORD)}}},
           "upstream": {"proxy": "http://proxyuser:%s@127.0.0.1:3128" % PROXY_PWD},
           "components": {
               "send_weixin": {"delivery": "outbox", "wx_type": "mp",
                               "wx_app_id": "wx0000000000000032", "wx_secret": WX_TOKEN + "-s",
                               "wx_token": WX_TOKEN},
               "send_sms": {"delivery": "outbox",
                            "dest_url": "https://hook:%s@hooks.example.com/sms" % HOOK_PWD}}}
    secrets = [PROXY_PWD, WX_TOKEN, HOOK_PWD, PASSWORD]
    with harness.Gateway(BUILDDIR, cfg) as g:
        cookie = signin_raw(g, "admin", PASSWORD)
        pages = []
        st, hd, page = raw(g, "GET", "/console/edit?c=send_sms", cookie=cookie)
        pages.append(page)
        c.ok("row 5: the Edit page shows dest_url with its password masked",
             "https://hook:***@hooks.example.com/sms" in page and HOOK_PWD not in page,
             re.findall(r'name="dest_url"[^>]*', page))
        # Sent back as shown: nothing changes, the stored URL stays.
        st, loc, page = edit(g, cookie, "send_sms", {
            "dest_url": "https://hook:***@hooks.example.com/sms"})
        with open(g.conf) as f:
            url = json.load(f)["components"]["send_sms"]["dest_url"]
        c.ok("row 5: the masked URL sent back unchanged keeps the stored one",
             st == 303 and "saved=0" in loc and HOOK_PWD in url, (st, loc, url))
        st, loc, page = edit(g, cookie, "send_sms", {
            "dest_url": "https://hook:***@evil.example.net/sms"})
        pages.append(page)
        with open(g.conf) as f:
            url = json.load(f)["components"]["send_sms"]["dest_url"]
        c.ok("row 1/5: the masked password under another host is refused beside it",
             st == 422 and 'id="error-dest_url">type the password again' in page and
             "evil" not in url, (st, loc, url))
        st, loc, page = edit(g, cookie, "send_sms", {
            "dest_url": "https://hook:%s-2@hooks.example.com/sms" % HOOK_PWD})
        c.ok("row 5: a new password typed into the URL is saved", st == 303, (st, loc))
        for comp in ("send_weixin", "send_mp_weixin", "send_mail"):
            st, hd, page = raw(g, "GET", "/console/edit?c=" + comp, cookie=cookie)
            pages.append(page)
        st, hd, page = raw(g, "GET", "/console/history", cookie=cookie)
        versions = re.findall(r'history\?v=([0-9T-]+\.json)', page)
        c.ok("row 5: History lists the replaced versions", len(versions) >= 1, page[-500:])
        texts = []
        for v in versions:
            st, hd, page = raw(g, "GET", "/console/history?v=" + v, cookie=cookie)
            pages.append(page)
            texts.append(page)
        alltext = "\n".join(texts)
        c.ok("row 5: History shows the proxy as http://proxyuser:***@127.0.0.1:3128",
             "http://proxyuser:***@127.0.0.1:3128" in alltext, alltext[:2000])
        c.ok("row 5: History shows dest_url masked",
             "https://hook:***@hooks.example.com/sms" in alltext)
        for sname in secrets:
            c.ok("row 5: no console page holds %s..." % sname[:8],
                 all(sname not in p for p in pages))
        audit = os.path.join(g.config["state_dir"], "audit.log")
        text = open(audit).read() if os.path.exists(audit) else ""
        c.ok("row 5: the audit log holds no secret",
             not any(x in text for x in secrets), text[-300:])
        c.logs(g, secrets)


def row3_preview(c, g):
    """The console's preview of a layout with {{#links}} six deep over
    40 links answers at once with the limit named, twice at the same
    time, and the console answers other pages meanwhile."""
    import threading
    cookie = signin_raw(g, "admin", PASSWORD)
    st, hd, page = raw(g, "GET", "/console/template?n=mail/html", cookie=cookie)
    tok = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
    form = urllib.parse.urlencode({
        "csrf": tok, "n": "mail/html",
        "text": "{{#links}}" * 6 + "{{/links}}" * 6,
        "sample": json.dumps({"links": ["https://e.x/%d" % i for i in range(40)]})}).encode()
    out = []

    def preview():
        t0 = time.time()
        st, hd, body = raw(g, "POST", "/console/template_preview?as=json", form,
                           cookie=cookie)
        out.append((time.time() - t0, st, body))
    ts = [threading.Thread(target=preview) for _ in range(2)]
    for t in ts:
        t.start()
    t0 = time.time()
    st, hd, page = raw(g, "GET", "/console/components", cookie=cookie)
    other = time.time() - t0
    for t in ts:
        t.join(120)
    slow = max(x[0] for x in out) if out else 999
    docs = []
    for _, st, body in out:
        try:
            docs.append(json.loads(body))
        except ValueError:
            docs.append({"raw": body[:200]})
    c.ok("row 3: two looping previews answer in %.2f s, naming the limit" % slow,
         len(docs) == 2 and slow < 10 and all(
             d.get("ok") is False and "steps of work" in d.get("error", "")
             for d in docs), docs)
    c.ok("row 3: the console answers another page meanwhile (%.2f s)" % other,
         st == 200 and other < 10, st)


def main():
    c = Checker()
    h = hash_password(PASSWORD)
    cfg = {"console": {"users": {"admin": {"password_hash": h},
                                 "alice": {"password_hash": h},
                                 "bob": {"password_hash": h}}},
           "components": {"send_mail": {"delivery": "outbox"}}}
    tmp = tempfile.mkdtemp(prefix="cmsi-trust-")
    os.chmod(tmp, 0o755)
    try:
        row1_destination(c, tmp)
        row5_masking(c, tmp)
        with harness.Gateway(BUILDDIR, cfg) as g:
            row4_sessions(c, g)
            row3_preview(c, g)
            if not os.environ.get("CMSI_QUICK"):
                row2_spray(c, g)
            c.logs(g, [PASSWORD, PASSWORD2])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
