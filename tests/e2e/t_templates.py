#!/usr/bin/python3
"""Layouts under templates/ (issue 7): an edited copy changes what is sent,
named templates render server-side, a broken template stops startup."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker, http  # noqa: E402

CR = {"bk_app_code": "demo", "bk_app_secret": "demo-secret", "bk_username": "admin"}
API = "/api/c/compapi/cmsi/"


def newest(g):
    """The message the last request wrote: the outbox file not seen by
    the previous call (mtimes tick coarsely, two files may share one)."""
    seen = getattr(g, "seen_outbox", set())
    names = [n for n in os.listdir(g.outbox)
             if not n.startswith(".") and n not in seen]
    g.seen_outbox = seen | set(names)
    names.sort(key=lambda n: os.stat(os.path.join(g.outbox, n)).st_mtime_ns)
    return open(os.path.join(g.outbox, names[-1]), encoding="utf-8").read()


def post(g, comp, **kw):
    return http(g, "POST", API + comp + "/", json.dumps(dict(CR, **kw)).encode())[1]


def timed_post(g, comp, **kw):
    """post(), with the seconds it took; a timeout is an answer of its own."""
    t0 = time.time()
    try:
        d = post(g, comp, **kw)
    except OSError as e:
        d = {"timeout": str(e)}
    return d, time.time() - t0


def work_limit(c, build, tdir):
    """Issue 32 row 3: a saved named template with {{#links}} six deep,
    sent with 40 links by an API caller, would visit 40^6 sections and
    spin its worker for an hour.  It answers at once, naming the limit,
    and sends beside it are not held up."""
    bomb = os.path.join(tdir, "bomb")
    shutil.copytree(os.path.join(harness.TOP, "templates"), bomb)
    with open(os.path.join(bomb, "messages/alert/content.mustache"), "w") as f:
        f.write("Links:" + "{{#links}}" * 6 + "{{/links}}" * 6 + "\n")
    links = ["https://e.x/%d" % i for i in range(40)]
    with harness.Gateway(build, {"templates_dir": bomb}) as g:
        d, secs = timed_post(g, "send_mail", receiver="a@x.org", template="alert",
                             context={"service": "db", "links": links})
        c.ok("row 3: a layout that would loop answers in under 5 s (%.2f s)" % secs,
             secs < 5 and d.get("result") is False, repr(d)[:300])
        c.ok("row 3: ... naming the rendering limit",
             "steps of work" in d.get("message", ""), repr(d)[:300])
        with ThreadPoolExecutor(max_workers=8) as ex:
            bad = [ex.submit(timed_post, g, "send_mail", receiver="a@x.org",
                             template="alert", context={"links": links})
                   for _ in range(4)]
            good = [ex.submit(timed_post, g, "send_sms", receiver="13800000000",
                              content="hi %d" % i) for i in range(20)]
            bad = [f.result() for f in bad]
            good = [f.result() for f in good]
        slow = max(t for _, t in good)
        c.ok("row 3: 20 sends beside 4 looping ones all answer, the slowest in %.2f s"
             % slow, all(d.get("result") is True for d, _ in good) and slow < 5,
             repr([d for d, _ in good if d.get("result") is not True])[:300])
        c.ok("row 3: the looping ones each refused", all(
            "steps of work" in d.get("message", "") for d, _ in bad), repr(bad)[:300])
        d, secs = timed_post(g, "send_mail", receiver="a@x.org", template="alert",
                             context={"service": "db", "links": links[:2]})
        c.ok("row 3: the same layout over 2 links is sent (64 turns)",
             d.get("result") is True, repr(d)[:300])
    c.logs(g)
    # A channel layout (sms/text) whose partials each call the next twice,
    # 23 deep: 2^23 partial calls and no output, so only the work limit
    # stops it; the SMS is refused naming the layout, the worker lives.
    chain = os.path.join(tdir, "chain")
    shutil.copytree(os.path.join(harness.TOP, "templates"), chain)
    depth = 23
    for i in range(depth):
        with open(os.path.join(chain, "sms/p%d.mustache" % i), "w") as f:
            f.write("" if i == depth - 1 else "{{>sms/p%d}}{{>sms/p%d}}" % (i + 1, i + 1))
    with open(os.path.join(chain, "sms/text.mustache"), "w") as f:
        f.write("{{>sms/p0}}{{>sms/p0}}{{content}}")
    with harness.Gateway(build, {"templates_dir": chain}) as g:
        d, secs = timed_post(g, "send_sms", receiver="13800000000", content="hi")
        c.ok("row 3: a channel layout whose partials double 23 deep is refused "
             "in %.2f s" % secs, secs < 5 and d.get("message") ==
             "The content cannot be laid out by template sms/text: more than "
             "2000000 steps of work (sections nested over long lists) "
             "(the rendering limit)", repr(d)[:300])
        d = post(g, "send_mail", receiver="a@x.org", title="t", content="still here")
        c.ok("row 3: ... and the worker answers the next request",
             d.get("result") is True, repr(d)[:300])
    c.logs(g)


def main():
    c = Checker()
    build = sys.argv[1]
    tdir = tempfile.mkdtemp(prefix="cmsi-tmpl-")
    try:
        mine = os.path.join(tdir, "templates")
        shutil.copytree(os.path.join(harness.TOP, "templates"), mine)
        with open(os.path.join(mine, "wecom/text.mustache"), "w") as f:
            f.write("[{{heading}}] {{message}} @ {{date}}\n")
        with open(os.path.join(mine, "sms/text.mustache"), "w") as f:
            f.write("SMS: {{content}}\n")
        with open(os.path.join(mine, "voice/text.mustache"), "w") as f:
            f.write("Attention. {{message}}\n")
        with open(os.path.join(mine, "wxmp/data.mustache"), "w") as f:
            f.write('{"thing1": {"value": "{{heading}}/{{message}}"}}\n')
        with open(os.path.join(mine, "mail/html.mustache"), "w") as f:
            f.write("<div class=\"wrap\">{{{content}}}</div><p>{{title}}</p>\n")
        with harness.Gateway(build, {"templates_dir": mine}) as g:
            d = post(g, "send_weixin", receiver="u1",
                     data={"heading": "H", "message": "M", "date": "D"})
            c.eq("edited wecom layout: sent", d.get("result"), True)
            c.ok("edited wecom layout: used", "[H] M @ D" in newest(g))
            d = post(g, "send_mp_weixin", receiver="o1",
                     data={"heading": "H\"q", "message": "M"})
            out = json.loads(newest(g))
            c.eq("edited Official Account layout: used, JSON-escaped",
                 out.get("template_data"), {"thing1": {"value": "H\"q/M"}})
            post(g, "send_sms", receiver="13800000000", content="hi")
            c.ok("edited sms layout: used", "SMS: hi" in newest(g))
            post(g, "send_voice_msg", auto_read_message="fire",
                 user_list_information=[{"username": "a", "mobile_phone": "1"}])
            c.ok("edited voice layout: used", "Attention. fire" in newest(g))
            d = post(g, "send_mail", receiver="a@x.org", title="<T>", content="<b>x</b>",
                     is_content_base64=False)
            import base64
            import email
            msg = email.message_from_string(newest(g))
            html = [p for p in msg.walk() if p.get_content_type() == "text/html"]
            body = html[0].get_payload(decode=True).decode() if html else ""
            c.eq("edited mail layout: caller HTML kept, title escaped", body,
                 "<div class=\"wrap\"><b>x</b></div><p>&lt;T&gt;</p>")
        c.logs(g)

        with harness.Gateway(build) as g:
            d = post(g, "send_weixin", receiver="u1",
                     data={"heading": "H", "message": "M", "date": "D", "remark": "R"})
            c.ok("default wecom layout as ESB", "H\\nM\\nDate: D\\nR" in newest(g))
            d = post(g, "send_mail", receiver="a@x.org", template="alert",
                     context={"service": "db<1>", "level": "critical", "time": "10:02",
                              "summary": "disk \"full\"", "links": ["https://e.x/1"]})
            c.eq("named template: sent", d.get("result"), True)
            text = newest(g)
            c.ok("named template: subject rendered",
                 "Subject: [critical] db<1>: disk \"full\"" in text, text[:400])
            msg = email.message_from_string(text)
            html = [p for p in msg.walk() if p.get_content_type() == "text/html"]
            body = html[0].get_payload(decode=True).decode()
            c.ok("named template: HTML-escaped content",
                 "<b>db&lt;1&gt;</b>" in body and "<li>https://e.x/1</li>" in body, body)
            d = post(g, "send_sms", receiver="13800000000", template="alert",
                     context={"service": "db", "level": "warn", "summary": "x<y"})
            c.ok("named template in sms: plain text", d.get("result") is True and
                 "x<y" in newest(g))
            d = post(g, "send_mail", receiver="a@x.org", template="nope", context={})
            c.eq("unknown template", d.get("message"), "Template [nope] does not exist")
            d = post(g, "send_mail", receiver="a@x.org", template="../mail/html")
            c.eq("template name cannot escape messages/", d.get("message"),
                 "Template [../mail/html] does not exist")
            d = post(g, "send_mail", receiver="a@x.org", template="alert", context="x")
            c.eq("context must be an object", d.get("message"),
                 "template context [context] Must be the specified parameter data type dict")
            d = post(g, "send_mail", receiver="a@x.org", template="alert",
                     context={"service": "a\r\nBcc: evil@x.org"})
            c.ok("a context value cannot break the subject header",
                 d.get("result") is True and "\r\nBcc: evil" not in newest(g))
        c.logs(g)

        work_limit(c, build, tdir)

        with open(os.path.join(mine, "sms/text.mustache"), "w") as f:
            f.write("{{#content}}never closed\n")
        conf = os.path.join(tdir, "c.json")
        with open(conf, "w") as f:
            json.dump({"templates_dir": mine,
                       "schemas_dir": os.path.join(harness.TOP, "conf/schemas"),
                       "state_dir": os.path.join(tdir, "state")}, f)
        p = subprocess.run([os.path.join(harness.TOP, build, "cmsi.fcgi"), "-t", "-c",
                            conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.decode()
        c.ok("broken template stops startup with a clear line",
             p.returncode != 0 and "sms/text.mustache" in out, out)
    finally:
        shutil.rmtree(tdir, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
