"""Test harness shared by the e2e suite and the benchmarks: renders a
config and a web server's config into a temp directory, starts the web
server (and the app, where the server does not spawn it) on a free
loopback port, and stops everything by PID.

Front ends (Gateway(frontend=...)):
  lighttpd      conf/lighttpd.conf.in; lighttpd spawns the app (bin-path)
  apache-fcgid  conf/apache-fcgid.conf; Apache's mod_fcgid spawns the app
  apache-proxy  conf/apache-proxy-fcgi.conf; the app on a Unix socket
  nginx         conf/nginx.conf; the app on a Unix socket
The Apache and nginx snippets are the shipped ones, with their install
paths, limits and process counts replaced (render_snippet).  Where the
server does not spawn the app, launcher= says what does: "multiwatch"
(spawn-fcgi -n + multiwatch -f N, the default where multiwatch is
installed), "spawn-fcgi" (alone, -F N), "self" (the
app's own -s unix:PATH) or "systemd" (systemd-socket-activate, so the
app takes its socket from LISTEN_FDS).  Run as root, the web servers'
workers and mod_fcgid's app run as nobody:nogroup."""
import grp
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRONTENDS = ("lighttpd", "apache-fcgid", "apache-proxy", "nginx")
LAUNCHERS = ("spawn-fcgi", "multiwatch", "self", "systemd")
APACHE_MODS = "/usr/lib/apache2/modules"
# The app's default max_body, and the limit the shipped snippets set.
LIMIT = 8 * 1024 * 1024
# What the e2e cases run with: above LIMIT, so a body over the app's cap
# reaches the app and gets its JSON 413 through every front end.
TEST_LIMIT = 16 * 1024 * 1024
SAN_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS")
# The mounts in the shipped snippets, and what the tests add: a gateway
# stage's prefix (/prod/v1/...), as conf/lighttpd.conf.in mounts it.
MOUNTS = "(api/)?c/compapi|api/bk-cmsi|v1|console"
TEST_MOUNTS = MOUNTS + "|prod"
SANITIZER = ("AddressSanitizer", "runtime error:", "LeakSanitizer",
             "UndefinedBehaviorSanitizer", "ThreadSanitizer")


_ports_given = set()
# free_port's ports under CMSI_PORT_SLOT: below Linux's default ephemeral
# range (32768-60999).
PORT_LOW, PORT_HIGH = 20000, 32768


def free_port():
    """A loopback port nothing listens on now, never one this process
    handed out before.  The kernel may give the same free port to two
    bind(0) calls in a row: a fake and the web server then race for it,
    and the loser's requests go to the winner (a CI run once sent a
    whole case file's requests to the TLS fake, reset by peer).

    CMSI_PORT_SLOT=I/N (tests/e2e/run.py sets it for each of its N
    concurrent units): a port below the kernel's ephemeral range
    (PORT_LOW..PORT_HIGH, which neither bind(0) nor an outgoing
    connection hands out) equal to I modulo N, tried by binding it, so
    two scripts running side by side never hand out the same port.
    (The kernel's bind(0) cannot be filtered so: it gives odd ports.)"""
    m = re.fullmatch(r"(\d+)/(\d+)", os.environ.get("CMSI_PORT_SLOT", ""))
    if m and 0 <= int(m.group(1)) < int(m.group(2)):
        slot, slots = int(m.group(1)), int(m.group(2))
        first = PORT_LOW + (slot - PORT_LOW) % slots
        ports = list(range(first, PORT_HIGH, slots))
        random.shuffle(ports)
        for port in ports[:2000]:
            if port in _ports_given:
                continue
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            finally:
                s.close()
            _ports_given.add(port)
            return port
    for _ in range(1000):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("free_port: no loopback port left that was not "
                       "handed out already")


def wait_port(port, secs=10):
    end = time.time() + secs
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


DEFAULT_CONFIG = {
    "apps": {
        "demo": {"secret": "demo-secret", "skip_user_auth": True},
        "plain": {"secret": "plain-secret"},
    },
    "users": {"file": os.path.join(TOP, "conf/users.example.json")},
    "components": {
        "send_mail": {"delivery": "outbox"},
        "send_weixin": {"delivery": "outbox", "wx_type": "qy"},
        "send_sms": {"delivery": "outbox"},
        "send_voice_msg": {"delivery": "outbox"},
        "send_qy_weixin": {"delivery": "outbox"},
        "send_mp_weixin": {"delivery": "outbox"},
        "get_msg_type": {"weixin": True, "mail": True, "sms": True, "voice": True},
    },
}


def frontend_missing(name):
    """None when front end name can run here, else what it lacks."""
    need = {
        "lighttpd": ["/usr/sbin/lighttpd"],
        "apache-fcgid": ["/usr/sbin/apache2",
                         APACHE_MODS + "/mod_fcgid.so"],
        "apache-proxy": ["/usr/sbin/apache2",
                         APACHE_MODS + "/mod_proxy_fcgi.so",
                         "/usr/bin/spawn-fcgi"],
        "nginx": ["/usr/sbin/nginx", "/usr/bin/spawn-fcgi"],
    }
    if name not in need:
        return "unknown front end"
    for path in need[name]:
        if not os.path.exists(path):
            return "no " + path
    if name == "apache-fcgid" and unprivileged() and not reachable():
        return "user nobody cannot read %s (mod_fcgid runs the app " \
            "as the server's user)" % TOP
    return None


def frontends():
    """The front ends to test: CMSI_FRONTENDS (comma-separated) if set,
    else all four.  Returns [(name, reason it cannot run or None)]."""
    want = os.environ.get("CMSI_FRONTENDS", "")
    names = [n.strip() for n in want.split(",") if n.strip()] or \
        list(FRONTENDS)
    return [(n, frontend_missing(n)) for n in names]


def unprivileged():
    """(uid, gid) the servers' workers run as when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return (pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
    except KeyError:
        return None


_reach = {}


def reachable():
    """Can nobody read the source tree (schemas, users file, binary)?"""
    if "ok" not in _reach:
        p = subprocess.run(["runuser", "-u", "nobody", "--", "test", "-r",
                            os.path.join(TOP, "conf/schemas/send_mail.json")],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        _reach["ok"] = p.returncode == 0
    return _reach["ok"]


def children(pid):
    """Every process below pid (by /proc parent links)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_gone(pids, secs):
    end = time.time() + secs
    while time.time() < end:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def render_snippet(name, subst):
    """A shipped conf/ snippet with each (old, new) of subst replaced;
    an old that is not there is an error, so the harness cannot drift
    from what operators install."""
    with open(os.path.join(TOP, "conf", name)) as f:
        text = f.read()
    for old, new in subst:
        if isinstance(old, re.Pattern):
            text, n = old.subn(new, text)
        else:
            n = text.count(old)
            text = text.replace(old, new)
        if n == 0:
            raise RuntimeError("conf/%s: %r not found" % (name, old))
    return text


def merge(base, over):
    """over laid onto base, recursively for objects; None deletes a key."""
    for k, v in over.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


class Gateway:
    """A web server + cmsi.fcgi with DEFAULT_CONFIG, overlaid with config.

    frontend: one of FRONTENDS.  launcher: what starts the app where the
    server does not (LAUNCHERS).  maxbody: the web server's body limit in
    bytes (TEST_LIMIT by default; None keeps the shipped snippet's)."""

    def __init__(self, builddir, config=None, procs=1, fakes=(), env=None,
                 frontend="lighttpd", launcher=None, maxbody=TEST_LIMIT):
        if frontend not in FRONTENDS:
            raise ValueError("unknown front end %r" % frontend)
        if launcher is None:
            # Supervised, like production: a crashed app comes back.
            launcher = "multiwatch" if os.path.exists(
                "/usr/bin/multiwatch") else "spawn-fcgi"
        if launcher not in LAUNCHERS:
            raise ValueError("unknown launcher %r" % launcher)
        self.builddir = os.path.abspath(os.path.join(TOP, builddir))
        self.bin = os.path.join(self.builddir, "cmsi.fcgi")
        self.config = merge(json.loads(json.dumps(DEFAULT_CONFIG)),
                            config or {})
        self.procs = procs
        self.env = env or {}
        self.fakes = list(fakes)
        self.frontend = frontend
        self.launcher = launcher
        self.maxbody = maxbody
        self.procs_started = []
        self.server = None
        self.app = None
        self.app_pids = []
        self.log = None
        # PIDs that did not stop on their graceful signal in time and
        # got SIGKILL: a test of stopping looks here, not at a clock.
        self.killed = []

    def start_fakes(self):
        """Starts each fake: {"name", "cmd": [...], "ports": N}.  In cmd
        and later in the config, {dir} is the temp dir, {top} the source
        tree, {pki} a PKI directory shared by all fakes of this run, and
        {NAME.portI} the I-th port given to fake NAME."""
        self.subst = {"{dir}": self.dir, "{top}": TOP,
                      "{pki}": os.path.join(self.dir, "pki")}
        os.makedirs(self.subst["{pki}"], exist_ok=True)
        for fk in self.fakes:
            for i in range(fk.get("ports", 1)):
                self.subst["{%s.port%d}" % (fk["name"], i)] = str(free_port())
        for fk in self.fakes:
            cmd = [self.render(a) for a in fk["cmd"]]
            if cmd[0].endswith(".py"):
                cmd = ["/usr/bin/python3"] + cmd
            log = open(os.path.join(self.dir, "fake-%s.log" % fk["name"]), "wb")
            p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                 cwd=TOP)
            self.procs_started.append((p, log))
            for i in range(fk.get("ports", 1)):
                port = int(self.subst["{%s.port%d}" % (fk["name"], i)])
                if not wait_port(port, 20):
                    raise RuntimeError("fake %s did not start: %s" % (
                        fk["name"], self.read("fake-%s.log" % fk["name"])))

    def render(self, v):
        """Placeholders in strings, lists and objects (see start_fakes)."""
        if isinstance(v, str):
            for k, r in self.subst.items():
                v = v.replace(k, r)
            return v
        if isinstance(v, list):
            return [self.render(x) for x in v]
        if isinstance(v, dict):
            return {k: self.render(x) for k, x in v.items()}
        return v

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="cmsi-e2e-")
        self.runas = unprivileged()
        if self.runas:
            # The servers' workers (nobody) reach their files in here.
            os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.sock = os.path.join(self.dir, "cmsi.sock")
        try:
            self.start_fakes()
            self.config = self.render(self.config)
            os.makedirs(os.path.join(self.dir, "htdocs"))
            os.makedirs(os.path.join(self.dir, "tmp"))
            self.config.setdefault("state_dir", os.path.join(self.dir, "state"))
            self.config.setdefault("schemas_dir", os.path.join(TOP, "conf/schemas"))
            self.config.setdefault("templates_dir", os.path.join(TOP, "templates"))
            self.outbox = os.path.join(self.config["state_dir"], "outbox")
            os.makedirs(self.outbox, exist_ok=True)
            self.conf = os.path.join(self.dir, "cmsi.json")
            with open(self.conf, "w") as f:
                json.dump(self.config, f)
            self.envp = dict(os.environ)
            self.envp.setdefault("ASAN_OPTIONS",
                                 "detect_leaks=1:abort_on_error=0")
            # A TSan build's reports land in the app's log, where
            # check_logs finds them; only third-party internals are
            # suppressed (tests/tsan.supp says which and why).
            self.envp.setdefault("TSAN_OPTIONS", "suppressions=%s" %
                                 os.path.join(TOP, "tests", "tsan.supp"))
            self.envp.update(self.env)
            self.log = open(os.path.join(self.dir, "server.out"), "wb")
            if self.frontend == "lighttpd":
                self.start_lighttpd()
            elif self.frontend == "nginx":
                self.start_app()
                self.start_nginx()
            else:
                if self.frontend == "apache-proxy":
                    self.start_app()
                self.start_apache()
            if not wait_port(self.port):
                raise RuntimeError("%s did not start: %s" % (
                    self.frontend, self.read("server.out") +
                    self.read("error.log") + self.read("app.log")))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    # -- lighttpd: the template make run uses; lighttpd spawns the app.

    def start_lighttpd(self):
        with open(os.path.join(TOP, "conf/lighttpd.conf.in")) as f:
            lc = f.read()
        maxreq = (self.maxbody or LIMIT) // 1024
        for k, v in (("@BASE@", self.dir), ("@PORT@", str(self.port)),
                     ("@BIN@", self.bin),
                     ("@CONF@", self.conf), ("@PROCS@", str(self.procs)),
                     ("@MAXREQ@", str(maxreq))):
            lc = lc.replace(k, v)
        with open(os.path.join(self.dir, "lighttpd.conf"), "w") as f:
            f.write(lc)
        self.server = subprocess.Popen(
            ["/usr/sbin/lighttpd", "-D", "-f",
             os.path.join(self.dir, "lighttpd.conf")],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.envp)

    # -- the app on a Unix socket, for mod_proxy_fcgi and nginx.

    def app_argv(self):
        return [self.bin, "-c", self.conf]

    def start_app(self):
        """Starts the app on self.sock with the configured launcher; its
        stderr goes to app.log.  Run as root, the socket is handed to
        nobody:nogroup (mode 0660), as the systemd unit hands it to the
        web server's group."""
        log = open(os.path.join(self.dir, "app.log"), "ab")
        sf = ["/usr/bin/spawn-fcgi", "-s", self.sock, "-M", "0660"]
        if self.runas:
            sf += ["-U", "nobody", "-G", "nogroup"]
        if self.launcher == "spawn-fcgi" and self.procs > 1:
            # -F forks and exits; the children's pids land in -P.
            pidfile = os.path.join(self.dir, "app.pids")
            subprocess.run(sf + ["-F", str(self.procs), "-P", pidfile,
                                 "--"] + self.app_argv(),
                           stdout=log, stderr=subprocess.STDOUT,
                           env=self.envp, check=True)
            with open(pidfile) as f:
                self.app_pids = [int(x) for x in f.read().split()]
        else:
            if self.launcher == "spawn-fcgi":
                argv = sf + ["-n", "--"] + self.app_argv()
            elif self.launcher == "multiwatch":
                # No -s: Debian 12's multiwatch sends the wrong signal.
                argv = sf + ["-n", "--", "/usr/bin/multiwatch", "-f",
                             str(self.procs), "--"] + self.app_argv()
            elif self.launcher == "self":
                argv = [self.bin, "-c", self.conf, "-s", "unix:" + self.sock]
            else:
                argv = ["systemd-socket-activate", "-l", self.sock]
                for k in SAN_ENV + ("PATH",) + tuple(self.env):
                    if k in self.envp:
                        argv += ["-E", "%s=%s" % (k, self.envp[k])]
                argv += self.app_argv()
            if self.launcher in ("self", "systemd") and self.procs != 1:
                raise ValueError("launcher %s runs one process" %
                                 self.launcher)
            self.app = subprocess.Popen(argv, stdout=log,
                                        stderr=subprocess.STDOUT,
                                        env=self.envp)
            self.app_pids = [self.app.pid]
        log.close()
        end = time.time() + 10
        while not os.path.exists(self.sock):
            if time.time() > end or (self.app and self.app.poll() is not None):
                raise RuntimeError("the app did not listen: " +
                                   self.read("app.log"))
            time.sleep(0.02)
        if self.runas and self.launcher in ("self", "systemd"):
            os.chown(self.sock, *self.runas)

    # -- nginx with the shipped conf/nginx.conf inside a server block.

    def start_nginx(self):
        base = os.path.join(self.dir, "nginx")
        os.makedirs(base)
        shutil.copy("/etc/nginx/fastcgi_params", base)
        limit = self.maxbody or LIMIT
        snippet = render_snippet("nginx.conf", [
            ("/run/cmsi/cmsi.sock", self.sock),
            ("client_max_body_size 8m;", "client_max_body_size %d;" % limit),
            (MOUNTS, TEST_MOUNTS),
        ])
        with open(os.path.join(base, "cmsi.conf"), "w") as f:
            f.write(snippet)
        user = "user nobody nogroup;\n" if self.runas else ""
        with open(os.path.join(base, "nginx.conf"), "w") as f:
            f.write("""%sworker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path %s/body;
    fastcgi_temp_path %s/fastcgi;
    proxy_temp_path %s/proxy;
    uwsgi_temp_path %s/uwsgi;
    scgi_temp_path %s/scgi;
    server {
        listen 127.0.0.1:%d;
        server_name localhost;
        include %s/cmsi.conf;
    }
}
""" % (user, base, self.dir, base, base, base, base, base, self.port, base))
        self.server = subprocess.Popen(
            ["/usr/sbin/nginx", "-p", base + "/", "-c",
             os.path.join(base, "nginx.conf"), "-e",
             os.path.join(self.dir, "error.log"), "-g", "daemon off;"],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.envp)

    # -- Apache with the shipped mod_fcgid or mod_proxy_fcgi snippet.

    def start_apache(self):
        base = os.path.join(self.dir, "apache")
        for d in ("run", "fcgid"):
            os.makedirs(os.path.join(base, d))
        limit = str(self.maxbody or LIMIT)
        mods = ["mpm_event", "authz_core", "alias"]
        extra = ""
        if self.frontend == "apache-fcgid":
            mods.append("fcgid")
            env = "".join(" \\\n\tInitialEnv %s=%s" % (k, self.envp[k])
                          for k in SAN_ENV + tuple(self.env)
                          if k in self.envp)
            snippet = render_snippet("apache-fcgid.conf", [
                ("/usr/local/libexec/cmsi/cmsi.fcgi", self.bin),
                ("/usr/local/libexec/cmsi", self.builddir),
                ("InitialEnv CMSI_CONF=/etc/cmsi/cmsi.json",
                 "InitialEnv CMSI_CONF=%s%s" % (self.conf, env)),
                (re.compile(r"MaxProcesses \d+"),
                 "MaxProcesses %d" % self.procs),
                (re.compile(r"MinProcesses \d+"),
                 "MinProcesses %d" % self.procs),
                ("8388608", limit),
                (MOUNTS, TEST_MOUNTS),
                ("Alias /v1 %s\n" % self.bin,
                 "Alias /v1 %s\nAlias /prod %s\n" % (self.bin, self.bin)),
            ])
            # Where mod_fcgid keeps its sockets and process table, and
            # a spawn rate that lets a benchmark reach MaxProcesses.
            extra = ("FcgidIPCDir %s/fcgid\nFcgidProcessTableFile %s/run/"
                     "fcgid_shm\nFcgidSpawnScoreUpLimit 64\n" % (base, base))
            if self.runas:
                # The app runs as the server's user and writes state.
                os.chown(os.path.join(base, "fcgid"), *self.runas)
                for root, dirs, files in os.walk(self.config["state_dir"]):
                    for n in dirs + files:
                        os.chown(os.path.join(root, n), *self.runas)
                os.chown(self.config["state_dir"], *self.runas)
        else:
            mods += ["env", "proxy", "proxy_fcgi"]
            snippet = render_snippet("apache-proxy-fcgi.conf", [
                ("/run/cmsi/cmsi.sock", self.sock),
                ("8388608", limit),
                (MOUNTS, TEST_MOUNTS),
            ])
        with open(os.path.join(base, "cmsi.conf"), "w") as f:
            f.write(snippet)
        user = "User nobody\nGroup nogroup\n" if self.runas else ""
        load = "".join("LoadModule %s_module %s/mod_%s.so\n" % (m, APACHE_MODS, m)
                       for m in mods)
        with open(os.path.join(base, "httpd.conf"), "w") as f:
            f.write("""ServerRoot "%s"
ServerName 127.0.0.1
Listen 127.0.0.1:%d
PidFile %s/run/httpd.pid
DefaultRuntimeDir %s/run
ErrorLog %s/error.log
LogLevel warn
%s%sDocumentRoot "%s/htdocs"
StartServers 1
ServerLimit 1
ThreadsPerChild 64
MaxRequestWorkers 64
MinSpareThreads 16
MaxSpareThreads 64
GracefulShutdownTimeout 10
KeepAlive On
%s<Directory />
    Require all denied
    AllowOverride None
</Directory>
<Directory "%s/htdocs">
    Require all granted
</Directory>
Include %s/cmsi.conf
""" % (base, self.port, base, base, self.dir, load, user, self.dir, extra,
                self.dir, base))
        self.server = subprocess.Popen(
            ["/usr/sbin/apache2", "-d", base, "-f",
             os.path.join(base, "httpd.conf"), "-DFOREGROUND"],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.envp)

    def app_processes(self):
        """PIDs of the running cmsi.fcgi processes of this gateway,
        whoever spawned them."""
        roots = list(self.app_pids)
        if self.server is not None:
            roots.append(self.server.pid)
        if self.app is not None:
            roots.append(self.app.pid)
        out = []
        for pid in set(roots + sum((children(r) for r in roots), [])):
            try:
                if os.readlink("/proc/%d/exe" % pid) == self.bin and alive(pid):
                    out.append(pid)
            except OSError:
                pass
        return sorted(out)

    def read(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def app_log(self):
        """What the app and the web server wrote: the app's stderr lands
        in app.log (lighttpd's breakagelog, the launcher's redirect) or
        in error.log (mod_fcgid)."""
        return self.read("app.log") + self.read("error.log")

    def audit(self):
        path = os.path.join(self.config["state_dir"], "audit.log")
        if not os.path.exists(path):
            return []
        return [json.loads(l) for l in open(path)]

    def check_logs(self, secrets=()):
        self.stop()
        text = self.app_log() + self.read("server.out")
        for fk in self.fakes:
            text += self.read("fake-%s.log" % fk["name"])
        for s in SANITIZER:
            if s in text:
                i = text.index(s)
                return "sanitizer report: " + text[max(0, i - 200):i + 800]
        for s in list(secrets) + ["demo-secret", "plain-secret"]:
            if s in text:
                return "a secret reached the log: %r" % s
        return None

    def server_stop_signal(self):
        """Each server's graceful stop: in-flight requests finish."""
        return {"lighttpd": signal.SIGINT, "nginx": signal.SIGQUIT,
                "apache-fcgid": signal.SIGWINCH,
                "apache-proxy": signal.SIGWINCH}[self.frontend]

    def stop(self):
        for p, log in self.procs_started:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            log.close()
        self.procs_started = []
        # The web server first, as at a real shutdown; the processes it
        # spawned are waited for so their last words reach the logs.
        below = []
        if self.server is not None and self.server.poll() is None:
            below = children(self.server.pid)
            self.server.send_signal(self.server_stop_signal())
            try:
                self.server.wait(15)
            except subprocess.TimeoutExpired:
                for pid in [self.server.pid] + below:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        self.killed.append(pid)
                    except OSError:
                        pass
                self.server.wait()
        self.stop_app()
        if below and not wait_gone(below, 10):
            for pid in below:
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(pid)
                except OSError:
                    pass
        time.sleep(0.1)

    def stop_app(self):
        """SIGTERM to the launcher (it passes it on) or to each forked
        app; SIGKILL after 10 s."""
        pids = list(self.app_pids)
        if self.app is not None:
            pids += children(self.app.pid)
        for pid in self.app_pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        if self.app is not None:
            try:
                self.app.wait(10)
            except subprocess.TimeoutExpired:
                self.killed.append(self.app.pid)
                self.app.kill()
                self.app.wait()
        if pids and not wait_gone(pids, 10):
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(pid)
                except OSError:
                    pass
        self.app = None
        self.app_pids = []

    def __exit__(self, *exc):
        self.stop()
        if self.log is not None:
            self.log.close()
            self.log = None
        if os.environ.get("CMSI_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
