#ifndef QCLOUD_H
#define QCLOUD_H

#include <json-c/json.h>

#include "core/http.h"
#include "lib/limits.h"

struct ctx;
struct reply;

#define QCLOUD_BATCH	200	/* numbers per SMS call, both APIs */

/* Which Tencent Cloud API a component speaks (qcloud_api). */
enum qcloud_api {
	QCLOUD_V5,		/* yun.tim.qq.com, appid + appkey, sig */
	QCLOUD_TC3,		/* *.tencentcloudapi.com, API 3.0, TC3 */
	QCLOUD__MAX
};

/* One recipient and what Tencent said about it. */
struct qcloud_rcpt {
	const char	*given;		/* borrowed: as sent */
	char		 nc[8];		/* nation code, digits */
	char		 mobile[LIM_PHONE]; /* the number without it */
	char		 e164[LIM_PHONE]; /* +<nc><mobile> */
	json_object	*out;		/* owned: its entry in data */
	int		 ok;		/* Tencent accepted it */
	int		 used;		/* its outcome is known */
	int		 cls;		/* enum outcome_cls of a failed call, 0 */
	long		 after;		/* that call's Retry-After, seconds */
};

/* One HTTPS call to Tencent and the storage its headers point into. */
struct qcloud_call {
	struct http_call hc;		/* hc.url, hc.headers point below */
	char		 url[256];
	char		 hdr[7][544];	/* fits the Authorization */
	char		*body;		/* owned: the bytes sent */
	size_t		*idx;		/* owned: its recipients */
	size_t		 n;
};

enum qcloud_api	 qcloud_api(json_object *);
int		 qcloud_number(const char *, const char *,
		    struct qcloud_rcpt *);
json_object	*qcloud_params(json_object *, const char *, struct reply *);
int		 qcloud_v5_call(struct qcloud_call *, json_object *,
		    const char *, const char *, json_object *, const char *);
int		 qcloud_tc3_call(struct qcloud_call *, json_object *,
		    const char *, const char *, const char *, json_object *);
json_object	*qcloud_reply(struct qcloud_call *, char *, size_t);
void		 qcloud_call_free(struct qcloud_call *);
void		 qcloud_finish(struct ctx *, struct reply *,
		    const struct qcloud_rcpt *, size_t, const char *, const char *,
		    const char *, const char *, int);

void	 qcloud_rcpt_call(struct qcloud_rcpt *, const struct http_call *);
void	 qcloud_rcpt_set(struct qcloud_rcpt *, int, json_object *,
	    const char *);

#endif /* QCLOUD_H */
