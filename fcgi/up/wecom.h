#ifndef WECOM_H
#define WECOM_H

#include <json-c/json.h>

struct ctx;
struct reply;

/* The WeCom application a message goes out as. */
struct wecom_app {
	const char	*corpid;	/* borrowed: config */
	const char	*secret;	/* borrowed: request or config */
	int		 caller;	/* the request supplied secret */
	long long	 agentid;
};

int	 wecom_app(json_object *, json_object *, struct wecom_app *,
	    struct reply *);
int	 wecom_agentid(const char *, long long *);
int	 wecom_token(struct ctx *, const struct wecom_app *, char *, size_t,
	    long *, struct reply *);
void	 wecom_send(struct ctx *, const struct wecom_app *, json_object *,
	    const char *, struct reply *);

#endif /* WECOM_H */
