#ifndef WEBHOOK_H
#define WEBHOOK_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/outcome.h"

struct ctx;
struct reply;

/* Headers a webhook may add (the call keeps one for Content-Type). */
#define WEBHOOK_HEADERS	6

int	 webhook_rule_check(json_object *, char *, size_t);
int	 webhook_body_check(json_object *, char *, size_t);
int	 webhook_headers_check(json_object *, char *, size_t);
json_object *webhook_body(json_object *, json_object *, char *, size_t);
int	 webhook_success(json_object *, long, const char *, size_t, char *,
	    size_t);
enum outcome_cls webhook_send(struct ctx *, json_object *, json_object *,
	    struct reply *, long *);

#endif /* WEBHOOK_H */
