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


def main():
    builddir = sys.argv[1]
    files = sys.argv[2:] or sorted(glob.glob(os.path.join(TOP, "tests/e2e/cases/*.json")))
    passed = failed = skipped = 0
    for fe, missing in harness.frontends():
        if missing:
            # Named and counted: "make deps" installs every front end,
            # so this is a machine that cannot run it at all.
            print("skip front end %s (%d case files): %s" % (
                fe, len(files), missing))
            skipped += 1
            continue
        tag = "" if fe == "lighttpd" else "[%s] " % fe
        for f in files:
            p, b = run_file(builddir, f, fe, tag)
            passed += p
            failed += b
    # Scripted suites: tests/e2e/t_*.py BUILDDIR, one "ok"/"FAIL" line per
    # check, non-zero exit on failure.
    if len(sys.argv) == 2:
        for script in sorted(glob.glob(os.path.join(TOP, "tests/e2e/t_*.py"))):
            p = subprocess.run(["/usr/bin/python3", script, builddir],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=900)
            out = p.stdout.decode(errors="replace")
            sys.stdout.write(out)
            ok = sum(1 for l in out.splitlines() if l.startswith("ok"))
            bad = sum(1 for l in out.splitlines() if l.startswith("FAIL"))
            skipped += sum(1 for l in out.splitlines()
                           if l.startswith("skip "))
            if p.returncode != 0 and bad == 0:
                bad = 1
                print("FAIL %s exited %d" % (os.path.basename(script), p.returncode))
            passed += ok
            failed += bad
    print("e2e: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    import urllib.parse  # noqa: F401
    sys.exit(main())
