#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/limits.h"
#include "lib/util.h"
#include "log.h"
#include "metrics.h"

static const char	*log_ident = "cmsi";	/* borrowed: a literal */
static int		 log_verbose;

void
log_init(const char *ident, int verbose)
{
	log_ident = ident;
	log_verbose = verbose;
}

/*
 * Formats one record and writes it with a single write(2), so lines of
 * several worker processes sharing stderr never interleave.
 */
static void
log_emit(const char *level, const char *fmt, va_list ap, const char *err)
{
	char		 raw[LIM_LOG_LINE], line[LIM_LOG_LINE * 2];
	static pid_t	 pid;	/* atomic */
	pid_t		 me;
	char		 when[32];
	struct timespec	 ts;
	size_t		 i, n;
	int		 len;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	/*
	 * ISO 8601 in UTC, to the millisecond: under Apache and spawn-fcgi
	 * stderr reaches a file with no time of its own.
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	utc_fmt(ts.tv_sec, UTC_LOG, when, sizeof(when));
	/* The process never forks, so its pid is asked for once. */
	if ((me = __atomic_load_n(&pid, __ATOMIC_RELAXED)) == 0) {
		me = getpid();
		__atomic_store_n(&pid, me, __ATOMIC_RELAXED);
	}
	len = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld] %s ", when,
	    ts.tv_nsec / 1000000, log_ident, (long)me, level);
	if (len < 0)
		return;
	n = (size_t)len;
	for (i = 0; raw[i] != '\0' && n + 5 < sizeof(line); i++) {
		unsigned char	 c = (unsigned char)raw[i];

		if (c < 0x20 || c == 0x7f || c == '\\') {
			len = snprintf(line + n, sizeof(line) - n,
			    "\\x%02x", c);
			n += (size_t)len;
		} else
			line[n++] = (char)c;
	}
	if (err != NULL && n + 3 < sizeof(line)) {
		len = snprintf(line + n, sizeof(line) - n, ": %s", err);
		if (len > 0)
			n += (size_t)len < sizeof(line) - n ?
			    (size_t)len : sizeof(line) - n - 1;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* Nothing sensible is left to do if stderr is gone. */
	if (write(STDERR_FILENO, line, n) == -1)
		return;
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("info", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit("debug", fmt, ap, NULL);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("warn", fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit("warn", fmt, ap, strerror(saved));
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

/* The audit log's descriptor and its writes: one thread at a time. */
static pthread_mutex_t	 audit_mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * The audit log's descriptor (under audit_mu), kept between requests while the path
 * still names the file it was opened on (one stat instead of an open
 * and a close): a log rotated, removed or replaced is opened again at
 * once, so no record goes to a file nobody will read.  Returns the
 * descriptor or -1.
 */
static int
audit_fd(const char *path)
{
	static int	 fd = -1;
	static char	 open_path[LIM_PATH];
	static dev_t	 dev;
	static ino_t	 ino;
	struct stat	 st;

	if (fd != -1 && strcmp(path, open_path) == 0 &&
	    stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
		return fd;
	if (fd != -1)
		close(fd);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return fd = -1;
	}
	snprintf(open_path, sizeof(open_path), "%s", path);
	dev = st.st_dev;
	ino = st.st_ino;
	return fd;
}

/*
 * Appends one JSON line to <dir>/audit.log.  O_APPEND and a single
 * write keep records of concurrent workers whole.  Returns 0 or -1.
 */
int
log_audit(const char *dir, json_object *rec)
{
	char		 path[LIM_PATH];
	const char	*s;
	char		*line = NULL;
	size_t		 n;
	ssize_t		 w;
	int		 fd, rc = -1;

	if (snprintf(path, sizeof(path), "%s/audit.log", dir) >=
	    (int)sizeof(path))
		goto out;
	s = json_object_to_json_string_ext(rec,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(s);
	line = xmalloc(n + 1);
	memcpy(line, s, n);
	line[n++] = '\n';
	/*
	 * The lock keeps another thread from reopening (closing) the
	 * descriptor under this write; the write itself is whole anyway.
	 */
	pthread_mutex_lock(&audit_mu);
	if ((fd = audit_fd(path)) == -1) {
		pthread_mutex_unlock(&audit_mu);
		log_warn("%s: open %s", __func__, path);
		goto out;
	}
	w = write(fd, line, n);
	pthread_mutex_unlock(&audit_mu);
	if (w != (ssize_t)n) {
		log_warn("%s: write %s", __func__, path);
		goto out;
	}
	rc = 0;
out:
	/* Counted, and /healthz unhealthy for a while: never silent. */
	if (rc == -1)
		metrics_audit_failed();
	free(line);
	return rc;
}

/*
 * A new audit record with what every record carries: the time (UTC),
 * the request_id and the component.  Caller adds the rest and puts it.
 */
json_object *
log_audit_record(const char *request_id, const char *component)
{
	json_object	*rec;
	char		 ts[32];

	utc_fmt(time(NULL), UTC_ISO, ts, sizeof(ts));
	rec = json_object_new_object();
	json_object_object_add(rec, "ts", json_object_new_string(ts));
	json_object_object_add(rec, "request_id",
	    json_object_new_string(request_id));
	json_object_object_add(rec, "component",
	    json_object_new_string(component));
	return rec;
}
