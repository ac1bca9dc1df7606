/*
 * The "webhook" kind of custom component: any JSON webhook.  The
 * operator's "body" is a JSON document whose strings are Mustache
 * templates, rendered with the message and put back as JSON strings
 * (json-c writes them, so the caller's quotes, newlines and braces
 * cannot break the document); "success" says which answers are a
 * delivery: {"status": [200, ...], "json": {"/pointer": expected}}.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json_pointer.h>

#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/http.h"
#include "core/log.h"
#include "core/outcome.h"
#include "core/request.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/tmpl.h"
#include "lib/util.h"
#include "webhook.h"

/* The answer without a success rule: any 2xx. */
static int
status_ok(json_object *rule, long status)
{
	json_object	*st;
	size_t		 i;

	if (rule == NULL || !json_object_object_get_ex(rule, "status", &st))
		return status >= 200 && status < 300;
	for (i = 0; i < json_object_array_length(st); i++)
		if (json_object_get_int64(json_object_array_get_idx(st, i)) ==
		    status)
			return 1;
	return 0;
}

/* A JSON Pointer (RFC 6901): "" or "/..." with ~ only as ~0 or ~1. */
static int
pointer_ok(const char *p)
{
	if (*p != '\0' && *p != '/')
		return 0;
	for (; *p != '\0'; p++)
		if (*p == '~' && p[1] != '0' && p[1] != '1')
			return 0;
	return 1;
}

/* -t: a "success" rule.  Returns 0, or -1 with what is wrong in msg. */
int
webhook_rule_check(json_object *rule, char *msg, size_t n)
{
	json_object	*v;
	int64_t		 s;
	size_t		 i;

	if (!json_object_is_type(rule, json_type_object)) {
		snprintf(msg, n, "an object: {\"status\": [200, ...], "
		    "\"json\": {\"/pointer\": expected, ...}}");
		return -1;
	}
	json_object_object_foreach(rule, k, val) {
		if (strcmp(k, "status") == 0) {
			if (!json_object_is_type(val, json_type_array) ||
			    json_object_array_length(val) == 0 ||
			    json_object_array_length(val) > 32) {
				snprintf(msg, n, "status: a list of 1 to 32 "
				    "HTTP statuses");
				return -1;
			}
			for (i = 0; i < json_object_array_length(val); i++) {
				v = json_object_array_get_idx(val, i);
				s = json_object_get_int64(v);
				if (!json_object_is_type(v, json_type_int) ||
				    s < 100 || s > 599) {
					snprintf(msg, n, "status: %.32s is no "
					    "HTTP status (100 to 599)",
					    json_object_to_json_string(v));
					return -1;
				}
			}
		} else if (strcmp(k, "json") == 0) {
			if (!json_object_is_type(val, json_type_object) ||
			    json_object_object_length(val) > 32) {
				snprintf(msg, n, "json: an object of at most "
				    "32 \"/json/pointer\": expected value");
				return -1;
			}
			json_object_object_foreach(val, ptr, exp) {
				(void)exp;
				if (!pointer_ok(ptr) || strlen(ptr) >=
				    LIM_SCHEMA_PTR) {
					snprintf(msg, n, "json: \"%.64s\" is no "
					    "JSON Pointer (\"/code\", "
					    "\"/data/ok\")", ptr);
					return -1;
				}
			}
		} else if (strcmp(k, "comment") != 0) {
			snprintf(msg, n, "%.64s: unknown key (status, json)", k);
			return -1;
		}
	}
	return 0;
}

/* Checks every string of v as a template; path grows with the walk. */
static int
body_walk(json_object *v, char *path, size_t plen, int depth, char *msg,
    size_t n)
{
	struct tmpl	*t;
	char		 err[128];
	size_t		 i, l = strlen(path);

	if (depth > LIM_JSON_DEPTH) {
		snprintf(msg, n, "%s: nested deeper than %d", path,
		    LIM_JSON_DEPTH);
		return -1;
	}
	switch (json_object_get_type(v)) {
	case json_type_string:
		t = tmpl_parse(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v), err, sizeof(err));
		if (t == NULL) {
			snprintf(msg, n, "%s: not a Mustache template: %s",
			    path, err);
			return -1;
		}
		tmpl_free(t);
		return 0;
	case json_type_object: {
		json_object_object_foreach(v, k, val) {
			snprintf(path + l, plen - l, "/%s", k);
			if (body_walk(val, path, plen, depth + 1, msg, n) == -1)
				return -1;
			path[l] = '\0';
		}
		return 0;
	}
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++) {
			snprintf(path + l, plen - l, "/%zu", i);
			if (body_walk(json_object_array_get_idx(v, i), path,
			    plen, depth + 1, msg, n) == -1)
				return -1;
			path[l] = '\0';
		}
		return 0;
	default:
		return 0;
	}
}

/*
 * -t: a "body".  Returns 0, or -1 with msg starting with where the
 * problem is (a JSON Pointer into the body, "" for the whole).
 */
int
webhook_body_check(json_object *body, char *msg, size_t n)
{
	char	 path[LIM_SCHEMA_PTR];

	if (!json_object_is_type(body, json_type_object) &&
	    !json_object_is_type(body, json_type_array)) {
		snprintf(msg, n, ": a JSON object or array whose strings are "
		    "Mustache templates");
		return -1;
	}
	path[0] = '\0';
	return body_walk(body, path, sizeof(path), 0, msg, n);
}

/* -t: "headers", name -> value, values read already.  0 or -1 (msg). */
int
webhook_headers_check(json_object *h, char *msg, size_t n)
{
	static const char *const reserved[] = { "content-length", "host",
	    "transfer-encoding", "connection", "expect", NULL };
	const char	*s;
	size_t		 i;

	if (json_object_object_length(h) > WEBHOOK_HEADERS) {
		snprintf(msg, n, "at most %d", WEBHOOK_HEADERS);
		return -1;
	}
	json_object_object_foreach(h, k, v) {
		if (*k == '\0' || strlen(k) >= LIM_NAME ||
		    strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
		    "VWXYZ0123456789-_") != strlen(k)) {
			snprintf(msg, n, "\"%.64s\" is no header name", k);
			return -1;
		}
		for (i = 0; reserved[i] != NULL; i++)
			if (strcasecmp(k, reserved[i]) == 0) {
				snprintf(msg, n, "%s is the gateway's to set",
				    k);
				return -1;
			}
		if (!json_object_is_type(v, json_type_string))
			continue;
		for (s = json_object_get_string(v); *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 && *s != '\t') {
				snprintf(msg, n, "%s: a control character in "
				    "its value", k);
				return -1;
			}
		if (strlen(json_object_get_string(v)) > LIM_SECRET) {
			snprintf(msg, n, "%s: longer than %d bytes", k,
			    LIM_SECRET);
			return -1;
		}
	}
	return 0;
}

/*
 * The name of a string that is one plain tag and nothing else,
 * "{{receivers}}", into name; 0 if it is not one.
 */
static int
lone_tag(const char *s, char *name, size_t n)
{
	size_t	 l;

	if (strncmp(s, "{{", 2) != 0 || strchr("#^/!>&{=<$", s[2]) != NULL)
		return 0;
	s += 2;
	while (*s == ' ')
		s++;
	l = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
	if (l == 0 || l >= n)
		return 0;
	memcpy(name, s, l);
	name[l] = '\0';
	s += l;
	while (*s == ' ')
		s++;
	return strcmp(s, "}}") == 0;
}

/* One string of the body, rendered; NULL with err set.  Caller puts. */
static json_object *
render_string(json_object *v, json_object *ctx, char *err, size_t n)
{
	struct tmpl	*t;
	struct buf	 b;
	json_object	*o = NULL, *val;
	char		 name[LIM_NAME], perr[128];

	/* A lone tag of a list or a number keeps its JSON type. */
	if (lone_tag(json_object_get_string(v), name, sizeof(name)) &&
	    json_object_object_get_ex(ctx, name, &val) && val != NULL &&
	    !json_object_is_type(val, json_type_string))
		return json_object_get(val);
	t = tmpl_parse(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v), perr, sizeof(perr));
	if (t == NULL) {
		snprintf(err, n, "body template: %s", perr);
		return NULL;
	}
	buf_init(&b, LIM_RENDER);
	if (tmpl_render(t, ctx, TMPL_ESC_NONE, NULL, NULL, &b) == -1)
		snprintf(err, n, "the body, rendered, is larger than %d bytes",
		    LIM_RENDER);
	else
		o = json_object_new_string_len(b.ptr != NULL ? b.ptr : "",
		    (int)b.len);
	buf_free(&b);
	tmpl_free(t);
	return o;
}

static json_object *
body_render(json_object *v, json_object *ctx, int depth, char *err, size_t n)
{
	json_object	*out, *r;
	size_t		 i;

	if (depth > LIM_JSON_DEPTH) {
		snprintf(err, n, "the body is nested deeper than %d",
		    LIM_JSON_DEPTH);
		return NULL;
	}
	switch (json_object_get_type(v)) {
	case json_type_string:
		return render_string(v, ctx, err, n);
	case json_type_object: {
		out = json_object_new_object();
		json_object_object_foreach(v, k, val) {
			if ((r = body_render(val, ctx, depth + 1, err, n)) ==
			    NULL) {
				json_object_put(out);
				return NULL;
			}
			json_object_object_add(out, k, r);
		}
		return out;
	}
	case json_type_array:
		out = json_object_new_array();
		for (i = 0; i < json_object_array_length(v); i++) {
			if ((r = body_render(json_object_array_get_idx(v, i),
			    ctx, depth + 1, err, n)) == NULL) {
				json_object_put(out);
				return NULL;
			}
			json_object_array_add(out, r);
		}
		return out;
	default:
		return json_object_get(v);
	}
}

/*
 * The body template tmpl rendered with the message ctx: every string
 * a Mustache template (no escaping: json-c escapes the result), every
 * other value as it is.  Returns the document, or NULL with err set.
 * Caller puts.
 */
json_object *
webhook_body(json_object *tmpl, json_object *ctx, char *err, size_t n)
{
	return body_render(tmpl, ctx, 0, err, n);
}

/* The upstream's own words in a JSON answer, printable, capped. */
static void
words(json_object *doc, char *out, size_t n)
{
	static const char *const keys[] = { "message", "msg", "errmsg",
	    "error_description", "error", "detail", NULL };
	json_object	*v;
	const char	*s;
	size_t		 i, k = 0;

	out[0] = '\0';
	for (i = 0; keys[i] != NULL; i++)
		if (json_object_is_type(doc, json_type_object) &&
		    json_object_object_get_ex(doc, keys[i], &v) &&
		    json_object_is_type(v, json_type_string))
			break;
	if (keys[i] == NULL)
		return;
	for (s = json_object_get_string(v); *s != '\0' && k + 1 < n &&
	    k < 200; s++)
		out[k++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	out[k] = '\0';
}

/*
 * Whether the answer (status, reply of len bytes) is a delivery under
 * rule (NULL: any 2xx).  Returns 1, or 0 with why naming the cause in
 * the upstream's words where it gave some.
 */
int
webhook_success(json_object *rule, long status, const char *reply,
    size_t len, char *why, size_t n)
{
	json_object	*doc = NULL, *want = NULL, *got;
	char		 w[256];
	int		 ok = 0;

	if (reply != NULL && len > 0)
		doc = jv_parse(reply, len);
	words(doc, w, sizeof(w));
	if (!status_ok(rule, status)) {
		snprintf(why, n, "HTTP %ld%s%s%s", status, w[0] != '\0' ?
		    ": " : "", w, status == 401 || status == 403 ?
		    " (check the credentials in the webhook's headers)" : "");
		goto out;
	}
	if (rule == NULL || !json_object_object_get_ex(rule, "json", &want)) {
		ok = 1;
		goto out;
	}
	if (doc == NULL) {
		snprintf(why, n, "HTTP %ld with an answer that is not JSON, "
		    "where the success rule reads JSON", status);
		goto out;
	}
	json_object_object_foreach(want, ptr, exp) {
		if (json_pointer_get(doc, ptr, &got) != 0) {
			snprintf(why, n, "the answer has no %.64s%s%s", ptr,
			    w[0] != '\0' ? ": " : "", w);
			goto out;
		}
		if (!json_object_equal(got, exp)) {
			snprintf(why, n, "the answer's %.64s is %.64s, not "
			    "%.64s%s%s", ptr, json_object_to_json_string(got),
			    json_object_to_json_string(exp), w[0] != '\0' ?
			    ": " : "", w);
			goto out;
		}
	}
	ok = 1;
out:
	json_object_put(doc);
	return ok;
}

/*
 * Sends the message of the template context tctx through the webhook
 * of section sec.  Sets rp; returns what the attempt was for the spool,
 * *after the upstream's Retry-After.
 */
enum outcome_cls
webhook_send(struct ctx *cx, json_object *sec, json_object *tctx,
    struct reply *rp, long *after)
{
	struct http_call	 hc;
	enum outcome_cls	 cls = OC_PERMANENT;
	json_object		*tmpl = NULL, *body = NULL, *hdrs, *rule = NULL;
	const char		*s;
	char			 hv[WEBHOOK_HEADERS][LIM_NAME + LIM_SECRET + 4];
	char			 err[LIM_MESSAGE / 2], why[LIM_MESSAGE / 2];
	size_t			 nh = 0, nv;
	int			 ctype = 0;

	memset(&hc, 0, sizeof(hc));
	*after = 0;
	nv = 0;
	if (!json_object_object_get_ex(sec, "body", &tmpl)) {
		/* Without a body: the message's fields as they are. */
		tmpl = NULL;
		body = json_object_get(tctx);
	} else if ((body = webhook_body(tmpl, tctx, err, sizeof(err))) ==
	    NULL) {
		reply_fail(rp, CODE_COMMON, "Webhook %s: %s", cx->component,
		    err);
		goto out;
	}
	if (json_object_object_get_ex(sec, "headers", &hdrs) &&
	    json_object_is_type(hdrs, json_type_object)) {
		json_object_object_foreach(hdrs, k, v) {
			if (nh == WEBHOOK_HEADERS)
				break;
			snprintf(hv[nh], sizeof(hv[nh]), "%s: %s", k,
			    json_object_get_string(v));
			if (strcasecmp(k, "content-type") == 0)
				ctype = 1;
			hc.headers[nh] = hv[nh];
			nh++;
		}
	}
	nv = nh;
	if (!ctype)
		hc.headers[nh++] = "Content-Type: application/json; "
		    "charset=utf-8";
	s = conf_str(sec, "method");
	hc.method = *s != '\0' ? s : "POST";
	hc.url = conf_str(sec, "url");
	hc.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	hc.bodylen = strlen(hc.body);
	hc.timeout_ms = conf_int(sec, "timeout_ms", 0);
	if (http_run(cx->conf, &hc) == -1) {
		cls = outcome_http(hc.cc, 0);
		reply_fail(rp, http_is_ssl(hc.cc) ? CODE_SSL : CODE_THIRD_PARTY,
		    "Webhook %s failed: %s", cx->component,
		    http_detail(&hc, why, sizeof(why)));
		goto out;
	}
	*after = hc.retry_after;
	json_object_object_get_ex(sec, "success", &rule);
	if (webhook_success(rule, hc.status, hc.reply.ptr, hc.reply.len, why,
	    sizeof(why))) {
		cls = OC_OK;
		reply_ok(rp, "OK");
		goto out;
	}
	/* A refusal by status may pass later; one by content will not. */
	cls = outcome_http(CURLE_OK, hc.status);
	if (cls == OC_OK)
		cls = OC_PERMANENT;
	reply_fail(rp, CODE_COMMON, "Webhook %s failed: %s", cx->component,
	    why);
	log_info("%s: webhook %s: HTTP %ld, not a success", cx->request_id,
	    cx->component, hc.status);
out:
	/* The headers may hold secrets. */
	for (; nv > 0; nv--)
		explicit_bzero(hv[nv - 1], sizeof(hv[nv - 1]));
	json_object_put(body);
	http_call_free(&hc);
	return cls;
}
