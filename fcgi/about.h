#ifndef ABOUT_H
#define ABOUT_H

void	 about_usage(FILE *);
void	 about_version(void);

#endif /* ABOUT_H */
