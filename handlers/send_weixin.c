#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comp.h"
#include "conf.h"
#include "envelope.h"
#include "handlers.h"

/*
 * The text ESB's WeCom channel sends: heading, message, "Date: " and the
 * optional remark, one per line.  Caller frees.
 */
static char *
wecom_text(json_object *data)
{
	json_object	*v;
	char		*msg, *out, now[32];
	const char	*date, *remark;
	size_t		 n;
	time_t		 t = time(NULL);
	struct tm	 tm;

	msg = comp_text(data, "message", "",
	    json_object_object_get_ex(data, "is_message_base64", &v) &&
	    json_object_get_boolean(v));
	date = comp_str(data, "date");
	if (*date == '\0') {
		gmtime_r(&t, &tm);
		strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
		date = now;
	}
	remark = comp_str(data, "remark");
	n = strlen(comp_str(data, "heading")) + strlen(msg) + strlen(date) +
	    strlen(remark) + 16;
	out = malloc(n);
	if (out != NULL)
		snprintf(out, n, "%s\n%s\nDate: %s%s%s", comp_str(data,
		    "heading"), msg, date, *remark != '\0' ? "\n" : "", remark);
	free(msg);
	return out;
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
	json_object		*msg = NULL, *data = NULL;
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
	text = wecom_text(data);
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
		    text != NULL ? text : ""));
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
	json_object_put(msg);
	free(text);
	comp_rcpt_free(&to);
}
