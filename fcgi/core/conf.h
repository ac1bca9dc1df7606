#ifndef CONF_H
#define CONF_H

#include <stddef.h>
#include <json-c/json.h>

struct conf_app {
	char		*code;		/* owned */
	char		*secret;	/* owned, wiped by conf_free */
	int		 skip_user_auth; /* bk_username trusted for this app */
	int		 weixin_settings; /* may read WeChat settings (v1) */
	json_object	*tenants;	/* owned: ids it may act in, or NULL */
	json_object	*rate_limit;	/* owned: {per_second, burst}, or NULL */
};

struct conf_tenant {
	char		*id;		/* owned: X-Bk-Tenant-Id value */
	struct conf	*conf;		/* owned: the whole file as it sees it */
};

struct conf {
	char		*path;		/* owned: the file as given */
	char		*tenant;	/* owned: a tenant's view, NULL at the top */
	char		*dir;		/* owned: its directory, for relative paths */
	char		*state_dir;	/* owned: resolved */
	int		 state_dir_default; /* the file names none */
	char		*schemas_dir;	/* owned: resolved */
	char		*templates_dir;	/* owned: resolved */
	char		*login_url;	/* owned: is_login_url, "" if unset */
	char		*users_file;	/* owned: resolved, NULL if unset */
	char		*users_url;	/* owned: get_batch_user URL, NULL if unset */
	char		*users_app_code; /* owned: X-APP-CODE for users_url */
	char		*users_app_token; /* owned, wiped: X-APP-TOKEN */
	long		 users_ttl;	/* seconds a directory answer is kept */
	json_object	*metrics_allow;	/* owned: CIDRs /metrics answers, or NULL */
	char		*metrics_token;	/* owned, wiped: its bearer token, or NULL */
	char		*bkuser_url;	/* owned: bk-user base URL, or NULL */
	char		*bkuser_app_code; /* owned: the gateway app (bk_cmsi) */
	char		*bkuser_app_secret; /* owned, wiped: its secret */
	char		*ca_file;	/* owned: resolved, NULL if unset */
	char		*proxy;		/* owned: NULL if unset */
	long		 timeout_ms;	/* per upstream call */
	json_object	*connect_to;	/* owned: array of CONNECT_TO strings */
	long		 max_host_conns; /* upstream connections per host */
	long		 max_conns;	/* upstream connections kept, in all */
	size_t		 max_body;	/* request body cap, bytes */
	int		 verbose;	/* debug log lines */
	long		 outbox_keep;	/* sandbox outbox files kept */
	struct conf_app	*apps;		/* owned: napps entries */
	size_t		 napps;
	json_object	*components;	/* owned: name -> section, secrets resolved */
	json_object	*console;	/* owned: the "console" section, or NULL */
	char		*jwt_key;	/* owned: API gateway's key (PEM), or NULL */
	char		*jwt_kid;	/* owned: the gateway's name, or NULL */
	struct conf_tenant *tenants;	/* owned: ntenants entries */
	size_t		 ntenants;
	char		*redis_url;	/* owned: "redis" url, or NULL: files */
	char		*redis_password; /* owned, wiped: AUTH, or NULL */
	char		*redis_prefix;	/* owned: of every key, or NULL */
	long		 redis_claim_s;	/* a dead drainer's retries taken after */
	long		 threads;	/* workers.threads: requests at once */
	long		 queue;		/* workers.queue, -1: as many as threads */
};

/*
 * The settings whose sense their own module knows: conf.c reads the
 * file and names the key, the module says what is wrong with its value
 * (a message in why, -1).  The table is registered once at the top
 * (preflight_register) so the loader includes no feature module; a key
 * with no checker registered is taken as it is.
 */
enum conf_key {
	CONF_RATE_LIMIT,	/* apps.<code>.rate_limit, components.*.rate_limit */
	CONF_RETRY,		/* components.*.retry */
	CONF_DEDUP,		/* components.*.dedup_window_s */
	CONF_CIDR,		/* one entry of metrics.allow */
	CONF_REDIS_URL,		/* redis.url */
	CONF_JWT_KEY,		/* gateway.public_key, once resolved */
	CONF_PWHASH,		/* console.users.<name>.password_hash */
	CONF_KEY__MAX
};

struct conf_check {
	enum conf_key	 key;
	int		(*fn)(json_object *, char *, size_t);
};

void		 conf_checks(const struct conf_check *, size_t);
void		 conf_custom(void (*)(const struct conf *, const char *,
		    json_object *));
struct conf	*conf_load(const char *, int *);
void		 conf_free(struct conf *);
const struct conf_app *conf_app(const struct conf *, const char *);
const struct conf *conf_tenant(const struct conf *, const char *);
int		 conf_app_tenant(const struct conf *, const struct conf_app *,
		    const char *);
json_object	*conf_comp(const struct conf *, const char *);
const char	*conf_str(json_object *, const char *);
int		 conf_bool(json_object *, const char *);
int		 conf_enabled(json_object *);
long		 conf_int(json_object *, const char *, long);
int		 conf_parse_bool(json_object *, int *);
char		*conf_resolve(const struct conf *, const char *);
const char	*conf_default(const char *, char *, size_t);
const char	*conf_problems(void);
void		 conf_problem(const struct conf *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));
char		*conf_secret(const struct conf *, const char *, json_object *);
void		 conf_thread_end(void);

#endif /* CONF_H */
