#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/request.h"
#include "handlers.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "route.h"
#include "state/replay.h"
#include "up/wxmp.h"

/* The component whose wx_callback_path this is, and its section. */
static const char *
owner(struct ctx *cx, json_object **sec)
{
	static const char *const comps[] = { "send_mp_weixin", "send_weixin",
	    NULL };
	size_t	 i;

	for (i = 0; comps[i] != NULL; i++) {
		*sec = conf_comp(cx->conf, comps[i]);
		if (*conf_str(*sec, "wx_callback_path") != '\0' &&
		    route_same_path(conf_str(*sec, "wx_callback_path"),
		    cx->req->path))
			return comps[i];
	}
	*sec = NULL;
	return "wechat_callback";
}

/* A plain-text answer for WeChat's server, not an ESB envelope. */
static void
answer(struct reply *rp, int status, const char *text)
{
	rp->status = status;
	rp->raw = xstrdup(text);
	rp->raw_type = "text/plain; charset=utf-8";
	if (status == 200)
		reply_ok(rp, "%s", "");
}

/* The delivery receipt, against the msgid template/send returned. */
static void
record(struct ctx *cx, const char *comp, const struct wxmp_event *ev)
{
	json_object	*rec, *to;
	long long	 id;

	rec = log_audit_record(cx->request_id, comp);
	json_object_object_add(rec, "event", json_object_new_string(ev->event));
	json_object_object_add(rec, "msgid", num_parse(ev->msgid, 0,
	    0x7fffffffffffffffLL, &id) == 0 ? json_object_new_int64(id) :
	    json_object_new_string(ev->msgid));
	to = json_object_new_array();
	json_object_array_add(to, json_object_new_string(ev->openid));
	json_object_object_add(rec, "recipients", to);
	json_object_object_add(rec, "status", json_object_new_string(
	    ev->status));
	json_object_object_add(rec, "result", json_object_new_boolean(
	    strcmp(ev->status, "success") == 0));
	json_object_object_add(rec, "created",
	    json_object_new_int64(ev->created));
	log_audit(cx->conf->state_dir, rec);
	json_object_put(rec);
}

/*
 * The Official Account's server URL (wx_callback_path; no app
 * credentials: WeChat signs signature/timestamp/nonce with wx_token).
 * GET echoes echostr; POST takes a push, records TEMPLATESENDJOBFINISH
 * (success, "failed:user block", "failed: system failed") in the audit
 * log and answers "success".  Unsigned or badly signed: 403.  The
 * signature covers the timestamp, so one more than REPLAY_WINDOW away
 * from now is refused too (access logs keep query strings: a leaked URL
 * must not forge receipts for ever), and a push seen before (WeChat
 * retries one it thinks unanswered) is answered without a second record.
 */
void
hnd_wechat_callback(struct ctx *cx, struct reply *rp)
{
	struct wxmp_event	 ev;
	json_object		*q, *sec;
	const char		*comp, *echo;
	char			 once[160];
	long long		 ts;

	comp = owner(cx, &sec);
	q = req_parse_query(cx->req->query, strlen(cx->req->query));
	if (!wxmp_verify(conf_str(sec, "wx_token"), jv_string(q, "signature"),
	    jv_string(q, "timestamp"), jv_string(q, "nonce"))) {
		log_warnx("%s: %s: server URL call without a valid signature",
		    cx->request_id, comp);
		answer(rp, 403, "forbidden");
		goto out;
	}
	if (num_parse(jv_string(q, "timestamp"), 0, 0x7fffffffffffLL,
	    &ts) == -1 || !replay_in_window(ts, (long long)time(NULL))) {
		log_warnx("%s: %s: server URL call signed at %.20s, outside "
		    "the %d s window", cx->request_id, comp,
		    jv_string(q, "timestamp"), REPLAY_WINDOW);
		answer(rp, 403, "forbidden");
		goto out;
	}
	if (strcmp(cx->req->method, "GET") == 0) {
		echo = jv_string(q, "echostr");
		if (*echo == '\0' || strlen(echo) > 256 ||
		    !utf8_valid(echo, strlen(echo)))
			answer(rp, 400, "bad request");
		else
			answer(rp, 200, echo);
		goto out;
	}
	if (cx->req->bodylen > LIM_CALLBACK) {
		answer(rp, 413, "too large");
		goto out;
	}
	if (cx->req->body == NULL ||
	    wxmp_event(cx->req->body, cx->req->bodylen, &ev) == -1) {
		log_warnx("%s: %s: push is no WeChat XML", cx->request_id,
		    comp);
		answer(rp, 400, "bad request");
		goto out;
	}
	snprintf(once, sizeof(once), "%s\n%s", jv_string(q, "signature"),
	    jv_string(q, "nonce"));
	if (strcmp(ev.msgtype, "event") == 0 &&
	    strcmp(ev.event, "TEMPLATESENDJOBFINISH") == 0 &&
	    replay_once(cx->conf->state_dir, "wechat", once, ts) != 0)
		record(cx, comp, &ev);
	answer(rp, 200, "success");
out:
	json_object_put(q);
}
