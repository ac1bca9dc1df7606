#ifndef CONSOLE_H
#define CONSOLE_H

#include <stdio.h>

#include <fcgiapp.h>

#include "page.h"

struct conf;
struct req;

/* console.c: the hub, what main.c calls */
int		 console_match(const struct conf *, const char *);
void		 console_serve(const struct conf *, FCGX_Request *,
		    struct req *);
int		 console_hash_password(void);

/* import.c: cmsi.fcgi --import */
int		 cimport_run(const struct conf *, const char *, const char *,
		    FILE *);

#endif /* CONSOLE_H */
