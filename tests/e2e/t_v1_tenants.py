#!/usr/bin/python3
"""The bk-cmsi v1 dialect's tenants:
X-Bk-Tenant-Id picks the tenant's components and user directory.  A
script because the tenants' user directories are files it writes, and
because it also checks `cmsi.fcgi -t` on broken tenant sections."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402

GW = "/api/bk-cmsi/prod/v1/"


def auth(app, secret, tenant=None, **more):
    h = {"Content-Type": "application/json",
         "X-Bkapi-Authorization": json.dumps(dict(bk_app_code=app,
                                                  bk_app_secret=secret, **more))}
    if tenant is not None:
        h["X-Bk-Tenant-Id"] = tenant
    return h


def outbox_new(g, before):
    names = sorted(set(os.listdir(g.outbox)) - before)
    return "".join(open(os.path.join(g.outbox, n), errors="replace").read()
                   for n in names if not n.startswith("."))


def send(g, tenant, users, path="send_mail/", app=("bk_job", "job-secret")):
    before = set(os.listdir(g.outbox))
    body = {"receiver__username": users, "title": "t", "content": "c"}
    st, doc = http(g, "POST", GW + path, json.dumps(body).encode(),
                   auth(app[0], app[1], tenant))
    return st, doc, outbox_new(g, before)


def directories(tmp):
    """Two tenants know a user of the same name with different
    addresses, in files with the same modification time."""
    a = os.path.join(tmp, "users-a.json")
    b = os.path.join(tmp, "users-b.json")
    with open(a, "w") as f:
        json.dump({"u1001": {"email": "u1001@tenant-a.example", "phone": "13900000001",
                             "wx_userid": "wa1001"},
                   "u1002": {"email": "u1002@tenant-a.example", "phone": "13900000002",
                             "wx_userid": "wa1002"}}, f)
    with open(b, "w") as f:
        json.dump({"u1001": {"email": "u1001@tenant-b.example", "phone": "13700000001",
                             "wx_userid": "wb1001"}}, f)
    # The same time to the nanosecond, as a copy that keeps times makes.
    t = os.stat(a).st_mtime_ns
    os.utime(a, ns=(t, t))
    os.utime(b, ns=(t, t))
    return a, b


def configtest(c, build, tmp):
    cfg = dict(harness.DEFAULT_CONFIG)
    cfg["state_dir"] = os.path.join(tmp, "state")
    cfg["schemas_dir"] = os.path.join(harness.TOP, "conf/schemas")
    cfg["templates_dir"] = os.path.join(harness.TOP, "templates")
    cfg["tenants"] = {"bad id!": {}, "t1": {"apps": {}, "components": {
        "send_fax": {}, "send_mail": {"smtp_port": "x"}}}, "t2": []}
    path = os.path.join(tmp, "bad.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([os.path.join(harness.TOP, build, "cmsi.fcgi"), "-t", "-c", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode(errors="replace")
    c.ok("-t refuses broken tenants", p.returncode != 0, out)
    for want in ("tenants.bad id!: bad tenant id", "tenants.t1.apps: unknown key",
                 "tenants.t1: components.send_fax: unknown component",
                 "tenants.t1: components.send_mail.smtp_port: not a port",
                 "tenants.t2: must be an object"):
        c.ok("-t says %r" % want, want in out, out)
    cfg["tenants"] = {"tenant-a": {"comment": "ok", "users": {"file": "/nonexistent.json"}}}
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([os.path.join(harness.TOP, build, "cmsi.fcgi"), "-t", "-c", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode(errors="replace")
    c.ok("-t checks a tenant's directory file",
         p.returncode != 0 and "tenants.tenant-a: users.file: cannot read" in out, out)


def shared_directory(c, build):
    """Two tenants on one directory URL, each with its own app (security
    audit, row 3): the cache is per url, app and tenant, and the tenant
    is sent, so one tenant's "admin" never answers for another's."""
    url = "http://127.0.0.1:{login.port0}/login/accounts/get_batch_user/"
    fakes = [{"name": "login", "cmd": ["tests/fakes/bk_login.py", "--port",
              "{login.port0}", "--dir", "{dir}/login", "--app", "app_a:token-a"]}]
    cfg = {"apps": {"bk_job": {"secret": "job-secret", "skip_user_auth": True,
                               "tenants": ["*"]}},
           "users": {"file": None, "url": url, "app_code": "esb",
                     "app_token": "dir-token", "cache_seconds": 600},
           "tenants": {"tenant-a": {"users": {"url": url, "app_code": "app_a",
                                              "app_token": "token-a",
                                              "cache_seconds": 600}},
                       # The same URL and app as the top level: only the
                       # tenant tells the answers apart.
                       "tenant-b": {}}}
    with harness.Gateway(build, cfg, fakes=fakes) as g:
        st, doc, box = send(g, "tenant-a", ["admin"])
        c.ok("shared directory: tenant-a's admin", st == 200 and
             "To: admin@tenant-a.example" in box, "%d %r %r" % (st, doc, box[:300]))
        st, doc, box = send(g, "default", ["admin"])
        c.ok("shared directory: the default tenant's admin is not tenant-a's",
             st == 200 and "To: admin@example.com" in box and "tenant-a" not in box,
             "%d %r %r" % (st, doc, box[:300]))
        st, doc, box = send(g, "tenant-a", ["admin"])
        c.ok("shared directory: tenant-a again (cached) is still tenant-a's",
             "To: admin@tenant-a.example" in box, box[:300])
        st, doc, box = send(g, "tenant-b", ["admin"])
        c.ok("shared directory, same URL and app: tenant-b's admin is its own",
             st == 200 and "To: admin@tenant-b.example" in box, "%d %r %r" % (
                 st, doc, box[:300]))
        calls = [l for l in open(os.path.join(g.dir, "login/calls.log")).read().splitlines()
                 if "get_batch_user" in l]
        c.eq("shared directory: one call per tenant, each with its app and tenant",
             sorted(l.split(" ", 2)[2] for l in calls),
             ["app=app_a tenant=tenant-a", "app=esb tenant=default",
              "app=esb tenant=tenant-b"])
    c.logs(g, ["job-secret", "dir-token", "token-a"])


def main():
    c = Checker()
    build = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="cmsi-v1-tenants-")
    ua, ub = directories(tmp)
    cfg = {
        "apps": {"bk_job": {"secret": "job-secret", "skip_user_auth": True,
                            "tenants": ["*"]},
                 "bk_user": {"secret": "user-secret", "weixin_settings": True,
                             "tenants": ["default", "tenant-a"]},
                 "bk_plain": {"secret": "plain-secret", "weixin_settings": True}},
        "components": {"send_weixin": {"delivery": "outbox", "wx_type": "qy"}},
        "tenants": {
            "tenant-a": {
                "comment": "its own mail sender, directory, channels and WeCom app",
                "users": {"file": ua},
                "components": {
                    "send_mail": {"delivery": "outbox",
                                  "mail_sender": "noreply@tenant-a.example"},
                    "get_msg_type": {"mail": True, "weixin": False},
                    "send_weixin": {"delivery": "outbox", "wx_type": "qy",
                                    "wx_qy_corpid": "ww-tenant-a",
                                    "wx_qy_corpsecret": "tenant-a-corp-secret",
                                    "wx_qy_agentid": "1000009"}}},
            "tenant-b": {"users": {"file": ub}},
            "system": {},
        },
    }
    with harness.Gateway(build, cfg) as g:
        st, doc, box = send(g, "tenant-a", ["u1001", "u1002"])
        c.ok("tenant-a: its directory and its sender", st == 200 and doc.get("result") is True
             and "To: u1001@tenant-a.example," in box and "u1002@tenant-a.example" in box
             and "From: noreply@tenant-a.example" in box, "%d %r %r" % (st, doc, box[:300]))
        st, doc, box = send(g, "tenant-b", ["u1001"])
        c.ok("tenant-b: the same name is another person", st == 200
             and "To: u1001@tenant-b.example" in box and "tenant-a" not in box,
             "%d %r %r" % (st, doc, box[:300]))
        st, doc, box = send(g, "tenant-a", ["u1001"])
        c.ok("back to tenant-a: no directory leaks between tenants",
             "To: u1001@tenant-a.example" in box, box[:300])
        st, doc, box = send(g, None, ["u1001"])
        c.ok("no tenant header: the default tenant, which does not know u1001",
             st == 400 and doc.get("error", {}).get("code") == "INVALID_ARGUMENT"
             and doc.get("data", {}).get("username_check", {}).get("invalid") == ["u1001"],
             "%d %r" % (st, doc))
        st, doc, box = send(g, "default", ["admin"])
        c.ok("default: the top level's directory and sender", st == 200
             and "To: admin@example.com" in box and "From: blueking@bking.com" in box,
             "%d %r %r" % (st, doc, box[:300]))
        st, doc, box = send(g, "system", ["admin"])
        c.ok("system: a tenant with nothing of its own inherits the top level",
             st == 200 and "To: admin@example.com" in box, "%d %r" % (st, doc))
        st, doc, box = send(g, "tenant-x", ["admin"])
        c.ok("an unknown tenant is refused, nothing sent", st == 400 and box == ""
             and doc.get("error", {}).get("code") == "INVALID_ARGUMENT"
             and doc.get("message") == "Tenant [X-Bk-Tenant-Id=tenant-x] is not served here",
             "%d %r" % (st, doc))
        st, doc, box = send(g, "tenant-a", ["u1001"], path="send_rtx/")
        c.ok("tenant-a send_rtx: its WeCom app, its user ids", st == 200
             and '"wa1001"' in box, "%d %r %r" % (st, doc, box[:300]))
        st, doc, box = send(g, "tenant-a", ["u1001"], path="send_sms/")
        c.ok("tenant-a send_sms: its phones", st == 200 and '"13900000001"' in box,
             "%d %r" % (st, doc))

        st, doc = http(g, "GET", GW + "channels/", None,
                       auth("bk_job", "job-secret", "tenant-a"))
        on = {i["type"]: i["enabled"] for i in doc.get("data", [])}
        c.eq("tenant-a channels: its own switches",
             on, {"weixin": False, "mail": True, "sms": False, "voice": False, "rtx": False})
        st, doc = http(g, "GET", GW + "channels/", None,
                       auth("bk_job", "job-secret", "default"))
        on = {i["type"]: i["enabled"] for i in doc.get("data", [])}
        c.eq("default channels: the top level's switches",
             on, {"weixin": True, "mail": True, "sms": True, "voice": True, "rtx": False})

        st, doc = http(g, "GET", GW + "channels/weixin/settings/", None,
                       auth("bk_user", "user-secret", "tenant-a"))
        d = doc.get("data") or {}
        c.ok("tenant-a WeChat settings are tenant-a's", st == 200
             and d.get("corp_id") == "ww-tenant-a" and d.get("agent_id") == "1000009"
             and d.get("corp_secret") == "tenant-a-corp-secret", "%d %r" % (st, doc))
        st, doc = http(g, "GET", GW + "channels/weixin/settings/", None,
                       auth("bk_user", "user-secret"))
        d = doc.get("data") or {}
        c.ok("the default tenant's WeChat settings hold no tenant-a secret",
             st == 200 and d.get("corp_id") == "" and d.get("corp_secret") == "",
             "%d %r" % (st, doc))

        # Apps are bound to tenants (security audit): without "tenants"
        # an app acts in the default tenant only.
        st, doc = http(g, "GET", GW + "channels/weixin/settings/", None,
                       auth("bk_plain", "plain-secret", "tenant-a"))
        c.ok("an app not bound to tenant-a cannot read its corp secret",
             st == 403 and doc.get("error", {}).get("code") == "NO_PERMISSION"
             and "tenant-a-corp-secret" not in json.dumps(doc)
             and doc.get("message") == "APP [bk_app_code=bk_plain] may not act "
             "in tenant [X-Bk-Tenant-Id=tenant-a]", "%d %r" % (st, doc))
        st, doc = http(g, "GET", GW + "channels/weixin/settings/", None,
                       auth("bk_plain", "plain-secret"))
        c.ok("... and reads the default tenant's", st == 200, "%d %r" % (st, doc))
        st, doc, box = send(g, "tenant-b", ["u1001"], app=("bk_user", "user-secret"))
        c.ok("an app bound to default and tenant-a cannot send in tenant-b",
             st == 403 and box == "", "%d %r" % (st, doc))
        # v1 lives on its own prefixes only, not under ESB's mount.
        for p in ("/api/c/compapi/v1/channels/weixin/settings/",
                  "/api/c/compapi/v1/channels/weixin/token/",
                  "/api/c/compapi/v1/send_mail/"):
            st, doc = http(g, "GET", p, None, auth("bk_user", "user-secret"))
            c.ok("not served under the ESB mount: " + p, st == 404 and
                 "corp_secret" not in json.dumps(doc), "%d %r" % (st, doc))

        body = json.dumps({"bk_app_code": "bk_job", "bk_app_secret": "job-secret",
                           "bk_username": "admin", "receiver__username": "u1001",
                           "title": "t", "content": "c"}).encode()
        st, doc = http(g, "POST", "/api/c/compapi/v2/cmsi/send_mail/", body,
                       {"X-Bk-Tenant-Id": "tenant-a"})
        c.ok("the ESB dialect has no tenants: the header changes nothing",
             doc.get("result") is False and doc.get("message") ==
             "All users message failed to be sent. The following users are "
             "not blueking users: u1001", repr(doc))

        recs = [r for r in g.audit() if r.get("component") == "send_mail"]
        c.ok("audit records name the tenant", len(recs) >= 3
             and recs[0].get("tenant") == "tenant-a" and recs[1].get("tenant") == "tenant-b"
             and any(r.get("tenant") is None for r in recs), repr(recs))
    c.logs(g, ["job-secret", "user-secret", "tenant-a-corp-secret"])
    shared_directory(c, build)
    configtest(c, build, tmp)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
