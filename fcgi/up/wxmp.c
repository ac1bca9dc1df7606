/*
 * WeChat Official Account template messages (message/template/send): one
 * access token for every worker (store.c; stable_token by default,
 * which does not invalidate the previous token as cgi-bin/token does),
 * then one message/template/send per openid, all of a request in
 * flight together through curl multi, bounded.  A token refused
 * (40001, 40014, 42001) is refreshed once and only the refused calls
 * are made again.  Also the server URL's side: the signature over
 * wx_token and the TEMPLATESENDJOBFINISH push, read with libxml2
 * without network, entities or DTDs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/outcome.h"
#include "core/request.h"
#include "core/tmplset.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "wx.h"
#include "wxmp.h"

#define WXMP_HOST	"https://api.weixin.qq.com"
/* ESB's code default when wx_template_id is empty (contract 5.3). */
#define WXMP_TEMPLATE	"yrxKwt3OR4BGvuZzwiASaSm_GfOtxwak3mMfh5Ijiaw"

/* What the token fetch needs and tells. */
struct wxmp_fetch {
	const struct conf	*conf;		/* borrowed */
	const struct wxmp_app	*app;		/* borrowed */
	struct wx_err		*err;		/* borrowed: why it failed */
};

/*
 * The account from the section.  Returns 0, or -1 with the message of
 * ESB's first bad field.
 */
int
wxmp_app(json_object *section, struct wxmp_app *app, struct reply *rp)
{
	memset(app, 0, sizeof(*app));
	app->appid = conf_str(section, "wx_app_id");
	app->secret = conf_str(section, "wx_secret");
	app->template_id = conf_str(section, "wx_template_id");
	if (*app->template_id == '\0')
		app->template_id = WXMP_TEMPLATE;
	app->stable = strcmp(conf_str(section, "wx_token_source"),
	    "token") != 0;
	if (*app->appid == '\0') {
		reply_fail(rp, CODE_COMMON, "wechat appid [appid] This field "
		    "is required.");
		return -1;
	}
	if (*app->secret == '\0') {
		reply_fail(rp, CODE_COMMON, "wechat app secret [secret] This "
		    "field is required.");
		return -1;
	}
	return 0;
}

/*
 * The template's data object from templates/wxmp/data (JSON-escaped
 * fields).  Returns it (caller puts), or NULL with the generic error
 * when the layout does not make a JSON object.
 */
json_object *
wxmp_data(json_object *fields, struct reply *rp)
{
	json_object	*doc;
	char		*s;

	if ((s = tmplset_layout("wxmp/data", fields, TMPL_ESC_JSON, rp)) == NULL)
		return NULL;
	doc = jv_parse(s, strlen(s));
	free(s);
	if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
		log_warnx("template wxmp/data: not a JSON object");
		json_object_put(doc);
		reply_component_error(rp);
		return NULL;
	}
	return doc;
}

/* store_fetch_fn: POST /cgi-bin/stable_token, or GET /cgi-bin/token. */
static int
fetch_token(void *arg, char *out, size_t outsz, long *ttl)
{
	struct wxmp_fetch	*f = arg;
	struct http_call	 hc;
	json_object		*doc = NULL, *req = NULL;
	const char		*hide[2] = { f->app->secret, NULL };
	char			*id = NULL, *sec = NULL, url[LIM_PATH * 2];
	int			 rc = -1;

	memset(&hc, 0, sizeof(hc));
	f->err->iface = "get_token";
	if (f->app->stable) {
		req = json_object_new_object();
		json_object_object_add(req, "grant_type",
		    json_object_new_string("client_credential"));
		json_object_object_add(req, "appid",
		    json_object_new_string(f->app->appid));
		json_object_object_add(req, "secret",
		    json_object_new_string(f->app->secret));
		json_object_object_add(req, "force_refresh",
		    json_object_new_boolean(0));
		snprintf(url, sizeof(url), WXMP_HOST "/cgi-bin/stable_token");
		hc.method = "POST";
		hc.body = json_object_to_json_string_ext(req,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		hc.bodylen = strlen(hc.body);
		hc.headers[0] = "Content-Type: application/json";
	} else {
		id = wx_escape(f->app->appid);
		sec = wx_escape(f->app->secret);
		hc.method = "GET";
		if (snprintf(url, sizeof(url), WXMP_HOST "/cgi-bin/token?"
		    "grant_type=client_credential&appid=%s&secret=%s", id,
		    sec) >= (int)sizeof(url)) {
			f->err->kind = WX_BADREPLY;
			snprintf(f->err->detail, sizeof(f->err->detail),
			    "account settings too long");
			goto out;
		}
	}
	hc.url = url;
	doc = wx_answer(&hc, http_run(f->conf, &hc), hide, f->err);
	if (doc == NULL || f->err->kind != WX_OK)
		goto out;
	if (wx_token_take(doc, out, outsz, ttl, f->err) == 0)
		rc = 0;
out:
	explicit_bzero(url, sizeof(url));
	if (hc.body != NULL)
		explicit_bzero((char *)(uintptr_t)hc.body, hc.bodylen);
	if (sec != NULL)
		explicit_bzero(sec, strlen(sec));
	curl_free(id);
	curl_free(sec);
	json_object_put(req);
	json_object_put(doc);
	http_call_free(&hc);
	metrics_token("mp", rc == 0);
	return rc;
}

/* The token for app, never bad again.  Returns 0 or -1 with e set. */
static int
token_get(struct ctx *cx, const struct wxmp_app *app, const char *bad,
    char *tok, size_t toksz, long *left, struct wx_err *e)
{
	struct wxmp_fetch	 f = { cx->conf, app, e };

	return wx_token(cx->conf, app->stable ? "mp-stable" : "mp",
	    app->appid, app->secret, bad, fetch_token, &f, tok, toksz, left,
	    e);
}

/*
 * The account's access token and its seconds to live, for a caller
 * allowed to hold it (the v1 dialect's channels/weixin/token).  Returns
 * 0, or -1 with rp set.
 */
int
wxmp_token(struct ctx *cx, const struct wxmp_app *app, char *tok,
    size_t toksz, long *left, struct reply *rp)
{
	struct wx_err	 e;

	memset(&e, 0, sizeof(e));
	e.sys = "WEIXIN_MP";
	if (token_get(cx, app, NULL, tok, toksz, left, &e) == -1) {
		wx_fail(&e, cx->request_id, rp);
		return -1;
	}
	return 0;
}

/* MP's 40001 is a stale token on this API, not a wrong secret. */
static int
token_error(const struct wx_err *e)
{
	return e->kind == WX_API && (e->errcode == 40001 ||
	    e->errcode == 40014 || e->errcode == 42001);
}

/* Reads the answer of call i into errs[i] and msgids[i] (-1: none). */
static void
outcome(struct http_call *hc, const char *const *hide, struct wx_err *e,
    long long *msgid)
{
	json_object	*doc, *v;

	e->sys = "WEIXIN_MP";
	e->iface = "send_msg_with_tpl";
	*msgid = -1;
	doc = wx_answer(hc, hc->cc == CURLE_OK ? 0 : -1, hide, e);
	if (wx_sent(doc, e) &&
	    json_object_object_get_ex(doc, "msgid", &v) && v != NULL &&
	    num_parse(json_object_get_string(v), 0, 0x7fffffffffffffffLL,
	    msgid) == -1)
		*msgid = -1;
	json_object_put(doc);
}

/* Points call hc at url with body; frees what a previous run left. */
static void
aim(struct http_call *hc, const char *url, const char *body)
{
	http_call_free(hc);
	memset(hc, 0, sizeof(*hc));
	hc->method = "POST";
	hc->url = url;
	hc->body = body;
	hc->bodylen = strlen(body);
	hc->headers[0] = "Content-Type: application/json; charset=utf-8";
}

/*
 * Runs the calls in rounds of what http_run_all keeps in flight, and
 * starts no round once the configured timeout has passed: a stalled
 * API then costs about two timeouts, not one per round.  Calls never
 * made end as timed out.
 */
static void
run_bounded(const struct conf *c, struct http_call **run, size_t n)
{
	struct timespec	 t0, t1;
	size_t		 i, k;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i += k) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (i > 0 && (t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000 >= c->timeout_ms)
			break;
		k = n - i < LIM_UP_PARALLEL ? n - i : LIM_UP_PARALLEL;
		http_run_all(c, run + i, k);
	}
	for (; i < n; i++) {
		run[i]->cc = CURLE_OPERATION_TIMEDOUT;
		run[i]->secs = (double)c->timeout_ms / 1000;
	}
}

/* {openid, result, msgid | errcode, errmsg} of one recipient. */
static json_object *
result_of(const char *openid, const struct wx_err *e, long long msgid)
{
	json_object	*r = json_object_new_object();

	json_object_object_add(r, "openid", json_object_new_string(openid));
	json_object_object_add(r, "result",
	    json_object_new_boolean(e->kind == WX_OK));
	if (e->kind == WX_OK) {
		json_object_object_add(r, "msgid", msgid >= 0 ?
		    json_object_new_int64(msgid) : NULL);
		return r;
	}
	json_object_object_add(r, "errcode", json_object_new_int64(
	    e->kind == WX_API ? e->errcode : -1));
	json_object_object_add(r, "errmsg", json_object_new_string(
	    e->kind == WX_API ? e->errmsg : e->detail));
	return r;
}

/*
 * Sends one template message with data (and url, if not "") to each
 * openid in to, LIM_UP_PARALLEL in flight at a time (run_bounded),
 * and fills rp: "WeChat message sending succeeded" or "... failed",
 * per-openid results with each msgid in data.results; 1306201 when no
 * call got an answer.
 */
void
wxmp_send(struct ctx *cx, const struct wxmp_app *app, json_object *to,
    json_object *data, const char *url, struct reply *rp)
{
	struct http_call	*hc = NULL, **run = NULL;
	struct wx_err		*errs = NULL, tokerr;
	json_object		*b, *results = NULL, *only;
	char			 tok[LIM_TOKEN + 1], target[LIM_TOKEN + 128];
	char			**bodies = NULL;
	const char		*hide[3] = { app->secret, tok, NULL };
	long long		*msgids = NULL;
	size_t			*idx = NULL, n;
	size_t			 i, k, nre = 0, nok = 0, nanswered = 0;

	/* A retry sends to those still pending only (outcome.c). */
	if ((only = outcome_filter(cx->oc, to, NULL)) != NULL)
		to = only;
	n = json_object_array_length(to);
	if (n == 0) {
		json_object_put(only);
		reply_fail(rp, CODE_COMMON, "touser [touser] This field is "
		    "required.");
		return;
	}
	memset(&tokerr, 0, sizeof(tokerr));
	tokerr.sys = "WEIXIN_MP";
	if (token_get(cx, app, NULL, tok, sizeof(tok), NULL,
	    &tokerr) == -1) {
		outcome_all(cx->oc, wx_outcome(&tokerr), tokerr.retry_after);
		wx_fail(&tokerr, cx->request_id, rp);
		goto out;
	}
	hc = xcalloc(n, sizeof(*hc));
	run = xcalloc(n, sizeof(*run));
	errs = xcalloc(n, sizeof(*errs));
	msgids = xcalloc(n, sizeof(*msgids));
	idx = xcalloc(n, sizeof(*idx));
	bodies = xcalloc(n, sizeof(*bodies));
	snprintf(target, sizeof(target), WXMP_HOST "/cgi-bin/message/template/"
	    "send?access_token=%s", tok);
	for (i = 0; i < n; i++) {
		b = json_object_new_object();
		json_object_object_add(b, "touser", json_object_get(
		    json_object_array_get_idx(to, i)));
		json_object_object_add(b, "template_id",
		    json_object_new_string(app->template_id));
		if (*url != '\0')
			json_object_object_add(b, "url",
			    json_object_new_string(url));
		json_object_object_add(b, "data", json_object_get(data));
		bodies[i] = xstrdup(json_object_to_json_string_ext(b,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(b);
		aim(&hc[i], target, bodies[i]);
		run[i] = &hc[i];
	}
	run_bounded(cx->conf, run, n);
	for (i = 0; i < n; i++) {
		outcome(&hc[i], hide, &errs[i], &msgids[i]);
		if (token_error(&errs[i]))
			idx[nre++] = i;
	}
	if (nre > 0) {
		log_info("%s: WEIXIN_MP token refused for %zu call(s), "
		    "refreshing", cx->request_id, nre);
		/* The code that refused it: the refresh's recorded reason. */
		tokerr.kind = WX_API;
		tokerr.errcode = errs[idx[0]].errcode;
		if (token_get(cx, app, tok, tok, sizeof(tok), NULL,
		    &tokerr) == 0) {
			snprintf(target, sizeof(target), WXMP_HOST "/cgi-bin/"
			    "message/template/send?access_token=%s", tok);
			for (k = 0; k < nre; k++) {
				aim(&hc[idx[k]], target, bodies[idx[k]]);
				run[k] = &hc[idx[k]];
			}
			run_bounded(cx->conf, run, nre);
			for (k = 0; k < nre; k++)
				outcome(&hc[idx[k]], hide, &errs[idx[k]],
				    &msgids[idx[k]]);
		}
	}
	results = json_object_new_array();
	for (i = 0; i < n; i++) {
		nok += errs[i].kind == WX_OK;
		nanswered += errs[i].kind == WX_OK || errs[i].kind == WX_API;
		json_object_array_add(results, result_of(json_object_get_string(
		    json_object_array_get_idx(to, i)), &errs[i], msgids[i]));
		outcome_add(cx->oc, json_object_get_string(
		    json_object_array_get_idx(to, i)), wx_outcome(&errs[i]),
		    errs[i].retry_after);
	}
	if (nanswered == 0) {
		wx_fail(&errs[0], cx->request_id, rp);
		goto out;
	}
	if (nok == n)
		reply_ok(rp, "WeChat message sending succeeded");
	else {
		log_warnx("%s: WEIXIN_MP send_msg_with_tpl: %zu of %zu failed",
		    cx->request_id, n - nok, n);
		reply_fail(rp, CODE_COMMON, "WeChat message sending failed");
	}
	reply_data(rp, json_object_new_object());
	json_object_object_add(rp->data, "results", results);
	results = NULL;
out:
	for (i = 0; hc != NULL && i < n; i++) {
		http_call_free(&hc[i]);
		free(bodies[i]);
	}
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(target, sizeof(target));
	json_object_put(results);
	json_object_put(only);
	free(hc);
	free(run);
	free(errs);
	free(msgids);
	free(idx);
	free(bodies);
}

/*
 * The server URL signature: SHA-1, lower-case hex, of token, timestamp
 * and nonce sorted bytewise and joined.  Returns 0, or -1 if a part is
 * too long to be real.
 */
int
wxmp_signature(const char *token, const char *ts, const char *nonce,
    char out[41])
{
	static const char	 hex[] = "0123456789abcdef";
	const char		*v[3] = { token, ts, nonce }, *t;
	unsigned char		 md[20];
	char			 cat[LIM_SECRET + 2 * 128 + 1];
	size_t			 i, j, n = 0, len;

	for (i = 0; i < 3; i++)
		for (j = i + 1; j < 3; j++)
			if (strcmp(v[j], v[i]) < 0) {
				t = v[i];
				v[i] = v[j];
				v[j] = t;
			}
	if (strlen(ts) > 128 || strlen(nonce) > 128 ||
	    strlen(token) > LIM_SECRET)
		return -1;
	for (i = 0; i < 3; i++) {
		len = strlen(v[i]);
		memcpy(cat + n, v[i], len);
		n += len;
	}
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, cat, n, md) != 0) {
		explicit_bzero(cat, sizeof(cat));
		return -1;
	}
	explicit_bzero(cat, sizeof(cat));
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[40] = '\0';
	return 0;
}

/* 1 if sig is the signature of ts and nonce over token, else 0. */
int
wxmp_verify(const char *token, const char *sig, const char *ts,
    const char *nonce)
{
	char	 want[41];

	if (*token == '\0' || *ts == '\0' || *nonce == '\0' ||
	    wxmp_signature(token, ts, nonce, want) == -1)
		return 0;
	return secret_eq(sig, want);
}

/* Copies the text of element n; returns -1 if it does not fit. */
static int
text_of(xmlNode *n, char *out, size_t outsz)
{
	xmlChar	*s;
	int	 rc;

	s = xmlNodeGetContent(n);
	if (s == NULL)
		return -1;
	rc = str_copy(out, (const char *)s, outsz);
	xmlFree(s);
	if (rc == 0)
		wx_clean(out);
	return rc;
}

/*
 * Reads a push: <xml> with one element per field, text or CDATA alike.
 * A DOCTYPE or entity declaration is refused before libxml2 sees the
 * body; the parser itself runs without network or substitution.
 * Returns 0, or -1 when the body is no such document.
 */
int
wxmp_event(const char *body, size_t n, struct wxmp_event *ev)
{
	xmlDoc		*doc = NULL;
	xmlNode		*root, *c;
	char		 num[32];
	const char	*name;
	int		 rc = -1, r = 0;

	memset(ev, 0, sizeof(*ev));
	if (n == 0 || n > LIM_CALLBACK ||
	    memmem(body, n, "<!DOCTYPE", 9) != NULL ||
	    memmem(body, n, "<!ENTITY", 8) != NULL)
		return -1;
	doc = xmlReadMemory(body, (int)n, "push.xml", NULL, XML_PARSE_NONET |
	    XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (doc == NULL || doc->intSubset != NULL ||
	    (root = xmlDocGetRootElement(doc)) == NULL ||
	    strcmp((const char *)root->name, "xml") != 0)
		goto out;
	for (c = root->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		name = (const char *)c->name;
		if (strcmp(name, "ToUserName") == 0)
			r |= text_of(c, ev->account, sizeof(ev->account));
		else if (strcmp(name, "FromUserName") == 0)
			r |= text_of(c, ev->openid, sizeof(ev->openid));
		else if (strcmp(name, "MsgType") == 0)
			r |= text_of(c, ev->msgtype, sizeof(ev->msgtype));
		else if (strcmp(name, "Event") == 0)
			r |= text_of(c, ev->event, sizeof(ev->event));
		else if (strcmp(name, "MsgID") == 0 ||
		    strcmp(name, "MsgId") == 0)
			r |= text_of(c, ev->msgid, sizeof(ev->msgid));
		else if (strcmp(name, "Status") == 0)
			r |= text_of(c, ev->status, sizeof(ev->status));
		else if (strcmp(name, "CreateTime") == 0) {
			r |= text_of(c, num, sizeof(num));
			if (num_parse(num, 0, 0x7fffffffffffLL,
			    &ev->created) == -1)
				ev->created = 0;
		}
	}
	rc = r == 0 ? 0 : -1;
out:
	xmlFreeDoc(doc);
	return rc;
}
