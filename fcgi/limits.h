/*
 * Every cap in one place.  A value that would exceed one of these is an
 * error, never a silent truncation.
 */
#ifndef LIMITS_H
#define LIMITS_H

#define LIM_BODY		(8 * 1024 * 1024)	/* request body, bytes */
#define LIM_JSON_DEPTH		32		/* nesting of a request document */
#define LIM_PATH		1024		/* REQUEST_URI we route on */
#define LIM_URL			2048		/* an upstream URL from the config */
#define LIM_NAME		64		/* component or app name */
#define LIM_MESSAGE		4096		/* envelope message text */
#define LIM_SECRET		512		/* one secret, bytes */
#define LIM_CONF		(1024 * 1024)	/* config file */
#define LIM_FILE		(1024 * 1024)	/* schema, template, users file */
#define LIM_LOG_LINE		2048		/* one log line */
#define LIM_LIST		1000		/* items of one recipient list */
#define LIM_MAIL		(16 * 1024 * 1024) /* one rendered mail */
#define LIM_UP_REPLY		(1024 * 1024)	/* one upstream reply */
#define LIM_RENDER		(1024 * 1024)	/* one template rendering */
#define LIM_SCHEMA_PTR		256		/* a JSON Pointer in an error */
#define LIM_SCHEMA_DEPTH	64		/* schema recursion */
#define LIM_TMPL_DEPTH		32		/* mustache section/partial nesting */
#define LIM_TOKEN		512		/* one upstream access token */
#define LIM_WX_TEXT		2048		/* WeCom text content, bytes */
#define LIM_WX_ERRMSG		256		/* upstream errmsg kept for a message */
#define LIM_CALLBACK		(64 * 1024)	/* one WeChat push body */
#define LIM_UP_PARALLEL		100		/* upstream calls in flight at once */
#define LIM_PHONE		64		/* one phone number, bytes */
#define LIM_V5_SIGTEXT		8192		/* text a Tencent v5 sig covers */
#define LIM_SPOOL_ITEM		(24 * 1024 * 1024) /* one spooled message */
#define LIM_SPOOL_BATCH		20		/* items one drain after a request tries */
#define LIM_SPOOL_MS		2000		/* time that drain may take, ms */
#define LIM_RETRY_ATTEMPTS	100		/* retry.attempts */
#define LIM_RETRY_AGE		(7 * 86400)	/* retry.max_age_s */
#define LIM_IDEM_KEY		255		/* an Idempotency-Key, bytes */
#define LIM_IDEM_ANSWER		(1024 * 1024)	/* one kept answer, bytes */
#define LIM_REDIS_HOST		256		/* redis.url's host name */
#define LIM_REDIS_PREFIX	64		/* redis.prefix, bytes */
#define LIM_REDIS_KEY		512		/* one Redis key, prefix included */
#define LIM_RATE_PER_S		1000000		/* rate_limit.per_second */
#define LIM_RATE_BURST		1000000		/* rate_limit.burst */

#endif /* LIMITS_H */
