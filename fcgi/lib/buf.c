#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

void
buf_init(struct buf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
}

/*
 * Appends n bytes.  Returns 0, or -1 (and sets over) when the result
 * would pass the cap; the buffer is then left as it was.
 */
int
buf_add(struct buf *b, const void *p, size_t n)
{
	size_t	 want;

	if (b->over || n > b->cap - b->len) {
		b->over = 1;
		return -1;
	}
	want = b->len + n + 1;
	if (want > b->size) {
		size_t	 nsz = b->size ? b->size : 256;

		while (nsz < want)
			nsz *= 2;
		b->ptr = xrealloc(b->ptr, nsz);
		b->size = nsz;
	}
	if (n > 0)
		memcpy(b->ptr + b->len, p, n);
	b->len += n;
	b->ptr[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_putc(struct buf *b, int c)
{
	char	 ch = (char)c;

	return buf_add(b, &ch, 1);
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 small[512], *big = NULL;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return buf_add(b, small, (size_t)n);
	big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = buf_add(b, big, (size_t)n);
	free(big);
	return rc;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->over = 0;
	if (b->ptr != NULL)
		b->ptr[0] = '\0';
}

/*
 * Hands the contents to the caller (who must free them) and leaves the
 * buffer empty.  Never returns NULL.
 */
char *
buf_take(struct buf *b)
{
	char	*p = b->ptr;

	if (p == NULL)
		p = xstrdup("");
	b->ptr = NULL;
	b->len = b->size = 0;
	b->over = 0;
	return p;
}

void
buf_free(struct buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->size = 0;
	b->over = 0;
}
