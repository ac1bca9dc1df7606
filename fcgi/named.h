#ifndef NAMED_H
#define NAMED_H

#include <json-c/json.h>

struct reply;

int	 named_apply(const char *, json_object *, struct reply *);

#endif /* NAMED_H */
