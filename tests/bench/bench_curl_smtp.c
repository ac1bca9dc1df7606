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

#include <curl/curl.h>

#include "bench.h"

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

/* What every process sends, and for how long. */
struct run {
	char		**argv;	/* borrowed: URL FROM RCPT at 1, 2, 3 */
	const char	 *p;	/* borrowed: the message */
	size_t		  len;
	double		  secs;
};

/* One process's loop: counts[0] gets the messages the server took. */
static void
loop(void *arg, long *counts)
{
	struct run		*r = arg;
	struct curl_slist	*to;
	struct msg		 m;
	CURL			*h;
	double			 end = bench_now() + r->secs;

	h = curl_easy_init();
	if (h == NULL)
		return;
	to = curl_slist_append(NULL, r->argv[3]);
	curl_easy_setopt(h, CURLOPT_URL, r->argv[1]);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, r->argv[2]);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, to);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, rd);
	curl_easy_setopt(h, CURLOPT_READDATA, &m);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->len);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	while (bench_now() < end) {
		m.p = r->p;
		m.len = r->len;
		m.off = 0;
		if (curl_easy_perform(h) == CURLE_OK)
			counts[0]++;
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(to);
}

int
main(int argc, char *argv[])
{
	struct run	 r;
	char		*p;
	long		 sum[BENCH_COUNTS];
	double		 secs;
	int		 procs = 1;

	if (argc < 6) {
		printf("bench_curl_smtp: run by tests/bench/smtp_bench.py "
		    "(URL FROM RCPT FILE SECONDS [PROCS])\n");
		return 0;
	}
	r.argv = argv;
	r.len = 0;
	r.secs = strtod(argv[5], NULL);
	if (argc > 6)
		procs = (int)strtol(argv[6], NULL, 10);
	if ((p = slurp(argv[4], &r.len)) == NULL || r.secs <= 0 ||
	    procs < 1) {
		fprintf(stderr, "bench_curl_smtp: bad arguments or file\n");
		return 1;
	}
	r.p = p;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((secs = bench_procs(procs, loop, &r, sum)) < 0)
		return 1;
	printf("curl loop: %ld messages in %.1f s: %.0f msg/s (%d procs)\n",
	    sum[0], secs, (double)sum[0] / secs, procs);
	curl_global_cleanup();
	free(p);
	return 0;
}
