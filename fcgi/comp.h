#ifndef COMP_H
#define COMP_H

#include <json-c/json.h>

#include "lib/limits.h"

struct ctx;
struct reply;

/* How a component delivers, decided by its config section. */
enum comp_mode {
	MODE_NONE,		/* nothing configured: "Unfinished interface" */
	MODE_OUTBOX,		/* "delivery": "outbox", the sandbox */
	MODE_FORWARD,		/* dest_url: ESB's forwarding */
	MODE_UPSTREAM,		/* the real service */
	MODE__MAX
};

/* Recipients after the receiver / *__username precedence rules. */
struct comp_rcpt {
	json_object	*list;		/* owned: contacts to deliver to */
	json_object	*users;		/* owned: usernames behind list, or NULL */
	json_object	*invalid;	/* owned: unknown usernames, or NULL */
	char		 fragments[LIM_MESSAGE]; /* users that failed, "" */
};

enum comp_mode comp_mode(json_object *, int);
int	 comp_upstream(const char *, json_object *);
int	 comp_remote(const char *, json_object *);
void	 comp_unfinished(struct reply *);
int	 comp_check_contacts(json_object *, const char *, const char *,
	    struct reply *);
int	 comp_recipients(struct ctx *, const char *, const char *,
	    const char *, struct comp_rcpt *, struct reply *);
void	 comp_rcpt_free(struct comp_rcpt *);
void	 comp_finish(struct reply *, const struct comp_rcpt *, const char *);
int	 comp_outbox(struct ctx *, const char *, const char *, const void *,
	    size_t, struct reply *);
int	 comp_outbox_json(struct ctx *, const char *, json_object *,
	    struct reply *);

#endif /* COMP_H */
