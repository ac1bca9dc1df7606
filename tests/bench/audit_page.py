#!/usr/bin/python3
"""The console's Recent messages and Overview pages over a generated
100 MB audit log (issue 15: "a 100 MB log must page in well under a
second").  Prints the wall time of each page through lighttpd (median
of 5) and the time the app says it spent reading the log; asserts
nothing about time.

usage: audit_page.py BUILDDIR [megabytes]
"""
import json
import os
import random
import re
import statistics
import sys
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import harness  # noqa: E402
from t_console import hash_password, signin_raw  # noqa: E402

PASSWORD = "Bench-Password-15"
COMPS = ["send_mail", "send_sms", "send_weixin", "send_qy_weixin",
         "send_voice_msg", "send_mp_weixin"]


def generate(path, mb):
    """Records like route_audit's, a week of them in time order."""
    rnd = random.Random(15)
    want = mb * 1024 * 1024
    now = int(time.time())
    n = 0
    with open(path, "w") as f:
        size = 0
        # ~330 bytes a record: spread a week over the count.
        total = want // 330
        while size < want:
            ts = now - 7 * 86400 + (7 * 86400 * n) // total
            comp = COMPS[n % len(COMPS)]
            ok = rnd.random() > 0.05
            rcpts = ["user%d@example.com" % rnd.randrange(5000)
                     for _ in range(1 + n % 3)]
            rec = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)),
                   "request_id": "%032x" % rnd.getrandbits(128),
                   "component": comp, "app": "app%d" % (n % 20),
                   "recipients": rcpts, "result": ok,
                   "code": 0 if ok else 1306000,
                   "message": "Succeeded to send mail" if ok else
                   "Some users failed to send email. The following recipients "
                   "were refused: " + rcpts[0]}
            if not ok:
                rec["failed"] = [{"receiver": rcpts[0], "code": 550}]
            line = json.dumps(rec, separators=(",", ":")) + "\n"
            f.write(line)
            size += len(line)
            n += 1
    return n, size


def get(g, cookie, path):
    req = urllib.request.Request("http://127.0.0.1:%d/console/%s" % (g.port, path),
                                 headers={"Cookie": cookie})
    t0 = time.monotonic()
    with urllib.request.urlopen(req, timeout=120) as r:
        body = r.read().decode()
    return (time.monotonic() - t0) * 1000, body


def main():
    builddir = sys.argv[1]
    mb = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    cfg = {"console": {"users": {"admin": {"password_hash": hash_password(PASSWORD)}}}}
    with harness.Gateway(builddir, cfg) as g:
        state = g.config["state_dir"]
        path = os.path.join(state, "audit.log")
        t0 = time.monotonic()
        n, size = generate(path, mb)
        st = os.stat(state)
        os.chown(path, st.st_uid, st.st_gid)
        print("audit.log: %d records, %.1f MB (generated in %.1f s)" % (
            n, size / 1048576, time.monotonic() - t0))
        cookie = signin_raw(g, "admin", PASSWORD)
        # An "older" link from the first page, to time a deep page too.
        _, first = get(g, cookie, "messages")
        older = re.search(r'id="older" href="/console/([^"]+)"', first)
        cases = [
            ("newest page, no filter", "messages"),
            ("second page (older link)", older.group(1).replace("&amp;", "&")
             if older else "messages"),
            ("component send_sms", "messages?comp=send_sms"),
            ("failed only", "messages?outcome=failed"),
            ("last hour", "messages?since=1h"),
            ("a recipient (rare)", "messages?rcpt=user4242%40example.com"),
            ("a request_id absent (64 MB cap)", "messages?id=ffffffffffffffffff"),
            ("middle of the file", "messages?before=%d" % (size // 2)),
            ("Overview (last day)", "home"),
        ]
        print("%-34s %10s %10s %6s" % ("page", "wall ms", "app ms", "rows"))
        for name, p in cases:
            walls = []
            for _ in range(5):
                ms, body = get(g, cookie, p)
                walls.append(ms)
            app = re.search(r'MB · ([0-9.]+) ms', body)
            rows = len(re.findall(r"<tr data-(?:at|name)=", body))
            print("%-34s %10.1f %10s %6d" % (name, statistics.median(walls),
                                             app.group(1) if app else "-", rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
