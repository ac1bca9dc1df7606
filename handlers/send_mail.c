#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "comp.h"
#include "conf.h"
#include "envelope.h"
#include "handlers.h"
#include "limits.h"
#include "mime.h"
#include "util.h"

/*
 * Attachments with their content base64-decoded strictly, as ESB does;
 * a padding error is ESB's generic component error.  Returns a new
 * array, or NULL.
 */
static json_object *
decode_attachments(json_object *list)
{
	json_object	*out, *a, *na, *c;
	char		*bytes;
	size_t		 i, n;

	out = json_object_new_array();
	for (i = 0; list != NULL && i < json_object_array_length(list); i++) {
		a = json_object_array_get_idx(list, i);
		if (!json_object_object_get_ex(a, "content", &c) ||
		    b64_decode(json_object_get_string(c),
		    (size_t)json_object_get_string_len(c), &bytes, &n) == -1) {
			json_object_put(out);
			return NULL;
		}
		json_object_deep_copy(a, &na, NULL);
		json_object_object_add(na, "content",
		    json_object_new_string_len(bytes, (int)n));
		free(bytes);
		json_object_array_add(out, na);
	}
	return out;
}

/*
 * send_mail (contract 2.4): receiver or receiver__username, cc or
 * cc__username, title, content, attachments.  "Succeeded to send mail"
 * once the message is handed over, else "Failed to send mail".
 */
void
hnd_send_mail(struct ctx *cx, struct reply *rp)
{
	struct comp_rcpt	 to, cc;
	struct mail		 m;
	struct buf		 eml;
	json_object		*atts = NULL, *v;
	char			*content = NULL;
	enum comp_mode		 mode;

	memset(&to, 0, sizeof(to));
	memset(&cc, 0, sizeof(cc));
	buf_init(&eml, LIM_MAIL);
	if (comp_check_contacts(cx->params, "receiver", "email", rp) == -1 ||
	    comp_check_contacts(cx->params, "cc", "email", rp) == -1)
		goto out;
	if (comp_recipients(cx, "receiver", "receiver__username", "email",
	    &to, rp) == -1 ||
	    comp_recipients(cx, "cc", "cc__username", "email", &cc, rp) == -1)
		goto out;
	content = comp_text(cx->params, "content", "",
	    json_object_object_get_ex(cx->params, "is_content_base64", &v) &&
	    json_object_get_boolean(v));
	json_object_object_get_ex(cx->params, "attachments", &v);
	if ((atts = decode_attachments(v)) == NULL) {
		comp_component_error(rp);
		goto out;
	}

	memset(&m, 0, sizeof(m));
	m.from = comp_str(cx->params, "sender");
	if (*m.from == '\0')
		m.from = *conf_str(cx->section, "mail_sender") != '\0' ?
		    conf_str(cx->section, "mail_sender") : "blueking@bking.com";
	m.to = to.list;
	m.cc = cc.list;
	m.subject = comp_str(cx->params, "title");
	m.body = content;
	m.html = strcmp(comp_str(cx->params, "body_format"), "Text") != 0;
	m.attachments = atts;
	m.msgid_seed = cx->request_id;
	rp->audit = json_object_get(to.list);

	mode = comp_mode(cx->section,
	    comp_upstream(cx->component, cx->section));
	switch (mode) {
	case MODE_OUTBOX:
		if (mime_build(&m, &eml) == -1) {
			reply_fail(rp, CODE_COMMON, "Failed to send mail");
			break;
		}
		if (comp_outbox(cx, "mail", "eml", eml.ptr, eml.len, rp) == 0)
			reply_ok(rp, "Succeeded to send mail");
		break;
	default:
		comp_unfinished(rp);
		break;
	}
	comp_finish(rp, &to, "email");
out:
	buf_free(&eml);
	json_object_put(atts);
	free(content);
	comp_rcpt_free(&to);
	comp_rcpt_free(&cc);
}
