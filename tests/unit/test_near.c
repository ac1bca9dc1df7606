/* near.c: edit distance and the "did you mean" pick. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/near.h"

static void
test_dist(void **state)
{
	(void)state;
	assert_int_equal(near_dist("smtp_host", "smtp_host"), 0);
	assert_int_equal(near_dist("smtp_hots", "smtp_host"), 1);
	assert_int_equal(near_dist("smtp_hst", "smtp_host"), 1);
	assert_int_equal(near_dist("smtp_hostt", "smtp_host"), 1);
	assert_int_equal(near_dist("", "abc"), 3);
	assert_int_equal(near_dist("ca", "abc"), 3);
	assert_int_equal(near_dist("kitten", "sitting"), 3);
}

static void
test_word(void **state)
{
	static const char *const keys[] = {
		"smtp_host", "smtp_port", "smtp_user", "smtp_pwd", NULL
	};
	char	 longw[200];

	(void)state;
	assert_string_equal(near_word("smtp_hots", keys), "smtp_host");
	assert_string_equal(near_word("smtp_prot", keys), "smtp_port");
	assert_string_equal(near_word("smtp_pw", keys), "smtp_pwd");
	/* Two letters are near every two-letter key: no guess. */
	assert_null(near_word("ab", keys));
	assert_null(near_word("zzzz", keys));
	/* The word itself is no suggestion. */
	assert_null(near_word("smtp_pwd", (const char *const []){ "smtp_pwd",
	    NULL }));
	memset(longw, 'a', sizeof(longw) - 1);
	longw[sizeof(longw) - 1] = '\0';
	assert_null(near_word(longw, keys));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dist),
		cmocka_unit_test(test_word),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
