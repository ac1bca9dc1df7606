#!/usr/bin/python3
"""A slow upstream must never make the gateway the limit (issue 31).

The WeCom stand-in is Debian's nginx with libnginx-mod-http-echo: HTTPS
with a certificate from a throwaway CA (tests/fakes/pki.py), gettoken
answered at once, message/send answered after 200 ms by echo_sleep (a
timer, so nginx keeps up by itself with thousands waiting).  For each
callers count C (64 and 256) wrk -t2 -cC posts for SECONDS:

  straight            to the stand-in's message/send itself (the most
                      any gateway could pass on: C / 200 ms);
  make run            send_weixin through lighttpd rendered from
                      conf/lighttpd.conf.in as conf/run.sh renders it
                      (2 processes on the API mount);
  conf/lighttpd.conf  through the shipped production snippet as it is
                      (its max-procs), inside a minimal lighttpd.conf;
  nginx               through the shipped conf/nginx.conf, the app under
                      spawn-fcgi + multiwatch, 2 processes;
  apache-fcgid        through the shipped conf/apache-fcgid.conf as it
                      is (its MaxProcesses; mod_fcgid gives a process one
                      request at a time), Apache's event MPM as the
                      harness runs it (64 threads);
  make run, HTTP/1.1  make run again, against a second stand-in that
                      offers no HTTP/2: one connection per call in flight
                      (each ~4 MiB with libcurl-gnutls), to show what
                      HTTP/2 multiplexing saves.

The stand-in offers HTTP/2 (ALPN) like the real WeCom and Tencent Cloud
endpoints: the gateway's one multi handle per process then carries all
its calls in flight on one or a few connections.  wrk itself speaks
HTTP/1.1 (straight rows).

Each row: req/s, the ratio to straight, non-2xx, socket errors, the
upstream connections the gateway opened for that C (nginx's stub_status
accepts, warm-up included), and the private memory (Private_Dirty of
/proc/PID/smaps_rollup) of all the app's processes after the run,
summed, with how many there were.  A row
is valid only with 0 non-2xx and 0 socket errors and an answer taken
aside first that says result true.

usage: slow.py BUILDDIR [SECONDS]
CMSI_FRONTENDS=a,b restricts the front ends (make-run, lighttpd, nginx,
apache-fcgid).
"""
import contextlib
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
for d in ("tests", "tests/e2e", "tests/fakes", "tests/bench"):
    sys.path.insert(0, os.path.join(TOP, d))
import harness  # noqa: E402
import pki  # noqa: E402
from pipeline import (SEND_OK, TOKEN_OK, WECOM, WX_BODY,  # noqa: E402
                      lua_script, parse_wrk)

ECHO = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
DELAY_S = 0.2
CALLERS = (64, 256)
PATH = "/api/c/compapi/cmsi/send_weixin/"


class SlowNginx:
    """nginx answering message/send after DELAY_S, over HTTPS."""

    def __init__(self, tmp, http2=True):
        self.http2 = http2
        self.dir = os.path.join(tmp, "slow-nginx" + ("" if http2 else "-h1"))
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.port = harness.free_port()
        self.ca = os.path.join(self.dir, "ca.pem")
        self.proc = None

    def __enter__(self):
        cert, key = pki.make_leaf(self.dir, ["qyapi.weixin.qq.com",
                                             "127.0.0.1"])
        d = self.dir
        temps = "".join("    %s_temp_path %s/%s;\n" % (t, d, t) for t in
                        ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = """load_module %s;
worker_processes 1;
worker_rlimit_nofile 8192;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 4096; }
http {
%s    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    default_type application/json;
    server {
        listen 127.0.0.1:%d ssl%s backlog=4096;
        ssl_certificate %s;
        ssl_certificate_key %s;
        location = /cgi-bin/gettoken { return 200 '%s'; }
        location = /cgi-bin/message/send {
            echo_read_request_body;
            echo_sleep %s;
            echo '%s';
        }
        location = /nginx_status { stub_status; }
        location / { return 404; }
    }
}
""" % (ECHO, d, d, temps, self.port, " http2" if self.http2 else "",
            cert, key, json.dumps(TOKEN_OK),
            DELAY_S, json.dumps(SEND_OK))
        path = os.path.join(d, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(
            ["/usr/sbin/nginx", "-p", d, "-c", path, "-e",
             os.path.join(d, "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if not harness.wait_port(self.port):
            self.__exit__()
            raise RuntimeError("nginx did not start: " + open(
                os.path.join(d, "error.log")).read())
        return self

    def accepts(self):
        """Connections nginx has accepted so far (stub_status), this
        reading's own included."""
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.check_hostname = False
        with urllib.request.urlopen("https://127.0.0.1:%d/nginx_status" %
                                    self.port, context=ctx, timeout=10) as r:
            m = re.search(r"\n\s*(\d+)\s+\d+\s+\d+", r.read().decode())
        return int(m.group(1)) if m else -1

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return False


def gateway_config(ng):
    return {"upstream": {"ca_file": ng.ca, "timeout_ms": 10000,
                         "connect_to": ["qyapi.weixin.qq.com:443:127.0.0.1:%d"
                                        % ng.port]},
            "components": {"send_weixin": WECOM}}


class ShippedLighttpd(harness.Gateway):
    """conf/lighttpd.conf as shipped (its max-procs), inside a minimal
    main config: the production snippet, not make run's template."""

    def start_lighttpd(self):
        snippet = harness.render_snippet("lighttpd.conf", [
            ("/usr/local/libexec/cmsi/cmsi.fcgi", self.bin),
            ("/run/lighttpd/cmsi.sock", os.path.join(self.dir, "cmsi.sock")),
            ("/etc/cmsi/cmsi.json", self.conf),
            ('"bin-copy-environment" => ( "PATH" ),',
             '"bin-copy-environment" => ( "PATH", "ASAN_OPTIONS", '
             '"UBSAN_OPTIONS", "TSAN_OPTIONS" ),'),
        ])
        d = self.dir
        with open(os.path.join(d, "lighttpd.conf"), "w") as f:
            f.write("""server.bind = "127.0.0.1"
server.port = %d
server.document-root = "%s/htdocs"
server.errorlog = "%s/error.log"
server.breakagelog = "%s/app.log"
server.pid-file = "%s/lighttpd.pid"
server.upload-dirs = ( "%s/tmp" )
server.max-fds = 8192
%s
""" % (self.port, d, d, d, d, d, snippet))
        self.server = subprocess.Popen(
            ["/usr/sbin/lighttpd", "-D", "-f", os.path.join(d,
                                                            "lighttpd.conf")],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.envp)


def private_kb(pids):
    tot = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Private_Dirty:"):
                        tot += int(line.split()[1])
        except OSError:
            pass
    return tot


def wrk(url, secs, conns, script):
    argv = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % secs, "--timeout", "10s"]
    if script:
        argv += ["-s", script]
    out = subprocess.run(argv + [url], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True,
                         timeout=secs + 60).stdout
    r = parse_wrk(out)
    m = re.search(r"Latency\s+([0-9.]+)(us|ms|s)", out)
    r["lat_ms"] = (float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}
                   [m.group(2)]) if m else float("nan")
    return r


def spot(port):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, PATH),
                                 data=WX_BODY, method="POST", headers={
                                     "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except Exception as e:  # noqa: BLE001 - the row says why
        return {"error": repr(e)}


def main():
    builddir = sys.argv[1]
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    for need in ("/usr/sbin/nginx", "/usr/bin/wrk", ECHO):
        if not os.path.exists(need):
            print("slow: %s is not installed, nothing measured" % need)
            return 0
    want = os.environ.get("CMSI_FRONTENDS")
    fronts = [("make run", "lighttpd", harness.Gateway, 2),
              ("conf/lighttpd.conf", "lighttpd", ShippedLighttpd, None),
              ("nginx", "nginx", harness.Gateway, 2),
              ("apache-fcgid", "apache-fcgid", harness.Gateway, None),
              ("make run, HTTP/1.1", "lighttpd", harness.Gateway, 2)]
    if want:
        keep = want.split(",")
        fronts = [f for f in fronts if f[1] in keep or
                  f[0].replace(" ", "-") in keep or
                  (f[0] == "conf/lighttpd.conf" and "lighttpd" in keep)]
    tmp = tempfile.mkdtemp(prefix="cmsi-bench-slow-")
    # mod_fcgid's app runs as nobody and reads the stand-in's CA here.
    os.chmod(tmp, 0o755)
    res = []
    try:
        with SlowNginx(tmp) as ng2, SlowNginx(tmp, http2=False) as ng1:
            ng = ng2
            script = lua_script(tmp, "wx", WX_BODY)
            straight = "https://127.0.0.1:%d/cgi-bin/message/send?" \
                "access_token=x" % ng.port
            base = {c: wrk(straight, secs, c, script) for c in CALLERS}
            for name, fe, cls, procs in fronts:
                ng = ng1 if name.endswith("HTTP/1.1") else ng2
                missing = harness.frontend_missing(fe)
                if missing:
                    res.append((name, None, "skip: " + missing))
                    continue
                kw = {"frontend": fe}
                if procs is not None:
                    kw["procs"] = procs
                if fe == "apache-fcgid":
                    kw.update(procs=None, maxbody=None)
                try:
                    with contextlib.ExitStack() as st:
                        if fe == "apache-fcgid":
                            g = st.enter_context(FcgidShipped(
                                builddir, gateway_config(ng), **{
                                    k: v for k, v in kw.items()
                                    if k != "procs"}))
                        else:
                            g = st.enter_context(cls(
                                builddir, gateway_config(ng), **kw))
                        doc = spot(g.port)
                        url = "http://127.0.0.1:%d%s" % (g.port, PATH)
                        # Warm up: processes, the token.  Few callers:
                        # what a slow gateway leaves queued in the web
                        # server would count against the next run.
                        wrk(url, 2, 8, script)
                        out = {}
                        for c in CALLERS:
                            a0 = ng.accepts()
                            # Then C callers for a while: each thread's
                            # first call opens its TLS connection.
                            wrk(url, 3, c, script)
                            r = wrk(url, secs, c, script)
                            pids = g.app_processes()
                            r["mem_kb"] = private_kb(pids)
                            r["nprocs"] = len(pids)
                            # The upstream connections the gateway opened
                            # in the warm-up and the run (less the two
                            # readings' own).
                            r["conns"] = ng.accepts() - a0 - 1
                            out[c] = r
                        res.append((name, out, doc))
                except Exception as e:  # noqa: BLE001 - a row says why
                    res.append((name, None, "failed: %r" % e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("slow upstream (issue 31): WeCom message/send answered after %d ms "
          "by nginx + echo_sleep over HTTPS; wrk -t2 -cC -d%ds --timeout "
          "10s; build %s" % (DELAY_S * 1000, secs, builddir))
    print("%-20s %5s %9s %6s %8s %7s %9s %6s %11s %6s" % (
        "row", "C", "req/s", "ratio", "non-2xx", "errors", "mean ms",
        "procs", "private MiB", "conns"))
    for c in CALLERS:
        b = base[c]
        print("%-20s %5d %9.0f %6s %8d %7d %9.1f %6s %11s" % (
            "straight", c, b["rps"], "1.00", b["non2xx"], b["errors"],
            b["lat_ms"], "-", "-"))
    for name, out, doc in res:
        if out is None:
            print("%-20s %s" % (name, doc))
            continue
        for c in CALLERS:
            r = out[c]
            bad = []
            if r["non2xx"] or r["errors"]:
                bad.append("non-2xx or socket errors")
            if not isinstance(doc, dict) or doc.get("result") is not True:
                bad.append("the answer taken aside: %s" % json.dumps(doc)[:200])
            print("%-20s %5d %9.0f %6.2f %8d %7d %9.1f %6d %11.1f %6d%s" % (
                name, c, r["rps"], r["rps"] / base[c]["rps"]
                if base[c]["rps"] else 0.0, r["non2xx"], r["errors"],
                r["lat_ms"], r["nprocs"], r["mem_kb"] / 1024.0, r["conns"],
                "  INVALID: " + "; ".join(bad) if bad else ""))
    return 0


class FcgidShipped(harness.Gateway):
    """conf/apache-fcgid.conf with its own MaxProcesses/MinProcesses (the
    harness otherwise sets them to procs)."""

    def __init__(self, builddir, config=None, **kw):
        super().__init__(builddir, config, procs=1, **kw)

    def start_apache(self):
        orig = harness.render_snippet
        shipped = open(os.path.join(TOP, "conf", "apache-fcgid.conf")).read()
        mx = re.search(r"MaxProcesses (\d+)", shipped)
        mn = re.search(r"MinProcesses (\d+)", shipped)

        def render(name, subst):
            keep = []
            for old, new in subst:
                pat = getattr(old, "pattern", "")
                if pat.startswith("MaxProcesses") and mx:
                    old, new = mx.group(0), mx.group(0)
                if pat.startswith("MinProcesses") and mn:
                    old, new = mn.group(0), mn.group(0)
                keep.append((old, new))
            return orig(name, keep)
        harness.render_snippet = render
        try:
            super().start_apache()
        finally:
            harness.render_snippet = orig


if __name__ == "__main__":
    sys.exit(main())
