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

/* The parts of a TC3 call that are the same for every call. */
static const char *const hdrs[] = {
	"Expect:",
	"Content-Type: application/json; charset=utf-8",
	"Host: sms.tencentcloudapi.com",
	"X-TC-Action: SendSms",
	"X-TC-Version: 2021-01-11",
	"X-TC-Region: ap-guangzhou",
	"X-TC-Timestamp: 1796263442",
	"Authorization: TC3-HMAC-SHA256 Credential=AKIDcmsibench/2026-12-03/"
	    "sms/tc3_request, SignedHeaders=content-type;host;x-tc-action, "
	    "Signature=00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff",
};

/* The answer is read and dropped; its size is counted. */
static size_t
wr(char *p, size_t sz, size_t n, void *arg)
{
	size_t	*got = arg;

	(void)p;
	*got += sz * n;
	return sz * n;
}

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
	char			**argv = r->argv;
	struct curl_slist	*to, *hl = NULL;
	CURL			*h;
	double			 end = bench_now() + r->secs;
	size_t			 i, got;
	long			 status;

	if ((h = curl_easy_init()) == NULL)
		return;
	to = curl_slist_append(NULL, argv[3]);
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
		hl = curl_slist_append(hl, hdrs[i]);
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_CAINFO, argv[2]);
	curl_easy_setopt(h, CURLOPT_CONNECT_TO, to);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, argv[4]);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(argv[4]));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, wr);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	while (bench_now() < end) {
		got = 0;
		status = 0;
		if (curl_easy_perform(h) == CURLE_OK &&
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) ==
		    CURLE_OK && status == 200 && got > 0)
			counts[0]++;
		else
			counts[1]++;
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hl);
	curl_slist_free_all(to);
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
