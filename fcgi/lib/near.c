/*
 * The known word nearest to a mistyped one, for the "did you mean"
 * of -t.  Distance is optimal string alignment: insert, delete,
 * replace, or swap two neighbours, each one edit, since a swapped pair
 * (smtp_hots) is the typo people make most.  Pure: knows no config.
 */
#include <string.h>

#include "near.h"

/* Longer words are never suggested for: no key is near this long. */
#define NEAR_MAX	64

static size_t
min3(size_t a, size_t b, size_t c)
{
	if (b < a)
		a = b;
	return c < a ? c : a;
}

/* Edits from a to b; NEAR_MAX + 1 when either is longer than NEAR_MAX. */
size_t
near_dist(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j, cost;
	size_t	 rows[3][NEAR_MAX + 1];
	size_t	*pp, *p, *cur;

	if (la > NEAR_MAX || lb > NEAR_MAX)
		return NEAR_MAX + 1;
	/* Row i is rows[i % 3]: the swap looks two rows back. */
	for (j = 0; j <= lb; j++)
		rows[0][j] = j;
	for (i = 1; i <= la; i++) {
		cur = rows[i % 3];
		p = rows[(i - 1) % 3];
		pp = rows[(i + 1) % 3];
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			cost = a[i - 1] == b[j - 1] ? 0 : 1;
			cur[j] = min3(p[j] + 1, cur[j - 1] + 1,
			    p[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < cur[j])
				cur[j] = pp[j - 2] + 1;
		}
	}
	return rows[la % 3][lb];
}

/*
 * The first word of list (NULL-terminated) at
 * the least distance from typo, or NULL when none is close: at most
 * two edits, and at most a third of typo's length, so "ab" suggests
 * nothing rather than any two-letter key.  typo itself is never
 * suggested.
 */
const char *
near_word(const char *typo, const char *const *list)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = 3, len = strlen(typo);

	for (i = 0; list[i] != NULL; i++) {
		d = near_dist(typo, list[i]);
		if (d == 0 || d * 3 > len)
			continue;
		if (d < bestd) {
			bestd = d;
			best = list[i];
		}
	}
	return best;
}
