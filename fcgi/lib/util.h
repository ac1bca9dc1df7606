#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

/* Our own allocations abort on exhaustion; the web server respawns us. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

int	 num_parse(const char *, long long, long long, long long *);
int	 str_copy(char *, const char *, size_t);
int	 str_append(char *, size_t, size_t *, const char *, const char *);
int	 str_eqi(const char *, const char *);
int	 secret_eq(const char *, const char *);
void	 secret_free(char *);
size_t	 utf8_len(const char *, size_t);
size_t	 utf8_cut(const char *, size_t, size_t);
int	 utf8_valid(const char *, size_t);



int	 b64_decode(const char *, size_t, char **, size_t *);
/* The UTC stamps utc_fmt writes. */
enum utc_form {
	UTC_LOG,	/* 2026-12-02T16:21:21 (the log adds milliseconds) */
	UTC_ISO,	/* 2026-12-02T16:21:21Z */
	UTC_COMPACT,	/* 20261202T162121Z (file names) */
	UTC_NFORMS
};

void	 utc_fmt(time_t, enum utc_form, char *, size_t);
struct stat;
int	 file_changed(const struct stat *, const struct stat *);
void	 dir_fsync(const char *);
int	 file_publish(const char *, const char *, const char *,
	    const void *, size_t, int);
int	 file_replace(const char *, const char *, const void *, size_t,
	    int, int);
const char *jv_str(json_object *);
json_object *jv_get(json_object *, const char *);
json_object *jv_parse(const char *, size_t);
const char *jv_string(json_object *, const char *);
const char *jv_num_text(json_object *);
char	*jv_text(json_object *, const char *, const char *, int);
void	 b64_encode(const void *, size_t, size_t, char **, size_t *);
int	 url_mask(const char *, int, char *, size_t);
#endif /* UTIL_H */
