/*
 * The rules of a component's config section: conf/schemas/config/
 * <name>.json.  cmsi.fcgi -t (conf.c) and the console's save run the
 * same schema through the same validator, so both refuse the same
 * values with the same words.  The schema also describes the console's
 * form (labels, help, input kinds, which keys are secrets), so a key
 * is added in one place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confschema.h"
#include "lib/limits.h"
#include "lib/schema.h"
#include "lib/util.h"

/* Errors listed per section at most; more are the same mistake again. */
#define CONFSCHEMA_MAXERR	32

/*
 * The schema document of component name under dir, or NULL when there
 * is none (an unknown component) or it does not parse.  Caller puts.
 */
json_object *
confschema_doc(const char *dir, const char *name)
{
	char	 path[LIM_PATH];
	size_t	 n = strlen(name);

	/* The name comes from the file or a form: never a path. */
	if (n == 0 || n >= LIM_NAME ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz_") != n)
		return NULL;
	if (snprintf(path, sizeof(path), "%s/config/%s.json", dir, name) >=
	    (int)sizeof(path))
		return NULL;
	return json_object_from_file(path);
}

/* Whether key is marked "x-secret" in the schema document doc. */
int
confschema_secret(json_object *doc, const char *key)
{
	json_object	*props, *p, *v;

	return doc != NULL &&
	    json_object_object_get_ex(doc, "properties", &props) &&
	    json_object_object_get_ex(props, key, &p) &&
	    json_object_object_get_ex(p, "x-secret", &v) &&
	    json_object_get_boolean(v);
}

/* The first segment of a JSON Pointer, unescaped: the section's key. */
static void
first_key(const char *ptr, char *out, size_t outsz)
{
	size_t	 o = 0;

	if (*ptr == '/')
		ptr++;
	for (; *ptr != '\0' && *ptr != '/' && o + 1 < outsz; ptr++) {
		if (ptr[0] == '~' && ptr[1] == '1') {
			out[o++] = '/';
			ptr++;
		} else if (ptr[0] == '~' && ptr[1] == '0') {
			out[o++] = '~';
			ptr++;
		} else
			out[o++] = *ptr;
	}
	out[o] = '\0';
}

/*
 * Checks section sec of component name against its schema under dir.
 * The validator stops at the first error, so each failing key is taken
 * out of a copy and the copy checked again: every bad key is reported
 * once, in document order.  Returns the number of problems written to
 * errs (at most nerr), or -1 when there is no usable schema (errs[0]
 * says why; nerr must be at least 1).
 */
int
confschema_check(const char *dir, const char *name, json_object *sec,
    struct confschema_err *errs, size_t nerr)
{
	json_object		*doc = NULL, *copy = NULL;
	struct schema		*s = NULL;
	struct schema_err	 se;
	char			 why[200];
	size_t			 n = 0, round;
	int			 rc = -1;

	doc = confschema_doc(dir, name);
	if (doc == NULL) {
		errs[0].key[0] = '\0';
		snprintf(errs[0].msg, sizeof(errs[0].msg), "unknown component");
		goto out;
	}
	s = schema_load(doc, why, sizeof(why));
	if (s == NULL) {
		errs[0].key[0] = '\0';
		snprintf(errs[0].msg, sizeof(errs[0].msg),
		    "schema config/%s.json is broken: %s", name, why);
		goto out;
	}
	if (!json_object_is_type(sec, json_type_object)) {
		errs[0].key[0] = '\0';
		snprintf(errs[0].msg, sizeof(errs[0].msg), "must be an object");
		rc = 1;
		goto out;
	}
	if (json_object_deep_copy(sec, &copy, NULL) != 0)
		goto out;
	for (round = 0; n < nerr && round < CONFSCHEMA_MAXERR; round++) {
		memset(&se, 0, sizeof(se));
		if (schema_validate(s, copy, &se))
			break;
		first_key(se.instance, errs[n].key, sizeof(errs[n].key));
		snprintf(errs[n].msg, sizeof(errs[n].msg), "%s",
		    se.message != NULL ? se.message : "not allowed here");
		if (errs[n].key[0] == '\0' ||
		    !json_object_object_get_ex(copy, errs[n].key, NULL)) {
			n++;
			break;
		}
		json_object_object_del(copy, errs[n].key);
		n++;
	}
	rc = (int)n;
out:
	json_object_put(copy);
	schema_free(s);
	json_object_put(doc);
	return rc;
}
