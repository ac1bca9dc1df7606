/*
 * The floor for the send_mail benchmark: a plain libcurl loop sending
 * one message file again and again over one kept SMTP connection per
 * process, as fast as the sink answers.  tests/bench/smtp_bench.py runs
 * it beside the gateway against the same sink with the same bytes.
 *
 *	bench_curl_smtp URL FROM RCPT FILE SECONDS [PROCS]
 *
 * Prints "curl loop: N messages in S s: R msg/s (P procs)".  Without
 * arguments (make bench runs every bench_* bare) it only says how it is
 * run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

/* The message being read by libcurl. */
struct msg {
	const char	*p;	/* borrowed: the file's bytes */
	size_t		 len;
	size_t		 off;	/* bytes handed over so far */
};

static size_t
rd(char *buf, size_t sz, size_t n, void *arg)
{
	struct msg	*m = arg;
	size_t		 want = sz * n;

	if (want > m->len - m->off)
		want = m->len - m->off;
	memcpy(buf, m->p + m->off, want);
	m->off += want;
	return want;
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*p = NULL;
	long	 n;

	if (f == NULL || fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) == -1)
		goto out;
	p = malloc((size_t)n + 1);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	if (f != NULL)
		fclose(f);
	return p;
}

/* One process's loop.  Returns the messages the server took. */
static long
loop(const char *url, const char *from, const char *rcpt, const char *p,
    size_t len, double secs)
{
	struct curl_slist	*to;
	struct msg		 m;
	CURL			*h;
	double			 end = now() + secs;
	long			 sent = 0;

	h = curl_easy_init();
	if (h == NULL)
		return 0;
	to = curl_slist_append(NULL, rcpt);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, to);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, rd);
	curl_easy_setopt(h, CURLOPT_READDATA, &m);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	while (now() < end) {
		m.p = p;
		m.len = len;
		m.off = 0;
		if (curl_easy_perform(h) == CURLE_OK)
			sent++;
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(to);
	return sent;
}

int
main(int argc, char *argv[])
{
	char		*p;
	size_t		 len = 0;
	double		 secs, t0;
	long		 total = 0, n;
	int		 procs = 1, i, fds[2], st;
	pid_t		 pid;

	if (argc < 6) {
		printf("bench_curl_smtp: run by tests/bench/smtp_bench.py "
		    "(URL FROM RCPT FILE SECONDS [PROCS])\n");
		return 0;
	}
	secs = strtod(argv[5], NULL);
	if (argc > 6)
		procs = (int)strtol(argv[6], NULL, 10);
	if ((p = slurp(argv[4], &len)) == NULL || secs <= 0 || procs < 1 ||
	    pipe(fds) == -1) {
		fprintf(stderr, "bench_curl_smtp: bad arguments or file\n");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	t0 = now();
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) == -1)
			return 1;
		if (pid == 0) {
			close(fds[0]);
			n = loop(argv[1], argv[2], argv[3], p, len, secs);
			if (write(fds[1], &n, sizeof(n)) != sizeof(n))
				_exit(1);
			_exit(0);
		}
	}
	close(fds[1]);
	while (read(fds[0], &n, sizeof(n)) == sizeof(n))
		total += n;
	while (wait(&st) > 0)
		;
	secs = now() - t0;
	printf("curl loop: %ld messages in %.1f s: %.0f msg/s (%d procs)\n",
	    total, secs, (double)total / secs, procs);
	curl_global_cleanup();
	free(p);
	return 0;
}
