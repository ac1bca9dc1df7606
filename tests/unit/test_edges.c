/*
 * Edges the generated mutations (issue 33, tests/mutate/gen.py) found
 * unguarded: each test holds the value at a bound and one past it, or
 * both sides of a comparison, with exact expected answers.
 *
 *   what                               test
 *   ---------------------------------  --------------------------------
 *   req_read: CONTENT_LENGTH missing,  t_req_read_body
 *     empty, short, at max, max + 1
 *   req_read: a body without a length  t_req_read_body
 *     at max and max + 1
 *   req_read: PATH_INFO only behind    t_req_read_path
 *     a name ending ".fcgi"; LIM_PATH
 *   req_bool: numbers                  t_req_bool_numbers
 *   --hash-password: LIM_PASSWORD      t_hash_password
 *   console History: LIM_HISTORY old   t_hist_prune
 *     versions kept, one more pruned;
 *     young ones past it kept; a pass  t_hist_scan_cap
 *     reads 8192 names, not one more;  t_hist_young_caps
 *     young ones past 256 MiB or 2000
 *   console History page: 20 a page,   t_history_pages
 *     newer/older links, one version
 *   template preview: a named          t_template_preview
 *     message's sample.json and text at
 *     LIM_TMPL_SAVE and one over
 *   History with a state_dir that     t_history_long_state
 *     makes a version path LIM_PATH
 *   console Messages: recipients,      t_messages_page
 *     filters, a record opened only
 *     at a line's start
 *   spool: the item is on disk, locked, t_spool_intent
 *     while its first attempt runs
 *   LIM_IDEM_ANSWER: a record at the   t_idem_answer_cap
 *     cap is kept, one over is not
 *   webhook headers: count, name and   t_webhook_header_caps
 *     value caps at and one over
 *   LIM_CALLBACK: a signed push at the t_callback_cap
 *     cap is read, one over is 413
 *   spool: a first attempt's partial   t_spool_partial
 *     success: sent / failed / pending,
 *     the answer with queued
 *   LIM_SPOOL_ITEM at and one over     t_spool_item_cap
 *   a retry sends to the pending only  t_spool_retry_audit
 *     and its audit says so
 *   retry on from two attempts         t_retry_on
 *   LIM_FILE: a template at and over   t_template_file_cap
 *   LIM_TEMPLATES: as many and one more  t_template_count_cap
 *   signatures: POST and GET, replay,  t_signature
 *     a changed body, 255 query keys
 *     signed and a 256th not, SHA-256
 *   spool drain: next is the earliest  t_spool_drain_next
 *     due item; now when cut short
 *   --import: LIM_IMPORT, LIM_NAME     t_import_caps
 *     keys, at and one over
 *   tenant ids: LIM_NAME - 1, LIM_NAME t_tenant_id_cap
 *   custom component names: the same  t_custom_name_cap
 *   console.users names and hashes     t_console_users
 *   send_mail: an attachment without   t_mail_attachment
 *     content, or a padding error, is
 *     refused
 *   sign-in throttle full: the oldest  t_throttle_room
 *     entries make room, not the newest
 *   sign-in: the pre-session token;    t_signin_sweep
 *     the sweep at session_minutes
 *     and one second past it
 *   console front: methods, prefix,    t_console_serve
 *     LIM_FORM at and one over, Origin,
 *     session, CSRF
 *   console sessions: password tag,    t_session
 *     expiry, missing fields, via
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <fcgiapp.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "auth.h"
#include "console/console.h"
#include "console/page.h"
#include "core/conf.h"
#include "core/ctx.h"
#include "core/envelope.h"
#include "core/request.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "lib/pwhash.h"
#include "core/outcome.h"
#include "core/tmplset.h"
#include "preflight.h"
#include "route.h"
#include "state/idem.h"
#include "up/webhook.h"
#include "up/wxmp.h"
#include "handlers.h"
#include "state/spool.h"

#define TDIR_TEMPLATE	"/tmp/cmsi-edges-XXXXXX"
#include "tdir.h"

/* A file of text at dir/rel. */
static void
put_file(const char *rel, const char *text)
{
	char	 path[1024];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static int
exists(const char *rel)
{
	char	 path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return access(path, F_OK) == 0;
}

/* A reader stream over one buffer: all of it at once, then closed. */
static void
fill_none(FCGX_Stream *s)
{
	s->isClosed = 1;
}

static void
stream_over(FCGX_Stream *s, const char *text, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->rdNext = s->stopUnget = (unsigned char *)(uintptr_t)text;
	s->stop = s->rdNext + n;
	s->wrNext = s->stop;
	s->isReader = 1;
	s->fillBuffProc = fill_none;
}

/*
 * req_read of body (n bytes) with the environment env (NULL-ended);
 * returns its status, the request in r (caller req_free's it).
 */
static int
read_with(struct req *r, char **env, const char *body, size_t n,
    size_t max)
{
	static FCGX_Request	 fr;
	static FCGX_Stream	 in;

	memset(&fr, 0, sizeof(fr));
	stream_over(&in, body, n);
	fr.in = &in;
	fr.envp = env;
	return req_read(r, &fr, max);
}

static void
t_req_read_body(void **state)
{
	struct req	 r;
	char		*none[] = { "REQUEST_METHOD=POST", NULL };
	char		*empty[] = { "CONTENT_LENGTH=", NULL };
	char		*three[] = { "CONTENT_LENGTH=3", NULL };
	char		*seven[] = { "CONTENT_LENGTH=7", NULL };
	char		*ten[] = { "CONTENT_LENGTH=10", NULL };
	char		*eleven[] = { "CONTENT_LENGTH=11", NULL };
	char		*bad[] = { "CONTENT_LENGTH=3x", NULL };

	(void)state;
	/* No length (a chunked upload passed on): read to the end. */
	assert_int_equal(read_with(&r, none, "abcdef", 6, 10), 0);
	assert_int_equal(r.bodylen, 6);
	assert_string_equal(r.body, "abcdef");
	assert_string_equal(r.method, "POST");
	req_free(&r);
	assert_int_equal(read_with(&r, empty, "abcdef", 6, 10), 0);
	assert_string_equal(r.body, "abcdef");
	req_free(&r);
	/* Without a length, max bytes are taken and one more refused. */
	assert_int_equal(read_with(&r, none, "0123456789", 10, 10), 0);
	assert_int_equal(r.bodylen, 10);
	req_free(&r);
	assert_int_equal(read_with(&r, none, "0123456789a", 11, 10), 413);
	req_free(&r);
	/* A length is what is read, even with more behind it. */
	assert_int_equal(read_with(&r, three, "abcdef", 6, 10), 0);
	assert_int_equal(r.bodylen, 3);
	assert_string_equal(r.body, "abc");
	req_free(&r);
	/* A body shorter than its length is a bad request. */
	assert_int_equal(read_with(&r, seven, "abc", 3, 10), 400);
	req_free(&r);
	assert_int_equal(read_with(&r, bad, "abc", 3, 10), 400);
	req_free(&r);
	/* A length of max is read; max + 1 refused before reading. */
	assert_int_equal(read_with(&r, ten, "0123456789", 10, 10), 0);
	assert_string_equal(r.body, "0123456789");
	req_free(&r);
	assert_int_equal(read_with(&r, eleven, "0123456789a", 11, 10), 413);
	req_free(&r);
}

static void
t_req_read_path(void **state)
{
	struct req	 r;
	char		*fcgi[] = { "REQUEST_URI=/~u/cmsi.fcgi/api/c/x?a=1",
	    "SCRIPT_NAME=/~u/cmsi.fcgi", "PATH_INFO=/api/c/x", NULL };
	char		*bare[] = { "REQUEST_URI=/.fcgi/api/c/x",
	    "SCRIPT_NAME=.fcgi", "PATH_INFO=/api/c/x", NULL };
	char		*fcgx[] = { "REQUEST_URI=/~u/cmsi.fcgx/api/c/x?a=1",
	    "SCRIPT_NAME=/~u/cmsi.fcgx", "PATH_INFO=/api/c/x", NULL };
	char		*alias[] = { "REQUEST_URI=/api/c/x?b=2",
	    "SCRIPT_NAME=/api", "PATH_INFO=/c/x", NULL };
	char		*env[2], uri[LIM_PATH + 32];

	(void)state;
	/* Behind the executable's own name the route is PATH_INFO. */
	assert_int_equal(read_with(&r, fcgi, "", 0, 10), 0);
	assert_string_equal(r.path, "/api/c/x");
	assert_string_equal(r.query, "a=1");
	req_free(&r);
	assert_int_equal(read_with(&r, bare, "", 0, 10), 0);
	assert_string_equal(r.path, "/api/c/x");
	req_free(&r);
	/* Any other name: the whole REQUEST_URI is the route. */
	assert_int_equal(read_with(&r, fcgx, "", 0, 10), 0);
	assert_string_equal(r.path, "/~u/cmsi.fcgx/api/c/x");
	req_free(&r);
	assert_int_equal(read_with(&r, alias, "", 0, 10), 0);
	assert_string_equal(r.path, "/api/c/x");
	assert_string_equal(r.query, "b=2");
	req_free(&r);
	/* LIM_PATH - 1 bytes of path are kept; LIM_PATH is no path. */
	env[1] = NULL;
	env[0] = uri;
	memcpy(uri, "REQUEST_URI=/", 13);
	memset(uri + 13, 'p', LIM_PATH - 2);
	uri[13 + LIM_PATH - 2] = '\0';
	assert_int_equal(read_with(&r, env, "", 0, 10), 0);
	assert_int_equal(strlen(r.path), LIM_PATH - 1);
	req_free(&r);
	uri[13 + LIM_PATH - 2] = 'p';
	uri[13 + LIM_PATH - 1] = '\0';
	assert_int_equal(read_with(&r, env, "", 0, 10), 0);
	assert_string_equal(r.path, "");
	req_free(&r);
}

/* Numbers are true when not zero, whatever their JSON type. */
static void
t_req_bool_numbers(void **state)
{
	static const struct {
		const char	*json;
		int		 want;
	} cases[] = {
		{ "0", 0 }, { "1", 1 }, { "-1", 1 },
		{ "0.0", 0 }, { "0.5", 1 }, { "-0.25", 1 }, { "1e-9", 1 },
		{ "[]", 0 }, { "[0]", 1 }, { "{}", 0 }, { "{\"a\": 0}", 1 },
		{ "true", 1 }, { "false", 0 }, { "null", 0 },
	};
	json_object	*v;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = json_tokener_parse(cases[i].json);
		if (req_bool(v) != cases[i].want)
			fail_msg("req_bool(%s) is not %d", cases[i].json,
			    cases[i].want);
		json_object_put(v);
	}
}

/*
 * cmsi.fcgi --hash-password with text on standard input: its exit
 * status, the hash it printed in out, the first line of stderr in err.
 */
static int
hash_of(const char *text, size_t n, char *out, size_t outsz, char *err,
    size_t errsz)
{
	char	 in[] = "/tmp/cmsi-edges-in-XXXXXX";
	char	 res[] = "/tmp/cmsi-edges-out-XXXXXX";
	char	 eres[] = "/tmp/cmsi-edges-err-XXXXXX";
	int	 fd, ofd, efd, saved, esaved, rc;
	ssize_t	 k;

	assert_true((fd = mkstemp(in)) != -1);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	assert_true((ofd = mkstemp(res)) != -1);
	assert_true((efd = mkstemp(eres)) != -1);
	assert_non_null(freopen(in, "r", stdin));
	fflush(stdout);
	fflush(stderr);
	saved = dup(1);
	esaved = dup(2);
	dup2(ofd, 1);
	dup2(efd, 2);
	rc = console_hash_password();
	fflush(stdout);
	fflush(stderr);
	dup2(saved, 1);
	dup2(esaved, 2);
	close(saved);
	close(esaved);
	k = pread(ofd, out, outsz - 1, 0);
	out[k > 0 ? k : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	k = pread(efd, err, errsz - 1, 0);
	err[k > 0 ? k : 0] = '\0';
	err[strcspn(err, "\n")] = '\0';
	close(ofd);
	close(efd);
	unlink(in);
	unlink(res);
	unlink(eres);
	return rc;
}

/* A password of LIM_PASSWORD bytes is hashed; one more is refused. */
static void
t_hash_password(void **state)
{
	char	 pw[LIM_PASSWORD + 2], out[LIM_PWHASH + 16], err[128];

	(void)state;
	memset(pw, 'p', sizeof(pw));
	pw[LIM_PASSWORD] = '\n';
	assert_int_equal(hash_of(pw, LIM_PASSWORD + 1, out, sizeof(out), err,
	    sizeof(err)), 0);
	assert_int_equal(pwhash_verify(pw, LIM_PASSWORD, out), 1);
	assert_string_equal(err, "");
	pw[LIM_PASSWORD] = 'p';
	pw[LIM_PASSWORD + 1] = '\n';
	assert_int_equal(hash_of(pw, LIM_PASSWORD + 2, out, sizeof(out), err,
	    sizeof(err)), 1);
	assert_string_equal(out, "");
	assert_string_equal(err, "a password is 1 to 1024 bytes");
	/* The line's end is not the password's; an empty one is none. */
	assert_int_equal(hash_of("pw\r\n", 4, out, sizeof(out), err,
	    sizeof(err)), 0);
	assert_int_equal(pwhash_verify("pw", 2, out), 1);
	assert_int_equal(hash_of("\n", 1, out, sizeof(out), err,
	    sizeof(err)), 1);
	assert_string_equal(err, "a password is 1 to 1024 bytes");
	assert_int_equal(hash_of("", 0, out, sizeof(out), err, sizeof(err)),
	    1);
	assert_string_equal(err, "no password on standard input");
}

static time_t	 hist_base;	/* "now" of the test's History names */

/* A History version's name, days old, told apart by seq. */
static void
hist_name(char *out, size_t outsz, const char *sub, int days, int seq,
    const char *ext)
{
	time_t		 t = hist_base - (time_t)days * 86400 - seq;
	struct tm	 tm;
	char		 stamp[32];

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	snprintf(out, outsz, "console/%s/%s-%09d%s", sub, stamp, seq, ext);
}

/* count versions of sub, days old, from seq on; each with a note. */
static void
hist_add(const char *sub, int days, int seq, int count)
{
	char	 rel[128];
	int	 i;

	for (i = seq; i < seq + count; i++) {
		hist_name(rel, sizeof(rel), sub, days, i, ".json");
		put_file(rel, "{}");
		hist_name(rel, sizeof(rel), sub, days, i, ".meta");
		put_file(rel, "{}");
	}
}

static size_t
hist_list(struct console_rq *rq, const char *sub, int prune)
{
	char	*names[64];
	size_t	 n, i;

	n = csave_hist_list(rq, sub, ".json", names, 64, prune);
	for (i = 0; i < n; i++)
		free(names[i]);
	return n;
}

/*
 * History keeps the newest LIM_HISTORY versions however old, and every
 * version younger than two weeks: LIM_HISTORY old ones all stay, one
 * more old one goes (with its note); young ones past the count stay.
 * Listing without pruning removes nothing.
 */
static void
t_hist_prune(void **state)
{
	struct conf		 c;
	struct console_rq	 rq;
	char			 rel[128];
	static const char	*sub[] = { "old", "young", "list" };
	int			 i;

	(void)state;
	hist_base = time(NULL);
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	memset(&rq, 0, sizeof(rq));
	rq.conf = &c;
	for (i = 0; i < 3; i++) {
		snprintf(rel, sizeof(rel), "%s/console", dir);
		(void)mkdir(rel, 0700);
		snprintf(rel, sizeof(rel), "%s/console/%s", dir, sub[i]);
		assert_int_equal(mkdir(rel, 0700), 0);
	}

	hist_add("old", 30, 0, LIM_HISTORY);
	assert_int_equal(hist_list(&rq, "old", 1), LIM_HISTORY);
	hist_name(rel, sizeof(rel), "old", 30, LIM_HISTORY - 1, ".json");
	assert_true(exists(rel));
	hist_add("old", 30, LIM_HISTORY, 1);
	assert_int_equal(hist_list(&rq, "old", 1), LIM_HISTORY);
	hist_name(rel, sizeof(rel), "old", 30, LIM_HISTORY, ".json");
	assert_false(exists(rel));
	hist_name(rel, sizeof(rel), "old", 30, LIM_HISTORY, ".meta");
	assert_false(exists(rel));
	hist_name(rel, sizeof(rel), "old", 30, LIM_HISTORY - 1, ".json");
	assert_true(exists(rel));

	hist_add("young", 1, 0, LIM_HISTORY + 3);
	assert_int_equal(hist_list(&rq, "young", 1), LIM_HISTORY + 3);
	hist_name(rel, sizeof(rel), "young", 1, LIM_HISTORY + 2, ".json");
	assert_true(exists(rel));

	hist_add("list", 30, 0, LIM_HISTORY + 2);
	assert_int_equal(hist_list(&rq, "list", 0), LIM_HISTORY + 2);
	assert_int_equal(hist_list(&rq, "list", 0), LIM_HISTORY + 2);
	hist_name(rel, sizeof(rel), "list", 30, LIM_HISTORY + 1, ".meta");
	assert_true(exists(rel));
}

/*
 * A History folder of more names than a listing reads (HIST_SCAN,
 * 8192 in save.c): one pruning pass reads 8192, keeps LIM_HISTORY of
 * them and removes the rest; the one name not read stays for the next.
 */
static void
t_hist_scan_cap(void **state)
{
	struct conf		 c;
	struct console_rq	 rq;
	char			 rel[128];
	DIR			*d;
	struct dirent		*de;
	size_t			 left = 0;
	int			 i;

	(void)state;
	hist_base = time(NULL);
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	memset(&rq, 0, sizeof(rq));
	rq.conf = &c;
	snprintf(rel, sizeof(rel), "%s/console", dir);
	assert_int_equal(mkdir(rel, 0700), 0);
	snprintf(rel, sizeof(rel), "%s/console/scan", dir);
	assert_int_equal(mkdir(rel, 0700), 0);
	for (i = 0; i < 8192 + 1; i++) {
		hist_name(rel, sizeof(rel), "scan", 30, i, ".json");
		put_file(rel, "{}");
	}
	assert_int_equal(hist_list(&rq, "scan", 1), LIM_HISTORY);
	snprintf(rel, sizeof(rel), "%s/console/scan", dir);
	assert_non_null(d = opendir(rel));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			left++;
	closedir(d);
	assert_int_equal(left, LIM_HISTORY + 1);
}

/* What a console page wrote: one buffer, closed once full. */
static char	 page_buf[1 << 20];

static void
page_full(FCGX_Stream *s, int doclose)
{
	(void)doclose;
	s->isClosed = 1;
}

/*
 * Runs a console page function for GET ?query against c as signed-in
 * "admin"; returns its output (headers and body), NUL-ended.
 */
static const char *
page_run(const struct conf *c, void (*page)(struct console_rq *),
    const char *query)
{
	FCGX_Request		 fr;
	FCGX_Stream		 os;
	struct req		 r;
	struct console_rq	 rq;
	char			*env[1] = { NULL };

	memset(&os, 0, sizeof(os));
	os.wrNext = os.stopUnget = (unsigned char *)page_buf;
	os.stop = os.wrNext + sizeof(page_buf) - 1;
	os.rdNext = os.stop;
	os.emptyBuffProc = page_full;
	memset(&fr, 0, sizeof(fr));
	fr.out = &os;
	fr.envp = env;
	memset(&r, 0, sizeof(r));
	r.fr = &fr;
	snprintf(r.method, sizeof(r.method), "GET");
	r.query = query;
	memset(&rq, 0, sizeof(rq));
	rq.conf = c;
	rq.r = &r;
	snprintf(rq.prefix, sizeof(rq.prefix), "/console/");
	rq.page = "page";
	snprintf(rq.user, sizeof(rq.user), "admin");
	rq.query = req_parse_query(query, strlen(query));
	page(&rq);
	json_object_put(rq.query);
	json_object_put(rq.form);
	*os.wrNext = '\0';
	return page_buf;
}

/* How many times needle is in s. */
static int
count_of(const char *s, const char *needle)
{
	int	 n = 0;

	for (; (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	return n;
}

/*
 * History's pages: 25 versions are 20 on the first page with a link to
 * the older page only, 5 on the second with a link to the newer only;
 * ?v= shows one version with its secrets masked; a name that is none
 * is 404.
 */
static void
t_history_pages(void **state)
{
	struct conf	 c;
	char		 cwd[512], tdir[600], rel[128], name[5][64], q[96];
	char		 text[256];
	const char	*out, *p;
	int		 i;

	(void)state;
	hist_base = time(NULL);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(tdir, sizeof(tdir), "%s/templates", cwd);
	assert_int_equal(tmplset_load(tdir), 0);
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	snprintf(rel, sizeof(rel), "%s/cmsi.json", dir);
	c.path = rel;
	put_file("cmsi.json", "{\"components\": {}}");
	snprintf(q, sizeof(q), "%s/console", dir);
	assert_int_equal(mkdir(q, 0700), 0);
	snprintf(q, sizeof(q), "%s/console/history", dir);
	assert_int_equal(mkdir(q, 0700), 0);
	for (i = 0; i < 25; i++) {
		hist_name(q, sizeof(q), "history", 0, i, ".json");
		snprintf(text, sizeof(text), "{\"components\": {\"send_sms\": "
		    "{\"tc_secret_key\": \"hidden-1\", \"tc_sign\": \"s%d\"}}}",
		    i);
		put_file(q, text);
		if (i == 0 || i == 19 || i == 20 || i == 24)
			snprintf(name[i == 0 ? 0 : i == 19 ? 1 : i == 20 ? 2 :
			    3], sizeof(name[0]), "%s", strrchr(q, '/') + 1);
	}

	/* Who replaced version 1 (a save of send_sms) and 2 (a rollback). */
	hist_name(q, sizeof(q), "history", 0, 1, ".meta");
	put_file(q, "{\"user\": \"alice\", \"component\": \"send_sms\", "
	    "\"keys\": [\"tc_sign\"]}");
	hist_name(q, sizeof(q), "history", 0, 2, ".meta");
	put_file(q, "{\"user\": \"bob\", \"event\": \"rollback\", \"to\": "
	    "\"x\"}");

	out = page_run(&c, csave_history, "");
	assert_true(strncmp(out, "Status: 200\r\n", 13) == 0);
	assert_int_equal(count_of(out, "history?v="), 20);
	/* A component's save lists its keys bare; a rollback in full. */
	assert_non_null(strstr(out, "<td class=\"who-col\">alice</td>"));
	assert_non_null(strstr(out, "<span class=\"mono dpath\">tc_sign</span> "
	    "<span class=\"mono was\">s1</span>"));
	assert_non_null(strstr(out, "<td class=\"who-col\">bob</td>"));
	assert_non_null(strstr(out, "<span class=\"mono dpath\">components."
	    "send_sms.tc_sign</span> <span class=\"mono was\">s2</span>"));
	snprintf(q, sizeof(q), "history?v=%s\"", name[0]);
	assert_non_null(strstr(out, q));
	snprintf(q, sizeof(q), "history?v=%s\"", name[1]);
	assert_non_null(strstr(out, q));
	snprintf(q, sizeof(q), "history?v=%s\"", name[2]);
	assert_null(strstr(out, q));
	/* Each row: what replaced it, the version newer than it. */
	assert_non_null(strstr(out, "<span class=\"mono was\">s1</span> → "
	    "<span class=\"mono now\">s0</span>"));
	assert_non_null(strstr(out, "<span class=\"mono was\">s19</span> → "
	    "<span class=\"mono now\">s18</span>"));
	assert_non_null(strstr(out, "id=\"older\" href=\"/console/"
	    "history?page=1\""));
	assert_null(strstr(out, "id=\"newer\""));
	assert_non_null(strstr(out, "id=\"kept\""));
	assert_non_null(strstr(out, ": 25."));

	out = page_run(&c, csave_history, "page=1");
	assert_int_equal(count_of(out, "history?v="), 5);
	snprintf(q, sizeof(q), "history?v=%s\"", name[2]);
	assert_non_null(strstr(out, q));
	snprintf(q, sizeof(q), "history?v=%s\"", name[3]);
	assert_non_null(strstr(out, q));
	snprintf(q, sizeof(q), "history?v=%s\"", name[1]);
	assert_null(strstr(out, q));
	/* The first row of a later page compares with the page before. */
	assert_non_null(strstr(out, "<span class=\"mono was\">s20</span> → "
	    "<span class=\"mono now\">s19</span>"));
	assert_non_null(strstr(out, "id=\"newer\" href=\"/console/"
	    "history?page=0\""));
	assert_null(strstr(out, "id=\"older\""));

	snprintf(q, sizeof(q), "v=%s", name[3]);
	out = page_run(&c, csave_history, q);
	assert_true(strncmp(out, "Status: 200\r\n", 13) == 0);
	assert_non_null(p = strstr(out, "id=\"version-text\""));
	assert_non_null(strstr(p, "******"));
	assert_null(strstr(out, "hidden-1"));
	out = page_run(&c, csave_history, "v=20200101T000000-000000000.json");
	assert_true(strncmp(out, "Status: 404\r\n", 13) == 0);
	assert_non_null(strstr(out, "No such version."));

	/* Exactly one page's worth: no link to an older page. */
	for (i = 20; i < 25; i++) {
		hist_name(q, sizeof(q), "history", 0, i, ".json");
		snprintf(tdir, sizeof(tdir), "%s/%s", dir, q);
		assert_int_equal(unlink(tdir), 0);
	}
	out = page_run(&c, csave_history, "");
	assert_int_equal(count_of(out, "history?v="), 20);
	assert_null(strstr(out, "id=\"older\""));
	assert_null(strstr(out, "id=\"newer\""));
	tmplset_free();
}

/*
 * A console POST of form (JSON text) with the Cookie header cookie to
 * page, unsigned; returns its output.
 */
static const char *
page_post(const struct conf *c, void (*page)(struct console_rq *),
    const char *cookie, const char *form)
{
	FCGX_Request		 fr;
	FCGX_Stream		 os;
	struct req		 r;
	struct console_rq	 rq;
	char			 hdr[256];
	char			*env[3] = { hdr, "REMOTE_ADDR=192.0.2.9", NULL };

	snprintf(hdr, sizeof(hdr), "HTTP_COOKIE=%s", cookie);
	memset(&os, 0, sizeof(os));
	os.wrNext = os.stopUnget = (unsigned char *)page_buf;
	os.stop = os.wrNext + sizeof(page_buf) - 1;
	os.rdNext = os.stop;
	os.emptyBuffProc = page_full;
	memset(&fr, 0, sizeof(fr));
	fr.out = &os;
	fr.envp = env;
	memset(&r, 0, sizeof(r));
	r.fr = &fr;
	snprintf(r.method, sizeof(r.method), "POST");
	r.query = "";
	memset(&rq, 0, sizeof(rq));
	rq.conf = c;
	rq.r = &r;
	snprintf(rq.prefix, sizeof(rq.prefix), "/console/");
	rq.page = "signin";
	rq.query = json_object_new_object();
	rq.form = json_tokener_parse(form);
	page(&rq);
	json_object_put(rq.query);
	json_object_put(rq.form);
	*os.wrNext = '\0';
	return page_buf;
}

static int	 session_of(const struct conf *, const char *, char *, size_t);

/* How many files dir/rel holds. */
static int
files_in(const char *rel)
{
	char		 path[256];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * Sign-in: the form's token must be the pre-session cookie's 64 hex
 * digits; a good sign-in opens a session and sweeps those past
 * session_minutes (one a second older than that goes, one exactly
 * that old stays: its exp is now).
 */
static void
t_signin_sweep(void **state)
{
	struct conf	 c;
	struct timespec	 ts[2];
	char		 hash[LIM_PWHASH], text[512], path[256];
	const char	*pre = "00000000000000000000000000000000"
	    "000000000000000000000000000000ab";
	const char	*out, *cookie;
	char		 sid[65], user[LIM_NAME];
	time_t		 t0;
	int		 tries;

	(void)state;
	assert_int_equal(pwhash_make("pw-1", 4, hash, sizeof(hash)), 0);
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	snprintf(text, sizeof(text), "{\"users\": {\"admin\": "
	    "{\"password_hash\": \"%s\"}}, \"session_minutes\": 1}", hash);
	assert_non_null(c.console = json_tokener_parse(text));
	snprintf(path, sizeof(path), "%s/console", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/console/sessions", dir);
	assert_int_equal(mkdir(path, 0700), 0);

	/* Not 64 hex digits: no sign-in, whatever the form says. */
	out = page_post(&c, cauth_signin, "cmsi_console_pre=abc",
	    "{\"csrf\": \"abc\", \"username\": \"admin\", \"password\": "
	    "\"pw-1\"}");
	assert_true(strncmp(out, "Status: 403\r\n", 13) == 0);
	assert_non_null(strstr(out, "\r\n\r\nThe sign-in form expired: "
	    "reload it.\n"));
	assert_int_equal(files_in("console/sessions"), 0);

	for (tries = 0; tries < 20; tries++) {
		t0 = time(NULL);
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		put_file("console/sessions/old", "{}");
		put_file("console/sessions/edge", "{}");
		ts[0].tv_sec = ts[1].tv_sec = t0 - 61;
		snprintf(path, sizeof(path), "%s/console/sessions/old", dir);
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
		ts[0].tv_sec = ts[1].tv_sec = t0 - 60;
		snprintf(path, sizeof(path), "%s/console/sessions/edge", dir);
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
		snprintf(text, sizeof(text), "cmsi_console_pre=%s", pre);
		out = page_post(&c, cauth_signin, text, "{\"csrf\": "
		    "\"00000000000000000000000000000000000000000000000000000000"
		    "000000ab\", \"username\": \"admin\", \"password\": "
		    "\"pw-1\"}");
		if (time(NULL) == t0)
			break;
	}
	assert_true(tries < 20);
	assert_true(strncmp(out, "Status: 303\r\n", 13) == 0);
	assert_false(exists("console/sessions/old"));
	assert_true(exists("console/sessions/edge"));
	/* The edge and one session a sign-in (each try signs in once). */
	assert_int_equal(files_in("console/sessions"), 2 + tries);
	/* The session it set is one: admin's, with the password's tag. */
	assert_non_null(cookie = strstr(out, "Set-Cookie: cmsi_console="));
	snprintf(sid, sizeof(sid), "%.64s", cookie + 25);
	assert_int_equal(session_of(&c, sid, user, sizeof(user)), 1);
	assert_string_equal(user, "admin");
	json_object_put(c.console);
}

/*
 * The Messages page: each record's recipients as one line (a list
 * joined by ", ", a string as it is), the app filter, the event lines
 * left out; message?at= opens a record only where a line starts.
 */
static void
t_messages_page(void **state)
{
	struct conf	 c;
	char		 cwd[512], tdir[600], ts[32], text[1024], q[64];
	const char	*out;
	time_t		 now = time(NULL);
	struct tm	 tm;
	size_t		 first;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(tdir, sizeof(tdir), "%s/templates", cwd);
	assert_int_equal(tmplset_load(tdir), 0);
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	snprintf(tdir, sizeof(tdir), "%s/cmsi.json", dir);
	c.path = tdir;
	put_file("cmsi.json", "{}");
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(text, sizeof(text),
	    "{\"ts\":\"%s\",\"request_id\":\"a1b2\",\"component\":"
	    "\"send_mail\",\"app\":\"demo\",\"recipients\":[\"a@x.example\","
	    "\"b@x.example\"],\"result\":true,\"code\":0,\"message\":\"OK\"}\n"
	    "{\"ts\":\"%s\",\"event\":\"console.save\",\"component\":"
	    "\"send_mail\",\"recipients\":[]}\n"
	    "{\"ts\":\"%s\",\"request_id\":\"c3d4\",\"component\":\"send_sms\","
	    "\"app\":\"other\",\"recipients\":\"+8613800000001\",\"result\":"
	    "false,\"code\":1306000,\"message\":\"refused-1\"}\n", ts, ts, ts);
	put_file("audit.log", text);
	first = strcspn(text, "\n") + 1;
	first += strcspn(text + first, "\n") + 1;

	out = page_run(&c, caudit_messages, "");
	assert_true(strncmp(out, "Status: 200\r\n", 13) == 0);
	assert_int_equal(count_of(out, "<tr data-at="), 2);
	assert_non_null(strstr(out, "<td class=\"mono rcpt\">a@x.example, "
	    "b@x.example</td>"));
	assert_non_null(strstr(out, "<td class=\"mono rcpt\">+8613800000001"
	    "</td>"));
	assert_non_null(strstr(out, "refused-1"));
	assert_null(strstr(out, "(null)"));
	out = page_run(&c, caudit_messages, "app=demo");
	assert_int_equal(count_of(out, "<tr data-at="), 1);
	assert_non_null(strstr(out, "<tr data-at=\"0\">"));
	out = page_run(&c, caudit_messages, "outcome=failed");
	assert_int_equal(count_of(out, "<tr data-at="), 1);
	snprintf(q, sizeof(q), "<tr data-at=\"%zu\">", first);
	assert_non_null(strstr(out, q));

	snprintf(q, sizeof(q), "at=%zu", first);
	out = page_run(&c, caudit_message, q);
	assert_true(strncmp(out, "Status: 200\r\n", 13) == 0);
	assert_non_null(strstr(out, "refused-1"));
	snprintf(q, sizeof(q), "at=%zu", first + 1);
	out = page_run(&c, caudit_message, q);
	assert_true(strncmp(out, "Status: 404\r\n", 13) == 0);
	out = page_run(&c, caudit_message, "at=0");
	assert_true(strncmp(out, "Status: 200\r\n", 13) == 0);
	assert_non_null(strstr(out, "a@x.example"));
	tmplset_free();
}

/*
 * Young versions past LIM_HISTORY stay while they take at most 256 MiB
 * and number at most 2000: 22 of 13 MiB each (sparse) keep 20 (the
 * 21st passes the bytes); 2001 small ones keep 2000.
 */
static void
t_hist_young_caps(void **state)
{
	struct conf		 c;
	struct console_rq	 rq;
	char			 rel[128], path[256];
	int			 i, fd;

	(void)state;
	hist_base = time(NULL);
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	memset(&rq, 0, sizeof(rq));
	rq.conf = &c;
	snprintf(path, sizeof(path), "%s/console", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/console/big", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/console/many", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	for (i = 0; i < 22; i++) {
		hist_name(rel, sizeof(rel), "big", 1, i, ".json");
		snprintf(path, sizeof(path), "%s/%s", dir, rel);
		assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) != -1);
		assert_int_equal(ftruncate(fd, 13LL * 1024 * 1024), 0);
		close(fd);
	}
	assert_int_equal(hist_list(&rq, "big", 1), LIM_HISTORY);
	assert_int_equal(files_in("console/big"), LIM_HISTORY);
	for (i = 0; i < 2001; i++) {
		hist_name(rel, sizeof(rel), "many", 1, i, ".json");
		put_file(rel, "{}");
	}
	assert_int_equal(hist_list(&rq, "many", 1), 64);
	assert_int_equal(files_in("console/many"), 2000);
	hist_name(rel, sizeof(rel), "many", 1, 2000, ".json");
	assert_false(exists(rel));
	hist_name(rel, sizeof(rel), "many", 1, 1999, ".json");
	assert_true(exists(rel));
}

/*
 * The template preview of a named message: its own sample.json of up
 * to LIM_TMPL_SAVE bytes fills it (one byte more and the built-in
 * sample does); a text of LIM_TMPL_SAVE bytes renders, one more is
 * refused with the cap.
 */
static void
t_template_preview(void **state)
{
	struct conf	 c;
	char		 path[512], tdir[256], *big;
	const char	*out;
	json_object	*form;
	size_t		 n, k;
	int		 fd;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	snprintf(tdir, sizeof(tdir), "%s/tpl", dir);
	c.templates_dir = tdir;
	snprintf(path, sizeof(path), "%s/cmsi.json", dir);
	c.path = path;
	put_file("cmsi.json", "{}");
	snprintf(path, sizeof(path), "%s/tpl", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/tpl/messages", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/tpl/messages/alert", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	put_file("tpl/messages/alert/content.mustache", "Hi <{{who}}>");
	big = xmalloc(LIM_TMPL_SAVE + 2);
	for (n = LIM_TMPL_SAVE; n <= LIM_TMPL_SAVE + 1; n++) {
		k = (size_t)snprintf(big, LIM_TMPL_SAVE + 2,
		    "{\"who\": \"from-sample\"}");
		memset(big + k, ' ', n - k);
		snprintf(path, sizeof(path),
		    "%s/tpl/messages/alert/sample.json", dir);
		assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
		    0600)) != -1);
		assert_int_equal(write(fd, big, n), (ssize_t)n);
		close(fd);
		out = page_run(&c, ctmpl_preview,
		    "n=messages/alert/content&as=json");
		assert_true(strncmp(out, "Status: 200\r\n", 13) == 0);
		if (n == LIM_TMPL_SAVE)
			assert_non_null(strstr(out, "Hi <from-sample>"));
		else
			assert_null(strstr(out, "from-sample"));
	}
	/* The text itself: LIM_TMPL_SAVE bytes render, one more not. */
	free(big);
	big = xmalloc(LIM_TMPL_SAVE + 2);
	for (n = LIM_TMPL_SAVE; n <= LIM_TMPL_SAVE + 1; n++) {
		memset(big, 'x', n);
		big[n] = '\0';
		form = json_object_new_object();
		json_object_object_add(form, "n", json_object_new_string(
		    "messages/alert/content"));
		json_object_object_add(form, "as", json_object_new_string(
		    "json"));
		json_object_object_add(form, "text", json_object_new_string(
		    big));
		out = page_post(&c, ctmpl_preview, "", json_object_to_json_string(
		    form));
		json_object_put(form);
		if (n == LIM_TMPL_SAVE)
			assert_non_null(strstr(out, "\"ok\":true"));
		else {
			assert_non_null(strstr(out, "\"ok\":false"));
			assert_non_null(strstr(out, "larger than 65536 bytes"));
		}
	}
	free(big);
}

/*
 * A state_dir of exactly 977 bytes: History's version path is then
 * LIM_PATH bytes with its NUL, one too many.  ?v= of a version whose
 * name is cut by one byte on the way must be no version (404), never
 * the file the cut name happens to open.
 */
static void
t_history_long_state(void **state)
{
	struct conf	 c;
	char		 sd[LIM_PATH], path[LIM_PATH + 64], q[96];
	const char	*out, *v = "20260101T000000-000000001.json";
	size_t		 n, k;
	FILE		*f;

	(void)state;
	snprintf(sd, sizeof(sd), "%s", dir);
	while ((n = strlen(sd)) < 977) {
		k = 977 - n - 1 > 200 ? 200 : 977 - n - 1;
		sd[n] = '/';
		memset(sd + n + 1, 'd', k);
		sd[n + 1 + k] = '\0';
		assert_int_equal(mkdir(sd, 0700), 0);
	}
	assert_int_equal(strlen(sd), 977);
	memset(&c, 0, sizeof(c));
	c.state_dir = sd;
	snprintf(path, sizeof(path), "%s/cmsi.json", dir);
	c.path = path;
	put_file("cmsi.json", "{}");
	snprintf(path, sizeof(path), "%s/console", sd);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/console/history", sd);
	assert_int_equal(mkdir(path, 0700), 0);
	/* The name cut by one byte ("....jso") is a file here. */
	snprintf(path, sizeof(path), "%s/console/history/%.*s", sd,
	    (int)strlen(v) - 1, v);
	assert_non_null(f = fopen(path, "w"));
	fputs("{\"cut\": \"opened\"}", f);
	fclose(f);
	snprintf(q, sizeof(q), "v=%s", v);
	out = page_run(&c, csave_history, q);
	assert_true(strncmp(out, "Status: 404\r\n", 13) == 0);
	assert_null(strstr(out, "opened"));
}

static char	 intent_path[256];	/* the item spool_run must hold */
static int	 intent_seen;

/* The first attempt: the item is in the spool and locked by the run. */
static void
intent_hnd(struct ctx *cx, struct reply *rp)
{
	int	 fd;

	(void)cx;
	fd = open(intent_path, O_RDONLY);
	assert_true(fd != -1);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
	close(fd);
	intent_seen = 1;
	reply_ok(rp, "sent");
}

/*
 * With retry on, a kill during the first attempt must not lose the
 * request: the item is written and locked before the attempt, and goes
 * once everyone was reached.
 */
static void
t_spool_intent(void **state)
{
	struct conf	*c;
	struct ctx	 cx;
	struct reply	 rp;
	json_object	*params, *raw;
	char		 text[1024], cwd[512];
	const char	*id = "5123456789abcdef0123456789abcdef";
	int		 n = -1;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", "
	    "\"schemas_dir\": \"%s/conf/schemas\", \"components\": {\"send_sms\": {\"retry\": {\"attempts\": 3, "
	    "\"max_age_s\": 60, \"backoff_s\": 1}}}}", dir, cwd);
	put_file("cmsi.json", text);
	snprintf(text, sizeof(text), "%s/cmsi.json", dir);
	assert_non_null(c = conf_load(text, &n));
	assert_int_equal(n, 0);
	params = json_tokener_parse("{\"receiver\": \"+8613800000001\"}");
	raw = json_object_new_object();
	memset(&cx, 0, sizeof(cx));
	cx.conf = c;
	cx.component = "send_sms";
	assert_true(json_object_object_get_ex(c->components, "send_sms",
	    &cx.section));
	cx.params = params;
	cx.raw = raw;
	cx.request_id = id;
	cx.app_code = "app-a";
	cx.username = "admin";
	snprintf(intent_path, sizeof(intent_path), "%s/spool/%s.json", dir,
	    id);
	intent_seen = 0;
	reply_init(&rp);
	spool_run(intent_hnd, &cx, &rp, NULL);
	assert_int_equal(intent_seen, 1);
	assert_int_equal(rp.result, 1);
	assert_string_equal(rp.message, "sent");
	assert_int_equal(access(intent_path, F_OK), -1);
	reply_free(&rp);
	json_object_put(params);
	json_object_put(raw);
	conf_free(c);
}

/* Where sid's session file is, below dir: its SHA-256 names it. */
static void
session_rel(const char *sid, char *rel, size_t n)
{
	unsigned char	 md[32];
	char		 hex[65];

	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, sid, strlen(sid),
	    md), 0);
	cauth_hex(md, sizeof(md), hex);
	snprintf(rel, n, "console/sessions/%s", hex);
}

/* A session file for sid as session_new writes it, with fields. */
static void
session_put(const char *sid, const char *fields)
{
	char	 rel[160];

	session_rel(sid, rel, sizeof(rel));
	put_file(rel, fields);
}

/* cauth_session for a request carrying cookie; the user it found. */
static int
session_of(const struct conf *c, const char *sid, char *user, size_t n)
{
	FCGX_Request		 fr;
	struct req		 r;
	struct console_rq	 rq;
	char			 cookie[160];
	char			*env[2];
	int			 rc;

	memset(&fr, 0, sizeof(fr));
	memset(&r, 0, sizeof(r));
	memset(&rq, 0, sizeof(rq));
	snprintf(cookie, sizeof(cookie), "HTTP_COOKIE=lang=en; "
	    "cmsi_console=%s", sid);
	env[0] = cookie;
	env[1] = NULL;
	fr.envp = env;
	r.fr = &fr;
	rq.conf = c;
	rq.r = &r;
	rc = cauth_session(&rq);
	snprintf(user, n, "%s", rq.user);
	return rc;
}

/*
 * A console session is its file: a local user's only while the config
 * still has that user and the same password_hash (its tag in "pw"), a
 * BlueKing user's while listed in admins; past "exp", or with a field
 * missing, it is none (and an expired or stale file goes).
 */
static void
t_session(void **state)
{
	struct conf	 c;
	unsigned char	 md[32];
	char		 tag[33], text[512], user[LIM_NAME];
	const char	*hash = "pbkdf2-sha256$600000$c2FsdA==$a2V5";
	const char	*sid[] = {
	    "0000000000000000000000000000000000000000000000000000000000000001",
	    "0000000000000000000000000000000000000000000000000000000000000002",
	    "0000000000000000000000000000000000000000000000000000000000000003",
	    "0000000000000000000000000000000000000000000000000000000000000004",
	    "0000000000000000000000000000000000000000000000000000000000000005",
	    "0000000000000000000000000000000000000000000000000000000000000006",
	    "0000000000000000000000000000000000000000000000000000000000000007",
	};
	long long	 later = (long long)time(NULL) + 600;
	size_t		 i;
	static const int want[] = { 1, 0, 0, 0, 0, 1, 0 };
	static const char *const who[] = { "admin", "", "", "", "", "boss",
	    "" };

	(void)state;
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	snprintf(text, sizeof(text), "{\"users\": {\"admin\": "
	    "{\"password_hash\": \"%s\"}}, \"admins\": [\"boss\"]}", hash);
	assert_non_null(c.console = json_tokener_parse(text));
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, hash,
	    strlen(hash), md), 0);
	cauth_hex(md, 16, tag);
	snprintf(text, sizeof(text), "%s/console", dir);
	assert_int_equal(mkdir(text, 0700), 0);
	snprintf(text, sizeof(text), "%s/console/sessions", dir);
	assert_int_equal(mkdir(text, 0700), 0);

	/* 1: good; 2: another password's tag; 3: expired; 4: no exp. */
	snprintf(text, sizeof(text), "{\"user\": \"admin\", \"csrf\": \"c1\", "
	    "\"exp\": %lld, \"via\": \"local\", \"pw\": \"%s\"}", later, tag);
	session_put(sid[0], text);
	snprintf(text, sizeof(text), "{\"user\": \"admin\", \"csrf\": \"c2\", "
	    "\"exp\": %lld, \"via\": \"local\", \"pw\": "
	    "\"00000000000000000000000000000000\"}", later);
	session_put(sid[1], text);
	snprintf(text, sizeof(text), "{\"user\": \"admin\", \"csrf\": \"c3\", "
	    "\"exp\": %lld, \"via\": \"local\", \"pw\": \"%s\"}",
	    (long long)time(NULL) - 1, tag);
	session_put(sid[2], text);
	snprintf(text, sizeof(text), "{\"user\": \"admin\", \"csrf\": \"c4\", "
	    "\"via\": \"local\", \"pw\": \"%s\"}", tag);
	session_put(sid[3], text);
	/* 5: a BlueKing name that is a local user only; 6: an admin. */
	snprintf(text, sizeof(text), "{\"user\": \"admin\", \"csrf\": \"c5\", "
	    "\"exp\": %lld, \"via\": \"bk\"}", later);
	session_put(sid[4], text);
	snprintf(text, sizeof(text), "{\"user\": \"boss\", \"csrf\": \"c6\", "
	    "\"exp\": %lld, \"via\": \"bk\"}", later);
	session_put(sid[5], text);
	/* 7: a local session of a name the config does not have. */
	snprintf(text, sizeof(text), "{\"user\": \"boss\", \"csrf\": \"c7\", "
	    "\"exp\": %lld, \"via\": \"local\", \"pw\": \"%s\"}", later, tag);
	session_put(sid[6], text);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (session_of(&c, sid[i], user, sizeof(user)) != want[i])
			fail_msg("session %zu is not %d", i + 1, want[i]);
		assert_string_equal(user, who[i]);
	}
	/* The stale and the expired are removed; the good one stays. */
	session_rel(sid[1], text, sizeof(text));
	assert_false(exists(text));
	session_rel(sid[2], text, sizeof(text));
	assert_false(exists(text));
	session_rel(sid[0], text, sizeof(text));
	assert_true(exists(text));
	/* The good one again: a session is not used up by reading it. */
	assert_int_equal(session_of(&c, sid[0], user, sizeof(user)), 1);
	/* A cookie that is no session id: none. */
	assert_int_equal(session_of(&c, "00000000000000000000000000000001",
	    user, sizeof(user)), 0);
	json_object_put(c.console);
}

/*
 * One request with an Idempotency-Key through idem_begin/idem_end; a
 * first run answers OK with datalen bytes of data.  Returns
 * idem_begin's answer; the record's path in path.
 */
static int
idem_once(const struct conf *c, const char *key, size_t datalen,
    struct reply *rp, char *path, size_t pathsz)
{
	FCGX_Request	 fr;
	struct req	 r;
	struct ctx	 cx;
	struct idem	 ik;
	char		 hdr[300], *big;
	char		*env[2];
	json_object	*p, *none;
	int		 rc;

	memset(&fr, 0, sizeof(fr));
	memset(&r, 0, sizeof(r));
	snprintf(hdr, sizeof(hdr), "HTTP_IDEMPOTENCY_KEY=%s", key);
	env[0] = hdr;
	env[1] = NULL;
	fr.envp = env;
	r.fr = &fr;
	p = json_tokener_parse("{\"receiver\": \"u1\"}");
	none = json_object_new_object();
	memset(&cx, 0, sizeof(cx));
	cx.conf = c;
	cx.component = "send_sms";
	cx.params = p;
	cx.section = none;
	cx.request_id = "6123456789abcdef0123456789abcdef";
	cx.app_code = "app-a";
	cx.username = "admin";
	cx.req = &r;
	reply_init(rp);
	rc = idem_begin(&cx, &ik, rp);
	snprintf(path, pathsz, "%s/%s", ik.dir, ik.name);
	if (rc == 0) {
		big = xmalloc(datalen + 1);
		memset(big, 'd', datalen);
		big[datalen] = '\0';
		reply_ok(rp, "sent");
		rp->data = json_object_new_string(big);
		free(big);
		idem_end(&ik, &cx, rp);
	}
	json_object_put(p);
	json_object_put(none);
	return rc;
}

/*
 * LIM_IDEM_ANSWER: a kept record of exactly the cap is the answer a
 * repeat gets; a byte more is not kept (the log says so), and the
 * repeat runs again rather than wait on a record that never comes.
 */
static void
t_idem_answer_cap(void **state)
{
	struct conf	 c;
	struct reply	 rp;
	struct stat	 st;
	char		 path[LIM_PATH + 100];
	size_t		 over, n;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	/* The record's bytes beside the data, from a small one. */
	assert_int_equal(idem_once(&c, "m-0", 10, &rp, path, sizeof(path)),
	    0);
	reply_free(&rp);
	assert_int_equal(stat(path, &st), 0);
	over = (size_t)st.st_size - 10;

	n = LIM_IDEM_ANSWER - over;
	assert_int_equal(idem_once(&c, "m-1", n, &rp, path, sizeof(path)), 0);
	reply_free(&rp);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, LIM_IDEM_ANSWER);
	assert_int_equal(idem_once(&c, "m-1", 0, &rp, path, sizeof(path)), 1);
	assert_int_equal(rp.result, 1);
	assert_string_equal(rp.message, "sent");
	assert_int_equal(json_object_get_string_len(rp.data), n);
	reply_free(&rp);

	assert_int_equal(idem_once(&c, "m-2", n + 1, &rp, path, sizeof(path)),
	    0);
	reply_free(&rp);
	/* Nothing kept: the repeat is run as a request of its own. */
	assert_int_equal(idem_once(&c, "m-2", 3, &rp, path, sizeof(path)), 0);
	assert_string_equal(json_object_get_string(rp.data), "ddd");
	reply_free(&rp);
}

/* webhook_headers_check on the JSON text; its message in msg. */
static int
headers_check(const char *text, char *msg, size_t n)
{
	json_object	*h = json_tokener_parse(text);
	int		 rc;

	assert_non_null(h);
	msg[0] = '\0';
	rc = webhook_headers_check(h, msg, n);
	json_object_put(h);
	return rc;
}

/*
 * A custom webhook's headers: WEBHOOK_HEADERS of them, a name of
 * LIM_NAME - 1 bytes, a value of LIM_SECRET bytes are taken; one more
 * of each is refused with its message.
 */
static void
t_webhook_header_caps(void **state)
{
	char	 text[LIM_SECRET + 256], name[LIM_NAME + 1];
	char	 value[LIM_SECRET + 2], msg[256];

	(void)state;
	assert_int_equal(headers_check("{\"a\": \"1\", \"b\": \"2\", \"c\": "
	    "\"3\", \"d\": \"4\", \"e\": \"5\", \"f\": \"6\"}", msg,
	    sizeof(msg)), 0);
	assert_int_equal(headers_check("{\"a\": \"1\", \"b\": \"2\", \"c\": "
	    "\"3\", \"d\": \"4\", \"e\": \"5\", \"f\": \"6\", \"g\": \"7\"}",
	    msg, sizeof(msg)), -1);
	assert_string_equal(msg, "at most 6");

	memset(name, 'n', LIM_NAME - 1);
	name[LIM_NAME - 1] = '\0';
	snprintf(text, sizeof(text), "{\"%s\": \"v\"}", name);
	assert_int_equal(headers_check(text, msg, sizeof(msg)), 0);
	name[LIM_NAME - 1] = 'n';
	name[LIM_NAME] = '\0';
	snprintf(text, sizeof(text), "{\"%s\": \"v\"}", name);
	assert_int_equal(headers_check(text, msg, sizeof(msg)), -1);
	snprintf(text, sizeof(text), "\"%.64s\" is no header name", name);
	assert_string_equal(msg, text);

	memset(value, 'v', LIM_SECRET);
	value[LIM_SECRET] = '\0';
	snprintf(text, sizeof(text), "{\"X-Key\": \"%s\"}", value);
	assert_int_equal(headers_check(text, msg, sizeof(msg)), 0);
	value[LIM_SECRET] = 'v';
	value[LIM_SECRET + 1] = '\0';
	snprintf(text, sizeof(text), "{\"X-Key\": \"%s\"}", value);
	assert_int_equal(headers_check(text, msg, sizeof(msg)), -1);
	snprintf(text, sizeof(text), "X-Key: longer than %d bytes",
	    LIM_SECRET);
	assert_string_equal(msg, text);

	assert_int_equal(headers_check("{\"Host\": \"x\"}", msg, sizeof(msg)),
	    -1);
	assert_string_equal(msg, "Host is the gateway's to set");
	assert_int_equal(headers_check("{\"X-A\": \"a\\u0001b\"}", msg,
	    sizeof(msg)), -1);
	assert_string_equal(msg, "X-A: a control character in its value");
	assert_int_equal(headers_check("{\"X-A\": \"a\\tb\"}", msg,
	    sizeof(msg)), 0);
	assert_int_equal(headers_check("{\"X A\": \"a\"}", msg, sizeof(msg)),
	    -1);
	assert_string_equal(msg, "\"X A\" is no header name");
	assert_int_equal(headers_check("{\"\": \"a\"}", msg, sizeof(msg)), -1);
}

/*
 * The Official Account's server URL with a signed POST of body (n
 * bytes); the HTTP status answered.
 */
static int
callback_post(const struct conf *c, const char *body, size_t n)
{
	FCGX_Request	 fr;
	struct req	 r;
	struct ctx	 cx;
	struct reply	 rp;
	char		 ts[32], sig[41], query[160];
	char		*env[1] = { NULL };
	int		 status;

	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	assert_int_equal(wxmp_signature("tok-1", ts, "n-1", sig), 0);
	snprintf(query, sizeof(query), "signature=%s&timestamp=%s&nonce=n-1",
	    sig, ts);
	memset(&fr, 0, sizeof(fr));
	fr.envp = env;
	memset(&r, 0, sizeof(r));
	r.fr = &fr;
	snprintf(r.method, sizeof(r.method), "POST");
	snprintf(r.path, sizeof(r.path), "/wx/cb");
	r.query = query;
	r.body = (char *)(uintptr_t)body;
	r.bodylen = n;
	memset(&cx, 0, sizeof(cx));
	cx.conf = c;
	cx.req = &r;
	cx.request_id = "7123456789abcdef0123456789abcdef";
	reply_init(&rp);
	hnd_wechat_callback(&cx, &rp);
	status = rp.status;
	reply_free(&rp);
	return status;
}

/*
 * LIM_CALLBACK: a push of exactly the cap is read and answered
 * "success" (200); one byte more is refused as too large (413) by the
 * handler, and by the XML reader given it directly.
 */
static void
t_callback_cap(void **state)
{
	struct conf		 c;
	struct wxmp_event	 ev;
	char			*body;
	const char		*head = "<xml><MsgType>text</MsgType>";

	(void)state;
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	assert_non_null(c.components = json_tokener_parse("{\"send_mp_weixin\""
	    ": {\"wx_token\": \"tok-1\", \"wx_callback_path\": \"/wx/cb\"}}"));
	body = xmalloc(LIM_CALLBACK + 1);
	memset(body, ' ', LIM_CALLBACK + 1);
	memcpy(body, head, strlen(head));
	memcpy(body + LIM_CALLBACK - 6, "</xml>", 6);
	assert_int_equal(wxmp_event(body, LIM_CALLBACK, &ev), 0);
	assert_string_equal(ev.msgtype, "text");
	assert_int_equal(callback_post(&c, body, LIM_CALLBACK), 200);
	memcpy(body + LIM_CALLBACK - 6, "      ", 6);
	memcpy(body + LIM_CALLBACK - 5, "</xml>", 6);
	assert_int_equal(wxmp_event(body, LIM_CALLBACK + 1, &ev), -1);
	assert_int_equal(callback_post(&c, body, LIM_CALLBACK + 1), 413);
	free(body);
	json_object_put(c.components);
}

/* What one recipient's attempt came to, as a stub handler tells it. */
struct stub_oc {
	const char		*rcpt;
	enum outcome_cls	 cls;
};

/*
 * One first attempt of t_spool_partial: what the handler reached, and
 * what the answer and the spool item must say of it.
 */
struct spool_case {
	const char	*name;
	const char	*id;		/* the request's, the spool item's */
	struct stub_oc	 oc[4];		/* up to a NULL rcpt */
	const char	*audit;		/* rp->audit as JSON, or NULL */
	int		 result;	/* 1: the message is spool_success() */
	const char	*message;	/* with result 0; NULL: not checked */
	const char	*data;		/* NULL: not checked */
	const char	*rcpt;		/* the item's rcpt */
	int		 due;		/* "next" is backoff_s (1 s) away */
};

static const struct spool_case	*stub_case;	/* what stub_hnd plays */

/* A handler that reports stub_case's outcomes and fails the call. */
static void
stub_hnd(struct ctx *cx, struct reply *rp)
{
	const struct stub_oc	*o;

	for (o = stub_case->oc; o->rcpt != NULL; o++)
		outcome_add(cx->oc, o->rcpt, o->cls, 0);
	if (stub_case->audit != NULL)
		rp->audit = json_tokener_parse(stub_case->audit);
	reply_fail(rp, 1306000, "Some users failed to receive the message");
}

/* assert_string_equal with the case's name in the failure message. */
static void
case_str(const char *name, const char *what, const char *got,
    const char *want)
{
	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("%s: %s is %s, want %s", name, what,
		    got == NULL ? "(null)" : got, want);
}

/*
 * A first attempt's partial success with retry on: who was reached is
 * "sent", the permanent refusal "failed", the transient one "pending"
 * and kept in the spool; the answer stays a failure naming the queued
 * one while anyone failed for good, and is the component's success
 * with data.queued when all the rest is only queued.
 */
static void
t_spool_partial(void **state)
{
	static const struct spool_case	 cases[] = {
		/* Reached a1, may reach a2 later and never a3. */
		{ "partial", "8123456789abcdef0123456789abcdef",
		    { { "a1", OC_OK }, { "a2", OC_TRANSIENT },
		    { "a3", OC_PERMANENT } }, NULL, 0,
		    "Some users failed to receive the message",
		    "{\"queued\":[\"a2\"]}",
		    "{\"a1\":\"sent\",\"a2\":\"pending\",\"a3\":\"failed\"}", 1 },
		/* The same, with a2 and a3 both worth another try. */
		{ "transient", "9123456789abcdef0123456789abcdef",
		    { { "a1", OC_OK }, { "a2", OC_TRANSIENT },
		    { "a3", OC_TRANSIENT } }, NULL, 1, NULL,
		    "{\"queued\":[\"a2\",\"a3\"]}",
		    "{\"a1\":\"sent\",\"a2\":\"pending\",\"a3\":\"pending\"}", 0 },
		/*
		 * a2 worth another try; a1 named only in the audit list: one
		 * the run said nothing of, on a failed first attempt, failed
		 * for good.  The answer stays a failure, only a2 queued.
		 */
		{ "silent", "a923456789abcdef0123456789abcdef",
		    { { "a2", OC_TRANSIENT } }, "[\"a1\", \"a2\"]", 0, NULL,
		    NULL, "{\"a2\":\"pending\",\"a1\":\"failed\"}", 0 },
	};
	const struct spool_case	*k;
	struct conf	*c;
	struct ctx	 cx;
	struct reply	 rp;
	json_object	*params, *raw, *item, *v;
	char		 text[1024], cwd[512], path[256];
	long long	 t0, next;
	size_t		 i;
	int		 n = -1;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", "
	    "\"schemas_dir\": \"%s/conf/schemas\", \"components\": "
	    "{\"send_sms\": {\"retry\": {\"attempts\": 3, \"max_age_s\": 60, "
	    "\"backoff_s\": 1}}}}", dir, cwd);
	put_file("cmsi.json", text);
	snprintf(text, sizeof(text), "%s/cmsi.json", dir);
	assert_non_null(c = conf_load(text, &n));
	params = json_tokener_parse("{\"receiver\": \"a1,a2,a3\"}");
	raw = json_object_new_object();
	memset(&cx, 0, sizeof(cx));
	cx.conf = c;
	cx.component = "send_sms";
	assert_true(json_object_object_get_ex(c->components, "send_sms",
	    &cx.section));
	cx.params = params;
	cx.raw = raw;
	cx.app_code = "app-a";
	cx.username = "admin";

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k = stub_case = &cases[i];
		cx.request_id = k->id;
		reply_init(&rp);
		t0 = (long long)time(NULL);
		spool_run(stub_hnd, &cx, &rp, NULL);
		if (rp.result != k->result)
			fail_msg("%s: result is %d, want %d", k->name,
			    rp.result, k->result);
		if (k->result)
			case_str(k->name, "message", rp.message,
			    spool_success("send_sms"));
		else if (k->message != NULL)
			case_str(k->name, "message", rp.message, k->message);
		if (k->data != NULL)
			case_str(k->name, "data", rp.data == NULL ? NULL :
			    json_object_to_json_string_ext(rp.data,
			    JSON_C_TO_STRING_PLAIN), k->data);
		reply_free(&rp);
		snprintf(path, sizeof(path), "%s/spool/%s.json", dir, k->id);
		if ((item = json_object_from_file(path)) == NULL)
			fail_msg("%s: no spool item %s", k->name, path);
		if (!json_object_object_get_ex(item, "rcpt", &v))
			fail_msg("%s: the spool item has no rcpt", k->name);
		case_str(k->name, "rcpt", json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN), k->rcpt);
		/* backoff_s 1: the second attempt is due a second later. */
		if (k->due) {
			if (!json_object_object_get_ex(item, "next", &v))
				fail_msg("%s: the spool item has no next",
				    k->name);
			next = json_object_get_int64(v);
			if (next < t0 + 1 || next > (long long)time(NULL) + 1)
				fail_msg("%s: next is %lld, want %lld to %lld",
				    k->name, next, t0 + 1,
				    (long long)time(NULL) + 1);
		}
		json_object_put(item);
	}

	json_object_put(params);
	json_object_put(raw);
	conf_free(c);
}

/* Whether the one History note (.meta) in dir/state holds needle. */
static int
note_has(const char *needle)
{
	char		 path[512], text[4096];
	DIR		*d;
	struct dirent	*de;
	FILE		*f;
	size_t		 n;
	int		 found = 0;

	snprintf(path, sizeof(path), "%s/state/console/history", dir);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".meta") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/state/console/history/%s",
		    dir, de->d_name);
		assert_non_null(f = fopen(path, "r"));
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
		found |= strstr(text, needle) != NULL;
	}
	closedir(d);
	return found;
}

/*
 * cmsi.fcgi --import NAME with text on standard input, against the
 * config c: its exit status, and the first line it wrote to stderr.
 */
static int
import_as(const struct conf *c, const char *user, const char *name,
    const char *text, size_t n, char *said, size_t saidsz)
{
	char	 res[] = "/tmp/cmsi-edges-err-XXXXXX";
	FILE	*in;
	int	 efd, saved, rc;
	ssize_t	 k;

	assert_non_null(in = fmemopen((void *)(uintptr_t)text, n, "r"));
	assert_true((efd = mkstemp(res)) != -1);
	fflush(stderr);
	fflush(stdout);
	saved = dup(2);
	dup2(efd, 2);
	rc = cimport_run(c, name, user, in);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fclose(in);
	k = pread(efd, said, saidsz - 1, 0);
	said[k > 0 ? k : 0] = '\0';
	said[strcspn(said, "\n")] = '\0';
	close(efd);
	unlink(res);
	return rc;
}

static int
import_of(const struct conf *c, const char *name, const char *text,
    size_t n, char *said, size_t saidsz)
{
	return import_as(c, "admin", name, text, n, said, saidsz);
}

/*
 * --import: an input of LIM_IMPORT bytes is read, one more refused; a
 * key of LIM_NAME - 1 bytes is a key (this one unknown to the
 * component), LIM_NAME bytes is none; a good key is written; --user
 * of LIM_NAME - 1 bytes is taken, LIM_NAME refused.
 */
static void
t_import_caps(void **state)
{
	struct conf	*c;
	json_object	*doc, *v;
	char		 text[1024], cwd[512], said[256], *big;
	char		 key[LIM_NAME + 16];
	size_t		 n;
	int		 np = -1;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s/state\", "
	    "\"schemas_dir\": \"%s/conf/schemas\", \"components\": "
	    "{\"send_mail\": {\"delivery\": \"outbox\"}}}", dir, cwd);
	put_file("cmsi.json", text);
	snprintf(text, sizeof(text), "%s/cmsi.json", dir);
	assert_non_null(c = conf_load(text, &np));

	assert_int_equal(import_of(c, "send_mail", "mail_sender: "
	    "ops@example.com\n", 29, said, sizeof(said)), 0);
	assert_non_null(doc = json_object_from_file(text));
	assert_true(json_object_object_get_ex(doc, "components", &v));
	assert_true(json_object_object_get_ex(v, "send_mail", &v));
	assert_true(json_object_object_get_ex(v, "mail_sender", &v));
	assert_string_equal(json_object_get_string(v), "ops@example.com");
	json_object_put(doc);
	/* The replaced file is in History with its note: who, what. */
	assert_int_equal(files_in("state/console/history"), 2);
	assert_int_equal(note_has("\"user\":\"admin\""), 1);
	assert_int_equal(note_has("\"component\":\"send_mail\""), 1);

	memset(key, 'k', LIM_NAME - 1);
	memcpy(key + LIM_NAME - 1, ": 1\n", 5);
	assert_int_equal(import_of(c, "send_mail", key, strlen(key), said,
	    sizeof(said)), 1);
	assert_null(strstr(said, "is no config key"));
	memset(key, 'k', LIM_NAME);
	memcpy(key + LIM_NAME, ": 1\n", 5);
	assert_int_equal(import_of(c, "send_mail", key, strlen(key), said,
	    sizeof(said)), 1);
	snprintf(text, sizeof(text), "line 1: \"%.*s\" is no config key",
	    LIM_NAME, key);
	assert_string_equal(said, text);

	/* The same good line, padded with comment lines to the cap. */
	big = xmalloc(LIM_IMPORT + 2);
	n = (size_t)snprintf(big, LIM_IMPORT + 2, "mail_sender: "
	    "ops@example.com\n");
	memset(big + n, '#', LIM_IMPORT + 1 - n);
	big[LIM_IMPORT + 1] = '\0';
	assert_int_equal(import_of(c, "send_mail", big, LIM_IMPORT, said,
	    sizeof(said)), 0);
	assert_int_equal(import_of(c, "send_mail", big, LIM_IMPORT + 1, said,
	    sizeof(said)), 1);
	snprintf(text, sizeof(text), "the input is over %d bytes", LIM_IMPORT);
	assert_string_equal(said, text);
	free(big);
	/* --user: LIM_NAME - 1 bytes is a name for History, LIM_NAME not. */
	memset(key, 'u', LIM_NAME);
	key[LIM_NAME - 1] = '\0';
	assert_int_equal(import_as(c, key, "send_mail", "mail_sender: "
	    "ops2@example.com\n", 30, said, sizeof(said)), 0);
	key[LIM_NAME - 1] = 'u';
	key[LIM_NAME] = '\0';
	assert_int_equal(import_as(c, key, "send_mail", "mail_sender: "
	    "ops3@example.com\n", 30, said, sizeof(said)), 1);
	snprintf(text, sizeof(text), "--user: at most %d bytes", LIM_NAME - 1);
	assert_string_equal(said, text);
	conf_free(c);
}

/* A spool item of send_sms for one pending recipient, due at next. */
static void
spool_put(const char *id, long long next)
{
	char	 rel[96], text[1024];

	snprintf(text, sizeof(text), "%s/spool", dir);
	(void)mkdir(text, 0700);
	snprintf(rel, sizeof(rel), "spool/%s.json", id);
	snprintf(text, sizeof(text), "{\"v\": 1, \"id\": \"%s\", \"component\": "
	    "\"send_sms\", \"section\": \"send_sms\", \"app\": \"app-a\", "
	    "\"username\": \"admin\", \"params\": {\"receiver\": "
	    "\"+8613800000001\"}, \"raw\": {}, \"created\": %lld, "
	    "\"attempts\": 1, \"max_attempts\": 3, \"max_age_s\": 3600, "
	    "\"backoff_s\": 1, \"next\": %lld, \"inflight\": false, \"rcpt\": "
	    "{\"+8613800000001\": \"pending\"}}", id, (long long)time(NULL),
	    next);
	put_file(rel, text);
}

/*
 * The drain leaves spool/next at the earliest item due, whatever order
 * it reads them in; cut short (max 0), at now, so the rest goes soon.
 */
static void
t_spool_drain_next(void **state)
{
	struct conf	*c;
	struct stat	 st;
	char		 text[1024], cwd[512];
	long long	 now = (long long)time(NULL);
	static const char *const ids[] = { "a123456789abcdef0123456789abcdef",
	    "b123456789abcdef0123456789abcdef",
	    "c123456789abcdef0123456789abcdef",
	    "d123456789abcdef0123456789abcdef" };
	static const int due[] = { 300, 100, 200, 250 };
	int		 n = -1, r, i;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", "
	    "\"schemas_dir\": \"%s/conf/schemas\", \"components\": "
	    "{\"send_sms\": {\"retry\": {\"attempts\": 3, \"max_age_s\": "
	    "3600, \"backoff_s\": 1}}}}", dir, cwd);
	put_file("cmsi.json", text);
	snprintf(text, sizeof(text), "%s/cmsi.json", dir);
	assert_non_null(c = conf_load(text, &n));
	/* Each item the earliest once: the reading order cannot hide it. */
	for (r = 0; r < 4; r++) {
		for (i = 0; i < 4; i++)
			spool_put(ids[i], now + due[(i + r) % 4]);
		assert_int_equal(spool_drain(c, 10, 60000, NULL), 0);
		snprintf(text, sizeof(text), "%s/spool/next", dir);
		assert_int_equal(stat(text, &st), 0);
		assert_int_equal((long long)st.st_mtime, now + 100);
	}
	assert_int_equal(spool_drain(c, 0, 60000, NULL), 0);
	assert_int_equal(stat(text, &st), 0);
	assert_true((long long)st.st_mtime >= now &&
	    (long long)st.st_mtime <= (long long)time(NULL));
	conf_free(c);
}

/* conf_load of text as dir/cmsi.json: its problem count. */
static int
problems_of(const char *text)
{
	struct conf	*c;
	char		 path[128];
	int		 n = -1;

	put_file("cmsi.json", text);
	snprintf(path, sizeof(path), "%s/cmsi.json", dir);
	c = conf_load(path, &n);
	conf_free(c);
	return n;
}

/* A tenant id of LIM_NAME - 1 bytes is one; LIM_NAME bytes is refused. */
static void
t_tenant_id_cap(void **state)
{
	char	 id[LIM_NAME + 1], text[256];

	(void)state;
	memset(id, 't', LIM_NAME);
	id[LIM_NAME - 1] = '\0';
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"tenants\": "
	    "{\"%s\": {}}}", dir, id);
	assert_int_equal(problems_of(text), 0);
	id[LIM_NAME - 1] = 't';
	id[LIM_NAME] = '\0';
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"tenants\": "
	    "{\"%s\": {}}}", dir, id);
	assert_int_equal(problems_of(text), 1);
}

/*
 * A full sign-in throttle file (LIM_THROTTLE / 72 entries, none locked
 * out): a new failure makes room by dropping the oldest entries, not
 * the newest.
 */
static void
t_throttle_room(void **state)
{
	json_object	*doc, *e;
	char		 path[128], key[40];
	FILE		*f;
	long long	 now = (long long)time(NULL);
	long		 wait;
	int		 i, max = LIM_THROTTLE / 72;

	(void)state;
	snprintf(path, sizeof(path), "%s/throttle.json", dir);
	doc = json_object_new_object();
	for (i = 0; i < max; i++) {
		snprintf(key, sizeof(key), "%032d", i);
		e = json_object_new_array();
		json_object_array_add(e, json_object_new_int(1));
		json_object_array_add(e, json_object_new_int64(now - 1000 - i));
		json_object_array_add(e, json_object_new_string("0000000f"));
		json_object_object_add(doc, key, e);
	}
	assert_non_null(f = fopen(path, "w"));
	fputs(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), f);
	fclose(f);
	json_object_put(doc);
	assert_int_equal(cauth_throttle(path, "u:new", "a:192.0.2.1", 1,
	    &wait), 0);
	assert_non_null(doc = json_object_from_file(path));
	assert_int_equal(json_object_object_length(doc), max);
	/* The two oldest went for the name and the address. */
	snprintf(key, sizeof(key), "%032d", max - 1);
	assert_false(json_object_object_get_ex(doc, key, NULL));
	snprintf(key, sizeof(key), "%032d", max - 2);
	assert_false(json_object_object_get_ex(doc, key, NULL));
	snprintf(key, sizeof(key), "%032d", max - 3);
	assert_true(json_object_object_get_ex(doc, key, NULL));
	snprintf(key, sizeof(key), "%032d", 0);
	assert_true(json_object_object_get_ex(doc, key, NULL));
	json_object_put(doc);
}

/*
 * A custom component's name (a path of the API): LIM_NAME - 1 bytes of
 * a-z, 0-9 and _ is one, LIM_NAME bytes refused.
 */
static void
t_custom_name_cap(void **state)
{
	char	 name[LIM_NAME + 1], text[2048], cwd[512];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	put_file("hook.url",
	    "https://oapi.dingtalk.com/robot/send?access_token=t\n");
	memset(name, 'c', LIM_NAME);
	name[LIM_NAME - 1] = '\0';
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"components\": "
	    "{\"%s\": {\"kind\": \"dingtalk_robot\", \"webhook\": "
	    "{\"file\": \"%s/hook.url\"}}}, \"schemas_dir\": "
	    "\"%s/conf/schemas\", \"templates_dir\": \"%s/templates\"}", dir,
	    name, dir, cwd, cwd);
	assert_int_equal(problems_of(text), 0);
	name[LIM_NAME - 1] = 'c';
	name[LIM_NAME] = '\0';
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"components\": "
	    "{\"%s\": {\"kind\": \"dingtalk_robot\", \"webhook\": "
	    "{\"file\": \"%s/hook.url\"}}}, \"schemas_dir\": "
	    "\"%s/conf/schemas\", \"templates_dir\": \"%s/templates\"}", dir,
	    name, dir, cwd, cwd);
	assert_int_equal(problems_of(text), 1);
	assert_non_null(strstr(conf_problems(), "a custom component's name "
	    "is 1 to 63 of a-z, 0-9 and _ (it is a path of the API)"));
}

/* Whether the one message in dir/outbox holds needle. */
static int
outbox_has(const char *needle)
{
	char		 path[512], *text;
	DIR		*d;
	struct dirent	*de;
	FILE		*f;
	size_t		 n;
	int		 found = 0;

	snprintf(path, sizeof(path), "%s/outbox", dir);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/outbox/%s", dir, de->d_name);
		assert_non_null(f = fopen(path, "r"));
		text = xmalloc(1 << 20);
		n = fread(text, 1, (1 << 20) - 1, f);
		text[n] = '\0';
		fclose(f);
		found |= strstr(text, needle) != NULL;
		free(text);
	}
	closedir(d);
	return found;
}

/*
 * send_mail (outbox delivery) with an attachment: one whose content is
 * missing or badly padded is ESB's component error and nothing is
 * written; one with content is delivered.
 */
static void
t_mail_attachment(void **state)
{
	struct conf	*c;
	struct ctx	 cx;
	struct reply	 rp;
	json_object	*params, *raw;
	char		 text[2048], cwd[512];
	static const char *const bad[] = { "{\"filename\": \"a.txt\"}",
	    "{\"filename\": \"a.txt\", \"content\": \"aGk\"}", NULL };
	size_t		 i;
	int		 n = -1;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", "
	    "\"schemas_dir\": \"%s/conf/schemas\", \"templates_dir\": "
	    "\"%s/templates\", \"components\": {\"send_mail\": {\"delivery\": "
	    "\"outbox\", \"mail_sender\": \"ops@example.com\"}}}", dir, cwd,
	    cwd);
	put_file("cmsi.json", text);
	snprintf(text, sizeof(text), "%s/cmsi.json", dir);
	assert_non_null(c = conf_load(text, &n));
	assert_int_equal(n, 0);
	assert_int_equal(tmplset_load(c->templates_dir), 0);
	snprintf(text, sizeof(text), "%s/outbox", dir);
	(void)mkdir(text, 0700);
	raw = json_object_new_object();
	for (i = 0; i <= 2; i++) {
		snprintf(text, sizeof(text), "{\"receiver\": \"a@x.example\", "
		    "\"title\": \"t\", \"content\": \"c\", \"attachments\": "
		    "[%s]}", bad[i] != NULL ? bad[i] :
		    "{\"filename\": \"a.txt\", \"content\": \"aGk=\"}");
		params = json_tokener_parse(text);
		memset(&cx, 0, sizeof(cx));
		cx.conf = c;
		cx.component = "send_mail";
		assert_true(json_object_object_get_ex(c->components,
		    "send_mail", &cx.section));
		cx.params = params;
		cx.raw = raw;
		cx.request_id = "e123456789abcdef0123456789abcdef";
		cx.app_code = "app-a";
		cx.username = "admin";
		reply_init(&rp);
		hnd_send_mail(&cx, &rp);
		if (bad[i] != NULL) {
			assert_int_equal(rp.result, 0);
			assert_string_equal(rp.message, "Component error, "
			    "please contact the component developer to handle "
			    "it.");
			assert_int_equal(files_in("outbox"), 0);
		} else {
			assert_int_equal(rp.result, 1);
			assert_string_equal(rp.message,
			    "Succeeded to send mail");
			assert_int_equal(files_in("outbox"), 1);
			assert_int_equal(outbox_has("filename=\"a.txt\""),
			    1);
			assert_int_equal(outbox_has("aGk="), 1);
		}
		reply_free(&rp);
		json_object_put(params);
	}
	json_object_put(raw);
	tmplset_free();
	conf_free(c);
}

/*
 * console_serve for one request: method, path, the Cookie, Origin and
 * Host headers (NULL for none) and a body; returns the output.
 */
static const char *
serve(const struct conf *c, const char *method, const char *path,
    const char *cookie, const char *origin, const char *host,
    const char *body, size_t n)
{
	FCGX_Request	 fr;
	FCGX_Stream	 os;
	struct req	 r;
	char		 hc[256], ho[256], hh[256];
	char		*env[4];
	int		 k = 0;

	if (cookie != NULL) {
		snprintf(hc, sizeof(hc), "HTTP_COOKIE=%s", cookie);
		env[k++] = hc;
	}
	if (origin != NULL) {
		snprintf(ho, sizeof(ho), "HTTP_ORIGIN=%s", origin);
		env[k++] = ho;
	}
	if (host != NULL) {
		snprintf(hh, sizeof(hh), "HTTP_HOST=%s", host);
		env[k++] = hh;
	}
	env[k] = NULL;
	memset(&os, 0, sizeof(os));
	os.wrNext = os.stopUnget = (unsigned char *)page_buf;
	os.stop = os.wrNext + sizeof(page_buf) - 1;
	os.rdNext = os.stop;
	os.emptyBuffProc = page_full;
	memset(&fr, 0, sizeof(fr));
	fr.out = &os;
	fr.envp = env;
	memset(&r, 0, sizeof(r));
	r.fr = &fr;
	snprintf(r.method, sizeof(r.method), "%s", method);
	snprintf(r.path, sizeof(r.path), "%s", path);
	r.query = "";
	r.body = (char *)(uintptr_t)body;
	r.bodylen = n;
	console_serve(c, &fr, &r);
	*os.wrNext = '\0';
	return page_buf;
}

/* out's status line is status and its text body is text. */
static void
assert_answer(const char *out, int status, const char *text)
{
	char	 want[160];

	snprintf(want, sizeof(want), "Status: %d\r\n", status);
	if (strncmp(out, want, strlen(want)) != 0)
		fail_msg("wanted %d, got %.40s", status, out);
	if (text != NULL) {
		snprintf(want, sizeof(want), "\r\n\r\n%s\n", text);
		if (strstr(out, want) == NULL)
			fail_msg("wanted \"%s\" in %.300s", text, out);
	}
}

/*
 * The console's front: only GET, HEAD and POST; a path short of the
 * prefix is sent to it; a POST body of LIM_FORM bytes is read, one
 * more is 413; a POST whose Origin is another host is refused (no
 * Origin, "null" or the same host go on); without a session a POST is
 * refused and a GET sent to sign in; with one, a POST needs the
 * session's CSRF token.
 */
static void
t_console_serve(void **state)
{
	struct conf	 c;
	unsigned char	 md[32];
	char		 tag[33], text[512], cookie[128], *body;
	const char	*hash = "pbkdf2-sha256$600000$c2FsdA==$a2V5";
	const char	*sid = "1111111111111111111111111111111111111111111111"
	    "111111111111111111";
	const char	*out;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	snprintf(text, sizeof(text), "{\"users\": {\"admin\": "
	    "{\"password_hash\": \"%s\"}}}", hash);
	assert_non_null(c.console = json_tokener_parse(text));

	assert_answer(serve(&c, "PUT", "/console/home", NULL, NULL, NULL,
	    NULL, 0), 405, "Method not allowed.");
	assert_answer(serve(&c, "GETX", "/console/home", NULL, NULL, NULL,
	    NULL, 0), 405, "Method not allowed.");
	assert_answer(serve(&c, "HEADX", "/console/home", NULL, NULL, NULL,
	    NULL, 0), 405, "Method not allowed.");
	assert_answer(serve(&c, "POSTX", "/console/home", NULL, NULL, NULL,
	    NULL, 0), 405, "Method not allowed.");
	out = serve(&c, "GET", "/console", NULL, NULL, NULL, NULL, 0);
	assert_answer(out, 303, NULL);
	assert_non_null(strstr(out, "Location: /console/\r\n"));
	out = serve(&c, "HEAD", "/console/home", NULL, NULL, NULL, NULL, 0);
	assert_answer(out, 303, NULL);
	assert_non_null(strstr(out, "Location: /console/signin\r\n"));

	body = xmalloc(LIM_FORM + 1);
	memset(body, 'a', LIM_FORM + 1);
	assert_answer(serve(&c, "POST", "/console/home", NULL, NULL, NULL,
	    body, LIM_FORM), 403, "Sign in first.");
	assert_answer(serve(&c, "POST", "/console/home", NULL, NULL, NULL,
	    body, LIM_FORM + 1), 413, "The form is too large.");
	free(body);
	assert_answer(serve(&c, "POST", "/console/home", NULL,
	    "http://evil.example", "console.example", "", 0), 403,
	    "Cross-site request refused.");
	assert_answer(serve(&c, "POST", "/console/home", NULL,
	    "https://console.example.evil", "console.example", "", 0), 403,
	    "Cross-site request refused.");
	assert_answer(serve(&c, "POST", "/console/home", NULL,
	    "https://console.example", NULL, "", 0), 403,
	    "Cross-site request refused.");
	assert_answer(serve(&c, "POST", "/console/home", NULL, "null",
	    "console.example", "", 0), 403, "Sign in first.");
	assert_answer(serve(&c, "POST", "/console/home", NULL,
	    "https://console.example", "console.example", "", 0), 403,
	    "Sign in first.");

	/* Signed in: a POST without the session's token is refused. */
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, hash,
	    strlen(hash), md), 0);
	cauth_hex(md, 16, tag);
	snprintf(text, sizeof(text), "%s/console", dir);
	assert_int_equal(mkdir(text, 0700), 0);
	snprintf(text, sizeof(text), "%s/console/sessions", dir);
	assert_int_equal(mkdir(text, 0700), 0);
	snprintf(text, sizeof(text), "{\"user\": \"admin\", \"csrf\": "
	    "\"csrf-1\", \"exp\": %lld, \"via\": \"local\", \"pw\": \"%s\"}",
	    (long long)time(NULL) + 600, tag);
	session_put(sid, text);
	snprintf(cookie, sizeof(cookie), "cmsi_console=%s", sid);
	assert_answer(serve(&c, "POST", "/console/signout", cookie, NULL,
	    NULL, "csrf=csrf-2", 11), 403, "The form is stale or forged: "
	    "reload the page.");
	assert_answer(serve(&c, "POST", "/console/signout", cookie, NULL,
	    NULL, "", 0), 403, "The form is stale or forged: reload the "
	    "page.");
	out = serve(&c, "GET", "/console/", cookie, NULL, NULL, NULL, 0);
	assert_answer(out, 303, NULL);
	assert_non_null(strstr(out, "Location: /console/home\r\n"));
	assert_answer(serve(&c, "GET", "/console/nothing", cookie, NULL,
	    NULL, NULL, 0), 404, "Not found.");
	out = serve(&c, "POST", "/console/signout", cookie, NULL, NULL,
	    "csrf=csrf-1", 11);
	assert_answer(out, 303, NULL);
	json_object_put(c.console);
}

/*
 * LIM_SPOOL_ITEM: an item file of exactly the cap is read (not due
 * yet, it stays); one byte more is set aside as corrupt.
 */
static void
t_spool_item_cap(void **state)
{
	struct conf	*c;
	char		 text[1024], cwd[512], path[256];
	char		*big;
	long long	 now = (long long)time(NULL);
	size_t		 n, k;
	int		 tried, fd, np = -1;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", "
	    "\"schemas_dir\": \"%s/conf/schemas\", \"components\": "
	    "{\"send_sms\": {\"retry\": {\"attempts\": 3, \"max_age_s\": "
	    "3600, \"backoff_s\": 1}}}}", dir, cwd);
	put_file("cmsi.json", text);
	snprintf(text, sizeof(text), "%s/cmsi.json", dir);
	assert_non_null(c = conf_load(text, &np));
	snprintf(path, sizeof(path), "%s/spool", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/spool/expired", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	big = xmalloc(LIM_SPOOL_ITEM + 1);
	for (n = LIM_SPOOL_ITEM; n <= LIM_SPOOL_ITEM + 1; n++) {
		k = (size_t)snprintf(big, LIM_SPOOL_ITEM + 1, "{\"v\": 1, "
		    "\"id\": \"f123456789abcdef0123456789abcdef\", "
		    "\"component\": \"send_sms\", \"section\": \"send_sms\", "
		    "\"app\": \"app-a\", \"params\": {\"receiver\": "
		    "\"+8613800000001\"}, \"raw\": {}, \"created\": %lld, "
		    "\"attempts\": 1, \"max_attempts\": 3, \"max_age_s\": 3600, "
		    "\"backoff_s\": 1, \"next\": %lld, \"inflight\": false, "
		    "\"rcpt\": {\"+8613800000001\": \"pending\"}}", now,
		    now + 600);
		memset(big + k, ' ', n - k);
		snprintf(path, sizeof(path), "%s/spool/big.json", dir);
		assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
		    0600)) != -1);
		assert_int_equal(write(fd, big, n), (ssize_t)n);
		close(fd);
		snprintf(path, sizeof(path), "%s/spool", dir);
		assert_int_equal((long long)spool_item(c, path, "big.json", NULL,
		    &tried), n == LIM_SPOOL_ITEM ? now + 600 : 0);
		assert_int_equal(tried, 0);
		if (n == LIM_SPOOL_ITEM) {
			assert_true(exists("spool/big.json"));
			assert_false(exists("spool/expired/big.json.corrupt"));
		} else {
			assert_false(exists("spool/big.json"));
			assert_true(exists("spool/expired/big.json.corrupt"));
		}
	}
	free(big);
	conf_free(c);
}

/* Retry is on from two attempts (with an age and a backoff), not one. */
static void
t_retry_on(void **state)
{
	struct ctx	 cx;
	json_object	*sec;
	static const struct {
		const char	*retry;
		int		 on;
	} t[] = {
		{ "{\"attempts\": 1, \"max_age_s\": 60, \"backoff_s\": 1}", 0 },
		{ "{\"attempts\": 2, \"max_age_s\": 60, \"backoff_s\": 1}", 1 },
		{ "{\"attempts\": 2, \"max_age_s\": 0, \"backoff_s\": 1}", 0 },
		{ "{\"attempts\": 2, \"max_age_s\": 60, \"backoff_s\": 0}", 0 },
		{ "{\"attempts\": 2, \"max_age_s\": 60}", 1 },
	};
	char		 text[256];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(text, sizeof(text), "{\"retry\": %s}", t[i].retry);
		assert_non_null(sec = json_tokener_parse(text));
		memset(&cx, 0, sizeof(cx));
		cx.section = sec;
		if (spool_on(&cx, 1) != t[i].on)
			fail_msg("retry %s is not %d", t[i].retry, t[i].on);
		assert_int_equal(spool_on(&cx, 0), 0);
		json_object_put(sec);
	}
}

/*
 * LIM_FILE: a template file of exactly the cap loads; one byte more
 * and the whole set is refused.
 */
static void
t_template_file_cap(void **state)
{
	char	 path[256], *big;
	int	 fd;
	size_t	 n;

	(void)state;
	snprintf(path, sizeof(path), "%s/tpl", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	big = xmalloc(LIM_FILE + 1);
	memset(big, 'x', LIM_FILE + 1);
	for (n = LIM_FILE; n <= LIM_FILE + 1; n++) {
		snprintf(path, sizeof(path), "%s/tpl/big.mustache", dir);
		assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
		    0600)) != -1);
		assert_int_equal(write(fd, big, n), (ssize_t)n);
		close(fd);
		snprintf(path, sizeof(path), "%s/tpl", dir);
		assert_int_equal(tmplset_load(path), n == LIM_FILE ? 0 : -1);
		if (n == LIM_FILE)
			assert_non_null(tmplset_get("big"));
	}
	free(big);
	tmplset_free();
}

/*
 * LIM_TEMPLATES: a directory of exactly that many templates loads,
 * with the last one found; one more and the whole set is refused.
 */
static void
t_template_count_cap(void **state)
{
	char	 path[256];
	int	 fd, i;

	(void)state;
	snprintf(path, sizeof(path), "%s/tpl", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	for (i = 0; i <= LIM_TEMPLATES; i++) {
		snprintf(path, sizeof(path), "%s/tpl/t%03d.mustache", dir, i);
		assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
		    0600)) != -1);
		assert_int_equal(write(fd, "x", 1), 1);
		close(fd);
		if (i < LIM_TEMPLATES - 1)
			continue;
		snprintf(path, sizeof(path), "%s/tpl", dir);
		assert_int_equal(tmplset_load(path), i < LIM_TEMPLATES ? 0 :
		    -1);
		if (i < LIM_TEMPLATES)
			assert_non_null(tmplset_get("t255"));
	}
	tmplset_free();
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A request to send_mail signed as an ESB client signs it: every query
 * key but the signature, sorted, and for POST data=<body>.  extra more
 * keys x000...; body_after replaces the body once signed (NULL keeps
 * it); sha256 picks HMAC-SHA256.  Returns auth_check's answer.
 */
static int
signed_call(const struct conf *c, const char *method, int extra,
    const char *nonce, const char *body_after, int sha256,
    struct reply *rp)
{
	FCGX_Request	 fr;
	struct req	 r;
	struct ident	 id;
	json_object	*q, *creds;
	const char	*keys[400], *body = "{\"receiver\": \"a@x.example\"}";
	char		 ts[32], sig[64], k[32];
	char		*env[1] = { NULL };
	struct buf	 msg;
	size_t		 nk = 0, i;
	int		 rc;

	q = json_object_new_object();
	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	json_object_object_add(q, "bk_app_code", json_object_new_string(
	    "demo"));
	json_object_object_add(q, "bk_nonce", json_object_new_string(nonce));
	json_object_object_add(q, "bk_timestamp", json_object_new_string(ts));
	for (i = 0; i < (size_t)extra; i++) {
		snprintf(k, sizeof(k), "x%03zu", i);
		json_object_object_add(q, k, json_object_new_string("v"));
	}
	/* A key that is a prefix of another, sent after it. */
	if (extra == 1) {
		json_object_object_add(q, "pq", json_object_new_string("1"));
		json_object_object_add(q, "p", json_object_new_string("2"));
	}
	json_object_object_foreach(q, qk, qv) {
		(void)qv;
		keys[nk++] = qk;
	}
	if (strcmp(method, "POST") == 0)
		keys[nk++] = "data";
	qsort(keys, nk, sizeof(keys[0]), str_cmp);
	buf_init(&msg, 65536);
	buf_printf(&msg, "%s%s?", method, "/api/c/compapi/cmsi/send_mail/");
	for (i = 0; i < nk; i++)
		buf_printf(&msg, "%s%s=%s", i > 0 ? "&" : "", keys[i],
		    strcmp(keys[i], "data") == 0 ? body :
		    json_object_get_string(json_object_object_get(q, keys[i])));
	assert_int_equal((sha256 ? auth_signature256 : auth_signature)(
	    "demo-secret", msg.ptr, sig, sizeof(sig)), 0);
	buf_free(&msg);
	json_object_object_add(q, "bk_signature", json_object_new_string(sig));

	memset(&fr, 0, sizeof(fr));
	fr.envp = env;
	memset(&r, 0, sizeof(r));
	r.fr = &fr;
	snprintf(r.method, sizeof(r.method), "%s", method);
	snprintf(r.path, sizeof(r.path), "/api/c/compapi/cmsi/send_mail/");
	if (strcmp(method, "POST") == 0) {
		r.body = (char *)(uintptr_t)(body_after != NULL ? body_after :
		    body);
		r.bodylen = strlen(r.body);
	}
	r.qparams = q;
	creds = json_tokener_parse("{\"bk_app_code\": \"demo\", "
	    "\"bk_username\": \"admin\"}");
	reply_init(rp);
	rc = auth_check(c, &r, creds, &id, rp);
	if (rc == 0)
		assert_string_equal(id.app_code, "demo");
	json_object_put(creds);
	json_object_put(q);
	return rc;
}

/*
 * Signature mode: a POST or GET signed over the sorted query (and the
 * body) is taken once; a changed body is refused; keys sort whole ("p"
 * before "pq"); 255 query keys are all signed, a 256th is not (a
 * request that long is refused, never overflows).  HMAC-SHA256
 * signatures too.
 */
static void
t_signature(void **state)
{
	struct conf	*c;
	struct reply	 rp;
	char		 text[512];
	int		 n = -1;
	const char	*refused = "Signature [bk_signature] verification "
	    "failed, please provide valid parameters and signature";

	(void)state;
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"apps\": "
	    "{\"demo\": {\"secret\": \"demo-secret\", \"skip_user_auth\": "
	    "true}}}", dir);
	put_file("cmsi.json", text);
	snprintf(text, sizeof(text), "%s/cmsi.json", dir);
	assert_non_null(c = conf_load(text, &n));
	assert_int_equal(signed_call(c, "POST", 0, "1", NULL, 0, &rp), 0);
	reply_free(&rp);
	assert_int_equal(signed_call(c, "POST", 0, "1", NULL, 0, &rp), -1);
	assert_string_equal(rp.message, "Parameter bk_nonce is illegal, this "
	    "signed request was already received");
	reply_free(&rp);
	assert_int_equal(signed_call(c, "POST", 0, "2", "{\"receiver\": "
	    "\"b@x.example\"}", 0, &rp), -1);
	assert_string_equal(rp.message, refused);
	reply_free(&rp);
	assert_int_equal(signed_call(c, "GET", 2, "3", NULL, 0, &rp), 0);
	reply_free(&rp);
	assert_int_equal(signed_call(c, "POST", 1, "4", NULL, 1, &rp), 0);
	reply_free(&rp);
	/* 3 credential keys + 252 = 255 signed; + 253 one is left out. */
	assert_int_equal(signed_call(c, "POST", 252, "5", NULL, 0, &rp), 0);
	reply_free(&rp);
	assert_int_equal(signed_call(c, "POST", 253, "6", NULL, 0, &rp), -1);
	assert_string_equal(rp.message, refused);
	reply_free(&rp);
	assert_int_equal(signed_call(c, "POST", 300, "7", NULL, 0, &rp), -1);
	assert_string_equal(rp.message, refused);
	reply_free(&rp);
	conf_free(c);
}

/*
 * console.users: a name of 1 to LIM_NAME - 1 bytes with a password_hash
 * of --hash-password is taken; an empty name or one of LIM_NAME bytes
 * is refused, as is a hash that is none.
 */
static void
t_console_users(void **state)
{
	char	 hash[LIM_PWHASH], name[LIM_NAME + 1], text[1024];

	(void)state;
	assert_int_equal(pwhash_make("pw-1", 4, hash, sizeof(hash)), 0);
	memset(name, 'n', LIM_NAME);
	name[LIM_NAME - 1] = '\0';
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"console\": "
	    "{\"users\": {\"admin\": {\"password_hash\": \"%s\"}, \"%s\": "
	    "{\"password_hash\": \"%s\"}}}}", dir, hash, name, hash);
	assert_int_equal(problems_of(text), 0);
	name[LIM_NAME - 1] = 'n';
	name[LIM_NAME] = '\0';
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"console\": "
	    "{\"users\": {\"%s\": {\"password_hash\": \"%s\"}}}}", dir, name,
	    hash);
	assert_int_equal(problems_of(text), 1);
	assert_non_null(strstr(conf_problems(), "console.users: bad name"));
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"console\": "
	    "{\"users\": {\"\": {\"password_hash\": \"%s\"}}}}", dir, hash);
	assert_int_equal(problems_of(text), 1);
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"console\": "
	    "{\"users\": {\"admin\": {\"password_hash\": \"pw-1\"}}}}", dir);
	assert_int_equal(problems_of(text), 1);
	assert_non_null(strstr(conf_problems(), "console.users.admin: "
	    "password_hash is no string of cmsi.fcgi --hash-password"));
}

/*
 * A retry of a send_mail item (outbox delivery) whose a@x was reached
 * and b@x not: the retry's audit record says b@x was sent, nothing
 * queued; the item is gone.
 */
static void
t_spool_retry_audit(void **state)
{
	struct conf	*c;
	char		 text[2048], cwd[512], path[256], *line, *last;
	FILE		*f;
	size_t		 n;
	int		 tried, np = -1;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", "
	    "\"schemas_dir\": \"%s/conf/schemas\", \"templates_dir\": "
	    "\"%s/templates\", \"components\": {\"send_mail\": {\"delivery\": "
	    "\"outbox\", \"mail_sender\": \"ops@example.com\", \"retry\": "
	    "{\"attempts\": 5, \"max_age_s\": 600, \"backoff_s\": 1}}}}", dir,
	    cwd, cwd);
	put_file("cmsi.json", text);
	snprintf(text, sizeof(text), "%s/cmsi.json", dir);
	assert_non_null(c = conf_load(text, &np));
	assert_int_equal(np, 0);
	assert_int_equal(tmplset_load(c->templates_dir), 0);
	snprintf(path, sizeof(path), "%s/outbox", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/spool", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(text, sizeof(text), "{\"v\": 1, \"id\": "
	    "\"b123456789abcdef0123456789abcdef\", \"component\": "
	    "\"send_mail\", \"section\": \"send_mail\", \"app\": \"demo\", "
	    "\"username\": \"admin\", \"params\": {\"receiver\": "
	    "\"a@x.example,b@x.example\", \"title\": \"t\", \"content\": "
	    "\"c\"}, \"raw\": {}, \"created\": %lld, \"attempts\": 1, "
	    "\"max_attempts\": 5, \"max_age_s\": 600, \"backoff_s\": 1, "
	    "\"next\": 0, \"inflight\": false, \"rcpt\": {\"a@x.example\": "
	    "\"sent\", \"b@x.example\": \"pending\"}}", (long long)time(NULL));
	put_file("spool/r.json", text);
	(void)spool_item(c, path, "r.json", NULL, &tried);
	assert_int_equal(tried, 1);
	assert_false(exists("spool/r.json"));
	assert_int_equal(files_in("outbox"), 1);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	assert_non_null(f = fopen(path, "r"));
	line = xmalloc(65536);
	n = fread(line, 1, 65535, f);
	line[n] = '\0';
	fclose(f);
	/* The last record is the retry's. */
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	last = strrchr(line, '\n') != NULL ? strrchr(line, '\n') + 1 : line;
	assert_non_null(strstr(last, "\"event\":\"retry\""));
	assert_non_null(strstr(last, "\"sent\":[\"b@x.example\"]"));
	assert_null(strstr(last, "a@x.example"));
	assert_null(strstr(last, "\"queued\""));
	free(line);
	tmplset_free();
	conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_req_read_body),
		cmocka_unit_test(t_req_read_path),
		cmocka_unit_test(t_req_bool_numbers),
		cmocka_unit_test(t_hash_password),
		cmocka_unit_test_setup_teardown(t_hist_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(t_hist_scan_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_hist_young_caps, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_history_pages, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_messages_page, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_history_long_state, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_template_preview, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_spool_intent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_session, setup, teardown),
		cmocka_unit_test_setup_teardown(t_spool_partial, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_spool_drain_next, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_tenant_id_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_custom_name_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_console_users, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_spool_retry_audit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_mail_attachment, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_console_serve, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_spool_item_cap, setup,
		    teardown),
		cmocka_unit_test(t_retry_on),
		cmocka_unit_test_setup_teardown(t_template_file_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_template_count_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(t_throttle_room, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_signin_sweep, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_import_caps, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_idem_answer_cap, setup,
		    teardown),
		cmocka_unit_test(t_webhook_header_caps),
		cmocka_unit_test_setup_teardown(t_callback_cap, setup,
		    teardown),
	};

	/* As main.c does: the modules' checks, the spool's handlers. */
	preflight_register();
	spool_lookup(route_handler);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
