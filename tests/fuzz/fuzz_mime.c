/*
 * libFuzzer: the MIME builder fed hostile parts.  The input is, one per
 * line: the subject, the sender, To, Cc, an attachment's file name,
 * its type, its content id, then the body (also the attachment's
 * content).  Whatever they hold, the message must come out as one
 * header section of known fields (a caller may never add a header),
 * CRLF line ends only, and no line over RFC 5322's 998 octets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The top-level header fields mime_build writes. */
static const char *const fz_fields[] = {
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding", NULL
};

static char *
line(const uint8_t **p, size_t *n)
{
	const uint8_t	*nl;
	size_t		 k;
	char		*s;

	nl = memchr(*p, '\n', *n);
	k = nl != NULL ? (size_t)(nl - *p) : *n;
	if ((s = malloc(k + 1)) == NULL)
		abort();
	memcpy(s, *p, k);
	s[k] = '\0';
	*p += k + (nl != NULL);
	*n -= k + (nl != NULL);
	return s;
}

/* The checks a mail reader (and an SMTP server) relies on. */
static void
check(const char *m, size_t len)
{
	const char	*p, *eol, *end = m + len;
	size_t		 i, k;
	int		 in_head = 1;

	for (p = m; p < end; p = eol + 2) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		/* Every LF ends a CRLF. */
		if (eol == p || eol[-1] != '\r')
			abort();
		eol--;
		if ((size_t)(eol - p) > 998)
			abort();
		if (memchr(p, '\r', (size_t)(eol - p)) != NULL)
			abort();
		if (!in_head)
			continue;
		if (eol == p) {
			in_head = 0;
			continue;
		}
		if (*p == ' ' || *p == '\t')
			continue;
		for (i = 0; fz_fields[i] != NULL; i++) {
			k = strlen(fz_fields[i]);
			if ((size_t)(eol - p) > k && p[k] == ':' &&
			    strncasecmp(p, fz_fields[i], k) == 0)
				break;
		}
		if (fz_fields[i] == NULL)
			abort();	/* a header nobody asked for */
	}
	if (in_head)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct mail	 m;
	struct buf	 out;
	json_object	*to, *cc, *atts, *a;
	char		*subj, *from, *t, *c, *fname, *type, *cid, *body;

	subj = line(&data, &n);
	from = line(&data, &n);
	t = line(&data, &n);
	c = line(&data, &n);
	fname = line(&data, &n);
	type = line(&data, &n);
	cid = line(&data, &n);
	if ((body = malloc(n + 1)) == NULL)
		abort();
	memcpy(body, data, n);
	body[n] = '\0';
	to = json_object_new_array();
	json_object_array_add(to, json_object_new_string(t));
	cc = json_object_new_array();
	json_object_array_add(cc, json_object_new_string(c));
	atts = json_object_new_array();
	a = json_object_new_object();
	json_object_object_add(a, "filename", json_object_new_string(fname));
	json_object_object_add(a, "content",
	    json_object_new_string_len((const char *)data, (int)n));
	json_object_object_add(a, "type", json_object_new_string(type));
	json_object_object_add(a, "content_id", json_object_new_string(cid));
	json_object_array_add(atts, a);
	memset(&m, 0, sizeof(m));
	m.from = from;
	m.to = to;
	m.cc = cc;
	m.subject = subj;
	m.body = body;
	m.html = n > 0 && (data[0] & 1);
	m.attachments = atts;
	m.msgid_seed = "00000000000000000000000000000000";
	buf_init(&out, LIM_MAIL);
	/* Refusing hostile input is fine; what is built must be sound. */
	if (memchr(data, '\0', n) == NULL && mime_build(&m, &out) == 0 &&
	    out.ptr != NULL)
		check(out.ptr, out.len);
	buf_free(&out);
	json_object_put(to);
	json_object_put(cc);
	json_object_put(atts);
	free(subj);
	free(from);
	free(t);
	free(c);
	free(fname);
	free(type);
	free(cid);
	free(body);
	return 0;
}
