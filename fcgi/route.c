/*
 * The route table.  ESB mounts the API at /api/c/compapi/ (seen as
 * /c/compapi/ behind its nginx), normalises the rest of the path to
 * /<path>/ and rewrites the /v2/ aliases before lookup (contract 1.1).
 */
#include <string.h>
#include <time.h>

#include "auth.h"
#include "check.h"
#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/request.h"
#include "lib/limits.h"
#include "custom.h"
#include "lib/util.h"
#include "route.h"
#include "state/idem.h"
#include "state/rate.h"
#include "state/spool.h"
#include "trail.h"

static const struct route routes[] = {
	{ "send_mail",		hnd_send_mail,		ROUTE_AUTH },
	{ "send_sms",		hnd_send_sms,		ROUTE_AUTH },
	{ "send_weixin",	hnd_send_weixin,	ROUTE_AUTH },
	{ "send_voice_msg",	hnd_send_voice_msg,	ROUTE_AUTH },
	{ "send_msg",		hnd_send_msg,		ROUTE_AUTH },
	{ "get_msg_type",	hnd_get_msg_type,	ROUTE_AUTH },
	{ "send_qy_weixin",	hnd_send_qy_weixin,	ROUTE_AUTH },
	{ "send_mp_weixin",	hnd_send_mp_weixin,	ROUTE_AUTH },
	{ NULL,			NULL,			0 }
};

/*
 * The Official Account's server URL, at the paths wx_callback_path
 * names; never reachable by a component name.
 */
static const struct route callback = {
	"wechat_callback", hnd_wechat_callback, ROUTE_RAW
};
static char	callbacks[2][LIM_PATH];	/* registered paths, "" if unused */

/*
 * Registers a path for the server URL at startup; "" is none.  Returns
 * 0, or -1 when it is no absolute path, is a component's path, or one
 * too many.
 */
int
route_callback(const char *path)
{
	size_t	 i;

	if (*path == '\0')
		return 0;
	if (*path != '/' || path[strspn(path, "/")] == '\0' ||
	    route_match("POST", path) != NULL)
		return -1;
	for (i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++) {
		if (callbacks[i][0] != '\0' &&
		    route_same_path(callbacks[i], path))
			return 0;
		if (callbacks[i][0] == '\0')
			return str_copy(callbacks[i], path,
			    sizeof(callbacks[i]));
	}
	return -1;
}

/* Two paths that differ at most in trailing slashes. */
int
route_same_path(const char *a, const char *b)
{
	size_t	 na = strlen(a), nb = strlen(b);

	while (na > 0 && a[na - 1] == '/')
		na--;
	while (nb > 0 && b[nb - 1] == '/')
		nb--;
	return na == nb && strncmp(a, b, na) == 0;
}

const struct route *
route_table(void)
{
	return routes;
}

const struct route *
route_by_name(const char *name)
{
	const struct route	*rt;

	for (rt = routes; rt->name != NULL; rt++)
		if (strcmp(rt->name, name) == 0)
			return rt;
	/* Then the operator's own components (custom.c). */
	return custom_route(name);
}

/*
 * The handler of component name and the name as the table spells it,
 * or NULL: what the retry spool re-runs (registered by main.c with
 * spool_lookup, the spool's one reference up a layer).
 */
hnd_fn
route_handler(const char *name, const char **canon)
{
	const struct route	*rt = route_by_name(name);

	if (rt == NULL)
		return NULL;
	*canon = rt->name;
	return rt->hnd;
}

/* Strips prefix p from *s; returns 1 if it was there. */
static int
eat(const char **s, const char *p)
{
	size_t	 n = strlen(p);

	if (strncmp(*s, p, n) != 0)
		return 0;
	*s += n;
	return 1;
}

/*
 * The route for a method and a path (without query), or NULL for the
 * contract's 404.  GET and POST only; the trailing slash is optional.
 * The /v2/ aliases also serve send_qy_weixin and send_mp_weixin: old
 * SDKs call them there and ESB answered 404, which helped nobody.
 */
const struct route *
route_match(const char *method, const char *path)
{
	char		 name[LIM_NAME];
	const char	*p = path;
	size_t		 n;

	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		return NULL;
	for (n = 0; n < sizeof(callbacks) / sizeof(callbacks[0]); n++)
		if (callbacks[n][0] != '\0' &&
		    route_same_path(path, callbacks[n]))
			return &callback;
	if (!eat(&p, "/api/c/compapi/") && !eat(&p, "/c/compapi/"))
		return NULL;
	while (*p == '/')
		p++;
	if (eat(&p, "v2/"))
		while (*p == '/')
			p++;
	if (!eat(&p, "cmsi/"))
		return NULL;
	n = strcspn(p, "/");
	if (n == 0 || n >= sizeof(name) || p[n + strspn(p + n, "/")] != '\0')
		return NULL;
	memcpy(name, p, n);
	name[n] = '\0';
	return route_by_name(name);
}

/*
 * The context a handler of rt runs in, as the request r of the caller
 * id reaches it under the configuration c (the top level or a
 * tenant's).  The caller sets params, and may narrow raw and section.
 */
void
route_ctx(struct ctx *cx, const struct route *rt, const struct conf *c,
    const struct req *r, const struct ident *id)
{
	memset(cx, 0, sizeof(*cx));
	cx->conf = c;
	cx->component = rt->name;
	cx->raw = r->params;
	cx->section = conf_comp(c, rt->name);
	cx->request_id = r->id;
	cx->app_code = id->app_code;
	cx->username = id->username;
	cx->language = req_env(r, "HTTP_BLUEKING_LANGUAGE");
	cx->timezone = req_env(r, "HTTP_BLUEKING_TIMEZONE");
	cx->req = r;
}

/*
 * ESB's channel with is_active off: answered before anything else,
 * without a request_id.  Returns 1 (rp set) when it is off.
 */
int
route_gate(const struct conf *c, const struct route *rt, struct reply *rp)
{
	if (conf_enabled(conf_comp(c, rt->name)))
		return 0;
	reply_fail(rp, CODE_INACTIVE, "Not found, inactive channel");
	rp->no_request_id = 1;
	return 1;
}

/*
 * Every way in (ESB, v1, send_msg) stops at a component switched off
 * with "enabled": false.  Returns 1 (rp set) when it is off.
 */
int
route_off(const struct ctx *cx, struct reply *rp)
{
	if (conf_enabled(cx->section))
		return 0;
	reply_fail(rp, CODE_INACTIVE, "Not found, inactive channel");
	return 1;
}

/*
 * One ESB request through the pipeline, one call per stage, each in
 * the module that owns it; the caller answers (env_write) with rp.
 * *creds and *params are the caller's to put after the answer, which
 * may borrow from them.
 */
void
route_serve(const struct conf *c, const struct route *rt, struct req *r,
    struct ident *id, struct reply *rp, json_object **creds,
    json_object **params)
{
	struct ctx	 cx;

	*creds = *params = NULL;
	if (rt->flags & ROUTE_RAW) {
		/* WeChat signs with wx_token; the handler checks that. */
		route_ctx(&cx, rt, c, r, id);
		rt->hnd(&cx, rp);
		return;
	}
	if (route_gate(c, rt, rp))			/* is_active */
		return;
	req_parse(r);					/* parameters */
	if (auth_request(c, rt->flags & ROUTE_AUTH, r, creds, id,
	    rp) == -1)					/* authenticate */
		return;
	if (check_request(rt->name, r->params, params, rp) == -1)
		return;					/* validate */
	route_ctx(&cx, rt, c, r, id);
	cx.params = *params;
	route_run(rt, &cx, rp);				/* deliver */
}

/*
 * Runs the handler of rt in cx, one call per stage: limit,
 * idempotency, delivery (classified and spooled when retry is on),
 * audit, and the answer kept for repeats.  Both dialects and the
 * console's test send end here, so every message goes the same way.
 */
void
route_run(const struct route *rt, struct ctx *cx, struct reply *rp)
{
	struct idem	 ik;
	long		 wait;
	int		 spooled, admit;

	if (route_off(cx, rp))
		return;
	spooled = spool_on(cx, comp_remote(cx->component, cx->section));
	/* Over the app's limit, or the upstream's without a spool. */
	if ((admit = rate_admit(cx, spooled, &wait, rp)) == -1)
		return;
	/* A repeat is answered as the first time, and sends nothing. */
	if (idem_begin(cx, &ik, rp) == 1)
		return;
	spool_deliver(rt->hnd, cx, rp, admit, spooled, wait,
	    ik.held ? ik.name : NULL);
	trail_write(cx, rp);
	idem_end(&ik, cx, rp);
}
