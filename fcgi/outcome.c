/*
 * Transient or permanent: what each upstream's answer means for a
 * retry, one table per channel, and the per-recipient record a handler
 * run leaves for the spool (spool.c).  Transient is what a later try
 * can fix: no connection, a timeout, a cut TLS handshake, HTTP 5xx and
 * 429, SMTP 4xx, "busy" and frequency codes, a token still refused
 * after its one refresh.  Everything else (bad address, unknown user,
 * credentials, configuration, templates, certificates) is permanent:
 * retrying would only repeat the failure.
 */
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "custom.h"
#include "outcome.h"
#include "up/wx.h"

void
outcome_init(struct outcome *oc)
{
	memset(oc, 0, sizeof(*oc));
	oc->got = json_object_new_object();
}

void
outcome_free(struct outcome *oc)
{
	json_object_put(oc->want);
	json_object_put(oc->got);
	memset(oc, 0, sizeof(*oc));
}

/* Records what happened to rcpt; the last word about it stands. */
void
outcome_add(struct outcome *oc, const char *rcpt, enum outcome_cls c,
    long after)
{
	json_object	*e;

	if (oc == NULL || rcpt == NULL || *rcpt == '\0' || c == OC_NONE)
		return;
	e = json_object_new_array();
	json_object_array_add(e, json_object_new_int(c));
	json_object_array_add(e, json_object_new_int64(after));
	json_object_object_add(oc->got, rcpt, e);
}

/* The class of every recipient nobody recorded one for. */
void
outcome_all(struct outcome *oc, enum outcome_cls c, long after)
{
	if (oc == NULL)
		return;
	oc->all = c;
	oc->all_after = after;
}

/* Whether this run may send to rcpt (a retry sends to the rest only). */
int
outcome_want(const struct outcome *oc, const char *rcpt)
{
	if (oc == NULL || oc->want == NULL)
		return 1;
	return json_object_object_get_ex(oc->want, rcpt, NULL);
}

/*
 * The entries of list this run may send to, as a new array; NULL when
 * it may send to all of them.  Entries are strings, or objects whose
 * member key names the recipient.  Caller puts.
 */
json_object *
outcome_filter(const struct outcome *oc, json_object *list, const char *key)
{
	json_object	*out, *v, *k;
	size_t		 i;

	if (oc == NULL || oc->want == NULL ||
	    !json_object_is_type(list, json_type_array))
		return NULL;
	out = json_object_new_array();
	for (i = 0; i < json_object_array_length(list); i++) {
		v = json_object_array_get_idx(list, i);
		k = v;
		if (key != NULL && !json_object_object_get_ex(v, key, &k))
			continue;
		if (outcome_want(oc, json_object_get_string(k)))
			json_object_array_add(out, json_object_get(v));
	}
	return out;
}

/* What the run said of rcpt, with its Retry-After in *after. */
enum outcome_cls
outcome_of(const struct outcome *oc, const char *rcpt, long *after)
{
	json_object	*v;

	*after = 0;
	if (json_object_object_get_ex(oc->got, rcpt, &v)) {
		*after = (long)json_object_get_int64(
		    json_object_array_get_idx(v, 1));
		return (enum outcome_cls)json_object_get_int(
		    json_object_array_get_idx(v, 0));
	}
	*after = oc->all_after;
	return oc->all;
}

const char *
outcome_name(enum outcome_cls c)
{
	static const char *const names[OC__MAX] = {
		"none", "ok", "transient", "permanent"
	};

	return c < OC__MAX ? names[c] : "none";
}

/*
 * libcurl's verdict when no answer came: the network or the far end
 * may recover, a certificate or a protocol mismatch will not.
 */
static enum outcome_cls
transport(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return OC_TRANSIENT;
	default:
		return OC_PERMANENT;
	}
}

/* HTTP: an answer's status, or libcurl's verdict without one. */
enum outcome_cls
outcome_http(CURLcode cc, long status)
{
	if (status == 0)
		return cc == CURLE_OK ? OC_TRANSIENT : transport(cc);
	if (status == 408 || status == 429 || status >= 500)
		return OC_TRANSIENT;
	if (status >= 200 && status < 300)
		return OC_OK;
	return OC_PERMANENT;
}

/*
 * SMTP: a 4xx reply is the server's own "try again later" (RFC 5321
 * 4.2.1), 5xx is final; without a reply, libcurl's verdict.  A refused
 * login or a server without the TLS we require is configuration.
 */
enum outcome_cls
outcome_smtp(CURLcode cc, long code)
{
	if (code >= 200 && code < 300 && cc == CURLE_OK)
		return OC_OK;
	if (code >= 400 && code < 500)
		return OC_TRANSIENT;
	if (code >= 500)
		return OC_PERMANENT;
	return transport(cc);
}

/*
 * WeCom and the Official Account: -1 busy, 45009 frequency (or the
 * MP's daily quota), 45033 concurrency, 43117 one openid too often,
 * and token errors still there after the one refresh.  On the MP,
 * 40001 is a stale token when sending but a wrong secret when fetching
 * one; on WeCom it is always the secret.
 */
enum outcome_cls
outcome_wx(const struct wx_err *e)
{
	switch (e->kind) {
	case WX_OK:
		return OC_OK;
	case WX_TRANSPORT:
		return outcome_http(e->cc, e->status);
	case WX_BADREPLY:
		/* A proxy's error page in place of the API's JSON. */
		return OC_TRANSIENT;
	default:
		break;
	}
	switch (e->errcode) {
	case -1:
	case 45009:
	case 45033:
	case 43117:
	case 40014:
	case 42001:
	case 41001:
		return OC_TRANSIENT;
	case 40001:
		if (e->sys != NULL && strcmp(e->sys, "WEIXIN_QY") != 0 &&
		    e->iface != NULL && strcmp(e->iface, "get_token") != 0)
			return OC_TRANSIENT;
		return OC_PERMANENT;
	default:
		return OC_PERMANENT;
	}
}

/* Tencent API 3.0 codes a later try can pass. */
static const char *const tc3_transient[] = {
	"InternalError.Timeout", "InternalError.SendAndRecvFail",
	"InternalError.RestApiInterfaceNotExist",
	"InternalError.OtherError", "InternalError",
	"RequestLimitExceeded", "LimitExceeded.PhoneNumberThirtySecondLimit",
	"LimitExceeded.PhoneNumberOneHourLimit",
	"LimitExceeded.DeliveryFrequencyLimit", "LimitExceeded.FrequencyLimit",
	"ResourceUnavailable", NULL
};

/*
 * Tencent Cloud, one number: v5's integer result (1008 timeout, 1013
 * frequency, 1023/1024 per-number 30 s and hourly caps), API 3.0's
 * code string, or our own -1 for an answer that named no result for
 * the number (transient) or a number we could not read (permanent).
 */
enum outcome_cls
outcome_qcloud(json_object *result, const char *errmsg)
{
	const char	*c;
	size_t		 i;

	if (json_object_is_type(result, json_type_int)) {
		switch (json_object_get_int(result)) {
		case 0:
			return OC_OK;
		case 1008:
		case 1013:
		case 1023:
		case 1024:
			return OC_TRANSIENT;
		case -1:
			if (errmsg != NULL &&
			    strcmp(errmsg, "not a phone number") == 0)
				return OC_PERMANENT;
			return OC_TRANSIENT;
		default:
			return OC_PERMANENT;
		}
	}
	c = json_object_get_string(result);
	if (c == NULL)
		return OC_PERMANENT;
	if (strcmp(c, "Ok") == 0)
		return OC_OK;
	for (i = 0; tc3_transient[i] != NULL; i++)
		if (strcmp(c, tc3_transient[i]) == 0)
			return OC_TRANSIENT;
	return OC_PERMANENT;
}

/*
 * The group robots' answers a later try can pass (robots.md): DingTalk
 * 130101 "send too fast" and 90030 over the webhook's limit, WeCom
 * 45009 and 45033 frequency, Feishu 11232 frequency, and -1 busy on
 * DingTalk and WeCom.  What else they refuse (a bad sign, no keyword,
 * a removed robot, a malformed body) no later try can pass.  kind is a
 * custom.h custom_kind.
 */
static const struct {
	int	 kind;
	long	 code;
} robot_transient[] = {
	{ CK_DINGTALK, 130101 }, { CK_DINGTALK, 90030 }, { CK_DINGTALK, -1 },
	{ CK_WECOM, 45009 }, { CK_WECOM, 45033 }, { CK_WECOM, -1 },
	{ CK_FEISHU, 11232 },
};

enum outcome_cls
outcome_robot(int kind, long code)
{
	size_t	 i;

	if (code == 0)
		return OC_OK;
	for (i = 0; i < sizeof(robot_transient) / sizeof(robot_transient[0]);
	    i++)
		if (robot_transient[i].kind == kind &&
		    robot_transient[i].code == code)
			return OC_TRANSIENT;
	return OC_PERMANENT;
}
