/*
 * What startup needs beyond a file that parses: the schemas, the
 * templates, the callback paths and a state directory the process can
 * write.  preflight_start does it for a serving process; preflight_test
 * (-t) checks the same and more as the user who runs it, one line per
 * problem, so "configuration OK" means the gateway will run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/conf.h"
#include "core/tmplset.h"
#include "lib/jwt.h"
#include "custom.h"
#include "lib/limits.h"
#include "lib/pwhash.h"
#include "ops.h"
#include "preflight.h"
#include "route.h"
#include "state/idem.h"
#include "state/rate.h"
#include "state/redis.h"
#include "state/spool.h"

/*
 * Each setting whose sense a module knows, and that module's check:
 * the loader (core/conf.c) reads the file, these judge the values, so
 * -t, every worker's load and the console's save refuse the same.
 */
static const struct conf_check sections[] = {
	{ CONF_RATE_LIMIT,	rate_check },
	{ CONF_RETRY,		spool_check },
	{ CONF_DEDUP,		idem_check },
	{ CONF_CIDR,		ops_cidr_check },
	{ CONF_REDIS_URL,	redis_check },
	{ CONF_JWT_KEY,		jwt_conf_check },
	{ CONF_PWHASH,		pwhash_conf_check },
};

/* Before the first conf_load: what the loader asks the modules. */
void
preflight_register(void)
{
	conf_checks(sections, sizeof(sections) / sizeof(sections[0]));
	conf_custom(custom_check);
}

/* What the state directory holds; "" is itself (audit.log, metrics). */
static const char *const state_subdirs[] = {
	"", "outbox", "spool", "tokens", "idem", "replay", "rate", NULL
};

/* The layouts the components render: a missing one fails each send. */
static const char *const needed_tmpl[] = {
	"mail/html", "mail/text", "sms/text", "voice/text", "wecom/text",
	"wxmp/data", NULL
};

static int	npre;		/* problems preflight_test found */

static void	robot_layouts(const struct conf *);

static void __attribute__((__format__(__printf__, 2, 3)))
problem(const struct conf *c, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", c->path, msg);
	npre++;
}

static int
callbacks(const struct conf *c)
{
	return route_callback(conf_str(conf_comp(c, "send_mp_weixin"),
	    "wx_callback_path")) == -1 || route_callback(conf_str(conf_comp(c,
	    "send_weixin"), "wx_callback_path")) == -1 ? -1 : 0;
}

/*
 * What the custom components (custom.c) need beyond their sections:
 * each robot's layout, and a msg_type of its own (send_msg would only
 * ever reach the first).
 */
static void
robot_layouts(const struct conf *c)
{
	const char	*first;
	char		 name[64];

	if (c->components == NULL)
		return;
	json_object_object_foreach(c->components, comp, sec) {
		if (robot_layout(custom_kind_of(sec), sec, NULL, name,
		    sizeof(name)) == 0 &&
		    tmplset_get(name) == NULL)
			problem(c, "components.%s: its layout %s/%s.mustache "
			    "is missing", comp, c->templates_dir, name);
		if (custom_kind_of(sec) == CK__MAX)
			continue;
		first = custom_by_type(c, conf_str(sec, "msg_type"));
		if (first != NULL && strcmp(first, comp) != 0)
			problem(c, "components.%s.msg_type: \"%s\" is already "
			    "components.%s's", comp, conf_str(sec, "msg_type"),
			    first);
	}
}

/*
 * Whether dir can be written: a probe file is made and removed, since
 * access(2) answers yes to root for any mode and knows nothing of a
 * read-only mount.  Returns 0, or -1 with errno.
 */
static int
probe(const char *dir)
{
	char	 path[LIM_PATH];
	int	 fd;

	if (snprintf(path, sizeof(path), "%s/.cmsi-t.%ld", dir,
	    (long)getpid()) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	(void)close(fd);
	return unlink(path);
}

/*
 * The state directory and each folder below it: there and writable, or
 * creatable.  What -t had to create it removes again, so checking
 * leaves no trace and a directory owned by root does not stop a later
 * start as another user.
 */
static void
check_state(const struct conf *c)
{
	struct stat	 st;
	char		 made[8][LIM_PATH], dir[LIM_PATH];
	int		 i, nmade = 0;

	for (i = 0; state_subdirs[i] != NULL; i++) {
		if (snprintf(dir, sizeof(dir), "%s%s%s", c->state_dir,
		    *state_subdirs[i] != '\0' ? "/" : "", state_subdirs[i]) >=
		    (int)sizeof(dir)) {
			problem(c, "state_dir: %s: path too long", c->state_dir);
			break;
		}
		if (stat(dir, &st) == -1) {
			if (errno != ENOENT || mkdir(dir, 0750) == -1) {
				problem(c, "state_dir: cannot create %s: %s",
				    dir, strerror(errno));
				/* Nothing below it can be made either. */
				if (i == 0)
					break;
				continue;
			}
			if (nmade < 8)
				memcpy(made[nmade++], dir, sizeof(dir));
		} else if (!S_ISDIR(st.st_mode)) {
			problem(c, "state_dir: %s is not a directory", dir);
			if (i == 0)
				break;
			continue;
		}
		if (probe(dir) == -1)
			problem(c, "state_dir: cannot write in %s: %s", dir,
			    strerror(errno));
	}
	while (nmade > 0)
		(void)rmdir(made[--nmade]);
}

/*
 * A serving process's startup.  Returns 0, or -1 with the reason in
 * why (the details are on stderr, the log).
 */
int
preflight_start(const struct conf *c, char *why, size_t whysz)
{
	char	 dir[LIM_PATH];

	if (check_init(c) == -1) {
		snprintf(why, whysz, "the schemas in %s do not load",
		    c->schemas_dir);
		return -1;
	}
	/* The console's template saves reach every worker (tmplset.c). */
	tmplset_watch(c->state_dir);
	if (tmplset_load(c->templates_dir) == -1) {
		snprintf(why, whysz, "the templates in %s do not load",
		    c->templates_dir);
		return -1;
	}
	if (callbacks(c) == -1) {
		snprintf(why, whysz, "wx_callback_path must be a path of its "
		    "own, e.g. /api/c/compapi/cmsi/wechat/callback/");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/outbox", c->state_dir);
	if ((mkdir(c->state_dir, 0750) == -1 && errno != EEXIST) ||
	    (mkdir(dir, 0750) == -1 && errno != EEXIST)) {
		snprintf(why, whysz, "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * -t: everything a start needs, all of it reported rather than the
 * first problem.  Returns the exit status.
 */
int
preflight_test(const struct conf *c)
{
	char	 msg[256];
	int	 i;

	npre = 0;
	if (check_init(c) == -1)
		problem(c, "schemas_dir: the schemas in %s do not load (lines "
		    "above)", c->schemas_dir);
	/* Each file that does not parse has its line from the loader. */
	if (tmplset_load(c->templates_dir) == -1)
		problem(c, "templates_dir: the templates in %s do not load "
		    "(lines above)", c->templates_dir);
	else
		for (i = 0; needed_tmpl[i] != NULL; i++)
			if (tmplset_get(needed_tmpl[i]) == NULL)
				problem(c, "templates_dir: %s/%s.mustache is "
				    "missing", c->templates_dir,
				    needed_tmpl[i]);
	robot_layouts(c);
	if (callbacks(c) == -1)
		problem(c, "wx_callback_path must be a path of its own, e.g. "
		    "/api/c/compapi/cmsi/wechat/callback/");
	check_state(c);
	/* Where messages, tokens and the spool will go is worth a line. */
	if (c->state_dir_default)
		fprintf(stderr, "%s: note: state_dir: not set, so %s (var "
		    "beside the file)\n", c->path, c->state_dir);
	/*
	 * Said, not refused: a fresh install (the example config) has no
	 * app yet, and -t should still pass on it.
	 */
	if (c->napps == 0 && c->jwt_key == NULL)
		fprintf(stderr, "%s: note: apps: none, so nothing can call "
		    "(add apps.<code> with a secret)\n", c->path);
	redis_setup(c);
	if (redis_ping(msg, sizeof(msg)) == -1)
		problem(c, "redis: no answer from %s (%s)", c->redis_url, msg);
	redis_free();
	tmplset_free();
	check_free();
	if (npre > 0) {
		fprintf(stderr, "%s: %d problem%s\n", c->path, npre,
		    npre == 1 ? "" : "s");
		return 1;
	}
	printf("%s: configuration OK\n", c->path);
	return 0;
}
