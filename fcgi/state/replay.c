/*
 * Requests that may be taken once: a signed ESB request (bk_timestamp,
 * bk_nonce) and a WeChat push carry a timestamp, and the signature
 * covers it, so a copy is only refused if it is out of its window or
 * already seen in it.  Seen keys are empty files,
 * <state_dir>/replay/<minute>/<sha256>, made with O_EXCL: creating one
 * is atomic for every worker (and every host on the same file system)
 * without a lock, and a minute's folder goes as a whole once no
 * timestamp in it can be in the window any more.  Callers record a key
 * only after its signature checked out, so nobody without a secret can
 * fill the disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "core/log.h"
#include "lib/limits.h"
#include "replay.h"

/* Whether ts is within REPLAY_WINDOW of now, past or future. */
int
replay_in_window(long long ts, long long now)
{
	return ts >= now - REPLAY_WINDOW && ts <= now + REPLAY_WINDOW;
}

/* Removes the minutes no timestamp in the window can fall in. */
static void
sweep(const char *top, long long now)
{
	char		 path[LIM_PATH];
	DIR		*d, *sub;
	struct dirent	*e, *f;
	long long	 minute;
	char		*end;

	if ((d = opendir(top)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		minute = strtoll(e->d_name, &end, 10);
		if (*e->d_name == '.' || *end != '\0' ||
		    minute * 60 + 59 >= now - REPLAY_WINDOW)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", top, e->d_name) >=
		    (int)sizeof(path) || (sub = opendir(path)) == NULL)
			continue;
		while ((f = readdir(sub)) != NULL)
			if (*f->d_name != '.')
				(void)unlinkat(dirfd(sub), f->d_name, 0);
		closedir(sub);
		(void)rmdir(path);
	}
	closedir(d);
}

/*
 * Records ns + key for timestamp ts.  Returns 1 the first time, 0 for a
 * key already seen, -1 when the state cannot be written (the caller
 * refuses the request: a replay check that cannot remember is none).
 */
int
replay_once(const char *state_dir, const char *ns, const char *key,
    long long ts)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[32];
	char			 top[LIM_PATH], dir[LIM_PATH], path[LIM_PATH];
	char			 h[65];
	gnutls_hash_hd_t	 hd;
	size_t			 i;
	int			 fd;

	if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) < 0)
		return -1;
	/* ns and key joined by a byte neither holds. */
	(void)gnutls_hash(hd, ns, strlen(ns) + 1);
	(void)gnutls_hash(hd, key, strlen(key));
	gnutls_hash_deinit(hd, md);
	for (i = 0; i < sizeof(md); i++) {
		h[2 * i] = hex[md[i] >> 4];
		h[2 * i + 1] = hex[md[i] & 0xf];
	}
	h[64] = '\0';
	if (snprintf(top, sizeof(top), "%s/replay", state_dir) >=
	    (int)sizeof(top) ||
	    snprintf(dir, sizeof(dir), "%s/%lld", top, ts / 60) >=
	    (int)sizeof(dir) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, h) >=
	    (int)sizeof(path))
		return -1;
	if (mkdir(top, 0700) == -1 && errno != EEXIST)
		goto fail;
	if (mkdir(dir, 0700) == 0)
		sweep(top, (long long)time(NULL));
	else if (errno != EEXIST)
		goto fail;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST)
		return 0;
	if (fd == -1)
		goto fail;
	close(fd);
	return 1;
fail:
	log_warn("replay: %s", dir);
	return -1;
}
