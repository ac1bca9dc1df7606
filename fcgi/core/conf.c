/*
 * The configuration file: one JSON document, read and checked once at
 * startup.  Every problem is reported on its own line and makes
 * conf_load fail; nothing is checked again per request.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "confschema.h"
#include "lib/buf.h"
#include "lib/jsonerr.h"
#include "lib/limits.h"
#include "lib/near.h"
#include "lib/util.h"
#include "log.h"

/*
 * The components a section may configure.  What each section may hold
 * is its schema's business (conf/schemas/config/<name>.json), shared
 * with the console.
 */
static const char *const comp_names[] = {
	"send_mail", "send_weixin", "send_sms", "send_voice_msg", "send_msg",
	"get_msg_type", "send_qy_weixin", "send_mp_weixin", NULL
};

static const char *const top_keys[] = {
	"state_dir", "schemas_dir", "templates_dir", "apps", "login",
	"users", "upstream", "components", "max_body", "verbose",
	"tenants", "gateway", "console", "comment", "outbox_keep", "metrics",
	"redis", "workers", NULL
};

static const char *const tenant_keys[] = {
	"users", "components", "comment", NULL
};

static const char *const app_keys[] = {
	"secret", "skip_user_auth", "weixin_settings", "tenants", "rate_limit",
	"comment", NULL
};

static const char *const upstream_keys[] = {
	"ca_file", "timeout_ms", "connect_to", "proxy", "max_host_connections",
	"max_connections", "comment", NULL
};

static const char *const login_keys[] = {
	"is_login_url", "comment", NULL
};

static void	conf_hint(const struct conf *, char *, size_t);

/*
 * Per thread: a reload and a console save may load at once, and each
 * reads its own problems back with conf_problems.
 */
static __thread int	conf_bad;	/* problems found by the current load */
static __thread struct buf conf_said;	/* this thread's last load's lines */

/* A tenant's problems name it: "tenants.<id>: ...". */
static void __attribute__((__format__(__printf__, 2, 3)))
problem(const struct conf *c, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_hint(c, msg, sizeof(msg));
	if (c->tenant != NULL) {
		fprintf(stderr, "%s: tenants.%s: %s\n", c->path, c->tenant,
		    msg);
		(void)buf_printf(&conf_said, "tenants.%s: %s\n", c->tenant,
		    msg);
	} else {
		fprintf(stderr, "%s: %s\n", c->path, msg);
		(void)buf_printf(&conf_said, "%s\n", msg);
	}
	conf_bad++;
}

static int
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/*
 * Reads a whole small file into a NUL-terminated string.  Returns NULL
 * if it cannot be read or is larger than max.  Caller frees.
 */
static char *
slurp(const char *path, size_t max, size_t *lenp)
{
	struct stat	 st;
	char		*p = NULL;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	/* errno for the caller's line: "Success" would say nothing. */
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EISDIR;
		goto fail;
	}
	p = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	p[got] = '\0';
	close(fd);
	if (lenp != NULL)
		*lenp = got;
	return p;
fail:
	free(p);
	(void)close(fd);
	return NULL;
}

/* A path from the file, relative to its directory.  Caller frees. */
char *
conf_resolve(const struct conf *c, const char *p)
{
	size_t	 n;
	char	*out;

	if (p[0] == '/')
		return xstrdup(p);
	n = strlen(c->dir) + strlen(p) + 2;
	out = xmalloc(n);
	snprintf(out, n, "%s/%s", c->dir, p);
	return out;
}

/*
 * A secret is a string, {"file": PATH} (first line, trailing newline
 * dropped) or {"env": NAME}.  Returns the value (caller frees with
 * secret_free) or NULL after reporting the problem.
 */
static char *
secret_get(const struct conf *c, const char *what, json_object *v)
{
	json_object	*f, *e;
	char		*path, *s;
	const char	*env;
	size_t		 n;

	if (json_object_is_type(v, json_type_string))
		return xstrdup(json_object_get_string(v));
	if (json_object_is_type(v, json_type_null))
		return xstrdup("");
	if (!json_object_is_type(v, json_type_object)) {
		problem(c, "%s: a secret is a string, {\"file\":..} or "
		    "{\"env\":..}", what);
		return NULL;
	}
	if (json_object_object_get_ex(v, "file", &f) &&
	    json_object_is_type(f, json_type_string)) {
		path = conf_resolve(c, json_object_get_string(f));
		s = slurp(path, LIM_SECRET, &n);
		if (s == NULL) {
			problem(c, "%s: cannot read secret file %s", what,
			    path);
			free(path);
			return NULL;
		}
		free(path);
		while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
			s[--n] = '\0';
		return s;
	}
	if (json_object_object_get_ex(v, "env", &e) &&
	    json_object_is_type(e, json_type_string)) {
		env = getenv(json_object_get_string(e));
		if (env == NULL) {
			problem(c, "%s: environment variable %s is not set",
			    what, json_object_get_string(e));
			return NULL;
		}
		return xstrdup(env);
	}
	problem(c, "%s: a secret is a string, {\"file\":..} or {\"env\":..}",
	    what);
	return NULL;
}

/*
 * Booleans as JSON values or as the strings the ESB admin page stores.
 * Returns 0 and sets *out, or -1 if v is no recognisable boolean.
 */
int
conf_parse_bool(json_object *v, int *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on", NULL };
	static const char *const no[] = { "false", "0", "no", "off", "", NULL };
	const char	*s;
	size_t		 i;

	if (v == NULL || json_object_is_type(v, json_type_null)) {
		*out = 0;
		return 0;
	}
	if (json_object_is_type(v, json_type_boolean) ||
	    json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v) != 0;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	for (i = 0; yes[i] != NULL; i++)
		if (str_eqi(s, yes[i])) {
			*out = 1;
			return 0;
		}
	for (i = 0; no[i] != NULL; i++)
		if (str_eqi(s, no[i])) {
			*out = 0;
			return 0;
		}
	return -1;
}

/* The modules' checkers, registered by conf_checks; NULL until then. */
static const struct conf_check *checks;
static size_t nchecks;

/*
 * The loader of the operator's own components (a section with a
 * "kind"), registered by conf_custom; NULL until then.
 */
static void (*custom_load)(const struct conf *, const char *, json_object *);

void
conf_checks(const struct conf_check *t, size_t n)
{
	checks = t;
	nchecks = n;
}

void
conf_custom(void (*fn)(const struct conf *, const char *, json_object *))
{
	custom_load = fn;
}

/*
 * What key's module says of v: 0, or -1 with its message in why (when
 * why is not NULL).  A key without a registered checker passes.
 */
static int
conf_check(enum conf_key key, json_object *v, char *why, size_t n)
{
	char	 scratch[8];
	size_t	 i;

	if (why == NULL) {
		why = scratch;
		n = sizeof(scratch);
	}
	for (i = 0; i < nchecks; i++)
		if (checks[i].key == key)
			return checks[i].fn(v, why, n);
	return 0;
}

/*
 * A string setting; "" when absent, null or not scalar.  A number is
 * written out by jv_num_text, not by json-c into the object itself,
 * which every thread shares.
 */
const char *
conf_str(json_object *sec, const char *key)
{
	json_object	*v;

	if (sec == NULL || !json_object_object_get_ex(sec, key, &v) ||
	    v == NULL)
		return "";
	switch (json_object_get_type(v)) {
	case json_type_string:
		return json_object_get_string(v);
	case json_type_int:
	case json_type_double:
		return jv_num_text(v);
	default:
		return "";
	}
}

int
conf_bool(json_object *sec, const char *key)
{
	json_object	*v = NULL;
	int		 b = 0;

	if (sec != NULL)
		json_object_object_get_ex(sec, key, &v);
	if (conf_parse_bool(v, &b) == -1)
		return 0;
	return b;
}

long
conf_int(json_object *sec, const char *key, long def)
{
	long long	 n;
	const char	*s = conf_str(sec, key);

	if (*s == '\0' || num_parse(s, 0, 0x7fffffff, &n) == -1)
		return def;
	return (long)n;
}

static char *
opt_str(const struct conf *c, json_object *sec, const char *key,
    const char *where)
{
	json_object	*v;

	if (sec == NULL || !json_object_object_get_ex(sec, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		problem(c, "%s.%s: must be a string", where, key);
		return NULL;
	}
	return xstrdup(json_object_get_string(v));
}

static void
load_apps(struct conf *c, json_object *apps)
{
	struct conf_app	*a;
	json_object	*v;
	char		 what[128];
	int		 b;

	if (apps == NULL)
		return;
	if (!json_object_is_type(apps, json_type_object)) {
		problem(c, "apps: must be an object of app code -> settings");
		return;
	}
	c->apps = xcalloc((size_t)json_object_object_length(apps) + 1,
	    sizeof(*c->apps));
	json_object_object_foreach(apps, code, app) {
		/* A note for the reader, as at the top level. */
		if (strcmp(code, "comment") == 0)
			continue;
		snprintf(what, sizeof(what), "apps.%s", code);
		if (*code == '\0' || strlen(code) >= LIM_NAME) {
			problem(c, "%s: bad app code", what);
			continue;
		}
		if (!json_object_is_type(app, json_type_object) ||
		    !json_object_object_get_ex(app, "secret", &v)) {
			problem(c, "%s: needs a \"secret\"", what);
			continue;
		}
		json_object_object_foreach(app, akey, aval) {
			(void)aval;
			if (!in_list(app_keys, akey))
				problem(c, "%s.%.64s: unknown key", what, akey);
		}
		a = &c->apps[c->napps];
		a->secret = secret_get(c, what, v);
		if (a->secret == NULL)
			continue;
		if (*a->secret == '\0') {
			problem(c, "%s: the secret is empty", what);
			secret_free(a->secret);
			a->secret = NULL;
			continue;
		}
		a->code = xstrdup(code);
		if (json_object_object_get_ex(app, "skip_user_auth", &v)) {
			if (conf_parse_bool(v, &b) == -1)
				problem(c, "%s.skip_user_auth: not a boolean",
				    what);
			a->skip_user_auth = b;
		}
		b = 0;
		if (json_object_object_get_ex(app, "weixin_settings", &v)) {
			if (conf_parse_bool(v, &b) == -1)
				problem(c, "%s.weixin_settings: not a boolean",
				    what);
			a->weixin_settings = b;
		}
		if (json_object_object_get_ex(app, "tenants", &v) &&
		    v != NULL) {
			if (!json_object_is_type(v, json_type_array))
				problem(c, "%s.tenants: a list of tenant ids "
				    "(\"*\" for all)", what);
			else
				a->tenants = json_object_get(v);
		}
		if (json_object_object_get_ex(app, "rate_limit", &v) &&
		    v != NULL) {
			if (conf_check(CONF_RATE_LIMIT, v, what,
			    sizeof(what)) == -1)
				problem(c, "apps.%s.rate_limit: %s", code, what);
			else
				a->rate_limit = json_object_get(v);
		}
		c->napps++;
	}
}

/*
 * Checks one component section against its schema, then resolves its
 * secrets in place.
 */
static void
load_comp(struct conf *c, const char *name, json_object *sec)
{
	struct confschema_err	 errs[16];
	json_object		*doc, *rv;
	char			 what[128];
	char			*s;
	int			 i, n;

	/* The operator's own channel: its module checks it. */
	if (json_object_is_type(sec, json_type_object) &&
	    json_object_object_get_ex(sec, "kind", NULL)) {
		if (custom_load != NULL)
			custom_load(c, name, sec);
		else
			problem(c, "components.%s: a custom component, "
			    "which this program does not load", name);
		return;
	}
	if (!in_list(comp_names, name)) {
		problem(c, "components.%s: unknown component", name);
		return;
	}
	doc = confschema_doc(c->schemas_dir, name);
	if (doc == NULL) {
		problem(c, "components.%s: cannot read %s/config/%s.json", name,
		    c->schemas_dir, name);
		return;
	}
	n = confschema_check(c->schemas_dir, name, sec, errs,
	    sizeof(errs) / sizeof(errs[0]));
	for (i = 0; i < n || (n == -1 && i == 0); i++) {
		if (errs[i].key[0] != '\0')
			problem(c, "components.%s.%s: %s", name, errs[i].key,
			    errs[i].msg);
		else
			problem(c, "components.%s: %s", name, errs[i].msg);
	}
	if (n == -1 || !json_object_is_type(sec, json_type_object)) {
		json_object_put(doc);
		return;
	}
	/* Secrets of keys that passed are resolved, to report them too. */
	json_object_object_foreach(sec, key, val) {
		if (!confschema_secret(doc, key))
			continue;
		for (i = 0; i < n; i++)
			if (strcmp(errs[i].key, key) == 0)
				break;
		if (i < n)
			continue;
		snprintf(what, sizeof(what), "components.%s.%s", name, key);
		s = secret_get(c, what, val);
		if (s != NULL) {
			json_object_object_add(sec, key,
			    json_object_new_string(s));
			secret_free(s);
		}
	}
	/* What a schema cannot say: the retry and dedup settings' sense. */
	if (json_object_object_get_ex(sec, "retry", &rv) &&
	    conf_check(CONF_RETRY, rv, what, sizeof(what)) == -1)
		problem(c, "components.%s.retry: %s", name, what);
	if (json_object_object_get_ex(sec, "rate_limit", &rv) &&
	    conf_check(CONF_RATE_LIMIT, rv, what, sizeof(what)) == -1)
		problem(c, "components.%s.rate_limit: %s", name, what);
	if (json_object_object_get_ex(sec, "dedup_window_s", &rv) &&
	    conf_check(CONF_DEDUP, rv, what, sizeof(what)) == -1)
		problem(c, "components.%s.dedup_window_s: %s", name, what);
	json_object_put(doc);
}

static void
load_upstream(struct conf *c, json_object *up)
{
	json_object	*v;
	size_t		 i;
	char		*s;
	long long	 n;

	c->timeout_ms = 10000;
	c->max_host_conns = LIM_UP_CONNS_DEFAULT;
	c->max_conns = LIM_UP_CONNS_DEFAULT;
	if (up == NULL)
		return;
	if (!json_object_is_type(up, json_type_object)) {
		problem(c, "upstream: must be an object");
		return;
	}
	json_object_object_foreach(up, key, val) {
		(void)val;
		if (!in_list(upstream_keys, key))
			problem(c, "upstream.%.64s: unknown key", key);
	}
	s = opt_str(c, up, "ca_file", "upstream");
	if (s != NULL && *s != '\0') {
		c->ca_file = conf_resolve(c, s);
		if (access(c->ca_file, R_OK) == -1)
			problem(c, "upstream.ca_file: cannot read %s",
			    c->ca_file);
	}
	free(s);
	c->proxy = opt_str(c, up, "proxy", "upstream");
	if (c->proxy != NULL && *c->proxy == '\0') {
		free(c->proxy);
		c->proxy = NULL;
	}
	if (json_object_object_get_ex(up, "timeout_ms", &v)) {
		if (num_parse(json_object_get_string(v), 1, 600000, &n) == -1)
			problem(c, "upstream.timeout_ms: 1 to 600000");
		else
			c->timeout_ms = (long)n;
	}
	/* The process's upstream connections (core/http.c's multi handle). */
	if (json_object_object_get_ex(up, "max_host_connections", &v)) {
		if (num_parse(json_object_get_string(v), 1, LIM_UP_CONNS,
		    &n) == -1)
			problem(c, "upstream.max_host_connections: 1 to %d",
			    LIM_UP_CONNS);
		else
			c->max_host_conns = (long)n;
	}
	if (json_object_object_get_ex(up, "max_connections", &v)) {
		if (num_parse(json_object_get_string(v), 1, LIM_UP_CONNS,
		    &n) == -1)
			problem(c, "upstream.max_connections: 1 to %d",
			    LIM_UP_CONNS);
		else
			c->max_conns = (long)n;
	}
	if (json_object_object_get_ex(up, "connect_to", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_array)) {
			problem(c, "upstream.connect_to: a list of strings");
			return;
		}
		for (i = 0; i < json_object_array_length(v); i++)
			if (!json_object_is_type(json_object_array_get_idx(v,
			    i), json_type_string))
				problem(c, "upstream.connect_to: a list of "
				    "strings");
		c->connect_to = json_object_get(v);
	}
}

static const char *const users_keys[] = {
	"file", "url", "app_code", "app_token", "cache_seconds", "bkuser",
	"comment", NULL
};
static const char *const bkuser_keys[] = {
	"url", "app_code", "app_secret", "cache_seconds", "comment", NULL
};

/*
 * "users.bkuser": bk-user's contact profiles through the API gateway,
 * as the app CMSI is there (bk_cmsi unless app_code says otherwise).
 */
static void
load_bkuser(struct conf *c, json_object *b)
{
	json_object	*v;

	if (!json_object_is_type(b, json_type_object)) {
		problem(c, "users.bkuser: must be an object with url, "
		    "app_code and app_secret");
		return;
	}
	json_object_object_foreach(b, key, val) {
		(void)val;
		if (!in_list(bkuser_keys, key))
			problem(c, "users.bkuser.%.64s: unknown key", key);
	}
	c->bkuser_url = opt_str(c, b, "url", "users.bkuser");
	if (c->bkuser_url == NULL || (strncmp(c->bkuser_url, "https://", 8)
	    != 0 && strncmp(c->bkuser_url, "http://", 7) != 0))
		problem(c, "users.bkuser.url: the gateway's http(s) URL of "
		    "bk-user is required");
	else if (strlen(c->bkuser_url) >= LIM_URL)
		problem(c, "users.bkuser.url: longer than %d bytes", LIM_URL);
	c->bkuser_app_code = opt_str(c, b, "app_code", "users.bkuser");
	if (c->bkuser_app_code == NULL)
		c->bkuser_app_code = xstrdup("bk_cmsi");
	if (!json_object_object_get_ex(b, "app_secret", &v))
		problem(c, "users.bkuser.app_secret: required");
	else
		c->bkuser_app_secret = secret_get(c, "users.bkuser.app_secret",
		    v);
	c->users_ttl = conf_int(b, "cache_seconds", 60);
}

static void
load_users(struct conf *c, json_object *u)
{
	json_object	*v;
	char		*s;
	int		 n = 0;

	c->users_ttl = 60;
	if (u == NULL)
		return;
	if (!json_object_is_type(u, json_type_object)) {
		problem(c, "users: must be an object");
		return;
	}
	json_object_object_foreach(u, key, val) {
		(void)val;
		if (!in_list(users_keys, key))
			problem(c, "users.%.64s: unknown key", key);
	}
	if (json_object_object_get_ex(u, "bkuser", &v) && v != NULL) {
		load_bkuser(c, v);
		n++;
	}
	s = opt_str(c, u, "file", "users");
	if (s != NULL && *s != '\0') {
		c->users_file = conf_resolve(c, s);
		if (access(c->users_file, R_OK) == -1)
			problem(c, "users.file: cannot read %s", c->users_file);
	}
	free(s);
	c->users_url = opt_str(c, u, "url", "users");
	n += c->users_file != NULL;
	n += c->users_url != NULL && *c->users_url != '\0';
	/* Two directories would answer differently: the operator picks. */
	if (n > 1)
		problem(c, "users: set one of file, url and bkuser");
	c->users_app_code = opt_str(c, u, "app_code", "users");
	if (json_object_object_get_ex(u, "app_token", &v))
		c->users_app_token = secret_get(c, "users.app_token", v);
	if (c->bkuser_url == NULL)
		c->users_ttl = conf_int(u, "cache_seconds", 60);
}

/*
 * "gateway": BlueKing's API gateway in front of the v1 dialect.  With
 * its public key, the X-Bkapi-Jwt it signs names the caller (the
 * gateway strips X-Bkapi-Authorization); "name", when given, is the
 * gateway the token must come from.
 */
static void
load_gateway(struct conf *c, json_object *gw)
{
	json_object	*v, *pem;

	if (gw == NULL)
		return;
	if (!json_object_is_type(gw, json_type_object)) {
		problem(c, "gateway: must be an object");
		return;
	}
	json_object_object_foreach(gw, key, val) {
		(void)val;
		if (strcmp(key, "public_key") != 0 &&
		    strcmp(key, "name") != 0 && strcmp(key, "comment") != 0)
			problem(c, "gateway.%s: unknown key", key);
	}
	if (json_object_object_get_ex(gw, "public_key", &v)) {
		c->jwt_key = secret_get(c, "gateway.public_key", v);
		pem = c->jwt_key != NULL ?
		    json_object_new_string(c->jwt_key) : NULL;
		if (pem != NULL &&
		    conf_check(CONF_JWT_KEY, pem, NULL, 0) == -1)
			problem(c, "gateway.public_key: not an RSA public key "
			    "in PEM");
		json_object_put(pem);
	}
	c->jwt_kid = opt_str(c, gw, "name", "gateway");
}

/*
 * "metrics": who may read /metrics and /healthz beyond loopback:
 * "allow" (CIDRs) and "token" (a bearer token, a secret).
 */
static void
load_metrics(struct conf *c, json_object *m)
{
	json_object	*v, *e;
	size_t		 i;

	if (m == NULL)
		return;
	if (!json_object_is_type(m, json_type_object)) {
		problem(c, "metrics: must be an object");
		return;
	}
	json_object_object_foreach(m, key, val) {
		(void)val;
		if (strcmp(key, "allow") != 0 && strcmp(key, "token") != 0 &&
		    strcmp(key, "comment") != 0)
			problem(c, "metrics.%.64s: unknown key", key);
	}
	if (json_object_object_get_ex(m, "allow", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_array)) {
			problem(c, "metrics.allow: a list of CIDRs");
			return;
		}
		for (i = 0; i < json_object_array_length(v); i++) {
			e = json_object_array_get_idx(v, i);
			if (!json_object_is_type(e, json_type_string) ||
			    conf_check(CONF_CIDR, e, NULL, 0) == -1)
				problem(c, "metrics.allow: %.64s is no CIDR "
				    "(e.g. 10.0.0.0/8, ::1/128)",
				    json_object_get_string(e));
		}
		c->metrics_allow = json_object_get(v);
	}
	if (json_object_object_get_ex(m, "token", &v) && v != NULL)
		c->metrics_token = secret_get(c, "metrics.token", v);
}

/*
 * "console": prefix, users.<name>.password_hash, admins (BlueKing
 * usernames), session_minutes.  The console module reads the values;
 * here they are only checked, so -t and a reload refuse a bad one.
 */
static void
load_console(struct conf *c, json_object *con)
{
	json_object	*v;
	const char	*s;
	size_t		 i, n;
	long long	 mins;

	if (!json_object_is_type(con, json_type_object)) {
		problem(c, "console: must be an object");
		return;
	}
	json_object_object_foreach(con, key, val) {
		if (strcmp(key, "prefix") == 0) {
			/* The type first: a null has no string to measure. */
			s = json_object_is_type(val, json_type_string) ?
			    json_object_get_string(val) : "";
			n = strlen(s);
			if (n < 2 || n > 128 || s[0] != '/' || s[n - 1] != '/' ||
			    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
			    "OPQRSTUVWXYZ0123456789/_.-") != n)
				problem(c, "console.prefix: a path such as "
				    "/console/ (letters, digits, / _ . -)");
		} else if (strcmp(key, "users") == 0) {
			if (!json_object_is_type(val, json_type_object)) {
				problem(c, "console.users: name -> "
				    "{\"password_hash\": ...}");
				continue;
			}
			json_object_object_foreach(val, name, u) {
				if (*name == '\0' || strlen(name) >= LIM_NAME)
					problem(c, "console.users: bad name");
				else if (!json_object_object_get_ex(u,
				    "password_hash", &v) ||
				    conf_check(CONF_PWHASH, v, NULL, 0) == -1)
					problem(c, "console.users.%s: "
					    "password_hash is no string of "
					    "cmsi.fcgi --hash-password", name);
			}
		} else if (strcmp(key, "admins") == 0) {
			if (!json_object_is_type(val, json_type_array)) {
				problem(c, "console.admins: a list of "
				    "BlueKing usernames");
				continue;
			}
			for (i = 0; i < json_object_array_length(val); i++)
				if (!json_object_is_type(
				    json_object_array_get_idx(val, i),
				    json_type_string))
					problem(c, "console.admins: a list of "
					    "BlueKing usernames");
		} else if (strcmp(key, "session_minutes") == 0) {
			if (num_parse(json_object_get_string(val), 1, 10080,
			    &mins) == -1)
				problem(c, "console.session_minutes: 1 to "
				    "10080");
		} else if (strcmp(key, "comment") != 0)
			problem(c, "console.%s: unknown key", key);
	}
	c->console = json_object_get(con);
}

static const char *const redis_keys[] = {
	"url", "password", "prefix", "claim_after_s", "comment", NULL
};

/* "redis": {"url", "password", "prefix"}: shared state between hosts. */
static void
load_redis(struct conf *c, json_object *r)
{
	json_object	*v;
	char		 msg[128];
	long long	 n;

	if (r == NULL)
		return;
	if (!json_object_is_type(r, json_type_object)) {
		problem(c, "redis: must be an object: {\"url\": "
		    "\"redis://host:port/db\" or \"unix:/path\"}");
		return;
	}
	json_object_object_foreach(r, key, val) {
		(void)val;
		if (!in_list(redis_keys, key))
			problem(c, "redis.%s: unknown key", key);
	}
	c->redis_url = opt_str(c, r, "url", "redis");
	if (c->redis_url == NULL) {
		problem(c, "redis.url: needed (redis://host:port/db or "
		    "unix:/path)");
		return;
	}
	v = json_object_new_string(c->redis_url);
	if (conf_check(CONF_REDIS_URL, v, msg, sizeof(msg)) == -1)
		problem(c, "redis.url: %s", msg);
	json_object_put(v);
	if (json_object_object_get_ex(r, "password", &v))
		c->redis_password = secret_get(c, "redis.password", v);
	c->redis_claim_s = 60;
	if (json_object_object_get_ex(r, "claim_after_s", &v)) {
		if (num_parse(json_object_get_string(v), 1, 86400, &n) == -1)
			problem(c, "redis.claim_after_s: 1 to 86400 seconds");
		else
			c->redis_claim_s = (long)n;
	}
	c->redis_prefix = opt_str(c, r, "prefix", "redis");
	if (c->redis_prefix != NULL && (strlen(c->redis_prefix) >
	    LIM_REDIS_PREFIX || strpbrk(c->redis_prefix, " \r\n") != NULL))
		problem(c, "redis.prefix: at most %d bytes, no spaces",
		    LIM_REDIS_PREFIX);
}

static const char *const workers_keys[] = {
	"threads", "queue", "comment", NULL
};

/*
 * "workers": {"threads", "queue"}: how many requests one process
 * serves at once, and how many more it holds before it answers busy.
 * Read when the process starts; a reload keeps its pool.
 */
static void
load_workers(struct conf *c, json_object *w)
{
	json_object	*v;
	long long	 n;

	c->threads = LIM_THREADS_DEFAULT;
	c->queue = -1;
	if (w == NULL)
		return;
	if (!json_object_is_type(w, json_type_object)) {
		problem(c, "workers: must be an object: {\"threads\": N, "
		    "\"queue\": N}");
		return;
	}
	json_object_object_foreach(w, key, val) {
		(void)val;
		if (!in_list(workers_keys, key))
			problem(c, "workers.%s: unknown key", key);
	}
	if (json_object_object_get_ex(w, "threads", &v)) {
		if (num_parse(json_object_get_string(v), 1, LIM_THREADS,
		    &n) == -1)
			problem(c, "workers.threads: 1 to %d requests at once "
			    "per process", LIM_THREADS);
		else
			c->threads = (long)n;
	}
	if (json_object_object_get_ex(w, "queue", &v)) {
		if (num_parse(json_object_get_string(v), 0, LIM_QUEUE,
		    &n) == -1)
			problem(c, "workers.queue: 0 to %d requests waiting "
			    "per process", LIM_QUEUE);
		else
			c->queue = (long)n;
	}
}

/* An empty configuration for the file at path. */
static struct conf *
conf_new(const char *path, const char *tenant)
{
	struct conf	*c;
	char		*slash;

	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->tenant = tenant != NULL ? xstrdup(tenant) : NULL;
	c->dir = xstrdup(path);
	slash = strrchr(c->dir, '/');
	if (slash == NULL) {
		free(c->dir);
		c->dir = xstrdup(".");
	} else if (slash == c->dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	c->max_body = LIM_BODY;
	return c;
}

/* Checks the document doc and fills c from it. */
static void
conf_fill(struct conf *c, json_object *doc)
{
	json_object	*v, *login;
	char		*s;
	long long	 n;

	json_object_object_foreach(doc, key, val) {
		(void)val;
		if (!in_list(top_keys, key))
			problem(c, "%s: unknown key", key);
	}
	s = opt_str(c, doc, "state_dir", "config");
	c->state_dir_default = s == NULL;
	c->state_dir = conf_resolve(c, s != NULL ? s : "var");
	free(s);
	s = opt_str(c, doc, "schemas_dir", "config");
	c->schemas_dir = conf_resolve(c, s != NULL ? s : "schemas");
	free(s);
	s = opt_str(c, doc, "templates_dir", "config");
	c->templates_dir = conf_resolve(c, s != NULL ? s : "../templates");
	free(s);
	if (json_object_object_get_ex(doc, "max_body", &v)) {
		if (num_parse(json_object_get_string(v), 1024, LIM_BODY,
		    &n) == -1)
			problem(c, "max_body: 1024 to %d bytes", LIM_BODY);
		else
			c->max_body = (size_t)n;
	}
	c->verbose = conf_bool(doc, "verbose");
	c->outbox_keep = 1000;
	if (json_object_object_get_ex(doc, "outbox_keep", &v)) {
		if (num_parse(json_object_get_string(v), 1, 10000000, &n) ==
		    -1)
			problem(c, "outbox_keep: 1 to 10000000 files");
		else
			c->outbox_keep = (long)n;
	}
	json_object_object_get_ex(doc, "apps", &v);
	load_apps(c, v);
	login = NULL;
	json_object_object_get_ex(doc, "login", &login);
	if (login != NULL && !json_object_is_type(login, json_type_object))
		problem(c, "login: must be an object");
	else if (login != NULL) {
		json_object_object_foreach(login, lkey, lval) {
			(void)lval;
			if (!in_list(login_keys, lkey))
				problem(c, "login.%.64s: unknown key", lkey);
		}
	}
	c->login_url = opt_str(c, login, "is_login_url", "login");
	if (c->login_url == NULL)
		c->login_url = xstrdup("");
	v = NULL;
	json_object_object_get_ex(doc, "users", &v);
	load_users(c, v);
	v = NULL;
	json_object_object_get_ex(doc, "upstream", &v);
	load_upstream(c, v);
	v = NULL;
	json_object_object_get_ex(doc, "gateway", &v);
	load_gateway(c, v);
	v = NULL;
	json_object_object_get_ex(doc, "metrics", &v);
	load_metrics(c, v);
	if (c->tenant == NULL && json_object_object_get_ex(doc, "console", &v))
		load_console(c, v);
	v = NULL;
	json_object_object_get_ex(doc, "redis", &v);
	load_redis(c, v);
	v = NULL;
	json_object_object_get_ex(doc, "workers", &v);
	load_workers(c, v);
	if (json_object_object_get_ex(doc, "components", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_object))
			problem(c, "components: must be an object");
		else {
			json_object_object_foreach(v, name, sec)
				load_comp(c, name, sec);
			c->components = json_object_get(v);
		}
	}
}

/* A tenant id is a short token, as BlueKing's tenant ids are. */
static int
tenant_id_ok(const char *id)
{
	size_t	 n = strlen(id);

	return n > 0 && n < LIM_NAME && strspn(id, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/*
 * The file as a tenant sees it: the top level with the tenant's "users"
 * in place of the top's and each of its components in place of the
 * top's section of that name (whole sections, so no key of one tenant's
 * channel leaks into another's).  Caller puts.
 */
static json_object *
tenant_doc(json_object *doc, json_object *td)
{
	json_object	*out = NULL, *v, *comps, *copy;

	json_object_deep_copy(doc, &out, NULL);
	json_object_object_del(out, "tenants");
	if (json_object_object_get_ex(td, "users", &v)) {
		copy = NULL;
		json_object_deep_copy(v, &copy, NULL);
		json_object_object_add(out, "users", copy);
	}
	if (!json_object_object_get_ex(td, "components", &v) ||
	    !json_object_is_type(v, json_type_object))
		return out;
	if (!json_object_object_get_ex(out, "components", &comps) ||
	    !json_object_is_type(comps, json_type_object)) {
		comps = json_object_new_object();
		json_object_object_add(out, "components", comps);
	}
	json_object_object_foreach(v, name, sec) {
		copy = NULL;
		json_object_deep_copy(sec, &copy, NULL);
		json_object_object_add(comps, name, copy);
	}
	return out;
}

/* Every id in apps.<code>.tenants names a tenant of the file. */
static void
check_app_tenants(struct conf *c)
{
	json_object	*v;
	const char	*id;
	size_t		 i, j;

	for (i = 0; i < c->napps; i++) {
		if (c->apps[i].tenants == NULL)
			continue;
		for (j = 0; j < json_object_array_length(c->apps[i].tenants);
		    j++) {
			v = json_object_array_get_idx(c->apps[i].tenants, j);
			id = json_object_get_string(v);
			if (!json_object_is_type(v, json_type_string))
				problem(c, "apps.%s.tenants: not a tenant id",
				    c->apps[i].code);
			else if (strcmp(id, "*") != 0 &&
			    strcmp(id, "default") != 0 &&
			    conf_tenant(c, id) == NULL)
				problem(c, "apps.%s.tenants: %.64s is not in "
				    "tenants", c->apps[i].code, id);
		}
	}
}

/*
 * "tenants": id -> {users, components}.  Each tenant becomes a whole
 * configuration of its own, checked like the top level.
 */
static void
load_tenants(struct conf *c, json_object *doc)
{
	json_object	*tenants, *v, *td;
	struct conf	*t;

	if (!json_object_object_get_ex(doc, "tenants", &tenants) ||
	    tenants == NULL)
		return;
	if (!json_object_is_type(tenants, json_type_object)) {
		problem(c, "tenants: must be an object of tenant id -> "
		    "settings");
		return;
	}
	c->tenants = xcalloc((size_t)json_object_object_length(tenants) + 1,
	    sizeof(*c->tenants));
	json_object_object_foreach(tenants, id, tsec) {
		if (!tenant_id_ok(id)) {
			problem(c, "tenants.%.64s: bad tenant id", id);
			continue;
		}
		if (!json_object_is_type(tsec, json_type_object)) {
			problem(c, "tenants.%s: must be an object", id);
			continue;
		}
		json_object_object_foreach(tsec, key, val) {
			(void)val;
			if (!in_list(tenant_keys, key))
				problem(c, "tenants.%s.%s: unknown key", id,
				    key);
		}
		if (json_object_object_get_ex(tsec, "components", &v) &&
		    !json_object_is_type(v, json_type_object))
			problem(c, "tenants.%s.components: must be an object",
			    id);
		t = conf_new(c->path, id);
		td = tenant_doc(doc, tsec);
		conf_fill(t, td);
		json_object_put(td);
		c->tenants[c->ntenants].id = xstrdup(id);
		c->tenants[c->ntenants].conf = t;
		c->ntenants++;
	}
}

/*
 * Loads and checks the file.  Returns the configuration, or NULL after
 * printing one line per problem to stderr; *nproblems (if not NULL)
 * gets their count.
 */
struct conf *
conf_load(const char *path, int *nproblems)
{
	struct conf	*c;
	json_object	*doc = NULL;
	char		*text = NULL, err[256];
	size_t		 len;

	conf_bad = 0;
	buf_free(&conf_said);
	buf_init(&conf_said, LIM_PROBLEMS);
	c = conf_new(path, NULL);
	text = slurp(path, LIM_CONF, &len);
	if (text == NULL) {
		problem(c, "cannot read the file (%s)", strerror(errno));
		goto out;
	}
	doc = jsonerr_parse_object(text, len, err, sizeof(err));
	if (doc == NULL) {
		problem(c, "%s", err);
		goto out;
	}
	conf_fill(c, doc);
	/* The tenants repeat the top level: its problems are told once. */
	if (conf_bad == 0)
		load_tenants(c, doc);
	check_app_tenants(c);
out:
	json_object_put(doc);
	free(text);
	if (nproblems != NULL)
		*nproblems = conf_bad;
	if (conf_bad > 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}

/*
 * Wipes the strings of a component section: its resolved secrets are
 * among them, and nothing else needs them once the conf goes.
 */
static void
wipe_section(json_object *sec)
{
	json_object_object_foreach(sec, key, v) {
		(void)key;
		if (!json_object_is_type(v, json_type_string))
			continue;
		explicit_bzero((char *)(uintptr_t)json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	}
}

void
conf_free(struct conf *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ntenants; i++) {
		free(c->tenants[i].id);
		conf_free(c->tenants[i].conf);
	}
	free(c->tenants);
	for (i = 0; i < c->napps; i++) {
		free(c->apps[i].code);
		secret_free(c->apps[i].secret);
		json_object_put(c->apps[i].tenants);
		json_object_put(c->apps[i].rate_limit);
	}
	free(c->apps);
	if (c->components != NULL) {
		json_object_object_foreach(c->components, name, sec) {
			(void)name;
			if (json_object_is_type(sec, json_type_object))
				wipe_section(sec);
		}
	}
	json_object_put(c->components);
	json_object_put(c->console);
	json_object_put(c->connect_to);
	secret_free(c->users_app_token);
	secret_free(c->bkuser_app_secret);
	secret_free(c->metrics_token);
	json_object_put(c->metrics_allow);
	free(c->bkuser_app_code);
	free(c->bkuser_url);
	free(c->users_app_code);
	free(c->users_url);
	free(c->users_file);
	free(c->ca_file);
	free(c->proxy);
	free(c->login_url);
	free(c->templates_dir);
	free(c->schemas_dir);
	free(c->state_dir);
	free(c->jwt_key);
	free(c->jwt_kid);
	free(c->redis_url);
	secret_free(c->redis_password);
	free(c->redis_prefix);
	free(c->dir);
	free(c->tenant);
	free(c->path);
	free(c);
}

const struct conf_app *
conf_app(const struct conf *c, const char *code)
{
	size_t	 i;

	for (i = 0; i < c->napps; i++)
		if (strcmp(c->apps[i].code, code) == 0)
			return &c->apps[i];
	return NULL;
}

/*
 * The configuration tenant id sees: its entry under "tenants", else the
 * top level for "" or "default", or for any id when the file defines
 * no tenants (one default tenant serves everyone).  NULL for an id the
 * file does not know, so nobody is served from the wrong directory.
 */
const struct conf *
conf_tenant(const struct conf *c, const char *id)
{
	size_t	 i;

	if (id == NULL)
		id = "";
	for (i = 0; i < c->ntenants; i++)
		if (strcmp(c->tenants[i].id, id) == 0)
			return c->tenants[i].conf;
	if (*id == '\0' || strcmp(id, "default") == 0 || c->ntenants == 0)
		return c;
	return NULL;
}

/*
 * Whether app a may act in tenant id (NULL or "" is the default
 * tenant).  Its "tenants" list decides; without one, an app acts in
 * the default tenant only when the file has tenants, and everywhere
 * when it has none (one tenant serves everyone).  An app the file does
 * not list (one the API gateway vouched for) is bound by the gateway.
 */
int
conf_app_tenant(const struct conf *c, const struct conf_app *a,
    const char *id)
{
	const char	*t;
	size_t		 i;

	if (id == NULL || *id == '\0')
		id = "default";
	if (a == NULL || (a->tenants == NULL && c->ntenants == 0))
		return 1;
	if (a->tenants == NULL)
		return strcmp(id, "default") == 0;
	for (i = 0; i < json_object_array_length(a->tenants); i++) {
		t = json_object_get_string(json_object_array_get_idx(
		    a->tenants, i));
		if (t != NULL && (strcmp(t, "*") == 0 || strcmp(t, id) == 0))
			return 1;
	}
	return 0;
}

/* The section of a component, or NULL when the file has none. */
json_object *
conf_comp(const struct conf *c, const char *name)
{
	json_object	*v;

	if (c->components == NULL ||
	    !json_object_object_get_ex(c->components, name, &v) ||
	    !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

/*
 * Whether a component is switched on: "enabled": false makes it answer
 * ESB's inactive channel (1306405).  A component without a section is
 * on (it then answers "Unfinished interface").
 */
int
conf_enabled(json_object *sec)
{
	json_object	*v;
	int		 b = 1;

	if (sec == NULL || !json_object_object_get_ex(sec, "enabled", &v))
		return 1;
	if (conf_parse_bool(v, &b) == -1)
		return 1;
	return b;
}

/*
 * The file to read when neither -c nor CMSI_CONF names one: cmsi.json
 * beside the executable as started (argv0; a symlink's directory, not
 * its target's), where a host that only allows .htaccess lets it be
 * put; else conf/cmsi.json, the source tree's.  Returns buf or a
 * literal.
 */
const char *
conf_default(const char *argv0, char *buf, size_t bufsz)
{
	const char	*slash = strrchr(argv0, '/');

	if (slash != NULL && snprintf(buf, bufsz, "%.*s/cmsi.json",
	    (int)(slash - argv0), argv0) < (int)bufsz &&
	    access(buf, F_OK) == 0)
		return buf;
	return "conf/cmsi.json";
}

/* A worker thread's end: its problem lines go with it. */
void
conf_thread_end(void)
{
	buf_free(&conf_said);
}

/* The problem lines of the last conf_load, "" when it had none. */
const char *
conf_problems(void)
{
	return conf_said.ptr != NULL ? conf_said.ptr : "";
}

/*
 * For the modules that check their own sections (custom.c): a problem
 * line, and a secret read as every secret of the file is.
 */
void
conf_problem(const struct conf *c, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	problem(c, "%s", msg);
}

char *
conf_secret(const struct conf *c, const char *what, json_object *v)
{
	return secret_get(c, what, v);
}

/*
 * "x.smtp_hots: unknown key" gets " (did you mean smtp_host?)": the
 * nearest key the same place knows (a component's from its schema),
 * or the nearest component name.  Nothing is added when none is near.
 */
static void
conf_hint(const struct conf *c, char *msg, size_t msgsz)
{
	static const char *const metrics_keys[] = {
		"allow", "token", "comment", NULL
	};
	static const char *const gateway_keys[] = {
		"public_key", "name", "comment", NULL
	};
	static const char *const console_keys[] = {
		"users", "admins", "prefix", "session_minutes", "comment", NULL
	};
	static const struct {
		const char		*parent;
		const char *const	*keys;
	} places[] = {
		{ "", top_keys }, { "upstream", upstream_keys },
		{ "login", login_keys }, { "users", users_keys },
		{ "users.bkuser", bkuser_keys }, { "redis", redis_keys },
		{ "metrics", metrics_keys }, { "gateway", gateway_keys },
		{ "console", console_keys }, { "components", comp_names },
	};
	const char	*props[65];
	const char	*tail, *dot, *word, *best = NULL;
	json_object	*doc = NULL, *pr;
	char		 parent[LIM_PATH], typo[LIM_NAME];
	size_t		 i, n = 0, plen;

	if ((tail = strstr(msg, ": unknown key")) == NULL &&
	    (tail = strstr(msg, ": unknown component")) == NULL)
		return;
	/* The last segment before the tail is the typo, the rest its place. */
	for (dot = NULL, word = msg; word < tail; word++)
		if (*word == '.')
			dot = word;
	word = dot != NULL ? dot + 1 : msg;
	plen = dot != NULL ? (size_t)(dot - msg) : 0;
	if (plen >= sizeof(parent) || word == tail ||
	    (size_t)(tail - word) >= sizeof(typo))
		return;
	memcpy(parent, msg, plen);
	parent[plen] = '\0';
	memcpy(typo, word, (size_t)(tail - word));
	typo[tail - word] = '\0';
	for (i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		if (strcmp(parent, places[i].parent) == 0)
			best = near_word(typo, places[i].keys);
	if (strncmp(parent, "apps.", 5) == 0 && strchr(parent + 5, '.') == NULL)
		best = near_word(typo, app_keys);
	else if (strncmp(parent, "tenants.", 8) == 0 &&
	    strchr(parent + 8, '.') == NULL)
		best = near_word(typo, tenant_keys);
	else if (strncmp(parent, "components.", 11) == 0 &&
	    (doc = confschema_doc(c->schemas_dir, parent + 11)) != NULL &&
	    json_object_object_get_ex(doc, "properties", &pr)) {
		json_object_object_foreach(pr, k, v) {
			(void)v;
			if (n + 1 < sizeof(props) / sizeof(props[0]))
				props[n++] = k;
		}
		props[n] = NULL;
		best = near_word(typo, props);
	}
	if (best != NULL)
		snprintf(msg + strlen(msg), msgsz - strlen(msg),
		    " (did you mean %s?)", best);
	json_object_put(doc);
}
