#ifndef V1_H
#define V1_H

#include <stddef.h>
#include <fcgiapp.h>
#include <json-c/json.h>

struct conf;
struct ident;
struct reply;
struct req;

/* What an operation of the dialect is, past its path. */
enum v1_kind {
	V1_SEND,		/* send_*: one component does the work */
	V1_RTX,			/* send_rtx: send_weixin on the WeCom app */
	V1_CHANNELS,		/* the channel list: get_msg_type */
	V1_SETTINGS,		/* WeChat settings, for permitted apps */
	V1_TOKEN,		/* WeChat access token, for permitted apps */
};

/* How far a request got: it decides the HTTP status of a failure. */
enum v1_stage {
	V1_NOTFOUND,		/* no such operation: 404 */
	V1_AUTH,		/* credentials: 401 */
	V1_DENIED,		/* app not permitted: 403 */
	V1_PARAMS,		/* body, tenant, parameters: 400 */
	V1_RUN,			/* the component ran: by its outcome */
};

struct v1_field;

struct v1_op {
	const char		*path;	/* after v1/, no slash at either end */
	const char		*name;	/* for the log line */
	const char		*component; /* the ESB component doing it */
	enum v1_kind		 kind;
	const struct v1_field	*fields[3]; /* body mapping, NULL-ended */
};

int		 v1_match(const char *);
const struct v1_op *v1_find(const char *, const char *);
json_object	*v1_map(const struct v1_op *, json_object *);
size_t		 v1_asked(json_object *);
json_object	*v1_doc(const struct v1_op *, enum v1_stage,
		    const struct reply *, size_t, const char *, int *);
const char	*v1_serve(const struct conf *, FCGX_Request *, struct req *,
		    struct ident *, struct reply *);

#endif /* V1_H */
