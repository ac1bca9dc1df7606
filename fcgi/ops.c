/*
 * The operator's endpoints: /metrics (Prometheus text format, from the
 * counters every worker shares, metrics.c) and /healthz (200 with a
 * short JSON document when this worker can serve, 503 naming what is
 * wrong).  Neither says a secret, a recipient or message text.  Both
 * answer loopback clients; metrics.allow (CIDRs) and metrics.token (a
 * bearer token) let a scraper elsewhere in.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/request.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "ops.h"
#include "route.h"

/* An audit failure this recent makes /healthz unhealthy, seconds. */
#define OPS_AUDIT_RECENT	300

/* Whether path is one of ours (trailing slash forgiven). */
int
ops_match(const char *path)
{
	return route_same_path(path, "/metrics") ||
	    route_same_path(path, "/healthz");
}

/*
 * addr (text) inside cidr ("10.0.0.0/8", "::1/128", or an address
 * alone).  Returns 1, 0, or -1 when cidr is no CIDR.
 */
static int
cidr_has(const char *cidr, const char *addr)
{
	unsigned char	 net[16], a[16];
	char		 host[64];
	const char	*slash = strchr(cidr, '/');
	size_t		 n = slash != NULL ? (size_t)(slash - cidr) :
			    strlen(cidr);
	long long	 bits;
	int		 af, alen, i;

	if (n >= sizeof(host))
		return -1;
	memcpy(host, cidr, n);
	host[n] = '\0';
	af = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
	alen = af == AF_INET6 ? 16 : 4;
	if (inet_pton(af, host, net) != 1)
		return -1;
	if (slash == NULL)
		bits = alen * 8;
	else if (num_parse(slash + 1, 0, alen * 8, &bits) == -1)
		return -1;
	if (addr == NULL || inet_pton(af, addr, a) != 1)
		return 0;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (a[i] != net[i])
			return 0;
	if (bits > 0 && ((a[i] ^ net[i]) & (0xff << (8 - bits)) & 0xff))
		return 0;
	return 1;
}

/*
 * The config's check of one metrics.allow entry (conf_checks): 0 for a
 * CIDR, else -1 (the loader words the message).
 */
int
ops_cidr_check(json_object *v, char *why, size_t n)
{
	if (!json_object_is_type(v, json_type_string) ||
	    cidr_has(json_object_get_string(v), NULL) == -1) {
		snprintf(why, n, "no CIDR");
		return -1;
	}
	return 0;
}

/* Loopback, an allowed network, or the bearer token. */
static int
allowed(const struct conf *c, const struct req *r)
{
	const char	*addr = req_env(r, "REMOTE_ADDR"), *auth;
	size_t		 i;

	if (addr != NULL && (cidr_has("127.0.0.0/8", addr) == 1 ||
	    cidr_has("::1", addr) == 1 || strcmp(addr, "::ffff:127.0.0.1") ==
	    0))
		return 1;
	for (i = 0; c->metrics_allow != NULL &&
	    i < json_object_array_length(c->metrics_allow); i++)
		if (cidr_has(json_object_get_string(json_object_array_get_idx(
		    c->metrics_allow, i)), addr) == 1)
			return 1;
	auth = req_env(r, "HTTP_AUTHORIZATION");
	return c->metrics_token != NULL && *c->metrics_token != '\0' &&
	    auth != NULL && strncmp(auth, "Bearer ", 7) == 0 &&
	    secret_eq(auth + 7, c->metrics_token);
}

/*
 * Whether this worker can serve: its state_dir takes a file (created
 * and removed, so root's access() does not fool us), no audit record
 * failed lately, and the shared counters are mapped.  Returns 1, or 0
 * with why.
 */
int
ops_healthy(const struct conf *c, char *why, size_t whysz)
{
	char		 path[LIM_PATH];
	long long	 at;
	int		 fd;

	*why = '\0';
	if (snprintf(path, sizeof(path), "%s/.healthz-%ld", c->state_dir,
	    (long)getpid()) >= (int)sizeof(path) ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(why, whysz, "state_dir %s is not writable: %s",
		    c->state_dir, strerror(errno));
		return 0;
	}
	close(fd);
	unlink(path);
	at = metrics_audit_failed_at();
	if (at > 0 && (long long)time(NULL) - at < OPS_AUDIT_RECENT) {
		snprintf(why, whysz, "an audit record could not be written "
		    "%llds ago (see the log)", (long long)time(NULL) - at);
		return 0;
	}
	return 1;
}

static void
answer(FCGX_Stream *out, int status, const char *type, const char *body)
{
	FCGX_FPrintF(out, "Status: %d\r\nContent-Type: %s\r\n"
	    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
	    "\r\n%s", status, type, body);
}

/* Serves /metrics or /healthz.  Returns the HTTP status. */
int
ops_serve(const struct conf *c, FCGX_Request *fr, const struct req *r)
{
	struct buf	 b;
	json_object	*doc;
	char		 why[LIM_PATH + 128];
	int		 ok, status;

	if (!allowed(c, r)) {
		answer(fr->out, 403, "text/plain; charset=utf-8",
		    "forbidden: loopback, metrics.allow or metrics.token\n");
		return 403;
	}
	if (route_same_path(r->path, "/metrics")) {
		buf_init(&b, LIM_UP_REPLY);
		metrics_render(&b);
		answer(fr->out, 200, "text/plain; version=0.0.4; "
		    "charset=utf-8", b.ptr != NULL ? b.ptr : "");
		buf_free(&b);
		return 200;
	}
	ok = ops_healthy(c, why, sizeof(why));
	doc = json_object_new_object();
	json_object_object_add(doc, "status", json_object_new_string(ok ?
	    "ok" : "unhealthy"));
	if (!ok)
		json_object_object_add(doc, "problem",
		    json_object_new_string(why));
	json_object_object_add(doc, "pid", json_object_new_int64(getpid()));
	status = ok ? 200 : 503;
	answer(fr->out, status, "application/json",
	    json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	if (!ok)
		log_warnx("healthz: %s", why);
	return status;
}
