#ifndef OPS_H
#define OPS_H

#include <fcgiapp.h>
#include <json-c/json.h>

struct conf;
struct req;

int	 ops_match(const char *);
int	 ops_serve(const struct conf *, FCGX_Request *, const struct req *);
int	 ops_cidr_check(json_object *, char *, size_t);
int	 ops_healthy(const struct conf *, char *, size_t);

#endif /* OPS_H */
