#ifndef RSPOOL_H
#define RSPOOL_H

#include <stdio.h>

#include <json-c/json.h>

struct conf;

int	 rspool_put(json_object *);
json_object *rspool_find(const char *);
int	 rspool_due(void);
int	 rspool_drain(const struct conf *, size_t, FILE *);

#endif /* RSPOOL_H */
