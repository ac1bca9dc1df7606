#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "comp.h"
#include "conf.h"
#include "envelope.h"
#include "forward.h"
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
		na = NULL;
		if (json_object_deep_copy(a, &na, NULL) != 0)
			na = json_object_new_object();
		json_object_object_add(na, "content",
		    json_object_new_string_len(bytes, (int)n));
		free(bytes);
		json_object_array_add(out, na);
	}
	return out;
}

static json_object *
str_or_null(json_object *list, int resolved)
{
	return resolved ? json_object_get(list) : NULL;
}

/*
 * dest_url gets ESB's kwargs with the cleaned fields laid over them;
 * decoded attachment bytes that are not text stay base64.
 */
static void
forward_mail(struct ctx *cx, const struct mail *m,
    const struct comp_rcpt *to, const struct comp_rcpt *cc,
    struct reply *rp)
{
	json_object	*body, *v, *atts, *a, *na, *c, *orig;
	size_t		 i;

	body = forward_kwargs(cx);
	json_object_object_add(body, "receiver", json_object_get(to->list));
	json_object_object_add(body, "receiver__username",
	    str_or_null(json_object_object_get(cx->params,
	    "receiver__username"), to->users != NULL));
	json_object_object_add(body, "cc", json_object_get(cc->list));
	json_object_object_add(body, "cc__username",
	    str_or_null(json_object_object_get(cx->params, "cc__username"),
	    cc->users != NULL));
	json_object_object_add(body, "title", json_object_new_string(
	    m->subject));
	json_object_object_add(body, "content", json_object_new_string(
	    m->body));
	json_object_object_add(body, "is_content_base64",
	    json_object_new_boolean(json_object_object_get_ex(cx->params,
	    "is_content_base64", &v) && json_object_get_boolean(v)));
	json_object_object_add(body, "body_format", json_object_new_string(
	    comp_str(cx->params, "body_format")));
	atts = json_object_new_array();
	for (i = 0; i < json_object_array_length(m->attachments); i++) {
		a = json_object_array_get_idx(m->attachments, i);
		na = NULL;
		if (json_object_deep_copy(a, &na, NULL) != 0)
			na = json_object_new_object();
		c = json_object_object_get(a, "content");
		if (!utf8_valid(json_object_get_string(c),
		    (size_t)json_object_get_string_len(c))) {
			orig = json_object_array_get_idx(json_object_object_get(
			    cx->params, "attachments"), i);
			json_object_object_add(na, "content", json_object_get(
			    json_object_object_get(orig, "content")));
			json_object_object_add(na, "content_encoding",
			    json_object_new_string("base64"));
		}
		json_object_array_add(atts, na);
	}
	json_object_object_add(body, "attachments", atts);
	json_object_object_add(body, "sender", json_object_new_string(m->from));
	if (to->users != NULL || cc->users != NULL)
		json_object_object_add(body, "_extra_user_error_msg",
		    json_object_new_string(to->fragments));
	forward_send(cx, body, rp);
	json_object_put(body);
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
	json_object		*atts = NULL, *v, *f = NULL;
	char			*content = NULL, *body = NULL;
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
	m.html = strcmp(comp_str(cx->params, "body_format"), "Text") != 0;
	f = json_object_new_object();
	json_object_object_add(f, "content", json_object_new_string(content));
	json_object_object_add(f, "title", json_object_new_string(m.subject));
	body = comp_render(m.html ? "mail/html" : "mail/text", f,
	    m.html ? TMPL_ESC_HTML : TMPL_ESC_NONE, rp);
	if (body == NULL)
		goto out;
	m.body = body;
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
	case MODE_FORWARD:
		/* The third party gets the content, not our layout of it. */
		m.body = content;
		forward_mail(cx, &m, &to, &cc, rp);
		break;
	default:
		comp_unfinished(rp);
		break;
	}
	comp_finish(rp, &to, "email");
out:
	json_object_put(f);
	free(body);
	buf_free(&eml);
	json_object_put(atts);
	free(content);
	comp_rcpt_free(&to);
	comp_rcpt_free(&cc);
}
