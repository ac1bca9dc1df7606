/*
 * cmsi.fcgi --import NAME: the values an operator copies from BlueKing
 * ESB's Component Configuration tab, written into the config file as
 * one console save (csave_import): the section's schema, the check of
 * the whole file, the replaced version in History, an audit record.
 *
 * Input on stdin: one JSON object, or "key: value" lines (blank lines
 * and lines starting with '#' are skipped; a value may hold ':', as a
 * URL does).  Values stay as ESB stored them, strings such as "True"
 * and "465", which the config takes as they are.  An empty value is
 * ESB's "use the default" and is left out, so a copied tab never
 * blanks a value the file has.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "console.h"
#include "core/conf.h"
#include "core/confschema.h"
#include "core/request.h"
#include "lib/limits.h"
#include "lib/near.h"
#include "lib/util.h"

/* Keys of one component's schema considered for a hint: send_sms has 20. */
#define CIMPORT_KEYS	128

/* A config key as ESB and our schemas spell them. */
static int
key_ok(const char *k, size_t n)
{
	return n > 0 && n < LIM_NAME &&
	    strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_") >= n;
}

/*
 * "key: value" lines into values.  Returns 0, or -1 after a line on
 * stderr naming the line.
 */
static int
parse_lines(char *text, json_object *values)
{
	char	*line, *next, *colon, *k, *v, *e;
	int	 lineno = 0;

	for (line = text; line != NULL; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		e = line + strlen(line);
		while (e > line && isspace((unsigned char)e[-1]))
			*--e = '\0';
		while (isspace((unsigned char)*line))
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if ((colon = strchr(line, ':')) == NULL) {
			fprintf(stderr, "line %d: not \"key: value\"\n",
			    lineno);
			return -1;
		}
		*colon = '\0';
		k = line;
		for (e = colon; e > k && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		for (v = colon + 1; isspace((unsigned char)*v); v++)
			;
		if (!key_ok(k, strlen(k))) {
			fprintf(stderr, "line %d: \"%.64s\" is no config "
			    "key\n", lineno, k);
			return -1;
		}
		if (json_object_object_get_ex(values, k, NULL)) {
			fprintf(stderr, "line %d: %s is given twice\n", lineno,
			    k);
			return -1;
		}
		json_object_object_add(values, k, json_object_new_string(v));
	}
	return 0;
}

/*
 * Drops empty values (ESB's "the default"), saying so, and refuses a
 * key the component does not know, with the nearest it does.  Returns
 * the number of refused keys.
 */
static int
sift(const char *name, json_object *schema, json_object *values)
{
	json_object	*props, *drop;
	const char	*known[CIMPORT_KEYS + 1];
	size_t		 n = 0, i;
	int		 bad = 0;

	if (!json_object_object_get_ex(schema, "properties", &props))
		return 0;
	json_object_object_foreach(props, pk, pv) {
		(void)pv;
		if (n + 1 < sizeof(known) / sizeof(known[0]))
			known[n++] = pk;
	}
	known[n] = NULL;
	drop = json_object_new_array();
	json_object_object_foreach(values, k, v) {
		if (json_object_is_type(v, json_type_string) &&
		    json_object_get_string_len(v) == 0) {
			fprintf(stderr, "%s: empty, left as it is\n", k);
			json_object_array_add(drop, json_object_new_string(k));
			continue;
		}
		if (!json_object_object_get_ex(props, k, NULL)) {
			const char *near = near_word(k, known);

			fprintf(stderr, "%s: unknown key for %s%s%s%s\n", k, name,
			    near != NULL ? " (did you mean " : "",
			    near != NULL ? near : "", near != NULL ? "?)" : "");
			bad++;
		}
	}
	for (i = 0; i < json_object_array_length(drop); i++)
		json_object_object_del(values, json_object_get_string(
		    json_object_array_get_idx(drop, i)));
	json_object_put(drop);
	return bad;
}

/*
 * Run as root, the import must leave nothing the app's user cannot use
 * later: the config file gets its owner back (replace_conf wrote a new
 * file), and what the import created under state_dir (the console and
 * history folders, the lock, the audit log) goes to the state
 * directory's owner.
 */
static void
give_back(const struct conf *c, const struct stat *was)
{
	static const char *const made[] = {
		"audit.log", "console", "console/save.lock", "console/history",
		NULL
	};
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	char		 path[LIM_PATH];
	int		 i;

	if (geteuid() != 0)
		return;
	if ((was->st_uid != 0 || was->st_gid != 0) &&
	    chown(c->path, was->st_uid, was->st_gid) == -1)
		fprintf(stderr, "%s: cannot give it back to its owner: %s\n",
		    c->path, strerror(errno));
	if (stat(c->state_dir, &st) == -1 || st.st_uid == 0)
		return;
	for (i = 0; made[i] != NULL; i++)
		if (snprintf(path, sizeof(path), "%s/%s", c->state_dir,
		    made[i]) < (int)sizeof(path) &&
		    lchown(path, st.st_uid, st.st_gid) == -1 &&
		    errno != ENOENT)
			fprintf(stderr, "%s: cannot give it to the state "
			    "directory's owner: %s\n", path, strerror(errno));
	if (snprintf(path, sizeof(path), "%s/console/history",
	    c->state_dir) >= (int)sizeof(path) || (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && fchownat(dirfd(d), de->d_name,
		    st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) == -1)
			fprintf(stderr, "%s/%s: cannot give it to the state "
			    "directory's owner: %s\n", path, de->d_name,
			    strerror(errno));
	closedir(d);
}

/*
 * Imports stdin-like in into component name of the loaded config c,
 * recorded as user.  Returns the exit status: 0 written or nothing to
 * change, 1 refused (nothing written).
 */
int
cimport_run(const struct conf *c, const char *name, const char *user,
    FILE *in)
{
	struct console_rq	 rq;
	struct req		 r;
	struct stat		 was;	/* the config file before */
	json_object		*schema = NULL, *values = NULL;
	enum json_tokener_error	 jerr;
	char			*text, why[LIM_PROBLEMS];
	size_t			 len = 0, got;
	int			 rc = 1, n;

	text = xmalloc(LIM_IMPORT + 1);
	while (len < LIM_IMPORT &&
	    (got = fread(text + len, 1, LIM_IMPORT - len, in)) > 0)
		len += got;
	text[len] = '\0';
	if (len == LIM_IMPORT && fgetc(in) != EOF) {
		fprintf(stderr, "the input is over %d bytes\n", LIM_IMPORT);
		goto out;
	}
	if (strlen(text) != len) {
		fprintf(stderr, "the input holds a NUL byte\n");
		goto out;
	}
	if ((schema = confschema_doc(c->schemas_dir, name)) == NULL) {
		fprintf(stderr, "%s: unknown component\n", name);
		goto out;
	}
	if (text[strspn(text, " \t\r\n")] == '{') {
		values = json_tokener_parse_verbose(text, &jerr);
		if (values == NULL || !json_object_is_type(values,
		    json_type_object)) {
			fprintf(stderr, "the input is no JSON object: %s\n",
			    values == NULL ? json_tokener_error_desc(jerr) :
			    json_type_to_name(json_object_get_type(values)));
			goto out;
		}
	} else {
		values = json_object_new_object();
		if (parse_lines(text, values) == -1)
			goto out;
	}
	if (sift(name, schema, values) > 0)
		goto out;
	if (json_object_object_length(values) == 0) {
		fprintf(stderr, "nothing to import\n");
		goto out;
	}

	memset(&rq, 0, sizeof(rq));
	memset(&r, 0, sizeof(r));
	req_new_id(r.id);
	rq.conf = c;
	rq.r = &r;
	if (str_copy(rq.user, user, sizeof(rq.user)) == -1) {
		fprintf(stderr, "--user: at most %d bytes\n", LIM_NAME - 1);
		goto out;
	}
	/* A fresh install's state_dir may not be there yet: History is. */
	if (mkdir(c->state_dir, 0750) == -1 && errno != EEXIST) {
		fprintf(stderr, "state_dir: cannot create %s: %s\n",
		    c->state_dir, strerror(errno));
		goto out;
	}
	if (stat(c->path, &was) == -1)
		memset(&was, 0, sizeof(was));
	n = csave_import(&rq, name, values, why, sizeof(why));
	give_back(c, &was);
	if (n == -1) {
		fprintf(stderr, "%s%s", why, why[0] != '\0' &&
		    why[strlen(why) - 1] != '\n' ? "\n" : "");
		fprintf(stderr, "%s: components.%s: nothing written\n",
		    c->path, name);
		goto out;
	}
	if (n == 0)
		printf("%s: components.%s: nothing changed\n", c->path, name);
	else
		printf("%s: components.%s: %d key%s imported; the file it "
		    "replaced is in the console's History\n", c->path, name,
		    n, n == 1 ? "" : "s");
	rc = 0;
out:
	json_object_put(values);
	json_object_put(schema);
	free(text);
	return rc;
}
