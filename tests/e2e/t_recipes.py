#!/usr/bin/python3
"""The manual's deployment recipes (doc/deploying.md), run as written,
with a scratch directory in place of /usr/local, /etc, /var/lib and
/run, and nobody standing in for the system user cmsi:

- every shipped snippet mounts /console/, /metrics and /healthz, and the
  last two answer a loopback client: through nginx, Apache mod_fcgid and
  Apache mod_proxy_fcgi as the harness runs their shipped snippets;
- lighttpd after `make install`: the installed snippet, state directory
  and config given to www-data, -t as www-data, lighttpd as www-data
  spawning the app; send_mail lands in the outbox, www-data's;
- spawn-fcgi + multiwatch + nginx after `make install`: before the
  recipe's `install -d -o cmsi ...` the workers answer 503 naming the
  state directory; after it they start by themselves (no touch of the
  config) and send_mail lands in the outbox, owned by the app's user;
- a private Apache run as a user (examples/apache-user.conf after
  `make install PREFIX=$HOME/cmsi` as that user): send_mail answers.

usage: t_recipes.py BUILDDIR
"""
import grp
import json
import os
import pwd
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

PATH = "/api/c/compapi/v2/cmsi/send_mail/"
MAIL = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
        "bk_username": "admin", "receiver": "alice@example.com",
        "title": "Hello", "content": "<p>It works</p>"}


def http(port, path, doc=None, timeout=30):
    """(status, content type, body) of a GET, or a POST of doc."""
    body = json.dumps(doc).encode() if doc is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                 method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()
    except OSError as e:
        return 0, "", repr(e).encode()


def jdoc(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return {"_raw": raw[:300]}


def operator_paths(c, tag, port):
    """/console/, /metrics and /healthz reach the app."""
    st, ctype, raw = http(port, "/healthz")
    c.ok("[%s] /healthz mounted: 200 ok" % tag,
         st == 200 and jdoc(raw).get("status") == "ok", "%d %r" % (st, raw[:200]))
    st, ctype, raw = http(port, "/metrics")
    c.ok("[%s] /metrics mounted: Prometheus text" % tag,
         st == 200 and b"cmsi_build_info" in raw, "%d %r" % (st, raw[:200]))
    st, ctype, raw = http(port, "/console/")
    c.ok("[%s] /console/ mounted: the console's page" % tag,
         # Not ESB's JSON error; the page itself may hold "1306" in a
         # random token, so the envelope's shape is what is looked for.
         st in (200, 302, 303) and "text/html" in ctype and
         not raw.lstrip().startswith(b"{"),
         "%d %s %r" % (st, ctype, raw[:200]))


def snippets(c, build):
    fes = [fe for fe, missing in harness.frontends() if missing is None]
    for fe, missing in harness.frontends():
        if missing:
            print("skip t_recipes [%s] mounts: %s" % (fe, missing))
    for fe in fes:
        if fe == "lighttpd":
            continue        # its harness template is not the shipped file
        with harness.Gateway(build, frontend=fe) as g:
            operator_paths(c, fe + ", shipped snippet", g.port)
    if "lighttpd" in fes:
        shipped_lighttpd(c, build)


def shipped_lighttpd(c, build):
    """deploying.md, "lighttpd" (and the README's quick start): after
    make install, the installed snippet, the state directory and the
    config given to www-data, -t as www-data, then lighttpd (running as
    www-data, as Debian's does) spawns the app."""
    web = "www-data"
    try:
        pwd.getpwnam(web)
    except KeyError:
        print("skip t_recipes lighttpd: no user www-data")
        return
    if os.geteuid() != 0:
        print("skip t_recipes lighttpd: needs root")
        return
    d = tempfile.mkdtemp(prefix="cmsi-light-")
    os.chmod(d, 0o755)
    p = None
    try:
        var = {"PREFIX": d + "/usr/local", "SYSCONFDIR": d + "/etc",
               "STATEDIR": d + "/var/lib/cmsi", "SYSTEMDDIR": d + "/lib/systemd/system"}
        rc, out = make_install(build, **var)
        c.ok("[lighttpd] make install", rc == 0, out[-500:])
        libexec = d + "/usr/local/libexec/cmsi/cmsi.fcgi"
        etc = d + "/etc/cmsi/cmsi.json"
        state = d + "/var/lib/cmsi"
        add_app(etc)
        os.makedirs(d + "/etc/lighttpd/conf-available")
        snippet = d + "/etc/lighttpd/conf-available/50-cmsi.conf"
        shutil.copy(d + "/usr/local/share/cmsi/examples/lighttpd.conf", snippet)
        subprocess.run(["install", "-d", "-o", web, "-g", web, "-m", "0750", state],
                       check=True)
        subprocess.run(["chgrp", web, etc], check=True)
        r = subprocess.run(["runuser", "-u", web, "--", libexec, "-t", "-c", etc],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        c.ok("[lighttpd] -t as www-data passes", r.returncode == 0,
             r.stdout.decode(errors="replace"))
        # What Debian's lighttpd.conf provides around the snippet; /run
        # is the scratch directory's.
        run = d + "/run/lighttpd"
        subprocess.run(["install", "-d", "-o", web, "-g", web, run], check=True)
        with open(snippet) as f:
            text = f.read().replace("/run/lighttpd/", run + "/")
        with open(snippet, "w") as f:
            f.write(text)
        port = harness.free_port()
        os.makedirs(d + "/htdocs")
        with open(d + "/lighttpd.conf", "w") as f:
            f.write('server.bind = "127.0.0.1"\nserver.port = %d\n'
                    'server.username = "%s"\nserver.groupname = "%s"\n'
                    'server.document-root = "%s/htdocs"\n'
                    'server.errorlog = "%s/error.log"\n'
                    'server.breakagelog = "%s/app.log"\n'
                    'include "%s"\n' % (port, web, web, d, run, run, snippet))
        log = open(d + "/lighttpd.out", "wb")
        p = subprocess.Popen(["/usr/sbin/lighttpd", "-D", "-f", d + "/lighttpd.conf"],
                             stdout=log, stderr=subprocess.STDOUT)
        c.ok("[lighttpd] listens", harness.wait_port(port), "")
        st, ctype, raw = http(port, PATH, MAIL)
        c.ok("[lighttpd] send_mail answers", st == 200 and
             jdoc(raw).get("result") is True, "%d %r" % (st, raw[:300]))
        outbox = state + "/outbox"
        files = os.listdir(outbox) if os.path.isdir(outbox) else []
        c.ok("[lighttpd] the message is in the outbox, www-data's",
             files and all(os.stat(os.path.join(outbox, n)).st_uid ==
                           pwd.getpwnam(web).pw_uid for n in files), files)
        operator_paths(c, "lighttpd, installed lighttpd.conf", port)
    finally:
        if p is not None:
            below = harness.children(p.pid)
            p.send_signal(signal.SIGINT)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            harness.wait_gone(below, 10)
        shutil.rmtree(d, ignore_errors=True)


def make_install(build, user=None, **var):
    binp = os.path.join(build, "cmsi.fcgi")
    argv = ["make", "-s", "--no-print-directory", "-o", binp, "BUILDDIR=" + build] + \
        ["%s=%s" % kv for kv in var.items()] + ["install"]
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    p = subprocess.run(argv, cwd=harness.TOP, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace")


def add_app(etc):
    """The manual's step: an app under apps (the install has none)."""
    with open(etc) as f:
        conf = json.load(f)
    conf["apps"] = {"demo": {"secret": "demo-secret", "skip_user_auth": True}}
    with open(etc, "w") as f:
        json.dump(conf, f, indent=2)


def wait_for(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def spawn_nginx(c, build):
    """deploying.md, "nginx with spawn-fcgi (no systemd)"."""
    if harness.frontend_missing("nginx") or not os.path.exists("/usr/bin/multiwatch"):
        print("skip t_recipes spawn-fcgi + nginx: nginx or multiwatch missing")
        return
    app_user, app_group = "nobody", "nogroup"        # the recipe's cmsi
    web = "www-data"
    try:
        pwd.getpwnam(web)
    except KeyError:
        print("skip t_recipes spawn-fcgi + nginx: no user www-data")
        return
    d = tempfile.mkdtemp(prefix="cmsi-recipe-")
    os.chmod(d, 0o755)
    app = nginx = None
    try:
        var = {"PREFIX": d + "/usr/local", "SYSCONFDIR": d + "/etc",
               "STATEDIR": d + "/var/lib/cmsi", "SYSTEMDDIR": d + "/lib/systemd/system"}
        rc, out = make_install(build, **var)
        c.ok("[spawn-fcgi + nginx] make install", rc == 0, out[-500:])
        libexec = d + "/usr/local/libexec/cmsi/cmsi.fcgi"
        etc = d + "/etc/cmsi/cmsi.json"
        state = d + "/var/lib/cmsi"
        run = d + "/run/cmsi"
        add_app(etc)
        # The recipe, in its order.
        subprocess.run(["chgrp", app_group, etc], check=True)
        subprocess.run(["install", "-d", run], check=True)
        log = open(d + "/app.log", "wb")
        app = subprocess.Popen(
            ["spawn-fcgi", "-n", "-s", run + "/cmsi.sock", "-M", "0660",
             "-u", app_user, "-g", app_group, "-U", web, "-G", web, "--",
             "/usr/bin/multiwatch", "-f", "2", "--", libexec, "-c", etc],
            stdout=log, stderr=subprocess.STDOUT)
        c.ok("[spawn-fcgi + nginx] the socket is there",
             wait_for(lambda: os.path.exists(run + "/cmsi.sock"), 10), "")
        base = d + "/nginx"
        os.makedirs(base)
        shutil.copy("/etc/nginx/fastcgi_params", base)
        with open(d + "/usr/local/share/cmsi/examples/nginx.conf") as f:
            snip = f.read().replace("/run/cmsi/", run + "/")
        with open(base + "/cmsi.conf", "w") as f:
            f.write(snip)
        port = harness.free_port()
        with open(base + "/nginx.conf", "w") as f:
            f.write("""user %s;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %s/body;
    fastcgi_temp_path %s/fastcgi;
    server {
        listen 127.0.0.1:%d;
        include %s/cmsi.conf;
    }
}
""" % (web, base, base, base, base, port, base))
        nlog = open(d + "/nginx.out", "wb")
        nginx = subprocess.Popen(["/usr/sbin/nginx", "-p", base + "/", "-c",
                                  base + "/nginx.conf", "-e", base + "/error.log",
                                  "-g", "daemon off;"], stdout=nlog,
                                 stderr=subprocess.STDOUT)
        c.ok("[spawn-fcgi + nginx] nginx listens", harness.wait_port(port), "")
        # make install made the state directory root's: the mistake the
        # recipe's next step fixes.  Both workers say so first.

        def said(what, n):
            with open(d + "/app.log", "rb") as f:
                return f.read().count(what) >= n
        c.ok("[spawn-fcgi + nginx] both workers start unconfigured",
             wait_for(lambda: said(b"not configured, every request gets 503", 2), 20),
             open(d + "/app.log", "rb").read()[-1000:])
        st, ctype, raw = http(port, PATH, MAIL)
        c.ok("[spawn-fcgi + nginx] state_dir not the app user's: 503 naming it",
             st == 503 and "cmsi.fcgi is not configured" in jdoc(raw).get("message", "")
             and state in jdoc(raw).get("message", ""), "%d %r" % (st, raw[:300]))
        before = os.stat(etc).st_mtime_ns
        subprocess.run(["install", "-d", "-o", app_user, "-g", app_group, "-m", "0750",
                        state], check=True)

        # Both workers retry on their own within a few seconds, with no
        # request to wake them.
        c.ok("[spawn-fcgi + nginx] after install -d -o cmsi: both workers start "
             "by themselves", wait_for(lambda: said(b"starts now, starting again", 2), 20),
             open(d + "/app.log", "rb").read()[-3000:])
        ok = 0
        for _ in range(4):
            st, ctype, raw = http(port, PATH, MAIL)
            ok += st == 200 and jdoc(raw).get("result") is True
        c.ok("[spawn-fcgi + nginx] send_mail answers on every worker", ok == 4,
             "%d %r" % (st, raw[:300]))
        outbox = state + "/outbox"
        files = os.listdir(outbox) if os.path.isdir(outbox) else []
        c.ok("[spawn-fcgi + nginx] the message is in the outbox, the app user's",
             files and all(os.stat(os.path.join(outbox, n)).st_uid ==
                           pwd.getpwnam(app_user).pw_uid for n in files), files)
        c.ok("[spawn-fcgi + nginx] the config was not touched",
             os.stat(etc).st_mtime_ns == before, "")
        operator_paths(c, "spawn-fcgi + nginx, installed snippet", port)
        text = open(d + "/app.log", errors="replace").read()
        c.ok("[spawn-fcgi + nginx] the app's log: no sanitizer report",
             not any(s in text for s in harness.SANITIZER), text[-600:])
    finally:
        for p in (nginx, app):
            if p is not None:
                below = harness.children(p.pid)
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                harness.wait_gone(below, 10)
        shutil.rmtree(d, ignore_errors=True)


def private_apache(c, build):
    """deploying.md, "Apache as your own user": install into a prefix
    the user owns, then examples/apache-user.conf."""
    if os.geteuid() != 0 or not harness.reachable():
        print("skip t_recipes private Apache: needs root to become nobody")
        return
    if harness.frontend_missing("apache-fcgid"):
        print("skip t_recipes private Apache: " + harness.frontend_missing("apache-fcgid"))
        return
    uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    d = tempfile.mkdtemp(prefix="cmsi-userap-")
    os.chmod(d, 0o755)
    home = d + "/home"
    os.makedirs(home)
    os.chown(home, uid, gid)
    ap = home + "/apache"
    started = False
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"}

    def as_user(argv, **kw):
        return subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
                               "--clear-groups"] + argv, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60, **kw)
    try:
        rc, out = make_install(build, user="nobody", PREFIX=home + "/cmsi")
        c.ok("[private Apache] make install PREFIX=$HOME/cmsi as the user", rc == 0,
             out[-500:])
        etc = home + "/cmsi/etc/cmsi/cmsi.json"
        add_app(etc)
        as_user(["mkdir", "-p", ap + "/run", ap + "/fcgid", ap + "/htdocs"])
        as_user(["cp", home + "/cmsi/share/cmsi/examples/apache-user.conf",
                 ap + "/httpd.conf"])
        port = harness.free_port()
        with open(ap + "/httpd.conf") as f:
            text = f.read()
        text = text.replace("Define APACHE_HOME /home/you/apache",
                            "Define APACHE_HOME " + ap)
        text = text.replace("Define PORT 8080", "Define PORT %d" % port)
        with open(ap + "/httpd.conf", "w") as f:
            f.write(text)
        p = as_user(["/usr/sbin/apache2", "-d", ap, "-f", ap + "/httpd.conf", "-k", "start"])
        started = True
        c.ok("[private Apache] apache2 -k start as the user", p.returncode == 0,
             p.stdout.decode(errors="replace"))
        c.ok("[private Apache] listens", harness.wait_port(port, 15),
             open(ap + "/error.log", errors="replace").read()[-500:]
             if os.path.exists(ap + "/error.log") else "")
        t0 = time.time()
        st, ctype, raw = http(port, PATH, MAIL)
        c.ok("[private Apache] send_mail answers", st == 200 and
             jdoc(raw).get("result") is True, "%d %r" % (st, raw[:300]))
        c.ok("[private Apache] no mod_fcgid hang (under 10 s)", time.time() - t0 < 10,
             "%.1fs" % (time.time() - t0))
        operator_paths(c, "private Apache", port)
        text = open(ap + "/error.log", errors="replace").read() \
            if os.path.exists(ap + "/error.log") else ""
        c.ok("[private Apache] its error log: no sanitizer report",
             not any(s in text for s in harness.SANITIZER), text[-600:])
    finally:
        if started:
            pidf = ap + "/run/httpd.pid"
            pid = int(open(pidf).read().strip()) if os.path.exists(pidf) else None
            below = harness.children(pid) if pid else []
            as_user(["/usr/sbin/apache2", "-d", ap, "-f", ap + "/httpd.conf", "-k", "stop"])
            if pid and not wait_for(lambda: not os.path.exists("/proc/%d" % pid), 15):
                os.kill(pid, signal.SIGKILL)
            harness.wait_gone(below, 10)
        shutil.rmtree(d, ignore_errors=True)


def main():
    c = Checker()
    build = sys.argv[1]
    snippets(c, build)
    spawn_nginx(c, build)
    private_apache(c, build)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
