/*
 * cmsi.fcgi: BlueKing's CMSI message API as a FastCGI responder.
 *
 *	cmsi.fcgi [-t] [-c conf] [-s unix:/path | -s 127.0.0.1:port]
 *	cmsi.fcgi --drain [-c conf]
 *
 * Spawned by lighttpd (bin-path) or mod_fcgid, the listening socket is
 * fd 0; with -s it opens its own; under systemd socket activation it
 * takes fd 3.  Everything is loaded and checked before the accept loop,
 * and a request can never end the process.
 */
#include <errno.h>
#include <pthread.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <libxml/parser.h>

#include "about.h"
#include "auth.h"
#include "check.h"
#include "console/console.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/request.h"
#include "core/tmplset.h"
#include "handlers.h"
#include "lib/util.h"
#include "named.h"
#include "ops.h"
#include "preflight.h"
#include "route.h"
#include "state/redis.h"
#include "state/retain.h"
#include "state/rspool.h"
#include "state/spool.h"
#include "unconf.h"
#include "users.h"
#include "v1.h"

/*
 * One loaded configuration.  A request takes the live one when it
 * starts and keeps it to its end, so a reload never changes the
 * settings under a request in flight; the last request to let go of
 * a replaced one frees it.
 */
struct snap {
	struct conf	*conf;		/* owned */
	int		 refs;		/* under snap_mu */
};

static pthread_mutex_t	 snap_mu = PTHREAD_MUTEX_INITIALIZER;
static struct snap	*snap_cur;	/* owned, under snap_mu: the live one */
/* One reload at a time; conf_st is its. */
static pthread_mutex_t	 reload_mu = PTHREAD_MUTEX_INITIALIZER;
static const char	*conf_path;	/* borrowed: argv or env */
static struct stat	 conf_st;	/* under reload_mu: the file last read */
static volatile sig_atomic_t stopping;
static pthread_mutex_t	 rspool_mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * The worker pool.  Every worker accepts for itself (FCGX_Accept_r is
 * safe from many threads at once: the kernel gives each connection to
 * one waiting accept) and serves what it accepted, so a request never
 * changes threads: no hand-off, no wake-up of a second thread, and its
 * memory is freed where it was allocated.  One worker starts; more are
 * started only when requests wait: when, at a tick of the main thread,
 * a connection waits in the listening socket, no worker waits in
 * accept and none has accepted since the last tick, the pool doubles.
 * A quick request (get_msg_type, a mail into the outbox, an SMS to a
 * near upstream) keeps a worker so short a time that one serves them
 * in turn, as a process would, without waking another thread for
 * each; a slow upstream stalls the workers and the pool grows to as
 * many as wait on it.  A process that never sees two requests at once
 * (mod_fcgid) runs one.  A worker done with a request that finds
 * another already waiting in accept waits on pool.idle instead, so
 * once a burst is over one worker accepts again, not every worker in
 * turn (the kernel wakes accept's waiters in order: a thread woken per
 * request); the tick wakes idle ones before it starts new ones.
 * At most workers.threads serve; one more worker then only accepts:
 * it queues up to workers.queue requests for the next worker that
 * finishes and answers the one beyond busy at once, so no caller waits
 * in an unbounded line.  That worker first leaves a caller in the
 * socket for OVERFLOW_GRACE_MS (overflow_wait): where several
 * processes share one socket (spawn-fcgi -F, multiwatch) another one
 * may have workers free, and it takes the caller instead.
 */
#define OVERFLOW_GRACE_MS	100
struct slot {
	FCGX_Request	 fr;
	struct slot	*next;		/* borrowed: in the free list or queue */
};

/*
 * Every worker holds one slot (to accept into, or the queued request it
 * took), every queued request one: threads + 1 + queue are enough.
 */
struct pool {
	pthread_mutex_t	 mu;		/* every field below */
	struct slot	*slots;		/* owned: threads + 1 + queue */
	size_t		 nslots;
	struct slot	*free;		/* borrowed: unused slots */
	struct slot	*head, *tail;	/* borrowed: accepted, not yet served */
	size_t		 queued;	/* on that queue */
	size_t		 maxqueue;	/* workers.queue */
	pthread_t	*tids;		/* owned: nthreads started */
	long		 nthreads;	/* started */
	long		 maxthreads;	/* workers.threads */
	long		 serving;	/* workers in a request */
	long		 waiting;	/* workers in accept */
	long		 alive;		/* workers not ended */
	unsigned long	 accepts;	/* requests accepted, ever */
	pthread_cond_t	 idle;		/* idle workers wait here */
	long		 nidle;		/* waiting there */
	long		 wake;		/* asked to accept: pool_grow */
};

static struct pool	 pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER,
};

/* The live configuration, held until snap_put. */
static struct snap *
snap_get(void)
{
	struct snap	*s;

	pthread_mutex_lock(&snap_mu);
	s = snap_cur;
	s->refs++;
	pthread_mutex_unlock(&snap_mu);
	return s;
}

static void
snap_put(struct snap *s)
{
	int	 last;

	pthread_mutex_lock(&snap_mu);
	last = --s->refs == 0;
	pthread_mutex_unlock(&snap_mu);
	if (last) {
		conf_free(s->conf);
		free(s);
	}
}

/* Makes c the live configuration; the old one goes with its last user. */
static void
snap_set(struct conf *c)
{
	struct snap	*s = xcalloc(1, sizeof(*s)), *old;

	s->conf = c;
	s->refs = 1;
	pthread_mutex_lock(&snap_mu);
	old = snap_cur;
	snap_cur = s;
	pthread_mutex_unlock(&snap_mu);
	if (old != NULL)
		snap_put(old);
}

/*
 * The stop signals (and SIGUSR2, which wakes a worker from accept) are
 * blocked in every thread: the main thread takes the stop signals with
 * sigwait, and the workers are never interrupted in the middle of a
 * request (libfcgi does not retry a read or write cut by a signal).
 * A worker lets SIGUSR2 in only while it waits in accept().
 */
static sigset_t	 stopsigs;	/* SIGTERM, SIGINT, SIGUSR1 */
static sigset_t	 wakesig;	/* SIGUSR2 */

static void
on_wake(int sig)
{
	(void)sig;
}

/*
 * No SA_RESTART on SIGUSR2: it must interrupt accept() so the loop
 * ends, as libfcgi's accept loop expects once FCGX_ShutdownPending
 * was called.  SIGUSR1 is what multiwatch and mod_fcgid's graceful
 * paths send.
 */
static void
signals_init(void)
{
	struct sigaction	 sa;
	sigset_t		 all;

	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGUSR1);
	sigemptyset(&wakesig);
	sigaddset(&wakesig, SIGUSR2);
	all = stopsigs;
	sigaddset(&all, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_wake;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/*
 * -s unix:/path (mode 0660: only the web server's group may talk
 * FastCGI to us) or -s host:port.  A port without a host would make
 * libfcgi bind every address, so it is refused.
 */
static int
listen_on(const char *spec)
{
	mode_t	 old;
	int	 fd;

	if (strncmp(spec, "unix:", 5) == 0)
		spec += 5;
	else if (spec[0] == ':')
		fatalx("-s %s: name the address, e.g. 127.0.0.1%s", spec, spec);
	old = umask(0117);
	fd = FCGX_OpenSocket(spec, 128);
	umask(old);
	if (fd < 0)
		fatalx("cannot listen on %s", spec);
	return fd;
}

/*
 * systemd socket activation: the socket arrives as fd 3 (so does our
 * own -s socket when an unconfigured process starts again).  Returns
 * whether it did.
 */
static int
listen_fds(void)
{
	const char	*fds = getenv("LISTEN_FDS");
	const char	*pid = getenv("LISTEN_PID");
	long long	 n, p;

	if (fds == NULL || pid == NULL ||
	    num_parse(fds, 1, 1, &n) == -1 ||
	    num_parse(pid, 1, 0x7fffffff, &p) == -1 || (pid_t)p != getpid())
		return 0;
	if (dup2(3, 0) == 0)
		close(3);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	return 1;
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec	 t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Live configuration: before each request, one stat of the file; when
 * it changed (the console renames a new file in; an editor writes it),
 * it is loaded and checked as at startup and becomes the live snapshot
 * for the requests that start after it; a request in flight keeps the
 * one it started with.  One thread reloads at a time (the others carry
 * on with the live one meanwhile).  A file that does not pass keeps
 * the last good configuration running, with its problems in the log
 * and on the console; it is not read again until it changes again.
 * Schemas, wx_callback_path and workers are read at startup only;
 * templates reload when the console saves one (tmplset_refresh).
 */
static void
conf_refresh(void)
{
	struct stat	 st;
	struct conf	*c;
	int		 nbad;

	if (pthread_mutex_trylock(&reload_mu) != 0)
		return;
	if (stat(conf_path, &st) == -1 || !file_changed(&st, &conf_st))
		goto out;
	conf_st = st;
	c = conf_load(conf_path, &nbad);
	if (c == NULL) {
		log_warnx("%s: %d problem%s, the last good configuration "
		    "stays", conf_path, nbad, nbad == 1 ? "" : "s");
		page_broken(conf_problems());
		goto out;
	}
	snap_set(c);
	page_broken(NULL);
	log_info("%s: reloaded", conf_path);
out:
	pthread_mutex_unlock(&reload_mu);
}

/*
 * Serves one request: front line (body, /metrics, console, v1), the
 * route, its pipeline (route_serve), the envelope, one log line.
 * Always answers.
 */
static void
serve(FCGX_Request *fr)
{
	struct snap		*sn;
	const struct conf	*conf;
	struct req		 r;
	struct reply		 rp;
	struct ident		 id;
	struct timespec		 t0;
	const struct route	*rt = NULL;
	const char		*name;
	json_object		*creds = NULL, *params = NULL;
	int			 st, v1 = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	conf_refresh();
	(void)tmplset_refresh();
	sn = snap_get();
	conf = sn->conf;
	reply_init(&rp);
	memset(&id, 0, sizeof(id));
	st = req_read(&r, fr, conf->max_body);
	if (st != 0) {
		env_status(fr->out, st, st == 413 ? "Request body is too "
		    "large" : "Request body is incomplete");
		log_info("%s %s %s status=%d", r.id, r.method, r.path, st);
		goto out;
	}
	/* The operator's /metrics and /healthz. */
	if (ops_match(r.path)) {
		st = ops_serve(conf, fr, &r);
		log_info("%s %s %s status=%d", r.id, r.method, r.path, st);
		goto out;
	}
	if (console_match(conf, r.path)) {
		console_serve(conf, fr, &r);
		log_info("%s %s %s console ms=%ld", r.id, r.method, r.path,
		    ms_since(&t0));
		goto out;
	}
	/* The bk-cmsi v1 dialect: an adapter onto the same components. */
	if (v1_match(r.path)) {
		name = v1_serve(conf, fr, &r, &id, &rp);
		v1 = 1;
		goto logged;
	}
	rt = route_match(r.method, r.path);
	if (rt == NULL) {
		env_status(fr->out, 404, "The content does not exist");
		log_info("%s %s %s status=404", r.id, r.method, r.path);
		goto out;
	}
	/* Gate, authenticate, validate, deliver: route.c's pipeline. */
	route_serve(conf, rt, &r, &id, &rp, &creds, &params);
	env_write(fr->out, &rp, r.id);
	name = rt->name;
logged:
	metrics_request(name, v1, rp.code, rp.status);
	log_info("%s app=%s component=%s result=%s code=%ld ms=%ld", r.id,
	    *id.app_code != '\0' ? id.app_code : "-", name,
	    rp.result ? "true" : "false", rp.code, ms_since(&t0));
out:
	json_object_put(params);
	json_object_put(creds);
	reply_free(&rp);
	req_free(&r);
	snap_put(sn);
}

/*
 * --drain: one bounded pass over the spool from cron or a timer, for
 * hours without requests; prints what expired and what it did.
 */
static int
drain_now(const char *path, struct conf *conf)
{
	int	 n, k;

	if (redis_on() && (k = rspool_drain(conf, 1000, stdout)) >= 0)
		printf("%s: %d attempt(s) from redis\n", path, k);
	n = spool_drain(conf, 1000, 300000, stdout);
	retain_run(conf, 1);
	if (n == -1)
		printf("%s: spool busy (another drain) or unreadable\n", path);
	else
		printf("%s: %d attempt(s) made\n", path, n);
	users_free();
	tmplset_free();
	check_free();
	http_global_free();
	redis_free();
	conf_free(conf);
	return n == -1 ? 1 : 0;
}

/*
 * An unconfigured process (unconf.c) serves one request at a time in
 * libfcgi's own loop: there a stop signal only has to end accept().
 * A stop that lands between the loop's test and accept() would wait
 * for one more connection, so SIGALRM comes every second once stopping.
 */
static void
on_stop(int sig)
{
	if (sig != SIGALRM)
		stopping = 1;
	if (stopping) {
		FCGX_ShutdownPending();
		alarm(1);
	}
}

static void
signals_plain(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* A process started again by unconf.c inherits a blocked mask. */
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGUSR1);
	sigaddset(&sa.sa_mask, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
}

/*
 * The FastCGI socket: -s, systemd's, or the one the server spawned us
 * on (fd 0).  pooled: the worker pool's signals, else the plain loop's.
 */
static int
listener(const char *sock, int pooled)
{
	if (pooled)
		signals_init();
	else
		signals_plain();
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	if (listen_fds())
		return 0;
	if (sock != NULL)
		return listen_on(sock);
	if (FCGX_IsCGI())
		fatalx("fd 0 is no listening socket: start me from a FastCGI "
		    "server, spawn-fcgi or systemd, or use -s unix:/path");
	return 0;
}

/*
 * Ends the request.  libfcgi's close shuts down its side and then waits
 * (up to 2 s) for the web server to hang up, reading whatever still
 * comes, so that input arriving after close() cannot make the kernel
 * reset the connection and lose the answer.  That wait holds the worker
 * for a turn of the web server's event loop on every request.  Once the
 * request's input has been read to its end record nothing more can
 * arrive, and the worker closes at once; otherwise (a body refused
 * unread, a broken stream) libfcgi drains and waits as before.  A kept
 * connection (FCGI_KEEP_CONN) is not closed here (see keep_next).
 */
static void
finish(FCGX_Request *fr)
{
	if (!fr->keepConnection && FCGX_GetChar(fr->in) == EOF &&
	    FCGX_HasSeenEOF(fr->in) == EOF && FCGX_GetError(fr->in) == 0)
		FCGX_Detach(fr);
	FCGX_Finish_r(fr);
}

/*
 * After a request: the spool's turn, if due.  Both files hold whole
 * seconds and a retry waits at least one, so one thread of the process
 * looks at them once a second, not every request.
 */
static void
after_request(void)
{
	static time_t	 swept;	/* atomic: the second of the last look */
	struct snap	*sn;
	time_t		 now = time(NULL);

	if (__atomic_exchange_n(&swept, now, __ATOMIC_RELAXED) != now) {
		sn = snap_get();
		if (spool_due(sn->conf))
			spool_drain(sn->conf, LIM_SPOOL_BATCH, LIM_SPOOL_MS,
			    NULL);
		if (retain_due(sn->conf))
			retain_run(sn->conf, 0);
		snap_put(sn);
	}
	/*
	 * The stream knows this process as one consumer (host:pid): two
	 * of its threads draining at once would each take the other's
	 * entries as their own, so one at a time.
	 */
	if (rspool_due() && pthread_mutex_trylock(&rspool_mu) == 0) {
		sn = snap_get();
		rspool_drain(sn->conf, LIM_SPOOL_BATCH, NULL);
		snap_put(sn);
		pthread_mutex_unlock(&rspool_mu);
	}
}

/* What a thread leaves behind: its connections and its caches. */
static void
thread_end(void)
{
	redis_thread_end();
	tmplset_thread_end();
	conf_thread_end();
}

/*
 * After a request on a kept connection (nginx fastcgi_keep_conn,
 * Apache enablereuse): the next request on it, read by this worker,
 * if one comes within KEEP_IDLE_MS; else the connection is closed and
 * the web server opens another.  Never accept(): with no listening
 * socket in the request, libfcgi cannot fall back to one when the
 * connection ends.  Returns 1 with the next request read, else 0 with
 * the slot's connection closed.
 */
#define KEEP_IDLE_MS	2000
static int
keep_next(FCGX_Request *fr)
{
	struct pollfd	 pfd;
	int		 waited, ls, rc;

	if (fr->ipcFd < 0)
		return 0;
	pfd.fd = fr->ipcFd;
	pfd.events = POLLIN;
	for (waited = 0; waited < KEEP_IDLE_MS; waited += 100) {
		if (__atomic_load_n(&stopping, __ATOMIC_RELAXED))
			break;
		if ((rc = poll(&pfd, 1, 100)) != 0)
			break;
	}
	if (waited >= KEEP_IDLE_MS ||
	    __atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
		FCGX_Free(fr, 1);
		return 0;
	}
	ls = fr->listen_sock;
	fr->listen_sock = -1;
	rc = FCGX_Accept_r(fr);
	fr->listen_sock = ls;
	if (rc < 0) {
		FCGX_Free(fr, 1);
		return 0;
	}
	return 1;
}

static void	*worker(void *);
static void	 busy(FCGX_Request *);

/*
 * One request and those that follow on its connection if the web
 * server keeps it, then the spool's turn.  Called with pool.mu held
 * and serving counted; returns with it held, uncounted.
 */
static void
run(struct slot *sl)
{
	pthread_mutex_unlock(&pool.mu);
	do {
		serve(&sl->fr);
		finish(&sl->fr);
	} while (keep_next(&sl->fr));
	after_request();
	pthread_mutex_lock(&pool.mu);
	pool.serving--;
}

/* Starts one more worker; pool.mu held. */
static void
spawn(void)
{
	pthread_t	 t;
	int		 rc;

	if ((rc = pthread_create(&t, NULL, worker, NULL)) != 0) {
		/* The others carry on; callers wait in the backlog. */
		log_warnx("cannot start a worker: %s", strerror(rc));
		return;
	}
	pool.tids[pool.nthreads++] = t;
	pool.alive++;
}

/* Whether a connection waits in the listening socket fd, within ms. */
static int
pending(int fd, int ms)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1 && (pfd.revents & POLLIN);
}

/*
 * Every worker serving: what this one accepts can only be queued or
 * refused.  Another process on the same socket may have a worker
 * free, or start one at its next tick (10 ms while none of its own
 * waits in accept): a caller this one took from the socket would wait
 * in its queue, or be told busy, while that process idled (measured
 * behind nginx with two processes under multiwatch, 256 callers to a
 * 200 ms upstream: one process answered 5,738 busy while the other
 * served a quarter of the calls).  So it stays out of accept() until a
 * caller has been left in the socket OVERFLOW_GRACE_MS, or a worker
 * here is free again, or the pool stops.  Returns 1 when it should
 * take what waits.
 */
static int
overflow_wait(int fd)
{
	struct timespec		 grace = { 0, OVERFLOW_GRACE_MS * 1000000L };
	int			 full;

	for (;;) {
		if (__atomic_load_n(&stopping, __ATOMIC_RELAXED))
			return 0;
		pthread_mutex_lock(&pool.mu);
		full = pool.serving >= pool.maxthreads;
		pthread_mutex_unlock(&pool.mu);
		if (!full)
			return 0;
		/* Bounded: the stop is seen within 100 ms. */
		if (!pending(fd, 100))
			continue;
		nanosleep(&grace, NULL);
		if (pending(fd, 0))
			return 1;
	}
}

/*
 * A worker: a queued request first, if a worker may take it; else it
 * accepts, and serves, queues or refuses what came, until a stop.
 * SIGUSR2 reaches it only while it waits in accept().  The one that
 * would only queue or refuse first waits in overflow_wait, then takes
 * what is left in the socket until it is empty (overdue).
 */
static void *
worker(void *arg)
{
	struct slot	*sl, *q;
	int		 rc, woken = 0, overdue = 0;

	(void)arg;
	pthread_mutex_lock(&pool.mu);
	sl = pool.free;
	pool.free = sl->next;
	for (;;) {
		if ((q = pool.head) != NULL && pool.serving < pool.maxthreads) {
			if ((pool.head = q->next) == NULL)
				pool.tail = NULL;
			pool.queued--;
			pool.serving++;
			/* Its own idle slot back: a worker holds one slot. */
			sl->next = pool.free;
			pool.free = sl;
			sl = q;
			run(sl);
			continue;
		}
		if (__atomic_load_n(&stopping, __ATOMIC_RELAXED))
			break;
		if (pool.waiting > 0 && !woken) {
			pool.nidle++;
			while (pool.wake == 0 &&
			    !__atomic_load_n(&stopping, __ATOMIC_RELAXED))
				pthread_cond_wait(&pool.idle, &pool.mu);
			pool.nidle--;
			if (pool.wake > 0) {
				pool.wake--;
				woken = 1;
			}
			continue;
		}
		if (pool.serving >= pool.maxthreads && !overdue) {
			pthread_mutex_unlock(&pool.mu);
			overdue = overflow_wait(sl->fr.listen_sock);
			pthread_mutex_lock(&pool.mu);
			continue;
		}
		overdue = 0;
		woken = 0;
		pool.waiting++;
		pthread_mutex_unlock(&pool.mu);
		pthread_sigmask(SIG_UNBLOCK, &wakesig, NULL);
		rc = FCGX_Accept_r(&sl->fr);
		pthread_sigmask(SIG_BLOCK, &wakesig, NULL);
		pthread_mutex_lock(&pool.mu);
		pool.waiting--;
		if (rc < 0)
			break;
		pool.accepts++;
		if (pool.serving < pool.maxthreads) {
			pool.serving++;
			run(sl);
		} else if (pool.queued < pool.maxqueue) {
			sl->next = NULL;
			if (pool.tail != NULL)
				pool.tail->next = sl;
			else
				pool.head = sl;
			pool.tail = sl;
			pool.queued++;
			sl = pool.free;
			pool.free = sl->next;
			overdue = pending(sl->fr.listen_sock, 0);
		} else {
			pthread_mutex_unlock(&pool.mu);
			busy(&sl->fr);
			overdue = pending(sl->fr.listen_sock, 0);
			pthread_mutex_lock(&pool.mu);
		}
	}
	sl->next = pool.free;
	pool.free = sl;
	pool.alive--;
	pthread_mutex_unlock(&pool.mu);
	thread_end();
	return NULL;
}

/*
 * Every slot is taken: threads serving, queue waiting.  The caller is
 * told at once, in the envelope of the contract's protocol errors and
 * with HTTP 503, which load balancers and SDKs read as "try again".
 */
static void
busy(FCGX_Request *fr)
{
	char	 id[33], sink[8192];
	size_t	 got;
	int	 n;

	/*
	 * The body read to its end (and dropped), so the connection
	 * closes at once instead of libfcgi's wait for the server.
	 */
	for (got = 0; got < LIM_BODY; got += (size_t)n)
		if ((n = FCGX_GetStr(sink, sizeof(sink), fr->in)) <= 0)
			break;
	req_new_id(id);
	(void)env_status(fr->out, 503, "The gateway is busy: every worker "
	    "of this process is serving, please try again later");
	log_warnx("%s %s status=503 busy: %ld serving, the queue is full", id,
	    FCGX_GetParam("REQUEST_URI", fr->envp) != NULL ?
	    FCGX_GetParam("REQUEST_URI", fr->envp) : "-", pool.maxthreads);
	/* Closed even if kept: the worker that only accepts must not
	 * wait on it. */
	fr->keepConnection = 0;
	finish(fr);
}

/*
 * At a tick: whether requests wait for a worker (see struct pool):
 * one waits in the listening socket fd, no worker waits in accept and
 * none accepted since the last tick (*seen).  If so the pool doubles,
 * to workers.threads and the one that only accepts.
 */
static void
pool_grow(int fd, unsigned long *seen)
{
	long		 n;
	int		 stalled;

	pthread_mutex_lock(&pool.mu);
	stalled = pool.waiting == 0 && pool.accepts == *seen &&
	    (pool.nthreads <= pool.maxthreads || pool.nidle > pool.wake);
	*seen = pool.accepts;
	pthread_mutex_unlock(&pool.mu);
	if (!stalled || !pending(fd, 0))
		return;
	pthread_mutex_lock(&pool.mu);
	if (pool.nidle - pool.wake > 0) {
		/* Idle ones first: as many as are busy, at least one. */
		n = pool.nthreads - pool.nidle;
		if (n < 1)
			n = 1;
		if (n > pool.nidle - pool.wake)
			n = pool.nidle - pool.wake;
		pool.wake += n;
		pthread_cond_broadcast(&pool.idle);
	} else
		for (n = pool.nthreads; n > 0 &&
		    pool.nthreads <= pool.maxthreads; n--)
			spawn();
	pthread_mutex_unlock(&pool.mu);
}

/*
 * Serves on fd until a stop signal: threads requests at once, queue
 * more waiting.  The main thread only waits for the signal; then the
 * workers waiting in accept are woken until none is left there, and
 * the others finish what they accepted and what is queued.  Returns
 * the exit status.
 */
static int
pool_run(int fd, long threads, long queue)
{
	struct timespec	 tick = { 0, 100 * 1000000L };
	struct timespec	 busytick = { 0, 10 * 1000000L };
	pthread_t	 t;
	unsigned long	 seen = 0;
	size_t		 i;
	long		 k, left, waiting = 1;
	int		 sig;

	pool.maxthreads = threads;
	pool.maxqueue = (size_t)queue;
	/* A slot per worker to accept into, one per queued request. */
	pool.nslots = (size_t)threads + 1 + (size_t)queue;
	pool.slots = xcalloc(pool.nslots, sizeof(*pool.slots));
	pool.tids = xcalloc((size_t)threads + 1, sizeof(*pool.tids));
	for (i = 0; i < pool.nslots; i++) {
		if (FCGX_InitRequest(&pool.slots[i].fr, fd, 0) != 0)
			fatalx("FCGX_InitRequest failed");
		pool.slots[i].next = pool.free;
		pool.free = &pool.slots[i];
	}
	pthread_mutex_lock(&pool.mu);
	spawn();
	left = pool.alive;
	pthread_mutex_unlock(&pool.mu);
	if (left == 0)
		fatalx("cannot start a worker");
	/*
	 * The tick: 100 ms while a worker waits in accept (nothing to
	 * grow for), 10 ms while none does (a request may be waiting).
	 */
	for (;;) {
		sig = sigtimedwait(&stopsigs, NULL, waiting > 0 ? &tick :
		    &busytick);
		if (sig > 0)
			break;
		/* Every worker ended: the socket is gone. */
		pthread_mutex_lock(&pool.mu);
		left = pool.alive;
		waiting = pool.waiting;
		pthread_mutex_unlock(&pool.mu);
		if (left == 0)
			break;
		pool_grow(fd, &seen);
	}
	__atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
	FCGX_ShutdownPending();
	/*
	 * A wake that lands before a worker is back in accept() is lost,
	 * so it comes again every 100 ms until none waits there.
	 */
	for (;;) {
		pthread_mutex_lock(&pool.mu);
		pthread_cond_broadcast(&pool.idle);
		left = pool.waiting;
		for (k = 0; left > 0 && k < pool.nthreads; k++)
			pthread_kill(pool.tids[k], SIGUSR2);
		pthread_mutex_unlock(&pool.mu);
		if (left == 0)
			break;
		nanosleep(&tick, NULL);
	}
	/* A worker starts others only before it ends: joined in order,
	 * every one started is seen. */
	for (k = 0;; k++) {
		pthread_mutex_lock(&pool.mu);
		if (k >= pool.nthreads) {
			pthread_mutex_unlock(&pool.mu);
			break;
		}
		t = pool.tids[k];
		pthread_mutex_unlock(&pool.mu);
		pthread_join(t, NULL);
	}
	for (i = 0; i < pool.nslots; i++)
		FCGX_Free(&pool.slots[i].fr, 1);
	free(pool.slots);
	free(pool.tids);
	return 0;
}

static void __attribute__((__noreturn__))
usage(void)
{
	about_usage(stderr);
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct conf	*conf;
	const char	*path, *sock = NULL, *import = NULL;
	const char	*importer = "import";	/* --user: History's name */
	char		 why[LIM_MESSAGE / 2], beside[LIM_PATH];
	long		 threads, queue;
	int		 ch, test = 0, fd, nbad, drain = 0, rc;
	static const struct option longopts[] = {
		{ "drain",	no_argument,	NULL,	'D' },
		{ "help",	no_argument,	NULL,	'h' },
		{ "version",	no_argument,	NULL,	'V' },
		{ "import",	required_argument, NULL, 'I' },
		{ "user",	required_argument, NULL, 'U' },
		{ NULL,		0,		NULL,	0 }
	};

	if (argc == 2 && strcmp(argv[1], "--hash-password") == 0)
		return console_hash_password();
	/* Before any load or drain: the modules' config checks, and how
	 * a retry finds its handler. */
	preflight_register();
	spool_lookup(route_handler);
	path = getenv("CMSI_CONF");
	if (path == NULL || *path == '\0')
		path = conf_default(argv[0], beside, sizeof(beside));
	while ((ch = getopt_long(argc, argv, "c:hs:t", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			drain = 1;
			break;
		case 'c':
			path = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'h':
			about_usage(stdout);
			return 0;
		case 'V':
			about_version();
			return 0;
		case 'I':
			import = optarg;
			break;
		case 'U':
			importer = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (importer != NULL && strcmp(importer, "import")
	    != 0 && import == NULL))
		usage();

	/*
	 * A server holds its stop signals from here on: one that comes
	 * while it starts (seconds under a sanitizer) waits for the pool's
	 * sigtimedwait, or for on_stop once a 503 worker installs it, and
	 * the process still ends cleanly instead of dying half started.
	 */
	if (!test && !drain && import == NULL)
		signals_init();
	conf_path = path;
	if (stat(path, &conf_st) == -1)
		memset(&conf_st, 0, sizeof(conf_st));
	conf = conf_load(path, &nbad);
	if (conf == NULL) {
		fprintf(stderr, "%s: %d problem%s, not started\n", path, nbad,
		    nbad == 1 ? "" : "s");
		if (test || drain || import != NULL)
			return 1;
		snprintf(why, sizeof(why), "%s: %.*s", path,
		    (int)strcspn(conf_problems(), "\n"), conf_problems());
		return unconf_serve(listener(sock, 0), why, path, argv);
	}
	log_init("cmsi", conf->verbose);
	if (import != NULL) {
		nbad = cimport_run(conf, import, importer, stdin);
		conf_free(conf);
		return nbad;
	}
	if (test) {
		nbad = preflight_test(conf);
		conf_free(conf);
		return nbad;
	}
	if (preflight_start(conf, why, sizeof(why)) == -1) {
		fprintf(stderr, "%s: %s, not started\n", path, why);
		if (drain)
			return 1;
		return unconf_serve(listener(sock, 0), why, path, argv);
	}
	redis_setup(conf);
	/*
	 * The libraries' one-time setup, before any thread: libcurl's
	 * global init is not thread-safe, and libxml2 sets itself up on
	 * first use unless told first (GnuTLS does so as it loads).
	 */
	http_global_init();
	xmlInitParser();
	/* Shared counters; off (and /healthz says so) if they cannot be. */
	if (metrics_open(conf->state_dir, why, sizeof(why)) == -1 &&
	    why[0] != '\0')
		log_warn("%s", why);
	if (drain)
		return drain_now(path, conf);

	threads = conf->threads;
	queue = conf->queue >= 0 ? conf->queue : conf->threads;
	snap_set(conf);
	fd = listener(sock, 1);
	log_info("ready (pid %ld, config %s, %ld threads, queue %ld)",
	    (long)getpid(), path, threads, queue);
	rc = pool_run(fd, threads, queue);
	log_info("clean exit");
	thread_end();
	redis_free();
	users_free();
	tmplset_free();
	check_free();
	http_global_free();
	snap_put(snap_cur);
	snap_cur = NULL;
	page_broken(NULL);
	return rc;
}
