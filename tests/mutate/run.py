#!/usr/bin/python3
"""make mutate: makes each deliberate bug of tests/mutate/mutations.txt,
one at a time, in a copy of the tree, rebuilds, runs the suites the list
says must catch it, and prints "N caught, N survived".

The source tree is never written: everything happens in a temporary
copy (git's tracked and untracked files, and build/ so the first build
is incremental), removed at the end, also on Ctrl-C.

usage: run.py [--list FILE] [--no-baseline] [--keep] [ID...]
       run.py --sample N [--seed S]     the list, then N generated ones
       run.py --all-generated [--unit-only] [--out FILE] [--ids-file F]

Generated mutations (tests/mutate/gen.py, issue 33) are made afresh
from the copy's sources, so their ids and places follow the code.
Each runs against the unit programs that link its file (all of the
unit suite that can see it), then, if none failed, the e2e scripts of
its area.  Verdicts: caught, survived, equivalent (listed in
tests/mutate/equivalent.txt with the reason; not run), invalid (the
mutated line does not compile: not a mutant, not counted).
--unit-only stops after the unit programs (a first pass over the whole
set; feed its survivors back with --ids-file).

A mutation is a block of "key: value" lines, blocks separated by blank
lines, "#" starting a comment line:

    id:      auth-secret-prefix
    file:    fcgi/auth.c
    find:    } else if (!secret_eq(secret, app->secret)) {
    replace: } else if (strncmp(secret, app->secret, strlen(secret))) {
    suite:   script:t_contract.py
    why:     the app secret check accepts any prefix of the secret

find is a literal text that must occur exactly once in file (a line
or part of one; {NL} and {TAB} in find and replace are a newline and a
tab); replace is what it becomes.  suite is one or more of, space
separated:
    unit:NAME          build/tests/NAME (a cmocka program)
    case:FILE          tests/e2e/run.py build tests/e2e/cases/FILE
                       behind lighttpd
    script:FILE        tests/e2e/FILE build
    conformance:NAME   build/tests/NAME on its data
A mutation is caught when one of its suites fails (exits non-zero).
One whose text is not found, or that does not build, is reported as
BROKEN and counts as survived: it tested nothing.  Before the
mutations, every suite named runs once on the unchanged copy and must
pass (--no-baseline skips that).
"""
import argparse
import random
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = "/usr/bin/python3"
SUITE_TIMEOUT = 1200
UNIT_TIMEOUT = 120
DATA = {"json-schema-suite": "tests/conformance/data/json-schema/draft2020-12",
        "mustache-spec": "tests/conformance/data/mustache"}


def parse(path):
    muts, cur = [], {}
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                muts.append(cur)
                cur = {}
            continue
        k, sep, v = line.partition(":")
        if not sep:
            sys.exit("%s: not 'key: value': %r" % (path, line))
        k, v = k.strip(), v.strip()
        if k in ("find", "replace"):
            v = v.replace("{NL}", "\n").replace("{TAB}", "\t")
        cur[k] = v
    if cur:
        muts.append(cur)
    seen = set()
    for m in muts:
        for k in ("id", "file", "find", "replace", "suite"):
            if k not in m:
                sys.exit("%s: mutation %r lacks %s" % (path, m.get("id"), k))
        if m["id"] in seen:
            sys.exit("%s: id %s twice" % (path, m["id"]))
        seen.add(m["id"])
    return muts


def copy_tree(dst):
    """The tracked and untracked (not ignored) files, and build/, with
    their times, so make rebuilds only what a mutation touches."""
    out = subprocess.run(["git", "-C", TOP, "ls-files", "-z", "--cached",
                          "--others", "--exclude-standard"],
                         stdout=subprocess.PIPE, check=True).stdout
    for rel in out.decode().split("\0"):
        if not rel or not os.path.lexists(os.path.join(TOP, rel)):
            continue
        d = os.path.join(dst, os.path.dirname(rel))
        os.makedirs(d, exist_ok=True)
        shutil.copy2(os.path.join(TOP, rel), os.path.join(dst, rel),
                     follow_symlinks=False)
    if os.path.isdir(os.path.join(TOP, "build")):
        shutil.copytree(os.path.join(TOP, "build"),
                        os.path.join(dst, "build"), symlinks=True)


def sh(argv, cwd, timeout=SUITE_TIMEOUT, env=None):
    """(exit status, last lines of output); a timeout is a failure."""
    try:
        p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           env=env, start_new_session=True)
        return p.returncode, p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        return 124, out + "\n(timed out after %d s)" % timeout


def targets(suites):
    t = ["build/cmsi.fcgi"]
    for s in suites:
        kind, _, name = s.partition(":")
        if kind in ("unit", "conformance"):
            t.append("build/tests/" + name)
    return t


def run_suite(tree, s):
    kind, _, name = s.partition(":")
    env = dict(os.environ)
    if kind == "unit":
        # A unit program takes a second or two: a mutation that makes
        # one loop is caught by this timeout, not after 20 minutes.
        return sh(["build/tests/" + name], tree, timeout=UNIT_TIMEOUT)
    if kind == "conformance":
        return sh(["build/tests/" + name, DATA[name]], tree)
    if kind == "case":
        env["CMSI_FRONTENDS"] = "lighttpd"
        return sh([PY, "tests/e2e/run.py", "build",
                   "tests/e2e/cases/" + name], tree, env=env)
    if kind == "script":
        return sh([PY, "tests/e2e/" + name, "build"], tree, env=env)
    return 2, "unknown suite kind %r" % kind


def build(tree, suites):
    return sh(["make", "-s", "-j2", "BUILDDIR=build"] + targets(suites),
              tree, timeout=900)


def fails(out, n=6):
    lines = [l for l in out.splitlines() if l.startswith("FAIL") or
             "[  FAILED" in l or "[  ERROR" in l]
    return "; ".join(l[:160] for l in lines[:n]) or out.strip()[-300:]


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402


def unit_bins(tree):
    return sorted(p for p in os.listdir(os.path.join(tree, "build/tests"))
                  if p.startswith("test_") and "." not in p)


def symbols(path, defined_only):
    argv = ["nm", "-g"] + (["--defined-only"] if defined_only else [])
    p = subprocess.run(argv + [path], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    out = set()
    for l in p.stdout.decode(errors="replace").splitlines():
        f = l.split()
        if len(f) >= 2 and f[-2] in "TDBR":
            out.add(f[-1])
    return out


def linked_units(tree, files):
    """file -> the unit programs that link its object (a mutation in it
    can change only those)."""
    bins = {b: symbols(os.path.join(tree, "build/tests", b), True)
            for b in unit_bins(tree)}
    out = {}
    for f in files:
        obj = os.path.join(tree, "build", f[:-2] + ".o")
        syms = symbols(obj, True) if os.path.exists(obj) else set()
        out[f] = [b for b, s in sorted(bins.items()) if syms & s]
    return out


def run_generated(tree, muts, eq, unit_only, log):
    """Runs each generated mutation; returns the list of (verdict, m,
    detail)."""
    links = linked_units(tree, sorted({m["file"] for m in muts}))
    res = []
    # Every suite these mutations name must pass unchanged first, or a
    # failure would be counted as a catch.
    every = sorted({"unit:" + b for m in muts for b in links.get(m["file"],
                                                                 [])})
    if not unit_only:
        every += sorted({s if ":" in s else "script:" + s for m in muts
                         for s in m["scripts"] if m["id"] not in eq})
    for s in every:
        rc, out = run_suite(tree, s)
        print("baseline %-34s %s" % (s, "ok" if rc == 0 else "FAIL"),
              flush=True)
        if rc != 0:
            sys.exit("baseline: %s fails without any mutation: %s"
                     % (s, fails(out)))
    for m in muts:
        t0 = time.time()
        if m["id"] in eq:
            res.append(("equivalent", m, eq[m["id"]]))
            print("%-10s %-48s %s" % ("equivalent", m["id"], eq[m["id"]]),
                  flush=True)
            if log is not None:
                log.write("equivalent\t%s\t%s:%d\t%r -> %r\t%s\n" % (
                    m["id"], m["file"], m["lineno"], m["old"], m["new"],
                    eq[m["id"]]))
            continue
        path = os.path.join(tree, m["file"])
        obj = os.path.join(tree, "build", m["file"][:-2] + ".o")
        st = os.stat(path)
        orig = open(path, "rb").read()
        objcopy = open(obj, "rb").read() if os.path.exists(obj) else None
        new = gen.apply(orig.decode("utf-8"), m)
        units = ["unit:" + b for b in links.get(m["file"], [])]
        scripts = [] if unit_only else [
            s if ":" in s else "script:" + s for s in m["scripts"]]
        if new is None:
            verdict, detail = "invalid", "line not found"
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            try:
                tg = targets(units)
                if unit_only:
                    tg.remove("build/cmsi.fcgi")
                # -O0: the mutated file compiles in a fraction of the
                # time; the rest of the library stays as built.
                rc, out = sh(["make", "-s", "-j2", "BUILDDIR=build",
                              "WERROR=0", "CFLAGS=-O0 -g",
                              "HARDEN=-fstack-protector-strong"] + tg, tree,
                             timeout=900)
                if rc != 0:
                    verdict, detail = "invalid", "does not build: " + \
                        " ".join(l for l in out.splitlines()
                                 if "error" in l)[:200]
                else:
                    verdict, detail = "survived", "%d unit, %d e2e passed" % (
                        len(units), len(scripts))
                    for s in units + scripts:
                        rc, out = run_suite(tree, s)
                        if rc != 0:
                            verdict = "caught"
                            detail = "%s: %s" % (s, fails(out, 1))
                            break
            finally:
                # The source and its object as they were, the object
                # newer than the archive so make puts it back in.
                with open(path, "wb") as f:
                    f.write(orig)
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
                if objcopy is not None:
                    with open(obj, "wb") as f:
                        f.write(objcopy)
        res.append((verdict, m, detail))
        line = "%-10s %-48s %5.0f s  %s:%d %r -> %r  %s" % (
            verdict, m["id"], time.time() - t0, m["file"], m["lineno"],
            m["old"], m["new"], " ".join(detail.split())[:300])
        print(line, flush=True)
        if log is not None:
            log.write("%s\t%s\t%s:%d\t%r -> %r\t%s\n" % (
                verdict, m["id"], m["file"], m["lineno"], m["old"], m["new"],
                detail.replace("\t", " ").replace("\n", " ")[:300]))
            log.flush()
    return res


def totals(res, head):
    n = {k: sum(1 for v, _, _ in res if v == k)
         for k in ("caught", "survived", "equivalent", "invalid")}
    real = n["caught"] + n["survived"]
    pct = 100.0 * n["caught"] / real if real else 100.0
    print("%s: %d caught, %d survived, %d equivalent, %d invalid "
          "(%.1f%% of %d non-equivalent caught)" % (
              head, n["caught"], n["survived"], n["equivalent"],
              n["invalid"], pct, real))
    for v, m, d in res:
        if v == "survived":
            print("  survived %s  %s:%d %r -> %r" % (m["id"], m["file"],
                                                   m["lineno"], m["old"],
                                                   m["new"]))
    return n["survived"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", default=os.path.join(TOP, "tests/mutate/mutations.txt"))
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary tree (its path is printed)")
    ap.add_argument("--sample", type=int, default=0,
                    help="also N generated mutations, a seeded sample")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--all-generated", action="store_true",
                    help="only the whole generated set")
    ap.add_argument("--unit-only", action="store_true")
    ap.add_argument("--ids-file", help="generated ids to run, one a line")
    ap.add_argument("--shuffle", type=int, default=None,
                    help="run the generated set in this seed's order")
    ap.add_argument("--out", help="append generated verdicts here (TSV)")
    ap.add_argument("--summary", nargs="+", metavar="TSV",
                    help="totals over --out files, a later file's verdict "
                    "on an id replacing an earlier one's")
    ap.add_argument("ids", nargs="*")
    a = ap.parse_args()
    if a.summary:
        return summary(a.summary)
    if a.all_generated or a.ids_file:
        return main_generated(a)
    muts = parse(a.list)
    if a.ids:
        unknown = set(a.ids) - {m["id"] for m in muts}
        if unknown:
            sys.exit("no such mutation: %s" % " ".join(sorted(unknown)))
        muts = [m for m in muts if m["id"] in a.ids]
    tree = tempfile.mkdtemp(prefix="cmsi-mutate-")
    # Ctrl-C and TERM end the run through finally, which removes the copy.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    caught = survived = 0
    report = []
    try:
        copy_tree(tree)
        every = sorted({s for m in muts for s in m["suite"].split()})
        rc, out = build(tree, every)
        if rc != 0:
            sys.exit("the unchanged tree does not build:\n" + out[-2000:])
        if not a.no_baseline:
            for s in every:
                rc, out = run_suite(tree, s)
                print("baseline %-34s %s" % (s, "ok" if rc == 0 else "FAIL"),
                      flush=True)
                if rc != 0:
                    sys.exit("baseline: %s fails without any mutation: %s"
                             % (s, fails(out)))
        for m in muts:
            path = os.path.join(tree, m["file"])
            orig = open(path, "rb").read()
            text = orig.decode("utf-8")
            n = text.count(m["find"])
            t0 = time.time()
            if n != 1:
                verdict, detail = "BROKEN", "find text occurs %d times" % n
            else:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text.replace(m["find"], m["replace"]))
                try:
                    suites = m["suite"].split()
                    rc, out = build(tree, suites)
                    if rc != 0:
                        verdict, detail = "BROKEN", "does not build: " + \
                            out.strip()[-300:]
                    else:
                        verdict, detail = "survived", "every suite passed"
                        for s in suites:
                            rc, out = run_suite(tree, s)
                            if rc != 0:
                                verdict = "caught"
                                detail = "%s: %s" % (s, fails(out, 2))
                                break
                finally:
                    with open(path, "wb") as f:
                        f.write(orig)
            if verdict == "caught":
                caught += 1
            else:
                survived += 1
            line = "%-8s %-32s %5.0f s  %s" % (
                verdict, m["id"], time.time() - t0, detail[:400])
            report.append((verdict, m))
            print(line, flush=True)
    finally:
        if a.keep:
            print("kept " + tree)
        else:
            shutil.rmtree(tree, ignore_errors=True)
    bad = [m["id"] for v, m in report if v != "caught"]
    if bad:
        print("not caught: " + " ".join(bad))
    print("listed: %d caught, %d survived" % (caught, survived))
    gsurv = 0
    if a.sample > 0 and not a.ids:
        gsurv = sample_generated(a)
    return 0 if survived == 0 and gsurv == 0 else 1


def pick(a):
    muts = gen.generate()
    if a.ids_file:
        want = [l.split()[0] for l in open(a.ids_file) if l.strip() and
                not l.startswith("#")]
        by = {m["id"]: m for m in muts}
        gone = [w for w in want if w not in by]
        if gone:
            print("not generated any more (code changed): " + " ".join(gone))
        return [by[w] for w in want if w in by]
    return muts


def with_tree(fn):
    tree = tempfile.mkdtemp(prefix="cmsi-mutate-")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    try:
        copy_tree(tree)
        rc, out = sh(["make", "-s", "-j2", "BUILDDIR=build", "WERROR=0",
                      "tests-build"], tree, timeout=1800)
        if rc != 0:
            sys.exit("the unchanged tree does not build:\n" + out[-2000:])
        return fn(tree)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def sample_generated(a):
    seed = a.seed if a.seed is not None else int(time.strftime("%Y%m%d"))
    every = gen.generate()
    eq = gen.read_equivalent()
    pool = [m for m in every if m["id"] not in eq]
    k = min(a.sample, len(pool))
    muts = random.Random(seed).sample(pool, k)
    print("generated: %d of %d non-equivalent (%d listed equivalent), "
          "seed %d (make mutate SEED=%d repeats it)" % (
              k, len(pool), len(eq), seed, seed), flush=True)
    res = with_tree(lambda t: run_generated(t, muts, eq, False, None))
    return totals(res, "generated sample")


def summary(files):
    """Totals of a whole run kept in --out files: the unit pass, then
    the e2e pass over its survivors (its verdict wins)."""
    final = {}
    for f in files:
        for l in open(f, encoding="utf-8"):
            v = l.rstrip("\n").split("\t")
            if len(v) >= 4:
                final[v[1]] = v
    eq = gen.read_equivalent()
    for k in final:
        if k in eq:
            final[k] = ["equivalent"] + final[k][1:]
    res = [(v[0], {"id": v[1], "file": v[2].rsplit(":", 1)[0],
                   "lineno": int(v[2].rsplit(":", 1)[1]),
                   "old": v[3], "new": ""}, v[4] if len(v) > 4 else "")
           for v in final.values()]
    n = {k: sum(1 for r in res if r[0] == k)
         for k in ("caught", "survived", "equivalent", "invalid")}
    real = n["caught"] + n["survived"]
    print("generated, whole run: %d caught, %d survived, %d equivalent, "
          "%d invalid (%.1f%% of %d non-equivalent caught)" % (
              n["caught"], n["survived"], n["equivalent"], n["invalid"],
              100.0 * n["caught"] / real if real else 100.0, real))
    for v, m, d in sorted(res, key=lambda r: r[1]["id"]):
        if v == "survived":
            print("  survived %-48s %s:%d %s" % (m["id"], m["file"],
                                               m["lineno"], m["old"]))
    return 0 if n["survived"] == 0 else 1


def main_generated(a):
    muts = pick(a)
    if a.shuffle is not None:
        random.Random(a.shuffle).shuffle(muts)
    eq = gen.read_equivalent()
    print("generated: %d mutations%s" % (
        len(muts), ", unit programs only" if a.unit_only else ""),
        flush=True)
    log = open(a.out, "a") if a.out else None
    res = with_tree(lambda t: run_generated(t, muts, eq, a.unit_only, log))
    surv = totals(res, "generated")
    return 0 if surv == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
