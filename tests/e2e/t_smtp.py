#!/usr/bin/python3
"""send_mail over SMTP where a case file does not fit: certificates from
an unknown CA, STARTTLS that the server does not offer, a wrong password,
a server that drops the connection or stalls, an RCPT refused with
exactly 400, connection reuse and the retry on a kept connection the
server closed.  Each check starts its own
lighttpd + fake, prints one ok/FAIL line, and the log is searched for the
password and for the SMTP reply code.

usage: t_smtp.py BUILDDIR
"""
import base64
import glob
import json
import os
import sys
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
import harness  # noqa: E402

BUILDDIR = sys.argv[1]
PW = "s3cret-pw"
SECRETS = [PW, base64.b64encode(b"\0mailer\0" + PW.encode()).decode(),
           base64.b64encode(PW.encode()).decode()]
PORTS = {"none": 25, "starttls": 587, "implicit": 465}
failed = 0


def fake(tls="none", extra=(), pki="{pki}", user=True):
    cmd = ["tests/fakes/smtp_server.py", "--port", "{smtp.port0}",
           "--dir", "{dir}/smtp", "--tls", tls, "--pki", pki,
           "--lifetime", "300"] + list(extra)
    if user:
        cmd += ["--user", "mailer", "--password", PW]
    return {"name": "smtp", "ports": 1, "cmd": cmd}


def config(usessl=False, usetls=False, port=25, timeout_ms=5000, user=True,
           pwd=PW):
    sec = {"delivery": None, "smtp_host": "smtp.example.com",
           "smtp_port": port, "smtp_usessl": usessl, "smtp_usetls": usetls,
           "mail_sender": "blueking@example.com"}
    if user:
        sec.update(smtp_user="mailer", smtp_pwd=pwd)
    return {"upstream": {"ca_file": "{pki}/ca.pem", "timeout_ms": timeout_ms,
                         "connect_to": ["smtp.example.com:%d:127.0.0.1:"
                                        "{smtp.port0}" % port]},
            "components": {"send_mail": sec}}


def send(g, **kw):
    p = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
         "bk_username": "admin", "receiver": "a@example.com", "title": "t",
         "content": "<p>c</p>"}
    p.update(kw)
    req = urllib.request.Request(
        "http://127.0.0.1:%d/api/c/compapi/cmsi/send_mail/" % g.port,
        data=json.dumps(p).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def spool(g, sub):
    return sorted(glob.glob(os.path.join(g.dir, "smtp" + sub, "*")))


def events(g, word):
    return [f for f in spool(g, "-events") if open(f).read().startswith(word)]


def report(name, err):
    global failed
    if err:
        failed += 1
        print("FAIL t_smtp: %s: %s" % (name, err))
    else:
        print("ok   t_smtp: %s" % name)


def check(name, cfg, fk, body, procs=1):
    """Runs body(g) -> error or None inside a fresh gateway, then the
    log checks: no sanitizer report, no secret."""
    try:
        with harness.Gateway(BUILDDIR, cfg, procs=procs, fakes=[fk]) as g:
            err = body(g)
            log_err = g.check_logs(SECRETS)
            if err is None and log_err is not None:
                err = log_err
    except Exception as e:  # a broken check is a failure, not a crash
        err = "exception: %r" % (e,)
    report(name, err)


def expect_fail(r):
    if r.get("result") is not False or r.get("message") != "Failed to send mail":
        return "expected Failed to send mail, got %r" % r
    return None


def t_unknown_ca(tls):
    def body(g):
        err = expect_fail(send(g))
        if err:
            return err
        if events(g, "auth") or spool(g, ""):
            return "AUTH or a message got through an unverified server"
        g.stop()
        log = g.app_log()
        if "not sent" not in log or "(curl 60)" not in log:
            return "no certificate failure in the log: %r" % log[-600:]
        return None
    cfg = config(usessl=tls == "implicit", usetls=tls == "starttls",
                 port=PORTS[tls])
    # Only the system's CAs: the fake's own CA is known to nobody.
    cfg["upstream"]["ca_file"] = None
    check("%s: certificate from an unknown CA is refused" % tls, cfg,
          fake(tls, pki="{dir}/rogue-pki"), body)


def t_starttls_missing():
    def body(g):
        err = expect_fail(send(g))
        if err:
            return err
        if events(g, "auth"):
            return "the password went out in clear"
        if not events(g, "connection"):
            return "the server was never contacted"
        g.stop()
        if "(curl 64)" not in g.app_log():
            return "no USE_SSL failure in the log"
        return None
    check("STARTTLS required but not offered: no AUTH in clear",
          config(usetls=True, port=587), fake("none"), body)


def t_wrong_password():
    def body(g):
        err = expect_fail(send(g))
        if err:
            return err
        if not events(g, "auth PLAIN refused"):
            return "no refused AUTH at the server"
        g.stop()
        log = g.app_log()
        if "reply 535" not in log:
            return "the log lacks the reply code 535: %r" % log[-600:]
        return None
    check("wrong password: Failed to send mail, 535 in the log",
          config(usetls=True, port=587, pwd="wrong-" + PW),
          fake("starttls"), body)


def t_no_auth_configured():
    def body(g):
        err = expect_fail(send(g))
        if err:
            return err
        if events(g, "auth"):
            return "AUTH without a configured user"
        g.stop()
        if "reply 530" not in g.app_log():
            return "the log lacks the reply code 530"
        return None
    check("no user configured: no AUTH, the server's 530 is a failure",
          config(usetls=True, port=587, user=False), fake("starttls"), body)

    def body2(g):
        r = send(g)
        if r.get("result") is not True:
            return "expected success, got %r" % r
        if events(g, "auth"):
            return "AUTH without a configured user"
        return None
    check("no user configured, open server: delivered without AUTH",
          config(port=25, user=False), fake("none", user=False), body2)


def t_drop(tls):
    def body(g):
        err = expect_fail(send(g))
        if err:
            return err
        g.stop()
        if "not sent" not in g.app_log():
            return "no failure line in the log"
        return None
    check("%s: server drops the connection after the data" % tls,
          config(usessl=tls == "implicit", usetls=tls == "starttls",
                 port=PORTS[tls]), fake(tls, ["--drop"]), body)


def t_stall(where):
    def body(g):
        r = send(g)
        # Read before the fake is stopped: its 30 s stall has not ended
        # (the harness's port probe may have begun one more).
        began, ended = events(g, "stall begins"), events(g, "stall ended")
        err = expect_fail(r)
        if err:
            return err
        if not began or ended:
            return "answered after the fake's stall ended (%d began, " \
                "%d ended)" % (len(began), len(ended))
        g.stop()
        if "(curl 28)" not in g.app_log():
            return "no timeout in the log"
        return None
    check("server stalls at %s: Failed on upstream.timeout_ms, before the "
          "fake's stall ended" % where,
          config(usetls=True, port=587, timeout_ms=1500),
          fake("starttls", ["--stall-at", where, "--stall", "30"]), body)


def t_refused_connection():
    def body(g):
        r = send(g)
        return expect_fail(r)
    cfg = config(port=25)
    cfg["upstream"]["connect_to"] = ["smtp.example.com:25:127.0.0.1:1"]
    check("nothing listening: Failed to send mail", cfg, fake("none"), body)


def t_reuse(tls):
    def body(g):
        for i in range(3):
            r = send(g, title="n%d" % i)
            if r.get("result") is not True:
                return "send %d: %r" % (i, r)
        conns = events(g, "connection")
        if len(conns) != 1:
            return "%d connections for 3 messages" % len(conns)
        if len(events(g, "auth PLAIN ok")) != 1:
            return "AUTH more than once on one connection"
        if len(spool(g, "")) != 3:
            return "%d messages arrived" % len(spool(g, ""))
        g.stop()
        log = g.app_log()
        if log.count("reused connection") != 2:
            return "the log does not show two reused sends"
        if log.count("smtp: sent, reply 250 2.0.0") != 3:
            return "the log lacks the reply code of each send"
        return None
    check("%s: one connection and one AUTH for three messages" % tls,
          config(usessl=tls == "implicit", usetls=tls == "starttls",
                 port=PORTS[tls]), fake(tls), body)


def t_retry(tls):
    def body(g):
        for i in range(3):
            r = send(g, title="n%d" % i)
            if r.get("result") is not True:
                return "send %d after the server closed: %r" % (i, r)
            time.sleep(0.5)
        if len(spool(g, "")) != 3:
            return "%d messages arrived, expected 3 (no duplicate)" % len(
                spool(g, ""))
        if len(events(g, "connection")) != 3:
            return "%d connections" % len(events(g, "connection"))
        g.stop()
        # Over TLS libcurl only learns of the close by failing (5.4).
        if tls != "none" and g.app_log().count("after a retry") != 2:
            return "the retry path was not taken: %r" % g.app_log()[-800:]
        return None
    check("%s: a kept connection the server closed is retried once" % tls,
          config(usessl=tls == "implicit", usetls=tls == "starttls",
                 port=PORTS[tls]), fake(tls, ["--close-after-message"]),
          body)


def t_rcpt_400():
    """An RCPT refused with exactly 400, the lowest code that is no
    success, with retry off: that recipient is refused like any other
    4xx or 5xx (named in the answer, never "Succeeded"), the message
    goes to the other one."""
    def body(g):
        with open(os.path.join(g.dir, "smtp-mode"), "w") as f:
            f.write("reply:400:edge")
        r = send(g, receiver="ok400@example.com,edge400@example.com",
                 title="t-400")
        want = {"result": False, "code": 1306000,
                "message": "Some users failed to send email. The following "
                "recipients were refused: edge400@example.com",
                "data": {"successed": [{"receiver": "ok400@example.com",
                                        "code": 250}],
                         "failed": [{"receiver": "edge400@example.com",
                                     "code": 400}]}}
        got = {k: r.get(k) for k in want}
        if got != want:
            return "answer %r" % (got,)
        envs = [json.load(open(f)) for f in spool(g, "-env")]
        if [e["rcpt_tos"] for e in envs] != [["ok400@example.com"]]:
            return "delivered %r" % [e["rcpt_tos"] for e in envs]
        return None
    cfg = config(port=25)
    if "retry" in cfg["components"]["send_mail"]:
        return report("RCPT 400", "the config has retry on")
    check("RCPT refused with exactly 400, retry off: that recipient "
          "refused, the other sent", cfg,
          fake("none", ["--mode-file", "{dir}/smtp-mode"]), body)


def t_names_cap():
    """The refused recipients' names in the message fill a buffer of
    LIM_MESSAGE / 2 (2048) bytes: 19 names of 100 bytes and a 20th
    whose ",name" (130 bytes) needs exactly the 130 left with its NUL:
    the list ends with the 19th, whole; the 20th is not cut short (the
    answer's data still names all 20)."""
    def name(i, n):
        # local part 8 bytes, labels under 63: n bytes in all.
        pad = n - len("edge%02d@" % i) - len(".example.com")
        return "edge%02d@%s.%s.example.com" % (
            i, "a" * 60, "b" * (pad - 61))
    refused = [name(i, 100) for i in range(19)] + [name(19, 129)]
    assert all(len(r) == 100 for r in refused[:19]) and \
        len(refused[19]) == 129

    def body(g):
        with open(os.path.join(g.dir, "smtp-mode"), "w") as f:
            f.write("reply:550:edge")
        r = send(g, receiver=",".join(["okcap@example.com"] + refused),
                 title="t-cap")
        want = {"result": False, "code": 1306000,
                "message": "Some users failed to send email. The following "
                "recipients were refused: " + ",".join(refused[:19])}
        got = {k: r.get(k) for k in want}
        if got != want:
            return "answer %r" % (got,)
        failed = [f.get("receiver") for f in
                  (r.get("data") or {}).get("failed", [])]
        if failed != refused:
            return "data.failed %r" % failed
        return None
    check("the refused names fill the message's 2048 bytes: the 20th "
          "left out whole, not cut", config(port=25),
          fake("none", ["--mode-file", "{dir}/smtp-mode"]), body)


def main():
    for tls in ("starttls", "implicit"):
        t_unknown_ca(tls)
    t_starttls_missing()
    t_wrong_password()
    t_no_auth_configured()
    for tls in ("none", "implicit"):
        t_drop(tls)
    t_stall("greeting")
    t_stall("data")
    t_refused_connection()
    t_rcpt_400()
    t_names_cap()
    for tls in ("none", "starttls", "implicit"):
        t_reuse(tls)
        t_retry(tls)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
