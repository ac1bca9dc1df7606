/*
 * Named templates for callers (beyond ESB): a request may carry
 * "template" (a name under templates/messages/) and "context" (an
 * object) instead of its title and content; they are rendered here,
 * before the schema runs, so the rendered text meets the same contract.
 */
#include <stdio.h>
#include <string.h>

#include "core/envelope.h"
#include "core/tmplset.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "named.h"

/* Where a component takes its title and its content. */
static const struct {
	const char	*component;
	const char	*title;		/* "data.heading" reaches into data */
	const char	*content;
} slots[] = {
	{ "send_mail",		"title",	"content" },
	{ "send_msg",		"title",	"content" },
	{ "send_sms",		NULL,		"content" },
	{ "send_qy_weixin",	NULL,		"content" },
	{ "send_voice_msg",	NULL,		"auto_read_message" },
	{ "send_weixin",	"data.heading",	"data.message" },
	{ "send_mp_weixin",	"data.heading",	"data.message" },
};

static void
put(json_object *params, const char *slot, const char *text)
{
	json_object	*data;

	if (strncmp(slot, "data.", 5) != 0) {
		json_object_object_add(params, slot,
		    json_object_new_string(text));
		return;
	}
	if (!json_object_object_get_ex(params, "data", &data) ||
	    !json_object_is_type(data, json_type_object)) {
		data = json_object_new_object();
		json_object_object_add(params, "data", data);
	}
	json_object_object_add(data, slot + 5, json_object_new_string(text));
}

/*
 * The string value of params' key k, or NULL when it is absent, null
 * or not a string: the schema that runs next words that error, so
 * nothing here may read a string json-c does not have.
 */
static const char *
param_str(json_object *params, const char *k)
{
	json_object	*v;

	if (!json_object_object_get_ex(params, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int
render(const char *name, const char *part, json_object *ctx,
    enum tmpl_esc esc, json_object *params, const char *slot,
    enum tmpl_fail *why)
{
	struct buf	 b;
	char		 tname[LIM_NAME * 2 + 32];
	int		 rc;

	snprintf(tname, sizeof(tname), "messages/%s/%s", name, part);
	if (tmplset_get(tname) == NULL)
		return 1;
	buf_init(&b, LIM_RENDER);
	rc = tmplset_render_why(tname, ctx, esc, &b, why);
	if (rc == 0)
		put(params, slot, b.ptr != NULL ? b.ptr : "");
	buf_free(&b);
	return rc;
}

/*
 * Renders the named template into params when "template" is set.
 * Returns 0 (also when there is none), or -1 with rp set.
 */
int
named_apply(const char *component, json_object *params, struct reply *rp)
{
	json_object	*t, *ctx = NULL;
	const char	*name, *msg_type, *body_format;
	char		 tname[LIM_NAME * 2 + 32];
	size_t		 i;
	int		 html;
	enum tmpl_fail	 why = TMPL_FAIL_NONE;
	char		 say[128];

	if (!json_object_object_get_ex(params, "template", &t) || t == NULL)
		return 0;
	if (!json_object_is_type(t, json_type_string)) {
		reply_fail(rp, CODE_COMMON, "template name [template] Must "
		    "be the specified parameter data type string");
		return -1;
	}
	if (json_object_get_string_len(t) == 0)
		return 0;
	name = json_object_get_string(t);
	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (strcmp(slots[i].component, component) == 0)
			break;
	snprintf(tname, sizeof(tname), "messages/%s/content", name);
	if (i == sizeof(slots) / sizeof(slots[0]) ||
	    strlen(name) >= LIM_NAME || strstr(name, "..") != NULL ||
	    tmplset_get(tname) == NULL) {
		reply_fail(rp, CODE_COMMON, "Template [%.64s] does not exist",
		    name);
		return -1;
	}
	if (json_object_object_get_ex(params, "context", &ctx) &&
	    ctx != NULL && !json_object_is_type(ctx, json_type_object)) {
		reply_fail(rp, CODE_COMMON, "template context [context] Must "
		    "be the specified parameter data type dict");
		return -1;
	}
	msg_type = param_str(params, "msg_type");
	body_format = param_str(params, "body_format");
	html = strcmp(component, "send_mail") == 0 ||
	    (strcmp(component, "send_msg") == 0 && msg_type != NULL &&
	    strcmp(msg_type, "mail") == 0);
	if (body_format != NULL && strcmp(body_format, "Text") == 0)
		html = 0;
	if ((slots[i].title != NULL && render(name, "title", ctx,
	    TMPL_ESC_HEADER, params, slots[i].title, &why) == -1) ||
	    render(name, "content", ctx, html ? TMPL_ESC_HTML :
	    TMPL_ESC_NONE, params, slots[i].content, &why) == -1) {
		reply_fail(rp, CODE_COMMON, "Template [%s] failed to render: "
		    "%s (the rendering limit)", name,
		    tmpl_fail_say(why, say, sizeof(say)));
		return -1;
	}
	return 0;
}
