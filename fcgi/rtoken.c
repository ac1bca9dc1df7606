/*
 * The token cache of store.c, in Redis, for more than one host: the
 * WeCom or Official Account token of an app is one Redis string,
 * "<expires> <fetched> <token>", expiring with the token, and its
 * refresh is serialised by a Redis lock (SET NX PX) instead of flock,
 * so one process on one host fetches per token lifetime.  The rules
 * are store.c's: a fresh token is used, an old one is refreshed by
 * whoever takes the lock while the others keep using it, a missing or
 * refused one makes everyone wait for the fetch.
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

#include "limits.h"
#include "log.h"
#include "redis.h"
#include "rtoken.h"
#include "store.h"
#include "util.h"

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
usable(const struct rtoken_rec *r, const char *bad, time_t now)
{
	return (bad == NULL || strcmp(r->value, bad) != 0) &&
	    now < r->expires;
}

static int
fresh(const struct rtoken_rec *r, const char *bad, time_t now)
{
	return usable(r, bad, now) &&
	    now < r->expires - store_margin((long)(r->expires - r->fetched));
}

static int
give(const struct rtoken_rec *r, char *out, size_t outsz, long *left)
{
	time_t	 now = time(NULL);

	if (left != NULL)
		*left = r->expires > now ? (long)(r->expires - now) : 0;
	return str_copy(out, r->value, outsz) == 0 ? STORE_OK : STORE_FETCH;
}

/* Fetches a token and keeps it in key.  Returns STORE_OK or STORE_FETCH. */
static int
refresh(const char *key, store_fetch_fn fetch, void *arg,
    struct rtoken_rec *r)
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
rtoken_get(const char *name, const char *bad, long wait_ms,
    store_fetch_fn fetch, void *arg, char *out, size_t outsz, long *left)
{
	struct rtoken_rec r, again;
	char		 key[LIM_REDIS_KEY], lock[LIM_REDIS_KEY], tok[40];
	int		 have, locked = 0, rc;

	if (redis_key(key, sizeof(key), "token", name) == -1 ||
	    redis_key(lock, sizeof(lock), "token-lock", name) == -1)
		return RTOKEN_DOWN;
	if ((have = rec_get(key, &r)) == -1)
		return RTOKEN_DOWN;
	if (have && fresh(&r, bad, time(NULL))) {
		rc = give(&r, out, outsz, left);
		goto out;
	}
	if (have && usable(&r, bad, time(NULL))) {
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
	if (rec_get(key, &again) == 1 && fresh(&again, bad, time(NULL))) {
		rc = give(&again, out, outsz, left);
		goto out;
	}
	rc = refresh(key, fetch, arg, &again);
	if (rc == STORE_OK)
		rc = give(&again, out, outsz, left);
	else if (have && usable(&r, bad, time(NULL)))
		rc = give(&r, out, outsz, left);
out:
	if (locked)
		redis_unlock(lock, tok);
	explicit_bzero(&r, sizeof(r));
	explicit_bzero(&again, sizeof(again));
	return rc;
}
