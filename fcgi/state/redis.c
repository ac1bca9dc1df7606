/*
 * The connection to Redis, when the config has "redis": the store that
 * several hosts share (tokens, idempotency records, rate limits, the
 * retry stream).  Each worker thread keeps one connection, opened on
 * first use (so no connection crosses a fork or a thread) and opened
 * again when it drops; the settings are the process's, set before any
 * thread starts and only read after.  While Redis does not answer, callers get NULL at once for a
 * second before the next try, so a dead Redis costs each request one
 * short timeout at most, and every caller has its own fallback (see
 * doc/reliability.md, "More than one host").
 */
#include <sys/time.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "lib/util.h"
#include "redis.h"

#define REDIS_CONNECT_MS	500	/* connect timeout */
#define REDIS_IO_MS		2000	/* one command's timeout */
#define REDIS_RETRY_S		1	/* after a failure, no try for this long */

static __thread redisContext *rc;	/* owned: this thread's connection */
static struct redis_addr addr;		/* where it goes */
static char		*password;	/* owned, wiped: AUTH, or NULL */
static char		 prefix[LIM_REDIS_PREFIX + 1]; /* of every key */
static int		 configured;	/* the config has "redis" */
static __thread int	 down;		/* this thread's last try failed */
static __thread time_t	 retry_at;	/* no new try before this */
static __thread char	 consumer[96];	/* host:pid, the stream consumer */

/*
 * Parses "redis://[:password@]host[:port][/db]" or "unix:/path" (with
 * an optional "?db=N").  A password in the URL is refused: it belongs
 * in "password", a secret reference.  Returns 0, or -1 with msg.
 */
int
redis_parse_url(const char *url, struct redis_addr *a, char *msg, size_t n)
{
	const char	*p, *colon, *slash, *q;
	long long	 v;
	char		 num[16];
	size_t		 len;

	memset(a, 0, sizeof(*a));
	a->port = 6379;
	if (strncmp(url, "unix:", 5) == 0) {
		p = url + 5;
		if (p[0] == '/' && p[1] == '/')
			p += 2;
		len = strcspn(p, "?");
		if (*p != '/' || len >= sizeof(a->sock)) {
			snprintf(msg, n, "unix: needs an absolute socket path");
			return -1;
		}
		memcpy(a->sock, p, len);
		a->sock[len] = '\0';
		q = p + len;
		if (*q == '\0')
			return 0;
		if (strncmp(q, "?db=", 4) != 0 ||
		    num_parse(q + 4, 0, 15, &v) == -1) {
			snprintf(msg, n, "after the socket path only ?db=0..15");
			return -1;
		}
		a->db = (int)v;
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0) {
		snprintf(msg, n, "redis://host:port/db or unix:/path");
		return -1;
	}
	p = url + 8;
	if (strchr(p, '@') != NULL) {
		snprintf(msg, n, "no credentials in the URL: use "
		    "\"password\"");
		return -1;
	}
	slash = strchr(p, '/');
	len = slash != NULL ? (size_t)(slash - p) : strlen(p);
	colon = memchr(p, ':', len);
	if (colon != NULL) {
		if ((size_t)(p + len - colon - 1) >= sizeof(num)) {
			snprintf(msg, n, "not a port");
			return -1;
		}
		memcpy(num, colon + 1, (size_t)(p + len - colon - 1));
		num[p + len - colon - 1] = '\0';
		if (num_parse(num, 1, 65535, &v) == -1) {
			snprintf(msg, n, "not a port");
			return -1;
		}
		a->port = (int)v;
		len = (size_t)(colon - p);
	}
	if (len == 0 || len >= sizeof(a->host)) {
		snprintf(msg, n, "no host");
		return -1;
	}
	memcpy(a->host, p, len);
	a->host[len] = '\0';
	if (slash != NULL && slash[1] != '\0') {
		if (num_parse(slash + 1, 0, 15, &v) == -1) {
			snprintf(msg, n, "the database is 0 to 15");
			return -1;
		}
		a->db = (int)v;
	}
	return 0;
}

/* The config's check of "redis.url" (conf_checks): 0, or -1 with msg. */
int
redis_check(json_object *url, char *msg, size_t n)
{
	struct redis_addr a;

	return redis_parse_url(json_object_get_string(url), &a, msg, n);
}

/* Takes the top level's "redis" settings; without them nothing moves. */
void
redis_setup(const struct conf *c)
{
	char	 msg[128];

	redis_free();
	configured = 0;
	if (c->redis_url == NULL ||
	    redis_parse_url(c->redis_url, &addr, msg, sizeof(msg)) == -1)
		return;
	password = c->redis_password != NULL && *c->redis_password != '\0' ?
	    xstrdup(c->redis_password) : NULL;
	str_copy(prefix, c->redis_prefix != NULL ? c->redis_prefix : "cmsi:",
	    sizeof(prefix));
	configured = 1;
}

int
redis_on(void)
{
	return configured;
}

/* The name this process reads the stream as: host and pid. */
const char *
redis_consumer(void)
{
	char	 host[64];

	/* A forked worker is a consumer of its own. */
	if (gethostname(host, sizeof(host)) == -1)
		str_copy(host, "host", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(consumer, sizeof(consumer), "%s:%ld", host, (long)getpid());
	return consumer;
}

/* A thread's end: its connection. */
void
redis_thread_end(void)
{
	if (rc != NULL)
		redisFree(rc);
	rc = NULL;
}

void
redis_free(void)
{
	if (rc != NULL)
		redisFree(rc);
	rc = NULL;
	secret_free(password);
	password = NULL;
}

/* A reply that is an error, or none: the connection is not to be trusted. */
static int
reply_bad(const redisReply *r)
{
	return r == NULL || r->type == REDIS_REPLY_ERROR;
}

/* Connects, authenticates, selects.  Returns 0, or -1 with why in msg. */
static int
connect_now(char *msg, size_t n)
{
	struct timeval	 tv;
	redisReply	*r;

	tv.tv_sec = REDIS_CONNECT_MS / 1000;
	tv.tv_usec = (REDIS_CONNECT_MS % 1000) * 1000;
	if (addr.sock[0] != '\0')
		rc = redisConnectUnixWithTimeout(addr.sock, tv);
	else
		rc = redisConnectWithTimeout(addr.host, addr.port, tv);
	if (rc == NULL || rc->err) {
		snprintf(msg, n, "%s", rc != NULL ? rc->errstr : "no memory");
		goto fail;
	}
	tv.tv_sec = REDIS_IO_MS / 1000;
	tv.tv_usec = (REDIS_IO_MS % 1000) * 1000;
	redisSetTimeout(rc, tv);
	if (password != NULL) {
		r = redisCommand(rc, "AUTH %s", password);
		if (reply_bad(r)) {
			snprintf(msg, n, "AUTH: %s", r != NULL ? r->str :
			    rc->errstr);
			freeReplyObject(r);
			goto fail;
		}
		freeReplyObject(r);
	}
	if (addr.db != 0) {
		r = redisCommand(rc, "SELECT %d", addr.db);
		if (reply_bad(r)) {
			snprintf(msg, n, "SELECT: %s", r != NULL ? r->str :
			    rc->errstr);
			freeReplyObject(r);
			goto fail;
		}
		freeReplyObject(r);
	}
	return 0;
fail:
	if (rc != NULL)
		redisFree(rc);
	rc = NULL;
	return -1;
}

/*
 * The connection, opened when there is none and the last failure is
 * more than REDIS_RETRY_S old.  Returns 0 or -1 (down).
 */
static int
ensure(void)
{
	char	 msg[256];

	if (!configured)
		return -1;
	if (rc != NULL)
		return 0;
	if (down && time(NULL) < retry_at) {
		metrics_redis_down();
		return -1;
	}
	if (connect_now(msg, sizeof(msg)) == -1) {
		metrics_redis_down();
		if (!down)
			log_warnx("redis: down (%s): tokens are fetched per "
			    "host, idempotency and rate limits are kept per "
			    "host, retries are spooled on this host", msg);
		down = 1;
		retry_at = time(NULL) + REDIS_RETRY_S;
		return -1;
	}
	if (down)
		log_info("redis: back, shared state again");
	down = 0;
	return 0;
}

/* After a command failed: drop the connection; the next use reconnects. */
static void
failed(void)
{
	if (rc != NULL && rc->err) {
		if (!down)
			log_warnx("redis: connection lost (%s)", rc->errstr);
		redisFree(rc);
		rc = NULL;
		down = 1;
		retry_at = 0;	/* reconnect at once, once */
	}
}

/*
 * One command.  Returns the reply (caller frees with freeReplyObject),
 * an error reply included, or NULL when Redis is not there.  A dropped
 * connection is reopened once right away, since a restarted Redis
 * would otherwise fail the first command of each worker.
 */
redisReply *
redis_cmd(const char *fmt, ...)
{
	redisReply	*r = NULL;
	va_list		 ap;
	int		 i;

	for (i = 0; i < 2; i++) {
		if (ensure() == -1)
			return NULL;
		va_start(ap, fmt);
		r = redisvCommand(rc, fmt, ap);
		va_end(ap);
		if (r != NULL)
			return r;
		failed();
	}
	return NULL;
}

/* redis_cmd with binary-safe arguments. */
redisReply *
redis_argv(int argc, const char **argv, const size_t *lens)
{
	redisReply	*r;
	int		 i;

	for (i = 0; i < 2; i++) {
		if (ensure() == -1)
			return NULL;
		r = redisCommandArgv(rc, argc, argv, lens);
		if (r != NULL)
			return r;
		failed();
	}
	return NULL;
}

/* -t: whether Redis answers PING.  Returns 0, or -1 with why in msg. */
int
redis_ping(char *msg, size_t n)
{
	redisReply	*r;
	int		 ok;

	if (!configured)
		return 0;
	if (rc == NULL && connect_now(msg, n) == -1)
		return -1;
	r = redisCommand(rc, "PING");
	ok = r != NULL && r->type == REDIS_REPLY_STATUS &&
	    strcmp(r->str, "PONG") == 0;
	if (!ok)
		snprintf(msg, n, "%s", r != NULL && r->str != NULL ? r->str :
		    rc->errstr);
	freeReplyObject(r);
	return ok ? 0 : -1;
}

/* prefix + kind + ":" + name into out.  Returns 0, or -1 if too long. */
int
redis_key(char *out, size_t n, const char *kind, const char *name)
{
	int	 k;

	k = snprintf(out, n, "%s%s:%s", prefix, kind, name);
	return k < 0 || (size_t)k >= n ? -1 : 0;
}

/* A random token naming one holder of a lock. */
static void
lock_token(char *out, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 b[16];
	size_t			 i;

	memset(b, 0, sizeof(b));
	if (gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof(b)) != 0)
		b[0] = (unsigned char)getpid();
	for (i = 0; i < sizeof(b) && 2 * i + 2 < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * i] = '\0';
}

/*
 * Takes the lock key (SET NX PX lease_ms), polling up to wait_ms.  A
 * holder that dies loses it when the lease runs out.  Returns 1 with
 * the holder's token in tok, 0 when it stayed taken, -1 when Redis is
 * down.
 */
int
redis_lock(const char *key, long lease_ms, long wait_ms, char *tok,
    size_t toksz)
{
	struct timespec	 ts;
	redisReply	*r;
	long		 waited = 0, step = 2;
	int		 got;

	lock_token(tok, toksz);
	for (;;) {
		r = redis_cmd("SET %s %s NX PX %ld", key, tok, lease_ms);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			freeReplyObject(r);
			return -1;
		}
		got = r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		if (got)
			return 1;
		if (waited >= wait_ms)
			return 0;
		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		nanosleep(&ts, NULL);
		waited += step;
		if (step < 50)
			step *= 2;
	}
}

/* Lets go of a lock, only if this holder still has it. */
void
redis_unlock(const char *key, const char *tok)
{
	redisReply	*r;

	r = redis_cmd("EVAL %s 1 %s %s",
	    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
	    "return redis.call('DEL', KEYS[1]) else return 0 end", key, tok);
	freeReplyObject(r);
}
