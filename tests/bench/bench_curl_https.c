/*
 * A floor for the HTTPS rows of tests/bench/pipeline.py: a plain libcurl
 * loop posting a SendSms-shaped request (Tencent Cloud API 3.0's headers,
 * an Authorization of the real length, the body given) over one kept
 * TLS connection per process, as fast as the server answers.  No web
 * server, no FastCGI, no gateway: what one HTTPS call costs on this
 * machine with the same stand-in.
 *
 *	bench_curl_https URL CAFILE CONNECT_TO BODY SECONDS [PROCS]
 *
 * Prints "https loop: N calls in S s: R calls/s (P procs, E failed)",
 * counting only calls answered 200.  Without arguments (make bench runs
 * every bench_* bare) it only says how it is run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bench.h"
#include "bench_tc3.h"

/* What every process posts, and for how long. */
struct run {
	char	**argv;		/* borrowed: URL CAFILE CONNECT_TO BODY at 1-4 */
	double	  secs;
};

/* One process's loop: counts[0] calls answered 200, counts[1] others. */
static void
loop(void *arg, long *counts)
{
	struct run		*r = arg;
	struct bench_tc3	 t;
	double			 end = bench_now() + r->secs;

	if (bench_tc3_init(&t, r->argv[1], r->argv[2], r->argv[3],
	    r->argv[4]) == -1)
		return;
	while (bench_now() < end)
		counts[bench_tc3_call(&t) == 0 ? 0 : 1]++;
	bench_tc3_free(&t);
}

int
main(int argc, char *argv[])
{
	struct run	 r;
	long		 sum[BENCH_COUNTS];
	double		 secs;
	int		 procs = 1;

	if (argc < 6) {
		printf("bench_curl_https: run by tests/bench/pipeline.py "
		    "(URL CAFILE CONNECT_TO BODY SECONDS [PROCS])\n");
		return 0;
	}
	r.argv = argv;
	r.secs = strtod(argv[5], NULL);
	if (argc > 6)
		procs = (int)strtol(argv[6], NULL, 10);
	if (r.secs <= 0 || procs < 1) {
		fprintf(stderr, "bench_curl_https: bad arguments\n");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((secs = bench_procs(procs, loop, &r, sum)) < 0)
		return 1;
	printf("https loop: %ld calls in %.1f s: %.0f calls/s (%d procs, "
	    "%ld failed)\n", sum[0], secs, (double)sum[0] / secs, procs,
	    sum[1]);
	curl_global_cleanup();
	return 0;
}
