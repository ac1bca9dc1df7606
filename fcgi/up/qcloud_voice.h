#ifndef QCLOUD_VOICE_H
#define QCLOUD_VOICE_H

#include <json-c/json.h>

struct ctx;
struct reply;

void	 qcloud_voice_send(struct ctx *, json_object *, const char *,
	    struct reply *);

#endif /* QCLOUD_VOICE_H */
