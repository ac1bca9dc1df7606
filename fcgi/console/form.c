/*
 * The console's Component Configuration form, described by the config
 * schema of the component (conf/schemas/config/<name>.json): which
 * keys, their labels and help, their inputs, which are secrets.  Pure:
 * no I/O, so the unit tests reach every rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "lib/util.h"
#include "page.h"

#define CFORM_DIFF_VAL	256	/* one value as History shows it */
#define CFORM_DIFF_PATH	256	/* "components.send_mail.smtp_port" */

/* A property's string annotation, "" when absent. */
static const char *
ann(json_object *p, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(p, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

/* A setting as the form shows it: strings and numbers, else "". */
static const char *
shown(json_object *sec, const char *key)
{
	return conf_str(sec, key);
}

/*
 * What the page says of a secret instead of its value: "set", "not
 * set", "from file X", "from env Y".  Never any byte of the value.
 */
const char *
cform_secret_state(json_object *v, char *out, size_t outsz, int zh)
{
	json_object	*r;

	if (v == NULL || json_object_is_type(v, json_type_null) ||
	    (json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) == 0))
		snprintf(out, outsz, "%s", zh ? "未设置" : "not set");
	else if (json_object_is_type(v, json_type_object) &&
	    json_object_object_get_ex(v, "file", &r))
		snprintf(out, outsz, zh ? "来自文件 %s" : "from file %s",
		    json_object_get_string(r));
	else if (json_object_is_type(v, json_type_object) &&
	    json_object_object_get_ex(v, "env", &r))
		snprintf(out, outsz, zh ? "来自环境变量 %s" : "from env %s",
		    json_object_get_string(r));
	else
		snprintf(out, outsz, "%s", zh ? "已设置" : "set");
	return out;
}

static void
add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/* The choices of a select, from the property's "enum". */
static json_object *
options(json_object *p, const char *cur, int zh)
{
	json_object	*e, *opts, *o = NULL, *v, *labels = NULL, *l;
	const char	*s, *lab;
	size_t		 i, j;

	opts = json_object_new_array();
	json_object_object_get_ex(p, zh ? "x-labels-zh" : "x-labels", &labels);
	if (!json_object_object_get_ex(p, "enum", &e))
		return opts;
	for (i = 0; i < json_object_array_length(e); i++) {
		v = json_object_array_get_idx(e, i);
		if (!json_object_is_type(v, json_type_string))
			continue;
		s = json_object_get_string(v);
		if (labels != NULL && json_object_object_get_ex(labels, s, &l))
			lab = json_object_get_string(l);
		else
			lab = *s != '\0' ? s : (zh ? "（默认）" : "(default)");
		/*
		 * Spellings of one choice (wx_type "", qy and qywx are all
		 * WeCom) share a label and show once: as the file's spelling
		 * when it is one of them, so saving changes nothing.
		 */
		for (j = 0; j < json_object_array_length(opts); j++) {
			o = json_object_array_get_idx(opts, j);
			if (strcmp(jv_str(jv_get(o, "label")), lab) == 0)
				break;
		}
		if (j < json_object_array_length(opts)) {
			if (strcmp(s, cur) == 0) {
				add_str(o, "value", s);
				json_object_object_add(o, "selected",
				    json_object_new_boolean(1));
			}
			continue;
		}
		o = json_object_new_object();
		add_str(o, "value", s);
		add_str(o, "label", lab);
		json_object_object_add(o, "selected",
		    json_object_new_boolean(strcmp(s, cur) == 0));
		json_object_array_add(opts, o);
	}
	return opts;
}

/*
 * The fields of the form for schema doc over section sec (may be NULL).
 * form, when not NULL, is what the operator sent: its values are shown
 * instead of the file's (never a secret's).  errs maps key -> message.
 * Returns an array of field objects for the template; caller puts.
 */
json_object *
cform_fields(json_object *doc, json_object *sec, json_object *form,
    json_object *errs, int zh)
{
	json_object	*props, *out, *f, *v;
	const char	*kind, *cur;
	char		 state[300];
	int		 b;

	out = json_object_new_array();
	if (!json_object_object_get_ex(doc, "properties", &props))
		return out;
	json_object_object_foreach(props, key, p) {
		kind = ann(p, "x-input");
		if (*kind == '\0' || strcmp(kind, "hidden") == 0)
			continue;
		f = json_object_new_object();
		add_str(f, "key", key);
		add_str(f, "label", *ann(p, zh ? "x-title-zh" : "title") !=
		    '\0' ? ann(p, zh ? "x-title-zh" : "title") : key);
		add_str(f, "help", ann(p, zh ? "x-description-zh" :
		    "description"));
		add_str(f, "group", ann(p, "x-group"));
		json_object_object_add(f, kind, json_object_new_boolean(1));
		/* Marked: what cform_require asks for when sending upstream. */
		if (json_object_object_get_ex(p, "x-required", &v) &&
		    json_object_get_boolean(v))
			json_object_object_add(f, "required",
			    json_object_new_boolean(1));
		if (form != NULL && json_object_object_get_ex(form, key, &v))
			cur = json_object_get_string(v);
		else if (form != NULL)
			cur = "";
		else
			cur = shown(sec, key);
		if (strcmp(kind, "secret") == 0) {
			v = NULL;
			if (sec != NULL)
				json_object_object_get_ex(sec, key, &v);
			add_str(f, "state", cform_secret_state(v, state,
			    sizeof(state), zh));
		} else if (strcmp(kind, "checkbox") == 0) {
			if (form != NULL)
				b = json_object_object_get_ex(form, key, NULL);
			else {
				v = NULL;
				if (sec != NULL)
					json_object_object_get_ex(sec, key, &v);
				/* An absent "enabled" means on. */
				if (v == NULL && strcmp(key, "enabled") == 0)
					b = 1;
				else if (conf_parse_bool(v, &b) == -1)
					b = 0;
			}
			json_object_object_add(f, "checked",
			    json_object_new_boolean(b));
		} else if (strcmp(kind, "select") == 0) {
			json_object_object_add(f, "options", options(p, cur,
			    zh));
			json_object_object_add(f, "switch",
			    json_object_new_boolean(json_object_object_get_ex(
			    p, "x-switch", NULL)));
		} else
			add_str(f, "value", cur);
		if (json_object_object_get_ex(p, "x-min", &v))
			json_object_object_add(f, "min", json_object_get(v));
		if (json_object_object_get_ex(p, "x-max", &v))
			json_object_object_add(f, "max", json_object_get(v));
		if (errs != NULL && json_object_object_get_ex(errs, key, &v))
			json_object_object_add(f, "error", json_object_get(v));
		json_object_array_add(out, f);
	}
	return out;
}

/* Sets key in sec to v when its JSON differs; records key in changed. */
static int
put(json_object *sec, const char *key, json_object *v, json_object *changed)
{
	json_object	*old;
	const char	*a, *b;

	if (json_object_object_get_ex(sec, key, &old)) {
		a = json_object_to_json_string_ext(old, JSON_C_TO_STRING_PLAIN);
		b = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		if (strcmp(a, b) == 0) {
			json_object_put(v);
			return 0;
		}
	}
	/* json-c replaces a value in place: the key keeps its position. */
	json_object_object_add(sec, key, v);
	json_object_array_add(changed, json_object_new_string(key));
	return 1;
}

static int
drop(json_object *sec, const char *key, json_object *changed)
{
	if (!json_object_object_get_ex(sec, key, NULL))
		return 0;
	json_object_object_del(sec, key);
	json_object_array_add(changed, json_object_new_string(key));
	return 1;
}

/*
 * Applies a submitted form to section sec (the file's own JSON, with
 * secret references) under schema doc.  Only keys the schema shows are
 * touched, so "comment" and anything else stay as they were.  An empty
 * secret keeps the current value, reference or literal; "<key>__clear"
 * removes it.  A checkbox's absence is false; an empty text removes
 * the key; a value equal to the file's (even spelled "True" or "465"
 * there) leaves the file's spelling.  Names of changed keys go to the
 * array changed.  Returns how many changed.
 */
int
cform_apply(json_object *doc, json_object *sec, json_object *form,
    json_object *changed)
{
	json_object	*props, *v, *old;
	const char	*kind, *s;
	char		 clear[LIM_NAME + 8];
	long long	 n;
	int		 b, ob, count = 0;

	if (!json_object_object_get_ex(doc, "properties", &props))
		return 0;
	json_object_object_foreach(props, key, p) {
		kind = ann(p, "x-input");
		if (*kind == '\0' || strcmp(kind, "hidden") == 0)
			continue;
		old = NULL;
		json_object_object_get_ex(sec, key, &old);
		if (strcmp(kind, "checkbox") == 0) {
			b = json_object_object_get_ex(form, key, NULL);
			if (old == NULL && strcmp(key, "enabled") == 0 && b)
				continue;
			if (old != NULL && conf_parse_bool(old, &ob) == 0 &&
			    ob == b)
				continue;
			if (old == NULL && !b)
				continue;
			count += put(sec, key, json_object_new_boolean(b),
			    changed);
			continue;
		}
		if (strcmp(kind, "secret") == 0) {
			snprintf(clear, sizeof(clear), "%s__clear", key);
			if (json_object_object_get_ex(form, clear, NULL)) {
				count += drop(sec, key, changed);
				continue;
			}
			if (!json_object_object_get_ex(form, key, &v) ||
			    json_object_get_string_len(v) == 0)
				continue;
			count += put(sec, key, json_object_new_string(
			    json_object_get_string(v)), changed);
			continue;
		}
		/* A field the form did not carry is left alone. */
		if (!json_object_object_get_ex(form, key, &v))
			continue;
		s = json_object_get_string(v);
		if (*s == '\0') {
			count += drop(sec, key, changed);
			continue;
		}
		if (old != NULL && strcmp(conf_str(sec, key), s) == 0)
			continue;
		if (strcmp(kind, "number") == 0 &&
		    num_parse(s, 0, 0x7fffffff, &n) == 0)
			count += put(sec, key, json_object_new_int64(n),
			    changed);
		else
			count += put(sec, key, json_object_new_string(s),
			    changed);
	}
	return count;
}

/* What a section delivers through, for the list's column. */
const char *
cform_delivery(const char *name, json_object *sec, char *out, size_t outsz)
{
	const char	*api;

	if (strcmp(conf_str(sec, "delivery"), "outbox") == 0)
		snprintf(out, outsz, "outbox");
	else if (*conf_str(sec, "dest_url") != '\0')
		snprintf(out, outsz, "dest_url forwarding");
	else if (strcmp(name, "send_mail") == 0 &&
	    *conf_str(sec, "smtp_host") != '\0')
		snprintf(out, outsz, "SMTP %s:%s", conf_str(sec, "smtp_host"),
		    *conf_str(sec, "smtp_port") != '\0' ?
		    conf_str(sec, "smtp_port") : "25");
	else if ((strcmp(name, "send_weixin") == 0 &&
	    strcmp(conf_str(sec, "wx_type"), "mp") == 0) ||
	    (strcmp(name, "send_mp_weixin") == 0 &&
	    *conf_str(sec, "wx_app_id") != '\0'))
		snprintf(out, outsz, "Official Account");
	else if ((strcmp(name, "send_weixin") == 0 ||
	    strcmp(name, "send_qy_weixin") == 0) &&
	    *conf_str(sec, "wx_qy_corpid") != '\0')
		snprintf(out, outsz, "WeCom");
	else if (strcmp(name, "send_sms") == 0 ||
	    strcmp(name, "send_voice_msg") == 0) {
		api = conf_str(sec, "qcloud_api");
		if (*api == '\0' && *conf_str(sec, "qcloud_app_id") != '\0')
			api = "v5";
		else if (*api == '\0' &&
		    *conf_str(sec, "qcloud_secret_id") != '\0')
			api = "tc3";
		if (*api == '\0')
			snprintf(out, outsz, "-");
		else
			snprintf(out, outsz, "Tencent %s", strcmp(api, "v5") ==
			    0 ? "v5" : "API 3.0");
	} else if (strcmp(name, "send_msg") == 0)
		snprintf(out, outsz, "by msg_type");
	else if (strcmp(name, "get_msg_type") == 0)
		snprintf(out, outsz, "-");
	else
		snprintf(out, outsz, "-");
	return out;
}

/*
 * Simplified Chinese or English: Blueking-Language first (BlueKing's
 * own pages send it), else the first tag of Accept-Language.  Returns 1
 * for Chinese.
 */
int
cform_lang(const char *bk, const char *accept)
{
	if (bk != NULL && *bk != '\0')
		return strncasecmp(bk, "zh", 2) == 0;
	if (accept == NULL)
		return 0;
	while (*accept == ' ')
		accept++;
	return strncasecmp(accept, "zh", 2) == 0;
}

/* Whether a key names a secret anywhere in the file. */
static int
secret_name(const char *k)
{
	if (strcmp(k, "wx_token_source") == 0)
		return 0;
	return strstr(k, "pwd") != NULL || strstr(k, "secret") != NULL ||
	    strstr(k, "key") != NULL || strstr(k, "token") != NULL ||
	    strstr(k, "password") != NULL;
}

/*
 * Replaces every secret in a config document with "******", for
 * showing a version (History, a diff): whatever is under a key that
 * names a secret (apps' secrets, password hashes, SMTP passwords, app
 * keys, tokens), be it a string, a number, a reference object or
 * anything else; and in every other string, the password of a URL's
 * userinfo (upstream.proxy as http://user:pass@host, a dest_url).
 */
void
cform_redact(json_object *v, const char *key)
{
	char	 m[LIM_URL];
	size_t	 i;
	int	 r;

	if (json_object_is_type(v, json_type_array)) {
		for (i = 0; i < json_object_array_length(v); i++)
			cform_redact(json_object_array_get_idx(v, i), key);
		return;
	}
	if (!json_object_is_type(v, json_type_object))
		return;
	json_object_object_foreach(v, k, sub) {
		if (secret_name(k) && sub != NULL &&
		    !json_object_is_type(sub, json_type_null) &&
		    !(json_object_is_type(sub, json_type_string) &&
		    json_object_get_string_len(sub) == 0))
			json_object_object_add(v, k,
			    json_object_new_string("******"));
		else if (json_object_is_type(sub, json_type_string)) {
			/*
			 * A proxy may come without a scheme; a URL too
			 * long to mask is hidden whole.
			 */
			r = url_mask(json_object_get_string(sub),
			    strcmp(k, "proxy") == 0, m, sizeof(m));
			if (r != 0)
				json_object_object_add(v, k,
				    json_object_new_string(r == 1 ? m :
				    "******"));
		} else
			cform_redact(sub, k);
	}
	(void)key;
}

/*
 * Whether a row answers the filter q: every word of it, in any case,
 * is in the system's name (CMSI: BlueKing's documented step filters
 * "send_mail under the system CMSI"), the tenant or the component.
 * Pure.
 */
int
cform_match(const char *q, const char *tenant, const char *name)
{
	char	 word[65];
	size_t	 n;

	for (;;) {
		q += strspn(q, " \t");
		if ((n = strcspn(q, " \t")) == 0)
			return 1;
		snprintf(word, sizeof(word), "%.*s", (int)n, q);
		if (strcasestr("CMSI", word) == NULL &&
		    strcasestr(tenant, word) == NULL &&
		    strcasestr(name, word) == NULL)
			return 0;
		q += n;
	}
}

/* Whether c is white space a paste brings along. */
static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

/*
 * Trims white space off both ends of every text and secret field the
 * form carries (a pasted secret brings a newline, a copied corp id a
 * space; the upstream then refuses with no hint), in place.  The keys
 * trimmed go to trimmed, so the page can say so.  Returns how many.
 */
int
cform_trim(json_object *doc, json_object *form, json_object *trimmed)
{
	json_object	*props, *v;
	const char	*kind, *s;
	size_t		 a, z;
	int		 n = 0;
	char		*t;

	if (form == NULL ||
	    !json_object_object_get_ex(doc, "properties", &props))
		return 0;
	json_object_object_foreach(props, key, p) {
		kind = ann(p, "x-input");
		if (strcmp(kind, "text") != 0 && strcmp(kind, "secret") != 0 &&
		    strcmp(kind, "number") != 0)
			continue;
		if (!json_object_object_get_ex(form, key, &v))
			continue;
		s = json_object_get_string(v);
		z = strlen(s);
		for (a = 0; a < z && blank(s[a]); a++)
			;
		while (z > a && blank(s[z - 1]))
			z--;
		if (a == 0 && z == strlen(s))
			continue;
		t = xstrndup(s + a, z - a);
		json_object_object_add(form, key, json_object_new_string(t));
		free(t);
		json_object_array_add(trimmed, json_object_new_string(key));
		n++;
	}
	return n;
}

/* Whether section sec holds a value for key (a secret's reference too). */
static int
present(json_object *sec, const char *key)
{
	json_object	*v;

	if (sec == NULL || !json_object_object_get_ex(sec, key, &v) ||
	    v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_object))
		return json_object_object_length(v) > 0;
	return *conf_str(sec, key) != '\0';
}

/*
 * The settings a section cannot send without: the properties marked
 * "x-required" (in their wx_type group, when they have one), checked
 * only when the section would deliver upstream (enabled, no outbox, no
 * dest_url).  Each missing key gets msg in errs unless it already has
 * an error.  Returns how many were missing.
 */
int
cform_require(json_object *doc, json_object *sec, json_object *errs,
    const char *msg)
{
	json_object	*props, *v;
	const char	*group;
	int		 n = 0;

	if (!json_object_object_get_ex(doc, "properties", &props) ||
	    !conf_enabled(sec) ||
	    strcmp(conf_str(sec, "delivery"), "outbox") == 0 ||
	    *conf_str(sec, "dest_url") != '\0')
		return 0;
	group = strcmp(conf_str(sec, "wx_type"), "mp") == 0 ? "mp" : "qy";
	json_object_object_foreach(props, key, p) {
		if (!json_object_object_get_ex(p, "x-required", &v) ||
		    !json_object_get_boolean(v))
			continue;
		if (*ann(p, "x-group") != '\0' &&
		    strcmp(ann(p, "x-group"), group) != 0)
			continue;
		if (present(sec, key) ||
		    json_object_object_get_ex(errs, key, NULL))
			continue;
		json_object_object_add(errs, key, json_object_new_string(msg));
		n++;
	}
	return n;
}

/*
 * Whether a section that writes to the outbox also has upstream
 * settings filled in: the operator may believe it sends.
 */
int
cform_outbox_filled(json_object *doc, json_object *sec)
{
	json_object	*props;
	const char	*kind;

	if (strcmp(conf_str(sec, "delivery"), "outbox") != 0 ||
	    !json_object_object_get_ex(doc, "properties", &props))
		return 0;
	json_object_object_foreach(props, key, p) {
		kind = ann(p, "x-input");
		if ((strcmp(kind, "text") == 0 || strcmp(kind, "secret") == 0 ||
		    strcmp(kind, "number") == 0) && present(sec, key))
			return 1;
	}
	return 0;
}

/*
 * What the form showed of section sec, key by key: a checkbox as "on"
 * or "", a secret as its state ("set", "from file X"), anything else
 * as its text.  The Edit page
 * carries it (hidden "base"), so a save made from an old page knows
 * what its operator changed and what someone else did.  Caller puts.
 */
json_object *
cform_base(json_object *doc, json_object *sec)
{
	json_object	*props, *out, *v;
	const char	*kind, *s;
	char		 state[300], m[LIM_URL];
	int		 b, r;

	out = json_object_new_object();
	if (!json_object_object_get_ex(doc, "properties", &props))
		return out;
	json_object_object_foreach(props, key, p) {
		kind = ann(p, "x-input");
		if (*kind == '\0' || strcmp(kind, "hidden") == 0)
			continue;
		/* A secret by what the page says of it, never its bytes. */
		if (strcmp(kind, "secret") == 0)
			add_str(out, key, cform_secret_state(jv_get(sec, key),
			    state, sizeof(state), 0));
		else if (strcmp(kind, "checkbox") == 0) {
			v = jv_get(sec, key);
			if (v == NULL && strcmp(key, "enabled") == 0)
				b = 1;
			else if (conf_parse_bool(v, &b) == -1)
				b = 0;
			add_str(out, key, b ? "on" : "");
		} else {
			/* A URL's password never reaches the page, hidden or not. */
			s = sec != NULL ? shown(sec, key) : "";
			r = url_mask(s, 0, m, sizeof(m));
			add_str(out, key, r == 0 ? s : r == 1 ? m : "");
		}
	}
	return out;
}

/* A form's value of key as cform_base words it. */
static const char *
form_value(json_object *form, const char *key, const char *kind)
{
	json_object	*v;

	if (strcmp(kind, "checkbox") == 0)
		return json_object_object_get_ex(form, key, NULL) ? "on" : "";
	if (!json_object_object_get_ex(form, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/*
 * After a stale-page refusal: the form to show again.  It holds the
 * file's values now (cur, from cform_base), except for the keys the
 * operator changed from the page's base, which keep what was typed.
 * The keys someone else changed since (cur differs from base) go to
 * theirs as {key, was, now, mine[, yours]}; a secret by its state, so
 * only a change of state shows (set, removed, another file).  Secrets
 * are never echoed: a typed one must be typed again.  Returns the new
 * form (caller puts).
 */
json_object *
cform_merge(json_object *doc, json_object *base, json_object *cur,
    json_object *form, json_object *theirs)
{
	json_object	*props, *out, *e;
	const char	*kind, *was, *now, *typed;
	char		 clear[LIM_NAME + 8];
	int		 mine, secret;

	out = json_object_new_object();
	if (!json_object_object_get_ex(doc, "properties", &props))
		return out;
	json_object_object_foreach(props, key, p) {
		kind = ann(p, "x-input");
		if (*kind == '\0' || strcmp(kind, "hidden") == 0)
			continue;
		secret = strcmp(kind, "secret") == 0;
		now = jv_str(jv_get(cur, key));
		/* Not in the base (a page from before it): nothing is theirs. */
		was = jv_get(base, key) != NULL ? jv_str(jv_get(base, key)) :
		    now;
		typed = form_value(form, key, kind);
		snprintf(clear, sizeof(clear), "%s__clear", key);
		if (secret)
			mine = (typed != NULL && *typed != '\0') ||
			    json_object_object_get_ex(form, clear, NULL);
		else
			mine = typed != NULL && strcmp(typed, was) != 0;
		if (strcmp(was, now) != 0) {
			e = json_object_new_object();
			add_str(e, "key", key);
			add_str(e, "was", was);
			add_str(e, "now", now);
			/* A typed secret is never shown, nor kept. */
			if (mine)
				add_str(e, "yours", secret ? "******" : typed);
			json_object_object_add(e, "mine",
			    json_object_new_boolean(mine));
			json_object_array_add(theirs, e);
		}
		if (secret)
			continue;
		if (mine)
			now = typed;
		if (strcmp(kind, "checkbox") == 0) {
			if (*now != '\0')
				add_str(out, key, "on");
		} else
			add_str(out, key, now);
	}
	return out;
}

/*
 * A value as History shows it: "******" for any value of a key that
 * names a secret (a {"file"} or {"env"} reference is shown: it holds
 * no secret), a URL's user:password as "******", else its JSON text
 * (a string unquoted).  Into out.
 */
static void
masked(const char *key, json_object *v, char *out, size_t outsz)
{
	const char	*s, *at, *sch, *slash;

	if (v == NULL) {
		snprintf(out, outsz, "(none)");
		return;
	}
	if (secret_name(key) && !(json_object_is_type(v, json_type_object) &&
	    (json_object_object_get_ex(v, "file", NULL) ||
	    json_object_object_get_ex(v, "env", NULL)))) {
		snprintf(out, outsz, "******");
		return;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(out, outsz, "%s", json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		/* An object or array may hold a URL with a password. */
		if (strstr(out, "://") != NULL && strchr(out, '@') != NULL)
			snprintf(out, outsz, "******");
		return;
	}
	s = json_object_get_string(v);
	if ((sch = strstr(s, "://")) != NULL && (at = strchr(sch, '@')) !=
	    NULL && ((slash = strchr(sch + 3, '/')) == NULL || at < slash)) {
		snprintf(out, outsz, "%.*s://******%s", (int)(sch - s), s, at);
		return;
	}
	snprintf(out, outsz, "%s", s);
}

static void
diff_add(json_object *lines, const char *path, const char *key,
    json_object *a, json_object *b)
{
	json_object	*e;
	char		 was[CFORM_DIFF_VAL], now[CFORM_DIFF_VAL];

	masked(key, a, was, sizeof(was));
	masked(key, b, now, sizeof(now));
	/* Two different secrets both show as "******": say it changed. */
	if (strcmp(was, now) == 0 && a != NULL && b != NULL)
		snprintf(now, sizeof(now), "%s", "****** (changed)");
	e = json_object_new_object();
	add_str(e, "path", path);
	add_str(e, "was", was);
	add_str(e, "now", now);
	json_object_array_add(lines, e);
}

static void
diff_walk(json_object *a, json_object *b, const char *path, const char *key,
    json_object *lines, size_t max)
{
	char		 sub[CFORM_DIFF_PATH];
	const char	*ta, *tb;
	json_object	*o;

	if (json_object_array_length(lines) >= max)
		return;
	/*
	 * A section added or removed whole (a component, a tenant, an
	 * app) is walked leaf by leaf as well, so each secret in it is
	 * masked under its own key: shown whole, its JSON text carried
	 * every secret in clear.
	 */
	o = a == NULL ? b : b == NULL ? a : NULL;
	if (json_object_is_type(o, json_type_object) &&
	    json_object_object_length(o) > 0) {
		json_object_object_foreach(o, k, v) {
			snprintf(sub, sizeof(sub), "%s%s%s", path,
			    *path != '\0' ? "." : "", k);
			diff_walk(o == a ? v : NULL, o == b ? v : NULL, sub, k,
			    lines, max);
		}
		return;
	}
	if (json_object_is_type(a, json_type_object) &&
	    json_object_is_type(b, json_type_object)) {
		json_object_object_foreach(a, k, va) {
			snprintf(sub, sizeof(sub), "%s%s%s", path,
			    *path != '\0' ? "." : "", k);
			diff_walk(va, jv_get(b, k), sub, k, lines, max);
		}
		json_object_object_foreach(b, k2, vb) {
			if (json_object_object_get_ex(a, k2, NULL))
				continue;
			snprintf(sub, sizeof(sub), "%s%s%s", path,
			    *path != '\0' ? "." : "", k2);
			diff_walk(NULL, vb, sub, k2, lines, max);
		}
		return;
	}
	ta = a != NULL ? json_object_to_json_string_ext(a,
	    JSON_C_TO_STRING_PLAIN) : "";
	if (a != NULL && b != NULL) {
		tb = json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN);
		if (strcmp(ta, tb) == 0)
			return;
	}
	diff_add(lines, path, key, a, b);
}

/*
 * What changed from config document a to b, leaf by leaf, at most max
 * lines of {path, was, now}, secrets and URL passwords masked.  Pure.
 * Caller puts.
 */
json_object *
cform_diff(json_object *a, json_object *b, size_t max)
{
	json_object	*lines = json_object_new_array();

	diff_walk(a, b, "", "", lines, max);
	return lines;
}
