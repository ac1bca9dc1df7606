#ifndef CONFSCHEMA_H
#define CONFSCHEMA_H

#include <stddef.h>
#include <json-c/json.h>

#include "lib/limits.h"

/* One problem with one key of a component section. */
struct confschema_err {
	char	 key[LIM_NAME];		/* the section's key, "" for the section */
	char	 msg[256];		/* the schema's wording */
};

json_object	*confschema_doc(const char *, const char *);
int		 confschema_check(const char *, const char *, json_object *,
		    struct confschema_err *, size_t);
int		 confschema_secret(json_object *, const char *);

#endif /* CONFSCHEMA_H */
