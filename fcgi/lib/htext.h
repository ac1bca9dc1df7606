#ifndef HTEXT_H
#define HTEXT_H

char	*htext_plain(const char *);

#endif /* HTEXT_H */
