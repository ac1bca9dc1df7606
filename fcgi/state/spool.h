#ifndef SPOOL_H
#define SPOOL_H

#include <stdio.h>
#include <time.h>

#include <json-c/json.h>

struct conf;
struct ctx;
struct reply;

/* A component's handler, as the route table holds it. */
typedef void (*spool_hnd)(struct ctx *, struct reply *);

/*
 * The one deliberate reference up a layer: a retry re-runs its
 * component's handler, which lives above the spool.  main.c registers
 * the route table's lookup before anything drains; it gives the
 * handler of a name and that name as the table spells it, or NULL.
 */
void	 spool_lookup(spool_hnd (*)(const char *, const char **));
int	 spool_on(const struct ctx *, int);
void	 spool_run(spool_hnd, struct ctx *, struct reply *, const char *);
void	 spool_deliver(spool_hnd, struct ctx *, struct reply *, int, int, long,
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
long	 spool_backoff(long, long, long);

#endif /* SPOOL_H */
