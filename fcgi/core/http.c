/*
 * Shared libcurl setup for every HTTPS upstream: certificates always
 * verified (ca_file only adds trust), timeouts, CONNECT_TO for tests and
 * split-horizon setups, an optional proxy, replies read under a cap.
 *
 * Threads: every HTTP(S) call of the process, single or part of a
 * fan-out, runs on the process's one curl multi handle (xfer_m):
 * HTTP/2 over TLS (ALPN) with multiplexing, so
 * calls in flight to one host share one or a few connections instead of
 * one each (libcurl-gnutls parses the whole trust store, ~3.8 MiB and
 * milliseconds of CPU, for each new connection).  An HTTP/1.1 upstream
 * still gets one connection per call in flight, up to
 * upstream.max_host_connections.  A worker thread sets up an easy handle
 * (from the process's idle stack) and queues it under xfer_mu.  Then
 * one waiting caller at a time drives the multi handle for everyone
 * (xfer_drive: perform, poll, finish the calls that ended) until a
 * call of its own ends, and hands the wheel to another waiting caller;
 * the others wait on their own condition variables.  A lone call is
 * driven by its own caller, as a plain easy perform would be: no
 * second thread is woken for it.  The multi handle and the easy
 * handles in it are only ever touched by the driver.  SMTP cannot
 * multiplex: its handles
 * sit idle on a stack of the process's between messages (each keeping
 * its connection), and a message takes the most recent one made for
 * its settings.  Every handle and the multi handle are
 * made for one set of upstream settings (a fingerprint of ca_file,
 * proxy, timeout, connect_to and the connection limits, and for SMTP of
 * the component's server and login): when a call comes with other
 * settings, the driver lets the calls in flight end, then
 * replaces the multi handle, closing every connection opened under the
 * old settings.  The CA bundle file is the process's, written under
 * http_mu.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "http.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "log.h"
#include "metrics.h"


/* An idle easy handle of the process, made for one set of settings. */
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

/* A caller waiting for its calls. */
struct xfer_waiter {
	pthread_cond_t		 cv;		/* signalled under xfer_mu */
	struct xfer_waiter	*next;		/* borrowed: xfer_waiters */
};

/* One call on the multi handle; lives on its caller's stack. */
struct xfer_job {
	struct xfer_job		*next;		/* borrowed: queue or run list */
	struct xfer_job		*prev;		/* borrowed: run list only */
	CURL			*h;		/* borrowed: the caller's */
	struct http_call	*hc;		/* borrowed: the caller's */
	struct xfer_waiter	*w;		/* borrowed: whom to wake */
	uint64_t		 fp;		/* its settings */
	long			 maxhost;	/* the multi's limits for fp */
	long			 maxconn;
	long			 timeout_ms;	/* the call's */
	struct timespec		 deadline;	/* caller's: then cancel */
	int			 cancel;	/* under xfer_mu */
	int			 done;		/* under xfer_mu */
};

/*
 * The multi handle and what its callers share.  Everything but xfer_m's
 * use is under xfer_mu; xfer_m itself (and the easy handles added to
 * it) only the driver uses, except curl_multi_wakeup, which libcurl
 * allows from any thread and callers make under xfer_mu so the handle
 * is never replaced meanwhile.
 */
static pthread_mutex_t		 xfer_mu = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
static int			 xfer_driving;	/* a caller drives xfer_m */
static struct xfer_waiter	*xfer_waiters;	/* borrowed: the others */
static CURLM			*xfer_m;	/* owned */
static uint64_t			 xfer_mfp;	/* xfer_m's settings, 0 none */
static struct xfer_job		*xfer_qhead;	/* waiting, FIFO */
static struct xfer_job		*xfer_qtail;
static struct xfer_job		*xfer_run;	/* added to xfer_m */
static size_t			 xfer_nrun;
static size_t			 xfer_ncancel;	/* cancels not yet seen */

static void	xfer_end(void);
static int	xfer_mine(struct xfer_job *, int *, size_t);

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
	snprintf(n, sizeof(n), "%ld.%ld", c->max_host_conns, c->max_conns);
	h = fnv(h, n);
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
	xfer_end();
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
 * A new easy handle with the settings every upstream shares, made for
 * the settings fingerprint fp.  protos is the
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
	/*
	 * HTTP/2 when the server offers it (ALPN), and a new call waits for
	 * a connection still being made to say whether it multiplexes
	 * rather than opening one more.
	 */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
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
 * A new multi handle for the settings of job j: HTTP/2 multiplexing,
 * and the connection limits of its config.  The driver, xfer_mu held,
 * nothing added to the old one.
 */
static int
xfer_multi(const struct xfer_job *j)
{
	CURLM	*m;

	if ((m = curl_multi_init()) == NULL)
		return -1;
	if (xfer_mfp != 0)
		log_debug("upstream settings changed: the process's "
		    "connections are closed");
	curl_multi_cleanup(xfer_m);
	xfer_m = m;
	xfer_mfp = j->fp;
	curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	/*
	 * libcurl's own cap of 100 streams per connection would open a
	 * connection for each call beyond it in a burst (a connection
	 * being made is not waited for until it says it multiplexes): the
	 * server's limit (SETTINGS_MAX_CONCURRENT_STREAMS, nginx 128) is
	 * the one that counts.
	 */
	curl_multi_setopt(m, CURLMOPT_MAX_CONCURRENT_STREAMS, LIM_UP_STREAMS);
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, j->maxhost);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, j->maxconn);
	return 0;
}

/* Job j is over: its caller may go on.  xfer_mu held. */
static void
xfer_finish(struct xfer_job *j)
{
	j->done = 1;
	pthread_cond_broadcast(&j->w->cv);
}

/* A cancelled call's verdict, as libcurl's own timeout reads. */
static void
xfer_timedout(struct xfer_job *j, const char *how)
{
	j->hc->cc = CURLE_OPERATION_TIMEDOUT;
	j->hc->secs = (double)j->timeout_ms / 1000;
	snprintf(j->hc->err, sizeof(j->hc->err), "%s", how);
}

static void
xfer_unlink(struct xfer_job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		xfer_run = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	xfer_nrun--;
}

/*
 * Moves waiting jobs onto the multi handle, in order: while calls of
 * other settings are in flight the queue waits for them to end, then
 * the multi handle is made again for its head.  Cancelled jobs are
 * finished.  The driver, xfer_mu held.
 */
static void
xfer_admit(void)
{
	struct xfer_job	*j, *n, *p;

	if (xfer_ncancel > 0) {
		xfer_ncancel = 0;
		for (j = xfer_run; j != NULL; j = n) {
			n = j->next;
			if (!j->cancel)
				continue;
			curl_multi_remove_handle(xfer_m, j->h);
			xfer_unlink(j);
			xfer_timedout(j, "cancelled: no answer in time");
			xfer_finish(j);
		}
		/* Waiting ones too, wherever they are in the queue. */
		for (p = NULL, j = xfer_qhead; j != NULL; j = n) {
			n = j->next;
			if (!j->cancel) {
				p = j;
				continue;
			}
			if (p != NULL)
				p->next = n;
			else
				xfer_qhead = n;
			if (xfer_qtail == j)
				xfer_qtail = p;
			xfer_timedout(j, "cancelled: never started");
			xfer_finish(j);
		}
	}
	while ((j = xfer_qhead) != NULL) {
		if (j->fp != xfer_mfp) {
			if (xfer_nrun > 0)
				break;
			if (xfer_multi(j) == -1)
				break;
		}
		xfer_qhead = j->next;
		if (xfer_qhead == NULL)
			xfer_qtail = NULL;
		if (j->cancel) {
			xfer_timedout(j, "cancelled: never started");
			xfer_finish(j);
			continue;
		}
		if (curl_multi_add_handle(xfer_m, j->h) != CURLM_OK) {
			j->hc->cc = CURLE_FAILED_INIT;
			xfer_finish(j);
			continue;
		}
		j->prev = NULL;
		j->next = xfer_run;
		if (xfer_run != NULL)
			xfer_run->prev = j;
		xfer_run = j;
		xfer_nrun++;
	}
}

/* The calls that ended: their callers may go on.  xfer_mu held. */
static void
xfer_reap(void)
{
	struct xfer_job	*j;
	CURLMsg		*msg;
	CURL		*h;
	int		 left;

	while ((msg = curl_multi_info_read(xfer_m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		h = msg->easy_handle;
		j = NULL;
		if (curl_easy_getinfo(h, CURLINFO_PRIVATE, &j) != CURLE_OK ||
		    j == NULL)
			continue;
		j->hc->cc = msg->data.result;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &j->hc->status);
		curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &j->hc->secs);
		curl_multi_remove_handle(xfer_m, h);
		xfer_unlink(j);
		xfer_finish(j);
	}
}

/* Milliseconds from now to ts, 0 if past. */
static long
ms_until(const struct timespec *ts)
{
	struct timespec	 now;
	long long	 ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(ts->tv_sec - now.tv_sec) * 1000 +
	    (ts->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 1000 ? 1000 : (long)ms;
}

/*
 * Drives the multi handle for every caller until one of the caller's
 * own n jobs in js (those not marked in fin) is done or the first of
 * their deadlines passes; then hands the wheel to a waiting caller if
 * calls are left.  xfer_mu held (let go around perform and poll).
 */
static void
xfer_drive(struct xfer_job *js, int *fin, size_t n,
    const struct timespec *first)
{
	int	 running;

	xfer_driving = 1;
	for (;;) {
		xfer_admit();
		pthread_mutex_unlock(&xfer_mu);
		(void)curl_multi_perform(xfer_m, &running);
		pthread_mutex_lock(&xfer_mu);
		xfer_reap();
		xfer_admit();
		if (xfer_mine(js, fin, n) || ms_until(first) == 0)
			break;
		pthread_mutex_unlock(&xfer_mu);
		(void)curl_multi_poll(xfer_m, NULL, 0, (int)ms_until(first),
		    NULL);
		pthread_mutex_lock(&xfer_mu);
	}
	xfer_driving = 0;
	if (xfer_waiters != NULL && (xfer_nrun > 0 || xfer_qhead != NULL))
		pthread_cond_signal(&xfer_waiters->cv);
}

/* Whether one of the n jobs in js not marked in fin is done. */
static int
xfer_mine(struct xfer_job *js, int *fin, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!fin[i] && js[i].done)
			return 1;
	return 0;
}

/*
 * The process's end (no call in flight): closes its connections.
 */
static void
xfer_end(void)
{
	pthread_mutex_lock(&xfer_mu);
	curl_multi_cleanup(xfer_m);
	xfer_m = NULL;
	xfer_mfp = 0;
	pthread_mutex_unlock(&xfer_mu);
}

/*
 * Queues job j for the multi handle, made on first use; a driver in
 * its poll is woken to take it.  Returns 0, or -1 when there is no
 * multi handle.
 */
static int
xfer_submit(struct xfer_job *j)
{
	int	 rc = 0;

	pthread_mutex_lock(&xfer_mu);
	if (xfer_m == NULL && (xfer_m = curl_multi_init()) == NULL) {
		log_warnx("%s: cannot make the multi handle", __func__);
		rc = -1;
		goto out;
	}
	j->next = NULL;
	j->prev = NULL;
	if (xfer_qtail != NULL)
		xfer_qtail->next = j;
	else
		xfer_qhead = j;
	xfer_qtail = j;
	if (xfer_driving)
		curl_multi_wakeup(xfer_m);
out:
	pthread_mutex_unlock(&xfer_mu);
	return rc;
}

/*
 * Waits until at least one of the n jobs in js that are not yet marked
 * in fin is done, and marks every done one in fin: as the driver when
 * no one drives, else on w until a driver finishes one of them or
 * hands over the wheel.  A job past its deadline (the call's timeout
 * and a margin: libcurl's own timeout should have ended it) is
 * cancelled, and ends at the driver's next turn.  Returns how many
 * were marked.
 */
static size_t
xfer_wait(struct xfer_job *js, int *fin, size_t n, struct xfer_waiter *w)
{
	struct xfer_waiter	**wp;
	struct timespec		 now, first;
	size_t			 i, k = 0, open;
	int			 rc;

	pthread_mutex_lock(&xfer_mu);
	for (;;) {
		open = 0;
		first.tv_sec = 0;
		first.tv_nsec = 0;
		for (i = 0; i < n; i++) {
			if (fin[i])
				continue;
			if (js[i].done) {
				fin[i] = 1;
				k++;
				continue;
			}
			if (open++ == 0 || js[i].deadline.tv_sec <
			    first.tv_sec || (js[i].deadline.tv_sec ==
			    first.tv_sec && js[i].deadline.tv_nsec <
			    first.tv_nsec))
				first = js[i].deadline;
		}
		if (k > 0 || open == 0)
			break;
		if (!xfer_driving && ms_until(&first) > 0) {
			xfer_drive(js, fin, n, &first);
			continue;
		}
		rc = 0;
		if (xfer_driving) {
			w->next = xfer_waiters;
			xfer_waiters = w;
			rc = pthread_cond_timedwait(&w->cv, &xfer_mu, &first);
			for (wp = &xfer_waiters; *wp != w; wp = &(*wp)->next)
				continue;
			*wp = w->next;
		}
		if (rc == 0 && ms_until(&first) > 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (i = 0; i < n; i++)
			if (!fin[i] && !js[i].done && !js[i].cancel &&
			    (now.tv_sec > js[i].deadline.tv_sec ||
			    (now.tv_sec == js[i].deadline.tv_sec &&
			    now.tv_nsec >= js[i].deadline.tv_nsec))) {
				js[i].cancel = 1;
				xfer_ncancel++;
			}
		/* Cancelled ones end at the driver's next turn. */
		if (xfer_driving && xfer_m != NULL)
			curl_multi_wakeup(xfer_m);
		for (i = 0; i < n; i++)
			if (!fin[i] && js[i].cancel)
				js[i].deadline.tv_sec = now.tv_sec + 3600;
	}
	/*
	 * A hand-over may have woken this caller just as its own call
	 * ended: passed on, so the calls left never wait without a driver.
	 */
	if (!xfer_driving && xfer_waiters != NULL &&
	    (xfer_nrun > 0 || xfer_qhead != NULL))
		pthread_cond_signal(&xfer_waiters->cv);
	pthread_mutex_unlock(&xfer_mu);
	return k;
}

/* Job j for call hc on handle h, under c's settings, for waiter w. */
static void
xfer_job_init(struct xfer_job *j, const struct conf *c, uint64_t fp,
    CURL *h, struct http_call *hc, struct xfer_waiter *w)
{
	long	 ms = c->timeout_ms + 5000;

	memset(j, 0, sizeof(*j));
	j->h = h;
	j->hc = hc;
	j->w = w;
	j->fp = fp;
	j->maxhost = c->max_host_conns;
	j->maxconn = c->max_conns;
	j->timeout_ms = c->timeout_ms;
	clock_gettime(CLOCK_MONOTONIC, &j->deadline);
	j->deadline.tv_sec += ms / 1000;
	j->deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (j->deadline.tv_nsec >= 1000000000L) {
		j->deadline.tv_sec++;
		j->deadline.tv_nsec -= 1000000000L;
	}
	curl_easy_setopt(h, CURLOPT_PRIVATE, j);
}

/* After a call: the handle forgets the call's lists and buffers. */
static void
call_end(CURL *h, struct http_call *hc)
{
	metrics_upstream(metrics_chan_of(hc->url), hc->secs,
	    hc->cc != CURLE_OK);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_PRIVATE, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
}

/*
 * Runs the n calls hc points to on the multi handle, at most
 * LIM_UP_PARALLEL of them at once: a fan-out (one voice call per
 * person, one SMS call per 200 numbers) then takes about as long as its
 * slowest call.  Each call's cc, status and secs are set.  Returns how
 * many failed in transport.
 */
size_t
http_run_all(const struct conf *c, struct http_call **hc, size_t n)
{
	struct xfer_job		 js[LIM_UP_PARALLEL];
	struct http_conn	 cn[LIM_UP_PARALLEL];
	struct http_call	*busy[LIM_UP_PARALLEL];
	int			 fin[LIM_UP_PARALLEL];
	struct xfer_waiter	 w;
	pthread_condattr_t	 ca;
	size_t			 next = 0, inflight = 0, i, nfail = 0;

	/* Deadlines on the monotonic clock: a clock step moves none. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	memset(busy, 0, sizeof(busy));
	memset(cn, 0, sizeof(cn));
	for (i = 0; i < n; i++)
		hc[i]->cc = CURLE_FAILED_INIT;
	while (next < n || inflight > 0) {
		for (i = 0; i < LIM_UP_PARALLEL && next < n; i++) {
			if (busy[i] != NULL)
				continue;
			if (conn_get(c, &cn[i]) == -1) {
				next++;
				continue;
			}
			http_setup(cn[i].h, c, hc[next]);
			xfer_job_init(&js[i], c, cn[i].fp, cn[i].h, hc[next],
			    &w);
			fin[i] = 0;
			if (xfer_submit(&js[i]) == -1) {
				call_end(cn[i].h, hc[next]);
				conn_put(&cn[i]);
				next++;
				continue;
			}
			busy[i] = hc[next++];
			inflight++;
		}
		if (inflight == 0)
			break;
		/* Slots not in flight count as seen. */
		for (i = 0; i < LIM_UP_PARALLEL; i++)
			if (busy[i] == NULL)
				fin[i] = 1;
		(void)xfer_wait(js, fin, LIM_UP_PARALLEL, &w);
		for (i = 0; i < LIM_UP_PARALLEL; i++) {
			if (busy[i] == NULL || !fin[i])
				continue;
			call_end(cn[i].h, busy[i]);
			conn_put(&cn[i]);
			busy[i] = NULL;
			inflight--;
		}
	}
	pthread_cond_destroy(&w.cv);
	for (i = 0; i < n; i++)
		if (hc[i]->cc != CURLE_OK)
			nfail++;
	return nfail;
}

/*
 * Runs one call on the multi handle.  Returns 0 when an HTTP answer
 * came back (any status), -1 on transport failure.
 */
int
http_run(const struct conf *c, struct http_call *hc)
{
	(void)http_run_all(c, &hc, 1);
	return hc->cc == CURLE_OK ? 0 : -1;
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
