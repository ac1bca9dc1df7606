#!/usr/bin/python3
"""The console's custom components in a real browser (Debian's chromium,
headless, python3-selenium), against the robot fake: add a DingTalk robot
(the kind picker, then its fields), test-send through it (the fake checks
the signature), change its webhook without the secret (refused: a secret
only goes where it was stored for), give it a wrong secret and see the
Test send's hint, remove it.  The config file never holds the webhook or
the secret: they go to files under the state directory.  Screenshots go
to BUILDDIR/console-custom-*.png.

usage: t_console_custom.py BUILDDIR
"""
import json
import os
import shutil
import ssl
import sys
import tempfile
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import harness  # noqa: E402
from e2e_lib import Checker  # noqa: E402
from console_lib import browser, signin, submit  # noqa: E402
from t_console import hash_password  # noqa: E402

BUILDDIR = sys.argv[1]
PASSWORD = "Correct-Horse-Battery-3"
TOKEN = "dt-console-token-0123456789"
SECRET = "SECconsole0123456789abcdefSECRET"
WRONG = "SECwrong-secret-0000000000SECRET"
HOOK = "https://oapi.dingtalk.com/robot/send?access_token=" + TOKEN
SECRETS = [PASSWORD, TOKEN, SECRET, WRONG]


def fake():
    return {"name": "robots", "ports": 1, "cmd": [
        "tests/fakes/robot_server.py", "--port", "{robots.port0}",
        "--pki", "{pki}", "--lifetime", "600",
        "--dingtalk", "%s:%s" % (TOKEN, SECRET)]}


def messages(g):
    ctx = ssl.create_default_context(cafile=os.path.join(g.dir, "pki",
                                                         "ca.pem"))
    port = int(g.subst["{robots.port0}"])
    with urllib.request.urlopen("https://127.0.0.1:%d/_fake/messages" % port,
                                timeout=10, context=ctx) as r:
        return json.loads(r.read())


def shot(d, name):
    path = os.path.join(TOP, BUILDDIR, "console-custom-%s.png" % name)
    d.save_screenshot(path)
    return path


def section(g, name):
    with open(g.conf) as f:
        return json.load(f).get("components", {}).get(name)


def test_send(d, base, text):
    d.get(base + "test?c=send_dingtalk&tenant=")
    d.find_element("id", "rcpt").clear()
    d.find_element("id", "rcpt").send_keys("13800000000")
    d.find_element("id", "text").clear()
    d.find_element("id", "text").send_keys(text)
    submit(d, d.find_element("id", "send"))
    return d.find_element("id", "outcome").text


def main():
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="cmsi-console-custom-")
    os.chmod(tmp, 0o755)
    cfg = {
        "console": {"users": {"admin": {"password_hash":
                                        hash_password(PASSWORD)}}},
        "upstream": {"timeout_ms": 5000, "ca_file": "{pki}/ca.pem",
                     "connect_to": ["oapi.dingtalk.com:443:127.0.0.1:"
                                    "{robots.port0}"]},
    }
    d = None
    sources = []
    try:
        with harness.Gateway(BUILDDIR, cfg, fakes=[fake()]) as g:
            base = "http://127.0.0.1:%d/console/" % g.port
            d = browser(tmp)
            signin(d, "admin", PASSWORD, base + "signin")

            # -- add: the kind picker, then the kind's fields.
            d.get(base + "custom")
            c.ok("the custom page lists none yet",
                 d.find_element("id", "none").is_displayed())
            d.find_element("id", "f-c").send_keys("send_dingtalk")
            d.find_element("id", "f-kind").send_keys("dingtalk_robot")
            submit(d, d.find_element("id", "add-next"))
            keys = [e.get_attribute("name") for e in
                    d.find_elements("css selector", "#config [name]")]
            c.ok("the DingTalk robot's fields", {"webhook", "secret",
                                                 "format", "msg_type"} <=
                 set(keys), keys)
            d.find_element("id", "f-webhook").send_keys(HOOK)
            d.find_element("id", "f-secret").send_keys(SECRET)
            submit(d, d.find_element("id", "save"))
            sources.append(d.page_source)
            c.ok("saved", "Saved" in d.find_element("id", "notice").text,
                 d.find_element("tag name", "main").text[:400])
            sec = section(g, "send_dingtalk") or {}
            c.ok("the file names the secrets by file, never in clear",
                 sec.get("kind") == "dingtalk_robot" and
                 isinstance(sec.get("webhook"), dict) and
                 isinstance(sec.get("secret"), dict) and
                 TOKEN not in open(g.conf).read() and
                 SECRET not in open(g.conf).read(), sec)
            files = [v["file"] for v in sec.values() if isinstance(v, dict)
                     and "file" in v]
            c.ok("the secret files are 0600 and hold the values",
                 len(files) == 2 and all(
                     os.stat(f).st_mode & 0o777 == 0o600 for f in files) and
                 sorted(open(f).read() for f in files) ==
                 sorted([HOOK, SECRET]), files)

            # -- test send through it: the fake checks the signature.
            out = test_send(d, base, 'Test "send" {braces}')
            shot(d, "test-ok")
            sources.append(d.page_source)
            m = messages(g)
            c.ok("Test send delivered, signed, the text intact",
                 "Delivered" in out or "delivered" in out.lower(), out)
            c.ok("the robot got it signed with the caller's text",
                 m and m[-1]["verdict"] == 0 and
                 'Test "send" {braces}' in m[-1]["body"]["text"]["content"],
                 m[-1:] if m else m)

            # -- a new webhook without the secret: refused.
            submit(d, d.find_element("id", "tab-config"))
            c.ok("Test send's configuration tab is the custom page",
                 d.current_url.endswith("/console/custom_edit?c="
                                        "send_dingtalk"), d.current_url)
            d.find_element("id", "f-webhook").send_keys(HOOK + "x")
            submit(d, d.find_element("id", "save"))
            c.ok("a new webhook needs the secret again",
                 "type the signing secret again" in
                 d.find_element("id", "error-secret").text,
                 d.find_element("tag name", "main").text[:400])
            c.eq("nothing saved", section(g, "send_dingtalk"), sec)

            # -- a wrong secret: the Test send says what to check.
            d.get(base + "custom_edit?c=send_dingtalk")
            d.find_element("id", "f-secret").send_keys(WRONG)
            submit(d, d.find_element("id", "save"))
            out = test_send(d, base, "wrong secret")
            hints = d.find_element("id", "hints").text
            shot(d, "test-hint")
            sources.append(d.page_source)
            c.ok("a wrong secret fails with the hint",
                 "sign not match" in out and
                 "check the secret and the clock" in hints, (out, hints))
            c.ok("the old secret file is gone with the retyped secret",
                 not os.path.exists([f for f in files if f.endswith(
                     "secret." + f.split(".")[-1]) and ".secret." in f][0]),
                 files)

            # -- remove.
            d.get(base + "custom")
            submit(d, d.find_element("id", "remove-send_dingtalk"))
            c.ok("removed from the list and the file",
                 d.find_element("id", "none").is_displayed() and
                 section(g, "send_dingtalk") is None, section(g,
                                                              "send_dingtalk"))
            left = os.listdir(os.path.join(g.config["state_dir"], "console",
                                           "secrets"))
            c.ok("its secret files are gone", [f for f in left
                                               if not f.startswith(".")] == [],
                 left)
            audit = [r.get("event") for r in g.audit()
                     if r.get("component") == "send_dingtalk" and
                     r.get("event")]
            c.ok("add, save and remove are in the audit log",
                 {"console.add", "console.save", "console.remove"} <=
                 set(audit), audit)
            for s in SECRETS:
                c.ok("no page shows %s..." % s[:6],
                     all(s not in src for src in sources))
            d.quit()
            d = None
            c.logs(g, SECRETS)
    finally:
        if d is not None:
            d.quit()
        shutil.rmtree(tmp, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
