/*
 * The Edit page's save, the history and the rollback.  A save rebuilds
 * the config file from its own JSON with only the changed keys of one
 * section touched (json-c keeps key order; "comment" keys and secret
 * references stay), checks the result with conf_load exactly as
 * cmsi.fcgi -t does, and replaces the file atomically: a temp file in
 * its directory, fsync, rename.  Saves are serialised by a lock file,
 * and a save made from a page older than the file (its SHA-256 in the
 * form) is refused.  The replaced version goes to <state_dir>/console/
 * history (the last LIM_HISTORY), and the audit log names who changed
 * which keys, never a value.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "lib/buf.h"
#include "core/conf.h"
#include "core/confschema.h"
#include "console.h"
#include "lib/limits.h"
#include "core/log.h"
#include "core/request.h"
#include "lib/util.h"

#define HIST_STAMP_LEN	25	/* "20260101T000000-123456789" */
#define HIST_EXT	".json"	/* the config's versions */

/*
 * Reads the config file whole (at most LIM_CONF) and its SHA-256 as
 * hex into version, the token of a page drawn from it.  Returns the
 * text (caller frees) or NULL.
 */
char *
csave_read(const char *path, size_t *lenp, char version[65])
{
	unsigned char	 md[32];
	struct stat	 st;
	char		*text;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > LIM_CONF) {
		close(fd);
		return NULL;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	    (n = read(fd, text + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	text[got] = '\0';
	gnutls_hash_fast(GNUTLS_DIG_SHA256, text, got, md);
	cauth_hex(md, sizeof(md), version);
	*lenp = got;
	return text;
}

/* Whether the console may replace the file: it and its directory. */
int
csave_writable(const char *path)
{
	char	*d = xstrdup(path);
	int	 ok;

	ok = access(path, W_OK) == 0 && access(dirname(d), W_OK) == 0;
	free(d);
	return ok;
}

/*
 * <state_dir>/console[/sub], created on the way (sub may have several
 * levels, "templates/mail.html").  Returns 0 or -1.
 */
int
csave_dir(const struct console_rq *rq, const char *sub, char *out,
    size_t outsz)
{
	size_t	 i, n;

	if (snprintf(out, outsz, "%s/console", rq->conf->state_dir) >=
	    (int)outsz || (mkdir(out, 0700) == -1 && errno != EEXIST))
		return -1;
	n = sub != NULL ? strlen(sub) : 0;
	for (i = 1; i <= n; i++) {
		if (sub[i] != '/' && sub[i] != '\0')
			continue;
		if (snprintf(out, outsz, "%s/console/%.*s",
		    rq->conf->state_dir, (int)i, sub) >= (int)outsz ||
		    (mkdir(out, 0700) == -1 && errno != EEXIST))
			return -1;
	}
	return 0;
}

/*
 * The save lock (config and templates alike), held until close.
 * Returns the fd or -1.
 */
int
csave_lock(const struct console_rq *rq)
{
	char	 path[LIM_PATH], dir[LIM_PATH];
	int	 fd;

	if (snprintf(path, sizeof(path), "%s/console/save.lock",
	    rq->conf->state_dir) >= (int)sizeof(path) ||
	    csave_dir(rq, NULL, dir, sizeof(dir)) == -1)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A history file name: "20260101T000000-123456789" and ext. */
int
csave_hist_ok(const char *s, const char *ext)
{
	return strlen(s) == HIST_STAMP_LEN + strlen(ext) &&
	    strspn(s, "0123456789T-") == HIST_STAMP_LEN &&
	    strcmp(s + HIST_STAMP_LEN, ext) == 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)b, *(char *const *)a);
}

/*
 * The file names of the history in <state_dir>/console/sub, newest
 * first, at most max (the rest are removed when prune is set).
 * Returns the count; names are owned by the caller (free each).
 */
size_t
csave_hist_list(const struct console_rq *rq, const char *sub,
    const char *ext, char **names, size_t max, int prune)
{
	char		 dir[LIM_PATH], path[LIM_PATH];
	char		*all[256];
	DIR		*d;
	struct dirent	*de;
	size_t		 n = 0, i, kept = 0;

	if (csave_dir(rq, sub, dir, sizeof(dir)) == -1 ||
	    (d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < 256)
		if (csave_hist_ok(de->d_name, ext))
			all[n++] = xstrdup(de->d_name);
	closedir(d);
	qsort(all, n, sizeof(all[0]), name_cmp);
	for (i = 0; i < n; i++) {
		if (i < max) {
			names[kept++] = all[i];
			continue;
		}
		if (prune && snprintf(path, sizeof(path), "%s/%s", dir,
		    all[i]) < (int)sizeof(path))
			unlink(path);
		free(all[i]);
	}
	return kept;
}

/*
 * Keeps text (the version being replaced) in the history under sub,
 * the last LIM_HISTORY; its file name goes to name (may be NULL).
 * Returns 0 or -1.
 */
int
csave_hist_keep(const struct console_rq *rq, const char *sub,
    const char *ext, const char *text, size_t len, char *name,
    size_t namesz)
{
	char		 dir[LIM_PATH], path[LIM_PATH], tmp[LIM_PATH];
	char		 stamp[32], file[64];
	char		*names[LIM_HISTORY];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 i, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	if (snprintf(file, sizeof(file), "%s-%09ld%s", stamp, ts.tv_nsec,
	    ext) >= (int)sizeof(file) ||
	    csave_dir(rq, sub, dir, sizeof(dir)) == -1 ||
	    snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	if (file_replace(tmp, path, text, len, 0600, 1) == -1)
		return -1;
	if (name != NULL)
		(void)str_copy(name, file, namesz);
	n = csave_hist_list(rq, sub, ext, names, LIM_HISTORY, 1);
	for (i = 0; i < n; i++)
		free(names[i]);
	return 0;
}

/*
 * Writes text over the config file: a temp file beside it (same mode),
 * fsync, checked by conf_load as -t would, then rename and an fsync of
 * the directory.  The version replaced goes to the history first.
 * Returns 0, or -1 with why filled (the check's problem lines).
 */
static int
replace_conf(const struct console_rq *rq, const char *old, size_t oldlen,
    const char *text, char *why, size_t whysz)
{
	struct conf	*c;
	struct stat	 st;
	char		 tmp[LIM_PATH], *d = NULL;
	int		 fd = -1, nbad, rc = -1;
	size_t		 n = strlen(text);

	d = xstrdup(rq->conf->path);
	if (stat(rq->conf->path, &st) == -1 ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.console-%ld.tmp", dirname(d),
	    strrchr(rq->conf->path, '/') != NULL ?
	    strrchr(rq->conf->path, '/') + 1 : rq->conf->path,
	    (long)getpid()) >= (int)sizeof(tmp)) {
		snprintf(why, whysz, "the config file cannot be read");
		goto out;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    st.st_mode & 0666);
	if (fd == -1 || write(fd, text, n) != (ssize_t)n || fsync(fd) == -1) {
		snprintf(why, whysz, "cannot write beside the config file: %s",
		    strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	c = conf_load(tmp, &nbad);
	if (c == NULL) {
		snprintf(why, whysz, "%s", conf_problems());
		goto out;
	}
	conf_free(c);
	if (csave_hist_keep(rq, "history", HIST_EXT, old, oldlen, NULL, 0) ==
	    -1) {
		snprintf(why, whysz, "cannot keep the previous version under "
		    "%s", rq->conf->state_dir);
		goto out;
	}
	if (rename(tmp, rq->conf->path) == -1) {
		snprintf(why, whysz, "cannot replace the config file: %s",
		    strerror(errno));
		goto out;
	}
	dir_fsync(d);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1)
		unlink(tmp);
	free(d);
	return rc;
}

static void
audit(const struct console_rq *rq, const char *event, const char *tenant,
    const char *comp, json_object *keys, const char *extra)
{
	json_object	*rec;

	rec = log_audit_record(rq->r->id, comp);
	json_object_object_add(rec, "event", json_object_new_string(event));
	json_object_object_add(rec, "user", json_object_new_string(rq->user));
	json_object_object_add(rec, "tenant", json_object_new_string(
	    *tenant != '\0' ? tenant : "system"));
	if (keys != NULL)
		json_object_object_add(rec, "keys", json_object_get(keys));
	if (extra != NULL)
		json_object_object_add(rec, "version",
		    json_object_new_string(extra));
	(void)log_audit(rq->conf->state_dir, rec);
	json_object_put(rec);
}

/*
 * The object holding the components a save edits: the top level's, or
 * tenants.<id>.components; created when create is set.  NULL when the
 * tenant is unknown or the file's shape is not ours.
 */
static json_object *
comps_of(json_object *doc, const char *tenant, int create)
{
	json_object	*t, *v;

	if (*tenant != '\0') {
		if (!json_object_object_get_ex(doc, "tenants", &t) ||
		    !json_object_object_get_ex(t, tenant, &t) ||
		    !json_object_is_type(t, json_type_object))
			return NULL;
		doc = t;
	}
	if (json_object_object_get_ex(doc, "components", &v))
		return json_object_is_type(v, json_type_object) ? v : NULL;
	if (!create)
		return NULL;
	v = json_object_new_object();
	json_object_object_add(doc, "components", v);
	return v;
}

/*
 * Puts section nsec as component name (of tenant, "" for the top) into
 * doc, the parsed config file whose text is old, and writes the result
 * through replace_conf, then the audit record (event, the keys in
 * changed).  The Edit page's save and --import (cimport_run) share it.
 * b is scratch.  Returns 0; 1 when the file would be too large; -1
 * when the check or the write failed (why says).
 */
static int
put_section(const struct console_rq *rq, json_object *doc, const char *old,
    size_t oldlen, const char *tenant, const char *name, json_object *nsec,
    json_object *changed, const char *event, struct buf *b, char *why,
    size_t whysz)
{
	json_object	*comps;
	const char	*out;

	comps = comps_of(doc, tenant, 1);
	if (comps == NULL) {
		snprintf(why, whysz, "the config file's components is no "
		    "object");
		return -1;
	}
	json_object_object_add(comps, name, json_object_get(nsec));
	out = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (buf_puts(b, out) == -1 || buf_putc(b, '\n') == -1)
		return 1;
	if (replace_conf(rq, old, oldlen, b->ptr, why, whysz) == -1)
		return -1;
	audit(rq, event, tenant, name, changed, NULL);
	return 0;
}

/*
 * --import: values (key -> value) over the top level's section of
 * component name, as one save: the same lock, schema check, whole-file
 * check, history and audit record ("console.import") as the Edit page.
 * A value equal to the file's is no change.  Returns the number of keys
 * changed (0: nothing written), or -1 with the problems in why (one a
 * line, "key: message"; nothing written).
 */
int
csave_import(const struct console_rq *rq, const char *name,
    json_object *values, char *why, size_t whysz)
{
	json_object	*schema = NULL, *doc = NULL, *comps, *sec = NULL,
			*nsec = NULL, *changed = NULL, *old;
	struct confschema_err	 ce[32];
	struct buf	 b;
	char		*text = NULL, version[65];
	size_t		 len, used;
	int		 lockfd = -1, i, n, rc = -1;

	buf_init(&b, LIM_CONF);
	why[0] = '\0';
	if ((schema = confschema_doc(rq->conf->schemas_dir, name)) == NULL) {
		snprintf(why, whysz, "%s: unknown component", name);
		goto out;
	}
	if (!csave_writable(rq->conf->path)) {
		snprintf(why, whysz, "%s: the config file or its directory "
		    "cannot be written", rq->conf->path);
		goto out;
	}
	if ((lockfd = csave_lock(rq)) == -1) {
		snprintf(why, whysz, "the save lock under %s/console cannot "
		    "be taken", rq->conf->state_dir);
		goto out;
	}
	text = csave_read(rq->conf->path, &len, version);
	if (text == NULL || (doc = json_tokener_parse(text)) == NULL ||
	    !json_object_is_type(doc, json_type_object)) {
		snprintf(why, whysz, "%s: cannot be read", rq->conf->path);
		goto out;
	}
	if ((comps = comps_of(doc, "", 0)) != NULL)
		json_object_object_get_ex(comps, name, &sec);
	if (sec != NULL)
		json_object_deep_copy(sec, &nsec, NULL);
	else
		nsec = json_object_new_object();
	changed = json_object_new_array();
	json_object_object_foreach(values, key, val) {
		if (json_object_object_get_ex(nsec, key, &old) &&
		    json_object_equal(old, val))
			continue;
		json_object_object_add(nsec, key, json_object_get(val));
		json_object_array_add(changed, json_object_new_string(key));
	}
	if (json_object_array_length(changed) == 0) {
		rc = 0;
		goto out;
	}
	n = confschema_check(rq->conf->schemas_dir, name, nsec, ce,
	    sizeof(ce) / sizeof(ce[0]));
	for (i = 0, used = 0; i < n || (n == -1 && i == 0); i++) {
		if (used < whysz)
			used += (size_t)snprintf(why + used, whysz - used,
			    "%s%s%s\n", ce[i].key, *ce[i].key != '\0' ? ": " :
			    "", ce[i].msg);
	}
	if (n != 0)
		goto out;
	i = put_section(rq, doc, text, len, "", name, nsec, changed,
	    "console.import", &b, why, whysz);
	if (i == 1)
		snprintf(why, whysz, "the config file would be too large");
	if (i == 0)
		rc = (int)json_object_array_length(changed);
out:
	if (lockfd != -1)
		close(lockfd);
	buf_free(&b);
	json_object_put(changed);
	json_object_put(nsec);
	json_object_put(doc);
	json_object_put(schema);
	free(text);
	return rc;
}

/*
 * GET edit?c=NAME[&tenant=ID]: the Component Configuration tab.  POST
 * edit: the save.  On a problem the form comes back with what the
 * operator typed (never a secret) and the message beside the field.
 */
void
csave_edit(struct console_rq *rq)
{
	json_object	*doc = NULL, *schema = NULL, *comps, *sec = NULL,
			*nsec = NULL, *ctx, *errs = NULL, *changed = NULL;
	struct confschema_err	 ce[32];
	struct buf	 b;
	const char	*name, *tenant, *notice = NULL;
	char		*text = NULL, version[65], why[LIM_PROBLEMS];
	char		 page[LIM_PATH];
	size_t		 len;
	int		 post = rq->form != NULL, lockfd = -1, i, n, status = 200;

	buf_init(&b, LIM_CONF);
	name = console_param(rq, "c");
	tenant = console_param(rq, "tenant");
	why[0] = '\0';
	schema = confschema_doc(rq->conf->schemas_dir, name);
	if (schema == NULL) {
		console_text(rq, 404, "No such component.");
		goto out;
	}
	/* A tenant id is a token (conf.c): it goes into a Location. */
	if (strlen(tenant) >= LIM_NAME || strspn(tenant, "abcdefghijklmnop"
	    "qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
	    strlen(tenant)) {
		console_text(rq, 404, "No such tenant.");
		goto out;
	}
	if (post && !csave_writable(rq->conf->path)) {
		console_text(rq, 403, "The config file is read-only.");
		goto out;
	}
	if (post && (lockfd = csave_lock(rq)) == -1) {
		console_text(rq, 500, "The save lock cannot be taken.");
		goto out;
	}
	text = csave_read(rq->conf->path, &len, version);
	if (text == NULL || (doc = json_tokener_parse(text)) == NULL ||
	    !json_object_is_type(doc, json_type_object)) {
		console_text(rq, 500, "The config file cannot be read.");
		goto out;
	}
	comps = comps_of(doc, tenant, 0);
	if (*tenant != '\0' && comps == NULL && comps_of(doc, tenant, 1) ==
	    NULL) {
		console_text(rq, 404, "No such tenant.");
		goto out;
	}
	if (comps != NULL)
		json_object_object_get_ex(comps, name, &sec);
	if (!post)
		goto show;

	if (!secret_eq(console_param(rq, "version"), version)) {
		notice = console_str(rq, "stale");
		status = 409;
		goto show;
	}
	if (sec != NULL)
		json_object_deep_copy(sec, &nsec, NULL);
	else
		nsec = json_object_new_object();
	changed = json_object_new_array();
	if (cform_apply(schema, nsec, rq->form, changed) == 0) {
		snprintf(page, sizeof(page), "edit?c=%s&tenant=%s&saved=0",
		    name, tenant);
		console_redirect(rq, page);
		goto out;
	}
	n = confschema_check(rq->conf->schemas_dir, name, nsec, ce,
	    sizeof(ce) / sizeof(ce[0]));
	if (n != 0) {
		errs = json_object_new_object();
		for (i = 0; i < n || (n == -1 && i == 0); i++)
			json_object_object_add(errs, ce[i].key[0] != '\0' ?
			    ce[i].key : "", json_object_new_string(ce[i].msg));
		notice = console_str(rq, "invalid");
		status = 422;
		goto show;
	}
	if ((i = put_section(rq, doc, text, len, tenant, name, nsec, changed,
	    "console.save", &b, why, sizeof(why))) != 0) {
		notice = i == 1 ? "the config file would be too large" :
		    console_str(rq, "check_failed");
		status = 422;
		goto show;
	}
	log_info("console: %s saved %s%s%s (%zu keys)", rq->user,
	    *tenant != '\0' ? tenant : "", *tenant != '\0' ? "/" : "", name,
	    json_object_array_length(changed));
	snprintf(page, sizeof(page), "edit?c=%s&tenant=%s&saved=1", name,
	    tenant);
	console_redirect(rq, page);
	goto out;
show:
	ctx = console_ctx(rq);
	json_object_object_add(ctx, "name", json_object_new_string(name));
	json_object_object_add(ctx, "tenant", json_object_new_string(tenant));
	json_object_object_add(ctx, "version", json_object_new_string(
	    version));
	json_object_object_add(ctx, "fields", cform_fields(schema, sec,
	    post ? rq->form : NULL, errs, rq->zh));
	json_object_object_add(ctx, "inherited", json_object_new_boolean(
	    *tenant != '\0' && sec == NULL));
	if (!post && strcmp(console_param(rq, "saved"), "1") == 0)
		notice = console_str(rq, "saved");
	else if (!post && strcmp(console_param(rq, "saved"), "0") == 0)
		notice = console_str(rq, "unchanged");
	if (notice != NULL)
		json_object_object_add(ctx, "notice",
		    json_object_new_string(notice));
	json_object_object_add(ctx, "failed", json_object_new_boolean(
	    status != 200));
	if (errs != NULL && json_object_object_get_ex(errs, "", NULL))
		json_object_object_add(ctx, "problems", json_object_get(
		    json_object_object_get(errs, "")));
	else if (why[0] != '\0')
		json_object_object_add(ctx, "problems",
		    json_object_new_string(why));
	console_page(rq, status, "console/edit", ctx);
out:
	if (lockfd != -1)
		close(lockfd);
	buf_free(&b);
	json_object_put(changed);
	json_object_put(errs);
	json_object_put(nsec);
	json_object_put(doc);
	json_object_put(schema);
	free(text);
}

/*
 * GET history: the kept versions, newest first; history?v=NAME shows
 * one with every literal secret replaced by "******".
 */
void
csave_history(struct console_rq *rq)
{
	json_object	*ctx, *list, *e, *doc;
	char		*names[LIM_HISTORY], dir[LIM_PATH], path[LIM_PATH];
	char		 label[32];
	const char	*v = console_param(rq, "v");
	size_t		 i, n;

	ctx = console_ctx(rq);
	if (*v != '\0') {
		if (!csave_hist_ok(v, HIST_EXT) || csave_dir(rq, "history", dir,
		    sizeof(dir)) == -1 || snprintf(path, sizeof(path),
		    "%s/%s", dir, v) >= (int)sizeof(path) ||
		    (doc = json_object_from_file(path)) == NULL) {
			json_object_put(ctx);
			console_text(rq, 404, "No such version.");
			return;
		}
		cform_redact(doc, "");
		json_object_object_add(ctx, "view", json_object_new_string(v));
		json_object_object_add(ctx, "text", json_object_new_string(
		    json_object_to_json_string_ext(doc,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)));
		json_object_put(doc);
	}
	list = json_object_new_array();
	n = csave_hist_list(rq, "history", HIST_EXT, names, LIM_HISTORY, 0);
	for (i = 0; i < n; i++) {
		e = json_object_new_object();
		json_object_object_add(e, "v", json_object_new_string(
		    names[i]));
		/* 20260101T000000 -> 2026-01-01 00:00:00 UTC */
		snprintf(label, sizeof(label), "%.4s-%.2s-%.2s %.2s:%.2s:%.2s",
		    names[i], names[i] + 4, names[i] + 6, names[i] + 9,
		    names[i] + 11, names[i] + 13);
		json_object_object_add(e, "when", json_object_new_string(
		    label));
		json_object_array_add(list, e);
		free(names[i]);
	}
	json_object_object_add(ctx, "versions", list);
	if (strcmp(console_param(rq, "rolled"), "1") == 0)
		json_object_object_add(ctx, "notice", json_object_new_string(
		    console_str(rq, "rolled_back")));
	console_page(rq, 200, "console/history", ctx);
}

/* POST rollback: a kept version becomes the file, checked like a save. */
void
csave_rollback(struct console_rq *rq)
{
	const char	*v = console_param(rq, "v");
	char		 dir[LIM_PATH], path[LIM_PATH], version[65];
	char		 hv[65], why[LIM_PROBLEMS];
	char		*old = NULL, *cur = NULL;
	size_t		 oldlen, curlen;
	int		 lockfd = -1;

	if (!csave_writable(rq->conf->path)) {
		console_text(rq, 403, "The config file is read-only.");
		return;
	}
	if (!csave_hist_ok(v, HIST_EXT) || csave_dir(rq, "history", dir,
	    sizeof(dir)) == -1 || snprintf(path, sizeof(path), "%s/%s", dir,
	    v) >= (int)sizeof(path) ||
	    (old = csave_read(path, &oldlen, hv)) == NULL) {
		console_text(rq, 404, "No such version.");
		goto out;
	}
	if ((lockfd = csave_lock(rq)) == -1 ||
	    (cur = csave_read(rq->conf->path, &curlen, version)) == NULL) {
		console_text(rq, 500, "The config file cannot be read.");
		goto out;
	}
	if (replace_conf(rq, cur, curlen, old, why, sizeof(why)) == -1) {
		log_warnx("console: rollback to %s refused: %s", v, why);
		console_text(rq, 422, "That version does not pass the check "
		    "any more; see the log.");
		goto out;
	}
	audit(rq, "console.rollback", "", "-", NULL, v);
	log_info("console: %s rolled the config back to %s", rq->user, v);
	console_redirect(rq, "history?rolled=1");
out:
	if (lockfd != -1)
		close(lockfd);
	free(old);
	free(cur);
}
