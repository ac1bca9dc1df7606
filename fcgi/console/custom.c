/*
 * The console's page of custom components (fcgi/custom.c): the list,
 * adding one (a kind picker, then the kind's fields from its config
 * schema), editing and removing it.  Saves go through the same check
 * as -t and the same history as every other save.
 *
 * Secrets typed here (a robot's webhook URL, its signing secret, a
 * webhook's URL) are written to files under <state_dir>/console/
 * secrets/ (0600) and the config names them as {"file": ...}: the
 * file never holds them in clear, which -t refuses for a URL carrying
 * a token.  A secret only ever goes to the destination it was stored
 * with: a new webhook URL needs the signing secret typed again.
 *
 *	GET  custom, GET/POST custom_edit?c=NAME[&kind=KIND],
 *	POST custom_remove
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "page.h"
#include "core/conf.h"
#include "core/confschema.h"
#include "core/log.h"
#include "core/request.h"
#include "custom.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "route.h"

/* The kinds the picker offers, in its order. */
static const char *const pick[] = { "dingtalk_robot", "feishu_robot",
    "wecom_robot", "webhook", NULL };

static void
add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static int
in(json_object *list, const char *s)
{
	size_t	 i;

	for (i = 0; i < json_object_array_length(list); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(
		    list, i)), s) == 0)
			return 1;
	return 0;
}

/* The file's components object, or NULL (created with create). */
static json_object *
comps_of(json_object *doc, int create)
{
	json_object	*v;

	if (json_object_object_get_ex(doc, "components", &v))
		return json_object_is_type(v, json_type_object) ? v : NULL;
	if (!create)
		return NULL;
	v = json_object_new_object();
	json_object_object_add(doc, "components", v);
	return v;
}

/* The kind named by string s, or CK__MAX. */
static enum custom_kind
kind_named(const char *s)
{
	json_object	*sec;
	enum custom_kind k;

	sec = json_object_new_object();
	add_str(sec, "kind", s);
	k = custom_kind_of(sec);
	json_object_put(sec);
	return k;
}

/* A name a custom component may take (custom.c says the same). */
static int
name_ok(const char *name)
{
	size_t	 n = strlen(name);

	return n > 0 && n < LIM_NAME && strspn(name,
	    "abcdefghijklmnopqrstuvwxyz0123456789_") == n &&
	    (route_by_name(name) == NULL || custom_route(name) != NULL) &&
	    strcmp(name, "wechat_callback") != 0;
}

/*
 * GET custom: the custom components the file declares, and the form
 * that starts a new one (name and kind; nothing is saved before the
 * kind's fields are).
 */
void
ccustom_list(struct console_rq *rq)
{
	json_object	*ctx, *rows, *row, *kinds, *o, *doc = NULL, *comps;
	char		*text, version[65];
	size_t		 i, len;

	text = csave_read(rq->conf->path, &len, version);
	if (text != NULL)
		doc = json_tokener_parse(text);
	free(text);
	ctx = page_ctx(rq);
	rows = json_object_new_array();
	comps = doc != NULL ? comps_of(doc, 0) : NULL;
	if (comps != NULL) {
		json_object_object_foreach(comps, name, sec) {
			if (!custom_is(sec))
				continue;
			row = json_object_new_object();
			add_str(row, "name", name);
			add_str(row, "kind", conf_str(sec, "kind"));
			add_str(row, "msg_type", *conf_str(sec, "msg_type") !=
			    '\0' ? conf_str(sec, "msg_type") :
			    strncmp(name, "send_", 5) == 0 ? name + 5 : name);
			json_object_object_add(row, "enabled",
			    json_object_new_boolean(conf_enabled(sec)));
			json_object_array_add(rows, row);
		}
	}
	kinds = json_object_new_array();
	for (i = 0; pick[i] != NULL; i++) {
		o = json_object_new_object();
		add_str(o, "value", pick[i]);
		json_object_array_add(kinds, o);
	}
	json_object_object_add(ctx, "rows", rows);
	json_object_object_add(ctx, "kinds", kinds);
	json_object_object_add(ctx, "none", json_object_new_boolean(
	    json_object_array_length(rows) == 0));
	json_object_put(doc);
	page_render(rq, 200, "console/custom", ctx);
}

/*
 * The secrets of nsec typed in this save (strings among the changed
 * keys that the schema marks x-secret) go to new files under
 * state_dir, one per save, and the section names them; their paths go
 * to made.  A file is never rewritten in place: until the save passes,
 * the live config keeps reading the old one.  Returns 0, or -1 with
 * why.
 */
static int
secrets_out(struct console_rq *rq, const char *name, json_object *schema,
    json_object *nsec, json_object *changed, json_object *made, char *why,
    size_t whysz)
{
	json_object	*v, *ref;
	const char	*key;
	char		 dir[LIM_PATH], path[LIM_PATH], tmp[LIM_PATH];
	size_t		 i;

	for (i = 0; i < json_object_array_length(changed); i++) {
		key = json_object_get_string(json_object_array_get_idx(changed,
		    i));
		if (!confschema_secret(schema, key) ||
		    !json_object_object_get_ex(nsec, key, &v) ||
		    !json_object_is_type(v, json_type_string))
			continue;
		if (csave_dir(rq, "secrets", dir, sizeof(dir)) == -1 ||
		    snprintf(path, sizeof(path), "%s/%s.%s.%s", dir, name, key,
		    rq->r->id) >= (int)sizeof(path) || snprintf(tmp,
		    sizeof(tmp), "%s/.%s.%s.%s", dir, name, key, rq->r->id) >=
		    (int)sizeof(tmp) || file_replace(tmp, path,
		    json_object_get_string(v), (size_t)json_object_get_string_len(
		    v), 0600, 1) == -1) {
			snprintf(why, whysz, "cannot keep the secret %s under "
			    "%s/console/secrets: %s", key, rq->conf->state_dir,
			    strerror(errno));
			return -1;
		}
		json_object_array_add(made, json_object_new_string(path));
		ref = json_object_new_object();
		add_str(ref, "file", path);
		json_object_object_add(nsec, key, ref);
	}
	return 0;
}

/*
 * Removes the secret files sec names under our secrets directory: for
 * the keys in only (NULL: every key).
 */
static void
secrets_gone(struct console_rq *rq, json_object *sec, json_object *only)
{
	json_object	*f;
	char		 dir[LIM_PATH];
	size_t		 n;

	if (sec == NULL || csave_dir(rq, "secrets", dir, sizeof(dir)) == -1)
		return;
	n = strlen(dir);
	json_object_object_foreach(sec, key, v) {
		if (only != NULL && !in(only, key))
			continue;
		if (json_object_is_type(v, json_type_object) &&
		    json_object_object_get_ex(v, "file", &f) &&
		    strncmp(json_object_get_string(f), dir, n) == 0 &&
		    json_object_get_string(f)[n] == '/' &&
		    strstr(json_object_get_string(f), "..") == NULL)
			(void)unlink(json_object_get_string(f));
	}
}

/*
 * GET custom_edit?c=NAME[&kind=KIND]: the fields of the component's
 * kind (KIND for a new one).  POST custom_edit: the save.
 */
void
ccustom_edit(struct console_rq *rq)
{
	json_object	*doc = NULL, *schema = NULL, *comps, *sec = NULL,
			*nsec = NULL, *ctx, *errs = NULL, *changed = NULL;
	json_object	*made;
	struct confschema_err	 ce[32];
	enum custom_kind k;
	struct buf	 b;
	const char	*name, *url, *out, *notice = NULL;
	char		*text = NULL, version[65], why[LIM_PROBLEMS];
	char		 page[LIM_PATH];
	size_t		 len;
	int		 post = rq->form != NULL, lockfd = -1, i, n, status = 200;

	buf_init(&b, LIM_CONF);
	made = json_object_new_array();
	why[0] = '\0';
	name = page_param(rq, "c");
	if (!name_ok(name)) {
		page_text(rq, 404, "No such custom component: a name is 1 "
		    "to 63 of a-z, 0-9 and _, and no built-in's.");
		goto out;
	}
	if (csave_open(rq, post, &lockfd, &text, &len, version, &doc) == -1)
		goto out;
	/* Held: the save replaces it in doc, and its secrets go after. */
	if ((comps = comps_of(doc, 0)) != NULL &&
	    json_object_object_get_ex(comps, name, &sec))
		json_object_get(sec);
	if (sec != NULL && !custom_is(sec)) {
		page_text(rq, 404, "Not a custom component.");
		goto out;
	}
	k = kind_named(sec != NULL ? conf_str(sec, "kind") :
	    page_param(rq, "kind"));
	if (k == CK__MAX || (schema = confschema_doc(rq->conf->schemas_dir,
	    custom_kind_schema(k))) == NULL) {
		page_text(rq, 404, "No such kind.");
		goto out;
	}
	if (!post)
		goto show;

	if (!secret_eq(page_param(rq, "version"), version)) {
		notice = page_str(rq, "stale");
		status = 409;
		goto show;
	}
	if (sec != NULL)
		json_object_deep_copy(sec, &nsec, NULL);
	else
		nsec = json_object_new_object();
	add_str(nsec, "kind", custom_kind_name(k));
	changed = json_object_new_array();
	if (cform_apply(schema, nsec, rq->form, changed) == 0 && sec != NULL) {
		snprintf(page, sizeof(page), "custom_edit?c=%s&saved=0", name);
		page_redirect(rq, page);
		goto out;
	}
	/*
	 * A secret goes only where it was stored for: a new destination
	 * takes the signing secret typed again, and a webhook's headers
	 * (which may carry credentials) are the file's to change.
	 */
	url = k == CK_WEBHOOK ? "url" : "webhook";
	errs = json_object_new_object();
	if (sec != NULL && in(changed, url) &&
	    json_object_object_get_ex(sec, "secret", NULL) &&
	    !in(changed, "secret"))
		add_str(errs, "secret", page_str(rq, "custom_resecret"));
	if (sec != NULL && in(changed, url) &&
	    json_object_object_get_ex(sec, "headers", NULL))
		add_str(errs, url, page_str(rq, "custom_reheaders"));
	if (json_object_object_length(errs) > 0) {
		notice = page_str(rq, "invalid");
		status = 422;
		goto show;
	}
	n = confschema_check(rq->conf->schemas_dir, custom_kind_schema(k), nsec,
	    ce, sizeof(ce) / sizeof(ce[0]));
	if (n != 0) {
		for (i = 0; i < n || (n == -1 && i == 0); i++)
			json_object_object_add(errs, ce[i].key[0] != '\0' ?
			    ce[i].key : "", json_object_new_string(ce[i].msg));
		notice = page_str(rq, "invalid");
		status = 422;
		goto show;
	}
	if (secrets_out(rq, name, schema, nsec, changed, made, why,
	    sizeof(why)) == -1) {
		notice = page_str(rq, "check_failed");
		status = 422;
		goto show;
	}
	comps = comps_of(doc, 1);
	json_object_object_add(comps, name, json_object_get(nsec));
	out = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (buf_puts(&b, out) == -1 || buf_putc(&b, '\n') == -1) {
		notice = "the config file would be too large";
		status = 422;
		goto show;
	}
	if (csave_replace(rq, text, len, b.ptr, sec != NULL ? "console.save" :
	    "console.add", name, changed, why, sizeof(why)) == -1) {
		notice = page_str(rq, "check_failed");
		status = 422;
		goto show;
	}
	/* The old secrets of the keys retyped are no one's now. */
	secrets_gone(rq, sec, changed);
	json_object_array_del_idx(made, 0, json_object_array_length(made));
	log_info("console: %s saved custom component %s (%zu keys)", rq->user,
	    name, json_object_array_length(changed));
	snprintf(page, sizeof(page), "custom_edit?c=%s&saved=1", name);
	page_redirect(rq, page);
	goto out;
show:
	ctx = page_ctx(rq);
	add_str(ctx, "name", name);
	add_str(ctx, "kind", custom_kind_name(k));
	add_str(ctx, "version", version);
	json_object_object_add(ctx, "new", json_object_new_boolean(
	    sec == NULL));
	json_object_object_add(ctx, "fields", cform_fields(schema, sec,
	    post ? rq->form : NULL, errs, rq->zh));
	if (!post && strcmp(page_param(rq, "saved"), "1") == 0)
		notice = page_str(rq, "saved");
	else if (!post && strcmp(page_param(rq, "saved"), "0") == 0)
		notice = page_str(rq, "unchanged");
	if (notice != NULL)
		add_str(ctx, "notice", notice);
	json_object_object_add(ctx, "failed", json_object_new_boolean(
	    status != 200));
	if (errs != NULL && json_object_object_get_ex(errs, "", NULL))
		json_object_object_add(ctx, "problems", json_object_get(
		    json_object_object_get(errs, "")));
	else if (why[0] != '\0')
		add_str(ctx, "problems", why);
	page_render(rq, status, "console/custom_edit", ctx);
out:
	/* A save that did not pass leaves no secret file behind. */
	for (i = 0; i < (int)json_object_array_length(made); i++)
		(void)unlink(json_object_get_string(json_object_array_get_idx(
		    made, (size_t)i)));
	json_object_put(made);
	if (lockfd != -1)
		close(lockfd);
	buf_free(&b);
	json_object_put(sec);
	json_object_put(changed);
	json_object_put(errs);
	json_object_put(nsec);
	json_object_put(doc);
	json_object_put(schema);
	free(text);
}

/* POST custom_remove (c=NAME): the section goes, and its secret files. */
void
ccustom_remove(struct console_rq *rq)
{
	json_object	*doc = NULL, *comps, *sec = NULL, *keys;
	const char	*name = page_param(rq, "c"), *out;
	char		*text = NULL, version[65], why[LIM_PROBLEMS];
	size_t		 len;
	int		 lockfd = -1;

	if (!page_writable(rq->conf->path)) {
		page_text(rq, 403, "The config file is read-only.");
		goto out;
	}
	if ((lockfd = csave_lock(rq)) == -1) {
		page_text(rq, 500, "The save lock cannot be taken.");
		goto out;
	}
	text = csave_read(rq->conf->path, &len, version);
	if (text == NULL || (doc = json_tokener_parse(text)) == NULL ||
	    (comps = comps_of(doc, 0)) == NULL ||
	    !json_object_object_get_ex(comps, name, &sec) || !custom_is(sec)) {
		sec = NULL;	/* borrowed until taken below */
		page_text(rq, 404, "No such custom component.");
		goto out;
	}
	json_object_get(sec);
	json_object_object_del(comps, name);
	out = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	keys = json_object_new_array();
	json_object_array_add(keys, json_object_new_string(name));
	if (csave_replace(rq, text, len, out, "console.remove", name, keys, why,
	    sizeof(why)) == -1) {
		json_object_put(keys);
		page_text(rq, 422, why);
		goto out;
	}
	json_object_put(keys);
	/* The history keeps the file's references, not the secrets. */
	secrets_gone(rq, sec, NULL);
	log_info("console: %s removed custom component %s", rq->user, name);
	page_redirect(rq, "custom");
out:
	if (lockfd != -1)
		close(lockfd);
	json_object_put(sec);
	json_object_put(doc);
	free(text);
}
