/*
 * What the standalone bench programs share: a monotonic clock in
 * seconds, and one loop run in several processes at once with their
 * counts added up.  Header-only, since every .c file of tests/bench is a
 * program of its own.
 */
#ifndef BENCH_H
#define BENCH_H

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_COUNTS	2	/* longs a loop reports, e.g. done, failed */

static inline double
bench_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Runs fn(arg, counts) in procs forked processes at once; sum gets what
 * they report, added up.  Returns the seconds the run took, or -1 when
 * the pipe or a process could not be made (sum then holds what the
 * started ones reported).
 */
static inline double
bench_procs(int procs, void (*fn)(void *, long *), void *arg,
    long sum[BENCH_COUNTS])
{
	long	 n[BENCH_COUNTS];
	double	 t0 = bench_now();
	int	 fds[2], i, k, st, ok = 1;
	pid_t	 pid;

	for (k = 0; k < BENCH_COUNTS; k++)
		sum[k] = 0;
	if (pipe(fds) == -1)
		return -1;
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) == -1) {
			ok = 0;
			break;
		}
		if (pid == 0) {
			close(fds[0]);
			for (k = 0; k < BENCH_COUNTS; k++)
				n[k] = 0;
			fn(arg, n);
			_exit(write(fds[1], n, sizeof(n)) == sizeof(n) ? 0 : 1);
		}
	}
	close(fds[1]);
	while (read(fds[0], n, sizeof(n)) == sizeof(n))
		for (k = 0; k < BENCH_COUNTS; k++)
			sum[k] += n[k];
	close(fds[0]);
	while (wait(&st) > 0)
		;
	return ok ? bench_now() - t0 : -1;
}

#endif /* BENCH_H */
