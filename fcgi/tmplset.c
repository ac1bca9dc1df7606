/*
 * The operator-editable layouts under templates_dir: every *.mustache
 * file, parsed once at startup and named by its path without the
 * extension ("wecom/text", "messages/alert").  A template that does not
 * parse stops startup with one line naming it.  Partials ({{> name}})
 * resolve within the same set.  One final newline of a file is dropped:
 * editors add it, and no layout means to send it.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "limits.h"
#include "tmplset.h"
#include "util.h"

#define TMPLSET_EXT	".mustache"

struct tmplset_entry {
	char		*name;		/* owned: path below the dir, no ext */
	struct tmpl	*tmpl;		/* owned */
};

static struct tmplset_entry	 set[LIM_TEMPLATES];
static size_t			 nset;

static int
load_file(const char *path, const char *name)
{
	FILE		*f;
	char		*src, err[256];
	size_t		 n;
	struct tmpl	*t;

	if (nset == LIM_TEMPLATES) {
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
	set[nset].name = xstrdup(name);
	set[nset].tmpl = t;
	nset++;
	return 0;
}

static int
load_dir(const char *dir, const char *prefix, int depth)
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
			if (load_dir(path, name, depth + 1) == -1)
				bad = 1;
			continue;
		}
		snprintf(name, sizeof(name), "%s%s", prefix, de->d_name);
		n = strlen(name);
		if (n <= el || strcmp(name + n - el, TMPLSET_EXT) != 0)
			continue;
		name[n - el] = '\0';
		if (load_file(path, name) == -1)
			bad = 1;
	}
	closedir(d);
	return bad ? -1 : 0;
}

/* Loads every template under dir.  Returns 0, or -1 (lines on stderr). */
int
tmplset_load(const char *dir)
{
	return load_dir(dir, "", 0);
}

void
tmplset_free(void)
{
	size_t	 i;

	for (i = 0; i < nset; i++) {
		free(set[i].name);
		tmpl_free(set[i].tmpl);
	}
	nset = 0;
}

const struct tmpl *
tmplset_get(const char *name)
{
	size_t	 i;

	for (i = 0; i < nset; i++)
		if (strcmp(set[i].name, name) == 0)
			return set[i].tmpl;
	return NULL;
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
	const struct tmpl	*t = tmplset_get(name);

	if (t == NULL)
		return -1;
	return tmpl_render(t, ctx, esc, partial, NULL, out);
}
