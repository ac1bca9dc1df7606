#ifndef LOG_H
#define LOG_H

#include <json-c/json.h>

/*
 * Log lines go to stderr as "cmsi[pid] LEVEL msg", with control and
 * non-ASCII bytes escaped so a caller can never forge a line.  No
 * caller passes secrets, tokens or message bodies here.
 */
void	 log_init(const char *, int);
void	 log_info(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_warn(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 fatalx(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2), __noreturn__));
int	 log_audit(const char *, json_object *);
json_object *log_audit_record(const char *, const char *);

#endif /* LOG_H */
