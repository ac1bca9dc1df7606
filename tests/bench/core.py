#!/usr/bin/python3
"""Requests per second of an authenticated send_mail into the outbox
through lighttpd with 2 app processes, next to a bare FastCGI responder
behind the same lighttpd setup, in one run (issue 2).  Loopback only,
bounded by wrk's duration.

usage: core.py BUILDDIR [seconds]
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

BODY = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
        "bk_username": "admin", "receiver": "alice@example.com",
        "title": "Disk almost full", "content": "<p>" + "x" * 2000 + "</p>"}


def wrk(port, path, secs, tmp):
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = %s\n' % json.dumps(json.dumps(BODY)))
    out = subprocess.run(["wrk", "-t2", "-c8", "-d%ds" % secs, "-s", lua,
                          "http://127.0.0.1:%d%s" % (port, path)],
                         stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(m.group(1)) if m else 0.0, int(errs.group(1)) if errs else 0


def bare(builddir, secs, tmp):
    port = harness.free_port()
    base = os.path.join(tmp, "bare")
    os.makedirs(os.path.join(base, "htdocs"))
    os.makedirs(os.path.join(base, "tmp"))
    lc = open(os.path.join(harness.TOP, "conf/lighttpd.conf.in")).read()
    for k, v in (("@BASE@", base), ("@PORT@", str(port)), ("@PROCS@", "2"),
                 ("@BIN@", os.path.join(harness.TOP, builddir, "tests/bare_fcgi")),
                 ("@CONF@", "/dev/null"), ("@MAXREQ@", "8192")):
        lc = lc.replace(k, v)
    conf = os.path.join(base, "lighttpd.conf")
    open(conf, "w").write(lc)
    p = subprocess.Popen(["/usr/sbin/lighttpd", "-D", "-f", conf])
    try:
        harness.wait_port(port)
        return wrk(port, "/api/c/compapi/cmsi/send_mail/", secs, tmp)
    finally:
        p.terminate()
        p.wait()


def main():
    builddir = sys.argv[1]
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    tmp = tempfile.mkdtemp(prefix="cmsi-bench-")
    try:
        with harness.Gateway(builddir, procs=2) as g:
            app, app_err = wrk(g.port, "/api/c/compapi/v2/cmsi/send_mail/", secs, tmp)
            files = len(os.listdir(g.outbox))
        floor, floor_err = bare(builddir, secs, tmp)
        print("core: send_mail -> outbox, lighttpd, 2 procs: %.0f req/s "
              "(%d messages written, %d non-2xx)" % (app, files, app_err))
        print("core: bare FastCGI responder, lighttpd, 2 procs: %.0f req/s "
              "(%d non-2xx)" % (floor, floor_err))
        if floor:
            print("core: ratio %.2f" % (app / floor))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
