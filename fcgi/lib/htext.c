/*
 * The text/plain alternative of an HTML mail: one pass over the HTML,
 * no tree.  Text with its white space collapsed; a blank line around
 * paragraphs, headings, lists, tables and quotes, a line break after
 * rows, divisions and <br>, "- " before list items, a space after
 * table cells, a link's target after its text; script, style, title
 * and the head are left out, and so are comments and declarations.
 * Character references are decoded with libxml2's HTML 4 table.
 *
 * This replaced libxml2's HTML parser (htmlReadMemory and a walk of
 * its tree), which cost two thirds of a mail's own work; the output is
 * the same for the HTML callers send (tests/unit/test_htext.c), and
 * for broken HTML it stays plain text, which is all it must be.
 */
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>

#include "buf.h"
#include "htext.h"
#include "limits.h"
#include "util.h"

/* What an element does to the text around it. */
#define EL_PARA		0x01	/* blank line before and after */
#define EL_LINE		0x02	/* line break after */
#define EL_BREAK	0x04	/* line break where it stands (void) */
#define EL_RULE		0x08	/* blank line where it stands (void) */
#define EL_ITEM		0x10	/* "- " on a new line */
#define EL_CELL		0x20	/* a space after */
#define EL_SKIP		0x40	/* raw text left out, up to its end tag */
#define EL_HEAD		0x80	/* may stand in the head */
#define EL_LINK		0x100	/* <a>: its href is kept */
#define EL_HEADER	0x200	/* <head> itself */

/*
 * Sorted by name.  Every tag is looked up, so only the names with its
 * first letter are compared whole.
 */
static const struct el {
	const char	*name;
	int		 flags;
} elements[] = {
	{ "a", EL_LINK },
	{ "base", EL_HEAD }, { "blockquote", EL_PARA }, { "br", EL_BREAK },
	{ "div", EL_LINE }, { "h1", EL_PARA }, { "h2", EL_PARA },
	{ "h3", EL_PARA }, { "h4", EL_PARA }, { "h5", EL_PARA },
	{ "h6", EL_PARA }, { "head", EL_HEADER }, { "hr", EL_RULE },
	{ "li", EL_ITEM },
	{ "link", EL_HEAD }, { "meta", EL_HEAD }, { "ol", EL_PARA },
	{ "p", EL_PARA }, { "pre", EL_PARA }, { "script", EL_SKIP | EL_HEAD },
	{ "style", EL_SKIP | EL_HEAD }, { "table", EL_PARA },
	{ "td", EL_CELL }, { "th", EL_CELL }, { "title", EL_SKIP | EL_HEAD },
	{ "tr", EL_LINE }, { "ul", EL_PARA },
};

/* The pass's state; one per call. */
struct htext {
	struct buf	 out;		/* the text, white space folded */
	struct buf	 href;		/* the open link's target */
	size_t		 astart;	/* where the open link's text began */
	int		 inlink;	/* an <a> is open */
	int		 inhead;	/* inside <head>, before any content */
	int		 nl;		/* line breaks since the last word */
	int		 sp;		/* a space is due before the next word */
};

/* What a byte of text is: part of a word, white space, a reference. */
#define C_WORD		0
#define C_SPACE		1
#define C_AMP		2
#define C_DROP		3	/* a control character: no text */

static const unsigned char cclass[256] = {
	[0x00 ... 0x08] = C_DROP, ['\t'] = C_SPACE, ['\n'] = C_SPACE,
	[0x0b] = C_DROP, ['\f'] = C_SPACE, ['\r'] = C_SPACE,
	[0x0e ... 0x1f] = C_DROP, [' '] = C_SPACE, ['&'] = C_AMP,
	[0x7f] = C_DROP,
};

static int
el_flags(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(elements) / sizeof(elements[0]); i++) {
		if (elements[i].name[0] < name[0])
			continue;
		if (elements[i].name[0] > name[0])
			break;
		if (strcmp(elements[i].name + 1, name + 1) == 0)
			return elements[i].flags;
	}
	return 0;
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_alnum(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/*
 * A code point as UTF-8 into u (4 bytes); none for one no text may
 * hold.  Returns the length.
 */
static size_t
utf8_put(unsigned long cp, char *u)
{
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	if (cp < 0x80) {
		u[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (char)(0xf0 | cp >> 18);
	u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * A character reference at s ('&'): its text goes to u (4 bytes), its
 * length to *un.  Returns the bytes used; one ("&" as itself) when it
 * is not a reference.
 */
static size_t
char_ref(const char *s, char *u, size_t *un)
{
	const htmlEntityDesc	*e;
	char			 name[LIM_ENTITY];
	unsigned long		 cp = 0;
	size_t			 i = 1, n;
	int			 hex, digits = 0;

	if (s[1] == '#') {
		hex = s[2] == 'x' || s[2] == 'X';
		for (i = hex ? 3 : 2; ; i++) {
			if (s[i] >= '0' && s[i] <= '9')
				n = (size_t)(s[i] - '0');
			else if (hex && s[i] >= 'a' && s[i] <= 'f')
				n = (size_t)(s[i] - 'a' + 10);
			else if (hex && s[i] >= 'A' && s[i] <= 'F')
				n = (size_t)(s[i] - 'A' + 10);
			else
				break;
			/* Past the last code point it stays past it. */
			if (cp <= 0x10ffff)
				cp = cp * (hex ? 16 : 10) + n;
			digits++;
		}
		if (digits == 0) {
			u[0] = '&';
			*un = 1;
			return 1;
		}
		*un = utf8_put(cp, u);
		return s[i] == ';' ? i + 1 : i;
	}
	for (n = 0; is_alnum((unsigned char)s[i]) && n + 1 < sizeof(name);
	    i++)
		name[n++] = s[i];
	name[n] = '\0';
	if (n == 0 || s[i] != ';' ||
	    (e = htmlEntityLookup((const xmlChar *)name)) == NULL) {
		u[0] = '&';
		*un = 1;
		return 1;
	}
	*un = utf8_put(e->value, u);
	return i + 1;
}

/*
 * Words (single spaces between them, none at either end) after the
 * space or lines due.
 */
static void
word(struct htext *h, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (h->sp && h->nl == 0 && h->out.len > 0)
		buf_putc(&h->out, ' ');
	buf_add(&h->out, s, n);
	h->nl = h->sp = 0;
}

/* A line break; two in a row are a blank line, and no more. */
static void
newline(struct htext *h)
{
	if (h->nl < 2 && h->out.len > 0)
		buf_putc(&h->out, '\n');
	h->nl++;
	h->sp = 0;
}

/* Text that is ours, not the document's: its ' ' and '\n' fold too. */
static void
put(struct htext *h, const char *s, size_t n)
{
	size_t	 k;

	while (n > 0) {
		for (k = 0; k < n && s[k] != ' ' && s[k] != '\n'; k++)
			;
		word(h, s, k);
		if (k == n)
			break;
		if (s[k] == '\n')
			newline(h);
		else
			h->sp = 1;
		s += k + 1;
		n -= k + 1;
	}
}

/* Text: white space is one space, references decoded, controls gone. */
static void
text(struct htext *h, const char *s, size_t n)
{
	char	 u[4];
	size_t	 i = 0, run, un;

	while (i < n) {
		/*
		 * Words and the single spaces between them go out as they
		 * are, in one piece: that is what folding would make of
		 * them, and most text is nothing else.
		 */
		for (run = 0; i + run < n; run++) {
			if (cclass[(unsigned char)s[i + run]] == C_WORD)
				continue;
			if (s[i + run] != ' ' || run == 0 || i + run + 1 >= n ||
			    cclass[(unsigned char)s[i + run + 1]] != C_WORD)
				break;
		}
		word(h, s + i, run);
		i += run;
		if (i >= n)
			break;
		switch (cclass[(unsigned char)s[i]]) {
		case C_AMP:
			i += char_ref(s + i, u, &un);
			put(h, u, un);
			break;
		case C_SPACE:
			h->sp = 1;
			i++;
			break;
		default:
			i++;
			break;
		}
	}
}

/*
 * Ends the open link: "text <url>" for a web or mail target, unless
 * the text already is the target.
 */
static void
link_end(struct htext *h)
{
	const char	*u = h->href.ptr, *t;
	size_t		 len;

	if (!h->inlink)
		return;
	h->inlink = 0;
	if (u == NULL || h->href.over)
		return;
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0 &&
	    strncmp(u, "mailto:", 7) != 0)
		return;
	/*
	 * The link's text, less the space or break due before it; none
	 * when nothing was written yet (no pointer arithmetic on NULL).
	 */
	t = h->out.ptr != NULL ? h->out.ptr + h->astart : "";
	for (len = h->out.len - h->astart; len > 0 && (*t == ' ' ||
	    *t == '\n'); t++, len--)
		;
	if (len == h->href.len && memcmp(t, u, len) == 0)
		return;
	h->sp = 1;
	put(h, "<", 1);
	put(h, u, h->href.len);
	put(h, ">", 1);
}

/*
 * Past the end tag of a raw text element (script, style, title): s is
 * just after its start tag.
 */
static size_t
skip_raw(const char *s, const char *name)
{
	const char	*p = s, *e;
	size_t		 n = strlen(name);

	while ((p = strstr(p, "</")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && (p[n] == '>' ||
		    p[n] == '/' || is_space((unsigned char)p[n]))) {
			e = strchr(p + n, '>');
			return e != NULL ? (size_t)(e + 1 - s) : strlen(s);
		}
	}
	return strlen(s);
}

/*
 * After a row or division, a line break; before one, a line break only
 * when its line already holds text, so that rows stay one per line.
 */
static void
line_break(struct htext *h, int end)
{
	if (!end && (h->out.len == 0 || h->out.ptr[h->out.len - 1] == '\n'))
		return;
	newline(h);
}

/* A link's target, references decoded. */
static void
href(struct htext *h, const char *v, size_t vn)
{
	char	 u[4];
	size_t	 i = 0, un;

	while (i < vn) {
		if (v[i] == '&') {
			i += char_ref(v + i, u, &un);
			buf_add(&h->href, u, un);
		} else
			buf_putc(&h->href, v[i++]);
	}
}

/*
 * A tag at s ('<' and a letter, or "</" and one): its effect on the
 * text.  Returns the bytes used, to just past its '>' or to the end;
 * for an element whose raw text is left out, also past its end tag.
 */
static size_t
tag(struct htext *h, const char *s)
{
	char		 name[LIM_TAG_NAME], an[8];
	const char	*p = s + 1, *v;
	size_t		 n, vn;
	int		 end = 0, fl, q;

	if (*p == '/') {
		end = 1;
		p++;
	}
	for (n = 0; is_alnum((unsigned char)*p); p++)
		if (n + 1 < sizeof(name))
			name[n++] = (char)(*p | 0x20);
	name[n] = '\0';
	fl = el_flags(name);
	if (!end && (fl & EL_LINK)) {
		link_end(h);
		h->inlink = 1;
		h->astart = h->out.len;
		buf_reset(&h->href);
	}
	/* Attributes: only a link's href is kept. */
	while (*p != '\0' && *p != '>') {
		if (is_space((unsigned char)*p) || *p == '/') {
			p++;
			continue;
		}
		for (n = 0; *p != '\0' && *p != '>' && *p != '=' && *p != '/' &&
		    !is_space((unsigned char)*p); p++)
			if (n + 1 < sizeof(an))
				an[n++] = (char)(*p | 0x20);
		an[n] = '\0';
		while (is_space((unsigned char)*p))
			p++;
		if (*p != '=')
			continue;
		p++;
		while (is_space((unsigned char)*p))
			p++;
		q = *p == '"' || *p == '\'' ? *p++ : 0;
		for (v = p; *p != '\0' && (q ? *p != q :
		    !is_space((unsigned char)*p) && *p != '>'); p++)
			;
		vn = (size_t)(p - v);
		if (q && *p == q)
			p++;
		if (!end && h->inlink && h->href.len == 0 &&
		    (fl & EL_LINK) && strcmp(an, "href") == 0)
			href(h, v, vn);
	}
	if (*p == '>')
		p++;
	if (h->inhead && (end ? (fl & EL_HEADER) : !(fl & EL_HEAD)))
		h->inhead = 0;
	if (!end && (fl & EL_HEADER))
		h->inhead = 1;
	if (end && (fl & EL_LINK))
		link_end(h);
	if (!end && (fl & EL_SKIP))
		return (size_t)(p - s) + skip_raw(p, name);
	if (fl & (EL_PARA | EL_RULE)) {
		newline(h);
		newline(h);
	} else if ((fl & EL_BREAK) && !end)
		newline(h);
	else if (fl & EL_LINE)
		line_break(h, end);
	else if ((fl & EL_ITEM) && !end)
		put(h, "\n- ", 3);
	else if ((fl & EL_CELL) && end)
		h->sp = 1;
	return (size_t)(p - s);
}

/* Where the markup at s ("<!", "<?") ends: past "-->" or '>'. */
static size_t
skip_markup(const char *s)
{
	const char	*e;

	if (strncmp(s, "<!--", 4) == 0)
		e = strstr(s + 4, "-->");
	else
		e = strchr(s, '>');
	if (e == NULL)
		return strlen(s);
	return (size_t)(e - s) + (*e == '-' ? 3 : 1);
}

/* The plain text of html, never NULL.  Caller frees. */
char *
htext_plain(const char *html)
{
	struct htext	 h;
	const char	*s = html;
	size_t		 n;

	memset(&h, 0, sizeof(h));
	buf_init(&h.out, LIM_MAIL);
	buf_init(&h.href, LIM_URL);
	while (*s != '\0') {
		n = (size_t)(strchrnul(s, '<') - s);
		if (n > 0) {
			if (h.inhead && s[strspn(s, " \t\r\n\f")] != '<')
				h.inhead = 0;
			if (!h.inhead)
				text(&h, s, n);
			s += n;
			continue;
		}
		if (is_alpha((unsigned char)s[1]) || (s[1] == '/' &&
		    is_alpha((unsigned char)s[2]))) {
			s += tag(&h, s);
		} else if (s[1] == '!' || s[1] == '?' || s[1] == '/')
			s += skip_markup(s);
		else {
			if (!h.inhead)
				word(&h, "<", 1);
			s++;
		}
	}
	link_end(&h);
	buf_free(&h.href);
	while (h.out.len > 0 && h.out.ptr[h.out.len - 1] == '\n')
		h.out.ptr[--h.out.len] = '\0';
	return buf_take(&h.out);
}
