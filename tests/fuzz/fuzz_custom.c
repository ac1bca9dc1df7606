/*
 * libFuzzer: a webhook custom component's success rule and body
 * template, and a robot's body.  The input is two bytes of HTTP status,
 * then four parts separated by NUL bytes: the "success" rule (JSON),
 * the upstream's reply (bytes), the "body" template (JSON) and the
 * message (JSON: title, content, receivers, ...).  A rule that -t
 * passes is applied to the reply; a body that -t passes is rendered,
 * and what comes out must be a JSON document that parses back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "custom.h"
#include "lib/limits.h"
#include "up/robot.h"
#include "up/webhook.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The next NUL-ended part of *p (n bytes left), as a string copy. */
static char *
part(const uint8_t **p, size_t *n, size_t *len)
{
	const uint8_t	*e = memchr(*p, '\0', *n);
	size_t		 k = e != NULL ? (size_t)(e - *p) : *n;
	char		*s;

	s = malloc(k + 1);
	if (s == NULL)
		abort();
	memcpy(s, *p, k);
	s[k] = '\0';
	*len = k;
	*p += k + (e != NULL);
	*n -= k + (e != NULL);
	return s;
}

static json_object *
parse(const char *s, size_t n)
{
	struct json_tokener	*tok;
	json_object		*o;

	tok = json_tokener_new_ex(LIM_JSON_DEPTH);
	o = json_tokener_parse_ex(tok, s, (int)n);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static json_object *
list(json_object *msg, const char *k)
{
	json_object	*v;

	if (json_object_object_get_ex(msg, k, &v) &&
	    json_object_is_type(v, json_type_array))
		return v;
	return NULL;
}

static const char *
str(json_object *msg, const char *k)
{
	json_object	*v;

	if (json_object_object_get_ex(msg, k, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct custom_msg	 m;
	json_object		*rule, *tmpl, *msg, *out, *back;
	const char		*s;
	char			*r, *rep, *b, *c, why[512], err[256];
	size_t			 rn, repn, bn, cn;
	long			 status;
	int			 k;

	if (size < 2)
		return 0;
	status = 100 + ((long)data[0] << 8 | data[1]) % 500;
	data += 2;
	size -= 2;
	r = part(&data, &size, &rn);
	rep = part(&data, &size, &repn);
	b = part(&data, &size, &bn);
	c = part(&data, &size, &cn);
	rule = parse(r, rn);
	tmpl = parse(b, bn);
	msg = parse(c, cn);

	if (rule != NULL && webhook_rule_check(rule, why, sizeof(why)) == 0)
		(void)webhook_success(rule, status, rep, repn, why,
		    sizeof(why));
	(void)webhook_success(NULL, status, rep, repn, why, sizeof(why));

	if (tmpl != NULL && webhook_body_check(tmpl, err, sizeof(err)) == 0 &&
	    (out = webhook_body(tmpl, msg, err, sizeof(err))) != NULL) {
		/* Whatever the message held, the body is JSON again. */
		s = json_object_to_json_string_ext(out,
		    JSON_C_TO_STRING_PLAIN);
		back = parse(s, strlen(s));
		if (back == NULL)
			abort();
		json_object_put(back);
		json_object_put(out);
	}

	if (json_object_is_type(msg, json_type_object)) {
		memset(&m, 0, sizeof(m));
		m.title = str(msg, "title");
		m.msg_type = str(msg, "msg_type");
		m.receivers = list(msg, "receivers");
		m.mobiles = list(msg, "mobiles");
		m.user_ids = list(msg, "user_ids");
		for (k = 0; k < CK_WEBHOOK; k++) {
			out = robot_body((enum custom_kind)k, k == CK_FEISHU ?
			    "post" : "markdown", &m, str(msg, "content"),
			    m.title);
			json_object_put(out);
		}
	}
	json_object_put(rule);
	json_object_put(tmpl);
	json_object_put(msg);
	free(r);
	free(rep);
	free(b);
	free(c);
	return 0;
}
