#!/usr/bin/python3
"""End-to-end suite: a real web server in front of the built cmsi.fcgi on
a free loopback port, fakes started as the cases need them, cases read
as data from tests/e2e/cases/*.json.  Every case file runs once per
front end (harness.FRONTENDS: lighttpd, Apache + mod_fcgid, Apache +
mod_proxy_fcgi, nginx) that is installed; CMSI_FRONTENDS=a,b restricts
them, and one that is not installed is a named, counted skip.  A case
file or a case may name its "frontends" when it truly depends on one.
Prints one line per case and ends with "N passed, N failed, N skipped"
(a t_*.py script's lines "skip NAME: WHY" are its skips); exits non-zero on any failure or sanitizer report.

usage: run.py BUILDDIR [CASEFILE...]
"""
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
import harness  # noqa: E402


def http(port, method, path, body=None, headers=None, timeout=30):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def subset(want, got, where="$"):
    """Every key of want is in got with an equal (or matching) value."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return "%s: expected an object, got %r" % (where, got)
        for k, v in want.items():
            if k.startswith("!"):
                if k[1:] in got:
                    return "%s: key %s must be absent" % (where, k[1:])
                continue
            if k not in got:
                return "%s: missing key %s" % (where, k)
            err = subset(v, got[k], where + "." + k)
            if err:
                return err
        return None
    if isinstance(want, str) and want.startswith("re:"):
        if not isinstance(got, str) or not re.search(want[3:], got):
            return "%s: %r does not match %s" % (where, got, want[3:])
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return "%s: expected %d items, got %d" % (where, len(want), len(got))
        for i, (a, b) in enumerate(zip(want, got)):
            err = subset(a, b, "%s[%d]" % (where, i))
            if err:
                return err
        return None
    if want != got or type(want) != type(got):
        return "%s: expected %r, got %r" % (where, want, got)
    return None


def exp_spools(case):
    return list(case.get("expect", {}).get("spool", {}).keys())


def spool_files(srv, name):
    d = os.path.join(srv.dir, name)
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def check_spool(srv, name, before, want):
    """A fake writes what it received as one file per message into
    <tempdir>/<name>/; this checks the files the case added."""
    d = os.path.join(srv.dir, name)
    new = sorted(spool_files(srv, name) - before)
    if "count" in want and len(new) != want["count"]:
        return "spool %s: %d new files, expected %d" % (name, len(new), want["count"])
    text = b"".join(open(os.path.join(d, n), "rb").read() for n in new)
    for needle in want.get("contains", []):
        if needle.encode() not in text:
            return "spool %s lacks %r in %r" % (name, needle, text[:600])
    for needle in want.get("lacks", []):
        if needle.encode() in text:
            return "spool %s holds %r" % (name, needle)
    return None


def build_request(case, defaults):
    method = case.get("method", "POST")
    path = case.get("path", defaults.get("path", "/api/c/compapi/cmsi/send_mail/"))
    headers = dict(case.get("headers", {}))
    body = None
    creds = case.get("creds", defaults.get("creds", {}))
    if "raw" in case:
        body = case["raw"].encode()
    elif "form" in case:
        params = dict(creds)
        params.update(case["form"])
        body = urllib.parse.urlencode(params).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif "query" in case or method == "GET":
        params = dict(creds)
        params.update(case.get("query", {}))
        path += "?" + urllib.parse.urlencode(params)
    if "json" in case:
        params = dict(creds)
        params.update(case["json"])
        body = json.dumps(params).encode()
    if "wx_sign" in case:
        path = wx_signed(path, case["wx_sign"])
    return method, path, body, headers


def wx_signed(path, ws):
    """The WeChat server URL signature made now: SHA-1 of the sorted
    token, timestamp and nonce.  ws: {"token", "nonce", "offset" (seconds
    from now), "bad" (a wrong signature)}."""
    ts = str(int(time.time()) + ws.get("offset", 0))
    nonce = ws.get("nonce", "123456")
    sig = hashlib.sha1("".join(sorted([ws["token"], ts, nonce])).encode()).hexdigest()
    if ws.get("bad"):
        sig = "5180a7596ed376ac919385a1f1f9f489c6af1cdf"
    q = urllib.parse.urlencode({"signature": sig, "timestamp": ts, "nonce": nonce})
    return path + ("&" if "?" in path else "?") + q


def run_case(srv, case, defaults):
    method, path, body, headers = build_request(case, defaults)
    if case.get("sleep"):
        time.sleep(case["sleep"])
    before = set(os.listdir(srv.outbox))
    spools = {name: spool_files(srv, name) for name in exp_spools(case)}
    status, raw, rh = http(srv.port, method, path, body, headers)
    exp = case.get("expect", {})
    if status != exp.get("status", 200):
        return "HTTP %d (expected %d): %s" % (status, exp.get("status", 200), raw[:200])
    try:
        doc = json.loads(raw)
    except ValueError:
        if "text" in exp and raw.decode(errors="replace") == exp["text"]:
            return None
        return "not JSON: %r" % raw[:200]
    if "json" in exp:
        err = subset(exp["json"], doc)
        if err:
            return err + " in " + raw.decode(errors="replace")[:400]
    if exp.get("request_id", status == 200 and "code" in doc):
        if not re.fullmatch(r"[0-9a-f]{32}", doc.get("request_id", "")):
            return "no 32-hex request_id in %s" % raw[:200]
    for name, want in exp.get("spool", {}).items():
        err = check_spool(srv, name, spools[name], want)
        if err:
            return err
    new = sorted(set(os.listdir(srv.outbox)) - before)
    new = [n for n in new if not n.startswith(".")]
    if "outbox" in exp:
        if len(new) != exp["outbox"].get("count", 1):
            return "outbox: %d new files (%s), expected %d" % (
                len(new), new, exp["outbox"].get("count", 1))
        text = b"".join(open(os.path.join(srv.outbox, n), "rb").read() for n in new)
        for needle in exp["outbox"].get("contains", []):
            if needle.encode() not in text:
                return "outbox lacks %r" % needle
        for needle in exp["outbox"].get("lacks", []):
            if needle.encode() in text:
                return "outbox holds %r" % needle
    elif new and not case.get("any_outbox"):
        return "unexpected outbox files %s" % new
    return None


def run_file(builddir, f, fe, tag):
    """Runs one case file behind front end fe; returns (passed, failed)."""
    spec = json.load(open(f))
    base = os.path.basename(f)
    passed = failed = 0
    if fe not in spec.get("frontends", [fe]):
        return 0, 0
    try:
        srv = harness.Gateway(builddir, spec.get("config"),
                              procs=spec.get("procs", 1),
                              fakes=spec.get("fakes", []), frontend=fe)
        srv.__enter__()
    except Exception as e:
        print("FAIL %s%s: could not start: %s" % (tag, base, e))
        return 0, 1
    try:
        defaults = spec.get("defaults", {})
        for case in spec["cases"]:
            if fe not in case.get("frontends", [fe]):
                continue
            name = "%s%s: %s" % (tag, base, case["name"])
            try:
                err = run_case(srv, case, defaults)
            except Exception as e:  # a crash of the suite is a failure
                err = "exception: %r" % (e,)
            if err is None:
                passed += 1
                print("ok   " + name)
            else:
                failed += 1
                print("FAIL " + name + ": " + err)
        err = srv.check_logs(spec.get("secrets", []))
        if err:
            failed += 1
            print("FAIL %s%s: logs: %s" % (tag, base, err))
        else:
            passed += 1
            print("ok   %s%s: logs clean (no sanitizer report, no secret)"
                  % (tag, base))
    finally:
        srv.__exit__(None, None, None)
    return passed, failed


# Expected seconds of the slowest units (measured on a 2-core machine,
# plain build; ASan roughly doubles them): the pool starts the longest
# first, so that one long script does not run alone at the end.  Only
# the order of starting depends on this, never what runs or what it
# prints.
COST = {"t_spool.py": 156, "t_console_tmpl.py": 77, "t_frontends.py": 74,
        "t_wechat.py": 70, "t_smtp.py": 68, "t_console_walk.py": 55,
        "t_hostile_upstreams.py": 46, "t_threads.py": 42, "t_redis.py": 40,
        "t_console_trust.py": 37, "t_console.py": 24, "t_console_ops.py": 21,
        "t_configcheck.py": 18, "t_contract.py": 17, "t_recipes.py": 17,
        "t_console_custom.py": 16, "t_hostile.py": 14, "t_losses.py": 13,
        "t_labels.py": 12, "t_qcloud.py": 11}


# Scripts that assert on latency or throughput (answers within a bound,
# N sends at once against an upstream timeout of a few seconds, parallel
# faster than serial): they run alone, after the pool, never beside
# another unit.  Beside three others on a loaded 2-core machine each of
# them failed once (t_multiplex, t_redis, t_threads, t_templates,
# t_wechat); alone they see what they saw in the sequential suite.
ALONE = {"t_multiplex.py", "t_redis.py", "t_threads.py", "t_templates.py",
         "t_wechat.py"}


class Unit:
    """One independent piece of the suite: a case file behind one front
    end, or one t_*.py script, against one build.  It runs as its own
    process with its output kept whole."""

    def __init__(self, build, label, argv, skips=True, timeout=900):
        self.build, self.label, self.argv = build, label, argv
        self.skips = skips
        self.timeout = timeout
        self.out = ""
        self.rc = None
        self.secs = 0.0
        self.timed_out = False

    def alone(self):
        return self.label in ALONE

    def cost(self):
        c = COST.get(self.label.split("] ")[-1], 5)
        return c * (2 if "asan" in self.build else 3 if "tsan" in self.build else 1)

    def run(self, slot, slots):
        """slot of slots: the share of the port space its free_port()
        draws from (harness.free_port), so concurrent units never hand
        out the same port."""
        env = dict(os.environ)
        env["CMSI_PORT_SLOT"] = "%d/%d" % (slot, slots)
        t0 = time.time()
        p = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        try:
            out, _ = p.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            # A hang: the whole process group (servers, fakes, browser)
            # goes, and the unit is one clear failure.
            self.timed_out = True
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(p.pid, sig)
                except OSError:
                    pass
                try:
                    out, _ = p.communicate(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    out = b""
        self.rc = p.returncode
        self.secs = time.time() - t0
        self.out = out.decode(errors="replace")

    def tally(self):
        """(passed, failed, skipped) and the lines to print."""
        lines = self.out.splitlines()
        ok = sum(1 for l in lines if l.startswith("ok"))
        bad = sum(1 for l in lines if l.startswith("FAIL"))
        sk = sum(1 for l in lines if l.startswith("skip ")) if self.skips else 0
        text = self.out
        if text and not text.endswith("\n"):
            text += "\n"
        if self.timed_out:
            bad += 1
            text += "FAIL %s: timed out after %d s (killed; its output is above)\n" % (
                self.label, self.timeout)
        elif self.rc != 0 and bad == 0:
            bad = 1
            text += "FAIL %s exited %d\n" % (self.label, self.rc)
        text += "time %6.1f s  %s%s\n" % (self.secs, self.label,
                                           "" if self.build is None else
                                           "  (%s)" % self.build)
        return ok, bad, sk, text


def jobs():
    """CHECK_JOBS, or the default: what measured best on 2 cores."""
    v = os.environ.get("CHECK_JOBS", "")
    if v.isdigit() and int(v) > 0:
        return int(v)
    return 4


def run_units(units, n):
    """Runs units on n workers, longest first, then the ALONE ones one
    at a time; yields them done, in their given order (so the output
    reads the same at any n)."""
    import queue
    import threading
    order = sorted(range(len(units)), key=lambda i: -units[i].cost())
    pool = queue.Queue()
    for i in order:
        if not units[i].alone():
            pool.put(i)
    done = [threading.Event() for _ in units]

    def one(i, slot, slots):
        try:
            units[i].run(slot, slots)
        except Exception as e:  # the runner's own trouble: a failure
            units[i].out += "FAIL %s: the runner: %r\n" % (units[i].label, e)
            units[i].rc = 1
        done[i].set()

    def worker(slot):
        while True:
            try:
                i = pool.get_nowait()
            except queue.Empty:
                return
            one(i, slot, n)

    def all_work():
        threads = [threading.Thread(target=worker, args=(s,), daemon=True)
                   for s in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in order:
            if units[i].alone():
                one(i, 0, 1)

    threading.Thread(target=all_work, daemon=True).start()
    for i, u in enumerate(units):
        done[i].wait()
        yield u


def main():
    args = sys.argv[1:]
    if args[:1] == ["--unit"]:
        # One case file behind one front end: run.py --unit FE BUILDDIR FILE
        fe, builddir, f = args[1:4]
        tag = "" if fe == "lighttpd" else "[%s] " % fe
        p, b = run_file(builddir, f, fe, tag)
        return 1 if b else 0
    tsan = None
    if args[:1] == ["--tsan"]:
        tsan = args[1]
        args = args[2:]
    # run.py BUILDDIR [CASEFILE...], or run.py --builds "B1 B2 ..." to
    # run every build's suite in one pool (check.sh: the plain and the
    # sanitizer builds overlap).
    multi = args[:1] == ["--builds"]
    if multi:
        builds = args[1].split()
        files = []
        scripts = True
    else:
        builds = [args[0]]
        files = args[1:]
        scripts = not files
    files = files or sorted(glob.glob(os.path.join(TOP, "tests/e2e/cases/*.json")))
    me = os.path.abspath(__file__)
    py = "/usr/bin/python3"
    units = []
    pre = {b: [] for b in builds}
    for b in builds:
        for fe, missing in harness.frontends():
            if missing:
                # Named and counted: "make deps" installs every front end,
                # so this is a machine that cannot run it at all.
                pre[b].append("skip front end %s (%d case files): %s" % (
                    fe, len(files), missing))
                continue
            tag = "" if fe == "lighttpd" else "[%s] " % fe
            for f in files:
                spec = json.load(open(f))
                if fe not in spec.get("frontends", [fe]):
                    continue
                units.append(Unit(b, tag + os.path.basename(f),
                                  [py, me, "--unit", fe, b, f], timeout=600))
        # Scripted suites: tests/e2e/t_*.py BUILDDIR, one "ok"/"FAIL"
        # line per check, non-zero exit on failure.
        if scripts:
            for script in sorted(glob.glob(os.path.join(TOP, "tests/e2e/t_*.py"))):
                units.append(Unit(b, os.path.basename(script),
                                  [py, script, b]))
    if tsan:
        # The concurrency suite under ThreadSanitizer: its ok and FAIL
        # lines count, as check.sh counted them.
        units.append(Unit(tsan, "t_threads.py",
                          [py, os.path.join(TOP, "tests/e2e/t_threads.py"), tsan],
                          skips=False))
    n = jobs()
    t0 = time.time()
    total = [0, 0, 0]
    per = {}
    cur = None
    for u in run_units(units, n):
        if u.build != cur:
            cur = u.build
            if cur == tsan and cur not in pre:
                print("== tsan %s (ThreadSanitizer: the concurrency suite)"
                      % cur, flush=True)
            elif multi:
                print("== e2e %s" % cur, flush=True)
            for line in pre.get(cur, []):
                print(line)
            if cur in pre:
                total[2] += len(pre[cur])
                per.setdefault(cur, [0, 0, 0])[2] += len(pre[cur])
        ok, bad, sk, text = u.tally()
        sys.stdout.write(text)
        sys.stdout.flush()
        for t, v in ((total, None), (per.setdefault(u.build, [0, 0, 0]), None)):
            t[0] += ok
            t[1] += bad
            t[2] += sk
    for b in builds:
        if b not in per:  # no unit at all: still its skips
            per[b] = [0, 0, len(pre[b])]
            total[2] += len(pre[b])
            for line in pre[b]:
                print(line)
    if len(per) > 1:
        for b, (p, f, s) in per.items():
            print("e2e %s: %d passed, %d failed, %d skipped" % (b, p, f, s))
    print("time %6.1f s  e2e wall, %d jobs (%d units)" % (time.time() - t0, n, len(units)))
    print("e2e: %d passed, %d failed, %d skipped" % tuple(total))
    return 1 if total[1] else 0


if __name__ == "__main__":
    import urllib.parse  # noqa: F401
    sys.exit(main())
