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
 *	GET  home, GET/POST test, GET/POST tokens (probe.c)
 *	GET  messages, GET message?at= (audit.c)
 *	GET  templates, GET/POST template, GET/POST template_preview,
 *	     POST template_restore (templates.c)
 *	GET  static/console.css, static/console.js
 *
 * This file is the hub: it reads the request, checks the session and
 * the CSRF token, and dispatches to a page.  What pages share (headers,
 * rendering, redirects, parameters) is page.c; no page calls the hub.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/request.h"
#include "core/tmplset.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/pwhash.h"
#include "lib/util.h"

#define CONSOLE_PREFIX	"/console/"
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

	if (!cform_match(q, tenant, name))
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
components_page(struct console_rq *rq)
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
	ctx = page_ctx(rq);
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
	page_render(rq, 200, "console/components", ctx);
}

/*
 * The page's language: the switch on the page (?lang=zh|en, kept in
 * BlueKing's own cookie blueking_language, so a choice made in either
 * holds in both), else the cookie, else the headers (cform_lang).
 * Returns 1 for Chinese.
 */
static int
pick_lang(struct console_rq *rq)
{
	json_object	*v;
	const char	*s;
	char		 lang[16];

	s = json_object_object_get_ex(rq->query, "lang", &v) ?
	    json_object_get_string(v) : "";
	if (strcmp(s, "zh") == 0 || strcmp(s, "en") == 0) {
		snprintf(rq->langcookie, sizeof(rq->langcookie),
		    "blueking_language=%s; Path=/; Max-Age=31536000; "
		    "SameSite=Lax%s", *s == 'z' ? "zh-cn" : "en",
		    rq->secure ? "; Secure" : "");
		return *s == 'z';
	}
	if (cauth_cookie(req_env(rq->r, "HTTP_COOKIE"), "blueking_language",
	    lang, sizeof(lang)) == 0 && lang[0] != '\0')
		return strncasecmp(lang, "zh", 2) == 0;
	return cform_lang(req_env(rq->r, "HTTP_BLUEKING_LANGUAGE"),
	    req_env(rq->r, "HTTP_ACCEPT_LANGUAGE"));
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
	rq.query = req_parse_query(r->query, strlen(r->query));
	rq.zh = pick_lang(&rq);
	rq.t = strings(c, rq.zh);
	post = strcmp(r->method, "POST") == 0;
	if (!post && strcmp(r->method, "GET") != 0 &&
	    strcmp(r->method, "HEAD") != 0) {
		page_text(&rq, 405, "Method not allowed.");
		goto out;
	}
	if (strlen(r->path) < strlen(rq.prefix)) {
		page_redirect(&rq, "");
		goto out;
	}
	if (post) {
		if (r->bodylen > LIM_FORM) {
			page_text(&rq, 413, "The form is too large.");
			goto out;
		}
		/* A browser names the page's origin on every POST. */
		origin = req_env(r, "HTTP_ORIGIN");
		host = req_env(r, "HTTP_HOST");
		if (origin != NULL && strcmp(origin, "null") != 0 &&
		    (host == NULL || (s = strstr(origin, "://")) == NULL ||
		    strcmp(s + 3, host) != 0)) {
			log_warnx("console: POST from another origin refused");
			page_text(&rq, 403, "Cross-site request refused.");
			goto out;
		}
		rq.form = req_parse_query(r->body != NULL ? r->body : "",
		    r->bodylen);
	}
	if (strncmp(rq.page, "static/", 7) == 0) {
		page_static(&rq, rq.page + 7);
		goto out;
	}
	if (strcmp(rq.page, "signin") == 0) {
		if (post)
			cauth_signin(&rq);
		else if (cauth_bk_login(&rq))
			page_redirect(&rq, "components");
		else
			cauth_signin_page(&rq, NULL);
		goto out;
	}
	if (!cauth_session(&rq)) {
		if (post)
			page_text(&rq, 403, "Sign in first.");
		else
			page_redirect(&rq, "signin");
		goto out;
	}
	if (post && !cauth_csrf_ok(&rq)) {
		log_warnx("console: POST %s without a valid CSRF token by %s",
		    rq.page, rq.user);
		page_text(&rq, 403, "The form is stale or forged: reload "
		    "the page.");
		goto out;
	}
	if (strcmp(rq.page, "signout") == 0 && post)
		cauth_signout(&rq);
	else if (*rq.page == '\0' && !post)
		page_redirect(&rq, "home");
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
		components_page(&rq);
	else if (strcmp(rq.page, "edit") == 0)
		csave_edit(&rq);
	else if (strcmp(rq.page, "history") == 0 && !post)
		csave_history(&rq);
	else if (strcmp(rq.page, "rollback") == 0 && post)
		csave_rollback(&rq);
	else if (strcmp(rq.page, "custom") == 0 && !post)
		ccustom_list(&rq);
	else if (strcmp(rq.page, "custom_edit") == 0)
		ccustom_edit(&rq);
	else if (strcmp(rq.page, "custom_remove") == 0 && post)
		ccustom_remove(&rq);
	else
		page_text(&rq, 404, "Not found.");
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
