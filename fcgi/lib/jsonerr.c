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
 * Parses text (len bytes, NUL-terminated) as one JSON object.  Returns
 * it (caller puts), or NULL with the problem in err.
 */
json_object *
jsonerr_parse_object(const char *text, size_t len, char *err, size_t errsz)
{
	json_tokener		*tok;
	json_object		*doc;
	enum json_tokener_error	 e;
	size_t			 end, line, col;

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
		/* A lone number waits for more: whole, it is no object. */
		if ((doc = json_tokener_parse(text)) != NULL ||
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
	return doc;
}
