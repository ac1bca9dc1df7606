#ifndef ROBOT_H
#define ROBOT_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/outcome.h"
#include "kind.h"

struct ctx;
struct reply;

int	 robot_sign(enum custom_kind, const char *, long long, char *, size_t);
json_object *robot_body(enum custom_kind, const char *,
	    const struct custom_msg *, const char *, const char *);
enum outcome_cls robot_outcome(enum custom_kind, long);
enum outcome_cls robot_send(struct ctx *, enum custom_kind, json_object *,
	    json_object *, const struct custom_msg *, struct reply *, long *);

#endif /* ROBOT_H */
