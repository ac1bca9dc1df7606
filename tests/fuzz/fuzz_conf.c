/*
 * libFuzzer: a configuration file through conf_load, the path that
 * `cmsi.fcgi -t` and startup take: JSON, every section's checks, the
 * secrets ({"file"}, {"env"}), tenants.  The bytes are the file, kept
 * in a memfd so a long run writes nothing to disk.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/conf.h"
#include "preflight.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 fz_fd = -1;
static char	 fz_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((fz_fd = memfd_create("cmsi-conf", 0)) == -1)
		abort();
	snprintf(fz_path, sizeof(fz_path), "/proc/self/fd/%d", fz_fd);
	/* The sections' own checks, as cmsi.fcgi registers them. */
	preflight_register();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct conf	*c;
	FILE		*devnull;
	int		 bad, saved;

	if (ftruncate(fz_fd, 0) == -1 ||
	    pwrite(fz_fd, data, n, 0) != (ssize_t)n)
		abort();
	/* Problems go to stderr, one line each: keep the run quiet. */
	saved = dup(2);
	if ((devnull = fopen("/dev/null", "w")) != NULL) {
		dup2(fileno(devnull), 2);
		fclose(devnull);
	}
	c = conf_load(fz_path, &bad);
	if (saved != -1) {
		dup2(saved, 2);
		close(saved);
	}
	conf_free(c);
	return 0;
}
