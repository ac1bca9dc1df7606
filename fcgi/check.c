/*
 * The request contract of each component: conf/schemas/<name>.json.
 * A schema does two jobs.  Its "x-esb" annotations say how ESB's form
 * fields coerce what arrives (ListField, CharField, DefaultBooleanField,
 * TypeCheckField), and the schema proper validates the result.  The
 * first error becomes the contract's message: "<title> [<field>] <text>"
 * or the failing rule's verbatim "x-message" (contract 2.3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/request.h"
#include "lib/limits.h"
#include "custom.h"
#include "lib/schema.h"
#include "lib/util.h"
#include "named.h"
#include "route.h"

struct check_entry {
	const char	*name;		/* borrowed: the route's name */
	json_object	*doc;		/* owned: the schema document */
	struct schema	*schema;	/* owned: compiled */
};

static struct check_entry	*checks;	/* owned: one per route */
static size_t			 nchecks;

/*
 * Loads and compiles every component's schema.  A missing or broken
 * schema stops startup: returns -1 after one line per problem.
 */
int
check_init(const struct conf *c)
{
	const struct route	*rt;
	char			 path[LIM_PATH], err[256];
	size_t			 n = 0;
	int			 bad = 0, k = 0;

	for (rt = route_table(); rt->name != NULL; rt++)
		n++;
	checks = xcalloc(n + CK__MAX, sizeof(*checks));
	for (rt = route_table(); rt->name != NULL || k < CK__MAX; ) {
		struct check_entry	*e = &checks[nchecks++];

		/* The routes, then one schema per custom kind. */
		e->name = rt->name != NULL ? rt++->name :
		    custom_kind_schema(k++);
		snprintf(path, sizeof(path), "%s/%s.json", c->schemas_dir,
		    e->name);
		e->doc = json_object_from_file(path);
		if (e->doc == NULL) {
			fprintf(stderr, "%s: cannot read or parse\n", path);
			bad++;
			continue;
		}
		e->schema = schema_load(e->doc, err, sizeof(err));
		if (e->schema == NULL) {
			fprintf(stderr, "%s: %s\n", path, err);
			bad++;
		}
	}
	return bad ? -1 : 0;
}

void
check_free(void)
{
	size_t	 i;

	for (i = 0; i < nchecks; i++) {
		schema_free(checks[i].schema);
		json_object_put(checks[i].doc);
	}
	free(checks);
	checks = NULL;
	nchecks = 0;
}

static const struct check_entry *
check_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < nchecks; i++)
		if (strcmp(checks[i].name, name) == 0)
			return &checks[i];
	/* A custom component: the schema of its kind. */
	if ((name = custom_schema(name)) != NULL)
		for (i = 0; i < nchecks; i++)
			if (strcmp(checks[i].name, name) == 0)
				return &checks[i];
	return NULL;
}

int
check_has(const char *name)
{
	return check_find(name) != NULL;
}

static int
skip_empty(json_object *items)
{
	json_object	*v;

	return json_object_object_get_ex(items, "x-skip-empty", &v) &&
	    json_object_get_boolean(v);
}

/* The ESB coercion of one value for an "x-esb" kind; NULL = empty. */
static json_object *
coerce_one(const char *kind, json_object *v)
{
	json_object	*out;

	if (strcmp(kind, "list") == 0) {
		out = req_list(v);
		if (json_object_array_length(out) == 0) {
			json_object_put(out);
			return NULL;
		}
		return out;
	}
	if (strcmp(kind, "char") == 0)
		return req_text(v);
	if (strcmp(kind, "bool") == 0)
		return json_object_new_boolean(req_bool(v));
	/* "typed": kept as it is, so the schema can reject a bad type. */
	return req_empty(v) ? NULL : json_object_get(v);
}

/*
 * A copy of params with every property the schema annotates coerced and
 * Django's empty values dropped, recursing into objects and into the
 * objects of lists (attachments, user lists).  Caller puts it.
 */
json_object *
check_coerce(json_object *schema, json_object *params)
{
	json_object	*out, *props, *ps, *kind, *v, *nv, *items, *el;
	size_t		 i;

	out = json_object_new_object();
	json_object_object_foreach(params, key, val)
		json_object_object_add(out, key, json_object_get(val));
	if (!json_object_object_get_ex(schema, "properties", &props))
		return out;
	json_object_object_foreach(props, name, psch) {
		ps = psch;
		if (!json_object_object_get_ex(ps, "x-esb", &kind))
			continue;
		v = NULL;
		if (!json_object_object_get_ex(params, name, &v) &&
		    strcmp(jv_str(kind), "bool") != 0)
			continue;
		nv = coerce_one(json_object_get_string(kind), v);
		if (nv == NULL) {
			json_object_object_del(out, name);
			continue;
		}
		if (json_object_is_type(nv, json_type_object) &&
		    json_object_object_get_ex(ps, "properties", NULL)) {
			json_object	*sub = check_coerce(ps, nv);

			json_object_put(nv);
			nv = sub;
		} else if (json_object_is_type(nv, json_type_array) &&
		    json_object_object_get_ex(ps, "items", &items) &&
		    json_object_object_get_ex(items, "properties", NULL)) {
			json_object	*arr = json_object_new_array();

			for (i = 0; i < json_object_array_length(nv); i++) {
				el = json_object_array_get_idx(nv, i);
				/* user_list_information skips {} (ESB). */
				if (skip_empty(items) && req_empty(el) &&
				    json_object_is_type(el, json_type_object))
					continue;
				json_object_array_add(arr,
				    json_object_is_type(el, json_type_object) ?
				    check_coerce(items, el) :
				    json_object_get(el));
			}
			json_object_put(nv);
			nv = arr;
		}
		json_object_object_add(out, name, nv);
	}
	return out;
}

/*
 * The schema object for an instance pointer, following "properties"
 * and "items" (our schemas hold no $ref on those paths).
 */
static json_object *
schema_at(json_object *s, const char *ptr)
{
	char		 seg[128];
	const char	*p = ptr;
	size_t		 n;
	json_object	*next;

	while (s != NULL && *p == '/') {
		p++;
		n = strcspn(p, "/");
		if (n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		p += n;
		if (json_object_object_get_ex(s, "properties", &next) &&
		    json_object_object_get_ex(next, seg, &next))
			s = next;
		else if (json_object_object_get_ex(s, "items", &next))
			s = next;
		else
			return NULL;
	}
	return s;
}

static json_object *
instance_at(json_object *v, const char *ptr)
{
	char		 seg[128];
	const char	*p = ptr;
	size_t		 n;
	long long	 idx;

	while (v != NULL && *p == '/') {
		p++;
		n = strcspn(p, "/");
		if (n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		p += n;
		if (json_object_is_type(v, json_type_array) &&
		    num_parse(seg, 0, 1 << 30, &idx) == 0)
			v = json_object_array_get_idx(v, (size_t)idx);
		else if (!json_object_object_get_ex(v, seg, &v))
			return NULL;
	}
	return v;
}

/* The contract's text for one schema error, into out. */
static void
check_message(const struct check_entry *e, json_object *inst,
    const struct schema_err *se, char *out, size_t outsz)
{
	json_object	*ps, *v, *iv;
	const char	*label, *t;
	char		 text[256];
	long		 lim;

	if (se->message != NULL) {
		snprintf(out, outsz, "%s", se->message);
		return;
	}
	ps = schema_at(e->doc, se->instance);
	label = se->title != NULL ? se->title : se->field;
	iv = instance_at(inst, se->instance);
	lim = 0;
	if (ps != NULL && json_object_object_get_ex(ps, se->keyword, &v))
		lim = (long)json_object_get_int64(v);
	if (strcmp(se->keyword, "required") == 0)
		t = "This field is required.";
	else if (strcmp(se->keyword, "type") == 0) {
		t = "Must be the specified parameter data type list";
		if (ps != NULL && json_object_object_get_ex(ps, "type", &v) &&
		    strcmp(jv_str(v), "object") == 0)
			t = "Must be the specified parameter data type dict";
		else if (ps != NULL && json_object_object_get_ex(ps, "type",
		    &v) && strcmp(jv_str(v), "array") != 0)
			t = "Enter a valid value.";
	} else if (strcmp(se->keyword, "maxLength") == 0) {
		snprintf(text, sizeof(text), "Ensure this value has at most "
		    "%ld characters (it has %zu).", lim, iv != NULL ?
		    utf8_len(json_object_get_string(iv),
		    (size_t)json_object_get_string_len(iv)) : (size_t)0);
		t = text;
	} else if (strcmp(se->keyword, "maxItems") == 0) {
		snprintf(text, sizeof(text), "Ensure this list has at most "
		    "%ld items (it has %zu).", lim, iv != NULL &&
		    json_object_is_type(iv, json_type_array) ?
		    json_object_array_length(iv) : (size_t)0);
		t = text;
	} else
		t = "Enter a valid value.";
	snprintf(out, outsz, "%s [%s] %s", label, se->field, t);
}

/*
 * Coerces raw by the component's schema and validates it.  Returns 0
 * with *out (caller puts) ready for the handler, or -1 with rp holding
 * the contract's 1306000 message.
 */
int
check_params(const char *name, json_object *raw, json_object **out,
    struct reply *rp)
{
	const struct check_entry	*e;
	struct schema_err		 se;
	json_object			*p;
	char				 msg[LIM_MESSAGE];

	*out = NULL;
	e = check_find(name);
	if (e == NULL || e->schema == NULL) {
		reply_fail(rp, CODE_COMMON, "Component error, please contact "
		    "the component developer to handle it.");
		return -1;
	}
	p = check_coerce(e->doc, raw);
	memset(&se, 0, sizeof(se));
	if (schema_validate(e->schema, p, &se) == 1) {
		*out = p;
		return 0;
	}
	check_message(e, p, &se, msg, sizeof(msg));
	reply_fail(rp, CODE_COMMON, "%s", msg);
	json_object_put(p);
	return -1;
}

/*
 * The validate stage: ESB's named parameters onto the schema's, then
 * the component's schema.  Returns 0 with the coerced parameters in
 * *out (caller puts), or -1 with rp set.
 */
int
check_request(const char *name, json_object *params, json_object **out,
    struct reply *rp)
{
	if (named_apply(name, params, rp) == -1)
		return -1;
	return check_params(name, params, out, rp);
}
