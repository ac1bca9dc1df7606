#!/usr/bin/python3
"""Tencent Cloud SMS and voice where a case file does not fit: how many
calls a large SMS makes (at most 200 numbers each, grouped by nation
code), that a voice fan-out runs concurrently (the fake holds every call
until all twenty are in flight together: a serial client never gets
there), that a request to 101 people runs 100 calls at once and then
the last one, each number once, that connections are kept across requests, and that an unknown
CA is refused.  Both API generations.  One ok/FAIL line per check; no
clock is read (timings: tests/bench/qcloud_fanout.py).

usage: t_qcloud.py BUILDDIR
"""
import glob
import json
import os
import shutil
import ssl
import sys
import tempfile
import urllib.error
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
import harness  # noqa: E402
sys.path.insert(0, os.path.join(TOP, "tests", "fakes"))
import pki  # noqa: E402

BUILDDIR = sys.argv[1]
V5KEY = "v5-app-key-t-SECRET"
TC3KEY = "tc3-secret-key-t-SECRET"
HOSTS = ("yun.tim.qq.com", "cloud.tim.qq.com", "sms.tencentcloudapi.com",
         "vms.tencentcloudapi.com")
failed = 0


def report(name, err):
    global failed
    if err:
        failed += 1
        print("FAIL t_qcloud: %s: %s" % (name, err))
    else:
        print("ok   t_qcloud: %s" % name)


def fake(pki="{pki}"):
    return {"name": "qcloud", "ports": 1, "cmd": [
        "tests/fakes/qcloud_server.py", "--port", "{qcloud.port0}",
        "--dir", "{dir}/qcloud", "--pki", pki, "--lifetime", "300",
        "--v5-app", "1400000001:" + V5KEY,
        "--tc3-key", "AKIDcmsitest:" + TC3KEY,
        "--sms-app", "1400006666", "--voice-app", "1400009999",
        "--template", "1234:1", "--sign", "BlueKing"]}


def config(api, ca="{pki}/ca.pem"):
    if api == "v5":
        sec = {"delivery": None, "qcloud_app_id": "1400000001",
               "qcloud_app_key": V5KEY, "qcloud_sms_sign": "BlueKing"}
    else:
        sec = {"delivery": None, "qcloud_api": "tc3",
               "qcloud_secret_id": "AKIDcmsitest", "qcloud_secret_key": TC3KEY,
               "qcloud_sms_sdk_app_id": "1400006666",
               "qcloud_sms_template_id": "1234", "qcloud_sms_sign": "BlueKing",
               "qcloud_voice_sdk_app_id": "1400009999",
               "qcloud_voice_template_id": "1234"}
    voice = {k: v for k, v in sec.items() if not k.startswith("qcloud_sms_")}
    sec = {k: v for k, v in sec.items() if not k.startswith("qcloud_voice_")}
    return {"upstream": {"ca_file": ca, "timeout_ms": 10000,
                         "connect_to": ["%s:443:127.0.0.1:{qcloud.port0}" % h
                                        for h in HOSTS]},
            "components": {"send_sms": sec, "send_voice_msg": voice}}


def post(g, comp, body):
    p = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
         "bk_username": "admin"}
    p.update(body)
    req = urllib.request.Request(
        "http://127.0.0.1:%d/api/c/compapi/cmsi/%s/" % (g.port, comp),
        data=json.dumps(p).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def fake_call(g, method, path, doc=None):
    """The fake's control and stats, over TLS checked against its CA."""
    ctx = ssl.create_default_context(cafile=os.path.join(g.dir, "pki",
                                                         "ca.pem"))
    port = int(g.subst["{qcloud.port0}"])
    req = urllib.request.Request(
        "https://127.0.0.1:%d%s" % (port, path), method=method,
        data=json.dumps(doc).encode() if doc is not None else None)
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        return json.loads(r.read())


def spool(g):
    return sorted(glob.glob(os.path.join(g.dir, "qcloud", "*.req")))


def body_of(path):
    raw = open(path, "rb").read()
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


def check_sms_batches(api):
    """450 numbers: 3 calls of 200, 200, 50; 201 numbers of two nation
    codes: one call each for the two codes, the 86 one split."""
    with harness.Gateway(BUILDDIR, config(api), fakes=[fake()]) as g:
        nums = ["139%08d" % i for i in range(450)]
        doc = post(g, "send_sms", {"receiver": nums, "content": "disk full"})
        files = spool(g)
        key = "tel" if api == "v5" else "PhoneNumberSet"
        sizes = sorted((len(body_of(f)[key]) for f in files), reverse=True)
        err = None
        if doc.get("result") is not True or \
                len(doc["data"]["successed"]) != 450:
            err = "answer %s" % json.dumps(doc)[:300]
        elif sizes != [200, 200, 50]:
            err = "calls carried %s numbers" % sizes
        report("%s: SMS to 450 numbers made %d calls (%s numbers)"
               % (api, len(files), "+".join(map(str, sizes))), err)
        before = set(files)
        nums = ["139%08d" % i for i in range(200)] + ["+85291234567"]
        doc = post(g, "send_sms", {"receiver": nums, "content": "disk full"})
        new = [f for f in spool(g) if f not in before]
        sizes = sorted(len(body_of(f)[key]) for f in new)
        err = None
        if doc.get("result") is not True:
            err = "answer %s" % json.dumps(doc)[:300]
        elif sizes != [1, 200]:
            err = "calls carried %s numbers" % sizes
        report("%s: 200 numbers of 86 and one of 852 make 2 calls" % api, err)
        err = g.check_logs([V5KEY, TC3KEY])
        report("%s: logs clean after the SMS batches" % api, err)


def voice_people(n, base=0):
    return [{"username": "user%02d" % i, "mobile_phone": "1380000%04d"
             % (base + i)} for i in range(n)]


def fanout(g, n, barrier=0):
    """One voice request to n people; (answer, fake's stats with the
    stats call's own connection taken off).  With barrier the fake
    holds each call until that many are in flight."""
    fake_call(g, "POST", "/_fake/control", {"reset": 1, "barrier": barrier})
    doc = post(g, "send_voice_msg", {"auto_read_message": "disk full",
                                     "user_list_information":
                                     voice_people(n)})
    st = fake_call(g, "GET", "/_fake/stats")
    st["connections"] -= 1
    return doc, st


def sanitized():
    """Whether BUILDDIR's binary is an ASan build (slow to set up TLS)."""
    with open(os.path.join(TOP, BUILDDIR, "cmsi.fcgi"), "rb") as f:
        return b"__asan_init" in f.read()


def check_voice_fanout(api):
    """20 people: the fake holds every call until all 20 are in flight
    at once (a serial client would leave the first call waiting until
    the fake gives up): first on new connections, then on the
    connections the first one left.  Each new TLS connection costs the
    worker the loading of the trust store (libcurl-gnutls reads it per
    connection), and a worker does that one connection after another:
    under ASan twenty of them can pass the 5 s connect timeout, so
    there both fan-outs have 5 people."""
    n = 5 if sanitized() else 20
    with harness.Gateway(BUILDDIR, config(api), fakes=[fake()]) as g:
        fanout(g, 1)
        for how in ("new", "kept"):
            doc, st = fanout(g, n, barrier=n)
            err = None
            if doc.get("result") is not True or \
                    len(doc["data"]["successed"]) != n:
                err = "answer %s" % json.dumps(doc)[:300]
            elif st["calls"] != n:
                err = "%d calls" % st["calls"]
            elif st["max_inflight"] != n or st["barrier_gave_up"]:
                err = "%d in flight at most, %d calls gave up waiting " \
                    "for the others" % (st["max_inflight"],
                                        st["barrier_gave_up"])
            elif how == "kept" and st["connections"] > 0:
                err = "%d new TLS connections" % st["connections"]
            report("%s: voice to %d people, %s connections: all %d calls "
                   "in flight at once" % (api, n, how, n), err)
        err = g.check_logs([V5KEY, TC3KEY])
        report("%s: logs clean after the fan-outs" % api, err)


def called_number(path, api):
    """The number the voice call in path was for."""
    b = body_of(path)
    if api == "v5":
        return "+%s%s" % (b["tel"]["nationcode"], b["tel"]["mobile"])
    return b["CalledNumber"]


def check_voice_101(api):
    """One request to 101 people: one call each, one more than the
    LIM_UP_PARALLEL (100) calls a fan-out runs at once.  The fake holds
    each call until 100 are in flight: the first 100 go together, the
    101st only once one of them is answered (on the connection that one
    left: the fake counts it after the first one's end).  Every number
    called exactly once, every person answered.  First the gateway's
    connections are warmed, a few new ones a request (under ASan a
    worker sets up TLS connections one after another, slowly, and 100
    new ones at once would pass the 5 s connect timeout)."""
    step = 5 if sanitized() else 25
    people = voice_people(101)
    want = ["+86" + p["mobile_phone"] for p in people]
    with harness.Gateway(BUILDDIR, config(api), fakes=[fake()]) as g:
        err = None
        for k in range(step, 101, step):
            doc, st = fanout(g, k)
            if doc.get("result") is not True:
                err = "warming with %d: %s" % (k, json.dumps(doc)[:300])
                break
        if err is None:
            before = set(spool(g))
            fake_call(g, "POST", "/_fake/control", {"reset": 1,
                                                     "barrier": 100})
            try:
                doc = post(g, "send_voice_msg", {"auto_read_message":
                                                 "disk full",
                                                 "user_list_information":
                                                 people})
            except urllib.error.HTTPError as e:
                # A worker that died answers 500 through the web server.
                doc = {"http_status": e.code}
            st = fake_call(g, "GET", "/_fake/stats")
            called = sorted(called_number(f, api) for f in spool(g)
                            if f not in before)
            ids = [r.pop("callid", None) for r in
                   (doc.get("data") or {}).get("successed", [])]
            for r in (doc.get("data") or {}).get("successed", []):
                r.pop("request_id", None)
            # The gateway's own request_id, fresh each request.
            rid = doc.pop("request_id", "")
            extra = {"ext": ""} if api == "v5" else {}
            answer = {"result": True, "code": 0, "message": "OK",
                      "data": {"successed": [dict(p, nation_code="86",
                                                  result=0, errmsg="OK",
                                                  **extra)
                                             for p in people],
                               "failed": []}}
            if doc != answer or len(rid) != 32:
                err = "answer %s" % json.dumps(doc)[:400]
            elif len(set(ids)) != 101 or None in ids:
                err = "call ids %r" % ids[:5]
            elif called != want:
                err = "%d calls, for %d numbers" % (len(called),
                                                    len(set(called)))
            elif (st["calls"], st["max_inflight"], st["barrier_opened"],
                  st["barrier_gave_up"]) != (101, 100, 101, 0):
                err = "fake: %d calls, %d in flight at most, barrier " \
                    "opened %d, gave up %d" % (
                        st["calls"], st["max_inflight"],
                        st["barrier_opened"], st["barrier_gave_up"])
        report("%s: voice to 101 people: 100 calls at once, then the "
               "101st; each number once" % api, err)
        err = g.check_logs([V5KEY, TC3KEY])
        report("%s: logs clean after the 101 calls" % api, err)


def check_unknown_ca():
    """A fake whose certificate comes from a CA the gateway does not
    trust is refused: 1306203 (ESB's TLS code, as WeChat and dest_url
    answer it), and nothing reaches it."""
    other = tempfile.mkdtemp(prefix="cmsi-qcloud-ca-")
    try:
        ca, _ = pki.make_ca(other, "some-other-ca")
        with harness.Gateway(BUILDDIR, config("v5", ca=ca),
                             fakes=[fake()]) as g:
            doc = post(g, "send_sms", {"receiver": "13800000000",
                                       "content": "disk full"})
            err = None
            if doc.get("code") != 1306203 or "[QCLOUD_SMS]" not in \
                    doc.get("message", ""):
                err = "answer %s" % json.dumps(doc)[:300]
            elif spool(g):
                err = "the fake got %d calls" % len(spool(g))
            report("v5: a certificate from an unknown CA is refused", err)
            err = g.check_logs([V5KEY])
            report("v5: logs clean after the unknown CA", err)
    finally:
        shutil.rmtree(other, ignore_errors=True)


def main():
    for api in ("v5", "tc3"):
        check_sms_batches(api)
        check_voice_fanout(api)
        check_voice_101(api)
    check_unknown_ca()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
