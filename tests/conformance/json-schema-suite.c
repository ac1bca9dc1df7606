/*
 * Runs the JSON-Schema-Test-Suite files of one directory against
 * schema.c: json-schema-suite [-o] DIR
 *
 * Every *.json directly in DIR is run, but for the files that test what
 * the gateway leaves out on purpose (dynamic scope, remote documents,
 * vocabularies, unevaluated*, metaschema validation), which get a SKIP
 * line.  A case whose schema references a document we would have to
 * fetch (the metaschema, the suite's remote server) cannot be loaded;
 * its tests count as skipped and are listed.  With -o (the optional/
 * folder) failures are reported but do not fail the exit status.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json.h>

#include "lib/schema.h"

static const char *excluded[] = {
	"dynamicRef.json",
	"refRemote.json",
	"vocabulary.json",
	"unevaluatedItems.json",
	"unevaluatedProperties.json",
	"defs.json"
};

struct tally {
	int	 passed;
	int	 failed;
	int	 skipped;
};

static int
is_excluded(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
		if (strcmp(excluded[i], name) == 0)
			return 1;
	return 0;
}

/* A load failure that only a network fetch could have avoided. */
static int
needs_network(const char *err)
{
	static const char	*pfx = "unresolved $ref: ";
	const char		*uri;

	if (strncmp(err, pfx, strlen(pfx)) != 0)
		return 0;
	uri = err + strlen(pfx);
	return strncmp(uri, "http://", 7) == 0 ||
	    strncmp(uri, "https://", 8) == 0;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one file; lines for the failures go to out after the summary. */
static void
run_file(const char *dir, const char *name, struct tally *all)
{
	char			 path[4096], errbuf[512];
	json_object		*doc, *c, *tests, *t, *v, *data;
	struct schema		*s;
	struct schema_err	 e;
	struct tally		 f = { 0, 0, 0 };
	size_t			 i, j, ntests;
	int			 want, got, got2;
	char			*notes = NULL;
	size_t			 notessz = 0;
	FILE			*mem;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((doc = json_object_from_file(path)) == NULL ||
	    !json_object_is_type(doc, json_type_array)) {
		printf("FAIL %s 0/0 (cannot read)\n", name);
		all->failed++;
		json_object_put(doc);
		return;
	}
	if ((mem = open_memstream(&notes, &notessz)) == NULL) {
		perror("open_memstream");
		exit(2);
	}
	for (i = 0; i < json_object_array_length(doc); i++) {
		const char	*cdesc;

		c = json_object_array_get_idx(doc, i);
		json_object_object_get_ex(c, "description", &v);
		cdesc = json_object_get_string(v);
		json_object_object_get_ex(c, "tests", &tests);
		ntests = json_object_array_length(tests);
		json_object_object_get_ex(c, "schema", &v);
		if ((s = schema_load(v, errbuf, sizeof(errbuf))) == NULL) {
			if (needs_network(errbuf)) {
				f.skipped += (int)ntests;
				fprintf(mem, "  skip: %s (%s)\n", cdesc,
				    errbuf);
			} else {
				f.failed += (int)ntests;
				fprintf(mem, "  fail: %s: load: %s\n", cdesc,
				    errbuf);
			}
			continue;
		}
		for (j = 0; j < ntests; j++) {
			t = json_object_array_get_idx(tests, j);
			json_object_object_get_ex(t, "data", &data);
			json_object_object_get_ex(t, "valid", &v);
			want = json_object_get_boolean(v);
			/* Errors or not, the verdict must be the same. */
			got = schema_validate(s, data, &e);
			got2 = schema_validate(s, data, NULL);
			json_object_object_get_ex(t, "description", &v);
			if (got == want && got2 == want)
				f.passed++;
			else {
				f.failed++;
				fprintf(mem, "  fail: %s: %s (want %s, got %s"
				    "%s%s)\n", cdesc, json_object_get_string(v),
				    want ? "valid" : "invalid",
				    got ? "valid" : "invalid",
				    got ? "" : " at ", got ? "" : e.keyword);
			}
		}
		schema_free(s);
	}
	fclose(mem);
	printf("%s %s %d/%d", f.failed ? "FAIL" : "PASS", name, f.passed,
	    f.passed + f.failed);
	if (f.skipped)
		printf(" (%d skipped)", f.skipped);
	printf("\n%s", notes != NULL ? notes : "");
	free(notes);
	json_object_put(doc);
	all->passed += f.passed;
	all->failed += f.failed;
	all->skipped += f.skipped;
}

int
main(int argc, char *argv[])
{
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL;
	size_t		 n = 0, i, len;
	struct tally	 all = { 0, 0, 0 };
	int		 ch, optional = 0;

	while ((ch = getopt(argc, argv, "o")) != -1) {
		switch (ch) {
		case 'o':
			optional = 1;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		goto usage;
	if ((d = opendir(argv[0])) == NULL) {
		perror(argv[0]);
		return 2;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (names == NULL || (names[n] = strdup(de->d_name)) == NULL) {
			perror("malloc");
			return 2;
		}
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmpstr);
	for (i = 0; i < n; i++) {
		if (!optional && is_excluded(names[i]))
			printf("SKIP %s\n", names[i]);
		else
			run_file(argv[0], names[i], &all);
		free(names[i]);
	}
	free(names);
	printf("%d passed, %d failed", all.passed, all.failed);
	if (all.skipped)
		printf(", %d skipped", all.skipped);
	printf("\n");
	return all.failed > 0 && !optional ? 1 : 0;
 usage:
	fprintf(stderr, "usage: json-schema-suite [-o] dir\n");
	return 2;
}
