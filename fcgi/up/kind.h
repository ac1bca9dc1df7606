#ifndef KIND_H
#define KIND_H

#include <json-c/json.h>

/*
 * What the upstream modules of custom components (robot.c, webhook.c)
 * share with the component layer (fcgi/custom.c): the kinds and one
 * message as they send it.
 */

/* What an operator's own component is (its section's "kind"). */
enum custom_kind {
	CK_DINGTALK,		/* DingTalk custom robot */
	CK_FEISHU,		/* Feishu / Lark custom bot */
	CK_WECOM,		/* WeCom group robot */
	CK_WEBHOOK,		/* any JSON webhook */
	CK__MAX			/* none, or one we do not know */
};

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

/* The layout of a robot's message for a format ("text" when NULL). */
int		 robot_layout(enum custom_kind, json_object *, const char *,
		    char *, size_t);

#endif /* KIND_H */
