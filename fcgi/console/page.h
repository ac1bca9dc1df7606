#ifndef PAGE_H
#define PAGE_H

#include <stddef.h>
#include <fcgiapp.h>
#include <json-c/json.h>

#include "lib/limits.h"

struct conf;
struct req;

/* One console request, from the front line to the answer. */
struct console_rq {
	const struct conf *conf;	/* borrowed: the live configuration */
	struct req	*r;		/* borrowed: the request */
	char		 prefix[160];	/* console.prefix, e.g. "/console/" */
	const char	*page;		/* borrowed from r->path: after prefix */
	json_object	*form;		/* owned: POST body pairs, or NULL */
	json_object	*query;		/* owned: query string pairs */
	json_object	*t;		/* owned: the language's strings */
	char		 user[LIM_NAME]; /* signed-in user, "" if none */
	char		 sid[65];	/* session id from the cookie */
	char		 csrf[65];	/* the session's CSRF token */
	char		 cookie[320];	/* a Set-Cookie to send, "" if none */
	char		 langcookie[96]; /* the language switch's, or "" */
	int		 secure;	/* the request came over HTTPS */
	int		 zh;		/* Simplified Chinese */
};

/* page.c: what every page shares */
void		 page_broken(const char *);
json_object	*page_ctx(struct console_rq *);
const char	*page_param(struct console_rq *, const char *);
void		 page_render(struct console_rq *, int, const char *,
		    json_object *);
void		 page_redirect(struct console_rq *, const char *);
void		 page_text(struct console_rq *, int, const char *);
void		 page_json(struct console_rq *, int, const char *);
const char	*page_str(struct console_rq *, const char *);
void		 page_static(struct console_rq *, const char *);
int		 page_writable(const char *);

/* signin.c */
int		 cauth_session(struct console_rq *);
void		 cauth_signin_page(struct console_rq *, const char *);
void		 cauth_signin(struct console_rq *);
void		 cauth_signout(struct console_rq *);
int		 cauth_csrf_ok(struct console_rq *);
int		 cauth_bk_login(struct console_rq *);
int		 cauth_cookie(const char *, const char *, char *, size_t);
void		 cauth_hex(const unsigned char *, size_t, char *);
int		 cauth_throttle(const char *, const char *, const char *,
		    int, long *);

/* form.c: pure */
json_object	*cform_fields(json_object *, json_object *, json_object *,
		    json_object *, int);
const char	*cform_secret_state(json_object *, char *, size_t, int);
int		 cform_apply(json_object *, json_object *, json_object *,
		    json_object *);
const char	*cform_delivery(const char *, json_object *, char *, size_t);
int		 cform_lang(const char *, const char *);
void		 cform_redact(json_object *, const char *);
int		 cform_trim(json_object *, json_object *, json_object *);
int		 cform_match(const char *, const char *, const char *);
int		 cform_require(json_object *, json_object *, json_object *,
		    const char *);
int		 cform_outbox_filled(json_object *, json_object *);
json_object	*cform_base(json_object *, json_object *);
json_object	*cform_merge(json_object *, json_object *, json_object *,
		    json_object *, json_object *);
json_object	*cform_diff(json_object *, json_object *, size_t);

/* save.c */
void		 csave_edit(struct console_rq *);
int		 csave_import(const struct console_rq *, const char *,
		    json_object *, char *, size_t);
void		 csave_history(struct console_rq *);
void		 csave_rollback(struct console_rq *);
char		*csave_read(const char *, size_t *, char [65]);
int		 csave_dir(const struct console_rq *, const char *, char *,
		    size_t);
int		 csave_lock(const struct console_rq *);
int		 csave_open(struct console_rq *, int, int *, char **, size_t *,
		    char [65], json_object **);
int		 csave_hist_ok(const char *, const char *);
size_t		 csave_hist_list(const struct console_rq *, const char *,
		    const char *, char **, size_t, int);
int		 csave_hist_keep(const struct console_rq *, const char *,
		    const char *, const char *, size_t, char *, size_t);
int		 csave_replace(const struct console_rq *, const char *, size_t,
		    const char *, const char *, const char *, json_object *,
		    char *, size_t);

/* custom.c: the custom components (fcgi/custom.c) */
void		 ccustom_list(struct console_rq *);
void		 ccustom_edit(struct console_rq *);
void		 ccustom_remove(struct console_rq *);

/* templates.c */
void		 ctmpl_list(struct console_rq *);
void		 ctmpl_edit(struct console_rq *);
void		 ctmpl_preview(struct console_rq *);
void		 ctmpl_restore(struct console_rq *);
int		 ctmpl_name_ok(const char *);

/* probe.c */
void		 cops_test(struct console_rq *);
void		 cops_tokens(struct console_rq *);
size_t		 cops_hints(const char *, const char **, size_t);

/* audit.c */
/* What a Recent messages page asks for; "" and 0 are "any". */
struct caudit_filter {
	const char	*comp;		/* borrowed: component, exact */
	const char	*app;		/* borrowed: app, exact */
	const char	*rcpt;		/* borrowed: within the recipients */
	const char	*id;		/* borrowed: request_id prefix */
	int		 outcome;	/* 1 succeeded, 2 failed */
	long long	 since;		/* unix seconds, 0 for any */
};
long long	 caudit_scan(int, long long, long long,
		    int (*)(void *, const char *, size_t, long long), void *);
long long	 caudit_time(const char *);
int		 caudit_match(const struct caudit_filter *, const char *,
		    json_object **, int *);
void		 caudit_messages(struct console_rq *);
void		 caudit_message(struct console_rq *);
void		 caudit_home(struct console_rq *);

#endif /* PAGE_H */
