#ifndef HTTP_H
#define HTTP_H

#include <stdint.h>

#include <curl/curl.h>

#include "lib/buf.h"

struct conf;

/* One HTTP exchange with an upstream. */
struct http_call {
	const char	*method;	/* borrowed: "GET" or "POST" */
	const char	*url;		/* borrowed */
	const char	*body;		/* borrowed: POST body, or NULL */
	size_t		 bodylen;
	const char	*headers[8];	/* borrowed: "Name: value", NULL-ended */
	long		 timeout_ms;	/* 0: the config's upstream.timeout_ms */
	long		 status;	/* out: HTTP status, 0 if none */
	struct buf	 reply;		/* out: body, capped at LIM_UP_REPLY */
	CURLcode	 cc;		/* out: libcurl's verdict */
	char		 err[CURL_ERROR_SIZE]; /* out: libcurl's text */
	double		 secs;		/* out: total time */
	long		 retry_after;	/* out: Retry-After seconds, 0 none */
	struct curl_slist *hdrs;	/* owned: built by http_setup */
};

void	 http_global_init(void);
void	 http_global_free(void);
uint64_t http_fingerprint(const struct conf *);
uint64_t http_fingerprint_add(uint64_t, const char *);
CURL	*http_smtp_handle(const struct conf *, uint64_t, int *);
void	 http_smtp_put(CURL *);
void	 http_setup(CURL *, const struct conf *, struct http_call *);
int	 http_run(const struct conf *, struct http_call *);
size_t	 http_run_all(const struct conf *, struct http_call **, size_t);
void	 http_call_free(struct http_call *);
int	 http_is_ssl(CURLcode);
const char *http_detail(const struct http_call *, char *, size_t);

#endif /* HTTP_H */
