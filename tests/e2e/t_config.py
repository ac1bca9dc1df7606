#!/usr/bin/python3
"""cmsi.fcgi -t: a config is checked once, one clear line per problem;
ESB-style strings ("True", "465") and secrets from files and the
environment are accepted."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker  # noqa: E402


def configtest(build, doc, env=None):
    d = tempfile.mkdtemp(prefix="cmsi-conf-")
    try:
        with open(os.path.join(d, "secret.txt"), "w") as f:
            f.write("from-a-file\n")
        if isinstance(doc, dict):
            doc = dict({"schemas_dir": os.path.join(harness.TOP, "conf/schemas"),
                        "templates_dir": os.path.join(harness.TOP, "templates"),
                        "state_dir": os.path.join(d, "state")}, **doc)
        p = os.path.join(d, "c.json")
        with open(p, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        r = subprocess.run([os.path.join(harness.TOP, build, "cmsi.fcgi"), "-t", "-c", p],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=dict(os.environ, **(env or {})))
        return r.returncode, r.stdout.decode()
    finally:
        shutil.rmtree(d)


def main():
    c = Checker()
    b = sys.argv[1]
    rc, out = configtest(b, {
        "apps": {"a": {"secret": {"file": "secret.txt"}, "skip_user_auth": "True"},
                 "e": {"secret": {"env": "CMSI_T_SECRET"}}},
        "components": {"send_mail": {"smtp_host": "smtp.example.com", "smtp_port": "465",
                                     "smtp_usessl": "True", "smtp_usetls": "False",
                                     "smtp_pwd": {"env": "CMSI_T_SECRET"}},
                       "get_msg_type": {"mail": "true", "sms": 0}}},
        {"CMSI_T_SECRET": "s"})
    c.ok("ESB strings, file and env secrets accepted", rc == 0 and "configuration OK" in out, out)
    rc, out = configtest(b, {
        "stat_dir": "x",
        "apps": {"a": {"secret": {"env": "CMSI_T_UNSET"}}, "b": {}, "c": {"secret": ""}},
        "components": {"send_mail": {"smtp_port": "abc", "smtp_usessl": "maybe",
                                     "smtp_hots": "x", "smtp_pwd": {"file": "nope.txt"}},
                       "send_fax": {}, "send_weixin": {"wx_type": "work"},
                       "send_sms": {"qcloud_api": "v4", "delivery": "paper"}},
        "upstream": {"timeout_ms": "0", "connect_to": "x", "ca_file": "/nonexistent",
                     "max_host_connections": 0, "max_connections": "lots"}})
    lines = [l for l in out.splitlines() if l.strip()]
    want = ["stat_dir: unknown key", "CMSI_T_UNSET is not set", "apps.b: needs a \"secret\"",
            "apps.c: the secret is empty", "smtp_port: not a port", "smtp_usessl: not a boolean",
            "smtp_hots: unknown key", "cannot read secret file", "send_fax: unknown component",
            "wx_type: qy, qywx or mp", "qcloud_api: v5 or tc3", "delivery: only \"outbox\"",
            "timeout_ms: 1 to 600000", "connect_to: a list of strings", "ca_file: cannot read",
            "upstream.max_host_connections: 1 to 4096", "upstream.max_connections: 1 to 4096"]
    c.ok("bad config refused", rc != 0, out)
    for w in want:
        c.ok("problem reported: " + w, any(w in l for l in lines), out)
    c.ok("one line per problem, then a summary", len(lines) == len(want) + 1 and
         "problems, not started" in lines[-1], "\n".join(lines))
    rc, out = configtest(b, "{not json")
    c.ok("unparseable config refused clearly", rc != 0 and "line 1, column " in out and
         "not valid JSON" in out, out)
    rc, out = configtest(b, {"schemas_dir": "/nonexistent"})
    c.ok("missing schemas refused", rc != 0 and "/nonexistent/send_mail.json" in out, out)

    return c.done()


if __name__ == "__main__":
    sys.exit(main())
