#ifndef STORE_H
#define STORE_H

#include <stddef.h>

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
	    long, store_fetch_fn, void *, char *, size_t, long *);
int	 store_token_caller(const char *, const char *, const char *,
	    const char *, store_fetch_fn, void *, char *, size_t, long *);
int	 store_token_name(const char *, const char *, char *, size_t);
long	 store_margin(long);
int	 store_token_info(const char *, const char *, const char *,
	    long long *, long long *);
int	 store_token_drop(const char *, const char *, const char *);

#endif /* STORE_H */
