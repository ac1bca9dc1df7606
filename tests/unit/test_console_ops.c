/*
 * The console's observing parts that need no server: the failure
 * hints of Test send, the audit log's backward reader (blocks, lines
 * across them, an overlong line, a last line without its newline, the
 * resume offset, the byte cap) and the record filter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "console/console.h"

static void
test_hints(void **state)
{
	const char	*k[4];

	(void)state;
	assert_int_equal(cops_hints("code=1306000 Failed to send mail "
	    "{\"failed\":[{\"receiver\":\"x@y\",\"code\":550}]}", k, 4), 1);
	assert_string_equal(k[0], "hint_mailbox");
	assert_int_equal(cops_hints("code=1306203 SSL peer certificate or "
	    "SSH remote key was not OK", k, 4), 1);
	assert_string_equal(k[0], "hint_cert");
	assert_int_equal(cops_hints("WeChat message sending failed, not "
	    "allow to access from your ip {\"errcode\":60020}", k, 4), 1);
	assert_string_equal(k[0], "hint_wecom_ip");
	assert_int_equal(cops_hints("invalid credential", k, 4), 1);
	assert_string_equal(k[0], "hint_wx_secret");
	assert_int_equal(cops_hints("FailedOperation."
	    "TemplateIncorrectOrUnapproved", k, 4), 1);
	assert_string_equal(k[0], "hint_tc_template");
	assert_int_equal(cops_hints("SSL connect error", k, 4), 1);
	assert_string_equal(k[0], "hint_ssl_port");
	/* Unknown: none, so the page shows the raw reply. */
	assert_int_equal(cops_hints("code=1306000 something new", k, 4), 0);
	/* Capped, and each hint once. */
	assert_int_equal(cops_hints("Timeout timed out certificate "
	    "Couldn't connect Login denied", k, 2), 2);
	assert_int_equal(cops_hints("Timeout timed out", k, 4), 1);
}

static void
test_time(void **state)
{
	(void)state;
	assert_true(caudit_time("1970-01-01T00:00:10Z") == 10);
	assert_true(caudit_time("2026-01-02T03:04:05Z") == 1767323045LL);
	assert_true(caudit_time("yesterday") == -1);
	assert_true(caudit_time("2026-01-02T03:04:05+08") == -1);
	assert_true(caudit_time(NULL) == -1);
}

/* What a scan saw: the lines, newest first, and their offsets. */
struct seen {
	char		 lines[64][128];
	long long	 at[64];
	size_t		 n, stop_after;
};

static int
see(void *arg, const char *line, size_t len, long long at)
{
	struct seen	*s = arg;

	assert_int_equal(strlen(line), len);
	if (s->n < 64) {
		snprintf(s->lines[s->n], sizeof(s->lines[0]), "%.100s", line);
		s->at[s->n] = at;
	}
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static int
tmpfile_with(const char *text, size_t n)
{
	char	 path[] = "/tmp/cmsi-audit-XXXXXX";
	int	 fd = mkstemp(path);

	assert_true(fd != -1);
	unlink(path);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	return fd;
}

static void
test_scan_small(void **state)
{
	static const char	 text[] = "a1\nbb2\n\nccc3\nlast";
	struct seen		 s;
	long long		 r;
	int			 fd;

	(void)state;
	fd = tmpfile_with(text, strlen(text));
	memset(&s, 0, sizeof(s));
	r = caudit_scan(fd, (long long)strlen(text), 1 << 20, see, &s);
	assert_true(r == 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.lines[0], "last");
	assert_string_equal(s.lines[1], "ccc3");
	assert_true(s.at[1] == 8);
	assert_string_equal(s.lines[2], "bb2");
	assert_string_equal(s.lines[3], "a1");
	assert_true(s.at[3] == 0);
	/* Stop after two: resume where the second began, then go on. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	r = caudit_scan(fd, (long long)strlen(text), 1 << 20, see, &s);
	assert_true(r == 8);
	memset(&s, 0, sizeof(s));
	r = caudit_scan(fd, 8, 1 << 20, see, &s);
	assert_true(r == 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.lines[0], "bb2");
	/* An empty file, and offset 0: nothing. */
	memset(&s, 0, sizeof(s));
	assert_true(caudit_scan(fd, 0, 1 << 20, see, &s) == 0);
	assert_int_equal(s.n, 0);
	close(fd);
}

static void
test_scan_blocks(void **state)
{
	struct seen	 s;
	char		*text, line[64];
	size_t		 len = 0, i, nlines = 20000;
	long long	 r;
	int		 fd;

	(void)state;
	/* ~500 kB: many 64 kB blocks, lines cut at their edges. */
	text = malloc(nlines * 32 + 200 * 1024);
	for (i = 0; i < nlines; i++) {
		snprintf(line, sizeof(line), "{\"n\":%zu,\"pad\":\"%.*s\"}\n",
		    i, (int)(i % 7), "xxxxxxx");
		memcpy(text + len, line, strlen(line));
		len += strlen(line);
	}
	/* An overlong line in the middle is skipped, unseen. */
	memset(text + len, 'L', 100 * 1024);
	len += 100 * 1024;
	text[len++] = '\n';
	memcpy(text + len, "{\"n\":\"end\"}\n", 12);
	len += 12;
	fd = tmpfile_with(text, len);
	memset(&s, 0, sizeof(s));
	r = caudit_scan(fd, (long long)len, 1LL << 30, see, &s);
	assert_true(r == 0);
	assert_int_equal(s.n, nlines + 1);
	assert_string_equal(s.lines[0], "{\"n\":\"end\"}");
	snprintf(line, sizeof(line), "{\"n\":%zu,", nlines - 1);
	assert_true(strncmp(s.lines[1], line, strlen(line)) == 0);
	/* The byte cap: a partial scan resumes at a line start. */
	memset(&s, 0, sizeof(s));
	r = caudit_scan(fd, (long long)len, 64 * 1024, see, &s);
	assert_true(r > 0 && r < (long long)len);
	assert_true(text[r - 1] == '\n');
	free(text);
	close(fd);
}

static void
test_match(void **state)
{
	struct caudit_filter	 f;
	json_object		*rec;
	int			 old;
	const char		*ok = "{\"ts\":\"2026-01-02T03:04:05Z\","
	    "\"request_id\":\"abc123\",\"component\":\"send_mail\","
	    "\"app\":\"demo\",\"recipients\":[\"a@example.com\"],"
	    "\"result\":true,\"code\":0}";
	const char		*ev = "{\"ts\":\"2026-01-02T03:04:05Z\","
	    "\"event\":\"console.save\",\"component\":\"send_mail\","
	    "\"recipients\":[]}";

	(void)state;
	memset(&f, 0, sizeof(f));
	f.comp = f.app = f.rcpt = f.id = "";
	assert_int_equal(caudit_match(&f, ok, &rec, &old), 1);
	json_object_put(rec);
	assert_int_equal(caudit_match(&f, ev, &rec, &old), 0);
	assert_int_equal(caudit_match(&f, "not json \"recipients\"", &rec,
	    &old), 0);
	f.outcome = 2;
	assert_int_equal(caudit_match(&f, ok, &rec, &old), 0);
	f.outcome = 1;
	f.comp = "send_mail";
	f.app = "demo";
	f.rcpt = "a@example";
	f.id = "abc";
	assert_int_equal(caudit_match(&f, ok, &rec, &old), 1);
	json_object_put(rec);
	/* "demo" is in the line, but not as the app. */
	f.app = "dem";
	assert_int_equal(caudit_match(&f, ok, &rec, &old), 0);
	/* Each filter alone refuses what it does not match. */
	f.app = "demo";
	f.id = "abd";
	assert_int_equal(caudit_match(&f, ok, &rec, &old), 0);
	/* In the line, but not where the request id starts. */
	f.id = "123";
	assert_int_equal(caudit_match(&f, ok, &rec, &old), 0);
	f.id = "abc123";
	f.comp = "send_sms";
	assert_int_equal(caudit_match(&f, ok, &rec, &old), 0);
	f.comp = "send_mail";
	f.rcpt = "b@example";
	assert_int_equal(caudit_match(&f, ok, &rec, &old), 0);
	f.rcpt = "";
	assert_int_equal(caudit_match(&f, ok, &rec, &old), 1);
	json_object_put(rec);
	f.app = "";
	f.app = "";
	f.since = 1767323046LL;
	assert_int_equal(caudit_match(&f, ok, &rec, &old), 0);
	assert_int_equal(old, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hints),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_scan_small),
		cmocka_unit_test(test_scan_blocks),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
