/*
 * The bk-cmsi v1 adapter's pure parts: paths, the body mapping onto
 * ESB parameters, the answer document, and the tenants of the config.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/conf.h"
#include "core/envelope.h"
#include "core/request.h"
#include "lib/util.h"
#include "v1.h"

/* The JSON text of o[key] ("<absent>" when missing). */
static const char *
js(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v))
		return "<absent>";
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

static json_object *
parse(const char *s)
{
	json_object	*o = jv_parse(s, strlen(s));

	assert_non_null(o);
	return o;
}

static void
test_paths(void **state)
{
	static const struct {
		const char	*method, *path, *op;	/* op NULL: none */
	} t[] = {
		{ "GET", "/api/bk-cmsi/prod/v1/channels/", "channels" },
		{ "GET", "/api/bk-cmsi/prod/v1/channels", "channels" },
		{ "GET", "/prod/v1/channels", "channels" },
		{ "GET", "/v1/channels", "channels" },
		{ "POST", "/v1/channels/", "channels" },
		{ "GET", "//api//bk-cmsi//stag//v1//channels//", "channels" },
		{ "GET", "/api/cmsi/prod/v1/channels/", "channels" },
		{ "GET", "/v1/channels/weixin/settings/",
		    "channels/weixin/settings" },
		{ "GET", "/v1/channels/weixin/token", "channels/weixin/token" },
		{ "POST", "/api/bk-cmsi/prod/v1/send_weixin", "send_weixin" },
		{ "POST", "/v1/send_voice/", "send_voice" },
		{ "POST", "/v1/send_rtx/", "send_rtx" },
		{ "PUT", "/v1/send_mail/", NULL },
		{ "POST", "/v1/send_msg/", "send_msg" },
		{ "POST", "/v1/send_nothing/", NULL },
		{ "POST", "/v1/send_mail/x", NULL },
		{ "POST", "/v1/", NULL },
		{ "GET", "/v1/channels/weixin", NULL },
		{ "GET", "/v1/channelsx", NULL },
	};
	const struct v1_op	*op;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		op = v1_find(t[i].method, t[i].path);
		if (t[i].op == NULL)
			assert_null(op);
		else {
			assert_non_null(op);
			assert_string_equal(op->path, t[i].op);
		}
	}
	assert_true(v1_match("/v1/anything"));
	assert_true(v1_match("/prod/v1/"));
	assert_false(v1_match("/api/c/compapi/cmsi/send_mail/"));
	assert_false(v1_match("/c/compapi/v2/cmsi/send_mail/"));
	assert_false(v1_match("/api/bk-cmsi/x/prod/v1/channels/"));
	assert_false(v1_match("/a/b/v1/channels/"));
	assert_false(v1_match("/bad stage/v1/channels/"));
	assert_false(v1_match("/"));
}

static json_object *
map(const char *path, const char *body)
{
	json_object	*in = parse(body), *out;

	out = v1_map(v1_find("POST", path), in);
	json_object_put(in);
	return out;
}

static void
test_map_mail(void **state)
{
	json_object	*p;

	(void)state;
	p = map("/v1/send_mail/", "{\"receiver_username\": [\"a\"], "
	    "\"receiver__username\": \"b, c;d\", \"cc_username\": [\"e\", 7],"
	    " \"title\": \"t\", \"content\": \"c\", \"body_format\": \"HTML\","
	    " \"is_content_base64\": \"false\", \"email_type\": \"X\","
	    " \"bk_username\": \"admin\", \"msg_type\": \"mail\"}");
	assert_string_equal(js(p, "receiver__username"),
	    "[\"b\",\"c\",\"d\"]");
	assert_string_equal(js(p, "cc__username"), "[\"e\",\"7\"]");
	assert_string_equal(js(p, "body_format"), "\"Html\"");
	assert_string_equal(js(p, "is_content_base64"), "\"false\"");
	assert_string_equal(js(p, "email_type"), "<absent>");
	assert_string_equal(js(p, "bk_username"), "<absent>");
	assert_string_equal(js(p, "msg_type"), "<absent>");
	json_object_put(p);

	p = map("/v1/send_mail/", "{\"receiver\": \"[\\\"x@y.z\\\"]\","
	    " \"body_format\": \"text\"}");
	assert_string_equal(js(p, "receiver"), "[\"x@y.z\"]");
	assert_string_equal(js(p, "body_format"), "\"Text\"");
	json_object_put(p);
}

static void
test_map_phones(void **state)
{
	json_object	*p;

	(void)state;
	p = map("/v1/send_sms/", "{\"receiver\": [\"+86 13800000000\", "
	    "13800000001, \" 138-0000-0002 \"], \"content\": \"x\", "
	    "\"title\": \"ignored\"}");
	assert_string_equal(js(p, "receiver"),
	    "[\"+8613800000000\",\"13800000001\",\"13800000002\"]");
	assert_string_equal(js(p, "title"), "<absent>");
	json_object_put(p);

	p = map("/v1/send_sms/", "{\"receiver\": \"+86 138 0000 0003,"
	    "+86 138 0000 0004\"}");
	assert_string_equal(js(p, "receiver"),
	    "[\"+8613800000003\",\"+8613800000004\"]");
	json_object_put(p);

	p = map("/v1/send_voice/", "{\"receiver\": [\"+86 13800000000\"],"
	    " \"auto_read_message\": \"m\"}");
	assert_string_equal(js(p, "user_list_information"),
	    "[{\"username\":\"+8613800000000\","
	    "\"mobile_phone\":\"+8613800000000\"}]");
	assert_string_equal(js(p, "receiver"), "<absent>");
	json_object_put(p);
}

static void
test_map_weixin(void **state)
{
	json_object	*p;

	(void)state;
	p = map("/v1/send_weixin/", "{\"receiver__username\": [\"u\"], "
	    "\"data\": {\"heading\": \"old\", \"message\": \"old\"}, "
	    "\"message_data\": {\"heading\": \"h\", \"message\": \"m\", "
	    "\"is_message_base64\": true, \"evil\": 1}}");
	assert_string_equal(js(p, "data"), "{\"heading\":\"h\","
	    "\"message\":\"m\",\"is_message_base64\":true}");
	json_object_put(p);

	p = map("/v1/send_weixin/", "{\"data\": {\"message\": \"m\"}}");
	assert_string_equal(js(p, "data"),
	    "{\"message\":\"m\",\"heading\":\"BlueKing\"}");
	json_object_put(p);

	p = map("/v1/send_weixin/", "{\"title\": \"t\", \"content\": \"c\", "
	    "\"remark\": \"r\", \"wx_qy_corpsecret\": \"s\"}");
	assert_string_equal(js(p, "data"),
	    "{\"heading\":\"t\",\"message\":\"c\",\"remark\":\"r\"}");
	assert_string_equal(js(p, "wx_qy_corpsecret"), "<absent>");
	json_object_put(p);

	p = map("/v1/send_weixin/", "{\"message_data\": "
	    "\"{\\\"heading\\\": \\\"h\\\", \\\"message\\\": \\\"m\\\"}\"}");
	assert_string_equal(js(p, "data"), "{\"heading\":\"h\","
	    "\"message\":\"m\"}");
	json_object_put(p);

	/* A named template brings its own heading. */
	p = map("/v1/send_weixin/", "{\"template\": \"alert\", "
	    "\"context\": {}}");
	assert_string_equal(js(p, "data"), "<absent>");
	assert_string_equal(js(p, "template"), "\"alert\"");
	json_object_put(p);

	p = map("/v1/send_rtx/", "{\"receiver\": [\"zs\"], \"title\": \"t\","
	    " \"content\": \"c\", \"msg_type\": \"rtx\"}");
	assert_string_equal(js(p, "receiver"), "[\"zs\"]");
	assert_string_equal(js(p, "data"),
	    "{\"heading\":\"t\",\"message\":\"c\"}");
	assert_string_equal(js(p, "msg_type"), "<absent>");
	json_object_put(p);
}

static void
test_asked(void **state)
{
	json_object	*p;

	(void)state;
	p = parse("{\"receiver\": [], \"user_list_information\": [{}, {}],"
	    " \"receiver__username\": [\"a\", \"b\", \"c\"]}");
	assert_int_equal(v1_asked(p), 2);
	json_object_object_del(p, "user_list_information");
	assert_int_equal(v1_asked(p), 3);
	json_object_put(p);
}

/* The v1 document for a reply, with the status it gets. */
static json_object *
doc(const char *path, enum v1_stage stage, struct reply *rp, size_t asked,
    int *status)
{
	const struct v1_op	*op = path != NULL ? v1_find("POST", path) :
				    NULL;

	return v1_doc(op, stage, rp, asked, "0123456789abcdef", status);
}

static void
test_doc_send(void **state)
{
	struct reply	 rp;
	json_object	*d, *data;
	char		*big;
	size_t		 n, k;
	int		 st;

	(void)state;
	reply_init(&rp);
	reply_ok(&rp, "Succeeded to send mail");
	rp.audit = parse("[\"a@x\", \"b@x\"]");
	d = doc("/v1/send_mail/", V1_RUN, &rp, 2, &st);
	assert_int_equal(st, 200);
	assert_string_equal(js(d, "result"), "true");
	assert_string_equal(js(d, "code"), "0");
	assert_string_equal(js(d, "error"), "<absent>");
	data = json_object_object_get(d, "data");
	assert_string_equal(js(data, "summary"),
	    "{\"total\":2,\"succeeded\":2,\"failed\":0}");
	assert_string_equal(js(data, "message"), "\"\"");
	assert_string_equal(js(data, "details"), "{}");
	json_object_put(d);
	reply_free(&rp);

	/* Partial: 200, result false, per-user reasons. */
	reply_init(&rp);
	reply_fail(&rp, CODE_COMMON, "Some users failed to send email. The "
	    "following users are not blueking users: g;The following users "
	    "contact format are incorrect: n1,n2");
	reply_data(&rp, parse("{\"username_check\": {\"invalid\": "
	    "[\"g\"]}}"));
	rp.audit = parse("[\"a@x\"]");
	d = doc("/v1/send_mail/", V1_RUN, &rp, 4, &st);
	assert_int_equal(st, 200);
	assert_string_equal(js(d, "result"), "false");
	assert_string_equal(js(d, "code"), "1306000");
	assert_string_equal(js(d, "error"), "<absent>");
	data = json_object_object_get(d, "data");
	assert_string_equal(js(data, "summary"),
	    "{\"total\":4,\"succeeded\":1,\"failed\":3}");
	assert_string_equal(js(data, "details"), "{\"g\":\"not a BlueKing "
	    "user\",\"n1\":\"no usable contact\",\"n2\":\"no usable "
	    "contact\"}");
	assert_string_equal(js(data, "username_check"),
	    "{\"invalid\":[\"g\"]}");
	json_object_put(d);
	reply_free(&rp);

	/*
	 * A dest_url's own answer (verbatim, any length): a name of
	 * LIM_MESSAGE - 1 bytes is listed, one of LIM_MESSAGE is not.
	 */
	for (n = LIM_MESSAGE - 1; n <= LIM_MESSAGE; n++) {
		big = xmalloc(n + 256);
		k = (size_t)snprintf(big, n + 256, "Some users failed. The "
		    "following users contact format are incorrect: n1,");
		memset(big + k, 'u', n);
		big[k + n] = '\0';
		reply_init(&rp);
		rp.payload = json_object_new_object();
		json_object_object_add(rp.payload, "result",
		    json_object_new_boolean(0));
		json_object_object_add(rp.payload, "message",
		    json_object_new_string(big));
		json_object_object_add(rp.payload, "data",
		    parse("{\"username_check\": {}}"));
		d = doc("/v1/send_mail/", V1_RUN, &rp, 3, &st);
		data = json_object_object_get(d, "data");
		assert_int_equal(json_object_object_length(json_object_object_get(
		    data, "details")), n < LIM_MESSAGE ? 2 : 1);
		assert_true(json_object_object_get_ex(json_object_object_get(
		    data, "details"), "n1", NULL));
		json_object_put(d);
		reply_free(&rp);
		free(big);
	}
}

static void
test_doc_errors(void **state)
{
	static const struct {
		enum v1_stage	 stage;
		const char	*message;
		int		 audited;
		int		 status;
		const char	*code;
	} t[] = {
		{ V1_NOTFOUND, "The content does not exist", 0, 404,
		    "NOT_FOUND" },
		{ V1_AUTH, "APP Secret verification failed", 0, 401,
		    "UNAUTHENTICATED" },
		{ V1_DENIED, "may not", 0, 403, "NO_PERMISSION" },
		{ V1_PARAMS, "email subject [title] This field is required.",
		    0, 400, "INVALID_ARGUMENT" },
		{ V1_RUN, "All users message failed to be sent. x", 0, 400,
		    "INVALID_ARGUMENT" },
		{ V1_RUN, "Failed to get users contact information based on "
		    "username, down", 0, 503, "UNAVAILABLE" },
		{ V1_RUN, "Unfinished interface shall be improved by the "
		    "component developer", 1, 501, "NOT_IMPLEMENTED" },
		{ V1_RUN, "Failed to send mail", 1, 500, "INTERNAL" },
		/* "Some users failed" with nothing delivered is no partial. */
		{ V1_RUN, "Some users failed to send email. x", 0, 400,
		    "INVALID_ARGUMENT" },
	};
	struct reply	 rp;
	json_object	*d, *e;
	size_t		 i;
	int		 st;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		reply_init(&rp);
		reply_fail(&rp, CODE_COMMON, "%s", t[i].message);
		if (t[i].audited)
			rp.audit = parse("[\"a@x\"]");
		d = doc(t[i].stage == V1_NOTFOUND ? NULL : "/v1/send_mail/",
		    t[i].stage, &rp, 1, &st);
		assert_int_equal(st, t[i].status);
		assert_string_equal(js(d, "result"), "false");
		assert_string_equal(js(d, "code"), "1306000");
		e = json_object_object_get(d, "error");
		assert_non_null(e);
		assert_string_equal(json_object_get_string(
		    json_object_object_get(e, "code")), t[i].code);
		assert_string_equal(json_object_get_string(
		    json_object_object_get(e, "message")), t[i].message);
		assert_string_equal(js(e, "details"), "[]");
		assert_string_equal(js(d, "request_id"),
		    "\"0123456789abcdef\"");
		json_object_put(d);
		reply_free(&rp);
	}
}

static void
test_doc_channels(void **state)
{
	struct reply	 rp;
	json_object	*d, *it;
	int		 st;

	(void)state;
	reply_init(&rp);
	reply_ok(&rp, "%s", "");
	reply_data(&rp, parse("[{\"type\": \"mail\", \"label\": \"邮件\", "
	    "\"is_active\": false, \"icon\": \"AAAB\"}]"));
	d = v1_doc(v1_find("GET", "/v1/channels/"), V1_RUN, &rp, 0, "id",
	    &st);
	assert_int_equal(st, 200);
	it = json_object_array_get_idx(json_object_object_get(d, "data"), 0);
	assert_string_equal(js(it, "name"), "\"邮件\"");
	assert_string_equal(js(it, "label"), "\"邮件\"");
	assert_string_equal(js(it, "enabled"), "false");
	assert_string_equal(js(it, "is_active"), "false");
	/* The reply's own data is left as it was. */
	it = json_object_array_get_idx(rp.data, 0);
	assert_string_equal(js(it, "name"), "<absent>");
	json_object_put(d);
	reply_free(&rp);
}

static struct conf *
load(const char *text)
{
	char		 path[] = "/tmp/test_v1_XXXXXX", cwd[1024];
	struct conf	*c;
	FILE		*f;
	int		 fd;

	fd = mkstemp(path);
	assert_true(fd != -1);
	f = fdopen(fd, "w");
	assert_non_null(f);
	/* Component sections are checked by conf/schemas/config/. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_true(text[0] == '{');
	fprintf(f, "{\"schemas_dir\": \"%s/conf/schemas\", %s", cwd, text + 1);
	fclose(f);
	c = conf_load(path, NULL);
	unlink(path);
	return c;
}

static void
test_tenants(void **state)
{
	struct conf		*c;
	const struct conf	*t;

	(void)state;
	c = load("{\"apps\": {\"a\": {\"secret\": \"s\"}}, \"components\": "
	    "{\"send_mail\": {\"mail_sender\": \"top@x\"}, \"send_sms\": "
	    "{\"delivery\": \"outbox\"}}}");
	assert_non_null(c);
	/* No tenants: every id is the one default tenant. */
	assert_ptr_equal(conf_tenant(c, NULL), c);
	assert_ptr_equal(conf_tenant(c, "tenant-a"), c);
	assert_ptr_equal(conf_tenant(c, "system"), c);
	conf_free(c);

	c = load("{\"apps\": {\"a\": {\"secret\": \"s\"}}, \"components\": "
	    "{\"send_mail\": {\"mail_sender\": \"top@x\"}, \"send_sms\": "
	    "{\"delivery\": \"outbox\"}}, \"tenants\": {\"tenant-a\": "
	    "{\"components\": {\"send_mail\": {\"delivery\": \"outbox\"}}}}}");
	assert_non_null(c);
	assert_ptr_equal(conf_tenant(c, ""), c);
	assert_ptr_equal(conf_tenant(c, "default"), c);
	assert_null(conf_tenant(c, "tenant-b"));
	t = conf_tenant(c, "tenant-a");
	assert_non_null(t);
	assert_ptr_not_equal(t, c);
	assert_string_equal(t->tenant, "tenant-a");
	assert_null(c->tenant);
	/* A tenant's section replaces the top's whole, keys and all. */
	assert_string_equal(conf_str(conf_comp(t, "send_mail"),
	    "mail_sender"), "");
	assert_string_equal(conf_str(conf_comp(t, "send_mail"), "delivery"),
	    "outbox");
	assert_string_equal(conf_str(conf_comp(t, "send_sms"), "delivery"),
	    "outbox");
	assert_string_equal(conf_str(conf_comp(c, "send_mail"),
	    "mail_sender"), "top@x");
	assert_non_null(conf_app(t, "a"));
	assert_string_equal(t->state_dir, c->state_dir);
	conf_free(c);
}

/*
 * Issue 33: blank items between separators are dropped, not trimmed
 * into a read before the item; objects and lists inside a receiver
 * list are skipped; a JSON list in a string may start with blanks.
 */
static void
test_map_blank_items(void **state)
{
	json_object	*p;

	(void)state;
	p = map("/v1/send_sms/", "{\"receiver\": \"13800000001, ,\\t, "
	    ";13800000002\", \"content\": \"x\"}");
	assert_string_equal(js(p, "receiver"),
	    "[\"13800000001\",\"13800000002\"]");
	json_object_put(p);
	p = map("/v1/send_sms/", "{\"receiver\": [\" \", \"13800000001\", "
	    "{\"x\": 1}, [\"13800000009\"]], \"content\": \"x\"}");
	assert_string_equal(js(p, "receiver"), "[\"13800000001\"]");
	json_object_put(p);
	p = map("/v1/send_mail/", "{\"receiver\": \"\\n [\\\"x@y.z\\\", "
	    "\\\"w@y.z\\\"]\", \"title\": \"t\", \"content\": \"c\"}");
	assert_string_equal(js(p, "receiver"), "[\"x@y.z\",\"w@y.z\"]");
	json_object_put(p);
	/* Only phone numbers lose their inner blanks and dashes. */
	p = map("/v1/send_mail/", "{\"receiver__username\": [\"bk-user\", "
	    "\" a b \"], \"title\": \"t\", \"content\": \"c\"}");
	assert_string_equal(js(p, "receiver__username"),
	    "[\"bk-user\",\"a b\"]");
	json_object_put(p);
	p = map("/v1/send_sms/", "{\"receiver\": [\"138-0000 0001\"], "
	    "\"content\": \"x\"}");
	assert_string_equal(js(p, "receiver"), "[\"13800000001\"]");
	json_object_put(p);
	/* An object is no list of anyone, not its JSON text split. */
	p = map("/v1/send_sms/", "{\"receiver\": {\"a\": \"13800000001\"}, "
	    "\"content\": \"x\"}");
	assert_string_equal(js(p, "receiver"), "[]");
	json_object_put(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_map_mail),
		cmocka_unit_test(test_map_phones),
		cmocka_unit_test(test_map_blank_items),
		cmocka_unit_test(test_map_weixin),
		cmocka_unit_test(test_asked),
		cmocka_unit_test(test_doc_send),
		cmocka_unit_test(test_doc_errors),
		cmocka_unit_test(test_doc_channels),
		cmocka_unit_test(test_tenants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
