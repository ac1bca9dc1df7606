#ifndef HANDLERS_H
#define HANDLERS_H

#include <json-c/json.h>

struct conf;
struct reply;
struct req;

/*
 * What a handler may read.  By the time it runs, the caller is
 * authenticated and params are coerced and schema-valid.
 */
struct ctx {
	const struct conf	*conf;		/* borrowed: process scope */
	const char		*component;	/* borrowed: the routed name */
	json_object		*params;	/* borrowed: coerced, valid */
	json_object		*raw;		/* borrowed: params as sent */
	json_object		*section;	/* borrowed: its config, or NULL */
	const char		*request_id;	/* borrowed */
	const char		*app_code;	/* borrowed: authenticated app */
	const char		*username;	/* borrowed: user, may be "" */
	const char		*language;	/* borrowed: Blueking-Language */
	const char		*timezone;	/* borrowed: Blueking-Timezone */
	const struct req	*req;		/* borrowed: for callbacks only */
};

typedef void (*hnd_fn)(struct ctx *, struct reply *);

void	hnd_send_mail(struct ctx *, struct reply *);
void	hnd_send_sms(struct ctx *, struct reply *);
void	hnd_send_weixin(struct ctx *, struct reply *);
void	hnd_send_voice_msg(struct ctx *, struct reply *);
void	hnd_send_msg(struct ctx *, struct reply *);
void	hnd_get_msg_type(struct ctx *, struct reply *);
void	hnd_send_qy_weixin(struct ctx *, struct reply *);
void	hnd_send_mp_weixin(struct ctx *, struct reply *);
void	hnd_wechat_callback(struct ctx *, struct reply *);

#endif /* HANDLERS_H */
