#ifndef WX_H
#define WX_H

#include <curl/curl.h>
#include <json-c/json.h>

#include "core/outcome.h"
#include "lib/limits.h"
#include "state/store.h"

struct conf;
struct http_call;
struct reply;

/* How one exchange with a WeChat API ended. */
enum wx_kind {
	WX_OK,			/* errcode 0 */
	WX_API,			/* an errcode: errcode and errmsg say which */
	WX_TRANSPORT,		/* no usable HTTP answer: detail says why */
	WX_BADREPLY,		/* HTTP 200 but not the JSON we expect */
	WX__MAX
};

struct wx_err {
	enum wx_kind	 kind;
	long		 errcode;
	char		 errmsg[LIM_WX_ERRMSG];	/* cleaned, secrets withheld */
	char		 detail[256];	/* contract 4.3 wording */
	int		 ssl;		/* the failure was TLS: 1306203 */
	const char	*sys;		/* borrowed literal: "WEIXIN_QY" */
	const char	*iface;		/* borrowed literal: "get_token" */
	CURLcode	 cc;		/* libcurl's verdict, for wx_outcome */
	long		 status;	/* HTTP status, 0 if none */
	long		 retry_after;	/* Retry-After seconds, 0 none */
};

json_object	*wx_fields(json_object *);
void		 wx_clean(char *);
json_object	*wx_answer(struct http_call *, int, const char *const *,
		    struct wx_err *);
int		 wx_sent(json_object *, struct wx_err *);
void		 wx_fail(const struct wx_err *, const char *, struct reply *);
int		 wx_token(const struct conf *, const char *, const char *,
		    const char *, const char *, store_fetch_fn, void *, char *,
		    size_t, long *, struct wx_err *);
int		 wx_token_from(const struct conf *, const char *, const char *,
		    const char *, int, const char *, store_fetch_fn, void *,
		    char *, size_t, long *, struct wx_err *);
int		 wx_token_take(json_object *, char *, size_t, long *,
		    struct wx_err *);
char		*wx_escape(const char *);
enum outcome_cls wx_outcome(const struct wx_err *);

#endif /* WX_H */
