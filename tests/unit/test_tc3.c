/*
 * Unit tests for tc3.c: every TC3-HMAC-SHA256 and v5 sig known-answer
 * vector of tests/conformance/data/vectors/vectors.json
 * (CONFORMANCE_DATA overrides the data directory), each intermediate
 * step included, plus the edges.
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
#include <json-c/json.h>

#include "up/tc3.h"

static json_object	*vectors;	/* owned: the whole file */

static const char *
str(json_object *o, const char *k)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static int
setup(void **state)
{
	const char	*dir = getenv("CONFORMANCE_DATA");
	char		 path[1024];

	snprintf(path, sizeof(path), "%s/vectors/vectors.json",
	    dir != NULL ? dir : "tests/conformance/data");
	vectors = json_object_from_file(path);
	if (vectors == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	json_object_put(vectors);
	return 0;
}

static void
test_tc3_vectors(void **state)
{
	json_object	*list, *v;
	struct tc3_req	 r;
	struct tc3_sig	 s;
	const char	*want;
	size_t		 i, k, n;

	assert_true(json_object_object_get_ex(vectors, "tc3_hmac_sha256",
	    &list));
	n = json_object_array_length(list);
	assert_true(n >= 2);
	/*
	 * Forwards, then backwards: the kept signing key is used again
	 * (the same vector twice in a row) and replaced (the next).
	 */
	for (k = 0; k < 2 * n; k++) {
		i = k < n ? k : 2 * n - 1 - k;
		v = json_object_array_get_idx(list, i);
		memset(&r, 0, sizeof(r));
		/* The SMS-shaped vector names no SecretId: any will do. */
		r.secret_id = str(v, "secret_id") != NULL ?
		    str(v, "secret_id") : "AKIDEXAMPLE";
		r.secret_key = str(v, "secret_key");
		r.service = str(v, "service");
		r.host = str(v, "host");
		r.content_type = str(v, "content_type");
		r.body = str(v, "body");
		r.bodylen = strlen(r.body);
		r.timestamp = json_object_get_int64(json_object_object_get(v,
		    "timestamp"));
		assert_int_equal(tc3_sign(&r, &s), 0);
		assert_string_equal(s.date, str(v, "date"));
		assert_string_equal(s.payload_hash, str(v, "hashed_payload"));
		assert_string_equal(s.creq_hash,
		    str(v, "hashed_canonical_request"));
		assert_string_equal(s.signature, str(v, "signature"));
		if ((want = str(v, "authorization")) != NULL)
			assert_string_equal(s.authorization, want);
	}
}

static void
test_v5_vectors(void **state)
{
	json_object	*list, *v, *m;
	char		 sig[TC3_HEX];
	size_t		 i, n;

	assert_true(json_object_object_get_ex(vectors, "qcloud_v5_sig",
	    &list));
	n = json_object_array_length(list);
	assert_true(n >= 3);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(list, i);
		m = json_object_object_get(v, "mobile");
		assert_int_equal(tc3_v5sig(str(v, "appkey"), str(v, "random"),
		    json_object_get_int64(json_object_object_get(v, "time")),
		    m != NULL ? json_object_get_string(m) : NULL, sig), 0);
		assert_string_equal(sig, str(v, "sig"));
	}
}

/* Signs r with secret and the timestamp day days on; the signature. */
static void
sign_as(struct tc3_req *r, const char *secret, int day, char *out)
{
	struct tc3_sig	 s;

	r->secret_key = secret;
	r->timestamp = 1551135600 + 86400LL * day;
	assert_int_equal(tc3_sign(r, &s), 0);
	snprintf(out, TC3_HEX, "%s", s.signature);
}

/*
 * The kept signing key follows the secret and the day: a signature
 * made right after another secret or another day on the same key must
 * equal the one made with nothing kept that could mislead it.
 */
static void
test_key_kept(void **state)
{
	struct tc3_req	 r = { "AKID", "key-a", "sms",
	    "sms.tencentcloudapi.com",
	    "application/json; charset=utf-8", "{}", 2, 0 };
	char		 a1[TC3_HEX], a2[TC3_HEX], again[TC3_HEX],
			 scratch[TC3_HEX];

	sign_as(&r, "key-b", 1, scratch);
	sign_as(&r, "key-a", 1, a2);		/* after b, same day */
	sign_as(&r, "key-a", 0, a1);		/* after a, other day */
	sign_as(&r, "key-b", 0, scratch);
	sign_as(&r, "key-a", 0, again);		/* fresh: secret changed */
	assert_string_equal(a1, again);
	sign_as(&r, "key-b", 1, scratch);
	sign_as(&r, "key-a", 0, scratch);
	sign_as(&r, "key-a", 1, again);		/* fresh: day changed */
	assert_string_equal(a2, again);
	assert_string_not_equal(a1, a2);
}

/*
 * The date is UTC's: 23:00 UTC on the 25th is already the 26th in
 * UTC+8, where a local-time date would go wrong.
 */
static void
test_utc_date(void **state)
{
	struct tc3_req	 r = { "AKID", "key", "sms",
	    "sms.tencentcloudapi.com",
	    "application/json; charset=utf-8", "{}", 2, 1551135600 };
	struct tc3_sig	 s;

	setenv("TZ", "Asia/Shanghai", 1);
	tzset();
	assert_int_equal(tc3_sign(&r, &s), 0);
	assert_string_equal(s.date, "2019-02-25");
	r.timestamp = 1551139200;	/* 2019-02-26 00:00:00 UTC */
	assert_int_equal(tc3_sign(&r, &s), 0);
	assert_string_equal(s.date, "2019-02-26");
	r.timestamp = 1551139199;
	assert_int_equal(tc3_sign(&r, &s), 0);
	assert_string_equal(s.date, "2019-02-25");
}

/* One byte more in the body or the content type changes everything. */
static void
test_covers_exact_bytes(void **state)
{
	struct tc3_req	 r = { "AKID", "key", "sms",
	    "sms.tencentcloudapi.com",
	    "application/json; charset=utf-8", "{\"a\":1}", 7, 1551113065 };
	struct tc3_sig	 a, b;

	assert_int_equal(tc3_sign(&r, &a), 0);
	r.body = "{\"a\": 1}";
	r.bodylen = 8;
	assert_int_equal(tc3_sign(&r, &b), 0);
	assert_string_not_equal(a.signature, b.signature);
	r.body = "{\"a\":1}";
	r.bodylen = 7;
	r.content_type = "application/json";
	assert_int_equal(tc3_sign(&r, &b), 0);
	assert_string_not_equal(a.signature, b.signature);
	r.content_type = "application/json; charset=utf-8";
	r.host = "sms.tencentcloudapi.com:443";
	assert_int_equal(tc3_sign(&r, &b), 0);
	assert_string_not_equal(a.signature, b.signature);
}

/* Inputs past the buffers are refused, never cut. */
static void
test_too_long(void **state)
{
	char		 big[9000], sig[TC3_HEX];
	struct tc3_req	 r = { "AKID", NULL, "sms",
	    "sms.tencentcloudapi.com",
	    "application/json; charset=utf-8", "{}", 2, 1551113065 };
	struct tc3_sig	 s;

	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r.secret_key = big;
	assert_int_equal(tc3_sign(&r, &s), -1);
	assert_string_equal(s.signature, "");
	r.secret_key = "key";
	r.secret_id = big;
	assert_int_equal(tc3_sign(&r, &s), -1);
	assert_int_equal(tc3_v5sig("k", "1", 1, big, sig), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tc3_vectors),
		cmocka_unit_test(test_v5_vectors),
		cmocka_unit_test(test_key_kept),
		cmocka_unit_test(test_utc_date),
		cmocka_unit_test(test_covers_exact_bytes),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
