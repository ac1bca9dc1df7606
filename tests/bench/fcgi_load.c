/*
 * A FastCGI load driver for the web server hop of tests/bench/pipeline.py:
 * CONNS clients, each sending the very same FastCGI request (a file of
 * records: BEGIN_REQUEST with keep-conn off, PARAMS, STDIN) over a new
 * connection to a Unix socket, reading the answer up to END_REQUEST and
 * starting over, for SECONDS.  That is what lighttpd's mod_fastcgi does
 * per request, without the HTTP side; one poll(2) loop, so the driver
 * costs little next to what it drives.
 *
 *	fcgi_load SOCKET REQUEST_FILE SECONDS CONNS
 *
 * Prints "fcgi_load: N requests in S s, E non-2xx, F failed".  A
 * "Status: NNN" header outside 200-299 counts as non-2xx (no Status
 * header is a 200); a connection closed before END_REQUEST, or one that
 * cannot connect, as failed.  Answers in flight when time is up are not
 * counted.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define LOAD_CONNS	256
#define LOAD_BUF	(256 * 1024)	/* one answer; more is a failure */

/* One client. */
struct client {
	int	 fd;		/* -1 between requests */
	size_t	 len;		/* answer bytes in buf */
	char	*buf;		/* owned */
};

static struct sockaddr_un	 load_sun;
static const char		*load_req;	/* the request's bytes */
static size_t			 load_reqlen;
static long			 load_done, load_non2xx, load_failed;

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*p = NULL;
	long	 n;

	if (f == NULL || fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) == -1)
		goto out;
	p = malloc((size_t)n);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	if (f != NULL)
		fclose(f);
	return p;
}

/* Writes all of p to blocking fd.  0 or -1. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * A new connection with the request written (blocking: the request is
 * small and a Unix socket takes it whole), then non-blocking for the
 * answer.  0 or -1.
 */
static int
start(struct client *c)
{
	int	 fd;

	c->len = 0;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&load_sun, sizeof(load_sun)) == -1 ||
	    write_all(fd, load_req, load_reqlen) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	return 0;
}

/* The status of a FastCGI stdout stream's head: 200 without a Status. */
static int
status_of(const char *out, size_t n)
{
	const char	*p = out, *end = out + n, *nl;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (nl == p || (nl - p == 1 && p[0] == '\r'))
			break;		/* the blank line: no Status header */
		if (nl - p > 11 && strncasecmp(p, "Status: ", 8) == 0)
			return (int)strtol(p + 8, NULL, 10);
		p = nl + 1;
	}
	return 200;
}

/*
 * Whether buf holds a whole answer (END_REQUEST seen); if so, *status
 * is what its first STDOUT record's head says.
 */
static int
answered(const struct client *c, int *status)
{
	const unsigned char	*b = (const unsigned char *)c->buf;
	size_t			 off = 0, clen, rec;
	int			 first = 1;

	*status = 200;
	while (off + 8 <= c->len) {
		clen = ((size_t)b[off + 4] << 8) | b[off + 5];
		rec = 8 + clen + b[off + 6];
		if (off + rec > c->len)
			return 0;
		if (b[off + 1] == 6 && clen > 0 && first) {
			*status = status_of(c->buf + off + 8, clen);
			first = 0;
		}
		if (b[off + 1] == 3)
			return 1;
		off += rec;
	}
	return 0;
}

/* Reads what is there; ends the request when it is answered or dead. */
static void
readable(struct client *c)
{
	ssize_t	 r;
	int	 st;

	r = read(c->fd, c->buf + c->len, LOAD_BUF - c->len);
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r > 0) {
		c->len += (size_t)r;
		if (!answered(c, &st)) {
			if (c->len < LOAD_BUF)
				return;
			load_failed++;
		} else if (st < 200 || st > 299)
			load_non2xx++;
		else
			load_done++;
	} else
		load_failed++;
	close(c->fd);
	c->fd = -1;
}

int
main(int argc, char *argv[])
{
	struct client	 cl[LOAD_CONNS];
	struct pollfd	 pfd[LOAD_CONNS];
	double		 secs, t0, t;
	int		 conns, i, n, misses = 0, idx[LOAD_CONNS];

	if (argc != 5) {
		fprintf(stderr, "usage: fcgi_load SOCKET REQUEST_FILE SECONDS "
		    "CONNS\n");
		return 2;
	}
	secs = strtod(argv[3], NULL);
	conns = (int)strtol(argv[4], NULL, 10);
	if (conns < 1 || conns > LOAD_CONNS || secs <= 0 ||
	    strlen(argv[1]) >= sizeof(load_sun.sun_path) ||
	    (load_req = slurp(argv[2], &load_reqlen)) == NULL) {
		fprintf(stderr, "fcgi_load: bad arguments\n");
		return 2;
	}
	load_sun.sun_family = AF_UNIX;
	memcpy(load_sun.sun_path, argv[1], strlen(argv[1]) + 1);
	for (i = 0; i < conns; i++) {
		cl[i].fd = -1;
		if ((cl[i].buf = malloc(LOAD_BUF)) == NULL)
			return 1;
	}
	t0 = bench_now();
	while ((t = bench_now()) - t0 < secs) {
		n = 0;
		for (i = 0; i < conns; i++) {
			if (cl[i].fd == -1 && start(&cl[i]) == -1) {
				load_failed++;
				/* Bounded: a socket that is gone ends the run. */
				if (++misses > 1000)
					goto out;
				continue;
			}
			pfd[n].fd = cl[i].fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			idx[n++] = i;
		}
		if (n == 0 || poll(pfd, (nfds_t)n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (pfd[i].revents != 0)
				readable(&cl[idx[i]]);
	}
out:
	t = bench_now() - t0;
	for (i = 0; i < conns; i++) {
		if (cl[i].fd != -1)
			close(cl[i].fd);
		free(cl[i].buf);
	}
	printf("fcgi_load: %ld requests in %.2f s, %ld non-2xx, %ld failed\n",
	    load_done + load_non2xx, t, load_non2xx, load_failed);
	return 0;
}
