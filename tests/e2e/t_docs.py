#!/usr/bin/python3
"""The documentation holds: README.md at most 400 lines with `make run`
and `make check` in its first 60; every link from README.md and doc/*.md
to a file of the tree resolves, and so does its #heading; the man page lints clean under
`mandoc -T lint`, renders with `man -l`, and documents every option
fcgi/main.c accepts (and no option it does not); every config key the
schemas under conf/schemas/config/ know, and every top-level key, is in
doc/configuration.md.

usage: t_docs.py [BUILDDIR]
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from e2e_lib import Checker  # noqa: E402

TOP = harness.TOP
MAN = os.path.join(TOP, "doc/cmsi.fcgi.8")


def readme(c):
    lines = open(os.path.join(TOP, "README.md")).read().splitlines()
    c.ok("README.md is at most 400 lines", len(lines) <= 400, "%d lines" % len(lines))
    head = "\n".join(lines[:60])
    c.ok("`make run` and `make check` are in README.md's first 60 lines",
         re.search(r"\bmake run\b", head) and re.search(r"\bmake check\b", head), "")


def slug(heading):
    """GitHub's anchor for a heading."""
    h = heading.strip().lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def anchors(path):
    text = re.sub(r"```.*?```", "", open(path).read(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.*)$", text, flags=re.M)}


def links(c):
    """Markdown links [text](target) that name a file of the tree, and
    the heading a #fragment names in a Markdown file."""
    files = [os.path.join(TOP, "README.md")] + sorted(glob.glob(os.path.join(TOP, "doc/*.md")))
    bad = []
    n = 0
    for path in files:
        text = open(path).read()
        # Code spans and blocks hold examples, not links.
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        text = re.sub(r"`[^`\n]*`", "", text)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            if target.startswith("#"):
                target = os.path.basename(path) + target
            n += 1
            f, _, frag = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), f))
            if not os.path.exists(dest):
                bad.append("%s: %s" % (os.path.relpath(path, TOP), target))
            elif frag and dest.endswith(".md") and frag not in anchors(dest):
                bad.append("%s: %s (no such heading)" % (os.path.relpath(path, TOP), target))
    c.ok("every link from README.md and doc/ resolves (%d links)" % n, not bad,
         "\n".join(bad))
    for name in ("deploying", "configuration", "console", "v1", "operating",
                 "migrating", "security", "performance", "development"):
        c.ok("doc/%s.md exists and README.md links it" % name,
             os.path.exists(os.path.join(TOP, "doc/%s.md" % name)) and
             "(doc/%s.md)" % name in open(os.path.join(TOP, "README.md")).read(), "")


def accepted_options():
    """What fcgi/main.c's option parsing takes: getopt's letters and the
    long names of its option table and its literal argv comparisons."""
    src = open(os.path.join(TOP, "fcgi/main.c")).read()
    opts = set()
    m = re.search(r'getopt_long\(argc, argv, "([^"]*)"', src)
    for ch in (m.group(1) if m else ""):
        if ch != ":":
            opts.add("-" + ch)
    for name in re.findall(r'\{\s*"([a-z-]+)",\s*(?:no|required|optional)_argument', src):
        opts.add("--" + name)
    for name in re.findall(r'strcmp\(argv\[\d\], "(--[a-z-]+)"\)', src):
        opts.add(name)
    return opts


def manpage(c):
    mandoc = shutil.which("mandoc")
    if mandoc is None:
        print("skip man page lint: no mandoc (make deps installs it)")
    else:
        p = subprocess.run([mandoc, "-T", "lint", MAN], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        # Lines about the host's own manual database are not about the page.
        out = [l for l in p.stdout.decode().splitlines() if "mandoc.db" not in l]
        c.ok("mandoc -T lint doc/cmsi.fcgi.8: clean", p.returncode == 0 and not out,
             "\n".join(out))
    if shutil.which("man"):
        p = subprocess.run(["man", "-l", MAN], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=dict(os.environ, MANPAGER="cat",
                                                           PAGER="cat", MANWIDTH="80"))
        text = p.stdout.decode(errors="replace")
        c.ok("man -l shows the page", p.returncode == 0 and "SYNOPSIS" in text and
             "EXIT STATUS" in text, p.stderr.decode(errors="replace")[:300])
    src = open(MAN).read()
    documented = set()
    for flags in re.findall(r"^\.It (Fl .*)$", src, flags=re.M):
        for f in re.findall(r"Fl (\\?-?[A-Za-z][\w\\-]*)", flags):
            f = f.replace("\\-", "-")
            documented.add("-" + f)
    acc = accepted_options()
    c.ok("main.c's options found (%s)" % " ".join(sorted(acc)), len(acc) >= 6, "")
    missing = sorted(acc - documented)
    c.ok("every option main.c accepts is in the man page", not missing, missing)
    extra = sorted(documented - acc)
    c.ok("the man page documents no option main.c refuses", not extra, extra)
    for sec in ("SYNOPSIS", "OPTIONS" if ".Sh OPTIONS" in src else "DESCRIPTION",
                "ENVIRONMENT", "FILES", "SIGNALS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        c.ok("man page section " + sec, ".Sh " + sec in src, "")


def config_keys():
    """Every key the config schemas know, by component, and the
    top-level and section keys fcgi/core/conf.c's lists know."""
    keys = set()
    for path in glob.glob(os.path.join(TOP, "conf/schemas/config/*.json")):
        doc = json.load(open(path))
        for k in doc.get("properties", {}):
            if k != "comment":
                keys.add(k)
    src = open(os.path.join(TOP, "fcgi/core/conf.c")).read()
    for name, body in re.findall(r"static const char \*const (\w+_keys)\[\] = \{(.*?)\};",
                                 src, flags=re.S):
        for k in re.findall(r'"(\w+)"', body):
            if k != "comment":
                keys.add(k)
    return keys


def reference(c):
    path = os.path.join(TOP, "doc/configuration.md")
    if not os.path.exists(path):
        c.ok("doc/configuration.md exists", False, "")
        return
    text = open(path).read()
    keys = config_keys()
    missing = sorted(k for k in keys if "`%s`" % k not in text and
                     not re.search(r"`[\w.<>]*\.%s`" % re.escape(k), text))
    c.ok("every config key (%d) is in doc/configuration.md" % len(keys), not missing,
         missing)


def main():
    c = Checker()
    readme(c)
    links(c)
    manpage(c)
    reference(c)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
