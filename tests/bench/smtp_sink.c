/*
 * An SMTP sink for the send_mail benchmark, in C so that it is not what
 * is measured: one poll(2) loop on 127.0.0.1, no TLS, no AUTH, every
 * command answered 250 (354 for DATA), every message accepted.  The
 * first message is kept so the plain libcurl loop can send the very
 * same bytes; the count file holds "<messages> <bytes>" at all times.
 *
 *	smtp_sink PORT FIRST_FILE COUNT_FILE SECONDS
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SINK_CONNS	64
#define SINK_BUF	(1 << 20)	/* one command or message chunk */

/* One client connection. */
struct conn {
	int	 fd;		/* -1 when the slot is free */
	int	 data;		/* inside DATA, looking for CRLF.CRLF */
	size_t	 len;		/* bytes in buf */
	size_t	 msglen;	/* bytes of the message so far */
	int	 keep;		/* this message is the first: keep it */
	char	*buf;		/* owned */
};

static long	 sink_msgs, sink_bytes;
static int	 sink_countfd = -1, sink_firstfd = -1;

static void
say(int fd, const char *s)
{
	size_t	 n = strlen(s);

	/* A client that does not read its replies is its own problem. */
	if (write(fd, s, n) != (ssize_t)n)
		return;
}

static void
counted(size_t n)
{
	char	 line[64];
	int	 k;

	sink_msgs++;
	sink_bytes += (long)n;
	k = snprintf(line, sizeof(line), "%ld %ld\n", sink_msgs, sink_bytes);
	if (k > 0 && pwrite(sink_countfd, line, (size_t)k, 0) != k)
		return;
}

/* Handles what c->buf holds.  Returns -1 when the client is done. */
static int
step(struct conn *c)
{
	char	*e;
	size_t	 used;

	for (;;) {
		if (c->data) {
			e = memmem(c->buf, c->len, "\r\n.\r\n", 5);
			used = e != NULL ? (size_t)(e - c->buf) + 2 : (c->len > 4 ?
			    c->len - 4 : 0);
			if (c->keep && used > 0 &&
			    write(sink_firstfd, c->buf, used) != (ssize_t)used)
				c->keep = 0;
			c->msglen += used;
			if (e == NULL) {
				memmove(c->buf, c->buf + used, c->len - used);
				c->len -= used;
				return 0;
			}
			used += 3;
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
			c->data = 0;
			if (c->keep) {
				close(sink_firstfd);
				sink_firstfd = -1;
				c->keep = 0;
			}
			counted(c->msglen);
			say(c->fd, "250 2.0.0 OK\r\n");
			continue;
		}
		e = memmem(c->buf, c->len, "\r\n", 2);
		if (e == NULL)
			return c->len < SINK_BUF ? 0 : -1;
		used = (size_t)(e - c->buf) + 2;
		if (strncasecmp(c->buf, "EHLO", 4) == 0)
			say(c->fd, "250-sink\r\n250-SIZE 67108864\r\n"
			    "250 8BITMIME\r\n");
		else if (strncasecmp(c->buf, "DATA", 4) == 0) {
			say(c->fd, "354 go ahead\r\n");
			c->data = 1;
			c->msglen = 0;
			c->keep = sink_firstfd != -1;
		} else if (strncasecmp(c->buf, "QUIT", 4) == 0) {
			say(c->fd, "221 bye\r\n");
			return -1;
		} else
			say(c->fd, "250 OK\r\n");
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct pollfd		 pfd[SINK_CONNS + 1];
	struct conn		 conns[SINK_CONNS];
	time_t			 end;
	ssize_t			 n;
	int			 ls, fd, i, one = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: smtp_sink PORT FIRST COUNT SECONDS\n");
		return 2;
	}
	end = time(NULL) + strtol(argv[4], NULL, 10);
	sink_firstfd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	sink_countfd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (sink_firstfd == -1 || sink_countfd == -1 || ls == -1)
		return 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)strtol(argv[1], NULL, 10));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(ls, 128) == -1)
		return 1;
	for (i = 0; i < SINK_CONNS; i++)
		conns[i].fd = -1;
	while (time(NULL) < end) {
		for (i = 0; i < SINK_CONNS; i++) {
			pfd[i].fd = conns[i].fd;
			pfd[i].events = POLLIN;
		}
		pfd[SINK_CONNS].fd = ls;
		pfd[SINK_CONNS].events = POLLIN;
		if (poll(pfd, SINK_CONNS + 1, 1000) <= 0)
			continue;
		if (pfd[SINK_CONNS].revents & POLLIN) {
			fd = accept(ls, NULL, NULL);
			for (i = 0; fd != -1 && i < SINK_CONNS; i++)
				if (conns[i].fd == -1)
					break;
			if (fd != -1 && i == SINK_CONNS)
				close(fd);
			else if (fd != -1) {
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof(one));
				memset(&conns[i], 0, sizeof(conns[i]));
				conns[i].fd = fd;
				conns[i].buf = malloc(SINK_BUF);
				say(fd, "220 sink ESMTP\r\n");
			}
		}
		for (i = 0; i < SINK_CONNS; i++) {
			if (conns[i].fd == -1 || !(pfd[i].revents &
			    (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(conns[i].fd, conns[i].buf + conns[i].len,
			    SINK_BUF - conns[i].len);
			if (n > 0)
				conns[i].len += (size_t)n;
			if (n <= 0 || step(&conns[i]) == -1) {
				close(conns[i].fd);
				free(conns[i].buf);
				conns[i].fd = -1;
			}
		}
	}
	return 0;
}
