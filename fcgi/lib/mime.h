#ifndef MIME_H
#define MIME_H

#include <json-c/json.h>

#include "buf.h"

/*
 * A mail as a handler describes it.  Attachment objects carry
 * filename, content (already base64-decoded, may hold NULs: use
 * json_object_get_string_len), type, disposition, content_id.
 */
struct mail {
	const char	*from;		/* borrowed: "addr" or "Name <addr>" */
	json_object	*to;		/* borrowed: array of strings */
	json_object	*cc;		/* borrowed: array, or NULL */
	const char	*subject;	/* borrowed: UTF-8 */
	const char	*body;		/* borrowed: UTF-8 */
	int		 html;		/* body is HTML (else plain text) */
	json_object	*attachments;	/* borrowed: array, or NULL */
	const char	*msgid_seed;	/* borrowed: request_id */
};

int	 mime_build(const struct mail *, struct buf *);
char	*mime_addr(const char *);
const char *mime_type(const char *, const char *);

#endif /* MIME_H */
