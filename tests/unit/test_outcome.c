/*
 * Unit tests for outcome.c: the transient/permanent table of each
 * channel, and the per-recipient record a run leaves for the spool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/http.h"
#include "core/outcome.h"
#include "up/wx.h"

static void
t_http(void **state)
{
	(void)state;
	assert_int_equal(outcome_http(CURLE_OK, 200), OC_OK);
	assert_int_equal(outcome_http(CURLE_OK, 429), OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_OK, 502), OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_OK, 503), OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_OK, 408), OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_OK, 400), OC_PERMANENT);
	assert_int_equal(outcome_http(CURLE_OK, 404), OC_PERMANENT);
	assert_int_equal(outcome_http(CURLE_COULDNT_CONNECT, 0),
	    OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_OPERATION_TIMEDOUT, 0),
	    OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_SSL_CONNECT_ERROR, 0),
	    OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_GOT_NOTHING, 0), OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_PEER_FAILED_VERIFICATION, 0),
	    OC_PERMANENT);
	assert_int_equal(outcome_http(CURLE_UNSUPPORTED_PROTOCOL, 0),
	    OC_PERMANENT);
}

static void
t_smtp(void **state)
{
	(void)state;
	assert_int_equal(outcome_smtp(CURLE_OK, 250), OC_OK);
	assert_int_equal(outcome_smtp(CURLE_OK, 451), OC_TRANSIENT);
	assert_int_equal(outcome_smtp(CURLE_SEND_ERROR, 421), OC_TRANSIENT);
	assert_int_equal(outcome_smtp(CURLE_OK, 452), OC_TRANSIENT);
	assert_int_equal(outcome_smtp(CURLE_SEND_ERROR, 550), OC_PERMANENT);
	assert_int_equal(outcome_smtp(CURLE_LOGIN_DENIED, 535), OC_PERMANENT);
	assert_int_equal(outcome_smtp(CURLE_USE_SSL_FAILED, 0), OC_PERMANENT);
	assert_int_equal(outcome_smtp(CURLE_COULDNT_CONNECT, 0),
	    OC_TRANSIENT);
	assert_int_equal(outcome_smtp(CURLE_OPERATION_TIMEDOUT, 0),
	    OC_TRANSIENT);
	assert_int_equal(outcome_smtp(CURLE_PEER_FAILED_VERIFICATION, 0),
	    OC_PERMANENT);
}

static enum outcome_cls
wx(const char *sys, const char *iface, enum wx_kind k, long code,
    long status)
{
	struct wx_err	 e;

	memset(&e, 0, sizeof(e));
	e.sys = sys;
	e.iface = iface;
	e.kind = k;
	e.errcode = code;
	e.status = status;
	return wx_outcome(&e);
}

static void
t_wx(void **state)
{
	(void)state;
	assert_int_equal(wx("WEIXIN_QY", "send_message", WX_OK, 0, 200),
	    OC_OK);
	assert_int_equal(wx("WEIXIN_QY", "send_message", WX_API, -1, 200),
	    OC_TRANSIENT);
	assert_int_equal(wx("WEIXIN_QY", "send_message", WX_API, 45009, 200),
	    OC_TRANSIENT);
	assert_int_equal(wx("WEIXIN_QY", "send_message", WX_API, 45033, 200),
	    OC_TRANSIENT);
	assert_int_equal(wx("WEIXIN_QY", "send_message", WX_API, 42001, 200),
	    OC_TRANSIENT);
	/* WeCom's 40001 is a wrong secret; the MP's, when sending, a token. */
	assert_int_equal(wx("WEIXIN_QY", "get_token", WX_API, 40001, 200),
	    OC_PERMANENT);
	assert_int_equal(wx("WEIXIN_MP", "send_msg_with_tpl", WX_API, 40001,
	    200), OC_TRANSIENT);
	assert_int_equal(wx("WEIXIN_MP", "get_token", WX_API, 40001, 200),
	    OC_PERMANENT);
	assert_int_equal(wx("WEIXIN_MP", "send_msg_with_tpl", WX_API, 43004,
	    200), OC_PERMANENT);
	assert_int_equal(wx("WEIXIN_MP", "send_msg_with_tpl", WX_API, 43117,
	    200), OC_TRANSIENT);
	assert_int_equal(wx("WEIXIN_QY", "send_message", WX_API, 81013, 200),
	    OC_PERMANENT);
	assert_int_equal(wx("WEIXIN_QY", "send_message", WX_API, 60020, 200),
	    OC_PERMANENT);
	assert_int_equal(wx("WEIXIN_QY", "send_message", WX_TRANSPORT, 0,
	    429), OC_TRANSIENT);
	assert_int_equal(wx("WEIXIN_QY", "send_message", WX_TRANSPORT, 0,
	    403), OC_PERMANENT);
	assert_int_equal(wx("WEIXIN_QY", "send_message", WX_BADREPLY, 0, 200),
	    OC_TRANSIENT);
}

static enum outcome_cls
qc(json_object *res, const char *msg)
{
	enum outcome_cls	 c = outcome_qcloud(res, msg);

	json_object_put(res);
	return c;
}

static void
t_qcloud(void **state)
{
	(void)state;
	assert_int_equal(qc(json_object_new_int(0), "OK"), OC_OK);
	assert_int_equal(qc(json_object_new_int(1008), ""), OC_TRANSIENT);
	assert_int_equal(qc(json_object_new_int(1013), ""), OC_TRANSIENT);
	assert_int_equal(qc(json_object_new_int(1016), ""), OC_PERMANENT);
	assert_int_equal(qc(json_object_new_int(1014), ""), OC_PERMANENT);
	assert_int_equal(qc(json_object_new_int(-1), "not a phone number"),
	    OC_PERMANENT);
	assert_int_equal(qc(json_object_new_int(-1),
	    "no result for this number"), OC_TRANSIENT);
	assert_int_equal(qc(json_object_new_string("Ok"), ""), OC_OK);
	assert_int_equal(qc(json_object_new_string("RequestLimitExceeded"),
	    ""), OC_TRANSIENT);
	assert_int_equal(qc(json_object_new_string("InternalError.Timeout"),
	    ""), OC_TRANSIENT);
	assert_int_equal(qc(json_object_new_string(
	    "LimitExceeded.PhoneNumberThirtySecondLimit"), ""), OC_TRANSIENT);
	assert_int_equal(qc(json_object_new_string(
	    "FailedOperation.TemplateIncorrectOrUnapproved"), ""),
	    OC_PERMANENT);
	assert_int_equal(qc(json_object_new_string(
	    "InvalidParameterValue.IncorrectPhoneNumber"), ""), OC_PERMANENT);
	assert_int_equal(qc(json_object_new_string(
	    "AuthFailure.SignatureFailure"), ""), OC_PERMANENT);
}

static void
t_record(void **state)
{
	struct outcome	 oc;
	json_object	*list, *f;
	long		 after;

	(void)state;
	outcome_init(&oc);
	assert_int_equal(outcome_want(&oc, "a"), 1);
	assert_null(outcome_filter(&oc, NULL, NULL));
	outcome_add(&oc, "a", OC_OK, 0);
	outcome_add(&oc, "b", OC_TRANSIENT, 7);
	outcome_add(&oc, "c", OC_TRANSIENT, 0);
	/* The last word about a recipient stands. */
	outcome_add(&oc, "c", OC_PERMANENT, 0);
	outcome_all(&oc, OC_TRANSIENT, 3);
	assert_int_equal(outcome_of(&oc, "a", &after), OC_OK);
	assert_int_equal(outcome_of(&oc, "b", &after), OC_TRANSIENT);
	assert_int_equal(after, 7);
	assert_int_equal(outcome_of(&oc, "c", &after), OC_PERMANENT);
	assert_int_equal(outcome_of(&oc, "d", &after), OC_TRANSIENT);
	assert_int_equal(after, 3);
	/* A retry sends to the pending ones only. */
	oc.want = json_object_new_object();
	json_object_object_add(oc.want, "b", json_object_new_boolean(1));
	list = json_object_new_array();
	json_object_array_add(list, json_object_new_string("a"));
	json_object_array_add(list, json_object_new_string("b"));
	f = outcome_filter(&oc, list, NULL);
	assert_int_equal(json_object_array_length(f), 1);
	assert_string_equal(json_object_get_string(
	    json_object_array_get_idx(f, 0)), "b");
	json_object_put(f);
	json_object_put(list);
	/* Voice's people are objects named by mobile_phone. */
	list = json_object_new_array();
	f = json_object_new_object();
	json_object_object_add(f, "mobile_phone", json_object_new_string("b"));
	json_object_array_add(list, f);
	f = json_object_new_object();
	json_object_object_add(f, "mobile_phone", json_object_new_string("x"));
	json_object_array_add(list, f);
	f = outcome_filter(&oc, list, "mobile_phone");
	assert_int_equal(json_object_array_length(f), 1);
	json_object_put(f);
	json_object_put(list);
	assert_int_equal(outcome_want(&oc, "a"), 0);
	outcome_add(NULL, "a", OC_OK, 0);
	outcome_free(&oc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_http),
		cmocka_unit_test(t_smtp),
		cmocka_unit_test(t_wx),
		cmocka_unit_test(t_qcloud),
		cmocka_unit_test(t_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
