/*
 * Custom components: a section of "components" with a "kind" is the
 * operator's own channel (a DingTalk, Feishu or WeCom group robot, or
 * any JSON webhook), declared in the config instead of written in C.
 * This module owns what the config says of them (custom_check, called
 * where the config checks its sections) and the routes they are served
 * on; the sending is up/robot.c and up/webhook.c, the component
 * handlers/custom.c.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "core/confschema.h"
#include "custom.h"
#include "handlers.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "route.h"
#include "state/idem.h"
#include "state/rate.h"
#include "state/spool.h"
#include "up/webhook.h"

static const struct {
	const char	*name;		/* the "kind" value */
	const char	*schema;	/* conf/schemas/[config/]<schema>.json */
	const char	*url_key;	/* where its destination goes */
	double		 per_second;	/* default rate_limit, 0: none */
	long		 burst;
} kinds[CK__MAX] = {
	/*
	 * DingTalk and WeCom: 20 messages a minute per robot, then the
	 * robot is throttled for minutes (robots.md).  18 a minute with
	 * a burst of 2 never passes 20 in any minute.
	 */
	{ "dingtalk_robot", "custom_dingtalk_robot", "webhook", 0.3, 2 },
	/* Feishu: 100 a minute and 5 a second per bot. */
	{ "feishu_robot", "custom_feishu_robot", "webhook", 1.6, 4 },
	{ "wecom_robot", "custom_wecom_robot", "webhook", 0.3, 2 },
	{ "webhook", "custom_webhook", "url", 0, 0 },
};

/* The types of the built-in components: a custom one takes none. */
static const char *const builtin_types[] = {
	"weixin", "mail", "sms", "voice", "rtx", NULL
};

/*
 * Routes handed out for custom names.  A route must outlive every
 * request that holds it, and requests run while the config reloads,
 * so a name once seen keeps its slot for the life of the process; a
 * name gone from the config then answers "Unfinished interface".
 */
static struct {
	char		 name[LIM_NAME];
	struct route	 rt;		/* rt.name points into name */
	enum custom_kind kind;		/* as the last load said */
	uint64_t	 refhash;	/* its URL read from a secret
					   reference at the top level, hashed;
					   0 if it was given in clear */
} slots[CUSTOM_MAX];
static size_t		 nslots;
static pthread_mutex_t	 slots_mx = PTHREAD_MUTEX_INITIALIZER;

enum custom_kind
custom_kind_of(json_object *sec)
{
	json_object	*v;
	size_t		 i;

	if (sec == NULL || !json_object_is_type(sec, json_type_object) ||
	    !json_object_object_get_ex(sec, "kind", &v) ||
	    !json_object_is_type(v, json_type_string))
		return CK__MAX;
	for (i = 0; i < CK__MAX; i++)
		if (strcmp(kinds[i].name, json_object_get_string(v)) == 0)
			return (enum custom_kind)i;
	return CK__MAX;
}

const char *
custom_kind_name(enum custom_kind k)
{
	return k < CK__MAX ? kinds[k].name : "";
}

const char *
custom_kind_schema(enum custom_kind k)
{
	return k < CK__MAX ? kinds[k].schema : NULL;
}

/* Whether a section declares a custom component (any "kind" at all). */
int
custom_is(json_object *sec)
{
	return sec != NULL && json_object_is_type(sec, json_type_object) &&
	    json_object_object_get_ex(sec, "kind", NULL);
}

/* Whether the section has somewhere to send to. */
int
custom_ready(json_object *sec)
{
	enum custom_kind	 k = custom_kind_of(sec);

	return k < CK__MAX && strncmp(conf_str(sec, kinds[k].url_key),
	    "https://", 8) == 0;
}

/* FNV-1a: tells a tenant's inherited URL from one it gives in clear. */
static uint64_t
hash(const char *s)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/*
 * Whether the URL of a tenant's section name is the top level's, read
 * from a reference there: a tenant's view holds the top level's
 * sections with their secrets read, which are no secret in clear.
 */
static int
inherited(const char *name, json_object *v)
{
	size_t	 i;
	int	 yes = 0;

	if (!json_object_is_type(v, json_type_string))
		return 0;
	pthread_mutex_lock(&slots_mx);
	for (i = 0; i < nslots; i++)
		if (strcmp(slots[i].name, name) == 0 && slots[i].refhash != 0 &&
		    slots[i].refhash == hash(json_object_get_string(v)))
			yes = 1;
	pthread_mutex_unlock(&slots_mx);
	return yes;
}

/*
 * Remembers name as a custom route of kind k, and at the top level
 * (top set) how its URL was given.  Returns 0 or -1 (full).
 */
static int
slot_set(const char *name, enum custom_kind k, int top, uint64_t refhash)
{
	size_t	 i;
	int	 rc = -1;

	pthread_mutex_lock(&slots_mx);
	for (i = 0; i < nslots; i++)
		if (strcmp(slots[i].name, name) == 0)
			break;
	if (i == nslots && nslots < CUSTOM_MAX &&
	    str_copy(slots[i].name, name, sizeof(slots[i].name)) == 0) {
		slots[i].rt.name = slots[i].name;
		slots[i].rt.hnd = hnd_custom;
		slots[i].rt.flags = ROUTE_AUTH;
		nslots++;
	}
	if (i < nslots) {
		slots[i].kind = k;
		if (top)
			slots[i].refhash = refhash;
		rc = 0;
	}
	pthread_mutex_unlock(&slots_mx);
	return rc;
}

/* The route of a custom component seen by a load, or NULL. */
const struct route *
custom_route(const char *name)
{
	const struct route	*rt = NULL;
	size_t			 i;

	pthread_mutex_lock(&slots_mx);
	for (i = 0; i < nslots; i++)
		if (strcmp(slots[i].name, name) == 0)
			rt = &slots[i].rt;
	pthread_mutex_unlock(&slots_mx);
	return rt;
}

/* The request schema of a custom component's name, or NULL. */
const char *
custom_schema(const char *name)
{
	const char	*s = NULL;
	size_t		 i;

	pthread_mutex_lock(&slots_mx);
	for (i = 0; i < nslots; i++)
		if (strcmp(slots[i].name, name) == 0)
			s = custom_kind_schema(slots[i].kind);
	pthread_mutex_unlock(&slots_mx);
	return s;
}

/* The custom component that serves msg_type type, or NULL. */
const char *
custom_by_type(const struct conf *c, const char *type)
{
	if (c->components == NULL)
		return NULL;
	json_object_object_foreach(c->components, name, sec) {
		if (custom_kind_of(sec) < CK__MAX &&
		    strcmp(conf_str(sec, "msg_type"), type) == 0)
			return name;
	}
	return NULL;
}

/* The label of a custom component, English or Chinese, else its type. */
const char *
custom_label(json_object *sec, const char *type, int en)
{
	json_object	*l, *v;

	if (json_object_object_get_ex(sec, "label", &l) &&
	    json_object_object_get_ex(l, en ? "en" : "zh", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0)
		return json_object_get_string(v);
	return type;
}

/*
 * Whether a URL given in clear carries a credential: the robots' token
 * or key, a Feishu hook id, a user:password, or a query parameter
 * named like a secret.  Returns the name of what it carries, or NULL.
 */
static const char *
url_secret(enum custom_kind k, const char *url)
{
	static const char *const params[] = { "access_token=", "key=",
	    "token=", "secret=", "sign=", "password=", "apikey=",
	    "api_key=", NULL };
	const char	*q, *at, *host;
	size_t		 i;

	if (k == CK_FEISHU && strstr(url, "/hook/") != NULL)
		return "the hook id";
	host = strstr(url, "://");
	host = host != NULL ? host + 3 : url;
	at = strchr(host, '@');
	if (at != NULL && at < host + strcspn(host, "/?#"))
		return "a user and password";
	if ((q = strchr(url, '?')) == NULL)
		return NULL;
	for (q++; *q != '\0'; q += strcspn(q, "&"), q += *q == '&')
		for (i = 0; params[i] != NULL; i++)
			if (strncasecmp(q, params[i], strlen(params[i])) == 0)
				return params[i];
	return NULL;
}

/* The URL key: present, https, and no credential stored in clear. */
static void
check_url(const struct conf *c, const char *name, enum custom_kind k,
    json_object *sec)
{
	const char	*key = kinds[k].url_key, *what;
	json_object	*v;
	char		 how[32];

	if (!json_object_object_get_ex(sec, key, &v) || v == NULL ||
	    (json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) == 0)) {
		conf_problem(c, "components.%s: a %s needs \"%s\" (%s)", name,
		    kinds[k].name, key, k == CK_WEBHOOK ? "the URL to call" :
		    "the robot's webhook URL");
		return;
	}
	if (!json_object_is_type(v, json_type_string))
		return;		/* a secret reference: checked once read */
	if ((what = url_secret(k, json_object_get_string(v))) != NULL) {
		snprintf(how, sizeof(how), "%.*s", (int)strcspn(what, "="),
		    what);
		conf_problem(c, "components.%s.%s: the URL holds a credential "
		    "(%s) in clear; give it as {\"file\": PATH} or {\"env\": "
		    "NAME}", name, key, how);
	}
}

/*
 * Secrets in place: the keys the kind's schema marks x-secret, and each
 * header of a webhook (a string or a secret reference as well).
 */
static void
resolve(const struct conf *c, const char *name, json_object *sec,
    json_object *doc)
{
	json_object	*hdrs;
	char		 what[LIM_NAME * 2 + 32];
	char		*s;

	json_object_object_foreach(sec, key, val) {
		if (!confschema_secret(doc, key))
			continue;
		snprintf(what, sizeof(what), "components.%s.%s", name, key);
		if ((s = conf_secret(c, what, val)) != NULL) {
			json_object_object_add(sec, key,
			    json_object_new_string(s));
			secret_free(s);
		}
	}
	if (!json_object_object_get_ex(sec, "headers", &hdrs) ||
	    !json_object_is_type(hdrs, json_type_object))
		return;
	json_object_object_foreach(hdrs, hk, hv) {
		snprintf(what, sizeof(what), "components.%s.headers.%s", name,
		    hk);
		if ((s = conf_secret(c, what, hv)) != NULL) {
			json_object_object_add(hdrs, hk,
			    json_object_new_string(s));
			secret_free(s);
		}
	}
}

/* What the kinds say beyond their schemas, after secrets are read. */
static void
check_kind(const struct conf *c, const char *name, enum custom_kind k,
    json_object *sec)
{
	json_object	*v;
	const char	*s, *url = conf_str(sec, kinds[k].url_key);
	char		 msg[256];

	if (*url != '\0' && strncmp(url, "https://", 8) != 0)
		conf_problem(c, "components.%s.%s: not an https:// URL (the "
		    "gateway calls upstreams over verified TLS only)", name,
		    kinds[k].url_key);
	if (strlen(url) >= LIM_URL)
		conf_problem(c, "components.%s.%s: longer than %d bytes",
		    name, kinds[k].url_key, LIM_URL - 1);
	s = conf_str(sec, "secret");
	if (k == CK_DINGTALK && *s != '\0' && strncmp(s, "SEC", 3) != 0)
		conf_problem(c, "components.%s.secret: a DingTalk robot's "
		    "signing secret starts with SEC (the robot's security "
		    "settings, 加签)", name);
	if (k != CK_WEBHOOK)
		return;
	if (json_object_object_get_ex(sec, "success", &v) &&
	    webhook_rule_check(v, msg, sizeof(msg)) == -1)
		conf_problem(c, "components.%s.success: %s", name, msg);
	if (json_object_object_get_ex(sec, "body", &v) &&
	    webhook_body_check(v, msg, sizeof(msg)) == -1)
		conf_problem(c, "components.%s.body%s", name, msg);
	if (json_object_object_get_ex(sec, "headers", &v) &&
	    json_object_is_type(v, json_type_object) &&
	    webhook_headers_check(v, msg, sizeof(msg)) == -1)
		conf_problem(c, "components.%s.headers: %s", name, msg);
}

/*
 * Checks the section of custom component name, reads its secrets, sets
 * its defaults (msg_type, the kind's rate_limit) and registers its
 * route.  Every problem is one conf_problem line.
 */
void
custom_check(const struct conf *c, const char *name, json_object *sec)
{
	struct confschema_err	 errs[16];
	enum custom_kind	 k = custom_kind_of(sec);
	json_object		*doc, *v, *rl;
	const char		*type;
	char			 what[128];
	int			 i, n, ref;

	if (route_by_name(name) != NULL && custom_route(name) == NULL) {
		conf_problem(c, "components.%s: a built-in component's name; "
		    "a custom component needs its own (e.g. send_dingtalk)",
		    name);
		return;
	}
	if (strcmp(name, "wechat_callback") == 0 || *name == '\0' ||
	    strlen(name) >= LIM_NAME || strspn(name,
	    "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name)) {
		conf_problem(c, "components.%s: a custom component's name is "
		    "1 to %d of a-z, 0-9 and _ (it is a path of the API)",
		    name, LIM_NAME - 1);
		return;
	}
	if (k == CK__MAX) {
		json_object_object_get_ex(sec, "kind", &v);
		conf_problem(c, "components.%s.kind: unknown kind \"%.64s\" "
		    "(dingtalk_robot, feishu_robot, wecom_robot or webhook)",
		    name, json_object_get_string(v));
		return;
	}
	n = confschema_check(c->schemas_dir, kinds[k].schema, sec, errs,
	    sizeof(errs) / sizeof(errs[0]));
	for (i = 0; i < n || (n == -1 && i == 0); i++) {
		if (errs[i].key[0] != '\0')
			conf_problem(c, "components.%s.%s: %s", name,
			    errs[i].key, errs[i].msg);
		else
			conf_problem(c, "components.%s: %s", name,
			    errs[i].msg);
	}
	if (n != 0)
		return;
	v = NULL;
	json_object_object_get_ex(sec, kinds[k].url_key, &v);
	if (c->tenant == NULL || !inherited(name, v))
		check_url(c, name, k, sec);
	ref = v != NULL && !json_object_is_type(v, json_type_string);
	doc = confschema_doc(c->schemas_dir, kinds[k].schema);
	resolve(c, name, sec, doc);
	json_object_put(doc);
	check_kind(c, name, k, sec);

	/* The type callers use: the name without send_, unless given. */
	type = conf_str(sec, "msg_type");
	if (*type == '\0') {
		type = strncmp(name, "send_", 5) == 0 && name[5] != '\0' ?
		    name + 5 : name;
		json_object_object_add(sec, "msg_type",
		    json_object_new_string(type));
		type = conf_str(sec, "msg_type");
	}
	for (i = 0; builtin_types[i] != NULL; i++)
		if (strcmp(type, builtin_types[i]) == 0)
			conf_problem(c, "components.%s.msg_type: \"%s\" is a "
			    "built-in channel's type", name, type);
	if (kinds[k].per_second > 0 &&
	    !json_object_object_get_ex(sec, "rate_limit", NULL)) {
		rl = json_object_new_object();
		json_object_object_add(rl, "per_second",
		    json_object_new_double(kinds[k].per_second));
		json_object_object_add(rl, "burst",
		    json_object_new_int64(kinds[k].burst));
		json_object_object_add(sec, "rate_limit", rl);
	}
	if (json_object_object_get_ex(sec, "retry", &v) &&
	    spool_check(v, what, sizeof(what)) == -1)
		conf_problem(c, "components.%s.retry: %s", name, what);
	if (json_object_object_get_ex(sec, "rate_limit", &v) &&
	    rate_check(v, what, sizeof(what)) == -1)
		conf_problem(c, "components.%s.rate_limit: %s", name, what);
	if (json_object_object_get_ex(sec, "dedup_window_s", &v) &&
	    idem_check(v, what, sizeof(what)) == -1)
		conf_problem(c, "components.%s.dedup_window_s: %s", name, what);
	if (slot_set(name, k, c->tenant == NULL, ref ?
	    hash(conf_str(sec, kinds[k].url_key)) : 0) == -1)
		conf_problem(c, "components.%s: more than %d custom component "
		    "names in one process; restart it", name, CUSTOM_MAX);
}
