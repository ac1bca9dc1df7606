/*
 * Unit tests for the pure parts of issue 20: GCRA's step and the
 * rate_limit checks (rate.c), redis.url parsing (redis.c) and the
 * token record Redis keeps (rtoken.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "lib/limits.h"
#include "state/rate.h"
#include "state/redis.h"
#include "state/rtoken.h"

static json_object *
doc(const char *s)
{
	json_object	*o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

/* From idle, exactly burst requests at one instant, then one per interval. */
static void
test_gcra_burst(void **state)
{
	struct rate_spec s;
	json_object	*o = doc("{\"per_second\": 10, \"burst\": 4}");
	long long	 tat = 0, now = 1000000000LL, next = 0, w;
	int		 i, in = 0;

	(void)state;
	assert_int_equal(rate_spec(o, &s), 0);
	assert_int_equal(s.interval, 100000);
	for (i = 0; i < 10; i++)
		if (rate_gcra(tat, now, &s, &next) == 0) {
			tat = next;
			in++;
		}
	assert_int_equal(in, 4);
	/* The fifth waits one interval; after it, one more gets in. */
	w = rate_gcra(tat, now, &s, &next);
	assert_int_equal(w, 100000);
	assert_int_equal(rate_gcra(tat, now + w, &s, &next), 0);
	tat = next;
	assert_true(rate_gcra(tat, now + w, &s, &next) > 0);
	/* Long idle: the full burst again, no more. */
	for (in = 0, i = 0; i < 10; i++)
		if (rate_gcra(tat, now + 3600000000LL, &s, &next) == 0) {
			tat = next;
			in++;
		}
	assert_int_equal(in, 4);
	json_object_put(o);
}

/* burst defaults to a second's worth, at least one. */
static void
test_spec_defaults(void **state)
{
	struct rate_spec s;
	json_object	*a = doc("{\"per_second\": 2.5}");
	json_object	*b = doc("{\"per_second\": \"0.5\"}");

	(void)state;
	assert_int_equal(rate_spec(a, &s), 0);
	assert_int_equal(s.burst, 3);
	assert_int_equal(s.interval, 400000);
	assert_int_equal(rate_spec(b, &s), 0);
	assert_int_equal(s.burst, 1);
	assert_int_equal(rate_spec(NULL, &s), -1);
	json_object_put(a);
	json_object_put(b);
}

static void
test_check(void **state)
{
	static const char *const bad[] = { "[]", "{}", "{\"burst\": 3}",
	    "{\"per_second\": 0}", "{\"per_second\": -1}",
	    "{\"per_second\": \"x\"}", "{\"per_second\": 1e9}",
	    "{\"per_second\": 1, \"burst\": 0}",
	    "{\"per_second\": 1, \"burst\": 1.5}",
	    "{\"per_second\": 1, \"bogus\": 1}", NULL };
	json_object	*o;
	char		 msg[128];
	size_t		 i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		o = doc(bad[i]);
		msg[0] = '\0';
		assert_int_equal(rate_check(o, msg, sizeof(msg)), -1);
		assert_true(msg[0] != '\0');
		json_object_put(o);
	}
	o = doc("{\"per_second\": 10, \"burst\": \"20\", \"comment\": \"x\"}");
	assert_int_equal(rate_check(o, msg, sizeof(msg)), 0);
	json_object_put(o);
}

static void
test_url(void **state)
{
	struct redis_addr a;
	char		 msg[128];

	(void)state;
	assert_int_equal(redis_parse_url("redis://10.0.0.5:6380/2", &a, msg,
	    sizeof(msg)), 0);
	assert_string_equal(a.host, "10.0.0.5");
	assert_int_equal(a.port, 6380);
	assert_int_equal(a.db, 2);
	assert_int_equal(redis_parse_url("redis://cache", &a, msg,
	    sizeof(msg)), 0);
	assert_int_equal(a.port, 6379);
	assert_int_equal(a.db, 0);
	assert_int_equal(redis_parse_url("unix:/run/redis/redis.sock?db=3",
	    &a, msg, sizeof(msg)), 0);
	assert_string_equal(a.sock, "/run/redis/redis.sock");
	assert_int_equal(a.db, 3);
	assert_int_equal(redis_parse_url("unix:///tmp/r.sock", &a, msg,
	    sizeof(msg)), 0);
	assert_string_equal(a.sock, "/tmp/r.sock");
	assert_int_equal(redis_parse_url("redis://:pw@h:1/0", &a, msg,
	    sizeof(msg)), -1);
	assert_int_equal(redis_parse_url("redis://h:99999", &a, msg,
	    sizeof(msg)), -1);
	assert_int_equal(redis_parse_url("redis://h/16", &a, msg,
	    sizeof(msg)), -1);
	assert_int_equal(redis_parse_url("redis://:1", &a, msg,
	    sizeof(msg)), -1);
	assert_int_equal(redis_parse_url("unix:relative", &a, msg,
	    sizeof(msg)), -1);
	assert_int_equal(redis_parse_url("http://h", &a, msg,
	    sizeof(msg)), -1);
}

/* Only a whole record of ours is a token. */
static void
test_token_record(void **state)
{
	struct rtoken_rec r;
	struct rtoken_rec *rec = &r;

	(void)state;
	assert_int_equal(rtoken_parse("200 100 abc-DEF_1", 17, rec),
	    0);
	assert_string_equal(r.value, "abc-DEF_1");
	assert_int_equal(r.expires, 200);
	assert_int_equal(rtoken_parse("200 100", 7, rec), -1);
	assert_int_equal(rtoken_parse("x 100 abc", 9, rec), -1);
	assert_int_equal(rtoken_parse("200 100 a b", 11, rec), -1);
	assert_int_equal(rtoken_parse("200 100 ab\0c", 12, rec), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcra_burst),
		cmocka_unit_test(test_spec_defaults),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_token_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
