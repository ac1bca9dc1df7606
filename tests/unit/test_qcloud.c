/*
 * Unit tests for qcloud.c: numbers split into nation code and number
 * (digits are 86, E.164 carries its own), template parameters cut from
 * the text, and which API a section speaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/envelope.h"
#include "up/qcloud.h"

static void
split(const char *given, const char *defnc, const char *nc,
    const char *mobile)
{
	struct qcloud_rcpt	 r;
	char			 e164[LIM_PHONE];

	memset(&r, 0, sizeof(r));
	assert_int_equal(qcloud_number(given, defnc, &r), 0);
	assert_string_equal(r.nc, nc);
	assert_string_equal(r.mobile, mobile);
	snprintf(e164, sizeof(e164), "+%s%s", nc, mobile);
	assert_string_equal(r.e164, e164);
}

static void
test_numbers(void **state)
{
	struct qcloud_rcpt	 r;

	split("13800000000", "86", "86", "13800000000");
	split("13800000000", "852", "852", "13800000000");
	split("+8613800000000", "86", "86", "13800000000");
	split("+85291234567", "86", "852", "91234567");
	split("+14155550100", "86", "1", "4155550100");
	split("+79161234567", "86", "7", "9161234567");
	split("+447911123456", "86", "44", "7911123456");
	split("+6591234567", "86", "65", "91234567");
	split("+886912345678", "86", "886", "912345678");
	split("+2348012345678", "86", "234", "8012345678");
	split("+201001234567", "86", "20", "1001234567");
	memset(&r, 0, sizeof(r));
	assert_int_equal(qcloud_number("", "86", &r), -1);
	assert_int_equal(qcloud_number("+", "86", &r), -1);
	assert_int_equal(qcloud_number("+86", "86", &r), -1);
	assert_int_equal(qcloud_number("+0086138", "86", &r), -1);
	assert_int_equal(qcloud_number("138-0000", "86", &r), -1);
	assert_int_equal(qcloud_number("+86 138", "86", &r), -1);
	assert_int_equal(qcloud_number("138", "x", &r), -1);
}

static json_object *
sec(const char *text)
{
	json_object	*o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

static void
test_params(void **state)
{
	struct reply	 rp;
	json_object	*s, *a;

	reply_init(&rp);
	s = sec("{}");
	a = qcloud_params(s, "磁盘告警 on host-1", &rp);
	assert_non_null(a);
	assert_string_equal(json_object_to_json_string_ext(a,
	    JSON_C_TO_STRING_PLAIN), "[\"磁盘告警 on host-1\"]");
	json_object_put(a);
	json_object_put(s);
	/* Three of at most four characters, cut on characters. */
	s = sec("{\"qcloud_template_params\": 3, "
	    "\"qcloud_template_param_len\": \"4\"}");
	a = qcloud_params(s, "磁盘告警abcdXY", &rp);
	assert_non_null(a);
	assert_string_equal(json_object_to_json_string_ext(a,
	    JSON_C_TO_STRING_PLAIN), "[\"磁盘告警\",\"abcd\",\"XY\"]");
	json_object_put(a);
	a = qcloud_params(s, "ab", &rp);
	assert_string_equal(json_object_to_json_string_ext(a,
	    JSON_C_TO_STRING_PLAIN), "[\"ab\",\"\",\"\"]");
	json_object_put(a);
	assert_null(qcloud_params(s, "0123456789abc", &rp));
	assert_false(rp.result);
	assert_non_null(strstr(rp.message, "3 parameters of at most 4"));
	json_object_put(s);
	reply_free(&rp);
}

static void
test_api(void **state)
{
	json_object	*s;

	s = sec("{\"qcloud_app_id\": \"1\", \"qcloud_app_key\": \"k\"}");
	assert_int_equal(qcloud_api(s), QCLOUD_V5);
	json_object_put(s);
	s = sec("{\"qcloud_secret_id\": \"1\", \"qcloud_secret_key\": \"k\"}");
	assert_int_equal(qcloud_api(s), QCLOUD_TC3);
	json_object_put(s);
	s = sec("{\"qcloud_api\": \"tc3\", \"qcloud_app_id\": \"1\", "
	    "\"qcloud_app_key\": \"k\"}");
	assert_int_equal(qcloud_api(s), QCLOUD_TC3);
	json_object_put(s);
	s = sec("{\"qcloud_api\": \"v5\"}");
	assert_int_equal(qcloud_api(s), QCLOUD_V5);
	json_object_put(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
