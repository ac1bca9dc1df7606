/*
 * State shared by the worker processes of one host: the access tokens
 * of WeCom and the Official Account.  Each token is one small file,
 * <state_dir>/tokens/<kind>-<hash>, replaced atomically (temp file,
 * fsync, rename) so a reader always sees a whole token without locking.
 * Refreshing is serialised by flock(2) on a lock file beside it, so one
 * process fetches while the others wait for it (no token yet, or the
 * token was refused) or keep using the old one (it is only getting
 * old).  The file holds a live credential: the directory is 0700 and
 * the files 0600.  With "redis" in the config, rtoken.c keeps the
 * tokens of the configured apps there instead, and these files serve
 * only while Redis is down.
 *
 * Beside each token: why it was fetched (tokrec_why: first use,
 * expired, about to expire, refused by the upstream with its code,
 * or refreshed from the console by a user), for the console's Tokens
 * page.  The console's "refresh now" leaves a tombstone (expires 0,
 * token "-", its reason) that the next fetch, whoever makes it,
 * records as its reason.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "core/log.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "redis.h"
#include "rtoken.h"
#include "store.h"
#include "tokrec.h"

/* What one token file says. */
struct store_rec {
	char	 value[LIM_TOKEN + 1];	/* the token */
	long long expires;		/* unix time it stops working */
	long long fetched;		/* unix time it was fetched */
	char	 why[LIM_TOKEN_WHY];	/* why it was fetched, or "" */
};

/* A tombstone's token: the console dropped it (store_token_drop). */
#define STORE_DROPPED	"-"

/*
 * The file name of a token: kind plus a hash of ident (which holds the
 * app secret, so the name must not).  Returns 0, or -1 if it does not
 * fit.
 */
int
store_token_name(const char *kind, const char *ident, char *out,
    size_t outsz)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[32];
	char			 h[33];
	size_t			 i;
	int			 n;

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, ident, strlen(ident),
	    md) != 0)
		return -1;
	for (i = 0; i < 16; i++) {
		h[2 * i] = hex[md[i] >> 4];
		h[2 * i + 1] = hex[md[i] & 0xf];
	}
	h[32] = '\0';
	n = snprintf(out, outsz, "%s-%s", kind, h);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

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

/* Reads a token file.  Returns 0, or -1 if absent or not ours. */
static int
rec_read(const char *path, struct store_rec *r)
{
	char	 b[LIM_TOKEN + LIM_TOKEN_WHY + 128], *nl, *sp, *end, *w;
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	/*
	 * "<expires> <fetched>\n<token>\n" and, since the console shows
	 * it, "<why>\n": a file without it still loads (why ""), and an
	 * older build reading a newer file stops at the token.
	 */
	if ((nl = strchr(b, '\n')) == NULL || (sp = strchr(b, ' ')) == NULL ||
	    sp > nl)
		return -1;
	*nl = *sp = '\0';
	if ((end = strchr(nl + 1, '\n')) == NULL)
		return -1;
	*end = '\0';
	r->why[0] = '\0';
	w = end + 1;
	if ((end = strchr(w, '\n')) != NULL && (size_t)(end - w) <
	    sizeof(r->why)) {
		memcpy(r->why, w, (size_t)(end - w));
		r->why[end - w] = '\0';
		tokrec_why_clean(r->why);
	}
	if (num_parse(b, 0, 0x7fffffffffffLL, &r->expires) == -1 ||
	    num_parse(sp + 1, 0, 0x7fffffffffffLL, &r->fetched) == -1 ||
	    !token_ok(nl + 1) ||
	    str_copy(r->value, nl + 1, sizeof(r->value)) == -1)
		return -1;
	explicit_bzero(b, sizeof(b));
	return 0;
}

/* Replaces the token file atomically.  Returns 0 or -1. */
static int
rec_write(const char *dir, const char *name, const struct store_rec *r)
{
	char	 tmp[LIM_PATH], path[LIM_PATH];
	char	 b[LIM_TOKEN + LIM_TOKEN_WHY + 128];
	int	 n, rc = -1;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path) || snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-%ld",
	    dir, name, (long)getpid()) >= (int)sizeof(tmp))
		return -1;
	n = snprintf(b, sizeof(b), "%lld %lld\n%s\n%s\n", r->expires,
	    r->fetched, r->value, r->why);
	if (n < 0 || (size_t)n >= sizeof(b))
		return -1;
	unlink(tmp);
	if (file_replace(tmp, path, b, (size_t)n, 0600, 1) == -1)
		log_warn("%s: %s", __func__, path);
	else
		rc = 0;
	explicit_bzero(b, sizeof(b));
	return rc;
}

/*
 * Takes the refresh lock.  With wait_ms 0 it only tries; otherwise it
 * polls until the deadline, since flock(2) cannot time out by itself.
 * Returns the locked descriptor, -1 on a system error, -2 when busy.
 */
static int
lock_take(const char *path, long wait_ms)
{
	struct timespec	 ts;
	long		 waited = 0, step = 1;
	int		 fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("%s: open %s", __func__, path);
		return -1;
	}
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			log_warn("%s: flock %s", __func__, path);
			close(fd);
			return -1;
		}
		if (waited >= wait_ms) {
			close(fd);
			return -2;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		nanosleep(&ts, NULL);
		waited += step;
		if (step < 16)
			step *= 2;
	}
}

/*
 * Fetches and records a token, why it was fetched beside it.  Returns
 * STORE_OK or STORE_FETCH.
 */
static int
refresh(const char *dir, const char *name, store_fetch_fn fetch, void *arg,
    struct store_rec *r, const char *why)
{
	long	 ttl = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->why, sizeof(r->why), "%s", why);
	if (fetch(arg, r->value, sizeof(r->value), &ttl) == -1)
		return STORE_FETCH;
	if (!token_ok(r->value))
		return STORE_FETCH;
	r->fetched = time(NULL);
	r->expires = r->fetched + (ttl > 0 ? ttl : 1);
	if (dir != NULL && rec_write(dir, name, r) == -1)
		log_warnx("%s: token %s not kept, the next call fetches again",
		    __func__, name);
	return STORE_OK;
}

static int
give(const struct store_rec *r, char *out, size_t outsz, long *left)
{
	if (left != NULL)
		*left = r->expires > time(NULL) ?
		    (long)(r->expires - time(NULL)) : 0;
	return str_copy(out, r->value, outsz) == 0 ? STORE_OK : STORE_FETCH;
}

/* Whether dir holds fewer than LIM_CALLER_TOKENS "c-" token files. */
static int
caller_room(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return 1;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "c-", 2) == 0 &&
		    strchr(e->d_name, '.') == NULL)
			n++;
	closedir(d);
	return n < LIM_CALLER_TOKENS;
}

/*
 * A token for credentials a request supplied: used from its file when
 * one is fresh, else fetched without the refresh lock (no lock file
 * per value a caller makes up), and kept in a file only when the fetch
 * worked and fewer than LIM_CALLER_TOKENS such files exist.  The name
 * starts with "c-", apart from the configured apps'.
 */
static int
caller_token(const char *dir, const char *name, const char *bad,
    store_fetch_fn fetch, void *arg, char *out, size_t outsz, long *left)
{
	struct store_rec r;
	char		 path[LIM_PATH], why[LIM_TOKEN_WHY];
	int		 rc, have;

	memset(&r, 0, sizeof(r));
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return STORE_FETCH;
	if ((have = rec_read(path, &r) == 0) && tokrec_fresh(r.value, r.expires, r.fetched, bad, time(NULL))) {
		rc = give(&r, out, outsz, left);
		goto out;
	}
	tokrec_why(have, r.expires, r.why, bad, NULL, why, sizeof(why));
	rc = refresh(NULL, NULL, fetch, arg, &r, why);
	if (rc == STORE_OK) {
		if ((mkdir(dir, 0700) == 0 || errno == EEXIST) &&
		    caller_room(dir))
			(void)rec_write(dir, name, &r);
		rc = give(&r, out, outsz, left);
	}
out:
	explicit_bzero(&r, sizeof(r));
	return rc;
}

/* store_token for credentials a request supplied (see caller_token). */
int
store_token_caller(const char *state_dir, const char *kind,
    const char *ident, const char *bad, store_fetch_fn fetch, void *arg,
    char *out, size_t outsz, long *left)
{
	char	 dir[LIM_PATH], name[LIM_NAME + 40];

	name[0] = 'c';
	name[1] = '-';
	if (store_token_name(kind, ident, name + 2, sizeof(name) - 2) == -1 ||
	    snprintf(dir, sizeof(dir), "%s/tokens", state_dir) >=
	    (int)sizeof(dir))
		return STORE_FETCH;
	return caller_token(dir, name, bad, fetch, arg, out, outsz, left);
}

/*
 * The access token of kind/ident (ident names the app, secret
 * included).  bad is a token the upstream just refused, or NULL: it is
 * never handed out again, and why says why the upstream refused it
 * ("refused:40014", kept as the reason of the fetch it causes; may be
 * NULL).  A fresh token comes from the file; an old
 * one is refreshed by whoever gets the lock first while the others use
 * it; a missing, expired or refused one makes everyone wait up to
 * wait_ms for the process that fetches.  Returns STORE_OK with the
 * token in out (and, when left is not NULL, its seconds to live in
 * *left), STORE_FETCH when fetch failed (arg says why) or
 * STORE_BUSY when the lock stayed taken.  If the store itself is
 * broken, each call fetches: slower, but still working.
 */
int
store_token(const char *state_dir, const char *kind, const char *ident,
    const char *bad, const char *why, long wait_ms, store_fetch_fn fetch,
    void *arg, char *out, size_t outsz, long *left)
{
	struct store_rec r, again;
	char		 dir[LIM_PATH], name[LIM_NAME + 40];
	char		 path[LIM_PATH], lock[LIM_PATH], now_why[LIM_TOKEN_WHY];
	time_t		 now = time(NULL);
	int		 have, fd = -1, rc;

	memset(&r, 0, sizeof(r));
	if (store_token_name(kind, ident, name, sizeof(name)) == -1 ||
	    snprintf(dir, sizeof(dir), "%s/tokens", state_dir) >=
	    (int)sizeof(dir) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path) ||
	    snprintf(lock, sizeof(lock), "%s/%s.lock", dir, name) >=
	    (int)sizeof(lock))
		return refresh(NULL, NULL, fetch, arg, &r, "") == STORE_OK ?
		    give(&r, out, outsz, left) : STORE_FETCH;
	if (redis_on() && (rc = rtoken_get(name, bad, why, wait_ms, fetch,
	    arg, out, outsz, left)) != RTOKEN_DOWN)
		return rc;
	have = rec_read(path, &r) == 0;
	if (have && tokrec_fresh(r.value, r.expires, r.fetched, bad, now)) {
		rc = give(&r, out, outsz, left);
		goto out;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		log_warn("%s: mkdir %s", __func__, dir);
	if (have && tokrec_usable(r.value, r.expires, bad, now)) {
		/* Old but working: refresh only if nobody else is. */
		fd = lock_take(lock, 0);
		if (fd == -2) {
			fd = -1;
			rc = give(&r, out, outsz, left);
			goto out;
		}
	} else
		fd = lock_take(lock, wait_ms);
	if (fd == -2) {
		fd = -1;
		rc = STORE_BUSY;
		goto out;
	}
	/* Whoever held the lock may have refreshed it meanwhile. */
	if (rec_read(path, &again) == 0 && tokrec_fresh(again.value, again.expires, again.fetched, bad, time(NULL))) {
		rc = give(&again, out, outsz, left);
		goto out;
	}
	tokrec_why(have, r.expires, r.why, bad, why, now_why, sizeof(now_why));
	rc = refresh(fd == -1 ? NULL : dir, name, fetch, arg, &again,
	    now_why);
	if (rc == STORE_OK)
		rc = give(&again, out, outsz, left);
	else if (have && tokrec_usable(r.value, r.expires, bad, time(NULL)))
		rc = give(&r, out, outsz, left);
out:
	if (fd >= 0)
		close(fd);
	explicit_bzero(&r, sizeof(r));
	explicit_bzero(&again, sizeof(again));
	return rc;
}

/* <state_dir>/tokens/<name> of kind/ident.  Returns 0 or -1. */
static int
token_path(const char *state_dir, const char *kind, const char *ident,
    char *path, size_t pathsz)
{
	char	 name[LIM_NAME + 40];

	if (store_token_name(kind, ident, name, sizeof(name)) == -1 ||
	    snprintf(path, pathsz, "%s/tokens/%s", state_dir, name) >=
	    (int)pathsz)
		return -1;
	return 0;
}

/*
 * What the console may say of a cached token: when it was fetched,
 * when it stops working, why it was fetched; from Redis when the
 * config has it and it answers, else from the file.  Never the token
 * itself, which is wiped here.  Returns 0, or -1 when none is cached.
 */
int
store_token_info(const char *state_dir, const char *kind, const char *ident,
    struct store_info *si)
{
	struct store_rec r;
	char		 path[LIM_PATH], name[LIM_NAME + 40];
	int		 rc = -1;

	memset(si, 0, sizeof(*si));
	if (redis_on() && store_token_name(kind, ident, name,
	    sizeof(name)) == 0 && (rc = rtoken_info(name, si)) !=
	    RTOKEN_DOWN)
		return rc == 1 ? 0 : -1;
	rc = -1;
	if (token_path(state_dir, kind, ident, path, sizeof(path)) == -1 ||
	    rec_read(path, &r) == -1 || r.expires == 0)
		goto out;
	si->fetched = r.fetched;
	si->expires = r.expires;
	(void)str_copy(si->why, r.why, sizeof(si->why));
	rc = 0;
out:
	explicit_bzero(&r, sizeof(r));
	return rc;
}

/*
 * Forgets the cached token so the next call fetches a fresh one (the
 * console's "refresh now"), leaving a tombstone whose reason (why,
 * "console:<user>") that fetch records.  Under the refresh lock, so no
 * worker is halfway through writing it; in Redis when the config has
 * it and it answers.  Returns 0, or -1 when it could not.
 */
int
store_token_drop(const char *state_dir, const char *kind, const char *ident,
    const char *why)
{
	struct store_rec r;
	char	 path[LIM_PATH], lock[LIM_PATH], dir[LIM_PATH];
	char	 name[LIM_NAME + 40];
	int	 fd, rc;

	if (store_token_name(kind, ident, name, sizeof(name)) == -1)
		return -1;
	if (redis_on() && (rc = rtoken_drop(name, why)) != RTOKEN_DOWN)
		return rc;
	if (token_path(state_dir, kind, ident, path, sizeof(path)) == -1 ||
	    snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock) ||
	    snprintf(dir, sizeof(dir), "%s/tokens", state_dir) >=
	    (int)sizeof(dir))
		return -1;
	/* Nothing fetched yet on this host: the lock's directory too. */
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	fd = lock_take(lock, 5000);
	if (fd < 0)
		return -1;
	memset(&r, 0, sizeof(r));
	(void)str_copy(r.value, STORE_DROPPED, sizeof(r.value));
	r.fetched = time(NULL);
	snprintf(r.why, sizeof(r.why), "%s", why);
	tokrec_why_clean(r.why);
	rc = rec_write(dir, name, &r);
	close(fd);
	return rc;
}
