#ifndef CUSTOM_H
#define CUSTOM_H

#include <stddef.h>

#include <json-c/json.h>

struct conf;
struct route;

/* What an operator's own component is (its section's "kind"). */
enum custom_kind {
	CK_DINGTALK,		/* DingTalk custom robot */
	CK_FEISHU,		/* Feishu / Lark custom bot */
	CK_WECOM,		/* WeCom group robot */
	CK_WEBHOOK,		/* any JSON webhook */
	CK__MAX			/* none, or one we do not know */
};

/* Custom components one process knows by name, over all its reloads. */
#define CUSTOM_MAX	64

/* One message as a custom component sends it. */
struct custom_msg {
	const char	*title;		/* borrowed: "" when none */
	const char	*content;	/* borrowed */
	const char	*sender;	/* borrowed: "" when none */
	const char	*msg_type;	/* borrowed: the component's type */
	const char	*request_id;	/* borrowed */
	json_object	*receivers;	/* borrowed: every receiver as given */
	json_object	*mobiles;	/* borrowed: those that are phones */
	json_object	*user_ids;	/* borrowed: the others */
	json_object	*native;	/* borrowed: a caller's own robot
					   message (bk-monitor's wecom_robot),
					   or NULL */
};

enum custom_kind custom_kind_of(json_object *);
const char	*custom_kind_name(enum custom_kind);
int		 custom_is(json_object *);
void		 custom_check(const struct conf *, const char *, json_object *);
const struct route *custom_route(const char *);
const char	*custom_schema(const char *);
const char	*custom_kind_schema(enum custom_kind);
const char	*custom_by_type(const struct conf *, const char *);
int		 custom_ready(json_object *);
const char	*custom_label(json_object *, const char *, int);
int		 custom_layout(json_object *, const char *, char *, size_t);

#endif /* CUSTOM_H */
