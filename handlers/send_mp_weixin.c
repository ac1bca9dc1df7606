#include <string.h>

#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "handlers.h"
#include "lib/util.h"
#include "up/wx.h"
#include "up/wxmp.h"

/*
 * send_mp_weixin: receiver (openids) and data {heading, message, date,
 * remark}, one template message each through wx_app_id, laid out by
 * templates/wxmp/data, with the request's optional url.
 */
void
hnd_send_mp_weixin(struct ctx *cx, struct reply *rp)
{
	struct wxmp_app	 app;
	json_object	*msg = NULL, *to = NULL, *data = NULL, *fields = NULL;
	json_object	*tpl = NULL;

	json_object_object_get_ex(cx->params, "receiver", &to);
	json_object_object_get_ex(cx->params, "data", &data);
	rp->audit = json_object_get(to);
	switch (comp_mode(cx->section,
	    comp_upstream(cx->component, cx->section))) {
	case MODE_OUTBOX:
		msg = json_object_new_object();
		json_object_object_add(msg, "channel",
		    json_object_new_string("mp_weixin"));
		json_object_object_add(msg, "receiver", json_object_get(to));
		json_object_object_add(msg, "data", json_object_get(data));
		json_object_object_add(msg, "url", json_object_new_string(
		    jv_string(cx->raw, "url")));
		fields = wx_fields(data);
		if ((tpl = wxmp_data(fields, rp)) == NULL)
			break;
		json_object_object_add(msg, "template_data",
		    json_object_get(tpl));
		if (comp_outbox_json(cx, "mp_weixin", msg, rp) == 0)
			reply_ok(rp, "WeChat message sending succeeded");
		break;
	case MODE_UPSTREAM:
		fields = wx_fields(data);
		if (wxmp_app(cx->section, &app, rp) == 0 &&
		    (tpl = wxmp_data(fields, rp)) != NULL)
			wxmp_send(cx, &app, to, tpl, jv_string(cx->raw, "url"),
			    rp);
		break;
	case MODE_NONE:
		reply_fail(rp, CODE_COMMON,
		    "wechat appid [appid] This field is required.");
		break;
	default:
		comp_unfinished(rp);
		break;
	}
	json_object_put(tpl);
	json_object_put(fields);
	json_object_put(msg);
}
