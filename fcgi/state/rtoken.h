#ifndef RTOKEN_H
#define RTOKEN_H

#include <stddef.h>

#include "lib/limits.h"
#include "store.h"

#define RTOKEN_DOWN	-3	/* Redis did not answer: use the files */

/* What one token record in Redis says. */
struct rtoken_rec {
	char		 value[LIM_TOKEN + 1];	/* the token */
	long long	 expires;		/* unix time it stops working */
	long long	 fetched;		/* unix time it was fetched */
};

int	 rtoken_parse(const char *, size_t, struct rtoken_rec *);
int	 rtoken_get(const char *, const char *, const char *, long,
	    store_fetch_fn, void *, char *, size_t, long *);
int	 rtoken_info(const char *, struct store_info *);
int	 rtoken_drop(const char *, const char *);

#endif /* RTOKEN_H */
