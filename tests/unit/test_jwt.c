/*
 * Unit tests for jwt.c's edges that need no key: the length cap
 * (LIM_JWT, the byte just over) and header fields of the wrong type,
 * which are refused before any key is loaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lib/jwt.h"
#include "lib/limits.h"
#include "lib/util.h"

/*
 * header.e30.AAA... of exactly n bytes: the signature segment pads it,
 * as it is decoded only after the key is loaded.
 */
static char *
token_of(const char *hdr, size_t n)
{
	char	*h, *tok;
	size_t	 hl, k;

	b64_encode(hdr, strlen(hdr), 0, &h, &hl);
	/* base64url without padding, as a JWT has it */
	for (k = 0; k < hl; k++)
		h[k] = h[k] == '+' ? '-' : h[k] == '/' ? '_' : h[k];
	while (hl > 0 && h[hl - 1] == '=')
		h[--hl] = '\0';
	tok = xcalloc(1, n + 1);
	snprintf(tok, n + 1, "%s.e30.", h);
	memset(tok + hl + 5, 'A', n - hl - 5);
	free(h);
	return tok;
}

static void
test_length_cap(void **state)
{
	struct jwt_claims	 cl;
	char			 why[128], *t;
	size_t			 n;
	int			 at = 0, over = 0;

	(void)state;
	for (n = LIM_JWT; n <= LIM_JWT + 1; n++) {
		t = token_of("{\"alg\":\"RS512\",\"kid\":\"k\"}", n);
		if (strlen(t) == LIM_JWT || strlen(t) == LIM_JWT + 1) {
			assert_int_equal(jwt_verify("not a key", "k", t,
			    time(NULL), &cl, why, sizeof(why)), -1);
			/* At the cap it is read (and the key fails); over
			 * it, it is not read at all. */
			if (strlen(t) == LIM_JWT) {
				assert_string_equal(why,
				    "the gateway key is unusable");
				at = 1;
			} else {
				assert_string_equal(why, "not a JWT");
				over = 1;
			}
		}
		free(t);
	}
	assert_true(at && over);
}

static void
test_wrong_types(void **state)
{
	static const char *const hdrs[] = {
		"{\"alg\":null}", "{\"alg\":512}", "{\"alg\":[\"RS512\"]}",
		"{\"alg\":\"RS512\",\"kid\":null}",
		"{\"alg\":\"RS512\",\"kid\":{\"k\":1}}", "[1]", "\"x\"",
	};
	struct jwt_claims	 cl;
	char			 why[128], *t;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		t = token_of(hdrs[i], 200);
		assert_int_equal(jwt_verify("not a key", "k", t, time(NULL),
		    &cl, why, sizeof(why)), -1);
		assert_string_not_equal(why, "the gateway key is unusable");
		free(t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_length_cap),
		cmocka_unit_test(test_wrong_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
