#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "limits.h"
#include "util.h"

static void __attribute__((__noreturn__))
oom(void)
{
	fputs("cmsi: out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void	*p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void	*p = realloc(old, n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/*
 * strtonum(3) semantics: decimal digits only (an optional leading '-'),
 * no spaces, within [min, max].  Returns 0 and sets *out, or -1.
 */
int
num_parse(const char *s, long long min, long long max, long long *out)
{
	const char	*p = s;
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return -1;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* strlcpy that treats truncation as failure: returns 0 or -1. */
int
str_copy(char *dst, const char *src, size_t dstsz)
{
	size_t	 n = strlen(src);

	if (dstsz == 0)
		return -1;
	if (n >= dstsz) {
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

/*
 * Appends sep (when *len > 0) and s to the string out of *len bytes,
 * only if both fit with the NUL: a list cut inside an item names
 * something else (a recipient, a user).  Returns 0, or -1 with out
 * and *len as they were.
 */
int
str_append(char *out, size_t outsz, size_t *len, const char *sep,
    const char *s)
{
	size_t	 ns = *len > 0 ? strlen(sep) : 0, n = strlen(s);

	if (*len >= outsz || ns + n >= outsz - *len)
		return -1;
	memcpy(out + *len, sep, ns);
	memcpy(out + *len + ns, s, n + 1);
	*len += ns + n;
	return 0;
}

/* ASCII case-insensitive equality. */
int
str_eqi(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
	return *a == *b;
}

/*
 * Compares two secrets in time that depends only on the length of the
 * expected one, so a caller cannot probe a secret byte by byte.
 */
int
secret_eq(const char *given, const char *want)
{
	size_t		 gl = strlen(given), wl = strlen(want), i;
	unsigned char	 d = (unsigned char)(gl != wl);

	for (i = 0; i < wl; i++)
		d |= (unsigned char)want[i] ^
		    (unsigned char)(i < gl ? given[i] : 0);
	return d == 0;
}

/* Wipes and frees a secret string; NULL is fine. */
void
secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* Number of code points in a valid UTF-8 string of n bytes. */
size_t
utf8_len(const char *s, size_t n)
{
	size_t	 i, cps = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			cps++;
	return cps;
}

/*
 * The largest prefix of s (n bytes) that is at most max bytes and ends
 * on a code point boundary.
 */
size_t
utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* 1 if s (n bytes) is well-formed UTF-8 without NUL, else 0. */
int
utf8_valid(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, k, need;
	uint32_t		 cp;

	while (i < n) {
		if (p[i] == 0)
			return 0;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			need = 1;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			need = 2;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			need = 3;
			cp = p[i] & 0x07;
		} else
			return 0;
		for (k = 1; k <= need; k++) {
			if (i + k >= n || (p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int
b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Base64 the way Python's a2b_base64 reads it: characters outside the
 * alphabet are skipped, decoding stops at padding, and only a wrong
 * amount of padding fails.  Returns 0 with *out (caller frees, NUL
 * added) and *outlen, or -1.
 */
int
b64_decode(const char *s, size_t n, char **out, size_t *outlen)
{
	unsigned char	*o;
	size_t		 i, k = 0, got = 0, pads = 0;
	unsigned int	 acc = 0;
	int		 v;

	o = xmalloc(n / 4 * 3 + 4);
	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			pads++;
			if ((got % 4 == 2 && pads == 2) ||
			    (got % 4 == 3 && pads == 1))
				break;
			continue;
		}
		v = b64_val((unsigned char)s[i]);
		if (v == -1)
			continue;
		pads = 0;
		acc = acc << 6 | (unsigned int)v;
		got++;
		if (got % 4 == 0) {
			o[k++] = (unsigned char)(acc >> 16);
			o[k++] = (unsigned char)(acc >> 8);
			o[k++] = (unsigned char)acc;
			acc = 0;
		}
	}
	if (got % 4 == 1 || (got % 4 != 0 && i == n)) {
		free(o);
		return -1;
	}
	if (got % 4 == 2)
		o[k++] = (unsigned char)(acc >> 4);
	else if (got % 4 == 3) {
		o[k++] = (unsigned char)(acc >> 10);
		o[k++] = (unsigned char)(acc >> 2);
	}
	o[k] = '\0';
	*out = (char *)o;
	*outlen = k;
	return 0;
}

/*
 * Base64 of n bytes, CRLF after every line bytes of output when line is
 * not 0 (76 for MIME).  *out is NUL-terminated; caller frees.
 */
void
b64_encode(const void *p, size_t n, size_t line, char **out, size_t *outlen)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*s = p;
	char			*o;
	size_t			 i, k = 0, cap, full, per, end;
	unsigned int		 acc;

	cap = (n + 2) / 3 * 4;
	if (line > 0)
		cap += (cap / line + 1) * 2;
	o = xmalloc(cap + 1);
	/*
	 * Whole groups first, a line of them at a time: no test per byte
	 * (mail bodies).  A line that is no multiple of 4 is cut after the
	 * group that reaches it, as before.
	 */
	full = n - n % 3;
	per = line > 0 ? (line + 3) / 4 : full / 3 + 1;
	for (i = 0; i < full; ) {
		end = i + per * 3 < full ? i + per * 3 : full;
		for (; i < end; i += 3) {
			acc = (unsigned int)s[i] << 16 |
			    (unsigned int)s[i + 1] << 8 | s[i + 2];
			o[k] = tab[acc >> 18];
			o[k + 1] = tab[acc >> 12 & 63];
			o[k + 2] = tab[acc >> 6 & 63];
			o[k + 3] = tab[acc & 63];
			k += 4;
		}
		if (line > 0 && i % (per * 3) == 0 &&
		    i < n) {
			o[k++] = '\r';
			o[k++] = '\n';
		}
	}
	if (n > full) {
		acc = (unsigned int)s[full] << 16;
		if (n - full == 2)
			acc |= (unsigned int)s[full + 1] << 8;
		o[k++] = tab[acc >> 18];
		o[k++] = tab[acc >> 12 & 63];
		o[k++] = n - full == 2 ? tab[acc >> 6 & 63] : '=';
		o[k++] = '=';
	}
	o[k] = '\0';
	*out = o;
	*outlen = k;
}

/*
 * Writes n bytes at p to tmp (created new, mode) and renames it over
 * path, so a reader sees the old file or the whole new one; with sync,
 * the data reaches the disk first.  Returns 0, or -1 with errno set and
 * tmp removed.
 */
int
file_replace(const char *tmp, const char *path, const void *p, size_t n,
    int mode, int sync)
{
	int	 fd, saved;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd == -1)
		return -1;
	if (write(fd, p, n) != (ssize_t)n || (sync && fsync(fd) == -1)) {
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	errno = saved;
	return -1;
}

/*
 * t in UTC, in one of the stamps we write, into out.  The last string
 * of each is kept: a request stamps the same second several times (log
 * line, audit record, outbox name), and strftime is not cheap.
 */
void
utc_fmt(time_t t, enum utc_form form, char *out, size_t outsz)
{
	static __thread struct {
		time_t	 t;
		char	 s[32];
	}		 memo[UTC_NFORMS];	/* thread scope */
	struct tm	 tm;
	size_t		 n = 0;

	if (memo[form].s[0] == '\0' || memo[form].t != t) {
		gmtime_r(&t, &tm);
		switch (form) {
		case UTC_LOG:
			n = strftime(memo[form].s, sizeof(memo[form].s),
			    "%Y-%m-%dT%H:%M:%S", &tm);
			break;
		case UTC_ISO:
			n = strftime(memo[form].s, sizeof(memo[form].s),
			    "%Y-%m-%dT%H:%M:%SZ", &tm);
			break;
		case UTC_COMPACT:
			n = strftime(memo[form].s, sizeof(memo[form].s),
			    "%Y%m%dT%H%M%SZ", &tm);
			break;
		default:
			break;
		}
		memo[form].s[n] = '\0';
		memo[form].t = t;
	}
	snprintf(out, outsz, "%s", memo[form].s);
}

/*
 * Whether a and b are not the same version of a file: another inode,
 * size, modification or change time.  What a reload watches.
 */
int
file_changed(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_dev != b->st_dev ||
	    a->st_size != b->st_size ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	    a->st_mtim.tv_nsec != b->st_mtim.tv_nsec ||
	    a->st_ctim.tv_sec != b->st_ctim.tv_sec ||
	    a->st_ctim.tv_nsec != b->st_ctim.tv_nsec;
}

/*
 * fsync of a directory, so a rename in it survives a crash.  Best
 * effort: the file itself is already on disk.
 */
void
dir_fsync(const char *dir)
{
	int	 fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	(void)fsync(fd);
	close(fd);
}

/*
 * A new file at path (in dir) that readers see whole or not at all,
 * without a name of its own while it is written: an unnamed inode
 * (O_TMPFILE) linked in when done, so a crash leaves nothing behind
 * and the directory is changed once.  Where the file system or a
 * missing /proc refuses that, tmp and a rename, as file_replace.
 * Returns 0, or -1 with errno set.
 */
int
file_publish(const char *dir, const char *tmp, const char *path,
    const void *p, size_t n, int mode)
{
	char	 self[64];
	int	 fd, saved;

	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	if (fd == -1)
		return file_replace(tmp, path, p, n, mode, 0);
	if (write(fd, p, n) != (ssize_t)n) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	/* linkat's AT_EMPTY_PATH needs a capability; /proc does not. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == -1) {
		saved = errno;
		close(fd);
		if (saved == EEXIST) {
			errno = saved;
			return -1;
		}
		return file_replace(tmp, path, p, n, mode, 0);
	}
	return close(fd);
}

/*
 * v's string, or "" when it is absent or no string: a file of our own
 * that was damaged must not put a NULL into strcmp.
 */
const char *
jv_str(json_object *v)
{
	return json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : "";
}

/* o's member k, or NULL. */
json_object *
jv_get(json_object *o, const char *k)
{
	json_object	*v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

/*
 * Strict JSON of at most LIM_JSON_DEPTH levels, valid UTF-8, nothing
 * but white space after it.  Returns the document or NULL.
 */
json_object *
jv_parse(const char *s, size_t n)
{
	json_tokener	*tok;
	json_object	*doc;
	size_t		 end;

	if (n > 0x7fffffff)
		return NULL;
	tok = json_tokener_new_ex(LIM_JSON_DEPTH);
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	doc = json_tokener_parse_ex(tok, s, (int)n);
	if (doc == NULL && json_tokener_get_error(tok) == json_tokener_continue)
		doc = json_tokener_parse_ex(tok, "", -1);
	if (doc != NULL) {
		end = json_tokener_get_parse_end(tok);
		while (end < n && isspace((unsigned char)s[end]))
			end++;
		if (end != n) {
			json_object_put(doc);
			doc = NULL;
		}
	}
	json_tokener_free(tok);
	return doc;
}

/* o's member k as text whatever its type; "" when absent or null. */
const char *
jv_string(json_object *o, const char *k)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, k, &v) || v == NULL)
		return "";
	/*
	 * json-c prints a whole number or a boolean into the object
	 * itself: o may be a config section every thread reads, so not
	 * here (a fraction keeps json-c's own spelling of it).
	 */
	switch (json_object_get_type(v)) {
	case json_type_int:
		return jv_num_text(v);
	case json_type_boolean:
		return json_object_get_boolean(v) ? "true" : "false";
	default:
		return json_object_get_string(v);
	}
}

/*
 * A number as text, written into one of a few buffers of the calling
 * thread (valid until its JV_NUMS-th next number): json-c would print
 * it into the object itself, which threads may share (the config).
 */
#define JV_NUMS	8
const char *
jv_num_text(json_object *v)
{
	static __thread char	 nums[JV_NUMS][40];
	static __thread unsigned next;
	char			*out = nums[next++ % JV_NUMS];

	if (json_object_is_type(v, json_type_double))
		snprintf(out, sizeof(nums[0]), "%.17g",
		    json_object_get_double(v));
	else
		snprintf(out, sizeof(nums[0]), "%lld",
		    (long long)json_object_get_int64(v));
	return out;
}

/*
 * o's member k as text (def when empty), base64-decoded leniently when
 * b64 is set: what does not decode, or decodes to something other than
 * UTF-8, stays as sent.  Caller frees.
 */
char *
jv_text(json_object *o, const char *k, const char *def, int b64)
{
	const char	*s = jv_string(o, k);
	char		*d;
	size_t		 n;

	if (*s == '\0')
		s = def;
	if (b64 && b64_decode(s, strlen(s), &d, &n) == 0) {
		if (utf8_valid(d, n))
			return d;
		free(d);
	}
	return xstrdup(s);
}

/*
 * Where the userinfo of a URL is: [*start, *at) before the '@' of its
 * authority.  A URL is "scheme://..." or, when bare is set (a proxy,
 * which libcurl takes without a scheme), anything.  Returns 1 when s has
 * userinfo, else 0.
 */
static int
url_userinfo(const char *s, int bare, size_t *start, size_t *at)
{
	const char	*p, *end, *a = NULL, *q;

	if ((p = strstr(s, "://")) != NULL && p > s &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789+.-") == (size_t)(p - s))
		p += 3;
	else if (bare)
		p = s;
	else
		return 0;
	end = p + strcspn(p, "/?#");
	for (q = p; q < end; q++)
		if (*q == '@')
			a = q;
	if (a == NULL)
		return 0;
	*start = (size_t)(p - s);
	*at = (size_t)(a - s);
	return 1;
}

/*
 * A URL as it may be shown: the password of its userinfo replaced by
 * "***" (http://user:***@host/), or the whole userinfo when it has no
 * ':' (a token as user name).  bare: see url_userinfo.  Writes into out
 * (outsz bytes) and returns 1 when something was masked, 0 when s has
 * nothing to hide (out is a copy), -1 when out is too small.
 */
int
url_mask(const char *s, int bare, char *out, size_t outsz)
{
	const char	*colon;
	size_t		 start, at, keep;

	if (!url_userinfo(s, bare, &start, &at))
		return str_copy(out, s, outsz) == -1 ? -1 : 0;
	colon = memchr(s + start, ':', at - start);
	keep = colon != NULL ? (size_t)(colon - s) + 1 : start;
	if (snprintf(out, outsz, "%.*s***%s", (int)keep, s, s + at) >=
	    (int)outsz)
		return -1;
	return 1;
}
