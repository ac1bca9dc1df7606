/*
 * libFuzzer: every reply an upstream, the user directory or the login
 * service sends back, through the real code that reads it.  The first
 * byte picks the exchange; the rest is the reply body, with HTTP 200
 * (or 500 when the second byte is odd).  http_run and http_run_all are
 * replaced at link time (ldflags below): an access-token fetch gets a
 * good token, any other call gets the fuzzed reply, so a WeCom,
 * Official Account, Tencent v5 or API 3.0, dest_url, get_batch_user,
 * bk-user or is_login answer reaches its parser exactly as from the
 * network.  The WeChat push (XML) goes to wxmp_event, and the server
 * URL's query to the signature check (a signature made for its
 * timestamp and nonce must verify, any other must not crash).  The audit log is
 * replaced too, so a long run writes nothing.
 *
 * ldflags: -Wl,--wrap=http_run,--wrap=http_run_all,--wrap=log_audit
 */
#include <fcgiapp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "check.h"
#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/http.h"
#include "core/request.h"
#include "core/tmplset.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "route.h"
#include "up/wxmp.h"
#include "users.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	__wrap_http_run(const struct conf *, struct http_call *);
size_t	__wrap_http_run_all(const struct conf *, struct http_call **, size_t);
int	__wrap_log_audit(const char *, json_object *);

static struct conf	*fz_conf[2];	/* owned: v5 and API 3.0 flavours */
static const uint8_t	*fz_reply;	/* borrowed: this run's reply */
static size_t		 fz_len;
static long		 fz_status;

/* Two configurations, so each Tencent API and each directory runs. */
static const char *const fz_json[2] = {
	"{\"apps\":{\"a\":{\"secret\":\"s\",\"skip_user_auth\":true}},"
	"\"login\":{\"is_login_url\":\"https://login.example/is_login/\"},"
	"\"users\":{\"url\":\"https://login.example/get_batch_user/\","
	"\"app_code\":\"esb\",\"app_token\":\"t\",\"cache_seconds\":0},"
	"\"components\":{"
	"\"send_weixin\":{\"wx_type\":\"qy\",\"wx_qy_corpid\":\"ww1\","
	"\"wx_qy_corpsecret\":\"cs\",\"wx_qy_agentid\":\"1000002\"},"
	"\"send_mp_weixin\":{\"wx_app_id\":\"wx1\",\"wx_secret\":\"ms\","
	"\"wx_template_id\":\"tpl\"},"
	"\"send_sms\":{\"qcloud_app_id\":\"1400000000\","
	"\"qcloud_app_key\":\"k\",\"qcloud_sms_sign\":\"S\"},"
	"\"send_voice_msg\":{\"qcloud_app_id\":\"1400000000\","
	"\"qcloud_app_key\":\"k\"},"
	"\"send_mail\":{\"dest_url\":\"https://dest.example/mail\"}}}",
	"{\"apps\":{\"a\":{\"secret\":\"s\",\"skip_user_auth\":true}},"
	"\"users\":{\"bkuser\":{\"url\":\"https://bkapi.example/bk-user\","
	"\"app_secret\":\"b\",\"cache_seconds\":0}},"
	"\"components\":{"
	"\"send_sms\":{\"qcloud_api\":\"tc3\",\"qcloud_secret_id\":\"id\","
	"\"qcloud_secret_key\":\"key\",\"qcloud_sms_sdk_app_id\":\"1400\","
	"\"qcloud_sms_template_id\":\"1\",\"qcloud_sms_sign\":\"S\"},"
	"\"send_voice_msg\":{\"qcloud_api\":\"tc3\",\"qcloud_secret_id\":"
	"\"id\",\"qcloud_secret_key\":\"key\",\"qcloud_voice_sdk_app_id\":"
	"\"1400\",\"qcloud_voice_template_id\":\"1\"}}}",
};

/* One exchange: the component, the config, the request. */
static const struct {
	const char	*comp;
	int		 conf;
	const char	*params;
} fz_cases[] = {
	{ "send_weixin", 0, "{\"receiver\":\"u1,u2\",\"data\":{\"heading\":"
	    "\"h\",\"message\":\"m\"}}" },
	{ "send_mp_weixin", 0, "{\"receiver\":\"o1,o2\",\"data\":{"
	    "\"heading\":\"h\",\"message\":\"m\",\"date\":\"d\"}}" },
	{ "send_sms", 0, "{\"receiver\":\"13800000000,+85261234567\","
	    "\"content\":\"c\"}" },
	{ "send_sms", 1, "{\"receiver\":\"13800000000,+85261234567\","
	    "\"content\":\"c\"}" },
	{ "send_voice_msg", 0, "{\"user_list_information\":[{\"username\":\"u\",\"mobile_phone\":"
	    "\"13800000000\"}],\"auto_read_message\":\"a\"}" },
	{ "send_voice_msg", 1, "{\"user_list_information\":[{\"username\":\"u\",\"mobile_phone\":"
	    "\"13800000000\"}],\"auto_read_message\":\"a\"}" },
	{ "send_mail", 0, "{\"receiver\":\"a@example.com\",\"title\":\"t\","
	    "\"content\":\"c\"}" },
	{ "send_mail", 0, "{\"receiver__username\":\"admin,bob\","
	    "\"title\":\"t\",\"content\":\"c\"}" },
	{ "send_sms", 1, "{\"receiver__username\":\"admin,bob\","
	    "\"content\":\"c\"}" },
};
#define FZ_LOGIN	(sizeof(fz_cases) / sizeof(fz_cases[0]))
#define FZ_PUSH		(FZ_LOGIN + 1)
#define FZ_QUERY	(FZ_LOGIN + 2)
#define FZ_MODES	(FZ_LOGIN + 3)

/* A token fetch is answered well: the reply under test comes after. */
static void
answer(struct http_call *hc)
{
	static const char	 tok[] = "{\"errcode\":0,\"errmsg\":\"ok\","
	    "\"access_token\":\"TOKEN\",\"expires_in\":7200}";

	buf_reset(&hc->reply);
	hc->cc = CURLE_OK;
	if (strstr(hc->url, "gettoken") != NULL ||
	    strstr(hc->url, "token?") != NULL ||
	    strstr(hc->url, "stable_token") != NULL) {
		hc->status = 200;
		buf_add(&hc->reply, tok, sizeof(tok) - 1);
		return;
	}
	hc->status = fz_status;
	buf_add(&hc->reply, fz_reply, fz_len);
}

int
__wrap_http_run(const struct conf *c, struct http_call *hc)
{
	(void)c;
	buf_init(&hc->reply, LIM_UP_REPLY);
	answer(hc);
	return 0;
}

size_t
__wrap_http_run_all(const struct conf *c, struct http_call **hc, size_t n)
{
	size_t	 i;

	(void)c;
	for (i = 0; i < n; i++) {
		buf_init(&hc[i]->reply, LIM_UP_REPLY);
		answer(hc[i]);
	}
	return 0;
}

int
__wrap_log_audit(const char *dir, json_object *rec)
{
	(void)dir;
	(void)json_object_to_json_string(rec);
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 dir[] = "/tmp/cmsi-fuzz-XXXXXX", path[64], top[4096];
	FILE	*f;
	int	 i, bad;

	(void)argc;
	(void)argv;
	/* Run from the source tree, as make fuzz does. */
	if (mkdtemp(dir) == NULL || getcwd(top, sizeof(top)) == NULL)
		abort();
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/c%d.json", dir, i);
		if ((f = fopen(path, "w")) == NULL)
			abort();
		/* state_dir in the temp dir: tokens are written once. */
		fprintf(f, "{\"state_dir\":\"%s/state\",\"schemas_dir\":"
		    "\"%s/conf/schemas\",\"templates_dir\":\"%s/templates\",%s",
		    dir, top, top, fz_json[i] + 1);
		fclose(f);
		if ((fz_conf[i] = conf_load(path, &bad)) == NULL)
			abort();
	}
	if (check_init(fz_conf[0]) == -1 ||
	    tmplset_load(fz_conf[0]->templates_dir) == -1)
		abort();
	return 0;
}

static void
run_component(size_t k)
{
	static char		*envp[] = { NULL };
	const struct route	*rt;
	struct ctx		 cx;
	struct reply		 rp;
	struct req		 r;
	struct ident		 id;
	FCGX_Request		 fr;
	json_object		*raw, *params = NULL;

	memset(&fr, 0, sizeof(fr));
	memset(&r, 0, sizeof(r));
	memset(&id, 0, sizeof(id));
	fr.envp = envp;
	r.fr = &fr;
	memcpy(r.id, "00000000000000000000000000000000", 33);
	rt = route_by_name(fz_cases[k].comp);
	raw = json_tokener_parse(fz_cases[k].params);
	reply_init(&rp);
	if (rt == NULL || raw == NULL || check_params(rt->name, raw, &params,
	    &rp) == -1) {
		fprintf(stderr, "case %zu: %s\n", k, rp.message);
		abort();
	}
	r.params = raw;
	memcpy(id.app_code, "a", 2);
	memcpy(id.username, "admin", 6);
	route_ctx(&cx, rt, fz_conf[fz_cases[k].conf], &r, &id);
	cx.params = params;
	rt->hnd(&cx, &rp);
	/* FUZZ_VERBOSE=1 shows what each seed came to. */
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "case %zu: %s\n", k, rp.message);
	json_object_put(reply_doc(&rp, r.id));
	reply_free(&rp);
	json_object_put(params);
	json_object_put(raw);
}

static void
run_login(void)
{
	static char		*envp[] = { NULL };
	struct req		 r;
	struct reply		 rp;
	struct ident		 id;
	FCGX_Request		 fr;
	json_object		*creds;

	memset(&fr, 0, sizeof(fr));
	memset(&r, 0, sizeof(r));
	fr.envp = envp;
	r.fr = &fr;
	memcpy(r.id, "00000000000000000000000000000000", 33);
	creds = json_tokener_parse("{\"bk_app_code\":\"a\",\"bk_app_secret\":"
	    "\"s\",\"bk_token\":\"T\"}");
	reply_init(&rp);
	(void)auth_check(fz_conf[0], &r, creds, &id, &rp);
	reply_free(&rp);
	json_object_put(creds);
}

/* The WeChat server URL's query: signature, timestamp, nonce. */
static void
run_query(const char *s, size_t n)
{
	json_object	*q;
	const char	*ts, *nonce;
	char		 sig[41];

	q = req_parse_query(s, n);
	ts = jv_string(q, "timestamp");
	nonce = jv_string(q, "nonce");
	(void)wxmp_verify("fuzz-token", jv_string(q, "signature"), ts, nonce);
	/* Our own signature must verify (verify wants both parts). */
	if (*ts != '\0' && *nonce != '\0' &&
	    wxmp_signature("fuzz-token", ts, nonce, sig) == 0 &&
	    !wxmp_verify("fuzz-token", sig, ts, nonce))
		abort();
	json_object_put(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct wxmp_event	 ev;
	size_t			 mode;

	if (n < 2)
		return 0;
	mode = data[0] % FZ_MODES;
	fz_status = (data[1] & 1) ? 500 : 200;
	fz_reply = data + 2;
	fz_len = n - 2;
	if (mode < FZ_LOGIN)
		run_component(mode);
	else if (mode == FZ_LOGIN)
		run_login();
	else if (mode == FZ_PUSH)
		(void)wxmp_event((const char *)fz_reply, fz_len, &ev);
	else
		run_query((const char *)fz_reply, fz_len);
	return 0;
}
