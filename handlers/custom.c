#include <stdlib.h>
#include <string.h>

#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/outcome.h"
#include "custom.h"
#include "handlers.h"
#include "lib/util.h"
#include "up/robot.h"
#include "up/webhook.h"

/* A receiver that is a phone number: digits, an optional leading +. */
static int
is_phone(const char *s)
{
	size_t	 n;

	s += *s == '+';
	n = strspn(s, "0123456789");
	return n >= 5 && n <= 20 && s[n] == '\0';
}

/* Adds the strings of list (if it is one) to all, once each. */
static void
gather(json_object *all, json_object *list)
{
	json_object	*v;
	size_t		 i, k;

	for (i = 0; json_object_is_type(list, json_type_array) &&
	    i < json_object_array_length(list); i++) {
		v = json_object_array_get_idx(list, i);
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0)
			continue;
		for (k = 0; k < json_object_array_length(all); k++)
			if (strcmp(json_object_get_string(
			    json_object_array_get_idx(all, k)),
			    json_object_get_string(v)) == 0)
				break;
		if (k == json_object_array_length(all))
			json_object_array_add(all, json_object_get(v));
	}
}

static void
set(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/*
 * A custom component (custom.c): title and content to a group robot or
 * a webhook, the receivers (receiver, then receiver__username) as the
 * people it mentions, phone numbers apart.  The group is the one
 * recipient the spool and the audit know, by the component's name.
 */
void
hnd_custom(struct ctx *cx, struct reply *rp)
{
	struct custom_msg	 m;
	enum custom_kind	 k = custom_kind_of(cx->section);
	enum outcome_cls	 cls = OC_NONE;
	json_object		*rcpt, *mob, *uid, *tctx = NULL, *doc, *v;
	char			*content;
	size_t			 i;
	long			 after = 0;

	if (k == CK__MAX) {
		/* Gone from the config since this process first saw it. */
		comp_unfinished(rp);
		return;
	}
	rcpt = json_object_new_array();
	json_object_object_get_ex(cx->params, "receiver", &v);
	gather(rcpt, v);
	json_object_object_get_ex(cx->params, "receiver__username", &v);
	gather(rcpt, v);
	mob = json_object_new_array();
	uid = json_object_new_array();
	for (i = 0; i < json_object_array_length(rcpt); i++) {
		v = json_object_array_get_idx(rcpt, i);
		json_object_array_add(is_phone(json_object_get_string(v)) ?
		    mob : uid, json_object_get(v));
	}
	content = jv_text(cx->params, "content", "", conf_bool(cx->params,
	    "is_content_base64"));
	memset(&m, 0, sizeof(m));
	m.title = jv_string(cx->params, "title");
	m.content = content;
	m.sender = jv_string(cx->params, "sender");
	m.msg_type = conf_str(cx->section, "msg_type");
	m.request_id = cx->request_id;
	m.receivers = rcpt;
	m.mobiles = mob;
	m.user_ids = uid;
	/*
	 * bk-monitor's own robot message: a wecom_robot object in send_msg,
	 * or its send_wecom_robot's "type" with {"<type>": {"content"}}.
	 */
	if (!json_object_object_get_ex(cx->params, "wecom_robot", &m.native) ||
	    !json_object_is_type(m.native, json_type_object))
		m.native = json_object_object_get_ex(cx->params, "type", NULL) ?
		    cx->params : NULL;

	/* What the layouts and a webhook's body are rendered with. */
	tctx = json_object_new_object();
	set(tctx, "title", m.title);
	set(tctx, "content", m.content);
	set(tctx, "sender", m.sender);
	set(tctx, "msg_type", m.msg_type);
	set(tctx, "request_id", m.request_id);
	set(tctx, "component", cx->component);
	json_object_object_add(tctx, "receivers", json_object_get(rcpt));
	json_object_object_add(tctx, "mobiles", json_object_get(mob));
	json_object_object_add(tctx, "user_ids", json_object_get(uid));

	rp->audit = json_object_new_array();
	json_object_array_add(rp->audit, json_object_new_string(
	    cx->component));
	if (cx->oc != NULL && !outcome_want(cx->oc, cx->component)) {
		/* A retry of a message the group has already. */
		reply_ok(rp, "OK");
		goto out;
	}
	switch (comp_mode(cx->section, custom_ready(cx->section))) {
	case MODE_OUTBOX:
		doc = json_object_new_object();
		set(doc, "channel", custom_kind_name(k));
		json_object_object_add(doc, "message", json_object_get(tctx));
		if (m.native != NULL)
			json_object_object_add(doc, "wecom_robot",
			    json_object_get(m.native));
		if (comp_outbox_json(cx, cx->component, doc, rp) == 0)
			reply_ok(rp, "OK");
		json_object_put(doc);
		break;
	case MODE_UPSTREAM:
		if (k == CK_WEBHOOK)
			cls = webhook_send(cx, cx->section, tctx, rp, &after);
		else
			cls = robot_send(cx, k, cx->section, tctx, &m, rp,
			    &after);
		break;
	default:
		comp_unfinished(rp);
		break;
	}
	if (cx->oc != NULL && cls != OC_NONE)
		outcome_add(cx->oc, cx->component, cls, after);
	if (rp->result) {
		v = json_object_new_object();
		json_object_object_add(v, "mentioned", json_object_get(rcpt));
		if (rp->data == NULL)
			reply_data(rp, v);
		else
			json_object_put(v);
	}
out:
	json_object_put(tctx);
	json_object_put(rcpt);
	json_object_put(mob);
	json_object_put(uid);
	free(content);
}
