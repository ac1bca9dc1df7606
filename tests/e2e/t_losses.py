#!/usr/bin/python3
"""What a user would lose (issue 33), end to end, with fixed inputs and
exact answers: behaviours that planted one-line regressions once went
through the whole suite unnoticed.  One gateway, the suite's SMTP
server (tests/fakes/smtp_server.py, its mode file per check):

  after-DATA     every RCPT taken, the message refused with 554:
                 nobody in data.successed, data.smtp says 554
  partial        250 + 550: delivered to one, the answer names the other
  refused+queued 550 for one, 451 for the other with retry on: not
                 "Succeeded to send mail"; the 451 one queued
  retry-once     one delivered, one queued; the retry delivers the
                 queued one and never the delivered one again
  max_age        an alert queued longer ago than max_age_s expires, one
                 queued within it is delivered (max_age_s in seconds)
  idempotency    two apps, one Idempotency-Key: both sent; a repeat of
                 one app's request is answered and not sent
  sessions       a console session lasts session_minutes and no longer
  history        History never shows the MP wx_token in clear
  sign-in token  the form's token comes from the pre cookie only when
                 it is 64 hex digits; anything else is replaced
  token length   the console's "refresh now" takes an access token of
                 exactly LIM_TOKEN (512) bytes and refuses one of 513
                 with the reason (tests/fakes/token_server.py)

The pure parts (key names, caps) are in tests/unit/test_losses.c with
the checklist of issue 33.

usage: t_losses.py BUILDDIR
"""
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests/e2e"))
import harness  # noqa: E402
from e2e_lib import Checker  # noqa: E402

BUILDDIR = sys.argv[1]
PASSWORD = "Losses-Console-Pw-9"
MP_TOKEN = "mp-token-SECRET-1"
MP_SECRET = "mp-app-secret-SECRET-2"
MAX_AGE = 4


def hash_password(pw):
    r = subprocess.run([os.path.join(TOP, BUILDDIR, "cmsi.fcgi"),
                        "--hash-password"], input=pw.encode(),
                       stdout=subprocess.PIPE, check=True)
    return r.stdout.decode().strip()


def config():
    return {
        "apps": {"other": {"secret": "other-secret", "skip_user_auth": True}},
        "upstream": {"timeout_ms": 5000, "ca_file": "{pki}/ca.pem",
                     "connect_to": ["api.weixin.qq.com:443:127.0.0.1:"
                                    "{token.port0}"]},
        "console": {"users": {"admin": {"password_hash":
                                        hash_password(PASSWORD)}},
                    "session_minutes": 1},
        "components": {
            "send_mail": {"delivery": None, "smtp_host": "127.0.0.1",
                          "smtp_port": "{smtp.port0}",
                          "mail_sender": "blueking@example.com",
                          "retry": {"attempts": 40, "max_age_s": MAX_AGE,
                                    "backoff_s": 1}},
            "send_mp_weixin": {"delivery": "outbox", "wx_app_id": "wx0001",
                               "wx_secret": MP_SECRET, "wx_token": MP_TOKEN,
                               "wx_template_id": "tpl-1"}}}


FAKES = [{"name": "smtp", "ports": 1, "cmd": [
    "tests/fakes/smtp_server.py", "--port", "{smtp.port0}",
    "--dir", "{dir}/smtp", "--tls", "none", "--pki", "{pki}",
    "--mode-file", "{dir}/smtp-mode", "--lifetime", "600"]},
    {"name": "token", "ports": 1, "cmd": [
        "tests/fakes/token_server.py", "--port", "{token.port0}",
        "--dir", "{dir}/token", "--pki", "{pki}", "--lifetime", "600"]}]


def mode(g, m):
    with open(os.path.join(g.dir, "smtp-mode"), "w") as f:
        f.write(m)


def post(g, doc, app="demo", secret="demo-secret", key=None):
    body = {"bk_app_code": app, "bk_app_secret": secret,
            "bk_username": "admin"}
    body.update(doc)
    req = urllib.request.Request(
        "http://127.0.0.1:%d/api/c/compapi/cmsi/send_mail/" % g.port,
        data=json.dumps(body).encode(), method="POST")
    if key is not None:
        req.add_header("Idempotency-Key", key)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def mail(rcpt, title):
    return {"receiver": rcpt, "title": title, "content": "c"}


def sent(g, title):
    """The recipients the SMTP server took a message titled title for,
    one entry per delivery."""
    out = []
    for f in sorted(glob.glob(os.path.join(g.dir, "smtp-env", "*.json"))):
        env = json.load(open(f))
        eml = open(f.replace("smtp-env", "smtp").replace(".json", ".eml"),
                   "rb").read().decode(errors="replace")
        if "\r\nSubject: %s\r\n" % title in eml or \
                eml.startswith("Subject: %s\r\n" % title):
            out += env["rcpt_tos"]
    return sorted(out)


def drain(g):
    argv = [g.bin, "--drain", "-c", g.conf]
    uid = os.stat(os.path.join(g.config["state_dir"], "spool")).st_uid
    if uid != os.geteuid():
        import pwd
        argv = ["runuser", "-u", pwd.getpwuid(uid).pw_name, "--"] + argv
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=g.envp, timeout=120)
    return p.stdout.decode(errors="replace")


def answer(d):
    return {k: d.get(k) for k in ("result", "code", "message", "data")}


def after_data(c, g):
    mode(g, "datafail")
    d = post(g, mail("a@example.com,b@example.com", "t-data"))
    # Each failed entry keeps its RCPT reply (250: taken); data.smtp
    # says what refused the message.  libcurl's own words
    # (smtp.error) are not the contract and are left out.
    d.get("data", {}).get("smtp", {}).pop("error", None)
    c.eq("after-DATA 554: the answer names nobody as sent", answer(d), {
        "result": False, "code": 1306000, "message": "Failed to send mail",
        "data": {"successed": [], "failed": [
            {"receiver": "a@example.com", "code": 250},
            {"receiver": "b@example.com", "code": 250}],
            "smtp": {"code": 554, "status": "5.7.1"}}})
    c.eq("after-DATA 554: nothing delivered", sent(g, "t-data"), [])
    c.eq("after-DATA 554: nothing queued (a permanent refusal)",
         spool_items(g), [])


def partial(c, g):
    """One recipient taken, one refused for good (550): the message
    goes to the one, the answer names the other."""
    mode(g, "")
    d = post(g, mail("ok3@example.com,refuse3@example.com", "t-part"))
    c.eq("partial 250 + 550: the answer names who was refused", answer(d), {
        "result": False, "code": 1306000,
        "message": "Some users failed to send email. The following "
        "recipients were refused: refuse3@example.com",
        "data": {"successed": [{"receiver": "ok3@example.com", "code": 250}],
                 "failed": [{"receiver": "refuse3@example.com",
                             "code": 550}]}})
    c.eq("partial 250 + 550: delivered to the one", sent(g, "t-part"),
         ["ok3@example.com"])
    d = post(g, mail("ok4@example.com", "t-all"))
    c.eq("all taken: ESB's success, no data", answer(d), {
        "result": True, "code": 0, "message": "Succeeded to send mail",
        "data": None})


def spool_items(g, sub=""):
    return sorted(glob.glob(os.path.join(g.config["state_dir"], "spool", sub,
                                         "*.json")))


def refused_and_queued(c, g):
    mode(g, "tempfail:later1")
    d = post(g, mail("refuse1@example.com,later1@example.com", "t-rq"))
    c.ok("550 + 451 with retry: not 'Succeeded to send mail'",
         d.get("message") != "Succeeded to send mail", answer(d))
    d.get("data", {}).get("smtp", {}).pop("error", None)
    c.eq("550 + 451 with retry: the exact answer", answer(d), {
        "result": False, "code": 1306000, "message": "Failed to send mail",
        "data": {"successed": [], "queued": ["later1@example.com"],
                 "failed": [{"receiver": "refuse1@example.com", "code": 550},
                            {"receiver": "later1@example.com", "code": 451}],
                 "smtp": {"code": 451, "status": "4.3.0"}}})
    c.eq("550 + 451 with retry: one item queued", len(spool_items(g)), 1)


def retry_once(c, g):
    mode(g, "tempfail:later2")
    d = post(g, mail("ok2@example.com,later2@example.com", "t-once"))
    c.eq("one delivered, one queued", (d.get("result"),
                                        d.get("data", {}).get("queued")),
         (True, ["later2@example.com"]))
    c.eq("the first attempt delivered ok2 only", sent(g, "t-once"),
         ["ok2@example.com"])
    mode(g, "")
    time.sleep(1.3)
    drain(g)
    c.eq("the retry delivers later2 and never ok2 again",
         sent(g, "t-once"), ["later2@example.com", "ok2@example.com"])


def max_age(c, g):
    mode(g, "tempfail")
    d = post(g, mail("old@example.com", "t-old"))
    c.eq("max_age: the old alert is queued", d.get("data", {}).get("queued"),
         ["old@example.com"])
    time.sleep(MAX_AGE + 1.5)
    d = post(g, mail("new@example.com", "t-new"))
    c.eq("max_age: the new alert is queued", d.get("data", {}).get("queued"),
         ["new@example.com"])
    mode(g, "")
    time.sleep(1.3)
    out = drain(g)
    c.eq("max_age: past its age, never delivered", sent(g, "t-old"), [])
    c.eq("max_age: within its age, delivered once", sent(g, "t-new"),
         ["new@example.com"])
    ev = [a.get("expired") for a in g.audit() if a.get("event") == "expired"]
    c.eq("max_age: the audit says which expired", ev, [["old@example.com"]])
    c.eq("max_age: spool/expired holds it, the spool nothing",
         (len(spool_items(g, "expired")), spool_items(g)), (1, []))
    print("     --drain: %s" % out.strip().replace("\n", " | ")[:200])


def idempotency(c, g):
    mode(g, "")
    a = post(g, mail("idem@example.com", "t-idem"), key="same-key")
    b = post(g, mail("idem@example.com", "t-idem"), app="other",
             secret="other-secret", key="same-key")
    r = post(g, mail("idem@example.com", "t-idem"), key="same-key")
    c.eq("Idempotency-Key per app: both apps answered as sent",
         (a.get("result"), b.get("result"), r.get("result")),
         (True, True, True))
    c.eq("Idempotency-Key per app: two deliveries, the repeat none",
         sent(g, "t-idem"), ["idem@example.com", "idem@example.com"])


def raw(g, method, path, data=None, cookie=None, origin=None):
    h = {"Cookie": cookie} if cookie else {}
    if origin:
        h["Origin"] = origin
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (g.port, path),
                                 data=data, method=method, headers=h)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    op = urllib.request.build_opener(NoRedirect)
    try:
        with op.open(req, timeout=60) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def signin(g):
    st, hd, page = raw(g, "GET", "/console/signin")
    pre = hd.get("Set-Cookie").split(";")[0]
    tok = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
    st, hd, body = raw(g, "POST", "/console/signin", urllib.parse.urlencode(
        {"csrf": tok, "username": "admin", "password": PASSWORD}).encode(),
        cookie=pre)
    return (hd.get("Set-Cookie") or "").split(";")[0]


def session_path(g, cookie):
    sid = cookie.split("=", 1)[1]
    return os.path.join(g.config["state_dir"], "console", "sessions",
                        hashlib.sha256(sid.encode()).hexdigest())


def sessions(c, g):
    t0 = time.time()
    cookie = signin(g)
    path = session_path(g, cookie)
    c.ok("sessions: signed in", cookie.startswith("cmsi_console=") and
         os.path.exists(path), cookie)
    if not os.path.exists(path):
        return None
    exp = json.load(open(path)).get("exp", 0)
    c.ok("sessions: expiry is session_minutes (1) from now",
         t0 + 60 - 15 <= exp <= time.time() + 60 + 15, (exp, t0))
    st, hd, _ = raw(g, "GET", "/console/components", cookie=cookie)
    c.eq("sessions: a live session opens the console", st, 200)
    doc = json.load(open(path))
    doc["exp"] = int(time.time()) - 1
    with open(path, "w") as f:
        json.dump(doc, f)
    st, hd, _ = raw(g, "GET", "/console/components", cookie=cookie)
    c.eq("sessions: an expired session goes to sign-in",
         (st, hd.get("Location")), (303, "/console/signin"))
    c.ok("sessions: and its file is gone", not os.path.exists(path))
    # A sign-in sweeps the files of sessions idle past session_minutes,
    # and only those.
    old = signin(g)
    live = signin(g)
    t = time.time() - 61
    os.utime(session_path(g, old), (t, t))
    last = signin(g)
    c.eq("sessions: a sign-in sweeps the stale, keeps the live",
         [os.path.exists(session_path(g, k)) for k in (old, live, last)],
         [False, True, True])
    st, hd, _ = raw(g, "GET", "/console/components", cookie=live)
    c.eq("sessions: two sessions at once, each its own", st, 200)
    return last


def history(c, g, cookie):
    st, hd, page = raw(g, "GET", "/console/edit?c=send_mp_weixin",
                       cookie=cookie)
    c.ok("history: the edit page hides wx_token", st == 200 and
         MP_TOKEN not in page, st)
    tok = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
    ver = re.search(r'name="version" value="([0-9a-f]{64})"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrf": tok, "version": ver, "c": "send_mp_weixin",
         "enabled": "on", "delivery": "outbox", "wx_app_id": "wx0001",
         "wx_template_id": "tpl-2"}).encode()
    # The session and the form's token, from another site: refused.
    for bad in ("http://evil.example", "http://127.0.0.1:%d.evil.example"
                % g.port, "https://evil.example/127.0.0.1:%d" % g.port):
        st, hd, body = raw(g, "POST", "/console/edit", form, cookie=cookie,
                           origin=bad)
        c.eq("console: a POST from %s is refused" % bad, (st, body.strip()),
             (403, "Cross-site request refused."))
    st, hd, body = raw(g, "POST", "/console/edit", form, cookie=cookie,
                       origin="http://127.0.0.1:%d" % g.port)
    c.ok("history: a save (from the console's own origin)", st == 303 and
         "saved=1" in (hd.get("Location") or ""), (st, body[:200]))
    st, hd, page = raw(g, "GET", "/console/history", cookie=cookie)
    vs = sorted(set(re.findall(r'history\?v=([0-9A-Za-z._-]+)', page)))
    c.ok("history: the replaced version is listed", st == 200 and vs,
         (st, page[:200]))
    for v in vs:
        st, hd, page = raw(g, "GET", "/console/history?v=" + v,
                           cookie=cookie)
        shown = re.findall(r'&quot;wx_token&quot;:\s*&quot;([^&]*)&quot;',
                           page)
        c.ok("history %s: wx_token shown as ******, never in clear" % v,
             st == 200 and MP_TOKEN not in page and MP_SECRET not in page
             and shown == ["******"], (st, shown))


def token_refresh(g, cookie, length):
    """The Tokens page's "refresh now" of the one app (the MP), the
    token server answering a token of length bytes: (status, the
    notice's text, token calls made, whether the page shows a run of
    64 bytes of the token)."""
    with open(os.path.join(g.dir, "token", "token-len"), "w") as f:
        f.write(str(length))
    calls = os.path.join(g.dir, "token", "token-calls")
    if os.path.exists(calls):
        os.unlink(calls)
    st, hd, page = raw(g, "GET", "/console/tokens", cookie=cookie)
    tok = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
    st, hd, page = raw(g, "POST", "/console/tokens", urllib.parse.urlencode(
        {"csrf": tok, "app": "0"}).encode(), cookie=cookie,
        origin="http://127.0.0.1:%d" % g.port)
    m = re.search(r'<div class="alert [a-z]+" id="notice">(.*?)</div>',
                  page, re.S)
    n = len(open(calls).read().split()) if os.path.exists(calls) else 0
    return st, m.group(1).strip() if m else page[:300], n, "A" * 64 in page


def token_length(c, g, cookie):
    c.eq("token length: refresh now with a token of exactly 512 bytes",
         token_refresh(g, cookie, 512),
         (200, "A new token was fetched.", 1, False))
    c.ok("token length: the 512 bytes kept",
         ("\n" + "A" * 512 + "\n") in "".join(
             open(f).read() for f in glob.glob(os.path.join(
                 g.config["state_dir"], "tokens", "*"))
             if not f.endswith(".lock")))
    c.eq("token length: refresh now with a token of 513 bytes, refused",
         token_refresh(g, cookie, 513),
         (502, "The token could not be fetched:\nComponent request "
          "third-party system [WEIXIN_MP] interface [get_token] error: "
          "interface response has no valid access_token, please try "
          "again later or contact component developer to handle this", 1,
          False))


def signin_token(c, g):
    """The sign-in form's token is the pre cookie's, and only a token
    the gateway could have made (64 hex digits) is taken from a cookie:
    any other value, as a neighbour site could plant it, is replaced by
    a fresh one, never written into the page."""
    planted = 'x" onfocus="alert(1)'
    for sent, kept in (("a" * 64, True), ("A" * 63, False),
                       (planted, False)):
        st, hd, page = raw(g, "GET", "/console/signin",
                           cookie="cmsi_console_pre=" + sent)
        m = re.search(r'name="csrf" value="([^"]*)"', page)
        form = m.group(1) if m else None
        setc = " ".join(hd.get_all("Set-Cookie") or [])
        m = re.search(r"cmsi_console_pre=([0-9a-f]{64});", setc)
        if kept:
            c.ok("sign-in token: a 64-hex pre cookie is the form's token",
                 st == 200 and form == sent and m is None, (st, form, setc))
        else:
            c.ok("sign-in token: a pre cookie of %r is replaced by a "
                 "fresh one" % sent[:20], st == 200 and m is not None and
                 form == m.group(1) and sent not in page,
                 (st, form, setc))


def main():
    c = Checker()
    with harness.Gateway(BUILDDIR, config(), fakes=FAKES) as g:
        mode(g, "")
        after_data(c, g)
        partial(c, g)
        refused_and_queued(c, g)
        retry_once(c, g)
        max_age(c, g)
        idempotency(c, g)
        signin_token(c, g)
        cookie = sessions(c, g)
        if cookie:
            history(c, g, cookie)
            token_length(c, g, cookie)
        c.logs(g, [MP_TOKEN, MP_SECRET, PASSWORD, "other-secret"])
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
