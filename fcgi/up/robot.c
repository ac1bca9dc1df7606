/*
 * The group robots of DingTalk, Feishu (Lark) and WeCom: one JSON POST
 * to the robot's webhook, signed where the operator set a secret, and
 * the answer's own code believed only when it says 0.  The facts, from
 * the vendors' published documentation (checked against it, robots.md):
 *
 *   DingTalk  POST oapi.dingtalk.com/robot/send?access_token=..., with
 *             &timestamp=<ms>&sign=<urlencode(base64(HMAC-SHA256(
 *             key = secret, msg = timestamp "\n" secret)))>; within an
 *             hour of DingTalk's clock.  {"errcode": 0, "errmsg": "ok"}.
 *   Feishu    POST open.feishu.cn/open-apis/bot/v2/hook/<id>, with
 *             "timestamp": "<s>", "sign": base64(HMAC-SHA256(key =
 *             timestamp "\n" secret, msg = "")) in the body (the other
 *             way round from DingTalk).  {"code": 0, "msg": "success"},
 *             older bots {"StatusCode": 0, "StatusMessage": "success"}.
 *   WeCom     POST qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...,
 *             no signing: the key is the secret.  text up to 2048
 *             bytes, markdown 4096.  {"errcode": 0, "errmsg": "ok"}.
 *
 * The webhook URL holds the robot's token or key: it is never logged
 * nor put in a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/http.h"
#include "core/log.h"
#include "core/outcome.h"
#include "core/request.h"
#include "core/tmplset.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "robot.h"

#define WECOM_TEXT_MAX		2048	/* bytes of a text message */
#define WECOM_MARKDOWN_MAX	4096	/* of a markdown one */

/* What each robot is called in messages and in log lines. */
static const char *const label[] = { "DingTalk robot", "Feishu bot",
    "WeCom robot" };
static const char *const short_name[] = { "dingtalk", "feishu", "wecom" };

/*
 * The signature of a robot's message at time ts (milliseconds for
 * DingTalk, seconds for Feishu) under secret, into out: DingTalk's
 * already URL-encoded for its query, Feishu's plain base64.  Returns 0
 * or -1 (out too small, or the HMAC failed).
 */
int
robot_sign(enum custom_kind k, const char *secret, long long ts, char *out,
    size_t n)
{
	unsigned char	 md[32];
	char		 sts[LIM_SECRET + 32], *b64 = NULL, *p;
	size_t		 len, o = 0;
	int		 rc = -1;

	if ((size_t)snprintf(sts, sizeof(sts), "%lld\n%s", ts, secret) >=
	    sizeof(sts))
		goto out;
	if (k == CK_DINGTALK) {
		if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, strlen(secret),
		    sts, strlen(sts), md) < 0)
			goto out;
	} else if (k == CK_FEISHU) {
		if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, sts, strlen(sts), "",
		    0, md) < 0)
			goto out;
	} else
		goto out;
	b64_encode(md, sizeof(md), 0, &b64, &len);
	for (p = b64; *p != '\0'; p++) {
		if (o + 4 > n)
			goto out;
		/* base64's + / = are what a query must escape. */
		if (k == CK_DINGTALK && (*p == '+' || *p == '/' || *p == '='))
			o += (size_t)snprintf(out + o, n - o, "%%%02X",
			    (unsigned char)*p);
		else
			out[o++] = *p;
	}
	out[o] = '\0';
	rc = 0;
out:
	explicit_bzero(sts, sizeof(sts));
	free(b64);
	return rc;
}

static json_object *
strings(json_object *a)
{
	return a != NULL ? json_object_get(a) : json_object_new_array();
}

/* Whether the receivers name everyone ("@all" or "all"). */
static int
at_all(const struct custom_msg *m)
{
	const char	*s;
	size_t		 i;

	for (i = 0; m->receivers != NULL &&
	    i < json_object_array_length(m->receivers); i++) {
		s = json_object_get_string(json_object_array_get_idx(
		    m->receivers, i));
		if (s != NULL && (strcmp(s, "@all") == 0 ||
		    strcmp(s, "all") == 0))
			return 1;
	}
	return 0;
}

/* The receivers of ids that are not "@all". */
static json_object *
ids(json_object *a)
{
	json_object	*out = json_object_new_array(), *v;
	size_t		 i;

	for (i = 0; a != NULL && i < json_object_array_length(a); i++) {
		v = json_object_array_get_idx(a, i);
		if (json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), "@all") != 0 &&
		    strcmp(json_object_get_string(v), "all") != 0)
			json_object_array_add(out, json_object_get(v));
	}
	return out;
}

/*
 * The robot's JSON body for text laid out already, in format ("text",
 * "markdown" or Feishu's "post"), with title for the formats that have
 * one.  The mentions come from the message.  Caller puts.
 */
json_object *
robot_body(enum custom_kind k, const char *format, const struct custom_msg *m,
    const char *text, const char *title)
{
	json_object	*b, *o, *at, *line, *el, *post, *lang;
	size_t		 i;
	int		 md = strcmp(format, "markdown") == 0;

	b = json_object_new_object();
	switch (k) {
	case CK_DINGTALK:
		json_object_object_add(b, "msgtype", json_object_new_string(
		    md ? "markdown" : "text"));
		o = json_object_new_object();
		if (md)
			json_object_object_add(o, "title",
			    json_object_new_string(*title != '\0' ? title :
			    m->msg_type));
		json_object_object_add(o, md ? "text" : "content",
		    json_object_new_string(text));
		json_object_object_add(b, md ? "markdown" : "text", o);
		at = json_object_new_object();
		json_object_object_add(at, "atMobiles", strings(m->mobiles));
		json_object_object_add(at, "atUserIds", ids(m->user_ids));
		json_object_object_add(at, "isAtAll",
		    json_object_new_boolean(at_all(m)));
		json_object_object_add(b, "at", at);
		break;
	case CK_FEISHU:
		if (strcmp(format, "post") != 0) {
			json_object_object_add(b, "msg_type",
			    json_object_new_string("text"));
			o = json_object_new_object();
			json_object_object_add(o, "text",
			    json_object_new_string(text));
			json_object_object_add(b, "content", o);
			break;
		}
		json_object_object_add(b, "msg_type",
		    json_object_new_string("post"));
		line = json_object_new_array();
		el = json_object_new_object();
		json_object_object_add(el, "tag", json_object_new_string("text"));
		json_object_object_add(el, "text", json_object_new_string(text));
		json_object_array_add(line, el);
		for (i = 0; m->user_ids != NULL &&
		    i < json_object_array_length(m->user_ids); i++) {
			el = json_object_new_object();
			json_object_object_add(el, "tag",
			    json_object_new_string("at"));
			json_object_object_add(el, "user_id", json_object_get(
			    json_object_array_get_idx(m->user_ids, i)));
			json_object_array_add(line, el);
		}
		lang = json_object_new_object();
		json_object_object_add(lang, "title",
		    json_object_new_string(title));
		o = json_object_new_array();
		json_object_array_add(o, line);
		json_object_object_add(lang, "content", o);
		post = json_object_new_object();
		json_object_object_add(post, "zh_cn", lang);
		o = json_object_new_object();
		json_object_object_add(o, "post", post);
		json_object_object_add(b, "content", o);
		break;
	case CK_WECOM:
		json_object_object_add(b, "msgtype", json_object_new_string(
		    md ? "markdown" : "text"));
		o = json_object_new_object();
		json_object_object_add(o, "content", json_object_new_string_len(
		    text, (int)utf8_cut(text, strlen(text), md ?
		    WECOM_MARKDOWN_MAX : WECOM_TEXT_MAX)));
		if (!md) {
			at = ids(m->user_ids);
			if (at_all(m))
				json_object_array_add(at,
				    json_object_new_string("@all"));
			json_object_object_add(o, "mentioned_list", at);
			json_object_object_add(o, "mentioned_mobile_list",
			    strings(m->mobiles));
		}
		json_object_object_add(b, md ? "markdown" : "text", o);
		break;
	default:
		break;
	}
	return b;
}

/* What the robot's answer means to whoever reads the failure. */
static const char *
hint(enum custom_kind k, long code, const char *msg)
{
	switch (k) {
	case CK_DINGTALK:
		if (code == 310000 && strstr(msg, "sign") != NULL)
			return "sign not match: check the secret and the clock";
		if (code == 310000 && strstr(msg, "keyword") != NULL)
			return "keyword not in the message: it must hold one "
			    "of the robot's keywords";
		if (code == 310000 && strstr(msg, "ip") != NULL)
			return "this host's address is not in the robot's IP "
			    "allow-list";
		if (code == 300001 || code == 300005 || code == 400102)
			return "the access_token is not valid: the robot was "
			    "removed or its webhook changed";
		if (code == 130101 || code == 90030)
			return "the robot is rate-limiting (about 20 messages "
			    "a minute)";
		break;
	case CK_FEISHU:
		if (code == 19021)
			return "sign not match: check the secret and the clock";
		if (code == 19024)
			return "keyword not in the message: it must hold one "
			    "of the bot's keywords";
		if (code == 19022)
			return "this host's address is not in the bot's IP "
			    "allow-list";
		if (code == 19001)
			return "the hook is not valid: the bot was removed or "
			    "its webhook changed";
		if (code == 11232)
			return "the bot is rate-limiting (about 100 messages "
			    "a minute, 5 a second)";
		break;
	case CK_WECOM:
		if (code == 93000)
			return "the webhook key is not valid: the robot was "
			    "removed or its key changed";
		if (code == 45009 || code == 45033)
			return "the robot is rate-limiting (20 messages a "
			    "minute)";
		break;
	default:
		break;
	}
	return NULL;
}

/*
 * The code and words of a robot's answer.  Returns 0, or -1 when the
 * answer holds no code of the kind's (not the documented answer).
 */
static int
answer(enum custom_kind k, json_object *doc, long *code, char *msg, size_t n)
{
	static const char *const codes[][2] = { { "errcode", "errmsg" },
	    { "code", "msg" }, { "StatusCode", "StatusMessage" } };
	json_object	*c, *w;
	const char	*s = "";
	size_t		 i, o = 0;

	for (i = 0; i < 3; i++) {
		if ((k == CK_FEISHU) != (i > 0))
			continue;
		if (json_object_object_get_ex(doc, codes[i][0], &c) &&
		    json_object_is_type(c, json_type_int))
			break;
	}
	if (i == 3)
		return -1;
	*code = (long)json_object_get_int64(c);
	if (json_object_object_get_ex(doc, codes[i][1], &w) &&
	    json_object_is_type(w, json_type_string))
		s = json_object_get_string(w);
	for (; *s != '\0' && o + 1 < n && o < 200; s++)
		msg[o++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	msg[o] = '\0';
	return 0;
}

/*
 * The group robots' answers a later try can pass (robots.md): DingTalk
 * 130101 "send too fast" and 90030 over the webhook's limit, WeCom
 * 45009 and 45033 frequency, Feishu 11232 frequency, and -1 busy on
 * DingTalk and WeCom.  What else they refuse (a bad sign, no keyword,
 * a removed robot, a malformed body) no later try can pass.
 */
static const struct {
	enum custom_kind kind;
	long	 code;
} robot_transient[] = {
	{ CK_DINGTALK, 130101 }, { CK_DINGTALK, 90030 }, { CK_DINGTALK, -1 },
	{ CK_WECOM, 45009 }, { CK_WECOM, 45033 }, { CK_WECOM, -1 },
	{ CK_FEISHU, 11232 },
};

enum outcome_cls
robot_outcome(enum custom_kind kind, long code)
{
	size_t	 i;

	if (code == 0)
		return OC_OK;
	for (i = 0; i < sizeof(robot_transient) / sizeof(robot_transient[0]);
	    i++)
		if (robot_transient[i].kind == kind &&
		    robot_transient[i].code == code)
			return OC_TRANSIENT;
	return OC_PERMANENT;
}

/*
 * The layout robot k renders its text with, templates/robot/<robot>_
 * <format>.mustache, for format or (NULL) the section's.  Returns 0,
 * or -1 for a kind that has none (a webhook's body is its layout).
 */
int
robot_layout(enum custom_kind k, json_object *sec, const char *format,
    char *out, size_t n)
{
	static const char *const robot[] = { "dingtalk", "feishu", "wecom" };

	if (k >= CK_WEBHOOK)
		return -1;
	if (format == NULL && *(format = conf_str(sec, "format")) == '\0')
		format = "text";
	return snprintf(out, n, "robot/%s_%s", robot[k], format) >= (int)n ?
	    -1 : 0;
}

/* The text of the message, laid out by the robot's template. */
static char *
layout(enum custom_kind k, json_object *sec, const char *format,
    json_object *tctx, struct reply *rp)
{
	char	 name[64];

	if (robot_layout(k, sec, format, name, sizeof(name)) == -1) {
		reply_component_error(rp);
		return NULL;
	}
	return tmplset_layout(name, tctx, TMPL_ESC_NONE, rp);
}

/*
 * Sends message m (its template context tctx) through the robot of
 * section sec.  Sets rp; returns what the attempt was for the spool,
 * *after the upstream's Retry-After.
 */
enum outcome_cls
robot_send(struct ctx *cx, enum custom_kind k, json_object *sec,
    json_object *tctx, const struct custom_msg *m, struct reply *rp,
    long *after)
{
	struct http_call	 hc;
	struct timespec		 now;
	enum outcome_cls	 cls = OC_PERMANENT;
	json_object		*body = NULL, *doc = NULL, *v, *d;
	const char		*format, *secret, *h, *native_text = NULL;
	char			*text = NULL, *url = NULL, sign[128];
	char			 ts[32], errmsg[256], detail[256];
	size_t			 n;
	long			 code;

	memset(&hc, 0, sizeof(hc));
	*after = 0;
	format = conf_str(sec, "format");
	if (*format == '\0')
		format = "text";
	/* bk-monitor's own WeCom robot message wins over the layout. */
	if (k == CK_WECOM && m->native != NULL &&
	    json_object_object_get_ex(m->native, "type", &v) &&
	    (strcmp(json_object_get_string(v), "text") == 0 ||
	    strcmp(json_object_get_string(v), "markdown") == 0) &&
	    json_object_object_get_ex(m->native, json_object_get_string(v),
	    &d) && json_object_object_get_ex(d, "content", &d) &&
	    json_object_is_type(d, json_type_string)) {
		format = json_object_get_string(v);
		native_text = json_object_get_string(d);
	}
	if (native_text == NULL &&
	    (text = layout(k, sec, format, tctx, rp)) == NULL)
		return OC_PERMANENT;
	body = robot_body(k, format, m, native_text != NULL ? native_text :
	    text, m->title);
	secret = conf_str(sec, "secret");
	clock_gettime(CLOCK_REALTIME, &now);
	n = strlen(conf_str(sec, "webhook")) + sizeof(sign) + 64;
	url = xmalloc(n);
	snprintf(url, n, "%s", conf_str(sec, "webhook"));
	if (*secret != '\0' && k != CK_WECOM) {
		snprintf(ts, sizeof(ts), "%lld", k == CK_DINGTALK ?
		    (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 :
		    (long long)now.tv_sec);
		if (robot_sign(k, secret, strtoll(ts, NULL, 10), sign,
		    sizeof(sign)) == -1) {
			reply_component_error(rp);
			goto out;
		}
		if (k == CK_DINGTALK)
			snprintf(url, n, "%s%ctimestamp=%s&sign=%s",
			    conf_str(sec, "webhook"), strchr(conf_str(sec,
			    "webhook"), '?') != NULL ? '&' : '?', ts, sign);
		else {
			json_object_object_add(body, "timestamp",
			    json_object_new_string(ts));
			json_object_object_add(body, "sign",
			    json_object_new_string(sign));
		}
	}
	hc.method = "POST";
	hc.url = url;
	hc.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	hc.bodylen = strlen(hc.body);
	hc.headers[0] = "Content-Type: application/json; charset=utf-8";
	hc.timeout_ms = conf_int(sec, "timeout_ms", 0);
	if (http_run(cx->conf, &hc) == -1 || hc.status != 200) {
		cls = outcome_http(hc.cc, hc.status);
		*after = hc.retry_after;
		reply_fail(rp, hc.cc != CURLE_OK && http_is_ssl(hc.cc) ?
		    CODE_SSL : CODE_THIRD_PARTY, "%s %s failed: %s", label[k],
		    cx->component, http_detail(&hc, detail, sizeof(detail)));
		log_info("%s: %s %s: HTTP %ld", cx->request_id, short_name[k],
		    cx->component, hc.status);
		goto out;
	}
	doc = jv_parse(hc.reply.ptr != NULL ? hc.reply.ptr : "",
	    hc.reply.len);
	if (doc == NULL || !json_object_is_type(doc, json_type_object) ||
	    answer(k, doc, &code, errmsg, sizeof(errmsg)) == -1) {
		/* A proxy's page, or no robot: not the documented answer. */
		cls = OC_TRANSIENT;
		reply_fail(rp, CODE_THIRD_PARTY, "%s %s failed: HTTP 200 "
		    "without the robot's answer (%s)", label[k], cx->component,
		    k == CK_FEISHU ? "code" : "errcode");
		goto out;
	}
	cls = robot_outcome(k, code);
	if (cls == OC_OK) {
		reply_ok(rp, "OK");
		goto out;
	}
	h = hint(k, code, errmsg);
	reply_fail(rp, CODE_COMMON, "%s %s failed: [%ld] %s%s%s", label[k],
	    cx->component, code, errmsg, h != NULL ? "; " : "",
	    h != NULL ? h : "");
	d = json_object_new_object();
	json_object_object_add(d, "errcode", json_object_new_int64(code));
	json_object_object_add(d, "errmsg", json_object_new_string(errmsg));
	reply_data(rp, d);
	log_info("%s: %s %s: errcode %ld", cx->request_id, short_name[k],
	    cx->component, code);
out:
	if (url != NULL) {
		explicit_bzero(url, strlen(url));
		free(url);
	}
	free(text);
	json_object_put(doc);
	json_object_put(body);
	http_call_free(&hc);
	return cls;
}
