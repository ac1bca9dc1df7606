#!/usr/bin/python3
"""Generated mutations (issue 33): mechanical one-line bugs over the
security- and delivery-relevant files, so that `make mutate` also tries
bugs the suite did not choose for itself.

Operators, each applied to one place of one line:

    cmp-flip    ==  <->  !=,  <  <->  >=,  >  <->  <=
    off-by-one  <  ->  <=,  <=  ->  <,  >  ->  >=,  >=  ->  >  where a
                bound is (a LIM_ cap, a number, a length, a size); a
                LIM_X compared becomes (LIM_X + 1), its "- 1"/"+ 1" goes
    drop-term   one operand of || replaced by 0, of && by 1
    prefix      strcmp(a, "lit") compares len-1 bytes;
                strcmp(a, b) / secret_eq(a, b) compares strlen(a) bytes
                (a prefix of b passes)
    key-zero    one %s of a store or limiter name's format made %.0s
                (that component of the key is left out)

Targets are found by pattern, never by line number (other branches move
code around): AREAS below names each file (a glob), optionally the
functions of it that count (a regular expression), and the e2e scripts
of its area.  Every line of every file that mentions LIM_ with a
comparison is a target too, wherever it is.

A mutation's id is stable under edits elsewhere in the file:
    <file stem>.<function>.<operator>.<hash>
where hash is 8 hex digits of sha1(stripped line text, occurrence of
that text in the function, column of the change, replacement).  The
line number is printed for reading but is not part of the id.

usage: gen.py [--count]       (prints the generated set, or its size)
"""
import fnmatch
import glob
import hashlib
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (file name glob, function regex or None for every function, e2e
# scripts, or "case:FILE" for a case file of tests/e2e/cases run behind
# lighttpd).  A file is found by its name anywhere under fcgi/ and
# handlers/, so it may move between folders.  The
# full unit suite (every build/tests/test_* program that links the file)
# runs for every mutation; these scripts are the area's e2e checks, the
# quickest first (t_losses.py takes about 15 s, t_spool.py minutes).
AREAS = [
    ("auth.c", None, ["t_auth.py", "t_contract.py"]),
    ("jwt.c", None, ["t_v1_jwt.py"]),
    ("util.c", r"^secret_eq$", ["t_contract.py"]),
    ("conf.c", r"tenant|^load_apps$|^conf_app$|^conf_comp$",
     ["t_v1_tenants.py"]),
    ("v1.c", r"auth|jwt|token|tenant|^list_add$|summary|details|"
     r"^v1_list$", ["t_v1_tenants.py", "t_v1_jwt.py", "t_v1_token.py"]),
    ("signin.c", None, ["t_losses.py", "t_console.py"]),
    ("console.c", r"^console_serve$|^console_ctx$",
     ["t_losses.py", "t_console.py"]),
    ("audit.c", r"^shown$|^caudit_match$|^caudit_message$|^raw_str$|"
     r"^field$|^rcpt_line$", ["t_console_ops.py"]),
    ("form.c", r"redact|secret|shown|^cform_apply$",
     ["t_losses.py", "t_console.py"]),
    ("save.c", r"hist|rollback", ["t_losses.py", "t_console.py"]),
    ("spool.c", None, ["t_losses.py", "t_spool.py"]),
    ("idem.c", None, ["t_losses.py", "t_spool.py"]),
    ("rate.c", None, ["t_redis.py"]),
    ("store.c", r"name|key", ["t_redis.py"]),
    ("outcome.c", None, ["t_losses.py", "t_spool.py"]),
    ("send_mail.c", None, ["t_losses.py", "case:020-smtp-plain.json",
                           "case:025-dest-url.json", "t_smtp.py"]),
    ("smtp.c", r"rcpt|result|deliver|send", ["case:020-smtp-plain.json",
                                             "t_smtp.py"]),
    ("request.c", r"^req_list$|^req_text$|^req_bool$|^req_read$",
     ["t_contract.py"]),
]
# Where a LIM_ line outside AREAS belongs (a pattern of its path).
LIM_SCRIPTS = [
    (r"/console/probe\.c$", ["t_losses.py", "t_console.py"]),
    (r"/console/templates\.c$", ["t_console_tmpl.py"]),
    (r"/console/", ["t_console.py"]),
    (r"/(rspool|redis|rtoken)\.c$", ["t_redis.py"]),
    (r"/(wx|wxmp|wecom)\.c$|send_(mp_|qy_)?weixin", ["t_wechat.py"]),
    (r"/qcloud[a-z_]*\.c$|send_(sms|voice)", ["t_qcloud.py"]),
    (r"/(smtp|mime)\.c$|send_mail", ["t_smtp.py"]),
    (r"/(bkuser|users)\.c$", ["t_bkuser.py"]),
    (r"/http\.c$", ["t_wechat.py", "t_qcloud.py"]),
    (r"/v1\.c$", ["t_v1_tenants.py"]),
    (r".", ["t_contract.py"]),
]
# Store and limiter names: the snprintf formats that build a key.
KEY_FILES = r"/(idem|rate|store|rtoken|replay)\.c$|/up/"
KEY_DEST = re.compile(r"snprintf\(\s*(id|name|buf|key|ident|ik->name|"
                      r"kbuf|k)\s*,")

FUNC_START = re.compile(r"^([a-z_][a-z0-9_]*)\(")
CMP = re.compile(r"==|!=|<=|>=|(?<![<>-])<(?![<=])|(?<![<>-])>(?![>=])")
FLIP = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=",
        "<=": ">"}
OBO = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}


def mask(line):
    """The line with string and char literals and comments blanked
    (same length), so operators inside them are not seen."""
    out, i, n = [], 0, len(line)
    while i < n:
        c = line[i]
        if c in "\"'":
            q, j = c, i + 1
            while j < n and line[j] != q:
                j += 2 if line[j] == "\\" else 1
            out.append(c + "_" * (min(j, n - 1) - i - 1) + q)
            i = j + 1
            continue
        if line.startswith("/*", i):
            j = line.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(" " * (j - i))
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out)[:n]


def functions(text):
    """(line index, function name) for every line inside a function
    body, skipping comment-only and preprocessor lines."""
    name, inside, incomment = None, False, False
    for i, line in enumerate(text.split("\n")):
        m = FUNC_START.match(line)
        if m and not inside:
            name = m.group(1)
        if line.startswith("{"):
            inside = True
            continue
        if line.startswith("}"):
            inside = False
            continue
        s = line.strip()
        if incomment:
            if "*/" in s:
                incomment = False
            continue
        if s.startswith("/*"):
            if "*/" not in s:
                incomment = True
            continue
        if s.startswith("*") or s.startswith("#"):
            continue
        if inside and name:
            yield i, name


def operand_span(m, start, end_op, left, prev=""):
    """The operand of the ||/&& at m[start:end_op]: (begin, end) in the
    masked line, or None when it does not lie whole on this line."""
    n = len(m)
    if left:
        j, depth = start - 1, 0
        while j >= 0:
            c = m[j]
            if c == ")":
                depth += 1
            elif c == "(":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and (m.startswith("||", j - 1) or
                                 m.startswith("&&", j - 1)):
                j -= 0
                break
            elif depth == 0 and c in ";,?:={}":
                return None
            j -= 1
        b = j + 1
        e = start
    else:
        j, depth = end_op, 0
        while j < n:
            c = m[j]
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and (m.startswith("||", j) or
                                 m.startswith("&&", j)):
                break
            elif depth == 0 and c in ";,?:={}":
                if c == ";" or c == "{":
                    break
                return None
            j += 1
        b = end_op
        e = j
    while b < e and m[b] in " \t":
        b += 1
    while e > b and m[e - 1] in " \t":
        e -= 1
    if left and m[:b].strip() == "" and not re.search(
            r"(\|\||&&|\()\s*$", prev):
        # The line continues an operand of the line before: it is not
        # whole here.
        return None
    if not left and e >= len(m.rstrip()) and not re.search(r"[;{)]\s*$",
                                                           m):
        return None
    seg = m[b:e]
    if not seg or seg.count("(") != seg.count(")"):
        return None
    if re.match(r"^(if|while|return|else)\b", seg):
        return None
    return b, e


def call_args(m, open_paren):
    """(arg spans, close index) of the call whose ( is at open_paren,
    or None if it does not close on this line."""
    depth, j, spans, b = 0, open_paren + 1, [], open_paren + 1
    while j < len(m):
        c = m[j]
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                spans.append((b, j))
                return spans, j
            depth -= 1
        elif c == "," and depth == 0:
            spans.append((b, j))
            b = j + 1
        j += 1
    return None


def muts_of_line(path, line, lim_only, prev=""):
    """(op, col, old, new) for one line (prev: the line before it)."""
    m = mask(line)
    out = []
    lim = "LIM_" in line
    if lim_only and not lim:
        return out
    for x in CMP.finditer(m):
        op = x.group(0)
        # "->" and "<<", ">>" are excluded by the pattern; #include <..>
        # lines are not in function bodies.
        a, b = x.start(), x.end()
        # Resource-failure checks (NULL, -1, < 0) are left alone: a
        # flip breaks every request, which any test sees; it costs a
        # build and says nothing about the behaviour.
        rhs = m[b:b + 6].lstrip()
        if re.match(r"(NULL|-1)\b", rhs) or (op == "<" and
                                               re.match(r"0\b", rhs)):
            continue
        if op in FLIP:
            out.append(("cmp-flip", a, op, FLIP[op]))
        # Off-by-one where a bound is: a LIM_ cap, a number, a length
        # or a size (a flip covers the other relations).
        if op in OBO and (lim or re.search(
                r"\b(len|n|max|min|size|sizeof|strlen|count|[0-9]+)\b",
                m[max(0, a - 24):b + 24])):
            out.append(("off-by-one", a, op, OBO[op]))
    if lim:
        for x in re.finditer(r"(LIM_[A-Z0-9_]+)(\s*[-+]\s*1)\b", m):
            out.append(("off-by-one", x.start(2), x.group(2), ""))
        for x in re.finditer(r"\bLIM_[A-Z0-9_]+\b", m):
            # the bound itself one larger: "LIM_X" -> "(LIM_X + 1)"
            if CMP.search(m):
                out.append(("off-by-one", x.start(), x.group(0),
                            "(%s + 1)" % x.group(0)))
    if lim_only:
        return out
    for x in re.finditer(r"\|\||&&", m):
        ident = "0" if x.group(0) == "||" else "1"
        for left in (True, False):
            sp = operand_span(m, x.start(), x.end(), left, mask(prev))
            if sp is None:
                continue
            b, e = sp
            if m[b:e] in ("0", "1"):
                continue
            out.append(("drop-term", b, line[b:e], ident))
    for x in re.finditer(r"\b(strcmp|strcasecmp|secret_eq)\(", m):
        r = call_args(m, x.end() - 1)
        if r is None:
            continue
        spans, close = r
        if len(spans) != 2:
            continue
        a0 = line[spans[0][0]:spans[0][1]].strip()
        a1 = line[spans[1][0]:spans[1][1]].strip()
        fn = x.group(1)
        old = line[x.start():close + 1]
        lit = re.match(r'^"((?:[^"\\]|\\.)*)"$', a1)
        if lit:
            n = len(bytes(lit.group(1), "utf-8").decode("unicode_escape"))
            if n < 2:
                continue
            nfn = "strncasecmp" if fn == "strcasecmp" else "strncmp"
            new = "%s(%s, %s, %d)" % (nfn, a0, a1, n - 1)
        elif fn == "secret_eq":
            new = "(strncmp(%s, %s, strlen(%s)) == 0)" % (a0, a1, a0)
        else:
            nfn = "strncasecmp" if fn == "strcasecmp" else "strncmp"
            new = "%s(%s, %s, strlen(%s))" % (nfn, a0, a1, a0)
        out.append(("prefix", x.start(), old, new))
    if re.search(KEY_FILES, path) and KEY_DEST.search(m):
        fmt = re.search(r'"([^"]*)"', line)
        if fmt and fmt.group(1).count("%") >= 2:
            base = fmt.start(1)
            for y in re.finditer(r"%s", fmt.group(1)):
                out.append(("key-zero", base + y.start(), "%s", "%.0s"))
    return out


def clamp(line, nxt):
    """Whether line (and the next) is a clamp, "if (a < b)" then
    "a = b;", or "a < b ? b : a": its off-by-one is equivalent (at
    a == b it gives the value a has), so it is not generated."""
    m = re.match(r"\s*if \((.+?) [<>]=? (.+)\)$", line)
    if m is not None and nxt == "%s = %s;" % (m.group(1), m.group(2)):
        return True
    # The same as a conditional: "a < b ? b : a".
    return re.search(r"\b(\w+) [<>]=? (\w+) \? (\1 : \2|\2 : \1)\b",
                     line) is not None


def area_of(path):
    for g, fre, scripts in AREAS:
        if fnmatch.fnmatch(os.path.basename(path), g):
            return fre, scripts
    return None


# Not delivery or security: config checkers (-t has its own tests),
# clean-up sweeps, the password-hash command, file and lock plumbing
# (a flip there fails every request, which every test sees).
SKIP_FUNCS = re.compile(r"^(rate|spool|idem)_check$|^idem_clean$|"
                        r"^spool_tmp_sweep$|^console_hash_password$|"
                        r"^static_file$|^load_(console|bkuser|redis)$|"
                        r"^(spool_dir|dir_sync|spool_write|item_save|"
                        r"spool_read|next_set|spool_due|record_write|"
                        r"rec_open|rec_close|lock_record|sha256_hex|"
                        r"cauth_hex|rnd_hex|state_path|take_redis|"
                        r"num_of)$")


# Lines that only dispatch by a fixed name (the console's pages): a
# mutation there moves a page, which the page tests see; not a gap
# worth a build each.
SKIP_LINES = re.compile(r"strcmp\(rq\.page, ")


def wanted(ar, fn):
    if SKIP_FUNCS.search(fn):
        return False
    return ar[0] is None or re.search(ar[0], fn) is not None


def lim_scripts(path):
    for pat, scripts in LIM_SCRIPTS:
        if re.search(pat, path):
            return scripts
    return []


def generate(top=TOP):
    files = set()
    for p in glob.glob(os.path.join(top, "fcgi/**/*.c"), recursive=True) + \
            glob.glob(os.path.join(top, "handlers/*.c")):
        files.add(os.path.relpath(p, top))
    muts, seen = [], set()
    for path in sorted(files):
        text = open(os.path.join(top, path), encoding="utf-8").read()
        lines = text.split("\n")
        ar = area_of(path)
        occ = {}
        for i, fn in functions(text):
            line = lines[i]
            key = (fn, line.strip())
            occ[key] = occ.get(key, 0) + 1
            if ar is not None and wanted(ar, fn):
                scripts, lim_only = ar[1], False
            elif "LIM_" in line:
                scripts, lim_only = (ar[1] if ar else lim_scripts(path)), True
            else:
                continue
            if SKIP_LINES.search(line):
                continue
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            for op, col, old, new in muts_of_line(path, line, lim_only,
                                                  lines[i - 1] if i else ""):
                if op == "off-by-one" and clamp(line, nxt):
                    continue
                h = hashlib.sha1(("%s\0%d\0%d\0%s\0%s" % (
                    line.strip(), occ[key], col - (len(line) -
                                                   len(line.lstrip())),
                    old, new)).encode()).hexdigest()[:8]
                mid = "%s.%s.%s.%s" % (
                    os.path.splitext(os.path.basename(path))[0], fn, op, h)
                if mid in seen:
                    continue
                seen.add(mid)
                muts.append({"id": mid, "file": path, "lineno": i + 1,
                             "line": line, "col": col, "old": old,
                             "new": new, "op": op, "func": fn,
                             "scripts": scripts})
    return muts


def apply(text, mt):
    """text with mutation mt applied, found by its line's text (the
    line number is only a hint), or None if the line is gone."""
    lines = text.split("\n")
    cand = [i for i, l in enumerate(lines) if l == mt["line"]]
    if not cand:
        return None
    i = min(cand, key=lambda k: abs(k + 1 - mt["lineno"]))
    l = lines[i]
    c = mt["col"]
    if l[c:c + len(mt["old"])] != mt["old"]:
        return None
    lines[i] = l[:c] + mt["new"] + l[c + len(mt["old"]):]
    return "\n".join(lines)


def read_equivalent(path=os.path.join(TOP, "tests/mutate/equivalent.txt")):
    """id -> reason, from lines "ID  reason" ("#" comments)."""
    eq = {}
    if os.path.exists(path):
        for raw in open(path, encoding="utf-8"):
            s = raw.strip()
            if not s or s.startswith("#"):
                continue
            mid, _, why = s.partition(" ")
            eq[mid] = why.strip()
    return eq


def main():
    muts = generate()
    if "--count" in sys.argv:
        by = {}
        for m in muts:
            by[m["op"]] = by.get(m["op"], 0) + 1
        print(len(muts), by)
        return 0
    for m in muts:
        print("%-44s %s:%d  %r -> %r" % (m["id"], m["file"], m["lineno"],
                                         m["old"], m["new"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
