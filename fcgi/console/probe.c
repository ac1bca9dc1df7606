/*
 * The console's "does it work?" pages: Test send beside a component's
 * configuration, and the WeCom / Official Account tokens.
 *
 * A test message takes the very path of an API call: the component's
 * parameters are built from the form, named_apply and check_params
 * check them against the component's schema, route_run sends them
 * (template, rate limits, spool, upstream) and audits them, as app
 * "console" acting for the signed-in user.  The page shows the
 * upstream's own words per recipient, the time taken, and for a
 * failure what to check (cops_hints, pure, unit-tested).
 *
 *	GET  test?c=NAME[&tenant=ID], POST test
 *	GET  tokens, POST tokens (refresh one now)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "check.h"
#include "core/conf.h"
#include "custom.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/request.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "named.h"
#include "page.h"
#include "route.h"
#include "state/redis.h"
#include "state/store.h"
#include "up/wecom.h"
#include "up/wxmp.h"

#define COPS_APP	"console"	/* the app a test message is sent as */
#define COPS_TITLE	"CMSI console test"
#define COPS_RCPT_MAX	LIM_ADDR	/* the recipient field */
#define COPS_TEXT_MAX	1024		/* the text field */
#define COPS_HINTS	4		/* hints shown at most */

/* How a component takes a test message. */
struct cops_kind {
	const char	*name;		/* component */
	const char	*text;		/* parameter of the text, "data" */
	int		 title;		/* it needs a title */
	int		 addr;		/* '@' recipients are addresses */
	int		 phone;		/* digit recipients are numbers */
};

static const struct cops_kind kinds[] = {
	{ "send_mail",		"content",		1, 1, 0 },
	{ "send_sms",		"content",		0, 0, 1 },
	{ "send_voice_msg",	"auto_read_message",	0, 0, 1 },
	{ "send_qy_weixin",	"content",		0, 0, 0 },
	{ "send_weixin",	"data",			0, 0, 0 },
	{ "send_mp_weixin",	"data",			0, 0, 0 },
	{ NULL,			NULL,			0, 0, 0 }
};

/*
 * Known failures of the four upstreams, by words their replies carry,
 * and the strings.json key of what to check.  The first matches come
 * first; an unknown failure matches none and the page shows the raw
 * reply instead.
 */
static const struct {
	const char	*needle;
	const char	*key;
} hints[] = {
	{ "code=1306203",			"hint_cert" },
	{ "certificate",			"hint_cert" },
	{ "Requested SSL level failed",		"hint_starttls" },
	{ "STARTTLS",				"hint_starttls" },
	{ "SSL connect error",			"hint_ssl_port" },
	{ "wrong version number",		"hint_ssl_port" },
	{ "unexpected TLS packet",		"hint_ssl_port" },
	{ "Couldn't connect",			"hint_connect" },
	{ "Connection refused",			"hint_connect" },
	{ "Couldn't resolve",			"hint_resolve" },
	{ "Timeout",				"hint_timeout" },
	{ "timed out",				"hint_timeout" },
	{ "response time exceeds",		"hint_timeout" },
	{ "Login denied",			"hint_smtp_auth" },
	{ "\"code\":535",			"hint_smtp_auth" },
	{ "\"code\":530",			"hint_smtp_auth" },
	{ "\"code\":550",			"hint_mailbox" },
	{ "\"code\":551",			"hint_mailbox" },
	{ "\"code\":553",			"hint_mailbox" },
	{ "\"code\":554",			"hint_mailbox" },
	{ "60020",				"hint_wecom_ip" },
	{ "not allow to access from your ip",	"hint_wecom_ip" },
	{ "40164",				"hint_mp_ip" },
	{ "not in whitelist",			"hint_mp_ip" },
	{ "invalid credential",			"hint_wx_secret" },
	{ "invalid corpid",			"hint_wx_secret" },
	{ "invalid appsecret",			"hint_wx_secret" },
	{ "invalid appid",			"hint_wx_secret" },
	{ "40001",				"hint_wx_secret" },
	{ "40013",				"hint_wx_secret" },
	{ "40125",				"hint_wx_secret" },
	{ "41004",				"hint_wx_secret" },
	{ "invalid user",			"hint_wx_user" },
	{ "81013",				"hint_wx_user" },
	{ "40003",				"hint_mp_openid" },
	{ "invalid openid",			"hint_mp_openid" },
	{ "43004",				"hint_mp_openid" },
	{ "40037",				"hint_mp_template" },
	{ "invalid template_id",		"hint_mp_template" },
	{ "TemplateIncorrectOrUnapproved",	"hint_tc_template" },
	{ "TemplateParamSetNotMatch",		"hint_tc_template" },
	{ "SignatureIncorrectOrUnapproved",	"hint_tc_sign" },
	{ "AuthFailure",			"hint_tc_auth" },
	{ "IncorrectPhoneNumber",		"hint_tc_phone" },
	{ "LimitExceeded",			"hint_tc_limit" },
	{ "inactive channel",			"hint_disabled" },
	{ "Unfinished interface",		"hint_unconfigured" },
	{ "is required",			"hint_unconfigured" },
	{ "not found in",			"hint_user" },
	{ "no such user",			"hint_user" },
	{ "Too many requests",			"hint_rate" },
	{ "Rate limit exceeded",		"hint_rate" },
	{ "rate-limiting",			"hint_rate" },
	{ "sign not match",			"hint_robot_sign" },
	{ "sign match fail",			"hint_robot_sign" },
	{ "keyword not in the message",		"hint_robot_keyword" },
	{ "access_token is not valid",		"hint_robot_token" },
	{ "webhook key is not valid",		"hint_robot_token" },
	{ "hook is not valid",			"hint_robot_token" },
	{ NULL,					NULL }
};

/*
 * The hint keys whose words occur in text (a failure's message and
 * data), each once, at most max of them into keys.  Pure.  Returns how
 * many.
 */
size_t
cops_hints(const char *text, const char **keys, size_t max)
{
	size_t	 i, j, n = 0;

	for (i = 0; hints[i].needle != NULL && n < max; i++) {
		if (strstr(text, hints[i].needle) == NULL)
			continue;
		for (j = 0; j < n && strcmp(keys[j], hints[i].key) != 0; j++)
			;
		if (j == n)
			keys[n++] = hints[i].key;
	}
	return n;
}

/*
 * The test kind of component name; a custom component (custom.c) takes
 * a title and content, its receiver the one it mentions, in *own.
 */
static const struct cops_kind *
kind_of(const char *name, struct cops_kind *own)
{
	const struct cops_kind	*k;

	for (k = kinds; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	if (custom_route(name) == NULL)
		return NULL;
	own->name = custom_route(name)->name;
	own->text = "content";
	own->title = 1;
	own->addr = 0;
	own->phone = 0;
	return own;
}

static void
add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/* A tenant id goes into links: the token conf.c allows, or "". */
static int
tenant_ok(const char *t)
{
	return strlen(t) < LIM_NAME && strspn(t, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == strlen(t);
}

/*
 * The component's ESB parameters for a test: the recipient where an
 * API caller would put it (an address, a number, else a username) and
 * the text.  Returns them (caller puts).
 */
static json_object *
test_params(const struct cops_kind *k, const char *rcpt, const char *text)
{
	json_object	*p, *d, *u, *a;
	int		 isaddr = strchr(rcpt, '@') != NULL;
	int		 isphone = *rcpt != '\0' &&
			    strspn(rcpt, "+0123456789 -") == strlen(rcpt);

	p = json_object_new_object();
	if (strcmp(k->name, "send_voice_msg") == 0 && isphone) {
		a = json_object_new_array();
		u = json_object_new_object();
		add_str(u, "mobile_phone", rcpt);
		json_object_array_add(a, u);
		json_object_object_add(p, "user_list_information", a);
	} else if ((k->addr && !isaddr) || (k->phone && !isphone) ||
	    strcmp(k->name, "send_voice_msg") == 0)
		add_str(p, "receiver__username", rcpt);
	else
		add_str(p, "receiver", rcpt);
	if (k->title)
		add_str(p, "title", COPS_TITLE);
	if (strcmp(k->text, "data") == 0) {
		d = json_object_new_object();
		add_str(d, "heading", COPS_TITLE);
		add_str(d, "message", text);
		json_object_object_add(p, "data", d);
	} else
		add_str(p, k->text, text);
	return p;
}

/* What one recipient's entry says, but its name: "code=550 ...". */
static void
words_of(json_object *e, char *out, size_t outsz)
{
	size_t	 len = 0;
	int	 n;

	out[0] = '\0';
	if (!json_object_is_type(e, json_type_object))
		return;
	json_object_object_foreach(e, key, v) {
		if (strcmp(key, "receiver") == 0 || strcmp(key, "mobile") == 0 ||
		    strcmp(key, "openid") == 0 || v == NULL)
			continue;
		n = snprintf(out + len, outsz - len, "%s%s=%s", len > 0 ?
		    " " : "", key, json_object_is_type(v, json_type_string) ?
		    json_object_get_string(v) :
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		if (n < 0 || (size_t)n >= outsz - len)
			break;
		len += (size_t)n;
	}
}

static const char *
who_of(json_object *e)
{
	static const char *const keys[] = { "receiver", "mobile", "openid",
	    "username", NULL };
	json_object	*v;
	size_t		 i;

	if (!json_object_is_type(e, json_type_object))
		return json_object_get_string(e);
	for (i = 0; keys[i] != NULL; i++)
		if (json_object_object_get_ex(e, keys[i], &v) && v != NULL)
			return json_object_get_string(v);
	return "";
}

/*
 * An API message in the page's language: strings.json "upstream" maps
 * the start of the contract's English wording; the English follows in
 * brackets, since it is what logs and BlueKing's documents say.  Into
 * out; the message as it is when nothing matches.
 */
static const char *
tr_message(struct console_rq *rq, const char *msg, char *out, size_t outsz)
{
	json_object	*m;
	size_t		 n;

	if (rq->t == NULL || (m = jv_get(rq->t, "upstream")) == NULL ||
	    !json_object_is_type(m, json_type_object))
		return msg;
	json_object_object_foreach(m, en, v) {
		n = strlen(en);
		if (strncmp(msg, en, n) != 0 || !json_object_is_type(v,
		    json_type_string))
			continue;
		snprintf(out, outsz, "%s%s（%s）", json_object_get_string(v),
		    msg + n, msg);
		return out;
	}
	return msg;
}

/* The hints of text as {"text": ...} objects for the template. */
static json_object *
hint_list(struct console_rq *rq, const char *text)
{
	const char	*keys[COPS_HINTS];
	json_object	*a, *h;
	size_t		 i, n;

	a = json_object_new_array();
	n = cops_hints(text, keys, COPS_HINTS);
	for (i = 0; i < n; i++) {
		h = json_object_new_object();
		add_str(h, "text", page_str(rq, keys[i]));
		json_object_array_add(a, h);
	}
	return a;
}

/* Whether the hints of a and of b are the same ones. */
static int
same_hints(const char *a, const char *b)
{
	const char	*ka[COPS_HINTS], *kb[COPS_HINTS];
	size_t		 na, nb, i;

	na = cops_hints(a, ka, COPS_HINTS);
	nb = cops_hints(b, kb, COPS_HINTS);
	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(ka[i], kb[i]) != 0)
			return 0;
	return 1;
}

/*
 * The per-recipient rows: data's successed and failed (send_mail,
 * SMS, WeCom), else one row for the recipient with the whole outcome.
 */
static json_object *
result_rows(struct console_rq *rq, const struct reply *rp, const char *rcpt,
    const char *all)
{
	static const char *const lists[] = { "successed", "failed", NULL };
	json_object	*rows, *row, *arr, *e;
	char		 words[LIM_MESSAGE], hay[LIM_MESSAGE + 64];
	size_t		 i, j;

	rows = json_object_new_array();
	for (i = 0; rp->data != NULL && lists[i] != NULL; i++) {
		if (!json_object_object_get_ex(rp->data, lists[i], &arr) ||
		    !json_object_is_type(arr, json_type_array))
			continue;
		for (j = 0; j < json_object_array_length(arr); j++) {
			e = json_object_array_get_idx(arr, j);
			row = json_object_new_object();
			add_str(row, "who", who_of(e));
			words_of(e, words, sizeof(words));
			add_str(row, "words", words);
			json_object_object_add(row, "ok",
			    json_object_new_boolean(i == 0));
			/* Always set: else a row would show its parent's. */
			snprintf(hay, sizeof(hay), "%s %s",
			    json_object_to_json_string_ext(e,
			    JSON_C_TO_STRING_PLAIN), all);
			/*
			 * A row names its own hints only when they differ
			 * from the page's list below (one failed recipient
			 * among several); else the list says it once.
			 */
			json_object_object_add(row, "hints", i == 1 &&
			    !same_hints(hay, all) ? hint_list(rq, hay) :
			    json_object_new_array());
			json_object_array_add(rows, row);
		}
	}
	if (json_object_array_length(rows) > 0)
		return rows;
	row = json_object_new_object();
	add_str(row, "who", rcpt);
	add_str(row, "words", rp->message != NULL ? tr_message(rq,
	    rp->message, words, sizeof(words)) : "");
	json_object_object_add(row, "ok", json_object_new_boolean(
	    rp->result));
	/* The page's list says the hints of the whole outcome. */
	json_object_object_add(row, "hints", json_object_new_array());
	json_object_array_add(rows, row);
	return rows;
}

/*
 * Sends the test through the API's path and adds its outcome to ctx.
 * Refusals before the upstream (schema, switched off) are outcomes too.
 */
static void
test_run(struct console_rq *rq, const struct cops_kind *k,
    const struct conf *tc, const char *rcpt, const char *text,
    json_object *ctx)
{
	const struct route	*rt = route_by_name(k->name);
	struct reply		 rp;
	struct ident		 id;
	struct ctx		 cx;
	struct timespec		 t0, t1;
	json_object		*raw, *params = NULL, *res, *hl, *sec;
	char			*all = NULL;
	const char		*data, *first[1];
	char			 msg[LIM_MESSAGE * 2];
	size_t			 n;
	long			 ms;

	reply_init(&rp);
	memset(&id, 0, sizeof(id));
	(void)str_copy(id.app_code, COPS_APP, sizeof(id.app_code));
	(void)str_copy(id.username, rq->user, sizeof(id.username));
	raw = test_params(k, rcpt, text);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (rt != NULL && named_apply(rt->name, raw, &rp) == 0 &&
	    check_params(rt->name, raw, &params, &rp) == 0) {
		route_ctx(&cx, rt, tc, rq->r, &id);
		cx.params = params;
		cx.raw = raw;
		cx.language = rq->zh ? "zh-cn" : "en";
		route_run(rt, &cx, &rp);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	data = rp.data != NULL ? json_object_to_json_string_ext(rp.data,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "null";
	/* The words hints look for: code, message and data, capped. */
	n = strlen(data) + (rp.message != NULL ? strlen(rp.message) : 0) + 64;
	if (n > LIM_PAGE)
		n = LIM_PAGE;
	all = xmalloc(n);
	snprintf(all, n, "code=%ld %s %s", rp.code, rp.message != NULL ?
	    rp.message : "", data);
	res = json_object_new_object();
	/*
	 * Delivery "outbox" writes the message under state_dir and sends
	 * nothing: "Delivered" would mislead the operator.
	 */
	sec = conf_comp(tc, k->name);
	json_object_object_add(res, "outbox", json_object_new_boolean(
	    rp.result && strcmp(conf_str(sec, "delivery"), "outbox") == 0));
	add_str(res, "outbox_dir", tc->state_dir);
	json_object_object_add(res, "ok", json_object_new_boolean(rp.result));
	json_object_object_add(res, "code", json_object_new_int64(rp.code));
	add_str(res, "message", rp.message != NULL ? tr_message(rq,
	    rp.message, msg, sizeof(msg)) : "");
	json_object_object_add(res, "ms", json_object_new_int64(ms));
	add_str(res, "request_id", rq->r->id);
	json_object_object_add(res, "rows", result_rows(rq, &rp, rcpt, all));
	if (!rp.result) {
		hl = hint_list(rq, all);
		json_object_object_add(res, "has_hints",
		    json_object_new_boolean(json_object_array_length(hl) > 0));
		json_object_object_add(res, "hints", hl);
		json_object_object_add(res, "unknown", json_object_new_boolean(
		    cops_hints(all, first, 1) == 0));
	}
	json_object_object_add(res, "raw", json_object_new_string(
	    rp.data != NULL ? json_object_to_json_string_ext(rp.data,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) :
	    "null"));
	json_object_object_add(ctx, "result", res);
	log_info("console: %s test-sent %s%s%s: result=%s code=%ld ms=%ld",
	    rq->user, tc->tenant != NULL ? tc->tenant : "",
	    tc->tenant != NULL ? "/" : "", k->name,
	    rp.result ? "true" : "false", rp.code, ms);
	free(all);
	json_object_put(params);
	json_object_put(raw);
	reply_free(&rp);
}

/*
 * GET test?c=NAME[&tenant=ID]: the Test send tab of a component's Edit
 * page.  POST test (CSRF checked by console_serve): sends and shows.
 */
void
cops_test(struct console_rq *rq)
{
	const struct cops_kind	*k;
	const struct conf	*tc;
	const char		*name = page_param(rq, "c"), *tenant;
	const char		*rcpt = page_param(rq, "rcpt"), *text;
	struct cops_kind	 own;
	json_object		*ctx;
	int			 status = 200;

	tenant = page_param(rq, "tenant");
	text = page_param(rq, "text");
	if (route_by_name(name) == NULL) {
		page_text(rq, 404, "No such component.");
		return;
	}
	if (!tenant_ok(tenant) || (tc = conf_tenant(rq->conf, tenant)) ==
	    NULL) {
		page_text(rq, 404, "No such tenant.");
		return;
	}
	k = kind_of(name, &own);
	ctx = page_ctx(rq);
	add_str(ctx, "name", name);
	json_object_object_add(ctx, "custom", json_object_new_boolean(
	    custom_route(name) != NULL));
	add_str(ctx, "tenant", tenant);
	json_object_object_add(ctx, "testable", json_object_new_boolean(
	    k != NULL));
	add_str(ctx, "rcpt", rcpt);
	/* Voice calls a number: the field asks for one. */
	if (k != NULL && k->phone) {
		add_str(ctx, "rcpt_label", page_str(rq, "test_rcpt_phone"));
		add_str(ctx, "rcpt_hint", page_str(rq,
		    "test_rcpt_phone_hint"));
	} else {
		add_str(ctx, "rcpt_label", page_str(rq, "test_rcpt"));
		add_str(ctx, "rcpt_hint", page_str(rq, "test_rcpt_hint"));
	}
	add_str(ctx, "text", *text != '\0' || rq->form != NULL ? text :
	    page_str(rq, "test_text_default"));
	if (rq->form != NULL && k != NULL) {
		while (*rcpt == ' ')
			rcpt++;
		if (*rcpt == '\0' || strlen(rcpt) > COPS_RCPT_MAX ||
		    strlen(text) > COPS_TEXT_MAX || *text == '\0' ||
		    strpbrk(rcpt, ",;\r\n") != NULL) {
			/* One recipient, and a short text: a test, no more. */
			add_str(ctx, "problem", page_str(rq, "test_invalid"));
			status = 422;
		} else
			test_run(rq, k, tc, rcpt, text, ctx);
	}
	page_render(rq, status, "console/test", ctx);
}

/* The WeCom and Official Account apps of the config, for the tokens. */
struct cops_app {
	char		 where[LIM_NAME * 2];	/* "send_qy_weixin", "t/..." */
	const char	*kind;			/* borrowed literal: store kind */
	const char	*label;			/* borrowed literal */
	char		 id[LIM_NAME * 2];	/* corpid or appid */
	char		 ident[LIM_SECRET * 2 + 2]; /* id\nsecret: wiped */
};

#define COPS_APPS	16

/*
 * The apps whose tokens the store may hold: WeCom from send_qy_weixin
 * and send_weixin (wx_type qy), the Official Account from
 * send_mp_weixin and send_weixin (wx_type mp); the top level's and
 * each tenant's.  Duplicates (the same app twice) are listed once.
 */
static size_t
token_apps(const struct conf *top, struct cops_app *apps, size_t max)
{
	static const char *const comps[] = { "send_qy_weixin",
	    "send_weixin", "send_mp_weixin", NULL };
	const struct conf	*c;
	struct wecom_app	 wa;
	struct wxmp_app		 ma;
	struct reply		 rp;
	json_object		*sec;
	const char		*wt, *kind, *id, *secret;
	size_t			 t, i, j, n = 0;

	for (t = 0; t <= top->ntenants; t++) {
		c = t == 0 ? top : top->tenants[t - 1].conf;
		for (i = 0; comps[i] != NULL && n < max; i++) {
			if ((sec = conf_comp(c, comps[i])) == NULL)
				continue;
			wt = conf_str(sec, "wx_type");
			reply_init(&rp);
			if (strcmp(comps[i], "send_mp_weixin") == 0 ||
			    (i == 1 && strcmp(wt, "mp") == 0)) {
				if (wxmp_app(sec, &ma, &rp) == -1) {
					reply_free(&rp);
					continue;
				}
				kind = ma.stable ? "mp-stable" : "mp";
				id = ma.appid;
				secret = ma.secret;
			} else {
				if (wecom_app(sec, NULL, &wa, &rp) == -1) {
					reply_free(&rp);
					continue;
				}
				kind = "wecom";
				id = wa.corpid;
				secret = wa.secret;
			}
			reply_free(&rp);
			snprintf(apps[n].ident, sizeof(apps[n].ident), "%s\n%s",
			    id, secret);
			for (j = 0; j < n; j++)
				if (strcmp(apps[j].kind, kind) == 0 &&
				    strcmp(apps[j].ident, apps[n].ident) == 0)
					break;
			if (j < n)
				continue;
			apps[n].kind = kind;
			apps[n].label = strcmp(kind, "wecom") == 0 ? "WeCom" :
			    "Official Account";
			(void)str_copy(apps[n].id, id, sizeof(apps[n].id));
			snprintf(apps[n].where, sizeof(apps[n].where), "%s%s%s",
			    t == 0 ? "" : top->tenants[t - 1].id,
			    t == 0 ? "" : "/", comps[i]);
			n++;
		}
	}
	return n;
}

/* Fetches a token for app a now, through the component's own path. */
static int
token_fetch(struct console_rq *rq, const struct cops_app *a, char *why,
    size_t whysz)
{
	const struct conf	*c = rq->conf;
	struct wecom_app	 wa;
	struct wxmp_app		 ma;
	struct reply		 rp;
	struct ctx		 cx;
	json_object		*sec;
	const char		*slash, *comp;
	char			 tenant[LIM_NAME], tok[LIM_TOKEN + 1];
	long			 left;
	int			 rc = -1;

	reply_init(&rp);
	memset(&cx, 0, sizeof(cx));
	comp = a->where;
	if ((slash = strchr(a->where, '/')) != NULL) {
		snprintf(tenant, sizeof(tenant), "%.*s",
		    (int)(slash - a->where), a->where);
		c = conf_tenant(rq->conf, tenant);
		comp = slash + 1;
	}
	if (c == NULL || (sec = conf_comp(c, comp)) == NULL)
		goto out;
	cx.conf = c;
	cx.component = comp;
	cx.section = sec;
	cx.request_id = rq->r->id;
	cx.app_code = COPS_APP;
	cx.username = rq->user;
	if (strcmp(a->kind, "wecom") == 0)
		rc = wecom_app(sec, NULL, &wa, &rp) == -1 ? -1 :
		    wecom_token(&cx, &wa, tok, sizeof(tok), &left, &rp);
	else
		rc = wxmp_app(sec, &ma, &rp) == -1 ? -1 :
		    wxmp_token(&cx, &ma, tok, sizeof(tok), &left, &rp);
out:
	explicit_bzero(tok, sizeof(tok));
	snprintf(why, whysz, "%s", rp.message != NULL ? rp.message : "");
	reply_free(&rp);
	return rc;
}

/*
 * What a token's recorded reason (tokrec_why) says, in the page's
 * language: "first use", "upstream said the token was invalid (40014)",
 * "refreshed from the console by admin".
 */
static const char *
why_text(struct console_rq *rq, const char *code, char *out, size_t outsz)
{
	static const struct {
		const char	*code;
		const char	*key;
	} whys[] = {
		{ "first",	"why_first" },
		{ "expired",	"why_expired" },
		{ "old",	"why_old" },
		{ "refused",	"why_refused" },
		{ "console",	"why_console" },
		{ NULL,		NULL }
	};
	const char	*arg;
	size_t		 i, n = strcspn(code, ":");

	arg = code[n] == ':' ? code + n + 1 : "";
	for (i = 0; whys[i].code != NULL; i++)
		if (strlen(whys[i].code) == n &&
		    strncmp(code, whys[i].code, n) == 0)
			break;
	if (whys[i].code == NULL) {
		snprintf(out, outsz, "%s", page_str(rq, "why_unknown"));
		return out;
	}
	if (strcmp(whys[i].code, "refused") == 0 && *arg != '\0')
		snprintf(out, outsz, "%s (%s)", page_str(rq, whys[i].key),
		    arg);
	else
		snprintf(out, outsz, "%s%s%s", page_str(rq, whys[i].key),
		    *arg != '\0' ? " " : "", arg);
	return out;
}

/*
 * GET tokens: each app's cached token, its age and seconds left.  POST
 * tokens (CSRF checked) with app=N: forgets it and fetches a new one,
 * recorded as refreshed from the console by the user.  The token
 * itself never reaches the page.
 */
void
cops_tokens(struct console_rq *rq)
{
	struct cops_app	 apps[COPS_APPS];
	json_object	*ctx, *rows, *row, *hl;
	struct store_info si;
	long long	 now = (long long)time(NULL), idx = -1;
	char		 why[LIM_MESSAGE];
	size_t		 i, n;
	int		 status = 200, fromredis = 0;

	memset(apps, 0, sizeof(apps));
	n = token_apps(rq->conf, apps, COPS_APPS);
	ctx = page_ctx(rq);
	if (rq->form != NULL) {
		if (num_parse(page_param(rq, "app"), 0, (long long)n - 1, &idx) ==
		    -1) {
			add_str(ctx, "notice", page_str(rq, "no_such_app"));
			status = 404;
		} else if (snprintf(why, sizeof(why), "console:%s",
		    rq->user) < 0 || store_token_drop(rq->conf->state_dir,
		    apps[idx].kind, apps[idx].ident, why) == -1) {
			add_str(ctx, "notice", page_str(rq, "token_busy"));
			status = 503;
		} else if (token_fetch(rq, &apps[idx], why, sizeof(why)) ==
		    -1) {
			add_str(ctx, "notice", page_str(rq,
			    "token_failed"));
			add_str(ctx, "why", why);
			hl = hint_list(rq, why);
			json_object_object_add(ctx, "has_hints",
			    json_object_new_boolean(
			    json_object_array_length(hl) > 0));
			json_object_object_add(ctx, "hints", hl);
			status = 502;
		} else
			add_str(ctx, "notice", page_str(rq,
			    "token_refreshed"));
		json_object_object_add(ctx, "failed", json_object_new_boolean(
		    status != 200));
		log_info("console: %s refreshed the token of %s: %s",
		    rq->user, idx >= 0 && (size_t)idx < n ?
		    apps[idx].where : "?", status == 200 ? "ok" : "failed");
	}
	rows = json_object_new_array();
	for (i = 0; i < n; i++) {
		row = json_object_new_object();
		json_object_object_add(row, "i", json_object_new_int64(
		    (int64_t)i));
		add_str(row, "where", apps[i].where);
		add_str(row, "label", apps[i].label);
		add_str(row, "id", apps[i].id);
		if (store_token_info(rq->conf->state_dir, apps[i].kind,
		    apps[i].ident, &si) == 0) {
			json_object_object_add(row, "cached",
			    json_object_new_boolean(1));
			json_object_object_add(row, "age",
			    json_object_new_int64(now - si.fetched));
			json_object_object_add(row, "left",
			    json_object_new_int64(si.expires > now ?
			    si.expires - now : 0));
			json_object_object_add(row, "expired",
			    json_object_new_boolean(si.expires <= now));
			add_str(row, "why", why_text(rq, si.why, why,
			    sizeof(why)));
			add_str(row, "why_code", si.why);
			fromredis += si.redis;
		}
		json_object_array_add(rows, row);
	}
	explicit_bzero(apps, sizeof(apps));
	json_object_object_add(ctx, "apps", rows);
	/*
	 * With Redis the live tokens are there (store_token_info reads
	 * them); the files only stand in while it does not answer.
	 */
	if (redis_on())
		json_object_object_add(ctx, fromredis > 0 || redis_ping(why,
		    sizeof(why)) == 0 ? "redis" : "redis_down",
		    json_object_new_boolean(1));
	page_render(rq, status, "console/tokens", ctx);
}
