/*
 * Who may use the console: local users (console.users.<name>.
 * password_hash) and BlueKing users named in console.admins, signed in
 * by their bk_token.  Sessions are files under <state_dir>/console/
 * sessions named by the SHA-256 of the cookie's random id, so every
 * worker sees them and a listing of the directory gives no cookie
 * away.  Failed sign-ins are counted per user and per address in one
 * file under flock, and each count past a few locks the name or the
 * address out for longer.
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

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "auth.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/request.h"
#include "lib/limits.h"
#include "lib/pwhash.h"
#include "lib/util.h"
#include "page.h"

#define COOKIE_SID	"cmsi_console"
#define COOKIE_PRE	"cmsi_console_pre"	/* the sign-in form's token */
#define THROTTLE_FREE	5	/* failures before the lock-out starts */
#define THROTTLE_BASE	30	/* seconds of the first lock-out */
#define THROTTLE_MAX	3600	/* longest lock-out */
#define THROTTLE_KEEP	86400	/* a failure is forgotten after a day */
/*
 * entries in throttle.json: each is at most 72 bytes of JSON (a 32-digit
 * key, a count, a time, an 8-digit address), so they fit LIM_THROTTLE
 */
#define THROTTLE_ENTRIES	(LIM_THROTTLE / 72)
/* names and its own count one address may have in the file */
#define THROTTLE_PER_ADDR	32
/* a count stops here, so an entry keeps its size */
#define THROTTLE_FAILS_MAX	999999
#define SESSION_MIN	480	/* default session_minutes */

void
cauth_hex(const unsigned char *p, size_t n, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* 32 random bytes as 64 hex digits. */
static int
rnd_hex(char out[65])
{
	unsigned char	 b[32];

	if (gnutls_rnd(GNUTLS_RND_KEY, b, sizeof(b)) != 0)
		return -1;
	cauth_hex(b, sizeof(b), out);
	explicit_bzero(b, sizeof(b));
	return 0;
}

static int
is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/*
 * The value of cookie name in a Cookie header.  Returns 0, or -1 when
 * absent or longer than outsz.
 */
int
cauth_cookie(const char *hdr, const char *name, char *out, size_t outsz)
{
	const char	*p = hdr, *end;
	size_t		 n = strlen(name);

	if (hdr == NULL)
		return -1;
	while (*p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 &&
		    p[n] == '=') {
			if ((size_t)(end - p - n - 1) >= outsz)
				return -1;
			memcpy(out, p + n + 1, (size_t)(end - p - n - 1));
			out[end - p - n - 1] = '\0';
			return 0;
		}
		p = end;
	}
	return -1;
}

/* <state_dir>/console/<sub>, created on the way.  Returns 0 or -1. */
static int
state_path(const struct console_rq *rq, const char *sub, char *out,
    size_t outsz)
{
	char	 dir[LIM_PATH];

	if (snprintf(dir, sizeof(dir), "%s/console", rq->conf->state_dir) >=
	    (int)sizeof(dir) || snprintf(out, outsz, "%s/%s", dir, sub) >=
	    (int)outsz)
		return -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
session_file(const struct console_rq *rq, const char *sid, char *out,
    size_t outsz)
{
	unsigned char	 md[32];
	char		 name[80], hex[65];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, sid, strlen(sid), md) != 0)
		return -1;
	cauth_hex(md, sizeof(md), hex);
	snprintf(name, sizeof(name), "sessions/%s", hex);
	if (state_path(rq, "sessions", out, outsz) == -1 ||
	    (mkdir(out, 0700) == -1 && errno != EEXIST))
		return -1;
	return state_path(rq, name, out, outsz);
}

static long
session_minutes(const struct conf *c)
{
	json_object	*v;
	long long	 n;

	if (c->console != NULL &&
	    json_object_object_get_ex(c->console, "session_minutes", &v) &&
	    num_parse(json_object_get_string(v), 1, 10080, &n) == 0)
		return (long)n;
	return SESSION_MIN;
}

/* Whether name may still sign in: a local user, or a listed admin. */
static int
user_known(const struct conf *c, const char *name, const char *via)
{
	json_object	*v, *a;
	size_t		 i;

	if (c->console == NULL)
		return 0;
	if (strcmp(via, "local") == 0)
		return json_object_object_get_ex(c->console, "users", &v) &&
		    json_object_object_get_ex(v, name, NULL);
	if (!json_object_object_get_ex(c->console, "admins", &a) ||
	    !json_object_is_type(a, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(
		    json_object_array_get_idx(a, i)), name) == 0)
			return 1;
	return 0;
}

/*
 * What a local user's session is bound to: 32 hex digits of the
 * SHA-256 of the user's password_hash as the config has it now, so a
 * changed password (a new salt, whatever the password) ends every
 * session opened with the old one.  Returns 0, or -1 when name has no
 * password_hash.
 */
static int
pw_tag(const struct conf *c, const char *name, char out[33])
{
	json_object	*v;
	const char	*h;
	unsigned char	 md[32];

	if (c->console == NULL ||
	    !json_object_object_get_ex(c->console, "users", &v) ||
	    !json_object_object_get_ex(v, name, &v) ||
	    !json_object_object_get_ex(v, "password_hash", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	h = json_object_get_string(v);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, h, strlen(h), md) != 0)
		return -1;
	cauth_hex(md, 16, out);
	return 0;
}

/*
 * The session the request's cookie names, if live: fills rq->user and
 * rq->csrf.  A user removed from the config, or whose password_hash
 * changed, loses the session at once.  Returns 1 when signed in, else
 * 0.
 */
int
cauth_session(struct console_rq *rq)
{
	char		 sid[80], path[LIM_PATH], tag[33];
	json_object	*doc = NULL, *u, *c, *e, *via, *pw;
	int		 rc = 0;

	if (cauth_cookie(req_env(rq->r, "HTTP_COOKIE"), COOKIE_SID, sid,
	    sizeof(sid)) == -1 || !is_hex64(sid) ||
	    session_file(rq, sid, path, sizeof(path)) == -1)
		return 0;
	doc = json_object_from_file(path);
	if (doc == NULL || !json_object_object_get_ex(doc, "user", &u) ||
	    !json_object_object_get_ex(doc, "csrf", &c) ||
	    !json_object_object_get_ex(doc, "exp", &e) ||
	    !json_object_object_get_ex(doc, "via", &via))
		goto out;
	if (json_object_get_int64(e) < (long long)time(NULL) ||
	    !user_known(rq->conf, json_object_get_string(u),
	    json_object_get_string(via)) ||
	    (strcmp(json_object_get_string(via), "local") == 0 &&
	    (pw_tag(rq->conf, json_object_get_string(u), tag) == -1 ||
	    !json_object_object_get_ex(doc, "pw", &pw) ||
	    !secret_eq(json_object_get_string(pw), tag)))) {
		unlink(path);
		goto out;
	}
	if (str_copy(rq->user, json_object_get_string(u), sizeof(rq->user))
	    == -1 || str_copy(rq->csrf, json_object_get_string(c),
	    sizeof(rq->csrf)) == -1 || str_copy(rq->sid, sid,
	    sizeof(rq->sid)) == -1) {
		rq->user[0] = rq->csrf[0] = rq->sid[0] = '\0';
		goto out;
	}
	rc = 1;
out:
	json_object_put(doc);
	return rc;
}

/* Removes sessions past their expiry; called at each sign-in. */
static void
sessions_sweep(const struct console_rq *rq)
{
	char		 dir[LIM_PATH], path[LIM_PATH];
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	time_t		 old = time(NULL) - session_minutes(rq->conf) * 60;

	if (state_path(rq, "sessions", dir, sizeof(dir)) == -1 ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || snprintf(path, sizeof(path),
		    "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (stat(path, &st) == 0 && st.st_mtime < old)
			unlink(path);
	}
	closedir(d);
}

/*
 * A new session for user: a fresh id whatever the browser sent (no
 * fixation), the old one removed.  Sets rq->cookie.  Returns 0 or -1.
 */
static int
session_new(struct console_rq *rq, const char *user, const char *via)
{
	json_object	*doc;
	char		 sid[65], csrf[65], path[LIM_PATH], tmp[LIM_PATH + 16];
	char		 old[LIM_PATH], tag[33];
	const char	*s;
	int		 rc = -1;

	if (rnd_hex(sid) == -1 || rnd_hex(csrf) == -1 ||
	    session_file(rq, sid, path, sizeof(path)) == -1)
		return -1;
	sessions_sweep(rq);
	if (rq->sid[0] != '\0' &&
	    session_file(rq, rq->sid, old, sizeof(old)) == 0)
		unlink(old);
	doc = json_object_new_object();
	json_object_object_add(doc, "user", json_object_new_string(user));
	json_object_object_add(doc, "via", json_object_new_string(via));
	json_object_object_add(doc, "csrf", json_object_new_string(csrf));
	if (strcmp(via, "local") == 0) {
		if (pw_tag(rq->conf, user, tag) == -1)
			goto out;
		json_object_object_add(doc, "pw", json_object_new_string(tag));
	}
	json_object_object_add(doc, "exp", json_object_new_int64(
	    (long long)time(NULL) + session_minutes(rq->conf) * 60));
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (file_replace(tmp, path, s, strlen(s), 0600, 0) == -1) {
		log_warn("console: cannot write a session under %s",
		    rq->conf->state_dir);
		goto out;
	}
	snprintf(rq->cookie, sizeof(rq->cookie), COOKIE_SID "=%s; Path=%s; "
	    "HttpOnly; SameSite=Strict%s", sid, rq->prefix,
	    rq->secure ? "; Secure" : "");
	(void)str_copy(rq->user, user, sizeof(rq->user));
	(void)str_copy(rq->sid, sid, sizeof(rq->sid));
	(void)str_copy(rq->csrf, csrf, sizeof(rq->csrf));
	rc = 0;
out:
	json_object_put(doc);
	explicit_bzero(sid, sizeof(sid));
	return rc;
}

/* Whether the POST carries the session's CSRF token. */
int
cauth_csrf_ok(struct console_rq *rq)
{
	json_object	*v;

	if (rq->csrf[0] == '\0' || rq->form == NULL ||
	    !json_object_object_get_ex(rq->form, "csrf", &v))
		return 0;
	return secret_eq(json_object_get_string(v), rq->csrf);
}

/*
 * A throttle key as stored: 32 hex digits of the SHA-256 of "u:NAME" or
 * "a:ADDR", so every entry has the same small size whatever name a
 * guesser makes up (a name of control characters once took 6 bytes of
 * JSON per byte).  by gets 8 hex digits of the address's own, to count
 * what one address added.  Returns 0 or -1.
 */
static int
throttle_key(const char *key, char out[33])
{
	unsigned char	 md[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, key, strlen(key), md) != 0)
		return -1;
	cauth_hex(md, 16, out);
	return 0;
}

/* Seconds key's lock-out has left, 0 when it is not locked. */
static long
throttle_left(json_object *e, time_t now)
{
	int64_t	 fails, last;
	long	 lock, left;

	fails = json_object_get_int64(json_object_array_get_idx(e, 0));
	last = json_object_get_int64(json_object_array_get_idx(e, 1));
	if (fails < THROTTLE_FREE)
		return 0;
	lock = THROTTLE_BASE;
	while (lock < THROTTLE_MAX && fails-- > THROTTLE_FREE)
		lock *= 2;
	if (lock > THROTTLE_MAX)
		lock = THROTTLE_MAX;
	left = (long)(last + lock - now);
	return left > 0 ? left : 0;
}

/*
 * Room for one more entry, recorded for the address by: the file holds
 * at most THROTTLE_ENTRIES, one address may have added at most
 * THROTTLE_PER_ADDR of them, and only entries not locked out now are
 * given up for it, the oldest first.  An active lock is never dropped:
 * when only locks are left the new entry is not made (the address's own
 * count still rises, and locks it).  Returns 1 when there is room.
 */
static int
throttle_room(json_object *doc, const char *by, time_t now)
{
	json_object	*b;
	const char	*oldest;
	int64_t		 when, t;
	size_t		 mine = 0;

	json_object_object_foreach(doc, k, v) {
		(void)k;
		b = json_object_array_get_idx(v, 2);
		if (b != NULL && strcmp(json_object_get_string(b), by) == 0)
			mine++;
	}
	if (mine >= THROTTLE_PER_ADDR)
		return 0;
	while (json_object_object_length(doc) >= THROTTLE_ENTRIES) {
		oldest = NULL;
		when = 0;
		json_object_object_foreach(doc, k2, v2) {
			if (throttle_left(v2, now) > 0)
				continue;
			t = json_object_get_int64(json_object_array_get_idx(v2,
			    1));
			if (oldest == NULL || t < when) {
				oldest = k2;
				when = t;
			}
		}
		if (oldest == NULL)
			return 0;
		json_object_object_del(doc, oldest);
	}
	return 1;
}

/*
 * Failed sign-ins, shared by all workers: <state_dir>/console/
 * throttle.json, {"<key hash>": [failures, last, "<address hash>"]},
 * under flock.  op 0 only asks, 1 records a failure, 2 forgets both
 * keys (a good sign-in).  Returns 1 with *wait seconds when ukey or
 * akey is locked out, 0 when not, -1 when the file cannot be used.
 */
int
cauth_throttle(const char *path, const char *ukey, const char *akey, int op,
    long *wait)
{
	json_object	*doc = NULL, *e;
	const char	*keys[2] = { akey, ukey }, *s;
	char		 buf[LIM_THROTTLE + 1], hk[33], by[33];
	ssize_t		 n;
	time_t		 now = time(NULL);
	long		 left;
	int		 fd, i, rc = 0;
	int64_t		 fails;

	*wait = 0;
	if (throttle_key(akey != NULL ? akey : "a:-", by) == -1)
		return -1;
	by[8] = '\0';
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || flock(fd, LOCK_EX) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	if (n > 0 && (size_t)n <= LIM_THROTTLE) {
		buf[n] = '\0';
		doc = json_tokener_parse(buf);
	}
	if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		doc = json_object_new_object();
	}
	/* Forget old failures and what is not ours to read. */
	json_object_object_foreach(doc, k, v) {
		if (strlen(k) != 32 ||
		    !json_object_is_type(v, json_type_array) ||
		    json_object_array_length(v) != 3 ||
		    now - json_object_get_int64(json_object_array_get_idx(v,
		    1)) > THROTTLE_KEEP)
			json_object_object_del(doc, k);
	}
	for (i = 0; i < 2; i++) {
		if (keys[i] == NULL)
			continue;
		if (throttle_key(keys[i], hk) == -1) {
			rc = -1;
			break;
		}
		if (op == 2) {
			json_object_object_del(doc, hk);
			continue;
		}
		if (json_object_object_get_ex(doc, hk, &e) &&
		    (left = throttle_left(e, now)) > 0) {
			rc = 1;
			if (left > *wait)
				*wait = left;
		}
		if (op != 1)
			continue;
		if (!json_object_object_get_ex(doc, hk, &e)) {
			if (!throttle_room(doc, by, now))
				continue;
			e = json_object_new_array();
			json_object_array_add(e, json_object_new_int64(0));
			json_object_array_add(e, json_object_new_int64(0));
			json_object_array_add(e, json_object_new_string(by));
			json_object_object_add(doc, hk, e);
		}
		fails = json_object_get_int64(json_object_array_get_idx(e, 0));
		if (fails < THROTTLE_FAILS_MAX)
			fails++;
		json_object_array_put_idx(e, 0, json_object_new_int64(fails));
		json_object_array_put_idx(e, 1,
		    json_object_new_int64((int64_t)now));
	}
	if (op != 0 && rc != -1) {
		s = json_object_to_json_string_ext(doc,
		    JSON_C_TO_STRING_PLAIN);
		/*
		 * THROTTLE_ENTRIES entries of fixed size fit: never
		 * reached, and never a reason to drop the locks.
		 */
		if (strlen(s) > LIM_THROTTLE)
			rc = -1;
		else if (ftruncate(fd, 0) == -1 ||
		    pwrite(fd, s, strlen(s), 0) != (ssize_t)strlen(s))
			rc = -1;
	}
	json_object_put(doc);
	close(fd);
	return rc;
}

/* The sign-in form, with its own token in a cookie (login CSRF). */
void
cauth_signin_page(struct console_rq *rq, const char *error)
{
	json_object	*ctx;
	char		 pre[80];

	if (cauth_cookie(req_env(rq->r, "HTTP_COOKIE"), COOKIE_PRE, pre,
	    sizeof(pre)) == -1 || !is_hex64(pre)) {
		if (rnd_hex(pre) == -1) {
			page_text(rq, 500, "no randomness");
			return;
		}
		snprintf(rq->cookie, sizeof(rq->cookie), COOKIE_PRE "=%s; "
		    "Path=%s; HttpOnly; SameSite=Strict%s", pre, rq->prefix,
		    rq->secure ? "; Secure" : "");
	}
	ctx = page_ctx(rq);
	json_object_object_add(ctx, "csrf", json_object_new_string(pre));
	if (error != NULL)
		json_object_object_add(ctx, "error",
		    json_object_new_string(error));
	json_object_object_add(ctx, "closed", json_object_new_boolean(
	    rq->conf->console == NULL ||
	    (!json_object_object_get_ex(rq->conf->console, "users", NULL) &&
	    !json_object_object_get_ex(rq->conf->console, "admins", NULL))));
	page_render(rq, error != NULL ? 403 : 200, "console/signin", ctx);
}

/*
 * POST signin: the form's token must match its cookie, the name and
 * address must not be locked out, and the password must match.  An
 * unknown name costs the same hashing as a known one.
 */
void
cauth_signin(struct console_rq *rq)
{
	static __thread char dummy[LIM_PWHASH];	/* made once per thread */
	json_object	*u = NULL, *v;
	const char	*name = "", *pw = "", *hash = NULL, *addr;
	char		 pre[80], path[LIM_PATH], ukey[LIM_NAME + 4];
	char		 akey[80], msg[160];
	long		 wait;
	int		 ok;

	if (cauth_cookie(req_env(rq->r, "HTTP_COOKIE"), COOKIE_PRE, pre,
	    sizeof(pre)) == -1 || !is_hex64(pre) ||
	    !json_object_object_get_ex(rq->form, "csrf", &v) ||
	    !secret_eq(json_object_get_string(v), pre)) {
		page_text(rq, 403, "The sign-in form expired: reload it.");
		return;
	}
	if (json_object_object_get_ex(rq->form, "username", &v))
		name = json_object_get_string(v);
	if (json_object_object_get_ex(rq->form, "password", &v))
		pw = json_object_get_string(v);
	addr = req_env(rq->r, "REMOTE_ADDR");
	snprintf(ukey, sizeof(ukey), "u:%.*s", LIM_NAME - 1, name);
	snprintf(akey, sizeof(akey), "a:%.64s", addr != NULL ? addr : "-");
	if (state_path(rq, "throttle.json", path, sizeof(path)) == -1) {
		page_text(rq, 500, "The state directory cannot be used.");
		return;
	}
	if (cauth_throttle(path, ukey, akey, 0, &wait) == 1) {
		log_warnx("console: sign-in refused, locked out: %s %s", ukey,
		    akey);
		snprintf(msg, sizeof(msg), "%s (%ld s)",
		    page_str(rq, "locked"), wait);
		cauth_signin_page(rq, msg);
		return;
	}
	if (rq->conf->console != NULL &&
	    json_object_object_get_ex(rq->conf->console, "users", &u) &&
	    json_object_object_get_ex(u, name, &v) &&
	    json_object_object_get_ex(v, "password_hash", &v))
		hash = json_object_get_string(v);
	if (hash == NULL) {
		if (dummy[0] == '\0' && pwhash_make("x", 1, dummy,
		    sizeof(dummy)) == -1)
			dummy[0] = '\0';
		(void)pwhash_verify(pw, strlen(pw), dummy);
		ok = 0;
	} else
		ok = pwhash_verify(pw, strlen(pw), hash) == 1;
	if (!ok) {
		(void)cauth_throttle(path, ukey, akey, 1, &wait);
		log_warnx("console: sign-in failed: %s %s", ukey, akey);
		cauth_signin_page(rq, page_str(rq, "bad_password"));
		return;
	}
	(void)cauth_throttle(path, ukey, akey, 2, &wait);
	if (session_new(rq, name, "local") == -1) {
		page_text(rq, 500, "The session cannot be stored.");
		return;
	}
	log_info("console: %s signed in from %s", name,
	    addr != NULL ? addr : "-");
	page_redirect(rq, "components");
}

/*
 * BlueKing login: a bk_token cookie the login service vouches for,
 * for a username in console.admins, opens a session.  Returns 1 when it
 * did (rq->cookie set), else 0.
 */
int
cauth_bk_login(struct console_rq *rq)
{
	char	 token[512], user[128];

	if (rq->conf->console == NULL || *rq->conf->login_url == '\0' ||
	    !json_object_object_get_ex(rq->conf->console, "admins", NULL) ||
	    cauth_cookie(req_env(rq->r, "HTTP_COOKIE"), "bk_token", token,
	    sizeof(token)) == -1 || token[0] == '\0')
		return 0;
	if (auth_login_user(rq->conf, token, rq->r->id, user,
	    sizeof(user)) == -1)
		return 0;
	if (!user_known(rq->conf, user, "bk")) {
		log_warnx("console: BlueKing user %s is not in console.admins",
		    user);
		return 0;
	}
	if (session_new(rq, user, "bk") == -1)
		return 0;
	log_info("console: BlueKing user %s signed in", user);
	return 1;
}

/* POST signout: the session file goes, the cookie is emptied. */
void
cauth_signout(struct console_rq *rq)
{
	char	 path[LIM_PATH];

	if (rq->sid[0] != '\0' &&
	    session_file(rq, rq->sid, path, sizeof(path)) == 0)
		unlink(path);
	snprintf(rq->cookie, sizeof(rq->cookie), COOKIE_SID "=; Path=%s; "
	    "HttpOnly; SameSite=Strict; Max-Age=0%s", rq->prefix,
	    rq->secure ? "; Secure" : "");
	page_redirect(rq, "signin");
}
