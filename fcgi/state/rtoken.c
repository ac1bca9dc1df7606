/*
 * The token cache of store.c, in Redis, for more than one host: the
 * WeCom or Official Account token of an app is one Redis string,
 * "<expires> <fetched> <token>", expiring with the token, and its
 * refresh is serialised by a Redis lock (SET NX PX) instead of flock,
 * so one process on one host fetches per token lifetime.  The rules
 * are tokrec.c's, as for the files: a fresh token is used, an old one is refreshed by
 * whoever takes the lock while the others keep using it, a missing or
 * refused one makes everyone wait for the fetch.
 *
 * Why a token was fetched (tokrec_why) is a second string beside it,
 * "<fetched> <why>" under "token-why", expiring with it: the record
 * itself keeps the format older builds read.  The console's drop
 * leaves a tombstone ("0 <now> -") whose reason the next fetch takes.
 *
 * When Redis does not answer, RTOKEN_DOWN sends the caller back to the
 * files: each host then fetches its own token, which WeCom allows (a
 * new gettoken does not revoke the old token; for the Official Account
 * the default stable_token does not either).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "redis.h"
#include "rtoken.h"
#include "store.h"
#include "tokrec.h"

/* Tokens are opaque, but only URL-safe ones go into a query string. */
static int
token_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > LIM_TOKEN)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.~") == n;
}

/*
 * Parses "<expires> <fetched> <token>" into r.  Returns 0, or -1 when
 * it is not one of ours.
 */
int
rtoken_parse(const char *s, size_t len, struct rtoken_rec *r)
{
	char	 b[LIM_TOKEN + 64], *sp1, *sp2;
	int	 rc = -1;

	memset(r, 0, sizeof(*r));
	if (len >= sizeof(b) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(b, s, len);
	b[len] = '\0';
	if ((sp1 = strchr(b, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL)
		goto out;
	*sp1 = *sp2 = '\0';
	if (num_parse(b, 0, 0x7fffffffffffLL, &r->expires) == -1 ||
	    num_parse(sp1 + 1, 0, 0x7fffffffffffLL, &r->fetched) == -1 ||
	    !token_ok(sp2 + 1) ||
	    str_copy(r->value, sp2 + 1, sizeof(r->value)) == -1)
		goto out;
	rc = 0;
out:
	explicit_bzero(b, sizeof(b));
	return rc;
}

/* The record under key: 1 read, 0 none, -1 Redis did not answer. */
static int
rec_get(const char *key, struct rtoken_rec *r)
{
	redisReply	*rp;
	int		 rc;

	memset(r, 0, sizeof(*r));
	rp = redis_cmd("GET %s", key);
	if (rp == NULL || rp->type == REDIS_REPLY_ERROR)
		rc = -1;
	else if (rp->type == REDIS_REPLY_STRING)
		rc = rtoken_parse(rp->str, rp->len, r) == 0 ? 1 : 0;
	else
		rc = 0;
	if (rp != NULL && rp->type == REDIS_REPLY_STRING)
		explicit_bzero(rp->str, rp->len);
	freeReplyObject(rp);
	return rc;
}

static int
give(const struct rtoken_rec *r, char *out, size_t outsz, long *left)
{
	time_t	 now = time(NULL);

	if (left != NULL)
		*left = r->expires > now ? (long)(r->expires - now) : 0;
	return str_copy(out, r->value, outsz) == 0 ? STORE_OK : STORE_FETCH;
}

/*
 * The reason under whykey into why (whysz bytes) when it belongs to
 * the record fetched at fetched (0: any).  Returns 1, 0 none, -1 down.
 */
static int
why_get(const char *whykey, long long fetched, char *why, size_t whysz)
{
	redisReply	*rp;
	long long	 t;
	char		 num[24];
	size_t		 n;
	int		 rc = 0;

	why[0] = '\0';
	rp = redis_cmd("GET %s", whykey);
	if (rp == NULL || rp->type == REDIS_REPLY_ERROR)
		rc = -1;
	else if (rp->type == REDIS_REPLY_STRING &&
	    (n = strcspn(rp->str, " ")) < sizeof(num) && rp->str[n] == ' ' &&
	    rp->len - n - 1 < whysz) {
		memcpy(num, rp->str, n);
		num[n] = '\0';
		if (num_parse(num, 0, 0x7fffffffffffLL, &t) == 0 &&
		    (fetched == 0 || t == fetched)) {
			memcpy(why, rp->str + n + 1, rp->len - n - 1);
			why[rp->len - n - 1] = '\0';
			tokrec_why_clean(why);
			rc = 1;
		}
	}
	freeReplyObject(rp);
	return rc;
}

/* Keeps why under whykey for the record fetched at fetched. */
static void
why_set(const char *whykey, long long fetched, const char *why, long ttl)
{
	redisReply	*rp;
	char		 b[LIM_TOKEN_WHY + 32], w[LIM_TOKEN_WHY];

	snprintf(w, sizeof(w), "%s", *why != '\0' ? why : "-");
	tokrec_why_clean(w);
	snprintf(b, sizeof(b), "%lld %s", fetched, w);
	rp = redis_cmd("SET %s %s EX %ld", whykey, b, ttl > 0 ? ttl : 1);
	freeReplyObject(rp);
}

/*
 * Fetches a token and keeps it in key, why beside it.  Returns
 * STORE_OK or STORE_FETCH.
 */
static int
refresh(const char *key, const char *whykey, store_fetch_fn fetch,
    void *arg, struct rtoken_rec *r, const char *why)
{
	redisReply	*rp;
	char		 b[LIM_TOKEN + 64];
	long		 ttl = 0;

	memset(r, 0, sizeof(*r));
	if (fetch(arg, r->value, sizeof(r->value), &ttl) == -1 ||
	    !token_ok(r->value))
		return STORE_FETCH;
	r->fetched = time(NULL);
	r->expires = r->fetched + (ttl > 0 ? ttl : 1);
	snprintf(b, sizeof(b), "%lld %lld %s", r->expires, r->fetched,
	    r->value);
	rp = redis_cmd("SET %s %s EX %ld", key, b, ttl > 0 ? ttl : 1);
	if (rp == NULL || rp->type != REDIS_REPLY_STATUS)
		log_warnx("rtoken: token not kept in redis, the next call "
		    "fetches again");
	else
		why_set(whykey, r->fetched, why, ttl);
	freeReplyObject(rp);
	explicit_bzero(b, sizeof(b));
	return STORE_OK;
}

/*
 * store_token's work in Redis for the token file name (see store.c).
 * Returns what store_token returns, or RTOKEN_DOWN when Redis did not
 * answer before anything was fetched (the caller uses its files).
 */
int
rtoken_get(const char *name, const char *bad, const char *why, long wait_ms,
    store_fetch_fn fetch, void *arg, char *out, size_t outsz, long *left)
{
	struct rtoken_rec r, again;
	char		 key[LIM_REDIS_KEY], lock[LIM_REDIS_KEY], tok[40];
	char		 whykey[LIM_REDIS_KEY], oldwhy[LIM_TOKEN_WHY];
	char		 now_why[LIM_TOKEN_WHY];
	int		 have, locked = 0, rc;

	if (redis_key(key, sizeof(key), "token", name) == -1 ||
	    redis_key(lock, sizeof(lock), "token-lock", name) == -1 ||
	    redis_key(whykey, sizeof(whykey), "token-why", name) == -1)
		return RTOKEN_DOWN;
	if ((have = rec_get(key, &r)) == -1)
		return RTOKEN_DOWN;
	if (have && tokrec_fresh(r.value, r.expires, r.fetched, bad, time(NULL))) {
		rc = give(&r, out, outsz, left);
		goto out;
	}
	if (have && tokrec_usable(r.value, r.expires, bad, time(NULL))) {
		/* Old but working: refresh only if nobody else is. */
		if (redis_lock(lock, wait_ms * 2, 0, tok, sizeof(tok)) != 1) {
			rc = give(&r, out, outsz, left);
			goto out;
		}
	} else {
		switch (redis_lock(lock, wait_ms * 2, wait_ms, tok,
		    sizeof(tok))) {
		case 0:
			rc = STORE_BUSY;
			goto out;
		case -1:
			rc = RTOKEN_DOWN;
			goto out;
		default:
			break;
		}
	}
	locked = 1;
	/* Whoever held the lock may have refreshed it meanwhile. */
	if (rec_get(key, &again) == 1 && tokrec_fresh(again.value, again.expires, again.fetched, bad, time(NULL))) {
		rc = give(&again, out, outsz, left);
		goto out;
	}
	/* A tombstone of the console's drop carries the reason. */
	oldwhy[0] = '\0';
	if (have && r.expires == 0)
		(void)why_get(whykey, 0, oldwhy, sizeof(oldwhy));
	tokrec_why(have, r.expires, oldwhy, bad, why, now_why,
	    sizeof(now_why));
	rc = refresh(key, whykey, fetch, arg, &again, now_why);
	if (rc == STORE_OK)
		rc = give(&again, out, outsz, left);
	else if (have && tokrec_usable(r.value, r.expires, bad, time(NULL)))
		rc = give(&r, out, outsz, left);
out:
	if (locked)
		redis_unlock(lock, tok);
	explicit_bzero(&r, sizeof(r));
	explicit_bzero(&again, sizeof(again));
	return rc;
}

/*
 * The console's view of the token under name (see store_token_info).
 * Returns 1 with si filled, 0 when none is kept, RTOKEN_DOWN.
 */
int
rtoken_info(const char *name, struct store_info *si)
{
	struct rtoken_rec r;
	char		 key[LIM_REDIS_KEY], whykey[LIM_REDIS_KEY];
	int		 rc;

	memset(si, 0, sizeof(*si));
	if (redis_key(key, sizeof(key), "token", name) == -1 ||
	    redis_key(whykey, sizeof(whykey), "token-why", name) == -1)
		return RTOKEN_DOWN;
	if ((rc = rec_get(key, &r)) == -1)
		return RTOKEN_DOWN;
	if (rc == 1 && r.expires != 0) {
		si->fetched = r.fetched;
		si->expires = r.expires;
		si->redis = 1;
		(void)why_get(whykey, r.fetched, si->why, sizeof(si->why));
	} else
		rc = 0;
	explicit_bzero(&r, sizeof(r));
	return rc;
}

/*
 * The console's "refresh now": under the token's lock, a tombstone
 * replaces it (an hour, then nothing) with why beside it, so the next
 * fetch, on whatever host, records that reason.  Returns 0, -1 when
 * the lock stayed taken, RTOKEN_DOWN.
 */
int
rtoken_drop(const char *name, const char *why)
{
	redisReply	*rp;
	char		 key[LIM_REDIS_KEY], lock[LIM_REDIS_KEY], tok[40];
	char		 whykey[LIM_REDIS_KEY], b[64];
	long long	 now = (long long)time(NULL);
	int		 rc;

	if (redis_key(key, sizeof(key), "token", name) == -1 ||
	    redis_key(lock, sizeof(lock), "token-lock", name) == -1 ||
	    redis_key(whykey, sizeof(whykey), "token-why", name) == -1)
		return RTOKEN_DOWN;
	switch (redis_lock(lock, 10000, 5000, tok, sizeof(tok))) {
	case 0:
		return -1;
	case -1:
		return RTOKEN_DOWN;
	default:
		break;
	}
	snprintf(b, sizeof(b), "0 %lld -", now);
	rp = redis_cmd("SET %s %s EX 3600", key, b);
	rc = rp != NULL && rp->type == REDIS_REPLY_STATUS ? 0 : RTOKEN_DOWN;
	freeReplyObject(rp);
	if (rc == 0)
		why_set(whykey, now, why, 3600);
	redis_unlock(lock, tok);
	return rc;
}
