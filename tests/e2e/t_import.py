#!/usr/bin/python3
"""cmsi.fcgi --import NAME (doc/migrating.md): the values an operator
copies from ESB's Component Configuration tab, as "key: value" lines or
JSON, go into components.NAME as one console save: checked by the
section's schema (the console's words), the rest of the file kept
(comment keys, secret references), the replaced file in the console's
History, an audit record naming the keys and who; a refused import
writes nothing; a running worker serves with the imported values; run
as root it leaves every file to its owner.

usage: t_import.py BUILDDIR
"""
import json
import os
import pwd
import grp
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, cgi, fcgi  # noqa: E402

ESB_TAB = """smtp_host: smtp.qq.com
smtp_port: 465
smtp_usessl: True
smtp_usetls: False
smtp_user:
smtp_pwd:
mail_sender: alerts@example.com
dest_url:
"""


def setup(d):
    conf = {"comment": "the operator's own words",
            "schemas_dir": os.path.join(harness.TOP, "conf/schemas"),
            "templates_dir": os.path.join(harness.TOP, "templates"),
            "state_dir": os.path.join(d, "state"),
            "apps": {"demo": {"secret": "demo-secret", "skip_user_auth": True}},
            "components": {"send_mail": {"comment": "keep me", "delivery": "outbox",
                                         "smtp_pwd": {"env": "CMSI_SMTP_PWD"}}}}
    p = os.path.join(d, "cmsi.json")
    with open(p, "w") as f:
        json.dump(conf, f, indent=2)
    return p


def run(build, conf, text, *extra):
    argv = [os.path.join(harness.TOP, build, "cmsi.fcgi"), "--import", "send_mail",
            "-c", conf] + list(extra)
    r = subprocess.run(argv, input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60,
                       env=dict(os.environ, CMSI_SMTP_PWD="pw"))
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def audit(d):
    p = os.path.join(d, "state", "audit.log")
    if not os.path.exists(p):
        return []
    return [json.loads(l) for l in open(p) if '"console.import"' in l]


def history(d):
    """The replaced versions History keeps (each has a .meta beside it:
    who replaced it and which keys)."""
    h = os.path.join(d, "state", "console", "history")
    return sorted(n for n in os.listdir(h) if n.endswith(".json")) \
        if os.path.isdir(h) else []


def history_meta(d, version):
    h = os.path.join(d, "state", "console", "history")
    with open(os.path.join(h, version[:-len(".json")] + ".meta")) as f:
        return json.load(f)


def main():
    c = Checker()
    b = sys.argv[1]
    d = tempfile.mkdtemp(prefix="cmsi-import-")
    os.chmod(d, 0o755)
    proc = None
    try:
        conf = setup(d)
        before = open(conf).read()

        rc, out, err = run(b, conf, ESB_TAB)
        doc = json.load(open(conf))
        sec = doc["components"]["send_mail"]
        c.ok("ESB's tab as key: value lines is imported", rc == 0 and
             "5 keys imported" in out, out + err)
        c.eq("values stay as ESB stored them", {k: sec.get(k) for k in (
            "smtp_host", "smtp_port", "smtp_usessl", "smtp_usetls", "mail_sender")},
            {"smtp_host": "smtp.qq.com", "smtp_port": "465", "smtp_usessl": "True",
             "smtp_usetls": "False", "mail_sender": "alerts@example.com"})
        c.ok("empty values are ESB's default: left out, said so",
             "smtp_user" not in sec and "dest_url" not in sec and
             "smtp_user: empty, left as it is" in err, err)
        c.ok("the rest of the file is kept (comments, the secret reference)",
             doc.get("comment") == "the operator's own words" and
             sec.get("comment") == "keep me" and
             sec.get("smtp_pwd") == {"env": "CMSI_SMTP_PWD"} and
             sec.get("delivery") == "outbox", sec)
        hist = history(d)
        c.ok("the replaced file is in the console's History",
             len(hist) == 1 and open(os.path.join(
                 d, "state/console/history", hist[0])).read() == before, hist)
        meta = history_meta(d, hist[0]) if hist else {}
        c.ok("History says who replaced it, how and which keys",
             meta.get("event") == "import" and meta.get("component") == "send_mail"
             and "smtp_host" in meta.get("keys", []), meta)
        rec = audit(d)
        c.ok("an audit record names the keys and who (import), never a value",
             len(rec) == 1 and rec[0].get("user") == "import" and
             sorted(rec[0].get("keys", [])) == sorted(
                 ["smtp_host", "smtp_port", "smtp_usessl", "smtp_usetls", "mail_sender"])
             and "smtp.qq.com" not in json.dumps(rec[0]), rec)
        r = subprocess.run([os.path.join(harness.TOP, b, "cmsi.fcgi"), "-t", "-c", conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=dict(os.environ, CMSI_SMTP_PWD="pw"))
        c.ok("the imported file passes -t", r.returncode == 0, r.stdout.decode())

        # Refusals write nothing.
        now = open(conf).read()
        for text, want in [
                ("smtp_hots: smtp.qq.com\n",
                 "smtp_hots: unknown key for send_mail (did you mean smtp_host?)"),
                ("smtp_port: 99999\nsmtp_usetls: maybe\n", "smtp_port: not a port"),
                ("smtp_port: 25\nsmtp_port: 26\n", "line 2: smtp_port is given twice"),
                ("just text\n", 'line 1: not "key: value"'),
                ('{"smtp_port": ', "the input is no JSON object"),
                ("[1, 2]", 'line 1: not "key: value"'),
                ("x" * (64 * 1024 + 1), "the input is over 65536 bytes")]:
            rc, out, err = run(b, conf, text)
            c.ok("refused, nothing written: %s" % want, rc == 1 and want in err and
                 open(conf).read() == now and len(history(d)) == 1, out + err)
        rc, out, err = run(b, conf, "smtp_usetls: maybe\n")
        c.ok("a bad value gets the console's words", "smtp_usetls: not a boolean" in err,
             err)

        # JSON, as the tab's values may be saved; --user names who.
        rc, out, err = run(b, conf, json.dumps({"smtp_port": 587, "smtp_usessl": "False",
                                                "smtp_usetls": "True"}), "--user", "alice")
        sec = json.load(open(conf))["components"]["send_mail"]
        c.ok("JSON is imported, typed values kept", rc == 0 and sec.get("smtp_port") == 587
             and sec.get("smtp_usetls") == "True", out + err)
        c.ok("--user names who in the audit record",
             audit(d)[-1].get("user") == "alice", audit(d)[-1:])
        rc, out, err = run(b, conf, json.dumps({"smtp_port": 587}))
        c.ok("the same values again: nothing changed, nothing kept",
             rc == 0 and "nothing changed" in out and len(history(d)) == 2, out + err)

        # A running worker serves with what was imported.
        port = harness.free_port()
        log = open(os.path.join(d, "app.log"), "wb")
        proc = subprocess.Popen([os.path.join(harness.TOP, b, "cmsi.fcgi"), "-c", conf,
                                 "-s", "127.0.0.1:%d" % port], stdout=log,
                                stderr=subprocess.STDOUT,
                                env=dict(os.environ, CMSI_SMTP_PWD="pw"))
        harness.wait_port(port)
        rc, out, err = run(b, conf, "mail_sender: noc@example.org\n")
        body = json.dumps({"bk_app_code": "demo", "bk_app_secret": "demo-secret",
                           "bk_username": "admin", "receiver": "x@example.com",
                           "title": "t", "content": "c"}).encode()
        st, head, raw = fcgi(("127.0.0.1", port),
                             cgi("POST", "/api/c/compapi/cmsi/send_mail/", body), body)
        outbox = os.path.join(d, "state", "outbox")
        emls = [n for n in os.listdir(outbox) if n.endswith(".eml")] \
            if os.path.isdir(outbox) else []
        c.ok("a running worker sends with the imported mail_sender", st == 200 and
             emls and b"noc@example.org" in open(os.path.join(outbox, emls[0]), "rb").read(),
             "%d %r" % (st, raw[:200]))

        # Root importing into a file the app's user owns.
        if os.geteuid() == 0:
            uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
            d2 = os.path.join(d, "owned")
            os.makedirs(os.path.join(d2, "state"))
            conf2 = setup(d2)
            os.chown(conf2, uid, gid)
            os.chmod(conf2, 0o640)
            os.chown(d2, uid, gid)
            os.chown(os.path.join(d2, "state"), uid, gid)
            rc, out, err = run(b, conf2, ESB_TAB)
            st2 = os.stat(conf2)
            owned = [os.path.join(d2, "state", p) for p in (
                "audit.log", "console", "console/history", "console/save.lock")]
            owned += [os.path.join(d2, "state/console/history", n) for n in history(d2)]
            c.ok("as root: the config keeps its owner and mode", rc == 0 and
                 (st2.st_uid, st2.st_gid, st2.st_mode & 0o777) == (uid, gid, 0o640),
                 (st2.st_uid, st2.st_gid, oct(st2.st_mode), err))
            c.ok("as root: what it made under state_dir is the state_dir owner's",
                 all(os.stat(p).st_uid == uid for p in owned if os.path.exists(p))
                 and len(owned) >= 5, [(p, os.stat(p).st_uid) for p in owned
                                       if os.path.exists(p)])
        else:
            print("skip import as root: not root")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(d, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
