/*
 * Every cap in one place, with why it is that number.  A value that
 * would exceed one of these is an error, never a silent truncation;
 * tests show the byte just over the caps a caller or an upstream can
 * reach (doc/development.md, Tests).
 */
#ifndef LIMITS_H
#define LIMITS_H

/* What a caller sends. */
/*
 * request body: room for ESB's attachments; the shipped web server
 * snippets cap bodies at the same
 */
#define LIM_BODY		(8 * 1024 * 1024)
/* request nesting: ESB's deepest is 3; 32 stops stack games */
#define LIM_JSON_DEPTH		32
/* REQUEST_URI we route on: the longest route is under 64 */
#define LIM_PATH		1024
/* component, app, tenant name: BlueKing's are under 32 */
#define LIM_NAME		64
/* recipients in one list: WeCom takes 1000 a call */
#define LIM_LIST		1000
/* one phone number: E.164 is 16 with '+' */
#define LIM_PHONE		64
/* one address: 64 local + '@' + 255 domain (RFC 5321) */
#define LIM_ADDR		320
/* an Idempotency-Key: a UUID is 36, 255 leaves room for any scheme */
#define LIM_IDEM_KEY		255
/* X-Bkapi-Jwt: an RS512 token is about 1 KiB */
#define LIM_JWT			8192
/* one WeChat push: the largest event is a few KiB */
#define LIM_CALLBACK		(64 * 1024)

/* What we build and keep. */
/* envelope message: names of failed recipients fit */
#define LIM_MESSAGE		4096
/* one log line: syslog and journald take 2 KiB whole */
#define LIM_LOG_LINE		2048
/*
 * one template rendering: content as large as the body cap lets in,
 * plus the layout's own text around it
 */
#define LIM_RENDER		(LIM_BODY + 64 * 1024)
/*
 * one built mail: an HTML mail carries its rendering and the text made
 * from it, and attachments share the body cap with the content; in
 * base64 (4/3, plus CRLF every 76) that stays under 3 renderings
 */
#define LIM_MAIL		(3 * LIM_RENDER)
/*
 * an HTML element name kept by the mail's text pass; longer names are
 * no element it knows (the longest, blockquote, has 10)
 */
#define LIM_TAG_NAME		16
/* a named character reference: HTML 4's longest, thetasym, has 8 */
#define LIM_ENTITY		32
/* mustache section and partial nesting: stops recursion */
#define LIM_TMPL_DEPTH		32
/*
 * tags visited and section turns taken by one rendering: a mail to
 * 1000 people with a 20-tag row per person takes 20000; six nested
 * sections over a 40-item list would take 4 billion (an hour of CPU)
 * with no output to meet LIM_RENDER.  2 million is about 0.1 s.
 */
#define LIM_TMPL_WORK		(2 * 1000 * 1000)
/* a set delimiter, bytes: the spec's are 2 */
#define LIM_TMPL_DELIM		16
/* templates in one set: we ship 30 */
#define LIM_TEMPLATES		256
/* WeCom text content: its documented cap */
#define LIM_WX_TEXT		2048
/* an upstream errmsg kept for a message */
#define LIM_WX_ERRMSG		256
/* text a Tencent v5 sig covers: 200 numbers fit */
#define LIM_V5_SIGTEXT		8192
#define LIM_SCHEMA_PTR		256		/* a JSON Pointer in an error */
/* schema evaluation recursion */
#define LIM_SCHEMA_DEPTH	64
/* nesting of a schema document */
#define LIM_SCHEMA_DOC_DEPTH	128
#define LIM_SCHEMA_URI		4096		/* a $ref or $id */
#define LIM_SCHEMA_EQ_DEPTH	128		/* nesting const/enum compare */

/* What the operator configures. */
/* an upstream URL: browsers' practical cap */
#define LIM_URL			2048
/* one secret: keys and tokens are under 100 */
#define LIM_SECRET		512
/* the config file: with every tenant */
#define LIM_CONF		(1024 * 1024)
/* --import's input: ESB's Component Configuration tab is under 2 KiB */
#define LIM_IMPORT		(64 * 1024)
/* a schema, template or users file */
#define LIM_FILE		(1024 * 1024)
#define LIM_RETRY_ATTEMPTS	100		/* retry.attempts */
#define LIM_RETRY_AGE		(7 * 86400)	/* retry.max_age_s: a week */

/* What upstreams send and how many we ask at once. */
/* one upstream reply: the largest real one is a few KiB */
#define LIM_UP_REPLY		(1024 * 1024)
/* one access token: WeChat's are 512 at most */
#define LIM_TOKEN		512
/* upstream calls in flight: an MP fan-out of 100 is one round */
#define LIM_UP_PARALLEL		100
/*
 * Upstream connections of one process (its one curl multi handle): per
 * host and kept in all.  Over HTTP/2 a connection carries ~100 calls at
 * once, so a few serve a process; an HTTP/1.1 upstream needs one per
 * call in flight, so the default is one per default worker thread.
 */
#define LIM_UP_CONNS		4096
#define LIM_UP_CONNS_DEFAULT	128
/* HTTP/2 streams one connection may carry, if the server allows them. */
#define LIM_UP_STREAMS		1000L
/*
 * Requests one process serves at once (workers.threads) and holds
 * waiting beyond them (workers.queue).  The default keeps a 200 ms
 * upstream from being the limit at 256 callers with 2 processes.
 */
#define LIM_THREADS		1024
#define LIM_THREADS_DEFAULT	128
#define LIM_QUEUE		4096
/* names in one bk-user call: its documented cap */
#define LIM_BKUSER_BATCH	100
/*
 * why a token was last fetched, kept beside it: "console:" and a
 * console user name (LIM_NAME) fit
 */
#define LIM_TOKEN_WHY		96
/* tokens kept for secrets callers supply: each a file */
#define LIM_CALLER_TOKENS	32

/* The retry spool and idempotency. */
/* one spooled message: a mail of LIM_BODY */
#define LIM_SPOOL_ITEM		(24 * 1024 * 1024)
/* items one drain after a request tries */
#define LIM_SPOOL_BATCH		20
/* time that drain may take, ms */
#define LIM_SPOOL_MS		2000
#define LIM_IDEM_ANSWER		(1024 * 1024)	/* one kept answer */

/* The console. */
/* a config load's problem lines */
#define LIM_PROBLEMS		8192
/* a console password, bytes */
#define LIM_PASSWORD		1024
/* a password_hash string */
#define LIM_PWHASH		256
/* one console page */
#define LIM_PAGE		(1024 * 1024)
/* one console form body */
#define LIM_FORM		(256 * 1024)
/*
 * a layout saved from the console: a mail layout is a few KiB, and
 * this URL-encoded (3 bytes a byte at worst) stays under LIM_FORM
 */
#define LIM_TMPL_SAVE		(64 * 1024)
/* config versions kept, and each layout's */
#define LIM_HISTORY		20
/* the failed sign-in record */
#define LIM_THROTTLE		(64 * 1024)

/* More than one host: Redis and rate limits. */
/* redis.url's host name */
#define LIM_REDIS_HOST		256
/* redis.prefix, bytes */
#define LIM_REDIS_PREFIX	64
/* one Redis key, prefix included */
#define LIM_REDIS_KEY		512
/* rate_limit.per_second */
#define LIM_RATE_PER_S		1000000
/* rate_limit.burst */
#define LIM_RATE_BURST		1000000

#endif /* LIMITS_H */
