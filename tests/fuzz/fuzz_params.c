/*
 * libFuzzer: a request body through the front line (JSON, form and
 * multipart parsing), then every component's named template (a
 * "template" beside null or missing fields), coercion, schema and
 * error wording, as serve() runs them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/conf.h"
#include "core/envelope.h"
#include "core/request.h"
#include "core/tmplset.h"
#include "lib/util.h"
#include "named.h"
#include "route.h"

static struct conf	 fz_conf;

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

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

static void
one(json_object *params)
{
	const struct route	*rt;
	struct reply		 rp;
	json_object		*out;

	for (rt = route_table(); rt->name != NULL; rt++) {
		reply_init(&rp);
		if (named_apply(rt->name, params, &rp) == 0 &&
		    check_params(rt->name, params, &out, &rp) == 0)
			json_object_put(out);
		json_object_put(reply_doc(&rp, "0"));
		reply_free(&rp);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char	*s = (const char *)data;
	json_object	*p;

	p = jv_parse(s, n);
	if (p != NULL && json_object_is_type(p, json_type_object))
		one(p);
	json_object_put(p);
	p = req_parse_query(s, n);
	one(p);
	json_object_put(p);
	p = req_parse_multipart(s, n, "multipart/form-data; boundary=b");
	json_object_put(p);
	return 0;
}
