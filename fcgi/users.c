/*
 * The user directory behind every *__username field (contract 2.5):
 * a JSON file (username -> email, phone, wx_userid, wx_openid,
 * nation_code), BlueKing login's get_batch_user over HTTP, or the
 * multi-tenant bk-user's contact profiles (bkuser.c).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bkuser.h"
#include "core/conf.h"
#include "core/http.h"
#include "core/log.h"
#include "core/request.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "users.h"

/*
 * Per directory, as each tenant may have its own (and know a user of
 * the same name as another tenant does).
 */
/*
 * The caches are the process's, under users_mu; what a request gets
 * out of them is its own copy (json-c's reference counts are not
 * atomic, so no object is shared between threads).  A directory call
 * is made outside the lock.
 */
static pthread_mutex_t	 users_mu = PTHREAD_MUTEX_INITIALIZER;
static json_object	*file_docs;	/* owned: path -> [sec, nsec, doc] */
/* owned: "url app tenant" -> name -> [time, entry] */
static json_object	*http_cache;

/*
 * Whether a contact is usable for its kind: an e-mail holds '@', a
 * phone is digits (or E.164: '+' and digits), a WeChat id is not empty.
 */
int
users_valid(const char *kind, const char *v)
{
	const char	*p = v;

	if (strcmp(kind, "email") == 0)
		return strchr(v, '@') != NULL;
	if (strcmp(kind, "phone") == 0) {
		if (*p == '+')
			p++;
		if (*p == '\0')
			return 0;
		for (; *p != '\0'; p++)
			if (!isdigit((unsigned char)*p))
				return 0;
		return 1;
	}
	return *v != '\0';
}

static json_object *
file_load_locked(const struct conf *c, char *err, size_t errsz)
{
	struct stat	 st;
	json_object	*slot, *doc;

	if (stat(c->users_file, &st) == -1) {
		/* The caller gets the words; the log gets the file and why. */
		log_warn("users: %s", c->users_file);
		snprintf(err, errsz, "the user directory cannot be read");
		return NULL;
	}
	if (file_docs == NULL)
		file_docs = json_object_new_object();
	if (json_object_object_get_ex(file_docs, c->users_file, &slot) &&
	    json_object_get_int64(json_object_array_get_idx(slot, 0)) ==
	    st.st_mtim.tv_sec &&
	    json_object_get_int64(json_object_array_get_idx(slot, 1)) ==
	    st.st_mtim.tv_nsec)
		return json_object_array_get_idx(slot, 2);
	json_object_object_del(file_docs, c->users_file);
	doc = json_object_from_file(c->users_file);
	if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
		snprintf(err, errsz, "the user directory is not a JSON object");
		if (doc == NULL)
			log_warnx("users: %s: %s", c->users_file,
			    json_util_get_last_err() != NULL ?
			    json_util_get_last_err() : "unreadable");
		else
			log_warnx("users: %s: expected an object, found %s",
			    c->users_file, json_type_to_name(
			    json_object_get_type(doc)));
		json_object_put(doc);
		return NULL;
	}
	slot = json_object_new_array();
	json_object_array_add(slot, json_object_new_int64(st.st_mtim.tv_sec));
	json_object_array_add(slot, json_object_new_int64(st.st_mtim.tv_nsec));
	json_object_array_add(slot, doc);
	json_object_object_add(file_docs, c->users_file, slot);
	return doc;
}

/* The directory file's document, the caller's own copy (caller puts). */
static json_object *
file_load(const struct conf *c, char *err, size_t errsz)
{
	json_object	*doc, *out = NULL;

	pthread_mutex_lock(&users_mu);
	doc = file_load_locked(c, err, errsz);
	if (doc != NULL && json_object_deep_copy(doc, &out, NULL) != 0)
		out = NULL;
	pthread_mutex_unlock(&users_mu);
	if (doc != NULL && out == NULL)
		snprintf(err, errsz, "the user directory cannot be read");
	return out;
}

/* One directory's lookup: name -> entry for names, or NULL with err. */
typedef json_object *(*lookup_fn)(const struct conf *, json_object *,
    char *, size_t);

/*
 * Asks BlueKing login's get_batch_user for the names.  Returns an object
 * username -> entry (caller puts), or NULL with err set.
 */
static json_object *
http_lookup(const struct conf *c, json_object *names, char *err,
    size_t errsz)
{
	struct http_call	 hc;
	json_object		*req, *doc = NULL, *v, *data, *out = NULL;
	char			 h1[160], h2[LIM_SECRET + 32], h3[160];
	char			 detail[256];
	const char		*body;

	memset(&hc, 0, sizeof(hc));
	req = json_object_new_object();
	json_object_object_add(req, "username_list", json_object_get(names));
	json_object_object_add(req, "bk_token", json_object_new_string(""));
	body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	snprintf(h1, sizeof(h1), "X-APP-CODE: %s", c->users_app_code != NULL ?
	    c->users_app_code : "esb");
	snprintf(h2, sizeof(h2), "X-APP-TOKEN: %s", c->users_app_token !=
	    NULL ? c->users_app_token : "");
	hc.method = "POST";
	hc.url = c->users_url;
	hc.body = body;
	hc.bodylen = strlen(body);
	hc.headers[0] = "Content-Type: application/json";
	hc.headers[1] = h1;
	hc.headers[2] = h2;
	/* The directory answers for one tenant: say which. */
	snprintf(h3, sizeof(h3), "X-Bk-Tenant-Id: %s", c->tenant != NULL ?
	    c->tenant : "default");
	hc.headers[3] = h3;
	if (http_run(c, &hc) == -1 || hc.status != 200 ||
	    (doc = jv_parse(hc.reply.ptr != NULL ? hc.reply.ptr : "",
	    hc.reply.len)) == NULL) {
		snprintf(err, errsz, "%s", http_detail(&hc, detail,
		    sizeof(detail)));
		goto out;
	}
	/* Only a JSON true is success: "false" is a true string to json-c. */
	if (!json_object_object_get_ex(doc, "result", &v) ||
	    !json_object_is_type(v, json_type_boolean) ||
	    !json_object_get_boolean(v)) {
		snprintf(err, errsz, "%s", json_object_object_get_ex(doc,
		    "message", &v) && json_object_is_type(v,
		    json_type_string) ? json_object_get_string(v) :
		    "the directory refused the request");
		goto out;
	}
	if (!json_object_object_get_ex(doc, "data", &data) ||
	    !json_object_is_type(data, json_type_object)) {
		snprintf(err, errsz, "the directory answered no data");
		goto out;
	}
	out = json_object_get(data);
out:
	explicit_bzero(h2, sizeof(h2));
	json_object_put(doc);
	json_object_put(req);
	http_call_free(&hc);
	return out;
}

/*
 * The HTTP directory behind a small per-process cache: answers, unknown
 * names included, are kept users_ttl seconds, so a burst of alerts to
 * the same people costs one directory call.  Returns name -> entry for
 * the names asked (caller puts), or NULL with err set.
 */
static json_object *
http_cached(const struct conf *c, json_object *names, lookup_fn lookup,
    const char *url, const char *app, char *err, size_t errsz)
{
	json_object	*missing, *got, *out, *slot, *e, *cache, *copy;
	const char	*name;
	char		 key[LIM_URL + LIM_NAME * 2 + 8];
	time_t		 now = time(NULL);
	size_t		 i;

	/*
	 * Keyed by everything that selects the answer: the same URL may
	 * serve two tenants, each with its own app, and one tenant's
	 * "admin" is not another's.
	 */
	if (snprintf(key, sizeof(key), "%s\n%s\n%s", url,
	    app != NULL ? app : "",
	    c->tenant != NULL ? c->tenant : "") >= (int)sizeof(key)) {
		snprintf(err, errsz, "the directory URL is too long");
		return NULL;
	}
	pthread_mutex_lock(&users_mu);
	if (http_cache == NULL)
		http_cache = json_object_new_object();
	if (!json_object_object_get_ex(http_cache, key, &cache)) {
		cache = json_object_new_object();
		json_object_object_add(http_cache, key, cache);
	}
	missing = json_object_new_array();
	for (i = 0; i < json_object_array_length(names); i++) {
		name = json_object_get_string(json_object_array_get_idx(names,
		    i));
		if (!json_object_object_get_ex(cache, name, &slot) ||
		    now - json_object_get_int64(json_object_array_get_idx(slot,
		    0)) >= c->users_ttl)
			json_object_array_add(missing,
			    json_object_new_string(name));
	}
	if (json_object_array_length(missing) > 0) {
		pthread_mutex_unlock(&users_mu);
		got = lookup(c, missing, err, errsz);
		if (got == NULL) {
			json_object_put(missing);
			return NULL;
		}
		pthread_mutex_lock(&users_mu);
		/* Another thread may have replaced it meanwhile. */
		if (!json_object_object_get_ex(http_cache, key, &cache)) {
			cache = json_object_new_object();
			json_object_object_add(http_cache, key, cache);
		}
		/* Bounded: a cache past LIM_LIST names starts over. */
		if (json_object_object_length(cache) > LIM_LIST) {
			cache = json_object_new_object();
			json_object_object_add(http_cache, key, cache);
		}
		for (i = 0; i < json_object_array_length(missing); i++) {
			name = json_object_get_string(
			    json_object_array_get_idx(missing, i));
			slot = json_object_new_array();
			json_object_array_add(slot, json_object_new_int64(now));
			json_object_array_add(slot,
			    json_object_object_get_ex(got, name, &e) ?
			    json_object_get(e) : NULL);
			json_object_object_add(cache, name, slot);
		}
		json_object_put(got);
	}
	json_object_put(missing);
	out = json_object_new_object();
	for (i = 0; i < json_object_array_length(names); i++) {
		name = json_object_get_string(json_object_array_get_idx(names,
		    i));
		copy = NULL;	/* json-c copies only into a NULL */
		if (json_object_object_get_ex(cache, name, &slot) &&
		    (e = json_object_array_get_idx(slot, 1)) != NULL &&
		    json_object_deep_copy(e, &copy, NULL) == 0)
			json_object_object_add(out, name, copy);
	}
	pthread_mutex_unlock(&users_mu);
	return out;
}

static void
join(char *out, size_t outsz, json_object *list)
{
	size_t	 i, n = 0;

	out[0] = '\0';
	for (i = 0; i < json_object_array_length(list); i++)
		if (str_append(out, outsz, &n, ",", json_object_get_string(
		    json_object_array_get_idx(list, i))) == -1)
			break;
}

/*
 * The contact as a channel takes it.  A phone of digits whose entry
 * names another country (nation_code) becomes E.164, so SMS and voice
 * reach it rather than a mainland number with the same digits.
 */
static json_object *
contact(const char *kind, const char *val, json_object *e)
{
	char		 e164[64];
	const char	*nc;
	json_object	*v;

	if (strcmp(kind, "phone") != 0 || *val == '+' ||
	    !json_object_object_get_ex(e, "nation_code", &v) || v == NULL)
		return json_object_new_string(val);
	nc = json_object_get_string(v);
	if (*nc == '+')
		nc++;
	if (*nc == '\0' || strcmp(nc, "86") == 0 ||
	    strspn(nc, "0123456789") != strlen(nc) ||
	    snprintf(e164, sizeof(e164), "+%s%s", nc, val) >=
	    (int)sizeof(e164))
		return json_object_new_string(val);
	return json_object_new_string(e164);
}

/*
 * Resolves names to contacts of kind ("email", "phone", "wx_userid",
 * "wx_openid").  Returns 0 with res filled, or -1 when the directory
 * failed (res->error holds the contract's message).
 */
int
users_resolve(const struct conf *c, json_object *names, const char *kind,
    struct users_res *res)
{
	json_object	*dir = NULL, *e, *v;
	const char	*name, *val;
	char		 err[512], list[LIM_MESSAGE / 2];
	size_t		 i, n = 0;
	int		 rc = -1, k;

	memset(res, 0, sizeof(*res));
	res->contacts = json_object_new_array();
	res->users = json_object_new_array();
	res->invalid = json_object_new_array();
	res->unusable = json_object_new_array();
	res->found = json_object_new_object();
	err[0] = '\0';
	if (c->bkuser_url != NULL)
		dir = http_cached(c, names, bkuser_lookup, c->bkuser_url,
		    c->bkuser_app_code, err, sizeof(err));
	else if (c->users_url != NULL && *c->users_url != '\0')
		dir = http_cached(c, names, http_lookup, c->users_url,
		    c->users_app_code, err, sizeof(err));
	else if (c->users_file != NULL)
		dir = file_load(c, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "no user directory is configured");
	if (dir == NULL) {
		snprintf(res->error, sizeof(res->error), "Failed to get users "
		    "contact information based on username, %s", err);
		return -1;
	}
	for (i = 0; i < json_object_array_length(names); i++) {
		name = json_object_get_string(json_object_array_get_idx(names,
		    i));
		if (!json_object_object_get_ex(dir, name, &e) ||
		    !json_object_is_type(e, json_type_object)) {
			json_object_array_add(res->invalid,
			    json_object_new_string(name));
			continue;
		}
		json_object_object_add(res->found, name, json_object_get(e));
		val = "";
		if (json_object_object_get_ex(e, kind, &v) && v != NULL &&
		    (json_object_is_type(v, json_type_string) ||
		    json_object_is_type(v, json_type_int)))
			val = json_object_get_string(v);
		if (!users_valid(kind, val)) {
			json_object_array_add(res->unusable,
			    json_object_new_string(name));
			continue;
		}
		json_object_array_add(res->contacts, contact(kind, val, e));
		json_object_array_add(res->users, json_object_new_string(name));
	}
	if (json_object_array_length(res->invalid) > 0) {
		join(list, sizeof(list), res->invalid);
		k = snprintf(res->fragments, sizeof(res->fragments),
		    "The following users are not blueking users: %s", list);
		n = k > 0 ? (size_t)k : 0;
	}
	if (json_object_array_length(res->unusable) > 0 &&
	    n < sizeof(res->fragments)) {
		join(list, sizeof(list), res->unusable);
		snprintf(res->fragments + n, sizeof(res->fragments) - n,
		    "%sThe following users contact format are incorrect: %s",
		    n > 0 ? ";" : "", list);
	}
	rc = 0;
	json_object_put(dir);
	return rc;
}

void
users_res_free(struct users_res *res)
{
	json_object_put(res->contacts);
	json_object_put(res->users);
	json_object_put(res->invalid);
	json_object_put(res->unusable);
	json_object_put(res->found);
	memset(res, 0, sizeof(*res));
}

/* Drops the process's caches (at exit, so valgrind sees no leak). */
void
users_free(void)
{
	/* At exit, after every other thread: no lock. */
	json_object_put(http_cache);
	json_object_put(file_docs);
	http_cache = file_docs = NULL;
}
