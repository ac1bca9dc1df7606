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

#include "core/conf.h"
#include "core/confschema.h"
#include "core/log.h"
#include "core/request.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "page.h"

#define HIST_STAMP_LEN	25	/* "20260101T000000-123456789" */
#define HIST_EXT	".json"	/* the config's versions */
#define HIST_META	".meta"	/* who replaced a version, and what */
#define HIST_PAGE	20	/* versions a History page shows */
#define HIST_DIFF	40	/* lines of one version's diff */
#define HIST_DAYS	14	/* versions younger than this are kept... */
#define HIST_CAP	2000	/* ...up to this many... */
#define HIST_BYTES	(256LL * 1024 * 1024) /* ...taking at most this */
#define HIST_SCAN	8192	/* names read from the directory at most */
#define CFORM_PATH_MAX	256	/* a diff line's path (form.c's cap) */

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
 * The config file opened for the Edit pages: when post (a save), the
 * file writable and the save lock taken (*lockfd, the caller closes);
 * its text (*text, the caller frees), version and document (*doc, an
 * object, the caller puts).  On a problem the page is answered and -1
 * returned.
 */
int
csave_open(struct console_rq *rq, int post, int *lockfd, char **text,
    size_t *len, char version[65], json_object **doc)
{
	if (post && !page_writable(rq->conf->path)) {
		page_text(rq, 403, "The config file is read-only.");
		return -1;
	}
	if (post && (*lockfd = csave_lock(rq)) == -1) {
		page_text(rq, 500, "The save lock cannot be taken.");
		return -1;
	}
	*text = csave_read(rq->conf->path, len, version);
	if (*text == NULL || (*doc = json_tokener_parse(*text)) == NULL ||
	    !json_object_is_type(*doc, json_type_object)) {
		page_text(rq, 500, "The config file cannot be read.");
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

/* When a history name was written: its stamp as UTC, or 0. */
static time_t
hist_time(const char *name)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	if (strptime(name, "%Y%m%dT%H%M%S", &tm) == NULL)
		return 0;
	return timegm(&tm);
}

/*
 * The file names of the history in <state_dir>/console/sub, newest
 * first, at most max.  With prune set the rest are removed, but only
 * what is old: the newest LIM_HISTORY always stay, and so does every
 * version younger than HIST_DAYS while there are fewer than HIST_CAP
 * of them and they take less than HIST_BYTES.  A busy afternoon of
 * saves then cannot push yesterday's version out (the count alone
 * did, at 20).  Each version's note (.meta) goes with it.  Returns
 * the count; names are owned by the caller (free each).
 */
size_t
csave_hist_list(const struct console_rq *rq, const char *sub,
    const char *ext, char **names, size_t max, int prune)
{
	char		 dir[LIM_PATH], path[LIM_PATH];
	char		**all = NULL;
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	size_t		 n = 0, cap = 0, i, kept = 0;
	long long	 bytes = 0;
	time_t		 now = time(NULL);
	int		 keep;

	if (csave_dir(rq, sub, dir, sizeof(dir)) == -1 ||
	    (d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < HIST_SCAN) {
		if (!csave_hist_ok(de->d_name, ext))
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			all = xrealloc(all, cap * sizeof(*all));
		}
		all[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(all, n, sizeof(all[0]), name_cmp);
	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, all[i]) >=
		    (int)sizeof(path))
			path[0] = '\0';
		if (prune && path[0] != '\0' && stat(path, &st) == 0)
			bytes += st.st_size;
		keep = i < LIM_HISTORY || (i < HIST_CAP &&
		    bytes <= HIST_BYTES && now - hist_time(all[i]) <
		    HIST_DAYS * 86400);
		if (i < max && (keep || !prune)) {
			names[kept++] = all[i];
			continue;
		}
		if (prune && !keep && path[0] != '\0') {
			unlink(path);
			if (snprintf(path, sizeof(path), "%s/%.*s%s", dir,
			    HIST_STAMP_LEN, all[i], HIST_META) <
			    (int)sizeof(path))
				unlink(path);
		}
		free(all[i]);
	}
	free(all);
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
    const char *text, char *why, size_t whysz, char *hname, size_t hnamesz)
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
	if (csave_hist_keep(rq, "history", HIST_EXT, old, oldlen, hname,
	    hnamesz) == -1) {
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
 * Writes beside history version hname (the one just replaced) who
 * replaced it and how: <stamp>.meta, {"user", "event", "tenant",
 * "component", "keys", "to"}.  History shows it; no value is in it.
 */
static void
hist_note(const struct console_rq *rq, const char *hname, const char *event,
    const char *tenant, const char *comp, json_object *keys, const char *to)
{
	json_object	*m;
	char		 dir[LIM_PATH], path[LIM_PATH], tmp[LIM_PATH];
	const char	*s;

	if (!csave_hist_ok(hname, HIST_EXT) ||
	    csave_dir(rq, "history", dir, sizeof(dir)) == -1 ||
	    snprintf(path, sizeof(path), "%s/%.*s%s", dir, HIST_STAMP_LEN,
	    hname, HIST_META) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	m = json_object_new_object();
	json_object_object_add(m, "user", json_object_new_string(rq->user));
	json_object_object_add(m, "event", json_object_new_string(event));
	json_object_object_add(m, "tenant", json_object_new_string(tenant));
	json_object_object_add(m, "component", json_object_new_string(comp));
	if (keys != NULL)
		json_object_object_add(m, "keys", json_object_get(keys));
	if (to != NULL)
		json_object_object_add(m, "to", json_object_new_string(to));
	s = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN);
	if (file_replace(tmp, path, s, strlen(s), 0600, 1) == -1)
		log_warnx("console: cannot note who changed %s", hname);
	json_object_put(m);
}

/*
 * A message of the config check in the page's language: strings.json
 * "errors" maps the English wording; what it lacks stays English.
 */
static const char *
tr(struct console_rq *rq, const char *msg)
{
	json_object	*m;

	if (rq->t != NULL && (m = jv_get(rq->t, "errors")) != NULL &&
	    json_object_is_type(jv_get(m, msg), json_type_string))
		return json_object_get_string(jv_get(m, msg));
	return msg;
}

/* The check's lines, "where: what", with what in the page's language. */
static void
tr_lines(struct console_rq *rq, const char *in, char *out, size_t outsz)
{
	const char	*nl, *sep;
	char		 line[512];
	size_t		 len = 0, n;
	int		 w;

	out[0] = '\0';
	while (*in != '\0' && len + 1 < outsz) {
		nl = strchr(in, '\n');
		n = nl != NULL ? (size_t)(nl - in) : strlen(in);
		snprintf(line, sizeof(line), "%.*s", (int)n, in);
		sep = strstr(line, ": ");
		if (sep != NULL)
			w = snprintf(out + len, outsz - len, "%.*s: %s\n",
			    (int)(sep - line), line, tr(rq, sep + 2));
		else
			w = snprintf(out + len, outsz - len, "%s\n", line);
		if (w < 0 || (size_t)w >= outsz - len)
			break;
		len += (size_t)w;
		in += n + (nl != NULL);
	}
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

/* The message beside a secret whose destination changed under it. */
#define AGAIN_EN	"type the password again: the server changed"
#define AGAIN_ZH	"服务器已更改，请重新输入密码"

/* Whether the array changed names key. */
static int
changed_has(json_object *changed, const char *key)
{
	size_t	 i;

	for (i = 0; i < json_object_array_length(changed); i++)
		if (strcmp(json_object_get_string(
		    json_object_array_get_idx(changed, i)), key) == 0)
			return 1;
	return 0;
}

/*
 * A URL with a password is shown masked (http://user:***@host/); sent
 * back unchanged, the form's value stands for the stored URL.  A
 * masked password under any other scheme, user, host, port or path is
 * refused beside its field: the stored password would go to a place
 * it was not stored for.  Edits form in place; problems go to errs.
 */
static void
unmask_urls(json_object *schema, json_object *sec, json_object *form,
    json_object *errs, int zh)
{
	json_object	*props, *v;
	const char	*typed, *stored;
	char		 m[LIM_URL];

	if (!json_object_object_get_ex(schema, "properties", &props))
		return;
	json_object_object_foreach(props, key, p) {
		if (!json_object_object_get_ex(p, "x-input", &v) ||
		    strcmp(json_object_get_string(v), "text") != 0 ||
		    !json_object_object_get_ex(form, key, &v))
			continue;
		typed = json_object_get_string(v);
		stored = conf_str(sec, key);
		if (url_mask(stored, 0, m, sizeof(m)) == 1 &&
		    strcmp(typed, m) == 0) {
			json_object_object_add(form, key,
			    json_object_new_string(stored));
			continue;
		}
		if (url_mask(typed, 0, m, sizeof(m)) == 1 &&
		    strcmp(typed, m) == 0)
			json_object_object_add(errs, key,
			    json_object_new_string(zh ? AGAIN_ZH : AGAIN_EN));
	}
}

/*
 * A stored secret is only ever sent to the destination it was stored
 * for.  The config schema says where each secret goes: "x-destination"
 * lists the keys naming that place (smtp_pwd: smtp_host, smtp_port,
 * smtp_user); a custom component's schema marks its own the same way.
 * A save that changes one of them and keeps the secret, a literal or
 * a {"file"}/{"env"} reference alike, is refused beside the secret:
 * the operator types it again (or clears it).  Returns the problems
 * added to errs.
 */
static int
secrets_stay(json_object *schema, json_object *nsec, json_object *form,
    json_object *changed, json_object *errs, int zh)
{
	json_object	*props, *dest, *v;
	size_t		 i;
	int		 n = 0;

	if (!json_object_object_get_ex(schema, "properties", &props))
		return 0;
	json_object_object_foreach(props, key, p) {
		/* Typed on this page, even the same again, is not kept. */
		if (!json_object_object_get_ex(p, "x-destination", &dest) ||
		    !json_object_is_type(dest, json_type_array) ||
		    changed_has(changed, key) ||
		    (json_object_object_get_ex(form, key, &v) &&
		    json_object_get_string_len(v) > 0) ||
		    !json_object_object_get_ex(nsec, key, &v) || v == NULL ||
		    (json_object_is_type(v, json_type_string) &&
		    json_object_get_string_len(v) == 0))
			continue;
		for (i = 0; i < json_object_array_length(dest); i++)
			if (changed_has(changed, json_object_get_string(
			    json_object_array_get_idx(dest, i))))
				break;
		if (i == json_object_array_length(dest))
			continue;
		json_object_object_add(errs, key,
		    json_object_new_string(zh ? AGAIN_ZH : AGAIN_EN));
		n++;
	}
	return n;
}

/* The Edit page's text values, with any URL's password masked. */
static void
mask_fields(json_object *fields)
{
	json_object	*f, *v;
	char		 m[LIM_URL];
	size_t		 i;
	int		 r;

	for (i = 0; i < json_object_array_length(fields); i++) {
		f = json_object_array_get_idx(fields, i);
		if (!json_object_object_get_ex(f, "value", &v) ||
		    !json_object_is_type(v, json_type_string))
			continue;
		r = url_mask(json_object_get_string(v), 0, m, sizeof(m));
		if (r != 0)
			json_object_object_add(f, "value",
			    json_object_new_string(r == 1 ? m : ""));
	}
}

/*
 * Says which fields lost white space on the way in: the keys of this
 * save (a form refused again), or of the one just saved (trimmed= in
 * the query, checked to be key names).
 */
static void
trimmed_note(struct console_rq *rq, json_object *ctx, json_object *keys)
{
	char		 list[LIM_PATH];
	const char	*q = page_param(rq, "trimmed");
	size_t		 i;

	list[0] = '\0';
	if (keys != NULL && json_object_array_length(keys) > 0) {
		for (i = 0; i < json_object_array_length(keys); i++)
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), "%s%s", i > 0 ? ", " : "",
			    json_object_get_string(json_object_array_get_idx(
			    keys, i)));
	} else if (*q != '\0' && strlen(q) < sizeof(list) &&
	    strspn(q, "abcdefghijklmnopqrstuvwxyz0123456789_,") == strlen(q)) {
		for (i = 0; q[i] != '\0' && strlen(list) + 3 < sizeof(list);
		    i++)
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), "%s%c", q[i] == ',' ? "," : "",
			    q[i] == ',' ? ' ' : q[i]);
	}
	if (list[0] != '\0')
		json_object_object_add(ctx, "trimmed",
		    json_object_new_string(list));
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
	char		 hname[64] = "";

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
	if (replace_conf(rq, old, oldlen, b->ptr, why, whysz, hname,
	    sizeof(hname)) == -1)
		return -1;
	audit(rq, event, tenant, name, changed, NULL);
	hist_note(rq, hname, event + sizeof("console.") - 1, tenant, name,
	    changed, NULL);
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
	if (!page_writable(rq->conf->path)) {
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
			*nsec = NULL, *ctx, *errs = NULL, *changed = NULL,
			*trimmed = NULL, *shown = NULL, *theirs = NULL,
			*base = NULL, *cur = NULL, *fields;
	struct confschema_err	 ce[32];
	struct buf	 b;
	const char	*name, *tenant, *notice = NULL;
	char		*text = NULL, version[65], why[LIM_PROBLEMS];
	char		 page[LIM_PATH], note[LIM_PROBLEMS];
	size_t		 len, k;
	int		 post = rq->form != NULL, lockfd = -1, i, n, status = 200;

	buf_init(&b, LIM_CONF);
	name = page_param(rq, "c");
	tenant = page_param(rq, "tenant");
	why[0] = '\0';
	schema = confschema_doc(rq->conf->schemas_dir, name);
	if (schema == NULL) {
		page_text(rq, 404, "No such component.");
		goto out;
	}
	/* A tenant id is a token (conf.c): it goes into a Location. */
	if (strlen(tenant) >= LIM_NAME || strspn(tenant, "abcdefghijklmnop"
	    "qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
	    strlen(tenant)) {
		page_text(rq, 404, "No such tenant.");
		goto out;
	}
	if (csave_open(rq, post, &lockfd, &text, &len, version, &doc) == -1)
		goto out;
	comps = comps_of(doc, tenant, 0);
	if (*tenant != '\0' && comps == NULL && comps_of(doc, tenant, 1) ==
	    NULL) {
		page_text(rq, 404, "No such tenant.");
		goto out;
	}
	if (comps != NULL)
		json_object_object_get_ex(comps, name, &sec);
	if (!post)
		goto show;

	trimmed = json_object_new_array();
	cform_trim(schema, rq->form, trimmed);
	if (!secret_eq(page_param(rq, "version"), version)) {
		/*
		 * Someone saved since this page was drawn.  Saving it
		 * again as it stands would undo their change: show the file
		 * as it is now with only this operator's own changes on
		 * top, and what the other save changed.  The next Save
		 * starts from the current version, so it writes only
		 * those.
		 */
		base = json_tokener_parse(page_param(rq, "base"));
		if (base != NULL && !json_object_is_type(base,
		    json_type_object)) {
			json_object_put(base);
			base = NULL;
		}
		cur = cform_base(schema, sec);
		theirs = json_object_new_array();
		shown = cform_merge(schema, base, cur, rq->form, theirs);
		notice = page_str(rq, "stale");
		status = 409;
		goto show;
	}
	if (sec != NULL)
		json_object_deep_copy(sec, &nsec, NULL);
	else
		nsec = json_object_new_object();
	changed = json_object_new_array();
	errs = json_object_new_object();
	unmask_urls(schema, sec, rq->form, errs, rq->zh);
	if (cform_apply(schema, nsec, rq->form, changed) == 0 &&
	    json_object_object_length(errs) == 0) {
		snprintf(page, sizeof(page), "edit?c=%s&tenant=%s&saved=0",
		    name, tenant);
		page_redirect(rq, page);
		goto out;
	}
	(void)secrets_stay(schema, nsec, rq->form, changed, errs, rq->zh);
	n = confschema_check(rq->conf->schemas_dir, name, nsec, ce,
	    sizeof(ce) / sizeof(ce[0]));
	for (i = 0; i < n || (n == -1 && i == 0); i++)
		json_object_object_add(errs, ce[i].key[0] != '\0' ?
		    ce[i].key : "", json_object_new_string(tr(rq, ce[i].msg)));
	/* What cannot send even though each value is well formed. */
	cform_require(schema, nsec, errs, tr(rq, "required"));
	if (json_object_object_length(errs) > 0) {
		notice = page_str(rq, "invalid");
		status = 422;
		goto show;
	}
	if ((i = put_section(rq, doc, text, len, tenant, name, nsec, changed,
	    "console.save", &b, why, sizeof(why))) != 0) {
		if (i == -1) {
			tr_lines(rq, why, note, sizeof(note));
			(void)str_copy(why, note, sizeof(why));
		}
		notice = i == 1 ? "the config file would be too large" :
		    page_str(rq, "check_failed");
		status = 422;
		goto show;
	}
	log_info("console: %s saved %s%s%s (%zu keys)", rq->user,
	    *tenant != '\0' ? tenant : "", *tenant != '\0' ? "/" : "", name,
	    json_object_array_length(changed));
	snprintf(page, sizeof(page), "edit?c=%s&tenant=%s&saved=1", name,
	    tenant);
	/* Keys are schema property names: safe in a URL as they are. */
	for (k = 0; k < json_object_array_length(trimmed); k++)
		if (strlen(page) + LIM_NAME + 10 < sizeof(page))
			snprintf(page + strlen(page), sizeof(page) -
			    strlen(page), "%s%s", k == 0 ? "&trimmed=" : ",",
			    json_object_get_string(json_object_array_get_idx(
			    trimmed, k)));
	page_redirect(rq, page);
	goto out;
show:
	ctx = page_ctx(rq);
	json_object_object_add(ctx, "name", json_object_new_string(name));
	json_object_object_add(ctx, "tenant", json_object_new_string(tenant));
	json_object_object_add(ctx, "version", json_object_new_string(
	    version));
	/* What this page shows of the file, for a stale save's merge. */
	if (cur == NULL)
		cur = cform_base(schema, sec);
	json_object_object_add(ctx, "base", json_object_new_string(
	    json_object_to_json_string_ext(cur, JSON_C_TO_STRING_PLAIN)));
	fields = cform_fields(schema, sec, shown != NULL ? shown :
	    (post ? rq->form : NULL), errs, rq->zh);
	mask_fields(fields);
	json_object_object_add(ctx, "fields", fields);
	json_object_object_add(ctx, "inherited", json_object_new_boolean(
	    *tenant != '\0' && sec == NULL));
	if (!post && strcmp(page_param(rq, "saved"), "1") == 0)
		notice = page_str(rq, "saved");
	else if (!post && strcmp(page_param(rq, "saved"), "0") == 0)
		notice = page_str(rq, "unchanged");
	if (notice != NULL)
		json_object_object_add(ctx, "notice",
		    json_object_new_string(notice));
	trimmed_note(rq, ctx, trimmed);
	if (theirs != NULL) {
		json_object_object_add(ctx, "has_theirs",
		    json_object_new_boolean(json_object_array_length(theirs) >
		    0));
		for (k = 0; k < json_object_array_length(theirs); k++)
			if (json_object_get_boolean(jv_get(
			    json_object_array_get_idx(theirs, k), "mine")))
				json_object_object_add(ctx, "conflict",
				    json_object_new_boolean(1));
		json_object_object_add(ctx, "theirs", json_object_get(theirs));
	}
	json_object_object_add(ctx, "outbox_warn", json_object_new_boolean(
	    cform_outbox_filled(schema, sec)));
	json_object_object_add(ctx, "failed", json_object_new_boolean(
	    status != 200));
	if (errs != NULL && json_object_object_get_ex(errs, "", NULL))
		json_object_object_add(ctx, "problems", json_object_get(
		    json_object_object_get(errs, "")));
	else if (why[0] != '\0')
		json_object_object_add(ctx, "problems",
		    json_object_new_string(why));
	page_render(rq, status, "console/edit", ctx);
out:
	if (lockfd != -1)
		close(lockfd);
	buf_free(&b);
	json_object_put(changed);
	json_object_put(errs);
	json_object_put(trimmed);
	json_object_put(shown);
	json_object_put(theirs);
	json_object_put(base);
	json_object_put(cur);
	json_object_put(nsec);
	json_object_put(doc);
	json_object_put(schema);
	free(text);
}

/* A kept version's document, or NULL. */
static json_object *
hist_doc(const char *dir, const char *name, const char *ext)
{
	char	 path[LIM_PATH];

	if (snprintf(path, sizeof(path), "%s/%.*s%s", dir, HIST_STAMP_LEN,
	    name, ext) >= (int)sizeof(path))
		return NULL;
	return json_object_from_file(path);
}

/*
 * One row of History: when the version was replaced, by whom, which
 * keys of which component (its .meta), and the diff from it to what
 * replaced it (newer, the next version kept or the file itself).
 */
static json_object *
hist_row(const char *dir, const char *name, json_object *newer)
{
	json_object	*e, *meta, *old, *keys;
	json_object	*diff, *d;
	char		 label[32], where[LIM_NAME * 2 + 2] = "";
	char		 list[LIM_PATH] = "", pre[LIM_NAME * 3 + 32] = "";
	char		 key[CFORM_PATH_MAX];
	const char	*t = "", *c = "", *p;
	size_t		 i;

	e = json_object_new_object();
	json_object_object_add(e, "v", json_object_new_string(name));
	/* 20260101T000000 -> 2026-01-01 00:00:00 UTC */
	snprintf(label, sizeof(label), "%.4s-%.2s-%.2s %.2s:%.2s:%.2s",
	    name, name + 4, name + 6, name + 9, name + 11, name + 13);
	json_object_object_add(e, "when", json_object_new_string(label));
	if ((meta = hist_doc(dir, name, HIST_META)) != NULL) {
		json_object_object_add(e, "who", json_object_new_string(
		    jv_str(jv_get(meta, "user"))));
		t = jv_str(jv_get(meta, "tenant"));
		c = jv_str(jv_get(meta, "component"));
		if (strcmp(jv_str(jv_get(meta, "event")), "rollback") == 0)
			snprintf(where, sizeof(where), "rollback %s",
			    jv_str(jv_get(meta, "to")));
		else
			snprintf(where, sizeof(where), "%s%s%s", t, *t != '\0' ?
			    "/" : "", c);
		json_object_object_add(e, "what", json_object_new_string(
		    where));
		keys = jv_get(meta, "keys");
		for (i = 0; json_object_is_type(keys, json_type_array) &&
		    i < json_object_array_length(keys); i++)
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), "%s%s", i > 0 ? ", " : "",
			    jv_str(json_object_array_get_idx(keys, i)));
		if (list[0] != '\0')
			json_object_object_add(e, "keys",
			    json_object_new_string(list));
	}
	if ((old = hist_doc(dir, name, HIST_EXT)) != NULL && newer != NULL) {
		diff = cform_diff(old, newer, HIST_DIFF);
		/* The component's column names it: its keys stand alone. */
		if (*where != '\0' && strncmp(where, "rollback ", 9) != 0)
			snprintf(pre, sizeof(pre), "%s%s%scomponents.%s.",
			    *t != '\0' ? "tenants." : "", t, *t != '\0' ? "." :
			    "", c);
		for (i = 0; pre[0] != '\0' &&
		    i < json_object_array_length(diff); i++) {
			d = json_object_array_get_idx(diff, i);
			p = jv_str(jv_get(d, "path"));
			if (strncmp(p, pre, strlen(pre)) == 0 &&
			    p[strlen(pre)] != '\0') {
				snprintf(key, sizeof(key), "%s",
				    p + strlen(pre));
				json_object_object_add(d, "path",
				    json_object_new_string(key));
			}
		}
		json_object_object_add(e, "diff", diff);
	}
	json_object_put(old);
	/* Last: t and c are its strings. */
	json_object_put(meta);
	return e;
}

/*
 * GET history[?page=N]: the kept versions, newest first, HIST_PAGE a
 * page, each with who replaced it, which keys, and the diff (secrets
 * and URL passwords masked); history?v=NAME shows one version whole
 * with every literal secret replaced by "******".
 */
void
csave_history(struct console_rq *rq)
{
	json_object	*ctx, *list, *doc, *newer = NULL;
	char		**names, *text, ver[65];
	char		 dir[LIM_PATH], path[LIM_PATH];
	char		 link[48];
	const char	*v = page_param(rq, "v");
	size_t		 i, n, len;
	long long	 pg = 0;

	ctx = page_ctx(rq);
	if (*v != '\0') {
		if (!csave_hist_ok(v, HIST_EXT) || csave_dir(rq, "history", dir,
		    sizeof(dir)) == -1 || snprintf(path, sizeof(path),
		    "%s/%s", dir, v) >= (int)sizeof(path) ||
		    (doc = json_object_from_file(path)) == NULL) {
			json_object_put(ctx);
			page_text(rq, 404, "No such version.");
			return;
		}
		cform_redact(doc, "");
		json_object_object_add(ctx, "view", json_object_new_string(v));
		json_object_object_add(ctx, "text", json_object_new_string(
		    json_object_to_json_string_ext(doc,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)));
		json_object_put(doc);
	}
	if (num_parse(page_param(rq, "page"), 0, HIST_CAP, &pg) == -1)
		pg = 0;
	list = json_object_new_array();
	names = xcalloc(HIST_CAP, sizeof(*names));
	n = csave_hist_list(rq, "history", HIST_EXT, names, HIST_CAP, 0);
	if (csave_dir(rq, "history", dir, sizeof(dir)) == -1)
		dir[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i >= (size_t)pg * HIST_PAGE &&
		    i < (size_t)(pg + 1) * HIST_PAGE) {
			/* What replaced the newest is the file itself. */
			if (i == 0 && (text = csave_read(rq->conf->path, &len,
			    ver)) != NULL) {
				newer = json_tokener_parse(text);
				free(text);
			} else if (i > 0)
				newer = hist_doc(dir, names[i - 1], HIST_EXT);
			json_object_array_add(list, hist_row(dir, names[i],
			    newer));
			json_object_put(newer);
			newer = NULL;
		}
	}
	/* Only now: a row reads the name before it. */
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	json_object_object_add(ctx, "versions", list);
	json_object_object_add(ctx, "kept", json_object_new_int64((int64_t)n));
	if (pg > 0) {
		snprintf(link, sizeof(link), "history?page=%lld", pg - 1);
		json_object_object_add(ctx, "newer", json_object_new_string(
		    link));
	}
	if ((size_t)(pg + 1) * HIST_PAGE < n) {
		snprintf(link, sizeof(link), "history?page=%lld", pg + 1);
		json_object_object_add(ctx, "older", json_object_new_string(
		    link));
	}
	if (strcmp(page_param(rq, "rolled"), "1") == 0)
		json_object_object_add(ctx, "notice", json_object_new_string(
		    page_str(rq, "rolled_back")));
	page_render(rq, 200, "console/history", ctx);
}

/* POST rollback: a kept version becomes the file, checked like a save. */
void
csave_rollback(struct console_rq *rq)
{
	const char	*v = page_param(rq, "v");
	char		 dir[LIM_PATH], path[LIM_PATH], version[65];
	char		 hv[65], why[LIM_PROBLEMS], hname[64] = "";
	char		*old = NULL, *cur = NULL;
	size_t		 oldlen, curlen;
	int		 lockfd = -1;

	if (!page_writable(rq->conf->path)) {
		page_text(rq, 403, "The config file is read-only.");
		return;
	}
	if (!csave_hist_ok(v, HIST_EXT) || csave_dir(rq, "history", dir,
	    sizeof(dir)) == -1 || snprintf(path, sizeof(path), "%s/%s", dir,
	    v) >= (int)sizeof(path) ||
	    (old = csave_read(path, &oldlen, hv)) == NULL) {
		page_text(rq, 404, "No such version.");
		goto out;
	}
	if ((lockfd = csave_lock(rq)) == -1 ||
	    (cur = csave_read(rq->conf->path, &curlen, version)) == NULL) {
		page_text(rq, 500, "The config file cannot be read.");
		goto out;
	}
	if (replace_conf(rq, cur, curlen, old, why, sizeof(why), hname,
	    sizeof(hname)) == -1) {
		log_warnx("console: rollback to %s refused: %s", v, why);
		page_text(rq, 422, "That version does not pass the check "
		    "any more; see the log.");
		goto out;
	}
	audit(rq, "console.rollback", "", "-", NULL, v);
	hist_note(rq, hname, "rollback", "", "", NULL, v);
	log_info("console: %s rolled the config back to %s", rq->user, v);
	page_redirect(rq, "history?rolled=1");
out:
	if (lockfd != -1)
		close(lockfd);
	free(old);
	free(cur);
}

/*
 * For the custom components' page (custom.c): a save of the whole
 * file, and on success its audit record (event, comp, keys) and the
 * history's note of who made it.  Returns 0, or -1 with why.
 */
int
csave_replace(const struct console_rq *rq, const char *old, size_t oldlen,
    const char *text, const char *event, const char *comp, json_object *keys,
    char *why, size_t whysz)
{
	char	 hname[64] = "";

	if (replace_conf(rq, old, oldlen, text, why, whysz, hname,
	    sizeof(hname)) == -1)
		return -1;
	audit(rq, event, "", comp, keys, NULL);
	hist_note(rq, hname, event + sizeof("console.") - 1, "", comp, keys,
	    NULL);
	return 0;
}
