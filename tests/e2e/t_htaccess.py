#!/usr/bin/python3
"""The .htaccess-only install (doc/deploying.md, "Shared hosting:
.htaccess only"):
a non-root Apache with mod_fcgid from a private config (its own
ServerRoot, PidFile, port, FcgidIPCDir and FcgidProcessTableFile) and
AllowOverride All; only the .htaccess in the document root sets up the
gateway, the config is cmsi.json beside the executable (a symlink), and
a body over mod_fcgid's 128 KiB default gets a JSON 413."""
import json
import os
import pwd
import grp
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
from e2e_lib import Checker, cgi, fcgi  # noqa: E402

HTACCESS = os.path.join(harness.TOP, "conf/htaccess")
SECRET_MARK = "alice-phone-13800000000"
# What a careless install leaves in the document root (row 6).
LEFT_BEHIND = [
    ("users.json", '{"alice": {"phone": "%s"}}' % SECRET_MARK),
    ("users.json.bak", SECRET_MARK),
    ("USERS.JSON", SECRET_MARK),
    ("cmsi.json.1", SECRET_MARK),
    ("audit.log", SECRET_MARK),
    ("audit.log.1", SECRET_MARK),
    ("msgs.jsonl", SECRET_MARK),
    ("cmsi.json~", SECRET_MARK),
    (".cmsi.json.swp", SECRET_MARK),
    ("var/audit.log", SECRET_MARK),
    ("var/tokens/wecom-ww1-1", SECRET_MARK),
    ("var/metrics", SECRET_MARK),
    ("var/console/throttle", SECRET_MARK),
    ("data/state/outbox/1-mail.eml", SECRET_MARK),
    ("data/spool/x", SECRET_MARK),
    ("sub/rate/demo", SECRET_MARK),
    ("ca-bundle.pem", SECRET_MARK),
]
MODS = ["mpm_event", "authz_core", "mime", "rewrite", "fcgid"]


def http(port, path, body=None, timeout=30):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                 method="POST" if body is not None else "GET")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def jdoc(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return {"raw": raw[:300]}


def main():
    c = Checker()
    b = sys.argv[1]
    if os.geteuid() != 0 or not harness.reachable():
        print("skip htaccess install: needs root to become nobody, and a tree nobody can read")
        return 0
    if harness.frontend_missing("apache-fcgid"):
        print("skip htaccess install: " + harness.frontend_missing("apache-fcgid"))
        return 0
    uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    d = tempfile.mkdtemp(prefix="cmsi-ht-")
    server = None
    try:
        docroot = os.path.join(d, "htdocs")
        srv = os.path.join(d, "apache")
        for x in (docroot, srv, os.path.join(srv, "run"), os.path.join(srv, "fcgid"),
                  os.path.join(d, "state")):
            os.makedirs(x, exist_ok=True)
        # What the operator puts in the document root, and nothing else.
        os.symlink(os.path.join(harness.TOP, b, "cmsi.fcgi"),
                   os.path.join(docroot, "cmsi.fcgi"))
        shutil.copy(HTACCESS, os.path.join(docroot, ".htaccess"))
        shutil.copy(os.path.join(harness.TOP, "conf/cmsi-413.json"),
                    os.path.join(docroot, "cmsi-413.json"))
        with open(os.path.join(docroot, "cmsi.json"), "w") as f:
            json.dump({"schemas_dir": os.path.join(harness.TOP, "conf/schemas"),
                       "templates_dir": os.path.join(harness.TOP, "templates"),
                       "state_dir": os.path.join(d, "state"),
                       "apps": {"demo": {"secret": "demo-secret",
                                         "skip_user_auth": True}},
                       "components": {"send_mail": {"delivery": "outbox"}}}, f)
        os.chmod(os.path.join(docroot, "cmsi.json"), 0o600)
        # Issue 32 row 6: data files an operator left in the document
        # root (a relative users.file, a state_dir "var", rotated logs,
        # editor copies): each must be denied.  A page of the site and
        # the error document stay served.
        for rel, text in LEFT_BEHIND + [("index.html", "<p>site</p>")]:
            p = os.path.join(docroot, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        for root, dirs, files in os.walk(d):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), uid, gid)
        os.chown(d, uid, gid)
        port = harness.free_port()
        load = "".join("LoadModule %s_module %s/mod_%s.so\n" % (m, harness.APACHE_MODS, m)
                       for m in MODS)
        with open(os.path.join(srv, "httpd.conf"), "w") as f:
            f.write("""ServerRoot "%(srv)s"
ServerName 127.0.0.1
Listen 127.0.0.1:%(port)d
PidFile %(srv)s/run/httpd.pid
DefaultRuntimeDir %(srv)s/run
ErrorLog %(srv)s/error.log
LogLevel warn
%(load)s
TypesConfig /etc/mime.types
# Non-root Apache: without these two mod_fcgid binds its sockets under
# /var/lib/apache2/fcgid and hangs, then answers 503.
FcgidIPCDir %(srv)s/fcgid
FcgidProcessTableFile %(srv)s/run/fcgid_shm
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
DocumentRoot "%(doc)s"
<Directory />
    Require all denied
    AllowOverride None
</Directory>
<Directory "%(doc)s">
    Require all granted
    AllowOverride All
    Options FollowSymLinks
</Directory>
""" % {"srv": srv, "port": port, "load": load, "doc": docroot})
        os.chown(os.path.join(srv, "httpd.conf"), uid, gid)
        log = open(os.path.join(d, "apache.out"), "wb")
        # The user's own Apache: started as nobody, no root anywhere.
        server = subprocess.Popen(
            ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups",
             "/usr/sbin/apache2", "-d", srv, "-f", os.path.join(srv, "httpd.conf"),
             "-DFOREGROUND"], stdout=log, stderr=subprocess.STDOUT,
            env={"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"})
        c.ok("non-root Apache listens", harness.wait_port(port, 15), "")

        body = json.dumps({"bk_app_code": "demo", "bk_app_secret": "demo-secret",
                           "bk_username": "admin", "receiver": "alice@example.com",
                           "title": "Hello", "content": "<p>It works</p>"}).encode()
        t0 = time.time()
        st, ctype, raw = http(port, "/api/c/compapi/v2/cmsi/send_mail/", body)
        doc = jdoc(raw)
        c.ok("the README's curl example answers through .htaccess",
             st == 200 and doc.get("result") is True and
             doc.get("message") == "Succeeded to send mail", "%d %r" % (st, raw[:300]))
        c.ok("no mod_fcgid hang (answered in under 10 s)", time.time() - t0 < 10,
             "%.1fs" % (time.time() - t0))
        outbox = os.path.join(d, "state", "outbox")
        c.ok("the message is in the outbox",
             os.path.isdir(outbox) and any(n.endswith("-mail.eml")
                                           for n in os.listdir(outbox)), "")
        st, ctype, raw = http(port, "/c/compapi/cmsi/get_msg_type/?bk_app_code=demo"
                              "&bk_app_secret=demo-secret&bk_username=admin")
        c.ok("ESB's short mount routes too", st == 200 and
             jdoc(raw).get("result") is True, "%d %r" % (st, raw[:200]))
        st, ctype, raw = http(port, "/api/c/compapi/v2/cmsi/nothing/")
        c.ok("an unknown component: the app's JSON 404", st == 404 and
             "application/json" in ctype, "%d %r" % (st, raw[:200]))
        st, ctype, raw = http(port, "/cmsi.json")
        c.ok("the config beside the executable is not served", st == 403 and
             b"demo-secret" not in raw, "%d" % st)
        for rel, text in LEFT_BEHIND:
            st, ctype, raw = http(port, "/" + rel)
            c.ok("row 6: a data file in the document root is denied: /" + rel,
                 st == 403 and SECRET_MARK.encode() not in raw, "%d %r" % (st, raw[:100]))
        st, ctype, raw = http(port, "/.htaccess")
        c.ok("row 6: .htaccess itself is denied", st == 403 and b"Rewrite" not in raw,
             "%d" % st)
        st, ctype, raw = http(port, "/index.html")
        c.ok("row 6: the site's own pages are still served", st == 200 and b"site" in raw,
             "%d" % st)
        st, ctype, raw = http(port, "/cmsi-413.json")
        c.ok("row 6: the error document is still served", st == 200 and
             b"131072" in raw, "%d %r" % (st, raw[:100]))
        big = json.dumps({"bk_app_code": "demo", "bk_app_secret": "demo-secret",
                          "bk_username": "admin", "receiver": "alice@example.com",
                          "title": "Big", "content": "x" * (128 * 1024)}).encode()
        st, ctype, raw = http(port, "/api/c/compapi/v2/cmsi/send_mail/", big)
        doc = jdoc(raw)
        c.ok("a body over mod_fcgid's 128 KiB: a JSON 413 naming the limit",
             st == 413 and "application/json" in ctype and doc.get("result") is False
             and "131072" in doc.get("message", ""), "%d %s %r" % (st, ctype, raw[:300]))
        small = json.dumps({"bk_app_code": "demo", "bk_app_secret": "demo-secret",
                            "bk_username": "admin", "receiver": "alice@example.com",
                            "title": "Fits", "content": "x" * (120 * 1024)}).encode()
        st, ctype, raw = http(port, "/api/c/compapi/v2/cmsi/send_mail/", small)
        c.ok("a body under it is sent", st == 200 and jdoc(raw).get("result") is True,
             "%d %r" % (st, raw[:200]))
        # The operator's paths, mounted by the same .htaccess.
        st, ctype, raw = http(port, "/healthz")
        c.ok(".htaccess mounts /healthz", st == 200 and
             jdoc(raw).get("status") == "ok", "%d %r" % (st, raw[:200]))
        st, ctype, raw = http(port, "/metrics")
        c.ok(".htaccess mounts /metrics", st == 200 and b"cmsi_build_info" in raw,
             "%d %r" % (st, raw[:200]))
        st, ctype, raw = http(port, "/console/")
        c.ok(".htaccess mounts /console/", st in (200, 302, 303) and
             "text/html" in ctype, "%d %s %r" % (st, ctype, raw[:200]))
        ps = subprocess.run(["ps", "-o", "user=", "--ppid", str(server.pid)],
                            stdout=subprocess.PIPE).stdout.decode().split()
        c.ok("Apache's processes run as nobody", ps and set(ps) == {"nobody"}, ps)

    finally:
        if server is not None:
            try:
                with open(os.path.join(d, "apache", "run", "httpd.pid")) as f:
                    pid = int(f.read().strip())
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if os.environ.get("CMSI_KEEP"):
            print("kept " + d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    return c.done()


def path_info(c, b):
    """Routing on SCRIPT_NAME + PATH_INFO, straight to the app: an
    install below a user's directory (/~alice/cmsi.fcgi/api/...)."""
    d = tempfile.mkdtemp(prefix="cmsi-pi-")
    proc = None
    try:
        with open(os.path.join(d, "cmsi.json"), "w") as f:
            json.dump({"schemas_dir": os.path.join(harness.TOP, "conf/schemas"),
                       "templates_dir": os.path.join(harness.TOP, "templates"),
                       "state_dir": os.path.join(d, "state"),
                       "apps": {"demo": {"secret": "demo-secret",
                                         "skip_user_auth": True}}}, f)
        os.symlink(os.path.join(harness.TOP, b, "cmsi.fcgi"), os.path.join(d, "cmsi.fcgi"))
        port = harness.free_port()
        env = {k: v for k, v in os.environ.items() if k != "CMSI_CONF"}
        proc = subprocess.Popen([os.path.join(d, "cmsi.fcgi"), "-s", "127.0.0.1:%d" % port],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env, cwd="/")
        c.ok("started with cmsi.json beside it, no -c, no CMSI_CONF",
             harness.wait_port(port), "")
        q = "bk_app_code=demo&bk_app_secret=demo-secret&bk_username=admin"
        uri = "/~alice/api/c/compapi/cmsi/get_msg_type/?" + q
        p = cgi("GET", uri, None, SCRIPT_NAME="/~alice/cmsi.fcgi",
                PATH_INFO="/api/c/compapi/cmsi/get_msg_type/", QUERY_STRING=q)
        st, _, raw = fcgi(("127.0.0.1", port), p, b"")
        c.ok("routes on PATH_INFO after .../cmsi.fcgi", st == 200 and
             jdoc(raw).get("result") is True, "%d %r" % (st, raw[:200]))
        p = cgi("GET", "/api/c/compapi/cmsi/get_msg_type/?" + q, None,
                SCRIPT_NAME="/api/c/compapi", PATH_INFO="/cmsi/get_msg_type/",
                QUERY_STRING=q)
        st, _, raw = fcgi(("127.0.0.1", port), p, b"")
        c.ok("an Alias mount still routes on REQUEST_URI", st == 200 and
             jdoc(raw).get("result") is True, "%d %r" % (st, raw[:200]))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    rc = main()
    c2 = Checker()
    path_info(c2, sys.argv[1])
    sys.exit(rc or c2.done())
