#!/usr/bin/python3
"""Custom components (a "kind" in the config): one of each kind, a
DingTalk, a Feishu and a WeCom group robot and a JSON webhook, against
tests/fakes/robot_server.py, which checks signatures, tokens, shapes and
keywords as the real services do.  Each is reached on its ESB path and
through send_msg (ESB and v1), listed by get_msg_type and /v1/channels/;
the fake sees the caller's text intact and correctly signed; a wrong
secret, a rotated key, a 401 and a missing keyword are failures naming
the cause; the robots' rate limit refuses without retry and spools with
it; -t names a robot without its webhook.

usage: t_custom.py BUILDDIR
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import ssl
import urllib.parse
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402

BUILDDIR = sys.argv[1]
DT_TOKEN, DT_SECRET = "dt-token-0123456789abcdef", "SECdt0123456789abcdefSECRET"
KW_TOKEN = "dt-keyword-token-0123456789"
FS_HOOK, FS_SECRET = "fs-hook-6b1e2c7a-0000", "fs-secret-0123456789SECRET"
WC_KEY, WC_OLD = "wc-key-693a91f6-7f9c-4bc4", "wc-key-rotated-0000-1111"
HOOK_TOKEN = "hook-bearer-0123456789SECRET"
SECRETS = [DT_TOKEN, DT_SECRET, KW_TOKEN, FS_HOOK, FS_SECRET, WC_KEY, WC_OLD,
           HOOK_TOKEN]
HOSTS = ("oapi.dingtalk.com", "open.feishu.cn", "qyapi.weixin.qq.com",
         "hooks.example.com")
TEXT = 'disk "/var" at 95%\nline two {braces} {{not a tag}} \\ back'
GW = "/api/bk-cmsi/prod/v1/"


def secret_file(d, name, value):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o644)
    return {"file": path}


def config(d):
    dt = "https://oapi.dingtalk.com/robot/send?access_token="
    wc = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key="
    fs = "https://open.feishu.cn/open-apis/bot/v2/hook/"
    hook = {
        "kind": "webhook", "url": "https://hooks.example.com/notify",
        "headers": {"Authorization": secret_file(
            d, "hook.auth", "Bearer " + HOOK_TOKEN)},
        "body": {"text": "[{{msg_type}}] {{title}}: {{content}}",
                 "to": "{{receivers}}", "id": "{{request_id}}"},
        "success": {"status": [200], "json": {"/code": 0}},
        "label": {"en": "Alert hook", "zh": "告警回调"}}
    bad_hook = dict(hook, headers={"Authorization": "Bearer wrong"},
                    msg_type="badhook")
    return {
        "upstream": {"ca_file": "{pki}/ca.pem", "timeout_ms": 10000,
                     "connect_to": ["%s:443:127.0.0.1:{robots.port0}" % h
                                    for h in HOSTS]},
        "components": {
            "send_dingtalk": {
                "kind": "dingtalk_robot",
                "webhook": secret_file(d, "dt.url", dt + DT_TOKEN),
                "secret": secret_file(d, "dt.sec", DT_SECRET),
                "label": {"en": "DingTalk", "zh": "钉钉"}},
            "send_feishu": {
                "kind": "feishu_robot", "format": "post",
                "webhook": secret_file(d, "fs.url", fs + FS_HOOK),
                "secret": secret_file(d, "fs.sec", FS_SECRET)},
            "send_wecom_robot": {
                "kind": "wecom_robot",
                "webhook": secret_file(d, "wc.url", wc + WC_KEY),
                "rate_limit": {"per_second": 100, "burst": 100}},
            "send_wc_storm": {
                "kind": "wecom_robot", "msg_type": "wcstorm",
                "webhook": secret_file(d, "wc4.url", wc + WC_KEY)},
            "send_alert_hook": hook,
            "send_dt_badsign": {
                "kind": "dingtalk_robot",
                "webhook": secret_file(d, "dt2.url", dt + DT_TOKEN),
                "secret": "SECthis-is-not-the-robots-secret"},
            "send_dt_keyword": {
                "kind": "dingtalk_robot",
                "webhook": secret_file(d, "kw.url", dt + KW_TOKEN)},
            "send_wc_rotated": {
                "kind": "wecom_robot",
                "webhook": secret_file(d, "wc2.url", wc + WC_OLD)},
            "send_bad_hook": bad_hook,
            "send_wc_spooled": {
                "kind": "wecom_robot", "msg_type": "wcspool",
                "webhook": secret_file(d, "wc3.url", wc + WC_KEY),
                "rate_limit": {"per_second": 0.5, "burst": 1},
                "retry": {"attempts": 5, "max_age_s": 600, "backoff_s": 1}},
        }}


def fake():
    return {"name": "robots", "ports": 1, "cmd": [
        "tests/fakes/robot_server.py", "--port", "{robots.port0}",
        "--pki", "{pki}", "--lifetime", "300",
        "--dingtalk", "%s:%s" % (DT_TOKEN, DT_SECRET),
        "--dingtalk", "%s::告警" % KW_TOKEN,
        "--feishu", "%s:%s" % (FS_HOOK, FS_SECRET),
        "--wecom", WC_KEY, "--wecom", WC_OLD,
        "--hook-token", HOOK_TOKEN]}


def fake_call(g, path, method="GET"):
    ctx = ssl.create_default_context(cafile=os.path.join(g.dir, "pki",
                                                         "ca.pem"))
    port = int(g.subst["{robots.port0}"])
    req = urllib.request.Request("https://127.0.0.1:%d%s" % (port, path),
                                 method=method, data=b"" if method == "POST"
                                 else None)
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        return json.loads(r.read())


def esb(g, comp, body, v2=False, lang=None):
    p = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
         "bk_username": "admin"}
    h = {"Content-Type": "application/json"}
    if lang:
        h["Blueking-Language"] = lang
    path = "/api/c/compapi/%scmsi/%s/" % ("v2/" if v2 else "", comp)
    if body is None:
        return http(g, "GET", path + "?" + urllib.parse.urlencode(p),
                    None, h)[1]
    p.update(body)
    return http(g, "POST", path, json.dumps(p).encode(), h)[1]


def v1(g, method, path, body=None):
    h = {"Content-Type": "application/json",
         "X-Bkapi-Authorization": json.dumps(
             {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
              "bk_username": "admin"})}
    return http(g, method, GW + path,
                json.dumps(body).encode() if body is not None else None, h)


def last(g, host):
    msgs = [m for m in fake_call(g, "/_fake/messages") if m["host"] == host]
    return msgs[-1] if msgs else {}


def check_served(c, g):
    # ESB path of each, the caller's text intact and signed.
    doc = esb(g, "send_dingtalk", {"title": "Disk", "content": TEXT,
                                   "receiver": ["13800000000", "zhangsan"]})
    c.eq("dingtalk: ESB path answers OK", (doc.get("result"),
                                           doc.get("message")), (True, "OK"))
    m = last(g, "oapi.dingtalk.com")
    c.eq("dingtalk: the fake took it (signed, within the hour)",
         m.get("verdict"), 0)
    c.ok("dingtalk: timestamp and sign in the query",
         {"timestamp", "sign", "access_token"} <= set(m.get("query", [])),
         m.get("query"))
    body = m.get("body") or {}
    c.eq("dingtalk: the caller's text intact (quotes, newlines, braces)",
         body.get("text", {}).get("content"),
         "Disk\n" + TEXT + " @13800000000")
    c.eq("dingtalk: mentions from the receivers",
         (body.get("at", {}).get("atMobiles"),
          body.get("at", {}).get("atUserIds")),
         (["13800000000"], ["zhangsan"]))

    doc = esb(g, "send_feishu", {"title": "Disk", "content": TEXT}, v2=True)
    c.eq("feishu: /v2/ ESB path answers OK", doc.get("result"), True)
    m = last(g, "open.feishu.cn")
    c.eq("feishu: the fake took it (signed in the body)", m.get("verdict"), 0)
    body = m.get("body") or {}
    c.ok("feishu: timestamp and sign in the body",
         "timestamp" in body and "sign" in body, sorted(body))
    post = body.get("content", {}).get("post", {}).get("zh_cn", {})
    c.eq("feishu: post with the caller's title and text",
         (post.get("title"), post.get("content", [[{}]])[0][0].get("text")),
         ("Disk", TEXT))

    doc = esb(g, "send_wecom_robot", {"title": "Disk", "content": TEXT,
                                      "receiver": ["lisi", "13900000000"]})
    c.eq("wecom: ESB path answers OK", doc.get("result"), True)
    m = last(g, "qyapi.weixin.qq.com")
    body = m.get("body") or {}
    c.eq("wecom: text with mentions",
         (m.get("verdict"), body.get("text", {}).get("content"),
          body.get("text", {}).get("mentioned_list"),
          body.get("text", {}).get("mentioned_mobile_list")),
         (0, "Disk\n" + TEXT, ["lisi"], ["13900000000"]))

    doc = esb(g, "send_alert_hook", {"title": "Disk", "content": TEXT,
                                     "receiver": ["ops"]})
    c.eq("webhook: ESB path answers OK", doc.get("result"), True)
    m = last(g, "hooks.example.com")
    body = m.get("body") or {}
    c.eq("webhook: body template rendered, JSON-escaped, list kept",
         (body.get("text"), body.get("to")),
         ("[alert_hook] Disk: " + TEXT, ["ops"]))
    c.ok("webhook: the request id in the body", len(body.get("id", "")) > 8,
         body)

    # send_msg by msg_type, ESB and v1.
    for t, host in (("dingtalk", "oapi.dingtalk.com"),
                    ("feishu", "open.feishu.cn"),
                    ("wecom_robot", "qyapi.weixin.qq.com"),
                    ("alert_hook", "hooks.example.com")):
        before = len(fake_call(g, "/_fake/messages"))
        doc = esb(g, "send_msg", {"msg_type": t, "receiver__username":
                                  "admin", "title": "via send_msg",
                                  "content": "m " + t})
        after = fake_call(g, "/_fake/messages")[before:]
        c.ok("send_msg msg_type=%s reaches it" % t, doc.get("result") is True
             and len(after) == 1 and after[0]["host"] == host and
             after[0]["verdict"] == 0, "%s %s" % (json.dumps(doc)[:300],
                                                 after))
    st, doc = v1(g, "POST", "send_msg/", {"msg_type": "dingtalk",
                                          "receiver__username": "admin",
                                          "title": "v1", "content": "v1 msg"})
    m = last(g, "oapi.dingtalk.com")
    c.ok("v1 send_msg msg_type=dingtalk reaches the robot",
         st == 200 and "v1 msg" in json.dumps(m.get("body"),
                                              ensure_ascii=False),
         "%d %s" % (st, json.dumps(doc)[:300]))

    # bk-monitor's send_msg with a wecom_robot object (bk-cmsi-v1 E20).
    doc = esb(g, "send_msg", {
        "msg_type": "wecom_robot", "receiver__username": "chat-1,chat-2",
        "title": "t", "content": json.dumps({"type": "markdown", "markdown":
                                             {"content": "**告警**"}}),
        "sender": "robot-a", "is_content_base64": False,
        "wecom_robot": {"type": "markdown", "markdown": {"content": "**告警**"}}})
    m = last(g, "qyapi.weixin.qq.com")
    body = m.get("body") or {}
    c.eq("bk-monitor's wecom_robot markdown goes out as it is",
         (doc.get("result"), body.get("msgtype"),
          body.get("markdown", {}).get("content")),
         (True, "markdown", "**告警**"))


def check_send_wecom_robot(c, g):
    """bk-monitor's send_wecom_robot (bk-cmsi-v1 2.7) on a wecom_robot
    component of that name: "type" and {"<type>": {"content"}}."""
    doc = esb(g, "send_wecom_robot", {
        "receiver": ["zhangsan"], "group_receiver": ["chat-1"],
        "sender": "robot-a", "type": "markdown", "content": "**disk**",
        "markdown": {"content": "**disk** 95%"}})
    body = last(g, "qyapi.weixin.qq.com").get("body") or {}
    c.eq("bk-monitor's send_wecom_robot: its type and content as sent",
         (doc.get("result"), body.get("msgtype"),
          body.get("markdown", {}).get("content")),
         (True, "markdown", "**disk** 95%"))


def check_listed(c, g):
    doc = esb(g, "get_msg_type", None)
    items = {i["type"]: i for i in doc.get("data", [])}
    c.ok("get_msg_type lists every custom type after the four",
         [i["type"] for i in doc.get("data", [])][:4] ==
         ["weixin", "mail", "sms", "voice"] and
         {"dingtalk", "feishu", "wecom_robot", "alert_hook"} <= set(items),
         list(items))
    c.eq("get_msg_type: English labels, active, an icon",
         (items.get("dingtalk", {}).get("label"),
          items.get("dingtalk", {}).get("is_active"),
          len(items.get("feishu", {}).get("icon", "")) > 100),
         ("DingTalk", True, True))
    doc = esb(g, "get_msg_type", None, lang="zh-hans")
    items = {i["type"]: i for i in doc.get("data", [])}
    c.eq("get_msg_type: the caller's language",
         (items.get("dingtalk", {}).get("label"),
          items.get("alert_hook", {}).get("label"),
          items.get("feishu", {}).get("label")),
         ("钉钉", "告警回调", "feishu"))
    st, doc = v1(g, "GET", "channels/")
    types = {i.get("type"): i for i in doc.get("data", [])}
    c.ok("/v1/channels/ lists them, name and enabled",
         st == 200 and types.get("wecom_robot", {}).get("enabled") is True
         and types.get("dingtalk", {}).get("name") == "DingTalk",
         json.dumps(doc)[:400])


def check_failures(c, g):
    # The WeCom robot's key is rotated: the old one stops working.
    fake_call(g, "/_fake/revoke?token=" + WC_OLD, "POST")
    for comp, want in (
            ("send_dt_badsign", "sign not match: check the secret and the "
                                "clock"),
            ("send_dt_keyword", "keyword not in the message"),
            ("send_wc_rotated", "[93000] invalid webhook url"),
            ("send_bad_hook", "Webhook send_bad_hook failed: HTTP 401: bad "
                              "credentials (check the credentials in the "
                              "webhook's headers)"),
            ("send_dt_badsign", "DingTalk robot send_dt_badsign failed: "
                                "[310000] sign not match")):
        doc = esb(g, comp, {"title": "t", "content": "plain text"})
        c.ok("%s fails naming the cause" % comp, doc.get("result") is False
             and want in (doc.get("message") or ""), json.dumps(doc)[:400])
    doc = esb(g, "send_wc_rotated", {"title": "t", "content": "x"})
    c.ok("a rotated key says what to do", "removed or its key changed" in
         (doc.get("message") or ""), doc.get("message"))
    doc = esb(g, "send_dt_keyword", {"title": "磁盘告警", "content": "x"})
    c.eq("the keyword robot takes a message with its keyword",
         doc.get("result"), True)
    fake_call(g, "/_fake/mode?m=refuse", "POST")
    doc = esb(g, "send_alert_hook", {"title": "t", "content": "x"})
    fake_call(g, "/_fake/mode?m=garbage", "POST")
    page = esb(g, "send_feishu", {"title": "t", "content": "x"})
    fake_call(g, "/_fake/mode?m=ok", "POST")
    c.eq("a robot's 200 that is not its answer is a failure",
         (page.get("result"), page.get("code"), page.get("message")),
         (False, 1306201, "Feishu bot send_feishu failed: HTTP 200 without "
          "the robot's answer (code)"))
    c.ok("a webhook's 200 that is not its success fails with its words",
         doc.get("result") is False and doc.get("message") ==
         "Webhook send_alert_hook failed: the answer's /code is 7, not 0: "
         "quota exceeded", json.dumps(doc)[:300])


def check_rate(c, g):
    # No retry: the robot's default, a burst of 2, then the caller is told.
    answers = [esb(g, "send_wc_storm", {"content": "storm %d" % i})
               for i in range(3)]
    c.ok("without retry the third of a storm is refused as rate-limited",
         [a.get("result") for a in answers] == [True, True, False] and
         "Rate limit exceeded: send_wc_storm allows 0.3 request(s) a second "
         "(burst 2)" in answers[2].get("message", ""),
         [a.get("message") for a in answers])
    # With retry: the excess waits in the spool and goes out later.
    before = len(fake_call(g, "/_fake/messages"))
    answers = [esb(g, "send_wc_spooled", {"content": "spooled %d" % i})
               for i in range(3)]
    c.ok("with retry the storm is all accepted, the excess queued",
         all(a.get("result") for a in answers) and
         answers[2].get("data", {}).get("rate_limited") is True,
         [json.dumps(a)[:200] for a in answers])
    sent = fake_call(g, "/_fake/messages")[before:]
    c.eq("only the burst reached the robot at once", len(sent), 1 if
         answers[1].get("data", {}).get("rate_limited") else 2)
    deadline = time.time() + 20
    while time.time() < deadline:
        time.sleep(1)
        subprocess.run([g.bin, "--drain", "-c", g.conf],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sent = [m for m in fake_call(g, "/_fake/messages")[before:]
                if "spooled" in json.dumps(m.get("body"))]
        if len(sent) == 3:
            break
    c.eq("the queued messages went out as the robot allowed",
         sorted(m["body"]["text"]["content"] for m in sent),
         ["spooled 0", "spooled 1", "spooled 2"])


def check_idempotent(c, g):
    """The same Idempotency-Key twice: one message in the group, the
    same answer twice."""
    before = len(fake_call(g, "/_fake/messages"))
    p = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
         "bk_username": "admin", "title": "once", "content": "only once"}
    h = {"Content-Type": "application/json",
         "Idempotency-Key": "custom-idem-0001"}
    docs = [http(g, "POST", "/api/c/compapi/cmsi/send_dingtalk/",
                 json.dumps(p).encode(), h)[1] for _ in range(2)]
    sent = fake_call(g, "/_fake/messages")[before:]
    same = [{k: d.get(k) for k in ("result", "code", "message", "data")}
            for d in docs]
    c.ok("an Idempotency-Key repeated sends once and answers the same",
         len(sent) == 1 and docs[0].get("result") is True and
         same[0] == same[1],
         "%d sent, %s" % (len(sent), [json.dumps(d)[:160] for d in docs]))


def check_audit(c, g):
    recs = [r for r in g.audit() if r.get("component") == "send_dingtalk"]
    c.ok("audit records name the custom component and its result",
         recs and recs[0].get("result") is True and
         recs[0].get("recipients") == ["send_dingtalk"], recs[:1])


def check_configtest(c, d):
    doc = {"state_dir": os.path.join(d, "state"),
           "schemas_dir": os.path.join(TOP, "conf/schemas"),
           "templates_dir": os.path.join(TOP, "templates"),
           "components": {
               "send_ding": {"kind": "dingtalk_robot", "secret": "SECx"},
               "send_clear": {"kind": "wecom_robot", "webhook":
                              "https://qyapi.weixin.qq.com/cgi-bin/webhook/"
                              "send?key=abc"},
               "send_sms": {"kind": "webhook", "url": {"env": "X"}},
               "send_odd": {"kind": "slack"},

               "send_rule": {"kind": "webhook", "url": {"env": "HOOK_URL"},
                             "success": {"status": [200], "json":
                                         {"code": 0}}}}}
    os.makedirs(doc["state_dir"], exist_ok=True)
    out, rc = configtest(d, doc)
    for want in ('components.send_ding: a dingtalk_robot needs "webhook"',
                 "components.send_clear.webhook: the URL holds a credential "
                 "(key) in clear",
                 "components.send_sms: a built-in component's name",
                 'components.send_odd.kind: unknown kind "slack"',
                 'components.send_rule.success: json: "code" is no JSON '
                 'Pointer'):
        c.ok("-t: %s" % want, rc != 0 and want in out, out)
    # A file that loads: what only the whole file tells.
    doc["components"] = {
        "send_a": {"kind": "webhook", "url": {"env": "HOOK_URL"},
                   "msg_type": "same"},
        "send_b": {"kind": "webhook", "url": {"env": "HOOK_URL"},
                   "msg_type": "same"}}
    out, rc = configtest(d, doc)
    want = 'components.send_b.msg_type: "same" is already components.send_a\'s'
    c.ok("-t: %s" % want, rc != 0 and want in out, out)
    # Tenants: the top level's robot, read from a file, is no secret in
    # clear in a tenant's view; a tenant's own robot in clear is.
    doc["components"] = {"send_ding": {
        "kind": "dingtalk_robot", "webhook": secret_file(
            d, "t.url", "https://oapi.dingtalk.com/robot/send?"
            "access_token=abc")}}
    doc["tenants"] = {"t1": {"components": {"send_t1bot": {
        "kind": "wecom_robot", "webhook": "https://qyapi.weixin.qq.com/"
        "cgi-bin/webhook/send?key=abc"}}}}
    out, rc = configtest(d, doc)
    want = "tenants.t1: components.send_t1bot.webhook: the URL holds a " \
        "credential (key) in clear"
    c.ok("-t: %s, and nothing of the inherited robot" % want,
         rc != 0 and want in out and "send_ding" not in out, out)
    del doc["tenants"]["t1"]["components"]
    out, rc = configtest(d, doc)
    c.ok("-t: a tenant inheriting a robot read from a file is OK", rc == 0,
         out)


def configtest(d, doc):
    path = os.path.join(d, "t.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    p = subprocess.run([os.path.join(TOP, BUILDDIR, "cmsi.fcgi"), "-t", "-c",
                        path], capture_output=True, text=True,
                       env=dict(os.environ, HOOK_URL="https://h.example/x",
                                ASAN_OPTIONS="detect_leaks=1"))
    return p.stdout + p.stderr, p.returncode


def main():
    c = Checker()
    d = tempfile.mkdtemp(prefix="cmsi-custom-")
    os.chmod(d, 0o755)
    check_configtest(c, d)
    with harness.Gateway(BUILDDIR, config(d), fakes=[fake()]) as g:
        check_served(c, g)
        check_send_wecom_robot(c, g)
        check_listed(c, g)
        check_failures(c, g)
        check_rate(c, g)
        check_idempotent(c, g)
        check_audit(c, g)
        c.logs(g, SECRETS)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
