/*
 * libFuzzer: a bk-cmsi v1 request as the adapter reads it.  The input
 * is the X-Bkapi-Authorization header, the Content-Type, then the body,
 * separated by newlines.  The body is parsed as req_parse does for
 * that type, the header as auth_creds does, then every operation's
 * body mapping, named template, schema and answer document run, as
 * v1_serve would for that body on each path.
 */
#include <fcgiapp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "check.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/request.h"
#include "core/tmplset.h"
#include "named.h"
#include "route.h"
#include "v1.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct conf	 fz_conf;

/* Every operation of the dialect, as a caller names it. */
static const char *const fz_paths[] = {
	"/v1/send_mail/", "/v1/send_sms/", "/v1/send_weixin/",
	"/v1/send_voice/", "/v1/send_rtx/", "/v1/channels/",
	"/api/bk-cmsi/prod/v1/send_mail/", NULL
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_conf.schemas_dir = (char *)(uintptr_t)"conf/schemas";
	if (check_init(&fz_conf) == -1 || tmplset_load("templates") == -1)
		abort();
	return 0;
}

/* Cuts the next line off *p (n bytes left) into a NUL-ended copy. */
static char *
line(const uint8_t **p, size_t *n)
{
	const uint8_t	*nl;
	size_t		 k;
	char		*s;

	nl = memchr(*p, '\n', *n);
	k = nl != NULL ? (size_t)(nl - *p) : *n;
	s = malloc(k + 1);
	if (s == NULL)
		abort();
	memcpy(s, *p, k);
	s[k] = '\0';
	*p += k + (nl != NULL);
	*n -= k + (nl != NULL);
	return s;
}

static void
one(const char *path, struct req *r)
{
	const struct v1_op	*op;
	struct reply		 rp;
	json_object		*mapped, *params = NULL, *doc;
	int			 status;
	size_t			 asked = 0;

	if ((op = v1_find("POST", path)) == NULL)
		return;
	reply_init(&rp);
	mapped = v1_map(op, r->params);
	if (op->component != NULL &&
	    named_apply(op->component, mapped, &rp) == 0 &&
	    check_params(op->component, mapped, &params, &rp) == 0)
		asked = v1_asked(params);
	doc = v1_doc(op, params != NULL ? V1_RUN : V1_PARAMS, &rp, asked,
	    r->id, &status);
	json_object_put(doc);
	json_object_put(params);
	json_object_put(mapped);
	reply_free(&rp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	FCGX_Request	 fr;
	struct req	 r;
	struct reply	 rp;
	json_object	*creds;
	char		*auth, *ctype, *env[4], e1[4200], e2[300];
	size_t		 i;

	auth = line(&data, &n);
	ctype = line(&data, &n);
	snprintf(e1, sizeof(e1), "HTTP_X_BKAPI_AUTHORIZATION=%.4096s", auth);
	snprintf(e2, sizeof(e2), "CONTENT_TYPE=%.256s", ctype);
	env[0] = e1;
	env[1] = e2;
	env[2] = (char *)(uintptr_t)"REQUEST_METHOD=POST";
	env[3] = NULL;
	memset(&fr, 0, sizeof(fr));
	fr.envp = env;
	memset(&r, 0, sizeof(r));
	r.fr = &fr;
	memcpy(r.method, "POST", 5);
	memcpy(r.id, "00000000000000000000000000000000", 33);
	r.query = "";
	r.body = malloc(n + 1);
	if (r.body == NULL)
		abort();
	memcpy(r.body, data, n);
	r.body[n] = '\0';
	r.bodylen = n;
	req_parse(&r);
	reply_init(&rp);
	creds = auth_creds(&r, &rp);
	json_object_put(creds);
	reply_free(&rp);
	if (!r.bad_json)
		for (i = 0; fz_paths[i] != NULL; i++)
			one(fz_paths[i], &r);
	req_free(&r);
	free(auth);
	free(ctype);
	return 0;
}
