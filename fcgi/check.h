#ifndef CHECK_H
#define CHECK_H

#include <json-c/json.h>

struct conf;
struct reply;

int	 check_init(const struct conf *);
void	 check_free(void);
int	 check_params(const char *, json_object *, json_object **,
	    struct reply *);
int	 check_request(const char *, json_object *, json_object **,
	    struct reply *);
json_object *check_coerce(json_object *, json_object *);
int	 check_has(const char *);

#endif /* CHECK_H */
