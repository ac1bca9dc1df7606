#ifndef ENVELOPE_H
#define ENVELOPE_H

#include <fcgiapp.h>
#include <json-c/json.h>

/* The ESB error codes a caller can see (contract 4.4). */
#define CODE_OK			0
#define CODE_COMMON		1306000
#define CODE_THIRD_PARTY	1306201
#define CODE_SSL		1306203
#define CODE_APP_PERM		1306403
#define CODE_NOT_FOUND_COMP	1306404
#define CODE_INACTIVE		1306405
#define CODE_ARGUMENT		1306406

/* What a component answers; turned into the envelope by env_write. */
struct reply {
	int		 result;	/* 1 success, 0 failure */
	long		 code;		/* 0 or 1306xxx */
	char		*message;	/* owned: "" until set */
	json_object	*data;		/* owned: NULL is JSON null */
	json_object	*extra;		/* owned: more top-level keys, or NULL */
	json_object	*payload;	/* owned: a verbatim dest_url answer */
	json_object	*audit;		/* owned: recipients for the audit log */
	int		 no_request_id;	/* middleware-level error: no id */
	int		 status;	/* HTTP status, 200 unless told */
	char		*raw;		/* owned: a non-JSON body, or NULL */
	const char	*raw_type;	/* borrowed literal: its Content-Type */
};

void	 reply_init(struct reply *);
void	 reply_free(struct reply *);
void	 reply_ok(struct reply *, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
void	 reply_fail(struct reply *, long, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
void	 reply_data(struct reply *, json_object *);
void	 reply_component_error(struct reply *);
json_object *reply_doc(const struct reply *, const char *);
int	 env_write(FCGX_Stream *, const struct reply *, const char *);
int	 env_status(FCGX_Stream *, int, const char *);

#endif /* ENVELOPE_H */
