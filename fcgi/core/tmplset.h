#ifndef TMPLSET_H
#define TMPLSET_H

#include <json-c/json.h>

#include "lib/buf.h"
#include "lib/tmpl.h"

struct reply;

/* Below state_dir: replaced by the console after each template save. */
#define TMPLSET_STAMP	"console/templates.stamp"

int		 tmplset_load(const char *);
void		 tmplset_free(void);
void		 tmplset_thread_end(void);
const struct tmpl *tmplset_get(const char *);
int		 tmplset_render(const char *, json_object *, enum tmpl_esc,
		    struct buf *);
int		 tmplset_render_why(const char *, json_object *,
		    enum tmpl_esc, struct buf *, enum tmpl_fail *);
int		 tmplset_render_tmpl(const struct tmpl *, json_object *,
		    enum tmpl_esc, struct buf *, enum tmpl_fail *);
void		 tmplset_watch(const char *);
int		 tmplset_refresh(void);
int		 tmplset_touch(const char *);
char		*tmplset_layout(const char *, json_object *, enum tmpl_esc,
		    struct reply *);

#endif /* TMPLSET_H */
