/*
 * Voice notices through Tencent Cloud (SendTtsVoice, sendvoiceprompt):
 * one call per person, all of a request's calls at once, so twenty
 * people take about as long as one.  v5 reads the rendered text with
 * sendvoiceprompt; API 3.0 sends SendTtsVoice with the text as the
 * approved template's parameters (qcloud.c).  The answer keeps ESB's
 * shape: data.successed and data.failed hold each person with
 * Tencent's answer (result, errmsg, callid) merged in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/outcome.h"
#include "lib/util.h"
#include "qcloud.h"
#include "qcloud_voice.h"

#define VOICE_V5_HOSTPATH "cloud.tim.qq.com/v5/tlsvoicesvr/sendvoiceprompt"
#define VOICE_V5_IFACE	"[QCLOUD_VOICE] interface [send_voice_msg]"
#define VOICE_TC3_IFACE	"[QCLOUD_VOICE] interface [SendTtsVoice]"
#define VOICE_PLAYTIMES	3	/* as BlueKing; Tencent's most */

static int
voice_v5_build(struct ctx *cx, struct qcloud_call *qc, struct qcloud_rcpt *r,
    const char *text)
{
	json_object	*body, *tel;
	int		 rc;

	body = json_object_new_object();
	tel = json_object_new_object();
	json_object_object_add(tel, "nationcode",
	    json_object_new_string(r->nc));
	json_object_object_add(tel, "mobile",
	    json_object_new_string(r->mobile));
	json_object_object_add(body, "tel", tel);
	json_object_object_add(body, "prompttype", json_object_new_int(2));
	json_object_object_add(body, "promptfile",
	    json_object_new_string(text));
	json_object_object_add(body, "playtimes",
	    json_object_new_int(VOICE_PLAYTIMES));
	json_object_object_add(body, "ext", json_object_new_string(""));
	rc = qcloud_v5_call(qc, cx->section, VOICE_V5_HOSTPATH, r->mobile, body,
	    cx->request_id);
	json_object_put(body);
	return rc;
}

static int
voice_tc3_build(struct ctx *cx, struct qcloud_call *qc, struct qcloud_rcpt *r,
    json_object *params)
{
	json_object	*body;
	int		 rc;

	body = json_object_new_object();
	json_object_object_add(body, "TemplateId", json_object_new_string(
	    conf_str(cx->section, "qcloud_voice_template_id")));
	json_object_object_add(body, "CalledNumber",
	    json_object_new_string(r->e164));
	json_object_object_add(body, "VoiceSdkAppid", json_object_new_string(
	    conf_str(cx->section, "qcloud_voice_sdk_app_id")));
	json_object_object_add(body, "TemplateParamSet",
	    json_object_get(params));
	json_object_object_add(body, "PlayTimes",
	    json_object_new_int(VOICE_PLAYTIMES));
	json_object_object_add(body, "SessionContext",
	    json_object_new_string(cx->request_id));
	rc = qcloud_tc3_call(qc, cx->section, "vms", "SendTtsVoice",
	    "2020-09-02", body);
	json_object_put(body);
	return rc;
}

/* v5: result 0 and a callid, else Tencent's result and errmsg. */
static void
voice_v5_parse(struct ctx *cx, json_object *doc, struct qcloud_rcpt *r)
{
	json_object	*res, *v;

	if (!json_object_object_get_ex(doc, "result", &res) ||
	    !json_object_is_type(res, json_type_int)) {
		qcloud_rcpt_set(r, 0,
		    json_object_new_int(-1), "unknown answer");
		return;
	}
	if (json_object_get_int(res) != 0)
		log_warnx("%s: voice: sendvoiceprompt result %d",
		    cx->request_id, json_object_get_int(res));
	/* result 0 without the callid of the call it placed is no call. */
	if (json_object_get_int(res) == 0 &&
	    !json_object_is_type(json_object_object_get(doc, "callid"),
	    json_type_string)) {
		qcloud_rcpt_set(r, 0, json_object_new_int(-1),
		    "answer without callid");
		return;
	}
	qcloud_rcpt_set(r, json_object_get_int(res) == 0, json_object_get(res),
	    json_object_get_string(json_object_object_get(doc, "errmsg")));
	if (json_object_object_get_ex(doc, "ext", &v) && v != NULL)
		json_object_object_add(r->out, "ext", json_object_get(v));
	if (json_object_object_get_ex(doc, "callid", &v) && v != NULL)
		json_object_object_add(r->out, "callid", json_object_get(v));
}

/* API 3.0: Response.Error, or Response.SendStatus.CallId. */
static void
voice_tc3_parse(struct ctx *cx, json_object *doc, struct qcloud_rcpt *r)
{
	json_object	*resp, *err, *st, *id;
	const char	*c;

	if (!json_object_object_get_ex(doc, "Response", &resp) ||
	    !json_object_is_type(resp, json_type_object)) {
		qcloud_rcpt_set(r, 0,
		    json_object_new_int(-1), "unknown answer");
		return;
	}
	if (json_object_object_get_ex(resp, "Error", &err) && err != NULL) {
		c = json_object_get_string(json_object_object_get(err, "Code"));
		log_warnx("%s: voice: SendTtsVoice %s", cx->request_id,
		    c != NULL ? c : "?");
		qcloud_rcpt_set(r, 0,
		    json_object_new_string(c != NULL ? c : "?"),
		    json_object_get_string(json_object_object_get(err,
		    "Message")));
	} else if (json_object_object_get_ex(resp, "SendStatus", &st) &&
	    json_object_object_get_ex(st, "CallId", &id) &&
	    json_object_is_type(id, json_type_string)) {
		qcloud_rcpt_set(r, 1, json_object_new_int(0), "OK");
		json_object_object_add(r->out, "callid", json_object_get(id));
	} else
		qcloud_rcpt_set(r, 0,
		    json_object_new_int(-1), "unknown answer");
	if (json_object_object_get_ex(resp, "RequestId", &id) && id != NULL)
		json_object_object_add(r->out, "request_id",
		    json_object_get(id));
}

/*
 * Reads text to each of people ({username, mobile_phone[, nation_code]}).
 * Sets rp: "OK", "Some users failed to send voice. <users>", or 1306201
 * when a call failed in transport; data is {successed, failed}.
 */
void
qcloud_voice_send(struct ctx *cx, json_object *people, const char *text,
    struct reply *rp)
{
	struct qcloud_rcpt	*r;
	struct qcloud_call	*qc;
	struct http_call	**hcs;
	json_object		*params = NULL, *p, *doc;
	enum qcloud_api		 api = qcloud_api(cx->section);
	const char		*nc;
	char			 detail[256], transport[256];
	int			 ssl = 0;
	size_t			 n, ncalls = 0, i;
	size_t			*who;
	int			 built;
	json_object		*only;

	/* A retry calls the numbers still pending only (outcome.c). */
	if ((only = outcome_filter(cx->oc, people, "mobile_phone")) != NULL)
		people = only;
	n = json_object_array_length(people);
	r = xcalloc(n + 1, sizeof(*r));
	qc = xcalloc(n + 1, sizeof(*qc));
	hcs = xcalloc(n + 1, sizeof(*hcs));
	who = xcalloc(n + 1, sizeof(*who));
	transport[0] = '\0';
	if (api == QCLOUD_TC3 &&
	    (params = qcloud_params(cx->section, text, rp)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(people, i);
		json_object_deep_copy(p, &r[i].out, NULL);
		r[i].given = jv_string(p, "mobile_phone");
		nc = jv_string(p, "nation_code");
		if (qcloud_number(r[i].given, *nc != '\0' ? nc : "86",
		    &r[i]) == -1) {
			qcloud_rcpt_set(&r[i], 0, json_object_new_int(-1),
			    "no usable mobile phone");
			continue;
		}
		json_object_object_add(r[i].out, "nation_code",
		    json_object_new_string(r[i].nc));
		built = api == QCLOUD_V5 ?
		    voice_v5_build(cx, &qc[ncalls], &r[i], text) :
		    voice_tc3_build(cx, &qc[ncalls], &r[i], params);
		if (built == -1) {
			log_warnx("%s: voice: the request could not be signed",
			    cx->request_id);
			reply_component_error(rp);
			goto out;
		}
		hcs[ncalls] = &qc[ncalls].hc;
		who[ncalls++] = i;
	}
	http_run_all(cx->conf, hcs, ncalls);
	for (i = 0; i < ncalls; i++) {
		doc = qcloud_reply(&qc[i], detail, sizeof(detail));
		if (doc == NULL) {
			qcloud_rcpt_set(&r[who[i]], 0, json_object_new_int(-1),
			    detail);
			qcloud_rcpt_call(&r[who[i]], &qc[i].hc);
			if (transport[0] == '\0') {
				str_copy(transport, detail, sizeof(transport));
				ssl = http_is_ssl(qc[i].hc.cc);
			}
		} else if (api == QCLOUD_V5)
			voice_v5_parse(cx, doc, &r[who[i]]);
		else
			voice_tc3_parse(cx, doc, &r[who[i]]);
		json_object_put(doc);
	}
	qcloud_finish(cx, rp, r, n, "voice", "username", api == QCLOUD_V5 ?
	    VOICE_V5_IFACE : VOICE_TC3_IFACE, transport[0] != '\0' ?
	    transport : NULL, ssl);
out:
	for (i = 0; i < n + 1; i++) {
		json_object_put(r[i].out);
		qcloud_call_free(&qc[i]);
	}
	json_object_put(params);
	json_object_put(only);
	free(who);
	free(hcs);
	free(qc);
	free(r);
}
