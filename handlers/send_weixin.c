#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comp.h"
#include "conf.h"
#include "envelope.h"
#include "handlers.h"

/*
 * The fields of the layouts (templates/wecom/text, wxmp/data):
 * heading, message (base64-decoded when flagged), date (now, as ESB
 * defaults it, when absent), remark.  Caller puts.
 */
static json_object *
layout_fields(json_object *data)
{
	json_object	*f, *v;
	char		*msg, now[32];
	time_t		 t = time(NULL);
	struct tm	 tm;

	f = json_object_new_object();
	msg = comp_text(data, "message", "",
	    json_object_object_get_ex(data, "is_message_base64", &v) &&
	    json_object_get_boolean(v));
	json_object_object_add(f, "heading", json_object_new_string(
	    comp_str(data, "heading")));
	json_object_object_add(f, "message", json_object_new_string(msg));
	free(msg);
	if (*comp_str(data, "date") == '\0') {
		gmtime_r(&t, &tm);
		strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_object_add(f, "date", json_object_new_string(now));
	} else
		json_object_object_add(f, "date", json_object_new_string(
		    comp_str(data, "date")));
	json_object_object_add(f, "remark", json_object_new_string(
	    comp_str(data, "remark")));
	return f;
}

/*
 * send_weixin (contract 2.4): receiver or receiver__username, data
 * {heading, message, date, remark}; WeCom (wx_type qy/qywx) or the
 * Official Account (mp).
 */
void
hnd_send_weixin(struct ctx *cx, struct reply *rp)
{
	struct comp_rcpt	 to;
	json_object		*msg = NULL, *data = NULL, *fields = NULL;
	const char		*type;
	char			*text = NULL;
	int			 mp;

	memset(&to, 0, sizeof(to));
	type = conf_str(cx->section, "wx_type");
	if (*type == '\0')
		type = "qy";
	mp = strcmp(type, "mp") == 0;
	if (!mp && strcmp(type, "qy") != 0 && strcmp(type, "qywx") != 0) {
		reply_fail(rp, CODE_COMMON, "WeChat type that is not supported "
		    "[wx_type=%s]", type);
		goto out;
	}
	if (comp_recipients(cx, "receiver", "receiver__username",
	    mp ? "wx_openid" : "wx_userid", &to, rp) == -1)
		goto out;
	json_object_object_get_ex(cx->params, "data", &data);
	fields = layout_fields(data);
	if ((text = comp_render("wecom/text", fields, TMPL_ESC_NONE, rp)) ==
	    NULL)
		goto out;
	rp->audit = json_object_get(to.list);
	switch (comp_mode(cx->section,
	    comp_upstream(cx->component, cx->section))) {
	case MODE_OUTBOX:
		msg = json_object_new_object();
		json_object_object_add(msg, "channel",
		    json_object_new_string("weixin"));
		json_object_object_add(msg, "wx_type",
		    json_object_new_string(type));
		json_object_object_add(msg, "receiver", json_object_get(to.list));
		json_object_object_add(msg, "data", json_object_get(data));
		json_object_object_add(msg, "text", json_object_new_string(
		    text));
		if (comp_outbox_json(cx, "weixin", msg, rp) == 0)
			reply_ok(rp, "WeChat message sending succeeded");
		break;
	case MODE_NONE:
		if (cx->section != NULL && mp)
			reply_fail(rp, CODE_COMMON, "wechat appid [appid] This "
			    "field is required.");
		else if (cx->section != NULL)
			reply_fail(rp, CODE_COMMON, "corp ID [corpid] This "
			    "field is required.");
		else
			comp_unfinished(rp);
		break;
	default:
		comp_unfinished(rp);
		break;
	}
	comp_finish(rp, &to, "wechat message");
out:
	json_object_put(fields);
	json_object_put(msg);
	free(text);
	comp_rcpt_free(&to);
}
