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
import sys
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


def row2_spray(c, g):
    """Lock admin, then 200 failures under made-up names (63 bytes of
    control characters each, 6 bytes apiece in JSON) from 40 loopback
    addresses, 5 each (a sixth would meet the address's own lock-out):
    admin stays locked."""
    for i in range(6):
        st, sc, page = signin_from(g, "127.0.0.1", "admin", "wrong-%d" % i)
    locked_at = int(time.time())
    st, sc, page = signin_from(g, "127.0.9.1", "admin", PASSWORD)
    c.ok("row 2: admin is locked after 6 failures (even with the right password)",
         "Too many failed sign-ins" in page, page[-300:])
    with open(os.path.join(g.config["state_dir"], "console", "throttle.json")) as f:
        rec = json.load(f)
    # The old file named keys in clear; the new one by hash.
    key = hashlib.sha256(b"u:admin").hexdigest()[:32]
    locked_at = (rec.get(key) or rec.get("u:admin") or [0, 0])[1]
    for a in range(40):
        for i in range(5):
            name = "\x01" * 56 + "%07d" % (a * 5 + i)
            signin_from(g, "127.0.%d.%d" % (1 + a // 200, 10 + a % 200), name, "x")
    # 200 hashings take longer than the first lock-out (30 s) on a
    # slow machine: the record is what must survive the spray.
    path = os.path.join(g.config["state_dir"], "console", "throttle.json")
    with open(path) as f:
        rec = json.load(f)
    key = hashlib.sha256(b"u:admin").hexdigest()[:32]
    ent = rec.get(key) or rec.get("u:admin")
    c.ok("row 2: after 200 made-up names from 40 addresses admin's lock-out is kept",
         ent is not None and ent[0] >= 5 and ent[1] == locked_at,
         (ent, locked_at, len(rec)))
    if time.time() < locked_at + 25:
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


def main():
    c = Checker()
    h = hash_password(PASSWORD)
    cfg = {"console": {"users": {"admin": {"password_hash": h},
                                 "alice": {"password_hash": h},
                                 "bob": {"password_hash": h}}},
           "components": {"send_mail": {"delivery": "outbox"}}}
    with harness.Gateway(BUILDDIR, cfg) as g:
        row4_sessions(c, g)
        row2_spray(c, g)
        c.logs(g, [PASSWORD, PASSWORD2])
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
