#ifndef JSONERR_H
#define JSONERR_H

#include <stddef.h>

#include <json-c/json.h>

json_object	*jsonerr_parse_object(const char *, size_t, char *, size_t);

#endif /* JSONERR_H */
