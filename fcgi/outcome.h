#ifndef OUTCOME_H
#define OUTCOME_H

#include <curl/curl.h>
#include <json-c/json.h>

struct http_call;
struct wx_err;

/* What one delivery attempt did for one recipient. */
enum outcome_cls {
	OC_NONE,		/* not attempted, or nothing known */
	OC_OK,			/* the upstream took it */
	OC_TRANSIENT,		/* worth another try later */
	OC_PERMANENT,		/* retrying cannot help */
	OC__MAX
};

/*
 * Per-recipient outcomes of one handler run, and which recipients that
 * run may send to.  The handler and the upstreams fill it through
 * ctx.oc when the component retries; NULL everywhere else.
 */
struct outcome {
	json_object	*want;		/* owned: recipient -> true, NULL = all */
	json_object	*got;		/* owned: recipient -> [cls, retry_after] */
	enum outcome_cls all;		/* for recipients not named in got */
	long		 all_after;	/* its Retry-After, seconds, 0 none */
};

void	 outcome_init(struct outcome *);
void	 outcome_free(struct outcome *);
void	 outcome_add(struct outcome *, const char *, enum outcome_cls, long);
void	 outcome_all(struct outcome *, enum outcome_cls, long);
int	 outcome_want(const struct outcome *, const char *);
json_object *outcome_filter(const struct outcome *, json_object *,
	    const char *);
enum outcome_cls outcome_of(const struct outcome *, const char *, long *);
const char *outcome_name(enum outcome_cls);

enum outcome_cls outcome_http(CURLcode, long);
enum outcome_cls outcome_smtp(CURLcode, long);
enum outcome_cls outcome_wx(const struct wx_err *);
enum outcome_cls outcome_qcloud(json_object *, const char *);
enum outcome_cls outcome_robot(int, long);

#endif /* OUTCOME_H */
