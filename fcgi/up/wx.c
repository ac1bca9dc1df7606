/*
 * What WeCom (wecom.c) and the Official Account (wxmp.c) share: the
 * layout fields of send_weixin's data, reading an answer of either API
 * (HTTP 200 and JSON with errcode/errmsg, however it failed), and the
 * contract's wording of a failure.  An answer is untrusted: errmsg is
 * cleaned, capped, and withheld if it would echo a secret or a token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/conf.h"
#include "core/envelope.h"
#include "core/http.h"
#include "core/log.h"
#include "core/request.h"
#include "lib/util.h"
#include "state/store.h"
#include "wx.h"

/*
 * The fields of the layouts (templates/wecom/text, wxmp/data):
 * heading, message (base64-decoded when flagged), date (now, as ESB
 * defaults it, when absent), remark.  Caller puts.
 */
json_object *
wx_fields(json_object *data)
{
	json_object	*f, *v;
	char		*msg, now[32];
	time_t		 t = time(NULL);
	struct tm	 tm;

	f = json_object_new_object();
	msg = jv_text(data, "message", "",
	    json_object_object_get_ex(data, "is_message_base64", &v) &&
	    json_object_get_boolean(v));
	json_object_object_add(f, "heading", json_object_new_string(
	    jv_string(data, "heading")));
	json_object_object_add(f, "message", json_object_new_string(msg));
	free(msg);
	if (*jv_string(data, "date") == '\0') {
		gmtime_r(&t, &tm);
		strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_object_add(f, "date", json_object_new_string(now));
	} else
		json_object_object_add(f, "date", json_object_new_string(
		    jv_string(data, "date")));
	json_object_object_add(f, "remark", json_object_new_string(
	    jv_string(data, "remark")));
	return f;
}

/*
 * Drops control characters but newline and tab, in place: json-c would
 * send them as \u00XX, which WeCom refuses (40033).
 */
void
wx_clean(char *s)
{
	char	*o = s;

	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
			if (*s != 0x7f)
				*o++ = *s;
	*o = '\0';
}

/* errmsg of an answer: cleaned, capped, never echoing what hide holds. */
static void
errmsg_take(json_object *doc, const char *const *hide, struct wx_err *e)
{
	const char	*s = jv_string(doc, "errmsg");
	size_t		 n;

	n = utf8_cut(s, strlen(s), sizeof(e->errmsg) - 1);
	memcpy(e->errmsg, s, n);
	e->errmsg[n] = '\0';
	if (!utf8_valid(e->errmsg, n))
		snprintf(e->errmsg, sizeof(e->errmsg), "errcode %ld",
		    e->errcode);
	wx_clean(e->errmsg);
	for (; hide != NULL && *hide != NULL; hide++)
		if (**hide != '\0' && strstr(s, *hide) != NULL)
			snprintf(e->errmsg, sizeof(e->errmsg), "errcode %ld",
			    e->errcode);
}

/*
 * Reads the answer of a call that http_run or http_run_many made (rc
 * is what it returned).  Returns the JSON object (caller puts) with e
 * saying WX_OK or WX_API, or NULL with e saying why there is none.
 * hide lists strings (secrets, the token) errmsg may not repeat.
 */
json_object *
wx_answer(struct http_call *hc, int rc, const char *const *hide,
    struct wx_err *e)
{
	json_object	*doc = NULL, *v;
	long long	 code;

	e->kind = WX_TRANSPORT;
	e->errcode = 0;
	e->cc = hc->cc;
	e->status = hc->status;
	e->retry_after = hc->retry_after;
	e->errmsg[0] = '\0';
	e->ssl = rc == -1 && http_is_ssl(hc->cc);
	if (rc == -1 || hc->status != 200) {
		http_detail(hc, e->detail, sizeof(e->detail));
		return NULL;
	}
	doc = jv_parse(hc->reply.ptr != NULL ? hc->reply.ptr : "",
	    hc->reply.len);
	if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		e->kind = WX_BADREPLY;
		snprintf(e->detail, sizeof(e->detail), "interface response is "
		    "not the JSON format");
		return NULL;
	}
	e->kind = WX_OK;
	if (json_object_object_get_ex(doc, "errcode", &v) && v != NULL) {
		/* A number, as WeChat writes it: "0" is no answer of its. */
		if (!json_object_is_type(v, json_type_int) ||
		    num_parse(json_object_get_string(v), -0x7fffffffLL,
		    0x7fffffffLL, &code) == -1) {
			json_object_put(doc);
			e->kind = WX_BADREPLY;
			snprintf(e->detail, sizeof(e->detail), "interface "
			    "response has no valid errcode");
			return NULL;
		}
		e->errcode = (long)code;
	}
	if (e->errcode != 0) {
		e->kind = WX_API;
		errmsg_take(doc, hide, e);
	}
	return doc;
}

/*
 * Whether a send's answer says it was sent: errcode 0 (a number) and
 * the msgid the API gives every message it takes.  Without them the
 * answer came from something else (a proxy, a stand-in) and is no
 * success: e says so, as a reply that is not the API's.
 */
int
wx_sent(json_object *doc, struct wx_err *e)
{
	json_object	*v;

	if (doc == NULL || e->kind != WX_OK)
		return 0;
	if (!json_object_object_get_ex(doc, "errcode", &v) ||
	    !json_object_object_get_ex(doc, "msgid", &v) || v == NULL ||
	    (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_string))) {
		e->kind = WX_BADREPLY;
		snprintf(e->detail, sizeof(e->detail), "interface response "
		    "has no errcode and msgid");
		return 0;
	}
	return 1;
}

/*
 * The envelope of a failure: no answer is 1306201 (1306203 for TLS)
 * in the contract's words (4.3); an errcode is "WeChat message sending
 * failed, <errmsg>" with errcode and errmsg in data.
 */
void
wx_fail(const struct wx_err *e, const char *reqid, struct reply *rp)
{
	json_object	*d;

	if (e->kind == WX_API) {
		log_warnx("%s: %s %s: errcode %ld", reqid, e->sys, e->iface,
		    e->errcode);
		reply_fail(rp, CODE_COMMON, "WeChat message sending failed, %s",
		    e->errmsg);
		d = json_object_new_object();
		json_object_object_add(d, "errcode",
		    json_object_new_int64(e->errcode));
		json_object_object_add(d, "errmsg",
		    json_object_new_string(e->errmsg));
		reply_data(rp, d);
		return;
	}
	log_warnx("%s: %s %s: %s", reqid, e->sys, e->iface, e->detail);
	reply_fail(rp, e->ssl ? CODE_SSL : CODE_THIRD_PARTY, "Component "
	    "request third-party system [%s] interface [%s] error: %s, please "
	    "try again later or contact component developer to handle this",
	    e->sys, e->iface, e->detail);
}

/*
 * The access token of the app id/secret, from the store all workers
 * share (kind names the API); fetch(arg) runs when it must.  bad is a
 * token just refused, never handed out again (e then holds the
 * upstream's errcode that refused it, the fetch's recorded reason).
 * Returns 0, or -1 with e set (fetch sets it; a lock held past the
 * timeout is a timeout).
 */
int
wx_token(const struct conf *c, const char *kind, const char *id,
    const char *secret, const char *bad, store_fetch_fn fetch, void *arg,
    char *tok, size_t toksz, long *left, struct wx_err *e)
{
	return wx_token_from(c, kind, id, secret, 0, bad, fetch, arg, tok,
	    toksz, left, e);
}

/* wx_token, for a secret the request supplied when caller is set. */
int
wx_token_from(const struct conf *c, const char *kind, const char *id,
    const char *secret, int caller, const char *bad, store_fetch_fn fetch,
    void *arg, char *tok, size_t toksz, long *left, struct wx_err *e)
{
	char	 ident[LIM_SECRET * 2 + 2], why[LIM_TOKEN_WHY];
	int	 rc;

	snprintf(ident, sizeof(ident), "%s\n%s", id, secret);
	/* The upstream's code for the token it refused: why we fetch. */
	snprintf(why, sizeof(why), "refused:%ld", e->kind == WX_API ?
	    e->errcode : 0L);
	if (caller)
		rc = store_token_caller(c->state_dir, kind, ident, bad, fetch,
		    arg, tok, toksz, left);
	else
		rc = store_token(c->state_dir, kind, ident, bad,
		    bad != NULL ? why : NULL, c->timeout_ms + 1000, fetch,
		    arg, tok, toksz, left);
	explicit_bzero(ident, sizeof(ident));
	if (rc == STORE_BUSY) {
		e->kind = WX_TRANSPORT;
		e->iface = "get_token";
		snprintf(e->detail, sizeof(e->detail), "Third-party system "
		    "interface response time exceeds %ld seconds",
		    c->timeout_ms / 1000 + 1);
	}
	return rc == STORE_OK ? 0 : -1;
}

/*
 * access_token and expires_in (7200 when absent or odd) of a token
 * answer.  Returns 0, or -1 with e saying the answer had no token.
 */
int
wx_token_take(json_object *doc, char *out, size_t outsz, long *ttl,
    struct wx_err *e)
{
	json_object	*v;
	long long	 n;

	/* A string, or it is no token WeChat gave (a number is not). */
	if (!json_object_object_get_ex(doc, "access_token", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    str_copy(out, json_object_get_string(v), outsz) == -1 ||
	    *out == '\0') {
		e->kind = WX_BADREPLY;
		snprintf(e->detail, sizeof(e->detail), "interface response "
		    "has no valid access_token");
		return -1;
	}
	if (num_parse(jv_string(doc, "expires_in"), 1, 86400 * 30, &n) == -1)
		n = 7200;
	*ttl = (long)n;
	return 0;
}

/* s escaped for a query string.  Caller frees with curl_free. */
char *
wx_escape(const char *s)
{
	char	*p;

	p = curl_easy_escape(NULL, s, 0);
	if (p == NULL)
		abort();
	return p;
}

/*
 * WeCom and the Official Account: -1 busy, 45009 frequency (or the
 * MP's daily quota), 45033 concurrency, 43117 one openid too often,
 * and token errors still there after the one refresh.  On the MP,
 * 40001 is a stale token when sending but a wrong secret when fetching
 * one; on WeCom it is always the secret.
 */
enum outcome_cls
wx_outcome(const struct wx_err *e)
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
