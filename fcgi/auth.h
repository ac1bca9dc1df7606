#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>
#include <json-c/json.h>

#include "lib/limits.h"

struct conf;
struct conf_app;
struct req;
struct reply;

/* Who is calling, once auth_check has said yes. */
struct ident {
	char			 app_code[LIM_NAME];
	char			 username[128];
	const struct conf_app	*app;		/* borrowed from the conf */
};

json_object	*auth_creds(const struct req *, struct reply *);
int		 auth_check(const struct conf *, const struct req *,
		    json_object *, struct ident *, struct reply *);
int		 auth_request(const struct conf *, int, const struct req *,
		    json_object **, struct ident *, struct reply *);
int		 auth_login_user(const struct conf *, const char *,
		    const char *, char *, size_t);
int		 auth_signature(const char *, const char *, char *, size_t);
int		 auth_signature256(const char *, const char *, char *,
		    size_t);

#endif /* AUTH_H */
