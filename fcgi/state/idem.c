/*
 * Answered once: a request with an Idempotency-Key header, or (with
 * "dedup_window_s" in its component's section) one identical to a
 * recent one, gets the first answer again and sends nothing.
 *
 * One file per key under <state_dir>/idem/, named by a hash of app,
 * tenant and key (or, for duplicate suppression, of app, tenant,
 * component and parameters), so no caller's text becomes a path.  The
 * worker that answers first holds the file's flock from before it
 * sends until the answer is written: a repeat arriving meanwhile waits
 * for that answer instead of sending in parallel.  A record whose
 * holder died ("pending", lock free) is settled from the spool: if the
 * first attempt's item is there, the drain will deliver it and the
 * repeat is told it is queued; if not, nothing was sent and the repeat
 * runs.  Keys live 24 hours, duplicates dedup_window_s; idem_clean
 * removes what expired.
 *
 * With "redis" in the config the record is a Redis string under the
 * same name, expiring by itself, and the flock is a Redis lock (SET NX
 * PX) with a lease: a holder that dies lets the next one in when the
 * lease runs out, as a dead process's flock would.  While Redis is
 * down the files are used: a repeat is caught on the host that
 * answered first, not on the others (doc/reliability.md).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "core/request.h"
#include "idem.h"
#include "lib/util.h"
#include "redis.h"
#include "spool.h"

#define IDEM_TTL	86400	/* an Idempotency-Key's life, seconds */
#define IDEM_WINDOW_MAX	86400	/* dedup_window_s at most */
/* How long a Redis record lock outlives its holder, ms. */
#define IDEM_LEASE_MS	120000

/* Lower-case hex SHA-256 of n bytes of p into out[65]. */
static void
sha256_hex(const void *p, size_t n, char out[65])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 d[32];
	size_t			 i;

	memset(d, 0, sizeof(d));
	gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, d);
	for (i = 0; i < sizeof(d); i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}

/* -t: dedup_window_s (0 is off).  Returns 0, or -1 with msg. */
int
idem_check(json_object *v, char *msg, size_t n)
{
	long long	 x;

	if (num_parse(json_object_get_string(v), 0, IDEM_WINDOW_MAX, &x) ==
	    -1) {
		snprintf(msg, n, "0 to %d seconds", IDEM_WINDOW_MAX);
		return -1;
	}
	return 0;
}

/* A key is 1 to LIM_IDEM_KEY printable ASCII bytes. */
static int
key_ok(const char *k)
{
	size_t	 n = strlen(k);

	if (n == 0 || n > LIM_IDEM_KEY)
		return 0;
	for (; *k != '\0'; k++)
		if (*k < 0x21 || *k > 0x7e)
			return 0;
	return 1;
}

/*
 * Opens and locks dir/name, making sure the lock is on the file the
 * name still points to (a writer replaces it by rename).  Returns the
 * descriptor or -1.
 */
static int
lock_record(const char *dir, const char *name, int wait)
{
	struct stat	 a, b;
	char		 path[LIM_PATH + 96];
	int		 fd, tries;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (tries = 0; tries < 8; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		if (fd == -1)
			return -1;
		if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) == -1) {
			close(fd);
			return -1;
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_ino == b.st_ino)
			return fd;
		close(fd);
	}
	return -1;
}

/* The answer as kept: what env_write needs to write it again. */
static json_object *
answer_of(const struct reply *rp)
{
	json_object	*a = json_object_new_object();

	json_object_object_add(a, "result",
	    json_object_new_boolean(rp->result));
	json_object_object_add(a, "code", json_object_new_int64(rp->code));
	json_object_object_add(a, "message", json_object_new_string(
	    rp->message != NULL ? rp->message : ""));
	json_object_object_add(a, "data", json_object_get(rp->data));
	json_object_object_add(a, "extra", json_object_get(rp->extra));
	json_object_object_add(a, "payload", json_object_get(rp->payload));
	json_object_object_add(a, "status", json_object_new_int(rp->status));
	return a;
}

static void
answer_put(json_object *a, struct reply *rp)
{
	if (json_object_get_boolean(jv_get(a, "result")))
		reply_ok(rp, "%s", json_object_get_string(jv_get(a, "message")));
	else
		reply_fail(rp, (long)json_object_get_int64(jv_get(a, "code")),
		    "%s", json_object_get_string(jv_get(a, "message")));
	rp->code = (long)json_object_get_int64(jv_get(a, "code"));
	reply_data(rp, json_object_get(jv_get(a, "data")));
	json_object_put(rp->extra);
	rp->extra = json_object_get(jv_get(a, "extra"));
	json_object_put(rp->payload);
	rp->payload = json_object_get(jv_get(a, "payload"));
	if (json_object_get_int(jv_get(a, "status")) != 0)
		rp->status = json_object_get_int(jv_get(a, "status"));
}

/* Writes the record durably.  Returns 0 or -1. */
static int
record_write(const char *dir, const char *name, json_object *rec)
{
	const char	*s;

	s = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strlen(s) > LIM_IDEM_ANSWER)
		return -1;
	return spool_write(dir, name, s, strlen(s), 1);
}

/*
 * Takes the record ik names for this request: in Redis when it
 * answers, else in its file.  Returns 0, or -1 when neither can be
 * had (or, without wait, it is taken).
 */
static int
rec_open(struct idem *ik, int wait)
{
	char	 lk[LIM_REDIS_KEY];

	ik->fd = -1;
	ik->redis = 0;
	if (redis_on() && redis_key(lk, sizeof(lk), "idem-lock",
	    ik->name) == 0) {
		switch (redis_lock(lk, IDEM_LEASE_MS, wait ? IDEM_LEASE_MS +
		    1000 : 0, ik->lock, sizeof(ik->lock))) {
		case 1:
			ik->redis = 1;
			return 0;
		case 0:
			return -1;
		default:
			log_warnx("idem: redis down, record %s kept on this "
			    "host only", ik->name);
			break;
		}
	}
	if (mkdir(ik->dir, 0700) == -1 && errno != EEXIST)
		return -1;
	ik->fd = lock_record(ik->dir, ik->name, wait);
	return ik->fd == -1 ? -1 : 0;
}

/* The record's content, or NULL when there is none.  Caller puts. */
static json_object *
rec_load(const struct idem *ik)
{
	redisReply	*r;
	json_object	*rec = NULL;
	char		 key[LIM_REDIS_KEY];

	if (!ik->redis)
		return spool_read(ik->fd, LIM_IDEM_ANSWER + 4096);
	if (redis_key(key, sizeof(key), "idem", ik->name) == -1)
		return NULL;
	r = redis_cmd("GET %s", key);
	if (r != NULL && r->type == REDIS_REPLY_STRING &&
	    r->len <= LIM_IDEM_ANSWER + 4096)
		rec = json_tokener_parse(r->str);
	freeReplyObject(r);
	if (rec != NULL && !json_object_is_type(rec, json_type_object)) {
		json_object_put(rec);
		rec = NULL;
	}
	return rec;
}

/*
 * Stores rec as the record.  A file is written in place while the
 * lock must stay with it (inplace), else replaced durably; in Redis
 * it expires a minute after its time is up.  Returns 0 or -1.
 */
static int
rec_save(const struct idem *ik, json_object *rec, int inplace)
{
	redisReply	*r;
	const char	*s;
	char		 key[LIM_REDIS_KEY];
	int		 rc;

	s = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strlen(s) > LIM_IDEM_ANSWER)
		return -1;
	if (ik->redis) {
		if (redis_key(key, sizeof(key), "idem", ik->name) == -1)
			return -1;
		r = redis_cmd("SET %s %s EX %ld", key, s, ik->ttl + 60);
		rc = r != NULL && r->type == REDIS_REPLY_STATUS ? 0 : -1;
		freeReplyObject(r);
		return rc;
	}
	if (!inplace)
		return record_write(ik->dir, ik->name, rec);
	if (ftruncate(ik->fd, 0) == -1 || pwrite(ik->fd, s, strlen(s), 0) !=
	    (ssize_t)strlen(s))
		return -1;
	return 0;
}

/* Lets the record go: repeats waiting for it get in. */
static void
rec_close(struct idem *ik)
{
	char	 lk[LIM_REDIS_KEY];

	if (ik->redis && redis_key(lk, sizeof(lk), "idem-lock",
	    ik->name) == 0)
		redis_unlock(lk, ik->lock);
	if (ik->fd != -1)
		close(ik->fd);
	ik->fd = -1;
	ik->redis = 0;
	ik->held = 0;
}

/*
 * Before a component runs.  Returns 1 when rp already holds the answer
 * (the first one again, or a refusal), else 0: run it, then idem_end.
 */
int
idem_begin(struct ctx *cx, struct idem *ik, struct reply *rp)
{
	json_object	*rec = NULL, *item, *d, *rc, *q;
	const char	*key = NULL, *params, *tenant;
	char		 buf[LIM_IDEM_KEY + 2 * LIM_NAME + 80], phash[65];
	long		 window;
	int		 expired, rc_ = 0;
	time_t		 now = time(NULL);

	memset(ik, 0, sizeof(*ik));
	ik->fd = -1;
	if (cx->req != NULL)
		key = req_env(cx->req, "HTTP_IDEMPOTENCY_KEY");
	if (key != NULL && *key == '\0')
		key = NULL;
	window = conf_int(cx->section, "dedup_window_s", 0);
	if (key == NULL && window <= 0)
		return 0;
	if (key != NULL && !key_ok(key)) {
		reply_fail(rp, CODE_COMMON, "Idempotency-Key must be 1 to %d "
		    "printable ASCII characters", LIM_IDEM_KEY);
		return 1;
	}
	tenant = cx->conf->tenant != NULL ? cx->conf->tenant : "";
	params = json_object_to_json_string_ext(cx->params,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	sha256_hex(params, strlen(params), phash);
	snprintf(buf, sizeof(buf), "%s\n%s\n%s", cx->component, phash,
	    cx->username != NULL ? cx->username : "");
	sha256_hex(buf, strlen(buf), ik->hash);
	if (key != NULL) {
		snprintf(buf, sizeof(buf), "%s\n%s\n%s", cx->app_code,
		    tenant, key);
		ik->ttl = IDEM_TTL;
	} else {
		snprintf(buf, sizeof(buf), "%s\n%s\n%s", cx->app_code,
		    tenant, ik->hash);
		ik->ttl = window;
	}
	sha256_hex(buf, strlen(buf), phash);
	snprintf(ik->name, sizeof(ik->name), "%c-%s", key != NULL ? 'k' :
	    'd', phash);
	if (snprintf(ik->dir, sizeof(ik->dir), "%s/idem",
	    cx->conf->state_dir) >= (int)sizeof(ik->dir) ||
	    rec_open(ik, 1) == -1) {
		/* Unwritable state: answer as if there were no key. */
		log_warn("%s: idempotency record", cx->request_id);
		return 0;
	}
	ik->held = 1;
	rec = rec_load(ik);
	if (rec != NULL && (int64_t)now - json_object_get_int64(jv_get(rec,
	    "t")) < json_object_get_int64(jv_get(rec, "ttl"))) {
		if (strcmp(jv_str(jv_get(rec, "h")),
		    ik->hash) != 0) {
			reply_fail(rp, CODE_COMMON, "Idempotency-Key %s was "
			    "already used for a different request", key);
			rc_ = 1;
			goto out;
		}
		if (strcmp(jv_str(jv_get(rec, "state")),
		    "done") == 0) {
			answer_put(jv_get(rec, "answer"), rp);
			log_info("%s: idempotent repeat of %s, answered as "
			    "then, nothing sent", cx->request_id,
			    json_object_get_string(jv_get(rec, "spool")));
			rc_ = 1;
			goto out;
		}
		/* Pending with no holder: its first run was cut short. */
		item = spool_find(cx->conf, json_object_get_string(jv_get(rec,
		    "spool")), &expired);
		if (item != NULL) {
			if (expired)
				reply_fail(rp, CODE_COMMON, "The message "
				    "expired before it could be delivered");
			else
				reply_ok(rp, "%s",
				    spool_success(cx->component));
			d = json_object_new_object();
			q = json_object_new_array();
			rc = jv_get(item, "rcpt");
			json_object_object_foreach(rc, k, v)
				if (strcmp(jv_str(v),
				    "pending") == 0)
					json_object_array_add(q,
					    json_object_new_string(k));
			json_object_object_add(d, expired ? "expired" :
			    "queued", q);
			reply_data(rp, d);
			json_object_put(item);
			json_object_object_add(rec, "state",
			    json_object_new_string("done"));
			json_object_object_add(rec, "answer", answer_of(rp));
			rec_save(ik, rec, 0);
			log_info("%s: idempotent repeat of %s, whose first "
			    "run was cut short: answered from the spool",
			    cx->request_id, json_object_get_string(jv_get(rec,
			    "spool")));
			rc_ = 1;
			goto out;
		}
	}
	json_object_put(rec);
	rec = json_object_new_object();
	json_object_object_add(rec, "h", json_object_new_string(ik->hash));
	json_object_object_add(rec, "t", json_object_new_int64((int64_t)now));
	json_object_object_add(rec, "ttl", json_object_new_int64(ik->ttl));
	json_object_object_add(rec, "state",
	    json_object_new_string("pending"));
	json_object_object_add(rec, "spool",
	    json_object_new_string(cx->request_id));
	/* Written in place, under the lock: the lock must stay with it. */
	if (rec_save(ik, rec, 1) == -1) {
		log_warn("%s: idempotency record", cx->request_id);
		rc_ = 0;
		goto out;
	}
	json_object_put(rec);
	return 0;
out:
	json_object_put(rec);
	rec_close(ik);
	return rc_;
}

/*
 * After the component: keeps the answer for repeats and lets them in.
 * An answer that cannot be kept is logged; the repeat then finds the
 * record pending and settles it from the spool or runs again.
 */
void
idem_end(struct idem *ik, const struct ctx *cx, const struct reply *rp)
{
	json_object	*rec;

	if (!ik->held)
		return;
	rec = json_object_new_object();
	json_object_object_add(rec, "h", json_object_new_string(ik->hash));
	json_object_object_add(rec, "t", json_object_new_int64(
	    (int64_t)time(NULL)));
	json_object_object_add(rec, "ttl", json_object_new_int64(ik->ttl));
	json_object_object_add(rec, "state", json_object_new_string("done"));
	json_object_object_add(rec, "spool",
	    json_object_new_string(cx->request_id));
	json_object_object_add(rec, "answer", answer_of(rp));
	if (rec_save(ik, rec, 0) == -1)
		log_warn("%s: idempotency record not kept", cx->request_id);
	json_object_put(rec);
	rec_close(ik);
}

/*
 * When the spool finishes an item whose first run was cut short, its
 * idempotency record (still pending) gets an answer made from the
 * item: who got it, who was refused, who expired.
 */
void
idem_settle(const struct conf *c, json_object *item, int expired)
{
	struct idem	 ik;
	json_object	*rec = NULL, *a, *d, *s, *f, *x;
	const char	*name;

	memset(&ik, 0, sizeof(ik));
	ik.fd = -1;
	name = json_object_get_string(jv_get(item, "idem"));
	if (name == NULL || *name == '\0' || strchr(name, '/') != NULL ||
	    snprintf(ik.dir, sizeof(ik.dir), "%s/idem", c->state_dir) >=
	    (int)sizeof(ik.dir) || str_copy(ik.name, name,
	    sizeof(ik.name)) == -1 || rec_open(&ik, 0) == -1)
		goto out;
	rec = rec_load(&ik);
	if (rec == NULL || strcmp(jv_str(jv_get(rec, "state")),
	    "pending") != 0 || strcmp(jv_str(jv_get(rec,
	    "spool")), json_object_get_string(jv_get(item, "id"))) != 0)
		goto out;
	s = json_object_new_array();
	f = json_object_new_array();
	x = json_object_new_array();
	json_object_object_foreach(jv_get(item, "rcpt"), k, v) {
		if (strcmp(jv_str(v), "sent") == 0)
			json_object_array_add(s, json_object_new_string(k));
		else if (strcmp(jv_str(v), "failed") == 0)
			json_object_array_add(f, json_object_new_string(k));
		else
			json_object_array_add(x, json_object_new_string(k));
	}
	a = json_object_new_object();
	json_object_object_add(a, "result", json_object_new_boolean(
	    !expired && json_object_array_length(f) == 0));
	json_object_object_add(a, "code", json_object_new_int(!expired &&
	    json_object_array_length(f) == 0 ? CODE_OK : CODE_COMMON));
	json_object_object_add(a, "message", json_object_new_string(
	    !expired && json_object_array_length(f) == 0 ?
	    spool_success(json_object_get_string(jv_get(item, "component"))) :
	    "Some users failed to receive the message"));
	d = json_object_new_object();
	json_object_object_add(d, "sent", s);
	json_object_object_add(d, "failed", f);
	json_object_object_add(d, "expired", x);
	json_object_object_add(a, "data", d);
	json_object_object_add(rec, "state", json_object_new_string("done"));
	json_object_object_add(rec, "answer", a);
	ik.ttl = (long)json_object_get_int64(jv_get(rec, "ttl"));
	rec_save(&ik, rec, 0);
out:
	json_object_put(rec);
	rec_close(&ik);
}

/* Removes the records whose time is up (a few files a minute at most). */
void
idem_clean(const struct conf *c)
{
	struct dirent	*de;
	struct stat	 st;
	json_object	*rec;
	DIR		*d;
	char		 dir[LIM_PATH], path[LIM_PATH + 300];
	time_t		 now = time(NULL);
	int		 fd;

	if (snprintf(dir, sizeof(dir), "%s/idem", c->state_dir) >=
	    (int)sizeof(dir) || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".tmp-", 5) == 0)
			spool_tmp_sweep(dir, de->d_name);
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == -1 || now - st.st_mtime < 60)
			continue;
		/* Keys live a day; a window is read from the record. */
		if (de->d_name[0] == 'k' && now - st.st_mtime > IDEM_TTL) {
			unlink(path);
			continue;
		}
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
		    -1)
			continue;
		rec = spool_read(fd, LIM_IDEM_ANSWER + 4096);
		close(fd);
		if (rec == NULL || (int64_t)now - json_object_get_int64(jv_get(
		    rec, "t")) >= json_object_get_int64(jv_get(rec, "ttl")))
			unlink(path);
		json_object_put(rec);
	}
	closedir(d);
}
