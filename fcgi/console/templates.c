/*
 * The console's Templates page: the operator's layouts under
 * templates_dir (the channel layouts of templates/README.md and the
 * named templates messages/<name>/title|content), each with an edit
 * page, a live preview against sample data, a save that refuses what
 * does not parse, a history and a restore.  The console's own pages
 * (templates/console/) are not layouts and are never listed or saved.
 *
 * A name is one of a fixed list or messages/<name>/title|content for
 * an existing directory, <name> letters, digits, '_' and '-': the path
 * is built from a checked name, never from what the form says.
 *
 * A save writes a temp file beside the layout, fsyncs it, renames it
 * over the layout and fsyncs the directory (the version replaced goes
 * to <state_dir>/console/templates/<name with '.'>/ first, the last
 * LIM_HISTORY), audits who changed which layout, and replaces the
 * stamp every worker stat()s once per request (tmplset.c): the next
 * request on any worker renders with it.  A save made from a page
 * older than the file (its SHA-256 in the form) is refused.
 *
 * The preview renders the text of the form, never saved, against a
 * sample context (JSON the operator may edit): as a document of its own
 * with a sandbox CSP, for the page's sandboxed iframe (no script runs
 * even when a layout holds one), or as JSON for console.js, which
 * shows it with textContent.  The audit log keeps no message bodies or
 * contexts, so sample data is all a preview has; the page says so.
 *
 *	GET  templates
 *	GET  template?n=NAME[&v=VERSION], POST template (save)
 *	GET  template_preview?n=NAME, POST template_preview[?as=json]
 *	POST template_restore
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/request.h"
#include "core/tmplset.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/tmpl.h"
#include "lib/util.h"
#include "page.h"

#define CTMPL_EXT	".mustache"
#define CTMPL_HIST	"templates"	/* under <state_dir>/console */
#define CTMPL_NAMED	"messages/"

/* One layout the page edits: how the gateway renders it. */
struct ctmpl_kind {
	const char	*name;		/* "mail/html", or a named part */
	enum tmpl_esc	 esc;		/* the escaping a send uses */
	int		 html;		/* previewed as an HTML document */
	const char	*fields;	/* strings.json key: what it gets */
	const char	*sample;	/* the sample context, JSON */
};

static const struct ctmpl_kind kinds[] = {
	{ "mail/html", TMPL_ESC_HTML, 1, "tf_mail",
	    "{\"title\": \"Disk almost full on db-1\", \"content\": "
	    "\"<p>Disk <b>/var</b> on <i>db-1</i> is 91% full.</p>\"}" },
	{ "mail/text", TMPL_ESC_NONE, 0, "tf_mail",
	    "{\"title\": \"Disk almost full on db-1\", \"content\": "
	    "\"Disk /var on db-1 is 91% full.\"}" },
	{ "wecom/text", TMPL_ESC_NONE, 0, "tf_weixin",
	    "{\"heading\": \"Disk alert\", \"message\": \"Disk /var on db-1 "
	    "is 91% full.\", \"date\": \"2026-01-01 10:02\", \"remark\": "
	    "\"Sent by BlueKing\"}" },
	{ "wxmp/data", TMPL_ESC_JSON, 0, "tf_wxmp",
	    "{\"heading\": \"Disk alert\", \"message\": \"Disk /var on db-1 "
	    "is 91% full.\", \"date\": \"2026-01-01 10:02\", \"remark\": "
	    "\"Sent by BlueKing\"}" },
	{ "sms/text", TMPL_ESC_NONE, 0, "tf_sms",
	    "{\"content\": \"db-1: disk /var 91% full\", \"sign\": "
	    "\"BlueKing\", \"prefix\": true}" },
	{ "voice/text", TMPL_ESC_NONE, 0, "tf_voice",
	    "{\"message\": \"db-1 disk is 91 percent full\"}" },
	{ NULL, 0, 0, NULL, NULL }
};

/* A named template's parts; the sample is its sample.json, else this. */
static const struct ctmpl_kind named_title = {
	"title", TMPL_ESC_HEADER, 0, "tf_named_title", NULL
};
static const struct ctmpl_kind named_content = {
	"content", TMPL_ESC_HTML, 1, "tf_named_content", NULL
};
#define CTMPL_NAMED_SAMPLE \
	"{\"service\": \"db\", \"level\": \"critical\", \"time\": " \
	"\"10:02\", \"summary\": \"disk full\", \"links\": " \
	"[\"https://example.com/db\"]}"

/* One checked layout name and where it lives. */
struct ctmpl_ref {
	const struct ctmpl_kind *kind;		/* borrowed: static */
	char		 name[LIM_NAME + 32];	/* "messages/alert/title" */
	char		 path[LIM_PATH];	/* the .mustache file */
	char		 dir[LIM_PATH];		/* its directory */
	char		 hist[LIM_NAME + 48];	/* history sub-directory */
};

/*
 * Which layout name n is, without touching the disk: a kind of the
 * list, or a named part (its template name into tname, tnamesz bytes).
 * Returns the kind, or NULL for anything else (the console's own
 * pages, "..", another shape).
 */
static const struct ctmpl_kind *
kind_of(const char *n, char *tname, size_t tnamesz)
{
	const struct ctmpl_kind	*k;
	const char		*p, *slash;
	size_t			 len;

	for (k = kinds; k->name != NULL; k++)
		if (strcmp(n, k->name) == 0)
			return k;
	if (strncmp(n, CTMPL_NAMED, strlen(CTMPL_NAMED)) != 0)
		return NULL;
	p = n + strlen(CTMPL_NAMED);
	if ((slash = strchr(p, '/')) == NULL)
		return NULL;
	len = (size_t)(slash - p);
	if (len == 0 || len >= LIM_NAME ||
	    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-") != len)
		return NULL;
	if (tname != NULL && snprintf(tname, tnamesz, "%.*s", (int)len, p) >=
	    (int)tnamesz)
		return NULL;
	if (strcmp(slash + 1, "title") == 0)
		return &named_title;
	if (strcmp(slash + 1, "content") == 0)
		return &named_content;
	return NULL;
}

/* Whether n names a layout the console may edit.  Pure. */
int
ctmpl_name_ok(const char *n)
{
	return kind_of(n, NULL, 0) != NULL;
}

/*
 * Resolves n to a layout of this install.  A named part needs its
 * messages/<name>/ directory; the file itself may be missing (a
 * title not written yet).  Returns 0, or -1 for no such layout.
 */
static int
ref_of(const struct console_rq *rq, const char *n, struct ctmpl_ref *ref)
{
	struct stat	 st;
	char		 tname[LIM_NAME];
	size_t		 i;

	memset(ref, 0, sizeof(*ref));
	if ((ref->kind = kind_of(n, tname, sizeof(tname))) == NULL ||
	    str_copy(ref->name, n, sizeof(ref->name)) == -1 ||
	    snprintf(ref->path, sizeof(ref->path), "%s/%s" CTMPL_EXT,
	    rq->conf->templates_dir, n) >= (int)sizeof(ref->path) ||
	    snprintf(ref->hist, sizeof(ref->hist), CTMPL_HIST "/%s", n) >=
	    (int)sizeof(ref->hist))
		return -1;
	(void)str_copy(ref->dir, ref->path, sizeof(ref->dir));
	*strrchr(ref->dir, '/') = '\0';
	/* One directory per layout: "templates/messages.alert.title". */
	for (i = strlen(CTMPL_HIST) + 1; ref->hist[i] != '\0'; i++)
		if (ref->hist[i] == '/')
			ref->hist[i] = '.';
	if (stat(ref->dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return -1;
	return 0;
}

/* Whether a save may replace the layout: its directory and the file. */
static int
ref_writable(const struct ctmpl_ref *ref)
{
	return access(ref->dir, W_OK) == 0 &&
	    (access(ref->path, F_OK) == -1 || access(ref->path, W_OK) == 0);
}

/*
 * The form's text as the file holds it: CR LF and lone CR (browsers
 * send CR LF from a textarea) become LF.  Caller frees.
 */
static char *
text_norm(const char *s, size_t *lenp)
{
	char	*out = xmalloc(strlen(s) + 1);
	size_t	 n = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\r') {
			out[n++] = '\n';
			if (s[1] == '\n')
				s++;
			continue;
		}
		out[n++] = *s;
	}
	out[n] = '\0';
	*lenp = n;
	return out;
}

/*
 * The layout's text as the loader sees it (one final newline dropped)
 * and the file's SHA-256 in version ("none" when there is no file).
 * Caller frees.
 */
static char *
ref_read(const struct ctmpl_ref *ref, char version[65])
{
	char	*text;
	size_t	 len;

	text = csave_read(ref->path, &len, version);
	if (text == NULL) {
		(void)str_copy(version, "none", 65);
		return xstrdup("");
	}
	if (len > 0 && text[len - 1] == '\n')
		text[len - 1] = '\0';
	return text;
}

/* The sample context of a layout (caller puts). */
static json_object *
sample_of(const struct ctmpl_ref *ref)
{
	char		 path[LIM_PATH];
	json_object	*o = NULL;
	struct stat	 st;

	if (ref->kind->sample != NULL)
		return json_tokener_parse(ref->kind->sample);
	/* A named template may carry its own: messages/<name>/sample.json */
	if (snprintf(path, sizeof(path), "%s/sample.json", ref->dir) <
	    (int)sizeof(path) && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size <= LIM_TMPL_SAVE)
		o = json_object_from_file(path);
	if (o != NULL && json_object_is_type(o, json_type_object))
		return o;
	json_object_put(o);
	return json_tokener_parse(CTMPL_NAMED_SAMPLE);
}

/* The line number of a parse error's "line N: ...", 0 if none. */
static long long
err_line(const char *err)
{
	long long	 n;
	char		 num[24];
	size_t		 len;

	if (strncmp(err, "line ", 5) != 0)
		return 0;
	len = strspn(err + 5, "0123456789");
	if (len == 0 || len >= sizeof(num))
		return 0;
	memcpy(num, err + 5, len);
	num[len] = '\0';
	return num_parse(num, 1, 0x7fffffff, &n) == 0 ? n : 0;
}

/*
 * Renders text (len bytes) with ref's escaping against the sample
 * (JSON text, "" for the layout's own) into out.  Returns 0, or -1 with
 * why filled ("line 3: unclosed section", the sample's problem, the
 * cap).
 */
static int
render(struct console_rq *rq, const struct ctmpl_ref *ref,
    const char *text, size_t len, const char *sample, struct buf *out,
    char *why, size_t whysz)
{
	struct tmpl	*t = NULL;
	json_object	*ctx = NULL;
	enum tmpl_fail	 fail;
	int		 rc = -1;

	if (len > LIM_TMPL_SAVE) {
		snprintf(why, whysz, "larger than %d bytes", LIM_TMPL_SAVE);
		goto out;
	}
	if ((t = tmpl_parse(text, len, why, whysz)) == NULL)
		goto out;
	ctx = *sample != '\0' ? json_tokener_parse(sample) :
	    sample_of(ref);
	if (ctx == NULL || !json_object_is_type(ctx, json_type_object)) {
		snprintf(why, whysz, "%s", page_str(rq, "tmpl_bad_sample"));
		goto out;
	}
	if (tmplset_render_tmpl(t, ctx, ref->kind->esc, out, &fail) == -1) {
		if (fail == TMPL_FAIL_SIZE)
			snprintf(why, whysz, "the rendering passes %d bytes",
			    LIM_PAGE);
		else
			(void)tmpl_fail_say(fail, why, whysz);
		goto out;
	}
	rc = 0;
out:
	json_object_put(ctx);
	tmpl_free(t);
	return rc;
}

static void
add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/* One row of the list: a layout, whether it exists, its fields. */
static void
list_add(struct console_rq *rq, json_object *rows, const char *name,
    const struct ctmpl_kind *k)
{
	json_object	*row = json_object_new_object();
	char		 path[LIM_PATH];
	struct stat	 st;

	add_str(row, "name", name);
	add_str(row, "fields", page_str(rq, k->fields));
	snprintf(path, sizeof(path), "%s/%s" CTMPL_EXT,
	    rq->conf->templates_dir, name);
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		json_object_object_add(row, "bytes",
		    json_object_new_int64((int64_t)st.st_size));
	else
		json_object_object_add(row, "missing",
		    json_object_new_boolean(1));
	json_object_array_add(rows, row);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* GET templates: every channel layout, then every named template's. */
void
ctmpl_list(struct console_rq *rq)
{
	const struct ctmpl_kind	*k;
	json_object		*ctx, *rows;
	char			 dir[LIM_PATH], name[LIM_NAME + 32];
	char			 path[LIM_PATH], *names[LIM_TEMPLATES];
	DIR			*d;
	struct dirent		*de;
	struct stat		 st;
	size_t			 i, n = 0;

	ctx = page_ctx(rq);
	rows = json_object_new_array();
	for (k = kinds; k->name != NULL; k++)
		list_add(rq, rows, k->name, k);
	snprintf(dir, sizeof(dir), "%s/" CTMPL_NAMED, rq->conf->templates_dir);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL && n < LIM_TEMPLATES) {
			if (snprintf(name, sizeof(name), CTMPL_NAMED "%s/title",
			    de->d_name) >= (int)sizeof(name) ||
			    !ctmpl_name_ok(name) ||
			    snprintf(path, sizeof(path), "%s%s", dir,
			    de->d_name) >= (int)sizeof(path) ||
			    stat(path, &st) == -1 || !S_ISDIR(st.st_mode))
				continue;
			names[n++] = xstrdup(de->d_name);
		}
		closedir(d);
	}
	qsort(names, n, sizeof(names[0]), str_cmp);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), CTMPL_NAMED "%s/title", names[i]);
		list_add(rq, rows, name, &named_title);
		snprintf(name, sizeof(name), CTMPL_NAMED "%s/content",
		    names[i]);
		list_add(rq, rows, name, &named_content);
		free(names[i]);
	}
	json_object_object_add(ctx, "layouts", rows);
	add_str(ctx, "tdir", rq->conf->templates_dir);
	page_render(rq, 200, "console/templates", ctx);
}

/* The history of ref as rows of {v, when}, newest first. */
static json_object *
hist_rows(struct console_rq *rq, const struct ctmpl_ref *ref)
{
	json_object	*list, *e;
	char		*names[LIM_HISTORY], label[32];
	size_t		 i, n;

	list = json_object_new_array();
	n = csave_hist_list(rq, ref->hist, CTMPL_EXT, names, LIM_HISTORY, 0);
	for (i = 0; i < n; i++) {
		e = json_object_new_object();
		add_str(e, "v", names[i]);
		/* 20260101T000000-... -> 2026-01-01 00:00:00 */
		snprintf(label, sizeof(label), "%.4s-%.2s-%.2s %.2s:%.2s:%.2s",
		    names[i], names[i] + 4, names[i] + 6, names[i] + 9,
		    names[i] + 11, names[i] + 13);
		add_str(e, "when", label);
		json_object_array_add(list, e);
		free(names[i]);
	}
	return list;
}

/* A kept version's text (caller frees), or NULL when v is none. */
static char *
hist_read(struct console_rq *rq, const struct ctmpl_ref *ref, const char *v,
    size_t *lenp)
{
	char	 dir[LIM_PATH], path[LIM_PATH], hv[65];

	if (!csave_hist_ok(v, CTMPL_EXT) || csave_dir(rq, ref->hist, dir,
	    sizeof(dir)) == -1 || snprintf(path, sizeof(path), "%s/%s", dir,
	    v) >= (int)sizeof(path))
		return NULL;
	return csave_read(path, lenp, hv);
}

/*
 * Writes text (the layout without its final newline, which the file
 * gets) over ref: temp file beside it with the old mode, fsync,
 * rename, fsync of the directory, after keeping the old file in the
 * history (its name into kept).  Returns 0, or -1 with why.
 */
static int
replace_layout(struct console_rq *rq, const struct ctmpl_ref *ref,
    const char *text, size_t len, char *kept, size_t keptsz, char *why,
    size_t whysz)
{
	struct stat	 st;
	char		 tmp[LIM_PATH], *old = NULL, hv[65];
	size_t		 oldlen;
	mode_t		 mode = 0644;
	int		 fd, ok, rc = -1;

	kept[0] = '\0';
	if (stat(ref->path, &st) == 0)
		mode = st.st_mode & 0666;
	if ((old = csave_read(ref->path, &oldlen, hv)) != NULL &&
	    csave_hist_keep(rq, ref->hist, CTMPL_EXT, old, oldlen, kept,
	    keptsz) == -1) {
		snprintf(why, whysz, "cannot keep the previous version under "
		    "%s", rq->conf->state_dir);
		goto out;
	}
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.console-%ld.tmp", ref->dir,
	    strrchr(ref->path, '/') + 1, (long)getpid()) >= (int)sizeof(tmp)) {
		snprintf(why, whysz, "the path is too long");
		goto out;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	/* The descriptor is closed once, whichever step failed. */
	ok = fd != -1 && write(fd, text, len) == (ssize_t)len &&
	    write(fd, "\n", 1) == 1 && fchmod(fd, mode) == 0 &&
	    fsync(fd) == 0;
	if (fd != -1 && close(fd) == -1)
		ok = 0;
	if (!ok) {
		snprintf(why, whysz, "cannot write in %s: %s", ref->dir,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, ref->path) == -1) {
		snprintf(why, whysz, "cannot replace %s: %s", ref->path,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	dir_fsync(ref->dir);
	rc = 0;
out:
	free(old);
	return rc;
}

static void
audit(struct console_rq *rq, const char *event, const struct ctmpl_ref *ref,
    const char *kept, const char *from)
{
	json_object	*rec;

	rec = log_audit_record(rq->r->id, "-");
	add_str(rec, "event", event);
	add_str(rec, "user", rq->user);
	add_str(rec, "template", ref->name);
	/* The version the save replaced, kept in the history. */
	if (*kept != '\0')
		add_str(rec, "version", kept);
	if (from != NULL)
		add_str(rec, "restored", from);
	(void)log_audit(rq->conf->state_dir, rec);
	json_object_put(rec);
}

/*
 * Saves text over ref under the save lock, unless the file changed
 * since version was read.  Returns 0, or an HTTP status with why.
 */
static int
save(struct console_rq *rq, const struct ctmpl_ref *ref, const char *text,
    size_t len, const char *version, const char *from, char *why,
    size_t whysz)
{
	struct tmpl	*t;
	char		 cur[65], kept[64], *now;
	int		 lockfd, status = 0;

	if (len > LIM_TMPL_SAVE) {
		snprintf(why, whysz, "larger than %d bytes", LIM_TMPL_SAVE);
		return 413;
	}
	if ((t = tmpl_parse(text, len, why, whysz)) == NULL)
		return 422;
	tmpl_free(t);
	if (!ref_writable(ref)) {
		snprintf(why, whysz, "%s", page_str(rq, "tmpl_readonly"));
		return 403;
	}
	if ((lockfd = csave_lock(rq)) == -1) {
		snprintf(why, whysz, "the save lock cannot be taken");
		return 500;
	}
	now = ref_read(ref, cur);
	free(now);
	if (version != NULL && !secret_eq(version, cur)) {
		snprintf(why, whysz, "%s", page_str(rq, "stale"));
		status = 409;
	} else if (replace_layout(rq, ref, text, len, kept, sizeof(kept),
	    why, whysz) == -1)
		status = 500;
	close(lockfd);
	if (status != 0)
		return status;
	/* Every worker: its next request loads the set again. */
	if (tmplset_touch(rq->conf->state_dir) == -1)
		log_warnx("console: %s saved, but the workers were not told; "
		    "they see it at their restart", ref->name);
	audit(rq, from != NULL ? "console.template_restore" :
	    "console.template", ref, kept, from);
	log_info("console: %s %s template %s (%zu bytes)", rq->user,
	    from != NULL ? "restored" : "saved", ref->name, len);
	return 0;
}

/*
 * GET template?n=NAME[&v=VERSION]: the edit page.  POST template: the
 * save; on a refusal the page comes back with the operator's text and
 * the reason (the parse error names its line).
 */
void
ctmpl_edit(struct console_rq *rq)
{
	struct ctmpl_ref	 ref;
	json_object		*ctx, *smp;
	const char		*v = page_param(rq, "v");
	const char		*sample = page_param(rq, "sample");
	char			*text = NULL, *shown = NULL, *old = NULL;
	char			 version[65], why[LIM_MESSAGE], page[LIM_PATH];
	size_t			 len, oldlen;
	int			 status = 200, wr;

	why[0] = '\0';
	if (ref_of(rq, page_param(rq, "n"), &ref) == -1) {
		page_text(rq, 404, "No such template.");
		return;
	}
	text = ref_read(&ref, version);
	if (rq->form != NULL) {
		shown = text_norm(page_param(rq, "text"), &len);
		status = save(rq, &ref, shown, len, page_param(rq,
		    "version"), NULL, why, sizeof(why));
		if (status == 0) {
			snprintf(page, sizeof(page), "template?n=%s&saved=1",
			    ref.name);
			page_redirect(rq, page);
			goto out;
		}
	}
	ctx = page_ctx(rq);
	add_str(ctx, "name", ref.name);
	add_str(ctx, "version", version);
	add_str(ctx, "fields", page_str(rq, ref.kind->fields));
	add_str(ctx, "text", shown != NULL ? shown : text);
	if (*sample == '\0') {
		smp = sample_of(&ref);
		add_str(ctx, "sample", json_object_to_json_string_ext(smp,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(smp);
	} else
		add_str(ctx, "sample", sample);
	json_object_object_add(ctx, "html", json_object_new_boolean(
	    ref.kind->html));
	wr = ref_writable(&ref);
	if (!wr)
		add_str(ctx, "tmpl_readonly", page_str(rq,
		    "tmpl_readonly"));
	json_object_object_add(ctx, "writable", json_object_new_boolean(wr));
	add_str(ctx, "tdir", ref.dir);
	if (status != 200) {
		add_str(ctx, "notice", page_str(rq, "tmpl_not_saved"));
		add_str(ctx, "problem", why);
		if (err_line(why) > 0)
			json_object_object_add(ctx, "line",
			    json_object_new_int64(err_line(why)));
		json_object_object_add(ctx, "failed",
		    json_object_new_boolean(1));
	} else if (strcmp(page_param(rq, "saved"), "1") == 0)
		add_str(ctx, "notice", page_str(rq, "tmpl_saved"));
	else if (strcmp(page_param(rq, "restored"), "1") == 0)
		add_str(ctx, "notice", page_str(rq, "tmpl_restored"));
	if (*v != '\0') {
		if ((old = hist_read(rq, &ref, v, &oldlen)) == NULL) {
			json_object_put(ctx);
			page_text(rq, 404, "No such version.");
			goto out;
		}
		add_str(ctx, "view", v);
		add_str(ctx, "view_text", old);
	}
	json_object_object_add(ctx, "versions", hist_rows(rq, &ref));
	page_render(rq, status, "console/template", ctx);
out:
	free(old);
	free(shown);
	free(text);
}

/*
 * A preview document for the page's iframe.  The console's CSP and
 * X-Frame-Options would refuse it, so it gets its own: a sandbox (no
 * script, an origin of its own), nothing fetched, inline style allowed
 * (a mail layout carries its own), framed by the console only.
 */
static void
frame(struct console_rq *rq, int status, int html, const char *text,
    size_t len)
{
	FCGX_Stream	*out = rq->r->fr->out;

	FCGX_FPrintF(out, "Status: %d\r\n"
	    "Content-Type: %s; charset=utf-8\r\n"
	    "Content-Security-Policy: sandbox; default-src 'none'; "
	    "style-src 'unsafe-inline'; img-src data:; "
	    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'\r\n"
	    "X-Frame-Options: SAMEORIGIN\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Cache-Control: no-store\r\n\r\n", status,
	    html ? "text/html" : "text/plain");
	FCGX_PutStr(text, (int)len, out);
}

/*
 * GET template_preview?n=NAME: the saved layout against its sample.
 * POST template_preview: the form's text and sample, never saved; as a
 * document for the iframe, or with as=json for console.js:
 * {"ok", "html", "text", "ms"} or {"ok": false, "error", "line"}.
 */
void
ctmpl_preview(struct console_rq *rq)
{
	struct ctmpl_ref	 ref;
	struct buf		 b;
	struct timespec		 t0, t1;
	json_object		*o;
	const char		*s;
	char			*text = NULL, version[65], why[LIM_MESSAGE];
	size_t			 len;
	int			 json, ok;

	buf_init(&b, LIM_PAGE);
	json = strcmp(page_param(rq, "as"), "json") == 0;
	if (ref_of(rq, page_param(rq, "n"), &ref) == -1) {
		page_text(rq, 404, "No such template.");
		goto out;
	}
	if (rq->form != NULL)
		text = text_norm(page_param(rq, "text"), &len);
	else {
		text = ref_read(&ref, version);
		len = strlen(text);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok = render(rq, &ref, text, len, page_param(rq, "sample"), &b,
	    why, sizeof(why)) == 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!json) {
		if (ok)
			frame(rq, 200, ref.kind->html, b.ptr != NULL ? b.ptr :
			    "", b.len);
		else
			frame(rq, 422, 0, why, strlen(why));
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	if (ok) {
		json_object_object_add(o, "html",
		    json_object_new_boolean(ref.kind->html));
		json_object_object_add(o, "text", json_object_new_string_len(
		    b.ptr != NULL ? b.ptr : "", (int)b.len));
		json_object_object_add(o, "ms", json_object_new_double(
		    (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6));
		/* The Official Account takes only a JSON object. */
		if (ref.kind->esc == TMPL_ESC_JSON) {
			json_object	*doc = jv_parse(b.ptr != NULL ?
			    b.ptr : "", b.len);

			if (doc == NULL || !json_object_is_type(doc,
			    json_type_object))
				add_str(o, "warning", page_str(rq,
				    "tmpl_not_json"));
			json_object_put(doc);
		}
	} else {
		add_str(o, "error", why);
		json_object_object_add(o, "line",
		    json_object_new_int64(err_line(why)));
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	page_json(rq, 200, s);
	json_object_put(o);
out:
	free(text);
	buf_free(&b);
}

/* POST template_restore: a kept version becomes the layout again. */
void
ctmpl_restore(struct console_rq *rq)
{
	struct ctmpl_ref	 ref;
	const char		*v = page_param(rq, "v");
	char			*old = NULL, why[LIM_MESSAGE], page[LIM_PATH];
	size_t			 len;
	int			 status;

	if (ref_of(rq, page_param(rq, "n"), &ref) == -1) {
		page_text(rq, 404, "No such template.");
		return;
	}
	if ((old = hist_read(rq, &ref, v, &len)) == NULL) {
		page_text(rq, 404, "No such version.");
		return;
	}
	/* Kept as the file was: the loader's final newline goes again. */
	if (len > 0 && old[len - 1] == '\n')
		old[--len] = '\0';
	status = save(rq, &ref, old, len, NULL, v, why, sizeof(why));
	if (status != 0) {
		log_warnx("console: restore of %s to %s refused: %s",
		    ref.name, v, why);
		page_text(rq, status, why);
		goto out;
	}
	snprintf(page, sizeof(page), "template?n=%s&restored=1", ref.name);
	page_redirect(rq, page);
out:
	free(old);
}
