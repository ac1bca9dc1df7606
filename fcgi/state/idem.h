#ifndef IDEM_H
#define IDEM_H

#include <json-c/json.h>

#include "lib/limits.h"

struct conf;
struct ctx;
struct reply;

/* One request's idempotency record, locked while the request runs. */
struct idem {
	int		 fd;		/* owned: the locked record, -1 none */
	int		 held;		/* a record is locked for this request */
	int		 redis;		/* it is in Redis, not in a file */
	char		 lock[40];	/* the Redis lock's holder token */
	char		 dir[LIM_PATH];	/* <state_dir>/idem */
	char		 name[80];	/* the record's file name */
	char		 hash[65];	/* the request's fingerprint, hex */
	long		 ttl;		/* seconds the answer is kept */
};

int	 idem_begin(struct ctx *, struct idem *, struct reply *);
void	 idem_end(struct idem *, const struct ctx *, const struct reply *);
void	 idem_settle(const struct conf *, json_object *, int);
int	 idem_check(json_object *, char *, size_t);
void	 idem_clean(const struct conf *);

#endif /* IDEM_H */
