#!/usr/bin/python3
"""Deployment checks behind each installed front end (issue 9):

- the shipped snippets' body limits agree with the app's max_body: a
  6 MiB body goes through (mod_fcgid's 128 KiB default would not), a
  9 MiB one gets the web server's own 413;
- no request is lost when the app gets SIGTERM, or the web server its
  graceful stop, while a request is in flight (a send_mail forwarded to
  a dest_url that answers slowly);
- the ways of starting the app behind nginx: spawn-fcgi -F 2,
  spawn-fcgi + multiwatch, the app's own -s unix:PATH, systemd socket
  activation (LISTEN_FDS);
- -s 127.0.0.1:PORT speaks FastCGI, -s :PORT is refused, the app's own
  Unix socket is mode 0660;
- the shipped conf/lighttpd.conf (not only the test template) serves;
- the systemd units pass systemd-analyze verify, where it can run.

usage: t_frontends.py BUILDDIR
"""
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, fcgi_answer, fcgi_begin, fcgi_rec  # noqa: E402

PATH = "/api/c/compapi/v2/cmsi/send_mail/"
CREDS = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
         "bk_username": "admin"}
MAIL = dict(CREDS, receiver="a@example.com", title="t", content="c")


def post(port, doc=None, raw=None, timeout=30):
    """POST to the gateway; (status, parsed JSON or {"_raw": text})."""
    body = raw if raw is not None else json.dumps(doc).encode()
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, PATH),
                                 data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            st, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        st, text = e.code, e.read()
    except (OSError, http.client.HTTPException) as e:
        return 0, {"_raw": repr(e)}
    try:
        return st, json.loads(text)
    except ValueError:
        return st, {"_raw": text.decode(errors="replace")[:200]}


def padded(size):
    """An authenticated send_mail whose body is size bytes: ESB ignores
    parameters it does not know, so the padding rides in one."""
    doc = dict(MAIL, pad="")
    doc["pad"] = "x" * (size - len(json.dumps(doc).encode()))
    raw = json.dumps(doc).encode()
    assert len(raw) == size
    return raw


class Slow:
    """A dest_url third party that answers after `delay` seconds; `got`
    is set when a request has arrived.  Loopback only; shut down by the
    caller."""

    def __init__(self, delay=1.5):
        self.got = threading.Event()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.got.set()
                time.sleep(delay)
                body = json.dumps({"result": True, "code": 0,
                                   "message": "slow ok", "data": None}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def in_flight(g, slow, act):
    """Sends a send_mail that waits on the slow dest_url, calls act()
    once the app is inside it, and returns the answer."""
    out = {}

    def send():
        out["r"] = post(g.port, MAIL)

    slow.got.clear()
    t = threading.Thread(target=send)
    t.start()
    if not slow.got.wait(10):
        t.join(30)
        return out.get("r", (0, {"_raw": "dest_url never called"}))
    act()
    t.join(30)
    return out.get("r", (0, {"_raw": "no answer"}))


def wait_log(g, needle, secs=10):
    end = time.time() + secs
    while time.time() < end:
        if needle in g.app_log():
            return True
        time.sleep(0.05)
    return False


def chunked(port, raw, timeout=60):
    """POST raw with Transfer-Encoding: chunked (no Content-Length)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", PATH, body=iter([raw[i:i + 65536] for i in
                                              range(0, len(raw), 65536)]),
                     encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        st, text = r.status, r.read()
    except (OSError, http.client.HTTPException) as e:
        return 0, {"_raw": repr(e)}
    finally:
        conn.close()
    try:
        return st, json.loads(text)
    except ValueError:
        return st, {"_raw": text.decode(errors="replace")[:200]}


# Who answers a chunked body over the limit: lighttpd and nginx buffer
# it and answer 413; Apache spools it for mod_proxy_fcgi (proxy-sendcl)
# and the app answers its JSON 413; mod_fcgid stops reading at
# FcgidMaxRequestLen and answers 500.
CHUNKED_OVER = {"lighttpd": 413, "nginx": 413, "apache-proxy": 413,
                "apache-fcgid": 500}


def limits(c, build, fe):
    with harness.Gateway(build, frontend=fe, maxbody=None) as g:
        st, doc = post(g.port, raw=padded(6 * 1024 * 1024), timeout=60)
        c.ok("[%s] 6 MiB body passes the shipped limits" % fe,
             st == 200 and doc.get("result") is True, "%d %r" % (st, doc))
        st, doc = post(g.port, raw=padded(9 * 1024 * 1024), timeout=60)
        # Over the limit the web server answers itself: its own page,
        # not the app's JSON (which the e2e cases check with a higher
        # front-end limit).
        c.ok("[%s] 9 MiB body: the server's own 413" % fe,
             st == 413 and "result" not in doc, "%d %r" % (st, doc))
        st, doc = chunked(g.port, padded(6 * 1024 * 1024))
        c.ok("[%s] 6 MiB chunked body arrives whole" % fe,
             st == 200 and doc.get("result") is True, "%d %r" % (st, doc))
        st, doc = chunked(g.port, padded(9 * 1024 * 1024))
        c.eq("[%s] 9 MiB chunked body refused" % fe, st, CHUNKED_OVER[fe])
        st, doc = post(g.port, MAIL)
        c.ok("[%s] still serving after the 413" % fe, st == 200 and
             doc.get("result") is True, "%d %r" % (st, doc))
        c.logs(g)


# What each server takes as "reload": lighttpd and Apache restart
# gracefully (and with them the apps they spawned), nginx re-reads.
RELOAD = {"lighttpd": signal.SIGUSR1, "apache-fcgid": signal.SIGUSR1,
          "apache-proxy": signal.SIGUSR1, "nginx": signal.SIGHUP}


def graceful(c, build, fe, slow):
    cfg = {"components": {"send_mail": {
        "delivery": None, "dest_url": "http://127.0.0.1:%d/slow" % slow.port}}}
    with harness.Gateway(build, cfg, frontend=fe) as g:
        st, doc = post(g.port, MAIL)
        pids = g.app_processes()
        c.ok("[%s] app running" % fe, st == 200 and pids, "%d %r %r" % (
            st, doc, pids))

        def term():
            for pid in pids:
                os.kill(pid, signal.SIGTERM)

        st, doc = in_flight(g, slow, term)
        c.ok("[%s] SIGTERM to the app mid-request: answered" % fe,
             st == 200 and doc.get("message") == "slow ok",
             "%d %r" % (st, doc))
        c.ok("[%s] the app then exits cleanly" % fe,
             wait_log(g, "clean exit"), g.app_log()[-400:])
        # lighttpd, mod_fcgid and multiwatch start a new one.
        end = time.time() + 10
        st, doc = 0, {}
        while time.time() < end and not (st == 200 and doc.get("result")):
            st, doc = post(g.port, MAIL)
            time.sleep(0.2)
        c.ok("[%s] a new app process serves" % fe, st == 200 and
             doc.get("message") == "slow ok", "%d %r" % (st, doc))
        # A reload (what `systemctl reload` sends) while a request is in
        # flight: the request is answered, the server serves on.
        st, doc = in_flight(g, slow, lambda: g.server.send_signal(
            RELOAD[fe]))
        c.ok("[%s] reload mid-request: answered" % fe,
             st == 200 and doc.get("message") == "slow ok",
             "%d %r" % (st, doc))
        end = time.time() + 10
        st, doc = 0, {}
        while time.time() < end and not (st == 200 and doc.get("result")):
            st, doc = post(g.port, MAIL)
            time.sleep(0.2)
        c.ok("[%s] serving after the reload" % fe, st == 200 and
             doc.get("message") == "slow ok", "%d %r" % (st, doc))
        st, doc = in_flight(g, slow, lambda: g.server.send_signal(
            g.server_stop_signal()))
        c.ok("[%s] graceful stop of the server mid-request: answered" % fe,
             st == 200 and doc.get("message") == "slow ok",
             "%d %r" % (st, doc))
        c.logs(g)


def launchers(c, build):
    for launcher, procs in (("spawn-fcgi", 2), ("multiwatch", 2),
                            ("self", 1), ("systemd", 1)):
        if launcher == "multiwatch" and not os.path.exists("/usr/bin/multiwatch"):
            print("skip launcher multiwatch: not installed")
            continue
        if launcher == "systemd" and not shutil.which("systemd-socket-activate"):
            print("skip launcher systemd: no systemd-socket-activate")
            continue
        name = "[nginx, %s x%d]" % (launcher, procs)
        try:
            with harness.Gateway(build, frontend="nginx", launcher=launcher,
                                 procs=procs) as g:
                res = [post(g.port, MAIL) for _ in range(4)]
                c.ok(name + " serves", all(st == 200 and d.get("result")
                                           for st, d in res), repr(res[-1]))
                if launcher == "self":
                    mode = stat.S_IMODE(os.stat(g.sock).st_mode)
                    c.eq(name + " socket mode", oct(mode), "0o660")
                if launcher == "systemd":
                    # Started on the first connection with the socket as
                    # fd 3 (LISTEN_FDS=1): the app moved it to fd 0,
                    # where FastCGI accepts, and closed fd 3.
                    pids = g.app_processes()
                    fds = {}
                    for fd in ("0", "3"):
                        try:
                            fds[fd] = os.readlink("/proc/%d/fd/%s" % (
                                pids[0], fd))
                        except (OSError, IndexError):
                            fds[fd] = None
                    c.ok(name + " LISTEN_FDS consumed: the socket on fd 0, "
                         "fd 3 closed", len(pids) == 1 and
                         (fds["0"] or "").startswith("socket:") and
                         fds["3"] is None, repr((pids, fds)))
                # Every launched process has started (logged "ready";
                # spawn-fcgi -F sends the apps' stderr to /dev/null):
                # under a loaded machine (make check's pool, sanitizer
                # builds beside) multiwatch's second child may still be
                # between fork and exec after the first has served.
                end = time.time() + 15
                while time.time() < end and (
                        len(g.app_processes()) < procs or
                        (launcher != "spawn-fcgi" and
                         g.app_log().count("info ready (pid") < procs)):
                    time.sleep(0.05)
                pids = g.app_processes()
                c.eq(name + " app processes", len(pids), procs)
                c.logs(g)
                c.ok(name + " every app stopped on SIGTERM (the harness "
                     "killed none)", not any(harness.alive(p) for p in pids)
                     and not g.killed, repr((pids, g.killed)))
                if launcher != "spawn-fcgi":
                    # spawn-fcgi -F points the apps' stderr at /dev/null.
                    c.ok(name + " every app exited cleanly",
                         g.app_log().count("clean exit") >= procs,
                         g.app_log()[-300:])
        except RuntimeError as e:
            c.ok(name + " starts", False, str(e)[:300])


def fcgi_request(addr, params, body=b""):
    """A minimal FastCGI responder request; returns stdout bytes."""
    s = socket.create_connection(addr, 5)
    try:
        s.sendall(fcgi_begin(params) + fcgi_rec(5, body) + fcgi_rec(5, b""))
        return fcgi_answer(s)
    finally:
        s.close()


def direct(c, build):
    """The app on its own TCP socket, no web server."""
    binp = os.path.join(harness.TOP, build, "cmsi.fcgi")
    d = tempfile.mkdtemp(prefix="cmsi-e2e-")
    try:
        cfg = harness.merge(json.loads(json.dumps(harness.DEFAULT_CONFIG)), {
            "state_dir": d + "/state",
            "schemas_dir": os.path.join(harness.TOP, "conf/schemas"),
            "templates_dir": os.path.join(harness.TOP, "templates")})
        conf = os.path.join(d, "cmsi.json")
        json.dump(cfg, open(conf, "w"))
        p = subprocess.run([binp, "-c", conf, "-s", ":%d" % harness.free_port()],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=20)
        c.ok("-s :PORT refused (it would bind every address)",
             p.returncode != 0 and b"127.0.0.1" in p.stdout, repr(p.stdout))
        p = subprocess.run([binp, "-c", conf], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=20)
        c.ok("no socket on fd 0: refused with a hint",
             p.returncode != 0 and b"-s unix:" in p.stdout, repr(p.stdout))
        port = harness.free_port()
        log = open(os.path.join(d, "app.log"), "wb")
        app = subprocess.Popen([binp, "-c", conf, "-s", "127.0.0.1:%d" % port],
                               stdout=log, stderr=subprocess.STDOUT)
        try:
            harness.wait_port(port)
            body = json.dumps(MAIL).encode()
            out = fcgi_request(("127.0.0.1", port), {
                "REQUEST_METHOD": "POST", "REQUEST_URI": PATH,
                "SCRIPT_NAME": PATH, "CONTENT_LENGTH": str(len(body)),
                "CONTENT_TYPE": "application/json", "SERVER_PROTOCOL":
                "HTTP/1.1"}, body)
            c.ok("-s 127.0.0.1:PORT answers FastCGI",
                 b'"result": true' in out or b'"result":true' in out,
                 repr(out[:300]))
        finally:
            app.send_signal(signal.SIGTERM)
            app.wait(10)
            log.close()
        text = open(os.path.join(d, "app.log"), errors="replace").read()
        c.ok("-s 127.0.0.1:PORT: clean exit on SIGTERM",
             "clean exit" in text and app.returncode == 0, text[-300:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def lighttpd_snippet(c, build):
    """conf/lighttpd.conf as shipped, included from a minimal server."""
    binp = os.path.join(harness.TOP, build, "cmsi.fcgi")
    with harness.Gateway(build) as g0:
        conf = g0.conf
        d = g0.dir
        port = harness.free_port()
        snip = harness.render_snippet("lighttpd.conf", [
            ("/usr/local/libexec/cmsi/cmsi.fcgi", binp),
            ("/run/lighttpd/cmsi.sock", d + "/snip.sock"),
            ("/etc/cmsi/cmsi.json", conf),
            (re.compile(r'"max-procs" +=> \d+'), '"max-procs" => 2'),
            ('( "PATH" )', '( "PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", '
             '"TSAN_OPTIONS" )'),
        ])
        open(d + "/snip.conf", "w").write(snip)
        open(d + "/snip-main.conf", "w").write(
            'server.bind = "127.0.0.1"\nserver.port = %d\n'
            'server.document-root = "%s/htdocs"\n'
            'server.errorlog = "%s/snip-error.log"\n'
            'server.breakagelog = "%s/snip-app.log"\n'
            'include "%s/snip.conf"\n' % (port, d, d, d, d))
        log = open(d + "/snip.out", "wb")
        p = subprocess.Popen(["/usr/sbin/lighttpd", "-D", "-f",
                              d + "/snip-main.conf"], stdout=log,
                             stderr=subprocess.STDOUT)
        try:
            harness.wait_port(port)
            st, doc = post(port, MAIL)
            c.ok("[lighttpd, shipped conf/lighttpd.conf] serves",
                 st == 200 and doc.get("result") is True, "%d %r" % (st, doc))
            st, doc = post(port, raw=padded(9 * 1024 * 1024), timeout=60)
            c.eq("[lighttpd, shipped conf/lighttpd.conf] 9 MiB: 413", st, 413)
            for other in ("/c/compapi/cmsi/send_mail/",):
                req = urllib.request.Request(
                    "http://127.0.0.1:%d%s" % (port, other),
                    data=json.dumps(MAIL).encode(), method="POST")
                with urllib.request.urlopen(req, timeout=30) as r:
                    ok = json.loads(r.read()).get("result")
                c.ok("[lighttpd, shipped conf/lighttpd.conf] " + other, ok)
        finally:
            below = harness.children(p.pid)
            p.send_signal(signal.SIGINT)
            p.wait(15)
            harness.wait_gone(below, 10)
            log.close()
        text = open(d + "/snip-app.log", errors="replace").read()
        # Workers log "clean exit" to stderr, which lighttpd copies into
        # its breakage log; lighttpd may exit before it has copied the
        # last worker's line (seen on a loaded machine, ASan build), so
        # the log shows at least one, and no worker died of a fault.
        c.ok("[lighttpd, shipped conf/lighttpd.conf] clean exits",
             1 <= text.count("clean exit") <= 2 and "fatal" not in text and
             "AddressSanitizer" not in text and "runtime error" not in text,
             text[-300:])


def units(c):
    """systemd-analyze verify, with the unit's paths pointed at files
    that exist here (the binary at /bin/true stands in)."""
    sa = shutil.which("systemd-analyze")
    if sa is None:
        print("skip systemd units: no systemd-analyze")
        return
    d = tempfile.mkdtemp(prefix="cmsi-e2e-")
    try:
        for n in ("cmsi.socket", "cmsi.service"):
            t = open(os.path.join(harness.TOP, "conf/systemd", n)).read()
            t = t.replace("/usr/local/libexec/cmsi/cmsi.fcgi", "/bin/true")
            if not os.path.exists("/usr/bin/multiwatch"):
                t = t.replace("/usr/bin/multiwatch", "/bin/true")
            open(os.path.join(d, n), "w").write(t)
        p = subprocess.run([sa, "verify", "--man=no", d + "/cmsi.socket",
                            d + "/cmsi.service"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        # Complaints about the host (no systemd running, users that do
        # not exist here) are not about the units.
        bad = [l for l in out.splitlines() if "cmsi." in l and not re.search(
            r"Failed to resolve user|No such process|Failed to connect|"
            r"Unit .* not found|Failed to load|Failed to create", l)]
        c.ok("systemd units verify", not bad, "\n".join(bad)[:600])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    c = Checker()
    build = sys.argv[1]
    fes = [fe for fe, missing in harness.frontends() if missing is None]
    for fe, missing in harness.frontends():
        if missing:
            print("skip t_frontends [%s] limits and graceful stops: %s"
                  % (fe, missing))
    slow = Slow()
    try:
        for fe in fes:
            limits(c, build, fe)
            graceful(c, build, fe, slow)
    finally:
        slow.close()
    if "nginx" in fes:
        launchers(c, build)
    else:
        print("skip t_frontends launchers (spawn-fcgi, multiwatch, self, "
              "systemd; behind nginx): nginx cannot run here")
    direct(c, build)
    if "lighttpd" in fes:
        lighttpd_snippet(c, build)
    else:
        print("skip t_frontends shipped conf/lighttpd.conf: no lighttpd")
    units(c)
    return c.failed


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
