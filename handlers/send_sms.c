#include <stdlib.h>
#include <string.h>

#include "comp.h"
#include "conf.h"
#include "envelope.h"
#include "handlers.h"

/*
 * send_sms (contract 2.4): receiver (digits, or E.164 which ESB wrongly
 * refused) or receiver__username, content.  With no recipient at all
 * ESB went on to delivery; we say so plainly instead.
 */
void
hnd_send_sms(struct ctx *cx, struct reply *rp)
{
	struct comp_rcpt	 to;
	json_object		*msg = NULL, *v;
	char			*content = NULL;

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
	content = comp_text(cx->params, "content", "",
	    json_object_object_get_ex(cx->params, "is_content_base64", &v) &&
	    json_object_get_boolean(v));
	rp->audit = json_object_get(to.list);
	switch (comp_mode(cx->section,
	    comp_upstream(cx->component, cx->section))) {
	case MODE_OUTBOX:
		msg = json_object_new_object();
		json_object_object_add(msg, "channel",
		    json_object_new_string("sms"));
		json_object_object_add(msg, "receiver", json_object_get(to.list));
		json_object_object_add(msg, "content",
		    json_object_new_string(content));
		if (comp_outbox_json(cx, "sms", msg, rp) == 0)
			reply_ok(rp, "OK");
		break;
	default:
		comp_unfinished(rp);
		break;
	}
	comp_finish(rp, &to, "sms");
out:
	json_object_put(msg);
	free(content);
	comp_rcpt_free(&to);
}
