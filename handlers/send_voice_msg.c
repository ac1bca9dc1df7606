#include <string.h>

#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/tmplset.h"
#include "handlers.h"
#include "lib/util.h"
#include "up/forward.h"
#include "up/qcloud_voice.h"
#include "users.h"

/*
 * The people to call: user_list_information as given (it wins), else
 * receiver__username looked up for phones.  Returns a new array of
 * {username, mobile_phone}, or NULL with rp set.
 */
static json_object *
voice_people(struct ctx *cx, struct comp_rcpt *r, struct reply *rp)
{
	json_object	*list, *out, *p;
	size_t		 i;

	if (json_object_object_get_ex(cx->params, "user_list_information",
	    &list) && json_object_array_length(list) > 0)
		return json_object_get(list);
	if (comp_recipients(cx, "receiver", "receiver__username", "phone", r,
	    rp) == -1) {
		if (!rp->result && strncmp(rp->message, "All users message",
		    17) == 0)
			reply_fail(rp, CODE_COMMON, "All users contact "
			    "information failed to get, %s", r->fragments);
		return NULL;
	}
	out = json_object_new_array();
	for (i = 0; r->users != NULL && i < json_object_array_length(r->list);
	    i++) {
		p = json_object_new_object();
		json_object_object_add(p, "username", json_object_get(
		    json_object_array_get_idx(r->users, i)));
		json_object_object_add(p, "mobile_phone", json_object_get(
		    json_object_array_get_idx(r->list, i)));
		json_object_array_add(out, p);
	}
	return out;
}

/*
 * send_voice_msg (contract 2.4): auto_read_message read aloud to each
 * person of user_list_information or receiver__username.
 */
void
hnd_send_voice_msg(struct ctx *cx, struct reply *rp)
{
	struct comp_rcpt	 r;
	json_object		*people = NULL, *msg = NULL, *data, *f = NULL;
	char			*text = NULL;

	memset(&r, 0, sizeof(r));
	people = voice_people(cx, &r, rp);
	if (people == NULL)
		goto out;
	f = json_object_new_object();
	json_object_object_add(f, "message", json_object_new_string(
	    jv_string(cx->params, "auto_read_message")));
	if ((text = tmplset_layout("voice/text", f, TMPL_ESC_NONE, rp)) == NULL)
		goto out;
	rp->audit = json_object_get(people);
	switch (comp_mode(cx->section,
	    comp_upstream(cx->component, cx->section))) {
	case MODE_OUTBOX:
		msg = json_object_new_object();
		json_object_object_add(msg, "channel",
		    json_object_new_string("voice"));
		json_object_object_add(msg, "user_list_information",
		    json_object_get(people));
		json_object_object_add(msg, "auto_read_message",
		    json_object_new_string(text));
		if (comp_outbox_json(cx, "voice", msg, rp) == 0) {
			reply_ok(rp, "OK");
			data = json_object_new_object();
			json_object_object_add(data, "successed",
			    json_object_get(people));
			json_object_object_add(data, "failed",
			    json_object_new_array());
			reply_data(rp, data);
		}
		break;
	case MODE_FORWARD:
		/* Only the cleaned form data, no common keys (ESB). */
		msg = json_object_new_object();
		json_object_object_add(msg, "auto_read_message",
		    json_object_new_string(jv_string(cx->params,
		    "auto_read_message")));
		json_object_object_add(msg, "user_list_information",
		    json_object_get(people));
		json_object_object_add(msg, "receiver__username", r.users ==
		    NULL ? NULL : json_object_get(json_object_object_get(
		    cx->params, "receiver__username")));
		if (r.users != NULL)
			json_object_object_add(msg, "_extra_user_error_msg",
			    json_object_new_string(r.fragments));
		forward_send(cx, msg, rp);
		break;
	case MODE_UPSTREAM:
		qcloud_voice_send(cx, people, text, rp);
		break;
	default:
		comp_unfinished(rp);
		break;
	}
	comp_finish(rp, &r, "voice");
out:
	free(text);
	json_object_put(f);
	json_object_put(msg);
	json_object_put(people);
	comp_rcpt_free(&r);
}
