#ifndef TOKREC_H
#define TOKREC_H

#include <stddef.h>
#include <time.h>

long	 tokrec_margin(long);
int	 tokrec_usable(const char *, long long, const char *, time_t);
int	 tokrec_fresh(const char *, long long, long long, const char *,
	    time_t);
void	 tokrec_why(int, long long, const char *, const char *, const char *,
	    char *, size_t);
void	 tokrec_why_clean(char *);

#endif /* TOKREC_H */
