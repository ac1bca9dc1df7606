#!/usr/bin/python3
"""The request pipeline of issue 18, measured side by side in one run on
this machine (numbers from different runs or machines do not compare:
the machine is shared and loaded).  Loopback only; every run is bounded
by wrk's or the driver's duration.

Within a section every run is cut into 2 s slices taken round-robin
(SECONDS 8: 4 slices each), so the load of the machine drifts over all
of them alike; "spread" is (max - min) / mean of a run's slices.

1. The table.  wrk -t2 -c32 for SECONDS against lighttpd rendered from
   conf/lighttpd.conf.in, 2 processes per mount; each row as req/s and
   as a ratio to the first:
     bare responder  tests/bench/bare_fcgi.c, a libfcgi responder that
                     reads the body and parses it with json-c (the floor)
                     with the 1 KB JSON body below;
     bare, closing at once  the same built from bare_fcgi_now.c: it
                     closes without libfcgi's wait for the web server to
                     hang up, as cmsi.fcgi does; the second ratio column
                     is to it, so that both sides close alike;
     get_msg_type    GET with credentials in the query;
     send_mail       into the outbox, the same 1 KB body;
       the same, state on a journaled ext4: where the temp dirs are on
                     a file system without a journal (this VM's root is
                     one), the outbox row again with state_dir on an
                     ext4 image made by mkfs.ext4's defaults and
                     loop-mounted for the run (root only; otherwise the
                     row says why it is missing);
       the same, state on tmpfs: state_dir on /dev/shm, the gateway's
                     own work with no file system's allocator under it
                     (on an ext4 without a journal the outbox row is
                     mostly the kernel's: see tmpfs_dir);
     send_sms        Tencent Cloud SMS API 3.0 (TC3-signed) over HTTPS to
                     a local nginx answering SendSms with a fixed success
                     for the number sent, on the gateway's kept connection;
     send_weixin     WeCom (wx_type qy): the same nginx answering gettoken
                     (expires_in 7200) and message/send (errcode 0, msgid);
     libcurl loop    tests/bench/bench_curl_https.c: the same SendSms
                     request shape (TC3 headers, the body the gateway
                     posts) to the same nginx (at /loop, so that
                     nginx's count of SendSms calls stays the gateway's),
                     2 processes with one kept connection each, no web
                     server: what an HTTPS call itself costs here, for
                     scale (no ratio).
     bare + HTTPS    tests/bench/bare_fcgi_https.c: the bare responder
                     closing at once that also makes that call (at
                     /relay) per request, through the same lighttpd:
                     the floor of a gateway that only relays, with
                     ratios like the app's rows.  A line after the table
                     puts the rows in machine time per request (cores /
                     req/s, the cores being busy): what send_sms spends
                     beyond that relay, and what a ratio of 0.5 would
                     leave for it.
   A row is valid only with 0 non-2xx, 0 socket errors and 0
   "result=false" in the app's log over its run, and one answer taken
   aside by urllib first saying result true; else it says INVALID.  The
   HTTPS rows also count the calls nginx got and over how many TLS
   connections (2, one per worker, when the connection is kept).
2. The web server's hop: the bare responder and send_mail into the outbox
   among the table's slices, with 2 processes spawned the way lighttpd
   spawns them
   (the listening Unix socket on fd 0) but driven straight over FastCGI by
   tests/bench/fcgi_load.c: 32 clients, a new connection per request as
   lighttpd's mod_fastcgi makes them, the same CGI variables and body.
   lighttpd's cost per request = 1/(lighttpd req/s) - 1/(direct req/s).
3. SMTP: send_mail into a local SMTP sink through lighttpd next to a plain
   libcurl loop sending the same bytes (tests/bench/smtp_bench.py), 1
   process/1 client and 4 processes/8 clients, plus the same through
   fcgi_load.c without lighttpd: the share of the gateway-vs-curl gap
   (per message) that is the web server's hop.
4. Memory: Private_Dirty (/proc/PID/smaps_rollup) of each worker of the
   /api/c/compapi/ mount after 100 warm-up requests, halfway and after
   --requests send_mail into the outbox (default 100,000; counted by the
   app's log lines: the outbox keeps only its newest outbox_keep files),
   with its growth.

usage: pipeline.py BUILDDIR [SECONDS] [--requests N]
                   [--only table,smtp,memory]
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
for d in ("tests", "tests/e2e", "tests/fakes", "tests/bench"):
    sys.path.insert(0, os.path.join(TOP, d))
import harness  # noqa: E402
import pki  # noqa: E402
import smtp_bench  # noqa: E402
from e2e_lib import cgi  # noqa: E402

THREADS, CONNS, PROCS = 2, 32, 2
CREDS = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
         "bk_username": "admin"}
API = "/api/c/compapi/cmsi/"
SMS_TO = "13800000000"
SMS_E164 = "+86" + SMS_TO
TC3 = {"delivery": None, "qcloud_api": "tc3",
       "qcloud_secret_id": "AKIDcmsibench",
       "qcloud_secret_key": "tc3-bench-secret-key",
       "qcloud_sms_sdk_app_id": "1400006666",
       "qcloud_sms_template_id": "1234", "qcloud_sms_sign": "BlueKing"}
WECOM = {"delivery": None, "wx_type": "qy", "wx_qy_corpid": "wwcorpbench",
         "wx_qy_corpsecret": "corp-bench-secret", "wx_qy_agentid": "1000002"}
SMS_OK = {"Response": {"SendStatusSet": [{
    "SerialNo": "5000:104571066915705365784949619", "PhoneNumber": SMS_E164,
    "Fee": 1, "SessionContext": "", "Code": "Ok", "Message": "send success",
    "IsoCode": "CN"}], "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279"}}
TOKEN_OK = {"errcode": 0, "errmsg": "ok",
            "access_token": "bench-token-0123456789abcdef",
            "expires_in": 7200}
SEND_OK = {"errcode": 0, "errmsg": "ok", "msgid": "bench-msgid-0001"}


def json_1k():
    """A send_mail body of exactly 1,024 bytes of JSON."""
    doc = dict(CREDS, receiver="alice@example.com", title="Disk almost full",
               content="")
    pad = 1024 - len(json.dumps(doc)) - len("<p></p>")
    doc["content"] = "<p>" + ("The disk /var is 91% full. " * 40)[:pad] + \
        "</p>"
    raw = json.dumps(doc).encode()
    assert len(raw) == 1024, len(raw)
    return raw


BODY_1K = json_1k()
SMS_BODY = json.dumps(dict(CREDS, receiver=SMS_TO,
                           content="The disk /var is 91% full.")).encode()
WX_BODY = json.dumps(dict(CREDS, receiver="admin", data={
    "heading": "Disk almost full", "message": "The disk /var is 91% full.",
    "date": "2024-05-01 10:00"})).encode()


# -- wrk

def lua_script(tmp, name, body, stop_after=0):
    """A wrk script POSTing body; with stop_after each thread stops
    after that many answers."""
    path = os.path.join(tmp, name + ".lua")
    with open(path, "w") as f:
        if body is not None:
            f.write('wrk.method = "POST"\nwrk.body = %s\n'
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    % json.dumps(body.decode()))
        if stop_after:
            f.write("local n = 0\nfunction response(status, headers, body)\n"
                    "  n = n + 1\n  if n >= %d then wrk.thread:stop() end\n"
                    "end\n" % stop_after)
    return path


def parse_wrk(out):
    """{requests, rps, non2xx, errors (socket errors)} of wrk's
    report."""
    def num(pat, conv=int):
        m = re.search(pat, out)
        return conv(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    return {"requests": num(r"(\d+) requests in"),
            "rps": num(r"Requests/sec:\s+([0-9.]+)", float),
            "non2xx": num(r"Non-2xx or 3xx responses: (\d+)"),
            "errors": sum(int(x) for x in m.groups()) if m else 0}


def wrk(url, secs, script, threads=THREADS, conns=CONNS):
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % secs]
    if script:
        argv += ["-s", script]
    out = subprocess.run(argv + [url], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True).stdout
    return parse_wrk(out)


def wrk_until(url, script, count, target, bound):
    """wrk until count() reaches target (its script stops each thread
    near there), then SIGINT; at most bound seconds."""
    p = subprocess.Popen(["wrk", "-t%d" % THREADS, "-c%d" % CONNS,
                          "-d%ds" % bound, "-s", script, url],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    end = time.time() + bound + 5
    while time.time() < end and p.poll() is None and count() < target:
        time.sleep(0.5)
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    return parse_wrk(out)


# -- FastCGI straight to the processes, without a web server

def fcgi_record(kind, content):
    pad = (8 - len(content) % 8) % 8
    return struct.pack("!BBHHBx", 1, kind, 1, len(content), pad) + \
        content + b"\0" * pad


def fcgi_request(method, uri, body):
    """One responder request (keep-conn off, as lighttpd sends it) with
    the CGI variables lighttpd passes for it."""
    def ln(n):
        return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
    params = cgi(method, uri, body or b"", HTTP_HOST="127.0.0.1",
                 SERVER_NAME="127.0.0.1", SERVER_ADDR="127.0.0.1",
                 SERVER_PORT="80", REMOTE_PORT="40000",
                 GATEWAY_INTERFACE="CGI/1.1", SERVER_SOFTWARE="lighttpd",
                 REQUEST_SCHEME="http", DOCUMENT_ROOT="/tmp",
                 SCRIPT_FILENAME="/tmp" + uri.split("?")[0],
                 REDIRECT_STATUS="200", HTTP_CONTENT_TYPE="application/json")
    p = b"".join(ln(len(k)) + ln(len(v)) + k.encode() + v.encode()
                 for k, v in params.items())
    msg = fcgi_record(1, struct.pack("!HB5x", 1, 0))
    for i in range(0, len(p), 65535):
        msg += fcgi_record(4, p[i:i + 65535])
    msg += fcgi_record(4, b"")
    if body:
        msg += fcgi_record(5, body)
    return msg + fcgi_record(5, b"")


class Direct:
    """procs copies of binary on one listening Unix socket passed as fd
    0, the way lighttpd's bin-path spawns them, and no web server.
    config: an overlay of harness.DEFAULT_CONFIG (None: no config)."""

    def __init__(self, binary, procs, config=None):
        self.binary, self.procs, self.config = binary, procs, config
        self.kids = []

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="cmsi-bench-direct-")
        self.sock = os.path.join(self.dir, "app.sock")
        env = dict(os.environ)
        if self.config is not None:
            env["CMSI_CONF"] = self.write_config()
        s = socket.socket(socket.AF_UNIX)
        s.bind(self.sock)
        s.listen(1024)
        self.logf = open(os.path.join(self.dir, "app.log"), "wb")
        try:
            for _ in range(self.procs):
                self.kids.append(subprocess.Popen(
                    [self.binary], stdin=s.fileno(), stdout=self.logf,
                    stderr=self.logf, env=env))
        finally:
            s.close()
        time.sleep(0.3)
        return self

    def write_config(self):
        cfg = harness.merge(json.loads(json.dumps(harness.DEFAULT_CONFIG)),
                            self.config)
        cfg.update(state_dir=os.path.join(self.dir, "state"),
                   schemas_dir=os.path.join(TOP, "conf/schemas"),
                   templates_dir=os.path.join(TOP, "templates"))
        os.makedirs(os.path.join(cfg["state_dir"], "outbox"))
        path = os.path.join(self.dir, "cmsi.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def log(self):
        with open(os.path.join(self.dir, "app.log"), errors="replace") as f:
            return f.read()

    def __exit__(self, *exc):
        for k in self.kids:
            k.terminate()
        for k in self.kids:
            try:
                k.wait(10)
            except subprocess.TimeoutExpired:
                k.kill()
                k.wait()
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def request_file(tmp, name, request):
    path = os.path.join(tmp, name + ".fcgi")
    with open(path, "wb") as f:
        f.write(request)
    return path


def fcgi_load(builddir, sock, path, secs, conns):
    """fcgi_load.c with the request in file path: {requests, secs, rps,
    non2xx, errors (failed requests)}."""
    out = subprocess.run([os.path.join(harness.TOP, builddir,
                                       "tests/fcgi_load"), sock, path,
                          str(secs), str(conns)],
                         stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"(\d+) requests in ([0-9.]+) s, (\d+) non-2xx, "
                  r"(\d+) failed", out)
    if not m:
        return {"requests": 0, "secs": float(secs), "rps": 0.0,
                "non2xx": 0, "errors": 1}
    n, t = int(m.group(1)), float(m.group(2))
    return {"requests": n, "secs": t, "rps": n / t,
            "non2xx": int(m.group(3)), "errors": int(m.group(4))}


# -- the HTTPS stand-in

class Nginx:
    """Debian's nginx on a free loopback port, HTTPS with a certificate
    for the real API hosts from a throwaway CA (tests/fakes/pki.py),
    keep-alive on, answering SendSms, gettoken and message/send with
    fixed successes; its access log says which connection carried each
    call."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "nginx")
        os.makedirs(self.dir)
        self.port = harness.free_port()
        self.ca = os.path.join(self.dir, "ca.pem")
        self.proc = None

    def connect_to(self, host):
        """libcurl's CONNECT_TO entry sending host's HTTPS here."""
        return "%s:443:127.0.0.1:%d" % (host, self.port)

    def conf(self, cert, key):
        d = self.dir
        temps = "".join("    %s_temp_path %s/%s;\n" % (t, d, t) for t in
                        ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return """worker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 1024; }
http {
%s    log_format conn '$connection $connection_requests $uri';
    access_log %s/access.log conn;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    default_type application/json;
    server {
        listen 127.0.0.1:%d ssl;
        ssl_certificate %s;
        ssl_certificate_key %s;
        location = / { return 200 '%s'; }
        location = /loop { return 200 '%s'; }
        location = /relay { return 200 '%s'; }
        location = /cgi-bin/gettoken { return 200 '%s'; }
        location = /cgi-bin/message/send { return 200 '%s'; }
        location / { return 404; }
    }
}
""" % (d, d, temps, d, self.port, cert, key, json.dumps(SMS_OK),
            json.dumps(SMS_OK), json.dumps(SMS_OK), json.dumps(TOKEN_OK),
            json.dumps(SEND_OK))

    def __enter__(self):
        cert, key = pki.make_leaf(self.dir, ["sms.tencentcloudapi.com",
                                             "qyapi.weixin.qq.com",
                                             "127.0.0.1"])
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(self.conf(cert, key))
        self.proc = subprocess.Popen(
            ["/usr/sbin/nginx", "-p", self.dir, "-c", path, "-e",
             os.path.join(self.dir, "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if not harness.wait_port(self.port):
            self.__exit__()
            raise RuntimeError("nginx did not start")
        return self

    def calls(self, uri):
        """(calls to uri, distinct connections that carried them)."""
        conns, n = set(), 0
        try:
            with open(os.path.join(self.dir, "access.log")) as f:
                for line in f:
                    c, _, u = line.split()
                    if u == uri:
                        n += 1
                        conns.add(c)
        except OSError:
            pass
        return n, len(conns)

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return False


def upstream_config(ng):
    return {"upstream": {"ca_file": ng.ca, "timeout_ms": 10000,
                         "connect_to": [
                             ng.connect_to("sms.tencentcloudapi.com"),
                             ng.connect_to("qyapi.weixin.qq.com")]},
            "components": {"send_sms": TC3, "send_weixin": WECOM}}


# -- interleaving: every run of a section in 2 s slices, round-robin,
# so that the machine's load drifts over all of them alike.

def slices(secs):
    """(rounds, seconds per slice) for secs seconds per run."""
    rounds = max(1, secs // 2)
    return rounds, secs // rounds


def merge(results):
    """One run of its slices: summed counts, the mean of the slices'
    rates and their spread ((max - min) / mean, in %)."""
    rps = [r["rps"] for r in results]
    mean = sum(rps) / len(rps)
    out = {k: sum(r.get(k, 0) for r in results)
           for k in ("requests", "non2xx", "errors")}
    out.update(rps=mean, spread=100 * (max(rps) - min(rps)) / mean
               if mean else 0.0)
    return out


def interleave(runs, secs):
    """runs: [(key, fn(seconds) -> {requests, rps, non2xx, errors})],
    each run for secs seconds in all, one slice of each per round, the
    order turned by one every round.  Returns {key: merge(slices)}."""
    rounds, sl = slices(secs)
    got = {k: [] for k, _ in runs}
    for i in range(rounds):
        for j in range(len(runs)):
            k, fn = runs[(i + j) % len(runs)]
            got[k].append(fn(sl))
    return {k: merge(v) for k, v in got.items()}


def wrk_run(port, path, body, tmp, name):
    script = lua_script(tmp, name, body) if body is not None else None
    url = "http://127.0.0.1:%d%s" % (port, path)
    return lambda secs: wrk(url, secs, script)


def load_run(builddir, sock, path, body, tmp, name, conns=CONNS):
    req = request_file(tmp, name, fcgi_request(
        "POST" if body is not None else "GET", path, body))
    return lambda secs: fcgi_load(builddir, sock, req, secs, conns)


# -- the table and the web server's hop

BARE = "bare responder, 1 KB JSON parse"
BARE_NOW = "bare responder, closing at once"
# (row, component, path, body, nginx's uri and what its calls are)
APP_ROWS = (
    ("get_msg_type", "get_msg_type", API + "get_msg_type/?" +
     "&".join("%s=%s" % kv for kv in CREDS.items()), None, None),
    ("send_mail into the outbox (1 KB)", "send_mail", API + "send_mail/",
     BODY_1K, None),
    ("send_sms, API 3.0, nginx HTTPS", "send_sms", API + "send_sms/",
     SMS_BODY, ("/", "SendSms calls")),
    ("send_weixin, WeCom, nginx HTTPS", "send_weixin", API + "send_weixin/",
     WX_BODY, ("/cgi-bin/message/send", "message/send calls")),
)
HOP_ROWS = ((BARE, BARE + ", direct"),
            (APP_ROWS[1][0], APP_ROWS[1][0] + ", direct"))
OUTBOX_J = "  the same, state on a journaled ext4"
OUTBOX_T = "  the same, state on tmpfs"
CURL_HTTPS = "libcurl loop to the same nginx"
BARE_HTTPS = "bare responder + one HTTPS call"
# What the gateway posts for SMS_BODY (qcloud_sms.c, sms_tc3_build).
TC3_SEND = json.dumps({
    "PhoneNumberSet": [SMS_E164], "SmsSdkAppId": TC3["qcloud_sms_sdk_app_id"],
    "SignName": TC3["qcloud_sms_sign"],
    "TemplateId": TC3["qcloud_sms_template_id"],
    "TemplateParamSet": ["The disk /var is 91% full."],
    "SessionContext": "0123456789abcdef0123456789abcdef"},
    separators=(",", ":"))


def spot(port, path, body):
    """One request by urllib: its JSON answer, or {"error": ...}."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=body)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as f:
            return json.loads(f.read())
    except (OSError, ValueError) as e:
        return {"error": str(e)}


def verdict(r, false=0, doc=None):
    """What makes run r no valid number (empty when it is one): non-2xx,
    socket errors or failed requests, result=false in the app's log, a
    spot check (doc, one answer taken aside) without result true."""
    bad = []
    if r["non2xx"]:
        bad.append("%d non-2xx" % r["non2xx"])
    if r["errors"]:
        bad.append("%d socket errors or failed requests" % r["errors"])
    if false:
        bad.append("%d answers result=false in the app's log" % false)
    if doc is not None and doc.get("result") is not True:
        bad.append("spot check: %s" % json.dumps(doc)[:200])
    return bad


def bare_gateway(builddir, name="bare_fcgi", config=None):
    """harness.Gateway with a bare responder as the binary lighttpd
    spawns: the very same lighttpd setup as the app's."""
    g = harness.Gateway(builddir, config, procs=PROCS)
    g.bin = os.path.join(harness.TOP, builddir, "tests", name)
    return g


def https_relay(builddir, ng):
    """tests/bench/bare_fcgi_https.c's gateway: the bare responder that
    also makes send_sms's call to nginx, reading where from CMSI_CONF."""
    return bare_gateway(builddir, "bare_fcgi_https", {"bench_https": {
        "url": "https://sms.tencentcloudapi.com/relay", "ca": ng.ca,
        "connect_to": ng.connect_to("sms.tencentcloudapi.com"),
        "body": TC3_SEND}})


def https_loop(builddir, ng):
    """tests/bench/bench_curl_https.c against nginx's SendSms: what an
    HTTPS call costs here without a gateway or a web server."""
    def run(secs):
        out = subprocess.run([
            os.path.join(harness.TOP, builddir, "tests/bench_curl_https"),
            "https://sms.tencentcloudapi.com/loop", ng.ca,
            ng.connect_to("sms.tencentcloudapi.com"), TC3_SEND,
            str(secs), str(PROCS)], stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r": (\d+) calls in ([0-9.]+) s: .*, (\d+) failed",
                      out)
        if m is None:
            return {"requests": 0, "rps": 0.0, "non2xx": 0, "errors": 1}
        return {"requests": int(m.group(1)),
                "rps": int(m.group(1)) / float(m.group(2)),
                "non2xx": int(m.group(3)), "errors": 0}
    return run


def table(builddir, secs, tmp):
    """Every row of the table and of the hop, interleaved: {row: run}
    with "bad" (verdict) and "notes" added."""
    bare_bin = os.path.join(harness.TOP, builddir, "tests/bare_fcgi")
    app_bin = os.path.join(harness.TOP, builddir, "cmsi.fcgi")
    mail = API + "send_mail/"
    with contextlib.ExitStack() as st:
        bare = st.enter_context(bare_gateway(builddir))
        now = st.enter_context(bare_gateway(builddir, "bare_fcgi_now"))
        ng = st.enter_context(Nginx(tmp))
        g = st.enter_context(harness.Gateway(builddir, upstream_config(ng),
                                             procs=PROCS))
        relay = st.enter_context(https_relay(builddir, ng))
        dbare = st.enter_context(Direct(bare_bin, PROCS))
        dapp = st.enter_context(Direct(app_bin, PROCS, {}))
        jmnt, jwhy = st.enter_context(journaled_ext4(tmp))
        gj = None
        if jmnt is not None:
            gj = st.enter_context(harness.Gateway(
                builddir, {"state_dir": os.path.join(jmnt, "state")},
                procs=PROCS))
        tdir = st.enter_context(tmpfs_dir())
        gt = None
        if tdir is not None:
            gt = st.enter_context(harness.Gateway(
                builddir, {"state_dir": os.path.join(tdir, "state")},
                procs=PROCS))
        docs = {BARE: spot(bare.port, mail, BODY_1K)}
        docs[BARE_NOW] = spot(now.port, mail, BODY_1K)
        runs = [(BARE, wrk_run(bare.port, mail, BODY_1K, tmp, "bare")),
                (BARE_NOW, wrk_run(now.port, mail, BODY_1K, tmp, "bare"))]
        for name, comp, path, body, _ in APP_ROWS:
            docs[name] = spot(g.port, path, body)
            runs.append((name, wrk_run(g.port, path, body, tmp, comp)))
        if gj is not None:
            docs[OUTBOX_J] = spot(gj.port, mail, BODY_1K)
            runs.append((OUTBOX_J, wrk_run(gj.port, mail, BODY_1K, tmp,
                                           "mail")))
        if gt is not None:
            docs[OUTBOX_T] = spot(gt.port, mail, BODY_1K)
            runs.append((OUTBOX_T, wrk_run(gt.port, mail, BODY_1K, tmp,
                                           "mail")))
        runs.append((CURL_HTTPS, https_loop(builddir, ng)))
        docs[BARE_HTTPS] = spot(relay.port, mail, BODY_1K)
        runs.append((BARE_HTTPS, wrk_run(relay.port, mail, BODY_1K, tmp,
                                         "bare")))
        runs.append((HOP_ROWS[0][1], load_run(builddir, dbare.sock, mail,
                                              BODY_1K, tmp, "bare")))
        runs.append((HOP_ROWS[1][1], load_run(builddir, dapp.sock, mail,
                                              BODY_1K, tmp, "mail")))
        res = interleave(runs, secs)
        time.sleep(0.3)
        log = g.app_log()
        false = {name: log.count("component=%s result=false" % comp)
                 for name, comp, _, _, _ in APP_ROWS}
        false[HOP_ROWS[1][1]] = dapp.log().count("result=false")
        if gj is not None:
            false[OUTBOX_J] = gj.app_log().count("result=false")
        if gt is not None:
            false[OUTBOX_T] = gt.app_log().count("result=false")
        for name, r in res.items():
            r["bad"] = verdict(r, false.get(name, 0), docs.get(name))
            r["notes"] = []
        if gj is not None:
            res[OUTBOX_J]["notes"].append(
                "a %d MiB image made by mkfs.ext4 with its defaults, "
                "loop-mounted" % (JIMG_BYTES >> 20))
        else:
            res[OUTBOX_J] = {"rps": 0.0, "non2xx": 0, "spread": 0.0,
                             "bad": [], "notes": [jwhy], "absent": True}
        if gt is not None:
            res[OUTBOX_T]["notes"].append(
                "the gateway's own cost, no disk under it (%s)" % tdir)
        else:
            res[OUTBOX_T] = {"rps": 0.0, "non2xx": 0, "spread": 0.0,
                             "bad": [], "notes": ["not measured: no "
                                                  "/dev/shm"],
                             "absent": True}
        for name, _, _, _, up in APP_ROWS:
            if up:
                n, c = ng.calls(up[0])
                res[name]["notes"].append("nginx: %d %s over %d TLS "
                                          "connection(s)" % (n, up[1], c))
        res[APP_ROWS[3][0]]["notes"].append(
            "%d gettoken" % ng.calls("/cgi-bin/gettoken")[0])
        res[CURL_HTTPS]["notes"].append(
            "%d processes, one kept connection each, no web server" % PROCS)
        res[BARE_HTTPS]["notes"].append(
            "the bare responder closing at once, plus send_sms's call to "
            "the same nginx on a kept connection: %d calls"
            % ng.calls("/relay")[0])
    return res


def print_table(res, secs):
    rounds, sl = slices(secs)
    print("pipeline (lighttpd, %d procs per mount, wrk -t%d -c%d -d%ds, "
          "as %d interleaved slices of %d s per row)"
          % (PROCS, THREADS, CONNS, secs, rounds, sl))
    print("%-36s %9s %7s %7s %8s %7s  %s" % ("row", "req/s", "ratio",
                                            "ratio2", "non-2xx", "spread",
                                            "notes"))
    floor, floor2 = res[BARE]["rps"], res[BARE_NOW]["rps"]
    names = [BARE, BARE_NOW] + [a[0] for a in APP_ROWS]
    names.insert(names.index(APP_ROWS[1][0]) + 1, OUTBOX_J)
    names.insert(names.index(OUTBOX_J) + 1, OUTBOX_T)
    names.append(BARE_HTTPS)
    for name in names:
        r = res[name]
        notes = "; ".join(r["notes"])
        if r.get("absent"):
            print("%-36s %9s %7s %7s %8s %7s  %s" % (name, "-", "-", "-",
                                                    "-", "-", notes))
            continue
        if r["bad"]:
            notes = "INVALID, NOT A VALID NUMBER: " + ", ".join(r["bad"]) + \
                ("; " + notes if notes else "")
        print("%-36s %9.0f %7.2f %7.2f %8d %6.0f%%  %s" % (
            name, r["rps"], r["rps"] / floor if floor else 0.0,
            r["rps"] / floor2 if floor2 else 0.0, r["non2xx"],
            r["spread"], notes))
    r, sms = res[CURL_HTTPS], res[APP_ROWS[2][0]]
    print("%-36s %9.0f %7s %7s %8d %6.0f%%  %s%s" % (
        CURL_HTTPS, r["rps"], "-", "-", r["non2xx"], r["spread"],
        "; ".join(r["notes"] + (["INVALID, NOT A VALID NUMBER: " +
                                 ", ".join(r["bad"])] if r["bad"] else [])),
        "; send_sms reaches %.2f of it" % (sms["rps"] / r["rps"])
        if r["rps"] else ""))
    rl = res[BARE_HTTPS]
    if r["rps"] and sms["rps"] and rl["rps"] and floor and floor2:
        cpus = os.cpu_count() or 1
        tb, tb2, tc, tr, ts = (1e6 * cpus / x for x in (
            floor, floor2, r["rps"], rl["rps"], sms["rps"]))
        print("machine time per request (%d cores / req/s): bare responder "
              "closing at once %.0f us, one HTTPS call %.0f us (their sum "
              "%.0f us), the bare responder making that call %.0f us, "
              "send_sms %.0f us: send_sms's own work beyond the relay "
              "%.0f us; at 0.5 of the bare responder (%.0f us) that would "
              "be %.0f us" % (cpus, tb2, tc, tb2 + tc, tr, ts, ts - tr,
                              2 * tb, 2 * tb - tr))
    print("(ratio: to the bare responder as the issue defines it, closing "
          "the way libfcgi does by default, shutdown and then a wait for "
          "the web server to hang up; ratio2: to the same responder "
          "closing at once after reading the body to its end, as cmsi.fcgi "
          "does, so that both sides close alike.  valid: 0 non-2xx, 0 "
          "socket errors and 0 result=false in the app's log over the run, "
          "and one answer taken aside first says result true; else the row "
          "says INVALID.  spread: (max - min) / mean of the slices' req/s)")


def print_hop(res):
    print()
    print("web server hop: the same requests to the same %d processes "
          "(socket on fd 0, as lighttpd spawns them) straight over FastCGI "
          "by tests/bench/fcgi_load.c, %d clients, a new connection per "
          "request as lighttpd's mod_fastcgi makes them, interleaved with "
          "the table's slices; hop = 1/lighttpd - 1/direct per request, "
          "share = hop / (1/lighttpd)" % (PROCS, CONNS))
    print("%-36s %9s %9s %11s %9s %7s" % ("row", "lighttpd", "direct",
                                         "hop us/req", "hop share",
                                         "spread"))
    for via, direct in HOP_ROWS:
        lr, dr = res[via], res[direct]
        line = "%-36s %9.0f %9.0f" % (via, lr["rps"], dr["rps"])
        if lr["rps"] and dr["rps"]:
            cost = 1e6 / lr["rps"] - 1e6 / dr["rps"]
            line += " %11.0f %8.0f%%" % (cost, 100 * cost * lr["rps"] / 1e6)
        else:
            line += " %11s %9s" % ("-", "-")
        line += " %6.0f%%" % dr["spread"]
        if dr["bad"]:
            line += "  INVALID, NOT A VALID NUMBER: " + ", ".join(dr["bad"])
        print(line)


# -- SMTP

def sink_run(sink, fn):
    """fn(secs) as a run counted by the messages the sink got."""
    def run(secs):
        before = smtp_bench.sink_count(sink.count)
        r = fn(secs)
        time.sleep(0.2)
        got = smtp_bench.sink_count(sink.count) - before
        took = r.get("secs", secs)
        return dict(r, requests=got, rps=got / took)
    return run


def curl_slice(builddir, sink, procs):
    def run(secs):
        rate, sent = smtp_bench.curl_run(builddir, sink.port, sink.first,
                                         procs, secs)
        return {"requests": sent, "rps": rate, "non2xx": 0,
                "errors": 0 if sent else 1}
    return run


def smtp_pair(builddir, sink, procs, threads, conns, secs, tmp):
    """One PAIRS entry: lighttpd, direct and curl interleaved."""
    cfg = smtp_bench.config(sink.port)
    body = json.dumps(smtp_bench.BODY).encode()
    path = "/api/c/compapi/v2/cmsi/send_mail/"
    script = lua_script(tmp, "smtp", body)
    with harness.Gateway(builddir, cfg, procs=procs) as g, \
            Direct(os.path.join(harness.TOP, builddir, "cmsi.fcgi"), procs,
                   cfg) as d:
        url = "http://127.0.0.1:%d%s" % (g.port, path)
        res = interleave([
            ("lighttpd", sink_run(sink, lambda s: wrk(
                url, s, script, threads, conns))),
            ("direct", sink_run(sink, load_run(
                builddir, d.sock, path, body, tmp, "smtp", conns))),
            ("curl", curl_slice(builddir, sink, procs))], secs)
        time.sleep(0.3)
        res["lighttpd"]["false"] = g.app_log().count("result=false")
        res["direct"]["false"] = d.log().count("result=false")
    return res


def smtp(builddir, secs, tmp):
    out = []
    with smtp_bench.Sink(builddir, tmp) as sink:
        for procs, threads, conns in smtp_bench.PAIRS:
            out.append((procs, conns, smtp_pair(builddir, sink, procs,
                                                threads, conns, secs, tmp)))
        size = sink.size()
    print()
    print("SMTP: send_mail (one recipient, %d-byte message) into "
          "tests/bench/smtp_sink.c, msg/s the sink got, %d s each, "
          "interleaved: through lighttpd (wrk), straight over FastCGI "
          "(fcgi_load.c, no lighttpd), and a plain libcurl loop sending the "
          "same bytes (one kept connection per process); ratio = lighttpd / "
          "curl; hop share = (1/lighttpd - 1/direct) / (1/lighttpd - "
          "1/curl), the part of the per-message gap to curl that is "
          "lighttpd's hop (near 0 or below: no hop to measure)"
          % (size, secs))
    print("%-16s %9s %9s %9s %7s %9s  %s" % ("procs/clients", "lighttpd",
                                            "direct", "curl", "ratio",
                                            "hop share", "notes"))
    for procs, conns, res in out:
        app, direct, floor = (res[k]["rps"] for k in
                              ("lighttpd", "direct", "curl"))
        share = "-"
        if app and direct and floor and 1 / app > 1 / floor:
            share = "%.0f%%" % (100 * (1 / app - 1 / direct) /
                                (1 / app - 1 / floor))
        bad = []
        for k in ("lighttpd", "direct", "curl"):
            bad += ["%s: %s" % (k, b) for b in
                    verdict(res[k], res[k].get("false", 0))]
        print("%-16s %9.0f %9.0f %9.0f %7.2f %9s  %s" % (
            "%d/%d" % (procs, conns), app, direct, floor,
            app / floor if floor else 0.0, share,
            "INVALID, NOT A VALID NUMBER: " + ", ".join(bad) if bad else
            "spread %.0f%%/%.0f%%/%.0f%%" % tuple(
                res[k]["spread"] for k in ("lighttpd", "direct", "curl"))))


# -- memory

def socket_paths():
    """{inode: path} of the Unix sockets with a path."""
    out = {}
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8:
                out[parts[6]] = parts[7]
    return out


def mount_workers(g, name="cmsi.sock"):
    """The app processes lighttpd spawned on the /api/c/compapi/ mount:
    those whose fd 0 is g.dir/cmsi.sock-N.  lighttpd may still be
    spawning them as its port opens: up to 10 s for all PROCS."""
    end = time.time() + 10
    while True:
        paths, out = socket_paths(), []
        for pid in g.app_processes():
            try:
                link = os.readlink("/proc/%d/fd/0" % pid)
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]", link)
            path = paths.get(m.group(1), "") if m else ""
            if os.path.dirname(path) == g.dir and \
                    os.path.basename(path).startswith(name + "-"):
                out.append(pid)
        if len(out) >= PROCS or time.time() > end:
            return out
        time.sleep(0.1)


def private_dirty(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Private_Dirty:"):
                return int(line.split()[1])
    return 0


class LogCount:
    """Lines of a growing log that hold needle, read incrementally (the
    outbox is no counter: the app keeps its newest outbox_keep files)."""

    def __init__(self, path, needle):
        self.path, self.needle = path, needle
        self.off, self.n, self.tail = 0, 0, b""

    def __call__(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                chunk = f.read()
        except OSError:
            return self.n
        self.off += len(chunk)
        lines = (self.tail + chunk).split(b"\n")
        self.tail = lines.pop()
        self.n += sum(1 for x in lines if self.needle in x)
        return self.n


def sample(pids):
    """{pid: Private_Dirty kB, or None once the process is gone}."""
    return {p: private_dirty(p) if harness.alive(p) else None for p in pids}


def memory(builddir, requests, tmp):
    """Private_Dirty of the mount's workers after the warm-up, halfway
    and at the end: growth that goes on past halfway is a leak, growth
    that stops is caches filling."""
    url = "http://127.0.0.1:%%d%ssend_mail/" % API
    errs = 0
    with harness.Gateway(builddir, procs=PROCS) as g:
        pids = mount_workers(g)
        count = LogCount(os.path.join(g.dir, "app.log"),
                         b"component=send_mail result=true")
        wrk_until(url % g.port, lua_script(tmp, "warm", BODY_1K, 50),
                  count, 100, 60)
        time.sleep(0.3)
        warm = count()
        marks = [sample(pids)]
        for n in (requests // 2, requests - requests // 2):
            base = count()
            r = wrk_until(url % g.port, lua_script(
                tmp, "mem", BODY_1K, -(-n // THREADS)), count, base + n,
                max(120, n // 50))
            errs += r["non2xx"] + r["errors"]
            time.sleep(0.5)
            marks.append(sample(pids))
        done = count() - warm
        log = g.app_log()
    print()
    print("memory: the %d workers of the /api/c/compapi/ mount, "
          "Private_Dirty from /proc/PID/smaps_rollup, after %d warm-up "
          "requests, halfway and after %d more send_mail into the outbox "
          "(1 KB body, wrk -t%d -c%d; counted by the app's result=true log "
          "lines)" % (len(pids), warm, done, THREADS, CONNS))
    false = log.count("result=false")
    if errs or false or done < requests or len(pids) != PROCS:
        print("memory: INVALID: %d non-2xx or socket errors, %d "
              "result=false, %d of %d requests, %d workers found" % (
                  errs, false, done, requests, len(pids)))
    for p in pids:
        served = len(re.findall(r"cmsi\[%d\] .*component=send_mail "
                                r"result=true" % p, log))
        start, mid, end = (m[p] for m in marks)
        if mid is None or end is None:
            print("memory: pid %d: start %d kB; GONE before the end "
                  "(restarted?)" % (p, start))
            continue
        print("memory: pid %d: start %d kB, halfway %d kB, end %d kB, "
              "growth %+d kB (%+d kB in the second half; %d requests "
              "served in all)" % (p, start, mid, end, end - start,
                                  end - mid, served))


def fs_type(path):
    """The file system path is on (the outbox's, the logs'): its type,
    and for ext3/ext4 whether it has a journal.  Without one, ext4's
    inode allocator skips every inode freed in the last seconds, reading
    each one's inode table block (ialloc.c, recently_deleted()), which
    a directory that creates and deletes a file per message feels."""
    best, kind, dev = "", "?", ""
    with open("/proc/mounts") as f:
        for line in f:
            src, mnt, typ = line.split()[0:3]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and \
                    len(mnt) >= len(best):
                best, kind, dev = mnt, typ, src
    if kind in ("ext3", "ext4") and dev.startswith("/dev/"):
        name = os.path.basename(os.path.realpath(dev))
        try:
            jbd = [n for n in os.listdir("/proc/fs/jbd2")
                   if n.rsplit("-", 1)[0] == name]
        except OSError:
            jbd = []
        kind += ", journal" if jbd else ", no journal"
    return kind


JIMG_BYTES = 2 << 30


@contextlib.contextmanager
def tmpfs_dir():
    """A directory on /dev/shm for this run, or None.  The outbox row on
    a disk measures the file system as much as the gateway: on this
    VM's ext4 without a journal, perf put 80% of a worker's samples in
    the kernel's recently_deleted() while the outbox was busy, and a
    run's rate depended on what the runs before it had deleted (the
    first run of a series 3-5 times the next ones, whichever build).
    On tmpfs the row is the gateway's own work."""
    if not os.path.isdir("/dev/shm"):
        yield None
        return
    d = tempfile.mkdtemp(prefix="cmsi-bench-", dir="/dev/shm")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def journaled_ext4(tmp):
    """(mount point, None) of a journaled ext4 made for this run, as
    mkfs.ext4 makes it by default (Debian's installer too), or (None,
    why not).  Only where the temp dirs are not on one already: the
    outbox row is then measured on both.  Needs root and a loop device;
    the image is sparse, in tmp, and goes with it."""
    here = fs_type(os.path.realpath(tmp))
    if here.endswith(", journal"):
        yield None, "not measured: the temp dirs are on a journaled %s " \
            "already" % here.split(",")[0]
        return
    if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None:
        yield None, "not measured: needs root and mkfs.ext4 to make " \
            "a journaled ext4 image"
        return
    img, mnt = os.path.join(tmp, "ext4j.img"), os.path.join(tmp, "ext4j")
    os.makedirs(mnt)
    with open(img, "wb") as f:
        f.truncate(JIMG_BYTES)
    mk = subprocess.run(["mkfs.ext4", "-q", "-F", img],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    mt = mk.returncode == 0 and subprocess.run(
        ["mount", "-o", "loop", img, mnt], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    if not mt or mt.returncode != 0:
        os.unlink(img)
        yield None, "not measured: cannot make or loop-mount an ext4 " \
            "image: " + (mt.stdout if mt else mk.stdout).decode(
                errors="replace").strip()[:120]
        return
    try:
        yield mnt, None
    finally:
        if subprocess.run(["umount", mnt]).returncode != 0:
            subprocess.run(["umount", "-l", mnt])
        os.unlink(img)


def header(builddir):
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    tmp = tempfile.gettempdir()
    print("machine: %s, %s, nproc %d, load average %s at start; build %s; "
          "temp dirs (state, outbox, logs) in %s (%s)" % (
              os.uname().nodename, model or "?", os.cpu_count(), load,
              os.path.abspath(os.path.join(harness.TOP, builddir)), tmp,
              fs_type(os.path.realpath(tmp))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("builddir")
    ap.add_argument("seconds", nargs="?", type=int, default=8,
                    help="seconds per wrk or driver run (8)")
    ap.add_argument("--requests", type=int, default=100000,
                    help="send_mail requests of the memory run (100000)")
    ap.add_argument("--only", default="table,smtp,memory",
                    help="the parts to run (table,smtp,memory; the table "
                    "includes the web server's hop)")
    a = ap.parse_args()
    parts = a.only.split(",")
    for need in ("/usr/sbin/lighttpd", "/usr/sbin/nginx", "/usr/bin/wrk"):
        if not os.path.exists(need):
            print("pipeline: %s is not installed, nothing measured" % need)
            return 0
    header(a.builddir)
    tmp = tempfile.mkdtemp(prefix="cmsi-bench-pipeline-")
    try:
        if "table" in parts:
            res = table(a.builddir, a.seconds, tmp)
            print_table(res, a.seconds)
            print_hop(res)
            sys.stdout.flush()
        if "smtp" in parts:
            smtp(a.builddir, a.seconds, tmp)
            sys.stdout.flush()
        if "memory" in parts:
            memory(a.builddir, a.requests, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
