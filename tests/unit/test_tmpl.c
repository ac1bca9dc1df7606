/*
 * Unit tests for tmpl.c: the escape modes, the caps and parse errors.
 * The Mustache language itself is covered by the spec runner.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/tmpl.h"
#include "lib/util.h"

/* A partial table: one name, one template. */
struct one_partial {
	const char		*name;	/* borrowed */
	const struct tmpl	*t;	/* borrowed */
};

static const struct tmpl *
get_partial(void *arg, const char *name)
{
	const struct one_partial	*p = arg;

	return strcmp(p->name, name) == 0 ? p->t : NULL;
}

/*
 * Renders src against the JSON text data; returns the output (caller
 * frees) or NULL when parsing or rendering failed.
 */
static char *
render(const char *src, const char *data, enum tmpl_esc esc)
{
	struct tmpl	*t;
	json_object	*ctx = NULL;
	struct buf	 out;
	char		 err[128], *s = NULL;

	buf_init(&out, LIM_RENDER);
	t = tmpl_parse(src, strlen(src), err, sizeof(err));
	if (t == NULL)
		goto out;
	if (data != NULL)
		assert_non_null(ctx = json_tokener_parse(data));
	if (tmpl_render(t, ctx, esc, NULL, NULL, &out) == 0)
		s = buf_take(&out);
out:
	buf_free(&out);
	json_object_put(ctx);
	tmpl_free(t);
	return s;
}

static void
check(const char *src, const char *data, enum tmpl_esc esc, const char *want)
{
	char	*got = render(src, data, esc);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* Renders src with ctx["x"] = the n bytes of val. */
static char *
render_bytes(const char *src, const char *val, size_t n, enum tmpl_esc esc)
{
	struct tmpl	*t;
	json_object	*ctx;
	struct buf	 out;
	char		*s = NULL;

	buf_init(&out, LIM_RENDER);
	ctx = json_object_new_object();
	json_object_object_add(ctx, "x", json_object_new_string_len(val,
	    (int)n));
	t = tmpl_parse(src, strlen(src), NULL, 0);
	assert_non_null(t);
	if (tmpl_render(t, ctx, esc, NULL, NULL, &out) == 0)
		s = buf_take(&out);
	buf_free(&out);
	json_object_put(ctx);
	tmpl_free(t);
	return s;
}

static void
test_html(void **state)
{
	check("{{x}}|{{{x}}}|{{&x}}", "{\"x\":\"<a href=\\\"u\\\">&'\"}",
	    TMPL_ESC_HTML,
	    "&lt;a href=&quot;u&quot;&gt;&amp;&#39;|<a href=\"u\">&'|"
	    "<a href=\"u\">&'");
	/* Template text is never escaped. */
	check("<b>{{x}}</b>", "{\"x\":\"a&b\"}", TMPL_ESC_HTML,
	    "<b>a&amp;b</b>");
}

static void
test_none(void **state)
{
	check("{{x}}|{{{x}}}", "{\"x\":\"<&>\\\"'\\n\"}", TMPL_ESC_NONE,
	    "<&>\"'\n|<&>\"'\n");
}

static void
test_json(void **state)
{
	static const char	 val[] = "q\"b\\n\nt\tc\001u\xc3\xa9x\xff";
	const char		*src = "{\"a\":\"{{x}}\",\"b\":\"{{{x}}}\","
	    "\"c\":\"{{&x}}\"}";
	json_object		*doc, *v;
	char			*got;
	const char		*keys[] = { "a", "b", "c" };
	size_t			 i;

	got = render_bytes(src, val, sizeof(val) - 1, TMPL_ESC_JSON);
	assert_non_null(got);
	assert_string_equal(got,
	    "{\"a\":\"q\\\"b\\\\n\\nt\\tc\\u0001u\xc3\xa9x\\ufffd\","
	    "\"b\":\"q\\\"b\\\\n\\nt\\tc\\u0001u\xc3\xa9x\\ufffd\","
	    "\"c\":\"q\\\"b\\\\n\\nt\\tc\\u0001u\xc3\xa9x\\ufffd\"}");
	/* Every form, triple mustache included, stays a valid string. */
	doc = json_tokener_parse(got);
	assert_non_null(doc);
	for (i = 0; i < 3; i++) {
		assert_true(json_object_object_get_ex(doc, keys[i], &v));
		assert_string_equal(json_object_get_string(v),
		    "q\"b\\n\nt\tc\001u\xc3\xa9x\xef\xbf\xbd");
	}
	json_object_put(doc);
	free(got);

	/* Non-string values too. */
	check("\"{{n}} {{d}} {{o}}\"",
	    "{\"n\":5,\"d\":1.5,\"o\":{\"k\":\"v\"}}", TMPL_ESC_JSON,
	    "\"5 1.5 {\\\"k\\\":\\\"v\\\"}\"");
}

static void
test_header(void **state)
{
	static const char	 val[] = "a\r\nBcc: evil@example.org\nc\x7f"
	    "\xc2\x85" "d\xe2\x80\xa8" "e\tf\x00g";
	char			*got;

	got = render_bytes("Subject: {{x}}|{{{x}}}|{{&x}}", val,
	    sizeof(val) - 1, TMPL_ESC_HEADER);
	assert_non_null(got);
	assert_null(strchr(got, '\r'));
	assert_null(strchr(got, '\n'));
	assert_string_equal(got,
	    "Subject: a  Bcc: evil@example.org c  d e f g|"
	    "a  Bcc: evil@example.org c  d e f g|"
	    "a  Bcc: evil@example.org c  d e f g");
	free(got);

	/* No HTML escaping in a header; template newlines stay. */
	check("To: {{x}}\n", "{\"x\":\"<a@b>\"}", TMPL_ESC_HEADER,
	    "To: <a@b>\n");
	/* Values from a list and objects are neutralised as well. */
	check("{{#l}}{{{.}}}{{/l}}", "{\"l\":[\"a\\r\\n\",\"b\\n\"]}",
	    TMPL_ESC_HEADER, "a  b ");
}

static void
test_values(void **state)
{
	struct tmpl	*t;
	json_object	*ctx;
	struct buf	 out;

	check("{{i}} {{n}} {{d}} {{e}} {{t}}|{{f}}|{{z}}|{{miss}}",
	    "{\"i\":85,\"n\":-3,\"d\":1.21,\"e\":1e21,\"t\":true,\"f\":false,"
	    "\"z\":null}", TMPL_ESC_HTML, "85 -3 1.21 1e+21 true|||");
	check("{{a.1.b}} {{a.0}} {{a.9}}", "{\"a\":[\"x\",{\"b\":\"y\"}]}",
	    TMPL_ESC_HTML, "y x ");
	check("{{#s}}s{{/s}}{{#z}}z{{/z}}{{#e}}e{{/e}}{{^e}}!e{{/e}}",
	    "{\"s\":\"x\",\"z\":0,\"e\":\"\"}", TMPL_ESC_HTML, "s!e");

	/* Integral doubles keep their ".0", as json-c prints them. */
	buf_init(&out, 64);
	ctx = json_object_new_object();
	json_object_object_add(ctx, "d", json_object_new_double(2.0));
	json_object_object_add(ctx, "p", json_object_new_double(0.1));
	assert_non_null(t = tmpl_parse("{{d}} {{p}}", 11, NULL, 0));
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, NULL, NULL,
	    &out), 0);
	assert_string_equal(out.ptr, "2.0 0.1");
	/* A second render appends to what the buffer holds. */
	assert_int_equal(tmpl_render(t, NULL, TMPL_ESC_NONE, NULL, NULL,
	    &out), 0);
	assert_string_equal(out.ptr, "2.0 0.1 ");
	tmpl_free(t);
	json_object_put(ctx);
	buf_free(&out);
}

static void
test_partials(void **state)
{
	static const char	 item[] = "- {{.}}\n";
	static const char	 src[] = "list:\n{{#l}}\n  {{>item}}\n{{/l}}"
	    "{{#l}}{{>*which}}{{/l}}{{>missing}}{{>*missing}}";
	struct one_partial	 p;
	struct tmpl		*t;
	json_object		*ctx;
	struct buf		 out;

	p.name = "item";
	assert_non_null(p.t = tmpl_parse(item, strlen(item), NULL, 0));
	assert_non_null(t = tmpl_parse(src, strlen(src), NULL, 0));
	ctx = json_tokener_parse("{\"l\":[\"<a>\",\"b\"],"
	    "\"which\":\"item\"}");
	buf_init(&out, 1024);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, get_partial, &p,
	    &out), 0);
	assert_string_equal(out.ptr,
	    "list:\n  - &lt;a&gt;\n  - b\n- &lt;a&gt;\n- b\n");
	/* No callback: every partial is missing. */
	buf_reset(&out);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, NULL, NULL,
	    &out), 0);
	assert_string_equal(out.ptr, "list:\n");
	buf_free(&out);
	json_object_put(ctx);
	tmpl_free(t);
	tmpl_free((struct tmpl *)(uintptr_t)p.t);
}

static void
test_output_cap(void **state)
{
	struct tmpl	*t;
	json_object	*ctx, *big;
	struct buf	 out;
	char		*s;
	size_t		 i;

	/* The caller's buffer cap. */
	assert_non_null(t = tmpl_parse("{{x}}{{x}}", 10, NULL, 0));
	ctx = json_tokener_parse("{\"x\":\"0123456789\"}");
	buf_init(&out, 16);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, NULL, NULL,
	    &out), -1);
	buf_free(&out);
	/* Escaping that grows the value past the cap fails as well. */
	json_object_object_add(ctx, "x", json_object_new_string("<<<<"));
	buf_init(&out, 16);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, NULL, NULL,
	    &out), -1);
	buf_free(&out);
	json_object_put(ctx);
	tmpl_free(t);

	/* LIM_RENDER, whatever the buffer allows: 1 KiB items past it. */
	s = xmalloc(1024 + 1);
	memset(s, 'a', 1024);
	s[1024] = '\0';
	big = json_object_new_array();
	for (i = 0; i < LIM_RENDER / 1024 + 1; i++)
		json_object_array_add(big, json_object_new_string(s));
	free(s);
	ctx = json_object_new_object();
	json_object_object_add(ctx, "l", big);
	assert_non_null(t = tmpl_parse("{{#l}}{{.}}{{/l}}", 17, NULL, 0));
	buf_init(&out, 4 * LIM_RENDER);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, NULL, NULL,
	    &out), -1);
	assert_true(out.len <= LIM_RENDER);
	buf_free(&out);
	/* Exactly at the cap is fine: one item fewer. */
	json_object_array_del_idx(big, 0, 1);
	buf_init(&out, 4 * LIM_RENDER);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, NULL, NULL,
	    &out), 0);
	assert_int_equal(out.len, LIM_RENDER);
	buf_free(&out);
	json_object_put(ctx);
	tmpl_free(t);
}

/* n nested sections over "a", as source. */
static char *
nested(int n)
{
	struct buf	 b;
	int		 i;

	buf_init(&b, 4096);
	for (i = 0; i < n; i++)
		buf_puts(&b, "{{#a}}");
	buf_puts(&b, "x");
	for (i = 0; i < n; i++)
		buf_puts(&b, "{{/a}}");
	return buf_take(&b);
}

static void
test_nesting_cap(void **state)
{
	struct one_partial	 p;
	struct tmpl		*t;
	json_object		*ctx;
	struct buf		 out;
	char			 err[128], *src;

	/* LIM_TMPL_DEPTH nested sections parse and render... */
	src = nested(LIM_TMPL_DEPTH);
	t = tmpl_parse(src, strlen(src), err, sizeof(err));
	free(src);
	assert_non_null(t);
	ctx = json_tokener_parse("{\"a\":true}");
	buf_init(&out, 64);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, NULL, NULL,
	    &out), 0);
	assert_string_equal(out.ptr, "x");
	buf_free(&out);
	tmpl_free(t);
	/* ...one more does not parse. */
	src = nested(LIM_TMPL_DEPTH + 1);
	assert_null(tmpl_parse(src, strlen(src), err, sizeof(err)));
	free(src);
	assert_string_equal(err, "line 1: sections nested deeper than 32");

	/* A partial that includes itself stops at the cap. */
	p.name = "self";
	assert_non_null(t = tmpl_parse("{{#a}}<{{>self}}>{{/a}}", 23, NULL,
	    0));
	p.t = t;
	buf_init(&out, LIM_RENDER);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, get_partial, &p,
	    &out), -1);
	buf_free(&out);
	tmpl_free(t);

	/* So does a parent that passes itself as its own argument. */
	p.name = "loop";
	assert_non_null(t = tmpl_parse("{{<loop}}{{/loop}}", 18, NULL, 0));
	p.t = t;
	buf_init(&out, LIM_RENDER);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, get_partial, &p,
	    &out), -1);
	buf_free(&out);
	tmpl_free(t);
	json_object_put(ctx);
}

/*
 * Rendering counts sections and partials together: a partial holding
 * 31 nested sections (32 deep) renders, one holding 32 (33 deep) fails;
 * 31 sections around a partial render, 32 around one fail.
 */
static void
test_render_depth_cap(void **state)
{
	struct one_partial	 p;
	struct tmpl		*t;
	json_object		*ctx;
	struct buf		 out, src;
	int			 n, i, want[2];

	(void)state;
	ctx = json_tokener_parse("{\"a\":true}");
	for (n = LIM_TMPL_DEPTH - 1; n <= LIM_TMPL_DEPTH; n++) {
		want[0] = want[1] = n < LIM_TMPL_DEPTH ? 0 : -1;
		/* {{>p}} with p n sections deep: the last to open a section. */
		buf_init(&src, 4096);
		for (i = 0; i < n; i++)
			buf_puts(&src, "{{#a}}");
		buf_puts(&src, "x");
		for (i = 0; i < n; i++)
			buf_puts(&src, "{{/a}}");
		p.name = "p";
		assert_non_null(p.t = tmpl_parse(src.ptr, src.len, NULL, 0));
		assert_non_null(t = tmpl_parse("{{>p}}", 6, NULL, 0));
		buf_init(&out, 64);
		assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML,
		    get_partial, &p, &out), want[0]);
		if (want[0] == 0)
			assert_string_equal(out.ptr, "x");
		buf_free(&out);
		tmpl_free(t);
		tmpl_free((struct tmpl *)(uintptr_t)p.t);
		buf_free(&src);
		/* n sections around {{>q}}: the last to open a partial. */
		buf_init(&src, 4096);
		for (i = 0; i < n; i++)
			buf_puts(&src, "{{#a}}");
		buf_puts(&src, "{{>q}}");
		for (i = 0; i < n; i++)
			buf_puts(&src, "{{/a}}");
		p.name = "q";
		assert_non_null(p.t = tmpl_parse("y", 1, NULL, 0));
		assert_non_null(t = tmpl_parse(src.ptr, src.len, NULL, 0));
		buf_init(&out, 64);
		assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML,
		    get_partial, &p, &out), want[1]);
		if (want[1] == 0)
			assert_string_equal(out.ptr, "y");
		buf_free(&out);
		tmpl_free(t);
		tmpl_free((struct tmpl *)(uintptr_t)p.t);
		buf_free(&src);
	}
	json_object_put(ctx);
}

/*
 * "{{{x}}}{{{y}}}" with x of nx 'a's and y of ny 'b's ("{{{x}}}" alone
 * when ny is 0: an empty y's write would meet the sum's bound and hide
 * the single write's): rendered whole (LIM_RENDER at most) when fits,
 * else refused.
 */
static void
render_cap(size_t nx, size_t ny, int fits)
{
	struct tmpl	*t;
	json_object	*ctx;
	struct buf	 out;
	char		*s;

	assert_non_null(t = tmpl_parse("{{{x}}}{{{y}}}", ny > 0 ? 14 : 7,
	    NULL, 0));
	ctx = json_object_new_object();
	s = xmalloc(nx + ny + 1);
	memset(s, 'a', nx);
	s[nx] = '\0';
	json_object_object_add(ctx, "x", json_object_new_string(s));
	memset(s, 'b', ny);
	s[ny] = '\0';
	json_object_object_add(ctx, "y", json_object_new_string(s));
	free(s);
	buf_init(&out, 4 * LIM_RENDER);
	if (tmpl_render(t, ctx, TMPL_ESC_NONE, NULL, NULL, &out) !=
	    (fits ? 0 : -1) || (fits && out.len != nx + ny))
		fail_msg("x %zu + y %zu bytes: rendered %zu, want %s", nx, ny,
		    out.len, fits ? "all" : "a refusal");
	buf_free(&out);
	json_object_put(ctx);
	tmpl_free(t);
}

/*
 * LIM_RENDER: one value of exactly that is the whole rendering and
 * fits, one byte more fails (put's single-write bound); and over the
 * whole rendering, not only per value: two values that make exactly
 * LIM_RENDER bytes render, one byte more fails (the sum).
 */
static void
test_render_cap(void **state)
{
	(void)state;
	render_cap(LIM_RENDER, 0, 1);
	render_cap(LIM_RENDER + 1, 0, 0);
	render_cap(LIM_RENDER - 1, 1, 1);
	render_cap(LIM_RENDER - 1, 2, 0);
}

/*
 * LIM_TMPL_DELIM: delimiters of LIM_TMPL_DELIM - 1 bytes are taken, and
 * a triple tag closes with "}" and the longest; LIM_TMPL_DELIM bytes
 * (open or close) is a parse error.
 */
static void
test_delim_cap(void **state)
{
	/* In src, O stands for the open delimiter and C for the close. */
	static const struct {
		const char	*name;
		const char	*src;
		const char	*data;
		const char	*want;		/* below the cap */
	} cases[] = {
		{ "open and close", "{{=O C=}}OxC|O{x}C", "{\"x\": \"<b>\"}",
		    "&lt;b&gt;|<b>" },
		{ "open only", "{{=O ))=}}x", "{}", "x" },
		{ "close only", "{{=(( C=}}x", "{}", "x" },
	};
	char		 src[256], *p;
	const char	*q;
	char		*out;
	size_t		 i;
	int		 n;

	(void)state;
	for (n = LIM_TMPL_DELIM - 1; n <= LIM_TMPL_DELIM; n++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			p = src;
			for (q = cases[i].src; *q != '\0'; q++) {
				assert_true(p + n < src + sizeof(src));
				if (*q == 'O' || *q == 'C') {
					memset(p, *q == 'O' ? '(' : ')',
					    (size_t)n);
					p += n;
				} else
					*p++ = *q;
			}
			*p = '\0';
			out = render(src, cases[i].data, TMPL_ESC_HTML);
			if (n < LIM_TMPL_DELIM && (out == NULL ||
			    strcmp(out, cases[i].want) != 0))
				fail_msg("%s, %d bytes: %s, want %s",
				    cases[i].name, n, out == NULL ?
				    "a parse error" : out, cases[i].want);
			if (n == LIM_TMPL_DELIM && out != NULL)
				fail_msg("%s, %d bytes: %s, want a parse error",
				    cases[i].name, n, out);
			free(out);
		}
	}
}

/* Two partials by name. */
struct two_partials {
	struct one_partial	 a, b;
};

static const struct tmpl *
get_two(void *arg, const char *name)
{
	const struct two_partials	*p = arg;

	if (strcmp(p->a.name, name) == 0)
		return p->a.t;
	return strcmp(p->b.name, name) == 0 ? p->b.t : NULL;
}

/*
 * Parents and blocks: an argument replaces the parent's block, its
 * default shows without one.  Rendering depth counts the partial, the
 * parent and the block: n sections around {{>q}}, q a parent with a
 * block argument, render up to n = 29 (32 deep), not at 30.
 */
static void
test_blocks(void **state)
{
	struct two_partials	 p;
	struct tmpl		*t;
	json_object		*ctx;
	struct buf		 out, src;
	int			 n, i;
	const char		*q = "{{<p}}{{$b}}arg{{/b}}{{/p}}";

	(void)state;
	p.a.name = "p";
	assert_non_null(p.a.t = tmpl_parse("[{{$b}}default{{/b}}]", 21, NULL,
	    0));
	p.b.name = "q";
	assert_non_null(p.b.t = tmpl_parse(q, strlen(q), NULL, 0));
	ctx = json_tokener_parse("{\"a\":true}");
	assert_non_null(t = tmpl_parse(q, strlen(q), NULL, 0));
	buf_init(&out, 64);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, get_two, &p,
	    &out), 0);
	assert_string_equal(out.ptr, "[arg]");
	buf_free(&out);
	tmpl_free(t);
	assert_non_null(t = tmpl_parse("{{<p}}{{/p}}", 12, NULL, 0));
	buf_init(&out, 64);
	assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, get_two, &p,
	    &out), 0);
	assert_string_equal(out.ptr, "[default]");
	buf_free(&out);
	tmpl_free(t);
	for (n = LIM_TMPL_DEPTH - 3; n <= LIM_TMPL_DEPTH - 2; n++) {
		buf_init(&src, 4096);
		for (i = 0; i < n; i++)
			buf_puts(&src, "{{#a}}");
		buf_puts(&src, "{{>q}}");
		for (i = 0; i < n; i++)
			buf_puts(&src, "{{/a}}");
		assert_non_null(t = tmpl_parse(src.ptr, src.len, NULL, 0));
		buf_init(&out, 64);
		assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, get_two,
		    &p, &out), n < LIM_TMPL_DEPTH - 2 ? 0 : -1);
		if (n < LIM_TMPL_DEPTH - 2)
			assert_string_equal(out.ptr, "[arg]");
		buf_free(&out);
		tmpl_free(t);
		buf_free(&src);
	}
	tmpl_free((struct tmpl *)(uintptr_t)p.a.t);
	tmpl_free((struct tmpl *)(uintptr_t)p.b.t);
	json_object_put(ctx);
}

static void
parse_fails(const char *src, const char *want)
{
	char	 err[128];

	memset(err, 'x', sizeof(err));
	assert_null(tmpl_parse(src, strlen(src), err, sizeof(err)));
	assert_string_equal(err, want);
}

static void
test_parse_errors(void **state)
{
	char	 small[8];

	parse_fails("a\nb\n{{#x}}\n", "line 3: \"x\" is never closed");
	parse_fails("{{#a}}\n{{/b}}", "line 2: \"a\" closed by \"b\"");
	parse_fails("x\n\n{{/b}}", "line 3: closing tag \"b\" without an "
	    "opening one");
	parse_fails("ok\n{{name", "line 2: unclosed tag");
	parse_fails("{{{name}}", "line 1: unclosed tag");
	parse_fails("{{}}", "line 1: empty tag");
	parse_fails("{{a b}}", "line 1: space in tag name \"a b\"");
	parse_fails("{{a..b}}", "line 1: bad name \"a..b\"");
	parse_fails("\n{{=<% %% %>=}}", "line 2: bad delimiters \"<% %% %>\"");
	/* The message is cut to the buffer, and no buffer is fine. */
	assert_null(tmpl_parse("{{", 2, small, sizeof(small)));
	assert_string_equal(small, "line 1:");
	assert_null(tmpl_parse("{{", 2, NULL, 0));
	/* An error message is cleared on success. */
	memset(small, 'x', sizeof(small));
	tmpl_free(tmpl_parse("ok", 2, small, sizeof(small)));
	assert_string_equal(small, "");
}

/*
 * Issue 32 row 3: {{#a}} six deep over a 40-item list would visit 4
 * billion sections with no output to meet the size cap.  The work
 * limit stops it quickly and says so; a fair rendering (1000 rows of
 * 20 tags) is not touched, and the next rendering starts afresh.
 */
static void
test_work_cap(void **state)
{
	struct tmpl	*t, *fair;
	json_object	*ctx, *a, *row;
	struct buf	 out;
	enum tmpl_fail	 why = TMPL_FAIL_NONE;
	const char	*bomb = "{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}"
	    "{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}";
	char		 src[512], say[128];
	struct timespec	 t0, t1;
	double		 secs;
	int		 i;

	(void)state;
	ctx = json_object_new_object();
	a = json_object_new_array();
	for (i = 0; i < 40; i++)
		json_object_array_add(a, json_object_new_int(i));
	json_object_object_add(ctx, "a", a);
	assert_non_null(t = tmpl_parse(bomb, strlen(bomb), NULL, 0));
	buf_init(&out, LIM_RENDER);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(tmpl_render_why(t, ctx, TMPL_ESC_HTML, NULL, NULL,
	    &out, &why), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(why, TMPL_FAIL_WORK);
	assert_true(secs < 2.0);
	assert_non_null(strstr(tmpl_fail_say(why, say, sizeof(say)),
	    "steps of work"));
	buf_free(&out);
	tmpl_free(t);

	/* 1000 rows of 20 tags each: well inside. */
	a = json_object_new_array();
	for (i = 0; i < 1000; i++) {
		row = json_object_new_object();
		json_object_object_add(row, "x", json_object_new_int(i));
		json_object_array_add(a, row);
	}
	json_object_object_add(ctx, "rows", a);
	snprintf(src, sizeof(src), "{{#rows}}%s{{/rows}}",
	    "{{x}}{{x}}{{x}}{{x}}{{x}}{{x}}{{x}}{{x}}{{x}}{{x}}"
	    "{{x}}{{x}}{{x}}{{x}}{{x}}{{x}}{{x}}{{x}}{{x}}{{x}}");
	assert_non_null(fair = tmpl_parse(src, strlen(src), NULL, 0));
	buf_init(&out, LIM_RENDER);
	assert_int_equal(tmpl_render_why(fair, ctx, TMPL_ESC_HTML, NULL, NULL,
	    &out, &why), 0);
	assert_int_equal(why, TMPL_FAIL_NONE);
	buf_free(&out);
	buf_init(&out, LIM_RENDER);
	assert_int_equal(tmpl_render(fair, ctx, TMPL_ESC_HTML, NULL, NULL,
	    &out), 0);
	buf_free(&out);
	tmpl_free(fair);
	json_object_put(ctx);
}

/* A partial that calls itself twice: doubling with no output. */
/* An array of n zeros. */
static json_object *
zeros(int n)
{
	json_object	*a = json_object_new_array();
	int		 i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int(0));
	return a;
}

/*
 * LIM_TMPL_WORK exactly: every node and every turn of a section is a
 * step.  {{#a}}{{#b}}{{/b}}{{/a}}{{#t}}{{/t}} takes
 * 2 + |a| * (|b| + 2) + |t| steps: at the cap it renders, one over not.
 */
static void
test_work_cap_exact(void **state)
{
	struct tmpl	*t;
	json_object	*ctx;
	struct buf	 out;
	enum tmpl_fail	 why;
	const char	*src = "{{#a}}{{#b}}{{/b}}{{/a}}{{#t}}{{/t}}";
	int		 tail = LIM_TMPL_WORK - 2 - 1000 * (1990 + 2);

	(void)state;
	assert_non_null(t = tmpl_parse(src, strlen(src), NULL, 0));
	ctx = json_object_new_object();
	json_object_object_add(ctx, "a", zeros(1000));
	json_object_object_add(ctx, "b", zeros(1990));
	json_object_object_add(ctx, "t", zeros(tail));
	buf_init(&out, 64);
	why = TMPL_FAIL_NONE;
	assert_int_equal(tmpl_render_why(t, ctx, TMPL_ESC_HTML, NULL, NULL,
	    &out, &why), 0);
	assert_int_equal(why, TMPL_FAIL_NONE);
	buf_free(&out);
	json_object_object_add(ctx, "t", zeros(tail + 1));
	buf_init(&out, 64);
	assert_int_equal(tmpl_render_why(t, ctx, TMPL_ESC_HTML, NULL, NULL,
	    &out, &why), -1);
	assert_int_equal(why, TMPL_FAIL_WORK);
	buf_free(&out);
	json_object_put(ctx);
	tmpl_free(t);
}

static void
test_work_cap_partials(void **state)
{
	struct tmpl		*t;
	struct one_partial	 p;
	struct buf		 out;
	enum tmpl_fail		 why;
	const char		*src = "{{>me}}{{>me}}";

	(void)state;
	assert_non_null(t = tmpl_parse(src, strlen(src), NULL, 0));
	p.name = "me";
	p.t = t;
	buf_init(&out, LIM_RENDER);
	assert_int_equal(tmpl_render_why(t, NULL, TMPL_ESC_HTML, get_partial,
	    &p, &out, &why), -1);
	assert_true(why == TMPL_FAIL_WORK || why == TMPL_FAIL_DEPTH);
	buf_free(&out);
	tmpl_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_partials),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_nesting_cap),
		cmocka_unit_test(test_render_depth_cap),
		cmocka_unit_test(test_render_cap),
		cmocka_unit_test(test_work_cap),
		cmocka_unit_test(test_work_cap_exact),
		cmocka_unit_test(test_delim_cap),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_work_cap_partials),
		cmocka_unit_test(test_parse_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
