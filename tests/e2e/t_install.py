#!/usr/bin/python3
"""make install / uninstall into a scratch prefix (issue 9): the layout,
an installed config that passes -t with schemas and templates from
share, an installed app that serves, an edited config that a second
install leaves alone, DESTDIR staging, an uninstall that keeps the
config, no demo people installed, the man page, and an upgrade (install
over a running install) that keeps config, users and state.

usage: t_install.py BUILDDIR
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker  # noqa: E402
from t_frontends import MAIL, PATH, fcgi_request  # noqa: E402


def make(build, target, **var):
    """make TARGET with var; -o keeps make from rebuilding the binary
    (a sanitizer build must stay one)."""
    binp = os.path.join(build, "cmsi.fcgi")
    argv = ["make", "-s", "--no-print-directory", "-o", binp,
            "BUILDDIR=" + build] + ["%s=%s" % kv for kv in var.items()] + [target]
    p = subprocess.run(argv, cwd=harness.TOP, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace")


def main():
    c = Checker()
    build = sys.argv[1]
    d = tempfile.mkdtemp(prefix="cmsi-install-")
    try:
        var = {"PREFIX": d + "/usr", "SYSCONFDIR": d + "/etc",
               "STATEDIR": d + "/var/lib/cmsi",
               "SYSTEMDDIR": d + "/lib/systemd/system"}
        rc, out = make(build, "install", **var)
        c.ok("make install", rc == 0, out[-600:])
        libexec = d + "/usr/libexec/cmsi/cmsi.fcgi"
        share = d + "/usr/share/cmsi"
        etc = d + "/etc/cmsi"
        c.ok("binary in libexec, executable",
             os.access(libexec, os.X_OK), libexec)
        c.ok("schemas and templates in share",
             os.path.exists(share + "/schemas/send_mail.json") and
             os.listdir(share + "/templates"), share)
        for n in ("lighttpd.conf", "apache-fcgid.conf",
                  "apache-proxy-fcgi.conf", "nginx.conf"):
            text = open(share + "/examples/" + n).read()
            c.ok("examples/%s carries this install's paths" % n,
                 "/usr/local" not in text and (libexec in text or
                                               "/run/cmsi/" in text), n)
        unit = open(d + "/lib/systemd/system/cmsi.service").read()
        c.ok("cmsi.service runs the installed binary",
             "-- %s\n" % libexec in unit and "CMSI_CONF=%s/cmsi.json" % etc
             in unit, unit[:200])
        conf = json.load(open(etc + "/cmsi.json"))
        c.eq("installed config: schemas_dir in share",
             conf.get("schemas_dir"), share + "/schemas")
        c.eq("installed config: templates_dir in share",
             conf.get("templates_dir"), share + "/templates")
        c.eq("installed config: state_dir", conf.get("state_dir"),
             d + "/var/lib/cmsi")
        c.eq("installed config names no user directory (no demo people)",
             conf.get("users", {}).get("file"), "")
        c.ok("no users.json installed; the example only as users.example.json",
             not os.path.exists(etc + "/users.json") and
             "AN EXAMPLE" in open(etc + "/users.example.json").read(), "")
        man = d + "/usr/share/man/man8/cmsi.fcgi.8"
        c.ok("the man page is installed, with this install's paths",
             os.path.exists(man) and libexec in open(man).read(), man)
        c.eq("installed config is not world-readable",
             oct(stat.S_IMODE(os.stat(etc + "/cmsi.json").st_mode)), "0o640")
        p = subprocess.run([libexec, "-t", "-c", etc + "/cmsi.json"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.decode(errors="replace")
        c.ok("installed config: -t passes, noting that no app can call yet",
             p.returncode == 0 and "note: apps: none, so nothing can call" in
             out, out)

        # The installed app serves, with an app added to the config.
        conf["apps"]["demo"] = {"secret": "demo-secret", "skip_user_auth": True}
        json.dump(conf, open(etc + "/cmsi.json", "w"), indent=1)
        p = subprocess.run([libexec, "-t", "-c", etc + "/cmsi.json"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        c.ok("installed config with an app passes -t", p.returncode == 0,
             p.stdout.decode(errors="replace"))
        c.ok("make install made the state directory",
             os.path.isdir(d + "/var/lib/cmsi"), "")
        port = harness.free_port()
        log = open(d + "/app.log", "wb")
        app = subprocess.Popen([libexec, "-c", etc + "/cmsi.json", "-s",
                                "127.0.0.1:%d" % port], stdout=log,
                               stderr=subprocess.STDOUT)
        try:
            harness.wait_port(port)
            body = json.dumps(MAIL).encode()
            out = fcgi_request(("127.0.0.1", port), {
                "REQUEST_METHOD": "POST", "REQUEST_URI": PATH,
                "CONTENT_LENGTH": str(len(body)),
                "SERVER_PROTOCOL": "HTTP/1.1"}, body)
            c.ok("installed app serves send_mail into its outbox",
                 b'"result": true' in out and
                 os.listdir(d + "/var/lib/cmsi/outbox"), repr(out[:200]))
        except OSError as e:
            c.ok("installed app serves send_mail into its outbox", False,
                 "%r: %s" % (e, open(d + "/app.log", errors="replace").read()))
        finally:
            app.send_signal(signal.SIGTERM)
            app.wait(10)
            log.close()

        edited = open(etc + "/cmsi.json").read()
        os.unlink(etc + "/cmsi.example.json")
        rc, out = make(build, "install", **var)
        c.ok("second make install leaves the edited config alone",
             rc == 0 and open(etc + "/cmsi.json").read() == edited, out[-300:])
        c.ok("... and refreshes the example",
             os.path.exists(etc + "/cmsi.example.json"))

        rc, out = make(build, "uninstall", **var)
        c.ok("make uninstall removes the program",
             rc == 0 and not os.path.exists(libexec) and
             not os.path.exists(share), out[-300:])
        c.ok("... and keeps the config",
             open(etc + "/cmsi.json").read() == edited)

        rc, out = make(build, "install", DESTDIR=d + "/stage",
                       PREFIX="/usr/local")
        staged = d + "/stage/etc/cmsi/cmsi.json"
        c.ok("DESTDIR stages the tree",
             rc == 0 and os.path.exists(
                 d + "/stage/usr/local/libexec/cmsi/cmsi.fcgi") and
             os.path.exists(staged), out[-300:])
        c.eq("DESTDIR: the config names the final paths",
             json.load(open(staged)).get("schemas_dir"),
             "/usr/local/share/cmsi/schemas")
        user_install(c, build, d)
        upgrade(c, build, d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return c.failed


def serve_once(c, what, libexec, conf, state):
    """Starts the installed app on a port, sends one mail, stops it."""
    port = harness.free_port()
    log = open(state + "/../app-%d.log" % port, "wb")
    app = subprocess.Popen([libexec, "-c", conf, "-s", "127.0.0.1:%d" % port],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        harness.wait_port(port)
        body = json.dumps(MAIL).encode()
        out = fcgi_request(("127.0.0.1", port), {
            "REQUEST_METHOD": "POST", "REQUEST_URI": PATH,
            "CONTENT_LENGTH": str(len(body)), "SERVER_PROTOCOL": "HTTP/1.1"}, body)
        c.ok(what, b'"result": true' in out, repr(out[:200]))
    except OSError as e:
        c.ok(what, False, repr(e))
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(10)
        log.close()


def upgrade(c, build, d):
    """doc/operating.md, "Upgrade": install into a prefix, run, make it
    the operator's (an app, a users.json, messages in the state), install
    again over it: config, users and state are kept and it answers."""
    top = d + "/upgrade"
    var = {"PREFIX": top + "/usr", "SYSCONFDIR": top + "/etc",
           "STATEDIR": top + "/var/lib/cmsi", "SYSTEMDDIR": top + "/lib/systemd"}
    rc, out = make(build, "install", **var)
    c.ok("[upgrade] first install", rc == 0, out[-300:])
    etc = top + "/etc/cmsi"
    libexec = top + "/usr/libexec/cmsi/cmsi.fcgi"
    state = top + "/var/lib/cmsi"
    conf = json.load(open(etc + "/cmsi.json"))
    conf["apps"]["demo"] = {"secret": "demo-secret", "skip_user_auth": True}
    conf["users"]["file"] = "users.json"
    json.dump(conf, open(etc + "/cmsi.json", "w"), indent=2)
    with open(etc + "/users.json", "w") as f:
        json.dump({"ops": {"email": "ops@example.com"}}, f)
    serve_once(c, "[upgrade] the first install serves", libexec,
               etc + "/cmsi.json", state)
    kept = {n: open(etc + "/" + n).read() for n in ("cmsi.json", "users.json")}
    audit = open(state + "/audit.log").read()
    outbox = sorted(os.listdir(state + "/outbox"))
    rc, out = make(build, "install", **var)
    c.ok("[upgrade] install again over it", rc == 0, out[-300:])
    for n, text in kept.items():
        c.ok("[upgrade] %s kept as the operator left it" % n,
             open(etc + "/" + n).read() == text, "")
    c.ok("[upgrade] the state kept (audit log, outbox)",
         open(state + "/audit.log").read() == audit and
         sorted(os.listdir(state + "/outbox")) == outbox, "")
    p = subprocess.run([libexec, "-t", "-c", etc + "/cmsi.json"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    c.ok("[upgrade] -t passes after the upgrade", p.returncode == 0,
         p.stdout.decode(errors="replace"))
    serve_once(c, "[upgrade] the upgraded install serves", libexec,
               etc + "/cmsi.json", state)
    c.ok("[upgrade] ... adding to the same audit log",
         open(state + "/audit.log").read().startswith(audit) and
         len(open(state + "/audit.log").read()) > len(audit), "")


def user_install(c, build, d):
    """PREFIX alone relocates config and state too, and a user who owns
    the prefix installs without root (issue 22: no chmod of /etc/cmsi)."""
    if os.geteuid() != 0 or not harness.reachable():
        print("skip user install: needs root to become nobody")
        return
    os.chmod(d, 0o755)
    home = d + "/home"
    os.makedirs(home)
    os.chown(home, *harness.unprivileged())
    prefix = home + "/cmsi"
    binp = os.path.join(build, "cmsi.fcgi")
    p = subprocess.run(["runuser", "-u", "nobody", "--", "make", "-s",
                        "--no-print-directory", "-o", binp, "BUILDDIR=" + build,
                        "PREFIX=" + prefix, "install"], cwd=harness.TOP,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = p.stdout.decode(errors="replace")
    c.ok("make install PREFIX=... as a user who owns it", p.returncode == 0, out[-600:])
    etc = prefix + "/etc/cmsi/cmsi.json"
    c.ok("PREFIX relocates the config", os.path.exists(etc), etc)
    c.ok("... and the state directory", os.path.isdir(prefix + "/var/lib/cmsi"), "")
    conf = json.load(open(etc)) if os.path.exists(etc) else {}
    c.eq("the installed config's state_dir is under PREFIX",
         conf.get("state_dir"), prefix + "/var/lib/cmsi")
    text = open(prefix + "/share/cmsi/examples/apache-fcgid.conf").read() \
        if os.path.exists(prefix + "/share/cmsi/examples/apache-fcgid.conf") else ""
    c.ok("the snippets name the relocated config", prefix + "/etc/cmsi/cmsi.json" in text,
         text[:300])
    c.ok("the .htaccess files are among the examples",
         os.path.exists(prefix + "/share/cmsi/examples/htaccess") and
         os.path.exists(prefix + "/share/cmsi/examples/cmsi-413.json"), "")
    if conf:
        conf["apps"] = {"demo": {"secret": "demo-secret"}}
        with open(etc, "w") as f:
            json.dump(conf, f)
    p = subprocess.run(["runuser", "-u", "nobody", "--", prefix + "/libexec/cmsi/cmsi.fcgi",
                        "-t", "-c", etc], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    c.ok("the user's install passes -t as that user", p.returncode == 0,
         p.stdout.decode(errors="replace"))


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
