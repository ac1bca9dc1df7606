/*
 * A JSON document that must be one object, parsed with the problem said
 * as a person would say it: "empty file", "expected an object, found an
 * array", or where the text goes wrong by line and column (json-c only
 * gives a byte offset and its own state names, such as "continue").
 */
#include <stdio.h>
#include <string.h>

#include "jsonerr.h"

/* Line and column (both from 1, the column in bytes) of offset off. */
static void
where(const char *text, size_t off, size_t *line, size_t *col)
{
	size_t	 i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

static const char *
type_name(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	case json_type_int:
	case json_type_double:
		return "a number";
	case json_type_boolean:
		return json_object_get_boolean(o) ? "true" : "false";
	case json_type_null:
		return "null";
	default:
		return "something else";
	}
}

/* Whether only white space is left from off on. */
static int
blank_from(const char *text, size_t len, size_t off)
{
	return strspn(text + off, " \t\r\n") >= len - off;
}

/*
 * What json-c's lenient parser takes that JSON (RFC 8259) does not, at
 * the first place it occurs in text[0, len): a comment, a comma before
 * a closing bracket, a quote other than '"', a word other than true,
 * false and null (Python's False, None, NaN), a raw control character
 * inside a string.  Other tools, the console's writer among them, would
 * refuse such a file, so -t refuses it first.  Returns what is wrong
 * (static text) with *off set, or NULL when the text is strict.
 */
static const char *
lenient_at(const char *text, size_t len, size_t *off)
{
	size_t		 i, j, w;
	unsigned char	 ch;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)text[i];
		*off = i;
		if (ch == '"') {
			for (i++; i < len && text[i] != '"'; i++) {
				if ((unsigned char)text[i] < 0x20) {
					*off = i;
					return "a control character (a tab or "
					    "line break) inside a string: "
					    "write it as \\t or \\n";
				}
				if (text[i] == '\\')
					i++;
			}
			continue;
		}
		if (ch == '/')
			return "a comment: JSON has none (use a "
			    "\"comment\" key where one is allowed)";
		if (ch == '\'')
			return "a single quote: JSON strings take \"";
		if (ch == ',') {
			j = i + 1 + strspn(text + i + 1, " \t\r\n");
			if (j < len && (text[j] == '}' || text[j] == ']'))
				return "a comma before a closing } or ]";
			continue;
		}
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
			for (w = i; w < len && ((text[w] >= 'a' &&
			    text[w] <= 'z') || (text[w] >= 'A' &&
			    text[w] <= 'Z')); w++)
				;
			if ((w - i == 4 && strncmp(text + i, "true", 4) == 0) ||
			    (w - i == 5 && strncmp(text + i, "false", 5) ==
			    0) ||
			    (w - i == 4 && strncmp(text + i, "null", 4) == 0)) {
				i = w - 1;
				continue;
			}
			/* An exponent's e sits inside a number. */
			if (w - i == 1 && (ch == 'e' || ch == 'E') && i > 0 &&
			    text[i - 1] >= '0' && text[i - 1] <= '9')
				continue;
			return "not a JSON word: only true, false and null, "
			    "in lower case, go unquoted";
		}
	}
	return NULL;
}

/*
 * The rest json-c's strict mode knows (a leading zero, a number cut
 * short, bytes that are not UTF-8), for what lenient_at lets by.
 */
static const char *
strict_at(const char *text, size_t len, size_t *off)
{
	json_tokener		*tok;
	json_object		*doc;
	enum json_tokener_error	 e;

	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	doc = json_tokener_parse_ex(tok, text, (int)len);
	e = json_tokener_get_error(tok);
	*off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (doc != NULL) {
		json_object_put(doc);
		return NULL;
	}
	if (*off > len)
		*off = len;
	return json_tokener_error_desc(e);
}

/*
 * Parses text (len bytes, NUL-terminated) as one JSON object.  Returns
 * it (caller puts), or NULL with the problem in err.
 */
json_object *
jsonerr_parse_object(const char *text, size_t len, char *err, size_t errsz)
{
	json_tokener		*tok;
	json_object		*doc;
	enum json_tokener_error	 e;
	const char		*why;
	size_t			 end, line, col, off;

	if (len == 0 || blank_from(text, len, 0)) {
		snprintf(err, errsz, "empty file");
		return NULL;
	}
	tok = json_tokener_new();
	doc = json_tokener_parse_ex(tok, text, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (end > len)
		end = len;
	if (doc == NULL && e == json_tokener_continue) {
		/*
		 * An object followed by a comment leaves the tokener
		 * inside the comment.
		 */
		doc = json_tokener_parse(text);
		if (doc != NULL && json_object_is_type(doc, json_type_object) &&
		    (why = lenient_at(text, len, &off)) != NULL) {
			json_object_put(doc);
			where(text, off, &line, &col);
			snprintf(err, errsz, "line %zu, column %zu: not "
			    "strict JSON (%s)", line, col, why);
			return NULL;
		}
		/* A lone number waits for more: whole, it is no object. */
		if (doc != NULL ||
		    strncmp(text + strspn(text, " \t\r\n"), "null", 4) == 0) {
			snprintf(err, errsz, "expected an object, found %s",
			    type_name(doc));
			json_object_put(doc);
			return NULL;
		}
		where(text, len, &line, &col);
		snprintf(err, errsz, "line %zu, column %zu: the file ends "
		    "inside the document (an unclosed {, [ or string)", line,
		    col);
		return NULL;
	}
	if (doc == NULL) {
		/* json-c stops at the culprit. */
		where(text, end, &line, &col);
		snprintf(err, errsz, "line %zu, column %zu: not valid JSON "
		    "(%s)", line, col, json_tokener_error_desc(e));
		return NULL;
	}
	if (!json_object_is_type(doc, json_type_object)) {
		snprintf(err, errsz, "expected an object, found %s",
		    type_name(doc));
		json_object_put(doc);
		return NULL;
	}
	if (!blank_from(text, len, end)) {
		end += strspn(text + end, " \t\r\n");
		where(text, end, &line, &col);
		snprintf(err, errsz, "line %zu, column %zu: text after the "
		    "end of the object", line, col);
		json_object_put(doc);
		return NULL;
	}
	if ((why = lenient_at(text, end, &off)) == NULL)
		why = strict_at(text, end, &off);
	if (why != NULL) {
		where(text, off, &line, &col);
		snprintf(err, errsz, "line %zu, column %zu: not strict JSON "
		    "(%s)", line, col, why);
		json_object_put(doc);
		return NULL;
	}
	return doc;
}
