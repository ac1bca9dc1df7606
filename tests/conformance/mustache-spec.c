/*
 * Runs the official Mustache spec tests (the JSON files) against
 * tmpl.c.
 *
 * usage: mustache-spec [-v] dir
 *
 * One line per *.json file of dir, then for the optional files (names
 * starting with '~') a line "optional: N passed, N failed", then the
 * tally of the required files "N passed, N failed".  Exits 1 when a
 * required test failed, 2 on a usage or I/O error.  -v shows each
 * failure's expected and actual output.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/tmpl.h"
#include "lib/util.h"

struct partials {
	char		**names;	/* owned: partial names */
	struct tmpl	**tmpls;	/* owned: parsed partials, by index */
	size_t		  n;
};

struct tally {
	int	 pass;
	int	 fail;
};

static const struct tmpl *
find_partial(void *arg, const char *name)
{
	const struct partials	*ps = arg;
	size_t			 i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->names[i], name) == 0)
			return ps->tmpls[i];
	return NULL;
}

static void
partials_free(struct partials *ps)
{
	size_t	 i;

	for (i = 0; i < ps->n; i++) {
		free(ps->names[i]);
		tmpl_free(ps->tmpls[i]);
	}
	free(ps->names);
	free(ps->tmpls);
	memset(ps, 0, sizeof(*ps));
}

/* Prints s with control characters made visible, for -v. */
static void
show(const char *label, const char *s, size_t n)
{
	size_t	 i;

	printf("    %s: \"", label);
	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			fputs("\\n", stdout);
		else if (s[i] == '\r')
			fputs("\\r", stdout);
		else if (s[i] == '\t')
			fputs("\\t", stdout);
		else if (s[i] == '"' || s[i] == '\\')
			printf("\\%c", s[i]);
		else
			putchar(s[i]);
	}
	puts("\"");
}

/* Returns 1 when the test passes, 0 otherwise. */
static int
run_test(json_object *test, int verbose)
{
	struct partials	 ps;
	struct tmpl	*t = NULL;
	struct buf	 out;
	json_object	*tv, *ev, *dv = NULL, *pv;
	const char	*name = "?", *want;
	char		 err[128];
	size_t		 wantlen;
	int		 ok = 0;

	memset(&ps, 0, sizeof(ps));
	buf_init(&out, LIM_RENDER);
	if (json_object_object_get_ex(test, "name", &tv))
		name = json_object_get_string(tv);
	if (!json_object_object_get_ex(test, "template", &tv) ||
	    !json_object_object_get_ex(test, "expected", &ev)) {
		if (verbose)
			printf("  %s: malformed test\n", name);
		goto out;
	}
	json_object_object_get_ex(test, "data", &dv);
	if (json_object_object_get_ex(test, "partials", &pv) &&
	    json_object_is_type(pv, json_type_object)) {
		json_object_object_foreach(pv, key, val) {
			ps.names = xrealloc(ps.names,
			    (ps.n + 1) * sizeof(*ps.names));
			ps.tmpls = xrealloc(ps.tmpls,
			    (ps.n + 1) * sizeof(*ps.tmpls));
			ps.names[ps.n] = xstrdup(key);
			ps.tmpls[ps.n] = tmpl_parse(json_object_get_string(val),
			    (size_t)json_object_get_string_len(val), err,
			    sizeof(err));
			if (ps.tmpls[ps.n++] == NULL) {
				if (verbose)
					printf("  %s: partial %s: %s\n", name,
					    key, err);
				goto out;
			}
		}
	}
	t = tmpl_parse(json_object_get_string(tv),
	    (size_t)json_object_get_string_len(tv), err, sizeof(err));
	if (t == NULL) {
		if (verbose)
			printf("  %s: %s\n", name, err);
		goto out;
	}
	if (tmpl_render(t, dv, TMPL_ESC_HTML, find_partial, &ps, &out) == -1) {
		if (verbose)
			printf("  %s: render failed\n", name);
		goto out;
	}
	want = json_object_get_string(ev);
	wantlen = (size_t)json_object_get_string_len(ev);
	ok = out.len == wantlen && (wantlen == 0 ||
	    memcmp(out.ptr, want, wantlen) == 0);
	if (!ok && verbose) {
		printf("  %s:\n", name);
		show("expected", want, wantlen);
		show("got     ", out.ptr != NULL ? out.ptr : "", out.len);
	}
out:
	tmpl_free(t);
	partials_free(&ps);
	buf_free(&out);
	return ok;
}

/* Runs one file and prints its line; adds to *ty. */
static void
run_file(const char *dir, const char *file, int verbose, struct tally *ty)
{
	char		 path[4096];
	json_object	*doc = NULL, *tests;
	struct buf	 names;
	size_t		 i, n;
	int		 pass = 0, fail = 0;

	buf_init(&names, 64 * 1024);
	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    (int)sizeof(path) || (doc = json_object_from_file(path)) == NULL ||
	    !json_object_object_get_ex(doc, "tests", &tests) ||
	    !json_object_is_type(tests, json_type_array)) {
		printf("FAIL %s: cannot read the tests\n", file);
		ty->fail++;
		goto out;
	}
	n = json_object_array_length(tests);
	for (i = 0; i < n; i++) {
		json_object	*test = json_object_array_get_idx(tests, i);
		json_object	*nv;

		if (run_test(test, verbose)) {
			pass++;
			continue;
		}
		fail++;
		buf_puts(&names, fail > 1 ? "; " : ": ");
		if (json_object_object_get_ex(test, "name", &nv))
			buf_puts(&names, json_object_get_string(nv));
	}
	printf("%s %s %d/%d%s\n", fail ? "FAIL" : "PASS", file, pass,
	    pass + fail, names.ptr != NULL ? names.ptr : "");
	ty->pass += pass;
	ty->fail += fail;
out:
	buf_free(&names);
	json_object_put(doc);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char *argv[])
{
	struct tally	 req = { 0, 0 }, opt = { 0, 0 };
	struct dirent	*de;
	DIR		*d;
	char		**files = NULL;
	size_t		 nfiles = 0, i, len;
	int		 verbose = 0, argi = 1;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		argi++;
	}
	if (argc != argi + 1) {
		fprintf(stderr, "usage: mustache-spec [-v] dir\n");
		return 2;
	}
	if ((d = opendir(argv[argi])) == NULL) {
		perror(argv[argi]);
		return 2;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		files = xrealloc(files, (nfiles + 1) * sizeof(*files));
		files[nfiles++] = xstrdup(de->d_name);
	}
	closedir(d);
	/* readdir order is arbitrary; sorted output diffs well. */
	if (nfiles > 0)
		qsort(files, nfiles, sizeof(*files), by_name);
	for (i = 0; i < nfiles; i++) {
		run_file(argv[argi], files[i], verbose,
		    files[i][0] == '~' ? &opt : &req);
		free(files[i]);
	}
	free(files);
	printf("optional: %d passed, %d failed\n", opt.pass, opt.fail);
	printf("%d passed, %d failed\n", req.pass, req.fail);
	return req.fail > 0 ? 1 : 0;
}
