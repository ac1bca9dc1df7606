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
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "about.h"
#include "auth.h"
#include "check.h"
#include "core/conf.h"
#include "console/console.h"
#include "core/envelope.h"
#include "handlers.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "ops.h"
#include "preflight.h"
#include "named.h"
#include "state/redis.h"
#include "core/request.h"
#include "state/retain.h"
#include "state/rspool.h"
#include "route.h"
#include "state/spool.h"
#include "tmplset.h"
#include "unconf.h"
#include "users.h"
#include "lib/util.h"
#include "v1.h"

static volatile sig_atomic_t	 stopping;
static struct conf		*conf;		/* owned: process scope */
static const char		*conf_path;	/* borrowed: argv or env */
static struct stat		 conf_st;	/* the file as last read */

/*
 * A stop signal that lands between the loop's test and accept() finds
 * accept() not yet waiting: it would wait for one more connection.  So
 * once stopping, SIGALRM comes every second and interrupts accept()
 * until libfcgi sees the shutdown.  SIGALRM is held with the others
 * during a request, so it never cuts one short.
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

static sigset_t	 stopsigs;	/* SIGTERM, SIGINT, SIGUSR1, SIGALRM */

/*
 * No SA_RESTART: a stop signal must interrupt accept() so the loop ends
 * after the request in flight, as libfcgi's own accept loop expects.
 * SIGUSR1 is what multiwatch and mod_fcgid's graceful paths send.
 */
static void
signals_init(void)
{
	struct sigaction	 sa;

	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGUSR1);
	sigaddset(&stopsigs, SIGALRM);
	memset(&sa, 0, sizeof(sa));
	sa.sa_mask = stopsigs;
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
}

/*
 * libfcgi does not retry a read or write cut by a signal, so a stop
 * signal landing while a body is read or an answer written would lose
 * the request.  Stop signals are held from accept to finish and
 * delivered on release, where they end the loop.
 */
static void
signals_hold(int hold)
{
	sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &stopsigs, NULL);
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
 * it is loaded and checked as at startup and replaces the running one
 * between requests, so no request sees half of each.  A file that does
 * not pass keeps the last good configuration running, with its
 * problems in the log and on the console; it is not read again until
 * it changes again.  Schemas and wx_callback_path are read at startup
 * only; templates reload when the console saves one (tmplset_refresh).
 */
static void
conf_refresh(void)
{
	struct stat	 st;
	struct conf	*c;
	int		 nbad;

	if (stat(conf_path, &st) == -1 || !file_changed(&st, &conf_st))
		return;
	conf_st = st;
	c = conf_load(conf_path, &nbad);
	if (c == NULL) {
		log_warnx("%s: %d problem%s, the last good configuration "
		    "stays", conf_path, nbad, nbad == 1 ? "" : "s");
		console_broken(conf_problems());
		return;
	}
	conf_free(conf);
	conf = c;
	console_broken(NULL);
	log_info("%s: reloaded", conf_path);
}

/*
 * Serves one request: front line, route, credentials, auth, schema,
 * handler, envelope, one log line.  Always answers.
 */
static void
serve(FCGX_Request *fr)
{
	struct req		 r;
	struct reply		 rp;
	struct ident		 id;
	struct ctx		 cx;
	struct timespec		 t0;
	const struct route	*rt = NULL;
	const char		*name;
	json_object		*creds = NULL, *params = NULL;
	int			 st, v1 = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	conf_refresh();
	(void)tmplset_refresh();
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
	if (rt->flags & ROUTE_RAW) {
		/* WeChat signs with wx_token; the handler checks that. */
		route_ctx(&cx, rt, conf, &r, &id);
		rt->hnd(&cx, &rp);
		goto answer;
	}
	if (!conf_enabled(conf_comp(conf, rt->name))) {
		/* ESB's channel with is_active off: before anything else. */
		reply_fail(&rp, CODE_INACTIVE, "Not found, inactive channel");
		rp.no_request_id = 1;
		goto answer;
	}
	req_parse(&r);
	creds = auth_creds(&r, &rp);
	if (creds == NULL)
		goto answer;
	if (r.bad_json) {
		reply_fail(&rp, CODE_COMMON, "Request JSON string is wrong in "
		    "format, which cannot be analyzed.");
		goto answer;
	}
	if ((rt->flags & ROUTE_AUTH) &&
	    auth_check(conf, &r, creds, &id, &rp) == -1) {
		/* Which check failed, in the contract's words (no secret). */
		log_info("%s auth refused: %s", r.id, rp.message);
		goto answer;
	}
	if (named_apply(rt->name, r.params, &rp) == -1 ||
	    check_params(rt->name, r.params, &params, &rp) == -1)
		goto answer;
	route_ctx(&cx, rt, conf, &r, &id);
	cx.params = params;
	route_run(rt, &cx, &rp);
answer:
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
}

/*
 * --drain: one bounded pass over the spool from cron or a timer, for
 * hours without requests; prints what expired and what it did.
 */
static int
drain_now(const char *path)
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
 * The FastCGI socket: -s, systemd's, or the one the server spawned us
 * on (fd 0).
 */
static int
listener(const char *sock)
{
	signals_init();
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
 * connection (FCGI_KEEP_CONN) is not closed here at all, and libfcgi
 * would carry the mark over to a later request on it: none there.
 */
static void
finish(FCGX_Request *fr)
{
	if (!fr->keepConnection && FCGX_GetChar(fr->in) == EOF &&
	    FCGX_HasSeenEOF(fr->in) == EOF && FCGX_GetError(fr->in) == 0)
		FCGX_Detach(fr);
	FCGX_Finish_r(fr);
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
	FCGX_Request	 fr;
	const char	*path, *sock = NULL, *import = NULL;
	const char	*importer = "import";	/* --user: History's name */
	char		 why[LIM_MESSAGE / 2], beside[LIM_PATH];
	int		 ch, test = 0, fd, nbad, drain = 0;
	time_t		 now, swept = 0; /* the second of the last spool look */
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
		return unconf_serve(listener(sock), why, path, argv);
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
		return unconf_serve(listener(sock), why, path, argv);
	}
	redis_setup(conf);
	http_global_init();
	/* Shared counters; off (and /healthz says so) if they cannot be. */
	(void)metrics_open(conf->state_dir);
	if (drain)
		return drain_now(path);

	fd = listener(sock);
	if (FCGX_InitRequest(&fr, fd, 0) != 0)
		fatalx("FCGX_InitRequest failed");
	log_info("ready (pid %ld, config %s)", (long)getpid(), path);
	while (!stopping && FCGX_Accept_r(&fr) >= 0) {
		signals_hold(1);
		serve(&fr);
		finish(&fr);
		/*
		 * The caller has its answer: now the spool's turn, if due.
		 * Both files hold whole seconds and a retry waits at least
		 * one, so they are looked at once a second, not per request.
		 */
		if ((now = time(NULL)) != swept) {
			swept = now;
			if (spool_due(conf))
				spool_drain(conf, LIM_SPOOL_BATCH,
				    LIM_SPOOL_MS, NULL);
			if (retain_due(conf))
				retain_run(conf, 0);
		}
		if (rspool_due())
			rspool_drain(conf, LIM_SPOOL_BATCH, NULL);
		signals_hold(0);
	}
	FCGX_Free(&fr, 1);
	log_info("clean exit");
	redis_free();
	users_free();
	tmplset_free();
	check_free();
	http_global_free();
	conf_free(conf);
	console_broken(NULL);
	return 0;
}
