"""Small helpers for the scripted e2e suites (tests/e2e/t_*.py)."""
import json
import urllib.error
import urllib.request


def http(g, method, path, body=None, headers=None, timeout=30):
    """One request to the gateway g; returns (status, parsed JSON or {})."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (g.port, path),
                                 data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, st = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, st = e.read(), e.code
    try:
        return st, json.loads(raw)
    except ValueError:
        return st, {"_raw": raw.decode(errors="replace")}


class Checker:
    """Prints one ok/FAIL line per check; done() is the exit status."""

    def __init__(self):
        self.failed = 0

    def ok(self, name, cond, detail=""):
        if cond:
            print("ok   " + name)
        else:
            self.failed += 1
            print("FAIL %s %s" % (name, detail))

    def eq(self, name, got, want):
        self.ok(name, got == want, "got %r, want %r" % (got, want))

    def logs(self, g, secrets=()):
        err = g.check_logs(secrets)
        self.ok("logs clean (no sanitizer report, no secret)", err is None, err or "")

    def done(self):
        return 1 if self.failed else 0
