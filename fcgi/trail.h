#ifndef TRAIL_H
#define TRAIL_H

struct ctx;
struct reply;

void	 trail_write(const struct ctx *, const struct reply *);

#endif /* TRAIL_H */
