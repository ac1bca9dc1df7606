/*
 * What every component shares: the delivery mode, the contract's
 * recipient rules and messages, lenient base64 and the outbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/ctx.h"
#include "core/log.h"
#include "up/qcloud.h"
#include "tmplset.h"
#include "users.h"
#include "lib/util.h"

/*
 * The sandbox wins over everything, then ESB's order: dest_url, else
 * the real upstream when it is configured, else nothing.
 */
enum comp_mode
comp_mode(json_object *section, int upstream_configured)
{
	if (section == NULL)
		return MODE_NONE;
	if (strcmp(conf_str(section, "delivery"), "outbox") == 0)
		return MODE_OUTBOX;
	if (*conf_str(section, "dest_url") != '\0')
		return MODE_FORWARD;
	return upstream_configured ? MODE_UPSTREAM : MODE_NONE;
}

void
comp_unfinished(struct reply *rp)
{
	reply_fail(rp, CODE_COMMON, "Unfinished interface shall be improved "
	    "by the component developer");
}

void
comp_component_error(struct reply *rp)
{
	reply_fail(rp, CODE_COMMON, "Component error, please contact the "
	    "component developer to handle it.");
}

/* A string parameter, "" when absent. */
const char *
comp_str(json_object *o, const char *k)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, k, &v) || v == NULL)
		return "";
	/*
	 * json-c prints a whole number or a boolean into the object
	 * itself: o may be a config section every thread reads, so not
	 * here (a fraction keeps json-c's own spelling of it).
	 */
	switch (json_object_get_type(v)) {
	case json_type_int:
		return conf_str(o, k);
	case json_type_boolean:
		return json_object_get_boolean(v) ? "true" : "false";
	default:
		return json_object_get_string(v);
	}
}

/*
 * A text parameter, base64-decoded leniently when b64 is set: what does
 * not decode, or decodes to something other than UTF-8, stays as sent.
 * Caller frees.
 */
char *
comp_text(json_object *o, const char *k, const char *def, int b64)
{
	const char	*s = comp_str(o, k);
	char		*d;
	size_t		 n;

	if (*s == '\0')
		s = def;
	if (b64 && b64_decode(s, strlen(s), &d, &n) == 0) {
		if (utf8_valid(d, n))
			return d;
		free(d);
	}
	return xstrdup(s);
}

/*
 * Checks the syntax of every contact in params[field].  Returns 0, or
 * -1 with the contract's message naming the bad ones.
 */
int
comp_check_contacts(json_object *params, const char *field, const char *kind,
    struct reply *rp)
{
	json_object	*list, *v;
	char		 bad[LIM_MESSAGE / 2];
	size_t		 i, n = 0;
	int		 k;

	if (!json_object_object_get_ex(params, field, &list) ||
	    !json_object_is_type(list, json_type_array))
		return 0;
	bad[0] = '\0';
	for (i = 0; i < json_object_array_length(list); i++) {
		v = json_object_array_get_idx(list, i);
		if (json_object_is_type(v, json_type_string) &&
		    users_valid(kind, json_object_get_string(v)))
			continue;
		k = snprintf(bad + n, sizeof(bad) - n, "%s%s", n > 0 ? "," :
		    "", json_object_get_string(v));
		if (k > 0 && (size_t)k < sizeof(bad) - n)
			n += (size_t)k;
		else if (n == 0)
			n = 1;
	}
	if (n == 0)
		return 0;
	reply_fail(rp, CODE_COMMON, "User message failed to send. The "
	    "following users contact format are incorrect: %s, please check",
	    bad);
	return -1;
}

/*
 * The recipients of field, or when it is empty those of ufield looked
 * up as kind in the user directory.  Returns 0, or -1 with rp set when
 * the directory failed or no username gave a usable contact.
 */
int
comp_recipients(struct ctx *cx, const char *field, const char *ufield,
    const char *kind, struct comp_rcpt *r, struct reply *rp)
{
	struct users_res	 res;
	json_object		*v;

	memset(r, 0, sizeof(*r));
	if (json_object_object_get_ex(cx->params, field, &v) &&
	    json_object_is_type(v, json_type_array)) {
		r->list = json_object_get(v);
		return 0;
	}
	if (ufield == NULL ||
	    !json_object_object_get_ex(cx->params, ufield, &v) ||
	    !json_object_is_type(v, json_type_array)) {
		r->list = json_object_new_array();
		return 0;
	}
	if (users_resolve(cx->conf, v, kind, &res) == -1) {
		reply_fail(rp, CODE_COMMON, "%s", res.error);
		users_res_free(&res);
		return -1;
	}
	r->list = json_object_get(res.contacts);
	r->users = json_object_get(res.users);
	r->invalid = json_object_get(res.invalid);
	snprintf(r->fragments, sizeof(r->fragments), "%s", res.fragments);
	users_res_free(&res);
	if (json_object_array_length(r->list) == 0) {
		reply_fail(rp, CODE_COMMON, "All users message failed to be "
		    "sent. %s", r->fragments);
		comp_finish(rp, r, NULL);
		return -1;
	}
	return 0;
}

void
comp_rcpt_free(struct comp_rcpt *r)
{
	json_object_put(r->list);
	json_object_put(r->users);
	json_object_put(r->invalid);
	memset(r, 0, sizeof(*r));
}

/*
 * After delivery: a success with usernames that failed becomes
 * "Some users failed to send <what>. <fragments>", and data carries
 * username_check.invalid as newer BlueKing callers read it.
 */
void
comp_finish(struct reply *rp, const struct comp_rcpt *r, const char *what)
{
	json_object	*uc, *np, *d;

	if (r->users == NULL)
		return;
	if (rp->payload != NULL) {
		/* A third party's answer, reworded as ESB does. */
		if (what != NULL && rp->result && r->fragments[0] != '\0') {
			np = json_object_new_object();
			json_object_object_add(np, "result",
			    json_object_new_boolean(0));
			json_object_object_add(np, "message",
			    json_object_new_string(""));
			if (strcmp(what, "voice") == 0 &&
			    json_object_object_get_ex(rp->payload, "data", &d))
				json_object_object_add(np, "data",
				    json_object_get(d));
			json_object_put(rp->payload);
			rp->payload = np;
			reply_fail(rp, CODE_COMMON, "Some users failed to send "
			    "%s. %s", what, r->fragments);
			json_object_object_add(np, "message",
			    json_object_new_string(rp->message));
		}
		if (!json_object_object_get_ex(rp->payload, "data", &d) ||
		    d == NULL) {
			d = json_object_new_object();
			json_object_object_add(rp->payload, "data", d);
		}
		if (json_object_is_type(d, json_type_object)) {
			uc = json_object_new_object();
			json_object_object_add(uc, "invalid",
			    json_object_get(r->invalid));
			json_object_object_add(d, "username_check", uc);
		}
		return;
	}
	if (what != NULL && rp->result && r->fragments[0] != '\0')
		reply_fail(rp, CODE_COMMON, "Some users failed to send %s. %s",
		    what, r->fragments);
	if (rp->data == NULL)
		rp->data = json_object_new_object();
	if (!json_object_is_type(rp->data, json_type_object))
		return;
	uc = json_object_new_object();
	json_object_object_add(uc, "invalid", json_object_get(r->invalid));
	json_object_object_add(rp->data, "username_check", uc);
}

/*
 * Writes one message into <state_dir>/outbox/ atomically (temp file,
 * rename), named <utc time>-<request_id>-<channel>.<ext>.  A reader
 * never sees half a message.  No fsync: the outbox is the sandbox, and
 * a sync per message would cost more than all the rest of the request.
 * Returns 0, or -1 with a failure envelope.
 */
int
comp_outbox(struct ctx *cx, const char *channel, const char *ext,
    const void *p, size_t n, struct reply *rp)
{
	char		 dir[LIM_PATH], tmp[LIM_PATH], path[LIM_PATH], ts[32];
	int		 rc = -1;

	utc_fmt(time(NULL), UTC_COMPACT, ts, sizeof(ts));
	if (snprintf(path, sizeof(path), "%s/outbox/%s-%s-%s.%s",
	    cx->conf->state_dir, ts, cx->request_id, channel, ext) >=
	    (int)sizeof(path) || snprintf(tmp, sizeof(tmp),
	    "%s/outbox/.tmp-%s-%s", cx->conf->state_dir, cx->request_id,
	    channel) >= (int)sizeof(tmp) || snprintf(dir, sizeof(dir),
	    "%s/outbox", cx->conf->state_dir) >= (int)sizeof(dir))
		goto out;
	if (file_publish(dir, tmp, path, p, n, 0640) == -1) {
		log_warn("%s: outbox: %s", cx->request_id, path);
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		reply_fail(rp, CODE_COMMON, "Component error, please contact "
		    "the component developer to handle it.");
	return rc;
}

/* The outbox with a JSON document (pretty, for people to read). */
int
comp_outbox_json(struct ctx *cx, const char *channel, json_object *doc,
    struct reply *rp)
{
	const char	*s;

	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	return comp_outbox(cx, channel, "json", s, strlen(s), rp);
}

/*
 * Whether the real upstream of a component has what it needs to be
 * called: SMTP host, WeCom corp or MP app, Tencent Cloud credentials.
 */
int
comp_upstream(const char *name, json_object *sec)
{
	const char	*t;

	if (strcmp(name, "send_mail") == 0)
		return *conf_str(sec, "smtp_host") != '\0';
	if (strcmp(name, "send_sms") == 0 ||
	    strcmp(name, "send_voice_msg") == 0) {
		/* The keys of the API qcloud_api names (or implies). */
		if (qcloud_api(sec) == QCLOUD_V5)
			return *conf_str(sec, "qcloud_app_id") != '\0' &&
			    *conf_str(sec, "qcloud_app_key") != '\0';
		return *conf_str(sec, "qcloud_secret_id") != '\0' &&
		    *conf_str(sec, "qcloud_secret_key") != '\0';
	}
	if (strcmp(name, "send_qy_weixin") == 0)
		return *conf_str(sec, "wx_qy_corpid") != '\0';
	if (strcmp(name, "send_mp_weixin") == 0)
		return *conf_str(sec, "wx_app_id") != '\0';
	t = conf_str(sec, "wx_type");
	if (strcmp(t, "mp") == 0)
		return *conf_str(sec, "wx_app_id") != '\0';
	return *conf_str(sec, "wx_qy_corpid") != '\0';
}

/*
 * Renders one of the channel layouts under templates/ (caller frees).
 * Returns NULL with the contract's generic error when it is missing
 * (-t names a missing one), or with a message naming the cap when the
 * rendering passes it (a layout that escapes can grow content that the
 * body cap let in).
 */
char *
comp_render(const char *name, json_object *ctx, enum tmpl_esc esc,
    struct reply *rp)
{
	struct buf	 b;

	buf_init(&b, LIM_RENDER);
	if (tmplset_get(name) == NULL) {
		log_warnx("template %s: missing (cmsi.fcgi -t names it)", name);
		buf_free(&b);
		comp_component_error(rp);
		return NULL;
	}
	if (tmplset_render(name, ctx, esc, &b) == -1) {
		log_warnx("template %s: rendering larger than %d bytes", name,
		    LIM_RENDER);
		buf_free(&b);
		reply_fail(rp, CODE_COMMON, "The content, laid out by template "
		    "%s, is larger than %d bytes (the rendering limit)", name,
		    LIM_RENDER);
		return NULL;
	}
	return buf_take(&b);
}
