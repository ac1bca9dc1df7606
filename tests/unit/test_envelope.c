/* The ESB envelope (contract 4): fields, defaults, dest_url payloads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/envelope.h"

static const char *
field(json_object *d, const char *k)
{
	json_object	*v;

	if (!json_object_object_get_ex(d, k, &v))
		return "<absent>";
	return v == NULL ? "null" : json_object_get_string(v);
}

static void
test_success(void **state)
{
	struct reply	 rp;
	json_object	*d;

	(void)state;
	reply_init(&rp);
	reply_ok(&rp, "Succeeded to send mail");
	d = reply_doc(&rp, "0123456789abcdef0123456789abcdef");
	assert_string_equal(field(d, "result"), "true");
	assert_int_equal(json_object_get_type(json_object_object_get(d,
	    "code")), json_type_int);
	assert_string_equal(field(d, "code"), "0");
	assert_string_equal(field(d, "message"), "Succeeded to send mail");
	assert_string_equal(field(d, "data"), "null");
	assert_string_equal(field(d, "request_id"),
	    "0123456789abcdef0123456789abcdef");
	json_object_put(d);
	reply_free(&rp);
}

static void
test_failure(void **state)
{
	struct reply	 rp;
	json_object	*d;

	(void)state;
	reply_init(&rp);
	reply_fail(&rp, CODE_ARGUMENT, "Parameters error, %s", "x");
	rp.no_request_id = 1;
	d = reply_doc(&rp, "id");
	assert_string_equal(field(d, "result"), "false");
	assert_string_equal(field(d, "code"), "1306406");
	assert_string_equal(field(d, "message"), "Parameters error, x");
	assert_string_equal(field(d, "request_id"), "<absent>");
	json_object_put(d);
	reply_free(&rp);
}

static void
test_payload(void **state)
{
	struct reply	 rp;
	json_object	*d;

	(void)state;
	reply_init(&rp);
	/* A third party's own code and data pass through; only the id is ours. */
	rp.payload = json_tokener_parse("{\"result\": true, \"code\": \"00\", "
	    "\"data\": {\"x\": 1}, \"request_id\": \"theirs\", \"extra\": 2}");
	d = reply_doc(&rp, "ours");
	assert_string_equal(field(d, "code"), "00");
	assert_string_equal(field(d, "request_id"), "ours");
	assert_string_equal(field(d, "extra"), "2");
	assert_string_equal(field(d, "message"), "");
	json_object_put(d);
	json_object_put(rp.payload);
	/* Missing keys are filled as format_resp_dict does. */
	rp.payload = json_tokener_parse("{\"result\": false}");
	d = reply_doc(&rp, "ours");
	assert_string_equal(field(d, "code"), "1306000");
	assert_string_equal(field(d, "data"), "null");
	json_object_put(d);
	json_object_put(rp.payload);
	rp.payload = json_tokener_parse("{\"result\": 1}");
	d = reply_doc(&rp, "ours");
	assert_string_equal(field(d, "code"), "0");
	json_object_put(d);
	reply_free(&rp);
}

static void
test_message_cap(void **state)
{
	struct reply	 rp;
	char		 big[10000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	reply_init(&rp);
	reply_fail(&rp, CODE_COMMON, "%s", big);
	/* The cap is 4096 bytes with the NUL (limits.h), pinned here. */
	assert_int_equal(strlen(rp.message), 4095);
	assert_int_equal(strncmp(rp.message, big, 4095), 0);
	/* A message of exactly 4095 bytes is kept whole. */
	big[4095] = '\0';
	reply_fail(&rp, CODE_COMMON, "%s", big);
	assert_string_equal(rp.message, big);
	reply_free(&rp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_failure),
		cmocka_unit_test(test_payload),
		cmocka_unit_test(test_message_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
