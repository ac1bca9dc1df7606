/*
 * JSON Schema draft 2020-12 validation over json-c documents.
 *
 * schema_load() walks the document twice.  The first walk records the
 * base URI of every schema object and the resources ($id) and anchors
 * ($anchor, $dynamicAnchor) it defines.  The second compiles each schema
 * object into a node that lists its keywords in document order, with
 * arguments checked and patterns compiled, so validation neither parses
 * nor allocates (but for one PCRE2 match block).  $ref targets are
 * resolved once every identifier is known; a schema reached only by a
 * JSON Pointer is compiled then.  Only references into the document
 * itself resolve: one to anything else (another document, the
 * metaschema) fails the load, as the gateway never fetches schemas.
 *
 * unevaluatedItems and unevaluatedProperties run after their siblings,
 * whatever their place in the document, as the draft requires; they
 * find what was evaluated by asking the passing subschemas again rather
 * than by collecting annotations during the validation, which keeps
 * the common path free of that bookkeeping.
 *
 * Not implemented: $dynamicRef is resolved statically, like $ref (right
 * whenever no outer dynamic scope overrides the anchor); $vocabulary and
 * $schema are not checked; format and the content keywords are
 * annotations only, as the draft's default.
 *
 * Regular expressions are PCRE2, compiled at load with PCRE2_UTF (the
 * pattern and the subject are Unicode code points, as with ECMA-262's
 * "u" flag), PCRE2_ALT_BSUX (\uHHHH and \xHH mean what they mean in
 * ECMA-262), PCRE2_DOLLAR_ENDONLY ($ matches only at the very end, not
 * before a final newline) and PCRE2_ALLOW_EMPTY_CLASS ([] never matches,
 * [^] matches any character).  PCRE2_UCP is deliberately off, so \d, \w
 * and \b stay ASCII as in ECMA-262.  Remaining differences from
 * ECMA-262: \s is ASCII whitespace only (ECMA-262 adds U+00A0, U+FEFF,
 * the Zs category and the line separators); "." excludes only LF (not
 * CR, U+2028, U+2029); \u{...} is not understood; lookbehind must have
 * a bounded length; \p{...} takes the General_Category and Script
 * names PCRE2 knows, plus ECMA-262's long category names (Letter,
 * gc=Letter, General_Category=Letter) and Script=/sc= forms, which we
 * rewrite to PCRE2's spelling (PCRE2 10.42 has only the short category
 * names); PCRE2 accepts syntax ECMA-262 rejects (possessive
 * quantifiers, atomic groups, inline flags, \A, \z, recursion).  Subject
 * strings that are not well-formed UTF-8 never match.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "buf.h"
#include "limits.h"
#include "schema.h"
#include "util.h"

/*
 * Caps (limits.h): LIM_SCHEMA_DOC_DEPTH bounds the nesting of
 * schema objects we walk at load (recursion); LIM_SCHEMA_URI the length
 * of a resolved URI; LIM_SCHEMA_EQ_DEPTH the nesting compared by const, enum
 * and uniqueItems (deeper values compare unequal rather than recurse).
 */

/*
 * Base URI of a document without $id.  The .invalid TLD can never be
 * fetched, and a hierarchical URI lets relative $id and $ref resolve.
 */
#define SCHEMA_DEFAULT_BASE	"https://schema.invalid/root.json"

enum kwtype {
	K_NOOP,			/* compiled for its subschemas, never applied */
	K_TYPE,
	K_ENUM,
	K_CONST,
	K_MULTIPLEOF,
	K_MAXIMUM,
	K_EXMAXIMUM,
	K_MINIMUM,
	K_EXMINIMUM,
	K_MAXLENGTH,
	K_MINLENGTH,
	K_PATTERN,
	K_MAXITEMS,
	K_MINITEMS,
	K_UNIQUEITEMS,
	K_MAXCONTAINS,
	K_MINCONTAINS,
	K_MAXPROPS,
	K_MINPROPS,
	K_REQUIRED,
	K_DEPREQUIRED,
	K_REF,
	K_ALLOF,
	K_ANYOF,
	K_ONEOF,
	K_NOT,
	K_IF,
	K_THEN,
	K_ELSE,
	K_DEPSCHEMAS,
	K_PREFIXITEMS,
	K_ITEMS,
	K_CONTAINS,
	K_PROPERTIES,
	K_PATTERNPROPS,
	K_ADDPROPS,
	K_PROPNAMES,
	K_UNEVALITEMS,
	K_UNEVALPROPS
};

/* What a keyword's value must be. */
enum kwarg {
	A_SCHEMA,		/* one schema */
	A_SCHEMAS,		/* non-empty array of schemas */
	A_SCHEMAMAP,		/* object of schemas */
	A_COUNT,		/* non-negative integer */
	A_NUMBER,
	A_POSNUMBER,		/* number > 0 */
	A_TYPE,			/* type name or array of them */
	A_ARRAY,		/* any array */
	A_ANY,			/* any value, null too */
	A_STRINGS,		/* array of unique strings */
	A_BOOL,
	A_PATTERN,
	A_REF,			/* URI reference */
	A_DEPREQ		/* object of string arrays */
};

static const struct kwdef {
	const char	*name;
	enum kwtype	 type;
	enum kwarg	 arg;
} kwdefs[] = {
	{ "$ref",			K_REF,		A_REF },
	{ "$dynamicRef",		K_REF,		A_REF },
	{ "$defs",			K_NOOP,		A_SCHEMAMAP },
	{ "type",			K_TYPE,		A_TYPE },
	{ "enum",			K_ENUM,		A_ARRAY },
	{ "const",			K_CONST,	A_ANY },
	{ "multipleOf",			K_MULTIPLEOF,	A_POSNUMBER },
	{ "maximum",			K_MAXIMUM,	A_NUMBER },
	{ "exclusiveMaximum",		K_EXMAXIMUM,	A_NUMBER },
	{ "minimum",			K_MINIMUM,	A_NUMBER },
	{ "exclusiveMinimum",		K_EXMINIMUM,	A_NUMBER },
	{ "maxLength",			K_MAXLENGTH,	A_COUNT },
	{ "minLength",			K_MINLENGTH,	A_COUNT },
	{ "pattern",			K_PATTERN,	A_PATTERN },
	{ "maxItems",			K_MAXITEMS,	A_COUNT },
	{ "minItems",			K_MINITEMS,	A_COUNT },
	{ "uniqueItems",		K_UNIQUEITEMS,	A_BOOL },
	{ "maxContains",		K_MAXCONTAINS,	A_COUNT },
	{ "minContains",		K_MINCONTAINS,	A_COUNT },
	{ "maxProperties",		K_MAXPROPS,	A_COUNT },
	{ "minProperties",		K_MINPROPS,	A_COUNT },
	{ "required",			K_REQUIRED,	A_STRINGS },
	{ "dependentRequired",		K_DEPREQUIRED,	A_DEPREQ },
	{ "allOf",			K_ALLOF,	A_SCHEMAS },
	{ "anyOf",			K_ANYOF,	A_SCHEMAS },
	{ "oneOf",			K_ONEOF,	A_SCHEMAS },
	{ "not",			K_NOT,		A_SCHEMA },
	{ "if",				K_IF,		A_SCHEMA },
	{ "then",			K_THEN,		A_SCHEMA },
	{ "else",			K_ELSE,		A_SCHEMA },
	{ "dependentSchemas",		K_DEPSCHEMAS,	A_SCHEMAMAP },
	{ "prefixItems",		K_PREFIXITEMS,	A_SCHEMAS },
	{ "items",			K_ITEMS,	A_SCHEMA },
	{ "contains",			K_CONTAINS,	A_SCHEMA },
	{ "properties",			K_PROPERTIES,	A_SCHEMAMAP },
	{ "patternProperties",		K_PATTERNPROPS,	A_SCHEMAMAP },
	{ "additionalProperties",	K_ADDPROPS,	A_SCHEMA },
	{ "propertyNames",		K_PROPNAMES,	A_SCHEMA },
	{ "unevaluatedItems",		K_UNEVALITEMS,	A_SCHEMA },
	{ "unevaluatedProperties",	K_UNEVALPROPS,	A_SCHEMA },
	{ "contentSchema",		K_NOOP,		A_SCHEMA }
};

/* Instance type bits, as "type" names them. */
#define T_NULL		0x01
#define T_BOOLEAN	0x02
#define T_OBJECT	0x04
#define T_ARRAY		0x08
#define T_NUMBER	0x10
#define T_STRING	0x20
#define T_INTEGER	0x40

static const struct {
	const char	*name;
	unsigned int	 bit;
} typenames[] = {
	{ "null",	T_NULL },
	{ "boolean",	T_BOOLEAN },
	{ "object",	T_OBJECT },
	{ "array",	T_ARRAY },
	{ "number",	T_NUMBER },
	{ "string",	T_STRING },
	{ "integer",	T_INTEGER }
};

struct snode;

/* One member of properties, patternProperties, dependentSchemas, $defs. */
struct named {
	const char	*name;		/* borrowed: key in the schema doc */
	struct snode	*sub;		/* borrowed: schema->nodes owns it */
	pcre2_code	*re;		/* owned: patternProperties only */
};

struct kw {
	enum kwtype	 type;
	const char	*name;		/* borrowed: key in the schema doc */
	json_object	*val;		/* borrowed: the keyword's value */
	int64_t		 n;		/* count argument; minContains;
					   prefixItems length for items */
	int64_t		 max;		/* maxContains, -1 = none */
	int		 hasmin;	/* contains: minContains given */
	unsigned int	 types;		/* type: T_* mask */
	struct snode	*sub;		/* borrowed: subschema, $ref target */
	struct snode	*then;		/* borrowed: if's then, or NULL */
	struct snode	*els;		/* borrowed: if's else, or NULL */
	struct snode	**subs;		/* owned array of borrowed nodes */
	size_t		 nsubs;
	struct named	*named;		/* owned array */
	size_t		 nnamed;
	pcre2_code	*re;		/* owned: pattern */
	const struct kw	*props;		/* borrowed sibling "properties" */
	const struct kw	*pprops;	/* borrowed sibling patternProperties */
	char		*ref;		/* owned: target URI until resolved */
};

struct snode {
	json_object	*obj;		/* borrowed: the schema in the doc */
	int		 isbool;	/* -1 object, else the boolean schema */
	const char	*title;		/* borrowed from the doc, or NULL */
	const char	*message;	/* borrowed: x-message, or NULL */
	struct kw	*kws;		/* owned, document order */
	size_t		 nkws;
};

struct schema {
	json_object	*doc;		/* owned reference */
	struct snode	*root;		/* borrowed: one of nodes */
	struct snode	**nodes;	/* owned, each node owned */
	size_t		 nnodes;
};

/* Pointer-keyed open hash, load time only. */
struct ptrmap {
	const void	**keys;		/* owned array of borrowed keys */
	void		**vals;		/* owned array of borrowed values */
	size_t		  cap;
	size_t		  n;
};

struct ident {
	char		*uri;		/* owned: absolute URI */
	json_object	*obj;		/* borrowed: the schema it names */
};

struct loader {
	struct schema	 *s;		/* borrowed: being built */
	struct ptrmap	  bases;	/* schema object -> base (in strs) */
	struct ptrmap	  nodes;	/* schema value -> snode */
	struct ident	 *res;		/* owned: resources by $id */
	size_t		  nres;
	struct ident	 *anchors;	/* owned: "uri#name" */
	size_t		  nanchors;
	char		**strs;		/* owned base URIs */
	size_t		  nstrs;
	struct kw	**pending;	/* owned array: $ref still unresolved */
	size_t		  npending;
	char		 *err;		/* borrowed: caller's buffer */
	size_t		  errsz;
};

/* One step of the instance path: a property name, or an index. */
struct seg {
	const char	*key;		/* borrowed, NULL for an index */
	size_t		 idx;
};

struct vctx {
	struct schema_err *err;		/* borrowed, NULL while probing */
	pcre2_match_data *md;		/* owned, created on first match */
	struct seg	 path[LIM_SCHEMA_DEPTH + 1];
	size_t		 plen;
	int		 depth;
};

/* Grows an array appended to one element at a time. */
static void *
grow(void *arr, size_t n, size_t sz)
{
	if (n == 0 || (n & (n - 1)) == 0)
		arr = xrealloc(arr, (n == 0 ? 1 : 2 * n) * sz);
	return arr;
}

static size_t
ptrhash(const void *p, size_t cap)
{
	uint64_t	 h = (uint64_t)(uintptr_t)p;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (cap - 1);
}

static void *
ptrmap_get(const struct ptrmap *m, const void *k)
{
	size_t	 i;

	if (m->cap == 0)
		return NULL;
	for (i = ptrhash(k, m->cap); m->keys[i] != NULL;
	    i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == k)
			return m->vals[i];
	return NULL;
}

static void
ptrmap_put(struct ptrmap *m, const void *k, void *v)
{
	size_t	 i, oldcap = m->cap;
	const void **ok = m->keys;
	void	**ov = m->vals;

	if ((m->n + 1) * 2 > m->cap) {
		m->cap = oldcap ? oldcap * 2 : 64;
		m->keys = xcalloc(m->cap, sizeof(*m->keys));
		m->vals = xcalloc(m->cap, sizeof(*m->vals));
		m->n = 0;
		for (i = 0; i < oldcap; i++)
			if (ok[i] != NULL)
				ptrmap_put(m, ok[i], ov[i]);
		free(ok);
		free(ov);
	}
	for (i = ptrhash(k, m->cap); m->keys[i] != NULL;
	    i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == k) {
			m->vals[i] = v;
			return;
		}
	m->keys[i] = k;
	m->vals[i] = v;
	m->n++;
}

static void
ptrmap_free(struct ptrmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static int
loaderr(struct loader *l, const char *what, const char *arg)
{
	if (l->errsz > 0)
		snprintf(l->err, l->errsz, "%s%s%s", what,
		    arg != NULL ? ": " : "", arg != NULL ? arg : "");
	return -1;
}

/* The parts of a URI reference (RFC 3986, section 3). */
struct uri {
	const char	*scheme;	/* borrowed, all parts point into one */
	size_t		 schemelen;	/* string; absent parts are NULL */
	const char	*auth;
	size_t		 authlen;
	const char	*path;
	size_t		 pathlen;
	const char	*query;
	size_t		 querylen;
	const char	*frag;
	size_t		 fraglen;
};

static void
uri_parse(const char *s, struct uri *u)
{
	const char	*p = s;
	size_t		 n;

	memset(u, 0, sizeof(*u));
	n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789+-.");
	if (n > 0 && s[n] == ':' && ((s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= 'A' && s[0] <= 'Z'))) {
		u->scheme = s;
		u->schemelen = n;
		p = s + n + 1;
	}
	if (p[0] == '/' && p[1] == '/') {
		p += 2;
		u->auth = p;
		u->authlen = strcspn(p, "/?#");
		p += u->authlen;
	}
	u->path = p;
	u->pathlen = strcspn(p, "?#");
	p += u->pathlen;
	if (*p == '?') {
		u->query = ++p;
		u->querylen = strcspn(p, "#");
		p += u->querylen;
	}
	if (*p == '#') {
		u->frag = ++p;
		u->fraglen = strlen(p);
	}
}

/* Drops the last segment of out, with the "/" before it. */
static void
path_pop(struct buf *out)
{
	size_t	 i = out->len;

	while (i > 0 && out->ptr[i - 1] != '/')
		i--;
	if (i > 0)
		i--;
	out->len = i;
	if (out->ptr != NULL)
		out->ptr[i] = '\0';
}

/* RFC 3986, 5.2.4: remove_dot_segments, appending to out. */
static void
path_clean(const char *path, size_t len, struct buf *out)
{
	char	*in = xstrndup(path, len);
	size_t	 i = 0, j;
	struct buf seg;

	buf_init(&seg, LIM_SCHEMA_URI);
	while (i < len) {
		const char	*r = in + i;
		size_t		 rl = len - i;

		if (rl >= 3 && memcmp(r, "../", 3) == 0)
			i += 3;
		else if (rl >= 2 && memcmp(r, "./", 2) == 0)
			i += 2;
		else if (rl >= 3 && memcmp(r, "/./", 3) == 0)
			i += 2;
		else if (rl == 2 && memcmp(r, "/.", 2) == 0)
			in[++i] = '/';
		else if (rl >= 4 && memcmp(r, "/../", 4) == 0) {
			i += 3;
			path_pop(&seg);
		} else if (rl == 3 && memcmp(r, "/..", 3) == 0) {
			i += 2;
			in[i] = '/';
			path_pop(&seg);
		} else if ((rl == 1 && r[0] == '.') ||
		    (rl == 2 && memcmp(r, "..", 2) == 0))
			i = len;
		else {
			j = i;
			if (in[j] == '/')
				j++;
			while (j < len && in[j] != '/')
				j++;
			buf_add(&seg, in + i, j - i);
			i = j;
		}
	}
	if (seg.over)
		out->over = 1;
	else
		buf_add(out, seg.ptr != NULL ? seg.ptr : "", seg.len);
	buf_free(&seg);
	free(in);
}

/* Appends an authority with the two slashes that introduce it. */
static void
put_auth(struct buf *out, const char *auth, size_t len)
{
	buf_putc(out, '/');
	buf_putc(out, '/');
	buf_add(out, auth, len);
}

/*
 * Resolves ref against the absolute base (RFC 3986, 5.2.2).  With
 * nofrag the fragment is dropped, as for a base URI.  NULL when the
 * result would pass LIM_SCHEMA_URI.
 */
static char *
uri_resolve(const char *base, const char *ref, int nofrag)
{
	struct uri	 b, r;
	struct buf	 out, merged;
	const char	*q;
	size_t		 qlen, i;

	uri_parse(base, &b);
	uri_parse(ref, &r);
	buf_init(&out, LIM_SCHEMA_URI);
	buf_init(&merged, LIM_SCHEMA_URI);
	if (r.scheme != NULL) {
		buf_add(&out, r.scheme, r.schemelen + 1);
		if (r.auth != NULL) {
			put_auth(&out, r.auth, r.authlen);
		}
		path_clean(r.path, r.pathlen, &out);
		q = r.query;
		qlen = r.querylen;
	} else {
		if (b.scheme != NULL)
			buf_add(&out, b.scheme, b.schemelen + 1);
		if (r.auth != NULL) {
			put_auth(&out, r.auth, r.authlen);
			path_clean(r.path, r.pathlen, &out);
			q = r.query;
			qlen = r.querylen;
		} else {
			if (b.auth != NULL) {
				put_auth(&out, b.auth, b.authlen);
			}
			if (r.pathlen == 0) {
				buf_add(&out, b.path, b.pathlen);
				q = r.query != NULL ? r.query : b.query;
				qlen = r.query != NULL ? r.querylen :
				    b.querylen;
			} else {
				if (r.path[0] == '/')
					buf_add(&merged, r.path, r.pathlen);
				else {
					if (b.auth != NULL && b.pathlen == 0)
						buf_putc(&merged, '/');
					else {
						for (i = b.pathlen; i > 0 &&
						    b.path[i - 1] != '/'; i--)
							;
						buf_add(&merged, b.path, i);
					}
					buf_add(&merged, r.path, r.pathlen);
				}
				if (merged.over || merged.ptr == NULL)
					out.over = 1;
				else
					path_clean(merged.ptr, merged.len,
					    &out);
				q = r.query;
				qlen = r.querylen;
			}
		}
	}
	if (q != NULL) {
		buf_putc(&out, '?');
		buf_add(&out, q, qlen);
	}
	if (!nofrag && r.frag != NULL) {
		buf_putc(&out, '#');
		buf_add(&out, r.frag, r.fraglen);
	}
	buf_free(&merged);
	if (out.over) {
		buf_free(&out);
		return NULL;
	}
	return buf_take(&out);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes n bytes of s into a new string. */
static char *
pct_decode(const char *s, size_t n)
{
	char	*d = xmalloc(n + 1);
	size_t	 i, j = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			d[j++] = (char)(hexval(s[i + 1]) * 16 +
			    hexval(s[i + 2]));
			i += 2;
		} else
			d[j++] = s[i];
	}
	d[j] = '\0';
	return d;
}

static const struct kwdef *
kwdef_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(kwdefs) / sizeof(kwdefs[0]); i++)
		if (strcmp(kwdefs[i].name, name) == 0)
			return &kwdefs[i];
	return NULL;
}

static int
is_number(json_object *v)
{
	return json_object_is_type(v, json_type_int) ||
	    (json_object_is_type(v, json_type_double) &&
	    isfinite(json_object_get_double(v)));
}

static long double
numval(json_object *v)
{
	if (json_object_is_type(v, json_type_int))
		return (long double)json_object_get_int64(v);
	return (long double)json_object_get_double(v);
}

/* Numbers compared mathematically: 1 == 1.0. */
static int
numcmp(json_object *a, json_object *b)
{
	long double	 x, y;

	if (json_object_is_type(a, json_type_int) &&
	    json_object_is_type(b, json_type_int)) {
		int64_t	 i = json_object_get_int64(a);
		int64_t	 j = json_object_get_int64(b);

		return (i > j) - (i < j);
	}
	x = numval(a);
	y = numval(b);
	return (x > y) - (x < y);
}

/* A non-negative integer keyword argument (2.0 counts as 2). */
static int
get_count(json_object *v, int64_t *out)
{
	double	 d;

	if (json_object_is_type(v, json_type_int)) {
		if (json_object_get_int64(v) < 0)
			return -1;
		*out = json_object_get_int64(v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_double))
		return -1;
	d = json_object_get_double(v);
	if (!isfinite(d) || d < 0 || d != floor(d) || d > 9.0e18)
		return -1;
	*out = (int64_t)d;
	return 0;
}

static unsigned int
type_of(json_object *v)
{
	double	 d;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return T_NULL;
	case json_type_boolean:
		return T_BOOLEAN;
	case json_type_int:
		return T_NUMBER | T_INTEGER;
	case json_type_double:
		d = json_object_get_double(v);
		if (isfinite(d) && d == floor(d))
			return T_NUMBER | T_INTEGER;
		return T_NUMBER;
	case json_type_string:
		return T_STRING;
	case json_type_array:
		return T_ARRAY;
	case json_type_object:
		return T_OBJECT;
	}
	return 0;
}

/* JSON equality: numbers by value, objects regardless of member order. */
static int
json_eq(json_object *a, json_object *b, int depth)
{
	unsigned int	 ta = type_of(a), tb = type_of(b);
	size_t		 i, n;

	if (depth > LIM_SCHEMA_EQ_DEPTH)
		return 0;
	if ((ta & T_NUMBER) && (tb & T_NUMBER))
		return numcmp(a, b) == 0;
	if (ta != tb)
		return 0;
	switch (ta) {
	case T_NULL:
		return 1;
	case T_BOOLEAN:
		return json_object_get_boolean(a) ==
		    json_object_get_boolean(b);
	case T_STRING:
		n = (size_t)json_object_get_string_len(a);
		return n == (size_t)json_object_get_string_len(b) &&
		    memcmp(json_object_get_string(a),
		    json_object_get_string(b), n) == 0;
	case T_ARRAY:
		n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return 0;
		for (i = 0; i < n; i++)
			if (!json_eq(json_object_array_get_idx(a, i),
			    json_object_array_get_idx(b, i), depth + 1))
				return 0;
		return 1;
	case T_OBJECT:
		if (json_object_object_length(a) !=
		    json_object_object_length(b))
			return 0;
		{
			json_object_object_foreach(a, k, v) {
				json_object	*w;

				if (!json_object_object_get_ex(b, k, &w) ||
				    !json_eq(v, w, depth + 1))
					return 0;
			}
		}
		return 1;
	}
	return 0;
}

/* ECMA-262 long General_Category names and PCRE2's short ones. */
static const struct {
	const char	*ecma;
	const char	*pcre;
} gcnames[] = {
	{ "Letter", "L" },		{ "Cased_Letter", "L&" },
	{ "Uppercase_Letter", "Lu" },	{ "Lowercase_Letter", "Ll" },
	{ "Titlecase_Letter", "Lt" },	{ "Modifier_Letter", "Lm" },
	{ "Other_Letter", "Lo" },	{ "Mark", "M" },
	{ "Combining_Mark", "M" },	{ "Nonspacing_Mark", "Mn" },
	{ "Spacing_Mark", "Mc" },	{ "Enclosing_Mark", "Me" },
	{ "Number", "N" },		{ "Decimal_Number", "Nd" },
	{ "digit", "Nd" },		{ "Letter_Number", "Nl" },
	{ "Other_Number", "No" },	{ "Punctuation", "P" },
	{ "punct", "P" },		{ "Connector_Punctuation", "Pc" },
	{ "Dash_Punctuation", "Pd" },	{ "Open_Punctuation", "Ps" },
	{ "Close_Punctuation", "Pe" },	{ "Initial_Punctuation", "Pi" },
	{ "Final_Punctuation", "Pf" },	{ "Other_Punctuation", "Po" },
	{ "Symbol", "S" },		{ "Math_Symbol", "Sm" },
	{ "Currency_Symbol", "Sc" },	{ "Modifier_Symbol", "Sk" },
	{ "Other_Symbol", "So" },	{ "Separator", "Z" },
	{ "Space_Separator", "Zs" },	{ "Line_Separator", "Zl" },
	{ "Paragraph_Separator", "Zp" },	{ "Other", "C" },
	{ "Control", "Cc" },		{ "cntrl", "Cc" },
	{ "Format", "Cf" },		{ "Surrogate", "Cs" },
	{ "Private_Use", "Co" },	{ "Unassigned", "Cn" }
};

/* Rewrites the property name of one \p{...} for PCRE2. */
static void
re_propname(const char *name, size_t len, struct buf *out)
{
	static const char	*pfx[] = { "General_Category=", "gc=",
	    "Script=", "sc=" };
	size_t			 i, pl;

	for (i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++) {
		pl = strlen(pfx[i]);
		if (len > pl && memcmp(name, pfx[i], pl) == 0) {
			name += pl;
			len -= pl;
			break;
		}
	}
	for (i = 0; i < sizeof(gcnames) / sizeof(gcnames[0]); i++)
		if (strlen(gcnames[i].ecma) == len &&
		    memcmp(gcnames[i].ecma, name, len) == 0) {
			buf_puts(out, gcnames[i].pcre);
			return;
		}
	buf_add(out, name, len);
}

/* The pattern with ECMA-262 property names spelled for PCRE2. */
static void
re_translate(const char *p, size_t len, struct buf *out)
{
	size_t		 i, j;

	for (i = 0; i < len; i++) {
		if (p[i] != '\\' || i + 1 >= len) {
			buf_putc(out, p[i]);
			continue;
		}
		if ((p[i + 1] == 'p' || p[i + 1] == 'P') && i + 2 < len &&
		    p[i + 2] == '{') {
			for (j = i + 3; j < len && p[j] != '}'; j++)
				;
			if (j < len) {
				buf_add(out, p + i, 3);
				re_propname(p + i + 3, j - i - 3, out);
				buf_putc(out, '}');
				i = j;
				continue;
			}
		}
		/* Any other escape is copied whole: \\p is no property. */
		buf_add(out, p + i, 2);
		i++;
	}
}

static pcre2_code *
re_compile(struct loader *l, json_object *v)
{
	pcre2_code	*re;
	int		 code;
	PCRE2_SIZE	 off;
	char		 msg[160], what[200];
	struct buf	 pat;

	if (!json_object_is_type(v, json_type_string)) {
		loaderr(l, "pattern is not a string", NULL);
		return NULL;
	}
	buf_init(&pat, LIM_FILE);
	buf_add(&pat, "", 0);
	re_translate(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v), &pat);
	if (pat.over) {
		buf_free(&pat);
		loaderr(l, "pattern too long", NULL);
		return NULL;
	}
	re = pcre2_compile((PCRE2_SPTR)pat.ptr, (PCRE2_SIZE)pat.len,
	    PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY |
	    PCRE2_ALLOW_EMPTY_CLASS, &code, &off, NULL);
	buf_free(&pat);
	if (re == NULL) {
		pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof(msg));
		snprintf(what, sizeof(what), "bad pattern at %zu (%s)",
		    (size_t)off, msg);
		loaderr(l, what, json_object_get_string(v));
		return NULL;
	}
	/*
	 * No pcre2_jit_compile(): it needs executable memory and its code
	 * trips valgrind, while our patterns are short and so are the
	 * strings they test.
	 */
	return re;
}

static char *
keep_str(struct loader *l, char *s)
{
	l->strs = grow(l->strs, l->nstrs, sizeof(*l->strs));
	l->strs[l->nstrs++] = s;
	return s;
}

static void
add_ident(struct ident **arr, size_t *n, char *uri, json_object *obj)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		if (strcmp((*arr)[i].uri, uri) == 0) {
			/* The first definition wins; a duplicate is ignored. */
			free(uri);
			return;
		}
	*arr = grow(*arr, *n, sizeof(**arr));
	(*arr)[*n].uri = uri;
	(*arr)[*n].obj = obj;
	(*n)++;
}

static json_object *
find_ident(const struct ident *arr, size_t n, const char *uri, size_t len)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strlen(arr[i].uri) == len &&
		    memcmp(arr[i].uri, uri, len) == 0)
			return arr[i].obj;
	return NULL;
}

/* The base URI of obj given its parent's: applies obj's own $id. */
static const char *
own_base(struct loader *l, json_object *obj, const char *pbase)
{
	json_object	*id;
	char		*b;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "$id", &id) ||
	    !json_object_is_type(id, json_type_string))
		return pbase;
	if ((b = uri_resolve(pbase, json_object_get_string(id), 1)) == NULL) {
		loaderr(l, "$id too long", json_object_get_string(id));
		return NULL;
	}
	return keep_str(l, b);
}

/*
 * First walk: bases, resources and anchors.  Only values of known
 * applicator keywords are schemas; an $id inside enum, const or an
 * unknown keyword names nothing.
 */
static int
scan(struct loader *l, json_object *obj, const char *pbase, int depth)
{
	const char		*base;
	const struct kwdef	*d;
	json_object		*a;
	size_t			 i;
	char			*uri;
	struct buf		 b;
	static const char	*anchorkw[] = { "$anchor", "$dynamicAnchor" };

	if (!json_object_is_type(obj, json_type_object))
		return 0;
	if (depth > LIM_SCHEMA_DOC_DEPTH)
		return loaderr(l, "schema nested too deeply", NULL);
	if ((base = own_base(l, obj, pbase)) == NULL)
		return -1;
	/* The map is untyped; compile() reads the value back as const. */
	ptrmap_put(&l->bases, obj, (void *)(uintptr_t)base);
	if (base != pbase || depth == 0)
		add_ident(&l->res, &l->nres, xstrdup(base), obj);
	for (i = 0; i < 2; i++) {
		if (!json_object_object_get_ex(obj, anchorkw[i], &a) ||
		    !json_object_is_type(a, json_type_string))
			continue;
		buf_init(&b, LIM_SCHEMA_URI);
		buf_printf(&b, "%s#%s", base, json_object_get_string(a));
		if (b.over) {
			buf_free(&b);
			return loaderr(l, "$anchor too long", NULL);
		}
		uri = buf_take(&b);
		add_ident(&l->anchors, &l->nanchors, uri, obj);
	}
	json_object_object_foreach(obj, key, val) {
		if ((d = kwdef_find(key)) == NULL)
			continue;
		if (d->arg == A_SCHEMA) {
			if (scan(l, val, base, depth + 1) == -1)
				return -1;
		} else if (d->arg == A_SCHEMAS &&
		    json_object_is_type(val, json_type_array)) {
			for (i = 0; i < json_object_array_length(val); i++)
				if (scan(l, json_object_array_get_idx(val, i),
				    base, depth + 1) == -1)
					return -1;
		} else if (d->arg == A_SCHEMAMAP &&
		    json_object_is_type(val, json_type_object)) {
			json_object_object_foreach(val, mk, mv) {
				(void)mk;
				if (scan(l, mv, base, depth + 1) == -1)
					return -1;
			}
		}
	}
	return 0;
}

static struct snode *compile(struct loader *, json_object *, const char *,
    int);

static int
compile_map(struct loader *l, struct kw *k, json_object *val,
    const char *base, int depth)
{
	size_t	 n;

	if (!json_object_is_type(val, json_type_object))
		return loaderr(l, "not an object", k->name);
	k->named = xcalloc(json_object_object_length(val),
	    sizeof(*k->named));
	json_object_object_foreach(val, key, sub) {
		n = k->nnamed++;
		k->named[n].name = key;
		if (k->type == K_PATTERNPROPS) {
			json_object	*pat = json_object_new_string(key);

			k->named[n].re = re_compile(l, pat);
			json_object_put(pat);
			if (k->named[n].re == NULL)
				return -1;
		}
		if ((k->named[n].sub = compile(l, sub, base, depth + 1)) ==
		    NULL)
			return -1;
	}
	return 0;
}

static int
compile_types(struct loader *l, struct kw *k, json_object *val)
{
	json_object	*t;
	size_t		 i, j, n = 1;
	unsigned int	 bit;

	if (json_object_is_type(val, json_type_array))
		n = json_object_array_length(val);
	for (i = 0; i < n; i++) {
		t = json_object_is_type(val, json_type_array) ?
		    json_object_array_get_idx(val, i) : val;
		if (!json_object_is_type(t, json_type_string))
			return loaderr(l, "type is not a string", NULL);
		bit = 0;
		for (j = 0; j < sizeof(typenames) / sizeof(typenames[0]); j++)
			if (strcmp(typenames[j].name,
			    json_object_get_string(t)) == 0)
				bit = typenames[j].bit;
		if (bit == 0)
			return loaderr(l, "unknown type",
			    json_object_get_string(t));
		k->types |= bit;
	}
	return 0;
}

static int
is_string_array(json_object *v)
{
	size_t	 i;

	if (!json_object_is_type(v, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(v); i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i),
		    json_type_string))
			return 0;
	return 1;
}

/* Builds one keyword from its value. */
static int
compile_kw(struct loader *l, struct kw *k, const struct kwdef *d,
    json_object *val, const char *base, int depth)
{
	size_t	 i;

	switch (d->arg) {
	case A_SCHEMA:
		if ((k->sub = compile(l, val, base, depth + 1)) == NULL)
			return -1;
		return 0;
	case A_SCHEMAS:
		if (!json_object_is_type(val, json_type_array) ||
		    json_object_array_length(val) == 0)
			return loaderr(l, "not a non-empty array", k->name);
		k->nsubs = json_object_array_length(val);
		k->subs = xcalloc(k->nsubs, sizeof(*k->subs));
		for (i = 0; i < k->nsubs; i++)
			if ((k->subs[i] = compile(l,
			    json_object_array_get_idx(val, i), base,
			    depth + 1)) == NULL)
				return -1;
		return 0;
	case A_SCHEMAMAP:
		return compile_map(l, k, val, base, depth);
	case A_COUNT:
		if (get_count(val, &k->n) == -1)
			return loaderr(l, "not a non-negative integer",
			    k->name);
		return 0;
	case A_NUMBER:
	case A_POSNUMBER:
		if (!is_number(val) || (d->arg == A_POSNUMBER &&
		    numval(val) <= 0))
			return loaderr(l, "bad number", k->name);
		return 0;
	case A_TYPE:
		return compile_types(l, k, val);
	case A_ARRAY:
		if (!json_object_is_type(val, json_type_array))
			return loaderr(l, "not an array", k->name);
		return 0;
	case A_ANY:
		return 0;
	case A_STRINGS:
		if (!is_string_array(val))
			return loaderr(l, "not an array of strings", k->name);
		return 0;
	case A_BOOL:
		if (!json_object_is_type(val, json_type_boolean))
			return loaderr(l, "not a boolean", k->name);
		k->n = json_object_get_boolean(val);
		return 0;
	case A_PATTERN:
		return (k->re = re_compile(l, val)) == NULL ? -1 : 0;
	case A_REF:
		if (!json_object_is_type(val, json_type_string))
			return loaderr(l, "not a string", k->name);
		if ((k->ref = uri_resolve(base, json_object_get_string(val),
		    0)) == NULL)
			return loaderr(l, "reference too long", k->name);
		return 0;
	case A_DEPREQ:
		if (!json_object_is_type(val, json_type_object))
			return loaderr(l, "not an object", k->name);
		{
			json_object_object_foreach(val, dk, dv) {
				(void)dk;
				if (!is_string_array(dv))
					return loaderr(l,
					    "not an array of strings",
					    k->name);
			}
		}
		return 0;
	}
	return 0;
}

/* Lets keywords that depend on siblings find them. */
static void
link_siblings(struct snode *n)
{
	struct kw	*k, *o;
	size_t		 i, j;

	for (i = 0; i < n->nkws; i++) {
		k = &n->kws[i];
		if (k->type == K_CONTAINS) {
			k->n = 1;
			k->max = -1;
		}
		for (j = 0; j < n->nkws; j++) {
			o = &n->kws[j];
			switch (k->type) {
			case K_IF:
				if (o->type == K_THEN)
					k->then = o->sub;
				else if (o->type == K_ELSE)
					k->els = o->sub;
				break;
			case K_CONTAINS:
				if (o->type == K_MINCONTAINS) {
					k->n = o->n;
					k->hasmin = 1;
				} else if (o->type == K_MAXCONTAINS)
					k->max = o->n;
				break;
			case K_ADDPROPS:
				if (o->type == K_PROPERTIES)
					k->props = o;
				else if (o->type == K_PATTERNPROPS)
					k->pprops = o;
				break;
			case K_ITEMS:
				if (o->type == K_PREFIXITEMS)
					k->n = (int64_t)o->nsubs;
				break;
			default:
				break;
			}
		}
	}
}

static int
is_uneval(const struct kw *k)
{
	return k->type == K_UNEVALITEMS || k->type == K_UNEVALPROPS;
}

/* unevaluated* see what their siblings evaluated, so they run last. */
static void
order_unevaluated(struct snode *n)
{
	struct kw	*tmp;
	size_t		 i, j = 0;

	if (n->nkws < 2)
		return;
	tmp = xcalloc(n->nkws, sizeof(*tmp));
	for (i = 0; i < n->nkws; i++)
		if (!is_uneval(&n->kws[i]))
			tmp[j++] = n->kws[i];
	for (i = 0; i < n->nkws; i++)
		if (is_uneval(&n->kws[i]))
			tmp[j++] = n->kws[i];
	memcpy(n->kws, tmp, n->nkws * sizeof(*tmp));
	free(tmp);
}

static struct snode *
new_node(struct loader *l, json_object *obj)
{
	struct schema	*s = l->s;
	struct snode	*n = xcalloc(1, sizeof(*n));

	n->obj = obj;
	n->isbool = -1;
	s->nodes = grow(s->nodes, s->nnodes, sizeof(*s->nodes));
	s->nodes[s->nnodes++] = n;
	ptrmap_put(&l->nodes, obj, n);
	return n;
}

/*
 * Second walk: the node for obj, compiled once.  pbase is the parent's
 * base URI, used when obj was not seen by scan() (a schema reached by a
 * JSON Pointer into an unknown keyword).
 */
static struct snode *
compile(struct loader *l, json_object *obj, const char *pbase, int depth)
{
	struct snode		*n;
	const struct kwdef	*d;
	const char		*base;
	json_object		*v;
	struct kw		*k;
	size_t			 i;

	if ((n = ptrmap_get(&l->nodes, obj)) != NULL)
		return n;
	if (depth > LIM_SCHEMA_DOC_DEPTH) {
		loaderr(l, "schema nested too deeply", NULL);
		return NULL;
	}
	if (json_object_is_type(obj, json_type_boolean)) {
		n = new_node(l, obj);
		n->isbool = json_object_get_boolean(obj) ? 1 : 0;
		return n;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		loaderr(l, "a schema must be an object or a boolean", NULL);
		return NULL;
	}
	if ((base = ptrmap_get(&l->bases, obj)) == NULL &&
	    (base = own_base(l, obj, pbase)) == NULL)
		return NULL;
	n = new_node(l, obj);
	if (json_object_object_get_ex(obj, "title", &v) &&
	    json_object_is_type(v, json_type_string))
		n->title = json_object_get_string(v);
	if (json_object_object_get_ex(obj, "x-message", &v) &&
	    json_object_is_type(v, json_type_string))
		n->message = json_object_get_string(v);
	n->kws = xcalloc(json_object_object_length(obj), sizeof(*n->kws));
	json_object_object_foreach(obj, key, val) {
		if ((d = kwdef_find(key)) == NULL)
			continue;
		k = &n->kws[n->nkws++];
		k->type = d->type;
		k->name = key;
		k->val = val;
		k->max = -1;
		if (compile_kw(l, k, d, val, base, depth) == -1)
			return NULL;
	}
	order_unevaluated(n);
	link_siblings(n);
	/* The kws array is final now, so pointers into it stay valid. */
	for (i = 0; i < n->nkws; i++)
		if (n->kws[i].type == K_REF) {
			l->pending = grow(l->pending, l->npending,
			    sizeof(*l->pending));
			l->pending[l->npending++] = &n->kws[i];
		}
	return n;
}

/*
 * Follows a JSON Pointer (already percent-decoded) from a resource.
 * Sets *pbase to the base URI of the target's parent.
 */
static json_object *
pointer_walk(struct loader *l, json_object *obj, const char *ptr,
    const char **pbase)
{
	const char	*p = ptr, *base = *pbase, *nb;
	struct buf	 tok;
	json_object	*next;
	long long	 idx;

	if (*p == '\0')
		return obj;
	if (*p != '/')
		return NULL;
	buf_init(&tok, LIM_SCHEMA_URI);
	while (*p == '/') {
		p++;
		buf_reset(&tok);
		buf_add(&tok, "", 0);
		for (; *p != '\0' && *p != '/'; p++) {
			if (*p == '~' && p[1] == '0') {
				buf_putc(&tok, '~');
				p++;
			} else if (*p == '~' && p[1] == '1') {
				buf_putc(&tok, '/');
				p++;
			} else if (*p == '~')
				goto fail;
			else
				buf_putc(&tok, *p);
		}
		if (tok.over)
			goto fail;
		if (json_object_is_type(obj, json_type_object)) {
			if (!json_object_object_get_ex(obj, tok.ptr, &next))
				goto fail;
		} else if (json_object_is_type(obj, json_type_array)) {
			if ((tok.len > 1 && tok.ptr[0] == '0') ||
			    num_parse(tok.ptr, 0, INT64_MAX, &idx) == -1 ||
			    (size_t)idx >= json_object_array_length(obj))
				goto fail;
			next = json_object_array_get_idx(obj, (size_t)idx);
		} else
			goto fail;
		/* Track the base of the object we step from. */
		if ((nb = ptrmap_get(&l->bases, obj)) != NULL)
			base = nb;
		else if ((nb = own_base(l, obj, base)) == NULL)
			goto fail;
		else
			base = nb;
		obj = next;
	}
	buf_free(&tok);
	*pbase = base;
	return obj;
 fail:
	buf_free(&tok);
	return NULL;
}

/* Finds and compiles the target of one $ref. */
static int
resolve_ref(struct loader *l, struct kw *k)
{
	const char	*hash, *base, *frag;
	json_object	*res, *target;
	char		*ptr;
	size_t		 doclen;

	hash = strchr(k->ref, '#');
	doclen = hash != NULL ? (size_t)(hash - k->ref) : strlen(k->ref);
	frag = hash != NULL ? hash + 1 : "";
	if ((res = find_ident(l->res, l->nres, k->ref, doclen)) == NULL)
		return loaderr(l, "unresolved $ref", k->ref);
	if (*frag == '\0' || *frag == '/') {
		if ((base = ptrmap_get(&l->bases, res)) == NULL)
			base = SCHEMA_DEFAULT_BASE;
		ptr = pct_decode(frag, strlen(frag));
		target = pointer_walk(l, res, ptr, &base);
		free(ptr);
	} else {
		target = find_ident(l->anchors, l->nanchors, k->ref,
		    strlen(k->ref));
		base = SCHEMA_DEFAULT_BASE;
	}
	if (target == NULL)
		return loaderr(l, "unresolved $ref", k->ref);
	if ((k->sub = compile(l, target, base, 0)) == NULL)
		return -1;
	free(k->ref);
	k->ref = NULL;
	return 0;
}

struct schema *
schema_load(json_object *doc, char *err, size_t errsz)
{
	struct loader	 l;
	struct schema	*s;
	size_t		 i;

	memset(&l, 0, sizeof(l));
	l.err = err;
	l.errsz = errsz;
	if (errsz > 0)
		err[0] = '\0';
	s = xcalloc(1, sizeof(*s));
	s->doc = json_object_get(doc);
	l.s = s;
	if (scan(&l, doc, SCHEMA_DEFAULT_BASE, 0) == -1)
		goto fail;
	if ((s->root = compile(&l, doc, SCHEMA_DEFAULT_BASE, 0)) == NULL)
		goto fail;
	/* compile() may append more while we resolve: index, no pointer. */
	for (i = 0; i < l.npending; i++)
		if (resolve_ref(&l, l.pending[i]) == -1)
			goto fail;
	goto out;
 fail:
	schema_free(s);
	s = NULL;
 out:
	for (i = 0; i < l.nres; i++)
		free(l.res[i].uri);
	free(l.res);
	for (i = 0; i < l.nanchors; i++)
		free(l.anchors[i].uri);
	free(l.anchors);
	for (i = 0; i < l.nstrs; i++)
		free(l.strs[i]);
	free(l.strs);
	free(l.pending);
	ptrmap_free(&l.bases);
	ptrmap_free(&l.nodes);
	return s;
}

void
schema_free(struct schema *s)
{
	struct snode	*n;
	struct kw	*k;
	size_t		 i, j, m;

	if (s == NULL)
		return;
	for (i = 0; i < s->nnodes; i++) {
		n = s->nodes[i];
		for (j = 0; j < n->nkws; j++) {
			k = &n->kws[j];
			free(k->subs);
			for (m = 0; m < k->nnamed; m++)
				pcre2_code_free(k->named[m].re);
			free(k->named);
			pcre2_code_free(k->re);
			free(k->ref);
		}
		free(n->kws);
		free(n);
	}
	free(s->nodes);
	json_object_put(s->doc);
	free(s);
}

/* Appends s to the pointer in e, escaped; -1 when it would not fit. */
static int
ptr_add(char *dst, size_t *len, size_t cap, const char *s)
{
	size_t	 l = *len;

	if (l + 1 >= cap)
		return -1;
	dst[l++] = '/';
	for (; *s != '\0'; s++) {
		if (l + 2 >= cap)
			return -1;
		if (*s == '~' || *s == '/') {
			dst[l++] = '~';
			dst[l++] = *s == '~' ? '0' : '1';
		} else
			dst[l++] = *s;
	}
	dst[l] = '\0';
	*len = l;
	return 0;
}

static void
set_field(struct schema_err *e, const char *name)
{
	size_t	 n = utf8_cut(name, strlen(name), sizeof(e->field) - 1);

	memcpy(e->field, name, n);
	e->field[n] = '\0';
}

/*
 * Records the error of keyword kwname in schema node n (NULL for the
 * false root).  A pointer that passes LIM_SCHEMA_PTR ends at the last
 * step that fits.
 */
static void
fail(struct vctx *c, const struct snode *n, const char *kwname,
    const char *missing)
{
	struct schema_err	*e = c->err;
	char			 idx[32];
	size_t			 i, len = 0;
	const char		*field = "";
	json_object		*p, *ps, *t;

	if (e == NULL)
		return;
	memset(e, 0, sizeof(*e));
	snprintf(e->keyword, sizeof(e->keyword), "%s", kwname);
	for (i = 0; i < c->plen; i++) {
		size_t	 save = len;

		if (c->path[i].key != NULL) {
			field = c->path[i].key;
			if (ptr_add(e->instance, &len, sizeof(e->instance),
			    c->path[i].key) == -1) {
				e->instance[save] = '\0';
				break;
			}
		} else {
			snprintf(idx, sizeof(idx), "%zu", c->path[i].idx);
			if (ptr_add(e->instance, &len, sizeof(e->instance),
			    idx) == -1) {
				e->instance[save] = '\0';
				break;
			}
		}
	}
	if (n != NULL) {
		e->title = n->title;
		e->message = n->message;
	}
	if (missing != NULL) {
		field = missing;
		e->title = NULL;
		if (n != NULL &&
		    json_object_object_get_ex(n->obj, "properties", &p) &&
		    json_object_is_type(p, json_type_object) &&
		    json_object_object_get_ex(p, missing, &ps) &&
		    json_object_is_type(ps, json_type_object) &&
		    json_object_object_get_ex(ps, "title", &t) &&
		    json_object_is_type(t, json_type_string))
			e->title = json_object_get_string(t);
	}
	set_field(e, field);
}

static int
re_match(struct vctx *c, pcre2_code *re, const char *s, size_t len)
{
	int	 rc;

	if (c->md == NULL &&
	    (c->md = pcre2_match_data_create(1, NULL)) == NULL)
		abort();	/* out of memory, like xmalloc() */
	rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, c->md, NULL);
	return rc >= 0;
}

static int eval(struct vctx *, const struct snode *, json_object *,
    const struct snode *, const char *);

/* Applies sub to a member or item, the path extended by one step. */
static int
eval_at(struct vctx *c, const struct snode *sub, json_object *v,
    const char *key, size_t idx, const struct snode *from,
    const char *kwname)
{
	int	 ok;

	if (c->plen >= sizeof(c->path) / sizeof(c->path[0])) {
		fail(c, from, "depth", NULL);
		return 0;
	}
	c->path[c->plen].key = key;
	c->path[c->plen].idx = idx;
	c->plen++;
	ok = eval(c, sub, v, from, kwname);
	c->plen--;
	return ok;
}

/* Applies sub without recording errors, to learn whether it holds. */
static int
probe(struct vctx *c, const struct snode *sub, json_object *v)
{
	struct schema_err	*e = c->err;
	int			 ok;

	c->err = NULL;
	ok = eval(c, sub, v, NULL, NULL);
	c->err = e;
	return ok;
}

/*
 * Whether node n, which inst passes, evaluates the property key (or,
 * with key NULL, the item idx) through its keywords or passing in-place
 * subschemas.  With top set, n's own unevaluated* do not count.
 */
static int
evaluated(struct vctx *c, const struct snode *n, json_object *inst,
    const char *key, size_t idx, int top)
{
	const struct kw	*k;
	size_t		 i, j;
	int		 hit = 0;

	if (n->isbool != -1 || c->depth >= LIM_SCHEMA_DEPTH)
		return 0;
	c->depth++;
	for (i = 0; i < n->nkws && !hit; i++) {
		k = &n->kws[i];
		switch (k->type) {
		case K_PROPERTIES:
			for (j = 0; key != NULL && j < k->nnamed && !hit; j++)
				hit = strcmp(k->named[j].name, key) == 0;
			break;
		case K_PATTERNPROPS:
			for (j = 0; key != NULL && j < k->nnamed && !hit; j++)
				hit = re_match(c, k->named[j].re, key,
				    strlen(key));
			break;
		case K_ADDPROPS:
			hit = key != NULL;
			break;
		case K_UNEVALPROPS:
			hit = key != NULL && !top;
			break;
		case K_PREFIXITEMS:
			hit = key == NULL && idx < k->nsubs;
			break;
		case K_ITEMS:
			hit = key == NULL;
			break;
		case K_UNEVALITEMS:
			hit = key == NULL && !top;
			break;
		case K_CONTAINS:
			hit = key == NULL && probe(c, k->sub,
			    json_object_array_get_idx(inst, idx));
			break;
		case K_REF:
			hit = evaluated(c, k->sub, inst, key, idx, 0);
			break;
		case K_ALLOF:
			for (j = 0; j < k->nsubs && !hit; j++)
				hit = evaluated(c, k->subs[j], inst, key, idx,
				    0);
			break;
		case K_ANYOF:
		case K_ONEOF:
			for (j = 0; j < k->nsubs && !hit; j++)
				hit = probe(c, k->subs[j], inst) &&
				    evaluated(c, k->subs[j], inst, key, idx,
				    0);
			break;
		case K_IF:
			if (probe(c, k->sub, inst))
				hit = evaluated(c, k->sub, inst, key, idx, 0) ||
				    (k->then != NULL && evaluated(c, k->then,
				    inst, key, idx, 0));
			else
				hit = k->els != NULL && evaluated(c, k->els,
				    inst, key, idx, 0);
			break;
		case K_DEPSCHEMAS:
			for (j = 0; j < k->nnamed && !hit; j++)
				hit = json_object_is_type(inst,
				    json_type_object) &&
				    json_object_object_get_ex(inst,
				    k->named[j].name, NULL) &&
				    evaluated(c, k->named[j].sub, inst, key,
				    idx, 0);
			break;
		default:
			break;
		}
	}
	c->depth--;
	return hit;
}

static int
eval_contains(struct vctx *c, const struct snode *n, const struct kw *k,
    json_object *inst)
{
	size_t		 i, len = json_object_array_length(inst);
	int64_t		 count = 0;
	size_t		 firstbad = len;

	for (i = 0; i < len; i++) {
		if (probe(c, k->sub, json_object_array_get_idx(inst, i)))
			count++;
		else if (firstbad == len)
			firstbad = i;
		if (k->max < 0 && count >= k->n)
			return 1;
	}
	if (k->max >= 0 && count > k->max) {
		fail(c, n, "maxContains", NULL);
		return 0;
	}
	if (count >= k->n)
		return 1;
	/* Too few: report why the first item that failed did fail. */
	if (firstbad < len && !eval_at(c, k->sub,
	    json_object_array_get_idx(inst, firstbad), NULL, firstbad, n,
	    k->name))
		return 0;
	fail(c, n, k->hasmin ? "minContains" : k->name, NULL);
	return 0;
}

static int
eval_addprops(struct vctx *c, const struct snode *n, const struct kw *k,
    json_object *inst)
{
	json_object	*dummy;
	size_t		 i;
	int		 matched;

	json_object_object_foreach(inst, key, v) {
		if (k->props != NULL &&
		    json_object_object_get_ex(k->props->val, key, &dummy))
			continue;
		matched = 0;
		if (k->pprops != NULL)
			for (i = 0; i < k->pprops->nnamed && !matched; i++)
				matched = re_match(c, k->pprops->named[i].re,
				    key, strlen(key));
		if (matched)
			continue;
		if (!eval_at(c, k->sub, v, key, 0, n, k->name))
			return 0;
	}
	return 1;
}

static int
eval_object(struct vctx *c, const struct snode *n, const struct kw *k,
    json_object *inst)
{
	json_object	*v, *name;
	size_t		 i, j, cnt;
	int		 ok;

	switch (k->type) {
	case K_MAXPROPS:
	case K_MINPROPS:
		cnt = (size_t)json_object_object_length(inst);
		if (k->type == K_MAXPROPS ? cnt > (uint64_t)k->n :
		    cnt < (uint64_t)k->n) {
			fail(c, n, k->name, NULL);
			return 0;
		}
		return 1;
	case K_REQUIRED:
		for (i = 0; i < json_object_array_length(k->val); i++) {
			name = json_object_array_get_idx(k->val, i);
			if (!json_object_object_get_ex(inst,
			    json_object_get_string(name), NULL)) {
				fail(c, n, k->name,
				    json_object_get_string(name));
				return 0;
			}
		}
		return 1;
	case K_DEPREQUIRED: {
		json_object_object_foreach(k->val, dk, dv) {
			if (!json_object_object_get_ex(inst, dk, NULL))
				continue;
			for (j = 0; j < json_object_array_length(dv); j++) {
				name = json_object_array_get_idx(dv, j);
				if (!json_object_object_get_ex(inst,
				    json_object_get_string(name), NULL)) {
					fail(c, n, k->name,
					    json_object_get_string(name));
					return 0;
				}
			}
		}
		return 1;
	}
	case K_DEPSCHEMAS:
		for (i = 0; i < k->nnamed; i++)
			if (json_object_object_get_ex(inst, k->named[i].name,
			    NULL) && !eval(c, k->named[i].sub, inst, n,
			    k->name))
				return 0;
		return 1;
	case K_PROPERTIES:
		for (i = 0; i < k->nnamed; i++)
			if (json_object_object_get_ex(inst, k->named[i].name,
			    &v) && !eval_at(c, k->named[i].sub, v,
			    k->named[i].name, 0, n, k->name))
				return 0;
		return 1;
	case K_PATTERNPROPS: {
		json_object_object_foreach(inst, key, pv) {
			for (i = 0; i < k->nnamed; i++)
				if (re_match(c, k->named[i].re, key,
				    strlen(key)) && !eval_at(c,
				    k->named[i].sub, pv, key, 0, n, k->name))
					return 0;
		}
		return 1;
	}
	case K_ADDPROPS:
		return eval_addprops(c, n, k, inst);
	case K_UNEVALPROPS: {
		json_object_object_foreach(inst, key, uv)
			if (!evaluated(c, n, inst, key, 0, 1) &&
			    !eval_at(c, k->sub, uv, key, 0, n, k->name))
				return 0;
		return 1;
	}
	case K_PROPNAMES: {
		json_object_object_foreach(inst, key, pv) {
			(void)pv;
			name = json_object_new_string(key);
			ok = eval_at(c, k->sub, name, key, 0, n, k->name);
			json_object_put(name);
			if (!ok)
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

static int
eval_array(struct vctx *c, const struct snode *n, const struct kw *k,
    json_object *inst)
{
	size_t	 i, j, len = json_object_array_length(inst);

	switch (k->type) {
	case K_MAXITEMS:
	case K_MINITEMS:
		if (k->type == K_MAXITEMS ? len > (uint64_t)k->n :
		    len < (uint64_t)k->n) {
			fail(c, n, k->name, NULL);
			return 0;
		}
		return 1;
	case K_UNIQUEITEMS:
		if (!k->n)
			return 1;
		for (i = 0; i < len; i++)
			for (j = i + 1; j < len; j++)
				if (json_eq(json_object_array_get_idx(inst, i),
				    json_object_array_get_idx(inst, j), 0)) {
					fail(c, n, k->name, NULL);
					return 0;
				}
		return 1;
	case K_PREFIXITEMS:
		for (i = 0; i < len && i < k->nsubs; i++)
			if (!eval_at(c, k->subs[i],
			    json_object_array_get_idx(inst, i), NULL, i, n,
			    k->name))
				return 0;
		return 1;
	case K_ITEMS:
		for (i = (size_t)k->n; i < len; i++)
			if (!eval_at(c, k->sub,
			    json_object_array_get_idx(inst, i), NULL, i, n,
			    k->name))
				return 0;
		return 1;
	case K_CONTAINS:
		return eval_contains(c, n, k, inst);
	case K_UNEVALITEMS:
		for (i = 0; i < len; i++)
			if (!evaluated(c, n, inst, NULL, i, 1) &&
			    !eval_at(c, k->sub,
			    json_object_array_get_idx(inst, i), NULL, i, n,
			    k->name))
				return 0;
		return 1;
	default:
		return 1;
	}
}

static int
eval_number(struct vctx *c, const struct snode *n, const struct kw *k,
    json_object *inst)
{
	int	 ok = 1, cmp;
	double	 q;

	switch (k->type) {
	case K_MULTIPLEOF:
		if (json_object_is_type(inst, json_type_int) &&
		    json_object_is_type(k->val, json_type_int))
			ok = json_object_get_int64(inst) %
			    json_object_get_int64(k->val) == 0;
		else {
			/*
			 * Double division, with slack for binary fractions
			 * (0.0075 / 0.0001); a quotient past the range of
			 * a double is reported invalid, not accepted.
			 */
			q = (double)(numval(inst) / numval(k->val));
			ok = isfinite(q) && fabs(q - round(q)) < 1e-9;
		}
		break;
	case K_MAXIMUM:
	case K_EXMAXIMUM:
	case K_MINIMUM:
	case K_EXMINIMUM:
		cmp = numcmp(inst, k->val);
		ok = k->type == K_MAXIMUM ? cmp <= 0 :
		    k->type == K_EXMAXIMUM ? cmp < 0 :
		    k->type == K_MINIMUM ? cmp >= 0 : cmp > 0;
		break;
	default:
		break;
	}
	if (!ok)
		fail(c, n, k->name, NULL);
	return ok;
}

static int
eval_string(struct vctx *c, const struct snode *n, const struct kw *k,
    json_object *inst)
{
	const char	*s = json_object_get_string(inst);
	size_t		 len = (size_t)json_object_get_string_len(inst);
	int		 ok = 1;

	switch (k->type) {
	case K_MAXLENGTH:
		/* Code points, not bytes: a cheap byte check first. */
		ok = len <= (uint64_t)k->n || utf8_len(s, len) <=
		    (uint64_t)k->n;
		break;
	case K_MINLENGTH:
		ok = utf8_len(s, len) >= (uint64_t)k->n;
		break;
	case K_PATTERN:
		ok = re_match(c, k->re, s, len);
		break;
	default:
		break;
	}
	if (!ok)
		fail(c, n, k->name, NULL);
	return ok;
}

static int
eval_kw(struct vctx *c, const struct snode *n, const struct kw *k,
    json_object *inst, unsigned int t)
{
	size_t	 i, cnt;

	switch (k->type) {
	case K_TYPE:
		if ((k->types & t) == 0) {
			fail(c, n, k->name, NULL);
			return 0;
		}
		return 1;
	case K_ENUM:
		for (i = 0; i < json_object_array_length(k->val); i++)
			if (json_eq(inst, json_object_array_get_idx(k->val, i),
			    0))
				return 1;
		fail(c, n, k->name, NULL);
		return 0;
	case K_CONST:
		if (json_eq(inst, k->val, 0))
			return 1;
		fail(c, n, k->name, NULL);
		return 0;
	case K_REF:
		return eval(c, k->sub, inst, n, k->name);
	case K_ALLOF:
		for (i = 0; i < k->nsubs; i++)
			if (!eval(c, k->subs[i], inst, n, k->name))
				return 0;
		return 1;
	case K_ANYOF:
		for (i = 0; i < k->nsubs; i++)
			if (probe(c, k->subs[i], inst))
				return 1;
		fail(c, n, k->name, NULL);
		return 0;
	case K_ONEOF:
		for (i = 0, cnt = 0; i < k->nsubs && cnt < 2; i++)
			if (probe(c, k->subs[i], inst))
				cnt++;
		if (cnt == 1)
			return 1;
		fail(c, n, k->name, NULL);
		return 0;
	case K_NOT:
		if (!probe(c, k->sub, inst))
			return 1;
		fail(c, n, k->name, NULL);
		return 0;
	case K_IF:
		if (probe(c, k->sub, inst))
			return k->then == NULL ||
			    eval(c, k->then, inst, n, "then");
		return k->els == NULL || eval(c, k->els, inst, n, "else");
	default:
		break;
	}
	if (t & T_NUMBER)
		return eval_number(c, n, k, inst);
	if (t == T_STRING)
		return eval_string(c, n, k, inst);
	if (t == T_ARRAY)
		return eval_array(c, n, k, inst);
	if (t == T_OBJECT)
		return eval_object(c, n, k, inst);
	return 1;
}

/*
 * Applies node n to inst.  from/kwname name the applicator that got us
 * here, which a false schema reports since it has no keyword of its own.
 */
static int
eval(struct vctx *c, const struct snode *n, json_object *inst,
    const struct snode *from, const char *kwname)
{
	unsigned int	 t;
	size_t		 i;
	int		 ok = 1;

	if (n->isbool == 1)
		return 1;
	if (n->isbool == 0) {
		fail(c, from, from != NULL ? kwname : "false", NULL);
		return 0;
	}
	/* A $ref cycle that consumes no instance ends here. */
	if (c->depth >= LIM_SCHEMA_DEPTH) {
		fail(c, n, "depth", NULL);
		return 0;
	}
	c->depth++;
	t = type_of(inst);
	for (i = 0; i < n->nkws; i++)
		if (!eval_kw(c, n, &n->kws[i], inst, t)) {
			ok = 0;
			break;
		}
	c->depth--;
	return ok;
}

int
schema_validate(const struct schema *s, json_object *inst,
    struct schema_err *err)
{
	struct vctx	 c;
	int		 ok;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	c.err = err;
	c.md = NULL;
	c.plen = 0;
	c.depth = 0;
	ok = eval(&c, s->root, inst, NULL, NULL);
	pcre2_match_data_free(c.md);
	return ok;
}
