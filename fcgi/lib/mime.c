/*
 * One mail as RFC 5322 + MIME bytes: multipart/mixed holding a
 * multipart/alternative (plain text derived from the HTML, and the
 * HTML), inline images beside it in a multipart/related, and the
 * attachments.  Every part is base64 of CRLF text, so no line is long
 * and none starts with a dot; every header value comes from data that
 * cannot hold CR or LF here, because we refuse them, and non-ASCII text
 * is RFC 2047 (headers) or RFC 2231 (file names).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "htext.h"
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

/* An ASCII display name longer than this goes out as folded words. */
#define MIME_WORDS_OVER	200

static int
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/*
 * RFC 2047 "B" encoding of UTF-8 text in words of at most 39 input
 * bytes (64 characters, so "Subject: " and a word stay under 76) cut at
 * code point boundaries.  Words are folded with CRLF SP (unfolded,
 * that is the single space between encoded words RFC 2047 ignores),
 * or with fold 0 kept on one line.
 */
static void
enc_words(struct buf *b, const char *s, int fold)
{
	size_t	 n = strlen(s), off = 0, take, elen;
	char	*e;

	while (off < n) {
		take = utf8_cut(s + off, n - off, 39);
		if (take == 0)
			take = n - off < 4 ? n - off : 4;
		b64_encode(s + off, take, 0, &e, &elen);
		if (off > 0)
			buf_puts(b, fold ? "\r\n " : " ");
		buf_printf(b, "=?UTF-8?B?%s?=", e);
		free(e);
		off += take;
	}
}

/* Unstructured text; encoded when raw text could be misread. */
static void
hdr_text(struct buf *b, const char *name, const char *v)
{
	buf_printf(b, "%s: ", name);
	if (is_ascii(v) && strlen(v) < 900 && strstr(v, "=?") == NULL)
		buf_puts(b, v);
	else
		enc_words(b, v, 1);
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

/*
 * One address.  "Name <addr>": a name that is not ASCII is encoded, an
 * ASCII one holding specials (a comma would split the list) is quoted.
 */
static void
hdr_addr(struct buf *b, const char *a)
{
	const char	*lt = strrchr(a, '<'), *p;
	char		*name;
	size_t		 n;

	if (lt == NULL || strchr(lt, '>') == NULL) {
		/* A bare addr-spec, as ESB wrote it (mail_check capped it). */
		buf_puts(b, a);
		return;
	}
	while (isspace((unsigned char)*a))
		a++;
	n = lt > a ? (size_t)(lt - a) : 0;
	while (n > 0 && isspace((unsigned char)a[n - 1]))
		n--;
	if (n > 1 && a[0] == '"' && a[n - 1] == '"') {
		a++;
		n -= 2;
	}
	name = xstrndup(a, n);
	if (*name == '\0')
		;
	else if (!is_ascii(name) || strstr(name, "=?") != NULL ||
	    n > MIME_WORDS_OVER) {
		enc_words(b, name, 1);
		buf_putc(b, ' ');
	} else if (strpbrk(name, "()<>[]:;@\\,.\"") != NULL) {
		buf_putc(b, '"');
		for (p = name; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(b, '\\');
			buf_putc(b, *p);
		}
		buf_puts(b, "\" ");
	} else
		buf_printf(b, "%s ", name);
	/* The angle-addr only: nothing after its '>' reaches the header. */
	buf_add(b, lt, (size_t)(strchr(lt, '>') - lt) + 1);
	free(name);
}

static void
hdr_list(struct buf *b, const char *name, json_object *list)
{
	size_t	 i;

	buf_printf(b, "%s: ", name);
	/* RFC 5322 3.6.3: an empty group when there is nobody to show. */
	if (json_object_array_length(list) == 0)
		buf_puts(b, "undisclosed-recipients:;");
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

/*
 * A text part: line ends made CRLF first, the canonical form of text
 * (RFC 2045 6.4), whatever the caller's content used.
 */
static void
part_text(struct buf *b, const char *s)
{
	struct buf	 t;
	size_t		 n;

	buf_init(&t, LIM_MAIL);
	while (*s != '\0') {
		n = strcspn(s, "\r\n");
		buf_add(&t, s, n);
		s += n;
		if (*s == '\0')
			break;
		buf_puts(&t, "\r\n");
		s += s[0] == '\r' && s[1] == '\n' ? 2 : 1;
	}
	part_b64(b, t.ptr != NULL ? t.ptr : "", t.len);
	if (t.over)
		b->over = 1;
	buf_free(&t);
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

/* A type/subtype of RFC 2045 token characters, as a caller may give. */
static int
full_type(const char *t)
{
	const char	*p;
	int		 slash = 0;

	if (*t == '/' || strlen(t) > 64)
		return 0;
	for (p = t; *p != '\0'; p++) {
		if (*p == '/')
			slash++;
		else if (!isalnum((unsigned char)*p) &&
		    strchr("!#$&+-.^_`|~", *p) == NULL)
			return 0;
	}
	return slash == 1 && p[-1] != '/';
}

/*
 * The MIME type of an attachment: from its declared type (an
 * extension, "image", or a full type) or else from the file name's
 * extension.  Never ESB's "image/pdf".
 */
const char *
mime_type(const char *type, const char *filename)
{
	const char	*ext;
	size_t		 i;

	ext = type != NULL && *type != '\0' ? type : NULL;
	if (ext != NULL && full_type(ext))
		return ext;
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

	if (o == NULL || !json_object_object_get_ex(o, k, &v) || v == NULL)
		return "";
	return json_object_get_string(v);
}

/*
 * ESB's image attachments (contract 2.4): type, or else the file name's
 * suffix, is image, jpg, png or jpeg.  They go inline with a Content-ID.
 */
static int
is_image(json_object *a)
{
	static const char *const kinds[] = { "image", "jpg", "png", "jpeg",
	    NULL };
	const char	*t = jstr(a, "type");
	size_t		 i;

	if (*t == '\0') {
		t = strrchr(jstr(a, "filename"), '.');
		t = t != NULL ? t + 1 : "";
	}
	for (i = 0; kinds[i] != NULL; i++)
		if (str_eqi(t, kinds[i]))
			return 1;
	return 0;
}

/*
 * RFC 2231 parameter name*=utf-8''value, percent-encoding outside
 * attr-char.  A value longer than one short line is cut into numbered
 * sections (name*0*=, name*1*=, ...), one per folded line, never inside
 * a %XX, so no header line passes RFC 5322's 998 octets whatever the
 * file name.
 */
#define PARAM_SECTION	60

static void
param_2231(struct buf *b, const char *name, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	struct buf		 v;
	unsigned char		 c;
	size_t			 off, take, sec;

	buf_init(&v, LIM_MAIL);
	buf_puts(&v, "utf-8''");
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || strchr("!#$&+-.^_`|~", c) != NULL)
			buf_putc(&v, c);
		else
			buf_printf(&v, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	if (v.len <= PARAM_SECTION) {
		buf_printf(b, "%s*=%s", name, v.ptr);
		buf_free(&v);
		return;
	}
	for (off = 0, sec = 0; off < v.len; off += take, sec++) {
		take = v.len - off < PARAM_SECTION ? v.len - off :
		    PARAM_SECTION;
		/* Not inside a %XX. */
		if (off + take < v.len && v.ptr[off + take - 1] == '%')
			take -= 1;
		else if (off + take < v.len && v.ptr[off + take - 2] == '%')
			take -= 2;
		buf_printf(b, "%s\r\n %s*%zu*=%.*s", sec > 0 ? ";" : "", name,
		    sec, (int)take, v.ptr + off);
	}
	buf_free(&v);
}

/* A Content-ID with or without its brackets, no other bracket. */
static int
cid_ok(const char *cid)
{
	size_t	 n = strlen(cid);

	if (n > 0 && cid[0] == '<') {
		if (n < 2 || cid[n - 1] != '>')
			return 0;
		cid++;
		n -= 2;
	}
	for (; n > 0; n--, cid++)
		if (*cid == '<' || *cid == '>')
			return 0;
	return 1;
}

/*
 * One attachment.  The file name is RFC 2231 in Content-Disposition,
 * then repeated for readers that only know filename= and name=: as it
 * is when it is plain ASCII, else as RFC 2047 words, as BlueKing did.
 */
static void
attachment(struct buf *b, const char *bnd, json_object *a)
{
	const char	*fn = jstr(a, "filename"), *type, *disp, *cid;
	json_object	*c;
	struct buf	 q;
	int		 image;

	type = mime_type(jstr(a, "type"), fn);
	image = is_image(a);
	buf_init(&q, LIM_MAIL);
	buf_putc(&q, '"');
	if (is_ascii(fn) && strpbrk(fn, "\"\\") == NULL &&
	    strstr(fn, "=?") == NULL && strlen(fn) <= PARAM_SECTION)
		buf_puts(&q, fn);
	else
		enc_words(&q, fn, 1);
	buf_putc(&q, '"');
	disp = jstr(a, "disposition");
	if (*disp == '\0' || has_ctl(disp) || strpbrk(disp, ";\" ") != NULL)
		disp = image ? "inline" : "attachment";
	buf_printf(b, "--%s\r\nContent-Type: %s; name=%s\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: %s; ", bnd, type, q.ptr, disp);
	param_2231(b, "filename", fn);
	buf_printf(b, ";\r\n filename=%s\r\n", q.ptr);
	buf_free(&q);
	if (image) {
		cid = jstr(a, "content_id");
		/*
		 * Without one, the file name stands in, as in ESB, where it
		 * would pass as one (mail_check): a longer name or one with
		 * brackets made a header line past 998 octets or one that
		 * ends early (fuzz_mime).  Else the image has none.
		 */
		if (*cid == '\0' && cid_ok(fn) && strlen(fn) <= LIM_ADDR)
			cid = fn;
		if (cid[0] == '<')
			buf_printf(b, "Content-ID: %s\r\n", cid);
		else if (*cid != '\0')
			buf_printf(b, "Content-ID: <%s>\r\n", cid);
	}
	buf_puts(b, "\r\n");
	json_object_object_get_ex(a, "content", &c);
	part_b64(b, c != NULL ? json_object_get_string(c) : "",
	    c != NULL ? (size_t)json_object_get_string_len(c) : 0);
}

/*
 * Whether the addr-spec of a is too long for one header line.
 */
static int
addr_long(const char *a)
{
	const char	*lt = strrchr(a, '<');
	char		*addr;
	int		 long_;

	/* Without an angle-addr the whole string goes on the line. */
	if (lt == NULL || strchr(lt, '>') == NULL)
		return strlen(a) > LIM_ADDR;
	addr = mime_addr(a);
	long_ = strlen(addr) > LIM_ADDR;
	free(addr);
	return long_;
}

/*
 * Refuses what could break out of a header: control characters, and
 * brackets that would end a Content-ID early.
 */
static int
mail_check(const struct mail *m)
{
	json_object	*lists[2] = { m->to, m->cc }, *a;
	const char	*cid, *s;
	size_t		 i, k;

	if (has_ctl(m->from) || has_ctl(m->subject) || m->to == NULL ||
	    addr_long(m->from))
		return -1;
	for (k = 0; k < 2; k++)
		for (i = 0; lists[k] != NULL &&
		    i < json_object_array_length(lists[k]); i++) {
			s = json_object_get_string(
			    json_object_array_get_idx(lists[k], i));
			if (has_ctl(s) || addr_long(s))
				return -1;
		}
	for (i = 0; m->attachments != NULL &&
	    i < json_object_array_length(m->attachments); i++) {
		a = json_object_array_get_idx(m->attachments, i);
		cid = jstr(a, "content_id");
		if (has_ctl(jstr(a, "filename")) || has_ctl(cid) ||
		    has_ctl(jstr(a, "type")) || !cid_ok(cid) ||
		    strlen(cid) > LIM_ADDR ||
		    strlen(jstr(a, "type")) > LIM_ADDR)
			return -1;
	}
	return 0;
}

/* The right side of the Message-ID: the sender's domain, or our name. */
static void
msgid_domain(const char *from, char *out, size_t outsz)
{
	char		*addr = mime_addr(from);
	const char	*at = strrchr(addr, '@'), *p;

	out[0] = '\0';
	if (at != NULL && at[1] != '\0') {
		for (p = at + 1; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '.')
				break;
		if (*p == '\0')
			str_copy(out, at + 1, outsz);
	}
	free(addr);
	if (out[0] == '\0' && (gethostname(out, outsz) == -1 || has_ctl(out)))
		str_copy(out, "cmsi.invalid", outsz);
	out[outsz - 1] = '\0';
}

/* The readable body: HTML with its plain-text alternative, or text. */
static void
body_parts(struct buf *out, const struct mail *m, const char *ba)
{
	char	*text;

	if (!m->html) {
		buf_puts(out, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n");
		part_text(out, m->body);
		return;
	}
	/* RFC 2046 5.1.4: the preferred version, HTML, comes last. */
	text = htext_plain(m->body);
	buf_printf(out, "Content-Type: multipart/alternative;\r\n "
	    "boundary=\"%s\"\r\n\r\n", ba);
	buf_printf(out, "--%s\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n", ba);
	part_text(out, text);
	buf_printf(out, "--%s\r\nContent-Type: text/html; "
	    "charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n", ba);
	part_text(out, m->body);
	buf_printf(out, "--%s--\r\n", ba);
	free(text);
}

/*
 * Writes the whole message into out: multipart/mixed holding the body
 * (with the inline images beside it in a multipart/related when it is
 * HTML) and then the other attachments.  Returns 0, or -1 if a header
 * value holds a control character or the message passes out's cap.
 */
int
mime_build(const struct mail *m, struct buf *out)
{
	char		 date[64], dom[256], bm[96], ba[96], br[96];
	json_object	*a;
	time_t		 now = time(NULL);
	struct tm	 tm;
	size_t		 i, n, nimg = 0;

	if (mail_check(m) == -1)
		return -1;
	n = m->attachments != NULL ? json_object_array_length(m->attachments) :
	    0;
	for (i = 0; m->html && i < n; i++)
		nimg += is_image(json_object_array_get_idx(m->attachments, i));
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	msgid_domain(m->from, dom, sizeof(dom));
	snprintf(bm, sizeof(bm), "=_cmsi_m_%s", m->msgid_seed);
	snprintf(ba, sizeof(ba), "=_cmsi_a_%s", m->msgid_seed);
	snprintf(br, sizeof(br), "=_cmsi_r_%s", m->msgid_seed);

	buf_puts(out, "From: ");
	hdr_addr(out, m->from);
	buf_puts(out, "\r\n");
	hdr_list(out, "To", m->to);
	if (m->cc != NULL && json_object_array_length(m->cc) > 0)
		hdr_list(out, "Cc", m->cc);
	hdr_text(out, "Subject", m->subject);
	buf_printf(out, "Date: %s\r\nMessage-ID: <%s@%s>\r\n"
	    "MIME-Version: 1.0\r\n", date, m->msgid_seed, dom);
	buf_printf(out, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n"
	    "\r\nThis is a MIME message.\r\n", bm);

	buf_printf(out, "--%s\r\n", bm);
	if (nimg > 0) {
		/* RFC 2387: cid: references resolve inside the related. */
		buf_printf(out, "Content-Type: multipart/related;\r\n "
		    "type=\"multipart/alternative\";\r\n boundary=\"%s\"\r\n"
		    "\r\n--%s\r\n", br, br);
		body_parts(out, m, ba);
		for (i = 0; i < n; i++) {
			a = json_object_array_get_idx(m->attachments, i);
			if (is_image(a))
				attachment(out, br, a);
		}
		buf_printf(out, "--%s--\r\n", br);
	} else
		body_parts(out, m, ba);
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(m->attachments, i);
		if (nimg == 0 || !is_image(a))
			attachment(out, bm, a);
	}
	buf_printf(out, "--%s--\r\n", bm);
	return out->over ? -1 : 0;
}
