/*
 * dest_url (contract 5.4): the component hands the request to a third
 * party's HTTP API instead of delivering it.  The third party's JSON
 * answer becomes the payload as it is; a transport failure, a non-200
 * status or an answer that is no JSON is 1306201.
 */
#include <stdio.h>
#include <string.h>

#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/http.h"
#include "core/log.h"
#include "core/outcome.h"
#include "core/request.h"
#include "forward.h"
#include "lib/util.h"

/*
 * Keys ESB strips before a component sees the request (contract 2.1),
 * and every other credential a caller may send: the third party gets
 * who called (bk_app_code, bk_username), never what proves it.
 */
static const char *const sensitive[] = {
	"app_secret", "signature", "bk_nonce", "bk_timestamp",
	"bk_app_secret", "bk_signature", "bk_token", "bk_access_token",
	"access_token", "bk_ticket", "bk_session_id", NULL
};

/*
 * The component's kwargs: every request parameter but the sensitive
 * ones.  Callers lay their cleaned fields over it.  Caller puts.
 */
json_object *
forward_kwargs(struct ctx *cx)
{
	json_object	*o = json_object_new_object();
	size_t		 i;
	int		 skip;

	json_object_object_foreach(cx->raw, k, v) {
		skip = 0;
		for (i = 0; sensitive[i] != NULL; i++)
			if (strcmp(k, sensitive[i]) == 0)
				skip = 1;
		if (!skip)
			json_object_object_add(o, k, json_object_get(v));
	}
	return o;
}

/*
 * POSTs body to the component's dest_url.  Returns 0 with rp->payload
 * set to the third party's answer, or -1 with a failure envelope.
 */
int
forward_send(struct ctx *cx, json_object *body, struct reply *rp)
{
	struct http_call	 hc;
	json_object		*doc = NULL;
	const char		*s;
	char			 h[4][160], detail[256];
	size_t			 nh = 0;
	int			 rc = -1;

	memset(&hc, 0, sizeof(hc));
	s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(h[nh++], sizeof(h[0]), "X-Bkapi-Request-Id: %s",
	    cx->request_id);
	snprintf(h[nh++], sizeof(h[0]), "Content-Type: application/json");
	if (cx->language != NULL && strcspn(cx->language, "\r\n") ==
	    strlen(cx->language))
		snprintf(h[nh++], sizeof(h[0]), "Blueking-Language: %.100s",
		    cx->language);
	if (cx->timezone != NULL && strcspn(cx->timezone, "\r\n") ==
	    strlen(cx->timezone))
		snprintf(h[nh++], sizeof(h[0]), "Blueking-Timezone: %.100s",
		    cx->timezone);
	hc.method = "POST";
	hc.url = conf_str(cx->section, "dest_url");
	hc.body = s;
	hc.bodylen = strlen(s);
	while (nh > 0) {
		nh--;
		hc.headers[nh] = h[nh];
	}
	if (http_run(cx->conf, &hc) == -1 || hc.status != 200 ||
	    (doc = jv_parse(hc.reply.ptr != NULL ? hc.reply.ptr : "",
	    hc.reply.len)) == NULL) {
		reply_fail(rp, http_is_ssl(hc.cc) ? CODE_SSL :
		    CODE_THIRD_PARTY, "Component request third-party system "
		    "[CMSI] interface [%s] error: %s, please try again later "
		    "or contact component developer to handle this",
		    cx->component, http_detail(&hc, detail, sizeof(detail)));
		log_warnx("%s: dest_url: %s", cx->request_id, detail);
		/* For the spool; a 200 we cannot read may be a proxy's. */
		outcome_all(cx->oc, outcome_http(hc.cc, hc.status) == OC_OK ?
		    OC_TRANSIENT : outcome_http(hc.cc, hc.status),
		    hc.retry_after);
		goto out;
	}
	/* Only a JSON boolean says how it ended: "false" is no false. */
	if (!json_object_is_type(doc, json_type_object) ||
	    !json_object_is_type(json_object_object_get(doc, "result"),
	    json_type_boolean)) {
		reply_fail(rp, CODE_COMMON, "Component error, please contact "
		    "the component developer to handle it.");
		log_warnx("%s: dest_url: answer without result",
		    cx->request_id);
		outcome_all(cx->oc, OC_PERMANENT, 0);
		goto out;
	}
	rp->payload = json_object_get(doc);
	rp->result = json_object_get_boolean(json_object_object_get(doc,
	    "result"));
	rp->code = rp->result ? CODE_OK : CODE_COMMON;
	outcome_all(cx->oc, rp->result ? OC_OK : OC_PERMANENT, 0);
	rc = 0;
out:
	json_object_put(doc);
	http_call_free(&hc);
	return rc;
}
