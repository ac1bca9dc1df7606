#include <stdlib.h>
#include <string.h>

#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/tmplset.h"
#include "handlers.h"
#include "lib/util.h"
#include "up/wecom.h"
#include "up/wx.h"
#include "up/wxmp.h"

/*
 * send_weixin (contract 2.4): receiver or receiver__username, data
 * {heading, message, date, remark}; WeCom (wx_type qy/qywx, as the app
 * of the config or of the request's wx_qy_agentid/wx_qy_corpsecret) or
 * the Official Account (mp, with the request's optional url).
 */
void
hnd_send_weixin(struct ctx *cx, struct reply *rp)
{
	struct comp_rcpt	 to;
	struct wecom_app	 qy;
	struct wxmp_app		 app;
	json_object		*msg = NULL, *data = NULL, *fields = NULL;
	json_object		*tpl = NULL;
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
	fields = wx_fields(data);
	if ((text = tmplset_layout("wecom/text", fields, TMPL_ESC_NONE, rp)) ==
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
		json_object_object_add(msg, "receiver",
		    json_object_get(to.list));
		json_object_object_add(msg, "data", json_object_get(data));
		json_object_object_add(msg, "text", json_object_new_string(
		    text));
		/* What an Official Account would get: its template data. */
		if (mp && (tpl = wxmp_data(fields, rp)) == NULL)
			break;
		if (mp)
			json_object_object_add(msg, "template_data",
			    json_object_get(tpl));
		if (comp_outbox_json(cx, "weixin", msg, rp) == 0)
			reply_ok(rp, "WeChat message sending succeeded");
		break;
	case MODE_UPSTREAM:
		if (mp && wxmp_app(cx->section, &app, rp) == 0 &&
		    (tpl = wxmp_data(fields, rp)) != NULL)
			wxmp_send(cx, &app, to.list, tpl, jv_string(cx->raw,
			    "url"), rp);
		else if (!mp && wecom_app(cx->section, cx->raw, &qy, rp) == 0)
			wecom_send(cx, &qy, to.list, text, rp);
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
	json_object_put(tpl);
	json_object_put(fields);
	json_object_put(msg);
	free(text);
	comp_rcpt_free(&to);
}
