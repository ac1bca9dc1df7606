/*
 * A cached access token's record, the same for the token files
 * (store.c) and for Redis (rtoken.c): when it is usable, when it is
 * fresh, how old is old, and the reason a refresh records beside it.
 * Both stores use these rules; neither calls the other's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tokrec.h"

/*
 * A reason as a file line and the console keep it: printable ASCII
 * without space, anything else '_'.  In place.
 */
void
tokrec_why_clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			*s = '_';
}

/*
 * Why a refresh happens now, into out: the reason a tombstone left
 * (the console's drop: "console:<user>"), else why the caller gave for
 * a refused token ("refused:40014"), else "refused", "first" (nothing
 * was kept), "expired" or "old" (about to expire).  have says whether
 * a record was read, with its expiry and old reason.  Pure.
 */
void
tokrec_why(int have, long long expires, const char *oldwhy, const char *bad,
    const char *why, char *out, size_t outsz)
{
	const char	*w;

	if (have && expires == 0 && oldwhy != NULL && *oldwhy != '\0')
		w = oldwhy;
	else if (bad != NULL)
		w = why != NULL && *why != '\0' ? why : "refused";
	else if (!have)
		w = "first";
	else if ((long long)time(NULL) >= expires)
		w = "expired";
	else
		w = "old";
	snprintf(out, outsz, "%s", w);
	tokrec_why_clean(out);
}

/*
 * How long before its expiry a token counts as old: a fifth of its
 * life, at most the 300 s BlueKing kept (and the Official Account's
 * stable_token overlap).
 */
long
tokrec_margin(long life)
{
	long	 m = life / 5;

	return m > 300 ? 300 : (m < 0 ? 0 : m);
}

/* A token that works: not the one the caller saw refused, not expired. */
int
tokrec_usable(const char *value, long long expires, const char *bad,
    time_t now)
{
	return (bad == NULL || strcmp(value, bad) != 0) && now < expires;
}

/* A usable token not yet in its last tokrec_margin of life. */
int
tokrec_fresh(const char *value, long long expires, long long fetched,
    const char *bad, time_t now)
{
	return tokrec_usable(value, expires, bad, now) &&
	    now < expires - tokrec_margin((long)(expires - fetched));
}
