/*
 * The console's "what happened?" pages, from <state_dir>/audit.log
 * (JSON lines, appended by every worker): Recent messages, newest
 * first and filtered, one record in full, and the home page's counts
 * per component.  The log may be large, so nothing reads it whole: it
 * is read backwards from the end in blocks (caudit_scan), a page is
 * the next N matching records, and the "older" link carries the byte
 * offset where the page stopped.  Every scan is capped in bytes.
 * Message bodies are never in the log, so never on these pages.
 *
 *	GET  home, GET messages[?comp=&app=&rcpt=&outcome=&since=&id=
 *	    &before=OFFSET], GET message?at=OFFSET
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/log.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "page.h"
#include "route.h"

#define CAUDIT_BLOCK	(64 * 1024)	/* bytes read at a time */
#define CAUDIT_LINE	(64 * 1024)	/* a longer record is skipped */
#define CAUDIT_PAGE	50		/* records on a page */
#define CAUDIT_SCAN	(64LL * 1024 * 1024) /* bytes one page may read */
#define CAUDIT_HOME	(32LL * 1024 * 1024) /* bytes the home page reads */

/*
 * Calls fn(arg, line, len, offset) for each line of fd that ends at or
 * before offset before (a line start, or the file's size), newest
 * first, until fn returns non-zero or max bytes were read.  A line
 * longer than CAUDIT_LINE is skipped unseen.  Returns the offset of the
 * last line visited, where a next scan goes on (0: the start reached),
 * or -1 on a read error.
 */
long long
caudit_scan(int fd, long long before, long long max,
    int (*fn)(void *, const char *, size_t, long long), void *arg)
{
	char		*b;
	long long	 lo = before, got = 0, resume = before;
	size_t		 have = 0, e, le, j, n;
	ssize_t		 r;
	int		 skipping = 0, stop = 0;

	b = xmalloc(CAUDIT_BLOCK + CAUDIT_LINE + 1);
	/* Held: file [lo, lo + have), the end of a line whose start is
	 * not read yet (or the whole file's start when lo is 0). */
	while (!stop && (lo > 0 || have > 0)) {
		if (lo > 0) {
			if (got >= max)
				break;
			n = lo > CAUDIT_BLOCK ? CAUDIT_BLOCK : (size_t)lo;
			memmove(b + n, b, have);
			r = pread(fd, b, n, (off_t)(lo - (long long)n));
			if (r != (ssize_t)n) {
				resume = -1;
				goto out;
			}
			lo -= (long long)n;
			got += (long long)n;
			have += n;
			if (skipping) {
				/* Drop the rest of the overlong line. */
				for (j = n; j > 0 && b[j - 1] != '\n'; j--)
					;
				if (j == 0 && lo > 0) {
					have = 0;
					continue;
				}
				have = j;
				skipping = 0;
				resume = lo + (long long)have;
			}
		}
		e = have;
		while (e > 0 && !stop) {
			le = b[e - 1] == '\n' ? e - 1 : e;
			for (j = le; j > 0 && b[j - 1] != '\n'; j--)
				;
			if (j == 0 && lo > 0)
				break;	/* its start is further back */
			/* Empty, or overlong but whole in the buffer: skip. */
			if (le > j && le - j <= CAUDIT_LINE) {
				b[le] = '\0';
				stop = fn(arg, b + j, le - j, lo + (long long)j);
			}
			resume = lo + (long long)j;
			e = j;
		}
		have = e;
		if (have > CAUDIT_LINE) {
			have = 0;
			skipping = 1;
		}
	}
	if (!stop && lo == 0 && have == 0)
		resume = 0;
out:
	free(b);
	return resume;
}

/* "2026-01-02T03:04:05Z" as unix seconds, -1 when it is not that. */
long long
caudit_time(const char *s)
{
	struct tm	 tm;
	const char	*end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) ==
	    NULL || (*end != 'Z' && *end != '\0'))
		return -1;
	return (long long)timegm(&tm);
}

static const char *
field(json_object *rec, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(rec, key, &v) || v == NULL)
		return "";
	return json_object_get_string(v);
}

/*
 * Whether one record (a message: no "event") passes f.  Cheap tests
 * on the raw line first, so most lines are never parsed.  *rec gets
 * the parsed record (caller puts) when it passes.  Sets *old when the
 * record is older than f->since: the log is in time order, so the scan
 * can stop.  Pure.
 */
int
caudit_match(const struct caudit_filter *f, const char *line,
    json_object **rec, int *old)
{
	json_object	*r, *v;
	long long	 ts;
	int		 ok;

	*rec = NULL;
	*old = 0;
	if (strstr(line, "\"recipients\"") == NULL ||
	    (*f->comp != '\0' && strstr(line, f->comp) == NULL) ||
	    (*f->app != '\0' && strstr(line, f->app) == NULL) ||
	    (*f->rcpt != '\0' && strstr(line, f->rcpt) == NULL) ||
	    (*f->id != '\0' && strstr(line, f->id) == NULL))
		return 0;
	if ((r = json_tokener_parse(line)) == NULL ||
	    !json_object_is_type(r, json_type_object) ||
	    json_object_object_get_ex(r, "event", NULL))
		goto no;
	ts = caudit_time(field(r, "ts"));
	if (f->since > 0 && ts != -1 && ts < f->since) {
		*old = 1;
		goto no;
	}
	if ((*f->comp != '\0' && strcmp(field(r, "component"),
	    f->comp) != 0) || (*f->app != '\0' && strcmp(field(r, "app"),
	    f->app) != 0) || (*f->id != '\0' && strncmp(field(r,
	    "request_id"), f->id, strlen(f->id)) != 0))
		goto no;
	if (*f->rcpt != '\0' && (!json_object_object_get_ex(r, "recipients",
	    &v) || strstr(json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    f->rcpt) == NULL))
		goto no;
	ok = json_object_object_get_ex(r, "result", &v) &&
	    json_object_get_boolean(v);
	if ((f->outcome == 1 && !ok) || (f->outcome == 2 && ok))
		goto no;
	*rec = r;
	return 1;
no:
	json_object_put(r);
	return 0;
}

static const char *
param(struct console_rq *rq, const char *key)
{
	json_object	*v;

	if (json_object_object_get_ex(rq->query, key, &v))
		return json_object_get_string(v);
	return "";
}

static void
add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/* The recipients of a record as one line: "a@x, b@y". */
static void
rcpt_line(json_object *rec, char *out, size_t outsz)
{
	json_object	*v, *e;
	size_t		 i, len = 0;

	out[0] = '\0';
	if (!json_object_object_get_ex(rec, "recipients", &v))
		return;
	if (!json_object_is_type(v, json_type_array)) {
		snprintf(out, outsz, "%s", json_object_get_string(v));
		return;
	}
	for (i = 0; i < json_object_array_length(v); i++) {
		e = json_object_array_get_idx(v, i);
		if (str_append(out, outsz, &len, ", ",
		    json_object_get_string(e)) == -1)
			break;
	}
}

/* One page's scan: the filter, the rows found, where it stopped. */
struct page_scan {
	const struct caudit_filter *f;	/* borrowed */
	json_object	*rows;		/* borrowed: the page's array */
	size_t		 n;		/* rows so far */
	int		 old;		/* reached records older than since */
};

static int
page_line(void *arg, const char *line, size_t len, long long at)
{
	struct page_scan	*ps = arg;
	json_object		*rec, *row, *v;
	char			 rc[512];
	int			 old;

	(void)len;
	if (ps->n >= CAUDIT_PAGE)
		return 1;
	if (!caudit_match(ps->f, line, &rec, &old)) {
		if (old)
			ps->old = 1;
		return old;
	}
	row = json_object_new_object();
	json_object_object_add(row, "at", json_object_new_int64(at));
	add_str(row, "ts", field(rec, "ts"));
	add_str(row, "component", field(rec, "component"));
	add_str(row, "app", field(rec, "app"));
	add_str(row, "tenant", field(rec, "tenant"));
	rcpt_line(rec, rc, sizeof(rc));
	add_str(row, "rcpt", rc);
	json_object_object_add(row, "ok", json_object_new_boolean(
	    json_object_object_get_ex(rec, "result", &v) &&
	    json_object_get_boolean(v)));
	json_object_object_add(row, "queued", json_object_new_boolean(
	    strstr(line, "\"queued\"") != NULL));
	add_str(row, "message", field(rec, "message"));
	add_str(row, "code", field(rec, "code"));
	json_object_array_add(ps->rows, row);
	json_object_put(rec);
	ps->n++;
	return 0;
}

static int
audit_open(struct console_rq *rq, long long *size)
{
	char		 path[LIM_PATH];
	struct stat	 st;
	int		 fd;

	if (snprintf(path, sizeof(path), "%s/audit.log", rq->conf->state_dir)
	    >= (int)sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	*size = (long long)st.st_size;
	return fd;
}

/* A filter value: echoed into the page and links; capped, printable. */
static const char *
fparam(struct console_rq *rq, const char *key, size_t max)
{
	const char	*s = param(rq, key);
	size_t		 i;

	if (strlen(s) > max)
		return "";
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20)
			return "";
	return s;
}

/* The query string of the filter (URL-encoded), for the older link. */
static void
filter_query(json_object *q, char *out, size_t outsz)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const char		*s;
	size_t			 len = 0;

	out[0] = '\0';
	json_object_object_foreach(q, key, v) {
		s = json_object_get_string(v);
		if (*s == '\0' || len + strlen(key) + 2 >= outsz)
			continue;
		len += (size_t)snprintf(out + len, outsz - len, "%s=", key);
		for (; *s != '\0' && len + 4 < outsz; s++) {
			if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
			    "OPQRSTUVWXYZ0123456789-_.~@", *s) != NULL)
				out[len++] = *s;
			else {
				out[len++] = '%';
				out[len++] = hex[(unsigned char)*s >> 4];
				out[len++] = hex[*s & 0xf];
			}
		}
		out[len++] = '&';
		out[len] = '\0';
	}
}

static const char *const comp_names[] = {
	"send_mail", "send_weixin", "send_sms", "send_voice_msg", "send_msg",
	"send_qy_weixin", "send_mp_weixin", NULL
};

/* GET messages: one page of the audit log, newest first. */
void
caudit_messages(struct console_rq *rq)
{
	struct caudit_filter	 f;
	struct page_scan	 ps;
	struct timespec		 t0, t1;
	json_object		*ctx, *q, *opts, *o;
	long long		 size = 0, before, next = 0, since;
	const char		*s;
	char			 qs[2048], link[2200], took[32];
	size_t			 i;
	int			 fd;

	memset(&f, 0, sizeof(f));
	f.comp = fparam(rq, "comp", LIM_NAME);
	f.app = fparam(rq, "app", LIM_NAME);
	f.rcpt = fparam(rq, "rcpt", LIM_ADDR);
	f.id = fparam(rq, "id", 32);
	s = param(rq, "outcome");
	f.outcome = strcmp(s, "ok") == 0 ? 1 : strcmp(s, "failed") == 0 ? 2 :
	    0;
	s = param(rq, "since");
	since = strcmp(s, "1h") == 0 ? 3600 : strcmp(s, "24h") == 0 ? 86400 :
	    strcmp(s, "7d") == 0 ? 7 * 86400 : 0;
	f.since = since > 0 ? (long long)time(NULL) - since : 0;
	ctx = page_ctx(rq);
	q = json_object_new_object();
	add_str(q, "comp", f.comp);
	add_str(q, "app", f.app);
	add_str(q, "rcpt", f.rcpt);
	add_str(q, "id", f.id);
	add_str(q, "outcome", f.outcome == 1 ? "ok" : f.outcome == 2 ?
	    "failed" : "");
	add_str(q, "since", since == 3600 ? "1h" : since == 86400 ? "24h" :
	    since > 0 ? "7d" : "");
	opts = json_object_new_array();
	for (i = 0; comp_names[i] != NULL; i++) {
		o = json_object_new_object();
		add_str(o, "name", comp_names[i]);
		json_object_object_add(o, "selected", json_object_new_boolean(
		    strcmp(comp_names[i], f.comp) == 0));
		json_object_array_add(opts, o);
	}
	json_object_object_add(ctx, "comps", opts);
	json_object_object_add(ctx, f.outcome == 1 ? "sel_ok" :
	    f.outcome == 2 ? "sel_failed" : "sel_any",
	    json_object_new_boolean(1));
	json_object_object_add(ctx, since == 3600 ? "sel_1h" : since == 86400 ?
	    "sel_24h" : since > 0 ? "sel_7d" : "sel_all",
	    json_object_new_boolean(1));
	memset(&ps, 0, sizeof(ps));
	ps.f = &f;
	ps.rows = json_object_new_array();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((fd = audit_open(rq, &size)) != -1) {
		before = size;
		if (*(s = param(rq, "before")) != '\0' &&
		    num_parse(s, 0, size, &before) == -1)
			before = size;
		next = caudit_scan(fd, before, CAUDIT_SCAN, page_line, &ps);
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	json_object_object_add(ctx, "rows", ps.rows);
	json_object_object_add(ctx, "q", q);
	if (next > 0 && !ps.old) {
		filter_query(q, qs, sizeof(qs));
		snprintf(link, sizeof(link), "messages?%sbefore=%lld", qs,
		    next);
		add_str(ctx, "older", link);
		/* A page short of records stopped at the byte cap. */
		if (ps.n < CAUDIT_PAGE)
			json_object_object_add(ctx, "capped",
			    json_object_new_boolean(1));
	}
	json_object_object_add(ctx, "first", json_object_new_boolean(
	    *param(rq, "before") == '\0'));
	json_object_object_add(ctx, "none", json_object_new_boolean(
	    ps.n == 0));
	snprintf(took, sizeof(took), "%.1f", (double)(t1.tv_sec - t0.tv_sec) *
	    1000.0 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	add_str(ctx, "ms", took);
	json_object_object_add(ctx, "size_mb", json_object_new_int64(
	    size / (1024 * 1024)));
	page_render(rq, 200, "console/messages", ctx);
}

/* One value as the record view shows it: strings as they are. */
static const char *
shown(json_object *v)
{
	if (v == NULL)
		return "null";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* GET message?at=OFFSET: one record in full. */
void
caudit_message(struct console_rq *rq)
{
	json_object	*ctx, *rec = NULL, *rows, *row;
	long long	 size, at;
	char		*b = NULL, prev;
	ssize_t		 n;
	int		 fd;

	if ((fd = audit_open(rq, &size)) == -1 ||
	    num_parse(param(rq, "at"), 0, size - 1, &at) == -1)
		goto missing;
	/* A record starts at 0 or after a newline; nothing else is one. */
	if (at > 0 && (pread(fd, &prev, 1, (off_t)at - 1) != 1 ||
	    prev != '\n'))
		goto missing;
	b = xmalloc(CAUDIT_LINE + 1);
	if ((n = pread(fd, b, CAUDIT_LINE, (off_t)at)) <= 0)
		goto missing;
	b[n] = '\0';
	b[strcspn(b, "\n")] = '\0';
	if ((rec = json_tokener_parse(b)) == NULL ||
	    !json_object_is_type(rec, json_type_object))
		goto missing;
	close(fd);
	fd = -1;
	ctx = page_ctx(rq);
	rows = json_object_new_array();
	json_object_object_foreach(rec, key, v) {
		row = json_object_new_object();
		add_str(row, "key", key);
		add_str(row, "value", shown(v));
		json_object_array_add(rows, row);
	}
	json_object_object_add(ctx, "fields", rows);
	add_str(ctx, "request_id", field(rec, "request_id"));
	json_object_object_add(ctx, "ok", json_object_new_boolean(
	    json_object_get_boolean(json_object_object_get(rec, "result"))));
	page_render(rq, 200, "console/message", ctx);
	goto out;
missing:
	page_text(rq, 404, "No such record.");
out:
	if (fd != -1)
		close(fd);
	json_object_put(rec);
	free(b);
}

/* The home page's counts of one component. */
struct home_comp {
	const char	*name;		/* borrowed literal */
	long		 hour, hour_failed, day, day_failed;
	char		 last_ok[32];	/* ts of the last success */
	char		 last_bad[32];	/* ts of the last failure */
	char		 why[256];	/* its message */
};

struct home_scan {
	struct home_comp c[8];
	long long	 now;
	int		 partial;	/* stopped at the byte cap */
};

/*
 * The value of the first "key":"..." of a line into out, "" if none.
 * Inside a JSON string a quote is escaped, so the first match is a key
 * (route_audit writes ts and component before anything nested).
 */
static const char *
raw_str(const char *line, const char *key, char *out, size_t outsz)
{
	const char	*p;
	size_t		 n;

	out[0] = '\0';
	if ((p = strstr(line, key)) == NULL)
		return out;
	p += strlen(key);
	n = strcspn(p, "\"\\");
	if (p[n] == '"' && n < outsz) {
		memcpy(out, p, n);
		out[n] = '\0';
	}
	return out;
}

/*
 * One line of the Overview's scan.  Most lines are counted without
 * parsing their JSON: the day's log is large and the page is home.
 */
static int
home_line(void *arg, const char *line, size_t len, long long at)
{
	struct home_scan	*hs = arg;
	struct home_comp	*c;
	json_object		*r;
	char			 ts[32], comp[LIM_NAME];
	long long		 t;
	size_t			 i;
	int			 ok;

	(void)len;
	(void)at;
	if (strstr(line, "\"recipients\"") == NULL ||
	    strstr(line, "\"event\":") != NULL)
		return 0;
	t = caudit_time(raw_str(line, "\"ts\":\"", ts, sizeof(ts)));
	if (t != -1 && t < hs->now - 86400)
		return 1;	/* older than a day: done */
	raw_str(line, "\"component\":\"", comp, sizeof(comp));
	for (i = 0; hs->c[i].name != NULL &&
	    strcmp(hs->c[i].name, comp) != 0; i++)
		;
	c = &hs->c[i];
	if (c->name == NULL)
		return 0;
	ok = strncmp(strstr(line, "\"result\":") != NULL ?
	    strstr(line, "\"result\":") + 9 : "", "true", 4) == 0;
	c->day++;
	c->day_failed += !ok;
	if (t >= hs->now - 3600) {
		c->hour++;
		c->hour_failed += !ok;
	}
	if (ok && c->last_ok[0] == '\0')
		(void)str_copy(c->last_ok, ts, sizeof(c->last_ok));
	if (!ok && c->last_bad[0] == '\0') {
		(void)str_copy(c->last_bad, ts, sizeof(c->last_bad));
		/* Once per component: the reason, parsed properly. */
		if ((r = json_tokener_parse(line)) != NULL) {
			snprintf(c->why, sizeof(c->why), "%s",
			    field(r, "message"));
			json_object_put(r);
		}
	}
	return 0;
}

/*
 * GET home: per component, messages and failures in the last hour and
 * day, the last success and the last failure with its reason, from the
 * audit log's last day (at most CAUDIT_HOME bytes of it).
 */
void
caudit_home(struct console_rq *rq)
{
	struct home_scan	 hs;
	json_object		*ctx, *rows, *row;
	long long		 size, stop;
	size_t			 i;
	int			 fd;

	memset(&hs, 0, sizeof(hs));
	for (i = 0; comp_names[i] != NULL; i++)
		hs.c[i].name = comp_names[i];
	hs.now = (long long)time(NULL);
	if ((fd = audit_open(rq, &size)) != -1) {
		stop = caudit_scan(fd, size, CAUDIT_HOME, home_line, &hs);
		close(fd);
		/* Stopped neither at the start nor at a day old: capped. */
		hs.partial = stop > 0 && size - stop >= CAUDIT_HOME;
	}
	ctx = page_ctx(rq);
	rows = json_object_new_array();
	for (i = 0; hs.c[i].name != NULL; i++) {
		row = json_object_new_object();
		add_str(row, "name", hs.c[i].name);
		json_object_object_add(row, "hour", json_object_new_int64(
		    hs.c[i].hour));
		json_object_object_add(row, "hour_failed",
		    json_object_new_int64(hs.c[i].hour_failed));
		json_object_object_add(row, "day", json_object_new_int64(
		    hs.c[i].day));
		json_object_object_add(row, "day_failed",
		    json_object_new_int64(hs.c[i].day_failed));
		add_str(row, "last_ok", hs.c[i].last_ok);
		add_str(row, "last_bad", hs.c[i].last_bad);
		add_str(row, "why", hs.c[i].why);
		json_object_array_add(rows, row);
	}
	json_object_object_add(ctx, "rows", rows);
	json_object_object_add(ctx, "partial", json_object_new_boolean(
	    hs.partial));
	page_render(rq, 200, "console/home", ctx);
}
