#ifndef CUSTOM_H
#define CUSTOM_H

#include <stddef.h>

#include <json-c/json.h>

#include "up/kind.h"

struct conf;
struct route;

/* Custom components one process knows by name, over all its reloads. */
#define CUSTOM_MAX	64

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

#endif /* CUSTOM_H */
