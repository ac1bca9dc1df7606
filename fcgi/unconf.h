#ifndef UNCONF_H
#define UNCONF_H

int	 unconf_serve(int, const char *, const char *, char *const []);

#endif /* UNCONF_H */
