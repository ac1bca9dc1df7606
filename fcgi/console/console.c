/*
 * The operator's console under console.prefix (default /console/):
 * sign-in, Component Management (the components of system CMSI and of
 * each tenant), Edit with its Component Configuration tab, history.
 * Server-rendered from templates/console/ by the Mustache renderer,
 * which HTML-escapes every {{value}}; no template uses {{{ }}} on
 * outside data.  Every answer carries a strict CSP and no-store; every
 * POST needs the session's CSRF token.
 *
 *	GET  signin, POST signin, POST signout
 *	GET  components[?q=], GET edit?c=NAME[&tenant=ID], POST edit
 *	GET  history[?v=NAME], POST rollback
 *	GET  home, GET/POST test, GET/POST tokens (console_ops.c)
 *	GET  messages, GET message?at= (console_audit.c)
 *	GET  templates, GET/POST template, GET/POST template_preview,
 *	     POST template_restore (console_tmpl.c)
 *	GET  static/console.css, static/console.js
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "core/conf.h"
#include "console.h"
#include "lib/limits.h"
#include "core/log.h"
#include "lib/pwhash.h"
#include "core/request.h"
#include "tmplset.h"
#include "lib/util.h"

#define CONSOLE_PREFIX	"/console/"
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
console_broken(const char *text)
{
	char	*old;

	pthread_mutex_lock(&broken_mu);
	old = broken;
	broken = text != NULL ? xstrdup(text) : NULL;
	pthread_mutex_unlock(&broken_mu);
	free(old);
}

static const char *
prefix_of(const struct conf *c)
{
	json_object	*v;

	if (c->console != NULL &&
	    json_object_object_get_ex(c->console, "prefix", &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return CONSOLE_PREFIX;
}

/* Whether path is the console's (the prefix, with or without "/"). */
int
console_match(const struct conf *c, const char *path)
{
	const char	*p = prefix_of(c);
	size_t		 n = strlen(p);

	return strncmp(path, p, n) == 0 ||
	    (strncmp(path, p, n - 1) == 0 && path[n - 1] == '\0');
}

/* A string of the page's language, the key itself when missing. */
const char *
console_str(struct console_rq *rq, const char *key)
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
}

/* A short plain-text answer (refusals). */
void
console_text(struct console_rq *rq, int status, const char *text)
{
	headers(rq, status, "text/plain; charset=utf-8");
	FCGX_FPrintF(rq->r->fr->out, "\r\n%s\n", text);
}

/* A JSON answer (the template preview for console.js). */
void
console_json(struct console_rq *rq, int status, const char *text)
{
	headers(rq, status, "application/json; charset=utf-8");
	FCGX_FPrintF(rq->r->fr->out, "\r\n%s\n", text);
}

/* 303 to a page under the prefix (page is ours, never the caller's). */
void
console_redirect(struct console_rq *rq, const char *page)
{
	headers(rq, 303, "text/plain; charset=utf-8");
	FCGX_FPrintF(rq->r->fr->out, "Location: %s%s\r\n\r\n", rq->prefix,
	    page);
}

/* The context every page shares; caller adds its own and renders. */
/* A form field (POST) or else a query parameter, "" when neither. */
const char *
console_param(struct console_rq *rq, const char *key)
{
	json_object	*v;

	if (rq->form != NULL && json_object_object_get_ex(rq->form, key, &v))
		return json_object_get_string(v);
	if (json_object_object_get_ex(rq->query, key, &v))
		return json_object_get_string(v);
	return "";
}

json_object *
console_ctx(struct console_rq *rq)
{
	json_object	*ctx = json_object_new_object();

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
	if (!csave_writable(rq->conf->path))
		json_object_object_add(ctx, "readonly",
		    json_object_new_boolean(1));
	json_object_object_add(ctx, "confpath",
	    json_object_new_string(rq->conf->path));
	return ctx;
}

/* Renders template name over ctx (taken) and sends it. */
void
console_page(struct console_rq *rq, int status, const char *name,
    json_object *ctx)
{
	struct buf	 b;

	buf_init(&b, LIM_PAGE);
	if (tmplset_render(name, ctx, TMPL_ESC_HTML, &b) == -1) {
		log_warnx("console: cannot render %s", name);
		console_text(rq, 500, "The page cannot be rendered.");
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
static void
static_file(struct console_rq *rq, const char *name)
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
	console_text(rq, 404, "Not found.");
}

/* The strings of the page's language: templates/console/strings.json. */
static json_object *
strings(const struct conf *c, int zh)
{
	char		 path[LIM_PATH];
	json_object	*doc, *v = NULL;

	snprintf(path, sizeof(path), "%s/console/strings.json",
	    c->templates_dir);
	doc = json_object_from_file(path);
	if (doc != NULL && json_object_object_get_ex(doc, zh ? "zh" : "en", &v))
		json_object_get(v);
	json_object_put(doc);
	return v != NULL ? v : json_object_new_object();
}

/* One row of Component Management. */
static void
list_row(json_object *rows, const char *tenant, const char *name,
    json_object *sec, int own, const char *q)
{
	json_object	*row;
	char		 deliv[300];

	if (*q != '\0' && strstr(name, q) == NULL &&
	    strstr(tenant, q) == NULL)
		return;
	row = json_object_new_object();
	json_object_object_add(row, "tenant", json_object_new_string(tenant));
	json_object_object_add(row, "name", json_object_new_string(name));
	json_object_object_add(row, "enabled", json_object_new_boolean(
	    conf_enabled(sec)));
	json_object_object_add(row, "delivery", json_object_new_string(
	    cform_delivery(name, sec, deliv, sizeof(deliv))));
	json_object_object_add(row, "inherited", json_object_new_boolean(
	    !own));
	json_object_array_add(rows, row);
}

static const char *const comp_list[] = {
	"send_mail", "send_weixin", "send_sms", "send_voice_msg", "send_msg",
	"get_msg_type", "send_qy_weixin", "send_mp_weixin", NULL
};

/*
 * GET components: every component of system CMSI, then of each tenant
 * (a tenant's own section, else the system's it inherits).  Read from
 * the file itself, so the list shows what is saved.
 */
static void
page_components(struct console_rq *rq)
{
	json_object	*ctx, *rows, *doc = NULL, *comps = NULL, *tenants,
			*tc, *sec, *v;
	const char	*q = "";
	char		*text, version[65];
	size_t		 i, len;

	if (json_object_object_get_ex(rq->query, "q", &v))
		q = json_object_get_string(v);
	text = csave_read(rq->conf->path, &len, version);
	if (text != NULL)
		doc = json_tokener_parse(text);
	free(text);
	ctx = console_ctx(rq);
	rows = json_object_new_array();
	if (doc != NULL)
		json_object_object_get_ex(doc, "components", &comps);
	for (i = 0; comp_list[i] != NULL; i++) {
		sec = NULL;
		if (comps != NULL)
			json_object_object_get_ex(comps, comp_list[i], &sec);
		list_row(rows, "", comp_list[i], sec, 1, q);
	}
	if (doc != NULL && json_object_object_get_ex(doc, "tenants",
	    &tenants) && json_object_is_type(tenants, json_type_object)) {
		json_object_object_foreach(tenants, id, t) {
			tc = NULL;
			json_object_object_get_ex(t, "components", &tc);
			for (i = 0; comp_list[i] != NULL; i++) {
				sec = NULL;
				if (tc != NULL && json_object_object_get_ex(tc,
				    comp_list[i], &sec)) {
					list_row(rows, id, comp_list[i], sec,
					    1, q);
					continue;
				}
				if (comps != NULL)
					json_object_object_get_ex(comps,
					    comp_list[i], &sec);
				list_row(rows, id, comp_list[i], sec, 0, q);
			}
		}
	}
	json_object_object_add(ctx, "rows", rows);
	json_object_object_add(ctx, "q", json_object_new_string(q));
	json_object_put(doc);
	console_page(rq, 200, "console/components", ctx);
}

/*
 * Serves one console request.  The front line: a body over LIM_FORM,
 * a method other than GET/POST, a POST whose Origin is another site,
 * and a page other than sign-in without a session are refused before
 * anything is read from the config file.
 */
void
console_serve(const struct conf *c, FCGX_Request *fr, struct req *r)
{
	struct console_rq	 rq;
	const char		*s, *origin, *host;
	int			 post;

	memset(&rq, 0, sizeof(rq));
	rq.conf = c;
	rq.r = r;
	(void)str_copy(rq.prefix, prefix_of(c), sizeof(rq.prefix));
	rq.page = strlen(r->path) >= strlen(rq.prefix) ?
	    r->path + strlen(rq.prefix) : "";
	s = req_env(r, "HTTPS");
	rq.secure = (s != NULL && str_eqi(s, "on")) ||
	    ((s = req_env(r, "HTTP_X_FORWARDED_PROTO")) != NULL &&
	    str_eqi(s, "https"));
	rq.zh = cform_lang(req_env(r, "HTTP_BLUEKING_LANGUAGE"),
	    req_env(r, "HTTP_ACCEPT_LANGUAGE"));
	rq.t = strings(c, rq.zh);
	rq.query = req_parse_query(r->query, strlen(r->query));
	post = strcmp(r->method, "POST") == 0;
	if (!post && strcmp(r->method, "GET") != 0 &&
	    strcmp(r->method, "HEAD") != 0) {
		console_text(&rq, 405, "Method not allowed.");
		goto out;
	}
	if (strlen(r->path) < strlen(rq.prefix)) {
		console_redirect(&rq, "");
		goto out;
	}
	if (post) {
		if (r->bodylen > LIM_FORM) {
			console_text(&rq, 413, "The form is too large.");
			goto out;
		}
		/* A browser names the page's origin on every POST. */
		origin = req_env(r, "HTTP_ORIGIN");
		host = req_env(r, "HTTP_HOST");
		if (origin != NULL && strcmp(origin, "null") != 0 &&
		    (host == NULL || (s = strstr(origin, "://")) == NULL ||
		    strcmp(s + 3, host) != 0)) {
			log_warnx("console: POST from another origin refused");
			console_text(&rq, 403, "Cross-site request refused.");
			goto out;
		}
		rq.form = req_parse_query(r->body != NULL ? r->body : "",
		    r->bodylen);
	}
	if (strncmp(rq.page, "static/", 7) == 0) {
		static_file(&rq, rq.page + 7);
		goto out;
	}
	if (strcmp(rq.page, "signin") == 0) {
		if (post)
			cauth_signin(&rq);
		else if (cauth_bk_login(&rq))
			console_redirect(&rq, "components");
		else
			cauth_signin_page(&rq, NULL);
		goto out;
	}
	if (!cauth_session(&rq)) {
		if (post)
			console_text(&rq, 403, "Sign in first.");
		else
			console_redirect(&rq, "signin");
		goto out;
	}
	if (post && !cauth_csrf_ok(&rq)) {
		log_warnx("console: POST %s without a valid CSRF token by %s",
		    rq.page, rq.user);
		console_text(&rq, 403, "The form is stale or forged: reload "
		    "the page.");
		goto out;
	}
	if (strcmp(rq.page, "signout") == 0 && post)
		cauth_signout(&rq);
	else if (*rq.page == '\0' && !post)
		console_redirect(&rq, "home");
	else if (strcmp(rq.page, "home") == 0 && !post)
		caudit_home(&rq);
	else if (strcmp(rq.page, "test") == 0)
		cops_test(&rq);
	else if (strcmp(rq.page, "tokens") == 0)
		cops_tokens(&rq);
	else if (strcmp(rq.page, "messages") == 0 && !post)
		caudit_messages(&rq);
	else if (strcmp(rq.page, "message") == 0 && !post)
		caudit_message(&rq);
	else if (strcmp(rq.page, "templates") == 0 && !post)
		ctmpl_list(&rq);
	else if (strcmp(rq.page, "template") == 0)
		ctmpl_edit(&rq);
	else if (strcmp(rq.page, "template_preview") == 0)
		ctmpl_preview(&rq);
	else if (strcmp(rq.page, "template_restore") == 0 && post)
		ctmpl_restore(&rq);
	else if (strcmp(rq.page, "components") == 0 && !post)
		page_components(&rq);
	else if (strcmp(rq.page, "edit") == 0)
		csave_edit(&rq);
	else if (strcmp(rq.page, "history") == 0 && !post)
		csave_history(&rq);
	else if (strcmp(rq.page, "rollback") == 0 && post)
		csave_rollback(&rq);
	else
		console_text(&rq, 404, "Not found.");
out:
	json_object_put(rq.form);
	json_object_put(rq.query);
	json_object_put(rq.t);
	explicit_bzero(rq.csrf, sizeof(rq.csrf));
}

/*
 * cmsi.fcgi --hash-password: one password on standard input (a final
 * newline dropped), its password_hash string on standard output.
 */
int
console_hash_password(void)
{
	char	 pw[LIM_PASSWORD + 2], out[LIM_PWHASH];
	size_t	 n;

	if (isatty(0))
		fprintf(stderr, "password: ");
	if (fgets(pw, sizeof(pw), stdin) == NULL) {
		fprintf(stderr, "no password on standard input\n");
		return 1;
	}
	n = strlen(pw);
	if (n > 0 && pw[n - 1] == '\n')
		pw[--n] = '\0';
	if (n > 0 && pw[n - 1] == '\r')
		pw[--n] = '\0';
	if (n == 0 || n > LIM_PASSWORD) {
		fprintf(stderr, "a password is 1 to %d bytes\n", LIM_PASSWORD);
		explicit_bzero(pw, sizeof(pw));
		return 1;
	}
	if (pwhash_make(pw, n, out, sizeof(out)) == -1) {
		fprintf(stderr, "cannot hash\n");
		explicit_bzero(pw, sizeof(pw));
		return 1;
	}
	explicit_bzero(pw, sizeof(pw));
	printf("%s\n", out);
	return 0;
}
