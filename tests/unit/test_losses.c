/*
 * What a user would lose (issue 33): fixed inputs and exact answers for
 * behaviours that planted one-line regressions once went through the
 * whole suite unnoticed.  The ones that need a real upstream (SMTP
 * after DATA, retries, expiry, sessions, History) are in
 * tests/e2e/t_losses.py.
 *
 * Checklist (issue 33, part 3), and where each row is tested.  Caps:
 * the value at the cap is taken, one over refused.
 *
 *   cap                         where
 *   --------------------------  ---------------------------------------
 *   LIM_IDEM_KEY 255            here: t_idem_key_cap
 *   LIM_NAME (app code)         here: t_config_caps
 *   LIM_RETRY_ATTEMPTS, _AGE    here: t_config_caps (and 2, 1 below)
 *   LIM_RATE_PER_S, _BURST      here: t_config_caps
 *   dedup_window_s 86400        here: t_config_caps
 *   retry attempts, max_age_s   here: t_spool_bounds (an item at each)
 *   THROTTLE_FREE, its locks    here: t_throttle
 *   LIM_CONF (console reads)    here: t_console_caps
 *   LIM_JSON_DEPTH 32           test_request.c test_json_depth
 *   LIM_JWT                     test_jwt.c
 *   LIM_ADDR, LIM_MAIL          test_mime.c
 *   LIM_PHONE                   test_qcloud.c
 *   LIM_CALLBACK                test_wechat.c
 *   LIM_TMPL_DEPTH, LIM_RENDER  test_tmpl.c
 *   LIM_TOKEN, LIM_TOKEN_WHY    test_store.c
 *   LIM_PWHASH                  test_console.c
 *   max_body (LIM_BODY)         t_contract.py, t_configcheck.py
 *   LIM_UP_PARALLEL             t_wechat.py
 *   LIM_PATH, LIM_PASSWORD,     test_edges.c (its table: t_req_read_*,
 *   LIM_HISTORY, LIM_IDEM_        t_hash_password, t_hist_*,
 *   ANSWER, LIM_CALLBACK,         t_idem_answer_cap, t_callback_cap,
 *   LIM_IMPORT, LIM_FORM,         t_import_caps, t_console_serve,
 *   LIM_SPOOL_ITEM, LIM_FILE,     t_spool_item_cap,
 *   LIM_NAME (tenants, custom     t_template_file_cap,
 *   names, webhook headers),      t_tenant_id_cap, t_custom_name_cap,
 *   LIM_SECRET (headers)          t_webhook_header_caps)
 *   LIM_TOKEN                   test_store.c test_token_at_cap
 *   LIM_RENDER (one, two values) test_tmpl.c test_render_cap,
 *   LIM_TMPL_WORK, _DELIM,        test_work_cap_exact, test_delim_cap,
 *   render depth                  test_render_depth_cap, test_blocks
 *   LIM_ADDR (content_id, type) test_mime.c test_addr_cap
 *   LIM_MESSAGE (v1 details)    test_v1.c test_doc_send
 *
 *   key (must not collide)      where
 *   --------------------------  ---------------------------------------
 *   Idempotency-Key: app,       here: t_idem_per_app; t_losses.py
 *     tenant                      idempotency (two apps, one key)
 *   dedup: app, tenant, comp    here: t_idem_per_app
 *   rate: scope, app, tenant,   here: t_rate_keys
 *     component
 *   sign-in throttle: user,     here: t_throttle
 *     address
 *   token store: kind, ident    test_store.c test_names
 *   app -> tenants              here: t_app_tenants
 *   sign-in throttle eviction   test_edges.c t_throttle_room
 *   console session: user, pw   test_edges.c t_session
 *
 *   "success" and what undoes it          where
 *   ------------------------------------  -----------------------------
 *   SMTP: some RCPT refused               t_smtp.py, case 020-smtp-plain
 *   SMTP: 554 after DATA                  t_losses.py after-DATA
 *   SMTP: 550 + 451 with retry on         t_losses.py refused+queued
 *   retry: nobody delivered twice         t_losses.py retry-once
 *   retry: past max_age_s, not sent       t_losses.py max_age
 *   WeCom/MP/SMS partial and errcode 0    t_wechat.py, t_qcloud.py,
 *     without a msgid                       t_hostile_upstreams.py
 *   spooled partial: sent/failed/pending  test_edges.c t_spool_partial
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <fcgiapp.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/request.h"
#include "console/console.h"
#include "auth.h"
#include "lib/limits.h"
#include "preflight.h"
#include "route.h"
#include "core/outcome.h"
#include "state/idem.h"
#include "state/rate.h"
#include "state/spool.h"
#include "core/tmplset.h"

#define TDIR_TEMPLATE	"/tmp/cmsi-losses-XXXXXX"
#include "tdir.h"

static json_object *
doc(const char *s)
{
	json_object	*o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

static void
assert_json(json_object *o, const char *want)
{
	assert_string_equal(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), want);
}

/*
 * A JSON list sent as a string is a list even with whitespace before
 * its bracket (a YAML or shell-made value often starts with a newline).
 */
static void
t_list_leading_space(void **state)
{
	json_object	*in, *out;

	(void)state;
	in = json_object_new_string("\n [\"a@x\", \"b@x\"]");
	out = req_list(in);
	assert_json(out, "[\"a@x\",\"b@x\"]");
	json_object_put(out);
	json_object_put(in);
	in = json_object_new_string("\t\r\n[\"a b@x\"]");
	out = req_list(in);
	assert_json(out, "[\"a b@x\"]");
	json_object_put(out);
	json_object_put(in);
	/* Blanks only: no one, and false (a tab is no separator). */
	in = json_object_new_string("  \r\n ");
	out = req_list(in);
	assert_json(out, "[]");
	json_object_put(out);
	assert_int_equal(req_bool(in), 0);
	json_object_put(in);
	in = json_object_new_string(" \t\n");
	assert_int_equal(req_bool(in), 0);
	json_object_put(in);
	/* An empty object or list is false, one with anything true. */
	in = doc("{}");
	assert_int_equal(req_bool(in), 0);
	json_object_put(in);
	in = doc("{\"a\": 0}");
	assert_int_equal(req_bool(in), 1);
	json_object_put(in);
	/* Not JSON after all: text, split as ever. */
	in = json_object_new_string(" [a@x, b@x");
	out = req_list(in);
	assert_json(out, "[\"[a@x\",\"b@x\"]");
	json_object_put(out);
	json_object_put(in);
}

/*
 * History shows old configs through cform_redact: the Official
 * Account's wx_token (the server URL's signing token) is a secret like
 * any other, at the top and in a tenant, as a string or a number;
 * wx_token_source is not.
 */
static void
t_redact_wx_token(void **state)
{
	json_object	*d;

	(void)state;
	d = doc("{\"components\": {\"send_mp_weixin\": {\"wx_app_id\": "
	    "\"wx1\", \"wx_secret\": \"mp-secret-1\", \"wx_token\": "
	    "\"mp-token-1\", \"wx_token_source\": \"console\", "
	    "\"wx_template_id\": \"tpl\"}}, \"tenants\": {\"t-a\": "
	    "{\"components\": {\"send_mp_weixin\": {\"wx_token\": 424242}}}}}");
	cform_redact(d, "");
	assert_json(d, "{\"components\":{\"send_mp_weixin\":{\"wx_app_id\":"
	    "\"wx1\",\"wx_secret\":\"******\",\"wx_token\":\"******\","
	    "\"wx_token_source\":\"console\",\"wx_template_id\":\"tpl\"}},"
	    "\"tenants\":{\"t-a\":{\"components\":{\"send_mp_weixin\":"
	    "{\"wx_token\":\"******\"}}}}}");
	json_object_put(d);
}

/*
 * Rate-limit names: scope, app, tenant and component each their own
 * bucket.  One request a ~17 minutes, burst 1: the second in a bucket
 * waits, the first in any other bucket goes.
 */
static void
t_rate_keys(void **state)
{
	struct conf	 top, ta, tb;
	struct ctx	 cx;
	json_object	*sec, *spec;
	long		 wait;

	(void)state;
	memset(&top, 0, sizeof(top));
	top.state_dir = dir;
	ta = tb = top;
	ta.tenant = (char *)(uintptr_t)"t-a";
	tb.tenant = (char *)(uintptr_t)"t-b";
	sec = doc("{\"rate_limit\": {\"per_second\": 0.001, \"burst\": 1}}");
	spec = json_object_object_get(sec, "rate_limit");

	assert_int_equal(rate_take(&top, "app", "app-a", spec, &wait), 1);
	assert_int_equal(rate_take(&top, "app", "app-a", spec, &wait), 0);
	assert_true(wait > 0);
	assert_int_equal(rate_take(&top, "app", "app-b", spec, &wait), 1);
	assert_int_equal(rate_take(&top, "comp", "app-a", spec, &wait), 1);

	memset(&cx, 0, sizeof(cx));
	cx.section = sec;
	cx.component = "send_sms";
	cx.conf = &ta;
	assert_int_equal(rate_comp(&cx, &wait), 1);
	assert_int_equal(rate_comp(&cx, &wait), 0);
	assert_true(wait > 900000);
	/* Another tenant, the top, another component: their own. */
	cx.conf = &tb;
	assert_int_equal(rate_comp(&cx, &wait), 1);
	assert_int_equal(wait, 0);
	cx.conf = &top;
	assert_int_equal(rate_comp(&cx, &wait), 1);
	cx.conf = &ta;
	cx.component = "send_voice_msg";
	assert_int_equal(rate_comp(&cx, &wait), 1);
	json_object_put(sec);
}

/* One request's idempotency step, with the header when key is set. */
static int
idem_run(const struct conf *c, const char *app, const char *comp,
    const char *key, json_object *section, const char *params,
    struct reply *rp, int answer_ok)
{
	FCGX_Request	 fr;
	struct req	 r;
	struct ctx	 cx;
	struct idem	 ik;
	char		 hdr[300];
	char		*env[2];
	json_object	*p;
	int		 rc;

	memset(&fr, 0, sizeof(fr));
	memset(&r, 0, sizeof(r));
	snprintf(hdr, sizeof(hdr), "HTTP_IDEMPOTENCY_KEY=%s",
	    key != NULL ? key : "");
	env[0] = hdr;
	env[1] = NULL;
	fr.envp = env;
	r.fr = &fr;
	p = doc(params);
	memset(&cx, 0, sizeof(cx));
	cx.conf = c;
	cx.component = comp;
	cx.params = p;
	cx.section = section;
	cx.request_id = "0123456789abcdef0123456789abcdef";
	cx.app_code = app;
	cx.username = "admin";
	cx.req = &r;
	reply_init(rp);
	rc = idem_begin(&cx, &ik, rp);
	if (rc == 0) {
		/* "Sent": the answer a repeat must get again. */
		if (answer_ok)
			reply_ok(rp, "sent for %s", app);
		else
			reply_fail(rp, 1306000, "refused for %s", app);
		idem_end(&ik, &cx, rp);
	}
	json_object_put(p);
	return rc;
}

/*
 * Idempotency-Keys belong to an app within a tenant: another app (or
 * tenant) with the same key and body is a request of its own and is
 * sent; the same app's repeat is answered as then; the same key with
 * another body is refused.  Duplicate suppression (no key) keys on
 * app and component too.
 */
static void
t_idem_per_app(void **state)
{
	struct conf	 top, ta;
	struct reply	 rp;
	json_object	*none, *dedup;
	const char	*body = "{\"receiver\": \"u1\", \"content\": \"c\"}";

	(void)state;
	memset(&top, 0, sizeof(top));
	top.state_dir = dir;
	ta = top;
	ta.tenant = (char *)(uintptr_t)"t-a";
	none = doc("{}");
	dedup = doc("{\"dedup_window_s\": 600}");

	assert_int_equal(idem_run(&top, "app-a", "send_sms", "k-1", none,
	    body, &rp, 1), 0);
	reply_free(&rp);
	assert_int_equal(idem_run(&top, "app-b", "send_sms", "k-1", none,
	    body, &rp, 1), 0);
	assert_string_equal(rp.message, "sent for app-b");
	reply_free(&rp);
	assert_int_equal(idem_run(&ta, "app-a", "send_sms", "k-1", none,
	    body, &rp, 1), 0);
	reply_free(&rp);
	/* The same app's repeat: the first answer, nothing sent. */
	assert_int_equal(idem_run(&top, "app-a", "send_sms", "k-1", none,
	    body, &rp, 0), 1);
	assert_int_equal(rp.result, 1);
	assert_string_equal(rp.message, "sent for app-a");
	reply_free(&rp);
	/* Another key of the same app: a request of its own. */
	assert_int_equal(idem_run(&top, "app-a", "send_sms", "k-2", none,
	    "{\"receiver\": \"u2\", \"content\": \"c\"}", &rp, 1), 0);
	reply_free(&rp);
	assert_int_equal(idem_run(&top, "app-a", "send_sms", "k-1", none,
	    "{\"receiver\": \"u2\", \"content\": \"c\"}", &rp, 1), 1);
	assert_int_equal(rp.result, 0);
	assert_string_equal(rp.message, "Idempotency-Key k-1 was already "
	    "used for a different request");
	reply_free(&rp);

	/* Duplicates without a key: app and component are in the name. */
	assert_int_equal(idem_run(&top, "app-a", "send_sms", NULL, dedup,
	    body, &rp, 1), 0);
	reply_free(&rp);
	assert_int_equal(idem_run(&top, "app-b", "send_sms", NULL, dedup,
	    body, &rp, 1), 0);
	reply_free(&rp);
	assert_int_equal(idem_run(&top, "app-a", "send_voice_msg", NULL,
	    dedup, body, &rp, 1), 0);
	reply_free(&rp);
	assert_int_equal(idem_run(&ta, "app-a", "send_sms", NULL, dedup,
	    body, &rp, 1), 0);
	reply_free(&rp);
	assert_int_equal(idem_run(&top, "app-a", "send_sms", NULL, dedup,
	    body, &rp, 0), 1);
	assert_string_equal(rp.message, "sent for app-a");
	reply_free(&rp);
	json_object_put(none);
	json_object_put(dedup);
}

/*
 * A request whose worker died after idem_begin: its record stays
 * pending; the spool item that carries it settles it.  Returns the
 * record's name in name.
 */
static void
idem_orphan(const struct conf *c, const char *key, char *name,
    size_t namesz)
{
	FCGX_Request	 fr;
	struct req	 r;
	struct ctx	 cx;
	struct idem	 ik;
	struct reply	 rp;
	char		 hdr[300];
	char		*env[2];
	json_object	*p, *none;

	memset(&fr, 0, sizeof(fr));
	memset(&r, 0, sizeof(r));
	snprintf(hdr, sizeof(hdr), "HTTP_IDEMPOTENCY_KEY=%s", key);
	env[0] = hdr;
	env[1] = NULL;
	fr.envp = env;
	r.fr = &fr;
	p = doc("{\"receiver\": \"+8613800000001,+8613800000002\"}");
	none = doc("{}");
	memset(&cx, 0, sizeof(cx));
	cx.conf = c;
	cx.component = "send_sms";
	cx.params = p;
	cx.section = none;
	cx.request_id = "4123456789abcdef0123456789abcdef";
	cx.app_code = "app-a";
	cx.username = "admin";
	cx.req = &r;
	reply_init(&rp);
	assert_int_equal(idem_begin(&cx, &ik, &rp), 0);
	snprintf(name, namesz, "%s", ik.name);
	/* The worker dies: its lock goes with it. */
	close(ik.fd);
	reply_free(&rp);
	json_object_put(p);
	json_object_put(none);
}

/*
 * What a repeat of a request whose first run was cut short is told
 * once the spool settled it: sent to all is the component's success;
 * anyone failed or expired is a failure naming them.
 */
static void
t_idem_settle(void **state)
{
	struct conf	 top;
	struct reply	 rp;
	json_object	*item, *none;
	char		 name[80], text[512];
	const char	*body = "{\"receiver\": \"+8613800000001,"
	    "+8613800000002\"}";
	static const struct {
		const char	*key, *rcpt, *message, *data;
		int		 expired, result;
	} cases[] = {
	    { "s-1", "\"+8613800000001\": \"sent\", \"+8613800000002\": "
	      "\"sent\"", "OK", "{\"sent\":[\"+8613800000001\","
	      "\"+8613800000002\"],\"failed\":[],\"expired\":[]}", 0, 1 },
	    { "s-2", "\"+8613800000001\": \"sent\", \"+8613800000002\": "
	      "\"failed\"", "Some users failed to receive the message",
	      "{\"sent\":[\"+8613800000001\"],\"failed\":"
	      "[\"+8613800000002\"],\"expired\":[]}", 0, 0 },
	    { "s-3", "\"+8613800000001\": \"sent\", \"+8613800000002\": "
	      "\"pending\"", "Some users failed to receive the message",
	      "{\"sent\":[\"+8613800000001\"],\"failed\":[],\"expired\":"
	      "[\"+8613800000002\"]}", 1, 0 },
	};
	size_t		 i;

	(void)state;
	memset(&top, 0, sizeof(top));
	top.state_dir = dir;
	none = doc("{}");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		idem_orphan(&top, cases[i].key, name, sizeof(name));
		snprintf(text, sizeof(text), "{\"id\": "
		    "\"4123456789abcdef0123456789abcdef\", \"component\": "
		    "\"send_sms\", \"idem\": \"%s\", \"rcpt\": {%s}}", name,
		    cases[i].rcpt);
		item = doc(text);
		idem_settle(&top, item, cases[i].expired);
		json_object_put(item);
		assert_int_equal(idem_run(&top, "app-a", "send_sms",
		    cases[i].key, none, body, &rp, 1), 1);
		assert_int_equal(rp.result, cases[i].result);
		assert_int_equal(rp.code, cases[i].result ? 0 : 1306000);
		assert_string_equal(rp.message, cases[i].message);
		assert_json(rp.data, cases[i].data);
		reply_free(&rp);
	}
	json_object_put(none);
}

/* LIM_IDEM_KEY: a key of exactly the cap is taken, one more refused. */
static void
t_idem_key_cap(void **state)
{
	struct conf	 top;
	struct reply	 rp;
	json_object	*none;
	char		 key[LIM_IDEM_KEY + 2];

	(void)state;
	memset(&top, 0, sizeof(top));
	top.state_dir = dir;
	none = doc("{}");
	memset(key, 'k', LIM_IDEM_KEY);
	key[LIM_IDEM_KEY] = '\0';
	assert_int_equal(idem_run(&top, "app-a", "send_sms", key, none,
	    "{}", &rp, 1), 0);
	reply_free(&rp);
	key[LIM_IDEM_KEY] = 'k';
	key[LIM_IDEM_KEY + 1] = '\0';
	assert_int_equal(idem_run(&top, "app-a", "send_sms", key, none,
	    "{}", &rp, 1), 1);
	assert_string_equal(rp.message, "Idempotency-Key must be 1 to 255 "
	    "printable ASCII characters");
	reply_free(&rp);
	/* A space is not printable-and-visible: refused at any length. */
	assert_int_equal(idem_run(&top, "app-a", "send_sms", "a b", none,
	    "{}", &rp, 1), 1);
	reply_free(&rp);
	json_object_put(none);
}

/* Writes v to the throttle file as it is kept: {"key": [fails, last]}. */
static void
throttle_put(const char *path, const char *key, long long fails,
    long long last)
{
	FILE		*f = fopen(path, "w");
	unsigned char	 md[32];
	char		 hex[33];

	/* Stored as signin.c keys it: 32 hex digits of the SHA-256. */
	assert_non_null(f);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, key, strlen(key),
	    md), 0);
	cauth_hex(md, 16, hex);
	fprintf(f, "{\"%s\": [%lld, %lld, \"\"]}", hex, fails, last);
	fclose(f);
}

/*
 * Console sign-in throttle: THROTTLE_FREE (5) failures are free, the
 * fifth locks 30 s, each more doubles it up to an hour; a user and an
 * address are keys of their own (two users, two addresses must not
 * collide); a good sign-in forgets both.
 */
static void
t_throttle(void **state)
{
	char		 path[128];
	long		 wait;
	long long	 now;
	int		 i;

	(void)state;
	snprintf(path, sizeof(path), "%s/throttle.json", dir);
	for (i = 0; i < 4; i++)
		assert_int_equal(cauth_throttle(path, "u:alice", "a:1.1.1.1",
		    1, &wait), 0);
	/* Four failures: one under the cap, still free. */
	assert_int_equal(cauth_throttle(path, "u:alice", "a:1.1.1.1", 0,
	    &wait), 0);
	assert_int_equal(wait, 0);
	assert_int_equal(cauth_throttle(path, "u:alice", "a:1.1.1.1", 1,
	    &wait), 0);
	/* Five: at the cap, locked for 30 s. */
	assert_int_equal(cauth_throttle(path, "u:alice", "a:1.1.1.1", 0,
	    &wait), 1);
	assert_true(wait >= 29 && wait <= 30);
	assert_int_equal(cauth_throttle(path, "u:bob", "a:2.2.2.2", 0,
	    &wait), 0);
	assert_int_equal(cauth_throttle(path, "u:bob", "a:1.1.1.1", 0,
	    &wait), 1);
	assert_int_equal(cauth_throttle(path, "u:alice", "a:2.2.2.2", 0,
	    &wait), 1);
	assert_int_equal(cauth_throttle(path, "u:alice", NULL, 0, &wait), 1);
	assert_int_equal(cauth_throttle(path, NULL, "a:2.2.2.2", 0, &wait),
	    0);
	/* Six: 60 s. */
	assert_int_equal(cauth_throttle(path, "u:alice", "a:1.1.1.1", 1,
	    &wait), 1);
	assert_int_equal(cauth_throttle(path, "u:alice", NULL, 0, &wait), 1);
	assert_true(wait >= 59 && wait <= 60);
	/* A good sign-in forgets the user and the address. */
	assert_int_equal(cauth_throttle(path, "u:alice", "a:1.1.1.1", 2,
	    &wait), 0);
	assert_int_equal(cauth_throttle(path, "u:alice", "a:1.1.1.1", 0,
	    &wait), 0);

	/* The lock's end, to the second, and its ceiling. */
	now = (long long)time(NULL);
	throttle_put(path, "u:carol", 5, now - 31);
	assert_int_equal(cauth_throttle(path, "u:carol", NULL, 0, &wait), 0);
	throttle_put(path, "u:carol", 5, now - 30);
	assert_int_equal(cauth_throttle(path, "u:carol", NULL, 0, &wait), 0);
	throttle_put(path, "u:carol", 5, now + 5 - 30);
	assert_int_equal(cauth_throttle(path, "u:carol", NULL, 0, &wait), 1);
	throttle_put(path, "u:dave", 100, now + 5 - 3600);
	assert_int_equal(cauth_throttle(path, "u:dave", NULL, 0, &wait), 1);
	assert_true(wait >= 4 && wait <= 5);
	throttle_put(path, "u:dave", 100, now - 3601);
	assert_int_equal(cauth_throttle(path, "u:dave", NULL, 0, &wait), 0);
	throttle_put(path, "u:dave", 7, now + 5 - 120);
	assert_int_equal(cauth_throttle(path, "u:dave", NULL, 0, &wait), 1);
	assert_true(wait >= 4 && wait <= 5);
	throttle_put(path, "u:dave", 7, now - 121);
	assert_int_equal(cauth_throttle(path, "u:dave", NULL, 0, &wait), 0);
}

/* A config file of text in dir; conf_load's answer. */
static struct conf *
conf_of(const char *text, int *nproblems)
{
	char	 path[128];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/cmsi.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return conf_load(path, nproblems);
}

/*
 * Apps and tenants: an app may name only tenants the config has ("*"
 * and "default" always); "comment" is a note, not an app, but an app
 * whose code only starts with it is an app.
 */
static void
t_app_tenants(void **state)
{
	struct conf	*c;
	int		 n = -1;

	(void)state;
	c = conf_of("{\"apps\": {\"comment\": \"a note\", \"commentary\": "
	    "{\"secret\": \"s1\"}, \"a\": {\"secret\": \"s2\", "
	    "\"tenants\": [\"t-a\", \"*\", \"default\"]}}, \"tenants\": "
	    "{\"t-a\": {}, \"t-b\": {}}}", &n);
	assert_non_null(c);
	assert_int_equal(n, 0);
	assert_non_null(conf_app(c, "commentary"));
	assert_null(conf_app(c, "comment"));
	assert_non_null(conf_app(c, "a"));
	assert_null(conf_app(c, "b"));
	assert_null(conf_app(c, "commentar"));
	/* Two tenants, each its own; a longer or shorter id is neither. */
	assert_string_equal(conf_tenant(c, "t-a")->tenant, "t-a");
	assert_string_equal(conf_tenant(c, "t-b")->tenant, "t-b");
	assert_null(conf_tenant(c, "t-ab"));
	assert_null(conf_tenant(c, "t-"));
	assert_null(conf_tenant(c, "t-c"));
	/* Which tenants an app may send for. */
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), "t-a"), 1);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), "t-b"), 1);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), NULL), 1);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "commentary"),
	    "t-a"), 0);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "commentary"),
	    "default"), 1);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "commentary"), ""),
	    1);
	/* Only "default" itself: not a tenant named like it. */
	assert_int_equal(conf_app_tenant(c, conf_app(c, "commentary"),
	    "defaults"), 0);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "commentary"),
	    "defaul"), 0);
	conf_free(c);
	n = -1;
	c = conf_of("{\"apps\": {\"a\": {\"secret\": \"s2\", "
	    "\"tenants\": [\"t-a\"]}, \"b\": {\"secret\": \"s3\", "
	    "\"tenants\": [\"t-b\", \"default\"]}}, \"tenants\": "
	    "{\"t-a\": {}, \"t-b\": {}}}", &n);
	assert_int_equal(n, 0);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), "t-a"), 1);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), "t-b"), 0);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), "t-ab"), 0);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), "t-"), 0);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), "*"), 0);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), NULL), 0);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "b"), "t-a"), 0);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "b"), "t-b"), 1);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "b"), ""), 1);
	conf_free(c);
	n = 0;
	c = conf_of("{\"apps\": {\"a\": {\"secret\": \"s2\", "
	    "\"tenants\": [\"t-a\", \"t-c\"]}}, \"tenants\": "
	    "{\"t-a\": {}, \"t-b\": {}}}", &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(conf_problems(),
	    "apps.a.tenants: t-c is not in tenants"));
	conf_free(c);
	/* No tenants at all: an app without a list sends for any id. */
	n = -1;
	c = conf_of("{\"apps\": {\"a\": {\"secret\": \"s2\"}}}", &n);
	assert_int_equal(n, 0);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), "t-x"), 1);
	assert_int_equal(conf_app_tenant(c, conf_app(c, "a"), NULL), 1);
	conf_free(c);
}

/*
 * One spool item of send_mail (outbox delivery) for a@x and b@x, a@x
 * already delivered, written as spool/<name>; id names its message.
 */
static void
item_put(const char *name, const char *id, long long created, long max_age,
    long attempts, long max_attempts)
{
	char	 path[192];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/spool", dir);
	(void)mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/spool/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\"v\": 1, \"id\": \"%.32s\", \"component\": "
	    "\"send_mail\", \"section\": \"send_mail\", \"app\": \"demo\", "
	    "\"username\": \"admin\", \"params\": {\"receiver\": "
	    "\"a@x.example,b@x.example\", \"title\": \"t\", \"content\": "
	    "\"c\"}, \"raw\": {}, \"created\": %lld, \"attempts\": %ld, "
	    "\"max_attempts\": %ld, \"max_age_s\": %ld, \"backoff_s\": 1, "
	    "\"next\": 0, \"inflight\": false, \"rcpt\": {\"a@x.example\": "
	    "\"sent\", \"b@x.example\": \"pending\"}}",
	    id, created, attempts,
	    max_attempts, max_age);
	fclose(f);
}

/* What spool_item did with it: "expired", "sent" or "kept". */
static const char *
item_fate(const struct conf *c, const char *name, char *report,
    size_t reportsz)
{
	char	 sp[128], path[192];
	FILE	*rf;
	int	 tried;
	size_t	 n;

	snprintf(sp, sizeof(sp), "%s/spool", dir);
	rf = tmpfile();
	assert_non_null(rf);
	(void)spool_item(c, sp, name, rf, &tried);
	rewind(rf);
	n = fread(report, 1, reportsz - 1, rf);
	report[n] = '\0';
	fclose(rf);
	snprintf(path, sizeof(path), "%s/spool/expired/%s", dir, name);
	if (access(path, F_OK) == 0)
		return "expired";
	snprintf(path, sizeof(path), "%s/spool/%s", dir, name);
	return access(path, F_OK) == 0 ? "kept" : "sent";
}

/* How many messages the outbox holds. */
static size_t
outbox_count(void)
{
	char		 path[192];
	DIR		*d;
	struct dirent	*de;
	size_t		 n = 0;

	snprintf(path, sizeof(path), "%s/outbox", dir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".eml") != NULL)
			n++;
	closedir(d);
	return n;
}

/*
 * A retry at the bounds of retry.max_age_s (seconds from the request)
 * and attempts: at the age or the count it expires naming who was not
 * reached; two seconds (or one attempt) inside, it is sent.  (Who a
 * retry sends to is t_losses.py's retry-once: the outbox keeps no
 * envelope.)
 */
static void
t_spool_bounds(void **state)
{
	struct conf	*c;
	char		 cwd[512], text[1536], report[1024];
	long long	 now;
	int		 n = -1;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", "
	    "\"schemas_dir\": \"%s/conf/schemas\", \"templates_dir\": "
	    "\"%s/templates\", \"components\": {\"send_mail\": "
	    "{\"delivery\": \"outbox\", \"mail_sender\": "
	    "\"blueking@example.com\", \"retry\": {\"attempts\": 5, "
	    "\"max_age_s\": 60, \"backoff_s\": 1}}}}", dir, cwd, cwd);
	c = conf_of(text, &n);
	assert_non_null(c);
	assert_int_equal(n, 0);
	assert_int_equal(tmplset_load(c->templates_dir), 0);
	snprintf(text, sizeof(text), "%s/outbox", dir);
	assert_int_equal(mkdir(text, 0700), 0);
	now = (long long)time(NULL);

	item_put("age-at.json", "0123456789abcdef0123456789abcdef",
	    now - 60, 60, 1, 5);
	assert_string_equal(item_fate(c, "age-at.json", report,
	    sizeof(report)), "expired");
	assert_non_null(strstr(report, "expired 0123456789abcdef0123456789"
	    "abcdef send_mail app=demo attempts=1 recipients=b@x.example\n"));
	item_put("age-in.json", "1123456789abcdef0123456789abcdef",
	    now - 58, 60, 1, 5);
	assert_string_equal(item_fate(c, "age-in.json", report,
	    sizeof(report)), "sent");
	assert_string_equal(report, "");
	assert_int_equal(outbox_count(), 1);

	item_put("count-at.json", "2123456789abcdef0123456789abcdef",
	    now, 60, 5, 5);
	assert_string_equal(item_fate(c, "count-at.json", report,
	    sizeof(report)), "expired");
	item_put("count-in.json", "3123456789abcdef0123456789abcdef",
	    now, 60, 4, 5);
	assert_string_equal(item_fate(c, "count-in.json", report,
	    sizeof(report)), "sent");
	assert_int_equal(outbox_count(), 2);
	tmplset_free();
	conf_free(c);
}

/* check(doc) == want; on a refusal, its message is said. */
static void
check_one(int (*check)(json_object *, char *, size_t), const char *text,
    int want, const char *said)
{
	json_object	*v = doc(text);
	char		 msg[256] = "";

	assert_int_equal(check(v, msg, sizeof(msg)), want);
	if (said != NULL)
		assert_string_equal(msg, said);
	json_object_put(v);
}

/*
 * The config caps the retry, rate-limit and dedup settings share with
 * -t and the console: each at its cap is taken, one over refused with
 * its message.  App codes: LIM_NAME - 1 bytes at most.
 */
static void
t_config_caps(void **state)
{
	struct conf	*c;
	char		 text[512], code[LIM_NAME + 1];
	int		 n;

	(void)state;
	check_one(spool_check, "{\"attempts\": 100, \"max_age_s\": 604800}",
	    0, NULL);
	check_one(spool_check, "{\"attempts\": 2, \"max_age_s\": 1}", 0,
	    NULL);
	check_one(spool_check, "{\"attempts\": 101, \"max_age_s\": 60}", -1,
	    "attempts: 2 to 100");
	check_one(spool_check, "{\"attempts\": 1, \"max_age_s\": 60}", -1,
	    "attempts: 2 to 100");
	check_one(spool_check, "{\"attempts\": 5, \"max_age_s\": 604801}",
	    -1, "max_age_s: 1 to 604800");
	check_one(spool_check, "{\"attempts\": 5, \"max_age_s\": 0}", -1,
	    "max_age_s: 1 to 604800");
	check_one(spool_check, "{\"attempts\": 5}", -1,
	    "needs attempts and max_age_s");
	check_one(rate_check, "{\"per_second\": 1000000, \"burst\": "
	    "1000000}", 0, NULL);
	check_one(rate_check, "{\"per_second\": 0.001, \"burst\": 1}", 0,
	    NULL);
	check_one(rate_check, "{\"per_second\": 1000001}", -1,
	    "per_second: 0.001 to 1000000");
	check_one(rate_check, "{\"per_second\": 0.0009}", -1,
	    "per_second: 0.001 to 1000000");
	check_one(rate_check, "{\"per_second\": 1, \"burst\": 1000001}", -1,
	    "burst: a whole number, 1 to 1000000");
	check_one(rate_check, "{\"per_second\": 1, \"burst\": 0}", -1,
	    "burst: a whole number, 1 to 1000000");
	check_one(rate_check, "{\"per_second\": 1, \"burst\": 1.5}", -1,
	    "burst: a whole number, 1 to 1000000");
	check_one(idem_check, "86400", 0, NULL);
	check_one(idem_check, "0", 0, NULL);
	check_one(idem_check, "86401", -1, "0 to 86400 seconds");
	check_one(idem_check, "-1", -1, "0 to 86400 seconds");

	memset(code, 'a', LIM_NAME - 1);
	code[LIM_NAME - 1] = '\0';
	snprintf(text, sizeof(text), "{\"apps\": {\"%s\": {\"secret\": "
	    "\"s\"}}}", code);
	n = -1;
	c = conf_of(text, &n);
	assert_int_equal(n, 0);
	assert_non_null(conf_app(c, code));
	conf_free(c);
	code[LIM_NAME - 1] = 'a';
	code[LIM_NAME] = '\0';
	snprintf(text, sizeof(text), "{\"apps\": {\"%s\": {\"secret\": "
	    "\"s\"}}}", code);
	n = 0;
	c = conf_of(text, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(conf_problems(), "bad app code"));
	conf_free(c);
}

/*
 * Outcome classes at their bounds: what is retried (transient), what
 * is final (permanent), what counts as delivered.
 */
static void
t_outcome_bounds(void **state)
{
	json_object	*r;

	(void)state;
	assert_int_equal(outcome_smtp(CURLE_OK, 199), outcome_smtp(CURLE_OK,
	    0));
	assert_int_equal(outcome_smtp(CURLE_OK, 200), OC_OK);
	assert_int_equal(outcome_smtp(CURLE_OK, 299), OC_OK);
	assert_int_equal(outcome_smtp(CURLE_SEND_ERROR, 250), outcome_smtp(
	    CURLE_SEND_ERROR, 0));
	assert_int_equal(outcome_smtp(CURLE_OK, 399), outcome_smtp(CURLE_OK,
	    0));
	assert_int_equal(outcome_smtp(CURLE_OK, 400), OC_TRANSIENT);
	assert_int_equal(outcome_smtp(CURLE_OK, 499), OC_TRANSIENT);
	assert_int_equal(outcome_smtp(CURLE_OK, 500), OC_PERMANENT);
	assert_int_equal(outcome_smtp(CURLE_OK, 554), OC_PERMANENT);
	/* A reply decides, not the transport's error beside it. */
	assert_int_equal(outcome_smtp(CURLE_COULDNT_CONNECT, 500),
	    OC_PERMANENT);
	assert_int_equal(outcome_smtp(CURLE_COULDNT_CONNECT, 550),
	    OC_PERMANENT);
	assert_int_equal(outcome_smtp(CURLE_COULDNT_CONNECT, 0),
	    OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_OK, 199), OC_PERMANENT);
	assert_int_equal(outcome_http(CURLE_OK, 200), OC_OK);
	assert_int_equal(outcome_http(CURLE_OK, 299), OC_OK);
	assert_int_equal(outcome_http(CURLE_OK, 300), OC_PERMANENT);
	assert_int_equal(outcome_http(CURLE_OK, 407), OC_PERMANENT);
	assert_int_equal(outcome_http(CURLE_OK, 408), OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_OK, 409), OC_PERMANENT);
	assert_int_equal(outcome_http(CURLE_OK, 428), OC_PERMANENT);
	assert_int_equal(outcome_http(CURLE_OK, 429), OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_OK, 430), OC_PERMANENT);
	assert_int_equal(outcome_http(CURLE_OK, 499), OC_PERMANENT);
	assert_int_equal(outcome_http(CURLE_OK, 500), OC_TRANSIENT);
	assert_int_equal(outcome_http(CURLE_OK, 0), OC_TRANSIENT);
	/* Tencent's -1 is busy, but for a bad number, said in full. */
	r = json_object_new_int(-1);
	assert_int_equal(outcome_qcloud(r, "not a phone number"),
	    OC_PERMANENT);
	assert_int_equal(outcome_qcloud(r, "not a phone numbe"),
	    OC_TRANSIENT);
	assert_int_equal(outcome_qcloud(r, NULL), OC_TRANSIENT);
	json_object_put(r);
}

/* What a queued request is answered, by component, exactly. */
static void
t_spool_success(void **state)
{
	(void)state;
	assert_string_equal(spool_success("send_mail"),
	    "Succeeded to send mail");
	assert_string_equal(spool_success("send_sms"), "OK");
	assert_string_equal(spool_success("send_voice_msg"), "OK");
	assert_string_equal(spool_success("send_weixin"),
	    "WeChat message sending succeeded");
	/*
	 * Custom components are named by the operator and answer "OK"
	 * (issue 34); a name near a built-in's is not taken for it.
	 */
	assert_string_equal(spool_success("send_mailer"), "OK");
	assert_string_equal(spool_success("send_sm"), "OK");
	assert_string_equal(spool_success("send_weixin_robot"), "OK");
	assert_string_equal(spool_success("send_smsx"), "OK");
	assert_string_equal(spool_success("send_voice"), "OK");
	assert_string_equal(spool_success("send_qy_weixin"),
	    "WeChat message sending succeeded");
	assert_string_equal(spool_success("send_mp_weixin"),
	    "WeChat message sending succeeded");
	assert_string_equal(spool_success("send_voice_ms"), "OK");
	assert_string_equal(spool_success("send_mai"), "OK");
	assert_string_equal(spool_success("send_weixi"), "OK");
	assert_string_equal(spool_success("send_qy_weixi"), "OK");
	assert_string_equal(spool_success("send_qy_weixix"), "OK");
	assert_string_equal(spool_success("send_mp_weixix"), "OK");
	assert_string_equal(spool_success("send_weixix"), "OK");
	assert_string_equal(spool_success("send_maix"), "OK");
}

/* auth_check on the ESB parameters given, without a header. */
static int
auth_run(const struct conf *c, const char *params, struct ident *id,
    struct reply *rp)
{
	FCGX_Request	 fr;
	struct req	 r;
	char		*env[1] = { NULL };
	json_object	*creds;
	int		 rc;

	memset(&fr, 0, sizeof(fr));
	memset(&r, 0, sizeof(r));
	fr.envp = env;
	r.fr = &fr;
	snprintf(r.method, sizeof(r.method), "POST");
	snprintf(r.path, sizeof(r.path), "/api/c/compapi/cmsi/send_mail/");
	r.params = doc(params);
	r.qparams = json_object_new_object();
	reply_init(rp);
	creds = auth_creds(&r, rp);
	assert_non_null(creds);
	rc = auth_check(c, &r, creds, id, rp);
	json_object_put(creds);
	json_object_put(r.params);
	json_object_put(r.qparams);
	return rc;
}

/*
 * App credentials: the secret whole (not a prefix, not more), of this
 * app (not another's), the code whole; bk_username only from an app
 * that may skip user authentication.
 */
static void
t_auth_secret(void **state)
{
	struct conf	*c;
	struct ident	 id;
	struct reply	 rp;
	int		 n = -1;
	static const char *const bad[] = {
	    "\"demo-secre\"", "\"demo-secretX\"", "\"plain-secret\"",
	    "\"\"", NULL };
	char		 p[256];
	size_t		 i;

	(void)state;
	c = conf_of("{\"apps\": {\"demo\": {\"secret\": \"demo-secret\", "
	    "\"skip_user_auth\": true}, \"plain\": {\"secret\": "
	    "\"plain-secret\"}}}", &n);
	assert_int_equal(n, 0);
	assert_int_equal(auth_run(c, "{\"bk_app_code\": \"demo\", "
	    "\"bk_app_secret\": \"demo-secret\", \"bk_username\": "
	    "\"admin\"}", &id, &rp), 0);
	assert_string_equal(id.app_code, "demo");
	assert_string_equal(id.username, "admin");
	reply_free(&rp);
	assert_int_equal(auth_run(c, "{\"app_code\": \"demo\", "
	    "\"app_secret\": \"demo-secret\", \"username\": \"ops\"}", &id,
	    &rp), 0);
	assert_string_equal(id.username, "ops");
	reply_free(&rp);
	for (i = 0; bad[i] != NULL; i++) {
		snprintf(p, sizeof(p), "{\"bk_app_code\": \"demo\", "
		    "\"bk_app_secret\": %s, \"bk_username\": \"admin\"}",
		    bad[i]);
		assert_int_equal(auth_run(c, p, &id, &rp), -1);
		assert_string_equal(rp.message, i < 3 ? "APP Secret "
		    "verification failed, pelase confirm if the APP Secret and "
		    "APP Code [bk_app_code=demo] match" : "Signature "
		    "[bk_signature] and APP Secret [bk_app_secret] cannot be "
		    "empty at the same time");
		reply_free(&rp);
	}
	assert_int_equal(auth_run(c, "{\"bk_app_code\": \"dem\", "
	    "\"bk_app_secret\": \"demo-secret\", \"bk_username\": "
	    "\"admin\"}", &id, &rp), -1);
	assert_string_equal(rp.message, "Invalid APP Code [bk_app_code=dem], "
	    "please confirm if the APP Code has been registered");
	reply_free(&rp);
	assert_int_equal(auth_run(c, "{\"bk_app_code\": \"plain\", "
	    "\"bk_app_secret\": \"plain-secret\", \"bk_username\": "
	    "\"admin\"}", &id, &rp), -1);
	assert_string_equal(rp.message, "User authentication failed, please "
	    "provide a valid user identity, such as bk_token, bk_username");
	reply_free(&rp);
	assert_int_equal(auth_run(c, "{\"bk_app_code\": \"demo\", "
	    "\"bk_app_secret\": \"demo-secret\", \"bk_username\": \"\"}",
	    &id, &rp), -1);
	reply_free(&rp);
	/* A user token: never this gateway's, empty or not. */
	assert_int_equal(auth_run(c, "{\"bk_app_code\": \"demo\", "
	    "\"bk_app_secret\": \"demo-secret\", \"bk_access_token\": \"\", "
	    "\"bk_username\": \"admin\"}", &id, &rp), -1);
	assert_string_equal(rp.message, "User TOKEN [bk_access_token] cannot "
	    "be empty");
	reply_free(&rp);
	assert_int_equal(auth_run(c, "{\"bk_app_code\": \"demo\", "
	    "\"bk_app_secret\": \"demo-secret\", \"bk_access_token\": \"t\", "
	    "\"bk_username\": \"admin\"}", &id, &rp), -1);
	assert_string_equal(rp.message, "The specified user TOKEN "
	    "[bk_access_token] does not exist");
	reply_free(&rp);
	conf_free(c);
	/* A code and a secret sent as numbers are read as their text. */
	c = conf_of("{\"apps\": {\"42\": {\"secret\": \"12345\", "
	    "\"skip_user_auth\": true}}}", &n);
	assert_int_equal(n, 0);
	assert_int_equal(auth_run(c, "{\"bk_app_code\": 42, "
	    "\"bk_app_secret\": 12345, \"bk_username\": \"admin\"}", &id,
	    &rp), 0);
	assert_string_equal(id.app_code, "42");
	reply_free(&rp);
	assert_int_equal(auth_run(c, "{\"bk_app_code\": 42, "
	    "\"bk_app_secret\": 1234, \"bk_username\": \"admin\"}", &id,
	    &rp), -1);
	reply_free(&rp);
	conf_free(c);
}

/*
 * The config file the console reads and saves: LIM_CONF bytes at most.
 * History's outcome filter.
 */
static void
t_console_caps(void **state)
{
	struct caudit_filter	 f;
	json_object		*rec;
	char			 path[128], version[65], *text;
	size_t			 len;
	int			 old, fd;
	const char		*bad = "{\"ts\":\"2026-01-02T03:04:05Z\","
	    "\"request_id\":\"abc123\",\"component\":\"send_mail\","
	    "\"app\":\"demo\",\"recipients\":[\"a@example.com\"],"
	    "\"result\":false,\"code\":1306000}";

	(void)state;
	snprintf(path, sizeof(path), "%s/cmsi.json", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(ftruncate(fd, LIM_CONF), 0);
	close(fd);
	text = csave_read(path, &len, version);
	assert_non_null(text);
	assert_int_equal(len, LIM_CONF);
	free(text);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(ftruncate(fd, LIM_CONF + 1), 0);
	close(fd);
	assert_null(csave_read(path, &len, version));

	/* History's filter by outcome: a failure is not a success. */
	memset(&f, 0, sizeof(f));
	f.comp = f.app = f.rcpt = f.id = "";
	f.outcome = 1;
	assert_int_equal(caudit_match(&f, bad, &rec, &old), 0);
	f.outcome = 2;
	assert_int_equal(caudit_match(&f, bad, &rec, &old), 1);
	json_object_put(rec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_list_leading_space),
		cmocka_unit_test(t_redact_wx_token),
		cmocka_unit_test_setup_teardown(t_rate_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(t_idem_per_app, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_idem_key_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_idem_settle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_throttle, setup, teardown),
		cmocka_unit_test_setup_teardown(t_app_tenants, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_spool_bounds, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_config_caps, setup,
		    teardown),
		cmocka_unit_test(t_outcome_bounds),
		cmocka_unit_test(t_spool_success),
		cmocka_unit_test_setup_teardown(t_console_caps, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_auth_secret, setup,
		    teardown),
	};

	/* As main.c does: the modules' checks, the spool's handlers. */
	preflight_register();
	spool_lookup(route_handler);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
