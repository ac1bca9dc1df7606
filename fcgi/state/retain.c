/*
 * Retention: the sandbox outbox keeps its newest outbox_keep files,
 * and idempotency records leave when their time is up.  Like the
 * spool, no daemon: after an answer a worker stats <state_dir>/.retain
 * and, at most once a second across all workers (flock), trims.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/log.h"
#include "idem.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "retain.h"

#define RETAIN_EVERY	1	/* s between two outbox trims */
#define RETAIN_IDEM	300	/* s between two sweeps of idem/ */

/* Returns 1 when a trim is due (one stat per request). */
int
retain_due(const struct conf *c)
{
	struct stat	 st;
	char		 path[LIM_PATH];

	if (snprintf(path, sizeof(path), "%s/.retain", c->state_dir) >=
	    (int)sizeof(path))
		return 0;
	return stat(path, &st) == -1 || time(NULL) - st.st_mtime >=
	    RETAIN_EVERY;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
outbox_file(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/*
 * Removes the oldest files of dir beyond keep.  Outbox names start
 * with the UTC time, so name order is age order.  Returns how many
 * went, or -1.
 */
int
retain_outbox(const char *dir, long keep)
{
	struct dirent	**list = NULL;
	char		  path[LIM_PATH + 300];
	int		  n, i, gone = 0;

	if ((n = scandir(dir, &list, outbox_file, by_name)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (n - i > keep) {
			snprintf(path, sizeof(path), "%s/%s", dir,
			    list[i]->d_name);
			if (unlink(path) == 0)
				gone++;
		}
		free(list[i]);
	}
	free(list);
	return gone;
}

/*
 * One trim, by whichever process takes <state_dir>/.retain first; the
 * others go back to work.  force skips the once-a-second rule (for
 * --drain).
 */
void
retain_run(const struct conf *c, int force)
{
	struct timespec	 now[2];
	struct stat	 st;
	char		 path[LIM_PATH], dir[LIM_PATH];
	int		 fd, sfd;

	if (snprintf(path, sizeof(path), "%s/.retain", c->state_dir) >=
	    (int)sizeof(path) || snprintf(dir, sizeof(dir), "%s/outbox",
	    c->state_dir) >= (int)sizeof(dir))
		return;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || fstat(fd, &st) == -1 ||
	    (!force && time(NULL) - st.st_mtime < RETAIN_EVERY &&
	    st.st_size > 0))
		goto out;
	clock_gettime(CLOCK_REALTIME, &now[0]);
	now[1] = now[0];
	futimens(fd, now);
	if (st.st_size == 0 && write(fd, "0", 1) != 1)
		goto out;
	/*
	 * The listing holds one allocation per file, a second's worth of
	 * messages when the outbox is busy: hand the pages back, or they
	 * stay in this worker as its high-water mark.
	 */
	if (retain_outbox(dir, c->outbox_keep) > 0)
		malloc_trim(0);
	/* The idem sweep reads records: rarer, timed by its own file. */
	if (snprintf(path, sizeof(path), "%s/idem/.swept", c->state_dir) <
	    (int)sizeof(path) && (force || stat(path, &st) == -1 ||
	    now[0].tv_sec - st.st_mtime >= RETAIN_IDEM)) {
		idem_clean(c);
		/* No idem directory yet: nothing to time, nothing to close. */
		sfd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (sfd != -1) {
			futimens(sfd, now);
			close(sfd);
		}
	}
out:
	close(fd);
}
