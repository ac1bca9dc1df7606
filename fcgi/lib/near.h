#ifndef NEAR_H
#define NEAR_H

#include <stddef.h>

size_t		 near_dist(const char *, const char *);
const char	*near_word(const char *, const char *const *);

#endif /* NEAR_H */
