/*
 * Counters for /metrics, shared by every worker process and kept
 * across a worker's restart: one file, <state_dir>/metrics, mapped
 * MAP_SHARED into each process, a fixed array of 64-bit cells that
 * everyone adds to with an atomic add.  No lock: a request never
 * waits on a reader, a reader sees each cell whole.  The layout is
 * fixed by the tables below (a new build with another layout starts
 * the file over, by its version number).  No label holds a recipient,
 * an app secret or message text: components, channels, codes and
 * outcomes only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/limits.h"
#include "metrics.h"

#define METRICS_MAGIC	0x636d73696d657472ULL	/* "cmsimetr" */
#define METRICS_VERSION	2

#ifndef CMSI_VERSION
#define CMSI_VERSION	"dev"
#endif

static const char *const m_comp[] = {
	"send_mail", "send_sms", "send_weixin", "send_voice_msg",
	"send_msg", "get_msg_type", "send_qy_weixin", "send_mp_weixin",
	"wechat_callback", "v1", "other"
};
#define NCOMP	(sizeof(m_comp) / sizeof(m_comp[0]))

static const char *const m_dialect[] = { "esb", "v1" };
#define NDIAL	2

/* The contract's codes; any other is "other". */
static const long m_code[] = {
	0, 1306000, 1306201, 1306203, 1306403, 1306404, 1306405, 1306406,
	1306408, -1
};
#define NCODE	(sizeof(m_code) / sizeof(m_code[0]))

static const char *const m_outcome[] = { "sent", "failed", "queued" };
#define NOUT	3

static const char *const m_chan[] = {
	"smtp", "wecom", "mp", "qcloud", "directory", "other"
};

/* Upper bounds of the latency buckets, seconds (and +Inf). */
static const double m_le[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NLE	(sizeof(m_le) / sizeof(m_le[0]))

static const char *const m_token[] = { "wecom", "mp", "other" };
#define NTOK	3

/* Where each family starts in the cells. */
#define OFF_REQ		0
#define OFF_DELIV	(OFF_REQ + NCOMP * NDIAL * NCODE)
#define OFF_LAT		(OFF_DELIV + NCOMP * NOUT)
#define LAT_PER_CHAN	(NLE + 1 + 2)		/* buckets, +Inf, sum_us, errors */
#define OFF_TOKEN	(OFF_LAT + MC__MAX * LAT_PER_CHAN)
#define OFF_RELOAD	(OFF_TOKEN + NTOK * 2)	/* fetched, failed */
#define OFF_AUDIT	(OFF_RELOAD + 2)	/* ok, failed */
#define OFF_AUDIT_AT	(OFF_AUDIT + 2)		/* unix time of the last failure */
#define OFF_REDIS_DOWN	(OFF_AUDIT_AT + 1)	/* uses that fell back to files */
#define NCELLS		(OFF_REDIS_DOWN + 1)

struct metrics_file {
	uint64_t	 magic;
	uint64_t	 version;
	uint64_t	 ncells;
	uint64_t	 cell[NCELLS];
};

static struct metrics_file	*mf;	/* owned: the mapping, or NULL */

/*
 * Maps <dir>/metrics, making or resetting it as needed.  Returns 0, or
 * -1 (counting is then off; /healthz says so) with what failed in
 * what ("" if nothing is worth a line) and errno kept for the caller's
 * log_warn: metrics.c writes no log, as log.c counts into it.
 */
int
metrics_open(const char *dir, char *what, size_t whatsz)
{
	int		 saved;
	char		 path[LIM_PATH];
	struct stat	 st;
	void		*p;
	int		 fd;

	metrics_close();
	if (whatsz > 0)
		*what = '\0';
	if (snprintf(path, sizeof(path), "%s/metrics", dir) >=
	    (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		saved = errno;
		snprintf(what, whatsz, "metrics: %s", path);
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1 || (st.st_size < (off_t)sizeof(*mf) &&
	    ftruncate(fd, sizeof(*mf)) == -1)) {
		saved = errno;
		snprintf(what, whatsz, "metrics: %s", path);
		close(fd);
		errno = saved;
		return -1;
	}
	p = mmap(NULL, sizeof(*mf), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	saved = errno;
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(what, whatsz, "metrics: mmap %s", path);
		errno = saved;
		return -1;
	}
	mf = p;
	/*
	 * A new file, or one of another layout: start it over.  Two
	 * workers may do this at once; both write the same zeros.
	 */
	if (mf->magic != METRICS_MAGIC || mf->version != METRICS_VERSION ||
	    mf->ncells != NCELLS) {
		memset(mf->cell, 0, sizeof(mf->cell));
		mf->ncells = NCELLS;
		mf->version = METRICS_VERSION;
		__atomic_store_n(&mf->magic, METRICS_MAGIC, __ATOMIC_RELEASE);
	}
	return 0;
}

void
metrics_close(void)
{
	if (mf != NULL)
		munmap(mf, sizeof(*mf));
	mf = NULL;
}

static void
add(size_t i, uint64_t n)
{
	if (mf != NULL && i < NCELLS)
		__atomic_add_fetch(&mf->cell[i], n, __ATOMIC_RELAXED);
}

static uint64_t
get(size_t i)
{
	return mf != NULL ? __atomic_load_n(&mf->cell[i], __ATOMIC_RELAXED) :
	    0;
}

static size_t
idx(const char *const *tab, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; s != NULL && i + 1 < n; i++)
		if (strcmp(tab[i], s) == 0)
			return i;
	return n - 1;
}

static size_t
code_idx(long code)
{
	size_t	 i;

	for (i = 0; i + 1 < NCODE; i++)
		if (m_code[i] == code)
			return i;
	return NCODE - 1;
}

/* One answered request of component in dialect (0 ESB, 1 v1). */
void
metrics_request(const char *component, int v1, long code, long status)
{
	(void)status;
	add(OFF_REQ + (idx(m_comp, NCOMP, component) * NDIAL +
	    (v1 ? 1 : 0)) * NCODE + code_idx(code), 1);
}

/* One message of component that ended as outcome (sent, failed, ...). */
void
metrics_delivery(const char *component, const char *outcome)
{
	add(OFF_DELIV + idx(m_comp, NCOMP, component) * NOUT +
	    idx(m_outcome, NOUT, outcome), 1);
}

/* The channel an upstream URL belongs to, by its host. */
enum metrics_chan
metrics_chan_of(const char *url)
{
	if (url == NULL)
		return MC_OTHER;
	if (strstr(url, "qyapi.weixin.qq.com") != NULL)
		return MC_WECOM;
	if (strstr(url, "api.weixin.qq.com") != NULL)
		return MC_MP;
	if (strstr(url, "tencentcloudapi.com") != NULL ||
	    strstr(url, "tim.qq.com") != NULL)
		return MC_QCLOUD;
	if (strstr(url, "get_batch_user") != NULL ||
	    strstr(url, "contact-profiles") != NULL ||
	    strstr(url, "is_login") != NULL)
		return MC_DIRECTORY;
	return MC_OTHER;
}

/* One upstream call of chan that took secs; failed if it got no answer. */
void
metrics_upstream(enum metrics_chan chan, double secs, int failed)
{
	size_t	 base, b;

	if ((int)chan < 0 || chan >= MC__MAX)
		chan = MC_OTHER;
	base = OFF_LAT + (size_t)chan * LAT_PER_CHAN;
	for (b = 0; b < NLE && secs > m_le[b]; b++)
		;
	/* Buckets are kept per range and summed when read. */
	add(base + b, 1);
	add(base + NLE + 1, secs > 0 ? (uint64_t)(secs * 1e6) : 0);
	if (failed)
		add(base + NLE + 2, 1);
}

/* A token fetch for kind ("wecom", "mp", "mp-stable"); ok or not. */
void
metrics_token(const char *kind, int ok)
{
	size_t	 k = strncmp(kind, "wecom", 5) == 0 ? 0 :
	    strncmp(kind, "mp", 2) == 0 ? 1 : 2;

	add(OFF_TOKEN + k * 2 + (ok ? 0 : 1), 1);
}

/* A configuration reload, good or refused. */
void
metrics_reload(int ok)
{
	add(OFF_RELOAD + (ok ? 0 : 1), 1);
}

/* An audit record that could not be written. */
void
metrics_audit_failed(void)
{
	add(OFF_AUDIT + 1, 1);
	if (mf != NULL)
		__atomic_store_n(&mf->cell[OFF_AUDIT_AT], (uint64_t)time(NULL),
		    __ATOMIC_RELAXED);
}

/* A use of Redis that found it down and fell back to this host's files. */
void
metrics_redis_down(void)
{
	add(OFF_REDIS_DOWN, 1);
}

/* When an audit record last failed (unix time), 0 never. */
long long
metrics_audit_failed_at(void)
{
	return (long long)get(OFF_AUDIT_AT);
}

/* The Prometheus text format (version 0.0.4) of every counter. */
void
metrics_render(struct buf *b)
{
	size_t		 c, d, k, ch, i, base;
	uint64_t	 n, cum;

	buf_puts(b, "# HELP cmsi_build_info The build serving these "
	    "metrics.\n# TYPE cmsi_build_info gauge\n");
	buf_printf(b, "cmsi_build_info{version=\"%s\"} 1\n", CMSI_VERSION);
	buf_printf(b, "# HELP cmsi_metrics_shared Whether the counters are "
	    "shared by the workers (1) or off (0).\n# TYPE cmsi_metrics_shared "
	    "gauge\ncmsi_metrics_shared %d\n", mf != NULL);
	buf_puts(b, "# HELP cmsi_requests_total Requests answered, by "
	    "component, dialect and result code.\n"
	    "# TYPE cmsi_requests_total counter\n");
	for (c = 0; c < NCOMP; c++)
		for (d = 0; d < NDIAL; d++)
			for (k = 0; k < NCODE; k++) {
				n = get(OFF_REQ + (c * NDIAL + d) * NCODE + k);
				if (n == 0)
					continue;
				buf_printf(b, "cmsi_requests_total{component="
				    "\"%s\",dialect=\"%s\",code=\"", m_comp[c],
				    m_dialect[d]);
				if (m_code[k] >= 0)
					buf_printf(b, "%ld", m_code[k]);
				else
					buf_puts(b, "other");
				buf_printf(b, "\"} %llu\n",
				    (unsigned long long)n);
			}
	buf_puts(b, "# HELP cmsi_deliveries_total Messages a component "
	    "tried to deliver, by outcome.\n"
	    "# TYPE cmsi_deliveries_total counter\n");
	for (c = 0; c < NCOMP; c++)
		for (k = 0; k < NOUT; k++)
			if ((n = get(OFF_DELIV + c * NOUT + k)) > 0)
				buf_printf(b, "cmsi_deliveries_total{component"
				    "=\"%s\",outcome=\"%s\"} %llu\n", m_comp[c],
				    m_outcome[k], (unsigned long long)n);
	buf_puts(b, "# HELP cmsi_upstream_seconds Upstream call time, by "
	    "channel.\n# TYPE cmsi_upstream_seconds histogram\n");
	for (ch = 0; ch < MC__MAX; ch++) {
		base = OFF_LAT + ch * LAT_PER_CHAN;
		for (cum = 0, i = 0; i <= NLE; i++)
			cum += get(base + i);
		if (cum == 0)
			continue;
		for (cum = 0, i = 0; i < NLE; i++) {
			cum += get(base + i);
			buf_printf(b, "cmsi_upstream_seconds_bucket{channel="
			    "\"%s\",le=\"%g\"} %llu\n", m_chan[ch], m_le[i],
			    (unsigned long long)cum);
		}
		cum += get(base + NLE);
		buf_printf(b, "cmsi_upstream_seconds_bucket{channel=\"%s\","
		    "le=\"+Inf\"} %llu\n", m_chan[ch],
		    (unsigned long long)cum);
		buf_printf(b, "cmsi_upstream_seconds_sum{channel=\"%s\"} "
		    "%.6f\n", m_chan[ch], (double)get(base + NLE + 1) / 1e6);
		buf_printf(b, "cmsi_upstream_seconds_count{channel=\"%s\"} "
		    "%llu\n", m_chan[ch], (unsigned long long)cum);
	}
	buf_puts(b, "# HELP cmsi_upstream_errors_total Upstream calls that "
	    "got no answer, by channel.\n"
	    "# TYPE cmsi_upstream_errors_total counter\n");
	for (ch = 0; ch < MC__MAX; ch++)
		if ((n = get(OFF_LAT + ch * LAT_PER_CHAN + NLE + 2)) > 0)
			buf_printf(b, "cmsi_upstream_errors_total{channel="
			    "\"%s\"} %llu\n", m_chan[ch],
			    (unsigned long long)n);
	buf_puts(b, "# HELP cmsi_token_fetches_total Access token fetches "
	    "(WeCom, Official Account), by result.\n"
	    "# TYPE cmsi_token_fetches_total counter\n");
	for (k = 0; k < NTOK; k++)
		for (i = 0; i < 2; i++)
			buf_printf(b, "cmsi_token_fetches_total{kind=\"%s\","
			    "result=\"%s\"} %llu\n", m_token[k], i == 0 ?
			    "ok" : "failed", (unsigned long long)get(OFF_TOKEN +
			    k * 2 + i));
	buf_printf(b, "# HELP cmsi_config_reloads_total Configuration "
	    "reloads, by result.\n# TYPE cmsi_config_reloads_total counter\n"
	    "cmsi_config_reloads_total{result=\"ok\"} %llu\n"
	    "cmsi_config_reloads_total{result=\"refused\"} %llu\n",
	    (unsigned long long)get(OFF_RELOAD),
	    (unsigned long long)get(OFF_RELOAD + 1));
	buf_printf(b, "# HELP cmsi_audit_failures_total Audit records that "
	    "could not be written.\n# TYPE cmsi_audit_failures_total counter\n"
	    "cmsi_audit_failures_total %llu\n",
	    (unsigned long long)get(OFF_AUDIT + 1));
	buf_printf(b, "# HELP cmsi_redis_fallbacks_total Uses of Redis that "
	    "found it down and fell back to the host's own files.\n"
	    "# TYPE cmsi_redis_fallbacks_total counter\n"
	    "cmsi_redis_fallbacks_total %llu\n",
	    (unsigned long long)get(OFF_REDIS_DOWN));
}
