#!/usr/bin/python3
"""/metrics and /healthz: counters shared by 4 worker processes equal
the requests sent, also across a worker killed in the middle; the
output passes Debian's promtool; /healthz turns 503 naming the problem
when an audit record cannot be written; both refuse a client that is
not loopback unless metrics.allow or metrics.token let it in; neither
holds a recipient or a secret."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, cgi, fcgi, http  # noqa: E402
from t_contract import App  # noqa: E402

MAIL = "/api/c/compapi/cmsi/send_mail/"
CREDS = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
         "bk_username": "admin"}


def counter(text, name, **labels):
    """The value of one sample, 0 when it is absent."""
    want = ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'(\w+)(?:\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return 0


def send(g, n, secret="demo-secret"):
    ok = 0
    for i in range(n):
        st, doc = http(g, "POST", MAIL, json.dumps(dict(
            CREDS, bk_app_secret=secret, receiver="secret-person@example.com",
            title="t", content="c")).encode())
        ok += st == 200 and doc.get("result") is True
    return ok


def main():
    c = Checker()
    build = sys.argv[1]
    with harness.Gateway(build, {}, procs=4) as g:
        st = http(g, "GET", "/healthz")[0]
        c.eq("healthz: 200 on a good setup", st, 200)
        sent = send(g, 40)
        bad = 10 - send(g, 10, secret="wrong")
        pids = g.app_processes()
        c.ok("workers to kill one of", len(pids) >= 4, repr(pids))
        os.kill(pids[0], signal.SIGKILL)
        sent += send(g, 40)
        req = urllib_get(g, "/metrics")
        c.eq("requests counted across 4 workers and a killed one",
             counter(req, "cmsi_requests_total", component="send_mail",
                     dialect="esb", code="0"), sent)
        c.eq("refused requests counted by their code",
             counter(req, "cmsi_requests_total", component="send_mail",
                     dialect="esb", code="1306000"), 10)
        c.eq("deliveries counted", counter(req, "cmsi_deliveries_total",
                                           component="send_mail", outcome="sent"),
             sent)
        c.ok("no recipient, no secret in /metrics",
             "secret-person" not in req and "demo-secret" not in req, req[:300])
        path = os.path.join(g.dir, "metrics.txt")
        open(path, "w").write(req)
        p = subprocess.run(["promtool", "check", "metrics"], stdin=open(path),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        c.ok("promtool check metrics passes", p.returncode == 0,
             p.stdout.decode(errors="replace")[:500])
        print("     %d sent, %d refused, /metrics is %d bytes" % (sent, bad, len(req)))
        # An audit log that cannot be written: counted, and unhealthy.
        audit = os.path.join(g.config["state_dir"], "audit.log")
        if os.path.exists(audit):
            os.unlink(audit)
        os.mkdir(audit)
        send(g, 1)
        st, doc = http(g, "GET", "/healthz")
        c.ok("healthz: 503 naming the audit log", st == 503 and
             "audit record could not be written" in doc.get("problem", ""),
             "%d %r" % (st, doc))
        c.ok("audit failure counted", counter(urllib_get(g, "/metrics"),
                                              "cmsi_audit_failures_total") >= 1)
        os.rmdir(audit)
    c.logs(g, ["demo-secret"])

    # Not loopback: refused unless allowed or holding the token.
    app = App(build, {"metrics": {"allow": ["10.9.0.0/16"],
                                  "token": "scrape-SECRET"}})
    try:
        for addr, hdr, want in (("192.0.2.7", {}, 403),
                                ("10.9.3.4", {}, 200),
                                ("192.0.2.7", {"HTTP_AUTHORIZATION":
                                               "Bearer scrape-SECRET"}, 200),
                                ("192.0.2.7", {"HTTP_AUTHORIZATION":
                                               "Bearer scrape-SECRE"}, 403),
                                ("::1", {}, 200)):
            for path in ("/metrics", "/healthz"):
                st, _, _ = fcgi(app.addr, cgi("GET", path, None,
                                              REMOTE_ADDR=addr, **hdr))
                c.eq("%s from %s %s: %d" % (path, addr, "with token" if hdr
                                              else "", want), st, want)
    finally:
        log = app.log()
        app.close()
    c.ok("the token is never logged", b"scrape-SECRET" not in log)
    tmp = harness.tempfile.mkdtemp(prefix="cmsi-metrics-")
    conf = os.path.join(tmp, "c.json")
    cfg = dict(harness.DEFAULT_CONFIG, state_dir=os.path.join(tmp, "s"),
               schemas_dir=os.path.join(harness.TOP, "conf/schemas"),
               templates_dir=os.path.join(harness.TOP, "templates"),
               metrics={"allow": ["10.0.0.0/33", "nonsense"]})
    json.dump(cfg, open(conf, "w"))
    p = subprocess.run([os.path.join(harness.TOP, build, "cmsi.fcgi"), "-t", "-c",
                        conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode(errors="replace")
    c.ok("-t refuses a bad CIDR", p.returncode != 0 and
         "metrics.allow: 10.0.0.0/33 is no CIDR" in out and
         "metrics.allow: nonsense is no CIDR" in out, out)
    shutil.rmtree(tmp, ignore_errors=True)
    return c.done()


def urllib_get(g, path):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (g.port, path),
                                timeout=30) as r:
        return r.read().decode()


if __name__ == "__main__":
    sys.exit(main())
