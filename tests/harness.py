"""Test harness shared by the e2e suite and the benchmarks: renders a
config and a lighttpd.conf into a temp directory, starts lighttpd (which
spawns the app) on a free loopback port, and stops everything by PID."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SANITIZER = ("AddressSanitizer", "runtime error:", "LeakSanitizer",
             "UndefinedBehaviorSanitizer")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
    """lighttpd + cmsi.fcgi with DEFAULT_CONFIG, overlaid with config."""

    def __init__(self, builddir, config=None, procs=1, fakes=(), env=None):
        self.builddir = os.path.abspath(os.path.join(TOP, builddir))
        self.config = merge(json.loads(json.dumps(DEFAULT_CONFIG)),
                            config or {})
        self.procs = procs
        self.env = env or {}
        self.fakes = list(fakes)
        self.procs_started = []

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
        self.port = free_port()
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
        with open(os.path.join(TOP, "conf/lighttpd.conf.in")) as f:
            lc = f.read()
        for k, v in (("@BASE@", self.dir), ("@PORT@", str(self.port)),
                     ("@BIN@", os.path.join(self.builddir, "cmsi.fcgi")),
                     ("@CONF@", self.conf), ("@PROCS@", str(self.procs)),
                     ("@MAXREQ@", "16384")):
            lc = lc.replace(k, v)
        with open(os.path.join(self.dir, "lighttpd.conf"), "w") as f:
            f.write(lc)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.update(self.env)
        self.log = open(os.path.join(self.dir, "lighttpd.out"), "wb")
        self.lighttpd = subprocess.Popen(
            ["/usr/sbin/lighttpd", "-D", "-f",
             os.path.join(self.dir, "lighttpd.conf")],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if not wait_port(self.port):
            self.__exit__(None, None, None)
            raise RuntimeError("lighttpd did not start: " + self.read("lighttpd.out"))
        return self

    def read(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def app_log(self):
        return self.read("app.log") + self.read("error.log")

    def audit(self):
        path = os.path.join(self.config["state_dir"], "audit.log")
        if not os.path.exists(path):
            return []
        return [json.loads(l) for l in open(path)]

    def check_logs(self, secrets=()):
        self.stop()
        text = self.app_log() + self.read("lighttpd.out")
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
        if self.lighttpd.poll() is None:
            self.lighttpd.send_signal(signal.SIGINT)
            try:
                self.lighttpd.wait(10)
            except subprocess.TimeoutExpired:
                self.lighttpd.kill()
                self.lighttpd.wait()
        time.sleep(0.2)

    def __exit__(self, *exc):
        self.stop()
        self.log.close()
        if os.environ.get("CMSI_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
