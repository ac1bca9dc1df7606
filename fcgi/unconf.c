/*
 * A process that cannot start still answers.  Spawned by the web server
 * (mod_fcgid, lighttpd) a worker that exits is spawned again and again,
 * and the caller only sees the server's HTML 500 or 503; instead every
 * request gets ESB's envelope, HTTP 503, code 1306000, message
 * "cmsi.fcgi is not configured: <reason>", and the log names the
 * problem once at start and on each request.  After each request one
 * stat of the config file: once it changed and loads, the process
 * executes itself again (same socket, same arguments) and starts for
 * real.  What failed may also be outside the file (a state directory
 * the process could not write, a secret file, the templates), fixed
 * without touching it: so every UNCONF_RETRY_S seconds, requests or
 * none, the whole start is tried again quietly, and a start that
 * passes executes itself the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "check.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/log.h"
#include "core/request.h"
#include "core/tmplset.h"
#include "lib/limits.h"
#include "preflight.h"
#include "unconf.h"

/* Seconds between quiet retries of the whole start. */
#define UNCONF_RETRY_S	5

static volatile sig_atomic_t	unconf_stop;	/* a stop signal came */

/*
 * Stops as main's loop does (libfcgi's shutdown flag); SIGALRM only
 * interrupts accept() so a retry is due without a request.
 */
static void
on_signal(int sig)
{
	if (sig != SIGALRM) {
		unconf_stop = 1;
		FCGX_ShutdownPending();
	}
}

static void
signals_own(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
}

/* Seconds on a clock no one sets back. */
static time_t
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Whether the file changed since st was taken (st is updated). */
static int
changed(const char *path, struct stat *st)
{
	struct stat	 now;

	if (stat(path, &now) == -1)
		memset(&now, 0, sizeof(now));
	if (now.st_ino == st->st_ino && now.st_size == st->st_size &&
	    now.st_mtim.tv_sec == st->st_mtim.tv_sec &&
	    now.st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
	    now.st_ctim.tv_sec == st->st_ctim.tv_sec &&
	    now.st_ctim.tv_nsec == st->st_ctim.tv_nsec)
		return 0;
	*st = now;
	return 1;
}

/* Whether the file now loads; its problems go to the log if not. */
static int
loads(const char *path)
{
	struct conf	*c;

	c = conf_load(path, NULL);
	if (c == NULL)
		return 0;
	conf_free(c);
	return 1;
}

/*
 * Whether a start would pass now: the file loads and the rest of the
 * start (schemas, templates, state directory) passes.  Quiet: the
 * problems were logged at start, and a retry every few seconds would
 * repeat them; stderr is pointed at /dev/null meanwhile.
 */
static int
starts(const char *path)
{
	struct conf	*c;
	char		 why[256];
	int		 ok = 0, saved, null;

	fflush(stderr);
	saved = dup(2);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved == -1 || null == -1 || dup2(null, 2) == -1)
		goto out;
	/* What the failed start loaded goes first: check_init adds. */
	tmplset_free();
	check_free();
	c = conf_load(path, NULL);
	if (c != NULL) {
		ok = preflight_start(c, why, sizeof(why)) == 0;
		conf_free(c);
	}
	tmplset_free();
	check_free();
	fflush(stderr);
out:
	if (saved != -1) {
		(void)dup2(saved, 2);
		(void)close(saved);
	}
	if (null != -1)
		(void)close(null);
	return ok;
}

/* Starts again in place, the listening socket fd going along. */
static void
restart(int fd, char *const argv[])
{
	char	 pid[24];

	/*
	 * The listening socket goes along, so no caller waiting in its
	 * queue is lost: fd 0 as it is, our own (-s) as fd 3 by socket
	 * activation's rules.
	 */
	if (fd != 0 && dup2(fd, 3) == 3) {
		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", pid, 1);
	}
	execv("/proc/self/exe", argv);
	log_warn("cannot start again");
}

/*
 * Serves the failure on listening socket fd until stopped.  reason is
 * what failed, path the config file, argv the process's arguments for
 * the restart.  Returns the exit status.
 */
int
unconf_serve(int fd, const char *reason, const char *path,
    char *const argv[])
{
	FCGX_Request	 fr;
	struct reply	 rp;
	struct stat	 st;
	char		 id[33], sink[8192];
	const char	*uri;
	size_t		 got;
	time_t		 tried;		/* the last retry of the start */
	int		 n, rc;

	log_warnx("not configured, every request gets 503: %s", reason);
	if (stat(path, &st) == -1)
		memset(&st, 0, sizeof(st));
	signals_own();
	/* accept() must give way to SIGALRM, for the retry. */
	if (FCGX_InitRequest(&fr, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		fatalx("FCGX_InitRequest failed");
	tried = mono();
	while (!unconf_stop) {
		/*
		 * Due with requests or without: steady traffic must not
		 * keep putting the retry off.
		 */
		if (mono() - tried >= UNCONF_RETRY_S) {
			tried = mono();
			if (starts(path)) {
				log_info("%s: starts now, starting again",
				    path);
				restart(fd, argv);
			}
		}
		alarm(UNCONF_RETRY_S);
		rc = FCGX_Accept_r(&fr);
		alarm(0);
		if (unconf_stop)
			break;
		if (rc == -EINTR)
			continue;
		if (rc < 0)
			break;
		/* The body read (and dropped): a server may wait to send it. */
		for (got = 0; got < LIM_BODY; got += (size_t)n)
			if ((n = FCGX_GetStr(sink, sizeof(sink), fr.in)) <= 0)
				break;
		req_new_id(id);
		uri = FCGX_GetParam("REQUEST_URI", fr.envp);
		reply_init(&rp);
		reply_fail(&rp, CODE_COMMON, "cmsi.fcgi is not configured: %s",
		    reason);
		rp.status = 503;
		(void)env_write(fr.out, &rp, id);
		reply_free(&rp);
		log_warnx("%s %s status=503 not configured: %s", id,
		    uri != NULL ? uri : "-", reason);
		FCGX_Finish_r(&fr);
		if (changed(path, &st) && loads(path)) {
			log_info("%s: loads now, starting again", path);
			restart(fd, argv);
		}
	}
	FCGX_Free(&fr, 1);
	return 1;
}
