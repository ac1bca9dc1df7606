#ifndef RETAIN_H
#define RETAIN_H

struct conf;

int	 retain_due(const struct conf *);
void	 retain_run(const struct conf *, int);
int	 retain_outbox(const char *, long);

#endif /* RETAIN_H */
