#!/usr/bin/python3
"""Bad input breaks nothing: every field of every component's schema gets
values of every JSON type and some hostile strings, plus whole-body
oddities.  Each answer must be the ESB envelope (or the 404/413 document),
the workers must never die, and the sanitizers must stay silent."""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402

CR = {"bk_app_code": "demo", "bk_app_secret": "demo-secret", "bk_username": "admin"}
VALUES = [None, True, False, 0, -1, 1.5, 1e308, "", " ", "x", "a@b", "\u0000",
          "\r\nBcc: x@y", "\ud800", "\u2028", "[1,2", "[\"a\",\"b\"]", "YQ", "=",
          "x" * 70000, [], [None], [1, "a", {}], [{}], [{"filename": 1, "content": {}}],
          [{"filename": "a", "content": "YQ=="}] * 60, {}, {"a": [1]},
          {"heading": [], "message": {}}, {"username": None, "mobile_phone": 12}]
VALUES.append(json.loads("[" * 20 + "]" * 20))


def fields(schema):
    out = set(schema.get("properties", {}).keys())
    for sub in schema.get("allOf", []):
        out |= set(sub.get("properties", {}).keys())
    return sorted(out) + ["template", "context", "msg_type", "url",
                          "wx_qy_agentid", "unknown"]


def alive(c, g, label):
    st, doc = http(g, "POST", "/api/c/compapi/cmsi/send_mail/", json.dumps(dict(
        CR, receiver="a@x.org", title="t", content="c")).encode())
    c.ok("worker alive after " + label, st == 200 and doc.get("result") is True,
         repr(doc)[:200])


def main():
    c = Checker()
    build = sys.argv[1]
    sdir = os.path.join(harness.TOP, "conf/schemas")
    # A custom component of each kind (its schema is custom_<kind>.json,
    # its path the operator's name), sending to the outbox: the fuzzing
    # reaches its request schema and handler, nothing leaves.
    tmp = tempfile.mkdtemp(prefix="cmsi-hostile-")
    comps, names = {}, {}
    for fn in sorted(os.listdir(sdir)):
        if fn.startswith("custom_") and fn.endswith(".json"):
            kind = fn[len("custom_"):-5]
            url = os.path.join(tmp, kind + ".url")
            with open(url, "w") as f:
                f.write("https://hooks.example.com/%s?key=k" % kind)
            key = "url" if kind == "webhook" else "webhook"
            names[fn] = "send_hostile_" + kind.split("_")[0]
            comps[names[fn]] = {"kind": kind, "delivery": "outbox", key: {"file": url}}
    with harness.Gateway(build, {"components": comps}, procs=1) as g:
        for fn in sorted(os.listdir(sdir)):
            # config/ holds the config sections' schemas, no requests.
            if not fn.endswith(".json"):
                continue
            comp = names.get(fn, fn[:-5])
            schema = json.load(open(os.path.join(sdir, fn)))
            bad = []
            for f in fields(schema):
                for v in VALUES:
                    for method in ("POST", "GET"):
                        if method == "POST":
                            st, doc = http(g, "POST", "/api/c/compapi/cmsi/%s/" % comp,
                                           json.dumps(dict(CR, **{f: v})).encode())
                        else:
                            import urllib.parse
                            sv = v if isinstance(v, str) else json.dumps(v)
                            sv = sv.encode("utf-8", "surrogatepass")
                            q = urllib.parse.urlencode(dict(CR, **{f: sv}))
                            st, doc = http(g, "GET", "/api/c/compapi/cmsi/%s/?%s"
                                           % (comp, q))
                        # lighttpd itself refuses control bytes and huge
                        # URLs (400, 414, 431); the app never sees them.
                        if st not in (200, 400, 413, 414, 431) or (st == 200 and (
                                "result" not in doc or "request_id" not in doc)):
                            bad.append((f, repr(v)[:40], method, st, repr(doc)[:120]))
            c.ok("%s: every field x every type answers an envelope" % comp,
                 not bad, repr(bad[:5]))
        alive(c, g, "field fuzzing")
        odd = [b"", b"{", b"}", b"{}", b"null", b"[]", b"\xff\xfe", b"{\"a\":\"\xff\"}",
               b"a=1&a=2&&=&%", b"{\"bk_app_code\": {\"x\": 1}, \"bk_app_secret\": [1]}",
               b"{" * 5000, b"\x00" * 100, ("{\"t\": \"%s\"}" % ("\\u0000" * 100)).encode()]
        bad = []
        for body in odd:
            for ct in ("application/json", "application/x-www-form-urlencoded",
                       "multipart/form-data; boundary=zz", "multipart/form-data"):
                st, doc = http(g, "POST", "/api/c/compapi/cmsi/send_mail/", body,
                               {"Content-Type": ct})
                if st != 200 or "result" not in doc:
                    bad.append((body[:20], ct, st))
        c.ok("odd bodies answer an envelope", not bad, repr(bad[:5]))
        # Contract 3.1: a header that is no JSON object is 1306406 with
        # no request_id; an object without a secret is the chain's
        # first refusal; an empty header reads as none.
        nojson = (1306406, "Parameters error, request header "
                  "X-Bkapi-Authorization is not a valid JSON format string")
        nosecret = (1306000, "Signature [bk_signature] and APP Secret "
                    "[bk_app_secret] cannot be empty at the same time")
        for h, want in (("", nosecret), ("null", nojson), ("[]", nojson),
                        ("\"x\"", nojson), ("{\"bk_app_code\": 1}", nosecret),
                        ("{" * 100, nojson)):
            st, doc = http(g, "POST", "/api/c/compapi/cmsi/send_mail/", b"{}",
                           {"X-Bkapi-Authorization": h})
            c.ok("X-Bkapi-Authorization %r: %d %s" % (h[:12], want[0], want[1]),
                 st == 200 and doc.get("result") is False and
                 (doc.get("code"), doc.get("message")) == want and
                 ("request_id" in doc) == (want is nosecret),
                 repr(doc)[:200])
        for path in ("/api/c/compapi/cmsi/", "/api/c/compapi/cmsi//send_mail",
                     "/api/c/compapi/cmsi/send_mail/x", "/api/c/compapi/" + "a/" * 400,
                     "/api/c/compapi/cmsi/%00", "/api/c/compapi/v2/v2/cmsi/send_mail/"):
            st, doc = http(g, "GET", path)
            c.ok("path %r is 404 (or refused by lighttpd)" % path[:40],
                 (st == 404 and doc.get("message") == "The content does not exist")
                 or (st == 400 and "_raw" in doc), repr(doc)[:100])
        alive(c, g, "odd bodies, headers and paths")
        err = g.read("error.log")
        c.ok("no worker died (lighttpd saw no signal or lost reply)",
             "child signalled" not in err and "response not received" not in err,
             err[-600:])
    c.logs(g)
    shutil.rmtree(tmp, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
