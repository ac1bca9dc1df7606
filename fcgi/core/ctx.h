#ifndef CTX_H
#define CTX_H

#include <json-c/json.h>

struct conf;
struct outcome;
struct req;

/*
 * One request as the components and the upstreams see it.  By the time
 * a handler runs, the caller is authenticated and params are coerced
 * and schema-valid.  Its own header, below handlers/ and fcgi/up/ both,
 * so a lower layer never includes the layer that calls it.
 */
struct ctx {
	const struct conf	*conf;		/* borrowed: process scope */
	const char		*component;	/* borrowed: the routed name */
	json_object		*params;	/* borrowed: coerced, valid */
	json_object		*raw;		/* borrowed: params as sent */
	json_object		*section;	/* borrowed: its config, or NULL */
	const char		*request_id;	/* borrowed */
	const char		*app_code;	/* borrowed: authenticated app */
	const char		*username;	/* borrowed: user, may be "" */
	const char		*language;	/* borrowed: Blueking-Language */
	const char		*timezone;	/* borrowed: Blueking-Timezone */
	const struct req	*req;		/* borrowed: for callbacks only */
	struct outcome		*oc;		/* borrowed: retry's record, or NULL */
};

#endif /* CTX_H */
