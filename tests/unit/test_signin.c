/*
 * The sign-in throttle (console/signin.c, cauth_throttle) against a
 * spray of made-up names: issue 32 row 2.  Once throttle.json would
 * pass its cap the whole record used to be reset, so a locked admin
 * was open again after failures under about 180 long names.  Now each
 * entry has a fixed size, expired entries go first, one address adds
 * a bounded number, and an active lock is never dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "console/console.h"
#include "lib/limits.h"

static char	 path[64];

static int
setup(void **state)
{
	int	 fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/cmsi-throttle-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd != -1);
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

/* A made-up name as a sprayer would pick: 63 bytes JSON writes as 6 each. */
static void
sprayed(int i, char *out, size_t outsz)
{
	char	 name[64];

	memset(name, 0x01, 63);
	name[63] = '\0';
	snprintf(name, 8, "%07d", i);
	name[7] = 0x01;
	snprintf(out, outsz, "u:%s", name);
}

static void
lock_admin(void)
{
	long	 wait;
	int	 i;

	for (i = 0; i < 6; i++)
		assert_true(cauth_throttle(path, "u:admin", "a:10.0.0.1", 1,
		    &wait) != -1);
	assert_int_equal(cauth_throttle(path, "u:admin", "a:10.9.9.9", 0,
	    &wait), 1);
	assert_true(wait > 0);
}

/* 200 names from one address: admin stays locked, the file stays small. */
static void
test_spray_one_address(void **state)
{
	char		 key[80];
	long		 wait;
	struct stat	 st;
	int		 i;

	(void)state;
	lock_admin();
	for (i = 0; i < 200; i++) {
		sprayed(i, key, sizeof(key));
		assert_true(cauth_throttle(path, key, "a:192.0.2.7", 1,
		    &wait) != -1);
	}
	assert_int_equal(cauth_throttle(path, "u:admin", "a:10.9.9.9", 0,
	    &wait), 1);
	/* The sprayer itself is locked out. */
	assert_int_equal(cauth_throttle(path, "u:nobody", "a:192.0.2.7", 0,
	    &wait), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size <= 32 * 72);
}

/* 1200 names from 240 addresses: past the cap, and admin stays locked. */
static void
test_spray_many_addresses(void **state)
{
	char		 key[80], addr[32];
	long		 wait;
	struct stat	 st;
	int		 i;

	(void)state;
	lock_admin();
	for (i = 0; i < 1200; i++) {
		sprayed(i, key, sizeof(key));
		snprintf(addr, sizeof(addr), "a:198.51.%d.%d", i / 5 / 250,
		    i / 5 % 250);
		assert_true(cauth_throttle(path, key, addr, 1, &wait) != -1);
	}
	assert_int_equal(cauth_throttle(path, "u:admin", "a:10.9.9.9", 0,
	    &wait), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size <= LIM_THROTTLE);
	/* A good sign-in still clears a name. */
	assert_int_equal(cauth_throttle(path, "u:admin", "a:10.0.0.1", 2,
	    &wait), 0);
	assert_int_equal(cauth_throttle(path, "u:admin", "a:10.0.0.2", 0,
	    &wait), 0);
}

/* The file padded with spaces (JSON's whitespace) to n bytes. */
static void
pad_to(off_t n)
{
	struct stat	 st;
	FILE		*f;

	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size <= n);
	assert_non_null(f = fopen(path, "a"));
	for (; st.st_size < n; st.st_size++)
		assert_int_not_equal(fputc(' ', f), EOF);
	assert_int_equal(fclose(f), 0);
}

/*
 * The cap of the throttle file: read whole at exactly LIM_THROTTLE
 * bytes (the lock holds); one byte over it is not a file this code
 * wrote, and is read as empty.
 */
static void
test_file_cap(void **state)
{
	long	 wait;

	(void)state;
	lock_admin();
	pad_to(LIM_THROTTLE);
	assert_int_equal(cauth_throttle(path, "u:admin", "a:10.9.9.9", 0,
	    &wait), 1);
	assert_true(wait > 0);
	pad_to(LIM_THROTTLE + 1);
	assert_int_equal(cauth_throttle(path, "u:admin", "a:10.9.9.9", 0,
	    &wait), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spray_one_address, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spray_many_addresses,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_cap, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
