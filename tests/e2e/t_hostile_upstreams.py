#!/usr/bin/python3
"""Upstreams that lie, stall or flood (tests/fakes/hostile_server.py and
hostile_smtp.py): for every channel and every mode the caller gets a
failure envelope that names the upstream, within the configured timeout
(printed, not asserted: the machine may be loaded), never a success;
replies are read under a cap, so a worker's memory stays bounded; and
the worker serves the next request."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402

HTTP_MODES = ["huge", "chunked", "trickle", "silent", "wrongtypes", "missing",
              "html", "redirect", "empty"]
SMTP_MODES = ["early250", "bigreply", "silent", "trickle", "reject"]
HOSTS = ["qyapi.weixin.qq.com", "api.weixin.qq.com", "sms.tencentcloudapi.com",
         "vms.tencentcloudapi.com", "yun.tim.qq.com", "cloud.tim.qq.com",
         "bkapi.example.com"]
CREDS = {"bk_app_code": "demo", "bk_app_secret": "demo-secret", "bk_username": "admin"}
TIMEOUT_MS = 3000

# channel: (path, body, what the failure message must name)
CHANNELS = {
    "wecom": ("send_weixin", {"receiver": "u1", "data": {"heading": "h", "message": "m"}},
              "WEIXIN"),
    "mp": ("send_mp_weixin", {"receiver": "o1", "data": {"heading": "h", "message": "m"}},
           "WEIXIN"),
    "sms-tc3": ("send_sms", {"receiver": "13800000000", "content": "c"}, "sms"),
    "voice-v5": ("send_voice_msg", {"user_list_information": [
        {"username": "u", "mobile_phone": "13800000000"}], "auto_read_message": "a"},
        "voice"),
    "bk-user": ("send_mail", {"receiver__username": "admin", "title": "t",
                              "content": "c"}, "username"),
}


def fakes():
    return [{"name": "hostile", "ports": 2, "cmd": [
        "tests/fakes/hostile_server.py", "--port", "{hostile.port0}",
        "--wrong-cert-port", "{hostile.port1}", "--dir", "{dir}/hostile",
        "--pki", "{pki}", "--max-secs", "20", "--lifetime", "900"]},
        {"name": "smtp", "cmd": [
            "tests/fakes/hostile_smtp.py", "--port", "{smtp.port0}",
            "--dir", "{dir}/hostile", "--max-secs", "20", "--lifetime", "900"]}]


def config(port="{hostile.port0}"):
    return {
        "upstream": {"ca_file": "{pki}/ca.pem", "timeout_ms": TIMEOUT_MS,
                     "connect_to": ["%s:443:127.0.0.1:%s" % (h, port) for h in HOSTS]},
        "users": {"file": None, "bkuser": {"url": "https://bkapi.example.com/bk-user",
                                           "app_secret": "gw-secret"}},
        "components": {
            "send_weixin": {"delivery": None, "wx_type": "qy", "wx_qy_corpid": "ww1",
                            "wx_qy_corpsecret": "corp-secret", "wx_qy_agentid": "1000002"},
            "send_mp_weixin": {"delivery": None, "wx_app_id": "wx1",
                               "wx_secret": "mp-secret", "wx_template_id": "tpl"},
            "send_sms": {"delivery": None, "qcloud_api": "tc3",
                         "qcloud_secret_id": "AKID", "qcloud_secret_key": "tc3-secret",
                         "qcloud_sms_sdk_app_id": "1400", "qcloud_sms_template_id": "1",
                         "qcloud_sms_sign": "S"},
            "send_voice_msg": {"delivery": None, "qcloud_app_id": "1400000001",
                               "qcloud_app_key": "v5-secret"},
            "send_mail": {"delivery": None, "smtp_host": "127.0.0.1",
                          "smtp_port": "{smtp.port0}", "mail_sender": "a@example.com"}}}


def set_mode(g, m):
    with open(os.path.join(g.dir, "hostile", "mode"), "w") as f:
        f.write(m)


def send(g, comp, body):
    b = dict(CREDS)
    b.update(body)
    t0 = time.monotonic()
    st, doc = http(g, "POST", "/api/c/compapi/cmsi/%s/" % comp,
                   json.dumps(b).encode(), timeout=120)
    return st, doc, time.monotonic() - t0


def alive(g):
    st, doc = http(g, "GET", "/api/c/compapi/cmsi/get_msg_type/?bk_app_code=demo"
                   "&bk_app_secret=demo-secret&bk_username=admin")
    return st == 200 and doc.get("result") is True


def peak_kb(g):
    """The largest VmHWM of the app's processes, in kB."""
    best = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if g.bin.encode() not in f.read():
                    continue
            with open("/proc/%s/status" % pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        best = max(best, int(line.split()[1]))
        except OSError:
            pass
    return best


def main():
    c = Checker()
    build = sys.argv[1]
    secrets = ["corp-secret", "mp-secret", "tc3-secret", "v5-secret", "gw-secret"]
    with harness.Gateway(build, config(), fakes=fakes()) as g:
        set_mode(g, "html")
        send(g, "send_weixin", CHANNELS["wecom"][1])
        base = peak_kb(g)
        for m in HTTP_MODES:
            set_mode(g, m)
            for ch, (comp, body, needle) in CHANNELS.items():
                st, doc, secs = send(g, comp, body)
                print("     %-10s %-9s %5.1fs code=%s %s" % (
                    m, ch, secs, doc.get("code"), doc.get("message", "")[:110]))
                c.ok("%s %s: a failure naming the upstream" % (m, ch),
                     st == 200 and doc.get("result") is False and
                     doc.get("code") in (1306201, 1306203, 1306000) and
                     needle.lower() in doc.get("message", "").lower(),
                     "%d %r" % (st, doc))
            c.ok("%s: the worker still serves" % m, alive(g))
            if m in ("huge", "chunked"):
                st, doc, secs = send(g, "send_sms", CHANNELS["sms-tc3"][1])
                c.ok("%s: the reply cap is named" % m, "is larger than 1048576 "
                     "bytes" in doc.get("message", ""), repr(doc))
        # A token that works, then a send "taken" without its msgid.
        set_mode(g, "nomsgid")
        for ch in ("wecom", "mp"):
            comp, body, needle = CHANNELS[ch]
            st, doc, secs = send(g, comp, body)
            c.ok("nomsgid %s: errcode 0 without a msgid is no success" % ch,
                 st == 200 and doc.get("result") is False and
                 "has no errcode and msgid" in doc.get("message", ""),
                 "%d %r" % (st, doc))
        peak = peak_kb(g)
        print("     peak RSS of the app: %d kB before the modes, %d kB after" %
              (base, peak))
        # ASan's quarantine keeps freed memory (256 MB by default), so
        # the bound is measured on the plain build, where it means
        # something; the sanitized run still catches any overflow.
        with open(g.bin, "rb") as f:
            sanitized = b"__asan_init" in f.read()
        if not sanitized:
            c.ok("memory bounded: 100 MB and endless replies left the peak "
                 "RSS within 64 MB of where it was", peak - base < 64 * 1024,
                 "%d -> %d kB" % (base, peak))
        for m in SMTP_MODES:
            set_mode(g, m)
            st, doc, secs = send(g, "send_mail", {"receiver": "a@example.com",
                                                  "title": "t", "content": "c"})
            print("     smtp %-9s %5.1fs code=%s %s" % (
                m, secs, doc.get("code"), doc.get("message", "")[:110]))
            why = (doc.get("data") or {}).get("smtp") or {}
            print("          data.smtp: %s" % json.dumps(why))
            c.ok("smtp %s: ESB's failure, with what the server did in data.smtp" % m,
                 st == 200 and doc.get("result") is False and
                 doc.get("message") == "Failed to send mail" and why.get("error"),
                 "%d %r" % (st, doc))
            c.ok("smtp %s: the worker still serves" % m, alive(g))
    c.logs(g, secrets)

    # A certificate for another name: refused, as ESB's 1306203.
    with harness.Gateway(build, config("{hostile.port1}"), fakes=fakes()) as g:
        set_mode(g, "missing")
        for ch, (comp, body, needle) in CHANNELS.items():
            st, doc, secs = send(g, comp, body)
            print("     wrongcert %-9s %5.1fs code=%s %s" % (
                ch, secs, doc.get("code"), doc.get("message", "")[:110]))
            c.ok("wrong certificate %s: refused, ESB's 1306203 for a channel"
                 % ch, st == 200 and doc.get("result") is False and
                 doc.get("code") == (1306000 if ch == "bk-user" else 1306203),
                 "%d %r" % (st, doc))
        calls = g.read("hostile/calls.log") if os.path.exists(
            os.path.join(g.dir, "hostile/calls.log")) else ""
        c.eq("wrong certificate: no request reached it", calls, "")
    c.logs(g, secrets)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
