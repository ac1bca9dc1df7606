#ifndef WXMP_H
#define WXMP_H

#include <stddef.h>
#include <json-c/json.h>

struct ctx;
struct reply;

/* The Official Account a template message goes out from. */
struct wxmp_app {
	const char	*appid;		/* borrowed: config */
	const char	*secret;	/* borrowed: config */
	const char	*template_id;	/* borrowed: config or ESB's default */
	int		 stable;	/* stable_token, not cgi-bin/token */
};

/* One push to the server URL, as far as we read it. */
struct wxmp_event {
	char		 account[64];	/* ToUserName: the account's gh_ id */
	char		 openid[128];	/* FromUserName: the recipient */
	char		 msgtype[32];	/* MsgType: "event" */
	char		 event[64];	/* Event: "TEMPLATESENDJOBFINISH" */
	char		 msgid[32];	/* MsgID, as template/send gave it */
	char		 status[64];	/* Status: "success", "failed:..." */
	long long	 created;	/* CreateTime, unix seconds */
};

int	 wxmp_app(json_object *, struct wxmp_app *, struct reply *);
json_object *wxmp_data(json_object *, struct reply *);
int	 wxmp_token(struct ctx *, const struct wxmp_app *, char *, size_t,
	    long *, struct reply *);
void	 wxmp_send(struct ctx *, const struct wxmp_app *, json_object *,
	    json_object *, const char *, struct reply *);
int	 wxmp_signature(const char *, const char *, const char *, char [41]);
int	 wxmp_verify(const char *, const char *, const char *, const char *);
int	 wxmp_event(const char *, size_t, struct wxmp_event *);

#endif /* WXMP_H */
