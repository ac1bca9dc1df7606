/*
 * Unit tests for the pure parts of wxmp.c, wecom.c and wx.c: the
 * server URL signature against the known-answer vectors of
 * tests/conformance/data/vectors/vectors.json (CONFORMANCE_DATA
 * overrides the data directory), reading a push with libxml2 and refusing hostile ones,
 * the agentid as Django's IntegerField reads it, text cleaning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "lib/limits.h"
#include "up/wecom.h"
#include "up/wx.h"
#include "up/wxmp.h"

static const char *
str(json_object *o, const char *k)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static void
test_signature_vectors(void **state)
{
	const char	*dir = getenv("CONFORMANCE_DATA");
	char		 path[1024], sig[41];
	json_object	*doc, *list, *v;
	size_t		 i;

	(void)state;
	snprintf(path, sizeof(path), "%s/vectors/vectors.json",
	    dir != NULL ? dir : "tests/conformance/data");
	doc = json_object_from_file(path);
	assert_non_null(doc);
	assert_true(json_object_object_get_ex(doc, "wechat_server_signature",
	    &list));
	assert_true(json_object_array_length(list) > 0);
	for (i = 0; i < json_object_array_length(list); i++) {
		v = json_object_array_get_idx(list, i);
		assert_int_equal(wxmp_signature(str(v, "token"),
		    str(v, "timestamp"), str(v, "nonce"), sig), 0);
		assert_string_equal(sig, str(v, "signature"));
		assert_true(wxmp_verify(str(v, "token"), str(v, "signature"),
		    str(v, "timestamp"), str(v, "nonce")));
		/* Any other token, time or nonce must not pass. */
		assert_false(wxmp_verify("other", str(v, "signature"),
		    str(v, "timestamp"), str(v, "nonce")));
		assert_false(wxmp_verify(str(v, "token"), str(v, "signature"),
		    "1714000001", str(v, "nonce")));
		assert_false(wxmp_verify(str(v, "token"), "", str(v,
		    "timestamp"), str(v, "nonce")));
	}
	json_object_put(doc);
}

static void
test_signature_edges(void **state)
{
	char	 sig[41], big[200];

	(void)state;
	/* No token configured: nothing verifies, not even its own sum. */
	assert_int_equal(wxmp_signature("", "1", "2", sig), 0);
	assert_false(wxmp_verify("", sig, "1", "2"));
	assert_false(wxmp_verify("t", sig, "", "2"));
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(wxmp_signature("t", big, "2", sig), -1);
	assert_false(wxmp_verify("t", sig, big, "2"));
}

/*
 * The token at its cap, LIM_SECRET bytes, is signed (SHA-1 of the
 * three sorted: "1", the token, "n"; the sum from Python's hashlib);
 * one byte more is refused, whatever the buffer could hold.
 */
static void
test_signature_token_cap(void **state)
{
	char	 tok[LIM_SECRET + 2], sig[41];

	(void)state;
	memset(tok, 'k', LIM_SECRET);
	tok[LIM_SECRET] = '\0';
	assert_int_equal(wxmp_signature(tok, "1", "n", sig), 0);
	assert_string_equal(sig, "afdf6cc78a664cb9afaba5d7a527aa2b9b2bcc0a");
	assert_true(wxmp_verify(tok, sig, "1", "n"));
	tok[LIM_SECRET] = 'k';
	tok[LIM_SECRET + 1] = '\0';
	assert_int_equal(wxmp_signature(tok, "1", "n", sig), -1);
	assert_false(wxmp_verify(tok, "afdf6cc78a664cb9afaba5d7a527aa2b9b2bcc0a",
	    "1", "n"));
}

static const char push[] =
    "<xml>\n"
    "<ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oia2TjuEGTNoeX76QEjQNrcURxG8]]></FromUserName>\n"
    "<CreateTime>1395658920</CreateTime>\n"
    "<MsgType><![CDATA[event]]></MsgType>\n"
    "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>\n"
    "<MsgID>200163836</MsgID>\n"
    "<Status><![CDATA[failed: system failed]]></Status>\n"
    "</xml>";

static void
test_event(void **state)
{
	struct wxmp_event	 ev;
	const char		*plain = "<xml><MsgType>event</MsgType>"
	    "<Event>TEMPLATESENDJOBFINISH</Event><MsgId>7</MsgId>"
	    "<Status>failed:user block</Status><Unknown>x</Unknown></xml>";

	(void)state;
	assert_int_equal(wxmp_event(push, strlen(push), &ev), 0);
	assert_string_equal(ev.account, "gh_7f083739789a");
	assert_string_equal(ev.openid, "oia2TjuEGTNoeX76QEjQNrcURxG8");
	assert_string_equal(ev.msgtype, "event");
	assert_string_equal(ev.event, "TEMPLATESENDJOBFINISH");
	assert_string_equal(ev.msgid, "200163836");
	assert_string_equal(ev.status, "failed: system failed");
	assert_int_equal(ev.created, 1395658920);
	/* Text or CDATA alike; MsgId as some events spell it. */
	assert_int_equal(wxmp_event(plain, strlen(plain), &ev), 0);
	assert_string_equal(ev.msgid, "7");
	assert_string_equal(ev.status, "failed:user block");
}

static void
test_event_hostile(void **state)
{
	struct wxmp_event	 ev;
	static const char *const bad[] = {
		"",
		"not xml",
		"{\"json\": true}",
		"<xml><MsgType>event</MsgType>",
		"<root><MsgType>event</MsgType></root>",
		"<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x \"y\">]>"
		    "<xml><MsgType>&x;</MsgType></xml>",
		"<?xml version=\"1.0\"?><!DOCTYPE xml SYSTEM "
		    "\"http://example.com/x.dtd\"><xml/>",
		"<xml><MsgType>&xxe;</MsgType></xml>",
		NULL
	};
	char		 big[LIM_CALLBACK + 64];
	size_t		 i, n;

	(void)state;
	for (i = 0; bad[i] != NULL; i++)
		assert_int_equal(wxmp_event(bad[i], strlen(bad[i]), &ev), -1);
	/* A field longer than it can be is refused, not cut. */
	n = (size_t)snprintf(big, sizeof(big), "<xml><MsgID>");
	memset(big + n, '1', 100);
	n += 100;
	n += (size_t)snprintf(big + n, sizeof(big) - n, "</MsgID></xml>");
	assert_int_equal(wxmp_event(big, n, &ev), -1);
	/* So is a body over the cap. */
	memset(big, ' ', sizeof(big));
	memcpy(big, "<xml>", 5);
	memcpy(big + sizeof(big) - 6, "</xml>", 6);
	assert_int_equal(wxmp_event(big, sizeof(big), &ev), -1);
}

static void
test_agentid(void **state)
{
	long long	 v;

	(void)state;
	assert_int_equal(wecom_agentid("1000002", &v), 0);
	assert_int_equal(v, 1000002);
	assert_int_equal(wecom_agentid(" 1000002 ", &v), 0);
	assert_int_equal(v, 1000002);
	assert_int_equal(wecom_agentid("1000002.0", &v), 0);
	assert_int_equal(v, 1000002);
	assert_int_equal(wecom_agentid("1000002.", &v), 0);
	assert_int_equal(wecom_agentid("+5", &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(wecom_agentid("-5", &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(wecom_agentid("", &v), -1);
	assert_int_equal(wecom_agentid("   ", &v), -1);
	assert_int_equal(wecom_agentid("10x", &v), -1);
	assert_int_equal(wecom_agentid("1.5", &v), -1);
	assert_int_equal(wecom_agentid("0x10", &v), -1);
	assert_int_equal(wecom_agentid("true", &v), -1);
	assert_int_equal(wecom_agentid("99999999999999999999", &v), -1);
}

static void
test_clean(void **state)
{
	char	 s[] = "a\001b\tc\nd\x7f" "e\xe4\xb8\xad";

	(void)state;
	wx_clean(s);
	assert_string_equal(s, "ab\tc\nde\xe4\xb8\xad");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_vectors),
		cmocka_unit_test(test_signature_edges),
		cmocka_unit_test(test_signature_token_cap),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_event_hostile),
		cmocka_unit_test(test_agentid),
		cmocka_unit_test(test_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
