/*
 * The multi-tenant user directory: bk-user's contact profiles,
 *
 *	GET <url>/api/v3/open/tenant/users/-/contact-profiles/
 *	    ?bk_usernames=a,b	(at most LIM_BKUSER_BATCH names)
 *
 * called through the API gateway as CMSI's own app (X-Bkapi-
 * Authorization with its code and secret) for the request's tenant
 * (X-Bk-Tenant-Id).  Success is {"data": [{bk_username, login_name,
 * phone, phone_country_code, email, wx_userid, data_source_id}]}; a
 * name it does not return is unknown.  More names than one call takes
 * go out in batches, all at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bkuser.h"
#include "core/conf.h"
#include "core/http.h"
#include "core/log.h"
#include "core/request.h"
#include "lib/buf.h"
#include "lib/util.h"

#define BKUSER_PATH	"/api/v3/open/tenant/users/-/contact-profiles/"

/*
 * One profile as the other directories give an entry: email, phone,
 * wx_userid and nation_code (bk-user's phone_country_code), strings
 * only.  NULL when the profile is no object or names nobody.
 */
json_object *
bkuser_entry(json_object *p)
{
	static const char *const map[][2] = {
		{ "email", "email" }, { "phone", "phone" },
		{ "wx_userid", "wx_userid" },
		{ "phone_country_code", "nation_code" },
		{ "login_name", "login_name" },
	};
	json_object	*e, *v;
	size_t		 i;

	if (!json_object_is_type(p, json_type_object) ||
	    !json_object_object_get_ex(p, "bk_username", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return NULL;
	e = json_object_new_object();
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (json_object_object_get_ex(p, map[i][0], &v) &&
		    json_object_is_type(v, json_type_string))
			json_object_object_add(e, map[i][1],
			    json_object_get(v));
	return e;
}

/* The URL asking for names [from, upto), or NULL when it is too long. */
static char *
batch_url(const char *base, json_object *names, size_t from, size_t upto)
{
	struct buf	 u;
	const char	*name;
	char		*esc;
	size_t		 i;

	buf_init(&u, LIM_URL + LIM_BKUSER_BATCH * 3 * LIM_NAME * 2);
	buf_puts(&u, base);
	while (u.len > 0 && u.ptr[u.len - 1] == '/')
		u.len--;
	buf_puts(&u, BKUSER_PATH "?bk_usernames=");
	for (i = from; i < upto; i++) {
		name = json_object_get_string(json_object_array_get_idx(names,
		    i));
		/* The list is comma-joined: such a name is nobody's. */
		if (strchr(name, ',') != NULL ||
		    (esc = curl_easy_escape(NULL, name, 0)) == NULL)
			continue;
		buf_printf(&u, "%s%s", u.ptr[u.len - 1] != '=' ? "," : "",
		    esc);
		curl_free(esc);
	}
	if (u.over) {
		buf_free(&u);
		return NULL;
	}
	return u.ptr;
}

/*
 * Reads one batch's answer into out (name -> entry).  Returns 0, or -1
 * with err set: only a 200 with {"data": [...]} is an answer.
 */
static int
batch_read(struct http_call *hc, json_object *out, char *err, size_t errsz)
{
	json_object	*doc, *data, *v, *m, *e;
	char		 detail[256];
	size_t		 i;
	int		 rc = -1;

	doc = jv_parse(hc->reply.ptr != NULL ? hc->reply.ptr : "",
	    hc->reply.len);
	if (hc->cc != CURLE_OK || (hc->status != 200 && doc == NULL)) {
		snprintf(err, errsz, "%s", http_detail(hc, detail,
		    sizeof(detail)));
		goto out;
	}
	if (hc->status != 200) {
		/* bk-user's {"error": {"code", "message"}}, if it is one. */
		m = NULL;
		if (json_object_object_get_ex(doc, "error", &v))
			json_object_object_get_ex(v, "message", &m);
		snprintf(err, errsz, "bk-user answered %ld%s%.200s",
		    hc->status, json_object_is_type(m, json_type_string) ?
		    ": " : "", json_object_is_type(m, json_type_string) ?
		    json_object_get_string(m) : "");
		goto out;
	}
	if (!json_object_is_type(doc, json_type_object) ||
	    !json_object_object_get_ex(doc, "data", &data) ||
	    !json_object_is_type(data, json_type_array)) {
		snprintf(err, errsz, "bk-user answered no contact profiles");
		goto out;
	}
	for (i = 0; i < json_object_array_length(data); i++) {
		v = json_object_array_get_idx(data, i);
		if ((e = bkuser_entry(v)) == NULL)
			continue;
		json_object_object_add(out, json_object_get_string(
		    json_object_object_get(v, "bk_username")), e);
	}
	rc = 0;
out:
	json_object_put(doc);
	return rc;
}

/*
 * Asks bk-user for the names, under the conf's tenant.  Returns an
 * object name -> entry (caller puts; names it did not return are
 * absent), or NULL with err set when any call failed.
 */
json_object *
bkuser_lookup(const struct conf *c, json_object *names, char *err,
    size_t errsz)
{
	struct http_call	*hc = NULL, **hcs = NULL;
	json_object		*out = NULL, *auth;
	char			*authz = NULL, tenant[LIM_NAME + 32];
	const char		*a;
	size_t			 n, nb, i;

	n = json_object_array_length(names);
	nb = (n + LIM_BKUSER_BATCH - 1) / LIM_BKUSER_BATCH;
	if (nb == 0)
		return json_object_new_object();
	auth = json_object_new_object();
	json_object_object_add(auth, "bk_app_code", json_object_new_string(
	    c->bkuser_app_code));
	json_object_object_add(auth, "bk_app_secret", json_object_new_string(
	    c->bkuser_app_secret));
	a = json_object_to_json_string_ext(auth, JSON_C_TO_STRING_PLAIN);
	authz = xmalloc(strlen(a) + 32);
	snprintf(authz, strlen(a) + 32, "X-Bkapi-Authorization: %s", a);
	/* The serialised secret lives in auth until it is put. */
	explicit_bzero((char *)(uintptr_t)a, strlen(a));
	json_object_put(auth);
	snprintf(tenant, sizeof(tenant), "X-Bk-Tenant-Id: %s",
	    c->tenant != NULL ? c->tenant : "default");
	hc = xcalloc(nb, sizeof(*hc));
	hcs = xcalloc(nb, sizeof(*hcs));
	for (i = 0; i < nb; i++) {
		hcs[i] = &hc[i];
		hc[i].method = "GET";
		hc[i].url = batch_url(c->bkuser_url, names, i * LIM_BKUSER_BATCH,
		    (i + 1) * LIM_BKUSER_BATCH < n ? (i + 1) * LIM_BKUSER_BATCH : n);
		if (hc[i].url == NULL) {
			snprintf(err, errsz, "the bk-user URL is too long");
			goto out;
		}
		hc[i].headers[0] = authz;
		hc[i].headers[1] = tenant;
		hc[i].headers[2] = "Accept: application/json";
	}
	(void)http_run_all(c, hcs, nb);
	out = json_object_new_object();
	for (i = 0; i < nb; i++)
		if (batch_read(&hc[i], out, err, errsz) == -1) {
			json_object_put(out);
			out = NULL;
			break;
		}
out:
	if (hc != NULL)
		for (i = 0; i < nb; i++) {
			free((char *)(uintptr_t)hc[i].url);
			http_call_free(&hc[i]);
		}
	free(hc);
	free(hcs);
	if (authz != NULL) {
		explicit_bzero(authz, strlen(authz));
		free(authz);
	}
	return out;
}
