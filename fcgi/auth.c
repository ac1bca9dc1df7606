/*
 * App and user authentication as ESB does it (contract 3): the app by
 * its secret or a request signature, then the user by bk_token, or by
 * bk_username for apps allowed to skip user auth.  Every failure gets
 * the contract's exact message, in the contract's order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "auth.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/http.h"
#include "core/log.h"
#include "core/request.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "route.h"
#include "state/replay.h"

static const char *const cred_keys[] = {
	"bk_app_code", "bk_app_secret", "app_code", "app_secret",
	"bk_token", "bk_username", "username", NULL
};

/*
 * The credentials: the X-Bkapi-Authorization header when present (then
 * exclusively, as newer ESB does), else the request parameters.
 * Returns a new object, or NULL with rp set when the header is no JSON
 * object (1306406, answered without request_id).
 */
json_object *
auth_creds(const struct req *r, struct reply *rp)
{
	const char	*h;
	json_object	*doc, *v, *out;
	size_t		 i;

	h = req_env(r, "HTTP_X_BKAPI_AUTHORIZATION");
	if (h != NULL) {
		doc = jv_parse(h, strlen(h));
		if (doc == NULL || !json_object_is_type(doc,
		    json_type_object)) {
			json_object_put(doc);
			reply_fail(rp, CODE_ARGUMENT, "Parameters error, "
			    "request header X-Bkapi-Authorization is not a "
			    "valid JSON format string");
			rp->no_request_id = 1;
			return NULL;
		}
		return doc;
	}
	out = json_object_new_object();
	for (i = 0; cred_keys[i] != NULL; i++)
		if (json_object_object_get_ex(r->params, cred_keys[i], &v))
			json_object_object_add(out, cred_keys[i],
			    json_object_get(v));
	if (json_object_object_get_ex(r->params, "bk_access_token", &v))
		json_object_object_add(out, "bk_access_token",
		    json_object_get(v));
	return out;
}

/*
 * A credential as text: "" when absent or empty.  One with a NUL inside
 * ("secret\u0000x") would be cut short to a prefix and compare equal:
 * it becomes "\x7f", which matches no app, secret or token.
 */
static const char *
cred(json_object *creds, const char *key)
{
	json_object	*v;
	const char	*s;

	if (!json_object_object_get_ex(creds, key, &v) || v == NULL)
		return "";
	if (json_object_is_type(v, json_type_object) ||
	    json_object_is_type(v, json_type_array))
		return "";
	s = json_object_get_string(v);
	if (json_object_is_type(v, json_type_string) &&
	    strlen(s) != (size_t)json_object_get_string_len(v))
		return "\x7f";
	return s;
}

static const char *
cred2(json_object *creds, const char *a, const char *b)
{
	const char	*s = cred(creds, a);

	return *s != '\0' ? s : cred(creds, b);
}

/*
 * base64(HMAC(secret, msg)) into out, with SHA-1 (ESB and its SDK up
 * to 2021) or SHA-256 (the SDK of 2025).  Returns 0 or -1.
 */
static int
sign_with(gnutls_mac_algorithm_t alg, const char *secret, const char *msg,
    char *out, size_t outsz)
{
	unsigned char	 mac[32];
	gnutls_datum_t	 in, b64 = { NULL, 0 };
	int		 rc = -1;

	if (gnutls_hmac_get_len(alg) > sizeof(mac) ||
	    gnutls_hmac_fast(alg, secret, strlen(secret), msg, strlen(msg),
	    mac) < 0)
		return -1;
	in.data = mac;
	in.size = gnutls_hmac_get_len(alg);
	if (gnutls_base64_encode2(&in, &b64) < 0)
		return -1;
	if (b64.size < outsz) {
		memcpy(out, b64.data, b64.size);
		out[b64.size] = '\0';
		rc = 0;
	}
	gnutls_free(b64.data);
	return rc;
}

int
auth_signature(const char *secret, const char *msg, char *out, size_t outsz)
{
	return sign_with(GNUTLS_MAC_SHA1, secret, msg, out, outsz);
}

int
auth_signature256(const char *secret, const char *msg, char *out,
    size_t outsz)
{
	return sign_with(GNUTLS_MAC_SHA256, secret, msg, out, outsz);
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The path a signature covers: the one the server routed.  ESB read it
 * from X-Request-Uri (its nginx set it to the external path); a client
 * sends that header too, so it counts only when it routes to the same
 * component, and a request signed for send_msg cannot be spent on
 * send_mail.
 */
static void
signed_path(const struct req *r, char *path, size_t pathsz)
{
	const struct route	*rt;
	const char		*uri, *rest;
	size_t			 plen;

	(void)str_copy(path, r->path, pathsz);
	if ((uri = req_env(r, "HTTP_X_REQUEST_URI")) == NULL)
		return;
	plen = strcspn(uri, "?");
	if (plen >= pathsz)
		return;
	memcpy(path, uri, plen);
	path[plen] = '\0';
	/* A proxy may mount ESB deeper ("/o/api/c/compapi/..."). */
	if ((rest = strstr(path, "/c/compapi/")) == NULL ||
	    (rt = route_match(r->method, rest)) == NULL ||
	    rt != route_match(r->method, r->path))
		(void)str_copy(path, r->path, pathsz);
}

/* base64 of a 32-byte SHA-256 MAC, with its one '=' of padding */
#define SIG256_LEN	44

/*
 * Signature mode (contract 3.3): nonce, timestamp, then HMAC-SHA1 (or
 * HMAC-SHA256) over
 * METHOD PATH?k=v&... with the query keys sorted, the signature key
 * left out and, for POST, data=<raw body> added.  Beyond ESB, which
 * took any future timestamp and never remembered a nonce: the
 * timestamp must be within REPLAY_WINDOW of now either way, and a
 * signed request is taken once.  Returns 0 or -1.
 */
static int
auth_check_signature(const struct conf *c, const struct req *r,
    const char *sigkey, const char *code, const char *secret,
    struct reply *rp)
{
	const char	*keys[256], *given;
	int		(*sign)(const char *, const char *, char *, size_t);
	struct buf	 msg;
	char		 want[64], path[LIM_PATH], once[128];
	long long	 n, ts, now = (long long)time(NULL);
	size_t		 nk = 0, i;
	int		 rc = -1;
	json_object	*v;

	buf_init(&msg, LIM_BODY + 4 * LIM_PATH);
	if (!json_object_object_get_ex(r->qparams, "bk_nonce", &v)) {
		reply_fail(rp, CODE_COMMON,
		    "Parameter bk_nonce does not exist");
		goto out;
	}
	if (num_parse(json_object_get_string(v), -0x7fffffffffffLL,
	    0x7fffffffffffLL, &n) == -1) {
		reply_fail(rp, CODE_COMMON, "Parameter bk_nonce is illegal");
		goto out;
	}
	if (n <= 0) {
		reply_fail(rp, CODE_COMMON, "Parameter bk_nonce is illegal, "
		    "it must be a positive integer");
		goto out;
	}
	snprintf(once, sizeof(once), "%lld", n);
	if (!json_object_object_get_ex(r->qparams, "bk_timestamp", &v)) {
		reply_fail(rp, CODE_COMMON,
		    "Parameter bk_timestamp does not exist");
		goto out;
	}
	if (num_parse(json_object_get_string(v), 0, 0x7fffffffffffLL,
	    &ts) == -1) {
		reply_fail(rp, CODE_COMMON, "Parameter bk_timestamp is "
		    "illegal, due to non-time format");
		goto out;
	}
	if (ts < now - REPLAY_WINDOW) {
		reply_fail(rp, CODE_COMMON, "Parameter bk_timestamp is "
		    "illegal, because it has expired");
		goto out;
	}
	if (!replay_in_window(ts, now)) {
		reply_fail(rp, CODE_COMMON, "Parameter bk_timestamp is "
		    "illegal, because it is more than %d seconds ahead of "
		    "the server's clock", REPLAY_WINDOW);
		goto out;
	}
	signed_path(r, path, sizeof(path));

	json_object_object_foreach(r->qparams, k, qv) {
		(void)qv;
		if (strcmp(k, sigkey) != 0 && nk < 255)
			keys[nk++] = k;
	}
	if (strcmp(r->method, "POST") == 0)
		keys[nk++] = "data";
	qsort(keys, nk, sizeof(keys[0]), key_cmp);
	buf_printf(&msg, "%s%s?", r->method, path);
	for (i = 0; i < nk; i++) {
		if (i > 0)
			buf_putc(&msg, '&');
		buf_printf(&msg, "%s=", keys[i]);
		if (strcmp(keys[i], "data") == 0 &&
		    strcmp(r->method, "POST") == 0)
			buf_add(&msg, r->body != NULL ? r->body : "",
			    r->bodylen);
		else {
			json_object_object_get_ex(r->qparams, keys[i], &v);
			buf_puts(&msg, json_object_get_string(v));
		}
	}
	json_object_object_get_ex(r->qparams, sigkey, &v);
	given = json_object_get_string(v);
	/*
	 * The algorithm is told by the signature's length: 28 base64
	 * characters are a SHA-1 MAC, 44 a SHA-256 one.  The string
	 * signed is the same for both, and so are the replay rules.
	 */
	if (strlen(given) == SIG256_LEN)
		sign = auth_signature256;
	else
		sign = auth_signature;
	if (msg.over || sign(secret, msg.ptr != NULL ? msg.ptr : "",
	    want, sizeof(want)) == -1 || !secret_eq(given, want)) {
		reply_fail(rp, CODE_COMMON, "Signature [bk_signature] "
		    "verification failed, please provide valid parameters "
		    "and signature");
		goto out;
	}
	/* Only now, so only a holder of the secret leaves a file. */
	switch (replay_once(c->state_dir, code, once, ts)) {
	case 1:
		break;
	case 0:
		reply_fail(rp, CODE_COMMON, "Parameter bk_nonce is illegal, "
		    "this signed request was already received");
		goto out;
	default:
		reply_fail(rp, CODE_COMMON, "Signature [bk_signature] cannot "
		    "be checked for replay now, please try again later");
		goto out;
	}
	rc = 0;
out:
	buf_free(&msg);
	return rc;
}

/*
 * Asks the login service whether bk_token is a live session.  Returns
 * 0 and the username, or -1 with rp set.
 */
static int
auth_bk_token(const struct conf *c, const char *token, const char *reqid,
    struct ident *id, struct reply *rp)
{
	struct http_call	 hc;
	json_object		*doc = NULL, *v, *d;
	char			*url = NULL, *esc = NULL, detail[256];
	char			 hdr[80];
	size_t			 n;
	int			 rc = -1;

	memset(&hc, 0, sizeof(hc));
	if (*c->login_url == '\0') {
		reply_fail(rp, CODE_COMMON, "User authentication failed, "
		    "please check if the bk_token is valid");
		return -1;
	}
	esc = curl_easy_escape(NULL, token, 0);
	n = strlen(c->login_url) + strlen(esc) + 16;
	url = xmalloc(n);
	snprintf(url, n, "%s%cbk_token=%s", c->login_url,
	    strchr(c->login_url, '?') != NULL ? '&' : '?', esc);
	snprintf(hdr, sizeof(hdr), "X-Bkapi-Request-Id: %s", reqid);
	hc.method = "GET";
	hc.url = url;
	hc.headers[0] = hdr;
	if (http_run(c, &hc) == -1 || hc.status != 200 ||
	    (doc = jv_parse(hc.reply.ptr != NULL ? hc.reply.ptr : "",
	    hc.reply.len)) == NULL) {
		reply_fail(rp, CODE_THIRD_PARTY, "Component request "
		    "third-party system [BK_LOGIN] interface [is_login] error: "
		    "%s, please try again later or contact component "
		    "developer to handle this",
		    http_detail(&hc, detail, sizeof(detail)));
		log_warnx("%s: is_login: %s", reqid, detail);
		goto out;
	}
	/*
	 * Only a JSON true naming a user is a session: json-c reads the
	 * string "false" as true, and a reply is input like a request.
	 */
	if (!json_object_object_get_ex(doc, "result", &v) ||
	    !json_object_is_type(v, json_type_boolean) ||
	    !json_object_get_boolean(v) ||
	    !json_object_object_get_ex(doc, "data", &d) ||
	    !json_object_object_get_ex(d, "username", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0 ||
	    str_copy(id->username, json_object_get_string(v),
	    sizeof(id->username)) == -1) {
		id->username[0] = '\0';
		reply_fail(rp, CODE_COMMON, "User authentication failed, "
		    "please check if the bk_token is valid");
		goto out;
	}
	rc = 0;
out:
	json_object_put(doc);
	http_call_free(&hc);
	curl_free(esc);
	free(url);
	return rc;
}

/*
 * The validator chain of contract 3.2-3.4: app, then user.  Returns 0
 * with id filled, or -1 with rp holding the error.
 */
int
auth_check(const struct conf *c, const struct req *r, json_object *creds,
    struct ident *id, struct reply *rp)
{
	const struct conf_app	*app;
	const char		*code, *secret, *sigkey = NULL, *s;
	json_object		*v;

	memset(id, 0, sizeof(*id));
	if (json_object_object_get_ex(r->qparams, "bk_signature", NULL))
		sigkey = "bk_signature";
	else if (json_object_object_get_ex(r->qparams, "signature", NULL))
		sigkey = "signature";
	code = cred2(creds, "bk_app_code", "app_code");
	secret = cred2(creds, "bk_app_secret", "app_secret");
	if (sigkey == NULL && *secret == '\0') {
		reply_fail(rp, CODE_COMMON, "Signature [bk_signature] and APP "
		    "Secret [bk_app_secret] cannot be empty at the same time");
		return -1;
	}
	if (*code == '\0') {
		reply_fail(rp, CODE_COMMON,
		    "APP Code [bk_app_code] cannot be empty");
		return -1;
	}
	app = strlen(code) < LIM_NAME ? conf_app(c, code) : NULL;
	if (app == NULL) {
		reply_fail(rp, CODE_COMMON, "Invalid APP Code [bk_app_code=%s]"
		    ", please confirm if the APP Code has been registered",
		    code);
		return -1;
	}
	if (sigkey != NULL) {
		/*
		 * The signature covers the query and the body, not a
		 * header: credentials in X-Bkapi-Authorization (another
		 * bk_username, say) would ride on someone's signature.
		 */
		if (req_env(r, "HTTP_X_BKAPI_AUTHORIZATION") != NULL) {
			reply_fail(rp, CODE_COMMON, "Signature [bk_signature] "
			    "does not cover the request header "
			    "X-Bkapi-Authorization, please send credentials "
			    "in the signed parameters");
			return -1;
		}
		if (auth_check_signature(c, r, sigkey, code, app->secret,
		    rp) == -1)
			return -1;
	} else if (!secret_eq(secret, app->secret)) {
		reply_fail(rp, CODE_COMMON, "APP Secret verification failed, "
		    "pelase confirm if the APP Secret and APP Code "
		    "[bk_app_code=%s] match", code);
		return -1;
	}
	(void)str_copy(id->app_code, code, sizeof(id->app_code));
	id->app = app;

	if (json_object_object_get_ex(creds, "bk_access_token", &v)) {
		if (*cred(creds, "bk_access_token") == '\0')
			reply_fail(rp, CODE_COMMON, "User TOKEN "
			    "[bk_access_token] cannot be empty");
		else
			reply_fail(rp, CODE_COMMON, "The specified user TOKEN "
			    "[bk_access_token] does not exist");
		return -1;
	}
	s = cred(creds, "bk_token");
	if (*s != '\0')
		return auth_bk_token(c, s, r->id, id, rp);
	s = cred2(creds, "bk_username", "username");
	if (*s != '\0' && app->skip_user_auth &&
	    str_copy(id->username, s, sizeof(id->username)) == 0)
		return 0;
	reply_fail(rp, CODE_COMMON, "User authentication failed, please "
	    "provide a valid user identity, such as bk_token, bk_username");
	return -1;
}

/*
 * The BlueKing user behind a bk_token, for the console's sign-in.
 * Returns 0 with the username in user, or -1 (no login_url, a dead
 * token, the login service unreachable: logged there).
 */
int
auth_login_user(const struct conf *c, const char *token, const char *reqid,
    char *user, size_t usersz)
{
	struct ident	 id;
	struct reply	 rp;
	int		 rc;

	memset(&id, 0, sizeof(id));
	reply_init(&rp);
	rc = auth_bk_token(c, token, reqid, &id, &rp);
	reply_free(&rp);
	if (rc == -1 || id.username[0] == '\0')
		return -1;
	return str_copy(user, id.username, usersz);
}

/*
 * The authenticate stage of an ESB request: its credentials (params or
 * X-Bkapi-Authorization), then a body that was no JSON, then, when
 * need says the route asks for it, the app and the user.  Returns 0,
 * or -1 with rp set.  *creds is the caller's to put.
 */
int
auth_request(const struct conf *c, int need, const struct req *r,
    json_object **creds, struct ident *id, struct reply *rp)
{
	*creds = auth_creds(r, rp);
	if (*creds == NULL)
		return -1;
	/* Here to keep its place: missing credentials are said first. */
	if (r->bad_json) {
		reply_fail(rp, CODE_COMMON, "Request JSON string is wrong in "
		    "format, which cannot be analyzed.");
		return -1;
	}
	if (need && auth_check(c, r, *creds, id, rp) == -1) {
		/* Which check failed, in the contract's words (no secret). */
		log_info("%s auth refused: %s", r->id, rp->message);
		return -1;
	}
	return 0;
}
