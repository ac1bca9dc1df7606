#include <string.h>

#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "handlers.h"
#include "lib/util.h"
#include "up/wecom.h"

/*
 * send_qy_weixin: receiver (WeCom user ids) and content, sent as the
 * app of wx_qy_corpid / wx_qy_corpsecret / wx_qy_agentid (the config
 * only: the request cannot override them here).
 */
void
hnd_send_qy_weixin(struct ctx *cx, struct reply *rp)
{
	struct wecom_app	 qy;
	json_object		*msg = NULL, *to = NULL;

	json_object_object_get_ex(cx->params, "receiver", &to);
	rp->audit = json_object_get(to);
	switch (comp_mode(cx->section,
	    comp_upstream(cx->component, cx->section))) {
	case MODE_OUTBOX:
		msg = json_object_new_object();
		json_object_object_add(msg, "channel",
		    json_object_new_string("qy_weixin"));
		json_object_object_add(msg, "receiver", json_object_get(to));
		json_object_object_add(msg, "content", json_object_new_string(
		    jv_string(cx->params, "content")));
		if (comp_outbox_json(cx, "qy_weixin", msg, rp) == 0)
			reply_ok(rp, "WeChat message sending succeeded");
		break;
	case MODE_UPSTREAM:
		if (wecom_app(cx->section, NULL, &qy, rp) == 0)
			wecom_send(cx, &qy, to, jv_string(cx->params, "content"),
			    rp);
		break;
	case MODE_NONE:
		reply_fail(rp, CODE_COMMON,
		    "corp ID [corpid] This field is required.");
		break;
	default:
		comp_unfinished(rp);
		break;
	}
	json_object_put(msg);
}
