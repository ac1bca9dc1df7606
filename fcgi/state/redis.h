#ifndef REDIS_H
#define REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>
#include <json-c/json.h>

#include "lib/limits.h"

struct conf;

/* Where "redis.url" points: a TCP host and port, or a Unix socket. */
struct redis_addr {
	char	 host[LIM_REDIS_HOST];	/* host name, or "" for a socket */
	int	 port;			/* TCP port */
	char	 sock[LIM_PATH];	/* Unix socket path, or "" */
	int	 db;			/* SELECTed database */
};

int	 redis_parse_url(const char *, struct redis_addr *, char *, size_t);
int	 redis_check(json_object *, char *, size_t);
void	 redis_setup(const struct conf *);
int	 redis_on(void);
int	 redis_ping(char *, size_t);
redisReply *redis_cmd(const char *, ...);
redisReply *redis_argv(int, const char **, const size_t *);
int	 redis_key(char *, size_t, const char *, const char *);
const char *redis_consumer(void);
int	 redis_lock(const char *, long, long, char *, size_t);
void	 redis_unlock(const char *, const char *);
void	 redis_free(void);
void	 redis_thread_end(void);

#endif /* REDIS_H */
