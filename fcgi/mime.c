/*
 * One mail as RFC 5322 + MIME bytes: multipart/mixed holding a
 * multipart/alternative (plain text derived from the HTML, and the
 * HTML) and the attachments.  Every part is base64, so no line is long
 * and none starts with a dot; every header value comes from data that
 * cannot hold CR or LF here, because we refuse them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "limits.h"
#include "mime.h"
#include "util.h"

static int
has_ctl(const char *s)
{
	/* A tab is header white space; CR, LF and the rest are refused. */
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 1;
	return 0;
}

static int
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/*
 * RFC 2047 "B" encoding of UTF-8 text in words of at most 45 input
 * bytes cut at code point boundaries, folded with CRLF SP.
 */
static void
enc_words(struct buf *b, const char *s)
{
	size_t	 n = strlen(s), off = 0, take, elen;
	char	*e;

	while (off < n) {
		take = utf8_cut(s + off, n - off, 45);
		if (take == 0)
			take = n - off < 4 ? n - off : 4;
		b64_encode(s + off, take, 0, &e, &elen);
		if (off > 0)
			buf_puts(b, "\r\n ");
		buf_printf(b, "=?UTF-8?B?%s?=", e);
		free(e);
		off += take;
	}
}

static void
hdr_text(struct buf *b, const char *name, const char *v)
{
	buf_printf(b, "%s: ", name);
	if (is_ascii(v) && strlen(v) < 900)
		buf_puts(b, v);
	else
		enc_words(b, v);
	buf_puts(b, "\r\n");
}

/* The addr-spec of "addr" or "Name <addr>".  Caller frees. */
char *
mime_addr(const char *s)
{
	const char	*lt = strrchr(s, '<'), *gt;

	if (lt != NULL) {
		gt = strchr(lt, '>');
		if (gt != NULL)
			return xstrndup(lt + 1, (size_t)(gt - lt - 1));
	}
	while (isspace((unsigned char)*s))
		s++;
	return xstrndup(s, strcspn(s, " \t"));
}

/* One address with a display name encoded when it is not ASCII. */
static void
hdr_addr(struct buf *b, const char *a)
{
	const char	*lt = strrchr(a, '<');
	char		*name;
	size_t		 n;

	if (lt == NULL || is_ascii(a)) {
		buf_puts(b, a);
		return;
	}
	n = (size_t)(lt - a);
	while (n > 0 && isspace((unsigned char)a[n - 1]))
		n--;
	name = xstrndup(a, n);
	if (n > 1 && name[0] == '"' && name[n - 1] == '"') {
		memmove(name, name + 1, n - 2);
		name[n - 2] = '\0';
	}
	enc_words(b, name);
	buf_printf(b, " %s", lt);
	free(name);
}

static void
hdr_list(struct buf *b, const char *name, json_object *list)
{
	size_t	 i;

	buf_printf(b, "%s: ", name);
	for (i = 0; i < json_object_array_length(list); i++) {
		if (i > 0)
			buf_puts(b, ",\r\n ");
		hdr_addr(b, json_object_get_string(
		    json_object_array_get_idx(list, i)));
	}
	buf_puts(b, "\r\n");
}

static void
part_b64(struct buf *b, const char *p, size_t n)
{
	char	*e;
	size_t	 elen;

	b64_encode(p, n, 76, &e, &elen);
	buf_add(b, e, elen);
	buf_puts(b, "\r\n");
	free(e);
}

static void
html_walk(xmlNode *n, struct buf *out)
{
	static const char *const blocks[] = { "p", "div", "br", "li", "tr",
	    "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
	    "blockquote", "pre", "hr", "title", NULL };
	const char	*name;
	size_t		 i;
	int		 block;

	for (; n != NULL; n = n->next) {
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content != NULL)
				buf_puts(out, (const char *)n->content);
			continue;
		}
		if (n->type != XML_ELEMENT_NODE)
			continue;
		name = (const char *)n->name;
		if (strcmp(name, "script") == 0 || strcmp(name, "style") == 0 ||
		    strcmp(name, "head") == 0)
			continue;
		block = 0;
		for (i = 0; blocks[i] != NULL; i++)
			if (strcmp(name, blocks[i]) == 0)
				block = 1;
		if (strcmp(name, "li") == 0)
			buf_puts(out, "\n- ");
		html_walk(n->children, out);
		if (block)
			buf_putc(out, '\n');
	}
}

/*
 * A plain-text rendering of HTML for the text/plain alternative: text
 * nodes, a line break after block elements, runs of blank lines folded.
 * libxml2's HTML parser, no network.  Caller frees.
 */
char *
mime_html_text(const char *html)
{
	htmlDocPtr	 doc;
	struct buf	 raw, out;
	const char	*p;
	int		 nl = 0, sp = 0;

	buf_init(&raw, LIM_MAIL);
	buf_init(&out, LIM_MAIL);
	doc = htmlReadMemory(html, (int)strlen(html), NULL, "UTF-8",
	    HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
	    HTML_PARSE_NOBLANKS);
	if (doc != NULL) {
		html_walk(xmlDocGetRootElement(doc), &raw);
		xmlFreeDoc(doc);
	}
	for (p = raw.ptr != NULL ? raw.ptr : ""; *p != '\0'; p++) {
		if (*p == '\n') {
			if (nl < 2 && out.len > 0)
				buf_putc(&out, '\n');
			nl++;
			sp = 0;
		} else if (*p == ' ' || *p == '\t' || *p == '\r') {
			sp = 1;
		} else {
			if (sp && nl == 0 && out.len > 0)
				buf_putc(&out, ' ');
			buf_putc(&out, *p);
			nl = sp = 0;
		}
	}
	buf_free(&raw);
	return buf_take(&out);
}

static const struct {
	const char	*ext;
	const char	*type;
} mime_types[] = {
	{ "pdf", "application/pdf" }, { "txt", "text/plain" },
	{ "log", "text/plain" }, { "csv", "text/csv" },
	{ "html", "text/html" }, { "htm", "text/html" },
	{ "json", "application/json" }, { "xml", "application/xml" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" }, { "gif", "image/gif" },
	{ "bmp", "image/bmp" }, { "svg", "image/svg+xml" },
	{ "webp", "image/webp" }, { "ico", "image/x-icon" },
	{ "zip", "application/zip" }, { "gz", "application/gzip" },
	{ "tar", "application/x-tar" }, { "7z", "application/x-7z-compressed" },
	{ "doc", "application/msword" },
	{ "docx", "application/vnd.openxmlformats-officedocument."
	    "wordprocessingml.document" },
	{ "xls", "application/vnd.ms-excel" },
	{ "xlsx", "application/vnd.openxmlformats-officedocument."
	    "spreadsheetml.sheet" },
	{ "ppt", "application/vnd.ms-powerpoint" },
	{ "pptx", "application/vnd.openxmlformats-officedocument."
	    "presentationml.presentation" },
	{ NULL, NULL }
};

/*
 * The MIME type of an attachment: from its declared type (an
 * extension, or "image") or else from the file name's extension.
 */
const char *
mime_type(const char *type, const char *filename)
{
	const char	*ext;
	size_t		 i;

	ext = type != NULL && *type != '\0' ? type : NULL;
	if (ext == NULL) {
		ext = strrchr(filename, '.');
		ext = ext != NULL ? ext + 1 : "";
	}
	if (*ext == '.')
		ext++;
	for (i = 0; mime_types[i].ext != NULL; i++)
		if (str_eqi(ext, mime_types[i].ext))
			return mime_types[i].type;
	if (str_eqi(ext, "image")) {
		ext = strrchr(filename, '.');
		for (i = 0; ext != NULL && mime_types[i].ext != NULL; i++)
			if (str_eqi(ext + 1, mime_types[i].ext) &&
			    strncmp(mime_types[i].type, "image/", 6) == 0)
				return mime_types[i].type;
		return "image/png";
	}
	return "application/octet-stream";
}

static const char *
jstr(json_object *o, const char *k)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return "";
	return json_object_get_string(v);
}

/* RFC 2231 value: utf-8'' and percent-encoding outside attr-char. */
static void
param_2231(struct buf *b, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 c;

	buf_puts(b, "utf-8''");
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || strchr("!#$&+-.^_`|~", c) != NULL)
			buf_putc(b, c);
		else
			buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

static void
attachment(struct buf *b, const char *bnd, json_object *a)
{
	const char	*fn = jstr(a, "filename"), *type, *disp, *cid;
	json_object	*c;
	int		 image;

	type = mime_type(jstr(a, "type"), fn);
	image = strncmp(type, "image/", 6) == 0;
	disp = jstr(a, "disposition");
	if (*disp == '\0' || has_ctl(disp) || strchr(disp, ';') != NULL)
		disp = image ? "inline" : "attachment";
	buf_printf(b, "--%s\r\nContent-Type: %s; name=", bnd, type);
	if (is_ascii(fn) && strchr(fn, '"') == NULL)
		buf_printf(b, "\"%s\"", fn);
	else {
		buf_putc(b, '"');
		enc_words(b, fn);
		buf_putc(b, '"');
	}
	buf_printf(b, "\r\nContent-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: %s; filename*=", disp);
	param_2231(b, fn);
	buf_puts(b, "\r\n");
	if (image) {
		cid = jstr(a, "content_id");
		if (*cid == '\0')
			cid = fn;
		if (cid[0] == '<')
			buf_printf(b, "Content-ID: %s\r\n", cid);
		else
			buf_printf(b, "Content-ID: <%s>\r\n", cid);
	}
	buf_puts(b, "\r\n");
	json_object_object_get_ex(a, "content", &c);
	part_b64(b, c != NULL ? json_object_get_string(c) : "",
	    c != NULL ? (size_t)json_object_get_string_len(c) : 0);
}

/*
 * Writes the whole message into out.  Returns 0, or -1 if a header
 * value holds a control character or the message passes out's cap.
 */
int
mime_build(const struct mail *m, struct buf *out)
{
	char		 date[64], host[128], bm[96], ba[96];
	const char	*fn, *cid;
	char		*text = NULL;
	time_t		 now = time(NULL);
	struct tm	 tm;
	size_t		 i, n;
	int		 rc = -1;

	if (has_ctl(m->from) || has_ctl(m->subject))
		return -1;
	for (i = 0; i < json_object_array_length(m->to); i++)
		if (has_ctl(json_object_get_string(
		    json_object_array_get_idx(m->to, i))))
			return -1;
	n = m->cc != NULL ? json_object_array_length(m->cc) : 0;
	for (i = 0; i < n; i++)
		if (has_ctl(json_object_get_string(
		    json_object_array_get_idx(m->cc, i))))
			return -1;
	n = m->attachments != NULL ? json_object_array_length(m->attachments) :
	    0;
	for (i = 0; i < n; i++) {
		json_object	*a = json_object_array_get_idx(m->attachments, i);

		fn = jstr(a, "filename");
		cid = jstr(a, "content_id");
		if (has_ctl(fn) || has_ctl(cid) || has_ctl(jstr(a, "type")))
			return -1;
	}

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (gethostname(host, sizeof(host)) == -1 || has_ctl(host))
		snprintf(host, sizeof(host), "cmsi.invalid");
	host[sizeof(host) - 1] = '\0';
	snprintf(bm, sizeof(bm), "=_cmsi_m_%s", m->msgid_seed);
	snprintf(ba, sizeof(ba), "=_cmsi_a_%s", m->msgid_seed);

	buf_puts(out, "From: ");
	hdr_addr(out, m->from);
	buf_puts(out, "\r\n");
	hdr_list(out, "To", m->to);
	if (m->cc != NULL && json_object_array_length(m->cc) > 0)
		hdr_list(out, "Cc", m->cc);
	hdr_text(out, "Subject", m->subject);
	buf_printf(out, "Date: %s\r\nMessage-ID: <%s@%s>\r\n"
	    "MIME-Version: 1.0\r\n", date, m->msgid_seed, host);
	buf_printf(out, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
	    "\r\nThis is a MIME message.\r\n", bm);

	buf_printf(out, "--%s\r\n", bm);
	if (m->html) {
		text = mime_html_text(m->body);
		buf_printf(out, "Content-Type: multipart/alternative; "
		    "boundary=\"%s\"\r\n\r\n", ba);
		buf_printf(out, "--%s\r\nContent-Type: text/plain; "
		    "charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
		    "\r\n", ba);
		part_b64(out, text, strlen(text));
		buf_printf(out, "--%s\r\nContent-Type: text/html; "
		    "charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
		    "\r\n", ba);
		part_b64(out, m->body, strlen(m->body));
		buf_printf(out, "--%s--\r\n", ba);
	} else {
		buf_puts(out, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n");
		part_b64(out, m->body, strlen(m->body));
	}
	for (i = 0; i < n; i++)
		attachment(out, bm, json_object_array_get_idx(m->attachments,
		    i));
	buf_printf(out, "--%s--\r\n", bm);
	rc = out->over ? -1 : 0;
	free(text);
	return rc;
}
