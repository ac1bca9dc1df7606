/*
 * A fresh temporary directory per test: the cmocka setup that makes it
 * in dir and the teardown that removes it with all it holds.  The unit
 * programs that need a state_dir of their own share these instead of
 * each keeping a copy.
 *
 * Define TDIR_TEMPLATE (an mkdtemp(3) template) before including it to
 * name the directory after the program, so that one left behind says
 * whose it is.  Include it once per program, after <cmocka.h>.
 */
#ifndef TDIR_H
#define TDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#ifndef TDIR_TEMPLATE
#define TDIR_TEMPLATE	"/tmp/cmsi-unit-XXXXXX"
#endif

static char	 dir[64];	/* a fresh state_dir per test */

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", TDIR_TEMPLATE);
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* Depth first and without following links: a link's target stays. */
static int
teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#endif /* TDIR_H */
