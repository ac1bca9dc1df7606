/*
 * What Tencent Cloud SMS and voice share (API 3.0 and v5): which API
 * a component speaks, phone numbers split into nation code and number,
 * the template parameters API 3.0 needs, one signed call of either
 * generation, and the reply a request gets from per-number outcomes.
 *
 * API 3.0 only sends approved templates, so the free text a caller
 * gives fills the parameters of one template the operator had approved
 * for the purpose (qcloud_sms_template_id, qcloud_voice_template_id).
 * By default that template has one parameter, {1}, which receives the
 * whole text: e.g. an SMS template "{1}" or "BlueKing alert: {1}".
 * Where Tencent caps the length of a parameter (12 characters for
 * individual accounts), approve a template of several parameters and
 * set qcloud_template_params to their count and
 * qcloud_template_param_len to the cap: the text is then cut into
 * pieces of at most that many characters filling {1}, {2}, ... in
 * order, unused ones empty.  A text longer than they hold is refused
 * before anything is sent.  The SMS signature travels in SignName
 * (qcloud_sms_sign), never in the text.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/http.h"
#include "core/log.h"
#include "core/outcome.h"
#include "core/request.h"
#include "lib/util.h"
#include "qcloud.h"
#include "tc3.h"

#define QCLOUD_CT	"application/json; charset=utf-8"

/*
 * qcloud_api names it; without it, the legacy keys choose v5 and the
 * API 3.0 keys choose tc3, as the seed's keys are the v5 ones.
 */
enum qcloud_api
qcloud_api(json_object *sec)
{
	const char	*api = conf_str(sec, "qcloud_api");

	if (strcmp(api, "tc3") == 0)
		return QCLOUD_TC3;
	if (strcmp(api, "v5") == 0)
		return QCLOUD_V5;
	if (*conf_str(sec, "qcloud_app_id") != '\0' &&
	    *conf_str(sec, "qcloud_app_key") != '\0')
		return QCLOUD_V5;
	return QCLOUD_TC3;
}

/*
 * The length of the E.164 country code that starts s.  Country codes
 * are prefix-free: 1 and 7 stand alone, the two-digit ones are listed,
 * every other code has three digits.
 */
static size_t
qcloud_cc_len(const char *s)
{
	static const char *const two[] = {
		"20", "27", "30", "31", "32", "33", "34", "36", "39", "40",
		"41", "43", "44", "45", "46", "47", "48", "49", "51", "52",
		"53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
		"64", "65", "66", "81", "82", "84", "86", "90", "91", "92",
		"93", "94", "95", "98", NULL
	};
	size_t	 i;

	if (s[0] == '1' || s[0] == '7')
		return 1;
	for (i = 0; two[i] != NULL; i++)
		if (strncmp(s, two[i], 2) == 0)
			return 2;
	return 3;
}

static int
qcloud_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/*
 * Splits a number as the contract takes it: digits only is a number of
 * nation code defnc (86 unless the person says otherwise), E.164
 * "+<cc><number>" carries its own.  Returns 0, or -1 when it is neither.
 */
int
qcloud_number(const char *given, const char *defnc, struct qcloud_rcpt *r)
{
	const char	*p = given;
	size_t		 cc;

	memset(r->nc, 0, sizeof(r->nc));
	r->mobile[0] = r->e164[0] = '\0';
	if (*p == '+') {
		p++;
		if (!qcloud_digits(p) || p[0] == '0')
			return -1;
		cc = qcloud_cc_len(p);
		if (strlen(p) <= cc)
			return -1;
		memcpy(r->nc, p, cc);
		p += cc;
	} else {
		if (!qcloud_digits(p) || !qcloud_digits(defnc) ||
		    str_copy(r->nc, defnc, sizeof(r->nc)) == -1)
			return -1;
	}
	if (str_copy(r->mobile, p, sizeof(r->mobile)) == -1 ||
	    (size_t)snprintf(r->e164, sizeof(r->e164), "+%s%s", r->nc,
	    r->mobile) >= sizeof(r->e164))
		return -1;
	return 0;
}

/* The byte length of the first max code points of s. */
static size_t
qcloud_chars(const char *s, size_t max)
{
	size_t	 i = 0, n = 0;

	while (s[i] != '\0') {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (n == max)
				break;
			n++;
		}
		i++;
	}
	return i;
}

/*
 * TemplateParamSet for text (see the top of this file).  Returns a new
 * array, or NULL with rp set when the text does not fit.
 */
json_object *
qcloud_params(json_object *sec, const char *text, struct reply *rp)
{
	json_object	*a;
	long		 np, len, i;
	size_t		 k;

	np = conf_int(sec, "qcloud_template_params", 1);
	len = conf_int(sec, "qcloud_template_param_len", 0);
	if (np < 1)
		np = 1;
	if (np > 32)
		np = 32;
	a = json_object_new_array();
	for (i = 0; i < np; i++) {
		k = len > 0 ? qcloud_chars(text, (size_t)len) : strlen(text);
		json_object_array_add(a, json_object_new_string_len(text,
		    (int)k));
		text += k;
	}
	if (*text != '\0') {
		json_object_put(a);
		reply_fail(rp, CODE_COMMON, "The message is longer than the "
		    "approved template holds: %ld parameters of at most %ld "
		    "characters", np, len);
		return NULL;
	}
	return a;
}

static const char *
qcloud_json(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

/*
 * A v5 call to https://<hostpath>?sdkappid=&random=: body gains time
 * and the sig over the URL's random and mobiles (comma-joined, body
 * order).  Returns 0, or -1 when a value is too long to sign.
 */
int
qcloud_v5_call(struct qcloud_call *qc, json_object *sec, const char *hostpath,
    const char *mobiles, json_object *body, const char *request_id)
{
	char		 rnd[16], sig[TC3_HEX];
	long long	 now = (long long)time(NULL);
	const char	*s;
	int		 n;

	snprintf(rnd, sizeof(rnd), "%u", 100000 + arc4random_uniform(900000));
	n = snprintf(qc->url, sizeof(qc->url), "https://%s?sdkappid=%s&"
	    "random=%s", hostpath, conf_str(sec, "qcloud_app_id"), rnd);
	if (n < 0 || (size_t)n >= sizeof(qc->url) ||
	    strcspn(conf_str(sec, "qcloud_app_id"), "&?#/ \r\n") !=
	    strlen(conf_str(sec, "qcloud_app_id")) ||
	    tc3_v5sig(conf_str(sec, "qcloud_app_key"), rnd, now, mobiles,
	    sig) == -1) {
		log_warnx("%s: qcloud: v5 app id or key unusable", request_id);
		return -1;
	}
	json_object_object_add(body, "time", json_object_new_int64(now));
	json_object_object_add(body, "sig", json_object_new_string(sig));
	explicit_bzero(sig, sizeof(sig));
	s = qcloud_json(body);
	qc->body = xstrdup(s);
	qc->hc.method = "POST";
	qc->hc.url = qc->url;
	qc->hc.body = qc->body;
	qc->hc.bodylen = strlen(qc->body);
	snprintf(qc->hdr[0], sizeof(qc->hdr[0]), "Content-Type: %s",
	    "application/json");
	qc->hc.headers[0] = qc->hdr[0];
	return 0;
}

/*
 * An API 3.0 call to https://<service>.tencentcloudapi.com/, signed
 * with TC3 over the very bytes it sends.  Returns 0 or -1.
 */
int
qcloud_tc3_call(struct qcloud_call *qc, json_object *sec, const char *service,
    const char *action, const char *version, json_object *body)
{
	struct tc3_req	 tr;
	struct tc3_sig	 ts;
	char		 host[64];
	const char	*region = conf_str(sec, "qcloud_region");
	size_t		 i = 0;
	int		 rc = -1;

	if (*region == '\0')
		region = "ap-guangzhou";
	snprintf(host, sizeof(host), "%s.tencentcloudapi.com", service);
	snprintf(qc->url, sizeof(qc->url), "https://%s/", host);
	qc->body = xstrdup(qcloud_json(body));
	memset(&tr, 0, sizeof(tr));
	tr.secret_id = conf_str(sec, "qcloud_secret_id");
	tr.secret_key = conf_str(sec, "qcloud_secret_key");
	tr.service = service;
	tr.host = host;
	tr.content_type = QCLOUD_CT;
	tr.body = qc->body;
	tr.bodylen = strlen(qc->body);
	tr.timestamp = (long long)time(NULL);
	if (strcspn(tr.secret_id, "\r\n,/ ") != strlen(tr.secret_id) ||
	    strcspn(region, "\r\n") != strlen(region) ||
	    tc3_sign(&tr, &ts) == -1)
		goto out;
	snprintf(qc->hdr[i++], sizeof(qc->hdr[0]), "Content-Type: %s",
	    QCLOUD_CT);
	snprintf(qc->hdr[i++], sizeof(qc->hdr[0]), "Authorization: %s",
	    ts.authorization);
	snprintf(qc->hdr[i++], sizeof(qc->hdr[0]), "X-TC-Action: %s", action);
	snprintf(qc->hdr[i++], sizeof(qc->hdr[0]), "X-TC-Version: %s",
	    version);
	snprintf(qc->hdr[i++], sizeof(qc->hdr[0]), "X-TC-Timestamp: %lld",
	    tr.timestamp);
	snprintf(qc->hdr[i++], sizeof(qc->hdr[0]), "X-TC-Region: %.64s",
	    region);
	while (i > 0) {
		i--;
		qc->hc.headers[i] = qc->hdr[i];
	}
	qc->hc.method = "POST";
	qc->hc.url = qc->url;
	qc->hc.body = qc->body;
	qc->hc.bodylen = tr.bodylen;
	rc = 0;
out:
	explicit_bzero(&ts, sizeof(ts));
	return rc;
}

/*
 * The JSON object a call brought back, or NULL with the contract's
 * wording of what went wrong in detail (caller puts).
 */
json_object *
qcloud_reply(struct qcloud_call *qc, char *detail, size_t detailsz)
{
	json_object	*doc = NULL;

	if (qc->hc.cc == CURLE_OK && qc->hc.status == 200)
		doc = jv_parse(qc->hc.reply.ptr != NULL ?
		    qc->hc.reply.ptr : "", qc->hc.reply.len);
	if (doc != NULL && json_object_is_type(doc, json_type_object))
		return doc;
	json_object_put(doc);
	http_detail(&qc->hc, detail, detailsz);
	return NULL;
}

/*
 * Frees what qc owns; the array it sits in is freed next.  The headers
 * carried a signature, so they are wiped, but only as far as they were
 * written: they were zeroed when allocated.  Wiping and clearing all of
 * every call's 4.5 KB, used or not, was 2.5% of a send_sms's instructions.
 */
void
qcloud_call_free(struct qcloud_call *qc)
{
	size_t	 i;

	http_call_free(&qc->hc);
	free(qc->body);
	free(qc->idx);
	qc->body = NULL;
	qc->idx = NULL;
	for (i = 0; i < sizeof(qc->hdr) / sizeof(qc->hdr[0]); i++)
		explicit_bzero(qc->hdr[i], strnlen(qc->hdr[i],
		    sizeof(qc->hdr[i])));
}

/*
 * The reply of a request from its recipients' outcomes: all sent is
 * "OK"; a transport failure of any call is the contract's 1306201;
 * otherwise "Some users failed to send <what>. <names>" where names
 * are the namekey of each failed entry.  data is {successed, failed}
 * either way, from the nr outcomes in r.
 */
void
qcloud_finish(struct ctx *cx, struct reply *rp, const struct qcloud_rcpt *r,
    size_t nr, const char *what, const char *namekey, const char *sysiface,
    const char *transport, int ssl)
{
	json_object	*data, *v, *successed, *failed;
	char		 names[LIM_MESSAGE / 2];
	size_t		 i, n = 0;
	int		 k;

	successed = json_object_new_array();
	failed = json_object_new_array();
	for (i = 0; i < nr; i++) {
		json_object_array_add(r[i].ok ? successed : failed,
		    json_object_get(r[i].out));
		/* For the spool: Tencent's word per number (outcome.c). */
		outcome_add(cx->oc, r[i].given, r[i].ok ? OC_OK : r[i].cls !=
		    OC_NONE ? (enum outcome_cls)r[i].cls : outcome_qcloud(
		    json_object_object_get(r[i].out, "result"), jv_string(
		    r[i].out, "errmsg")), r[i].after);
	}
	data = json_object_new_object();
	json_object_object_add(data, "successed", successed);
	json_object_object_add(data, "failed", failed);
	names[0] = '\0';
	for (i = 0; i < json_object_array_length(failed); i++) {
		v = json_object_object_get(json_object_array_get_idx(failed,
		    i), namekey);
		k = snprintf(names + n, sizeof(names) - n, "%s%s",
		    n > 0 ? "," : "", v != NULL ? json_object_get_string(v) :
		    "");
		if (k < 0 || (size_t)k >= sizeof(names) - n)
			break;
		n += (size_t)k;
	}
	if (transport != NULL) {
		/* A certificate we do not trust is ESB's 1306203, as for WeChat. */
		reply_fail(rp, ssl ? CODE_SSL : CODE_THIRD_PARTY, "Component "
		    "request third-party system %s error: %s, please try "
		    "again later or contact component developer to handle "
		    "this", sysiface, transport);
		log_warnx("%s: %s: %s", cx->request_id, what, transport);
	} else if (json_object_array_length(failed) > 0)
		reply_fail(rp, CODE_COMMON, "Some users failed to send %s. %s",
		    what, names);
	else
		reply_ok(rp, "OK");
	reply_data(rp, data);
}

/*
 * A call that brought no usable answer: what its transport says, for
 * the spool.  An HTTP 200 we could not read is worth another try.
 */
void
qcloud_rcpt_call(struct qcloud_rcpt *r, const struct http_call *hc)
{
	enum outcome_cls	 c = outcome_http(hc->cc, hc->status);

	r->cls = c == OC_OK ? OC_TRANSIENT : c;
	r->after = hc->retry_after;
}

/* Records a number's outcome; result is taken. */
void
qcloud_rcpt_set(struct qcloud_rcpt *r, int ok, json_object *result,
    const char *errmsg)
{
	r->ok = ok;
	r->used = 1;
	json_object_object_add(r->out, "result", result);
	json_object_object_add(r->out, "errmsg",
	    json_object_new_string(errmsg != NULL ? errmsg : ""));
}
