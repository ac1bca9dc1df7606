#ifndef TMPLSET_H
#define TMPLSET_H

#include <json-c/json.h>

#include "buf.h"
#include "tmpl.h"

int		 tmplset_load(const char *);
void		 tmplset_free(void);
const struct tmpl *tmplset_get(const char *);
int		 tmplset_render(const char *, json_object *, enum tmpl_esc,
		    struct buf *);

#endif /* TMPLSET_H */
