#ifndef FORWARD_H
#define FORWARD_H

#include <json-c/json.h>

struct ctx;
struct reply;

json_object	*forward_kwargs(struct ctx *);
int		 forward_send(struct ctx *, json_object *, struct reply *);

#endif /* FORWARD_H */
