/*
 * Rate limits: "rate_limit": {"per_second": r, "burst": b} on an app
 * (apps.<code>) caps what the app may ask of us, on a component
 * section it caps what we ask of that upstream (WeCom's per-app
 * limits, a Tencent account's frequency).  One request is one unit.
 *
 * The limiter is GCRA: one number per limit, the theoretical arrival
 * time (TAT) of the next request.  A request is let in when the new
 * TAT would be at most b intervals ahead of now, which lets b requests
 * through at once from idle and r a second after that.  With Redis the
 * number lives there and one Lua script reads and moves it, on
 * Redis's clock, so every host and worker shares one limit.  Without
 * Redis (or while it is down) it is a file under <state_dir>/rate/
 * updated under flock: one limit per host.  A limiter that cannot
 * keep its state lets the request through: a broken disk must not
 * stop alerts.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/log.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "rate.h"
#include "redis.h"

/*
 * KEYS[1] the TAT, ARGV[1] interval, ARGV[2] tolerance (microseconds).
 * Returns 0 when let in (the TAT moved), else microseconds to wait.
 */
static const char rate_lua[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local tat = tonumber(redis.call('GET', KEYS[1])) or now "
    "if tat < now then tat = now end "
    "local new = tat + tonumber(ARGV[1]) "
    "local over = new - now - tonumber(ARGV[2]) "
    "if over > 0 then return math.ceil(over) end "
    "redis.call('SET', KEYS[1], string.format('%d', new), 'PX', "
    "math.ceil((new - now) / 1000) + 1000) "
    "return 0";

/* A number given as JSON number or string.  Returns 0, or -1. */
static int
num_of(json_object *v, double *out)
{
	const char	*s;
	char		*end;

	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double)) {
		*out = json_object_get_double(v);
		return isfinite(*out) ? 0 : -1;
	}
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	errno = 0;
	*out = strtod(s, &end);
	return *s == '\0' || *end != '\0' || errno != 0 || !isfinite(*out) ?
	    -1 : 0;
}

/* -t: a "rate_limit" value.  Returns 0, or -1 with what is wrong. */
int
rate_check(json_object *v, char *msg, size_t n)
{
	double	 d;

	if (!json_object_is_type(v, json_type_object)) {
		snprintf(msg, n, "must be an object: {\"per_second\": r, "
		    "\"burst\": b}");
		return -1;
	}
	json_object_object_foreach(v, k, val) {
		if (strcmp(k, "per_second") == 0) {
			if (num_of(val, &d) == -1 || d < 0.001 ||
			    d > LIM_RATE_PER_S) {
				snprintf(msg, n, "per_second: 0.001 to %d",
				    LIM_RATE_PER_S);
				return -1;
			}
		} else if (strcmp(k, "burst") == 0) {
			if (num_of(val, &d) == -1 || d < 1 ||
			    d > LIM_RATE_BURST || d != floor(d)) {
				snprintf(msg, n, "burst: a whole number, 1 to "
				    "%d", LIM_RATE_BURST);
				return -1;
			}
		} else if (strcmp(k, "comment") != 0) {
			snprintf(msg, n, "%s: unknown key", k);
			return -1;
		}
	}
	if (!json_object_object_get_ex(v, "per_second", NULL)) {
		snprintf(msg, n, "needs per_second");
		return -1;
	}
	return 0;
}

/*
 * The limiter's numbers for a checked rate_limit: burst defaults to
 * one second's worth (at least 1).  Returns 0, or -1 when v is none.
 */
int
rate_spec(json_object *v, struct rate_spec *s)
{
	json_object	*x;
	double		 r, b;

	memset(s, 0, sizeof(*s));
	if (v == NULL || !json_object_object_get_ex(v, "per_second", &x) ||
	    num_of(x, &r) == -1 || r <= 0)
		return -1;
	b = ceil(r);
	if (json_object_object_get_ex(v, "burst", &x) && num_of(x, &b) == -1)
		return -1;
	if (b < 1)
		b = 1;
	s->per_second = r;
	s->burst = (long)b;
	s->interval = (long long)llround(1e6 / r);
	if (s->interval < 1)
		s->interval = 1;
	s->tolerance = s->interval * s->burst;
	return 0;
}

/*
 * GCRA's one step: tat is the stored arrival time (0 for none), now
 * the clock, both in microseconds.  Returns 0 with *newtat to store
 * when the request is let in, else the microseconds until it would be.
 */
long long
rate_gcra(long long tat, long long now, const struct rate_spec *s,
    long long *newtat)
{
	long long	 next, over;

	if (tat < now)
		tat = now;
	next = tat + s->interval;
	over = next - now - s->tolerance;
	if (over > 0)
		return over;
	*newtat = next;
	return 0;
}

/* Hex of the first 16 bytes of SHA-256 of s: a file name. */
static void
name_hash(const char *s, char out[33])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 d[32];
	size_t			 i;

	memset(d, 0, sizeof(d));
	gnutls_hash_fast(GNUTLS_DIG_SHA256, s, strlen(s), d);
	for (i = 0; i < 16; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[32] = '\0';
}

/*
 * The file limiter: <state_dir>/rate/<hash>, holding the TAT, under
 * flock.  Returns 0 (let in), microseconds to wait, or -1 when the
 * file cannot be used.
 */
static long long
take_file(const struct conf *c, const char *id, const struct rate_spec *s)
{
	struct timespec	 ts;
	char		 dir[LIM_PATH], path[LIM_PATH + 40], h[33], b[32];
	long long	 tat = 0, now, next = 0, wait = -1;
	ssize_t		 n;
	int		 fd = -1, k;

	name_hash(id, h);
	if (snprintf(dir, sizeof(dir), "%s/rate", c->state_dir) >=
	    (int)sizeof(dir) || snprintf(path, sizeof(path), "%s/%s", dir,
	    h) >= (int)sizeof(path))
		return -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || flock(fd, LOCK_EX) == -1)
		goto out;
	n = pread(fd, b, sizeof(b) - 1, 0);
	if (n > 0) {
		b[n] = '\0';
		b[strcspn(b, "\n")] = '\0';
		if (num_parse(b, 0, 0x7fffffffffffffffLL, &tat) == -1)
			tat = 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	wait = rate_gcra(tat, now, s, &next);
	if (wait == 0) {
		k = snprintf(b, sizeof(b), "%lld\n", next);
		if (ftruncate(fd, 0) == -1 || pwrite(fd, b, (size_t)k, 0) != k)
			log_warn("rate: %s", path);
	}
out:
	if (fd != -1)
		close(fd);
	return wait;
}

/*
 * The Redis limiter.  Returns 0 (let in), microseconds to wait, or -1
 * when Redis did not answer.
 */
static long long
take_redis(const char *id, const struct rate_spec *s)
{
	redisReply	*r;
	char		 key[LIM_REDIS_KEY];
	long long	 wait = -1;

	if (redis_key(key, sizeof(key), "rate", id) == -1)
		return -1;
	r = redis_cmd("EVAL %s 1 %s %lld %lld", rate_lua, key, s->interval,
	    s->tolerance);
	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		wait = r->integer;
	else if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_warnx("rate: redis: %s", r->str);
	freeReplyObject(r);
	return wait;
}

/*
 * One unit of the limit spec, for the limiter named scope:name.
 * Returns 1 when let in, 0 when over the limit (*wait_ms: when to try
 * again).  Redis down: this host's file limiter, said in the log.
 */
int
rate_take(const struct conf *c, const char *scope, const char *name,
    json_object *spec, long *wait_ms)
{
	static time_t	 said;	/* atomic: when the log last said it */
	struct rate_spec s;
	char		 id[LIM_NAME * 3 + 16];
	long long	 w = -1;

	*wait_ms = 0;
	if (rate_spec(spec, &s) == -1)
		return 1;
	snprintf(id, sizeof(id), "%s:%s", scope, name);
	if (redis_on()) {
		w = take_redis(id, &s);
		if (w < 0 && time(NULL) - __atomic_load_n(&said,
		    __ATOMIC_RELAXED) >= 60) {
			__atomic_store_n(&said, time(NULL), __ATOMIC_RELAXED);
			log_warnx("rate: redis down, limit %s kept on this "
			    "host only", id);
		}
	}
	if (w < 0)
		w = take_file(c, id, &s);
	if (w <= 0)
		return 1;
	*wait_ms = (long)((w + 999) / 1000);
	return 0;
}

/* The answer over a limit; v1 makes it a 429 RATELIMIT_EXCEED. */
void
rate_refuse(const struct ctx *cx, struct reply *rp, const char *what,
    json_object *spec, long wait_ms)
{
	struct rate_spec s;

	rate_spec(spec, &s);
	reply_fail(rp, CODE_COMMON, "%s: %s allows %g request(s) a second "
	    "(burst %ld); try again in %ld ms", RATE_SAID, what,
	    s.per_second, s.burst, wait_ms);
	log_info("%s: %s over its rate limit", cx->request_id, what);
}

/* The app's own limit.  Returns 1 (rp set) when it is over. */
int
rate_app(const struct ctx *cx, struct reply *rp)
{
	const struct conf_app	*a;
	char			 what[LIM_NAME + 16];
	long			 wait;

	if (cx->app_code == NULL || *cx->app_code == '\0' ||
	    (a = conf_app(cx->conf, cx->app_code)) == NULL ||
	    a->rate_limit == NULL)
		return 0;
	if (rate_take(cx->conf, "app", a->code, a->rate_limit, &wait))
		return 0;
	snprintf(what, sizeof(what), "app %s", a->code);
	rate_refuse(cx, rp, what, a->rate_limit, wait);
	return 1;
}

/*
 * The component section's limit (the upstream's cap).  Returns 1 when
 * the request may go on, 0 when over (*wait_ms set).
 */
int
rate_comp(const struct ctx *cx, long *wait_ms)
{
	json_object	*spec;
	char		 name[2 * LIM_NAME + 2];

	*wait_ms = 0;
	if (cx->section == NULL || !json_object_object_get_ex(cx->section,
	    "rate_limit", &spec))
		return 1;
	snprintf(name, sizeof(name), "%s/%s", cx->conf->tenant != NULL ?
	    cx->conf->tenant : "", cx->component);
	return rate_take(cx->conf, "comp", name, spec, wait_ms);
}

/*
 * The limit stage: the app's limit, then the component's.  Returns -1
 * (rp set) when refused, 0 when the request goes on now, 1 when the
 * component is over its limit but spooled (it retries through the
 * spool) so the message waits there *wait_ms.
 */
int
rate_admit(const struct ctx *cx, int spooled, long *wait_ms,
    struct reply *rp)
{
	json_object	*cap = NULL;

	*wait_ms = 0;
	if (rate_app(cx, rp))
		return -1;
	if (rate_comp(cx, wait_ms))
		return 0;
	if (spooled)
		return 1;
	json_object_object_get_ex(cx->section, "rate_limit", &cap);
	rate_refuse(cx, rp, cx->component, cap, *wait_ms);
	return -1;
}
