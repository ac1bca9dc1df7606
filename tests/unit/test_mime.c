/*
 * Unit tests for mime.c: what a mail reader and an SMTP server will see.
 * Headers (RFC 2047 words, display names, no injection), CRLF and line
 * lengths, the MIME tree, attachment types, names and Content-IDs, and
 * the plain-text version of HTML.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/mime.h"
#include "lib/util.h"

/*
 * Builds the mail described by the JSON text spec: from, to, cc,
 * subject, body, html, attachments (content given as raw bytes).
 * Returns the message (caller frees) or NULL when mime_build refused.
 */
static char *
build_cap(const char *spec, size_t cap)
{
	json_object	*o, *v;
	struct mail	 m;
	struct buf	 out;
	char		*s = NULL;

	assert_non_null(o = json_tokener_parse(spec));
	memset(&m, 0, sizeof(m));
	m.from = json_object_object_get_ex(o, "from", &v) ?
	    json_object_get_string(v) : "BlueKing <bk@example.com>";
	m.to = json_object_object_get_ex(o, "to", &v) ? v : NULL;
	m.cc = json_object_object_get_ex(o, "cc", &v) ? v : NULL;
	m.subject = json_object_object_get_ex(o, "subject", &v) ?
	    json_object_get_string(v) : "s";
	m.body = json_object_object_get_ex(o, "body", &v) ?
	    json_object_get_string(v) : "b";
	m.html = json_object_object_get_ex(o, "html", &v) &&
	    json_object_get_boolean(v);
	m.attachments = json_object_object_get_ex(o, "attachments", &v) ? v :
	    NULL;
	m.msgid_seed = "0123456789abcdef0123456789abcdef";
	buf_init(&out, cap);
	if (mime_build(&m, &out) == 0)
		s = buf_take(&out);
	buf_free(&out);
	json_object_put(o);
	return s;
}

static char *
build(const char *spec)
{
	return build_cap(spec, LIM_MAIL);
}

/* The unfolded value of a top-level header, or NULL.  Caller frees. */
static char *
header(const char *msg, const char *name)
{
	const char	*end = strstr(msg, "\r\n\r\n"), *p = msg, *e;
	size_t		 n = strlen(name);
	struct buf	 b;

	assert_non_null(end);
	while (p < end) {
		e = strstr(p, "\r\n");
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			buf_init(&b, LIM_MAIL);
			p += n + 1;
			while (*p == ' ')
				p++;
			for (;;) {
				buf_add(&b, p, (size_t)(e - p));
				if (e >= end || (e[2] != ' ' && e[2] != '\t'))
					break;
				p = e + 2;
				e = strstr(p, "\r\n");
			}
			return buf_take(&b);
		}
		p = e + 2;
	}
	return NULL;
}

/* The value with each RFC 2047 "B" word decoded.  Caller frees. */
static char *
words(const char *v)
{
	struct buf	 b;
	const char	*p = v, *q, *last = NULL;
	char		*d;
	size_t		 n;

	buf_init(&b, LIM_MAIL);
	while (*p != '\0') {
		if (strncmp(p, "=?UTF-8?B?", 10) == 0 &&
		    (q = strstr(p + 10, "?=")) != NULL) {
			/* White space between two words is not text. */
			if (last != NULL && strspn(last, " ") ==
			    (size_t)(p - last))
				b.len -= (size_t)(p - last);
			assert_int_equal(b64_decode(p + 10, (size_t)(q - p - 10),
			    &d, &n), 0);
			buf_add(&b, d, n);
			free(d);
			p = q + 2;
			last = p;
			continue;
		}
		buf_putc(&b, *p++);
	}
	if (b.ptr == NULL)
		buf_puts(&b, "");
	return buf_take(&b);
}

/*
 * The decoded body of the first part whose headers contain marker.
 * Caller frees; *len gets its size.
 */
static char *
part(const char *msg, const char *marker, size_t *len)
{
	const char	*p = strstr(msg, marker), *s, *e;
	char		*d;

	assert_non_null(p);
	assert_non_null(s = strstr(p, "\r\n\r\n"));
	s += 4;
	assert_non_null(e = strstr(s, "\r\n--"));
	assert_int_equal(b64_decode(s, (size_t)(e - s), &d, len), 0);
	return d;
}

/* Every line ends with CRLF, none is longer than max. */
static void
assert_lines(const char *msg, size_t max)
{
	const char	*p, *line = msg;

	for (p = msg; *p != '\0'; p++) {
		if (*p == '\r') {
			assert_int_equal(p[1], '\n');
			assert_true((size_t)(p - line) <= max);
			p++;
			line = p + 1;
		} else
			assert_int_not_equal(*p, '\n');
	}
	assert_ptr_equal(line, p);
}

static void
test_headers(void **state)
{
	char	*m, *h;

	(void)state;
	assert_non_null(m = build("{\"to\":[\"a@example.com\","
	    "\"b@example.com\"],\"cc\":[\"c@example.com\"],"
	    "\"subject\":\"Plain subject\"}"));
	assert_non_null(strstr(m, "\r\nTo: a@example.com,\r\n b@example.com"
	    "\r\n"));
	assert_non_null(strstr(m, "\r\nCc: c@example.com\r\n"));
	assert_non_null(strstr(m, "\r\nSubject: Plain subject\r\n"));
	assert_non_null(strstr(m, "\r\nMIME-Version: 1.0\r\n"));
	assert_string_equal(h = header(m, "From"), "BlueKing "
	    "<bk@example.com>");
	free(h);
	/* The sender's domain names the message. */
	assert_string_equal(h = header(m, "Message-ID"),
	    "<0123456789abcdef0123456789abcdef@example.com>");
	free(h);
	assert_non_null(h = header(m, "Date"));
	assert_true(strlen(h) >= 29 && (h[strlen(h) - 5] == '+' ||
	    h[strlen(h) - 5] == '-'));
	free(h);
	assert_lines(m, 78);
	free(m);

	/* No cc: no Cc header; nobody to show: an empty group. */
	assert_non_null(m = build("{\"to\":[]}"));
	assert_null(strstr(m, "\r\nCc:"));
	assert_non_null(strstr(m, "\r\nTo: undisclosed-recipients:;\r\n"));
	free(m);
}

static void
test_subject_encoded(void **state)
{
	char		*m, *h, *d, subj[4096];
	const char	*p, *line;
	size_t		 i;

	(void)state;
	assert_non_null(m = build("{\"to\":[\"a@x.org\"],\"subject\":"
	    "\"\xe6\xb5\x8b\xe8\xaf\x95 subject\"}"));
	assert_non_null(strstr(m, "Subject: =?UTF-8?B?"));
	assert_string_equal(d = words(h = header(m, "Subject")),
	    "\xe6\xb5\x8b\xe8\xaf\x95 subject");
	free(d);
	free(h);
	free(m);

	/* Long text: several words, folded, cut between code points. */
	for (i = 0; i < 100; i++)
		memcpy(subj + i * 3, "\xe6\xb5\x8b", 3);
	memcpy(subj + 300, " end", 5);
	{
		char	 spec[8192];

		snprintf(spec, sizeof(spec), "{\"to\":[\"a@x.org\"],"
		    "\"subject\":\"%s\"}", subj);
		assert_non_null(m = build(spec));
	}
	assert_lines(m, 76);
	h = header(m, "Subject");
	assert_string_equal(d = words(h), subj);
	/* Each word decodes alone to whole characters (RFC 2047 5). */
	for (p = h; (p = strstr(p, "=?UTF-8?B?")) != NULL; p += 10) {
		char	*w;
		size_t	 n;

		line = strstr(p, "?=");
		assert_true(line - p + 2 <= 75);
		assert_int_equal(b64_decode(p + 10, (size_t)(line - p - 10),
		    &w, &n), 0);
		assert_true(utf8_valid(w, n));
		free(w);
	}
	free(d);
	free(h);
	free(m);

	/* ASCII that looks like a word is encoded, so it stays text. */
	assert_non_null(m = build("{\"to\":[\"a@x.org\"],"
	    "\"subject\":\"=?UTF-8?B?QQ==?=\"}"));
	assert_string_equal(d = words(h = header(m, "Subject")),
	    "=?UTF-8?B?QQ==?=");
	free(d);
	free(h);
	free(m);
}

static void
test_display_names(void **state)
{
	char	*m, *h, *d;

	(void)state;
	assert_non_null(m = build("{\"from\":\"\xe5\xbc\xa0\xe4\xb8\x89 "
	    "<zs@example.com>\",\"to\":[\"\\\"Doe, John\\\" <j@x.org>\","
	    "\"Ann Lee <ann@x.org>\",\"Bob (ops) <b@x.org>\","
	    "\"\\\"\xe6\x9d\x8e\\\" <li@x.org>\",\"<bare@x.org>\"]}"));
	assert_string_equal(h = header(m, "From"),
	    "=?UTF-8?B?5byg5LiJ?= <zs@example.com>");
	assert_string_equal(d = words(h), "\xe5\xbc\xa0\xe4\xb8\x89 "
	    "<zs@example.com>");
	free(d);
	free(h);
	h = header(m, "To");
	assert_non_null(strstr(h, "\"Doe, John\" <j@x.org>"));
	assert_non_null(strstr(h, "Ann Lee <ann@x.org>"));
	assert_non_null(strstr(h, "\"Bob (ops)\" <b@x.org>"));
	assert_non_null(strstr(h, "=?UTF-8?B?5p2O?= <li@x.org>"));
	assert_non_null(strstr(h, "<bare@x.org>"));
	free(h);
	free(m);

	/* A comma in a bare display name would split the list: quoted. */
	assert_non_null(m = build("{\"from\":\"Ops, Team <o@x.org>\","
	    "\"to\":[\"a@x.org\"]}"));
	assert_string_equal(h = header(m, "From"), "\"Ops, Team\" <o@x.org>");
	free(h);
	free(m);
	assert_non_null(m = build("{\"from\":\"\\\"a\\\\\\\"b\\\" <o@x.org>\","
	    "\"to\":[\"a@x.org\"]}"));
	free(m);
}

static void
test_injection(void **state)
{
	static const char *const bad[] = {
		"{\"to\":[\"a@x.org\"],\"subject\":\"x\\r\\nBcc: e@evil.org\"}",
		"{\"to\":[\"a@x.org\"],\"subject\":\"x\\nBcc: e@evil.org\"}",
		"{\"to\":[\"a@x.org\\r\\nBcc: e@evil.org\"]}",
		"{\"to\":[\"a@x.org\"],\"cc\":[\"c@x.org\\nX: y\"]}",
		"{\"from\":\"f@x.org\\r\\nBcc: e@evil.org\",\"to\":[\"a@x.org\"]}",
		"{\"to\":[\"a@x.org\"],\"attachments\":[{\"filename\":"
		    "\"a\\r\\nContent-Type: text/html\",\"content\":\"x\"}]}",
		"{\"to\":[\"a@x.org\"],\"attachments\":[{\"filename\":\"a.png\","
		    "\"content\":\"x\",\"content_id\":\"a\\nb\"}]}",
		"{\"to\":[\"a@x.org\"],\"attachments\":[{\"filename\":\"a.png\","
		    "\"content\":\"x\",\"content_id\":\"a>\\r\\nX: y\"}]}",
		"{\"to\":[\"a@x.org\"],\"attachments\":[{\"filename\":\"a.png\","
		    "\"content\":\"x\",\"content_id\":\"a>b\"}]}",
		"{\"to\":[\"a@x.org\"],\"attachments\":[{\"filename\":\"a.pdf\","
		    "\"content\":\"x\",\"type\":\"pdf\\r\\nX: y\"}]}",
		NULL
	};
	size_t	 i;
	char	*m;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		m = build(bad[i]);
		if (m != NULL)
			fail_msg("built: %s", bad[i]);
	}
	/* A tab is header white space, not a control to refuse. */
	assert_non_null(m = build("{\"to\":[\"a@x.org\"],\"subject\":"
	    "\"a\\tb\"}"));
	free(m);
	/* A disposition that is not a token falls back to the default. */
	assert_non_null(m = build("{\"to\":[\"a@x.org\"],\"attachments\":"
	    "[{\"filename\":\"a.pdf\",\"content\":\"x\",\"disposition\":"
	    "\"inline; filename=evil.exe\"}]}"));
	assert_null(strstr(m, "evil"));
	assert_non_null(strstr(m, "Content-Disposition: attachment; "
	    "filename*=utf-8''a.pdf;\r\n filename=\"a.pdf\""));
	free(m);
}

static void
test_html_alternative(void **state)
{
	char		*m, *t, *h;
	const char	*alt, *plain, *html;
	size_t		 n;

	(void)state;
	assert_non_null(m = build("{\"to\":[\"a@x.org\"],\"html\":true,"
	    "\"body\":\"<html><head><title>T</title><style>p{}</style>"
	    "</head><body><p>Hello <b>world</b></p>\\n<script>evil()"
	    "</script><ul><li>one</li><li>two</li></ul><p>See <a "
	    "href=\\\"https://example.com/x\\\">the report</a>.</p>"
	    "<p>caf\xc3\xa9 &amp; co</p></body></html>\"}"));
	assert_lines(m, 78);
	h = header(m, "Content-Type");
	assert_non_null(strstr(h, "multipart/mixed; boundary="));
	assert_non_null(strstr(m, "Content-Type: multipart/mixed;\r\n "
	    "boundary=\"=_cmsi_m_"));
	free(h);
	assert_non_null(alt = strstr(m, "Content-Type: multipart/"
	    "alternative"));
	plain = strstr(alt, "Content-Type: text/plain; charset=utf-8");
	html = strstr(alt, "Content-Type: text/html; charset=utf-8");
	/* RFC 2046: the preferred (HTML) version comes last. */
	assert_non_null(plain);
	assert_non_null(html);
	assert_true(plain < html);
	t = part(m, "Content-Type: text/plain", &n);
	assert_string_equal(t, "Hello world\r\n\r\n- one\r\n- two\r\n\r\n"
	    "See the report <https://example.com/x>.\r\n\r\ncaf\xc3\xa9 & co");
	assert_null(strstr(t, "evil"));
	assert_null(strstr(t, "p{}"));
	assert_null(strstr(t, "<b>"));
	free(t);
	t = part(m, "Content-Type: text/html", &n);
	assert_non_null(strstr(t, "<p>Hello <b>world</b></p>\r\n<script>"));
	free(t);
	free(m);
}

static void
test_text_body(void **state)
{
	char	*m, *t;
	size_t	 n;

	(void)state;
	/* Dots at line starts and bare LF / CR: CRLF text, intact. */
	assert_non_null(m = build("{\"to\":[\"a@x.org\"],\"html\":false,"
	    "\"body\":\"line1\\n.\\n..two\\r\\n.\\r\\nend\\rlast\"}"));
	assert_null(strstr(m, "multipart/alternative"));
	assert_non_null(strstr(m, "Content-Type: text/plain; charset=utf-8"
	    "\r\nContent-Transfer-Encoding: base64"));
	t = part(m, "Content-Type: text/plain", &n);
	assert_string_equal(t, "line1\r\n.\r\n..two\r\n.\r\nend\r\nlast");
	free(t);
	assert_null(strstr(m, "\r\n.\r\n"));
	free(m);
}

/* How often s occurs in m. */
static int
count(const char *m, const char *s)
{
	int	 n = 0;

	for (; (m = strstr(m, s)) != NULL; m++)
		n++;
	return n;
}

static void
test_attachments(void **state)
{
	char		 big[1200], req[1600];
	char		*m, *d;
	const char	*p;
	size_t		 n;

	(void)state;
	assert_non_null(m = build("{\"to\":[\"a@x.org\"],\"html\":true,"
	    "\"body\":\"<img src=\\\"cid:logo.png\\\">\",\"attachments\":["
	    "{\"filename\":\"report.pdf\",\"content\":\"%PDF\"},"
	    "{\"filename\":\"logo.png\",\"content\":\"PNG\"},"
	    "{\"filename\":\"\xe6\x8a\xa5\xe5\x91\x8a.xlsx\",\"content\":\"x\"},"
	    "{\"filename\":\"chart.gif\",\"type\":\"image\",\"content\":\"G\","
	    "\"content_id\":\"<chart@cmsi>\"},"
	    "{\"filename\":\"photo\",\"type\":\"jpg\",\"content\":\"J\"},"
	    "{\"filename\":\"data.bin\",\"content\":\"\\u0001\\u0002\"},"
	    "{\"filename\":\"t.csv\",\"type\":\"text/csv\",\"content\":\"a,b\"},"
	    "{\"filename\":\"noext\",\"content\":\"n\"}"
	    "]}"));
	assert_lines(m, 998);
	/* A PDF is an application/pdf attachment, never image/pdf. */
	assert_non_null(strstr(m, "Content-Type: application/pdf; "
	    "name=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename*=utf-8''report.pdf;\r\n"
	    " filename=\"report.pdf\"\r\n"));
	assert_null(strstr(m, "image/pdf"));
	d = part(m, "name=\"report.pdf\"", &n);
	assert_int_equal(n, 4);
	assert_memory_equal(d, "%PDF", 4);
	free(d);
	/* Images: inline with a Content-ID, beside the HTML in related. */
	assert_non_null(p = strstr(m, "Content-Type: multipart/related;\r\n "
	    "type=\"multipart/alternative\";\r\n boundary="));
	assert_true(p < strstr(m, "multipart/alternative;"));
	assert_non_null(strstr(m, "Content-Type: image/png; "
	    "name=\"logo.png\"\r\nContent-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: inline; filename*=utf-8''logo.png;\r\n"
	    " filename=\"logo.png\"\r\nContent-ID: <logo.png>\r\n"));
	assert_non_null(strstr(m, "Content-Type: image/gif; "
	    "name=\"chart.gif\""));
	assert_non_null(strstr(m, "Content-ID: <chart@cmsi>\r\n"));
	assert_non_null(strstr(m, "Content-Type: image/jpeg; "
	    "name=\"photo\""));
	assert_non_null(strstr(m, "Content-ID: <photo>\r\n"));
	/* Related ends before the first plain attachment. */
	assert_true(strstr(m, "--=_cmsi_r_0123456789abcdef0123456789abcdef--")
	    < strstr(m, "name=\"report.pdf\""));
	/* RFC 2231 for a name that is not ASCII, RFC 2047 for old readers. */
	assert_non_null(strstr(m, "Content-Disposition: attachment; "
	    "filename*=utf-8''%E6%8A%A5%E5%91%8A.xlsx;\r\n "
	    "filename=\"=?UTF-8?B?5oql5ZGKLnhsc3g=?=\"\r\n"));
	assert_non_null(strstr(m, "Content-Type: application/vnd."
	    "openxmlformats-officedocument.spreadsheetml.sheet; "
	    "name=\"=?UTF-8?B?5oql5ZGKLnhsc3g=?=\""));
	/* Bytes that are not text survive base64. */
	d = part(m, "name=\"data.bin\"", &n);
	assert_int_equal(n, 2);
	assert_memory_equal(d, "\x01\x02", 2);
	free(d);
	assert_non_null(strstr(m, "Content-Type: application/octet-stream; "
	    "name=\"data.bin\""));
	assert_non_null(strstr(m, "Content-Type: text/csv; name=\"t.csv\""));
	assert_non_null(strstr(m, "Content-Type: application/octet-stream; "
	    "name=\"noext\""));
	/* Only images get a Content-ID. */
	assert_null(strstr(m, "Content-ID: <report.pdf>"));
	free(m);

	/*
	 * Without a content_id the file name stands in only where it would
	 * pass as one: a long name or one with brackets gets none, and no
	 * line passes 998 octets (fuzz_mime: a 1,051-octet Content-ID).
	 */
	memset(big, 'n', sizeof(big) - 5);
	memcpy(big + sizeof(big) - 5, ".png", 5);
	assert_true(snprintf(req, sizeof(req), "{\"to\":[\"a@x.org\"],"
	    "\"attachments\":[{\"filename\":\"%s\",\"content\":\"P\"},"
	    "{\"filename\":\"a>b.png\",\"content\":\"P\"},"
	    "{\"filename\":\"ok.png\",\"content\":\"P\"}]}", big) <
	    (int)sizeof(req));
	assert_non_null(m = build(req));
	assert_lines(m, 998);
	assert_null(strstr(m, "Content-ID: <nnn"));
	assert_null(strstr(m, "Content-ID: <a>"));
	assert_non_null(strstr(m, "Content-ID: <ok.png>\r\n"));
	assert_int_equal(count(m, "Content-ID:"), 1);
	free(m);

	/* A text mail keeps its images in mixed, still with Content-IDs. */
	assert_non_null(m = build("{\"to\":[\"a@x.org\"],\"attachments\":["
	    "{\"filename\":\"logo.png\",\"content\":\"PNG\","
	    "\"disposition\":\"attachment\"}]}"));
	assert_null(strstr(m, "multipart/related"));
	assert_non_null(strstr(m, "Content-Disposition: attachment; "
	    "filename*=utf-8''logo.png;\r\n filename=\"logo.png\"\r\n"
	    "Content-ID: <logo.png>"));
	free(m);
}

/*
 * A file name of any length or bytes keeps every line within RFC 5322's
 * 998 octets: RFC 2231 sections and folded RFC 2047 words (fuzz_mime
 * found a 1,494-octet Content-Type line for a 300-byte name).
 */
static void
test_long_filename(void **state)
{
	char		 doc[2048], name[401];
	const char	*p, *nl;
	char		*m;

	(void)state;
	memset(name, 'a', 300);
	memcpy(name + 300, ".pdf", 5);
	snprintf(doc, sizeof(doc), "{\"to\":[\"a@x.org\"],\"attachments\":"
	    "[{\"filename\":\"%s\",\"content\":\"x\"},{\"filename\":\""
	    "%s\",\"content\":\"y\"}]}", name,
	    "\\u62a5\\u544a\\u62a5\\u544a\\u62a5\\u544a\\u62a5\\u544a"
	    "\\u62a5\\u544a\\u62a5\\u544a\\u62a5\\u544a.xlsx");
	assert_non_null(m = build(doc));
	for (p = m; (nl = strstr(p, "\r\n")) != NULL; p = nl + 2)
		assert_true(nl - p <= 998);
	assert_non_null(strstr(m, "Content-Disposition: attachment; \r\n "
	    "filename*0*=utf-8''aaaa"));
	assert_non_null(strstr(m, ";\r\n filename*1*=aaaa"));
	/* Sections never cut a %XX. */
	assert_null(strstr(m, "%\r\n"));
	assert_null(strstr(m, "%E\r\n"));
	free(m);
}

/* LIM_ADDR: an address of exactly 320 octets is written, 321 refused. */
static void
test_addr_cap(void **state)
{
	char	 doc[1024], addr[LIM_ADDR + 2];
	char	*m;

	(void)state;
	memset(addr, 'a', sizeof(addr));
	memcpy(addr + LIM_ADDR - 12, "@example.com", 12);
	addr[LIM_ADDR] = '\0';
	snprintf(doc, sizeof(doc), "{\"to\":[\"%s\"]}", addr);
	assert_non_null(m = build(doc));
	assert_non_null(strstr(m, addr));
	free(m);
	memmove(addr + 1, addr, LIM_ADDR + 1);
	snprintf(doc, sizeof(doc), "{\"to\":[\"%s\"]}", addr);
	assert_null(build(doc));
	snprintf(doc, sizeof(doc), "{\"to\":[\"a@x.org\"],\"from\":"
	    "\"Ops <%s>\"}", addr);
	assert_null(build(doc));
	/* An attachment's content_id and type: LIM_ADDR, not one more. */
	memset(addr, 'c', LIM_ADDR + 1);
	addr[LIM_ADDR] = '\0';
	snprintf(doc, sizeof(doc), "{\"to\":[\"a@x.org\"],\"attachments\":"
	    "[{\"filename\":\"a.png\",\"content\":\"x\",\"content_id\":"
	    "\"%s\"}]}", addr);
	assert_non_null(m = build(doc));
	free(m);
	snprintf(doc, sizeof(doc), "{\"to\":[\"a@x.org\"],\"attachments\":"
	    "[{\"filename\":\"a.png\",\"content\":\"x\",\"type\":"
	    "\"image/%.*s\"}]}", LIM_ADDR - 6, addr);
	assert_non_null(m = build(doc));
	free(m);
	addr[LIM_ADDR] = 'c';
	addr[LIM_ADDR + 1] = '\0';
	snprintf(doc, sizeof(doc), "{\"to\":[\"a@x.org\"],\"attachments\":"
	    "[{\"filename\":\"a.png\",\"content\":\"x\",\"content_id\":"
	    "\"%s\"}]}", addr);
	assert_null(build(doc));
	snprintf(doc, sizeof(doc), "{\"to\":[\"a@x.org\"],\"attachments\":"
	    "[{\"filename\":\"a.png\",\"content\":\"x\",\"type\":"
	    "\"image/%.*s\"}]}", LIM_ADDR - 5, addr);
	assert_null(build(doc));
}

static void
test_structure(void **state)
{
	char		*m;
	const char	*p;

	(void)state;
	assert_non_null(m = build("{\"to\":[\"a@x.org\"],\"html\":true,"
	    "\"body\":\"<p>x</p>\",\"attachments\":[{\"filename\":\"a.pdf\","
	    "\"content\":\"x\"}]}"));
	/* mixed: the body and one attachment; alternative: two parts. */
	assert_int_equal(count(m, "\r\n--=_cmsi_m_0123456789abcdef0123456789"
	    "abcdef\r\n"), 2);
	assert_int_equal(count(m, "\r\n--=_cmsi_m_0123456789abcdef0123456789"
	    "abcdef--\r\n"), 1);
	assert_int_equal(count(m, "\r\n--=_cmsi_a_0123456789abcdef0123456789"
	    "abcdef\r\n"), 2);
	assert_int_equal(count(m, "\r\n--=_cmsi_a_0123456789abcdef0123456789"
	    "abcdef--\r\n"), 1);
	assert_int_equal(count(m, "multipart/related"), 0);
	/* The message ends with the outer closing delimiter. */
	p = strstr(m, "--=_cmsi_m_0123456789abcdef0123456789abcdef--\r\n");
	assert_non_null(p);
	assert_string_equal(p, "--=_cmsi_m_0123456789abcdef0123456789abcdef"
	    "--\r\n");
	/* Base64 never holds "=_", so no part can contain a boundary. */
	assert_int_equal(count(m, "=_cmsi_m_"), 4);
	free(m);
}

static void
test_cap(void **state)
{
	char	*m;

	(void)state;
	m = build_cap("{\"to\":[\"a@x.org\"],\"body\":\"0123456789\"}", 64);
	assert_null(m);
}

static void
test_type(void **state)
{
	(void)state;
	assert_string_equal(mime_type("", "a.PDF"), "application/pdf");
	assert_string_equal(mime_type(NULL, "a.tar.gz"), "application/gzip");
	assert_string_equal(mime_type("png", "whatever.bin"), "image/png");
	assert_string_equal(mime_type(".jpg", "x"), "image/jpeg");
	assert_string_equal(mime_type("image", "x.webp"), "image/webp");
	assert_string_equal(mime_type("image", "x"), "image/png");
	assert_string_equal(mime_type("image", "x.pdf"), "image/png");
	assert_string_equal(mime_type("application/x-foo", "x"),
	    "application/x-foo");
	assert_string_equal(mime_type("a/b/c", "x"),
	    "application/octet-stream");
	assert_string_equal(mime_type("text/html; x", "x"),
	    "application/octet-stream");
	assert_string_equal(mime_type("", "README"),
	    "application/octet-stream");
}

static void
test_addr(void **state)
{
	char	*a;

	(void)state;
	assert_string_equal(a = mime_addr("Name <a@x.org>"), "a@x.org");
	free(a);
	assert_string_equal(a = mime_addr("  a@x.org"), "a@x.org");
	free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_subject_encoded),
		cmocka_unit_test(test_display_names),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_html_alternative),
		cmocka_unit_test(test_text_body),
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_long_filename),
		cmocka_unit_test(test_addr_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
