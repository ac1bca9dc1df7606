#ifndef HANDLERS_H
#define HANDLERS_H

#include "core/ctx.h"

struct reply;

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
void	hnd_custom(struct ctx *, struct reply *);

#endif /* HANDLERS_H */
