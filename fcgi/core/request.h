#ifndef REQUEST_H
#define REQUEST_H

#include <stddef.h>
#include <fcgiapp.h>
#include <json-c/json.h>

#include "lib/limits.h"

/* One request as the web server handed it over. */
struct req {
	FCGX_Request	*fr;		/* borrowed: libfcgi's request */
	char		 method[8];	/* GET, POST, ... */
	char		 path[LIM_PATH]; /* REQUEST_URI without the query */
	const char	*query;		/* borrowed from fr->envp, "" if none */
	char		*body;		/* owned: NUL-terminated, NULL if none */
	size_t		 bodylen;
	json_object	*params;	/* owned: parameters per ESB rules */
	json_object	*qparams;	/* owned: the query string's pairs */
	int		 bad_json;	/* body began with '{' but is no JSON */
	char		 id[33];	/* request_id, 32 lower-case hex */
};

const char	*req_env(const struct req *, const char *);
int		 req_read(struct req *, FCGX_Request *, size_t);
void		 req_parse(struct req *);
void		 req_free(struct req *);
void		 req_new_id(char [33]);

json_object	*req_parse_query(const char *, size_t);
json_object	*req_parse_multipart(const char *, size_t, const char *);
json_object	*req_list(json_object *);
json_object	*req_text(json_object *);
int		 req_bool(json_object *);
int		 req_empty(json_object *);

#endif /* REQUEST_H */
