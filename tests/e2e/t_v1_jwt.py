#!/usr/bin/python3
"""The v1 dialect behind BlueKing's API gateway: the gateway strips
X-Bkapi-Authorization and sends X-Bkapi-Jwt, an RS512 token naming the
app and the user (its bk-jwt plugin).  Tokens are signed here with
openssl, with a key made for the run; nothing leaves the machine."""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402

GW = "/api/bk-cmsi/prod/v1/"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def keypair(tmp, name):
    key = os.path.join(tmp, name + ".key")
    pub = os.path.join(tmp, name + ".pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", key], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub],
                   check=True, stdout=subprocess.DEVNULL)
    return key, pub


def token(key, app="bk_user", app_ok=True, user="", user_ok=False,
          kid="bk-cmsi", alg="RS512", exp=600, nbf=-300, tamper=False,
          hdr_set=None, body_set=None):
    """hdr_set/body_set replace top-level fields after the defaults
    (a value of the wrong type, say), still correctly signed."""
    now = int(time.time())
    hdr = {"kid": kid, "typ": "JWT", "alg": alg, "iat": now}
    body = {"iss": "APIGW", "nbf": now + nbf, "exp": now + exp,
            "app": {"version": 1, "app_code": app, "verified": app_ok,
                    "valid_error_message": ""},
            "user": {"version": 1, "username": user, "verified": user_ok,
                     "valid_error_message": ""}}
    hdr.update(hdr_set or {})
    body.update(body_set or {})
    signing = "%s.%s" % (b64url(json.dumps(hdr).encode()),
                         b64url(json.dumps(body).encode()))
    sig = subprocess.run(["openssl", "dgst", "-sha512", "-sign", key],
                         input=signing.encode(), stdout=subprocess.PIPE,
                         check=True).stdout
    if tamper:
        body["app"]["app_code"] = "bk_other"
        signing = "%s.%s" % (signing.split(".")[0],
                             b64url(json.dumps(body).encode()))
    return "%s.%s" % (signing, b64url(sig))


def main():
    c = Checker()
    build = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="cmsi-v1-jwt-")
    key, pub = keypair(tmp, "gateway")
    other, _ = keypair(tmp, "other")
    mail = json.dumps({"receiver__username": ["admin"], "title": "t",
                       "content": "c"}).encode()
    cfg = {"apps": {"bk_user": {"secret": "user-secret", "weixin_settings": True}},
           "gateway": {"public_key": {"file": pub}, "name": "bk-cmsi"},
           "components": {"send_weixin": {"delivery": "outbox", "wx_type": "qy",
                                          "wx_qy_corpid": "ww-jwt"}}}

    def call(path, tok, body=mail, method="POST", extra=None):
        h = {"Content-Type": "application/json", "X-Bk-Tenant-Id": "default"}
        if tok is not None:
            h["X-Bkapi-Jwt"] = tok
        h.update(extra or {})
        return http(g, method, path, body if method == "POST" else None, h)

    with harness.Gateway(build, cfg) as g:
        st, doc = call(GW + "send_mail/", token(key))
        c.ok("a gateway token alone is enough", st == 200 and doc.get("result") is True,
             "%d %r" % (st, doc))
        st, doc = call("/v1/send_mail/", token(key, app="bk_sops"))
        c.ok("an app the gateway verified need not be in apps", st == 200,
             "%d %r" % (st, doc))
        st, doc = call(GW + "channels/weixin/settings/", token(key), method="GET")
        c.ok("the app's own permissions still apply (bk_user may read settings)",
             st == 200 and (doc.get("data") or {}).get("corp_id") == "ww-jwt",
             "%d %r" % (st, doc))
        st, doc = call(GW + "channels/weixin/settings/", token(key, app="bk_sops"),
                       method="GET")
        c.ok("an app unknown here has no permission", st == 403 and
             doc.get("message") == "APP [bk_app_code=bk_sops] may not read "
             "the WeChat settings", "%d %r" % (st, doc))
        bad = "API gateway token [X-Bkapi-Jwt] is not valid: "
        for name, tok, why in (
                ("a token signed by another key", token(other),
                 bad + "signature verification failed"),
                ("a token whose payload was changed", token(key, tamper=True),
                 bad + "signature verification failed"),
                ("an expired token", token(key, exp=-3600, nbf=-7200),
                 bad + "expired"),
                ("a token not valid yet", token(key, nbf=3600, exp=7200),
                 bad + "not valid yet"),
                ("a token for another gateway", token(key, kid="bk-other"),
                 bad + "issued for another gateway"),
                ("a token with alg HS512", token(key, alg="HS512"),
                 bad + "algorithm is not RS512"),
                ("a token naming an app the gateway did not verify",
                 token(key, app_ok=False),
                 "API gateway token [X-Bkapi-Jwt] names no verified app"),
                ("no JWT at all", "x.y", bad + "not a JWT"),
                ("garbage", "!!!.???.***", bad + "not a JWT"),
                # A field of the wrong type is a bad token, not a crash:
                # unsigned ones first (no credentials needed at all).
                ("alg null, unsigned", "eyJhbGciOm51bGx9.e30.AAAA",
                 bad + "algorithm is not RS512"),
                ("kid null, unsigned",
                 b64url(b'{"alg":"RS512","kid":null}') + ".e30.AAAA",
                 bad + "issued for another gateway"),
                ("a header that is an array", b64url(b"[1]") + ".e30.AAAA",
                 bad + "not a JWT"),
                ("a payload that is a string",
                 b64url(b'{"alg":"RS512","kid":"bk-cmsi"}') + "." +
                 b64url(b'"x"') + ".AAAA", bad + "not a JWT"),
                ("alg a number", token(key, hdr_set={"alg": 512}),
                 bad + "algorithm is not RS512"),
                ("kid an object", token(key, hdr_set={"kid": {"a": 1}}),
                 bad + "issued for another gateway"),
                ("exp a string", token(key, body_set={"exp": "9999999999"}),
                 bad + "a time claim is not a number"),
                ("nbf a string", token(key, body_set={"nbf": "0"}),
                 bad + "a time claim is not a number"),
                ("app a string", token(key, body_set={"app": "bk_user"}),
                 bad + "a claim has the wrong type"),
                ("app_code a number", token(key, body_set={
                    "app": {"app_code": 7, "verified": True}}),
                 bad + "a claim has the wrong type"),
                ("app_code null", token(key, body_set={
                    "app": {"app_code": None, "verified": True}}),
                 bad + "a claim has the wrong type"),
                ("verified a string", token(key, body_set={
                    "app": {"app_code": "bk_user", "verified": "true"}}),
                 bad + "a claim has the wrong type")):
            st, doc = call(GW + "send_mail/", tok)
            c.ok("refused: %s: %s" % (name, why), st == 401 and
                 doc.get("result") is False and
                 (doc.get("error") or {}).get("code") == "UNAUTHENTICATED"
                 and doc.get("message") == why, "%d %r" % (st, doc))
        st, doc = call(GW + "send_mail/", token(key))
        c.ok("after the bad tokens, the workers still serve", st == 200,
             "%d %r" % (st, doc))
        st, doc = call(GW + "send_mail/", token(other), extra={
            "X-Bkapi-Authorization": json.dumps({"bk_app_code": "bk_user",
                                                 "bk_app_secret": "user-secret"})})
        c.ok("a bad token is not rescued by credentials beside it", st == 401,
             "%d %r" % (st, doc))
        st, doc = call(GW + "send_mail/", None, extra={
            "X-Bkapi-Authorization": json.dumps({"bk_app_code": "bk_user",
                                                 "bk_app_secret": "user-secret"})})
        c.ok("called directly (no token), the credentials header still works",
             st == 200, "%d %r" % (st, doc))
        recs = g.audit()
        c.ok("the audit log names the app from the token",
             any(r.get("app") == "bk_sops" for r in recs), repr(recs))
    c.logs(g, ["user-secret"])

    # Without the gateway's key a token proves nothing and is ignored.
    cfg.pop("gateway")
    with harness.Gateway(build, cfg) as g:
        st, doc = call(GW + "send_mail/", token(key))
        c.ok("no gateway key configured: a token alone is refused", st == 401,
             "%d %r" % (st, doc))
    c.logs(g, ["user-secret"])

    bad = os.path.join(tmp, "bad.json")
    conf = dict(harness.DEFAULT_CONFIG, gateway={"public_key": "not a key", "x": 1},
                schemas_dir=os.path.join(harness.TOP, "conf/schemas"),
                templates_dir=os.path.join(harness.TOP, "templates"))
    with open(bad, "w") as f:
        json.dump(conf, f)
    p = subprocess.run([os.path.join(harness.TOP, build, "cmsi.fcgi"), "-t", "-c", bad],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode(errors="replace")
    c.ok("-t refuses a gateway key that is no key", p.returncode != 0
         and "gateway.public_key: not an RSA public key in PEM" in out
         and "gateway.x: unknown key" in out, out)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
