#!/usr/bin/python3
"""Every ESB label and message the app can answer, checked end to end
against a pinned table (tests/e2e/labels.json), never against the
schemas or sources themselves, so a reworded title or message fails:

1. schema labels: for each field of conf/schemas/*.json with a title,
   probes derived from its rules (one over maxLength, CR/LF against a
   pattern, one over maxItems, a wrong type, absent when required) go
   through lighttpd; the answer must be the pinned message, byte for
   byte.  Every title in the table is probed at least once, and the
   schemas may hold no title the table does not pin.
2. messages of the C sources: the requests of REQUESTS (with the
   config each needs) must get their pinned message.
3. coverage: every message literal of a reply_fail() in fcgi/ and
   handlers/ must be pinned here or expected by a case file or a
   t_*.py script (labels.json's unreachable_messages names the few
   no request can reach, and why).

    t_labels.py BUILDDIR             check
    t_labels.py BUILDDIR --record    rewrite labels.json from this build
                                     (review the diff against ESB!)
"""
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402

TOP = harness.TOP
GOLDEN = os.path.join(TOP, "tests/e2e/labels.json")
CR = {"bk_app_code": "demo", "bk_app_secret": "demo-secret",
      "bk_username": "admin"}
ATT = {"filename": "a.txt", "content": "YQ=="}
BASE = {
    "send_mail": {"receiver": "a@x.org", "title": "t", "content": "c",
                  "attachments": [ATT]},
    "send_sms": {"receiver": "13800000000", "content": "c"},
    "send_voice_msg": {"auto_read_message": "m", "user_list_information":
                       [{"username": "a", "mobile_phone": "13800000000"}]},
    "send_weixin": {"receiver": "u1", "data": {"heading": "h",
                                               "message": "m"}},
    "send_qy_weixin": {"receiver": "u1", "content": "c"},
    "send_mp_weixin": {"receiver": "o1", "data": {"heading": "h",
                                                  "message": "m"}},
    "send_msg": {"msg_type": "mail", "receiver__username": "admin",
                 "title": "t", "content": "c", "attachments": [ATT]},
    "get_msg_type": {},
    "custom_dingtalk_robot": {"title": "t", "content": "c"},
    "custom_feishu_robot": {"title": "t", "content": "c"},
    "custom_wecom_robot": {"title": "t", "content": "c"},
    "custom_webhook": {"title": "t", "content": "c"},
}

# Custom components named as their kind's request schema, in the outbox.
CUSTOM = {"components": {
    "custom_dingtalk_robot": {"kind": "dingtalk_robot", "delivery": "outbox",
                              "webhook": "https://oapi.dingtalk.com/robot/send"},
    "custom_feishu_robot": {"kind": "feishu_robot", "delivery": "outbox",
                            "webhook": "https://open.feishu.cn/"},
    "custom_wecom_robot": {"kind": "wecom_robot", "delivery": "outbox",
                           "webhook": "https://qyapi.weixin.qq.com/"},
    "custom_webhook": {"kind": "webhook", "delivery": "outbox",
                       "url": "https://hooks.example.com/notify"}}}

# Configs beyond harness.DEFAULT_CONFIG (outbox everywhere).
CONFIGS = {
    "outbox": {},
    "none": {"components": {
        "send_weixin": {"delivery": None, "wx_type": "qy"},
        "send_qy_weixin": {"delivery": None},
        "send_mp_weixin": {"delivery": None}}},
    "mp": {"components": {"send_weixin": {"delivery": None,
                                          "wx_type": "mp"}}},
}

# (config, name, path, request parameters or raw body, headers)
REQUESTS = [
    ("outbox", "phone numbers required", "send_sms",
     {"receiver": "", "content": "c"}, None),
    ("outbox", "bk_access_token empty", "send_mail",
     dict(BASE["send_mail"], bk_access_token=""), None),
    ("outbox", "bk_access_token unknown", "send_mail",
     dict(BASE["send_mail"], bk_access_token="x"), None),
    ("outbox", "no app code", "send_mail",
     dict(BASE["send_mail"], bk_app_code=""), None),
    ("outbox", "unknown app code", "send_mail",
     dict(BASE["send_mail"], bk_app_code="nobody"), None),
    ("outbox", "wrong secret", "send_mail",
     dict(BASE["send_mail"], bk_app_secret="x"), None),
    ("outbox", "no secret", "send_mail",
     dict(BASE["send_mail"], bk_app_secret=""), None),
    ("outbox", "no user", "send_mail",
     dict(BASE["send_mail"], bk_username=""), None),
    ("outbox", "no receiver", "send_mail",
     {"title": "t", "content": "c"}, None),
    ("outbox", "unknown username", "send_mail",
     {"receiver__username": "ghost", "title": "t", "content": "c"}, None),
    ("outbox", "send_msg unknown type", "send_msg",
     dict(BASE["send_msg"], msg_type="pigeon"), None),
    ("outbox", "bad JSON header", "send_mail", BASE["send_mail"],
     {"X-Bkapi-Authorization": "{"}),
    ("none", "send_weixin qy unconfigured", "send_weixin",
     BASE["send_weixin"], None),
    ("none", "send_qy_weixin unconfigured", "send_qy_weixin",
     BASE["send_qy_weixin"], None),
    ("none", "send_mp_weixin unconfigured", "send_mp_weixin",
     BASE["send_mp_weixin"], None),
    ("mp", "send_weixin mp unconfigured", "send_weixin",
     BASE["send_weixin"], None),
]


def titled(node, path, out, required=()):
    """(path, title, rules) of every titled property under node."""
    for k, v in node.get("properties", {}).items():
        p = path + [k]
        if isinstance(v, dict) and "title" in v:
            out.append((p, v["title"], v, k in required))
        if isinstance(v, dict) and v.get("type") == "array" and \
                isinstance(v.get("items"), dict):
            titled(v["items"], p + [0], out, v["items"].get("required", ()))
        elif isinstance(v, dict) and "properties" in v:
            titled(v, p, out, v.get("required", ()))
    for sub in node.get("allOf", []):
        titled(sub, path, out, sub.get("required", ()))


def probes(rules, required):
    """(kind, value or None for absent) that should break rules."""
    out = []
    if "maxLength" in rules:
        out.append(("long", "x" * (rules["maxLength"] + 1)))
    if "\\r" in rules.get("pattern", ""):
        out.append(("crlf", "a\r\nb"))
    if "maxItems" in rules:
        out.append(("many", ["1"] * (rules["maxItems"] + 1)))
    t = rules.get("type")
    if t in ("boolean", "integer", "number"):
        out.append(("type", "not-a-" + t))
    elif t == "object":
        out.append(("type", [1]))
    elif t == "array" and rules.get("x-esb") == "typed":
        out.append(("type", "x"))
    if required:
        out.append(("absent", None))
    return out


def put(doc, path, value):
    doc = json.loads(json.dumps(doc))
    cur = doc
    for k in path[:-1]:
        if isinstance(k, int):
            while len(cur) <= k:
                cur.append({})
        elif k not in cur or not isinstance(cur[k], (dict, list)):
            cur[k] = [] if isinstance(path[path.index(k) + 1], int) else {}
        cur = cur[k]
    if value is None:
        if isinstance(cur, dict):
            cur.pop(path[-1], None)
    else:
        cur[path[-1]] = value
    return doc


def schema_rows():
    rows = []
    for f in sorted(glob.glob(os.path.join(TOP, "conf/schemas/*.json"))):
        comp = os.path.basename(f)[:-5]
        s = json.load(open(f))
        found = []
        titled(s, [], found, s.get("required", ()))
        seen = set()
        for path, title, rules, req in found:
            for kind, val in probes(rules, req):
                key = (comp, json.dumps(path), kind)
                if key in seen:
                    continue
                seen.add(key)
                rows.append({"component": comp, "path": path, "title": title,
                             "probe": kind, "value": val})
    return rows


def ask(g, comp, params, headers=None):
    st, d = http(g, "POST", "/api/c/compapi/cmsi/%s/" % comp,
                 json.dumps(dict(CR, **params)).encode(), headers)
    return st, d


def c_literals():
    pat = re.compile(r'reply_fail\(\s*\w+,\s*\w+,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)')
    out = []
    for f in sorted(glob.glob(os.path.join(TOP, "fcgi/*.c")) +
                    glob.glob(os.path.join(TOP, "fcgi/*/*.c")) +
                    glob.glob(os.path.join(TOP, "handlers/*.c"))):
        for m in pat.finditer(open(f).read()):
            lit = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
            lit = lit.replace('\\"', '"').replace("\\\\", "\\")
            key = lit.split("%")[0]
            if key.strip():
                out.append((os.path.relpath(f, TOP), key))
    return out


def expectations(golden):
    """The text every e2e expectation holds: case files, the scripts
    (adjacent string literals joined), the pinned table."""
    text = json.dumps(golden, ensure_ascii=False)
    for f in glob.glob(os.path.join(TOP, "tests/e2e/cases/*.json")):
        text += json.dumps(json.load(open(f)), ensure_ascii=False)
    for f in glob.glob(os.path.join(TOP, "tests/e2e/t_*.py")):
        if f.endswith("t_labels.py"):
            continue
        src = open(f).read()
        text += re.sub(r'"\s*\n\s*"', "", src).replace('\\"', '"')
    return text


def main():
    build = sys.argv[1]
    record = "--record" in sys.argv[2:]
    c = Checker()
    golden = {} if record else json.load(open(GOLDEN))
    got = {"schemas": [], "requests": []}
    rows = schema_rows()
    with harness.Gateway(build, CUSTOM) as g:
        for r in rows:
            base = BASE[r["component"]]
            params = put(base, r["path"], r["value"])
            st, d = ask(g, r["component"], params)
            msg = d.get("message", "")
            got["schemas"].append({k: r[k] for k in ("component", "path",
                                                     "title", "probe")} |
                                  {"message": msg})
    c.logs(g)
    byconf = {}
    for conf, name, comp, params, hdr in REQUESTS:
        byconf.setdefault(conf, []).append((name, comp, params, hdr))
    for conf, reqs in byconf.items():
        with harness.Gateway(build, CONFIGS[conf]) as g:
            for name, comp, params, hdr in reqs:
                st, d = ask(g, comp, params, hdr)
                got["requests"].append({"config": conf, "name": name,
                                        "component": comp,
                                        "code": d.get("code"),
                                        "message": d.get("message")})
        c.logs(g)
    if record:
        # Only the probes whose answer names their field's label; a
        # titled field none of whose probes does is pinned as
        # unreachable (DefaultBooleanField takes any value, as ESB's).
        named = [r for r in got["schemas"] if r["message"].startswith(
            "%s [" % r["title"])]
        keys = {(r["component"], json.dumps(r["path"])) for r in named}
        got["unreachable"] = []
        for r in got["schemas"]:
            k = (r["component"], json.dumps(r["path"]))
            if k not in keys:
                keys.add(k)
                got["unreachable"].append({
                    "component": r["component"], "path": r["path"],
                    "title": r["title"], "answer": r["message"]})
        got["schemas"] = named
        if os.path.exists(GOLDEN):
            got["unreachable_messages"] = json.load(open(GOLDEN)).get(
                "unreachable_messages", [])
        with open(GOLDEN, "w") as f:
            json.dump(got, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("ok   recorded %d schema probes, %d requests into %s" % (
            len(got["schemas"]), len(got["requests"]), GOLDEN))
        return 0
    want = {(r["component"], json.dumps(r["path"]), r["probe"]): r
            for r in golden["schemas"]}
    have = {(r["component"], json.dumps(r["path"]), r["probe"]): r
            for r in got["schemas"]}
    for key, w in sorted(want.items()):
        h = have.get(key)
        c.ok("%s %s (%s): %s" % (key[0], ".".join(map(str, w["path"])),
                                 key[2], w["message"]),
             h is not None and h["message"] == w["message"],
             "got %r" % (h and h["message"]))
    # Every title the schemas hold is pinned (and probed above).
    pinned = {(r["component"], json.dumps(r["path"])): r["title"]
              for r in golden["schemas"] + golden["unreachable"]}
    done = set()
    for r in rows:
        k = (r["component"], json.dumps(r["path"]))
        if k in done:
            continue
        done.add(k)
        c.ok("%s %s: title %r is the pinned label" % (
            k[0], ".".join(map(str, r["path"])), r["title"]),
            pinned.get(k) == r["title"], "pinned: %r" % pinned.get(k))
    wreq = {(r["config"], r["name"]): r for r in golden["requests"]}
    for r in got["requests"]:
        w = wreq.get((r["config"], r["name"]), {})
        c.ok("request %s: %s %s" % (r["name"], w.get("code"), w.get("message")),
             (r["code"], r["message"]) == (w.get("code"), w.get("message")),
             "got %r %r" % (r["code"], r["message"]))
    text = expectations(golden)
    never = {(u["file"], u["message"]) for u in
             golden.get("unreachable_messages", [])}
    for f, lit in c_literals():
        if (f, lit) in never:
            continue
        c.ok("%s: %r is expected end to end" % (f, lit[:70]), lit in text,
             "no case, script or labels.json expects it")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
