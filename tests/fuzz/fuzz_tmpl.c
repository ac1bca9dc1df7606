/*
 * libFuzzer: the first line of the input is a JSON context, the rest a
 * Mustache template with itself as its only partial; parsed and
 * rendered in every escaping mode under the output cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/tmpl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct tmpl *
self(void *arg, const char *name)
{
	(void)name;
	return arg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char	*s = (const char *)data, *nl;
	json_object	*ctx;
	struct tmpl	*t;
	struct buf	 b;
	char		 err[128], *js;
	int		 e;

	nl = memchr(s, '\n', n);
	if (nl == NULL)
		return 0;
	js = strndup(s, (size_t)(nl - s));
	ctx = js != NULL ? json_tokener_parse(js) : NULL;
	free(js);
	t = tmpl_parse(nl + 1, n - (size_t)(nl + 1 - s), err, sizeof(err));
	if (t != NULL) {
		for (e = 0; e < TMPL_ESC__MAX; e++) {
			buf_init(&b, 64 * 1024);
			(void)tmpl_render(t, ctx, (enum tmpl_esc)e, self, t, &b);
			buf_free(&b);
		}
		tmpl_free(t);
	}
	json_object_put(ctx);
	return 0;
}
