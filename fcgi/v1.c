/*
 * The bk-cmsi "v1" dialect of BlueKing's API gateway (doc/v1.md), as
 * an adapter at the edge of the same core.
 * In: its paths, its credentials header, its tenant header and its lenient
 * bodies, mapped onto the ESB parameters of the component that does the
 * work.  Out: one document that both kinds of caller parse, the new
 * standard ({"data"}, or non-2xx with {"error"}) and the ESB-minded
 * (result, code, message, data.username_check.invalid).  No channel
 * logic lives here: components run through route_run as for ESB.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "check.h"
#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/request.h"
#include "lib/jwt.h"
#include "lib/limits.h"
#include "lib/mime.h"
#include "lib/util.h"
#include "named.h"
#include "route.h"
#include "state/rate.h"
#include "up/wecom.h"
#include "up/wxmp.h"
#include "v1.h"

/* How one field of a v1 body reaches the ESB parameters. */
enum v1_how {
	F_COPY,			/* as sent */
	F_LIST,			/* a list, or one string of several */
	F_PHONES,		/* the same, "+86 138 0000 0000" being one */
	F_PEOPLE,		/* phones as send_voice_msg's people */
	F_FORMAT,		/* body_format in any case */
	F_MESSAGE,		/* a WeChat message object, or its JSON */
};

struct v1_field {
	const char	*from;		/* the v1 key */
	const char	*to;		/* the ESB key; "data.x" is x in data */
	enum v1_how	 how;
};

/*
 * ESB's words that tell how a send ended;
 * callers such as ITSM match them too.
 */
#define SAID_SOME	"Some users failed to send "
#define SAID_NODIR	"Failed to get users contact information"
#define SAID_UNFIN	"Unfinished interface"
#define SAID_BADFMT	"The following users contact format are incorrect: "

/* Without a heading ESB refuses a WeChat message; APIGW sends none. */
#define DEFAULT_HEADING	"BlueKing"

/* Within a table, a later field overrides an earlier one it maps onto. */
static const struct v1_field users_f[] = {
	{ "receiver_username",	"receiver__username",	F_LIST },
	{ "receiver__username",	"receiver__username",	F_LIST },
	{ NULL, NULL, F_COPY }
};

static const struct v1_field named_f[] = {
	{ "template",		"template",		F_COPY },
	{ "context",		"context",		F_COPY },
	{ NULL, NULL, F_COPY }
};

static const struct v1_field mail_f[] = {
	{ "receiver",		"receiver",		F_LIST },
	{ "cc_username",	"cc__username",		F_LIST },
	{ "cc__username",	"cc__username",		F_LIST },
	{ "cc",			"cc",			F_LIST },
	{ "sender",		"sender",		F_COPY },
	{ "title",		"title",		F_COPY },
	{ "content",		"content",		F_COPY },
	{ "body_format",	"body_format",		F_FORMAT },
	{ "is_content_base64",	"is_content_base64",	F_COPY },
	{ "attachments",	"attachments",		F_COPY },
	{ NULL, NULL, F_COPY }
};

static const struct v1_field sms_f[] = {
	{ "receiver",		"receiver",		F_PHONES },
	{ "content",		"content",		F_COPY },
	{ "is_content_base64",	"is_content_base64",	F_COPY },
	{ NULL, NULL, F_COPY }
};

static const struct v1_field voice_f[] = {
	{ "receiver",		"user_list_information", F_PEOPLE },
	{ "auto_read_message",	"auto_read_message",	F_COPY },
	{ NULL, NULL, F_COPY }
};

/* message_data wins over ESB's data, which wins over ITSM's flat keys. */
static const struct v1_field weixin_f[] = {
	{ "receiver",		"receiver",		F_LIST },
	{ "title",		"data.heading",		F_COPY },
	{ "content",		"data.message",		F_COPY },
	{ "date",		"data.date",		F_COPY },
	{ "remark",		"data.remark",		F_COPY },
	{ "data",		"data",			F_MESSAGE },
	{ "message_data",	"data",			F_MESSAGE },
	{ NULL, NULL, F_COPY }
};

static const struct v1_field rtx_f[] = {
	{ "receiver",		"receiver",		F_LIST },
	{ "title",		"data.heading",		F_COPY },
	{ "content",		"data.message",		F_COPY },
	{ NULL, NULL, F_COPY }
};

/* MON's send_msg (bk-cmsi-v1 2.7): any channel by msg_type, robots too. */
static const struct v1_field msg_f[] = {
	{ "msg_type",		"msg_type",		F_COPY },
	{ "title",		"title",		F_COPY },
	{ "content",		"content",		F_COPY },
	{ "sender",		"sender",		F_COPY },
	{ "is_content_base64",	"is_content_base64",	F_COPY },
	{ "wecom_robot",	"wecom_robot",		F_COPY },
	{ NULL, NULL, F_COPY }
};

static const struct v1_op ops[] = {
	{ "channels", "v1/channels", "get_msg_type", V1_CHANNELS,
	    { NULL } },
	{ "channels/weixin/settings", "v1/weixin/settings", NULL,
	    V1_SETTINGS, { NULL } },
	{ "channels/weixin/token", "v1/weixin/token", NULL, V1_TOKEN,
	    { NULL } },
	{ "send_mail", "v1/send_mail", "send_mail", V1_SEND,
	    { users_f, mail_f, named_f } },
	{ "send_sms", "v1/send_sms", "send_sms", V1_SEND,
	    { users_f, sms_f, named_f } },
	{ "send_weixin", "v1/send_weixin", "send_weixin", V1_SEND,
	    { users_f, weixin_f, named_f } },
	{ "send_voice", "v1/send_voice", "send_voice_msg", V1_SEND,
	    { users_f, voice_f, named_f } },
	{ "send_rtx", "v1/send_rtx", "send_weixin", V1_RTX,
	    { users_f, rtx_f, named_f } },
	{ "send_msg", "v1/send_msg", "send_msg", V1_SEND,
	    { users_f, msg_f, named_f } },
	{ NULL, NULL, NULL, V1_SEND, { NULL } }
};

/* The length of a list that may be missing. */
static size_t
alen(json_object *o)
{
	return json_object_is_type(o, json_type_array) ?
	    json_object_array_length(o) : 0;
}

/* Whether the n bytes at s are one gateway or stage name. */
static int
token(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n >= LIM_NAME)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) ==
		    NULL)
			return 0;
	return 1;
}

/*
 * Where the operation starts in path, or NULL when path is not of the
 * dialect: /v1/<op>, /<stage>/v1/<op> (the gateway stripped its own
 * prefix) or /api/<gateway>/<stage>/v1/<op> (called directly), with
 * doubled slashes forgiven as ESB's paths forgive them.  Never under
 * ESB's own mount (/api/c/compapi/v1/...): a web server that mounts
 * only the ESB paths must not expose the v1 settings and token.
 */
static const char *
v1_rest(const char *path)
{
	const char	*p = path, *seg[4];
	size_t		 len[4], n = 0, k;

	while (n < 4) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		seg[n] = p;
		len[n] = strcspn(p, "/");
		p += len[n];
		n++;
	}
	for (k = 0; k < n; k++)
		if (len[k] == 2 && strncmp(seg[k], "v1", 2) == 0)
			break;
	if (k == n)
		return NULL;
	if (k == 3 && len[1] == 1 && seg[1][0] == 'c' && len[2] == 7 &&
	    strncmp(seg[2], "compapi", 7) == 0)
		return NULL;
	if ((k == 1 && token(seg[0], len[0])) || k == 0 ||
	    (k == 3 && len[0] == 3 && strncmp(seg[0], "api", 3) == 0 &&
	    token(seg[1], len[1]) && token(seg[2], len[2])))
		return seg[k] + 2;
	return NULL;
}

/* Whether path belongs to the dialect (known operation or not). */
int
v1_match(const char *path)
{
	return v1_rest(path) != NULL;
}

/* Whether p names want, segment by segment, trailing slash optional. */
static int
same_path(const char *p, const char *want)
{
	size_t	 n;

	for (;;) {
		while (*p == '/')
			p++;
		n = strcspn(want, "/");
		if (strncmp(p, want, n) != 0 || (p[n] != '/' && p[n] != '\0'))
			return 0;
		p += n;
		want += n;
		if (*want == '\0') {
			while (*p == '/')
				p++;
			return *p == '\0';
		}
		want++;
	}
}

/*
 * The operation for a method and a path, or NULL.  GET and POST serve
 * every operation, as ESB's paths do: MON reads the channels with GET
 * and its query, the rest POST JSON.
 */
const struct v1_op *
v1_find(const char *method, const char *path)
{
	const struct v1_op	*op;
	const char		*rest;

	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		return NULL;
	if ((rest = v1_rest(path)) == NULL)
		return NULL;
	for (op = ops; op->path != NULL; op++)
		if (same_path(rest, op->path))
			return op;
	return NULL;
}

/*
 * One receiver into out: blanks trimmed; a phone number also loses the
 * blanks and dashes inside ("+86 138-0000-0000" is "+8613800000000").
 */
static void
list_add(json_object *out, const char *s, size_t n, int phones)
{
	char	*b;
	size_t	 i, o = 0;

	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return;
	b = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		if (!phones || (!isspace((unsigned char)s[i]) && s[i] != '-'))
			b[o++] = s[i];
	json_object_array_add(out, json_object_new_string_len(b, (int)o));
	free(b);
}

/*
 * A receiver field as a list of strings: a JSON list (numbers become
 * text), a JSON list in a string, or a string split on commas,
 * semicolons and line ends, and on blanks too unless it holds phone
 * numbers.  Returns a new array.
 */
static json_object *
v1_list(json_object *v, int phones)
{
	json_object	*out, *el, *t, *parsed;
	const char	*s, *seps = phones ? ",;\r\n" : ",;\r\n \t";
	size_t		 i, n;

	out = json_object_new_array();
	if (json_object_is_type(v, json_type_array)) {
		for (i = 0; i < json_object_array_length(v); i++) {
			el = json_object_array_get_idx(v, i);
			if (json_object_is_type(el, json_type_object) ||
			    json_object_is_type(el, json_type_array) ||
			    (t = req_text(el)) == NULL)
				continue;
			list_add(out, json_object_get_string(t),
			    (size_t)json_object_get_string_len(t), phones);
			json_object_put(t);
		}
		return out;
	}
	if (json_object_is_type(v, json_type_object) ||
	    (t = req_text(v)) == NULL)
		return out;
	s = json_object_get_string(t);
	n = strspn(s, " \t\r\n");
	parsed = s[n] == '[' ? jv_parse(s,
	    (size_t)json_object_get_string_len(t)) : NULL;
	if (json_object_is_type(parsed, json_type_array)) {
		json_object_put(out);
		out = v1_list(parsed, phones);
	} else
		for (; *s != '\0'; s += n + (s[n] != '\0')) {
			n = strcspn(s, seps);
			list_add(out, s, n, phones);
		}
	json_object_put(parsed);
	json_object_put(t);
	return out;
}

/* Phone numbers as send_voice_msg's people, each named by its number. */
static json_object *
v1_people(json_object *v)
{
	json_object	*phones, *out, *p;
	size_t		 i;

	phones = v1_list(v, 1);
	out = json_object_new_array();
	for (i = 0; i < json_object_array_length(phones); i++) {
		p = json_object_new_object();
		json_object_object_add(p, "username", json_object_get(
		    json_object_array_get_idx(phones, i)));
		json_object_object_add(p, "mobile_phone", json_object_get(
		    json_object_array_get_idx(phones, i)));
		json_object_array_add(out, p);
	}
	json_object_put(phones);
	return out;
}

/* MON says "Html", CI "HTML": ESB knows "Html" and "Text". */
static json_object *
v1_format(json_object *v)
{
	const char	*s = json_object_get_string(v);

	if (json_object_is_type(v, json_type_string) && str_eqi(s, "text"))
		return json_object_new_string("Text");
	if (json_object_is_type(v, json_type_string) && str_eqi(s, "html"))
		return json_object_new_string("Html");
	return json_object_get(v);
}

/*
 * A WeChat message as send_weixin's data: its own keys only, from an
 * object or from a string holding one.  NULL when it is neither.
 */
static json_object *
v1_message(json_object *v)
{
	static const char *const keys[] = { "heading", "message", "date",
	    "remark", "is_message_base64", NULL };
	json_object	*obj = NULL, *out = NULL, *e;
	size_t		 i;

	if (json_object_is_type(v, json_type_string))
		obj = jv_parse(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	else
		obj = json_object_get(v);
	if (!json_object_is_type(obj, json_type_object))
		goto out;
	out = json_object_new_object();
	for (i = 0; keys[i] != NULL; i++)
		if (json_object_object_get_ex(obj, keys[i], &e) && e != NULL)
			json_object_object_add(out, keys[i],
			    json_object_get(e));
out:
	json_object_put(obj);
	return out;
}

/* Sets key to (owned) v in out; "data.x" is x inside out's data. */
static void
v1_put(json_object *out, const char *key, json_object *v)
{
	json_object	*d;

	if (strncmp(key, "data.", 5) != 0) {
		json_object_object_add(out, key, v);
		return;
	}
	if (!json_object_object_get_ex(out, "data", &d) ||
	    !json_object_is_type(d, json_type_object)) {
		d = json_object_new_object();
		json_object_object_add(out, "data", d);
	}
	json_object_object_add(d, key + 5, v);
}

/*
 * The ESB parameters of op's component from a v1 body: receivers as
 * lists, aliases folded, WeChat messages under data, and every key the
 * dialect does not define left behind (bk_username, msg_type,
 * email_type, wx_qy_*...).  Returns a new object.
 */
json_object *
v1_map(const struct v1_op *op, json_object *body)
{
	const struct v1_field	*f;
	json_object		*out, *v, *nv, *d;
	size_t			 g;

	out = json_object_new_object();
	for (g = 0; g < 3 && op->fields[g] != NULL; g++)
		for (f = op->fields[g]; f->from != NULL; f++) {
			if (!json_object_object_get_ex(body, f->from, &v) ||
			    v == NULL)
				continue;
			switch (f->how) {
			case F_LIST:
			case F_PHONES:
				nv = v1_list(v, f->how == F_PHONES);
				break;
			case F_PEOPLE:
				nv = v1_people(v);
				break;
			case F_FORMAT:
				nv = v1_format(v);
				break;
			case F_MESSAGE:
				nv = v1_message(v);
				break;
			default:
				nv = json_object_get(v);
				break;
			}
			if (nv != NULL)
				v1_put(out, f->to, nv);
		}
	if (json_object_object_get_ex(out, "data", &d) &&
	    json_object_is_type(d, json_type_object) &&
	    req_empty(json_object_object_get(d, "heading")) &&
	    !json_object_object_get_ex(out, "template", NULL))
		json_object_object_add(d, "heading",
		    json_object_new_string(DEFAULT_HEADING));
	return out;
}

/* How many receivers a send names, by the field the component uses. */
size_t
v1_asked(json_object *params)
{
	static const char *const keys[] = { "receiver",
	    "user_list_information", "receiver__username", NULL };
	size_t		 i, n;

	for (i = 0; keys[i] != NULL; i++)
		if ((n = alen(json_object_object_get(params, keys[i]))) > 0)
			return n;
	return 0;
}

static int
said(const char *msg, const char *prefix)
{
	return strncmp(msg, prefix, strlen(prefix)) == 0;
}

/*
 * The HTTP status and the new standard's error code (JOB's
 * BkErrorCodeEnum) for how far a request got and how it ended; NULL
 * code for a 200.  A partial failure is a 200: it delivered.
 */
static const char *
v1_status(enum v1_stage stage, const struct reply *rp, int result,
    const char *msg, int *st)
{
	*st = 200;
	switch (stage) {
	case V1_NOTFOUND:
		*st = 404;
		return "NOT_FOUND";
	case V1_AUTH:
		*st = 401;
		return "UNAUTHENTICATED";
	case V1_DENIED:
		*st = 403;
		return "NO_PERMISSION";
	case V1_PARAMS:
		*st = 400;
		return "INVALID_ARGUMENT";
	default:
		break;
	}
	if (result || (said(msg, SAID_SOME) && alen(rp->audit) > 0))
		return NULL;
	if (said(msg, RATE_SAID)) {
		*st = 429;
		return "RATELIMIT_EXCEED";
	}
	if (said(msg, SAID_NODIR)) {
		*st = 503;
		return "UNAVAILABLE";
	}
	if (said(msg, SAID_UNFIN)) {
		*st = 501;
		return "NOT_IMPLEMENTED";
	}
	if (rp->code == CODE_INACTIVE) {
		*st = 404;
		return "NOT_FOUND";
	}
	/* Refused before anything was sent: the receivers were wrong. */
	if (rp->audit == NULL) {
		*st = 400;
		return "INVALID_ARGUMENT";
	}
	*st = 500;
	return "INTERNAL";
}

/*
 * Per-receiver reasons, keyed by username: the directory's unknown
 * names (username_check.invalid) and the names the contract's message
 * lists as having no usable contact.
 */
static json_object *
v1_details(json_object *esb, const char *msg)
{
	json_object	*out, *uc, *inv;
	const char	*p;
	size_t		 i, n, end;

	out = json_object_new_object();
	if (!json_object_object_get_ex(esb, "username_check", &uc))
		return out;
	if (json_object_object_get_ex(uc, "invalid", &inv) &&
	    json_object_is_type(inv, json_type_array))
		for (i = 0; i < json_object_array_length(inv); i++)
			json_object_object_add(out, json_object_get_string(
			    json_object_array_get_idx(inv, i)),
			    json_object_new_string("not a BlueKing user"));
	if ((p = strstr(msg, SAID_BADFMT)) == NULL)
		return out;
	p += strlen(SAID_BADFMT);
	end = strcspn(p, ";");
	while (end > 0) {
		n = strcspn(p, ",;");
		if (n > end)
			n = end;
		if (n > 0 && n < LIM_MESSAGE) {
			char	 name[LIM_MESSAGE];

			memcpy(name, p, n);
			name[n] = '\0';
			json_object_object_add(out, name,
			    json_object_new_string("no usable contact"));
		}
		p += n;
		end -= n;
		if (end > 0) {
			p++;
			end--;
		}
	}
	return out;
}

/*
 * The v1 payload of a send (CI, HCM: summary, message, details) over
 * whatever the component answered in data (username_check, voice's
 * lists), so both kinds of reader find theirs.  Returns a new object.
 */
static json_object *
v1_summary(json_object *esb, int result, int st, const struct reply *rp,
    size_t asked, const char *msg)
{
	json_object	*d, *sum, *q;
	size_t		 ok = 0;

	d = json_object_new_object();
	if (json_object_is_type(esb, json_type_object)) {
		json_object_object_foreach(esb, k, v)
			json_object_object_add(d, k, json_object_get(v));
	}
	if (result)
		ok = asked;
	else if (st == 200) {
		ok = alen(rp->audit);
		if (ok > asked)
			ok = asked;
	}
	sum = json_object_new_object();
	json_object_object_add(sum, "total", json_object_new_int64(
	    (int64_t)asked));
	json_object_object_add(sum, "succeeded", json_object_new_int64(
	    (int64_t)ok));
	json_object_object_add(sum, "failed", json_object_new_int64(
	    (int64_t)(asked - ok)));
	/* Spooled receivers (spool.c) are accepted but not yet sent. */
	if (json_object_is_type(esb, json_type_object) &&
	    json_object_object_get_ex(esb, "queued", &q) &&
	    json_object_is_type(q, json_type_array))
		json_object_object_add(sum, "queued", json_object_new_int64(
		    (int64_t)json_object_array_length(q)));
	json_object_object_add(d, "summary", sum);
	json_object_object_add(d, "message", json_object_new_string(
	    result ? "" : msg));
	json_object_object_add(d, "details", result ?
	    json_object_new_object() : v1_details(esb, msg));
	return d;
}

/* Channel items carry JOB's name/enabled and ITSM's label/is_active. */
static void
v1_items(json_object *list)
{
	json_object	*it, *v;
	size_t		 i;

	for (i = 0; i < alen(list); i++) {
		it = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(it, "label", &v))
			json_object_object_add(it, "name", json_object_get(v));
		if (json_object_object_get_ex(it, "is_active", &v))
			json_object_object_add(it, "enabled",
			    json_object_get(v));
	}
}

/*
 * The v1 document for the reply of a request that got to stage, built
 * on the ESB envelope of the same reply: *status gets the HTTP status.
 * asked is the number of receivers a send named.  Caller puts.
 */
json_object *
v1_doc(const struct v1_op *op, enum v1_stage stage, const struct reply *rp,
    size_t asked, const char *request_id, int *status)
{
	json_object	*doc, *v, *data, *err;
	const char	*code, *msg;
	int		 result;

	doc = reply_doc(rp, request_id);
	json_object_object_get_ex(doc, "result", &v);
	result = json_object_get_boolean(v);
	msg = json_object_get_string(json_object_object_get(doc, "message"));
	if (msg == NULL)
		msg = "";
	code = v1_status(stage, rp, result, msg, status);
	json_object_object_get_ex(doc, "data", &data);
	if (op != NULL && stage == V1_RUN &&
	    (op->kind == V1_SEND || op->kind == V1_RTX)) {
		data = v1_summary(data, result, *status, rp, asked, msg);
		json_object_object_add(doc, "data", data);
	} else if (op != NULL && op->kind == V1_CHANNELS && result) {
		/* reply_doc shares rp's data: the items change on a copy. */
		v = NULL;
		json_object_deep_copy(data, &v, NULL);
		json_object_object_add(doc, "data", v);
		v1_items(v);
		data = v;
	}
	if (code == NULL)
		return doc;
	err = json_object_new_object();
	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(msg));
	json_object_object_add(err, "data", json_object_get(data));
	json_object_object_add(err, "details", json_object_new_array());
	json_object_object_add(doc, "error", err);
	return doc;
}

/*
 * Behind BlueKing's API gateway the caller is the one its X-Bkapi-Jwt
 * names (the gateway has stripped the credentials): with the gateway's
 * key configured, a token must verify and name a verified app.  The app
 * need not be in "apps" then; it only has no permissions.
 */
static int
v1_jwt(const struct conf *c, const char *token, struct ident *id,
    struct reply *rp)
{
	struct jwt_claims	 cl;
	char			 why[128];

	memset(id, 0, sizeof(*id));
	if (jwt_verify(c->jwt_key, c->jwt_kid, token, time(NULL), &cl, why,
	    sizeof(why)) == -1) {
		reply_fail(rp, CODE_COMMON, "API gateway token [X-Bkapi-Jwt] "
		    "is not valid: %s", why);
		return -1;
	}
	if (!cl.app_verified || cl.app_code[0] == '\0') {
		reply_fail(rp, CODE_COMMON, "API gateway token [X-Bkapi-Jwt] "
		    "names no verified app");
		return -1;
	}
	(void)str_copy(id->app_code, cl.app_code, sizeof(id->app_code));
	id->app = conf_app(c, cl.app_code);
	if (cl.user_verified)
		(void)str_copy(id->username, cl.username, sizeof(id->username));
	return 0;
}

/*
 * Called directly, the app must prove itself exactly as auth_check
 * demands; the user is optional, as the gateway's bk-cmsi resources ask
 * for none (USER, APIGW, PAAS and CI send the app pair alone).  A user
 * who does not verify is dropped, not refused.  Returns 0, or -1 with
 * rp set.
 */
static int
v1_auth(const struct conf *c, const struct req *r, json_object *creds,
    struct ident *id, struct reply *rp)
{
	const char	*token = req_env(r, "HTTP_X_BKAPI_JWT");

	if (c->jwt_key != NULL && token != NULL)
		return v1_jwt(c, token, id, rp);
	if (auth_check(c, r, creds, id, rp) == 0)
		return 0;
	/* auth_check names the app only once it has verified it. */
	if (id->app == NULL)
		return -1;
	id->username[0] = '\0';
	reply_free(rp);
	reply_init(rp);
	return 0;
}

/*
 * USER's sender is a display name ("蓝鲸智云"), which alone is no From:
 * it fronts the tenant's own mail_sender address, and without one it
 * gives way to send_mail's default.
 */
static void
v1_sender(json_object *params, const struct conf *c)
{
	const char	*name = jv_string(params, "sender"), *own;
	char		*addr, *v;
	size_t		 n;

	if (*name == '\0' || strchr(name, '@') != NULL)
		return;
	own = conf_str(conf_comp(c, "send_mail"), "mail_sender");
	if (*own == '\0') {
		json_object_object_del(params, "sender");
		return;
	}
	addr = mime_addr(own);
	n = strlen(name) + strlen(addr) + 4;
	v = xmalloc(n);
	snprintf(v, n, "%s <%s>", name, addr);
	json_object_object_add(params, "sender", json_object_new_string(v));
	free(v);
	free(addr);
}

/*
 * The language of the labels: Blueking-Language, else the first tag
 * of Accept-Language (APIGW sends that); any English is "en".
 */
static const char *
v1_language(const struct req *r, char *buf, size_t bufsz)
{
	const char	*s;
	size_t		 n;

	if ((s = req_env(r, "HTTP_BLUEKING_LANGUAGE")) == NULL &&
	    (s = req_env(r, "HTTP_ACCEPT_LANGUAGE")) == NULL)
		return NULL;
	s += strspn(s, " ");
	n = strcspn(s, ",; ");
	if (n >= 2 && strncasecmp(s, "en", 2) == 0)
		return "en";
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/*
 * send_rtx is a WeCom application message: the WeCom app of
 * send_qy_weixin when it is configured, else send_weixin's when that
 * is WeCom.  NULL when neither is; *comp names the component whose
 * section it is.
 */
static json_object *
v1_rtx_section(const struct conf *c, const char **comp)
{
	json_object	*sec;

	*comp = "send_qy_weixin";
	if ((sec = conf_comp(c, *comp)) != NULL)
		return sec;
	*comp = "send_weixin";
	sec = conf_comp(c, *comp);
	if (sec != NULL && strcmp(conf_str(sec, "wx_type"), "mp") != 0)
		return sec;
	return NULL;
}

/*
 * The channel list gains "rtx", switched on by get_msg_type's "rtx"
 * and only when its WeCom app can deliver, as for the other types.
 */
static void
v1_rtx_item(const struct ctx *cx, struct reply *rp)
{
	json_object	*sec, *it, *w, *icon = NULL;
	const char	*comp;
	size_t		 i;
	int		 on;

	if (!json_object_is_type(rp->data, json_type_array))
		return;
	for (i = 0; i < alen(rp->data); i++) {
		w = json_object_array_get_idx(rp->data, i);
		if (strcmp(jv_string(w, "type"), "weixin") == 0)
			json_object_object_get_ex(w, "icon", &icon);
	}
	sec = v1_rtx_section(cx->conf, &comp);
	on = conf_bool(cx->section, "rtx") && comp_mode(sec,
	    comp_upstream(comp, sec)) != MODE_NONE;
	it = json_object_new_object();
	json_object_object_add(it, "type", json_object_new_string("rtx"));
	json_object_object_add(it, "label", json_object_new_string(
	    cx->language == NULL || strcmp(cx->language, "en") == 0 ? "rtx" :
	    "企业微信"));
	json_object_object_add(it, "is_active", json_object_new_boolean(on));
	json_object_object_add(it, "icon", icon != NULL ?
	    json_object_get(icon) : json_object_new_string(""));
	json_object_array_add(rp->data, it);
}

/*
 * channels/weixin/settings (USER's get_weixin_settings): the tenant's
 * send_weixin section under bk-cmsi's names, secrets included, which is
 * why only apps with weixin_settings reach here.
 */
static void
v1_settings(const struct conf *c, struct reply *rp)
{
	static const char *const names[][2] = {
		{ "wx_type", "wx_type" },
		{ "agent_id", "wx_qy_agentid" },
		{ "corp_id", "wx_qy_corpid" },
		{ "corp_secret", "wx_qy_corpsecret" },
		{ "to_user", NULL },
		{ "wx_app_id", "wx_app_id" },
		{ "wx_secret", "wx_secret" },
		{ "wx_template_id", "wx_template_id" },
		{ "wx_token", "wx_token" },
		{ "custom_channel_url", NULL },
	};
	json_object	*sec, *d;
	const char	*s;
	size_t		 i;

	sec = conf_comp(c, "send_weixin");
	d = json_object_new_object();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		s = names[i][1] != NULL ? conf_str(sec, names[i][1]) : "";
		/* send_weixin's own default, so USER sees what we send by. */
		if (i == 0 && sec != NULL && *s == '\0')
			s = "qy";
		json_object_object_add(d, names[i][0],
		    json_object_new_string(s));
	}
	reply_ok(rp, "OK");
	reply_data(rp, d);
}

/*
 * channels/weixin/token (USER's get_weixin_token): the access token of
 * the tenant's send_weixin app from the store all workers share, so
 * handing it out costs no extra gettoken.  Only apps with
 * weixin_settings reach here.
 */
static void
v1_token(const struct conf *c, const struct req *r, struct reply *rp)
{
	struct ctx	 cx;
	struct wecom_app qy;
	struct wxmp_app	 mp;
	json_object	*d;
	char		 tok[LIM_TOKEN + 1];
	long		 left = 0;
	int		 rc;

	memset(&cx, 0, sizeof(cx));
	cx.conf = c;
	cx.component = "send_weixin";
	cx.section = conf_comp(c, "send_weixin");
	cx.request_id = r->id;
	if (comp_mode(cx.section, comp_upstream(cx.component, cx.section)) !=
	    MODE_UPSTREAM) {
		comp_unfinished(rp);
		return;
	}
	if (strcmp(conf_str(cx.section, "wx_type"), "mp") == 0)
		rc = wxmp_app(cx.section, &mp, rp) == -1 ? -1 :
		    wxmp_token(&cx, &mp, tok, sizeof(tok), &left, rp);
	else
		rc = wecom_app(cx.section, NULL, &qy, rp) == -1 ? -1 :
		    wecom_token(&cx, &qy, tok, sizeof(tok), &left, rp);
	if (rc == -1)
		return;
	d = json_object_new_object();
	json_object_object_add(d, "access_token", json_object_new_string(tok));
	json_object_object_add(d, "expires_in", json_object_new_int64(left));
	explicit_bzero(tok, sizeof(tok));
	reply_ok(rp, "OK");
	reply_data(rp, d);
}

/* Writes doc with status. */
static void
v1_write(FCGX_Stream *out, json_object *doc, int status)
{
	struct reply	 w;

	reply_init(&w);
	w.status = status;
	w.raw = xstrdup(json_object_to_json_string_ext(doc,
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	w.raw_type = "application/json; charset=utf-8";
	env_write(out, &w, NULL);
	reply_free(&w);
}

/*
 * Serves one request on a path of the dialect, always answering: the
 * operation, the credentials (auth_check), the tenant's configuration,
 * the body mapped onto the component's ESB parameters (named_apply,
 * check_params), the component (route_run), the v1 document.  Returns
 * the name for the log line; rp and id keep the outcome for it.
 */
const char *
v1_serve(const struct conf *conf, FCGX_Request *fr, struct req *r,
    struct ident *id, struct reply *rp)
{
	const struct v1_op	*op;
	const struct route	*rt;
	const struct conf	*tc;
	const char		*tenant, *comp;
	struct ctx		 cx;
	enum v1_stage		 stage = V1_NOTFOUND;
	json_object		*creds = NULL, *mapped = NULL, *params = NULL;
	json_object		*doc;
	char			 lang[16];
	size_t			 asked = 0;
	int			 status;

	if ((op = v1_find(r->method, r->path)) == NULL) {
		reply_fail(rp, CODE_NOT_FOUND_COMP, "The content does not "
		    "exist");
		goto answer;
	}
	stage = V1_AUTH;
	req_parse(r);
	if ((creds = auth_creds(r, rp)) == NULL)
		goto answer;
	if (r->bad_json) {
		stage = V1_PARAMS;
		reply_fail(rp, CODE_COMMON, "Request JSON string is wrong in "
		    "format, which cannot be analyzed.");
		goto answer;
	}
	if (v1_auth(conf, r, creds, id, rp) == -1)
		goto answer;
	stage = V1_PARAMS;
	tenant = req_env(r, "HTTP_X_BK_TENANT_ID");
	if ((tc = conf_tenant(conf, tenant)) == NULL) {
		reply_fail(rp, CODE_ARGUMENT, "Tenant [X-Bk-Tenant-Id=%.64s] "
		    "is not served here", tenant);
		goto answer;
	}
	if (!conf_app_tenant(conf, id->app, tenant)) {
		stage = V1_DENIED;
		reply_fail(rp, CODE_APP_PERM, "APP [bk_app_code=%s] may not "
		    "act in tenant [X-Bk-Tenant-Id=%.64s]", id->app_code,
		    tenant);
		goto answer;
	}
	if (op->kind == V1_SETTINGS || op->kind == V1_TOKEN) {
		if (id->app == NULL || !id->app->weixin_settings) {
			stage = V1_DENIED;
			reply_fail(rp, CODE_APP_PERM, "APP [bk_app_code=%s] "
			    "may not read the WeChat settings", id->app_code);
			goto answer;
		}
		stage = V1_RUN;
		if (op->kind == V1_SETTINGS)
			v1_settings(tc, rp);
		else
			v1_token(tc, r, rp);
		goto answer;
	}
	rt = route_by_name(op->component);
	mapped = v1_map(op, r->params);
	v1_sender(mapped, tc);
	if (rt == NULL || named_apply(rt->name, mapped, rp) == -1 ||
	    check_params(rt->name, mapped, &params, rp) == -1)
		goto answer;
	asked = v1_asked(params);
	stage = V1_RUN;
	route_ctx(&cx, rt, tc, r, id);
	cx.params = params;
	cx.raw = mapped;
	cx.language = v1_language(r, lang, sizeof(lang));
	if (op->kind == V1_RTX)
		cx.section = v1_rtx_section(tc, &comp);
	route_run(rt, &cx, rp);
	if (op->kind == V1_CHANNELS && rp->result)
		v1_rtx_item(&cx, rp);
answer:
	doc = v1_doc(op, stage, rp, asked, r->id, &status);
	v1_write(fr->out, doc, status);
	json_object_put(doc);
	json_object_put(params);
	json_object_put(mapped);
	json_object_put(creds);
	return op != NULL ? op->name : "v1";
}
