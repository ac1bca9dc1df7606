#include <string.h>

#include "check.h"
#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "custom.h"
#include "handlers.h"
#include "lib/util.h"
#include "route.h"

static void
copy(json_object *to, const char *tk, json_object *from, const char *fk)
{
	json_object	*v;

	if (json_object_object_get_ex(from, fk, &v) && v != NULL)
		json_object_object_add(to, tk, json_object_get(v));
}

/*
 * The parameters send_msg hands its target (contract 2.4 send_msg):
 * only its own cleaned fields, mapped.  Returns the target's name, or
 * NULL for an unknown msg_type.
 */
static const char *
map(json_object *p, json_object *out)
{
	const char	*type = jv_string(p, "msg_type");
	json_object	*data;

	copy(out, "receiver__username", p, "receiver__username");
	if (strcmp(type, "mail") == 0) {
		copy(out, "sender", p, "sender");
		copy(out, "cc__username", p, "cc__username");
		copy(out, "title", p, "title");
		copy(out, "content", p, "content");
		copy(out, "body_format", p, "body_format");
		copy(out, "attachments", p, "attachments");
		copy(out, "is_content_base64", p, "is_content_base64");
		return "send_mail";
	}
	if (strcmp(type, "sms") == 0) {
		copy(out, "content", p, "content");
		copy(out, "is_content_base64", p, "is_content_base64");
		return "send_sms";
	}
	if (strcmp(type, "voice") == 0) {
		copy(out, "auto_read_message", p, "content");
		return "send_voice_msg";
	}
	if (strcmp(type, "weixin") == 0) {
		data = json_object_new_object();
		copy(data, "heading", p, "title");
		copy(data, "message", p, "content");
		copy(data, "date", p, "date");
		copy(data, "remark", p, "remark");
		copy(data, "is_message_base64", p, "is_content_base64");
		json_object_object_add(out, "data", data);
		copy(out, "wx_qy_agentid", p, "wx_qy_agentid");
		copy(out, "wx_qy_corpsecret", p, "wx_qy_corpsecret");
		return "send_weixin";
	}
	return NULL;
}

/*
 * send_msg: one entry point for the four channels, by msg_type; the
 * target component then applies its own rules, messages and config.
 */
void
hnd_send_msg(struct ctx *cx, struct reply *rp)
{
	const struct route	*rt;
	struct ctx		 sub;
	json_object		*p, *valid = NULL;
	const char		*target;

	p = json_object_new_object();
	target = map(cx->params, p);
	if (target == NULL && (target = custom_by_type(cx->conf,
	    jv_string(cx->params, "msg_type"))) != NULL) {
		/* A custom component: the message, and bk-monitor's robot. */
		copy(p, "title", cx->params, "title");
		copy(p, "content", cx->params, "content");
		copy(p, "sender", cx->params, "sender");
		copy(p, "is_content_base64", cx->params, "is_content_base64");
		copy(p, "wecom_robot", cx->params, "wecom_robot");
	}
	if (target == NULL) {
		reply_fail(rp, CODE_COMMON, "Unsupported type of msg type");
		goto out;
	}
	rt = route_by_name(target);
	if (rt == NULL || check_params(target, p, &valid, rp) == -1)
		goto out;
	sub = *cx;
	sub.component = target;
	sub.params = valid;
	sub.raw = p;
	sub.section = conf_comp(cx->conf, target);
	if (!route_off(&sub, rp))
		rt->hnd(&sub, rp);
out:
	json_object_put(valid);
	json_object_put(p);
}
