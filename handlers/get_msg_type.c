#include <stdlib.h>
#include <string.h>

#include "comp.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "handlers.h"
#include "custom.h"
#include "icon_custom.h"
#include "icons.h"
#include "lib/util.h"

static const struct {
	const char	*type;		/* the msg_type */
	const char	*en;		/* its label in English */
	const char	*zh;		/* and in Chinese */
	const char	*component;	/* the component that delivers it */
	const char	*icon;		/* base64 .ico */
} types[] = {
	{ "weixin", "weixin", "微信", "send_weixin", icon_weixin },
	{ "mail", "mail", "邮件", "send_mail", icon_mail },
	{ "sms", "sms", "短信", "send_sms", icon_sms },
	{ "voice", "voice", "语音", "send_voice_msg", icon_voice },
};

/*
 * An icon as JSON: the same string, written out from a quoted copy of
 * its own.  Base64 needs no escaping, and json-c would otherwise look
 * at each of its 6 KB on every call, half of this component's cost.
 * The copy is the object's (json-c frees it, and copies it along with
 * the object when the v1 dialect copies the list).
 */
static json_object *
icon_json(size_t i)
{
	json_object	*o;
	char		*q;
	size_t		 n;

	o = json_object_new_string(types[i].icon);
	n = strlen(types[i].icon);
	q = xmalloc(n + 3);
	q[0] = '"';
	memcpy(q + 1, types[i].icon, n);
	q[n + 1] = '"';
	q[n + 2] = '\0';
	json_object_set_serializer(o, json_object_userdata_to_json_string, q,
	    json_object_free_userdata);
	return o;
}

/*
 * After the four, the custom components (custom.c) in the file's
 * order: their msg_type, label and icon, on when get_msg_type does not
 * switch their type off and they can deliver.
 */
static void
custom_items(struct ctx *cx, json_object *list, int en)
{
	json_object	*it, *v;
	const char	*type;
	int		 on;

	if (cx->conf->components == NULL)
		return;
	json_object_object_foreach(cx->conf->components, name, sec) {
		if (custom_kind_of(sec) == CK__MAX)
			continue;
		type = conf_str(sec, "msg_type");
		on = (!json_object_object_get_ex(cx->section, type, &v) ||
		    conf_bool(cx->section, type)) && conf_enabled(sec) &&
		    comp_mode(sec, comp_upstream(name, sec)) != MODE_NONE;
		it = json_object_new_object();
		json_object_object_add(it, "type", json_object_new_string(type));
		json_object_object_add(it, "label", json_object_new_string(
		    custom_label(sec, type, en)));
		json_object_object_add(it, "is_active",
		    json_object_new_boolean(on));
		json_object_object_add(it, "icon", json_object_new_string(
		    *conf_str(sec, "icon") != '\0' ? conf_str(sec, "icon") :
		    icon_custom));
		json_object_array_add(list, it);
	}
}

/*
 * get_msg_type: the four types in ESB's order, then the custom ones;
 * English labels when Blueking-Language is absent or exactly "en".  is_active tells the
 * truth: the type is switched on here and its component can deliver.
 */
void
hnd_get_msg_type(struct ctx *cx, struct reply *rp)
{
	json_object	*list, *it, *sec;
	size_t		 i;
	int		 en, on;

	en = cx->language == NULL || strcmp(cx->language, "en") == 0;
	list = json_object_new_array();
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		sec = conf_comp(cx->conf, types[i].component);
		on = conf_bool(cx->section, types[i].type) &&
		    conf_enabled(sec) &&
		    comp_mode(sec, comp_upstream(types[i].component, sec)) !=
		    MODE_NONE;
		it = json_object_new_object();
		json_object_object_add(it, "type",
		    json_object_new_string(types[i].type));
		json_object_object_add(it, "label", json_object_new_string(
		    en ? types[i].en : types[i].zh));
		json_object_object_add(it, "is_active",
		    json_object_new_boolean(on));
		json_object_object_add(it, "icon", icon_json(i));
		json_object_array_add(list, it);
	}
	custom_items(cx, list, en);
	reply_ok(rp, "%s", "");
	reply_data(rp, list);
}
