/*
 * The response envelope of contract section 4: HTTP 200 with
 * {result, code, message, data, request_id} as raw UTF-8 JSON, except
 * for the few protocol-level documents (404, 413).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "lib/limits.h"
#include "lib/util.h"

void
reply_init(struct reply *rp)
{
	memset(rp, 0, sizeof(*rp));
	rp->status = 200;
	rp->code = CODE_COMMON;
}

void
reply_free(struct reply *rp)
{
	free(rp->message);
	json_object_put(rp->data);
	json_object_put(rp->extra);
	json_object_put(rp->payload);
	json_object_put(rp->audit);
	free(rp->raw);
	memset(rp, 0, sizeof(*rp));
}

static void
reply_vset(struct reply *rp, int result, long code, const char *fmt,
    va_list ap)
{
	char	 msg[LIM_MESSAGE];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	free(rp->message);
	rp->message = xstrdup(msg);
	rp->result = result;
	rp->code = code;
}

void
reply_ok(struct reply *rp, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	reply_vset(rp, 1, CODE_OK, fmt, ap);
	va_end(ap);
}

void
reply_fail(struct reply *rp, long code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	reply_vset(rp, 0, code, fmt, ap);
	va_end(ap);
}

/* Replaces data; takes ownership of d. */
void
reply_data(struct reply *rp, json_object *d)
{
	json_object_put(rp->data);
	rp->data = d;
}

/*
 * Builds the envelope document (caller puts it).  A dest_url payload is
 * kept as the third party sent it, with defaults filled in and our
 * request_id laid over it, as ESB's format_resp_dict does.
 */
json_object *
reply_doc(const struct reply *rp, const char *request_id)
{
	json_object	*doc, *v;

	if (rp->payload != NULL) {
		/* deep_copy wants *dst NULL and fails on exotic objects. */
		doc = NULL;
		if (json_object_deep_copy(rp->payload, &doc, NULL) != 0)
			doc = json_object_new_object();
		if (!json_object_object_get_ex(doc, "result", &v))
			json_object_object_add(doc, "result",
			    json_object_new_boolean(0));
		json_object_object_get_ex(doc, "result", &v);
		if (!json_object_object_get_ex(doc, "code", NULL))
			json_object_object_add(doc, "code",
			    json_object_new_int(json_object_get_boolean(v) ?
			    CODE_OK : CODE_COMMON));
		if (!json_object_object_get_ex(doc, "message", NULL))
			json_object_object_add(doc, "message",
			    json_object_new_string(""));
		if (!json_object_object_get_ex(doc, "data", NULL))
			json_object_object_add(doc, "data", NULL);
	} else {
		doc = json_object_new_object();
		json_object_object_add(doc, "result",
		    json_object_new_boolean(rp->result));
		json_object_object_add(doc, "code",
		    json_object_new_int64(rp->code));
		json_object_object_add(doc, "message", json_object_new_string(
		    rp->message != NULL ? rp->message : ""));
		json_object_object_add(doc, "data", json_object_get(rp->data));
	}
	if (rp->extra != NULL) {
		json_object_object_foreach(rp->extra, k, ev)
			json_object_object_add(doc, k, json_object_get(ev));
	}
	if (!rp->no_request_id && request_id != NULL)
		json_object_object_add(doc, "request_id",
		    json_object_new_string(request_id));
	return doc;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 413:
		return "Payload Too Large";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

/*
 * Headers and body.  libfcgi's own printf knows no %zu, so the header
 * block is formatted here.  Returns 0, or -1 if the peer went away.
 */
static int
put(FCGX_Stream *out, int status, const char *type, const char *body)
{
	char	 hdr[512];
	int	 n;

	n = snprintf(hdr, sizeof(hdr), "Status: %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "X-Content-Type-Options: nosniff\r\n\r\n", status,
	    status_text(status), type, strlen(body));
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return -1;
	if (FCGX_PutStr(hdr, n, out) < 0 || FCGX_PutS(body, out) < 0)
		return -1;
	return 0;
}

/* Writes the whole response.  Returns 0, or -1 if the peer went away. */
int
env_write(FCGX_Stream *out, const struct reply *rp, const char *request_id)
{
	json_object	*doc;
	const char	*s;
	int		 rc;

	if (rp->raw != NULL)
		return put(out, rp->status, rp->raw_type, rp->raw);
	doc = reply_doc(rp, request_id);
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = put(out, rp->status, "application/json; charset=utf-8", s);
	json_object_put(doc);
	return rc;
}

/*
 * The protocol-level documents of contract 1.3: no code, no request_id.
 */
int
env_status(FCGX_Stream *out, int status, const char *message)
{
	json_object	*doc;
	int		 rc;

	doc = json_object_new_object();
	json_object_object_add(doc, "result", json_object_new_boolean(0));
	json_object_object_add(doc, "data", NULL);
	json_object_object_add(doc, "message", json_object_new_string(message));
	rc = put(out, status, "application/json; charset=utf-8",
	    json_object_to_json_string_ext(doc, JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return rc;
}

/* The contract's answer when a component fails inside. */
void
reply_component_error(struct reply *rp)
{
	reply_fail(rp, CODE_COMMON, "Component error, please contact the "
	    "component developer to handle it.");
}
