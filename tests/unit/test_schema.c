/*
 * Unit tests for schema.c: the first-error rules the gateway turns into
 * user-facing messages, code point lengths, and reference loops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json.h>

#include "lib/schema.h"

/* Loads a schema from JSON text; the schema keeps the document. */
static struct schema *
load(const char *text)
{
	json_object	*doc = json_tokener_parse(text);
	struct schema	*s;
	char		 err[256];

	assert_non_null(doc);
	s = schema_load(doc, err, sizeof(err));
	json_object_put(doc);
	if (s == NULL)
		fail_msg("schema_load: %s", err);
	return s;
}

/* Validates JSON text; returns the verdict and fills e. */
static int
check(const struct schema *s, const char *text, struct schema_err *e)
{
	json_object	*inst = json_tokener_parse(text);
	int		 ok, ok2;

	if (strcmp(text, "null") != 0)
		assert_non_null(inst);
	ok = schema_validate(s, inst, e);
	/* Without an error to fill, the verdict must not change. */
	ok2 = schema_validate(s, inst, NULL);
	assert_int_equal(ok, ok2);
	json_object_put(inst);
	return ok;
}

static void
assert_err(const struct schema_err *e, const char *keyword,
    const char *instance, const char *field, const char *title,
    const char *message)
{
	assert_string_equal(e->keyword, keyword);
	assert_string_equal(e->instance, instance);
	assert_string_equal(e->field, field);
	if (title == NULL)
		assert_null(e->title);
	else {
		assert_non_null(e->title);
		assert_string_equal(e->title, title);
	}
	if (message == NULL)
		assert_null(e->message);
	else {
		assert_non_null(e->message);
		assert_string_equal(e->message, message);
	}
}

/* The keywords of one object run in document order. */
static void
test_document_order(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"properties\": {\"a\": {\"type\": \"string\"}},"
	    " \"required\": [\"b\"]}");
	assert_int_equal(check(s, "{\"a\": 5}", &e), 0);
	assert_err(&e, "type", "/a", "a", NULL, NULL);
	schema_free(s);

	s = load("{\"required\": [\"b\"],"
	    " \"properties\": {\"a\": {\"type\": \"string\"}}}");
	assert_int_equal(check(s, "{\"a\": 5}", &e), 0);
	assert_err(&e, "required", "", "b", NULL, NULL);
	schema_free(s);

	/* Within one subschema, too: maxLength before type. */
	s = load("{\"properties\": {\"a\": {\"maxLength\": 1,"
	    " \"pattern\": \"^[0-9]+$\"}}}");
	assert_int_equal(check(s, "{\"a\": \"xy\"}", &e), 0);
	assert_err(&e, "maxLength", "/a", "a", NULL, NULL);
	assert_int_equal(check(s, "{\"a\": \"x\"}", &e), 0);
	assert_err(&e, "pattern", "/a", "a", NULL, NULL);
	assert_int_equal(check(s, "{\"a\": \"1\"}", &e), 1);
	schema_free(s);
}

/* Properties in schema order, items in array order. */
static void
test_member_order(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"properties\": {\"x\": {\"type\": \"integer\"},"
	    " \"y\": {\"type\": \"integer\"}}}");
	assert_int_equal(check(s, "{\"y\": \"1\", \"x\": \"2\"}", &e), 0);
	assert_err(&e, "type", "/x", "x", NULL, NULL);
	schema_free(s);

	s = load("{\"items\": {\"type\": \"integer\"}}");
	assert_int_equal(check(s, "[1, \"a\", \"b\"]", &e), 0);
	assert_err(&e, "type", "/1", "", NULL, NULL);
	schema_free(s);
}

/* required: the missing name, its properties title, the x-message. */
static void
test_required(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"title\": \"send mail\", \"x-message\": \"bad mail\","
	    " \"x-esb\": {\"ignored\": true},"
	    " \"properties\": {\"title\": {\"title\": \"email subject\","
	    " \"type\": \"string\"}, \"content\": {\"type\": \"string\"}},"
	    " \"required\": [\"title\", \"content\", \"other\"]}");
	assert_int_equal(check(s, "{}", &e), 0);
	assert_err(&e, "required", "", "title", "email subject", "bad mail");
	assert_int_equal(check(s, "{\"title\": \"t\"}", &e), 0);
	assert_err(&e, "required", "", "content", NULL, "bad mail");
	assert_int_equal(check(s, "{\"title\": \"t\", \"content\": \"c\"}",
	    &e), 0);
	assert_err(&e, "required", "", "other", NULL, "bad mail");
	schema_free(s);

	/* Nested: the pointer is the object's, the field the missing one. */
	s = load("{\"properties\": {\"att\": {\"items\": {\"required\":"
	    " [\"filename\"], \"x-message\": \"attachment needs a name\","
	    " \"properties\": {\"filename\": {\"title\": \"file name\"}}}}}}");
	assert_int_equal(check(s, "{\"att\": [{\"filename\": \"a\"}, {}]}",
	    &e), 0);
	assert_err(&e, "required", "/att/1", "filename", "file name",
	    "attachment needs a name");
	schema_free(s);
}

/* The title and x-message of the object holding the failing keyword. */
static void
test_title_message(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"title\": \"root\", \"properties\": {\"receiver\":"
	    " {\"title\": \"receivers\", \"type\": \"array\","
	    " \"items\": {\"type\": \"string\", \"maxLength\": 5,"
	    " \"title\": \"receiver\", \"x-message\": \"too long\"}}}}");
	assert_int_equal(check(s, "{\"receiver\": [\"ok\", \"toolong\"]}",
	    &e), 0);
	assert_err(&e, "maxLength", "/receiver/1", "receiver", "receiver",
	    "too long");
	assert_int_equal(check(s, "{\"receiver\": 1}", &e), 0);
	assert_err(&e, "type", "/receiver", "receiver", "receivers", NULL);
	schema_free(s);
}

/* anyOf, oneOf and not report themselves, at the object holding them. */
static void
test_anyof_keyword(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"allOf\": [{\"title\": \"form\", \"x-message\":"
	    " \"content or attachments\", \"anyOf\": [{\"required\":"
	    " [\"content\"]}, {\"required\": [\"attachments\"]}]}]}");
	assert_int_equal(check(s, "{}", &e), 0);
	assert_err(&e, "anyOf", "", "", "form", "content or attachments");
	assert_int_equal(check(s, "{\"attachments\": []}", &e), 1);
	schema_free(s);

	s = load("{\"properties\": {\"n\": {\"title\": \"n\", \"oneOf\":"
	    " [{\"minimum\": 1}, {\"maximum\": 5}]}}}");
	assert_int_equal(check(s, "{\"n\": 3}", &e), 0);
	assert_err(&e, "oneOf", "/n", "n", "n", NULL);
	assert_int_equal(check(s, "{\"n\": 7}", &e), 1);
	schema_free(s);

	s = load("{\"x-message\": \"no nulls\", \"not\": {\"type\":"
	    " \"null\", \"title\": \"inner\"}}");
	assert_int_equal(check(s, "null", &e), 0);
	assert_err(&e, "not", "", "", NULL, "no nulls");
	schema_free(s);
}

/* if/then/else reports the error inside then or else. */
static void
test_if_then_else(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"if\": {\"properties\": {\"html\": {\"const\": true}}},"
	    " \"then\": {\"title\": \"html\", \"required\": [\"body\"]},"
	    " \"else\": {\"x-message\": \"text\", \"properties\":"
	    " {\"body\": {\"maxLength\": 2}}}}");
	assert_int_equal(check(s, "{\"html\": true}", &e), 0);
	assert_err(&e, "required", "", "body", NULL, NULL);
	assert_int_equal(check(s, "{\"html\": false, \"body\": \"abc\"}",
	    &e), 0);
	assert_err(&e, "maxLength", "/body", "body", NULL, NULL);
	schema_free(s);
}

/* A false subschema reports the applicator that applied it. */
static void
test_false_schema(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"x-message\": \"unknown field\", \"properties\":"
	    " {\"a\": true}, \"additionalProperties\": false}");
	assert_int_equal(check(s, "{\"a\": 1, \"b\": 2}", &e), 0);
	assert_err(&e, "additionalProperties", "/b", "b", NULL,
	    "unknown field");
	schema_free(s);

	s = load("false");
	assert_int_equal(check(s, "1", &e), 0);
	assert_err(&e, "false", "", "", NULL, NULL);
	schema_free(s);
}

/* Lengths count code points, not bytes. */
static void
test_code_points(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"maxLength\": 3, \"minLength\": 2}");
	assert_int_equal(check(s, "\"\\u65e5\\u672c\\u8a9e\"", &e), 1);
	assert_int_equal(check(s, "\"\\u65e5\\u672c\\u8a9ex\"", &e), 0);
	assert_string_equal(e.keyword, "maxLength");
	assert_int_equal(check(s, "\"\\u00e9\"", &e), 0);
	assert_string_equal(e.keyword, "minLength");
	/* One code point outside the BMP, four bytes. */
	assert_int_equal(check(s, "\"\\ud83d\\udca9\\ud83d\\udca9\"", &e), 1);
	assert_int_equal(check(s, "\"\\ud83d\\udca9\"", &e), 0);
	schema_free(s);
}

/* A $ref cycle that consumes no instance ends in a clean error. */
static void
test_ref_loop(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"},"
	    " \"b\": {\"$ref\": \"#/$defs/a\"}}, \"$ref\": \"#/$defs/a\"}");
	assert_int_equal(check(s, "{}", &e), 0);
	assert_string_equal(e.keyword, "depth");
	schema_free(s);

	s = load("{\"anyOf\": [{\"$ref\": \"#\"}]}");
	assert_int_equal(check(s, "1", &e), 0);
	assert_string_equal(e.keyword, "anyOf");
	schema_free(s);

	/* Recursion that does consume the instance is fine. */
	s = load("{\"properties\": {\"next\": {\"$ref\": \"#\"}},"
	    " \"required\": [\"v\"]}");
	assert_int_equal(check(s, "{\"v\": 1, \"next\": {\"v\": 2,"
	    " \"next\": {\"v\": 3}}}", &e), 1);
	assert_int_equal(check(s, "{\"v\": 1, \"next\": {\"next\": {}}}",
	    &e), 0);
	assert_err(&e, "required", "/next/next", "v", NULL, NULL);
	schema_free(s);
}

static void
test_references(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"$id\": \"https://example.org/mail.json\","
	    " \"$defs\": {\"addr\": {\"$anchor\": \"addr\", \"title\":"
	    " \"address\", \"type\": \"string\"}, \"a/b~c%\": {\"type\":"
	    " \"integer\"}}, \"properties\": {\"to\": {\"$ref\":"
	    " \"#addr\"}, \"cc\": {\"$ref\": \"mail.json#/$defs/addr\"},"
	    " \"n\": {\"$ref\": \"#/$defs/a~1b~0c%25\"}}}");
	assert_int_equal(check(s, "{\"to\": \"a\", \"cc\": \"b\", \"n\": 1}",
	    &e), 1);
	assert_int_equal(check(s, "{\"cc\": 1}", &e), 0);
	assert_err(&e, "type", "/cc", "cc", "address", NULL);
	assert_int_equal(check(s, "{\"n\": 1.5}", &e), 0);
	assert_err(&e, "type", "/n", "n", NULL, NULL);
	schema_free(s);
}

/* The pointer escapes ~ and /; the field is the raw name. */
static void
test_pointer_escape(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"patternProperties\": {\"^a\": {\"type\": \"string\"}}}");
	assert_int_equal(check(s, "{\"a/b~c\": [{}]}", &e), 0);
	assert_err(&e, "type", "/a~1b~0c", "a/b~c", NULL, NULL);
	schema_free(s);
}

static void
test_equality(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"enum\": [1, {\"a\": [1.0, null]}]}");
	assert_int_equal(check(s, "1.0", &e), 1);
	assert_int_equal(check(s, "{\"a\": [1, null]}", &e), 1);
	assert_int_equal(check(s, "{\"a\": [1, false]}", &e), 0);
	assert_string_equal(e.keyword, "enum");
	assert_int_equal(check(s, "true", &e), 0);
	schema_free(s);

	s = load("{\"multipleOf\": 0.01}");
	assert_int_equal(check(s, "19.99", &e), 1);
	assert_int_equal(check(s, "19.999", &e), 0);
	schema_free(s);
}

static void
test_bad_schemas(void **state)
{
	static const char	*bad[] = {
		"{\"type\": \"strnig\"}",
		"{\"pattern\": \"(\"}",
		"{\"patternProperties\": {\"[\": true}}",
		"{\"maxLength\": -1}",
		"{\"minItems\": 1.5}",
		"{\"multipleOf\": 0}",
		"{\"$ref\": \"#/nope\"}",
		"{\"$ref\": \"#nope\"}",
		"{\"$ref\": \"https://example.org/other.json\"}",
		"{\"allOf\": []}",
		"{\"properties\": {\"a\": 1}}",
		"{\"required\": [1]}",
		"[]",
	};
	json_object	*doc;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = json_tokener_parse(bad[i]);
		assert_non_null(doc);
		err[0] = '\0';
		assert_null(schema_load(doc, err, sizeof(err)));
		assert_true(err[0] != '\0');
		json_object_put(doc);
	}
	doc = json_tokener_parse("{\"$ref\": \"#/x\"}");
	assert_null(schema_load(doc, err, sizeof(err)));
	assert_string_equal(err, "unresolved $ref: "
	    "https://schema.invalid/root.json#/x");
	json_object_put(doc);
	schema_free(NULL);
}

/* The compiled schema holds its own reference on the document. */
static void
test_reference_count(void **state)
{
	json_object		*doc;
	struct schema		*s;
	struct schema_err	 e;
	char			 err[64];

	doc = json_tokener_parse("{\"properties\": {\"a\": {\"title\":"
	    " \"A\", \"const\": \"x\"}}}");
	s = schema_load(doc, err, sizeof(err));
	assert_non_null(s);
	json_object_put(doc);
	assert_int_equal(check(s, "{\"a\": \"y\"}", &e), 0);
	assert_err(&e, "const", "/a", "a", "A", NULL);
	schema_free(s);
}

/* ECMA-262 flavour of patterns: ASCII \d, $ only at the end. */
static void
test_patterns(void **state)
{
	struct schema		*s;
	struct schema_err	 e;

	s = load("{\"pattern\": \"^\\\\d+$\"}");
	assert_int_equal(check(s, "\"123\"", &e), 1);
	assert_int_equal(check(s, "\"123\\n\"", &e), 0);
	assert_int_equal(check(s, "\"\\u0663\"", &e), 0);
	schema_free(s);

	s = load("{\"pattern\": \"^\\\\p{Letter}\\\\u0041$\"}");
	assert_int_equal(check(s, "\"\\u03c0A\"", &e), 1);
	assert_int_equal(check(s, "\"1A\"", &e), 0);
	schema_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document_order),
		cmocka_unit_test(test_member_order),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_title_message),
		cmocka_unit_test(test_anyof_keyword),
		cmocka_unit_test(test_if_then_else),
		cmocka_unit_test(test_false_schema),
		cmocka_unit_test(test_code_points),
		cmocka_unit_test(test_ref_loop),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_pointer_escape),
		cmocka_unit_test(test_equality),
		cmocka_unit_test(test_bad_schemas),
		cmocka_unit_test(test_reference_count),
		cmocka_unit_test(test_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
