#include <stdlib.h>
#include <string.h>

#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/outcome.h"
#include "core/tmplset.h"
#include "handlers.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/mime.h"
#include "lib/util.h"
#include "up/forward.h"
#include "up/smtp.h"

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
	    jv_string(cx->params, "body_format")));
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

/* {"receiver": s, "code": reply} for the per-recipient detail. */
static json_object *
rcpt_detail(const char *s, int code)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "receiver", json_object_new_string(s));
	json_object_object_add(o, "code", code > 0 ?
	    json_object_new_int(code) : NULL);
	return o;
}

/* {error, code, status}: why the SMTP server did not take it. */
static json_object *
smtp_why(const struct smtp_res *res)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(
	    res->cc != CURLE_OK ? curl_easy_strerror(res->cc) :
	    "the server did not take the message"));
	json_object_object_add(o, "code", res->code > 0 ?
	    json_object_new_int64(res->code) : NULL);
	json_object_object_add(o, "status", *res->status != '\0' ?
	    json_object_new_string(res->status) : NULL);
	return o;
}

/*
 * The envelope: receiver then cc, each address once.  Entries that
 * cannot be an SMTP address go to failed, not to the server.  Fills
 * addr (addr-specs in store) and orig (as the caller wrote them).
 */
static size_t
envelope(const struct comp_rcpt *to, const struct comp_rcpt *cc,
    char *store, const char **addr, const char **orig, json_object *failed)
{
	const struct comp_rcpt	*lists[2] = { to, cc };
	const char		*s;
	char			*a;
	size_t			 i, j, k, n = 0;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < json_object_array_length(lists[k]->list); i++) {
			s = json_object_get_string(json_object_array_get_idx(
			    lists[k]->list, i));
			a = store + n * SMTP_ADDR;
			if (smtp_addr(s, a, SMTP_ADDR) == -1) {
				json_object_array_add(failed, rcpt_detail(s,
				    0));
				continue;
			}
			for (j = 0; j < n && strcmp(addr[j], a) != 0; j++)
				;
			if (j < n)
				continue;
			orig[n] = s;
			addr[n++] = a;
		}
	}
	return n;
}

/*
 * The reply once the server answered: all taken is "Succeeded to send
 * mail"; some refused is a failure naming them; not taken is "Failed
 * to send mail".  data has each recipient's RCPT reply when someone was
 * refused.  failed already holds those refused before the server.
 */
static void
smtp_reply(const struct smtp_res *res, const char **orig, size_t n,
    json_object *failed, const struct comp_rcpt *to, struct reply *rp)
{
	json_object	*ok, *d, *f;
	char		 names[LIM_MESSAGE / 2];
	size_t		 i, len = 0, nref;

	ok = json_object_new_array();
	nref = json_object_array_length(failed);
	for (i = 0; i < n; i++) {
		if (res->rcpt_code[i] >= 400)
			nref++;
		if (res->sent && res->rcpt_code[i] < 400)
			json_object_array_add(ok, rcpt_detail(orig[i],
			    res->rcpt_code[i]));
		else
			json_object_array_add(failed, rcpt_detail(orig[i],
			    res->rcpt_code[i]));
	}
	/* As many whole names as fit: data.failed names them all. */
	names[0] = '\0';
	for (i = 0; i < json_object_array_length(failed); i++) {
		f = json_object_array_get_idx(failed, i);
		if (str_append(names, sizeof(names), &len, ",",
		    json_object_get_string(json_object_object_get(f,
		    "receiver"))) == -1)
			break;
	}
	if (!res->sent)
		reply_fail(rp, CODE_COMMON, "Failed to send mail");
	else if (nref == 0)
		reply_ok(rp, "Succeeded to send mail");
	else
		reply_fail(rp, CODE_COMMON, "Some users failed to send email. "
		    "%s%sThe following recipients were refused: %s",
		    to->fragments, to->fragments[0] != '\0' ?
		    ";" : "", names);
	if (nref > 0 || !res->sent) {
		d = json_object_new_object();
		json_object_object_add(d, "successed", json_object_get(ok));
		json_object_object_add(d, "failed", json_object_get(failed));
		/*
		 * ESB's message stays "Failed to send mail"; what the server
		 * (or the connection to it) said goes beside it.
		 */
		if (!res->sent)
			json_object_object_add(d, "smtp", smtp_why(res));
		reply_data(rp, d);
	}
	json_object_put(ok);
}

/*
 * For the spool: each envelope recipient's fate, from its RCPT reply
 * or, when the transaction failed as a whole, the last reply or
 * libcurl's verdict.  Those no server could take are permanent.
 */
static void
smtp_outcome(struct ctx *cx, const struct smtp_res *res, const char **orig,
    size_t n, json_object *failed)
{
	size_t	 i;
	int	 c;

	if (cx->oc == NULL)
		return;
	for (i = 0; i < json_object_array_length(failed); i++)
		outcome_add(cx->oc, jv_string(json_object_array_get_idx(failed,
		    i), "receiver"), OC_PERMANENT, 0);
	for (i = 0; i < n; i++) {
		c = res->rcpt_code != NULL ? res->rcpt_code[i] : 0;
		if (c >= 400)
			outcome_add(cx->oc, orig[i], outcome_smtp(CURLE_OK, c),
			    0);
		else if (res->sent)
			outcome_add(cx->oc, orig[i], OC_OK, 0);
		else
			outcome_add(cx->oc, orig[i], outcome_smtp(res->cc,
			    res->code), 0);
	}
}

/* Keeps the envelope recipients a retry still owes (outcome.c). */
static size_t
envelope_pending(struct ctx *cx, const char **addr, const char **orig,
    size_t n)
{
	size_t	 i, k = 0;

	for (i = 0; i < n; i++) {
		if (!outcome_want(cx->oc, orig[i]))
			continue;
		addr[k] = addr[i];
		orig[k++] = orig[i];
	}
	return k;
}

/* Over SMTP, as one transaction for receiver and cc. */
static void
deliver(struct ctx *cx, const struct mail *m, const struct comp_rcpt *to,
    const struct comp_rcpt *cc, struct reply *rp)
{
	struct smtp_msg	 sm;
	struct smtp_res	 res;
	struct buf	 eml;
	json_object	*failed;
	const char	**addr, **orig;
	char		*store, from[SMTP_ADDR];
	size_t		 max;

	max = json_object_array_length(to->list) +
	    json_object_array_length(cc->list) + 1;
	store = xcalloc(max, SMTP_ADDR);
	addr = xcalloc(max, sizeof(*addr));
	orig = xcalloc(max, sizeof(*orig));
	failed = json_object_new_array();
	memset(&res, 0, sizeof(res));
	memset(&sm, 0, sizeof(sm));
	buf_init(&eml, LIM_MAIL);
	sm.nrcpt = envelope_pending(cx, addr, orig, envelope(to, cc, store,
	    addr, orig, failed));
	if (mime_build(m, &eml) == -1 ||
	    smtp_addr(m->from, from, sizeof(from)) == -1 || sm.nrcpt == 0) {
		log_warnx("%s: smtp: not sent: a header, the sender or every "
		    "recipient is unusable", cx->request_id);
		outcome_all(cx->oc, OC_PERMANENT, 0);
		reply_fail(rp, CODE_COMMON, "Failed to send mail");
		goto out;
	}
	sm.id = cx->request_id;
	sm.from = from;
	sm.rcpt = addr;
	sm.data = eml.ptr;
	sm.len = eml.len;
	smtp_send(cx->conf, cx->section, &sm, &res);
	smtp_outcome(cx, &res, orig, sm.nrcpt, failed);
	smtp_reply(&res, orig, sm.nrcpt, failed, to, rp);
out:
	smtp_res_free(&res);
	json_object_put(failed);
	buf_free(&eml);
	free(orig);
	free(addr);
	free(store);
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
	content = jv_text(cx->params, "content", "",
	    json_object_object_get_ex(cx->params, "is_content_base64", &v) &&
	    json_object_get_boolean(v));
	json_object_object_get_ex(cx->params, "attachments", &v);
	if ((atts = decode_attachments(v)) == NULL) {
		reply_component_error(rp);
		goto out;
	}

	memset(&m, 0, sizeof(m));
	m.from = jv_string(cx->params, "sender");
	if (*m.from == '\0')
		m.from = *conf_str(cx->section, "mail_sender") != '\0' ?
		    conf_str(cx->section, "mail_sender") : "blueking@bking.com";
	m.to = to.list;
	m.cc = cc.list;
	m.subject = jv_string(cx->params, "title");
	m.html = strcmp(jv_string(cx->params, "body_format"), "Text") != 0;
	f = json_object_new_object();
	json_object_object_add(f, "content", json_object_new_string(content));
	json_object_object_add(f, "title", json_object_new_string(m.subject));
	body = tmplset_layout(m.html ? "mail/html" : "mail/text", f,
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
	case MODE_UPSTREAM:
		deliver(cx, &m, &to, &cc, rp);
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
