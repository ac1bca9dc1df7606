#include <stdlib.h>
#include <string.h>

#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/tmplset.h"
#include "handlers.h"
#include "lib/util.h"
#include "up/forward.h"
#include "up/qcloud.h"
#include "up/qcloud_sms.h"

/*
 * send_sms (contract 2.4): receiver (digits, or E.164 which ESB wrongly
 * refused) or receiver__username, content.  With no recipient at all
 * ESB went on to delivery; we say so plainly instead.
 */
void
hnd_send_sms(struct ctx *cx, struct reply *rp)
{
	struct comp_rcpt	 to;
	json_object		*msg = NULL, *v, *f = NULL;
	char			*content = NULL, *text = NULL;
	const char		*sign;

	memset(&to, 0, sizeof(to));
	if (comp_check_contacts(cx->params, "receiver", "phone", rp) == -1 ||
	    comp_recipients(cx, "receiver", "receiver__username", "phone",
	    &to, rp) == -1)
		goto out;
	if (json_object_array_length(to.list) == 0) {
		reply_fail(rp, CODE_COMMON, "phone numbers [phone_numbers] "
		    "This field is required.");
		goto out;
	}
	content = jv_text(cx->params, "content", "",
	    json_object_object_get_ex(cx->params, "is_content_base64", &v) &&
	    json_object_get_boolean(v));
	/*
	 * ESB prefixes 【sign】 unless the content already starts with 【.
	 * API 3.0 carries the sign in SignName, so never in the text.
	 */
	sign = qcloud_api(cx->section) == QCLOUD_TC3 ? "" :
	    conf_str(cx->section, "qcloud_sms_sign");
	f = json_object_new_object();
	json_object_object_add(f, "content", json_object_new_string(content));
	json_object_object_add(f, "sign", json_object_new_string(sign));
	json_object_object_add(f, "prefix", json_object_new_boolean(
	    *sign != '\0' && strncmp(content, "【", strlen("【")) != 0));
	if ((text = tmplset_layout("sms/text", f, TMPL_ESC_NONE, rp)) == NULL)
		goto out;
	rp->audit = json_object_get(to.list);
	switch (comp_mode(cx->section,
	    comp_upstream(cx->component, cx->section))) {
	case MODE_OUTBOX:
		msg = json_object_new_object();
		json_object_object_add(msg, "channel",
		    json_object_new_string("sms"));
		json_object_object_add(msg, "receiver",
		    json_object_get(to.list));
		json_object_object_add(msg, "content",
		    json_object_new_string(text));
		if (comp_outbox_json(cx, "sms", msg, rp) == 0)
			reply_ok(rp, "OK");
		break;
	case MODE_FORWARD:
		msg = forward_kwargs(cx);
		json_object_object_add(msg, "receiver",
		    json_object_get(to.list));
		json_object_object_add(msg, "receiver__username", to.users ==
		    NULL ? NULL : json_object_get(json_object_object_get(
		    cx->params, "receiver__username")));
		json_object_object_add(msg, "content",
		    json_object_new_string(content));
		json_object_object_add(msg, "is_content_base64",
		    json_object_new_boolean(json_object_object_get_ex(
		    cx->params, "is_content_base64", &v) &&
		    json_object_get_boolean(v)));
		if (to.users != NULL)
			json_object_object_add(msg, "_extra_user_error_msg",
			    json_object_new_string(to.fragments));
		forward_send(cx, msg, rp);
		break;
	case MODE_UPSTREAM:
		qcloud_sms_send(cx, to.list, to.users, text, rp);
		break;
	default:
		comp_unfinished(rp);
		break;
	}
	comp_finish(rp, &to, "sms");
out:
	json_object_put(f);
	json_object_put(msg);
	free(text);
	free(content);
	comp_rcpt_free(&to);
}
