#ifndef SCHEMA_H
#define SCHEMA_H

#include <stddef.h>

#include <json.h>

#include "limits.h"

/*
 * JSON Schema draft 2020-12 validation of json-c documents.  A schema is
 * compiled once (references resolved, patterns compiled) and is read-only
 * afterwards, so one compiled schema may be used by any number of
 * validations.
 */
struct schema;

/*
 * The first error found.  Keywords of a schema object are evaluated in
 * document order, items and properties in order, and evaluation stops at
 * the first failure.
 *
 * Applicators that pass their instance on (properties, items, prefixItems,
 * allOf, $ref, additionalProperties, patternProperties, propertyNames,
 * dependentSchemas, contains, then/else) report the error found inside
 * their subschema.  anyOf, oneOf and not report themselves, at the schema
 * object holding them.  When the subschema is the boolean false, the
 * applicator that applied it is reported (keyword "additionalProperties"
 * for an unknown property, say); a false root schema reports "false".
 * contains with too few matches reports the error of its first item
 * that failed (or "contains"/"minContains" when none did), with too many
 * "maxContains".  propertyNames points at the offending member.  A
 * recursion deeper than LIM_SCHEMA_DEPTH reports keyword "depth".
 *
 * instance is the JSON Pointer of the value that failed (for required
 * and dependentRequired: the object missing a member).  field is the
 * missing member's name for required and dependentRequired, else the
 * last property name in instance (array indexes skipped), "" when none.
 * title and message are the "title" and "x-message" of the schema
 * object holding the failing keyword, except that for required and
 * dependentRequired title is that of properties/<missing>, if any.
 * Both point into the schema document: valid while the schema lives.
 */
struct schema_err {
	char		 keyword[32];	/* the failing keyword */
	char		 instance[LIM_SCHEMA_PTR]; /* JSON Pointer, "" = root */
	char		 field[128];	/* property concerned, "" at root */
	const char	*title;		/* borrowed from the schema doc or NULL */
	const char	*message;	/* borrowed: "x-message", or NULL */
};

struct schema	*schema_load(json_object *, char *, size_t);
int		 schema_validate(const struct schema *, json_object *,
		    struct schema_err *);
void		 schema_free(struct schema *);

#endif /* SCHEMA_H */
