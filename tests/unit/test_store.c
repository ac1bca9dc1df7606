/*
 * Unit tests for store.c, the token cache the worker processes share:
 * one fetch, then the file; a refused token never handed out again; an
 * old token refreshed by whoever takes the lock while the others keep
 * using it; waiting bounded; a stampede of processes fetching once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/limits.h"
#include "state/store.h"
#include "state/tokrec.h"

#define IDENT	"wwcorp\ncorp-secret-for-test"

#define TDIR_TEMPLATE	"/tmp/test_store.XXXXXX"
#include "tdir.h"

/* What the fake fetch does, and how often it ran. */
struct fetch {
	int		 calls;
	int		 fail;		/* return -1 */
	long		 ttl;
	const char	*token;		/* what to hand out */
	int		 sleep_ms;
	const char	*countfile;	/* one line per call, across forks */
};

static int
fake_fetch(void *arg, char *out, size_t outsz, long *ttl)
{
	struct fetch	*f = arg;
	struct timespec	 ts;
	int		 fd;

	f->calls++;
	if (f->countfile != NULL &&
	    (fd = open(f->countfile, O_WRONLY | O_APPEND | O_CREAT, 0600)) !=
	    -1) {
		if (write(fd, "x\n", 2) != 2)
			f->fail = 1;
		close(fd);
	}
	if (f->sleep_ms > 0) {
		ts.tv_sec = f->sleep_ms / 1000;
		ts.tv_nsec = (f->sleep_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
	/* As the real fetches do (str_copy): too long is a failure. */
	if (f->fail || strlen(f->token) >= outsz)
		return -1;
	snprintf(out, outsz, "%s", f->token);
	*ttl = f->ttl;
	return 0;
}

/* The token file (suffix "") or its lock (".lock"). */
static void
path_of(char *out, size_t outsz, const char *suffix)
{
	char	 name[160];

	assert_int_equal(store_token_name("wecom", IDENT, name, sizeof(name)),
	    0);
	snprintf(out, outsz, "%s/tokens/%s%s", dir, name, suffix);
}

/* Writes a token file as another process would have. */
static void
plant(const char *token, long long expires, long long fetched)
{
	char	 path[512], d[512];
	FILE	*f;

	snprintf(d, sizeof(d), "%s/tokens", dir);
	mkdir(d, 0700);
	path_of(path, sizeof(path), "");
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%lld %lld\n%s\n", expires, fetched, token);
	fclose(f);
}

/* Takes the refresh lock as another process would.  Returns its fd. */
static int
hold_lock(void)
{
	char	 path[512], d[512];
	int	 fd;

	snprintf(d, sizeof(d), "%s/tokens", dir);
	mkdir(d, 0700);
	path_of(path, sizeof(path), ".lock");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	return fd;
}

static int
get(struct fetch *f, const char *bad, long wait_ms, char *out)
{
	return store_token(dir, "wecom", IDENT, bad, NULL, wait_ms, fake_fetch,
	    f, out, LIM_TOKEN + 1, NULL);
}

static void
test_fetch_once_then_file(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "tok-A_1.~" };
	char		 out[LIM_TOKEN + 1], path[512], buf[1024];
	struct stat	 st;
	FILE		*fp;
	size_t		 n;

	(void)state;
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, "tok-A_1.~");
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, "tok-A_1.~");
	assert_int_equal(f.calls, 1);
	/* A live credential: only we may read it, and no secret in it. */
	path_of(path, sizeof(path), "");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(buf, sizeof(buf), "%s/tokens", dir);
	assert_int_equal(stat(buf, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_null(strstr(path, "secret"));
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	assert_null(strstr(buf, "corp-secret"));
}

static void
test_names(void **state)
{
	char	 a[160], b[160];

	(void)state;
	assert_int_equal(store_token_name("wecom", "c\ns1", a, sizeof(a)), 0);
	assert_int_equal(store_token_name("wecom", "c\ns2", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(strncmp(a, "wecom-", 6), 0);
	assert_int_equal(strlen(a), 6 + 32);
	assert_int_equal(store_token_name("wecom", "c\ns1", a, 10), -1);
}

static void
test_margin(void **state)
{
	(void)state;
	assert_int_equal(tokrec_margin(7200), 300);
	assert_int_equal(tokrec_margin(600), 120);
	assert_int_equal(tokrec_margin(10), 2);
	assert_int_equal(tokrec_margin(0), 0);
}

static void
test_refused_token_never_again(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "new-token" };
	char		 out[LIM_TOKEN + 1];
	time_t		 now = time(NULL);

	(void)state;
	plant("old-token", now + 7000, now - 200);
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, "old-token");
	assert_int_equal(f.calls, 0);
	assert_int_equal(get(&f, "old-token", 100, out), STORE_OK);
	assert_string_equal(out, "new-token");
	assert_int_equal(f.calls, 1);
	/* Another worker refused the old one too: it gets the new one. */
	assert_int_equal(get(&f, "old-token", 100, out), STORE_OK);
	assert_string_equal(out, "new-token");
	assert_int_equal(f.calls, 1);
}

static void
test_expired_is_fetched(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "fresh" };
	char		 out[LIM_TOKEN + 1];
	time_t		 now = time(NULL);

	(void)state;
	plant("gone", now - 1, now - 7201);
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, "fresh");
	assert_int_equal(f.calls, 1);
}

static void
test_old_refreshed_when_lock_free(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "renewed" };
	char		 out[LIM_TOKEN + 1];
	time_t		 now = time(NULL);

	(void)state;
	/* 100 s left of 7200: inside the 300 s margin. */
	plant("aging", now + 100, now - 7100);
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, "renewed");
	assert_int_equal(f.calls, 1);
}

static void
test_old_used_while_another_refreshes(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "renewed" };
	char		 out[LIM_TOKEN + 1];
	time_t		 now = time(NULL);
	int		 fd;

	(void)state;
	plant("aging", now + 100, now - 7100);
	fd = hold_lock();
	assert_int_equal(get(&f, NULL, 5000, out), STORE_OK);
	assert_string_equal(out, "aging");
	assert_int_equal(f.calls, 0);
	close(fd);
}

/*
 * Waiting is bounded: with the lock held for good, a wait of 200 ms
 * gives up (STORE_BUSY, no fetch).  No clock is read: an unbounded
 * wait would hang, and the alarm turns that into a failure.
 */
static void
test_wait_is_bounded(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "x" };
	char		 out[LIM_TOKEN + 1];
	int		 fd;

	(void)state;
	fd = hold_lock();
	alarm(30);
	assert_int_equal(get(&f, NULL, 200, out), STORE_BUSY);
	alarm(0);
	assert_int_equal(f.calls, 0);
	close(fd);
}

/*
 * ... and a wait does wait: another process holds the lock while it
 * fetches, then writes the token and lets go; we get its token and
 * fetch nothing ourselves (had we only tried the lock, STORE_BUSY).
 */
static void
test_wait_gets_the_holders_token(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "ours" };
	char		 out[LIM_TOKEN + 1];
	struct timespec	 ts = { 0, 100 * 1000000L };
	pid_t		 pid;
	int		 fd, st;
	time_t		 now = time(NULL);

	(void)state;
	fd = hold_lock();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		nanosleep(&ts, NULL);
		plant("theirs", now + 7000, now);
		_exit(0);
	}
	close(fd);		/* the child's copy holds the lock */
	alarm(60);
	assert_int_equal(get(&f, NULL, 30000, out), STORE_OK);
	alarm(0);
	assert_string_equal(out, "theirs");
	assert_int_equal(f.calls, 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

static void
test_fetch_failure(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "x", .fail = 1 };
	char		 out[LIM_TOKEN + 1];
	time_t		 now = time(NULL);

	(void)state;
	assert_int_equal(get(&f, NULL, 100, out), STORE_FETCH);
	/* Not cached: the next call tries again. */
	assert_int_equal(get(&f, NULL, 100, out), STORE_FETCH);
	assert_int_equal(f.calls, 2);
	/* An old token that still works beats a failed refresh. */
	plant("aging", now + 100, now - 7100);
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, "aging");
}

static void
test_unsafe_tokens_refused(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "a b&c" };
	char		 out[LIM_TOKEN + 1], big[LIM_TOKEN + 2], wide[600];
	time_t		 now = time(NULL);

	(void)state;
	assert_int_equal(get(&f, NULL, 100, out), STORE_FETCH);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	f.token = big;
	/* Longer than any real token (512 bytes): refused. */
	assert_int_equal(store_token(dir, "wecom", IDENT, NULL, NULL, 100,
	    fake_fetch, &f, wide, sizeof(wide), NULL), STORE_FETCH);
	/* A file that is not ours is ignored, not believed. */
	plant("x y", now + 7000, now);
	f.token = "good";
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, "good");
}

/*
 * LIM_TOKEN: a token of exactly the cap is fetched, kept and read back
 * from its file; the file of one a byte longer is not believed.
 */
static void
test_token_at_cap(void **state)
{
	struct fetch	 f = { .ttl = 7200 };
	char		 out[LIM_TOKEN + 1], tok[LIM_TOKEN + 2];
	time_t		 now = time(NULL);

	(void)state;
	memset(tok, 't', LIM_TOKEN);
	tok[LIM_TOKEN] = '\0';
	f.token = tok;
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, tok);
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, tok);
	assert_int_equal(f.calls, 1);
	/* A file holding one byte more: fetched afresh. */
	tok[LIM_TOKEN] = 't';
	tok[LIM_TOKEN + 1] = '\0';
	plant(tok, now + 7000, now);
	f.token = "fresh";
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, "fresh");
	assert_int_equal(f.calls, 2);
}

static void
test_short_output(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "0123456789" };
	char		 out[8];

	(void)state;
	assert_int_equal(store_token(dir, "wecom", IDENT, NULL, NULL, 100,
	    fake_fetch, &f, out, sizeof(out), NULL), STORE_FETCH);
}

static void
test_broken_store_still_works(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "direct" };
	char		 out[LIM_TOKEN + 1];

	(void)state;
	assert_int_equal(store_token("/nonexistent/state", "wecom", IDENT,
	    NULL, NULL, 100, fake_fetch, &f, out, sizeof(out), NULL), STORE_OK);
	assert_string_equal(out, "direct");
}

/* Eight processes want a token at once: one fetches, all get it. */
static void
test_stampede(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "shared", .sleep_ms = 150 };
	char		 out[LIM_TOKEN + 1], count[512], line[16];
	pid_t		 pids[8];
	FILE		*fp;
	int		 i, st, n = 0, ok = 1;

	(void)state;
	snprintf(count, sizeof(count), "%s/count", dir);
	f.countfile = count;
	for (i = 0; i < 8; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(get(&f, NULL, 5000, out) == STORE_OK &&
			    strcmp(out, "shared") == 0 ? 0 : 1);
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0;
	}
	assert_true(ok);
	fp = fopen(count, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		n++;
	fclose(fp);
	assert_int_equal(n, 1);
}

/* Why a token is fetched, by what was kept and what the caller says. */
static void
test_why(void **state)
{
	char		 w[LIM_TOKEN_WHY];
	long long	 now = (long long)time(NULL);

	(void)state;
	tokrec_why(0, 0, NULL, NULL, NULL, w, sizeof(w));
	assert_string_equal(w, "first");
	tokrec_why(1, now - 1, "first", NULL, NULL, w, sizeof(w));
	assert_string_equal(w, "expired");
	tokrec_why(1, now + 100, "first", NULL, NULL, w, sizeof(w));
	assert_string_equal(w, "old");
	tokrec_why(1, now + 100, "", "tok", "refused:40014", w, sizeof(w));
	assert_string_equal(w, "refused:40014");
	tokrec_why(1, now + 100, "", "tok", NULL, w, sizeof(w));
	assert_string_equal(w, "refused");
	/* A tombstone's reason wins: the console's drop caused the fetch. */
	tokrec_why(1, 0, "console:ad min\n", NULL, NULL, w, sizeof(w));
	assert_string_equal(w, "console:ad_min_");
}

/*
 * The reason is kept beside the token; a file of an older build (no
 * reason line) still loads; the console's drop makes the next fetch,
 * whoever makes it, record the console's reason; a refused token's
 * fetch records the upstream's code.
 */
static void
test_why_kept(void **state)
{
	struct fetch	 f = { .ttl = 7200, .token = "tok-1" };
	struct store_info si;
	char		 out[LIM_TOKEN + 1];
	time_t		 now = time(NULL);

	(void)state;
	assert_int_equal(store_token_info(dir, "wecom", IDENT, &si), -1);
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_int_equal(store_token_info(dir, "wecom", IDENT, &si), 0);
	assert_string_equal(si.why, "first");
	assert_int_equal(si.redis, 0);
	assert_true(si.expires - si.fetched == 7200);

	plant("old-format", now + 7000, now - 10);
	assert_int_equal(store_token_info(dir, "wecom", IDENT, &si), 0);
	assert_string_equal(si.why, "");
	assert_int_equal(si.fetched, now - 10);
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, "old-format");

	assert_int_equal(store_token_drop(dir, "wecom", IDENT, "console:admin"),
	    0);
	/* A tombstone is no token. */
	assert_int_equal(store_token_info(dir, "wecom", IDENT, &si), -1);
	f.token = "tok-2";
	assert_int_equal(get(&f, NULL, 100, out), STORE_OK);
	assert_string_equal(out, "tok-2");
	assert_int_equal(store_token_info(dir, "wecom", IDENT, &si), 0);
	assert_string_equal(si.why, "console:admin");

	f.token = "tok-3";
	assert_int_equal(store_token(dir, "wecom", IDENT, "tok-2",
	    "refused:42001", 100, fake_fetch, &f, out, sizeof(out), NULL),
	    STORE_OK);
	assert_string_equal(out, "tok-3");
	assert_int_equal(store_token_info(dir, "wecom", IDENT, &si), 0);
	assert_string_equal(si.why, "refused:42001");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fetch_once_then_file,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_at_cap, setup,
		    teardown),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_margin),
		cmocka_unit_test_setup_teardown(test_refused_token_never_again,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_is_fetched,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_old_refreshed_when_lock_free, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_old_used_while_another_refreshes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_is_bounded,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wait_gets_the_holders_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_tokens_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_output,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_store_still_works,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stampede, setup, teardown),
		cmocka_unit_test(test_why),
		cmocka_unit_test_setup_teardown(test_why_kept, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
