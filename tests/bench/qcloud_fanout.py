#!/usr/bin/python3
"""Tencent Cloud fan-out timings against the HTTPS fake (nothing leaves
loopback): voice to 20 people with 100 ms added by the fake to every
call, on new and on kept connections, and SMS to 450 numbers (calls
made).  Prints the median and range of --rounds rounds per API.

usage: qcloud_fanout.py BUILDDIR [--rounds N] [--people N] [--delay-ms N]
"""
import argparse
import os
import statistics
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import harness  # noqa: E402
import t_qcloud as q  # noqa: E402  (its fake, config and helpers)


def timed(fn, *args):
    t0 = time.time()
    out = fn(*args)
    return (time.time() - t0,) + tuple(out)


def line(name, xs, unit="s"):
    print("%-44s median %.3f %s  (min %.3f, max %.3f, n=%d)" % (
        name, statistics.median(xs), unit, min(xs), max(xs), len(xs)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builddir")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--delay-ms", type=int, default=100)
    a = ap.parse_args()
    q.BUILDDIR = a.builddir
    for api in ("v5", "tc3"):
        one, cold, warm, sms, calls = [], [], [], [], set()
        for _ in range(a.rounds):
            with harness.Gateway(a.builddir, q.config(api),
                                 fakes=[q.fake()]) as g:
                q.fake_call(g, "POST", "/_fake/control",
                            {"delay_ms": a.delay_ms})
                secs, _, _ = timed(q.fanout, g, 1)
                secs, _, _ = timed(q.fanout, g, 1)
                one.append(secs)
                secs, doc, _ = timed(q.fanout, g, a.people)
                assert doc["result"] is True, doc
                cold.append(secs)
                secs, doc, _ = timed(q.fanout, g, a.people)
                assert doc["result"] is True, doc
                warm.append(secs)
                q.fake_call(g, "POST", "/_fake/control",
                            {"delay_ms": 0, "reset": 1})
                t0 = time.time()
                doc = q.post(g, "send_sms", {
                    "receiver": ["139%08d" % i for i in range(450)],
                    "content": "disk full"})
                sms.append(time.time() - t0)
                assert doc["result"] is True, doc
                st = q.fake_call(g, "GET", "/_fake/stats")
                calls.add(st["calls"])
        print("== %s (%s, fake latency %d ms per call)" % (
            api, a.builddir, a.delay_ms))
        line("voice, 1 person, kept connection", one)
        line("voice, %d people, new connections" % a.people, cold)
        line("voice, %d people, kept connections" % a.people, warm)
        line("sms, 450 numbers (no latency)", sms)
        print("%-44s %s" % ("sms, 450 numbers: calls made",
                            ",".join(map(str, sorted(calls)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
