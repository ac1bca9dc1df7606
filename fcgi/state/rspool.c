/*
 * The retry spool in Redis, so that a host's retries outlive it.  With
 * "redis" in the config, spool_run hands an item with recipients still
 * to come to rspool_put: the item (the same JSON as a spool file) is
 * the string spool:item:<id>, and one entry naming it goes on the
 * stream "spool", read by the consumer group "drain".  Every worker of
 * every host is a consumer (host:pid).
 *
 * A drain, at most once a second per worker after an answer (and from
 * --drain), first takes over the entries another consumer has held
 * longer than redis.claim_after_s without touching them (XAUTOCLAIM:
 * that consumer's host died or stopped draining), then goes through
 * its own pending entries and the new ones.  For an item that is due
 * it takes the item's lock (SET NX PX), marks it inflight in Redis (a
 * death in the middle makes the next attempt "in_doubt", as on files),
 * checks it out into <state_dir>/spool/redis/, lets spool_item attempt
 * it exactly as it does a file, and checks the result back in: a
 * rewritten item goes back into Redis; a finished or expired one
 * leaves Redis and its entry is acknowledged and deleted.  The item's
 * recipients keep their state across hosts, so each is sent once.
 * An entry not yet due is claimed again by its holder (XCLAIM with no
 * idle time) so that a live host keeps what it holds.
 *
 * The first attempt of a request still runs under a local intent file
 * (spool.c): a host killed during that attempt leaves it in its own
 * spool directory, for its own --drain.  When Redis does not answer
 * the item is spooled in files as without Redis: nothing is lost.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/log.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "redis.h"
#include "rspool.h"
#include "spool.h"

#define RSPOOL_GROUP	"drain"
#define RSPOOL_LEASE_MS	300000	/* one attempt's lock on an item */

static const char put_lua[] =
    "redis.call('SET', KEYS[1], ARGV[1]) "
    "return redis.call('XADD', KEYS[2], '*', 'id', ARGV[2])";

/* A request id is lower-case hex: safe as a key and a file name. */
static int
id_ok(const char *id)
{
	size_t	 n = strlen(id);

	return n > 0 && n < 64 && strspn(id, "0123456789abcdef") == n;
}

/* Makes the stream and its group if they are not there.  Returns 0 or -1. */
static int
group_make(const char *stream)
{
	redisReply	*r;
	int		 rc;

	r = redis_cmd("XGROUP CREATE %s %s 0 MKSTREAM", stream, RSPOOL_GROUP);
	rc = r != NULL && (r->type == REDIS_REPLY_STATUS ||
	    (r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "BUSYGROUP", 9) == 0)) ? 0 : -1;
	freeReplyObject(r);
	return rc;
}

/*
 * Keeps item in Redis and queues it on the stream.  Returns 0, or -1
 * when Redis did not take it (the caller spools it in a file).
 */
int
rspool_put(json_object *item)
{
	redisReply	*r;
	const char	*id = jv_string(item, "id"), *s;
	char		 key[LIM_REDIS_KEY], stream[LIM_REDIS_KEY];
	int		 rc;

	if (!id_ok(id) || redis_key(key, sizeof(key), "spool:item", id) ==
	    -1 || redis_key(stream, sizeof(stream), "spool", "stream") == -1 ||
	    group_make(stream) == -1)
		return -1;
	s = json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	r = redis_cmd("EVAL %s 2 %s %s %s %s", put_lua, key, stream, s, id);
	rc = r != NULL && r->type == REDIS_REPLY_STRING ? 0 : -1;
	if (rc == -1)
		log_warnx("%s: spool: redis did not take the item, kept in a "
		    "file on this host", id);
	freeReplyObject(r);
	return rc;
}

/*
 * The item of request id in Redis into *doc (caller puts).  Returns 1,
 * 0 when there is none, -1 when Redis did not answer (or the item is
 * unreadable: it is left alone, never taken for gone).
 */
static int
item_get(const char *id, json_object **doc)
{
	redisReply	*r;
	char		 key[LIM_REDIS_KEY];
	int		 rc = -1;

	*doc = NULL;
	if (!id_ok(id) || redis_key(key, sizeof(key), "spool:item", id) == -1)
		return -1;
	r = redis_cmd("GET %s", key);
	if (r != NULL && r->type == REDIS_REPLY_NIL)
		rc = 0;
	else if (r != NULL && r->type == REDIS_REPLY_STRING &&
	    r->len <= LIM_SPOOL_ITEM) {
		*doc = json_tokener_parse(r->str);
		if (*doc != NULL && json_object_is_type(*doc,
		    json_type_object))
			rc = 1;
		else {
			json_object_put(*doc);
			*doc = NULL;
			log_warnx("spool: redis item %s unreadable, left there",
			    id);
		}
	}
	freeReplyObject(r);
	return rc;
}

/* The item of request id in Redis, or NULL.  Caller puts. */
json_object *
rspool_find(const char *id)
{
	json_object	*doc;

	return item_get(id, &doc) == 1 ? doc : NULL;
}

/* Whether this worker should look at the stream: once a second. */
int
rspool_due(void)
{
	static time_t	 last;	/* atomic: the second of the last look */
	time_t		 now = time(NULL);

	if (!redis_on() || __atomic_exchange_n(&last, now, __ATOMIC_RELAXED)
	    == now)
		return 0;
	return 1;
}

/* Acknowledges and deletes an entry: the item is done with. */
static void
entry_done(const char *stream, const char *entry)
{
	redisReply	*r;

	r = redis_cmd("XACK %s %s %s", stream, RSPOOL_GROUP, entry);
	freeReplyObject(r);
	r = redis_cmd("XDEL %s %s", stream, entry);
	freeReplyObject(r);
}

/* The value of field "id" in a stream entry's field list, or NULL. */
static const char *
entry_id(const redisReply *fields)
{
	size_t	 i;

	if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (i = 0; i + 1 < fields->elements; i += 2)
		if (fields->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(fields->element[i]->str, "id") == 0 &&
		    fields->element[i + 1]->type == REDIS_REPLY_STRING)
			return fields->element[i + 1]->str;
	return NULL;
}

/* Stores the item from the checkout file back in Redis.  Returns 0 or -1. */
static int
check_in(const char *key, const char *path)
{
	redisReply	*r;
	json_object	*doc;
	const char	*s;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	doc = spool_read(fd, LIM_SPOOL_ITEM);
	close(fd);
	if (doc == NULL)
		return -1;
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	r = redis_cmd("SET %s %s", key, s);
	if (r != NULL && r->type == REDIS_REPLY_STATUS)
		rc = 0;
	freeReplyObject(r);
	json_object_put(doc);
	return rc;
}

/*
 * One entry: the item it names attempted when due, under its lock.
 * Returns 1 when an attempt was made.
 */
static int
entry_run(const struct conf *c, const char *stream, const char *dir,
    const char *entry, const char *id, FILE *report)
{
	redisReply	*r;
	json_object	*item = NULL, *mark = NULL;
	const char	*s;
	char		 key[LIM_REDIS_KEY], lock[LIM_REDIS_KEY], tok[40];
	char		 name[80], path[LIM_PATH + 96];
	int		 tried = 0, locked = 0;

	if (id == NULL || !id_ok(id)) {
		entry_done(stream, entry);
		return 0;
	}
	if (redis_key(key, sizeof(key), "spool:item", id) == -1 ||
	    redis_key(lock, sizeof(lock), "spool:lock", id) == -1 ||
	    redis_lock(lock, RSPOOL_LEASE_MS, 0, tok, sizeof(tok)) != 1)
		return 0;
	locked = 1;
	switch (item_get(id, &item)) {
	case 0:
		entry_done(stream, entry);
		goto out;
	case -1:
		goto out;
	default:
		break;
	}
	if (json_object_get_int64(json_object_object_get(item, "next")) >
	    (int64_t)time(NULL)) {
		/* Not due: still ours, said by claiming it afresh. */
		r = redis_cmd("XCLAIM %s %s %s 0 %s JUSTID", stream,
		    RSPOOL_GROUP, redis_consumer(), entry);
		freeReplyObject(r);
		goto out;
	}
	/* A death from here on leaves the item marked as in flight. */
	json_object_deep_copy(item, &mark, NULL);
	json_object_object_add(mark, "inflight", json_object_new_boolean(1));
	s = json_object_to_json_string_ext(mark, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	r = redis_cmd("SET %s %s", key, s);
	if (r == NULL || r->type != REDIS_REPLY_STATUS) {
		freeReplyObject(r);
		goto out;
	}
	freeReplyObject(r);
	snprintf(name, sizeof(name), "%s.json", id);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	s = json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (spool_write(dir, name, s, strlen(s), 0) == -1) {
		log_warn("spool: %s", path);
		goto out;
	}
	spool_item(c, dir, name, report, &tried);
	if (access(path, F_OK) == 0) {
		/* Still to come: back into Redis for whoever is next. */
		if (check_in(key, path) == -1)
			log_warnx("%s: spool: redis did not take the item "
			    "back; it stays in flight there", id);
		unlink(path);
	} else {
		r = redis_cmd("DEL %s", key);
		freeReplyObject(r);
		entry_done(stream, entry);
	}
out:
	if (locked)
		redis_unlock(lock, tok);
	json_object_put(item);
	json_object_put(mark);
	return tried;
}

/* Runs the entries of one XREADGROUP or XAUTOCLAIM list. */
static size_t
entries_run(const struct conf *c, const char *stream, const char *dir,
    const redisReply *list, size_t max, FILE *report)
{
	const redisReply	*e;
	size_t			 i, done = 0;

	if (list == NULL || list->type != REDIS_REPLY_ARRAY)
		return 0;
	for (i = 0; i < list->elements && done < max; i++) {
		e = list->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		if (e->element[1]->type != REDIS_REPLY_ARRAY) {
			/* Deleted meanwhile: nothing left to do. */
			entry_done(stream, e->element[0]->str);
			continue;
		}
		done += entry_run(c, stream, dir, e->element[0]->str,
		    entry_id(e->element[1]), report);
	}
	return done;
}

/*
 * One pass over the stream: entries of dead consumers taken over, then
 * this consumer's own, then new ones; at most max attempts.  Returns
 * the attempts made, or -1 when Redis did not answer.
 */
int
rspool_drain(const struct conf *c, size_t max, FILE *report)
{
	redisReply	*r;
	char		 stream[LIM_REDIS_KEY], dir[LIM_PATH];
	const char	*me;
	size_t		 done = 0;
	int		 pass;

	if (!redis_on() || redis_key(stream, sizeof(stream), "spool",
	    "stream") == -1 || group_make(stream) == -1)
		return -1;
	/* The checkout directory, beside the files spool.c drains. */
	if (snprintf(dir, sizeof(dir), "%s/spool", c->state_dir) >=
	    (int)sizeof(dir) || (mkdir(dir, 0700) == -1 && errno != EEXIST))
		return -1;
	if (snprintf(dir, sizeof(dir), "%s/spool/redis", c->state_dir) >=
	    (int)sizeof(dir) || (mkdir(dir, 0700) == -1 && errno != EEXIST))
		return -1;
	me = redis_consumer();
	/* hiredis knows no %zu. */
	r = redis_cmd("XAUTOCLAIM %s %s %s %lld 0-0 COUNT %ld", stream,
	    RSPOOL_GROUP, me, (long long)c->redis_claim_s * 1000, (long)max);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
	    r->element[1]->type == REDIS_REPLY_ARRAY &&
	    r->element[1]->elements > 0)
		log_info("spool: took over %zu retr%s another drainer held "
		    "for %lds", r->element[1]->elements,
		    r->element[1]->elements == 1 ? "y" : "ies",
		    c->redis_claim_s);
	freeReplyObject(r);
	for (pass = 0; pass < 2 && done < max; pass++) {
		r = redis_cmd("XREADGROUP GROUP %s %s COUNT %ld STREAMS %s %s",
		    RSPOOL_GROUP, me, (long)max, stream, pass == 0 ? "0" :
		    ">");
		if (r == NULL)
			return -1;
		if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
		    r->element[0]->type == REDIS_REPLY_ARRAY &&
		    r->element[0]->elements >= 2)
			done += entries_run(c, stream, dir,
			    r->element[0]->element[1], max - done, report);
		freeReplyObject(r);
	}
	return (int)done;
}
