#ifndef QCLOUD_SMS_H
#define QCLOUD_SMS_H

#include <json-c/json.h>

struct ctx;
struct reply;

void	 qcloud_sms_send(struct ctx *, json_object *, json_object *,
	    const char *, struct reply *);

#endif /* QCLOUD_SMS_H */
