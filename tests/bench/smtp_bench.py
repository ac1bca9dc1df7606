#!/usr/bin/python3
"""Messages per second of send_mail (one recipient, 2 KB of HTML) through
lighttpd into a local SMTP sink (smtp_sink.c, so the sink is not what
is measured), next to a plain libcurl loop sending the
very same message bytes to the same sink, in one run (issue 4).  Twice:
one worker and one client, then 4 workers and 8 clients against 4 curl
processes.  Loopback only, bounded by wrk's duration.

usage: smtp_bench.py BUILDDIR [seconds]

tests/bench/pipeline.py imports it (Sink, config, gateway_run, curl_run,
PAIRS) for its SMTP lines.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

PARA = ("<p>The disk <b>/var</b> on host <i>db-%02d</i> is 91%% full; "
        "the alert fired at 10:00 and again at 10:05.</p>\n")


def html_2k():
    body = "<html><body><h1>Disk alert</h1>\n"
    i = 0
    while len(body) < 2048 - 16:
        body += PARA % i
        i += 1
    return (body + "</body></html>")[:2048]


BODY = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
        "bk_username": "admin", "receiver": "alice@example.com",
        "title": "Disk almost full", "content": html_2k()}


def sink_count(path):
    try:
        return int(open(path).read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def wrk(port, secs, threads, conns, tmp):
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = %s\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                % json.dumps(json.dumps(BODY)))
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % conns,
                          "-d%ds" % secs, "-s", lua,
                          "http://127.0.0.1:%d/api/c/compapi/v2/cmsi/"
                          "send_mail/" % port],
                         stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"(\d+) requests in ([0-9.]+)s", out)
    return (int(m.group(1)), float(m.group(2))) if m else (0, float(secs))


def config(sink_port):
    """The gateway's config overlay: send_mail to the sink, no TLS."""
    return {"components": {"send_mail": {
        "delivery": None, "smtp_host": "127.0.0.1", "smtp_port": sink_port,
        "mail_sender": "BlueKing <blueking@example.com>"}},
        "upstream": {"timeout_ms": 10000}}


def gateway_run(builddir, sink_port, count, procs, threads, conns, secs,
                tmp):
    """send_mail through lighttpd with procs workers, wrk with conns
    clients: (msg/s the sink got, messages, requests, failed answers)."""
    with harness.Gateway(builddir, config(sink_port), procs=procs) as g:
        before = sink_count(count)
        reqs, took = wrk(g.port, secs, threads, conns, tmp)
        time.sleep(0.3)
        got = sink_count(count) - before
        g.stop()
        bad = g.app_log().count("result=false")
    return got / took, got, reqs, bad


def curl_run(builddir, sink_port, first, procs, secs):
    out = subprocess.run([os.path.join(harness.TOP, builddir,
                                       "tests/bench_curl_smtp"),
                          "smtp://127.0.0.1:%d/bench.example" % sink_port,
                          "<blueking@example.com>", "<alice@example.com>",
                          first, str(secs), str(procs)],
                         stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r": (\d+) messages in ([0-9.]+) s", out)
    return (int(m.group(1)) / float(m.group(2)), int(m.group(1))) if m \
        else (0.0, 0)


class Sink:
    """smtp_sink.c on a free loopback port for at most 900 s: .port,
    .first (the first message's bytes), .count (its count file)."""

    def __init__(self, builddir, tmp):
        self.port = harness.free_port()
        self.first = os.path.join(tmp, "first.eml")
        self.count = os.path.join(tmp, "count")
        self.proc = subprocess.Popen([
            os.path.join(harness.TOP, builddir, "tests/smtp_sink"),
            str(self.port), self.first, self.count, "900"])

    def __enter__(self):
        if not harness.wait_port(self.port):
            self.__exit__()
            raise RuntimeError("smtp: the sink did not start")
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()
        return False

    def size(self):
        """The first message's size in bytes (0 before any)."""
        try:
            return os.path.getsize(self.first)
        except OSError:
            return 0


# (worker processes, wrk threads, clients) of the two runs.
PAIRS = ((1, 1, 1), (4, 2, 8))


def main():
    builddir = sys.argv[1]
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    tmp = tempfile.mkdtemp(prefix="cmsi-bench-smtp-")
    try:
        with Sink(builddir, tmp) as sink:
            for procs, threads, conns in PAIRS:
                app, got, reqs, bad = gateway_run(builddir, sink.port,
                                                  sink.count, procs, threads,
                                                  conns, secs, tmp)
                floor, sent = curl_run(builddir, sink.port, sink.first,
                                       procs, secs)
                print("smtp: send_mail via lighttpd -> SMTP sink, %d proc(s), "
                      "%d client(s): %.0f msg/s (%d delivered of %d requests, "
                      "%d failed, %d-byte message)" % (procs, conns, app, got,
                                                        reqs, bad, sink.size()))
                print("smtp: plain libcurl loop, same bytes, same sink, %d "
                      "proc(s): %.0f msg/s (%d sent)" % (procs, floor, sent))
                if floor:
                    print("smtp: ratio %.2f" % (app / floor))
    except RuntimeError as e:
        print(e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
