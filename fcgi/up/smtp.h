#ifndef SMTP_H
#define SMTP_H

#include <stddef.h>

#include <curl/curl.h>
#include <json-c/json.h>

struct conf;

#define SMTP_ADDR	321		/* an envelope address and its NUL */

/* One message for one SMTP transaction. */
struct smtp_msg {
	const char	*id;		/* borrowed: request_id, for logs */
	const char	*from;		/* borrowed: envelope sender addr-spec */
	const char *const *rcpt;	/* borrowed: nrcpt envelope addr-specs */
	size_t		 nrcpt;
	const char	*data;		/* borrowed: RFC 5322 bytes, CRLF */
	size_t		 len;
};

/* What the server said about it. */
struct smtp_res {
	int		 sent;		/* the server took the message */
	CURLcode	 cc;		/* libcurl's verdict of the last try */
	long		 code;		/* last SMTP reply code, 0 if none */
	char		 status[16];	/* its enhanced status ("5.1.1"), "" */
	int		*rcpt_code;	/* owned: RCPT reply per recipient, 0 none */
	int		 reused;	/* the connection came from a former send */
	int		 retried;	/* a dead reused connection was retried */
};

int	 smtp_send(const struct conf *, json_object *, const struct smtp_msg *,
	    struct smtp_res *);
void	 smtp_res_free(struct smtp_res *);
int	 smtp_addr(const char *, char *, size_t);

#endif /* SMTP_H */
