/*
 * The retry spool: recipients an upstream failed transiently, kept in
 * <state_dir>/spool/ until they are delivered, refused for good, or
 * expire, so that an alert is not lost to a short outage.
 *
 * A component retries when its section has "retry": {"attempts": N,
 * "max_age_s": S} (and optionally "backoff_s").  Each message is one
 * JSON file named after its request_id, mode 0600, holding what a
 * re-send needs (component, tenant, app, the coerced parameters) and
 * each recipient's state: pending, sent or failed.  A retry sends to
 * the pending ones only, so nobody gets the message twice.
 *
 * Before the first attempt the file is written as an intent, locked
 * (flock) by the worker for as long as it sends: a worker killed in
 * the middle leaves it behind, and a drain finds it "inflight" and
 * sends again (recorded as in_doubt in the audit log: the upstream may
 * or may not have taken it).  When transient failures remain the file
 * is rewritten durably (temp file, fsync, rename, fsync of the
 * directory) before the answer says "queued"; a file that cannot be
 * written leaves the answer a failure.
 *
 * No daemon retries: spool/next carries, as its mtime, the earliest
 * time something is due.  After each answer a worker stats it and,
 * when it is due, takes spool/.lock and drains a bounded batch
 * (spool_drain); cmsi.fcgi --drain does the same from cron or a timer.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
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
#include "core/outcome.h"
#include "idem.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "rate.h"
#include "redis.h"
#include "rspool.h"
#include "spool.h"

#define SPOOL_GRACE	10	/* s a first attempt may take before a drain looks */
#define SPOOL_BUSY	5	/* s before a locked item is looked at again */
#define SPOOL_FALLBACK	300	/* s: next drain even if a drainer died */
#define SPOOL_CAP	3600	/* s: longest wait between two attempts */

/* A section's "retry". */
struct retry {
	long	 attempts;	/* tries in all, the first included */
	long	 max_age;	/* seconds from the request to expiry */
	long	 backoff;	/* first wait's upper bound, seconds */
};

/* Where the spool lives: <state_dir>/spool and its expired/. */
static int
spool_dir(const struct conf *c, char *dir, size_t n, const char *sub)
{
	if (snprintf(dir, n, "%s/spool%s%s", c->state_dir, sub != NULL ?
	    "/" : "", sub != NULL ? sub : "") >= (int)n)
		return -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* Returns 1 with r filled when sec retries. */
static int
retry_of(json_object *sec, struct retry *r)
{
	json_object	*v;

	memset(r, 0, sizeof(*r));
	if (sec == NULL || !json_object_object_get_ex(sec, "retry", &v) ||
	    !json_object_is_type(v, json_type_object))
		return 0;
	r->attempts = conf_int(v, "attempts", 0);
	r->max_age = conf_int(v, "max_age_s", 0);
	r->backoff = conf_int(v, "backoff_s", 5);
	return r->attempts > 1 && r->max_age > 0 && r->backoff > 0;
}

/*
 * -t: a "retry" value.  Returns 0, or -1 with what is wrong in msg.
 */
int
spool_check(json_object *v, char *msg, size_t n)
{
	long long	 x;

	if (!json_object_is_type(v, json_type_object)) {
		snprintf(msg, n, "must be an object: {\"attempts\": N, "
		    "\"max_age_s\": S}");
		return -1;
	}
	json_object_object_foreach(v, k, val) {
		if (strcmp(k, "attempts") == 0) {
			if (num_parse(json_object_get_string(val), 2,
			    LIM_RETRY_ATTEMPTS, &x) == -1) {
				snprintf(msg, n, "attempts: 2 to %d",
				    LIM_RETRY_ATTEMPTS);
				return -1;
			}
		} else if (strcmp(k, "max_age_s") == 0) {
			if (num_parse(json_object_get_string(val), 1,
			    LIM_RETRY_AGE, &x) == -1) {
				snprintf(msg, n, "max_age_s: 1 to %d",
				    LIM_RETRY_AGE);
				return -1;
			}
		} else if (strcmp(k, "backoff_s") == 0) {
			if (num_parse(json_object_get_string(val), 1,
			    SPOOL_CAP, &x) == -1) {
				snprintf(msg, n, "backoff_s: 1 to %d",
				    SPOOL_CAP);
				return -1;
			}
		} else if (strcmp(k, "comment") != 0) {
			snprintf(msg, n, "%s: unknown key", k);
			return -1;
		}
	}
	if (!json_object_object_get_ex(v, "attempts", NULL) ||
	    !json_object_object_get_ex(v, "max_age_s", NULL)) {
		snprintf(msg, n, "needs attempts and max_age_s");
		return -1;
	}
	return 0;
}

/* Set once by spool_lookup, before the first drain; NULL until then. */
static spool_hnd (*lookup)(const char *, const char **);

void
spool_lookup(spool_hnd (*fn)(const char *, const char **))
{
	lookup = fn;
}

/*
 * Whether this run of the component goes through the spool: retry is
 * configured and remote says it delivers to a real upstream or a
 * dest_url (the caller knows its delivery mode; the spool does not).
 */
int
spool_on(const struct ctx *cx, int remote)
{
	struct retry	 r;

	return retry_of(cx->section, &r) && remote;
}

/* What a component says when everything went (or will go) out. */
const char *
spool_success(const char *component)
{
	if (strcmp(component, "send_mail") == 0)
		return "Succeeded to send mail";
	if (strcmp(component, "send_weixin") == 0 ||
	    strcmp(component, "send_qy_weixin") == 0 ||
	    strcmp(component, "send_mp_weixin") == 0)
		return "WeChat message sending succeeded";
	/* SMS, voice and the operator's own components. */
	return "OK";
}

static int
dir_sync(const char *dir)
{
	int	 fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * Writes name in dir atomically (temp file, rename), mode 0600; with
 * sync, durably: the file and then the directory are fsync'd, so it
 * survives a power cut.  Returns 0, or -1 with errno (ENOSPC...).
 */
int
spool_write(const char *dir, const char *name, const void *p, size_t n,
    int sync)
{
	char	 tmp[LIM_PATH], path[LIM_PATH];

	if (snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-%ld", dir, name,
	    (long)getpid()) >= (int)sizeof(tmp) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (file_replace(tmp, path, p, n, 0600, sync) == -1)
		return -1;
	if (sync && dir_sync(dir) == -1)
		return -1;
	return 0;
}

static int
item_save(const char *dir, const char *name, json_object *item, int sync)
{
	const char	*s;

	s = json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	return spool_write(dir, name, s, strlen(s), sync);
}

/*
 * Reads a JSON object of at most max bytes from fd; NULL when it is
 * empty, larger or not an object.  Caller puts.
 */
json_object *
spool_read(int fd, size_t max)
{
	struct stat	 st;
	json_object	*doc = NULL;
	char		*p;
	ssize_t		 k;
	size_t		 n = 0;

	if (fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    (size_t)st.st_size > max)
		return NULL;
	p = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		k = read(fd, p + n, (size_t)st.st_size - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	p[n] = '\0';
	if (n == (size_t)st.st_size)
		doc = json_tokener_parse(p);
	free(p);
	if (doc != NULL && !json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		doc = NULL;
	}
	return doc;
}

/*
 * Lowers spool/next to due (never raises it, unless force): the cheap
 * check after each request compares its mtime with the clock.
 */
static void
next_set(const char *dir, time_t due, int force)
{
	struct timespec	 ts[2];
	struct stat	 st;
	char		 path[LIM_PATH], lock[LIM_PATH];
	int		 lfd, fd;

	if (snprintf(path, sizeof(path), "%s/next", dir) >= (int)sizeof(path)
	    || snprintf(lock, sizeof(lock), "%s/.next.lock", dir) >=
	    (int)sizeof(lock))
		return;
	if (!force && stat(path, &st) == 0 && st.st_mtime <= due)
		return;
	if ((lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return;
	if (flock(lfd, LOCK_EX) == 0) {
		if (force || stat(path, &st) == -1 || st.st_mtime > due) {
			fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			if (fd != -1) {
				ts[0].tv_sec = ts[1].tv_sec = due;
				ts[0].tv_nsec = ts[1].tv_nsec = 0;
				if (futimens(fd, ts) == -1)
					log_warn("%s: %s", __func__, path);
				close(fd);
			}
		}
	}
	close(lfd);
}

/*
 * The cheap check a worker makes after each answer: one stat.  Returns
 * 1 when something in the spool is due.
 */
int
spool_due(const struct conf *c)
{
	struct stat	 st;
	char		 path[LIM_PATH];

	if (snprintf(path, sizeof(path), "%s/spool/next", c->state_dir) >=
	    (int)sizeof(path) || stat(path, &st) == -1)
		return 0;
	return st.st_mtime <= time(NULL);
}

/*
 * Full jitter (a uniform wait up to base * 2^(attempt-1), capped), at
 * least a second, never shorter than the upstream's Retry-After.  The
 * doubling stops at the cap: attempts go to LIM_RETRY_ATTEMPTS, and
 * 2^99 seconds is no number a long holds.
 */
long
spool_backoff(long base, long attempt, long after)
{
	uint32_t	 rnd = 0;
	long		 cap = base, d;

	while (--attempt > 0 && cap < SPOOL_CAP)
		cap *= 2;
	if (cap > SPOOL_CAP)
		cap = SPOOL_CAP;
	if (gnutls_rnd(GNUTLS_RND_NONCE, &rnd, sizeof(rnd)) != 0)
		rnd = (uint32_t)getpid();
	d = 1 + (long)(rnd % (uint32_t)cap);
	return d < after ? after : d;
}

/* The name a recipient goes by in the outcome: voice's people are objects. */
static const char *
rcpt_name(json_object *v)
{
	if (json_object_is_type(v, json_type_object))
		return jv_string(v, "mobile_phone");
	return json_object_get_string(v);
}

static void
set_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v != NULL ? json_object_new_string(v) :
	    NULL);
}

/* The config section's own name, which a re-send looks up again. */
static const char *
section_name(const struct ctx *cx)
{
	json_object_object_foreach(cx->conf->components, k, v)
		if (v == cx->section)
			return k;
	return cx->component;
}

/*
 * A new spool item for the request in cx: everything a re-send needs
 * but the credentials.  Caller puts.
 */
static json_object *
item_new(const struct ctx *cx, const struct retry *r, const char *idem)
{
	static const char *const drop[] = { "bk_app_secret", "app_secret",
	    "bk_token", "bk_signature", "bk_nonce", "bk_timestamp", NULL };
	json_object	*it, *raw;
	size_t		 i;
	int		 skip;

	it = json_object_new_object();
	json_object_object_add(it, "v", json_object_new_int(1));
	set_str(it, "id", cx->request_id);
	set_str(it, "component", cx->component);
	set_str(it, "section", section_name(cx));
	set_str(it, "tenant", cx->conf->tenant);
	set_str(it, "app", cx->app_code);
	set_str(it, "username", cx->username);
	set_str(it, "language", cx->language);
	set_str(it, "timezone", cx->timezone);
	json_object_object_add(it, "params", json_object_get(cx->params));
	raw = json_object_new_object();
	json_object_object_foreach(cx->raw, k, v) {
		for (skip = 0, i = 0; drop[i] != NULL; i++)
			skip |= strcmp(k, drop[i]) == 0;
		if (!skip)
			json_object_object_add(raw, k, json_object_get(v));
	}
	json_object_object_add(it, "raw", raw);
	json_object_object_add(it, "created", json_object_new_int64(
	    (int64_t)time(NULL)));
	json_object_object_add(it, "attempts", json_object_new_int(1));
	json_object_object_add(it, "max_attempts",
	    json_object_new_int64(r->attempts));
	json_object_object_add(it, "max_age_s",
	    json_object_new_int64(r->max_age));
	json_object_object_add(it, "backoff_s",
	    json_object_new_int64(r->backoff));
	json_object_object_add(it, "next", json_object_new_int64(
	    (int64_t)time(NULL) + SPOOL_GRACE));
	json_object_object_add(it, "inflight", json_object_new_boolean(1));
	set_str(it, "idem", idem);
	json_object_object_add(it, "rcpt", json_object_new_object());
	return it;
}

/*
 * The intent: the item, locked, in place before the first attempt.
 * Returns the locked descriptor, or -1 (the attempt goes ahead
 * unprotected against a kill).
 */
static int
intent(const char *dir, const char *name, json_object *item)
{
	const char	*s;
	char		 tmp[LIM_PATH], path[LIM_PATH];
	size_t		 n;
	int		 fd;

	if (snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-%ld", dir, name,
	    (long)getpid()) >= (int)sizeof(tmp) || snprintf(path,
	    sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -1;
	s = json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(s);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX) == -1 || write(fd, s, n) != (ssize_t)n ||
	    rename(tmp, path) == -1) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	return fd;
}

/*
 * Folds one run's outcome into the item's recipients and lists what
 * it did in sent, failed and pending.  A recipient the run said
 * nothing about counts as sent when the run succeeded, else as failed
 * on the first attempt (nothing there to retry) and pending on later
 * ones.  Returns how many are pending; *after is the longest
 * Retry-After heard.
 */
static size_t
merge(json_object *item, const struct outcome *oc, const struct reply *rp,
    int first, json_object *sent, json_object *failed, json_object *pending,
    long *after)
{
	json_object	*rcpt = jv_get(item, "rcpt"), *keys, *st;
	enum outcome_cls c;
	const char	*k, *state;
	size_t		 i, npend = 0;
	long		 ra;

	keys = json_object_new_array();
	if (json_object_object_length(rcpt) == 0) {
		json_object_object_foreach(oc->got, gk, gv) {
			(void)gv;
			json_object_array_add(keys, json_object_new_string(gk));
		}
		for (i = 0; json_object_is_type(rp->audit, json_type_array) &&
		    i < json_object_array_length(rp->audit); i++) {
			k = rcpt_name(json_object_array_get_idx(rp->audit, i));
			if (k != NULL && *k != '\0' &&
			    !json_object_object_get_ex(oc->got, k, NULL))
				json_object_array_add(keys,
				    json_object_new_string(k));
		}
	} else {
		json_object_object_foreach(rcpt, rk, rv)
			if (strcmp(jv_str(rv), "pending") == 0)
				json_object_array_add(keys,
				    json_object_new_string(rk));
	}
	*after = 0;
	for (i = 0; i < json_object_array_length(keys); i++) {
		k = json_object_get_string(json_object_array_get_idx(keys, i));
		if (json_object_object_get_ex(rcpt, k, &st) &&
		    strcmp(jv_str(st), "pending") != 0)
			continue;
		c = outcome_of(oc, k, &ra);
		if (c == OC_NONE)
			c = rp->result ? OC_OK : first ? OC_PERMANENT :
			    OC_TRANSIENT;
		if (c == OC_OK) {
			state = "sent";
			json_object_array_add(sent, json_object_new_string(k));
		} else if (c == OC_PERMANENT) {
			state = "failed";
			json_object_array_add(failed,
			    json_object_new_string(k));
		} else {
			state = "pending";
			json_object_array_add(pending,
			    json_object_new_string(k));
			npend++;
			if (ra > *after)
				*after = ra;
		}
		json_object_object_add(rcpt, k, json_object_new_string(state));
	}
	json_object_put(keys);
	return npend;
}

/* One audit record of the spool's doing. */
static void
audit(const struct conf *c, json_object *item, const char *event,
    json_object *sent, json_object *failed, json_object *pending,
    int in_doubt)
{
	json_object	*rec;

	rec = log_audit_record(jv_string(item, "id"), jv_string(item,
	    "component"));
	json_object_object_add(rec, "event", json_object_new_string(event));
	json_object_object_add(rec, "app", json_object_get(jv_get(item, "app")));
	if (jv_get(item, "tenant") != NULL)
		json_object_object_add(rec, "tenant",
		    json_object_get(jv_get(item, "tenant")));
	json_object_object_add(rec, "attempt",
	    json_object_get(jv_get(item, "attempts")));
	if (sent != NULL)
		json_object_object_add(rec, "sent", json_object_get(sent));
	if (failed != NULL)
		json_object_object_add(rec, "failed", json_object_get(failed));
	if (pending != NULL)
		json_object_object_add(rec, strcmp(event, "expired") == 0 ?
		    "expired" : "queued", json_object_get(pending));
	if (in_doubt)
		json_object_object_add(rec, "in_doubt",
		    json_object_new_boolean(1));
	log_audit(c->state_dir, rec);
	json_object_put(rec);
}

/*
 * The answer once the transient failures are safely spooled: with no
 * permanent failure it is the component's success, data.queued naming
 * who is still to come; otherwise the failure stands, with queued.
 */
static void
queued_reply(struct ctx *cx, struct reply *rp, json_object *pending,
    size_t nfailed)
{
	json_object	*d, *uc = NULL;

	if (nfailed == 0) {
		if (json_object_is_type(rp->data, json_type_object))
			uc = json_object_get(jv_get(rp->data, "username_check"));
		json_object_put(rp->payload);
		rp->payload = NULL;
		json_object_put(rp->extra);
		rp->extra = NULL;
		reply_ok(rp, "%s", spool_success(cx->component));
		d = json_object_new_object();
		if (uc != NULL)
			json_object_object_add(d, "username_check", uc);
		json_object_object_add(d, "queued", json_object_get(pending));
		reply_data(rp, d);
		return;
	}
	if (rp->payload != NULL)
		return;
	if (!json_object_is_type(rp->data, json_type_object))
		reply_data(rp, json_object_new_object());
	json_object_object_add(rp->data, "queued", json_object_get(pending));
}

/*
 * Runs the component for a request whose section retries: the intent,
 * the handler with an outcome record, then the transient failures
 * spooled durably and the answer saying so.  idem names the request's
 * idempotency record, or NULL.
 */
void
spool_run(spool_hnd hnd, struct ctx *cx, struct reply *rp, const char *idem)
{
	struct retry	 r;
	struct outcome	 oc;
	json_object	*item, *sent, *failed, *pending;
	char		 dir[LIM_PATH], name[64], path[LIM_PATH * 2];
	time_t		 due;
	size_t		 npend;
	long		 after;
	int		 fd = -1;

	retry_of(cx->section, &r);
	outcome_init(&oc);
	sent = json_object_new_array();
	failed = json_object_new_array();
	pending = json_object_new_array();
	item = item_new(cx, &r, idem);
	snprintf(name, sizeof(name), "%s.json", cx->request_id);
	if (spool_dir(cx->conf, dir, sizeof(dir), NULL) == -1)
		log_warn("%s: spool: %s", cx->request_id, dir);
	else if ((fd = intent(dir, name, item)) == -1)
		log_warn("%s: spool: intent", cx->request_id);
	else
		next_set(dir, time(NULL) + SPOOL_GRACE, 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);

	cx->oc = &oc;
	hnd(cx, rp);
	cx->oc = NULL;

	npend = merge(item, &oc, rp, 1, sent, failed, pending, &after);
	if (npend == 0 || r.attempts < 2) {
		if (fd != -1)
			unlink(path);
		goto out;
	}
	due = time(NULL) + spool_backoff(r.backoff, 1, after);
	json_object_object_add(item, "next", json_object_new_int64(
	    (int64_t)due));
	json_object_object_add(item, "inflight", json_object_new_boolean(0));
	if (redis_on() && rspool_put(item) == 0) {
		/* In the stream every host drains: the intent goes. */
		if (fd != -1)
			unlink(path);
	} else if (item_save(dir, name, item, 1) == -1) {
		/* Not spooled: the failure stands as the handler said. */
		log_warn("%s: spool: cannot keep %zu recipient(s), answered "
		    "as failed", cx->request_id, npend);
		unlink(path);
		goto out;
	}
	next_set(dir, due, 0);
	queued_reply(cx, rp, pending, json_object_array_length(failed));
	audit(cx->conf, item, "queued", sent, failed, pending, 0);
	log_info("%s: spool: %zu recipient(s) queued, next try in %lds",
	    cx->request_id, npend, (long)(due - time(NULL)));
out:
	if (fd != -1)
		close(fd);
	json_object_put(item);
	json_object_put(sent);
	json_object_put(failed);
	json_object_put(pending);
	outcome_free(&oc);
}

/*
 * A request over its component's rate limit, with retry on: spooled
 * whole, unsent, to go out when the limit lets it (the drain sends it
 * like a retry of a first attempt that reached nobody).  The answer is
 * the component's success with data.queued empty (the recipients are
 * only known once it runs) and data.rate_limited; a request that
 * cannot be spooled is refused as over the limit.
 */
void
spool_defer(struct ctx *cx, struct reply *rp, const char *idem, long wait_ms)
{
	struct retry	 r;
	json_object	*item, *d, *cap = NULL;
	char		 dir[LIM_PATH], name[64];
	time_t		 due = time(NULL) + (wait_ms + 999) / 1000;

	retry_of(cx->section, &r);
	item = item_new(cx, &r, idem);
	json_object_object_add(item, "attempts", json_object_new_int(0));
	json_object_object_add(item, "inflight", json_object_new_boolean(0));
	json_object_object_add(item, "next", json_object_new_int64(
	    (int64_t)due));
	snprintf(name, sizeof(name), "%s.json", cx->request_id);
	if (spool_dir(cx->conf, dir, sizeof(dir), NULL) == -1 ||
	    ((!redis_on() || rspool_put(item) == -1) &&
	    item_save(dir, name, item, 1) == -1)) {
		log_warn("%s: spool: cannot defer", cx->request_id);
		json_object_object_get_ex(cx->section, "rate_limit", &cap);
		rate_refuse(cx, rp, cx->component, cap, wait_ms);
		goto out;
	}
	next_set(dir, due, 0);
	reply_ok(rp, "%s", spool_success(cx->component));
	d = json_object_new_object();
	json_object_object_add(d, "queued", json_object_new_array());
	json_object_object_add(d, "rate_limited", json_object_new_boolean(1));
	reply_data(rp, d);
	audit(cx->conf, item, "queued", NULL, NULL, NULL, 0);
	log_info("%s: spool: over %s's rate limit, queued for %lds",
	    cx->request_id, cx->component, (long)(due - time(NULL)));
out:
	json_object_put(item);
}

/*
 * Whether the item's component may be called now under its rate
 * limit; *wait_ms says how long until it may.
 */
static int
item_rate(const struct conf *top, json_object *item, long *wait_ms)
{
	struct ctx	 cx;

	memset(&cx, 0, sizeof(cx));
	*wait_ms = 0;
	if ((cx.conf = conf_tenant(top, jv_string(item, "tenant"))) == NULL)
		return 1;
	cx.component = jv_string(item, "component");
	cx.section = conf_comp(cx.conf, jv_string(item, "section"));
	return rate_comp(&cx, wait_ms);
}

/*
 * A spooled item by request id, from spool/ or (*expired set)
 * spool/expired/.  Returns it or NULL.  Caller puts.
 */
json_object *
spool_find(const struct conf *c, const char *id, int *expired)
{
	json_object	*doc;
	char		 path[LIM_PATH];
	int		 fd, i;

	if (redis_on() && (doc = rspool_find(id)) != NULL) {
		*expired = 0;
		return doc;
	}
	for (i = 0; i < 2; i++) {
		if (snprintf(path, sizeof(path), "%s/spool/%s%s.json",
		    c->state_dir, i == 0 ? "" : "expired/", id) >=
		    (int)sizeof(path))
			return NULL;
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
			continue;
		doc = spool_read(fd, LIM_SPOOL_ITEM);
		close(fd);
		if (doc != NULL) {
			*expired = i;
			return doc;
		}
	}
	return NULL;
}

/* Re-runs the item's component for its pending recipients. */
static void
item_run(const struct conf *top, json_object *item, struct outcome *oc,
    struct reply *rp)
{
	const struct conf	*tc;
	const char		*name = NULL;
	spool_hnd		 hnd = NULL;
	struct ctx		 cx;
	json_object		*rcpt = jv_get(item, "rcpt");

	tc = conf_tenant(top, jv_string(item, "tenant"));
	if (lookup != NULL)
		hnd = lookup(jv_string(item, "component"), &name);
	if (tc == NULL || hnd == NULL) {
		reply_fail(rp, CODE_COMMON, "tenant or component is gone");
		outcome_all(oc, OC_PERMANENT, 0);
		return;
	}
	memset(&cx, 0, sizeof(cx));
	cx.conf = tc;
	cx.component = name;
	cx.params = jv_get(item, "params");
	cx.raw = jv_get(item, "raw");
	cx.section = conf_comp(tc, jv_string(item, "section"));
	cx.request_id = jv_string(item, "id");
	cx.app_code = jv_string(item, "app");
	cx.username = jv_string(item, "username");
	cx.language = jv_get(item, "language") != NULL ?
	    jv_string(item, "language") : NULL;
	cx.timezone = jv_get(item, "timezone") != NULL ?
	    jv_string(item, "timezone") : NULL;
	cx.oc = oc;
	if (!conf_enabled(cx.section)) {
		reply_fail(rp, CODE_INACTIVE, "Not found, inactive channel");
		outcome_all(oc, OC_PERMANENT, 0);
		return;
	}
	if (json_object_object_length(rcpt) > 0) {
		oc->want = json_object_new_object();
		json_object_object_foreach(rcpt, k, v)
			if (strcmp(jv_str(v), "pending") == 0)
				json_object_object_add(oc->want, k,
				    json_object_new_boolean(1));
	}
	hnd(&cx, rp);
}

/*
 * Moves an item to spool/expired/ (durably), records it in the audit
 * log and prints it on report.
 */
static void
expire(const struct conf *c, const char *dir, const char *name,
    json_object *item, FILE *report)
{
	json_object	*pending, *rcpt = jv_get(item, "rcpt");
	char		 xdir[LIM_PATH], path[LIM_PATH];
	size_t		 i;

	pending = json_object_new_array();
	json_object_object_foreach(rcpt, k, v)
		if (strcmp(jv_str(v), "pending") == 0)
			json_object_array_add(pending,
			    json_object_new_string(k));
	json_object_object_add(item, "inflight", json_object_new_boolean(0));
	json_object_object_add(item, "expired_at", json_object_new_int64(
	    (int64_t)time(NULL)));
	if (spool_dir(c, xdir, sizeof(xdir), "expired") == -1 ||
	    item_save(xdir, name, item, 1) == -1) {
		log_warn("spool: cannot expire %s", name);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	dir_sync(dir);
	idem_settle(c, item, 1);
	audit(c, item, "expired", NULL, NULL, pending, 0);
	log_warnx("%s: spool: expired after %ld attempt(s), %zu recipient(s) "
	    "not delivered", jv_string(item, "id"),
	    (long)json_object_get_int64(jv_get(item, "attempts")),
	    json_object_array_length(pending));
	if (report != NULL) {
		fprintf(report, "expired %s %s app=%s attempts=%ld "
		    "recipients=", jv_string(item, "id"), jv_string(item,
		    "component"), jv_string(item, "app"),
		    (long)json_object_get_int64(jv_get(item, "attempts")));
		for (i = 0; i < json_object_array_length(pending); i++)
			fprintf(report, "%s%s", i > 0 ? "," : "",
			    json_object_get_string(
			    json_object_array_get_idx(pending, i)));
		if (json_object_array_length(pending) == 0)
			fprintf(report, "(unknown: the first attempt was cut "
			    "short)");
		fprintf(report, "\n");
	}
out:
	json_object_put(pending);
}

/*
 * One item: skipped while its first attempt is alive or until it is
 * due, expired when out of attempts or age, else tried once more.
 * Returns when it is next due, 0 when it left the spool; *tried says
 * whether an attempt was made.
 */
time_t
spool_item(const struct conf *c, const char *dir, const char *name,
    FILE *report, int *tried)
{
	struct outcome	 oc;
	struct reply	 rp;
	struct stat	 a, b;
	json_object	*item = NULL, *sent, *failed, *pending;
	char		 path[LIM_PATH], bad[LIM_PATH * 2];
	time_t		 now = time(NULL), due = 0;
	long		 attempts, after, wait_ms;
	size_t		 npend;
	int		 fd, in_doubt;

	*tried = 0;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		return now + SPOOL_BUSY;
	}
	if (fstat(fd, &a) == -1 || stat(path, &b) == -1 ||
	    a.st_ino != b.st_ino) {
		/* Replaced while we opened it: look again next time. */
		close(fd);
		return now + 1;
	}
	if ((item = spool_read(fd, LIM_SPOOL_ITEM)) == NULL) {
		snprintf(bad, sizeof(bad), "%s/expired/%s.corrupt", dir, name);
		log_warnx("spool: %s unreadable, moved to %s", path, bad);
		if (rename(path, bad) == -1)
			unlink(path);
		close(fd);
		return 0;
	}
	if (json_object_get_int64(jv_get(item, "next")) > (int64_t)now) {
		due = (time_t)json_object_get_int64(jv_get(item, "next"));
		goto out;
	}
	in_doubt = json_object_get_boolean(jv_get(item, "inflight"));
	attempts = (long)json_object_get_int64(jv_get(item, "attempts"));
	if (attempts >= json_object_get_int64(jv_get(item, "max_attempts")) ||
	    (int64_t)now - json_object_get_int64(jv_get(item, "created")) >=
	    json_object_get_int64(jv_get(item, "max_age_s"))) {
		expire(c, dir, name, item, report);
		goto out;
	}
	if (!item_rate(c, item, &wait_ms)) {
		/* The upstream's cap: later, with no attempt counted. */
		due = now + (wait_ms + 999) / 1000;
		goto out;
	}
	*tried = 1;
	json_object_object_add(item, "attempts",
	    json_object_new_int64(++attempts));
	json_object_object_add(item, "inflight", json_object_new_boolean(1));
	json_object_object_add(item, "next", json_object_new_int64(
	    (int64_t)now + SPOOL_GRACE));
	if (item_save(dir, name, item, 0) == -1) {
		log_warn("spool: %s", path);
		due = now + SPOOL_BUSY;
		goto out;
	}
	outcome_init(&oc);
	reply_init(&rp);
	item_run(c, item, &oc, &rp);
	sent = json_object_new_array();
	failed = json_object_new_array();
	pending = json_object_new_array();
	npend = merge(item, &oc, &rp, 0, sent, failed, pending, &after);
	audit(c, item, "retry", sent, failed, npend > 0 ? pending : NULL,
	    in_doubt);
	if (npend > 0 && attempts >= json_object_get_int64(jv_get(item,
	    "max_attempts")))
		expire(c, dir, name, item, report);
	else if (npend > 0) {
		due = now + spool_backoff((long)json_object_get_int64(
		    jv_get(item, "backoff_s")), attempts, after);
		json_object_object_add(item, "next",
		    json_object_new_int64((int64_t)due));
		json_object_object_add(item, "inflight",
		    json_object_new_boolean(0));
		if (item_save(dir, name, item, 1) == -1) {
			/* Left inflight: the next drain tries again. */
			log_warn("spool: %s", path);
			due = now + SPOOL_BUSY;
		}
	} else {
		idem_settle(c, item, 0);
		unlink(path);
		dir_sync(dir);
	}
	json_object_put(sent);
	json_object_put(failed);
	json_object_put(pending);
	reply_free(&rp);
	outcome_free(&oc);
out:
	json_object_put(item);
	close(fd);
	return due;
}

/*
 * A temp file a killed writer left behind: gone after an hour (a live
 * writer renames its own within a request's time).
 */
void
spool_tmp_sweep(const char *dir, const char *name)
{
	struct stat	 st;
	char		 path[LIM_PATH + 300];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) <
	    (int)sizeof(path) && lstat(path, &st) == 0 &&
	    S_ISREG(st.st_mode) && time(NULL) - st.st_mtime > 3600)
		unlink(path);
}

/*
 * Drains the spool: at most max attempts within about max_ms, under
 * spool/.lock so that one process drains at a time (another one
 * returns at once).  Expired items are printed on report when it is
 * not NULL.  Returns the attempts made, or -1 when the spool could not
 * be opened or another drain holds it.
 */
int
spool_drain(const struct conf *c, size_t max, long max_ms, FILE *report)
{
	struct timespec	 t0, t1;
	struct dirent	*de;
	DIR		*d = NULL;
	char		 dir[LIM_PATH], lock[LIM_PATH + 8];
	time_t		 due, min = 0;
	size_t		 n, done = 0;
	int		 lfd = -1, tried, more = 0, rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (spool_dir(c, dir, sizeof(dir), NULL) == -1)
		goto out;
	snprintf(lock, sizeof(lock), "%s/.lock", dir);
	if ((lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    flock(lfd, LOCK_EX | LOCK_NB) == -1)
		goto out;
	/*
	 * Pushed out first, lowered again below and by any worker that
	 * spools meanwhile: a drainer that dies leaves a bounded delay.
	 */
	next_set(dir, time(NULL) + SPOOL_FALLBACK, 1);
	if ((d = opendir(dir)) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (strncmp(de->d_name, ".tmp-", 5) == 0) {
			spool_tmp_sweep(dir, de->d_name);
			continue;
		}
		if (de->d_name[0] == '.' || n < 6 ||
		    strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (done >= max || (t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000 >= max_ms) {
			more = 1;
			break;
		}
		due = spool_item(c, dir, de->d_name, report, &tried);
		done += tried;
		if (due != 0 && (min == 0 || due < min))
			min = due;
	}
	if (more)
		min = time(NULL);
	if (min != 0)
		next_set(dir, min, 0);
	rc = (int)done;
out:
	if (d != NULL)
		closedir(d);
	if (lfd != -1)
		close(lfd);
	return rc;
}

/*
 * The delivery stage, as the spool decides it: admit 1 (over the
 * component's limit) leaves the message in the spool for after wait;
 * spooled (retry on) runs the handler under the spool, each
 * recipient's outcome classified and the rest kept for later; else
 * the handler runs once.  idem names the request's idempotency record,
 * or NULL.
 */
void
spool_deliver(spool_hnd hnd, struct ctx *cx, struct reply *rp, int admit,
    int spooled, long wait, const char *idem)
{
	if (admit == 1)
		spool_defer(cx, rp, idem, wait);
	else if (spooled)
		spool_run(hnd, cx, rp, idem);
	else
		hnd(cx, rp);
}
