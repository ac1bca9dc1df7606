/*
 * Every cap in one place.  A value that would exceed one of these is an
 * error, never a silent truncation.
 */
#ifndef LIMITS_H
#define LIMITS_H

#define LIM_BODY		(8 * 1024 * 1024)	/* request body, bytes */
#define LIM_JSON_DEPTH		32		/* nesting of a request document */
#define LIM_PATH		1024		/* REQUEST_URI we route on */
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
#define LIM_PROBLEMS		8192		/* a config load's problem lines */
#define LIM_PASSWORD		1024		/* a console password, bytes */
#define LIM_PWHASH		256		/* a password_hash string */
#define LIM_PAGE		(1024 * 1024)	/* one console page */
#define LIM_FORM		(256 * 1024)	/* one console form body */
#define LIM_HISTORY		20		/* config versions kept */
#define LIM_THROTTLE		(64 * 1024)	/* the failed sign-in record */

#endif /* LIMITS_H */
