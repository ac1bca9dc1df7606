#!/usr/bin/python3
"""More than one host (issue 20): two gateways (two lighttpd on two
ports, separate state_dirs) share one real redis-server on a Unix socket
in a temp dir, and one WeCom fake.  Checks: one token fetch across both;
an Idempotency-Key repeated on the other gateway answered from the
first; a rate limit held across both; retries a killed gateway had
claimed delivered by the other, once each; Redis killed and restarted
mid-run.  Without Redis, the rate limit on files.  Counts, never clocks:
the 10/s check bounds what got in by the limiter's own clock (Redis
TIME), which only loosens as the machine slows.

usage: t_redis.py BUILDDIR [check-function...]
"""
import concurrent.futures
import glob
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
import harness  # noqa: E402

BUILDDIR = sys.argv[1]
ONLY = sys.argv[2:]
REDIS = "/usr/bin/redis-server"
USERS = ["u%d" % i for i in range(20)]
SECRET = "corp-secret-1-SECRET"
failed = 0
COUNTS = {}


def report(name, err):
    global failed
    if err:
        failed += 1
        print("FAIL t_redis: %s: %s" % (name, err))
    else:
        print("ok   t_redis: %s" % name)
    sys.stdout.flush()


def wait_for(fn, secs=30):
    end = time.time() + secs
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.1)
    return False


class Redis:
    """A redis-server of its own on DIR/redis.sock, stopped by PID."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cmsi-redis-")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "redis.sock")
        self.proc = None
        self.log = None

    def start(self):
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        # appendonly: what the gateways spooled survives a restart.
        self.proc = subprocess.Popen(
            [REDIS, "--port", "0", "--unixsocket", self.sock,
             "--unixsocketperm", "777", "--dir", self.dir, "--save", "",
             "--appendonly", "yes", "--appendfsync", "always",
             "--daemonize", "no"], stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_for(lambda: self.ping(), 20):
            raise RuntimeError("redis-server did not start")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def cmd(self, *args):
        """One command over RESP; the reply as Python values."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(self.sock)
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        f = s.makefile("rb")
        try:
            return self.parse(f)
        finally:
            f.close()
            s.close()

    def parse(self, f):
        line = f.readline().rstrip(b"\r\n")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            v = f.read(n + 2)[:n]
            return v.decode(errors="replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.parse(f) for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    def ping(self):
        try:
            return self.cmd("PING") == "PONG"
        except OSError:
            return False

    def clock(self):
        """Redis's clock, the one the limiter reads, in seconds."""
        s, us = self.cmd("TIME")
        return int(s) + int(us) / 1e6

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def wechat_fake(*extra):
    return {"name": "wechat", "ports": 1, "cmd": [
        "tests/fakes/wechat_server.py", "--port", "{wechat.port0}",
        "--dir", "{dir}/wechat", "--pki", "{pki}", "--lifetime", "900",
        "--corp", "wwcorp0001:%s:1000002" % SECRET,
        "--users", ",".join(USERS)] + list(extra)}


def config(redis, port="{wechat.port0}", pki="{pki}", retry=None,
           rate=None, comp_rate=None, claim=None):
    qy = {"delivery": None, "wx_type": "qy", "wx_qy_corpid": "wwcorp0001",
          "wx_qy_corpsecret": SECRET, "wx_qy_agentid": "1000002"}
    if retry is not None:
        qy["retry"] = retry
    if comp_rate is not None:
        qy["rate_limit"] = comp_rate
    cfg = {"upstream": {"ca_file": pki + "/ca.pem", "timeout_ms": 3000,
                        "connect_to": [
                            "qyapi.weixin.qq.com:443:127.0.0.1:%s" % port]},
           "apps": {"rl": {"secret": "rl-secret", "skip_user_auth": True,
                           "rate_limit": rate or {"per_second": 10,
                                                  "burst": 10}},
                    "slow": {"secret": "slow-secret", "skip_user_auth": True,
                             "rate_limit": {"per_second": 0.001,
                                            "burst": 5}}},
           "components": {"send_weixin": qy}}
    if redis is not None:
        cfg["redis"] = {"url": "unix:" + redis.sock, "prefix": "t:"}
        if claim is not None:
            cfg["redis"]["claim_after_s"] = claim
    return cfg


def post(g, comp, doc, key=None, app="demo", timeout=30):
    body = {"bk_app_code": app, "bk_app_secret": app + "-secret",
            "bk_username": "admin"}
    body.update(doc)
    req = urllib.request.Request(
        "http://127.0.0.1:%d/api/c/compapi/cmsi/%s/" % (g.port, comp),
        data=json.dumps(body).encode(), method="POST")
    if key is not None:
        req.add_header("Idempotency-Key", key)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def post_v1(g, comp, doc, app):
    req = urllib.request.Request(
        "http://127.0.0.1:%d/api/bk-cmsi/prod/v1/%s/" % (g.port, comp),
        data=json.dumps(doc).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "X-Bkapi-Authorization": json.dumps(
                     {"bk_app_code": app, "bk_app_secret": app + "-secret",
                      "bk_username": "admin"})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def fake_get(g0, path, method="GET"):
    ctx = ssl.create_default_context(cafile=os.path.join(g0.dir, "pki",
                                                         "ca.pem"))
    req = urllib.request.Request(
        "https://127.0.0.1:%s%s" % (g0.subst["{wechat.port0}"], path),
        data=b"{}" if method == "POST" else None, method=method)
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.loads(r.read())


def counts(g0):
    return fake_get(g0, "/_fake/counts")


def wecom_mode(g0, m):
    fake_get(g0, "/_fake/mode?m=" + m, "POST")


def wecom_sent(g0):
    """(tag, user) of every message/send the fake took."""
    out = []
    for f in sorted(glob.glob(os.path.join(g0.dir, "wechat", "*-wecom.json"))):
        try:
            b = json.load(open(f))
        except ValueError:
            continue
        tag = b["text"]["content"].split("\n")[0]
        out += [(tag, u) for u in b["touser"].split("|")]
    return out


def weixin(tag, users):
    return {"receiver": ",".join(users),
            "data": {"heading": tag, "message": "m"}}


class Pair:
    """Two gateways, one Redis, the WeCom fake started by the first."""

    def __init__(self, redis, procs=2, **cfg):
        self.redis = redis
        self.procs = procs
        self.cfg = cfg
        self.g = []

    def __enter__(self):
        g1 = harness.Gateway(BUILDDIR, config(self.redis, **self.cfg),
                             procs=self.procs, fakes=[wechat_fake()])
        g1.__enter__()
        self.g.append(g1)
        try:
            g2 = harness.Gateway(BUILDDIR, config(
                self.redis, port=g1.subst["{wechat.port0}"],
                pki=g1.subst["{pki}"], **self.cfg), procs=self.procs)
            g2.__enter__()
            self.g.append(g2)
        except BaseException:
            g1.__exit__(None, None, None)
            raise
        return self.g

    def __exit__(self, *exc):
        for g in reversed(self.g):
            g.__exit__(*exc)
        return False


def logs_ok(gs):
    for g in gs:
        err = g.check_logs([SECRET, "rl-secret", "slow-secret"])
        if err:
            return err
    return None


def check(name, fn, with_redis=True):
    if ONLY and fn.__name__ not in ONLY:
        return
    redis = Redis() if with_redis else None
    try:
        if redis is not None:
            redis.start()
        err = fn(redis)
    except Exception as e:  # noqa: BLE001
        err = "%s: %s" % (type(e).__name__, e)
    finally:
        if redis is not None:
            redis.close()
    report(name, err)


# -- the checks ---------------------------------------------------------

def t_configtest(redis):
    """-t pings Redis: OK while it answers, a clear refusal when not."""
    d = tempfile.mkdtemp(prefix="cmsi-t-")
    try:
        path = os.path.join(d, "cmsi.json")
        cfg = dict(harness.DEFAULT_CONFIG)
        cfg.update({"state_dir": os.path.join(d, "state"),
                    "schemas_dir": os.path.join(TOP, "conf/schemas"),
                    "templates_dir": os.path.join(TOP, "templates"),
                    "redis": {"url": "unix:" + redis.sock}})
        with open(path, "w") as f:
            json.dump(cfg, f)
        binp = os.path.join(TOP, BUILDDIR, "cmsi.fcgi")
        p = subprocess.run([binp, "-t", "-c", path], capture_output=True,
                           timeout=60)
        if p.returncode != 0:
            return "-t with Redis up: %r" % p.stderr
        redis.stop()
        p = subprocess.run([binp, "-t", "-c", path], capture_output=True,
                           timeout=60)
        if p.returncode == 0 or b"redis: no answer" not in p.stderr:
            return "-t with Redis down: rc %d %r" % (p.returncode, p.stderr)
        cfg["redis"] = {"url": "redis://h:1/99", "bogus": 1}
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([binp, "-t", "-c", path], capture_output=True,
                           timeout=60)
        if p.returncode == 0 or b"redis.bogus: unknown key" not in p.stderr \
                or b"redis.url: the database is 0 to 15" not in p.stderr:
            return "-t on bad keys: %r" % p.stderr
        cfg.pop("redis")
        cfg["apps"] = {"x": {"secret": "s", "rate_limit": {"burst": 2}}}
        cfg["components"] = {"send_mail": {"rate_limit": {
            "per_second": -1}}}
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([binp, "-t", "-c", path], capture_output=True,
                           timeout=60)
        if p.returncode == 0 or \
                b"apps.x.rate_limit: needs per_second" not in p.stderr or \
                b"components.send_mail.rate_limit: per_second" not in p.stderr:
            return "-t on bad rate limits: %r" % p.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return None


def t_one_token(redis):
    """Twenty sends over four workers on two hosts: one gettoken."""
    with Pair(redis) as (g1, g2):
        jobs = []
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            for i in range(20):
                g = (g1, g2)[i % 2]
                jobs.append(ex.submit(post, g, "send_weixin", weixin(
                    "tok%d" % i, [USERS[i]])))
        bad = [j.result() for j in jobs if j.result().get("result") is not True]
        c = counts(g1)
        COUNTS["token fetches (20 sends, 2 hosts)"] = c.get("gettoken")
        if bad:
            return "failed sends: %s" % json.dumps(bad[0])[:300]
        if c.get("gettoken") != 1 or c.get("message_send") != 20:
            return "counts %r" % c
        if not redis.cmd("KEYS", "t:token:*"):
            return "no token in Redis"
        return logs_ok((g1, g2))


def t_idempotent_across(redis):
    """A key answered on one host is answered from it on the other."""
    with Pair(redis) as (g1, g2):
        a = post(g1, "send_weixin", weixin("idem", ["u1", "u2"]), key="k-1")
        b = post(g2, "send_weixin", weixin("idem", ["u1", "u2"]), key="k-1")
        c = post(g2, "send_weixin", weixin("other", ["u3"]), key="k-1")
        sent = wecom_sent(g1)
        dup = len(sent) - len(set(sent))
        COUNTS["duplicates (key repeated on the other host)"] = dup
        if a.get("result") is not True or \
                {k: a[k] for k in ("result", "code", "message", "data")} != \
                {k: b[k] for k in ("result", "code", "message", "data")}:
            return "answers differ: %s / %s" % (json.dumps(a)[:200],
                                                json.dumps(b)[:200])
        if sorted(sent) != [("idem", "u1"), ("idem", "u2")]:
            return "sent %r" % sent
        if c.get("result") is not False or \
                "was already used for a different request" not in c["message"]:
            return "reuse with another body: %s" % json.dumps(c)[:200]
        if not redis.cmd("KEYS", "t:idem:k-*"):
            return "no record in Redis"
        return logs_ok((g1, g2))


def burst(gs, n, app, comp="send_mail", threads=8):
    """n requests spread over gs at once; (accepted, limited, per host)."""
    doc = {"receiver": "a@example.com", "title": "t", "content": "c"}

    def one(i):
        g = gs[i % len(gs)]
        return i % len(gs), post(g, comp, doc, app=app)

    got = {"ok": 0, "limited": 0, "other": 0}
    per = [0] * len(gs)
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        for h, d in ex.map(one, range(n)):
            if d.get("result") is True:
                got["ok"] += 1
            elif d.get("message", "").startswith("Rate limit exceeded: app "):
                got["limited"] += 1
                per[h] += 1
            else:
                got["other"] += 1
                got["example"] = d
    got["per_host_limited"] = per
    return got


def t_rate_shared(redis):
    """A limit of 10/s, burst 10, over both hosts under load: what got in
    is at most the burst plus 10 for each second of Redis's clock; a
    limit that barely refills lets exactly its burst in across both; v1
    answers 429 RATELIMIT_EXCEED."""
    with Pair(redis) as (g1, g2):
        t0 = redis.clock()
        got = burst((g1, g2), 120, "rl", threads=12)
        t1 = redis.clock()
        allowed = 10 + 10 * (t1 - t0) + 1
        COUNTS["10/s over 2 hosts: accepted, limited"] = (
            got["ok"], got["limited"])
        if got["other"]:
            return "unexpected answer: %s" % json.dumps(got["example"])[:300]
        if got["ok"] > allowed or got["ok"] < 10 or got["limited"] == 0:
            return "accepted %d, limited %d, bound %.1f" % (
                got["ok"], got["limited"], allowed)
        slow = burst((g1, g2), 30, "slow")
        COUNTS["burst 5, no refill, 2 hosts: accepted, limited"] = (
            slow["ok"], slow["limited"])
        if slow["ok"] != 5 or slow["limited"] != 25 or \
                0 in slow["per_host_limited"]:
            return "slow app: %r" % slow
        st, d = post_v1(g2, "send_mail", {"receiver": ["a@example.com"],
                                          "title": "t", "content": "c"},
                        "slow")
        if st != 429 or (d.get("error") or {}).get("code") != \
                "RATELIMIT_EXCEED":
            return "v1 answered %d %s" % (st, json.dumps(d)[:300])
        return logs_ok((g1, g2))


def t_rate_files(redis):
    """Without Redis the limit is the host's, on files, across workers."""
    with harness.Gateway(BUILDDIR, config(None), procs=2,
                         fakes=[wechat_fake()]) as g:
        got = burst((g,), 20, "slow")
        if got["ok"] != 5 or got["limited"] != 15:
            return "got %r" % got
        if not glob.glob(os.path.join(g.config["state_dir"], "rate", "*")):
            return "no rate file"
        return g.check_logs([SECRET])


def t_comp_cap(redis):
    """A component's cap refuses without retry, and queues with it."""
    cap = {"per_second": 0.001, "burst": 1}
    with Pair(redis, procs=1, comp_rate=cap) as (g1, g2):
        a = post(g1, "send_weixin", weixin("cap1", ["u1"]))
        b = post(g2, "send_weixin", weixin("cap2", ["u2"]))
        if a.get("result") is not True or b.get("result") is not False or \
                not b["message"].startswith(
                    "Rate limit exceeded: send_weixin allows"):
            return "answers %s / %s" % (json.dumps(a)[:200],
                                        json.dumps(b)[:200])
    redis.cmd("FLUSHALL")
    with Pair(redis, procs=1, comp_rate=cap, retry={
            "attempts": 5, "max_age_s": 600, "backoff_s": 1}) as (g1, g2):
        a = post(g1, "send_weixin", weixin("cap1", ["u1"]))
        b = post(g2, "send_weixin", weixin("cap2", ["u2"]))
        if a.get("result") is not True or b.get("result") is not True or \
                (b.get("data") or {}).get("rate_limited") is not True:
            return "answers %s / %s" % (json.dumps(a)[:200],
                                        json.dumps(b)[:200])
        if [t for t, _ in wecom_sent(g1)] != ["cap1"]:
            return "sent %r" % wecom_sent(g1)
        return logs_ok((g1, g2))


def t_redis_restart(redis):
    """Redis killed mid-run: every request still answered (tokens per
    host, keys per host); restarted: shared again."""
    with Pair(redis) as (g1, g2):
        post(g1, "send_weixin", weixin("before", ["u1"]))
        redis.kill()
        outs = []
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            outs = list(ex.map(lambda i: post(
                (g1, g2)[i % 2], "send_weixin", weixin("down%d" % i,
                                                       [USERS[i]]),
                key="down-%d" % i), range(12)))
        bad = [d for d in outs if d.get("result") is not True]
        if bad:
            return "while down: %s" % json.dumps(bad[0])[:300]
        redis.start()
        # A worker that found Redis down tries again after a second
        # (REDIS_RETRY_S): until then it keeps to its own host.
        time.sleep(1.5)
        a = post(g1, "send_weixin", weixin("after", ["u2"]), key="after")
        b = post(g2, "send_weixin", weixin("after", ["u2"]), key="after")
        sent = [s for s in wecom_sent(g1) if s[0] == "after"]
        COUNTS["sends of one key after the restart, 2 hosts"] = len(sent)
        if a.get("result") is not True or b.get("data") != a.get("data") \
                or len(sent) != 1:
            return "after restart: %r %s" % (sent, json.dumps(b)[:200])
        text = g1.app_log() + g2.app_log()
        if "redis: down" not in text and "redis: connection lost" not in text:
            return "the log does not say Redis went down"
        # /metrics says so too: uses that fell back to the host's files.
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % g1.port,
                                    timeout=30) as r:
            m = re.search(r"^cmsi_redis_fallbacks_total (\d+)$",
                          r.read().decode(), re.M)
        COUNTS["fallbacks to files while Redis was down (host 1)"] = \
            int(m.group(1)) if m else -1
        if not m or int(m.group(1)) < 1:
            return "/metrics does not count the fallbacks"
        return logs_ok((g1, g2))


def kill_gateway(g):
    """SIGKILL to the web server and every app process: a host lost."""
    pids = g.app_processes()
    if g.server is not None:
        os.kill(g.server.pid, signal.SIGKILL)
        g.server.wait(10)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    harness.wait_gone(pids, 10)


def pending(redis):
    """Entries the group has handed out and not acknowledged, per
    consumer."""
    p = redis.cmd("XPENDING", "t:spool:stream", "drain")
    return {c: int(n) for c, n in (p[3] or [])} if p and p[0] else {}


def spool_state(redis):
    """(whether an attempt is under way in Redis: an item's lock held or
    an item marked inflight, the latest "next" of the items)."""
    busy = bool(redis.cmd("KEYS", "t:spool:lock:*"))
    latest = 0
    for k in redis.cmd("KEYS", "t:spool:item:*") or []:
        v = redis.cmd("GET", k)
        try:
            it = json.loads(v) if v is not None else {}
        except ValueError:
            it = {}
        busy = busy or it.get("inflight") is True
        latest = max(latest, int(it.get("next") or 0))
    return busy, latest


def kill_between_attempts(redis, g, secs=60):
    """Kills g's host at a moment none of its workers is inside a
    retry: a kill mid-attempt leaves the item locked for its lease (300
    s) and its next attempt in doubt, which is another check's matter.
    The app processes are stopped (SIGSTOP) and Redis looked at twice:
    a command a worker wrote just before it stopped has been run by the
    second look (Redis answers the first only after reading every
    socket that was ready).  Busy: they run on a moment and it starts
    again.  Returns (entries pending per consumer at the kill, latest
    "next" of the items), or None when they were never found between
    attempts."""
    pids = g.app_processes()
    end = time.time() + secs
    while time.time() < end:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        spool_state(redis)
        busy, latest = spool_state(redis)
        if not busy:
            held = pending(redis)
            kill_gateway(g)
            return held, latest
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    return None


def t_takeover(redis):
    """Retries a killed host had claimed are delivered by the other
    host after claim_after_s, each recipient exactly once."""
    retry = {"attempts": 50, "max_age_s": 600, "backoff_s": 1}
    tags = ["take%d" % i for i in range(8)]
    want = sorted((t, USERS[2 * i + k]) for i, t in enumerate(tags)
                  for k in (0, 1))
    with Pair(redis, retry=retry, claim=2) as (g1, g2):
        wecom_mode(g1, "busy")
        for i, t in enumerate(tags):
            d = post(g1, "send_weixin", weixin(t, [USERS[2 * i],
                                                   USERS[2 * i + 1]]))
            if d.get("result") is not True or \
                    len((d.get("data") or {}).get("queued", [])) != 2:
                return "not queued: %s" % json.dumps(d)[:300]
        if glob.glob(os.path.join(g1.config["state_dir"], "spool", "*.json")):
            return "spooled in files although Redis is up"
        if redis.cmd("XLEN", "t:spool:stream") != len(tags):
            return "stream holds %r" % redis.cmd("XLEN", "t:spool:stream")
        # g1's workers drain after answers: each retry claimed by them.
        if not wait_for(lambda: post(g1, "get_msg_type", {}) and
                        sum(pending(redis).values()) == len(tags), 60):
            return "g1 claimed %r" % pending(redis)
        k = kill_between_attempts(redis, g1)
        if k is None:
            return "g1 never between two attempts: %r" % (spool_state(redis),)
        held, latest = k
        wecom_mode(g1, "ok")
        # The backoff doubles with each of g1's attempts (full jitter):
        # g2 can send only once an item is due, so the wait is counted
        # from the latest "next" the kill left, not from the kill.
        if not wait_for(lambda: post(g2, "get_msg_type", {}) and
                        sorted(s for s in wecom_sent(g1)
                               if s[0] in tags) == want and
                        redis.cmd("XLEN", "t:spool:stream") == 0,
                        90 + max(0, latest - time.time())):
            return "after the kill: sent %r, pending %r" % (
                wecom_sent(g1), pending(redis))
        sent = sorted(s for s in wecom_sent(g1) if s[0] in tags)
        took = sum(int(x.split("took over ")[1].split()[0])
                   for x in g2.app_log().splitlines() if "took over " in x)
        COUNTS["retries claimed by the killed host"] = sum(held.values())
        COUNTS["retries taken over by the other host"] = took
        COUNTS["recipients delivered after the kill (want 16)"] = len(sent)
        if sent != want:
            return "sent %r" % sent
        if took < len(tags):
            return "took over %d" % took
        if redis.cmd("KEYS", "t:spool:item:*"):
            return "items left in Redis"
        retried = [r for r in g2.audit() if r.get("event") == "retry"]
        if not retried or not all(r.get("in_doubt") is None or
                                  r.get("in_doubt") is False for r in retried):
            return "retries on g2: %r" % retried[:2]
        return g2.check_logs([SECRET])


def main():
    if not os.path.exists(REDIS):
        print("skip t_redis: %s is not installed" % REDIS)
        return 0
    check("-t pings Redis, checks redis and rate_limit keys", t_configtest)
    check("one token fetch across two hosts", t_one_token)
    check("Idempotency-Key repeated on the other host", t_idempotent_across)
    check("rate limit held across two hosts, v1 429", t_rate_shared)
    check("rate limit on files without Redis", t_rate_files,
          with_redis=False)
    check("component cap: refused, or queued with retry", t_comp_cap)
    check("retries of a killed host delivered once by the other",
          t_takeover)
    check("Redis killed and restarted mid-run", t_redis_restart)
    for k, v in COUNTS.items():
        print("count t_redis: %s: %s" % (k, v))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
