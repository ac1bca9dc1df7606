#!/usr/bin/python3
"""Where one request's work goes: the app under callgrind (instructions,
not time: the same count however loaded the machine), fed N requests of
each kind over raw FastCGI on loopback, then the inclusive instruction
count of each stage's function divided by N.  Prints one table per
kind: read and parse, auth, named template, schema, template, MIME,
upstream call, audit, outbox, log line, reply.

usage: stages.py BUILDDIR [N]
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
sys.path.insert(0, os.path.join(TOP, "tests", "bench"))
import harness  # noqa: E402
from e2e_lib import cgi, fcgi  # noqa: E402

CREDS = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
         "bk_username": "admin"}
KINDS = {
    "get_msg_type": ("GET", "/api/c/compapi/cmsi/get_msg_type/?" +
                     "&".join("%s=%s" % kv for kv in CREDS.items()), None),
    "send_mail (outbox)": ("POST", "/api/c/compapi/cmsi/send_mail/", dict(
        CREDS, receiver="alice@example.com", title="Disk almost full",
        content="<p>" + "The disk is full. " * 100 + "</p>")),
    "send_sms (outbox)": ("POST", "/api/c/compapi/cmsi/send_sms/", dict(
        CREDS, receiver="13800000000", content="The disk is full.")),
    # The same requests to real stand-ins, as tests/bench/pipeline.py
    # and smtp_bench.py start them: the upstream call in the table.
    "send_sms (API 3.0, nginx HTTPS)": ("POST",
                                        "/api/c/compapi/cmsi/send_sms/",
                                        "nginx"),
    "send_weixin (WeCom, nginx HTTPS)": ("POST",
                                         "/api/c/compapi/cmsi/send_weixin/",
                                         "nginx"),
    "send_mail (SMTP sink)": ("POST", "/api/c/compapi/cmsi/send_mail/",
                              "sink"),
}
STAGES = [
    ("read and parse", ["req_read", "req_parse"]),
    ("auth", ["auth_creds", "auth_check"]),
    ("named template", ["named_apply"]),
    ("schema", ["check_params"]),
    ("template", ["tmplset_layout"]),
    ("MIME", ["mime_build"]),
    ("  of it HTML->text", ["htext_plain"]),
    ("upstream call", ["http_run", "http_run_all", "smtp_send"]),
    ("audit", ["log_audit"]),
    ("outbox", ["comp_outbox"]),
    ("log line", ["log_info"]),
    ("metrics", ["metrics_request", "metrics_delivery"]),
    ("reply", ["env_write"]),
]


def stand_in(build, kind, tmp):
    """(context manager, config overlay, body) for a kind that calls a
    stand-in upstream; a null context for the others."""
    import contextlib
    import pipeline
    import smtp_bench
    body = KINDS[kind][2]
    if body == "nginx":
        ng = pipeline.Nginx(tempfile.mkdtemp(dir=tmp))
        raw = pipeline.SMS_BODY if "sms" in kind else pipeline.WX_BODY
        return ng, lambda: pipeline.upstream_config(ng), json.loads(raw)
    if body == "sink":
        sk = smtp_bench.Sink(build, tempfile.mkdtemp(dir=tmp))
        return sk, lambda: smtp_bench.config(sk.port), smtp_bench.BODY
    return contextlib.nullcontext(), lambda: {}, body


def run(build, kind, n, tmp):
    ctx, overlay, body = stand_in(build, kind, tmp)
    with ctx:
        return measure(build, kind, n, tmp, overlay(), body)


def measure(build, kind, n, tmp, overlay, body):
    method, uri, _ = KINDS[kind]
    cfg = harness.merge(json.loads(json.dumps(harness.DEFAULT_CONFIG)),
                        overlay)
    d = tempfile.mkdtemp(dir=tmp)
    cfg.update(state_dir=os.path.join(d, "state"),
               schemas_dir=os.path.join(TOP, "conf/schemas"),
               templates_dir=os.path.join(TOP, "templates"))
    conf = os.path.join(d, "cmsi.json")
    json.dump(cfg, open(conf, "w"))
    port = harness.free_port()
    out = os.path.join(d, "callgrind.out")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                          os.path.join(TOP, build, "cmsi.fcgi"), "-c", conf,
                          "-s", "127.0.0.1:%d" % port],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        harness.wait_port(port, 60)
        raw = json.dumps(body).encode() if body is not None else None
        for _ in range(n + 1):
            st, _, _ = fcgi(("127.0.0.1", port), cgi(method, uri, raw), raw or b"")
            if st != 200:
                raise RuntimeError("%s answered %d" % (kind, st))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(600)
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                          out], stdout=subprocess.PIPE, text=True).stdout
    cost = {}
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*:(\w+)", line) or \
            re.match(r"\s*([\d,]+)\s+\S*:(\w+)", line)
        if m:
            cost.setdefault(m.group(2), int(m.group(1).replace(",", "")))
    return cost


def main():
    build = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    if shutil.which("valgrind") is None:
        print("stages: valgrind is not installed, nothing measured")
        return 0
    tmp = tempfile.mkdtemp(prefix="cmsi-stages-")
    try:
        for kind in KINDS:
            cost = run(build, kind, n, tmp)
            print("stages: %s, instructions per request (callgrind, %d requests)"
                  % (kind, n))
            for name, fns in STAGES:
                total = sum(cost.get(f, 0) for f in fns)
                if total:
                    print("  %-16s %10.0f" % (name, total / (n + 1)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
