#!/usr/bin/python3
"""make run twice from one checkout (conf/run.sh, what make run calls),
on two ports with two configs: each keeps its own runtime files
(var/run/<port>/) and answers with its own config; a second one on a
port already in use is refused before it touches the first one's
files (issue 32 row 17)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker  # noqa: E402


def config(d, name):
    doc = {"schemas_dir": os.path.join(harness.TOP, "conf/schemas"),
           "templates_dir": os.path.join(harness.TOP, "templates"),
           "state_dir": os.path.join(d, "state-" + name),
           "apps": {name: {"secret": name + "-secret", "skip_user_auth": True}}}
    p = os.path.join(d, name + ".json")
    with open(p, "w") as f:
        json.dump(doc, f)
    return p


def get(port, app):
    url = ("http://127.0.0.1:%d/api/c/compapi/cmsi/get_msg_type/?bk_app_code=%s"
           "&bk_app_secret=%s-secret&bk_username=admin" % (port, app, app))
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        return {"error": str(e)}


def start(build, port, conf, log):
    return subprocess.Popen(["sh", "conf/run.sh", build, str(port), conf], cwd=harness.TOP,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(p):
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except OSError:
        pass
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def main():
    c = Checker()
    b = sys.argv[1]
    if harness.frontend_missing("lighttpd"):
        print("skip make run twice: " + harness.frontend_missing("lighttpd"))
        return 0
    d = tempfile.mkdtemp(prefix="cmsi-mr-")
    procs = []
    ports = [harness.free_port(), harness.free_port()]
    try:
        logs = [open(os.path.join(d, "run-%d.out" % i), "wb") for i in range(3)]
        for i, name in enumerate(["one", "two"]):
            procs.append(start(b, ports[i], config(d, name), logs[i]))
        for i in range(2):
            c.ok("make run %d listens on its port" % (i + 1), harness.wait_port(ports[i], 30),
                 open(os.path.join(d, "run-%d.out" % i)).read()[-500:])
        mine = [0, 0]
        theirs = [0, 0]
        for _ in range(10):
            for i, (name, other) in enumerate([("one", "two"), ("two", "one")]):
                if get(ports[i], name).get("result") is True:
                    mine[i] += 1
                if get(ports[i], other).get("result") is True:
                    theirs[i] += 1
        for i in range(2):
            c.ok("row 17: instance %d answers with its own config (20 of 20)" % (i + 1),
                 mine[i] == 10 and theirs[i] == 0, "own %d/10, the other's app taken %d"
                 % (mine[i], theirs[i]))
        for i in range(2):
            base = os.path.join(harness.TOP, "var/run/%d" % ports[i])
            c.ok("row 17: instance %d's runtime files are under var/run/<port>/" % (i + 1),
                 os.path.exists(os.path.join(base, "lighttpd.conf")) and
                 os.path.exists(os.path.join(base, "cmsi.sock-0")), base)
        # A third on the first one's port: refused, the first unharmed.
        conf3 = config(d, "three")
        p3 = start(b, ports[0], conf3, logs[2])
        try:
            rc = p3.wait(30)
        except subprocess.TimeoutExpired:
            rc = None
        stop(p3)
        out = open(os.path.join(d, "run-2.out")).read()
        c.ok("row 17: a second make run on a port in use is refused, saying why",
             rc == 1 and "running already" in out, "rc %r: %s" % (rc, out[-300:]))
        try:
            with open(os.path.join(harness.TOP, "var/run/%d/lighttpd.conf" % ports[0])) as f:
                first = f.read()
        except OSError as e:
            first = str(e)
        c.ok("row 17: ... and the first one's lighttpd.conf is untouched",
             conf3 not in first and "one.json" in first, first[-200:])
        c.ok("row 17: the first one still answers with its own config",
             get(ports[0], "one").get("result") is True and
             get(ports[0], "three").get("result") is not True, "")
    finally:
        for p in procs:
            stop(p)
        for port in ports:
            shutil.rmtree(os.path.join(harness.TOP, "var/run/%d" % port), ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
