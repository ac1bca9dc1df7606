/*
 * Shared libcurl setup for every HTTPS upstream: certificates always
 * verified (ca_file only adds trust), timeouts, CONNECT_TO for tests and
 * split-horizon setups, an optional proxy, replies read under a cap.
 *
 * Threads: single calls take a handle (and its kept connection) from
 * the process's idle stack and put it back after the call, so the
 * process keeps as many connections as it had calls at once, whichever
 * threads made them; a handle is only ever used by one thread at a
 * time.  A fan-out's multi handle and the SMTP handle are each
 * thread's own.  Every handle is made for one set of upstream settings
 * (a fingerprint of ca_file, proxy, timeout and connect_to, and for
 * SMTP of the component's server and login): a handle whose settings
 * a reload changed is dropped, and with it every connection opened
 * under the old settings.  The CA bundle file is the process's,
 * written under http_mu.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "http.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "log.h"
#include "metrics.h"

/* One thread's handles, all made under the settings fp names. */
struct http_tls {
	uint64_t		 fp;		/* upstream settings, 0: none yet */
	struct curl_slist	*connect_to;	/* owned: the handles point here */
	CURLM			*m;		/* owned: http_run_all's */
	CURL			*pool[LIM_UP_PARALLEL]; /* owned: m's */
};

static __thread struct http_tls	 tls;		/* this thread's */

/* An idle handle of http_run's, with its kept connection. */
struct http_conn {
	CURL			*h;		/* owned */
	uint64_t		 fp;		/* the settings it was made for */
	struct curl_slist	*ct;		/* owned: h's CONNECT_TO list */
};

static pthread_mutex_t		 conn_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_conn		 conn_idle[LIM_THREADS]; /* under conn_mu */
static size_t			 conn_nidle;	/* under conn_mu */

/*
 * SMTP handles idle between messages, the process's (not a thread's:
 * the next message of a burst may land on another worker, and should
 * find the connection the last one left open), under conn_mu.  Each
 * handle's CURLOPT_PRIVATE is its struct http_conn (owned by it).
 */
#define SMTP_IDLE	16
static CURL			*smtp_idle[SMTP_IDLE]; /* owned, under conn_mu */
static size_t			 smtp_nidle;	/* under conn_mu */

/* The CA bundle: one file per process, rebuilt when ca_file changes. */
static pthread_mutex_t		 http_mu = PTHREAD_MUTEX_INITIALIZER;
static char			*http_bundle;	/* owned, under http_mu */
static uint64_t			 http_bundle_fp; /* under http_mu */
static pthread_once_t		 http_once = PTHREAD_ONCE_INIT;

static void
http_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/*
 * libcurl's global init is not thread-safe: main calls this before
 * any thread starts; later calls only find it done.
 */
void
http_global_init(void)
{
	pthread_once(&http_once, http_init_once);
}

/* FNV-1a over s and a separator, onto h. */
static uint64_t
fnv(uint64_t h, const char *s)
{
	if (s != NULL)
		for (; *s != '\0'; s++) {
			h ^= (unsigned char)*s;
			h *= 1099511628211ULL;
		}
	h ^= 0xff;
	h *= 1099511628211ULL;
	return h;
}

/*
 * The fingerprint of what every upstream connection depends on: the
 * trust store (ca_file's path, size and time), the proxy, the timeout,
 * connect_to.  Never 0.
 */
uint64_t
http_fingerprint(const struct conf *c)
{
	struct stat	 st;
	uint64_t	 h = 14695981039346656037ULL;
	char		 n[64];
	size_t		 i;

	h = fnv(h, c->ca_file);
	if (c->ca_file != NULL && stat(c->ca_file, &st) == 0) {
		snprintf(n, sizeof(n), "%lld.%lld.%ld", (long long)st.st_size,
		    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		h = fnv(h, n);
	}
	h = fnv(h, c->proxy);
	snprintf(n, sizeof(n), "%ld", c->timeout_ms);
	h = fnv(h, n);
	h = fnv(h, c->state_dir);
	for (i = 0; c->connect_to != NULL &&
	    i < json_object_array_length(c->connect_to); i++)
		h = fnv(h, json_object_get_string(json_object_array_get_idx(
		    c->connect_to, i)));
	return h != 0 ? h : 1;
}

/* More of a fingerprint: s onto h. */
uint64_t
http_fingerprint_add(uint64_t h, const char *s)
{
	h = fnv(h, s);
	return h != 0 ? h : 1;
}

/* Drops every handle of this thread, and their connections. */
static void
tls_drop(void)
{
	size_t	 i;

	for (i = 0; i < LIM_UP_PARALLEL; i++) {
		curl_easy_cleanup(tls.pool[i]);
		tls.pool[i] = NULL;
	}
	curl_multi_cleanup(tls.m);
	tls.m = NULL;
	curl_slist_free_all(tls.connect_to);
	tls.connect_to = NULL;
	tls.fp = 0;
}

/*
 * This thread's handles for c: when c's upstream settings are not the
 * ones they were made for, they are dropped (with their connections)
 * and made again on use.
 */
static void
tls_for(const struct conf *c)
{
	uint64_t	 fp = http_fingerprint(c);
	size_t		 i;

	if (tls.fp == fp)
		return;
	if (tls.fp != 0)
		log_debug("upstream settings changed: this thread's "
		    "connections are closed");
	tls_drop();
	tls.fp = fp;
	for (i = 0; c->connect_to != NULL &&
	    i < json_object_array_length(c->connect_to); i++)
		tls.connect_to = curl_slist_append(tls.connect_to,
		    json_object_get_string(json_object_array_get_idx(
		    c->connect_to, i)));
}

/* A thread's end: its handles and connections. */
void
http_thread_end(void)
{
	tls_drop();
}

static void
conn_free(struct http_conn *cn)
{
	curl_easy_cleanup(cn->h);
	curl_slist_free_all(cn->ct);
	memset(cn, 0, sizeof(*cn));
}

/* An SMTP handle and what it owns (its CURLOPT_PRIVATE). */
static void
smtp_free(CURL *h)
{
	struct http_conn	*cn = NULL;

	if (h == NULL)
		return;
	curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&cn);
	if (cn != NULL) {
		conn_free(cn);
		free(cn);
	} else
		curl_easy_cleanup(h);
}

void
http_global_free(void)
{
	tls_drop();
	pthread_mutex_lock(&conn_mu);
	while (conn_nidle > 0)
		conn_free(&conn_idle[--conn_nidle]);
	while (smtp_nidle > 0)
		smtp_free(smtp_idle[--smtp_nidle]);
	pthread_mutex_unlock(&conn_mu);
	pthread_mutex_lock(&http_mu);
	free(http_bundle);
	http_bundle = NULL;
	http_bundle_fp = 0;
	pthread_mutex_unlock(&http_mu);
	curl_global_cleanup();
}

static size_t
http_write(char *p, size_t sz, size_t n, void *arg)
{
	struct buf	*b = arg;

	/* A short count makes libcurl fail with CURLE_WRITE_ERROR. */
	if (buf_add(b, p, sz * n) == -1)
		return 0;
	return sz * n;
}

/*
 * Keeps an answer's Retry-After (delay-seconds; an HTTP date is read
 * as no hint), which the spool honours before retrying.
 */
static size_t
http_header(char *p, size_t sz, size_t n, void *arg)
{
	struct http_call	*hc = arg;
	char			 v[32];
	size_t			 len = sz * n, i, k = 0;
	long long		 secs;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		for (i = 12; i < len && k < sizeof(v) - 1; i++)
			if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' &&
			    p[i] != '\n')
				v[k++] = p[i];
		v[k] = '\0';
		if (num_parse(v, 0, 86400, &secs) == 0)
			hc->retry_after = (long)secs;
	}
	return len;
}

/* Appends the file at path to fd.  Returns 0 or -1. */
static int
append_file(int fd, const char *path)
{
	char	 b[8192];
	ssize_t	 n;
	int	 in, rc = 0;

	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in == -1)
		return -1;
	while ((n = read(in, b, sizeof(b))) > 0)
		if (write(fd, b, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0 || write(fd, "\n", 1) != 1)
		rc = -1;
	close(in);
	return rc;
}

/*
 * The trust store as one file: the system bundle plus ca_file, written
 * once per process under the state directory.  libcurl-gnutls would
 * otherwise read every file of /etc/ssl/certs for each new connection
 * (tens of milliseconds of CPU each), and CAINFO=ca_file alone would
 * replace the system store instead of adding to it.  Built again when
 * ca_file changes (its fingerprint in fp).  Returns 0 with the path in
 * out, or -1 to leave libcurl's defaults.
 */
static int	ca_bundle_locked(const struct conf *, CURL *, uint64_t);

static int
ca_bundle(const struct conf *c, CURL *h, uint64_t fp, char *out,
    size_t outsz)
{
	int	 rc;

	pthread_mutex_lock(&http_mu);
	rc = ca_bundle_locked(c, h, fp);
	if (rc == 0)
		str_copy(out, http_bundle, outsz);
	pthread_mutex_unlock(&http_mu);
	return rc;
}

static int
ca_bundle_locked(const struct conf *c, CURL *h, uint64_t fp)
{
	char		 tmp[LIM_PATH], path[LIM_PATH];
	char		*sys = NULL;
	int		 fd;

	if (http_bundle != NULL && http_bundle_fp == fp)
		return 0;
	if (curl_easy_getinfo(h, CURLINFO_CAINFO, &sys) != CURLE_OK ||
	    sys == NULL)
		sys = (char *)(uintptr_t)"/etc/ssl/certs/ca-certificates.crt";
	if (snprintf(path, sizeof(path), "%s/ca-bundle.pem", c->state_dir) >=
	    (int)sizeof(path) || snprintf(tmp, sizeof(tmp),
	    "%s/.ca-bundle.%ld", c->state_dir, (long)getpid()) >=
	    (int)sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	if ((append_file(fd, sys) == -1 && c->ca_file == NULL) ||
	    (c->ca_file != NULL && append_file(fd, c->ca_file) == -1) ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		log_warnx("%s: cannot build %s, using libcurl's CA store",
		    __func__, path);
		unlink(tmp);
		return -1;
	}
	free(http_bundle);
	http_bundle = xstrdup(path);
	http_bundle_fp = fp;
	return 0;
}

/*
 * A new easy handle with the settings every upstream shares, as this
 * thread's handles were made for them (tls_for).  protos is the
 * allowlist, e.g. "https" or "smtp,smtps".  Caller cleans it up.
 */
static CURL *
http_easy(const struct conf *c, const char *protos, struct curl_slist *ct,
    uint64_t fp)
{
	CURL	*h;
	char	 bundle[LIM_PATH];

	http_global_init();
	h = curl_easy_init();
	if (h == NULL)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protos);
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protos);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_bundle(c, h, fp, bundle, sizeof(bundle)) == 0) {
		curl_easy_setopt(h, CURLOPT_CAINFO, bundle);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	} else if (c->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    c->timeout_ms < 5000 ? c->timeout_ms : 5000L);
	if (c->proxy != NULL)
		curl_easy_setopt(h, CURLOPT_PROXY, c->proxy);
	curl_easy_setopt(h, CURLOPT_CONNECT_TO, ct);
	return h;
}

/*
 * A handle for one call under c's settings: the most recently idle
 * one (its connection the likeliest still open), else a new one.
 * Idle handles of other settings met on the way are dropped.
 */
static int
conn_get(const struct conf *c, struct http_conn *cn)
{
	struct http_conn	 old;
	uint64_t		 fp = http_fingerprint(c);
	size_t			 i;

	pthread_mutex_lock(&conn_mu);
	while (conn_nidle > 0) {
		old = conn_idle[--conn_nidle];
		if (old.fp == fp) {
			pthread_mutex_unlock(&conn_mu);
			*cn = old;
			return 0;
		}
		conn_free(&old);
	}
	pthread_mutex_unlock(&conn_mu);
	memset(cn, 0, sizeof(*cn));
	cn->fp = fp;
	for (i = 0; c->connect_to != NULL &&
	    i < json_object_array_length(c->connect_to); i++)
		cn->ct = curl_slist_append(cn->ct, json_object_get_string(
		    json_object_array_get_idx(c->connect_to, i)));
	if ((cn->h = http_easy(c, "http,https", cn->ct, fp)) == NULL) {
		conn_free(cn);
		return -1;
	}
	return 0;
}

/* Back to the idle stack after a call. */
static void
conn_put(struct http_conn *cn)
{
	pthread_mutex_lock(&conn_mu);
	if (conn_nidle < sizeof(conn_idle) / sizeof(conn_idle[0])) {
		conn_idle[conn_nidle++] = *cn;
		cn = NULL;
	}
	pthread_mutex_unlock(&conn_mu);
	if (cn != NULL)
		conn_free(cn);
}

/*
 * An SMTP handle for c and the server settings fp (the caller's
 * fingerprint of the upstream settings, host, port, TLS and login):
 * the most recently idle one made for them, its connection kept, else
 * a new one; idle ones of other settings met on the way are closed.
 * *fresh says it is new and needs the caller's own options.  Back with
 * http_smtp_put after the message.  NULL on failure.
 */
CURL *
http_smtp_handle(const struct conf *c, uint64_t fp, int *fresh)
{
	struct http_conn	*cn;
	CURL			*h;
	size_t			 i;

	*fresh = 0;
	pthread_mutex_lock(&conn_mu);
	while (smtp_nidle > 0) {
		h = smtp_idle[--smtp_nidle];
		cn = NULL;
		curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&cn);
		if (cn != NULL && cn->fp == fp) {
			pthread_mutex_unlock(&conn_mu);
			return h;
		}
		log_debug("smtp settings changed: a kept connection is "
		    "closed");
		smtp_free(h);
	}
	pthread_mutex_unlock(&conn_mu);
	cn = xcalloc(1, sizeof(*cn));
	cn->fp = fp;
	for (i = 0; c->connect_to != NULL &&
	    i < json_object_array_length(c->connect_to); i++)
		cn->ct = curl_slist_append(cn->ct, json_object_get_string(
		    json_object_array_get_idx(c->connect_to, i)));
	if ((cn->h = http_easy(c, "smtp,smtps", cn->ct,
	    http_fingerprint(c))) == NULL) {
		conn_free(cn);
		free(cn);
		return NULL;
	}
	curl_easy_setopt(cn->h, CURLOPT_PRIVATE, (char *)cn);
	*fresh = 1;
	return cn->h;
}

/* An SMTP handle back to the idle ones, its connection kept. */
void
http_smtp_put(CURL *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&conn_mu);
	if (smtp_nidle < SMTP_IDLE) {
		smtp_idle[smtp_nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&conn_mu);
	smtp_free(h);
}

/* Points h at one call.  Headers are kept in the call until freed. */
void
http_setup(CURL *h, const struct conf *c, struct http_call *hc)
{
	size_t			 i;

	buf_init(&hc->reply, LIM_UP_REPLY);
	hc->err[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, hc->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, hc->err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &hc->reply);
	curl_easy_setopt(h, CURLOPT_PRIVATE, hc);
	hc->retry_after = 0;
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, hc);
	if (hc->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, hc->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)hc->bodylen);
	} else
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	/* A webhook's PUT or PATCH; the shared handle forgets it after. */
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, hc->method != NULL &&
	    strcmp(hc->method, "GET") != 0 && strcmp(hc->method, "POST") != 0 ?
	    hc->method : NULL);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, hc->timeout_ms > 0 ?
	    hc->timeout_ms : c->timeout_ms);
	/* libcurl would add "Expect: 100-continue" to large bodies. */
	hc->hdrs = curl_slist_append(NULL, "Expect:");
	for (i = 0; i < sizeof(hc->headers) / sizeof(hc->headers[0]) &&
	    hc->headers[i] != NULL; i++)
		hc->hdrs = curl_slist_append(hc->hdrs, hc->headers[i]);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hc->hdrs);
}

/*
 * Runs one call on an idle handle of the process (its connection kept
 * for the next call of any thread).  Returns 0 when an HTTP answer came
 * back (any status), -1 on transport failure.
 */
int
http_run(const struct conf *c, struct http_call *hc)
{
	struct http_conn	 cn;
	CURL			*h;

	if (conn_get(c, &cn) == -1) {
		hc->cc = CURLE_FAILED_INIT;
		return -1;
	}
	h = cn.h;
	http_setup(h, c, hc);
	hc->cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &hc->status);
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &hc->secs);
	metrics_upstream(metrics_chan_of(hc->url), hc->secs,
	    hc->cc != CURLE_OK);
	/* The list dies with the call; the handle must not keep it. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_PRIVATE, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	conn_put(&cn);
	return hc->cc == CURLE_OK ? 0 : -1;
}

/*
 * Runs the n calls hc points to at once on this thread's multi handle,
 * at most LIM_UP_PARALLEL in flight: a fan-out (one voice call per
 * person, one SMS call per 200 numbers) then takes about as long as its
 * slowest call.  The multi handle and its easy handles live for the
 * thread so connections are reused across requests.  Each call's
 * cc, status and secs are set as http_run sets them.  Returns how many
 * failed in transport.
 */
size_t
http_run_all(const struct conf *c, struct http_call **hc, size_t n)
{
	CURLM			*m;
	CURL			**pool = tls.pool;
	struct http_call	*busy[LIM_UP_PARALLEL];
	struct http_call	*done;
	CURLMsg			*msg;
	size_t			 next = 0, inflight = 0, i, nfail = 0;
	int			 running, left, freed;

	memset(busy, 0, sizeof(busy));
	/*
	 * The cache would shrink to 4 per handle still added as a fan-out
	 * drains, closing connections the next request wants.
	 */
	tls_for(c);
	if (tls.m == NULL && (tls.m = curl_multi_init()) != NULL)
		curl_multi_setopt(tls.m, CURLMOPT_MAXCONNECTS,
		    (long)LIM_UP_PARALLEL);
	m = tls.m;
	for (i = 0; i < n; i++)
		hc[i]->cc = CURLE_FAILED_INIT;
	while (m != NULL && (next < n || inflight > 0)) {
		for (i = 0; i < LIM_UP_PARALLEL && next < n; i++) {
			if (busy[i] != NULL)
				continue;
			if (pool[i] == NULL &&
			    (pool[i] = http_easy(c, "http,https",
			    tls.connect_to, tls.fp)) == NULL)
				break;
			http_setup(pool[i], c, hc[next]);
			if (curl_multi_add_handle(m, pool[i]) != CURLM_OK) {
				next++;
				continue;
			}
			busy[i] = hc[next++];
			inflight++;
		}
		if (inflight == 0)
			break;
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		freed = 0;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			for (i = 0; i < LIM_UP_PARALLEL; i++)
				if (pool[i] == msg->easy_handle)
					break;
			if (i == LIM_UP_PARALLEL || busy[i] == NULL)
				continue;
			done = busy[i];
			done->cc = msg->data.result;
			curl_easy_getinfo(pool[i], CURLINFO_RESPONSE_CODE,
			    &done->status);
			curl_easy_getinfo(pool[i], CURLINFO_TOTAL_TIME,
			    &done->secs);
			metrics_upstream(metrics_chan_of(done->url),
			    done->secs, done->cc != CURLE_OK);
			curl_multi_remove_handle(m, pool[i]);
			/* The lists die with the call. */
			curl_easy_setopt(pool[i], CURLOPT_HTTPHEADER, NULL);
			curl_easy_setopt(pool[i], CURLOPT_ERRORBUFFER, NULL);
			busy[i] = NULL;
			inflight--;
			freed = 1;
		}
		/* A freed slot with calls waiting is filled at once. */
		if (inflight > 0 && !(freed && next < n) &&
		    curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	}
	/* Only on a multi failure are calls left behind: detach them. */
	for (i = 0; i < LIM_UP_PARALLEL; i++) {
		if (busy[i] == NULL)
			continue;
		curl_multi_remove_handle(m, pool[i]);
		curl_easy_setopt(pool[i], CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(pool[i], CURLOPT_ERRORBUFFER, NULL);
	}
	for (i = 0; i < n; i++)
		if (hc[i]->cc != CURLE_OK)
			nfail++;
	return nfail;
}

void
http_call_free(struct http_call *hc)
{
	buf_free(&hc->reply);
	curl_slist_free_all(hc->hdrs);
	hc->hdrs = NULL;
}

/*
 * The ESB wording of an outgoing failure (contract 4.3), for a message.
 * Never includes the URL or the reply body.
 */
const char *
http_detail(const struct http_call *hc, char *out, size_t outsz)
{
	const char	*t;

	if (hc->cc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(out, outsz, "Third-party system interface response "
		    "time exceeds %.0f seconds", hc->secs > 0 ? hc->secs : 1);
		return out;
	}
	if (hc->cc == CURLE_WRITE_ERROR && hc->reply.over) {
		snprintf(out, outsz, "Third-party system interface response "
		    "is larger than %d bytes", LIM_UP_REPLY);
		return out;
	}
	if (hc->cc != CURLE_OK) {
		snprintf(out, outsz, "%s", curl_easy_strerror(hc->cc));
		return out;
	}
	switch (hc->status) {
	case 500:
		t = "Third-party system internal error";
		break;
	case 502:
		t = "Third-party system Bad Gateway";
		break;
	case 403:
		t = "Third-party system prohibit access to this interface";
		break;
	case 404:
		t = "Third-party system does not find this interface";
		break;
	case 302:
		t = "Third-party system redirects this interface";
		break;
	default:
		t = NULL;
	}
	if (t != NULL)
		snprintf(out, outsz, "Status Code: %ld, Error Message: %s",
		    hc->status, t);
	else if (hc->status != 200)
		snprintf(out, outsz, "Status Code: %ld, Error Message: "
		    "Third-party system interface is abnormal, HTTP %ld",
		    hc->status, hc->status);
	else
		snprintf(out, outsz, "interface response is not the JSON "
		    "format");
	return out;
}

/* Whether a failure was TLS's: ESB answers those with 1306203. */
int
http_is_ssl(CURLcode cc)
{
	switch (cc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
		return 1;
	default:
		return 0;
	}
}
