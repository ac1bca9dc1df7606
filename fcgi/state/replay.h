#ifndef REPLAY_H
#define REPLAY_H

/* How far a signed timestamp may be from now, either way (ESB: 300 s). */
#define REPLAY_WINDOW	300

int	 replay_in_window(long long, long long);
int	 replay_once(const char *, const char *, const char *, long long);

#endif /* REPLAY_H */
