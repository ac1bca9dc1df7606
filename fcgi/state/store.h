#ifndef STORE_H
#define STORE_H

#include <stddef.h>

#include "lib/limits.h"

/*
 * Fetches a fresh access token into out (outsz bytes) and its lifetime
 * in seconds into *ttl.  Returns 0, or -1 with the reason kept in arg.
 */
typedef int (*store_fetch_fn)(void *arg, char *out, size_t outsz,
    long *ttl);

#define STORE_OK	0	/* out holds a usable token */
#define STORE_FETCH	-1	/* the fetch failed: arg says why */
#define STORE_BUSY	-2	/* another process held the lock too long */

int	 store_token(const char *, const char *, const char *, const char *,
	    const char *, long, store_fetch_fn, void *, char *, size_t,
	    long *);
int	 store_token_caller(const char *, const char *, const char *,
	    const char *, store_fetch_fn, void *, char *, size_t, long *);
int	 store_token_name(const char *, const char *, char *, size_t);
/* What the console may know of a cached token: never the token. */
struct store_info {
	long long	 fetched;		/* unix time it was fetched */
	long long	 expires;		/* unix time it stops working */
	char		 why[LIM_TOKEN_WHY];	/* why it was fetched, or "" */
	int		 redis;			/* read from Redis */
};

int	 store_token_info(const char *, const char *, const char *,
	    struct store_info *);
int	 store_token_drop(const char *, const char *, const char *,
	    const char *);

#endif /* STORE_H */
