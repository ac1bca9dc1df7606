#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>

struct buf;
struct conf;

/* Channels an upstream call or a delivery is counted under. */
enum metrics_chan {
	MC_SMTP, MC_WECOM, MC_MP, MC_QCLOUD, MC_DIRECTORY, MC_OTHER, MC__MAX
};

int	 metrics_open(const char *, char *, size_t);
void	 metrics_close(void);
void	 metrics_request(const char *, int, long, long);
void	 metrics_delivery(const char *, const char *);
void	 metrics_upstream(enum metrics_chan, double, int);
enum metrics_chan metrics_chan_of(const char *);
void	 metrics_token(const char *, int);
void	 metrics_reload(int);
void	 metrics_audit_failed(void);
void	 metrics_redis_down(void);
long long metrics_audit_failed_at(void);
void	 metrics_render(struct buf *);

#endif /* METRICS_H */
