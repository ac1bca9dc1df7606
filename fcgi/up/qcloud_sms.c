/*
 * SMS through Tencent Cloud (SendSms, sendmultisms2).  Numbers are grouped by
 * nation code, since one call may not mix them, and each group goes
 * out in calls of at most 200; all calls of a request run at once.
 * v5 sends the rendered text with sendmultisms2; API 3.0 sends SendSms
 * with the text as the approved template's parameters (qcloud.c).
 * Every number gets its own outcome in data: Tencent answers per
 * number (detail[], SendStatusSet[]), and one refused number fails the
 * request by name while the others are sent.
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
#include "qcloud_sms.h"

#define SMS_V5_HOSTPATH	"yun.tim.qq.com/v5/tlssmssvr/sendmultisms2"
#define SMS_V5_IFACE	"[QCLOUD_SMS] interface [send_multi_sms]"
#define SMS_TC3_IFACE	"[QCLOUD_SMS] interface [SendSms]"

/* Copies key of from into a number's entry, when present. */
static void
sms_copy(struct qcloud_rcpt *r, const char *tk, json_object *from,
    const char *fk)
{
	json_object	*v;

	if (json_object_object_get_ex(from, fk, &v) && v != NULL)
		json_object_object_add(r->out, tk, json_object_get(v));
}

/*
 * Groups the numbers still open into calls: one nation code per call,
 * at most QCLOUD_BATCH numbers.  Returns how many calls were filled.
 */
static size_t
sms_group(struct qcloud_rcpt *r, size_t n, struct qcloud_call *qc)
{
	char	*taken;
	size_t	 i, j, nc = 0;

	taken = xcalloc(n, 1);
	for (i = 0; i < n; i++) {
		if (r[i].used || taken[i])
			continue;
		for (j = i; j < n; j++) {
			if (r[j].used || taken[j] ||
			    strcmp(r[j].nc, r[i].nc) != 0)
				continue;
			if (qc[nc].idx == NULL)
				qc[nc].idx = xcalloc(QCLOUD_BATCH,
				    sizeof(size_t));
			qc[nc].idx[qc[nc].n++] = j;
			taken[j] = 1;
			if (qc[nc].n == QCLOUD_BATCH)
				nc++;
		}
		if (qc[nc].n > 0)
			nc++;
	}
	free(taken);
	return nc;
}

static int
sms_v5_build(struct ctx *cx, struct qcloud_call *qc, struct qcloud_rcpt *r,
    const char *text)
{
	json_object	*body, *tel, *t;
	struct buf	 mob;
	size_t		 i;
	int		 rc = -1;

	buf_init(&mob, LIM_V5_SIGTEXT);
	body = json_object_new_object();
	tel = json_object_new_array();
	for (i = 0; i < qc->n; i++) {
		t = json_object_new_object();
		json_object_object_add(t, "nationcode",
		    json_object_new_string(r[qc->idx[i]].nc));
		json_object_object_add(t, "mobile",
		    json_object_new_string(r[qc->idx[i]].mobile));
		json_object_array_add(tel, t);
		if (buf_printf(&mob, "%s%s", i > 0 ? "," : "",
		    r[qc->idx[i]].mobile) == -1)
			goto out;
	}
	json_object_object_add(body, "tel", json_object_get(tel));
	json_object_object_add(body, "type", json_object_new_int(0));
	json_object_object_add(body, "msg", json_object_new_string(text));
	json_object_object_add(body, "extend", json_object_new_string(""));
	json_object_object_add(body, "ext", json_object_new_string(""));
	rc = qcloud_v5_call(qc, cx->section, SMS_V5_HOSTPATH,
	    mob.ptr != NULL ? mob.ptr : "", body, cx->request_id);
out:
	json_object_put(tel);
	json_object_put(body);
	buf_free(&mob);
	return rc;
}

static int
sms_tc3_build(struct ctx *cx, struct qcloud_call *qc, struct qcloud_rcpt *r,
    json_object *params)
{
	json_object	*body, *set;
	size_t		 i;
	int		 rc;

	body = json_object_new_object();
	set = json_object_new_array();
	for (i = 0; i < qc->n; i++)
		json_object_array_add(set,
		    json_object_new_string(r[qc->idx[i]].e164));
	json_object_object_add(body, "PhoneNumberSet", set);
	json_object_object_add(body, "SmsSdkAppId", json_object_new_string(
	    conf_str(cx->section, "qcloud_sms_sdk_app_id")));
	json_object_object_add(body, "SignName", json_object_new_string(
	    conf_str(cx->section, "qcloud_sms_sign")));
	json_object_object_add(body, "TemplateId", json_object_new_string(
	    conf_str(cx->section, "qcloud_sms_template_id")));
	json_object_object_add(body, "TemplateParamSet",
	    json_object_get(params));
	json_object_object_add(body, "SessionContext",
	    json_object_new_string(cx->request_id));
	rc = qcloud_tc3_call(qc, cx->section, "sms", "SendSms", "2021-01-11",
	    body);
	json_object_put(body);
	return rc;
}

/* Every number of a call failed together for one reason. */
static void
sms_call_failed(struct qcloud_call *qc, struct qcloud_rcpt *r,
    json_object *code, const char *errmsg)
{
	size_t	 i;

	for (i = 0; i < qc->n; i++)
		qcloud_rcpt_set(&r[qc->idx[i]], 0,
		    json_object_get(code), errmsg);
	json_object_put(code);
}

/*
 * v5: top-level result 0 then detail[] per number, matched on nation
 * code and mobile; a non-zero result (or the ErrorCode body BlueKing
 * also checked) fails the whole call.
 */
static void
sms_v5_parse(struct ctx *cx, struct qcloud_call *qc, json_object *doc,
    struct qcloud_rcpt *r)
{
	json_object	*v, *det, *e, *res;
	char		 used[QCLOUD_BATCH];
	size_t		 i, j, nd;
	const char	*m, *nc;

	if (json_object_object_get_ex(doc, "ErrorCode", &v) && v != NULL) {
		sms_call_failed(qc, r, json_object_get(v),
		    json_object_get_string(json_object_object_get(doc,
		    "ErrorInfo")));
		return;
	}
	if (!json_object_object_get_ex(doc, "result", &res) ||
	    !json_object_is_type(res, json_type_int)) {
		sms_call_failed(qc, r, json_object_new_int(-1),
		    "unknown answer");
		return;
	}
	if (json_object_get_int(res) != 0) {
		log_warnx("%s: sms: sendmultisms2 result %d", cx->request_id,
		    json_object_get_int(res));
		sms_call_failed(qc, r, json_object_get(res),
		    json_object_get_string(json_object_object_get(doc,
		    "errmsg")));
		return;
	}
	memset(used, 0, sizeof(used));
	det = json_object_object_get(doc, "detail");
	nd = json_object_is_type(det, json_type_array) ?
	    json_object_array_length(det) : 0;
	if (nd > QCLOUD_BATCH)
		nd = QCLOUD_BATCH;
	for (i = 0; i < qc->n; i++) {
		for (j = 0; j < nd; j++) {
			e = json_object_array_get_idx(det, j);
			m = json_object_get_string(json_object_object_get(e,
			    "mobile"));
			nc = json_object_get_string(json_object_object_get(e,
			    "nationcode"));
			if (!used[j] && m != NULL &&
			    strcmp(m, r[qc->idx[i]].mobile) == 0 &&
			    (nc == NULL || strcmp(nc, r[qc->idx[i]].nc) == 0))
				break;
		}
		if (j == nd) {
			qcloud_rcpt_set(&r[qc->idx[i]], 0,
			    json_object_new_int(-1),
			    "no result for this number");
			continue;
		}
		used[j] = 1;
		res = json_object_object_get(e, "result");
		qcloud_rcpt_set(&r[qc->idx[i]], json_object_is_type(res,
		    json_type_int) && json_object_get_int(res) == 0,
		    json_object_get(res), json_object_get_string(
		    json_object_object_get(e, "errmsg")));
		sms_copy(&r[qc->idx[i]], "sid", e, "sid");
		sms_copy(&r[qc->idx[i]], "fee", e, "fee");
	}
}

/*
 * API 3.0: Response.Error fails the whole call; otherwise each
 * SendStatusSet[] entry, matched on the E.164 number, says "Ok" or
 * its error code.
 */
static void
sms_tc3_parse(struct ctx *cx, struct qcloud_call *qc, json_object *doc,
    struct qcloud_rcpt *r)
{
	json_object	*resp, *err, *set, *e, *code;
	char		 used[QCLOUD_BATCH];
	size_t		 i, j, nd;
	const char	*p, *c;

	if (!json_object_object_get_ex(doc, "Response", &resp) ||
	    !json_object_is_type(resp, json_type_object)) {
		sms_call_failed(qc, r, json_object_new_int(-1),
		    "unknown answer");
		return;
	}
	if (json_object_object_get_ex(resp, "Error", &err) && err != NULL) {
		c = json_object_get_string(json_object_object_get(err, "Code"));
		log_warnx("%s: sms: SendSms %s", cx->request_id,
		    c != NULL ? c : "?");
		sms_call_failed(qc, r, json_object_new_string(c != NULL ? c :
		    "?"), json_object_get_string(json_object_object_get(err,
		    "Message")));
		for (i = 0; i < qc->n; i++)
			sms_copy(&r[qc->idx[i]], "request_id", resp,
			    "RequestId");
		return;
	}
	memset(used, 0, sizeof(used));
	set = json_object_object_get(resp, "SendStatusSet");
	nd = json_object_is_type(set, json_type_array) ?
	    json_object_array_length(set) : 0;
	if (nd > QCLOUD_BATCH)
		nd = QCLOUD_BATCH;
	for (i = 0; i < qc->n; i++) {
		for (j = 0; j < nd; j++) {
			e = json_object_array_get_idx(set, j);
			p = json_object_get_string(json_object_object_get(e,
			    "PhoneNumber"));
			if (!used[j] && p != NULL &&
			    strcmp(p, r[qc->idx[i]].e164) == 0)
				break;
		}
		if (j == nd) {
			qcloud_rcpt_set(&r[qc->idx[i]], 0,
			    json_object_new_int(-1),
			    "no result for this number");
			continue;
		}
		used[j] = 1;
		code = json_object_object_get(e, "Code");
		c = json_object_get_string(code);
		if (c != NULL && strcmp(c, "Ok") == 0)
			qcloud_rcpt_set(&r[qc->idx[i]], 1,
			    json_object_new_int(0),
			    json_object_get_string(json_object_object_get(e,
			    "Message")));
		else
			qcloud_rcpt_set(&r[qc->idx[i]], 0,
			    json_object_new_string(
			    c != NULL ? c : "?"), json_object_get_string(
			    json_object_object_get(e, "Message")));
		sms_copy(&r[qc->idx[i]], "sid", e, "SerialNo");
		sms_copy(&r[qc->idx[i]], "fee", e, "Fee");
		sms_copy(&r[qc->idx[i]], "request_id", resp, "RequestId");
	}
}

/*
 * Sends text to numbers (users, when not NULL, are the usernames behind
 * them).  Sets rp: "OK", a failure naming the numbers Tencent refused,
 * or 1306201 when a call failed in transport; data lists every number
 * under successed or failed with Tencent's per-number answer.
 */
void
qcloud_sms_send(struct ctx *cx, json_object *numbers, json_object *users,
    const char *text, struct reply *rp)
{
	struct qcloud_rcpt	*r;
	struct qcloud_call	*qc;
	struct http_call	**hcs;
	json_object		*params = NULL, *doc;
	json_object		*fn = NULL, *fu = NULL;
	enum qcloud_api		 api = qcloud_api(cx->section);
	char			 detail[256], transport[256];
	int			 ssl = 0;
	size_t			 n, nc, i, j;
	int			 built;

	/* A retry sends to the numbers still pending only (outcome.c). */
	if (cx->oc != NULL && cx->oc->want != NULL) {
		fn = json_object_new_array();
		fu = users != NULL ? json_object_new_array() : NULL;
		for (i = 0; i < json_object_array_length(numbers); i++) {
			if (!outcome_want(cx->oc, json_object_get_string(
			    json_object_array_get_idx(numbers, i))))
				continue;
			json_object_array_add(fn, json_object_get(
			    json_object_array_get_idx(numbers, i)));
			if (fu != NULL)
				json_object_array_add(fu, json_object_get(
				    json_object_array_get_idx(users, i)));
		}
		numbers = fn;
		users = fu;
	}
	n = json_object_array_length(numbers);
	r = xcalloc(n + 1, sizeof(*r));
	qc = xcalloc(n + 1, sizeof(*qc));
	hcs = xcalloc(n + 1, sizeof(*hcs));
	transport[0] = '\0';
	if (api == QCLOUD_TC3 &&
	    (params = qcloud_params(cx->section, text, rp)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		r[i].given = json_object_get_string(
		    json_object_array_get_idx(numbers, i));
		r[i].out = json_object_new_object();
		json_object_object_add(r[i].out, "receiver",
		    json_object_new_string(r[i].given));
		if (users != NULL)
			json_object_object_add(r[i].out, "username",
			    json_object_get(json_object_array_get_idx(users,
			    i)));
		if (qcloud_number(r[i].given, "86", &r[i]) == -1) {
			qcloud_rcpt_set(&r[i], 0, json_object_new_int(-1),
			    "not a phone number");
			continue;
		}
		json_object_object_add(r[i].out, "nationcode",
		    json_object_new_string(r[i].nc));
		json_object_object_add(r[i].out, "mobile",
		    json_object_new_string(r[i].mobile));
	}
	nc = sms_group(r, n, qc);
	for (i = 0; i < nc; i++) {
		built = api == QCLOUD_V5 ? sms_v5_build(cx, &qc[i], r, text) :
		    sms_tc3_build(cx, &qc[i], r, params);
		if (built == -1) {
			log_warnx("%s: sms: the request could not be signed",
			    cx->request_id);
			reply_component_error(rp);
			goto out;
		}
		hcs[i] = &qc[i].hc;
	}
	http_run_all(cx->conf, hcs, nc);
	for (i = 0; i < nc; i++) {
		doc = qcloud_reply(&qc[i], detail, sizeof(detail));
		if (doc == NULL) {
			sms_call_failed(&qc[i], r, json_object_new_int(-1),
			    detail);
			for (j = 0; j < qc[i].n; j++)
				qcloud_rcpt_call(&r[qc[i].idx[j]], &qc[i].hc);
			if (transport[0] == '\0') {
				str_copy(transport, detail, sizeof(transport));
				ssl = http_is_ssl(qc[i].hc.cc);
			}
		} else if (api == QCLOUD_V5)
			sms_v5_parse(cx, &qc[i], doc, r);
		else
			sms_tc3_parse(cx, &qc[i], doc, r);
		json_object_put(doc);
	}
	qcloud_finish(cx, rp, r, n, "sms", "receiver", api == QCLOUD_V5 ?
	    SMS_V5_IFACE : SMS_TC3_IFACE, transport[0] != '\0' ? transport :
	    NULL, ssl);
out:
	for (i = 0; i < n + 1; i++) {
		json_object_put(r[i].out);
		qcloud_call_free(&qc[i]);
	}
	json_object_put(params);
	json_object_put(fn);
	json_object_put(fu);
	free(hcs);
	free(qc);
	free(r);
}
