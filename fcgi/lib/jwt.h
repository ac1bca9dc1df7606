#ifndef JWT_H
#define JWT_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "limits.h"

/* What a verified X-Bkapi-Jwt says about the caller. */
struct jwt_claims {
	char	 app_code[LIM_NAME];	/* "" when the gateway knew none */
	int	 app_verified;		/* the gateway checked the app */
	char	 username[128];		/* "" when none */
	int	 user_verified;		/* the gateway checked the user */
};

int	 jwt_key_check(const char *);
int	 jwt_conf_check(json_object *, char *, size_t);
int	 jwt_verify(const char *, const char *, const char *, time_t,
	    struct jwt_claims *, char *, size_t);

#endif /* JWT_H */
