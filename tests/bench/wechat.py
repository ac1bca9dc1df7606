#!/usr/bin/python3
"""WeChat numbers of issue 5, through lighttpd against the HTTPS fake
(tests/fakes/wechat_server.py), loopback only:

1. gettoken calls made while 1,000 send_weixin (WeCom) requests go
   through 4 worker processes, 16 at a time (goal: 1);
2. the time of one send_mp_weixin to 100 openids when the fake adds
   50 ms to each call, next to one to a single openid (goal: under 3x).

Nothing passes or fails on time; it prints what it measured.

usage: wechat.py BUILDDIR [requests]
"""
import os
import statistics
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import harness  # noqa: E402
from t_wechat import config, ctl, fake, many, mp, qy  # noqa: E402


def gettoken(b, n):
    with harness.Gateway(b, config(), procs=4, fakes=[fake()]) as g:
        t0 = time.time()
        res = many(lambda i: qy(g, i), n, 16)
        dt = time.time() - t0
        ok = sum(1 for st, d in res if d.get("result") is True)
        c = ctl(g, "/_fake/counts")
        pids = {l.split("[")[1].split("]")[0] for l in g.app_log().splitlines()
                if "component=send_weixin" in l}
    print("wechat: %d send_weixin through lighttpd, %d worker processes "
          "(%d served some), 16 clients: %d succeeded in %.1f s (%.0f/s); "
          "gettoken calls: %d; message/send calls: %d"
          % (n, 4, len(pids), ok, dt, n / dt, c["gettoken"],
             c["message_send"]))
    return c["gettoken"]


def timed(fn, runs):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        st, d = fn()
        out.append((time.perf_counter() - t0) * 1000)
        if d.get("result") is not True:
            raise RuntimeError("send failed: %r" % (d,))
    return statistics.median(out), min(out), max(out)


def fanout(b):
    hundred = ",".join("o%d" % i for i in range(100))
    with harness.Gateway(b, config(), procs=1,
                         fakes=[fake("--delay-ms", "50")]) as g:
        # Warm: the token, and the connections both kinds of send reuse.
        for _ in range(2):
            mp(g, hundred)
            mp(g, "o1")
        one = timed(lambda: mp(g, "o1"), 15)
        many_ = timed(lambda: mp(g, hundred), 7)
    print("wechat: send_mp_weixin, fake adds 50 ms per call: 1 openid "
          "median %.0f ms (min %.0f, max %.0f); 100 openids median %.0f ms "
          "(min %.0f, max %.0f); ratio %.1fx"
          % (one + many_ + (many_[0] / one[0],)))
    return many_[0] / one[0]


def main():
    b = sys.argv[1] if len(sys.argv) > 1 else "build"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    gettoken(b, n)
    fanout(b)
    return 0


if __name__ == "__main__":
    sys.exit(main())
