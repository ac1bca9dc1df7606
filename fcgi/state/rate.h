#ifndef RATE_H
#define RATE_H

#include <json-c/json.h>

struct conf;
struct ctx;
struct reply;

/* What an answer over the limit starts with; v1 turns it into a 429. */
#define RATE_SAID	"Rate limit exceeded"

/* A "rate_limit": {"per_second": r, "burst": b}, as GCRA sees it. */
struct rate_spec {
	long long	 interval;	/* microseconds between two requests */
	long long	 tolerance;	/* microseconds of burst allowed */
	double		 per_second;	/* as configured */
	long		 burst;		/* as configured, or its default */
};

int	 rate_check(json_object *, char *, size_t);
int	 rate_spec(json_object *, struct rate_spec *);
long long rate_gcra(long long, long long, const struct rate_spec *,
	    long long *);
int	 rate_take(const struct conf *, const char *, const char *,
	    json_object *, long *);
int	 rate_app(const struct ctx *, struct reply *);
int	 rate_comp(const struct ctx *, long *);
int	 rate_admit(const struct ctx *, int, long *, struct reply *);
void	 rate_refuse(const struct ctx *, struct reply *, const char *,
	    json_object *, long);

#endif /* RATE_H */
