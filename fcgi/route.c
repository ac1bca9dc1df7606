/*
 * The route table.  ESB mounts the API at /api/c/compapi/ (seen as
 * /c/compapi/ behind its nginx), normalises the rest of the path to
 * /<path>/ and rewrites the /v2/ aliases before lookup (contract 1.1).
 */
#include <string.h>

#include "limits.h"
#include "route.h"
#include "util.h"

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
	return NULL;
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
