/*
 * Unit tests for the custom components' pure parts: the robots'
 * signatures against known answers, their bodies, the webhook's body
 * templates and success rules, and the robots' outcome table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json_pointer.h>

#include "custom.h"
#include "core/outcome.h"
#include "up/robot.h"
#include "up/webhook.h"

/*
 * DingTalk: the known answer a client library publishes (robots.md),
 * URL-encoded for the query.  Feishu: computed by the vendor's own
 * Python sample (key = timestamp "\n" secret, empty message).
 */
static void
t_sign(void **state)
{
	char	 out[128];

	(void)state;
	assert_int_equal(robot_sign(CK_DINGTALK, "secret", 1700000000000LL,
	    out, sizeof(out)), 0);
	assert_string_equal(out,
	    "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D");
	assert_int_equal(robot_sign(CK_FEISHU, "feishu-secret", 1700000000LL,
	    out, sizeof(out)), 0);
	assert_string_equal(out,
	    "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU=");
	/* Too small a buffer is refused, not cut. */
	assert_int_equal(robot_sign(CK_DINGTALK, "secret", 1, out, 10), -1);
	assert_int_equal(robot_sign(CK_WECOM, "secret", 1, out, sizeof(out)),
	    -1);
}

static const char *
get(json_object *o, const char *ptr)
{
	json_object	*v;

	if (json_pointer_get(o, ptr, &v) != 0)
		return NULL;
	return json_object_get_string(v);
}

static void
t_body(void **state)
{
	struct custom_msg	 m;
	json_object		*rc, *mob, *uid, *b;

	(void)state;
	rc = json_tokener_parse("[\"13800000000\",\"zhangsan\",\"@all\"]");
	mob = json_tokener_parse("[\"13800000000\"]");
	uid = json_tokener_parse("[\"zhangsan\",\"@all\"]");
	memset(&m, 0, sizeof(m));
	m.msg_type = "dingtalk";
	m.receivers = rc;
	m.mobiles = mob;
	m.user_ids = uid;
	b = robot_body(CK_DINGTALK, "text", &m, "a \"b\"\n{c}", "T");
	assert_string_equal(get(b, "/msgtype"), "text");
	assert_string_equal(get(b, "/text/content"), "a \"b\"\n{c}");
	assert_string_equal(get(b, "/at/atMobiles/0"), "13800000000");
	assert_string_equal(get(b, "/at/atUserIds/0"), "zhangsan");
	assert_null(get(b, "/at/atUserIds/1"));
	assert_string_equal(get(b, "/at/isAtAll"), "true");
	json_object_put(b);
	b = robot_body(CK_DINGTALK, "markdown", &m, "x", "");
	assert_string_equal(get(b, "/markdown/title"), "dingtalk");
	json_object_put(b);
	b = robot_body(CK_FEISHU, "post", &m, "x", "T");
	assert_string_equal(get(b, "/msg_type"), "post");
	assert_string_equal(get(b, "/content/post/zh_cn/title"), "T");
	assert_string_equal(get(b, "/content/post/zh_cn/content/0/1/user_id"),
	    "zhangsan");
	json_object_put(b);
	b = robot_body(CK_WECOM, "text", &m, "x", "T");
	assert_string_equal(get(b, "/text/mentioned_list/0"), "zhangsan");
	assert_string_equal(get(b, "/text/mentioned_list/1"), "@all");
	assert_string_equal(get(b, "/text/mentioned_mobile_list/0"),
	    "13800000000");
	json_object_put(b);
	json_object_put(rc);
	json_object_put(mob);
	json_object_put(uid);
}

static void
t_webhook_body(void **state)
{
	json_object	*tmpl, *ctx, *b;
	char		 err[256];

	(void)state;
	tmpl = json_tokener_parse("{\"text\": \"{{title}}: {{content}}\", "
	    "\"to\": \"{{receivers}}\", \"n\": 3, \"list\": [\"{{#receivers}}"
	    "<{{.}}>{{/receivers}}\"]}");
	ctx = json_tokener_parse("{\"title\": \"t\", \"content\": "
	    "\"say \\\"hi\\\"\\n{x}\", \"receivers\": [\"a\", \"b\"]}");
	b = webhook_body(tmpl, ctx, err, sizeof(err));
	assert_non_null(b);
	assert_string_equal(get(b, "/text"), "t: say \"hi\"\n{x}");
	/* A lone tag of a list stays a list. */
	assert_string_equal(get(b, "/to/1"), "b");
	assert_string_equal(get(b, "/n"), "3");
	assert_string_equal(get(b, "/list/0"), "<a><b>");
	json_object_put(b);
	json_object_put(tmpl);
	tmpl = json_tokener_parse("{\"x\": [\"{{#a}}\"]}");
	assert_int_equal(webhook_body_check(tmpl, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/x/0"));
	assert_null(webhook_body(tmpl, ctx, err, sizeof(err)));
	json_object_put(tmpl);
	json_object_put(ctx);
}

/* webhook_success of a string reply, why of 256 bytes. */
static int
ok(json_object *rule, long status, const char *reply, char *why)
{
	return webhook_success(rule, status, reply, strlen(reply), why, 256);
}

static void
t_success(void **state)
{
	json_object	*rule;
	char		 why[256], msg[256];

	(void)state;
	assert_int_equal(webhook_success(NULL, 204, NULL, 0, why,
	    sizeof(why)), 1);
	assert_int_equal(ok(NULL, 401, "{\"message\":\"bad credentials\"}",
	    why), 0);
	assert_string_equal(why, "HTTP 401: bad credentials (check the "
	    "credentials in the webhook's headers)");
	rule = json_tokener_parse("{\"status\": [200], \"json\": "
	    "{\"/code\": 0}}");
	assert_int_equal(webhook_rule_check(rule, msg, sizeof(msg)), 0);
	assert_int_equal(ok(rule, 200, "{\"code\":0}", why), 1);
	/* A 200 that is not the documented success is a failure. */
	assert_int_equal(ok(rule, 200, "{\"code\":7,\"message\":\"quota\"}",
	    why), 0);
	assert_string_equal(why, "the answer's /code is 7, not 0: quota");
	assert_int_equal(ok(rule, 200, "<html>", why), 0);
	assert_int_equal(ok(rule, 200, "{}", why), 0);
	assert_int_equal(ok(rule, 201, "{\"code\":0}", why), 0);
	json_object_put(rule);
	rule = json_tokener_parse("{\"json\": {\"code\": 0}}");
	assert_int_equal(webhook_rule_check(rule, msg, sizeof(msg)), -1);
	json_object_put(rule);
	rule = json_tokener_parse("{\"status\": [\"200\"]}");
	assert_int_equal(webhook_rule_check(rule, msg, sizeof(msg)), -1);
	json_object_put(rule);
	rule = json_tokener_parse("{\"statuses\": [200]}");
	assert_int_equal(webhook_rule_check(rule, msg, sizeof(msg)), -1);
	json_object_put(rule);
}

static void
t_outcome(void **state)
{
	(void)state;
	assert_int_equal(robot_outcome(CK_DINGTALK, 0), OC_OK);
	assert_int_equal(robot_outcome(CK_DINGTALK, 130101), OC_TRANSIENT);
	assert_int_equal(robot_outcome(CK_DINGTALK, 310000), OC_PERMANENT);
	assert_int_equal(robot_outcome(CK_DINGTALK, 300001), OC_PERMANENT);
	assert_int_equal(robot_outcome(CK_WECOM, 45009), OC_TRANSIENT);
	assert_int_equal(robot_outcome(CK_WECOM, 93000), OC_PERMANENT);
	assert_int_equal(robot_outcome(CK_FEISHU, 11232), OC_TRANSIENT);
	assert_int_equal(robot_outcome(CK_FEISHU, 19021), OC_PERMANENT);
	assert_int_equal(robot_outcome(CK_FEISHU, 45009), OC_PERMANENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_sign),
		cmocka_unit_test(t_body),
		cmocka_unit_test(t_webhook_body),
		cmocka_unit_test(t_success),
		cmocka_unit_test(t_outcome),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
