/*
 * Enterprise WeChat (WeCom) application messages (message/send):
 * gettoken once for every worker process (store.c), then message/send
 * with the receivers joined by '|', 1000 a call.  A token WeCom calls
 * invalid or expired (40014, 42001, 41001) is refreshed and the call
 * retried once; 40001 there means a wrong secret and is not retried.
 * Receivers WeCom reports back (invaliduser, unlicenseduser) become
 * per-recipient failures.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/outcome.h"
#include "core/request.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "wecom.h"
#include "wx.h"

#define WECOM_HOST	"https://qyapi.weixin.qq.com"
#define WECOM_BATCH	1000	/* touser entries of one call */

/* What the token fetch needs and tells. */
struct wecom_fetch {
	const struct conf	*conf;		/* borrowed */
	const struct wecom_app	*app;		/* borrowed */
	struct wx_err		*err;		/* borrowed: why it failed */
};

/* A request value ESB would take (Python truth), or NULL. */
static const char *
override(json_object *raw, const char *key)
{
	json_object	*v;

	if (raw == NULL || !json_object_object_get_ex(raw, key, &v) ||
	    req_empty(v) || !req_bool(v))
		return NULL;
	if (json_object_is_type(v, json_type_object) ||
	    json_object_is_type(v, json_type_array))
		return NULL;
	return json_object_get_string(v);
}

/*
 * Django's IntegerField: surrounding space, a trailing ".0", a sign.
 * Returns 0 with *out, or -1 when it is no whole number.
 */
int
wecom_agentid(const char *s, long long *out)
{
	char	 b[32];
	size_t	 n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(b))
		return -1;
	memcpy(b, s, n);
	b[n] = '\0';
	while (n > 0 && b[n - 1] == '0' && strchr(b, '.') != NULL)
		b[--n] = '\0';
	if (n > 0 && b[n - 1] == '.')
		b[--n] = '\0';
	return num_parse(b + (*b == '+'), -0x7fffffffffffffffLL,
	    0x7fffffffffffffffLL, out);
}

/*
 * The application from the section, with the request's wx_qy_agentid
 * and wx_qy_corpsecret laid over it when raw is given.  Returns 0, or
 * -1 with the message ESB's WeCom form gives for the first bad field.
 */
int
wecom_app(json_object *section, json_object *raw, struct wecom_app *app,
    struct reply *rp)
{
	const char	*agentid;

	memset(app, 0, sizeof(*app));
	app->corpid = conf_str(section, "wx_qy_corpid");
	if ((app->secret = override(raw, "wx_qy_corpsecret")) == NULL)
		app->secret = conf_str(section, "wx_qy_corpsecret");
	else
		app->caller = strcmp(app->secret,
		    conf_str(section, "wx_qy_corpsecret")) != 0;
	if ((agentid = override(raw, "wx_qy_agentid")) == NULL)
		agentid = conf_str(section, "wx_qy_agentid");
	if (*app->corpid == '\0') {
		reply_fail(rp, CODE_COMMON, "corp ID [corpid] This field is "
		    "required.");
		return -1;
	}
	if (*app->secret == '\0') {
		reply_fail(rp, CODE_COMMON, "corp secret [corpsecret] This "
		    "field is required.");
		return -1;
	}
	if (*agentid == '\0') {
		reply_fail(rp, CODE_COMMON, "corp agentid [agentid] This field "
		    "is required.");
		return -1;
	}
	if (wecom_agentid(agentid, &app->agentid) == -1) {
		reply_fail(rp, CODE_COMMON, "corp agentid [agentid] Enter a "
		    "whole number.");
		return -1;
	}
	return 0;
}

/* store_fetch_fn: GET /cgi-bin/gettoken. */
static int
fetch_token(void *arg, char *out, size_t outsz, long *ttl)
{
	struct wecom_fetch	*f = arg;
	struct http_call	 hc;
	json_object		*doc = NULL;
	const char		*hide[2] = { f->app->secret, NULL };
	char			*id, *sec, url[LIM_PATH * 2];
	int			 rc = -1;

	memset(&hc, 0, sizeof(hc));
	f->err->iface = "get_token";
	id = wx_escape(f->app->corpid);
	sec = wx_escape(f->app->secret);
	if (snprintf(url, sizeof(url), WECOM_HOST "/cgi-bin/gettoken?"
	    "corpid=%s&corpsecret=%s", id, sec) >= (int)sizeof(url)) {
		f->err->kind = WX_BADREPLY;
		snprintf(f->err->detail, sizeof(f->err->detail),
		    "corp settings too long");
		goto out;
	}
	hc.method = "GET";
	hc.url = url;
	doc = wx_answer(&hc, http_run(f->conf, &hc), hide, f->err);
	if (doc == NULL || f->err->kind != WX_OK)
		goto out;
	if (wx_token_take(doc, out, outsz, ttl, f->err) == 0)
		rc = 0;
out:
	explicit_bzero(url, sizeof(url));
	curl_free(id);
	explicit_bzero(sec, strlen(sec));
	curl_free(sec);
	json_object_put(doc);
	http_call_free(&hc);
	metrics_token("wecom", rc == 0);
	return rc;
}

/* The token for app, never bad again.  Returns 0 or -1 with e set. */
static int
token_get(struct ctx *cx, const struct wecom_app *app, const char *bad,
    char *tok, size_t toksz, long *left, struct wx_err *e)
{
	struct wecom_fetch	 f = { cx->conf, app, e };

	return wx_token_from(cx->conf, "wecom", app->corpid, app->secret,
	    app->caller, bad, fetch_token, &f, tok, toksz, left, e);
}

/*
 * The app's access token and its seconds to live, for a caller allowed
 * to hold it (the v1 dialect's channels/weixin/token).  Returns 0, or -1
 * with rp set.
 */
int
wecom_token(struct ctx *cx, const struct wecom_app *app, char *tok,
    size_t toksz, long *left, struct reply *rp)
{
	struct wx_err	 e;

	memset(&e, 0, sizeof(e));
	e.sys = "WEIXIN_QY";
	if (token_get(cx, app, NULL, tok, toksz, left, &e) == -1) {
		wx_fail(&e, cx->request_id, rp);
		return -1;
	}
	return 0;
}

/* POST /cgi-bin/message/send.  Returns the answer or NULL (e says). */
static json_object *
send_once(struct ctx *cx, const struct wecom_app *app, const char *tok,
    const char *body, struct wx_err *e)
{
	struct http_call	 hc;
	json_object		*doc;
	const char		*hide[3] = { app->secret, tok, NULL };
	char			 url[LIM_TOKEN + 128];

	memset(&hc, 0, sizeof(hc));
	e->iface = "send_message";
	snprintf(url, sizeof(url), WECOM_HOST "/cgi-bin/message/send?"
	    "access_token=%s", tok);
	hc.method = "POST";
	hc.url = url;
	hc.body = body;
	hc.bodylen = strlen(body);
	hc.headers[0] = "Content-Type: application/json; charset=utf-8";
	doc = wx_answer(&hc, http_run(cx->conf, &hc), hide, e);
	if (doc != NULL && e->kind == WX_OK && !wx_sent(doc, e)) {
		json_object_put(doc);
		doc = NULL;
	}
	explicit_bzero(url, sizeof(url));
	http_call_free(&hc);
	return doc;
}

static int
token_error(const struct wx_err *e)
{
	return e->kind == WX_API && (e->errcode == 40014 ||
	    e->errcode == 42001 || e->errcode == 41001);
}

/*
 * The receivers of a batch WeCom listed in field (lower-cased,
 * '|'-joined), spelled as the caller spelled them, added to marks as
 * {receiver, reason} and to names as WeCom wrote them.
 */
static void
mark(json_object *doc, const char *field, json_object *to, size_t from,
    size_t upto, struct buf *names, json_object *marks)
{
	json_object	*v, *f;
	const char	*p, *r;
	char		 one[256];
	size_t		 len, i;

	if (!json_object_object_get_ex(doc, field, &v) ||
	    !json_object_is_type(v, json_type_string))
		return;
	for (p = json_object_get_string(v); *p != '\0';
	    p += len + (p[len] == '|')) {
		len = strcspn(p, "|");
		if (len == 0 || len >= sizeof(one))
			continue;
		memcpy(one, p, len);
		one[len] = '\0';
		wx_clean(one);
		r = one;
		for (i = from; i < upto; i++)
			if (str_eqi(json_object_get_string(
			    json_object_array_get_idx(to, i)), one))
				r = json_object_get_string(
				    json_object_array_get_idx(to, i));
		buf_printf(names, "%s%s", names->len > 0 ? "|" : "", one);
		f = json_object_new_object();
		json_object_object_add(f, "receiver",
		    json_object_new_string(r));
		json_object_object_add(f, "reason", json_object_new_string(
		    field));
		json_object_array_add(marks, f);
	}
}

/*
 * After an errcode nobody of the batch got the message: each receiver
 * fails, for the reason WeCom named or else its errmsg.
 */
static void
mark_all(json_object *to, size_t from, size_t upto, json_object *marks,
    const char *why, json_object *failed)
{
	json_object	*f, *m, *rv;
	const char	*who, *reason;
	size_t		 i, k;

	for (i = from; i < upto; i++) {
		who = json_object_get_string(json_object_array_get_idx(to, i));
		reason = why;
		for (k = 0; k < json_object_array_length(marks); k++) {
			m = json_object_array_get_idx(marks, k);
			if (json_object_object_get_ex(m, "receiver", &rv) &&
			    strcmp(json_object_get_string(rv), who) == 0)
				reason = jv_string(m, "reason");
		}
		f = json_object_new_object();
		json_object_object_add(f, "receiver",
		    json_object_new_string(who));
		json_object_object_add(f, "reason",
		    json_object_new_string(reason));
		json_object_array_add(failed, f);
	}
}

/*
 * For the spool: the receivers WeCom named are refused for good, the
 * others of the batch share the call's fate.
 */
static void
batch_outcome(struct ctx *cx, const struct wx_err *e, json_object *to,
    size_t from, size_t upto, json_object *marks)
{
	enum outcome_cls	 c = wx_outcome(e);
	size_t			 i;

	if (cx->oc == NULL)
		return;
	for (i = from; i < upto; i++)
		outcome_add(cx->oc, json_object_get_string(
		    json_object_array_get_idx(to, i)), c, e->retry_after);
	for (i = 0; i < json_object_array_length(marks); i++)
		outcome_add(cx->oc, jv_string(json_object_array_get_idx(marks,
		    i), "receiver"), OC_PERMANENT, 0);
}

/* The message/send body of receivers [from, upto).  Caller puts. */
static json_object *
batch_body(const struct wecom_app *app, json_object *to, size_t from,
    size_t upto, const char *text)
{
	json_object	*b, *t;
	struct buf	 users;
	size_t		 i;

	buf_init(&users, LIM_UP_REPLY);
	for (i = from; i < upto; i++)
		buf_printf(&users, "%s%s", i > from ? "|" : "",
		    json_object_get_string(json_object_array_get_idx(to, i)));
	b = json_object_new_object();
	json_object_object_add(b, "touser", json_object_new_string(
	    users.ptr != NULL ? users.ptr : ""));
	json_object_object_add(b, "msgtype", json_object_new_string("text"));
	json_object_object_add(b, "agentid",
	    json_object_new_int64(app->agentid));
	t = json_object_new_object();
	json_object_object_add(t, "content", json_object_new_string(text));
	json_object_object_add(b, "text", t);
	buf_free(&users);
	return b;
}

/*
 * Sends text to the WeCom users in to (an array of user ids) as app and
 * fills rp as the contract says: success; "invalid user: <ids>"; or
 * the API's errmsg, with per-recipient failures in data and, as ESB
 * did, the last failing request body in "params".  Text over 2048
 * bytes is cut at a character boundary and data says so.
 */
void
wecom_send(struct ctx *cx, const struct wecom_app *app, json_object *to,
    const char *text, struct reply *rp)
{
	struct wx_err	 e, api;
	struct buf	 invalid;
	json_object	*doc = NULL, *body = NULL, *failed, *d, *tr = NULL;
	json_object	*params = NULL, *marks = NULL, *only;
	char		 tok[LIM_TOKEN + 1], *t;
	size_t		 n, from, upto, cut, i;
	int		 retried = 0;

	/* A retry sends to those still pending only (outcome.c). */
	if ((only = outcome_filter(cx->oc, to, NULL)) != NULL)
		to = only;
	n = json_object_array_length(to);

	if (n == 0) {
		reply_fail(rp, CODE_COMMON, "touser [touser] This field is "
		    "required.");
		return;
	}
	memset(&e, 0, sizeof(e));
	memset(&api, 0, sizeof(api));
	e.sys = api.sys = "WEIXIN_QY";
	buf_init(&invalid, LIM_MESSAGE / 2);
	failed = json_object_new_array();
	t = xstrdup(text);
	wx_clean(t);
	cut = utf8_cut(t, strlen(t), LIM_WX_TEXT);
	if (cut < strlen(t)) {
		tr = json_object_new_object();
		json_object_object_add(tr, "bytes",
		    json_object_new_int64((int64_t)strlen(t)));
		json_object_object_add(tr, "sent", json_object_new_int64(
		    (int64_t)cut));
		t[cut] = '\0';
	}
	if (token_get(cx, app, NULL, tok, sizeof(tok), NULL, &e) == -1) {
		outcome_all(cx->oc, wx_outcome(&e), e.retry_after);
		wx_fail(&e, cx->request_id, rp);
		goto out;
	}
	for (from = 0; from < n; from = upto) {
		upto = n - from > WECOM_BATCH ? from + WECOM_BATCH : n;
		json_object_put(body);
		body = batch_body(app, to, from, upto, t);
		json_object_put(doc);
		doc = send_once(cx, app, tok, json_object_to_json_string_ext(
		    body, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE), &e);
		if (token_error(&e) && !retried) {
			retried = 1;
			log_info("%s: WEIXIN_QY token refused (%ld), "
			    "refreshing",
			    cx->request_id, e.errcode);
			json_object_put(doc);
			doc = NULL;
			if (token_get(cx, app, tok, tok, sizeof(tok), NULL,
			    &e) == 0)
				doc = send_once(cx, app, tok,
				    json_object_to_json_string_ext(body,
				    JSON_C_TO_STRING_PLAIN |
				    JSON_C_TO_STRING_NOSLASHESCAPE), &e);
		}
		if (doc == NULL) {
			outcome_all(cx->oc, wx_outcome(&e), e.retry_after);
			wx_fail(&e, cx->request_id, rp);
			goto out;
		}
		marks = json_object_new_array();
		mark(doc, "invaliduser", to, from, upto, &invalid, marks);
		mark(doc, "unlicenseduser", to, from, upto, &invalid, marks);
		batch_outcome(cx, &e, to, from, upto, marks);
		if (e.kind == WX_API) {
			api = e;
			json_object_put(params);
			params = json_object_get(body);
			mark_all(to, from, upto, marks, api.errmsg, failed);
		} else
			for (i = 0; i < json_object_array_length(marks); i++)
				json_object_array_add(failed, json_object_get(
				    json_object_array_get_idx(marks, i)));
		json_object_put(marks);
		marks = NULL;
	}
	d = json_object_new_object();
	if (api.kind == WX_API) {
		log_warnx("%s: WEIXIN_QY send_message: errcode %ld",
		    cx->request_id, api.errcode);
		reply_fail(rp, CODE_COMMON,
		    "WeChat message sending failed%s%s, %s",
		    invalid.len > 0 ? ", invalid user: " : "",
		    invalid.len > 0 ? invalid.ptr : "", api.errmsg);
		json_object_object_add(d, "errcode",
		    json_object_new_int64(api.errcode));
		json_object_object_add(d, "errmsg",
		    json_object_new_string(api.errmsg));
		rp->extra = json_object_new_object();
		json_object_object_add(rp->extra, "params", params);
		params = NULL;
	} else if (invalid.len > 0)
		reply_fail(rp, CODE_COMMON, "WeChat message sending failed, "
		    "invalid user: %s", invalid.ptr);
	else
		reply_ok(rp, "WeChat message sending succeeded");
	if (invalid.len > 0)
		json_object_object_add(d, "invaliduser",
		    json_object_new_string(invalid.ptr));
	if (json_object_array_length(failed) > 0)
		json_object_object_add(d, "failed", json_object_get(failed));
	if (tr != NULL)
		json_object_object_add(d, "content_truncated",
		    json_object_get(tr));
	if (json_object_object_length(d) > 0)
		reply_data(rp, d);
	else
		json_object_put(d);
out:
	explicit_bzero(tok, sizeof(tok));
	json_object_put(params);
	json_object_put(marks);
	json_object_put(doc);
	json_object_put(body);
	json_object_put(failed);
	json_object_put(tr);
	json_object_put(only);
	buf_free(&invalid);
	free(t);
}
