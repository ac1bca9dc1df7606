/*
 * htext.c: the text/plain alternative of an HTML mail.  The expected
 * texts were first taken from libxml2's HTML parser, which this pass
 * replaced; where they differ, the comment says why ours is kept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/htext.h"

static const char *const cases[][2] = {
	{ "", "" },
	{ "plain words", "plain words" },
	{ "<p>a</p><p>b</p>", "a\n\nb" },
	{ "a<br>b", "a\nb" },
	/* Line breaks of the source are white space, not lines. */
	{ "<p>one\ntwo\n\n  three</p>\n\n<div>x</div><div>y</div>",
	    "one two three\n\nx\ny" },
	{ "<p>\ttab\tsep </p>", "tab sep" },
	/* A link whose text is its target is written once. */
	{ "<a href=\"https://x.org\">https://x.org</a>", "https://x.org" },
	{ "<a href=\"javascript:x()\">go</a>", "go" },
	/* A link with no text before it, or none at all (fuzz_mime). */
	{ "<a href=\"mailto:x@y.org\"></a>", "<mailto:x@y.org>" },
	{ "<a href=\"https://x.org\"><b>bold link</b></a>",
	    "bold link <https://x.org>" },
	{ "<a href='mailto:a@b.c'>mail</a> <a href=http://u.v/w>u</a>",
	    "mail <mailto:a@b.c> u <http://u.v/w>" },
	{ "<a href=\"https://x.org/?a=1&amp;b=2\">link</a>",
	    "link <https://x.org/?a=1&b=2>" },
	{ "<a>no href</a> <a href=\"\">empty</a> <a href=\"ftp://f\">ftp</a>",
	    "no href empty ftp" },
	{ "<a href=\"https://a.org\">one<a href=\"https://b.org\">two</a>",
	    "one <https://a.org>two <https://b.org>" },
	/* References: named (HTML 4), decimal, hex; none for 0 or past. */
	{ "&lt;tag&gt; &#x4e2d;", "<tag> \xe4\xb8\xad" },
	{ "a &amp; b &copy; &unknown; &#65;&#x42; &#0;x&#xD800;y&#1114112;z",
	    "a & b \xc2\xa9 &unknown; AB xyz" },
	{ "&amp &#65 &#x; &#; &", "&amp A &#x; &#; &" },
	{ "&#x1F600; &#128512;", "\xf0\x9f\x98\x80 \xf0\x9f\x98\x80" },
	{ "<p>a &amp;amp; b</p>", "a &amp; b" },
	{ "<html><head><title>T</title><style>p{color:red}</style></head>"
	    "<body><h1>Disk alert</h1><p>The disk <b>/var</b> is 91% full."
	    "</p></body></html>", "Disk alert\n\nThe disk /var is 91% full." },
	{ "<head><meta charset=\"utf-8\"></head><body>x</body>", "x" },
	/* Elements that start alike are told apart by their whole name. */
	{ "<head><link rel=\"stylesheet\" href=\"s.css\"></head>x", "x" },
	{ "<p>a<link>b<tt>c</tt><thead>d</thead><hgroup>e</hgroup></p>",
	    "abcde" },
	/* Text after a head that never ends is content. */
	{ "<head><title>x</title>Hello<p>p</p>", "Hello\n\np" },
	{ "<!DOCTYPE html><html><body>doc</body></html>", "doc" },
	{ "<?xml version=\"1.0\"?>after pi", "after pi" },
	{ "<!-- comment -->visible<!-- another -- > x -->z", "visiblez" },
	{ "<script>alert(1)</script>after", "after" },
	{ "<SCRIPT type=\"text/javascript\">if (a < b) { document.write("
	    "\"</div>\") }</SCRIPT>ok", "ok" },
	{ "<title>t</title>body", "body" },
	{ "<p>a<p>b<p>c", "a\n\nb\n\nc" },
	{ "text<p>para</p>tail", "text\n\npara\n\ntail" },
	{ "<ul><li>one</li><li>two</li></ul>", "- one\n- two" },
	{ "<ol><li>one<li>two</ol>", "- one\n- two" },
	{ "text<ul><li>a</li></ul>after", "text\n\n- a\n\nafter" },
	/* Cells are apart (libxml2's walk ran them together). */
	{ "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td>"
	    "</tr></table>", "a b\nc d" },
	{ "<br/><br /><hr>x<hr/>y", "x\n\ny" },
	{ "line1<br>line2<br><br><br>line3", "line1\nline2\n\nline3" },
	{ "<blockquote>q</blockquote>z", "q\n\nz" },
	{ "<div><div><p>deep</p></div></div>end", "deep\n\nend" },
	{ "text<div>x</div>after", "text\nx\nafter" },
	{ "<p>unclosed <b>bold <i>it</p> after",
	    "unclosed bold it\n\nafter" },
	/* A '<' that starts no tag is text (libxml2 dropped it). */
	{ "< not a tag > and 1<2", "< not a tag > and 1<2" },
	{ "<![CDATA[ cdata ]]>after", "after" },
	{ "<p>\xe4\xb8\xad\xe6\x96\x87</p>", "\xe4\xb8\xad\xe6\x96\x87" },
	/* Control characters are not text. */
	{ "a\x01" "b\x7f" "c", "abc" },
	/* Unfinished markup ends the text. */
	{ "x<script>unterminated", "x" },
	{ "x<!-- unterminated", "x" },
	{ "x<p", "x" },
	{ "x<", "x<" },
};

static void
test_cases(void **state)
{
	char	*t;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = htext_plain(cases[i][0]);
		if (strcmp(t, cases[i][1]) != 0)
			fail_msg("case %zu: %s\n got: %s\nwant: %s", i,
			    cases[i][0], t, cases[i][1]);
		free(t);
	}
}

/* A long document stays linear and whole. */
static void
test_long(void **state)
{
	static const char	 para[] = "<p>The disk <b>/var</b> is full; "
	    "see <a href=\"https://x.org/a?b=1&amp;c=2\">the runbook</a>."
	    "</p>\n";
	char			*in, *t;
	size_t			 i, n = strlen(para);

	(void)state;
	in = malloc(n * 2000 + 1);
	assert_non_null(in);
	for (i = 0; i < 2000; i++)
		memcpy(in + i * n, para, n);
	in[n * 2000] = '\0';
	t = htext_plain(in);
	assert_non_null(strstr(t, "the runbook <https://x.org/a?b=1&c=2>."
	    "\n\nThe disk /var"));
	free(t);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
