#!/usr/bin/python3
"""cmsi.fcgi -t checks what run time needs (a state directory the user
can write, every template, at least one app, no unknown keys, JSON
errors in a person's words), and a process that cannot load its config
under FastCGI answers every request with ESB's envelope and 503."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, cgi, fcgi  # noqa: E402

GOOD_APPS = {"a": {"secret": "s3cret", "skip_user_auth": True}}


def base(d, **over):
    doc = {"schemas_dir": os.path.join(harness.TOP, "conf/schemas"),
           "templates_dir": os.path.join(harness.TOP, "templates"),
           "state_dir": os.path.join(d, "state"), "apps": GOOD_APPS}
    doc.update(over)
    return doc


def run_t(build, d, doc, user=None):
    p = os.path.join(d, "c.json")
    if isinstance(doc, bytes):
        with open(p, "wb") as f:
            f.write(doc)
    else:
        with open(p, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
    os.chmod(p, 0o644)
    argv = [os.path.join(harness.TOP, build, "cmsi.fcgi"), "-t", "-c", p]
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    return r.returncode, r.stdout.decode()


def check_t(c, b):
    d = tempfile.mkdtemp(prefix="cmsi-cc-")
    os.chmod(d, 0o755)
    try:
        rc, out = run_t(b, d, base(d))
        c.ok("a complete config passes", rc == 0 and "configuration OK" in out, out)
        c.ok("-t leaves no state directory behind",
             not os.path.exists(os.path.join(d, "state")), os.listdir(d))

        # JSON as a person would say it.
        for text, want in [
                ("", "c.json: empty file"),
                ("  \n", "c.json: empty file"),
                ("[]", "c.json: expected an object, found an array"),
                ('"x"', "c.json: expected an object, found a string"),
                ("null", "c.json: expected an object, found null"),
                ('{\n  "apps": {},\n  "b": x\n}', "c.json: line 3, column 8: not valid JSON"),
                ('{\n  "apps": {\n', "c.json: line 3, column 1: the file ends inside"),
                ("{} {}", "c.json: line 1, column 4: text after the end of the object"),
                # Issue 32 row 16: what only json-c's lenient parser takes.
                ('{\n  "apps": {},\n}', "c.json: line 2, column 13: not strict JSON (a comma"),
                ('{"apps": [1, 2, ]}', "c.json: line 1, column 15: not strict JSON (a comma"),
                ('{"apps": {"a": {"secret": "s", "skip_user_auth": False}}}',
                 "c.json: line 1, column 50: not strict JSON (not a JSON word"),
                ('{"apps": None}', "c.json: line 1, column 11: not valid JSON"),
                ('{"apps": {}, "x": NaN}', "c.json: line 1, column 19: not strict JSON (not a JSON word"),
                ('{\n  /* apps */ "apps": {}\n}', "c.json: line 2, column 3: not strict JSON (a comment"),
                ('{"apps": {}} // end', "c.json: line 1, column 14: not strict JSON (a comment"),
                ("{'apps': {}}", "c.json: line 1, column 2: not strict JSON (a single quote"),
                ('{"apps": "a\tb"}', "c.json: line 1, column 12: not strict JSON (a control character"),
                ('{"apps": 01}', "c.json: line 1, column 12: not strict JSON"),
                (b'{"apps": "\xff"}', "c.json: line 1, column 11: not strict JSON")]:
            rc, out = run_t(b, d, text)
            c.ok("JSON problem said plainly: %r -> %s" % (text, want),
                 rc == 1 and want in out and "(continue)" not in out
                 and "(success)" not in out, out)

        # Typos under apps.<code>, upstream, login (users already caught).
        rc, out = run_t(b, d, base(d, apps={"a": {"secret": "x", "skip_user_aut": True,
                                                  "comment": "ok"}},
                                   upstream={"timout_ms": 5, "comment": "ok"},
                                   login={"is_login_ur": "http://x/", "comment": "ok"},
                                   users={"cache_second": 5}))
        for w in ["apps.a.skip_user_aut: unknown key", "upstream.timout_ms: unknown key",
                  "login.is_login_ur: unknown key", "users.cache_second: unknown key"]:
            c.ok("typo caught: " + w, rc == 1 and w in out, out)
        c.ok("comment allowed in apps.<code>, upstream and login",
             "comment" not in out, out)

        # No apps: nothing can call.
        doc = base(d)
        del doc["apps"]
        rc, out = run_t(b, d, doc)
        c.ok("no apps: a line saying nothing can call (a note, -t passes)",
             rc == 0 and "note: apps: none, so nothing can call" in out, out)

        # Templates: a missing one and one that does not parse, each named.
        tdir = os.path.join(d, "templates")
        shutil.copytree(os.path.join(harness.TOP, "templates"), tdir)
        os.unlink(os.path.join(tdir, "mail/text.mustache"))
        rc, out = run_t(b, d, base(d, templates_dir=tdir))
        c.ok("missing template named", rc == 1 and
             "templates_dir: %s/mail/text.mustache is missing" % tdir in out, out)
        with open(os.path.join(tdir, "sms/text.mustache"), "w") as f:
            f.write("{{#open}}never closed")
        with open(os.path.join(tdir, "voice/text.mustache"), "w") as f:
            f.write("{{/stray}}")
        rc, out = run_t(b, d, base(d, templates_dir=tdir))
        c.ok("each broken template has its line", rc == 1 and
             "%s/sms/text.mustache: " % tdir in out and
             "%s/voice/text.mustache: " % tdir in out, out)

        # state_dir: under a file, and not writable by the user of -t.
        with open(os.path.join(d, "afile"), "w") as f:
            f.write("x")
        rc, out = run_t(b, d, base(d, state_dir=os.path.join(d, "afile/state")))
        c.ok("state_dir that cannot be created: the reason",
             rc == 1 and "state_dir: cannot create %s/afile/state: Not a directory" % d
             in out, out)
        st = os.path.join(d, "rootstate")
        os.makedirs(os.path.join(st, "outbox"))
        os.makedirs(os.path.join(st, "spool"))
        os.chmod(st, 0o755)
        if os.geteuid() == 0 and harness.reachable():
            rc, out = run_t(b, d, base(d, state_dir=st), user="nobody")
            c.ok("root-owned state_dir, -t as nobody: cannot write",
                 rc == 1 and "state_dir: cannot write in %s: Permission denied" % st
                 in out and "cannot write in %s/outbox" % st in out and
                 "cannot create %s/tokens: Permission denied" % st in out, out)
            rc, out = run_t(b, d, base(d, state_dir=st))
            c.ok("the same as root passes (root may write)", rc == 0, out)
            c.ok("what -t created, it removed",
                 sorted(os.listdir(st)) == ["outbox", "spool"], os.listdir(st))
        else:
            print("skip state_dir as another user: not root or tree unreachable")
    finally:
        shutil.rmtree(d)


def check_unconfigured(c, b):
    """A FastCGI process whose config does not load answers 503 + the
    envelope, and starts for real once the file is fixed."""
    d = tempfile.mkdtemp(prefix="cmsi-unconf-")
    proc = None
    try:
        p = os.path.join(d, "c.json")
        with open(p, "w") as f:
            f.write("[]")
        port = harness.free_port()
        log = open(os.path.join(d, "log"), "wb")
        proc = subprocess.Popen([os.path.join(harness.TOP, b, "cmsi.fcgi"), "-c", p,
                                 "-s", "127.0.0.1:%d" % port],
                                stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, **harness.SAN_ENV_VALUES)
                                if hasattr(harness, "SAN_ENV_VALUES") else None)
        c.ok("unconfigured process listens", harness.wait_port(port), "")
        body = json.dumps({"bk_app_code": "a", "bk_app_secret": "s3cret",
                           "bk_username": "admin",
                           "receiver": "x@example.com", "title": "t",
                           "content": "c"}).encode()
        st, head, out = fcgi(("127.0.0.1", port),
                             cgi("POST", "/api/c/compapi/cmsi/send_mail/", body), body)
        try:
            doc = json.loads(out)
        except ValueError:
            doc = {}
        c.ok("503 with ESB's envelope", st == 503 and doc.get("result") is False and
             doc.get("code") == 1306000, "%d %r" % (st, out))
        c.ok("message names the problem", doc.get("message", "").startswith(
             "cmsi.fcgi is not configured: %s: expected an object, found an array" % p),
             doc.get("message"))
        c.ok("process still running", proc.poll() is None, "")
        with open(p, "w") as f:
            json.dump(base(d, components={"send_mail": {"delivery": "outbox"}}), f)
        # The request that notices the fix still gets 503; then a restart.
        fcgi(("127.0.0.1", port), cgi("GET", "/healthz"), b"")
        ok = False
        for _ in range(50):
            try:
                st, head, out = fcgi(("127.0.0.1", port),
                                     cgi("POST", "/api/c/compapi/cmsi/send_mail/", body),
                                     body, timeout=5)
                if st == 200:
                    ok = True
                    break
            except OSError:
                pass
            time.sleep(0.1)
        c.ok("fixed file: the process starts for real", ok and
             json.loads(out).get("result") is True, out)
        log.close()
        with open(os.path.join(d, "log"), "rb") as f:
            text = f.read().decode(errors="replace")
        c.ok("the log names the problem", "not configured, every request gets 503" in text
             and "expected an object, found an array" in text, text)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(d)


LIM_BODY = 8 * 1024 * 1024
LIM_RENDER = LIM_BODY + 64 * 1024


def mail_body(size=None, content=None, fmt="Html"):
    """A send_mail body of exactly size bytes (content padded), or with
    the content given."""
    doc = {"bk_app_code": "a", "bk_app_secret": "s3cret", "bk_username": "admin",
           "receiver": "x@example.com", "title": "t", "body_format": fmt,
           "content": ""}
    if content is None:
        content = "a" * (size - len(json.dumps(doc).encode()))
    doc["content"] = content
    return json.dumps(doc).encode()


def check_limits(c, b):
    """Mail content the body cap lets in renders; a layout that grows it
    past the rendering cap is refused with a message naming the cap."""
    d = tempfile.mkdtemp(prefix="cmsi-lim-")
    proc = None
    try:
        tdir = os.path.join(d, "templates")
        shutil.copytree(os.path.join(harness.TOP, "templates"), tdir)
        with open(os.path.join(tdir, "mail/html.mustache"), "w") as f:
            f.write("{{content}}\n")
        p = os.path.join(d, "c.json")
        with open(p, "w") as f:
            json.dump(base(d, templates_dir=tdir,
                           components={"send_mail": {"delivery": "outbox"}}), f)
        port = harness.free_port()
        log = open(os.path.join(d, "log"), "wb")
        proc = subprocess.Popen([os.path.join(harness.TOP, b, "cmsi.fcgi"), "-c", p,
                                 "-s", "127.0.0.1:%d" % port],
                                stdout=log, stderr=subprocess.STDOUT)
        c.ok("app listens", harness.wait_port(port), "")
        addr = ("127.0.0.1", port)
        uri = "/api/c/compapi/cmsi/send_mail/"

        def send(body):
            st, _, out = fcgi(addr, cgi("POST", uri, body), body, timeout=120)
            try:
                return st, json.loads(out)
            except ValueError:
                return st, {"raw": out[:200]}

        st, doc = send(mail_body(LIM_BODY, fmt="Text"))
        c.ok("Text mail content filling the 8 MiB body cap is sent",
             st == 200 and doc.get("result") is True, "%d %r" % (st, doc))
        st, doc = send(mail_body(LIM_BODY))
        c.ok("HTML mail content filling the 8 MiB body cap is sent",
             st == 200 and doc.get("result") is True, "%d %r" % (st, doc))
        st, doc = send(mail_body(LIM_BODY + 1))
        c.ok("one byte over the body cap: 413 naming it",
             st == 413 and doc.get("message") == "Request body is too large",
             "%d %r" % (st, doc))
        # This HTML layout escapes: each "<" becomes 4 bytes.
        n = LIM_RENDER // 4
        body = json.loads(mail_body(content="<" * n))
        st, doc = send(json.dumps(body).encode())
        c.ok("a rendering exactly at the cap is sent",
             st == 200 and doc.get("result") is True, "%d %r" % (st, doc))
        body["content"] = "<" * (n + 1)
        st, doc = send(json.dumps(body).encode())
        c.ok("one byte over the rendering cap: refused naming the limit",
             doc.get("result") is False and doc.get("message") ==
             "The content, laid out by template mail/html, is larger than "
             "%d bytes (the rendering limit)" % LIM_RENDER, "%d %r" % (st, doc))
        log.close()
        with open(os.path.join(d, "log"), "rb") as f:
            text = f.read().decode(errors="replace")
        c.ok("no 'missing or too large' for a present template",
             "missing or too large" not in text and
             "template mail/html: rendering larger than %d bytes" % LIM_RENDER in text,
             text[-2000:])
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(d)


def check_unconf_retry(c, b):
    """A worker that could not start because its state directory was not
    writable (the spawn-fcgi recipe's mistake) starts by itself a few
    seconds after the directory is fixed: no request, no touch of the
    config file.  As nobody with a root-owned directory when it can; in
    any case with a file standing where the directory should be."""
    if os.geteuid() == 0 and harness.reachable():
        import pwd
        nobody = pwd.getpwnam("nobody")

        def bad(st):
            os.mkdir(st, 0o755)     # root's: nobody cannot make outbox/ in it

        def fix(st):
            os.chown(st, nobody.pw_uid, nobody.pw_gid)
        unconf_retry(c, b, "unwritable state_dir", bad, fix,
                     "cannot create %s/outbox: Permission denied",
                     dict(user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[]))
    else:
        print("skip unconfigured retry as nobody: needs root and a tree nobody can read")

    def blocked(st):
        with open(os.path.dirname(st), "w") as f:   # a file where a directory goes
            f.write("x")

    def unblocked(st):
        os.unlink(os.path.dirname(st))
        os.mkdir(os.path.dirname(st))
    unconf_retry(c, b, "state_dir under a file", blocked, unblocked,
                 "cannot create %s/outbox: Not a directory", {}, sub="blk/state")


def unconf_retry(c, b, tag, bad, fix, want, popen_kw, sub="state"):
    d = tempfile.mkdtemp(prefix="cmsi-unretry-")
    os.chmod(d, 0o755)
    proc = None
    try:
        st = os.path.join(d, sub)
        bad(st)
        p = os.path.join(d, "c.json")
        with open(p, "w") as f:
            json.dump(base(d, state_dir=st,
                           components={"send_mail": {"delivery": "outbox"}}), f)
        os.chmod(p, 0o644)
        before = os.stat(p)
        port = harness.free_port()
        logp = os.path.join(d, "log")
        log = open(logp, "wb")
        proc = subprocess.Popen([os.path.join(harness.TOP, b, "cmsi.fcgi"), "-c", p,
                                 "-s", "127.0.0.1:%d" % port],
                                stdout=log, stderr=subprocess.STDOUT, **popen_kw)
        c.ok("[%s] the worker listens" % tag, harness.wait_port(port), "")
        body = json.dumps({"bk_app_code": "a", "bk_app_secret": "s3cret",
                           "bk_username": "admin", "receiver": "x@example.com",
                           "title": "t", "content": "c"}).encode()
        code, head, out = fcgi(("127.0.0.1", port),
                               cgi("POST", "/api/c/compapi/cmsi/send_mail/", body), body)
        c.ok("[%s] 503 naming the directory" % tag, code == 503 and
             (want % st) in out.decode(errors="replace"), out)
        fix(st)
        # No request meanwhile: the worker retries on its own clock.
        started = False
        for _ in range(300):
            with open(logp, "rb") as f:
                if b"starts now, starting again" in f.read():
                    started = True
                    break
            time.sleep(0.1)
        c.ok("[%s] fixed: the worker starts again by itself" % tag, started,
             open(logp, "rb").read().decode(errors="replace"))
        ok = False
        for _ in range(50):
            try:
                code, head, out = fcgi(("127.0.0.1", port),
                                       cgi("POST", "/api/c/compapi/cmsi/send_mail/", body),
                                       body, timeout=5)
                if code == 200:
                    ok = True
                    break
            except OSError:
                pass
            time.sleep(0.1)
        c.ok("[%s] then it serves: send_mail into the outbox" % tag, ok and
             json.loads(out).get("result") is True, out)
        after = os.stat(p)
        c.ok("[%s] the config file was not touched" % tag,
             (before.st_mtime_ns, before.st_ino) == (after.st_mtime_ns, after.st_ino), "")
        c.ok("[%s] the same process (restarted in place)" % tag, proc.poll() is None, "")
        log.close()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(d)


def check_typo_hints(c, b):
    """-t names the key meant, and the state directory it picks itself."""
    d = tempfile.mkdtemp(prefix="cmsi-hint-")
    os.chmod(d, 0o755)
    try:
        rc, out = run_t(b, d, base(d, components={"send_mail": {"smtp_hots": "x",
                                                                "zzzz": 1},
                                                  "send_mial": {}},
                                   upstrem={}, upstream={"timeout_msx": 5}))
        for w in ["components.send_mail.smtp_hots: unknown key (did you mean smtp_host?)",
                  "components.send_mial: unknown component (did you mean send_mail?)",
                  "upstrem: unknown key (did you mean upstream?)",
                  "upstream.timeout_msx: unknown key (did you mean timeout_ms?)"]:
            c.ok("-t suggests: " + w, rc == 1 and w in out, out)
        c.ok("-t suggests nothing for a key near none",
             "components.send_mail.zzzz: unknown key\n" in out, out)
        doc = base(d)
        del doc["state_dir"]
        rc, out = run_t(b, d, doc)
        c.ok("-t names the state_dir it picks when the file names none",
             rc == 0 and "note: state_dir: not set, so %s/var" % d in out, out)
        rc, out = run_t(b, d, base(d))
        c.ok("no such note when the file names one", "note: state_dir" not in out, out)
    finally:
        shutil.rmtree(d)


def check_help(c, b):
    """--help and -h: usage on stdout, exit 0; --version names the build and
    its libraries; a wrong option: usage on stderr, exit 2."""
    exe = os.path.join(harness.TOP, b, "cmsi.fcgi")
    for opt in ("--help", "-h"):
        r = subprocess.run([exe, opt], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        c.ok(opt + ": usage on stdout, exit 0", r.returncode == 0 and
             r.stdout.startswith(b"usage: cmsi.fcgi") and r.stderr == b"", r)
    r = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, timeout=30)
    out = r.stdout.decode()
    c.ok("--version: version and libraries, exit 0", r.returncode == 0 and
         out.startswith("cmsi.fcgi ") and all(
             lib in out for lib in ("libfcgi ", "libcurl ", "json-c ", "libxml2 ",
                                    "GnuTLS ")), out)
    r = subprocess.run([exe, "--nonsense"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    c.ok("unknown option: usage on stderr, exit 2", r.returncode == 2 and
         b"usage: cmsi.fcgi" in r.stderr and r.stdout == b"", r)


def main():
    c = Checker()
    b = sys.argv[1]
    check_t(c, b)
    check_unconfigured(c, b)
    check_unconf_retry(c, b)
    check_typo_hints(c, b)
    check_help(c, b)
    check_limits(c, b)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
