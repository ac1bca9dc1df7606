#!/usr/bin/python3
"""Requests per second of an authenticated send_mail into the outbox
under each installed front end (lighttpd, Apache + mod_fcgid, Apache +
mod_proxy_fcgi, nginx), each with the same number of app processes, in
one run (issue 9).  Loopback only; every load run is bounded by time.

Load comes from wrk (Debian's package) when installed, else from a small
threaded client here.  Each front end is measured at two client
concurrencies: 8, and the number of app processes (mod_fcgid does not
queue a request for a busy process: it sleeps a second and retries, so
it is only fair at or below its process count).  The outbox lives on
tmpfs where there is one, so the disk's writeback of one front end's
tens of thousands of messages does not slow the next; and the front
ends are measured twice, in one order and then in the reverse, so
neither position in the run favours one of them.

usage: frontends.py BUILDDIR [seconds] [procs]
CMSI_FRONTENDS=a,b restricts the front ends, as for the e2e suite.
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

PATH = "/api/c/compapi/v2/cmsi/send_mail/"
BODY = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
        "bk_username": "admin", "receiver": "alice@example.com",
        "title": "Disk almost full", "content": "<p>" + "x" * 2000 + "</p>"}


def wrk(port, secs, conc, tmp):
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = %s\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                % json.dumps(json.dumps(BODY)))
    out = subprocess.run(["wrk", "-t2", "-c%d" % conc, "-d%ds" % secs,
                          "--latency", "-s", lua,
                          "http://127.0.0.1:%d%s" % (port, PATH)],
                         stdout=subprocess.PIPE, text=True,
                         timeout=secs + 60).stdout

    def ms(label):
        m = re.search(r"^\s*%s\s+([0-9.]+)(us|ms|s)\b" % label, out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(rps.group(1)) if rps else 0.0,
            "p50": ms("50%"), "p99": ms("99%"),
            "bad": int(bad.group(1)) if bad else 0,
            "errors": errs.group(1) if errs else ""}


def pyload(port, secs, conc, tmp):
    """The fallback: conc threads, one keep-alive connection each."""
    body = json.dumps(BODY).encode()
    lat, bad = [], [0]
    lock = threading.Lock()
    end = time.time() + secs

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, nbad = [], 0
        while time.time() < end:
            t0 = time.time()
            try:
                conn.request("POST", PATH, body,
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    nbad += 1
            except (OSError, http.client.HTTPException):
                nbad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port,
                                                  timeout=30)
            mine.append(time.time() - t0)
        with lock:
            lat.extend(mine)
            bad[0] += nbad

    ts = [threading.Thread(target=worker) for _ in range(conc)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    lat.sort()
    n = len(lat)
    return {"rps": n / (time.time() - t0),
            "p50": lat[n // 2] * 1000 if n else float("nan"),
            "p99": lat[min(n - 1, n * 99 // 100)] * 1000 if n else float("nan"),
            "bad": bad[0], "errors": ""}


def main():
    builddir = sys.argv[1]
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    procs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    load = wrk if shutil.which("wrk") else pyload
    tmp = tempfile.mkdtemp(prefix="cmsi-bench-")
    shm = tempfile.mkdtemp(prefix="cmsi-bench-", dir="/dev/shm"
                           if os.path.isdir("/dev/shm") else None)
    # mod_fcgid's app runs as nobody and writes its state in here.
    os.chmod(shm, 0o755)
    fes = []
    for fe, missing in harness.frontends():
        if missing:
            print("frontends: skip %s: %s" % (fe, missing))
        else:
            fes.append(fe)
    res = {}
    try:
        for order in (fes, fes[::-1]):
            for fe in order:
                state = os.path.join(shm, fe)
                with harness.Gateway(builddir, {"state_dir": state},
                                     procs=procs, frontend=fe,
                                     maxbody=None) as g:
                    # Warm up: mod_fcgid starts its processes on demand.
                    load(g.port, 2, procs, tmp)
                    for conc in (8, procs):
                        res.setdefault((fe, conc), []).append(
                            load(g.port, secs, conc, tmp))
                shutil.rmtree(state, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)
    print("frontends: send_mail -> outbox, %d app processes, %d s per run, "
          "load from %s, outbox in %s; two rounds (order %s, then reversed)"
          % (procs, secs, load.__name__, os.path.dirname(shm), ",".join(fes)))
    for fe in fes:
        for conc in (8, procs):
            rs = res[(fe, conc)]
            print("frontends: %-13s c=%-2d %s req/s  p50 %s ms  p99 %s ms"
                  "  non-2xx %s%s" % (
                      fe, conc, " / ".join("%6.0f" % r["rps"] for r in rs),
                      " / ".join("%5.2f" % r["p50"] for r in rs),
                      " / ".join("%7.2f" % r["p99"] for r in rs),
                      "/".join(str(r["bad"]) for r in rs),
                      "".join("  socket errors: " + r["errors"]
                              for r in rs if r["errors"])))


if __name__ == "__main__":
    main()
