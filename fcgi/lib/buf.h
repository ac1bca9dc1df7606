#ifndef BUF_H
#define BUF_H

#include <stddef.h>

/*
 * A growable byte buffer with a hard cap.  Always NUL-terminated, so
 * ptr can be read as a string when the contents are text.
 */
struct buf {
	char	*ptr;		/* owned: buf_free(), NULL until first add */
	size_t	 len;		/* bytes used, without the NUL */
	size_t	 size;		/* bytes allocated */
	size_t	 cap;		/* most bytes len may reach */
	int	 over;		/* set once an add would pass cap */
};

void	 buf_init(struct buf *, size_t);
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_puts(struct buf *, const char *);
int	 buf_putc(struct buf *, int);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
void	 buf_reset(struct buf *);
char	*buf_take(struct buf *);
void	 buf_free(struct buf *);

#endif /* BUF_H */
