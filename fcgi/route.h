#ifndef ROUTE_H
#define ROUTE_H

#include <json-c/json.h>

#include "handlers.h"

struct ident;

struct route {
	const char	*name;		/* component, e.g. "send_mail" */
	hnd_fn		 hnd;		/* its handler */
	int		 flags;		/* ROUTE_* */
};

#define ROUTE_AUTH	0x01	/* app and user authentication first */
#define ROUTE_RAW	0x02	/* no credentials, no schema: the handler
				   reads the request (WeChat's server URL) */

const struct route *route_match(const char *, const char *);
const struct route *route_by_name(const char *);
hnd_fn		 route_handler(const char *, const char **);
const struct route *route_table(void);
int		 route_callback(const char *);
int		 route_same_path(const char *, const char *);
void		 route_ctx(struct ctx *, const struct route *,
		    const struct conf *, const struct req *,
		    const struct ident *);
int		 route_gate(const struct conf *, const struct route *,
		    struct reply *);
int		 route_off(const struct ctx *, struct reply *);
void		 route_serve(const struct conf *, const struct route *,
		    struct req *, struct ident *, struct reply *, json_object **,
		    json_object **);
void		 route_run(const struct route *, struct ctx *, struct reply *);

#endif /* ROUTE_H */
