#ifndef BKUSER_H
#define BKUSER_H

#include <stddef.h>
#include <json-c/json.h>

struct conf;

json_object	*bkuser_lookup(const struct conf *, json_object *, char *,
		    size_t);
json_object	*bkuser_entry(json_object *);

#endif /* BKUSER_H */
