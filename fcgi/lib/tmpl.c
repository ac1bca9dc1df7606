/*
 * Mustache renderer over json-c values; see tmpl.h for the contract.
 *
 * Parsing turns the source into a tree of nodes in one pass, applying
 * the spec's standalone-line rules there, so rendering only walks the
 * tree.  The source is not kept.
 *
 * Indentation of standalone partials is done at render time rather
 * than by re-parsing an indented copy of the partial: the renderer
 * keeps the current indentation and a "pending" flag that is set after
 * every newline of template text.  The indentation is written before
 * the next template text or tag output on that line.  Newlines inside
 * interpolated values do not set the flag, which is what the spec asks
 * for ("Standalone Indentation").  The result equals prefixing every
 * line of the partial's source, without a parse per indentation.
 *
 * Inheritance follows the rules the spec's tests encode (mustache/spec
 * #130/#131):
 *  - Text inside a parent tag pair is ignored; only its blocks count.
 *  - A parent pair is standalone when its opening tag starts its line
 *    (after blanks) and its closing tag ends one: its indentation then
 *    applies to the parent like a standalone partial's.
 *  - An argument block (directly inside a parent) drops the newline
 *    after its opening tag if nothing else follows on that line; the
 *    blanks starting its first line are then its intrinsic indentation
 *    and are stripped from each of its lines.  Blanks before its
 *    closing tag are dropped when they start the line.
 *  - Where a block expands, an overriding argument is indented by the
 *    block's indentation: the default content's intrinsic indentation
 *    (else the tag's) when the opening tag is standalone, for every
 *    line; the tag's when the pair alone fills its line, for lines
 *    after the first (the first already follows the literal blanks).
 *  - The outermost override of a name wins; an argument's own content
 *    sees only the overrides from outside the parent that passed it.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "limits.h"
#include "tmpl.h"
#include "util.h"

enum node_type {
	N_TEXT,			/* literal template text */
	N_VAR,			/* {{x}} */
	N_RAW,			/* {{{x}}} or {{&x}} */
	N_SECTION,		/* {{#x}} */
	N_INVERTED,		/* {{^x}} */
	N_PARTIAL,		/* {{>x}} */
	N_PARENT,		/* {{<x}}: kids hold its argument blocks */
	N_BLOCK			/* {{$x}}: kids are the default or argument */
};

/* How the expansion of a partial, parent or block argument is indented. */
enum ind_mode {
	IND_NONE,		/* inline: its lines get no indentation */
	IND_LINE,		/* starts a line: every line gets ind */
	IND_TAIL		/* after literal blanks: later lines */
};

struct node {
	enum node_type	 type;
	char		*str;		/* owned: text or tag name, NUL-ended */
	size_t		 len;		/* bytes of str */
	char		*segs;		/* owned: name cut at dots; NULL: "." */
	size_t		 nsegs;		/* NUL-ended segments in segs */
	int		 dynamic;	/* partial/parent named via segs */
	int		 standalone;	/* line removed: nothing to indent */
	enum ind_mode	 mode;		/* partial, parent, block */
	char		*ind;		/* owned: mode's indentation or NULL */
	size_t		 indlen;	/* bytes of ind */
	struct node	*kids;		/* owned: section, parent, block body */
	size_t		 nkids;
	size_t		 capkids;
};

struct tmpl {
	struct node	 root;		/* owned: its kids are the template */
};

/* A section, parent or block whose closing tag has not been seen. */
struct open {
	struct node	*n;		/* borrowed: last kid of its parent */
	const char	*name;		/* borrowed: raw tag content in src */
	size_t		 namelen;
	size_t		 at;		/* source offset of the opening tag */
	int		 arg;		/* block directly inside a parent */
	int		 lclear;	/* only blanks before the opening tag */
	int		 alone;		/* the opening tag's line was removed */
	size_t		 ws, wslen;	/* blanks before the tag, dedented */
	size_t		 in, inlen;	/* blanks starting the body, dedented */
	size_t		 ded, dedlen;	/* dedent to restore when closed */
};

struct parser {
	const char	*src;		/* borrowed: the template source */
	size_t		 len;
	size_t		 pos;		/* where scanning resumes */
	size_t		 text;		/* start of text not yet added */
	char		 otag[LIM_TMPL_DELIM], ctag[LIM_TMPL_DELIM];
	size_t		 olen, clen;
	size_t		 ded, dedlen;	/* src range cut from line starts */
	struct open	 stack[LIM_TMPL_DEPTH + 1];	/* [0] is the root */
	size_t		 depth;		/* index of the innermost open node */
	char		*err;		/* borrowed: caller's error buffer */
	size_t		 errsz;
};

/* Overrides in effect: the argument blocks of the parents being rendered. */
struct frame {
	const struct node	*parent;	/* borrowed: an N_PARENT */
	const struct frame	*outer;		/* borrowed: enclosing one */
};

struct rstate {
	enum tmpl_esc	 esc;
	tmpl_partial_fn	 partial;
	void		*arg;		/* borrowed: handed to partial */
	struct buf	*out;		/* borrowed: caller's buffer */
	size_t		 start;		/* out->len when rendering began */
	json_object	*ctx[LIM_TMPL_DEPTH + 2];	/* borrowed: stack */
	size_t		 nctx;
	int		 depth;		/* sections, partials, parents, args */
	char		*ind;		/* owned: indentation stack */
	size_t		 indoff;	/* indentation is ind[indoff, indlen) */
	size_t		 indlen;
	size_t		 indcap;
	int		 pending;	/* at line start, ind not written */
	size_t		 work;		/* steps taken, up to LIM_TMPL_WORK */
	enum tmpl_fail	 fail;		/* why rendering stopped */
};

static int	render_list(struct rstate *, const struct node *, size_t,
		    const struct frame *);

/* Parsing. */

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t
line_of(const struct parser *p, size_t at)
{
	size_t	 i, line = 1;

	for (i = 0; i < at && i < p->len; i++)
		if (p->src[i] == '\n')
			line++;
	return line;
}

static void __attribute__((__format__(__printf__, 3, 4)))
perr(struct parser *p, size_t at, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[160];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err != NULL && p->errsz > 0)
		snprintf(p->err, p->errsz, "line %zu: %s", line_of(p, at), msg);
}

static void
node_free(struct node *n)
{
	size_t	 i;

	for (i = 0; i < n->nkids; i++)
		node_free(&n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n->segs);
	free(n->ind);
	memset(n, 0, sizeof(*n));
}

static struct node *
kid_add(struct node *parent, enum node_type type)
{
	struct node	*n;

	if (parent->nkids == parent->capkids) {
		parent->capkids = parent->capkids ? parent->capkids * 2 : 8;
		parent->kids = xrealloc(parent->kids,
		    parent->capkids * sizeof(*parent->kids));
	}
	n = &parent->kids[parent->nkids++];
	memset(n, 0, sizeof(*n));
	n->type = type;
	return n;
}

static struct node *
top(struct parser *p)
{
	return p->stack[p->depth].n;
}

/* memmem(3) without depending on _GNU_SOURCE. */
static const char *
find(const char *hay, size_t n, const char *needle, size_t m)
{
	const char	*p, *end = hay + n;

	if (m == 0 || m > n)
		return NULL;
	for (p = hay; (size_t)(end - p) >= m; p++) {
		p = memchr(p, needle[0], (size_t)(end - p) - m + 1);
		if (p == NULL)
			return NULL;
		if (memcmp(p, needle, m) == 0)
			return p;
	}
	return NULL;
}

/* Moves *start past the part of the dedent that [*start, end) begins with. */
static void
dedent(const struct parser *p, size_t *start, size_t end)
{
	size_t	 k = 0;

	while (k < p->dedlen && *start + k < end &&
	    p->src[*start + k] == p->src[p->ded + k])
		k++;
	*start += k;
}

/*
 * Adds src[from, to) as text of the innermost node, less the dedent at
 * each line start.  Text directly inside a parent is dropped: the spec
 * ignores it.
 */
static void
add_text(struct parser *p, size_t from, size_t to)
{
	struct node	*n = top(p), *t;
	char		*s;
	size_t		 i, k, len = 0;
	int		 bol;

	if (from >= to || n->type == N_PARENT)
		return;
	s = xmalloc(to - from + 1);
	bol = from == 0 || p->src[from - 1] == '\n';
	for (i = from; i < to;) {
		if (bol && p->dedlen > 0) {
			k = i;
			dedent(p, &k, to);
			i = k;
			bol = 0;
			continue;
		}
		s[len] = p->src[i++];
		bol = s[len++] == '\n';
	}
	if (len == 0) {
		free(s);
		return;
	}
	/* One text node between tags keeps rendering to one copy. */
	if (n->nkids > 0 && n->kids[n->nkids - 1].type == N_TEXT) {
		t = &n->kids[n->nkids - 1];
		t->str = xrealloc(t->str, t->len + len + 1);
		memcpy(t->str + t->len, s, len);
		t->len += len;
		t->str[t->len] = '\0';
		free(s);
		return;
	}
	t = kid_add(n, N_TEXT);
	s[len] = '\0';
	t->str = s;
	t->len = len;
}

/*
 * Whether only blanks lie between the start of the line and the tag at
 * ts, with no other tag before it on that line.  Sets *ls to the start
 * of the line.
 */
static int
left_clear(const struct parser *p, size_t ts, size_t *ls)
{
	size_t	 i = ts;

	while (i > p->text && is_blank(p->src[i - 1]))
		i--;
	if (i > 0 && p->src[i - 1] != '\n')
		return 0;
	*ls = i;
	return 1;
}

/*
 * Whether only blanks follow te up to the end of the line or of the
 * source.  Sets *after past the line end.
 */
static int
right_clear(const struct parser *p, size_t te, size_t *after)
{
	size_t	 i = te;

	while (i < p->len && is_blank(p->src[i]))
		i++;
	if (i == p->len) {
		*after = i;
		return 1;
	}
	if (p->src[i] == '\n') {
		*after = i + 1;
		return 1;
	}
	if (p->src[i] == '\r' && i + 1 < p->len && p->src[i + 1] == '\n') {
		*after = i + 2;
		return 1;
	}
	return 0;
}

/* The run of blanks at from, dedented, as *ws and *wslen. */
static void
blanks_at(const struct parser *p, size_t from, size_t *ws, size_t *wslen)
{
	size_t	 end = from;

	while (end < p->len && is_blank(p->src[end]))
		end++;
	dedent(p, &from, end);
	*ws = from;
	*wslen = end - from;
}

/* Splits a dotted name; "." is the implicit iterator (no segments). */
static int
set_name(struct parser *p, struct node *n, const char *s, size_t len,
    int dotted, size_t at)
{
	size_t	 i;

	if (len == 0) {
		perr(p, at, "empty tag");
		return -1;
	}
	for (i = 0; i < len; i++)
		if (is_space(s[i]) || s[i] == '\0') {
			perr(p, at, "space in tag name \"%.*s\"", (int)len, s);
			return -1;
		}
	n->str = xstrndup(s, len);
	n->len = len;
	if (!dotted || (len == 1 && s[0] == '.'))
		return 0;
	if (s[0] == '.' || s[len - 1] == '.' || strstr(n->str, "..") != NULL) {
		perr(p, at, "bad name \"%.*s\"", (int)len, s);
		return -1;
	}
	n->segs = xstrndup(s, len);
	n->nsegs = 1;
	for (i = 0; i < len; i++)
		if (n->segs[i] == '.') {
			n->segs[i] = '\0';
			n->nsegs++;
		}
	return 0;
}

/* Partial and parent names: "*x.y" is dynamic, anything else literal. */
static int
set_target(struct parser *p, struct node *n, const char *s, size_t len,
    size_t at)
{
	if (len > 0 && s[0] == '*') {
		s++;
		len--;
		while (len > 0 && is_space(*s)) {
			s++;
			len--;
		}
		n->dynamic = 1;
		return set_name(p, n, s, len, 1, at);
	}
	return set_name(p, n, s, len, 0, at);
}

static void
set_ind(const struct parser *p, struct node *n, enum ind_mode mode,
    size_t ws, size_t wslen)
{
	n->mode = mode;
	if (mode != IND_NONE && wslen > 0) {
		n->ind = xstrndup(p->src + ws, wslen);
		n->indlen = wslen;
	}
}

static int
push(struct parser *p, struct node *n, const char *name, size_t namelen,
    size_t at)
{
	struct open	*o;

	if (p->depth >= LIM_TMPL_DEPTH) {
		perr(p, at, "sections nested deeper than %d", LIM_TMPL_DEPTH);
		return -1;
	}
	o = &p->stack[++p->depth];
	memset(o, 0, sizeof(*o));
	o->n = n;
	o->name = name;
	o->namelen = namelen;
	o->at = at;
	o->ded = p->ded;
	o->dedlen = p->dedlen;
	return 0;
}

static int
set_delims(struct parser *p, const char *s, size_t len, size_t at)
{
	size_t	 a = 0, alen, b, blen;

	while (a < len && !is_space(s[a]))
		a++;
	alen = a;
	b = a;
	while (b < len && is_space(s[b]))
		b++;
	blen = len - b;
	if (alen == 0 || blen == 0 || b == a || alen >= LIM_TMPL_DELIM ||
	    blen >= LIM_TMPL_DELIM || memchr(s + b, ' ', blen) != NULL ||
	    memchr(s + b, '\t', blen) != NULL || memchr(s, '=', len) != NULL) {
		perr(p, at, "bad delimiters \"%.*s\"", (int)len, s);
		return -1;
	}
	memcpy(p->otag, s, alen);
	p->olen = alen;
	memcpy(p->ctag, s + b, blen);
	p->clen = blen;
	return 0;
}

/*
 * Handles the closing tag at ts..te named s (len bytes).  Returns where
 * scanning resumes, or (size_t)-1 on error.
 */
static size_t
close_tag(struct parser *p, const char *s, size_t len, size_t ts, size_t te)
{
	struct open	*o = &p->stack[p->depth];
	struct node	*n = o->n, *enc;
	size_t		 ls, after, resume = te;

	if (p->depth == 0) {
		perr(p, ts, "closing tag \"%.*s\" without an opening one",
		    (int)len, s);
		return (size_t)-1;
	}
	if (len != o->namelen || memcmp(s, o->name, len) != 0) {
		perr(p, ts, "\"%.*s\" closed by \"%.*s\"", (int)o->namelen,
		    o->name, (int)len, s);
		return (size_t)-1;
	}
	if (n->type == N_PARENT) {
		/* A parent pair alone on its line(s) is standalone. */
		if (o->lclear && right_clear(p, te, &after)) {
			enc = p->stack[p->depth - 1].n;
			if (enc->nkids >= 2 && o->wslen > 0 &&
			    enc->kids[enc->nkids - 2].type == N_TEXT &&
			    enc->kids[enc->nkids - 2].len >= o->wslen) {
				enc->kids[enc->nkids - 2].len -= o->wslen;
				enc->kids[enc->nkids - 2].str[
				    enc->kids[enc->nkids - 2].len] = '\0';
			}
			set_ind(p, n, IND_LINE, o->ws, o->wslen);
			resume = after;
		}
	} else if (o->arg) {
		/* Its right side lies in the ignored text of the parent. */
		if (left_clear(p, ts, &ls))
			add_text(p, p->text, ls);
		else
			add_text(p, p->text, ts);
		p->ded = o->ded;
		p->dedlen = o->dedlen;
	} else {
		if (left_clear(p, ts, &ls) && right_clear(p, te, &after)) {
			add_text(p, p->text, ls);
			resume = after;
		} else
			add_text(p, p->text, ts);
		if (n->type == N_BLOCK) {
			if (o->alone && n->nkids > 0)
				set_ind(p, n, IND_LINE, o->in, o->inlen);
			else if (o->alone)
				set_ind(p, n, IND_LINE, o->ws, o->wslen);
			else if (o->lclear && right_clear(p, te, &after))
				set_ind(p, n, IND_TAIL, o->ws, o->wslen);
		}
	}
	p->depth--;
	return resume;
}

/*
 * Handles the tag that starts at ts.  Returns where scanning resumes,
 * or (size_t)-1 on error.
 */
static size_t
tag(struct parser *p, size_t ts)
{
	const char	*src = p->src, *s, *e;
	char		 close[LIM_TMPL_DELIM + 1], sigil;
	size_t		 cs, clen, ce, te, ls = 0, after = 0;
	struct node	*n;
	struct open	*o;
	int		 alone;

	cs = ts + p->olen;
	sigil = cs < p->len ? src[cs] : '\0';
	clen = 0;
	if (sigil == '{' || sigil == '=')
		close[clen++] = sigil == '{' ? '}' : '=';
	memcpy(close + clen, p->ctag, p->clen);
	clen += p->clen;
	if (sigil != '\0' && strchr("{&#^/!><$=", sigil) != NULL)
		cs++;
	else
		sigil = '\0';
	e = find(src + cs, p->len - cs, close, clen);
	if (e == NULL) {
		perr(p, ts, "unclosed tag");
		return (size_t)-1;
	}
	ce = (size_t)(e - src);
	te = ce + clen;
	s = src + cs;
	if (sigil == '!')
		goto standalone;
	while (s < e && is_space(*s))
		s++;
	while (e > s && is_space(e[-1]))
		e--;

	switch (sigil) {
	case '\0':
	case '{':
	case '&':
		add_text(p, p->text, ts);
		n = kid_add(top(p), sigil == '\0' ? N_VAR : N_RAW);
		if (set_name(p, n, s, (size_t)(e - s), 1, ts) == -1)
			return (size_t)-1;
		return te;
	case '/':
		return close_tag(p, s, (size_t)(e - s), ts, te);
	case '<':
		add_text(p, p->text, ts);
		n = kid_add(top(p), N_PARENT);
		if (set_target(p, n, s, (size_t)(e - s), ts) == -1 ||
		    push(p, n, s, (size_t)(e - s), ts) == -1)
			return (size_t)-1;
		o = &p->stack[p->depth];
		if ((o->lclear = left_clear(p, ts, &ls)) != 0) {
			dedent(p, &ls, ts);
			o->ws = ls;
			o->wslen = ts - ls;
		}
		return te;
	case '$':
		if (top(p)->type == N_PARENT) {
			n = kid_add(top(p), N_BLOCK);
			if (set_name(p, n, s, (size_t)(e - s), 0, ts) == -1 ||
			    push(p, n, s, (size_t)(e - s), ts) == -1)
				return (size_t)-1;
			p->stack[p->depth].arg = 1;
			if (!right_clear(p, te, &after))
				return te;
			/*
			 * The blanks starting its first line are its intrinsic
			 * indentation (they include any outer dedent).
			 */
			for (ce = after; ce < p->len && is_blank(src[ce]); ce++)
				;
			if (ce - after >= p->dedlen) {
				p->ded = after;
				p->dedlen = ce - after;
			}
			return after;
		}
		break;
	default:
		break;
	}

standalone:
	alone = left_clear(p, ts, &ls) && right_clear(p, te, &after);
	add_text(p, p->text, alone ? ls : ts);
	switch (sigil) {
	case '!':
		break;
	case '=':
		if (set_delims(p, s, (size_t)(e - s), ts) == -1)
			return (size_t)-1;
		break;
	case '#':
	case '^':
	case '$':
		n = kid_add(top(p), sigil == '#' ? N_SECTION :
		    sigil == '^' ? N_INVERTED : N_BLOCK);
		n->standalone = alone;
		if (set_name(p, n, s, (size_t)(e - s), sigil != '$', ts) == -1)
			return (size_t)-1;
		if (push(p, n, s, (size_t)(e - s), ts) == -1)
			return (size_t)-1;
		if (sigil != '$')
			break;
		o = &p->stack[p->depth];
		o->alone = alone;
		if (alone || left_clear(p, ts, &ls)) {
			o->lclear = 1;
			dedent(p, &ls, ts);
			o->ws = ls;
			o->wslen = ts - ls;
		}
		if (alone)
			blanks_at(p, after, &o->in, &o->inlen);
		break;
	case '>':
		n = kid_add(top(p), N_PARTIAL);
		n->standalone = alone;
		if (set_target(p, n, s, (size_t)(e - s), ts) == -1)
			return (size_t)-1;
		if (alone) {
			dedent(p, &ls, ts);
			set_ind(p, n, IND_LINE, ls, ts - ls);
		}
		break;
	}
	return alone ? after : te;
}

struct tmpl *
tmpl_parse(const char *src, size_t len, char *err, size_t errsz)
{
	struct parser	 p;
	struct tmpl	*t;
	const char	*hit;
	size_t		 next;

	if (err != NULL && errsz > 0)
		err[0] = '\0';
	t = xcalloc(1, sizeof(*t));
	memset(&p, 0, sizeof(p));
	p.src = src;
	p.len = len;
	p.err = err;
	p.errsz = errsz;
	memcpy(p.otag, "{{", 2);
	memcpy(p.ctag, "}}", 2);
	p.olen = p.clen = 2;
	p.stack[0].n = &t->root;

	while (p.pos < len) {
		hit = find(src + p.pos, len - p.pos, p.otag, p.olen);
		if (hit == NULL)
			break;
		next = tag(&p, (size_t)(hit - src));
		if (next == (size_t)-1)
			goto fail;
		p.pos = p.text = next;
	}
	if (p.depth > 0) {
		perr(&p, p.stack[p.depth].at, "\"%.*s\" is never closed",
		    (int)p.stack[p.depth].namelen, p.stack[p.depth].name);
		goto fail;
	}
	add_text(&p, p.text, len);
	return t;

fail:
	tmpl_free(t);
	return NULL;
}

void
tmpl_free(struct tmpl *t)
{
	if (t == NULL)
		return;
	node_free(&t->root);
	free(t);
}

/* Rendering. */

/* Appends n bytes, keeping the whole rendering within LIM_RENDER. */
static int
put(struct rstate *st, const char *s, size_t n)
{
	if (n > LIM_RENDER || st->out->len - st->start > LIM_RENDER - n ||
	    buf_add(st->out, s, n) == -1) {
		st->fail = TMPL_FAIL_SIZE;
		return -1;
	}
	return 0;
}

/* Writes the indentation owed at a line start. */
static int
flush(struct rstate *st)
{
	if (!st->pending)
		return 0;
	st->pending = 0;
	if (st->ind == NULL || st->indoff >= st->indlen)
		return 0;
	return put(st, st->ind + st->indoff, st->indlen - st->indoff);
}

/* Template text: indented after each of its own newlines. */
static int
put_text(struct rstate *st, const char *s, size_t n)
{
	const char	*nl;
	size_t		 k;

	if (st->indlen == st->indoff) {
		if (n > 0)
			st->pending = s[n - 1] == '\n';
		return put(st, s, n);
	}
	while (n > 0) {
		nl = memchr(s, '\n', n);
		k = nl != NULL ? (size_t)(nl - s) + 1 : n;
		if (flush(st) == -1 || put(st, s, k) == -1)
			return -1;
		st->pending = nl != NULL;
		s += k;
		n -= k;
	}
	return 0;
}

static int
put_html(struct rstate *st, const char *s, size_t n)
{
	const char	*ent;
	size_t		 i, run = 0;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		if (put(st, s + run, i - run) == -1 ||
		    put(st, ent, strlen(ent)) == -1)
			return -1;
		run = i + 1;
	}
	return put(st, s + run, n - run);
}

/* Length of the well-formed UTF-8 sequence at s, or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n <= need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i <= need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return need + 1;
}

/* Escapes for the inside of a JSON string; bad UTF-8 becomes U+FFFD. */
static int
put_json(struct rstate *st, const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	char			 esc[8];
	const char		*rep;
	size_t			 i = 0, run = 0, k;

	while (i < n) {
		rep = NULL;
		k = 1;
		if (u[i] == '"')
			rep = "\\\"";
		else if (u[i] == '\\')
			rep = "\\\\";
		else if (u[i] == '\n')
			rep = "\\n";
		else if (u[i] == '\r')
			rep = "\\r";
		else if (u[i] == '\t')
			rep = "\\t";
		else if (u[i] < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
			rep = esc;
		} else if (u[i] >= 0x80 && (k = utf8_seq(u + i, n - i)) == 0) {
			rep = "\\ufffd";
			k = 1;
		}
		if (rep != NULL) {
			if (put(st, s + run, i - run) == -1 ||
			    put(st, rep, strlen(rep)) == -1)
				return -1;
			run = i + k;
		}
		i += k;
	}
	return put(st, s + run, n - run);
}

/*
 * One header line: C0 controls, DEL, C1 controls (U+0080-U+009F) and
 * U+2028/U+2029 each become a space, so no value ends the line.
 */
static int
put_header(struct rstate *st, const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, run = 0, k;

	while (i < n) {
		k = 0;
		if (u[i] < 0x20 || u[i] == 0x7f)
			k = 1;
		else if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 &&
		    u[i + 1] <= 0x9f)
			k = 2;
		else if (u[i] == 0xe2 && i + 2 < n && u[i + 1] == 0x80 &&
		    (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
			k = 3;
		if (k == 0) {
			i++;
			continue;
		}
		if (put(st, s + run, i - run) == -1 || put(st, " ", 1) == -1)
			return -1;
		i += k;
		run = i;
	}
	return put(st, s + run, n - run);
}

static int
put_escaped(struct rstate *st, const char *s, size_t n, int raw)
{
	switch (st->esc) {
	case TMPL_ESC_HTML:
		return raw ? put(st, s, n) : put_html(st, s, n);
	case TMPL_ESC_JSON:
		return put_json(st, s, n);
	case TMPL_ESC_HEADER:
		return put_header(st, s, n);
	default:
		return put(st, s, n);
	}
}

/* Shortest "%g" that reads back as d; ".0" marks integral values. */
static void
fmt_double(double d, char *s, size_t sz)
{
	int	 prec;

	if (isnan(d)) {
		snprintf(s, sz, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(s, sz, "%s", d < 0 ? "-Infinity" : "Infinity");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(s, sz, "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	if (strpbrk(s, ".e") == NULL && strlen(s) + 2 < sz)
		memcpy(s + strlen(s), ".0", 3);
}

static int
put_value(struct rstate *st, json_object *v, int raw)
{
	char		 num[40];
	const char	*s;
	int64_t		 i;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return 0;
	case json_type_boolean:
		if (!json_object_get_boolean(v))
			return 0;
		return put(st, "true", 4);
	case json_type_int:
		i = json_object_get_int64(v);
		if (i == INT64_MAX)
			snprintf(num, sizeof(num), "%" PRIu64,
			    json_object_get_uint64(v));
		else
			snprintf(num, sizeof(num), "%" PRId64, i);
		return put(st, num, strlen(num));
	case json_type_double:
		fmt_double(json_object_get_double(v), num, sizeof(num));
		return put(st, num, strlen(num));
	case json_type_string:
		return put_escaped(st, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v), raw);
	default:
		/* Objects and arrays: compact JSON, escaped like a string. */
		s = json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		return put_escaped(st, s, strlen(s), raw);
	}
}

/* The member key of v: an object key, or a decimal index of an array. */
static int
member(json_object *v, const char *key, json_object **out)
{
	const char	*p;
	size_t		 idx = 0;

	if (json_object_is_type(v, json_type_object))
		return json_object_object_get_ex(v, key, out);
	if (!json_object_is_type(v, json_type_array) || *key == '\0')
		return 0;
	for (p = key; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || idx > SIZE_MAX / 10 - 1)
			return 0;
		idx = idx * 10 + (size_t)(*p - '0');
	}
	if (idx >= json_object_array_length(v))
		return 0;
	*out = json_object_array_get_idx(v, idx);
	return 1;
}

/*
 * Resolves a name: its first segment against the context stack, the
 * innermost frame that has it winning; later segments only within
 * what the previous one found.  NULL for a miss or a JSON null.
 */
static json_object *
lookup(const struct rstate *st, const struct node *n)
{
	json_object	*v = NULL;
	const char	*seg;
	size_t		 i, k;

	if (n->segs == NULL)
		return st->nctx > 0 ? st->ctx[st->nctx - 1] : NULL;
	seg = n->segs;
	for (i = st->nctx; i > 0; i--)
		if (member(st->ctx[i - 1], seg, &v))
			break;
	if (i == 0)
		return NULL;
	for (k = 1; k < n->nsegs; k++) {
		seg += strlen(seg) + 1;
		if (!member(v, seg, &v))
			return NULL;
	}
	return v;
}

/* Whether a section over v renders, per the spec's "!!data". */
static int
truthy(json_object *v)
{
	double	 d;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return 0;
	case json_type_boolean:
		return json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) != 0;
	case json_type_double:
		d = json_object_get_double(v);
		return d != 0 && !isnan(d);
	case json_type_string:
		return json_object_get_string_len(v) > 0;
	case json_type_array:
		return json_object_array_length(v) > 0;
	default:
		return 1;
	}
}

/* Counts one step of work; 0 once the rendering has had its share. */
static int
step(struct rstate *st)
{
	if (++st->work <= LIM_TMPL_WORK)
		return 1;
	st->fail = TMPL_FAIL_WORK;
	return 0;
}

static int
section(struct rstate *st, const struct node *n, const struct frame *fr)
{
	json_object	*v = lookup(st, n);
	size_t		 i, len;
	int		 rc = 0;

	if (!truthy(v))
		return 0;
	if (++st->depth > LIM_TMPL_DEPTH) {
		st->fail = TMPL_FAIL_DEPTH;
		return -1;
	}
	if (json_object_is_type(v, json_type_array)) {
		len = json_object_array_length(v);
		for (i = 0; i < len && rc == 0; i++) {
			/* An empty body's turns cost too. */
			if (!step(st)) {
				rc = -1;
				break;
			}
			st->ctx[st->nctx++] = json_object_array_get_idx(v, i);
			rc = render_list(st, n->kids, n->nkids, fr);
			st->nctx--;
		}
	} else {
		st->ctx[st->nctx++] = v;
		rc = render_list(st, n->kids, n->nkids, fr);
		st->nctx--;
	}
	st->depth--;
	return rc;
}

/* Switches to the indentation of an expansion; *saved restores it. */
static void
scope_enter(struct rstate *st, const struct node *n, size_t saved[2])
{
	saved[0] = st->indoff;
	saved[1] = st->indlen;
	if (n->mode == IND_NONE) {
		st->indoff = st->indlen;
		return;
	}
	if (st->indlen + n->indlen > st->indcap) {
		st->indcap = (st->indlen + n->indlen) * 2;
		st->ind = xrealloc(st->ind, st->indcap);
	}
	if (n->indlen > 0)
		memcpy(st->ind + st->indlen, n->ind, n->indlen);
	st->indlen += n->indlen;
	if (n->mode == IND_LINE)
		st->pending = 1;
}

static void
scope_leave(struct rstate *st, const struct node *n, const size_t saved[2])
{
	st->indoff = saved[0];
	st->indlen = saved[1];
	/* After an expansion its line goes on, or a new one starts. */
	if (n->mode == IND_NONE)
		st->pending = 0;
	else if (n->mode == IND_LINE)
		st->pending = 1;
}

/* Renders t (a partial or parent) in place of n. */
static int
expand(struct rstate *st, const struct node *n, const struct frame *fr)
{
	const struct tmpl	*t = NULL;
	json_object		*v;
	size_t			 saved[2];
	int			 rc;

	if (!n->dynamic)
		t = st->partial != NULL ? st->partial(st->arg, n->str) : NULL;
	else if ((v = lookup(st, n)) != NULL &&
	    json_object_is_type(v, json_type_string) && st->partial != NULL)
		t = st->partial(st->arg, json_object_get_string(v));
	if (t == NULL)
		return 0;
	if (++st->depth > LIM_TMPL_DEPTH) {
		st->fail = TMPL_FAIL_DEPTH;
		return -1;
	}
	if (n->mode == IND_NONE && flush(st) == -1)
		return -1;
	scope_enter(st, n, saved);
	rc = render_list(st, t->root.kids, t->root.nkids, fr);
	scope_leave(st, n, saved);
	st->depth--;
	return rc;
}

/* Renders block n: the outermost argument passed for it, else its default. */
static int
block(struct rstate *st, const struct node *n, const struct frame *fr)
{
	const struct node	*arg = NULL, *k;
	const struct frame	*f, *where = NULL;
	size_t			 i, saved[2];
	int			 rc;

	for (f = fr; f != NULL; f = f->outer)
		for (i = 0; i < f->parent->nkids; i++) {
			k = &f->parent->kids[i];
			if (k->type == N_BLOCK && k->len == n->len &&
			    memcmp(k->str, n->str, n->len) == 0) {
				arg = k;
				where = f;
				break;
			}
		}
	if (arg == NULL)
		return render_list(st, n->kids, n->nkids, fr);
	if (++st->depth > LIM_TMPL_DEPTH) {
		st->fail = TMPL_FAIL_DEPTH;
		return -1;
	}
	if (n->mode != IND_LINE && flush(st) == -1)
		return -1;
	scope_enter(st, n, saved);
	rc = render_list(st, arg->kids, arg->nkids, where->outer);
	scope_leave(st, n, saved);
	st->depth--;
	return rc;
}

static int
render_list(struct rstate *st, const struct node *kids, size_t nkids,
    const struct frame *fr)
{
	const struct node	*n;
	struct frame		 inner;
	size_t			 i;

	for (i = 0; i < nkids; i++) {
		n = &kids[i];
		if (!step(st))
			return -1;
		switch (n->type) {
		case N_TEXT:
			if (put_text(st, n->str, n->len) == -1)
				return -1;
			break;
		case N_VAR:
		case N_RAW:
			if (flush(st) == -1 || put_value(st, lookup(st, n),
			    n->type == N_RAW) == -1)
				return -1;
			break;
		case N_SECTION:
			if ((!n->standalone && flush(st) == -1) ||
			    section(st, n, fr) == -1)
				return -1;
			break;
		case N_INVERTED:
			if (!n->standalone && flush(st) == -1)
				return -1;
			if (!truthy(lookup(st, n)) &&
			    render_list(st, n->kids, n->nkids, fr) == -1)
				return -1;
			break;
		case N_PARTIAL:
			if (expand(st, n, fr) == -1)
				return -1;
			break;
		case N_PARENT:
			inner.parent = n;
			inner.outer = fr;
			if (expand(st, n, &inner) == -1)
				return -1;
			break;
		case N_BLOCK:
			if (block(st, n, fr) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

int
tmpl_render(const struct tmpl *t, json_object *ctx, enum tmpl_esc esc,
    tmpl_partial_fn partial, void *arg, struct buf *out)
{
	return tmpl_render_why(t, ctx, esc, partial, arg, out, NULL);
}

char *
tmpl_fail_say(enum tmpl_fail f, char *s, size_t sz)
{
	switch (f) {
	case TMPL_FAIL_SIZE:
		snprintf(s, sz, "larger than %d bytes", LIM_RENDER);
		break;
	case TMPL_FAIL_DEPTH:
		snprintf(s, sz, "sections and partials nested deeper than %d",
		    LIM_TMPL_DEPTH);
		break;
	case TMPL_FAIL_WORK:
		snprintf(s, sz, "more than %d steps of work (sections nested "
		    "over long lists)", LIM_TMPL_WORK);
		break;
	default:
		snprintf(s, sz, "failed");
		break;
	}
	return s;
}

int
tmpl_render_why(const struct tmpl *t, json_object *ctx, enum tmpl_esc esc,
    tmpl_partial_fn partial, void *arg, struct buf *out, enum tmpl_fail *why)
{
	struct rstate	 st;
	int		 rc = -1;

	if (why != NULL)
		*why = TMPL_FAIL_SIZE;
	if (t == NULL || out == NULL || (unsigned int)esc >= TMPL_ESC__MAX)
		return -1;
	memset(&st, 0, sizeof(st));
	st.esc = esc;
	st.partial = partial;
	st.arg = arg;
	st.out = out;
	st.start = out->len;
	st.ctx[st.nctx++] = ctx;
	st.pending = 1;
	if (render_list(&st, t->root.kids, t->root.nkids, NULL) == -1)
		goto out;
	rc = 0;
out:
	if (why != NULL)
		*why = rc == 0 ? TMPL_FAIL_NONE : st.fail;
	free(st.ind);
	return rc;
}
