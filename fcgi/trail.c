/*
 * The audit trail: the record route_run writes after each message a
 * component tried to deliver (JSON lines in <state_dir>/audit.log,
 * read back by the console's Recent messages), and its count in
 * /metrics.
 */
#include <json-c/json.h>

#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/metrics.h"
#include "trail.h"

/*
 * One audit record per message a component tried to deliver: request,
 * app, tenant, recipients, result and code, and each recipient's
 * outcome where the channel reports one (data's successed, failed or
 * results; without them every recipient shares the result).  Nothing
 * when the component tried no delivery (rp->audit unset).
 */
void
trail_write(const struct ctx *cx, const struct reply *rp)
{
	static const char *const outcome[] = { "successed", "failed",
	    "results", NULL };
	json_object	*rec, *v;
	size_t		 i;

	if (rp->audit == NULL)
		return;
	rec = log_audit_record(cx->request_id, cx->component);
	json_object_object_add(rec, "app",
	    json_object_new_string(cx->app_code));
	if (cx->conf->tenant != NULL)
		json_object_object_add(rec, "tenant",
		    json_object_new_string(cx->conf->tenant));
	json_object_object_add(rec, "recipients", json_object_get(rp->audit));
	json_object_object_add(rec, "result",
	    json_object_new_boolean(rp->result));
	json_object_object_add(rec, "code", json_object_new_int64(rp->code));
	json_object_object_add(rec, "message", json_object_new_string(
	    rp->message != NULL ? rp->message : ""));
	/* Per recipient, where the channel told: who got it, who did not. */
	for (i = 0; rp->data != NULL && outcome[i] != NULL; i++)
		if (json_object_object_get_ex(rp->data, outcome[i], &v))
			json_object_object_add(rec, outcome[i],
			    json_object_get(v));
	log_audit(cx->conf->state_dir, rec);
	json_object_put(rec);
	metrics_delivery(cx->component, rp->data != NULL &&
	    json_object_object_get_ex(rp->data, "queued", &v) &&
	    json_object_array_length(v) > 0 ? "queued" : rp->result ? "sent" :
	    "failed");
}
