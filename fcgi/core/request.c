/*
 * The front line: CGI variables, the body under a cap, and the ESB
 * rules that turn a GET query or a POST body into one parameter object
 * (contract 2.1-2.2).  Nothing here trusts what it reads.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "lib/util.h"
#include "request.h"

const char *
req_env(const struct req *r, const char *name)
{
	return FCGX_GetParam(name, r->fr->envp);
}

/* A fresh request_id: a uuid4's 128 random bits as 32 hex digits. */
void
req_new_id(char id[33])
{
	static const char	 hex[] = "0123456789abcdef";
	static uint32_t		 n;	/* atomic */
	unsigned char		 b[16];
	struct timespec		 ts;
	uint64_t		 t;
	uint32_t		 k[2];
	size_t			 i;

	/*
	 * GnuTLS's nonce generator: in-process, reseeded after a fork, no
	 * system call per request.  Should both it and the kernel's fail,
	 * the id still names files: the clock, the pid and a count.
	 */
	if (gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof(b)) != 0 &&
	    getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		t = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
		k[0] = __atomic_add_fetch(&n, 1, __ATOMIC_RELAXED);
		k[1] = (uint32_t)getpid();
		memcpy(b, &t, sizeof(t));
		memcpy(b + 8, k, sizeof(k));
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	for (i = 0; i < sizeof(b); i++) {
		id[2 * i] = hex[b[i] >> 4];
		id[2 * i + 1] = hex[b[i] & 0xf];
	}
	id[32] = '\0';
}

/*
 * A body sent without CONTENT_LENGTH (a front end passing a chunked
 * upload on as it came) is read to its end, under the same cap.
 */
static int
read_to_end(struct req *r, FCGX_Request *fr, size_t max)
{
	size_t	 size = 0;
	int	 k;

	for (;;) {
		if (r->bodylen == size) {
			if (size > max)
				return 413;
			size = size == 0 ? 4096 : size * 2;
			r->body = xrealloc(r->body, size + 1);
		}
		k = FCGX_GetStr(r->body + r->bodylen,
		    (int)(size - r->bodylen), fr->in);
		if (k <= 0)
			break;
		r->bodylen += (size_t)k;
	}
	if (r->bodylen > max)
		return 413;
	if (r->body != NULL)
		r->body[r->bodylen] = '\0';
	return 0;
}

/*
 * Fills method, path and query, then reads the body.  Returns 0, or the
 * HTTP status to answer with: 413 when CONTENT_LENGTH passes max, 400
 * when it is malformed or the body ends early.
 */
int
req_read(struct req *r, FCGX_Request *fr, size_t max)
{
	const char	*m, *uri, *q, *cl, *sn, *pi;
	long long	 n;
	size_t		 plen, sl;
	int		 k;

	memset(r, 0, sizeof(*r));
	r->fr = fr;
	req_new_id(r->id);
	m = req_env(r, "REQUEST_METHOD");
	if (m == NULL || str_copy(r->method, m, sizeof(r->method)) == -1)
		r->method[0] = '\0';
	uri = req_env(r, "REQUEST_URI");
	if (uri == NULL)
		uri = "";
	q = strchr(uri, '?');
	plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
	/*
	 * Reached through the executable's own name (an .htaccess rewrite
	 * onto cmsi.fcgi/api/..., perhaps below a user's directory), the
	 * route is what follows it: PATH_INFO.  Through an Alias or a
	 * location the whole REQUEST_URI is the route.
	 */
	sn = req_env(r, "SCRIPT_NAME");
	pi = req_env(r, "PATH_INFO");
	if (sn != NULL && pi != NULL && *pi == '/' &&
	    (sl = strlen(sn)) >= 5 && strcmp(sn + sl - 5, ".fcgi") == 0) {
		uri = pi;
		plen = strlen(pi);
	}
	if (plen >= sizeof(r->path))
		plen = 0;
	memcpy(r->path, uri, plen);
	r->path[plen] = '\0';
	r->query = req_env(r, "QUERY_STRING");
	if (r->query == NULL)
		r->query = q != NULL ? q + 1 : "";

	cl = req_env(r, "CONTENT_LENGTH");
	if (cl == NULL || *cl == '\0')
		return read_to_end(r, fr, max);
	if (num_parse(cl, 0, 0x7fffffffffffLL, &n) == -1)
		return 400;
	if ((unsigned long long)n > max)
		return 413;
	r->body = xmalloc((size_t)n + 1);
	while (r->bodylen < (size_t)n) {
		k = FCGX_GetStr(r->body + r->bodylen,
		    (int)((size_t)n - r->bodylen), fr->in);
		if (k <= 0)
			break;
		r->bodylen += (size_t)k;
	}
	r->body[r->bodylen] = '\0';
	if (r->bodylen != (size_t)n)
		return 400;
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Makes s (n bytes) valid UTF-8 by replacing each bad byte with U+FFFD,
 * as Django does when it decodes form data.  Caller frees.
 */
static char *
utf8_fix(const char *s, size_t n)
{
	char		*out;
	size_t		 i, o = 0, k;

	out = xmalloc(n * 3 + 1);
	for (i = 0; i < n; ) {
		for (k = 1; k <= 4 && i + k <= n; k++)
			if (utf8_valid(s + i, k))
				break;
		if (k <= 4 && i + k <= n) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

/* Decodes one urlencoded token ('+' is a space).  Caller frees. */
static char *
url_decode(const char *s, size_t n)
{
	char	*tmp, *out;
	size_t	 i, o = 0;
	int	 hi, lo;

	tmp = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			tmp[o++] = ' ';
		else if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval((unsigned char)s[i + 1])) != -1 &&
		    (lo = hexval((unsigned char)s[i + 2])) != -1) {
			tmp[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			tmp[o++] = s[i];
	}
	out = utf8_fix(tmp, o);
	free(tmp);
	return out;
}

/*
 * Parses a=b&c=d into an object of strings; a key seen twice keeps its
 * last value, as Django's QueryDict.items() does.  Also used for
 * urlencoded POST bodies.
 */
json_object *
req_parse_query(const char *s, size_t n)
{
	json_object	*o = json_object_new_object();
	const char	*p = s, *end = s + n, *amp, *eq;
	char		*k, *v;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp > p) {
			eq = memchr(p, '=', (size_t)(amp - p));
			if (eq == NULL)
				eq = amp;
			k = url_decode(p, (size_t)(eq - p));
			v = eq < amp ? url_decode(eq + 1,
			    (size_t)(amp - eq - 1)) : xstrdup("");
			if (*k != '\0')
				json_object_object_add(o, k,
				    json_object_new_string(v));
			free(k);
			free(v);
		}
		p = amp + 1;
	}
	return o;
}

static const char *
memmem_s(const char *h, size_t hn, const char *n, size_t nn)
{
	return memmem(h, hn, n, nn);
}

/*
 * The text fields of a multipart/form-data body (file parts are not
 * parameters, as in Django's request.POST).  ctype is the Content-Type
 * holding the boundary.  Returns an object, empty when unparseable.
 */
json_object *
req_parse_multipart(const char *body, size_t n, const char *ctype)
{
	json_object	*o = json_object_new_object();
	const char	*b, *p, *end = body + n, *hdr_end, *next, *nm, *q;
	char		 delim[128];
	size_t		 dlen, blen;
	char		*name, *val;

	b = strstr(ctype, "boundary=");
	if (b == NULL)
		return o;
	b += strlen("boundary=");
	if (*b == '"')
		b++;
	blen = strcspn(b, "\";, ");
	if (blen == 0 || blen > 70)
		return o;
	dlen = (size_t)snprintf(delim, sizeof(delim), "--%.*s", (int)blen, b);
	p = memmem_s(body, n, delim, dlen);
	while (p != NULL) {
		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		hdr_end = memmem_s(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (hdr_end == NULL)
			break;
		next = memmem_s(hdr_end + 4, (size_t)(end - hdr_end - 4),
		    delim, dlen);
		if (next == NULL)
			break;
		nm = memmem_s(p, (size_t)(hdr_end - p), "name=\"", 6);
		if (nm != NULL && memmem_s(p, (size_t)(hdr_end - p),
		    "filename=", 9) == NULL) {
			nm += 6;
			q = memchr(nm, '"', (size_t)(hdr_end - nm));
			if (q != NULL) {
				const char	*vs = hdr_end + 4, *ve = next;

				if (ve - vs >= 2 && ve[-2] == '\r' &&
				    ve[-1] == '\n')
					ve -= 2;
				name = utf8_fix(nm, (size_t)(q - nm));
				val = utf8_fix(vs, (size_t)(ve - vs));
				if (*name != '\0')
					json_object_object_add(o, name,
					    json_object_new_string(val));
				free(name);
				free(val);
			}
		}
		p = next;
	}
	return o;
}

/*
 * Turns the request into its parameter object.  GET: the query string.
 * POST: the body as JSON when, stripped, it starts with '{' (whatever
 * the Content-Type), else as form data.  A '{' body that does not
 * parse sets bad_json and leaves the parameters empty.
 */
void
req_parse(struct req *r)
{
	const char	*ct, *p;
	size_t		 n;

	r->qparams = req_parse_query(r->query, strlen(r->query));
	if (strcmp(r->method, "POST") != 0) {
		r->params = json_object_get(r->qparams);
		return;
	}
	p = r->body != NULL ? r->body : "";
	n = r->bodylen;
	while (n > 0 && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	if (n > 0 && *p == '{') {
		r->params = jv_parse(p, n);
		if (r->params == NULL ||
		    !json_object_is_type(r->params, json_type_object)) {
			json_object_put(r->params);
			r->params = json_object_new_object();
			r->bad_json = 1;
		}
		return;
	}
	ct = req_env(r, "CONTENT_TYPE");
	if (ct != NULL && strncasecmp(ct, "multipart/form-data", 19) == 0)
		r->params = req_parse_multipart(r->body != NULL ? r->body : "",
		    r->bodylen, ct);
	else
		r->params = req_parse_query(r->body != NULL ? r->body : "",
		    r->bodylen);
}

void
req_free(struct req *r)
{
	json_object_put(r->params);
	json_object_put(r->qparams);
	free(r->body);
	r->params = r->qparams = NULL;
	r->body = NULL;
}

/* Django's "empty values": None, "", [], {}. */
int
req_empty(json_object *v)
{
	if (v == NULL)
		return 1;
	switch (json_object_get_type(v)) {
	case json_type_string:
		return json_object_get_string_len(v) == 0;
	case json_type_array:
		return json_object_array_length(v) == 0;
	case json_type_object:
		return json_object_object_length(v) == 0;
	default:
		return 0;
	}
}

/*
 * Python's text form of a scalar, as Django's CharField produces it
 * (True, False, 1, 1.5).  Returns a new string object, or NULL for an
 * empty value.
 */
json_object *
req_text(json_object *v)
{
	if (req_empty(v))
		return NULL;
	switch (json_object_get_type(v)) {
	case json_type_string:
		return json_object_get(v);
	case json_type_boolean:
		return json_object_new_string(json_object_get_boolean(v) ?
		    "True" : "False");
	default:
		return json_object_new_string(json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
}

/*
 * ESB's ListField: a list is kept as it is; a string holding a JSON
 * list is that list; anything else is text split on comma, semicolon,
 * CR, LF and space.  Returns a new array (possibly empty).
 */
json_object *
req_list(json_object *v)
{
	json_object	*out, *parsed, *t;
	const char	*s, *p;
	size_t		 n, len;

	if (v == NULL || json_object_is_type(v, json_type_null))
		return json_object_new_array();
	if (json_object_is_type(v, json_type_array))
		return json_object_get(v);
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		p = s;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '[') {
			parsed = jv_parse(s, n);
			if (parsed != NULL && json_object_is_type(parsed,
			    json_type_array))
				return parsed;
			json_object_put(parsed);
		}
		t = json_object_get(v);
	} else
		t = req_text(v);
	out = json_object_new_array();
	if (t == NULL)
		return out;
	s = json_object_get_string(t);
	for (p = s; *p != '\0'; p += len) {
		len = strcspn(p, ",;\n\r ");
		if (len == 0) {
			len = 1;
			continue;
		}
		json_object_array_add(out, json_object_new_string_len(p,
		    (int)len));
	}
	json_object_put(t);
	return out;
}

/*
 * ESB's DefaultBooleanField: empty is false; a string is false only if,
 * stripped and lower-cased, it is "0" or "false"; other values by their
 * truth.
 */
int
req_bool(json_object *v)
{
	const char	*s;
	size_t		 n;

	if (req_empty(v) && !json_object_is_type(v, json_type_array) &&
	    !json_object_is_type(v, json_type_object))
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_string:
		s = json_object_get_string(v);
		while (isspace((unsigned char)*s))
			s++;
		n = strlen(s);
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		if ((n == 1 && s[0] == '0') ||
		    (n == 5 && strncasecmp(s, "false", 5) == 0))
			return 0;
		return n > 0;
	case json_type_boolean:
		return json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) != 0;
	case json_type_double:
		return json_object_get_double(v) != 0.0;
	case json_type_array:
		return json_object_array_length(v) > 0;
	case json_type_object:
		return json_object_object_length(v) > 0;
	default:
		return 0;
	}
}
