/*
 * Mustache templates rendered over json-c values.
 *
 * A template is parsed once (tmpl_parse) and rendered any number of
 * times, possibly concurrently: a parsed template is never written to
 * while rendering.  The context is only read, except that json-c
 * caches the text of an object or array that a template interpolates
 * inside that value.  The module does no I/O and no logging; partials
 * are resolved by the caller through a callback.
 *
 * Supported: interpolation, dotted names (a numeric segment also
 * indexes an array), the implicit iterator, sections, inverted
 * sections, comments, set delimiters, partials, the optional
 * inheritance extension (blocks and parents) and dynamic names
 * ({{>*name}}, {{<*name}}).  Lambdas are not supported: json-c values
 * cannot hold code.  A standalone partial's indentation is applied
 * while rendering (no re-parse, no per-indentation cache): each line
 * of the partial's own text gets it, lines inside values do not.
 *
 * Values: strings render as they are; integers in decimal; doubles in
 * the shortest form that reads back to the same value, with ".0"
 * added to integral ones the way json-c prints them; true renders
 * "true"; false, null and a missing name render nothing; objects and
 * arrays render as compact JSON.  Sections treat false, null, "", 0,
 * 0.0 and [] as falsey, as in the spec's "!!data" rule.
 */
#ifndef TMPL_H
#define TMPL_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"

/*
 * How values are written.  Template text is never altered: only data
 * coming from the context is escaped.
 */
enum tmpl_esc {
	/* {{x}} HTML-escaped (& < > " '), as the spec says */
	TMPL_ESC_HTML,
	/* plain text: no escaping */
	TMPL_ESC_NONE,
	/* the inside of a JSON string literal: \" \\ \n \uXXXX for controls */
	TMPL_ESC_JSON,
	/*
	 * one mail header line: CR, LF and other control chars in a value
	 * are replaced by a space, so a template can never produce a
	 * header line break from data
	 */
	TMPL_ESC_HEADER,
	TMPL_ESC__MAX
};

/*
 * {{{x}}} and {{&x}} skip the escaping in the HTML and NONE modes only.
 * In TMPL_ESC_JSON they are escaped exactly like {{x}}, because the
 * mode promises that the output stays inside a valid JSON string
 * literal (invalid UTF-8 becomes \ufffd).  In TMPL_ESC_HEADER they are
 * neutralised like {{x}}: C0 controls, DEL, C1 controls and U+2028/
 * U+2029 become one space each, so no value can break a header line.
 */

/* Why a rendering stopped, for the caller's message. */
enum tmpl_fail {
	TMPL_FAIL_NONE,
	/* the output passed LIM_RENDER or the caller's buffer cap */
	TMPL_FAIL_SIZE,
	/* sections and partials nested deeper than LIM_TMPL_DEPTH */
	TMPL_FAIL_DEPTH,
	/* more than LIM_TMPL_WORK tags and section turns */
	TMPL_FAIL_WORK,
	TMPL_FAIL__MAX
};

struct tmpl;			/* opaque, parsed once */

/*
 * Returns the parsed template named name, or NULL when there is none
 * (a missing partial renders as empty).  The template must stay valid
 * until the render that asked for it returns.
 */
typedef const struct tmpl *(*tmpl_partial_fn)(void *arg, const char *name);

/*
 * Parses len bytes of src.  On error returns NULL and writes
 * "line N: reason" into err (errsz bytes, may be 0).
 */
struct tmpl	*tmpl_parse(const char *src, size_t len, char *err,
		    size_t errsz);

/*
 * Appends the rendering of t against ctx (may be NULL) to out.  Returns
 * 0, or -1 when out passed its cap, sections and partials nested
 * deeper than LIM_TMPL_DEPTH, or the rendering took more than
 * LIM_TMPL_WORK steps (every rendering is bounded: a template is
 * operator input, and a worker must answer); out then holds a partial
 * rendering that the caller must discard.  partial may be NULL.
 */
int		 tmpl_render(const struct tmpl *t, json_object *ctx,
		    enum tmpl_esc esc, tmpl_partial_fn partial, void *arg,
		    struct buf *out);

/* The same, with why it stopped in *why (may be NULL). */
int		 tmpl_render_why(const struct tmpl *t, json_object *ctx,
		    enum tmpl_esc esc, tmpl_partial_fn partial, void *arg,
		    struct buf *out, enum tmpl_fail *why);

/*
 * What a failure means, in a person's words, into s (sz bytes): "larger
 * than 8454144 bytes", "more than 2000000 steps of work ...".  Returns s.
 */
char		*tmpl_fail_say(enum tmpl_fail, char *s, size_t sz);

void		 tmpl_free(struct tmpl *t);

#endif /* TMPL_H */
