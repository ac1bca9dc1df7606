#ifndef SPOOL_H
#define SPOOL_H

#include <stdio.h>
#include <time.h>

#include <json-c/json.h>

struct conf;
struct ctx;
struct reply;
struct route;

int	 spool_on(const struct ctx *);
void	 spool_run(const struct route *, struct ctx *, struct reply *,
	    const char *);
void	 spool_defer(struct ctx *, struct reply *, const char *, long);
int	 spool_due(const struct conf *);
time_t	 spool_item(const struct conf *, const char *, const char *, FILE *,
	    int *);
int	 spool_drain(const struct conf *, size_t, long, FILE *);
int	 spool_check(json_object *, char *, size_t);
int	 spool_write(const char *, const char *, const void *, size_t, int);
const char *spool_success(const char *);
json_object *spool_read(int, size_t);
void	 spool_tmp_sweep(const char *, const char *);
json_object *spool_find(const struct conf *, const char *, int *);

#endif /* SPOOL_H */
