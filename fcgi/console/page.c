/*
 * What every console page shares, the hub (console.c) and the pages
 * (signin, save, probe, templates, audit) alike: the answer's headers
 * (a strict CSP, no-store, the session cookie), a page rendered from
 * templates/console/, plain-text and JSON answers, redirects under the
 * prefix, the form and query parameters, the page's strings, and the
 * context every page renders with.  The pages call this module, never
 * the hub; the hub dispatches to them.
 */
#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/request.h"
#include "core/tmplset.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "page.h"

#define CONSOLE_CSP	"default-src 'none'; script-src 'self'; " \
			"style-src 'self'; img-src 'self'; " \
			"form-action 'self'; frame-src 'self'; " \
			"connect-src 'self'; " \
			"frame-ancestors 'none'; " \
			"base-uri 'none'"

static pthread_mutex_t	 broken_mu = PTHREAD_MUTEX_INITIALIZER;
static char	*broken;	/* owned, under broken_mu: the failed reload's */

/*
 * Records the problems of a reload that failed (the last good config
 * keeps running), or clears them with NULL.  Shown on every page.
 */
void
page_broken(const char *text)
{
	char	*old;

	pthread_mutex_lock(&broken_mu);
	old = broken;
	broken = text != NULL ? xstrdup(text) : NULL;
	pthread_mutex_unlock(&broken_mu);
	free(old);
}

/* A string of the page's language, the key itself when missing. */
const char *
page_str(struct console_rq *rq, const char *key)
{
	json_object	*v;

	if (rq->t != NULL && json_object_object_get_ex(rq->t, key, &v))
		return json_object_get_string(v);
	return key;
}

static void
headers(struct console_rq *rq, int status, const char *ctype)
{
	FCGX_Stream	*out = rq->r->fr->out;

	FCGX_FPrintF(out, "Status: %d\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Security-Policy: " CONSOLE_CSP "\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Cache-Control: no-store\r\n", status, ctype);
	if (rq->cookie[0] != '\0')
		FCGX_FPrintF(out, "Set-Cookie: %s\r\n", rq->cookie);
	if (rq->langcookie[0] != '\0')
		FCGX_FPrintF(out, "Set-Cookie: %s\r\n", rq->langcookie);
}

/* A short plain-text answer (refusals). */
void
page_text(struct console_rq *rq, int status, const char *text)
{
	headers(rq, status, "text/plain; charset=utf-8");
	FCGX_FPrintF(rq->r->fr->out, "\r\n%s\n", text);
}

/* A JSON answer (the template preview for console.js). */
void
page_json(struct console_rq *rq, int status, const char *text)
{
	headers(rq, status, "application/json; charset=utf-8");
	FCGX_FPrintF(rq->r->fr->out, "\r\n%s\n", text);
}

/* 303 to a page under the prefix (page is ours, never the caller's). */
void
page_redirect(struct console_rq *rq, const char *page)
{
	headers(rq, 303, "text/plain; charset=utf-8");
	FCGX_FPrintF(rq->r->fr->out, "Location: %s%s\r\n\r\n", rq->prefix,
	    page);
}

/* A form field (POST) or else a query parameter, "" when neither. */
const char *
page_param(struct console_rq *rq, const char *key)
{
	json_object	*v;

	if (rq->form != NULL && json_object_object_get_ex(rq->form, key, &v))
		return json_object_get_string(v);
	if (json_object_object_get_ex(rq->query, key, &v))
		return json_object_get_string(v);
	return "";
}

/*
 * This page's address in the other language: its query as it came,
 * without a lang= of its own, and lang=to.  The page and query are the
 * request's own (ours, under the prefix); the template escapes them.
 */
static json_object *
lang_link(struct console_rq *rq, const char *to)
{
	struct buf	 b;
	const char	*q = rq->r->query, *end;
	json_object	*v;
	size_t		 n;

	buf_init(&b, LIM_URL);
	(void)buf_printf(&b, "%s%s?", rq->prefix, rq->page);
	while (*q != '\0') {
		end = strchr(q, '&');
		n = end != NULL ? (size_t)(end - q) : strlen(q);
		if (n > 0 && strncmp(q, "lang=", 5) != 0)
			(void)buf_printf(&b, "%.*s&", (int)n, q);
		q += n + (end != NULL);
	}
	(void)buf_printf(&b, "lang=%s", to);
	v = json_object_new_string(b.ptr != NULL ? b.ptr : "?");
	buf_free(&b);
	return v;
}

/* The context every page shares; caller adds its own and renders. */
json_object *
page_ctx(struct console_rq *rq)
{
	json_object	*ctx = json_object_new_object();

	json_object_object_add(ctx, "lang_other", lang_link(rq, rq->zh ?
	    "en" : "zh"));
	json_object_object_add(ctx, "prefix",
	    json_object_new_string(rq->prefix));
	json_object_object_add(ctx, "lang",
	    json_object_new_string(rq->zh ? "zh-CN" : "en"));
	json_object_object_add(ctx, "t", json_object_get(rq->t));
	json_object_object_add(ctx, "user", json_object_new_string(rq->user));
	json_object_object_add(ctx, "csrf", json_object_new_string(rq->csrf));
	pthread_mutex_lock(&broken_mu);
	if (broken != NULL)
		json_object_object_add(ctx, "broken",
		    json_object_new_string(broken));
	pthread_mutex_unlock(&broken_mu);
	if (!page_writable(rq->conf->path))
		json_object_object_add(ctx, "readonly",
		    json_object_new_boolean(1));
	json_object_object_add(ctx, "confpath",
	    json_object_new_string(rq->conf->path));
	return ctx;
}

/* Renders template name over ctx (taken) and sends it. */
void
page_render(struct console_rq *rq, int status, const char *name,
    json_object *ctx)
{
	struct buf	 b;

	buf_init(&b, LIM_PAGE);
	if (tmplset_render(name, ctx, TMPL_ESC_HTML, &b) == -1) {
		log_warnx("console: cannot render %s", name);
		page_text(rq, 500, "The page cannot be rendered.");
		goto out;
	}
	headers(rq, status, "text/html; charset=utf-8");
	FCGX_PutS("\r\n", rq->r->fr->out);
	FCGX_PutStr(b.ptr, (int)b.len, rq->r->fr->out);
out:
	buf_free(&b);
	json_object_put(ctx);
}

/* The two static files, from templates_dir/console/; nothing else. */
void
page_static(struct console_rq *rq, const char *name)
{
	char	 path[LIM_PATH];
	char	*text = NULL;
	FILE	*f;
	size_t	 n;

	if (strcmp(name, "console.css") != 0 && strcmp(name, "console.js") != 0)
		goto missing;
	if (snprintf(path, sizeof(path), "%s/console/%s",
	    rq->conf->templates_dir, name) >= (int)sizeof(path) ||
	    (f = fopen(path, "rb")) == NULL)
		goto missing;
	text = xmalloc(LIM_FILE + 1);
	n = fread(text, 1, LIM_FILE, f);
	fclose(f);
	headers(rq, 200, name[8] == 'c' ? "text/css; charset=utf-8" :
	    "text/javascript; charset=utf-8");
	FCGX_PutS("\r\n", rq->r->fr->out);
	FCGX_PutStr(text, (int)n, rq->r->fr->out);
	free(text);
	return;
missing:
	page_text(rq, 404, "Not found.");
}

/* Whether the console may replace the file: it and its directory. */
int
page_writable(const char *path)
{
	char	*d = xstrdup(path);
	int	 ok;

	ok = access(path, W_OK) == 0 && access(dirname(d), W_OK) == 0;
	free(d);
	return ok;
}
