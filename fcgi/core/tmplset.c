/*
 * The operator-editable layouts under templates_dir: every *.mustache
 * file, parsed once at startup and named by its path without the
 * extension ("wecom/text", "messages/alert").  A template that does not
 * parse stops startup with one line naming it.  Partials ({{> name}})
 * resolve within the same set.  One final newline of a file is dropped:
 * editors add it, and no layout means to send it.
 *
 * The console's Templates page saves a layout and then replaces the
 * stamp file <state_dir>/console/templates.stamp (a new inode each
 * time).  Every worker stat()s the stamp once per request
 * (tmplset_refresh) and, when it changed, loads the whole set again
 * between two requests, so no request sees half of each.  A set that
 * does not load keeps the last good one running.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "log.h"
#include "tmplset.h"

#define TMPLSET_EXT	".mustache"

struct tmplset_entry {
	char		*name;		/* owned: path below the dir, no ext */
	struct tmpl	*tmpl;		/* owned */
};

/*
 * One loaded set; the live one is replaced whole, never edited.  Each
 * thread takes the live set at the start of a request (tmplset_refresh)
 * and renders from it to the end, so a reload never frees a template
 * under a rendering; the last holder of a replaced set frees it.
 */
struct tmplset {
	struct tmplset_entry	 e[LIM_TEMPLATES];
	size_t			 n;
	int			 refs;		/* under set_mu */
};

static pthread_mutex_t	 set_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tmplset	*cur;			/* owned, under set_mu: live */
static char		*cur_dir;		/* owned: set before threads */
static char		 stamp[LIM_PATH];	/* the stamp's path, or "" */
static pthread_mutex_t	 stamp_mu = PTHREAD_MUTEX_INITIALIZER;
static struct stat	 stamp_st;		/* under stamp_mu: last seen */
static __thread struct tmplset *mine;		/* this thread's hold */

static void
set_free(struct tmplset *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	pthread_mutex_lock(&set_mu);
	i = --s->refs;
	pthread_mutex_unlock(&set_mu);
	if (i > 0)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->e[i].name);
		tmpl_free(s->e[i].tmpl);
	}
	free(s);
}

static int
load_file(struct tmplset *set, const char *path, const char *name)
{
	FILE		*f;
	char		*src, err[256];
	size_t		 n;
	struct tmpl	*t;

	if (set->n == LIM_TEMPLATES) {
		fprintf(stderr, "%s: more than %d templates\n", path,
		    LIM_TEMPLATES);
		return -1;
	}
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "%s: cannot open\n", path);
		return -1;
	}
	src = xmalloc(LIM_FILE + 1);
	n = fread(src, 1, LIM_FILE + 1, f);
	fclose(f);
	if (n > LIM_FILE) {
		fprintf(stderr, "%s: larger than %d bytes\n", path, LIM_FILE);
		free(src);
		return -1;
	}
	/* Editors end files with a newline no layout means to send. */
	if (n > 0 && src[n - 1] == '\n')
		n--;
	t = tmpl_parse(src, n, err, sizeof(err));
	free(src);
	if (t == NULL) {
		fprintf(stderr, "%s: %s\n", path, err);
		return -1;
	}
	set->e[set->n].name = xstrdup(name);
	set->e[set->n].tmpl = t;
	set->n++;
	return 0;
}

static int
load_dir(struct tmplset *set, const char *dir, const char *prefix,
    int depth)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 path[LIM_PATH], name[LIM_PATH];
	size_t		 n, el = strlen(TMPLSET_EXT);
	int		 bad = 0;

	if (depth > 4)
		return 0;
	d = opendir(dir);
	if (d == NULL) {
		if (depth == 0)
			fprintf(stderr, "%s: cannot open the templates "
			    "directory\n", dir);
		return depth == 0 ? -1 : 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path) || stat(path, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode)) {
			snprintf(name, sizeof(name), "%s%s/", prefix,
			    de->d_name);
			if (load_dir(set, path, name, depth + 1) == -1)
				bad = 1;
			continue;
		}
		snprintf(name, sizeof(name), "%s%s", prefix, de->d_name);
		n = strlen(name);
		if (n <= el || strcmp(name + n - el, TMPLSET_EXT) != 0)
			continue;
		name[n - el] = '\0';
		if (load_file(set, path, name) == -1)
			bad = 1;
	}
	closedir(d);
	return bad ? -1 : 0;
}

/*
 * Loads every template under dir and makes it the live set.  Returns
 * 0, or -1 (lines on stderr) with the live set as it was.
 */
int
tmplset_load(const char *dir)
{
	struct tmplset	*s = xcalloc(1, sizeof(*s)), *old;

	s->refs = 1;
	if (load_dir(s, dir, "", 0) == -1) {
		set_free(s);
		return -1;
	}
	pthread_mutex_lock(&set_mu);
	old = cur;
	cur = s;
	pthread_mutex_unlock(&set_mu);
	set_free(old);
	if (cur_dir != dir) {
		free(cur_dir);
		cur_dir = xstrdup(dir);
	}
	return 0;
}

/* Lets go of this thread's set. */
void
tmplset_thread_end(void)
{
	set_free(mine);
	mine = NULL;
}

/* This thread takes the live set for its next request. */
static void
hold_live(void)
{
	struct tmplset	*s;

	pthread_mutex_lock(&set_mu);
	s = cur;
	if (s != NULL)
		s->refs++;
	pthread_mutex_unlock(&set_mu);
	set_free(mine);
	mine = s;
}

void
tmplset_free(void)
{
	tmplset_thread_end();
	set_free(cur);
	cur = NULL;
	free(cur_dir);
	cur_dir = NULL;
	stamp[0] = '\0';
}

/*
 * A template of this thread's set (of the live one outside requests:
 * at startup and in -t, before any other thread).
 */
const struct tmpl *
tmplset_get(const char *name)
{
	const struct tmplset	*s = mine != NULL ? mine : cur;
	size_t			 i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (strcmp(s->e[i].name, name) == 0)
			return s->e[i].tmpl;
	return NULL;
}

/* <state_dir>/console/templates.stamp.  Returns 0, or -1 if too long. */
static int
stamp_path(const char *state_dir, char *out, size_t outsz)
{
	return snprintf(out, outsz, "%s/" TMPLSET_STAMP, state_dir) >=
	    (int)outsz ? -1 : 0;
}

/*
 * Serving processes watch the stamp under state_dir: called before
 * tmplset_load, so a save made while the set loads is seen next time.
 */
void
tmplset_watch(const char *state_dir)
{
	if (stamp_path(state_dir, stamp, sizeof(stamp)) == -1)
		stamp[0] = '\0';
	else if (stat(stamp, &stamp_st) == -1)
		memset(&stamp_st, 0, sizeof(stamp_st));
}

/*
 * Once per request: one stat() of the stamp; when it is another file
 * than last time, the set is loaded again.  Returns 1 when it was
 * replaced, 0 when nothing changed, -1 when the new set did not load
 * (the last good one stays, and the stamp is not read again until it
 * changes again).
 */
int
tmplset_refresh(void)
{
	struct stat	 st;
	int		 rc = 0;

	if (stamp[0] == '\0' || cur_dir == NULL)
		goto out;
	/* One thread reloads; the others keep the live set meanwhile. */
	if (pthread_mutex_trylock(&stamp_mu) != 0)
		goto out;
	if (stat(stamp, &st) == -1)
		memset(&st, 0, sizeof(st));
	if (file_changed(&st, &stamp_st)) {
		stamp_st = st;
		if (tmplset_load(cur_dir) == -1) {
			log_warnx("templates: %s does not load, the last good "
			    "set stays", cur_dir);
			rc = -1;
		} else {
			log_info("templates: %s reloaded", cur_dir);
			rc = 1;
		}
	}
	pthread_mutex_unlock(&stamp_mu);
out:
	hold_live();
	return rc;
}

/*
 * Tells every worker to load the set again: a new stamp file renamed
 * over the old one, so its inode changes whatever the clock does.
 * Returns 0 or -1.
 */
int
tmplset_touch(const char *state_dir)
{
	char	 path[LIM_PATH], tmp[LIM_PATH], text[64];
	int	 n;

	if (stamp_path(state_dir, path, sizeof(path)) == -1 ||
	    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return -1;
	n = snprintf(text, sizeof(text), "%lld\n", (long long)time(NULL));
	unlink(tmp);
	if (file_replace(tmp, path, text, (size_t)n, 0600, 0) == -1) {
		log_warn("templates: %s", path);
		return -1;
	}
	return 0;
}

static const struct tmpl *
partial(void *arg, const char *name)
{
	(void)arg;
	return tmplset_get(name);
}

/*
 * Renders the named template into out.  Returns 0, or -1 when it does
 * not exist or the rendering passes a cap.
 */
int
tmplset_render(const char *name, json_object *ctx, enum tmpl_esc esc,
    struct buf *out)
{
	return tmplset_render_why(name, ctx, esc, out, NULL);
}

/* The same, with why a rendering stopped in *why (may be NULL). */
int
tmplset_render_why(const char *name, json_object *ctx, enum tmpl_esc esc,
    struct buf *out, enum tmpl_fail *why)
{
	const struct tmpl	*t = tmplset_get(name);

	if (why != NULL)
		*why = TMPL_FAIL_NONE;
	if (t == NULL)
		return -1;
	return tmpl_render_why(t, ctx, esc, partial, NULL, out, why);
}

/*
 * Renders t, a template that is not (yet) in the set, with its
 * partials from the set: the console's preview of an edit.
 */
int
tmplset_render_tmpl(const struct tmpl *t, json_object *ctx,
    enum tmpl_esc esc, struct buf *out, enum tmpl_fail *why)
{
	return tmpl_render_why(t, ctx, esc, partial, NULL, out, why);
}

/*
 * Renders one of the channel layouts under templates/ (caller frees).
 * Returns NULL with the contract's generic error when it is missing
 * (-t names a missing one), or with a message naming the cap when the
 * rendering passes it (a layout that escapes can grow content that the
 * body cap let in).
 */
char *
tmplset_layout(const char *name, json_object *ctx, enum tmpl_esc esc,
    struct reply *rp)
{
	struct buf	 b;
	enum tmpl_fail	 why;
	char		 say[128];

	buf_init(&b, LIM_RENDER);
	if (tmplset_get(name) == NULL) {
		log_warnx("template %s: missing (cmsi.fcgi -t names it)", name);
		buf_free(&b);
		reply_component_error(rp);
		return NULL;
	}
	if (tmplset_render_why(name, ctx, esc, &b, &why) == -1) {
		buf_free(&b);
		if (why != TMPL_FAIL_SIZE) {
			/* A layout that loops: the operator's to fix. */
			log_warnx("template %s: stopped: %s", name,
			    tmpl_fail_say(why, say, sizeof(say)));
			reply_fail(rp, CODE_COMMON, "The content cannot be "
			    "laid out by template %s: %s (the rendering "
			    "limit)", name, say);
			return NULL;
		}
		log_warnx("template %s: rendering larger than %d bytes", name,
		    LIM_RENDER);
		reply_fail(rp, CODE_COMMON, "The content, laid out by template "
		    "%s, is larger than %d bytes (the rendering limit)", name,
		    LIM_RENDER);
		return NULL;
	}
	return buf_take(&b);
}
