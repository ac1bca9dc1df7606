#ifndef USERS_H
#define USERS_H

#include <json-c/json.h>

#include "lib/limits.h"

struct conf;

/* The outcome of turning usernames into one kind of contact. */
struct users_res {
	json_object	*contacts;	/* owned: usable contacts, in order */
	json_object	*users;		/* owned: the username of each contact */
	json_object	*invalid;	/* owned: names the directory lacks */
	json_object	*unusable;	/* owned: names with a bad contact */
	json_object	*found;		/* owned: name -> directory entry */
	char		 fragments[LIM_MESSAGE]; /* contract 2.5 fragments */
	char		 error[LIM_MESSAGE]; /* directory failure text */
};

int	 users_resolve(const struct conf *, json_object *, const char *,
	    struct users_res *);
void	 users_res_free(struct users_res *);
int	 users_valid(const char *, const char *);
void	 users_free(void);

#endif /* USERS_H */
