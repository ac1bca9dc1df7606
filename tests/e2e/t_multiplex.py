#!/usr/bin/python3
"""A process's upstream HTTPS calls share connections (issue 31's memory
gap): the WeCom stand-in is Debian's nginx over HTTPS with a throwaway
CA, message/send answered after 200 ms by echo_sleep (the bench's
stand-in, tests/bench/slow.py), and nginx's stub_status counts the
connections it accepted.  One gateway process through lighttpd:

  http2     the stand-in offers HTTP/2 (ALPN): after one warm-up send,
            N sends at once all succeed, at once (far less than N x
            200 ms), over the connection already open: 0 new ones (1
            allowed, should libcurl's stream limit be met).
  http1.1   the same stand-in without HTTP/2: all succeed too, one
            connection per call in flight (more than one new).
  reload    a changed upstream setting (timeout_ms) in the file: the next
            send opens a new connection (the old one was closed with the
            old settings, issue 32 row 7), the one after it none.

usage: t_multiplex.py BUILDDIR
"""
import concurrent.futures
import json
import os
import shutil
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for d in ("tests", "tests/e2e", "tests/fakes", "tests/bench"):
    sys.path.insert(0, os.path.join(TOP, d))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402
from pipeline import WX_BODY  # noqa: E402
from slow import ECHO, PATH, SlowNginx, gateway_config  # noqa: E402

# Fewer at once in a sanitizer build (each TLS handshake takes seconds).
N = 32
SAN = False


def send(g, i):
    return http(g, "POST", PATH, WX_BODY,
                {"Content-Type": "application/json"}, timeout=60)


def many(g, n):
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        return list(ex.map(lambda i: send(g, i), range(n)))


def rewrite(g, change):
    """The config file as the console writes it: a new file renamed in."""
    change(g.config)
    tmp = g.conf + ".tmp"
    with open(tmp, "w") as f:
        json.dump(g.config, f)
    os.rename(tmp, g.conf)


def burst(c, g, ng, what):
    """N sends at once after a warm-up; returns the new connections."""
    st, d = send(g, 0)
    c.ok("%s: a first send succeeds" % what,
         st == 200 and d.get("result") is True, d)
    a0 = ng.accepts()
    t0 = time.time()
    res = many(g, N)
    took = time.time() - t0
    new = ng.accepts() - a0 - 1
    bad = [r for r in res if r[0] != 200 or r[1].get("result") is not True]
    c.ok("%s: %d sends at once all succeed" % (what, N), not bad, bad[:2])
    if not SAN:
        c.ok("%s: ... at once (%.1f s, serial %.1f s)" % (what, took, N * 0.2),
             took < N * 0.2 * 0.5, took)
    return new


def http2(c, b, tmp):
    with SlowNginx(tmp) as ng, harness.Gateway(
            b, dict(gateway_config(ng), workers={"threads": N}),
            procs=1) as g:
        new = burst(c, g, ng, "http2")
        c.ok("http2: ... over the connection already open (%d new)" % new,
             0 <= new <= 1, new)
        rewrite(g, lambda cf: cf["upstream"].update(timeout_ms=15000))
        a0 = ng.accepts()
        st, d = send(g, 0)
        a1 = ng.accepts()
        st2, d2 = send(g, 1)
        a2 = ng.accepts()
        c.ok("reload: sends after timeout_ms changed succeed",
             st == 200 and d.get("result") is True and st2 == 200 and
             d2.get("result") is True, (d, d2))
        c.eq("reload: ... the first on a new connection", a1 - a0 - 1, 1)
        c.eq("reload: ... the next on that one", a2 - a1 - 1, 0)
        c.ok("reload: ... the process reloaded",
             ": reloaded" in g.app_log(), "")
        c.logs(g)


def http11(c, b, tmp):
    with SlowNginx(tmp, http2=False) as ng, harness.Gateway(
            b, dict(gateway_config(ng), workers={"threads": N}),
            procs=1) as g:
        new = burst(c, g, ng, "http1.1")
        c.ok("http1.1: ... one connection per call in flight (%d new)" % new,
             new > 1, new)
        c.logs(g)


def main():
    global N, SAN
    b = sys.argv[1]
    c = Checker()
    for need in ("/usr/sbin/nginx", ECHO):
        if not os.path.exists(need):
            print("skip t_multiplex: %s is not installed" % need)
            return 0
    if "san" in os.path.basename(os.path.abspath(b)):
        N, SAN = 4, True
    tmp = tempfile.mkdtemp(prefix="cmsi-e2e-mux-")
    os.chmod(tmp, 0o755)
    try:
        for part in (http2, http11):
            try:
                part(c, b, tmp)
            except Exception as e:  # a crash of the suite is a failure
                c.ok("%s ran" % part.__name__, False, repr(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
