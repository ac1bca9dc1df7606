#ifndef PREFLIGHT_H
#define PREFLIGHT_H

#include <stddef.h>

struct conf;

void	 preflight_register(void);
int	 preflight_start(const struct conf *, char *, size_t);
int	 preflight_test(const struct conf *);

#endif /* PREFLIGHT_H */
