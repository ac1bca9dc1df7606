/*
 * The console's pure parts: password hashes, the form described by the
 * config schemas (apply, secrets, display), the cookie reader, the
 * language choice, the history's redaction, and the config schemas'
 * rules as -t and the console share them.  Run from the source tree
 * (conf/schemas).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define TDIR_TEMPLATE	"/tmp/cmsi-console-XXXXXX"
#include "tdir.h"

#include "console/console.h"
#include "console/page.h"
#include "core/conf.h"
#include "core/confschema.h"
#include "core/request.h"
#include "lib/limits.h"
#include "lib/pwhash.h"

#define SCHEMAS	"conf/schemas"

static void
test_pwhash(void **state)
{
	char		 h[LIM_PWHASH], h2[LIM_PWHASH];
	struct pwhash	 ph;

	(void)state;
	assert_int_equal(pwhash_make("cmsi-demo", 9, h, sizeof(h)), 0);
	assert_true(strncmp(h, "pbkdf2-sha256$600000$", 21) == 0);
	assert_int_equal(pwhash_parse(h, &ph), 0);
	assert_int_equal(ph.iter, PWHASH_ITER);
	assert_int_equal(ph.saltlen, PWHASH_SALT);
	assert_int_equal(ph.keylen, PWHASH_KEY);
	assert_int_equal(pwhash_verify("cmsi-demo", 9, h), 1);
	assert_int_equal(pwhash_verify("cmsi-demO", 9, h), 0);
	assert_int_equal(pwhash_verify("cmsi-dem", 8, h), 0);
	assert_int_equal(pwhash_verify("", 0, h), 0);
	/* A fresh salt each time: the same password, another string. */
	assert_int_equal(pwhash_make("cmsi-demo", 9, h2, sizeof(h2)), 0);
	assert_string_not_equal(h, h2);
	/* The README's demo hash (conf/cmsi.json). */
	assert_int_equal(pwhash_verify("cmsi-demo", 9, "pbkdf2-sha256$600000$"
	    "nu34Oein1oDQKQCYKoTXXQ==$vf5BmGoKm28kYj5MIJeEXz9LzLfDDIR9Uhy0B6Z"
	    "TLgo="), 1);
	assert_int_equal(pwhash_make("", 0, h, sizeof(h)), -1);
	assert_int_equal(pwhash_make("x", 1, h, 20), -1);
}

static void
test_pwhash_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"cmsi-demo",
		"pbkdf2-sha1$600000$nu34Oein1oDQKQCYKoTXXQ==$vf5BmGoKm28kYj5MIJe"
		    "EXz9LzLfDDIR9Uhy0B6ZTLgo=",
		/* too cheap, too dear */
		"pbkdf2-sha256$1000$nu34Oein1oDQKQCYKoTXXQ==$vf5BmGoKm28kYj5MIJeE"
		    "Xz9LzLfDDIR9Uhy0B6ZTLgo=",
		"pbkdf2-sha256$99999999999$nu34Oein1oDQKQCYKoTXXQ==$vf5BmGoKm28kY"
		    "j5MIJeEXz9LzLfDDIR9Uhy0B6ZTLgo=",
		/* bad base64, short key, extra field */
		"pbkdf2-sha256$600000$nu34Oein1o*QKQCYKoTXXQ==$vf5BmGoKm28kYj5MIJ"
		    "eEXz9LzLfDDIR9Uhy0B6ZTLgo=",
		"pbkdf2-sha256$600000$nu34Oein1oDQKQCYKoTXXQ==$vf5B",
		"pbkdf2-sha256$600000$nu34Oein1oDQKQCYKoTXXQ==$vf5BmGoKm28kYj5MIJ"
		    "eEXz9LzLfDDIR9Uhy0B6ZTLgo=$x",
		"pbkdf2-sha256$-600000$nu34Oein1oDQKQCYKoTXXQ==$vf5BmGoKm28kYj5MI"
		    "JeEXz9LzLfDDIR9Uhy0B6ZTLgo=",
		NULL
	};
	size_t	 i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		assert_int_equal(pwhash_parse(bad[i], NULL), -1);
		assert_int_equal(pwhash_verify("cmsi-demo", 9, bad[i]), -1);
	}
}

static void
test_secret_state(void **state)
{
	json_object	*v;
	char		 s[300];

	(void)state;
	assert_string_equal(cform_secret_state(NULL, s, sizeof(s), 0),
	    "not set");
	v = json_object_new_string("");
	assert_string_equal(cform_secret_state(v, s, sizeof(s), 0), "not set");
	json_object_put(v);
	v = json_object_new_string("hunter2");
	assert_string_equal(cform_secret_state(v, s, sizeof(s), 0), "set");
	assert_null(strstr(s, "hunter2"));
	assert_string_equal(cform_secret_state(v, s, sizeof(s), 1), "已设置");
	json_object_put(v);
	v = json_tokener_parse("{\"file\": \"smtp.pwd\"}");
	assert_string_equal(cform_secret_state(v, s, sizeof(s), 0),
	    "from file smtp.pwd");
	json_object_put(v);
	v = json_tokener_parse("{\"env\": \"SMTP_PWD\"}");
	assert_string_equal(cform_secret_state(v, s, sizeof(s), 0),
	    "from env SMTP_PWD");
	json_object_put(v);
}

static json_object *
schema(const char *name)
{
	json_object	*d = confschema_doc(SCHEMAS, name);

	assert_non_null(d);
	return d;
}

static void
test_apply(void **state)
{
	json_object	*doc = schema("send_mail"), *sec, *form, *ch;
	const char	*out;

	(void)state;
	sec = json_tokener_parse("{\"comment\": \"keep\", \"smtp_host\": "
	    "\"smtp.qq.com\", \"smtp_port\": \"465\", \"smtp_pwd\": "
	    "{\"env\": \"SMTP_PWD\"}, \"smtp_usessl\": \"True\", "
	    "\"mail_sender\": \"a@example.com\"}");
	/* The same values, spelled as a browser sends them: nothing moves. */
	form = json_tokener_parse("{\"enabled\": \"on\", \"delivery\": \"\", "
	    "\"smtp_host\": \"smtp.qq.com\", \"smtp_port\": \"465\", "
	    "\"smtp_user\": \"\", \"smtp_pwd\": \"\", \"smtp_usessl\": \"on\", "
	    "\"mail_sender\": \"a@example.com\", \"dest_url\": \"\"}");
	ch = json_object_new_array();
	assert_int_equal(cform_apply(doc, sec, form, ch), 0);
	assert_int_equal(json_object_array_length(ch), 0);
	/* A new port, a new sender, the checkbox off, the secret kept. */
	json_object_object_add(form, "smtp_port", json_object_new_string(
	    "587"));
	json_object_object_add(form, "mail_sender", json_object_new_string(
	    "<script>x</script>"));
	json_object_object_del(form, "smtp_usessl");
	json_object_object_add(form, "smtp_usetls", json_object_new_string(
	    "on"));
	assert_int_equal(cform_apply(doc, sec, form, ch), 4);
	out = json_object_to_json_string_ext(sec, JSON_C_TO_STRING_PLAIN);
	assert_string_equal(out, "{\"comment\":\"keep\",\"smtp_host\":"
	    "\"smtp.qq.com\",\"smtp_port\":587,\"smtp_pwd\":{\"env\":"
	    "\"SMTP_PWD\"},\"smtp_usessl\":false,\"mail_sender\":"
	    "\"<script>x<\\/script>\",\"smtp_usetls\":true}");
	assert_string_equal(json_object_to_json_string_ext(ch,
	    JSON_C_TO_STRING_PLAIN), "[\"smtp_port\",\"smtp_usessl\","
	    "\"smtp_usetls\",\"mail_sender\"]");
	/* A value that only lengthens the old one is a change. */
	json_object_put(ch);
	ch = json_object_new_array();
	json_object_object_add(form, "smtp_host", json_object_new_string(
	    "smtp.qq.com.cn"));
	assert_int_equal(cform_apply(doc, sec, form, ch), 1);
	assert_string_equal(json_object_get_string(json_object_object_get(sec,
	    "smtp_host")), "smtp.qq.com.cn");
	assert_string_equal(json_object_to_json_string_ext(ch,
	    JSON_C_TO_STRING_PLAIN), "[\"smtp_host\"]");
	/* A typed secret replaces the reference; __clear removes it. */
	json_object_put(ch);
	ch = json_object_new_array();
	json_object_object_add(form, "smtp_pwd", json_object_new_string(
	    "new-pw"));
	assert_int_equal(cform_apply(doc, sec, form, ch), 1);
	assert_string_equal(json_object_get_string(json_object_object_get(sec,
	    "smtp_pwd")), "new-pw");
	json_object_object_add(form, "smtp_pwd", json_object_new_string(""));
	json_object_object_add(form, "smtp_pwd__clear",
	    json_object_new_string("on"));
	assert_int_equal(cform_apply(doc, sec, form, ch), 1);
	assert_false(json_object_object_get_ex(sec, "smtp_pwd", NULL));
	/* An emptied text removes the key; an unsent one is left alone. */
	json_object_object_add(form, "smtp_host", json_object_new_string(""));
	json_object_object_del(form, "mail_sender");
	assert_int_equal(cform_apply(doc, sec, form, ch), 1);
	assert_false(json_object_object_get_ex(sec, "smtp_host", NULL));
	assert_true(json_object_object_get_ex(sec, "mail_sender", NULL));
	assert_string_equal(json_object_get_string(json_object_object_get(sec,
	    "comment")), "keep");
	json_object_put(ch);
	json_object_put(form);
	json_object_put(sec);
	json_object_put(doc);
}

static void
test_fields(void **state)
{
	json_object	*doc = schema("send_weixin"), *sec, *f, *e;
	const char	*all;
	size_t		 i;
	int		 saw_switch = 0;

	(void)state;
	sec = json_tokener_parse("{\"wx_type\": \"mp\", \"wx_secret\": "
	    "\"very-secret\", \"wx_app_id\": \"<b>id</b>\"}");
	f = cform_fields(doc, sec, NULL, NULL, 0);
	all = json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN);
	assert_null(strstr(all, "very-secret"));
	for (i = 0; i < json_object_array_length(f); i++) {
		e = json_object_array_get_idx(f, i);
		if (json_object_object_get_ex(e, "switch", NULL) &&
		    json_object_get_boolean(json_object_object_get(e,
		    "switch")))
			saw_switch = 1;
	}
	assert_true(saw_switch);
	assert_non_null(strstr(all, "\"key\":\"wx_secret\""));
	assert_non_null(strstr(all, "\"state\":\"set\""));
	assert_non_null(strstr(all, "\"group\":\"mp\""));
	json_object_put(f);
	json_object_put(sec);
	json_object_put(doc);
}

static void
test_rules(void **state)
{
	struct confschema_err	 e[8];
	json_object		*sec;

	(void)state;
	sec = json_tokener_parse("{\"smtp_port\": \"99999\", \"smtp_usessl\":"
	    " \"maybe\", \"smtp_hots\": 1, \"smtp_pwd\": {\"file\": \"x\"}, "
	    "\"mail_sender\": \"a@b\\r\\nBcc: x\"}");
	assert_int_equal(confschema_check(SCHEMAS, "send_mail", sec, e, 8), 4);
	assert_string_equal(e[0].key, "smtp_port");
	assert_string_equal(e[0].msg, "not a port");
	assert_string_equal(e[1].key, "smtp_usessl");
	assert_string_equal(e[1].msg, "not a boolean");
	assert_string_equal(e[2].key, "mail_sender");
	assert_string_equal(e[3].key, "smtp_hots");
	assert_string_equal(e[3].msg, "unknown key");
	json_object_put(sec);
	sec = json_tokener_parse("{\"smtp_port\": 465, \"smtp_usessl\": "
	    "\"True\", \"smtp_pwd\": {\"env\": \"P\"}}");
	assert_int_equal(confschema_check(SCHEMAS, "send_mail", sec, e, 8), 0);
	json_object_put(sec);
	sec = json_object_new_object();
	assert_int_equal(confschema_check(SCHEMAS, "../etc", sec, e, 8), -1);
	assert_int_equal(confschema_check(SCHEMAS, "send_fax", sec, e, 8), -1);
	json_object_put(sec);
}

static void
test_cookie_lang(void **state)
{
	char	 v[80];

	(void)state;
	assert_int_equal(cauth_cookie("a=1; cmsi_console=abc; b=2",
	    "cmsi_console", v, sizeof(v)), 0);
	assert_string_equal(v, "abc");
	assert_int_equal(cauth_cookie("cmsi_console_pre=x", "cmsi_console", v,
	    sizeof(v)), -1);
	assert_int_equal(cauth_cookie("xcmsi_console=x", "cmsi_console", v,
	    sizeof(v)), -1);
	assert_int_equal(cauth_cookie("cmsi_console=0123456789", "cmsi_console",
	    v, 4), -1);
	assert_int_equal(cauth_cookie(NULL, "cmsi_console", v, sizeof(v)), -1);
	assert_int_equal(cform_lang("zh-cn", "en"), 1);
	assert_int_equal(cform_lang("en", "zh-CN,zh;q=0.9"), 0);
	assert_int_equal(cform_lang(NULL, "zh-CN,zh;q=0.9"), 1);
	assert_int_equal(cform_lang(NULL, "en-US,zh;q=0.5"), 0);
	assert_int_equal(cform_lang(NULL, NULL), 0);
}

static void
test_redact(void **state)
{
	json_object	*d;
	const char	*s;

	(void)state;
	d = json_tokener_parse("{\"apps\": {\"a\": {\"secret\": \"s1\"}}, "
	    "\"console\": {\"users\": {\"u\": {\"password_hash\": \"h\"}}}, "
	    "\"components\": {\"send_mail\": {\"smtp_pwd\": \"s2\", "
	    "\"smtp_host\": \"h\"}, \"send_sms\": {\"qcloud_app_key\": \"s3\","
	    " \"qcloud_secret_key\": {\"env\": \"K\"}}}}");
	cform_redact(d, "");
	s = json_object_to_json_string(d);
	assert_null(strstr(s, "s1"));
	assert_null(strstr(s, "s2"));
	assert_null(strstr(s, "s3"));
	assert_null(strstr(s, "\"password_hash\": \"h\""));
	assert_non_null(strstr(s, "\"smtp_host\": \"h\""));
	json_object_put(d);
	/*
	 * Issue 32 row 5: a secret of any JSON type, and a URL's password
	 * under any key (a proxy also without a scheme).
	 */
	d = json_tokener_parse("{\"upstream\": {\"proxy\": "
	    "\"http://pu:pp1@127.0.0.1:3128\"}, \"b\": {\"proxy\": "
	    "\"pu:pp2@proxy:3128\"}, \"components\": {\"send_sms\": "
	    "{\"dest_url\": \"https://u:pp3@h.example.com/x?a=b@c\", "
	    "\"qcloud_app_key\": 12345678, \"qcloud_secret_key\": "
	    "{\"env\": \"KEYVAR\"}, \"wx_token\": [\"t1\"], "
	    "\"mail_sender\": \"ops@example.com\"}}}");
	cform_redact(d, "");
	s = json_object_to_json_string(d);
	assert_null(strstr(s, "pp1"));
	assert_null(strstr(s, "pp2"));
	assert_null(strstr(s, "pp3"));
	assert_null(strstr(s, "12345678"));
	assert_null(strstr(s, "KEYVAR"));
	assert_null(strstr(s, "t1"));
	assert_non_null(strstr(s, "http:\\/\\/pu:***@127.0.0.1:3128"));
	assert_non_null(strstr(s, "pu:***@proxy:3128"));
	assert_non_null(strstr(s, "ops@example.com"));
	json_object_put(d);
}

/* Layout names the Templates page edits: the list and named parts. */
static void
test_tmpl_names(void **state)
{
	static const char *const good[] = { "mail/html", "mail/text",
	    "wecom/text", "wxmp/data", "sms/text", "voice/text",
	    "messages/alert/title", "messages/alert/content",
	    "messages/a-b_9/title", NULL };
	static const char *const bad[] = { "", "console/head",
	    "console/console", "console/strings", "../cmsi", "mail/../x",
	    "mail/html/", "/mail/html", "mail//html", "mail/html.mustache",
	    "messages/alert", "messages/alert/", "messages//title",
	    "messages/../title", "messages/a/../title", "messages/.x/title",
	    "messages/a.b/title", "messages/alert/other",
	    "messages/alert/title/x", "messages/a b/title", "MAIL/HTML",
	    "messages/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaa/title", NULL };
	size_t	 i;

	(void)state;
	for (i = 0; good[i] != NULL; i++)
		assert_true(ctmpl_name_ok(good[i]));
	for (i = 0; bad[i] != NULL; i++)
		assert_false(ctmpl_name_ok(bad[i]));
}

/* Issue 32 row 8: BlueKing's step filters by the system's name, CMSI. */
static void
test_match(void **state)
{
	(void)state;
	assert_true(cform_match("", "", "send_mail"));
	assert_true(cform_match("CMSI", "", "send_mail"));
	assert_true(cform_match("cmsi", "tenant-a", "send_sms"));
	assert_true(cform_match(" CMSI  send_mail ", "", "send_mail"));
	assert_true(cform_match("Tenant-A MAIL", "tenant-a", "send_mail"));
	assert_false(cform_match("CMSI send_mail", "", "send_sms"));
	assert_false(cform_match("tenant-b", "tenant-a", "send_mail"));
}

/* Issue 32 row 12: white space around ids and secrets is trimmed, named. */
static void
test_trim(void **state)
{
	json_object	*doc = schema("send_weixin"), *form, *t;

	(void)state;
	form = json_tokener_parse("{\"wx_qy_corpid\": \" ww0001 \", "
	    "\"wx_qy_corpsecret\": \"s3cret\\r\\n\", \"wx_qy_agentid\": "
	    "\"1000002\", \"wx_type\": \" qy\"}");
	t = json_object_new_array();
	assert_int_equal(cform_trim(doc, form, t), 2);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    form, "wx_qy_corpid")), "ww0001");
	assert_string_equal(json_object_get_string(json_object_object_get(
	    form, "wx_qy_corpsecret")), "s3cret");
	/* A select is not typed by hand: left for the schema to refuse. */
	assert_string_equal(json_object_get_string(json_object_object_get(
	    form, "wx_type")), " qy");
	assert_string_equal(json_object_to_json_string_ext(t,
	    JSON_C_TO_STRING_PLAIN), "[\"wx_qy_corpid\",\"wx_qy_corpsecret\"]");
	json_object_put(t);
	json_object_put(form);
	json_object_put(doc);
}

/* Issue 32 row 11: what cannot send, per delivery and wx_type. */
static void
test_require(void **state)
{
	json_object	*doc = schema("send_weixin"), *sec, *errs;
	struct confschema_err	 e[8];

	(void)state;
	sec = json_tokener_parse("{\"wx_type\": \"qywx\", \"wx_qy_agentid\": "
	    "\"1\", \"wx_app_id\": \"\"}");
	errs = json_object_new_object();
	assert_int_equal(cform_require(doc, sec, errs, "required"), 2);
	assert_true(json_object_object_get_ex(errs, "wx_qy_corpid", NULL));
	assert_true(json_object_object_get_ex(errs, "wx_qy_corpsecret", NULL));
	/* The Official Account's keys are not WeCom's business. */
	assert_false(json_object_object_get_ex(errs, "wx_app_id", NULL));
	json_object_put(errs);
	/* A secret given as a reference is there. */
	json_object_object_add(sec, "wx_qy_corpid", json_object_new_string(
	    "ww1"));
	json_object_object_add(sec, "wx_qy_corpsecret", json_tokener_parse(
	    "{\"env\": \"X\"}"));
	errs = json_object_new_object();
	assert_int_equal(cform_require(doc, sec, errs, "required"), 0);
	json_object_put(errs);
	/* The outbox, or switched off: nothing is required. */
	json_object_object_del(sec, "wx_qy_corpid");
	json_object_object_add(sec, "delivery", json_object_new_string(
	    "outbox"));
	errs = json_object_new_object();
	assert_int_equal(cform_require(doc, sec, errs, "required"), 0);
	assert_int_equal(cform_outbox_filled(doc, sec), 1);
	json_object_object_add(sec, "delivery", json_object_new_string(""));
	json_object_object_add(sec, "enabled", json_object_new_boolean(0));
	assert_int_equal(cform_require(doc, sec, errs, "required"), 0);
	assert_int_equal(cform_outbox_filled(doc, sec), 0);
	json_object_put(errs);
	json_object_put(sec);
	/* The formats: an agent id is a number, an app id digits. */
	sec = json_tokener_parse("{\"wx_qy_agentid\": \"abc\", "
	    "\"wx_qy_corpid\": \"ww 1\"}");
	assert_int_equal(confschema_check(SCHEMAS, "send_weixin", sec, e, 8),
	    2);
	assert_string_equal(e[0].msg, "letters, digits, _ and - only");
	assert_string_equal(e[1].msg, "digits only");
	json_object_put(sec);
	sec = json_tokener_parse("{\"qcloud_app_id\": \"14OO000001\"}");
	assert_int_equal(confschema_check(SCHEMAS, "send_sms", sec, e, 8), 1);
	json_object_put(sec);
	/* A number is digits too. */
	sec = json_tokener_parse("{\"qcloud_app_id\": 1400000001}");
	assert_int_equal(confschema_check(SCHEMAS, "send_sms", sec, e, 8), 0);
	json_object_put(sec);
	json_object_put(doc);
}

/* Issue 32 row 15: one WeCom entry, spelled as the file spells it. */
static void
test_one_wecom(void **state)
{
	json_object	*doc = schema("send_weixin"), *sec, *f, *e;
	const char	*opts = NULL;
	size_t		 i;

	(void)state;
	sec = json_tokener_parse("{\"wx_type\": \"qywx\"}");
	f = cform_fields(doc, sec, NULL, NULL, 0);
	for (i = 0; i < json_object_array_length(f); i++) {
		e = json_object_array_get_idx(f, i);
		if (strcmp(json_object_get_string(json_object_object_get(e,
		    "key")), "wx_type") == 0)
			opts = json_object_to_json_string_ext(
			    json_object_object_get(e, "options"),
			    JSON_C_TO_STRING_PLAIN);
	}
	assert_non_null(opts);
	assert_string_equal(opts, "[{\"value\":\"qywx\",\"label\":\"WeCom\","
	    "\"selected\":true},{\"value\":\"mp\",\"label\":"
	    "\"Official Account\",\"selected\":false}]");
	json_object_put(f);
	json_object_put(sec);
	json_object_put(doc);
}

/* Issue 32 row 9: after a stale page, theirs stay and mine go on top. */
static void
test_merge(void **state)
{
	json_object	*doc = schema("send_mail"), *base, *cur, *form, *th;
	json_object	*m, *sec;

	(void)state;
	base = json_tokener_parse("{\"enabled\": \"on\", \"smtp_host\": \"a\","
	    " \"smtp_user\": \"\", \"mail_sender\": \"x@e\"}");
	cur = json_tokener_parse("{\"enabled\": \"on\", \"smtp_host\": \"a\","
	    " \"smtp_user\": \"\", \"mail_sender\": \"bob@e\"}");
	form = json_tokener_parse("{\"enabled\": \"on\", \"smtp_host\": \"a\","
	    " \"smtp_user\": \"alice\", \"mail_sender\": \"x@e\"}");
	th = json_object_new_array();
	m = cform_merge(doc, base, cur, form, th);
	assert_string_equal(json_object_get_string(json_object_object_get(m,
	    "mail_sender")), "bob@e");
	assert_string_equal(json_object_get_string(json_object_object_get(m,
	    "smtp_user")), "alice");
	assert_true(json_object_object_get_ex(m, "enabled", NULL));
	assert_string_equal(json_object_to_json_string_ext(th,
	    JSON_C_TO_STRING_PLAIN), "[{\"key\":\"mail_sender\",\"was\":"
	    "\"x@e\",\"now\":\"bob@e\",\"mine\":false}]");
	json_object_put(th);
	json_object_put(m);
	json_object_put(form);
	json_object_put(cur);
	json_object_put(base);
	/*
	 * A secret by its state: removed meanwhile is listed; one typed
	 * now is the operator's, shown as stars and not carried over.
	 */
	sec = json_tokener_parse("{\"smtp_pwd\": \"old\"}");
	base = cform_base(doc, sec);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    base, "smtp_pwd")), "set");
	json_object_put(sec);
	sec = json_tokener_parse("{\"smtp_pwd\": {\"file\": \"/run/pw\"}}");
	cur = cform_base(doc, sec);
	form = json_tokener_parse("{\"smtp_pwd\": \"typed-now\"}");
	th = json_object_new_array();
	m = cform_merge(doc, base, cur, form, th);
	assert_false(json_object_object_get_ex(m, "smtp_pwd", NULL));
	assert_string_equal(json_object_to_json_string_ext(th,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    "[{\"key\":\"smtp_pwd\",\"was\":\"set\",\"now\":"
	    "\"from file /run/pw\",\"yours\":\"******\",\"mine\":true}]");
	json_object_put(th);
	json_object_put(m);
	json_object_put(form);
	json_object_put(cur);
	json_object_put(base);
	json_object_put(sec);
	json_object_put(doc);
}

/* Issue 32 row 13: History's diff masks secrets and URL passwords. */
static void
test_diff(void **state)
{
	json_object	*a, *b, *d;
	const char	*s;

	(void)state;
	a = json_tokener_parse("{\"components\": {\"send_mail\": {\"smtp_pwd\":"
	    " \"old-pw\", \"smtp_port\": 25}}, \"upstream\": {\"proxy\": "
	    "\"http://u:p4ss@proxy:3128\"}}");
	b = json_tokener_parse("{\"components\": {\"send_mail\": {\"smtp_pwd\":"
	    " \"new-pw\", \"smtp_port\": 465, \"smtp_user\": \"me\"}}, "
	    "\"upstream\": {\"proxy\": \"http://u:other@proxy:3128\"}}");
	d = cform_diff(a, b, 40);
	s = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	assert_null(strstr(s, "old-pw"));
	assert_null(strstr(s, "new-pw"));
	assert_null(strstr(s, "p4ss"));
	assert_null(strstr(s, "other"));
	assert_non_null(strstr(s, "{\"path\":\"components.send_mail.smtp_pwd\","
	    "\"was\":\"******\",\"now\":\"****** (changed)\"}"));
	assert_non_null(strstr(s, "{\"path\":"
	    "\"components.send_mail.smtp_port\",\"was\":\"25\",\"now\":\"465\"}"));
	assert_non_null(strstr(s, "\"path\":\"components.send_mail.smtp_user\","
	    "\"was\":\"(none)\",\"now\":\"me\""));
	assert_non_null(strstr(s, "http://******@proxy:3128"));
	json_object_put(d);
	d = cform_diff(a, a, 40);
	assert_int_equal(json_object_array_length(d), 0);
	json_object_put(d);
	json_object_put(b);
	json_object_put(a);

	/*
	 * A section added or removed whole: each leaf its own line, its
	 * secrets masked (the whole object's text once showed them).
	 */
	a = json_tokener_parse("{\"components\": {}}");
	b = json_tokener_parse("{\"components\": {\"send_sms\": "
	    "{\"tc_secret_key\": \"sk-1\", \"tc_sdk_app_id\": \"140\"}}, "
	    "\"tenants\": {\"t-a\": {\"components\": {\"send_mp_weixin\": "
	    "{\"wx_token\": \"tok-1\"}}}, \"t-b\": {}}}");
	d = cform_diff(a, b, 40);
	assert_string_equal(json_object_to_json_string_ext(d,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    "[{\"path\":\"components.send_sms.tc_secret_key\",\"was\":"
	    "\"(none)\",\"now\":\"******\"},{\"path\":"
	    "\"components.send_sms.tc_sdk_app_id\",\"was\":\"(none)\","
	    "\"now\":\"140\"},{\"path\":\"tenants.t-a.components."
	    "send_mp_weixin.wx_token\",\"was\":\"(none)\",\"now\":"
	    "\"******\"},{\"path\":\"tenants.t-b\",\"was\":\"(none)\","
	    "\"now\":\"{}\"}]");
	json_object_put(d);
	d = cform_diff(b, a, 40);
	s = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	assert_null(strstr(s, "sk-1"));
	assert_null(strstr(s, "tok-1"));
	assert_non_null(strstr(s, "{\"path\":\"components.send_sms."
	    "tc_secret_key\",\"was\":\"******\",\"now\":\"(none)\"}"));
	json_object_put(d);
	json_object_put(b);
	json_object_put(a);
}

/*
 * Under top, nested directories of 'd' making a path of exactly len
 * bytes into sd (LIM_PATH bytes); the upper ones may be another
 * length's.
 */
static void
deep_dir(const char *top, size_t len, char *sd)
{
	size_t	 n, k;

	snprintf(sd, LIM_PATH, "%s", top);
	while ((n = strlen(sd)) < len) {
		k = len - n - 1 > 200 ? 200 : len - n - 1;
		sd[n] = '/';
		memset(sd + n + 1, 'd', k);
		sd[n + 1 + k] = '\0';
		assert_true(mkdir(sd, 0700) == 0 || errno == EEXIST);
	}
	assert_int_equal(strlen(sd), len);
}

/*
 * How many names in path (not starting with '.') end in ext; the last
 * one into last.
 */
static int
count_ext(const char *path, const char *ext, char *last, size_t lastsz)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 n;
	int		 c = 0;

	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] != '.' && n > strlen(ext) &&
		    strcmp(de->d_name + n - strlen(ext), ext) == 0) {
			snprintf(last, lastsz, "%s", de->d_name);
			c++;
		}
	}
	closedir(d);
	return c;
}

/*
 * A save through csave_replace (the custom components' page) with a
 * state_dir of sdlen bytes.  Returns how many notes (<stamp>.meta) the
 * history holds after it, a note checked byte for byte; or -1 when the
 * save was refused, with the config file and the history untouched.
 */
static int
save_notes(const char *top, size_t sdlen)
{
	struct conf		 c;
	struct console_rq	 rq;
	struct req		 r;
	char			 sd[LIM_PATH], hist[LIM_PATH + 32];
	char			 cpath[256], name[256];
	char			 why[LIM_PATH + 64], want[LIM_PATH + 64];
	char			 mpath[LIM_PATH + 300], buf[512];
	FILE			*f;
	size_t			 n;
	int			 notes, rc;

	deep_dir(top, sdlen, sd);
	snprintf(cpath, sizeof(cpath), "%s/cmsi-%zu.json", top, sdlen);
	assert_non_null(f = fopen(cpath, "w"));
	fputs("{}\n", f);
	fclose(f);
	memset(&c, 0, sizeof(c));
	c.state_dir = sd;
	c.path = cpath;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%032d", 0);
	memset(&rq, 0, sizeof(rq));
	rq.conf = &c;
	rq.r = &r;
	snprintf(rq.user, sizeof(rq.user), "admin");
	why[0] = '\0';
	rc = csave_replace(&rq, "{}\n", 3, "{\n}\n", "console.custom",
	    "my_comp", NULL, why, sizeof(why));
	snprintf(hist, sizeof(hist), "%s/console/history", sd);
	/* Never a temporary name left behind, cut or whole. */
	assert_int_equal(count_ext(hist, ".tmp", name, sizeof(name)), 0);
	assert_int_equal(count_ext(hist, ".tm", name, sizeof(name)), 0);
	assert_non_null(f = fopen(cpath, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (rc == -1) {
		snprintf(want, sizeof(want), "cannot keep the previous "
		    "version under %s", sd);
		assert_string_equal(why, want);
		assert_string_equal(buf, "{}\n");
		assert_int_equal(count_ext(hist, "", name, sizeof(name)), 0);
		return -1;
	}
	assert_int_equal(rc, 0);
	assert_string_equal(why, "");
	assert_string_equal(buf, "{\n}\n");
	/* The version replaced is kept. */
	assert_int_equal(count_ext(hist, ".json", name, sizeof(name)), 1);
	assert_int_equal(strlen(name), 30);
	notes = count_ext(hist, ".meta", name, sizeof(name));
	if (notes == 1) {
		snprintf(mpath, sizeof(mpath), "%s/%s", hist, name);
		assert_non_null(f = fopen(mpath, "r"));
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		assert_string_equal(buf, "{\"user\":\"admin\",\"event\":"
		    "\"custom\",\"tenant\":\"\",\"component\":\"my_comp\"}");
	}
	return notes;
}

/*
 * The history note's names at the edge of LIM_PATH.  Its temporary
 * name, <state_dir>/console/history/<stamp 25>.meta.tmp, is exactly as
 * long as the kept version's, <stamp 25>.json.tmp beside it (stamp:
 * %Y%m%dT%H%M%S-%09ld, always 25 bytes while the year has 4 digits).
 * With a state_dir of 972 bytes both are 1023 bytes: the save goes
 * through and the note is written.  With 973 both need LIM_PATH bytes
 * and the NUL does not fit: the version cannot be kept, so the save is
 * refused before hist_note runs.  That is why hist_note's own checks
 * of those lengths (save.hist_note.off-by-one.8f76bedd) can never
 * decide anything: see tests/mutate/equivalent.txt.  Should the kept
 * version's name ever get longer than the note's, the 973 case here
 * saves and must find no note.
 */
static void
test_hist_note_long(void **state)
{
	(void)state;
	assert_int_equal(save_notes(dir, 972), 1);
	assert_int_equal(save_notes(dir, 973), -1);
}

/*
 * A named layout's name, messages/<name>/title: a name of LIM_NAME - 1
 * bytes is one, LIM_NAME bytes is not (nor an empty one).
 */
static void
test_template_name_cap(void **state)
{
	char	 n[LIM_NAME + 32], name[LIM_NAME + 1];

	(void)state;
	memset(name, 'a', LIM_NAME);
	name[LIM_NAME - 1] = '\0';
	snprintf(n, sizeof(n), "messages/%s/title", name);
	assert_int_equal(ctmpl_name_ok(n), 1);
	name[LIM_NAME - 1] = 'a';
	name[LIM_NAME] = '\0';
	snprintf(n, sizeof(n), "messages/%s/title", name);
	assert_int_equal(ctmpl_name_ok(n), 0);
	assert_int_equal(ctmpl_name_ok("messages//title"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pwhash),
		cmocka_unit_test(test_template_name_cap),
		cmocka_unit_test(test_pwhash_malformed),
		cmocka_unit_test(test_secret_state),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_cookie_lang),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_tmpl_names),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_require),
		cmocka_unit_test(test_one_wecom),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_diff),
		cmocka_unit_test_setup_teardown(test_hist_note_long, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
