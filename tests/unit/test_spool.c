/*
 * Unit tests for spool.c's pieces that need no upstream: the retry
 * key's check, the durable write (mode 0600, whole or nothing), the
 * cheap "anything due?" check, finding an item by request id, and the
 * sweep of temp files a killed writer left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <cmocka.h>

#define TDIR_TEMPLATE	"/tmp/cmsi-test-spool-XXXXXX"
#include "tdir.h"

#include "core/conf.h"
#include "lib/limits.h"
#include "state/spool.h"

static int
ok(const char *json)
{
	json_object	*v = json_tokener_parse(json);
	char		 msg[128];
	int		 rc;

	rc = spool_check(v, msg, sizeof(msg));
	json_object_put(v);
	return rc;
}

static void
t_check(void **state)
{
	(void)state;
	assert_int_equal(ok("{\"attempts\": 8, \"max_age_s\": 1800}"), 0);
	assert_int_equal(ok("{\"attempts\": \"8\", \"max_age_s\": \"60\", "
	    "\"backoff_s\": 2}"), 0);
	assert_int_equal(ok("{\"attempts\": 1, \"max_age_s\": 60}"), -1);
	assert_int_equal(ok("{\"attempts\": 101, \"max_age_s\": 60}"), -1);
	assert_int_equal(ok("{\"attempts\": 3, \"max_age_s\": 0}"), -1);
	assert_int_equal(ok("{\"attempts\": 3}"), -1);
	assert_int_equal(ok("{\"attempts\": 3, \"max_age_s\": 9, "
	    "\"tries\": 1}"), -1);
	assert_int_equal(ok("[1]"), -1);
	assert_int_equal(ok("true"), -1);
}

static void
t_write(void **state)
{
	struct stat	 st;
	char		 path[128], buf[16];
	FILE		*f;

	(void)state;
	assert_int_equal(spool_write(dir, "a.json", "{\"x\":1}", 7, 1), 0);
	snprintf(path, sizeof(path), "%s/a.json", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A second write replaces the first whole. */
	assert_int_equal(spool_write(dir, "a.json", "{}", 2, 0), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "{}");
	/* No temp file is left behind. */
	snprintf(path, sizeof(path), "%s/.tmp-a.json-%ld", dir,
	    (long)getpid());
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(spool_write("/nonexistent/dir", "a.json", "{}", 2,
	    1), -1);
}

static void
t_due_and_find(void **state)
{
	struct conf	 c;
	struct utimbuf	 ut;
	json_object	*it;
	char		 sp[128], path[160];
	int		 expired = -1;
	FILE		*f;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.state_dir = dir;
	/* Nothing ever spooled: nothing due, and no drain needed. */
	assert_int_equal(spool_due(&c), 0);
	snprintf(sp, sizeof(sp), "%s/spool", dir);
	assert_int_equal(mkdir(sp, 0700), 0);
	snprintf(path, sizeof(path), "%s/next", sp);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	ut.actime = ut.modtime = time(NULL) + 60;
	assert_int_equal(utime(path, &ut), 0);
	assert_int_equal(spool_due(&c), 0);
	ut.actime = ut.modtime = time(NULL) - 1;
	assert_int_equal(utime(path, &ut), 0);
	assert_int_equal(spool_due(&c), 1);

	assert_null(spool_find(&c, "0123", &expired));
	assert_int_equal(spool_write(sp, "0123.json", "{\"id\":\"0123\"}", 13,
	    0), 0);
	it = spool_find(&c, "0123", &expired);
	assert_non_null(it);
	assert_int_equal(expired, 0);
	json_object_put(it);
	snprintf(path, sizeof(path), "%s/spool/expired", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(spool_write(path, "0456.json", "{\"id\":\"0456\"}",
	    13, 0), 0);
	it = spool_find(&c, "0456", &expired);
	assert_non_null(it);
	assert_int_equal(expired, 1);
	json_object_put(it);
	/* An empty or broken file is no item. */
	assert_int_equal(spool_write(sp, "0789.json", "{", 1, 0), 0);
	assert_null(spool_find(&c, "0789", &expired));
}

static void
t_sweep(void **state)
{
	struct utimbuf	 ut;
	struct stat	 st;
	char		 path[128];
	FILE		*f;

	(void)state;
	snprintf(path, sizeof(path), "%s/.tmp-x.json-1", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	spool_tmp_sweep(dir, ".tmp-x.json-1");
	assert_int_equal(stat(path, &st), 0);
	ut.actime = ut.modtime = time(NULL) - 7200;
	assert_int_equal(utime(path, &ut), 0);
	spool_tmp_sweep(dir, ".tmp-x.json-1");
	assert_int_equal(stat(path, &st), -1);
}

/*
 * The wait before attempt n: 1 s to base * 2^(n-1), at most an hour
 * (SPOOL_CAP), for every attempt retry.attempts allows (100: the
 * doubling must stop at the cap, not run past what a long holds), and
 * never under the upstream's Retry-After.
 */
static void
test_backoff(void **state)
{
	long	 a, d, base;
	int	 i;

	(void)state;
	for (base = 1; base <= 3600; base += 3599)
		for (a = 1; a <= LIM_RETRY_ATTEMPTS; a++)
			for (i = 0; i < 4; i++) {
				d = spool_backoff(base, a, 0);
				if (d < 1 || d > 3600 || (a == 1 && d > base))
					fail_msg("base %ld attempt %ld: %ld s",
					    base, a, d);
			}
	assert_int_equal(spool_backoff(1, 100, 5000), 5000);
	/* A base of 1 s waits exactly 1 s at the first attempt. */
	assert_int_equal(spool_backoff(1, 1, 0), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(t_check),
		cmocka_unit_test_setup_teardown(t_write, setup, teardown),
		cmocka_unit_test_setup_teardown(t_due_and_find, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_sweep, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
