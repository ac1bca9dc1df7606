/*
 * One SendSms-shaped HTTPS call for the bench programs that make it
 * (bench_curl_https.c, bare_fcgi_https.c): Tencent Cloud API 3.0's
 * headers with an Authorization of the real length, the body given,
 * posted on the handle's kept connection.  Header-only, like bench.h.
 */
#ifndef BENCH_TC3_H
#define BENCH_TC3_H

#include <string.h>

#include <curl/curl.h>

/* The parts of a TC3 call that are the same for every call. */
static const char *const bench_tc3_hdrs[] = {
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

/* What one handle needs kept while it is used. */
struct bench_tc3 {
	CURL			*h;	/* owned */
	struct curl_slist	*hl;	/* owned: the headers */
	struct curl_slist	*to;	/* owned: CONNECT_TO */
	size_t			 got;	/* bytes of the last answer */
};

/* The answer is read and dropped; its size is counted. */
static inline size_t
bench_tc3_wr(char *p, size_t sz, size_t n, void *arg)
{
	size_t	*got = arg;

	(void)p;
	*got += sz * n;
	return sz * n;
}

/*
 * Sets t up to post body to url (CA file ca, "HOST:PORT:ADDR:PORT" to
 * connect to instead).  The strings are borrowed for t's life.  Returns
 * 0, or -1 with nothing to free.
 */
static inline int
bench_tc3_init(struct bench_tc3 *t, const char *url, const char *ca,
    const char *connect_to, const char *body)
{
	size_t	 i;

	memset(t, 0, sizeof(*t));
	if ((t->h = curl_easy_init()) == NULL)
		return -1;
	t->to = curl_slist_append(NULL, connect_to);
	for (i = 0; i < sizeof(bench_tc3_hdrs) / sizeof(bench_tc3_hdrs[0]); i++)
		t->hl = curl_slist_append(t->hl, bench_tc3_hdrs[i]);
	curl_easy_setopt(t->h, CURLOPT_URL, url);
	curl_easy_setopt(t->h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(t->h, CURLOPT_CONNECT_TO, t->to);
	curl_easy_setopt(t->h, CURLOPT_HTTPHEADER, t->hl);
	curl_easy_setopt(t->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(t->h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(body));
	curl_easy_setopt(t->h, CURLOPT_WRITEFUNCTION, bench_tc3_wr);
	curl_easy_setopt(t->h, CURLOPT_WRITEDATA, &t->got);
	curl_easy_setopt(t->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->h, CURLOPT_TIMEOUT_MS, 10000L);
	return 0;
}

/* One call: 0 when it was answered 200 with a body, else -1. */
static inline int
bench_tc3_call(struct bench_tc3 *t)
{
	long	 status = 0;

	t->got = 0;
	if (curl_easy_perform(t->h) != CURLE_OK ||
	    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status) !=
	    CURLE_OK || status != 200 || t->got == 0)
		return -1;
	return 0;
}

static inline void
bench_tc3_free(struct bench_tc3 *t)
{
	curl_easy_cleanup(t->h);
	curl_slist_free_all(t->hl);
	curl_slist_free_all(t->to);
}

#endif /* BENCH_TC3_H */
